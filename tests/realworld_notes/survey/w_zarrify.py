"""zarrify 0.0.8 (zarr-python 2.18, dask distributed): to_zarr(a 3-D TIFF z,y,x uint16, chunks 16,32,32, scale, units):
one level 's0' (NestedDirectoryStore), a multiscale-level scale [1, 1, 1], a translation per dataset."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
import os
from common import image, fresh
import tifffile
from dask.distributed import Client, LocalCluster
from zarrify.to_zarr import to_zarr
if __name__ == "__main__":
    p = fresh("zarrify.ome.zarr")
    tif = p + ".tif"
    tifffile.imwrite(tif, image((32, 64, 64)))  # zarrify reads z-slabs of one chunk: fewer planes fail
    with Client(LocalCluster(n_workers=1, processes=False)) as client:
        to_zarr(tif, p, client, num_workers=1, zarr_chunks=[16, 32, 32], scale=[2.0, 0.5, 0.5],
                translation=[0.0, 0.0, 0.0], units=["micrometer"] * 3)
    os.remove(tif)
