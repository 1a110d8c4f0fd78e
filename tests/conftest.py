"""Fixtures shared by the end-to-end tests.

Every input is built in ``tmp_path`` with ``ome2024_ngff_challenge.samples``;
the converter runs in-process through ``cli.main(argv)`` (``convert``) or, for a
few tests, as the installed console script (``run_script``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can `import checks`

from ome2024_ngff_challenge.testing import samples  # noqa: E402

SCRIPT = "ome2024-ngff-challenge"


@dataclass
class Run:
    """Result of one converter run."""

    rc: int
    out: str
    err: str
    argv: list[str]

    def __str__(self) -> str:
        return f"argv={self.argv}\nrc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def convert(capsys):
    """``convert(*argv) -> Run``: call ``cli.main`` in-process and capture output.

    An argparse ``SystemExit`` (usage errors) is turned into its exit code so
    a test can assert on it like on any other failure.
    """

    def _run(*argv: object) -> Run:
        from ome2024_ngff_challenge.commands.main import main

        args = [str(a) for a in argv]
        capsys.readouterr()
        try:
            rc = main(args)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        cap = capsys.readouterr()
        assert isinstance(rc, int), f"main() returned {rc!r}, not an int"
        return Run(rc, cap.out, cap.err, args)

    return _run


@pytest.fixture
def run_script():
    """``run_script(*argv) -> Run``: the installed console script in a subprocess."""
    exe = shutil.which(SCRIPT)
    if exe is None:
        candidate = Path(sys.executable).parent / SCRIPT
        exe = str(candidate) if candidate.exists() else None
    assert exe is not None, f"console script {SCRIPT!r} is not installed (pip install -e .)"

    def _run(*argv: object, timeout: float = 120) -> Run:
        args = [str(a) for a in argv]
        env = dict(os.environ)
        env.pop("PYTHONWARNINGS", None)
        proc = subprocess.run(
            [exe, *args], capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
        )
        return Run(proc.returncode, proc.stdout, proc.stderr, args)

    return _run


# ---------------------------------------------------------------------------
# inputs used by several test files
# ---------------------------------------------------------------------------


def build_image_5d(path: Path) -> dict[str, np.ndarray]:
    """5-D tczyx uint16, 3 levels; level 0 chunks do not divide the shape,
    levels 1 and 2 have one chunk that is their whole odd y/x shape."""
    data = samples.pattern((1, 2, 3, 182, 282), "<u2", 2)
    levels = samples.pyramid(data, 3)  # y/x: 182x282, 91x141, 46x71
    return samples.write_image(
        path,
        levels,
        "tczyx",
        chunks=[(1, 1, 1, 128, 128), (1, 1, 1, 91, 141), (1, 1, 1, 46, 71)],
        scales=[[1, 1, 0.5, 0.1 * 2**i, 0.1 * 2**i] for i in range(3)],
        name="5d",
    )


def build_image_2d(path: Path, shape=(100, 90), levels: int = 2, seed: int = 1) -> dict[str, np.ndarray]:
    return samples.write_image(path, samples.pattern(shape, "|u1", seed), "yx", levels=levels, chunks=(32, 32))


def build_image_with_labels(path: Path) -> dict[str, np.ndarray]:
    data = samples.pattern((3, 60, 70), "<u2", 18)
    expected = samples.write_image(path, data, "zyx", levels=2, chunks=(2, 32, 32), name="with labels")
    cells = samples.label_blobs((3, 60, 70), 4, "<i4", 19)
    nuclei = samples.label_blobs((3, 60, 70), 6, "<u4", 20)
    expected.update(samples.write_labels(path, {"cells": cells, "nuclei": nuclei}, "zyx", levels=2, chunks=(2, 32, 32)))
    return expected


PLATE_WELLS = ("A/1", "A/3", "B/2")


def build_plate(path: Path) -> dict[str, np.ndarray]:
    """Sparse 2x3 plate: wells A/1, A/3, B/2; two fields; A/1/0 has labels."""
    return samples.write_plate(
        path, ["A", "B"], ["1", "2", "3"], PLATE_WELLS, 2, image_shape=(2, 40, 48), levels=2,
        chunks=(1, 32, 32), labels_in=["A/1/0"],
    )


def build_bioformats2raw(path: Path) -> dict[str, np.ndarray]:
    return samples.write_bioformats2raw(path, series=2)


@pytest.fixture
def image_5d(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    src = tmp_path / "in_5d.zarr"
    return src, build_image_5d(src)


@pytest.fixture
def image_2d(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    src = tmp_path / "in_2d.zarr"
    return src, build_image_2d(src)


@pytest.fixture
def image_with_labels(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    src = tmp_path / "in_labels.zarr"
    return src, build_image_with_labels(src)


@pytest.fixture
def plate(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    src = tmp_path / "in_plate.zarr"
    return src, build_plate(src)


@pytest.fixture
def bioformats2raw(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    src = tmp_path / "in_bf2raw.zarr"
    return src, build_bioformats2raw(src)
