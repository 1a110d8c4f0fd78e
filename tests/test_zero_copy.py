"""Zero copy: the 0.5 view added in place (`resave --in-place`), removed again
(`--undo`), and unsharded byte copies whose chunks are hard links
(`--output-codec=keep --output-shards=none`).

Every view is read back with zarr-python 3, tensorstore, ome-zarr-py,
ome-zarr-models, yaozarrs, zarrita.js and our own `validate --against`, voxel
for voxel equal to the 0.4 view; the 0.4 view's files are hashed before and
after and must not change, and an undo leaves exactly the original tree.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numcodecs import LZ4, Blosc, Delta, Zlib

import checks
from conftest import build_bioformats2raw, build_image_5d, build_image_with_labels, build_plate
from test_resave_images import CASES as IMAGE_CASES
from zarrita_check import read_with_zarrita, zarrita_available

from ome2024_ngff_challenge.about import IN_PLACE_RECORD, STATS_KEY
from ome2024_ngff_challenge.errors import UserError
from ome2024_ngff_challenge.testing import samples
from ome2024_ngff_challenge.testing.v2_writer import write_v2_array, write_v2_group

RECORD = IN_PLACE_RECORD
# image cases whose encoding no registered Zarr v3 codec describes: refused in place
NOT_DESCRIBABLE = {
    "image_int32_fill_minus_one_missing_chunks": "zlib",
    "codec_zlib": "zlib",
    "image_delta_filter": "delta",
}


def build_unreferenced(path: Path) -> dict[str, np.ndarray]:
    """An image with a tool's own group and array beside it, and a README."""
    expected = samples.write_image(path, samples.pattern((40, 50), "<u2", 1), "yx", levels=2, chunks=(16, 16))
    write_v2_group(path / "measurements", {"tool": "my-pipeline"})
    table = np.arange(30, dtype="<f8").reshape(10, 3)
    expected["measurements/table"] = write_v2_array(path / "measurements" / "table", table, (4, 3),
                                                    dimension_separator=".")
    (path / "README.txt").write_text("acquired on Tuesday\n")
    return expected


HIERARCHIES = {
    "image_5d": build_image_5d,
    "labels": build_image_with_labels,
    "plate": build_plate,
    "bioformats2raw": build_bioformats2raw,
    "unreferenced": build_unreferenced,
}


def digest(root: Path) -> dict[str, tuple[int, str]]:
    return checks.tree_digest(root)


def added_files(root: Path) -> list[str]:
    return json.loads((root / RECORD).read_text())["added"]


def assert_04_view_unchanged(root: Path, before: dict) -> None:
    """Every file and folder that was there is there, byte for byte; what is
    new is exactly what the record lists, and the record."""
    after = digest(root)
    changed = [k for k in before if after.get(k) != before[k]]
    assert not changed, f"files of the 0.4 view changed: {changed[:5]}"
    new = sorted(set(after) - set(before))
    assert new == sorted([*added_files(root), RECORD]), new


def validate(convert, target: Path, against: Path) -> dict:
    run = convert("validate", "--json", target, "--against", against)
    report = json.loads(run.out)
    assert run.rc == 0 and report["errors"] == [], report["errors"]
    return report


def v2_arrays(root: Path) -> list[str]:
    return [rel for rel, kind in checks.iter_v2_nodes(root) if kind == "array"]


def check_with_zarrita(root: Path) -> None:
    reason = zarrita_available()
    if reason is not None:
        pytest.skip(reason)
    arrays = v2_arrays(root)
    got = read_with_zarrita(root, arrays)
    assert got["root"] == checks.v3_meta(root, "")["attributes"]
    for rel in arrays:
        checks.assert_same_voxels(checks.read_v2(root, rel), got["arrays"][rel], f"{root / rel} read by zarrita.js")


