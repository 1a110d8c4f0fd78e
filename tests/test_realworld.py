"""OME-Zarr 0.4 as the field's own libraries write it (ome-zarr-py, ngff-zarr,
iohub, bioio, ngio: reproduced byte for byte by ``realworld_writers``):
nothing dropped, nothing invalid passed on silently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

import checks
import realworld_writers as rw
from ome2024_ngff_challenge.about import STATS_KEY

IMAGE_WRITERS = {
    "ome_zarr_0.8": lambda p: rw.write_ome_zarr_py_like(p, "0.8"),
    "ome_zarr_0.12": lambda p: rw.write_ome_zarr_py_like(p, "0.12"),
    "ome_zarr_0.18": lambda p: rw.write_ome_zarr_py_like(p, "0.18"),
    "ngff_zarr": rw.write_ngff_zarr_like,
    "bioio": rw.write_bioio_ome_zarr_like,
    "iohub_03a7": lambda p: rw.write_iohub_03_like(p, "0.3.0a7"),
}
REPAIRED_WRITERS = {
    "iohub_02": rw.write_iohub_02_like,
    "iohub_02_scaled": lambda p: rw.write_iohub_02_like(p, scaled=True),  # the multiscale's identity stays
    "iohub_03": rw.write_iohub_03_like,
}


def read_v3(out: Path, rel: str) -> np.ndarray:
    return zarr.open_array(str(out / rel), mode="r", zarr_format=3)[...]


def assert_every_array_equal(out: Path, expected: dict[str, np.ndarray]) -> None:
    for rel, data in expected.items():
        got = read_v3(out, rel)
        assert got.shape == data.shape, rel
        assert np.array_equal(got, data), f"{rel}: differs from the source"


def validate(convert, out: Path, src: Path) -> dict:
    run = convert("validate", "--json", out, "--against", src)
    report = json.loads(run.out)
    assert run.rc == 0 and report["errors"] == [], report["errors"]
    return report


@pytest.mark.parametrize("writer", list(IMAGE_WRITERS))
def test_valid_writers_convert_whole(writer, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = IMAGE_WRITERS[writer](src)
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 0, str(run)
    assert "repaired" not in run.err, run.err
    checks.check_conversion(src, out)
    assert_every_array_equal(out, expected)
    validate(convert, out, src)


@pytest.mark.parametrize("writer", list(REPAIRED_WRITERS))
def test_known_defects_are_repaired_and_said(writer, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = REPAIRED_WRITERS[writer](src)
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 0, str(run)
    repaired = [ln for ln in run.err.splitlines() if ": repaired: " in ln]
    assert repaired, run.err
    assert all(ln.startswith(f"warning: {src}/") for ln in repaired), repaired
    assert_every_array_equal(out, expected)
    report = validate(convert, out, src)
    assert report["compared"] == len(expected)
    # every repair is in the statistics of the arrays it concerns
    for rel in expected:
        stats = checks.v3_meta(out, rel)["attributes"][STATS_KEY]
        assert isinstance(stats["repairs"], list)
    recorded = {r for rel in expected for r in checks.v3_meta(out, rel)["attributes"][STATS_KEY]["repairs"]}
    assert len(recorded) == len(repaired), (recorded, repaired)
    refused = convert("resave", "--cc-by", "--no-repair", src, tmp_path / "refused.zarr")
    assert refused.rc == 1
    line = checks.assert_one_line_error(refused.err, str(src), "--no-repair")
    assert "would be repaired" in line
    assert not (tmp_path / "refused.zarr").exists()


def test_identity_transforms_become_the_scales_of_the_levels(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    rw.write_iohub_02_like(src)
    assert convert("resave", src, out).rc == 0
    for image in ("A/1/0", "B/2/0"):
        ms = checks.v3_meta(out, image)["attributes"]["ome"]["multiscales"][0]
        assert "coordinateTransformations" not in ms
        shapes = [checks.v3_meta(out, f"{image}/{d['path']}")["shape"] for d in ms["datasets"]]
        for d, shape in zip(ms["datasets"], shapes):
            (transform,) = d["coordinateTransformations"]
            assert transform["type"] == "scale"
            assert transform["scale"] == [s0 / s for s0, s in zip(shapes[0], shape)]


def test_label_list_on_the_image_moves_to_the_labels_group(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = rw.write_iohub_03_like(src)
    assert convert("resave", src, out).rc == 0
    image = checks.v3_meta(out, "A/1/0")["attributes"]
    assert "labels" not in image["ome"] and "labels" not in image
    assert checks.v3_meta(out, "A/1/0/labels")["attributes"]["ome"]["labels"] == ["nuclei"]
    label = checks.v3_meta(out, "A/1/0/labels/nuclei")["attributes"]["ome"]["image-label"]
    assert "colors" not in label and "properties" not in label
    assert any(rel.startswith("A/1/0/labels/nuclei/") for rel in expected)


def test_unlisted_label_images_are_found(tmp_path, convert):
    """A labels group whose .zattrs lists nothing: its label images (child
    groups with multiscales) are found, listed and converted."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = rw.write_ome_zarr_py_like(src, "0.8")
    (src / "labels" / ".zattrs").write_text("{}")
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 0, str(run)
    assert "found and listed ['nuclei']" in run.err
    assert checks.v3_meta(out, "labels")["attributes"]["ome"]["labels"] == ["nuclei"]
    assert_every_array_equal(out, expected)
    validate(convert, out, src)


