"""The life cycle of an output: prepared, written, finished.

Order of writes, so that a run that dies leaves nothing that looks complete:
a marker naming the run as incomplete (with a fingerprint of its plan), then the
array data (by an executor), then every array's zarr.json, the copied files and
the RO-Crate, then the group zarr.json files from the deepest up, the root's
last, and finally the marker is removed. A run of the same plan that finds the
marker resumes; another plan is refused.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copy
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..about import INCOMPLETE_MARK, OUTPUT_RECORD, STATS_KEY, TOOL_NAME, __version__
from ..errors import DiskFullError, OutputError, UserError, option
from ..json_values import json_bytes
from ..ome.rocrate import METADATA_ID as CRATE
from ..ome.rocrate import CrateInfo, build_crate
from ..stores.base import Store, is_partial, real_path
from ..stores.inside import enclosing_dataset
from .plan import ArrayJob, Plan
from .record import OutputRecord, delete_recorded, read_record, write_record
from .stats import ArrayStats

LOG = logging.getLogger("ome2024_ngff_challenge")

@dataclass
class OutputSettings:
    """What the user asked of the output apart from its layout."""

    overwrite: bool = False  # replace an earlier output
    notes: str | None = None  # recorded with the statistics of every array
    crate: CrateInfo | None = None  # None: write no RO-Crate
    progress: bool = True  # a progress bar (on a terminal only)


METADATA_THREADS = 8  # small metadata reads and writes in flight (S3 rewards several, local fsyncs too)


def in_parallel(store: Store, work: Callable, items: Iterable) -> list:
    """``work(item)`` for every item, a few at a time (metadata-sized requests)."""
    items = list(items)
    threads = max(1, min(len(items), max(METADATA_THREADS, store.preferred_concurrency)))
    if threads == 1:
        return [work(item) for item in items]
    with cf.ThreadPoolExecutor(threads, thread_name_prefix="meta") as pool:
        return list(pool.map(work, items))


def size_text(n: int) -> str:
    """Bytes for a message: '1.5 GB' (10^9), '320 KB'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def depth(path: str) -> int:
    return len([p for p in path.split("/") if p])


def creator() -> dict:
    return {"name": TOOL_NAME, "version": __version__}


def now_iso(t: float | None = None) -> str:
    return dt.datetime.fromtimestamp(t if t is not None else time.time(), dt.timezone.utc).isoformat()


