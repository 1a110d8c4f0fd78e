"""zarrita.js and zarr-python 3 read every numeric array of each converted REAL output equal to the source
(read by zarr-python 3 as Zarr v2). usage: check_zarrita.py SOURCE_DIR CONVERTED_DIR (pairs by name)."""
import os, sys
import numpy as np
import zarr
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from zarrita_check import read_with_zarrita

src_dir, out_dir = sys.argv[1], sys.argv[2]
for out_name in sorted(os.listdir(out_dir)):
    base = out_name[: -len(".zarr")]
    src = next((os.path.join(src_dir, n) for n in (base + ".ome.zarr", base + ".zarr") if os.path.isdir(os.path.join(src_dir, n))), None)
    if src is None:
        continue
    g = zarr.open_group(src, mode="r", zarr_format=2, use_consolidated=False)
    arrays = {p: a for p, a in g.members(max_depth=None) if isinstance(a, zarr.Array)}
    numeric = [p for p, a in arrays.items() if a.dtype.kind in "biuf" and a.size]
    got = read_with_zarrita(os.path.join(out_dir, out_name), numeric)["arrays"]
    bad = [p for p in numeric if not np.array_equal(got[p], arrays[p][...], equal_nan=True)]
    v3 = [p for p in arrays if arrays[p].size and not np.array_equal(
        zarr.open_array(os.path.join(out_dir, out_name, p), mode="r", zarr_format=3)[...], arrays[p][...],
        equal_nan=arrays[p].dtype.kind == "f")]
    print(f"{base}: {len(numeric)} numeric arrays equal by zarrita.js" + (f", DIFFER: {bad}" if bad else "")
          + f"; {len(arrays) - len(v3)}/{len(arrays)} equal by zarr-python" + (f", DIFFER: {v3}" if v3 else ""))
