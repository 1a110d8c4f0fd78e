"""OME-Zarr 0.6 metadata: the 0.5 -> 0.6 migration (pure functions) and
``validate --metadata-only`` against the specification's own conformance cases
(tests/ngff_spec_cases, copied from ome/ngff-spec: see the NOTICE there)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ome2024_ngff_challenge.errors import InputError
from ome2024_ngff_challenge.ome import v06, v06_rules
from ome2024_ngff_challenge.ome.migrate import migrate_attributes as migrate_04_05
from ome2024_ngff_challenge.validation.metadata_only import ERROR, check_document

CASES = Path(__file__).parent / "ngff_spec_cases"
V06_CASES = sorted((CASES / "0.6").rglob("*.json"))
# Cases of ngff-spec 0.6rc0 that contradict the specification's text: the same
# cases were fixed on its 0.5 branch (ngff-spec PR #124, "Fix test cases in
# v0.5": a scale value per axis; rows alphabetic, columns numeric) but not on
# main, where 0.6rc0 was released. In a "0.6rc0" document we accept them, with a
# warning naming the rule; the same in a "0.6" document is an error.
SPEC_CASE_ERRATA = {
    "valid/image/mismatch_axes_units": "scale has 2 values but the coordinate systems have 3 dimensions",
    "valid/plate/minimal_acquisitions": "row 'A' is not in plate.rows",
    "valid/plate/minimal_no_acquisitions": "row 'A' is not in plate.rows",
    "valid/plate/non_alphanumeric_row": "row 'A' is not in plate.rows",
}


def case_id(path: Path) -> str:
    return str(path.relative_to(CASES / "0.6").with_suffix(""))


def errors_of(document) -> list[str]:
    return [m for level, m in check_document(document)[1] if level == ERROR]


@pytest.mark.parametrize("path", V06_CASES, ids=case_id)
def test_every_0_6_conformance_case(path):
    case = json.loads(path.read_text())
    valid = case.get("_conformance", {}).get("valid", True)
    errors = errors_of(case)
    if case_id(path) in SPEC_CASE_ERRATA:  # accepted as the suite says, each with a warning naming the rule
        warnings = [m for level, m in check_document(case)[1] if level != ERROR]
        assert valid and errors == [] and any(SPEC_CASE_ERRATA[case_id(path)] in w for w in warnings), warnings
        as_06 = json.loads(json.dumps(case).replace('"0.6rc0"', '"0.6"'))
        assert any(SPEC_CASE_ERRATA[case_id(path)] in e for e in errors_of(as_06))  # an error in a 0.6 document
    elif valid:
        assert errors == []
    else:
        assert errors, "an invalid case was accepted"


def test_the_0_6_cases_are_all_there():
    assert len(V06_CASES) == 130
    assert sum("/valid/" in str(p) for p in V06_CASES) == 28


def v05_suites():
    for path in sorted((CASES / "0.5").glob("*_suite.json")):
        suite = json.loads(path.read_text())
        for n, test in enumerate(suite["tests"]):
            yield pytest.param(path.stem, test, id=f"{path.stem}-{n}-{test.get('formerly') or test['description']}")


@pytest.mark.parametrize(("suite", "test"), list(v05_suites()))
def test_every_0_5_conformance_case(suite, test):
    """The 0.5 suites of ngff-spec's 0.5 branch: the MUSTs as they say; the
    strict_* suites test SHOULDs (the strict schemas), which are not errors."""
    errors = errors_of(test["data"])
    if test["valid"]:
        assert errors == []
    elif not suite.startswith("strict_"):
        assert errors, "an invalid case was accepted"


def test_metadata_only_command(tmp_path):
    """Exit 0 valid, 1 invalid (the reasons printed), 2 unreadable; a whole
    zarr.json or only its attributes."""
    ok = tmp_path / "zarr.json"
    attributes = json.loads((CASES / "0.6/valid/transforms/affine.json").read_text())
    ok.write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": attributes}))
    bad = CASES / "0.6/invalid/transforms/bad_rotation.json"
    run = lambda *a: subprocess.run([sys.executable, "-m", "ome2024_ngff_challenge", "validate", "--metadata-only", *a],
                                    capture_output=True, text=True, timeout=120)
    good = run(str(ok))
    assert good.returncode == 0 and "valid OME-Zarr 0.6 metadata: 0 errors" in good.stdout
    wrong = run(str(bad))
    assert wrong.returncode == 1 and f"error: {bad}: " in wrong.stdout
    missing = run(str(tmp_path / "nothing.json"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    as_json = run(str(bad), "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["valid"] is False
    not_json = tmp_path / "broken.json"
    not_json.write_text("{")
    assert run(str(not_json)).returncode == 1


# ---------------------------------------------------------------------------
# the migration
# ---------------------------------------------------------------------------


def image_05(translation=True, whole=None):
    ms = {
        "name": "image",
        "axes": [{"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"},
                 {"name": "z", "type": "space", "unit": "micrometer"},
                 {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [2.5, 1, 0.3, 0.1, 0.1]}]},
            {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [2.5, 1, 0.3, 0.2, 0.2]}]
             + ([{"type": "translation", "translation": [0, 0, 0, 0.05, 0.05]}] if translation else [])},
        ],
        "type": "mean",
        "metadata": {"method": "ours", "version": "1"},
    }
    if whole is not None:
        ms["coordinateTransformations"] = whole
    return {"ome": {"version": "0.5", "multiscales": [ms], "omero": {"channels": [{"color": "FF0000", "window": {"start": 0, "end": 255, "min": 0, "max": 255}}]},
                    "_creator": {"name": "x"}}, "other": [1]}


def test_0_5_image_to_0_6_keeps_every_value():
    source = image_05()
    before = copy.deepcopy(source)
    out = v06.migrate_attributes(source)
    assert source == before  # the input is never modified
    ome = out["ome"]
    assert ome["version"] == "0.6" and ome["omero"] == before["ome"]["omero"] and ome["_creator"] == {"name": "x"}
    assert out["other"] == [1]
    ms = ome["multiscales"][0]
    assert "axes" not in ms and ms["coordinateSystems"] == [{"name": "intrinsic", "axes": before["ome"]["multiscales"][0]["axes"]}]
    assert ms["datasets"][0]["coordinateTransformations"] == [
        {"type": "scale", "scale": [2.5, 1, 0.3, 0.1, 0.1], "input": {"path": "0"}, "output": {"name": "intrinsic"}}]
    assert ms["datasets"][1]["coordinateTransformations"] == [{
        "type": "sequence", "input": {"path": "1"}, "output": {"name": "intrinsic"},
        "transformations": [{"type": "scale", "scale": [2.5, 1, 0.3, 0.2, 0.2]},
                            {"type": "translation", "translation": [0, 0, 0, 0.05, 0.05]}]}]
    assert (ms["type"], ms["metadata"], ms["name"]) == ("mean", {"method": "ours", "version": "1"}, "image")
    assert errors_of(out) == []
    # and the same through both steps from 0.4
    zattrs = {"multiscales": [{**copy.deepcopy(before["ome"]["multiscales"][0]), "version": "0.4"}]}
    through = v06.migrate_attributes(migrate_04_05(zattrs, creator={"name": "x"}))
    assert through["ome"]["multiscales"] == ome["multiscales"]


def test_a_whole_image_transformation_maps_intrinsic_to_physical():
    whole = [{"type": "scale", "scale": [1, 1, 2, 2, 2]}, {"type": "translation", "translation": [0, 0, 5, 6, 7]}]
    out = v06.migrate_attributes(image_05(whole=whole))
    ms = out["ome"]["multiscales"][0]
    assert [c["name"] for c in ms["coordinateSystems"]] == ["intrinsic", "physical"]
    assert ms["coordinateSystems"][1]["axes"] == ms["coordinateSystems"][0]["axes"]
    assert ms["coordinateTransformations"] == [{"type": "sequence", "transformations": whole,
                                                "input": {"name": "intrinsic"}, "output": {"name": "physical"}}]
    assert errors_of(out) == []


def test_named_affine_and_sequence_transformations_are_carried():
    """SpatialData's transformations (named input and output, the whole
    homogeneous affine) become 0.6 ones from the intrinsic system."""
    axes = [{"name": n, "type": "space", "unit": "unit"} for n in ("y", "x")]
    affine = {"type": "affine", "affine": [[1, 0.5, 3], [0, 1, 4], [0, 0, 1]],
              "input": {"name": "yx", "axes": axes}, "output": {"name": "global", "axes": axes}}
    sequence = {"type": "sequence", "input": {"name": "yx", "axes": axes}, "output": {"name": "aligned", "axes": axes},
                "transformations": [{"type": "scale", "scale": [2, 2]},
                                    {"type": "mapAxis", "mapAxis": {"y": "x", "x": "y"}}]}
    ms = {"axes": axes, "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1]}]}],
          "coordinateTransformations": [affine, sequence]}
    out = v06.migrate_attributes({"ome": {"version": "0.5", "multiscales": [ms]}})
    new = out["ome"]["multiscales"][0]
    assert [c["name"] for c in new["coordinateSystems"]] == ["intrinsic", "global", "aligned"]
    assert new["coordinateTransformations"][0] == {"type": "affine", "affine": [[1, 0.5, 3], [0, 1, 4]],
                                                   "input": {"name": "intrinsic"}, "output": {"name": "global"}}
    assert new["coordinateTransformations"][1]["transformations"][1] == {"type": "mapAxis", "mapAxis": [1, 0]}
    assert errors_of(out) == []


@pytest.mark.parametrize("ome", [
    {"version": "0.5", "labels": ["a", "b"]},
    {"version": "0.5", "plate": {"rows": [{"name": "A"}], "columns": [{"name": "1"}],
                                 "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]}},
    {"version": "0.5", "well": {"images": [{"path": "0"}]}},
    {"version": "0.5", "bioformats2raw.layout": 3},
    {"version": "0.5", "series": ["0", "1"]},
])
def test_other_groups_change_only_their_version(ome):
    out = v06.migrate_attributes({"ome": ome})
    assert out == {"ome": {**ome, "version": "0.6"}}
    assert errors_of(out) == []


def test_a_group_without_ome_is_unchanged():
    assert v06.migrate_attributes({"x": 1}) == {"x": 1}


@pytest.mark.parametrize("transforms", [
    [{"type": "scale", "path": "scale.bin"}],
    [{"type": "translation", "translation": [0, 0]}],
    [{"type": "scale", "scale": [1, 1]}, {"type": "translation", "translation": [0, 0]},
     {"type": "translation", "translation": [0, 0]}],
    "scale",
])
def test_level_transformations_0_6_cannot_hold_are_refused(transforms):
    with pytest.raises(InputError, match=r"^img/0: "):
        v06.level_transformation(transforms, "0", "img/0")


def test_rules_catch_what_schemas_cannot():
    out = v06.migrate_attributes(image_05())
    ms = out["ome"]["multiscales"][0]
    broken = copy.deepcopy(out)
    broken["ome"]["multiscales"][0]["datasets"][1]["coordinateTransformations"][0]["output"] = {"name": "elsewhere"}
    assert any("'elsewhere', which is not in coordinateSystems" in e for e in errors_of(broken))
    broken = copy.deepcopy(out)
    broken["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"] = [1, 1]
    assert any("has 2 values" in e for e in errors_of(broken))
    broken = copy.deepcopy(out)
    broken["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["input"] = {"path": "1"}
    assert any("the level's own array" in e for e in errors_of(broken))
    broken = copy.deepcopy(out)
    broken["ome"]["multiscales"][0]["coordinateTransformations"] = [
        {"type": "affine", "affine": [[1, 0], [0, 1]], "input": {"name": "intrinsic"}, "output": {"name": "intrinsic"}}]
    assert any("must be 5x6" in e for e in errors_of(broken))
    broken = copy.deepcopy(out)
    broken["ome"]["multiscales"][0]["coordinateSystems"].append({"name": "alone", "axes": ms["coordinateSystems"][0]["axes"]})
    assert any("'alone' not linked" in e for e in errors_of(broken))
    scene = {"ome": {"version": "0.6", "scene": {
        "coordinateSystems": [{"name": "world", "axes": ms["coordinateSystems"][0]["axes"]}],
        "coordinateTransformations": [{"type": "identity", "input": {"name": "world"}, "output": {"name": "nowhere"}}]}}}
    assert any("'nowhere'" in e for e in errors_of(scene))
    assert v06_rules.check_ome_version({"version": "0.5"})[0][0] == ERROR
