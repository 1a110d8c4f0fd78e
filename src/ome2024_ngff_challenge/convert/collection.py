"""A collection of datasets converted in one run: the list (a CSV file with an
``input`` column) read and checked before anything is written, each row's
output named, and the catalogue (``catalog.csv`` in the output root) kept
current as each dataset ends, so that a run that dies loses no finished row.

Each row is appended and flushed as its dataset ends (rewritten whole, one
PUT, where the store cannot append), and the file is rewritten atomically in
the list's order at the end. A re-run reads it back: a dataset whose output is
complete (its root zarr.json and no in-progress marker) is skipped and keeps
what its row said.
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..about import INCOMPLETE_MARK, STATS_KEY
from ..csv_cells import read_cell, safe_cell
from ..errors import DiskFullError, OutputError, UserError, option
from ..ome.rocrate import METADATA_ID as CRATE
from ..ome.rocrate import CrateInfo, crate_fields, read_crate_info
from ..stores.base import Store, join, real_path
from ..stores.open import is_remote, read_location
from .output import Conversion, now_iso
from .plan import Plan
from .stats import ArrayStats

CATALOG = "catalog.csv"
CRATE_COLUMNS = ("name", "description", "license", "organism", "modality")
LIST_COLUMNS = ("input", "output", *CRATE_COLUMNS)
CATALOG_COLUMNS = (
    "input", "url", "status", "error", "written", "shape", "chunks", "shards", "dimension_names",
    "license", "name", "description", "organismId", "fbbiId", "bytes_read", "bytes_written", "elapsed",
)
DONE, FAILED, SKIPPED = "done", "failed", "skipped"


@dataclass
class Entry:
    """One dataset of the list."""

    row: int  # 1 for the first row after the header
    line: int  # its line in the file (for messages)
    input: str  # as the row gives it, a relative local path resolved against the list's folder
    output: str  # relative to the output root, normalised
    crate: dict = field(default_factory=dict)  # the RO-Crate fields the row sets (checked)


class ListError(UserError):
    """The list of a collection is not usable (nothing is converted)."""


def load_list(inputs, *, relative: bool = True, **location) -> list[Entry]:
    """The checked entries of a collection: ``inputs`` is a CSV file (a path or
    URL, read with the S3 ``location`` options), or rows (mappings of column
    to value, or plain input locations). With ``relative``, a file's relative
    local inputs are taken from its folder."""
    if isinstance(inputs, (str, os.PathLike)):
        where = os.fspath(inputs)
        try:
            text = read_location(where, role="input", **location).decode("utf-8")
        except UnicodeDecodeError:
            raise ListError(f"{where}: not a CSV file (not UTF-8 text)") from None
        base = os.path.dirname(os.path.abspath(where)) if relative and not is_remote(where) else None
        return read_list(text, where, base=base)
    rows = [(None, {"input": r} if isinstance(r, str) else r) for r in inputs]
    return entries(rows, "inputs")


def read_list(text: str, where: str, *, base: str | None = None) -> list[Entry]:
    """The entries of a list file's text (``where`` names it in messages;
    ``base``: the folder relative local inputs are taken from)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader, None)
        while header is not None and not any(c.strip() for c in header):
            header = next(reader, None)
        if header is None:
            msg = f"{where}: empty; expected a header row with an 'input' column, then one row per dataset"
            raise ListError(msg)
        columns = [c.strip().lower() for c in header]
        rows = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(columns):
                msg = f"{where}: line {reader.line_num}: {len(cells)} cells for {len(columns)} columns"
                raise ListError(msg)
            rows.append((reader.line_num, dict(zip(columns, cells))))
    except csv.Error as e:
        msg = f"{where}: line {reader.line_num}: not valid CSV ({e})"
        raise ListError(msg) from None
    check_columns(columns, where)
    return entries(rows, where, base=base)


def check_columns(columns: Iterable[str], where: str) -> None:
    columns = list(columns)
    if "input" not in columns:
        msg = f"{where}: no 'input' column in the header row (columns: {', '.join(columns) or 'none'})"
        raise ListError(msg)
    unknown = [c for c in columns if c and c not in LIST_COLUMNS]  # a blank header cell: ignored
    if unknown:
        msg = f"{where}: unknown column {unknown[0]!r} (expected: {', '.join(LIST_COLUMNS)})"
        raise ListError(msg)
    twice = sorted({c for c in columns if c and columns.count(c) > 1})
    if twice:
        msg = f"{where}: column {twice[0]!r} appears twice in the header row"
        raise ListError(msg)


