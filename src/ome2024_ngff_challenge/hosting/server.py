"""A local folder served over HTTP the way S3 serves a bucket to web viewers.

Viewers (vizarr, the OME-NGFF validator, ome-zarr.js, neuroglancer) run in a
browser on another site and read Zarr with ``fetch``: they need byte ranges (a
shard's index, then one inner chunk of it), ``HEAD`` with ``Content-Length``
(zarrita.js finds a shard's size so before reading its index), a 404 for a key
that does not exist (they probe for ``zarr.json``, ``.zattrs``, chunks never
written) and CORS on every answer, including the preflight a ``Range`` header
causes.

Ranges (RFC 9110): one range per request, ``bytes=A-B``, ``bytes=A-`` and the
suffix ``bytes=-N``, answered with 206 and ``Content-Range``; a range that
starts past the end (or any range of an empty file) with 416 and
``Content-Range: bytes */SIZE``. A request for several ranges is answered with
200 and the whole object, as the RFC allows and as S3 does (viewers never ask
for several); so is a ``Range`` header that is not a byte range.

Read-only (GET, HEAD and OPTIONS; anything else is 405) and only what lies
below the folder: a path with ``..`` or a symbolic link leading out of it is
refused (403), a folder is not listed (404, like a prefix in S3).
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import http.server
import logging
import os
import socket
import stat
import threading
import urllib.parse
from pathlib import Path

from ..errors import UserError

LOG = logging.getLogger("ome2024_ngff_challenge")
BLOCK = 1 << 20  # bytes sent per write
EXPOSED = "Content-Range, Content-Length, Content-Type, ETag, Last-Modified, Accept-Ranges"
# what a preflight may ask to send; Range is what viewers need (plus whatever the
# browser asks for, echoed, as S3 answers with AllowedHeaders "*")
ALLOWED_HEADERS = ("Range", "If-Range", "If-None-Match", "If-Modified-Since", "Cache-Control")
METHODS = "GET, HEAD, OPTIONS"


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """The one byte range ``header`` asks of an object of ``size`` bytes:
    (first, last) inclusive; None when the header is to be ignored (not a
    byte range, several ranges, malformed: the whole object is sent); "unsatisfiable"."""
    unit, _, ranges = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None
    first_text, dash, last_text = ranges.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not (first_text.isdigit() or first_text == "") or not (last_text.isdigit() or last_text == ""):
        return None
    if first_text == "":
        if last_text == "":
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(int(last_text), size - 1) if last_text else size - 1


def content_type(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name.endswith(".json") or name in (".zattrs", ".zgroup", ".zarray", ".zmetadata"):
        return "application/json"
    if name.endswith(".xml"):
        return "application/xml"
    return "application/octet-stream"


class Handler(http.server.BaseHTTPRequestHandler):
    """One request; ``self.server`` is a ``Server``'s ``_HTTPServer``."""

    protocol_version = "HTTP/1.1"  # keep-alive: viewers send many small requests
    server_version = "ome2024-ngff-challenge"

    def log_message(self, format: str, *args) -> None:
        LOG.info("serve: %s %s", self.address_string(), format % args)

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", EXPOSED)

    def send_response(self, code: int, message: str | None = None) -> None:
        # recorded before the answer leaves: a client that has its answer finds it recorded
        self.server.record(getattr(self, "command", None), getattr(self, "path", None), code)
        super().send_response(code, message)

    def end_headers(self) -> None:
        self._cors()  # on every answer, errors of the HTTP layer (400, 414, 431) included
        super().end_headers()

    def _simple(self, code: int, text: str, headers: dict | None = None) -> None:
        body = (text + "\n").encode()
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _resolve(self) -> Path | int:
        """The file the URL names, or the status that refuses it (403, 404)."""
        raw = urllib.parse.urlsplit(self.path).path
        parts = [p for p in urllib.parse.unquote(raw).split("/") if p not in ("", ".")]
        if any(p == ".." or "\\" in p or "\0" in p for p in parts):
            return 403
        root: Path = self.server.root
        candidate = root.joinpath(*parts)
        real = Path(os.path.realpath(candidate))
        if real != root and root not in real.parents:
            return 403  # a symbolic link out of the folder
        try:
            info = real.stat()
        except OSError:
            return 404
        if not stat.S_ISREG(info.st_mode):
            return 404  # a folder is not an object
        return real

    def do_OPTIONS(self) -> None:
        asked = self.headers.get("Access-Control-Request-Headers", "")
        allowed = list(ALLOWED_HEADERS)
        known = {h.lower() for h in allowed}
        allowed += [h.strip() for h in asked.split(",") if h.strip() and h.strip().lower() not in known]
        headers = {"Access-Control-Allow-Methods": METHODS, "Access-Control-Allow-Headers": ", ".join(allowed),
                   "Access-Control-Max-Age": "86400", "Allow": METHODS}
        if self.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            headers["Access-Control-Allow-Private-Network"] = "true"  # a public site reading loopback (Chrome)
        self.send_response(204)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._send_file(body=True)

    def do_HEAD(self) -> None:
        self._send_file(body=False)

    def _refuse_method(self) -> None:
        self.close_connection = True  # its body, if any, is not read: the connection cannot be reused
        self._simple(405, "read-only: GET, HEAD and OPTIONS only", {"Allow": METHODS})

    def __getattr__(self, name: str):
        if name.startswith("do_"):  # any other method (POST, PUT, DELETE, PROPFIND ...)
            return self._refuse_method
        raise AttributeError(name)

    def _send_file(self, *, body: bool) -> None:
        found = self._resolve()
        if isinstance(found, int):
            self._simple(found, "not found" if found == 404 else "outside the served folder")
            return
        try:
            f = open(found, "rb")  # noqa: SIM115 (closed below, after streaming)
        except OSError:
            self._simple(404, "not found")
            return
        with f:
            info = os.fstat(f.fileno())
            size = info.st_size
            first, last, code = 0, size - 1, 200
            header = self.headers.get("Range")
            wanted = parse_range(header, size) if header else None
            if wanted == "unsatisfiable":
                self._simple(416, "range not satisfiable", {"Content-Range": f"bytes */{size}",
                                                            "Accept-Ranges": "bytes"})
                return
            if wanted is not None:
                first, last = wanted
                code = 206
            length = last - first + 1 if size else 0
            self.send_response(code)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", content_type(found.name))
            self.send_header("Content-Length", str(length))
            self.send_header("ETag", f'"{info.st_mtime_ns:x}-{size:x}"')
            self.send_header("Last-Modified", email.utils.formatdate(info.st_mtime, usegmt=True))
            if code == 206:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.end_headers()
            if body and length:
                f.seek(first)
                left = length
                while left:
                    block = f.read(min(BLOCK, left))
                    if not block:
                        break  # the file shrank while sent: the client sees a short body
                    self.wfile.write(block)
                    left -= len(block)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # a viewer cancelled a request: normal


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, root: Path, family: int, handler: type[Handler]):
        self.address_family = family
        self.root = root
        self.requests: list[tuple[str, str, int]] | None = None
        self._lock = threading.Lock()
        super().__init__(address, handler)

    def record(self, method: str, path: str, code: int) -> None:
        if self.requests is not None:
            with self._lock:
                self.requests.append((method, path, code))


