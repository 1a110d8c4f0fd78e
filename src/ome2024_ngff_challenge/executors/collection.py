"""Many conversions through one pool: a collection of datasets in one run.

A ``CollectionRunner`` feeds the shard tasks of dataset after dataset into one
bounded pool (``TaskExecutor.task_pool``: local threads or a Dask cluster), so
many small datasets keep every thread busy: no start-up cost per dataset, and
no idle threads while the last shards of a dataset are written, since the
next dataset's tasks are already queued behind them.

Beside the pool, a few metadata threads plan the next datasets ahead (reading
their metadata overlaps the running tasks) and write each dataset's metadata
(``Conversion.finish``) as soon as its last task is done. Memory stays bounded:
at most ``ahead`` datasets are planned and waiting, the pool holds at most its
``capacity`` tasks, and tasks are taken from a plan's generator one at a time.

A dataset that fails (its planning, a task, its metadata) ends alone: its
tasks still queued are dropped, its output stays unfinished (a re-run resumes
it), and the others go on. Each dataset's end is reported at once, in the
calling thread, through ``on_end``.

A dataset whose plan has stages (levels added below the smallest, read from
the output) is fed stage by stage: at a stage's end it steps aside until its
tasks in flight are done, the next datasets' tasks filling the pool meanwhile,
and then goes first again.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import queue
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ..convert.collection import DONE, FAILED, SKIPPED
from ..convert.output import Conversion
from ..convert.progress import CollectionProgress
from ..convert.stats import ArrayStats
from .base import TaskExecutor

LOG = logging.getLogger("ome2024_ngff_challenge")



@dataclass
class Skipped:
    """What a preparation returns for a dataset whose output is complete already."""

    details: dict = field(default_factory=dict)  # what it knows of that output, for the caller


# A dataset's preparation (run on a metadata thread): its checked, unstarted
# conversion, or Skipped.
Prepare = Callable[[], "Conversion | Skipped"]


@dataclass
class Ended:
    """How one dataset of the collection ended."""

    index: int  # its place in the collection
    status: str  # done, failed or skipped
    conversion: Conversion | None  # None when skipped, or failed before its plan was made
    stats: list[ArrayStats] | None  # per array of the plan (done)
    error: Exception | None  # failed
    skipped: Skipped | None  # skipped
    started: float  # when its preparation started (time.time())
    stopped: float  # when it ended


@dataclass(eq=False)
class _Dataset:
    index: int
    started: float
    conversion: Conversion | None = None
    resume: bool = False
    tasks: Iterator | None = None
    stats: list[ArrayStats] = field(default_factory=list)
    begun: float = 0.0  # when its first task was queued
    in_flight: int = 0
    exhausted: bool = False  # every task queued
    stage: int = 0  # of the tasks being queued
    waiting: object = None  # the first task of the next stage, held until this stage's tasks are done
    error: Exception | None = None
    done_bytes: int = 0


class CollectionRunner:
    """Runs a collection's conversions on ``executor``'s pool; ``ahead``:
    datasets planned ahead of the one being fed."""

    def __init__(self, executor: TaskExecutor, *, ahead: int = 4):
        if not isinstance(executor, TaskExecutor):
            msg = f"{type(executor).__name__} cannot run a collection: it needs an executor of shard tasks"
            raise TypeError(msg)
        self.executor = executor
        self.ahead = max(1, ahead)

    def run(self, prepares: Sequence[Prepare], on_end: Callable[[Ended], None],
            progress: CollectionProgress | None = None) -> None:
        """Convert every dataset; ``on_end`` is called once per dataset, in
        this thread, as each ends (its errors end the whole run)."""
        self.prepares = prepares
        self.on_end = on_end
        self.progress = progress
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.pending = deque(range(len(prepares)))  # not planned yet
        self.ready: deque[_Dataset] = deque()  # planned, waiting for their turn
        self.current: _Dataset | None = None  # the one whose tasks are being queued
        self.planning = self.finishing = self.in_flight = 0
        self.running: dict[int, object] = {}  # the tasks in flight
        self.remaining = len(prepares)
        meta = cf.ThreadPoolExecutor(2 * self.ahead, thread_name_prefix="metadata")
        try:
            with self.executor.task_pool() as pool:
                self.pool, self.meta = pool, meta
                self.loop()
        finally:
            meta.shutdown(wait=True, cancel_futures=True)

    # -- the loop: everything below runs in the calling thread -------------------

    def loop(self) -> None:
        while self.remaining:
            self.plan_ahead()
            self.feed()
            if not (self.planning or self.finishing or self.in_flight):
                msg = "collection: nothing running and datasets left (a bug)"
                raise RuntimeError(msg)
            kind, ds, payload, future = self.events.get()
            if kind == "planned":
                self.planned(ds, future)
            elif kind == "task":
                self.task_done(ds, payload, future)
            else:
                self.finished(ds, future)

    def post(self, kind: str, ds: _Dataset, payload=None):
        return lambda future: self.events.put((kind, ds, payload, future))

    def plan_ahead(self) -> None:
        while self.pending and self.planning + len(self.ready) < self.ahead:
            ds = _Dataset(self.pending.popleft(), time.time())
            self.planning += 1
            self.meta.submit(self.prepare, ds).add_done_callback(self.post("planned", ds))

    def feed(self) -> None:
        """Queue tasks up to the pool's capacity, dataset after dataset."""
        while self.in_flight < self.pool.capacity:
            ds = self.current
            if ds is None:
                if not self.ready or self.finishing >= 2 * self.ahead:
                    return
                ds = self.current = self.ready.popleft()
                ds.begun = ds.begun or time.time()
            task, ds.waiting = ds.waiting, None
            if task is None:
                task = next(ds.tasks, None) if ds.error is None else None
            if task is None:
                ds.exhausted = True
                self.current = None
                self.maybe_finish(ds)
                continue
            n, index = task
            stage = ds.conversion.plan.arrays[n].stage
            if stage != ds.stage:
                ds.waiting = task
                if ds.in_flight:  # its tasks read what the earlier stage writes: it waits for them
                    self.current = None
                    continue
                ds.stage = stage
                continue
            future = self.pool.submit(ds.conversion.plan.arrays[n], index, ds.conversion.out, ds.resume)
            ds.in_flight += 1
            self.in_flight += 1
            self.running[id(future)] = future  # a Dask future let go of is cancelled
            future.add_done_callback(self.post("task", ds, task))

    def planned(self, ds: _Dataset, future: cf.Future) -> None:
        self.planning -= 1
        try:
            conversion = future.result()
        except Exception as e:  # noqa: BLE001 - the dataset fails alone
            ds.error = e
            self.end(ds, FAILED)
            return
        if isinstance(conversion, Skipped):
            self.end(ds, SKIPPED, conversion)
            return
        ds.conversion = conversion
        ds.tasks = conversion.plan.tasks()
        ds.stats = [ArrayStats() for _ in conversion.plan.arrays]
        if self.progress is not None:
            self.progress.plan(conversion.plan.nbytes)
        self.ready.append(ds)

    def task_done(self, ds: _Dataset, task, future) -> None:
        self.running.pop(id(future), None)
        ds.in_flight -= 1
        self.in_flight -= 1
        try:
            result, start, stop = future.result()
        except Exception as e:  # noqa: BLE001 - the dataset fails alone
            if ds.error is None:
                ds.error = e
            if self.current is ds or ds.waiting is not None:  # its other tasks are not queued
                ds.exhausted, ds.waiting = True, None
                if self.current is ds:
                    self.current = None
        else:
            n, index = task
            ds.stats[n].add(result, start, stop)
            nbytes = ds.conversion.plan.arrays[n].task_nbytes(index)
            ds.done_bytes += nbytes
            if self.progress is not None:
                self.progress.advance(nbytes)
        self.maybe_finish(ds)
        if ds.waiting is not None and not ds.in_flight and self.current is not ds:
            self.ready.appendleft(ds)  # its earlier stage is done: its next stage goes first

    def maybe_finish(self, ds: _Dataset) -> None:
        if not ds.exhausted or ds.in_flight:
            return
        if ds.error is not None:
            self.end(ds, FAILED)
            return
        self.finishing += 1
        self.meta.submit(self.finish, ds).add_done_callback(self.post("finished", ds))

    def finished(self, ds: _Dataset, future: cf.Future) -> None:
        self.finishing -= 1
        try:
            future.result()
        except Exception as e:  # noqa: BLE001 - the dataset fails alone
            ds.error = e
            self.end(ds, FAILED)
            return
        self.end(ds, DONE)

    def end(self, ds: _Dataset, status: str, skipped: Skipped | None = None) -> None:
        self.remaining -= 1
        if self.progress is not None:
            left = ds.conversion.plan.nbytes - ds.done_bytes if ds.conversion is not None else 0
            self.progress.ended(status, planned=ds.conversion is not None, left=left)
        ended = Ended(ds.index, status, ds.conversion, ds.stats if status == DONE else None, ds.error, skipped,
                      ds.started, time.time())
        ds.conversion = ds.tasks = None  # the plan is not kept once reported
        self.on_end(ended)

    # -- on the metadata threads ---------------------------------------------------

    def prepare(self, ds: _Dataset) -> Conversion | Skipped:
        ds.started = time.time()
        conversion = self.prepares[ds.index]()
        if isinstance(conversion, Conversion):
            ds.resume = conversion.begin(self.executor.mode)
        return conversion

    def finish(self, ds: _Dataset) -> None:
        conversion = ds.conversion
        self.pool.settle(conversion.out)
        if ds.resume:
            conversion.log_resumed(sum(s.tasks_skipped for s in ds.stats))
        conversion.finish(ds.stats, ds.begun, self.executor.threads)
