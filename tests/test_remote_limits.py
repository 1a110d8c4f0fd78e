"""Hostile HTTP servers (on 127.0.0.1) against `validate URL` and `resave URL`:
a metadata document of 3 GB (announced, or sent without end), a slow drip, an
answer without Content-Length. Each ends in one line naming the URL and the
limit (and the variable that changes it), in bounded time and memory (peak RSS
of the command's process)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import obstore
import pytest
from obstore.store import MemoryStore

import checks
from ome2024_ngff_challenge import api
from ome2024_ngff_challenge.errors import InputError, UserError
from ome2024_ngff_challenge.stores.http import HTTPStore
from ome2024_ngff_challenge.stores.remote import (
    MAX_METADATA_ENV,
    REQUEST_TIMEOUT_ENV,
    RETRY_TIMEOUT_ENV,
    TooLarge,
    is_metadata,
    read_body,
)

PACKAGE_PARENT = str(Path(api.__file__).parent.parent)
VALIDATE_TIMEOUT_ENV = api.VALIDATE_TIMEOUT_ENV
GROUP = b'{"zarr_format": 2}'
HUGE = 3 * 10**9
BLOCK = b"\0" * 65536
MEMORY_BOUND_KB = 600_000  # a few hundred MB at most for the interpreter and its libraries, never gigabytes


def _request(conn: socket.socket) -> tuple[str, str] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(4096)
        if not piece:
            return None
        data += piece
    method, path = data.split(b" ", 2)[:2]
    return method.decode(), path.decode()


def _endless(conn: socket.socket) -> None:
    while True:
        conn.sendall(BLOCK)


def _answer(conn: socket.socket, method: str, path: str) -> None:
    """What each path answers (the last folder of the path says how)."""
    name = path.rsplit("/", 1)[-1]
    how = path.strip("/").split("/")[0]
    if name not in ("zarr.json", ".zattrs", ".zgroup", ".zarray") or (name == "zarr.json" and "v2" in path):
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    elif name == ".zgroup":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(GROUP), GROUP))
    elif how == "huge":  # says 3 GB, and sends them
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % HUGE)
        if method != "HEAD":
            _endless(conn)
    elif how == "lying":  # says 40 bytes, sends without end
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\nConnection: close\r\n\r\n")
        if method != "HEAD":
            _endless(conn)
    elif how == "chunked":  # no Content-Length, a chunked body without end
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        if method != "HEAD":
            while True:
                conn.sendall(b"10000\r\n" + BLOCK + b"\r\n")
    elif how == "drip":  # one byte at a time
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        if method != "HEAD":
            while True:
                conn.sendall(b" ")
                time.sleep(0.2)
    else:
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


@contextlib.contextmanager
def hostile_server() -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    stop = threading.Event()

    def talk(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while not stop.is_set():
                asked = _request(conn)
                if asked is None:
                    return
                _answer(conn, *asked)

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                threading.Thread(target=talk, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


@pytest.fixture(scope="module")
def hostile():
    with hostile_server() as url:
        yield url


def run_measured(*args: str, env: dict, timeout: float = 120) -> tuple[int, str, str, int, float]:
    """The command in a subprocess: (exit status, stdout, stderr, peak RSS in KiB, seconds)."""
    full_env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT, **env}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "ome2024_ngff_challenge", *args], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, env=full_env)
        deadline = began + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        took = time.monotonic() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), usage.ru_maxrss, took


FAST = {RETRY_TIMEOUT_ENV: "1", REQUEST_TIMEOUT_ENV: "20", VALIDATE_TIMEOUT_ENV: "60"}


@pytest.mark.parametrize(("command", "name"), [("validate", "zarr.json"), ("resave", "zarr.json"),
                                               ("resave", ".zattrs")])  # (validate stops at a v2 .zgroup)
def test_huge_metadata_is_refused_from_its_length(hostile, tmp_path, command, name):
    url = f"{hostile}/huge/d.zarr"
    args = ["validate", url] if command == "validate" else ["resave", url, str(tmp_path / "out.zarr")]
    # a v2 dataset: .zgroup small, .zattrs huge; a v3 one: zarr.json huge
    if name == ".zattrs":
        url = f"{hostile}/huge/v2.zarr"
        args[1] = url
    rc, out, err, peak, took = run_measured(*args, env=FAST)
    assert rc != 0
    if command == "validate":  # a report: the dataset's errors on stdout
        assert "Traceback" not in err and err.strip() == ""
        line = next(ln for ln in out.splitlines() if "/huge/" in ln and name in ln)
        assert MAX_METADATA_ENV in line and "67,108,864" in line
    else:
        line = checks.assert_one_line_error(err, "/huge/", MAX_METADATA_ENV, "67,108,864")
    assert "3,000,000,000 bytes" in line
    assert peak < MEMORY_BOUND_KB, peak
    assert took < 60
    assert not (tmp_path / "out.zarr").exists() or not any((tmp_path / "out.zarr").rglob("*.json"))


def test_the_limit_is_set_by_its_variable(hostile, tmp_path):
    out = str(tmp_path / "out.zarr")
    rc, _, err, _, _ = run_measured("resave", f"{hostile}/huge/d.zarr", out, env={**FAST, MAX_METADATA_ENV: "1000"})
    assert rc != 0
    checks.assert_one_line_error(err, "/huge/d.zarr/", "(1,000 bytes", MAX_METADATA_ENV)
    rc, _, err, _, _ = run_measured("resave", f"{hostile}/huge/d.zarr", out, env={**FAST, MAX_METADATA_ENV: "x"})
    assert rc != 0
    checks.assert_one_line_error(err, MAX_METADATA_ENV, "'x'")


def test_lying_length_is_read_no_further(hostile, tmp_path):
    """Content-Length 40, then bytes without end: 40 bytes are read (not JSON)."""
    rc, _, err, peak, took = run_measured("resave", f"{hostile}/lying/d.zarr", str(tmp_path / "o.zarr"), env=FAST)
    assert rc != 0
    checks.assert_one_line_error(err, "/lying/d.zarr/", "not valid JSON")
    assert peak < MEMORY_BOUND_KB and took < 60


def test_endless_chunked_body_fails_at_once(hostile, monkeypatch):
    """No Content-Length: refused without retrying (the default retry budget is 120 s)."""
    monkeypatch.delenv(RETRY_TIMEOUT_ENV, raising=False)
    store = HTTPStore(f"{hostile}/chunked/d.zarr")
    began = time.monotonic()
    with pytest.raises(InputError) as caught:
        store.get("zarr.json")
    with pytest.raises(InputError) as caught_head:
        store.exists("zarr.json")  # HEAD without Content-Length
    assert time.monotonic() - began < 30
    for error in (caught.value, caught_head.value):
        assert "Content-Length" in str(error) and "/chunked/d.zarr/" in str(error)
        assert "\n" not in str(error)


def test_slow_drip_is_cut_at_the_request_deadline(hostile, tmp_path):
    env = {RETRY_TIMEOUT_ENV: "0", REQUEST_TIMEOUT_ENV: "2"}
    rc, _, err, _, took = run_measured("resave", f"{hostile}/drip/d.zarr", str(tmp_path / "o.zarr"), env=env)
    assert rc != 0
    checks.assert_one_line_error(err, "/drip/d.zarr/", REQUEST_TIMEOUT_ENV, "2 s")
    assert took < 60


@pytest.mark.parametrize("how", ["env", "option"])
def test_slow_drip_is_cut_at_the_deadline_of_validate(hostile, how):
    env = {RETRY_TIMEOUT_ENV: "30", REQUEST_TIMEOUT_ENV: "300"}
    args = ["validate", f"{hostile}/drip/d.zarr"]
    if how == "env":
        env[VALIDATE_TIMEOUT_ENV] = "3"
    else:
        args += ["--timeout", "3"]
    rc, _, err, _, took = run_measured(*args, env=env)
    assert rc != 0
    needle = VALIDATE_TIMEOUT_ENV if how == "env" else "--timeout"
    checks.assert_one_line_error(err, "/drip/d.zarr/", "3 s", needle)
    assert took < 60


def test_api_validate_timeout(hostile, monkeypatch):
    monkeypatch.setenv(REQUEST_TIMEOUT_ENV, "300")
    began = time.monotonic()
    with pytest.raises(InputError) as caught:
        api.validate(f"{hostile}/drip/d.zarr", timeout=2)
    assert "gave up" in str(caught.value) and "timeout" in str(caught.value)
    assert time.monotonic() - began < 60
    with pytest.raises(UserError, match="timeout=0: expected a number of seconds above 0"):
        api.validate(f"{hostile}/drip/d.zarr", timeout=0)


def test_metadata_keys_and_s3_sizes():
    """The same reading serves S3 (obstore): an object's size is checked before its bytes."""
    assert all(is_metadata(k) for k in ("zarr.json", "a/.zattrs", ".zgroup", "0/.zarray", ".zmetadata",
                                        "OME/METADATA.ome.xml", "ro-crate-metadata.json"))
    assert not any(is_metadata(k) for k in ("0/c/0/0", "0/0.0", "c/json"))
    memory = MemoryStore()
    obstore.put(memory, "zarr.json", b"{" + b" " * 5000 + b"}")
    with pytest.raises(TooLarge, match="5,002 bytes.*4,096"):
        read_body(obstore.get(memory, "zarr.json"), 4096)
    assert len(read_body(obstore.get(memory, "zarr.json"), 10_000)) == 5002
    assert len(read_body(obstore.get(memory, "zarr.json"), None)) == 5002


