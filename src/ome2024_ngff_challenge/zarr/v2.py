"""Read Zarr v2 arrays exactly, and refuse corrupt data.

This is the read half of the converter's hot path: every stored chunk of the
input is decoded once, usually on a thread pool. So the code avoids copies
(decoded bytes are viewed, not copied, until they land in the caller's array)
and leaves the heavy work to numcodecs, whose decoders release the GIL.

Blosc and threads (checked against numcodecs 0.16): ``numcodecs.blosc.decompress``
asks ``_get_use_threads()`` which path to take. With the default
``numcodecs.blosc.use_threads = None`` that is True only on the main thread of
the process that imported numcodecs; there it calls ``blosc_decompress``, which
uses c-blosc's one global context (guarded by c-blosc's own global mutex, so
calls are serialised) and its internal thread pool. On any other thread, and in
forked children, it calls ``blosc_decompress_ctx(..., 1)``: a private context per
call, re-entrant, one internal thread, run with the GIL released. So worker
threads of a pool decode truly in parallel without us touching anything. We
deliberately leave ``use_threads`` alone: setting it True would push every worker
through the serialised global context, and setting it False is a process-wide
knob that only changes main-thread calls (which then lose c-blosc's internal
threads), so it buys nothing here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numcodecs
import numpy as np

from ..errors import CorruptChunkError, InputError
from ..json_values import FLOAT_WORDS, is_int
from ..stores.base import Store, join
from .chunk_keys import stored_indices, v2_chunk_key
from .codecs import BloscFrameError, DecodeError, check_blosc_frame, vlen_decode, vlen_nbytes_limit
from .data_types import (
    OBJECT_CODECS,
    empty_fill,
    item_nbytes,
    parse_v2_other_fill,
    size_problem,
    why_not_v3,
)
from .inflate import TooLarge, decompress, too_large

ZARRAY = ".zarray"

# Codecs that decode to arbitrary Python objects ("pickle" would even run code
# found in the input): never fed untrusted bytes. Object arrays are read only
# through vlen-utf8 or vlen-bytes, which decode to str or bytes and nothing else.
_REFUSED_CODECS = frozenset({"pickle", "json", "json2", "msgpack", "msgpack2", "vlen-array"})
_NUMBERS_ONLY = "only numbers, bool, strings, bytes and flat structured types are supported"


class _ChunkProblem(Exception):
    """Why a chunk's bytes cannot be what the metadata promises."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _bad(where: str, what: str) -> InputError:
    return InputError(f"{where}: {_one_line(what)}")


def _parse_dims(meta: dict, name: str, where: str, *, positive: bool) -> tuple[int, ...]:
    value = meta.get(name)
    lowest = 1 if positive else 0
    if not isinstance(value, list) or not all(is_int(v) and v >= lowest for v in value):
        kind = "positive" if positive else "non-negative"
        raise _bad(where, f'"{name}" must be a list of {kind} integers, not {value!r}')
    return tuple(value)


def _parse_dtype(value: object, where: str) -> np.dtype:
    """A v2 dtype: numbers and bool, object (read with its codec), ``S``,
    ``U`` and ``V`` strings, and structured types (a list of [name, dtype])."""
    if isinstance(value, list):
        return _parse_structured(value, where)
    if not isinstance(value, str):
        raise _bad(where, f"unsupported dtype {value!r} ({_NUMBERS_ONLY})")
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError):
        raise _bad(where, f"unknown dtype {value!r}") from None
    if dtype.kind in "SUVO" and dtype.fields is None and dtype.subdtype is None:
        if dtype.kind != "O" and dtype.itemsize == 0:
            raise _bad(where, f"unsupported dtype {value!r} (a string type of length 0)")
        return dtype
    # Datetimes, sub-array dtypes ... have no place in an image or a table we
    # know; long doubles are platform-bound.
    if dtype.kind not in "biufc" or dtype.itemsize > (16 if dtype.kind == "c" else 8):
        raise _bad(where, f"unsupported dtype {value!r} ({_NUMBERS_ONLY})")
    return dtype


