"""OME-Zarr 0.5 -> 0.6 in place on S3 (SeaweedFS on loopback, see s3_server.py):
every request counted through the traced store; only group metadata (and our
record) is read and written, every other object is byte-identical, and the
undo puts back the 0.5 objects exactly."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

import checks
import s3_server
from conftest import build_image_with_labels, build_plate

from ome2024_ngff_challenge.convert import upgrade_v06
from ome2024_ngff_challenge.stores.s3 import S3Store
from ome2024_ngff_challenge.stores.traced import TracedStore

PRIVATE = s3_server.PRIVATE
CRATE = ("--cc-by", "--rocrate-organism=NCBITaxon:9606", "--rocrate-modality=obo:FBbi_00000243")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with s3_server.running(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(autouse=True)
def signed(s3, monkeypatch, tmp_path):
    s3_server.isolate_aws_env(monkeypatch, tmp_path)
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    return s3


class CountingStore(TracedStore):
    """The traced store, keeping (operation, key) of every request."""

    def __init__(self, inner):
        super().__init__(inner)
        self.requests: list[tuple[str, str]] = []

    def _call(self, name, key, *args):
        self.requests.append((name, key))
        return super()._call(name, key, *args)

    # the requests the traced store does not send through _call
    def put(self, key, data):
        self.requests.append(("put", key))
        super().put(key, data)

    def writer(self, key):
        self.requests.append(("writer", key))
        return super().writer(key)

    def sizes(self, prefix=""):
        self.requests.append(("sizes", prefix))
        return super().sizes(prefix)

    def copy_from(self, src, src_key, key):
        self.requests.append(("copy_from", key))
        return super().copy_from(src, src_key, key)


def group_keys(root: Path) -> set[str]:
    """The zarr.json of every group of a local copy."""
    out = set()
    for meta in root.rglob("zarr.json"):
        if json.loads(meta.read_text()).get("node_type") == "group":
            rel = meta.relative_to(root).as_posix()
            out.add(rel)
    return out


def digest(s3, prefix: str, tmp_path: Path) -> dict:
    target = tmp_path / f"dl-{uuid.uuid4().hex[:6]}"
    s3.download(PRIVATE, prefix, target)
    return checks.tree_digest(target)


@pytest.mark.parametrize("build", [build_plate, build_image_with_labels], ids=["plate", "labels"])
def test_0_5_upgraded_in_place_on_s3_touches_only_group_metadata(build, s3, tmp_path, convert):
    import ome2024_ngff_challenge as ngff

    src, local = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build(src)
    assert convert("resave", *CRATE, src, local).rc == 0
    groups = group_keys(local)
    prefix = f"t-{uuid.uuid4().hex[:10]}/data.zarr"
    s3.upload(local, PRIVATE, prefix)
    original = digest(s3, prefix, tmp_path)

    store = CountingStore(S3Store(PRIVATE, prefix, endpoint=s3.endpoint))
    done = ngff.upgrade_in_place(store)
    touched = {key for _, key in store.requests}
    # our record, the marks that refuse an unfinished or 0.4 dataset, and each
    # image's labels group, probed as a reader does (absent ones too)
    allowed = groups | {upgrade_v06.UPGRADE_RECORD, ".ome2024-ngff-challenge-incomplete.json",
                        ".ome2024-ngff-challenge-in-place.json"}
    probes = {k for k in touched - allowed if k == "labels/zarr.json" or k.endswith("/labels/zarr.json")}
    assert all(name in ("get", "exists") for name, key in store.requests if key in probes)
    assert touched - probes <= allowed, sorted(touched - probes - allowed)  # no array's zarr.json, chunk or shard
    assert not any(name in ("list_dir", "sizes") for name, _ in store.requests)  # nothing listed
    writes = [key for name, key in store.requests if name == "put"]
    assert sorted(set(writes) - {upgrade_v06.UPGRADE_RECORD}) == sorted(
        k for k in groups if json.loads((local / k).read_text())["attributes"].get("ome") is not None)
    assert len(done.groups) == len(set(writes) - {upgrade_v06.UPGRADE_RECORD})

    after = digest(s3, prefix, tmp_path)
    unchanged = {k for k in original if k not in groups}
    assert {k: after[k] for k in unchanged} == {k: original[k] for k in unchanged}
    report = ngff.validate(f"s3://{PRIVATE}/{prefix}", s3=ngff.S3Options(endpoint=s3.endpoint))
    assert report.valid, report.errors

    run = convert("resave", "--in-place", "--undo", f"--input-endpoint={s3.endpoint}", f"s3://{PRIVATE}/{prefix}")
    assert run.rc == 0, run
    assert digest(s3, prefix, tmp_path) == original
