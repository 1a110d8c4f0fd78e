"""`resave --output-add-levels[=SIZE]`: levels added below each image's
smallest until y and x are at most SIZE. Every added level equals a plain
numpy computation from the level above (block by block, written here without
the package's code): the mean of each 2x2 block rounded half to even for
intensities, the most frequent value (ties: the first in reading order) for
labels; the metadata lists them with the scales and translations the spec
implies, and every validator accepts the output."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import checks  # noqa: E402
from test_jobs import run_line  # noqa: E402
from test_resume import comparable, files  # noqa: E402

from ome2024_ngff_challenge.testing import samples  # noqa: E402

STATS = "_ome2024_ngff_challenge_stats"


# -- the reference: one level from the level above, block by block -----------


def _blocks(a: np.ndarray, ay: int, ax: int):
    """(output index, values of the block in reading order) for every block of
    2x2 pixels along axes ay, ax (fewer at odd edges), the other axes kept."""
    b = np.moveaxis(a, (ay, ax), (-2, -1))
    ny, nx = b.shape[-2:]
    for i in range(math.ceil(ny / 2)):
        for j in range(math.ceil(nx / 2)):
            block = b[..., 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            yield (i, j), block.reshape(*block.shape[:-2], -1)


def _assemble(a: np.ndarray, ay: int, ax: int, value_of, dtype) -> np.ndarray:
    b = np.moveaxis(a, (ay, ax), (-2, -1))
    out = np.empty((*b.shape[:-2], math.ceil(b.shape[-2] / 2), math.ceil(b.shape[-1] / 2)), dtype=dtype)
    for (i, j), values in _blocks(a, ay, ax):
        flat = values.reshape(-1, values.shape[-1])
        out[..., i, j] = np.array([value_of(v) for v in flat], dtype=dtype).reshape(values.shape[:-1])
    return np.moveaxis(out, (-2, -1), (ay, ax))


def reference_mean(a: np.ndarray, ay: int = -2, ax: int = -1) -> np.ndarray:
    ay, ax = ay % a.ndim, ax % a.ndim
    if a.dtype.kind == "f":
        return _assemble(a, ay, ax, lambda v: v.astype(np.float64).mean(), a.dtype)
    # integers: the exact mean as a fraction, rounded half to even (Python's round)
    return _assemble(a, ay, ax, lambda v: round(Fraction(sum(int(x) for x in v), len(v))), a.dtype)


def reference_mode(a: np.ndarray, ay: int = -2, ax: int = -1) -> np.ndarray:
    ay, ax = ay % a.ndim, ax % a.ndim

    def mode(values):
        counts = Counter(values.tolist())
        best = max(counts.values())
        return next(v for v in values.tolist() if counts[v] == best)  # first in reading order

    return _assemble(a, ay, ax, mode, a.dtype)


def output_levels(out: Path, image: str = "") -> tuple[list[str], list[dict]]:
    ms = checks.v3_meta(out, image)["attributes"]["ome"]["multiscales"][0]
    return [d["path"] for d in ms["datasets"]], ms["datasets"]


def check_added(src: Path, out: Path, image: str, n_source: int, method: str) -> int:
    """Every level of ``image`` after the source's ``n_source`` equals the
    reference computed from the one above it; how many there are."""
    paths, _ = output_levels(out, image)
    above = checks.read_v2(src, checks.join(image, paths[n_source - 1]))
    reduce = reference_mean if method == "mean" else reference_mode
    for path in paths[n_source:]:
        rel = checks.join(image, path)
        got = checks.read_v3_zarr(out, rel)
        expected = reduce(above)
        checks.assert_same_voxels(expected, got, f"{out / rel}")
        above = got
    return len(paths) - n_source


# -- intensities -------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["|u1", "<u2", ">u2", "<i2", "<i8", "<u8", "<f4", "|b1"])
def test_intensities_equal_the_reference(dtype, tmp_path, convert):
    rng = np.random.default_rng(5)
    shape = (101, 67)  # odd: blocks of 2 and 1 pixels at the edges
    if dtype in ("<i8", "<u8"):  # near the limits: a sum of 4 would overflow
        info = np.iinfo(np.dtype(dtype))
        data = rng.integers(info.min, info.max, size=shape, dtype=np.dtype(dtype), endpoint=True)
    elif dtype == "|b1":  # categorical: the most frequent value, as for labels
        data = rng.random(shape) < 0.4
    elif dtype == "<f4":
        data = rng.normal(100, 50, size=shape).astype("<f4")
    else:
        info = np.iinfo(np.dtype(dtype))
        data = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_image(src, data, "yx", chunks=(32, 32), dtype=dtype)
    run = convert("resave", "--cc-by", "--output-add-levels=16", src, out)
    assert run.rc == 0, str(run)
    # 101x67 -> 51x34 -> 26x17 -> 13x9: three levels, the 2nd and 3rd read from the output
    assert check_added(src, out, "", 1, "mode" if dtype == "|b1" else "mean") == 3
    assert checks.read_v3_tensorstore(out, "3").shape == (13, 9)
    checks.check_conversion(src, out, added_levels=True)


def test_half_way_values_round_to_even(tmp_path, convert):
    data = np.array([[1, 2, 2, 3, 5], [2, 1, 3, 2, 6], [7, 7, 9, 9, 0]], dtype="<u2")
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_image(src, data, "yx")
    assert convert("resave", "--output-add-levels=2", src, out).rc == 0
    # blocks: 1.5 -> 2, 2.5 -> 2, 5.5 -> 6 (the edge block of 2: 5, 6), 7, 9, 0 (the corner)
    assert checks.read_v3_zarr(out, "1").tolist() == [[2, 2, 6], [7, 9, 0]]
    assert checks.read_v3_zarr(out, "2").tolist() == [[5, 3]]


@pytest.mark.parametrize("layout", [[], ["--output-chunks=8,8", "--output-shards=16,24"], ["--output-shards=none"],
                                    ["--output-codec=keep"]])
def test_layouts(layout, tmp_path, convert):
    data = samples.pattern((2, 90, 130), "<u2", 7)
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_image(src, data, "zyx", levels=2, chunks=(1, 20, 30))
    run = convert("resave", *layout, "--output-add-levels=10", src, out)
    assert run.rc == 0, str(run)
    # 45x65 -> 23x33 -> 12x17 -> 6x9
    assert check_added(src, out, "", 2, "mean") == 3
    report = checks.check_conversion(src, out, added_levels=True, rocrate=True)
    assert report.added == {"": ["2", "3", "4"]}
    meta = checks.v3_meta(out, "3")
    codecs = [c["name"] for c in meta["codecs"]]
    if "--output-shards=none" in layout:
        assert "sharding_indexed" not in codecs
    if "--output-codec=keep" in layout:
        # the source's chunks are copied; the added levels are encoded with its codec (Blosc lz4)
        inner = meta["codecs"][0]["configuration"]["codecs"] if codecs[0] == "sharding_indexed" else meta["codecs"]
        blosc = next(c for c in inner if c["name"] == "blosc")
        assert blosc["configuration"]["cname"] == json.loads((src / "1" / ".zarray").read_text())["compressor"]["cname"]


# -- labels, metadata, validators ------------------------------------------------


def test_labels_take_the_most_frequent_value_and_the_image_count(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    data = samples.pattern((3, 60, 70), "<u2", 18)
    samples.write_image(src, data, "zyx", levels=2, chunks=(2, 32, 32), name="with labels",
                        omero=samples.omero_04(["a", "b", "c"]))
    rng = np.random.default_rng(3)
    cells = rng.integers(0, 4, size=(3, 60, 70)).astype("<i4")  # many ties among few values
    samples.write_labels(src, {"cells": cells, "nuclei": samples.label_blobs((3, 60, 70), 6, "<u4", 20)}, "zyx",
                         levels=2, chunks=(2, 32, 32))
    run = convert("resave", "--cc-by", "--output-add-levels=10", src, out)
    assert run.rc == 0, str(run)
    # 30x35 -> 15x18 -> 8x9: two levels for the image and for each label image
    assert check_added(src, out, "", 2, "mean") == 2
    for name in ("cells", "nuclei"):
        assert check_added(src, out, f"labels/{name}", 2, "mode") == 2
        got = checks.read_v3_zarr(out, f"labels/{name}/3")
        assert set(np.unique(got)) <= set(np.unique(checks.read_v2(src, f"labels/{name}/1")))
    report = checks.check_conversion(src, out, added_levels=True)
    assert report.added == {"": ["2", "3"], "labels/cells": ["2", "3"], "labels/nuclei": ["2", "3"]}
    ome = checks.v3_meta(out, "")["attributes"]["ome"]
    assert ome["omero"]["channels"][0]["label"] == "a"  # kept
    stats = checks.v3_meta(out, "labels/cells/3")["attributes"][STATS]
    assert stats["added_level"]["from"] == "labels/cells/2" and "most frequent" in stats["added_level"]["method"]
    validated = convert("validate", out)
    assert validated.rc == 0 and "0 errors" in validated.out, str(validated)


def test_scales_double_and_translations_move_to_block_centres(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    samples.write_image(src, samples.pattern((2, 40, 36), "<u2", 1), "cyx", levels=2, chunks=(1, 16, 16),
                        scales=[[1, 0.5, 0.25], [1, 1.0, 0.5]], translations=[None, [0, 10.25, -3.0]],
                        multiscales_extra={"type": "stride"})
    assert convert("resave", "--output-add-levels=5", src, out).rc == 0
    paths, datasets = output_levels(out)
    assert paths == ["0", "1", "2", "3"]  # 20x18 -> 10x9 -> 5x5
    assert datasets[2]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 2.0, 1.0]},
        {"type": "translation", "translation": [0.0, 10.75, -2.75]}]
    assert datasets[3]["coordinateTransformations"] == [
        {"type": "scale", "scale": [1.0, 4.0, 2.0]},
        {"type": "translation", "translation": [0.0, 11.75, -2.25]}]
    # pixel 0 of a new level lies at the centre of the 2x2 block of the level above
    assert 10.75 == (10.25 + (10.25 + 1.0)) / 2
    assert checks.v3_meta(out, "")["attributes"]["ome"]["multiscales"][0]["type"] == "stride"  # kept
    checks.check_conversion(src, out, added_levels=True, rocrate=True)


def test_non_numeric_paths_and_names_in_use(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    levels = samples.pyramid(samples.pattern((64, 64), "|u1", 2), 2)
    attrs = samples.multiscales_04("yx", [[1, 1], [2, 2]], paths=["s0", "s1"])
    root = samples.write_v2_group(src, {"multiscales": attrs})
    for name, level in zip(["s0", "s1"], levels):
        samples.write_v2_array(root / name, level, (32, 32))
    (root / "s2").mkdir()
    (root / "s2" / "notes.txt").write_text("a folder of the input that happens to be called s2")
    assert convert("resave", "--output-add-levels=8", src, out).rc == 0
    assert output_levels(out)[0] == ["s0", "s1", "s3", "s4"]  # s2 is taken: 32 -> 16 -> 8
    assert (out / "s2" / "notes.txt").is_file()


def test_a_pyramid_that_stops_at_1024_gets_two_levels_to_256(tmp_path, convert):
    """The issue's case (4096 -> 1024 in 3 levels), planned only: the layout
    shows the added arrays."""
    src, details = tmp_path / "in.zarr", tmp_path / "details.json"
    zeros = [np.zeros((1, 1, 1, n, n), dtype="<u2") for n in (4096, 2048, 1024)]
    samples.write_image(src, zeros, "tczyx", chunks=(1, 1, 1, 1024, 1024), skip_empty_chunks=True)
    assert convert("resave", "--output-add-levels", src, details, "--output-write-details").rc == 0
    shapes = [entry["shape"][-2:] for entry in json.loads(details.read_text())]
    assert shapes == [[4096, 4096], [2048, 2048], [1024, 1024], [512, 512], [256, 256]]
    assert convert("resave", "--output-add-levels=1000", src, details, "--output-write-details",
                   "--output-overwrite").rc == 0
    assert len(json.loads(details.read_text())) == 4
    assert convert("resave", "--output-add-levels=1024", src, details, "--output-write-details",
                   "--output-overwrite").rc == 0
    assert len(json.loads(details.read_text())) == 3  # small enough already: nothing added


def test_plate_fields_and_bioformats2raw_series(tmp_path, convert, plate, bioformats2raw):
    src, _ = plate
    out = tmp_path / "plate-out.zarr"
    assert convert("resave", "--cc-by", "--output-add-levels=8", src, out).rc == 0
    report = checks.check_conversion(src, out, added_levels=True)
    fields = [i for i in report.images if "labels" not in i]
    assert len(fields) == 6 and all(report.added[f] == ["2", "3"] for f in fields)  # 20x24 -> 10x12 -> 5x6
    assert report.added["A/1/0/labels/seg"] == ["2", "3"]
    for f in fields:
        check_added(src, out, f, 2, "mean")
    check_added(src, out, "A/1/0/labels/seg", 2, "mode")

    src, _ = bioformats2raw
    out = tmp_path / "bf-out.zarr"
    assert convert("resave", "--cc-by", "--output-add-levels=8", src, out).rc == 0
    report = checks.check_conversion(src, out, added_levels=True)
    assert report.added == {"0": ["2", "3"], "1": ["1", "2"]}  # 20x24 -> 10x12 -> 5x6; 20x30 -> 10x15 -> 5x8
    check_added(src, out, "0", 2, "mean")
    check_added(src, out, "1", 1, "mean")


# -- running it: resume, Dask, job arrays, collections ------------------------------


def _source_with_labels(src: Path) -> None:
    samples.write_image(src, samples.pattern((2, 150, 170), "<u2", 9), "zyx", levels=1, chunks=(1, 32, 32))
    samples.write_labels(src, {"cells": samples.label_blobs((2, 150, 170), 5, "<u4", 3)}, "zyx", levels=1,
                         chunks=(1, 32, 32))


OPTIONS = ["--cc-by", "--output-chunks=1,16,16", "--output-shards=1,32,32", "--output-add-levels=22",
           "--output-threads=2"]


KILLED_IN_STAGE_1 = """
import os, signal, sys
from ome2024_ngff_challenge.convert import level_task
from ome2024_ngff_challenge.commands.main import main
real = level_task.write_level_task

