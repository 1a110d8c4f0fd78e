"""Small OME-Zarr 0.4 (Zarr v2) datasets, written byte by byte with
``v2_writer`` (no Zarr library), so that every byte-level property of a dataset
is exactly what the caller asked for. It needs only numpy and numcodecs.

It serves two purposes:

* :func:`write_example` makes a small but realistic 0.4 image (what
  bioformats2raw / ome-zarr-py produce) so that the first command of the README
  can be tried offline: ``ome2024-ngff-challenge example in.zarr`` followed by
  ``ome2024-ngff-challenge resave in.zarr out.zarr``.
* The test suite builds all of its inputs with the builders below.

Every array writer returns the array a correct reader must return (the input
data with never-written chunks replaced by the fill value), so a caller can
compare a conversion's output voxel by voxel.

Layout of the public API::

    write_v2_group(path, attrs=None)                      -> Path
    write_v2_array(path, data, chunks, *, ...)            -> np.ndarray (expected)
    multiscales_04(axes, scales, *, ...)                  -> list[dict]
    pyramid(data, levels, *, spatial_dims=2)              -> list[np.ndarray]
    write_image(path, data, axes, *, levels, chunks, ...) -> dict[str, np.ndarray]
    write_labels(image_path, labels, axes, *, ...)        -> dict[str, np.ndarray]
    write_plate(path, rows, cols, present_wells, fields, ...) -> dict[str, np.ndarray]
    write_bioformats2raw(path, series=..., ome_xml=...)   -> dict[str, np.ndarray]
    write_example(path)                                   -> None

The dicts map an array's path relative to ``path`` ("0", "labels/cells/1",
"A/1/0/0", ...) to its expected content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .v2_writer import BLOSC_LZ4, PathLike, write_v2_array, write_v2_group

__all__ = [
    "AXES",
    "BLOSC_LZ4",
    "DEFAULT_OME_XML",
    "label_blobs",
    "multiscales_04",
    "pattern",
    "pyramid",
    "write_bioformats2raw",
    "write_example",
    "write_image",
    "write_labels",
    "write_plate",
    "write_v2_array",
    "write_v2_group",
]


# Axis entries as ome-zarr 0.4 writers usually spell them.
AXES: dict[str, dict[str, str]] = {
    "t": {"name": "t", "type": "time", "unit": "second"},
    "c": {"name": "c", "type": "channel"},
    "z": {"name": "z", "type": "space", "unit": "micrometer"},
    "y": {"name": "y", "type": "space", "unit": "micrometer"},
    "x": {"name": "x", "type": "space", "unit": "micrometer"},
}



# ---------------------------------------------------------------------------
# OME-Zarr 0.4 metadata and data
# ---------------------------------------------------------------------------


def multiscales_04(
    axes: str,
    scales: Sequence[Sequence[float]],
    *,
    paths: Sequence[str] | None = None,
    translations: Sequence[Sequence[float] | None] | None = None,
    name: str | None = None,
    version: str | None = "0.4",
    coordinate_transformations: list[dict[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The value of a 0.4 ``multiscales`` attribute (a list with one entry).

    axes: one letter per dimension out of "tczyx", e.g. "czyx".
    scales: one scale vector per resolution level.
    paths: the dataset paths (default "0", "1", ...).
    translations: optional per-level translation vectors (None entries skip).
    version: the per-object version key; None leaves it out.
    coordinate_transformations: optional multiscale-wide transformations.
    extra: more keys for the entry (e.g. "type", "metadata").
    """
    paths = list(paths) if paths is not None else [str(i) for i in range(len(scales))]
    if len(paths) != len(scales):
        msg = "paths and scales differ in length"
        raise ValueError(msg)
    datasets = []
    for i, (p, s) in enumerate(zip(paths, scales, strict=True)):
        cts: list[dict[str, Any]] = [{"type": "scale", "scale": [float(v) for v in s]}]
        if translations is not None and translations[i] is not None:
            cts.append({"type": "translation", "translation": [float(v) for v in translations[i]]})
        datasets.append({"path": p, "coordinateTransformations": cts})
    entry: dict[str, Any] = {"axes": [dict(AXES[a]) for a in axes], "datasets": datasets}
    if version is not None:
        entry["version"] = version
    if name is not None:
        entry["name"] = name
    if coordinate_transformations is not None:
        entry["coordinateTransformations"] = coordinate_transformations
    if extra:
        entry.update(extra)
    return [entry]


