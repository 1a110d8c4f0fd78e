"""Links, loops and files that are not regular files in a local dataset.

A link that stays inside the input is followed; one that leads out of it is
refused in one line naming it (unless --follow-links); link loops and FIFOs,
sockets and devices are refused in one line, always; nothing is ever written
or deleted through a link that leads out of a dataset (--in-place, --undo,
update). Every command that reads a local dataset is run on them: resave (its
collections, byte copies and hard-link copies too), --in-place and --undo,
validate, catalog, update and serve. Each run that could hang (a loop, a FIFO,
/dev/zero) runs as a subprocess with a generous timeout and must finish.
"""

from __future__ import annotations

import csv
import hashlib
import os
import pickle
import socket
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from checks import assert_one_line_error, read_v3_zarr

from ome2024_ngff_challenge import api
from ome2024_ngff_challenge.errors import InputError, OutputError, UserError
from ome2024_ngff_challenge.stores.local import LocalStore
from ome2024_ngff_challenge.testing import samples

SECRET = b"SECRET-OUTSIDE-THE-INPUT-0123456789"
TIMEOUT = 60  # a hang is a failure; a loaded CI machine is not
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links, FIFOs and devices")


# -- what the tests look at ---------------------------------------------------


def digest(root: Path) -> dict[str, tuple]:
    """{relative path: (kind, content hash or link target)} of everything below
    root, links not followed and nothing but regular files read."""
    out: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", hashlib.sha256(Path(path).read_bytes()).hexdigest(), st.st_ino)
            else:
                out[rel] = (stat.S_IFMT(st.st_mode), "")
    return out


def assert_no_secret(out: Path) -> None:
    """No file of ``out`` holds the outside file's bytes, nor is it (a hard link)."""
    if not out.exists():
        return
    secret_inodes = {os.stat(p).st_ino for p in SECRETS}
    for folder, _, files in os.walk(out):
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            assert not stat.S_ISLNK(st.st_mode), f"{path}: a link in the output"
            assert st.st_ino not in secret_inodes, f"{path}: a hard link to a file outside the input"
            assert SECRET not in Path(path).read_bytes(), f"{path}: holds a file from outside the input"


SECRETS: list[Path] = []


@pytest.fixture
def world(tmp_path):
    """tmp/in.zarr (an image with labels and a README), tmp/outside/ (a secret
    file, and a folder with another)."""
    src = tmp_path / "in.zarr"
    samples.write_image(src, samples.pattern((40, 50), "<u2", 1), "yx", levels=2, chunks=(16, 16))
    samples.write_labels(src, {"cells": samples.label_blobs((40, 50), 4)}, "yx", levels=2, chunks=(16, 16))
    (src / "README.txt").write_text("acquired on Tuesday\n")
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "folder" / "notes.txt").write_bytes(SECRET + b" in a folder")
    SECRETS[:] = [outside / "secret.txt", outside / "folder" / "notes.txt"]
    return tmp_path


class Snapshot:
    """The input and the outside, hashed before a run, compared after it."""

    def __init__(self, *roots: Path):
        self.roots = roots
        self.before = [digest(r) for r in roots]

    def unchanged(self) -> None:
        for root, before in zip(self.roots, self.before):
            assert digest(root) == before, f"{root} changed"


