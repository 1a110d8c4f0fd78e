"""Container stores (issue 17 item 2): a SpatialData store and a webknossos dataset convert whole,
with their own markers made what spatialdata 0.8 and webknossos 4.3 write for Zarr v3; a container
of an unknown kind converts by the generic rule; an OME group taken out of a SpatialData store
converts alone to plain OME-Zarr 0.5. The libraries themselves (which cannot be installed beside the
test extras: spatialdata 0.8 needs Python 3.12, webknossos 4.3 pins older click, networkx, psutil
and zipp) read the outputs in ``test_libraries_read_the_outputs``, from venvs where present.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

import container_writers as cw

HERE = Path(__file__).parent


def run(*args):
    return subprocess.run([sys.executable, "-m", "ome2024_ngff_challenge", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _in_array(root: Path, p: Path) -> bool:
    for folder in p.relative_to(root).parents:
        here = root / folder
        if (here / ".zarray").exists() or ((here / "zarr.json").exists() and
                                           json.loads((here / "zarr.json").read_text())["node_type"] == "array"):
            return True
    return False


def other_files(root: Path) -> set[str]:
    """The files that are neither Zarr metadata nor chunks."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
            and p.name not in (".zgroup", ".zattrs", ".zarray", "zarr.json") and not _in_array(root, p)}


def attributes(root: Path, rel: str) -> dict:
    return json.loads((root / rel / "zarr.json").read_text())["attributes"]


def check_arrays(out: Path, arrays: dict[str, np.ndarray]) -> None:
    for path, want in arrays.items():
        got = zarr.open_array(out / path, mode="r", zarr_format=3)[...]
        if want.dtype == object:
            assert [str(x) for x in np.asarray(got).ravel().tolist()] == want.ravel().tolist(), path
        elif want.dtype.kind == "U":
            assert str(np.asarray(got)[()]) == str(want[()]), path
        else:
            assert np.array_equal(np.asarray(got), want) and got.dtype == want.dtype, path


@pytest.fixture(scope="module")
def spatialdata(tmp_path_factory):
    base = tmp_path_factory.mktemp("sd")
    src = base / "store.zarr"
    arrays = cw.write_spatialdata_like(src)
    before = tree_hash(src)
    result = run("resave", src, base / "out.zarr")
    return src, base / "out.zarr", arrays, result, before


