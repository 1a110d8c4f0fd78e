"""spatial-image-ngff 0.1.1 (spatial-image-multiscale 0.4, xarray, zarr-python 2.18): imwrite(to_multiscale(image,
[2, 2]), path): NGFF **0.1**, one xarray Dataset per level."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
from spatial_image import to_spatial_image
from spatial_image_multiscale import to_multiscale
import spatial_image_ngff
p = fresh("spatial_image_ngff.ome.zarr")
si = to_spatial_image(image(), dims=("c", "z", "y", "x"), scale={"z": 2.0, "y": 0.5, "x": 0.5}, name="image")
spatial_image_ngff.imwrite(to_multiscale(si, [{"y": 2, "x": 2}, {"y": 2, "x": 2}]), p)
