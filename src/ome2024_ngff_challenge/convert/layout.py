"""Chunk and shard shapes of the output arrays.

Three sources, in order of precedence: a details file (`--output-read-details`),
explicit `--output-chunks`/`--output-shards`, and the automatic choice. Whatever
the source, `fit_to_level` makes the shapes valid for one resolution level: no
larger than the level needs, and every shard a whole multiple of its chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UserError, option

# Automatic layout. Inner chunks are the source chunks (what the data's producer
# chose, and what lets compressed bytes be copied as they are), split only when
# one would exceed MAX_AUTO_CHUNK_BYTES: a chunk is the unit a reader fetches and
# the unit we hold in memory while converting.
MAX_AUTO_CHUNK_BYTES = 32 * 2**20
# Shards grow by doubling, spatial axes first (so a shard is a compact spatial
# block a viewer reads together), up to SHARD_TARGET_BYTES uncompressed. 256 MiB
# keeps a 1 TB dataset to a few thousand objects (fast listing, efficient S3
# PUTs of ~50-150 MB after compression) while leaving enough shards per level to
# keep every thread busy and to lose little work when a run is killed. Memory
# does not depend on it: shards are streamed chunk by chunk.
SHARD_TARGET_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Layout:
    """Inner chunk shape and shard shape of one array (shards None: unsharded)."""

    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None

    def to_json(self, shape: tuple[int, ...]) -> dict:
        return {
            "shape": list(shape),
            "chunks": list(self.chunks),
            "shards": list(self.shards) if self.shards is not None else None,
        }


def parse_shape(text: str | None, name: str, *, allow_none: bool = False):
    """'1,1,1,256,256' -> (1, 1, 1, 256, 256); 'none' -> 'none' where allowed.
    ``name`` is the option the text was given for (chunks or shards)."""
    if text is None:
        return None
    text = text.strip()
    if allow_none and text.lower() == "none":
        return "none"
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        hint = " or 'none'" if allow_none else ""
        msg = f"{option(name, text)}: expected comma-separated positive integers such as 1,1,1,256,256{hint}"
        raise UserError(msg) from None
    if not values or any(v <= 0 for v in values):
        msg = f"{option(name, text)}: every size must be a positive integer"
        raise UserError(msg)
    return values


def check_multiple(chunks: tuple[int, ...], shards: tuple[int, ...], where: str) -> None:
    if len(chunks) != len(shards):
        msg = f"{where}: shards {_fmt(shards)} and chunks {_fmt(chunks)} have different lengths"
        raise UserError(msg)
    bad = [i for i, (c, s) in enumerate(zip(chunks, shards)) if s % c]
    if bad:
        msg = (
            f"{where}: shard shape {_fmt(shards)} is not a multiple of chunk shape "
            f"{_fmt(chunks)} (axis {bad[0]}: {shards[bad[0]]} is not a multiple of {chunks[bad[0]]})"
        )
        raise UserError(msg)


def _fmt(shape) -> str:
    return ",".join(str(v) for v in shape)


def right_align(values: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Fit a shape given for another number of dimensions: the last axes are the
    ones that match (y, x ...); extra leading values are dropped, missing leading
    ones are 1. Lets one `--output-chunks` serve a dataset mixing 5-D images and
    lower-dimensional arrays."""
    if len(values) >= ndim:
        return tuple(values[len(values) - ndim :])
    return (1,) * (ndim - len(values)) + tuple(values)


def fit_to_level(
    chunks: tuple[int, ...], shards: tuple[int, ...] | None, shape: tuple[int, ...]
) -> Layout:
    """Clip a requested layout to one level's shape, keeping shards multiples of chunks.

    A chunk never exceeds the level (a 91x141 level gets 91x141 chunks even when
    256x256 was asked); a shard keeps its number of chunks per axis but never more
    than the level needs.
    """
    ndim = len(shape)
    chunks = right_align(chunks, ndim)
    clipped = tuple(max(1, min(c, s)) for c, s in zip(chunks, shape))
    if shards is None:
        return Layout(clipped, None)
    shards = right_align(shards, ndim)
    per_shard = []
    for c0, c, sh, s in zip(chunks, clipped, shards, shape):
        wanted = sh // c0  # the request is checked to be a multiple beforehand
        needed = max(1, math.ceil(s / c))
        per_shard.append(c * max(1, min(wanted, needed)))
    return Layout(clipped, tuple(per_shard))


def auto_layout(
    shape: tuple[int, ...],
    itemsize: int,
    source_chunks: tuple[int, ...],
    spatial: tuple[bool, ...] | None = None,
    *,
    sharded: bool = True,
    chunk_limit: int = MAX_AUTO_CHUNK_BYTES,
    shard_target: int = SHARD_TARGET_BYTES,
) -> Layout:
    """The default layout: always valid, for every level and every odd shape."""
    ndim = len(shape)
    if spatial is None or len(spatial) != ndim:
        spatial = tuple(i >= ndim - min(3, ndim) for i in range(ndim))
    chunks = [max(1, min(c, s)) for c, s in zip(source_chunks, shape)]
    # split oversized source chunks: halve the largest axis until small enough
    while math.prod(chunks) * itemsize > chunk_limit and max(chunks) > 1:
        i = max(range(ndim), key=lambda k: chunks[k])
        chunks[i] = math.ceil(chunks[i] / 2)
    if not sharded:
        return Layout(tuple(chunks), None)

    factors = [1] * ndim
    needed = [max(1, math.ceil(s / c)) for s, c in zip(shape, chunks)]
    chunk_bytes = math.prod(chunks) * itemsize
    # spatial axes first, from the last (x) backwards, round-robin; then the others
    order = [i for i in reversed(range(ndim)) if spatial[i]]
    others = [i for i in reversed(range(ndim)) if not spatial[i]]
    for group in (order, others):
        grew = True
        while grew:
            grew = False
            for i in group:
                if factors[i] >= needed[i]:
                    continue
                new = min(factors[i] * 2, needed[i])
                if chunk_bytes * math.prod(factors) // factors[i] * new > shard_target:
                    continue
                factors[i] = new
                grew = True
    return Layout(tuple(chunks), tuple(c * f for c, f in zip(chunks, factors)))
