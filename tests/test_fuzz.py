"""Property-based fuzzing of what reads hostile bytes: the Zarr v2 and v3
metadata readers, the OME readers (planner and validate walk), and the chunk
decoders of every codec we read. Every input either parses (decodes) or
raises the project's error for it: a UserError (one line on the command
line) for the input's metadata and chunks, a DecodeError from the Zarr v3
reader (which ``validate`` reports as one line); never another exception.

Kept fast and reproducible for CI: few examples per property, no deadline,
derandomized (the same examples every run).
"""

from __future__ import annotations

import copy
import json
import math

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ome2024_ngff_challenge import api
from ome2024_ngff_challenge.errors import InputError, UserError
from ome2024_ngff_challenge.stores.memory import MemoryStore
from ome2024_ngff_challenge.testing import samples
from ome2024_ngff_challenge.validation.walk import Validator
from ome2024_ngff_challenge.zarr.codecs import Compression, DecodeError
from ome2024_ngff_challenge.zarr.sharding import EMPTY, encode_shard_index
from ome2024_ngff_challenge.zarr.v2 import SourceArray, V2ArrayMeta
from ome2024_ngff_challenge.zarr.v3_metadata import array_metadata
from ome2024_ngff_challenge.zarr.v3_read import parse_array_meta

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DECODE_LIMIT = 1 << 20  # parsed arrays whose chunks decode to more are not fed bytes

HUGE = st.sampled_from([2**70, 2**64, 2**63, 2**63 - 1, 2**31, -1, -(2**63), 0, 10**100, 1])
NUMBERS = st.one_of(st.integers(), HUGE, st.floats(allow_nan=True, allow_infinity=True))
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=12),
                   st.sampled_from(["NaN", "Infinity", "-Infinity", "", "0x7fc00000", "|u1", "<f8", "blosc",
                                    "x" * 100_000, "\u0000\ud7ff\U0010ffff", "../../etc/passwd"]))
JSON = st.recursive(LEAVES, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids,
                                                                                        max_size=4), max_leaves=10)
DIMS = st.one_of(st.lists(st.one_of(st.integers(1, 70), HUGE), min_size=2, max_size=2),  # of the right length
                 st.lists(st.one_of(st.integers(-2, 70), HUGE, LEAVES), min_size=0, max_size=4), JSON)
DTYPES = st.sampled_from(["<u2", "|u1", ">i4", "<f8", "<c16", "|b1", "|O", "<M8[ns]", "<f16", "|S0", "|S3", "<U2",
                          "|V4", "garbage", "", "<u3", [["a", "<u2"], ["b", "<f4"]], [["a", "<u2", [2]]],
                          [["a", [["b", "<u1"]]]], [], [["a"]]]) | JSON


def _codec_configs() -> st.SearchStrategy:
    blosc = st.fixed_dictionaries({"id": st.just("blosc")}, optional={
        "cname": st.sampled_from(["lz4", "zstd", "zlib", "blosclz", "lz4hc", "snappy", "nope", 3]),
        "clevel": st.one_of(st.integers(-3, 12), HUGE, LEAVES),
        "shuffle": st.one_of(st.integers(-2, 3), HUGE, LEAVES),
        "blocksize": st.one_of(st.integers(-1, 1 << 20), HUGE, LEAVES),
        "typesize": st.one_of(st.integers(-1, 300), HUGE, LEAVES)})
    levelled = st.fixed_dictionaries({"id": st.sampled_from(["zstd", "gzip", "zlib", "bz2", "lz4"])},
                                     optional={"level": st.one_of(st.integers(-10, 30), HUGE, LEAVES),
                                               "acceleration": st.one_of(st.integers(-5, 100), HUGE),
                                               "checksum": st.one_of(st.booleans(), LEAVES)})
    other = st.fixed_dictionaries({"id": st.sampled_from(
        ["lzma", "delta", "astype", "fixedscaleoffset", "quantize", "categorize", "packbits", "shuffle", "bitround",
         "pickle", "json2", "msgpack2", "vlen-array", "vlen-utf8", "vlen-bytes", "crc32", "adler32", "nope", ""])},
        optional={"dtype": DTYPES, "astype": DTYPES, "encode_dtype": DTYPES, "decode_dtype": DTYPES,
                  "scale": NUMBERS, "offset": NUMBERS, "digits": NUMBERS, "labels": JSON, "keepbits": NUMBERS,
                  "elementsize": NUMBERS, "format": NUMBERS, "preset": NUMBERS})
    return st.one_of(blosc, levelled, other, st.none(), LEAVES)


