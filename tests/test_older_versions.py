"""OME-NGFF 0.1, 0.2 and 0.3 (and tool-suffixed versions, and writers' slips)
converted to 0.5: every inferred value a recorded repair, the output accepted
by zarr-python, ome-zarr-models, yaozarrs, ome-zarr-py and the official 0.5
schemas, with every array equal to what was written; what cannot be inferred
refused in one line naming the field.

The inputs are written here as the writers of each version wrote them (the
specification text of ome/ngff 0.1-0.3; IDR's first zarr releases; tifffile's
ZarrTiffStore, which still writes "version": "0.1" with _ARRAY_DIMENSIONS)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

import checks
from ome2024_ngff_challenge.about import STATS_KEY
from ome2024_ngff_challenge.errors import InputError
from ome2024_ngff_challenge.ome import older, repair
from ome2024_ngff_challenge.testing.v2_writer import write_v2_array, write_v2_group

SEPARATOR = {"0.1": ".", "0.2": "/", "0.3": "/"}


def _json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=4))


def _levels(data: np.ndarray, n: int) -> list[np.ndarray]:
    out = [data]
    for _ in range(n - 1):
        out.append(np.ascontiguousarray(out[-1][..., ::2, ::2]))
    return out


def write_image(root: Path, version: str, data: np.ndarray, axes: list[str] | None, *, label: bool = False,
                separator_key: bool = True, array_dims: bool = False, levels: int = 3,
                omero: object = "default") -> dict[str, np.ndarray]:
    """An image (or label image) as a writer of ``version`` wrote it; the
    arrays a reader must find ({path: data})."""
    sep = SEPARATOR[version]
    arrays = {}
    for i, level in enumerate(_levels(data, levels)):
        attrs = {"_ARRAY_DIMENSIONS": list(axes)} if array_dims and axes else None
        arrays[str(i)] = write_v2_array(root / str(i), level, (1,) * (level.ndim - 2) + (16, 16),
                                        dimension_separator=sep, attrs=attrs)
        if not separator_key:  # zarr-python before 2.8: nested keys, and .zarray does not say so
            zarray = json.loads((root / str(i) / ".zarray").read_text())
            del zarray["dimension_separator"]
            _json(root / str(i) / ".zarray", zarray)
    ms = {"version": version, "name": root.name, "datasets": [{"path": str(i)} for i in range(levels)],
          "type": "gaussian", "metadata": {"method": "skimage.transform.pyramid_gaussian"}}
    if axes is not None and version == "0.3":
        ms["axes"] = axes
    attrs: dict = {"multiscales": [ms]}
    if label:
        attrs["image-label"] = {"version": version, "colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}
        if version != "0.1":
            attrs["image-label"]["properties"] = [{"label-value": 1, "class": "nucleus"}]
    elif omero == "default":
        n = data.shape[-4] if data.ndim >= 4 else 1
        attrs["omero"] = {"version": version, "id": 1, "name": "example.tif", "rdefs": {"model": "color"},
                          "channels": [{"active": True, "coefficient": 1, "color": "0000FF", "family": "linear",
                                        "inverted": False, "label": f"ch{c}",
                                        "window": {"end": 1500, "max": 65535, "min": 0, "start": 0}}
                                       for c in range(n)]}
    elif omero != "none":
        attrs["omero"] = omero
    write_v2_group(root, attrs)
    return arrays


def write_image_with_labels(root: Path, version: str, **kw) -> dict[str, np.ndarray]:
    """A 5D (0.1, 0.2) or 4D c,z,y,x (0.3) image with a label image 'nuclei'."""
    rng = np.random.default_rng(1)
    if version == "0.3":
        data, axes = rng.integers(0, 60000, (2, 3, 64, 48), dtype=np.uint16), ["c", "z", "y", "x"]
        mask, mask_axes = np.zeros((3, 64, 48), np.uint32), ["z", "y", "x"]
    else:
        data, axes = rng.integers(0, 60000, (1, 2, 3, 64, 48), dtype=np.uint16), None
        mask, mask_axes = np.zeros((1, 1, 3, 64, 48), np.uint32), None
    mask[..., 10:30, 5:20] = 1
    arrays = write_image(root, version, data, axes, **kw)
    write_v2_group(root / "labels", {"labels": ["nuclei"]})
    found = write_image(root / "labels" / "nuclei", version, mask, mask_axes, label=True, **kw)
    arrays.update({f"labels/nuclei/{k}": v for k, v in found.items()})
    return arrays


def write_plate(root: Path, version: str, wells=("A/1", "B/2")) -> dict[str, np.ndarray]:
    """A plate of 2 rows, 2 columns, the wells given, one field each (0.1-0.3:
    no rowIndex and columnIndex)."""
    arrays = {}
    plate = {"version": version, "name": "test", "field_count": 1,
             "acquisitions": [{"id": 1, "maximumfieldcount": 1, "name": "Meas_01", "starttime": 1343731272000}],
             "rows": [{"name": "A"}, {"name": "B"}], "columns": [{"name": "1"}, {"name": "2"}],
             "wells": [{"path": w} for w in wells]}
    write_v2_group(root, {"plate": plate})
    for w in wells:
        parts = w.split("/")
        for depth in range(1, len(parts)):
            write_v2_group(root.joinpath(*parts[:depth]))
        write_v2_group(root / w, {"well": {"version": version, "images": [{"path": "0", "acquisition": 1}]}})
        arrays.update({f"{w}/0/{k}": v for k, v in write_image_with_labels(root / w / "0", version).items()})
    return arrays


def assert_arrays_equal(out: Path, expected: dict[str, np.ndarray]) -> None:
    for rel, data in expected.items():
        got = zarr.open_array(str(out / rel), mode="r", zarr_format=3)[...]
        assert got.shape == data.shape and np.array_equal(got, data), f"{rel}: differs from what was written"


def repairs(run) -> list[str]:
    return [ln for ln in run.err.splitlines() if ": repaired: " in ln]


def validate_ngff_zarr(out: Path) -> None:
    """ngff-zarr's validation of every image, plate and well (where ngff-zarr
    is installed: it is not in the test extras, as it would upgrade
    typing-extensions; run these tests in a venv with it to apply it)."""
    try:
        import ngff_zarr
    except ImportError:
        return
    for meta_path in out.rglob("zarr.json"):
        meta = json.loads(meta_path.read_text())
        ome = meta.get("attributes", {}).get("ome", {}) if meta.get("node_type") == "group" else {}
        model = next((m for k, m in (("multiscales", "image"), ("plate", "plate"), ("well", "well")) if k in ome), None)
        if model is not None:
            ngff_zarr.validate(meta["attributes"], version="0.5", model=model)


def converted(convert, src: Path, out: Path, expected: dict[str, np.ndarray]) -> list[str]:
    """Convert; assert the output is valid for every validator and equal; the repair lines."""
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 0, str(run)
    assert_arrays_equal(out, expected)
    report = json.loads(convert("validate", "--json", out, "--against", src).out)
    assert report["valid"] and report["errors"] == [], report["errors"]
    checks.validate_yaozarrs(out)
    validate_ngff_zarr(out)
    recorded = set()
    for rel in expected:
        recorded.update(checks.v3_meta(out, rel)["attributes"][STATS_KEY]["repairs"])
    assert len(recorded) == len(repairs(run)), (recorded, run.err)
    return repairs(run)


# -- images with labels ----------------------------------------------------------


@pytest.mark.parametrize("version", ["0.1", "0.2", "0.3"])
def test_older_image_with_labels_converts_with_the_repairs_said(version, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = write_image_with_labels(src, version)
    said = converted(convert, src, out, expected)
    assert any("axes" in ln for ln in said) and any("coordinateTransformations" in ln for ln in said), said
    ome = checks.v3_meta(out, "")["attributes"]["ome"]
    axes = ome["multiscales"][0]["axes"]
    names = ["c", "z", "y", "x"] if version == "0.3" else ["t", "c", "z", "y", "x"]
    assert [a["name"] for a in axes] == names
    assert [a["type"] for a in axes][-3:] == ["space"] * 3
    scales = [d["coordinateTransformations"][0]["scale"] for d in ome["multiscales"][0]["datasets"]]
    assert scales[2][-2:] == [4.0, 4.0] and scales[0] == [1.0] * len(names)
    checks.validate_ome_zarr_models(out, "image")
    checks.validate_ome_zarr_models(out, "label", "labels/nuclei")
    nodes = checks.read_with_ome_zarr_py(out)
    assert any("Label" in {type(s).__name__ for s in n.specs} for n in nodes)
    label = checks.v3_meta(out, "labels/nuclei")["attributes"]["ome"]
    assert label["image-label"]["colors"] == [{"label-value": 1, "rgba": [255, 0, 0, 255]}]


def test_older_repairs_are_refused_with_no_repair(tmp_path, convert):
    src = tmp_path / "in.zarr"
    write_image_with_labels(src, "0.2")
    run = convert("resave", "--cc-by", "--no-repair", src, tmp_path / "out.zarr")
    line = checks.assert_one_line_error(run.err, str(src), "--no-repair", "OME-NGFF 0.2")
    assert "axes" in line
    checks.assert_no_complete_output(tmp_path / "out.zarr")


def test_nested_keys_without_a_separator_are_found(tmp_path, convert):
    """0.2 written by zarr-python before 2.8: "/" keys, no dimension_separator."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = write_image_with_labels(src, "0.2", separator_key=False)
    said = converted(convert, src, out, expected)
    assert any("separator '/'" in ln for ln in said), said


