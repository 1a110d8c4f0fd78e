"""Arrays of strings, bytes and structured data: Zarr v2 arrays written by hand
(.zarray + numcodecs) inside an OME-Zarr 0.4 image, converted through the plan,
the shard tasks, the thread executor and the output's life cycle, and read back
with zarr-python 3 (and tensorstore where it knows the type) equal to the
source: the data, the fill value of chunks never written, and zarr.json exactly
as zarr-python 3 writes these types. Also: resume, byte copy, corrupt chunks,
refused types, ``validate``'s reader and ``--against`` comparison, and the
AnnData tables of ngio read back equal by anndata.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import shutil
import sys
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr
from numcodecs import GZip, VLenBytes, VLenUTF8, Zstd

sys.path.insert(0, str(Path(__file__).parent))

import realworld_writers as rw

from ome2024_ngff_challenge.convert.layout import Layout
from ome2024_ngff_challenge.convert.output import Conversion, OutputSettings
from ome2024_ngff_challenge.convert.plan import GroupJob, LayoutRequest, array_job
from ome2024_ngff_challenge.convert.planner import Planner, build_plan
from ome2024_ngff_challenge.errors import CorruptChunkError, InputError, UserError
from ome2024_ngff_challenge.executors.threads import ThreadExecutor
from ome2024_ngff_challenge.stores import LocalStore
from ome2024_ngff_challenge.testing import samples
from ome2024_ngff_challenge.testing.v2_writer import BLOSC_LZ4
from ome2024_ngff_challenge.convert.verify import compare_array
from ome2024_ngff_challenge.validation.report import Report
from ome2024_ngff_challenge.zarr.codecs import DEFAULT_COMPRESSION, KEEP, Compression
from ome2024_ngff_challenge.zarr.v2 import SourceArray
from ome2024_ngff_challenge.zarr.v3_read import parse_array_meta

# zarr-python 3 warns that these types have no Zarr v3 specification yet (all but "string")
pytestmark = pytest.mark.filterwarnings("ignore::zarr.core.dtype.common.UnstableSpecificationWarning")

TEXT = ["", "a", "bb", "héllo", "日本語", "🙂 emoji", "tab\tand\nnewline", "x" * 300, "quote\"'", "\u0000nul"]
BLOBS = [b"", b"\x00", b"\xff\xfe", b"abc", bytes(range(256)), b"\x00\x00end"]


# ---------------------------------------------------------------------------
# writing Zarr v2 arrays by hand
# ---------------------------------------------------------------------------


def write_v2(folder: Path, data: np.ndarray, chunks: tuple[int, ...], *, dtype: str | list,
             fill_value: object, compressor: numcodecs.abc.Codec | None = BLOSC_LZ4,
             object_codec: numcodecs.abc.Codec | None = None, object_codec_as_compressor: bool = False,
             missing: set[tuple[int, ...]] = frozenset(), order: str = "C", pad: object = None,
             separator: str = ".") -> None:
    """``data`` as a Zarr v2 array: .zarray plus chunks encoded with numcodecs,
    the object codec (if any) as the first filter, or as the compressor.
    Chunks in ``missing`` are not written; edge chunks are padded with ``pad``
    (what a writer leaves there does not matter)."""
    folder.mkdir(parents=True)
    filters = None
    if object_codec is not None and not object_codec_as_compressor:
        filters = [object_codec.get_config()]
    stored_compressor = object_codec if object_codec_as_compressor else compressor
    meta = {
        "zarr_format": 2, "shape": list(data.shape), "chunks": list(chunks), "dtype": dtype,
        "fill_value": fill_value, "order": order, "filters": filters, "dimension_separator": separator,
        "compressor": None if stored_compressor is None else stored_compressor.get_config(),
    }
    (folder / ".zarray").write_text(json.dumps(meta, indent=4))
    (folder / ".zattrs").write_text(json.dumps({"encoding-type": "string-array", "encoding-version": "0.2.0"}))
    grid = [math.ceil(s / c) for s, c in zip(data.shape, chunks)]
    for index in itertools.product(*(range(g) for g in grid)):
        if index in missing:
            continue
        full = np.empty(chunks, dtype=data.dtype)
        full[...] = pad if pad is not None else data.reshape(-1)[0]
        part = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, data.shape))
        full[tuple(slice(0, p.stop - p.start) for p in part)] = data[part]
        flat = full.ravel(order=order)
        if object_codec is not None:
            raw = bytes(object_codec.encode(flat))
            if not object_codec_as_compressor and compressor is not None:
                raw = bytes(compressor.encode(raw))
        else:
            raw = bytes(compressor.encode(flat)) if compressor is not None else flat.tobytes()
        (folder / separator.join(map(str, index))).write_bytes(raw)


def with_fill(data: np.ndarray, chunks, missing, fill) -> np.ndarray:
    """What a reader returns: ``data`` with the chunks never written as ``fill``."""
    out = data.copy()
    for index in missing:
        out[tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks))] = fill
    return out


def strings(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([TEXT[i] for i in rng.integers(0, len(TEXT), math.prod(shape))], dtype=object).reshape(shape)


def image(root: Path) -> dict[str, np.ndarray]:
    """A small OME-Zarr 0.4 image at ``root``, to hold the other arrays."""
    return samples.write_image(root, samples.pattern((20, 30), "<u2", 1), "yx", chunks=(10, 16))


# ---------------------------------------------------------------------------
# converting
# ---------------------------------------------------------------------------


def plan_with(src: Path, paths: list[str], compression: Compression = DEFAULT_COMPRESSION, layout=None):
    """The image's plan (the walk finds the arrays at ``paths``, which no OME
    metadata names), with those arrays laid out as ``layout`` says."""
    store = LocalStore(src)
    plan = build_plan(store, LayoutRequest(), compression, creator={})
    planner = Planner(store, LayoutRequest(), compression, {})
    found = {a.path: n for n, a in enumerate(plan.arrays)}
    for path in paths:
        assert path in found, f"{path}: not found by the walk"
        job = array_job(store, path, compression, layout=layout)
        if compression is KEEP:
            planner.keep_source_chunks(job)
        plan.arrays[found[path]] = job
    return plan


def convert(src: Path, out: Path, paths: list[str], compression: Compression = DEFAULT_COMPRESSION,
            layout=None):
    plan = plan_with(src, paths, compression, layout)
    ThreadExecutor(2).execute(Conversion(plan, LocalStore(src), LocalStore(out), OutputSettings(progress=False)))
    return plan


def read_zarr(path: Path) -> np.ndarray:
    return zarr.open_array(str(path), mode="r", zarr_format=3)[...]


def zarr_json(path: Path) -> dict:
    return json.loads((path / "zarr.json").read_text())


def same(got: np.ndarray, expected: np.ndarray) -> bool:
    """Equal item for item, the Python type included (str and bytes differ)."""
    g, e = (np.asarray(a, dtype=object).reshape(-1).tolist() for a in (got, expected))
    return got.shape == expected.shape and all(type(a) is type(b) and a == b for a, b in zip(g, e))


def inner(meta: dict) -> list:
    """The codecs of the inner chunks (or of the chunks, unsharded)."""
    codecs = meta["codecs"]
    return codecs[0]["configuration"]["codecs"] if codecs[0]["name"] == "sharding_indexed" else codecs


def stored_inner_chunks(out: Path, path: str) -> int:
    """How many inner chunks the output stores (non-empty shard index entries)."""
    meta = zarr_json(out / path)
    folder = out / path / "c"
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    if meta["codecs"][0]["name"] != "sharding_indexed":
        return len(files)
    config = meta["codecs"][0]["configuration"]
    n = math.prod(s // c for s, c in zip(meta["chunk_grid"]["configuration"]["chunk_shape"], config["chunk_shape"]))
    count = 0
    for f in files:
        index = np.frombuffer(f.read_bytes()[-(16 * n + 4):-4], dtype="<u8").reshape(n, 2)
        count += int((index[:, 0] != 2**64 - 1).sum())
    return count


# ---------------------------------------------------------------------------
# strings (vlen-utf8)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("compressor", "position", "layout"),
    [
        (BLOSC_LZ4, "filter", None),  # ngio / anndata with zarr-python 2 and 3
        (Zstd(level=3), "filter", Layout((4, 3), (8, 6))),
        (None, "filter", Layout((4, 3), None)),  # unsharded
        (None, "compressor", None),  # vlen-utf8 as the compressor, no filters
        (GZip(level=1), "filter", Layout((2, 3), (4, 6))),  # inner chunks cut from source chunks
    ],
    ids=["blosc-filter", "zstd-sharded", "unsharded", "as-compressor", "recut"],
)
def test_strings_convert_as_zarr_python_writes_them(tmp_path, compressor, position, layout):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = strings((11, 7), seed=1)
    data[:4, :3] = ""  # one source chunk of nothing but the fill value
    missing = {(1, 2)}
    write_v2(src / "tables/t/obs/name", data, (4, 3), dtype="|O", fill_value="", compressor=compressor,
             object_codec=VLenUTF8(), object_codec_as_compressor=position == "compressor", missing=missing)
    expected = with_fill(data, (4, 3), missing, "")
    convert(src, out, ["tables/t/obs/name"], layout=layout)

    got = read_zarr(out / "tables/t/obs/name")
    assert got.tolist() == expected.tolist()
    assert got[4:8, 6:].tolist() == [[""]] * 4  # the chunk never written reads as the fill value
    meta = zarr_json(out / "tables/t/obs/name")
    assert meta["data_type"] == "string" and meta["fill_value"] == ""
    codecs = inner(meta)
    assert codecs[0] == {"name": "vlen-utf8", "configuration": {}}
    assert [c["name"] for c in codecs[1:]] == ["blosc"]  # the default output codec
    assert codecs[1]["configuration"]["typesize"] == 1  # it compresses the vlen byte stream
    assert meta["attributes"]["encoding-type"] == "string-array"
    # inner chunks holding only "" are not stored: those cut from the all-"" source
    # chunk or from the chunk never written
    sharded = meta["codecs"][0]["name"] == "sharding_indexed"
    chunks = (meta["codecs"][0]["configuration"] if sharded else meta["chunk_grid"]["configuration"])["chunk_shape"]
    blank = with_fill(np.zeros(data.shape, bool), (4, 3), missing | {(0, 0)}, True)
    grid = [range(math.ceil(s / c)) for s, c in zip(data.shape, chunks)]
    want = sum(not blank[i * chunks[0]:(i + 1) * chunks[0], j * chunks[1]:(j + 1) * chunks[1]].all()
               for i, j in itertools.product(*grid))
    assert want < math.prod(map(len, grid))
    assert stored_inner_chunks(out, "tables/t/obs/name") == want


def test_strings_zarr_json_is_what_zarr_python_writes(tmp_path):
    """Every key of zarr.json but the attributes equals zarr-python 3's own for
    the same array (sharded, zstd)."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = strings((10,), seed=2)
    write_v2(src / "s", data, (5,), dtype="|O", fill_value="", compressor=Zstd(level=0), object_codec=VLenUTF8())
    plan = plan_with(src, ["s"], layout=Layout((5,), (10,)))
    plan.arrays[-1].compression = Compression("zstd", level=0)
    ThreadExecutor(2).execute(Conversion(plan, LocalStore(src), LocalStore(out), OutputSettings(progress=False)))
    ours = zarr_json(out / "s")
    theirs_path = tmp_path / "theirs.zarr"
    a = zarr.create_array(str(theirs_path), shape=(10,), dtype=str, chunks=(5,), shards=(10,), zarr_format=3,
                          compressors=[zarr.codecs.ZstdCodec(level=0)])
    a[...] = data.astype(str)
    theirs = zarr_json(theirs_path)
    for key in ("data_type", "fill_value", "codecs", "chunk_grid", "chunk_key_encoding", "shape"):
        assert ours[key] == theirs[key], key
    assert (out / "s/c/0").read_bytes() == (theirs_path / "c/0").read_bytes()


