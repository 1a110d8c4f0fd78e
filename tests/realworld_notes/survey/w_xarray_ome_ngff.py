"""xarray-ome-ngff 3.1.1 (pydantic-ome-ngff 0.6.0, zarr-python 2.18): create_multiscale_group from DataArrays, then data."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
import numpy as np, xarray as xr, zarr
from xarray_ome_ngff.v04.multiscale import create_multiscale_group
p = fresh("xarray_ome_ngff.ome.zarr")
img = image()
arrays = {}
for i in range(3):
    f = 2 ** i
    a = img[:, :, ::f, ::f]
    coords = {"c": np.arange(2), "z": np.arange(4) * 2.0,
              "y": np.arange(a.shape[2]) * 0.5 * f + 0.25 * (f - 1), "x": np.arange(a.shape[3]) * 0.5 * f + 0.25 * (f - 1)}
    da = xr.DataArray(a, dims=("c", "z", "y", "x"), coords=coords)
    for d in "zyx":
        da[d].attrs["units"] = "micrometer"
    arrays[f"s{i}"] = da
g = create_multiscale_group(store=zarr.DirectoryStore(p), path="", arrays=arrays, chunks=(1, 4, 32, 32))
for k, da in arrays.items():
    g[k][...] = da.data
