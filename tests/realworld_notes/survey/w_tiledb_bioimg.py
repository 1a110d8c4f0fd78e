"""tiledb-bioimg 0.2.15 (ome-zarr 0.9, zarr-python 2.18): OMEZarrConverter.to_tiledb(an OME-Zarr written by
ome-zarr-py write_image, c,z,y,x, 3 levels) then OMEZarrConverter.from_tiledb(...) -> the OME-Zarr it writes."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
import shutil
from common import image, fresh
import zarr
from ome_zarr.io import parse_url
from ome_zarr.writer import write_image
from tiledb.bioimg.converters.ome_zarr import OMEZarrConverter
p = fresh("tiledb_bioimg.ome.zarr")
src, tdb = p + ".src", p + ".tdb"
for d in (src, tdb):
    shutil.rmtree(d, ignore_errors=True)
root = zarr.group(parse_url(src, mode="w").store)
write_image(image(), root, axes="czyx", scaler=None)
OMEZarrConverter.to_tiledb(src, tdb)
OMEZarrConverter.from_tiledb(tdb, p)
shutil.rmtree(src); shutil.rmtree(tdb)
