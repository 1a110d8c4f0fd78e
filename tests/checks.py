"""Shared assertions for the end-to-end tests.

``check_conversion(src_dir, out_dir)`` checks an output produced from an
OME-Zarr 0.4 / Zarr v2 source, independently of how the converter works:
structure and metadata from the JSON files, voxels through zarr-python 3 and
tensorstore, and the public validators / readers (ome-zarr-models, yaozarrs,
ome-zarr-py).

The expected 0.5 metadata is derived here from the source's ``.zattrs`` by a
small independent migration (``expected_attributes``), so a bug in the
package's own migration cannot hide itself.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

STATS_KEY = "_ome2024_ngff_challenge_stats"
CREATOR_KEY = "_creator"
TOOL_NAME = "ome2024-ngff-challenge"

# Keys of a 0.4 ``.zattrs`` that are OME-Zarr metadata and move under "ome".
OME_KEYS = ("multiscales", "omero", "labels", "image-label", "plate", "well", "bioformats2raw.layout", "series")

# Codec names registered for Zarr v3 that the converter may use.
ALLOWED_CODECS = {"sharding_indexed", "bytes", "blosc", "zstd", "gzip", "crc32c", "transpose"}

# numpy kind/size -> Zarr v3 data_type name
V3_DTYPES = {
    ("b", 1): "bool",
    ("i", 1): "int8",
    ("i", 2): "int16",
    ("i", 4): "int32",
    ("i", 8): "int64",
    ("u", 1): "uint8",
    ("u", 2): "uint16",
    ("u", 4): "uint32",
    ("u", 8): "uint64",
    ("f", 2): "float16",
    ("f", 4): "float32",
    ("f", 8): "float64",
}


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def load_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def v3_meta(out_dir: Path, rel: str) -> dict[str, Any]:
    """The parsed zarr.json of node ``rel`` in ``out_dir`` (asserting it exists)."""
    path = out_dir / rel / "zarr.json" if rel else out_dir / "zarr.json"
    assert path.is_file(), f"missing {path}"
    meta = load_json(path)
    assert meta.get("zarr_format") == 3, f"{path}: zarr_format is {meta.get('zarr_format')!r}, not 3"
    return meta


def v3_dtype_name(dtype: np.dtype) -> str:
    return V3_DTYPES[(dtype.kind, dtype.itemsize)]


def native(a: np.ndarray) -> np.ndarray:
    """``a`` in native byte order, C-contiguous (values unchanged)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))


def bits(a: np.ndarray) -> np.ndarray:
    """The raw bit patterns of ``a``'s values (catches -0.0 vs 0.0 and NaN payloads)."""
    a = native(a)
    if a.dtype.kind == "b":
        return a.view(np.uint8)
    return a.view(f"u{a.dtype.itemsize}")


def assert_same_voxels(expected: np.ndarray, got: np.ndarray, what: str) -> None:
    """Values equal (NaN == NaN for floats) and bit patterns equal."""
    expected = np.asarray(expected)
    got = np.asarray(got)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert native(got).dtype == native(expected).dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    a, b = native(got), native(expected)
    is_float = expected.dtype.kind == "f"
    if not np.array_equal(a, b, equal_nan=is_float):
        same = (a == b) | (np.isnan(a) & np.isnan(b)) if is_float else a == b
        diff = np.argwhere(~same)
        first = tuple(int(i) for i in diff[0])
        msg = f"{what}: {len(diff)} voxels differ, first at {first} (got {a[first]!r}, expected {b[first]!r})"
        raise AssertionError(msg)
    if not np.array_equal(bits(got), bits(expected)):
        diff = np.argwhere(bits(got) != bits(expected))
        first = tuple(int(i) for i in diff[0])
        msg = (f"{what}: bit patterns differ at {len(diff)} voxels, first at {first} "
               f"(got {bits(got)[first]:#x}, expected {bits(expected)[first]:#x})")
        raise AssertionError(msg)