def test_tifffile_style_01_takes_its_axes_from_array_dimensions(tmp_path, convert):
    """tifffile's ZarrTiffStore: "version": "0.1", 2D levels, _ARRAY_DIMENSIONS."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    data = np.arange(64 * 48, dtype=np.uint8).reshape(64, 48)
    expected = write_image(src, "0.1", data, ["Y", "X"], array_dims=True, omero="none")
    said = converted(convert, src, out, expected)
    assert any("_ARRAY_DIMENSIONS" in ln for ln in said), said
    axes = checks.v3_meta(out, "")["attributes"]["ome"]["multiscales"][0]["axes"]
    assert axes == [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]


def test_what_cannot_be_inferred_is_refused_naming_the_field(tmp_path, convert):
    src = tmp_path / "in.zarr"
    write_image(src, "0.1", np.zeros((3, 64, 48), np.uint8), None, omero="none")
    run = convert("resave", "--cc-by", src, tmp_path / "out.zarr")
    line = checks.assert_one_line_error(run.err, str(src), "multiscales[0].axes", "3 dimensions")
    assert run.rc != 0, line
    bad = tmp_path / "bad.zarr"
    write_image(bad, "0.3", np.zeros((2, 64, 48), np.uint8), ["q", "y", "x"], omero="none")
    run = convert("resave", "--cc-by", bad, tmp_path / "out2.zarr")
    checks.assert_one_line_error(run.err, str(bad), "multiscales[0].axes[0]", "'q'")


# -- plates ----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.1", "0.2", "0.3"])
def test_older_plate_converts_with_row_and_column_indices_inferred(version, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = write_plate(src, version)
    said = converted(convert, src, out, expected)
    assert any("rowIndex and columnIndex" in ln for ln in said), said
    wells = checks.v3_meta(out, "")["attributes"]["ome"]["plate"]["wells"]
    assert wells == [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}, {"path": "B/2", "rowIndex": 1, "columnIndex": 1}]
    checks.validate_ome_zarr_models(out, "plate")
    checks.check_ome_zarr_py_plate(out)


def test_plate_well_paths_with_an_extra_folder_are_refused(tmp_path, convert):
    """The 0.1-0.3 example plate: wells at "2020-10-10/A/1" (0.4 and later: ROW/COLUMN)."""
    src = tmp_path / "in.zarr"
    write_plate(src, "0.1", wells=("2020-10-10/A/1",))
    run = convert("resave", "--cc-by", src, tmp_path / "out.zarr")
    checks.assert_one_line_error(run.err, str(src), "plate.wells[0].path", "2020-10-10/A/1")


# -- suffixed versions and writers' slips ----------------------------------------------


def test_a_tool_suffixed_version_is_read_as_its_base_with_a_warning(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    data = np.arange(2 * 64 * 48, dtype=np.uint16).reshape(2, 64, 48)
    expected = {"0": write_v2_array(src / "0", data, (1, 32, 32))}
    ms = {"version": "0.4-dev-spatialdata", "name": "image",
          "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
          "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]}]}
    omero = {"version": "0.4-dev-spatialdata", "channels": [{"label": "a"}, {"label": "b"}]}
    write_v2_group(src, {"multiscales": [ms], "omero": omero})
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 0, str(run)
    assert "'0.4-dev-spatialdata' read as 0.4" in run.err
    # SpatialData's channels carry only a label: window and colour filled, as a repair
    channels = checks.v3_meta(out, "")["attributes"]["ome"]["omero"]["channels"]
    assert all(set(ch) >= {"label", "window", "color"} for ch in channels), channels
    assert channels[0]["window"] == {"min": 0, "max": 65535, "start": 0, "end": 65535}
    assert any("omero channels" in ln for ln in repairs(run))
    assert_arrays_equal(out, expected)
    checks.validate_yaozarrs(out)
    refused = convert("resave", "--cc-by", "--no-repair", src, tmp_path / "refused.zarr")
    checks.assert_one_line_error(refused.err, str(src), "--no-repair", "omero channels")


def test_string_zarr_format_and_null_omero_are_repaired(tmp_path, convert):
    """webknossos: "zarr_format": "2" in every .zgroup and .zarray; a pydantic
    writer: "omero": null."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    data = np.arange(64 * 48, dtype=np.uint8).reshape(1, 64, 48)
    expected = {"0": write_v2_array(src / "0", data, (1, 32, 32))}
    ms = {"version": "0.4", "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
                                     {"name": "x", "type": "space"}],
          "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]}]}
    write_v2_group(src, {"multiscales": [ms], "omero": None})
    for name in (".zgroup", "0/.zarray"):
        meta = json.loads((src / name).read_text())
        meta["zarr_format"] = "2"
        _json(src / name, meta)
    said = converted(convert, src, out, expected)
    assert len([ln for ln in said if 'zarr_format "2"' in ln]) == 2, said
    assert any('"omero": null' in ln for ln in said), said
    assert "omero" not in checks.v3_meta(out, "")["attributes"]["ome"]


