"""Job arrays for clusters without Dask: the plan's shard tasks cut into lines
that each convert one array's range of shards.

``JobScriptExecutor`` prepares the output (its in-progress marker records the
plan) and writes ``.jobs/jobs.sh``, one command per line. Each line runs the
same command with ``--job=ARRAY:START:STOP``, which is a ``JobLineExecutor``:
it writes those shards (skipping complete ones, so a rerun is cheap), records
that it is done with its statistics, and whichever line finds every line done
writes the metadata, so the lines can run in any order, on any machines, any
number of times.

A plan with stages (levels added below the smallest, computed from the added
level above them) gets one script per stage, run as waves: ``jobs.sh`` first,
then ``jobs-wave2.sh`` once every line of ``jobs.sh`` is done, and so on (with
Slurm, a second array with ``--dependency=afterok`` on the first). A line run
before its wave's turn writes nothing and says which script to finish first.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import shlex
import time
from dataclasses import dataclass

from ..convert.output import Conversion
from ..convert.plan import Plan
from ..convert.progress import ByteProgress
from ..convert.stats import ArrayStats
from ..errors import UserError, option
from ..stores.base import Store
from .base import Executor, TaskExecutor
from .threads import ThreadExecutor

JOBS = ".jobs"
SCRIPT = f"{JOBS}/jobs.sh"
JOBS_LIST = f"{JOBS}/jobs.json"
DONE = f"{JOBS}/done"
DEFAULT_SHARDS_PER_JOB = 64
LOG = logging.getLogger("ome2024_ngff_challenge")


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
            msg = f"{option('job', text)}: expected ARRAY:START:STOP, e.g. 0:0:64"
            raise UserError(msg) from None
        if not 0 <= job.start < job.stop:
            msg = f"{option('job', text)}: START must be below STOP"
            raise UserError(msg)
        return job


def partition(plan: Plan, shards_per_job: int) -> list[Job]:
    """Every array's shard tasks in ranges of at most ``shards_per_job``."""
    jobs = []
    for array in plan.arrays:
        n = array.n_tasks
        for start in range(0, n, shards_per_job):
            jobs.append(Job(array.path, start, min(n, start + shards_per_job)))
    return jobs


def job_tasks(plan: Plan, job: Job) -> list[tuple[int, tuple[int, ...]]]:
    """The (array number, shard index) pairs of one job."""
    for n, array in enumerate(plan.arrays):
        if array.path == job.path:
            if job.stop > array.n_tasks:
                msg = f"{option('job', job.spec)}: array '{job.path}' has {array.n_tasks} shards"
                raise UserError(msg)
            return [(n, index) for index in itertools.islice(array.task_indices(), job.start, job.stop)]
    msg = f"{option('job', job.spec)}: '{job.path}' is not an array of the input"
    raise UserError(msg)


