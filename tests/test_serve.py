"""`serve`: a folder of converted datasets served over HTTP as S3 serves them to
web viewers (byte ranges, HEAD, CORS, 404s; read-only, nothing outside the
folder), and `validate http://...` checking what a server gives viewers: our
own `serve` passes, Python's `http.server` (no ranges, no CORS) does not."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

import checks
from conftest import build_image_with_labels, build_plate
from ome2024_ngff_challenge import api
from ome2024_ngff_challenge.hosting import Server, viewer_links
from ome2024_ngff_challenge.hosting.check import MISSING_KEY
from ome2024_ngff_challenge.stores.remote import RETRY_TIMEOUT_ENV

PACKAGE_PARENT = str(Path(api.__file__).parent.parent)
CRATE = {"license": "cc-by", "organism": "NCBI:txid9606", "modality": "obo:FBbi_00000369"}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder holding two converted datasets (an image with labels, a plate),
    a Zarr v2 one and a few plain files."""
    root = tmp_path_factory.mktemp("serve")
    build_image_with_labels(root / "in-image.zarr")
    build_plate(root / "in-plate.zarr")
    site = root / "site"
    api.resave(root / "in-image.zarr", site / "image.zarr", **CRATE)
    api.resave(root / "in-plate.zarr", site / "screens" / "plate.zarr", **CRATE)
    build_image_with_labels(site / "v2.zarr")
    (site / "notes.txt").write_bytes(bytes(range(256)) * 4)
    (site / "empty.bin").write_bytes(b"")
    (root / "secret.txt").write_text("SECRET")
    return site


@pytest.fixture(scope="module")
def server(site):
    with api.serve(site) as s:
        yield s


def request(server, method: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request with the path sent exactly as given (no normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def assert_cors(headers: dict) -> None:
    assert headers.get("access-control-allow-origin") == "*", headers
    exposed = {h.strip().lower() for h in headers.get("access-control-expose-headers", "").split(",")}
    assert {"content-range", "content-length", "etag"} <= exposed, headers


def test_datasets_found_and_links(server, site):
    assert server.datasets == ["image.zarr", "screens/plate.zarr"]
    assert server.dataset_urls == [f"{server.url}/image.zarr", f"{server.url}/screens/plate.zarr"]
    assert any("v2.zarr" in note and "Zarr v2" in note for note in server.notes)
    links = viewer_links(f"{server.url}/image.zarr")
    assert links == {"validator": f"https://ome.github.io/ome-ngff-validator/?source={server.url}/image.zarr",
                     "vizarr": f"https://hms-dbmi.github.io/vizarr/?source={server.url}/image.zarr"}


def test_whole_objects_and_head(server, site):
    data = (site / "notes.txt").read_bytes()
    status, headers, body = request(server, "GET", "/notes.txt")
    assert status == 200 and body == data and headers["content-length"] == str(len(data))
    assert headers["accept-ranges"] == "bytes" and headers["etag"]
    assert_cors(headers)
    status, headers, body = request(server, "HEAD", "/notes.txt")
    assert status == 200 and body == b"" and headers["content-length"] == str(len(data))
    assert headers["accept-ranges"] == "bytes"
    assert_cors(headers)
    status, headers, body = request(server, "GET", "/image.zarr/zarr.json")
    assert status == 200 and headers["content-type"] == "application/json"
    assert body == (site / "image.zarr" / "zarr.json").read_bytes()
    status, headers, body = request(server, "GET", "/empty.bin")
    assert status == 200 and body == b"" and headers["content-length"] == "0"


@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-0", 0, 0),
    ("bytes=10-19", 10, 19),
    ("bytes=1000-", 1000, 1023),
    ("bytes=1000-5000", 1000, 1023),  # the end is clipped to the object
    ("bytes=-16", 1008, 1023),  # a suffix: a shard's index
    ("bytes=-5000", 0, 1023),  # a suffix longer than the object: all of it
])
def test_single_ranges(server, site, header, first, last):
    data = (site / "notes.txt").read_bytes()
    status, headers, body = request(server, "GET", "/notes.txt", {"Range": header})
    assert status == 206, header
    assert body == data[first:last + 1]
    assert headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
    assert headers["content-length"] == str(last - first + 1)
    assert_cors(headers)


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges(server, header):
    status, headers, _ = request(server, "GET", "/notes.txt", {"Range": header})
    assert status == 416 and headers["content-range"] == "bytes */1024"
    assert_cors(headers)
    status, headers, _ = request(server, "GET", "/empty.bin", {"Range": "bytes=0-"})
    assert status == 416 and headers["content-range"] == "bytes */0"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=5-2", "bytes=abc", "lines=0-1", "bytes=-"])
def test_several_or_malformed_ranges_give_the_whole_object(server, site, header):
    """As the RFC allows (and S3 does for several ranges): 200 and the whole object."""
    status, headers, body = request(server, "GET", "/notes.txt", {"Range": header})
    assert status == 200 and body == (site / "notes.txt").read_bytes() and "content-range" not in headers


