"""The record of what a conversion writes into its output, so that
``--output-overwrite`` deletes exactly that and nothing else.

A file-name rule cannot tell our files from a user's: a conversion copies the
input's other files (a README, a thesis) as they are. So every run writes,
durably and before the first file it lists (before the in-progress marker),
``OUTPUT_RECORD``: every key it may write (each node's zarr.json, the copies,
the RO-Crate, the marker, a script per array) and, for each array, the rule of
its chunk keys (encoding, separator, grid), which is exact yet small however
many shards there are. It stays in the finished output. Replacing an output
walks all of it first: anything the record does not allow (a file, a folder,
a link, a FIFO, at any depth) refuses the whole overwrite in one line naming
it, and nothing is deleted; otherwise what was found is deleted, the root's
zarr.json first (nothing looks complete meanwhile) and the record last (a run
killed while deleting is finished by the next one).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..about import INCOMPLETE_MARK, OUTPUT_RECORD, TOOL_NAME, UPGRADE_RECORD, __version__
from ..errors import OutputError, UserError, option
from ..json_values import is_int, json_bytes
from ..ome.rocrate import METADATA_ID as CRATE
from ..stores.base import PARTIAL_MARK, Store, join

ABOUT = ("Every file a conversion by this tool writes here: 'files', and the chunk keys of each array "
         "(its grid under its chunk key encoding). '--output-overwrite' deletes only these, and refuses an output "
         "that holds anything else.")
# What a job array adds while it runs (executors/job_array.py): its list, its
# scripts and one file per finished line; removed when the output is complete.
JOBS = ".jobs"
JOB_FILES = re.compile(r"\.jobs/(jobs\.json|jobs\.sh|jobs-wave[0-9]+\.sh|done/[0-9a-f]{40}\.json)")
DIGITS = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class ArrayKeys:
    """The chunk (or shard) keys of one output array."""

    path: str
    encoding: str  # "default" ("c/0/1") or "v2" ("0.1", "0/1")
    separator: str
    grid: tuple[int, ...]

    def to_json(self) -> dict:
        return {"path": self.path, "chunk_key_encoding": self.encoding, "separator": self.separator,
                "grid": list(self.grid)}

    def holds(self, rel: str) -> bool:
        """Whether ``rel`` (a key relative to the array) is one of its chunk keys."""
        if self.encoding == "default":
            if not self.grid:
                return rel == "c"
            if not rel.startswith("c" + self.separator):
                return False
            parts = rel[2:].split(self.separator)
        else:
            if not self.grid:
                return rel == "0"
            parts = rel.split(self.separator)
        return len(parts) == len(self.grid) and all(
            DIGITS.fullmatch(p) and int(p) < n for p, n in zip(parts, self.grid))

    def may_hold_folder(self, rel: str) -> bool:
        """Whether the folder ``rel`` (relative to the array) may hold chunk keys."""
        if self.separator != "/":
            return False
        parts = rel.split("/")
        if self.encoding == "default":
            if parts[0] != "c":
                return False
            parts = parts[1:]
        return len(parts) < len(self.grid) and all(
            DIGITS.fullmatch(p) and int(p) < n for p, n in zip(parts, self.grid))


@dataclass
class OutputRecord:
    """What one conversion writes into its output."""

    plan: str | None  # the fingerprint of the plan
    files: set[str] = field(default_factory=set)
    arrays: list[ArrayKeys] = field(default_factory=list)
    _file_folders: tuple[int, set[str]] | None = field(default=None, repr=False, compare=False)
    _by_path: dict[str, list[ArrayKeys]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, plan, fingerprint: str, extra_files: Iterable[str] = ()) -> OutputRecord:
        files = {"zarr.json", CRATE, INCOMPLETE_MARK, OUTPUT_RECORD, *plan.copies, *plan.rewrites, *extra_files}
        files.update(join(g.path, "zarr.json") for g in plan.groups)
        files.update(join(a.path, "zarr.json") for a in plan.arrays)
        arrays = [ArrayKeys(a.path, *a.chunk_key_encoding, tuple(a.grid)) for a in plan.arrays]
        return cls(fingerprint, files, arrays)

    def to_json(self) -> dict:
        return {"tool": TOOL_NAME, "version": __version__, "about": ABOUT, "plan": self.plan,
                "files": sorted(self.files), "arrays": [a.to_json() for a in self.arrays]}

    @classmethod
    def from_json(cls, doc: object, where: str) -> OutputRecord:
        """The record read back; a document that is not one of ours is an error
        (we never guess what to delete)."""
        try:
            if not isinstance(doc, dict) or doc.get("tool") != TOOL_NAME:
                raise ValueError
            files = doc["files"]
            if not isinstance(files, list) or not all(is_inside(k) for k in files):
                raise ValueError
            arrays = []
            for a in doc["arrays"]:
                if not isinstance(a["grid"], list) or not all(is_int(n) for n in a["grid"]):
                    raise ValueError  # a float, a bool, Infinity: not a grid of ours
                grid = tuple(a["grid"])
                if not is_inside(a["path"] or "x") or a["chunk_key_encoding"] not in ("default", "v2") \
                        or a["separator"] not in ("/", ".") or any(n < 0 for n in grid):
                    raise ValueError
                arrays.append(ArrayKeys(a["path"], a["chunk_key_encoding"], a["separator"], grid))
            plan = doc.get("plan")
        except (ValueError, KeyError, TypeError, AttributeError):
            msg = f"{where}: not a record of this tool's output; nothing was deleted"
            raise OutputError(msg) from None
        return cls(plan if isinstance(plan, str) else None, set(files), arrays)

    # -- what the record allows --------------------------------------------

    def allows(self, key: str) -> bool:
        """Whether ``key`` is a file a run of this record writes (or the
        temporary file of such a write, left by a killed run)."""
        folder, _, name = key.rpartition("/")
        if name.startswith(".") and PARTIAL_MARK in name:
            key = join(folder, name[1:name.index(PARTIAL_MARK)])
        if key in self.files or key == UPGRADE_RECORD or JOB_FILES.fullmatch(key):  # (an upgrade to 0.6 in place)
            return True
        return any(a.holds(rel) for a, rel in self._below(key))

    def may_hold_folder(self, folder: str) -> bool:
        """Whether the folder ``folder`` may hold files of this record."""
        if folder in (JOBS, f"{JOBS}/done") or folder in self._folders():
            return True
        return any(a.may_hold_folder(rel) for a, rel in self._below(folder))

    def _folders(self) -> set[str]:
        if self._file_folders is None or self._file_folders[0] != len(self.files):
            folders = set()
            for key in self.files:
                parts = key.split("/")[:-1]
                folders.update("/".join(parts[:k]) for k in range(1, len(parts) + 1))
            self._file_folders = (len(self.files), folders)
        return self._file_folders[1]

    def _below(self, key: str):
        """(array, key relative to it) for each array ``key`` lies below: its
        ancestors looked up, so a plate of thousands of arrays costs the same."""
        if self._by_path is None or len(self._by_path) != len(self.arrays):
            self._by_path = {}
            for a in self.arrays:
                self._by_path.setdefault(a.path, []).append(a)
        parts = key.split("/")
        for k in range(len(parts)):
            for a in self._by_path.get("/".join(parts[:k]), ()):
                yield a, "/".join(parts[k:])


def is_inside(key: object) -> bool:
    """A relative key inside the output (a forged record never reaches out)."""
    if not isinstance(key, str) or not key or key.startswith("/") or "\\" in key:
        return False
    return not any(p in ("", ".", "..") for p in key.split("/"))


def write_record(out: Store, record: OutputRecord) -> None:
    out.put(OUTPUT_RECORD, json_bytes(record.to_json()))


def read_record(out: Store) -> OutputRecord | None:
    try:
        doc = out.get_json(OUTPUT_RECORD)
    except UserError:
        doc = False
    if doc is None:
        return None
    return OutputRecord.from_json(doc, out.describe(OUTPUT_RECORD))


# -- replacing an output ----------------------------------------------------


def walk(out: Store, record: OutputRecord) -> tuple[list[str], str | None]:
    """Every key of the output and the first thing in it the record does not
    allow (None when everything is ours)."""
    root = out.local_path()
    if root is not None:
        return _walk_folder(os.fspath(root), "", record)
    if not out.supports_listing:
        return [], ""
    keys = []
    for key, _ in out.sizes(""):
        if not record.allows(key):
            return keys, key
        keys.append(key)
    return keys, None


def _walk_folder(root: str, prefix: str, record: OutputRecord) -> tuple[list[str], str | None]:
    keys: list[str] = []
    folders = [prefix]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(os.path.join(root, folder) if folder else root))
        except FileNotFoundError:
            continue
        except OSError:
            return keys, folder
        for entry in entries:
            key = join(folder, entry.name)
            if entry.is_symlink():  # we never make links: a link is someone else's (and may lead out)
                return keys, key
            if entry.is_dir(follow_symlinks=False):
                if not record.may_hold_folder(key):
                    return keys, key
                folders.append(key)
            elif entry.is_file(follow_symlinks=False) and record.allows(key):
                keys.append(key)
            else:
                return keys, key
    return keys, None


def delete_recorded(out: Store, record: OutputRecord, in_parallel, log=None) -> int:
    """Delete an earlier output of ours, exactly what its record allows, or
    refuse (one line naming the first thing it does not allow) having deleted
    nothing. The number of files deleted."""
    keys, foreign = walk(out, record)
    if foreign is not None:
        if not foreign:
            msg = f"{out.describe()}: cannot be listed, so what it holds is unknown: refusing to delete it"
            raise OutputError(msg)
        msg = (f"{out.describe(foreign)}: not written by the earlier conversion into {out.describe()} (not in its "
               f"record, {OUTPUT_RECORD}): refusing to delete that output, even with {option('overwrite')}; "
               "nothing was deleted (move it away, or choose another output)")
        raise OutputError(msg)
    if log is not None:
        log(len(keys))
    first = [k for k in keys if k == "zarr.json"]
    last = [k for k in keys if k == OUTPUT_RECORD]
    for key in first:
        out.delete(key)
    in_parallel(out, out.delete, [k for k in keys if k not in ("zarr.json", OUTPUT_RECORD)])
    for key in last:
        out.delete(key)
    out.remove_empty_folders("")
    return len(keys)
