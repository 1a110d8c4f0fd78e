"""What the ``catalog`` command lists: one row per converted OME-Zarr 0.5
dataset (made by any tool), the cost summary of their conversions, and a
static HTML page of them. (The package is not named ``catalog`` so that
``ome2024_ngff_challenge.catalog`` stays the API's function.)

``discover`` finds the datasets below a target, ``read`` reads one into a
``Row`` (through the ``validate`` walk), ``costs`` sums the conversion
statistics, ``thumbnail`` draws the smallest level, ``page`` writes the HTML.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError, UserError
from ..stores.base import Store
from ..stores.inside import check_report_path
from ..stores.sub import SubStore
from .costs import Entry, summary, summary_lines
from .discover import MAX_DEPTH, find_datasets
from .page import html_page
from .read import COLUMNS, Row, csv_text, read_dataset

LOG = logging.getLogger("ome2024_ngff_challenge")

__all__ = ["COLUMNS", "Catalog", "MAX_DEPTH", "Row", "build", "summary_path"]


@dataclass
class Catalog:
    rows: list[Row]
    summary: dict
    skipped: list[str]  # what was found but is not a converted dataset (Zarr v2), one line each
    spelling: dict | None = None  # how messages spell options (the command line sets its flags)

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]

    def records(self) -> list[dict[str, object]]:
        """Every row's columns as Python values (None: empty)."""
        return [r.values(self.spelling) for r in self.rows]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for record in self.records():
            writer.writerow({k: csv_text(v) for k, v in record.items()})
        return out.getvalue()

    def summary_lines(self) -> list[str]:
        return summary_lines(self.summary)

    def write_csv(self, path: str | Path) -> None:
        write_report(path, self.csv(), "the catalogue (CSV)")

    def write_summary(self, path: str | Path) -> None:
        write_report(path, json.dumps(self.summary, indent=2) + "\n", "the cost summary")

    def write_html(self, path: str | Path, *, title: str = "OME-Zarr datasets") -> None:
        write_report(path, html_page(self, title=title), "the catalogue page (HTML)")


def write_report(path: str | Path, text: str, what: str) -> None:
    """Write one of the catalogue's files, never into a dataset (nor over a
    folder); a failure is one line naming the file."""
    check_report_path(path, what)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        msg = f"{path}: cannot write {what} ({e.strerror or e})"
        raise OutputError(msg) from None


def summary_path(path: str | Path) -> Path:
    """Where the summary goes beside a CSV (or HTML) file: ``NAME.summary.json``
    for ``NAME.csv``."""
    path = Path(path)
    stem = path.name[: -len(path.suffix)] if path.suffix.lower() in (".csv", ".html", ".htm") else path.name
    return path.with_name(f"{stem}.summary.json")


def _datasets(target: Store) -> tuple[list[Store | Row], list[str]]:
    """The datasets of one target; a target that cannot be looked into (no
    such bucket, access denied) is one row with its error."""
    try:
        prefixes, skipped, error = find_datasets(target)
    except UserError as e:
        return [Row(url=target.describe(), error=str(e.args[0]) if e.args else type(e).__name__)], []
    if error is not None:
        return [Row(url=target.describe(), error=error)], skipped
    return [target if p == "" else SubStore(target, p) for p in prefixes], skipped


def build(targets: list[Store], *, thumbnails: bool = False, price_per_core_hour: float | None = None,
          threads: int | None = None) -> Catalog:
    """Find and read every dataset of ``targets`` (each a dataset, or a folder
    or prefix holding datasets); ``thumbnails`` for the HTML page."""
    found: list[Store | Row] = []
    skipped: list[str] = []
    for target in targets:
        items, skip = _datasets(target)
        found.extend(items)
        skipped.extend(skip)
    workers = threads or max([t.preferred_concurrency for t in targets] + [2])
    done = 0
    lock = threading.Lock()

    def one(item: Store | Row) -> Row:
        nonlocal done
        if isinstance(item, Row):
            return item
        try:
            row = read_dataset(item, thumbnails=thumbnails)
        except Exception as e:  # noqa: BLE001 - a dataset of any tool: one row, the others go on
            LOG.debug("traceback", exc_info=True)
            row = Row(url=item.describe(), error=f"{item.describe()}: unexpected {type(e).__name__}: {e}")
        with lock:
            done += 1
            LOG.info("catalog: %d of %d read: %s", done, len(found), row.url)
        return row

    with ThreadPoolExecutor(max(1, min(workers, len(found) or 1))) as pool:
        rows = list(pool.map(one, found))
    entries = [Entry(r.ok, r.codec, r.layout, r.bytes_on_disk, r.cost) for r in rows]
    return Catalog(rows, summary(entries, price_per_core_hour), skipped)
