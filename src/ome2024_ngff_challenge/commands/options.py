"""What the sub-commands share: how options are spelled, the option groups
several commands take (S3 locations, RO-Crate fields, --log), and the one-line
argparse errors."""

from __future__ import annotations

import argparse

from ..stores.open import S3Options

# How the command line spells the options that domain messages refer to
# (errors.option): the API's keyword names -> flags.
SPELLING = {
    "chunks": "--output-chunks",
    "shards": "--output-shards",
    "codec": "--output-codec",
    "details": "--output-read-details",
    "write_details": "--output-write-details",
    "overwrite": "--output-overwrite",
    "threads": "--output-threads",
    "job_script": "--output-job-script",
    "job": "--job",
    "dask_scheduler": "--dask-scheduler",
    "license": "--rocrate-license",
    "organism": "--rocrate-organism",
    "modality": "--rocrate-modality",
    "ols_url": "--ols-url",
    "ontology": "--ontology",
    "timeout": "--timeout",
    "against": "--against",
    "no_repair": "--no-repair",
    "price_per_core_hour": "--price-per-core-hour",
    "in_place": "--in-place",
    "undo_in_place": "--in-place --undo",
    "verify": "--verify",
    "output_version": "--output-version",
    "add_levels": "--output-add-levels",
    "output_script": "--output-script",
    "rocrate_skip": "--rocrate-skip",
    "follow_links": "--follow-links",
    **{f"{role}_{what}": f"--{role}-{what}" for role in ("input", "output")
       for what in ("bucket", "endpoint", "anon", "region")},
}

LOG_LEVEL_NAMES = ("error", "warn", "warning", "info", "debug", "trace")


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


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log", choices=list(LOG_LEVEL_NAMES), default="warn", metavar="LEVEL",
                        help="error, warn (default), info, debug or trace; debug shows tracebacks, "
                        "trace also every read and write of a store, with its size and time")


def add_follow_links(parser: argparse.ArgumentParser) -> None:
    """--follow-links: a local dataset's links that lead out of it are read."""
    parser.add_argument("--follow-links", action="store_true",
                        help="read the files and folders that a local dataset's symbolic links lead to outside "
                        "it (refused by default; link loops and files that are not regular files are always "
                        "refused, and nothing is ever written or deleted through such a link)")


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


def s3_options(args, role: str) -> S3Options:
    """The S3 options of one role (input or output)."""
    return S3Options(
        bucket=getattr(args, f"{role}_bucket", None),
        endpoint=getattr(args, f"{role}_endpoint", None),
        anon=getattr(args, f"{role}_anon", False),
        region=getattr(args, f"{role}_region", None),
    )


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


def crate_options(args) -> dict:
    """The RO-Crate fields given on the command line, as API keyword arguments."""
    license_url = "cc-by" if args.cc_by else "cc0" if args.cc0 else args.rocrate_license
    return {
        "license": license_url,
        "organism": args.rocrate_organism,
        "modality": args.rocrate_modality,
        "name": args.rocrate_name,
        "description": args.rocrate_description,
    }


CRATE_HINTS = {"license": "--cc-by, --cc0 or --rocrate-license", "organism": "--rocrate-organism",
               "modality": "--rocrate-modality"}
