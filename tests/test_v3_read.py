"""The Zarr v3 reader of `validate` (``v3_array``) decodes every codec chain the
Zarr v3 specification allows with its registered codecs, checked against arrays
written by zarr-python 3 and tensorstore: transposes before sharding_indexed,
bytes-to-bytes codecs after it, transposes inside the shard, the index at the
start, a big-endian or transposed index, unsharded transposes with several
compressors, and the v2 chunk key encoding. Every voxel must come back with its
bit pattern (NaN payloads, -0.0), for shapes that chunks and shards do not
divide; and ``validate`` (with ``--against``) accepts such arrays in an
OME-Zarr 0.5 image."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorstore as ts
import zarr
from zarr.codecs import (
    BloscCodec,
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    ShardingCodec,
    TransposeCodec,
    ZstdCodec,
)

import ome2024_ngff_challenge
from ome2024_ngff_challenge.stores import LocalStore
from ome2024_ngff_challenge.testing import samples
from ome2024_ngff_challenge.zarr.v3_read import DecodeError, parse_array_meta

# zarr-python on codecs after sharding_indexed: "disables partial reads and writes"
pytestmark = pytest.mark.filterwarnings("ignore:Combining a `sharding_indexed` codec:UserWarning")

SHAPE = (13, 22, 17)  # divisible by none of the chunk and shard shapes below


# ---------------------------------------------------------------------------
# data and reading
# ---------------------------------------------------------------------------


def int_data(dtype: str = "<u2", seed: int = 3) -> np.ndarray:
    """Pattern data (no zero) with one shard's worth of zeros (the fill value),
    so writers leave an inner chunk or a whole shard out."""
    data = samples.pattern(SHAPE, dtype, seed)
    data[data == 0] = 1
    data[8:, 12:, :10] = 0  # shard (1, 1, 0) of the (8, 12, 10) grid: never written
    data[:4, :6, 10:15] = 0  # an inner (4, 6, 5) chunk of shard (0, 0, 1): left out of its index
    return data


def float_data(dtype: str = "<f8", seed: int = 4) -> np.ndarray:
    """Floats with NaNs (one with a payload) and -0.0 here and there."""
    data = samples.pattern(SHAPE, dtype, seed)
    data[0, 0, 0] = np.nan
    data[5, 7, 9] = -0.0
    data[12, 21, 16] = -0.0
    data[3, 20, 2] = -np.inf
    data[9, 1, 16] = np.nan
    payload = np.array([0x7FF8000000000001 if data.dtype.itemsize == 8 else 0x7FC00001],
                       dtype=f"u{data.dtype.itemsize}").view(data.dtype.newbyteorder("="))[0]
    data[6, 11, 4] = payload
    return data


def bits(a: np.ndarray) -> np.ndarray:
    """The values' bit patterns as native unsigned integers."""
    a = np.ascontiguousarray(a)
    if a.dtype.itemsize > 1 and not a.dtype.isnative:
        a = a.byteswap().view(a.dtype.newbyteorder("="))
    return a.view(f"u{a.dtype.itemsize}")


def assert_same_bits(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    assert (got.dtype.kind, got.dtype.itemsize) == (expected.dtype.kind, expected.dtype.itemsize)
    assert np.array_equal(bits(got), bits(expected))
    if got.dtype.kind == "f":  # the same data read as numbers, too
        assert np.array_equal(got, expected, equal_nan=True)


def parse(path: Path):
    errors: list[str] = []
    arr = parse_array_meta(json.loads((path / "zarr.json").read_text()), errors)
    return arr, errors


def read(path: Path) -> np.ndarray:
    """The whole array through ``parse_array_meta`` + ``blocks``, checking that
    the blocks tile it exactly once and none is larger than one inner chunk
    (reading stays one inner chunk at a time)."""
    arr, errors = parse(path)
    assert errors == [] and arr is not None, errors
    out = np.zeros(arr.shape, arr.dtype)
    seen = np.zeros(arr.shape, np.uint8)
    for region, block in arr.blocks(LocalStore(path), ""):
        size = [r.stop - r.start for r in region]
        assert all(s > 0 for s in size), region
        assert math.prod(size) <= math.prod(arr.inner_chunks), (region, arr.inner_chunks)
        if block is not None:
            assert block.shape == tuple(size), (region, block.shape)
        out[region] = arr.fill if block is None else block
        seen[region] += 1
    assert (seen == 1).all(), "the blocks do not cover every voxel exactly once"
    return out


def write_zarr(path: Path, data: np.ndarray, **options) -> Path:
    """``data`` written with zarr-python 3 (and read back by it, a check of the case itself)."""
    options.setdefault("fill_value", 0)
    a = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, zarr_format=3, **options)
    a[...] = data
    assert_same_bits(zarr.open_array(str(path), mode="r")[...], data)
    return path


