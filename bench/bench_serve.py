"""`serve` under load: what a viewer loading hundreds of chunks meets.

    PYTHONPATH=src python3 bench/bench_serve.py            # the checkout
    PYTHONPATH=/other/src python3 bench/bench_serve.py     # another one (e.g. before a change)

Starts `python3 -m ome2024_ngff_challenge serve DIR --port 0` (of the Python
running this script, with its PYTHONPATH) on loopback in a subprocess and prints:
- 100 parallel connections, each sending one GET at the same moment: how many
  were answered, and the time until the last answer (target: all, within 1 s);
- keep-alive: the median and 95th percentile of 300 GETs of a 1 KiB chunk one
  after the other on one connection (target: under 5 ms);
- 1000 idle connections left open: the server's thread count before and with
  them (read from /proc), the time of a GET on a new connection opened right
  after them, and of keep-alive GETs once they are all accepted.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.MULTILINE).group(1))


def start(folder: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "ome2024_ngff_challenge", "serve", str(folder), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, stdin=subprocess.DEVNULL)
    line = proc.stdout.readline()
    port = re.search(r":(\d+)/", line)
    if not port:
        proc.kill()
        sys.exit(f"serve did not start: {line!r}")
    return proc, int(port.group(1))


def get(port: int, path: str, timeout: float = 60) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def parallel(port: int, count: int) -> tuple[int, float]:
    barrier = threading.Barrier(count + 1)
    answered = []
    done = []

    def one() -> None:
        barrier.wait()
        try:
            if get(port, "/chunk", timeout=120) == 200:
                answered.append(1)
        except OSError:
            pass
        done.append(time.perf_counter())

    workers = [threading.Thread(target=one) for _ in range(count)]
    for w in workers:
        w.start()
    barrier.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
    return len(answered), max(done) - began


def keep_alive(port: int, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(count + 10):
        began = time.perf_counter()
        conn.request("GET", "/chunk")
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - began)
    conn.close()
    return times[10:]  # after the first few (connection, caches)


def idle(port: int, pid: int, count: int) -> tuple[int, int, float, float]:
    before = threads_of(pid)
    sockets = []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            sockets.append(s)
        began = time.perf_counter()
        status = get(port, "/chunk", timeout=120)  # a new connection, behind the idle ones
        took = time.perf_counter() - began
        if status != 200:
            took = float("nan")
        time.sleep(1.0)  # the server has accepted them all
        during = threads_of(pid)
        kept = statistics.median(keep_alive(port, 50))
    finally:
        for s in sockets:
            s.close()
    return before, during, took, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--idle", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "chunk").write_bytes(os.urandom(1024))
        proc, port = start(folder)
        try:
            answered, took = parallel(port, args.connections)
            print(f"{args.connections} parallel connections: {answered} answered, the last after {took * 1000:.0f} ms")
            times = keep_alive(port, args.requests)
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"keep-alive GET of 1 KiB: median {statistics.median(times) * 1000:.2f} ms, "
                  f"95th percentile {p95 * 1000:.2f} ms ({args.requests} requests)")
            before, during, took, kept = idle(port, proc.pid, args.idle)
            print(f"{args.idle} idle connections: threads {before} before, {during} with them; a GET on a new "
                  f"connection right after them took {took * 1000:.0f} ms, keep-alive GETs then {kept * 1000:.2f} ms")
        finally:
            proc.terminate()
            proc.communicate(timeout=60)


if __name__ == "__main__":
    main()