def _parse_structured(value: list, where: str) -> np.dtype:
    """A structured dtype, when Zarr v3 (as zarr-python 3 writes it) can hold it."""
    fields = []
    for field in value:
        if not (isinstance(field, list) and len(field) in (2, 3) and isinstance(field[0], str)):
            raise _bad(where, f"unsupported dtype {value!r} (a structured dtype's fields are [name, dtype] lists)")
        if len(field) == 3 or not isinstance(field[1], str):
            what = "sub-array" if len(field) == 3 else "nested structured"
            raise _bad(where, f"unsupported dtype {value!r} (field {field[0]!r} is a {what} field, which "
                              "zarr-python 3 cannot read from a Zarr v3 'structured' type)")
        fields.append((field[0], field[1]))
    try:
        dtype = np.dtype(fields)
    except (TypeError, ValueError) as e:
        raise _bad(where, f"unknown dtype {value!r} ({e})") from None
    why = why_not_v3(dtype)
    if why is not None:
        raise _bad(where, f"unsupported dtype {value!r} ({why})")
    return dtype


def _object_codec(dtype: np.dtype, compressor: dict | None, filters: tuple[dict, ...], where: str):
    """(object codec or None, compressor, filters without it). An object
    array's first filter (or, with no filters, its compressor) must be
    vlen-utf8 or vlen-bytes, as numcodecs applies them; no other array may
    use them."""
    ids = [f["id"] for f in filters] + ([compressor["id"]] if compressor is not None else [])
    if dtype.kind != "O":
        for cid in ids:
            if cid in OBJECT_CODECS:
                raise _bad(where, f"codec {cid!r} encodes object (|O) arrays, not {dtype.str}")
        return None, compressor, filters
    if filters and filters[0]["id"] in OBJECT_CODECS:
        vlen, filters = filters[0]["id"], filters[1:]
    elif not filters and compressor is not None and compressor["id"] in OBJECT_CODECS:
        vlen, compressor = compressor["id"], None
    else:
        raise _bad(where, "unsupported object (|O) array: its first filter (or its compressor, with no "
                          "filters) must be vlen-utf8 or vlen-bytes; other object codecs (pickle, json, "
                          "msgpack, vlen-array) decode to arbitrary Python objects and are never read")
    for codec in filters:
        if codec["id"] in OBJECT_CODECS:
            raise _bad(where, f"codec {codec['id']!r} after {vlen!r}: it encodes objects, not bytes")
    return vlen, compressor, filters


