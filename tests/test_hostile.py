"""Hostile inputs and faults found by attacking the converter (issue 16):
each test is one attack that once did harm (or failed), and asserts it is
now refused in one line, or works, with nothing of the user's changed."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import checks  # noqa: E402

from ome2024_ngff_challenge.testing import samples  # noqa: E402

CRATE = ["--cc-by", "--rocrate-organism=NCBI:txid9606", "--rocrate-modality=obo:FBbi_00000369"]


def small_image(path: Path) -> Path:
    samples.write_image(path, samples.pattern((2, 40, 50), "<u2", 3), "zyx", levels=1, chunks=(1, 16, 16))
    return path


def cli(*argv: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ome2024_ngff_challenge", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


def test_job_script_with_relative_paths_runs_from_another_folder(tmp_path):
    """A job script made with a relative INPUT and OUTPUT: its lines name them
    absolutely, and the prepared output must accept those lines."""
    small_image(tmp_path / "in.zarr")
    made = cli("resave", *CRATE, "--output-job-script", "in.zarr", "out.zarr", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    lines = [ln for ln in (tmp_path / "out.zarr/.jobs/jobs.sh").read_text().splitlines()
             if ln and not ln.startswith("#")]
    assert lines
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for line in lines:
        done = cli(*shlex.split(line)[1:], cwd=elsewhere)
        assert done.returncode == 0, done.stderr
    checks.check_conversion(tmp_path / "in.zarr", tmp_path / "out.zarr")


UPGRADE_RECORD = ".ome2024-ngff-challenge-upgrade-0.6.json"
IN_PLACE_RECORD = ".ome2024-ngff-challenge-in-place.json"
GROUP = '{"zarr_format": 3, "node_type": "group"}'


def upgraded(tmp_path: Path) -> Path:
    """A 0.5 dataset upgraded to 0.6 in place (its record kept)."""
    small_image(tmp_path / "in.zarr")
    out = tmp_path / "up.zarr"
    assert cli("resave", *CRATE, tmp_path / "in.zarr", out).returncode == 0
    run = cli("resave", "--in-place", "--output-version", "0.6", out)
    assert run.returncode == 0, run.stderr
    return out


def forge(path: Path, **fields) -> None:
    import json

    doc = json.loads(path.read_text())
    doc.update(fields)
    path.write_text(json.dumps(doc))


def test_forged_upgrade_record_never_overwrites_an_array_or_adds_files(tmp_path):
    """An undo record of the 0.6 upgrade that lists an array's zarr.json, a
    file that is not a zarr.json, a node that is not there, or bytes that are
    not a group's: refused in one line before anything is written."""
    out = upgraded(tmp_path)
    record = out / UPGRADE_RECORD
    genuine = record.read_text()
    for replaced, needle in [({"0/zarr.json": GROUP}, "0/zarr.json"),  # an array's metadata replaced
                             ({"zarr.json": '{"evil": 1}'}, UPGRADE_RECORD),  # not a group's bytes
                             ({"foozarr.json": GROUP}, UPGRADE_RECORD),  # not a node's zarr.json
                             ({"a//zarr.json": GROUP}, UPGRADE_RECORD),
                             ({"new/zarr.json": GROUP}, "new/zarr.json")]:  # would add a node
        record.write_text(genuine)
        forge(record, replaced=replaced)
        before = checks.tree_digest(out)
        run = cli("resave", "--in-place", "--undo", out)
        assert run.returncode != 0
        checks.assert_one_line_error(run.stderr, needle)
        assert checks.tree_digest(out) == before, replaced


def test_unfinished_upgrade_with_a_forged_record_is_one_line(tmp_path):
    """Resuming an upgrade whose record holds bytes that are not JSON groups."""
    out = upgraded(tmp_path)
    for text in ("not json", "[1]"):
        forge(out / UPGRADE_RECORD, complete=False, replaced={"zarr.json": text})
        before = checks.tree_digest(out)
        run = cli("resave", "--in-place", "--output-version", "0.6", out)
        assert run.returncode != 0
        checks.assert_one_line_error(run.stderr, UPGRADE_RECORD)
        assert checks.tree_digest(out) == before