# ---------------------------------------------------------------------------
# in place: every hierarchy and every image variant
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(HIERARCHIES))
def test_hierarchy_viewed_in_place(kind, tmp_path, convert):
    src = tmp_path / "in.zarr"
    expected = HIERARCHIES[kind](src)
    before = digest(src)
    run = convert("resave", "--in-place", "--cc-by", "--rocrate-organism=NCBI:txid9606",
                  "--rocrate-modality=obo:FBbi_00000369", src)
    assert run.rc == 0, str(run)
    assert_04_view_unchanged(src, before)
    checks.check_conversion(src, src, expected=expected, sharded=False)
    for rel in v2_arrays(src):
        meta = checks.v3_meta(src, rel)
        zarray = json.loads((src / rel / ".zarray").read_text())
        assert meta["chunk_key_encoding"] == {
            "name": "v2", "configuration": {"separator": zarray.get("dimension_separator", ".")}}
        assert meta["chunk_grid"]["configuration"]["chunk_shape"] == zarray["chunks"]
        assert meta["attributes"][STATS_KEY]["read"] == 0  # no chunk was read
    report = validate(convert, src, src)
    assert report["compared"] == len(v2_arrays(src))
    check_with_zarrita(src)
    # undo: exactly the original tree again
    run = convert("resave", "--in-place", "--undo", src)
    assert run.rc == 0, str(run)
    assert digest(src) == before


@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
def test_image_variant_in_place(case, tmp_path, convert):
    src = tmp_path / "in.zarr"
    expected = IMAGE_CASES[case](src)
    before = digest(src)
    run = convert("resave", "--in-place", "--cc-by", src)
    if case in NOT_DESCRIBABLE:
        assert run.rc != 0
        checks.assert_one_line_error(run.err, str(src), NOT_DESCRIBABLE[case], "nothing was added",
                                     "resave INPUT OUTPUT")
        assert digest(src) == before
        return
    assert run.rc == 0, str(run)
    assert_04_view_unchanged(src, before)
    checks.check_conversion(src, src, expected=expected, sharded=False)
    validate(convert, src, src)


@pytest.mark.parametrize("case", ["image_fortran_order", "image_big_endian_uint16", "image_separator_dot",
                                  "image_bool_fortran_true_fill", "image_float32_nan_fill_missing_chunks",
                                  "codec_zstd_checksum", "codec_gzip", "codec_none"])
def test_image_variant_in_place_read_by_zarrita(case, tmp_path, convert):
    src = tmp_path / "in.zarr"
    IMAGE_CASES[case](src)
    assert convert("resave", "--in-place", src).rc == 0
    check_with_zarrita(src)


# ---------------------------------------------------------------------------
# in place: refusals add nothing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("codec", "named"), [
    ({"compressor": Zlib(level=3)}, "zlib"),
    ({"compressor": LZ4()}, "lz4"),
    ({"filters": [Delta(dtype="<u2")]}, "delta"),
    ({"compressor": Blosc(cname="lz4"), "filters": [Delta(dtype="<u2")]}, "filters"),
])
def test_undescribable_array_refuses_the_whole_view(codec, named, tmp_path, convert):
    """One array of many that v3 cannot describe (here a label image deep in
    the hierarchy): one line naming it, and not one file added anywhere."""
    src = tmp_path / "in.zarr"
    build_image_with_labels(src)
    nuclei = src / "labels" / "nuclei" / "1"
    data = checks.read_v2(src, "labels/nuclei/1").astype("<u2")
    shutil.rmtree(nuclei)
    write_v2_array(nuclei, data, (2, 16, 16), **codec)
    before = digest(src)
    run = convert("resave", "--in-place", "--cc-by", src)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, str(nuclei), named, "nothing was added")
    assert digest(src) == before
    # the copying path converts it (re-encoding that array)
    out = tmp_path / "out.zarr"
    assert convert("resave", "--cc-by", src, out).rc == 0
    checks.check_conversion(src, out)


