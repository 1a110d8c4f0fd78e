"""`resave`: plan the conversion, then execute it (or show it).

Order of writes, so that a run that dies leaves nothing that looks complete:
a marker naming the run as incomplete, then the array data, then every array's
zarr.json, the copied files and the RO-Crate, then the group zarr.json files
from the deepest up, the root's last, and finally the marker is removed.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import INCOMPLETE_MARK, TOOL_NAME, __version__, jobs
from .errors import OutputError, UserError
from .executors import ArrayStats, DaskExecutor, ThreadExecutor
from .output_format import Compression
from .plan import LayoutRequest, Plan, build_plan
from .progress import ByteProgress
from .rocrate_meta import CrateInfo, build_crate
from .stores import LocalStore, Store, json_bytes

LOG = logging.getLogger(__name__)

CRATE = "ro-crate-metadata.json"
STATS_KEY = "_ome2024_ngff_challenge_stats"
# Top-level names a converted (or half-converted) output may hold; a folder
# with anything else is not ours to delete.
OUTPUT_NAMES = {"zarr.json", CRATE, INCOMPLETE_MARK}  # and the folder .jobs


@dataclass
class ResaveOptions:
    layout: LayoutRequest = field(default_factory=LayoutRequest)
    compression: Compression | None = None
    threads: int = 1
    overwrite: bool = False
    write_details: bool = False
    script: bool = False
    notes: str | None = None
    crate: CrateInfo | None = None  # None: --rocrate-skip
    progress: bool = True
    dask_scheduler: str | None = None  # run the shard tasks on this Dask cluster
    job_script: bool = False  # write .jobs/jobs.sh instead of converting
    shards_per_job: int | None = None
    job: str | None = None  # run one line of the job script: ARRAY:START:STOP
    job_argv: list[str] | None = None  # the command the job lines repeat (INPUT, OUTPUT last)


def creator() -> dict:
    return {"name": TOOL_NAME, "version": __version__}


def resave(src: Store, out: Store, options: ResaveOptions) -> Plan:
    plan = build_plan(src, options.layout, options.compression, creator())
    LOG.info(
        "%s: %d groups, %d arrays, %d tasks, %.1f MB", src.describe(), len(plan.groups),
        len(plan.arrays), plan.n_tasks, plan.nbytes / 1e6,
    )
    if options.write_details:
        write_details(plan, out, options.overwrite)
        return plan
    check_distinct(src, out)
    fingerprint = plan_fingerprint(plan, src, options)
    if options.job is not None:
        run_job(plan, src, out, options, fingerprint)
        return plan
    resume = prepare_output(out, options.overwrite, fingerprint)
    if resume:
        LOG.warning("%s: resuming an unfinished conversion (complete shards are kept)", out.describe())
        out.remove_partials()
    else:
        out.put_json(
            INCOMPLETE_MARK,
            {"tool": TOOL_NAME, "version": __version__, "input": src.describe(), "started": now_iso(),
             "plan": fingerprint},
        )
    started = time.time()
    if options.job_script:
        write_job_script(plan, out, options)
        return plan
    if options.script:
        for job in plan.arrays:
            out.put(f"{job.path}/convert.sh", script_line(job, src, out).encode())
        stats = None
    else:
        with ByteProgress(plan.nbytes, enabled=options.progress) as progress:
            stats = make_executor(options).run(plan, out, progress.advance, resume=resume)
        if resume:
            done = sum(s.tasks_skipped for s in stats)
            LOG.info("resumed: %d of %d shards were complete and kept", done, plan.n_tasks)
        if options.dask_scheduler:
            # a worker that died mid-write leaves its temporary file behind (its
            # task was run again elsewhere); no writer is active any more
            out.remove_partials()
    finish(plan, src, out, options, stats, started)
    return plan


def make_executor(options: ResaveOptions):
    if options.dask_scheduler:
        return DaskExecutor(options.dask_scheduler)
    return ThreadExecutor(options.threads)


def write_job_script(plan: Plan, out: Store, options: ResaveOptions) -> None:
    per_job = options.shards_per_job or jobs.default_shards_per_job(plan)
    job_list = jobs.partition(plan, per_job)
    out.put_json(jobs.JOBS_LIST, {"jobs": [j.spec for j in job_list]})
    out.put(jobs.SCRIPT, jobs.script(job_list, options.job_argv or []).encode())
    print(f"{out.describe(jobs.SCRIPT)}: {len(job_list)} jobs of up to {per_job} shards; run every line "
          "(in any order, on any machines); the last one to finish writes the metadata")


def run_job(plan: Plan, src: Store, out: Store, options: ResaveOptions, fingerprint: str) -> None:
    """One line of the job script: convert a range of one array's shards, then,
    if every line is done, write the metadata."""
    job = jobs.Job.parse(options.job)
    tasks = jobs.job_tasks(plan, job)
    marker = out.get_json(INCOMPLETE_MARK)
    if marker is None and out.exists("zarr.json"):
        LOG.warning("%s: already complete; nothing to do", out.describe())
        return
    if not isinstance(marker, dict) or marker.get("plan") != fingerprint:
        msg = (
            f"{out.describe()}: not prepared for these jobs (run the --output-job-script command first, "
            "with the same input and options)"
        )
        raise OutputError(msg)
    started = time.time()
    n = tasks[0][0] if tasks else plan.arrays.index(next(a for a in plan.arrays if a.path == job.path))
    with ByteProgress(sum(plan.arrays[i].task_nbytes(x) for i, x in tasks), enabled=options.progress) as progress:
        stats = make_executor(options).run(plan, out, progress.advance, resume=True, tasks=tasks)
    jobs.record_done(out, job, stats[n])
    totals = jobs.all_done(out)
    if totals is None:
        return
    finish(plan, src, out, options, [totals.get(a.path, ArrayStats()) for a in plan.arrays], started)
    jobs.remove(out)


def plan_fingerprint(plan: Plan, src: Store, options: ResaveOptions) -> str:
    """A digest of everything that decides the output's bytes: the input, every
    array's metadata (layout, codecs), every group's metadata and the mode. A
    resumed run must have the same, or its shards would not fit the rest."""
    arrays = [[job.path, job.zarr_json(), job.byte_copy] for job in plan.arrays]
    groups = []
    for group in plan.groups:
        attrs = copy.deepcopy(group.attributes)
        attrs.get("ome", {}).pop("_creator", None)
        groups.append([group.path, attrs])
    doc = {"input": src.describe(), "arrays": arrays, "groups": groups, "copies": plan.copies,
           "script": options.script}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, allow_nan=False).encode()).hexdigest()


def now_iso(t: float | None = None) -> str:
    return dt.datetime.fromtimestamp(t if t is not None else time.time(), dt.timezone.utc).isoformat()


def script_line(job, src: Store, out: Store) -> str:
    """The zarrs_reencode command that converts one array (`--output-script`)."""
    words = ["zarrs_reencode", "--chunk-shape", ",".join(map(str, job.layout.chunks))]
    if job.layout.shards is not None:
        words += ["--shard-shape", ",".join(map(str, job.layout.shards))]
    if job.dimension_names:
        words += ["--dimension-names", ",".join(job.dimension_names)]
    words += ["--validate", script_path(src, job.path), script_path(out, job.path)]
    return " ".join(shlex.quote(w) for w in words) + "\n"


def script_path(store: Store, key: str) -> str:
    """A location the script can use from any folder: local paths made absolute."""
    if isinstance(store, LocalStore):
        return os.path.abspath(store.describe(key))
    return store.describe(key)


def array_stats(job, src: Store, out: Store, s: ArrayStats, options: ResaveOptions, started: float) -> dict:
    start = s.start if s.start is not None else started
    stop = s.stop if s.stop is not None else start
    return {
        "tool": TOOL_NAME,
        "version": __version__,
        "input": src.describe(job.path),
        "output": out.describe(job.path),
        "start": now_iso(start),
        "stop": now_iso(stop),
        "elapsed": round(stop - start, 6),
        "read": s.bytes_read,
        "written": s.bytes_written,
        "shards_or_chunks": s.tasks,
        "threads": options.threads,
        "cpu_count": os.cpu_count(),
        "chunks": list(job.layout.chunks),
        "shards": list(job.layout.shards) if job.layout.shards is not None else None,
        "notes": options.notes,
    }


def finish(plan: Plan, src: Store, out: Store, options: ResaveOptions, stats, started: float) -> None:
    if stats is not None:
        for job, s in zip(plan.arrays, stats):
            extra = {STATS_KEY: array_stats(job, src, out, s, options, started)}
            out.put_json(f"{job.path}/zarr.json", job.zarr_json(extra))
    for key in plan.copies:
        data = src.get(key)
        if data is not None:
            out.put(key, data)
    if options.crate is not None:
        out.put(CRATE, json_bytes(build_crate(options.crate)))
    # deepest groups first, the root last: the root's zarr.json means "complete"
    for group in sorted(plan.groups, key=lambda g: -len([p for p in g.path.split("/") if p])):
        out.put_json(f"{group.path}/zarr.json" if group.path else "zarr.json", group.zarr_json())
    out.delete(INCOMPLETE_MARK)


def write_details(plan: Plan, out: Store, overwrite: bool) -> None:
    """`--output-write-details`: OUTPUT is the JSON file to write."""
    if isinstance(out, LocalStore):
        path = out.root
        if path.is_dir():
            msg = f"{path}: is a folder; --output-write-details writes a JSON file"
            raise OutputError(msg)
        if path.exists() and not overwrite:
            msg = f"{path}: exists (use --output-overwrite to replace it)"
            raise OutputError(msg)
        parent = LocalStore(path.parent)
        parent.put(path.name, json_bytes(plan.details()))
        return
    # an object store: OUTPUT is the key of the JSON object
    if any(out.list_dir("")):
        msg = f"{out.describe()}: is a folder; --output-write-details writes a JSON file"
        raise OutputError(msg)
    if out.exists("") and not overwrite:
        msg = f"{out.describe()}: exists (use --output-overwrite to replace it)"
        raise OutputError(msg)
    out.put("", json_bytes(plan.details()))


def check_distinct(src: Store, out: Store) -> None:
    """The output must not be, contain, or lie inside the input."""
    msg = f"{out.describe()}: the output must not be the input, nor inside it or around it ({src.describe()})"
    if isinstance(src, LocalStore) and isinstance(out, LocalStore):
        a, b = src.root.resolve(), out.root.resolve()
        if a == b or a in b.parents or b in a.parents:
            raise UserError(msg)
    overlaps = getattr(out, "overlaps", None)  # S3: the same bucket and nested prefixes
    if overlaps is not None and overlaps(src):
        raise UserError(msg)


def is_conversion_output(out: Store) -> bool:
    """Whether the folder looks like a Zarr v3 output (ours, finished or not, or
    another converter's). A Zarr v2 dataset never is: it may be someone's only
    copy of the data this tool converts."""
    dirs, files = out.list_dir("")
    if not set(files) & {"zarr.json", INCOMPLETE_MARK} or set(files) & {".zgroup", ".zarray"}:
        return False
    return all(name in OUTPUT_NAMES or name.startswith(".") and ".partial-" in name for name in files)


def prepare_output(out: Store, overwrite: bool, fingerprint: str | None = None) -> bool:
    """Make the output ready; True when an unfinished run of the same plan is
    there to be resumed. Refuses an existing output unless asked, and never
    deletes anything that is not a Zarr v3 output."""
    if isinstance(out, LocalStore):
        path = out.root
        if path.exists() and not path.is_dir():
            msg = f"{path}: exists and is not a folder"
            raise OutputError(msg)
        refuse_dangerous(path)
    dirs, files = out.list_dir("")
    if not dirs and not files:
        return False
    if not is_conversion_output(out):
        msg = (
            f"{out.describe()}: exists and is not a Zarr output (it holds other files); "
            "refusing to write into it or delete it, even with --output-overwrite"
        )
        raise OutputError(msg)
    marker = out.get_json(INCOMPLETE_MARK) if INCOMPLETE_MARK in files else None
    if not overwrite:
        if marker is None:
            msg = f"{out.describe()}: already exists (use --output-overwrite to replace it)"
            raise OutputError(msg)
        if fingerprint is not None and isinstance(marker, dict) and marker.get("plan") == fingerprint:
            return True
        msg = (
            f"{out.describe()}: holds an unfinished conversion made with other parameters "
            f"(input {marker.get('input') if isinstance(marker, dict) else '?'}); run it with the same "
            "options to finish it, or use --output-overwrite to start over"
        )
        raise OutputError(msg)
    LOG.warning("%s: deleting the earlier output (--output-overwrite)", out.describe())
    out.delete_tree()
    return False


def refuse_dangerous(path: Path) -> None:
    resolved = path.resolve()
    protected = {Path("/").resolve(), Path.home().resolve(), Path.cwd().resolve()}
    if resolved in protected or any(resolved in p.parents for p in (Path.cwd().resolve(),)):
        msg = f"{path}: refusing to write into the root, home or current folder, or a parent of it"
        raise OutputError(msg)
