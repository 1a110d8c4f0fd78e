"""More real-world OME-Zarr (<= 0.4, Zarr v2) layouts: the writer survey of issue 17.

Like ``realworld_writers`` (whose ``_Store`` this module uses): each ``write_*_like(path)`` writes with
numpy + numcodecs + json only the files that one library version was observed to write
(tests/realworld_notes/REPORT.md, section 7; the scripts that ran the real libraries are in
tests/realworld_notes/survey/): the same file set, the same metadata bytes (keys, key order,
formatting), dtypes, compressors, chunk keys and skipped chunks. Pixel values of lower levels and
data-derived numbers may differ. Each returns ``{array path: numpy array a reader returns}``.

``SURVEY_DEFECTS`` lists, per function, what each layout carries that is unusual.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from realworld_writers import BLOSC_LZ4, BLOSC_ZSTD1_BITSHUFFLE, _image, _labels_zyx, _Store, _zmeta_order

__all__ = [
    "SURVEY_DEFECTS",
    "write_aicsimageio_like",
    "write_pydantic_ome_ngff_like",
    "write_ome_zarr_models_like",
    "write_xarray_ome_ngff_like",
    "write_ngff_zarr_08_like",
    "write_acquire_zarr_like",
    "write_stack_to_chunk_like",
    "write_tiledb_bioimg_like",
    "write_zarrify_like",
    "write_multiscale_spatial_image_like",
    "write_mrc2omezarr_like",
    "write_iohub_01_like",
    "write_ngio_01_like",
    "write_bfio_like",
    "write_spatialdata_like",
    "write_webknossos_like",
]

ZSTD3 = {"checksum": False, "id": "zstd", "level": 3}
_UM = "micrometer"


def _axes(names: str, unit: str | None = _UM, channel_type: bool = True) -> list[dict]:
    out = []
    for n in names:
        if n.lower() == "c":
            out.append({"name": n, "type": "channel"} if channel_type else {"name": n})
        elif n.lower() == "t":
            out.append({"name": n, "type": "time", "unit": "second"})
        else:
            out.append({"name": n, "type": "space", **({"unit": unit} if unit else {})})
    return out


def _scale(scale, translation=None) -> list[dict]:
    """A dataset's transforms as zarr-python 2 sorts them (scale before type)."""
    t = [{"scale": list(scale), "type": "scale"}]
    if translation is not None:
        t.append({"translation": list(translation), "type": "translation"})
    return t


def _levels(img: np.ndarray, n: int, axes: tuple[int, ...]) -> list[np.ndarray]:
    out = [img]
    for _ in range(n - 1):
        sl = [slice(None)] * img.ndim
        for a in axes:
            sl[a] = slice(None, None, 2)
        out.append(np.ascontiguousarray(out[-1][tuple(sl)]))
    return out


def _consolidated(s: _Store, base: str = "") -> dict:
    """The metadata dict zarr-python 2's consolidate_metadata collects: every .zattrs/.zgroup/.zarray
    below ``base`` as it is on disk, keyed by its path relative to ``base``."""
    top = os.path.join(s.root, *base.split("/")) if base else s.root
    meta = {}
    for d, dirs, files in os.walk(top):
        for f in files:
            if f in (".zattrs", ".zgroup", ".zarray"):
                rel = os.path.relpath(os.path.join(d, f), top).replace(os.sep, "/")
                with open(os.path.join(d, f), "rb") as fh:
                    meta[rel] = json.loads(fh.read())
    return {"metadata": meta, "zarr_consolidated_format": 1}


# --------------------------------------------------------------------------------------------
# image writers that give valid 0.4
# --------------------------------------------------------------------------------------------

def write_aicsimageio_like(path) -> dict[str, np.ndarray]:
    """aicsimageio 4.14.0 ``OmeZarrWriter.write_image`` (ome-zarr 0.11, zarr-python 2.18): t,c,z,y,x,
    3 levels, one chunk per (t, c) plane stack; time unit millisecond; omero colours lower-case hex,
    window 0-1 whatever the dtype, integer coefficient."""
    s = _Store(path, "zarr2")
    img = _image()[None]
    chan = lambda label, color: {"active": True, "coefficient": 1, "color": color, "family": "linear",
                                 "inverted": False, "label": label,
                                 "window": {"end": 1.0, "max": 1.0, "min": 0.0, "start": 0.0}}
    axes = _axes("tczyx")
    axes[0]["unit"] = "millisecond"
    s.group("", {
        "multiscales": [{"axes": axes, "datasets": [
            {"coordinateTransformations": _scale([1.0, 1.0, 2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]), "path": str(i)}
            for i in range(3)], "name": "/", "version": "0.4"}],
        "omero": {"channels": [chan("DAPI", "0000ff"), chan("GFP", "00ff00")], "id": 1, "name": "Image:0",
                  "rdefs": {"defaultT": 0, "defaultZ": 2, "model": "color"}, "version": "0.4"},
    })
    for i, a in enumerate(_levels(img, 3, (3, 4))):
        s.array(str(i), a, (1, 1) + a.shape[2:], compressor=BLOSC_LZ4)
    return s.arrays


