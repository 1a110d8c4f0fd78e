"""Inputs read over HTTP, as viewers and validators read them: a folder served
by Python's http.server on loopback (no listing is used)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path

import pytest

import checks
import s3_server
from conftest import build_bioformats2raw, build_image_2d, build_image_5d, build_image_with_labels, build_plate
from ome2024_ngff_challenge.stores.http import HTTPStore
from ome2024_ngff_challenge.stores.remote import MAX_RETRIES, RETRY_TIMEOUT_ENV

CASES = {
    "image_5d": build_image_5d,
    "image_2d": build_image_2d,
    "labels": build_image_with_labels,
    "plate": build_plate,
    "bioformats2raw": build_bioformats2raw,
}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    failures: dict[str, int] = {}  # path -> how many more times to answer 503
    forbidden: set[str] = set()  # paths answered with 403
    lock = threading.Lock()
    requests: list[tuple[str, str]] = []

    def log_message(self, *args) -> None:
        pass

    def _maybe_fail(self) -> bool:
        with self.lock:
            self.requests.append((self.command, self.path))
            left = self.failures.get(self.path, 0)
            if left:
                self.failures[self.path] = left - 1
        if self.path in self.forbidden:
            self.send_error(403, "Forbidden")
            return True
        if left:
            self.send_error(503, "Slow Down")
            return True
        return False

    def do_GET(self) -> None:
        if not self._maybe_fail():
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._maybe_fail():
            super().do_HEAD()


@contextlib.contextmanager
def serving(folder: Path):
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        QuietHandler.failures.clear()
        QuietHandler.forbidden.clear()
        QuietHandler.requests.clear()


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, "5")
    root = tmp_path / "site"
    root.mkdir()
    with serving(root) as url:
        yield root, url


@pytest.mark.parametrize("case", list(CASES))
def test_http_to_local(case, site, tmp_path, convert):
    root, url = site
    expected = CASES[case](root / "data" / "in.zarr")
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"{url}/data/in.zarr", out)
    assert run.rc == 0, str(run)
    checks.check_conversion(root / "data" / "in.zarr", out, expected=expected)
    listing = [r for r in QuietHandler.requests if r[0] not in ("GET", "HEAD")]
    assert not listing, f"requests other than GET/HEAD: {listing}"


def test_http_byte_copy(site, tmp_path, convert):
    root, url = site
    expected = build_image_5d(root / "in.zarr")
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", "--output-codec=keep", f"{url}/in.zarr/", out)
    assert run.rc == 0, str(run)
    checks.check_conversion(root / "in.zarr", out, expected=expected, validators=False)


def test_transient_server_errors_are_retried(site, tmp_path, convert):
    """503 Slow Down on the first request for each chunk and metadata file."""
    root, url = site
    expected = build_image_with_labels(root / "in.zarr")
    for path in (root / "in.zarr").rglob("*"):
        if path.is_file():
            QuietHandler.failures["/" + path.relative_to(root).as_posix()] = 1
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"{url}/in.zarr", out)
    assert run.rc == 0, str(run)
    assert not any(QuietHandler.failures.values()), "some files were never asked for twice"
    checks.check_conversion(root / "in.zarr", out, expected=expected, validators=False)


def test_errors_beyond_obstores_own_retries_are_retried_within_the_budget(site, tmp_path, convert, monkeypatch):
    """obstore gives up after MAX_RETRIES retries however quick they were; a
    chunk answered 503 more often than that still comes, within the budget."""
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, "60")
    root, url = site
    expected = build_image_2d(root / "in.zarr")
    QuietHandler.failures["/in.zarr/0/1/1"] = 2 * MAX_RETRIES + 2
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"{url}/in.zarr", out)
    assert run.rc == 0, str(run)
    assert QuietHandler.failures["/in.zarr/0/1/1"] == 0
    assert sum(r == ("GET", "/in.zarr/0/1/1") for r in QuietHandler.requests) == 2 * MAX_RETRIES + 3
    checks.check_conversion(root / "in.zarr", out, expected=expected, validators=False)


def test_persistent_server_errors_fail_clearly(site, tmp_path, convert, monkeypatch):
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, "1")
    root, url = site
    build_image_2d(root / "in.zarr")
    QuietHandler.failures["/in.zarr/0/1/1"] = 10**6
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"{url}/in.zarr", out)
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"{url}/in.zarr/0/1/1", "503")
    checks.assert_no_complete_output(out)


def test_forbidden_chunk_is_an_error_not_fill(site, tmp_path, convert):
    root, url = site
    build_image_2d(root / "in.zarr")
    QuietHandler.forbidden.add("/in.zarr/0/1/1")
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"{url}/in.zarr", out)
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"{url}/in.zarr/0/1/1", "access denied (HTTP 403)")
    checks.assert_no_complete_output(out)


def test_missing_dataset(site, tmp_path, convert):
    _, url = site
    run = convert("resave", f"{url}/nothing.zarr", tmp_path / "out.zarr")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"{url}/nothing.zarr", "does not exist")


def test_nobody_listening(tmp_path, convert, monkeypatch):
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, "1")
    port = s3_server.free_ports(1)[0]
    run = convert("resave", f"http://127.0.0.1:{port}/in.zarr", tmp_path / "out.zarr")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"http://127.0.0.1:{port}/in.zarr", "connection refused")


def test_http_output_refused(site, tmp_path, convert):
    _, url = site
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    run = convert("resave", src, f"{url}/out.zarr")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, f"{url}/out.zarr", "read-only")


def test_read_details_over_http(site, tmp_path, convert):
    root, url = site
    expected = build_image_2d(root / "in.zarr")
    (root / "details.json").write_text('[{"chunks": [16, 16], "shards": [64, 64]}, {"chunks": [16, 16], "shards": null}]')
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"--output-read-details={url}/details.json", f"{url}/in.zarr", out)
    assert run.rc == 0, str(run)
    report = checks.check_conversion(root / "in.zarr", out, expected=expected, validators=False)
    assert checks.chunks_and_shards(report.arrays["0"]) == ([16, 16], [64, 64])
    assert checks.chunks_and_shards(report.arrays["1"]) == ([16, 16], None)


def test_http_store_is_read_only(site):
    _, url = site
    store = HTTPStore(url)
    assert store.list_dir("") == ([], [])
    assert store.get("nothing") is None and not store.exists("nothing")
    for action in (lambda: store.put("k", b"x"), lambda: store.delete("k"), store.delete_tree):
        with pytest.raises(Exception, match="read-only"):
            action()
    with pytest.raises(Exception, match="read-only"), store.writer("k") as f:
        f.write(b"x")


def test_unlisted_nodes_cannot_be_found_over_http_and_it_is_said_once(site, tmp_path, convert):
    """HTTP cannot list folders: what the OME metadata references is converted,
    and one line says that anything else could not be looked for."""
    root, url = site
    expected = build_image_2d(root / "in.zarr")
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"{url}/in.zarr", out)
    assert run.rc == 0, str(run)
    said = [ln for ln in run.err.splitlines() if "cannot be listed" in ln]
    assert len(said) == 1 and said[0].startswith(f"warning: {url}/in.zarr: "), run.err
    checks.check_conversion(root / "in.zarr", out, expected=expected, validators=False)
