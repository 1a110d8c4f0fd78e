"""Decompression with an output limit: every compressor we read, undone without
ever holding more than the limit (what the chunk's shape and data type allow).

A stored chunk is the attacker's easiest lever: a few megabytes of gzip or zstd
can inflate to gigabytes, and a zstd or Blosc header can claim a terabyte that
the decoder then allocates. So sizes written in headers (Blosc, LZ4, zstd frame
content sizes) are checked before anything is allocated, and streams without
one (gzip, zlib, bz2, lzma, zstd frames of unknown size) are inflated with an
output limit and stopped one byte past it. The produced bytes are the same as
numcodecs' decoders produce (multi-member gzip, concatenated zstd frames and
bz2 and lzma streams included); a codec not known here is decoded by numcodecs
and its size checked afterwards (no bound on its peak: there is no way to stop
it). ``DecodeError`` (with ``TooLarge`` for data past the limit) and the Blosc
frame check live here, below ``codecs``, which decodes through this module.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zlib

import numpy as np
import zstandard

_LZ4_HEADER = struct.Struct("<I")  # numcodecs' LZ4: the decoded size, then one LZ4 block
# zstd input fed at a time when a frame does not say its size: one RLE block of
# 4 bytes inflates to at most 128 KiB, so 128 bytes of input make at most ~4 MiB.
_ZSTD_SLICE = 128
_PIECE = 16 * 2**20  # what a stream reader is asked for at a time

# Blosc 1 frame header: version, versionlz, flags, typesize (one byte each),
# then nbytes (decoded size), blocksize, cbytes (frame size): uint32 little-endian.
BLOSC_HEADER = struct.Struct("<BBBBIII")


class DecodeError(Exception):
    """Stored bytes that do not decode to what the metadata promises (the
    message says why)."""


class BloscFrameError(ValueError):
    """A Blosc frame whose header does not match the bytes held."""


def check_blosc_frame(raw: bytes) -> int:
    """The decoded size a Blosc frame announces, once its header is known to
    match the bytes held. c-blosc trusts the header's frame size (it has no
    source-length argument): a truncated frame stored uncompressed (the memcpy
    flag, e.g. clevel=0 or data that did not compress) would otherwise "decode"
    by reading past the end of the buffer: garbage, no error."""
    if len(raw) < BLOSC_HEADER.size:
        msg = f"{len(raw)} bytes, shorter than a Blosc header"
        raise BloscFrameError(msg)
    _, _, _, _, nbytes, _, cbytes = BLOSC_HEADER.unpack_from(raw)
    if cbytes != len(raw):
        msg = f"Blosc header says {cbytes} bytes, {len(raw)} stored"
        raise BloscFrameError(msg)
    return nbytes


class TooLarge(DecodeError):
    """Data that inflate past what the chunk can hold."""


def too_large(limit: int, claimed: int | None = None) -> TooLarge:
    said = f"claims {claimed} decoded bytes in its header," if claimed is not None else "inflates"
    return TooLarge(f"{said} past the {limit} bytes its shape and data type allow "
                    "(a decompression bomb, or corrupt)")


def _check(n: int, limit: int) -> None:
    if n > limit:
        raise too_large(limit)


def gzip_decompress(raw, limit: int) -> bytes:
    """numcodecs' GZip: one or more gzip members."""
    parts, total = [], 0
    with gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb") as f:
        while total <= limit:  # read() allocates what it is asked for: ask for pieces
            part = f.read(min(limit + 1 - total, _PIECE))
            if not part:
                break
            parts.append(part)
            total += len(part)
    _check(total, limit)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def zlib_decompress(raw, limit: int) -> bytes:
    """numcodecs' Zlib: one zlib stream (what follows it is ignored, as zlib.decompress does)."""
    d = zlib.decompressobj()
    out = d.decompress(raw, limit + 1)
    _check(len(out), limit)
    if not d.eof:
        msg = "incomplete or truncated zlib stream"
        raise DecodeError(msg)
    return out


