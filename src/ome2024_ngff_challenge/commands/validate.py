"""`ome2024-ngff-challenge validate TARGET [--against SOURCE]`: the report of
``api.validate``, one line per problem (or JSON), exit status 0 only when valid."""

from __future__ import annotations

import argparse
import json
import sys

from .. import api
from ..errors import UserError
from ..stores.confined import read_small_file
from ..stores.remote import max_metadata_bytes
from ..validation import metadata_only
from .options import SPELLING, add_common, add_follow_links, add_location_options, s3_options

EXAMPLES = """\
examples:
  ome2024-ngff-challenge validate out.zarr
  ome2024-ngff-challenge validate out.zarr --against in.zarr      # and compare every voxel
  ome2024-ngff-challenge validate https://example.org/data/image.zarr --json
  ome2024-ngff-challenge validate http://127.0.0.1:8000/out.zarr   # served by 'ome2024-ngff-challenge serve'
  ome2024-ngff-challenge validate --metadata-only image.zarr/zarr.json   # one document, 0.5 or 0.6, no arrays

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
        "against the 0.5 rules (a 0.6 dataset: the 0.6 rules and schemas), and its RO-Crate; over HTTP(S), "
        "also what web viewers need of the server. "
        "Exit 0 only when valid.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="TARGET", help="the OME-Zarr 0.5 dataset: a folder, s3://bucket/prefix or URL")
    parser.add_argument("--against", metavar="SOURCE",
                          help="also compare every voxel with this OME-Zarr 0.4 source (folder, s3:// or URL)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--metadata-only", action="store_true",
                        help="TARGET is one metadata file (a group's zarr.json, or its attributes): check it against "
                        "the OME-Zarr 0.5 or 0.6 rules (by its ome.version) without any other node; exit 0 valid, "
                        "1 invalid, 2 unreadable")
    parser.add_argument("--timeout", type=float, default=-1.0, metavar="SECONDS",
                        help="the longest the requests to a remote TARGET or SOURCE may take in all (default "
                        "$OME2024_NGFF_CHALLENGE_VALIDATE_TIMEOUT, else 600; none with --against)")
    add_location_options(parser, "input", "read TARGET from")
    add_follow_links(parser)
    add_common(parser)
    return parser


def run_metadata_only(args) -> int:
    try:  # a FIFO or a device is never read; a document is bounded as any metadata document
        text = read_small_file(args.target, max_metadata_bytes(), "a metadata document")
    except UserError as e:
        print(e, file=sys.stderr)
        return 2
    version, problems = metadata_only.check_text(text)
    errors = [m for level, m in problems if level == metadata_only.ERROR]
    warnings = [m for level, m in problems if level != metadata_only.ERROR]
    why = metadata_only.unavailable(version) if version else None
    if why is not None:
        warnings.append(f"{why}: the official OME-Zarr {version} JSON schemas were not applied (the other rules were)")
    if args.json:
        json.dump({"valid": not errors, "version": version, "errors": errors, "warnings": warnings}, sys.stdout,
                  indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for level, messages in (("error", errors), ("warning", warnings)):
            for message in messages:
                print(f"{level}: {args.target}: {message}")
        checked = f"OME-Zarr {version} metadata" if version else "metadata"
        print(f"{'valid' if not errors else 'invalid'} {checked}: {len(errors)} errors, {len(warnings)} warnings")
    return 0 if not errors else 1


def run(args, parser: argparse.ArgumentParser) -> int:
    if args.metadata_only:
        if args.against is not None:
            parser.error("--against does not go with --metadata-only (there are no arrays to compare)")
        return run_metadata_only(args)
    report = api.validate(args.target, against=args.against, s3=s3_options(args, "input"),
                          follow_links=args.follow_links, timeout=args.timeout)
    against = args.against is not None
    report.spelling = SPELLING
    if args.json:
        json.dump(report.to_json(against), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for level, entries in (("error", report.errors), ("warning", report.warnings)):
            for entry in entries:
                line = f"{level}: {entry['location']}: {entry['message']}"
                print(line.replace("\r", "\\r").replace("\n", "\\n"))  # one line each, whatever the path holds
        print(report.summary(against))
    return 0 if report.valid else 1
