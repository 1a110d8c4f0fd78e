"""`--output-job-script`: lines that each convert a range of one array's shards,
run in any order (here: shuffled, one repeated), give the same output as one
local run; the metadata appears only when the last line is done."""

from __future__ import annotations

import random
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import checks  # noqa: E402
from test_resume import comparable, files  # noqa: E402

from ome2024_ngff_challenge.testing import samples  # noqa: E402

OPTIONS = ["--cc-by", "--rocrate-organism=NCBI:txid9606", "--output-chunks=1,32,32", "--output-shards=1,64,64"]


def run_line(line: str) -> subprocess.CompletedProcess:
    argv = shlex.split(line)
    assert argv[:2] == ["ome2024-ngff-challenge", "resave"]
    return subprocess.run([sys.executable, "-m", "ome2024_ngff_challenge", *argv[1:]],
                          capture_output=True, text=True, timeout=120)


def test_job_lines_in_any_order_equal_one_local_run(tmp_path, convert):
    src = tmp_path / "in.zarr"
    samples.write_image(src, samples.pattern((3, 150, 170), "<u2", 9), "zyx", levels=2, chunks=(1, 32, 32))
    samples.write_labels(src, {"cells": samples.label_blobs((3, 150, 170), 5, "<u4", 3)}, "zyx", levels=2,
                         chunks=(1, 32, 32))
    local = tmp_path / "local" / "out.zarr"
    jobs_out = tmp_path / "jobs" / "out.zarr"
    assert convert("resave", *OPTIONS, src, local).rc == 0

    run = convert("resave", *OPTIONS, "--output-job-script", "--job-shards=2", src, jobs_out)
    assert run.rc == 0, str(run)
    script = jobs_out / ".jobs" / "jobs.sh"
    lines = [ln for ln in script.read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(lines) > 4
    assert all("--job=" in ln and str(src.resolve()) in ln and str(jobs_out.resolve()) in ln for ln in lines)

    order = lines[:]
    random.Random(7).shuffle(order)
    order.insert(2, order[0])  # a line run twice does no harm
    for k, line in enumerate(order):
        assert not (jobs_out / "zarr.json").exists(), "metadata written before every line ran"
        done = run_line(line)
        assert done.returncode == 0, done.stderr
    assert (jobs_out / "zarr.json").is_file()
    assert not (jobs_out / ".jobs").exists()

    a, b = files(local), files(jobs_out)
    assert set(a) == set(b), set(a) ^ set(b)
    for rel in a:
        assert comparable(rel, a[rel]) == comparable(rel, b[rel]), rel
    checks.check_conversion(src, jobs_out)
    stats = checks.v3_meta(jobs_out, "0")["attributes"]["_ome2024_ngff_challenge_stats"]
    assert stats["read"] > 0 and stats["written"] > 0
    # a line run again after completion has nothing to do
    assert run_line(lines[0]).returncode == 0


def test_job_without_prepared_output_is_refused(tmp_path, convert):
    src = tmp_path / "in.zarr"
    samples.write_image(src, samples.pattern((40, 40), "|u1", 2), "yx", chunks=(16, 16))
    run = convert("resave", *OPTIONS, "--job=0:0:1", src, tmp_path / "out.zarr")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "--output-job-script")
    run = convert("resave", *OPTIONS, "--output-job-script", src, tmp_path / "out.zarr")
    assert run.rc == 0
    run = convert("resave", *OPTIONS, "--job=9:0:1", src, tmp_path / "out.zarr")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "'9' is not an array")
