"""`update`: changes only ro-crate-metadata.json of a converted dataset."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from rocrate.rocrate import ROCrate

from conftest import build_image_with_labels
from ome2024_ngff_challenge.commands.main import main
from ome2024_ngff_challenge.ome.rocrate import LICENSES, read_crate_info

CRATE = "ro-crate-metadata.json"


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def hashes(root: Path, *, skip: str = CRATE) -> dict[str, str]:
    """sha256 of every file below ``root`` but the crate (arrays and groups)."""
    result = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            if rel != skip:
                result[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def crate_of(root: Path) -> dict:
    return json.loads((root / CRATE).read_text())


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    """(a converted image with a minimal crate, the same without any crate)."""
    base = tmp_path_factory.mktemp("update")
    src = base / "in.zarr"
    build_image_with_labels(src)
    with_crate, without = base / "with-crate.zarr", base / "no-crate.zarr"
    assert run("resave", src, with_crate)[0] == 0
    assert run("resave", "--rocrate-skip", src, without)[0] == 0
    return with_crate, without


@pytest.fixture
def target(converted, tmp_path) -> Path:
    dst = tmp_path / "mouse-brain.zarr"
    shutil.copytree(converted[0], dst)
    return dst


def test_update_sets_everything_and_leaves_arrays_alone(target):
    before = hashes(target)
    rc, out, err = run("update", target, "--cc-by", "--rocrate-organism=NCBI:txid10090",
                       "--rocrate-modality=obo:FBbi_00000369", "--rocrate-name=Mouse brain",
                       "--rocrate-description=Light-sheet volume")
    assert rc == 0, err
    assert hashes(target) == before
    info = read_crate_info(crate_of(target))
    assert (info.name, info.description, info.license, info.organism, info.modality) == (
        "Mouse brain", "Light-sheet volume", LICENSES["cc-by"], "NCBI:txid10090", "obo:FBbi_00000369")
    assert out.startswith(f"updated: {target / CRATE}")
    assert "organism: NCBI:txid10090" in out and err == ""
    # the result is a crate ro-crate-py reads, and the dataset now validates without warnings
    assert ROCrate(str(target)).root_dataset["name"] == "Mouse brain"
    rc, out, _ = run("validate", target)
    assert rc == 0 and out.strip().endswith("0 errors, 0 warnings")


def test_update_edits_in_place_and_keeps_other_content(target):
    def add_author(doc):
        doc["@graph"][0]["author"] = {"@id": "#alice"}
        doc["@graph"].append({"@id": "#alice", "@type": "Person", "name": "Alice"})

    doc = crate_of(target)
    add_author(doc)
    (target / CRATE).write_text(json.dumps(doc))
    published = doc["@graph"][0]["datePublished"]
    assert run("update", target, "--rocrate-organism=NCBI:txid7955")[0] == 0
    assert run("update", target, "--cc0", "--rocrate-modality=FBbi:00000251")[0] == 0
    after = crate_of(target)
    entities = {e["@id"]: e for e in after["@graph"]}
    assert entities["#alice"] == {"@id": "#alice", "@type": "Person", "name": "Alice"}
    assert entities["./"]["author"] == {"@id": "#alice"}
    assert entities["./"]["datePublished"] == published
    assert entities["./"]["name"] == "with-crate.zarr"  # the name given at conversion stays
    info = read_crate_info(after)
    assert (info.license, info.organism, info.modality) == (LICENSES["cc0"], "NCBI:txid7955", "FBbi:00000251")
    # one acquisition, specimen and biosample, however many updates
    assert sorted(e["@type"] for e in after["@graph"] if e["@id"].startswith("#") and e["@id"] != "#alice") == [
        "biosample", "image_acquisition", "specimen"]


def test_changing_a_value_replaces_it(target):
    assert run("update", target, "--rocrate-organism=NCBI:txid9606")[0] == 0
    assert run("update", target, "--rocrate-organism=NCBI:txid10090", "--rocrate-license=https://example.org/l")[0] == 0
    info = read_crate_info(crate_of(target))
    assert (info.organism, info.license) == ("NCBI:txid10090", "https://example.org/l")


def test_missing_crate_gets_a_new_one_named_after_the_folder(converted, tmp_path):
    target = tmp_path / "idr0062.zarr"
    shutil.copytree(converted[1], target)
    assert not (target / CRATE).exists()
    before = hashes(target)
    rc, _, err = run("update", target, "--cc0")
    assert rc == 0
    assert hashes(target) == before
    info = read_crate_info(crate_of(target))
    assert (info.name, info.license, info.organism) == ("idr0062.zarr", LICENSES["cc0"], None)
    assert "no organism, modality yet" in err


def test_no_options_shows_the_crate_and_writes_nothing(target):
    before = (target / CRATE).read_bytes()
    rc, out, _ = run("update", target)
    assert rc == 0 and out.startswith("unchanged")
    assert (target / CRATE).read_bytes() == before


def test_license_flags_are_exclusive(target):
    before = (target / CRATE).read_bytes()
    rc, _, err = run("update", target, "--cc-by", "--cc0")
    assert rc == 2 and "not allowed with" in err
    assert (target / CRATE).read_bytes() == before


@pytest.mark.parametrize(
    ("option", "words"),
    [("--rocrate-organism=mouse", "is not an NCBI taxonomy id"),
     ("--rocrate-modality=confocal", "is not an FBbi term"),
     ("--rocrate-license=my license", "is not an http(s) URL")],
)
def test_bad_values_are_refused(target, option, words):
    before = (target / CRATE).read_bytes()
    rc, _, err = run("update", target, option)
    assert rc == 1 and words in err and len(err.strip().splitlines()) == 1
    assert (target / CRATE).read_bytes() == before


def test_refuses_what_is_not_a_converted_dataset(tmp_path, converted):
    src = tmp_path / "v2.zarr"
    build_image_with_labels(src)
    rc, _, err = run("update", src, "--cc-by")
    assert rc == 1 and "Zarr v2" in err and len(err.strip().splitlines()) == 1
    assert not (src / CRATE).exists()
    rc, _, err = run("update", tmp_path / "nothing-here", "--cc-by")
    assert rc == 1 and "no zarr.json" in err
    plain = tmp_path / "plain.zarr"
    plain.mkdir()
    (plain / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))
    rc, _, err = run("update", plain, "--cc-by")
    assert rc == 1 and "not an OME-Zarr 0.5 dataset" in err
    assert not (plain / CRATE).exists()


def test_refuses_an_unfinished_conversion(target):
    (target / ".ome2024-ngff-challenge-incomplete.json").write_text("{}")
    rc, _, err = run("update", target, "--cc-by")
    assert rc == 1 and "did not finish" in err


def test_refuses_to_overwrite_a_crate_that_is_not_json(target):
    (target / CRATE).write_text("{oops")
    rc, _, err = run("update", target, "--cc-by")
    assert rc == 1 and "not valid JSON" in err
    assert (target / CRATE).read_text() == "{oops"


def test_crate_without_root_is_rewritten(target):
    (target / CRATE).write_text(json.dumps({"@context": "x", "@graph": [{"@id": "#other"}]}))
    rc, _, _ = run("update", target, "--cc-by")
    assert rc == 0
    info = read_crate_info(crate_of(target))
    assert (info.name, info.license) == ("mouse-brain.zarr", LICENSES["cc-by"])


def test_no_partial_files_left(target):
    assert run("update", target, "--cc-by")[0] == 0
    assert not [p for p in target.iterdir() if p.name.startswith(".") and "partial" in p.name]
