"""iohub 0.1.0 (zarr-python 2.15): HCS plate, 2 wells, t,c,z,y,x, create_image('0', data) + initialize_pyramid(3);
NGFF version '0.4' (version='0.1' is offered but crashes in iohub's own warning: str.join with 2 arguments)."""
import sys; sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import image, fresh
from iohub.ngff import open_ome_zarr
from iohub.ngff_meta import TransformationMeta
version = sys.argv[1] if len(sys.argv) > 1 else "0.4"
p = fresh("iohub01.ome.zarr")
with open_ome_zarr(p, layout="hcs", mode="w-", channel_names=["DAPI", "GFP"], version=version) as plate:
    for w, (r, c) in enumerate([("A", "1"), ("B", "2")]):
        pos = plate.create_position(r, c, "0")
        pos.create_image("0", image(seed=w)[None], chunks=(1, 1, 4, 32, 32),
                         transform=[TransformationMeta(type="scale", scale=[1.0, 1.0, 2.0, 0.5, 0.5])])
        pos.initialize_pyramid(3)
        for lvl in (1, 2):  # initialize_pyramid halves z, y and x (shape rounded up)
            f = 2 ** lvl
            pos[str(lvl)][...] = image(seed=w)[None][:, :, ::f, ::f, ::f]