def test_ranges_of_a_shard(server, site):
    shard = next(p for p in sorted((site / "image.zarr" / "0").rglob("*")) if p.is_file() and p.name != "zarr.json")
    data = shard.read_bytes()
    key = "/" + shard.relative_to(site).as_posix()
    status, headers, body = request(server, "GET", key, {"Range": "bytes=-20"})
    assert status == 206 and body == data[-20:]
    status, headers, body = request(server, "GET", key, {"Range": f"bytes=3-{len(data) - 4}"})
    assert status == 206 and body == data[3:-3]


def test_preflight_allows_range(server):
    status, headers, body = request(server, "OPTIONS", "/image.zarr/0/zarr.json", {
        "Origin": "https://ome.github.io", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range, x-custom"})
    assert status == 204 and body == b""
    assert_cors(headers)
    methods = {m.strip() for m in headers["access-control-allow-methods"].split(",")}
    assert {"GET", "HEAD", "OPTIONS"} <= methods
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert {"range", "x-custom"} <= allowed
    assert "access-control-allow-private-network" not in headers
    status, headers, _ = request(server, "OPTIONS", "/image.zarr/zarr.json", {
        "Origin": "https://hms-dbmi.github.io", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Private-Network": "true"})
    assert status == 204 and headers["access-control-allow-private-network"] == "true"


@pytest.mark.parametrize("path", ["/image.zarr/.zattrs", "/image.zarr/.zgroup", "/nothing/zarr.json",
                                  "/image.zarr/0/c/9/9/9", "/image.zarr", "/image.zarr/", "/"])
def test_missing_keys_and_folders_are_404(server, path):
    """Viewers probe for keys (a v2 dataset's .zattrs, chunks never written):
    a 404 with CORS, never a 500; a folder is not listed."""
    status, headers, _ = request(server, "GET", path)
    assert status == 404
    assert_cors(headers)
    status, headers, _ = request(server, "HEAD", path)
    assert status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
def test_read_only(server, site, method):
    before = checks.tree_digest(site)
    status, headers, _ = request(server, method, "/notes.txt", {"Content-Length": "0"})
    assert status == 405 and "GET" in headers["allow"]
    assert_cors(headers)
    assert checks.tree_digest(site) == before


@pytest.mark.parametrize("path", ["/../secret.txt", "/image.zarr/../../secret.txt", "/%2e%2e/secret.txt",
                                  "/image.zarr/%2E%2E/%2E%2E/secret.txt", "/..%2fsecret.txt"])
def test_nothing_above_the_folder(server, path):
    status, headers, body = request(server, "GET", path)
    assert status in (403, 404) and b"SECRET" not in body, (status, body)
    assert_cors(headers)


def test_symbolic_links_out_of_the_folder_are_refused(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "key").write_text("secret")
    (root / "data.bin").write_bytes(b"0123456789")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    os.symlink(tmp_path / "private", root / "linked-folder")
    os.symlink(root / "data.bin", root / "inside-link.bin")
    with api.serve(root) as s:
        for path in ("/link.txt", "/linked-folder/key"):
            status, headers, body = request(s, "GET", path)
            assert status == 403 and b"secret" not in body, path
            assert_cors(headers)
        status, _, body = request(s, "GET", "/inside-link.bin")
        assert status == 200 and body == b"0123456789"  # a link that stays inside is followed
        assert s.datasets == [] and s.notes  # no dataset: said, and served all the same


def test_requests_can_be_recorded(site):
    with api.serve(site / "image.zarr") as s:
        s.record_requests()
        assert s.datasets == [""] and s.dataset_urls == [s.url]
        request(s, "GET", "/zarr.json", {"Range": "bytes=0-1"})
        request(s, "GET", "/nothing")
        assert s.requests == [("GET", "/zarr.json", 206), ("GET", "/nothing", 404)]


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------


def start_command(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    return subprocess.Popen([sys.executable, "-m", "ome2024_ngff_challenge", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)


def test_command_serves_until_ctrl_c(site):
    proc = start_command(str(site), "--port", "0")
    try:
        first = proc.stdout.readline()
        found = re.search(r"at (http://127\.0\.0\.1:(\d+))/", first)
        assert found, first + proc.stderr.read()
        url, port = found.group(1), int(found.group(2))
        assert port > 0
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(6)]
        quoted = urllib.parse.quote(f"{url}/image.zarr", safe=":/")
        assert lines[:3] == [f"dataset: {url}/image.zarr",
                             f"  validator: https://ome.github.io/ome-ngff-validator/?source={quoted}",
                             f"  vizarr: https://hms-dbmi.github.io/vizarr/?source={quoted}"]
        assert lines[3] == f"dataset: {url}/screens/plate.zarr"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/screens/plate.zarr/zarr.json", headers={"Range": "bytes=0-0"})
        response = conn.getresponse()
        assert response.status == 206 and response.read() == b"{"
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err
    assert "v2.zarr" in err  # the Zarr v2 dataset is named, not listed


def test_bad_path_is_one_line(convert, tmp_path, site):
    run = convert("serve", tmp_path / "nothing-here")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "nothing-here", "does not exist")
    run = convert("serve", site / "notes.txt")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "notes.txt", "not a folder")


def test_port_in_use_is_one_line(convert, server, site):
    run = convert("serve", site, "--port", server.port)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, str(server.port), "cannot listen")
    run = convert("serve", site, "--port", "70000")
    assert run.rc != 0 and "70000" in run.err


# ---------------------------------------------------------------------------
# validate http(s)://: what the server gives viewers
# ---------------------------------------------------------------------------


def test_validate_our_server_passes(server):
    for name in ("image.zarr", "screens/plate.zarr"):
        report = api.validate(f"{server.url}/{name}")
        assert report.valid and report.warnings == [], report.warnings


@contextlib.contextmanager
def python_http_server(folder: Path):
    """Python's own `python3 -m http.server` on loopback: no ranges, no CORS."""
    proc = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                             "--directory", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline()
        port = re.search(r"port (\d+)", line)
        assert port, line
        yield f"http://127.0.0.1:{port.group(1)}"
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_validate_python_http_server_warns(site, convert):
    with python_http_server(site) as url:
        report = api.validate(f"{url}/image.zarr")
        run = convert("validate", f"{url}/image.zarr")
        quiet = api.validate(f"{url}/image.zarr", hosting=False)
    assert quiet.valid and quiet.warnings == []
    assert report.valid  # the dataset is fine; its hosting is not
    messages = [w["message"] for w in report.warnings]
    assert len(messages) == 3, messages
    ranged, preflight, cors = messages
    assert "answered with 200 and the whole object" in ranged and "vizarr" in ranged and "sharded" in ranged
    assert "CORS preflight" in preflight and "501" in preflight and "OME-NGFF validator" in preflight
    assert "no Access-Control-Allow-Origin" in cors and "neuroglancer" in cors and "a 404" in cors
    assert all(w["path"].startswith("0/c/") for w in report.warnings)  # a shard of the first array
    assert run.rc == 0 and run.out.count("warning: ") == 3 and "0 errors, 3 warnings" in run.out


def misbehaving(mode: str):
    """Middleware taking from our server one thing viewers need (``mode``)."""

    def wrap(app):
        def broken(environ, start_response):
            path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
            wanted = environ.get("HTTP_RANGE", "")
            if mode == "403 for missing keys" and MISSING_KEY in path:
                # (only for the probe: the walk itself stops at the first 403)
                start_response("403 Forbidden", [("Content-Length", "0"), ("Access-Control-Allow-Origin", "*")])
                return [b""]
            if mode == "suffix ranges ignored" and wanted.startswith("bytes=-"):
                del environ["HTTP_RANGE"]
            elif mode == "ranges off by one" and re.fullmatch(r"bytes=\d+-\d+", wanted):
                first, last = (int(n) for n in wanted[6:].split("-"))
                environ["HTTP_RANGE"] = f"bytes={first + 1}-{last + 1}"

            def respond(status, headers, exc_info=None):
                kept = []
                for name, value in headers:
                    if mode == "no CORS on 404" and status.startswith("404") and name == "Access-Control-Allow-Origin":
                        continue
                    if mode == "HEAD without length" and method == "HEAD" and name == "Content-Length" \
                            and "/c/" in path:  # (of data only: obstore, under validate's walk, needs it of metadata)
                        continue
                    if mode == "preflight without Range" and name == "Access-Control-Allow-Headers":
                        value = "Content-Type"
                    kept.append((name, value))
                return start_response(status, kept, exc_info)

            body = app(environ, respond)
            # (a list of one item would have the server add Content-Length itself)
            return iter(body) if mode == "HEAD without length" and method == "HEAD" else body

        return broken

    return wrap


BREAKAGES = {
    "HEAD without length": "HEAD answered no Content-Length: vizarr, the OME-NGFF validator and ome-zarr.js",
    "403 for missing keys": "a key that does not exist was answered with HTTP 403, not 404",
    "no CORS on 404": "no Access-Control-Allow-Origin on the answers to a 404",
    "suffix ranges ignored": "a suffix range (Range: bytes=-16) was answered with HTTP 200",
    "ranges off by one": "was answered with HTTP 206 (Content-Range 'bytes ",
    "preflight without Range": "(Range not in Access-Control-Allow-Headers)",
}


@pytest.mark.parametrize("mode", list(BREAKAGES))
def test_validate_names_each_missing_piece(mode, site, monkeypatch):
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, "5")
    with Server(site, middleware=misbehaving(mode)) as s:
        report = api.validate(f"{s.url}/image.zarr")
    assert report.valid
    assert len(report.warnings) == 1, report.warnings
    assert BREAKAGES[mode] in report.warnings[0]["message"], report.warnings[0]["message"]
