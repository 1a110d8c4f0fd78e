"""OME-Zarr 0.5 -> 0.6 in place (``resave --in-place --output-version 0.6`` on
a 0.5 dataset): only the groups' ``zarr.json`` are read and rewritten; no
array's ``zarr.json``, chunk or shard is read, written or listed, so the time
does not depend on the size of the data.

The groups are found the way a reader finds them, from the top ``zarr.json``
(multiscales and their labels, plate wells and fields, bioformats2raw series),
never by listing. Each group's metadata is migrated by ``ome.v06`` and checked
by the 0.6 rules before anything is written. The bytes of every ``zarr.json``
replaced are kept, first, in a record of ours (``UPGRADE_RECORD``), so
``undo`` puts back the 0.5 metadata byte for byte, even after a killed run.
Order of writes: the record, the groups from the deepest up, the top last (it
records the upgrade in ``UPGRADE_KEY``), the record marked complete.
Everything else (the RO-Crate, files that are not ours) is left as it is.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from ..about import IN_PLACE_RECORD, INCOMPLETE_MARK, TOOL_NAME, UPGRADE_KEY, UPGRADE_RECORD, __version__
from ..errors import InputError, OutputError, UserError, option
from ..json_values import json_bytes
from ..ome import v06
from ..ome.spec import TARGET_VERSION
from ..stores.base import Store, join
from ..validation.metadata_only import ERROR, check_document
from .in_place import remove_partials_of
from .output import depth, in_parallel, now_iso

LOG = logging.getLogger("ome2024_ngff_challenge")
ABOUT = ("The OME-Zarr 0.5 group metadata replaced in place by 0.6 metadata; 'resave --in-place --undo' writes "
         "back every zarr.json listed in 'replaced' exactly as it was (and then removes this record)")
MAX_SERIES = 100_000


@dataclass
class Upgrade:
    """What an upgrade did: the groups rewritten (paths), in how long."""

    groups: list[str]
    seconds: float
    resumed: bool = False


def node(path: str) -> str:
    return join(path, "zarr.json")


def read_record(store: Store) -> dict | None:
    """Our record of an upgrade, or None; one that is not ours is an error
    (we never guess what to write back)."""
    try:
        record = store.get_json(UPGRADE_RECORD)
    except UserError:
        record = False
    if record is None:
        return None
    replaced = record.get("replaced") if isinstance(record, dict) else None
    if not isinstance(record, dict) or record.get("tool") != TOOL_NAME or not isinstance(replaced, dict) or not all(
            is_node_key(k) and isinstance(v, str) and is_group(v.encode("utf-8", "surrogatepass"))
            for k, v in replaced.items()):
        msg = f"{store.describe(UPGRADE_RECORD)}: not a record of this tool's 0.6 upgrade; nothing was changed"
        raise InputError(msg)
    return record


def is_node_key(key: object) -> bool:
    """A node's ``zarr.json`` inside the dataset (a forged record never writes elsewhere)."""
    if not isinstance(key, str) or key.startswith("/") or "\\" in key:
        return False
    parts = key.split("/")
    return parts[-1] == "zarr.json" and not any(p in ("", ".", "..") for p in parts)


def is_group(raw: bytes | None) -> bool:
    """Whether ``raw`` is the metadata of a Zarr v3 group (all an upgrade
    replaces, so all its undo writes back: never an array's)."""
    try:
        meta = json.loads(raw) if raw is not None else None
    except ValueError:
        return False
    return isinstance(meta, dict) and meta.get("zarr_format") == 3 and meta.get("node_type") == "group" and \
        isinstance(meta.get("attributes", {}), dict)


