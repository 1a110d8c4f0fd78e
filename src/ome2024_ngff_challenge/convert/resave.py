"""``resave``: read the input into a plan, then hand it to an executor. There is
no other branching here: how the plan is run (threads, Dask, job arrays,
scripts) is the executor's business, and a layout shown instead of converted
(the details file) is a view of the same plan."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..stores.base import Store
from ..zarr.codecs import DEFAULT_COMPRESSION, Compression
from .details import write_details
from .output import Conversion, OutputSettings, creator
from .plan import LayoutRequest, Plan, build_plan

if TYPE_CHECKING:  # executors are above this layer: only named here
    from ..executors.base import Executor

LOG = logging.getLogger("ome2024_ngff_challenge")


def plan_conversion(src: Store, layout: LayoutRequest | None = None,
                    compression: Compression | None = None) -> Plan:
    """The plan of converting ``src``: groups, arrays with their layout, tasks."""
    plan = build_plan(src, layout or LayoutRequest(), compression or DEFAULT_COMPRESSION, creator())
    LOG.info(
        "%s: %d groups, %d arrays, %d tasks, %.1f MB", src.describe(), len(plan.groups),
        len(plan.arrays), plan.n_tasks, plan.nbytes / 1e6,
    )
    return plan


def resave(src: Store, out: Store, executor: Executor, *, layout: LayoutRequest | None = None,
           compression: Compression | None = None, settings: OutputSettings | None = None) -> Plan:
    """Convert ``src`` into ``out`` with ``executor``; the plan it ran."""
    plan = plan_conversion(src, layout, compression)
    executor.execute(Conversion(plan, src, out, settings or OutputSettings()))
    return plan


def resave_details(src: Store, out: Store, *, layout: LayoutRequest | None = None,
                   compression: Compression | None = None, overwrite: bool = False) -> Plan:
    """Write the planned layout of every array to ``out`` (a JSON file) instead
    of converting."""
    plan = plan_conversion(src, layout, compression)
    write_details(plan, out, overwrite)
    return plan
