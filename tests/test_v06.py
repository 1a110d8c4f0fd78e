"""OME-Zarr 0.6 outputs: `resave --output-version 0.6` of every kind, the 0.6
view of 0.4 in place, and 0.5 datasets (ours and another tool's) upgraded to
0.6 in place and back (`--in-place --undo`).

Every output is walked by our validator (with every official 0.6 schema),
every array read back with zarr-python equal to the source, and, where the
newest ngff-zarr is installed (it needs a newer typing_extensions than the
test environment's, so it lives in a venv: NGFF_ZARR_PYTHON, default
<repo>/.venvs/v06-ngffzarr/bin/python, built by tests/reader_venvs/make.sh), opened by ngff-zarr with validation,
which must report the source's scale.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import checks
from conftest import build_bioformats2raw, build_image_5d, build_image_with_labels, build_plate

import ome2024_ngff_challenge as ngff
from ome2024_ngff_challenge.about import UPGRADE_KEY
from ome2024_ngff_challenge.convert import upgrade_v06
from ome2024_ngff_challenge.errors import UserError
from ome2024_ngff_challenge.ome import v06_rules
from ome2024_ngff_challenge.stores.local import LocalStore
from ome2024_ngff_challenge.validation import validator_for
from ome2024_ngff_challenge.validation.walk_v06 import Validator06

CRATE = ("--cc-by", "--rocrate-organism=NCBITaxon:9606", "--rocrate-modality=obo:FBbi_00000243")
KINDS = {
    "image_5d": build_image_5d,
    "labels": build_image_with_labels,
    "plate": build_plate,
    "bioformats2raw": build_bioformats2raw,
}
NGFF_ZARR = os.environ.get("NGFF_ZARR_PYTHON", str(Path(__file__).resolve().parents[1] / ".venvs" / "v06-ngffzarr" / "bin" / "python"))


def group_versions(root: Path) -> dict[str, str | None]:
    """{group path: ome.version} of every group with OME metadata."""
    out = {}
    for meta_path in sorted(root.rglob("zarr.json")):
        meta = json.loads(meta_path.read_text())
        if meta.get("node_type") == "group" and "ome" in meta.get("attributes", {}):
            rel = meta_path.parent.relative_to(root).as_posix()
            out["" if rel == "." else rel] = meta["attributes"]["ome"].get("version")
    return out


def assert_valid_0_6(out: Path) -> None:
    validator = validator_for(LocalStore(out))
    assert isinstance(validator, Validator06)
    report = ngff.validate(out)
    assert report.valid, report.errors
    versions = group_versions(out)
    assert versions and set(versions.values()) <= {"0.6", None}, versions  # None: a labels group of another tool
    for path in versions:  # and each group directly against its official 0.6 schemas
        attributes = json.loads((out / path / "zarr.json").read_text())["attributes"]
        schemas = v06_rules.schemas_for(attributes["ome"])
        assert schemas or set(attributes["ome"]) - {"version", "_creator"} == {"labels"}, path  # no labels schema
        for schema in schemas:
            assert v06_rules.schema_problems(schema, attributes) == [], (path, schema)


def assert_arrays_equal(out: Path, expected: dict[str, np.ndarray]) -> None:
    for rel, array in expected.items():
        checks.assert_same_voxels(array, checks.read_v3_zarr(out, rel), rel)


def image_groups(root: Path) -> list[str]:
    return [p for p, _ in group_versions(root).items()
            if "multiscales" in json.loads((root / p / "zarr.json").read_text())["attributes"]["ome"]]


def ngff_zarr_scales(out: Path, paths: list[str]) -> dict[str, list[dict]]:
    """{image group: [scale of each level]} as the newest ngff-zarr reads them,
    with validation (from_ngff_zarr(validate=True))."""
    script = (
        "import json, sys, ngff_zarr\n"
        "root, paths = sys.argv[1], json.loads(sys.argv[2])\n"
        "out = {}\n"
        "for p in paths:\n"
        "    ms = ngff_zarr.from_ngff_zarr(root + '/' + p if p else root, validate=True)\n"
        "    out[p] = [dict(im.scale) for im in ms.images]\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run([NGFF_ZARR, "-c", script, str(out), json.dumps(paths)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def source_scales(src: Path, path: str) -> list[dict]:
    """Each level's scale of a 0.4 image, by axis name."""
    ms = json.loads((src / path / ".zattrs").read_text())["multiscales"][0]
    names = [a["name"] for a in ms["axes"]]
    return [dict(zip(names, map(float, ds["coordinateTransformations"][0]["scale"]))) for ds in ms["datasets"]]


