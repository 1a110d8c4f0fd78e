"""The codecs of Zarr v3, in one place: each registered bytes-to-bytes codec
(blosc, gzip, zstd, crc32c) as one class that checks its configuration and
decodes its bytes (``V3_BYTES_CODECS``); the variable-length array-to-bytes
codecs (vlen-utf8, vlen-bytes: ``vlen_encode``, ``vlen_decode``); the output's
compression (a v3 codec after the array-to-bytes codec, encoded with
numcodecs); which v2 compressors a v3 codec can describe as they are (for byte
copy). Decoding is bounded (``inflate``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

import google_crc32c
import numcodecs
import numpy as np

from ..errors import UserError, option
from ..json_values import is_int
from .data_types import VLEN_UTF8, typesize
# The Blosc frame check and DecodeError live with the bounded decompressors;
# the readers import them from here, with the codecs.
from .inflate import (  # noqa: F401
    BloscFrameError,
    DecodeError,
    blosc_decompress,
    check_blosc_frame,
    gzip_decompress,
    zstd_decompress,
)

# Blosc compressors: those we write, and those v3 readers decode.
BLOSC_CNAMES = ("lz4", "lz4hc", "blosclz", "zstd", "zlib")
BLOSC_V3_CNAMES = (*BLOSC_CNAMES, "snappy")
BLOSC_SHUFFLES = ("noshuffle", "shuffle", "bitshuffle")


def crc32c_bytes(data: bytes) -> bytes:
    """The crc32c codec's checksum of ``data``, as it follows the data."""
    return struct.pack("<I", google_crc32c.value(data))


class V3BytesCodec:
    """One registered Zarr v3 bytes-to-bytes codec."""

    name: ClassVar[str]

    def check(self, config: dict) -> list[str]:
        """What is wrong with a configuration of this codec (nothing: [])."""
        return []

    def decode(self, raw: bytes, config: dict, limit: int) -> bytes:
        """``raw`` decoded, at most ``limit`` bytes (DecodeError past it)."""
        raise NotImplementedError


class BloscV3(V3BytesCodec):
    name = "blosc"

    def check(self, config: dict) -> list[str]:
        problems = []
        if config.get("cname") not in BLOSC_V3_CNAMES:
            problems.append(f"blosc 'cname' must be one of {', '.join(BLOSC_V3_CNAMES)}, not {config.get('cname')!r}")
        clevel = config.get("clevel")
        if not (is_int(clevel) and 0 <= clevel <= 9):
            problems.append(f"blosc 'clevel' must be an integer 0..9, not {clevel!r}")
        if config.get("shuffle") not in BLOSC_SHUFFLES:
            problems.append(f"blosc 'shuffle' must be one of {', '.join(BLOSC_SHUFFLES)}, not {config.get('shuffle')!r}")
        for key in ("typesize", "blocksize"):
            if key in config and not (is_int(config[key]) and config[key] >= 0):
                problems.append(f"blosc '{key}' must be a non-negative integer")
        return problems

    def decode(self, raw: bytes, config: dict, limit: int) -> bytes:
        return blosc_decompress(numcodecs.Blosc(), raw, limit)


class GzipV3(V3BytesCodec):
    name = "gzip"

    def check(self, config: dict) -> list[str]:
        level = config.get("level")
        if not (is_int(level) and 0 <= level <= 9):
            return [f"gzip 'level' must be an integer 0..9, not {level!r}"]
        return []

    def decode(self, raw: bytes, config: dict, limit: int) -> bytes:
        return gzip_decompress(raw, limit)


class ZstdV3(V3BytesCodec):
    name = "zstd"

    def check(self, config: dict) -> list[str]:
        problems = []
        level = config.get("level")
        if not is_int(level):
            problems.append(f"zstd 'level' must be an integer, not {level!r}")
        if "checksum" in config and not isinstance(config["checksum"], bool):
            problems.append("zstd 'checksum' must be true or false")
        return problems

    def decode(self, raw: bytes, config: dict, limit: int) -> bytes:
        return zstd_decompress(raw, limit)


