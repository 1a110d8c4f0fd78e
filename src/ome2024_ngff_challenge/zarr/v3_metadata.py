"""Zarr v3 metadata as we write it: array and group ``zarr.json`` documents,
data types, fill values and chunk keys.

Only codecs registered for Zarr v3 are written (bytes, transpose, blosc, zstd,
gzip, crc32c, sharding_indexed; vlen-utf8 and vlen-bytes for strings and bytes),
so every v3 reader can open the output; the compressors themselves are in
``codecs``, the data types in ``data_types``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import UserError
from .codecs import Compression
from .data_types import (
    CORE_DATA_TYPES,
    data_type_json,
    has_byte_order,
    is_core,
    other_fill_json,
)

V3_DATA_TYPES = CORE_DATA_TYPES


def v3_data_type(dtype: np.dtype, where: str) -> str:
    """The v3 core (numeric or bool) data type of ``dtype``, as images need."""
    try:
        return V3_DATA_TYPES[(dtype.kind, dtype.itemsize)]
    except KeyError:
        msg = f"{where}: data type {dtype.str} is not a number or bool type (images hold numbers)"
        raise UserError(msg) from None


def any_v3_data_type(dtype: np.dtype, where: str, vlen: str | None = None) -> str | dict:
    """The v3 data type of ``dtype`` (any type, see ``data_types``); UserError
    naming ``where`` when Zarr v3 has none."""
    try:
        return data_type_json(dtype, vlen)
    except ValueError as e:
        msg = f"{where}: cannot be written as Zarr v3: {e}"
        raise UserError(msg) from None


def endian(dtype: np.dtype) -> str | None:
    """The bytes codec's endian for this dtype (None where it has no meaning)."""
    if not has_byte_order(dtype):
        return None
    if dtype.byteorder == ">" or (dtype.byteorder == "=" and np.little_endian is False):
        return "big"
    return "little"


def bytes_codec(dtype: np.dtype) -> dict:
    e = endian(dtype)
    if e is None:
        return {"name": "bytes"}
    return {"name": "bytes", "configuration": {"endian": e}}


def serializer(dtype: np.dtype, vlen: str | None = None) -> dict:
    """The array-to-bytes codec: vlen-utf8 or vlen-bytes for object arrays
    (as zarr-python 3 writes them: with an empty configuration), else bytes."""
    if vlen is not None:
        return {"name": vlen, "configuration": {}}
    return bytes_codec(dtype)


def _float_json(value: float):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def fill_value_json(fill: np.ndarray, vlen: str | None = None):
    """A 0-d array's value as v3 metadata spells it. NaN with a payload other
    than the canonical one is written as its hex bit pattern (the v3 spec's
    "0x..." form) so that the fill value stays bit-exact. Other than numbers,
    as zarr-python 3 writes them (``data_types``)."""
    if not is_core(fill.dtype):
        return other_fill_json(fill, vlen)
    v = fill[()]
    kind = fill.dtype.kind
    if kind == "b":
        return bool(v)
    if kind in "iu":
        return int(v)
    if kind == "f":
        f = float(v)
        if math.isnan(f):
            canonical = np.array(np.nan, dtype=fill.dtype.newbyteorder("="))
            bits = fill.astype(fill.dtype.newbyteorder("=")).view(f"u{fill.dtype.itemsize}")
            if bits[()] != canonical.view(f"u{fill.dtype.itemsize}")[()]:
                return "0x" + format(int(bits[()]), f"0{2 * fill.dtype.itemsize}x")
        return _float_json(f)
    if kind == "c":
        return [_float_json(float(v.real)), _float_json(float(v.imag))]
    msg = f"unsupported fill value kind {kind}"
    raise ValueError(msg)


INDEX_CODECS = [
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "crc32c"},
]


def inner_codecs(dtype: np.dtype, compression: Compression, transpose_ndim: int = 0,
                 vlen: str | None = None) -> list[dict]:
    """bytes (or vlen-utf8, vlen-bytes) + compressor; with transpose_ndim, a
    transpose first that reverses the axes (how a v2 "F"-order chunk's bytes
    are described in v3)."""
    codecs = [serializer(dtype, vlen)]
    if transpose_ndim:
        order = list(reversed(range(transpose_ndim)))
        codecs.insert(0, {"name": "transpose", "configuration": {"order": order}})
    c = compression.codec_json(dtype)
    if c is not None:
        codecs.append(c)
    return codecs


def array_metadata(
    *,
    shape: tuple[int, ...],
    dtype: np.dtype,
    fill: np.ndarray,
    chunks: tuple[int, ...],
    shards: tuple[int, ...] | None,
    compression: Compression,
    dimension_names: list[str] | None,
    attributes: dict,
    where: str,
    fortran_chunks: bool = False,
    vlen: str | None = None,
    chunk_key_encoding: tuple[str, str] = ("default", "/"),
) -> dict:
    """The zarr.json of one output array (fortran_chunks: the chunks are copied
    from a v2 "F"-order source as they are; vlen: the object codec of an
    object array; chunk_key_encoding: (name, separator), ("v2", ".") where the
    chunks are a v2 array's, in place)."""
    codecs = inner_codecs(dtype, compression, len(shape) if fortran_chunks and len(shape) > 1 else 0, vlen)
    if shards is not None:
        grid = shards
        codecs = [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": list(chunks),
                    "codecs": codecs,
                    "index_codecs": INDEX_CODECS,
                    "index_location": "end",
                },
            }
        ]
    else:
        grid = chunks
    meta = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(shape),
        "data_type": any_v3_data_type(dtype, where, vlen),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(grid)}},
        "chunk_key_encoding": {"name": chunk_key_encoding[0], "configuration": {"separator": chunk_key_encoding[1]}},
        "fill_value": fill_value_json(fill, vlen),
        "codecs": codecs,
        "attributes": attributes,
    }
    if dimension_names is not None:
        meta["dimension_names"] = list(dimension_names)
    return meta


def group_metadata(attributes: dict) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": attributes}
