"""The RO-Crate ``validate`` expects: present, JSON, a root dataset, and the
license, organism and modality the challenge asks for (warnings when missing)."""

from __future__ import annotations

from ..errors import UserError, option
from ..ome.rocrate import (
    METADATA_ID,
    read_crate_info,
    validate_license,
    validate_modality,
    validate_organism,
)
from ..stores.base import Store
from ..stores.remote import GaveUp
from .report import Report, unreadable


def check_crate(store: Store, report: Report) -> None:
    key = METADATA_ID
    try:
        crate = store.get_json(key)
    except GaveUp:
        raise  # the run's deadline: nothing more can be read
    except UserError as e:
        report.error(key, unreadable(e))
        return
    if crate is None:
        report.error(key, "missing: the challenge needs an RO-Crate with license, organism and modality "
                     f"(add it with 'ome2024-ngff-challenge update TARGET {option('license', 'cc-by')} "
                     f"{option('organism', '...')} {option('modality', '...')}')")
        return
    graph = crate.get("@graph") if isinstance(crate, dict) else None
    if not isinstance(graph, list):
        report.error(key, "not an RO-Crate: no '@graph' list")
        return
    if not isinstance(crate.get("@context"), (str, list, dict)):
        report.warn(key, "no '@context'")
    entities = {e["@id"]: e for e in graph if isinstance(e, dict) and isinstance(e.get("@id"), str)}
    descriptor = entities.get(METADATA_ID)
    if descriptor is None:
        report.error(key, f"no metadata descriptor entity (@id {METADATA_ID!r})")
        return
    about = descriptor.get("about")
    root_id = about.get("@id") if isinstance(about, dict) else None
    root = entities.get(root_id) if root_id else None
    if root is None:
        report.error(key, "the metadata descriptor's 'about' does not point to a root dataset entity")
        return
    types = root.get("@type")
    if "Dataset" not in (types if isinstance(types, list) else [types]):
        report.error(key, f"the root entity {root_id!r} is not of @type Dataset")
    info = read_crate_info(crate)
    hints = {"license": option("license"), "organism": option("organism"), "modality": option("modality")}
    for missing in info.missing():
        report.warn(key, f"no {missing}: the challenge asks for one (add it with 'update TARGET {hints[missing]}')")
    checks = (("license", info.license, validate_license), ("organism", info.organism, validate_organism),
              ("modality", info.modality, validate_modality))
    for what, value, check in checks:
        if value:
            try:
                check(value)
            except UserError as e:
                report.warn(key, f"{what}: {str(e).split(': ', 1)[-1]}")
