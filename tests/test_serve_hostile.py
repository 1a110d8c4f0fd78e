"""`serve` against hostile and heavy clients: odd Range values, random
requests (hypothesis), 100 connections at once, 1000 idle ones. Structural
outcomes only (every request answered with a valid status, threads bounded by
the pool, TCP_NODELAY, idle connections closed); the times are measured by
bench/bench_serve.py."""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ome2024_ngff_challenge.hosting import Server
from ome2024_ngff_challenge.hosting.server import MAX_HEADER_BYTES, parse_range

DATA = bytes(range(256)) * 4
SECRET = b"SECRET-OUTSIDE-THE-ROOT"
VALID = {200, 204, 206, 400, 403, 404, 405, 413, 414, 416, 431}


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        return [self.format(r) for r in self.records
                if r.exc_info or "Traceback" in r.getMessage() or r.levelno >= logging.ERROR]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    top = tmp_path_factory.mktemp("hostile")
    (top / "secret.txt").write_bytes(SECRET)
    (top / "private").mkdir()
    (top / "private" / "key").write_bytes(SECRET)
    root = top / "served"
    (root / "a.zarr" / "0").mkdir(parents=True)
    (root / "notes.txt").write_bytes(DATA)
    (root / "a.zarr" / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    (root / "a.zarr" / "0" / "c").write_bytes(DATA)
    (root / "ünï cödé.bin").write_bytes(DATA)
    (root / "empty.bin").write_bytes(b"")
    os.symlink(top / "secret.txt", root / "link.txt")
    os.symlink(top / "private", root / "linked")
    return root


@pytest.fixture(scope="module")
def logs():
    handler = Records()
    loggers = [logging.getLogger(n) for n in ("ome2024_ngff_challenge", "waitress")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, levels):
        lg.removeHandler(handler)
        lg.setLevel(level)


@pytest.fixture(scope="module")
def server(root, logs):
    with Server(root) as s:
        yield s


def raw(port: int, data: bytes, timeout: float = 20) -> bytes:
    """Send ``data`` as it is and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with contextlib.suppress(OSError):
            s.sendall(data)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    return b"".join(chunks)


def statuses(answer: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", answer)]


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("GET", path)
        for name, value in (headers or {}).items():
            conn.putheader(name, value.encode("utf-8"))  # as it is, whatever the characters
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# Range values (issue 16, item 11)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "status", "first", "last"), [
    ("bytes=0-" + "9" * 5000, 206, 0, 1023),  # an end past any file: clipped
    ("bytes=" + "9" * 5000 + "-", 416, None, None),  # a start past any file
    ("bytes=-" + "9" * 5000, 206, 0, 1023),  # a suffix longer than any file: all of it
    ("bytes=" + "0" * 5000 + "1-" + "0" * 4000 + "3", 206, 1, 3),  # leading zeros are still numbers
    ("bytes=²-5", 200, 0, 1023),  # not ASCII digits: ignored
    ("bytes=0-٣", 200, 0, 1023),  # (an Arabic-Indic 3)
    ("bytes=1-2-3", 200, 0, 1023),
    ("bytes= 1 - 2 ", 206, 1, 2),
    ("bytes=+1-2", 200, 0, 1023),
    ("bytes=0x10-", 200, 0, 1023),
], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_odd_range_values(server, logs, header, status, first, last):
    got, headers, body = get(server.port, "/notes.txt", {"Range": header})
    assert got == status, header[:40]
    if status == 416:
        assert headers["content-range"] == "bytes */1024"
    else:
        assert body == DATA[first:last + 1]
    assert logs.tracebacks() == []


def test_parse_range_is_bounded_and_ascii():
    assert parse_range("bytes=0-" + "1" * 100_000, 10) == (0, 9)
    assert parse_range("bytes=" + "1" * 100_000 + "-", 10) == "unsatisfiable"
    assert parse_range("bytes=１-２", 10) is None  # fullwidth digits
    assert parse_range("bytes=³-", 10) is None


# ---------------------------------------------------------------------------
# random requests (hypothesis): always a valid answer, never a traceback,
# never anything from outside the folder
# ---------------------------------------------------------------------------

SEGMENTS = st.one_of(
    st.sampled_from(["..", ".", "%2e%2e", "%2E%2e", "..%2f..", "%2f", "%00", "%5c..", "link.txt", "linked",
                     "secret.txt", "a.zarr", "zarr.json", "0", "c", "notes.txt", "%C3%BCn%C3%AF%20c%C3%B6d%C3%A9.bin",
                     "%ff%fe", "%", "%zz", "~", "..;", "%252e%252e", "empty.bin", ""]),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=12).map(lambda t: t.replace(" ", "%20")),
    st.integers(200, 5000).map(lambda n: "x" * n),  # overlong names
)
PATHS = st.lists(SEGMENTS, max_size=8).map(lambda parts: "/" + "/".join(parts))
NUMBERS = st.one_of(st.integers(0, 3000).map(str), st.text("0123456789²³¹٣１", max_size=30),
                    st.integers(1, 6000).map(lambda n: "9" * n), st.just(""))
RANGES = st.one_of(
    st.builds(lambda a, b: f"bytes={a}-{b}", NUMBERS, NUMBERS),
    st.builds(lambda a, b, c, d: f"bytes={a}-{b},{c}-{d}", NUMBERS, NUMBERS, NUMBERS, NUMBERS),
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40),
)
METHODS = st.one_of(st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "PROPFIND",
                                     "get", "TRACE", "CONNECT", "BREW"]),
                    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ-_!", min_size=1, max_size=20))


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(method=METHODS, path=PATHS, range_=st.one_of(st.none(), RANGES),
       padding=st.sampled_from([0, 0, 0, 100, 8000, MAX_HEADER_BYTES + 100]),
       version=st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1x", ""]))
def test_random_requests(server, logs, method, path, range_, padding, version):
    lines = [f"{method} {path} {version}".rstrip(), "Host: 127.0.0.1", "Connection: close"]
    if range_ is not None:
        lines.append(f"Range: {range_}")
    if padding:
        lines.append("X-Padding: " + "p" * padding)
    answer = raw(server.port, encode("\r\n".join(lines) + "\r\n\r\n"))
    codes = statuses(answer)
    assert codes, answer[:200]
    assert set(codes) <= VALID, (codes, answer[:300])
    assert SECRET not in answer
    assert logs.tracebacks() == []


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(garbage=st.binary(max_size=3000))
def test_garbage_bytes(server, logs, garbage):
    answer = raw(server.port, garbage + b"\r\n\r\n")
    assert set(statuses(answer)) <= VALID
    assert SECRET not in answer
    assert logs.tracebacks() == []


def test_nul_and_unicode_paths(server, logs):
    status, _, body = get(server.port, "/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9.bin")
    assert status == 200 and body == DATA
    for path in ("/notes.txt%00", "/%00", "/a.zarr/%00/zarr.json", "/" + "x" * 70_000):
        answer = raw(server.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert statuses(answer) and statuses(answer)[0] in (403, 404, 431), path[:20]
    assert logs.tracebacks() == []


def test_refusals_of_the_http_layer_have_cors(server):
    for request in (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (MAX_HEADER_BYTES + 10) + b"\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"):
        answer = raw(server.port, request)
        assert statuses(answer)[0] in (400, 431), answer[:100]
        assert b"\r\nAccess-Control-Allow-Origin: *\r\n" in answer, answer[:300]


def test_request_bodies_are_not_buffered(server):
    """Read-only: a large body is refused, not read into memory or onto disk."""
    head = b"PUT /notes.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\n"
    answer = raw(server.port, head + b"x" * 1000)
    assert statuses(answer)[0] in (405, 413)


# ---------------------------------------------------------------------------
# load (issue 16, item 12)
# ---------------------------------------------------------------------------


def test_100_parallel_connections_are_all_answered(server):
    count = 100
    barrier = threading.Barrier(count)
    results: list[int] = []

    def one():
        barrier.wait()
        try:
            results.append(get(server.port, "/a.zarr/0/c")[0])
        except OSError as e:
            results.append(repr(e))

    workers = [threading.Thread(target=one) for _ in range(count)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert results == [200] * count


def test_keep_alive_answers_are_not_held_back(server):
    """TCP_NODELAY on the server's end of every connection: an answer written
    in two parts (headers, body) is not held back until the client's delayed
    ACK (~40 ms a request). Several requests on one connection answered."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        for _ in range(5):
            conn.request("GET", "/a.zarr/0/c", headers={"Range": "bytes=0-99"})
            response = conn.getresponse()
            assert response.status == 206 and response.read() == DATA[:100]
        ours = conn.sock.getsockname()
        peers = [c.socket for c in list(server._map.values())
                 if getattr(c, "addr", None) is not None and c.socket.getpeername() == ours]
        assert len(peers) == 1
        assert peers[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()


def test_idle_connections_hold_no_thread(server):
    before = threading.active_count()
    idle = []
    try:
        for _ in range(1000):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=60))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(server._server.active_channels) < 1000:
            time.sleep(0.05)  # until the server has accepted them all
        assert len(server._server.active_channels) >= 1000
        assert threading.active_count() <= before  # no thread per connection: the pool only
        status, _, body = get(server.port, "/notes.txt")  # and it keeps answering
        assert status == 200 and body == DATA
    finally:
        for s in idle:
            s.close()


def test_idle_connections_are_closed_after_the_idle_timeout(root):
    before = threading.active_count()  # other tests' threads may still be alive: counted relative to them
    with Server(root, idle_timeout=1, threads=2) as s:
        assert threading.active_count() <= before + 4  # its loop and its pool of 2, nothing per connection
        conn = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        talked = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        try:
            talked.sendall(b"GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            began = time.monotonic()
            assert conn.recv(1) == b""  # closed by the server (the timeout of recv is 60 s)
            assert time.monotonic() - began < 55
            received = b""
            while True:  # the answer, then the close
                chunk = talked.recv(1 << 16)
                if not chunk:
                    break
                received += chunk
            assert statuses(received) == [200] and received.endswith(DATA)
        finally:
            conn.close()
            talked.close()