def test_existing_view_is_refused_unless_overwrite(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_with_labels(src)
    original = digest(src)
    assert convert("resave", "--in-place", "--cc-by", src).rc == 0
    with_view = digest(src)
    run = convert("resave", "--in-place", "--cc0", src)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, str(src), "already has a 0.5 view", "--output-overwrite",
                                 "--in-place --undo")
    assert digest(src) == with_view
    # replaced: the RO-Crate changes, the 0.4 view does not, and a view without
    # a crate no longer lists (nor has) one
    run = convert("resave", "--in-place", "--cc0", "--rocrate-skip", "--output-overwrite", src)
    assert run.rc == 0, str(run)
    assert not (src / "ro-crate-metadata.json").exists()
    assert "ro-crate-metadata.json" not in added_files(src)
    assert_04_view_unchanged(src, original)
    checks.check_conversion(src, src, rocrate=False)
    assert convert("resave", "--in-place", "--undo", src).rc == 0
    assert digest(src) == original


def test_foreign_files_are_never_replaced(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_with_labels(src)
    # a zarr.json at the top that is not ours (another tool's view): refused, even with overwrite
    (src / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {}}')
    before = digest(src)
    for extra in ([], ["--output-overwrite"]):
        run = convert("resave", "--in-place", *extra, src)
        assert run.rc != 0
        checks.assert_one_line_error(run.err, str(src), "did not add")
        assert digest(src) == before
    (src / "zarr.json").unlink()
    # a zarr.json deeper down, and the user's own RO-Crate
    (src / "labels" / "zarr.json").write_text("{}")
    before = digest(src)
    run = convert("resave", "--in-place", src)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, str(src / "labels" / "zarr.json"), "not added by this tool",
                                 "nothing was added")
    assert digest(src) == before
    (src / "labels" / "zarr.json").unlink()
    (src / "ro-crate-metadata.json").write_text('{"mine": true}')
    before = digest(src)
    run = convert("resave", "--in-place", "--cc-by", src)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "ro-crate-metadata.json", "--rocrate-skip")
    assert digest(src) == before
    run = convert("resave", "--in-place", "--rocrate-skip", src)
    assert run.rc == 0, str(run)
    assert (src / "ro-crate-metadata.json").read_text() == '{"mine": true}'
    assert "ro-crate-metadata.json" not in added_files(src)
    assert convert("resave", "--in-place", "--undo", src).rc == 0
    assert digest(src) == before


