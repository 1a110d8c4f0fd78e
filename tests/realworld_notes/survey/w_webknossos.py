"""webknossos 0.15.0 (zarr v2 through tensorstore): Dataset.add_layer(COLOR, data_format='zarr', num_channels=2)
+ write + downsample (mag 1, 2-2-1, 4-4-1); a SEGMENTATION layer 'nuclei'."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, labels, fresh
import numpy as np
import webknossos as wk
if __name__ == "__main__":  # webknossos downsamples in a process pool (spawn)
    p = fresh("webknossos.zarr")
    ds = wk.Dataset(p, voxel_size=(0.5, 0.5, 2.0))
    color = ds.add_layer("image", wk.COLOR_CATEGORY, data_format="zarr", num_channels=2, dtype_per_channel="uint16")
    mag = color.add_mag(1, chunk_shape=32, chunks_per_shard=1)
    mag.write(np.ascontiguousarray(np.transpose(image(), (0, 3, 2, 1))))  # c, x, y, z
    color.downsample(coarsest_mag=wk.Mag(4))
    seg = ds.add_layer("nuclei", wk.SEGMENTATION_CATEGORY, data_format="zarr", dtype_per_channel="uint32", largest_segment_id=2)
    smag = seg.add_mag(1, chunk_shape=32, chunks_per_shard=1)
    smag.write(np.ascontiguousarray(np.transpose(labels(), (2, 1, 0))))
    seg.downsample(coarsest_mag=wk.Mag(4))