def iter_v2_nodes(src_dir: Path) -> Iterator[tuple[str, str]]:
    """(relative path, "group" | "array") of every Zarr v2 node below src_dir."""
    for dirpath, dirnames, filenames in os.walk(src_dir):
        dirnames.sort()
        rel = Path(dirpath).relative_to(src_dir).as_posix()
        rel = "" if rel == "." else rel
        if ".zarray" in filenames:
            yield rel, "array"
            dirnames[:] = []  # chunk folders
        elif ".zgroup" in filenames:
            yield rel, "group"


def v2_attrs(src_dir: Path, rel: str) -> dict[str, Any]:
    path = src_dir / rel / ".zattrs"
    return load_json(path) if path.is_file() else {}


# ---------------------------------------------------------------------------
# metadata: an independent 0.4 -> 0.5 migration to compare against
# ---------------------------------------------------------------------------


def _strip_version(obj: Any) -> Any:
    if isinstance(obj, dict):
        obj = dict(obj)
        obj.pop("version", None)
    return obj


def expected_attributes(attrs_04: dict[str, Any]) -> dict[str, Any]:
    """The v3 ``attributes`` a 0.4 group's ``.zattrs`` should become (without
    the converter's own ``_creator`` / stats entries).

    OME keys move under "ome" with "version": "0.5"; the per-object "version"
    of each multiscales entry, omero, image-label, plate and well is dropped;
    everything else (including multiscales[].metadata.version) is kept.
    """
    attrs = copy.deepcopy(attrs_04)
    ome: dict[str, Any] = {}
    for key in OME_KEYS:
        if key in attrs:
            ome[key] = attrs.pop(key)
    out: dict[str, Any] = dict(attrs)
    if not ome:
        return out
    if "multiscales" in ome:
        ome["multiscales"] = [_strip_version(m) for m in ome["multiscales"]]
    for key in ("omero", "image-label", "plate", "well"):
        if key in ome:
            ome[key] = _strip_version(ome[key])
    out["ome"] = {"version": "0.5", **ome}
    return out


def _without_creator(ome: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ome.items() if k != CREATOR_KEY}


def check_group(src_dir: Path, out_dir: Path, rel: str, added: list[str] | None = None) -> dict[str, Any]:
    """A source group became a v3 group with the migrated attributes. With
    ``added`` (a list to fill), levels added below the first multiscale's
    smallest (``--output-add-levels``) are allowed; their paths are appended."""
    meta = v3_meta(out_dir, rel)
    where = f"{out_dir / rel / 'zarr.json'}"
    assert meta.get("node_type") == "group", f"{where}: node_type {meta.get('node_type')!r}"
    attrs = meta.get("attributes", {})
    expected = expected_attributes(v2_attrs(src_dir, rel))
    if "ome" in expected:
        assert "ome" in attrs, f"{where}: no 'ome' attributes"
        ome = attrs["ome"]
        assert ome.get("version") == "0.5", f"{where}: ome.version is {ome.get('version')!r}"
        for m in ome.get("multiscales", []):
            assert "version" not in m, f"{where}: multiscales entry still has 'version'"
        for key in ("omero", "image-label", "plate", "well"):
            if isinstance(ome.get(key), dict):
                assert "version" not in ome[key], f"{where}: ome.{key} still has 'version'"
        got = _without_creator(ome)
        if added is not None and "multiscales" in expected["ome"]:
            got = copy.deepcopy(got)
            datasets = got["multiscales"][0]["datasets"]
            n = len(expected["ome"]["multiscales"][0]["datasets"])
            added.extend(d["path"] for d in datasets[n:])
            del datasets[n:]
        assert got == expected["ome"], (
            f"{where}: ome metadata differs from the migrated source:\n"
            f"  got      {json.dumps(got, sort_keys=True)}\n  expected {json.dumps(expected['ome'], sort_keys=True)}"
        )
    else:
        # groups without OME metadata (plate rows, plain groups): at most a bare version
        ome = _without_creator(attrs.get("ome", {}))
        assert ome in ({}, {"version": "0.5"}), f"{where}: unexpected ome metadata {ome!r}"
    for key, value in expected.items():
        if key == "ome":
            continue
        assert attrs.get(key) == value, f"{where}: attribute {key!r} not kept ({attrs.get(key)!r} != {value!r})"
    return meta


