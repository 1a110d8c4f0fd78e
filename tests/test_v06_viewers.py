"""OME-Zarr 0.6 outputs opened by the web viewers' own npm libraries over HTTP
from `serve` (see test_viewers.py): zarrita.js reads every array equal to the
source, and ome-zarr.js's ``renderThumbnail`` (the OME-NGFF validator's and the
gallery's thumbnails) draws the smallest level of 0.6 images, those with a
``sequence`` level transformation (added levels) and a 0.5 dataset upgraded
in place included. Measured here: ome-zarr.js 0.0.19 reads 0.6 (it takes the
axes of ``coordinateSystems[0]`` and the scale inside a sequence)."""

from __future__ import annotations

import checks
from conftest import build_image_with_labels, build_plate
from ome2024_ngff_challenge import api
from ome2024_ngff_challenge.testing import samples
from test_viewers import CRATE, need_zarrita, png_size, render_thumbnails, smallest_level
from zarrita_check import read_with_zarrita


def test_zarrita_and_ome_zarr_js_read_0_6(tmp_path):
    need_zarrita()
    site = tmp_path / "site"
    expected = build_plate(tmp_path / "plate.zarr")
    api.resave(tmp_path / "plate.zarr", site / "plate.zarr", **CRATE, output_version="0.6")
    build_image_with_labels(tmp_path / "labels.zarr")
    api.resave(tmp_path / "labels.zarr", site / "labels.zarr", **CRATE)
    api.upgrade_in_place(site / "labels.zarr")
    samples.write_image(tmp_path / "big.zarr", samples.pattern((1, 600, 520), "|u1", 3), "cyx", levels=1,
                        chunks=(1, 256, 256))
    api.resave(tmp_path / "big.zarr", site / "levels.zarr", **CRATE, add_levels=128, output_version="0.6")
    paths = ["plate.zarr/A/1/0", "labels.zarr", "levels.zarr"]
    sizes = {p: smallest_level(site / p) for p in paths}
    with api.serve(site) as server:
        got = read_with_zarrita(server.url_of("plate.zarr"), list(expected))
        assert got["root"]["ome"]["version"] == "0.6"
        for rel, array in expected.items():
            checks.assert_same_voxels(array, got["arrays"][rel], rel)
        results = render_thumbnails([server.url_of(p) for p in paths], tmp_path)
        for path in ("plate.zarr", "labels.zarr", "levels.zarr"):  # 0.6 walked over HTTP, the hosting checked
            report = api.validate(server.url_of(path))
            assert report.valid and report.warnings == [], (path, report.errors, report.warnings)
    for path, result in zip(paths, results, strict=True):
        assert "error" not in result, f"{path}: {result['error']}"
        assert png_size(result["png"]) == sizes[path], path
        assert result["colours"] > 1, path

