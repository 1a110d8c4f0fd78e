"""A store in memory: what is about to be written, checked before it is (the
planned metadata of a conversion), and a small store for tests."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from typing import BinaryIO

from .base import Store


class MemoryStore(Store):
    def __init__(self, name: str = "memory"):
        self.name = name
        self.items: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryStore({self.name!r})"

    def describe(self, key: str = "") -> str:
        return f"{self.name}/{key}" if key else self.name

    def get(self, key: str) -> bytes | None:
        return self.items.get(key)

    def exists(self, key: str) -> bool:
        return key in self.items

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        dirs, files = set(), set()
        for key in list(self.items):
            if key.startswith(base):
                head, sep, _ = key[len(base):].partition("/")
                (dirs if sep else files).add(head)
        return sorted(dirs), sorted(files)

    def sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        for key, value in list(self.items.items()):
            if key.startswith(base):
                yield key, len(value)

    def put(self, key: str, data: bytes) -> None:
        with self.lock:
            self.items[key] = bytes(data)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        buffer = io.BytesIO()
        yield buffer
        self.put(key, buffer.getvalue())

    def delete(self, key: str) -> None:
        with self.lock:
            self.items.pop(key, None)

    def delete_tree(self) -> None:
        with self.lock:
            self.items.clear()