# ---------------------------------------------------------------------------
# arrays
# ---------------------------------------------------------------------------


def _codec_names(codecs: list[dict[str, Any]]) -> Iterator[str]:
    for c in codecs:
        yield c["name"]
        conf = c.get("configuration") or {}
        for sub in ("codecs", "index_codecs"):
            if sub in conf:
                yield from _codec_names(conf[sub])


def decode_v3_fill(value: Any, dtype: np.dtype) -> Any:
    """A v3 JSON fill_value as a numpy scalar of ``dtype`` (native order)."""
    dt = dtype.newbyteorder("=")
    if dt.kind == "b":
        assert isinstance(value, bool), f"bool fill_value must be true/false, got {value!r}"
        return np.bool_(value)
    if dt.kind == "f":
        if isinstance(value, str):
            if value.startswith("0x"):
                raw = int(value, 16).to_bytes(dt.itemsize, "big")
                return np.frombuffer(raw, dtype=dt.newbyteorder(">"))[0].astype(dt)
            special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
            assert value in special, f"invalid float fill_value {value!r}"
            return dt.type(special[value])
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"fill_value {value!r}"
        return dt.type(value)
    assert isinstance(value, int) and not isinstance(value, bool), f"integer fill_value must be an int: {value!r}"
    return dt.type(value)


def expected_fill(zarray: dict[str, Any], dtype: np.dtype) -> Any:
    value = zarray.get("fill_value")
    dt = dtype.newbyteorder("=")
    if value is None:
        return dt.type(0)
    if dt.kind == "f" and isinstance(value, str):
        return dt.type({"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[value])
    return dt.type(value)


def read_v2(src_dir: Path, rel: str) -> np.ndarray:
    import zarr

    return zarr.open_array(store=str(src_dir / rel), mode="r", zarr_format=2)[...]


def read_v3_zarr(out_dir: Path, rel: str) -> np.ndarray:
    import zarr

    return zarr.open_array(store=str(out_dir / rel), mode="r", zarr_format=3)[...]


def read_v3_tensorstore(out_dir: Path, rel: str) -> np.ndarray:
    import tensorstore as ts

    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(out_dir / rel) + "/"}}
    return ts.open(spec, read=True).result().read().result()


