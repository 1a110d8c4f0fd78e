"""One protocol for every way of running a plan.

An executor receives a ``Conversion`` (a plan, its input and its output's life
cycle) and writes the output its way: shard tasks on local threads or on a Dask
cluster, a script of job-array lines, or ``zarrs_reencode`` scripts. It decides
nothing about the plan, and the planner knows nothing of executors: a new way of
running is a new class here, and touches nothing else.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..convert.output import Conversion
from ..convert.plan import ArrayJob, Plan
from ..convert.progress import ByteProgress
from ..convert.level_task import run_task
from ..convert.shard_task import ChunkReader
from ..convert.stats import ArrayStats
from ..errors import UserError
from ..stores.base import Store

# A unit of work: (array number in the plan, shard grid index).
Task = tuple[int, tuple[int, ...]]
Progress = Callable[[int], None]


class TaskFuture(Protocol):
    """A submitted shard task (a ``concurrent.futures`` or a Dask future)."""

    def add_done_callback(self, fn: Callable[[Any], None]) -> None: ...
    def result(self) -> Any: ...
    def cancel(self) -> bool: ...


class TaskPool(ABC):
    """Shard tasks of any number of conversions, fed one at a time by the
    caller (a collection of datasets sharing one pool). ``capacity`` tasks in
    flight keep every thread busy and bound the memory."""

    capacity: int = 1

    @abstractmethod
    def submit(self, job: ArrayJob, index: tuple[int, ...], out: Store, resume: bool) -> TaskFuture:
        """Start writing one shard; the future's result is ``timed_task``'s."""

    def settle(self, out: Store) -> None:
        """Called once every task of the output ``out`` is done, before its
        metadata is written."""


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
        stats = [ArrayStats() for _ in plan.arrays]
        with ByteProgress(plan.nbytes, enabled=conversion.settings.progress) as progress:
            # a stage's tasks read what the stages before it wrote (levels added
            # below the smallest): each stage starts once the one before is done
            for stage in range(plan.n_stages):
                done = self.run_tasks(plan, conversion.out, plan.tasks(stage), resume=resume,
                                      progress=progress.advance)
                for total, part in zip(stats, done):
                    total.merge(part)
        if resume:
            kept = sum(s.tasks_skipped for s in stats)
            conversion.log_resumed(kept)
        conversion.finish(stats, started, self.threads)

    def task_pool(self) -> contextlib.AbstractContextManager[TaskPool]:
        """A pool to feed with the shard tasks of several conversions (a
        collection); executors that can share their workers override this."""
        msg = f"{type(self).__name__} cannot run the tasks of a collection of datasets"
        raise UserError(msg)

    @abstractmethod
    def run_tasks(self, plan: Plan, out: Store, tasks: Iterable[Task], *, resume: bool,
                  progress: Progress | None = None) -> list[ArrayStats]:
        """Run ``tasks`` (each writes one whole shard, atomically; with
        ``resume``, one found complete is skipped); the statistics per array
        of the plan."""


def timed_task(job, index: tuple[int, ...], out: Store, resume: bool, reader: ChunkReader | None = None):
    """Write the shard at ``index`` of the array ``job`` (its source chunks
    from ``reader`` when it belongs to a run of tasks); (its result, start, stop).
    The thread's CPU time is the task's: a task runs on one thread from start to
    end (its read-ahead threads only wait for I/O), on any executor."""
    start, cpu = time.time(), time.thread_time()
    result = run_task(job, index, out, resume, reader)
    result.cpu_seconds = time.thread_time() - cpu
    return result, start, time.time()
