"""A folder on local disk, written durably.

A write lands under a temporary name, is flushed to the disk (fsync), renamed
into place, and the folder's entry is flushed too: after a crash or a power
loss a key holds all of its bytes or does not exist, never an empty or short
file that a resumed run would take for finished work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError, OutputError
from .base import PARTIAL_MARK, Store


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a file system that cannot open folders: nothing to flush
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_folders(folder: Path) -> None:
    """mkdir -p, with each new folder's entry flushed into its parent."""
    if folder.is_dir():
        return
    missing = []
    parent = folder
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    folder.mkdir(parents=True, exist_ok=True)
    for made in reversed(missing):
        fsync_dir(made.parent)


class LocalStore(Store):
    """A folder on local disk."""

    supports_ranged_reads = True
    supports_append = True

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def local_path(self, key: str = "") -> Path:
        return self._path(key)

    def overlaps(self, other: Store) -> bool:
        theirs = other.local_path()
        if theirs is None:
            return False
        a, b = self.root.resolve(), theirs.resolve()
        return a == b or a in b.parents or b in a.parents

    def _path(self, key: str) -> Path:
        return self.root / key if key else self.root

    def describe(self, key: str = "") -> str:
        return str(self._path(key))

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except PermissionError:
            msg = f"{self.describe(key)}: permission denied"
            raise InputError(msg) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        path = self._path(prefix)
        dirs, files = [], []
        try:
            with os.scandir(path) as it:
                for entry in it:
                    (dirs if entry.is_dir() else files).append(entry.name)
        except (FileNotFoundError, NotADirectoryError):
            pass
        return sorted(dirs), sorted(files)

    def get_tail(self, key: str, length: int) -> tuple[bytes, int] | None:
        try:
            with open(self._path(key), "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - length))
                return f.read(), size
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def remove_partials(self) -> int:
        removed = 0
        for folder, _, files in os.walk(self.root):
            for name in files:
                if name.startswith(".") and PARTIAL_MARK in name:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, name))
                        removed += 1
        return removed

    def remove_empty_folders(self, prefix: str) -> None:
        for folder, _, _ in sorted(os.walk(self._path(prefix)), key=lambda w: -len(w[0])):
            with contextlib.suppress(OSError):
                os.rmdir(folder)

    def _partial(self, path: Path) -> Path:
        return path.with_name(f".{path.name}{PARTIAL_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")

    def put(self, key: str, data: bytes) -> None:
        with self.writer(key) as f:
            f.write(data)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        try:
            make_folders(path.parent)
        except OSError as e:
            msg = f"{self.describe(key)}: cannot create folder ({e.strerror})"
            raise OutputError(msg) from None
        tmp = self._partial(path)
        try:
            with open(tmp, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            fsync_dir(path.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def append(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            make_folders(path.parent)
            new = not path.exists()
            with open(path, "ab") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            msg = f"{self.describe(key)}: cannot write ({e.strerror})"
            raise OutputError(msg) from None
        if new:
            fsync_dir(path.parent)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def delete_tree(self) -> None:
        if self.root.is_dir() and not self.root.is_symlink():
            shutil.rmtree(self.root)
        elif self.root.exists() or self.root.is_symlink():
            self.root.unlink()