def default_shards_per_job(plan: Plan) -> int:
    """About 1 GiB of uncompressed data per job, between 1 and 64 shards."""
    if not plan.arrays:
        return DEFAULT_SHARDS_PER_JOB
    largest = max(math.prod(a.write_shape) * a.item_nbytes for a in plan.arrays)
    return max(1, min(DEFAULT_SHARDS_PER_JOB, 2**30 // max(1, largest)))


def wave_script(stage: int) -> str:
    """The script of the jobs of one stage: jobs.sh, then jobs-wave2.sh ..."""
    return SCRIPT if stage == 0 else f"{JOBS}/jobs-wave{stage + 1}.sh"


def script(jobs: list[Job], command: list[str], stage: int = 0) -> str:
    """One line per job: ``command`` (INPUT and OUTPUT last) with its --job."""
    lines = ["#!/bin/sh", "# one conversion job per line; run them in any order, anywhere (e.g. as a job array)"]
    if stage:
        lines.append(f"# wave {stage + 1}: run these once every line of {wave_script(stage - 1)} is done")
    lines += [" ".join(shlex.quote(w) for w in [*command[:-2], f"--job={j.spec}", *command[-2:]]) for j in jobs]
    return "\n".join(lines) + "\n"


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
        totals.setdefault(job.path, ArrayStats()).merge(ArrayStats(**doc))
    return totals


def remove_bookkeeping(out: Store) -> None:
    """Delete the job bookkeeping once the output is complete."""
    recorded = json.loads((out.get(JOBS_LIST) or b"{}").decode())
    for spec in recorded.get("jobs", []):
        out.delete(Job.parse(spec).done_key)
    for stage in range(recorded.get("stages", 1)):
        out.delete(wave_script(stage))
    out.delete(JOBS_LIST)
    out.remove_empty_folders(JOBS)


class JobScriptExecutor(Executor):
    """Prepares the output and writes ``.jobs/jobs.sh`` instead of converting.

    ``command`` is the command every line repeats (with INPUT and OUTPUT last);
    each line adds its ``--job``.
    """

    def __init__(self, command: list[str], shards_per_job: int | None = None):
        self.command = command
        self.shards_per_job = shards_per_job

    def execute(self, conversion: Conversion) -> None:
        plan, out = conversion.plan, conversion.out
        broken = next((w for w in self.command if "\n" in w or "\r" in w), None)
        if broken is not None:  # a job array runs the script line by line: a command must fit on one
            msg = (f"{broken!r}: holds a line break, so a job script cannot run it on one line; "
                   f"rename it, or convert without {option('job_script')}")
            raise UserError(msg)
        conversion.begin(self.mode)
        per_job = self.shards_per_job or default_shards_per_job(plan)
        job_list = partition(plan, per_job)
        stage_of = {a.path: a.stage for a in plan.arrays}
        out.put_json(JOBS_LIST, {"jobs": [j.spec for j in job_list], "stages": plan.n_stages})
        for stage in range(plan.n_stages):
            wave = [j for j in job_list if stage_of[j.path] == stage]
            out.put(wave_script(stage), script(wave, self.command, stage).encode())
        if plan.n_stages == 1:
            print(f"{out.describe(SCRIPT)}: {len(job_list)} jobs of up to {per_job} shards; run every line "
                  "(in any order, on any machines); the last one to finish writes the metadata")
            return
        waves = ", then ".join(f"{out.describe(wave_script(s))} ({sum(stage_of[j.path] == s for j in job_list)} "
                               "jobs)" for s in range(plan.n_stages))
        print(f"{len(job_list)} jobs of up to {per_job} shards in {plan.n_stages} waves (the levels added below the "
              f"smallest are computed from the level above): run every line of {waves}; the lines of one wave in "
              "any order, on any machines; the last one to finish writes the metadata")


class JobLineExecutor(Executor):
    """One line of the job script: convert a range of one array's shards (on
    ``runner``, local threads by default), then, if every line is done, write
    the metadata."""

    def __init__(self, job: str, runner: TaskExecutor | None = None):
        self.job = Job.parse(job)
        self.runner = runner or ThreadExecutor()

    def execute(self, conversion: Conversion) -> None:
        plan, out = conversion.plan, conversion.out
        tasks = job_tasks(plan, self.job)
        if not conversion.is_prepared(self.mode):
            LOG.warning("%s: already complete; nothing to do", out.describe())
            return
        n = next(i for i, a in enumerate(plan.arrays) if a.path == self.job.path)
        self.check_wave(plan.arrays[n], out)
        self.runner.configure(conversion.src, out)
        started = time.time()
        nbytes = sum(plan.arrays[i].task_nbytes(x) for i, x in tasks)
        with ByteProgress(nbytes, enabled=conversion.settings.progress) as progress:
            stats = self.runner.run_tasks(plan, out, tasks, resume=True, progress=progress.advance)
        out.put_json(self.job.done_key, {"job": self.job.spec, **stats[n].to_json()})
        totals = all_done(out)
        if totals is None:
            return
        conversion.finish([totals.get(a.path, ArrayStats()) for a in plan.arrays], started, self.runner.threads)
        remove_bookkeeping(out)

    def check_wave(self, array, out: Store) -> None:
        """A line of a later wave reads what the lines of the wave before it
        write (the level above an added level): refused until they are done."""
        if not array.stage:
            return
        above = array.parent.path
        recorded = json.loads((out.get(JOBS_LIST) or b"{}").decode())
        missing = [s for s in recorded.get("jobs", []) if Job.parse(s).path == above
                   and not out.exists(Job.parse(s).done_key)]
        if missing:
            msg = (f"{out.describe()}: {option('job', self.job.spec)} computes '{array.path}' from '{above}', "
                   f"whose lines are not all done ({len(missing)} left, e.g. {option('job', missing[0])}): run every "
                   f"line of {out.describe(wave_script(array.stage - 1))} first")
            raise UserError(msg)
