"""Zarr data types: numpy dtypes as Zarr v3 ``data_type`` and ``fill_value``
JSON (written and read), the v2 fill values of the non-numeric types, and the
sizes the layout and the memory bounds reckon with.

The numeric types (bool, integers, floats, complex) are the Zarr v3
specification's core types. The others are written exactly as zarr-python 3
(3.1) writes them, whose names are registered in zarr-extensions; arrays in
memory hold them as numpy arrays of:

====================  ============================================================  ================  ===================
in memory             v3 ``data_type``                                              array->bytes      ``fill_value``
====================  ============================================================  ================  ===================
object (of ``str``)   ``"string"``                                                  ``vlen-utf8``     the string
object (of bytes)     ``"variable_length_bytes"``                                   ``vlen-bytes``    base64
``S<n>``              ``{"name": "null_terminated_bytes", "configuration":``        ``bytes``         base64 (trailing
                      ``{"length_bytes": n}}``                                                        NULs dropped)
``<U<n>``/``>U<n>``   ``{"name": "fixed_length_utf32", "configuration":``           ``bytes`` +       the string
                      ``{"length_bytes": 4n}}``                                     endian
``V<n>`` (no fields)  ``{"name": "raw_bytes", "configuration": {"length_bytes": n}}`` ``bytes``       base64
structured            ``{"name": "structured", "configuration": {"fields":``        ``bytes``         base64
                      ``[[name, data_type], ...]}}``
====================  ============================================================  ================  ===================

An object array is told apart by its *object codec* (``vlen-utf8`` or
``vlen-bytes``, written ``vlen`` below): numpy's dtype says only "object".

Structured types: zarr-python 3 writes a field's type without byte order and
reads it back little-endian, so only fields whose bytes read the same that way
(little-endian or single bytes) are representable; sub-array and nested fields
have no v3 form it reads. It reads structured and raw bytes arrays only
unsharded (``shardable``). Datetimes and timedeltas are not converted (no image
or table of the OME-Zarr writers we know holds them).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

VLEN_UTF8 = "vlen-utf8"
VLEN_BYTES = "vlen-bytes"
OBJECT_CODECS = (VLEN_UTF8, VLEN_BYTES)
VLEN_DATA_TYPES = {VLEN_UTF8: "string", VLEN_BYTES: "variable_length_bytes"}

CORE_DATA_TYPES = {
    ("b", 1): "bool",
    ("i", 1): "int8",
    ("i", 2): "int16",
    ("i", 4): "int32",
    ("i", 8): "int64",
    ("u", 1): "uint8",
    ("u", 2): "uint16",
    ("u", 4): "uint32",
    ("u", 8): "uint64",
    ("f", 2): "float16",
    ("f", 4): "float32",
    ("f", 8): "float64",
    ("c", 8): "complex64",
    ("c", 16): "complex128",
}
CORE_DTYPES: dict[str, np.dtype] = {name: np.dtype(f"{kind}{size}") for (kind, size), name in CORE_DATA_TYPES.items()}
CORE_DTYPES["bool"] = np.dtype("?")

# What one item of an object array costs in memory, for the layout and the
# memory bounds: an 8-byte pointer and a small Python str or bytes object (about
# 50 bytes of header for a short ASCII text).
OBJECT_ITEM_NBYTES = 64


def is_core(dtype: np.dtype) -> bool:
    return dtype.fields is None and (dtype.kind, dtype.itemsize) in CORE_DATA_TYPES


def item_nbytes(dtype: np.dtype) -> int:
    """Bytes per item in memory (an estimate for object arrays)."""
    return OBJECT_ITEM_NBYTES if dtype.kind == "O" else dtype.itemsize


# The largest array (2**63 bytes: what 64-bit offsets address) and the largest
# chunk (8 GiB decoded: what a reader holds at once) we read.
MAX_ARRAY_BYTES = 2**63 - 1
MAX_CHUNK_BYTES = 2**33


def size_problem(shape: tuple[int, ...], chunks: tuple[int, ...], dtype: np.dtype) -> str | None:
    """Why an array of ``shape`` in ``chunks`` of ``dtype`` is too large to
    read (None: it is not), before anything is allocated for it."""
    n = item_nbytes(dtype)
    if math.prod(shape) * n > MAX_ARRAY_BYTES:
        return f"shape {list(shape)} is too large: more than 2**63 bytes"
    if math.prod(chunks) * n > MAX_CHUNK_BYTES:
        return (f"chunks {list(chunks)} are too large: {math.prod(chunks) * n} bytes decoded each, "
                f"more than the {MAX_CHUNK_BYTES // 2**30} GiB read at once")
    return None


def typesize(dtype: np.dtype) -> int:
    """The item size a byte-shuffling compressor (Blosc) sees: variable-length
    items are serialised to a plain byte stream first."""
    return 1 if dtype.kind == "O" else dtype.itemsize


def shardable(dtype: np.dtype) -> bool:
    """Whether arrays of ``dtype`` may be sharded. zarr-python 3 (3.1) neither
    reads nor writes sharded "structured" and "raw_bytes" arrays (it hashes
    their fill value, a numpy void, and fails): they are written unsharded."""
    return dtype.kind != "V"


def has_byte_order(dtype: np.dtype) -> bool:
    """Whether the bytes codec must say an endian for this type."""
    return dtype.fields is None and dtype.kind in "iufcU" and (dtype.itemsize > 1 or dtype.kind == "c")


# ---------------------------------------------------------------------------
# data_type
# ---------------------------------------------------------------------------


def _field_problem(name: str, dtype: np.dtype) -> str | None:
    if dtype.subdtype is not None:
        return f"field {name!r} is a sub-array ({dtype.str} {list(dtype.shape)})"
    if dtype.fields is not None:
        return f"field {name!r} is itself structured"
    if dtype.kind == "O":
        return f"field {name!r} holds Python objects"
    if dtype.kind in "SUV" and dtype.itemsize == 0:
        return f"field {name!r} has length 0"
    if not (is_core(dtype) or dtype.kind in "SUV"):
        return f"field {name!r} has the data type {dtype.str}, which has no Zarr v3 equivalent"
    big = dtype.byteorder == ">" or (dtype.byteorder == "=" and not np.little_endian)
    if dtype.itemsize > 1 and big:
        return (f"field {name!r} is big-endian ({dtype.str}); zarr-python 3 writes the fields of a v3 "
                "'structured' type without a byte order and reads them little-endian")
    return None


def why_not_v3(dtype: np.dtype, vlen: str | None = None) -> str | None:
    """Why arrays of ``dtype`` cannot be written as Zarr v3 (None: they can)."""
    if dtype.kind == "O":
        return None if vlen in OBJECT_CODECS else "an object array without a vlen-utf8 or vlen-bytes codec"
    if dtype.fields is not None:
        if dtype.names is None or not dtype.names:
            return "a structured data type without fields"
        offset = 0
        for name in dtype.names:
            field, at = dtype.fields[name][:2]
            if at != offset:
                return "a structured data type with gaps or overlapping fields"
            problem = _field_problem(name, field)
            if problem is not None:
                return f"a structured data type whose {problem}"
            offset += field.itemsize
        return None if offset == dtype.itemsize else "a structured data type with padding"
    if dtype.subdtype is not None:
        return "a sub-array data type"
    if dtype.kind in "SUV":
        return None if dtype.itemsize > 0 else f"the data type {dtype.str} has length 0"
    if is_core(dtype):
        return None
    return f"the data type {dtype.str} has no Zarr v3 equivalent"


def data_type_json(dtype: np.dtype, vlen: str | None = None) -> str | dict:
    """The Zarr v3 ``data_type`` of ``dtype``; ValueError (why) when there is none."""
    why = why_not_v3(dtype, vlen)
    if why is not None:
        raise ValueError(why)
    if dtype.kind == "O":
        return VLEN_DATA_TYPES[vlen]
    if dtype.fields is not None:
        fields = [[name, data_type_json(dtype.fields[name][0])] for name in dtype.names]
        return {"name": "structured", "configuration": {"fields": fields}}
    if is_core(dtype):
        return CORE_DATA_TYPES[(dtype.kind, dtype.itemsize)]
    name = {"S": "null_terminated_bytes", "U": "fixed_length_utf32", "V": "raw_bytes"}[dtype.kind]
    return {"name": name, "configuration": {"length_bytes": dtype.itemsize}}


def data_type_name(dtype: np.dtype, vlen: str | None = None) -> str:
    """A short name for messages: "uint16", "string", "fixed_length_utf32" ..."""
    try:
        value = data_type_json(dtype, vlen)
    except ValueError:
        return dtype.str
    return value if isinstance(value, str) else value["name"]


def parse_data_type(value: object) -> tuple[np.dtype, str | None] | None:
    """(dtype in memory, object codec) of a v3 ``data_type``; None when it is
    none of the types above. Multi-byte types come back little-endian: the
    bytes codec decides their byte order."""
    if isinstance(value, str):
        if value in CORE_DTYPES:
            return CORE_DTYPES[value], None
        for vlen, name in VLEN_DATA_TYPES.items():
            if value == name:
                return np.dtype(object), vlen
        return None
    if not isinstance(value, dict) or not isinstance(value.get("configuration"), dict):
        return None
    name, config = value.get("name"), value["configuration"]
    if name in ("null_terminated_bytes", "fixed_length_utf32", "raw_bytes") and set(config) == {"length_bytes"}:
        n = config["length_bytes"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1 or name == "fixed_length_utf32" and n % 4:
            return None
        return np.dtype({"null_terminated_bytes": f"S{n}", "fixed_length_utf32": f"<U{n // 4}",
                         "raw_bytes": f"V{n}"}[name]), None
    if name == "structured" and set(config) == {"fields"} and isinstance(config["fields"], list):
        fields = []
        for field in config["fields"]:
            if not (isinstance(field, list) and len(field) == 2 and isinstance(field[0], str)):
                return None
            parsed = parse_data_type(field[1])
            if parsed is None or parsed[1] is not None or parsed[0].fields is not None:
                return None
            fields.append((field[0], parsed[0]))
        try:
            dtype = np.dtype(fields)
        except (TypeError, ValueError):  # duplicate or empty names
            return None
        return (dtype, None) if fields else None
    return None


# ---------------------------------------------------------------------------
# fill values
# ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def object_fill(value: Any) -> np.ndarray:
    """A 0-d object array holding one str (vlen-utf8) or bytes (vlen-bytes)."""
    fill = np.empty((), dtype=object)
    fill[()] = value
    return fill


def other_fill_json(fill: np.ndarray, vlen: str | None = None):
    """The v3 ``fill_value`` of a non-core type, as zarr-python 3 writes it."""
    value = fill[()]
    kind = fill.dtype.kind
    if kind == "O":
        return str(value) if vlen == VLEN_UTF8 else _b64(bytes(value))
    if kind == "U":
        return str(value)
    if kind == "S":
        return _b64(bytes(value))  # numpy drops the trailing NULs, as zarr-python does
    if kind == "V":
        return _b64(fill.tobytes())
    msg = f"unsupported fill value kind {kind}"
    raise ValueError(msg)


def parse_other_fill(value: object, dtype: np.dtype, vlen: str | None = None) -> np.ndarray | None:
    """The 0-d fill of a non-core type from its v3 JSON; None when not valid."""
    kind = dtype.kind
    if kind == "O":
        if vlen == VLEN_UTF8:
            return object_fill(value) if isinstance(value, str) else None
        data = _unb64(value)
        return None if data is None else object_fill(data)
    if kind == "U":
        if not isinstance(value, str) or len(value) > dtype.itemsize // 4:
            return None
        return np.array(value, dtype=dtype)
    data = _unb64(value)
    if data is None:
        return None
    if kind == "S":
        return np.array(data, dtype=dtype) if len(data) <= dtype.itemsize else None
    if kind == "V" and len(data) == dtype.itemsize:
        return np.frombuffer(data, dtype=dtype).reshape(())
    return None


def parse_v2_other_fill(value: object, dtype: np.dtype, vlen: str | None) -> tuple[Any, str | None]:
    """The fill value of a v2 array of a non-numeric type: (the 0-d array, or
    None for a ``null`` fill; a problem or None).

    Zarr v2 JSON: an object array's fill is stored as it is (a string for
    vlen-utf8; zarr-python 3 writes bytes in base64), ``S``, ``V`` and
    structured fills in base64, ``U`` fills as the string. ``0`` is what
    zarr-python 2 wrote when no fill was given (it never applied it to
    strings; zarr-python 3 reads it as the string "0" or refuses it): it is
    taken as the type's empty value, like ``null``.
    """
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0):
        return (None if value is None else empty_fill(dtype, vlen)), None
    bad = f"fill_value {value!r} is not valid for {data_type_name(dtype, vlen)} data"
    if dtype.kind == "O" and vlen == VLEN_UTF8 or dtype.kind == "U":
        if not isinstance(value, str):
            return None, bad
        if dtype.kind == "U":
            if len(value) > dtype.itemsize // 4:
                return None, f"fill_value {value!r} is longer than {dtype.itemsize // 4} characters ({dtype.str})"
            return np.array(value, dtype=dtype), None
        return object_fill(value), None
    data = _unb64(value)
    if data is None:
        return None, bad + " (expected base64)"
    if dtype.kind == "O":
        return object_fill(data), None
    if dtype.kind == "S":
        if len(data) > dtype.itemsize:
            return None, f"fill_value {value!r} holds {len(data)} bytes, more than {dtype.str} holds"
        return np.array(data, dtype=dtype), None
    if len(data) != dtype.itemsize:
        return None, f"fill_value {value!r} holds {len(data)} bytes, not the {dtype.itemsize} of {dtype.str}"
    return np.frombuffer(data, dtype=dtype).reshape(()).copy(), None


def empty_fill(dtype: np.dtype, vlen: str | None = None) -> np.ndarray:
    """The type's zero: "" or b"" for object arrays, all-zero bytes otherwise."""
    if dtype.kind == "O":
        return object_fill("" if vlen == VLEN_UTF8 else b"")
    return np.zeros((), dtype=dtype)