class Conversion:
    """One plan being written from one input to one output.

    Executors call ``begin`` before their first write and ``finish`` once every
    array's data is there; nothing else in the package decides when an output
    is complete.
    """

    def __init__(self, plan: Plan, src: Store, out: Store, settings: OutputSettings):
        self.plan = plan
        self.src = src
        self.out = out
        self.settings = settings

    def fingerprint(self, mode: str) -> str:
        """A digest of everything that decides the output's bytes: the input,
        every array's metadata (layout, codecs), every group's metadata and what
        the executor writes (``mode``). A resumed run must have the same, or its
        shards would not fit the rest."""
        arrays = [[job.path, job.zarr_json(), job.byte_copy] for job in self.plan.arrays]
        groups = []
        for group in self.plan.groups:
            attrs = copy.deepcopy(group.attributes)
            attrs.get("ome", {}).pop("_creator", None)
            groups.append([group.path, attrs])
        # the input by its absolute path: a job line names it so (it runs from any folder)
        local = self.src.local_path()
        where = os.fspath(real_path(local)) if local is not None else self.src.describe()
        doc = {"input": where, "arrays": arrays, "groups": groups, "copies": self.plan.copies,
               "mode": mode}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, allow_nan=False).encode()).hexdigest()

    # -- before the first write ---------------------------------------------

    def begin(self, mode: str, writes: Iterable[str] = ()) -> bool:
        """Make the output ready for this plan; True when an unfinished run of
        the same plan is there and is resumed (its complete shards are kept).
        ``writes``: files the executor adds beside the plan's (scripts). The
        record of every file the run may write is written (durably) before
        the marker and before any of them."""
        check_distinct(self.src, self.out)
        fingerprint = self.fingerprint(mode)
        record = OutputRecord.of(self.plan, fingerprint, writes)
        resume = prepare_output(self.out, self.settings.overwrite, fingerprint)
        if resume:
            LOG.warning("%s: resuming an unfinished conversion (complete shards are kept)", self.out.describe())
            if read_record(self.out) != record:  # an earlier version's output, or the record's own write was cut
                write_record(self.out, record)
            self.out.remove_partials()
        else:
            write_record(self.out, record)
        if not resume or not self.out.exists(INCOMPLETE_MARK):
            self.out.put_json(
                INCOMPLETE_MARK,
                {"tool": TOOL_NAME, "version": __version__, "input": self.src.describe(), "started": now_iso(),
                 "plan": fingerprint},
            )
        return resume

    def is_prepared(self, mode: str) -> bool:
        """For one part of a run prepared earlier (a job line): True when the
        output is prepared for this plan, False when it is complete already.
        Refuses an output prepared for something else."""
        check_distinct(self.src, self.out)
        marker = self.out.get_json(INCOMPLETE_MARK)
        if marker is None and self.out.exists("zarr.json"):
            return False
        if not isinstance(marker, dict) or marker.get("plan") != self.fingerprint(mode):
            msg = (
                f"{self.out.describe()}: not prepared for these jobs (run the {option('job_script')} command first, "
                "with the same input and options)"
            )
            raise OutputError(msg)
        return True

    def disk_full(self, error: OSError | DiskFullError) -> DiskFullError:
        """The one line for a write that found no space: which output, what
        was being written, how much the conversion writes at most and what
        is free there now, and that running it again resumes."""
        out = self.out
        where = error.location if isinstance(error, DiskFullError) and error.location else out.describe()
        need = f"the conversion writes up to {size_text(self.plan.nbytes)} before compression"
        path = out.local_path()
        if path is not None:
            existing = next((p for p in (path, *path.parents) if p.exists()), None)
            with contextlib.suppress(OSError):
                need += f"; {size_text(shutil.disk_usage(existing).free)} free there now" if existing else ""
        msg = (f"{where}: no space left on the device (or over quota) while writing the output {out.describe()} "
               f"({need}): free some space, then run the same command again: it resumes, keeping what is written")
        return DiskFullError(msg, where)

    def log_resumed(self, kept: int) -> None:
        LOG.info("resumed: %d of %d shards were complete and kept", kept, self.plan.n_tasks)

    # -- after the last write -------------------------------------------------

    def array_stats(self, job: ArrayJob, s: ArrayStats, started: float, threads: int) -> dict:
        start = s.start if s.start is not None else started
        stop = s.stop if s.stop is not None else start
        return {
            "tool": TOOL_NAME,
            "version": __version__,
            "input": self.src.describe(job.path),
            "output": self.out.describe(job.path),
            "start": now_iso(start),
            "stop": now_iso(stop),
            "elapsed": round(stop - start, 6),
            "read": s.bytes_read,
            "written": s.bytes_written,
            "shards_or_chunks": s.tasks,
            "cpu_seconds": round(s.cpu_seconds, 6),
            "threads": threads,
            "cpu_count": os.cpu_count(),
            "chunks": list(job.layout.chunks),
            "shards": list(job.layout.shards) if job.layout.shards is not None else None,
            "notes": self.settings.notes,
            "repairs": self.plan.repairs_for(job.path),
            **(job.provenance() if hasattr(job, "provenance") else {}),
        }

    def write_array_metadata(self, stats: list[ArrayStats], started: float, threads: int) -> None:
        """Every array's zarr.json, with its statistics."""
        def write(item: tuple[ArrayJob, ArrayStats]) -> None:
            job, s = item
            extra = {STATS_KEY: self.array_stats(job, s, started, threads)}
            self.out.put_json(f"{job.path}/zarr.json", job.zarr_json(extra))

        in_parallel(self.out, write, zip(self.plan.arrays, stats))

    def write_group_metadata(self, *, root: bool) -> None:
        """The groups' zarr.json, deepest first (those of one depth at once);
        the root's only with ``root`` (its zarr.json means "complete")."""
        levels: dict[int, list] = {}
        for group in self.plan.groups:
            if group.path:
                levels.setdefault(depth(group.path), []).append(group)
        for level in sorted(levels, reverse=True):
            in_parallel(self.out, lambda g: self.out.put_json(f"{g.path}/zarr.json", g.zarr_json()), levels[level])
        top = next((g for g in self.plan.groups if not g.path), None)
        if root and top is not None:
            self.out.put_json("zarr.json", self.consolidated(top.zarr_json()) if self.plan.consolidate
                              else top.zarr_json())

    def consolidated(self, root: dict) -> dict:
        """The root's zarr.json with every node's below it inline (zarr-python's
        consolidated metadata), read back as written."""
        paths = [g.path for g in self.plan.groups if g.path] + [a.path for a in self.plan.arrays]
        nodes = {}
        for path, meta in zip(paths, in_parallel(self.out, lambda p: self.out.get_json(f"{p}/zarr.json"), paths)):
            if meta is not None:
                nodes[path] = meta
        return {**root, "consolidated_metadata": {"kind": "inline", "must_understand": False,
                                                  "metadata": dict(sorted(nodes.items()))}}

    def finish(self, stats: list[ArrayStats] | None, started: float, threads: int) -> None:
        """Every array's data is written: write the metadata, the root last.
        Without ``stats``, the arrays' zarr.json are in place already (written
        by another program)."""
        out = self.out
        if stats is not None:
            self.write_array_metadata(stats, started, threads)

        def copy(key: str) -> None:
            data = self.src.get(key)
            if data is not None:
                out.put(key, data)

        in_parallel(self.src if self.src.preferred_concurrency > out.preferred_concurrency else out, copy,
                    self.plan.copies)
        for key, data in self.plan.rewrites.items():
            out.put(key, data)
        if self.settings.crate is not None:
            out.put(CRATE, json_bytes(build_crate(self.settings.crate)))
        self.write_group_metadata(root=True)
        out.delete(INCOMPLETE_MARK)


