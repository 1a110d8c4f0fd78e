"""Delete only what is ours (issue 16, items 1 and 4): `--output-overwrite`
deletes exactly what the record of the earlier run lists and refuses, deleting
nothing, an output that holds anything else at any depth; no report
(catalogue, summary, page, details file, example) is written into a dataset.
Every refusal: exit status 1, one line naming the path, the tree unchanged."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

import checks
from conftest import build_image_2d, build_image_with_labels

RECORD = ".ome2024-ngff-challenge-output.json"
MARKER = ".ome2024-ngff-challenge-incomplete.json"


def _ok(run) -> None:
    assert run.rc == 0, str(run)


def _refused(run, tree: Path, before: dict, *needles: str) -> str:
    assert run.rc == 1, str(run)
    line = checks.assert_one_line_error(run.err, *needles)
    assert checks.tree_digest(tree) == before, f"something was changed or deleted in {tree}"
    return line


@pytest.fixture
def converted(tmp_path, convert):
    """An image with labels (and a README the input holds) converted by us."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_with_labels(src)
    (src / "README.txt").write_text("copied as it is\n")
    _ok(convert("resave", "--cc-by", src, out))
    return src, out, expected


# -- the reproductions of the issue ----------------------------------------------


def test_junk_zarr_json_beside_a_v2_dataset_is_not_deleted(tmp_path, convert):
    src, o = tmp_path / "in.zarr", tmp_path / "o"
    build_image_2d(src, shape=(20, 30), levels=1)
    (o / "sub").mkdir(parents=True)
    (o / "zarr.json").write_text("junk\n")
    shutil.copytree(src, o / "sub" / "some_v2.zarr")
    before = checks.tree_digest(o)
    _refused(convert("resave", src, o, "--output-overwrite"), o, before, str(o), "--output-overwrite")


def test_ome_group_beside_a_thesis_is_not_deleted(tmp_path, convert):
    src, o = tmp_path / "in.zarr", tmp_path / "o"
    build_image_2d(src, shape=(20, 30), levels=1)
    o.mkdir()
    group = {"zarr_format": 3, "node_type": "group",
             "attributes": {"ome": {"version": "0.5", "_creator": {"name": "ome2024-ngff-challenge"}}}}
    (o / "zarr.json").write_text(json.dumps(group))
    (o / "thesis.tex").write_text("\\documentclass{article}\n")
    before = checks.tree_digest(o)
    _refused(convert("resave", src, o, "--output-overwrite"), o, before, str(o), "no record")


def test_our_marker_beside_another_file_is_not_deleted(tmp_path, convert):
    src, o = tmp_path / "in.zarr", tmp_path / "o"
    build_image_2d(src, shape=(20, 30), levels=1)
    o.mkdir()
    (o / MARKER).write_text(json.dumps({"tool": "ome2024-ngff-challenge", "plan": "x", "input": "elsewhere"}))
    (o / "data.csv").write_text("1,2\n")
    before = checks.tree_digest(o)
    _refused(convert("resave", src, o, "--output-overwrite"), o, before, str(o))


def test_folder_of_converted_datasets_with_a_root_zarr_json_is_not_deleted(tmp_path, convert):
    src, o = tmp_path / "in.zarr", tmp_path / "o"
    build_image_2d(src, shape=(20, 30), levels=1)
    _ok(convert("resave", "--cc-by", src, o / "a.zarr"))
    _ok(convert("resave", "--cc-by", src, o / "b.zarr"))
    (o / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))
    before = checks.tree_digest(o)
    _refused(convert("resave", src, o, "--output-overwrite"), o, before, str(o))
    # the same folder with a record of ours at its top that lists neither dataset
    shutil.copy(o / "a.zarr" / RECORD, o / RECORD)
    before = checks.tree_digest(o)
    _refused(convert("resave", src, o, "--output-overwrite"), o, before, "not written by the earlier conversion")


# -- an output of ours with something added later, at any depth ------------------------


