"""`ome2024-ngff-challenge catalog [--csv FILE] [--html FILE] [--price-per-core-hour P] TARGET...`:
one row per converted dataset (``api.catalog``), the cost summary printed and
saved beside the CSV (or the HTML page) as NAME.summary.json."""

from __future__ import annotations

import argparse
import math
import sys

from .. import api
from ..inventory import MAX_DEPTH, summary_path
from ..stores.inside import check_report_path
from .options import SPELLING, add_common, add_follow_links, add_location_options, positive_int, s3_options

EXAMPLES = f"""\
examples:
  ome2024-ngff-challenge catalog out.zarr
  ome2024-ngff-challenge catalog /data/converted --csv catalog.csv --html catalog.html
  ome2024-ngff-challenge catalog s3://bucket/challenge/ --input-anon --csv catalog.csv --price-per-core-hour=0.05
  ome2024-ngff-challenge catalog https://example.org/a.zarr https://example.org/b.zarr --csv catalog.csv

A TARGET is a dataset or a folder (or S3 prefix) holding datasets, found up to
{MAX_DEPTH} folder levels down; an http(s):// TARGET must be a dataset (HTTP cannot be
listed, so its bytes on disk stay empty). The summary goes beside the CSV as
NAME.summary.json (catalog.csv -> catalog.summary.json), or beside the HTML page
when there is no CSV. Exit status 1 when any dataset cannot be read (its row
holds the error).
"""


def price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        msg = f"expected a number, 0 or more, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "catalog",
        help="list converted datasets (CSV, HTML page with thumbnails) with their conversion costs",
        description="One row per converted OME-Zarr 0.5 dataset (any tool's): the columns the challenge's "
        "gallery reads, plate wells and images, bioformats2raw series, bytes on disk and the conversion "
        "statistics; and a summary of the conversion costs (TB in and out, core-hours, MB/s per core, "
        "cost per TB), by codec and by layout.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("targets", metavar="TARGET", nargs="+",
                        help="a dataset, or a folder or s3://bucket/prefix holding datasets; or an http(s) URL")
    parser.add_argument("--csv", metavar="FILE", help="write the rows as CSV (and the summary beside it)")
    parser.add_argument("--html", metavar="FILE",
                        help="write one self-contained HTML page with a thumbnail of every image")
    parser.add_argument("--price-per-core-hour", type=price, metavar="P",
                        help="price of one core-hour: the summary adds the cost in all and per TB")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="datasets read at once (default: 2, or more for S3 and HTTP)")
    add_location_options(parser, "input", "read TARGET from")
    add_follow_links(parser)
    add_common(parser)
    return parser


def run(args, parser: argparse.ArgumentParser) -> int:
    # refused before any dataset is read: a path in a dataset, or a folder
    for path, what in ((args.csv, "the catalogue (CSV)"), (args.html, "the catalogue page (HTML)")):
        if path:
            check_report_path(path, what)
    if args.csv or args.html:
        check_report_path(summary_path(args.csv or args.html), "the cost summary")
    result = api.catalog(args.targets, thumbnails=args.html is not None,
                         price_per_core_hour=args.price_per_core_hour, threads=args.threads,
                         s3=s3_options(args, "input"), follow_links=args.follow_links)
    result.spelling = SPELLING
    for line in result.skipped:
        print(f"warning: {line}", file=sys.stderr)
    for record in result.records():
        if record["error"]:
            print(f"error: {record['error']}", file=sys.stderr)
    written = []
    if args.csv:
        result.write_csv(args.csv)
        written.append(args.csv)
    if args.html:
        result.write_html(args.html)
        written.append(args.html)
    if args.csv or args.html:
        where = summary_path(args.csv or args.html)
        result.write_summary(where)
        written.append(str(where))
    for line in result.summary_lines():
        print(line)
    for path in written:
        print(f"wrote: {path}")
    return 1 if result.failed else 0
