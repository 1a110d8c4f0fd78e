"""OME-NGFF 0.4 metadata as the converter reads it: pure functions that check a
group's parsed ``.zattrs`` and return the paths it references (datasets, label
images, wells, fields, series).

Nothing here reads a store. The checks raise :class:`InputError` with a
one-line message that starts with ``where`` (the group's path as the user
would recognise it).
"""

from __future__ import annotations

from ..errors import InputError
from ..json_values import is_number
from .spec import SOURCE_VERSION, versioned_objects


def check_version(zattrs: dict, where: str) -> None:
    """Refuse a group whose objects declare a spec version other than 0.4.

    A missing version is accepted (many 0.4 writers omit some of them).
    """
    for versioned in versioned_objects(zattrs):
        if "version" not in versioned:
            continue
        if not isinstance(versioned["version"], str):
            raise InputError(
                f"{where}: OME-NGFF version must be a string, got {versioned['version']!r}"
            )
        if base_version(versioned["version"]) != SOURCE_VERSION:
            raise InputError(
                f"{where}: OME-NGFF version {versioned['version']} is not supported "
                f"(this converter reads {SOURCE_VERSION})"
            )


def base_version(version: str) -> str:
    """The spec version a tool-suffixed one builds on ("0.4-dev-spatialdata",
    which spatialdata 0.3-0.4 writes, is 0.4)."""
    return version.split("-", 1)[0]


def _check_relative_path(path, where: str, label: str) -> None:
    """Reject paths that are not a plain relative key inside the group.

    The converter joins these paths onto the input and output locations, so
    an absolute path or ".." would reach outside the dataset.
    """
    if not isinstance(path, str) or not path:
        raise InputError(f"{where}: {label} must be a non-empty string, got {_short(path)}")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise InputError(f"{where}: {label} {path!r} is not a relative path inside the group")


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_transforms(transforms, n_axes: int, where: str, label: str) -> None:
    """Check a coordinateTransformations list against the number of axes."""
    if not isinstance(transforms, list):
        raise InputError(f"{where}: {label} must be a list")
    for index, transform in enumerate(transforms):
        item = f"{label}[{index}]"
        if not isinstance(transform, dict):
            raise InputError(f"{where}: {item} must be an object")
        kind = transform.get("type")
        # A "scale"/"translation" may instead point to a binary "path"; only
        # inline values can be checked here.
        if kind in ("scale", "translation") and kind in transform:
            values = transform[kind]
            if not isinstance(values, list) or not all(is_number(v) for v in values):
                raise InputError(f"{where}: {item}.{kind} must be a list of finite numbers, not {_short(values)}")
            if len(values) != n_axes:
                raise InputError(
                    f"{where}: {item}.{kind} has {len(values)} values "
                    f"but there are {n_axes} axes"
                )


def _check_axes(axes, where: str, label: str) -> None:
    if not isinstance(axes, list) or not axes:
        raise InputError(f"{where}: {label} must be a non-empty list")
    if any(isinstance(axis, str) for axis in axes):
        raise InputError(
            f"{where}: {label} is a list of strings (OME-NGFF 0.3 style); "
            "0.4 needs objects with a 'name'"
        )
    names = []
    for index, axis in enumerate(axes):
        if not isinstance(axis, dict) or not isinstance(axis.get("name"), str):
            raise InputError(f"{where}: {label}[{index}] must be an object with a string 'name'")
        names.append(axis["name"])
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(f"{where}: {label} has duplicate names: {', '.join(duplicates)}")


