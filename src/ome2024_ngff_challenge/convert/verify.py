"""A conversion verified (``validate --against SOURCE``): every voxel of the
output decoded and its bit pattern (NaN payloads, -0.0) compared with the
OME-Zarr 0.4 source, one stored object at a time on a few threads; strings and
bytes (object arrays) item for item, their type included."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from ..about import STATS_KEY
from ..errors import UserError, option
from ..stores.base import Store, join
from ..zarr.codecs import DEFAULT_COMPRESSION
from ..zarr.chunk_keys import MAX_LISTED, SPARSE_GRID, grid_indices
from ..zarr.v2 import SourceArray, stored_chunk_indices
from ..zarr.v3_read import DecodeError, V3Array, parse_array_meta
from ..validation.report import Report
from .downsample import MEAN, MODE, halved, parent_box, reduce_block
from .plan import LayoutRequest
from .planner import Planner

if TYPE_CHECKING:
    from ..validation.walk import Validator

LOG = logging.getLogger("ome2024_ngff_challenge")
# stored objects compared at once (each holds one compressed shard plus one
# decoded inner chunk), bounded by count and by uncompressed size
MAX_COMPARE_THREADS = 8
MAX_COMPARE_BYTES = 1024 * 2**20
# a level the conversion added is recomputed from the source's smallest level
# (through the added levels above it) inner chunk by inner chunk, where the
# box of the source that one inner chunk comes from is at most this large
MAX_RECOMPUTE_BYTES = 256 * 2**20


def _bits(a: np.ndarray) -> np.ndarray:
    """The values' bit patterns as native unsigned integers (NaN payloads and
    -0.0 kept), shaped (*a.shape, words)."""
    dt = a.dtype
    if dt.fields is None and dt.itemsize > 1 and not dt.isnative:
        a = a.byteswap().view(dt.newbyteorder("="))
    word = next(w for w in (8, 4, 2, 1) if dt.itemsize % w == 0)
    words = dt.itemsize // word
    a = np.ascontiguousarray(a)
    return a.view(f"u{word}").reshape((*a.shape, words)) if a.ndim else a.reshape(1).view(f"u{word}").reshape((words,))


# one item of an object array differs from another: in value or in type ("" and b"")
_object_differs = np.frompyfunc(lambda e, g: type(e) is not type(g) or e != g, 2, 1)


def _differs(expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Where ``got`` (an array of the region's shape, or a 0-d fill) differs
    from ``expected``, as booleans shaped like ``expected``."""
    if expected.dtype.kind == "O" or got.dtype.kind == "O":
        return np.broadcast_to(_object_differs(expected, got), expected.shape).astype(bool)
    return np.any(_bits(expected) != _bits(got), axis=-1)


def _show(value) -> str:
    """A voxel value for a message; floats with their bit pattern (NaN payloads, -0.0)."""
    a = np.asarray(value)
    text = repr(a.item())
    if a.dtype.kind in "fc":
        bits = _bits(a).reshape(-1)
        text += " (0x" + "".join(format(int(b), f"0{2 * a.dtype.itemsize // len(bits)}x") for b in bits) + ")"
    return text


def compare_with_source(validator: Validator, src: Store) -> None:
    report, out = validator.report, validator.store
    try:
        plan = Planner(src, LayoutRequest(), DEFAULT_COMPRESSION, creator={}, verbose=False).walk()
    except UserError as e:
        report.error("", f"{option('against')}: the source cannot be read ({e})")
        return
    sources = {job.path: job.source for job in plan.arrays}
    arrays = dict(validator.arrays)
    for path in sources:
        if path in validator.visited:
            continue
        # an array no OME metadata names (a table, a tool's own array): the
        # walk did not reach it, so it is read here
        meta = out.get_json(join(path, "zarr.json"))
        arr = parse_array_meta(meta, []) if isinstance(meta, dict) and meta.get("node_type") == "array" else None
        if arr is None:
            report.error(path, f"array of the source ({src.describe(path)}) is missing in the output")
        else:
            arrays[path] = arr
    for path, arr in arrays.items():
        source = sources.get(path)
        if source is None:
            source, why = added_level_reference(out, path, arr, sources, arrays)
            if source is None:
                report.warn(path, f"{why}: not compared")
                continue
        meta = source.meta
        if tuple(meta.shape) != arr.shape:
            report.error(path, f"shape {list(arr.shape)} differs from the source's {list(meta.shape)}")
            continue
        if (meta.dtype.kind, meta.dtype.itemsize, meta.object_codec) != (arr.dtype.kind, arr.dtype.itemsize, arr.vlen):
            report.error(path, f"data type {arr.data_type} differs from the source's {meta.dtype.str}")
            continue
        LOG.info("comparing %s", out.describe(path))
        if compare_array(path, arr, source, out, report):
            report.compared += 1


def added_from(out: Store, path: str) -> tuple[str, str] | None:
    """For a level the conversion added below the smallest (``add_levels``):
    (the level it says it was computed from, its reduction)."""
    try:
        added = out.get_json(join(path, "zarr.json"))["attributes"][STATS_KEY]["added_level"]
    except (UserError, KeyError, TypeError):
        return None
    if not isinstance(added, dict) or not isinstance(added.get("from"), str) or added.get("reduction") not in (MEAN, MODE):
        return None
    return added["from"], added["reduction"]


