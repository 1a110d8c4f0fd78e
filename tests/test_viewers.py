"""Our outputs opened the way the web viewers open them, with their own npm
libraries, over HTTP from `serve`:

- zarrita.js (under vizarr, the OME-NGFF validator, ome-zarr.js) with its
  FetchStore, in node: every array of every kind of output (an image with
  labels, a plate, bioformats2raw, sharded, unsharded, byte copies, a view
  added in place) reads equal to the source;
- ome-zarr.js's ``renderThumbnail`` (the validator's and the gallery's
  thumbnails) in headless Chromium, on a page of another origin than the data
  (so CORS is exercised as on the web): a PNG of the smallest level.

The npm packages are pinned in tests/zarrita_js (package.json and its lock;
`.ci/run` runs `npm ci` there, and the tests do once when they are missing).
The tests skip, saying why, only when node, npm's packages or Chromium are
missing.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import checks
from conftest import build_bioformats2raw, build_image_with_labels, build_plate
from ome2024_ngff_challenge import api
from ome2024_ngff_challenge.testing import samples
from zarrita_check import HERE, read_with_zarrita, zarrita_available

CRATE = {"license": "cc-by", "organism": "NCBI:txid9606", "modality": "obo:FBbi_00000369"}

# kind of output -> (how the source is built, how it is converted)
KINDS = {
    "image with labels": (build_image_with_labels, {}),
    "plate": (build_plate, {}),
    "bioformats2raw": (build_bioformats2raw, {}),
    "unsharded": (build_image_with_labels, {"shards": "none"}),
    "byte copy": (build_plate, {"codec": "keep"}),
    "byte copy unsharded (linked chunks)": (build_image_with_labels, {"codec": "keep", "shards": "none"}),
    "small shards": (build_image_with_labels, {"chunks": (1, 16, 16), "shards": (2, 32, 32)}),
    "view added in place": (build_bioformats2raw, "in place"),
    "levels added": (build_plate, {"add_levels": 8}),
}


def need_zarrita() -> None:
    reason = zarrita_available()
    if reason is not None:
        pytest.skip(reason)


def convert(kind: str, tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    build, options = KINDS[kind]
    src = tmp_path / "in.zarr"
    expected = build(src)
    if options == "in place":
        api.resave_in_place(src, **CRATE)
        return src, expected
    out = tmp_path / "site" / "out.zarr"
    api.resave(src, out, **CRATE, **options)
    if options.get("add_levels"):  # the added levels, as zarr-python reads them (test_add_levels checks their values)
        for path in out.rglob("zarr.json"):
            rel = path.parent.relative_to(out).as_posix()
            if rel not in expected and json.loads(path.read_text())["node_type"] == "array":
                expected[rel] = checks.read_v3_zarr(out, rel)
        assert len(expected) > len(build(tmp_path / "again.zarr")), "no level was added"
    return out, expected


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_array_read_over_http_by_zarrita(kind, tmp_path):
    need_zarrita()
    out, expected = convert(kind, tmp_path)
    with api.serve(out.parent) as server:
        server.record_requests()
        url = server.url_of(out.name)
        got = read_with_zarrita(url, sorted(expected))
        requests = server.requests
    assert got["root"] == checks.v3_meta(out, "")["attributes"]
    for rel, values in expected.items():
        checks.assert_same_voxels(values, got["arrays"][rel], f"{url}/{rel} read by zarrita.js")
    codes = {code for _, _, code in requests}
    assert codes <= {200, 206, 404}, requests  # never a refusal or a server error
    sharded = isinstance(KINDS[kind][1], dict) and KINDS[kind][1].get("shards") != "none"
    if sharded:  # one inner chunk of a shard at a time: the ranges viewers need
        assert any(method == "GET" and code == 206 for method, _, code in requests), requests
        assert any(method == "HEAD" for method, _, _ in requests), requests  # the shard's size, for its index


# ---------------------------------------------------------------------------
# ome-zarr.js renderThumbnail, in a real browser
# ---------------------------------------------------------------------------

PAGE = """<!doctype html>
<meta charset="utf-8"><title>thumbnails</title>
<script type="module">
import { renderThumbnail } from "./thumbnail.js";
const urls = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const results = [];
for (const url of urls) {
  try {
    const png = await renderThumbnail(url);
    const img = new Image();
    img.src = png;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const colours = new Set();
    for (let i = 0; i < pixels.length; i += 4) colours.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    results.push({ url, png, width: img.naturalWidth, height: img.naturalHeight, colours: colours.size });
  } catch (e) {
    results.push({ url, error: String((e && e.message) || e) });
  }
}
await fetch("/result", { method: "POST", body: JSON.stringify(results) });
</script>
"""


def bundle(folder: Path) -> None:
    """ome-zarr.js and its zarrita.js as one ES module for the page (a browser
    resolves no npm names), built by the pinned esbuild."""
    need_zarrita()
    esbuild = HERE / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        pytest.skip(f"esbuild is not installed in {HERE} (npm ci there)")
    proc = subprocess.run([str(esbuild), "thumbnail.mjs", "--bundle", "--format=esm", "--platform=browser",
                           "--log-level=error", f"--outfile={folder / 'thumbnail.js'}"],
                          cwd=HERE, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """The viewer's site: the page and its script; the page posts its results."""

    results: dict  # set per server: {"body": ..., "done": threading.Event()}

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.results["body"] = self.rfile.read(length)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.results["done"].set()


