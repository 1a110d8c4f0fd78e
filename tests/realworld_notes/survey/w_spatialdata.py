"""spatialdata 0.2.6 / 0.4.0 (ome-zarr 0.9/0.10, zarr-python 2.18): SpatialData(images={'image': Image3DModel c,z,y,x
with scale_factors [2, 2]}, labels={'nuclei': Labels3DModel z,y,x}).write(); argv[1] names the output."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, labels, fresh
import spatialdata as sd
from spatialdata.models import Image3DModel, Labels3DModel
name = sys.argv[1]
p = fresh(f"{name}.zarr")
img = Image3DModel.parse(image(), dims=("c", "z", "y", "x"), scale_factors=[2, 2], c_coords=["DAPI", "GFP"],
                         chunks=(1, 4, 32, 32))
lab = Labels3DModel.parse(labels(), dims=("z", "y", "x"), scale_factors=[2, 2], chunks=(4, 32, 32))
sd.SpatialData(images={"image": img}, labels={"nuclei": lab}).write(p)
print(sd.__version__)
