"""What writing OME-Zarr 0.6 instead of 0.5 costs (`resave --output-version 0.6`):
bench.py's images converted both ways, alternated, ``--repeats`` times.

    python3 bench/bench_v06.py                   # SMALL and PLATE (inputs under bench/_work, generated once)
    python3 bench/bench_v06.py --cases small --repeats 5
    python3 bench/bench_v06.py --quick           # bench.py's 1/16-size inputs

0.6 differs from 0.5 only in the groups' metadata (one more pure step on the
plan), so the target is a ratio of 1.00 within the noise. Runs this
checkout's code (``python3 -m ome2024_ngff_challenge`` with its ``src`` first
on PYTHONPATH). The first run of each is checked voxel for voxel against the
input (bench.verify) and its top group for the version written.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402

CONTENDERS = {"ours 0.5": [], "ours 0.6": ["--output-version=0.6"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="0.4 -> 0.5 and 0.4 -> 0.6 on bench.py's images (see bench/README.md).")
    ap.add_argument("--work", type=Path, default=HERE / "_work", help="work dir for inputs, outputs and logs")
    ap.add_argument("--cases", default="small,plate", help="comma-separated subset of tiny,small,plate,medium")
    ap.add_argument("--quick", action="store_true", help="bench.py's 1/16-size inputs")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    work = args.work.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    specs = bench.specs(args.quick)
    verdicts, table = {}, []
    for case in args.cases.split(","):
        spec = specs[case]
        inp, digests = bench.ensure_input(spec, work, bench.THREADS)
        bench.warm(inp)
        chunks, shards = bench.LAYOUT[spec.kind]
        options = ["--cc-by", f"--output-chunks={chunks}", f"--output-shards={shards}", f"--output-threads={bench.THREADS}"]
        runs: dict[str, list] = {name: [] for name in CONTENDERS}
        for rep in range(args.repeats):
            for name, extra in CONTENDERS.items():
                slug = f"v06-{case}-{name.replace(' ', '-')}"
                out = work / "outputs" / slug / "out.ome.zarr"
                bench.remove(out.parent)
                out.parent.mkdir(parents=True)
                os.sync()
                cmd = [sys.executable, "-m", "ome2024_ngff_challenge", "resave", *options, *extra, str(inp), str(out)]
                r = bench.run_measured(cmd, work / "logs" / f"{slug}.log")
                bench.log(f"[{rep + 1}/{args.repeats}] {case:6s} {name:9s} {r.wall:7.2f} s wall {r.cpu:7.2f} s cpu "
                          f"{r.rss_mb:6.0f} MB rss rc={r.rc}")
                runs[name].append(r)
                if rep == 0:
                    ok, msg = bench.verify(out, digests)
                    version = json.loads((out / "zarr.json").read_text())["attributes"]["ome"]["version"] \
                        if (out / "zarr.json").exists() else None
                    wanted = name.split()[1]
                    verdicts[(case, name)] = "PASS" if ok and r.rc == 0 and version == wanted else \
                        f"FAIL: {msg} (rc={r.rc}, version {version})"
                bench.remove(out.parent)
        table.append((case, runs))
    print()
    print(f"median of {args.repeats} alternated runs, {bench.THREADS} threads:")
    for case, runs in table:
        for name in CONTENDERS:
            wall = statistics.median(r.wall for r in runs[name])
            cpu = statistics.median(r.cpu for r in runs[name])
            rss = max(r.rss_mb for r in runs[name])
            print(f"  {case:6s} {name:9s} {wall:7.2f} s wall {cpu:7.2f} s cpu {rss:6.0f} MB rss  {verdicts[(case, name)]}")
        wall = statistics.median(r.wall for r in runs["ours 0.6"]) / statistics.median(r.wall for r in runs["ours 0.5"])
        cpu = statistics.median(r.cpu for r in runs["ours 0.6"]) / statistics.median(r.cpu for r in runs["ours 0.5"])
        print(f"  {case:6s} 0.6 / 0.5 = {wall:.2f} wall, {cpu:.2f} CPU (target 1.00)")
    return 0 if all(v == "PASS" for v in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
