"""Killed runs resume: re-running the same command finishes the work, keeps the
shards that were complete, and gives the same bytes as an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import checks  # noqa: E402

from ome2024_ngff_challenge.testing import samples  # noqa: E402

STATS = "_ome2024_ngff_challenge_stats"
MARK = ".ome2024-ngff-challenge-incomplete.json"
OPTIONS = ["--cc-by", "--output-threads=1", "--output-codec=blosc-zstd-9",
           "--output-chunks=1,64,64", "--output-shards=1,256,256"]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict]:
    src = tmp_path_factory.mktemp("resume") / "in.zarr"
    rng = np.random.default_rng(0)
    data = (rng.normal(1000, 200, size=(12, 768, 768)) + np.arange(768)).astype("<u2")
    expected = samples.write_image(src, data, "zyx", levels=2, chunks=(1, 128, 128))
    return src, expected


def run_cli(*argv) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ome2024_ngff_challenge", *map(str, argv)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )


def finish(*argv) -> subprocess.CompletedProcess:
    proc = run_cli(*argv)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def comparable(rel: str, path: Path) -> bytes | object:
    """File content with what differs between runs by design (times, byte counts of
    this run) taken out."""
    if rel.endswith("zarr.json"):
        meta = json.loads(path.read_text())
        meta.get("attributes", {}).pop(STATS, None)
        return meta
    if rel == "ro-crate-metadata.json":
        crate = json.loads(path.read_text())
        for entity in crate["@graph"]:
            entity.pop("datePublished", None)
        return crate
    return path.read_bytes()


@pytest.fixture(scope="module")
def reference(source, tmp_path_factory) -> Path:
    src, _ = source
    ref = tmp_path_factory.mktemp("reference") / "out.zarr"
    done = finish("resave", *OPTIONS, src, ref)
    assert done.returncode == 0, done.stderr
    return ref


def shard_files(out: Path) -> list[Path]:
    return [p for rel, p in files(out).items() if "/c/" in rel and ".partial-" not in rel] if out.exists() else []


def kill_when(argv, out: Path, shards: int) -> None:
    """Start the conversion and kill -9 it as soon as ``shards`` shards are
    complete in ``out``: half way by construction, whatever the machine's speed
    (the run writes 156 shards one at a time)."""
    proc = run_cli(*argv)
    deadline = time.monotonic() + 120
    while len(shard_files(out)) < shards:
        assert proc.poll() is None, f"the run ended before writing {shards} shards: {proc.communicate()}"
        assert time.monotonic() < deadline, "no progress within 120 s"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (out / "zarr.json").exists(), "the run finished before it was killed"
    assert (out / MARK).is_file()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_killed_run_resumes_to_the_same_bytes(seed, source, reference, tmp_path):
    src, expected = source
    out = tmp_path / "out.zarr"
    argv = ["resave", *OPTIONS, src, out]
    kill_when(argv, out, shards={1: 1, 2: 20, 3: 70}[seed])
    checks.assert_no_complete_output(out)

    before = {rel: (p.stat().st_ino, p.stat().st_mtime_ns)
              for rel, p in files(out).items() if "/c/" in rel and ".partial-" not in rel}
    done = finish(*argv)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr

    after, ref = files(out), files(reference)
    assert set(after) == set(ref), set(after) ^ set(ref)
    for rel in ref:
        assert comparable(rel, after[rel]) == comparable(rel, ref[rel]), rel
    # the shards that were complete before were kept as they were, not rewritten
    for rel, stamp in before.items():
        p = after[rel]
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp, f"{rel} was rewritten"
    checks.check_conversion(src, out, expected=expected)


def test_resume_refuses_other_parameters(source, tmp_path):
    src, _ = source
    out = tmp_path / "out.zarr"
    kill_when(["resave", *OPTIONS, src, out], out, shards=5)
    other = [o if not o.startswith("--output-shards") else "--output-shards=1,128,128" for o in OPTIONS]
    done = finish("resave", *other, src, out)
    assert done.returncode != 0
    line = checks.assert_one_line_error(done.stderr, str(out), "other parameters")
    assert "--output-overwrite" in line
    done = finish("resave", *other, "--output-overwrite", src, out)
    assert done.returncode == 0, done.stderr


def test_killed_while_writing_its_marker_runs_again(source, reference, tmp_path):
    """A run killed during its first write leaves only the marker's temporary
    file: the output is ours and empty, so a second run starts it afresh
    (the kill point reproduced exactly rather than raced)."""
    src, _ = source
    out = tmp_path / "out.zarr"
    out.mkdir()
    (out / f"{MARK}.partial-4242-0badc0de").write_bytes(b'{"tool": "ome2024-ngff')
    done = finish("resave", *OPTIONS, src, out)
    assert done.returncode == 0, done.stderr
    after, ref = files(out), files(reference)
    assert set(after) == set(ref), set(after) ^ set(ref)  # the partial file gone, nothing missing
    for rel in ref:
        assert comparable(rel, after[rel]) == comparable(rel, ref[rel]), rel


def test_a_damaged_shard_is_redone(source, reference, tmp_path):
    """A shard whose index does not check out (here: cut short) is written again."""
    src, expected = source
    out = tmp_path / "out.zarr"
    argv = ["resave", *OPTIONS, src, out]
    kill_when(argv, out, shards=10)
    damaged = shard_files(out)[0]
    damaged.write_bytes(damaged.read_bytes()[:-100])
    done = finish(*argv)
    assert done.returncode == 0, done.stderr
    rel = damaged.relative_to(out).as_posix()
    assert damaged.read_bytes() == (reference / rel).read_bytes()
    checks.check_conversion(src, out, expected=expected)


def test_a_damaged_unsharded_chunk_is_redone(source, tmp_path):
    """Unsharded output: a chunk a crash left empty or short (a rename that
    reached the disk before its data) is found out and written again, as a
    damaged shard is; a present chunk is not trusted merely for existing."""
    src, expected = source
    options = [o if not o.startswith("--output-shards") else "--output-shards=none" for o in OPTIONS]
    out = tmp_path / "out.zarr"
    argv = ["resave", *options, src, out]
    kill_when(argv, out, shards=30)
    chunks = shard_files(out)
    chunks[0].write_bytes(b"")
    chunks[1].write_bytes(chunks[1].read_bytes()[:-7])
    done = finish(*argv)
    assert done.returncode == 0, done.stderr
    checks.check_conversion(src, out, expected=expected)