def render_thumbnails(urls: list[str], tmp_path: Path) -> list[dict]:
    """``renderThumbnail(url)`` of ome-zarr.js for each URL, in headless
    Chromium, from a page on another origin than the data: one result per URL,
    {"png": data URL, "width", "height", "colours"} or {"error"}."""
    browser = checks.chromium()
    site = tmp_path / "viewer-site"
    site.mkdir()
    bundle(site)
    (site / "index.html").write_text(PAGE, encoding="utf-8")
    results = {"done": threading.Event()}
    handler = type("Handler", (PageHandler,), {"results": results})
    page_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
    thread = threading.Thread(target=page_server.serve_forever, daemon=True)
    thread.start()
    profile = tmp_path / "profile"
    address = f"http://127.0.0.1:{page_server.server_address[1]}/index.html#{json.dumps(urls)}"
    proc = subprocess.Popen(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         f"--user-data-dir={profile}", address],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        for _ in range(300):  # up to 5 minutes, in steps that notice a browser that died
            if results["done"].wait(1) or proc.poll() is not None:
                break
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        page_server.shutdown()
        page_server.server_close()
    assert results["done"].is_set(), f"the page gave no result; chromium said: {err[-3000:]}"
    return json.loads(results["body"])


def png_size(data_url: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix), data_url[:40]
    raw = base64.b64decode(data_url[len(prefix):])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    return int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")


def smallest_level(root: Path) -> tuple[int, int]:
    """(width, height) of the smallest level of the image at ``root``, from its metadata."""
    ome = checks.v3_meta(root, "")["attributes"]["ome"]
    last = ome["multiscales"][0]["datasets"][-1]["path"]
    shape = checks.v3_meta(root, last)["shape"]
    return shape[-1], shape[-2]


def test_render_thumbnail_of_images_and_plate_fields(tmp_path):
    """The thumbnails of the validator and the gallery: the smallest level
    drawn as a PNG (its size that level's), for plate fields, a
    bioformats2raw series, an image with labels and an image whose smallest
    level is just under ome-zarr.js's 1000 x 1000 limit; and for an image, a
    plate's field and an image with labels whose only level is over the limit
    once their pyramid is completed (``add_levels``, issue 13 part 1)."""
    site = tmp_path / "site"
    build_plate(tmp_path / "plate.zarr")
    api.resave(tmp_path / "plate.zarr", site / "plate.zarr", **CRATE)
    build_bioformats2raw(tmp_path / "bf2raw.zarr")
    api.resave(tmp_path / "bf2raw.zarr", site / "bf2raw.zarr", **CRATE)
    build_image_with_labels(tmp_path / "labels.zarr")
    api.resave(tmp_path / "labels.zarr", site / "labels.zarr", **CRATE)
    big = samples.pattern((1, 1800, 1600), "|u1", 7)  # c, y, x; with 2 levels the smallest is 900 x 800
    samples.write_image(tmp_path / "near.zarr", big, "cyx", levels=2, chunks=(1, 512, 512))
    api.resave(tmp_path / "near.zarr", site / "near-limit.zarr", **CRATE)
    samples.write_image(tmp_path / "over.zarr", big[:, :1100, :1040], "cyx", levels=1, chunks=(1, 512, 512))
    api.resave(tmp_path / "over.zarr", site / "too-big.zarr", **CRATE, add_levels=True)
    api.resave(tmp_path / "over.zarr", site / "not-completed.zarr", **CRATE)
    samples.write_plate(tmp_path / "big-plate.zarr", ["A"], ["1"], ["A/1"], 1, image_shape=(1, 1100, 1040),
                        levels=1, chunks=(1, 512, 512), dtype="|u1")
    api.resave(tmp_path / "big-plate.zarr", site / "big-plate.zarr", **CRATE, add_levels=True)
    samples.write_image(tmp_path / "big-labels.zarr", big[:, :1100, :1040], "cyx", levels=1, chunks=(1, 512, 512))
    samples.write_labels(tmp_path / "big-labels.zarr", {"cells": samples.label_blobs((1, 1100, 1040), 5, "<u4", 3)},
                         "cyx", chunks=(1, 512, 512))
    api.resave(tmp_path / "big-labels.zarr", site / "big-labels.zarr", **CRATE, add_levels=True)
    must_render = ["plate.zarr/A/1/0", "plate.zarr/B/2/1", "labels.zarr", "bf2raw.zarr/0", "near-limit.zarr",
                   "too-big.zarr", "big-plate.zarr/A/1/0", "big-labels.zarr"]
    sizes = {p: smallest_level(site / p) for p in must_render}
    assert sizes["plate.zarr/A/1/0"] == (24, 20) and sizes["near-limit.zarr"] == (800, 900)
    assert sizes["too-big.zarr"] == sizes["big-plate.zarr/A/1/0"] == sizes["big-labels.zarr"] == (130, 138)
    with api.serve(site) as server:
        server.record_requests()
        urls = [server.url_of(p) for p in must_render] + [server.url_of("not-completed.zarr")]
        results = render_thumbnails(urls, tmp_path)
        requests = server.requests
    assert [r["url"] for r in results] == urls
    refused = results.pop()  # the same image, its pyramid not completed: over the limit
    assert "maxSize" in refused.get("error", ""), refused
    for path, result in zip(must_render, results, strict=True):
        assert "error" not in result, f"{path}: {result['error']}"
        assert png_size(result["png"]) == sizes[path] == (result["width"], result["height"]), path
        assert result["colours"] > 1, f"{path}: the thumbnail is one colour"
    # read from another origin: the answers' CORS let the page see them; the
    # probes for a Zarr v2 .zattrs were 404s; shards were read by ranges
    assert {code for _, _, code in requests} <= {200, 204, 206, 404}, requests
    assert ("GET", "/plate.zarr/A/1/0/.zattrs", 404) in requests
    assert any(method == "GET" and code == 206 for method, _, code in requests), requests