def _streams(raw, limit: int, make, name: str) -> bytes:
    """bz2 and lzma: one or more streams back to back, as their decompress() reads them."""
    parts, total, data = [], 0, bytes(raw)
    while True:
        d = make()
        part = d.decompress(data, limit - total + 1)
        total += len(part)
        _check(total, limit)
        if not d.eof:
            msg = f"incomplete or truncated {name} stream"
            raise DecodeError(msg)
        parts.append(part)
        data = d.unused_data
        if not data:
            return b"".join(parts)


def bz2_decompress(raw, limit: int) -> bytes:
    return _streams(raw, limit, bz2.BZ2Decompressor, "bz2")


def lzma_decompress(raw, limit: int, config: dict) -> bytes:
    fmt, filters = config.get("format", lzma.FORMAT_AUTO), config.get("filters")
    if fmt == lzma.FORMAT_XZ:  # numcodecs encodes with XZ by default and decodes any
        fmt = lzma.FORMAT_AUTO
    return _streams(raw, limit, lambda: lzma.LZMADecompressor(format=fmt, filters=filters), "lzma")


def zstd_decompress(raw, limit: int) -> bytes:
    """numcodecs' Zstd: one or more frames. A frame that states its size is
    checked before it is decoded (and zstd holds it to that size); one that
    does not is fed in small slices, its output counted as it comes."""
    parts, total, data = [], 0, bytes(raw)
    while data:
        try:
            claimed = zstandard.frame_content_size(data)
        except zstandard.ZstdError:
            claimed = -1  # not a frame header: the decoder says what is wrong
        if claimed >= 0 and total + claimed > limit:
            raise too_large(limit, total + claimed)
        d = zstandard.ZstdDecompressor().decompressobj()
        if claimed >= 0:
            part = d.decompress(data)
            total += len(part)
            parts.append(part)
        else:
            pos = 0
            while not d.eof and pos < len(data):
                part = d.decompress(data[pos : pos + _ZSTD_SLICE])
                pos += _ZSTD_SLICE
                total += len(part)
                _check(total, limit)
                parts.append(part)
        _check(total, limit)
        if not d.eof:
            msg = "incomplete or truncated zstd frame"
            raise DecodeError(msg)
        data = d.unused_data
    if not parts:
        msg = "no zstd frame"
        raise DecodeError(msg)
    return b"".join(parts)


def lz4_decompress(codec, raw, limit: int):
    """numcodecs' LZ4: the header's decoded size is checked first."""
    if len(raw) < _LZ4_HEADER.size:
        msg = f"{len(raw)} bytes, shorter than an LZ4 header"
        raise DecodeError(msg)
    (claimed,) = _LZ4_HEADER.unpack_from(raw)
    if claimed > limit:
        raise too_large(limit, claimed)
    return codec.decode(raw)


def blosc_decompress(codec, raw, limit: int, out: np.ndarray | None = None):
    """Blosc: the frame checked against the bytes held and its decoded size
    against ``limit`` before c-blosc allocates it."""
    try:
        claimed = check_blosc_frame(raw)
    except BloscFrameError as e:
        msg = f"Blosc frame is truncated or corrupt ({e})"
        raise DecodeError(msg) from None
    if claimed > limit:
        raise too_large(limit, claimed)
    if out is not None:
        codec.decode(raw, out=out)
        return out
    return codec.decode(raw)


def decompress(codec_id: str, codec, config: dict, raw, limit: int):
    """``raw`` undone by the compressor ``codec_id`` (``codec``: its numcodecs
    object; ``config``: its configuration), at most ``limit`` bytes (TooLarge
    past it; DecodeError, or whatever the codec raises, for bad data)."""
    if codec_id == "gzip":
        return gzip_decompress(raw, limit)
    if codec_id == "zlib":
        return zlib_decompress(raw, limit)
    if codec_id == "zstd":
        return zstd_decompress(raw, limit)
    if codec_id == "bz2":
        return bz2_decompress(raw, limit)
    if codec_id == "lzma":
        return lzma_decompress(raw, limit, config)
    if codec_id == "lz4":
        return lz4_decompress(codec, raw, limit)
    if codec_id == "blosc":
        return blosc_decompress(codec, raw, limit)
    out = codec.decode(raw)  # a codec we cannot stop: its size checked after
    _check(memoryview(out).nbytes if not isinstance(out, np.ndarray) else out.nbytes, limit)
    return out