def dripping(app):
    """Middleware for our own server: the chunks and shards drip, one byte at a time."""

    def slow(environ, start_response):
        body = app(environ, start_response)
        if "/c/" not in environ.get("PATH_INFO", "") or environ["REQUEST_METHOD"] != "GET":
            return body

        def drip():
            for piece in body:
                for i in range(len(piece)):
                    time.sleep(0.2)
                    yield piece[i:i + 1]

        return drip()

    return slow


def test_the_deadline_of_validate_holds_for_the_hosting_check(tmp_path, monkeypatch):
    """The metadata come quickly, the shards drip: the checks of what viewers
    need (which read a shard) end at the deadline too, with warnings."""
    from conftest import build_image_with_labels
    from ome2024_ngff_challenge.hosting import Server

    build_image_with_labels(tmp_path / "in.zarr")
    api.resave(tmp_path / "in.zarr", tmp_path / "site" / "out.zarr", license="cc-by", organism="NCBI:txid9606",
               modality="obo:FBbi_00000369")
    monkeypatch.setenv(REQUEST_TIMEOUT_ENV, "300")
    with Server(tmp_path / "site", middleware=dripping) as s:
        began = time.monotonic()
        report = api.validate(f"{s.url}/out.zarr", timeout=4)
        took = time.monotonic() - began
    assert took < 40, took
    assert report.valid  # the dataset is fine
    assert report.warnings and all("cannot check" in w["message"] or "no time left" in w["message"]
                                   or "within" in w["message"] for w in report.warnings), report.warnings


def test_a_server_that_is_not_there_is_said_at_once(tmp_path):
    """Nothing listens at the port (a wrong port or host): refused connections from a server that
    never answered are not retried for minutes (the retry budget, per request), one line names it.
    A server that answered before and then refuses is retried (test_http: a restarting server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/data.zarr"
    proc = subprocess.run([sys.executable, "-m", "ome2024_ngff_challenge", "validate", url], capture_output=True,
                          text=True, timeout=100, check=False)  # the retry budget alone is 120 s a request
    assert proc.returncode == 1
    line = checks.assert_one_line_error(proc.stderr, f"127.0.0.1:{port}", "connection refused")
    assert "Traceback" not in proc.stderr, line
