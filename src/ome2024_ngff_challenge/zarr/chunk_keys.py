"""Chunk keys: where a chunk (or shard) of an array is stored, relative to the
array. Zarr v2 joins the grid index with its separator ('0.1.2', '0/1/2'); the
Zarr v3 'default' encoding adds a 'c' first ('c/0/1/2'); a v3 array may also use
the 'v2' encoding (how an existing v2 chunk is described in place)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from ..stores.base import Store, join

# An array of more chunks (or shards) than this is read from a listing of its
# stored objects where the store can list (and unless more than MAX_LISTED are
# stored): a huge sparse array costs what it holds, not what its grid spans.
SPARSE_GRID = 2**20
MAX_LISTED = 2**18


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


def grid_indices(grid: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Every index of ``grid`` in C order, made as they are asked for
    (itertools.product would first hold each whole range as a tuple)."""
    if any(n <= 0 for n in grid):
        return
    if max(grid, default=0) <= SPARSE_GRID:
        yield from itertools.product(*(range(n) for n in grid))
        return
    index = [0] * len(grid)
    while True:
        yield tuple(index)
        d = len(grid) - 1
        while d >= 0:
            index[d] += 1
            if index[d] < grid[d]:
                break
            index[d] = 0
            d -= 1
        if d < 0:
            return


def _grid_index(name: str) -> int | None:
    """A key's part as the grid index it names; None for one no reader asks
    for ('01'); ValueError for a name that is no index at all."""
    if not (name.isascii() and name.isdigit()):
        raise ValueError(name)
    return None if len(name) > 1 and name.startswith("0") else int(name)


def stored_indices(store: Store, path: str, grid: tuple[int, ...], separator: str, lead: str | None,
                   limit: int) -> list[tuple[int, ...]] | None:
    """The grid indices of the objects stored for the array at ``path`` (keys
    of ``separator``, after ``lead``: "c" for the v3 default encoding), from
    listings of its folders: a handful for a sparse array, however large its
    grid. None when the store cannot list, when more than ``limit`` are stored,
    or when the folder holds anything but such keys and metadata (hidden
    files): the caller then asks for each object of the grid, so nothing
    stored is ever missed."""
    ndim = len(grid)
    if not store.supports_listing or ndim == 0:
        return None
    nested = separator == "/"
    parts_wanted = ndim + (lead is not None)
    found: list[tuple[int, ...]] = []
    folders: list[tuple[str, tuple[str, ...]]] = [(path, ())]
    try:
        while folders:
            folder, head = folders.pop()
            dirs, files = store.list_dir(folder)
            for name in dirs:
                if not nested or len(head) >= parts_wanted - 1:
                    raise ValueError(name)
                if lead is not None and not head:
                    if name != lead:
                        raise ValueError(name)
                elif _grid_index(name) is None:
                    continue  # never read
                folders.append((join(folder, name), (*head, name)))
            for name in files:
                if name.startswith("."):  # metadata (.zarray), partial writes: never a key
                    continue
                parts = (*head, name) if nested else tuple(name.split(separator))
                if name == "zarr.json" and not head:
                    continue
                if len(parts) != parts_wanted or (lead is not None and parts[0] != lead):
                    raise ValueError(name)
                index = tuple(_grid_index(p) for p in parts[parts_wanted - ndim :])
                if None in index or any(i >= g for i, g in zip(index, grid)):
                    continue  # never read
                found.append(index)
                if len(found) > limit:
                    return None
    except ValueError:
        return None
    return found


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
