"""S3 input against local input: `resave` of the MEDIUM image from a bucket of a
local S3 server (SeaweedFS on loopback) and from local disk, to local disk.

    python3 bench/bench_s3.py                  # MEDIUM, 3 alternated repeats (a few minutes)
    python3 bench/bench_s3.py --quick          # the 1/16 MEDIUM, 1 repeat (under a minute)

It reuses bench.py's inputs (generated under bench/_work/inputs when missing),
its measurement (wall, user+sys CPU and peak RSS of the command via wait4) and
its check (every plane of every output array against the input's digests).
The S3 server is started by tests/s3_server.py in WORK/s3 (deleted at the
end); the input is uploaded once, outside the timings. Both contenders run
with bench.py's options for ours (chunks 1,1,1,1024,1024, shards
1,1,1,4096,4096, 2 threads); the S3 one reads with signed requests.

The report: one row per contender (medians), the CPU the S3 server used during
the S3 runs, and the ratio S3/local of the median wall times (the target is at
most 1.5 on loopback).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import bench  # noqa: E402
import s3_server  # noqa: E402

TARGET = 1.5


def process_cpu(pid: int) -> float:
    """user+sys CPU seconds of a running process and its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(v) for v in fields[11:15]) / ticks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="S3 -> local against local -> local (see the module docstring).")
    ap.add_argument("--quick", action="store_true", help="the 1/16-size MEDIUM, 1 repeat")
    ap.add_argument("--repeats", type=int, help="alternated runs per contender (default 3; --quick: 1)")
    ap.add_argument("--threads", type=int, default=bench.THREADS, help=f"--output-threads (default {bench.THREADS})")
    ap.add_argument("--work", type=Path, default=HERE / "_work", help="work dir (default bench/_work)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    work = args.work.resolve()
    spec = bench.specs(args.quick)["medium"]
    inp, digests = bench.ensure_input(spec, work, bench.THREADS)
    size = bench.uncompressed_bytes(digests)
    ours = bench.ours_exe()
    chunks, shards = bench.LAYOUT["image"]
    common = [ours, "resave", "--cc-by", f"--output-chunks={chunks}", f"--output-shards={shards}",
              f"--output-threads={args.threads}"]
    outdir = work / "outputs"
    outdir.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    s3_root = work / "s3"
    bench.remove(s3_root)
    s3_root.mkdir(parents=True)

    bench.log("starting SeaweedFS on loopback")
    with s3_server.running(s3_root) as server:
        prefix = f"{spec.name}.ome.zarr"
        t0 = time.perf_counter()
        n = server.upload(inp, s3_server.PRIVATE, prefix)
        bench.log(f"uploaded {n} objects ({bench.dir_bytes(inp) / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        os.environ.update(server.env())
        contenders = {
            "local -> local": [*common, str(inp)],
            "S3 -> local": [*common, f"--input-bucket={s3_server.PRIVATE}", f"--input-endpoint={server.endpoint}",
                            prefix],
        }
        bench.warm(inp)
        runs: dict[str, list] = {name: [] for name in contenders}
        server_cpu: list[float] = []
        checks: dict[str, str] = {}
        for r in range(repeats):
            for name, cmd in contenders.items():
                out = outdir / f"s3bench-{name.split()[0].lower()}.zarr"
                bench.remove(out)
                subprocess.run(["sync"], check=False)
                before = sum(process_cpu(proc.pid) for proc in server.processes)
                run = bench.run_measured([*cmd, str(out)], logs / f"s3bench-{name.split()[0].lower()}.log")
                used = sum(process_cpu(proc.pid) for proc in server.processes) - before
                if name.startswith("S3"):
                    server_cpu.append(used)
                runs[name].append(run)
                bench.log(f"{name} run {r + 1}: {run.wall:.2f} s wall, {run.cpu:.2f} s CPU, exit {run.rc}"
                          + (f", server CPU {used:.2f} s" if name.startswith("S3") else ""))
                if name not in checks:
                    ok, msg = bench.verify(out, digests) if run.rc == 0 else (False, f"exit status {run.rc}")
                    checks[name] = "PASS" if ok else f"FAIL: {msg}"
                bench.remove(out)

    bench.remove(s3_root)
    print()
    print(f"{spec.name}: {size / 1e6:.0f} MB uncompressed, {repeats} alternated runs each, "
          f"--output-threads={args.threads}, {os.cpu_count()} CPUs")
    print(f"{'contender':<16}{'wall s':>9}{'CPU s':>9}{'RSS MB':>9}{'MB/s':>9}  check")
    for name, rs in runs.items():
        wall = statistics.median(r.wall for r in rs)
        cpu = statistics.median(r.cpu for r in rs)
        rss = max(r.rss_mb for r in rs)
        print(f"{name:<16}{wall:>9.2f}{cpu:>9.2f}{rss:>9.0f}{size / 1e6 / wall:>9.0f}  {checks[name]}")
    print(f"S3 server (SeaweedFS) CPU during the S3 runs: median {statistics.median(server_cpu):.2f} s")
    local = statistics.median(r.wall for r in runs["local -> local"])
    remote = statistics.median(r.wall for r in runs["S3 -> local"])
    ratio = remote / local
    print(f"ratio S3/local of median wall times: {ratio:.2f} (target <= {TARGET})")
    failed = [n for n, c in checks.items() if c != "PASS"]
    return 1 if failed or ratio > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