class Crc32cV3(V3BytesCodec):
    name = "crc32c"

    def decode(self, raw: bytes, config: dict, limit: int) -> bytes:
        if len(raw) < 4:
            msg = "too short for its crc32c checksum"
            raise DecodeError(msg)
        if raw[-4:] != crc32c_bytes(raw[:-4]):
            msg = "crc32c checksum does not match"
            raise DecodeError(msg)
        return raw[:-4]


V3_BYTES_CODECS: dict[str, V3BytesCodec] = {c.name: c() for c in (BloscV3, GzipV3, ZstdV3, Crc32cV3)}


# vlen-utf8 and vlen-bytes (numcodecs VLenUTF8, VLenBytes; the same bytes in
# Zarr v2, where they are a filter or the compressor, and in v3, where they are
# the array-to-bytes codec): a little-endian uint32 item count, then per item a
# uint32 length and its UTF-8 text or its bytes.
_VLEN = {VLEN_UTF8: numcodecs.VLenUTF8(), "vlen-bytes": numcodecs.VLenBytes()}
_COUNT = struct.Struct("<I")


def vlen_nbytes_limit(n: int) -> int:
    """The most we decode for ``n`` variable-length items: their count and
    lengths, and 256 MiB of text or bytes (64 bytes an item when more): no
    shape bounds them, but a decompression bomb must stop somewhere."""
    return _COUNT.size * (n + 1) + max(256 * 2**20, 64 * n)


def vlen_encode(block: np.ndarray, vlen: str) -> bytes:
    """The items of an object array (C order) as the codec ``vlen`` stores them."""
    return bytes(_VLEN[vlen].encode(block))


def vlen_decode(data, n: int, vlen: str) -> np.ndarray:
    """The ``n`` items (a 1-d object array of str or bytes) that ``data`` holds
    in the codec ``vlen``; DecodeError unless it holds exactly that many and
    nothing after them (the count is checked first: a damaged one cannot make
    us allocate more than ``n`` items)."""
    buf = memoryview(data).cast("B")
    if buf.nbytes < _COUNT.size:
        msg = f"{buf.nbytes} bytes, shorter than a {vlen} item count"
        raise DecodeError(msg)
    (count,) = _COUNT.unpack_from(buf)
    if count != n:
        msg = f"{vlen} data holds {count} items, expected {n}"
        raise DecodeError(msg)
    out = np.empty(n, dtype=object)
    try:
        _VLEN[vlen].decode(buf, out=out)
    except (ValueError, UnicodeDecodeError) as e:  # truncated, or not UTF-8
        msg = f"{vlen} data do not decode ({type(e).__name__}: {e})"
        raise DecodeError(msg) from None
    items = map(str.encode, out) if vlen == VLEN_UTF8 else out
    used = _COUNT.size * (n + 1) + sum(map(len, items))
    if used != buf.nbytes:
        msg = f"{buf.nbytes - used} bytes after the {n} {vlen} items"
        raise DecodeError(msg)
    return out


def transposed(shape: tuple[int, ...], transposes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """``shape`` after the transpose codecs (in encoding order)."""
    for order in transposes:
        shape = tuple(shape[o] for o in order)
    return shape


@dataclass(frozen=True)
class Compression:
    """The output compressor: one v3 codec after the array-to-bytes codec
    (`bytes`, `vlen-utf8`, `vlen-bytes`), or none."""

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
                shuffle = 2 if typesize(dtype) == 1 else 1
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
                    "typesize": typesize(dtype),
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
        """A numcodecs codec producing (and decoding) exactly the bytes the v3
        codec describes; None for no compression."""
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

# codec 'keep' (byte copy): copy the source's compressed chunks as they are
KEEP = Compression("keep")


def parse_compression(text: str) -> Compression:
    """'blosc-zstd-5', 'blosc-lz4-5-bitshuffle', 'zstd-3', 'gzip-6', 'none', 'keep'."""
    parts = text.strip().lower().split("-")
    where = option("codec", text)
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


