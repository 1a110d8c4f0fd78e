"""multiscale-spatial-image 1.0.1 (spatial-image 1.2, datatree 0.0.14, zarr-python 2.18): to_multiscale(...).to_zarr()."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
from spatial_image import to_spatial_image
from multiscale_spatial_image import to_multiscale
p = fresh("msi.ome.zarr")
si = to_spatial_image(image(), dims=("c", "z", "y", "x"), scale={"z": 2.0, "y": 0.5, "x": 0.5},
                      axis_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"}, c_coords=["DAPI", "GFP"], name="image")
ms = to_multiscale(si, [{"y": 2, "x": 2}, {"y": 2, "x": 2}], chunks={"c": 1, "z": 4, "y": 32, "x": 32})
ms.to_zarr(p)
