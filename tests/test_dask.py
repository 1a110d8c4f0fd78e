"""Shard tasks on a real Dask cluster (scheduler and two workers on loopback):
the output equals a local run's, and losing a worker mid-run loses nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import checks  # noqa: E402
from dask_cluster import Cluster  # noqa: E402
from test_resume import comparable, files  # noqa: E402

from ome2024_ngff_challenge.testing import samples  # noqa: E402

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        address = c.start_scheduler()
        c.start_worker("w1")
        c.start_worker("w2")
        c.wait_for_workers(address, 2)
        yield c, address
    finally:
        c.stop()


def same_output(a: Path, b: Path) -> None:
    fa, fb = files(a), files(b)
    assert set(fa) == set(fb), set(fa) ^ set(fb)
    for rel in fa:
        assert comparable(rel, fa[rel]) == comparable(rel, fb[rel]), rel


def test_dask_output_equals_local(cluster, tmp_path, convert):
    _, address = cluster
    src = tmp_path / "plate.zarr"
    expected = samples.write_plate(src, ["A", "B"], ["1", "2"], ("A/1", "B/2"), 2, image_shape=(2, 64, 80),
                                   levels=2, chunks=(1, 32, 32), labels_in=["A/1/0"])
    local, remote = tmp_path / "local" / "out.zarr", tmp_path / "dask" / "out.zarr"
    assert convert("resave", "--cc0", src, local).rc == 0
    run = convert("resave", "--cc0", f"--dask-scheduler={address}", src, remote)
    assert run.rc == 0, str(run)
    same_output(local, remote)
    checks.check_conversion(src, remote, expected=expected)


def test_dask_workers_link_the_chunks(cluster, tmp_path, convert):
    """Unsharded byte copy on the cluster: the workers hard-link the chunks
    (the local store travels to them as its folder only)."""
    import os

    _, address = cluster
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = samples.write_image(src, samples.pattern((3, 64, 80), "<u2", 2), "zyx", levels=2, chunks=(1, 32, 32))
    run = convert("resave", "--cc0", "--output-codec=keep", "--output-shards=none", f"--dask-scheduler={address}",
                  src, out)
    assert run.rc == 0, str(run)
    assert os.path.samefile(out / "0" / "c" / "2" / "1" / "2", src / "0" / "2" / "1" / "2")
    checks.check_conversion(src, out, expected=expected, sharded=False)


def test_worker_lost_mid_run(cluster, tmp_path, convert):
    c, address = cluster
    victim = c.start_worker("victim")
    c.wait_for_workers(address, 3)
    src = tmp_path / "in.zarr"
    rng = np.random.default_rng(1)
    data = (rng.normal(500, 100, size=(24, 512, 512))).astype("<u2")
    expected = samples.write_image(src, data, "zyx", chunks=(1, 128, 128))
    options = ["--cc0", "--output-codec=blosc-zstd-9", "--output-chunks=1,64,64", "--output-shards=1,128,128"]
    local, remote = tmp_path / "local" / "out.zarr", tmp_path / "dask" / "out.zarr"
    assert convert("resave", *options, src, local).rc == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "ome2024_ngff_challenge", "resave", *options, f"--dask-scheduler={address}",
         str(src), str(remote)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(2.0)
    victim.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    same_output(local, remote)
    checks.check_conversion(src, remote, expected=expected)


def test_unreachable_scheduler(tmp_path, convert):
    src = tmp_path / "in.zarr"
    samples.write_image(src, samples.pattern((20, 20), "|u1", 1), "yx", chunks=(10, 10))
    run = convert("resave", "--cc0", "--dask-scheduler=tcp://127.0.0.1:9", src, tmp_path / "out.zarr")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, "--dask-scheduler=tcp://127.0.0.1:9")
