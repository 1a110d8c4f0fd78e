"""`ome2024-ngff-challenge serve PATH [--port N] [--host H]`: a folder of
converted datasets served over HTTP as S3 serves them to web viewers
(``api.serve``), with the URL of each dataset and the links that open it in
the OME-NGFF validator and vizarr; Ctrl-C stops it (exit status 0)."""

from __future__ import annotations

import argparse
import sys

from .. import api
from ..hosting import viewer_links
from .options import add_common

EXAMPLES = """\
examples:
  ome2024-ngff-challenge serve out.zarr                 # http://127.0.0.1:8000/
  ome2024-ngff-challenge serve /data/converted --port 0 # a free port, printed
  ome2024-ngff-challenge validate http://127.0.0.1:8000/ # what viewers need: ranges, HEAD, CORS

GET with one byte range (206, Content-Range; suffix ranges too), HEAD with
Content-Length, CORS on every answer and on the preflight of a Range request.
Read-only; nothing outside PATH is served (no .., no symbolic link out of it);
a folder is not listed. Loopback only unless --host says otherwise.
"""


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        msg = f"expected a port number from 0 to 65535 (0: a free one), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "serve",
        help="serve converted datasets over HTTP to web viewers (ranges, CORS), with links to open them",
        description="Serve the files below PATH (a converted dataset or a folder holding several) over HTTP the "
        "way S3 serves them to web viewers, and print each dataset's URL with the links that open it in the "
        "OME-NGFF validator and vizarr. Ctrl-C stops it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH", help="a converted dataset, or a folder holding some")
    parser.add_argument("--port", type=port_number, default=8000, metavar="N",
                        help="the port (default 8000; 0: a free one, printed)")
    parser.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                        help="the address to listen on (default 127.0.0.1, this machine only; 0.0.0.0: every "
                        "interface, so others can read everything below PATH)")
    add_common(parser)
    return parser


def run(args, parser: argparse.ArgumentParser) -> int:
    server = api.serve(args.path, host=args.host, port=args.port)
    try:
        for note in server.notes:
            print(f"warning: {note}", file=sys.stderr)
        everywhere = " (every interface)" if args.host in ("0.0.0.0", "::", "") else ""
        print(f"serving {server.root} at {server.url}/{everywhere}; Ctrl-C stops", flush=True)
        for url in server.dataset_urls:
            print(f"dataset: {url}")
            for name, link in viewer_links(url).items():
                print(f"  {name}: {link}")
        sys.stdout.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.close()
    return 0
