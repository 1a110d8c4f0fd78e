"""The `ome2024-ngff-challenge` command line.

`resave` is also the default: `ome2024-ngff-challenge IN OUT` works without the
word, as older instructions write it. Every user error is one line on stderr
and a non-zero exit; a traceback only with `--log debug` (or trace).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap

from . import TOOL_NAME, __version__
from .errors import UserError

LOG = logging.getLogger("ome2024_ngff_challenge")
TRACE = 5
LOG_LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "warning": logging.WARNING,
              "info": logging.INFO, "debug": logging.DEBUG, "trace": TRACE}
RESAVE_PARSER: argparse.ArgumentParser | None = None  # for job_argv
COMMANDS = ("resave", "validate", "update", "lookup", "example")

RESAVE_EXAMPLES = """\
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
  unsharded Zarr v3 (chunks are the stored objects):
    ome2024-ngff-challenge resave --cc0 --output-shards=none in.zarr out.zarr

  review and edit the layout before converting:
    ome2024-ngff-challenge resave in.zarr details.json --output-write-details
    ome2024-ngff-challenge resave --cc-by --output-read-details=details.json in.zarr out.zarr
  (a single image gives a list [{"shape", "chunks", "shards"}, ...] in the order of its
  multiscales datasets; plates, labels and bioformats2raw give an object keyed by array
  path, e.g. {"0": {...}, "labels/cells/0": {...}, "A/1/0/0": {...}}; both forms are read back,
  and changes to "shape" are ignored)

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


VALIDATE_EXAMPLES = """\
examples:
  ome2024-ngff-challenge validate out.zarr
  ome2024-ngff-challenge validate out.zarr --against in.zarr      # and compare every voxel
  ome2024-ngff-challenge validate https://example.org/data/image.zarr --json
  ome2024-ngff-challenge validate --input-bucket=BUCKET --input-endpoint=https://HOST --input-anon path/image.zarr
"""

UPDATE_EXAMPLES = """\
examples:
  ome2024-ngff-challenge update out.zarr --cc-by --rocrate-organism=NCBI:txid10090
  ome2024-ngff-challenge update out.zarr --rocrate-modality=obo:FBbi_00000369 --rocrate-name="Mouse brain"
"""

