"""`resave --input-list=LIST.csv OUTPUT_ROOT`: a whole collection in one run
(``api.resave_collection``); every other option of resave applies to every row."""

from __future__ import annotations

import argparse
import logging
from collections import Counter

from .. import api
from ..executors import DaskExecutor, ThreadExecutor
from .options import CRATE_HINTS, SPELLING, crate_options, s3_options

LOG = logging.getLogger("ome2024_ngff_challenge")
CRATE_COLUMNS = {"license": "license", "organism": "organismId", "modality": "fbbiId"}


def run(args, parser: argparse.ArgumentParser) -> int:
    for flag, given in (("--output-script", args.output_script), ("--output-job-script", args.output_job_script),
                        ("--job", args.job), ("--output-write-details", args.output_write_details),
                        ("--in-place", args.in_place), ("--undo", args.undo)):
        if given:
            parser.error(f"--input-list: not with {flag}")
    if args.output is not None:
        parser.error("--input-list takes one path, OUTPUT_ROOT: the folder (or prefix) the datasets are written into")
    root = args.input
    src_s3, out_s3 = s3_options(args, "input"), s3_options(args, "output")
    details_s3 = out_s3 if (args.output_bucket or "://" in root) else src_s3
    executor = DaskExecutor(args.dask_scheduler) if args.dask_scheduler else ThreadExecutor(args.output_threads)
    crate = {} if args.rocrate_skip else crate_options(args)
    rows = api.resave_collection(
        args.input_list, root,
        chunks=args.output_chunks, shards=args.output_shards, codec=args.output_codec,
        details=api.read_details(args.output_read_details, s3=details_s3),
        overwrite=args.output_overwrite, executor=executor,
        crate=not args.rocrate_skip, notes=args.conversion_notes, progress=True, repair=not args.no_repair,
        verify=args.verify, add_levels=args.output_add_levels, output_version=args.output_version,
        input_s3=src_s3, output_s3=out_s3, spelling=SPELLING,
        follow_links=args.follow_links, **crate,
    )
    counts = Counter(r["status"] for r in rows)
    if not args.rocrate_skip:
        warn_incomplete_crates(rows)
    print(f"{root}: {len(rows)} datasets: {counts['done']} converted, {counts['skipped']} skipped (already done), "
          f"{counts['failed']} failed; catalog.csv written")
    return 1 if counts["failed"] else 0


def warn_incomplete_crates(rows: list[dict[str, str]]) -> None:
    for field, column in CRATE_COLUMNS.items():
        missing = sum(1 for r in rows if r["status"] == "done" and not r[column])
        if missing:
            LOG.warning("%d converted datasets have no %s in their RO-Crate: not complete for the challenge "
                        "(add %s, or fill the list's '%s' column)", missing, field, CRATE_HINTS[field], field)
