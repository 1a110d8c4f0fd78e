"""aicsimageio 4.14.0 OmeZarrWriter (ome-zarr 0.11.1, zarr-python 2.15): t,c,z,y,x, 3 levels."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
from aicsimageio.writers import OmeZarrWriter
from aicsimageio.types import PhysicalPixelSizes
p = fresh("aicsimageio.ome.zarr")
w = OmeZarrWriter(p)
w.write_image(image()[None], "Image:0", PhysicalPixelSizes(2.0, 0.5, 0.5), ["DAPI", "GFP"], [0x0000FF, 0x00FF00],
              scale_num_levels=3, scale_factor=2.0, dimension_order="TCZYX")
