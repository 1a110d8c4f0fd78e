"""samples.py writes valid OME-Zarr 0.4 / Zarr v2 data, byte for byte as asked.

Everything the end-to-end tests conclude rests on these inputs being what they
claim to be, so they are read back here with independent readers (zarr-python's
v2 reader and tensorstore's "zarr" driver) and validated with ome-zarr-models'
v0.4 classes and ome-zarr-py.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from numcodecs import Blosc, Zstd

import checks
from ome2024_ngff_challenge.testing import samples


def read_tensorstore_v2(path: Path) -> np.ndarray:
    import tensorstore as ts

    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path) + "/"}}
    return ts.open(spec, read=True).result().read().result()


@pytest.mark.parametrize(
    ("dtype", "order", "sep", "fill", "compressor"),
    [
        ("<u2", "C", "/", 0, samples.BLOSC_LZ4),
        (">u2", "C", ".", 7, Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE)),
        ("<i4", "F", "/", -1, None),
        ("<f4", "C", None, float("nan"), Zstd(level=1)),
        ("|b1", "F", ".", False, samples.BLOSC_LZ4),
        ("|u1", "C", "/", None, None),
    ],
)
def test_v2_array_round_trip(tmp_path, dtype, order, sep, fill, compressor):
    data = samples.pattern((3, 37, 29), dtype, 5)
    p = tmp_path / "a"
    missing = [(1, 1, 0)] if fill is not None else []
    expected = samples.write_v2_array(
        p, data, (2, 16, 16), compressor=compressor, fill_value=fill, order=order, dimension_separator=sep,
        missing_chunks=missing,
    )
    meta = json.loads((p / ".zarray").read_text())
    assert meta["dtype"] == np.dtype(dtype).str
    assert meta["order"] == order
    assert ("dimension_separator" in meta) == (sep is not None)
    key_sep = sep or "."
    assert (p / key_sep.join(["0", "0", "0"])).is_file()
    if missing:
        assert not (p / key_sep.join(["1", "1", "0"])).exists()
        assert (expected[2:3, 16:32, 0:16] == fill).all() or np.isnan(expected[2:3, 16:32, 0:16]).all()
    got = zarr.open_array(store=str(p), mode="r", zarr_format=2)[...]
    checks.assert_same_voxels(expected, got, "zarr v2 reader")
    if compressor is None or compressor.codec_id != "zstd":  # tensorstore: no zstd 'checksum' key
        checks.assert_same_voxels(expected, read_tensorstore_v2(p), "tensorstore zarr driver")


def test_edge_chunks_padded_to_full_chunk(tmp_path):
    p = tmp_path / "a"
    samples.write_v2_array(p, np.ones((5, 7), "<u2"), (4, 4), compressor=None, fill_value=3)
    for key in ("0/0", "0/1", "1/0", "1/1"):
        assert (p / key).stat().st_size == 4 * 4 * 2
    edge = np.frombuffer((p / "1" / "1").read_bytes(), "<u2").reshape(4, 4)
    assert edge[0, :3].tolist() == [1, 1, 1] and edge[0, 3] == 3 and (edge[1:] == 3).all()


def test_skip_empty_chunks(tmp_path):
    data = np.zeros((8, 8), "<u4")
    data[0, 0] = 5
    p = tmp_path / "a"
    samples.write_v2_array(p, data, (4, 4), skip_empty_chunks=True)
    assert sorted(f.relative_to(p).as_posix() for f in p.rglob("*") if f.is_file() and f.name[0] != ".") == ["0/0"]


def test_multiscales_and_pyramid():
    ms = samples.multiscales_04("czyx", [[1, 1, 1, 1], [1, 1, 2, 2]], name="x")
    assert ms[0]["version"] == "0.4" and [a["name"] for a in ms[0]["axes"]] == list("czyx")
    assert [d["path"] for d in ms[0]["datasets"]] == ["0", "1"]
    levels = samples.pyramid(np.zeros((2, 3, 9, 10)), 3)
    assert [lv.shape for lv in levels] == [(2, 3, 9, 10), (2, 3, 5, 5), (2, 3, 3, 3)]


def _v04(path: Path, cls_name: str):
    from ome_zarr_models import v04

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(v04, cls_name).from_zarr(zarr.open_group(str(path), mode="r", zarr_format=2))


def test_write_example_is_fast_and_valid(tmp_path):
    p = tmp_path / "example.zarr"
    t0 = time.perf_counter()
    samples.write_example(p)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"write_example took {elapsed:.2f} s"
    _v04(p, "Image")
    _v04(p / "labels", "Labels")
    _v04(p / "labels" / "nuclei", "ImageLabel")
    zarray = json.loads((p / "0" / ".zarray").read_text())
    assert zarray["compressor"]["id"] == "blosc" and zarray["compressor"]["cname"] == "lz4"
    attrs = json.loads((p / ".zattrs").read_text())
    assert len(attrs["multiscales"][0]["datasets"]) == 3 and len(attrs["omero"]["channels"]) == 2
    img = zarr.open_array(store=str(p / "0"), mode="r", zarr_format=2)
    assert img.shape == (2, 8, 256, 256) and img.dtype == np.uint16
    data = img[...]
    assert data.std() > 10 and len(np.unique(data)) > 100  # structures + noise, not constant
    lab = zarr.open_array(store=str(p / "labels" / "nuclei" / "0"), mode="r", zarr_format=2)[...]
    assert lab.max() > 1
    with pytest.raises(FileExistsError):
        samples.write_example(p)


def test_example_read_by_ome_zarr_py(tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    p = tmp_path / "example.zarr"
    samples.write_example(p)
    nodes = list(Reader(parse_url(str(p)))())
    assert [tuple(d.shape) for d in nodes[0].data] == [(2, 8, 256, 256), (2, 8, 128, 128), (2, 8, 64, 64)]
    assert any(str(n.zarr.path).rstrip("/").endswith("nuclei") for n in nodes)


def test_plate_layout(tmp_path):
    p = tmp_path / "plate.zarr"
    expected = samples.write_plate(p, ["A", "B"], ["1", "2", "3"], ["A/1", "A/3", ("B", "2")], 2, labels_in=["A/1/0"])
    hcs = _v04(p, "HCS")
    assert hcs is not None
    for w in ("A/2", "B/1", "B/3"):
        assert not (p / w).exists()
    for row in ("A", "B"):
        assert (p / row / ".zgroup").is_file() and not (p / row / ".zattrs").exists()
    for w in ("A/1", "A/3", "B/2"):
        assert json.loads((p / w / ".zattrs").read_text())["well"]["version"] == "0.4"
        for f in ("0", "1"):
            _v04(p / w / f, "Image")
    assert "A/1/0/labels/seg/0" in expected and "A/3/1/1" in expected
    for rel, arr in expected.items():
        got = zarr.open_array(store=str(p / rel), mode="r", zarr_format=2)[...]
        checks.assert_same_voxels(arr, got, rel)


def test_bioformats2raw_layout(tmp_path):
    p = tmp_path / "bf.zarr"
    expected = samples.write_bioformats2raw(p, series=2)
    assert json.loads((p / ".zattrs").read_text()) == {"bioformats2raw.layout": 3}
    assert json.loads((p / "OME" / ".zattrs").read_text()) == {"series": ["0", "1"]}
    assert (p / "OME" / "METADATA.ome.xml").read_bytes() == samples.DEFAULT_OME_XML.encode("utf-8")
    assert "µ" in samples.DEFAULT_OME_XML
    _v04(p, "BioFormats2Raw")
    assert sorted(expected) == ["0/0", "0/1", "1/0"]


def test_labels_metadata(tmp_path):
    p = tmp_path / "img.zarr"
    samples.write_image(p, np.zeros((10, 10), "<u2"), "yx")
    lab = np.zeros((10, 10), "<u4")
    lab[2:5, 2:5] = 3
    samples.write_labels(p, {"cells": lab}, "yx")
    assert json.loads((p / "labels" / ".zattrs").read_text()) == {"labels": ["cells"]}
    il = json.loads((p / "labels" / "cells" / ".zattrs").read_text())["image-label"]
    assert il["version"] == "0.4" and il["source"] == {"image": "../../"}
    assert [c["label-value"] for c in il["colors"]] == [3]
    assert il["properties"][0]["area (pixels)"] == 9
