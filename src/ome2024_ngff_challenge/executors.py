"""Executors run a plan's shard tasks. The local one is a bounded thread pool:
all arrays of all images feed one queue, so many small images share the
threads instead of each paying a start-up cost.

The codecs (numcodecs Blosc/Zstd/zlib) release the GIL, so threads scale with
cores; at most ``2 * threads`` tasks are queued at once, which bounds memory.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from dataclasses import dataclass

from .plan import Plan
from .shard_writer import TaskResult, write_task
from .stores import Store


@dataclass
class ArrayStats:
    """What converting one array cost (recorded in its zarr.json)."""

    start: float | None = None
    stop: float | None = None
    bytes_read: int = 0
    bytes_written: int = 0
    tasks: int = 0
    chunks_written: int = 0
    tasks_skipped: int = 0  # already complete in the output (resumed run)

    def add(self, result: TaskResult, start: float, stop: float) -> None:
        self.start = start if self.start is None else min(self.start, start)
        self.stop = stop if self.stop is None else max(self.stop, stop)
        self.bytes_read += result.bytes_read
        self.bytes_written += result.bytes_written
        self.chunks_written += result.chunks_written
        self.tasks += 1
        self.tasks_skipped += result.skipped


def _timed(job, index, out: Store, resume: bool):
    start = time.time()
    result = write_task(job, index, out, resume)
    return result, start, time.time()


class ThreadExecutor:
    def __init__(self, threads: int):
        self.threads = max(1, threads)

    def run(self, plan: Plan, out: Store, progress=None, resume: bool = False) -> list[ArrayStats]:
        stats = [ArrayStats() for _ in plan.arrays]
        tasks = iter(plan.tasks())
        limit = 2 * self.threads
        with cf.ThreadPoolExecutor(self.threads, thread_name_prefix="shard") as pool:
            running: dict[cf.Future, tuple[int, tuple[int, ...]]] = {}
            try:
                while True:
                    while len(running) < limit:
                        task = next(tasks, None)
                        if task is None:
                            break
                        n, index = task
                        running[pool.submit(_timed, plan.arrays[n], index, out, resume)] = task
                    if not running:
                        break
                    done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                    for future in done:
                        n, index = running.pop(future)
                        result, start, stop = future.result()  # re-raises a task's error
                        stats[n].add(result, start, stop)
                        if progress is not None:
                            progress(plan.arrays[n].task_nbytes(index))
            except BaseException:
                for future in running:
                    future.cancel()
                raise
        return stats
