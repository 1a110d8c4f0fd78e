"""Known defects of real OME-Zarr 0.4 writers, repaired where the right value
is unambiguous: pure functions from a group's parsed ``.zattrs`` to the
repaired copy and one sentence per repair (what was wrong, what it became).
A defect whose right value cannot be told is an InputError instead.

Each was seen in the output of a widely used writer (see the tests'
``realworld_writers``):

* iohub 0.2: ``coordinateTransformations: [{"type": "identity"}]`` on the
  multiscale and on every dataset, where 0.4 asks for one ``scale`` per
  dataset: the scale follows from the level shapes (level 0 is 1 per axis, a
  level half as large is 2);
* iohub 0.3: the label list written on the image (``"labels": {"labels":
  [...]}``) instead of on its ``labels`` group, whose ``.zattrs`` is empty;
* iohub 0.3: ``image-label`` with empty ``colors`` and ``properties`` lists
  (0.4 and 0.5 require at least one entry when present): an empty list says
  nothing, so it is dropped;
* iohub 0.1: the pyramid's scales divided by the level factor instead of
  multiplied (level 1, half as large, claims half the voxel size), so the
  datasets are not ordered from highest to lowest resolution as 0.4 and 0.5
  require: when every level's scale is exactly level 0's divided by the factor
  its shape implies, it becomes level 0's multiplied by it; any other
  unordered pyramid is refused (which level is wrong cannot be told);
* xarray-ome-ngff 3: a channel axis without ``type`` (a coordinate without
  attributes). Untyped axes count as spatial for the 0.5 schema, which allows
  at most 3: where more than 3 axes are untyped or spatial, an untyped axis
  named ``c``/``channel`` or ``t``/``time`` gets that type.
* pydantic-based writers: ``"omero": null`` (an unset field serialised), which
  the 0.5 image schema rejects (omero is an object when present): dropped;
* SpatialData: omero channels with only a ``label`` (0.4 and 0.5 say every
  channel MUST have a ``window`` and a ``color``; yaozarrs refuses them): the
  window is the data type's range (0 to 1 for floats), the colour a default.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..errors import InputError

# A transform that stands for "no transform" in some writers; not an OME-NGFF type.
IDENTITY = "identity"


def _is_identity_list(transforms) -> bool:
    return isinstance(transforms, list) and bool(transforms) and all(
        # one between named coordinate systems (input/output: SpatialData's) says more than "none"
        isinstance(t, dict) and t.get("type") == IDENTITY and "output" not in t for t in transforms
    )


def level_scale(shape0: tuple[int, ...], shape: tuple[int, ...], where: str) -> list[float]:
    """The scale of a level relative to level 0, from the two shapes: per axis
    the whole factor f for which the level holds ceil or floor of shape0 / f.
    InputError when no such factor fits (the shapes do not say the scale)."""
    scale = []
    for axis, (a, b) in enumerate(zip(shape0, shape)):
        if b <= 0 or b > a:
            msg = f"{where}: cannot tell the scale of a level of shape {list(shape)} from level 0 {list(shape0)}"
            raise InputError(msg)
        factor = max(1, round(a / b))
        if b not in (math.floor(a / factor), math.ceil(a / factor)):
            msg = (f"{where}: identity transforms, and the scale of a level of shape {list(shape)} "
                   f"cannot be told from level 0 {list(shape0)} (axis {axis})")
            raise InputError(msg)
        scale.append(float(factor))
    return scale


def identity_transforms(zattrs: dict, shapes: dict[str, tuple[int, ...]], where: str) -> tuple[dict, list[str]]:
    """Replace identity coordinateTransformations: on a multiscale they are
    dropped (it needs none), on a dataset they become the scale its shape
    implies. ``shapes``: dataset path -> array shape."""
    multiscales = zattrs.get("multiscales")
    if not isinstance(multiscales, list):
        return zattrs, []
    repaired = copy.deepcopy(zattrs)
    notes: list[str] = []
    for n, ms in enumerate(repaired["multiscales"]):
        if not isinstance(ms, dict):
            continue
        if _is_identity_list(ms.get("coordinateTransformations")):
            del ms["coordinateTransformations"]
            notes.append(f"multiscales[{n}]: identity coordinateTransformations removed (a multiscale needs none)")
        datasets = ms.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            continue
        bad = [d for d in datasets if isinstance(d, dict) and _is_identity_list(d.get("coordinateTransformations"))]
        if not bad:
            continue
        first = datasets[0].get("path") if isinstance(datasets[0], dict) else None
        if first not in shapes:
            continue
        for dataset in bad:
            path = dataset.get("path")
            if path not in shapes:
                continue
            scale = level_scale(shapes[first], shapes[path], where)
            dataset["coordinateTransformations"] = [{"type": "scale", "scale": scale}]
        notes.append(
            f"multiscales[{n}]: identity dataset transforms replaced by the scales the level shapes imply "
            f"({', '.join(str([round(v, 6) for v in d['coordinateTransformations'][0]['scale']]) for d in bad)})"
        )
    return repaired, notes


def _scale_of(dataset) -> list[float] | None:
    transforms = dataset.get("coordinateTransformations") if isinstance(dataset, dict) else None
    if not (isinstance(transforms, list) and transforms and isinstance(transforms[0], dict)
            and transforms[0].get("type") == "scale"):
        return None
    scale = transforms[0].get("scale")
    if not (isinstance(scale, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale)):
        return None
    return [float(v) for v in scale]


def unordered_level_scales(zattrs: dict, shapes: dict[str, tuple[int, ...]], where: str) -> tuple[dict, list[str]]:
    """Datasets must go from the highest resolution to the lowest: no axis's
    scale may shrink from one level to the next. A pyramid whose levels carry
    level 0's scale divided by their factor (iohub 0.1) gets it multiplied;
    any other unordered one is an InputError naming the rule."""
    multiscales = zattrs.get("multiscales")
    if not isinstance(multiscales, list):
        return zattrs, []
    repaired = zattrs
    notes: list[str] = []
    for n, ms in enumerate(multiscales):
        datasets = ms.get("datasets") if isinstance(ms, dict) else None
        if not isinstance(datasets, list) or len(datasets) < 2:
            continue
        scales = [_scale_of(d) for d in datasets]
        if any(s is None or len(s) != len(scales[0]) for s in scales):
            continue
        bad = next((i for i in range(len(scales) - 1)
                    if any(a > b for a, b in zip(scales[i], scales[i + 1]))), None)
        if bad is None:
            continue
        paths = [d.get("path") for d in datasets]
        fixed = _inverted_fix(scales, [shapes.get(p) for p in paths])
        if fixed is None:
            msg = (f"{where}: multiscales[{n}]: dataset {bad + 1} ('{paths[bad + 1]}', scale {scales[bad + 1]}) has a "
                   f"higher resolution than dataset {bad} ('{paths[bad]}', scale {scales[bad]}): datasets must be "
                   f"ordered from the highest resolution to the lowest")
            raise InputError(msg)
        if repaired is zattrs:
            repaired = copy.deepcopy(zattrs)
        for dataset, scale in zip(repaired["multiscales"][n]["datasets"], fixed):
            dataset["coordinateTransformations"][0]["scale"] = scale
        notes.append(f"multiscales[{n}]: level scales divided by the level factor instead of multiplied, now "
                     f"{', '.join(str([round(v, 6) for v in s]) for s in fixed[1:])}")
    return repaired, notes


def _inverted_fix(scales: list[list[float]], shapes: list) -> list[list[float]] | None:
    """Level 0's scale times each level's factor (from the shapes), when every
    level's scale is level 0's divided by that factor; else None."""
    if any(s is None for s in shapes):
        return None
    try:
        factors = [level_scale(tuple(shapes[0]), tuple(shape), "") for shape in shapes]
    except InputError:
        return None
    s0 = scales[0]
    for scale, factor in zip(scales, factors):
        if not all(math.isclose(v, a / f, rel_tol=1e-9) for v, a, f in zip(scale, s0, factor)):
            return None
    return [[a * f for a, f in zip(s0, factor)] for factor in factors]


# names that say an axis's type where a writer left the type out
_TYPE_OF_NAME = {"c": "channel", "channel": "channel", "t": "time", "time": "time"}


def untyped_axes(zattrs: dict) -> tuple[dict, list[str]]:
    """More than 3 axes untyped or of type space (the 0.5 schema allows 3):
    untyped axes whose name says channel or time get that type."""
    multiscales = zattrs.get("multiscales")
    if not isinstance(multiscales, list):
        return zattrs, []
    repaired = zattrs
    notes: list[str] = []
    for n, ms in enumerate(multiscales):
        axes = ms.get("axes") if isinstance(ms, dict) else None
        if not isinstance(axes, list) or not all(isinstance(a, dict) for a in axes):
            continue
        spatial_like = [a for a in axes if a.get("type", "space") == "space"]
        named = [i for i, a in enumerate(axes)
                 if "type" not in a and isinstance(a.get("name"), str) and a["name"].lower() in _TYPE_OF_NAME]
        if len(spatial_like) <= 3 or not named:
            continue
        if repaired is zattrs:
            repaired = copy.deepcopy(zattrs)
        for i in named:
            axis = repaired["multiscales"][n]["axes"][i]
            axis["type"] = _TYPE_OF_NAME[axis["name"].lower()]
        notes.append(f"multiscales[{n}]: axes without a type given the one their name says ("
                     + ", ".join(f"'{axes[i]['name']}': {_TYPE_OF_NAME[axes[i]['name'].lower()]}" for i in named)
                     + "; untyped axes count as space, of which there are at most 3)")
    return repaired, notes


def labels_on_image(zattrs: dict) -> tuple[dict, list[str] | None, list[str]]:
    """An image group holding ``"labels": {"labels": [names]}`` (its labels
    group's list, written on the wrong group): the image without it, the list,
    and the note. (zattrs, None, []) when the image has no such entry."""
    value = zattrs.get("labels")
    if not (isinstance(value, dict) and isinstance(value.get("labels"), list)
            and all(isinstance(v, str) for v in value["labels"])):
        return zattrs, None, []
    repaired = {k: v for k, v in zattrs.items() if k != "labels"}
    names = list(value["labels"])
    return repaired, names, [f"label list {names} moved from the image to its labels group"]


def empty_image_label_lists(zattrs: dict) -> tuple[dict, list[str]]:
    """``image-label`` with ``colors: []`` or ``properties: []``: dropped."""
    label = zattrs.get("image-label")
    if not isinstance(label, dict):
        return zattrs, []
    empty = [k for k in ("colors", "properties") if label.get(k) == []]
    if not empty:
        return zattrs, []
    repaired = copy.deepcopy(zattrs)
    for key in empty:
        del repaired["image-label"][key]
    return repaired, [f"empty image-label {' and '.join(empty)} removed (when present they list at least one entry)"]


def null_omero(zattrs: dict) -> tuple[dict, list[str]]:
    """``"omero": null``: dropped (an unset field, not an omero object)."""
    if "omero" not in zattrs or zattrs["omero"] is not None:
        return zattrs, []
    return {k: v for k, v in zattrs.items() if k != "omero"}, ['"omero": null removed (an unset field)']


# the colours given to channels that have none: one channel white, several in turn
SINGLE_COLOR = "FFFFFF"
COLORS = ("FF0000", "00FF00", "0000FF", "FF00FF", "00FFFF", "FFFF00")
WINDOW_KEYS = ("start", "end", "min", "max")


def data_range(dtype: np.dtype) -> tuple[float, float]:
    """The window a channel of this data type gets: the type's range for
    integers and bool, 0 to 1 for floats (whose range says nothing)."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return int(info.min), int(info.max)
    if dtype.kind == "b":
        return 0, 1
    return 0.0, 1.0


def omero_channel_defaults(zattrs: dict, dtype: np.dtype) -> tuple[dict, list[str]]:
    """omero channels without a window (or with some of start, end, min, max
    missing) or without a colour: filled from the image's data type and the
    default colours. Nothing when omero is not an object with a channel list."""
    omero = zattrs.get("omero")
    channels = omero.get("channels") if isinstance(omero, dict) else None
    if not isinstance(channels, list):
        return zattrs, []
    lacking = [i for i, ch in enumerate(channels) if isinstance(ch, dict) and (
        not _is_rrggbb(ch.get("color")) or not isinstance(ch.get("window", {}), dict)
        or any(k not in ch.get("window", {}) for k in WINDOW_KEYS))]
    if not lacking:
        return zattrs, []
    low, high = data_range(dtype)
    repaired = copy.deepcopy(zattrs)
    filled = set()
    for i in lacking:
        ch = repaired["omero"]["channels"][i]
        if not _is_rrggbb(ch.get("color")):
            ch["color"] = _as_rrggbb(ch.get("color")) or (SINGLE_COLOR if len(channels) == 1 else COLORS[i % len(COLORS)])
            filled.add("color")
        window = ch.get("window")
        if not isinstance(window, dict):
            window = ch["window"] = {}
        defaults = {"min": low, "max": high, "start": window.get("min", low), "end": window.get("max", high)}
        for key in WINDOW_KEYS:
            if key not in window:
                window[key] = defaults[key]
                filled.add("window")
    what = " and ".join(sorted(filled, reverse=True))
    return repaired, [f"omero channels {lacking} had no {what} (or not as RRGGBB): given the {dtype} range {low} to "
                      f"{high} as window where missing, colours as RRGGBB or default ones (every channel must have a "
                      "window and a color of 6 hex digits)"]


def omero_label_strings(zattrs: dict) -> tuple[dict, list[str]]:
    """omero channel labels that are numbers (SpatialData names unnamed
    channels 0, 1, 2): the 0.5 image schema wants strings, so each becomes its
    text ("0"). Nothing when every label is a string or absent. (A SpatialData
    store keeps its numbers: its library builds its channel coordinate from
    them; the planner does not call this there.)"""
    omero = zattrs.get("omero")
    channels = omero.get("channels") if isinstance(omero, dict) else None
    if not isinstance(channels, list):
        return zattrs, []
    numbered = [i for i, ch in enumerate(channels) if isinstance(ch, dict) and "label" in ch
                and isinstance(ch["label"], (int, float)) and not isinstance(ch["label"], bool)]
    if not numbered:
        return zattrs, []
    repaired = copy.deepcopy(zattrs)
    for i in numbered:
        ch = repaired["omero"]["channels"][i]
        ch["label"] = str(ch["label"])
    return repaired, [f"omero channels {numbered} had numbers as labels: written as text (the label is a string)"]


def _is_rrggbb(color) -> bool:
    return isinstance(color, str) and len(color) == 6 and all(c in "0123456789abcdefABCDEF" for c in color)


def _as_rrggbb(color) -> str | None:
    """'#FF0000', 'F00', '#f00' as RRGGBB; None for anything else."""
    if not isinstance(color, str):
        return None
    digits = color.removeprefix("#")
    if len(digits) == 3:
        digits = "".join(2 * c for c in digits)
    return digits.upper() if _is_rrggbb(digits) else None
