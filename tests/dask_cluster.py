"""A real Dask cluster on loopback for the tests: `dask scheduler` and `dask worker`
processes, as a site would start them by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

DASK = [sys.executable, "-m", "distributed.cli"]


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.procs: dict[str, subprocess.Popen] = {}

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def start_scheduler(self) -> str:
        self._spawn("scheduler", ["dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(self.file)])
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.file.is_file():
                try:
                    return json.loads(self.file.read_text())["address"]
                except (ValueError, KeyError):
                    pass
            time.sleep(0.2)
        msg = f"dask scheduler did not start: {(self.folder / 'scheduler.log').read_text()}"
        raise RuntimeError(msg)

    def start_worker(self, name: str) -> subprocess.Popen:
        return self._spawn(name, ["dask", "worker", "--scheduler-file", str(self.file), "--nthreads", "1",
                                  "--host", "127.0.0.1", "--no-dashboard", "--name", name,
                                  "--local-directory", str(self.folder / name)])

    def wait_for_workers(self, address: str, n: int) -> None:
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(n, timeout=60)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.kill()  # no graceful hand-over needed at the end of a test
        for proc in self.procs.values():
            proc.wait(timeout=20)
