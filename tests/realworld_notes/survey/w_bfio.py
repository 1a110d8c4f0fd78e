"""bfio 2.4.10 BioWriter(backend='zarr') (zarr-python 2.18): t,c,z,y,x, one level."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
from bfio import BioWriter
import numpy as np
p = fresh("bfio.ome.zarr")
img = image()  # c z y x
with BioWriter(p, backend="zarr", X=64, Y=64, Z=4, C=2, T=1, dtype=np.uint16) as bw:
    # bfio's array order is Y, X, Z, C, T
    bw[:] = np.transpose(img, (2, 3, 1, 0))[..., None]