def check_finished(store: Store) -> None:
    """Refuse anything but a finished Zarr v3 OME-Zarr dataset, in one line."""
    where = store.describe()
    if store.exists(INCOMPLETE_MARK):
        msg = f"{where}: the conversion did not finish ({INCOMPLETE_MARK} is present); run 'resave' again first"
        raise UserError(msg)
    meta = store.get_json("zarr.json")
    if meta is None:
        if store.exists(".zgroup"):
            msg = f"{where}: a Zarr v2 dataset (OME-Zarr 0.4 or older): convert it with 'resave' first"
        else:
            msg = f"{where}: not a Zarr v3 OME-Zarr dataset (no zarr.json at the top)"
        raise UserError(msg)
    if not is_ome_zarr_v3_group(meta) and not is_converted_container(store, meta):
        msg = f"{where}: not an OME-Zarr 0.5 dataset (zarr.json is not a Zarr v3 group with attributes.ome)"
        raise UserError(msg)


def check_distinct(src: Store, out: Store) -> None:
    """The output must not be, contain, or lie inside the input, nor lie
    inside any other Zarr dataset (it would add a folder to that dataset,
    even inside one of its arrays)."""
    if out.overlaps(src):
        msg = f"{out.describe()}: the output must not be the input, nor inside it or around it ({src.describe()})"
        raise UserError(msg)
    path = out.local_path()
    dataset = enclosing_dataset(real_path(path).parent) if path is not None else None
    if dataset is not None:
        msg = (f"{out.describe()}: lies inside the Zarr dataset {dataset}: a conversion is never written into "
               "another dataset; choose an output outside it")
        raise OutputError(msg)