def test_options_that_do_not_apply_in_place(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_with_labels(src)
    before = digest(src)
    for argv in (["--output-shards=none"], ["--output-chunks=1,16,16"], ["--output-codec=zstd"],
                 ["--output-bucket=b"], ["--output-script"]):
        run = convert("resave", "--in-place", *argv, src)
        assert run.rc == 2, str(run)
        checks.assert_one_line_error(run.err, argv[0].split("=")[0], "--in-place")
    run = convert("resave", "--in-place", src, tmp_path / "out.zarr")
    assert run.rc == 2 and "INPUT only" in run.err
    run = convert("resave", "--undo", src)
    assert run.rc == 2 and "--in-place" in run.err
    run = convert("resave", "--in-place", "--undo", "--cc-by", src)
    assert run.rc == 2 and "--cc-by" in run.err
    run = convert("resave", "--in-place", "--undo", src)
    assert run.rc == 1
    checks.assert_one_line_error(run.err, str(src), "nothing to undo")
    assert digest(src) == before


# ---------------------------------------------------------------------------
# in place: undo, re-runs, kills
# ---------------------------------------------------------------------------


def test_undo_removes_exactly_what_was_added(tmp_path, convert):
    """Files the user adds afterwards (and the 0.4 view) stay; the view's files
    go, the RO-Crate `update` added too, the record last."""
    src = tmp_path / "in.zarr"
    build_plate(src)
    original = digest(src)
    assert convert("resave", "--in-place", "--rocrate-skip", src).rc == 0
    run = convert("update", src, "--cc-by")
    assert run.rc == 0, str(run)
    assert "ro-crate-metadata.json" in added_files(src)
    (src / "A" / "1" / "notes.txt").write_text("mine")
    run = convert("resave", "--in-place", "--undo", src)
    assert run.rc == 0, str(run)
    assert "removed" in run.out
    after = digest(src)
    assert after.pop("A/1/notes.txt")[1]
    assert after == original


def test_rerun_of_a_finished_view_with_overwrite_gives_the_same_view(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_bioformats2raw(src)
    assert convert("resave", "--in-place", "--cc-by", src).rc == 0
    first = {k: json.loads((src / k).read_text()) for k in added_files(src) if k.endswith("zarr.json")}
    assert convert("resave", "--in-place", "--cc-by", "--output-overwrite", src).rc == 0
    second = {k: json.loads((src / k).read_text()) for k in added_files(src) if k.endswith("zarr.json")}
    for doc in (*first.values(), *second.values()):
        doc.get("attributes", {}).pop(STATS_KEY, None)
    assert first == second


KILLER = """
import os, signal, sys
n, when = int(sys.argv[1]), sys.argv[2]
count = 0
real = os.replace
def replace(a, b):
    # the n-th file put in place: killed just before (its temporary file stays)
    # or just after the rename
    global count
    count += 1
    if count == n and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    real(a, b)
    if count == n and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from ome2024_ngff_challenge.commands.main import main
sys.exit(main(sys.argv[3:]))
"""


def killed(n: int, when: str, *argv) -> subprocess.CompletedProcess:
    """Run the command line, killed with SIGKILL at the ``n``-th file it puts
    in place (deterministic: the count, not the time)."""
    return subprocess.run([sys.executable, "-c", KILLER, str(n), when, *map(str, argv)], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


# writes of the in-place view of build_image_with_labels: the record (1), six
# arrays (2-7), the crate (8), four groups, the root last (12), the record (13)
@pytest.mark.parametrize(("n", "when"), [(1, "before"), (1, "after"), (4, "before"), (8, "after"),
                                         (12, "before"), (12, "after"), (13, "before")])
def test_killed_view_is_finished_or_undone(n, when, tmp_path, convert):
    src = tmp_path / "in.zarr"
    expected = build_image_with_labels(src)
    original = digest(src)
    argv = ["resave", "--in-place", "--cc-by", src]
    proc = killed(n, when, *argv)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    complete = n > 12 or (n == 12 and when == "after")
    assert (src / "zarr.json").exists() == complete, "the root zarr.json must be the last file of the view"
    after_kill = digest(src)
    assert all(after_kill.get(k) == v for k, v in original.items()), "the 0.4 view was changed"
    if n > 1 or when == "after":
        assert (src / RECORD).is_file()
    # undo of the killed run leaves exactly the original tree, temporary files included
    undo_copy = tmp_path / "copy.zarr"
    shutil.copytree(src, undo_copy)
    run = convert("resave", "--in-place", "--undo", undo_copy)
    assert run.rc == 0, str(run)
    assert digest(undo_copy) == original
    # a re-run finishes the view
    run = convert(*argv)
    assert run.rc == 0, str(run)
    if n > 1 or when == "after":
        assert "unfinished in-place view" in run.err
    assert not [p for p in src.rglob("*") if ".partial-" in p.name]
    assert_04_view_unchanged(src, original)
    checks.check_conversion(src, src, expected=expected)
    assert json.loads((src / RECORD).read_text())["complete"] is True
    assert convert("resave", "--in-place", "--undo", src).rc == 0
    assert digest(src) == original


# ---------------------------------------------------------------------------
# in place: --verify
# ---------------------------------------------------------------------------


def test_verify_reads_every_chunk_and_refuses_a_corrupt_one(tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_with_labels(src)
    run = convert("resave", "--in-place", "--verify", src)
    assert run.rc == 0, str(run)
    stats = checks.v3_meta(src, "0")["attributes"][STATS_KEY]
    zarray = json.loads((src / "0" / ".zarray").read_text())
    stored = [p for p in (src / "0").rglob("*") if p.is_file() and p.name[0] not in "." and p.name != "zarr.json"]
    assert stats["read"] == sum(p.stat().st_size for p in stored) > 0
    assert stats["shards_or_chunks"] == int(np.prod([-(-s // c) for s, c in zip(zarray["shape"], zarray["chunks"])]))
    assert convert("resave", "--in-place", "--undo", src).rc == 0
    chunk = src / "0" / "1" / "1" / "0"
    chunk.write_bytes(chunk.read_bytes()[:-5])
    before = digest(src)
    run = convert("resave", "--in-place", "--verify", src)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, str(chunk), "corrupt or truncated", "nothing was added")
    assert digest(src) == before
    # without --verify no chunk is read: the view is added (and readers see the damage)
    assert convert("resave", "--in-place", src).rc == 0


def test_api_in_place_and_undo(tmp_path):
    import ome2024_ngff_challenge as ngff

    src = tmp_path / "in.zarr"
    build_image_5d(src)
    before = digest(src)
    plan = ngff.resave_in_place(src, license="cc-by", verify=True, threads=2)
    assert len(plan.arrays) == 3
    assert ngff.validate(src, against=src).valid
    with pytest.raises(UserError) as caught:
        ngff.resave_in_place(src)
    assert "overwrite" in str(caught.value) and "undo_in_place" in str(caught.value)
    removed = ngff.undo_in_place(src)
    assert "zarr.json" in removed and RECORD not in removed
    assert digest(src) == before


# ---------------------------------------------------------------------------
# to a new place: hard links
# ---------------------------------------------------------------------------


def chunk_files(root: Path, rel: str) -> list[Path]:
    return sorted(p for p in (root / rel / "c").rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", list(HIERARCHIES))
def test_unsharded_byte_copy_links_the_chunks(kind, tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = HIERARCHIES[kind](src)
    before = digest(src)
    run = convert("resave", "--cc-by", "--output-codec=keep", "--output-shards=none", src, out)
    assert run.rc == 0, str(run)
    assert "cannot hard-link" not in run.err
    assert digest(src) == before
    checks.check_conversion(src, out, expected=expected, sharded=False)
    for rel in v2_arrays(src):
        zarray = json.loads((src / rel / ".zarray").read_text())
        sep = zarray.get("dimension_separator", ".")
        for path in chunk_files(out, rel):
            index = path.relative_to(out / rel / "c").parts
            source = src / rel / sep.join(index)
            assert os.path.samefile(path, source), f"{path} is not a link of {source}"
        stats = checks.v3_meta(out, rel)["attributes"][STATS_KEY]
        assert stats["read"] == 0
        assert checks.v3_meta(out, rel)["chunk_key_encoding"]["name"] == "default"
    validate(convert, out, src)
    check_with_zarrita(out)


def test_links_impossible_copy_and_say_so_once(tmp_path, convert, monkeypatch):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_with_labels(src)

    def no_links(a, b, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    run = convert("resave", "--output-codec=keep", "--output-shards=none", src, out)
    assert run.rc == 0, str(run)
    assert run.err.count("cannot hard-link") == 1, run.err
    for rel in v2_arrays(src):
        for path in chunk_files(out, rel):
            assert path.stat().st_nlink == 1
    checks.check_conversion(src, out, expected=expected, sharded=False)


def test_verify_decodes_instead_of_linking(tmp_path, convert):
    src = tmp_path / "in.zarr"
    samples.write_image(src, samples.pattern((64, 64), "<u2", 4), "yx", chunks=(32, 32))
    chunk = src / "0" / "1" / "0"
    chunk.write_bytes(chunk.read_bytes()[:-7])
    # by default the chunk is linked as it is (not read); --verify finds it
    out = tmp_path / "linked.zarr"
    assert convert("resave", "--output-codec=keep", "--output-shards=none", src, out).rc == 0
    assert os.path.samefile(out / "0" / "c" / "1" / "0", chunk)
    out = tmp_path / "verified.zarr"
    run = convert("resave", "--verify", "--output-codec=keep", "--output-shards=none", src, out)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "1/0")
    checks.assert_no_complete_output(out)


def test_linked_output_resumes(tmp_path, convert, monkeypatch):
    """A run that stops half way (here: an error after 10 links) is finished by
    the same command; links already there are kept."""
    from ome2024_ngff_challenge.stores.local import LocalStore

    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_5d(src)
    real = LocalStore.copy_from
    calls = []

    def failing(self, *args):
        calls.append(args)
        if len(calls) > 10:
            raise OSError(errno.EIO, "disk on fire")
        return real(self, *args)

    monkeypatch.setattr(LocalStore, "copy_from", failing)
    argv = ["resave", "--output-threads=1", "--output-codec=keep", "--output-shards=none", src, out]
    assert convert(*argv).rc != 0
    checks.assert_no_complete_output(out)
    monkeypatch.setattr(LocalStore, "copy_from", real)
    run = convert(*argv)
    assert run.rc == 0, str(run)
    assert "resuming" in run.err
    checks.check_conversion(src, out, expected=expected, sharded=False)


def test_sharded_byte_copy_still_reads_and_checks(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_with_labels(src)
    assert convert("resave", "--output-codec=keep", src, out).rc == 0
    assert checks.v3_meta(out, "0")["attributes"][STATS_KEY]["read"] > 0
    checks.check_conversion(src, out, sharded=True)


def test_a_forged_record_removes_nothing(tmp_path, convert):
    """undo deletes only what a view could have added (nodes' zarr.json, the
    RO-Crate, inside the dataset): a record naming anything else is refused."""
    src = tmp_path / "in.zarr"
    build_image_2d_small(src)
    outside = tmp_path / "precious.txt"
    outside.write_text("mine")
    for added in (["../precious.txt"], [str(outside)], [".zgroup"], ["0/0/0"], ["zarr.json", "./x/zarr.json"]):
        (src / RECORD).write_text(json.dumps({"tool": "ome2024-ngff-challenge", "added": added}))
        before = digest(src)
        run = convert("resave", "--in-place", "--undo", src)
        assert run.rc != 0
        checks.assert_one_line_error(run.err, RECORD, "not a record")
        assert digest(src) == before and outside.read_text() == "mine"


def test_dual_format_dataset_converts_to_a_new_place(tmp_path, convert):
    """A dataset with a view in place is still the 0.4 dataset it was: a copy
    of it is made from the 0.4 metadata, and carries none of the view's files."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_plate(src)
    assert convert("resave", "--in-place", "--cc0", src).rc == 0
    run = convert("resave", "--cc-by", src, out)
    assert run.rc == 0, str(run)
    assert not (out / RECORD).exists()
    validate(convert, out, src)
    assert "creativecommons.org/licenses/by/" in (out / "ro-crate-metadata.json").read_text()


def build_image_2d_small(path: Path) -> dict[str, np.ndarray]:
    return samples.write_image(path, samples.pattern((40, 30), "<u2", 3), "yx", levels=2, chunks=(16, 16))


def test_relative_paths(tmp_path, convert, monkeypatch):
    """Locations as typed in a shell: relative, the output's parent folders missing."""
    monkeypatch.chdir(tmp_path)
    expected = build_image_with_labels(Path("in.zarr"))
    run = convert("resave", "--output-codec=keep", "--output-shards=none", "in.zarr", "new/folder/out.zarr")
    assert run.rc == 0, str(run)
    assert os.path.samefile("new/folder/out.zarr/0/c/1/1/0", "in.zarr/0/1/1/0")
    checks.check_conversion(tmp_path / "in.zarr", tmp_path / "new" / "folder" / "out.zarr", expected=expected)
    run = convert("resave", "--in-place", "in.zarr")
    assert run.rc == 0, str(run)
    checks.check_conversion(tmp_path / "in.zarr", tmp_path / "in.zarr", expected=expected)
