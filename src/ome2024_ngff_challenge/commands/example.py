"""`ome2024-ngff-challenge example OUTPUT`: a small OME-Zarr 0.4 image with a
label image, made on the spot (no network), to try the converter on."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..about import TOOL_NAME
from ..errors import OutputError, option
from ..stores.base import real_path
from ..stores.inside import enclosing_dataset
from ..testing.samples import write_example
from .options import add_common

# Marks a folder written by this command: only such a folder is ever replaced.
EXAMPLE_MARK = ".ome2024-ngff-challenge-example"


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "example",
        help="write a small example OME-Zarr 0.4 image (with labels) to try the converter on",
        description="Write a small OME-Zarr 0.4 image with a label image, made on the spot (no network).",
    )
    parser.add_argument("output", metavar="OUTPUT", help="folder to create")
    parser.add_argument("--output-overwrite", action="store_true", help="replace OUTPUT if it exists")
    add_common(parser)
    return parser


def run(args, parser: argparse.ArgumentParser) -> int:
    """Write the example 0.4 dataset. --output-overwrite replaces only an earlier
    example: its marker lists the files it wrote, and a folder holding anything
    else (at any depth) is refused, nothing deleted."""
    out = Path(args.output)
    dataset = enclosing_dataset(real_path(out).parent)
    if dataset is not None:
        msg = f"{out}: lies inside the Zarr dataset {dataset}: the example is never written into a dataset"
        raise OutputError(msg)
    if os.path.lexists(out) and not out.is_dir():  # a file, a device, a broken link or a loop of links
        msg = f"{out}: exists and is not a folder; the example is a folder: refusing to replace it"
        raise OutputError(msg)
    if out.exists() and any(out.iterdir()):
        if not args.output_overwrite:
            msg = f"{out}: already exists (use {option('overwrite')} to replace an earlier example)"
            raise OutputError(msg)
        delete_example(out)
    try:
        write_example(out)
        files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        (out / EXAMPLE_MARK).write_text(json.dumps({"tool": TOOL_NAME, "about": "written by 'ome2024-ngff-challenge "
                                                    "example'", "files": files}, indent=1) + "\n", encoding="utf-8")
    except OSError as e:  # a full disk, a read-only folder: one line (the example is incomplete)
        msg = f"{e.filename or out}: cannot write the example ({e.strerror or e}); delete {out} and try again"
        raise OutputError(msg) from None
    print(out)
    return 0


def delete_example(out: Path) -> None:
    """Delete an earlier example: exactly the files its marker lists, or
    refuse, deleting nothing, when the folder holds anything else."""
    try:
        mark = json.loads((out / EXAMPLE_MARK).read_text(encoding="utf-8"))
        listed = set(mark["files"]) | {EXAMPLE_MARK}
    except FileNotFoundError:
        msg = f"{out}: exists and is not an example written by this command; refusing to delete it"
        raise OutputError(msg) from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        msg = (f"{out}: its {EXAMPLE_MARK} does not list the files of the example (an earlier version wrote it): "
               "refusing to delete it; delete it yourself")
        raise OutputError(msg) from None
    found = []
    for folder, dirs, names in os.walk(out):
        for name in [*dirs, *names]:
            path = Path(folder) / name
            key = path.relative_to(out).as_posix()
            if path.is_symlink() or (not path.is_dir() and (key not in listed or not path.is_file())) or (
                    path.is_dir() and not any(f.startswith(key + "/") for f in listed)):
                msg = (f"{path}: not written by the example command (not listed in {out / EXAMPLE_MARK}): "
                       "refusing to delete the folder; nothing was deleted")
                raise OutputError(msg)
            if not path.is_dir():
                found.append(path)
    for path in found:
        path.unlink()
    for folder, _, _ in sorted(os.walk(out), key=lambda w: -len(w[0])):
        if folder != os.fspath(out):
            os.rmdir(folder)
