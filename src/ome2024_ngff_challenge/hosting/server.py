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

The connections are waitress's (a well-kept pure-Python server): one thread
watches every socket and a fixed pool of threads answers requests, so an idle
connection holds no thread and is closed after ``idle_timeout``; the listen
backlog is long (a viewer opens many connections at once) and TCP_NODELAY is
set (an answer's headers and body, written apart, are not held back by Nagle's
algorithm waiting for the client's delayed ACK). This module is the WSGI
application (``Files``) and its life cycle (``Server``).
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import logging
import os
import re
import resource
import socket
import stat
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from ..errors import UserError

LOG = logging.getLogger("ome2024_ngff_challenge")
BLOCK = 1 << 20  # bytes sent per write
SMALL = 1 << 16  # files up to this size are read and sent at once
EXPOSED = "Content-Range, Content-Length, Content-Type, ETag, Last-Modified, Accept-Ranges"
# what a preflight may ask to send; Range is what viewers need (plus whatever the
# browser asks for, echoed, as S3 answers with AllowedHeaders "*")
ALLOWED_HEADERS = ("Range", "If-Range", "If-None-Match", "If-Modified-Since", "Cache-Control")
METHODS = "GET, HEAD, OPTIONS"
CORS = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", EXPOSED)]

# the server's load limits (Server's arguments)
THREADS = 16  # requests answered at once; more wait (in order) for a free thread
BACKLOG = 1024  # connections the kernel accepts before we do (a viewer opens dozens at once)
IDLE_TIMEOUT = 60  # seconds a connection may stay idle before it is closed
CONNECTION_LIMIT = 4096  # open connections at once (bounded by the open files allowed)
MAX_HEADER_BYTES = 64 * 1024  # a request line and headers longer than this: 431
MAX_BODY_BYTES = 64 * 1024  # read-only: a longer request body is refused (413), never buffered

# A number of a Range header longer than this is past the end of any file: it
# is not converted (int() of thousands of digits is slow, and refused by Python)
MAX_DIGITS = 18
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _number(text: str) -> int:
    text = text.lstrip("0") or "0"
    return int(text) if len(text) <= MAX_DIGITS else 10**MAX_DIGITS


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """The one byte range ``header`` asks of an object of ``size`` bytes:
    (first, last) inclusive; None when the header is to be ignored (not a
    byte range, several ranges, malformed: the whole object is sent); "unsatisfiable".
    Numbers are ASCII digits only (``str.isdigit`` also accepts "²")."""
    unit, _, ranges = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in ranges:
        return None
    first_text, dash, last_text = ranges.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    digits = _DIGITS.fullmatch
    if not dash or not (first_text == "" or digits(first_text)) or not (last_text == "" or digits(last_text)):
        return None
    if first_text == "":
        if last_text == "":
            return None
        suffix = _number(last_text)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = _number(first_text)
    if last_text and _number(last_text) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(_number(last_text), size - 1) if last_text else size - 1


def content_type(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name.endswith(".json") or name in (".zattrs", ".zgroup", ".zarray", ".zmetadata"):
        return "application/json"
    if name.endswith(".xml"):
        return "application/xml"
    return "application/octet-stream"


def printable(text: str) -> str:
    """``text`` for a log line: control characters escaped (a request is the client's)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


Answer = tuple[int, list[tuple[str, str]], Iterable[bytes]]
STATUS = {200: "OK", 204: "No Content", 206: "Partial Content", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 416: "Range Not Satisfiable", 500: "Internal Server Error"}


class Files:
    """The WSGI application: the files below ``root``, read-only, as S3 serves
    them. ``record(method, path, status)`` is told of each answer before it
    leaves (a client that has its answer finds it recorded)."""

    def __init__(self, root: Path, record: Callable[[str, str, int], None]):
        self.root = root
        self.record = record

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        target = environ.get("REQUEST_URI") or urllib.parse.quote(environ.get("PATH_INFO", ""))
        try:
            code, headers, body = self.answer(method, target, environ)
        except Exception as e:  # a defect of ours: one line in the log, a 500 to the client
            LOG.warning("serve: %s %s: %s: %s", method, printable(target), type(e).__name__, e)
            LOG.debug("serve: the failure", exc_info=True)
            code, headers, body = self._simple(500, "internal error", method)
        self.record(method, target, code)
        length = next((v for k, v in headers if k == "Content-Length"), "-")
        LOG.info('serve: %s "%s %s %s" %d %s', environ.get("REMOTE_ADDR", "-"), printable(method),
                 printable(target), environ.get("SERVER_PROTOCOL", ""), code, length)
        start_response(f"{code} {STATUS.get(code, 'Unknown')}", [*headers, *CORS])
        return body

    @staticmethod
    def _simple(code: int, text: str, method: str, headers: list | None = None) -> Answer:
        body = (text + "\n").encode()
        headers = [*(headers or []), ("Content-Type", "text/plain; charset=utf-8"),
                   ("Content-Length", str(len(body)))]
        return code, headers, [b"" if method == "HEAD" else body]

    def answer(self, method: str, target: str, environ: dict) -> Answer:
        if method == "OPTIONS":
            return self._preflight(environ)
        if method not in ("GET", "HEAD"):  # POST, PUT, DELETE, PROPFIND ...
            return self._simple(405, "read-only: GET, HEAD and OPTIONS only", method, [("Allow", METHODS)])
        found = self.resolve(target)
        if isinstance(found, int):
            return self._simple(found, "not found" if found == 404 else "outside the served folder", method)
        return self._file(found, method, environ)

    def resolve(self, target: str) -> Path | int:
        """The file the request target names, or the status that refuses it (403, 404)."""
        raw = urllib.parse.urlsplit(target).path
        parts = [p for p in urllib.parse.unquote(raw).split("/") if p not in ("", ".")]
        if any(p == ".." or "\\" in p or "\0" in p for p in parts):
            return 403
        candidate = self.root.joinpath(*parts)
        try:
            real = Path(os.path.realpath(candidate))
        except (OSError, ValueError):
            return 404
        if real != self.root and self.root not in real.parents:
            return 403  # a symbolic link out of the folder
        try:
            info = real.stat()
        except (OSError, ValueError):
            return 404
        if not stat.S_ISREG(info.st_mode):
            return 404  # a folder is not an object
        return real

    def _preflight(self, environ: dict) -> Answer:
        asked = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
        allowed = list(ALLOWED_HEADERS)
        known = {h.lower() for h in allowed}
        allowed += [h.strip() for h in asked.split(",") if h.strip() and h.strip().lower() not in known]
        headers = [("Access-Control-Allow-Methods", METHODS), ("Access-Control-Allow-Headers", ", ".join(allowed)),
                   ("Access-Control-Max-Age", "86400"), ("Allow", METHODS)]
        if environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "").lower() == "true":
            headers.append(("Access-Control-Allow-Private-Network", "true"))  # a public site reading loopback
        return 204, [*headers, ("Content-Length", "0")], [b""]

    def _file(self, path: Path, method: str, environ: dict) -> Answer:
        try:
            f = open(path, "rb")  # noqa: SIM115 (closed here, or by the server once sent)
        except OSError:
            return self._simple(404, "not found", method)
        try:
            info = os.fstat(f.fileno())
            size = info.st_size
            first, last, code = 0, size - 1, 200
            header = environ.get("HTTP_RANGE")
            wanted = parse_range(header, size) if header else None
            if wanted == "unsatisfiable":
                f.close()
                return self._simple(416, "range not satisfiable", method,
                                    [("Content-Range", f"bytes */{size}"), ("Accept-Ranges", "bytes")])
            if wanted is not None:
                first, last = wanted
                code = 206
            length = last - first + 1 if size else 0
            headers = [("Accept-Ranges", "bytes"), ("Content-Type", content_type(path.name)),
                       ("Content-Length", str(length)), ("ETag", f'"{info.st_mtime_ns:x}-{size:x}"'),
                       ("Last-Modified", email.utils.formatdate(info.st_mtime, usegmt=True))]
            if code == 206:
                headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
            if method == "HEAD" or not length:
                f.close()
                return code, headers, [b""]
            f.seek(first)
            if length <= SMALL:
                data = f.read(length)
                f.close()
                return code, headers, [data]
            wrapper = environ.get("wsgi.file_wrapper")
            # waitress sends Content-Length bytes from the file's position, from its own thread
            return code, headers, wrapper(f, BLOCK) if wrapper else _blocks(f, length)
        except BaseException:
            f.close()
            raise


class _ErrorAnswer(ErrorTask):
    """waitress's own answer to a request it refuses before the application
    sees it (malformed: 400; headers too large: 431; a body: 413), with CORS
    like every other answer (else a browser hides it) and in the request log."""

    def build_response_header(self) -> bytes:
        self.response_headers.extend(CORS)
        first_line = getattr(self.request, "first_line", None) or b""  # (none when the request line was bad)
        address = self.channel.addr[0] if isinstance(self.channel.addr, tuple) else "-"
        LOG.info('serve: %s "%s" %s', address, printable(first_line[:200].decode("latin-1")), self.status)
        return super().build_response_header()


class _Channel(HTTPChannel):
    error_task_class = _ErrorAnswer


def _blocks(f, length: int) -> Iterator[bytes]:
    with f:
        while length:
            block = f.read(min(BLOCK, length))
            if not block:
                return  # the file shrank while sent: the client sees a short body
            yield block
            length -= len(block)


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
    ``middleware``: wraps the WSGI application (tests of ``check`` break it so).
    ``threads``, ``idle_timeout`` (seconds), ``backlog``: the load limits."""

    def __init__(self, root: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 0,
                 datasets: list[str] | None = None, middleware: Callable | None = None,
                 threads: int = THREADS, idle_timeout: int = IDLE_TIMEOUT, backlog: int = BACKLOG):
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
        self._requests: list[tuple[str, str, int]] | None = None
        self._lock = threading.Lock()
        app = Files(self.root, self._record)
        sock = _listening_socket(host, port)
        self._map: dict = {}
        self._server = create_server(
            middleware(app) if middleware else app, map=self._map, sockets=[sock], threads=threads,
            backlog=backlog, channel_timeout=idle_timeout, cleanup_interval=max(1, min(30, idle_timeout)),
            connection_limit=_connection_limit(), ident="ome2024-ngff-challenge",
            max_request_header_size=MAX_HEADER_BYTES, max_request_body_size=MAX_BODY_BYTES,
            asyncore_use_poll=True,  # select() fails past 1024 sockets
            expose_tracebacks=False, clear_untrusted_proxy_headers=True)
        self._server.channel_class = _Channel
        # waitress says "Task queue depth is N" whenever requests wait for a thread: normal here
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self.host = host
        self.port = sock.getsockname()[1]
        self.url = f"http://{url_host(host)}:{self.port}"
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        return list(self._requests or [])

    def record_requests(self) -> None:
        self._requests = []

    def _record(self, method: str, path: str, code: int) -> None:
        if self._requests is not None:
            with self._lock:
                self._requests.append((method, path, code))

    def url_of(self, relative: str) -> str:
        path = urllib.parse.quote(relative.strip("/"))
        return f"{self.url}/{path}" if path else self.url

    @property
    def dataset_urls(self) -> list[str]:
        return [self.url_of(d) for d in self.datasets]

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            wasyncore.loop(timeout=0.2, use_poll=True, map=self._map, count=1)

    def start(self) -> Server:
        self._thread = threading.Thread(target=self.serve_forever, name="serve", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._server.pull_trigger()
            self._thread.join()
            self._thread = None
        for channel in list(self._map.values()):  # the listening socket, the connections, the trigger
            with contextlib.suppress(OSError):
                channel.close()
        # (answers still being written end as their connection is closed)
        self._server.task_dispatcher.shutdown(timeout=2)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        why = "the port is in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
        msg = f"{host}:{port}: cannot listen: {why}"
        raise UserError(msg) from None
    return sock


def _connection_limit() -> int:
    """CONNECTION_LIMIT, within the open files this process may have (raised
    to the hard limit if need be), leaving some for the files being sent."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTION_LIMIT + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY:
        return CONNECTION_LIMIT
    return max(16, min(CONNECTION_LIMIT, soft - 256))


def viewer_links(url: str) -> dict[str, str]:
    """The web viewers that open the dataset at ``url``, by name."""
    source = urllib.parse.quote(url, safe=":/")
    return {
        "validator": f"https://ome.github.io/ome-ngff-validator/?source={source}",
        "vizarr": f"https://hms-dbmi.github.io/vizarr/?source={source}",
    }
