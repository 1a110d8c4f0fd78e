"""Benchmark of `ome2024-ngff-challenge resave` against its floors and the reference.

    python3 bench/bench.py              # full run (10-30 minutes on 2 cores)
    python3 bench/bench.py --quick      # smoke test (small sizes, 1 repeat)

See bench/README.md. In one run it

1. generates its inputs under the work dir (default bench/_work/, reused when
   complete): microscopy-like uint16 OME-Zarr 0.4 (Zarr v2, Blosc lz4 byte
   shuffle, chunks 1,1,1,1024,1024 like bioformats2raw): a SMALL and a MEDIUM
   3-level image, a 96-well plate (4 fields, 2 levels) and a TINY image;
2. times, alternating the contenders and repeating N times, ours (default
   codec), ours with --output-codec=keep, the reference implementation
   (ome2024-ngff-challenge==1.0.3 in its own venv), the codec floor
   (bench/codec_floor.py) and `cp -r` (the I/O floor); each run is a child
   process whose wall time, CPU time (user+sys) and peak RSS come from
   os.wait4;
3. prints one table (medians) with ratios and a linearity check;
4. checks every converted output voxel for voxel against the input (plane by
   plane, via blake2b digests of the generated planes) and prints PASS/FAIL.

Only the standard library, numpy, numcodecs and zarr are used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numcodecs import Blosc, blosc

from ome2024_ngff_challenge.testing.samples import multiscales_04, omero_04, write_v2_group

blosc.use_threads = False  # GIL-free context functions in the worker threads

HERE = Path(__file__).resolve().parent
GEN_VERSION = 4  # bump when the generated content changes
LZ4 = Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)  # bioformats2raw's default
SRC_CHUNK = 1024
REF_VERSION = "1.0.3"
THREADS = 2

# case -> output layout given to ours and the reference (the same for both)
LAYOUT = {
    "image": ("1,1,1,1024,1024", "1,1,1,4096,4096"),
    # fields are 1024x1280 in 1024x1024 source chunks: the same inner chunks,
    # and one shard per field and level holding its 3 channels (2048 is
    # clipped to the field's width by ours; the reference lets the shard grid
    # overhang the array)
    "plate": ("1,1,1,1024,1024", "1,3,1,1024,2048"),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------
# Synthetic microscopy content
# ---------------------------------------------------------------------------


def _interp_matrix(n: int, g: int) -> np.ndarray:
    """(n, g) weights that linearly interpolate g control points onto n pixels."""
    pos = np.linspace(0, g - 1, n, dtype=np.float64)
    i0 = np.minimum(np.floor(pos).astype(int), g - 2)
    f = (pos - i0).astype(np.float32)
    w = np.zeros((n, g), dtype=np.float32)
    w[np.arange(n), i0] = 1 - f
    w[np.arange(n), i0 + 1] = f
    return w


def _sprite(rng: np.random.Generator, kind: int) -> np.ndarray:
    """One cell-like float32 stamp, peak about 1: a textured nucleus (kind 0),
    a larger dim cytoplasm (kind 1) or a membrane ring (kind 2)."""
    r = rng.uniform(9, 20) * (2.0 if kind else 1.0)
    ell = rng.uniform(0.7, 1.3)
    theta = rng.uniform(0, np.pi)
    half = int(math.ceil(r * 1.6 * max(ell, 1 / ell))) + 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    u = (yy * np.cos(theta) + xx * np.sin(theta)) / (r * ell)
    v = (-yy * np.sin(theta) + xx * np.cos(theta)) / (r / ell)
    d = np.sqrt(u * u + v * v)
    if kind == 0:
        body = 1 / (1 + np.exp((d - 1) * 10))
        a, b, ph = rng.uniform(0.2, 0.6, 2).tolist() + [rng.uniform(0, 6.3)]
        texture = 0.8 + 0.2 * np.sin(a * yy + ph) * np.cos(b * xx)
        return (body * texture).astype(np.float32)
    if kind == 1:
        outer = 1 / (1 + np.exp((d - 1) * 6))
        inner = 1 / (1 + np.exp((d - 0.45) * 12))
        return (outer - 0.6 * inner).astype(np.float32)
    return np.exp(-(((d - 0.9) / 0.12) ** 2)).astype(np.float32)


class Scene:
    """Cells at fixed 3-D positions (the same in every channel) on a smooth,
    slowly varying background; plane(c, z) renders one noisy uint16 plane."""

    def __init__(self, ny: int, nx: int, nz: int, nc: int, seed: int, cell_spacing: int = 70):
        rng = np.random.default_rng(seed)
        self.ny, self.nx, self.nz, self.seed = ny, nx, nz, seed
        # Cells fill a slab reaching 2 z-sigmas beyond both ends of the stack,
        # so every plane shows the same density of cells whatever nz is
        # (SMALL and MEDIUM then differ only in size, for the linearity check).
        self.zsigma = 3.0
        margin = 2 * self.zsigma
        self.sprites = [[_sprite(rng, c % 3) for _ in range(24)] for c in range(nc)]
        n = max(1, round(ny * nx / cell_spacing**2 * (nz + 2 * margin) / 20))
        self.cy = rng.integers(0, ny, n)
        self.cx = rng.integers(0, nx, n)
        self.cz = rng.uniform(-margin, nz - 1 + margin, n)
        self.kind = rng.integers(0, 24, n)
        self.amp = [rng.lognormal(np.log(a), 0.4, n) for a in (1500, 500, 900)[:nc] + (700,) * max(0, nc - 3)]
        gy, gx = max(2, ny // 384 + 2), max(2, nx // 384 + 2)
        self.wy, self.wx = _interp_matrix(ny, gy), _interp_matrix(nx, gx)
        bg = np.random.default_rng((seed, 1))  # independent of the number of cells
        self.coarse = [(bg.uniform(0, 1, (gy, gx)).astype(np.float32),
                        bg.uniform(0, 1, (gy, gx)).astype(np.float32)) for _ in range(nc)]
        self.bg_amp = [(100, 60, 80)[c % 3] for c in range(nc)]

    def plane(self, c: int, z: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, c, z))
        t = z / max(1, self.nz - 1)
        c0, c1 = self.coarse[c]
        coarse = (c0 * (1 - t) + c1 * t) * np.float32(self.bg_amp[c])
        img = self.wy @ coarse @ self.wx.T  # smooth background
        img += np.float32(100)  # camera offset
        weight = self.amp[c] * np.exp(-0.5 * ((z - self.cz) / self.zsigma) ** 2)
        sprites = self.sprites[c]
        for i in np.nonzero(weight > 20)[0]:
            sp = sprites[self.kind[i]]
            h = sp.shape[0] // 2
            y0, x0 = self.cy[i] - h, self.cx[i] - h
            ys, xs = max(0, -y0), max(0, -x0)
            ye = min(sp.shape[0], self.ny - y0)
            xe = min(sp.shape[1], self.nx - x0)
            if ye <= ys or xe <= xs:
                continue
            img[y0 + ys : y0 + ye, x0 + xs : x0 + xe] += np.float32(weight[i]) * sp[ys:ye, xs:xe]
        # shot noise (variance = signal) plus read noise, as a Gaussian
        sigma = np.sqrt(img + np.float32(9.0))
        img += sigma * rng.standard_normal(img.shape, dtype=np.float32)
        np.clip(img, 0, 65535, out=img)
        return img.astype(np.uint16)


def downsample2(plane: np.ndarray) -> np.ndarray:
    """2x2 mean in y and x (odd edges dropped)."""
    ny, nx = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    p = plane[:ny, :nx].astype(np.uint32)
    s = p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]
    return ((s + 2) // 4).astype(np.uint16)


def digest(plane: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(plane).tobytes(), digest_size=16).hexdigest()


# ---------------------------------------------------------------------------
# Zarr v2 writing (by hand, as bioformats2raw lays it out)
# ---------------------------------------------------------------------------


def level_chunks(shape) -> list[int]:
    return [1, 1, 1, min(SRC_CHUNK, shape[3]), min(SRC_CHUNK, shape[4])]


def write_zarray(path: Path, shape) -> None:
    path.mkdir(parents=True, exist_ok=True)
    meta = {
        "chunks": level_chunks(shape),
        "compressor": LZ4.get_config(),
        "dimension_separator": "/",
        "dtype": "<u2",
        "fill_value": 0,
        "filters": None,
        "order": "C",
        "shape": list(shape),
        "zarr_format": 2,
    }
    (path / ".zarray").write_text(json.dumps(meta, indent=4, sort_keys=True) + "\n")


def write_plane_chunks(path: Path, shape, t: int, c: int, z: int, plane: np.ndarray) -> None:
    """Write the chunks of one (t, c, z) plane; edge chunks padded with 0."""
    _, _, _, cy, cx = level_chunks(shape)
    for j in range(math.ceil(shape[3] / cy)):
        for i in range(math.ceil(shape[4] / cx)):
            block = plane[j * cy : (j + 1) * cy, i * cx : (i + 1) * cx]
            if block.shape != (cy, cx):
                full = np.zeros((cy, cx), dtype=np.uint16)
                full[: block.shape[0], : block.shape[1]] = block
                block = full
            d = path / str(t) / str(c) / str(z) / str(j)
            d.mkdir(parents=True, exist_ok=True)
            (d / str(i)).write_bytes(LZ4.encode(np.ascontiguousarray(block)))


def image_attrs(name: str, nc: int, levels: int) -> dict:
    scales = [[1.0, 1.0, 1.0, 0.5 * 2**i, 0.5 * 2**i] for i in range(levels)]
    return {
        "multiscales": multiscales_04("tczyx", scales, name=name,
                                      extra={"metadata": {"method": "2x2 mean", "version": "bench"}}),
        "omero": omero_04([f"ch{i}" for i in range(nc)], id=1, name=name),
    }


def image_planes(root: Path, prefix: str, shape, levels: int, scene: Scene):
    """Tasks that render and write every plane (all levels) of one image.
    Each task returns {array path: {"c,z": digest}}."""
    shapes = [list(shape)]
    for _ in range(levels - 1):
        s = shapes[-1]
        shapes.append(s[:3] + [s[3] // 2, s[4] // 2])
    for lv, s in enumerate(shapes):
        write_zarray(root / str(lv), s)

    def task(c: int, z: int):
        plane = scene.plane(c, z)
        out = {}
        for lv, s in enumerate(shapes):
            if lv:
                plane = downsample2(plane)
            write_plane_chunks(root / str(lv), s, 0, c, z, plane)
            out[f"{prefix}{lv}"] = {f"0,{c},{z}": digest(plane)}
        return out

    return shapes, [lambda c=c, z=z: task(c, z) for c in range(shape[1]) for z in range(shape[2])]


@dataclass
class Spec:
    name: str
    kind: str  # image | plate
    shape: tuple  # image shape, or one field's shape
    levels: int
    wells: tuple = ()  # (rows, cols)
    fields: int = 0

    def key(self) -> dict:
        return {"gen": GEN_VERSION, "kind": self.kind, "shape": list(self.shape), "levels": self.levels,
                "wells": list(self.wells), "fields": self.fields}


def generate(spec: Spec, path: Path, threads: int) -> dict:
    """Write the input dataset; return {array path: {"shape", "planes": {"c,z": digest}}}."""
    if path.exists():
        shutil.rmtree(path)
    tasks = []
    shapes: dict[str, list] = {}
    if spec.kind == "image":
        write_v2_group(path, image_attrs(spec.name, spec.shape[1], spec.levels))
        scene = Scene(spec.shape[3], spec.shape[4], spec.shape[2], spec.shape[1], seed=hash_seed(spec.name))
        lv_shapes, tasks = image_planes(path, "", spec.shape, spec.levels, scene)
        shapes.update({str(i): s for i, s in enumerate(lv_shapes)})
    else:
        rows = [chr(ord("A") + i) for i in range(spec.wells[0])]
        cols = [str(i + 1) for i in range(spec.wells[1])]
        plate = {
            "version": "0.4", "name": spec.name, "field_count": spec.fields,
            "acquisitions": [{"id": 0, "name": "run 1", "maximumfieldcount": spec.fields}],
            "rows": [{"name": r} for r in rows], "columns": [{"name": c} for c in cols],
            "wells": [{"path": f"{r}/{c}", "rowIndex": ri, "columnIndex": ci}
                      for ri, r in enumerate(rows) for ci, c in enumerate(cols)],
        }
        write_v2_group(path, {"plate": plate})
        for ri, r in enumerate(rows):
            write_v2_group(path / r)
            for ci, c in enumerate(cols):
                well = {"version": "0.4", "images": [{"path": str(f), "acquisition": 0} for f in range(spec.fields)]}
                write_v2_group(path / r / c, {"well": well})
                for f in range(spec.fields):
                    fpath = path / r / c / str(f)
                    write_v2_group(fpath, image_attrs(f"{r}{c} field {f}", spec.shape[1], spec.levels))
                    seed = hash_seed(f"{spec.name}/{r}/{c}/{f}")
                    scene_args = (spec.shape[3], spec.shape[4], spec.shape[2], spec.shape[1], seed)
                    prefix = f"{r}/{c}/{f}/"
                    # one task per field: its scene is built in the worker
                    lv_shapes, _ = image_planes(fpath, prefix, spec.shape, spec.levels, None)
                    shapes.update({f"{prefix}{i}": s for i, s in enumerate(lv_shapes)})
                    tasks.append(lambda fpath=fpath, prefix=prefix, scene_args=scene_args: field_task(
                        fpath, prefix, spec.shape, spec.levels, scene_args))
    digests: dict[str, dict] = {p: {"shape": s, "planes": {}} for p, s in shapes.items()}
    done = 0
    t0 = time.perf_counter()
    last = t0
    with ThreadPoolExecutor(threads) as pool:
        for result in pool.map(lambda fn: fn(), tasks):
            for p, d in result.items():
                digests[p]["planes"].update(d)
            done += 1
            now = time.perf_counter()
            if now - last > 10 or done == len(tasks):
                log(f"  generated {done}/{len(tasks)} {'planes' if spec.kind == 'image' else 'fields'}"
                    f" ({now - t0:.0f} s)")
                last = now
    return digests


def field_task(fpath: Path, prefix: str, shape, levels: int, scene_args) -> dict:
    scene = Scene(*scene_args, cell_spacing=60)
    _, tasks = image_planes(fpath, prefix, shape, levels, scene)
    out: dict[str, dict] = {}
    for fn in tasks:
        for p, d in fn().items():
            out.setdefault(p, {}).update(d)
    return out


def hash_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def uncompressed_bytes(digests: dict) -> int:
    return sum(math.prod(a["shape"]) * 2 for a in digests.values())


def dir_bytes(path: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


def ensure_input(spec: Spec, work: Path, threads: int) -> tuple[Path, dict]:
    path = work / "inputs" / f"{spec.name}.ome.zarr"
    marker = work / "inputs" / f"{spec.name}.complete.json"
    if marker.exists() and path.exists():
        info = json.loads(marker.read_text())
        if info.get("key") == spec.key():
            log(f"input {spec.name}: reusing {path}")
            return path, info["digests"]
    marker.unlink(missing_ok=True)
    log(f"input {spec.name}: generating {path} ({spec.kind} {spec.shape}, {spec.levels} levels"
        + (f", {spec.wells[0] * spec.wells[1]} wells x {spec.fields} fields" if spec.kind == "plate" else "") + ")")
    t0 = time.perf_counter()
    digests = generate(spec, path, threads)
    log(f"input {spec.name}: written in {time.perf_counter() - t0:.0f} s,"
        f" {uncompressed_bytes(digests) / 1e6:.0f} MB uncompressed, {dir_bytes(path) / 1e6:.0f} MB on disk;"
        " checking it reads back")
    ok, msg = verify(path, digests)
    if not ok:
        raise SystemExit(f"generated input {path} does not read back as written: {msg}")
    marker.write_text(json.dumps({"key": spec.key(), "digests": digests}))
    return path, digests


# ---------------------------------------------------------------------------
# Checking outputs
# ---------------------------------------------------------------------------


def verify(root: Path, digests: dict) -> tuple[bool, str]:
    """Every array equals the input, plane by plane (never more than one plane
    per thread in memory)."""
    import zarr

    def check(item):
        apath, info = item
        try:
            arr = zarr.open_array(store=str(root / apath), mode="r")
        except Exception as e:  # noqa: BLE001
            return f"{apath}: cannot open ({type(e).__name__}: {e})"
        if list(arr.shape) != list(info["shape"]) or arr.dtype != np.dtype("uint16"):
            return f"{apath}: shape/dtype {arr.shape} {arr.dtype}, expected {info['shape']} uint16"
        for key, want in info["planes"].items():
            t, c, z = (int(v) for v in key.split(","))
            if digest(np.asarray(arr[t, c, z])) != want:
                return f"{apath}: plane t={t} c={c} z={z} differs"
        return None

    with ThreadPoolExecutor(THREADS) as pool:
        for err in pool.map(check, sorted(digests.items())):
            if err:
                return False, err
    return True, f"{len(digests)} arrays equal"


# ---------------------------------------------------------------------------
# Running and measuring
# ---------------------------------------------------------------------------


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    rc: int


GNU_TIME = "/usr/bin/time"
# Fallback when GNU time is missing: a minimal Python process forks the command
# and reports its rusage. (The command is never started straight from this
# process: a child's peak RSS would then start at this process's ~150 MB, as
# Linux carries the RSS high-water mark of the forked image across exec.)
WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, st, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{ru.ru_utime} {ru.ru_stime} {ru.ru_maxrss} {os.waitstatus_to_exitcode(st)}\\n")
"""


