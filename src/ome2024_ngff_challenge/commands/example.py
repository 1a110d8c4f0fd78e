"""`ome2024-ngff-challenge example OUTPUT`: a small OME-Zarr 0.4 image with a
label image, made on the spot (no network), to try the converter on."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import OutputError, option
from ..stores.local import LocalStore
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
    example (recognised by its marker file), never other data."""
    out = Path(args.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not args.output_overwrite:
            msg = f"{out}: already exists (use {option('overwrite')} to replace an earlier example)"
            raise OutputError(msg)
        if not (out / EXAMPLE_MARK).is_file():
            msg = f"{out}: exists and is not an example written by this command; refusing to delete it"
            raise OutputError(msg)
        LocalStore(out).delete_tree()
    write_example(out)
    (out / EXAMPLE_MARK).write_text("written by 'ome2024-ngff-challenge example'\n", encoding="utf-8")
    print(out)
    return 0