def killed(job, index, out, *rest):
    if job.stage == 1:  # the second added level: the first is written, the rest not
        os.kill(os.getpid(), signal.SIGKILL)
    return real(job, index, out, *rest)

level_task.write_level_task = killed
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_in_the_added_levels_resumes(tmp_path, convert):
    src, local, out = tmp_path / "in.zarr", tmp_path / "local" / "out.zarr", tmp_path / "out.zarr"
    _source_with_labels(src)
    assert convert("resave", *OPTIONS, src, local).rc == 0
    argv = ["resave", *OPTIONS, str(src), str(out)]
    killed = subprocess.run([sys.executable, "-c", KILLED_IN_STAGE_1, *argv], capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    checks.assert_no_complete_output(out)
    written = {rel: (p.stat().st_ino, p.stat().st_mtime_ns) for rel, p in files(out).items() if "/c/" in rel}
    assert any(rel.startswith("1/c/") for rel in written)  # the first added level was written before the kill
    assert not any(rel.startswith(("2/c/", "3/c/")) for rel in written)
    run = convert(*argv)
    assert run.rc == 0 and "resuming" in run.err, str(run)
    a, b = files(local), files(out)
    assert set(a) == set(b), set(a) ^ set(b)
    for rel in a:
        assert comparable(rel, a[rel]) == comparable(rel, b[rel]), rel
    for rel, stamp in written.items():  # complete shards were kept, not rewritten
        assert (b[rel].stat().st_ino, b[rel].stat().st_mtime_ns) == stamp, rel
    checks.check_conversion(src, out, added_levels=True)


def test_job_lines_run_in_waves(tmp_path, convert):
    src, local, out = tmp_path / "in.zarr", tmp_path / "local" / "out.zarr", tmp_path / "jobs" / "out.zarr"
    _source_with_labels(src)
    assert convert("resave", *OPTIONS, src, local).rc == 0
    run = convert("resave", *OPTIONS, "--output-job-script", "--job-shards=40", src, out)
    assert run.rc == 0, str(run)
    # 150x170 -> 75x85 -> 38x43 -> 19x22: the first added level is in wave 1, the others in waves 2 and 3
    waves = [out / ".jobs" / name for name in ("jobs.sh", "jobs-wave2.sh", "jobs-wave3.sh")]
    lines = [[ln for ln in w.read_text().splitlines() if ln and not ln.startswith("#")] for w in waves]
    assert all(lines) and not (out / ".jobs" / "jobs-wave4.sh").exists()
    early = run_line(lines[1][0])  # a line of wave 2 before wave 1 is done: refused, nothing written
    assert early.returncode != 0
    checks.assert_one_line_error(early.stderr, "jobs.sh", "--job=")
    for wave in lines:
        for line in reversed(wave):
            done = run_line(line)
            assert done.returncode == 0, done.stderr
    assert (out / "zarr.json").is_file() and not (out / ".jobs").exists()
    a, b = files(local), files(out)
    assert set(a) == set(b), set(a) ^ set(b)
    for rel in a:
        assert comparable(rel, a[rel]) == comparable(rel, b[rel]), rel


def test_collection_feeds_the_stages_in_order(tmp_path, convert):
    for n in range(3):
        _source_with_labels(tmp_path / f"in{n}.zarr")
    (tmp_path / "list.csv").write_text("input\n" + "".join(f"in{n}.zarr\n" for n in range(3)))
    root = tmp_path / "converted"
    run = convert("resave", "--input-list", tmp_path / "list.csv", *OPTIONS, root)
    assert run.rc == 0, str(run)
    for n in range(3):
        out = root / f"in{n}.zarr"
        assert check_added(tmp_path / f"in{n}.zarr", out, "", 1, "mean") == 3
        assert check_added(tmp_path / f"in{n}.zarr", out, "labels/cells", 1, "mode") == 3


def test_collection_takes_a_bare_flag_before_the_output_root(tmp_path, convert):
    """"--output-add-levels OUTPUT_ROOT": argparse takes the root for SIZE; it
    is put back, and SIZE is the default (256)."""
    samples.write_image(tmp_path / "in.zarr", samples.pattern((600, 520), "|u1", 4), "yx", levels=1,
                        chunks=(128, 128))
    (tmp_path / "list.csv").write_text("input\nin.zarr\n")
    root = tmp_path / "converted"
    run = convert("resave", "--cc-by", "--input-list", tmp_path / "list.csv", "--output-add-levels", root)
    assert run.rc == 0, str(run)
    datasets = checks.v3_meta(root / "in.zarr", "")["attributes"]["ome"]["multiscales"][0]["datasets"]
    assert len(datasets) == 3  # 600 x 520 -> 300 x 260 -> 150 x 130


def test_dask_equals_local(tmp_path, convert):
    pytest.importorskip("distributed")
    from dask_cluster import Cluster

    src, local, remote = tmp_path / "in.zarr", tmp_path / "local" / "out.zarr", tmp_path / "dask" / "out.zarr"
    _source_with_labels(src)
    assert convert("resave", *OPTIONS, src, local).rc == 0
    (tmp_path / "cluster").mkdir()
    cluster = Cluster(tmp_path / "cluster")
    try:
        address = cluster.start_scheduler()
        cluster.start_worker("w1")
        cluster.wait_for_workers(address, 1)
        run = convert("resave", *OPTIONS, f"--dask-scheduler={address}", src, remote)
        assert run.rc == 0, str(run)
    finally:
        cluster.stop()
    a, b = files(local), files(remote)
    assert set(a) == set(b), set(a) ^ set(b)
    for rel in a:
        assert comparable(rel, a[rel]) == comparable(rel, b[rel]), rel


# -- validate, and what is refused ---------------------------------------------------


def test_validate_against_the_source_recomputes_the_added_levels(tmp_path, convert, monkeypatch, image_with_labels):
    from ome2024_ngff_challenge.convert import level_task

    src, _ = image_with_labels
    good, bad = tmp_path / "good.zarr", tmp_path / "bad.zarr"
    assert convert("resave", "--cc-by", "--output-add-levels=10", src, good).rc == 0
    run = convert("validate", good, "--against", src)
    assert run.rc == 0 and "12 compared voxel by voxel" in run.out and "not compared" not in run.out + run.err, str(run)

    real = level_task.reduce_block
    monkeypatch.setattr(level_task, "reduce_block",  # off by one in the labels' second added level
                        lambda block, axes, method: real(block, axes, method) + (method == "mode" and block.shape[-1] < 20))
    assert convert("resave", "--cc-by", "--output-add-levels=10", src, bad).rc == 0
    run = convert("validate", bad, "--against", src)
    assert run.rc != 0
    assert "labels/cells/3: voxel" in run.out + run.err and "labels/cells/2:" not in run.out + run.err, str(run)


def test_validate_warns_about_a_smallest_level_too_large_for_viewers(tmp_path, convert):
    src, plain, completed = tmp_path / "in.zarr", tmp_path / "plain.zarr", tmp_path / "completed.zarr"
    samples.write_image(src, [np.zeros((1, 1200, 1100), dtype="|u1")], "zyx", chunks=(1, 600, 550),
                        skip_empty_chunks=True)
    assert convert("resave", "--cc-by", src, plain).rc == 0
    run = convert("validate", plain)
    assert run.rc == 0, str(run)
    warning = next(ln for ln in (run.out + run.err).splitlines() if "smallest level" in ln)
    assert "1200x1100" in warning and "1000x1000" in warning and "resave --output-add-levels" in warning
    assert convert("resave", "--cc-by", "--output-add-levels", src, completed).rc == 0
    run = convert("validate", completed)
    assert run.rc == 0 and "smallest level" not in run.out + run.err, str(run)
    assert output_levels(completed)[0] == ["0", "1", "2", "3"]  # 600x550, 300x275, 150x138


def test_validate_warns_once_for_many_images(tmp_path, convert):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    zeros = np.zeros((1, 1, 1, 1001, 1100), dtype="|u1")
    samples.write_bioformats2raw(src, [{"data": zeros, "axes": "tczyx", "chunks": (1, 1, 1, 1001, 1100),
                                        "skip_empty_chunks": True}] * 2)
    assert convert("resave", "--cc-by", src, out).rc == 0
    run = convert("validate", out)
    warnings = [ln for ln in (run.out + run.err).splitlines() if "smallest level" in ln]
    assert len(warnings) == 1 and "(and 1 more image)" in warnings[0], warnings


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5"])
def test_a_bad_size_is_one_line(value, tmp_path, convert, image_2d):
    src, _ = image_2d
    run = convert("resave", f"--output-add-levels={value}", src, tmp_path / "out.zarr")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, f"--output-add-levels={value}", "positive integer")
    assert not (tmp_path / "out.zarr").exists()


