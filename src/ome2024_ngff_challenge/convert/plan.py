"""The plan of a conversion: the groups to write with their migrated metadata,
the arrays with their output layout, the files to copy and the repairs made
(the ``planner`` reads it from the input).

Everything else (a conversion on threads, the details JSON, the HPC scripts, a
dry run) is a view or an executor of this one plan.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, option
from ..json_values import non_finite_problem
from ..stores.base import Store, join
from ..zarr.chunk_keys import MAX_LISTED, SPARSE_GRID, grid_indices
from ..zarr.codecs import Compression
from ..zarr.data_types import item_nbytes, shardable
from ..zarr.v2 import SourceArray, stored_chunk_indices
from ..zarr.v3_metadata import any_v3_data_type, array_metadata, group_metadata
from .layout import Layout, auto_layout, check_multiple, right_align


def check_finite(attributes: dict, where: str) -> None:
    """Attributes we will write back hold no NaN or infinity (InputError naming where)."""
    problem = non_finite_problem(attributes)
    if problem is not None:
        raise InputError(f"{where}: {problem}")


@dataclass
class LayoutRequest:
    """What the user asked for the output layout (all optional)."""

    chunks: tuple[int, ...] | None = None
    shards: tuple[int, ...] | str | None = None  # "none": unsharded
    details: list | dict | None = None  # parsed --output-read-details

    def check(self) -> None:
        if isinstance(self.chunks, tuple) and isinstance(self.shards, tuple):
            n = max(len(self.chunks), len(self.shards))
            check_multiple(right_align(self.chunks, n), right_align(self.shards, n), option("shards"))


@dataclass
class ArrayJob:
    """One output array: where it comes from and how it is laid out."""

    path: str  # the same relative path in the input and the output
    source: SourceArray
    layout: Layout
    compression: Compression
    dimension_names: list[str] | None
    attributes: dict = field(default_factory=dict)  # the source array's own .zattrs
    byte_copy: bool = False  # inner chunks are the source's stored chunks, copied as they are
    # unsharded byte copy whose chunks a store may copy without reading them
    # (hard links, server-side copies): not decoded to check them
    link: bool = False
    # (name, separator) of the v3 chunk keys: ("v2", "/") describes a v2
    # array's own chunks where they are (the in-place view)
    chunk_key_encoding: tuple[str, str] = ("default", "/")

    def __setattr__(self, name: str, value) -> None:
        # structured and raw bytes arrays are never sharded: zarr-python 3 could
        # not read them (data_types.shardable); their chunks are the stored objects
        if name == "layout" and value.shards is not None and not shardable(self.source.meta.dtype):
            value = Layout(value.chunks, None)
        super().__setattr__(name, value)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.source.meta.shape

    @property
    def stage(self) -> int:
        """When its tasks may run: after every task of the earlier stages (an
        array computed from another array of the output, ``levels``, comes
        after it); an array read from the input only is in stage 0."""
        return 0

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype in memory (object for strings and bytes: see ``vlen``)."""
        return self.source.meta.dtype

    @property
    def vlen(self) -> str | None:
        """Object arrays: "vlen-utf8" (strings) or "vlen-bytes" (bytes); else None."""
        return self.source.meta.object_codec

    @property
    def data_type(self) -> str | dict:
        """The Zarr v3 data_type written."""
        return any_v3_data_type(self.dtype, self.source.describe(), self.vlen)

    @property
    def item_nbytes(self) -> int:
        """Bytes per item in memory (an estimate for strings and bytes)."""
        return item_nbytes(self.dtype)

    @property
    def fill(self) -> np.ndarray:
        return self.source.meta.fill_scalar()

    @property
    def write_shape(self) -> tuple[int, ...]:
        """The shape one task writes: a shard, or a chunk when unsharded."""
        return self.layout.shards if self.layout.shards is not None else self.layout.chunks

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(s / w) for s, w in zip(self.shape, self.write_shape))

    @property
    def n_tasks(self) -> int:
        listed = self._listed_tasks()
        return len(listed) if listed is not None else math.prod(self.grid)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.item_nbytes

    def task_indices(self):
        """The grid indices of the shards to write: every shard of the grid,
        or, for an array whose source chunk grid is huge, those holding a
        stored source chunk (the others hold only the fill value: not written)."""
        listed = self._listed_tasks()
        return iter(listed) if listed is not None else grid_indices(self.grid)

    def _listed_tasks(self) -> list[tuple[int, ...]] | None:
        """For a source of more than SPARSE_GRID chunks: the shards its stored
        chunks fall in, from one listing (cached for the current layout);
        None otherwise, or when the store cannot list them."""
        meta = self.source.meta
        if not isinstance(self.source, SourceArray) or math.prod(meta.grid) <= SPARSE_GRID:
            return None  # a level added below the smallest is computed, not read: its whole grid
        cached = self.__dict__.get("_listed")
        if cached is not None and cached[0] == self.write_shape:
            return cached[1]
        stored = stored_chunk_indices(self.source.store, self.source.path, meta, MAX_LISTED)
        tasks = None
        if stored is not None:
            self.source.stored = frozenset(stored)
            found = set()
            for index in stored:
                ranges = []
                for i, c, w, s in zip(index, meta.chunks, self.write_shape, self.shape):
                    lo, hi = i * c, min((i + 1) * c, s)
                    ranges.append(range(lo // w, (hi - 1) // w + 1))
                found.update(itertools.product(*ranges))
            tasks = sorted(found)
        self.__dict__["_listed"] = (self.write_shape, tasks)
        return tasks

    def task_nbytes(self, index: tuple[int, ...]) -> int:
        """Uncompressed bytes of the array inside the task at ``index``."""
        n = self.item_nbytes
        for i, w, s in zip(index, self.write_shape, self.shape):
            n *= min(w, s - i * w)
        return n

    def zarr_json(self, extra_attributes: dict | None = None) -> dict:
        return array_metadata(
            shape=self.shape,
            dtype=self.dtype,
            fill=self.fill,
            chunks=self.layout.chunks,
            shards=self.layout.shards,
            compression=self.compression,
            dimension_names=self.dimension_names,
            attributes={**self.attributes, **(extra_attributes or {})},
            where=self.source.describe(),
            fortran_chunks=self.byte_copy and self.source.meta.order == "F",
            vlen=self.vlen,
            chunk_key_encoding=self.chunk_key_encoding,
        )


def array_job(
    src: Store,
    path: str,
    compression: Compression,
    *,
    dimension_names: list[str] | None = None,
    attributes: dict | None = None,
    layout: Layout | None = None,
    meta_store: Store | None = None,
) -> ArrayJob:
    """The job of converting the Zarr v2 array at ``path`` of ``src`` (any
    array: an image level, or a table column no OME metadata names) of any data
    type Zarr v3 can hold (numbers, strings, bytes, flat structured types).

    The array's metadata is read and checked here: an array that cannot be
    converted is refused with one line naming it and saying why (InputError).
    ``attributes`` default to the array's own ``.zattrs``; ``layout`` to the
    automatic one (the source chunks, split if too large, in shards of up to
    256 MiB); ``Planner.assign_layouts`` replaces it with what the user asked.
    With ``compression`` KEEP the caller runs ``Planner.keep_source_chunks``.
    """
    source = SourceArray(src, path, meta_store)
    meta = source.meta
    any_v3_data_type(meta.dtype, source.describe(), meta.object_codec)
    if attributes is None:
        attributes = (meta_store or src).get_json(join(path, ".zattrs"))
        if attributes is None:
            attributes = {}
        elif not isinstance(attributes, dict):
            msg = f"{src.describe(join(path, '.zattrs'))}: must hold a JSON object"
            raise InputError(msg)
        check_finite(attributes, src.describe(join(path, ".zattrs")))
    if layout is None:
        layout = auto_layout(meta.shape, item_nbytes(meta.dtype), meta.chunks)
    return ArrayJob(path, source, layout, compression, dimension_names, attributes)


@dataclass
class GroupJob:
    path: str
    attributes: dict

    def zarr_json(self) -> dict:
        return group_metadata(self.attributes)


@dataclass
class Plan:
    groups: list[GroupJob] = field(default_factory=list)  # parents before children
    arrays: list[ArrayJob] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)  # keys copied byte for byte
    # files written with new content instead of copied: a container's own
    # format markers (``ome.containers``), key -> bytes
    rewrites: dict[str, bytes] = field(default_factory=dict)
    # the root's zarr.json consolidates every node's metadata (as spatialdata
    # writes it: its readers find the elements of a store that cannot be listed)
    consolidate: bool = False
    single_image: bool = False  # one image, no labels: the details JSON is a plain list
    repairs: list[tuple[str, str]] = field(default_factory=list)  # (group path, what was repaired)

    def repairs_for(self, path: str) -> list[str]:
        """The repairs of the groups that hold the node at ``path`` (or are it)."""
        return [f"{group or '.'}: {note}" for group, note in self.repairs
                if not group or path == group or path.startswith(group + "/")]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays)

    @property
    def n_tasks(self) -> int:
        return sum(a.n_tasks for a in self.arrays)

    @property
    def n_stages(self) -> int:
        return 1 + max((a.stage for a in self.arrays), default=0)

    def tasks(self, stage: int | None = None):
        """Every unit of work: (array number, shard grid index), stage after
        stage; with ``stage``, only that stage's. A task may read what the
        tasks of earlier stages wrote: an executor starts a stage's tasks
        only once every task of the stages before it is done."""
        for s in range(self.n_stages) if stage is None else (stage,):
            for n, job in enumerate(self.arrays):
                if job.stage == s:
                    for index in job.task_indices():
                        yield n, index

    def details(self) -> list | dict:
        """The per-array layout, as `--output-write-details` writes it."""
        if self.single_image:
            return [a.layout.to_json(a.shape) for a in self.arrays]
        return {a.path: a.layout.to_json(a.shape) for a in self.arrays}