@pytest.mark.parametrize("fill", [None, 0, "", "n/a"])
def test_string_fill_values(tmp_path, fill):
    """null and 0 (zarr-python 2's default, which it never turned into a
    string) become "", a string stays; chunks never written read as it."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = strings((9,), seed=3)
    write_v2(src / "s", data, (4,), dtype="|O", fill_value=fill, object_codec=VLenUTF8(), missing={(1,)})
    convert(src, out, ["s"])
    want = "" if fill in (None, 0) else fill
    assert zarr_json(out / "s")["fill_value"] == want
    assert read_zarr(out / "s").tolist() == with_fill(data, (4,), {(1,)}, want).tolist()
    # what zarr-python 3 makes of the source: the same, but for a 0 fill, which it reads as "0"
    source = zarr.open_array(str(src / "s"), mode="r", zarr_format=2)[...]
    assert source[4:8].tolist() == ["0" if fill == 0 else want] * 4


def test_fortran_order_strings(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = strings((5, 6), seed=4)
    write_v2(src / "s", data, (3, 4), dtype="|O", fill_value="", object_codec=VLenUTF8(), order="F")
    assert same(SourceArray(LocalStore(src), "s").read_region((slice(0, 5), slice(0, 6))), data)
    convert(src, out, ["s"])
    assert read_zarr(out / "s").tolist() == data.tolist()


# ---------------------------------------------------------------------------
# bytes, fixed-length strings, structured
# ---------------------------------------------------------------------------


def test_variable_length_bytes(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = np.empty(13, dtype=object)
    data[:] = [BLOBS[i % len(BLOBS)] for i in range(13)]
    write_v2(src / "b", data, (4,), dtype="|O", fill_value=None, object_codec=VLenBytes(), missing={(2,)})
    convert(src, out, ["b"], layout=Layout((4,), (8,)))
    meta = zarr_json(out / "b")
    assert meta["data_type"] == "variable_length_bytes" and meta["fill_value"] == ""
    assert inner(meta)[0] == {"name": "vlen-bytes", "configuration": {}}
    got = read_zarr(out / "b")
    assert same(got, with_fill(data, (4,), {(2,)}, b""))


def test_vlen_bytes_fill_in_base64(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = np.empty(6, dtype=object)
    data[:] = BLOBS
    write_v2(src / "b", data, (3,), dtype="|O", fill_value=base64.b64encode(b"\x01?").decode(),
             object_codec=VLenBytes(), missing={(1,)})
    convert(src, out, ["b"])
    assert zarr_json(out / "b")["fill_value"] == "AT8="
    assert same(read_zarr(out / "b"), with_fill(data, (3,), {(1,)}, b"\x01?"))


@pytest.mark.parametrize(
    ("dtype", "fill", "expected_type", "expected_fill", "missing_value"),
    [
        ("|S3", None, {"name": "null_terminated_bytes", "configuration": {"length_bytes": 3}}, "", b""),
        ("|S3", "YWI=", {"name": "null_terminated_bytes", "configuration": {"length_bytes": 3}}, "YWI=", b"ab"),
        ("<U2", "", {"name": "fixed_length_utf32", "configuration": {"length_bytes": 8}}, "", ""),
        (">U2", "zz", {"name": "fixed_length_utf32", "configuration": {"length_bytes": 8}}, "zz", "zz"),
        ("<U5", 0, {"name": "fixed_length_utf32", "configuration": {"length_bytes": 20}}, "", ""),
    ],
    ids=["S3-null", "S3-fill", "U2", "U2-big-endian", "U5-fill-0"],
)
def test_fixed_length_strings(tmp_path, dtype, fill, expected_type, expected_fill, missing_value):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    if "S" in dtype:
        data = np.array([b"", b"a", b"ab", b"abc", b"a\x00c", b"\xff"] * 3, dtype=dtype).reshape(3, 6)
    else:
        words = ["", "a", "é", "日本", "🙂", "zz", "abcde"]
        data = np.array([words[i % len(words)][: int(dtype[2:])] for i in range(18)], dtype=dtype).reshape(3, 6)
    write_v2(src / "f", data, (2, 4), dtype=dtype, fill_value=fill, missing={(1, 0)})
    convert(src, out, ["f"], layout=Layout((2, 4), (2, 8)))
    meta = zarr_json(out / "f")
    assert meta["data_type"] == expected_type and meta["fill_value"] == expected_fill
    endian = {"endian": "big" if dtype[0] == ">" else "little"}
    assert inner(meta)[0] == ({"name": "bytes"} if "S" in dtype else {"name": "bytes", "configuration": endian})
    got = read_zarr(out / "f")
    expected = with_fill(data, (2, 4), {(1, 0)}, missing_value)
    assert got.dtype.kind == data.dtype.kind and got.tolist() == expected.tolist()


def test_raw_bytes(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = np.array([b"abcd", b"\0\0\0\0", b"\xff\x00\x01\x02", b"wxyz", b"1234"], dtype="|V4")
    write_v2(src / "v", data, (2,), dtype="|V4", fill_value=base64.b64encode(b"FILL").decode(), missing={(1,)})
    plan = convert(src, out, ["v"])
    assert plan.arrays[-1].layout.shards is None
    meta = zarr_json(out / "v")
    assert meta["data_type"] == {"name": "raw_bytes", "configuration": {"length_bytes": 4}}
    assert meta["fill_value"] == "RklMTA==" and meta["codecs"][0] == {"name": "bytes"}
    got = read_zarr(out / "v")
    assert got.dtype == np.dtype("V4") and got.tobytes() == with_fill(data, (2,), {(1,)}, b"FILL").tobytes()


STRUCTURED = [["label", "<u4"], ["area", "<f8"], ["flag", "|b1"], ["code", "|S2"], ["name", "<U3"]]


def test_structured(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    dtype = np.dtype([tuple(f) for f in STRUCTURED])
    data = np.zeros(7, dtype=dtype)
    data["label"] = np.arange(7) + 1
    data["area"] = [0.5, -0.0, np.nan, 1e300, 2, 3, 4]
    data["flag"] = [True, False] * 3 + [True]
    data["code"] = [b"ab", b"", b"c", b"de", b"f", b"g", b"h"]
    data["name"] = ["é", "ab", "", "xyz", "q", "r", "s"]
    fill = np.zeros((), dtype=dtype)
    fill["label"] = 7
    fill_json = base64.b64encode(fill.tobytes()).decode()
    write_v2(src / "r", data, (3,), dtype=STRUCTURED, fill_value=fill_json, missing={(1,)})
    plan = convert(src, out, ["r"], layout=Layout((3,), (6,)))
    assert plan.arrays[-1].layout == Layout((3,), None)  # zarr-python 3 reads them only unsharded
    meta = zarr_json(out / "r")
    assert len(meta["codecs"]) == 2 and meta["codecs"][1]["name"] == "blosc"
    assert meta["data_type"] == {"name": "structured", "configuration": {"fields": [
        ["label", "uint32"], ["area", "float64"], ["flag", "bool"],
        ["code", {"name": "null_terminated_bytes", "configuration": {"length_bytes": 2}}],
        ["name", {"name": "fixed_length_utf32", "configuration": {"length_bytes": 12}}]]}}
    assert meta["fill_value"] == fill_json and inner(meta)[0] == {"name": "bytes"}
    got = read_zarr(out / "r")
    expected = with_fill(data, (3,), {(1,)}, fill)
    assert got.dtype == dtype and got.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        ([["a", ">u2"]], "big-endian"),
        ([["a", "<u2", [2]]], "sub-array"),
        ([["a", [["b", "<u2"]]]], "nested structured"),
        ([["a", "|O"]], "Python objects"),
        ([["a", "<M8[ns]"]], "no Zarr v3 equivalent"),
    ],
)
def test_structured_types_zarr_python_cannot_read_are_refused(tmp_path, dtype, words):
    (tmp_path / "r").mkdir()
    (tmp_path / "r/.zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [2], "chunks": [2], "dtype": dtype, "fill_value": None, "order": "C",
        "compressor": None, "filters": None}))
    with pytest.raises(InputError, match=words) as caught:
        array_job(LocalStore(tmp_path), "r", DEFAULT_COMPRESSION)
    line = str(caught.value)
    assert line.startswith(f"{tmp_path / 'r' / '.zarray'}: ") and "\n" not in line


def test_big_endian_structured_is_refused_by_zarr_python_too(tmp_path):
    """The reason for the refusal above: zarr-python 3 writes a big-endian field
    as a plain "uint16" and reads its bytes back little-endian."""
    path = tmp_path / "be.zarr"
    data = np.array([(1,), (258,)], dtype=[("a", ">u2")])
    a = zarr.create_array(str(path), shape=(2,), dtype=data.dtype, zarr_format=3, fill_value=0)
    a[...] = data
    assert zarr_json(path)["data_type"]["configuration"]["fields"] == [["a", "uint16"]]
    assert zarr.open_array(str(path), mode="r")[...]["a"].tolist() != [1, 258]


# ---------------------------------------------------------------------------
# refused types and codecs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"filters": [{"id": "pickle"}]}, "unsupported codec 'pickle'"),
        ({"filters": [{"id": "json2"}]}, "unsupported codec 'json2'"),
        ({"filters": [{"id": "msgpack2"}]}, "unsupported codec 'msgpack2'"),
        ({"filters": [{"id": "vlen-array", "dtype": "<i4"}]}, "unsupported codec 'vlen-array'"),
        ({"filters": None}, "must be vlen-utf8 or vlen-bytes"),
        ({"filters": [{"id": "zlib", "level": 1}, {"id": "vlen-utf8"}]}, "must be vlen-utf8 or vlen-bytes"),
        ({"filters": [{"id": "vlen-utf8"}], "dtype": "<u2"}, "encodes object"),
        ({"dtype": "<M8[ns]", "filters": None}, "unsupported dtype"),
        ({"dtype": "|S0", "filters": None}, "length 0"),
        ({"fill_value": 5}, "not valid for string data"),
        ({"dtype": "<U2", "filters": None, "fill_value": "abc"}, "longer than 2 characters"),
        ({"dtype": "|S2", "filters": None, "fill_value": "not base64!"}, "expected base64"),
    ],
)
def test_refused_object_codecs_and_types(tmp_path, change, words):
    meta = {"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "|O", "fill_value": "", "order": "C",
            "compressor": None, "filters": [{"id": "vlen-utf8"}], **change}
    (tmp_path / "x").mkdir()
    (tmp_path / "x/.zarray").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=words) as caught:
        array_job(LocalStore(tmp_path), "x", DEFAULT_COMPRESSION)
    line = str(caught.value)
    assert line.startswith(f"{tmp_path / 'x' / '.zarray'}: ") and "\n" not in line


def test_string_image_is_still_refused(tmp_path):
    """A multiscales dataset of strings is no image: refused, naming it."""
    src = tmp_path / "in.zarr"
    image(src)
    shutil.rmtree(src / "0")
    write_v2(src / "0", strings((20, 30)), (10, 16), dtype="|O", fill_value="", object_codec=VLenUTF8())
    with pytest.raises(UserError, match="images hold numbers") as caught:
        build_plan(LocalStore(src), LayoutRequest(), DEFAULT_COMPRESSION, creator={})
    assert str(caught.value).startswith(f"{src / '0'}: ")


# ---------------------------------------------------------------------------
# corrupt chunks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda raw: raw[:-3], "data seem truncated"),
        (lambda raw: raw + b"xyz", "3 bytes after"),
        (lambda raw: (99).to_bytes(4, "little") + raw[4:], "holds 99 items, expected 4"),
        (lambda raw: raw[:2], "shorter than a vlen-utf8 item count"),
        (lambda raw: raw[:8] + b"\xff" + raw[9:], "UnicodeDecodeError"),
    ],
    ids=["truncated", "trailing", "count", "short", "not-utf8"],
)
def test_corrupt_string_chunk_is_an_error(tmp_path, damage, words):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = np.array(["abc", "de", "", "fgh", "i", "j"], dtype=object)
    write_v2(src / "s", data, (4,), dtype="|O", fill_value="", compressor=None, object_codec=VLenUTF8())
    chunk = src / "s/0"
    chunk.write_bytes(damage(chunk.read_bytes()))
    with pytest.raises(CorruptChunkError, match=words) as caught:
        convert(src, out, ["s"])
    assert str(caught.value).startswith(f"{src / 's'}: chunk 0 is corrupt or truncated")
    assert not (out / "zarr.json").exists()


def test_corrupt_compressed_string_chunk_is_an_error(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    write_v2(src / "s", strings((8,)), (8,), dtype="|O", fill_value="", object_codec=VLenUTF8())
    chunk = src / "s/0"
    chunk.write_bytes(chunk.read_bytes()[:-5])
    with pytest.raises(CorruptChunkError, match="chunk 0 is corrupt"):
        convert(src, out, ["s"], compression=KEEP)  # never copied either


# ---------------------------------------------------------------------------
# resume and byte copy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", [Layout((3,), (6,)), Layout((3,), None)], ids=["sharded", "unsharded"])
def test_resume_skips_complete_string_shards(tmp_path, layout):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = np.array([f"{TEXT[i % len(TEXT)]}-{i}" for i in range(17)], dtype=object)  # no chunk is all fill
    write_v2(src / "s", data, (3,), dtype="|O", fill_value="", object_codec=VLenUTF8())
    plan = convert(src, out, ["s"], layout=layout)
    job = plan.arrays[-1]
    folder = out / "s" / "c"
    before = {p: p.read_bytes() for p in folder.iterdir()}
    assert len(before) == job.n_tasks

    stats = ThreadExecutor(2).run_tasks(plan, LocalStore(out), plan.tasks(), resume=True)
    assert stats[-1].tasks == stats[-1].tasks_skipped == job.n_tasks
    assert {p: p.read_bytes() for p in folder.iterdir()} == before

    # a damaged object (truncated: its index, or its vlen items, no longer fit) and a lost
    # one are written again; the others are kept
    damaged, lost = folder / "1", folder / "2"
    damaged.write_bytes(before[damaged][:-7])
    lost.unlink()
    stats = ThreadExecutor(2).run_tasks(plan, LocalStore(out), plan.tasks(), resume=True)
    assert stats[-1].tasks_skipped == job.n_tasks - 2
    assert {p: p.read_bytes() for p in folder.iterdir()} == before
    assert read_zarr(out / "s").tolist() == data.tolist()


def test_byte_copy_of_string_chunks(tmp_path):
    """ngio's string columns (vlen-utf8 filter, Blosc lz4) are copied as they
    are: the v3 codecs [vlen-utf8, blosc] describe the very same bytes."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = strings((10,), seed=6)
    data[8:] = ""
    write_v2(src / "s", data, (4,), dtype="|O", fill_value="", object_codec=VLenUTF8(), pad="")
    plan = convert(src, out, ["s"], compression=KEEP)
    job = plan.arrays[-1]
    assert job.byte_copy and job.layout.chunks == (4,)
    meta = zarr_json(out / "s")
    codecs = inner(meta)
    assert codecs[0] == {"name": "vlen-utf8", "configuration": {}}
    assert codecs[1] == {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle",
                                                            "typesize": 1, "blocksize": 0}}
    shard = (out / "s/c/0").read_bytes()
    index = np.frombuffer(shard[-(16 * 3 + 4):-4], dtype="<u8").reshape(3, 2)
    for n in range(2):
        offset, size = index[n]
        assert shard[offset:offset + size] == (src / "s" / str(n)).read_bytes()
    assert index[2, 0] == 2**64 - 1  # the all-"" chunk is not stored
    assert read_zarr(out / "s").tolist() == data.tolist()