def write_tensorstore(path: Path, data: np.ndarray, chunks, codecs, **metadata) -> Path:
    meta = {
        "shape": list(data.shape),
        "data_type": np.dtype(data.dtype).name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
        "codecs": codecs,
        "fill_value": 0,
        **metadata,
    }
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}
    ts.open({**spec, "metadata": meta}, create=True).result()[...].write(data).result()
    assert_same_bits(ts.open(spec).result().read().result(), data)
    return path


def sharding(chunk_shape, codecs=None, **options) -> ShardingCodec:
    return ShardingCodec(chunk_shape=chunk_shape, codecs=codecs or [BytesCodec()], **options)


def stored_codecs(path: Path) -> list:
    return json.loads((path / "zarr.json").read_text())["codecs"]


# ---------------------------------------------------------------------------
# bytes-to-bytes codecs after sharding_indexed
# ---------------------------------------------------------------------------


def test_crc32c_after_sharding(tmp_path):
    data = int_data()
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 5), [BytesCodec(), ZstdCodec()]), compressors=[Crc32cCodec()])
    assert [c["name"] for c in stored_codecs(path)] == ["sharding_indexed", "crc32c"]
    assert not (path / "c" / "1" / "1" / "0").exists()  # the all-fill shard
    assert_same_bits(read(path), data)


def test_zstd_after_sharding(tmp_path):
    data = float_data("<f4")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 5)), compressors=[ZstdCodec(level=3)])
    assert [c["name"] for c in stored_codecs(path)] == ["sharding_indexed", "zstd"]
    assert_same_bits(read(path), data)


def test_gzip_and_crc32c_after_sharding_with_the_index_at_the_start(tmp_path):
    data = int_data("<i4")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 5), [BytesCodec(endian="big"), BloscCodec()], index_location="start"),
                      compressors=[GzipCodec(level=5), Crc32cCodec()])
    assert_same_bits(read(path), data)


def test_corrupt_shard_under_outer_crc32c_is_named(tmp_path):
    data = int_data()
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 5)), compressors=[Crc32cCodec()])
    shard = path / "c" / "0" / "1" / "0"
    raw = bytearray(shard.read_bytes())
    raw[3] ^= 0xFF  # inside an inner chunk's bytes: only the outer crc32c covers them
    shard.write_bytes(bytes(raw))
    arr, _ = parse(path)
    assert list(arr.blocks_at(LocalStore(path), "", (0, 0, 0)))  # the other shards still read
    with pytest.raises(DecodeError, match=r"^c/0/1/0: crc32c checksum does not match$"):
        list(arr.blocks_at(LocalStore(path), "", (0, 1, 0)))


# ---------------------------------------------------------------------------
# transposes before sharding_indexed (the shard is transposed, then cut)
# ---------------------------------------------------------------------------


def test_transpose_before_sharding_zarr_python(tmp_path):
    # zarr-python writes this only for a cube of a shard (it checks the inner
    # chunks against the shard shape before the transpose)
    data = float_data("<f8")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(12, 12, 12), filters=[TransposeCodec(order=(2, 0, 1))],
                      serializer=sharding((4, 6, 3)), compressors=None)
    assert [c["name"] for c in stored_codecs(path)] == ["transpose", "sharding_indexed"]
    assert_same_bits(read(path), data)


