"""Hierarchies: images with labels, HCS plates, bioformats2raw layouts."""

from __future__ import annotations

import json

import checks
from conftest import PLATE_WELLS
from ome2024_ngff_challenge.testing import samples


def test_image_with_two_labels(image_with_labels, tmp_path, convert):
    src, expected = image_with_labels
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out)
    assert run.rc == 0, str(run)
    report = checks.check_conversion(src, out, expected=expected)
    assert set(report.arrays) == {"0", "1", "labels/cells/0", "labels/cells/1", "labels/nuclei/0", "labels/nuclei/1"}
    labels = checks.v3_meta(out, "labels")["attributes"]["ome"]
    assert labels["labels"] == ["cells", "nuclei"] and labels["version"] == "0.5"
    cells = checks.v3_meta(out, "labels/cells")["attributes"]["ome"]
    assert "version" not in cells["image-label"]
    assert cells["image-label"]["source"] == {"image": "../../"}
    assert checks.v3_meta(out, "labels/cells/0")["data_type"] == "int32"
    assert checks.v3_meta(out, "labels/nuclei/0")["data_type"] == "uint32"


def test_sparse_plate(plate, tmp_path, convert):
    src, expected = plate
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out)
    assert run.rc == 0, str(run)
    report = checks.check_conversion(src, out, expected=expected)
    assert report.kind == "plate"
    # row groups became v3 groups; absent wells stay absent
    for row in ("A", "B"):
        assert checks.v3_meta(out, row)["node_type"] == "group"
    for absent in ("A/2", "B/1", "B/3"):
        assert not (out / absent).exists(), f"absent well {absent} was created"
    for well in PLATE_WELLS:
        ome = checks.v3_meta(out, well)["attributes"]["ome"]
        assert ome["version"] == "0.5" and "version" not in ome["well"]
        assert [i["path"] for i in ome["well"]["images"]] == ["0", "1"]
    plate = checks.v3_meta(out, "")["attributes"]["ome"]["plate"]
    assert [w["path"] for w in plate["wells"]] == list(PLATE_WELLS)
    assert "version" not in plate
    assert "A/1/0/labels/seg/1" in report.arrays
    assert "omero" in checks.v3_meta(out, "B/2/1")["attributes"]["ome"]


def test_plate_with_one_field_and_no_labels(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = samples.write_plate(src, ["A"], ["1", "2"], ["A/2"], 1, image_shape=(1, 30, 20), levels=1, chunks=(1, 16, 16))
    run = convert("resave", src, out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected)
    assert not (out / "A" / "1").exists()


def test_bioformats2raw(bioformats2raw, tmp_path, convert):
    src, expected = bioformats2raw
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out)
    assert run.rc == 0, str(run)
    report = checks.check_conversion(src, out, expected=expected)
    assert report.kind == "bioformats2raw"
    root = checks.v3_meta(out, "")["attributes"]["ome"]
    assert root["bioformats2raw.layout"] == 3 and root["version"] == "0.5"
    series = checks.v3_meta(out, "OME")["attributes"]["ome"]
    assert series["series"] == ["0", "1"] and series["version"] == "0.5"
    # unicode OME-XML copied byte for byte (checked in check_conversion too)
    xml = (out / "OME" / "METADATA.ome.xml").read_bytes()
    assert xml == samples.DEFAULT_OME_XML.encode("utf-8")
    # Bio-Formats' own version inside multiscales[].metadata is not an OME version: kept
    ms = checks.v3_meta(out, "0")["attributes"]["ome"]["multiscales"][0]
    assert "version" not in ms and ms["metadata"]["version"] == "Bio-Formats 7.3.0"
    assert checks.v3_meta(out, "0")["attributes"]["ome"]["omero"]["name"] == "Série 0 – Zellkerne µ"


def test_bioformats2raw_with_labels_in_a_series(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    data = samples.pattern((1, 1, 2, 30, 40), "<u2", 3)
    expected = samples.write_bioformats2raw(
        src, series=[{"data": data, "axes": "tczyx", "chunks": (1, 1, 1, 16, 16)}], ome_xml="<OME/>\n"
    )
    lab = samples.label_blobs((1, 1, 2, 30, 40), 2, "<u2", 4)
    expected.update({f"0/{k}": v for k, v in samples.write_labels(src / "0", {"m": lab}, "tczyx").items()})
    run = convert("resave", src, out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected)


def test_rocrate_only_at_top(plate, tmp_path, convert):
    src, _ = plate
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out, "--cc-by")
    assert run.rc == 0, str(run)
    crates = sorted(p.relative_to(out).as_posix() for p in out.rglob("ro-crate-metadata.json"))
    assert crates == ["ro-crate-metadata.json"]
    json.loads((out / "ro-crate-metadata.json").read_text(encoding="utf-8"))
