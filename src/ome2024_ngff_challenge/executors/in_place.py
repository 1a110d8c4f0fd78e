"""The in-place executor: the plan's 0.5 metadata added beside the input's own
(``convert.in_place.InPlaceView``), no chunk written.

By default no chunk is read at all. With ``verify`` every stored chunk is read
and decoded (through its v3 description) on a thread pool first, read-only: one
that does not decode to a whole chunk stops the run before anything is added.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import os
import time

from ..convert.in_place import check_chunk
from ..convert.output import Conversion
from ..convert.plan import Plan
from ..convert.progress import ByteProgress
from ..convert.stats import ArrayStats, TaskResult
from ..stores.base import Store
from .base import Executor
from .threads import default_threads


class InPlaceExecutor(Executor):
    mode = "in-place"

    def __init__(self, threads: int | None = None, verify: bool = False):
        self.requested = threads
        self.threads = max(1, threads or os.cpu_count() or 1)
        self.verify = verify

    def execute(self, conversion: Conversion) -> None:
        plan, store = conversion.plan, conversion.src
        started = time.time()
        stats = [ArrayStats() for _ in plan.arrays]
        if self.verify:
            if self.requested is None:
                self.threads = default_threads(store)
            with ByteProgress(plan.nbytes, enabled=conversion.settings.progress) as progress:
                stats = self.check_chunks(plan, store, progress.advance)
        conversion.begin(self.mode)
        conversion.finish(stats, started, self.threads if self.verify else 0)

    def check_chunks(self, plan: Plan, store: Store, progress) -> list[ArrayStats]:
        """Every chunk of every array decoded, ``threads`` at a time (at most
        twice as many queued); the first bad one raises."""
        stats = [ArrayStats() for _ in plan.arrays]
        tasks = iter(plan.tasks())

        def check(n: int, index: tuple[int, ...]):
            start, cpu = time.time(), time.thread_time()
            read = check_chunk(plan.arrays[n], index, store)
            return TaskResult(bytes_read=read, cpu_seconds=time.thread_time() - cpu), start, time.time()

        with cf.ThreadPoolExecutor(self.threads, thread_name_prefix="verify") as pool:
            running: dict[cf.Future, tuple] = {}
            try:
                while True:
                    for n, index in itertools.islice(tasks, 2 * self.threads - len(running)):
                        running[pool.submit(check, n, index)] = (n, index)
                    if not running:
                        break
                    done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        n, index = running.pop(future)
                        result, start, stop = future.result()  # re-raises a bad chunk
                        stats[n].add(result, start, stop)
                        progress(plan.arrays[n].task_nbytes(index))
            except BaseException:
                for future in running:
                    future.cancel()
                raise
        return stats