def test_byte_copy_of_other_types(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    u = np.array(["ab", "é", "", "日本"] * 2, dtype=">U2")
    b = np.empty(8, dtype=object)
    b[:] = BLOBS + [b"x", b"y"]
    s = np.array([b"abc", b"", b"d"] * 2, dtype="|S3")
    write_v2(src / "u", u, (4,), dtype=">U2", fill_value="", compressor=Zstd(level=1))
    write_v2(src / "b", b, (4,), dtype="|O", fill_value=None, object_codec=VLenBytes())
    write_v2(src / "s", s, (4,), dtype="|S3", fill_value=None, compressor=None)
    plan = convert(src, out, ["u", "b", "s"], compression=KEEP)
    assert all(job.byte_copy for job in plan.arrays)
    assert read_zarr(out / "u").tolist() == u.tolist()
    assert same(read_zarr(out / "b"), b)
    assert read_zarr(out / "s").tolist() == s.tolist()
    assert inner(zarr_json(out / "u"))[:2] == [{"name": "bytes", "configuration": {"endian": "big"}},
                                               {"name": "zstd", "configuration": {"level": 1, "checksum": False}}]


# ---------------------------------------------------------------------------
# validate: the v3 reader and --against
# ---------------------------------------------------------------------------


def test_validate_reads_and_compares_string_arrays(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    data = strings((9, 5), seed=7)
    write_v2(src / "s", data, (4, 2), dtype="|O", fill_value="", object_codec=VLenUTF8(), missing={(0, 1)})
    b = np.empty(5, dtype=object)
    b[:] = BLOBS[:5]
    write_v2(src / "b", b, (2,), dtype="|O", fill_value=None, object_codec=VLenBytes(), missing={(1,)})
    u = np.array(["a", "é", "", "xyz", "q"], dtype="<U3")
    write_v2(src / "u", u, (2,), dtype="<U3", fill_value="", compressor=None)
    convert(src, out, ["s", "b", "u"], layout=None)
    source, store = LocalStore(src), LocalStore(out)
    for path in ("s", "b", "u"):
        errors: list[str] = []
        arr = parse_array_meta(zarr_json(out / path), errors)
        assert errors == [] and arr is not None, errors
        report = Report(store)
        assert compare_array(path, arr, SourceArray(source, path), store, report), report.errors
        assert not report.errors

    # one string changed through zarr-python is found, with its value
    a = zarr.open_array(str(out / "s"), mode="r+")
    a[6, 3] = "changed"
    errors = []
    arr = parse_array_meta(zarr_json(out / "s"), errors)
    report = Report(store)
    assert not compare_array("s", arr, SourceArray(source, "s"), store, report)
    messages = [e["message"] for e in report.errors]
    assert len(messages) == 1 and "voxel [6, 3] differs from the source: output 'changed'" in messages[0], messages


def test_validate_reports_an_image_of_strings(tmp_path):
    """validate reads string arrays as valid Zarr v3, but an image of strings
    is no OME-Zarr image."""
    from ome2024_ngff_challenge import api

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image(src)
    convert(src, out, [])
    assert [e["path"] for e in api.validate(out).errors] == ["ro-crate-metadata.json"]  # none about "0"
    shutil.rmtree(out / "0")
    a = zarr.create_array(str(out / "0"), shape=(20, 30), dtype=str, chunks=(10, 16), zarr_format=3,
                          dimension_names=["y", "x"])
    a[...] = strings((20, 30)).astype(str)
    errors = [e for e in api.validate(out).errors if e["path"] == "0"]
    assert [e["message"] for e in errors] == ["image data type is string; images hold numbers (or bool)"]


@pytest.mark.parametrize(
    ("dtype", "values", "options"),
    [
        (str, TEXT, {"shards": (6,)}),
        (str, TEXT, {"compressors": [zarr.codecs.BloscCodec(cname="zstd")]}),
        (bytes, BLOBS, {"shards": (6,)}),
        ("S3", [b"", b"a", b"abc", b"\xff"], {}),
        ("<U2", ["", "é", "ab"], {"shards": (6,)}),
        (np.dtype([("a", "<u2"), ("b", "S2")]), [(1, b"x"), (2, b"")], {}),
    ],
    ids=["string", "string-blosc", "bytes", "S3", "U2", "structured"],
)
def test_v3_reader_reads_what_zarr_python_writes(tmp_path, dtype, values, options):
    path = tmp_path / "a.zarr"
    n = 11
    if dtype is bytes:
        data = np.empty(n, dtype=object)
        data[:] = [values[i % len(values)] for i in range(n)]
        create = {"dtype": zarr.core.dtype.VariableLengthBytes()}
    else:
        data = np.array([values[i % len(values)] for i in range(n)], dtype=dtype)
        create = {"dtype": dtype}
    a = zarr.create_array(str(path), shape=(n,), chunks=(3,), zarr_format=3, **create, **options)
    a[...] = data
    errors: list[str] = []
    arr = parse_array_meta(zarr_json(path), errors)
    assert errors == [] and arr is not None, errors
    got = np.empty(n, dtype=object if arr.dtype.kind == "O" else arr.dtype)
    for region, block in arr.blocks(LocalStore(path), ""):
        got[region] = arr.fill if block is None else block
    assert got.tolist() == np.asarray(zarr.open_array(str(path), mode="r")[...]).tolist()
    if dtype in (str, bytes):
        assert same(got, data)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"codecs": [{"name": "bytes"}]}, "does not encode string data"),
        ({"fill_value": 0}, "fill_value 0 is not valid for data type string"),
        ({"codecs": [{"name": "vlen-bytes", "configuration": {}}]}, "does not encode string data"),
        ({"codecs": [{"name": "vlen-utf8", "configuration": {"x": 1}}]}, "takes no configuration"),
    ],
)
def test_v3_reader_reports_wrong_string_metadata(change, words):
    meta = {"zarr_format": 3, "node_type": "array", "shape": [4], "data_type": "string",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": "", "codecs": [{"name": "vlen-utf8", "configuration": {}}], "attributes": {}, **change}
    errors: list[str] = []
    assert parse_array_meta(meta, errors) is None
    assert any(words in e for e in errors), errors


# ---------------------------------------------------------------------------
# real tables: ngio's AnnData tables read back equal by anndata
# ---------------------------------------------------------------------------


def convert_tree(src: Path, out: Path) -> None:
    """The image, and every other array and group below the root as they are
    (what the hierarchy walk being written elsewhere will add)."""
    store = LocalStore(src)
    plan = build_plan(store, LayoutRequest(), DEFAULT_COMPRESSION, creator={})
    planned = {a.path for a in plan.arrays} | {g.path for g in plan.groups}
    for folder, _, files in sorted(os.walk(src)):
        path = os.path.relpath(folder, src).replace(os.sep, "/")
        if path == "." or path in planned or not path.startswith("tables"):
            continue
        attrs = json.loads((Path(folder) / ".zattrs").read_text()) if ".zattrs" in files else {}
        if ".zarray" in files:
            plan.arrays.append(array_job(store, path, DEFAULT_COMPRESSION))
        elif ".zgroup" in files:
            plan.groups.append(GroupJob(path, attrs))
    ThreadExecutor(2).execute(Conversion(plan, store, LocalStore(out), OutputSettings(progress=False)))


@pytest.mark.parametrize("writer", [rw.write_ngio_like, rw.write_ngio_02_like], ids=["ngio", "ngio_02"])
def test_ngio_tables_convert(tmp_path, writer):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    arrays = writer(src)
    convert_tree(src, out)
    for path, want in arrays.items():
        if not path.startswith("tables"):
            continue
        meta = zarr_json(out / path)
        got = read_zarr(out / path)
        if want.dtype == object:
            assert meta["data_type"] == "string" and meta["fill_value"] == "", path
            assert got.tolist() == want.tolist(), path
        else:
            assert got.dtype == want.dtype and np.array_equal(got, want), path
        source_attrs = json.loads((src / path / ".zattrs").read_text()) if (src / path / ".zattrs").exists() else {}
        assert {k: v for k, v in meta["attributes"].items() if not k.startswith("_ome2024")} == source_attrs

    ad = pytest.importorskip("anndata")
    for name in ("nuclei_features", "FOV_ROI_table", "nuclei_ROI_table"):
        before, after = ad.read_zarr(src / "tables" / name), ad.read_zarr(out / "tables" / name)
        assert before.obs.equals(after.obs) and before.var.equals(after.var), name
        assert np.array_equal(before.X, after.X), name
        assert list(after.obs.index) == list(before.obs.index) and all(isinstance(v, str) for v in after.obs.index)
