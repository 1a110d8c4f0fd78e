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


_MALLOC_TUNED = False


def tune_malloc() -> None:
    """Undo, in a Dask worker, the MALLOC_TRIM_THRESHOLD_ its nanny sets.

    That setting switches off glibc's adaptive mmap threshold, so every
    chunk-sized buffer the codecs allocate is a fresh mmap, page-faulted in and
    unmapped again: Blosc-zstd encoding measured 1.7x slower per chunk. Fixed
    thresholds (64 MiB mmap, 128 MiB trim) restore the speed of a plain process.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 128 * 2**20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc: nothing to undo
        pass


def _dask_task(job, index, out: Store, resume: bool):
    tune_malloc()
    return _timed(job, index, out, resume)


class ThreadExecutor:
    def __init__(self, threads: int):
        self.threads = max(1, threads)

    def run(self, plan: Plan, out: Store, progress=None, resume: bool = False, tasks=None) -> list[ArrayStats]:
        """Run ``tasks`` ((array number, shard index) pairs; default: all of the plan)."""
        stats = [ArrayStats() for _ in plan.arrays]
        tasks = iter(plan.tasks() if tasks is None else tasks)
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


class DaskExecutor:
    """Sends the shard tasks to a running Dask cluster (started by dask-jobqueue,
    Kubernetes or by hand). Workers read the input and write the output
    themselves; only task descriptions and small results cross the network.

    A task is idempotent (a shard is written whole, atomically), so when a worker
    dies Dask simply runs its tasks again elsewhere, and the output is the same as
    a local run's.
    """

    def __init__(self, address: str, timeout: float = 10):
        self.address = address
        self.timeout = timeout

    def run(self, plan: Plan, out: Store, progress=None, resume: bool = False, tasks=None) -> list[ArrayStats]:
        """Run ``tasks`` ((array number, shard index) pairs; default: all of the plan)."""
        try:
            from distributed import Client, as_completed
        except ImportError:
            from .errors import UserError

            msg = "--dask-scheduler needs the 'distributed' package (pip install distributed)"
            raise UserError(msg) from None
        client = self.connect(Client)
        try:
            stats = [ArrayStats() for _ in plan.arrays]
            # a window of tasks in flight keeps the scheduler's memory bounded on
            # plates with hundreds of thousands of shards, and every worker busy
            window = 4 * max(1, sum(client.nthreads().values()))
            tasks = iter(plan.tasks() if tasks is None else tasks)
            pending = as_completed()
            owners = {}

            def submit_next() -> bool:
                task = next(tasks, None)
                if task is None:
                    return False
                n, index = task
                future = client.submit(_dask_task, plan.arrays[n], index, out, resume, pure=False, retries=1)
                owners[future.key] = task
                pending.add(future)
                return True

            for _ in range(window):
                if not submit_next():
                    break
            for future in pending:
                n, index = owners.pop(future.key)
                result, start, stop = future.result()  # re-raises a task's error
                stats[n].add(result, start, stop)
                if progress is not None:
                    progress(plan.arrays[n].task_nbytes(index))
                submit_next()
            return stats
        finally:
            client.close()

    def connect(self, client_class):
        from .errors import UserError

        self.probe()
        try:
            return client_class(self.address, timeout=self.timeout)
        except (OSError, TimeoutError) as e:
            msg = f"--dask-scheduler={self.address}: cannot connect ({e})"
            raise UserError(msg) from None

    def probe(self) -> None:
        """Fail at once on a refused tcp:// address (distributed would keep
        retrying until its timeout)."""
        import socket
        from urllib.parse import urlsplit

        from .errors import UserError

        parts = urlsplit(self.address if "://" in self.address else f"tcp://{self.address}")
        if parts.scheme != "tcp" or not parts.hostname or not parts.port:
            return
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=self.timeout).close()
        except OSError as e:
            msg = f"--dask-scheduler={self.address}: cannot connect ({e.strerror or e})"
            raise UserError(msg) from None
