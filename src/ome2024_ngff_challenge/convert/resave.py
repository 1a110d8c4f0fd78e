"""``resave``: read the input into a plan, check that what it would write is
valid OME-Zarr 0.5, then hand it to an executor. There is no other branching
here: how the plan is run (threads, Dask, job arrays, scripts) is the
executor's business, and a layout shown instead of converted (the details file)
is a view of the same plan."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import DISK_FULL, DiskFullError, InputError, UserError, option
from ..ome import v06
from ..ome.spec import TARGET_VERSION
from ..stores.base import Store, join
from ..stores.memory import MemoryStore
from ..validation import validator_for
from ..zarr.codecs import DEFAULT_COMPRESSION, Compression
from . import in_place
from .details import write_details
from .output import Conversion, OutputSettings, creator
from .plan import LayoutRequest, Plan
from .planner import build_plan

if TYPE_CHECKING:  # executors are above this layer: only named here
    from ..executors.base import Executor

LOG = logging.getLogger("ome2024_ngff_challenge")
# the OME-Zarr versions a conversion writes (the first: the default, the challenge's)
OUTPUT_VERSIONS = (TARGET_VERSION, v06.VERSION)


def check_output_version(version: str) -> str:
    if version not in OUTPUT_VERSIONS:
        msg = f"{option('output_version', version)}: OME-Zarr {' or '.join(OUTPUT_VERSIONS)} can be written"
        raise UserError(msg)
    return version


def upgrade_plan(plan: Plan, src: Store, version: str) -> Plan:
    """The plan's group metadata (0.5) as ``version`` writes it: 0.6 is one
    more pure step (``ome.v06``) after 0.4 -> 0.5; the arrays are the same."""
    if check_output_version(version) == v06.VERSION:
        for group in plan.groups:
            group.attributes = v06.migrate_attributes(group.attributes, f"{src.describe(group.path)}: ")
    return plan


def plan_conversion(src: Store, layout: LayoutRequest | None = None,
                    compression: Compression | None = None, *, repair: bool = True, in_place: bool = False,
                    verify: bool = False, add_levels: int | None = None, output_version: str = TARGET_VERSION) -> Plan:
    """The plan of converting ``src``: groups, arrays with their layout, tasks
    (``repair``: mend the known defects of real writers, else refuse them;
    ``in_place``: every array described where it is, or refused; ``verify``:
    byte copies decode every chunk, even where a store could copy it unread;
    ``add_levels``: levels added below each image's smallest until its y and x
    are at most this, ``levels``; ``output_version``: the OME-Zarr version
    of the group metadata)."""
    check_output_version(output_version)
    plan = build_plan(src, layout or LayoutRequest(), compression or DEFAULT_COMPRESSION, creator(), repair=repair,
                      in_place=in_place, verify=verify, add_levels=add_levels)
    upgrade_plan(plan, src, output_version)
    LOG.info(
        "%s: %d groups, %d arrays, %d tasks, %.1f MB", src.describe(), len(plan.groups),
        len(plan.arrays), plan.n_tasks, plan.nbytes / 1e6,
    )
    return plan


def check_planned_metadata(plan: Plan, src: Store) -> None:
    """The 0.5 (or 0.6) rules, run on the metadata the plan would write, before anything
    is written: an output that ``validate`` would reject is never made (the
    repairs the plan made are in it already). InputError naming the first
    problem, at the input path it comes from."""
    planned = MemoryStore(src.describe())
    for group in plan.groups:
        planned.put_json(join(group.path, "zarr.json"), group.zarr_json())
    for array in plan.arrays:
        planned.put_json(join(array.path, "zarr.json"), array.zarr_json())
    validator = validator_for(planned)
    report = validator.run(crate=False)
    errors = report.errors
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        msg = f"{errors[0]['location']}: would not be valid OME-Zarr {validator.version}: {errors[0]['message']}{more}"
        raise InputError(msg)


def prepare(src: Store, out: Store, *, layout: LayoutRequest | None = None, compression: Compression | None = None,
            settings: OutputSettings | None = None, repair: bool = True, verify: bool = False,
            add_levels: int | None = None, output_version: str = TARGET_VERSION) -> Conversion:
    """The checked plan of converting ``src`` into ``out``, ready for an
    executor (nothing is written yet)."""
    src.exclude(out)  # a link in the input that leads into the output is never followed
    plan = plan_conversion(src, layout, compression, repair=repair, verify=verify, add_levels=add_levels,
                           output_version=output_version)
    check_planned_metadata(plan, src)
    return Conversion(plan, src, out, settings or OutputSettings())


def resave(src: Store, out: Store, executor: Executor, *, layout: LayoutRequest | None = None,
           compression: Compression | None = None, settings: OutputSettings | None = None,
           repair: bool = True, verify: bool = False, add_levels: int | None = None,
           output_version: str = TARGET_VERSION) -> Plan:
    """Convert ``src`` into ``out`` with ``executor``; the plan it ran."""
    conversion = prepare(src, out, layout=layout, compression=compression, settings=settings, repair=repair,
                         verify=verify, add_levels=add_levels, output_version=output_version)
    run(executor, conversion)
    return conversion.plan


def run(executor: Executor, conversion: Conversion) -> None:
    """``executor.execute(conversion)``; a full disk said in one line (which
    output, how much it needs, that a re-run resumes)."""
    try:
        executor.execute(conversion)
    except DiskFullError as e:
        raise conversion.disk_full(e) from None
    except OSError as e:
        if e.errno not in DISK_FULL:
            raise
        raise conversion.disk_full(e) from None


def resave_in_place(src: Store, executor: Executor, *, settings: OutputSettings | None = None,
                    repair: bool = True, output_version: str = TARGET_VERSION) -> Plan:
    """Add the 0.5 (or 0.6) view of ``src`` in place (``executor``: an in-place one);
    the plan it ran. Every array must be describable, else nothing is added."""
    plan = plan_conversion(src, repair=repair, in_place=True, output_version=output_version)
    check_planned_metadata(plan, src)
    run(executor, in_place.InPlaceView(plan, src, settings or OutputSettings()))
    return plan


def undo_in_place(src: Store) -> list[str]:
    """Remove the 0.5 view added in place (exactly the files its record lists)."""
    removed = in_place.undo(src)
    LOG.info("%s: removed the in-place 0.5 view (%d files)", src.describe(), len(removed))
    return removed


def resave_details(src: Store, out: Store, *, layout: LayoutRequest | None = None,
                   compression: Compression | None = None, overwrite: bool = False, repair: bool = True,
                   add_levels: int | None = None) -> Plan:
    """Write the planned layout of every array to ``out`` (a JSON file) instead
    of converting."""
    plan = plan_conversion(src, layout, compression, repair=repair, add_levels=add_levels)
    write_details(plan, out, overwrite)
    return plan
