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
        isinstance(t, dict) and t.get("type") == IDENTITY for t in transforms
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
