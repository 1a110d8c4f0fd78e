"""What completing the pyramid costs: SMALL (1x2x4x4096x4096 uint16, 3 levels, the
smallest 1024x1024) converted with and without `--output-add-levels` (two
levels added: 512x512 and 256x256, computed from the smallest level).

    python3 bench/bench_levels.py                    # inputs under bench/_work (generated once)
    python3 bench/bench_levels.py --inputs /work/main/bench/_work/inputs   # reuse inputs, read-only

Runs this checkout's code (``python3 -m ome2024_ngff_challenge`` with its
``src`` first on PYTHONPATH), alternating the two, ``--repeats`` times (default
3), and prints the medians and the ratio (target: at most 1.2). The first run of
each is checked: the source's levels plane by plane against the input, the
added levels against a numpy computation from the level above.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402

OPTIONS = ["--cc-by", "--output-chunks=1,1,1,1024,1024", "--output-shards=1,1,1,4096,4096",
           f"--output-threads={bench.THREADS}"]
CONTENDERS = {"ours": [], "ours add-levels": ["--output-add-levels"]}


def mean2x2(level: np.ndarray) -> np.ndarray:
    """The reference: the mean of each 2x2 block in y and x (even sizes here),
    rounded half to even."""
    *lead, ny, nx = level.shape
    blocks = level.astype(np.float64).reshape(*lead, ny // 2, 2, nx // 2, 2)
    return np.rint(blocks.mean(axis=(-3, -1))).astype(level.dtype)


def check_added(out: Path) -> str:
    import zarr

    datasets = json.loads((out / "zarr.json").read_text())["attributes"]["ome"]["multiscales"][0]["datasets"]
    paths = [d["path"] for d in datasets]
    if paths != ["0", "1", "2", "3", "4"]:
        return f"FAIL: levels {paths}, expected 0-4"
    above = zarr.open_array(store=str(out / "2"), mode="r")[...]
    for path, size in (("3", 512), ("4", 256)):
        got = zarr.open_array(store=str(out / path), mode="r")[...]
        if got.shape[-2:] != (size, size) or not np.array_equal(got, mean2x2(above)):
            return f"FAIL: level {path} differs from the mean of 2x2 blocks of the level above"
        above = got
    return "PASS"


def input_of(inputs: Path | None, work: Path) -> tuple[Path, dict]:
    spec = bench.specs(False)["small"]
    if inputs is not None:
        marker = inputs / f"{spec.name}.complete.json"
        info = json.loads(marker.read_text()) if marker.exists() else {}
        if info.get("key") == spec.key():
            bench.log(f"input: {inputs / (spec.name + '.ome.zarr')} (read only)")
            return inputs / f"{spec.name}.ome.zarr", info["digests"]
        bench.log(f"input: none usable in {inputs}; generating one under {work}")
    return bench.ensure_input(spec, work, bench.THREADS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="SMALL with and without --output-add-levels (see bench/README.md).")
    ap.add_argument("--work", type=Path, default=HERE / "_work", help="work dir for outputs and logs (and inputs)")
    ap.add_argument("--inputs", type=Path, help="a folder holding small.ome.zarr as bench.py generates it (read only)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    work = args.work.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    inp, digests = input_of(args.inputs, work)
    bench.warm(inp)
    runs: dict[str, list] = {name: [] for name in CONTENDERS}
    verdicts: dict[str, str] = {}
    for rep in range(args.repeats):
        for name, extra in CONTENDERS.items():
            slug = name.replace(" ", "-")
            out = work / "outputs" / f"levels-{slug}" / "out.ome.zarr"
            bench.remove(out.parent)
            out.parent.mkdir(parents=True)
            os.sync()
            cmd = [sys.executable, "-m", "ome2024_ngff_challenge", "resave", *OPTIONS, *extra, str(inp), str(out)]
            r = bench.run_measured(cmd, work / "logs" / f"levels-{slug}.log")
            bench.log(f"[{rep + 1}/{args.repeats}] {name:16s} {r.wall:7.2f} s wall {r.cpu:7.2f} s cpu "
                      f"{r.rss_mb:6.0f} MB rss rc={r.rc}")
            runs[name].append(r)
            if rep == 0:
                ok, msg = bench.verify(out, digests)
                verdict = "PASS" if ok and r.rc == 0 else f"FAIL: {msg} (rc={r.rc})"
                if extra and verdict == "PASS":
                    verdict = check_added(out)
                verdicts[name] = verdict
            bench.remove(out.parent)
    print()
    print(f"SMALL (1x2x4x4096x4096 uint16, 3 levels), median of {args.repeats} alternated runs, "
          f"{bench.THREADS} threads:")
    for name in CONTENDERS:
        wall = statistics.median(r.wall for r in runs[name])
        cpu = statistics.median(r.cpu for r in runs[name])
        rss = max(r.rss_mb for r in runs[name])
        print(f"  {name:16s} {wall:7.2f} s wall {cpu:7.2f} s cpu {rss:6.0f} MB rss  {verdicts[name]}")
    ratio = statistics.median(r.wall for r in runs["ours add-levels"]) / statistics.median(r.wall for r in runs["ours"])
    cpu_ratio = statistics.median(r.cpu for r in runs["ours add-levels"]) / statistics.median(r.cpu for r in runs["ours"])
    print(f"  add-levels / plain = {ratio:.2f} wall (target <= 1.2), {cpu_ratio:.2f} CPU")
    return 0 if all(v == "PASS" for v in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
