"""Where bytes live: the small key/value interface every backend implements.

Keys are '/'-separated paths relative to the store's root. The converter only
ever needs these few operations, so every backend (a local folder, an S3 prefix,
an HTTP(S) URL) implements exactly them and nothing else in the package touches
files directly. What a backend can and cannot do is declared by the class
attributes below (as zarr-python's stores do), never guessed from its type.
"""

from __future__ import annotations

import contextlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from ..errors import InputError, OutputError
from ..json_values import MAX_DEPTH, json_bytes, too_deep

_TOO_DEEP = object()  # what get_json parsed when the parser itself ran out of stack

# Prefix of the temporary names atomic writes use; a crash can leave such files
# behind, and a resumed run may delete them.
PARTIAL_MARK = ".partial-"


def is_partial(name: str) -> bool:
    """Whether a file name is that of an atomic write not yet renamed into place."""
    return name.startswith(".") and PARTIAL_MARK in name


class Store(ABC):
    """A flat key/value view of a dataset's location."""

    # -- capabilities, declared by each backend ----------------------------
    #: put/writer/delete work (HTTP(S) is read-only)
    supports_writes: bool = True
    #: list_dir sees every key (an HTTP server cannot be listed)
    supports_listing: bool = True
    #: get_tail reads only the tail, not the whole object
    supports_ranged_reads: bool = False
    #: requests worth keeping in flight at once (0: no preference beyond the CPUs)
    preferred_concurrency: int = 0
    #: copy_from can put another store's objects here without their bytes
    #: passing through this process (hard links on a file system, server-side
    #: copies within an S3 bucket); can_copy_from says for which stores
    supports_copy_from: bool = False
    #: append adds bytes to the end of a key durably (a local file); object
    #: stores cannot, and their users rewrite the whole value instead
    supports_append: bool = False

    def local_path(self, key: str = "") -> Path | None:
        """The file system path of ``key`` when the store is a local folder
        (scripts and details files then name real paths); None otherwise."""
        return None

    def local_file(self, key: str) -> str | None:
        """The real path of the regular file ``key`` when the store is a local
        folder, found as its reads find it (a link out of the folder, a loop or
        a file that is not regular: UserError); None when there is no such
        file or the store is not local. What a copy without reading links."""
        return None

    def check_writable(self, key: str) -> None:
        """Raise OutputError when ``key`` could not be written or deleted for a
        reason known before trying (a local folder: a link on the way leads
        out of it). Lets all-or-nothing work refuse before its first write."""

    def exclude(self, other: Store) -> None:
        """Never read what ``other`` holds through this store (the output of a
        run, read as its input through a link): a local folder refuses links
        into it, ``follow_links`` or not."""

    def object_location(self) -> tuple[str, str, str] | None:
        """(endpoint, bucket, prefix) when the store is a prefix of an object
        store's bucket (what server-side copies need to know); None otherwise."""
        return None

    def can_copy_from(self, src: Store) -> bool:
        """Whether ``copy_from(src, ...)`` can work (only stores that declare
        ``supports_copy_from`` say yes, and only for sources they can reach
        without reading: the same file system, the same S3 bucket)."""
        return False

    def copy_from(self, src: Store, src_key: str, key: str) -> int | None:
        """Put the object ``src_key`` of ``src`` at ``key`` without reading it
        here (atomically, as ``put``); its size where the store learns it
        without another request (a server-side copy does not: 0). None when
        it was not copied: no such object in ``src``, or a copy between these
        stores turned out to be impossible (the caller then reads and writes).
        Call only when ``can_copy_from(src)``."""
        return None

    def flush(self) -> None:
        """Make every write so far durable where a write alone did not (links
        whose folders were not flushed one by one). Called once after a run."""

    def overlaps(self, other: Store) -> bool:
        """Whether the two stores share keys: the same location, or one inside
        the other (an output must never be written into its input)."""
        return False

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

    def get_range(self, key: str, start: int, length: int) -> bytes | None:
        """``length`` bytes at ``key`` from ``start`` (fewer at its end); None
        when missing. Backends override this with a ranged read (one inner
        chunk of a shard); this fallback reads everything."""
        data = self.get(key)
        return None if data is None else data[start : start + length]

    def sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """Every key below ``prefix`` (relative to the store's root) with its
        size in bytes, in no particular order: what the location holds, e.g.
        a dataset's bytes on disk. Only where ``supports_listing`` (an HTTP
        server cannot say what it holds: InputError). Backends override this
        with one listing that gives sizes; this fallback lists folder by folder
        and asks each key's size."""
        if not self.supports_listing:
            msg = f"{self.describe(prefix)}: cannot be listed, so its size is unknown"
            raise InputError(msg)
        folders = [prefix.strip("/")]
        while folders:
            folder = folders.pop()
            dirs, files = self.list_dir(folder)
            folders.extend(join(folder, d) for d in dirs)
            for name in files:
                key = join(folder, name)
                tail = self.get_tail(key, 0)
                if tail is not None:
                    yield key, tail[1]

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

    def append(self, key: str, data: bytes) -> None:
        """Add ``data`` at the end of ``key`` (created if missing) and flush it
        to the disk; only where ``supports_append``."""
        msg = f"{self.describe(key)}: this store cannot append"
        raise NotImplementedError(msg)

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
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            msg = f"{self.describe(key)}: not valid JSON ({e})"
            raise InputError(msg) from None
        except RecursionError:  # the parser's own limit, a little under Python's
            doc = _TOO_DEEP
        if doc is _TOO_DEEP or too_deep(doc):
            msg = f"{self.describe(key)}: not valid JSON (nested more than {MAX_DEPTH} levels deep: not metadata we read)"
            raise InputError(msg)
        return doc

    def put_json(self, key: str, obj: Any) -> None:
        self.put(key, json_bytes(obj))


class ReadOnlyStore(Store):
    """A store that is only read (HTTP, a view of another store): every write
    is refused in one line that says why (``read_only_reason``)."""

    supports_writes = False
    read_only_reason = "opened for reading only"

    def _read_only(self, key: str = "") -> NoReturn:
        msg = f"{self.describe(key)}: {self.read_only_reason}"
        raise OutputError(msg)

    def put(self, key: str, data: bytes) -> None:
        self._read_only(key)

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        self._read_only(key)
        yield  # pragma: no cover

    def delete(self, key: str) -> None:
        self._read_only(key)

    def delete_tree(self) -> None:
        self._read_only()


def real_path(path: str | os.PathLike[str]) -> Path:
    """``path`` absolute, its links resolved as far as they lead: unlike
    ``Path.resolve`` it never raises on a loop of links (that part is kept as
    it is; opening it then fails with an error naming it)."""
    return Path(os.path.realpath(path))


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
