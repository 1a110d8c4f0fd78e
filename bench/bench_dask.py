#!/usr/bin/env python3
"""MEDIUM on a Dask cluster (1 worker with 2 threads; 2 workers with 1 thread)
against the local thread pool (2 threads), on this machine over loopback.

    python3 bench/bench_dask.py [--input bench/_work/inputs/medium.ome.zarr] [--repeats 3]

The input is the MEDIUM image of bench/bench.py (run `python3 bench/bench.py --cases
medium --repeats 1` first if it is missing). On 2 cores this shows the overhead of
going through Dask, not a speed-up: the target is under 15 %.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from dask_cluster import Cluster  # noqa: E402

OPTIONS = ["--cc-by", "--output-chunks=1,1,1,1024,1024", "--output-shards=1,1,1,4096,4096"]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", type=Path, default=HERE / "_work" / "inputs" / "medium.ome.zarr")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not args.input.is_dir():
        raise SystemExit(f"{args.input}: missing; run: python3 bench/bench.py --cases medium --repeats 1")
    work = Path(tempfile.mkdtemp(prefix="bench-dask-", dir=HERE / "_work" if (HERE / "_work").is_dir() else None))
    out = work / "out.zarr"
    tool = [sys.executable, "-m", "ome2024_ngff_challenge", "resave", *OPTIONS]
    clusters = {}
    try:
        for name, workers, threads in (("dask 1 worker x 2 threads", 1, 2), ("dask 2 workers x 1 thread", 2, 1)):
            c = Cluster(work / name.replace(" ", "_"))
            c.folder.mkdir()
            address = c.start_scheduler()
            for k in range(workers):
                c._spawn(f"w{k}", ["dask", "worker", "--scheduler-file", str(c.file), "--nthreads", str(threads),
                                   "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(c.folder / f"w{k}")])
            c.wait_for_workers(address, workers)
            clusters[name] = (c, address)
        runs = {"local, 2 threads": [*tool, "--output-threads=2"]}
        for name, (_, address) in clusters.items():
            runs[name] = [*tool, f"--dask-scheduler={address}"]
        times: dict[str, list[float]] = {name: [] for name in runs}
        for r in range(args.repeats):
            for name, argv in runs.items():  # alternated, so every contender sees the same cache state
                shutil.rmtree(out, ignore_errors=True)
                subprocess.run(["sync"], check=False)
                times[name].append(timed([*argv, str(args.input), str(out)]))
                print(f"[{r + 1}/{args.repeats}] {name:30s} {times[name][-1]:7.2f} s", flush=True)
        base = statistics.median(times["local, 2 threads"])
        print(f"\n{'contender':30s} {'median s':>9s} {'vs local':>9s}")
        for name, t in times.items():
            m = statistics.median(t)
            print(f"{name:30s} {m:9.2f} {m / base:9.2f}")
    finally:
        for c, _ in clusters.values():
            c.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
