"""What the container libraries write and read, run by test_containers.py inside their own venvs
(they cannot be installed beside the test extras):

  write-spatialdata DIR          spatialdata 0.3/0.4: images, labels, points, shapes, a table (Zarr v2)
  write-webknossos DIR           webknossos 4.3, data_format "zarr" (Zarr v2; what the replica in
                                 container_writers.py was checked against)
  compare-spatialdata SRC OUT    spatialdata 0.8: every element and transformation equal
  compare-webknossos SRC OUT     webknossos 4.3: every layer and mag equal

Each prints one line saying what it checked; any difference is an AssertionError (exit 1).
"""

import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def write_spatialdata(out):
    import anndata as ad
    import geopandas as gpd
    import pandas as pd
    import spatialdata as sd
    from shapely.geometry import Point, Polygon
    from spatialdata.models import Image2DModel, Labels2DModel, PointsModel, ShapesModel, TableModel
    from spatialdata.transformations import Affine, Identity, Scale, Sequence, Translation

    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (3, 64, 48), dtype=np.uint8)
    yx = ("y", "x")
    images = {
        "img": Image2DModel.parse(img, dims=("c", "y", "x"), transformations={
            "global": Scale([2.0, 2.0], axes=yx),
            "aligned": Sequence([Translation([5.0, 3.0], axes=yx), Scale([0.5, 0.5], axes=yx)])}),
        "img_ms": Image2DModel.parse(img, dims=("c", "y", "x"), scale_factors=[2], transformations={
            "global": Affine(np.array([[1, 0.1, 3], [0, 1, 4], [0, 0, 1]]), input_axes=("x", "y"),
                             output_axes=("x", "y"))}),
    }
    lab = rng.integers(0, 5, (64, 48)).astype(np.int32)
    labels = {"lab": Labels2DModel.parse(lab, dims=yx, transformations={"global": Identity()}),
              "lab_ms": Labels2DModel.parse(lab, dims=yx, scale_factors=[2])}
    df = pd.DataFrame({"x": rng.random(20), "y": rng.random(20),
                       "gene": pd.Categorical(rng.choice(["a", "b"], 20))})
    points = {"pts": PointsModel.parse(df, coordinates={"x": "x", "y": "y"}, feature_key="gene",
                                       transformations={"global": Translation([1.0, 2.0], axes=("x", "y"))})}
    circles = gpd.GeoDataFrame({"geometry": [Point(1, 2), Point(3, 4), Point(5, 6)], "radius": [1.0, 2.0, 3.0]})
    polys = gpd.GeoDataFrame({"geometry": [Polygon([(0, 0), (1, 0), (1, 1)]), Polygon([(2, 2), (3, 2), (3, 3)])]})
    shapes = {"circ": ShapesModel.parse(circles), "poly": ShapesModel.parse(polys)}
    obs = pd.DataFrame({"region": pd.Categorical(["circ"] * 3), "instance_id": [0, 1, 2], "score": [0.5, 1.5, 2.5]})
    table = TableModel.parse(ad.AnnData(X=rng.random((3, 4)).astype(np.float32), obs=obs), region="circ",
                             region_key="region", instance_key="instance_id")
    sd.SpatialData(images=images, labels=labels, points=points, shapes=shapes, tables={"table": table}).write(out)


def _levels(element):
    import xarray as xr

    if isinstance(element, xr.DataArray):
        return [element]
    return [next(iter(element[k].values())) for k in sorted(element.keys())]


