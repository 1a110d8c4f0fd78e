"""The OME-Zarr 0.6 metadata rules, as pure functions on the parsed ``ome``
dict of one group's ``zarr.json`` (the same interface as ``v05_rules``, which
the walk in ``validation/walk_v06.py`` calls through).

Two sources of rules:

* every official 0.6 JSON schema, shipped in ``schemas/ngff_0.6`` (the 0.6
  release candidate's, "0.6rc0"; the version schema is widened here to accept
  the released "0.6" too), applied with ``jsonschema`` (:func:`schema_problems`);
* code for what schemas cannot express: every coordinate system a
  transformation names exists; each level's transformation goes from its own
  array to the one intrinsic system, with one value per axis; the parameters
  of every transformation fit the dimensionality of its input and output; the
  axes rules of 0.5 on the intrinsic system; ``scene`` references to its own
  systems (those in other groups are resolved by the walk).

Plate, well, labels, image-label, omero and bioformats2raw did not change from
0.5: their rules are ``v05_rules``'.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

from ..json_values import is_int, is_number
from . import v05_rules
from .v05_rules import (  # noqa: F401  (the rules 0.6 shares with 0.5, for the walk)
    ERROR,
    WARNING,
    Multiscale,
    check_image_label,
    check_labels_group,
    check_omero,
    check_plate,
    check_series,
    misplaced_ome_keys,
    plate_acquisition_ids,
)
from .v06 import VERSION

RC_VERSION = "0.6rc0"  # the version of the shipped schemas and of the specification's own cases
SCHEMA_BASE = "https://ngff.openmicroscopy.org/{}/schemas/{}"
SCHEMA_FOLDER = "ngff_0.6"
# which schema applies to a group with this key (label.schema: with image-label)
SCHEMA_FOR_KEY = {"multiscales": "image.schema", "plate": "plate.schema", "well": "well.schema",
                  "bioformats2raw.layout": "bf2raw.schema", "series": "ome.schema", "scene": "scene.schema",
                  "image-label": "label.schema"}
LEVEL_TYPES = ("scale", "identity", "sequence")
# a field's path in a well: a Zarr node name of the recommended characters (0.5: alphanumeric only)
FIELD_PATH = re.compile(r"^(?!\.+$)(?!__)[A-Za-z0-9_.-]+$")


# ---------------------------------------------------------------------------
# the official JSON schemas
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _load_schemas() -> tuple[dict | None, str | None]:
    try:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
    except ImportError:
        return None, "the jsonschema package is not installed"
    folder = resources.files(__package__).joinpath("schemas", SCHEMA_FOLDER)
    try:
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".schema"))
        schemas = {name: json.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in names}
    except (OSError, ValueError) as e:
        return None, f"the 0.6 schema files shipped with the package cannot be read ({e})"
    # the released version string beside the release candidate's (the files are unchanged)
    version = schemas["_version.schema"]
    schemas["_version.schema"] = {**version, "enum": [VERSION, *version.get("enum", [])]}
    registry = Registry()
    for name, schema in schemas.items():
        resource = Resource.from_contents(schema)
        for address in {schema.get("$id"), SCHEMA_BASE.format(RC_VERSION, name), SCHEMA_BASE.format(VERSION, name)}:
            if address:
                registry = registry.with_resource(address, resource)
    return {name: Draft202012Validator(schema, registry=registry) for name, schema in schemas.items()}, None


def schemas_unavailable() -> str | None:
    """Why the official schemas cannot be applied, or None when they can."""
    return _load_schemas()[1]


def schema_names() -> list[str]:
    return sorted(_load_schemas()[0] or {})


def schema_problems(schema_name: str, attributes: dict) -> list[tuple[str, str]]:
    """Validate a group's ``attributes`` against one of the official 0.6 schemas."""
    validators = _load_schemas()[0]
    if validators is None:
        return []
    problems = []
    for err in sorted(validators[schema_name].iter_errors(attributes), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "attributes"
        message = err.message if len(err.message) < 200 else err.message[:197] + "..."
        problems.append((ERROR, f"{schema_name}: {where}: {message}"))
    return problems


def schemas_for(ome: dict) -> list[str]:
    """The official schemas that apply to a group with this ``ome``."""
    return [schema for key, schema in SCHEMA_FOR_KEY.items() if key in ome]


# ---------------------------------------------------------------------------
# every OME group
# ---------------------------------------------------------------------------


def check_ome_version(ome: dict) -> list[tuple[str, str]]:
    """ome.version must be "0.6" ("0.6rc0", the release candidate's, is
    warned about); a labels group without a version is only warned about, as
    for 0.5."""
    version = ome.get("version")
    labels_only = [k for k in v05_rules.OME_KEYS if k in ome] == ["labels"]
    if version == VERSION:
        return []
    if version == RC_VERSION:
        return [(WARNING, f"attributes.ome.version is \"{RC_VERSION}\" (the release candidate); the release is \"{VERSION}\"")]
    if version is None and labels_only:
        return [(WARNING, f"attributes.ome.version is missing (readers expect \"{VERSION}\")")]
    what = "missing" if version is None else f"{version!r}"
    return [(ERROR, f"attributes.ome.version is {what}, expected \"{VERSION}\"")]


# ---------------------------------------------------------------------------
# transformations
# ---------------------------------------------------------------------------


def _matrix(value: object) -> list[list] | None:
    if isinstance(value, list) and value and all(isinstance(r, list) and all(is_number(v) for v in r) for r in value):
        return value
    return None


def check_parameters(t: dict, n_in: int | None, n_out: int | None, label: str) -> list[tuple[str, str]]:
    """The parameters of transformation ``t`` against the dimensionality of its
    input and output (None: unknown, not checked)."""
    problems: list = []
    kind = t.get("type")
    same = n_in if n_in == n_out else None
    if kind in ("scale", "translation"):
        values = t.get(kind)
        if isinstance(values, list) and n_in is not None and n_out is not None:
            if n_in != n_out:
                problems.append((ERROR, f"{label}: a {kind} maps {n_in} to {n_out} dimensions"))
            elif len(values) != n_in:
                problems.append((ERROR, f"{label}.{kind} has {len(values)} values but the coordinate systems have "
                                 f"{n_in} dimensions"))
        if kind == "scale" and isinstance(values, list) and any(is_number(v) and v == 0 for v in values):
            problems.append((ERROR, f"{label}.scale has a zero (not invertible)"))
    elif kind in ("identity", "mapAxis", "rotation") and n_in is not None and n_out is not None and n_in != n_out:
        problems.append((ERROR, f"{label}: an {kind} maps {n_in} to {n_out} dimensions"))
    elif kind == "affine":
        matrix = _matrix(t.get("affine"))
        if matrix is not None and n_in is not None and n_out is not None:
            if len(matrix) != n_out or any(len(r) != n_in + 1 for r in matrix):
                problems.append((ERROR, f"{label}.affine is {len(matrix)}x{len(matrix[0])}; from {n_in} to {n_out} "
                                 f"dimensions it must be {n_out}x{n_in + 1}"))
    if kind == "mapAxis" and isinstance(t.get("mapAxis"), list) and same is not None:
        if sorted(t["mapAxis"]) != list(range(same)):
            problems.append((ERROR, f"{label}.mapAxis {t['mapAxis']} is not a permutation of 0..{same - 1}"))
    elif kind == "rotation" and same is not None:
        matrix = _matrix(t.get("rotation"))
        if matrix is not None and (len(matrix) != same or any(len(r) != same for r in matrix)):
            problems.append((ERROR, f"{label}.rotation must be {same}x{same}"))
    elif kind == "projectAxis" and n_in is not None and n_out is not None:
        dropped, created = t.get("droppedInputs") or [], t.get("createdOutputs") or []
        if isinstance(dropped, list) and isinstance(created, list):
            if any(is_int(i) and i >= n_in for i in dropped) or any(is_int(i) and i >= n_out for i in created):
                problems.append((ERROR, f"{label}: projectAxis names an axis beyond {n_in} inputs / {n_out} outputs"))
            elif n_in - len(dropped) + len(created) != n_out:
                problems.append((ERROR, f"{label}: projectAxis maps {n_in} dimensions to {n_in - len(dropped) + len(created)}, "
                                 f"not {n_out}"))
    elif kind == "sequence" and isinstance(t.get("transformations"), list) and same is not None:
        for i, inner in enumerate(t["transformations"]):
            if isinstance(inner, dict) and inner.get("type") in ("scale", "translation", "identity", "mapAxis",
                                                                  "rotation", "sequence"):
                problems.extend(check_parameters(inner, same, same, f"{label}.transformations[{i}]"))
    elif kind == "byDimension" and isinstance(t.get("transformations"), list):
        covered: list = []
        for i, item in enumerate(t["transformations"]):
            if not isinstance(item, dict):
                continue
            ins, outs = item.get("inputAxes"), item.get("outputAxes")
            if isinstance(outs, list):
                covered.extend(outs)
            for what, axes, n in (("inputAxes", ins, n_in), ("outputAxes", outs, n_out)):
                if isinstance(axes, list) and n is not None and any(not is_int(a) or not 0 <= a < n for a in axes):
                    problems.append((ERROR, f"{label}.transformations[{i}].{what} {axes} are not axis indices below {n}"))
        if n_out is not None and sorted(covered) != list(range(n_out)):
            problems.append((ERROR, f"{label}: every output axis must be in exactly one outputAxes"))
    return problems


def _systems(value: object, label: str, problems: list) -> dict[str, list]:
    """name -> axes of a coordinateSystems list (names unique)."""
    systems: dict[str, list] = {}
    if not isinstance(value, list) or not value:
        problems.append((ERROR, f"{label} must be a non-empty list"))
        return systems
    for i, cs in enumerate(value):
        if not isinstance(cs, dict) or not isinstance(cs.get("name"), str) or not cs["name"]:
            problems.append((ERROR, f"{label}[{i}] must be an object with a non-empty string 'name'"))
            continue
        if cs["name"] in systems:
            problems.append((ERROR, f"{label}[{i}]: the name {cs['name']!r} is used twice"))
            continue
        axes = cs.get("axes")
        if not isinstance(axes, list) or not all(isinstance(a, dict) for a in axes):
            problems.append((ERROR, f"{label}[{i}] ({cs['name']}): 'axes' must be a list of objects"))
            continue
        names = [a.get("name") for a in axes]
        duplicates = sorted({str(n) for n in names if names.count(n) > 1})
        if duplicates:
            problems.append((ERROR, f"{label}[{i}] ({cs['name']}): duplicate axis names {', '.join(duplicates)}"))
        systems[cs["name"]] = axes
    return systems


def _ref(value: object) -> tuple[str | None, str | None] | None:
    """(name, path) of an input or output object; None when not an object."""
    if not isinstance(value, dict):
        return None
    name, path = value.get("name"), value.get("path")
    return (name if isinstance(name, str) else None, path if isinstance(path, str) and path else None)


# ---------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------


def _level(ds: dict, label: str, systems: dict, problems: list) -> tuple[str | None, list[float] | None]:
    """A level's one transformation: (its output system, its scale)."""
    transforms = ds.get("coordinateTransformations")
    if not isinstance(transforms, list) or len(transforms) != 1 or not isinstance(transforms[0], dict):
        problems.append((ERROR, f"{label}.coordinateTransformations must hold exactly one transformation"))
        return None, None
    t = transforms[0]
    item = f"{label}.coordinateTransformations[0]"
    kind = t.get("type")
    steps = t.get("transformations") if kind == "sequence" else [t]
    if kind not in LEVEL_TYPES or not isinstance(steps, list) or \
            (kind == "sequence" and [s.get("type") if isinstance(s, dict) else None for s in steps] != ["scale", "translation"]):
        problems.append((ERROR, f"{item} must be a scale, an identity or a sequence of a scale and a translation"))
        return None, None
    source, target = _ref(t.get("input")), _ref(t.get("output"))
    if source is None or source[1] != ds.get("path"):
        problems.append((ERROR, f"{item}.input must be {{\"path\": {ds.get('path')!r}}} (the level's own array)"))
    if target is None or target[0] is None:
        problems.append((ERROR, f"{item}.output must name the intrinsic coordinate system"))
        return None, None
    if target[1] is not None:
        problems.append((WARNING, f"{item}.output has a path ({target[1]!r}); it should name a system of this multiscale only"))
    if target[0] not in systems:
        problems.append((ERROR, f"{item}.output names the coordinate system {target[0]!r}, which is not in coordinateSystems"))
        return target[0], None
    n = len(systems[target[0]])
    scale = None
    for j, step in enumerate(steps):
        problems.extend(check_parameters(step, n, n, item if kind != "sequence" else f"{item}.transformations[{j}]"))
        if step.get("type") == "scale" and isinstance(step.get("scale"), list) and all(is_number(v) for v in step["scale"]):
            scale = [float(v) for v in step["scale"]]
    if kind == "identity":
        scale = [1.0] * n
    return target[0], scale


def check_multiscales(ome: dict) -> tuple[list[tuple[str, str]], list[Multiscale]]:
    """The image rules on ``ome.multiscales``; the parsed entries that can be
    walked (axes: the intrinsic system's)."""
    problems: list = []
    result: list[Multiscale] = []
    multiscales = ome.get("multiscales")
    if not isinstance(multiscales, list) or not multiscales:
        return [(ERROR, "multiscales must be a non-empty list")], result
    for m, ms in enumerate(multiscales):
        label = f"multiscales[{m}]"
        if not isinstance(ms, dict):
            problems.append((ERROR, f"{label} must be an object"))
            continue
        if "axes" in ms:
            problems.append((ERROR, f"{label} has 'axes' (0.5); 0.6 has them in coordinateSystems"))
        systems = _systems(ms.get("coordinateSystems"), f"{label}.coordinateSystems", problems)
        datasets = ms.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            problems.append((ERROR, f"{label}.datasets must be a non-empty list"))
            continue
        paths, scales, outputs = [], [], []
        for d, ds in enumerate(datasets):
            d_label = f"{label}.datasets[{d}]"
            path = v05_rules.dataset_path(ds, d_label, paths, problems)
            if path is None:
                continue
            output, scale = _level(ds, d_label, systems, problems)
            paths.append(path)
            scales.append(scale)
            if output is not None:
                outputs.append(output)
        if len(set(outputs)) > 1:
            problems.append((ERROR, f"{label}.datasets: every level must map to the same (intrinsic) coordinate "
                             f"system, not {', '.join(sorted(set(outputs)))}"))
        intrinsic = outputs[0] if outputs and outputs[0] in systems else None
        if intrinsic is None:
            continue
        parsed = check_axes(systems[intrinsic], f"{label}.coordinateSystems['{intrinsic}'].axes", problems)
        problems.extend(check_whole_image(ms.get("coordinateTransformations"), intrinsic, systems,
                                          f"{label}.coordinateTransformations"))
        lonely = unconnected(intrinsic, systems, ms.get("coordinateTransformations"))
        if lonely:
            problems.append((ERROR, f"{label}.coordinateSystems: {', '.join(map(repr, lonely))} not linked to the "
                             f"intrinsic system {intrinsic!r} by any transformation (the graph must be connected)"))
        spatial = [i for i, a in enumerate(systems[intrinsic]) if a.get("type") == "space"]
        for d in range(1, len(scales)):
            a, b = scales[d - 1], scales[d]
            if a is not None and b is not None and len(a) == len(b) and any(b[i] < a[i] for i in spatial if i < len(a)):
                problems.append((WARNING, f"{label}.datasets[{d}] has a smaller spatial scale than the level before; "
                                 "levels must go from the highest resolution to the lowest"))
        if parsed is not None:
            result.append(Multiscale(parsed[0], parsed[1], paths, scales))
    return problems, result


def unconnected(intrinsic: str, systems: dict, transforms: object) -> list[str]:
    """The systems of a multiscale that no chain of its own transformations
    links to the intrinsic one."""
    linked, edges = {intrinsic}, []
    for t in transforms if isinstance(transforms, list) else []:
        ends = [_ref(t.get(k)) for k in ("input", "output")] if isinstance(t, dict) else []
        if len(ends) == 2 and all(e is not None and e[0] is not None and e[1] is None for e in ends):
            edges.append((ends[0][0], ends[1][0]))
    grown = True
    while grown:
        grown = False
        for a, b in edges:
            if (a in linked) != (b in linked):
                linked |= {a, b}
                grown = True
    return [name for name in systems if name not in linked]


def check_whole_image(transforms: object, intrinsic: str, systems: dict, label: str) -> list[tuple[str, str]]:
    """A multiscale's own transformations: one end the intrinsic system, the
    other a system of the multiscale or (with a path) of a label image."""
    if transforms is None:
        return []
    problems: list = []
    if not isinstance(transforms, list):
        return [(ERROR, f"{label} must be a list")]
    for i, t in enumerate(transforms):
        item = f"{label}[{i}]"
        if not isinstance(t, dict):
            continue
        source, target = _ref(t.get("input")), _ref(t.get("output"))
        if source is None or target is None or source[0] is None or target[0] is None:
            problems.append((ERROR, f"{item}: input and output must each name a coordinate system"))
            continue
        ends = [source, target]
        if not any(name == intrinsic and path is None for name, path in ends):
            problems.append((ERROR, f"{item}: the input or the output must be the intrinsic system {intrinsic!r}"))
            continue
        dims = []
        for name, path in ends:
            if path is None and name not in systems:
                problems.append((ERROR, f"{item} names the coordinate system {name!r}, which is not in coordinateSystems"))
            elif path is not None and t.get("type") not in ("identity", "scale", "translation"):
                problems.append((ERROR, f"{item}: a transformation to a label image ({path}) must be an identity, "
                                 f"a scale or a translation, not {t.get('type')!r}"))
            dims.append(len(systems[name]) if path is None and name in systems else None)
        problems.extend(check_parameters(t, dims[0], dims[1], item))
    return problems


def label_references(ms: dict) -> list[tuple[str, str]]:
    """(path, name) of the label images' systems a multiscale's own
    transformations name (resolved by the walk)."""
    refs = []
    for t in ms.get("coordinateTransformations") or [] if isinstance(ms, dict) else []:
        if isinstance(t, dict):
            for end in (_ref(t.get("input")), _ref(t.get("output"))):
                if end is not None and end[0] is not None and end[1] is not None:
                    refs.append((end[1], end[0]))
    return refs


def check_axes(axes: list, label: str, problems: list) -> tuple[list[str], list] | None:
    """The 0.5 axes rules on an intrinsic system; one of two or more axes of
    type "array" (unitless array coordinates, new in 0.6) counts as the spatial ones."""
    types = [a.get("type") for a in axes]
    if types.count("array") >= 2 and "space" not in types:
        parsed = v05_rules._check_axes([{**a, "type": "space"} if a.get("type") == "array" else a for a in axes],
                                       label, problems)
        return None if parsed is None else (parsed[0], types)
    return v05_rules._check_axes(axes, label, problems)


def check_well(ome: dict, acquisitions: list | None = None) -> tuple[list[tuple[str, str]], list[str]]:
    """0.5's well rules, with 0.6's wider field paths (``FIELD_PATH``)."""
    problems, paths = v05_rules.check_well(ome, acquisitions)
    problems = [p for p in problems if not p[1].endswith("must be alphanumeric")]
    for path in paths:
        if not FIELD_PATH.match(path):
            problems.append((ERROR, f"well.images: path {path!r} must be a Zarr node name of A-Z, a-z, 0-9, '-', '_' "
                             "and '.' (not only periods, not starting with '__')"))
    return problems, paths


# ---------------------------------------------------------------------------
# scene
# ---------------------------------------------------------------------------


def check_scene(ome: dict) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The scene's rules; (problems, the (path, name) of every system it names
    in another group, which the walk resolves)."""
    scene = ome.get("scene")
    if not isinstance(scene, dict):
        return [(ERROR, "scene must be an object")], []
    problems: list = []
    systems = _systems(scene["coordinateSystems"], "scene.coordinateSystems", problems) \
        if "coordinateSystems" in scene else {}
    transforms = scene.get("coordinateTransformations")
    if not isinstance(transforms, list) or not transforms:
        return [*problems, (ERROR, "scene.coordinateTransformations must be a non-empty list")], []
    elsewhere: list[tuple[str, str]] = []
    for i, t in enumerate(transforms):
        item = f"scene.coordinateTransformations[{i}]"
        if not isinstance(t, dict):
            continue
        dims = []
        for end in ("input", "output"):
            ref = _ref(t.get(end))
            if ref is None or ref[0] is None:
                problems.append((ERROR, f"{item}.{end} must be an object naming a coordinate system"))
                dims.append(None)
                continue
            name, path = ref
            if path is None:
                if name not in systems:
                    problems.append((ERROR, f"{item}.{end} names the coordinate system {name!r}, which is not in "
                                     "scene.coordinateSystems (and has no path)"))
                dims.append(len(systems[name]) if name in systems else None)
            else:
                elsewhere.append((path, name))
                dims.append(None)
        problems.extend(check_parameters(t, dims[0], dims[1], item))
    return problems, elsewhere


# ---------------------------------------------------------------------------
# one metadata document (validate --metadata-only)
# ---------------------------------------------------------------------------


def check_document(attributes: dict) -> list[tuple[str, str]]:
    """Every rule that one group's attributes can be checked against without
    the rest of the hierarchy."""
    ome = attributes.get("ome")
    problems = [*check_ome_version(ome)]
    for schema in schemas_for(ome):
        problems.extend(schema_problems(schema, attributes))
    if "multiscales" in ome:
        problems.extend(check_multiscales(ome)[0])
        problems.extend(check_omero(ome, None))
    if "image-label" in ome:
        problems.extend(check_image_label(ome))
    if "labels" in ome:
        problems.extend(check_labels_group(ome)[0])
    if "plate" in ome:
        problems.extend(check_plate(ome)[0])
    if "well" in ome:
        problems.extend(check_well(ome)[0])
    if "series" in ome:
        problems.extend(check_series(ome)[0])
    if "scene" in ome:
        problems.extend(check_scene(ome)[0])
    if not any(k in ome for k in (*SCHEMA_FOR_KEY, "labels")):
        problems.append((ERROR, "attributes.ome has none of multiscales, plate, well, labels, scene or "
                         "bioformats2raw.layout"))
    return problems
