"""OME-NGFF 0.1, 0.2 and 0.3 read as 0.4: pure functions from a group's
parsed ``.zattrs`` (and, for an image, its levels' shapes) to the 0.4
attributes and one sentence per value that had to be inferred (what, from
what). What cannot be inferred is an InputError naming the field.

What 0.4 asks that the older versions do not say (specification text, ome/ngff):

* 0.1 and 0.2 images have no "axes": their arrays are 5D ``t,c,z,y,x``;
* 0.3 "axes" is a list of names from ``t, c, z, y, x`` (0.4: objects with a
  "name" and a "type");
* none of them has "coordinateTransformations": each level's scale is the one
  its shape implies relative to level 0 (as the identity repair does);
* plate wells have no ``rowIndex`` / ``columnIndex`` (0.4 requires them): they
  are the positions of the path's row and column in ``rows`` and ``columns``.

The chunk key separator (0.1 ".", 0.2 and 0.3 "/", often without a
``dimension_separator`` in ``.zarray``) is a property of the stored chunks,
found by the planner (``zarr.chunk_keys.probe_separator``), not of the metadata.

Tool-suffixed versions ("0.4-dev-spatialdata") are read as their base
version (:func:`read_versions`).
"""

from __future__ import annotations

import copy
import re

from ..errors import InputError
from .repair import level_scale
from .spec import SOURCE_VERSION, versioned_objects

OLDER = ("0.1", "0.2", "0.3")
# what an axis name of 0.3 (or an xarray dimension name of an older array) says of its type
AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
ORDER_5D = ("t", "c", "z", "y", "x")
# "0.4-dev-spatialdata", "0.4.0", "0.3+tool": a version and a tool's or a patch suffix
_SUFFIXED = re.compile(r"^(0\.\d+)(?:\.\d+)?(?:[-+_][\w.+-]*)?$")


def base_version(version: str) -> str:
    """The specification version of a version string ("0.4-dev-spatialdata" -> "0.4")."""
    match = _SUFFIXED.match(version)
    return match.group(1) if match else version


def read_versions(zattrs: dict) -> tuple[dict, str | None, list[str]]:
    """The group with every spec version read as its base version; the group's
    version (the first declared of its multiscales, plate, well, image-label
    and omero); and a warning when a suffix was dropped."""
    multiscales = zattrs.get("multiscales")
    objects = [ms for ms in multiscales if isinstance(ms, dict)] if isinstance(multiscales, list) else []
    objects += [zattrs[k] for k in ("plate", "well", "image-label", "omero") if isinstance(zattrs.get(k), dict)]
    declared = [o["version"] for o in objects if isinstance(o.get("version"), str)]
    version = base_version(declared[0]) if declared else None
    suffixed = sorted({v for v in declared if base_version(v) != v})
    if not suffixed:
        return zattrs, version, []
    result = copy.deepcopy(zattrs)
    for obj in versioned_objects(result):
        if isinstance(obj.get("version"), str):
            obj["version"] = base_version(obj["version"])
    said = ", ".join(f"'{v}' read as {base_version(v)}" for v in suffixed)
    return result, version, [f"OME-NGFF version {said} (a tool's suffix dropped)"]


def _as_04(zattrs: dict) -> dict:
    """A copy with every declared spec version set to 0.4."""
    result = copy.deepcopy(zattrs)
    for obj in versioned_objects(result):
        if "version" in obj:
            obj["version"] = SOURCE_VERSION
    return result


def is_older(zattrs: dict, version: str | None) -> bool:
    """Whether an image group is to be read as 0.1-0.3: it says so, or it says
    no version and has no axes (which only the versions before 0.3 leave out),
    or its axes are names, as in 0.3 (whatever version it says)."""
    if version in OLDER:
        return True
    multiscales = zattrs.get("multiscales")
    entries = [ms for ms in multiscales if isinstance(ms, dict)] if isinstance(multiscales, list) else []
    if any(isinstance(ms.get("axes"), list) and ms["axes"] and all(isinstance(a, str) for a in ms["axes"])
           for ms in entries):
        return True
    return version is None and any("axes" not in ms for ms in entries)


def _axes_from_names(names: list, where: str, label: str, source: str) -> list[dict]:
    axes = []
    for i, name in enumerate(names):
        kind = AXIS_TYPES.get(name.lower()) if isinstance(name, str) else None
        if kind is None:
            msg = (f"{where}: {label}[{i}] {name!r} ({source}) is not one of the axis names t, c, z, y, x, "
                   "so its type cannot be told")
            raise InputError(msg)
        axes.append({"name": name.lower(), "type": kind})
    return axes


