"""Reading an OME-Zarr 0.4 input into a plan.

The walk follows the OME metadata (multiscales datasets, labels, plate rows,
wells and fields, bioformats2raw series), checking it as it goes, then lists
the whole input (where it can be listed) so that nothing below the root is
left out: groups and arrays the metadata does not name (tables, label images
missing from their list, a tool's own groups) are converted too, and every
other file is copied byte for byte. Defects of real writers are repaired where
the right value is unambiguous (``ome.repair``), each with a line saying so and
recorded in the plan; with ``repair=False`` each is an error instead.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import math
import os

from ..about import IN_PLACE_RECORD, INCOMPLETE_MARK, OUTPUT_RECORD
from ..errors import InputError, UserError, option
from ..ome import containers, older, repair, v04
from ..ome.migrate import migrate_attributes
from ..ome.spec import OME_KEYS, OME_XML
from ..stores.base import PARTIAL_MARK, Store, join
from ..stores.cached import Fetcher, ReadCache, metadata_keys
from ..zarr.codecs import DEFAULT_COMPRESSION, KEEP, Compression
from ..zarr.v2 import SourceArray
from ..zarr.v3_metadata import v3_data_type
from .details import details_by_path
from .layout import MAX_AUTO_CHUNK_BYTES, Layout, auto_layout, check_multiple, fit_to_level, right_align
from .container import plan_container
from .levels import AddedLevel, add_levels, writable
from .plan import ArrayJob, GroupJob, LayoutRequest, Plan, array_job, check_finite
from .source_slips import image_levels, zarray_slips

LOG = logging.getLogger("ome2024_ngff_challenge")
QUIET = logging.getLogger("ome2024_ngff_challenge.quiet")  # a source read again (validate --against)
QUIET.disabled = True
# Zarr v2 metadata files: converted, never copied
V2_METADATA = (".zgroup", ".zattrs", ".zarray")
# what a 0.5 view added in place beside the 0.4 metadata holds: never copied
# (a dual-format input converts as the 0.4 dataset it also is); nor the record
# of an output's files (the output has its own)
V3_VIEW_FILES = ("zarr.json", IN_PLACE_RECORD, INCOMPLETE_MARK, OUTPUT_RECORD)
CONSOLIDATED = ".zmetadata"


class Planner:
    """Walks a 0.4 hierarchy and collects the plan."""

    def __init__(self, src: Store, request: LayoutRequest, compression: Compression, creator: dict, *,
                 repair: bool = True, verbose: bool = True, in_place: bool = False, verify: bool = False,
                 add_levels: int | None = None):
        self.store = src  # where the arrays' chunks are read from
        # the metadata, fetched many at a time ahead of the walk (see prefetch_*)
        self.src = ReadCache(src)
        self.in_place = in_place  # describe the source's chunks where they are (no layout, no codec)
        self.verify = verify  # byte copies decode every chunk, even where a store could copy it unread
        # levels added below each image's smallest until y and x are at most this (None: none added)
        self.add_levels = add_levels
        if add_levels is not None and in_place:
            msg = f"{src.describe()}: {option('add_levels')} does not go with {option('in_place')} (the view adds no data)"
            raise UserError(msg)
        self.request = request
        self.compression = compression
        self.creator = creator
        self.repair = repair
        self.log = LOG if verbose else QUIET  # what it finds and repairs, said once per conversion
        self.plan = Plan()
        self._spatial: dict[str, tuple] = {}  # array path -> which axes are spatial
        self.container_kind: str | None = None  # the kind of container store (``ome.containers``), if one

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
        check_finite(attrs, self.where(join(path, ".zattrs")))
        return attrs

    def is_group(self, path: str) -> bool:
        return self.src.exists(join(path, ".zgroup"))

    def add_group(self, path: str, attrs: dict) -> None:
        has_ome = any(k in attrs for k in OME_KEYS)
        migrated = migrate_attributes(attrs, creator=self.creator if has_ome else None)
        self.plan.groups.append(GroupJob(path, migrated))

    def repaired(self, path: str, notes: list[str]) -> None:
        """Record the repairs made to the group at ``path`` (or refuse them)."""
        for note in notes:
            if not self.repair:
                what = "metadata" if note.startswith("OME-NGFF") else "invalid OME-Zarr 0.4"
                msg = (f"{self.where(path)}: {what} that would be repaired ({note}); "
                       f"not converted because of {option('no_repair')}")
                raise InputError(msg)
            self.log.warning("%s: repaired: %s", self.where(path), note)
            self.plan.repairs.append((path, note))

    # -- the walk ----------------------------------------------------------

    def walk(self) -> Plan:
        src = self.src
        # the first round: the root's metadata, and its listing (which the walk
        # of unreferenced files needs too, and which answers later probes)
        src.prefetch([".zgroup", ".zattrs"], listings=[""])
        if not src.exists(".zgroup"):
            if src.exists("zarr.json"):
                msg = f"{src.describe()}: already Zarr v3 (zarr.json found): nothing to convert"
                raise InputError(msg)
            if src.exists(".zarray"):
                msg = f"{src.describe()}: a single Zarr v2 array, not an OME-Zarr image, plate or bioformats2raw group"
                raise InputError(msg)
            dirs, files = src.list_dir("")
            if not dirs and not files:
                root = src.local_path()
                if root is not None and os.path.lexists(root) and not os.path.isdir(root):
                    msg = (f"{src.describe()}: a file (or a device), not a folder: an OME-Zarr dataset is a folder "
                           "(one in a ZIP file must be unzipped first)")
                    raise InputError(msg)
                msg = f"{src.describe()}: does not exist or is empty"
                raise InputError(msg)
            msg = f"{src.describe()}: not a Zarr v2 group (no .zgroup)"
            raise InputError(msg)
        self.check_root_zgroup(src.get_json(".zgroup"))
        attrs = self.attrs("")
        if "plate" in attrs:
            self.plate("", attrs)
            self.ome_group_files()
        elif "bioformats2raw.layout" in attrs:
            self.bioformats2raw(attrs)
        elif "well" in attrs:
            self.well("", attrs)
        elif "multiscales" in attrs:
            self.prefetch_images([""])
            self.image("", attrs, labels=True)
            self.plan.single_image = len(self.plan.groups) == 1
        else:
            self.container(attrs)
            return self.plan
        self.add_unreferenced()
        self.add_intermediate_groups()
        self.assign_layouts()
        self.log.debug("%s: metadata read in %d requests, %d rounds", src.describe(), src.requests, src.rounds)
        return self.plan

    def check_root_zgroup(self, zgroup) -> None:
        """The root's .zgroup says Zarr v2; the string "2" (webknossos writes
        it in every .zgroup) is read as 2, a repair."""
        where = self.src.describe(".zgroup")
        if isinstance(zgroup, dict) and zgroup.get("zarr_format") == "2":
            self.repaired("", ['.zgroup: zarr_format "2" (a string) read as 2'])
            return
        if not isinstance(zgroup, dict) or zgroup.get("zarr_format") != 2:
            msg = f"{where}: not a Zarr v2 group (zarr_format is not 2)"
            raise InputError(msg)

    def container(self, attrs: dict) -> None:
        """A plain root group: a container store (see ``container``)."""
        plan_container(self, attrs)

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

    def image(self, path: str, attrs: dict, *, labels: bool, is_label: bool = False,
              add: int | None = None) -> None:
        """An image group (``is_label``: a label image); ``add``: how many
        levels to add below its smallest (a label image's: its image's), or
        None for as many as ``add_levels`` needs."""
        where = self.where(path)
        attrs, version = self.versions(path, attrs)
        was_older = older.is_older(attrs, version)
        if was_older:
            attrs, notes = older.image_to_v04(attrs, version, image_levels(self.src, path, attrs, self.attrs), where)
            self.repaired(path, notes)
        if is_label:
            attrs, notes = repair.empty_image_label_lists(attrs)
            self.repaired(path, notes)
        attrs, listed, notes = repair.labels_on_image(attrs)
        self.repaired(path, notes)
        if self.container_kind != containers.SPATIALDATA:  # its library reads them: kept there
            attrs, notes = containers.without_coordinate_systems(attrs)
            self.repaired(path, notes)
            attrs, notes = repair.omero_label_strings(attrs)
            self.repaired(path, notes)
        attrs, notes = repair.null_omero(attrs)
        self.repaired(path, notes)
        v04.check_version(attrs, where)
        multiscales = v04.check_multiscales(attrs, where)
        shapes, dtype, slips = {}, None, {}
        for ms in multiscales:
            names = v04.dimension_names(ms)
            for dataset in ms["datasets"]:
                ds = dataset["path"]
                if ds not in shapes:
                    job = self.add_array(join(path, ds), ds, names, ms, where)
                    shapes[ds], dtype = job.shape, dtype or job.source.meta.dtype
                    for note in zarray_slips(self.src, job.path, job.source, probe=was_older):
                        slips.setdefault(note, []).append(ds)
        self.repaired(path, [f"{note} (datasets {', '.join(names)})" for note, names in slips.items()])
        attrs, notes = repair.identity_transforms(attrs, shapes, where)
        self.repaired(path, notes)
        attrs, notes = repair.unordered_level_scales(attrs, shapes, where)
        self.repaired(path, notes)
        attrs, notes = repair.untyped_axes(attrs)
        self.repaired(path, notes)
        attrs, notes = repair.omero_channel_defaults(attrs, dtype)
        self.repaired(path, notes)
        added = 0
        if self.add_levels is not None:
            attrs, added = self.added_levels(path, attrs, add, is_label=is_label or "image-label" in attrs)
        self.add_group(path, attrs)
        if labels and self.is_group(join(path, "labels")):
            self.labels(join(path, "labels"), listed, added if self.add_levels is not None else None)

    def versions(self, path: str, attrs: dict) -> tuple[dict, str | None]:
        """The group with its versions read as the specification's (a tool's
        suffix dropped, with a warning), and the group's version."""
        attrs, version, notes = older.read_versions(attrs)
        for note in notes:
            self.log.warning("%s: %s", self.where(path), note)
        return attrs, version

    def added_levels(self, path: str, attrs: dict, count: int | None, *, is_label: bool) -> tuple[dict, int]:
        """The levels added below the image's smallest (``levels``): planned
        as arrays after it; the attributes that list them and how many."""
        ms = attrs["multiscales"][0]
        last = join(path, ms["datasets"][-1]["path"])
        parent = next(a for a in reversed(self.plan.arrays) if a.path == last)
        taken = set(self.src.list_dir(path)[0]) if self.src.supports_listing else set()
        attrs, jobs = add_levels(path, attrs, parent, self.add_levels, count, is_label=is_label, taken=taken,
                                 where=self.where(path))
        for job in jobs:
            self._spatial[job.path] = self._spatial.get(last)
            self.plan.arrays.append(job)
        if jobs:
            self.log.info("%s: %d levels added below '%s' (%s)", self.where(path), len(jobs), last,
                          ", ".join(",".join(map(str, j.shape)) for j in jobs))
        return attrs, len(jobs)

    def add_array(self, path: str, ds: str, names: list[str], ms: dict, where: str) -> ArrayJob:
        if not self.src.exists(join(path, ".zarray")):
            kind = "a group, not an array" if self.is_group(path) else "missing"
            msg = f"{where}: multiscales dataset '{ds}' is {kind} ({self.where(path)})"
            raise InputError(msg)
        source = SourceArray(self.store, path, self.src)
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
        return self.plan.arrays[-1]

    def labels(self, path: str, listed: list[str] | None = None, add: int | None = None) -> None:
        """A labels group; ``listed``: the label list its image held instead
        (moved here, a repair). A group that lists nothing gets the label images
        found in it (child groups with multiscales), a repair too. ``add``:
        levels added below each label image's smallest (its image's count)."""
        attrs = self.attrs(path)
        where = self.where(path)
        if listed is not None and "labels" not in attrs:
            attrs = {**attrs, "labels": listed}
        if "labels" not in attrs:
            found = self.label_images_in(path)
            if found:
                attrs = {**attrs, "labels": found}
                self.repaired(path, [f"the labels group lists no label images; found and listed {found}"])
        names = v04.labels_list(attrs, where) if "labels" in attrs else []
        self.add_group(path, attrs)
        for name in names:
            label = self.listed_group(path, name, f"label image '{name}' is listed but")
            self.image(label, self.attrs(label), labels=False, is_label=True, add=add)

    def listed_group(self, parent: str, name: str, what: str) -> str:
        """The path of a group ``parent`` lists; InputError when it has no group."""
        path = join(parent, name)
        if not self.is_group(path):
            msg = f"{self.where(parent)}: {what} has no group ({self.where(path)})"
            raise InputError(msg)
        return path

    # -- fetching ahead: each round sends its requests at once --------------------

    @property
    def group_files(self) -> tuple[str, ...]:
        """What to fetch of a group whose folder is listed in the same round:
        where the store can list, the listing says whether it holds a
        ``.zgroup`` (whose content, ``{"zarr_format": 2}``, only the root's
        matters), so only its attributes are read."""
        return (".zattrs",) if self.src.supports_listing else (".zgroup", ".zattrs")

    def prefetch_images(self, paths: list[str]) -> None:
        """The metadata the walk of these images (and their labels) will read
        (see fetch_image)."""
        with self.src.fetching() as fetcher:
            for path in paths:
                self.fetch_image(fetcher, path)

    def prefetch_wells(self, path: str, wells: list[str], rows: list[str]) -> None:
        """The plate's rows and wells (listed too), each well's fields as soon
        as the well's metadata is there, and so on down (see fetch_image)."""
        with self.src.fetching() as fetcher:
            folders = [join(path, p) for p in rows]
            fetcher.fetch(metadata_keys(folders, self.group_files), listings=folders)
            for well in wells:
                well_path = join(path, well)
                fetcher.fetch(metadata_keys([well_path], self.group_files), listings=[well_path],
                              then=functools.partial(self.fetch_fields, fetcher, well_path))

    def fetch_fields(self, fetcher: Fetcher, well: str) -> None:
        with contextlib.suppress(UserError):  # the walk says what is wrong, in its order
            about = self.attrs(well).get("well")
            images = about.get("images") if isinstance(about, dict) else None
            if isinstance(images, list):
                for i in images:
                    if isinstance(i, dict) and isinstance(i.get("path"), str):
                        self.fetch_image(fetcher, join(well, i["path"]))

    def fetch_image(self, fetcher: Fetcher, path: str) -> None:
        """The image's own metadata, with its folder listed (the walk of
        unreferenced files lists it too, and the listing answers the probes
        that follow); then its arrays' metadata and its labels group (where
        the listing does not say there is none); then its label images."""
        fetcher.fetch(metadata_keys([path], self.group_files), listings=[path],
                      then=functools.partial(self.fetch_image_parts, fetcher, path))

    def fetch_image_parts(self, fetcher: Fetcher, path: str) -> None:
        keys = []
        with contextlib.suppress(UserError):
            multiscales = self.attrs(path).get("multiscales")
            for ms in multiscales if isinstance(multiscales, list) else []:
                datasets = ms.get("datasets") if isinstance(ms, dict) else None
                for ds in datasets if isinstance(datasets, list) else []:
                    if isinstance(ds, dict) and isinstance(ds.get("path"), str):
                        keys += metadata_keys([join(path, ds["path"])], (".zarray", ".zattrs"))
        labels = join(path, "labels")
        fetcher.fetch(keys + metadata_keys([labels], self.group_files), listings=[labels],
                      then=functools.partial(self.fetch_label_images, fetcher, labels))

    def fetch_label_images(self, fetcher: Fetcher, labels: str) -> None:
        with contextlib.suppress(UserError):
            names = self.attrs(labels).get("labels")
            if isinstance(names, list):
                for name in names:
                    if isinstance(name, str):
                        self.fetch_image(fetcher, join(labels, name))

    def label_images_in(self, path: str) -> list[str]:
        if not self.src.supports_listing:
            return []
        dirs, _ = self.src.list_dir(path)
        return [name for name in dirs if self.is_group(join(path, name))
                and "multiscales" in self.attrs(join(path, name))]

    def plate(self, path: str, attrs: dict) -> None:
        where = self.where(path)
        attrs, version = self.versions(path, attrs)
        if version in (*older.OLDER, None, "0.4"):
            attrs, notes = older.plate_to_v04(attrs, version, where)
            self.repaired(path, notes)
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
        self.prefetch_wells(path, wells, rows)
        for row in rows:
            row_path = self.listed_group(path, row, f"plate well row '{row}'")
            self.add_group(row_path, self.attrs(row_path))
        for well in wells:
            well_path = self.listed_group(path, well, f"plate lists well '{well}' but it")
            self.well(well_path, self.attrs(well_path))

    def well(self, path: str, attrs: dict) -> None:
        where = self.where(path)
        attrs, version = self.versions(path, attrs)
        if version in older.OLDER:
            attrs = older.well_to_v04(attrs)
        v04.check_version(attrs, where)
        fields = v04.well_images(attrs, where)
        self.add_group(path, attrs)
        for name in fields:
            image = self.listed_group(path, name, f"well lists image '{name}' but it")
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
        series = v04.bioformats2raw_series(ome_attrs, self.where(join("OME", ".zattrs")))
        if series is None:
            series = []
            for n in itertools.count():
                if not self.is_group(str(n)):
                    break
                series.append(str(n))
        if not series:
            msg = f"{self.src.describe()}: bioformats2raw layout with no series (no OME/.zattrs series and no group '0')"
            raise InputError(msg)
        self.prefetch_images(series)
        for name in series:
            if not self.is_group(name):
                msg = f"{self.where('OME')}: series '{name}' is listed but has no group ({self.where(name)})"
                raise InputError(msg)
            self.image(name, self.attrs(name), labels=True)

    # -- the rest of the hierarchy ---------------------------------------------

    def add_unreferenced(self) -> None:
        """Every group, array and file below the root that the OME walk did not
        reach: groups and arrays converted, other files copied as they are."""
        src = self.src
        if not src.supports_listing:
            self.log.warning("%s: cannot be listed (HTTP): groups, arrays and files that the OME metadata does not "
                        "reference cannot be found and are not converted", src.describe())
            return
        arrays = {a.path for a in self.plan.arrays}
        known = {g.path for g in self.plan.groups} | arrays
        copies = set(self.plan.copies)
        found: dict[str, list[str]] = {"groups": [], "arrays": [], "files": [], "consolidated": []}

        def visit(path: str, dirs: list[str], files: list[str]) -> list[str]:
            """Take in one folder; the folders below it still to visit."""
            if path not in known and ".zarray" in files:
                self.add_plain_array(path)
                found["arrays"].append(path)
                return []  # its folders hold chunks
            if path and path not in known and ".zgroup" in files:
                attrs = self.attrs(path)
                if "multiscales" in attrs or "plate" in attrs:
                    # an image (a plate) the metadata does not name: converted as one
                    if "multiscales" in attrs:
                        self.image(path, attrs, labels=True)
                    else:
                        self.plate(path, attrs)
                    arrays.update(a.path for a in self.plan.arrays)
                    known.update(g.path for g in self.plan.groups)
                    known.update(arrays)
                else:
                    self.add_group(path, attrs)
                found["groups"].append(path)
            for name in files:
                key = join(path, name)
                if name in V2_METADATA or name in V3_VIEW_FILES or key in copies \
                        or (name.startswith(".") and PARTIAL_MARK in name):
                    continue
                if name == CONSOLIDATED:
                    found["consolidated"].append(key)
                    continue
                self.store.local_file(key)  # a local file refused (a link out, a FIFO): before anything is written
                self.plan.copies.append(key)
                found["files"].append(key)
            # a converted array's folder holds its chunks: not visited
            return [child for child in (join(path, d) for d in dirs) if child not in arrays]

        # breadth first: every folder of a level is listed at once
        level = [""]
        while level:
            self.src.prefetch_listings(level)
            below = []
            for path in level:
                dirs, files = src.list_dir(path)
                below += visit(path, dirs, files)
            level = below

        for kind in ("groups", "arrays", "files"):
            if found[kind]:
                what = "copied as they are" if kind == "files" else "converted"
                self.log.info("%s: %d %s that the OME metadata does not reference %s (%s)", src.describe(),
                         len(found[kind]), kind, what, ", ".join(found[kind][:5]) + (" ..." if len(found[kind]) > 5 else ""))
        if found["consolidated"]:
            self.log.warning("%s: consolidated metadata (%s) not carried over: it repeats the metadata of each "
                        "group and array, which Zarr v3 readers read from their zarr.json", src.describe(),
                        ", ".join(found["consolidated"][:5]) + (" ..." if len(found["consolidated"]) > 5 else ""))

    def add_plain_array(self, path: str) -> ArrayJob:
        """An array outside any image (a table column, a tool's array), of any
        data type Zarr v3 holds: its axes are named by xarray's
        ``_ARRAY_DIMENSIONS`` when it has them, else not at all."""
        attrs = self.attrs(path)
        job = array_job(self.store, path, self.compression, attributes=attrs, meta_store=self.src)
        self.repaired(path, zarray_slips(self.src, path, job.source))
        names = attrs.get("_ARRAY_DIMENSIONS")
        if isinstance(names, list) and len(names) == len(job.shape) and all(isinstance(n, str) for n in names):
            job.dimension_names = names
        self.plan.arrays.append(job)
        return job

    # -- layouts -----------------------------------------------------------

    def assign_layouts(self) -> None:
        if self.in_place:
            self.describe_in_place()
            return
        self.assign_requested_layouts()
        if self.compression is KEEP:
            for job in self.plan.arrays:  # a level before the levels added below it
                if isinstance(job, AddedLevel):
                    job.compression = writable(job.parent.compression)
                else:
                    self.keep_source_chunks(job)

    def v3_encoding(self, job: ArrayJob) -> tuple[Compression | None, str]:
        """The Zarr v3 codec that decodes the array's stored chunks as they are,
        or None and why there is none."""
        meta = job.source.meta
        if meta.filters:
            names = ", ".join(str(f.get("id")) for f in meta.filters)
            return None, f"its chunks use filters ({names}), which no registered Zarr v3 codec describes"
        kept = Compression.from_v2(meta.compressor, meta.dtype)
        if kept is None:
            c = meta.compressor or {}
            what = str(c.get("id"))
            if c.get("id") == "blosc":
                what += f" (cname {c.get('cname')}, shuffle {c.get('shuffle')})"
            return None, f"its compressor {what} has no Zarr v3 codec"
        return kept, ""

    def keep_source_chunks(self, job: ArrayJob) -> None:
        """`--output-codec=keep`: copy compressed chunks unchanged where v3 can
        describe them and the inner chunks are the source's chunks; otherwise
        re-encode that array with the default codec, and say why. The vlen-utf8
        or vlen-bytes codec of a string or bytes array is no filter here: it is
        v3's array-to-bytes codec for them, and its bytes are the same.
        Unsharded, such a copy may be made without reading the chunks (``link``)."""
        meta = job.source.meta
        kept, reason = self.v3_encoding(job)
        if kept is not None:
            chunks = right_align(job.layout.chunks, len(meta.shape))
            clipped = tuple(min(c, s) for c, s in zip(meta.chunks, meta.shape))
            if chunks not in (meta.chunks, clipped):
                reason = f"the output chunks {','.join(map(str, chunks))} differ from the source chunks"
        if reason:
            self.log.warning("%s: re-encoding (not copying) because %s", job.source.describe(), reason)
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
        job.link = shards is None and not self.verify

    def describe_in_place(self) -> None:
        """The in-place view: every array described as it is stored (its own
        chunks, codec and v2 chunk keys, unsharded). All or nothing: one array v3
        cannot describe refuses the whole view, before anything is written."""
        refused = []
        for job in self.plan.arrays:
            kept, reason = self.v3_encoding(job)
            if kept is None:
                refused.append((job, reason))
                continue
            meta = job.source.meta
            job.layout = Layout(meta.chunks, None)
            job.compression = kept
            job.byte_copy = True
            job.chunk_key_encoding = ("v2", meta.separator)
        if refused:
            job, reason = refused[0]
            more = f" (and {len(refused) - 1} more arrays)" if len(refused) > 1 else ""
            msg = (f"{job.source.describe()}: cannot be viewed as Zarr v3 in place: {reason}{more}; nothing was "
                   "added; convert it to a new place instead (resave INPUT OUTPUT), which re-encodes such arrays")
            raise InputError(msg)

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
                auto = auto_layout(meta.shape, job.item_nbytes, meta.chunks, spatial, sharded=False)
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
                    job.item_nbytes,
                    source_chunks,
                    spatial,
                    sharded=not unsharded,
                    # chunks the user gave are kept as given; only source chunks are split
                    # (and with --output-codec=keep, whatever their size)
                    chunk_limit=2**62 if request.chunks or self.compression is KEEP else MAX_AUTO_CHUNK_BYTES,
                )


def build_plan(src: Store, request: LayoutRequest, compression: Compression, creator: dict, *,
               repair: bool = True, in_place: bool = False, verify: bool = False,
               add_levels: int | None = None) -> Plan:
    request.check()
    return Planner(src, request, compression, creator, repair=repair, in_place=in_place, verify=verify,
                   add_levels=add_levels).walk()
