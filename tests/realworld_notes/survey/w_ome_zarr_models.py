"""ome-zarr-models 1.7 (pydantic-zarr 0.9.2, zarr-python 3.1 writing v2): v04.Image.new(...).to_zarr(), then data."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
import zarr
from pydantic_zarr.v2 import ArraySpec
from ome_zarr_models.v04.image import Image
from ome_zarr_models.v04.axes import Axis
p = fresh("ome_zarr_models.ome.zarr")
img = image()
levels = [img, img[:, :, ::2, ::2], img[:, :, ::4, ::4]]
axes = [Axis(name="c", type="channel")] + [Axis(name=n, type="space", unit="micrometer") for n in "zyx"]
specs = [ArraySpec.from_array(a, chunks=(1, 4, 32, 32), dimension_separator="/") for a in levels]
m = Image.new(array_specs=specs, paths=["0", "1", "2"], axes=axes,
              scales=[(1.0, 2.0, 0.5 * 2**i, 0.5 * 2**i) for i in range(3)],
              translations=[None, None, None], name="image")
grp = m.to_zarr(zarr.storage.LocalStore(p), path="")
for path, a in zip(["0", "1", "2"], levels):
    grp[path][...] = a
