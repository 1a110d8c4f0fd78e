"""Decompression bombs: a chunk of a few megabytes that inflates to gigabytes
(or whose header claims a terabyte) fails in one line naming the array and the
chunk, and the command's peak memory (measured in its own subprocess) stays
far below the inflated size: ``resave`` and ``validate --against`` (a bomb in
the Zarr v2 input) and ``catalog --html`` (a bomb in a converted dataset the
thumbnail decodes), for every compressor we read.

The bombs are built cheaply: streams of zeros compressed once and repeated
(gzip members, bz2 and xz streams, zstd frames back to back; a zlib stream
whose full-flushed blocks repeat byte for byte), or headers that claim sizes
(zstd frame content size, LZ4, Blosc) the data never had.
"""

from __future__ import annotations

import bz2
import lzma
import os
import shutil
import struct
import subprocess
import sys
import zlib
from functools import cache
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zstandard

import checks
from ome2024_ngff_challenge.testing import samples
from ome2024_ngff_challenge.zarr.inflate import TooLarge, decompress
from ome2024_ngff_challenge.zarr.sharding import encode_shard_index

INFLATED = 2**31 + 2**26  # what every streamed bomb inflates to: over 2 GiB
PEAK_LIMIT = 600 * 2**20  # generous: a normal run of these small arrays takes ~100 MB
ZEROS = bytes(64 << 20)
SHAPE, CHUNKS = (512, 512), (256, 256)  # chunks of 64 KiB (uint8)