def check_array_metadata(
    src_dir: Path, out_dir: Path, rel: str, axes: list[str] | None, *, sharded: bool | None = None
) -> dict[str, Any]:
    """zarr.json of an output array against the source's .zarray."""
    meta = v3_meta(out_dir, rel)
    where = f"{out_dir / rel / 'zarr.json'}"
    zarray = load_json(src_dir / rel / ".zarray")
    dtype = np.dtype(zarray["dtype"])
    assert meta.get("node_type") == "array", f"{where}: node_type {meta.get('node_type')!r}"
    assert meta.get("shape") == zarray["shape"], f"{where}: shape {meta.get('shape')} != {zarray['shape']}"
    if dtype.kind == "O":  # a v2 string array (|O + vlen-utf8): a v3 "string" array with a string fill value
        assert meta.get("data_type") == "string", f"{where}: data_type {meta.get('data_type')!r} != 'string'"
        assert isinstance(meta.get("fill_value"), str), f"{where}: fill_value {meta.get('fill_value')!r} not a string"
        return meta
    if dtype.kind == "U":  # fixed-length unicode (<U4): zarr-python 3's fixed_length_utf32 extension type
        want = {"name": "fixed_length_utf32", "configuration": {"length_bytes": dtype.itemsize}}
        assert meta.get("data_type") == want, f"{where}: data_type {meta.get('data_type')!r} != {want!r}"
        return meta
    assert meta.get("data_type") == v3_dtype_name(dtype), (
        f"{where}: data_type {meta.get('data_type')!r} != {v3_dtype_name(dtype)!r}"
    )
    if axes is not None:
        assert meta.get("dimension_names") == axes, f"{where}: dimension_names {meta.get('dimension_names')} != {axes}"
    assert "fill_value" in meta and meta["fill_value"] is not None, f"{where}: no concrete fill_value"
    got_fill = decode_v3_fill(meta["fill_value"], dtype)
    want_fill = expected_fill(zarray, dtype)
    assert bits(np.array([got_fill])).tolist() == bits(np.array([want_fill])).tolist() or (
        dtype.kind == "f" and np.isnan(got_fill) and np.isnan(want_fill)
    ), f"{where}: fill_value {meta['fill_value']!r} != source {zarray.get('fill_value')!r}"
    names = set(_codec_names(meta["codecs"]))
    assert names <= ALLOWED_CODECS, f"{where}: unregistered codecs {sorted(names - ALLOWED_CODECS)}"
    grid = meta["chunk_grid"]
    assert grid["name"] == "regular", f"{where}: chunk grid {grid['name']!r}"
    outer = grid["configuration"]["chunk_shape"]
    assert len(outer) == len(zarray["shape"]), f"{where}: chunk_shape {outer} has the wrong length"
    first = meta["codecs"][0]
    if first["name"] == "sharding_indexed":
        inner = first["configuration"]["chunk_shape"]
        assert len(inner) == len(outer), f"{where}: inner chunk_shape {inner} vs shard {outer}"
        assert all(i > 0 and o % i == 0 for o, i in zip(outer, inner, strict=True)), (
            f"{where}: shard shape {outer} is not a multiple of chunk shape {inner}"
        )
    else:
        assert "sharding_indexed" not in names, f"{where}: sharding_indexed is not the first codec"
    if sharded is not None:
        assert (first["name"] == "sharding_indexed") == sharded, (
            f"{where}: expected {'sharded' if sharded else 'unsharded'} output, codecs {meta['codecs']}"
        )
    return meta


def chunks_and_shards(meta: dict[str, Any]) -> tuple[list[int], list[int] | None]:
    """(inner chunk shape, shard shape or None) of an output array's zarr.json."""
    outer = meta["chunk_grid"]["configuration"]["chunk_shape"]
    first = meta["codecs"][0]
    if first["name"] == "sharding_indexed":
        return list(first["configuration"]["chunk_shape"]), list(outer)
    return list(outer), None


def check_array_data(src_dir: Path, out_dir: Path, rel: str, expected: np.ndarray | None = None) -> np.ndarray:
    """Every voxel of the output (read by zarr-python 3 and tensorstore) equals
    the source read with zarr-python's v2 reader (and ``expected`` if given)."""
    source = read_v2(src_dir, rel)
    if expected is not None:
        assert_same_voxels(expected, source, f"{src_dir / rel} (zarr v2 reader vs what samples wrote)")
    if source.dtype.kind in "OUT":  # strings: zarr-python 3 only (tensorstore's zarr3 driver has no string type)
        got = read_v3_zarr(out_dir, rel)
        assert got.shape == source.shape and [str(x) for x in got.ravel()] == [str(x) for x in source.ravel()], (
            f"{out_dir / rel} read by zarr-python 3: strings differ from the source's"
        )
        return source
    assert_same_voxels(source, read_v3_zarr(out_dir, rel), f"{out_dir / rel} read by zarr-python 3")
    assert_same_voxels(source, read_v3_tensorstore(out_dir, rel), f"{out_dir / rel} read by tensorstore")
    return source


# ---------------------------------------------------------------------------
# validators and readers
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # ome-zarr-models warns "'version' field not specified in plate metadata":
    # in 0.5 the version lives in ome.version only, so that is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def validate_ome_zarr_models(out_dir: Path, kind: str, rel: str = "") -> Any:
    """Validate one output group with ome-zarr-models' v0.5 classes.

    kind: "image", "labels", "label", "well", "plate", "bioformats2raw".
    ``open_ome_zarr`` tries only HCS/Image/Labels/Well, so the matching class
    is used directly (BioFormats2Raw and ImageLabel are not in its list).
    """
    import zarr
    from ome_zarr_models import v05

    classes = {
        "image": v05.Image,
        "labels": v05.Labels,
        "label": v05.ImageLabel,
        "well": v05.Well,
        "plate": v05.HCS,
        "bioformats2raw": v05.BioFormats2Raw,
    }
    group = zarr.open_group(store=str(out_dir / rel), mode="r", zarr_format=3)
    with _quiet():
        try:
            return classes[kind].from_zarr(group)
        except Exception as e:  # noqa: BLE001
            msg = f"ome-zarr-models rejects {out_dir / rel} as {kind}: {e}"
            raise AssertionError(msg) from None