def test_spatialdata_store_converts_whole(spatialdata):
    src, out, arrays, result, before = spatialdata
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "a SpatialData store" in line]
    assert len(lines) == 1 and "container format 0.1 -> 0.2" in lines[0] and "0.5-dev-spatialdata" in lines[0]
    assert tree_hash(src) == before
    check_arrays(out, arrays)
    # every other file byte-identical, except spatialdata's stale v2 consolidated metadata
    assert other_files(out) - {"ro-crate-metadata.json", ".ome2024-ngff-challenge-output.json"} == other_files(src) - {"zmetadata"}
    for rel in other_files(src) - {"zmetadata"}:
        assert (out / rel).read_bytes() == (src / rel).read_bytes(), rel
    # the markers spatialdata 0.8 writes (and reads) for a Zarr v3 store
    assert attributes(out, "")["spatialdata_attrs"] == {"spatialdata_software_version": "0.4.0", "version": "0.2"}
    for rel in ("images/img", "images/img_ms", "labels/lab", "labels/lab_ms"):
        a = attributes(out, rel)
        assert a["ome"]["version"] == "0.5-dev-spatialdata" and a["spatialdata_attrs"] == {"version": "0.3"}
        src_ms = json.loads((src / rel / ".zattrs").read_text())["multiscales"][0]
        assert a["ome"]["multiscales"][0]["coordinateTransformations"] == src_ms["coordinateTransformations"]
    assert attributes(out, "points/pts")["spatialdata_attrs"]["version"] == "0.2"
    assert attributes(out, "shapes/circ")["spatialdata_attrs"]["version"] == "0.3"
    assert attributes(out, "tables/table")["version"] == "0.2"
    # consolidated metadata in the root's zarr.json (as spatialdata 0.8 writes it), equal to each node's
    consolidated = json.loads((out / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    nodes = {str(p.parent.relative_to(out)): json.loads(p.read_text()) for p in out.rglob("zarr.json") if p.parent != out}
    assert consolidated == nodes
    # its v2 consolidated metadata has become this: the warning says so
    assert "'zmetadata' made Zarr v3's" in lines[0]
    # validate: the plain OME groups checked, the flavour a note, not an error
    checked = run("validate", out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SpatialData container store" in checked.stderr + checked.stdout
    assert "own OME flavour" in checked.stderr + checked.stdout


def test_spatialdata_table_reads_back_with_anndata(spatialdata):
    anndata = pytest.importorskip("anndata")
    src, out, *_ = spatialdata
    a = anndata.read_zarr(src / "tables" / "table")
    b = anndata.read_zarr(out / "tables" / "table")
    assert np.array_equal(a.X, b.X) and a.X.dtype == b.X.dtype
    assert a.obs.equals(b.obs) and list(a.obs.index) == list(b.obs.index)
    assert list(a.var.index) == list(b.var.index)
    assert a.uns == b.uns


def test_ome_group_taken_out_converts_to_plain_05(spatialdata, tmp_path):
    src = spatialdata[0]
    result = run("resave", src / "images" / "img", tmp_path / "img.zarr")
    assert result.returncode == 0, result.stderr
    assert "coordinate systems" in result.stderr  # the repair is said
    ome = attributes(tmp_path / "img.zarr", "")["ome"]
    assert ome["version"] == "0.5" and "coordinateTransformations" not in ome["multiscales"][0]
    checked = run("validate", tmp_path / "img.zarr")
    assert checked.returncode == 0 and "flavour" not in checked.stdout + checked.stderr, checked.stdout


def test_flavour_outside_a_container_is_an_error(spatialdata, tmp_path):
    out = spatialdata[1]
    shutil.copytree(out / "images" / "img", tmp_path / "img.zarr")
    checked = run("validate", tmp_path / "img.zarr")
    assert checked.returncode == 1


def test_webknossos_dataset_converts_whole(tmp_path):
    src = tmp_path / "wk"
    arrays = cw.write_webknossos_like(src)
    before = tree_hash(src)
    result = run("resave", src, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "a webknossos dataset" in line]
    assert len(lines) == 1 and "'zarr' -> 'zarr3' in 2 layers" in lines[0]
    assert tree_hash(src) == before
    out = tmp_path / "out"
    check_arrays(out, arrays)
    props = json.loads((out / "datasource-properties.json").read_text())
    want = json.loads((src / "datasource-properties.json").read_text())
    for layer in want["dataLayers"]:
        layer["dataFormat"] = "zarr3"
    assert props == want
    assert attributes(out, "color")["ome"]["multiscales"][0]["axes"][1] == {"name": "x", "type": "space", "unit": "nanometer"}
    from checks import validate_ome_zarr_models, validate_yaozarrs

    for layer in ("color", "segmentation"):  # plain OME-Zarr 0.5 for the validators too
        validate_ome_zarr_models(out, "image", layer)
        validate_yaozarrs(out, layer)
    checked = run("validate", out)
    assert checked.returncode == 0 and "webknossos container store" in checked.stderr + checked.stdout
    # a converted container is an output: 'update' adds to its crate, a rerun may replace it
    assert run("update", out, "--rocrate-license", "cc-by").returncode == 0
    again = run("resave", src, out, "--output-overwrite")
    assert again.returncode == 0, again.stderr


def test_unknown_container_converts_by_the_generic_rule(tmp_path):
    src = tmp_path / "store"
    w = cw._Writer(src)
    w.group("", {"my_tool": {"format": "1.2"}})
    w.group("results")
    w.array("results/counts", np.arange(10, dtype=np.int16))
    w.file("results/notes.txt", b"hello")
    w.group("deep")
    w.group("deep/image", {"multiscales": [{"version": "0.4", "axes": [{"name": "y", "type": "space"},
                                                                        {"name": "x", "type": "space"}],
                                             "datasets": [{"path": "0", "coordinateTransformations": [
                                                 {"type": "scale", "scale": [1.0, 1.0]}]}]}]})
    w.array("deep/image/0", np.arange(64, dtype=np.uint8).reshape(8, 8))
    result = run("resave", src, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "a container store of a kind not known here" in result.stderr
    assert "format marker (if any) was left as it is" in result.stderr
    out = tmp_path / "out"
    check_arrays(out, w.arrays)
    assert attributes(out, "")["my_tool"] == {"format": "1.2"}
    assert (out / "results" / "notes.txt").read_bytes() == b"hello"
    assert run("validate", out).returncode == 0


def test_plate_in_a_container_and_the_catalog(tmp_path):
    from ome2024_ngff_challenge.testing.samples import write_plate

    src = tmp_path / "store"
    cw._Writer(src).group("", {})
    arrays = write_plate(src / "screens" / "p1", ["A"], ["1", "2"], ["A/1", "A/2"], 1)
    result = run("resave", src, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert "plate" in attributes(out, "screens/p1")["ome"]
    for path, want in arrays.items():
        got = zarr.open_array(out / "screens" / "p1" / path, mode="r", zarr_format=3)[...]
        assert np.array_equal(got, want), path
    assert run("validate", out).returncode == 0
    listed = run("catalog", out, "--csv", tmp_path / "catalog.csv")
    assert listed.returncode == 0, listed.stderr
    import csv

    rows = list(csv.DictReader(open(tmp_path / "catalog.csv")))
    assert [(r["kind"], r["images"], r["valid"]) for r in rows] == [("container", "2", "true")]


def test_webknossos_over_http(tmp_path):
    """HTTP cannot list: the layers are found through datasource-properties.json."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    arrays = cw.write_webknossos_like(tmp_path / "site" / "wk")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path / "site")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run("resave", f"http://127.0.0.1:{server.server_address[1]}/wk", tmp_path / "out")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    check_arrays(tmp_path / "out", arrays)
    assert json.loads((tmp_path / "out" / "datasource-properties.json").read_text())["dataLayers"][0]["dataFormat"] == "zarr3"


def test_plain_group_without_ome_below_is_refused(tmp_path):
    src = tmp_path / "store"
    w = cw._Writer(src)
    w.group("", {"something": 1})
    w.array("a", np.arange(4))
    result = run("resave", src, tmp_path / "out")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not an OME-Zarr 0.4 image, plate or bioformats2raw dataset" in lines[0]
    assert not (tmp_path / "out").exists()


VENVS = Path(os.environ.get("CONTAINER_VENVS", Path(__file__).resolve().parents[1] / ".venvs"))  # tests/reader_venvs/make.sh


@pytest.mark.parametrize("library", ["spatialdata", "webknossos"])
def test_libraries_read_the_outputs(library, tmp_path):
    """spatialdata 0.8 (Python 3.12) reads every element and transformation of a store spatialdata
    0.4 wrote (OME version "0.4-dev-spatialdata") equal from the source and from our output; webknossos
    4.3 every layer and mag of the webknossos replica."""
    if library == "spatialdata":
        reader, writer = VENVS / "containers-sd" / "bin" / "python", VENVS / "containers-sd04" / "bin" / "python"
    else:  # the replica (its metadata is webknossos' byte for byte): one webknossos start, not two
        reader, writer = VENVS / "containers-wk" / "bin" / "python", None
    if not (reader.exists() and (writer is None or writer.exists())):
        pytest.skip(f"no venv with {library} at {VENVS} (see tests/realworld_notes/containers.md)")
    src, out = tmp_path / "src", tmp_path / "out"
    script = HERE / "container_libraries.py"
    if writer is None:
        cw.write_webknossos_like(src)
    else:
        made = subprocess.run([writer, script, f"write-{library}", src], capture_output=True, text=True,
                              timeout=600)
        assert made.returncode == 0, made.stderr[-3000:]
    result = run("resave", src, out)
    assert result.returncode == 0, result.stderr
    read = subprocess.run([reader, script, f"compare-{library}", src, out], capture_output=True, text=True,
                          timeout=600)
    assert read.returncode == 0, read.stderr[-3000:]
    assert "equal" in read.stdout
