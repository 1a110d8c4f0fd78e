#!/usr/bin/env python3
"""Collections: many datasets in one run (`resave --input-list`) against a
shell loop of the same command line, one dataset per call.

    python3 bench/bench_collection.py [--tiny 500] [--mixed-tiny 200] [--medium PATH] [--work DIR]

Part 1: TINY images (1x1x1x256x256 uint16) converted by one collection run,
then by a shell loop of `ome2024-ngff-challenge resave` over the same inputs;
target: the collection takes at most 0.3x the loop's time.

Part 2: the MEDIUM image of bench/bench.py (1x2x32x4096x4096, 2.8 GB; default
bench/_work/inputs/medium.ome.zarr, skipped if missing) followed by 200 TINY
ones in one collection; target: both cores busy over the whole run, CPU time /
wall time >= 1.8 (the tiny datasets fill the threads while MEDIUM's last shards
are written, and no core waits at a dataset's boundary).

Each run is one process timed from outside: wall time, and CPU time (user +
sys) of it and its children from getrusage. Outputs go under WORK (default
bench/_work/collection, which git ignores) and are deleted after each run.
The load average is printed, since other processes on the machine take cores
from the runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOL = [sys.executable, "-m", "ome2024_ngff_challenge", "resave"]
OPTIONS = ["--cc-by", "--log", "error"]


def cpu_of_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def working_threads(pid: int) -> int:
    """Threads of ``pid`` running, waiting for a core, or in disk I/O (state R or D)."""
    n = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            n += (task / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("R", "D")
        except (OSError, IndexError):
            pass
    return n


def timed(argv: list[str], *, sample: bool = False) -> tuple[float, float, list[int]]:
    """(wall s, CPU s, working threads sampled every 0.1 s when ``sample``).

    The samples show what the run asks for whatever other processes on the
    machine take: a thread that waits for a core is still counted."""
    cpu0, t0 = cpu_of_children(), time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    working = []
    while proc.poll() is None:
        time.sleep(0.1 if sample else 0.05)
        if sample:
            with contextlib.suppress(OSError):
                working.append(working_threads(proc.pid))
    err = proc.stderr.read()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv[:6])} ...\n{err[-2000:]}")
    return wall, cpu_of_children() - cpu0, working


def tiny_inputs(folder: Path, n: int) -> list[Path]:
    """``n`` copies of one TINY image (written once with the package's sample writer)."""
    from numcodecs import Blosc

    from ome2024_ngff_challenge.testing import samples

    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "tiny000.ome.zarr"
    if not (first / "0" / ".zarray").exists():
        shutil.rmtree(first, ignore_errors=True)
        data = samples.pattern((1, 1, 1, 256, 256), "<u2", 0)
        samples.write_image(first, data, "tczyx", chunks=(1, 1, 1, 256, 256),
                            compressor=Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE))
    paths = [folder / f"tiny{i:03}.ome.zarr" for i in range(n)]
    for p in paths[1:]:
        if not (p / "0" / ".zarray").exists():
            shutil.rmtree(p, ignore_errors=True)
            shutil.copytree(first, p)
    return paths


def write_list(path: Path, inputs: list[Path]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "output"])
        w.writerows([[str(p), f"{k:03}-{p.name}"] for k, p in enumerate(inputs)])
    return path


