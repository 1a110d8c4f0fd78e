"""ngio 0.1.6 (zarr-python 2.18): create_empty_ome_zarr_image(c,z,y,x, levels=3) + set_array + consolidate,
labels.derive('nuclei') + set_array + consolidate; an ROI table (tables.new('roi', table_type='roi_table'))."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, labels, fresh
from ngio.core.utils import create_empty_ome_zarr_image
from ngio.ngff_meta.fractal_image_meta import PixelSize
from ngio import NgffImage
p = fresh("ngio01.ome.zarr")
create_empty_ome_zarr_image(p, on_disk_shape=(2, 4, 64, 64), on_disk_axis=("c", "z", "y", "x"), chunks=(1, 4, 32, 32),
                            pixel_sizes=PixelSize(x=0.5, y=0.5, z=2.0), levels=3, channel_labels=["DAPI", "GFP"])
ngff = NgffImage(p)
img = ngff.get_image()
img.set_array(image())
img.consolidate()
lab = ngff.labels.derive("nuclei", levels=3)
lab.set_array(labels(dtype=lab.on_disk_array.dtype))
lab.consolidate()
try:
    t = ngff.tables.new("FOV_ROI_table", table_type="roi_table")
    t.consolidate() if hasattr(t, "consolidate") else None
except Exception as e:  # noqa: BLE001
    print("tables:", type(e).__name__, e)
