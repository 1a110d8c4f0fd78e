"""`ome2024-ngff-challenge validate TARGET [--against SOURCE]`: the report of
``api.validate``, one line per problem (or JSON), exit status 0 only when valid."""

from __future__ import annotations

import argparse
import json
import sys

from .. import api
from .options import SPELLING, add_common, add_location_options, s3_options

EXAMPLES = """\
examples:
  ome2024-ngff-challenge validate out.zarr
  ome2024-ngff-challenge validate out.zarr --against in.zarr      # and compare every voxel
  ome2024-ngff-challenge validate https://example.org/data/image.zarr --json
  ome2024-ngff-challenge validate http://127.0.0.1:8000/out.zarr   # served by 'ome2024-ngff-challenge serve'

For an http(s):// TARGET, what web viewers need of the server is checked too: a
ranged GET of a shard answered 206 with the right bytes, suffix ranges, HEAD with
Content-Length, Access-Control-Allow-Origin on every answer, a CORS preflight that
allows Range, and 404 for a missing key; each missing piece is a warning naming the
viewers it breaks.
  ome2024-ngff-challenge validate --input-bucket=BUCKET --input-endpoint=https://HOST --input-anon path/image.zarr
"""


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "validate",
        help="check that a converted dataset is valid OME-Zarr 0.5 with the challenge's RO-Crate",
        description="Check an OME-Zarr 0.5 dataset (local path, S3 or HTTP(S) URL): every group and array "
        "against the 0.5 rules, and its RO-Crate; over HTTP(S), also what web viewers need of the server. "
        "Exit 0 only when valid.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="TARGET", help="the OME-Zarr 0.5 dataset: a folder, s3://bucket/prefix or URL")
    parser.add_argument("--against", metavar="SOURCE",
                          help="also compare every voxel with this OME-Zarr 0.4 source (folder, s3:// or URL)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--timeout", type=float, default=-1.0, metavar="SECONDS",
                        help="the longest the requests to a remote TARGET or SOURCE may take in all (default "
                        "$OME2024_NGFF_CHALLENGE_VALIDATE_TIMEOUT, else 600; none with --against)")
    add_location_options(parser, "input", "read TARGET from")
    add_common(parser)
    return parser


def run(args, parser: argparse.ArgumentParser) -> int:
    report = api.validate(args.target, against=args.against, s3=s3_options(args, "input"), timeout=args.timeout)
    against = args.against is not None
    report.spelling = SPELLING
    if args.json:
        json.dump(report.to_json(against), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for level, entries in (("error", report.errors), ("warning", report.warnings)):
            for entry in entries:
                print(f"{level}: {entry['location']}: {entry['message']}")
        print(report.summary(against))
    return 0 if report.valid else 1
