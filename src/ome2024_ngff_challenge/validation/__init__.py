"""``validate``: is a dataset valid OME-Zarr 0.5 with the challenge's RO-Crate
(``walk``, ``crate_check``), and, against its source, equal voxel for voxel
(``compare``)?"""

from __future__ import annotations

from ..stores.base import Store
from .compare import compare_with_source
from .report import Report
from .walk import Validator

__all__ = ["Report", "validate"]


def validate(store: Store, against: Store | None = None) -> Report:
    validator = Validator(store)
    validator.run()
    if against is not None:
        compare_with_source(validator, against)
    return validator.report