def check_catalog(root: Path, n: int) -> None:
    with open(root / "catalog.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    bad = [r for r in rows if r["status"] != "done"]
    if len(rows) != n or bad:
        raise SystemExit(f"{root}: {len(rows)} rows for {n} datasets, not done: {bad[:3]}")


def warm(paths: list[Path]) -> None:
    """Read every input once, so that every run finds it in the page cache."""
    for p in paths:
        for f in p.rglob("*"):
            if f.is_file():
                f.read_bytes()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def part1(work: Path, n: int) -> None:
    print(f"\n== part 1: {n} TINY images (1x1x1x256x256 uint16), collection against a shell loop")
    inputs = tiny_inputs(work / "inputs", n)
    warm(inputs)
    listing = write_list(work / "tiny.csv", inputs)
    out = work / "out-collection"
    shutil.rmtree(out, ignore_errors=True)
    print(f"load average before: {load()}")
    wall_c, cpu_c, _ = timed([*TOOL, *OPTIONS, f"--input-list={listing}", str(out)])
    check_catalog(out, n)
    shutil.rmtree(out)
    print(f"collection:  {wall_c:8.1f} s wall  {cpu_c:8.1f} s CPU   {n / wall_c:6.1f} datasets/s")

    loop_dir = work / "out-loop"
    shutil.rmtree(loop_dir, ignore_errors=True)
    loop_dir.mkdir()
    script = work / "loop.sh"
    command = " ".join([*TOOL, *OPTIONS])
    script.write_text("set -e\n" + "".join(f'{command} "{p}" "{loop_dir}/{k:03}-{p.name}"\n'
                                             for k, p in enumerate(inputs)))
    wall_l, cpu_l, _ = timed(["sh", str(script)])
    missing = [p for k, p in enumerate(inputs) if not (loop_dir / f"{k:03}-{p.name}" / "zarr.json").exists()]
    if missing:
        raise SystemExit(f"shell loop: {len(missing)} outputs missing")
    shutil.rmtree(loop_dir)
    print(f"shell loop:  {wall_l:8.1f} s wall  {cpu_l:8.1f} s CPU   {n / wall_l:6.1f} datasets/s")
    print(f"load average after: {load()}")
    ratio = wall_c / wall_l
    print(f"collection / loop, wall time: {ratio:.3f} (target <= 0.3: {'met' if ratio <= 0.3 else 'NOT met'}); "
          f"CPU time: {cpu_c / cpu_l:.3f}")


def part2(work: Path, medium: Path, n: int, reference: bool) -> None:
    print(f"\n== part 2: MEDIUM then {n} TINY images in one collection: are both cores busy?")
    if not (medium / ".zattrs").exists():
        print(f"skipped: {medium} does not exist (make it with: python3 bench/bench.py --cases medium --repeats 1)")
        return
    inputs = [medium, *tiny_inputs(work / "inputs", n)]
    warm(inputs)
    cpus = os.cpu_count() or 1
    runs = {}
    if reference:
        out = work / "out-medium"
        shutil.rmtree(out, ignore_errors=True)
        print(f"load average before MEDIUM alone: {load()}")
        runs["MEDIUM alone (resave)"] = timed([*TOOL, *OPTIONS, str(medium), str(out)], sample=True)
        shutil.rmtree(out)
    listing = write_list(work / "mixed.csv", inputs)
    out = work / "out-mixed"
    shutil.rmtree(out, ignore_errors=True)
    print(f"load average before the collection: {load()}")
    runs[f"MEDIUM + {n} TINY (collection)"] = timed([*TOOL, *OPTIONS, f"--input-list={listing}", str(out)],
                                                   sample=True)
    check_catalog(out, n + 1)
    with open(out / "catalog.csv", newline="") as f:
        medium_row = next(csv.DictReader(f))
    shutil.rmtree(out)
    print(f"load average after: {load()}")
    for name, (wall, cpu, working) in runs.items():
        busy = sum(1 for w in working if w >= cpus) / len(working) if working else 0
        print(f"{name}: {wall:.1f} s wall, {cpu:.1f} s CPU, CPU/wall {cpu / wall:.2f}; threads working "
              f"(running, waiting for a core or in disk I/O): mean {sum(working) / max(1, len(working)):.2f}, "
              f">= {cpus} in {100 * busy:.0f} % of the samples")
    print(f"(in the collection, MEDIUM took {float(medium_row['elapsed']):.1f} s, "
          f"{int(medium_row['bytes_written']) / 1e9:.2f} GB written)")
    wall, cpu, _ = runs[f"MEDIUM + {n} TINY (collection)"]
    ratio = cpu / wall
    print(f"CPU time / wall time of the collection: {ratio:.2f} on {cpus} CPUs (target >= 1.8: "
          f"{'met' if ratio >= 1.8 else 'NOT met'}; load average {load()}: other processes take cores too)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", type=int, default=500, help="TINY images of part 1 (default 500)")
    ap.add_argument("--mixed-tiny", type=int, default=200, help="TINY images after MEDIUM in part 2 (default 200)")
    ap.add_argument("--medium", type=Path, default=HERE / "_work" / "inputs" / "medium.ome.zarr")
    ap.add_argument("--work", type=Path, default=HERE / "_work" / "collection")
    ap.add_argument("--parts", default="1,2", help="which parts to run (default 1,2)")
    ap.add_argument("--no-reference", action="store_true", help="part 2 without MEDIUM alone (plain resave)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    print(f"{os.cpu_count()} CPUs; {' '.join(TOOL)}")
    if "1" in parts:
        part1(args.work, args.tiny)
    if "2" in parts:
        part2(args.work, args.medium, args.mixed_tiny, not args.no_reference)


if __name__ == "__main__":
    main()
