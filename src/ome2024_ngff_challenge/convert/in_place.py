"""The OME-Zarr 0.5 view added in place (``resave --in-place``): Zarr v3
metadata written beside a 0.4 dataset's own, describing its chunks where they
are, so that not one byte of data moves.

Every group gets the ``zarr.json`` a conversion would write for it; every array
a ``zarr.json`` whose ``v2`` chunk key encoding, chunk grid, codecs (``bytes``
with the byte order, ``transpose`` for "F" order, the compressor as a
registered v3 codec) and fill value describe the stored chunks as they are
(the planner refuses the whole view when one array cannot be described, before
anything is written); and the top gets ``ro-crate-metadata.json``.

Nothing that is there is modified, renamed or deleted. What is added is listed
in a record of ours (``IN_PLACE_RECORD``) written before the first file it
lists, so ``undo`` removes exactly that, and nothing else, even after a run
that was killed. Order of writes: the record (every key about to be added),
the arrays' zarr.json, the RO-Crate, the groups' zarr.json from the deepest up,
the root's last (nothing looks complete before it), then the record marked
complete. A re-run after a kill finishes; a dataset with a complete view is
refused unless asked to replace it (then only what the record lists is
replaced).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable

from ..about import IN_PLACE_RECORD, STATS_KEY, TOOL_NAME, __version__
from ..errors import CorruptChunkError, InputError, OutputError, UserError, option
from ..json_values import json_bytes
from ..ome.rocrate import METADATA_ID as CRATE
from ..ome.rocrate import build_crate
from ..stores.base import PARTIAL_MARK, Store, join
from .output import Conversion, OutputSettings, depth, in_parallel, now_iso
from .plan import ArrayJob, Plan
from .shard_task import chunk_complete
from .stats import ArrayStats

LOG = logging.getLogger("ome2024_ngff_challenge")
ROOT = "zarr.json"
ABOUT = ("An OME-Zarr 0.5 (Zarr v3) view added in place beside the OME-Zarr 0.4 (Zarr v2) metadata; "
         "'resave --in-place --undo' removes exactly the files listed in 'added' (and then this record)")


def node_key(path: str) -> str:
    return join(path, "zarr.json")


def is_view_key(key: object) -> bool:
    """Whether ``key`` is one this module could have added: a node's zarr.json
    or the RO-Crate, inside the dataset (so a damaged or forged record can never
    make ``undo`` delete anything else)."""
    if not isinstance(key, str) or key.startswith("/") or "\\" in key:
        return False
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return False
    return key == CRATE or parts[-1] == "zarr.json"


def read_record(store: Store) -> dict | None:
    """Our record of an in-place view, or None. A record that is not ours (or
    not readable as one) is an error: we never guess what to remove."""
    try:
        record = store.get_json(IN_PLACE_RECORD)
    except UserError:
        record = False
    if record is None:
        return None
    if not isinstance(record, dict) or record.get("tool") != TOOL_NAME or not isinstance(record.get("added"), list) \
            or not all(is_view_key(k) for k in record["added"]):
        msg = f"{store.describe(IN_PLACE_RECORD)}: not a record of this tool's in-place view; nothing was changed"
        raise InputError(msg)
    return record


def check_ours(store: Store, keys: list[str]) -> None:
    """Refuse (one line, before anything is removed) a record whose files are
    not a view of ours: a view is only added to a Zarr v2 dataset, and an
    array's zarr.json only beside its .zarray (a record copied into a Zarr v3
    dataset would otherwise remove that dataset's own metadata)."""
    if not any(store.exists(name) for name in (".zgroup", ".zarray", ".zattrs")):
        msg = (f"{store.describe(IN_PLACE_RECORD)}: lies in a dataset without Zarr v2 metadata at the top, so its "
               "files are not a view added in place by this tool: nothing was changed")
        raise InputError(msg)
    nodes = [k for k in keys if k.rpartition("/")[2] == "zarr.json"]
    for key, raw in zip(nodes, in_parallel(store, store.get, nodes)):
        try:
            array = raw is not None and json.loads(raw).get("node_type") == "array"
        except (ValueError, AttributeError):
            array = False
        if array and not store.exists(join(key.rpartition("/")[0], ".zarray")):
            msg = (f"{store.describe(key)}: an array's zarr.json without a .zarray beside it: not added in place by "
                   f"this tool, though {IN_PLACE_RECORD} lists it: nothing was changed")
            raise InputError(msg)