def entries(rows: Iterable[tuple[int | None, Mapping[str, str | None]]], where: str, *,
            base: str | None = None) -> list[Entry]:
    """Check the rows ((line or None, {column: value})) and name every output:
    the ``output`` given, or the input's last path component made unique."""
    result: list[Entry] = []
    explicit: dict[str, Entry] = {}
    for n, (line, row) in enumerate(rows, 1):
        if isinstance(row, Mapping):
            check_columns([k.lower() for k in row], where)
        values = {k.lower(): (v or "").strip() for k, v in row.items()}
        entry = Entry(n, line or n, values.get("input", ""), "")
        at = f"{where}: {place(entry)}"
        if not entry.input:
            raise ListError(f"{at}: no input")
        if base is not None and not is_remote(entry.input) and not os.path.isabs(entry.input):
            entry.input = os.path.join(base, entry.input)
        try:
            entry.crate = crate_fields(**{k: values[k] for k in CRATE_COLUMNS if values.get(k)})
        except UserError as e:
            raise ListError(f"{at}: {e.render()}") from None
        if values.get("output"):
            entry.output = checked_output(values["output"], at)
            key = entry.output.lower()
            if key in explicit:
                raise ListError(f"{at}: output {entry.output!r} is also the output of {place(explicit[key])}")
            explicit[key] = entry
        result.append(entry)
    if not result:
        raise ListError(f"{where}: no datasets listed (a header row with an 'input' column, then one row per dataset)")
    taken = set(explicit)
    for entry in result:
        if not entry.output:
            entry.output = unique_name(default_name(entry.input, f"{where}: {place(entry)}"), taken)
            taken.add(entry.output.lower())
    check_nesting(result, where)
    return result


def place(entry: Entry) -> str:
    return f"row {entry.row} (line {entry.line})" if entry.line != entry.row else f"row {entry.row}"


def checked_output(text: str, at: str) -> str:
    """An output path relative to the output root, normalised; refused when it
    leaves the root."""
    path = text.replace("\\", "/")
    if path.startswith("/") or "://" in path or re.match(r"^[A-Za-z]:", path):
        raise ListError(f"{at}: output {text!r} must be a path relative to the output root")
    norm = posixpath.normpath(path)
    if norm in (".", "..") or norm.startswith("../"):
        raise ListError(f"{at}: output {text!r} is outside the output root")
    if norm.lower() == CATALOG:
        raise ListError(f"{at}: output {text!r} is the name of the catalogue")
    return norm


def default_name(location: str, at: str) -> str:
    name = location.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    if not name or name in (".", "..") or name.endswith(":"):
        raise ListError(f"{at}: cannot name the output after input {location!r}; give it an 'output'")
    return name


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext`` (-3, ...) when it is taken (case aside)."""
    if name.lower() not in taken and name.lower() != CATALOG:
        return name
    stem, dot, ext = name[1:].partition(".") if name.startswith(".") else name.partition(".")
    stem = "." + stem if name.startswith(".") else stem
    n = 2
    while f"{stem}-{n}{dot}{ext}".lower() in taken:
        n += 1
    return f"{stem}-{n}{dot}{ext}"


def check_nesting(result: list[Entry], where: str) -> None:
    """No output may lie inside another (a dataset would hold a foreign folder)."""
    owners = {e.output.lower(): e for e in result}
    for entry in result:
        parts = entry.output.lower().split("/")
        for k in range(1, len(parts)):
            outer = owners.get("/".join(parts[:k]))
            if outer is not None:
                msg = (f"{where}: {place(entry)}: output {entry.output!r} is inside the output of "
                       f"{place(outer)} ({outer.output!r})")
                raise ListError(msg)


def root_inside(root: Store, src: Store) -> bool:
    """Whether the output root is the input ``src`` or inside it (an input
    inside the root is fine: the outputs are checked one by one)."""
    if not root.overlaps(src):
        return False
    a, b = root.local_path(), src.local_path()
    if a is not None and b is not None:
        a, b = real_path(a), real_path(b)
        return a == b or b in a.parents
    r, s = root.describe().rstrip("/"), src.describe().rstrip("/")
    return r == s or r.startswith(s + "/")


# -- what the catalogue says of a dataset -----------------------------------


def is_complete(out: Store) -> bool:
    """A finished output: its root zarr.json, and no in-progress marker."""
    return out.exists("zarr.json") and not out.exists(INCOMPLETE_MARK)


def level0_path(attributes_of: Callable[[str], dict | None]) -> str | None:
    """The path of the first image's full-resolution array (through a plate's
    first well and field, or a bioformats2raw layout's first series);
    ``attributes_of(path)``: a group's attributes, or None."""
    path = ""
    try:
        for _ in range(4):
            ome = (attributes_of(path) or {}).get("ome") or {}
            if ome.get("multiscales"):
                return join(path, ome["multiscales"][0]["datasets"][0]["path"])
            if ome.get("plate"):
                path = join(path, ome["plate"]["wells"][0]["path"])
            elif ome.get("well"):
                path = join(path, ome["well"]["images"][0]["path"])
            elif "bioformats2raw.layout" in ome:
                path = join(path, "0")
            else:
                return None
    except (KeyError, IndexError, TypeError, AttributeError, UserError):
        return None
    return None


