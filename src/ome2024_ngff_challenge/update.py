"""`ome2024-ngff-challenge update TARGET --rocrate-...`: add or change the
license, organism, modality, name or description in the ``ro-crate-metadata.json``
of a converted dataset.

Only that one file is written (atomically); no array or group is touched. An
existing crate is edited in place, so anything else it says (authors, extra
entities, its datePublished) is kept; a dataset without one gets a new crate
named after its folder.
"""

from __future__ import annotations

import copy
import logging
import posixpath
import sys

from . import INCOMPLETE_MARK
from .errors import UserError
from .rocrate_meta import (
    crate_options,
    ACQUISITION_ID,
    BIOSAMPLE_ID,
    METADATA_ID,
    SPECIMEN_ID,
    CrateInfo,
    build_crate,
    read_crate_info,
    update_crate_info,
)
from .stores import Store, json_bytes

LOG = logging.getLogger("ome2024_ngff_challenge")


def check_target(store: Store) -> None:
    """Refuse anything but a finished Zarr v3 OME-Zarr dataset, in one line."""
    where = store.describe()
    meta = store.get_json("zarr.json")
    if meta is None:
        if store.exists(".zgroup"):
            msg = f"{where}: a Zarr v2 dataset (OME-Zarr 0.4 or older): convert it with 'resave' first"
        else:
            msg = f"{where}: not a Zarr v3 OME-Zarr dataset (no zarr.json at the top)"
        raise UserError(msg)
    attributes = meta.get("attributes") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or meta.get("zarr_format") != 3 or meta.get("node_type") != "group" \
            or not isinstance(attributes, dict) or not isinstance(attributes.get("ome"), dict):
        msg = f"{where}: not an OME-Zarr 0.5 dataset (zarr.json is not a Zarr v3 group with attributes.ome)"
        raise UserError(msg)
    if store.exists(INCOMPLETE_MARK):
        msg = f"{where}: the conversion did not finish ({INCOMPLETE_MARK} is present); run 'resave' again first"
        raise UserError(msg)


def _ids(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v["@id"] if isinstance(v, dict) else v for v in values
            if (isinstance(v, dict) and isinstance(v.get("@id"), str)) or isinstance(v, str)]


def _link(entity: dict, key: str, target_id: str) -> None:
    """Add a reference to ``target_id`` to ``entity[key]`` (first, keeping others)."""
    existing = entity.get(key)
    ref = {"@id": target_id}
    if existing is None:
        entity[key] = ref
    elif isinstance(existing, list):
        entity[key] = [ref, *existing]
    else:
        entity[key] = [ref, existing]


class _Graph:
    def __init__(self, crate: dict):
        self.graph = crate["@graph"]
        self.by_id = {e["@id"]: e for e in self.graph if isinstance(e, dict) and isinstance(e.get("@id"), str)}

    def first(self, entity: dict, key: str) -> dict | None:
        for ref in _ids(entity.get(key)):
            if isinstance(self.by_id.get(ref), dict):
                return self.by_id[ref]
        return None

    def new(self, wanted_id: str, kind: str) -> dict:
        new_id, n = wanted_id, 1
        while new_id in self.by_id:
            n += 1
            new_id = f"{wanted_id}-{n}"
        entity = {"@id": new_id, "@type": kind}
        self.graph.append(entity)
        self.by_id[new_id] = entity
        return entity

    def child(self, parent: dict, key: str, wanted_id: str, kind: str) -> dict:
        entity = self.first(parent, key)
        if entity is None:
            entity = self.new(wanted_id, kind)
            _link(parent, key, entity["@id"])
        return entity


def edit_crate(crate: dict, changes: dict) -> dict | None:
    """A copy of ``crate`` with ``changes`` applied where read_crate_info looks
    for them; None when the crate has no usable root dataset."""
    crate = copy.deepcopy(crate)
    if not isinstance(crate, dict) or not isinstance(crate.get("@graph"), list):
        return None
    g = _Graph(crate)
    descriptor = g.by_id.get(METADATA_ID)
    root = g.first(descriptor, "about") if isinstance(descriptor, dict) else None
    if root is None:
        return None
    for key in ("name", "description"):
        if key in changes:
            root[key] = changes[key]
    if "license" in changes:
        root["license"] = {"@id": changes["license"]}
    if "modality" in changes or "organism" in changes:
        acquisition = g.child(root, "resultOf", ACQUISITION_ID, "image_acquisition")
        if "modality" in changes:
            acquisition["fbbi_id"] = {"@id": changes["modality"]}
        if "organism" in changes:
            specimen = g.child(acquisition, "specimen", SPECIMEN_ID, "specimen")
            biosample = g.child(specimen, "biosample", BIOSAMPLE_ID, "biosample")
            biosample["organism_classification"] = {"@id": changes["organism"]}
    return crate


def default_name(store: Store, target: str) -> str:
    name = posixpath.basename(target.rstrip("/\\").replace("\\", "/"))
    return name or posixpath.basename(store.describe().rstrip("/")) or target


def update(store: Store, target: str, changes: dict) -> tuple[CrateInfo, bool]:
    """Apply ``changes`` to the target's crate; returns (the crate's info after
    the update, whether anything was written)."""
    check_target(store)
    where = store.describe(METADATA_ID)
    try:
        existing = store.get_json(METADATA_ID)
    except UserError:
        msg = f"{where}: not valid JSON; fix or delete it, then run 'update' again"
        raise UserError(msg) from None
    if existing is None:
        info = update_crate_info(CrateInfo(name=default_name(store, target)), **changes)
        if not changes:
            return info, False
        store.put(METADATA_ID, json_bytes(build_crate(info)))
        return info, True
    if not changes:
        return read_crate_info(existing), False
    edited = edit_crate(existing, changes)
    if edited is None:
        LOG.warning("%s: no RO-Crate root dataset found; writing a new crate with what could be read from it", where)
        info = update_crate_info(read_crate_info(existing), **changes)
        if info.name is None:
            info.name = default_name(store, target)
        edited = build_crate(info)
    store.put(METADATA_ID, json_bytes(edited))
    return read_crate_info(edited), True


def run(args) -> int:
    from .cli import location
    from .locations import open_store

    changes = crate_options(args)
    store = open_store(args.target, role="output", **location(args, "output"))
    info, written = update(store, args.target, changes)
    where = store.describe(METADATA_ID)
    print(f"{'updated' if written else 'unchanged (no --rocrate-... option given)'}: {where}")
    for key in ("name", "description", "license", "organism", "modality"):
        value = getattr(info, key)
        print(f"  {key}: {value if value is not None else '-'}")
    if info.missing():
        hints = {"license": "--cc-by, --cc0 or --rocrate-license", "organism": "--rocrate-organism",
                 "modality": "--rocrate-modality"}
        print(f"warning: no {', '.join(info.missing())} yet: the challenge asks for them "
              f"(add {', '.join(hints[m] for m in info.missing())}; "
              "find terms with 'ome2024-ngff-challenge lookup')", file=sys.stderr)
    return 0
