"""Zarr v2 written byte by byte: ``.zgroup`` / ``.zattrs`` / ``.zarray`` files
and chunk files encoded with numcodecs directly, without any Zarr library, so
that every byte-level property of an array (chunk order, endianness, dimension
separator, missing chunks, compressor spelling, fill value) is exactly what the
caller asked for. It needs only numpy and numcodecs.

Every array writer returns the array a correct reader must return (the input
data with never-written chunks replaced by the fill value).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numcodecs import Blosc
from numcodecs.abc import Codec

PathLike = str | os.PathLike[str]

# What bioformats2raw writes by default: Blosc, lz4, clevel 5, byte shuffle.
BLOSC_LZ4 = Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # zarr-python 2.x style: 4-space indent, sorted keys; non-ASCII kept as
    # \u escapes like zarr-python 2 (ensure_ascii default).
    text = json.dumps(obj, indent=4, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def write_v2_group(path: PathLike, attrs: Mapping[str, Any] | None = None) -> Path:
    """Write a Zarr v2 group: ``.zgroup`` and, if ``attrs`` is given, ``.zattrs``.

    Returns the group's folder as a Path.
    """
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    _write_json(p / ".zgroup", {"zarr_format": 2})
    if attrs is not None:
        _write_json(p / ".zattrs", dict(attrs))
    return p


def _fill_to_json(fill_value: Any, dtype: np.dtype) -> Any:
    """A fill value as Zarr v2 spells it in ``.zarray``."""
    if fill_value is None:
        return None
    if dtype.kind == "b":
        return bool(fill_value)
    if dtype.kind == "f":
        v = float(fill_value)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    return int(fill_value)


def _all_fill(block: np.ndarray, fill: np.ndarray) -> bool:
    if block.dtype.kind == "f" and np.isnan(fill):
        return bool(np.isnan(block).all())
    return bool((block == fill).all())


def write_v2_array(
    path: PathLike,
    data: np.ndarray,
    chunks: Sequence[int],
    *,
    dtype: Any = None,
    compressor: Codec | None = BLOSC_LZ4,
    fill_value: Any = 0,
    order: str = "C",
    dimension_separator: str | None = "/",
    missing_chunks: Iterable[Sequence[int]] = (),
    skip_empty_chunks: bool = False,
    compressor_config: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
    filters: Sequence[Codec] | None = None,
) -> np.ndarray:
    """Write ``data`` as a Zarr v2 array in the folder ``path``.

    data: the array; its dtype (including byte order, e.g. ``>u2``) is written
        unless ``dtype`` is given, in which case data is cast to it.
    chunks: chunk shape, one entry per dimension (may exceed the shape).
    compressor: a numcodecs codec or None for raw chunks.
    fill_value: number, NaN/inf, bool, or None (``"fill_value": null``).
    order: "C" or "F": memory layout of the bytes inside each chunk.
    dimension_separator: "/" (nested keys ``0/1``), "." (``0.1``), or None to
        leave the key out of ``.zarray`` (readers then assume ".").
    missing_chunks: chunk grid indices that are never written (read as fill).
    skip_empty_chunks: do not write chunks whose in-bounds content is all
        fill_value (like zarr's ``write_empty_chunks=False``).
    compressor_config: JSON written as ``"compressor"`` instead of
        ``compressor.get_config()`` (another spelling of the same codec).
    attrs: optional ``.zattrs`` of the array.
    filters: optional numcodecs filters applied (in order) before the
        compressor, listed in ``"filters"`` (null when None).

    Edge chunks are stored padded to the full chunk shape, as Zarr v2 requires.
    Returns the array a correct reader returns (missing chunks as fill_value).
    """
    p = Path(path)
    dt = np.dtype(dtype) if dtype is not None else np.asarray(data).dtype
    arr = np.asarray(data).astype(dt, copy=False)
    shape = arr.shape
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != len(shape):
        msg = f"chunks {chunks} do not match shape {shape}"
        raise ValueError(msg)
    if order not in ("C", "F"):
        msg = f"order must be 'C' or 'F', not {order!r}"
        raise ValueError(msg)
    missing = {tuple(int(i) for i in m) for m in missing_chunks}
    if missing and fill_value is None:
        msg = "missing chunks need a fill_value"
        raise ValueError(msg)

    meta: dict[str, Any] = {
        "zarr_format": 2,
        "shape": list(shape),
        "chunks": list(chunks),
        "dtype": dt.str,
        "compressor": (
            dict(compressor_config)
            if compressor_config is not None
            else (compressor.get_config() if compressor is not None else None)
        ),
        "fill_value": _fill_to_json(fill_value, dt),
        "order": order,
        "filters": [f.get_config() for f in filters] if filters else None,
    }
    if dimension_separator is not None:
        meta["dimension_separator"] = dimension_separator
    sep = dimension_separator or "."
    p.mkdir(parents=True, exist_ok=True)
    _write_json(p / ".zarray", meta)
    if attrs is not None:
        _write_json(p / ".zattrs", dict(attrs))

    expected = np.array(arr, copy=True)
    pad = np.array(0 if fill_value is None else fill_value, dtype=dt)
    grid = [range(math.ceil(s / c)) if c else range(0) for s, c in zip(shape, chunks, strict=True)]
    for idx in itertools.product(*grid):
        region = tuple(
            slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunks, shape, strict=True)
        )
        block = arr[region]
        if idx in missing:
            expected[region] = fill_value
            continue
        if skip_empty_chunks and fill_value is not None and _all_fill(block, pad):
            continue
        full = np.full(chunks, pad, dtype=dt)
        full[tuple(slice(0, n) for n in block.shape)] = block
        raw = full.tobytes(order=order)
        for f in filters or ():
            raw = f.encode(raw)
        encoded = compressor.encode(raw) if compressor is not None else raw
        key = sep.join(str(i) for i in idx) if shape else "0"
        target = p / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(encoded))
    return expected
