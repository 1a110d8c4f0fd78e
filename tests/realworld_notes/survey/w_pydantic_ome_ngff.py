"""pydantic-ome-ngff 0.6.1 (pydantic-zarr 0.7, zarr-python 2.18): MultiscaleGroup.from_arrays(...).to_zarr(), then data."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
import zarr
from pydantic_ome_ngff.v04.multiscale import MultiscaleGroup
from pydantic_ome_ngff.v04.axis import Axis
p = fresh("pydantic_ome_ngff.ome.zarr")
img = image()
levels = [img, img[:, :, ::2, ::2], img[:, :, ::4, ::4]]
axes = [Axis(name="c", type="channel")] + [Axis(name=n, type="space", unit="micrometer") for n in "zyx"]
g = MultiscaleGroup.from_arrays(levels, paths=["s0", "s1", "s2"], axes=axes,
    scales=[(1, 2, 0.5 * 2**i, 0.5 * 2**i) for i in range(3)],
    translations=[(0, 0, (2**i - 1) * 0.25, (2**i - 1) * 0.25) for i in range(3)],
    name="image", chunks=(1, 4, 32, 32))
store = zarr.DirectoryStore(p)
grp = g.to_zarr(store, path="")
for path, a in zip(["s0", "s1", "s2"], levels):
    grp[path][...] = a