def _sxyz_datasets(paths, int_scale: bool, translate: bool):
    out = []
    for i, p in enumerate(paths):
        f = 2 ** i
        one, two = (1, 2) if int_scale else (1.0, 2.0)
        zero = 0 if int_scale else 0.0
        t = [zero, zero, 0.25 * (f - 1), 0.25 * (f - 1)] if translate else None
        out.append({"coordinateTransformations": _scale([one, two, 0.5 * f, 0.5 * f], t), "path": p})
    return out


def write_pydantic_ome_ngff_like(path) -> dict[str, np.ndarray]:
    """pydantic-ome-ngff 0.6.1 ``v04.MultiscaleGroup.from_arrays(...).to_zarr()`` (pydantic-zarr 0.7,
    zarr-python 2.18): paths s0-s2, integer scale/translation values where given as ints, zstd level 3,
    ``{}`` .zattrs on every array (pydantic-zarr writes attributes always), sorted keys."""
    s = _Store(path, "zarr2")
    s.group("", {"multiscales": [{"axes": _axes("czyx"), "datasets": _sxyz_datasets(["s0", "s1", "s2"], True, True),
                                  "name": "image", "version": "0.4"}]})
    for i, a in enumerate(_levels(_image(), 3, (2, 3))):
        s.array(f"s{i}", a, (1, 4, 32, 32), compressor=ZSTD3)
        s.json(f"s{i}/.zattrs", {})
    return s.arrays


def write_xarray_ome_ngff_like(path) -> dict[str, np.ndarray]:
    """xarray-ome-ngff 3.1.1 ``v04.create_multiscale_group`` from DataArrays (pydantic-ome-ngff 0.6.0,
    zarr-python 2.18): as pydantic-ome-ngff, but the channel axis has **no type** (a coordinate
    without units/type attributes), float transforms and no multiscale name."""
    s = _Store(path, "zarr2")
    s.group("", {"multiscales": [{"axes": _axes("czyx", channel_type=False),
                                  "datasets": _sxyz_datasets(["s0", "s1", "s2"], False, True), "version": "0.4"}]})
    for i, a in enumerate(_levels(_image(), 3, (2, 3))):
        s.array(f"s{i}", a, (1, 4, 32, 32), compressor=ZSTD3)
        s.json(f"s{i}/.zattrs", {})
    return s.arrays


def write_ome_zarr_models_like(path) -> dict[str, np.ndarray]:
    """ome-zarr-models 1.7 ``v04.Image.new(...).to_zarr()`` (pydantic-zarr 0.9, zarr-python 3.1 writing
    v2): explicit nulls (``"unit": null`` on the channel axis, multiscale ``"metadata": null``,
    ``"type": null``, top-level ``"omero": null``), no compressor, ``{}`` .zattrs on arrays."""
    s = _Store(path, "zarr3")
    axes = _axes("czyx")
    axes[0]["unit"] = None
    s.group("", {"multiscales": [{
        "axes": axes,
        "datasets": [{"path": str(i), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]}]} for i in range(3)],
        "metadata": None, "name": "image", "type": None, "version": "0.4"}], "omero": None})
    for i, a in enumerate(_levels(_image(), 3, (2, 3))):
        s.array(str(i), a, (1, 4, 32, 32), compressor=None, write_empty_chunks=False)
    return s.arrays


def write_ngff_zarr_08_like(path) -> dict[str, np.ndarray]:
    """ngff-zarr 0.8.7 (zarr-python 2.18) ``to_ngff_zarr(to_multiscales(img, [2, 4],
    method=DASK_IMAGE_GAUSSIAN))``: arrays at ``scale{N}/image`` in groups holding xarray's
    ``_ARRAY_DIMENSIONS``, a **translation of 1.0 on the channel axis**, z downsampled too, root
    ``.zmetadata`` (zarr-python 2, consistent with the files), sorted keys."""
    s = _Store(path, "zarr2")
    trans = [[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.25, 0.25], [1.0, 3.0, 0.75, 0.75]]
    s.group("", {"multiscales": [{
        "@type": "ngff:Image", "axes": _axes("czyx"),
        "datasets": [{"coordinateTransformations": _scale([1.0, 2.0 * 2 ** i, 0.5 * 2 ** i, 0.5 * 2 ** i], trans[i]),
                      "path": f"scale{i}/image"} for i in range(3)],
        "name": "image", "version": "0.4"}]})
    chunks = [(2, 4, 32, 32), (2, 2, 32, 32), (2, 1, 16, 16)]
    for i, a in enumerate(_levels(_image(), 3, (1, 2, 3))):
        s.group(f"scale{i}", {"_ARRAY_DIMENSIONS": ["c", "z", "y", "x"]})
        s.array(f"scale{i}/image", a, chunks[i], compressor=BLOSC_LZ4)
    s.json(".zmetadata", _consolidated(s))
    return s.arrays


