"""``validate``: is a dataset valid OME-Zarr 0.5 with the challenge's RO-Crate
(``walk``, ``crate_check``)? (Whether it equals its source voxel for voxel is
``convert.verify``.)"""

from __future__ import annotations

from ..stores.base import Store
from .report import Report
from .walk import Validator

__all__ = ["Report", "validate"]


def validate(store: Store) -> Validator:
    """Walk and check ``store``; the validator holds the report and what it read."""
    validator = Validator(store)
    validator.run()
    return validator
