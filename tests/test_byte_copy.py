"""`--output-codec=keep`: compressed source chunks copied into the output unchanged.

Every image case of test_resave_images converts in this mode too, with every
voxel equal and every validator satisfied; where the source codec has a Zarr v3
equivalent the stored inner chunks are byte-identical to the source chunks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import checks  # noqa: E402
from test_resave_images import CASES  # noqa: E402

from ome2024_ngff_challenge.testing import samples  # noqa: E402


@pytest.mark.parametrize("case", sorted(CASES))
def test_image_converts_by_copying(case, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = CASES[case](src)
    run = convert("resave", "--output-codec=keep", src, out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected)


def shard_chunks(shard: bytes, n: int) -> list[bytes | None]:
    """The inner chunks of a shard (index at the end: n x (offset, nbytes) + crc32c)."""
    index = np.frombuffer(shard[-(16 * n + 4) : -4], dtype="<u8").reshape(n, 2)
    return [None if o == 2**64 - 1 else shard[o : o + s] for o, s in index.tolist()]


def test_stored_bytes_are_the_source_chunks(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    data = samples.pattern((3, 64, 96), "<u2", 5)
    samples.write_image(src, data, "zyx", chunks=(1, 32, 32))
    run = convert("resave", "--output-codec=keep", "--output-shards=1,64,96", src, out)
    assert run.rc == 0, str(run)
    meta = json.loads((out / "0" / "zarr.json").read_text())
    inner = meta["codecs"][0]["configuration"]["codecs"]
    assert inner[1]["name"] == "blosc" and inner[1]["configuration"]["cname"] == "lz4"
    for z in range(3):
        chunks = shard_chunks((out / "0" / "c" / str(z) / "0" / "0").read_bytes(), 6)
        for n, got in enumerate(chunks):
            y, x = divmod(n, 3)
            assert got == (src / "0" / str(z) / str(y) / str(x)).read_bytes()


def test_fortran_chunks_described_by_transpose(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = samples.write_image(src, samples.pattern((2, 40, 50), "<i2", 7), "zyx", chunks=(1, 16, 32), order="F")
    run = convert("resave", "--output-codec=keep", src, out)
    assert run.rc == 0, str(run)
    meta = json.loads((out / "0" / "zarr.json").read_text())
    inner = meta["codecs"][0]["configuration"]["codecs"]
    assert inner[0] == {"name": "transpose", "configuration": {"order": [2, 1, 0]}}
    checks.check_conversion(src, out, expected=expected)


def test_codec_without_v3_equivalent_is_re_encoded(tmp_path, convert):
    from numcodecs import Zlib

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = samples.write_image(src, samples.pattern((40, 50), "|u1", 3), "yx", chunks=(16, 16), compressor=Zlib(4))
    run = convert("resave", "--output-codec=keep", src, out)
    assert run.rc == 0, str(run)
    assert "re-encoding" in run.err and "zlib" in run.err
    meta = json.loads((out / "0" / "zarr.json").read_text())
    inner = meta["codecs"][0]["configuration"]["codecs"]
    assert inner[-1]["name"] == "blosc" and inner[-1]["configuration"]["cname"] == "zstd"
    checks.check_conversion(src, out, expected=expected)


def test_corrupt_chunk_is_not_copied(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_image(src, samples.pattern((64, 64), "<u2", 4), "yx", chunks=(32, 32))
    chunk = src / "0" / "1" / "0"
    chunk.write_bytes(chunk.read_bytes()[:-7])
    run = convert("resave", "--output-codec=keep", src, out)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "1/0")
    checks.assert_no_complete_output(out)
