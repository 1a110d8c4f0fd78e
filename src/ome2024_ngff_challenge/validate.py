"""`ome2024-ngff-challenge validate TARGET [--against SOURCE]`.

Walks an OME-Zarr 0.5 dataset from its top ``zarr.json`` the way a reader does
(following multiscales datasets, labels, plate rows, wells and fields, and
bioformats2raw series; never listing folders, so HTTP targets work), checks
every group and array against the 0.5 and Zarr v3 rules (``v05_rules``,
``v3_array``), checks the RO-Crate the challenge asks for, and with
``--against`` decodes every voxel of the output and compares its bit pattern
with the OME-Zarr 0.4 source, one inner chunk at a time.

Each problem is one line ``error: LOCATION: what`` or ``warning: ...``; then a
summary. The exit status is 0 only when there is no error.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sys
import xml.etree.ElementTree as ET
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import v05_rules as rules
from . import INCOMPLETE_MARK
from .errors import UserError
from .rocrate_meta import METADATA_ID, read_crate_info, validate_license, validate_modality, validate_organism
from .stores import Store, join
from .v3_array import DecodeError, V3Array, parse_array_meta

LOG = logging.getLogger("ome2024_ngff_challenge")
OME_XML = "OME/METADATA.ome.xml"
MAX_XML_PARSE = 256 * 2**20
# --against: stored objects compared at once (each holds one compressed shard
# plus one decoded inner chunk), bounded by count and by uncompressed size
MAX_COMPARE_THREADS = 8
MAX_COMPARE_BYTES = 1024 * 2**20
INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


@dataclass
class Report:
    store: Store
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    groups: int = 0
    arrays: int = 0
    compared: int = 0
    _seen: set = field(default_factory=set)

    def add(self, level: str, path: str, message: str) -> None:
        key = (level, path, message)
        if key in self._seen:
            return
        self._seen.add(key)
        entry = {"path": path or ".", "location": self.store.describe(path), "message": message}
        (self.errors if level == rules.ERROR else self.warnings).append(entry)

    def error(self, path: str, message: str) -> None:
        self.add(rules.ERROR, path, message)

    def warn(self, path: str, message: str) -> None:
        self.add(rules.WARNING, path, message)

    def extend(self, path: str, problems) -> None:
        for level, message in problems:
            self.add(level, path, message)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self, against: bool) -> dict:
        out = {"valid": self.valid, "errors": self.errors, "warnings": self.warnings,
               "groups": self.groups, "arrays": self.arrays}
        if against:
            out["compared"] = self.compared
        return out

    def summary(self, against: bool) -> str:
        compared = f", {self.compared} compared voxel by voxel with the source" if against else ""
        return (f"{'valid' if self.valid else 'invalid'}: {self.groups} groups, {self.arrays} arrays checked"
                f"{compared}, {len(self.errors)} errors, {len(self.warnings)} warnings")


@dataclass
class ImageInfo:
    """An image as its labels are compared with it."""

    axes: list[str]
    types: list
    shapes: list[tuple[int, ...] | None]


class Validator:
    """One walk over a 0.5 hierarchy, collecting problems in a Report."""

    def __init__(self, store: Store):
        self.store = store
        self.report = Report(store)
        self.arrays: dict[str, V3Array] = {}  # readable arrays, by path
        self.attributes: dict[str, dict] = {}  # group attributes, by path
        self.visited: set[str] = set()

    # -- nodes -------------------------------------------------------------

    def read_node(self, path: str, what: str) -> dict | None:
        """The parsed zarr.json at ``path``; reports and returns None when missing or bad."""
        key = join(path, "zarr.json")
        try:
            meta = self.store.get_json(key)
        except UserError as e:
            self.report.error(path, f"zarr.json is not valid JSON ({str(e).rsplit('(', 1)[-1].rstrip(')')})")
            return None
        if meta is None:
            if path == "" and self.store.exists(".zgroup"):
                self.report.error(path, "Zarr v2 (.zgroup, no zarr.json): OME-Zarr 0.4 or older, not 0.5; "
                                  "convert it with 'ome2024-ngff-challenge resave'")
            elif path == "":
                self.report.error(path, "no zarr.json: not a Zarr v3 dataset (or it does not exist)")
            else:
                self.report.error(path, f"{what} is missing (no zarr.json)")
            return None
        if not isinstance(meta, dict):
            self.report.error(path, "zarr.json must hold a JSON object")
            return None
        if meta.get("zarr_format") != 3:
            self.report.error(path, f"zarr.json: zarr_format is {meta.get('zarr_format')!r}, expected 3")
            return None
        return meta

    def group(self, path: str, what: str, *, ome_required: bool = True) -> dict | None:
        """The group's ``attributes.ome`` (checked for version 0.5); None when
        the group is missing or broken. Without ``ome_required``, a plain
        group gives {}."""
        if path in self.visited:
            return None
        meta = self.read_node(path, what)
        if meta is None:
            return None
        self.visited.add(path)
        if meta.get("node_type") != "group":
            self.report.error(path, f"{what} must be a group, but zarr.json says node_type {meta.get('node_type')!r}")
            return None
        self.report.groups += 1
        attributes = meta.get("attributes", {})
        if not isinstance(attributes, dict):
            self.report.error(path, "zarr.json: 'attributes' must be an object")
            return None
        misplaced = rules.misplaced_ome_keys(attributes)
        if misplaced:
            self.report.error(path, f"OME metadata ({', '.join(misplaced)}) at the top of attributes, as in 0.4; "
                              "0.5 keeps it under attributes.ome")
        ome = attributes.get("ome")
        if ome is None:
            if ome_required and not misplaced:
                self.report.error(path, f"{what}: no OME-Zarr metadata (attributes.ome)")
            return None if ome_required else {}
        if not isinstance(ome, dict):
            self.report.error(path, "attributes.ome must be an object")
            return None
        self.report.extend(path, rules.check_ome_version(ome))
        self.attributes[path] = attributes
        return ome

    def array(self, path: str, what: str) -> V3Array | None:
        if path in self.visited:
            return self.arrays.get(path)
        meta = self.read_node(path, what)
        if meta is None:
            return None
        self.visited.add(path)
        if meta.get("node_type") != "array":
            self.report.error(path, f"{what} must be an array, but zarr.json says node_type {meta.get('node_type')!r}")
            return None
        self.report.arrays += 1
        errors: list[str] = []
        arr = parse_array_meta(meta, errors)
        for message in errors:
            self.report.error(path, message)
        if arr is not None:
            self.arrays[path] = arr
        return arr

    # -- the walk ----------------------------------------------------------

    def run(self) -> Report:
        store, report = self.store, self.report
        if store.exists(INCOMPLETE_MARK):
            report.error("", f"{INCOMPLETE_MARK} is present: the conversion did not finish (or is still running)")
        ome = self.group("", "the dataset")
        if ome is not None:
            attributes = self.attributes[""]
            if "plate" in ome:
                self.plate("", ome, attributes)
            elif "bioformats2raw.layout" in ome:
                self.bioformats2raw(ome, attributes)
            elif "well" in ome:
                self.well("", ome, None)
            elif "multiscales" in ome:
                self.image("", ome, attributes, labels=True)
            elif "labels" in ome:
                self.labels("", ome, None)
            else:
                report.error("", "attributes.ome has none of multiscales, plate, well, labels or bioformats2raw.layout")
        why = rules.schemas_unavailable()
        if why is not None:
            report.warn("", f"{why}: the official OME-Zarr 0.5 JSON schemas were not applied (the other rules were)")
        check_crate(store, report)
        return report

    def image(self, path: str, ome: dict, attributes: dict, *, labels: bool, is_label: bool = False,
              parent: ImageInfo | None = None) -> ImageInfo | None:
        """An image group (``is_label``: a label image of ``parent``)."""
        problems, multiscales = rules.check_multiscales(ome)
        self.report.extend(path, problems)
        first: ImageInfo | None = None
        for m, ms in enumerate(multiscales):
            shapes: list[tuple[int, ...] | None] = []
            for d, ds in enumerate(ms.paths):
                array_path = join(path, ds)
                arr = self.array(array_path, f"multiscales[{m}] dataset '{ds}'")
                if arr is None:
                    shapes.append(None)
                    continue
                shapes.append(arr.shape)
                if len(arr.shape) != len(ms.axes):
                    self.report.error(array_path, f"has {len(arr.shape)} dimensions but the image has {len(ms.axes)} axes "
                                      f"({','.join(ms.axes)})")
                if arr.dimension_names is None:
                    self.report.error(array_path, f"no dimension_names (they must be the axes names {ms.axes})")
                elif list(arr.dimension_names) != ms.axes:
                    self.report.error(array_path, f"dimension_names {arr.dimension_names} do not match the axes names {ms.axes}")
                if is_label and arr.dtype.name not in INTEGER_TYPES:
                    self.report.error(array_path, f"label image data type is {arr.dtype.name}; labels must be integers")
            for d in range(1, len(shapes)):
                a, b = shapes[d - 1], shapes[d]
                if a is not None and b is not None and len(a) == len(b) and any(y > x for x, y in zip(a, b)):
                    self.report.error(join(path, ms.paths[d]),
                                      f"level '{ms.paths[d]}' {list(b)} is larger than level '{ms.paths[d - 1]}' {list(a)}: "
                                      "datasets must go from the largest (highest resolution) to the smallest")
            if first is None:
                first = ImageInfo(ms.axes, ms.types, shapes)
        n_channels = None
        if first is not None and "channel" in first.types and first.shapes and first.shapes[0] is not None:
            c = first.types.index("channel")
            if c < len(first.shapes[0]):
                n_channels = first.shapes[0][c]
        self.report.extend(path, rules.check_omero(ome, n_channels))
        if is_label:
            self.label_image(path, ome, attributes, first, parent)
        if labels and self.store.exists(join(path, "labels", "zarr.json")):
            labels_ome = self.group(join(path, "labels"), "labels group")
            if labels_ome is not None:
                self.labels(join(path, "labels"), labels_ome, first)
        return first

    def label_image(self, path: str, ome: dict, attributes: dict, info: ImageInfo | None, parent: ImageInfo | None) -> None:
        if "image-label" not in ome:
            self.report.error(path, "label image without 'image-label' metadata")
        else:
            self.report.extend(path, rules.schema_problems("label.schema", attributes))
            self.report.extend(path, rules.check_image_label(ome))
        if info is None or parent is None:
            return
        if len(info.shapes) != len(parent.shapes):
            self.report.error(path, f"label image has {len(info.shapes)} resolution levels but its image has "
                              f"{len(parent.shapes)}")
        if len(info.axes) != len(parent.axes):
            self.report.error(path, f"label image has {len(info.axes)} axes but its image has {len(parent.axes)}")
            return
        for level, (mine, theirs) in enumerate(zip(info.shapes, parent.shapes)):
            if mine is None or theirs is None or len(mine) != len(theirs):
                continue
            spatial = [i for i, t in enumerate(parent.types) if t == "space"]
            if any(mine[i] != theirs[i] for i in spatial):
                self.report.warn(path, f"level {level}: label shape {list(mine)} differs from the image's {list(theirs)} "
                                 "in the spatial axes")

    def labels(self, path: str, ome: dict, parent: ImageInfo | None) -> None:
        problems, names = rules.check_labels_group(ome)
        self.report.extend(path, problems)
        for name in names:
            label_path = join(path, name)
            label_ome = self.group(label_path, f"label image '{name}' (listed in labels)")
            if label_ome is None:
                continue
            if "multiscales" not in label_ome:
                self.report.error(label_path, "label image without multiscales")
                continue
            self.image(label_path, label_ome, self.attributes[label_path], labels=False, is_label=True, parent=parent)

    def plate(self, path: str, ome: dict, attributes: dict) -> None:
        self.report.extend(path, rules.schema_problems("plate.schema", attributes))
        problems, rows, wells = rules.check_plate(ome)
        self.report.extend(path, problems)
        for row in rows:
            self.group(join(path, row), f"plate row group '{row}'", ome_required=False)
        acquisitions = rules.plate_acquisition_ids(ome)
        for well in wells:
            well_path = join(path, well)
            well_ome = self.group(well_path, f"well '{well}' (listed in the plate)")
            if well_ome is None:
                continue
            if "well" not in well_ome:
                self.report.error(well_path, "well group without 'well' metadata")
                continue
            self.well(well_path, well_ome, acquisitions)

    def well(self, path: str, ome: dict, acquisitions: list | None) -> None:
        problems, fields = rules.check_well(ome, acquisitions)
        self.report.extend(path, problems)
        for name in fields:
            field_path = join(path, name)
            field_ome = self.group(field_path, f"field '{name}' (listed in the well)")
            if field_ome is None:
                continue
            if "multiscales" not in field_ome:
                self.report.error(field_path, "field of view without multiscales")
                continue
            self.image(field_path, field_ome, self.attributes[field_path], labels=True)

    def bioformats2raw(self, ome: dict, attributes: dict) -> None:
        self.report.extend("", rules.schema_problems("bf2raw.schema", attributes))
        series = None
        if self.store.exists("OME/zarr.json"):
            ome_group = self.group("OME", "OME group")
            if ome_group is not None and "series" in ome_group:
                self.report.extend("OME", rules.schema_problems("ome.schema", self.attributes["OME"]))
                problems, series = rules.check_series(ome_group)
                self.report.extend("OME", problems)
        if series is None:
            series = []
            while self.store.exists(join(str(len(series)), "zarr.json")):
                series.append(str(len(series)))
            if not series:
                self.report.error("", "bioformats2raw layout with no series (no OME/zarr.json series and no image '0')")
        self.ome_xml(series)
        for name in series:
            image_ome = self.group(name, f"series '{name}'")
            if image_ome is None:
                continue
            if "multiscales" not in image_ome:
                self.report.error(name, "series without multiscales")
                continue
            self.image(name, image_ome, self.attributes[name], labels=True)

    def ome_xml(self, series: list[str]) -> None:
        raw = self.store.get(OME_XML)
        if raw is None:
            self.report.warn("OME", "no METADATA.ome.xml: the bioformats2raw layout should keep the OME-XML")
            return
        if len(raw) > MAX_XML_PARSE:
            return
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as e:
            self.report.error(OME_XML, f"not well-formed XML ({e})")
            return
        images = [el for el in root if el.tag.rsplit("}", 1)[-1] == "Image"]
        if self.store.exists("OME/zarr.json") and len(images) != len(series):
            self.report.error("OME", f"series lists {len(series)} images but the OME-XML has {len(images)}")


# ---------------------------------------------------------------------------
# the RO-Crate
# ---------------------------------------------------------------------------


def check_crate(store: Store, report: Report) -> None:
    key = METADATA_ID
    try:
        crate = store.get_json(key)
    except UserError as e:
        report.error(key, f"not valid JSON ({str(e).rsplit('(', 1)[-1].rstrip(')')})")
        return
    if crate is None:
        report.error(key, "missing: the challenge needs an RO-Crate with license, organism and modality "
                     "(add it with 'ome2024-ngff-challenge update TARGET --cc-by --rocrate-organism=... "
                     "--rocrate-modality=...')")
        return
    graph = crate.get("@graph") if isinstance(crate, dict) else None
    if not isinstance(graph, list):
        report.error(key, "not an RO-Crate: no '@graph' list")
        return
    if not isinstance(crate.get("@context"), (str, list, dict)):
        report.warn(key, "no '@context'")
    entities = {e["@id"]: e for e in graph if isinstance(e, dict) and isinstance(e.get("@id"), str)}
    descriptor = entities.get(METADATA_ID)
    if descriptor is None:
        report.error(key, f"no metadata descriptor entity (@id {METADATA_ID!r})")
        return
    about = descriptor.get("about")
    root_id = about.get("@id") if isinstance(about, dict) else None
    root = entities.get(root_id) if root_id else None
    if root is None:
        report.error(key, "the metadata descriptor's 'about' does not point to a root dataset entity")
        return
    types = root.get("@type")
    if "Dataset" not in (types if isinstance(types, list) else [types]):
        report.error(key, f"the root entity {root_id!r} is not of @type Dataset")
    info = read_crate_info(crate)
    hints = {"license": "--cc-by, --cc0 or --rocrate-license", "organism": "--rocrate-organism",
             "modality": "--rocrate-modality"}
    for missing in info.missing():
        report.warn(key, f"no {missing}: the challenge asks for one (add it with 'update TARGET {hints[missing]}')")
    checks = (("license", info.license, validate_license), ("organism", info.organism, validate_organism),
              ("modality", info.modality, validate_modality))
    for what, value, check in checks:
        if value:
            try:
                check(value)
            except UserError as e:
                report.warn(key, f"{what}: {str(e).split(': ', 1)[-1]}")


# ---------------------------------------------------------------------------
# --against: every voxel
# ---------------------------------------------------------------------------


def _bits(a: np.ndarray) -> np.ndarray:
    """The values' bit patterns as native unsigned integers (NaN payloads and
    -0.0 kept), shaped (*a.shape, words)."""
    dt = a.dtype
    if dt.itemsize > 1 and not dt.isnative:
        a = a.byteswap().view(dt.newbyteorder("="))
    word = {1: "u1", 2: "u2", 4: "u4", 8: "u8", 16: "u8"}[dt.itemsize]
    words = 2 if dt.itemsize == 16 else 1
    a = np.ascontiguousarray(a)
    return a.view(word).reshape((*a.shape, words)) if a.ndim else a.reshape(1).view(word).reshape((words,))


def _show(value) -> str:
    """A voxel value for a message; floats with their bit pattern (NaN payloads, -0.0)."""
    a = np.asarray(value)
    text = repr(a.item())
    if a.dtype.kind in "fc":
        bits = _bits(a).reshape(-1)
        text += " (0x" + "".join(format(int(b), f"0{2 * a.dtype.itemsize // len(bits)}x") for b in bits) + ")"
    return text


def compare_with_source(validator: Validator, src: Store) -> None:
    from .output_format import DEFAULT_COMPRESSION
    from .plan import LayoutRequest, Planner

    report, out = validator.report, validator.store
    try:
        plan = Planner(src, LayoutRequest(), DEFAULT_COMPRESSION, creator={}).walk()
    except UserError as e:
        report.error("", f"--against: the source cannot be read ({e})")
        return
    sources = {job.path: job.source for job in plan.arrays}
    for path in sources:
        if path not in validator.visited:
            report.error(path, f"array of the source ({src.describe(path)}) is missing in the output")
    for path, arr in validator.arrays.items():
        source = sources.get(path)
        if source is None:
            report.warn(path, "not in the source: not compared")
            continue
        meta = source.meta
        if tuple(meta.shape) != arr.shape:
            report.error(path, f"shape {list(arr.shape)} differs from the source's {list(meta.shape)}")
            continue
        if (meta.dtype.kind, meta.dtype.itemsize) != (arr.dtype.kind, arr.dtype.itemsize):
            report.error(path, f"data type {arr.dtype.name} differs from the source's {meta.dtype.str}")
            continue
        LOG.info("comparing %s", out.describe(path))
        if compare_array(path, arr, source, out, report):
            report.compared += 1


def compare_array(path: str, arr: V3Array, source, out: Store, report: Report) -> bool:
    """Compare every voxel of ``arr`` with ``source``; report the first
    difference (in storage order). Stored objects are compared on a few
    threads, each holding one object and one decoded inner chunk at a time."""
    threads = max(1, min(os.cpu_count() or 1, MAX_COMPARE_THREADS, MAX_COMPARE_BYTES // max(arr.object_nbytes, 1)))
    indices = iter(arr.grid_indices())
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


def compare_object(path: str, arr: V3Array, source, out: Store, index: tuple[int, ...]) -> str | None:
    """The first difference within one stored object, as a message; None when it matches."""
    fill = _bits(arr.fill)
    try:
        for region, block in arr.blocks_at(out, path, index):
            expected = source.read_region(region)
            got = _bits(expected)
            differs = np.any(got != (fill if block is None else _bits(block)), axis=-1)
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


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------


def validate(store: Store, against: Store | None = None) -> Report:
    validator = Validator(store)
    validator.run()
    if against is not None:
        compare_with_source(validator, against)
    return validator.report


def run(args) -> int:
    from .cli import location
    from .locations import open_store

    store = open_store(args.target, role="input", **location(args, "input"))
    against = None
    if args.against:
        remote = location(args, "input") if args.against.startswith("s3://") else {}
        remote.pop("bucket", None)
        against = open_store(args.against, role="input", **remote)
    report = validate(store, against)
    if args.json:
        json.dump(report.to_json(against is not None), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for level, entries in (("error", report.errors), ("warning", report.warnings)):
            for entry in entries:
                print(f"{level}: {entry['location']}: {entry['message']}")
        print(report.summary(against is not None))
    return 0 if report.valid else 1