def run(*argv, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """The console script in a subprocess; it must finish (no hang)."""
    cmd = [sys.executable, "-m", "ome2024_ngff_challenge", *map(str, argv)]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish within {timeout} s (a hang): {' '.join(cmd)}")


def refused(result, *needles: str, rc: int = 1) -> str:
    assert result.returncode == rc, f"rc={result.returncode}\n{result.stderr}"
    return assert_one_line_error(result.stderr, *needles)


def make_socket(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()


# -- resave: links out of the input --------------------------------------------


@pytest.mark.parametrize(("where", "target", "relative"), [
    ("README", "outside/secret.txt", False),  # the issue's /etc/passwd as README
    ("README", "outside/secret.txt", True),
    ("labels/extra.txt", "outside/secret.txt", True),  # in a group of the image
    ("labels/notes", "outside/folder", False),  # a linked folder
    ("labels/cells/extra", "outside/folder", True),
    ("deep/er/here.txt", "outside/secret.txt", False),  # in a folder of its own, two down
])
def test_resave_refuses_links_out_of_the_input(world, convert, where, target, relative):
    src, out = world / "in.zarr", world / "out.zarr"
    link = src / where
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(world / target, link.parent) if relative else world / target, link)
    snap = Snapshot(src, world / "outside")
    result = convert("resave", "--rocrate-skip", src, out)
    assert result.rc == 1, result
    line = assert_one_line_error(result.err, str(link), "outside", "--follow-links")
    assert str(world / target) in line  # where it leads
    assert not out.exists(), "refused before anything is written"
    snap.unchanged()


def test_follow_links_copies_what_they_lead_to(world, convert):
    src, out = world / "in.zarr", world / "out.zarr"
    os.symlink(world / "outside" / "secret.txt", src / "README")
    os.symlink("../outside/folder", src / "notes")
    snap = Snapshot(src, world / "outside")
    result = convert("resave", "--rocrate-skip", "--follow-links", src, out)
    assert result.rc == 0, result
    assert (out / "README").read_bytes() == SECRET and not (out / "README").is_symlink()
    assert (out / "notes" / "notes.txt").read_bytes() == SECRET + b" in a folder"
    np.testing.assert_array_equal(read_v3_zarr(out, "0"), samples.pattern((40, 50), "<u2", 1))
    snap.unchanged()


def test_links_inside_the_input_are_followed(world, convert):
    """A link to a file, a link to that link, a linked folder and a linked
    chunk, all inside: converted as what they lead to."""
    src, out = world / "in.zarr", world / "out.zarr"
    os.symlink("README.txt", src / "README")
    os.symlink(src / "README", src / "README-again")  # a link to a link, absolute
    os.symlink("labels/cells", src / "cells-again")  # a linked folder (a copy of the label image)
    chunks = sorted(p for p in (src / "0").rglob("*") if p.is_file() and not p.name.startswith("."))
    first, second = chunks[0], chunks[1]  # (0, 0) and (0, 1): both whole 16 x 16 chunks
    second.unlink()
    os.symlink(os.path.relpath(first, second.parent), second)  # a chunk that is another chunk, relative
    result = convert("resave", "--rocrate-skip", src, out)
    assert result.rc == 0, result
    assert (out / "README").read_text() == (out / "README-again").read_text() == "acquired on Tuesday\n"
    np.testing.assert_array_equal(read_v3_zarr(out, "cells-again/0"), read_v3_zarr(out, "labels/cells/0"))
    got = read_v3_zarr(out, "0")
    np.testing.assert_array_equal(got[:16, 16:32], got[:16, :16])  # read as the chunk it leads to
    expected = samples.pattern((40, 50), "<u2", 1)
    np.testing.assert_array_equal(got[16:], expected[16:])


def test_a_link_to_a_link_out_and_a_broken_link(world, convert):
    src, out = world / "in.zarr", world / "out.zarr"
    os.symlink(world / "outside" / "secret.txt", world / "hop")  # outside, leading further outside
    os.symlink("../hop", src / "README")
    result = convert("resave", "--rocrate-skip", src, out)
    assert result.rc == 1
    assert_one_line_error(result.err, str(src / "README"), str(world / "outside" / "secret.txt"))
    (src / "README").unlink()
    os.symlink("nowhere.txt", src / "README")
    result = convert("resave", "--rocrate-skip", src, out)
    assert result.rc == 1
    assert_one_line_error(result.err, str(src / "README"), "broken link", "nowhere.txt")
    assert not out.exists()


def test_a_link_into_the_output_is_refused(world, convert):
    """A link leading into the output being written: refused, with
    --follow-links too (the output is never read as the input)."""
    src, out = world / "in.zarr", world / "out.zarr"
    assert convert("resave", "--rocrate-skip", src, out).rc == 0
    os.symlink("../out.zarr/labels", src / "converted")
    snap = Snapshot(src, out)
    result = convert("resave", "--rocrate-skip", src, world / "out2.zarr")
    assert result.rc == 1
    assert_one_line_error(result.err, str(src / "converted"), "outside", "--follow-links")
    snap.unchanged()
    result = convert("resave", "--rocrate-skip", "--follow-links", src, out)  # resumes: the output is complete
    assert result.rc == 1, result
    assert_one_line_error(result.err, str(src / "converted"), "inside the output")
    snap.unchanged()
    result = convert("resave", "--rocrate-skip", "--follow-links", src, world / "out2.zarr")  # another output
    assert result.rc == 0, result
    assert (world / "out2.zarr" / "zarr.json").is_file()


@pytest.mark.parametrize("kind", ["plate", "well", "well-attrs", "bioformats2raw", "ome-xml", "labels"])
def test_linked_folders_of_plates_wells_labels_and_series(tmp_path, convert, kind):
    """A well, a field, a series or the labels group that is a link out of the
    dataset: refused (nothing read through it); with --follow-links converted."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if kind in ("plate", "well", "well-attrs"):
        samples.write_plate(src, ["A"], ["1", "2"], ["A/1", "A/2"], 2)
        moved = {"plate": "A/2", "well": "A/1/1", "well-attrs": "A/1/.zattrs"}[kind]
    elif kind in ("bioformats2raw", "ome-xml"):
        samples.write_bioformats2raw(src, 2)
        moved = "1" if kind == "bioformats2raw" else "OME/METADATA.ome.xml"
    else:
        samples.write_image(src, samples.pattern((40, 50), "<u2", 1), "yx", chunks=(16, 16))
        samples.write_labels(src, {"cells": samples.label_blobs((40, 50), 4)}, "yx", chunks=(16, 16))
        moved = "labels"
    (src / moved).rename(elsewhere / "moved")
    os.symlink(elsewhere / "moved", src / moved)
    snap = Snapshot(src, elsewhere)
    result = convert("resave", "--rocrate-skip", src, out)
    assert result.rc == 1, result
    assert_one_line_error(result.err, str(src / moved), str(elsewhere / "moved"), "--follow-links")
    assert not (out / "zarr.json").exists()
    snap.unchanged()
    result = convert("resave", "--rocrate-skip", "--follow-links", src, out)
    assert result.rc == 0, result
    if moved.endswith(".xml"):
        assert (out / moved).read_bytes() == (elsewhere / "moved").read_bytes()
    else:
        assert (out / moved.removesuffix("/.zattrs") / "zarr.json").is_file()
    snap.unchanged()


# -- byte copies and hard links --------------------------------------------------


@pytest.mark.parametrize("shards", ["none", None], ids=["hard-links", "byte-copy"])
def test_a_chunk_linked_out_is_never_copied_nor_hard_linked(world, convert, shards):
    src, out = world / "in.zarr", world / "out.zarr"
    chunks = sorted(p for p in (src / "1").rglob("*") if p.is_file() and not p.name.startswith("."))
    victim = chunks[0]
    stolen = world / "outside" / "chunk"
    victim.rename(stolen)  # a real chunk, so that a copy of it would be valid data
    SECRETS.append(stolen)
    os.symlink(stolen, victim)
    snap = Snapshot(src, world / "outside")
    extra = [f"--output-shards={shards}"] if shards else []
    result = convert("resave", "--rocrate-skip", "--output-codec=keep", *extra, src, out)
    assert result.rc == 1, result
    assert_one_line_error(result.err, str(victim), "outside")
    assert_no_secret(out)  # no hard link to it, no copy of it
    snap.unchanged()
    # asked for: followed (and then linked, as any chunk of the input)
    result = convert("resave", "--rocrate-skip", "--output-codec=keep", *extra, "--follow-links",
                     "--output-overwrite", src, out)
    assert result.rc == 0, result
    np.testing.assert_array_equal(read_v3_zarr(out, "1"), samples.pyramid(samples.pattern((40, 50), "<u2", 1), 2)[1])
    snap.unchanged()


# -- loops ------------------------------------------------------------------------


LOOPS = {
    "a-b": [("a", "."), ("b", ".")],  # the issue's: ran for ever without the check
    "a": [("a", ".")],  # the single loop ("unexpected OSError: [Errno 40]")
    "self": [("loop", "loop")],  # a link to itself (ELOOP)
    "pair": [("x", "y"), ("y", "x")],  # two links to each other
    "in-chunks": [("labels/cells/0/up", "../../..")],  # in an array's chunk folder: never listed
    "deep": [("labels/deeper/up", "../..")],  # at depth, in a folder of its own
}


@pytest.mark.parametrize(("loop", "mode"), [*((name, "resave") for name in LOOPS),
                                            ("a-b", "in-place"), ("pair", "in-place"), ("deep", "in-place"),
                                            ("in-chunks", "in-place")])
def test_link_loops_are_refused_quickly(world, loop, mode):
    src, out = world / "in.zarr", world / "out.zarr"
    links = LOOPS[loop]
    for name, target in links:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, src / name)
    snap = Snapshot(src)
    args = ["resave", "--in-place", src] if mode == "in-place" else ["resave", src, out]
    result = run(*args, "--rocrate-skip", "--follow-links")  # --follow-links does not follow loops
    if links[0][0].startswith("labels/cells/0/"):  # inside an array's chunk folder: never read
        assert result.returncode == 0, result.stderr
        if mode == "in-place":
            assert run("resave", "--in-place", "--undo", src).returncode == 0
            snap.unchanged()
        return
    refused(result, str(src / links[0][0]) if len(links) == 1 else str(src), "loop")
    assert not (out / "zarr.json").exists() and not (src / "zarr.json").exists()
    snap.unchanged()


# -- files that are not regular files ------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _zero(path: Path) -> None:
    os.symlink("/dev/zero", path)


def _socket(path: Path) -> None:
    make_socket(path)


@pytest.mark.parametrize(("where", "make", "what"), [
    ("0/.zarray", _fifo, "FIFO"),  # the issue's
    ("README", _fifo, "FIFO"),  # an extra file
    ("CHUNK", _fifo, "FIFO"),  # a chunk
    (".zattrs", _zero, "character device"),  # the issue's /dev/zero
    ("CHUNK", _zero, "character device"),
    ("README", _zero, "character device"),
    ("README", _socket, "socket"),
])
def test_only_regular_files_are_read(world, where, make, what):
    src, out = world / "in.zarr", world / "out.zarr"
    if where == "CHUNK":
        where = sorted(p for p in (src / "0").rglob("*") if p.is_file() and not p.name.startswith("."))[0]
        where = where.relative_to(src).as_posix()
    path = src / where
    if path.exists():
        path.unlink()
    make(path)
    snap = Snapshot(src)
    result = run("resave", "--rocrate-skip", "--follow-links", src, out)  # /dev/zero is outside: followed, refused
    refused(result, str(path), what)
    assert not (out / "zarr.json").exists()
    snap.unchanged()


def test_in_place_with_a_fifo_and_a_device(world):
    src = world / "in.zarr"
    os.mkfifo(src / "labels" / ".zattrs.fifo")
    (src / "labels" / ".zattrs").unlink()
    os.symlink(".zattrs.fifo", src / "labels" / ".zattrs")
    snap = Snapshot(src)
    refused(run("resave", "--in-place", "--rocrate-skip", src), str(src / "labels" / ".zattrs"), "FIFO")
    snap.unchanged()


@pytest.mark.parametrize("option", ["--output-read-details", "--input-list"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder", "too-large"])
def test_files_given_by_name_must_be_small_regular_files(world, convert, option, kind):
    given = world / "given"
    if kind == "fifo":
        os.mkfifo(given)
    elif kind == "dev-zero":
        given = Path("/dev/zero")
    elif kind == "folder":
        given.mkdir()
    else:
        with open(given, "wb") as f:  # sparse: no disk used
            f.truncate(64 * 2**20 + 1)
    if option == "--input-list":
        args = ["resave", f"--input-list={given}", world / "root"]
    else:
        args = ["resave", f"{option}={given}", world / "in.zarr", world / "out.zarr"]
    if kind in ("fifo", "dev-zero"):  # could hang: a subprocess
        result = run(*args)
        rc, err = result.returncode, result.stderr
    else:
        result = convert(*args)
        rc, err = result.rc, result.err
    assert rc != 0
    line = assert_one_line_error(err, str(given))
    assert {"fifo": "FIFO", "dev-zero": "character device", "folder": "folder",
            "too-large": "larger than"}[kind] in line
    assert not (world / "out.zarr").exists() and not (world / "root" / "catalog.csv").exists()


# -- --in-place and --undo never write or delete through a link out ---------------------


def test_in_place_never_writes_through_a_level_linked_out(world, convert):
    """The issue's: level 1 is a link to ../shared_1; the view is refused, with
    nothing added (with --follow-links too: it would write shared_1/zarr.json)."""
    src, shared = world / "in.zarr", world / "shared_1"
    (src / "1").rename(shared)
    os.symlink("../shared_1", src / "1")
    snap = Snapshot(src, shared)
    for extra in ([], ["--follow-links"]):
        result = convert("resave", "--in-place", "--rocrate-skip", *extra, src)
        assert result.rc == 1, result
        line = assert_one_line_error(result.err, str(src / "1"), str(shared))
        assert ("--follow-links" in line) == (not extra)  # read refused; with it, the write
        snap.unchanged()
    assert not (shared / "zarr.json").exists()


def test_undo_never_deletes_through_a_level_swapped_for_a_link(world, convert):
    """The issue's: after the view was added, level 1 is swapped for a link to
    outside/ holding a zarr.json: --undo refuses, removing nothing; put back,
    it removes the view."""
    src, outside = world / "in.zarr", world / "outside"
    assert convert("resave", "--in-place", "--rocrate-skip", src).rc == 0
    (src / "1").rename(world / "level1")
    (outside / "1").mkdir()
    (outside / "1" / "zarr.json").write_text('{"theirs": true}')
    os.symlink(outside / "1", src / "1")
    snap = Snapshot(src, outside)
    result = convert("resave", "--in-place", "--undo", src)
    assert result.rc == 1, result
    assert_one_line_error(result.err, str(src / "1"), str(outside / "1"), "deleted")
    snap.unchanged()  # nothing removed, not even the view's own files
    (src / "1").unlink()
    (world / "level1").rename(src / "1")
    assert convert("resave", "--in-place", "--undo", src).rc == 0
    assert not list(src.rglob("zarr.json"))
    assert (outside / "1" / "zarr.json").read_text() == '{"theirs": true}'


# -- collections --------------------------------------------------------------------


def test_collection_rows_with_links_out(world, convert):
    inputs = world / "inputs"
    inputs.mkdir()
    for name in ("a.zarr", "b.zarr"):
        samples.write_image(inputs / name, samples.pattern((20, 30), "<u2", 2), "yx", chunks=(16, 16))
    os.symlink(world / "outside" / "secret.txt", inputs / "b.zarr" / "README")
    os.symlink(world / "in.zarr", inputs / "c.zarr")  # an input that is a link itself: the user named it
    listing = world / "list.csv"
    with open(listing, "w", newline="") as f:
        csv.writer(f).writerows([["input"], ["inputs/a.zarr"], ["inputs/b.zarr"], ["inputs/c.zarr"]])
    snap = Snapshot(inputs, world / "in.zarr", world / "outside")
    root = world / "root"
    result = convert("resave", "--rocrate-skip", f"--input-list={listing}", root)
    assert result.rc == 1, result
    with open(root / "catalog.csv", newline="") as f:
        rows = {r["input"].rsplit("/", 1)[-1]: r for r in csv.DictReader(f)}
    assert rows["a.zarr"]["status"] == "done" and rows["c.zarr"]["status"] == "done"
    assert rows["b.zarr"]["status"] == "failed" and str(inputs / "b.zarr" / "README") in rows["b.zarr"]["error"]
    assert_one_line_error(result.err, "README", "outside")
    assert_no_secret(root)
    snap.unchanged()
    result = convert("resave", "--rocrate-skip", "--follow-links", f"--input-list={listing}", root)
    assert result.rc == 0, result
    assert (root / "b.zarr" / "README").read_bytes() == SECRET
    snap.unchanged()


def test_api_collection_takes_follow_links(world):
    os.symlink(world / "outside" / "secret.txt", world / "in.zarr" / "README")
    rows = api.resave_collection([str(world / "in.zarr")], world / "root", crate=False)
    assert rows[0]["status"] == "failed" and "outside" in rows[0]["error"]
    rows = api.resave_collection([str(world / "in.zarr")], world / "root", crate=False, follow_links=True)
    assert rows[0]["status"] == "done"


# -- validate, catalog, update, serve ----------------------------------------------------


@pytest.fixture
def converted(world, convert):
    out = world / "out.zarr"
    assert convert("resave", "--cc-by", "--rocrate-organism=NCBI:txid9606", "--rocrate-modality=obo:FBbi_00000369",
                   world / "in.zarr", out).rc == 0
    return out


def test_validate_reads_nothing_through_a_link_out(world, converted, convert):
    """An array's zarr.json moved outside and linked: not read (the array is
    reported with the link named); with --follow-links valid again."""
    out = converted
    moved = world / "outside" / "zarr.json"
    (out / "1" / "zarr.json").rename(moved)
    os.symlink(moved, out / "1" / "zarr.json")
    snap = Snapshot(out, world / "outside")
    result = convert("validate", out)
    assert result.rc == 1, result
    assert str(out / "1" / "zarr.json") in result.out + result.err and "--follow-links" in result.out + result.err
    assert convert("validate", "--follow-links", out).rc == 0
    snap.unchanged()


def test_validate_with_a_loop_and_a_fifo(converted):
    os.symlink(".", converted / "again")
    os.mkfifo(converted / "labels" / "fifo")
    result = run("validate", converted)
    assert result.returncode == 0, result.stdout + result.stderr  # neither is part of the hierarchy: not read
    (converted / "1" / "zarr.json").unlink()
    os.mkfifo(converted / "1" / "zarr.json")
    result = run("validate", converted)
    assert result.returncode == 1 and "FIFO" in result.stdout + result.stderr


def test_catalog_skips_links_out_and_loops(world, converted, convert):
    shelf = world / "shelf"
    shelf.mkdir()
    converted.rename(shelf / "mine.zarr")
    theirs = world / "outside" / "theirs.zarr"
    (shelf / "mine.zarr").rename(theirs)
    samples.write_image(shelf / "v2.zarr", samples.pattern((8, 8), "<u2", 1), "yx")
    assert convert("resave", "--rocrate-skip", shelf / "v2.zarr", shelf / "mine.zarr").rc == 0
    os.symlink(theirs, shelf / "linked.zarr")
    os.symlink(".", shelf / "loop")
    snap = Snapshot(shelf, world / "outside")
    result = run("catalog", shelf, "--csv", world / "c.csv")
    assert result.returncode == 0, result.stderr
    with open(world / "c.csv", newline="") as f:
        urls = [r["url"] for r in csv.DictReader(f)]
    assert urls == [str(shelf / "mine.zarr")]
    assert str(shelf / "linked.zarr") in result.stderr and str(shelf / "loop") in result.stderr
    result = run("catalog", shelf, "--csv", world / "c.csv", "--follow-links")
    assert result.returncode == 0, result.stderr
    with open(world / "c.csv", newline="") as f:
        urls = sorted(r["url"] for r in csv.DictReader(f))
    assert urls == [str(shelf / "linked.zarr"), str(shelf / "mine.zarr")]
    snap.unchanged()


def test_update_never_writes_through_a_link(world, converted, convert):
    crate = converted / "ro-crate-metadata.json"
    moved = world / "outside" / "ro-crate-metadata.json"
    crate.rename(moved)
    os.symlink(moved, crate)
    snap = Snapshot(world / "outside")
    result = convert("update", converted, "--rocrate-description=new")
    assert result.rc == 1
    assert_one_line_error(result.err, str(crate), "--follow-links")
    snap.unchanged()
    # followed for reading; the write replaces the link, never the file outside
    result = convert("update", converted, "--rocrate-description=new", "--follow-links")
    assert result.rc == 0, result
    snap.unchanged()
    assert not crate.is_symlink() and b"new" in crate.read_bytes()


def test_serve_still_refuses_links_out_loops_and_fifos(world, converted):
    import urllib.error
    import urllib.request

    os.symlink(world / "outside" / "secret.txt", converted / "secret")
    os.symlink(".", converted / "loop")
    os.mkfifo(converted / "fifo")
    with api.serve(converted) as server:
        assert server.datasets == [""]
        for path, code in (("secret", 403), ("fifo", 404), ("loop/loop/zarr.json", 200)):
            try:
                with urllib.request.urlopen(f"{server.url.rstrip('/')}/{path}", timeout=TIMEOUT) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            assert status == code, path


# -- the store's rules, directly ---------------------------------------------------------


def test_local_store_rules(tmp_path):
    root, outside = tmp_path / "ds", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    (outside / "x").write_bytes(b"theirs")
    os.symlink(outside, root / "out")
    os.symlink("a", root / "in")
    store = LocalStore(root)
    with pytest.raises(InputError, match="outside"):
        store.get("out/x")
    with pytest.raises(InputError, match="outside"):
        store.list_dir("out")
    with pytest.raises(InputError, match="outside"):
        list(store.sizes())
    store.put("in/new", b"ours")  # through a link that stays inside: fine
    assert (root / "a" / "new").read_bytes() == b"ours" and store.get("in/new") == b"ours"
    for write in (lambda s: s.put("out/x", b"mine"), lambda s: s.delete("out/x"),
                  lambda s: s.append("out/x", b"more"), lambda s: s.check_writable("out/x"),
                  lambda s: s.remove_empty_folders("out"), lambda s: s.copy_from(s, "a/new", "out/y")):
        for s in (store, LocalStore(root, follow_links=True)):
            with pytest.raises(OutputError, match="outside"):
                write(s)
    followed = pickle.loads(pickle.dumps(LocalStore(root, follow_links=True)))  # as a Dask worker gets it
    assert followed.get("out/x") == b"theirs"
    os.symlink(outside / "x", root / "file-link")
    store.delete("file-link")  # the link itself goes, never what it leads to
    assert not (root / "file-link").exists() and (outside / "x").read_bytes() == b"theirs"
    os.symlink(outside / "x", root / "file-link")
    store.put("file-link", b"replaced")  # replaces the link
    assert (outside / "x").read_bytes() == b"theirs" and (root / "file-link").read_bytes() == b"replaced"


def test_api_takes_follow_links(world):
    src = world / "in.zarr"
    os.symlink(world / "outside" / "secret.txt", src / "README")
    with pytest.raises(InputError, match="follow_links"):  # the API names its keyword
        api.resave(src, world / "out.zarr", crate=False)
    api.resave(src, world / "out.zarr", crate=False, follow_links=True)
    assert (world / "out.zarr" / "README").read_bytes() == SECRET
    with pytest.raises(InputError, match="outside"):
        api.resave_in_place(src, crate=False)
