"""OME-NGFF 0.5 -> 0.6 metadata migration, as plain functions on dicts.

0.6 (RFC-5: coordinate systems and transformations) changes only group
metadata: the arrays stay the same Zarr v3. Each multiscales entry's ``axes``
become its "intrinsic" coordinate system, and each level's scale (and
translation) a transformation from the level's array (``input.path``) to that
system (``output.name``), named and shaped as the specification's own complete
example does (``examples/multiscales_strict/multiscales_example.json``): a
single ``scale``, or a ``sequence`` of the scale and the translation. Every
value is kept as it was (units, types, translations).

A transformation of the whole multiscale (0.5's multiscale-level scale and
translation) maps the intrinsic system to a second one, "physical", with the
same axes (as ``multiscales_transformations.json`` does). Transformations that
already name their input and output (SpatialData's affine and sequence
transformations in 0.4 groups, carried through the 0.4 -> 0.5 step) map the
intrinsic system to their named output system, instead of being refused.

0.4 -> 0.6 is ``migrate.migrate_attributes`` (0.4 -> 0.5) followed by
``migrate_attributes`` here. Nothing reads or writes a store; inputs are never
modified; a transformation 0.6 cannot hold raises :class:`InputError`
(the caller's ``where`` first).
"""

from __future__ import annotations

import copy

from ..errors import InputError

VERSION = "0.6"
SOURCE_VERSION = "0.5"
INTRINSIC = "intrinsic"
PHYSICAL = "physical"

# the parameters of each transformation type that change with 0.6 (the others
# are carried as they are)
_NESTED = ("sequence", "byDimension")


def migrate_attributes(attributes: dict, where: str = "") -> dict:
    """The 0.6 ``zarr.json`` attributes of a 0.5 group's attributes: ``ome``
    migrated (``migrate_ome``), every other key unchanged. A group without
    ``ome`` (e.g. a plate row) is returned as it is."""
    ome = attributes.get("ome")
    if not isinstance(ome, dict):
        return copy.deepcopy(attributes)
    return {key: (migrate_ome(value, where) if key == "ome" else copy.deepcopy(value))
            for key, value in attributes.items()}


def migrate_ome(ome: dict, where: str = "") -> dict:
    """The 0.6 ``ome`` object of a 0.5 one: ``version`` "0.6" (first, as in
    0.5) and each multiscales entry migrated; plate, well, labels,
    image-label, omero, bioformats2raw and any other key unchanged."""
    out = {"version": VERSION}
    for key, value in ome.items():
        if key == "version":
            continue
        if key == "multiscales" and isinstance(value, list):
            out[key] = [migrate_multiscale(ms, f"{where}multiscales[{i}]")
                        if isinstance(ms, dict) else copy.deepcopy(ms) for i, ms in enumerate(value)]
        else:
            out[key] = copy.deepcopy(value)
    return out


def _unique(name: str, taken: set[str]) -> str:
    n, candidate = 2, name
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def level_transformation(transforms: object, path: str, where: str) -> dict:
    """One level's 0.5 ``coordinateTransformations`` ([scale] or [scale,
    translation]) as the single 0.6 transformation from its array to the
    intrinsic system."""
    if not isinstance(transforms, list) or not transforms or not all(isinstance(t, dict) for t in transforms):
        msg = f"{where}: coordinateTransformations must be a non-empty list of objects"
        raise InputError(msg)
    steps = [_parameters(t, where) for t in transforms]
    ends = {"input": {"path": path}, "output": {"name": INTRINSIC}}
    kinds = [s["type"] for s in steps]
    if kinds == ["scale"] or kinds == ["identity"]:
        return {**steps[0], **ends}
    if kinds == ["scale", "translation"]:
        return {"type": "sequence", "transformations": steps, **ends}
    msg = f"{where}: coordinateTransformations {kinds} cannot be a 0.6 level transformation (scale, then a translation)"
    raise InputError(msg)


def _parameters(t: dict, where: str) -> dict:
    """A transformation without its input and output (as inside a sequence);
    0.6 has no scale or translation stored in an array."""
    kind = t.get("type")
    if kind in ("scale", "translation") and kind not in t:
        msg = f"{where}: a {kind} stored in an array ({t.get('path')!r}) cannot be written in 0.6 (only in JSON)"
        raise InputError(msg)
    return {k: copy.deepcopy(v) for k, v in t.items() if k not in ("input", "output")}


