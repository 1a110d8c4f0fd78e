"""``--log trace``: every operation on a store logged with its key, its size and
how long it took, whatever the backend (obstore's own requests do not reach
Python's logging)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .base import Store

LOG = logging.getLogger("ome2024_ngff_challenge")
TRACE = 5  # below logging.DEBUG
RECEIVED_LOCK = threading.Lock()  # one for all traced stores: a store's own would not pickle (Dask)


class TracedStore(Store):
    """Another store, with each call logged at the TRACE level. ``received``
    counts the bytes its reads returned (what the converter received: the
    tests and benchmarks of zero copy read it)."""

    def __init__(self, inner: Store):
        self.inner = inner
        self.received = 0
        self.supports_writes = inner.supports_writes
        self.supports_listing = inner.supports_listing
        self.supports_ranged_reads = inner.supports_ranged_reads
        self.preferred_concurrency = inner.preferred_concurrency
        self.supports_copy_from = inner.supports_copy_from
        self.supports_append = inner.supports_append

    def __repr__(self) -> str:
        return f"TracedStore({self.inner!r})"

    def _call(self, name: str, key: str, *args):
        start = time.perf_counter()
        try:
            result = getattr(self.inner, name)(key, *args)
        except BaseException as e:
            LOG.log(TRACE, "%s %s: failed after %.1f ms (%s)", name, self.inner.describe(key),
                    1000 * (time.perf_counter() - start), type(e).__name__)
            raise
        size = len(result) if isinstance(result, bytes) else len(result[0]) if isinstance(result, tuple) \
            and result and isinstance(result[0], bytes) else None
        if size:
            with RECEIVED_LOCK:
                self.received += size
        LOG.log(TRACE, "%s %s: %s in %.1f ms", name, self.inner.describe(key),
                "-" if result is None else f"{size} bytes" if size is not None else result,
                1000 * (time.perf_counter() - start))
        return result

    def describe(self, key: str = "") -> str:
        return self.inner.describe(key)

    def local_path(self, key: str = "") -> Path | None:
        return self.inner.local_path(key)

    def local_file(self, key: str) -> str | None:
        return self.inner.local_file(key)

    def check_writable(self, key: str) -> None:
        self.inner.check_writable(key)

    def exclude(self, other: Store) -> None:
        self.inner.exclude(other.inner if isinstance(other, TracedStore) else other)

    def object_location(self) -> tuple[str, str, str] | None:
        return self.inner.object_location()

    def can_copy_from(self, src: Store) -> bool:
        return self.inner.can_copy_from(src)

    def copy_from(self, src: Store, src_key: str, key: str) -> int | None:
        start = time.perf_counter()
        size = self.inner.copy_from(src, src_key, key)
        LOG.log(TRACE, "copy %s to %s: %s in %.1f ms", src.describe(src_key), self.inner.describe(key),
                "-" if size is None else f"{size} bytes", 1000 * (time.perf_counter() - start))
        return size

    def flush(self) -> None:
        self.inner.flush()

    def overlaps(self, other: Store) -> bool:
        return self.inner.overlaps(other.inner if isinstance(other, TracedStore) else other)

    def get(self, key: str) -> bytes | None:
        return self._call("get", key)

    def get_tail(self, key: str, length: int) -> tuple[bytes, int] | None:
        return self._call("get_tail", key, length)

    def get_range(self, key: str, start: int, length: int) -> bytes | None:
        return self._call("get_range", key, start, length)

    def exists(self, key: str) -> bool:
        return self._call("exists", key)

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        dirs, files = self._call("list_dir", prefix)
        return dirs, files

    def sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        start, count, total = time.perf_counter(), 0, 0
        for key, size in self.inner.sizes(prefix):
            count, total = count + 1, total + size
            yield key, size
        LOG.log(TRACE, "sizes %s: %d keys, %d bytes in %.1f ms", self.inner.describe(prefix), count, total,
                1000 * (time.perf_counter() - start))

    def put(self, key: str, data: bytes) -> None:
        LOG.log(TRACE, "put %s: %d bytes", self.inner.describe(key), len(data))
        self.inner.put(key, data)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        start = time.perf_counter()
        with self.inner.writer(key) as f:
            yield f
        LOG.log(TRACE, "write %s: done in %.1f ms", self.inner.describe(key), 1000 * (time.perf_counter() - start))

    def append(self, key: str, data: bytes) -> None:
        self._call("append", key, data)

    def delete(self, key: str) -> None:
        self._call("delete", key)

    def delete_tree(self) -> None:
        LOG.log(TRACE, "delete_tree %s", self.inner.describe())
        self.inner.delete_tree()

    def remove_partials(self) -> int:
        return self.inner.remove_partials()

    def remove_empty_folders(self, prefix: str) -> None:
        self.inner.remove_empty_folders(prefix)
