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
from collections.abc import Callable, Iterable
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
        self.requests = 0  # reads and listings sent to the inner store
        # times the walk waited for the inner store: a prefetch that sent
        # requests, or a read or listing that was not fetched ahead
        self.rounds = 0

    def __repr__(self) -> str:
        return f"ReadCache({self.inner!r})"

    # -- fetching many at once ------------------------------------------------

    def prefetch(self, keys: Iterable[str], listings: Iterable[str] = ()) -> None:
        """Fetch ``keys`` and list the folders ``listings``, all in one round
        (many requests in flight); errors are left for the read that follows
        to raise, with its own message. What a listing fetched before says is
        missing is not asked for; folders are listed only where the store can
        list."""
        wanted = self._wanted(keys, listings)
        if not wanted:
            return
        self._count(rounds=1)
        if len(wanted) == 1 or self.threads <= 1:
            for item in wanted:
                self._fetch(item)
            return
        with ThreadPoolExecutor(min(self.threads, len(wanted)), thread_name_prefix="prefetch") as pool:
            for future in [pool.submit(self._fetch, item) for item in wanted]:
                future.result()

    def fetching(self) -> Fetcher:
        """A session of requests sent as soon as what they depend on is there
        (see Fetcher); use it as a context manager."""
        return Fetcher(self)

    def _wanted(self, keys: Iterable[str], listings: Iterable[str]) -> list[tuple[str, str]]:
        """What of ``keys`` and ``listings`` is not known yet: ("get", key) and
        ("list", folder) requests (folders only where the store can list)."""
        wanted = [("get", k) for k in dict.fromkeys(keys) if k not in self.values and not self._known_missing(k)]
        if self.supports_listing:
            wanted += [("list", p) for p in dict.fromkeys(q.strip("/") for q in listings)
                       if p not in self.listings and not self._known_missing(p)]
        return wanted

    def _fetch(self, item: tuple[str, str]) -> None:
        kind, arg = item
        with contextlib.suppress(Exception):  # the read that follows raises it, with its own message
            self._load(arg) if kind == "get" else self._list(arg)

    def prefetch_listings(self, prefixes: Iterable[str]) -> None:
        """List the folders ``prefixes`` (many requests in flight)."""
        self.prefetch((), prefixes)

    def _known_missing(self, key: str) -> bool:
        """Whether a listing fetched before says the key (or folder) is not
        there: the listing of its folder, or of any folder above it, lacks it."""
        if not key.strip("/"):
            return False
        parts = key.strip("/").split("/")
        for depth in range(len(parts) - 1, -1, -1):
            listing = self.listings.get("/".join(parts[:depth]))
            if listing is None:
                continue
            dirs, files = listing
            name = parts[depth]
            return name not in dirs and (depth < len(parts) - 1 or name not in files)
        return False

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
        self._count(rounds=1)
        return self._load(key)

    def exists(self, key: str) -> bool:
        value = self.values.get(key, _MISSING)
        if value is not _MISSING:
            return value is not None
        folder, _, name = key.strip("/").rpartition("/")
        listing = self.listings.get(folder)
        if listing is not None:  # the listing of its folder knows
            return name in listing[1]
        # metadata objects are small: reading one costs what asking about it does
        return self.get(key) is not None

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        prefix = prefix.strip("/")
        listing = self.listings.get(prefix)
        if listing is None:
            self._count(rounds=1)
            listing = self._list(prefix)
        return listing

    # -- the inner store ----------------------------------------------------------

    def _count(self, requests: int = 0, rounds: int = 0) -> None:
        with self.lock:
            self.requests += requests
            self.rounds += rounds

    def _load(self, key: str) -> bytes | None:
        self._count(requests=1)
        value = self.inner.get(key)
        with self.lock:
            self.values[key] = value
        return value

    def _list(self, prefix: str) -> tuple[list[str], list[str]]:
        self._count(requests=1)
        listing = self.inner.list_dir(prefix)
        with self.lock:
            self.listings[prefix] = listing
        return listing


def metadata_keys(paths: Iterable[str], names: Iterable[str]) -> list[str]:
    """Every ``path/name``."""
    names = list(names)
    return [join(path, name) for path in paths for name in names]


class Fetcher:
    """Requests of a walk sent as soon as what they depend on has come back,
    not in rounds that each wait for their slowest request: ``fetch(keys,
    listings, then)`` sends what is not known yet and, once all of it is
    there, calls ``then()`` (on a worker thread), which may fetch more. With
    a round trip of 50 ms, a plate's wells, fields and arrays then flow
    through the store's requests in flight with no pause between levels.
    Leaving the ``with`` block waits for every request and callback; a
    callback's error is raised there. The cache's ``rounds`` grows by the
    longest chain of requests that waited for one another."""

    def __init__(self, cache: ReadCache):
        self.cache = cache
        self.pool = ThreadPoolExecutor(max(1, cache.threads), thread_name_prefix="prefetch")
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        # each request once, even when two callers want it: the callbacks
        # waiting for it (None once it is done)
        self.waiting: dict[tuple[str, str], list[_Waiter] | None] = {}
        self.pending = 0  # requests and callbacks submitted and not done
        self.depth = 0  # the longest chain so far
        self.error: BaseException | None = None
        self.local = threading.local()  # the depth of the callback running in this thread

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        with self.idle:
            while self.pending:
                self.idle.wait()
        self.pool.shutdown(wait=True)
        self.cache._count(rounds=self.depth)
        if self.error is not None and exc[0] is None:
            raise self.error

    def fetch(self, keys: Iterable[str], listings: Iterable[str] = (), then: Callable[[], None] | None = None) -> None:
        wanted = self.cache._wanted(keys, listings)
        depth = getattr(self.local, "depth", 0) + 1
        waiter = _Waiter(then, depth)
        with self.lock:
            for item in wanted:
                if item not in self.waiting:
                    self.waiting[item] = []
                    self._submit(self._request, item)
                waiters = self.waiting[item]
                if waiters is not None:
                    waiters.append(waiter)
                    waiter.left += 1
            if waiter.left:
                self.depth = max(self.depth, depth)
        if not waiter.left and then is not None:
            then()  # nothing to wait for: at once

    def _submit(self, fn: Callable, *args) -> None:
        """Under the lock; the task ends with ``_finished``."""
        self.pending += 1
        self.pool.submit(fn, *args)

    def _finished(self) -> None:
        with self.idle:
            self.pending -= 1
            if not self.pending:
                self.idle.notify_all()

    def _request(self, item: tuple[str, str]) -> None:
        try:
            self.cache._fetch(item)
        finally:
            with self.lock:
                waiters, self.waiting[item] = self.waiting[item], None
                for waiter in waiters or ():
                    waiter.left -= 1
                    if not waiter.left and waiter.then is not None:
                        self._submit(self._call, waiter)  # before this task counts as finished
            self._finished()

    def _call(self, waiter: _Waiter) -> None:
        self.local.depth = waiter.depth
        try:
            waiter.then()
        except BaseException as e:  # noqa: BLE001 - raised when the session ends
            with self.lock:
                self.error = self.error or e
        finally:
            self.local.depth = 0
            self._finished()


class _Waiter:
    """A callback waiting for ``left`` requests."""

    __slots__ = ("depth", "left", "then")

    def __init__(self, then: Callable[[], None] | None, depth: int):
        self.then = then
        self.depth = depth
        self.left = 0
