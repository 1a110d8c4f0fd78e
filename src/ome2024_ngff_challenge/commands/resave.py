"""`ome2024-ngff-challenge resave`: the options, turned into an API call.

The executor is chosen here from the options (threads, --dask-scheduler,
--output-job-script, --job, --output-script) and handed to ``api.resave``; the
plan and the conversion know nothing of these flags.
"""

from __future__ import annotations

import argparse
import logging
import os

from .. import api
from ..api import OUTPUT_VERSIONS
from ..about import IN_PLACE_RECORD, TOOL_NAME
from ..executors import (
    DaskExecutor,
    Executor,
    JobLineExecutor,
    JobScriptExecutor,
    ThreadExecutor,
    ZarrsScriptExecutor,
)
from . import collection
from .options import (
    CRATE_HINTS,
    add_common,
    add_crate_options,
    add_follow_links,
    add_location_options,
    crate_options,
    positive_int,
    s3_options,
)

LOG = logging.getLogger("ome2024_ngff_challenge")

EXAMPLES = """\
examples:
  convert with the automatic layout (source chunks, shards up to ~256 MiB):
    ome2024-ngff-challenge resave --cc-by in.zarr out.zarr
  the same, older spelling without the word 'resave':
    ome2024-ngff-challenge in.zarr out.zarr --cc-by

  chunks and shards (clipped to each resolution level; shards are multiples of chunks):
    ome2024-ngff-challenge resave --cc0 --output-chunks=1,1,1,256,256 \\
        --output-shards=1,1,1,2048,2048 in.zarr out.zarr
  copy the compressed source chunks into shards as they are (fastest; Blosc/zstd/gzip sources):
    ome2024-ngff-challenge resave --cc-by --output-codec=keep in.zarr out.zarr
  complete a pyramid that stops too early for web viewers (levels added until y and x <= 256):
    ome2024-ngff-challenge resave --cc-by --output-add-levels in.zarr out.zarr
  unsharded Zarr v3 (chunks are the stored objects):
    ome2024-ngff-challenge resave --cc0 --output-shards=none in.zarr out.zarr

  review and edit the layout before converting:
    ome2024-ngff-challenge resave in.zarr details.json --output-write-details
    ome2024-ngff-challenge resave --cc-by --output-read-details=details.json in.zarr out.zarr
  (a single image gives a list [{"shape", "chunks", "shards"}, ...] in the order of its
  multiscales datasets; plates, labels and bioformats2raw give an object keyed by array
  path, e.g. {"0": {...}, "labels/cells/0": {...}, "A/1/0/0": {...}}; both forms are read back,
  and changes to "shape" are ignored)

  zero copy: add the 0.5 view beside the 0.4 metadata, in the same folder or S3 prefix (no chunk
  read or written; nothing there is changed; every added file is recorded), and remove it again:
    ome2024-ngff-challenge resave --in-place --cc-by in.zarr
    ome2024-ngff-challenge resave --in-place --undo in.zarr
  zero copy to a new place: each chunk hard-linked (one file system) or copied by the S3 server:
    ome2024-ngff-challenge resave --cc-by --output-codec=keep --output-shards=none in.zarr out.zarr

  write the metadata now and one zarrs_reencode command per array to run elsewhere:
    ome2024-ngff-challenge resave --output-script in.zarr out.zarr

  metadata for the challenge's RO-Crate (ro-crate-metadata.json):
    ome2024-ngff-challenge resave in.zarr out.zarr --cc-by \\
        --rocrate-organism=NCBI:txid9606 --rocrate-modality=obo:FBbi_00000369 \\
        --rocrate-name="HeLa time-lapse" --rocrate-description="..."
  organisms are NCBI taxonomy ids: NCBI:txid9606 (Homo sapiens), NCBI:txid10090 (Mus musculus),
  NCBI:txid7955 (Danio rerio), NCBI:txid7227 (Drosophila melanogaster),
  NCBI:txid6239 (Caenorhabditis elegans), NCBI:txid3702 (Arabidopsis thaliana),
  NCBI:txid4932 (Saccharomyces cerevisiae);
  modalities are terms of the Biological Imaging Methods Ontology (FBbi), e.g. obo:FBbi_00000369.
"""



