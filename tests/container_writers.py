"""Container stores as their libraries write them to Zarr v2, reproduced with numpy + numcodecs +
json only (notes: realworld_notes/containers.md): a SpatialData store as spatialdata 0.3 and 0.4 write it
(zarr-python 2: JSON indented by 4, keys sorted) and a webknossos dataset as webknossos 4.3 writes
it with ``data_format="zarr"`` (``"zarr_format": "2"`` strings in every .zgroup, Fortran order).

Each ``write_*_like(path)`` returns ``{array path: numpy array}`` with every array of the store.
The parquet files are stand-ins (no pyarrow here): they are copied byte for byte, never read.
"""

from __future__ import annotations

import json
import os

import numcodecs
import numpy as np

BLOSC_LZ4 = {"blocksize": 0, "clevel": 5, "cname": "lz4", "id": "blosc", "shuffle": 1}
ZSTD5 = {"id": "zstd", "level": 5}
PARQUET_STAND_IN = b"PAR1 a stand-in for the parquet file spatialdata writes PAR1"


class _Writer:
    def __init__(self, root, indent=4, sort_keys=True):
        self.root = os.fspath(root)
        self.style = dict(indent=indent, sort_keys=sort_keys)
        self.arrays: dict[str, np.ndarray] = {}

    def file(self, rel: str, data: bytes) -> None:
        full = os.path.join(self.root, *rel.split("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)

    def json(self, rel: str, obj) -> None:
        self.file(rel, json.dumps(obj, **self.style).encode())

    def group(self, path: str, attrs: dict | None = None, zarr_format=2) -> None:
        pre = f"{path}/" if path else ""
        self.json(pre + ".zgroup", {"zarr_format": zarr_format})
        if attrs is not None:
            self.json(pre + ".zattrs", attrs)

    def array(self, path, data, chunks=None, *, compressor=BLOSC_LZ4, order="C", fill_value=0, attrs=None,
              zarray_style=None):
        data = np.asarray(data)
        is_str = data.dtype == object
        chunks = tuple(chunks or data.shape)
        meta = {"chunks": list(chunks), "compressor": compressor, "dimension_separator": "/",
                "dtype": "|O" if is_str else data.dtype.str, "fill_value": fill_value,
                "filters": [{"id": "vlen-utf8"}] if is_str else None, "order": order,
                "shape": list(data.shape), "zarr_format": 2}
        text = json.dumps(meta, **(zarray_style or self.style))
        self.file(f"{path}/.zarray", text.encode())
        if attrs is not None:
            self.json(f"{path}/.zattrs", attrs)
        self.arrays[path] = data
        codec = numcodecs.get_codec(dict(compressor)) if compressor else None
        grid = [range(-(-n // c)) for n, c in zip(data.shape, chunks)]
        for idx in np.ndindex(*[len(g) for g in grid]) if data.ndim else [()]:
            part = data[tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks))]
            buf = np.full(chunks, "" if is_str else fill_value, dtype=data.dtype)
            buf[tuple(slice(0, s) for s in part.shape)] = part
            raw = numcodecs.VLenUTF8().encode(buf) if is_str else np.asarray(buf, order=order).tobytes(order=order)
            raw = codec.encode(raw) if codec is not None else raw
            self.file(f"{path}/" + ("/".join(map(str, idx)) if data.ndim else "0"), bytes(raw))


# --------------------------------------------------------------------------------------------
# SpatialData (spatialdata 0.3.0 and 0.4.0, zarr-python 2.18, anndata 0.12)
# --------------------------------------------------------------------------------------------

def _axes(names, unit=False):
    return [{"name": n, "type": "channel" if n == "c" else "space", **({"unit": "unit"} if unit and n != "c" else {})}
            for n in names]


def _system(names, name):
    return {"axes": _axes(names, unit=True), "name": name}


def _sd_transform(kind, names, output, **values):
    own = "".join(names)
    return {"input": _system(names, own), "output": _system(names, output), **values, "type": kind}


SD_IMAGE_TRANSFORMS = {
    "img": lambda: [
        _sd_transform("scale", "cyx", "global", scale=[1.0, 2.0, 2.0]),
        _sd_transform("sequence", "cyx", "aligned", transformations=[
            _sd_transform("translation", "cyx", "global", translation=[0.0, 5.0, 3.0]),
            _sd_transform("scale", "cyx", "global", scale=[1.0, 0.5, 0.5])])],
    # an affine on x,y written between c,y,x and c,x,y (its output axes in the affine's order)
    "img_ms": lambda: [{**_sd_transform("affine", "cyx", "global", affine=[
        [1.0, 0.0, 0.0, 0.0], [0.0, 0.1, 1.0, 3.0], [0.0, 1.0, 0.0, 4.0]]), "output": _system("cxy", "global")}],
}


def _sd_raster(w, path, name, data, levels, names, transforms, version, *, label):
    datasets = []
    for n in range(levels):
        w.array(f"{path}/{n}", data[(slice(None),) * (data.ndim - 2) + (slice(None, None, 2 ** n),) * 2])
        datasets.append({"coordinateTransformations": [{"scale": [1.0] * (data.ndim - 2) + [2.0 ** n] * 2,
                                                         "type": "scale"}], "path": str(n)})
    ms = {"axes": _axes(names), "coordinateTransformations": transforms, "datasets": datasets, "name": name,
          "version": version}
    attrs = {"multiscales": [ms], "spatialdata_attrs": {"version": "0.2" if "dev" in version else "0.1"}}
    if label:
        attrs["image-label"] = {"version": version}
    else:
        channels = {"channels": [{"label": c} for c in range(data.shape[0])]}
        ms["metadata"] = {"omero": channels}
        attrs["omero"] = channels
    w.group(path, attrs)


def _sd_vector(w, path, kind, file, names, transforms, sd_attrs):
    w.group(path, {"axes": names, "coordinateTransformations": transforms, "encoding-type": f"ngff:{kind}",
                   "spatialdata_attrs": sd_attrs})
    w.file(f"{path}/{file}", PARQUET_STAND_IN + path.encode())


def _anndata(w, base):
    """A regions table as anndata 0.12 writes it through zarr-python 2."""
    d = {"encoding-type": "dict", "encoding-version": "0.1.0"}
    arr = {"encoding-type": "array", "encoding-version": "0.2.0"}
    strs = {"encoding-type": "string-array", "encoding-version": "0.2.0"}
    w.group(base, {"encoding-type": "anndata", "encoding-version": "0.1.0", "instance_key": "instance_id",
                   "region": "circ", "region_key": "region", "spatialdata-encoding-type": "ngff:regions_table",
                   "version": "0.1"})
    w.array(f"{base}/X", np.arange(12, dtype=np.float32).reshape(3, 4) / 7, attrs=arr, fill_value=0.0)
    for g in ("layers", "obsm", "obsp", "varm", "varp", "uns"):
        w.group(f"{base}/{g}", d)
    w.group(f"{base}/obs", {"_index": "_index", "column-order": ["region", "instance_id", "score"],
                            "encoding-type": "dataframe", "encoding-version": "0.2.0"})
    w.array(f"{base}/obs/_index", np.array(["0", "1", "2"], dtype=object), attrs=strs)
    w.array(f"{base}/obs/instance_id", np.arange(3, dtype=np.int64), attrs=arr)
    w.array(f"{base}/obs/score", np.array([0.5, 1.5, 2.5]), attrs=arr, fill_value=0.0)
    w.group(f"{base}/obs/region", {"encoding-type": "categorical", "encoding-version": "0.2.0", "ordered": False})
    w.array(f"{base}/obs/region/categories", np.array(["circ"], dtype=object), attrs=strs)
    w.array(f"{base}/obs/region/codes", np.zeros(3, dtype=np.int8), attrs=arr)
    w.group(f"{base}/var", {"_index": "_index", "column-order": [], "encoding-type": "dataframe",
                            "encoding-version": "0.2.0"})
    w.array(f"{base}/var/_index", np.array(["a", "b", "c", "d"], dtype=object), attrs=strs)
    w.array(f"{base}/raw", np.array(0.0), compressor=None, fill_value=0.0,
            attrs={"encoding-type": "null", "encoding-version": "0.1.0"})
    w.group(f"{base}/uns/spatialdata_attrs", d)
    for key, value in (("instance_key", "instance_id"), ("region", "circ"), ("region_key", "region")):
        w.array(f"{base}/uns/spatialdata_attrs/{key}", np.array(value), compressor=None, fill_value="",
                attrs={"encoding-type": "string", "encoding-version": "0.2.0"})


def write_spatialdata_like(path, version: str = "0.4-dev-spatialdata", software: str = "0.4.0") -> dict[str, np.ndarray]:
    """spatialdata 0.4 (or 0.3: ``version`` "0.4", ``software`` "0.3.0") writing images (one with a level, one with two), labels, points, shapes and a
    table; ``version``: the OME version of its images ("0.4" for RasterFormatV01)."""
    w = _Writer(path)
    rng = np.random.default_rng(0)
    w.group("", {"spatialdata_attrs": {"spatialdata_software_version": software, "version": "0.1"}})
    w.group("images")
    image = rng.integers(0, 255, (3, 64, 48), dtype=np.uint8)
    for name, levels in (("img", 1), ("img_ms", 2)):
        _sd_raster(w, f"images/{name}", f"/images/{name}", image, levels, "cyx", SD_IMAGE_TRANSFORMS[name](),
                   version, label=False)
    w.group("labels", {"labels": ["lab", "lab_ms"]})
    label = rng.integers(0, 5, (64, 48)).astype(np.int32)
    for name, levels in (("lab", 1), ("lab_ms", 2)):
        _sd_raster(w, f"labels/{name}", name, label, levels, "yx", [_sd_transform("identity", "yx", "global")],
                   version, label=True)
    w.group("points")
    _sd_vector(w, "points/pts", "points", "points.parquet/part.0.parquet", ["x", "y"],
               [_sd_transform("translation", "xy", "global", translation=[1.0, 2.0])],
               {"feature_key": "gene", "version": "0.1"})
    w.group("shapes")
    for name in ("circ", "poly"):
        _sd_vector(w, f"shapes/{name}", "shapes", "shapes.parquet", ["x", "y"],
                   [_sd_transform("identity", "xy", "global")], {"version": "0.2"})
    w.group("tables")
    _anndata(w, "tables/table")
    # spatialdata's consolidated metadata (zarr.consolidate_metadata under the key "zmetadata")
    metadata = {}
    for folder, _, files in sorted(os.walk(w.root)):
        rel = os.path.relpath(folder, w.root).replace(os.sep, "/")
        for name in sorted(files):
            if name in (".zgroup", ".zattrs", ".zarray"):
                key = name if rel == "." else f"{rel}/{name}"
                with open(os.path.join(folder, name)) as f:
                    metadata[key] = json.load(f)
    w.json("zmetadata", {"metadata": metadata, "zarr_consolidated_format": 1})
    return w.arrays


# --------------------------------------------------------------------------------------------
# webknossos 4.3 (data_format="zarr")
# --------------------------------------------------------------------------------------------

def _wk_axes():
    return [{"name": "c", "type": "channel"}] + [{"name": n, "type": "space", "unit": "nanometer"} for n in "xyz"]


def write_webknossos_like(path, name: str = "sample") -> dict[str, np.ndarray]:
    """A color layer (3 channels of uint8, mags 1 and 2-2-1) and a segmentation layer (uint32,
    mag 1), voxel size 11.2 x 11.2 x 25 nm; arrays padded to whole 32^3 chunks in Fortran order."""
    w = _Writer(path, indent=4, sort_keys=False)
    compact = dict(separators=(",", ":"), sort_keys=True)
    w.group("", zarr_format="2")
    voxel = [11.2, 11.2, 25.0]
    layers = []
    for layer, channels, dtype, mags in (("color", 3, np.uint8, ((1, 1, 1), (2, 2, 1))),
                                         ("segmentation", 1, np.uint32, ((1, 1, 1),))):
        full = (np.arange(channels * 64 * 48 * 8) % 7).astype(dtype).reshape(channels, 64, 48, 8)
        datasets, mag_list = [], []
        for mag in mags:
            mag_path = "1" if mag == (1, 1, 1) else "-".join(map(str, mag))
            part = full[:, ::mag[0], ::mag[1], ::mag[2]]
            padded = np.zeros((channels,) + tuple(-(-s // 32) * 32 for s in part.shape[1:]), dtype=dtype)
            padded[:, :part.shape[1], :part.shape[2], :part.shape[3]] = part
            w.array(f"{layer}/{mag_path}", padded, (channels, 32, 32, 32), compressor=ZSTD5, order="F",
                    zarray_style=compact)
            datasets.append({"path": mag_path, "coordinateTransformations": [
                {"type": "scale", "scale": [1.0] + [v * m for v, m in zip(voxel, mag)]}]})
            mag_list.append({"mag": list(mag), "path": f"./{layer}/{mag_path}",
                             "axisOrder": {"c": 0, "x": 1, "y": 2, "z": 3}})
        w.group(layer, {"multiscales": [{"version": "0.4", "axes": _wk_axes(), "datasets": datasets}]},
                zarr_format="2")
        entry = {"name": layer, "category": "color" if layer == "color" else "segmentation",
                 "boundingBox": {"topLeft": [0, 0, 0], "width": 64, "height": 48, "depth": 8},
                 "dataFormat": "zarr", "mags": mag_list, "numChannels": channels,
                 "elementClass": np.dtype(dtype).name if channels == 1 else "uint24"}
        if layer == "segmentation":
            entry["largestSegmentId"] = 7
        layers.append(entry)
    w.json("datasource-properties.json", {"id": {"name": name, "team": ""},
                                          "scale": {"factor": voxel, "unit": "nanometer"},
                                          "dataLayers": layers, "version": 1})
    return w.arrays
