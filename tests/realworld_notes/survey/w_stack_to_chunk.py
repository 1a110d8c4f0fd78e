"""stack-to-chunk 1.6 (zarr-python 2.18): MultiScaleGroup(voxel_size, spatial_unit) + create_initial_dataset +
add_full_res_data + add_downsample_level(1), (2); a 3-D x,y,z uint16 volume (its only layout)."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from pathlib import Path
from common import image, fresh
import dask.array as da
from stack_to_chunk import MultiScaleGroup
p = Path(fresh("stack_to_chunk.ome.zarr"))
vol = image((64, 64, 32))  # x, y, z (stack-to-chunk takes z-slabs as its last axis)
data = da.from_array(vol, chunks=(64, 64, 1))
g = MultiScaleGroup(p, name="stack", voxel_size=(0.5, 0.5, 2.0), spatial_unit="micrometer")
g.create_initial_dataset(data, chunk_size=16, compressor="default")
g.add_full_res_data(data, n_processes=1)
g.add_downsample_level(1, n_processes=1)
g.add_downsample_level(2, n_processes=1)
