"""Hostile metadata and hostile cells: each refused in one line naming the path
and what is wrong (never an "unexpected" error), CSV cells no spreadsheet runs,
and a huge sparse array planned from what it stores, not from its grid."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

import checks
from conftest import build_bioformats2raw
from ome2024_ngff_challenge.testing import samples

SMALL = np.arange(64 * 64, dtype="<u2").reshape(64, 64)


def _image(path: Path) -> Path:
    samples.write_image(path, [SMALL], "yx", chunks=(32, 32))
    return path


def _edit_json(path: Path, edit) -> None:
    path.write_text(edit(path.read_text()))


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


def _refused(run, *needles: str) -> str:
    assert run.rc != 0, str(run)
    assert "unexpected" not in run.err, run.err
    return checks.assert_one_line_error(run.err, *needles)


@pytest.mark.parametrize("shape", [[2**70, 64], [2**40, 2**40], [-1, 64], [64.0, 64], ["64", 64], [True, 64], 64])
def test_bad_shapes_are_one_line(shape, tmp_path, convert):
    src = _image(tmp_path / "in.zarr")
    _edit_json(src / "0" / ".zarray", lambda t: json.dumps({**json.loads(t), "shape": shape}))
    _refused(convert("resave", src, tmp_path / "out.zarr", "--cc0"), str(src / "0" / ".zarray"))


@pytest.mark.parametrize("chunks", [[2**40, 2**40], [0, 32], [2**31, 2**31]])
def test_bad_chunks_are_one_line(chunks, tmp_path, convert):
    src = _image(tmp_path / "in.zarr")
    _edit_json(src / "0" / ".zarray", lambda t: json.dumps({**json.loads(t), "chunks": chunks}))
    _refused(convert("resave", src, tmp_path / "out.zarr", "--cc0"), str(src / "0" / ".zarray"))


@pytest.mark.parametrize("depth", [150_000, 5_000, 200])
@pytest.mark.parametrize("where", [".zattrs", "0/.zarray", "0/.zattrs"])
def test_deeply_nested_v2_json(where, depth, tmp_path, convert):
    src = _image(tmp_path / "in.zarr")
    target = src / where
    old = target.read_text() if target.exists() else "{}"
    target.write_text(old.rstrip().rstrip("}") + (", " if old.strip() != "{}" else "") + f'"deep": {_nest(depth)}}}')
    line = _refused(convert("resave", src, tmp_path / "out.zarr", "--cc0"), str(target))
    assert "nested more than" in line


@pytest.mark.parametrize("depth", [150_000, 200])
def test_deeply_nested_zarr_json(depth, tmp_path, convert):
    src, out = _image(tmp_path / "in.zarr"), tmp_path / "out.zarr"
    assert convert("resave", src, out, "--cc0").rc == 0
    for target in (out / "zarr.json", out / "0" / "zarr.json"):
        saved = target.read_text()
        _edit_json(target, lambda t: t.rstrip().rstrip("}") + f', "deep": {_nest(depth)}}}')
        commands = [("validate", out), ("catalog", out)]
        if target == out / "zarr.json":  # update reads the root only
            commands.append(("update", out, "--rocrate-name=x"))
        for argv in commands:
            run = convert(*argv)
            assert run.rc != 0 and "unexpected" not in run.err + run.out, str(run)
            assert "nested more than" in run.out + run.err
        target.write_text(saved)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_attributes(value, tmp_path, convert):
    src = _image(tmp_path / "in.zarr")
    _edit_json(src / ".zattrs", lambda t: t.replace("1.0", value, 1))
    line = _refused(convert("resave", src, tmp_path / "out.zarr", "--cc0"), str(src / ".zattrs"))
    assert "scale[0]" in line and "NaN or infinite" in line
    # elsewhere in the attributes: still named, never "Out of range float values"
    src2 = _image(tmp_path / "in2.zarr")
    _edit_json(src2 / ".zattrs", lambda t: t.rstrip().rstrip("}") + f', "extra": {{"x": [1, {value}]}}}}')
    line = _refused(convert("resave", src2, tmp_path / "out2.zarr", "--cc0"), str(src2 / ".zattrs"))
    assert "extra.x[1]" in line


def test_scale_of_strings_is_one_line(tmp_path, convert):
    src = _image(tmp_path / "in.zarr")
    _edit_json(src / ".zattrs", lambda t: t.replace("1.0", '"1.0"', 1))
    line = _refused(convert("resave", src, tmp_path / "out.zarr", "--cc0"), str(src))
    assert "scale" in line


def test_bioformats2raw_series_errors_name_the_dataset(tmp_path, convert):
    src = tmp_path / "bf.zarr"
    build_bioformats2raw(src)
    for series in ("not a list", ["../outside"], [""], [7]):
        _edit_json(src / "OME" / ".zattrs", lambda t, s=series: json.dumps({**json.loads(t), "series": s}))
        _refused(convert("resave", src, tmp_path / "out.zarr", "--cc0"), str(src / "OME" / ".zattrs"))


FORMULAS = ['=HYPERLINK("http://example.invalid","x")', "@SUM(1+1)", "+1+1", "-2+3", "\tcmd", "\r=1"]


def _read(path: Path) -> str:
    with open(path, newline="") as f:  # a carriage return in a cell stays one
        return f.read()


def _formula_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(cell)]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("formula", FORMULAS)
def test_catalog_csv_cells_are_never_formulas(formula, tmp_path, convert):
    folder = tmp_path / "datasets"
    src = _image(tmp_path / "in.zarr")
    out = folder / "a.zarr"
    assert convert("resave", src, out, "--cc0", f"--rocrate-name={formula}",
                   f"--rocrate-description={formula}").rc == 0
    assert convert("catalog", folder, "--csv", tmp_path / "c.csv").rc == 0
    text = _read(tmp_path / "c.csv")
    assert _formula_cells(text) == [], text
    row = next(csv.DictReader(io.StringIO(text, newline="")))
    escaped = "'" + formula.replace("\r", "\n")  # a lone carriage return would end the row
    assert row["name"] == escaped and row["description"] == escaped
    assert row["written"] and float(row["written"]) > 0  # numbers stay numbers


def test_collection_catalog_cells_are_never_formulas(tmp_path, convert):
    src = _image(tmp_path / "in.zarr")
    listing = tmp_path / "list.csv"
    with listing.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "output", "name", "description"])
        w.writerow([src, "a.zarr", FORMULAS[0], FORMULAS[1]])
    root = tmp_path / "outs"
    assert convert("resave", "--input-list", listing, root, "--cc0").rc == 0
    text = _read(root / "catalog.csv")
    assert _formula_cells(text) == [], text
    # a second run reads its catalogue back: still one row, still escaped once
    assert convert("resave", "--input-list", listing, root, "--cc0").rc == 0
    again = list(csv.DictReader(io.StringIO(_read(root / "catalog.csv"), newline="")))
    assert len(again) == 1 and again[0]["name"] == "'" + FORMULAS[0], again


N = 100_000  # a cube of 10^15 voxels in 64^3 chunks: ~3.8e9 chunks, three stored
STORED = {(0, 0, 0): 1, (10, 500, 1562): 2, (1562, 1562, 1562): 3}


def _sparse(root: Path, separator: str) -> None:
    samples.write_v2_group(root, {"multiscales": samples.multiscales_04("zyx", [[1.0, 1.0, 1.0]])})
    (root / "0").mkdir()
    (root / "0" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [N] * 3, "chunks": [64] * 3, "dtype": "|u1", "order": "C",
        "compressor": {"id": "zlib", "level": 1}, "fill_value": 0, "filters": None,
        "dimension_separator": separator}))
    for index, value in STORED.items():
        key = root / "0" / separator.join(map(str, index))
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(numcodecs.Zlib(1).encode(np.full((64,) * 3, value, "u1")))


@pytest.mark.parametrize("separator", ["/", "."])
def test_huge_sparse_array_is_planned_from_its_stored_chunks(separator, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    _sparse(src, separator)
    before = checks.tree_digest(src)
    run = convert("resave", src, out, "--cc0")
    assert run.rc == 0, str(run)
    arr = zarr.open_array(out / "0", mode="r")
    assert arr.shape == (N,) * 3 and arr.fill_value == 0
    shards = [p for p in (out / "0" / "c").rglob("*") if p.is_file()]
    assert len(shards) == len(STORED)  # shards with no stored chunk are not written (they read as fill)
    for (z, y, x), value in STORED.items():
        box = tuple(slice(i * 64, min(i * 64 + 64, N)) for i in (z, y, x))
        assert (arr[box] == value).all()
        around = tuple(slice(max(s.start - 3, 0), s.stop + 3) for s in box)
        assert int(np.asarray(arr[around]).sum()) == value * int(np.prod([s.stop - s.start for s in box]))
    assert checks.tree_digest(src) == before
    # the comparison costs what is stored too, and finds a missing shard
    run = convert("validate", out, "--against", src)
    assert run.rc == 0 and "1 compared voxel by voxel" in run.out, str(run)
    shards[0].unlink()
    run = convert("validate", out, "--against", src)
    assert run.rc != 0 and "differs from the source" in run.out, str(run)


def test_listing_a_grid_never_misses_a_chunk(tmp_path):
    """The listing of stored objects is trusted only when every name in the
    array's folder is a key it understands: anything else (a stray file, a
    folder too deep) makes the caller ask for each object of the grid."""
    from ome2024_ngff_challenge.stores.local import LocalStore
    from ome2024_ngff_challenge.zarr.chunk_keys import stored_indices

    root = tmp_path / "a"
    for key in ("0/1/2", "3/0/0", "01/0/0", "9/9/9", ".zarray", "0/.partial-x"):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"x")
    store = LocalStore(tmp_path)
    # "01/..." is never asked for, "9/9/9" is outside the grid: neither is listed
    assert sorted(stored_indices(store, "a", (4, 4, 4), "/", None, 100)) == [(0, 1, 2), (3, 0, 0)]
    assert stored_indices(store, "a", (4, 4, 4), "/", None, 1) is None  # more than the limit
    (root / "notes.txt").write_text("stray")
    assert stored_indices(store, "a", (4, 4, 4), "/", None, 100) is None
    flat = tmp_path / "b"
    flat.mkdir()
    for name in ("c.0.1", "c.2.0", "zarr.json"):
        (flat / name).write_bytes(b"x")
    assert sorted(stored_indices(store, "b", (4, 4), ".", "c", 100)) == [(0, 1), (2, 0)]
    (flat / "sub").mkdir()
    assert stored_indices(store, "b", (4, 4), ".", "c", 100) is None


@pytest.mark.parametrize("depth", [150_000, 200])
def test_deeply_nested_details_file(depth, tmp_path, convert):
    src, details = _image(tmp_path / "in.zarr"), tmp_path / "details.json"
    details.write_text(_nest(depth))
    line = _refused(convert("resave", src, tmp_path / "out.zarr", "--cc0", f"--output-read-details={details}"),
                    str(details))
    assert "nested more than" in line


def test_huge_sparse_image_with_added_levels(tmp_path, convert):
    """Levels added below a sparse level are planned from its stored chunks too:
    only the shards under data are computed and written, and they are right."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    shape = (32800, 32768)  # 1025 x 1024 chunks of 32 x 32: over 2**20
    samples.write_v2_group(src, {"multiscales": samples.multiscales_04("yx", [[1.0, 1.0]])})
    (src / "0").mkdir()
    (src / "0" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": list(shape), "chunks": [32, 32], "dtype": "|u1", "order": "C",
        "compressor": None, "fill_value": 0, "filters": None, "dimension_separator": "."}))
    stored = {(0, 0): 10, (1024, 1000): 20}
    for (y, x), value in stored.items():
        (src / "0" / f"{y}.{x}").write_bytes(np.full((32, 32), value, "u1").tobytes())
    run = convert("resave", src, out, "--cc0", "--output-chunks=32,32", "--output-shards=256,256",
                  "--output-add-levels")
    assert run.rc == 0, str(run)
    levels = sorted((p for p in out.iterdir() if p.is_dir()), key=lambda p: int(p.name))
    assert len(levels) > 5
    for level in levels:
        arr = zarr.open_array(level, mode="r")
        factor = shape[0] // arr.shape[0] if arr.shape[0] else 1
        shards = [p for p in (level / "c").rglob("*") if p.is_file()]
        assert 1 <= len(shards) <= 2 * len(stored), (level.name, len(shards))
        for (y, x), value in stored.items():
            f = 2 ** int(level.name)
            cy, cx = y * 32 // f, x * 32 // f
            if 32 // f >= 1:  # the stored block still covers whole pixels at this level
                assert (arr[cy : cy + 32 // f, cx : cx + 32 // f] == value).all(), (level.name, y, x)
        assert factor >= 1


@pytest.mark.parametrize("name", [".zattrs", "0/.zarray", ".zgroup"])
def test_a_huge_local_metadata_document_is_refused_before_it_is_read(tmp_path, convert, monkeypatch, name):
    """A multi-GB .zattrs on disk would be read whole and parsed: refused from its size, as over
    HTTP and S3 (the same limit and variable), naming the file; raising the limit lets it through."""
    src = _image(tmp_path / "in.zarr")
    _edit_json(src / name, lambda text: text.rstrip()[:-1] + ', "padding": "' + "x" * 4000 + '"}')
    monkeypatch.setenv("OME2024_NGFF_CHALLENGE_MAX_METADATA_BYTES", "2000")
    line = _refused(convert("resave", src, tmp_path / "out.zarr"), str(src / name),
                    "OME2024_NGFF_CHALLENGE_MAX_METADATA_BYTES")
    assert "larger than a metadata document may be" in line
    assert not (tmp_path / "out.zarr" / "zarr.json").exists()
    monkeypatch.setenv("OME2024_NGFF_CHALLENGE_MAX_METADATA_BYTES", "100000")
    assert convert("resave", src, tmp_path / "out2.zarr").rc == 0


@pytest.mark.parametrize("depth", [150, 200_000])
def test_metadata_only_of_deeply_nested_json_is_invalid_not_a_crash(tmp_path, convert, depth):
    doc = tmp_path / "zarr.json"
    doc.write_text('{"zarr_format": 3, "node_type": "group", "attributes": {"ome": ' + _nest(depth) + "}}")
    run = convert("validate", "--metadata-only", doc)
    assert run.rc == 1 and "unexpected" not in run.err + run.out, str(run)
    assert "nested more than 100 levels deep" in run.out