# -- validate: the official schemas ------------------------------------------------------


def test_validate_rejects_what_the_official_schemas_reject(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    write_image_with_labels(src, "0.3")
    assert convert("resave", "--cc-by", src, out).rc == 0
    meta_path = out / "zarr.json"
    good = json.loads(meta_path.read_text())
    cases = {
        "omero null": lambda ome: ome.update(omero=None),
        "dataset path not a string": lambda ome: ome["multiscales"][0]["datasets"][0].update(path=0),
        "transform by path": lambda ome: ome["multiscales"][0]["datasets"][0].update(
            coordinateTransformations=[{"type": "scale", "path": "s.bin"}]),
    }
    for case, change in cases.items():
        meta = json.loads(json.dumps(good))
        change(meta["attributes"]["ome"])
        meta_path.write_text(json.dumps(meta))
        run = convert("validate", out)
        assert run.rc == 1, (case, run.out, run.err)
        lines = [ln for ln in (run.out + run.err).splitlines() if "image.schema" in ln]
        assert lines and all(ln.startswith(f"error: {out}:") for ln in lines), (case, run.out, run.err)
    meta_path.write_text(json.dumps(good))
    assert convert("validate", out).rc == 0


# -- the pure functions ------------------------------------------------------------


def test_pure_functions_of_each_step():
    where = "x.zarr"
    attrs = {"multiscales": [{"version": "0.3", "axes": ["t", "c", "y", "x"], "datasets": [{"path": "0"}, {"path": "1"}]}]}
    levels = {"0": ((2, 3, 10, 11), None), "1": ((2, 3, 5, 6), None)}
    got, notes = older.image_to_v04(attrs, "0.3", levels, where)
    ms = got["multiscales"][0]
    assert ms["version"] == "0.4" and [a["type"] for a in ms["axes"]] == ["time", "channel", "space", "space"]
    assert ms["datasets"][1]["coordinateTransformations"] == [{"type": "scale", "scale": [1.0, 1.0, 2.0, 2.0]}]
    assert len(notes) == 2 and attrs["multiscales"][0]["axes"] == ["t", "c", "y", "x"]  # the input is untouched
    with pytest.raises(InputError, match=r"multiscales\[0\]\.axes is missing"):
        older.image_to_v04({"multiscales": [{"datasets": [{"path": "0"}]}]}, "0.2", {"0": ((4, 4), None)}, where)
    plate, notes = older.plate_to_v04({"plate": {"version": "0.2", "rows": [{"name": "A"}], "columns": [
        {"name": "1"}, {"name": "2"}], "wells": [{"path": "A/2"}]}}, "0.2", where)
    assert plate["plate"]["wells"] == [{"path": "A/2", "rowIndex": 0, "columnIndex": 1}] and notes
    # a 0.4 plate that leaves the indices out gets them too; one that has them is left as it is
    plate04 = {"plate": {"version": "0.4", "rows": [{"name": "A"}], "columns": [{"name": "1"}], "wells": [{"path": "A/1"}]}}
    assert older.plate_to_v04(plate04, "0.4", where)[0]["plate"]["wells"][0] == {"path": "A/1", "rowIndex": 0, "columnIndex": 0}
    indexed = older.plate_to_v04(plate04, "0.4", where)[0]
    assert older.plate_to_v04(indexed, "0.4", where) == (indexed, [])
    # axes as names under a 0.4 version are read as 0.3 axes
    assert older.is_older({"multiscales": [{"version": "0.4", "axes": ["y", "x"], "datasets": []}]}, "0.4")
    assert not older.is_older({"multiscales": [{"version": "0.4", "axes": [{"name": "y"}], "datasets": []}]}, "0.4")
    assert older.read_versions({"well": {"version": "0.4-dev-x"}})[0]["well"]["version"] == "0.4"
    assert older.base_version("0.4-dev-spatialdata") == "0.4"
    fixed, notes = repair.omero_channel_defaults({"omero": {"channels": [{"label": "a"}]}}, np.dtype("float32"))
    assert fixed["omero"]["channels"][0] == {"label": "a", "color": "FFFFFF",
                                             "window": {"min": 0.0, "max": 1.0, "start": 0.0, "end": 1.0}}
    assert repair.null_omero({"omero": None, "multiscales": []})[0] == {"multiscales": []}
    colours = [{"color": c, "window": {"min": 0, "max": 1, "start": 0, "end": 1}} for c in ("#ff0000", "0F0", "red", "00FF00")]
    fixed, notes = repair.omero_channel_defaults({"omero": {"channels": colours}}, np.dtype("uint8"))
    assert [ch["color"] for ch in fixed["omero"]["channels"]] == ["FF0000", "00FF00", "0000FF", "00FF00"] and notes


def test_stored_separator_with_and_without_listing():
    from ome2024_ngff_challenge.stores.memory import MemoryStore
    from ome2024_ngff_challenge.zarr.chunk_keys import stored_separator

    for listing in (True, False):
        store = MemoryStore()
        store.supports_listing = listing  # an HTTP store cannot list: the first chunk is looked up
        store.put("nested/.zarray", b"{}")
        store.put("nested/0/0/0", b"x")
        store.put("dotted/0.0.0", b"x")
        store.put("empty/.zarray", b"{}")
        assert stored_separator(store, "nested", 3) == "/"
        assert stored_separator(store, "dotted", 3) == "."
        assert stored_separator(store, "empty", 3) is None
        assert stored_separator(store, "nested", 1) is None  # one dimension: the keys are the same


def test_label_images_in_folders_below_the_labels_group_are_refused(tmp_path, convert):
    """0.1 allowed "original/0"; ome-zarr-models finds label images only right below the labels group."""
    src = tmp_path / "in.zarr"
    write_image(src, "0.1", np.zeros((1, 1, 1, 64, 48), np.uint16), None)
    write_v2_group(src / "labels", {"labels": ["original/0"]})
    write_v2_group(src / "labels" / "original")
    write_image(src / "labels" / "original" / "0", "0.1", np.ones((1, 1, 1, 64, 48), np.uint8), None, label=True)
    run = convert("resave", "--cc-by", src, tmp_path / "out.zarr")
    checks.assert_one_line_error(run.err, f"{src}/labels", "labels[0] 'original/0'")
    checks.assert_no_complete_output(tmp_path / "out.zarr")


@pytest.mark.parametrize("multiscales", [5, None, "x", [1], [{"version": 3}], [{"axes": 5, "datasets": 3}],
                                         [{"axes": [1, "y"], "datasets": [{"path": 0}]}]])
@pytest.mark.parametrize("extra", [{}, {"omero": {"channels": [5, {"window": 3}]}}, {"plate": {"wells": [
    5, {"path": 3}, {"path": "A/1"}], "rows": 5, "columns": [5]}}, {"well": [1]}])
def test_malformed_metadata_is_an_input_error_or_left_to_the_04_checks(multiscales, extra):
    zattrs = {"multiscales": multiscales, **extra}
    calls = (lambda: older.read_versions(zattrs), lambda: older.image_to_v04(zattrs, "0.2", {"0": ((4, 4), None)}, "w"),
             lambda: older.image_to_v04(zattrs, "0.3", {"0": ((4, 4), ["Y", 3])}, "w"),
             lambda: older.plate_to_v04(zattrs, "0.1", "w"), lambda: repair.omero_channel_defaults(zattrs, np.dtype("u2")))
    for call in calls:
        try:
            call()
        except InputError:
            pass
