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
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InputError
from ..json_values import json_bytes

# Prefix of the temporary names atomic writes use; a crash can leave such files
# behind, and a resumed run may delete them.
PARTIAL_MARK = ".partial-"


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
    #: append adds bytes to the end of a key durably (a local file); object
    #: stores cannot, and their users rewrite the whole value instead
    supports_append: bool = False

    def local_path(self, key: str = "") -> Path | None:
        """The file system path of ``key`` when the store is a local folder
        (scripts and details files then name real paths); None otherwise."""
        return None

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
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            msg = f"{self.describe(key)}: not valid JSON ({e})"
            raise InputError(msg) from None

    def put_json(self, key: str, obj: Any) -> None:
        self.put(key, json_bytes(obj))


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
