"""`ome2024-ngff-challenge lookup TEXT`: the terms ``--rocrate-organism`` (NCBI
taxonomy) and ``--rocrate-modality`` (FBbi) take, as a table (or ``--json``);
exit status 1 when nothing was found."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import asdict

from .. import api
from ..ome.lookup import Hit
from .options import add_common

EXAMPLES = """\
examples:
  ome2024-ngff-challenge lookup mouse                  # -> NCBI:txid10090 for --rocrate-organism
  ome2024-ngff-challenge lookup "light sheet" --ontology fbbi
  ome2024-ngff-challenge lookup zebrafish --offline
"""



def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "lookup",
        help="find ontology terms for --rocrate-organism (NCBI taxonomy) and --rocrate-modality (FBbi)",
        description="Search NCBI taxonomy and FBbi terms by text: online through the EBI OLS search when "
        "reachable, always from a table shipped with the package (works offline).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("text", metavar="TEXT", help="words to search for, e.g. 'mouse' or 'light sheet'")
    parser.add_argument("--ontology", choices=["all", "ncbitaxon", "fbbi"], default="all",
                        help="which ontology to search (default: both)")
    parser.add_argument("--offline", action="store_true", help="only the shipped table, no network")
    parser.add_argument("--ols-url", metavar="URL", default=None,
                        help="OLS search API to ask (default: the EBI's, or $OME2024_OLS_URL)")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="give up on the online search after this long (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    add_common(parser)
    return parser


def format_table(hits: list[Hit], width: int) -> list[str]:
    rows = [("ONTOLOGY", "TERM", "LABEL", "DESCRIPTION")]
    rows += [({"ncbitaxon": "NCBITaxon", "fbbi": "FBbi"}[h.ontology], h.term, h.label, h.description) for h in hits]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = min(max(len(r[2]) for r in rows), 50)
    lines = []
    for r in rows:
        label = r[2] if len(r[2]) <= w2 else r[2][: w2 - 1] + "…"
        line = f"{r[0]:<{w0}}  {r[1]:<{w1}}  {label:<{w2}}  "
        room = max(width - len(line), 20)
        desc = r[3] if len(r[3]) <= room else r[3][: room - 1] + "…"
        lines.append((line + desc).rstrip())
    return lines


def run(args, parser: argparse.ArgumentParser) -> int:
    result = api.lookup(args.text, ontology=args.ontology, online=not args.offline, ols_url=args.ols_url,
                        timeout=args.timeout)
    if result.online_error is not None:
        print(f"warning: online search ({result.url}) failed: {result.online_error}; showing the shipped table only",
              file=sys.stderr)
    hits = result.hits
    if args.json:
        json.dump([asdict(h) for h in hits], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif hits:
        # cut long descriptions to a terminal's width; never in a pipe or a file
        width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 10**6
        print("\n".join(format_table(hits, width)))
    if not hits:
        print(f"no NCBI taxonomy or FBbi term found for {args.text.strip()!r}", file=sys.stderr)
        return 1
    return 0