def validate_yaozarrs(out_dir: Path, rel: str = "") -> None:
    """yaozarrs.validate_zarr_store: metadata + structure of the hierarchy
    below ``rel`` (it validates children such as labels, wells, fields and
    bioformats2raw series from their parent; an OME series group or a plate
    row group cannot be validated on their own, as they carry no OME type)."""
    import yaozarrs

    with _quiet():
        try:
            yaozarrs.validate_zarr_store(str(out_dir / rel))
        except Exception as e:  # noqa: BLE001
            msg = f"yaozarrs rejects {out_dir / rel}: {e}"
            raise AssertionError(msg) from None


def read_with_ome_zarr_py(out_dir: Path, rel: str = "") -> list[Any]:
    """Nodes ome-zarr-py's Reader finds at ``rel`` (its first node is ``rel``)."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    with _quiet():
        location = parse_url(str(out_dir / rel))
        assert location is not None, f"ome-zarr-py cannot open {out_dir / rel}"
        assert str(location.version) == "0.5", f"ome-zarr-py sees version {location.version} at {out_dir / rel}"
        return list(Reader(location)())


def check_ome_zarr_py_image(src_dir: Path, out_dir: Path, rel: str, attrs_04: dict[str, Any],
                            added: int = 0) -> None:
    """ome-zarr-py loads the image at ``rel``: all levels with the source's
    shapes (and ``added`` more), the source's smallest level's voxels equal to
    the source, and the labels the source lists."""
    nodes = read_with_ome_zarr_py(out_dir, rel)
    assert nodes, f"ome-zarr-py finds nothing at {out_dir / rel}"
    node = nodes[0]
    specs = {type(s).__name__ for s in node.specs}
    assert "Multiscales" in specs, f"ome-zarr-py: {out_dir / rel} is not read as multiscales ({specs})"
    paths = [d["path"] for d in attrs_04["multiscales"][0]["datasets"]]
    shapes = [tuple(load_json(src_dir / rel / p / ".zarray")["shape"]) for p in paths]
    got = [tuple(d.shape) for d in node.data]
    assert got[: len(shapes)] == shapes and len(got) == len(shapes) + added, (
        f"ome-zarr-py: level shapes {got} != {shapes} (+ {added} added) at {out_dir / rel}")
    last = join(rel, paths[-1])
    with _quiet():
        data = np.asarray(node.data[len(shapes) - 1])
    assert_same_voxels(read_v2(src_dir, last), data, f"{out_dir / last} read by ome-zarr-py")
    labels_dir = src_dir / rel / "labels"
    if (labels_dir / ".zgroup").is_file() and "labels" in v2_attrs(src_dir, join(rel, "labels")):
        names = v2_attrs(src_dir, join(rel, "labels"))["labels"]
        found = {Path(str(n.zarr.path)).name for n in nodes if "Label" in {type(s).__name__ for s in n.specs}}
        assert set(names) <= found, f"ome-zarr-py finds labels {sorted(found)}, source lists {names}"


def check_ome_zarr_py_plate(out_dir: Path, rel: str = "") -> None:
    nodes = read_with_ome_zarr_py(out_dir, rel)
    assert nodes, f"ome-zarr-py finds nothing at {out_dir / rel}"
    specs = {type(s).__name__ for s in nodes[0].specs}
    assert "Plate" in specs, f"ome-zarr-py: {out_dir / rel} is not read as a plate ({specs})"
    with _quiet():
        data = np.asarray(nodes[0].data[-1])  # the stitched plate at its smallest level
    assert data.size > 0


# ---------------------------------------------------------------------------
# the whole conversion
# ---------------------------------------------------------------------------


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@dataclass
class Report:
    """What check_conversion looked at (for further assertions by a test)."""

    kind: str = ""
    groups: list[str] = field(default_factory=list)
    arrays: dict[str, dict[str, Any]] = field(default_factory=dict)  # rel -> zarr.json
    images: list[str] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)  # image -> paths of the levels added


def classify(attrs_04: dict[str, Any]) -> str:
    if "bioformats2raw.layout" in attrs_04:
        return "bioformats2raw"
    if "plate" in attrs_04:
        return "plate"
    if "well" in attrs_04:
        return "well"
    if "image-label" in attrs_04:
        return "label"
    if "multiscales" in attrs_04:
        return "image"
    if "labels" in attrs_04:
        return "labels"
    return "plain"


def check_conversion(
    src_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    expected: dict[str, np.ndarray] | None = None,
    rocrate: bool = True,
    sharded: bool | None = None,
    validators: bool = True,
    added_levels: bool = False,
) -> Report:
    """Assert that ``out_dir`` is a correct OME-Zarr 0.5 conversion of the
    OME-Zarr 0.4 dataset ``src_dir``.

    expected: optional {array path: array} from samples.py, compared with the
        source as the v2 reader sees it (guards the test data itself).
    rocrate: whether ``ro-crate-metadata.json`` must exist (False: must not).
    sharded: True / False to require (un)sharded arrays; None: either.
    validators: run ome-zarr-models, yaozarrs and ome-zarr-py.
    added_levels: levels may have been added below each image's smallest
        (listed in ``report.added``; their data is the business of the caller).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    report = Report()
    root_attrs = v2_attrs(src_dir, "")
    report.kind = classify(root_attrs)

    nodes = list(iter_v2_nodes(src_dir))
    assert nodes and nodes[0] == ("", "group"), f"{src_dir} is not a Zarr v2 group"
    axes_of: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for rel, node_kind in nodes:
        if node_kind != "group":
            continue
        attrs = v2_attrs(src_dir, rel)
        kinds[rel] = classify(attrs)
        for ms in attrs.get("multiscales", []):
            names = [a["name"] if isinstance(a, dict) else a for a in ms.get("axes", [])]
            for ds in ms.get("datasets", []):
                axes_of[join(rel, ds["path"])] = names
        added: list[str] | None = [] if added_levels else None
        check_group(src_dir, out_dir, rel, added)
        if added:
            report.added[rel] = added
        report.groups.append(rel)
        if "multiscales" in attrs:
            report.images.append(rel)

    for rel, node_kind in nodes:
        if node_kind != "array":
            continue
        meta = check_array_metadata(src_dir, out_dir, rel, axes_of.get(rel), sharded=sharded)
        exp = expected.get(rel) if expected is not None else None
        check_array_data(src_dir, out_dir, rel, exp)
        report.arrays[rel] = meta
    if expected is not None:
        missing = sorted(set(expected) - set(report.arrays))
        assert not missing, f"arrays written by the test but not found in the source walk: {missing}"

    # no zarr.json for anything that was not in the source (e.g. absent wells)
    known = {rel for rel, _ in nodes} | {join(image, p) for image, paths in report.added.items() for p in paths}
    for path in out_dir.rglob("zarr.json"):
        rel = path.parent.relative_to(out_dir).as_posix()
        rel = "" if rel == "." else rel
        assert rel in known, f"{path}: output node with no source node"

    # every file that is not Zarr metadata nor a chunk is copied byte for byte
    arrays = [rel for rel, kind in nodes if kind == "array"]
    for path in src_dir.rglob("*"):
        rel = path.relative_to(src_dir).as_posix()
        if not path.is_file() or path.name in (".zgroup", ".zattrs", ".zarray", ".zmetadata"):
            continue
        if any(rel.startswith(a + "/") for a in arrays if a) or (arrays and "" in arrays):
            continue
        out_file = out_dir / rel
        assert out_file.is_file(), f"{rel}: a file of the source is missing in the output"
        assert out_file.read_bytes() == path.read_bytes(), f"{rel}: copied file differs from the source's"

    # files that are not Zarr metadata: OME-XML of bioformats2raw must be copied as is
    xml = src_dir / "OME" / "METADATA.ome.xml"
    if report.kind == "bioformats2raw" and xml.is_file():
        out_xml = out_dir / "OME" / "METADATA.ome.xml"
        assert out_xml.is_file(), f"missing {out_xml}"
        assert out_xml.read_bytes() == xml.read_bytes(), f"{out_xml} differs from the source's"

    crate = out_dir / "ro-crate-metadata.json"
    if rocrate:
        assert crate.is_file(), f"missing {crate}"
        doc = load_json(crate)
        assert "@graph" in doc and "@context" in doc, f"{crate}: not an RO-Crate (no @context/@graph)"
    else:
        assert not crate.exists(), f"{crate} written although the crate was skipped"

    if validators:
        run_validators(src_dir, out_dir, report, kinds)
    return report


