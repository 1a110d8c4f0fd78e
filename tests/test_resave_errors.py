"""Inputs that must be refused: non-zero exit, ONE line on stderr naming the
path and the problem, no traceback, and nothing in OUTPUT that looks like a
finished conversion (no top-level zarr.json)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from numcodecs import Blosc, Zlib

import checks
from conftest import build_image_2d, build_image_with_labels, build_plate
from ome2024_ngff_challenge.testing import samples

SMOOTH = (np.add.outer(np.arange(64), np.arange(64)) // 3).astype("<u2")


def _refused(run, out: Path, *needles: str) -> str:
    assert run.rc != 0, f"exit code 0 for a bad input\n{run}"
    line = checks.assert_one_line_error(run.err, *needles)
    checks.assert_no_complete_output(out)
    return line


def _truncated(src: Path, compressor) -> Path:
    samples.write_image(src, [SMOOTH], "yx", chunks=(32, 32), compressor=compressor)
    chunk = src / "0" / "1" / "0"
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[: len(raw) // 2])
    return chunk


def _names_chunk(line: str) -> bool:
    return any(k in line for k in ("0/1/0", "1/0", "1.0", "(1, 0)", "[1, 0]"))


def test_input_missing(tmp_path, convert):
    src, out = tmp_path / "does-not-exist.zarr", tmp_path / "out.zarr"
    run = convert("resave", src, out)
    _refused(run, out, str(src))
    assert not out.exists() or not any(out.iterdir())


def test_no_ome_metadata(tmp_path, convert):
    src, out = tmp_path / "plain.zarr", tmp_path / "out.zarr"
    samples.write_v2_group(src, {"description": "a plain zarr group, not OME"})
    samples.write_v2_array(src / "0", samples.pattern((10, 10), "|u1", 1), (5, 5))
    _refused(convert("resave", src, out), out, str(src))


def test_empty_folder_is_not_an_input(tmp_path, convert):
    src, out = tmp_path / "empty", tmp_path / "out.zarr"
    src.mkdir()
    _refused(convert("resave", src, out), out, str(src))


def test_dataset_path_missing(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src, shape=(20, 20), levels=2)
    shutil.rmtree(src / "1")
    line = _refused(convert("resave", src, out), out)
    assert any(k in line for k in (str(src / "1"), "'1'", '"1"', "/1")), f"missing path '1' not named: {line}"


def test_missing_label_image(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_with_labels(src)
    shutil.rmtree(src / "labels" / "nuclei")
    line = _refused(convert("resave", src, out), out)
    assert "nuclei" in line, line


def test_truncated_blosc_chunk(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    _truncated(src, Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE))
    line = _refused(convert("resave", src, out), out, str(src))
    assert _names_chunk(line), f"chunk not named: {line}"


def test_truncated_zlib_chunk(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    _truncated(src, Zlib(level=4))
    line = _refused(convert("resave", src, out), out, str(src))
    assert _names_chunk(line), f"chunk not named: {line}"


def test_truncated_uncompressed_blosc_chunk(tmp_path, convert):
    """clevel 0: Blosc stores the bytes as they are behind a header; numcodecs
    then 'decodes' a truncated chunk without error (reading past the buffer),
    so only a check of the header's sizes against the stored size finds it."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    _truncated(src, Blosc(cname="lz4", clevel=0, shuffle=Blosc.SHUFFLE))
    line = _refused(convert("resave", src, out), out, str(src))
    assert _names_chunk(line), f"chunk not named: {line}"


@pytest.mark.parametrize("compressor", [Zlib(level=4), None, Blosc(cname="zstd", clevel=3, shuffle=Blosc.SHUFFLE)],
                         ids=["zlib", "raw", "blosc"])