@pytest.mark.parametrize("added", ["thesis.tex", "labels/nuclei/0/notes.txt", "0/c/0/notes", "0/c/99/0",
                                   "0/c/00", ".hidden", "extra/", "0/c/7/"])
def test_a_file_added_to_our_output_refuses_the_overwrite_naming_it(converted, convert, added):
    src, out, expected = converted
    target = out / added.rstrip("/")
    parts = added.rstrip("/").split("/")
    named = next(out.joinpath(*parts[:k]) for k in range(1, len(parts) + 1) if not out.joinpath(*parts[:k]).exists())
    if added.endswith("/"):
        target.mkdir(parents=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"not the converter's")
    before = checks.tree_digest(out)
    _refused(convert("resave", "--cc-by", src, out, "--output-overwrite"), out, before, f"{named}: ",
             "--output-overwrite")
    # moved away: the output is replaced, every file of the earlier run gone
    shutil.rmtree(named) if named.is_dir() else named.unlink()
    _ok(convert("resave", "--cc-by", src, out, "--output-overwrite"))
    checks.check_conversion(src, out, expected=expected)


def test_a_link_in_our_output_refuses_the_overwrite(converted, convert, tmp_path):
    src, out, _ = converted
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "zarr.json").write_text("{}")
    (out / "labels" / "linked").symlink_to(outside)
    before, before_outside = checks.tree_digest(out), checks.tree_digest(outside)
    _refused(convert("resave", "--cc-by", src, out, "--output-overwrite"), out, before, str(out / "labels" / "linked"))
    assert checks.tree_digest(outside) == before_outside


def test_overwrite_deletes_exactly_the_earlier_run_and_its_copied_files(converted, convert, tmp_path):
    """The earlier run copied the input's README: it is in the record and goes;
    a run of another input (another shape, other arrays) replaces everything."""
    _, out, _ = converted
    other = tmp_path / "other.zarr"
    expected = build_image_2d(other, shape=(30, 40), levels=1, seed=3)
    _ok(convert("resave", "--cc-by", "--output-shards=none", other, out, "--output-overwrite"))
    checks.check_conversion(other, out, expected=expected)
    assert not (out / "README.txt").exists() and not (out / "labels").exists()
    record = json.loads((out / RECORD).read_text())
    assert record["tool"] == "ome2024-ngff-challenge" and "zarr.json" in record["files"]
    assert [a["path"] for a in record["arrays"]] == ["0"]


def test_a_forged_record_deletes_nothing(converted, convert):
    src, out, _ = converted
    record = json.loads((out / RECORD).read_text())
    record["files"].append("../in.zarr/.zgroup")
    (out / RECORD).write_text(json.dumps(record))
    before, before_src = checks.tree_digest(out), checks.tree_digest(src)
    _refused(convert("resave", "--cc-by", src, out, "--output-overwrite"), out, before, RECORD)
    assert checks.tree_digest(src) == before_src


def test_an_output_of_an_earlier_version_without_a_record_is_refused(converted, convert):
    src, out, _ = converted
    (out / RECORD).unlink()
    before = checks.tree_digest(out)
    line = _refused(convert("resave", "--cc-by", src, out, "--output-overwrite"), out, before, str(out), "no record")
    assert "delete it yourself" in line


def test_unfinished_outputs_of_other_executors_are_replaced(tmp_path, convert):
    """What a job array (.jobs) or --output-script (convert.sh) leaves is ours."""
    src = tmp_path / "in.zarr"
    expected = build_image_2d(src, shape=(40, 30), levels=2)
    jobs, script = tmp_path / "jobs.zarr", tmp_path / "script.zarr"
    _ok(convert("resave", "--cc-by", "--output-job-script", src, jobs))
    assert (jobs / ".jobs" / "jobs.sh").is_file()
    done = jobs / ".jobs" / "done"
    done.mkdir()
    (done / ("0" * 40 + ".json")).write_text("{}")  # a finished line's file
    _ok(convert("resave", "--cc-by", "--output-script", src, script))
    assert (script / "0" / "convert.sh").is_file()
    for out in (jobs, script):
        _ok(convert("resave", "--cc-by", src, out, "--output-overwrite"))
        checks.check_conversion(src, out, expected=expected)
        assert not (out / ".jobs").exists() and not (out / "0" / "convert.sh").exists()


