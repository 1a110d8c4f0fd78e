"""Reading Zarr v2 arrays: exact values for every layout and codec, and refusal
of corrupt chunks. The arrays are written by hand (JSON + numcodecs), so the
reader is checked against the format, not against another reader."""

from __future__ import annotations

import itertools
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numcodecs
import numpy as np
import pytest
from numcodecs import BZ2, LZ4, Blosc, Delta, GZip, Zlib, Zstd

from ome2024_ngff_challenge.errors import CorruptChunkError, InputError
from ome2024_ngff_challenge.zarr.v2 import (
    SourceArray,
    V2ArrayMeta,
    is_v2_array,
    read_array_meta,
)
from ome2024_ngff_challenge.stores import LocalStore

ABSENT = object()


def write_v2(
    root: Path,
    path: str,
    data: np.ndarray,
    chunks: tuple[int, ...],
    *,
    compressor: numcodecs.abc.Codec | None = None,
    compressor_config: dict | None | object = ABSENT,
    filters: list | None = None,
    order: str = "C",
    separator: str | None = None,
    fill_value: object = 0,
    dtype: str | None = None,
    skip: set[tuple[int, ...]] = frozenset(),
) -> dict[str, bytes]:
    """Write ``data`` as a Zarr v2 array; returns the stored chunk bytes by key.

    ``separator=None`` leaves "dimension_separator" out of the .zarray;
    chunks listed in ``skip`` are not written.
    """
    folder = root / path
    folder.mkdir(parents=True, exist_ok=True)
    if compressor_config is ABSENT:
        compressor_config = None if compressor is None else compressor.get_config()
    meta = {
        "zarr_format": 2,
        "shape": list(data.shape),
        "chunks": list(chunks),
        "dtype": dtype or data.dtype.str,
        "fill_value": fill_value,
        "order": order,
        "compressor": compressor_config,
        "filters": None if not filters else [f.get_config() for f in filters],
    }
    if separator is not None:
        meta["dimension_separator"] = separator
    (folder / ".zarray").write_text(json.dumps(meta))
    sep = separator or "."
    stored = {}
    grid = [math.ceil(s / c) for s, c in zip(data.shape, chunks)]
    for index in itertools.product(*(range(g) for g in grid)):
        if index in skip:
            continue
        # v2 stores edge chunks full size; the padding's content does not matter.
        chunk = np.zeros(chunks, dtype=data.dtype)
        part = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, data.shape))
        chunk[tuple(slice(0, p.stop - p.start) for p in part)] = data[part]
        encoded = np.ravel(chunk, order=order)
        for f in filters or []:
            encoded = f.encode(encoded)
        raw = bytes(compressor.encode(encoded)) if compressor else np.asarray(encoded).tobytes()
        key = sep.join(map(str, index)) if index else "0"
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(raw)
        stored[key] = raw
    return stored


