"""Self-check of realworld_writers: every replica opens with zarr-python 3 as Zarr v2, every array
reads back equal to the dict the writer returned, and the documented defects are on disk.
"""

import json
import os

import numpy as np
import pytest

import realworld_writers as rw

zarr = pytest.importorskip("zarr")

WRITERS = {
    "ome_zarr_0.8": lambda p: rw.write_ome_zarr_py_like(p, "0.8"),
    "ome_zarr_0.12": lambda p: rw.write_ome_zarr_py_like(p, "0.12"),
    "ome_zarr_0.18": lambda p: rw.write_ome_zarr_py_like(p, "0.18"),
    "ngff_zarr": rw.write_ngff_zarr_like,
    "iohub_02": rw.write_iohub_02_like,
    "iohub_02_scaled": lambda p: rw.write_iohub_02_like(p, scaled=True),
    "iohub_03": rw.write_iohub_03_like,
    "iohub_03a7": lambda p: rw.write_iohub_03_like(p, "0.3.0a7"),
    "ngio": rw.write_ngio_like,
    "ngio_02": rw.write_ngio_02_like,
    "bioio": rw.write_bioio_ome_zarr_like,
}


def attrs(root, rel):
    return json.load(open(os.path.join(root, rel, ".zattrs")))


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_reads_back_with_zarr_python_3(tmp_path, name):
    root = tmp_path / "data.zarr"
    expected = WRITERS[name](root)
    g = zarr.open_group(root, mode="r", zarr_format=2, use_consolidated=False)
    found = {p: n for p, n in g.members(max_depth=None) if isinstance(n, zarr.Array)}
    assert set(found) == set(expected)
    for p, want in expected.items():
        got = found[p][...]
        if want.dtype == object:
            assert [str(x) for x in got.tolist()] == want.tolist(), p
        else:
            assert got.dtype == want.dtype and np.array_equal(got, want), p


def test_iohub_02_identity(tmp_path):
    rw.write_iohub_02_like(tmp_path)
    ms = attrs(tmp_path, "A/1/0")["multiscales"][0]
    assert ms["coordinateTransformations"] == [{"type": "identity"}]
    assert all(d["coordinateTransformations"] == [{"type": "identity"}] for d in ms["datasets"])


def test_iohub_03_label_defects(tmp_path):
    arrays = rw.write_iohub_03_like(tmp_path)
    fov = attrs(tmp_path, "A/1/0")
    assert fov["labels"] == {"labels": ["nuclei"]} and fov["version"] == "0.4"
    assert attrs(tmp_path, "A/1/0/labels") == {}
    assert not any(f != ".zarray" and f != ".zattrs" for f in os.listdir(tmp_path / "A/1/0/labels/nuclei/1"))
    assert not arrays["A/1/0/labels/nuclei/1"].any()


def test_ngio_tables(tmp_path):
    arrays = rw.write_ngio_like(tmp_path)
    assert arrays["tables/nuclei_features/obs/note"].tolist() == ["a", "bb"]
    zm = json.load(open(tmp_path / "tables/FOV_ROI_table/.zmetadata"))["metadata"]
    assert "raw/.zarray" in zm and not (tmp_path / "tables/FOV_ROI_table/raw").exists()
    assert zm[".zattrs"] != attrs(tmp_path, "tables/FOV_ROI_table")  # stale
    note = json.load(open(tmp_path / "tables/nuclei_features/obs/note/.zarray"))
    assert note["dtype"] == "|O" and note["filters"] == [{"id": "vlen-utf8"}] and note["fill_value"] == ""


@pytest.mark.parametrize("writer", [rw.write_ngio_like, rw.write_ngio_02_like])
def test_ngio_tables_read_with_anndata(tmp_path, writer):
    ad = pytest.importorskip("anndata")
    writer(tmp_path)
    t = ad.read_zarr(tmp_path / "tables/nuclei_features")
    assert list(t.obs.index) == ["1", "2"] and list(t.var_names) == ["area"]
    assert list(t.obs["cell_type"]) == ["round", "elongated"] and list(t.obs["note"]) == ["a", "bb"]
    assert t.X.tolist() == [[1024.0], [1920.0]]
    roi = ad.read_zarr(tmp_path / "tables/FOV_ROI_table")
    assert list(roi.obs.index) == ["image"] and roi.X.tolist() == [[0.0, 0.0, 0.0, 32.0, 32.0, 8.0]]