class GroupReader:
    """The groups of a 0.5 hierarchy, found from the top as a reader does;
    the raw bytes of each ``zarr.json`` (only group metadata is read)."""

    def __init__(self, store: Store):
        self.store = store
        self.raw: dict[str, bytes] = {}  # group path -> its zarr.json as stored
        self.attributes: dict[str, dict] = {}

    def read(self, paths: list[str], *, required: bool = True) -> list[str]:
        """Read these groups' metadata (a few at a time); those that exist."""
        paths = [p for p in dict.fromkeys(paths) if p not in self.raw]
        found = []
        for path, raw in zip(paths, in_parallel(self.store, lambda p: self.store.get(node(p)), paths)):
            if raw is None:
                if required:
                    msg = f"{self.store.describe(node(path))}: missing (the metadata lists it)"
                    raise InputError(msg)
                continue
            try:
                meta = json.loads(raw)
            except ValueError as e:
                msg = f"{self.store.describe(node(path))}: not valid JSON ({e})"
                raise InputError(msg) from None
            if not isinstance(meta, dict) or meta.get("zarr_format") != 3 or meta.get("node_type") != "group" or \
                    not isinstance(meta.get("attributes", {}), dict):
                msg = f"{self.store.describe(node(path))}: not a Zarr v3 group"
                raise InputError(msg)
            self.raw[path] = raw
            self.attributes[path] = meta.get("attributes", {})
            found.append(path)
        return found

    def ome(self, path: str) -> dict:
        ome = self.attributes.get(path, {}).get("ome")
        return ome if isinstance(ome, dict) else {}

    def walk(self) -> None:
        if not self.read([""], required=False):
            msg = f"{self.store.describe()}: no zarr.json: not an OME-Zarr 0.5 dataset"
            raise InputError(msg)
        ome = self.ome("")
        if "plate" in ome:
            self.plate("")
        elif "bioformats2raw.layout" in ome:
            self.bioformats2raw()
        elif "well" in ome:
            self.images([join("", p) for p in self.children(ome.get("well"), "images")])
        elif "multiscales" in ome:
            self.images([""])
        elif "labels" in ome:
            self.images([p for p in self.children(ome, "labels")])

    @staticmethod
    def children(parent: object, key: str) -> list[str]:
        items = parent.get(key) if isinstance(parent, dict) else None
        paths = [i.get("path") if isinstance(i, dict) else i for i in items or [] if isinstance(items, list)]
        return [p for p in paths if isinstance(p, str) and p and not p.startswith("/") and ".." not in p.split("/")]

    def images(self, paths: list[str]) -> None:
        """Images and, below each, its labels group and label images."""
        self.read(paths)
        labels = self.read([join(p, "labels") for p in paths], required=False)
        self.read([join(group, name) for group in labels for name in self.children(self.ome(group), "labels")])

    def plate(self, path: str) -> None:
        wells = [join(path, w) for w in self.children(self.ome(path).get("plate"), "wells")]
        self.read(wells)
        self.images([join(w, f) for w in wells for f in self.children(self.ome(w).get("well"), "images")])

    def bioformats2raw(self) -> None:
        series = None
        if self.read(["OME"], required=False):
            listed = self.ome("OME").get("series")
            series = [s for s in listed if isinstance(s, str)] if isinstance(listed, list) else None
        if series is None:  # the series numbered from 0 until one is missing
            series = []
            while len(series) < MAX_SERIES and self.read([str(len(series))], required=False):
                series.append(str(len(series)))
        self.images(series)


def check_source(store: Store, reader: GroupReader) -> None:
    """Refuse what is not a finished 0.5 dataset of its own (nothing written)."""
    where = store.describe()
    if store.exists(INCOMPLETE_MARK):
        msg = f"{where}: {INCOMPLETE_MARK} is present: its conversion did not finish; nothing was changed"
        raise InputError(msg)
    if store.exists(IN_PLACE_RECORD):
        msg = (f"{where}: has a 0.5 view added in place to 0.4 data; add the 0.6 view instead with "
               f"{option('in_place')} {option('output_version', v06.VERSION)} {option('overwrite')}; nothing was changed")
        raise InputError(msg)
    for path in reader.raw:
        ome = reader.attributes[path].get("ome")
        if ome is None:
            continue
        version = ome.get("version") if isinstance(ome, dict) else None
        if version == v06.VERSION and path == "":
            msg = f"{where}: already OME-Zarr {v06.VERSION}; nothing was changed"
            raise InputError(msg)
        if version != TARGET_VERSION and not (version is None and isinstance(ome, dict) and "labels" in ome):
            msg = f"{store.describe(node(path))}: OME-Zarr version {version!r}, not {TARGET_VERSION}: nothing was changed"
            raise InputError(msg)


def planned(store: Store, reader: GroupReader) -> dict[str, bytes]:
    """The new zarr.json of every OME group (migrated and checked), by path."""
    out: dict[str, bytes] = {}
    for path, raw in reader.raw.items():
        meta = json.loads(raw)
        attributes = meta.get("attributes", {})
        if "ome" not in attributes:
            continue  # a plain group (a plate row, the OME folder of bioformats2raw without series)
        new = {**meta, "attributes": v06.migrate_attributes(attributes, f"{store.describe(path)}: ")}
        errors = [m for level, m in check_document(new)[1] if level == ERROR]
        if errors:
            msg = f"{store.describe(node(path))}: would not be valid OME-Zarr {v06.VERSION}: {errors[0]}; nothing was changed"
            raise InputError(msg)
        out[path] = new
    return out