def write_record(store: Store, added: Iterable[str], *, started: str, complete: bool,
                 finished: str | None = None) -> None:
    store.put(IN_PLACE_RECORD, json_bytes({
        "tool": TOOL_NAME, "version": __version__, "about": ABOUT, "started": started,
        "finished": (finished or now_iso()) if complete else None, "complete": complete, "added": list(added),
    }))


def remove_partials_of(store: Store, keys: Iterable[str]) -> int:
    """Delete the leftovers of atomic writes of ``keys`` that a killed run left
    behind (only a local folder has such; nothing else is touched); how many."""
    if store.local_path() is None:
        return 0
    removed = 0
    folders: dict[str, list[str]] = {}
    for key in keys:
        folder, _, name = key.rpartition("/")
        folders.setdefault(folder, []).append(f".{name}{PARTIAL_MARK}")
    for folder, prefixes in folders.items():
        _, files = store.list_dir(folder)
        for name in files:
            if name.startswith(tuple(prefixes)):
                store.delete(join(folder, name))
                removed += 1
    return removed


class InPlaceView(Conversion):
    """A plan's 0.5 metadata added to its own input (the output store is the
    input store). Executors call ``begin`` and ``finish`` as for any output."""

    def __init__(self, plan: Plan, store: Store, settings: OutputSettings):
        super().__init__(plan, store, store, settings)
        self.started = now_iso()

    def keys(self) -> list[str]:
        """Every key the view adds, in the order they are written (root last)."""
        keys = [node_key(a.path) for a in self.plan.arrays]
        if self.settings.crate is not None:
            keys.append(CRATE)
        groups = sorted(self.plan.groups, key=lambda g: -depth(g.path))
        return keys + [node_key(g.path) for g in groups]

    def begin(self, mode: str) -> bool:
        """Check that the view can be added without touching anything that is
        there, then write the record. True when an unfinished view is resumed."""
        store, overwrite = self.out, self.settings.overwrite
        where = store.describe()
        if not store.supports_writes:
            msg = f"{where}: cannot be written (read-only); a 0.5 view cannot be added in place"
            raise OutputError(msg)
        record = read_record(store)
        ours = list(record["added"]) if record is not None else []
        if record is None and store.exists(ROOT):
            msg = (f"{where}: already has a zarr.json at the top that this tool did not add (no {IN_PLACE_RECORD}): "
                   "refusing to replace it; nothing was changed")
            raise OutputError(msg)
        resume = record is not None and not record.get("complete")
        if record is not None and record.get("complete") and not overwrite:
            msg = (f"{where}: already has a 0.5 view, added in place on {record.get('finished')}; use "
                   f"{option('overwrite')} to replace it or {option('undo_in_place')} to remove it")
            raise OutputError(msg)
        keys = self.keys()
        for key in [*ours, *keys]:  # a folder that is a link out of the dataset: refused before the first write
            store.check_writable(key)
        if ours:
            check_ours(store, ours)
        mine = set(ours)
        new = [k for k in keys if k not in mine]
        conflicts = [k for k, there in zip(new, in_parallel(store, store.exists, new)) if there]
        if conflicts:
            hint = f" (keep it with {option('rocrate_skip')})" if conflicts[0] == CRATE else ""
            more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
            msg = (f"{store.describe(conflicts[0])}: exists and was not added by this tool{more}: refusing to "
                   f"replace it{hint}; nothing was added")
            raise OutputError(msg)
        # the record first: every key this run may add, before the first one is
        write_record(store, dict.fromkeys([*ours, *keys]), started=self.started, complete=False)
        remove_partials_of(store, [*ours, *keys, IN_PLACE_RECORD])
        if resume:
            LOG.warning("%s: finishing an unfinished in-place view", where)
        elif record is not None:
            LOG.warning("%s: replacing the 0.5 view added in place on %s, as asked (overwrite)", where,
                        record.get("finished"))
        if ROOT in mine:
            store.delete(ROOT)  # nothing looks complete while the view is rewritten
        for key in [k for k in ours if k not in set(keys)]:
            store.delete(key)  # an earlier view's, no longer planned
        return resume

    def finish(self, stats: list[ArrayStats] | None, started: float, threads: int) -> None:
        """The arrays' zarr.json, the RO-Crate, the groups' from the deepest up,
        the root's last; then the record says complete (and lists exactly this view)."""
        store = self.out
        stats = stats or [ArrayStats() for _ in self.plan.arrays]

        def array(item: tuple[ArrayJob, ArrayStats]) -> None:
            job, s = item
            meta = job.zarr_json({STATS_KEY: self.array_stats(job, s, started, threads)})
            store.put_json(node_key(job.path), meta)

        in_parallel(store, array, zip(self.plan.arrays, stats))
        if self.settings.crate is not None:
            store.put(CRATE, json_bytes(build_crate(self.settings.crate)))
        levels: dict[int, list] = {}
        for group in self.plan.groups:
            if group.path:
                levels.setdefault(depth(group.path), []).append(group)
        for level in sorted(levels, reverse=True):
            in_parallel(store, lambda g: store.put_json(node_key(g.path), g.zarr_json()), levels[level])
        root = next((g for g in self.plan.groups if not g.path), None)
        if root is not None:
            store.put_json(ROOT, root.zarr_json())
        write_record(store, self.keys(), started=self.started, complete=True)


