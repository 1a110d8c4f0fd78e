"""`ome2024-ngff-challenge update TARGET --rocrate-...`: add or change the RO-Crate
of a converted dataset (``api.update``) and show what it says now."""

from __future__ import annotations

import argparse
import sys

from .. import api
from .options import (
    CRATE_HINTS,
    add_common,
    add_crate_options,
    add_follow_links,
    add_location_options,
    crate_options,
    s3_options,
)

EXAMPLES = """\
examples:
  ome2024-ngff-challenge update out.zarr --cc-by --rocrate-organism=NCBI:txid10090
  ome2024-ngff-challenge update out.zarr --rocrate-modality=obo:FBbi_00000369 --rocrate-name="Mouse brain"
"""


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "update",
        help="add or change the RO-Crate metadata of a converted dataset (arrays untouched)",
        description="Add or change the license, organism, modality, name or description in the "
        "ro-crate-metadata.json of a converted dataset, without touching its arrays.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="TARGET", help="the converted dataset: a folder or s3://bucket/prefix")
    add_crate_options(parser, skip=False)
    add_location_options(parser, "output", "TARGET is in")
    add_follow_links(parser)
    add_common(parser)
    return parser


def run(args, parser: argparse.ArgumentParser) -> int:
    result = api.update(args.target, s3=s3_options(args, "output"), follow_links=args.follow_links,
                        **crate_options(args))
    print(f"{'updated' if result.written else 'unchanged (no --rocrate-... option given)'}: {result.location}")
    info = result.info
    for key in ("name", "description", "license", "organism", "modality"):
        value = getattr(info, key)
        print(f"  {key}: {value if value is not None else '-'}")
    if info.missing():
        print(f"warning: no {', '.join(info.missing())} yet: the challenge asks for them "
              f"(add {', '.join(CRATE_HINTS[m] for m in info.missing())}; "
              "find terms with 'ome2024-ngff-challenge lookup')", file=sys.stderr)
    return 0
