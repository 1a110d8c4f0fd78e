"""Zero copy: the 0.5 view added in place, and unsharded byte copies whose
chunks are hard links or server-side copies, against `cp -r`.

    python3 bench/bench_zerocopy.py                 # SMALL and MEDIUM, 3 alternated repeats, and S3
    python3 bench/bench_zerocopy.py --quick         # the 1/16 inputs, 1 repeat
    python3 bench/bench_zerocopy.py --inputs bench/_work/inputs   # reuse bench.py's inputs (read only)

It measures, as child processes (wall, user+sys CPU, peak RSS via wait4, as
bench.py does):

1. `resave --in-place --cc-by` on private copies of SMALL and MEDIUM (each view
   removed with `--in-place --undo` between runs, outside the timings): the
   view reads no chunk, so MEDIUM (8x the data) should take about as long as
   SMALL (target: time ratio well under 2);
2. `resave --output-codec=keep --output-shards=none` of MEDIUM to a new
   folder on the same file system (hard links) against `cp -r` of MEDIUM
   (target: at most 0.3 x cp -r);
3. on S3 (SeaweedFS on loopback; skipped with --no-s3): MEDIUM uploaded once,
   then, in this process, the view added in place and the unsharded byte copy
   to another prefix of the same bucket (server-side copies), each with the
   bytes the converter received counted through its store (target: a small
   fraction of the dataset).

Outputs are checked once: the 0.4 view's files hashed before and after (they
must not change; after the undo the tree must be exactly the original), and
every plane of the 0.5 view and of the linked copy against the input's digests.
`--bench-log FILE` also prints the MEDIUM rows of a bench.py log (the full
conversions of ours and of the reference implementation) for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(SRC))

import bench  # noqa: E402

RECORD = ".ome2024-ngff-challenge-in-place.json"
TARGET_LINEARITY = 2.0  # MEDIUM/SMALL time of the in-place view: well under this
TARGET_LINK = 0.3  # hard-link copy / cp -r
TARGET_S3 = 0.05  # bytes received / dataset bytes


def ours() -> list[str]:
    """Our command line from this source tree (not whatever is installed)."""
    return [sys.executable, "-m", "ome2024_ngff_challenge"]


def child_env() -> None:
    """Children run this source tree as an installed package runs: with its
    bytecode cached (PYTHONDONTWRITEBYTECODE would compile every module at
    every start; a warm-up run writes the cache)."""
    os.environ["PYTHONPATH"] = str(SRC) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([*ours(), "resave", "--help"], capture_output=True, check=True)


def verify(root: Path, digests: dict) -> tuple[bool, str]:
    """bench.verify, without zarr-python's warning that a dual-format node
    holds both kinds of metadata (expected here: it reads the v3 one)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Both zarr.json")
        return bench.verify(root, digests)


