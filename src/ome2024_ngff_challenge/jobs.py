"""Job scripts for clusters without Dask: the plan's shard tasks cut into lines
that each convert one array's range of shards, to submit as a job array.

`--output-job-script` prepares the output (its in-progress marker records the
plan) and writes `.jobs/jobs.sh`, one command per line. Each line runs
`resave ... --job=ARRAY:START:STOP`: it writes those shards (skipping complete
ones, so a rerun is cheap), records that it is done with its statistics, and
whichever line finds every line done writes the metadata, so the lines can run
in any order, on any machines, any number of times.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shlex
from dataclasses import dataclass

from .errors import UserError
from .executors import ArrayStats
from .plan import Plan
from .stores import Store

JOBS = ".jobs"
SCRIPT = f"{JOBS}/jobs.sh"
JOBS_LIST = f"{JOBS}/jobs.json"
DONE = f"{JOBS}/done"
DEFAULT_SHARDS_PER_JOB = 64


@dataclass(frozen=True)
class Job:
    path: str  # the array
    start: int  # first task (shard) number, in C order of the array's shard grid
    stop: int  # one past the last

    @property
    def spec(self) -> str:
        return f"{self.path}:{self.start}:{self.stop}"

    @property
    def done_key(self) -> str:
        return f"{DONE}/{hashlib.sha1(self.spec.encode()).hexdigest()}.json"

    @classmethod
    def parse(cls, text: str) -> Job:
        try:
            path, start, stop = text.rsplit(":", 2)
            job = cls(path, int(start), int(stop))
        except ValueError:
            msg = f"--job={text}: expected ARRAY:START:STOP, e.g. 0:0:64"
            raise UserError(msg) from None
        if not 0 <= job.start < job.stop:
            msg = f"--job={text}: START must be below STOP"
            raise UserError(msg)
        return job


def partition(plan: Plan, shards_per_job: int) -> list[Job]:
    """Every array's shard tasks in ranges of at most ``shards_per_job``."""
    jobs = []
    for job in plan.arrays:
        n = job.n_tasks
        for start in range(0, n, shards_per_job):
            jobs.append(Job(job.path, start, min(n, start + shards_per_job)))
    return jobs


def job_tasks(plan: Plan, job: Job):
    """The (array number, shard index) pairs of one job."""
    for n, array in enumerate(plan.arrays):
        if array.path == job.path:
            if job.stop > array.n_tasks:
                msg = f"--job={job.spec}: array '{job.path}' has {array.n_tasks} shards"
                raise UserError(msg)
            return [(n, index) for index in itertools.islice(array.task_indices(), job.start, job.stop)]
    msg = f"--job={job.spec}: '{job.path}' is not an array of the input"
    raise UserError(msg)


def script(jobs: list[Job], base_argv: list[str]) -> str:
    lines = ["#!/bin/sh", "# one conversion job per line; run them in any order, anywhere (e.g. as a job array)"]
    lines += [" ".join(shlex.quote(w) for w in [*base_argv[:-2], f"--job={j.spec}", *base_argv[-2:]]) for j in jobs]
    return "\n".join(lines) + "\n"


def record_done(out: Store, job: Job, stats: ArrayStats) -> None:
    out.put_json(job.done_key, {"job": job.spec, **stats.__dict__})


def all_done(out: Store) -> dict[str, ArrayStats] | None:
    """The summed statistics per array when every job of the script is done; None otherwise."""
    recorded = json.loads((out.get(JOBS_LIST) or b"{}").decode())
    specs = recorded.get("jobs", [])
    _, names = out.list_dir(DONE)
    if not specs or len(set(names)) < len(specs):
        return None
    totals: dict[str, ArrayStats] = {}
    for spec in specs:
        job = Job.parse(spec)
        doc = out.get_json(job.done_key)
        if doc is None:
            return None
        doc.pop("job", None)
        part = ArrayStats(**doc)
        total = totals.setdefault(job.path, ArrayStats())
        total.start = part.start if total.start is None else min(total.start, part.start or total.start)
        total.stop = part.stop if total.stop is None else max(total.stop, part.stop or total.stop)
        for name in ("bytes_read", "bytes_written", "tasks", "chunks_written", "tasks_skipped"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return totals


def default_shards_per_job(plan: Plan) -> int:
    """About 1 GiB of uncompressed data per job, between 1 and 64 shards."""
    if not plan.arrays:
        return DEFAULT_SHARDS_PER_JOB
    largest = max(math.prod(a.write_shape) * a.dtype.itemsize for a in plan.arrays)
    return max(1, min(DEFAULT_SHARDS_PER_JOB, 2**30 // max(1, largest)))


def remove(out: Store) -> None:
    """Delete the job bookkeeping once the output is complete."""
    recorded = json.loads((out.get(JOBS_LIST) or b"{}").decode())
    for spec in recorded.get("jobs", []):
        out.delete(Job.parse(spec).done_key)
    for key in (SCRIPT, JOBS_LIST):
        out.delete(key)
    out.remove_empty_folders(JOBS)