def _parse_real(value: object, dtype: np.dtype, where: str) -> Any:
    """A JSON fill value for a float (or one half of a complex) dtype."""
    if isinstance(value, str) and value in FLOAT_WORDS:
        return FLOAT_WORDS[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise _bad(where, f"fill_value {value!r} is not valid for dtype {dtype.str}")


def _parse_fill_value(value: object, dtype: np.dtype, where: str, vlen: str | None = None) -> Any:
    if dtype.kind not in "biufc":
        fill, problem = parse_v2_other_fill(value, dtype, vlen)
        if problem is not None:
            raise _bad(where, problem)
        return fill
    if value is None:
        return None
    bad = _bad(where, f"fill_value {value!r} is not valid for dtype {dtype.str}")
    if dtype.kind == "b":
        if not (isinstance(value, bool) or value in (0, 1)):
            raise bad
        number: Any = bool(value)
    elif dtype.kind in "iu":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not is_int(value):
            raise bad
        info = np.iinfo(dtype)
        if not info.min <= value <= info.max:
            raise bad
        number = value
    elif dtype.kind == "f":
        number = _parse_real(value, dtype, where)
    else:  # complex: zarr-python writes [real, imag]
        if isinstance(value, list) and len(value) == 2:
            number = complex(_parse_real(value[0], dtype, where), _parse_real(value[1], dtype, where))
        else:
            number = _parse_real(value, dtype, where)
    with np.errstate(over="ignore"):
        scalar = np.array(number, dtype=dtype)[()]
    if dtype.kind in "fc" and np.isinf(scalar) and not np.isinf(number):
        raise _bad(where, f"fill_value {value!r} does not fit dtype {dtype.str}")
    return scalar


def _parse_codec_config(value: object, where: str, role: str) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise _bad(where, f"{role} must be a codec object with an \"id\", not {value!r}")
    _make_codec(value, where)
    return value


def _make_codec(config: dict, where: str) -> numcodecs.abc.Codec:
    codec_id = config["id"]
    if codec_id in _REFUSED_CODECS:
        raise _bad(where, f"unsupported codec {codec_id!r} (it decodes to Python objects)")
    try:
        # get_codec may consume the dict it is given; keep the stored one intact.
        return numcodecs.get_codec(dict(config))
    except Exception as e:  # unknown id, or a config the codec rejects
        raise _bad(where, f"unknown or unusable codec {config!r} ({type(e).__name__}: {e})") from None


@dataclass(frozen=True)
class V2ArrayMeta:
    """The parts of a ``.zarray`` document that say how to read the chunks."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any
    order: str
    separator: str
    compressor: dict | None  # applied last when encoding (None: none, or the object codec was)
    filters: tuple[dict, ...]  # applied in this order when encoding, after the object codec
    # object arrays: "vlen-utf8" or "vlen-bytes", the codec that turns the
    # array's items into bytes (applied first when encoding)
    object_codec: str | None = None

    @classmethod
    def from_json(cls, meta: dict, where: str) -> V2ArrayMeta:
        """Validate a parsed ``.zarray``; ``where`` names it in error messages.

        Keys whose absence could silently change the data read (dtype, order,
        compressor) are required; "fill_value", "filters" and
        "dimension_separator" have a natural default (null, none, ".").
        """
        if not isinstance(meta, dict):
            raise _bad(where, f"expected a JSON object, not {type(meta).__name__}")
        # "2", a string (webknossos), is read as 2; the planner says so
        if meta.get("zarr_format") not in (2, "2"):
            raise _bad(where, f"zarr_format is {meta.get('zarr_format')!r}, expected 2")
        for key in ("shape", "chunks", "dtype", "order", "compressor"):
            if key not in meta:
                raise _bad(where, f'"{key}" is missing')
        shape = _parse_dims(meta, "shape", where, positive=False)
        chunks = _parse_dims(meta, "chunks", where, positive=True)
        if len(chunks) != len(shape):
            raise _bad(where, f"chunks {list(chunks)} do not match the {len(shape)} dimensions of shape {list(shape)}")
        dtype = _parse_dtype(meta["dtype"], where)
        problem = size_problem(shape, chunks, dtype)
        if problem is not None:
            raise _bad(where, problem)
        order = meta["order"]
        if order not in ("C", "F"):
            raise _bad(where, f'order must be "C" or "F", not {order!r}')
        separator = meta.get("dimension_separator", ".")
        if separator not in (".", "/"):
            raise _bad(where, f'dimension_separator must be "." or "/", not {separator!r}')
        compressor = meta["compressor"]
        if compressor is not None:
            compressor = _parse_codec_config(compressor, where, "compressor")
        filters = meta.get("filters")
        if filters is None:
            filters = []
        if not isinstance(filters, list):
            raise _bad(where, f"filters must be a list or null, not {filters!r}")
        filters = tuple(_parse_codec_config(f, where, "each filter") for f in filters)
        vlen, compressor, filters = _object_codec(dtype, compressor, filters, where)
        fill_value = _parse_fill_value(meta.get("fill_value"), dtype, where, vlen)
        return cls(shape, chunks, dtype, fill_value, order, separator, compressor, filters, vlen)

    @property
    def grid(self) -> tuple[int, ...]:
        """How many chunks there are along each dimension."""
        return tuple(-(-s // c) for s, c in zip(self.shape, self.chunks))

    @property
    def chunk_nbytes(self) -> int:
        """The size of one decoded chunk (edge chunks are stored full size);
        for object arrays an estimate of the memory it takes."""
        return math.prod(self.chunks) * item_nbytes(self.dtype)

    def chunk_key(self, index: tuple[int, ...]) -> str:
        """The chunk's key relative to the array, e.g. "0.1.2"; "0" for 0-d arrays."""
        if len(index) != len(self.shape):
            msg = f"chunk index {index} does not have {len(self.shape)} dimensions"
            raise ValueError(msg)
        return v2_chunk_key(index, self.separator)

    def fill_scalar(self) -> np.ndarray:
        """A 0-d array holding what unwritten chunks read as (for a null fill
        0/False, "" or b"" for object arrays, zero bytes for other types)."""
        if self.fill_value is None:
            return empty_fill(self.dtype, self.object_codec)
        if self.dtype.kind not in "biufc":
            return self.fill_value
        return np.array(self.fill_value, dtype=self.dtype)


def stored_chunk_indices(store: Store, path: str, meta: V2ArrayMeta, limit: int) -> list[tuple[int, ...]] | None:
    """The grid indices of the array's stored chunks, from listings of its
    folder (see ``chunk_keys.stored_indices``)."""
    return stored_indices(store, path, meta.grid, meta.separator, None, limit)


def is_v2_array(store: Store, path: str) -> bool:
    """Whether ``path`` holds a Zarr v2 array (has a ``.zarray``)."""
    return store.exists(join(path, ZARRAY))


def read_array_meta(store: Store, path: str) -> V2ArrayMeta:
    """Read and validate ``path/.zarray``; InputError when missing or invalid."""
    key = join(path, ZARRAY)
    meta = store.get_json(key)
    if meta is None:
        msg = f"{store.describe(path)}: no Zarr v2 array (.zarray missing)"
        raise InputError(msg)
    return V2ArrayMeta.from_json(meta, store.describe(key))


class SourceArray:
    """One Zarr v2 array of the input, read chunk by chunk.

    Safe to share between threads: it holds no mutable state, and the numcodecs
    codecs it keeps are stateless.
    """

    def __init__(self, store: Store, path: str, meta_store: Store | None = None):
        """``meta_store``: where to read the .zarray from, when not ``store``
        (a cache of the metadata the planner fetched ahead)."""
        self.store = store
        self.path = path
        self.meta = read_array_meta(meta_store or store, path)
        where = store.describe(join(path, ZARRAY))
        meta = self.meta
        self._compressor = None if meta.compressor is None else _make_codec(meta.compressor, where)
        self._is_blosc = meta.compressor is not None and meta.compressor["id"] == "blosc"
        self._filters = tuple(_make_codec(f, where) for f in meta.filters)
        self._fill = meta.fill_scalar()
        # The chunks known to be stored (from a listing: stored_chunk_indices);
        # None: ask the store for each. Set by the planner for sparse arrays.
        self.stored: frozenset[tuple[int, ...]] | None = None
        # The most the compressor may inflate a chunk to: exactly one chunk,
        # or what the filters make of one (decompression bombs stop there).
        n = math.prod(meta.chunks)
        self._inflate_limit = _filtered_nbytes(
            meta.filters, vlen_nbytes_limit(n) if meta.object_codec else meta.chunk_nbytes)

    def __repr__(self) -> str:
        return f"SourceArray({self.store!r}, {self.path!r})"

    def describe(self) -> str:
        return self.store.describe(self.path)

    def read_chunk_bytes(self, index: tuple[int, ...]) -> bytes | None:
        """The chunk's stored bytes; None when it was never written."""
        if self.stored is not None and tuple(index) not in self.stored:
            return None
        return self.store.get(join(self.path, self.meta.chunk_key(index)))

    def read_chunk(self, index: tuple[int, ...]) -> np.ndarray | None:
        """The decoded chunk (see decode_chunk); None when it was never written."""
        raw = self.read_chunk_bytes(index)
        return None if raw is None else self.decode_chunk(raw, index)

    def decode_chunk(self, raw: bytes, index: tuple[int, ...]) -> np.ndarray:
        """The full chunk (shape ``meta.chunks``), C-contiguous, of ``meta.dtype``.

        The result may be read-only: when no copy is needed it is a view of
        the decoder's output. CorruptChunkError when the bytes do not decode
        to exactly one chunk.
        """
        chunk = self._decode_as_stored(raw, index)
        # Not np.ascontiguousarray: it would turn a 0-d chunk into 1-d.
        return chunk if chunk.flags.c_contiguous else chunk.copy(order="C")

    def read_region(self, region: tuple[slice, ...], get_chunk=None) -> np.ndarray:
        """``array[region]`` as a new C-contiguous array of ``meta.dtype``.

        ``region`` holds one slice per dimension, step 1, within bounds. Each
        chunk it touches is decoded once and only the needed part is copied;
        chunks never written read as the fill value. ``get_chunk(index)``, when
        given, supplies the decoded chunks (a cache of them) instead.
        """
        meta = self.meta
        bounds = _region_bounds(region, meta.shape)
        out = np.empty(tuple(stop - start for start, stop in bounds), dtype=meta.dtype)
        if out.size == 0:
            return out
        chunk_ranges = [range(start // c, -(-stop // c)) for (start, stop), c in zip(bounds, meta.chunks)]
        for index in itertools.product(*chunk_ranges):
            in_chunk, in_out = [], []
            for (start, stop), c, i in zip(bounds, meta.chunks, index):
                lo, hi = max(start, i * c), min(stop, (i + 1) * c)
                in_chunk.append(slice(lo - i * c, hi - i * c))
                in_out.append(slice(lo - start, hi - start))
            if get_chunk is not None:
                chunk = get_chunk(index)
            else:
                raw = self.read_chunk_bytes(index)
                # "F" chunks come as Fortran views: the copy below transposes them
                chunk = None if raw is None else self._decode_as_stored(raw, index)
            if chunk is None:
                out[tuple(in_out)] = self._fill
            else:
                out[tuple(in_out)] = chunk[tuple(in_chunk)]
        return out

    def _decode_as_stored(self, raw: bytes, index: tuple[int, ...]) -> np.ndarray:
        """The chunk shaped ``meta.chunks`` in its stored layout ("F" chunks come
        back as a Fortran-ordered view), so that callers copy at most once."""
        meta = self.meta
        try:
            flat = self._decode_objects(raw) if meta.object_codec else self._decode_bytes(raw)
        except MemoryError:
            raise
        except TooLarge as e:
            msg = f"{self.describe()}: chunk {meta.chunk_key(index)} {e}"
            raise CorruptChunkError(msg) from None
        except (_ChunkProblem, DecodeError) as e:
            reason = str(e)
        except Exception as e:  # whatever a decoder throws at bad input
            reason = f"{type(e).__name__}: {e}"
        else:
            if meta.object_codec:
                return flat.reshape(meta.chunks, order=meta.order)
            return flat.view(meta.dtype).reshape(meta.chunks, order=meta.order)
        msg = f"{self.describe()}: chunk {meta.chunk_key(index)} is corrupt or truncated ({_one_line(reason)})"
        raise CorruptChunkError(msg)

    def _decode_bytes(self, raw: bytes) -> np.ndarray:
        """Undo compressor then filters; the result as a flat uint8 array of
        exactly ``chunk_nbytes`` bytes."""
        expected = self.meta.chunk_nbytes
        data: Any = raw
        if self._compressor is not None:
            if self._is_blosc:
                self._check_blosc_frame(raw, expected)
            if self._is_blosc and not self._filters:
                # Decode straight into the final buffer: no intermediate bytes.
                data = np.empty(expected, dtype=np.uint8)
                self._compressor.decode(raw, out=data)
            else:
                data = self._inflate(raw)
        for codec in reversed(self._filters):
            data = codec.decode(data)
        flat = _as_flat_bytes(data)
        if flat.nbytes != expected:
            what = "decoded to" if self._compressor is not None or self._filters else "holds"
            msg = f"{what} {flat.nbytes} bytes, expected {expected}"
            raise _ChunkProblem(msg)
        return flat

    def _decode_objects(self, raw: bytes) -> np.ndarray:
        """Undo compressor, filters and the object codec; the chunk's items
        as a flat object array (DecodeError unless exactly one chunk's)."""
        data: Any = raw
        if self._compressor is not None:
            data = self._inflate(raw)
        for codec in reversed(self._filters):
            data = codec.decode(data)
        if isinstance(data, np.ndarray):
            data = np.ascontiguousarray(data)
        return vlen_decode(data, math.prod(self.meta.chunks), self.meta.object_codec)

    def _inflate(self, raw: bytes):
        """The compressor undone, never past ``_inflate_limit`` bytes."""
        config = self.meta.compressor
        return decompress(config["id"], self._compressor, config, raw, self._inflate_limit)

    def _check_blosc_frame(self, raw: bytes, expected: int) -> None:
        try:
            nbytes = check_blosc_frame(raw)
        except BloscFrameError as e:
            raise _ChunkProblem(str(e)) from None
        # With filters the compressor's output size is the filters' business;
        # the final length check covers it.
        if not self._filters and nbytes > expected:
            raise too_large(expected, nbytes)
        if not self._filters and nbytes != expected:
            msg = f"Blosc header says {nbytes} decoded bytes, expected {expected}"
            raise _ChunkProblem(msg)


# Filters whose encoded items are of their 'astype' (or 'encode_dtype'), one per item.
_RETYPING_FILTERS = {"delta": "astype", "fixedscaleoffset": "astype", "quantize": "astype",
                     "categorize": "astype", "astype": "encode_dtype"}


def _filtered_nbytes(filters: tuple[dict, ...], nbytes: int) -> int:
    """The most bytes ``filters`` (in encoding order) can make of ``nbytes``:
    a filter that retypes its items scales them (never below what it was
    given: generous, not exact); one not known here may take 16 bytes an
    input byte's worth of items."""
    for config in filters:
        fid = config["id"]
        if fid in _RETYPING_FILTERS:
            try:
                inner = np.dtype(config.get("dtype") or config.get("decode_dtype") or "u1").itemsize
                outer = np.dtype(config.get(_RETYPING_FILTERS[fid]) or config.get("dtype") or "u1").itemsize
            except (TypeError, ValueError):
                inner, outer = 1, 16
            nbytes = max(nbytes, -(-nbytes // inner) * outer)
        elif fid in ("shuffle", "bitround", "packbits", "bitshuffle"):
            nbytes += 1  # packbits: a header byte, and fewer bytes
        else:
            nbytes = 16 * nbytes + 1024
    return nbytes


def _as_flat_bytes(data: Any) -> np.ndarray:
    """A 1-d uint8 view of a decoder's output (bytes-like or ndarray), no copy
    when it is contiguous already."""
    if isinstance(data, np.ndarray):
        if data.dtype.hasobject:
            msg = "a filter decoded to Python objects"
            raise _ChunkProblem(msg)
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def _region_bounds(region: tuple[slice, ...], shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """(start, stop) per dimension; ValueError for anything but in-bounds,
    step-1 slices (a caller's bug, not bad input)."""
    if len(region) != len(shape):
        msg = f"region {region} does not have {len(shape)} dimensions"
        raise ValueError(msg)
    bounds = []
    for s, size in zip(region, shape):
        start = 0 if s.start is None else s.start
        stop = size if s.stop is None else s.stop
        if s.step not in (None, 1) or not 0 <= start <= stop <= size:
            msg = f"region {region} is not a step-1 region within shape {shape}"
            raise ValueError(msg)
        bounds.append((start, stop))
    return bounds
