"""What the planner reads of an input beyond its 0.4 metadata: the levels of
an image of an older OME-NGFF version (whose axes and scales follow from
them), and what an array's ``.zarray`` gets wrong or leaves out that is read
anyway. Each returns the sentences the planner records as repairs."""

from __future__ import annotations

import dataclasses

from ..stores.base import Store, join
from ..zarr.chunk_keys import stored_separator
from ..zarr.v2 import SourceArray


def image_levels(src: Store, path: str, attrs: dict, array_attrs) -> dict[str, tuple[tuple[int, ...], object]]:
    """Each dataset of the image at ``path`` that is an array: (its shape, its
    ``_ARRAY_DIMENSIONS``). ``array_attrs(path)``: an array's attributes."""
    levels = {}
    multiscales = attrs.get("multiscales")
    for ms in multiscales if isinstance(multiscales, list) else []:
        datasets = ms.get("datasets") if isinstance(ms, dict) else None
        for ds in datasets if isinstance(datasets, list) else []:
            name = ds.get("path") if isinstance(ds, dict) else None
            if not isinstance(name, str) or not src.exists(join(path, name, ".zarray")):
                continue
            meta = src.get_json(join(path, name, ".zarray"))
            if isinstance(meta, dict) and isinstance(meta.get("shape"), list):
                levels[name] = (tuple(meta["shape"]), array_attrs(join(path, name)).get("_ARRAY_DIMENSIONS"))
    return levels


def zarray_slips(src: Store, path: str, source: SourceArray, *, probe: bool = False) -> list[str]:
    """A string zarr_format (webknossos: "2"), read as the number; with
    ``probe`` (an image of 0.1-0.3), a dimension_separator that .zarray leaves
    out while the stored keys tell it (zarr-python before 2.8 wrote nested
    keys without one): ``source`` is read with the separator found."""
    notes = []
    zarray = src.get_json(join(path, ".zarray"))
    if zarray.get("zarr_format") == "2":
        notes.append('.zarray: zarr_format "2" (a string) read as 2')
    if probe and "dimension_separator" not in zarray:
        found = stored_separator(src, path, len(source.meta.shape))
        if found is not None and found != source.meta.separator:
            source.meta = dataclasses.replace(source.meta, separator=found)
            kind = "nested (0/0/...)" if found == "/" else "dotted (0.0...)"
            notes.append(f".zarray has no dimension_separator but the stored chunk keys are {kind}: "
                         f"read with the separator '{found}'")
    return notes