def image_to_v04(zattrs: dict, version: str | None, levels: dict[str, tuple[tuple[int, ...], object]],
                 where: str) -> tuple[dict, list[str]]:
    """An image (or label image) of OME-NGFF 0.1-0.3 as 0.4. ``levels``:
    dataset path -> (array shape, the array's ``_ARRAY_DIMENSIONS`` or None);
    it must hold every dataset of every multiscale."""
    said = f"OME-NGFF {version}" if version else "OME-NGFF without a version or axes (0.1/0.2)"
    result = _as_04(zattrs)
    notes: list[str] = []
    multiscales = result.get("multiscales")
    for n, ms in enumerate(multiscales if isinstance(multiscales, list) else []):
        label = f"multiscales[{n}]"
        if not isinstance(ms, dict) or not isinstance(ms.get("datasets"), list) or not ms["datasets"]:
            continue  # the 0.4 check says what is wrong
        paths = [d.get("path") for d in ms["datasets"] if isinstance(d, dict)]
        if not paths or any(p not in levels for p in paths):
            continue
        shape0, dims0 = levels[paths[0]]
        axes = ms.get("axes")
        if isinstance(axes, list) and axes and all(isinstance(a, str) for a in axes):
            ms["axes"] = _axes_from_names(axes, where, f"{label}.axes", "0.3 axis names")
            notes.append(f"{said}: {label}.axes {','.join(axes)} given types "
                         f"({','.join(a['type'] for a in ms['axes'])}) from their names")
        elif axes is None:
            ms["axes"], why = _implied_axes(shape0, dims0, where, f"{label}.axes", said, paths[0])
            notes.append(f"{said}: {label}.axes {','.join(a['name'] for a in ms['axes'])} inferred ({why})")
        missing = [d for d in ms["datasets"] if isinstance(d, dict) and "coordinateTransformations" not in d]
        if missing:
            for dataset in missing:
                shape = levels[dataset["path"]][0]
                if len(shape) != len(shape0):
                    break  # the 0.4 check says which level does not match the axes
                dataset["coordinateTransformations"] = [
                    {"type": "scale", "scale": level_scale(shape0, shape, where)}]
            else:
                scales = ", ".join(str(d["coordinateTransformations"][0]["scale"]) for d in missing)
                notes.append(f"{said}: {label} has no coordinateTransformations; the scales the level shapes imply "
                             f"({scales}) inferred")
    return result, notes


def _implied_axes(shape0: tuple[int, ...], dims0: object, where: str, label: str, said: str,
                  path: str) -> tuple[list[dict], str]:
    """The axes of an image that names none: its level 0's xarray dimension
    names (``_ARRAY_DIMENSIONS``) when it has them, else t,c,z,y,x of a 5D array."""
    if isinstance(dims0, list) and len(dims0) == len(shape0) and dims0:
        axes = _axes_from_names(dims0, where, label, f"_ARRAY_DIMENSIONS of dataset '{path}'")
        return axes, f"from the _ARRAY_DIMENSIONS {dims0} of dataset '{path}'"
    if len(shape0) == len(ORDER_5D):
        return [{"name": a, "type": AXIS_TYPES[a]} for a in ORDER_5D], "images before 0.3 are 5D t,c,z,y,x"
    msg = (f"{where}: {label} is missing and cannot be inferred: {said} images are 5D (t,c,z,y,x), but dataset "
           f"'{path}' has {len(shape0)} dimensions and no _ARRAY_DIMENSIONS naming them")
    raise InputError(msg)


def plate_to_v04(zattrs: dict, version: str | None, where: str) -> tuple[dict, list[str]]:
    """A plate of OME-NGFF 0.1-0.3 as 0.4: each well's rowIndex and columnIndex
    from its path's row and column names (also where a 0.4 plate leaves them
    out). InputError when a path lacking them is not ROW/COLUMN of names the
    plate lists (0.1-0.3 allowed e.g. "2020-10-10/A/1"; 0.4 has no place for
    the extra folder)."""
    result = _as_04(zattrs)
    plate = result.get("plate")
    if not isinstance(plate, dict) or not isinstance(plate.get("wells"), list):
        return result, []  # the 0.4 check says what is wrong
    names = {}
    for key in ("rows", "columns"):
        items = plate.get(key)
        if not isinstance(items, list) or not items:
            msg = f"{where}: plate.{key} is missing or empty, so the wells' {key} cannot be told"
            raise InputError(msg)
        names[key] = [item.get("name") if isinstance(item, dict) else None for item in items]
    inferred = 0
    for i, well in enumerate(plate["wells"]):
        if not isinstance(well, dict) or not isinstance(well.get("path"), str) or (
                "rowIndex" in well and "columnIndex" in well):
            continue
        parts = well["path"].split("/")
        if len(parts) != 2:
            msg = (f"{where}: plate.wells[{i}].path {well['path']!r} is not ROW/COLUMN, as OME-NGFF 0.4 and "
                   "later require (the wells' folders would have to move)")
            raise InputError(msg)
        for key, index, name in (("rows", "rowIndex", parts[0]), ("columns", "columnIndex", parts[1])):
            if index in well:
                continue
            if name not in names[key]:
                msg = f"{where}: plate.wells[{i}].path {well['path']!r}: {name!r} is not a name in plate.{key}"
                raise InputError(msg)
            well[index] = names[key].index(name)
            inferred += 1
    notes = []
    if inferred:
        said = f"OME-NGFF {version}" if version else "OME-NGFF (no version)"
        notes.append(f"{said} plate: the wells' rowIndex and columnIndex inferred from their paths "
                     "(the positions of their row and column names in plate.rows and plate.columns)")
    return result, notes


def well_to_v04(zattrs: dict) -> dict:
    """A well of OME-NGFF 0.1-0.3 as 0.4: the same but for its version."""
    return _as_04(zattrs)
