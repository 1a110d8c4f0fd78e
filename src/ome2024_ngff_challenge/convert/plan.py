"""Reading the input yields a plan: the groups to write with their migrated
metadata, the arrays with their output layout, and the files to copy.

Everything else (a conversion on threads, the details JSON, the HPC scripts, a
dry run) is a view or an executor of this one plan.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, UserError, option
from ..ome import v04
from ..ome.migrate import migrate_attributes
from ..ome.spec import OME_KEYS, OME_XML
from ..stores.base import Store, join
from ..zarr.codecs import DEFAULT_COMPRESSION, KEEP, Compression
from ..zarr.data_types import item_nbytes, shardable
from ..zarr.v2 import SourceArray
from ..zarr.v3_metadata import (
    any_v3_data_type,
    array_metadata,
    group_metadata,
    v3_data_type,
)
from .details import details_by_path
from .layout import (
    MAX_AUTO_CHUNK_BYTES,
    Layout,
    auto_layout,
    check_multiple,
    fit_to_level,
    right_align,
)

LOG = logging.getLogger(__name__)


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
        return math.prod(self.grid)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.item_nbytes

    def task_indices(self):
        return itertools.product(*(range(n) for n in self.grid))

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
        )


def array_job(
    src: Store,
    path: str,
    compression: Compression,
    *,
    dimension_names: list[str] | None = None,
    attributes: dict | None = None,
    layout: Layout | None = None,
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
    source = SourceArray(src, path)
    meta = source.meta
    any_v3_data_type(meta.dtype, source.describe(), meta.object_codec)
    if attributes is None:
        attributes = src.get_json(join(path, ".zattrs"))
        if attributes is None:
            attributes = {}
        elif not isinstance(attributes, dict):
            msg = f"{src.describe(join(path, '.zattrs'))}: must hold a JSON object"
            raise InputError(msg)
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
    single_image: bool = False  # one image, no labels: the details JSON is a plain list

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays)

    @property
    def n_tasks(self) -> int:
        return sum(a.n_tasks for a in self.arrays)

    def tasks(self):
        """Every unit of work: (array number, shard grid index)."""
        for n, job in enumerate(self.arrays):
            for index in job.task_indices():
                yield n, index

    def details(self) -> list | dict:
        """The per-array layout, as `--output-write-details` writes it."""
        if self.single_image:
            return [a.layout.to_json(a.shape) for a in self.arrays]
        return {a.path: a.layout.to_json(a.shape) for a in self.arrays}


class Planner:
    """Walks a 0.4 hierarchy and collects the plan."""

    def __init__(self, src: Store, request: LayoutRequest, compression: Compression, creator: dict):
        self.src = src
        self.request = request
        self.compression = compression
        self.creator = creator
        self.plan = Plan()
        self._spatial: dict[str, tuple] = {}  # array path -> which axes are spatial

    # -- helpers -----------------------------------------------------------

    def where(self, path: str) -> str:
        return self.src.describe(path)

    def attrs(self, path: str) -> dict:
        attrs = self.src.get_json(join(path, ".zattrs"))
        if attrs is None:
            return {}
        if not isinstance(attrs, dict):
            msg = f"{self.where(join(path, '.zattrs'))}: must hold a JSON object"
            raise InputError(msg)
        return attrs

    def is_group(self, path: str) -> bool:
        return self.src.exists(join(path, ".zgroup"))

    def add_group(self, path: str, attrs: dict) -> None:
        has_ome = any(k in attrs for k in OME_KEYS)
        migrated = migrate_attributes(attrs, creator=self.creator if has_ome else None)
        self.plan.groups.append(GroupJob(path, migrated))

    # -- the walk ----------------------------------------------------------

    def walk(self) -> Plan:
        src = self.src
        if not src.exists(".zgroup"):
            if src.exists("zarr.json"):
                msg = f"{src.describe()}: already Zarr v3 (zarr.json found): nothing to convert"
                raise InputError(msg)
            if src.exists(".zarray"):
                msg = f"{src.describe()}: a single Zarr v2 array, not an OME-Zarr image, plate or bioformats2raw group"
                raise InputError(msg)
            dirs, files = src.list_dir("")
            if not dirs and not files:
                msg = f"{src.describe()}: does not exist or is empty"
                raise InputError(msg)
            msg = f"{src.describe()}: not a Zarr v2 group (no .zgroup)"
            raise InputError(msg)
        zgroup = src.get_json(".zgroup")
        if not isinstance(zgroup, dict) or zgroup.get("zarr_format") != 2:
            msg = f"{src.describe('.zgroup')}: not a Zarr v2 group (zarr_format is not 2)"
            raise InputError(msg)
        attrs = self.attrs("")
        if "plate" in attrs:
            self.plate("", attrs)
            self.ome_group_files()
        elif "bioformats2raw.layout" in attrs:
            self.bioformats2raw(attrs)
        elif "well" in attrs:
            self.well("", attrs)
        elif "multiscales" in attrs:
            self.image("", attrs, labels=True)
            self.plan.single_image = len(self.plan.groups) == 1
        else:
            msg = (
                f"{src.describe()}: not an OME-Zarr 0.4 image, plate or bioformats2raw dataset "
                "(.zattrs has no multiscales, plate, well or bioformats2raw.layout)"
            )
            raise InputError(msg)
        self.add_intermediate_groups()
        self.assign_layouts()
        return self.plan

    def add_intermediate_groups(self) -> None:
        """Zarr v3 has no implicit groups: a folder between two nodes (a dataset
        path such as 'level/1', a multi-part well path) becomes a group too."""
        groups = {g.path for g in self.plan.groups}
        for path in [g.path for g in self.plan.groups] + [a.path for a in self.plan.arrays]:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in groups:
                    groups.add(parent)
                    self.add_group(parent, self.attrs(parent))
        depth = {g.path: len([p for p in g.path.split("/") if p]) for g in self.plan.groups}
        self.plan.groups.sort(key=lambda g: depth[g.path])  # parents first

    def image(self, path: str, attrs: dict, *, labels: bool) -> None:
        where = self.where(path)
        v04.check_version(attrs, where)
        multiscales = v04.check_multiscales(attrs, where)
        self.add_group(path, attrs)
        seen = set()
        for ms in multiscales:
            names = v04.dimension_names(ms)
            for dataset in ms["datasets"]:
                ds = dataset["path"]
                if ds in seen:
                    continue
                seen.add(ds)
                self.add_array(join(path, ds), ds, names, ms, where)
        if labels and self.is_group(join(path, "labels")):
            self.labels(join(path, "labels"))

    def add_array(self, path: str, ds: str, names: list[str], ms: dict, where: str) -> None:
        if not self.src.exists(join(path, ".zarray")):
            kind = "a group, not an array" if self.is_group(path) else "missing"
            msg = f"{where}: multiscales dataset '{ds}' is {kind} ({self.where(path)})"
            raise InputError(msg)
        source = SourceArray(self.src, path)
        if len(source.meta.shape) != len(names):
            msg = (
                f"{where}: multiscales declares {len(names)} axes ({','.join(names)}) "
                f"but dataset '{ds}' has {len(source.meta.shape)} dimensions"
            )
            raise InputError(msg)
        v3_data_type(source.meta.dtype, source.describe())
        self.plan.arrays.append(
            ArrayJob(
                path=path,
                source=source,
                layout=Layout((1,), None),  # set by assign_layouts
                compression=self.compression,
                dimension_names=names,
                attributes=self.attrs(path),
            )
        )
        self._spatial[path] = tuple(
            a.get("type") == "space" if isinstance(a, dict) and "type" in a else None for a in ms["axes"]
        )

    def labels(self, path: str) -> None:
        attrs = self.attrs(path)
        where = self.where(path)
        names = v04.labels_list(attrs, where) if "labels" in attrs else []
        self.add_group(path, attrs)
        for name in names:
            label = join(path, name)
            if not self.is_group(label):
                msg = f"{where}: label image '{name}' is listed but has no group ({self.where(label)})"
                raise InputError(msg)
            self.image(label, self.attrs(label), labels=False)

    def plate(self, path: str, attrs: dict) -> None:
        where = self.where(path)
        v04.check_version(attrs, where)
        wells = v04.plate_wells(attrs, where)
        self.add_group(path, attrs)
        rows = []
        for well in wells:
            parts = well.split("/")
            for depth in range(1, len(parts)):
                row = "/".join(parts[:depth])
                if row not in rows:
                    rows.append(row)
        for row in rows:
            row_path = join(path, row)
            if not self.is_group(row_path):
                msg = f"{where}: plate well row '{row}' has no group ({self.where(row_path)})"
                raise InputError(msg)
            self.add_group(row_path, self.attrs(row_path))
        for well in wells:
            well_path = join(path, well)
            if not self.is_group(well_path):
                msg = f"{where}: plate lists well '{well}' but it has no group ({self.where(well_path)})"
                raise InputError(msg)
            self.well(well_path, self.attrs(well_path))

    def well(self, path: str, attrs: dict) -> None:
        where = self.where(path)
        v04.check_version(attrs, where)
        fields = v04.well_images(attrs, where)
        self.add_group(path, attrs)
        for name in fields:
            image = join(path, name)
            if not self.is_group(image):
                msg = f"{where}: well lists image '{name}' but it has no group ({self.where(image)})"
                raise InputError(msg)
            self.image(image, self.attrs(image), labels=True)

    def ome_group_files(self) -> dict | None:
        """The bioformats2raw OME group (series list and OME-XML), if present."""
        if not self.is_group("OME"):
            return None
        ome_attrs = self.attrs("OME")
        self.add_group("OME", ome_attrs)
        if self.src.exists(OME_XML):
            self.plan.copies.append(OME_XML)
        return ome_attrs

    def bioformats2raw(self, attrs: dict) -> None:
        self.add_group("", attrs)
        ome_attrs = self.ome_group_files()
        series = v04.bioformats2raw_series(ome_attrs)
        if series is None:
            series = []
            for n in itertools.count():
                if not self.is_group(str(n)):
                    break
                series.append(str(n))
        if not series:
            msg = f"{self.src.describe()}: bioformats2raw layout with no series (no OME/.zattrs series and no group '0')"
            raise InputError(msg)
        for name in series:
            if not self.is_group(name):
                msg = f"{self.where('OME')}: series '{name}' is listed but has no group ({self.where(name)})"
                raise InputError(msg)
            self.image(name, self.attrs(name), labels=True)

    # -- layouts -----------------------------------------------------------

    def assign_layouts(self) -> None:
        self.assign_requested_layouts()
        if self.compression is KEEP:
            for job in self.plan.arrays:
                self.keep_source_chunks(job)

    def keep_source_chunks(self, job: ArrayJob) -> None:
        """`--output-codec=keep`: copy compressed chunks unchanged where v3 can
        describe them and the inner chunks are the source's chunks; otherwise
        re-encode that array with the default codec, and say why. The vlen-utf8
        or vlen-bytes codec of a string or bytes array is no filter here: it is
        v3's array-to-bytes codec for them, and its bytes are the same."""
        meta = job.source.meta
        kept = Compression.from_v2(meta.compressor, meta.dtype) if not meta.filters else None
        reason = None
        if meta.filters:
            reason = "its chunks use filters"
        elif kept is None:
            reason = f"its compressor {meta.compressor.get('id')} has no Zarr v3 codec"
        else:
            chunks = right_align(job.layout.chunks, len(meta.shape))
            clipped = tuple(min(c, s) for c, s in zip(meta.chunks, meta.shape))
            if chunks not in (meta.chunks, clipped):
                reason = f"the output chunks {','.join(map(str, chunks))} differ from the source chunks"
        if reason is not None:
            LOG.warning("%s: re-encoding (not copying) because %s", job.source.describe(), reason)
            job.compression = DEFAULT_COMPRESSION
            return
        # v2 stores edge chunks whole, so the inner chunk is the source chunk even
        # where it is larger than the level; shards stay multiples of it
        shards = job.layout.shards
        if shards is not None:
            shards = tuple(
                c * max(1, min(sh // lc, math.ceil(s / c)))
                for c, lc, sh, s in zip(meta.chunks, job.layout.chunks, shards, meta.shape)
            )
        job.layout = Layout(meta.chunks, shards)
        job.compression = kept
        job.byte_copy = True

    def assign_requested_layouts(self) -> None:
        request = self.request
        from_details = details_by_path(request.details, [a.path for a in self.plan.arrays]) if request.details is not None else {}
        for job in self.plan.arrays:
            meta = job.source.meta
            where = job.source.describe()
            spatial = self._spatial.get(job.path)
            if spatial is not None and any(s is None for s in spatial):
                spatial = None
            if job.path in from_details:
                chunks, shards = from_details[job.path]
                if shards is not None:
                    check_multiple(right_align(chunks, len(meta.shape)), right_align(shards, len(meta.shape)), f"{option('details')} ({job.path})")
                job.layout = fit_to_level(chunks, shards, meta.shape)
                continue
            unsharded = request.shards == "none"
            if request.chunks is not None and isinstance(request.shards, tuple):
                job.layout = fit_to_level(request.chunks, request.shards, meta.shape)
            elif isinstance(request.shards, tuple):
                auto = auto_layout(meta.shape, meta.dtype.itemsize, meta.chunks, spatial, sharded=False)
                shards = right_align(request.shards, len(meta.shape))
                # the source's chunks serve as inner chunks where they divide the
                # requested shard (or the shard covers the whole axis anyway)
                ok = all(sh % c == 0 or sh >= s for sh, c, s in zip(shards, auto.chunks, meta.shape))
                if not ok:
                    msg = (
                        f"{where}: {option('shards', ','.join(map(str, request.shards)))} is not a multiple of "
                        f"the source chunks {','.join(map(str, auto.chunks))}; give {option('chunks')} too"
                    )
                    raise UserError(msg)
                per = tuple(
                    c * max(1, min(sh // c, math.ceil(s / c))) for sh, c, s in zip(shards, auto.chunks, meta.shape)
                )
                job.layout = Layout(auto.chunks, per)
            else:
                source_chunks = right_align(request.chunks, len(meta.shape)) if request.chunks else meta.chunks
                job.layout = auto_layout(
                    meta.shape,
                    meta.dtype.itemsize,
                    source_chunks,
                    spatial,
                    sharded=not unsharded,
                    # chunks the user gave are kept as given; only source chunks are split
                    # (and with --output-codec=keep, whatever their size)
                    chunk_limit=2**62 if request.chunks or self.compression is KEEP else MAX_AUTO_CHUNK_BYTES,
                )


def build_plan(src: Store, request: LayoutRequest, compression: Compression, creator: dict) -> Plan:
    request.check()
    return Planner(src, request, compression, creator).walk()