def compare_spatialdata(src, out):
    import pandas as pd
    import spatialdata as sd
    from spatialdata.transformations import get_transformation

    a, b = sd.read_zarr(src), sd.read_zarr(out)
    n = 0
    for kind in ("images", "labels", "points", "shapes", "tables"):
        ea, eb = getattr(a, kind), getattr(b, kind)
        assert sorted(ea) == sorted(eb), (kind, list(ea), list(eb))
        for name in ea:
            x, y = ea[name], eb[name]
            if kind in ("images", "labels"):
                xs, ys = _levels(x), _levels(y)
                assert len(xs) == len(ys), name
                for p, q in zip(xs, ys):
                    assert p.dims == q.dims and p.dtype == q.dtype and p.shape == q.shape, (name, p, q)
                    assert np.array_equal(p.values, q.values), name
                    for c in p.coords:
                        assert np.array_equal(p.coords[c].values, q.coords[c].values), (name, c)
            elif kind == "points":
                pd.testing.assert_frame_equal(x.compute(), y.compute())
            elif kind == "shapes":
                pd.testing.assert_frame_equal(pd.DataFrame(x), pd.DataFrame(y))
                assert x.geometry.equals(y.geometry)
            else:
                assert x.shape == y.shape and x.X.dtype == y.X.dtype and np.array_equal(x.X, y.X), name
                pd.testing.assert_frame_equal(x.obs, y.obs)
                pd.testing.assert_frame_equal(x.var, y.var)
                assert sorted(x.obsm) == sorted(y.obsm) and sorted(x.layers) == sorted(y.layers)
                assert x.uns == y.uns, (x.uns, y.uns)  # (key order: the listing's)
            if kind != "tables":
                ta, tb = get_transformation(x, get_all=True), get_transformation(y, get_all=True)
                assert ta.keys() == tb.keys() and all(ta[k] == tb[k] for k in ta), (name, ta, tb)
            n += 1
    print(f"spatialdata {sd.__version__}: {n} elements and their transformations equal")


def write_webknossos(out, data_format="zarr"):
    import webknossos as wk
    from cluster_tools import SequentialExecutor

    ds = wk.Dataset(out, voxel_size=(11.2, 11.2, 25))
    color = ds.add_layer("color", wk.COLOR_CATEGORY, dtype="uint8", num_channels=3, data_format=data_format)
    color.add_mag(1).write((np.arange(3 * 64 * 48 * 8) % 251).astype("uint8").reshape(3, 64, 48, 8),
                           allow_resize=True)
    with SequentialExecutor() as executor:  # no worker processes: a second, not half a minute
        color.downsample(coarsest_mag=wk.Mag(2), executor=executor)
    seg = ds.add_layer("segmentation", wk.SEGMENTATION_CATEGORY, dtype="uint32", largest_segment_id=7,
                       data_format=data_format)
    seg.add_mag(1).write((np.arange(64 * 48 * 8) % 7).astype("uint32").reshape(1, 64, 48, 8), allow_resize=True)


def compare_webknossos(src, out):
    from importlib.metadata import version

    import webknossos as wk

    a, b = wk.Dataset.open(src), wk.Dataset.open(out)
    assert a.voxel_size == b.voxel_size, (a.voxel_size, b.voxel_size)
    assert sorted(a.layers) == sorted(b.layers), (a.layers, b.layers)
    n = 0
    for name, la in a.layers.items():
        lb = b.layers[name]
        assert (la.category, la.dtype_per_channel, la.num_channels) == (lb.category, lb.dtype_per_channel,
                                                                         lb.num_channels)
        assert la.bounding_box == lb.bounding_box, (la.bounding_box, lb.bounding_box)
        assert lb.data_format == wk.DataFormat.Zarr3, lb.data_format
        if la.category == "segmentation":
            assert la.largest_segment_id == lb.largest_segment_id
        assert sorted(la.mags) == sorted(lb.mags)
        for mag, ma in la.mags.items():
            da, db = ma.read(), lb.mags[mag].read()
            assert da.dtype == db.dtype and da.shape == db.shape and np.array_equal(da, db), (name, mag)
            n += 1
    print(f"webknossos {version('webknossos')}: {len(a.layers)} layers, {n} mags equal")


if __name__ == "__main__":  # webknossos starts worker processes: nothing runs on import
    command, *paths = sys.argv[1:]
    {"write-spatialdata": write_spatialdata, "write-webknossos": write_webknossos,
     "compare-spatialdata": compare_spatialdata, "compare-webknossos": compare_webknossos}[command](*paths)
