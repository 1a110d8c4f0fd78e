"""The Python API: what the command line does, called from Python, with typed
results and exceptions instead of exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import checks
import ome2024_ngff_challenge as ngff
from conftest import build_image_2d, build_image_with_labels
from ome2024_ngff_challenge.convert.output import INCOMPLETE_MARK
from ome2024_ngff_challenge.errors import InputError, OutputError, UserError
from ome2024_ngff_challenge.executors import Executor, ThreadExecutor
from ome2024_ngff_challenge.stores import LocalStore


def test_resave_validate_update_round_trip(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_with_labels(src)
    plan = ngff.resave(src, out, license="cc-by", organism="NCBI:txid9606", modality="obo:FBbi_00000369",
                       chunks=(1, 16, 16), shards="1,32,32")
    assert {a.path for a in plan.arrays} == set(expected)
    checks.check_conversion(src, out, expected=expected)
    report = ngff.validate(out, against=src)
    assert report.valid and not report.errors and not report.warnings, report.errors + report.warnings
    assert report.compared == len(expected)
    result = ngff.update(out, description="nuclei and cells", organism="NCBI:txid10090")
    assert result.written and result.info.organism == "NCBI:txid10090"
    assert result.info.description == "nuclei and cells" and result.info.license.startswith("https://")
    assert ngff.update(out).written is False  # no field given: read only


def test_resave_with_stores_and_executor_objects(tmp_path):
    """Stores and executors are objects the caller may build; a new executor
    needs nothing but the Executor protocol."""
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_2d(src, shape=(50, 70), levels=2)

    class Counting(Executor):
        def __init__(self):
            self.inner = ThreadExecutor(1)
            self.calls = 0

        def execute(self, conversion):
            self.calls += 1
            self.tasks = conversion.plan.n_tasks
            self.inner.execute(conversion)

    executor = Counting()
    ngff.resave(LocalStore(src), LocalStore(out), executor=executor, crate=False)
    assert executor.calls == 1 and executor.tasks >= 2
    checks.check_conversion(src, out, expected=expected, rocrate=False)


def test_errors_are_exceptions_naming_the_api_options(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src, shape=(20, 30), levels=1)
    with pytest.raises(UserError) as caught:
        ngff.resave(src, out, codec="bogus")
    assert str(caught.value).startswith("codec=bogus: expected blosc")
    with pytest.raises(UserError) as caught:
        ngff.resave(src, out, organism="human")
    assert str(caught.value).startswith("organism: 'human' is not an NCBI taxonomy id")
    with pytest.raises(InputError) as caught:
        ngff.resave(tmp_path / "missing.zarr", out)
    assert "missing.zarr" in str(caught.value)
    assert not out.exists(), "a refused call wrote something"
    ngff.resave(src, out, crate=False)
    with pytest.raises(OutputError) as caught:
        ngff.resave(src, out, crate=False)
    assert str(caught.value).endswith("already exists (use overwrite to replace it)")
    ngff.resave(src, out, crate=False, overwrite=True)


def test_write_details_and_read_them_back(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src, shape=(64, 96), levels=2)
    details = tmp_path / "details.json"
    ngff.write_details(src, details, chunks=(16, 16))
    written = json.loads(details.read_text())
    assert [d["chunks"] for d in written] == [[16, 16], [16, 16]]
    written[0]["shards"] = [32, 48]
    plan = ngff.resave(src, out, details=written, crate=False)
    assert plan.arrays[0].layout.shards == (32, 48)
    assert checks.v3_meta(out, "0")["chunk_grid"]["configuration"]["chunk_shape"] == [32, 48]


def test_validate_reports_problems_without_raising(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src, shape=(20, 30), levels=1)
    ngff.resave(src, out, crate=False)
    (out / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))
    report = ngff.validate(out)
    assert not report.valid
    assert any("no OME-Zarr metadata" in e["message"] for e in report.errors), report.errors
    assert any("ro-crate-metadata.json" in e["location"] for e in report.errors), report.errors


def test_update_refuses_an_unfinished_output(tmp_path):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_2d(src, shape=(20, 30), levels=1)
    ngff.resave(src, out, crate=False)
    (out / INCOMPLETE_MARK).write_text("{}")
    with pytest.raises(UserError, match="did not finish"):
        ngff.update(out, license="cc0")


def test_lookup_offline():
    result = ngff.lookup("zebrafish", online=False)
    assert result.online_error is None and result.url == ""
    assert result.hits[0].term == "NCBI:txid7955"
    with pytest.raises(UserError, match="^ontology=plants: "):
        ngff.lookup("rose", ontology="plants", online=False)


def test_api_data_equals_command_line_data(tmp_path, convert):
    """The command line is a thin layer over the API: the same output."""
    src = tmp_path / "in.zarr"
    build_image_2d(src, shape=(40, 60), levels=2)
    ngff.resave(src, tmp_path / "api.zarr", license="cc0")
    run = convert("resave", src, tmp_path / "cli.zarr", "--cc0")
    assert run.rc == 0, str(run)
    for rel in ("0", "1"):
        a = checks.read_v3_zarr(tmp_path / "api.zarr", rel)
        b = checks.read_v3_zarr(tmp_path / "cli.zarr", rel)
        assert np.array_equal(a, b)
        meta_a, meta_b = checks.v3_meta(tmp_path / "api.zarr", rel), checks.v3_meta(tmp_path / "cli.zarr", rel)
        assert meta_a["codecs"] == meta_b["codecs"] and meta_a["chunk_grid"] == meta_b["chunk_grid"]