def test_transpose_before_sharding_tensorstore(tmp_path):
    # shard (8, 12, 10) transposed by (2, 0, 1) is (10, 8, 12): cut into (5, 4, 6)
    data = int_data()
    codecs = [
        {"name": "transpose", "configuration": {"order": [2, 0, 1]}},
        {"name": "sharding_indexed", "configuration": {
            "chunk_shape": [5, 4, 6],
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd", "configuration": {"level": 1}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}},
    ]
    path = write_tensorstore(tmp_path / "a.zarr", data, (8, 12, 10), codecs)
    assert_same_bits(read(path), data)


def test_two_transposes_before_sharding_and_one_inside(tmp_path):
    data = float_data("<f4")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(12, 12, 12),
                      filters=[TransposeCodec(order=(1, 2, 0)), TransposeCodec(order=(0, 2, 1))],
                      serializer=sharding((6, 4, 3), [TransposeCodec(order=(2, 1, 0)), BytesCodec(endian="big"),
                                                     BloscCodec(cname="lz4", shuffle="bitshuffle")],
                                          index_codecs=[BytesCodec(endian="big"), Crc32cCodec()], index_location="start"),
                      compressors=[ZstdCodec(), Crc32cCodec()])
    assert_same_bits(read(path), data)


# ---------------------------------------------------------------------------
# inside the shard; the index (all but the transposed index were read right
# before the outer codecs were; these keep them so)
# ---------------------------------------------------------------------------


def test_transpose_inside_the_shard(tmp_path):
    data = float_data("<f8")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 5), [TransposeCodec(order=(1, 2, 0)), BytesCodec(endian="big"),
                                                     BloscCodec()]), compressors=None)
    assert_same_bits(read(path), data)


def test_index_at_the_start(tmp_path):
    data = int_data("<u8")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 5), index_location="start"), compressors=None)
    assert_same_bits(read(path), data)


def test_big_endian_index_without_checksum(tmp_path):
    data = int_data("<i2")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 5), index_codecs=[BytesCodec(endian="big")]), compressors=None)
    assert_same_bits(read(path), data)


def test_transposed_index_with_two_checksums_tensorstore(tmp_path):
    # the index is a (2, 4, 2, 2) array here; its codecs transpose it
    data = int_data()
    codecs = [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [4, 3, 5],
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "index_codecs": [{"name": "transpose", "configuration": {"order": [3, 1, 0, 2]}},
                         {"name": "bytes", "configuration": {"endian": "big"}}, {"name": "crc32c"}, {"name": "crc32c"}],
        "index_location": "start"}}]
    path = write_tensorstore(tmp_path / "a.zarr", data, (8, 12, 10), codecs)
    assert_same_bits(read(path), data)


# ---------------------------------------------------------------------------
# unsharded; chunk keys (read right before too: kept so)
# ---------------------------------------------------------------------------


def test_unsharded_transposes_and_several_compressors(tmp_path):
    data = float_data(">f8")
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(4, 6, 5),
                      filters=[TransposeCodec(order=(2, 0, 1)), TransposeCodec(order=(1, 0, 2))],
                      serializer=BytesCodec(endian="big"), compressors=[BloscCodec(), ZstdCodec(), Crc32cCodec()])
    assert_same_bits(read(path), data)


@pytest.mark.parametrize("separator", [".", "/"])
@pytest.mark.parametrize("shards", [None, (8, 12, 10)])
def test_v2_chunk_key_encoding(tmp_path, separator, shards):
    data = int_data()
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(4, 6, 5), shards=shards,
                      chunk_key_encoding={"name": "v2", "separator": separator})
    assert (path / separator.join(["0", "1", "0"])).is_file()
    assert_same_bits(read(path), data)


# ---------------------------------------------------------------------------
# what is not read is said in one line
# ---------------------------------------------------------------------------


def test_nested_sharding_is_reported_as_unsupported(tmp_path):
    data = int_data()
    path = write_zarr(tmp_path / "a.zarr", data, chunks=(8, 12, 10),
                      serializer=sharding((4, 6, 10), [sharding((2, 3, 5))]), compressors=None)
    arr, errors = parse(path)
    assert arr is None
    assert errors == [("codecs[0].codecs: nested sharding (sharding_indexed within sharding_indexed) "
                       "is valid Zarr v3 but not supported by this reader")]


