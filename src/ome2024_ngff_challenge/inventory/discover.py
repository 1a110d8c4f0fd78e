"""Which datasets a target holds: the target itself when it has a top-level
``zarr.json``; otherwise every folder below it that has one (or holds an
unfinished conversion), looking through folders that are not datasets down to
``MAX_DEPTH`` levels. Nothing is looked for inside a dataset. Zarr v2 datasets
(OME-Zarr 0.4, not converted) are skipped with a line saying so; hidden
folders are not entered."""

from __future__ import annotations

from ..about import INCOMPLETE_MARK
from ..errors import UserError
from ..stores.base import Store, join

MAX_DEPTH = 4
DATASET_FILES = ("zarr.json", INCOMPLETE_MARK)
V2_FILES = (".zgroup", ".zattrs", ".zarray")


def find_datasets(store: Store, max_depth: int = MAX_DEPTH) -> tuple[list[str], list[str], str | None]:
    """(dataset prefixes, in sorted order; "" for the target itself), (skipped
    folders, one line each), and an error when the target is no dataset and
    holds none."""
    if any(store.exists(name) for name in DATASET_FILES):
        return [""], [], None
    if not store.supports_listing:
        return [""], [], None  # the walk says what is missing at the URL
    found: list[str] = []
    skipped: list[str] = []

    def visit(prefix: str, depth: int) -> None:
        try:
            dirs, files = store.list_dir(prefix)
        except UserError as e:  # a folder below that may not be read (a link out, a loop): said, the rest go on
            if not prefix:
                raise
            skipped.append(f"{e} (skipped)")
            return
        if prefix and any(name in files for name in DATASET_FILES):
            found.append(prefix)
            return
        if prefix and any(name in files for name in V2_FILES):
            skipped.append(f"{store.describe(prefix)}: skipped: Zarr v2 (OME-Zarr 0.4 or older), not a converted dataset")
            return
        if depth >= max_depth:
            return
        for name in dirs:
            if not name.startswith("."):
                visit(join(prefix, name), depth + 1)

    visit("", 0)
    if found:
        return found, skipped, None
    where = store.describe()
    if skipped:
        return [], skipped, f"{where}: holds no converted dataset (only Zarr v2 ones)"
    dirs, files = store.list_dir("")
    if not dirs and not files:
        return [], [], f"{where}: does not exist or is empty"
    return [], [], (f"{where}: no zarr.json, and no dataset with one in the folders below it "
                    f"(looked {max_depth} levels down)")