# options a job line must not repeat: they belong to the preparing command only
NOT_IN_JOBS = {"output_job_script", "job_shards", "job", "output_overwrite", "input", "output", "help", "command",
               "in_place", "undo"}


class SizeBeforePaths(argparse.Action):
    """An option whose value is optional: records whether it came before
    INPUT, where argparse takes INPUT for its value (``unshift_add_levels``)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.add_levels_before_input = getattr(namespace, "input", None) is None


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "resave",
        help="convert an OME-Zarr 0.4 dataset (image, labels, plate, bioformats2raw) to 0.5",
        description="Convert an OME-Zarr 0.4 dataset (Zarr v2) to OME-Zarr 0.5 (Zarr v3): images with "
        "their labels, HCS plates and bioformats2raw layouts. Every voxel and all metadata are kept.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # optional for argparse only: "--output-add-levels INPUT ..." leaves it empty (unshift_add_levels)
    parser.add_argument("input", metavar="INPUT", nargs="?", help="the OME-Zarr 0.4 dataset (a folder)")
    parser.add_argument("output", metavar="OUTPUT", nargs="?",
                        help="the OME-Zarr 0.5 dataset to create (a JSON file with --output-write-details; "
                        "none with --in-place)")
    parser.add_argument("--input-list", metavar="LIST.csv",
                        help="convert every dataset of LIST.csv (columns: input, and optionally output, name, "
                        "description, license, organism, modality) into folders of OUTPUT_ROOT, the one path "
                        "given; writes OUTPUT_ROOT/catalog.csv")
    add_common(parser)
    add_location_options(parser, "input", "read INPUT from")
    add_location_options(parser, "output", "write OUTPUT to")
    add_follow_links(parser)

    out = parser.add_argument_group("output layout")
    out.add_argument("--output-chunks", metavar="C,C,...",
                     help="inner chunk shape for every level, e.g. 1,1,1,256,256 (clipped to small levels); "
                     "default: the source's chunks")
    out.add_argument("--output-shards", metavar="S,S,...|none",
                     help="shard shape for every level, a multiple of the chunks, e.g. 1,1,1,2048,2048; "
                     "'none' writes unsharded arrays; default: chosen per level, up to ~256 MiB uncompressed")
    out.add_argument("--output-codec", metavar="CODEC", default="blosc-zstd-5",
                     help="compression of the output chunks: blosc[-CNAME[-LEVEL[-SHUFFLE]]], zstd[-LEVEL], "
                     "gzip[-LEVEL] or none (default: blosc-zstd-5, with shuffle, as the challenge data); "
                     "'keep' copies the compressed source chunks unchanged (no re-encoding, as fast as a copy; each "
                     "chunk is still decoded once to check that it is whole; with --output-shards=none the chunks are "
                     "hard-linked or copied by the S3 server instead, unread unless --verify) "
                     "where the source is Blosc, zstd, gzip or uncompressed and the output chunks are the "
                     "source chunks; other arrays are re-encoded with the default")
    out.add_argument("--output-add-levels", nargs="?", const="256", metavar="SIZE", action=SizeBeforePaths,
                     help="complete the pyramid: add levels below each image's smallest, each halving y and x "
                     "(the mean of each 2x2 block, integers rounded half to even; labels: the most frequent value), "
                     "until y and x are at most SIZE (default 256); label images get as many as their image")
    out.add_argument("--output-write-details", action="store_true",
                     help="write the planned shape/chunks/shards of every array to OUTPUT (a JSON file) "
                     "instead of converting")
    out.add_argument("--output-read-details", metavar="FILE",
                     help="take chunks and shards from FILE (as written by --output-write-details)")
    out.add_argument("--output-script", action="store_true",
                     help="write the metadata and, in each array folder, a convert.sh with the "
                     "zarrs_reencode command that writes its data")
    out.add_argument("--output-overwrite", action="store_true",
                     help="replace an existing output (only ever an earlier Zarr output)")
    out.add_argument("--output-threads", type=positive_int, metavar="N", default=None,
                     help="threads that convert shards in parallel (default: the number of CPUs)")
    out.add_argument("--output-job-script", action="store_true",
                     help="prepare OUTPUT and write OUTPUT/.jobs/jobs.sh: one command per line, each converting "
                     "a range of one array's shards (--job=ARRAY:START:STOP), to run in any order on any "
                     "machines, e.g. as a job array; the last line to finish writes the metadata")
    out.add_argument("--job-shards", type=positive_int, metavar="N",
                     help="shards per line of --output-job-script (default: ~1 GiB of data per line, at most 64)")
    out.add_argument("--job", metavar="ARRAY:START:STOP", help=argparse.SUPPRESS)
    out.add_argument("--dask-scheduler", metavar="ADDRESS",
                     help="run the shard tasks on this Dask cluster (e.g. tcp://10.0.0.5:8786); the workers "
                     "read INPUT and write OUTPUT themselves, so both must be reachable from them")
    out.add_argument("--output-version", choices=OUTPUT_VERSIONS, default=OUTPUT_VERSIONS[0],
                     help="the OME-Zarr version written (default: %(default)s, the challenge's); 0.6 has the "
                     "coordinate systems and transformations of RFC-5. With --in-place on a 0.5 dataset: "
                     "upgrade its group metadata to 0.6 where it is (--undo restores the 0.5 metadata)")
    out.add_argument("--no-repair", action="store_true",
                     help="refuse input with the known defects of real writers (identity transforms, label lists "
                     "on the wrong group, empty image-label lists) instead of repairing them; every repair is "
                     "otherwise logged and recorded in the conversion statistics")
    out.add_argument("--conversion-notes", metavar="TEXT",
                     help="free text recorded with the conversion statistics of every array")

    zero = parser.add_argument_group(
        "zero copy",
        "Add the OME-Zarr 0.5 view to the 0.4 dataset itself, or link its chunks into a new place.")
    zero.add_argument("--in-place", action="store_true",
                      help="add Zarr v3 metadata (zarr.json, ro-crate-metadata.json) beside the 0.4 metadata of "
                      "INPUT, describing its chunks where they are: no chunk is read or written, nothing there is "
                      "modified or deleted; "
                      f"what is added is recorded in {IN_PLACE_RECORD}. Refused, with nothing added, when an array's "
                      "encoding has no Zarr v3 codec (zlib, lz4, bz2, filters ...: convert those to a new place). "
                      "A dataset with a view already is refused unless --output-overwrite")
    zero.add_argument("--undo", action="store_true",
                      help="with --in-place: remove exactly the files the in-place view added (and its record)")
    zero.add_argument("--verify", action="store_true",
                      help="decode every chunk that is not re-encoded (with --in-place, read-only, before anything is "
                      "added; with --output-codec=keep --output-shards=none, instead of linking unread chunks)")

    add_crate_options(parser, skip=True)
    return parser


# options that have no meaning for a view added in place (none is accepted
# there: the view describes the chunks as they are, where they are)
NOT_IN_PLACE = ("output_chunks", "output_shards", "output_read_details", "output_write_details", "output_script",
                "output_add_levels",
                "output_job_script", "job_shards", "job", "dask_scheduler",
                "output_bucket", "output_endpoint", "output_anon", "output_region")
# what --undo takes besides INPUT: where it is, and how much to say
UNDO_TAKES = {"input", "input_bucket", "input_endpoint", "input_anon", "input_region", "in_place", "undo", "log",
              "command", "output"}


def flag(parser: argparse.ArgumentParser, dest: str) -> str:
    return next((a.option_strings[-1] for a in parser._actions if a.dest == dest and a.option_strings), dest)


def given(args, parser: argparse.ArgumentParser, dest: str) -> bool:
    default = next((a.default for a in parser._actions if a.dest == dest), None)
    value = getattr(args, dest, None)
    return value is not None and value is not False and value != default


def run_in_place(args, parser: argparse.ArgumentParser) -> int:
    """--in-place (and --undo): the view added to INPUT, or removed."""
    if args.output is not None:
        parser.error(f"--in-place takes INPUT only (the view is added to it), not OUTPUT {args.output!r}")
    if args.undo:
        extra = [a.dest for a in parser._actions if a.dest not in UNDO_TAKES and given(args, parser, a.dest)]
        if extra:
            parser.error(f"--in-place --undo takes INPUT and --input-* only, not {flag(parser, extra[0])}")
        if api.is_upgraded_in_place(args.input, input_s3=s3_options(args, "input")):
            restored = api.undo_upgrade(args.input, input_s3=s3_options(args, "input"))
            print(f"restored: {args.input}: the OME-Zarr 0.5 metadata ({len(restored)} groups, byte for byte)")
            return 0
        removed = api.undo_in_place(args.input, input_s3=s3_options(args, "input"))
        print(f"removed: {args.input}: the view added in place ({len(removed)} files)")
        return 0
    extra = [d for d in NOT_IN_PLACE if given(args, parser, d)]
    if args.output_codec not in ("blosc-zstd-5", "keep"):
        extra.insert(0, "output_codec")
    if extra:
        parser.error(f"{flag(parser, extra[0])} does not go with --in-place (the view describes the chunks as "
                     "they are, where they are)")
    if args.output_version != OUTPUT_VERSIONS[0] and api.is_zarr_v3(args.input, input_s3=s3_options(args, "input")):
        return upgrade_in_place(args, parser)
    crate = {} if args.rocrate_skip else crate_options(args)
    plan = api.resave_in_place(
        args.input, overwrite=args.output_overwrite, verify=args.verify, threads=args.output_threads,
        crate=not args.rocrate_skip, notes=args.conversion_notes, progress=True, repair=not args.no_repair,
        output_version=args.output_version, input_s3=s3_options(args, "input"), follow_links=args.follow_links, **crate,
    )
    warn_incomplete_crate(args, crate)
    print(f"added: {args.input}: the OME-Zarr {args.output_version} view in place ({len(plan.groups)} groups, {len(plan.arrays)} "
          f"arrays{', every chunk verified' if args.verify else ''}); remove it with --in-place --undo")
    return 0


def upgrade_in_place(args, parser: argparse.ArgumentParser) -> int:
    """--in-place --output-version 0.6 on a 0.5 dataset: its group metadata rewritten."""
    extra = [d for d in ("verify", "output_overwrite", "rocrate_skip", "conversion_notes", "no_repair")
             if given(args, parser, d)] + [f"rocrate_{k}" for k, v in crate_options(args).items() if v]
    if extra:
        parser.error(f"{flag(parser, extra[0])} does not go with upgrading 0.5 to 0.6 in place (only the groups' "
                     "metadata is rewritten; the RO-Crate and the arrays stay as they are)")
    done = api.upgrade_in_place(args.input, input_s3=s3_options(args, "input"), follow_links=args.follow_links)
    print(f"upgraded: {args.input}: OME-Zarr 0.5 -> {args.output_version} in place ({len(done.groups)} groups "
          f"rewritten, no array touched{', an unfinished upgrade finished' if done.resumed else ''}); restore the "
          "0.5 metadata with --in-place --undo")
    return 0


def choose_executor(args, parser: argparse.ArgumentParser) -> Executor:
    """The one place where the options decide how the plan is run."""
    if args.output_script:
        return ZarrsScriptExecutor()
    if args.output_job_script:
        return JobScriptExecutor(job_command(args, parser), args.job_shards)
    runner = DaskExecutor(args.dask_scheduler) if args.dask_scheduler else ThreadExecutor(args.output_threads)
    if args.job is not None:
        return JobLineExecutor(args.job, runner)
    return runner


def unshift_add_levels(args, parser: argparse.ArgumentParser) -> None:
    """``--output-add-levels INPUT OUTPUT``: argparse took INPUT for SIZE
    (the flag's value is optional); SIZE is then the default and the paths
    move back where they belong. Between INPUT and OUTPUT it took OUTPUT:
    refused, saying so."""
    value = args.output_add_levels
    if args.input_list and args.input is None and value is not None and not value.strip().isdigit():
        args.output_add_levels, args.input = "256", value  # "--output-add-levels OUTPUT_ROOT"
        return
    if value is None or value.strip().isdigit() or args.output is not None or args.input_list or args.in_place:
        return
    if not getattr(args, "add_levels_before_input", False):
        parser.error(f"--output-add-levels took {value!r} for its SIZE: write --output-add-levels=SIZE, or put "
                     "the flag before INPUT or after OUTPUT")
    args.output_add_levels = "256"
    args.input, args.output = value, args.input


def run(args, parser: argparse.ArgumentParser) -> int:
    unshift_add_levels(args, parser)
    if args.input is None:
        parser.error("the following arguments are required: " + ("OUTPUT_ROOT" if args.input_list else "INPUT"))
    if args.input_list:
        return collection.run(args, parser)
    if args.in_place:
        return run_in_place(args, parser)
    if args.undo:
        parser.error("--undo goes with --in-place (it removes a view added in place)")
    if args.output is None:
        parser.error("OUTPUT is missing (or give --in-place to add the 0.5 view to INPUT itself)")
    src_s3, out_s3 = s3_options(args, "input"), s3_options(args, "output")
    # a details file given as s3:// is reached with the output's S3 options
    # (or, for a local output, the input's)
    details_s3 = out_s3 if (args.output_bucket or "://" in args.output) else src_s3
    if args.output_write_details:
        api.write_details(args.input, args.output, chunks=args.output_chunks, shards=args.output_shards,
                          codec=args.output_codec, details=api.read_details(args.output_read_details, s3=details_s3),
                          overwrite=args.output_overwrite, repair=not args.no_repair,
                          add_levels=args.output_add_levels, input_s3=src_s3, output_s3=out_s3,
                          follow_links=args.follow_links)
        return 0
    crate = {} if args.rocrate_skip else crate_options(args)
    api.resave(
        args.input, args.output,
        chunks=args.output_chunks, shards=args.output_shards, codec=args.output_codec,
        details=api.read_details(args.output_read_details, s3=details_s3),
        overwrite=args.output_overwrite,
        executor=choose_executor(args, parser),
        crate=not args.rocrate_skip, notes=args.conversion_notes, progress=True, repair=not args.no_repair,
        verify=args.verify, add_levels=args.output_add_levels, output_version=args.output_version,
        input_s3=src_s3, output_s3=out_s3, follow_links=args.follow_links, **crate,
    )
    warn_incomplete_crate(args, crate)
    return 0


def warn_incomplete_crate(args, crate: dict) -> None:
    if args.rocrate_skip:
        LOG.warning("no RO-Crate written (--rocrate-skip): the dataset is not complete for the challenge")
        return
    missing = [m for m in ("license", "organism", "modality") if not crate.get(m)]
    if missing:
        LOG.warning(
            "RO-Crate without %s: the dataset is not complete for the challenge (add %s)",
            ", ".join(missing), ", ".join(CRATE_HINTS[m] for m in missing),
        )


def job_command(args, parser: argparse.ArgumentParser) -> list[str]:
    """The resave command the lines of a job script repeat: every option the user
    gave (paths made absolute, so a line runs from any folder), INPUT and OUTPUT last."""
    argv = [TOOL_NAME, "resave"]
    for action in parser._actions:  # argparse offers no public iteration of options
        dest = action.dest
        if dest in NOT_IN_JOBS or not action.option_strings:
            continue
        value = getattr(args, dest, None)
        if value is None or value is False or value == action.default:
            continue
        flag = action.option_strings[-1]
        if value is True:
            argv.append(flag)
        else:
            if dest == "output_read_details" and "://" not in value:
                value = os.path.abspath(value)
            argv.append(f"{flag}={value}")
    for role in ("input", "output"):
        path = getattr(args, role)
        local = not getattr(args, f"{role}_bucket") and "://" not in path
        argv.append(os.path.abspath(path) if local else path)
    return argv
