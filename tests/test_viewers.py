"""Our outputs opened the way the web viewers open them, with their own npm
libraries, over HTTP from `serve`:

- zarrita.js (under vizarr, the OME-NGFF validator, ome-zarr.js) with its
  FetchStore, in node: every array of every kind of output (an image with
  labels, a plate, bioformats2raw, sharded, unsharded, byte copies, a view
  added in place) reads equal to the source;
- ome-zarr.js's ``renderThumbnail`` (the validator's and the gallery's
  thumbnails) in headless Chromium, on a page of another origin than the data
  (so CORS is exercised as on the web): a PNG of the smallest level.

The npm packages are pinned in tests/zarrita_js (package.json and its lock;
`.ci/run` runs `npm ci` there, and the tests do once when they are missing).
The tests skip, saying why, only when node, npm's packages or Chromium are
missing.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import checks
from conftest import build_bioformats2raw, build_image_with_labels, build_plate
from ome2024_ngff_challenge import api
from ome2024_ngff_challenge.testing import samples
from zarrita_check import HERE, read_with_zarrita, zarrita_available

CRATE = {"license": "cc-by", "organism": "NCBI:txid9606", "modality": "obo:FBbi_00000369"}

# kind of output -> (how the source is built, how it is converted)
KINDS = {
    "image with labels": (build_image_with_labels, {}),
    "plate": (build_plate, {}),
    "bioformats2raw": (build_bioformats2raw, {}),
    "unsharded": (build_image_with_labels, {"shards": "none"}),
    "byte copy": (build_plate, {"codec": "keep"}),
    "byte copy unsharded (linked chunks)": (build_image_with_labels, {"codec": "keep", "shards": "none"}),
    "small shards": (build_image_with_labels, {"chunks": (1, 16, 16), "shards": (2, 32, 32)}),
    "view added in place": (build_bioformats2raw, "in place"),
}


def need_zarrita() -> None:
    reason = zarrita_available()
    if reason is not None:
        pytest.skip(reason)


def convert(kind: str, tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    build, options = KINDS[kind]
    src = tmp_path / "in.zarr"
    expected = build(src)
    if options == "in place":
        api.resave_in_place(src, **CRATE)
        return src, expected
    out = tmp_path / "site" / "out.zarr"
    api.resave(src, out, **CRATE, **options)
    return out, expected


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_array_read_over_http_by_zarrita(kind, tmp_path):
    need_zarrita()
    out, expected = convert(kind, tmp_path)
    with api.serve(out.parent) as server:
        server.record_requests()
        url = server.url_of(out.name)
        got = read_with_zarrita(url, sorted(expected))
        requests = server.requests
    assert got["root"] == checks.v3_meta(out, "")["attributes"]
    for rel, values in expected.items():
        checks.assert_same_voxels(values, got["arrays"][rel], f"{url}/{rel} read by zarrita.js")
    codes = {code for _, _, code in requests}
    assert codes <= {200, 206, 404}, requests  # never a refusal or a server error
    sharded = isinstance(KINDS[kind][1], dict) and KINDS[kind][1].get("shards") != "none"
    if sharded:  # one inner chunk of a shard at a time: the ranges viewers need
        assert any(method == "GET" and code == 206 for method, _, code in requests), requests
        assert any(method == "HEAD" for method, _, _ in requests), requests  # the shard's size, for its index