def run_validators(src_dir: Path, out_dir: Path, report: Report, kinds: dict[str, str]) -> None:
    """ome-zarr-models on every OME group, yaozarrs on the root and every
    image, ome-zarr-py's reader on the root (or each series for
    bioformats2raw, which ome-zarr-py 0.18 has no reader spec for: its Reader
    yields no node for a bioformats2raw root)."""
    for rel, kind in kinds.items():
        if kind in ("image", "labels", "label", "well", "plate", "bioformats2raw"):
            validate_ome_zarr_models(out_dir, kind, rel)
    validate_yaozarrs(out_dir, "")
    for rel in report.images:
        if rel:
            validate_yaozarrs(out_dir, rel)
    if report.kind == "plate":
        check_ome_zarr_py_plate(out_dir, "")
    for rel in report.images:
        if kinds.get(rel) == "image" and not _is_label_image(rel, kinds):
            check_ome_zarr_py_image(src_dir, out_dir, rel, v2_attrs(src_dir, rel), len(report.added.get(rel, [])))


def _is_label_image(rel: str, kinds: dict[str, str]) -> bool:
    parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
    return kinds.get(parent) == "labels"


# ---------------------------------------------------------------------------
# other assertions the tests share
# ---------------------------------------------------------------------------


def assert_no_complete_output(out_dir: str | os.PathLike[str]) -> None:
    """After a failed run nothing may look like a finished conversion."""
    out = Path(out_dir)
    assert not (out / "zarr.json").exists(), f"{out / 'zarr.json'} exists after a failed conversion"