def file_digests(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def reuse_input(spec: bench.Spec, inputs: Path) -> tuple[Path, dict]:
    """An input bench.py made, read only: its marker must match the spec."""
    path = inputs / f"{spec.name}.ome.zarr"
    marker = inputs / f"{spec.name}.complete.json"
    info = json.loads(marker.read_text()) if marker.is_file() else {}
    if info.get("key") != spec.key() or not path.is_dir():
        raise SystemExit(f"{path}: no complete input of bench.py for {spec.name} (run bench.py --cases {spec.name})")
    return path, info["digests"]


def median_wall(runs: list) -> float:
    return statistics.median(r.wall for r in runs)


def measure(cmd: list[str], logfile: Path, what: str) -> bench.Run:
    os.sync()  # the previous run's writes flushed outside the timings
    run = bench.run_measured(cmd, logfile)
    bench.log(f"  {what:34s} {run.wall:7.2f} s wall {run.cpu:7.2f} s cpu {run.rss_mb:6.0f} MB rss  rc={run.rc}")
    if run.rc != 0:
        raise SystemExit(f"{what} failed (exit {run.rc}): {bench.tail(logfile)}")
    return run


# ---------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------


def counting_store(inner):
    """The store with the bytes read through it counted (``received``)."""
    from ome2024_ngff_challenge.stores.traced import TracedStore

    return TracedStore(inner)


def bench_s3(inp: Path, work: Path) -> dict:
    import s3_server

    import ome2024_ngff_challenge as ngff
    from ome2024_ngff_challenge.stores.s3 import S3Store

    root = work / "s3"
    bench.remove(root)
    root.mkdir(parents=True)
    results = {}
    size = bench.dir_bytes(inp)
    bench.log("S3: starting SeaweedFS on loopback")
    with s3_server.running(root) as server:
        os.environ.update(server.env())
        t0 = time.perf_counter()
        n = server.upload(inp, s3_server.PRIVATE, "in.ome.zarr")
        bench.log(f"S3: uploaded {n} objects ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        store = counting_store(S3Store(s3_server.PRIVATE, "in.ome.zarr", endpoint=server.endpoint))
        t0 = time.perf_counter()
        ngff.resave_in_place(store, license="cc-by")
        results["in place"] = (time.perf_counter() - t0, store.received)
        source = counting_store(S3Store(s3_server.PRIVATE, "in.ome.zarr", endpoint=server.endpoint))
        out = S3Store(s3_server.PRIVATE, "linked.ome.zarr", endpoint=server.endpoint, role="output")
        t0 = time.perf_counter()
        ngff.resave(source, out, codec="keep", shards="none", license="cc-by", threads=16)
        results["byte copy, same bucket"] = (time.perf_counter() - t0, source.received)
        keys = server.keys(s3_server.PRIVATE, "linked.ome.zarr")
        bench.log(f"S3: the copy holds {len(keys)} objects")
    bench.remove(root)
    for what, (wall, received) in results.items():
        bench.log(f"  S3 {what:30s} {wall:7.2f} s wall, received {received / 1e6:8.3f} MB of {size / 1e6:.0f} MB "
                  f"({received / size:.5f})")
    return {"size": size, **{k: {"wall": w, "received": r} for k, (w, r) in results.items()}}


# ---------------------------------------------------------------------------


def bench_log_rows(path: Path) -> dict[str, float]:
    """Median wall times of the MEDIUM rows of a bench.py log."""
    rows: dict[str, list[float]] = {}
    pattern = re.compile(r"\]\s+medium \[\d+/\d+\] (.+?)\s{2,}([\d.]+) s wall")
    for line in path.read_text(errors="replace").splitlines():
        m = pattern.search(line)
        if m:
            rows.setdefault(m.group(1).strip(), []).append(float(m.group(2)))
    return {name: statistics.median(v) for name, v in rows.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Zero-copy benchmark (see the module docstring).")
    ap.add_argument("--quick", action="store_true", help="the 1/16-size inputs, 1 repeat")
    ap.add_argument("--repeats", type=int, help="alternated runs (default 3; --quick: 1)")
    ap.add_argument("--work", type=Path, default=HERE / "_work", help="work dir (default bench/_work)")
    ap.add_argument("--inputs", type=Path, help="a folder of bench.py's inputs to reuse (read only: copied)")
    ap.add_argument("--no-s3", action="store_true", help="skip the S3 part")
    ap.add_argument("--bench-log", type=Path, help="a bench.py log: print its MEDIUM rows for comparison")
    args = ap.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    work = args.work.resolve()
    zc = work / "zerocopy"
    logs = work / "logs"
    for folder in (zc, logs):
        folder.mkdir(parents=True, exist_ok=True)
    child_env()
    specs = bench.specs(args.quick)
    inputs, sizes, copies, originals = {}, {}, {}, {}
    for case in ("small", "medium"):
        spec = specs[case]
        inputs[case] = reuse_input(spec, args.inputs) if args.inputs else bench.ensure_input(spec, work, bench.THREADS)
        sizes[case] = bench.dir_bytes(inputs[case][0])
    bench.log(f"inputs: SMALL {sizes['small'] / 1e6:.0f} MB, MEDIUM {sizes['medium'] / 1e6:.0f} MB on disk; "
              f"{repeats} repeat(s); {os.cpu_count()} CPUs")

    # private copies: the in-place view is added to them, never to the inputs
    cp_runs: list = []
    for case in ("small", "medium"):
        copies[case] = zc / f"{case}.ome.zarr"
        bench.remove(copies[case])
        measure(["cp", "-r", str(inputs[case][0]), str(copies[case])], logs / f"zc-cp-{case}.log",
                f"cp -r {case} (private copy, not compared)")
        originals[case] = file_digests(copies[case])
        bench.warm(copies[case])

    in_place: dict[str, list] = {"small": [], "medium": []}
    link_runs: list = []
    linked = zc / "linked.ome.zarr"
    cp_out = zc / "cp.ome.zarr"
    checks: dict[str, str] = {}
    for rep in range(repeats):
        for case in ("small", "medium"):
            copy = copies[case]
            run = measure([*ours(), "resave", "--in-place", "--cc-by", str(copy)], logs / f"zc-inplace-{case}.log",
                          f"[{rep + 1}/{repeats}] in place {case}")
            in_place[case].append(run)
            if rep == 0:
                now = file_digests(copy)
                changed = [k for k, v in originals[case].items() if now.get(k) != v]
                ok, msg = verify(copy, inputs[case][1])
                checks[f"in place {case}"] = "PASS" if ok and not changed else f"FAIL: {msg} {changed[:3]}"
            measure([*ours(), "resave", "--in-place", "--undo", str(copy)], logs / f"zc-undo-{case}.log",
                    f"[{rep + 1}/{repeats}] undo {case} (not compared)")
            if rep == 0:
                same = file_digests(copy) == originals[case]
                checks[f"undo {case}"] = "PASS" if same else "FAIL: the tree differs from the original"
        bench.remove(linked)
        run = measure([*ours(), "resave", "--cc-by", "--output-codec=keep", "--output-shards=none",
                       f"--output-threads={bench.THREADS}", str(copies["medium"]), str(linked)],
                      logs / "zc-link-medium.log", f"[{rep + 1}/{repeats}] hard links medium")
        link_runs.append(run)
        if rep == 0:
            ok, msg = verify(linked, inputs["medium"][1])
            checks["hard links medium"] = "PASS" if ok else f"FAIL: {msg}"
        bench.remove(linked)
        bench.remove(cp_out)
        cp_runs.append(measure(["cp", "-r", str(copies["medium"]), str(cp_out)], logs / "zc-cp-medium.log",
                               f"[{rep + 1}/{repeats}] cp -r medium"))
        bench.remove(cp_out)

    s3 = None if args.no_s3 else bench_s3(copies["medium"], work)

    print()
    small, medium = median_wall(in_place["small"]), median_wall(in_place["medium"])
    link, cp = median_wall(link_runs), median_wall(cp_runs)
    size_ratio = sizes["medium"] / sizes["small"]
    print(f"Zero copy, median of {repeats} alternated runs (wall seconds; inputs warm in the page cache; "
          "our command with its bytecode cached, as installed):")
    print(f"  in place SMALL  ({sizes['small'] / 1e6:6.0f} MB)          {small:7.2f} s")
    print(f"  in place MEDIUM ({sizes['medium'] / 1e6:6.0f} MB)          {medium:7.2f} s")
    print(f"  hard links MEDIUM                      {link:7.2f} s")
    print(f"  cp -r MEDIUM                           {cp:7.2f} s")
    print("Ratios:")
    print(f"  in place MEDIUM/SMALL: time {medium / small:.2f} for size {size_ratio:.1f}x "
          f"(target < {TARGET_LINEARITY})")
    print(f"  hard links / cp -r (MEDIUM): {link / cp:.2f} (target <= {TARGET_LINK})")
    ok = medium / small < TARGET_LINEARITY and link / cp <= TARGET_LINK
    if s3 is not None:
        for what in ("in place", "byte copy, same bucket"):
            fraction = s3[what]["received"] / s3["size"]
            print(f"  S3 {what}: received {s3[what]['received'] / 1e6:.3f} MB of {s3['size'] / 1e6:.0f} MB = "
                  f"{fraction:.5f} (target <= {TARGET_S3}), {s3[what]['wall']:.2f} s")
            ok = ok and fraction <= TARGET_S3
    if args.bench_log is not None and args.bench_log.is_file():
        rows = bench_log_rows(args.bench_log)
        if rows:
            print(f"Full conversions of MEDIUM from {args.bench_log} (bench.py, median wall s): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in rows.items()))
    for what, verdict in checks.items():
        print(f"{'PASS' if verdict == 'PASS' else 'FAIL'}  {what}" + ("" if verdict == "PASS" else f": {verdict}"))
    (work / "zerocopy-results.json").write_text(json.dumps({
        "in_place": {k: [r.__dict__ for r in v] for k, v in in_place.items()},
        "links": [r.__dict__ for r in link_runs], "cp": [r.__dict__ for r in cp_runs], "s3": s3, "checks": checks,
    }, indent=1))
    bench.remove(zc)
    return 0 if ok and all(v == "PASS" for v in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