def test_in_place_record_copied_into_a_v3_dataset_removes_nothing(tmp_path):
    """An in-place record (genuine, of another dataset) in a Zarr v3 dataset,
    or listing an array's zarr.json that has no .zarray: undo refuses in one
    line, and the dataset's own metadata and RO-Crate stay."""
    v2 = small_image(tmp_path / "v2.zarr")
    assert cli("resave", *CRATE, "--in-place", v2).returncode == 0
    v3 = tmp_path / "v3.zarr"
    assert cli("resave", *CRATE, small_image(tmp_path / "in.zarr"), v3).returncode == 0
    (v3 / IN_PLACE_RECORD).write_bytes((v2 / IN_PLACE_RECORD).read_bytes())
    before = checks.tree_digest(v3)
    run = cli("resave", "--in-place", "--undo", v3)
    assert run.returncode != 0
    checks.assert_one_line_error(run.stderr, IN_PLACE_RECORD)
    assert checks.tree_digest(v3) == before

    (v2 / "0" / ".zarray").unlink()  # the user made array 0 a Zarr v3 array of their own
    before = checks.tree_digest(v2)
    run = cli("resave", "--in-place", "--undo", v2)
    assert run.returncode != 0
    checks.assert_one_line_error(run.stderr, "0/zarr.json")
    assert checks.tree_digest(v2) == before


def test_details_file_never_replaces_a_fifo_or_device(tmp_path):
    """``--output-write-details --output-overwrite`` on a FIFO (or a device
    node) once replaced it with a regular file (as root: /dev/null)."""
    src = small_image(tmp_path / "in.zarr")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = cli("resave", "--output-write-details", "--output-overwrite", src, fifo)
    assert run.returncode != 0
    checks.assert_one_line_error(run.stderr, str(fifo), "not a regular file")
    assert fifo.is_fifo()


def test_loop_of_links_as_output_or_input_is_one_line(tmp_path):
    """A link that leads to itself, as OUTPUT, INPUT or the example's folder:
    one line naming it, never an 'unexpected' error (Path.resolve raised)."""
    src = small_image(tmp_path / "in.zarr")
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    for argv in (["resave", *CRATE, src, loop], ["resave", *CRATE, "--output-overwrite", src, loop],
                 ["resave", *CRATE, loop, tmp_path / "out.zarr"], ["example", loop],
                 ["example", dangling], ["example", "--output-overwrite", dangling]):
        run = cli(*argv)
        assert run.returncode != 0, argv
        line = checks.assert_one_line_error(run.stderr, "loop" if loop in argv else "dangling")
        assert "unexpected" not in line
    assert not (tmp_path / "nowhere").exists()
    assert not (tmp_path / "out.zarr").exists()


def test_metadata_only_on_a_fifo_does_not_wait(tmp_path):
    """``validate --metadata-only`` on a FIFO with no writer once waited for
    ever; a FIFO, a device or a folder is now one line, exit 2 (unreadable)."""
    fifo = tmp_path / "zarr.json"
    os.mkfifo(fifo)
    for target in (fifo, "/dev/zero", tmp_path):
        run = cli("validate", "--metadata-only", target)
        assert run.returncode == 2, target
        checks.assert_one_line_error(run.stderr, str(target), "not a regular file")


def test_killed_upgrade_or_undo_leaves_no_temporary_file(tmp_path):
    """A 0.6 upgrade (or its undo) killed while a thread was writing a group's
    zarr.json leaves that write's temporary file; the next run (finishing the
    upgrade, or the undo) removes it, so undo gives back the 0.5 tree exactly."""
    small_image(tmp_path / "in.zarr")
    original = tmp_path / "v05.zarr"
    assert cli("resave", *CRATE, tmp_path / "in.zarr", original).returncode == 0
    for finish in (["--output-version", "0.6"], ["--undo"]):
        out = tmp_path / f"up{len(finish)}.zarr"
        subprocess.run(["cp", "-r", str(original), str(out)], check=True)
        assert cli("resave", "--in-place", "--output-version", "0.6", out).returncode == 0
        record = out / UPGRADE_RECORD
        forge(record, complete=False)  # as a killed run left it
        (out / ".zarr.json.partial-123-abcd").write_bytes(b'{"half')
        (out / f".{UPGRADE_RECORD}.partial-123-abcd").write_bytes(b"{")
        run = cli("resave", "--in-place", *finish, out)
        assert run.returncode == 0, run.stderr
        if finish != ["--undo"]:
            assert cli("resave", "--in-place", "--undo", out).returncode == 0
        assert checks.tree_digest(out) == checks.tree_digest(original)


def test_example_into_an_unwritable_place_is_one_line(tmp_path):
    """``example`` where its folder cannot be made (below a file): one line
    naming it, not an 'unexpected' OSError (a full disk took the same path)."""
    (tmp_path / "afile").write_text("mine")
    run = cli("example", tmp_path / "afile" / "ex")
    assert run.returncode != 0
    line = checks.assert_one_line_error(run.stderr, "afile")
    assert "unexpected" not in line
    assert (tmp_path / "afile").read_text() == "mine"