CODECS = _codec_configs()
V2_FIELDS = {
    "zarr_format": st.one_of(st.just(2), LEAVES),
    "shape": DIMS, "chunks": DIMS, "dtype": DTYPES,
    "order": st.sampled_from(["C", "F", "A", "", None, 1]),
    "compressor": CODECS,
    "filters": st.one_of(st.none(), st.lists(CODECS, max_size=3), LEAVES),
    "fill_value": st.one_of(LEAVES, JSON),
    "dimension_separator": st.sampled_from([".", "/", "-", "", None, 0]),
}
V2_BASE = {"zarr_format": 2, "shape": [8, 6], "chunks": [4, 4], "dtype": "<u2", "order": "C",
           "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
           "filters": None, "fill_value": 0, "dimension_separator": "/"}


def _chunk_bytes() -> st.SearchStrategy:
    return st.one_of(st.binary(max_size=300), st.binary(min_size=16, max_size=16).map(lambda b: b * 8),
                     st.sampled_from([b"", b"\0" * 64, bytes(range(256)), b"\x02\x01\x21\x02" + b"\xff" * 12]))


@settings(FUZZ, max_examples=100)
@given(overrides=st.dictionaries(st.sampled_from(list(V2_FIELDS)), st.none(), max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({k: V2_FIELDS[k] for k in keys})),
    dropped=st.sets(st.sampled_from(list(V2_FIELDS)), max_size=2), chunks=st.lists(_chunk_bytes(), max_size=3))
def test_v2_array_metadata_and_chunks(overrides, dropped, chunks):
    meta = {k: v for k, v in {**V2_BASE, **overrides}.items() if k not in dropped}
    store = MemoryStore()
    store.put("a/.zarray", json.dumps(meta).encode())
    try:
        source = SourceArray(store, "a")
    except InputError:
        return
    # as the one level of an image: planned, converted and written, or refused in one line
    image = MemoryStore()
    for key in (".zattrs", ".zgroup", "0/0/0"):
        image.put(key, ONE_LEVEL.get(key))
    image.put("0/.zarray", json.dumps(meta).encode())
    try:
        api.resave(image, MemoryStore(), license="cc0")
    except UserError:
        pass
    if source.meta.chunk_nbytes > DECODE_LIMIT:
        return
    index = (0,) * len(source.meta.shape)
    for raw in chunks:
        try:
            chunk = source.decode_chunk(raw, index)
        except InputError:
            continue
        assert chunk.shape == source.meta.chunks


@FUZZ
@given(doc=JSON)
def test_v2_array_metadata_of_any_json(doc):
    try:
        V2ArrayMeta.from_json(doc, "a/.zarray")
    except InputError:
        pass


# every compressor and filter we read, with data they encode
DATA = (np.arange(16 * 16, dtype="<u2").reshape(16, 16) * 7 % 1000).astype("<u2")
READ_CODECS = {
    "blosc-lz4": (numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE), []),
    "blosc-zstd": (numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE), []),
    "blosc-zlib": (numcodecs.Blosc("zlib", 1, numcodecs.Blosc.NOSHUFFLE), []),
    "blosc-memcpy": (numcodecs.Blosc("lz4", 0), []),
    "zstd": (numcodecs.Zstd(3), []),
    "zstd-checksum": (numcodecs.Zstd(3, checksum=True), []),
    "gzip": (numcodecs.GZip(5), []),
    "zlib": (numcodecs.Zlib(5), []),
    "lz4": (numcodecs.LZ4(), []),
    "bz2": (numcodecs.BZ2(5), []),
    "lzma": (numcodecs.LZMA(), []),
    "blosc+delta": (numcodecs.Blosc("zstd", 5), [numcodecs.Delta("<u2")]),
    "zlib+shuffle": (numcodecs.Zlib(1), [numcodecs.Shuffle(2)]),
    "gzip+astype": (numcodecs.GZip(1), [numcodecs.AsType("<u4", "<u2")]),
    "none": (None, []),
}


def _source(name: str) -> tuple[SourceArray, bytes]:
    compressor, filters = READ_CODECS[name]
    store = MemoryStore()
    meta = {**V2_BASE, "shape": list(DATA.shape), "chunks": list(DATA.shape),
            "compressor": None if compressor is None else compressor.get_config(),
            "filters": [f.get_config() for f in filters] or None}
    store.put("a/.zarray", json.dumps(meta).encode())
    data = DATA.tobytes()
    for f in filters:
        data = bytes(memoryview(f.encode(np.frombuffer(data, "<u2"))).cast("B"))
    raw = data if compressor is None else bytes(compressor.encode(data))
    return SourceArray(store, "a"), raw


