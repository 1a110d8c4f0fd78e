"""``zarrs_reencode`` scripts: the data written by another program.

The first run prepares the output (its in-progress marker, every group's
zarr.json but the root's) and writes, in each array's folder, a ``convert.sh``
holding the ``zarrs_reencode`` command that writes that array with the planned
chunks, shards and codec. The output is not complete then, and says so (the
marker stays, there is no root zarr.json, ``update`` and ``validate`` refuse
it). Running the same command again once every ``convert.sh`` has run checks
that every array is there (its zarr.json, with the planned shape and data type),
adds the OME attributes, writes the RO-Crate and the root zarr.json, and removes
the marker; until then it names the arrays still missing.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import time

from ..convert.levels import AddedLevel
from ..convert.output import Conversion
from ..convert.plan import ArrayJob
from ..errors import OutputError, UserError, option
from ..stores.base import Store
from .base import Executor

LOG = logging.getLogger("ome2024_ngff_challenge")
SCRIPT_NAME = "convert.sh"


def script_path(store: Store, key: str) -> str:
    """A location the script can use from any folder: local paths made absolute."""
    path = store.local_path(key)
    return os.path.abspath(path) if path is not None else store.describe(key)


def script_line(job: ArrayJob, src: Store, out: Store) -> str:
    """The zarrs_reencode command that writes one array."""
    words = ["zarrs_reencode", "--chunk-shape", ",".join(map(str, job.layout.chunks))]
    if job.layout.shards is not None:
        words += ["--shard-shape", ",".join(map(str, job.layout.shards))]
    if job.dimension_names:
        words += ["--dimension-names", ",".join(job.dimension_names)]
    compressor = job.compression.codec_json(job.dtype)
    codecs = [] if compressor is None else [compressor]
    words += ["--bytes-to-bytes-codecs", json.dumps(codecs, separators=(",", ":"))]
    words += ["--validate", script_path(src, job.path), script_path(out, job.path)]
    return " ".join(shlex.quote(w) for w in words) + "\n"


def array_written(out: Store, job: ArrayJob) -> dict | None:
    """The array's zarr.json when zarrs_reencode has written it as planned."""
    try:
        meta = out.get_json(f"{job.path}/zarr.json")
    except OutputError:
        return None
    except Exception:  # half-written or not JSON: not written
        return None
    if not isinstance(meta, dict) or meta.get("node_type") != "array":
        return None
    if meta.get("shape") != list(job.shape) or meta.get("data_type") != job.data_type:
        return None
    return meta


class ZarrsScriptExecutor(Executor):
    mode = "zarrs-script"

    def execute(self, conversion: Conversion) -> None:
        plan, src, out = conversion.plan, conversion.src, conversion.out
        added = [job.path for job in plan.arrays if isinstance(job, AddedLevel)]
        if added:
            msg = (f"{out.describe()}: {option('add_levels')} does not go with {option('output_script')}: "
                   f"zarrs_reencode re-encodes arrays, it cannot compute added levels ({added[0]})")
            raise UserError(msg)
        started = time.time()
        conversion.begin(self.mode, writes=[f"{job.path}/{SCRIPT_NAME}" for job in plan.arrays])
        written = {job.path: array_written(out, job) for job in plan.arrays}
        missing = [path for path, meta in written.items() if meta is None]
        if plan.arrays and not missing:
            for job in plan.arrays:
                meta = written[job.path]
                meta["attributes"] = {**job.attributes, **(meta.get("attributes") or {})}
                out.put_json(f"{job.path}/zarr.json", meta)
            conversion.finish(None, started, threads=0)
            print(f"{out.describe()}: complete: every array was written by its {SCRIPT_NAME}")
            return
        for job in plan.arrays:
            out.put(f"{job.path}/{SCRIPT_NAME}", script_line(job, src, out).encode())
        conversion.write_group_metadata(root=False)
        print(f"{out.describe()}: {len(missing)} of {len(plan.arrays)} arrays still to write: run the "
              f"{SCRIPT_NAME} in each array's folder (zarrs_reencode), then this command again to finish "
              f"(first missing: {missing[0] if missing else '-'})")