def upgrade(store: Store) -> Upgrade:
    """Rewrite the 0.5 group metadata of ``store`` as 0.6, keeping the bytes
    it replaces (see the module's description)."""
    started, clock = now_iso(), time.perf_counter()
    where = store.describe()
    if not store.supports_writes:
        msg = f"{where}: cannot be written (read-only); it cannot be upgraded in place"
        raise OutputError(msg)
    record = read_record(store)
    if record is not None and record.get("complete"):
        msg = (f"{where}: already upgraded to {v06.VERSION} in place on {record.get('finished')}; "
               f"{option('undo_in_place')} restores the 0.5 metadata")
        raise InputError(msg)
    resumed = record is not None
    reader = GroupReader(store)
    if resumed:  # a killed run: the 0.5 bytes are those it kept, whatever is there now
        for key, text in record["replaced"].items():
            path = key.removesuffix("zarr.json").rstrip("/")
            reader.raw[path] = text.encode("utf-8")
            reader.attributes[path] = json.loads(text).get("attributes", {})
        LOG.warning("%s: finishing an unfinished upgrade to %s", where, v06.VERSION)
    else:
        reader.walk()
        check_source(store, reader)
    new = planned(store, reader)
    if "" not in new:
        msg = f"{where}: no OME-Zarr metadata at the top (attributes.ome); nothing was changed"
        raise InputError(msg)
    replaced = {node(p): reader.raw[p].decode("utf-8") for p in sorted(new, key=depth)}
    for key in [*replaced, UPGRADE_RECORD]:  # a link out of the dataset (read with --follow-links): refused first
        store.check_writable(key)
    write_record(store, replaced, started=started, complete=False)
    if resumed:  # the temporary files of the writes a killed run had begun
        remove_partials_of(store, [*replaced, UPGRADE_RECORD])
    by_depth: dict[int, list[str]] = {}
    for path in new:
        if path:
            by_depth.setdefault(depth(path), []).append(path)
    for level in sorted(by_depth, reverse=True):
        in_parallel(store, lambda p: store.put(node(p), json_bytes(new[p])), by_depth[level])
    seconds = time.perf_counter() - clock
    top = new[""]
    top["attributes"] = {**top["attributes"], UPGRADE_KEY: {
        "from": TARGET_VERSION, "to": v06.VERSION, "tool": TOOL_NAME, "version": __version__, "started": started,
        "finished": now_iso(), "groups": len(new), "seconds": round(seconds, 3),
        "arrays_written": 0, "chunks_written": 0, "record": UPGRADE_RECORD}}
    store.put("zarr.json", json_bytes(top))
    write_record(store, replaced, started=started, complete=True)
    LOG.info("%s: upgraded to OME-Zarr %s in place: %d groups rewritten, no array touched", where, v06.VERSION,
                 len(new))
    return Upgrade(sorted(new, key=depth), time.perf_counter() - clock, resumed)


def write_record(store: Store, replaced: dict[str, str], *, started: str, complete: bool) -> None:
    store.put(UPGRADE_RECORD, json_bytes({
        "tool": TOOL_NAME, "version": __version__, "about": ABOUT, "from": TARGET_VERSION, "to": v06.VERSION,
        "started": started, "finished": now_iso() if complete else None, "complete": complete,
        "replaced": replaced,
    }))


def undo(store: Store) -> list[str]:
    """Write back every zarr.json the upgrade replaced, exactly as it was (the
    top first: the dataset stops looking upgraded), then remove the record.
    The keys written back."""
    record = read_record(store)
    if record is None:
        msg = f"{store.describe()}: not upgraded in place by this tool ({UPGRADE_RECORD} not found); nothing to undo"
        raise InputError(msg)
    replaced = record["replaced"]
    keys = sorted(replaced, key=lambda k: (k != "zarr.json", k))
    for key in keys:  # everything refused before the first write
        store.check_writable(key)
    for key, now in zip(keys, in_parallel(store, store.get, keys)):
        if not is_group(now):
            msg = (f"{store.describe(key)}: listed in {UPGRADE_RECORD} but {'missing' if now is None else 'not a group'}"
                   " now (an upgrade replaces only groups' metadata): nothing was changed")
            raise InputError(msg)
    if "zarr.json" in replaced:
        store.put("zarr.json", replaced["zarr.json"].encode("utf-8"))
    in_parallel(store, lambda k: store.put(k, replaced[k].encode("utf-8")), [k for k in keys if k != "zarr.json"])
    remove_partials_of(store, [*keys, UPGRADE_RECORD])  # a killed run's (or upgrade's) temporary files
    store.delete(UPGRADE_RECORD)
    return keys


def is_upgraded(store: Store) -> bool:
    return store.exists(UPGRADE_RECORD)