def test_a_killed_run_is_resumed_or_replaced(tmp_path, convert, monkeypatch):
    """The record is written before anything it lists: a run that dies after
    some shards leaves an output that a re-run resumes and an overwrite
    replaces (and refuses once a foreign file is added)."""
    from ome2024_ngff_challenge.convert import shard_task

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_2d(src, shape=(64, 64), levels=2)
    real, count = shard_task.write_task, [0]

    def dies(*args, **kwargs):
        count[0] += 1
        if count[0] > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(shard_task, "write_task", dies)
    monkeypatch.setattr("ome2024_ngff_challenge.convert.level_task.write_task", dies)
    run = convert("resave", "--cc-by", "--output-threads=1", "--output-chunks=16,16", "--output-shards=16,16",
                  src, out)
    assert run.rc != 0
    monkeypatch.undo()
    assert (out / RECORD).is_file() and (out / MARKER).is_file() and not (out / "zarr.json").exists()
    (out / "0" / "stray.bin").write_bytes(b"x")
    before = checks.tree_digest(out)
    _refused(convert("resave", "--cc-by", src, out, "--output-overwrite"), out, before, str(out / "0" / "stray.bin"))
    (out / "0" / "stray.bin").unlink()
    _ok(convert("resave", "--cc-by", "--output-chunks=16,16", "--output-shards=16,16", src, out))
    checks.check_conversion(src, out, expected=expected)
    _ok(convert("resave", "--cc-by", src, out, "--output-overwrite"))
    checks.check_conversion(src, out, expected=expected)


# -- collections -----------------------------------------------------------------


def _write_list(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "output"])
        w.writerows(rows)
    return path


def test_collection_overwrite_fails_only_the_row_whose_output_holds_other_files(tmp_path, convert):
    a, b, root = tmp_path / "a.zarr", tmp_path / "b.zarr", tmp_path / "root"
    expected = build_image_2d(a, shape=(20, 30), levels=1)
    build_image_2d(b, shape=(20, 30), levels=1, seed=4)
    listing = _write_list(tmp_path / "list.csv", [[str(a), "a.zarr"], [str(b), "b.zarr"]])
    _ok(convert("resave", "--cc-by", f"--input-list={listing}", root))
    (root / "b.zarr" / "0" / "mine.txt").write_text("mine")
    before = checks.tree_digest(root / "b.zarr")
    run = convert("resave", "--cc-by", "--output-overwrite", f"--input-list={listing}", root)
    assert run.rc == 1, str(run)
    checks.assert_one_line_error(run.err, str(root / "b.zarr" / "0" / "mine.txt"))
    assert checks.tree_digest(root / "b.zarr") == before
    checks.check_conversion(a, root / "a.zarr", expected=expected)
    with open(root / "catalog.csv", newline="") as f:
        rows = {r["url"]: r for r in csv.DictReader(f)}
    assert rows[str(root / "a.zarr")]["status"] == "done"
    assert rows[str(root / "b.zarr")]["status"] == "failed" and "mine.txt" in rows[str(root / "b.zarr")]["error"]


def test_collection_root_inside_a_dataset_is_refused(converted, convert, tmp_path):
    src, out, _ = converted
    listing = _write_list(tmp_path / "list.csv", [[str(src), "x.zarr"]])
    for root in (out, out / "labels"):
        before = checks.tree_digest(out)
        _refused(convert("resave", "--cc-by", f"--input-list={listing}", root), out, before, "catalog.csv",
                 "inside the Zarr dataset")


# -- reports never written into a dataset (item 4) ------------------------------------


@pytest.mark.parametrize("option", ["--html", "--csv"])
@pytest.mark.parametrize("where", ["zarr.json", "0/zarr.json", "labels/page.out", "ro-crate-metadata.json"])
def test_catalog_never_writes_into_a_dataset(converted, convert, option, where):
    _, out, _ = converted
    before = checks.tree_digest(out)
    _refused(convert("catalog", f"{option}={out / where}", out.parent), out, before, str(out / where),
             "never written into a dataset")


