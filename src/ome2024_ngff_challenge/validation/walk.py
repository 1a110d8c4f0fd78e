"""The walk of ``validate``: an OME-Zarr 0.5 dataset read from its top
``zarr.json`` the way a reader does (following multiscales datasets, labels,
plate rows, wells and fields, and bioformats2raw series; never listing folders,
so HTTP targets work), every group and array checked against the 0.5 and Zarr
v3 rules (``ome.v05_rules``, ``zarr.v3_read``).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..about import INCOMPLETE_MARK
from ..errors import UserError, option
from ..ome import containers
from ..ome import v05_rules as rules
from ..ome.spec import OME_XML
from ..stores.remote import GaveUp
from ..stores.base import Store, join
from ..zarr.v3_read import V3Array, parse_array_meta
from .crate_check import check_crate
from .report import Report, unreadable

LOG = logging.getLogger("ome2024_ngff_challenge")
MAX_XML_PARSE = 256 * 2**20
INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
# ome-zarr.js (thumbnails of the OME-NGFF validator, the challenge's gallery)
# draws an image only from a level of at most this many pixels in y and in x
VIEWER_MAX_SIZE = 1000


@dataclass
class ImageInfo:
    """An image as its labels are compared with it."""

    axes: list[str]
    types: list
    shapes: list[tuple[int, ...] | None]


def is_ome_group(meta: object) -> bool:
    """A group whose OME metadata makes it a walk's start (image, plate, labels)."""
    attributes = meta.get("attributes") if isinstance(meta, dict) and meta.get("node_type") == "group" else None
    ome = attributes.get("ome") if isinstance(attributes, dict) else None
    return isinstance(ome, dict) and any(k in ome for k in ("multiscales", "plate", "labels"))


def top_ome_groups(nodes: dict) -> list[str]:
    """The OME groups of consolidated metadata that no other OME group holds."""
    groups = sorted((p for p, m in nodes.items() if isinstance(p, str) and is_ome_group(m)),
                    key=lambda p: (p.count("/"), p))
    top: list[str] = []
    for path in groups:
        if not any(path.startswith(t + "/") for t in top):
            top.append(path)
    return top


