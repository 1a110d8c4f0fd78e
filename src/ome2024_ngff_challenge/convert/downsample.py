"""One level of a pyramid from the level above it: each block of 2 pixels
along each halved axis (2x2 in y and x) becomes one pixel, as pure numpy.

- intensities: the mean of the block, computed exactly; integer types round
  it half to even (``numpy.rint``: no bias up or down over many blocks),
  floats take the float64 (complex128) mean and round it to their own type
  once (a NaN in a block gives NaN);
- labels (and bool, which is categorical): the value that occurs most often in
  the block, ties going to the first of the tied values in the block's reading
  order (top-left first): always a value the block holds, never a mean, and
  where no value is more frequent the same pixel a stride-2 subsampling keeps.

At an odd edge a block holds the pixels that exist (1 or 2 instead of 4):
the edge row or column is repeated to make it whole, which changes neither a
mean nor which value is the most frequent (every count doubles), so both
are taken over the pixels that exist.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

MEAN = "mean"
MODE = "mode"


def halved(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape one level down: ``axes`` halved (rounded up), others kept."""
    return tuple(math.ceil(s / 2) if i in axes else s for i, s in enumerate(shape))


def parent_box(start: tuple[int, ...], stop: tuple[int, ...], axes: tuple[int, ...],
               parent_shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The region of the level above that the region [start, stop) of the
    level below is computed from."""
    lo = tuple(2 * a if i in axes else a for i, a in enumerate(start))
    hi = tuple(min(2 * b, s) if i in axes else b for i, (b, s) in enumerate(zip(stop, parent_shape)))
    return lo, hi


def reduce_block(block: np.ndarray, axes: tuple[int, ...], method: str) -> np.ndarray:
    """The level below ``block`` (a region of the level above starting at even
    positions along ``axes``): shape ``halved(block.shape, axes)``, same dtype."""
    pad = [(0, block.shape[i] % 2 if i in axes else 0) for i in range(block.ndim)]
    if any(p for _, p in pad):
        block = np.pad(block, pad, mode="edge")
    corners = []  # in reading order: top-left, top-right, bottom-left, bottom-right
    for offsets in itertools.product((0, 1), repeat=len(axes)):
        index = [slice(None)] * block.ndim
        for axis, offset in zip(axes, offsets):
            index[axis] = slice(offset, None, 2)
        corners.append(block[tuple(index)])
    if method == MODE or block.dtype.kind == "b":
        return _mode(corners)
    return _mean(corners, block.dtype)


def _mean(corners: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    n = len(corners)
    if dtype.kind in "fc":
        wide = np.complex128 if dtype.kind == "c" else np.float64
        total = corners[0].astype(wide)
        for c in corners[1:]:
            total += c
        return (total / n).astype(dtype)
    shift = n.bit_length() - 1  # n is 1, 2 or 4 (a power of 2)
    if dtype.itemsize <= 4:
        # the exact sum in int64, then floor division and remainder
        total = corners[0].astype(np.int64)
        for c in corners[1:]:
            total += c
        quotient, remainder = total >> shift, total & (n - 1)
    else:
        # 64-bit integers: a sum could overflow; each value is split into its
        # quotient and remainder by n first (v = n * (v >> k) + (v & (n - 1)))
        quotient = sum((c >> shift for c in corners[1:]), corners[0] >> shift)
        remainder = sum((c & (n - 1) for c in corners[1:]), corners[0] & (n - 1))
        quotient = quotient + (remainder >> shift)
        remainder = remainder & (n - 1)
    # round half to even: up above one half, and at one half when the quotient is odd
    twice = 2 * remainder
    up = (twice > n) | ((twice == n) & (quotient & 1 == 1))
    return (quotient + up.astype(quotient.dtype)).astype(dtype)


def _mode(corners: list[np.ndarray]) -> np.ndarray:
    best = corners[0].copy()
    best_count = sum((c == best).astype(np.uint8) for c in corners)
    for candidate in corners[1:]:
        count = sum((c == candidate).astype(np.uint8) for c in corners)
        better = count > best_count  # strictly more: a tie keeps the earlier value
        best[better] = candidate[better]
        best_count[better] = count[better]
    return best