@cache
def bomb(kind: str) -> bytes:
    """Stored bytes of a chunk that inflate to INFLATED bytes (or claim more)."""
    copies = INFLATED // len(ZEROS)
    if kind == "gzip":
        c = zlib.compressobj(1, zlib.DEFLATED, 31)
        return (c.compress(ZEROS) + c.flush()) * copies
    if kind == "zlib":  # after a full flush the deflate state is reset: the next block repeats
        c = zlib.compressobj(1)
        head = c.compress(ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
        body = c.compress(ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
        return head + body * (copies - 1) + c.flush()
    if kind == "zstd":  # frames that do not say their size
        return zstandard.ZstdCompressor(level=1, write_content_size=False).compress(ZEROS) * copies
    if kind == "zstd-claims-1tb":  # one frame whose header claims 2**40 bytes, then RLE blocks of zeros
        header = struct.pack("<IB", 0xFD2FB528, 0xE0) + struct.pack("<Q", 2**40)
        block = (131072 << 3 | 1 << 1).to_bytes(3, "little") + b"\0"
        return header + block * 1000
    if kind == "bz2":
        return bz2.compress(bytes(1 << 20), 1) * (INFLATED >> 20)
    if kind == "lzma":
        return lzma.compress(bytes(16 << 20), preset=0) * (INFLATED >> 24)
    if kind == "lz4":  # numcodecs' LZ4: its header claims 2 GiB
        return struct.pack("<I", 2**31 - 1) + bytes(numcodecs.LZ4().encode(bytes(1 << 20)))[4:]
    if kind.startswith("blosc"):  # a real frame whose header claims 2 GiB (c-blosc would allocate it)
        frame = bytearray(numcodecs.Blosc(cname="zstd", clevel=5).encode(bytes(1 << 20)))
        struct.pack_into("<I", frame, 4, 2**31 - 1024)
        return bytes(frame)
    raise ValueError(kind)


V2_COMPRESSORS = {
    "gzip": (numcodecs.GZip(1), None),
    "zlib": (numcodecs.Zlib(1), None),
    "zstd": (numcodecs.Zstd(1), None),
    "zstd-claims-1tb": (numcodecs.Zstd(1), None),
    "bz2": (numcodecs.BZ2(1), None),
    "lzma": (numcodecs.LZMA(preset=0), None),
    "lz4": (numcodecs.LZ4(), None),
    "blosc": (numcodecs.Blosc(cname="zstd", clevel=5), None),
    "blosc+delta": (numcodecs.Blosc(cname="zstd", clevel=5), [numcodecs.Delta(dtype="u1")]),
}


def _v2_input(path: Path, kind: str) -> None:
    compressor, filters = V2_COMPRESSORS[kind]
    samples.write_image(path, [samples.pattern(SHAPE, "|u1")], "yx", chunks=CHUNKS,
                        compressor=compressor, filters=filters)
    (path / "0" / "1" / "0").write_bytes(bomb(kind))


def _peak_run(*argv: object) -> tuple[int, str, int]:
    """(exit status, stdout and stderr, peak RSS in bytes) of the console
    script in its own process (validate reports on stdout, the others on stderr)."""
    exe = shutil.which("ome2024-ngff-challenge") or str(Path(sys.executable).parent / "ome2024-ngff-challenge")
    proc = subprocess.Popen([exe, *map(str, argv)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    err = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err, usage.ru_maxrss * 1024  # Linux: KiB


def _error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("kind", list(V2_COMPRESSORS))
def test_resave_stops_a_bomb_at_the_chunk_size(kind, tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    _v2_input(src, kind)
    before = checks.tree_digest(src)
    rc, err, peak = _peak_run("resave", src, out, "--cc0")
    line = _error_line(err)
    assert rc != 0
    assert f"{src / '0'}: chunk 1/0 " in line and "decompression bomb" in line, line
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MB for a {kind} bomb"
    checks.assert_no_complete_output(out)
    assert checks.tree_digest(src) == before


@pytest.mark.parametrize("kind", ["gzip", "blosc+delta", "zstd-claims-1tb"])
def test_validate_against_a_bombed_source(kind, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    compressor, filters = V2_COMPRESSORS[kind]
    samples.write_image(src, [samples.pattern(SHAPE, "|u1")], "yx", chunks=CHUNKS,
                        compressor=compressor, filters=filters)
    assert convert("resave", src, out, "--cc0").rc == 0
    (src / "0" / "1" / "0").write_bytes(bomb(kind))
    rc, err, peak = _peak_run("validate", out, "--against", src)
    line = _error_line(err)
    assert rc != 0
    assert f"{src / '0'}: chunk 1/0 " in line and "decompression bomb" in line, line
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MB for a {kind} bomb"


def _bomb_shard(shard: Path, raw: bytes, per_shard: int) -> None:
    """A shard whose first inner chunk is ``raw`` and whose others are empty."""
    table = np.full((per_shard, 2), 2**64 - 1, dtype="<u8")
    table[0] = (0, len(raw))
    shard.write_bytes(raw + encode_shard_index(table))


@pytest.mark.parametrize(("codec", "kind", "sharded"), [
    ("gzip-1", "gzip", False), ("zstd-1", "zstd", True), ("zstd-1", "zstd-claims-1tb", False),
    ("blosc-zstd-5", "blosc", True),
])
def test_catalog_thumbnail_of_a_bombed_output(codec, kind, sharded, tmp_path, convert):
    src, folder = tmp_path / "in.zarr", tmp_path / "datasets"
    samples.write_image(src, [samples.pattern(SHAPE, "|u1")], "yx", chunks=CHUNKS)
    shards = ["--output-shards=512,512"] if sharded else ["--output-shards=none"]
    run = convert("resave", src, folder / "a.zarr", "--cc0", f"--output-codec={codec}", *shards)
    assert run.rc == 0, str(run)
    if sharded:
        _bomb_shard(folder / "a.zarr" / "0" / "c" / "0" / "0", bomb(kind), 4)
        where = "c/0/0 inner chunk [0, 0]"
    else:
        (folder / "a.zarr" / "0" / "c" / "0" / "0").write_bytes(bomb(kind))
        where = "c/0/0"
    rc, err, peak = _peak_run("catalog", folder, "--html", tmp_path / "page.html")
    line = _error_line(err)
    assert rc == 1
    assert f"{folder / 'a.zarr' / '0'}: {where}: " in line and "decompression bomb" in line, line
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MB for a {kind} bomb"


@pytest.mark.parametrize("kind", ["gzip", "zlib", "zstd", "zstd-claims-1tb", "bz2", "lzma", "lz4", "blosc"])
def test_every_bounded_decompressor_stops_one_byte_past_its_limit(kind):
    """In process: the limit holds, and a chunk that inflates to exactly the
    limit is decoded as numcodecs decodes it."""
    codec = V2_COMPRESSORS[kind][0]
    with pytest.raises(TooLarge):
        decompress(codec.codec_id, codec, codec.get_config(), bomb(kind), 1 << 20)
    data = np.arange(1 << 16, dtype="<u4").tobytes()
    raw = bytes(codec.encode(data))
    assert bytes(decompress(codec.codec_id, codec, codec.get_config(), raw, len(data))) == data
    with pytest.raises(TooLarge):
        decompress(codec.codec_id, codec, codec.get_config(), raw, len(data) - 1)
