"""One protocol for every way of running a plan.

An executor receives a ``Conversion`` (a plan, its input and its output's life
cycle) and writes the output its way: shard tasks on local threads or on a Dask
cluster, a script of job-array lines, or ``zarrs_reencode`` scripts. It decides
nothing about the plan, and the planner knows nothing of executors: a new way of
running is a new class here, and touches nothing else.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

from ..convert.output import Conversion
from ..convert.plan import Plan
from ..convert.progress import ByteProgress
from ..convert.shard_task import write_task
from ..convert.stats import ArrayStats
from ..stores.base import Store

# A unit of work: (array number in the plan, shard grid index).
Task = tuple[int, tuple[int, ...]]
Progress = Callable[[int], None]


class Executor(ABC):
    """Writes a conversion's output."""

    #: what the output holds when the executor is done ("data": every array's
    #: shards); part of the plan's fingerprint, so that a resumed run cannot
    #: mix the work of two kinds of executor
    mode: str = "data"

    @abstractmethod
    def execute(self, conversion: Conversion) -> None:
        """Write the output (or what stands for it: scripts that write it)."""


class TaskExecutor(Executor):
    """Runs the plan's shard tasks itself (on threads, or on a cluster) and
    finishes the output when they are done."""

    #: how many tasks run at once (recorded in the statistics)
    threads: int = 1

    def configure(self, src: Store, out: Store) -> None:
        """Adapt to the stores before running (e.g. more threads for S3)."""

    def execute(self, conversion: Conversion) -> None:
        plan = conversion.plan
        self.configure(conversion.src, conversion.out)
        resume = conversion.begin(self.mode)
        started = time.time()
        with ByteProgress(plan.nbytes, enabled=conversion.settings.progress) as progress:
            stats = self.run_tasks(plan, conversion.out, plan.tasks(), resume=resume, progress=progress.advance)
        if resume:
            kept = sum(s.tasks_skipped for s in stats)
            conversion.log_resumed(kept)
        conversion.finish(stats, started, self.threads)

    @abstractmethod
    def run_tasks(self, plan: Plan, out: Store, tasks: Iterable[Task], *, resume: bool,
                  progress: Progress | None = None) -> list[ArrayStats]:
        """Run ``tasks`` (each writes one whole shard, atomically; with
        ``resume``, one found complete is skipped); the statistics per array
        of the plan."""


def timed_task(job, index: tuple[int, ...], out: Store, resume: bool):
    """Write the shard at ``index`` of the array ``job``; (its result, start, stop)."""
    start = time.time()
    result = write_task(job, index, out, resume)
    return result, start, time.time()