def test_catalog_reports_refused_over_a_folder_or_through_a_link(converted, convert, tmp_path):
    _, out, _ = converted
    before = checks.tree_digest(out)
    _refused(convert("catalog", f"--csv={out}", out), out, before, str(out), "is a folder")
    link = tmp_path / "page.html"
    link.symlink_to(out / "zarr.json")
    _refused(convert("catalog", f"--html={link}", out), out, before, str(link), "never written into a dataset")
    # beside the dataset it is fine
    _ok(convert("catalog", f"--csv={tmp_path / 'c.csv'}", f"--html={tmp_path / 'c.html'}", out))
    assert (tmp_path / "c.summary.json").is_file()


def test_details_file_never_written_into_a_dataset(converted, convert):
    src, out, _ = converted
    before = checks.tree_digest(out)
    for where in ("zarr.json", "details.json"):
        _refused(convert("resave", "--output-write-details", "--output-overwrite", src, out / where), out, before,
                 str(out / where))


def test_example_overwrite_deletes_only_the_example(tmp_path, convert, converted):
    ex = tmp_path / "ex"
    _ok(convert("example", ex))
    _ok(convert("example", ex, "--output-overwrite"))
    (ex / "labels" / "mine.txt").write_text("mine")
    before = checks.tree_digest(ex)
    _refused(convert("example", ex, "--output-overwrite"), ex, before, str(ex / "labels" / "mine.txt"))
    (ex / "labels" / "mine.txt").unlink()
    _ok(convert("example", ex, "--output-overwrite"))
    _, out, _ = converted
    before = checks.tree_digest(out)
    _refused(convert("example", out / "sub"), out, before, str(out / "sub"), "inside the Zarr dataset")


# -- update: the crate's place taken by a folder (item 13) ------------------------------


def test_update_when_the_crate_is_a_folder(converted, convert):
    _, out, _ = converted
    (out / "ro-crate-metadata.json").unlink()
    (out / "ro-crate-metadata.json").mkdir()
    (out / "ro-crate-metadata.json" / "x").write_text("x")
    before = checks.tree_digest(out)
    for extra in ([], ["--cc0"]):
        _refused(convert("update", out, *extra), out, before, str(out / "ro-crate-metadata.json"), "is a folder")


# -- a full disk (item 13) -------------------------------------------------------------


