"""Zarr v3 arrays read from their ``zarr.json`` and their stored objects, without
zarr-python: enough to check an array's metadata against the Zarr v3
specification and to decode every voxel for ``validate --against``.

Only the codecs registered for Zarr v3 are understood (bytes, transpose, blosc,
gzip, zstd, crc32c, sharding_indexed, and vlen-utf8 and vlen-bytes for the
"string" and "variable_length_bytes" data types); an array using any other
codec is reported, not read. The data types are the core ones and those
zarr-python 3 writes for strings, bytes and structured data (``data_types``).

Every codec chain the specification allows with these codecs is read:
transpose codecs before ``sharding_indexed`` reorder the whole shard before it
is cut into inner chunks, bytes-to-bytes codecs after it encode the whole
shard's bytes (index included), and the index codecs may hold transposes and
crc32c checksums. Nested sharding is refused as unsupported.

Reading is streamed: one stored object (a shard or a chunk) is fetched at a time
and a shard is decoded inner chunk by inner chunk, so memory holds one
compressed shard and one decoded inner chunk (and, only when bytes-to-bytes
codecs follow ``sharding_indexed``, the shard's decoded bytes).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..json_values import FLOAT_WORDS, is_int
from ..stores.base import Store, join
from .chunk_keys import chunk_key, grid_indices, stored_indices
from .codecs import V3_BYTES_CODECS, DecodeError, transposed, vlen_decode, vlen_nbytes_limit
from .data_types import (
    CORE_DTYPES,
    OBJECT_CODECS,
    VLEN_DATA_TYPES,
    has_byte_order,
    is_core,
    item_nbytes,
    parse_data_type,
    parse_other_fill,
    size_problem,
)
from .sharding import EMPTY, parse_shard_index, shard_index_size

# Codecs registered for Zarr v3, by kind.
ARRAY_TO_ARRAY = frozenset({"transpose"})
ARRAY_TO_BYTES = frozenset({"bytes", "sharding_indexed", *OBJECT_CODECS})
BYTES_TO_BYTES = frozenset({"blosc", "gzip", "zstd", "crc32c"})
REGISTERED_CODECS = ARRAY_TO_ARRAY | ARRAY_TO_BYTES | BYTES_TO_BYTES

DATA_TYPES: dict[str, np.dtype] = dict(CORE_DTYPES)



def _int_list(value: object, *, positive: bool) -> bool:
    lowest = 1 if positive else 0
    return isinstance(value, list) and all(is_int(v) and v >= lowest for v in value)


@dataclass
class CodecChain:
    """A parsed ``codecs`` list: array->array, then one array->bytes, then bytes->bytes."""

    transposes: list[tuple[int, ...]] = field(default_factory=list)
    endian: str | None = None  # of the bytes codec
    compressors: list[dict] = field(default_factory=list)  # bytes->bytes, in encoding order
    shard: ShardSpec | None = None
    vlen: str | None = None  # the array->bytes codec when it is vlen-utf8 or vlen-bytes

    @property
    def names(self) -> list[str]:
        return ["transpose"] * len(self.transposes) + (
            ["sharding_indexed"] if self.shard else [self.vlen or "bytes"]
        ) + [c["name"] for c in self.compressors]

    def permutation(self, ndim: int) -> tuple[int, ...]:
        """The transposes as one: axis j of the encoded array is axis
        ``permutation[j]`` of the decoded one."""
        return transposed(tuple(range(ndim)), self.transposes)


@dataclass
class ShardSpec:
    chunk_shape: tuple[int, ...]
    inner: CodecChain
    index: CodecChain
    index_at_end: bool


@dataclass
class V3Array:
    """What is needed to read one Zarr v3 array's voxels."""

    shape: tuple[int, ...]
    dtype: np.dtype  # with the byte order of the bytes codec
    fill: np.ndarray  # 0-d, of dtype
    grid: tuple[int, ...]  # the chunk grid's chunk shape (the shard shape when sharded)
    separator: str
    v2_keys: bool
    chain: CodecChain
    dimension_names: list | None
    vlen: str | None = None  # object arrays: "vlen-utf8" (data_type string) or "vlen-bytes"
    data_type: str = ""  # the data_type's name, for messages

    @property
    def inner_chunks(self) -> tuple[int, ...]:
        return self.chain.shard.chunk_shape if self.chain.shard else self.grid

    def key(self, index: tuple[int, ...]) -> str:
        return chunk_key(index, "v2" if self.v2_keys else "default", self.separator)

    @property
    def grid_counts(self) -> tuple[int, ...]:
        """How many stored objects (shards, or chunks) along each dimension."""
        return tuple(math.ceil(s / g) for s, g in zip(self.shape, self.grid))

    def grid_indices(self) -> Iterator[tuple[int, ...]]:
        return grid_indices(self.grid_counts)

    def stored_indices(self, store: Store, path: str, limit: int) -> list[tuple[int, ...]] | None:
        """The grid indices of the stored objects, from listings (see
        ``chunk_keys.stored_indices``); None when they cannot be listed."""
        return stored_indices(store, path, self.grid_counts, self.separator, None if self.v2_keys else "c", limit)

    @property
    def object_nbytes(self) -> int:
        """Uncompressed size of one stored object (a shard, or a chunk); twice
        that for a shard whose whole bytes are compressed (bytes-to-bytes
        codecs after sharding_indexed), which is held decoded while read."""
        nbytes = math.prod(self.grid) * item_nbytes(self.dtype)
        return 2 * nbytes if self.chain.shard and self.chain.compressors else nbytes

    def blocks(self, store: Store, path: str) -> Iterator[tuple[tuple[slice, ...], np.ndarray | None]]:
        """Every inner chunk of the array, in storage order (see blocks_at)."""
        for index in self.grid_indices():
            yield from self.blocks_at(store, path, index)

    def blocks_at(self, store: Store, path: str, index: tuple[int, ...]) -> Iterator[tuple[tuple[slice, ...], np.ndarray | None]]:
        """The inner chunks of the stored object (shard or chunk) at grid
        position ``index``: (region of the array it covers, its values cropped
        to the array, or None when never written: it reads as the fill value).
        One object is fetched; DecodeError on bad data."""
        key = self.key(index)
        raw = store.get(join(path, key))
        origin = tuple(i * g for i, g in zip(index, self.grid))
        if self.chain.shard is None:
            region = self._region(origin, self.grid)
            if raw is None:
                yield region, None
            else:
                chunk = decode_chunk(raw, self.chain, self.grid, self.dtype, key, self.vlen)
                yield region, chunk[tuple(slice(0, r.stop - r.start) for r in region)]
            return
        yield from self._shard_blocks(raw, origin, key)

    def _shard_nbytes_limit(self, per_shard: tuple[int, ...]) -> int:
        """The most a shard's bytes can hold once the codecs after
        sharding_indexed are undone: its index, and each inner chunk encoded
        (twice its decoded size, for codecs that grow incompressible data)."""
        spec = self.chain.shard
        n = math.prod(spec.chunk_shape)
        inner = vlen_nbytes_limit(n) if self.vlen else n * self.dtype.itemsize
        return math.prod(per_shard) * (2 * inner + 1024) + shard_index_size(per_shard, 8)

    def _region(self, origin: tuple[int, ...], size: tuple[int, ...]) -> tuple[slice, ...]:
        return tuple(slice(o, min(o + n, s)) for o, n, s in zip(origin, size, self.shape))

    def _shard_blocks(self, raw: bytes | None, origin: tuple[int, ...], key: str):
        """The transposes before sharding_indexed turn the shard into the array
        the sharding codec cuts into inner chunks (``local`` indexes that
        array's chunk grid); each inner chunk is still a box of the shard, with
        its axes permuted, so it is decoded and turned back on its own."""
        spec, chain = self.chain.shard, self.chain
        inner = spec.chunk_shape
        perm = chain.permutation(len(self.shape))
        back = tuple(int(a) for a in np.argsort(perm)) if chain.transposes else None
        per_shard = tuple(g // c for g, c in zip(transposed(self.grid, chain.transposes), inner))
        if raw is not None and chain.compressors:
            raw = decode_bytes(raw, chain.compressors, key, self._shard_nbytes_limit(per_shard))
        table = None if raw is None else read_shard_index(raw, spec, per_shard, key)
        for local in itertools.product(*(range(n) for n in per_shard)):
            start, size = list(origin), list(self.grid)
            for j, axis in enumerate(perm):
                start[axis] += local[j] * inner[j]
                size[axis] = inner[j]
            if any(a >= s for a, s in zip(start, self.shape)):
                continue  # an inner chunk wholly outside the array
            region = self._region(tuple(start), tuple(size))
            if table is None:
                yield region, None
                continue
            offset, nbytes = (int(v) for v in table[local])
            if offset == EMPTY and nbytes == EMPTY:
                yield region, None
                continue
            where = f"{key} inner chunk {list(local)}"
            chunk = decode_chunk(raw[offset : offset + nbytes], spec.inner, inner, self.dtype, where, self.vlen)
            if back is not None:
                chunk = chunk.transpose(back)
            yield region, chunk[tuple(slice(0, r.stop - r.start) for r in region)]


def read_shard_index(raw: bytes, spec: ShardSpec, per_shard: tuple[int, ...], key: str) -> np.ndarray:
    """The index of a shard (its bytes, after any codecs following
    sharding_indexed are undone) as a uint64 array shaped (*per_shard, 2), checked."""
    checksums = sum(c["name"] == "crc32c" for c in spec.index.compressors)
    size = shard_index_size(per_shard, checksums)
    if len(raw) < size:
        msg = f"{key}: shard of {len(raw)} bytes is shorter than its index ({size} bytes)"
        raise DecodeError(msg)
    index = raw[len(raw) - size :] if spec.index_at_end else raw[:size]
    data_end = len(raw) - size if spec.index_at_end else len(raw)
    return parse_shard_index(index, per_shard, data_end, key, checksum=checksums, endian=spec.index.endian,
                             transposes=spec.index.transposes)


def decode_bytes(raw: bytes, compressors: list[dict], where: str, limit: int) -> bytes:
    """Undo bytes-to-bytes codecs (given in encoding order), never holding
    more than ``limit`` bytes (and 4 per checksum codec); DecodeError naming
    ``where`` when the data does not decode or would grow past that."""
    data: Any = raw
    slack = 4 * len(compressors)  # crc32c adds its checksum
    try:
        for codec in reversed(compressors):
            data = V3_BYTES_CODECS[codec["name"]].decode(bytes(data), codec.get("configuration") or {}, limit + slack)
    except DecodeError as e:
        raise type(e)(f"{where}: {e}") from None  # a TooLarge stays one
    except Exception as e:  # whatever a decompressor throws at bad input
        msg = f"{where}: cannot be decoded ({type(e).__name__}: {e})"
        raise DecodeError(msg) from None
    return data


def decode_chunk(raw: bytes, chain: CodecChain, shape: tuple[int, ...], dtype: np.dtype, where: str,
                 vlen: str | None = None) -> np.ndarray:
    """One stored chunk (of a chain with the bytes codec, or with ``vlen``),
    decoded to an array of ``shape`` (C order)."""
    n = math.prod(shape)
    data = decode_bytes(raw, chain.compressors, where, vlen_nbytes_limit(n) if vlen else n * dtype.itemsize)
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    if vlen is not None:
        try:
            arr = vlen_decode(buf, math.prod(shape), vlen)
        except DecodeError as e:
            raise DecodeError(f"{where}: {e}") from None
        arr = arr.reshape(transposed(shape, chain.transposes))
        if chain.transposes:
            arr = arr.transpose(np.argsort(chain.permutation(len(shape))))
        return arr
    expected = math.prod(shape) * dtype.itemsize
    if buf.nbytes != expected:
        msg = f"{where}: decodes to {buf.nbytes} bytes, expected {expected}"
        raise DecodeError(msg)
    arr = buf.view(dtype).reshape(transposed(shape, chain.transposes))
    if chain.transposes:
        arr = arr.transpose(np.argsort(chain.permutation(len(shape))))
    return arr


# ---------------------------------------------------------------------------
# metadata
# ---------------------------------------------------------------------------


def parse_fill_value(value: object, dtype: np.dtype, vlen: str | None = None) -> np.ndarray | None:
    """The 0-d fill value, or None when ``value`` is not valid for ``dtype``."""
    if not is_core(dtype):
        return parse_other_fill(value, dtype, vlen)
    kind = dtype.kind

    def real(v):
        if isinstance(v, str) and v in FLOAT_WORDS:
            return FLOAT_WORDS[v]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
        return None

    if kind == "b":
        return np.array(value, dtype=dtype) if isinstance(value, bool) else None
    if kind in "iu":
        if not is_int(value):
            return None
        info = np.iinfo(dtype)
        return np.array(value, dtype=dtype) if info.min <= value <= info.max else None
    if kind == "f":
        if isinstance(value, str) and value.startswith("0x"):
            try:
                bits = int(value, 16)
            except ValueError:
                return None
            if bits >= 2 ** (8 * dtype.itemsize):
                return None
            return np.array(bits, dtype=f"u{dtype.itemsize}").view(dtype.newbyteorder("=")).astype(dtype)
        v = real(value)
        return None if v is None else np.array(v, dtype=dtype)
    if kind == "c":
        if not (isinstance(value, list) and len(value) == 2):
            return None
        re, im = real(value[0]), real(value[1])
        return None if re is None or im is None else np.array(complex(re, im), dtype=dtype)
    return None


def parse_codecs(codecs: object, ndim: int, dtype: np.dtype | None, grid: tuple[int, ...] | None,
                 errors: list[str], label: str = "codecs", vlen: str | None = None) -> CodecChain | None:
    """Check a ``codecs`` list (recursively for sharding); append what is wrong
    to ``errors``; the parsed chain when it can be read."""
    if not isinstance(codecs, list) or not codecs:
        errors.append(f"{label} must be a non-empty list")
        return None
    chain = CodecChain()
    stage = 0  # 0: array->array, 1: after array->bytes
    ok = True
    for i, codec in enumerate(codecs):
        where = f"{label}[{i}]"
        if not isinstance(codec, dict) or not isinstance(codec.get("name"), str):
            errors.append(f"{where} must be an object with a 'name'")
            ok = False
            continue
        name = codec["name"]
        config = codec.get("configuration", {})
        if config is None or not isinstance(config, dict):
            errors.append(f"{where} ({name}): 'configuration' must be an object")
            ok = False
            continue
        if name not in REGISTERED_CODECS:
            errors.append(
                f"{where}: codec {name!r} is not a registered Zarr v3 codec "
                f"(readers decode only {', '.join(sorted(REGISTERED_CODECS))})"
            )
            ok = False
            continue
        if name in ARRAY_TO_ARRAY:
            if stage:
                errors.append(f"{where}: {name} (array to array) must come before the bytes codec")
                ok = False
            order = config.get("order")
            if not (isinstance(order, list) and sorted(order) == list(range(ndim)) and all(is_int(o) for o in order)):
                errors.append(f"{where}: transpose 'order' must be a permutation of 0..{ndim - 1}, not {order!r}")
                ok = False
            else:
                chain.transposes.append(tuple(order))
        elif name in ARRAY_TO_BYTES:
            if stage:
                errors.append(f"{where}: a second array-to-bytes codec ({name})")
                ok = False
                continue
            stage = 1
            if name == "sharding_indexed":
                chain.shard = _parse_sharding(config, ndim, dtype, grid, chain.transposes, errors, where, vlen)
                ok = ok and chain.shard is not None
            elif dtype is not None and (name != "bytes" or vlen is not None) and name != vlen:
                wanted = vlen or "bytes"
                errors.append(f"{where}: codec {name!r} does not encode {VLEN_DATA_TYPES.get(vlen, 'this')} "
                              f"data (use {wanted!r})")
                ok = False
            elif name in OBJECT_CODECS:
                if config:
                    errors.append(f"{where}: {name} takes no configuration, not {config!r}")
                    ok = False
                chain.vlen = name
            else:
                endian = config.get("endian")
                if endian not in (None, "little", "big"):
                    errors.append(f"{where}: bytes 'endian' must be \"little\" or \"big\", not {endian!r}")
                    ok = False
                elif endian is None and dtype is not None and has_byte_order(dtype):
                    errors.append(f"{where}: bytes codec needs an 'endian' for {dtype.itemsize}-byte data")
                    ok = False
                chain.endian = endian
        else:  # bytes -> bytes
            if not stage:
                errors.append(f"{where}: {name} (bytes to bytes) must come after the bytes codec")
                ok = False
            problems = V3_BYTES_CODECS[name].check(config)
            errors.extend(f"{where}: {problem}" for problem in problems)
            ok = ok and not problems
            chain.compressors.append({"name": name, "configuration": config})
    if not stage:
        errors.append(f"{label}: no array-to-bytes codec ('{vlen or 'bytes'}' or 'sharding_indexed')")
        return None
    return chain if ok else None


def _parse_sharding(config: dict, ndim: int, dtype, grid, transposes: list[tuple[int, ...]], errors: list[str],
                    where: str, vlen: str | None = None) -> ShardSpec | None:
    """``grid``: the shard shape (None when unknown); ``transposes``: those
    before sharding_indexed, which hand it the shard with its axes permuted."""
    chunk_shape = config.get("chunk_shape")
    if not (_int_list(chunk_shape, positive=True) and len(chunk_shape) == ndim):
        errors.append(f"{where}: sharding 'chunk_shape' must be {ndim} positive integers, not {chunk_shape!r}")
        return None
    chunk_shape = tuple(chunk_shape)
    ok = True
    shard = None if grid is None else transposed(grid, transposes)
    if shard is not None and any(g % c for g, c in zip(shard, chunk_shape)):
        after = f" ({list(shard)} after the transpose codecs before sharding_indexed)" if shard != grid else ""
        errors.append(
            f"shard shape {list(grid)}{after} is not a multiple of the inner chunk shape {list(chunk_shape)}"
        )
        ok = False
    inner = parse_codecs(config.get("codecs"), ndim, dtype, None, errors, f"{where}.codecs", vlen)
    if inner is not None and inner.shard is not None:
        errors.append(f"{where}.codecs: nested sharding (sharding_indexed within sharding_indexed) "
                      "is valid Zarr v3 but not supported by this reader")
        ok = False
    # the index is a uint64 array shaped (*chunks per shard, 2)
    index = parse_codecs(config.get("index_codecs"), ndim + 1, np.dtype("u8"), None, errors, f"{where}.index_codecs")
    if index is not None and (index.shard or any(c["name"] != "crc32c" for c in index.compressors)):
        errors.append(f"{where}: index_codecs may hold only transpose, bytes and crc32c (the index has a fixed size), "
                      f"not {', '.join(index.names)}")
        ok = False
    location = config.get("index_location", "end")
    if location not in ("start", "end"):
        errors.append(f"{where}: 'index_location' must be \"start\" or \"end\", not {location!r}")
        ok = False
    if not ok or inner is None or index is None:
        return None
    return ShardSpec(chunk_shape, inner, index, location == "end")


def parse_array_meta(meta: dict, errors: list[str]) -> V3Array | None:
    """Check an array's zarr.json against the Zarr v3 specification; append
    what is wrong to ``errors``; a readable V3Array when nothing is."""
    n_errors = len(errors)
    if meta.get("zarr_format") != 3:
        errors.append(f"zarr_format is {meta.get('zarr_format')!r}, expected 3")
    shape = meta.get("shape")
    if not _int_list(shape, positive=False):
        errors.append(f"'shape' must be a list of non-negative integers, not {shape!r}")
        return None
    ndim = len(shape)
    name = meta.get("data_type")
    parsed = parse_data_type(name)
    dtype, vlen = parsed if parsed is not None else (None, None)
    if dtype is None:
        errors.append(f"data_type {name!r} is not a Zarr v3 core data type, nor one zarr-python 3 writes for "
                      "strings, bytes or structured data")
    type_name = str(name.get("name")) if isinstance(name, dict) else str(name)
    grid = None
    cg = meta.get("chunk_grid")
    if not (isinstance(cg, dict) and cg.get("name") == "regular" and isinstance(cg.get("configuration"), dict)):
        errors.append("chunk_grid must be {\"name\": \"regular\", \"configuration\": {\"chunk_shape\": [...]}}")
    else:
        cs = cg["configuration"].get("chunk_shape")
        if not (_int_list(cs, positive=True) and len(cs) == ndim):
            errors.append(f"chunk_grid chunk_shape must be {ndim} positive integers, not {cs!r}")
        else:
            grid = tuple(cs)
    separator, v2_keys = "/", False
    cke = meta.get("chunk_key_encoding")
    if not isinstance(cke, dict) or cke.get("name") not in ("default", "v2"):
        errors.append(f"chunk_key_encoding must be 'default' or 'v2', not {cke!r}")
    else:
        v2_keys = cke["name"] == "v2"
        separator = (cke.get("configuration") or {}).get("separator", "." if v2_keys else "/")
        if separator not in ("/", "."):
            errors.append(f"chunk_key_encoding separator must be \"/\" or \".\", not {separator!r}")
    fill = None
    if "fill_value" not in meta:
        errors.append("'fill_value' is missing")
    elif dtype is not None:
        fill = parse_fill_value(meta["fill_value"], dtype, vlen)
        if fill is None:
            errors.append(f"fill_value {meta['fill_value']!r} is not valid for data type {type_name}")
    chain = parse_codecs(meta.get("codecs"), ndim, dtype, grid, errors, vlen=vlen)
    names = meta.get("dimension_names")
    if names is not None:
        if not isinstance(names, list) or not all(n is None or isinstance(n, str) for n in names):
            errors.append(f"dimension_names must be a list of strings or null, not {names!r}")
        elif len(names) != ndim:
            errors.append(f"dimension_names has {len(names)} entries for {ndim} dimensions")
    for key in ("storage_transformers",):
        if meta.get(key):
            errors.append(f"'{key}' is not supported by OME-Zarr readers")
    if grid is not None and dtype is not None:
        inner = chain.shard.chunk_shape if chain is not None and chain.shard else grid
        problem = size_problem(tuple(shape), inner, dtype)
        if problem is not None:
            errors.append(f"{problem} (not read)")
    if len(errors) > n_errors or chain is None or dtype is None or grid is None or fill is None:
        return None
    endian = chain.shard.inner.endian if chain.shard else chain.endian
    if has_byte_order(dtype):
        dtype = dtype.newbyteorder(">" if endian == "big" else "<")
        fill = fill.astype(dtype)
    return V3Array(tuple(shape), dtype, fill, grid, separator, v2_keys, chain, names, vlen, type_name)
