"""OME-NGFF 0.4 -> 0.5 metadata migration, as plain functions on dicts.

Nothing here reads or writes a store: callers pass the parsed ``.zattrs`` of a
0.4 group (checked by ``v04``) and get back the ``attributes`` of the 0.5
``zarr.json``.
"""

from __future__ import annotations

import copy

from .spec import OME_KEYS, TARGET_VERSION, versioned_objects


def migrate_attributes(zattrs: dict, *, creator: dict | None = None) -> dict:
    """Return the 0.5 ``zarr.json`` attributes for a 0.4 group's ``.zattrs``.

    The result is ``{"ome": {"version": "0.5", <OME keys in source order>,
    "_creator": creator}, <non-OME keys unchanged>}``.  The per-object spec
    "version" keys (in each multiscales entry, omero, image-label, plate and
    well) are dropped; everything else is kept as is, notably
    ``multiscales[].metadata.version``, which versions the downsampling
    method, not the spec.

    The "ome" key is only produced when the group has at least one OME key or
    a ``creator`` is given: a plain intermediate group (e.g. a plate row) with
    no attributes therefore gets ``{}``, not an empty "ome" object.

    The input is never modified.
    """
    source = copy.deepcopy(zattrs)
    for versioned in versioned_objects(source):
        versioned.pop("version", None)

    ome_part = {key: value for key, value in source.items() if key in OME_KEYS}
    other_part = {key: value for key, value in source.items() if key not in OME_KEYS}
    if not ome_part and creator is None:
        return other_part

    ome = {"version": TARGET_VERSION, **ome_part}
    if creator is not None:
        ome["_creator"] = copy.deepcopy(creator)
    return {"ome": ome, **other_part}
