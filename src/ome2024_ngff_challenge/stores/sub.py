"""A folder inside another store, seen as a store of its own (read-only): one
dataset of a folder or bucket prefix that holds many, read through the same
connection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .base import ReadOnlyStore, Store, join


class SubStore(ReadOnlyStore):
    """The keys of ``inner`` below ``prefix``; reads only."""

    def __init__(self, inner: Store, prefix: str):
        self.inner = inner
        self.prefix = prefix.strip("/")
        self.supports_listing = inner.supports_listing
        self.supports_ranged_reads = inner.supports_ranged_reads
        self.preferred_concurrency = inner.preferred_concurrency

    def __repr__(self) -> str:
        return f"SubStore({self.inner!r}, {self.prefix!r})"

    def _key(self, key: str) -> str:
        return join(self.prefix, key)

    def describe(self, key: str = "") -> str:
        return self.inner.describe(self._key(key))

    def local_path(self, key: str = "") -> Path | None:
        return self.inner.local_path(self._key(key))

    def local_file(self, key: str) -> str | None:
        return self.inner.local_file(self._key(key))

    def get(self, key: str) -> bytes | None:
        return self.inner.get(self._key(key))

    def get_tail(self, key: str, length: int) -> tuple[bytes, int] | None:
        return self.inner.get_tail(self._key(key), length)

    def get_range(self, key: str, start: int, length: int) -> bytes | None:
        return self.inner.get_range(self._key(key), start, length)

    def exists(self, key: str) -> bool:
        return self.inner.exists(self._key(key))

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        return self.inner.list_dir(self._key(prefix))

    def sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        skip = len(self.prefix) + 1 if self.prefix else 0
        for key, size in self.inner.sizes(self._key(prefix)):
            yield key[skip:], size