def check_chunk(job: ArrayJob, index: tuple[int, ...], store: Store) -> int:
    """``--verify`` of the in-place view: the chunk at ``index`` decodes, through
    the v3 description, to exactly one whole chunk (read only). The bytes read."""
    key = join(job.path, job.source.meta.chunk_key(index))
    raw = store.get(key)
    if raw is None:
        return 0  # never written: reads as the fill value
    if not chunk_complete(job, raw):
        msg = (f"{store.describe(key)}: corrupt or truncated: it does not decode to a whole chunk "
               f"({math.prod(job.layout.chunks)} values); nothing was added")
        raise CorruptChunkError(msg)
    return len(raw)


def undo(store: Store) -> list[str]:
    """Remove the in-place view that the record lists: the root zarr.json
    first (the view stops looking complete), every other file it added, then
    the record. Nothing else is touched. The keys removed."""
    record = read_record(store)
    if record is None:
        # a run killed while it wrote its record leaves only that write's temporary file
        if remove_partials_of(store, [IN_PLACE_RECORD]):
            return []
        msg = f"{store.describe()}: no 0.5 view added in place by this tool ({IN_PLACE_RECORD} not found); nothing to undo"
        raise InputError(msg)
    added = list(dict.fromkeys(record["added"]))
    if IN_PLACE_RECORD in added:
        added.remove(IN_PLACE_RECORD)
    ordered = ([ROOT] if ROOT in added else []) + [k for k in added if k != ROOT]
    for key in ordered:  # a folder swapped for a link out of the dataset: refused before the first removal
        store.check_writable(key)
    check_ours(store, ordered)
    removed = [k for k, there in zip(ordered, in_parallel(store, store.exists, ordered)) if there]
    if ROOT in removed:
        store.delete(ROOT)
    in_parallel(store, store.delete, [k for k in removed if k != ROOT])
    remove_partials_of(store, [*added, IN_PLACE_RECORD])
    store.delete(IN_PLACE_RECORD)
    return removed


def note_added(store: Store, key: str) -> None:
    """Add ``key`` (a file written later into an in-place view, e.g. the RO-Crate
    by ``update``) to the record, so that undo removes it too."""
    record = read_record(store)
    if record is not None and key not in record["added"]:
        write_record(store, [*record["added"], key], started=record.get("started") or now_iso(),
                     complete=bool(record.get("complete")), finished=record.get("finished"))