def assert_one_line_error(stderr: str, *needles: str) -> str:
    """stderr holds exactly one non-empty line (warnings aside) naming every
    needle, and no traceback. Returns that line."""
    assert "Traceback" not in stderr, f"traceback on stderr:\n{stderr}"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "warning" not in ln.lower()]
    assert len(errors) == 1, f"expected one error line on stderr, got {len(errors)}:\n{stderr}"
    line = errors[0]
    for needle in needles:
        assert needle in line, f"error line does not name {needle!r}: {line}"
    return line


def tree_digest(root: str | os.PathLike[str]) -> dict[str, tuple[int, str]]:
    """{relative path: (mode, sha256)} of every file and folder below root."""
    import hashlib

    out: dict[str, tuple[int, str]] = {}
    root = Path(root)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        st = path.lstat()
        if path.is_file():
            out[rel] = (st.st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            out[rel] = (st.st_mode, "")
    return out


def cli_error(call) -> str:
    """The message of the UserError that ``call()`` raises, as the command line
    prints it (options spelled as flags)."""
    import pytest

    from ome2024_ngff_challenge.commands.options import SPELLING
    from ome2024_ngff_challenge.errors import UserError

    with pytest.raises(UserError) as caught:
        call()
    return caught.value.render(SPELLING)


def chromium() -> str:
    """The headless browser of the page and viewer tests (Debian's chromium)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)")