def test_input_list_output_through_a_link_out_of_the_root_is_refused(tmp_path):
    """A row's output below (or at) a link in OUTPUT_ROOT that leads out of it
    passed the 'outside the output root' check (which read only the text) and
    a dataset was written into the folder the link leads to."""
    small_image(tmp_path / "in.zarr")
    victim = tmp_path / "victim"
    victim.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "lnk").symlink_to(victim)
    (root / "a.zarr").symlink_to(victim)
    for output in ("lnk/a.zarr", "a.zarr"):
        listing = tmp_path / "list.csv"
        listing.write_text(f"input,output\n{tmp_path / 'in.zarr'},{output}\n")
        run = cli("resave", *CRATE, "--input-list", listing, root)
        assert run.returncode != 0
        checks.assert_one_line_error(run.stderr, output.split("/")[0], "outside")
        assert not any(victim.iterdir())
    (root / "inside").mkdir()
    (root / "in").symlink_to("inside")  # a link that stays inside the root is fine
    listing.write_text(f"input,output\n{tmp_path / 'in.zarr'},in/a.zarr\n")
    run = cli("resave", *CRATE, "--input-list", listing, root)
    assert run.returncode == 0, run.stderr
    assert (root / "inside" / "a.zarr" / "zarr.json").is_file()


def test_local_writes_and_deletes_that_fail_are_one_line(tmp_path):
    """A write or delete refused by the file system for a reason other than
    space or permission (read-only file system, a name too long, a folder where
    a file is deleted) was an 'unexpected OSError'; now an OutputError naming
    the key (read-only mounts need root, so the other reasons stand for it)."""
    import pytest

    from ome2024_ngff_challenge.errors import OutputError
    from ome2024_ngff_challenge.stores.local import LocalStore

    store = LocalStore(tmp_path)
    with pytest.raises(OutputError, match="cannot write"):
        store.put("n" * 300, b"{}")
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputError, match="folder: cannot delete"):
        store.delete("folder")
    assert (tmp_path / "folder").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]  # no temporary file left


def test_output_inside_another_dataset_is_refused(tmp_path):
    """An OUTPUT inside another Zarr dataset (even inside one of its arrays'
    chunk folders) once added a whole dataset to it."""
    src = small_image(tmp_path / "in.zarr")
    other = tmp_path / "other.zarr"
    assert cli("resave", *CRATE, src, other).returncode == 0
    before = checks.tree_digest(other)
    for out in (other / "sub.zarr", other / "0" / "c" / "x.zarr"):
        run = cli("resave", *CRATE, src, out)
        assert run.returncode != 0
        checks.assert_one_line_error(run.stderr, str(out.relative_to(tmp_path)), "inside the Zarr dataset")
    assert checks.tree_digest(other) == before


def test_overwrite_of_an_output_upgraded_to_06_in_place(tmp_path):
    """Our output, upgraded to 0.6 in place by us, then replaced with
    --output-overwrite: the upgrade's record is ours too (it was refused as
    'not written by the earlier conversion')."""
    out = upgraded(tmp_path)
    run = cli("resave", *CRATE, "--output-overwrite", tmp_path / "in.zarr", out)
    assert run.returncode == 0, run.stderr
    assert not (out / UPGRADE_RECORD).exists()
    assert cli("validate", out).returncode == 0