@pytest.mark.parametrize("name", list(READ_CODECS))
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_corrupt_chunks_of_every_codec(name, data):
    source, raw = _source(name)
    assert np.array_equal(source.decode_chunk(raw, (0, 0)), DATA)
    how = data.draw(st.sampled_from(["truncate", "flip", "append", "splice", "header"]))
    if how == "truncate":
        bad = raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)))]
    elif how == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        bad = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
    elif how == "append":
        bad = raw + data.draw(st.binary(min_size=1, max_size=64))
    elif how == "splice":
        at = data.draw(st.integers(0, len(raw)))
        bad = raw[:at] + data.draw(st.binary(max_size=32)) + raw[at + data.draw(st.integers(0, 32)):]
    else:  # the first bytes (where headers claim sizes) replaced
        head = data.draw(st.binary(min_size=1, max_size=16))
        bad = head + raw[len(head):]
    try:
        chunk = source.decode_chunk(bad, (0, 0))
    except InputError as e:
        assert "a/" not in str(e) or "chunk 0/0" in str(e)
        return
    assert chunk.shape == DATA.shape and chunk.dtype == DATA.dtype


# -- Zarr v3 ------------------------------------------------------------------

def _v3_base(shards: bool) -> dict:
    comp = Compression("blosc", 5, "zstd", "shuffle")
    return array_metadata(shape=(8, 6), dtype=np.dtype("<u2"), fill=np.array(0, "<u2"), chunks=(4, 2),
                          shards=(8, 6) if shards else None, compression=comp, dimension_names=["y", "x"],
                          attributes={}, where="a")


V3_CODEC = st.fixed_dictionaries({"name": st.sampled_from(
    ["bytes", "blosc", "gzip", "zstd", "crc32c", "transpose", "sharding_indexed", "vlen-utf8", "nope", ""])},
    optional={"configuration": st.one_of(st.fixed_dictionaries({}, optional={
        "endian": st.sampled_from(["little", "big", "middle", None]),
        "cname": st.sampled_from(["lz4", "zstd", "nope"]), "clevel": st.one_of(st.integers(-2, 12), HUGE),
        "shuffle": st.sampled_from(["shuffle", "noshuffle", "bitshuffle", "nope", 1]),
        "typesize": st.one_of(st.integers(-1, 300), HUGE, LEAVES), "blocksize": st.one_of(HUGE, LEAVES),
        "level": st.one_of(st.integers(-10, 30), HUGE, LEAVES), "checksum": LEAVES,
        "order": st.one_of(st.permutations([0, 1]), DIMS),
        "chunk_shape": DIMS, "index_location": st.sampled_from(["start", "end", "middle"]),
        "codecs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["bytes", "zstd", "crc32c", "x"])}),
                           max_size=3),
        "index_codecs": st.lists(st.fixed_dictionaries({"name": st.sampled_from(["bytes", "crc32c", "gzip"])}),
                                 max_size=3)}), LEAVES)})
V3_FIELDS = {
    "zarr_format": st.one_of(st.just(3), LEAVES), "node_type": st.sampled_from(["array", "group", 3]),
    "shape": DIMS, "data_type": st.one_of(st.sampled_from(
        ["uint16", "int8", "float64", "complex128", "bool", "string", "variable_length_bytes", "r16", "r0",
         "float16", "datetime64", "nope"]), JSON),
    "chunk_grid": st.one_of(st.fixed_dictionaries({"name": st.sampled_from(["regular", "irregular"]),
                                                   "configuration": st.fixed_dictionaries({"chunk_shape": DIMS})}),
                            JSON),
    "chunk_key_encoding": st.one_of(st.fixed_dictionaries({"name": st.sampled_from(["default", "v2", "x"]),
                                                           "configuration": st.fixed_dictionaries(
                                                               {"separator": st.sampled_from(["/", ".", "-"])})}),
                                    JSON),
    "fill_value": st.one_of(LEAVES, JSON), "codecs": st.one_of(st.lists(V3_CODEC, max_size=4), JSON),
    "dimension_names": st.one_of(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=3), JSON),
    "storage_transformers": JSON, "attributes": JSON,
}


def _shard_with(index: list[tuple[int, int]], body: bytes) -> bytes:
    table = np.array(index, dtype="<u8").reshape(-1, 2)
    return body + encode_shard_index(table)


@FUZZ
@given(shards=st.booleans(), overrides=st.dictionaries(st.sampled_from(list(V3_FIELDS)), st.none(), max_size=3)
       .flatmap(lambda keys: st.fixed_dictionaries({k: V3_FIELDS[k] for k in keys})),
       objects=st.lists(_chunk_bytes(), max_size=2))