def regions(shape: tuple[int, ...]) -> list[tuple[slice, ...]]:
    """The whole array plus a few odd sub-regions crossing chunk borders."""
    whole = tuple(slice(0, s) for s in shape)
    odd = tuple(slice(min(1, s), max(min(1, s), s - 2)) for s in shape)
    corner = tuple(slice(s // 3, s // 3 + max(1, s // 2)) for s in shape)
    single = tuple(slice(s - 1, s) for s in shape)
    empty = tuple(slice(s // 2, s // 2) for s in shape)
    return [whole, odd, corner, single, empty, tuple(slice(None) for _ in shape)]


def assert_reads(root: Path, path: str, expected: np.ndarray) -> SourceArray:
    array = SourceArray(LocalStore(root), path)
    for region in regions(expected.shape):
        got = array.read_region(region)
        want = expected[region]
        assert got.dtype == array.meta.dtype
        assert got.flags.c_contiguous
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    return array


def ramp(shape, dtype, seed=0):
    """Compressible but not constant data, so codecs really work."""
    rng = np.random.default_rng(seed)
    base = np.arange(math.prod(shape)).reshape(shape) % 251
    noise = rng.integers(0, 4, size=shape)
    return (base + noise).astype(dtype)


def test_uint8_shape_not_divisible_by_chunks(tmp_path):
    data = ramp((37, 53), np.uint8)
    write_v2(tmp_path, "a", data, (10, 16), compressor=Blosc("lz4", 5, Blosc.SHUFFLE))
    array = assert_reads(tmp_path, "a", data)
    assert array.meta.grid == (4, 4)
    assert array.meta.shape == (37, 53)


def test_big_endian_values_and_dtype_kept(tmp_path):
    data = (ramp((19, 23), "<u2") * 100).astype(">u2")
    write_v2(tmp_path, "a", data, (8, 8), compressor=Blosc("lz4", 5, Blosc.SHUFFLE))
    array = assert_reads(tmp_path, "a", data)
    assert array.meta.dtype == np.dtype(">u2")
    assert array.meta.dtype.byteorder == ">"
    assert array.read_region((slice(0, 19), slice(0, 23))).dtype.str == ">u2"


@pytest.mark.parametrize("compressor", [None, Blosc("zstd", 3, Blosc.BITSHUFFLE), Zlib(1)])
def test_fortran_order(tmp_path, compressor):
    data = ramp((7, 11, 13), "<i2")
    write_v2(tmp_path, "a", data, (3, 4, 5), order="F", compressor=compressor)
    array = assert_reads(tmp_path, "a", data)
    chunk = array.read_chunk((1, 2, 0))
    assert chunk.shape == (3, 4, 5)
    assert chunk.flags.c_contiguous
    # Edge chunk: stored padded, so only its first 3 columns are data.
    np.testing.assert_array_equal(chunk[:, :3, :], data[3:6, 8:11, 0:5])


@pytest.mark.parametrize("separator", [".", None, "/"])
def test_separators(tmp_path, separator):
    data = ramp((9, 10, 11), np.uint16)
    stored = write_v2(tmp_path, "a", data, (4, 4, 4), separator=separator, compressor=Zlib(1))
    array = assert_reads(tmp_path, "a", data)
    assert array.meta.separator == (separator or ".")
    key = array.meta.chunk_key((1, 2, 0))
    assert key == ("1/2/0" if separator == "/" else "1.2.0")
    assert array.read_chunk_bytes((1, 2, 0)) == stored[key]


COMPRESSORS = {
    "blosc-lz4-shuffle": (Blosc("lz4", 5, Blosc.SHUFFLE), ABSENT),
    "blosc-zstd-bitshuffle": (Blosc("zstd", 5, Blosc.BITSHUFFLE), ABSENT),
    "zlib": (Zlib(5), ABSENT),
    "gzip": (GZip(5), ABSENT),
    "zstd-no-checksum-key": (Zstd(level=3), {"id": "zstd", "level": 3}),
    "lz4": (LZ4(), ABSENT),
    "bz2": (BZ2(5), ABSENT),
    "none": (None, ABSENT),
}


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_compressors(tmp_path, name):
    compressor, config = COMPRESSORS[name]
    data = ramp((33, 47), "<u2")
    write_v2(tmp_path, "a", data, (16, 16), compressor=compressor, compressor_config=config)
    array = assert_reads(tmp_path, "a", data)
    if config is not ABSENT:
        assert array.meta.compressor == config


@pytest.mark.parametrize("compressor", [Blosc("lz4", 5, Blosc.SHUFFLE), Zlib(3), None])
def test_filters_chain(tmp_path, compressor):
    data = np.cumsum(ramp((20, 30), "<i4"), axis=1).astype("<i4")
    write_v2(tmp_path, "a", data, (8, 8), compressor=compressor, filters=[Delta(dtype="<i4")])
    array = assert_reads(tmp_path, "a", data)
    assert array.meta.filters == (Delta(dtype="<i4").get_config(),)


def test_float_nan_fill_for_missing_chunks(tmp_path):
    data = ramp((20, 20), "<f4") / 7
    expected = data.copy()
    expected[0:8, 8:16] = np.nan
    expected[16:20, 0:8] = np.nan
    write_v2(tmp_path, "a", data, (8, 8), compressor=Blosc("lz4", 5, 1), fill_value="NaN", skip={(0, 1), (2, 0)})
    array = assert_reads(tmp_path, "a", expected)
    assert np.isnan(array.meta.fill_value)
    assert array.read_chunk((0, 1)) is None


@pytest.mark.parametrize(("word", "value"), [("Infinity", np.inf), ("-Infinity", -np.inf)])
def test_float_infinite_fill(tmp_path, word, value):
    data = np.zeros((4, 4), "<f8")
    write_v2(tmp_path, "a", data, (2, 2), fill_value=word, skip={(1, 1)})
    got = SourceArray(LocalStore(tmp_path), "a").read_region((slice(0, 4), slice(0, 4)))
    assert (got[2:, 2:] == value).all()
    assert (got[:2] == 0).all()


def test_int_fill_for_missing_chunks(tmp_path):
    data = ramp((10, 9), "<i4") - 100
    expected = data.copy()
    expected[5:10, 3:6] = -1
    write_v2(tmp_path, "a", data, (5, 3), compressor=Zlib(1), fill_value=-1, skip={(1, 1)})
    array = assert_reads(tmp_path, "a", expected)
    assert array.meta.fill_value == -1


def test_null_fill_reads_zero(tmp_path):
    data = ramp((6, 6), "<u2") + 1
    expected = data.copy()
    expected[0:3, 0:3] = 0
    write_v2(tmp_path, "a", data, (3, 3), fill_value=None, skip={(0, 0)})
    array = assert_reads(tmp_path, "a", expected)
    assert array.meta.fill_value is None
    assert array.meta.fill_scalar() == 0


def test_bool(tmp_path):
    data = ramp((13, 17), np.uint8) % 3 == 0
    expected = data.copy()
    expected[10:13, 0:5] = True
    write_v2(tmp_path, "a", data, (5, 5), compressor=Blosc("lz4", 5, 1), fill_value=True, skip={(2, 0)})
    array = assert_reads(tmp_path, "a", expected)
    assert array.meta.dtype == np.dtype(bool)
    assert array.meta.fill_value is np.True_


def test_zero_dimensional(tmp_path):
    data = np.array(1234.5, dtype="<f8")
    stored = write_v2(tmp_path, "a", data, (), compressor=Zlib(1))
    assert list(stored) == ["0"]
    array = SourceArray(LocalStore(tmp_path), "a")
    assert array.meta.grid == ()
    assert array.read_region(()) == data
    assert array.read_chunk(()).shape == ()


def test_zero_sized_dimension(tmp_path):
    data = np.zeros((0, 5), np.uint8)
    write_v2(tmp_path, "a", data, (4, 4))
    array = SourceArray(LocalStore(tmp_path), "a")
    assert array.meta.grid == (0, 2)
    assert array.read_region((slice(0, 0), slice(0, 5))).shape == (0, 5)


def test_array_in_root_of_store(tmp_path):
    data = ramp((5, 5), np.uint8)
    write_v2(tmp_path, "", data, (2, 2))
    assert is_v2_array(LocalStore(tmp_path), "")
    assert_reads(tmp_path, "", data)


def test_reads_from_worker_threads(tmp_path):
    data = ramp((64, 64), "<u2")
    write_v2(tmp_path, "a", data, (16, 16), compressor=Blosc("lz4", 5, 1))
    array = SourceArray(LocalStore(tmp_path), "a")
    tiles = [(slice(r, r + 16), slice(c, c + 16)) for r in range(0, 64, 16) for c in range(0, 64, 16)]
    with ThreadPoolExecutor(4) as pool:
        for tile, got in zip(tiles, pool.map(array.read_region, tiles)):
            np.testing.assert_array_equal(got, data[tile])


def test_matches_zarr_python(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = ramp((30, 41, 7), ">i2")
    write_v2(
        tmp_path, "img/0", data, (8, 16, 3), compressor=Blosc("zstd", 5, Blosc.SHUFFLE), order="F",
        separator="/", fill_value=-7, skip={(1, 1, 1)},
    )
    theirs = zarr.open_array(
        store=zarr.storage.LocalStore(tmp_path, read_only=True), path="img/0", mode="r", zarr_format=2
    )[...]
    ours = SourceArray(LocalStore(tmp_path), "img/0").read_region(tuple(slice(0, s) for s in data.shape))
    np.testing.assert_array_equal(ours, theirs)
    assert (ours[8:16, 16:32, 3:6] == -7).all()


# --- corrupt chunks -------------------------------------------------------


def corrupt_chunk(tmp_path, compressor, make_bad, data=None, chunks=(32, 32)):
    """Write an array, replace chunk 0.1 by make_bad(its bytes), read it."""
    data = ramp((64, 64), "<u2") if data is None else data
    stored = write_v2(tmp_path, "a", data, chunks, compressor=compressor)
    (tmp_path / "a" / "0.1").write_bytes(make_bad(stored["0.1"]))
    array = SourceArray(LocalStore(tmp_path), "a")
    # Its neighbours still read fine.
    np.testing.assert_array_equal(array.read_chunk((0, 0)), data[:32, :32])
    # garbage whose header claims more than the chunk holds is named as a possible bomb
    with pytest.raises(CorruptChunkError, match=r"chunk 0\.1 (is corrupt or truncated|claims .*a decompression bomb, or corrupt)") as caught:
        array.read_region((slice(0, 64), slice(0, 64)))
    assert str(tmp_path / "a") in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(CorruptChunkError, match=r"chunk 0\.1 "):
        array.read_chunk((0, 1))
    return str(caught.value)


def half(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def test_blosc_lz4_cut_in_half(tmp_path):
    corrupt_chunk(tmp_path, Blosc("lz4", 5, Blosc.SHUFFLE), half)


def test_blosc_uncompressed_frame_cut_in_half(tmp_path):
    # clevel=0 stores the data memcpy'd; c-blosc would "decode" the truncated
    # frame by reading past its end instead of failing.
    blosc = Blosc("lz4", 0, Blosc.SHUFFLE)
    frame = blosc.encode(ramp((32, 32), "<u2"))
    assert frame[2] & 0x02, "expected a memcpy'd frame"
    message = corrupt_chunk(tmp_path, blosc, half)
    assert "Blosc header says" in message


def test_blosc_frame_claiming_wrong_size(tmp_path):
    other = Blosc("lz4", 5, 1).encode(ramp((16, 16), "<u2"))
    message = corrupt_chunk(tmp_path, Blosc("lz4", 5, 1), lambda raw: other)
    assert "decoded bytes" in message


def test_zlib_cut_in_half(tmp_path):
    corrupt_chunk(tmp_path, Zlib(5), half)


@pytest.mark.parametrize("compressor", [Zstd(3), LZ4(), GZip(5), BZ2(5)])
def test_other_codecs_cut_in_half(tmp_path, compressor):
    corrupt_chunk(tmp_path, compressor, half)


@pytest.mark.parametrize("change", [half, lambda raw: raw + b"\0\0"])
def test_raw_chunk_wrong_length(tmp_path, change):
    message = corrupt_chunk(tmp_path, None, change)
    assert "expected 2048" in message


@pytest.mark.parametrize("compressor", [Blosc("lz4", 5, 1), Zlib(5), Zstd(3), LZ4(), GZip(5), BZ2(5), None])
def test_random_garbage(tmp_path, compressor):
    garbage = np.random.default_rng(1).integers(0, 256, 777, dtype=np.uint8).tobytes()
    corrupt_chunk(tmp_path, compressor, lambda raw: garbage)


def test_decode_chunk_wraps_errors(tmp_path):
    write_v2(tmp_path, "a", ramp((4, 4), np.uint8), (2, 2), compressor=Zlib(1))
    array = SourceArray(LocalStore(tmp_path), "a")
    with pytest.raises(CorruptChunkError, match=r"chunk 1\.0 is corrupt"):
        array.decode_chunk(b"not zlib", (1, 0))


# --- metadata -------------------------------------------------------------


def test_missing_zarray(tmp_path):
    (tmp_path / "a").mkdir()
    assert not is_v2_array(LocalStore(tmp_path), "a")
    with pytest.raises(InputError, match=r"no Zarr v2 array \(\.zarray missing\)") as caught:
        SourceArray(LocalStore(tmp_path), "a")
    assert str(caught.value).startswith(str(tmp_path / "a"))


def test_invalid_json_names_the_file(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / ".zarray").write_text('{"zarr_format": 2,')
    with pytest.raises(InputError) as caught:
        SourceArray(LocalStore(tmp_path), "a")
    assert str(tmp_path / "a" / ".zarray") in str(caught.value)


def test_read_array_meta(tmp_path):
    write_v2(tmp_path, "a", ramp((5, 6), ">f8"), (2, 3), fill_value="NaN", separator="/")
    meta = read_array_meta(LocalStore(tmp_path), "a")
    assert meta.shape == (5, 6)
    assert meta.chunks == (2, 3)
    assert meta.grid == (3, 2)
    assert meta.dtype == np.dtype(">f8")
    assert meta.order == "C"
    assert meta.compressor is None
    assert meta.filters == ()
    assert meta.chunk_key((2, 1)) == "2/1"
    assert np.isnan(meta.fill_scalar())
    assert meta.fill_scalar().dtype == np.dtype(">f8")


GOOD = {
    "zarr_format": 2,
    "shape": [10, 10],
    "chunks": [5, 5],
    "dtype": "<u2",
    "fill_value": 0,
    "order": "C",
    "compressor": {"id": "zlib", "level": 1},
    "filters": None,
}


def test_good_meta_and_defaults():
    meta = V2ArrayMeta.from_json(GOOD, "here")
    assert meta.separator == "."
    assert meta.compressor == {"id": "zlib", "level": 1}
    lean = {k: v for k, v in GOOD.items() if k not in ("filters", "fill_value")}
    assert V2ArrayMeta.from_json(lean, "here").fill_value is None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"zarr_format": 3}, "zarr_format"),
        ({"shape": [10]}, "chunks"),
        ({"shape": [10, -1]}, "shape"),
        ({"shape": "10"}, "shape"),
        ({"chunks": [5, 0]}, "chunks"),
        ({"chunks": [5, 2.5]}, "chunks"),
        ({"chunks": [5, True]}, "chunks"),
        ({"dtype": "<U4", "fill_value": 1}, "fill_value"),
        ({"dtype": "|O"}, "unsupported object"),
        ({"dtype": "<M8[ns]"}, "unsupported dtype"),
        ({"dtype": "|S0"}, "unsupported dtype"),
        ({"dtype": [["a", ">u2"]]}, "unsupported dtype"),
        ({"dtype": [["a", "<u2", [2]]]}, "unsupported dtype"),
        ({"dtype": "<f16"}, "unsupported dtype"),
        ({"dtype": "<q7"}, "unknown dtype"),
        ({"order": "X"}, "order"),
        ({"dimension_separator": "_"}, "dimension_separator"),
        ({"compressor": {"id": "no-such-codec"}}, "unknown or unusable codec"),
        ({"compressor": {"level": 1}}, "compressor"),
        ({"compressor": {"id": "zlib", "nonsense": 1}}, "codec"),
        ({"compressor": {"id": "pickle"}}, "unsupported codec"),
        ({"filters": [{"id": "vlen-utf8"}]}, "encodes object"),
        ({"compressor": {"id": "json2"}}, "unsupported codec"),
        ({"filters": {"id": "delta"}}, "filters"),
        ({"fill_value": "NaN"}, "fill_value"),
        ({"fill_value": 70000}, "fill_value"),
        ({"fill_value": -1}, "fill_value"),
        ({"fill_value": 1.5}, "fill_value"),
        ({"fill_value": True}, "fill_value"),
    ],
)
def test_invalid_meta(change, words):
    with pytest.raises(InputError, match=words) as caught:
        V2ArrayMeta.from_json({**GOOD, **change}, "/data/x/.zarray")
    message = str(caught.value)
    assert message.startswith("/data/x/.zarray: ")
    assert "\n" not in message


@pytest.mark.parametrize("key", ["shape", "chunks", "dtype", "order", "compressor"])
def test_required_keys(key):
    with pytest.raises(InputError, match=key):
        V2ArrayMeta.from_json({k: v for k, v in GOOD.items() if k != key}, "here")


def test_not_an_object():
    with pytest.raises(InputError, match="^here: "):
        V2ArrayMeta.from_json([1, 2], "here")


@pytest.mark.parametrize(
    ("dtype", "fill", "expected"),
    [
        ("|b1", False, False),
        ("|b1", 1, True),
        ("<i8", -(2**63), -(2**63)),
        ("<u8", 2**64 - 1, 2**64 - 1),
        ("<i4", 3.0, 3),
        ("<f4", 0.5, 0.5),
        ("<f2", "-Infinity", -np.inf),
        ("<c8", [1.0, "NaN"], complex(1, np.nan)),
    ],
)
def test_fill_values(dtype, fill, expected):
    meta = V2ArrayMeta.from_json({**GOOD, "dtype": dtype, "fill_value": fill}, "here")
    scalar = meta.fill_scalar()
    assert scalar.shape == ()
    assert scalar.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(scalar, np.array(expected, dtype=dtype))


def test_float_fill_overflow():
    with pytest.raises(InputError, match="fill_value"):
        V2ArrayMeta.from_json({**GOOD, "dtype": "<f2", "fill_value": 1e10}, "here")


def test_chunk_key_and_grid():
    meta = V2ArrayMeta.from_json({**GOOD, "shape": [10, 11, 0], "chunks": [5, 5, 3]}, "here")
    assert meta.grid == (2, 3, 0)
    assert meta.chunk_key((1, 2, 0)) == "1.2.0"
    with pytest.raises(ValueError):
        meta.chunk_key((1, 2))


def test_bad_regions(tmp_path):
    write_v2(tmp_path, "a", ramp((4, 4), np.uint8), (2, 2))
    array = SourceArray(LocalStore(tmp_path), "a")
    for region in [(slice(0, 5), slice(0, 4)), (slice(0, 4, 2), slice(0, 4)), (slice(0, 4),), (slice(3, 2), slice(0, 4))]:
        with pytest.raises(ValueError):
            array.read_region(region)


def test_blosc_with_filters_cut_in_half(tmp_path):
    # With filters the decoded size is not checked against the header, but the
    # frame length still is.
    data = ramp((64, 64), "<i4")
    stored = write_v2(tmp_path, "a", data, (32, 32), compressor=Blosc("lz4", 0, 1), filters=[Delta(dtype="<i4")])
    (tmp_path / "a" / "1.1").write_bytes(half(stored["1.1"]))
    with pytest.raises(CorruptChunkError, match=r"chunk 1\.1 is corrupt or truncated \(Blosc header says"):
        SourceArray(LocalStore(tmp_path), "a").read_region((slice(0, 64), slice(0, 64)))