def test_job_script_refuses_a_path_with_a_line_break(tmp_path):
    """A job script runs one command per line (a job array picks line N): a
    path holding a line break split its commands over two lines. Refused
    before anything is written; other odd names are quoted for the shell."""
    small_image(tmp_path / "in $(touch PWNED) 'q'.zarr")
    out = tmp_path / "out\nput.zarr"
    run = cli("resave", *CRATE, "--output-job-script", tmp_path / "in $(touch PWNED) 'q'.zarr", out)
    assert run.returncode != 0
    checks.assert_one_line_error(run.stderr, "line break")
    assert not out.exists()
    odd = tmp_path / "o u t.zarr"
    made = cli("resave", *CRATE, "--output-job-script", tmp_path / "in $(touch PWNED) 'q'.zarr", odd, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    for line in (odd / ".jobs" / "jobs.sh").read_text().splitlines():
        if line and not line.startswith("#"):
            done = subprocess.run(["sh", "-c", line.replace("ome2024-ngff-challenge", f"{sys.executable} -m "
                                                           "ome2024_ngff_challenge", 1)],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
    assert not (tmp_path / "PWNED").exists()
    assert (odd / "zarr.json").is_file()


def test_output_record_with_a_grid_that_is_not_integers(tmp_path):
    """An output record whose array grid holds Infinity (an OverflowError
    once), a float or a bool: not a record of ours, nothing deleted."""
    src = small_image(tmp_path / "in.zarr")
    out = tmp_path / "out.zarr"
    assert cli("resave", *CRATE, src, out).returncode == 0
    record = out / ".ome2024-ngff-challenge-output.json"
    genuine = record.read_text()
    for grid in ("Infinity", "1.5", "true"):
        doc = genuine.replace('"grid": [', f'"grid": [{grid}, ', 1)
        record.write_text(doc)
        before = checks.tree_digest(out)
        run = cli("resave", *CRATE, "--output-overwrite", src, out)
        assert run.returncode != 0
        checks.assert_one_line_error(run.stderr, ".ome2024-ngff-challenge-output.json", "nothing was deleted")
        assert checks.tree_digest(out) == before


def test_upgrade_with_follow_links_through_a_link_out_changes_nothing(tmp_path):
    """A 0.5 dataset whose labels group is a link out of it, upgraded to 0.6
    in place with --follow-links: refused in one line saying nothing is written
    through such a link (it once said to add --follow-links, and left an
    unfinished upgrade record that neither a re-run nor undo could clear)."""
    small_image(tmp_path / "in.zarr")
    samples.write_labels(tmp_path / "in.zarr", {"cells": samples.label_blobs((2, 40, 50), 3, "<u4", 1)}, "zyx",
                         levels=1, chunks=(1, 16, 16))
    out = tmp_path / "v05.zarr"
    assert cli("resave", *CRATE, tmp_path / "in.zarr", out).returncode == 0
    (out / "labels").rename(tmp_path / "elsewhere")
    (out / "labels").symlink_to(tmp_path / "elsewhere")
    before = checks.tree_digest(out), checks.tree_digest(tmp_path / "elsewhere")
    run = cli("resave", "--in-place", "--output-version", "0.6", "--follow-links", out)
    assert run.returncode != 0
    checks.assert_one_line_error(run.stderr, "labels", "nothing is written")
    assert (checks.tree_digest(out), checks.tree_digest(tmp_path / "elsewhere")) == before


def test_paths_with_line_breaks_give_one_line_per_message(tmp_path):
    """A dataset whose folder name holds a line break: every error or warning
    of validate (and of the log) stays on one line (the break is shown as \\n)."""
    src = small_image(tmp_path / "in.zarr")
    out = tmp_path / "a\nb.zarr"
    run = cli("resave", "--cc-by", src, out)  # warns: no organism, no modality
    assert run.returncode == 0, run.stderr
    run = cli("validate", out)
    lines = [ln for ln in run.stdout.splitlines() if ln.strip()]
    assert all(ln.startswith(("error: ", "warning: ", "valid", "invalid")) for ln in lines), lines
    assert any("a\\nb.zarr" in ln for ln in lines)
    run = cli("validate", tmp_path / "no\nsuch")
    assert run.returncode != 0
    assert all(ln.startswith(("error: ", "warning: ", "valid", "invalid")) for ln in run.stdout.splitlines())


def test_a_name_too_long_is_one_line_naming_it(tmp_path):
    """A path the file system refuses (a name of 300 characters): Path.exists
    and os.stat raise for it, which was an 'unexpected OSError'."""
    src = small_image(tmp_path / "in.zarr")
    long = tmp_path / ("x" * 300)
    for argv in (["resave", *CRATE, src, long], ["resave", *CRATE, long, tmp_path / "o.zarr"], ["validate", long],
                 ["example", long], ["update", "--cc-by", long]):
        run = cli(*argv)
        assert run.returncode != 0, argv
        line = checks.assert_one_line_error(run.stderr, "x" * 300)
        assert "unexpected" not in line, argv


def test_a_file_or_device_as_input_says_so(tmp_path):
    """A file (a zipped dataset, a typo) or /dev/zero given as INPUT: one line saying it is not a
    folder, nothing read from the device, no output."""
    zipped = tmp_path / "in.zarr.zip"
    zipped.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    for given in (zipped, Path("/dev/zero")):
        run = cli("resave", given, tmp_path / "out.zarr")
        assert run.returncode == 1
        checks.assert_one_line_error(run.stderr, str(given), "not a folder")
        assert not (tmp_path / "out.zarr").exists()
