"""`validate`: accepts what `resave` writes (images with labels, plates,
bioformats2raw) and every voxel matches the source; rejects outputs broken in
the ways a hand edit, another tool or a failed copy breaks them, naming the
path of each problem."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from conftest import build_bioformats2raw, build_image_2d, build_image_with_labels, build_plate
from ome2024_ngff_challenge.commands.main import main

CRATE = ["--cc-by", "--rocrate-organism=NCBI:txid9606", "--rocrate-modality=obo:FBbi_00000369"]
BUILDERS = {"image": build_image_with_labels, "plate": build_plate, "bf2raw": build_bioformats2raw}
COUNTS = {"image": (4, 6), "plate": (14, 14), "bf2raw": (4, 3)}  # groups, arrays


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def validate_json(target, *extra) -> tuple[int, dict]:
    rc, out, err = run("validate", "--json", target, *extra)
    return rc, json.loads(out)


def convert(src: Path, out: Path, *options) -> Path:
    rc, _, err = run("resave", *CRATE, *options, src, out)
    assert rc == 0, err
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """kind -> (0.4 source, 0.5 output), converted once for the module."""
    base = tmp_path_factory.mktemp("validate")
    result = {}
    for kind, build in BUILDERS.items():
        src = base / f"{kind}-0.4.zarr"
        build(src)
        result[kind] = (src, convert(src, base / f"{kind}-0.5.zarr"))
    return result


@pytest.fixture
def copy_of(outputs, tmp_path):
    """copy_of(kind) -> a fresh copy of that output to break."""

    def _copy(kind: str) -> Path:
        dst = tmp_path / f"{kind}-broken.zarr"
        shutil.copytree(outputs[kind][1], dst)
        return dst

    return _copy


def edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def errors_at(report: dict, path: str) -> list[str]:
    return [e["message"] for e in report["errors"] if e["path"] == path]


def assert_rejected(target, path: str, words: str, *extra) -> dict:
    rc, report = validate_json(target, *extra)
    assert rc == 1 and report["valid"] is False, report
    messages = errors_at(report, path)
    assert any(words.lower() in m.lower() for m in messages), (path, words, report["errors"])
    return report


# ---------------------------------------------------------------------------
# accepted
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_accepts_converted_outputs(outputs, kind):
    rc, report = validate_json(outputs[kind][1])
    assert rc == 0, report
    assert report["valid"] is True and report["errors"] == [] and report["warnings"] == []
    assert (report["groups"], report["arrays"]) == COUNTS[kind]


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_against_source_passes(outputs, kind):
    src, out = outputs[kind]
    rc, report = validate_json(out, "--against", src)
    assert rc == 0, report
    assert report["compared"] == report["arrays"] == COUNTS[kind][1]


@pytest.mark.parametrize(
    "options",
    [
        ["--output-codec=keep"],
        ["--output-shards=none", "--output-codec=gzip"],
        ["--output-chunks=16,16", "--output-shards=48,64", "--output-codec=zstd"],
        ["--output-codec=none"],
    ],
)
def test_against_passes_for_other_layouts(tmp_path, options):
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    out = convert(src, tmp_path / "out.zarr", *options)
    rc, report = validate_json(out, "--against", src)
    assert rc == 0 and report["compared"] == 2, report


def test_against_compares_bit_patterns(tmp_path):
    """NaN payloads, -0.0, big-endian data and a NaN fill value survive, and the
    comparison sees the difference between them."""
    from ome2024_ngff_challenge.testing import samples

    data = samples.pattern((20, 30), ">f4", 5)
    data[0, 0] = np.array([0x7FC00001], dtype="<u4").view("<f4")[0]
    data[0, 1] = -0.0
    src = tmp_path / "in.zarr"
    samples.write_image(src, data, "yx", chunks=(16, 16), dtype=">f4", fill_value=float("nan"),
                        missing_chunks=[[(1, 1)]])
    out = convert(src, tmp_path / "out.zarr", "--output-shards=none", "--output-codec=none")
    assert validate_json(out, "--against", src)[0] == 0
    chunk = out / "0" / "c" / "0" / "0"
    raw = np.fromfile(chunk, dtype=">u4")
    raw[0] ^= 2  # another NaN
    raw.tofile(chunk)
    report = assert_rejected(out, "0", "voxel [0, 0] differs", "--against", src)
    assert "0x7fc00003" in errors_at(report, "0")[0] and "0x7fc00001" in errors_at(report, "0")[0]
    raw[0] ^= 2
    raw[1] = 0  # +0.0 instead of -0.0
    raw.tofile(chunk)
    assert_rejected(out, "0", "voxel [0, 1] differs", "--against", src)


def test_human_output(outputs):
    rc, out, err = run("validate", outputs["image"][1])
    assert rc == 0
    assert out.strip().splitlines() == ["valid: 4 groups, 6 arrays checked, 0 errors, 0 warnings"]


def test_human_output_lists_problems_then_summary(copy_of):
    out_dir = copy_of("image")
    edit_json(out_dir / "zarr.json", lambda d: d["attributes"]["ome"].update(version="0.4"))
    (out_dir / "ro-crate-metadata.json").unlink()
    rc, out, _ = run("validate", out_dir)
    lines = out.strip().splitlines()
    assert rc == 1
    assert lines[0].startswith(f"error: {out_dir}: attributes.ome.version is '0.4'")
    assert lines[1].startswith(f"error: {out_dir / 'ro-crate-metadata.json'}: missing")
    assert lines[-1] == "invalid: 4 groups, 6 arrays checked, 2 errors, 0 warnings"


# ---------------------------------------------------------------------------
# rejected: metadata
# ---------------------------------------------------------------------------


def test_version_04_left(copy_of):
    out = copy_of("image")
    edit_json(out / "labels" / "cells" / "zarr.json", lambda d: d["attributes"]["ome"].update(version="0.4"))
    assert_rejected(out, "labels/cells", "version is '0.4', expected \"0.5\"")


def test_ome_metadata_not_under_ome(copy_of):
    out = copy_of("image")

    def flatten(d):
        d["attributes"] = d["attributes"]["ome"]

    edit_json(out / "zarr.json", flatten)
    assert_rejected(out, ".", "at the top of attributes")


def test_zarr_v2_input_is_not_05(outputs):
    assert_rejected(outputs["image"][0], ".", "Zarr v2")


def test_dataset_missing(copy_of):
    out = copy_of("image")
    shutil.rmtree(out / "1")
    assert_rejected(out, "1", "missing")


def test_dimension_names_wrong_length(copy_of):
    out = copy_of("image")
    edit_json(out / "labels" / "cells" / "0" / "zarr.json", lambda d: d.update(dimension_names=["y", "x"]))
    assert_rejected(out, "labels/cells/0", "dimension_names has 2 entries for 3 dimensions")


def test_dimension_names_differ_from_axes(copy_of):
    out = copy_of("image")
    edit_json(out / "0" / "zarr.json", lambda d: d.update(dimension_names=["z", "x", "y"]))
    assert_rejected(out, "0", "do not match the axes names")


def test_shard_not_a_multiple_of_the_chunk(copy_of):
    out = copy_of("image")
    edit_json(out / "0" / "zarr.json",
              lambda d: d["chunk_grid"]["configuration"].update(chunk_shape=[3, 48, 48]))
    assert_rejected(out, "0", "is not a multiple of the inner chunk shape")


@pytest.mark.parametrize("name", ["numcodecs.zlib", "zlib", "numcodecs.blosc"])
def test_unregistered_codec(copy_of, name):
    out = copy_of("image")
    edit_json(out / "1" / "zarr.json",
              lambda d: d["codecs"][0]["configuration"]["codecs"][1].update(name=name))
    assert_rejected(out, "1", f"codec '{name}' is not a registered Zarr v3 codec")


def test_levels_in_wrong_order(copy_of):
    out = copy_of("image")

    def swap(d):
        datasets = d["attributes"]["ome"]["multiscales"][0]["datasets"]
        datasets[0]["path"], datasets[1]["path"] = datasets[1]["path"], datasets[0]["path"]

    edit_json(out / "zarr.json", swap)
    assert_rejected(out, "0", "datasets must go from the largest")


def test_axes_in_wrong_order(copy_of):
    out = copy_of("plate")

    def move_channel_last(d):
        axes = d["attributes"]["ome"]["multiscales"][0]["axes"]
        axes.append(axes.pop(0))

    edit_json(out / "A" / "1" / "0" / "zarr.json", move_channel_last)
    assert_rejected(out, "A/1/0", "time must come first, then channel")


def test_scale_with_wrong_length(copy_of):
    out = copy_of("image")
    edit_json(out / "zarr.json", lambda d: d["attributes"]["ome"]["multiscales"][0]["datasets"][1]
              ["coordinateTransformations"][0].update(scale=[1.0, 2.0]))
    assert_rejected(out, ".", "scale has 2 values but there are 3 axes")


def test_label_with_float_dtype(copy_of):
    out = copy_of("image")
    edit_json(out / "labels" / "nuclei" / "1" / "zarr.json", lambda d: d.update(data_type="float32"))
    assert_rejected(out, "labels/nuclei/1", "labels must be integers")


def test_label_with_fewer_levels(copy_of):
    out = copy_of("image")
    edit_json(out / "labels" / "cells" / "zarr.json",
              lambda d: d["attributes"]["ome"]["multiscales"][0]["datasets"].pop())
    assert_rejected(out, "labels/cells", "1 resolution levels but its image has 2")


def test_listed_label_missing(copy_of):
    out = copy_of("image")
    shutil.rmtree(out / "labels" / "nuclei")
    assert_rejected(out, "labels/nuclei", "missing")


def test_label_without_image_label(copy_of):
    out = copy_of("image")
    edit_json(out / "labels" / "cells" / "zarr.json", lambda d: d["attributes"]["ome"].pop("image-label"))
    assert_rejected(out, "labels/cells", "without 'image-label'")


def test_plate_well_missing(copy_of):
    out = copy_of("plate")
    shutil.rmtree(out / "B" / "2")
    assert_rejected(out, "B/2", "missing")


def test_plate_row_group_missing(copy_of):
    out = copy_of("plate")
    (out / "A" / "zarr.json").unlink()
    assert_rejected(out, "A", "plate row group 'A' is missing")


def test_well_field_missing(copy_of):
    out = copy_of("plate")
    shutil.rmtree(out / "A" / "3" / "1")
    assert_rejected(out, "A/3/1", "missing")


def test_plate_well_not_in_rows(copy_of):
    out = copy_of("plate")
    edit_json(out / "zarr.json", lambda d: d["attributes"]["ome"]["plate"]["wells"][2].update(rowIndex=0))
    assert_rejected(out, ".", "rowIndex 0 but 'B' is row 1")


def test_plate_schema(copy_of):
    out = copy_of("plate")
    edit_json(out / "zarr.json", lambda d: d["attributes"]["ome"]["plate"]["columns"].append({"name": "x y"}))
    assert_rejected(out, ".", "plate.schema: ome/plate/columns/3/name")


def test_bioformats2raw_series_missing(copy_of):
    out = copy_of("bf2raw")
    shutil.rmtree(out / "1")
    assert_rejected(out, "1", "series '1' is missing")


def test_bioformats2raw_ome_xml(copy_of):
    out = copy_of("bf2raw")
    xml = out / "OME" / "METADATA.ome.xml"
    xml.write_bytes(xml.read_bytes()[:-20])
    assert_rejected(out, "OME/METADATA.ome.xml", "not well-formed XML")
    xml.unlink()
    rc, report = validate_json(out)
    assert rc == 0 and any("METADATA.ome.xml" in w["message"] for w in report["warnings"])


def test_bioformats2raw_series_and_xml_disagree(copy_of):
    out = copy_of("bf2raw")
    edit_json(out / "OME" / "zarr.json", lambda d: d["attributes"]["ome"].update(series=["0"]))
    assert_rejected(out, "OME", "series lists 1 images but the OME-XML has 2")


def test_incomplete_conversion(copy_of):
    out = copy_of("image")
    (out / ".ome2024-ngff-challenge-incomplete.json").write_text("{}")
    assert_rejected(out, ".", "conversion did not finish")


def test_not_json(copy_of):
    out = copy_of("image")
    (out / "1" / "zarr.json").write_text("{not json")
    assert_rejected(out, "1", "zarr.json is not valid JSON")


# ---------------------------------------------------------------------------
# rejected: data (--against)
# ---------------------------------------------------------------------------


def test_changed_voxel_in_a_shard(tmp_path):
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    out = convert(src, tmp_path / "out.zarr", "--output-codec=none")
    shard = out / "0" / "c" / "0" / "0"
    raw = bytearray(shard.read_bytes())
    raw[5] ^= 0xFF  # inside the first inner chunk (the index is at the end)
    shard.write_bytes(bytes(raw))
    report = assert_rejected(out, "0", "differs from the source", "--against", src)
    assert report["compared"] == 1  # level 1 still matches


def test_corrupt_shard_index(tmp_path):
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    out = convert(src, tmp_path / "out.zarr")
    shard = out / "0" / "c" / "0" / "0"
    raw = bytearray(shard.read_bytes())
    raw[-10] ^= 0xFF
    shard.write_bytes(bytes(raw))
    assert_rejected(out, "0", "index checksum", "--against", src)
    shard.write_bytes(bytes(raw[:30]))
    assert_rejected(out, "0", "shorter than its index", "--against", src)


def test_array_missing_in_output_is_reported(tmp_path, outputs):
    src, out0 = outputs["image"]
    out = tmp_path / "out.zarr"
    shutil.copytree(out0, out)
    edit_json(out / "labels" / "zarr.json", lambda d: d["attributes"]["ome"].update(labels=["cells"]))
    shutil.rmtree(out / "labels" / "nuclei")
    report = assert_rejected(out, "labels/nuclei/0", "missing in the output", "--against", src)
    assert report["compared"] == 4


# ---------------------------------------------------------------------------
# the RO-Crate
# ---------------------------------------------------------------------------


def test_crate_missing(copy_of):
    out = copy_of("plate")
    (out / "ro-crate-metadata.json").unlink()
    assert_rejected(out, "ro-crate-metadata.json", "missing")


def test_crate_not_json(copy_of):
    out = copy_of("plate")
    (out / "ro-crate-metadata.json").write_text('{"@graph": [')
    assert_rejected(out, "ro-crate-metadata.json", "not valid JSON")


def test_crate_without_root_dataset(copy_of):
    out = copy_of("plate")
    edit_json(out / "ro-crate-metadata.json", lambda d: d.update({"@graph": [e for e in d["@graph"] if e["@id"] != "./"]}))
    assert_rejected(out, "ro-crate-metadata.json", "root dataset")


def test_crate_fields_missing_are_warnings(tmp_path, outputs):
    src = outputs["image"][0]
    rc, _, _ = run("resave", src, tmp_path / "bare.zarr")
    assert rc == 0
    rc, report = validate_json(tmp_path / "bare.zarr")
    assert rc == 0 and report["valid"]
    messages = [w["message"] for w in report["warnings"] if w["path"] == "ro-crate-metadata.json"]
    assert [m.split(":")[0] for m in messages] == ["no license", "no organism", "no modality"]


# ---------------------------------------------------------------------------
# over HTTP, and without jsonschema
# ---------------------------------------------------------------------------


@pytest.fixture
def http_root(tmp_path):
    """(folder, URL of that folder served by a local http.server)."""
    pytest.importorskip("obstore")
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_validate_over_http(outputs, http_root):
    folder, url = http_root
    src, out = outputs["plate"]
    shutil.copytree(out, folder / "plate.zarr")
    rc, report = validate_json(f"{url}/plate.zarr", "--against", src)
    assert rc == 0 and report["compared"] == 14, report
    shutil.rmtree(folder / "plate.zarr" / "B" / "2" / "0")
    report = assert_rejected(f"{url}/plate.zarr", "B/2/0", "missing")
    assert errors_at(report, "B/2/0") and report["errors"][0]["location"] == f"{url}/plate.zarr/B/2/0"


def test_without_jsonschema_the_code_rules_still_apply(copy_of, monkeypatch):
    from ome2024_ngff_challenge.ome import v05_rules

    monkeypatch.setattr(v05_rules, "_load_schemas", lambda: (None, "the jsonschema package is not installed"))
    out = copy_of("plate")
    rc, report = validate_json(out)
    assert rc == 0 and [w["message"].split(":")[0] for w in report["warnings"]] == [
        "the jsonschema package is not installed"]
    shutil.rmtree(out / "A" / "1")
    assert_rejected(out, "A/1", "missing")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # ome-zarr-py's own default scaler
def test_accepts_what_ome_zarr_py_writes(tmp_path):
    """No false alarms on another writer's 0.5 image with labels (only the
    crate it does not write is missing, and update adds it)."""
    pytest.importorskip("ome_zarr")
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.io import parse_url
    from ome_zarr.writer import write_image, write_labels

    path = tmp_path / "other.zarr"
    root = zarr.group(store=parse_url(str(path), mode="w", fmt=FormatV05()).store, zarr_format=3)
    data = np.arange(2 * 4 * 40 * 40, dtype=np.uint16).reshape(2, 4, 40, 40)
    write_image(data, root, axes="czyx", fmt=FormatV05(), storage_options={"chunks": (1, 4, 16, 16)})
    labels = np.zeros((1, 4, 40, 40), dtype=np.uint32)
    labels[0, :, 5:20, 5:20] = 1
    write_labels(labels, root, name="seg", axes="czyx", fmt=FormatV05())
    rc, report = validate_json(path)
    assert [e["path"] for e in report["errors"]] == ["ro-crate-metadata.json"], report
    assert run("update", path, *CRATE)[0] == 0
    rc, report = validate_json(path)
    assert rc == 0, report


def test_channel_less_labels_under_a_channel_image_are_valid(tmp_path):
    """Labels z,y,x under an image c,z,y,x (every Fractal dataset): the spec asks
    for as many levels, not the same axes."""
    from ome2024_ngff_challenge.testing import samples

    src = tmp_path / "in.zarr"
    samples.write_image(src, samples.pattern((2, 3, 40, 50), "<u2", 3), "czyx", levels=2, chunks=(1, 1, 20, 25))
    samples.write_labels(src, {"nuclei": samples.label_blobs((3, 40, 50), 5, "<u4", 4)}, "zyx", levels=2)
    out = convert(src, tmp_path / "out.zarr")
    rc, report = validate_json(out, "--against", src)
    assert rc == 0 and report["errors"] == [] and report["compared"] == 4, report
