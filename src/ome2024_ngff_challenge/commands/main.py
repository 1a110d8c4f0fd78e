"""The `ome2024-ngff-challenge` command line: a thin layer over the Python API.

Each sub-command is a module here with ``add_parser`` and ``run``; this one
builds the parser, sets up logging and turns every user error into one line on
stderr and a non-zero exit (a traceback only with `--log debug` or trace).
`resave` is also the default: `ome2024-ngff-challenge IN OUT` works without the
word, as older instructions write it.
"""

from __future__ import annotations

import logging
import os
import sys
import textwrap

from ..about import TOOL_NAME, __version__
from ..errors import UserError
from ..stores.traced import TRACE
from . import catalog, example, lookup, resave, serve, update, validate
from .options import SPELLING, OneLineParser

LOG = logging.getLogger("ome2024_ngff_challenge")
LOG_LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "warning": logging.WARNING,
              "info": logging.INFO, "debug": logging.DEBUG, "trace": TRACE}
COMMANDS = {"resave": resave, "validate": validate, "update": update, "lookup": lookup, "catalog": catalog,
            "serve": serve, "example": example}


def build_parser() -> tuple[OneLineParser, dict]:
    parser = OneLineParser(
        prog=TOOL_NAME,
        description="Convert OME-Zarr 0.4 (Zarr v2) datasets to OME-Zarr 0.5 (Zarr v3) with an RO-Crate.",
        epilog="Run 'ome2024-ngff-challenge COMMAND --help' for a command's options. "
        "Without a command, 'resave' is assumed.",
    )
    parser.add_argument("--version", action="version", version=f"{TOOL_NAME} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    parsers = {name: module.add_parser(sub) for name, module in COMMANDS.items()}
    return parser, parsers


def with_default_command(argv: list[str]) -> list[str]:
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version"):
        return ["resave", *argv]
    return argv


class LowerLevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        # one line per message, even naming a path that holds a line break (a traceback still follows)
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")


def setup_logging(level_name: str) -> None:
    logging.addLevelName(TRACE, "TRACE")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LowerLevelFormatter("%(levelname)s: %(message)s"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(LOG_LEVELS[level_name])
    LOG.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = with_default_command(list(sys.argv[1:] if argv is None else argv))
    parser, parsers = build_parser()
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
        return COMMANDS[args.command].run(args, parsers[args.command])
    except UserError as e:
        if debug:
            LOG.exception("traceback")
        print(f"error: {one_line(e.render(SPELLING))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the output is incomplete", file=sys.stderr)
        return 130
    except OSError as e:
        if e.filename is None:  # not about a path: below, as any other surprise
            return unexpected(e, debug)
        if debug:
            LOG.exception("traceback")
        # the file system refused a path (a name too long, a folder that is a file ...): one line naming it
        name = os.fsdecode(e.filename) if isinstance(e.filename, (str, bytes)) else str(e.filename)
        print(f"error: {one_line(name)}: {e.strerror or e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug or an unexpected environment: still one line
        return unexpected(e, debug)


def unexpected(e: Exception, debug: bool) -> int:
    if debug:
        LOG.exception("traceback")
    print(f"error: unexpected {type(e).__name__}: {one_line(str(e))} (run with --log debug for a traceback)",
          file=sys.stderr)
    return 1


def one_line(text: str) -> str:
    return " ".join(textwrap.dedent(text).split())