def write_acquire_zarr_like(path) -> dict[str, np.ndarray]:
    """acquire-zarr 0.2.4 (C++ streaming writer, ``ZarrVersion.V2``, ``multiscale=True``): 2 levels
    (it stops when a level fits one chunk), every dimension but the first halved, yet the level-1
    scale is ``[2.0, 1.0, 2.0, 2.0]``: **2 on the channel axis and 1 on the halved z axis**; units only
    on y and x; blosc compressor **without "blocksize"**; skimage-style "metadata" and "type"."""
    s = _Store(path, "zarr2")
    axes = _axes("czyx")
    del axes[1]["unit"]
    s.group("", {"multiscales": [{
        "axes": axes,
        "datasets": [{"coordinateTransformations": _scale([1.0, 1.0, 1.0, 1.0]), "path": "0"},
                     {"coordinateTransformations": _scale([2.0, 1.0, 2.0, 2.0]), "path": "1"}],
        "metadata": {"args": "[2]", "description": "The fields in the metadata describe how to reproduce this "
                     "multiscaling in scikit-image. The method and its parameters are given here.",
                     "kwargs": ["cval", 0], "method": "skimage.transform.downscale_local_mean", "version": "0.21.0"},
        "name": "/", "type": "local_mean", "version": "0.4"}]})
    comp = {"clevel": 1, "cname": "zstd", "id": "blosc", "shuffle": 1}
    for i, a in enumerate(_levels(_image(), 2, (1, 2, 3))):
        s.array(str(i), a, (1,) + tuple(min(n, c) for n, c in zip(a.shape[1:], (4, 32, 32))), compressor=comp)
    return s.arrays


def write_stack_to_chunk_like(path) -> dict[str, np.ndarray]:
    """stack-to-chunk 1.6 ``MultiScaleGroup`` (zarr-python 2.18): a 3-D volume with axes **x, y, z**
    (in that order), a half-voxel translation on every level, 16^3 chunks on every level."""
    s = _Store(path, "zarr2")
    s.group("", {"multiscales": [{
        "axes": _axes("xyz"),
        "datasets": [{"coordinateTransformations": _scale([0.5 * 2 ** i, 0.5 * 2 ** i, 2.0 * 2 ** i],
                                                           [0.25 * 2 ** i, 0.25 * 2 ** i, 1.0 * 2 ** i]),
                      "path": str(i)} for i in range(3)],
        "metadata": {"description": "Downscaled using local mean in 2x2x2 blocks.",
                     "kwargs": {"block_size": 2, "func": "np.mean"}, "method": "skimage.measure.block_reduce",
                     "version": "0.24.0"},
        "name": "stack", "type": "local mean", "version": "0.4"}]})
    for i, a in enumerate(_levels(_image((64, 64, 32)), 3, (0, 1, 2))):
        s.array(str(i), a, (16, 16, 16), compressor=BLOSC_LZ4)
    return s.arrays


