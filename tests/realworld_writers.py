"""Real-world OME-Zarr 0.4 (Zarr v2) layouts, reproduced with numpy + numcodecs + json only.

Each ``write_*_like(path)`` writes, under ``path`` (which must not exist or be empty), the on-disk
layout that one library version was observed to write (see REPORT.md next to this file): the same
files, the same metadata keys, key order and JSON formatting, the same dtypes, compressors,
filters (object string arrays with numcodecs ``VLenUTF8``), chunk key separators, skipped empty
chunks and ``.zmetadata`` (including its stale or phantom entries). Only pixel values in lower
pyramid levels (each library downsamples its own way) and data-derived numbers (ngio's omero
windows) may differ from the real library's output.

Each function returns a dict ``{array path (relative, '/'-separated): numpy array}`` with every
array that exists on disk and the values a Zarr reader returns for it (fill value where a chunk was
never written). String arrays are returned as numpy object arrays of ``str``. Arrays that only
exist in a ``.zmetadata`` (ngio's phantom ``raw``) are not returned; see ``DEFECTS``.

``DEFECTS`` maps each writer function name to the deviations from OME-Zarr 0.4 / Zarr v2 that
its layout carries on purpose (the things a converter must neither drop nor pass on silently).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numcodecs
import numpy as np

__all__ = [
    "DEFECTS",
    "write_ome_zarr_py_like",
    "write_ngff_zarr_like",
    "write_iohub_02_like",
    "write_iohub_03_like",
    "write_ngio_like",
    "write_ngio_02_like",
    "write_bioio_ome_zarr_like",
]

# --------------------------------------------------------------------------------------------
# JSON styles: how each Zarr implementation formats its metadata files (none ends with "\n")
# --------------------------------------------------------------------------------------------
#  "zarr2":    zarr-python 2.x: indent 4, keys sorted
#  "zarr3":    zarr-python 3.x writing zarr_format=2: indent 2, insertion order
#  "zarrista": ngff-zarr >= 0.4x (zarrista backend): indent 4, insertion order
#  "compact":  one line (the .zmetadata anndata 0.12 writes through zarr-python 3)
_STYLES = {
    "zarr2": dict(indent=4, sort_keys=True, ensure_ascii=True, separators=(",", ": ")),
    "zarr3": dict(indent=2),
    "zarrista": dict(indent=4),
    "compact": dict(),
}

# .zarray key order per style ("zarr2" sorts anyway)
_ZARRAY_ORDER = {
    "zarr2": ("chunks", "compressor", "dimension_separator", "dtype", "fill_value", "filters", "order", "shape", "zarr_format"),
    "zarr3": ("shape", "chunks", "dtype", "fill_value", "order", "filters", "dimension_separator", "compressor", "zarr_format"),
    "zarrista": ("zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters", "dimension_separator"),
}

BLOSC_LZ4 = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}
BLOSC_ZSTD5 = {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1, "blocksize": 0}
BLOSC_ZSTD1_BITSHUFFLE = {"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 2, "blocksize": 0}
ZSTD0 = {"id": "zstd", "level": 0}
VLEN_UTF8 = {"id": "vlen-utf8"}


class _Store:
    """A directory holding one Zarr v2 hierarchy written in one library's style."""

    def __init__(self, root: str | os.PathLike, style: str):
        self.root = os.fspath(root)
        self.style = style
        self.arrays: dict[str, np.ndarray] = {}
        os.makedirs(self.root, exist_ok=True)

    def _file(self, rel: str, data: bytes) -> None:
        full = os.path.join(self.root, *rel.split("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)

    def dumps(self, obj: Any, style: str | None = None) -> str:
        return json.dumps(obj, **_STYLES[style or self.style])

    def json(self, rel: str, obj: Any, style: str | None = None) -> None:
        self._file(rel, self.dumps(obj, style).encode())

    def group(self, path: str, attrs: dict | None = None) -> None:
        """.zgroup, and .zattrs: zarr-python 2 writes it only when there are attributes,
        zarr-python 3 and zarrista always write it (``{}`` when empty)."""
        pre = f"{path}/" if path else ""
        self.json(pre + ".zgroup", {"zarr_format": 2})
        if attrs or self.style != "zarr2":
            self.json(pre + ".zattrs", attrs or {})

    def array(
        self,
        path: str,
        data: np.ndarray,
        chunks: tuple[int, ...] | None = None,
        *,
        compressor: dict | None,
        sep: str | None = "/",
        fill_value: Any = 0,
        filters: list[dict] | None = None,
        attrs: dict | None = None,
        write_empty_chunks: bool = True,
        write_chunks: bool = True,
        dtype_str: str | None = None,
        order: str = "C",
        zarray_style: tuple[str, str] | None = None,
    ) -> None:
        """Write .zarray (+ .zattrs) and the chunks of ``data``.

        ``sep=None`` leaves "dimension_separator" out of .zarray (zarr-python 2's default "." arrays).
        ``write_empty_chunks=False`` skips chunks equal to the fill value everywhere (zarr-python 3).
        ``write_chunks=False`` writes no chunk at all (an array created but never filled).
        ``order="F"`` stores each chunk in Fortran order; ``zarray_style=(json style, key order style)``
        formats the .zarray unlike the store's other files (webknossos: compact, zarr-python-3 order)."""
        data = np.asarray(data)
        is_str = data.dtype == object
        chunks = tuple(chunks) if chunks is not None else data.shape
        meta = {
            "chunks": list(chunks),
            "compressor": compressor,
            "dimension_separator": sep,
            "dtype": dtype_str or ("|O" if is_str else data.dtype.str),
            "fill_value": fill_value,
            "filters": filters,
            "order": order,
            "shape": list(data.shape),
            "zarr_format": 2,
        }
        if sep is None:
            del meta["dimension_separator"]
        json_style, key_style = zarray_style or (self.style, self.style)
        ordered = {k: meta[k] for k in _ZARRAY_ORDER[key_style] if k in meta}
        pre = f"{path}/" if path else ""
        self.json(pre + ".zarray", ordered, json_style)
        if attrs or self.style != "zarr2":
            self.json(pre + ".zattrs", attrs or {})

        # what a reader returns: the data where chunks were written, the fill value elsewhere
        if write_chunks:
            self.arrays[path] = data.copy()
        else:
            fill = "" if is_str else fill_value
            self.arrays[path] = np.full(data.shape, fill, dtype=data.dtype)
            return

        codec = numcodecs.get_codec(dict(compressor)) if compressor else None
        filt = [numcodecs.get_codec(dict(f)) for f in (filters or [])]
        key_sep = sep or "."
        grid = [range(-(-n // c)) if n else range(0) for n, c in zip(data.shape, chunks)]
        for idx in np.ndindex(*[len(g) for g in grid]) if data.ndim else [()]:
            sl = tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(idx, chunks, data.shape))
            part = data[sl]
            pad_fill = ("" if fill_value in (None, 0) else fill_value) if is_str else (
                0 if fill_value is None else fill_value)
            buf = np.full(chunks, pad_fill, dtype=data.dtype)  # edge chunks are stored full size
            buf[tuple(slice(0, s) for s in part.shape)] = part
            if not write_empty_chunks and not is_str and np.all(buf == fill_value):
                continue
            if not write_empty_chunks and is_str and np.all(buf == (fill_value if fill_value is not None else "")):
                continue
            raw: Any = buf
            for f in filt:
                raw = f.encode(raw)
            if not filt:
                # the array itself, not its bytes: blosc takes its typesize (shuffle) from the itemsize;
                # a Fortran-order chunk's bytes are those of its transpose in C order
                raw = np.ascontiguousarray(raw.T if order == "F" else raw)
            raw = codec.encode(raw) if codec is not None else np.ascontiguousarray(raw).tobytes()
            key = key_sep.join(str(i) for i in idx) if data.ndim else "0"
            self._file(pre + key, bytes(raw))


# --------------------------------------------------------------------------------------------
# shared small data
# --------------------------------------------------------------------------------------------

def _image(shape=(2, 4, 64, 64), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1000, size=shape, dtype=np.uint16)


def _labels_zyx(shape=(4, 64, 64), dtype=np.uint32) -> np.ndarray:
    lab = np.zeros(shape, dtype=dtype)
    lab[..., 8:24, 8:24] = 1
    lab[..., 40:56, 30:60] = 2
    return lab


def _down(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """2x nearest-neighbour downsampling along ``axes`` (values of lower levels are not part of a
    layout; each library has its own method)."""
    sl = [slice(None)] * a.ndim
    for ax in axes:
        sl[ax] = slice(None, None, 2)
    return np.ascontiguousarray(a[tuple(sl)])


def _pyramid(a: np.ndarray, n: int, axes: tuple[int, ...]) -> list[np.ndarray]:
    out = [a]
    for _ in range(n - 1):
        out.append(_down(out[-1], axes))
    return out


def _obj(strings) -> np.ndarray:
    return np.array(list(strings), dtype=object)


# --------------------------------------------------------------------------------------------
# ome-zarr-py
# --------------------------------------------------------------------------------------------

def write_ome_zarr_py_like(path, version: str = "0.8") -> dict[str, np.ndarray]:
    """ome-zarr-py ``write_image`` (c,z,y,x uint16, 3 levels, chunks (1,4,32,32)) + ``root.attrs['omero']``
    + ``write_labels('nuclei', axes='zyx')`` (uint32, 3 levels), NGFF 0.4 / Zarr v2.

    version "0.8": ome-zarr 0.8.3 and 0.9.0 (zarr-python 2.18; both byte-identical):
        blosc lz4, keys sorted, every chunk written, no .zattrs on arrays, multiscale name "/".
    version "0.12": ome-zarr 0.12.2 with FormatV04 (zarr-python 3 writing v2): blosc zstd,
        insertion-ordered keys, ``{}`` .zattrs on arrays, all-zero label chunks not written.
    version "0.18": ome-zarr 0.18.0 with FormatV04: paths s0/s1/s2, a translation after each scale,
        multiscale name "image", compressor numcodecs zstd level 0.
    """
    if version not in ("0.8", "0.12", "0.18"):
        raise ValueError(version)
    style = "zarr2" if version == "0.8" else "zarr3"
    s = _Store(path, style)
    comp = {"0.8": BLOSC_LZ4, "0.12": BLOSC_ZSTD5, "0.18": ZSTD0}[version]
    empty = version == "0.8"
    paths = ["s0", "s1", "s2"] if version == "0.18" else ["0", "1", "2"]

    def ct(scale, level):
        t = [{"type": "scale", "scale": scale}]
        if version == "0.18":
            off = (2 ** level - 1) / 2
            t.append({"type": "translation", "translation": [0.0] * (len(scale) - 2) + [off, off]})
        return t

    def ms(axes, scales, name):
        datasets = [{"path": p, "coordinateTransformations": ct(sc, i)} for i, (p, sc) in enumerate(zip(paths, scales))]
        if version == "0.12":
            return {"datasets": datasets, "name": name, "axes": axes, "version": "0.4"}
        return {"axes": axes, "datasets": datasets, "name": name, "version": "0.4"}

    img = _pyramid(_image(), 3, (2, 3))
    axes = [{"name": "c", "type": "channel"}] + [{"name": n, "type": "space"} for n in "zyx"]
    scales = [[1.0, 1.0, 2.0 ** i, 2.0 ** i] for i in range(3)]
    omero = {"channels": [
        {"color": "FF0000", "window": {"start": 0, "end": 1000, "min": 0, "max": 65535}, "label": "DAPI", "active": True},
        {"color": "00FF00", "window": {"start": 0, "end": 1000, "min": 0, "max": 65535}, "label": "GFP", "active": True},
    ]}
    s.group("", {"multiscales": [ms(axes, scales, "image" if version == "0.18" else "/")], "omero": omero})
    for p, a in zip(paths, img):
        s.array(p, a, (1, 4, 32, 32), compressor=comp, write_empty_chunks=empty)

    lab = _pyramid(_labels_zyx(), 3, (1, 2))
    s.group("labels", {"labels": ["nuclei"]})
    laxes = [{"name": n, "type": "space"} for n in "zyx"]
    lscales = [[1.0, 2.0 ** i, 2.0 ** i] for i in range(3)]
    lattrs = {"multiscales": [ms(laxes, lscales, "nuclei")], "image-label": {"version": "0.4"}}
    if version == "0.8":
        lattrs = {"image-label": {"version": "0.4"}, "multiscales": lattrs["multiscales"]}
    s.group("labels/nuclei", lattrs)
    for p, a in zip(paths, lab):
        s.array(f"labels/nuclei/{p}", a, (4, 32, 32), compressor=comp, write_empty_chunks=empty)
    return s.arrays


# --------------------------------------------------------------------------------------------
# bioio-ome-zarr
# --------------------------------------------------------------------------------------------

def write_bioio_ome_zarr_like(path) -> dict[str, np.ndarray]:
    """bioio-ome-zarr 3.8.1 ``OMEZarrWriter(..., zarr_format=2)`` + ``write_full_volume`` (zarr-python
    3 writing v2): c,z,y,x uint16, 3 levels with chunks (1,4,32,32) on every level, blosc zstd
    clevel 3 bit-shuffle, omero with id/name/version/rdefs and a window of 0-255 whatever the dtype.
    No labels (no label API)."""
    s = _Store(path, "zarr3")
    img = _pyramid(_image(), 3, (2, 3))
    ch = lambda label, color: {"color": color, "coefficient": 1.0, "active": True, "label": label,
                               "window": {"min": 0, "max": 255, "start": 0, "end": 255},
                               "family": "linear", "inverted": False}
    s.group("", {
        "multiscales": [{
            "axes": [{"name": "c", "type": "channel"}] + [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"],
            "datasets": [{"path": str(i), "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]}]} for i in range(3)],
            "name": "Image",
            "version": "0.4",
        }],
        "omero": {"id": 1, "name": "Image", "version": "0.4",
                  "channels": [ch("DAPI", "0000FF"), ch("GFP", "00FF00")],
                  "rdefs": {"defaultT": 0, "defaultZ": 2, "model": "color"}},
    })
    comp = {"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 0}
    for i, a in enumerate(img):
        s.array(str(i), a, (1, 4, 32, 32), compressor=comp, write_empty_chunks=False)
    return s.arrays


# --------------------------------------------------------------------------------------------
# ngff-zarr
# --------------------------------------------------------------------------------------------

def write_ngff_zarr_like(path) -> dict[str, np.ndarray]:
    """ngff-zarr 0.50.0 ``to_ngff_zarr(store, to_multiscales(img, [2, 4], chunks=32), version='0.4')``
    (zarrista backend, no zarr-python): c,z,y,x uint16 with units and a translation; levels
    downsampled in z, y and x; arrays at ``scale{N}/image`` under intermediate groups ``scale{N}``
    whose .zattrs hold xarray's ``_ARRAY_DIMENSIONS``; root ``.zmetadata`` whose group entries carry
    a Zarr-v3-style ``consolidated_metadata`` key that the .zgroup files on disk do not have."""
    s = _Store(path, "zarrista")
    img = _pyramid(_image(), 3, (1, 2, 3))
    chunks = [(2, 4, 32, 32), (2, 2, 32, 32), (2, 1, 16, 16)]
    scale = [[1.0, 2.0, 0.5, 0.5], [1.0, 4.0, 1.0, 1.0], [1.0, 8.0, 2.0, 2.0]]
    trans = [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.25, 0.25], [0.0, 3.0, 0.75, 0.75]]
    root_attrs = {"multiscales": [{
        "axes": [{"name": "c", "type": "channel"}] + [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"],
        "datasets": [
            {"path": f"scale{i}/image", "coordinateTransformations": [
                {"scale": scale[i], "type": "scale"}, {"translation": trans[i], "type": "translation"}]}
            for i in range(3)],
        "name": "image",
        "version": "0.4",
        "type": "itkwasm_gaussian",
        "metadata": {
            "description": "Smoothed with a discrete gaussian filter to generate a scale space, ideal for intensity images. ITK-Wasm implementation is extremely portable and SIMD accelerated.",
            "method": "itkwasm_downsample.downsample",
            "version": "2.0.2",
        },
        "@type": "ngff:Image",
    }]}
    s.group("", root_attrs)
    zmeta: dict[str, Any] = {".zattrs": root_attrs, ".zgroup": {"zarr_format": 2}}
    dims = {"_ARRAY_DIMENSIONS": ["c", "z", "y", "x"]}
    for i, a in enumerate(img):
        s.group(f"scale{i}", dims)
        s.array(f"scale{i}/image", a, chunks[i], compressor=ZSTD0)
        zarray = json.load(open(os.path.join(s.root, f"scale{i}", "image", ".zarray")))
        zmeta[f"scale{i}/.zattrs"] = dims
        zmeta[f"scale{i}/.zgroup"] = {"zarr_format": 2, "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": {}}}
        zmeta[f"scale{i}/image/.zarray"] = zarray
        zmeta[f"scale{i}/image/.zattrs"] = {}
    s.json(".zmetadata", {"metadata": zmeta, "zarr_consolidated_format": 1})
    return s.arrays


# --------------------------------------------------------------------------------------------
# iohub
# --------------------------------------------------------------------------------------------

def _iohub_channel(label, color, active):
    window = {"start": 0.0, "end": 65535.0, "min": 0.0, "max": 65535.0}
    return {"active": active, "coefficient": 1.0, "color": color, "family": "linear",
            "inverted": False, "label": label, "window": window}


def _iohub_data(well_index):
    """FOV data of the well_index-th well: successive draws from one generator (as the script that
    produced the reference output did), so level-0 chunks are byte-identical to iohub's."""
    rng = np.random.default_rng(0)
    for _ in range(well_index + 1):
        data = rng.integers(0, 1000, size=(1, 2, 4, 32, 32), dtype=np.uint16)
    return data


_IOHUB_WELLS = (("A", "1"), ("B", "2"))


def write_iohub_02_like(path, scaled: bool = False) -> dict[str, np.ndarray]:
    """iohub 0.2.3.post1 (zarr-python 2.18) HCS plate: 2 wells (A/1, B/2), one FOV "0" each,
    T,C,Z,Y,X uint16 (1,2,4,32,32), ``create_image('0', data)`` + ``initialize_pyramid(3)``.

    Default (no ``transform`` given, as in iohub's examples): ``[{"type": "identity"}]`` as the
    multiscale's coordinateTransformations AND as every dataset's (invalid in 0.4: a dataset needs
    exactly one scale; identity is not allowed anywhere in 0.4). ``scaled=True``: datasets carry
    scale transforms (level 0 as given, levels 1-2 scaled by 2 and 4 in Z,Y,X); the multiscale-level
    identity remains. Axis names are upper-case T/C/Z/Y/X; blosc zstd clevel 1 bit-shuffle; row groups
    have no .zattrs; no labels (iohub 0.2 has no label API)."""
    s = _Store(path, "zarr2")
    s.group("", {"plate": {
        "acquisitions": [{"id": 0}],
        "columns": [{"name": c} for _, c in _IOHUB_WELLS],
        "rows": [{"name": r} for r, _ in _IOHUB_WELLS],
        "version": "0.4",
        "wells": [{"columnIndex": i, "path": f"{r}/{c}", "rowIndex": i} for i, (r, c) in enumerate(_IOHUB_WELLS)],
    }})
    axes = [{"name": "T", "type": "time", "unit": "second"}, {"name": "C", "type": "channel"}] + \
           [{"name": n, "type": "space", "unit": "micrometer"} for n in "ZYX"]
    for w, (r, c) in enumerate(_IOHUB_WELLS):
        s.group(r)
        s.group(f"{r}/{c}", {"well": {"images": [{"acquisition": 0, "path": "0"}], "version": "0.4"}})
        fov = f"{r}/{c}/0"
        if scaled:
            base = [1.0, 1.0, 2.0, 0.5, 0.5]
            cts = [[{"type": "scale", "scale": base[:2] + [v * 2 ** i for v in base[2:]]}] for i in range(3)]
        else:
            cts = [[{"type": "identity"}] for _ in range(3)]
        s.group(fov, {
            "multiscales": [{
                "axes": axes,
                "coordinateTransformations": [{"type": "identity"}],
                "datasets": [{"coordinateTransformations": cts[i], "path": str(i)} for i in range(3)],
                "name": "0",
                "version": "0.4",
            }],
            "omero": {
                "channels": [_iohub_channel("DAPI", "0000FF", True), _iohub_channel("GFP", "00FF00", True)],
                "id": 0, "name": "0",
                "rdefs": {"defaultT": 0, "defaultZ": 0, "model": "color", "projection": "normal"},
                "version": "0.4",
            },
        })
        for i, a in enumerate(_pyramid(_iohub_data(w), 3, (2, 3, 4))):
            s.array(f"{fov}/{i}", a, (1, 1) + a.shape[2:], compressor=BLOSC_ZSTD1_BITSHUFFLE)
    return s.arrays


def write_iohub_03_like(path, version: str = "0.3.11") -> dict[str, np.ndarray]:
    """iohub 0.3.x ``open_ome_zarr(..., layout='hcs', version='0.4')`` (zarr-python 3 writing v2),
    same plate as ``write_iohub_02_like``; datasets now carry scale transforms, no identity.

    version "0.3.11" (the 0.3.0-0.3.11 releases need Python >= 3.12; observed on 3.12.1) also writes
    ``create_label('nuclei', tzyx uint32, pyramid_levels=3)`` in each FOV, with these defects:
    the FOV's .zattrs gets ``"labels": {"labels": ["nuclei"]}`` (a dict, on the image group) and a
    stray top-level ``"version": "0.4"``; ``labels/.zattrs`` is ``{}`` (no labels list);
    ``labels/nuclei/.zattrs`` has a stray top-level ``"version"``, ``image-label`` without
    "version" and with empty ``colors``/``properties`` lists (schema: minItems 1); label levels 1-2
    are created but never written (no chunk files: all fill value 0); labels are T,Z,Y,X under a
    T,C,Z,Y,X image.
    version "0.3.0a7" (last release installable on Python 3.11): no labels, none of those defects.
    """
    if version not in ("0.3.11", "0.3.0a7"):
        raise ValueError(version)
    with_labels = version == "0.3.11"
    s = _Store(path, "zarr3")
    s.group("", {"plate": {
        "version": "0.4",
        "acquisitions": [{"id": 0}],
        "rows": [{"name": r} for r, _ in _IOHUB_WELLS],
        "columns": [{"name": c} for _, c in _IOHUB_WELLS],
        "wells": [{"path": f"{r}/{c}", "rowIndex": i, "columnIndex": i} for i, (r, c) in enumerate(_IOHUB_WELLS)],
    }})
    tu = {"name": "T", "type": "time", "unit": "second"}
    space = [{"name": n, "type": "space", "unit": "micrometer"} for n in "ZYX"]
    for w, (r, c) in enumerate(_IOHUB_WELLS):
        s.group(r)
        s.group(f"{r}/{c}", {"well": {"version": "0.4", "images": [{"acquisition": 0, "path": "0"}]}})
        fov = f"{r}/{c}/0"
        attrs = {
            "multiscales": [{
                "version": "0.4",
                "axes": [tu, {"name": "C", "type": "channel"}] + space,
                "datasets": [{"path": str(i), "coordinateTransformations": [
                    {"type": "scale", "scale": [1.0, 1.0] + [2.0 ** i] * 3}]} for i in range(3)],
                "name": "0",
            }],
            "omero": {
                "version": "0.4", "id": 0, "name": "0",
                "channels": [_iohub_channel("DAPI", "0000FF", True),
                             _iohub_channel("GFP", "00FF00", not with_labels)],
                "rdefs": {"defaultT": 0, "defaultZ": 0, "model": "color", "projection": "normal"},
            },
        }
        if with_labels:
            attrs["version"] = "0.4"
            attrs["labels"] = {"labels": ["nuclei"]}
        s.group(fov, attrs)
        for i, a in enumerate(_pyramid(_iohub_data(w), 3, (2, 3, 4))):
            s.array(f"{fov}/{i}", a, (1, 1) + a.shape[2:], compressor=BLOSC_ZSTD1_BITSHUFFLE, write_empty_chunks=False)
        if not with_labels:
            continue
        s.group(f"{fov}/labels", {})
        s.group(f"{fov}/labels/nuclei", {
            "multiscales": [{
                "version": "0.4",
                "axes": [tu] + space,
                "datasets": [{"path": str(i), "coordinateTransformations": [
                    {"type": "scale", "scale": [1.0] + [2.0 ** i] * 3}]} for i in range(3)],
                "name": "nuclei",
            }],
            "image-label": {"colors": [], "properties": [], "source": {"image": "../../"}},
            "version": "0.4",
        })
        lab = np.zeros((1, 4, 32, 32), dtype=np.uint32)  # t z y x
        lab[:, :, 4:12, 4:12] = 1
        lab[:, :, 20:28, 16:30] = 2
        for i, a in enumerate(_pyramid(lab, 3, (1, 2, 3))):
            s.array(f"{fov}/labels/nuclei/{i}", a, a.shape, compressor=BLOSC_ZSTD1_BITSHUFFLE,
                    write_empty_chunks=False, write_chunks=(i == 0))
    return s.arrays


# --------------------------------------------------------------------------------------------
# ngio (Fractal) with AnnData tables
# --------------------------------------------------------------------------------------------

_ROI_COLUMNS = ["x_micrometer", "y_micrometer", "z_micrometer", "len_x_micrometer", "len_y_micrometer", "len_z_micrometer"]
_DICT = {"encoding-type": "dict", "encoding-version": "0.1.0"}
_STR_ATTRS = {"encoding-type": "string-array", "encoding-version": "0.2.0"}
_ARR_ATTRS = {"encoding-type": "array", "encoding-version": "0.2.0"}


def _ngio_tables():
    """(name, ngio attrs (1.x), ngio attrs (0.2.x), obs index name, obs index, obs columns, var names, X)"""
    return [
        ("FOV_ROI_table",
         {"index_key": "FieldIndex", "index_type": "str", "table_version": "1", "type": "roi_table"},
         "FieldIndex", ["image"], [], _ROI_COLUMNS, np.array([[0.0, 0.0, 0.0, 32.0, 32.0, 8.0]])),
        ("nuclei_ROI_table",
         {"index_key": "label", "index_type": "int", "table_version": "1", "type": "masking_roi_table",
          "region": {"path": "../labels/nuclei"}, "instance_key": "label"},
         "label", ["1", "2"], [], _ROI_COLUMNS,
         np.array([[4.0, 4.0, 0.0, 8.0, 8.0, 8.0], [15.0, 20.0, 0.0, 15.0, 8.0, 8.0]])),
        ("nuclei_features",
         {"index_key": "label", "index_type": "int", "table_version": "1", "type": "feature_table",
          "region": {"path": "../labels/nuclei"}, "instance_key": "label",
          "categorical_columns": [], "measurement_columns": [], "metadata_columns": []},
         "label", ["1", "2"],
         [("cell_type", "categorical", (["elongated", "round"], np.array([1, 0], dtype=np.int8))),
          ("note", "string", ["a", "bb"])],
         ["area"], np.array([[1024.0], [1920.0]])),
    ]


def _write_ngio_image(s: _Store, zarr3: bool, label_dtype) -> None:
    img = _pyramid(_image(), 3, (2, 3))
    axes = [{"name": "c", "type": "channel"}] + [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    lowest = img[-1]
    chans = []
    for ci, name in enumerate(["DAPI", "GFP"]):
        lo, hi = np.percentile(lowest[ci].astype(np.float64), [0.1, 99.9])
        window = {"max": 65535.0, "min": 0.0, "start": float(round(lo)), "end": float(round(hi))}
        chans.append({"color": ["0000FF", "00FF00"][ci], "window": window, "label": name, "wavelength_id": name, "active": True})
    s.group("", {
        "multiscales": [{
            "axes": axes,
            "datasets": [{"path": str(i), "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]}]} for i in range(3)],
            "version": "0.4",
        }],
        "omero": {"channels": chans},
    })
    for i, a in enumerate(img):
        s.array(str(i), a, a.shape, compressor=BLOSC_LZ4, write_empty_chunks=not zarr3)
    s.group("labels", {"labels": ["nuclei"]})
    s.group("labels/nuclei", {
        "image-label": {"source": {"image": "../../"}, "version": "0.4"},
        "multiscales": [{
            "axes": axes[1:],
            "datasets": [{"path": str(i), "coordinateTransformations": [
                {"type": "scale", "scale": [2.0, 0.5 * 2 ** i, 0.5 * 2 ** i]}]} for i in range(3)],
            "name": "nuclei",
            "version": "0.4",
        }],
    })
    for i, a in enumerate(_pyramid(_labels_zyx(dtype=label_dtype), 3, (1, 2))):
        s.array(f"labels/nuclei/{i}", a, a.shape, compressor=BLOSC_LZ4, write_empty_chunks=not zarr3)


def _zmeta_order(keys):
    """Entry order of the .zmetadata that zarr-python 3 writes for an AnnData group (observed):
    root (.zgroup, .zattrs) first, then node by node, breadth first, node paths compared
    case-insensitively, each node's .zattrs before its .zgroup/.zarray."""
    def node(k):
        return k.rsplit("/", 1)[0] if "/" in k else ""
    def sk(k):
        n = node(k)
        return (n.count("/") + (1 if n else 0), n.lower(), k.rsplit("/", 1)[-1] != ".zattrs")
    root = [k for k in (".zgroup", ".zattrs") if k in keys]
    return root + sorted((k for k in keys if node(k)), key=sk)


def _write_anndata_table(s: _Store, base: str, obs_index_name, obs_index, obs_cols, var_names, X,
                         table_attrs: dict, *, zarr3: bool) -> dict:
    """AnnData on-disk format (encoding 0.1.0/0.2.0) as anndata writes it into a Zarr v2 group.
    Returns the .zmetadata 'metadata' dict anndata 0.12 (zarr-python 3) consolidates (before ngio
    adds its own attributes to the group, so its root .zattrs entry is stale)."""
    str_fill = "" if zarr3 else 0
    sep = "." if zarr3 else None
    zm: dict[str, Any] = {}

    def grp(rel, attrs):
        s.group(f"{base}/{rel}" if rel else base, attrs)
        zm[(rel + "/" if rel else "") + ".zgroup"] = {"zarr_format": 2, "consolidated_metadata": {"metadata": {}, "must_understand": False, "kind": "inline"}} if rel else {"zarr_format": 2}
        zm[(rel + "/" if rel else "") + ".zattrs"] = attrs

    def arr(rel, data, attrs):
        is_str = data.dtype == object
        s.array(f"{base}/{rel}", data, data.shape, compressor=BLOSC_LZ4, sep=sep,
                fill_value=str_fill if is_str else (0.0 if data.dtype.kind == "f" else 0),
                filters=[VLEN_UTF8] if is_str else None, attrs=attrs, write_empty_chunks=not zarr3)
        zm[rel + "/.zarray"] = json.loads(open(os.path.join(s.root, *f"{base}/{rel}/.zarray".split("/"))).read())
        zm[rel + "/.zattrs"] = attrs

    enc_root = {"encoding-type": "anndata", "encoding-version": "0.1.0"}
    grp("", enc_root)
    arr("X", np.asarray(X, dtype=np.float64), dict(_ARR_ATTRS))
    for g in ("layers", "obsm", "obsp", "uns", "varm", "varp"):
        grp(g, dict(_DICT))
    grp("obs", {"column-order": [c[0] for c in obs_cols], "_index": obs_index_name,
                "encoding-type": "dataframe", "encoding-version": "0.2.0"})
    arr(f"obs/{obs_index_name}", _obj(obs_index), dict(_STR_ATTRS))
    for name, kind, values in obs_cols:
        if kind == "categorical":
            cats, codes = values
            grp(f"obs/{name}", {"ordered": False, "encoding-type": "categorical", "encoding-version": "0.2.0"})
            arr(f"obs/{name}/categories", _obj(cats), dict(_STR_ATTRS))
            arr(f"obs/{name}/codes", codes, dict(_ARR_ATTRS))
        else:
            arr(f"obs/{name}", _obj(values), dict(_STR_ATTRS))
    grp("var", {"column-order": [], "_index": "_index", "encoding-type": "dataframe", "encoding-version": "0.2.0"})
    arr("var/_index", _obj(var_names), dict(_STR_ATTRS))
    # the table group's own attributes, as ngio sets them after anndata wrote the table
    s.json(f"{base}/.zattrs", {**enc_root, **table_attrs})
    return zm


def write_ngio_like(path) -> dict[str, np.ndarray]:
    """ngio 1.1.3 (zarr-python 3.1 writing v2, anndata 0.12.19) ``create_ome_zarr_from_array(...,
    levels=3, ngff_version='0.4')`` + ``derive_label('nuclei')`` + three AnnData tables under
    ``tables/``: FOV_ROI_table (roi_table), nuclei_ROI_table (masking_roi_table) and nuclei_features
    (feature_table with a categorical and an object string column).

    Tables: obs/var indexes and string columns are ``|O`` arrays with filter vlen-utf8,
    fill_value "", dimension_separator "."; categoricals are groups (codes int8 + categories
    strings); X is float64. Each table has its own ``.zmetadata`` (none at the image root), written
    before ngio added its attributes: its ``.zattrs`` entry holds only the anndata encoding keys
    (stale), it lists a ``raw`` 0-d bool array (encoding-type "null") that is not on disk, and its
    sub-group .zgroup entries carry a v3-style "consolidated_metadata" key absent from the files."""
    s = _Store(path, "zarr3")
    _write_ngio_image(s, True, np.uint32)
    tables = _ngio_tables()
    s.group("tables", {"tables": [t[0] for t in tables]})
    for name, attrs, idx_name, idx, cols, var, X in tables:
        attrs = {"backend": "anndata", **attrs}
        zm = _write_anndata_table(s, f"tables/{name}", idx_name, idx, cols, var, X, attrs, zarr3=True)
        zm["raw/.zattrs"] = {"encoding-type": "null", "encoding-version": "0.1.0"}
        zm["raw/.zarray"] = {"shape": [], "chunks": [], "dtype": "|b1", "fill_value": False, "order": "C",
                             "filters": None, "dimension_separator": ".", "compressor": dict(BLOSC_LZ4), "zarr_format": 2}
        ordered = {k: zm[k] for k in _zmeta_order(list(zm))}
        # anndata consolidates with zarr-python 3: one line, default separators
        s.json(f"tables/{name}/.zmetadata", {"metadata": ordered, "zarr_consolidated_format": 1}, style="compact")
    return s.arrays


def write_ngio_02_like(path) -> dict[str, np.ndarray]:
    """ngio 0.2.14 (zarr-python 2.18, anndata 0.11.3): the same dataset as ``write_ngio_like``, in
    the zarr-python-2 style most existing Fractal data has: keys sorted, no .zattrs on image
    arrays, labels uint16 (the image's dtype), tables without any .zmetadata, table arrays without
    "dimension_separator" (default "."), object string arrays with ``"fill_value": 0`` (zarr-python 3
    reads that fill value as the string "0"), and ``fractal_table_version`` instead of
    ``table_version`` (no categorical/measurement/metadata_columns)."""
    s = _Store(path, "zarr2")
    _write_ngio_image(s, False, np.uint16)
    tables = _ngio_tables()
    s.group("tables", {"tables": [t[0] for t in tables]})
    for name, attrs, idx_name, idx, cols, var, X in tables:
        attrs = {k: v for k, v in attrs.items() if not k.endswith("_columns")}
        attrs["fractal_table_version"] = attrs.pop("table_version")
        attrs = {"backend": "anndata", **attrs}
        _write_anndata_table(s, f"tables/{name}", idx_name, idx, cols, var, X, attrs, zarr3=False)
    return s.arrays


DEFECTS: dict[str, list[str]] = {
    "write_bioio_ome_zarr_like": [
        "omero window min/max 0-255 on uint16 data (not invalid, misleading)",
        "level 2 (16x16) stored with 32x32 chunks (one padded chunk per c)",
    ],
    "write_ome_zarr_py_like": [
        "labels are z,y,x under a c,z,y,x image (no channel axis; 0.4 does not forbid it)",
        "0.12/0.18: all-fill chunks are not written (labels/nuclei/0/0/0/1 missing): read as fill value",
        "0.8: multiscale name '/' (the zarr group name)",
    ],
    "write_ngff_zarr_like": [
        "dataset paths with a slash (scale0/image) under intermediate groups scale0.. holding only _ARRAY_DIMENSIONS",
        "multiscale carries non-NGFF keys type/metadata/'@type' (allowed by the 0.4 schema)",
        ".zmetadata group entries have a 'consolidated_metadata' key that the .zgroup files do not have",
    ],
    "write_iohub_02_like": [
        "coordinateTransformations [{'type': 'identity'}] on the multiscale and on every dataset (schema-invalid in 0.4)",
        "pyramid levels 1-2 therefore have no scale either (same identity as level 0)",
        "upper-case axis names T,C,Z,Y,X",
    ],
    "write_iohub_03_like": [
        "image .zattrs: 'labels': {'labels': ['nuclei']} (nested dict on the image group) and stray 'version': '0.4'",
        "labels/.zattrs is {} (no labels list: label images are undiscoverable per spec)",
        "labels/nuclei/.zattrs: stray top-level 'version', image-label without version, colors [] and properties [] (minItems 1)",
        "label levels 1-2 never written (no chunk files; all zeros)",
        "labels T,Z,Y,X under a T,C,Z,Y,X image; upper-case axis names",
    ],
    "write_ngio_like": [
        "tables/ with AnnData groups (not part of NGFF 0.4); object string arrays (|O + vlen-utf8, fill_value '')",
        "per-table .zmetadata: stale root .zattrs entry (ngio attrs missing), phantom raw/.zarray + raw/.zattrs not on disk",
        ".zmetadata group entries carry a v3-style 'consolidated_metadata' key",
        "omero channels carry non-NGFF 'wavelength_id'; multiscale has no 'name'",
        "labels are z,y,x under a c,z,y,x image",
    ],
    "write_ngio_02_like": [
        "tables/ with AnnData groups; object string arrays with fill_value 0 (read by zarr-python 3 as '0')",
        "omero channels carry non-NGFF 'wavelength_id'; multiscale has no 'name'",
        "labels are z,y,x under a c,z,y,x image",
    ],
}
