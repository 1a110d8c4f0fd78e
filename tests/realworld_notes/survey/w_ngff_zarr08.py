"""ngff-zarr 0.8.7 (zarr-python 2.18): to_ngff_image + to_multiscales([2, 4], method=DASK_IMAGE_GAUSSIAN; the default itkwasm method fails with a channel axis) + to_ngff_zarr."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
import ngff_zarr as nz
p = fresh("ngff_zarr08.ome.zarr")
img = nz.to_ngff_image(image(), dims=["c", "z", "y", "x"], scale={"z": 2.0, "y": 0.5, "x": 0.5},
                       axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"}, name="image")
ms = nz.to_multiscales(img, [2, 4], chunks=32, method=nz.Methods.DASK_IMAGE_GAUSSIAN)
nz.to_ngff_zarr(p, ms)
