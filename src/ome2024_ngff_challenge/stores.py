"""Where bytes live: a small key/value interface over a folder (and later a bucket).

Keys are '/'-separated paths relative to the store's root. The converter only
ever needs these few operations, so every backend (local disk now, S3 later)
implements exactly them; nothing else in the package touches files directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .errors import InputError, OutputError

# Prefix of the temporary names atomic writes use; a crash can leave such files
# behind, and a resumed run may delete them.
PARTIAL_MARK = ".partial-"


class Store(ABC):
    """A flat key/value view of a dataset's location."""

    @abstractmethod
    def describe(self, key: str = "") -> str:
        """The full, human-readable location of ``key`` (for messages)."""

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The bytes stored at ``key``, or None when there is no such key."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value."""

    @abstractmethod
    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        """(sub-folder names, file names) directly below ``prefix``."""

    def get_tail(self, key: str, length: int) -> tuple[bytes, int] | None:
        """The last ``length`` bytes at ``key`` (fewer if it is shorter) and its
        total size; None when missing. Backends override this with a ranged read
        (a shard's index is at its end); this fallback reads everything."""
        data = self.get(key)
        if data is None:
            return None
        return data[-length:] if length else b"", len(data)

    def remove_partials(self) -> int:
        """Delete leftovers of atomic writes that a killed run left behind (only
        where such leftovers exist: a local folder). Returns how many."""
        return 0

    def remove_empty_folders(self, prefix: str) -> None:
        """Remove folders left empty below ``prefix`` (object stores have none)."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` atomically: readers see all of it or none."""

    @abstractmethod
    def writer(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A stream whose bytes land at ``key`` atomically when the block ends
        without an exception; on an exception nothing is stored."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def delete_tree(self) -> None:
        """Delete everything below the store's root (and the root itself)."""

    def get_json(self, key: str) -> Any | None:
        """Parse the JSON at ``key``; None when missing; InputError when invalid."""
        raw = self.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            msg = f"{self.describe(key)}: not valid JSON ({e})"
            raise InputError(msg) from None

    def put_json(self, key: str, obj: Any) -> None:
        self.put(key, json_bytes(obj))


def json_bytes(obj: Any) -> bytes:
    """JSON as the Zarr world writes it: indented, UTF-8, NaN spelled as a string
    by the caller (allow_nan=False makes a slip an error, not invalid JSON)."""
    return (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


class LocalStore(Store):
    """A folder on local disk."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

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
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            msg = f"{self.describe(key)}: cannot create folder ({e.strerror})"
            raise OutputError(msg) from None
        tmp = self._partial(path)
        try:
            with open(tmp, "wb") as f:
                yield f
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def delete_tree(self) -> None:
        if self.root.is_dir() and not self.root.is_symlink():
            shutil.rmtree(self.root)
        elif self.root.exists() or self.root.is_symlink():
            self.root.unlink()