def test_nodes_and_files_no_metadata_names_are_kept(tmp_path, convert):
    """A tool's own group and arrays beside the image, a group the labels do not
    list, and files that are not Zarr: all in the output, the files byte for byte."""
    from ome2024_ngff_challenge.testing import samples
    from ome2024_ngff_challenge.testing.v2_writer import write_v2_array, write_v2_group

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = samples.write_image(src, samples.pattern((40, 50), "<u2", 1), "yx", levels=2, chunks=(16, 16))
    write_v2_group(src / "measurements", {"tool": "my-pipeline", "columns": ["area", "mean"]})
    table = np.arange(30, dtype="<f8").reshape(10, 3)
    expected["measurements/table"] = write_v2_array(src / "measurements" / "table", table, (4, 3))
    (src / "measurements" / "table" / ".zattrs").write_text(json.dumps({"_ARRAY_DIMENSIONS": ["row", "column"]}))
    (src / "README.txt").write_bytes(b"acquired on the \xc3\xa9cole microscope\n")
    (src / "measurements" / "notes").mkdir()
    (src / "measurements" / "notes" / "protocol.json").write_text('{"steps": 3}')
    run = convert("resave", "--cc-by", "--log", "info", src, out)
    assert run.rc == 0, str(run)
    assert "1 groups that the OME metadata does not reference converted (measurements)" in run.err
    assert "1 arrays that the OME metadata does not reference converted (measurements/table)" in run.err
    checks.check_conversion(src, out)  # every node and every file
    assert checks.v3_meta(out, "measurements")["attributes"] == {"tool": "my-pipeline", "columns": ["area", "mean"]}
    assert checks.v3_meta(out, "measurements/table")["dimension_names"] == ["row", "column"]
    assert_every_array_equal(out, expected)
    validate(convert, out, src)


def test_input_that_would_give_invalid_05_is_refused(tmp_path, convert):
    """0.4 checks pass, 0.5 rules do not (channel after space): refused before
    anything is written, never converted with exit 0."""
    from ome2024_ngff_challenge.testing import samples

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_image(src, samples.pattern((20, 30, 2), "<u2", 1), "yxc", levels=1, chunks=(10, 10, 1))
    run = convert("resave", src, out)
    assert run.rc == 1
    line = checks.assert_one_line_error(run.err, str(src), "would not be valid OME-Zarr 0.5")
    assert "channel" in line or "order" in line, line
    assert not out.exists()


def test_ome_zarr_py_itself_writes_an_input_that_converts_whole(tmp_path, convert):
    """Not a replica: ome-zarr-py (a test dependency) writes OME-Zarr 0.4 with
    labels; every array converts equal and the output is valid."""
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image, write_labels

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    rng = np.random.default_rng(5)
    image = rng.integers(0, 4000, size=(2, 4, 64, 80), dtype=np.uint16)
    labels = (rng.integers(0, 3, size=(4, 64, 80)) * (image[0] > 2000)).astype(np.uint32)
    root = zarr.open_group(str(src), mode="w", zarr_format=2)
    write_image(image, root, axes="czyx", fmt=FormatV04())
    write_labels(labels, root, name="nuclei", axes="zyx", fmt=FormatV04())
    assert (src / ".zattrs").is_file() and not (src / "zarr.json").exists(), "ome-zarr-py did not write 0.4"
    levels = len(json.loads((src / ".zattrs").read_text())["multiscales"][0]["datasets"])
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out)
    report = validate(convert, out, src)
    assert report["compared"] == 2 * levels


def test_labels_with_other_levels_than_their_image_are_refused(tmp_path, convert):
    """ome-zarr-py writes labels with its own default pyramid when told another
    one for the image: 0.5 (like 0.4) wants as many levels; which levels belong
    together cannot be told, so it is refused in one line, nothing written."""
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image, write_labels

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    image = np.zeros((4, 64, 80), dtype=np.uint16)
    root = zarr.open_group(str(src), mode="w", zarr_format=2)
    write_image(image, root, axes="zyx", fmt=FormatV04(), scale_factors=(2, 4))
    write_labels(image.astype(np.uint32), root, name="nuclei", axes="zyx", fmt=FormatV04())
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"{src}/labels/nuclei", "resolution levels but its image has 3")
    assert not out.exists()