def test_inner_chunks_are_checked_against_the_transposed_shard(tmp_path):
    path = tmp_path / "a.zarr"
    path.mkdir()
    inner = {"name": "sharding_indexed", "configuration": {
        "chunk_shape": [4, 6, 5], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}}
    meta = {"zarr_format": 3, "node_type": "array", "shape": list(SHAPE), "data_type": "uint16",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8, 12, 10]}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
            "codecs": [{"name": "transpose", "configuration": {"order": [2, 0, 1]}}, inner]}
    (path / "zarr.json").write_text(json.dumps(meta))
    arr, errors = parse(path)
    assert arr is None
    assert errors == [("shard shape [8, 12, 10] ([10, 8, 12] after the transpose codecs before sharding_indexed) "
                       "is not a multiple of the inner chunk shape [4, 6, 5]")]


# ---------------------------------------------------------------------------
# the command line: validate and validate --against
# ---------------------------------------------------------------------------


def cli(*argv) -> subprocess.CompletedProcess:
    """``python3 -m ome2024_ngff_challenge ...`` importing this same package."""
    env = dict(os.environ)
    src = str(Path(ome2024_ngff_challenge.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-m", "ome2024_ngff_challenge", *map(str, argv)], check=False,
                          capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)


def write_05_image(path: Path, levels: list[np.ndarray], write_level) -> None:
    """A minimal OME-Zarr 0.5 image: its group zarr.json and one array per
    level, written by ``write_level(array path, data)``."""
    path.mkdir()
    multiscales = samples.multiscales_04("zyx", [[1.0, 2.0**i, 2.0**i] for i in range(len(levels))],
                                         name="other writer", version=None)
    group = {"zarr_format": 3, "node_type": "group",
             "attributes": {"ome": {"version": "0.5", "multiscales": multiscales}}}
    (path / "zarr.json").write_text(json.dumps(group, indent=2))
    for i, level in enumerate(levels):
        write_level(i, path / str(i), level)


def test_validate_accepts_and_compares_other_codec_chains(tmp_path):
    data = int_data()
    src = tmp_path / "in-0.4.zarr"
    expected = samples.write_image(src, data, "zyx", levels=2, chunks=(5, 16, 16))
    levels = [expected["0"], expected["1"]]

    def write_level(i: int, path: Path, level: np.ndarray) -> None:
        common = {"dimension_names": ["z", "y", "x"]}
        if i == 0:  # transposed shard, cut with its index first, gzip + crc32c over it
            write_zarr(path, level, chunks=(12, 12, 12), filters=[TransposeCodec(order=(2, 0, 1))],
                       serializer=sharding((4, 6, 3), [BytesCodec(), ZstdCodec()], index_location="start"),
                       compressors=[GzipCodec(), Crc32cCodec()], **common)
        else:  # unsharded, transposed, blosc + crc32c, v2 keys
            write_zarr(path, level, chunks=(3, 4, 5), filters=[TransposeCodec(order=(2, 1, 0))],
                       serializer=BytesCodec(endian="big"), compressors=[BloscCodec(), Crc32cCodec()],
                       chunk_key_encoding={"name": "v2", "separator": "."}, **common)

    out = tmp_path / "out-0.5.zarr"
    write_05_image(out, levels, write_level)

    run = cli("validate", "--json", out)
    report = json.loads(run.stdout)
    # no false alarm on the arrays: only the crate this writer did not make
    assert [e["path"] for e in report["errors"]] == ["ro-crate-metadata.json"], report
    assert report["arrays"] == 2
    run = cli("update", out, "--cc-by", "--rocrate-organism=NCBI:txid9606", "--rocrate-modality=obo:FBbi_00000369")
    assert run.returncode == 0, run.stderr

    run = cli("validate", out, "--against", src)
    assert run.returncode == 0, run.stdout + run.stderr
    run = cli("validate", "--json", out, "--against", src)
    report = json.loads(run.stdout)
    assert run.returncode == 0 and report["valid"] and report["compared"] == 2, report

    # a changed voxel is found through both chains
    for level, voxel in (("0", (11, 20, 3)), ("1", (6, 2, 7))):
        a = zarr.open_array(str(out / level), mode="r+")
        a[voxel] = 999
        run = cli("validate", "--json", out, "--against", src)
        report = json.loads(run.stdout)
        assert run.returncode == 1, report
        messages = [e["message"] for e in report["errors"] if e["path"] == level]
        assert len(messages) == 1 and messages[0].startswith(f"voxel {list(voxel)} differs from the source: "
                                                             "output 999"), report["errors"]
        a[voxel] = expected[level][voxel]
