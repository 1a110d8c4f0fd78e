"""multiscale-spatial-image 1.0.1 (datatree 0.0.14, xarray 2024.9) or 2.0.3 (xarray DataTree), zarr-python 2.18; argv[1] names the output: to_multiscale(...).msi.to_zarr() (the accessor: DataTree.to_zarr alone writes no OME metadata)."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
from spatial_image import to_spatial_image
from multiscale_spatial_image import to_multiscale
p = fresh(sys.argv[1] if len(sys.argv) > 1 else "msi.ome.zarr")
si = to_spatial_image(image(), dims=("c", "z", "y", "x"), scale={"z": 2.0, "y": 0.5, "x": 0.5},
                      axis_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"}, c_coords=["DAPI", "GFP"], name="image")
ms = to_multiscale(si, [{"y": 2, "x": 2}, {"y": 2, "x": 2}], chunks={"c": 1, "z": 4, "y": 32, "x": 32})
ms.msi.to_zarr(p, **({"zarr_format": 2} if "msi2" in p else {}))  # 2.x: xarray DataTree on zarr-python 3