def check_multiscales(zattrs: dict, where: str) -> list[dict]:
    """Validate the structure of a 0.4 image group's multiscales; return it.

    Array dimensionality is not checked here (no arrays are read); the caller
    compares each array's ndim with the number of axes.
    """
    multiscales = zattrs.get("multiscales")
    if multiscales is None:
        raise InputError(f"{where}: no 'multiscales' in the group attributes")
    if not isinstance(multiscales, list) or not multiscales:
        raise InputError(f"{where}: 'multiscales' must be a non-empty list")
    for m_index, multiscale in enumerate(multiscales):
        label = f"multiscales[{m_index}]"
        if not isinstance(multiscale, dict):
            raise InputError(f"{where}: {label} must be an object")
        for required in ("axes", "datasets"):
            if required not in multiscale:
                raise InputError(f"{where}: {label} has no '{required}'")
        _check_axes(multiscale["axes"], where, f"{label}.axes")
        n_axes = len(multiscale["axes"])
        if "coordinateTransformations" in multiscale:
            _check_transforms(
                multiscale["coordinateTransformations"],
                n_axes,
                where,
                f"{label}.coordinateTransformations",
            )

        datasets = multiscale["datasets"]
        if not isinstance(datasets, list) or not datasets:
            raise InputError(f"{where}: {label}.datasets must be a non-empty list")
        for d_index, dataset in enumerate(datasets):
            d_label = f"{label}.datasets[{d_index}]"
            if not isinstance(dataset, dict) or not isinstance(dataset.get("path"), str):
                raise InputError(f"{where}: {d_label} must be an object with a string 'path'")
            _check_relative_path(dataset["path"], where, f"{d_label}.path")
            if "coordinateTransformations" in dataset:
                _check_transforms(
                    dataset["coordinateTransformations"],
                    n_axes,
                    where,
                    f"{d_label}.coordinateTransformations",
                )
    return multiscales


def dimension_names(multiscale: dict) -> list[str]:
    """Axis names of one (validated) multiscales entry, in order."""
    return [axis["name"] for axis in multiscale["axes"]]


def image_dataset_paths(zattrs: dict) -> list[str]:
    """Array paths of all multiscales entries, in order, without repeats.

    Expects attributes already accepted by :func:`check_multiscales`.
    """
    paths: list[str] = []
    for multiscale in zattrs.get("multiscales", []):
        for dataset in multiscale["datasets"]:
            if dataset["path"] not in paths:
                paths.append(dataset["path"])
    return paths


def _child_paths(items, where: str, label: str) -> list[str]:
    """Paths from a list of ``{"path": ...}`` objects (plate wells, well images)."""
    if not isinstance(items, list):
        raise InputError(f"{where}: {label} must be a list")
    paths = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "path" not in item:
            raise InputError(f"{where}: {label}[{index}] must be an object with a 'path'")
        _check_relative_path(item["path"], where, f"{label}[{index}].path")
        paths.append(item["path"])
    return paths


def labels_list(zattrs: dict, where: str) -> list[str]:
    """Label image paths listed by a labels group."""
    labels = zattrs.get("labels")
    if not isinstance(labels, list):
        raise InputError(f"{where}: 'labels' must be a list of label image paths")
    for index, label in enumerate(labels):
        _check_relative_path(label, where, f"labels[{index}]")
    return list(labels)


def plate_wells(zattrs: dict, where: str) -> list[str]:
    """Well paths (e.g. "A/1") listed by a plate group."""
    plate = zattrs.get("plate")
    if not isinstance(plate, dict):
        raise InputError(f"{where}: 'plate' must be an object")
    if "wells" not in plate:
        raise InputError(f"{where}: plate has no 'wells'")
    return _child_paths(plate["wells"], where, "plate.wells")


def well_images(zattrs: dict, where: str) -> list[str]:
    """Field-of-view image paths listed by a well group."""
    well = zattrs.get("well")
    if not isinstance(well, dict):
        raise InputError(f"{where}: 'well' must be an object")
    if "images" not in well:
        raise InputError(f"{where}: well has no 'images'")
    return _child_paths(well["images"], where, "well.images")


def bioformats2raw_series(ome_group_zattrs: dict | None, where: str = "OME/.zattrs") -> list[str] | None:
    """The image paths listed in a bioformats2raw ``OME`` group, if any
    (``where``: its ``.zattrs``, as error messages name it).

    Returns None when there is no OME group or it has no "series" list, in
    which case readers fall back to the numbered groups "0", "1", ...
    """
    if ome_group_zattrs is None or "series" not in ome_group_zattrs:
        return None
    series = ome_group_zattrs["series"]
    if not isinstance(series, list):
        raise InputError(f"{where}: 'series' must be a list of image paths, not {_short(series)}")
    for index, path in enumerate(series):
        _check_relative_path(path, where, f"series[{index}]")
    return list(series)