def write_multiscale_spatial_image_like(path, version: str = "1") -> dict[str, np.ndarray]:
    """multiscale-spatial-image ``to_multiscale(...).msi.to_zarr()``: version "1" = 1.0.1 (xarray-datatree
    0.0.14, zarr-python 2.18), "2" = 2.0.3 (xarray's DataTree on zarr-python 3.1 writing v2). The xarray
    layout: ``scale{N}/image`` plus **coordinate arrays** ``c`` (fixed-length unicode ``<U4``, fill null),
    ``z``/``y``/``x`` (float64, fill "NaN"), every array with ``_ARRAY_DIMENSIONS``; the image's
    ``"fill_value": null``; ``"unit": ""`` (empty) on the channel axis; "." chunk keys; a root
    ``.zmetadata`` (2: one line, the v3-style ``consolidated_metadata`` on group entries) and a
    non-NGFF ``multiscaleSpatialImageVersion`` key."""
    v1 = version == "1"
    s = _Store(path, "zarr2" if v1 else "zarr3")
    trans = [0.25 * (2 ** i - 1) for i in range(3)]
    axes = _axes("czyx")
    axes[0]["unit"] = ""
    if v1:
        ms = {"@type": "ngff:Image", "axes": axes, "datasets": [
            {"coordinateTransformations": _scale([1.0, 2.0, 0.5 * 2 ** i, 0.5 * 2 ** i], [0.0, 0.0, trans[i], trans[i]]),
             "path": f"scale{i}/image"} for i in range(3)], "name": "image", "version": "0.4"}
        s.group("", {"multiscaleSpatialImageVersion": 1, "multiscales": [ms]})
    else:
        ms = {"@type": "ngff:Image", "version": "0.4", "name": "image", "axes": axes, "datasets": [
            {"path": f"scale{i}/image", "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]},
                {"type": "translation", "translation": [0.0, 0.0, trans[i], trans[i]]}]} for i in range(3)]}
        s.group("", {"multiscales": [ms], "multiscaleSpatialImageVersion": 1})
    sep = None if v1 else "."
    for i, a in enumerate(_levels(_image(), 3, (2, 3))):
        s.json(f"scale{i}/.zgroup", {"zarr_format": 2})
        s.json(f"scale{i}/.zattrs", {})
        coords = {"c": np.array(["DAPI", "GFP"], dtype="<U4"), "x": np.arange(a.shape[3]) * 0.5 * 2 ** i + trans[i],
                  "y": np.arange(a.shape[2]) * 0.5 * 2 ** i + trans[i], "z": np.arange(4) * 2.0}
        for name in ("c", "image", "x", "y", "z"):
            if name == "image":
                s.array(f"scale{i}/image", a, (1, 4, 32, 32) if i < 2 else (1, 4, 16, 16), compressor=BLOSC_LZ4,
                        sep=sep, fill_value=None, attrs={"_ARRAY_DIMENSIONS": ["c", "z", "y", "x"]})
                continue
            unit = "" if name == "c" else _UM
            attrs = ({"_ARRAY_DIMENSIONS": [name], "long_name": name, "units": unit} if v1
                     else {"long_name": name, "units": unit, "_ARRAY_DIMENSIONS": [name]})
            c = coords[name]
            s.array(f"scale{i}/{name}", c, c.shape, compressor=BLOSC_LZ4, sep=sep,
                    fill_value=None if name == "c" else "NaN", attrs=attrs)
    if v1:
        s.json(".zmetadata", _consolidated(s))
    else:
        meta = _consolidated(s)["metadata"]
        for k in meta:
            if k.endswith(".zgroup") and "/" in k:
                meta[k] = {**meta[k], "consolidated_metadata": {"metadata": {}, "must_understand": False, "kind": "inline"}}
        s.json(".zmetadata", {"metadata": {k: meta[k] for k in _zmeta_order(list(meta))}, "zarr_consolidated_format": 1},
               style="compact")
    return s.arrays


def write_zarrify_like(path) -> dict[str, np.ndarray]:
    """zarrify 0.0.8 ``to_zarr`` from a 3-D TIFF (zarr-python 2.18 NestedDirectoryStore, dask): one level
    ``s0`` only, a **multiscale-level** ``scale [1.0, 1.0, 1.0]`` transform, a zero translation on the
    dataset, zstd level 6, unit from the caller (nanometer by default)."""
    s = _Store(path, "zarr2")
    s.group("", {"multiscales": [{
        "axes": _axes("zyx"), "coordinateTransformations": _scale([1.0, 1.0, 1.0]),
        "datasets": [{"coordinateTransformations": _scale([2.0, 0.5, 0.5], [0.0, 0.0, 0.0]), "path": "s0"}],
        "name": "/", "version": "0.4"}]})
    s.array("s0", _image((32, 64, 64)), (16, 32, 32), compressor={"checksum": False, "id": "zstd", "level": 6})
    return s.arrays


def write_tiledb_bioimg_like(path) -> dict[str, np.ndarray]:
    """tiledb-bioimg 0.2.15 ``OMEZarrConverter.from_tiledb`` (ome-zarr 0.9, zarr-python 2.18): one level
    in one chunk, unit-less axes, all-ones scale, multiscale ``"metadata": null``."""
    s = _Store(path, "zarr2")
    s.group("", {"multiscales": [{"axes": _axes("czyx", unit=None),
                                  "datasets": [{"coordinateTransformations": _scale([1.0] * 4), "path": "0"}],
                                  "metadata": None, "name": "/", "version": "0.4"}]})
    img = _image()
    s.array("0", img, img.shape, compressor=BLOSC_LZ4)
    return s.arrays