def ints(values) -> str:
    return ",".join(str(int(v)) for v in values) if values is not None else "none"


def plan_summary(plan: Plan) -> dict[str, str]:
    """Shape, chunks, shards and dimension names of the first image's level 0."""
    groups = {g.path: g.attributes for g in plan.groups}
    arrays = {a.path: a for a in plan.arrays}
    job = arrays.get(level0_path(groups.get) or "", plan.arrays[0] if plan.arrays else None)
    if job is None:
        return {}
    return {"shape": ints(job.shape), "chunks": ints(job.layout.chunks), "shards": ints(job.layout.shards),
            "dimension_names": ",".join(job.dimension_names or [])}


def crate_summary(info: CrateInfo | None) -> dict[str, str]:
    if info is None:
        return {}
    return {"license": info.license or "", "name": info.name or "", "description": info.description or "",
            "organismId": info.organism or "", "fbbiId": info.modality or ""}


def cost_summary(stats: list[ArrayStats], started: float, stopped: float) -> dict[str, str]:
    return {"bytes_read": str(sum(s.bytes_read for s in stats)),
            "bytes_written": str(sum(s.bytes_written for s in stats)),
            "elapsed": f"{stopped - started:.3f}"}


def finished_summary(out: Store, src: Store) -> dict[str, str]:
    """What a finished output says of itself (for a dataset skipped with no row
    in an earlier catalogue): its first image's level 0 and its RO-Crate.
    OutputError when its statistics say it was converted from another input."""
    def attributes(path: str) -> dict | None:
        meta = out.get_json(join(path, "zarr.json"))
        return meta.get("attributes") if isinstance(meta, dict) else None

    row: dict[str, str] = {}
    source = path = None
    try:
        path = level0_path(attributes)
        meta = out.get_json(join(path, "zarr.json")) if path is not None else None
        if isinstance(meta, dict) and meta.get("node_type") == "array":
            shards = meta["chunk_grid"]["configuration"]["chunk_shape"]
            chunks = next((c["configuration"]["chunk_shape"] for c in meta.get("codecs", [])
                           if c.get("name") == "sharding_indexed"), None)
            row.update(shape=ints(meta["shape"]), chunks=ints(chunks or shards),
                       shards=ints(shards if chunks else None),
                       dimension_names=",".join(str(d) for d in meta.get("dimension_names") or []))
            stats = (meta.get("attributes") or {}).get(STATS_KEY) or {}
            row["written"] = str(stats.get("stop") or "")
            source = stats.get("input")
        crate = out.get_json(CRATE)
        if crate is not None:
            row.update(crate_summary(read_crate_info(crate)))
    except (KeyError, TypeError, AttributeError, UserError):
        pass  # a summary is a courtesy: what could be read is shown
    if isinstance(source, str) and path is not None and source != src.describe(path):
        msg = (f"{out.describe()}: already holds the conversion of another input ({source}); "
               f"use {option('overwrite')} to replace it")
        raise OutputError(msg)
    return row


def error_text(error: Exception, input: str, url: str, spelling: Mapping[str, str] | None = None) -> str:
    """One line naming the dataset and what went wrong (``spelling``: how
    options are named, as errors.UserError.render)."""
    if isinstance(error, UserError):
        text = error.render(spelling)
    else:
        text = f"unexpected {type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if input in text or url in text else f"{input}: {text}"


# -- the catalogue file -----------------------------------------------------------


