"""Round trips: where each request waits for the network (S3, HTTP), the number
of requests the converter waits for one after another decides its speed. These
tests count requests and rounds (never durations): the planner reads a plate's
metadata in a few rounds whatever its number of wells, and without asking for
what a listing already told; the shard tasks of a batch read their source
chunks ahead across the tasks' boundaries; the stores of one bucket share one
client."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import build_image_with_labels

from ome2024_ngff_challenge.convert.plan import LayoutRequest
from ome2024_ngff_challenge.convert.planner import Planner
from ome2024_ngff_challenge.convert.shard_task import ChunkReader
from ome2024_ngff_challenge.errors import UserError
from ome2024_ngff_challenge.executors.threads import ThreadExecutor, run_batch
from ome2024_ngff_challenge.stores.base import Store
from ome2024_ngff_challenge.stores.cached import ReadCache
from ome2024_ngff_challenge.stores.local import LocalStore
from ome2024_ngff_challenge.stores.s3 import S3Store
from ome2024_ngff_challenge.testing import samples
from ome2024_ngff_challenge.zarr.codecs import DEFAULT_COMPRESSION, KEEP

ROWS = list("ABCDEFGH")
COLS = [str(c) for c in range(1, 13)]


class Counting(Store):
    """Another store, with every request counted (reads, listings, probes);
    ``listing=False`` makes it one that cannot be listed (as HTTP), and
    ``remote=True`` one where each request waits a round trip (as S3)."""

    def __init__(self, inner: Store, *, listing: bool = True, remote: bool = False):
        self.inner = inner
        self.supports_listing = listing
        self.preferred_concurrency = 16 if remote else 0
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def _note(self, what: str, key: str) -> None:
        with self.lock:
            self.calls.append((what, key))

    def describe(self, key: str = "") -> str:
        return self.inner.describe(key)

    def get(self, key: str) -> bytes | None:
        self._note("get", key)
        return self.inner.get(key)

    def exists(self, key: str) -> bool:
        self._note("exists", key)
        return self.inner.exists(key)

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        assert self.supports_listing, f"listed {prefix!r}, which this store cannot do"
        self._note("list", prefix)
        return self.inner.list_dir(prefix)

    def put(self, key, data):  # pragma: no cover - never written
        raise AssertionError(key)

    def writer(self, key):  # pragma: no cover
        raise AssertionError(key)

    def delete(self, key):  # pragma: no cover
        raise AssertionError(key)

    def delete_tree(self):  # pragma: no cover
        raise AssertionError


def plate(path: Path, wells: int, labels_in=()) -> Path:
    names = [f"{r}/{c}" for r in ROWS for c in COLS][:wells]
    samples.write_plate(path, ROWS, COLS, names, 2, image_shape=(1, 16, 16), levels=2, chunks=(1, 16, 16),
                        labels_in=labels_in)
    return path


def walked(store: Store) -> tuple[Planner, object]:
    planner = Planner(store, LayoutRequest(), DEFAULT_COMPRESSION, {}, verbose=False)
    return planner, planner.walk()


def test_a_plate_is_read_in_a_few_rounds_whatever_its_size(tmp_path):
    rounds = {}
    for wells in (2, 24, 96):
        store = Counting(LocalStore(plate(tmp_path / f"p{wells}.zarr", wells)))
        planner, plan = walked(store)
        assert len(plan.arrays) == wells * 2 * 2
        rounds[wells] = planner.src.rounds
        # each request once; what the listings answered is never asked
        assert len(store.calls) == len(set(store.calls)) == planner.src.requests
        asked = {key for _, key in store.calls}
        assert not [k for k in asked if k.endswith("/.zgroup")], "a listed group's .zgroup was read"
        assert not [k for k in asked if "labels" in k], "labels asked for where the listings show none"
        assert not [k for what, k in store.calls if what == "exists"]
        # the root, the rows and wells, the fields, their arrays (each with its listing)
        assert planner.src.rounds == 4
    assert len(set(rounds.values())) == 1


def test_the_labels_of_a_plate_take_rounds_of_their_own_only_where_there_are_some(tmp_path):
    store = Counting(LocalStore(plate(tmp_path / "p.zarr", 24, labels_in=["A/1/0", "B/3/1"])))
    planner, plan = walked(store)
    assert {a.path for a in plan.arrays} >= {"A/1/0/labels/seg/0", "B/3/1/labels/seg/1"}
    # and the label images: their metadata, then their arrays'
    assert planner.src.rounds == 6
    assert len(store.calls) == len(set(store.calls))
    asked = {key for _, key in store.calls}
    assert "A/1/0/labels/.zattrs" in asked and "A/1/1/labels/.zattrs" not in asked


def test_an_image_with_labels_is_read_in_a_few_rounds(tmp_path):
    build_image_with_labels(tmp_path / "img.zarr")
    store = Counting(LocalStore(tmp_path / "img.zarr"))
    planner, plan = walked(store)
    assert len(plan.arrays) == 6
    # root (+ listing), arrays and labels group, label images, their arrays
    assert planner.src.rounds == 4
    assert len(store.calls) == len(set(store.calls))


def test_a_store_that_cannot_be_listed_gets_the_same_plan_in_as_few_rounds(tmp_path):
    path = plate(tmp_path / "p.zarr", 24, labels_in=["A/2/1"])
    listed, plan = walked(Counting(LocalStore(path)))
    store = Counting(LocalStore(path), listing=False)
    unlisted, plan2 = walked(store)
    assert [a.path for a in plan2.arrays] == [a.path for a in plan.arrays]
    assert [g.path for g in plan2.groups] == [g.path for g in plan.groups]
    assert not [c for c in store.calls if c[0] == "list"]
    # no listing answers a probe: the root's .zgroup and .zattrs come one after the other
    assert unlisted.src.rounds <= listed.src.rounds + 2


def test_listings_answer_probes(tmp_path):
    root = tmp_path / "d"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.json").write_text("{}")
    (root / "a" / ".zattrs").write_text("{}")
    inner = Counting(LocalStore(root))
    cache = ReadCache(inner)
    cache.prefetch(["a/.zattrs"], listings=["", "a"])
    assert cache.rounds == 1 and cache.requests == 3
    before = len(inner.calls)
    assert cache.get("a/.zgroup") is None  # the listing of a/ has no such file
    assert not cache.exists("a/.zgroup") and cache.exists("a/.zattrs")
    assert cache.get("c/.zattrs") is None  # no folder c/ at the top
    assert cache.get("c/d/e/.zattrs") is None  # nor anything below it
    cache.prefetch(["c/.zattrs", "a/.zattrs"], listings=["c", "a"])  # nothing left to ask
    assert len(inner.calls) == before and cache.rounds == 1
    assert cache.get("a/b/x.json") == b"{}"  # a/b/ was not listed: read
    assert cache.rounds == 2 and len(inner.calls) == before + 1


def test_a_fetcher_sends_what_depends_on_a_request_when_it_is_back(tmp_path):
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).write_text(name)
    inner = Counting(LocalStore(tmp_path))
    cache = ReadCache(inner)
    seen = []

    def after_a() -> None:
        seen.append(cache.get("a"))  # there already: no request
        fetcher.fetch(["c", "d"], then=lambda: seen.append(cache.get("d")))

    with cache.fetching() as fetcher:
        fetcher.fetch(["a", "b"], then=after_a)
        fetcher.fetch(["b"], then=lambda: seen.append(cache.get("b")))  # b is asked for once
        fetcher.fetch([], then=lambda: seen.append("at once"))
    assert sorted(map(str, seen)) == sorted(map(str, [b"a", b"b", b"d", "at once"]))
    assert sorted(inner.calls) == [("get", k) for k in "abcd"]
    assert cache.rounds == 2  # a, then c and d
    with cache.fetching() as fetcher:
        fetcher.fetch(["a", "b"], then=lambda: seen.append("known"))  # known: at once, no round
    assert seen[-1] == "known" and cache.rounds == 2 and len(inner.calls) == 4


def test_a_fetcher_raises_the_error_of_a_callback_when_it_ends(tmp_path):
    (tmp_path / "a").write_text("a")
    cache = ReadCache(Counting(LocalStore(tmp_path)))

    def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"), cache.fetching() as fetcher:
        fetcher.fetch(["a", "missing"], then=broken)
    assert cache.get("a") == b"a" and cache.get("missing") is None


def chunked_image(path: Path) -> np.ndarray:
    data = samples.pattern((1, 64, 64), "<u2", 3)
    samples.write_image(path, data, "cyx", levels=1, chunks=(1, 16, 16))
    return data


@pytest.mark.parametrize("codec", ["keep", "default"])
def test_a_batch_reads_the_chunks_of_its_next_tasks_ahead(tmp_path, codec):
    chunked_image(tmp_path / "in.zarr")
    store = Counting(LocalStore(tmp_path / "in.zarr"), remote=True)
    request = LayoutRequest(chunks=(1, 16, 16), shards="none")
    plan = Planner(store, request, KEEP if codec == "keep" else DEFAULT_COMPRESSION, {}, verbose=False).walk()
    tasks = list(plan.tasks())
    assert len(tasks) == 16  # one chunk each
    out = LocalStore(tmp_path / "out.zarr")
    before = len(store.calls)
    reader = ChunkReader.for_tasks([(plan.arrays[n], index) for n, index in tasks], out)
    try:
        # before the first task runs, the chunks of the next ones are on their way
        assert len(reader.ahead) == 16
    finally:
        reader.close()
    store.calls = store.calls[:before]
    results = run_batch(plan, tasks, out, resume=False)
    assert sum(r[2].chunks_written for r in results) == 16
    chunk_reads = [k for what, k in store.calls[before:] if what == "get"]
    assert sorted(chunk_reads) == sorted(set(chunk_reads)) and len(chunk_reads) == 16  # each once


def test_a_local_source_is_read_when_asked(tmp_path):
    chunked_image(tmp_path / "in.zarr")
    store = Counting(LocalStore(tmp_path / "in.zarr"))
    plan = Planner(store, LayoutRequest(chunks=(1, 16, 16), shards="none"), DEFAULT_COMPRESSION, {},
                   verbose=False).walk()
    reader = ChunkReader.for_tasks([(plan.arrays[n], index) for n, index in plan.tasks()],
                                   LocalStore(tmp_path / "out.zarr"))
    assert not reader.ahead


def test_a_resumed_batch_reads_nothing_ahead(tmp_path, monkeypatch):
    """Resuming, most shards are complete: reading their chunks ahead would be waste."""
    chunked_image(tmp_path / "in.zarr")
    store = Counting(LocalStore(tmp_path / "in.zarr"), remote=True)
    plan = Planner(store, LayoutRequest(chunks=(1, 16, 16), shards="none"), DEFAULT_COMPRESSION, {},
                   verbose=False).walk()
    tasks = list(plan.tasks())
    out = LocalStore(tmp_path / "out.zarr")
    run_batch(plan, tasks, out, resume=False)
    before = len(store.calls)
    results = run_batch(plan, tasks, out, resume=True)
    assert all(r[2].skipped for r in results)
    assert len(store.calls) == before


def test_the_stores_of_one_bucket_share_a_client(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-one")
    a = S3Store("bucket", "one.zarr", endpoint="http://127.0.0.1:9")
    b = S3Store("bucket", "two.zarr", endpoint="http://127.0.0.1:9")
    assert a._store is b._store
    assert S3Store("other", "one.zarr", endpoint="http://127.0.0.1:9")._store is not a._store
    assert S3Store("bucket", "one.zarr", endpoint="http://127.0.0.1:10")._store is not a._store
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-two")
    assert S3Store("bucket", "one.zarr", endpoint="http://127.0.0.1:9")._store is not a._store
    assert S3Store("bucket", "one.zarr", endpoint="http://127.0.0.1:9", anon=True)._store is not a._store


def test_remote_inputs_default_threads():
    remote = Counting(LocalStore("/nonexistent"), remote=True)
    executor = ThreadExecutor()
    executor.configure(remote, LocalStore("/nonexistent-out"))
    assert executor.threads > 1


@pytest.mark.parametrize(("where", "attrs"), [("A/1", {"well": [1]}), ("A/1/0", {"multiscales": 5}),
                                              ("A/1/0", {"multiscales": [{"datasets": 7}]})])
def test_malformed_metadata_met_while_fetching_ahead_is_the_walk_s_one_line_error(tmp_path, where, attrs):
    path = plate(tmp_path / "p.zarr", 4)
    (path / where / ".zattrs").write_text(json.dumps(attrs))
    with pytest.raises(UserError) as error:
        walked(LocalStore(path))
    assert where in str(error.value) and "\n" not in str(error.value)
