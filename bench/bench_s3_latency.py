"""S3 across a network: every request waits tens of milliseconds. A relay in
front of SeaweedFS (on loopback) holds each request 50 ms before it reaches the
server; a 96-well plate with 2 small fields per well is planned
(`--output-write-details`) and converted by byte copy (`--output-codec=keep`)
and by re-encoding, and a collection of small images (`--input-list`) is
converted, with and without the relay, at the default threads.

    python3 bench/bench_s3_latency.py              # 96 wells x 2 fields, 20 images, 1 repeat
    python3 bench/bench_s3_latency.py --delay 0.05 --wells 96 --images 20 --repeats 3

Prints each time and the ratio with/without the relay (the target: at most
1.3). The planner fetches the metadata of many wells, fields and levels at
once, so the latency is paid per round, not per object.

The command measured is `python3 -m ome2024_ngff_challenge` of the Python
running this script, with its PYTHONPATH: the package of the checkout run from
(`PYTHONPATH=src python3 bench/bench_s3_latency.py`), or else the installed one.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import s3_server  # noqa: E402

import ome2024_ngff_challenge  # noqa: E402
from ome2024_ngff_challenge.testing import samples  # noqa: E402

TARGET = 1.3
TOOL = [sys.executable, "-m", "ome2024_ngff_challenge"]


def run(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{done.stderr}")
    return took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--delay", type=float, default=0.05, help="seconds each request is held (default 0.05)")
    ap.add_argument("--wells", type=int, default=96, help="wells of the plate (default 96)")
    ap.add_argument("--images", type=int, default=20, help="small images of the collection (default 20; 0: none)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--cases", default="plan,copy,encode,collection",
                    help="which rows to run (default all: plan,copy,encode,collection)")
    args = ap.parse_args(argv)
    # the child processes import what this one does (same Python, same PYTHONPATH)
    print(f"measuring: {Path(ome2024_ngff_challenge.__file__).parent}")
    work = Path(tempfile.mkdtemp(prefix="bench-s3-latency-"))
    try:
        rows = "ABCDEFGH"
        cols = [str(c) for c in range(1, 13)]
        wells = [f"{r}/{c}" for r in rows for c in cols][: args.wells]
        plate = work / "plate.zarr"
        samples.write_plate(plate, list(rows), cols, wells, 2, image_shape=(1, 256, 256), axes="cyx",
                            levels=2, chunks=(1, 128, 128))
        objects = sum(len(files) for _, _, files in os.walk(plate))
        print(f"plate: {len(wells)} wells x 2 fields, {objects} objects")
        images = work / "images"
        for n in range(args.images):
            samples.write_image(images / f"img{n:02d}.zarr", samples.pattern((1, 256, 256), seed=n), "cyx", levels=2,
                                chunks=(1, 128, 128))
        if args.images:
            print(f"collection: {args.images} images of 1x256x256, 2 levels")
        with s3_server.running(work / "s3") as server:
            server.upload(plate, s3_server.PRIVATE, "plate.zarr")
            if args.images:
                server.upload(images, s3_server.PRIVATE, "images")
            relay = s3_server.FlakyProxy(server.ports["s3"])
            env = {**os.environ, **server.env()}
            listing = work / "list.csv"
            with open(listing, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["input"])
                w.writerows([f"s3://{s3_server.PRIVATE}/images/img{n:02d}.zarr"] for n in range(args.images))
            chosen = set(args.cases.split(","))
            cases = [(what, extra, plate_input) for name, what, extra, plate_input in (
                ("plan", "plan (details)", ["--output-write-details"], True),
                ("copy", "byte copy", ["--output-codec=keep"], True),
                ("encode", "re-encode", [], True),
                ("collection", f"collection {args.images}", [f"--input-list={listing}"], False),
            ) if name in chosen and (name != "collection" or args.images)]
            results = {}
            for what, extra, plate_input in cases:
                times: dict[str, list[float]] = {"direct": [], "+latency": []}
                for n in range(args.repeats):  # alternating, so that a change of load touches both
                    for label, endpoint, delay in (("direct", server.endpoint, 0.0),
                                                   ("+latency", relay.endpoint, args.delay)):
                        relay.delay = delay
                        out = work / f"out-{len(results)}-{label}-{n}{'.json' if plate_input and extra[:1] == ['--output-write-details'] else '.zarr'}"
                        inputs = [f"s3://{s3_server.PRIVATE}/plate.zarr"] if plate_input else []
                        times[label].append(run([*TOOL, "resave", "--cc-by", *extra, f"--input-endpoint={endpoint}",
                                                 *inputs, str(out)], env))
                        out.unlink() if out.is_file() else shutil.rmtree(out, ignore_errors=True)
                for label in ("direct", "+latency"):
                    results[(what, label)] = statistics.median(times[label])
                    print(f"{what:15s} {label:9s} {results[(what, label)]:7.2f} s"
                          + (f"  ({', '.join(f'{t:.2f}' for t in times[label])})" if args.repeats > 1 else ""))
            relay.close()
        print(f"ratios (with {args.delay * 1000:.0f} ms per request / direct; target <= {TARGET}):")
        worst = 0.0
        for what, _, _ in cases:
            ratio = results[(what, "+latency")] / results[(what, "direct")]
            worst = max(worst, ratio)
            print(f"  {what:15s} {ratio:.2f}")
        return 0 if worst <= TARGET else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
