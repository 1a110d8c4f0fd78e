"""The Zarr v3 side: array metadata (zarr.json) and the encoding of output chunks.

Only codecs registered in the Zarr v3 specification are written (bytes, blosc,
zstd, gzip, crc32c, sharding_indexed), so every v3 reader can open the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numcodecs
import numpy as np

from .errors import UserError

V3_DATA_TYPES = {
    ("b", 1): "bool",
    ("i", 1): "int8",
    ("i", 2): "int16",
    ("i", 4): "int32",
    ("i", 8): "int64",
    ("u", 1): "uint8",
    ("u", 2): "uint16",
    ("u", 4): "uint32",
    ("u", 8): "uint64",
    ("f", 2): "float16",
    ("f", 4): "float32",
    ("f", 8): "float64",
    ("c", 8): "complex64",
    ("c", 16): "complex128",
}


def v3_data_type(dtype: np.dtype, where: str) -> str:
    try:
        return V3_DATA_TYPES[(dtype.kind, dtype.itemsize)]
    except KeyError:
        msg = f"{where}: data type {dtype.str} has no Zarr v3 equivalent"
        raise UserError(msg) from None


def endian(dtype: np.dtype) -> str | None:
    """The bytes codec's endian for this dtype (None where it has no meaning)."""
    if dtype.itemsize == 1 and dtype.kind != "c":
        return None
    if dtype.byteorder == ">" or (dtype.byteorder == "=" and np.little_endian is False):
        return "big"
    return "little"


def bytes_codec(dtype: np.dtype) -> dict:
    e = endian(dtype)
    if e is None:
        return {"name": "bytes"}
    return {"name": "bytes", "configuration": {"endian": e}}


def _float_json(value: float):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def fill_value_json(fill: np.ndarray):
    """A 0-d array's value as v3 metadata spells it. NaN with a payload other
    than the canonical one is written as its hex bit pattern (the v3 spec's
    "0x..." form) so that the fill value stays bit-exact."""
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


@dataclass(frozen=True)
class Compression:
    """The output compressor: one v3 codec after `bytes`, or none."""

    name: str  # "blosc", "zstd", "gzip" or "none"
    level: int = 5
    cname: str = "zstd"  # blosc only
    shuffle: str = "shuffle"  # blosc only: noshuffle, shuffle, bitshuffle
    checksum: bool = False  # zstd only

    @classmethod
    def from_v2(cls, config: dict | None, dtype: np.dtype) -> Compression | None:
        """The v3 description of a v2 (numcodecs) compressor whose stored bytes a
        v3 codec decodes as they are; None when there is no such codec (zlib,
        lz4, bz2 ... have none registered in Zarr v3)."""
        if config is None:
            return cls("none")
        cid = config.get("id")
        if cid == "blosc":
            shuffle = config.get("shuffle", 1)
            if shuffle == -1:  # numcodecs' AUTOSHUFFLE, resolved as numcodecs does
                shuffle = 2 if dtype.itemsize == 1 else 1
            names = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}
            cname = config.get("cname", "lz4")
            if shuffle not in names or cname not in BLOSC_V3_CNAMES:
                return None
            return cls("blosc", int(config.get("clevel", 5)), cname, names[shuffle])
        if cid == "zstd":
            return cls("zstd", int(config.get("level", 1)), checksum=bool(config.get("checksum", False)))
        if cid == "gzip":
            return cls("gzip", int(config.get("level", 1)))
        return None

    def codec_json(self, dtype: np.dtype) -> dict | None:
        if self.name == "none":
            return None
        if self.name == "blosc":
            return {
                "name": "blosc",
                "configuration": {
                    "cname": self.cname,
                    "clevel": self.level,
                    "shuffle": self.shuffle,
                    "typesize": dtype.itemsize,
                    "blocksize": 0,
                },
            }
        if self.name == "zstd":
            return {"name": "zstd", "configuration": {"level": self.level, "checksum": self.checksum}}
        if self.name == "gzip":
            return {"name": "gzip", "configuration": {"level": self.level}}
        msg = f"unknown compression {self.name}"
        raise ValueError(msg)

    def encoder(self):
        """A numcodecs codec producing exactly the bytes the v3 codec describes."""
        if self.name == "none":
            return None
        if self.name == "blosc":
            shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[self.shuffle]
            return numcodecs.Blosc(cname=self.cname, clevel=self.level, shuffle=shuffle, blocksize=0)
        if self.name == "zstd":
            return numcodecs.Zstd(level=self.level, checksum=self.checksum)
        if self.name == "gzip":
            return numcodecs.GZip(level=self.level)
        msg = f"unknown compression {self.name}"
        raise ValueError(msg)