def pyramid(data: np.ndarray, levels: int, *, spatial_dims: int = 2) -> list[np.ndarray]:
    """``levels`` arrays: ``data`` then each previous level subsampled by 2 in
    the last ``spatial_dims`` dimensions (y/x by default), by striding, so the
    data type and label values are kept."""
    out = [np.asarray(data)]
    for _ in range(levels - 1):
        prev = out[-1]
        sl = (slice(None),) * (prev.ndim - spatial_dims) + (slice(None, None, 2),) * spatial_dims
        out.append(np.ascontiguousarray(prev[sl]))
    return out


def pattern(shape: Sequence[int], dtype: Any = "<u2", seed: int = 0) -> np.ndarray:
    """Deterministic test data: a ramp that depends on position plus a little
    noise, compressible and different at every voxel for wide types."""
    dt = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng(seed)
    ramp = np.zeros(shape, dtype=np.int64)
    for axis, weight in enumerate(reversed((1, 7, 29, 113, 409)[: len(shape)])):
        idx = np.arange(shape[axis], dtype=np.int64).reshape(
            [-1 if a == axis else 1 for a in range(len(shape))]
        )
        ramp = ramp + idx * weight
    if dt.kind == "b":
        return ((ramp // 3 + rng.integers(0, 2, size=shape)) % 2).astype(dt)
    if dt.kind == "f":
        return (ramp * 0.125 + rng.standard_normal(shape)).astype(dt)
    info = np.iinfo(dt)
    span = min(int(info.max) - int(info.min) + 1, 1 << 24)
    values = (ramp * 4 + rng.integers(0, 4, size=shape)) % span
    if info.min < 0:
        values = values - span // 2
    return values.astype(dt)


def label_blobs(shape: Sequence[int], count: int, dtype: Any = "<u4", seed: int = 0) -> np.ndarray:
    """A label image: ``count`` boxes with values 1..count on background 0."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    out = np.zeros(shape, dtype=np.dtype(dtype))
    for value in range(1, count + 1):
        lo = [int(rng.integers(0, max(1, s - 2))) for s in shape]
        hi = [min(s, lo_ + int(rng.integers(1, max(2, s // 3 + 1)))) for lo_, s in zip(lo, shape, strict=True)]
        out[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] = value
    return out


def _per_level(value: Any, n: int) -> list[Any]:
    """A chunks argument may be one tuple for all levels or a list of tuples."""
    if value is not None and len(value) and isinstance(value[0], (list, tuple)):
        if len(value) != n:
            msg = f"{len(value)} chunk shapes for {n} levels"
            raise ValueError(msg)
        return [tuple(v) for v in value]
    return [None if value is None else tuple(value)] * n


def write_image(
    path: PathLike,
    data: np.ndarray | Sequence[np.ndarray],
    axes: str,
    *,
    levels: int = 1,
    chunks: Sequence[int] | Sequence[Sequence[int]] | None = None,
    scales: Sequence[Sequence[float]] | None = None,
    name: str | None = None,
    version: str | None = "0.4",
    omero: Mapping[str, Any] | None = None,
    multiscales_extra: Mapping[str, Any] | None = None,
    extra_attrs: Mapping[str, Any] | None = None,
    translations: Sequence[Sequence[float] | None] | None = None,
    coordinate_transformations: list[dict[str, Any]] | None = None,
    missing_chunks: Sequence[Iterable[Sequence[int]]] | None = None,
    **array_options: Any,
) -> dict[str, np.ndarray]:
    """Write an OME-Zarr 0.4 multiscale image group at ``path``.

    data: the full-resolution array (then ``levels`` levels are made with
        :func:`pyramid`) or an explicit list of level arrays.
    axes: one letter per dimension, e.g. "tczyx", "yx".
    chunks: one chunk shape for every level, or a list with one per level;
        default: each level's shape clipped to 64 in every dimension.
    scales: per-level scale vectors (default 1 for non-spatial axes and
        2**level for the last two).
    version, name, omero, multiscales_extra, translations,
    coordinate_transformations: what goes into the group's attributes;
        extra_attrs is merged into ``.zattrs`` as is.
    missing_chunks: optional list (one entry per level) of chunk indices
        never written.
    array_options: passed to :func:`write_v2_array` for every level
        (compressor, fill_value, order, dimension_separator, dtype, ...).

    Returns {level path: expected array}.
    """
    arrays = pyramid(data, levels) if isinstance(data, np.ndarray) else [np.asarray(a) for a in data]
    n = len(arrays)
    if any(a.ndim != len(axes) for a in arrays):
        msg = f"axes {axes!r} do not match array ndim {arrays[0].ndim}"
        raise ValueError(msg)
    if scales is None:
        scales = [
            [1.0] * (len(axes) - 2) + [float(2**i)] * min(2, len(axes))
            if len(axes) >= 2
            else [float(2**i)]
            for i in range(n)
        ]
    attrs: dict[str, Any] = {
        "multiscales": multiscales_04(
            axes,
            scales,
            name=name,
            version=version,
            translations=translations,
            coordinate_transformations=coordinate_transformations,
            extra=multiscales_extra,
        )
    }
    if omero is not None:
        attrs["omero"] = dict(omero)
    if extra_attrs:
        attrs.update(extra_attrs)
    root = write_v2_group(path, attrs)
    expected: dict[str, np.ndarray] = {}
    for i, (arr, ch) in enumerate(zip(arrays, _per_level(chunks, n), strict=True)):
        if ch is None:
            ch = tuple(min(64, s) or 1 for s in arr.shape)
        miss = missing_chunks[i] if missing_chunks is not None else ()
        expected[str(i)] = write_v2_array(root / str(i), arr, ch, missing_chunks=miss, **array_options)
    return expected


def _label_colors(values: Iterable[int]) -> list[dict[str, Any]]:
    return [
        {"label-value": int(v), "rgba": [(53 * int(v)) % 256, (97 * int(v)) % 256, (193 * int(v)) % 256, 255]}
        for v in values
    ]


def write_labels(
    image_path: PathLike,
    labels: Mapping[str, np.ndarray | Sequence[np.ndarray]],
    axes: str,
    *,
    levels: int = 1,
    chunks: Sequence[int] | Sequence[Sequence[int]] | None = None,
    version: str | None = "0.4",
    properties: bool = True,
    **image_options: Any,
) -> dict[str, np.ndarray]:
    """Write ``image_path/labels`` (attrs ``{"labels": [names]}``) and one label
    image per entry of ``labels`` (name -> full-resolution array or list of
    levels). Each label image carries ``image-label`` with colors, optional
    properties, ``source.image == "../../"`` and the per-object version.
    All-background chunks are not written (as real label writers do).

    Returns {"labels/NAME/LEVEL": expected array}.
    """
    base = Path(image_path) / "labels"
    write_v2_group(base, {"labels": list(labels)})
    expected: dict[str, np.ndarray] = {}
    image_options.setdefault("skip_empty_chunks", True)
    for lname, data in labels.items():
        first = data if isinstance(data, np.ndarray) else data[0]
        values = sorted(int(v) for v in np.unique(first) if v != 0)
        image_label: dict[str, Any] = {}
        if version is not None:
            image_label["version"] = version
        image_label["colors"] = _label_colors(values)
        if properties:
            image_label["properties"] = [
                {"label-value": v, "class": f"{lname} {v}", "area (pixels)": int((first == v).sum())}
                for v in values
            ]
        image_label["source"] = {"image": "../../"}
        got = write_image(
            base / lname,
            data,
            axes,
            levels=levels,
            chunks=chunks,
            name=lname,
            version=version,
            extra_attrs={"image-label": image_label},
            **image_options,
        )
        expected.update({f"labels/{lname}/{k}": v for k, v in got.items()})
    return expected


def _channel(label: str, color: str, end: float, maximum: float) -> dict[str, Any]:
    return {
        "active": True,
        "coefficient": 1.0,
        "color": color,
        "family": "linear",
        "inverted": False,
        "label": label,
        "window": {"start": 0.0, "end": float(end), "min": 0.0, "max": float(maximum)},
    }


def omero_04(
    labels: Sequence[str], *, dtype: Any = "<u2", version: str | None = "0.4", **extra: Any
) -> dict[str, Any]:
    """A 0.4 ``omero`` block for channels named ``labels``."""
    colors = ["0000FF", "00FF00", "FF0000", "FFFFFF", "FF00FF", "00FFFF"]
    dt = np.dtype(dtype)
    maximum = float(np.iinfo(dt).max) if dt.kind in "iu" else 1.0
    out: dict[str, Any] = dict(extra)
    if version is not None:
        out["version"] = version
    out["channels"] = [
        _channel(lab, colors[i % len(colors)], maximum / 16, maximum) for i, lab in enumerate(labels)
    ]
    out["rdefs"] = {"defaultT": 0, "defaultZ": 0, "model": "color"}
    return out


def write_plate(
    path: PathLike,
    rows: Sequence[str],
    cols: Sequence[str],
    present_wells: Iterable[str | tuple[str, str]],
    fields: int | Sequence[str],
    *,
    image_shape: Sequence[int] = (2, 40, 48),
    axes: str = "cyx",
    levels: int = 2,
    chunks: Sequence[int] | Sequence[Sequence[int]] | None = (1, 32, 32),
    dtype: Any = "<u2",
    version: str | None = "0.4",
    name: str | None = "test plate",
    labels_in: Iterable[str] = (),
    seed: int = 100,
    **array_options: Any,
) -> dict[str, np.ndarray]:
    """Write a 0.4 HCS plate.

    rows, cols: row and column names ("A", "B" / "1", "2", ...).
    present_wells: wells that exist, as "A/1" or ("A", "1"); other wells get no
        group at all (and row groups exist only for rows with a well).
    fields: number of fields per well (named "0", "1", ...) or their names.
    labels_in: field paths ("A/1/0") that also get a labels group with one
        label image "seg".
    The plate lists one acquisition per field; each field image has an omero
    block with one channel per entry of the first axis when axes start with c.

    Returns {"A/1/0/0": expected array, ...}.
    """
    wells = [tuple(w.split("/")) if isinstance(w, str) else tuple(w) for w in present_wells]
    field_names = [str(i) for i in range(fields)] if isinstance(fields, int) else list(fields)
    plate: dict[str, Any] = {}
    if version is not None:
        plate["version"] = version
    if name is not None:
        plate["name"] = name
    plate["acquisitions"] = [
        {"id": i, "name": f"acquisition {i}", "maximumfieldcount": 1} for i in range(len(field_names))
    ]
    plate["field_count"] = len(field_names)
    plate["rows"] = [{"name": r} for r in rows]
    plate["columns"] = [{"name": c} for c in cols]
    plate["wells"] = [
        {"path": f"{r}/{c}", "rowIndex": list(rows).index(r), "columnIndex": list(cols).index(c)}
        for r, c in wells
    ]
    root = write_v2_group(path, {"plate": plate})
    for r in rows:
        if any(wr == r for wr, _ in wells):
            write_v2_group(root / r)
    expected: dict[str, np.ndarray] = {}
    with_labels = set(labels_in)
    channels = [f"ch{i}" for i in range(image_shape[0])] if axes.startswith("c") else ["ch0"]
    for r, c in wells:
        well: dict[str, Any] = {}
        if version is not None:
            well["version"] = version
        well["images"] = [{"path": f, "acquisition": i} for i, f in enumerate(field_names)]
        write_v2_group(root / r / c, {"well": well})
        for f in field_names:
            seed += 1
            fpath = f"{r}/{c}/{f}"
            data = pattern(image_shape, dtype, seed)
            got = write_image(
                root / fpath,
                data,
                axes,
                levels=levels,
                chunks=chunks,
                name=f"{r}{c} field {f}",
                version=version,
                omero=omero_04(channels, dtype=dtype, version=version),
                dtype=dtype,
                **array_options,
            )
            expected.update({f"{fpath}/{k}": v for k, v in got.items()})
            if fpath in with_labels:
                seg = label_blobs(image_shape, 3, "<u2", seed)
                got = write_labels(
                    root / fpath, {"seg": seg}, axes, levels=levels, chunks=chunks, version=version
                )
                expected.update({f"{fpath}/{k}": v for k, v in got.items()})
    return expected


DEFAULT_OME_XML = """<?xml version="1.0" encoding="UTF-8"?>
<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://www.openmicroscopy.org/Schemas/OME/2016-06 \
http://www.openmicroscopy.org/Schemas/OME/2016-06/ome.xsd" Creator="ome2024_ngff_challenge.samples">
  <Image ID="Image:0" Name="Série 0 – Zellkerne µ">
    <Pixels BigEndian="false" DimensionOrder="XYZCT" ID="Pixels:0" Interleaved="false" \
PhysicalSizeX="0.5" PhysicalSizeXUnit="µm" PhysicalSizeY="0.5" PhysicalSizeYUnit="µm" \
SignificantBits="16" SizeC="2" SizeT="1" SizeX="48" SizeY="40" SizeZ="2" Type="uint16">
      <Channel ID="Channel:0:0" Name="DAPI" SamplesPerPixel="1"><LightPath/></Channel>
      <Channel ID="Channel:0:1" Name="GFP" SamplesPerPixel="1"><LightPath/></Channel>
      <MetadataOnly/>
    </Pixels>
  </Image>
  <Image ID="Image:1" Name="label image 標本">
    <Pixels BigEndian="false" DimensionOrder="XYZCT" ID="Pixels:1" Interleaved="false" \
SignificantBits="8" SizeC="1" SizeT="1" SizeX="30" SizeY="20" SizeZ="1" Type="uint8">
      <Channel ID="Channel:1:0" SamplesPerPixel="1"><LightPath/></Channel>
      <MetadataOnly/>
    </Pixels>
  </Image>
</OME>
"""


def write_bioformats2raw(
    path: PathLike,
    series: int | Sequence[Mapping[str, Any]] = 2,
    ome_xml: str | bytes | None = DEFAULT_OME_XML,
) -> dict[str, np.ndarray]:
    """Write a bioformats2raw.layout 3 dataset.

    Root attrs ``{"bioformats2raw.layout": 3}``; an ``OME`` group with
    ``{"series": ["0", "1", ...]}`` and ``OME/METADATA.ome.xml`` (written as
    given, UTF-8 when a str; None writes no XML); one image per series at
    "0", "1", ...

    series: how many default series (tczyx: series 0 uint16 2 levels, other
        series uint8 1 level), or one dict per series of keyword arguments for
        :func:`write_image` (must contain "data" and "axes").

    Returns {"0/0": expected array, "1/0": ..., ...}.
    """
    root = write_v2_group(path, {"bioformats2raw.layout": 3})
    specs: list[Mapping[str, Any]]
    if isinstance(series, int):
        specs = []
        for i in range(series):
            if i == 0:
                specs.append({"data": pattern((1, 2, 2, 40, 48), "<u2", 30), "axes": "tczyx", "levels": 2,
                              "chunks": (1, 1, 1, 32, 32),
                              "omero": omero_04(["DAPI", "GFP"], id=1, name="Série 0 – Zellkerne µ")})
            else:
                specs.append({"data": pattern((1, 1, 1, 20, 30), "|u1", 30 + i), "axes": "tczyx",
                              "chunks": (1, 1, 1, 20, 30),
                              "omero": omero_04(["Channel 0"], dtype="|u1", id=i + 1)})
    else:
        specs = list(series)
    bf_meta = {"method": "loci.common.image.SimpleImageScaler", "version": "Bio-Formats 7.3.0"}
    ome = write_v2_group(root / "OME", {"series": [str(i) for i in range(len(specs))]})
    if ome_xml is not None:
        raw = ome_xml.encode("utf-8") if isinstance(ome_xml, str) else bytes(ome_xml)
        (ome / "METADATA.ome.xml").write_bytes(raw)
    expected: dict[str, np.ndarray] = {}
    for i, spec in enumerate(specs):
        kwargs = dict(spec)
        data = kwargs.pop("data")
        axes = kwargs.pop("axes")
        kwargs.setdefault("multiscales_extra", {"metadata": dict(bf_meta)})
        got = write_image(root / str(i), data, axes, **kwargs)
        expected.update({f"{i}/{k}": v for k, v in got.items()})
    return expected


# ---------------------------------------------------------------------------
# The README's example
# ---------------------------------------------------------------------------


def _example_data(shape: tuple[int, int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two channels of round, smooth "nuclei" / "cytoplasm" plus camera noise,
    and the nuclei's label image."""
    c, nz, ny, nx = shape
    rng = np.random.default_rng(seed)
    z = np.arange(nz, dtype=np.float32).reshape(-1, 1, 1)
    y = np.arange(ny, dtype=np.float32).reshape(1, -1, 1)
    x = np.arange(nx, dtype=np.float32).reshape(1, 1, -1)
    nuclei = np.zeros((nz, ny, nx), dtype=np.float32)
    cyto = np.zeros((nz, ny, nx), dtype=np.float32)
    labels = np.zeros((nz, ny, nx), dtype=np.uint32)
    for k in range(1, 13):
        cz = rng.uniform(0, nz - 1)
        cy, cx = rng.uniform(20, ny - 20), rng.uniform(20, nx - 20)
        r = rng.uniform(8, 18)
        d2 = ((z - cz) * 4) ** 2 + (y - cy) ** 2 + (x - cx) ** 2
        nuclei += 3000 * np.exp(-d2 / (2 * r * r))
        cyto += 1200 * np.exp(-d2 / (2 * (1.8 * r) ** 2))
        labels[d2 < r * r] = k
    background = 100 + 0.2 * (y + x)
    out = np.empty(shape, dtype=np.uint16)
    for ch, signal in enumerate((nuclei, cyto)):
        noisy = signal + background + rng.normal(0, 20, size=signal.shape)
        out[ch] = np.clip(noisy, 0, 65535).astype(np.uint16)
    return out, labels


def write_example(path: PathLike) -> None:
    """Write a small, realistic OME-Zarr 0.4 image to ``path`` (a new folder).

    czyx uint16, 2 channels x 8 z x 256 y x 256 x, 3 resolution levels (2x in
    y/x), Blosc lz4 chunks of (1, 1, 256, 256) like bioformats2raw, an omero
    block, and a ``labels`` group with one label image "nuclei" (czyx with
    c=1, uint32, 3 levels). About 2 MB; takes a fraction of a second.
    """
    p = Path(path)
    if p.exists() and any(p.iterdir()):
        msg = f"{p}: exists and is not empty"
        raise FileExistsError(msg)
    data, nuclei = _example_data((2, 8, 256, 256), seed=2024)
    scales = [[1.0, 1.0, 0.5 * 2**i, 0.5 * 2**i] for i in range(3)]
    write_image(
        p,
        data,
        "czyx",
        levels=3,
        chunks=(1, 1, 256, 256),
        scales=[[1.0, 2.0, s[2], s[3]] for s in scales],
        name="example",
        omero=omero_04(["nuclei", "cytoplasm"], id=1, name="example"),
        multiscales_extra={"type": "stride", "metadata": {"method": "numpy slicing [::2, ::2]"}},
    )
    # label images have the image's axes, with size 1 where irrelevant (c)
    write_labels(
        p,
        {"nuclei": pyramid(nuclei[np.newaxis], 3)},
        "czyx",
        chunks=(1, 1, 256, 256),
        scales=[[1.0, 2.0, 0.5 * 2**i, 0.5 * 2**i] for i in range(3)],
    )
