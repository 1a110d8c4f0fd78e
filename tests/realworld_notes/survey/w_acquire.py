"""acquire-zarr 0.2.4 (C++ streaming writer, no zarr-python): ZarrVersion.V2, multiscale=True, blosc zstd;
c,z,y,x uint16 streamed frame by frame (the first dimension is the append dimension)."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
import acquire_zarr as aqz
p = fresh("acquire.ome.zarr")
img = image()
dims = [aqz.Dimension(name="c", kind=aqz.DimensionType.CHANNEL, array_size_px=2, chunk_size_px=1, shard_size_chunks=1),
        aqz.Dimension(name="z", kind=aqz.DimensionType.SPACE, array_size_px=4, chunk_size_px=4, shard_size_chunks=1),
        aqz.Dimension(name="y", kind=aqz.DimensionType.SPACE, array_size_px=64, chunk_size_px=32, shard_size_chunks=1),
        aqz.Dimension(name="x", kind=aqz.DimensionType.SPACE, array_size_px=64, chunk_size_px=32, shard_size_chunks=1)]
settings = aqz.StreamSettings(store_path=p, version=aqz.ZarrVersion.V2, data_type=aqz.DataType.UINT16, multiscale=True,
                              compression=aqz.CompressionSettings(compressor=aqz.Compressor.BLOSC1,
                                                                  codec=aqz.CompressionCodec.BLOSC_ZSTD, level=1, shuffle=1))
settings.dimensions.extend(dims)
stream = aqz.ZarrStream(settings)
stream.append(img.reshape(-1, 64, 64))
del stream