def run_measured(cmd: list[str], logfile: Path) -> Run:
    """Run cmd as a grandchild under a small wrapper (GNU time, else a minimal
    Python): wall time from here, user+sys CPU and peak RSS of the command
    (and any descendants it waited for) from its wait4 rusage."""
    resfile = logfile.with_suffix(".rusage")
    resfile.unlink(missing_ok=True)
    if os.access(GNU_TIME, os.X_OK):
        wrapped = [GNU_TIME, "-o", str(resfile), "-f", "%U %S %M %x", *cmd]
    else:
        wrapped = [sys.executable, "-I", "-S", "-c", WRAPPER, str(resfile), *cmd]
    with open(logfile, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        t0 = time.perf_counter()
        rc = subprocess.run(wrapped, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        wall = time.perf_counter() - t0
    try:
        user, sys_, maxrss, status = resfile.read_text().splitlines()[-1].split()
    except (OSError, IndexError, ValueError):
        return Run(wall, float("nan"), float("nan"), rc if rc else 1)
    return Run(wall, float(user) + float(sys_), int(maxrss) * 1024 / 1e6, int(status))


def tail(path: Path, n: int = 3) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(ln.strip()[:200] for ln in lines[-n:])


def ours_exe() -> str:
    beside = Path(sys.executable).parent / "ome2024-ngff-challenge"
    if beside.exists():
        return str(beside)  # not the pyenv shim: no shell start-up in the timings
    found = shutil.which("ome2024-ngff-challenge")
    if not found:
        raise SystemExit("ome2024-ngff-challenge is not installed (pip install -e .)")
    return found


def ensure_reference(work: Path) -> tuple[str | None, str]:
    """(path of the reference's command, why not) from a venv under work."""
    venv = work / "ref-venv"
    exe = venv / "bin" / "ome2024-ngff-challenge"
    marker = venv / f"installed-{REF_VERSION}"
    logfile = work / "ref-venv-install.log"
    if not marker.exists():
        log(f"reference: installing ome2024-ngff-challenge=={REF_VERSION} into {venv} (log {logfile})")
        shutil.rmtree(venv, ignore_errors=True)
        with open(logfile, "wb") as out:
            steps = [[sys.executable, "-m", "venv", str(venv)],
                     [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                      f"ome2024-ngff-challenge=={REF_VERSION}"]]
            for cmd in steps:
                if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode:
                    return None, f"'{' '.join(cmd[-3:])}' failed: {tail(logfile)}"
        marker.touch()
    if not exe.exists():
        return None, f"{exe} missing after install"
    h = subprocess.run([str(exe), "resave", "--help"], capture_output=True, text=True)
    if h.returncode or "--output-shards" not in h.stdout:
        return None, f"'{exe} resave --help' failed: {(h.stdout + h.stderr)[-300:]}"
    if "--output-threads" not in h.stdout:
        log("reference: has no --output-threads option")
    return str(exe), ""


@dataclass
class Contender:
    name: str
    make_cmd: object  # (input, output) -> argv, or None when n/a
    na: str = ""  # why not available
    output_is_dataset: bool = True
    runs: list = field(default_factory=list)
    check: str = ""  # PASS / FAIL ... / n/a
    out_mb: float | None = None  # size of its output (first run)
    note: str = ""


def contenders_for(case: str, kind: str, ours: str, ref: str | None, ref_why: str, ref_threads: bool) -> list[Contender]:
    chunks, shards = LAYOUT[kind]
    common = ["--cc-by", f"--output-chunks={chunks}", f"--output-shards={shards}"]
    ours_args = [ours, "resave", *common, f"--output-threads={THREADS}"]
    ref_args = [ref, "resave", *common] + ([f"--output-threads={THREADS}"] if ref_threads else []) if ref else None
    floor = HERE / "codec_floor.py"
    out = [
        Contender("ours", lambda i, o: [*ours_args, i, o]),
        Contender("ours keep", lambda i, o: [*ours_args, "--output-codec=keep", i, o]),
        Contender(f"reference {REF_VERSION}", (lambda i, o: [*ref_args, i, o]) if ref else None, na=ref_why),
        Contender("codec floor", lambda i, o: [sys.executable, str(floor), i, o, f"--threads={THREADS}"],
                  output_is_dataset=False),
        Contender("cp -r", lambda i, o: ["cp", "-r", i, o]),
        # the copy made durable, as ours is (every file flushed to the disk)
        Contender("durable cp -r", lambda i, o: ["sh", "-c", 'cp -r "$0" "$1" && sync -f "$1"', i, o]),
    ]
    if case == "tiny":
        out = [c for c in out if c.name == "ours" or c.name.startswith("reference")]
    return out


def warm(path: Path) -> None:
    """Read every file once so every contender starts with the input in the page cache."""
    buf = bytearray(1 << 20)
    for dirpath, _, names in os.walk(path):
        for n in names:
            with open(os.path.join(dirpath, n), "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def bench_case(case: str, spec: Spec, inp: Path, digests: dict, contenders: list[Contender],
               repeats: int, work: Path, keep_outputs: bool) -> None:
    outdir = work / "outputs"
    outdir.mkdir(parents=True, exist_ok=True)
    logdir = work / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    log(f"case {case}: warming the page cache with {inp.name}")
    warm(inp)
    for rep in range(repeats):
        for ct in contenders:
            if ct.make_cmd is None or ct.na:
                continue
            slug = ct.name.split()[0] + ("-keep" if "keep" in ct.name else "") + ("-floor" if "floor" in ct.name else "")
            out = outdir / f"{case}-{slug}" / ("floor.bin" if not ct.output_is_dataset else "out.ome.zarr")
            remove(out.parent)
            out.parent.mkdir(parents=True)
            os.sync()  # flush the previous run's writes outside the timings
            logfile = logdir / f"{case}-{slug}.log"
            r = run_measured(ct.make_cmd(str(inp), str(out)), logfile)
            status = f"rc={r.rc}"
            if ct.name.startswith("ours") and r.rc != 0:
                text = logfile.read_text(errors="replace")
                if "keep" in ct.name and "output-codec" in text and rep == 0 and not ct.runs:
                    ct.na = f"n/a: --output-codec=keep refused ({tail(logfile, 1)})"
                    ct.check = "n/a"
                    log(f"  {case} {ct.name}: {ct.na}")
                    remove(out.parent)
                    continue
            log(f"  {case} [{rep + 1}/{repeats}] {ct.name:16s} {r.wall:8.2f} s wall {r.cpu:8.2f} s cpu"
                f" {r.rss_mb:8.0f} MB rss  {status}")
            ct.runs.append(r)
            if rep == 0:  # each contender's output is checked once: from its first run
                if not ct.output_is_dataset:
                    size = out.stat().st_size if out.exists() else 0
                    ok = r.rc == 0 and size > 0
                    ct.check = "ok (not a dataset)" if ok else f"FAIL rc={r.rc}"
                    ct.out_mb = size / 1e6
                else:
                    ok, msg = verify(out, digests)
                    ct.out_mb = dir_bytes(out) / 1e6
                    if ok:
                        ct.check = "PASS"
                    else:
                        ct.check = f"FAIL: {msg}"
                    if r.rc != 0:
                        ct.note = f"exit status {r.rc}" + ("" if ct.name.startswith("reference") else f": {tail(logfile, 1)}")
                    log(f"  {case} {ct.name}: output check {ct.check}"
                        f" ({ct.out_mb:.0f} MB on disk){'; ' + ct.note if ct.note else ''}")
            if not (keep_outputs and rep == repeats - 1):
                remove(out.parent)
    os.sync()


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def med(runs, attr):
    return statistics.median(getattr(r, attr) for r in runs) if runs else None


def fmt(v, spec="8.2f"):
    width = int(spec.split(".")[0] or 0)
    return format(v, spec) if v is not None else "n/a".rjust(width)


def report(results: dict, sizes: dict, repeats: int) -> None:
    print()
    print(f"Results: median of {repeats} alternated runs; wall and CPU (user+sys) seconds, peak RSS MB (max over runs),")
    print("MB/s = uncompressed input MB / median wall; out MB = output size on disk; 2 threads where a tool has")
    print("the option; inputs warm in the page cache; 1 MB = 10^6 bytes")
    head = f"{'case':7s} {'contender':18s} {'wall s':>8s} {'CPU s':>8s} {'RSS MB':>8s} {'MB/s':>8s} {'out MB':>8s}  check"
    print(head)
    print("-" * len(head) + "-" * 20)
    for case, cts in results.items():
        for ct in cts:
            wall = med(ct.runs, "wall")
            cpu = med(ct.runs, "cpu")
            rss = max((r.rss_mb for r in ct.runs), default=None)
            mbs = sizes[case] / 1e6 / wall if wall else None
            check = ct.check or ("n/a" if not ct.runs else "")
            if ct.na:
                check = "n/a: " + ct.na.removeprefix("n/a: ")
            if ct.note:
                check += f" ({ct.note})"
            print(f"{case:7s} {ct.name:18s} {fmt(wall)} {fmt(cpu)} {fmt(rss, '8.0f')} {fmt(mbs, '8.0f')} {fmt(ct.out_mb, '8.0f')}  {check}")
        print()
    print("Ratios of median wall times (<1: the first is faster):")
    for case, cts in results.items():
        by = {ct.name.split()[0] + (" keep" if "keep" in ct.name else ""): med(ct.runs, "wall") for ct in cts}
        if "codec" in by:
            by["floor"] = by.pop("codec")
        pairs = [("ours/floor", "ours", "floor"), ("ours/reference", "ours", "reference"),
                 ("keep/cp", "ours keep", "cp"), ("keep/durable cp", "ours keep", "durable"),
                 ("keep/ours", "ours keep", "ours")]
        parts = []
        for label, a, b in pairs:
            if a in by and b in by:
                va, vb = by.get(a), by.get(b)
                parts.append(f"{label} = {va / vb:.2f}" if va and vb else f"{label} = n/a")
        print(f"  {case:7s} " + ", ".join(parts))
    if "small" in results and "medium" in results:
        size_ratio = sizes["medium"] / sizes["small"]
        print(f"Linearity: MEDIUM/SMALL uncompressed size ratio {size_ratio:.2f}; wall time ratios"
              " (and time ratio / size ratio: 1.00 = linear, <1 = fixed costs weigh on SMALL):")
        small = {ct.name: med(ct.runs, "wall") for ct in results["small"]}
        for ct in results["medium"]:
            a, b = med(ct.runs, "wall"), small.get(ct.name)
            print(f"  {ct.name:18s} " + (f"{a / b:6.2f}  ({a / b / size_ratio:.2f})" if a and b else "n/a"))
    if "tiny" in results:
        print("Tiny image (1x1x1x256x256) end to end: "
              + ", ".join(f"{ct.name} {fmt(med(ct.runs, 'wall'), '.2f')} s" for ct in results["tiny"]))
    print()
    checks = [(case, ct) for case, cts in results.items() for ct in cts if ct.output_is_dataset and ct.runs]
    for case, ct in checks:
        verdict = "PASS" if ct.check == "PASS" else "FAIL"
        print(f"{verdict}  {case} {ct.name}" + ("" if verdict == "PASS" else f": {ct.check}"))


# ---------------------------------------------------------------------------


def specs(quick: bool) -> dict[str, Spec]:
    if quick:
        return {
            "tiny": Spec("quick-tiny", "image", (1, 1, 1, 256, 256), 1),
            "small": Spec("quick-small", "image", (1, 2, 4, 1024, 1024), 3),
            "medium": Spec("quick-medium", "image", (1, 2, 32, 1024, 1024), 3),
            "plate": Spec("quick-plate", "plate", (1, 3, 1, 1024, 1280), 2, wells=(2, 3), fields=2),
        }
    return {
        "tiny": Spec("tiny", "image", (1, 1, 1, 256, 256), 1),
        "small": Spec("small", "image", (1, 2, 4, 4096, 4096), 3),
        "medium": Spec("medium", "image", (1, 2, 32, 4096, 4096), 3),
        "plate": Spec("plate", "plate", (1, 3, 1, 1024, 1280), 2, wells=(8, 12), fields=4),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark ome2024-ngff-challenge resave (see bench/README.md).")
    ap.add_argument("--quick", action="store_true", help="smoke test: 1/16-size inputs, 1 repeat, cases small,plate,tiny")
    ap.add_argument("--cases", help="comma-separated subset of small,medium,plate,tiny (default: all; --quick: small,plate,tiny)")
    ap.add_argument("--work", type=Path, default=HERE / "_work", help="work dir for inputs, outputs, logs (default bench/_work)")
    ap.add_argument("--repeats", type=int, help="alternated runs per contender (default 3; --quick: 1)")
    ap.add_argument("--keep-outputs", action="store_true", help="keep the last run's outputs under WORK/outputs")
    args = ap.parse_args(argv)

    all_specs = specs(args.quick)
    cases = (args.cases or ("small,plate,tiny" if args.quick else "tiny,small,plate,medium")).split(",")
    order = ["tiny", "small", "plate", "medium"]
    bad = [c for c in cases if c not in order]
    if bad:
        ap.error(f"unknown case(s) {bad}; choose from {order}")
    cases = [c for c in order if c in cases]
    repeats = args.repeats or (1 if args.quick else 3)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    log(f"work dir {work}; cases {','.join(cases)}; {repeats} repeat(s); {os.cpu_count()} CPUs")

    ours = ours_exe()
    log(f"ours: {ours}")
    ref, ref_why = ensure_reference(work)
    ref_threads = False
    if ref:
        h = subprocess.run([ref, "resave", "--help"], capture_output=True, text=True)
        ref_threads = "--output-threads" in h.stdout
        log(f"reference: {ref}")
    else:
        log(f"reference: n/a: {ref_why}")

    inputs = {}
    for case in cases:
        inputs[case] = ensure_input(all_specs[case], work, THREADS)

    results: dict[str, list[Contender]] = {}
    sizes: dict[str, int] = {}
    for case in cases:
        spec = all_specs[case]
        inp, digests = inputs[case]
        sizes[case] = uncompressed_bytes(digests)
        cts = contenders_for(case, spec.kind, ours, ref, ref_why, ref_threads)
        reps = max(repeats, 5) if case == "tiny" else repeats
        log(f"case {case}: {sizes[case] / 1e6:.0f} MB uncompressed, {dir_bytes(inp) / 1e6:.0f} MB on disk,"
            f" {len(digests)} arrays; {reps} alternated repeat(s) of {', '.join(c.name for c in cts)}")
        bench_case(case, spec, inp, digests, cts, reps, work, args.keep_outputs)
        results[case] = cts

    report(results, sizes, repeats)
    (work / "results.json").write_text(json.dumps({
        case: {ct.name: {"runs": [r.__dict__ for r in ct.runs], "check": ct.check, "na": ct.na, "note": ct.note}
               for ct in cts} for case, cts in results.items()}, indent=1))
    failed = [1 for cts in results.values() for ct in cts
              if ct.runs and ct.output_is_dataset and ct.check != "PASS" and ct.name.startswith("ours")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
