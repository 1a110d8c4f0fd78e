"""The ``ro-crate-metadata.json`` of a converted dataset, in its store: added
or changed by ``update``.

Only that one file is written (atomically); no array or group is touched. An
existing crate is edited in place, so anything else it says (authors, extra
entities, its datePublished) is kept; a dataset without one gets a new crate
named after its folder.
"""

from __future__ import annotations

import logging
import posixpath

from ..errors import UserError
from ..json_values import json_bytes
from ..stores.base import Store
from .rocrate import (
    METADATA_ID,
    CrateInfo,
    build_crate,
    edit_crate,
    read_crate_info,
    update_crate_info,
)

LOG = logging.getLogger("ome2024_ngff_challenge")


def default_name(store: Store, target: str) -> str:
    name = posixpath.basename(target.rstrip("/\\").replace("\\", "/"))
    return name or posixpath.basename(store.describe().rstrip("/")) or target


def update(store: Store, target: str, changes: dict) -> tuple[CrateInfo, bool]:
    """Apply ``changes`` to the target's crate; returns (the crate's info after
    the update, whether anything was written)."""
    where = store.describe(METADATA_ID)
    path = store.local_path(METADATA_ID)
    if (path is not None and path.is_dir()) or (store.supports_listing and any(store.list_dir(METADATA_ID))):
        msg = f"{where}: is a folder, not the crate's JSON file; move it away, then run 'update' again"
        raise UserError(msg)
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


