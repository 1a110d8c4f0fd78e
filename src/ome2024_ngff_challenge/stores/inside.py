"""Whether a local file we are asked to write (a catalogue, a summary, a page,
a details file, a collection's catalog.csv) would land inside a Zarr dataset.

Such files are reports about datasets, never part of one: written inside a
dataset they would replace its metadata (``catalog --html out.zarr/zarr.json``)
or add a file its owner did not put there. A folder is a dataset (or a part of
one) when it holds Zarr metadata or one of this tool's records.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..about import IN_PLACE_RECORD, INCOMPLETE_MARK, OUTPUT_RECORD
from ..errors import OutputError
from .base import real_path

DATASET_FILES = ("zarr.json", ".zgroup", ".zarray", ".zattrs", INCOMPLETE_MARK, OUTPUT_RECORD, IN_PLACE_RECORD)


def enclosing_dataset(folder: str | os.PathLike[str]) -> Path | None:
    """The nearest folder at or above ``folder`` (links resolved) that is a
    Zarr node or holds one of our records; None when there is none."""
    start = real_path(folder)
    for candidate in (start, *start.parents):
        if any(os.path.isfile(candidate / name) for name in DATASET_FILES):
            return candidate
    return None


def check_report_path(path: str | os.PathLike[str], what: str) -> None:
    """Refuse, in one line, to write the file ``what`` at ``path`` when it is a
    folder or lies inside a dataset."""
    target = Path(path)
    if target.is_dir():
        msg = f"{target}: is a folder; {what} is a file"
        raise OutputError(msg)
    # the file a link leads to is the one written
    dataset = enclosing_dataset(real_path(target).parent)
    if dataset is not None:
        msg = (f"{target}: lies inside the Zarr dataset {dataset}: {what} is never written into a dataset "
               "(it would add to or replace the dataset's files); choose a path outside it")
        raise OutputError(msg)