def write_mrc2omezarr_like(path) -> dict[str, np.ndarray]:
    """mrc2omezarr 0.3 (ome-zarr 0.11 ``write_multiscale``, zarr-python 2.18) from a uint16 MRC volume:
    **float64** arrays (local-mean pyramid), units angstrom, the whole MRC header under the multiscale's
    "metadata" (bytes as ``"b'...'"`` strings, a string of **NUL characters** escaped ``\\u0000``)."""
    s = _Store(path, "zarr2")
    header = {"cella": {"x": 128.0, "y": 32.0, "z": 16.0}, "cellb": {"alpha": 90.0, "beta": 90.0, "gamma": 90.0},
              "dmax": 999.0, "dmean": 498.58917236328125, "dmin": 0.0,
              "extra1": "b'" + "\\x00" * 8 + "'", "extra2": "b'" + "\\x00" * 84 + "'", "exttyp": "\x00" * 4,
              "ispg": 1, "label": ["Created by mrcfile.py" + " " * 39 + "2026-12-03 15:42:30 "] + [""] * 9,
              "machst": "b'DD\\x00\\x00'", "map": "MAP ", "mapc": 1, "mapr": 2, "maps": 3, "mode": 6,
              "mx": 64, "my": 64, "mz": 32, "nlabl": 1, "nsymbt": 0, "nversion": 20141, "nx": 64, "nxstart": 0,
              "ny": 64, "nystart": 0, "nz": 32, "nzstart": 0, "origin": {"x": 0.0, "y": 0.0, "z": 0.0},
              "rms": 288.88238525390625}
    s.group("", {"multiscales": [{
        "axes": _axes("zyx", unit="angstrom"),
        "datasets": [{"coordinateTransformations": _scale([2.0 * 2 ** i, 0.5 * 2 ** i, 0.5 * 2 ** i]), "path": str(i)}
                     for i in range(3)],
        "metadata": {"source_mrc_header": header}, "name": "/", "version": "0.4"}]})
    vol = _image((32, 64, 64)).astype(np.float64)
    for i, a in enumerate(_levels(vol, 3, (0, 1, 2))):
        s.array(str(i), a, (32, 32, 32), compressor=BLOSC_LZ4, fill_value=0.0)
    return s.arrays


# --------------------------------------------------------------------------------------------
# writers whose 0.4 needs repairs or extra care
# --------------------------------------------------------------------------------------------

