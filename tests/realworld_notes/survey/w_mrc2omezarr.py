"""mrc2omezarr 0.3 (ome-zarr 0.11.1 write_multiscale, pydantic-ome-ngff 0.6.1, zarr-python 2.18): an MRC volume
(z,y,x uint16 = MRC mode 6) converted with its CLI entry."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
import os
from common import image, fresh
import mrcfile
from mrc2omezarr.proc import convert_mrc_to_ngff
p = fresh("mrc2omezarr.ome.zarr")
mrc = p + ".mrc"
with mrcfile.new(mrc, overwrite=True) as m:
    m.set_data(image((32, 64, 64)))  # mode 6: uint16
    m.voxel_size = (2.0, 0.5, 0.5)
convert_mrc_to_ngff(mrc, p, chunk_size=(32, 32, 32))
os.remove(mrc)