BYTE_COPY, ZERO_COPY = ("--output-codec=keep",), ("--output-codec=keep", "--output-shards=none")


@pytest.mark.parametrize(("kind", "options"), [
    *[pytest.param(kind, (), id=f"{kind}-converted") for kind in KINDS],
    pytest.param("labels", BYTE_COPY, id="labels-byte-copy"),
    pytest.param("bioformats2raw", BYTE_COPY, id="bioformats2raw-byte-copy"),
    pytest.param("image_5d", ZERO_COPY, id="image_5d-zero-copy"),
    pytest.param("plate", ZERO_COPY, id="plate-zero-copy"),
])
def test_every_kind_converts_to_0_6(kind, options, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = KINDS[kind](src)
    run = convert("resave", "--output-version=0.6", *CRATE, *options, src, out)
    assert run.rc == 0, run
    assert_valid_0_6(out)
    assert_arrays_equal(out, expected)
    assert (out / "ro-crate-metadata.json").exists()
    if options == ():
        scales = ngff_zarr_scales(out, image_groups(out)) if Path(NGFF_ZARR).exists() else {}
        for path, levels in scales.items():
            assert levels == source_scales(src, path), path


def test_ngff_zarr_is_there_to_read_0_6():
    """Named so that a machine without the venv says so (the check above is skipped there)."""
    if not Path(NGFF_ZARR).exists():
        pytest.skip(f"ngff-zarr venv not found at {NGFF_ZARR}")
    version = subprocess.run([NGFF_ZARR, "-c", "import ngff_zarr; print(ngff_zarr.__version__)"],
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and tuple(int(x) for x in version.stdout.split(".")[:2]) >= (0, 50)


def test_0_6_with_added_levels_and_translations(tmp_path, convert):
    """Added levels carry their half-voxel translation into a sequence."""
    from ome2024_ngff_challenge.testing import samples

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = samples.write_image(src, samples.pattern((300, 260), "<u2", 1), "yx", levels=1, chunks=(64, 64))
    run = convert("resave", "--output-version=0.6", "--output-add-levels=64", *CRATE, src, out)
    assert run.rc == 0, run
    assert_valid_0_6(out)
    assert_arrays_equal(out, expected)
    ms = json.loads((out / "zarr.json").read_text())["attributes"]["ome"]["multiscales"][0]
    assert len(ms["datasets"]) == 4
    last = ms["datasets"][-1]["coordinateTransformations"][0]
    assert last["type"] == "sequence" and [t["type"] for t in last["transformations"]] == ["scale", "translation"]
    assert last["input"] == {"path": ms["datasets"][-1]["path"]} and last["output"] == {"name": "intrinsic"}


def test_collection_to_0_6(tmp_path, convert):
    a, b = tmp_path / "a.zarr", tmp_path / "b.zarr"
    expected = {"a": build_image_5d(a), "b": build_plate(b)}
    listing = tmp_path / "list.csv"
    listing.write_text(f"input\n{a}\n{b}\n")
    root = tmp_path / "root"
    run = convert("resave", "--output-version=0.6", *CRATE, f"--input-list={listing}", root)
    assert run.rc == 0, run
    for name in ("a", "b"):
        assert_valid_0_6(root / f"{name}.zarr")
        assert_arrays_equal(root / f"{name}.zarr", expected[name])


def test_the_0_6_view_of_0_4_in_place_and_undo(tmp_path, convert):
    src = tmp_path / "in.zarr"
    expected = build_image_with_labels(src)
    before = checks.tree_digest(src)
    run = convert("resave", "--in-place", "--output-version=0.6", *CRATE, src)
    assert run.rc == 0 and "OME-Zarr 0.6 view in place" in run.out, run
    assert_valid_0_6(src)
    assert_arrays_equal(src, expected)
    assert {k: v for k, v in checks.tree_digest(src).items() if k in before} == before
    assert convert("resave", "--in-place", "--undo", src).rc == 0
    assert checks.tree_digest(src) == before


def test_the_default_is_still_0_5(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_with_labels(src)
    assert convert("resave", *CRATE, src, out).rc == 0
    assert set(group_versions(out).values()) == {"0.5"}
    assert type(validator_for(LocalStore(out))).__name__ == "Validator"


def test_an_unknown_output_version_is_a_usage_error(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_5d(src)
    run = convert("resave", "--output-version=0.7", src, tmp_path / "out.zarr")
    assert run.rc == 2 and "--output-version" in run.err
    with pytest.raises(UserError, match="output_version=0.7"):
        ngff.resave(src, tmp_path / "out2.zarr", output_version="0.7")


# ---------------------------------------------------------------------------
# 0.5 -> 0.6 in place
# ---------------------------------------------------------------------------


def not_group_metadata(root: Path) -> dict:
    """The digest of every file but the groups' zarr.json and our upgrade record."""
    groups = {f"{p}/zarr.json" if p else "zarr.json" for p in group_versions(root)}
    plain = {m.relative_to(root).as_posix() for m in root.rglob("zarr.json")
             if json.loads(m.read_text()).get("node_type") == "group"}
    return {k: v for k, v in checks.tree_digest(root).items()
            if k not in groups | plain and k != upgrade_v06.UPGRADE_RECORD}


def write_0_5_with_ome_zarr_py(path: Path) -> dict[str, np.ndarray]:
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image, write_labels

    image = np.arange(2 * 64 * 48, dtype=np.uint16).reshape(2, 64, 48)
    labels = (np.arange(64 * 48).reshape(64, 48) % 7).astype(np.uint8)
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    write_image(image, root, axes="cyx", fmt=FormatV05(), scaler=None)
    write_labels(labels, root, name="cells", axes="yx", fmt=FormatV05(), scaler=None)
    return {"s0": image, "labels/cells/s0": labels}


@pytest.mark.parametrize("kind", [*KINDS, "ome-zarr-py"])
def test_0_5_upgraded_in_place_and_back(kind, tmp_path, convert):
    if kind == "ome-zarr-py":
        data = tmp_path / "data.zarr"
        expected = write_0_5_with_ome_zarr_py(data)
    else:
        src, data = tmp_path / "in.zarr", tmp_path / "data.zarr"
        expected = KINDS[kind](src)
        assert convert("resave", *CRATE, src, data).rc == 0
    original = checks.tree_digest(data)
    arrays = not_group_metadata(data)
    run = convert("resave", "--in-place", "--output-version=0.6", data)
    assert run.rc == 0 and "no array touched" in run.out, run
    assert not_group_metadata(data) == arrays  # every array's zarr.json, chunk and shard, the RO-Crate
    versions = group_versions(data)
    assert set(versions.values()) <= {"0.6", None}
    if kind == "ome-zarr-py":
        assert ngff.validate(data).errors[0]["message"].startswith("missing")  # no RO-Crate: theirs
        assert [e for e in ngff.validate(data).errors if "ro-crate" not in e["location"]] == []
    else:
        assert_valid_0_6(data)
    assert_arrays_equal(data, expected)
    top = json.loads((data / "zarr.json").read_text())["attributes"][UPGRADE_KEY]
    assert (top["from"], top["to"], top["chunks_written"]) == ("0.5", "0.6", 0)
    if kind == "image_5d" and Path(NGFF_ZARR).exists():
        assert ngff_zarr_scales(data, [""])[""] == source_scales(src, "")
    again = convert("resave", "--in-place", "--output-version=0.6", data)
    assert again.rc == 1 and "already upgraded" in again.err
    undo = convert("resave", "--in-place", "--undo", data)
    assert undo.rc == 0 and "byte for byte" in undo.out, undo
    assert checks.tree_digest(data) == original


def test_a_killed_upgrade_is_finished_by_a_rerun_and_undone_exactly(tmp_path, convert, monkeypatch):
    src, data = tmp_path / "in.zarr", tmp_path / "data.zarr"
    build_plate(src)
    assert convert("resave", *CRATE, src, data).rc == 0
    original = checks.tree_digest(data)
    real_put, calls = LocalStore.put, []

    def dying_put(self, key, value):
        calls.append(key)
        if len(calls) == 4:  # the record and two groups written: killed at the third
            raise KeyboardInterrupt
        return real_put(self, key, value)

    monkeypatch.setattr(LocalStore, "put", dying_put)
    with pytest.raises(KeyboardInterrupt):
        ngff.upgrade_in_place(data)
    monkeypatch.setattr(LocalStore, "put", real_put)
    assert json.loads((data / upgrade_v06.UPGRADE_RECORD).read_text())["complete"] is False
    done = ngff.upgrade_in_place(data)
    assert done.resumed
    assert_valid_0_6(data)
    ngff.undo_upgrade(data)
    assert checks.tree_digest(data) == original


def test_upgrade_refusals_change_nothing(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_5d(src)
    # a 0.4 dataset with a 0.5 view added in place: its view is redone as 0.6, not upgraded
    assert convert("resave", "--in-place", *CRATE, src).rc == 0
    before = checks.tree_digest(src)
    with pytest.raises(UserError, match="0.5 view added in place"):
        ngff.upgrade_in_place(src)
    assert checks.tree_digest(src) == before
    # already 0.6
    out = tmp_path / "out.zarr"
    assert convert("resave", "--output-version=0.6", *CRATE, tmp_path / "in.zarr", out).rc == 0
    before = checks.tree_digest(out)
    run = convert("resave", "--in-place", "--output-version=0.6", out)
    assert run.rc == 1 and "already OME-Zarr 0.6" in checks.assert_one_line_error(run.err)
    assert checks.tree_digest(out) == before
    # options that have nothing to do
    run = convert("resave", "--in-place", "--output-version=0.6", "--cc-by", out)
    assert run.rc == 2 and "does not go with upgrading 0.5 to 0.6 in place" in run.err
    # nothing to undo
    run = convert("resave", "--in-place", "--undo", out)
    assert run.rc == 1 and checks.tree_digest(out) == before


def test_catalog_rows_say_0_6(tmp_path, convert):
    """A 0.6 output and a 0.5 one upgraded in place: rows read like any
    other (shape, levels, costs), with their version; the upgrade noted."""
    src = tmp_path / "in.zarr"
    build_plate(src)
    folder = tmp_path / "all"
    assert convert("resave", "--output-version=0.6", *CRATE, src, folder / "six.zarr").rc == 0
    assert convert("resave", *CRATE, src, folder / "five.zarr").rc == 0
    assert convert("resave", *CRATE, src, folder / "upgraded.zarr").rc == 0
    assert convert("resave", "--in-place", "--output-version=0.6", folder / "upgraded.zarr").rc == 0
    result = ngff.catalog(folder, thumbnails=True)
    rows = {Path(r.url).name: r for r in result.rows}
    assert {n: r.ome_version for n, r in rows.items()} == {"six.zarr": "0.6", "five.zarr": "0.5", "upgraded.zarr": "0.6"}
    for row in rows.values():
        assert row.valid and row.error is None and row.kind == "plate" and row.wells == 3
        assert row.shape == rows["five.zarr"].shape and row.levels == 2 and row.cost is not None
        assert row.thumbnail is not None
    assert any("upgraded from OME-Zarr 0.5 to 0.6 in place" in n for n in rows["upgraded.zarr"].notes)
    assert rows["six.zarr"].values()["ome_version"] == "0.6"


def test_a_scene_is_walked_and_its_references_resolved(tmp_path, convert):
    """A top group with only ``scene`` metadata placing two 0.6 images: both
    walked; a reference to a system an image does not have, or to a missing
    scene system, is an error."""
    src = tmp_path / "in.zarr"
    build_image_with_labels(src)
    root = tmp_path / "scene.zarr"
    for name in ("tileA", "tileB"):
        assert convert("resave", "--output-version=0.6", *CRATE, src, root / name).rc == 0
    axes = json.loads((root / "tileA" / "zarr.json").read_text())["attributes"]["ome"]["multiscales"][0][
        "coordinateSystems"][0]["axes"]

    def scene(b_name: str, world: str = "world") -> dict:
        return {"zarr_format": 3, "node_type": "group", "attributes": {"ome": {"version": "0.6", "scene": {
            "coordinateSystems": [{"name": "world", "axes": axes}],
            "coordinateTransformations": [
                {"type": "identity", "input": {"path": "tileA", "name": "intrinsic"}, "output": {"name": "world"}},
                {"type": "translation", "translation": [0, 0, 40], "input": {"path": "tileB", "name": b_name},
                 "output": {"name": world}}]}}}}

    (root / "zarr.json").write_text(json.dumps(scene("intrinsic")))
    report = ngff.validate(root)
    assert [e for e in report.errors if "ro-crate" not in e["location"]] == []
    assert report.groups >= 4 and report.arrays >= 4  # both images and their labels walked
    (root / "zarr.json").write_text(json.dumps(scene("elsewhere")))
    assert any("'tileB' has no coordinate system 'elsewhere'" in e["message"] for e in ngff.validate(root).errors)
    (root / "zarr.json").write_text(json.dumps(scene("intrinsic", world="nowhere")))
    assert any("'nowhere'" in e["message"] for e in ngff.validate(root).errors)