class _Disk:
    """Local writes through ``open`` succeed until ``free`` bytes are used, then
    fail as a full disk does (ENOSPC), in this process."""

    def __init__(self, free: int):
        self.free = free

    def open(self, path, mode="r", *args, **kwargs):
        f = open(path, mode, *args, **kwargs)  # noqa: SIM115
        if "w" not in mode and "a" not in mode:
            return f
        disk = self

        class Limited:
            def __getattr__(self, name):
                return getattr(f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                n = len(memoryview(data).cast("B"))
                if n > disk.free:
                    disk.free = 0
                    raise OSError(28, os.strerror(28))
                disk.free -= n
                return f.write(data)

        return Limited()


def _full_disk(monkeypatch, free: int) -> None:
    from ome2024_ngff_challenge.stores import local

    monkeypatch.setattr(local, "open", _Disk(free).open, raising=False)


def test_full_disk_is_one_line_and_a_rerun_resumes(tmp_path, convert, monkeypatch):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_2d(src, shape=(128, 128), levels=2)
    before_src = checks.tree_digest(src)
    _full_disk(monkeypatch, 6000)
    run = convert("resave", "--cc-by", "--output-chunks=32,32", "--output-shards=32,32", "--output-codec=none",
                  src, out)
    assert run.rc == 1, str(run)
    line = checks.assert_one_line_error(run.err, str(out), "no space left", "run the same command again", "resumes",
                                        "before compression")
    assert "unexpected" not in line
    monkeypatch.undo()
    assert checks.tree_digest(src) == before_src
    _ok(convert("resave", "--cc-by", "--output-chunks=32,32", "--output-shards=32,32", "--output-codec=none",
                src, out))
    checks.check_conversion(src, out, expected=expected)


def test_full_disk_in_a_collection(tmp_path, convert, monkeypatch):
    a, b, root = tmp_path / "a.zarr", tmp_path / "b.zarr", tmp_path / "root"
    expected = {p: build_image_2d(p, shape=(64, 64), levels=1, seed=n) for n, p in enumerate((a, b))}
    listing = _write_list(tmp_path / "list.csv", [[str(a), "a.zarr"], [str(b), "b.zarr"]])
    _full_disk(monkeypatch, 3000)
    run = convert("resave", "--cc-by", "--output-codec=none", f"--input-list={listing}", root)
    monkeypatch.undo()
    assert run.rc == 1, str(run)
    assert "Traceback" not in run.err and "unexpected" not in run.err, run.err
    errors = [ln for ln in run.err.splitlines() if ln.startswith("error:")]
    assert errors and all("no space left" in ln and str(root) in ln for ln in errors), run.err
    _ok(convert("resave", "--cc-by", "--output-codec=none", f"--input-list={listing}", root))
    for p in (a, b):
        checks.check_conversion(p, root / p.name, expected=expected[p])


# -- the record's rules, pure ----------------------------------------------------------


def test_record_allows_exactly_the_chunk_keys_of_the_grid_and_our_files():
    from ome2024_ngff_challenge.convert.record import ArrayKeys, OutputRecord

    rec = OutputRecord("p", {"zarr.json", "a/zarr.json", "a/b/zarr.json", "OME/METADATA.ome.xml"},
                       [ArrayKeys("a/b", "default", "/", (2, 3)), ArrayKeys("s", "default", ".", (2,)),
                        ArrayKeys("z", "default", "/", ())])
    allowed = ["zarr.json", "a/b/c/1/2", "a/b/c/0/0", "s/c.1", "z/c", "OME/METADATA.ome.xml",
               ".jobs/jobs.sh", ".jobs/jobs-wave2.sh", ".jobs/done/" + "ab" * 20 + ".json",
               "a/b/c/1/.2.partial-12-abcdef01", ".zarr.json.partial-1-x"]
    refused = ["a/b/c/2/0", "a/b/c/0/3", "a/b/c/0", "a/b/c/0/0/0", "a/b/c/01/0", "a/b/c/-1/0", "a/b/c/²/0",
               "a/b/d/0/0", "s/c/1", "s/c.2", "z/c/0", "a/README", "OME/other.xml", ".jobs/evil.sh",
               ".jobs/done/x.json", "a/b/c/1/.x.partial-1-y", "b/c/0/0"]
    assert [k for k in allowed if not rec.allows(k)] == []
    assert [k for k in refused if rec.allows(k)] == []
    assert all(rec.may_hold_folder(f) for f in ("a", "a/b", "a/b/c", "a/b/c/1", "OME", ".jobs", ".jobs/done"))
    assert not any(rec.may_hold_folder(f) for f in ("a/b/c/2", "a/b/c/0/0", "s/c", "z/c", "x", "a/x"))


@pytest.mark.parametrize("doc", [None, [], {"tool": "other", "files": [], "arrays": []},
                                 {"tool": "ome2024-ngff-challenge", "files": ["/etc/passwd"], "arrays": []},
                                 {"tool": "ome2024-ngff-challenge", "files": ["a/../../x"], "arrays": []},
                                 {"tool": "ome2024-ngff-challenge", "files": [],
                                  "arrays": [{"path": "..", "chunk_key_encoding": "default", "separator": "/",
                                              "grid": [1]}]},
                                 {"tool": "ome2024-ngff-challenge", "files": [], "arrays": [{"path": "a"}]}])
def test_a_record_that_is_not_ours_is_refused(doc):
    from ome2024_ngff_challenge.convert.record import OutputRecord
    from ome2024_ngff_challenge.errors import OutputError

    with pytest.raises(OutputError, match="not a record of this tool"):
        OutputRecord.from_json(doc, "x")
