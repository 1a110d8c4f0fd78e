"""The details file: every array's planned layout as JSON, written by
``write_details`` (a view of the plan) and read back by ``details_by_path``
(a layout request) after the user has reviewed or edited it."""

from __future__ import annotations

import contextlib
import os
import stat
from typing import TYPE_CHECKING

from ..errors import OutputError, UserError, option
from ..json_values import json_bytes
from ..stores.base import Store
from ..stores.inside import check_report_path
from ..stores.local import LocalStore

if TYPE_CHECKING:  # the plan reads details files; it is only named here
    from .plan import Plan


def write_details(plan: Plan, out: Store, overwrite: bool) -> None:
    """Write the plan's layouts to ``out``, which names the JSON file itself."""
    path = out.local_path()
    if path is not None:
        if path.is_dir():
            msg = f"{path}: is a folder; {option('write_details')} writes a JSON file"
            raise OutputError(msg)
        check_report_path(path, f"the details file ({option('write_details')})")
        with contextlib.suppress(OSError):
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):  # a device or FIFO would be replaced by a file
                msg = f"{path}: not a regular file (a device, FIFO or socket); {option('write_details')} writes a file"
                raise OutputError(msg)
        if path.exists() and not overwrite:
            msg = f"{path}: exists (use {option('overwrite')} to replace it)"
            raise OutputError(msg)
        LocalStore(path.parent).put(path.name, json_bytes(plan.details()))
        return
    # an object store: OUTPUT is the key of the JSON object
    if any(out.list_dir("")):
        msg = f"{out.describe()}: is a folder; {option('write_details')} writes a JSON file"
        raise OutputError(msg)
    if out.exists("") and not overwrite:
        msg = f"{out.describe()}: exists (use {option('overwrite')} to replace it)"
        raise OutputError(msg)
    out.put("", json_bytes(plan.details()))


def details_by_path(details, paths: list[str]) -> dict[str, tuple[tuple[int, ...], tuple[int, ...] | None]]:
    """Match a details JSON (any of its forms) to the plan's arrays.

    Forms: a list of {"shape", "chunks", "shards"} in array order (single image);
    an object {array path: {...}}; a list of one-key objects {path: {...}} (the
    form older tools wrote, where the key may be a full input path ending with
    the array path).
    """

    def entry(value, where: str):
        if not isinstance(value, dict) or "chunks" not in value:
            msg = f"{option('details')}: {where}: expected an object with 'chunks' and 'shards'"
            raise UserError(msg)
        try:
            chunks = tuple(int(v) for v in value["chunks"])
            shards = value.get("shards")
            shards = None if shards is None else tuple(int(v) for v in shards)
        except (TypeError, ValueError):
            msg = f"{option('details')}: {where}: 'chunks' and 'shards' must be lists of integers"
            raise UserError(msg) from None
        if any(v <= 0 for v in chunks + (shards or ())):
            msg = f"{option('details')}: {where}: sizes must be positive"
            raise UserError(msg)
        return chunks, shards

    def match(key: str) -> str | None:
        key = key.strip("/")
        if key in paths:
            return key
        hits = [p for p in paths if key.endswith("/" + p)]
        return max(hits, key=len) if hits else None

    result = {}
    if isinstance(details, dict):
        items = list(details.items())
    elif isinstance(details, list) and all(isinstance(d, dict) and "chunks" in d for d in details):
        if len(details) != len(paths):
            msg = (
                f"{option('details')}: lists {len(details)} levels but the input has {len(paths)} arrays; "
                "use the form {\"array path\": {...}} for datasets with several images"
            )
            raise UserError(msg)
        return {p: entry(d, f"entry {i}") for i, (p, d) in enumerate(zip(paths, details))}
    elif isinstance(details, list) and all(isinstance(d, dict) and len(d) == 1 for d in details):
        items = [next(iter(d.items())) for d in details]
    else:
        msg = f"{option('details')}: expected a list of {{\"shape\", \"chunks\", \"shards\"}} or an object keyed by array path"
        raise UserError(msg)
    for key, value in items:
        path = match(str(key))
        if path is None:
            msg = f"{option('details')}: '{key}' is not an array of the input"
            raise UserError(msg)
        result[path] = entry(value, str(key))
    return result
