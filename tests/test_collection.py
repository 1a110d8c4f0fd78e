"""Whole collections in one run: `resave --input-list=LIST.csv OUTPUT_ROOT`.

Good datasets are converted completely even when others fail; each failure is
one line in catalog.csv and on stderr; a killed run is finished by running it
again (finished datasets skipped, unfinished ones resumed); every row may
override the RO-Crate options; a bad list is refused before anything is
written; the tasks of all datasets share one pool, and each dataset's metadata
is written as soon as its own last shard is.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import checks
import numpy as np
import pytest
from conftest import build_image_2d, build_image_with_labels, build_plate
from test_s3 import (  # noqa: F401 - fixtures
    PRIVATE,
    assert_no_secrets,
    clean_aws_env,
    downloaded,
    s3,
    signed,
    unique,
)

import ome2024_ngff_challenge as ngff
from ome2024_ngff_challenge.convert import collection
from ome2024_ngff_challenge.convert import resave as convert_resave
from ome2024_ngff_challenge.convert.output import OutputSettings
from ome2024_ngff_challenge.convert.progress import CollectionProgress
from ome2024_ngff_challenge.errors import UserError
from ome2024_ngff_challenge.executors import ThreadExecutor
from ome2024_ngff_challenge.executors.base import TaskPool, timed_task
from ome2024_ngff_challenge.executors.collection import CollectionRunner
from ome2024_ngff_challenge.ome.rocrate import read_crate_info
from ome2024_ngff_challenge.stores.local import LocalStore
from ome2024_ngff_challenge.stores.memory import MemoryStore
from ome2024_ngff_challenge.testing import samples

MARK = ".ome2024-ngff-challenge-incomplete.json"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"


def write_list(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[str(c) for c in row] for row in rows])
    return path


def catalog(root: Path) -> list[dict[str, str]]:
    path = root / "catalog.csv"
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [ln for ln in stderr.splitlines() if ln.startswith("error:")]


def truncated_copy(src: Path) -> Path:
    """A 2-D image one of whose chunks is cut in half."""
    build_image_2d(src, shape=(100, 90), levels=2, seed=7)
    chunk = next(p for p in sorted((src / "0").rglob("*")) if p.is_file() and not p.name.startswith("."))
    chunk.write_bytes(chunk.read_bytes()[: len(chunk.read_bytes()) // 2])
    return src


# ---------------------------------------------------------------------------
# good and bad datasets in one run
# ---------------------------------------------------------------------------


def test_bad_datasets_fail_alone(tmp_path, convert):
    inputs = tmp_path / "inputs"
    good = {
        "image.zarr": build_image_2d(inputs / "image.zarr", shape=(100, 90), levels=2),
        "labels.zarr": build_image_with_labels(inputs / "labels.zarr"),
        "plate.zarr": build_plate(inputs / "plate.zarr"),
    }
    truncated_copy(inputs / "corrupt.zarr")
    root = tmp_path / "out"
    (root / "blocked.zarr").mkdir(parents=True)
    (root / "blocked.zarr" / "notes.txt").write_text("someone's folder")
    listing = write_list(tmp_path / "list.csv", ["input", "output"], [
        ["inputs/image.zarr", ""],
        ["inputs/missing.zarr", ""],
        ["inputs/labels.zarr", "nested/labels.zarr"],
        ["inputs/corrupt.zarr", ""],
        ["inputs/image.zarr", "blocked.zarr"],
        ["inputs/plate.zarr", ""],
    ])
    run = convert("resave", "--cc-by", "--output-threads=2", f"--input-list={listing}", root)
    assert run.rc == 1, str(run)

    rows = catalog(root)
    assert [r["status"] for r in rows] == ["done", "failed", "done", "failed", "failed", "done"], rows
    assert [r["input"] for r in rows] == [str(tmp_path / "inputs" / n) for n in
                                          ("image.zarr", "missing.zarr", "labels.zarr", "corrupt.zarr",
                                           "image.zarr", "plate.zarr")]
    # every failure: its one line in the catalogue and on stderr, naming the dataset
    failed = [r for r in rows if r["status"] == "failed"]
    assert "missing.zarr" in failed[0]["error"]
    assert "corrupt.zarr/0: chunk" in failed[1]["error"] and "corrupt or truncated" in failed[1]["error"]
    assert "blocked.zarr" in failed[2]["error"] and "not a Zarr output" in failed[2]["error"]
    assert sorted(error_lines(run.err)) == sorted(f"error: {r['error']}" for r in failed)
    assert all("\n" not in r["error"] for r in failed)
    # the good ones are complete and equal to their inputs
    for name, out in (("image.zarr", "image.zarr"), ("labels.zarr", "nested/labels.zarr"),
                      ("plate.zarr", "plate.zarr")):
        checks.check_conversion(inputs / name, root / out, expected=good[name])
        assert not (root / out / MARK).exists()
    # the corrupt one is left unfinished, the folder in the way untouched
    checks.assert_no_complete_output(root / "corrupt.zarr")
    assert [p.name for p in (root / "blocked.zarr").iterdir()] == ["notes.txt"]
    assert not (root / "missing.zarr").exists()

    done = rows[0]
    assert done["url"] == str(root / "image.zarr")
    assert done["shape"] == "100,90" and done["dimension_names"] == "y,x"
    assert done["chunks"] == "32,32" and done["shards"]
    assert done["license"] == CC_BY and done["name"] == "image.zarr"
    assert int(done["bytes_read"]) > 0 and int(done["bytes_written"]) > 0 and float(done["elapsed"]) >= 0
    assert done["written"].startswith("20")
    plate = rows[5]
    assert plate["shape"] == "2,40,48" and plate["dimension_names"] == "c,y,x", plate  # its first field


def test_rerun_skips_finished_and_retries_failed(tmp_path, convert):
    inputs = tmp_path / "inputs"
    expected = build_image_2d(inputs / "a.zarr", shape=(40, 50), levels=1)
    listing = write_list(tmp_path / "list.csv", ["input"], [["inputs/a.zarr"], ["inputs/b.zarr"]])
    root = tmp_path / "out"
    first = convert("resave", "--cc-by", f"--input-list={listing}", root)
    assert first.rc == 1 and len(error_lines(first.err)) == 1, str(first)
    before = catalog(root)
    stamp = (root / "a.zarr" / "zarr.json").stat().st_mtime_ns
    build_image_2d(inputs / "b.zarr", shape=(30, 20), levels=1)  # the missing input appears
    second = convert("resave", "--cc-by", f"--input-list={listing}", root)
    assert second.rc == 0, str(second)
    after = catalog(root)
    assert [r["status"] for r in after] == ["skipped", "done"]
    # a skipped dataset keeps what its row said, and its output is not touched
    for column in ("written", "shape", "chunks", "shards", "bytes_read", "bytes_written", "elapsed", "license"):
        assert after[0][column] == before[0][column], column
    assert (root / "a.zarr" / "zarr.json").stat().st_mtime_ns == stamp
    checks.check_conversion(inputs / "a.zarr", root / "a.zarr", expected=expected, validators=False)
    checks.check_conversion(inputs / "b.zarr", root / "b.zarr", validators=False)
    # without an earlier catalogue, a skipped row is filled from the output itself
    (root / "catalog.csv").unlink()
    third = convert("resave", f"--input-list={listing}", root)
    assert third.rc == 0, str(third)
    rows = catalog(root)
    assert [r["status"] for r in rows] == ["skipped", "skipped"]
    assert rows[0]["shape"] == "40,50" and rows[0]["license"] == CC_BY and rows[0]["written"]


def test_complete_output_of_another_input_is_not_skipped(tmp_path, convert):
    build_image_2d(tmp_path / "a.zarr", shape=(20, 20), levels=1, seed=1)
    build_image_2d(tmp_path / "b.zarr", shape=(20, 20), levels=1, seed=2)
    root = tmp_path / "out"
    assert convert("resave", f"--input-list={write_list(tmp_path / 'l1.csv', ['input', 'output'], [['a.zarr', 'x.zarr']])}",
                   root).rc == 0
    run = convert("resave", f"--input-list={write_list(tmp_path / 'l2.csv', ['input', 'output'], [['b.zarr', 'x.zarr']])}",
                  root)
    assert run.rc == 1
    line = checks.assert_one_line_error(run.err, str(root / "x.zarr"), "another input", "--output-overwrite")
    assert catalog(root)[0]["error"] == line.removeprefix("error: ")


# ---------------------------------------------------------------------------
# killed and run again
# ---------------------------------------------------------------------------

KILL_OPTIONS = ["--cc-by", "--output-threads=1", "--output-codec=blosc-zstd-9", "--output-chunks=1,64,64",
                "--output-shards=1,128,128"]


def run_cli(*argv) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ome2024_ngff_challenge", *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def rows_in(root: Path) -> int:
    try:
        return len(catalog(root))
    except FileNotFoundError:
        return 0


def test_killed_collection_is_finished_by_a_rerun(tmp_path):
    inputs = tmp_path / "inputs"
    n = 12
    expected = {}
    for i in range(n):
        data = (samples.pattern((4, 256, 256), "<u2", i) + np.arange(256, dtype="<u2")).astype("<u2")
        expected[i] = samples.write_image(inputs / f"img{i:02}.zarr", data, "zyx", levels=2, chunks=(1, 64, 64))
    listing = write_list(tmp_path / "list.csv", ["input"], [[f"inputs/img{i:02}.zarr"] for i in range(n)])
    root = tmp_path / "out"
    argv = ["resave", *KILL_OPTIONS, f"--input-list={listing}", root]

    proc = run_cli(*argv)
    deadline = time.monotonic() + 120
    while rows_in(root) < 3:
        assert proc.poll() is None, f"the run ended before 3 datasets were in catalog.csv: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress within 120 s"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    first = catalog(root)
    unfinished = [i for i in range(n) if not (root / f"img{i:02}.zarr" / "zarr.json").exists()]
    assert unfinished, "the run finished before it was killed"
    assert all(r["status"] == "done" for r in first)

    again = run_cli(*argv)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "resuming" in err  # the datasets begun before the kill
    rows = catalog(root)
    assert len(rows) == n and [r["input"] for r in rows] == [str(inputs / f"img{i:02}.zarr") for i in range(n)]
    status = {r["url"]: r for r in rows}
    for row in first:  # finished before the kill: skipped, their rows kept
        assert status[row["url"]]["status"] == "skipped"
        assert status[row["url"]]["bytes_written"] == row["bytes_written"]
    for i in unfinished:
        assert status[str(root / f"img{i:02}.zarr")]["status"] == "done"
    for i in range(n):
        checks.check_conversion(inputs / f"img{i:02}.zarr", root / f"img{i:02}.zarr", expected=expected[i],
                                validators=i == unfinished[0])
        assert not list((root / f"img{i:02}.zarr").rglob("*.partial-*"))


# ---------------------------------------------------------------------------
# RO-Crate per row
# ---------------------------------------------------------------------------


def test_rows_override_the_crate_options(tmp_path, convert):
    for name in ("a.zarr", "b.zarr", "c.zarr"):
        build_image_2d(tmp_path / name, shape=(20, 30), levels=1)
    listing = write_list(tmp_path / "list.csv", ["input", "output", "name", "description", "license", "organism",
                                                 "modality"], [
        ["a.zarr", "", "Cells A", "first, with a comma", "cc-by", "NCBI:txid10090", "obo:FBbi_00000246"],
        ["b.zarr", "bee.zarr", "", "", "", "NCBI:txid7955", ""],
        ["c.zarr", "", "", "", "", "", ""],
    ])
    root = tmp_path / "out"
    run = convert("resave", "--cc0", "--rocrate-organism=NCBI:txid9606", "--rocrate-modality=obo:FBbi_00000369",
                  "--rocrate-description=the collection", f"--input-list={listing}", root)
    assert run.rc == 0, str(run)
    want = {
        "a.zarr": ("Cells A", "first, with a comma", CC_BY, "NCBI:txid10090", "obo:FBbi_00000246"),
        "bee.zarr": ("bee.zarr", "the collection", CC0, "NCBI:txid7955", "obo:FBbi_00000369"),
        "c.zarr": ("c.zarr", "the collection", CC0, "NCBI:txid9606", "obo:FBbi_00000369"),
    }
    rows = {Path(r["url"]).name: r for r in catalog(root)}
    for out, (name, description, license, organism, modality) in want.items():
        info = read_crate_info(json.loads((root / out / "ro-crate-metadata.json").read_text()))
        assert (info.name, info.description, info.license, info.organism, info.modality) == \
            (name, description, license, organism, modality), out
        row = rows[out]
        assert (row["name"], row["description"], row["license"], row["organismId"], row["fbbiId"]) == \
            (name, description, license, organism, modality), row
    assert "warning" not in run.err


# ---------------------------------------------------------------------------
# a bad list: one line naming it and the row, nothing written
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "needles"), [
    ("", ["empty"]),
    ("\n\n", ["empty"]),
    ("input\n", ["no datasets listed"]),
    ("path,output\na.zarr,b.zarr\n", ["no 'input' column"]),
    ("input,licence\na.zarr,cc-by\n", ["unknown column 'licence'"]),
    ("input,input\na.zarr,b.zarr\n", ["'input' appears twice"]),
    ("input,output\na.zarr,o.zarr\nb.zarr,O.zarr\n", ["row 2 (line 3)", "also the output of row 1"]),
    ("input,output\na.zarr,../o.zarr\n", ["row 1 (line 2)", "outside the output root"]),
    ("input,output\na.zarr,x/../../o.zarr\n", ["row 1 (line 2)", "outside the output root"]),
    ("input,output\na.zarr,/tmp/o.zarr\n", ["row 1 (line 2)", "relative to the output root"]),
    ("input,output\na.zarr,s3://b/o.zarr\n", ["row 1 (line 2)", "relative to the output root"]),
    ("input,output\na.zarr,o\nb.zarr,o/inner.zarr\n", ["row 2 (line 3)", "inside the output of row 1"]),
    ("input,output\na.zarr,catalog.csv\n", ["row 1 (line 2)", "catalogue"]),
    ("input,output\n,o.zarr\n", ["row 1 (line 2)", "no input"]),
    ("input,license\na.zarr,cc-by\nb.zarr,not a license\n", ["row 2 (line 3)", "license", "not an http(s) URL"]),
    ("input,organism\na.zarr,human\n", ["row 1 (line 2)", "organism", "not an NCBI taxonomy id"]),
    ("input\na.zarr\n\nb.zarr,extra\n", ["line 4", "2 cells for 1 columns"]),
    ("input\ns3://\n", ["row 1 (line 2)", "cannot name the output"]),
])
def test_bad_list_is_refused_before_anything_is_written(text, needles, tmp_path, convert):
    listing = tmp_path / "list.csv"
    listing.write_text(text)
    root = tmp_path / "out"
    run = convert("resave", f"--input-list={listing}", root)
    assert run.rc == 1, str(run)
    checks.assert_one_line_error(run.err, str(listing), *needles)
    assert not root.exists()


def test_missing_list_and_refused_options(tmp_path, convert):
    root = tmp_path / "out"
    run = convert("resave", f"--input-list={tmp_path / 'nope.csv'}", root)
    assert run.rc == 1
    checks.assert_one_line_error(run.err, str(tmp_path / "nope.csv"))
    listing = write_list(tmp_path / "list.csv", ["input"], [["a.zarr"]])
    for extra in (["--output-script"], ["--output-job-script"], ["--output-write-details"]):
        run = convert("resave", *extra, f"--input-list={listing}", root)
        assert run.rc == 2 and extra[0] in run.err, str(run)
    run = convert("resave", f"--input-list={listing}", root, tmp_path / "second")
    assert run.rc == 2 and "OUTPUT_ROOT" in run.err
    run = convert("resave", "--rocrate-license=nonsense", f"--input-list={listing}", root)
    assert run.rc == 1
    checks.assert_one_line_error(run.err, "--rocrate-license")
    assert not root.exists()
    # the output root inside an input: nothing is written into the input
    build_image_2d(tmp_path / "a.zarr", shape=(10, 10), levels=1)
    before = checks.tree_digest(tmp_path / "a.zarr")
    run = convert("resave", f"--input-list={listing}", tmp_path / "a.zarr" / "converted")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, str(tmp_path / "a.zarr" / "converted"), "inside one")
    assert checks.tree_digest(tmp_path / "a.zarr") == before
    # inputs inside the output root are fine
    inner = write_list(tmp_path / "inner.csv", ["input", "output"], [["a.zarr", "converted/a.zarr"]])
    run = convert("resave", f"--input-list={inner}", tmp_path)
    assert run.rc == 0, str(run)
    checks.check_conversion(tmp_path / "a.zarr", tmp_path / "converted" / "a.zarr", validators=False)


def test_default_outputs_are_made_unique():
    rows = [(None, {"input": p}) for p in ("/d/x/img.ome.zarr", "/d/y/img.ome.zarr/", "s3://b/z/img.ome.zarr",
                                           "/d/other.zarr", "https://h/p/IMG.ome.zarr")]
    rows.append((None, {"input": "/d/w/img.zarr", "output": "img-2.ome.zarr"}))
    outputs = [e.output for e in collection.entries(rows, "inputs")]
    assert outputs == ["img.ome.zarr", "img-3.ome.zarr", "img-4.ome.zarr", "other.zarr", "IMG-5.ome.zarr",
                       "img-2.ome.zarr"]


# ---------------------------------------------------------------------------
# the Python API and the pool
# ---------------------------------------------------------------------------


class GatedExecutor(ThreadExecutor):
    """One thread; the tasks of the last dataset to be fed wait until
    catalog.csv holds a finished row. With one thread they run after every
    task of the datasets fed before them (in the order their plans were
    ready), so they only go on if those datasets' metadata is written as soon
    as their own tasks are done, not when the whole collection is."""

    def __init__(self, root: Path, datasets: int):
        super().__init__(1)
        self.root, self.datasets = root, datasets
        self.pools = 0
        self.outputs: list[str] = []  # in the order they were fed

    def one_is_done(self) -> bool:
        try:
            return any(r["status"] == "done" for r in catalog(self.root))
        except FileNotFoundError:
            return False

    def gated_task(self, job, index, out, resume):
        deadline = time.monotonic() + 60
        while not self.one_is_done():
            if time.monotonic() > deadline:
                raise RuntimeError("no dataset was finished while the others ran")
            time.sleep(0.005)
        return timed_task(job, index, out, resume)

    @contextlib.contextmanager
    def task_pool(self):
        self.pools += 1
        with super().task_pool() as pool:
            executor = self

            class Gated(TaskPool):
                capacity = pool.capacity

                def submit(self, job, index, out, resume):
                    if out.describe() not in executor.outputs:
                        executor.outputs.append(out.describe())
                    if len(executor.outputs) == executor.datasets:
                        return pool.executor.submit(executor.gated_task, job, index, out, resume)
                    return pool.submit(job, index, out, resume)

            yield Gated()


def test_api_one_pool_and_metadata_as_soon_as_a_dataset_is_done(tmp_path):
    expected = {}
    for i in range(4):
        expected[i] = build_image_2d(tmp_path / f"in{i}.zarr", shape=(96, 96), levels=2, seed=i)
    root = tmp_path / "out"
    executor = GatedExecutor(root, 4)
    rows = ngff.resave_collection(
        [str(tmp_path / "in0.zarr"), {"input": str(tmp_path / "in1.zarr")},
         {"input": str(tmp_path / "in2.zarr")}, {"input": str(tmp_path / "in3.zarr"), "output": "last.zarr"}],
        root, chunks=(32, 32), shards=(32, 32), executor=executor, organism="NCBI:txid9606",
    )
    assert [r["status"] for r in rows] == ["done"] * 4, rows
    assert rows == catalog(root)
    assert executor.pools == 1 and len(executor.outputs) == 4
    for i, out in enumerate(["in0.zarr", "in1.zarr", "in2.zarr", "last.zarr"]):
        checks.check_conversion(tmp_path / f"in{i}.zarr", root / out, expected=expected[i], validators=False)
        assert rows[i]["organismId"] == "NCBI:txid9606" and rows[i]["shards"] == "32,32"


def test_api_errors_name_the_api_options(tmp_path):
    with pytest.raises(UserError, match="organism"):
        ngff.resave_collection([str(tmp_path / "a.zarr")], tmp_path / "out", organism="human")
    with pytest.raises(UserError, match=r"inputs: row 2: no input"):
        ngff.resave_collection([str(tmp_path / "a.zarr"), {"input": ""}], tmp_path / "out")
    build_image_2d(tmp_path / "a.zarr", shape=(10, 10), levels=1)
    (tmp_path / "out" / "a.zarr").mkdir(parents=True)
    (tmp_path / "out" / "a.zarr" / "zarr.json").write_text("{}")
    (tmp_path / "out" / "a.zarr" / MARK).write_text(json.dumps({"plan": "another"}))
    rows = ngff.resave_collection([str(tmp_path / "a.zarr")], tmp_path / "out")
    assert rows[0]["status"] == "failed" and "overwrite to start over" in rows[0]["error"], rows


def test_runner_keeps_a_bounded_number_of_datasets_in_memory(tmp_path):
    """However long the collection, only a few datasets are planned and
    unfinished at any time."""
    n, ahead = 24, 2
    for i in range(n):
        samples.write_image(tmp_path / f"{i}.zarr", samples.pattern((40, 40), "|u1", i), "yx", chunks=(16, 16))
    outputs = [MemoryStore(f"mem://{i}") for i in range(n)]
    lock = threading.Lock()
    alive = [0, 0]  # now, most

    def preparation(i):
        def prepare():
            with lock:
                alive[0] += 1
                alive[1] = max(alive[1], alive[0])
            return convert_resave.prepare(LocalStore(tmp_path / f"{i}.zarr"), outputs[i],
                                          settings=OutputSettings(progress=False))
        return prepare

    ended = []

    def on_end(e):
        with lock:
            alive[0] -= 1
        ended.append((e.index, e.status, e.error))

    executor = ThreadExecutor(1)
    CollectionRunner(executor, ahead=ahead).run([preparation(i) for i in range(n)], on_end)
    assert sorted(ended) == [(i, "done", None) for i in range(n)]
    assert all(o.exists("zarr.json") and not o.exists(MARK) for o in outputs)
    capacity = 2 * executor.threads
    assert alive[1] <= 3 * ahead + capacity + 1, alive


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_catalog_rows_as_datasets_end_then_in_list_order(kind, tmp_path):
    """Locally each row is appended as its dataset ends, elsewhere the file is
    rewritten; in the end it follows the list, then rows of other outputs. An
    earlier catalogue's rows survive until replaced, and a last line a crash
    cut short is left out."""
    root = LocalStore(tmp_path / "root") if kind == "local" else MemoryStore("mem://root")
    earlier = ("input,url,status,error\n" "/in/a,/out/a,done,\n" "/in/x,/out/x,done,\n" "/in/a,/out/a,faile")
    root.put("catalog.csv", earlier.encode())
    inputs, urls = ["/in/a", "/in/b", "/in/c"], ["/out/a", "/out/b", "/out/c"]

    def text():
        return root.get("catalog.csv").decode()

    def statuses():
        return [(r["url"], r["status"]) for r in csv.DictReader(io.StringIO(text()))]

    with collection.Catalog(root, inputs, urls) as cat:
        assert statuses() == [("/out/a", "done"), ("/out/x", "done")]
        cat.record(2, "failed", error="/in/c: broken")
        cat.record(0, "skipped")
        if kind == "local":  # appended: the earlier rows first, then as the datasets ended
            want = [("/out/a", "done"), ("/out/x", "done"), ("/out/c", "failed"), ("/out/a", "skipped")]
        else:  # rewritten: the list's order, then the other outputs'
            want = [("/out/a", "skipped"), ("/out/c", "failed"), ("/out/x", "done")]
        deadline = time.monotonic() + 30
        while statuses() != want:  # written by the catalogue's thread
            assert time.monotonic() < deadline, statuses()
            time.sleep(0.01)
        cat.record(1, "done")
    assert statuses() == [("/out/a", "skipped"), ("/out/b", "done"), ("/out/c", "failed"), ("/out/x", "done")]
    assert "/in/c: broken" in text() and text().endswith("\n")


def test_progress_counts_datasets_and_bytes():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    with CollectionProgress(3, stream=stream) as bar:
        bar.plan(1000)
        bar.advance(1000)
        bar.ended("done")
        bar.ended("skipped", planned=False)
        bar.plan(3000)
        bar.advance(1000)
        bar.ended("failed", left=2000)
    last = stream.getvalue().replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("3/3 datasets (1 done, 1 skipped, 1 failed)"), last
    assert "2.00k/2.00k" in last or "1.95k/1.95k" in last, last
    quiet = io.StringIO()
    with CollectionProgress(3, stream=quiet) as bar:
        bar.plan(10)
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------------------
# Dask and S3
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    pytest.importorskip("distributed")
    from dask_cluster import Cluster

    c = Cluster(tmp_path_factory.mktemp("dask-collection"))
    try:
        address = c.start_scheduler()
        c.start_worker("w1")
        c.start_worker("w2")
        c.wait_for_workers(address, 2)
        yield address
    finally:
        c.stop()


def test_collection_on_a_dask_cluster(dask_cluster, tmp_path, convert):
    expected = {name: build_image_2d(tmp_path / name, shape=(70, 60), levels=2, seed=k)
                for k, name in enumerate(("a.zarr", "b.zarr", "c.zarr"))}
    truncated_copy(tmp_path / "corrupt.zarr")
    listing = write_list(tmp_path / "list.csv", ["input"], [["a.zarr"], ["corrupt.zarr"], ["b.zarr"], ["c.zarr"]])
    root = tmp_path / "out"
    run = convert("resave", "--cc0", "--output-chunks=16,16", f"--dask-scheduler={dask_cluster}",
                  f"--input-list={listing}", root)
    assert run.rc == 1, str(run)
    rows = catalog(root)
    assert [r["status"] for r in rows] == ["done", "failed", "done", "done"], rows
    assert "corrupt or truncated" in rows[1]["error"] and error_lines(run.err) == [f"error: {rows[1]['error']}"]
    for name, want in expected.items():
        checks.check_conversion(tmp_path / name, root / name, expected=want, validators=False)
        stats = json.loads((root / name / "0" / "zarr.json").read_text())["attributes"]
        assert stats["_ome2024_ngff_challenge_stats"]["threads"] == 2  # the cluster's


def test_collection_from_local_to_s3(signed, tmp_path, convert):  # noqa: F811 - the fixture
    s3 = signed  # noqa: F811
    expected = {name: build_image_2d(tmp_path / name, shape=(50, 40), levels=2, seed=k)
                for k, name in enumerate(("a.zarr", "b.zarr"))}
    listing = write_list(tmp_path / "list.csv", ["input", "output"],
                         [["a.zarr", "first.zarr"], ["b.zarr", ""], ["missing.zarr", ""]])
    prefix = unique("collection")
    root = f"s3://{PRIVATE}/{prefix}"
    run = convert("resave", "--cc-by", f"--output-endpoint={s3.endpoint}", f"--input-list={listing}", root)
    assert run.rc == 1, str(run)
    assert len(error_lines(run.err)) == 1 and "missing.zarr" in run.err
    out = downloaded(s3, PRIVATE, prefix, tmp_path)
    rows = catalog(out)
    assert [(r["url"], r["status"]) for r in rows] == [
        (f"{root}/first.zarr", "done"), (f"{root}/b.zarr", "done"), (f"{root}/missing.zarr", "failed")]
    checks.check_conversion(tmp_path / "a.zarr", out / "first.zarr", expected=expected["a.zarr"])
    checks.check_conversion(tmp_path / "b.zarr", out / "b.zarr", expected=expected["b.zarr"])
    assert not [k for k in s3.keys(PRIVATE, prefix) if "incomplete" in k]
    assert_no_secrets(s3, run.out, run.err, (out / "catalog.csv").read_text())
    # run again: the finished ones are skipped (the catalogue is read back from S3)
    again = convert("resave", "--cc-by", f"--output-endpoint={s3.endpoint}", f"--input-list={listing}", root)
    rows = catalog(downloaded(s3, PRIVATE, prefix, tmp_path))
    assert [r["status"] for r in rows] == ["skipped", "skipped", "failed"], str(again)
    assert rows[0]["bytes_written"] and rows[0]["bytes_written"] == catalog(out)[0]["bytes_written"]
