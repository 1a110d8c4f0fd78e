"""The Dask executor: the shard tasks sent to a running Dask cluster (started by
dask-jobqueue, Kubernetes or by hand). Workers read the input and write the
output themselves; only task descriptions and small results cross the network.

A task is idempotent (a shard is written whole, atomically), so when a worker
dies Dask simply runs its tasks again elsewhere, and the output is the same as
a local run's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from ..convert.plan import ArrayJob, Plan
from ..convert.stats import ArrayStats
from ..errors import UserError, option
from ..stores.base import Store
from .base import Progress, Task, TaskExecutor, TaskFuture, TaskPool, timed_task

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
    result = timed_task(job, index, out, resume)
    out.flush()  # a worker's links are flushed before the task counts as done
    return result


class DaskExecutor(TaskExecutor):
    def __init__(self, address: str, timeout: float = 10):
        self.address = address
        self.timeout = timeout
        self.threads = 1  # known once connected: the cluster's threads

    def run_tasks(self, plan: Plan, out: Store, tasks: Iterable[Task], *, resume: bool,
                  progress: Progress | None = None) -> list[ArrayStats]:
        try:
            from distributed import Client, as_completed
        except ImportError:
            msg = f"{option('dask_scheduler')} needs the 'distributed' package (pip install distributed)"
            raise UserError(msg) from None
        client = self.connect(Client)
        try:
            stats = [ArrayStats() for _ in plan.arrays]
            self.threads = max(1, sum(client.nthreads().values()))
            # a window of tasks in flight keeps the scheduler's memory bounded on
            # plates with hundreds of thousands of shards, and every worker busy
            window = 4 * self.threads
            tasks = iter(tasks)
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
        finally:
            client.close()
        # a worker that died mid-write leaves its temporary file behind (its
        # task was run again elsewhere); no writer is active any more
        out.remove_partials()
        return stats

    @contextlib.contextmanager
    def task_pool(self) -> Iterator[TaskPool]:
        client = self.connect(self.client_class())
        try:
            self.threads = max(1, sum(client.nthreads().values()))
            yield DaskTaskPool(client, 4 * self.threads)
        finally:
            client.close()

    @staticmethod
    def client_class():
        try:
            from distributed import Client
        except ImportError:
            msg = f"{option('dask_scheduler')} needs the 'distributed' package (pip install distributed)"
            raise UserError(msg) from None
        return Client

    def connect(self, client_class):
        self.probe()
        try:
            return client_class(self.address, timeout=self.timeout)
        except (OSError, TimeoutError) as e:
            msg = f"{option('dask_scheduler', self.address)}: cannot connect ({e})"
            raise UserError(msg) from None

    def probe(self) -> None:
        """Fail at once on a refused tcp:// address (distributed would keep
        retrying until its timeout)."""
        import socket
        from urllib.parse import urlsplit

        parts = urlsplit(self.address if "://" in self.address else f"tcp://{self.address}")
        if parts.scheme != "tcp" or not parts.hostname or not parts.port:
            return
        try:
            socket.create_connection((parts.hostname, parts.port), timeout=self.timeout).close()
        except OSError as e:
            msg = f"{option('dask_scheduler', self.address)}: cannot connect ({e.strerror or e})"
            raise UserError(msg) from None


class DaskTaskPool(TaskPool):
    """Shard tasks of many conversions sent to one cluster, ``capacity`` in flight."""

    def __init__(self, client, capacity: int):
        self.client = client
        self.capacity = capacity

    def submit(self, job: ArrayJob, index: tuple[int, ...], out: Store, resume: bool) -> TaskFuture:
        return self.client.submit(_dask_task, job, index, out, resume, pure=False, retries=1)

    def settle(self, out: Store) -> None:
        # a worker that died mid-write leaves its temporary file behind (its
        # task was run again elsewhere); no writer of this output is active
        out.remove_partials()