def test_v3_array_metadata_and_objects(shards, overrides, objects):
    meta = {**_v3_base(shards), **overrides}
    errors: list[str] = []
    arr = parse_array_meta(meta, errors)
    assert (arr is None) == bool(errors) or arr is None
    if arr is None or arr.object_nbytes > DECODE_LIMIT or math.prod(arr.grid_counts) > 64:
        return
    store = MemoryStore()
    index = (0,) * len(arr.shape)
    for raw in objects:
        store.put("a/" + arr.key(index), raw)
        try:
            for _region, block in arr.blocks_at(store, "a", index):
                assert block is None or block.dtype == arr.dtype
        except DecodeError:
            pass


@FUZZ
@given(entries=st.lists(st.tuples(st.one_of(st.integers(0, 200), st.just(EMPTY), HUGE.filter(lambda v: 0 <= v < 2**64)),
                                  st.one_of(st.integers(0, 200), st.just(EMPTY), HUGE.filter(lambda v: 0 <= v < 2**64))),
                        min_size=6, max_size=6), body=st.binary(max_size=200), checksum_ok=st.booleans())
def test_v3_shard_indices_pointing_anywhere(entries, body, checksum_ok):
    """A shard of 3 x 2 inner chunks whose index says anything: outside the
    shard, over the index, huge, overlapping; or whose checksum is wrong."""
    arr = parse_array_meta(_v3_base(True), [])
    raw = _shard_with(entries, body)
    if not checksum_ok:
        raw = raw[:-1] + bytes([raw[-1] ^ 1])
    store = MemoryStore()
    store.put("a/c/0/0", raw)
    try:
        list(arr.blocks_at(store, "a", (0, 0)))
    except DecodeError:
        pass


# -- OME metadata: the planner (0.4 input) and the validate walk (0.5) ----------------

def _mutated(data, doc):
    """``doc`` with one value somewhere inside (most often deep) replaced by
    hostile JSON, removed, or given a hostile sibling."""
    doc = copy.deepcopy(doc)
    parent, key = None, None
    node = doc
    while isinstance(node, (dict, list)) and node and data.draw(st.integers(0, 5)) > 0:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        parent, node = node, node[key]
    replacement = data.draw(st.one_of(JSON, st.just("__drop__"), st.just(float("nan")), HUGE,
                                      st.just([[[[[[[[[[[[]]]]]]]]]]]])))
    if parent is None:
        return replacement
    if isinstance(parent, dict) and data.draw(st.integers(0, 3)) == 0:
        parent[data.draw(st.text(max_size=4))] = replacement
    elif replacement == "__drop__":
        del parent[key]
    else:
        parent[key] = replacement
    return doc


def _v2_image(levels: int = 2) -> MemoryStore:
    store = MemoryStore()
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        samples.write_image(Path(tmp) / "in.zarr", np.arange(64, dtype="<u2").reshape(8, 8), "yx", levels=levels,
                            chunks=(4, 4))
        for path in sorted((Path(tmp) / "in.zarr").rglob("*")):
            if path.is_file():
                store.put(path.relative_to(Path(tmp) / "in.zarr").as_posix(), path.read_bytes())
    return store


V2_IMAGE = _v2_image()
ONE_LEVEL = _v2_image(1)


@settings(FUZZ, max_examples=150)
@given(data=st.data(), target=st.sampled_from([".zattrs", ".zgroup", "0/.zarray", "1/.zarray", "0/.zattrs"]))
def test_resave_of_hostile_04_metadata(data, target):
    store = MemoryStore()
    for key in ("0/.zarray", "1/.zarray", ".zattrs", ".zgroup"):
        store.put(key, V2_IMAGE.get(key))
    doc = json.loads(V2_IMAGE.get(target) or b"{}")
    store.put(target, json.dumps(_mutated(data, doc)).encode())
    try:  # planned, checked and written (the attributes too): or refused in one line
        api.resave(store, MemoryStore(), license="cc0")
    except UserError:
        pass


def _v3_image() -> dict[str, bytes]:
    out = MemoryStore()
    api.resave(V2_IMAGE, out, license="cc0")
    return {key: out.get(key) for key, _ in out.sizes() if key.endswith(".json")}


@settings(FUZZ, max_examples=150)
@given(data=st.data(), target=st.sampled_from(["zarr.json", "0/zarr.json", "1/zarr.json",
                                               "ro-crate-metadata.json"]))
def test_validate_walk_on_hostile_05_metadata(data, target):
    files = V3_IMAGE
    store = MemoryStore()
    for key, raw in files.items():
        store.put(key, raw)
    doc = json.loads(files[target])
    store.put(target, json.dumps(_mutated(data, doc)).encode())
    report = Validator(store).run()
    assert report is not None


@pytest.fixture(scope="module", autouse=True)
def _v3_files():
    global V3_IMAGE
    V3_IMAGE = _v3_image()