DEFAULT_COMPRESSION = Compression("blosc", level=5, cname="zstd", shuffle="shuffle")

BLOSC_CNAMES = ("lz4", "lz4hc", "blosclz", "zstd", "zlib")
BLOSC_V3_CNAMES = (*BLOSC_CNAMES, "snappy")  # what v3 readers decode
# --output-codec=keep: copy the source's compressed chunks as they are
KEEP = Compression("keep")


def parse_compression(text: str) -> Compression:
    """'blosc-zstd-5', 'blosc-lz4-5-bitshuffle', 'zstd-3', 'gzip-6', 'none', 'keep'."""
    parts = text.strip().lower().split("-")
    where = f"--output-codec={text}"
    try:
        if parts[0] in ("none", "keep") and len(parts) == 1:
            return KEEP if parts[0] == "keep" else Compression("none")
        if parts[0] == "blosc":
            cname = parts[1] if len(parts) > 1 else "zstd"
            level = int(parts[2]) if len(parts) > 2 else 5
            shuffle = parts[3] if len(parts) > 3 else "shuffle"
            if cname not in BLOSC_CNAMES or shuffle not in ("noshuffle", "shuffle", "bitshuffle"):
                raise ValueError
            if not 0 <= level <= 9 or len(parts) > 4:
                raise ValueError
            return Compression("blosc", level, cname, shuffle)
        if parts[0] in ("zstd", "gzip") and len(parts) <= 2:
            level = int(parts[1]) if len(parts) > 1 else (5 if parts[0] == "zstd" else 6)
            if parts[0] == "gzip" and not 0 <= level <= 9:
                raise ValueError
            return Compression(parts[0], level)
    except (ValueError, IndexError):
        pass
    msg = (
        f"{where}: expected blosc[-CNAME[-LEVEL[-SHUFFLE]]] (CNAME one of {', '.join(BLOSC_CNAMES)}), "
        "zstd[-LEVEL], gzip[-LEVEL], none or keep"
    )
    raise UserError(msg)


INDEX_CODECS = [
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "crc32c"},
]


def inner_codecs(dtype: np.dtype, compression: Compression, transpose_ndim: int = 0) -> list[dict]:
    """bytes + compressor; with transpose_ndim, a transpose first that reverses
    the axes (how a v2 "F"-order chunk's bytes are described in v3)."""
    codecs = [bytes_codec(dtype)]
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
) -> dict:
    """The zarr.json of one output array (fortran_chunks: the chunks are copied
    from a v2 "F"-order source as they are)."""
    codecs = inner_codecs(dtype, compression, len(shape) if fortran_chunks and len(shape) > 1 else 0)
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
        "data_type": v3_data_type(dtype, where),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(grid)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value_json(fill),
        "codecs": codecs,
        "attributes": attributes,
    }
    if dimension_names is not None:
        meta["dimension_names"] = list(dimension_names)
    return meta


def group_metadata(attributes: dict) -> dict:
    return {"zarr_format": 3, "node_type": "group", "attributes": attributes}


def chunk_key(index: tuple[int, ...]) -> str:
    """The v3 default chunk key ('c/0/1/2'; 'c' for a 0-d array)."""
    return "/".join(["c", *(str(i) for i in index)])