def write_iohub_01_like(path) -> dict[str, np.ndarray]:
    """iohub 0.1.0 (zarr-python 2.15) HCS plate, ``create_image('0', data, transform=[scale])`` +
    ``initialize_pyramid(3)``: the multiscale-level ``[{"type": "identity"}]`` of iohub 0.2, and the
    pyramid's scales **divided** instead of multiplied (level 1 half the level-0 voxel size while its
    shape is halved too: a wrong but schema-valid pyramid); z halved with y and x, chunks halved per
    level; wells without "version"; upper-case axes; blosc zstd bit-shuffle."""
    s = _Store(path, "zarr2")
    wells = [("A", "1"), ("B", "2")]
    s.group("", {"plate": {"acquisitions": [{"id": 0}], "columns": [{"name": c} for _, c in wells],
                           "rows": [{"name": r} for r, _ in wells], "version": "0.4",
                           "wells": [{"columnIndex": i, "path": f"{r}/{c}", "rowIndex": i}
                                     for i, (r, c) in enumerate(wells)]}})
    chan = lambda label, color: {"active": True, "coefficient": 1.0, "color": color, "family": "linear",
                                 "inverted": False, "label": label,
                                 "window": {"end": 65535.0, "max": 65535.0, "min": 0.0, "start": 0.0}}
    for w, (r, c) in enumerate(wells):
        s.group(r)
        s.group(f"{r}/{c}", {"well": {"images": [{"acquisition": 0, "path": "0"}]}})
        s.group(f"{r}/{c}/0", {
            "multiscales": [{"axes": _axes("TCZYX"), "coordinateTransformations": [{"type": "identity"}],
                             "datasets": [{"coordinateTransformations": _scale(
                                 [1.0, 1.0, 2.0 / 2 ** i, 0.5 / 2 ** i, 0.5 / 2 ** i]), "path": str(i)} for i in range(3)],
                             "name": "0", "version": "0.4"}],
            "omero": {"channels": [chan("DAPI", "0000FF"), chan("GFP", "00FF00")], "id": 0, "name": "0",
                      "rdefs": {"defaultT": 0, "defaultZ": 0, "model": "color", "projection": "normal"},
                      "version": "0.4"}})
        for i, a in enumerate(_levels(_image(seed=w)[None], 3, (2, 3, 4))):
            f = 2 ** i
            s.array(f"{r}/{c}/0/{i}", a, (1, 1, 4 // f, 32 // f, 32 // f), compressor=BLOSC_ZSTD1_BITSHUFFLE)
    return s.arrays


def write_ngio_01_like(path) -> dict[str, np.ndarray]:
    """ngio 0.1.6 (zarr-python 2.18, anndata 0.12 writing v2): c,z,y,x image + labels (uint16, the
    image's dtype) + an **empty** ROI table ``tables/FOV_ROI_table``: every column (even the numeric
    ones) a zero-length ``|O`` vlen-utf8 array with ``"fill_value": 0`` and chunks [1], X of shape
    [0, 0], a 0-d float64 ``raw`` array (``encoding-type "null"``) with one uncompressed chunk ``0``,
    and a table ``.zmetadata`` whose root .zattrs entry is stale (ngio's keys added afterwards).
    omero windows are integers; channels carry ``wavelength_id``; no multiscale name."""
    s = _Store(path, "zarr2")
    img = _image()
    s.group("", {
        "multiscales": [{"axes": _axes("czyx"), "datasets": [
            {"coordinateTransformations": _scale([1.0, 2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]), "path": str(i)}
            for i in range(3)], "version": "0.4"}],
        "omero": {"channels": [
            {"active": True, "color": col, "label": lab, "wavelength_id": lab,
             "window": {"end": 65535, "max": 65535, "min": 0, "start": 0}}
            for lab, col in (("DAPI", "0000FF"), ("GFP", "00FF00"))], "version": "0.4"}})
    for i, a in enumerate(_levels(img, 3, (2, 3))):
        s.array(str(i), a, (1, 4) + tuple(min(n, 32) for n in a.shape[2:]), compressor=BLOSC_LZ4)
    s.group("labels", {"labels": ["nuclei"]})
    s.group("labels/nuclei", {
        "image-label": {"source": {"image": "../../"}, "version": "0.4"},
        "multiscales": [{"axes": _axes("zyx"), "datasets": [
            {"coordinateTransformations": _scale([2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]), "path": str(i)} for i in range(3)],
            "name": "nuclei", "version": "0.4"}]})
    for i, a in enumerate(_levels(_labels_zyx(dtype=np.uint16), 3, (1, 2))):
        s.array(f"labels/nuclei/{i}", a, (4,) + tuple(min(n, 32) for n in a.shape[1:]), compressor=BLOSC_LZ4)
    base = "tables/FOV_ROI_table"
    s.group("tables", {"tables": ["FOV_ROI_table"]})
    enc = {"encoding-type": "anndata", "encoding-version": "0.1.0"}
    s.group(base, enc)
    dict_attrs = {"encoding-type": "dict", "encoding-version": "0.1.0"}
    for g in ("layers", "obsm", "obsp", "uns", "varm", "varp"):
        s.group(f"{base}/{g}", dict_attrs)
    cols = ["x_micrometer", "y_micrometer", "z_micrometer", "len_x_micrometer", "len_y_micrometer", "len_z_micrometer"]
    s.group(f"{base}/obs", {"_index": "FieldIndex", "column-order": cols, "encoding-type": "dataframe",
                            "encoding-version": "0.2.0"})
    s.group(f"{base}/var", {"_index": "_index", "column-order": [], "encoding-type": "dataframe",
                            "encoding-version": "0.2.0"})
    str_attrs = {"encoding-type": "string-array", "encoding-version": "0.2.0"}
    empty = np.array([], dtype=object)
    for col in ["FieldIndex"] + cols:
        s.array(f"{base}/obs/{col}", empty, (1,), compressor=BLOSC_LZ4, sep=None, filters=[{"id": "vlen-utf8"}],
                attrs=str_attrs)
    s.array(f"{base}/var/_index", empty, (1,), compressor=BLOSC_LZ4, sep=None, filters=[{"id": "vlen-utf8"}],
            attrs=str_attrs)
    s.array(f"{base}/X", np.zeros((0, 0)), (1, 1), compressor=BLOSC_LZ4, sep=None, fill_value=0.0,
            attrs={"encoding-type": "array", "encoding-version": "0.2.0"})
    s.array(f"{base}/raw", np.array(0.0), (), compressor=None, sep=None, fill_value=0.0,
            attrs={"encoding-type": "null", "encoding-version": "0.1.0"})
    s.json(f"{base}/.zmetadata", _consolidated(s, base))  # consolidated before ngio adds its keys
    s.json(f"{base}/.zattrs", {**enc, "fractal_table_version": "1", "type": "roi_table"})
    return s.arrays


# --------------------------------------------------------------------------------------------
# layouts other branches make convertible (versions: 0.1 and "zarr_format": "2";
# containers: SpatialData and webknossos stores)
# --------------------------------------------------------------------------------------------

_BFIO_XML = """<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.openmicroscopy.org/Schemas/OME/2016-06 \
http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd">
  <Image ID="Image:0">
    <Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" BigEndian="false" SizeX="64" SizeY="64" SizeZ="4" \
SizeC="2" SizeT="1">
      <Channel ID="Channel:0" SamplesPerPixel="1"/>
      <Channel ID="Channel:1" SamplesPerPixel="1"/>
      <TiffData/>
    </Pixels>
  </Image>
</OME>"""


def write_bfio_like(path) -> dict[str, np.ndarray]:
    """bfio 2.4.10 ``BioWriter(backend="zarr")`` (zarr-python 2.18), the tiled-TIFF library that still
    writes **NGFF 0.1**: ``multiscales`` with ``"version": "0.1"``, no axes, no transforms, one level
    ``0`` (t,c,z,y,x) with **1024x1024 chunks on a 64x64 image**, ``"metadata": {"method": "mean"}``,
    the OME-XML in ``OME/METADATA.ome.xml`` (no bioformats2raw.layout) and a root ``.zmetadata``."""
    s = _Store(path, "zarr2")
    name = os.path.basename(os.path.normpath(os.fspath(path)))
    s.group("", {"multiscales": [{"datasets": [{"path": "0"}], "metadata": {"method": "mean"}, "name": name,
                                  "version": "0.1"}]})
    img = _image()[None]
    s.array("0", img, (1, 1, 1, 1024, 1024), compressor={"blocksize": 0, "clevel": 1, "cname": "zstd", "id": "blosc",
                                                          "shuffle": 1})
    s.json(".zmetadata", _consolidated(s))
    s._file("OME/METADATA.ome.xml", _BFIO_XML.encode())
    return s.arrays


def write_spatialdata_like(path, version: str = "0.2") -> dict[str, np.ndarray]:
    """spatialdata 0.2.6 (``version="0.2"``) or 0.4.0 (``"0.4"``) ``SpatialData.write`` (ome-zarr
    0.9/0.10, zarr-python 2.18): a container (no .zattrs at the root in 0.2; ``spatialdata_attrs`` in
    0.4) with ``images/image`` (c,z,y,x) and ``labels/nuclei`` (z,y,x) at the **root's labels/**, a
    multiscale-level identity transform with ``input``/``output`` coordinate systems, omero channels
    with only a label (also copied under "metadata"), a consolidated metadata file named
    **``zmetadata``** (no dot) at the root; 0.4 writes ``"version": "0.4-dev-spatialdata"``."""
    s = _Store(path, "zarr2")
    v = "0.4" if version == "0.2" else "0.4-dev-spatialdata"
    sd_attrs = {"version": "0.1"} if version == "0.2" else {"version": "0.2"}
    s.json(".zgroup", {"zarr_format": 2})
    if version != "0.2":
        s.json(".zattrs", {"spatialdata_attrs": {"spatialdata_software_version": "0.4.0", "version": "0.1"}})

    def io(names, cs):
        ax = [{"name": n, "type": "channel"} if n == "c" else {"name": n, "type": "space", "unit": "unit"} for n in names]
        return {"axes": ax, "name": cs}

    def ms(names, name):
        return [{"axes": [{"name": n, "type": "channel" if n == "c" else "space"} for n in names],
                 "coordinateTransformations": [{"input": io(names, names), "output": io(names, "global"), "type": "identity"}],
                 "datasets": [{"coordinateTransformations": _scale([1.0 if n == "c" else float(2 ** i) for n in names]),
                               "path": str(i)} for i in range(3)],
                 **({"metadata": {"omero": {"channels": [{"label": "DAPI"}, {"label": "GFP"}]}}} if "c" in names else {}),
                 "name": name, "version": v}]

    s.json("images/.zgroup", {"zarr_format": 2})
    s.group("images/image", {"multiscales": ms("czyx", "/images/image"),
                             "omero": {"channels": [{"label": "DAPI"}, {"label": "GFP"}]}, "spatialdata_attrs": sd_attrs})
    for i, a in enumerate(_levels(_image(), 3, (1, 2, 3))):
        s.array(f"images/image/{i}", a, (1,) + tuple(min(n, c) for n, c in zip(a.shape[1:], (4, 32, 32))),
                compressor=BLOSC_LZ4)
    s.group("labels", {"labels": ["nuclei"]})
    s.group("labels/nuclei", {"image-label": {"version": v}, "multiscales": ms("zyx", "nuclei"),
                              "spatialdata_attrs": sd_attrs})
    for i, a in enumerate(_levels(_labels_zyx(), 3, (0, 1, 2))):
        s.array(f"labels/nuclei/{i}", a, tuple(min(n, c) for n, c in zip(a.shape, (4, 32, 32))), compressor=BLOSC_LZ4)
    s.json("zmetadata", _consolidated(s))
    return s.arrays


def write_webknossos_like(path) -> dict[str, np.ndarray]:
    """webknossos 0.15.0 ``Dataset.add_layer(..., data_format="zarr")`` + ``downsample`` (tensorstore):
    ``.zgroup`` with the **string** ``"zarr_format": "2"``; one group per layer (``image`` color with 2
    channels, ``nuclei`` segmentation) with mags ``1``, ``2-2-1``, ``4-4-1`` (z never downsampled);
    axes **c, x, y, z**, unit nanometer; arrays in **Fortran order**, "." chunk keys, a c axis of 1 on
    the segmentation, **shapes padded to whole chunks** (z 32 for 4 planes), mag 1 uncompressed,
    coarser mags blosc zstd; .zarray compact one-line JSON; all-zero chunks skipped;
    ``datasource-properties.json`` at the root."""
    s = _Store(path, "zarr2")
    s.json(".zgroup", {"zarr_format": "2"})
    ms = {"multiscales": [{"version": "0.4", "axes": [{"name": "c", "type": "channel"}] + [
        {"name": n, "type": "space", "unit": "nanometer"} for n in "xyz"],
        "datasets": [{"path": p, "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5 * f, 0.5 * f, 2.0]}]}
                     for p, f in (("1", 1), ("2-2-1", 2), ("4-4-1", 4))]}]}
    props = {"id": {"name": os.path.basename(os.path.normpath(os.fspath(path))), "team": ""},
             "scale": {"factor": [0.5, 0.5, 2.0], "unit": "nanometer"}, "dataLayers": []}
    mags = [{"mag": m, "axisOrder": {"c": 0, "x": 1, "y": 2, "z": 3}} for m in ([1, 1, 1], [2, 2, 1], [4, 4, 1])]
    blosc = {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1, "blocksize": 0}
    for layer, data, extra in (
        ("image", np.transpose(_image(), (0, 3, 2, 1)), {"numChannels": 2}),
        ("nuclei", np.transpose(_labels_zyx(), (2, 1, 0))[None], {"numChannels": 1, "largestSegmentId": 2}),
    ):
        s.json(f"{layer}/.zgroup", {"zarr_format": "2"})
        s.json(f"{layer}/.zattrs", ms, style="zarrista")
        for k, (p, f) in enumerate((("1", 1), ("2-2-1", 2), ("4-4-1", 4))):
            a = data[:, ::f, ::f, :]
            # every spatial extent padded to whole 32-voxel chunks (z: 4 planes -> 32)
            padded = np.zeros(a.shape[:1] + tuple(-(-n // 32) * 32 for n in a.shape[1:]), dtype=a.dtype)
            padded[:, : a.shape[1], : a.shape[2], : a.shape[3]] = a
            s.array(f"{layer}/{p}", padded, (a.shape[0], 32, 32, 32), compressor=blosc if k else None, sep=".",
                    order="F", write_empty_chunks=False, zarray_style=("compact", "zarr3"))
        props["dataLayers"].append({
            "name": layer, "category": "color" if layer == "image" else "segmentation",
            "boundingBox": {"topLeft": [0, 0, 0], "width": 64, "height": 64, "depth": 4},
            "elementClass": "uint32", "dataFormat": "zarr", "mags": mags, **extra})
    s.json("datasource-properties.json", props, style="zarrista")
    return s.arrays


SURVEY_DEFECTS: dict[str, list[str]] = {
    "write_aicsimageio_like": ["omero window 0-1 on uint16 data; lower-case hex colours; integer coefficient"],
    "write_pydantic_ome_ngff_like": ["integer scale/translation values (1, 2, 0) mixed with floats", "{} .zattrs on arrays"],
    "write_xarray_ome_ngff_like": ["channel axis without 'type'", "no multiscale name"],
    "write_ome_zarr_models_like": ["explicit nulls: axis unit, multiscale metadata and type, top-level omero"],
    "write_ngff_zarr_08_like": ["translation 1.0 on the channel axis", "dataset paths scale{N}/image", "root .zmetadata"],
    "write_acquire_zarr_like": ["level-1 scale 2.0 on the channel axis and 1.0 on the halved z axis (wrong, schema-valid)",
                                "blosc compressor without blocksize"],
    "write_stack_to_chunk_like": ["spatial axes ordered x, y, z"],
    "write_multiscale_spatial_image_like": ["'unit': '' on the channel axis", "image 'fill_value': null",
                                            "coordinate arrays c (<U4), z/y/x (float64, fill NaN) beside the image",
                                            "root .zmetadata; multiscaleSpatialImageVersion key"],
    "write_zarrify_like": ["one level only", "a multiscale-level scale transform"],
    "write_tiledb_bioimg_like": ["multiscale 'metadata': null", "unit-less axes, all-ones scale"],
    "write_mrc2omezarr_like": ["float64 pyramid from uint16 input", "NUL characters in metadata strings (\\u0000)",
                               "MRC voxel size applied in reverse axis order (z gets x's size)"],
    "write_iohub_01_like": ["multiscale-level identity transform (repaired)", "scales divided per level, not multiplied",
                            "wells without version"],
    "write_ngio_01_like": ["empty AnnData table: zero-length |O arrays, chunks [1], fill 0", "0-d raw array with a chunk",
                           "stale .zmetadata root entry"],
    "write_bfio_like": ["NGFF 0.1 (no axes, no transforms)", "chunks larger than the array (1024 on 64)",
                        "OME/METADATA.ome.xml without bioformats2raw.layout", "root .zmetadata"],
    "write_spatialdata_like": ["container root without OME metadata", "identity with input/output systems",
                               "consolidated metadata in a file named 'zmetadata'", "0.4: version '0.4-dev-spatialdata'"],
    "write_webknossos_like": ["'zarr_format': '2' (a string) in every .zgroup", "axes c,x,y,z; Fortran order",
                              "shapes padded to whole chunks (z 32 for 4 planes)", "datasource-properties.json"],
}