def url_host(host: str) -> str:
    """How ``host`` is written in a URL that a browser on this machine opens."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Server:
    """The files below ``root`` served at ``url``, until ``close``.

    ``with Server(root) as s:`` serves on a background thread (tests, notebooks);
    ``serve_forever()`` serves on the calling thread (the command line). Port 0
    takes a free port. ``datasets``: the dataset folders below ``root`` (relative
    paths, "" for ``root`` itself), whose URLs ``dataset_urls`` gives.
    ``record_requests()`` keeps (method, path, status) of each answer in ``requests``.
    ``handler``: a subclass of ``Handler`` that answers otherwise (tests of ``check``)."""

    def __init__(self, root: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0,
                 datasets: list[str] | None = None, handler: type[Handler] = Handler):
        folder = Path(os.path.abspath(os.fspath(root)))
        if not folder.exists():
            msg = f"{folder}: does not exist"
            raise UserError(msg)
        if not folder.is_dir():
            msg = f"{folder}: not a folder (give the folder of a dataset, or one holding datasets)"
            raise UserError(msg)
        self.root = Path(os.path.realpath(folder))
        self.datasets = list(datasets or [])
        self.notes: list[str] = []  # what the caller found worth saying about the folder
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self._http = _HTTPServer((host, port), self.root, family, handler)
        except OSError as e:
            why = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
            msg = f"{host}:{port}: cannot listen: {why}"
            raise UserError(msg) from None
        self.host = host
        self.port = self._http.server_address[1]
        self.url = f"http://{url_host(host)}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        return list(self._http.requests or [])

    def record_requests(self) -> None:
        self._http.requests = []

    def url_of(self, relative: str) -> str:
        path = urllib.parse.quote(relative.strip("/"))
        return f"{self.url}/{path}" if path else self.url

    @property
    def dataset_urls(self) -> list[str]:
        return [self.url_of(d) for d in self.datasets]

    def serve_forever(self) -> None:
        self._http.serve_forever(poll_interval=0.2)

    def start(self) -> Server:
        self._thread = threading.Thread(target=self.serve_forever, name="serve", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join()
            self._thread = None
        with contextlib.suppress(OSError):
            self._http.server_close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def viewer_links(url: str) -> dict[str, str]:
    """The web viewers that open the dataset at ``url``, by name."""
    source = urllib.parse.quote(url, safe=":/")
    return {
        "validator": f"https://ome.github.io/ome-ngff-validator/?source={source}",
        "vizarr": f"https://hms-dbmi.github.io/vizarr/?source={source}",
    }