LOOKUP_EXAMPLES = """\
examples:
  ome2024-ngff-challenge lookup mouse                  # -> NCBI:txid10090 for --rocrate-organism
  ome2024-ngff-challenge lookup "light sheet" --ontology fbbi
  ome2024-ngff-challenge lookup zebrafish --offline
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        msg = f"expected a positive integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=TOOL_NAME,
        description="Convert OME-Zarr 0.4 (Zarr v2) datasets to OME-Zarr 0.5 (Zarr v3) with an RO-Crate.",
        epilog="Run 'ome2024-ngff-challenge COMMAND --help' for a command's options. "
        "Without a command, 'resave' is assumed.",
    )
    parser.add_argument("--version", action="version", version=f"{TOOL_NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    resave = sub.add_parser(
        "resave",
        help="convert an OME-Zarr 0.4 dataset (image, labels, plate, bioformats2raw) to 0.5",
        description="Convert an OME-Zarr 0.4 dataset (Zarr v2) to OME-Zarr 0.5 (Zarr v3): images with "
        "their labels, HCS plates and bioformats2raw layouts. Every voxel and all metadata are kept.",
        epilog=RESAVE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global RESAVE_PARSER
    RESAVE_PARSER = resave
    resave.add_argument("input", metavar="INPUT", help="the OME-Zarr 0.4 dataset (a folder)")
    resave.add_argument("output", metavar="OUTPUT",
                        help="the OME-Zarr 0.5 dataset to create (a JSON file with --output-write-details)")
    add_common(resave)
    add_location_options(resave, "input", "read INPUT from")
    add_location_options(resave, "output", "write OUTPUT to")

    out = resave.add_argument_group("output layout")
    out.add_argument("--output-chunks", metavar="C,C,...",
                     help="inner chunk shape for every level, e.g. 1,1,1,256,256 (clipped to small levels); "
                     "default: the source's chunks")
    out.add_argument("--output-shards", metavar="S,S,...|none",
                     help="shard shape for every level, a multiple of the chunks, e.g. 1,1,1,2048,2048; "
                     "'none' writes unsharded arrays; default: chosen per level, up to ~256 MiB uncompressed")
    out.add_argument("--output-codec", metavar="CODEC", default="blosc-zstd-5",
                     help="compression of the output chunks: blosc[-CNAME[-LEVEL[-SHUFFLE]]], zstd[-LEVEL], "
                     "gzip[-LEVEL] or none (default: blosc-zstd-5, with shuffle, as the challenge data); "
                     "'keep' copies the compressed source chunks unchanged (no decode/encode, as fast as a copy) "
                     "where the source is Blosc, zstd, gzip or uncompressed and the output chunks are the "
                     "source chunks; other arrays are re-encoded with the default")
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
    out.add_argument("--conversion-notes", metavar="TEXT",
                     help="free text recorded with the conversion statistics of every array")

    add_crate_options(resave, skip=True)

    validate = sub.add_parser(
        "validate",
        help="check that a converted dataset is valid OME-Zarr 0.5 with the challenge's RO-Crate",
        description="Check an OME-Zarr 0.5 dataset (local path, S3 or HTTP(S) URL): every group and array "
        "against the 0.5 rules, and its RO-Crate. Exit 0 only when valid.",
        epilog=VALIDATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("target", metavar="TARGET", help="the OME-Zarr 0.5 dataset: a folder, s3://bucket/prefix or URL")
    validate.add_argument("--against", metavar="SOURCE",
                          help="also compare every voxel with this OME-Zarr 0.4 source (folder, s3:// or URL)")
    validate.add_argument("--json", action="store_true", help="print the result as JSON")
    add_location_options(validate, "input", "read TARGET from")
    add_common(validate)

    update = sub.add_parser(
        "update",
        help="add or change the RO-Crate metadata of a converted dataset (arrays untouched)",
        description="Add or change the license, organism, modality, name or description in the "
        "ro-crate-metadata.json of a converted dataset, without touching its arrays.",
        epilog=UPDATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    update.add_argument("target", metavar="TARGET", help="the converted dataset: a folder or s3://bucket/prefix")
    add_crate_options(update, skip=False)
    add_location_options(update, "output", "TARGET is in")
    add_common(update)

    lookup = sub.add_parser(
        "lookup",
        help="find ontology terms for --rocrate-organism (NCBI taxonomy) and --rocrate-modality (FBbi)",
        description="Search NCBI taxonomy and FBbi terms by text: online through the EBI OLS search when "
        "reachable, always from a table shipped with the package (works offline).",
        epilog=LOOKUP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lookup.add_argument("text", metavar="TEXT", help="words to search for, e.g. 'mouse' or 'light sheet'")
    lookup.add_argument("--ontology", choices=["all", "ncbitaxon", "fbbi"], default="all",
                        help="which ontology to search (default: both)")
    lookup.add_argument("--offline", action="store_true", help="only the shipped table, no network")
    lookup.add_argument("--ols-url", metavar="URL", default=None,
                        help="OLS search API to ask (default: the EBI's, or $OME2024_OLS_URL)")
    lookup.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="give up on the online search after this long (default 3)")
    lookup.add_argument("--json", action="store_true", help="print the results as JSON")
    add_common(lookup)

    example = sub.add_parser(
        "example",
        help="write a small example OME-Zarr 0.4 image (with labels) to try the converter on",
        description="Write a small OME-Zarr 0.4 image with a label image, made on the spot (no network).",
    )
    example.add_argument("output", metavar="OUTPUT", help="folder to create")
    example.add_argument("--output-overwrite", action="store_true", help="replace OUTPUT if it exists")
    add_common(example)
    return parser


def add_crate_options(parser: argparse.ArgumentParser, *, skip: bool) -> None:
    crate = parser.add_argument_group(
        "RO-Crate metadata (ro-crate-metadata.json)",
        "The challenge asks for a license, an organism and an imaging modality.",
    )
    lic = crate.add_mutually_exclusive_group()
    lic.add_argument("--cc-by", action="store_true", help="license: CC BY 4.0")
    lic.add_argument("--cc0", action="store_true", help="license: CC0 1.0 (public domain)")
    lic.add_argument("--rocrate-license", metavar="URL", help="license: any license URL")
    crate.add_argument("--rocrate-organism", metavar="TERM", help="NCBI taxon, e.g. NCBI:txid9606 (human)")
    crate.add_argument("--rocrate-modality", metavar="TERM", help="FBbi imaging method, e.g. obo:FBbi_00000369")
    crate.add_argument("--rocrate-name", metavar="TEXT", help="dataset name (default: the output folder name)")
    crate.add_argument("--rocrate-description", metavar="TEXT", help="dataset description")
    if skip:
        crate.add_argument("--rocrate-skip", action="store_true", help="write no ro-crate-metadata.json")


def add_location_options(parser: argparse.ArgumentParser, role: str, what: str) -> None:
    """--input-bucket/-endpoint/-anon/-region (or --output-...): with a bucket, the
    path is a prefix inside it."""
    group = parser.add_argument_group(
        f"{role} on S3",
        f"{what} an S3 bucket (the path is then a prefix in it); an s3://bucket/prefix "
        f"path works too. Credentials come from the usual AWS places unless --{role}-anon.",
    )
    group.add_argument(f"--{role}-bucket", metavar="NAME", help="the bucket")
    group.add_argument(f"--{role}-endpoint", metavar="URL",
                       help="S3 endpoint for non-AWS stores, e.g. https://uk1s3.embassy.ebi.ac.uk")
    group.add_argument(f"--{role}-anon", action="store_true", help="anonymous access (public buckets)")
    group.add_argument(f"--{role}-region", metavar="REGION", help="the bucket's region (default us-east-1)")


def location(args, role: str) -> dict:
    """The location options of one role, as keyword arguments of open_store."""
    return {
        "bucket": getattr(args, f"{role}_bucket", None),
        "endpoint": getattr(args, f"{role}_endpoint", None),
        "anon": getattr(args, f"{role}_anon", False),
        "region": getattr(args, f"{role}_region", None),
    }


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", choices=list(LOG_LEVELS), default="warn", metavar="LEVEL",
                        help="error, warn (default), info, debug or trace; debug shows tracebacks")


def with_default_command(argv: list[str]) -> list[str]:
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return ["resave", *argv]
    return argv


class LowerLevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)


def setup_logging(level_name: str) -> None:
    logging.addLevelName(TRACE, "TRACE")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LowerLevelFormatter("%(levelname)s: %(message)s"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(LOG_LEVELS[level_name])
    LOG.propagate = False


def run_resave(args) -> int:
    from .layout import parse_shape_option
    from .output_format import parse_compression
    from .plan import LayoutRequest
    from .resave import ResaveOptions, resave
    from .locations import open_store
    from .rocrate_meta import CrateInfo, crate_options

    details = None
    if args.output_read_details:
        try:
            if "://" in args.output_read_details:  # s3:// or http(s)://
                from .locations import read_location

                # an s3:// URL with the S3 options of the output (or, for a local output, of the input)
                remote_out = args.output_bucket or "://" in args.output
                where = {**location(args, "output" if remote_out else "input"), "bucket": None}
                details = json.loads(read_location(args.output_read_details, role="output", **where).decode("utf-8"))
            else:
                with open(args.output_read_details, encoding="utf-8") as f:
                    details = json.load(f)
        except OSError as e:
            msg = f"--output-read-details: {args.output_read_details}: {e.strerror}"
            raise UserError(msg) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            msg = f"--output-read-details: {args.output_read_details}: not valid JSON ({e})"
            raise UserError(msg) from None
    layout = LayoutRequest(
        chunks=parse_shape_option(args.output_chunks, "--output-chunks"),
        shards=parse_shape_option(args.output_shards, "--output-shards", allow_none=True),
        details=details,
    )
    crate = None
    if not args.rocrate_skip:
        fields = crate_options(args)
        fields.setdefault("name", os.path.basename(os.path.normpath(args.output)))
        crate = CrateInfo(**fields)
    src = open_store(args.input, role="input", **location(args, "input"))
    out = open_store(args.output, role="output", **location(args, "output"))
    options = ResaveOptions(
        layout=layout,
        compression=parse_compression(args.output_codec),
        threads=args.output_threads or default_threads(src, out),
        overwrite=args.output_overwrite,
        write_details=args.output_write_details,
        script=args.output_script,
        notes=args.conversion_notes,
        crate=crate,
        dask_scheduler=args.dask_scheduler,
        job_script=args.output_job_script,
        shards_per_job=args.job_shards,
        job=args.job,
        job_argv=job_argv(args) if args.output_job_script else None,
    )
    resave(src, out, options)
    if not args.output_write_details:
        if crate is None:
            LOG.warning("no RO-Crate written (--rocrate-skip): the dataset is not complete for the challenge")
        elif crate.missing():
            LOG.warning(
                "RO-Crate without %s: the dataset is not complete for the challenge "
                "(add %s)", ", ".join(crate.missing()),
                ", ".join({"license": "--cc-by, --cc0 or --rocrate-license",
                           "organism": "--rocrate-organism", "modality": "--rocrate-modality"}[m]
                          for m in crate.missing()),
            )
    return 0


EXAMPLE_MARK = ".ome2024-ngff-challenge-example"


# options a job line must not repeat: they belong to the preparing command only
NOT_IN_JOBS = {"output_job_script", "job_shards", "job", "output_overwrite", "input", "output", "help", "command"}


def default_threads(*stores) -> int:
    """One thread per CPU; more for object stores, which reward many requests in
    flight (measured on S3 -> local: 1.4x the local time with 2 threads, 1.2x with 4
    and 1.1x with 16), up to 4 per CPU so memory stays bounded."""
    cpus = os.cpu_count() or 1
    wanted = max((getattr(s, "preferred_concurrency", 0) for s in stores), default=0)
    return max(cpus, min(wanted, 4 * cpus))


def job_argv(args) -> list[str]:
    """The resave command the lines of a job script repeat: every option the user
    gave (paths made absolute, so a line runs from any folder), INPUT and OUTPUT last."""
    parser = RESAVE_PARSER
    argv = [TOOL_NAME, "resave"]
    for action in parser._actions:  # argparse offers no public iteration of options
        dest = action.dest
        if dest in NOT_IN_JOBS or not action.option_strings:
            continue
        value = getattr(args, dest, None)
        if value is None or value is False or value == action.default:
            continue
        option = action.option_strings[-1]
        if value is True:
            argv.append(option)
        else:
            if dest == "output_read_details" and "://" not in value:
                value = os.path.abspath(value)
            argv.append(f"{option}={value}")
    for role in ("input", "output"):
        path = getattr(args, role)
        local = not getattr(args, f"{role}_bucket") and "://" not in path
        argv.append(os.path.abspath(path) if local else path)
    return argv


def run_example(args) -> int:
    """Write the example 0.4 dataset. --output-overwrite replaces only an earlier
    example (recognised by its marker file), never other data."""
    from pathlib import Path

    from .errors import OutputError
    from .samples import write_example
    from .stores import LocalStore

    out = Path(args.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not args.output_overwrite:
            msg = f"{out}: already exists (use --output-overwrite to replace an earlier example)"
            raise OutputError(msg)
        if not (out / EXAMPLE_MARK).is_file():
            msg = f"{out}: exists and is not an example written by this command; refusing to delete it"
            raise OutputError(msg)
        LocalStore(out).delete_tree()
    write_example(out)
    (out / EXAMPLE_MARK).write_text("written by 'ome2024-ngff-challenge example'\n", encoding="utf-8")
    print(out)
    return 0


def run_validate(args) -> int:
    from .validate import run

    return run(args)


def run_update(args) -> int:
    from .update import run

    return run(args)


def run_lookup(args) -> int:
    from .lookup import run

    return run(args)


COMMAND_RUNNERS = {
    "resave": run_resave,
    "validate": run_validate,
    "update": run_update,
    "lookup": run_lookup,
    "example": run_example,
}


def main(argv: list[str] | None = None) -> int:
    argv = with_default_command(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return int(e.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    setup_logging(args.log)
    debug = LOG.isEnabledFor(logging.DEBUG)
    try:
        return COMMAND_RUNNERS[args.command](args)
    except UserError as e:
        if debug:
            LOG.exception("traceback")
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the output is incomplete", file=sys.stderr)
        return 130
    except Exception as e:  # a bug or an unexpected environment: still one line
        if debug:
            LOG.exception("traceback")
        print(f"error: unexpected {type(e).__name__}: {one_line(str(e))} (run with --log debug for a traceback)",
              file=sys.stderr)
        return 1


def one_line(text: str) -> str:
    return " ".join(textwrap.dedent(text).split())
