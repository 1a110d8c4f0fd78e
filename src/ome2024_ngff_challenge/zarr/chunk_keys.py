"""Chunk keys: where a chunk (or shard) of an array is stored, relative to the
array. Zarr v2 joins the grid index with its separator ('0.1.2', '0/1/2'); the
Zarr v3 'default' encoding adds a 'c' first ('c/0/1/2'); a v3 array may also use
the 'v2' encoding (how an existing v2 chunk is described in place)."""

from __future__ import annotations


def v2_chunk_key(index: tuple[int, ...], separator: str = ".") -> str:
    """'0.1.2' (or '0/1/2'); '0' for a 0-d array."""
    return separator.join(str(i) for i in index) if index else "0"


def default_chunk_key(index: tuple[int, ...], separator: str = "/") -> str:
    """The v3 default chunk key ('c/0/1/2'; 'c' for a 0-d array)."""
    return separator.join(["c", *(str(i) for i in index)])


def chunk_key(index: tuple[int, ...], encoding: str = "default", separator: str = "/") -> str:
    """The key of a v3 array's chunk under its chunk_key_encoding."""
    if encoding == "v2":
        return v2_chunk_key(index, separator)
    return default_chunk_key(index, separator)


def stored_separator(store, path: str, ndim: int) -> str | None:
    """The separator the stored chunks of the v2 array at ``path`` use, as
    the keys that exist say: "/" when its folder holds numbered folders (nested
    keys), "." when it holds dotted chunk files; None when they do not tell
    (no chunk, a 1-d array, or both kinds). Where the store cannot be listed,
    the first chunk's key is looked up both ways. (Zarr-python before 2.8 wrote
    nested stores without a ``dimension_separator`` in ``.zarray``.)"""
    if ndim < 2:
        return None
    if store.supports_listing:
        dirs, files = store.list_dir(path)
        nested = any(d.isdigit() for d in dirs)
        dotted = any(f.count(".") == ndim - 1 and f.replace(".", "").isdigit() for f in files)
    else:
        first = (0,) * ndim
        nested = store.exists(f"{path}/{v2_chunk_key(first, '/')}" if path else v2_chunk_key(first, "/"))
        dotted = store.exists(f"{path}/{v2_chunk_key(first, '.')}" if path else v2_chunk_key(first, "."))
    if nested == dotted:
        return None
    return "/" if nested else "."