class Catalog:
    """``catalog.csv`` in the output root: one row per dataset of the run.

    Rows are written by a thread of their own, so the run never waits for
    the disk: on a local disk each row is appended and flushed (fsync) as its
    dataset ends; on an object store, which cannot append, the whole file is
    rewritten (one PUT), the rows that ended meanwhile together. The file
    starts as the earlier run's catalogue (so that a crash loses none of its
    rows), and ends rewritten atomically in the list's order, then the rows of
    other outputs of the same root. Reading it, the last row of an output wins.
    """

    def __init__(self, root: Store, inputs: list[str], urls: list[str]):
        self.root = root
        self.inputs = inputs
        self.urls = urls
        self.rows: list[dict[str, str] | None] = [None] * len(urls)
        mine = set(urls)
        earlier = {r["url"]: r for r in self.read_earlier()}  # the last row of each output
        self.earlier = {url: r for url, r in earlier.items() if url in mine}
        self.others = [r for url, r in earlier.items() if url not in mine]
        self.pending: list[dict[str, str]] = []
        self.closing = False
        self.failure: BaseException | None = None
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    @property
    def where(self) -> str:
        return self.root.describe(CATALOG)

    def read_earlier(self) -> list[dict[str, str]]:
        """The rows of the catalogue in the output root (a last line cut short
        by a crash is left out)."""
        try:
            raw = self.root.get(CATALOG)
        except UserError:
            return []
        if raw is None:
            return []
        rows = []
        try:
            text = raw.decode("utf-8", errors="replace")
            if not text.endswith("\n"):
                text = text[: text.rfind("\n") + 1]
            for r in csv.DictReader(io.StringIO(text)):
                if r.get("url") and r.get("status") in (DONE, FAILED, SKIPPED):
                    rows.append({c: read_cell(r.get(c) or "") for c in CATALOG_COLUMNS})
        except csv.Error:
            pass
        return rows

    def earlier_row(self, input: str, url: str) -> dict[str, str] | None:
        """The row an earlier run wrote for this dataset when it was converted then."""
        row = self.earlier.get(url)
        return row if row is not None and row["input"] == input and row["status"] in (DONE, SKIPPED) else None

    # -- writing -------------------------------------------------------------------

    def __enter__(self) -> Catalog:
        try:
            self.root.put(CATALOG, self.csv_bytes())
        except DiskFullError as e:
            raise self.full(e) from None
        self.thread = threading.Thread(target=self.write_rows, name="catalog", daemon=True)
        self.thread.start()
        return self

    def record(self, index: int, status: str, *, conversion: Conversion | None = None,
               stats: list[ArrayStats] | None = None, started: float = 0.0, stopped: float = 0.0,
               found: Mapping[str, str] | None = None, error: str | None = None) -> dict[str, str]:
        """The row of the dataset ``index`` (what its plan, its statistics, its
        finished output (``found``, skipped) or an earlier row say), handed to
        the writing thread."""
        input, url = self.inputs[index], self.urls[index]
        row = {"input": input, "url": url, "status": status, "error": error or ""}
        if conversion is not None:
            row.update(plan_summary(conversion.plan))
            row.update(crate_summary(conversion.settings.crate))
        if status == DONE and stats is not None:
            row.update(cost_summary(stats, started, stopped), written=now_iso(stopped))
        elif status == SKIPPED:
            known = self.earlier_row(input, url) or found or {}
            row.update({k: v for k, v in known.items() if k not in ("input", "url", "status", "error")})
        row = {c: str(row.get(c) or "") for c in CATALOG_COLUMNS}
        with self.cond:
            if self.failure is not None:
                raise self.failure
            self.rows[index] = row
            self.pending.append(row)
            self.cond.notify()
        return row

    def write_rows(self) -> None:
        while True:
            with self.cond:
                while not self.pending and not self.closing:
                    self.cond.wait()
                if not self.pending:
                    return
                rows, self.pending = self.pending, []
                whole = None if self.root.supports_append else self.csv_bytes()
            try:
                if whole is None:
                    self.root.append(CATALOG, csv_lines(rows))
                else:
                    self.root.put(CATALOG, whole)
            except BaseException as e:  # noqa: BLE001 - raised in the run's thread
                with self.cond:
                    self.failure = self.full(e) if isinstance(e, DiskFullError) else e
                return

    def full(self, error: DiskFullError) -> DiskFullError:
        """The one line for a catalogue that found no space: a re-run resumes
        (its finished datasets are skipped, their rows kept)."""
        msg = (f"{self.where}: no space left on the device for the collection's catalogue: free some space, then "
               "run the same command again: it resumes (finished datasets are skipped)")
        return DiskFullError(msg, self.where)

    def __exit__(self, *exc) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify()
        if self.thread is not None:
            self.thread.join()
        if self.failure is None:
            try:
                self.root.put(CATALOG, self.csv_bytes())
            except DiskFullError as e:
                raise self.full(e) from None
        elif exc[0] is None:
            raise self.failure

    def csv_bytes(self) -> bytes:
        """The whole file: this run's rows in the list's order (an earlier row
        for a dataset that has not ended yet), then the other outputs' rows."""
        rows = [r if r is not None else self.earlier.get(url) for r, url in zip(self.rows, self.urls)]
        return csv_lines([r for r in rows if r is not None] + self.others, header=True)


def csv_lines(rows: Iterable[Mapping[str, str]], *, header: bool = False) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, CATALOG_COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows({c: safe_cell(v) if isinstance(v, str) else v for c, v in row.items()} for row in rows)
    return text.getvalue().encode("utf-8")
