"""``validate``: is a dataset valid OME-Zarr 0.5 with the challenge's RO-Crate
(``walk``, ``crate_check``)? (Whether it equals its source voxel for voxel is
``convert.verify``.)"""

from __future__ import annotations

from ..errors import UserError
from ..stores.base import Store
from .metadata_only import looks_0_6
from .report import Report
from .walk import Validator
from .walk_v06 import Validator06

__all__ = ["Report", "validate", "validator_for"]


def validator_for(store: Store) -> Validator:
    """The walk for the version the top group declares (0.6, else 0.5's)."""
    try:
        meta = store.get_json("zarr.json")
    except UserError:  # the walk reports it
        meta = None
    attributes = meta.get("attributes") if isinstance(meta, dict) else None
    ome = attributes.get("ome") if isinstance(attributes, dict) else None
    if isinstance(ome, dict):
        version = ome.get("version")
        if isinstance(version, str) and version.startswith("0.6") or version is None and looks_0_6(ome):
            return Validator06(store)
    return Validator(store)


def validate(store: Store) -> Validator:
    """Walk and check ``store``; the validator holds the report and what it read."""
    validator = validator_for(store)
    validator.run()
    return validator
