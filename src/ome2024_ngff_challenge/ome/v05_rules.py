"""The OME-Zarr 0.5 metadata rules, as pure functions on the parsed ``ome`` dict
of one group's ``zarr.json``.

Two sources of rules:

* every official OME-NGFF 0.5 JSON schema, shipped in ``schemas/ngff_0.5``
  (image, label, plate, well, ome (bioformats2raw series), bf2raw), applied with the
  ``jsonschema`` package when it is installed (:func:`schema_problems`);
* code for the rules the schemas leave out: the MUSTs of the specification's
  text that no schema encodes (the order of axes by type, omero channels with
  a window and a colour), and cross references between plate, rows, wells
  and fields, which the walk in ``validation/walk.py`` then checks against the
  stored arrays and groups. (The code repeats some schema rules too, so that
  they hold where ``jsonschema`` is not installed.)

Every function returns a list of problems ``(level, message)`` with level
"error" (breaks a MUST of the specification) or "warning" (a SHOULD, or
something a reader may trip over).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from ..json_values import is_int, is_number
from .spec import OME_KEYS, TARGET_VERSION, VERSIONED_OBJECTS

ERROR = "error"
WARNING = "warning"
VERSION = TARGET_VERSION

# Units the specification lists for space and time axes (UDUNITS-2 names).
SPACE_UNITS = frozenset("""angstrom attometer centimeter decimeter exameter femtometer foot gigameter
hectometer inch kilometer megameter meter micrometer mile millimeter nanometer parsec petameter
picometer terameter yard yoctometer yottameter zeptometer zettameter""".split())
TIME_UNITS = frozenset("""attosecond centisecond day decisecond exasecond femtosecond gigasecond
hectosecond hour kilosecond megasecond microsecond millisecond minute nanosecond petasecond
picosecond second terasecond yoctosecond yottasecond zeptosecond zettasecond""".split())

ALNUM = re.compile(r"^[A-Za-z0-9]+$")

SCHEMA_BASE = "https://ngff.openmicroscopy.org/{}/schemas/{}"
SCHEMA_FILES = ("_version.schema", "bf2raw.schema", "image.schema", "label.schema", "ome.schema", "ome_zarr.schema",
                "plate.schema", "well.schema", "strict_image.schema", "strict_label.schema", "strict_plate.schema",
                "strict_well.schema")


# ---------------------------------------------------------------------------
# the official JSON schemas
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _load_schemas() -> tuple[dict | None, str | None]:
    """({schema file name: jsonschema validator}, None), or (None, why not)."""
    try:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:
        return None, "the jsonschema package is not installed"
    folder = resources.files(__package__).joinpath("schemas", "ngff_0.5")
    try:
        schemas = {name: json.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in SCHEMA_FILES}
    except (OSError, ValueError) as e:
        return None, f"the schema files shipped with the package cannot be read ({e})"
    registry = Registry()
    for name, schema in schemas.items():
        # the strict files name no "$schema": they are 2020-12 like the others
        resource = Resource.from_contents(schema, default_specification=DRAFT202012)
        # Some files still carry "latest" ids and refer to each other by them;
        # register every file under both its 0.5 and its "latest" address.
        for version in (VERSION, "latest"):
            registry = registry.with_resource(SCHEMA_BASE.format(version, name), resource)
    return {name: Draft202012Validator(schema, registry=registry) for name, schema in schemas.items()}, None


def _schema_validators() -> dict | None:
    return _load_schemas()[0]


def schemas_unavailable() -> str | None:
    """Why the official schemas cannot be applied, or None when they can."""
    return _load_schemas()[1]


def schema_problems(schema_name: str, attributes: dict) -> list[tuple[str, str]]:
    """Validate a group's ``attributes`` against one of the official 0.5
    schemas. (Not its "strict" variant: what that adds are the specification's
    SHOULDs, e.g. a multiscale's name and type, which valid data may leave out.)
    ``ome.version`` is left to :func:`check_ome_version`, which checks it in
    every group, so that a wrong version is said once."""
    validators = _schema_validators()
    if validators is None or _is_valid(schema_name, json.dumps(_verdict_key(attributes), sort_keys=True)):
        return []
    problems = []
    for err in sorted(validators[schema_name].iter_errors(attributes), key=lambda e: list(e.absolute_path)):
        if list(err.absolute_path) == ["ome", "version"]:
            continue
        where = "/".join(str(p) for p in err.absolute_path) or "attributes"
        message = err.message if len(err.message) < 200 else err.message[:197] + "..."
        if err.validator in ("oneOf", "anyOf") and err.context:
            # "... is not valid under any of the given schemas" alone does not say why: the closest miss
            from jsonschema.exceptions import best_match

            best = best_match(err.context)
            message = f"{message[:120]} ({best.message[:120]})"
        problems.append((ERROR, f"{schema_name}: {where}: {message}"))
    return problems


@functools.lru_cache(maxsize=1024)
def _is_valid(schema_name: str, key: str) -> bool:
    return _schema_validators()[schema_name].is_valid(json.loads(key))


def _verdict_key(attributes: dict) -> object:
    """What the schemas' verdict on ``attributes`` depends on, so that the
    fields of a plate (thousands, alike but for their names; a schema check
    takes milliseconds) are checked once: the "ome" object with the names of
    multiscales and the labels of omero channels (strings of any value to the
    schemas) renamed in order of appearance, which keeps which of them are
    equal (multiscales must be unique). The problems of a group found invalid
    are then read from its own attributes."""
    ome = attributes.get("ome") if isinstance(attributes, dict) else None
    if not isinstance(ome, dict):
        return attributes
    key = dict(ome)
    key.pop("_creator", None)
    for field, item_key, path in (("multiscales", "name", None), ("omero", "label", "channels")):
        items = key.get(field)
        if path is not None:
            items = items.get(path) if isinstance(items, dict) else None
        if not isinstance(items, list):
            continue
        names: dict[str, str] = {}
        renamed = [{**item, item_key: names.setdefault(item[item_key], f"#{len(names)}")}
                   if isinstance(item, dict) and isinstance(item.get(item_key), str) else item for item in items]
        key[field] = renamed if path is None else {**key[field], path: renamed}
    return {**attributes, "ome": key}


# ---------------------------------------------------------------------------
# every OME group
# ---------------------------------------------------------------------------


def check_ome_version(ome: dict) -> list[tuple[str, str]]:
    """ome.version must be "0.5". A labels group (that lists label images and
    nothing else) without a version is only warned about: some 0.5 writers
    (ome-zarr-py) leave it out there, and validators accept it."""
    problems = []
    version = ome.get("version")
    labels_only = [k for k in OME_KEYS if k in ome] == ["labels"]
    if version is None and labels_only:
        problems.append((WARNING, f"attributes.ome.version is missing (readers expect \"{VERSION}\")"))
    elif version != VERSION:
        what = "missing" if version is None else f"{version!r}"
        problems.append((ERROR, f"attributes.ome.version is {what}, expected \"{VERSION}\""))
    for key in VERSIONED_OBJECTS:
        value = ome.get(key)
        if isinstance(value, dict) and "version" in value:
            problems.append((WARNING, f"{key} still has its own 'version' ({value['version']!r}); 0.5 uses ome.version only"))
    multiscales = ome.get("multiscales")
    if isinstance(multiscales, list):
        for i, ms in enumerate(multiscales):
            if isinstance(ms, dict) and "version" in ms:
                problems.append((WARNING, f"multiscales[{i}] still has its own 'version' ({ms['version']!r}); "
                                 "0.5 uses ome.version only"))
    return problems


def misplaced_ome_keys(attributes: dict) -> list[str]:
    """OME keys at the top of ``attributes`` (where 0.4 had them) instead of under "ome"."""
    return [k for k in OME_KEYS if k in attributes]


# ---------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------


@dataclass
class Multiscale:
    """What the walk needs from one (checked) multiscales entry."""

    axes: list[str]
    types: list[str | None]
    paths: list[str]
    scales: list[list[float] | None]


def _check_transforms(value: object, n_axes: int, label: str, problems: list) -> list[float] | None:
    """A coordinateTransformations list: one scale, then at most one
    translation, each with one value per axis. Returns the scale."""
    if not isinstance(value, list) or not value:
        problems.append((ERROR, f"{label} must be a non-empty list"))
        return None
    scale = None
    for i, t in enumerate(value):
        item = f"{label}[{i}]"
        if not isinstance(t, dict):
            problems.append((ERROR, f"{item} must be an object"))
            continue
        kind = t.get("type")
        if i == 0 and kind != "scale":
            problems.append((ERROR, f"{item} must be of type 'scale', not {kind!r}"))
        elif i == 1 and kind != "translation":
            problems.append((ERROR, f"{item} may only be a 'translation' (after the scale), not {kind!r}"))
        elif i > 1:
            problems.append((ERROR, f"{item}: at most one scale and one translation are allowed"))
            continue
        if kind not in ("scale", "translation"):
            continue
        if "path" in t and kind not in t:
            problems.append((WARNING, f"{item}: {kind} stored in a file ({t['path']!r}) is not checked"))
            continue
        values = t.get(kind)
        if not isinstance(values, list) or not all(is_number(v) for v in values):
            problems.append((ERROR, f"{item}.{kind} must be a list of numbers, not {values!r}"))
        elif len(values) != n_axes:
            problems.append((ERROR, f"{item}.{kind} has {len(values)} values but there are {n_axes} axes"))
        elif kind == "scale":
            scale = [float(v) for v in values]
            if any(v <= 0 for v in scale):
                problems.append((WARNING, f"{item}.scale has values that are not positive: {values}"))
    return scale


def _check_axes(axes: object, label: str, problems: list) -> tuple[list[str], list[str | None]] | None:
    if not isinstance(axes, list):
        problems.append((ERROR, f"{label} must be a list"))
        return None
    names, types = [], []
    for i, axis in enumerate(axes):
        if not isinstance(axis, dict) or not isinstance(axis.get("name"), str) or not axis["name"]:
            problems.append((ERROR, f"{label}[{i}] must be an object with a non-empty string 'name'"))
            return None
        names.append(axis["name"])
        kind = axis.get("type")
        if kind is not None and not isinstance(kind, str):
            problems.append((ERROR, f"{label}[{i}] ('{axis['name']}'): 'type' must be a string"))
            kind = None
        types.append(kind)
        unit = axis.get("unit")
        if unit is not None:
            if not isinstance(unit, str):
                problems.append((ERROR, f"{label}[{i}] ('{axis['name']}'): 'unit' must be a string"))
            elif kind == "space" and unit not in SPACE_UNITS:
                problems.append((WARNING, f"{label}[{i}] ('{axis['name']}'): unit {unit!r} is not one of the space units "
                                 "the specification lists (e.g. micrometer)"))
            elif kind == "time" and unit not in TIME_UNITS:
                problems.append((WARNING, f"{label}[{i}] ('{axis['name']}'): unit {unit!r} is not one of the time units "
                                 "the specification lists (e.g. second)"))
    if not 2 <= len(names) <= 5:
        problems.append((ERROR, f"{label} has {len(names)} axes; 2 to 5 are allowed"))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append((ERROR, f"{label} has duplicate names: {', '.join(duplicates)}"))
    n_space = types.count("space")
    if n_space not in (2, 3):
        problems.append((ERROR, f"{label} has {n_space} axes of type 'space'; 2 or 3 are required"))
    if types.count("time") > 1:
        problems.append((ERROR, f"{label} has more than one axis of type 'time'"))
    others = [t for t in types if t not in ("space", "time")]
    if len(others) > 1:
        problems.append((ERROR, f"{label} has more than one channel or custom axis ({', '.join(str(t) for t in others)})"))
    rank = {"time": 0, "space": 2}
    ranks = [rank.get(t, 1) for t in types]
    if ranks != sorted(ranks):
        problems.append((ERROR, f"{label} are in the order {','.join(names)} ({','.join(str(t) for t in types)}); "
                         "time must come first, then channel (or custom), then space"))
    for name, kind in zip(names, types):
        if kind not in (None, "space", "time", "channel"):
            problems.append((WARNING, f"{label}: axis '{name}' has the custom type {kind!r}"))
        if kind is None:
            problems.append((WARNING, f"{label}: axis '{name}' has no 'type'"))
    return names, types


def dataset_path(ds: object, d_label: str, paths: list[str], problems: list) -> str | None:
    """A multiscale dataset's path: a relative path inside the group, listed
    once (``paths``: those before it); None with the problem added otherwise.
    (0.5 and 0.6 alike.)"""
    if not isinstance(ds, dict) or not isinstance(ds.get("path"), str) or not ds["path"]:
        problems.append((ERROR, f"{d_label} must be an object with a non-empty string 'path'"))
        return None
    path = ds["path"]
    if path.startswith("/") or any(p in ("", ".", "..") for p in path.split("/")):
        problems.append((ERROR, f"{d_label}.path {path!r} is not a relative path inside the group"))
        return None
    if path in paths:
        problems.append((ERROR, f"{d_label}.path {path!r} is listed twice"))
        return None
    return path


def check_multiscales(ome: dict) -> tuple[list[tuple[str, str]], list[Multiscale]]:
    """The image rules on ``ome.multiscales``; the parsed entries that can be walked."""
    problems: list = []
    result: list[Multiscale] = []
    multiscales = ome.get("multiscales")
    if not isinstance(multiscales, list) or not multiscales:
        problems.append((ERROR, "multiscales must be a non-empty list"))
        return problems, result
    for m, ms in enumerate(multiscales):
        label = f"multiscales[{m}]"
        if not isinstance(ms, dict):
            problems.append((ERROR, f"{label} must be an object"))
            continue
        for key in ("axes", "datasets"):
            if key not in ms:
                problems.append((ERROR, f"{label} has no '{key}'"))
        if "name" in ms and not isinstance(ms["name"], str):
            problems.append((WARNING, f"{label}.name should be a string"))
        parsed = _check_axes(ms.get("axes"), f"{label}.axes", problems) if "axes" in ms else None
        datasets = ms.get("datasets")
        if "datasets" in ms and (not isinstance(datasets, list) or not datasets):
            problems.append((ERROR, f"{label}.datasets must be a non-empty list"))
            datasets = None
        if parsed is None or not datasets:
            continue
        names, types = parsed
        paths, scales = [], []
        for d, ds in enumerate(datasets):
            d_label = f"{label}.datasets[{d}]"
            path = dataset_path(ds, d_label, paths, problems)
            if path is None:
                continue
            if "coordinateTransformations" not in ds:
                problems.append((ERROR, f"{d_label} has no 'coordinateTransformations'"))
                scale = None
            else:
                scale = _check_transforms(ds["coordinateTransformations"], len(names), f"{d_label}.coordinateTransformations", problems)
            paths.append(path)
            scales.append(scale)
        if "coordinateTransformations" in ms:
            _check_transforms(ms["coordinateTransformations"], len(names), f"{label}.coordinateTransformations", problems)
        # resolution decreases level by level: spatial scales never shrink
        spatial = [i for i, t in enumerate(types) if t == "space"]
        for d in range(1, len(scales)):
            a, b = scales[d - 1], scales[d]
            if a is not None and b is not None and any(b[i] < a[i] for i in spatial):
                problems.append((WARNING, f"{label}.datasets[{d}] has a smaller spatial scale than the level before; "
                                 "levels must go from the highest resolution to the lowest"))
        result.append(Multiscale(names, types, paths, scales))
    return problems, result


def readers_refuse(ome: dict) -> list[str]:
    """What a validator in common use rejects that the specification allows:
    ngff-zarr (0.50) reads only spatial axes named y, x or z, y, x, in that
    order (the specification: names are free; "zyx" a SHOULD). Warnings: real
    writers (iohub: T,C,Z,Y,X) write such names, and their data is valid."""
    problems = []
    multiscales = ome.get("multiscales")
    for m, ms in enumerate(multiscales if isinstance(multiscales, list) else []):
        axes = ms.get("axes") if isinstance(ms, dict) else None
        if not isinstance(axes, list) or not all(isinstance(a, dict) for a in axes):
            continue
        names = [a.get("name") for a in axes if a.get("type") == "space"]
        if len(names) in (2, 3) and names != ["z", "y", "x"][-len(names):]:
            problems.append(f"multiscales[{m}].axes: spatial axes {','.join(map(str, names))}: ngff-zarr reads only "
                            "y,x or z,y,x (in that order)")
    return problems


def check_omero(ome: dict, n_channels: int | None) -> list[tuple[str, str]]:
    """The omero rules of the specification's text: every channel MUST have a
    colour (RRGGBB) and a window (start, end, min, max)."""
    if "omero" not in ome:
        return []
    omero = ome["omero"]
    if not isinstance(omero, dict):
        return [(ERROR, f"omero must be an object, not {json.dumps(omero)}")]
    problems = []
    channels = omero.get("channels")
    if not isinstance(channels, list):
        return [(ERROR, "omero.channels must be a list")]
    for i, ch in enumerate(channels):
        label = f"omero.channels[{i}]"
        if not isinstance(ch, dict):
            problems.append((ERROR, f"{label} must be an object"))
            continue
        window = ch.get("window")
        if window is None:
            problems.append((ERROR, f"{label} has no window (start, end, min and max)"))
        elif not isinstance(window, dict) or not all(is_number(window.get(k)) for k in ("start", "end", "min", "max")):
            problems.append((ERROR, f"{label}.window must have numbers start, end, min and max"))
        if "color" not in ch:
            problems.append((ERROR, f"{label} has no color (RRGGBB)"))
        elif not (isinstance(ch["color"], str) and re.fullmatch(r"[0-9A-Fa-f]{6}", ch["color"])):
            problems.append((ERROR, f"{label}.color {ch['color']!r} is not an RRGGBB hex string"))
    if n_channels is not None and len(channels) != n_channels:
        problems.append((WARNING, f"omero has {len(channels)} channels but the channel axis has {n_channels}"))
    return problems


# ---------------------------------------------------------------------------
# labels, plates, wells, bioformats2raw
# ---------------------------------------------------------------------------


def _child_paths(items: object, label: str, problems: list, *, pattern: re.Pattern | None = None) -> list[str]:
    if not isinstance(items, list) or not items:
        problems.append((ERROR, f"{label} must be a non-empty list"))
        return []
    paths = []
    for i, item in enumerate(items):
        path = item.get("path") if isinstance(item, dict) else item
        if not isinstance(path, str) or not path or path.startswith("/") or any(
            p in ("", ".", "..") for p in path.split("/")
        ):
            problems.append((ERROR, f"{label}[{i}] is not a relative path ({path!r})"))
            continue
        if pattern is not None and not pattern.match(path):
            problems.append((ERROR, f"{label}[{i}] path {path!r} must be alphanumeric"))
        if path in paths:
            problems.append((ERROR, f"{label}[{i}] path {path!r} is listed twice"))
            continue
        paths.append(path)
    return paths


def check_labels_group(ome: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """The label images a labels group lists: its children (0.1 allowed
    folders between, e.g. "original/0"; readers of 0.5 such as ome-zarr-models
    look for the label images directly below the labels group)."""
    problems: list = []
    paths = _child_paths(ome.get("labels"), "labels", problems)
    for i, path in enumerate(paths):
        if "/" in path:
            problems.append((ERROR, f"labels[{i}] {path!r} is not a child of the labels group (readers look for "
                             "the label images directly below it)"))
    return problems, paths


def check_image_label(ome: dict) -> list[tuple[str, str]]:
    label = ome.get("image-label")
    if not isinstance(label, dict):
        return [(ERROR, "image-label must be an object")]
    problems = []
    for key in ("colors", "properties"):
        values = [c.get("label-value") for c in label.get(key) or [] if isinstance(c, dict)]
        if len(values) != len(set(map(json.dumps, values))):
            problems.append((ERROR, f"image-label.{key} lists a label-value more than once"))
    return problems


def check_plate(ome: dict) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """Cross references of a plate: wells against rows and columns. Returns
    (problems, row names used by wells, well paths)."""
    problems: list = []
    plate = ome.get("plate")
    if not isinstance(plate, dict):
        return [(ERROR, "plate must be an object")], [], []
    rows = [r.get("name") for r in plate.get("rows") or [] if isinstance(r, dict)]
    cols = [c.get("name") for c in plate.get("columns") or [] if isinstance(c, dict)]
    for what, names in (("rows", rows), ("columns", cols)):
        if not names:
            problems.append((ERROR, f"plate.{what} must be a non-empty list of {{\"name\": ...}}"))
        dup = sorted({str(n) for n in names if names.count(n) > 1})
        if dup:
            problems.append((ERROR, f"plate.{what} has duplicate names: {', '.join(dup)}"))
    wells = plate.get("wells")
    paths = _child_paths(wells, "plate.wells", problems)
    used_rows: list[str] = []
    for i, well in enumerate(wells if isinstance(wells, list) else []):
        if not isinstance(well, dict) or not isinstance(well.get("path"), str):
            continue
        parts = well["path"].split("/")
        if len(parts) != 2:
            problems.append((ERROR, f"plate.wells[{i}] path {well['path']!r} must be ROW/COLUMN"))
            continue
        row, col = parts
        if row not in rows:
            problems.append((ERROR, f"plate.wells[{i}] ({well['path']}): row {row!r} is not in plate.rows"))
        elif well.get("rowIndex") != rows.index(row):
            problems.append((ERROR, f"plate.wells[{i}] ({well['path']}): rowIndex {well.get('rowIndex')!r} "
                             f"but {row!r} is row {rows.index(row)}"))
        if col not in cols:
            problems.append((ERROR, f"plate.wells[{i}] ({well['path']}): column {col!r} is not in plate.columns"))
        elif well.get("columnIndex") != cols.index(col):
            problems.append((ERROR, f"plate.wells[{i}] ({well['path']}): columnIndex {well.get('columnIndex')!r} "
                             f"but {col!r} is column {cols.index(col)}"))
        if row not in used_rows:
            used_rows.append(row)
    acquisitions = plate.get("acquisitions")
    if isinstance(acquisitions, list):
        ids = [a.get("id") for a in acquisitions if isinstance(a, dict)]
        if len(ids) != len(set(map(json.dumps, ids))):
            problems.append((ERROR, "plate.acquisitions has duplicate ids"))
    return problems, used_rows, paths


def plate_acquisition_ids(ome: dict) -> list | None:
    plate = ome.get("plate")
    acquisitions = plate.get("acquisitions") if isinstance(plate, dict) else None
    if not isinstance(acquisitions, list):
        return None
    return [a.get("id") for a in acquisitions if isinstance(a, dict)]


def check_well(ome: dict, acquisitions: list | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """The well rules; returns (problems, field image paths)."""
    problems: list = []
    well = ome.get("well")
    if not isinstance(well, dict):
        return [(ERROR, "well must be an object")], []
    images = well.get("images")
    paths = _child_paths(images, "well.images", problems, pattern=ALNUM)
    for i, image in enumerate(images if isinstance(images, list) else []):
        if not isinstance(image, dict) or "acquisition" not in image:
            if acquisitions is not None and len(acquisitions) > 1:
                problems.append((ERROR, f"well.images[{i}] has no 'acquisition' but the plate has several"))
            continue
        acq = image["acquisition"]
        if not is_int(acq):
            problems.append((ERROR, f"well.images[{i}].acquisition must be an integer, not {acq!r}"))
        elif acquisitions is not None and acq not in acquisitions:
            problems.append((ERROR, f"well.images[{i}].acquisition {acq} is not an id in plate.acquisitions"))
    return problems, paths


def check_series(ome: dict) -> tuple[list[tuple[str, str]], list[str]]:
    problems: list = []
    series = ome.get("series")
    if not isinstance(series, list) or not all(isinstance(s, str) for s in series):
        return [(ERROR, "series must be a list of image paths")], []
    return problems, _child_paths(series, "series", problems)