class Validator:
    """One walk over a 0.5 hierarchy, collecting problems in a Report."""

    rules = rules  # the version's rules (walk_v06.Validator06: 0.6's, same interface)
    version = rules.VERSION

    def __init__(self, store: Store):
        self.store = store
        self.report = Report(store)
        self.arrays: dict[str, V3Array] = {}  # readable arrays, by path
        self.attributes: dict[str, dict] = {}  # group attributes, by path
        self.visited: set[str] = set()
        self.too_large: list[tuple[str, str, int, int]] = []  # images viewers cannot preview: (path, level, y, x)
        self.container_kind: str | None = None  # a container store's kind (``ome.containers``), if it is one
        self.flavoured: list[str] = []  # its OME groups in its library's own flavour

    # -- nodes -------------------------------------------------------------

    def read_node(self, path: str, what: str) -> dict | None:
        """The parsed zarr.json at ``path``; reports and returns None when missing or bad."""
        key = join(path, "zarr.json")
        try:
            meta = self.store.get_json(key)
        except GaveUp:
            raise  # the run's deadline: nothing more can be read
        except UserError as e:
            if "not valid JSON (" not in str(e):  # not read at all (a link out of the dataset, a FIFO ...)
                self.report.error(path, str(e.args[0]) if e.args else str(e))  # options spelled by the report
                return None
            self.report.error(path, f"zarr.json is {unreadable(e)}")
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
        if self.container_kind is not None and containers.flavour(ome) is not None:
            # the container's library writes (and needs) its own flavour: noted,
            # the rest checked by the 0.5 rules
            self.flavoured.append(path)
            ome = containers.as_plain_05(ome)
            attributes = {**attributes, "ome": ome}
        self.report.extend(path, self.rules.check_ome_version(ome))
        self.attributes[path] = attributes
        return ome

    def child(self, path: str, what: str, key: str, without: str) -> dict | None:
        """A group another group lists (a label image, well, field, series):
        its ``attributes.ome`` when it exists and holds ``key``, else None
        (with ``without`` reported when the key is missing)."""
        ome = self.group(path, what)
        if ome is not None and key not in ome:
            self.report.error(path, without)
            return None
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

    def run(self, *, crate: bool = True) -> Report:
        """Walk from the top; ``crate``: check the RO-Crate too."""
        store, report = self.store, self.report
        if store.exists(INCOMPLETE_MARK):
            report.error("", f"{INCOMPLETE_MARK} is present: the conversion did not finish (or is still running)")
        ome = self.group("", "the dataset", ome_required=False)
        if ome == {}:
            self.container()
        elif ome is not None:
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
                self.other_root(ome, attributes)
        self.warn_too_large()
        why = self.rules.schemas_unavailable()
        if why is not None:
            report.warn("", f"{why}: the official OME-Zarr {self.version} JSON schemas were not applied (the other rules were)")
        if crate:
            check_crate(store, report)
        return report

    def other_root(self, ome: dict, attributes: dict) -> None:
        """A top group with none of the keys above (``walk_v06``: a scene)."""
        self.report.error("", "attributes.ome has none of multiscales, plate, well, labels or bioformats2raw.layout")

    def container(self) -> None:
        """A plain root group: a container store (``ome.containers``), whose
        OME groups below are checked where they are found."""
        store, report = self.store, self.report
        meta = store.get_json("zarr.json")
        attributes = meta.get("attributes", {}) if isinstance(meta, dict) else {}
        properties = store.get(containers.WEBKNOSSOS_PROPERTIES)
        self.container_kind = kind = containers.recognise(attributes, properties is not None)
        consolidated = meta.get("consolidated_metadata") if isinstance(meta, dict) else None
        nodes = consolidated.get("metadata") if isinstance(consolidated, dict) else None
        if store.supports_listing:
            found = self.ome_groups_below()
        elif isinstance(nodes, dict):
            found = top_ome_groups(nodes)
        elif properties is not None:
            found = [layer for layer in containers.webknossos_layers(properties)
                     if store.exists(join(layer, "zarr.json"))]
        else:
            report.error("", "no OME-Zarr metadata at the root (attributes.ome), and the OME groups of a container "
                         "store cannot be found without listing it (HTTP cannot list)")
            return
        if not found:
            report.error("", "the dataset: no OME-Zarr metadata (attributes.ome), and no OME image or plate below it")
            return
        for path in found:
            ome = self.group(path, "OME group")
            if ome is None:
                continue
            attributes = {**self.attributes[path], "ome": ome}
            if "plate" in ome:
                self.plate(path, ome, attributes)
            elif "multiscales" in ome:
                self.image(path, ome, attributes, labels=True)
            elif "labels" in ome:
                self.labels(path, ome, None)
        self.report.demote(set(self.flavoured), f"in {kind}'s own OME flavour, as its library writes it: ")
        note = f"a {kind} container store" if kind != containers.UNKNOWN else "a container store of a kind not known here"
        note += f" (no OME metadata at the root): {len(self.attributes)} OME groups below it checked"
        if self.flavoured:
            note += (f"; {len(self.flavoured)} of them in {kind}'s own OME flavour "
                     f"'{containers.SPATIALDATA_OME_VERSION}', which its library writes and reads for Zarr v3 "
                     "(the OME-Zarr 0.5 validators reject it): checked as OME-Zarr 0.5 without its version "
                     "and its transformations between coordinate systems, what 0.5 rejects in their metadata "
                     "reported as warnings")
        report.warn("", note)

    def ome_groups_below(self) -> list[str]:
        """The top OME groups below the root (breadth first; not below them:
        their walk follows their own metadata), by listing."""
        found, level = [], [""]
        while level:
            below = []
            for path in level:
                for name in self.store.list_dir(path)[0]:
                    child = join(path, name)
                    try:
                        meta = self.store.get_json(join(child, "zarr.json"))
                    except UserError:
                        meta = None
                    if not isinstance(meta, dict) or meta.get("node_type") != "group":
                        continue  # arrays, folders of chunks or other files
                    if is_ome_group(meta):
                        found.append(child)
                    else:
                        below.append(child)
            level = below
        return found

    def image(self, path: str, ome: dict, attributes: dict, *, labels: bool, is_label: bool = False,
              parent: ImageInfo | None = None) -> ImageInfo | None:
        """An image group (``is_label``: a label image of ``parent``)."""
        if self.rules is rules:  # a 0.6 walk (walk_v06) applies 0.6's own schema
            self.report.extend(path, rules.schema_problems("image.schema", attributes))
            self.report.extend(path, [(rules.WARNING, p) for p in rules.readers_refuse(ome)])
        problems, multiscales = self.rules.check_multiscales(ome)
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
                if is_label and arr.data_type not in INTEGER_TYPES:
                    self.report.error(array_path, f"label image data type is {arr.data_type}; labels must be integers")
                elif arr.dtype.kind not in "biufc":
                    self.report.error(array_path, f"image data type is {arr.data_type}; images hold numbers (or bool)")
            for d in range(1, len(shapes)):
                a, b = shapes[d - 1], shapes[d]
                if a is not None and b is not None and len(a) == len(b) and any(y > x for x, y in zip(a, b)):
                    self.report.error(join(path, ms.paths[d]),
                                      f"level '{ms.paths[d]}' {list(b)} is larger than level '{ms.paths[d - 1]}' {list(a)}: "
                                      "datasets must go from the largest (highest resolution) to the smallest")
            if first is None:
                first = ImageInfo(ms.axes, ms.types, shapes)
                if not is_label:
                    self.check_smallest_level(path, ms.paths[-1] if ms.paths else "", ms.types, shapes)
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

    def check_smallest_level(self, path: str, name: str, types: list, shapes: list) -> None:
        """Note an image whose smallest level is too large for web viewers'
        thumbnails and previews (``warn_too_large``)."""
        shape = shapes[-1] if shapes else None
        if shape is None:
            return
        spatial = [i for i, t in enumerate(types) if t == "space" and i < len(shape)][-2:]
        if len(spatial) < 2:
            spatial = list(range(max(0, len(shape) - 2), len(shape)))
        y, x = (shape[i] for i in spatial) if len(spatial) == 2 else (0, 0)
        if y > VIEWER_MAX_SIZE or x > VIEWER_MAX_SIZE:
            self.too_large.append((path, name, y, x))

    def warn_too_large(self) -> None:
        """One warning for the images viewers cannot preview (the first named,
        the others counted: a plate may have thousands of fields)."""
        if not self.too_large:
            return
        path, name, y, x = self.too_large[0]
        more = len(self.too_large) - 1
        others = f" (and {more} more image{'s' if more > 1 else ''})" if more else ""
        self.report.warn(path, f"the smallest level ('{name}') is {y}x{x} in y and x{others}: web viewers need one of "
                         f"at most {VIEWER_MAX_SIZE}x{VIEWER_MAX_SIZE} (ome-zarr.js, which the OME-NGFF validator and "
                         "the challenge's gallery use for thumbnails, refuses larger ones); add levels by converting "
                         f"with 'resave {option('add_levels')}'")

    def label_image(self, path: str, ome: dict, attributes: dict, info: ImageInfo | None, parent: ImageInfo | None) -> None:
        if "image-label" not in ome:
            self.report.error(path, "label image without 'image-label' metadata")
        else:
            self.report.extend(path, self.rules.schema_problems("label.schema", attributes))
            self.report.extend(path, rules.check_image_label(ome))
        if info is None or parent is None:
            return
        if len(info.shapes) != len(parent.shapes):
            self.report.error(path, f"label image has {len(info.shapes)} resolution levels but its image has "
                              f"{len(parent.shapes)}")
        # the spec asks for as many levels, not the same axes: labels without
        # the image's channel axis (z,y,x under c,z,y,x) are usual; the spatial
        # axes they share are compared by name
        spatial = [(info.axes.index(name), i) for i, (name, t) in enumerate(zip(parent.axes, parent.types))
                   if t == "space" and name in info.axes]
        for level, (mine, theirs) in enumerate(zip(info.shapes, parent.shapes)):
            if mine is None or theirs is None or len(mine) != len(info.axes) or len(theirs) != len(parent.axes):
                continue
            if any(mine[m] != theirs[t] for m, t in spatial):
                self.report.warn(path, f"level {level}: label shape {list(mine)} differs from the image's {list(theirs)} "
                                 "in the spatial axes")

    def labels(self, path: str, ome: dict, parent: ImageInfo | None) -> None:
        problems, names = rules.check_labels_group(ome)
        self.report.extend(path, problems)
        for name in names:
            label_path = join(path, name)
            label_ome = self.child(label_path, f"label image '{name}' (listed in labels)", "multiscales",
                                   "label image without multiscales")
            if label_ome is not None:
                self.image(label_path, label_ome, self.attributes[label_path], labels=False, is_label=True,
                           parent=parent)

    def plate(self, path: str, ome: dict, attributes: dict) -> None:
        self.report.extend(path, self.rules.schema_problems("plate.schema", attributes))
        problems, rows, wells = rules.check_plate(ome)
        self.report.extend(path, problems)
        for row in rows:
            self.group(join(path, row), f"plate row group '{row}'", ome_required=False)
        acquisitions = rules.plate_acquisition_ids(ome)
        for well in wells:
            well_path = join(path, well)
            well_ome = self.child(well_path, f"well '{well}' (listed in the plate)", "well",
                                  "well group without 'well' metadata")
            if well_ome is not None:
                self.well(well_path, well_ome, acquisitions)

    def well(self, path: str, ome: dict, acquisitions: list | None) -> None:
        if self.rules is rules:  # a 0.6 walk (walk_v06) applies 0.6's own schema
            self.report.extend(path, rules.schema_problems("well.schema", self.attributes[path]))
        problems, fields = self.rules.check_well(ome, acquisitions)
        self.report.extend(path, problems)
        for name in fields:
            field_path = join(path, name)
            field_ome = self.child(field_path, f"field '{name}' (listed in the well)", "multiscales",
                                   "field of view without multiscales")
            if field_ome is not None:
                self.image(field_path, field_ome, self.attributes[field_path], labels=True)

    def bioformats2raw(self, ome: dict, attributes: dict) -> None:
        self.report.extend("", self.rules.schema_problems("bf2raw.schema", attributes))
        series = None
        if self.store.exists("OME/zarr.json"):
            ome_group = self.group("OME", "OME group")
            if ome_group is not None and "series" in ome_group:
                self.report.extend("OME", self.rules.schema_problems("ome.schema", self.attributes["OME"]))
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
            image_ome = self.child(name, f"series '{name}'", "multiscales", "series without multiscales")
            if image_ome is not None:
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