def test_the_flag_without_a_value_before_the_paths(tmp_path, convert, image_2d):
    src, _ = image_2d
    out = tmp_path / "out.zarr"
    run = convert("resave", "--output-add-levels", src, out, "--cc-by")
    assert run.rc == 0, str(run)
    assert output_levels(out)[0] == ["0", "1"]  # 100x90 -> 50x45: small enough already
    # between INPUT and OUTPUT the flag takes OUTPUT for its value: said in one line
    run = convert("resave", src, "--output-add-levels", tmp_path / "other.zarr")
    assert run.rc == 2
    checks.assert_one_line_error(run.err, "other.zarr", "--output-add-levels=SIZE")


@pytest.mark.parametrize("other", [["--in-place"], ["--output-script"]])
def test_refused_with_in_place_and_scripts(other, tmp_path, convert, image_2d):
    src, _ = image_2d
    before = checks.tree_digest(src)
    paths = [src] if other == ["--in-place"] else [src, tmp_path / "out.zarr"]
    run = convert("resave", *other, "--output-add-levels=8", *paths)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "--output-add-levels")
    assert checks.tree_digest(src) == before


def test_api(tmp_path, image_2d):
    import ome2024_ngff_challenge as ngff

    src, _ = image_2d
    plan = ngff.resave(src, tmp_path / "out.zarr", add_levels=10)
    assert [a.path for a in plan.arrays] == ["0", "1", "2", "3", "4"]  # 50x45 -> 25x23 -> 13x12 -> 7x6
    assert plan.n_stages == 3
    report = ngff.validate(tmp_path / "out.zarr", against=src)
    assert report.valid, report.errors
    assert report.compared == 5  # the added levels recomputed from the source too
    assert not [w for w in report.warnings if "compared" in w["message"]], report.warnings
    from ome2024_ngff_challenge.errors import UserError

    with pytest.raises(UserError, match="add_levels=0: expected a positive integer"):
        ngff.resave(src, tmp_path / "other.zarr", add_levels=0)
