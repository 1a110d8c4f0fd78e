"""zarrita.js (the Zarr library under the web viewers) reading an output, in
node: ``read_with_zarrita(root, paths)`` gives each array as numpy.

zarrita is installed in tests/zarrita_js with the viewers' other npm packages
(ome-zarr.js; esbuild, which bundles it for the browser tests: see
tests/test_viewers.py); package.json and its lock pin the versions; `.ci/run`
installs them. When it is missing, ``zarrita_available``
runs `npm ci` there once; tests skip, saying why, only when node or npm are
missing or npm cannot install it.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent / "zarrita_js"
PACKAGES = sorted(json.loads((HERE / "package.json").read_text())["dependencies"])


def installed() -> bool:
    """Every package of package.json is in node_modules (an older checkout's
    node_modules may lack the ones added since)."""
    return all((HERE / "node_modules" / name / "package.json").is_file() for name in PACKAGES)


@cache
def zarrita_available() -> str | None:
    """None when zarrita.js can be run; otherwise why not (a skip reason)."""
    if shutil.which("node") is None:
        return "node is not installed: zarrita.js cannot be run"
    if installed():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed: zarrita.js cannot be installed (run `npm ci` in tests/zarrita_js)"
    try:
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"npm could not install zarrita.js in {HERE}: {e}"
    if proc.returncode != 0 or not installed():
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return f"npm could not install zarrita.js in {HERE} (exit {proc.returncode}: {last})"
    return None


def read_with_zarrita(root: Path | str, paths: list[str]) -> dict:
    """{"root": top group attributes (v3), "default": what zarr.open finds at the
    top, "arrays": {path: numpy array}} as zarrita.js reads them; ``root``: a
    folder, or an http:// URL (read with FetchStore, as a web viewer reads)."""
    proc = subprocess.run(["node", str(HERE / "read.mjs"), str(root), *paths], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"zarrita.js could not read {root}: {proc.stderr[-2000:]}"
    doc = json.loads(proc.stdout)
    arrays = {}
    for path, a in doc["arrays"].items():
        dtype = np.dtype("bool" if a["dtype"] == "bool" else a["dtype"])
        flat = np.frombuffer(base64.b64decode(a["data"]), dtype=dtype)
        shape, stride = a["shape"], a["stride"]
        if not shape:
            arrays[path] = flat.reshape(())
            continue
        view = np.lib.stride_tricks.as_strided(flat, shape, [s * dtype.itemsize for s in stride])
        arrays[path] = np.array(view)
    doc["arrays"] = arrays
    return doc