def is_converted_container(store: Store, meta: object) -> bool:
    """A converted container store (``convert.container``): a plain Zarr v3
    root group (its OME groups are below it) with the RO-Crate we write."""
    return isinstance(meta, dict) and meta.get("zarr_format") == 3 and meta.get("node_type") == "group" \
        and store.exists(CRATE)


def is_ome_zarr_v3_group(meta: object) -> bool:
    attributes = meta.get("attributes") if isinstance(meta, dict) else None
    return isinstance(meta, dict) and meta.get("zarr_format") == 3 and meta.get("node_type") == "group" \
        and isinstance(attributes, dict) and isinstance(attributes.get("ome"), dict)


def prepare_output(out: Store, overwrite: bool, fingerprint: str | None = None) -> bool:
    """Make the output ready; True when an unfinished run of the same plan is
    there to be resumed. Refuses an existing output unless asked; with
    ``overwrite``, deletes exactly what the record of the earlier run lists
    and refuses (deleting nothing) when the output holds anything else."""
    path = out.local_path()
    if path is not None:
        if path.exists() and not path.is_dir():
            msg = f"{path}: exists and is not a folder"
            raise OutputError(msg)
        refuse_dangerous(path)
    dirs, files = out.list_dir("")
    if not dirs and all(is_partial(name) for name in files):
        # empty, or a run killed while writing its record (the first write): nothing of it to keep
        out.remove_partials()
        return False
    record = read_record(out) if OUTPUT_RECORD in files else None
    marker = out.get_json(INCOMPLETE_MARK) if INCOMPLETE_MARK in files else None
    ours = record is not None or isinstance(marker, dict)
    if not ours and ("zarr.json" not in files or set(files) & {".zgroup", ".zarray", ".zattrs"}):
        msg = (
            f"{out.describe()}: exists and is not a Zarr output of this tool (it holds other files); "
            f"refusing to write into it or delete it, even with {option('overwrite')}"
        )
        raise OutputError(msg)
    complete = "zarr.json" in files and INCOMPLETE_MARK not in files
    if not overwrite:
        if complete or not ours:
            msg = f"{out.describe()}: already exists (use {option('overwrite')} to replace it)"
            raise OutputError(msg)
        plan = record.plan if record is not None and marker is None else \
            marker.get("plan") if isinstance(marker, dict) else None
        if fingerprint is not None and plan == fingerprint:
            return True
        msg = (
            f"{out.describe()}: holds an unfinished conversion made with other parameters "
            f"(input {marker.get('input') if isinstance(marker, dict) else '?'}); run it with the same "
            f"options to finish it, or use {option('overwrite')} to start over"
        )
        raise OutputError(msg)
    if record is None:
        msg = (
            f"{out.describe()}: holds no record of the files a conversion wrote there ({OUTPUT_RECORD}: written "
            "by another tool, or by an earlier version of this one), so what is ours cannot be told from what "
            f"is not: refusing to delete it, even with {option('overwrite')}; delete it yourself, or choose "
            "another output"
        )
        raise OutputError(msg)
    delete_recorded(out, record, in_parallel, lambda n: LOG.warning(
        "%s: deleting the earlier output (%d files, every one listed in its record), as asked (overwrite)",
        out.describe(), n))
    return False


def refuse_dangerous(path: Path) -> None:
    resolved, cwd = real_path(path), real_path(Path.cwd())
    protected = {real_path("/"), real_path(Path.home()), cwd}
    if resolved in protected or resolved in cwd.parents:
        msg = f"{path}: refusing to write into the root, home or current folder, or a parent of it"
        raise OutputError(msg)