def migrate_multiscale(ms: dict, where: str = "multiscales[0]") -> dict:
    """One 0.5 multiscales entry as 0.6 (see the module's description); the
    keys keep their order, ``axes`` replaced by ``coordinateSystems``."""
    axes = ms.get("axes")
    if not isinstance(axes, list):
        msg = f"{where}: has no axes list"
        raise InputError(msg)
    taken = {INTRINSIC}
    systems = [{"name": INTRINSIC, "axes": copy.deepcopy(axes)}]
    extra: list[dict] = []
    carried = ms.get("coordinateTransformations")
    if carried is not None:
        extra = _whole_image(carried, axes, systems, taken, f"{where}.coordinateTransformations")
    out: dict = {}
    for key, value in ms.items():
        if key == "version":
            continue
        if key == "axes":
            out["coordinateSystems"] = systems
        elif key == "datasets":
            out[key] = [_dataset(ds, f"{where}.datasets[{d}]") for d, ds in enumerate(value)] \
                if isinstance(value, list) else copy.deepcopy(value)
        elif key == "coordinateTransformations":
            if extra:
                out[key] = extra
        else:
            out[key] = copy.deepcopy(value)
    return out


def _dataset(ds: object, where: str) -> object:
    if not isinstance(ds, dict):
        return copy.deepcopy(ds)
    out = {}
    for key, value in ds.items():
        if key == "coordinateTransformations":
            out[key] = [level_transformation(value, ds.get("path"), where)]
        else:
            out[key] = copy.deepcopy(value)
    return out


def _whole_image(transforms: object, axes: list, systems: list[dict], taken: set[str], where: str) -> list[dict]:
    """The multiscale's own transformations as 0.6 ones from the intrinsic
    system; the coordinate systems they map to are appended to ``systems``."""
    if not isinstance(transforms, list) or not all(isinstance(t, dict) for t in transforms):
        msg = f"{where}: must be a list of objects"
        raise InputError(msg)
    named = [t for t in transforms if isinstance(t.get("output"), dict) or isinstance(t.get("input"), dict)]
    if not named:
        # 0.5: a scale and at most one translation applied after every level's
        if not transforms:
            return []
        physical = _unique(PHYSICAL, taken)
        systems.append({"name": physical, "axes": copy.deepcopy(axes)})
        steps = [_parameters(t, where) for t in transforms]
        one = steps[0] if len(steps) == 1 else {"type": "sequence", "transformations": steps}
        return [{**one, "input": {"name": INTRINSIC}, "output": {"name": physical}}]
    out = []
    names: dict[str, str] = {}
    for i, t in enumerate(transforms):
        item = f"{where}[{i}]"
        target = t.get("output") if isinstance(t.get("output"), dict) else {}
        source = t.get("input") if isinstance(t.get("input"), dict) else {}
        name = target.get("name") if isinstance(target.get("name"), str) and target.get("name") else PHYSICAL
        if name not in names:
            names[name] = _unique(name, taken)
            target_axes = target.get("axes")
            systems.append({"name": names[name], "axes": copy.deepcopy(target_axes)
                            if _axis_list(target_axes) else copy.deepcopy(axes)})
        in_axes = [a["name"] for a in source["axes"]] if _axis_list(source.get("axes")) else [a.get("name") for a in axes]
        out_axes = [a["name"] for a in target["axes"]] if _axis_list(target.get("axes")) else in_axes
        step = _spatialdata_step(t, in_axes, out_axes, item)
        out.append({**step, "input": {"name": INTRINSIC}, "output": {"name": names[name]}})
    return out


def _axis_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(a, dict) and isinstance(a.get("name"), str)
                                                           for a in value)


def _spatialdata_step(t: dict, in_axes: list, out_axes: list, where: str) -> dict:
    """A transformation with named input and output (as SpatialData writes
    them) in 0.6's form: nested ones without their own input and output, an
    affine as its upper M x (N+1) rows (SpatialData stores the whole
    homogeneous matrix), a mapAxis by name as input axis indices."""
    kind = t.get("type")
    step = _parameters(t, where)
    if kind in _NESTED and isinstance(step.get("transformations"), list):
        if kind == "sequence":
            step["transformations"] = [_spatialdata_step(s, in_axes, out_axes, f"{where}.transformations[{j}]")
                                       if isinstance(s, dict) else s for j, s in enumerate(step["transformations"])]
    elif kind == "affine" and isinstance(step.get("affine"), list):
        matrix = step["affine"]
        last = matrix[-1] if matrix else None
        if len(matrix) > 1 and isinstance(last, list) and len(last) == len(matrix) and \
                all(v == 0 for v in last[:-1]) and last[-1] == 1:
            step["affine"] = matrix[:-1]
    elif kind == "mapAxis" and isinstance(step.get("mapAxis"), dict):
        mapping = step["mapAxis"]
        try:
            step["mapAxis"] = [in_axes.index(mapping[name]) for name in out_axes]
        except (KeyError, ValueError):
            msg = f"{where}: mapAxis {mapping} does not map every output axis ({', '.join(map(str, out_axes))}) to an input axis"
            raise InputError(msg) from None
    return step