@pytest.mark.parametrize("damage", ["empty", "wrong_size"])
def test_chunk_of_wrong_size(damage, compressor, tmp_path, convert):
    """A chunk that decodes to fewer bytes than the chunk shape needs (or is
    an empty file) is corrupt: refuse it rather than pad it with fill."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_image(src, [SMOOTH], "yx", chunks=(32, 32), compressor=compressor)
    chunk = src / "0" / "1" / "0"
    if damage == "empty":
        chunk.write_bytes(b"")
    else:
        raw = np.ones((16, 16), "<u2").tobytes()
        chunk.write_bytes(bytes(compressor.encode(raw)) if compressor is not None else raw)
    line = _refused(convert("resave", src, out), out, str(src))
    assert _names_chunk(line), f"chunk not named: {line}"


def test_corrupt_chunk_in_a_plate_field(tmp_path, convert):
    src, out = tmp_path / "plate.zarr", tmp_path / "out.zarr"
    build_plate(src)
    chunk = src / "B" / "2" / "1" / "0" / "1" / "0" / "1"
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[:10])
    line = _refused(convert("resave", src, out), out)
    assert "B/2/1" in line or str(src / "B" / "2" / "1") in line, line


def test_invalid_zarray_json(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_v2_group(src, {"multiscales": samples.multiscales_04("yx", [[1, 1]])})
    (src / "0").mkdir()
    (src / "0" / ".zarray").write_text('{"zarr_format": 2, "shape": [10, 10], "chunks": [5, 5], "dtype": "|u1",')
    line = _refused(convert("resave", src, out), out)
    assert ".zarray" in line and str(src / "0") in line, line


def test_invalid_zattrs_json(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src)
    (src / ".zattrs").write_text('{"multiscales": [')
    line = _refused(convert("resave", src, out), out)
    assert ".zattrs" in line, line


def test_axes_count_differs_from_ndim(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_v2_group(src, {"multiscales": samples.multiscales_04("zyx", [[1, 1, 1]])})
    samples.write_v2_array(src / "0", samples.pattern((20, 20), "|u1", 2), (10, 10))
    line = _refused(convert("resave", src, out), out, str(src))
    assert "axes" in line.lower() or "dimension" in line.lower(), line


def test_plate_lists_a_missing_well(tmp_path, convert):
    src, out = tmp_path / "plate.zarr", tmp_path / "out.zarr"
    samples.write_plate(src, ["A"], ["1", "2"], ["A/1", "A/2"], 1, levels=1)
    shutil.rmtree(src / "A" / "2")
    line = _refused(convert("resave", src, out), out)
    assert "A/2" in line, line


def test_well_lists_a_missing_field(tmp_path, convert):
    src, out = tmp_path / "plate.zarr", tmp_path / "out.zarr"
    samples.write_plate(src, ["A"], ["1"], ["A/1"], 2, levels=1)
    shutil.rmtree(src / "A" / "1" / "1")
    line = _refused(convert("resave", src, out), out)
    assert "A/1" in line, line


@pytest.mark.parametrize(
    ("key", "value"),
    [("dtype", "<U4"), ("dtype", [["a", "<u2"]]), ("compressor", {"id": "no-such-codec"})],
    ids=["string_dtype", "structured_dtype", "unknown_codec"],
)
def test_unsupported_array_metadata(key, value, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src, levels=1)
    zarray = json.loads((src / "0" / ".zarray").read_text())
    zarray[key] = value
    (src / "0" / ".zarray").write_text(json.dumps(zarray))
    _refused(convert("resave", src, out), out, str(src / "0"))


def test_unknown_ome_version_refused(tmp_path, convert):
    """0.1-0.3 convert (test_older_versions); a version no specification has is refused."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src, levels=1)
    attrs = json.loads((src / ".zattrs").read_text())
    attrs["multiscales"][0]["version"] = "9.3"
    (src / ".zattrs").write_text(json.dumps(attrs))
    line = _refused(convert("resave", src, out), out, str(src))
    assert "9.3" in line, line


def test_input_already_zarr_v3(tmp_path, convert):
    src, out = tmp_path / "v3.zarr", tmp_path / "out.zarr"
    first = tmp_path / "v2.zarr"
    build_image_2d(first)
    assert convert("resave", first, src, "--cc-by").rc == 0
    line = _refused(convert("resave", src, out), out, str(src))
    assert "v3" in line.lower() or "0.5" in line or "zarr.json" in line, line


@pytest.mark.parametrize(
    "build",
    [build_image_with_labels, build_plate, lambda p: samples.write_bioformats2raw(p, series=2)],
    ids=["labels", "plate", "bioformats2raw"],
)
def test_input_never_modified(build, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build(src)
    before = checks.tree_digest(src)
    run = convert("resave", src, out, "--cc-by", "--output-threads=2")
    assert run.rc == 0, str(run)
    assert checks.tree_digest(src) == before, "the input was modified by a conversion"
    # nor by a refused overwrite or a failed run
    convert("resave", src, out)
    assert checks.tree_digest(src) == before


def test_output_inside_input_refused(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    before = checks.tree_digest(src)
    out = src / "converted"
    run = convert("resave", src, out)
    assert run.rc != 0, f"writing the output inside the input was accepted\n{run}"
    assert "Traceback" not in run.err
    assert checks.tree_digest(src) == before


# ---------------------------------------------------------------------------
# the installed console script: exit codes and no traceback
# ---------------------------------------------------------------------------


def test_console_script_missing_input(tmp_path, run_script):
    src, out = tmp_path / "nope.zarr", tmp_path / "out.zarr"
    run = run_script("resave", src, out)
    _refused(run, out, str(src))


def test_console_script_corrupt_chunk(tmp_path, run_script):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    _truncated(src, Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE))
    run = run_script("resave", src, out, "--cc-by")
    line = _refused(run, out, str(src))
    assert _names_chunk(line), line


def test_console_script_usage_error(tmp_path, run_script):
    run = run_script("resave", "--no-such-option", tmp_path / "a", tmp_path / "b")
    assert run.rc != 0
    assert "Traceback" not in run.err


def test_corrupt_json_in_input_is_not_rewritten(tmp_path, convert):
    """A refused input leaves the source exactly as it was."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src)
    (src / "1" / ".zarray").write_text(json.dumps({"zarr_format": 2})[:-1])
    before = checks.tree_digest(src)
    run = convert("resave", src, out)
    assert run.rc != 0
    assert checks.tree_digest(src) == before


def test_failed_run_can_be_replaced_with_overwrite(tmp_path, convert):
    """What a failed run leaves behind is refused as an input-looking output
    (no top-level zarr.json) but replaced by --output-overwrite once the input
    is fixed."""
    src, out = tmp_path / "plate.zarr", tmp_path / "out.zarr"
    expected = build_plate(src)
    chunk = src / "B" / "2" / "1" / "0" / "1" / "0" / "1"
    good = chunk.read_bytes()
    chunk.write_bytes(good[:10])
    _refused(convert("resave", src, out, "--cc-by"), out, str(src / "B" / "2" / "1"))
    chunk.write_bytes(good)
    run = convert("resave", src, out, "--cc-by", "--output-overwrite")
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected)
