"""A read-only, caching view of a store for walking metadata.

Planning a plate reads a thousand small metadata objects; one after another
over S3, each waits a round trip (50 ms across a network: a minute for a
plate). The planner asks this view to fetch what it will read next, many at a
time (``prefetch``, ``prefetch_listings``), then reads them from memory. Chunks
are never read through it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .base import ReadOnlyStore, Store, join

_MISSING = object()


class ReadCache(ReadOnlyStore):
    read_only_reason = "a read-only view"

    def __init__(self, inner: Store, threads: int | None = None):
        self.inner = inner
        self.supports_listing = inner.supports_listing
        self.supports_ranged_reads = inner.supports_ranged_reads
        self.preferred_concurrency = inner.preferred_concurrency
        # local disks answer fast: a few threads; object stores: many requests in flight
        self.threads = threads or (min(64, 4 * inner.preferred_concurrency) if inner.preferred_concurrency else 4)
        self.values: dict[str, bytes | None] = {}
        self.listings: dict[str, tuple[list[str], list[str]]] = {}
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ReadCache({self.inner!r})"

    # -- fetching many at once ------------------------------------------------

    def _fetch_all(self, call, items: list[str]) -> None:
        if not items:
            return
        if len(items) == 1 or self.threads <= 1:
            for item in items:
                call(item)
            return
        with ThreadPoolExecutor(min(self.threads, len(items)), thread_name_prefix="prefetch") as pool:
            for future in [pool.submit(call, item) for item in items]:
                future.result()

    def prefetch(self, keys: Iterable[str]) -> None:
        """Fetch ``keys`` (many requests in flight); errors are left for the
        read that follows to raise, with its own message."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self.values and not self._known_missing(k)]

        def fetch(key: str) -> None:
            with contextlib.suppress(Exception):
                self.get(key)

        self._fetch_all(fetch, wanted)

    def prefetch_listings(self, prefixes: Iterable[str]) -> None:
        """List the folders ``prefixes`` (many requests in flight)."""
        wanted = [p for p in dict.fromkeys(prefixes) if p not in self.listings]

        def fetch(prefix: str) -> None:
            with contextlib.suppress(Exception):
                self.list_dir(prefix)

        self._fetch_all(fetch, wanted)

    def _known_missing(self, key: str) -> bool:
        """Whether a listing of the key's folder already says it is not there."""
        folder, _, name = key.rpartition("/")
        listing = self.listings.get(folder)
        return listing is not None and name not in listing[1]

    # -- Store ------------------------------------------------------------------

    def describe(self, key: str = "") -> str:
        return self.inner.describe(key)

    def local_path(self, key: str = "") -> Path | None:
        return self.inner.local_path(key)

    def overlaps(self, other: Store) -> bool:
        return self.inner.overlaps(other)

    def get(self, key: str) -> bytes | None:
        value = self.values.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if self._known_missing(key):
            return None
        value = self.inner.get(key)
        with self.lock:
            self.values[key] = value
        return value

    def exists(self, key: str) -> bool:
        # metadata objects are small: reading one costs what asking about it does
        return self.get(key) is not None

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        prefix = prefix.strip("/")
        listing = self.listings.get(prefix)
        if listing is None:
            listing = self.inner.list_dir(prefix)
            with self.lock:
                self.listings[prefix] = listing
        return listing



def metadata_keys(paths: Iterable[str], names: Iterable[str]) -> list[str]:
    """Every ``path/name``."""
    names = list(names)
    return [join(path, name) for path in paths for name in names]
