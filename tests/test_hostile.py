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