class AddedLevelReference:
    """What a level the conversion added must hold, recomputed from the
    source's level it descends from (``steps``: (shape above, axes halved,
    reduction), from that level down), as ``compare_array`` reads a source."""

    def __init__(self, base, steps: list[tuple[tuple[int, ...], tuple[int, ...], str]], shape: tuple[int, ...]):
        self.base, self.steps = base, steps
        self.meta = SimpleNamespace(shape=shape, dtype=base.meta.dtype, object_codec=None)

    def box(self, region: tuple[slice, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        start, stop = tuple(s.start for s in region), tuple(s.stop for s in region)
        for above, axes, _ in reversed(self.steps):
            start, stop = parent_box(start, stop, axes, above)
        return start, stop

    def read_region(self, region: tuple[slice, ...]) -> np.ndarray:
        start, stop = self.box(region)
        block = self.base.read_region(tuple(slice(a, b) for a, b in zip(start, stop)))
        for _, axes, reduction in self.steps:
            block = reduce_block(block, axes, reduction)
        return block


def added_level_reference(out: Store, path: str, arr: V3Array, sources: dict, arrays: dict):
    """(the reference of an added level, None) or (None, why it has none)."""
    steps, shape, at = [], arr.shape, path
    while at not in sources:
        found = added_from(out, at)
        if found is None:
            return None, "not in the source" if at == path else f"not in the source (nor '{at}' it comes from)"
        above, reduction = found
        above_shape = sources[above].meta.shape if above in sources else arrays[above].shape if above in arrays else None
        if above_shape is None or len(above_shape) != len(shape):
            return None, f"a level added by the conversion, from '{above}', which cannot be read"
        axes = tuple(a for a, (p, s) in enumerate(zip(above_shape, shape)) if p != s)
        if halved(above_shape, axes) != tuple(shape):
            return None, f"a level added by the conversion whose shape is not that of '{above}' halved"
        steps.insert(0, (tuple(above_shape), axes, reduction))
        at, shape = above, above_shape
    reference = AddedLevelReference(sources[at], steps, arr.shape)
    start, stop = reference.box(tuple(slice(0, min(c, s)) for c, s in zip(arr.inner_chunks, arr.shape)))
    if math.prod(b - a for a, b in zip(start, stop)) * reference.meta.dtype.itemsize > MAX_RECOMPUTE_BYTES:
        return None, f"a level added by the conversion, too far below '{at}' to recompute it from the source"
    return reference, ""


def compare_array(path: str, arr: V3Array, source, out: Store, report: Report) -> bool:
    """Compare every voxel of ``arr`` with ``source``; report the first
    difference (in storage order). Stored objects are compared on a few
    threads, each holding one object and one decoded inner chunk at a time."""
    threads = max(1, min(os.cpu_count() or 1, MAX_COMPARE_THREADS, MAX_COMPARE_BYTES // max(arr.object_nbytes, 1)))
    indices = iter(_objects_to_compare(path, arr, source, out))
    with ThreadPoolExecutor(threads) as pool:
        pending = deque()
        for index in itertools.islice(indices, 2 * threads):
            pending.append(pool.submit(compare_object, path, arr, source, out, index))
        while pending:
            problem = pending.popleft().result()
            if problem is not None:
                for future in pending:
                    future.cancel()
                report.error(path, problem)
                return False
            for index in itertools.islice(indices, 1):
                pending.append(pool.submit(compare_object, path, arr, source, out, index))
    return True


def _objects_to_compare(path: str, arr: V3Array, source, out: Store):
    """The output's objects to compare: all of its grid; for an array whose
    grid, or whose source's chunk grid, is over SPARSE_GRID, and where both
    can be listed (and have the same fill value), only those stored and those
    over the source's stored chunks: everywhere else both read as the fill
    value (a level added below computes to it there too)."""
    base = source.base if isinstance(source, AddedLevelReference) else source
    if not isinstance(base, SourceArray) or base.meta.object_codec:
        return arr.grid_indices()
    meta = base.meta
    if max(math.prod(arr.grid_counts), math.prod(meta.grid)) <= SPARSE_GRID:
        return arr.grid_indices()
    if _differs(np.asarray(meta.fill_scalar(), dtype=meta.dtype), arr.fill).any():
        return grid_indices(arr.grid_counts)
    stored = arr.stored_indices(out, path, MAX_LISTED)
    chunks = stored_chunk_indices(base.store, base.path, meta, MAX_LISTED)
    if stored is None or chunks is None:
        return grid_indices(arr.grid_counts)
    base.stored = frozenset(chunks)  # its other chunks are not asked for
    steps = source.steps if isinstance(source, AddedLevelReference) else []
    found = set(stored)
    for index in chunks:
        box = [(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, meta.chunks, meta.shape)]
        for _, axes, _ in steps:  # down to this level: halved along the axes of each step
            box = [(lo // 2, -(-hi // 2)) if a in axes else (lo, hi) for a, (lo, hi) in enumerate(box)]
        found.update(itertools.product(*(range(lo // g, (hi - 1) // g + 1) for (lo, hi), g in zip(box, arr.grid))))
    return sorted(found)


def compare_object(path: str, arr: V3Array, source, out: Store, index: tuple[int, ...]) -> str | None:
    """The first difference within one stored object, as a message; None when it matches."""
    try:
        for region, block in arr.blocks_at(out, path, index):
            expected = source.read_region(region)
            differs = _differs(expected, arr.fill if block is None else block)
            if differs.any():
                where = tuple(int(i) + r.start for i, r in zip(np.argwhere(differs)[0], region))
                local = tuple(i - r.start for i, r in zip(where, region))
                value = f"the fill value {_show(arr.fill)}" if block is None else _show(block[local])
                return (f"voxel {list(where)} differs from the source: output {value}, source {_show(expected[local])} "
                        f"({int(differs.sum())} differing voxels in the chunk at {[r.start for r in region]})")
    except DecodeError as e:
        return str(e)
    except UserError as e:  # a corrupt source chunk
        return f"the source cannot be read: {e}"
    return None
