"""Conversions from, to and between S3 buckets, against a real S3 server
(SeaweedFS on loopback, started once for the session; see s3_server.py).

Outputs on S3 are downloaded to a folder and checked there like any local
output (checks.check_conversion).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import checks
import s3_server
from conftest import build_bioformats2raw, build_image_2d, build_image_5d, build_image_with_labels, build_plate
from ome2024_ngff_challenge.testing import samples
from ome2024_ngff_challenge.errors import UserError
from ome2024_ngff_challenge.stores.open import open_store, read_location
from ome2024_ngff_challenge.stores.remote import MAX_METADATA_ENV, MAX_RETRIES, RETRY_TIMEOUT_ENV
from ome2024_ngff_challenge.stores.s3 import S3Store, parse_s3_url
from ome2024_ngff_challenge.stores.traced import TracedStore
from ome2024_ngff_challenge.about import IN_PLACE_RECORD

CASES = {
    "image_5d": build_image_5d,
    "image_2d": build_image_2d,
    "labels": build_image_with_labels,
    "plate": build_plate,
    "bioformats2raw": build_bioformats2raw,
}
PRIVATE, PUBLIC = s3_server.PRIVATE, s3_server.PUBLIC


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    with s3_server.running(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_aws_env(monkeypatch, tmp_path):
    """No AWS setting of the machine leaks in: no keys, no profiles, short retries."""
    s3_server.isolate_aws_env(monkeypatch, tmp_path)


@pytest.fixture
def signed(s3, monkeypatch):
    """Credentials in the environment, as a user would export them."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    return s3


def unique(name: str) -> str:
    return f"t-{uuid.uuid4().hex[:10]}/{name}"


def endpoint(s3, role: str) -> str:
    return f"--{role}-endpoint={s3.endpoint}"


def uploaded(s3, tmp_path: Path, case: str, bucket: str = PRIVATE):
    """Build ``case`` locally and upload it; (local copy, expected arrays, key prefix)."""
    src = tmp_path / f"{case}.zarr"
    expected = CASES[case](src)
    prefix = unique(f"{case}.zarr")
    s3.upload(src, bucket, prefix)
    return src, expected, prefix


def downloaded(s3, bucket: str, prefix: str, tmp_path: Path) -> Path:
    target = tmp_path / f"dl-{uuid.uuid4().hex[:6]}"
    assert s3.download(bucket, prefix, target) > 0, f"nothing below s3://{bucket}/{prefix}"
    return target


def assert_no_secrets(s3, *texts: str) -> None:
    for text in texts:
        assert s3.secret_key not in text, "the secret key leaked"
        assert s3.access_key not in text, "the access key leaked"


def assert_no_secrets_in_tree(s3, root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert_no_secrets(s3, path.read_bytes().decode("latin-1"))


# ---------------------------------------------------------------------------
# the corpus, in every direction
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_local_to_s3(case, signed, tmp_path, convert):
    s3 = signed
    src = tmp_path / "in.zarr"
    expected = CASES[case](src)
    prefix = unique("out.zarr")
    run = convert("resave", "--cc-by", f"--output-bucket={PRIVATE}", endpoint(s3, "output"), src, prefix)
    assert run.rc == 0, str(run)
    keys = s3.keys(PRIVATE, prefix)
    assert f"{prefix}/zarr.json" in keys
    assert not [k for k in keys if "incomplete" in k], keys
    out = downloaded(s3, PRIVATE, prefix, tmp_path)
    checks.check_conversion(src, out, expected=expected)
    stats = next(
        json.loads(p.read_text())["attributes"]["_ome2024_ngff_challenge_stats"]
        for p in out.rglob("zarr.json") if json.loads(p.read_text())["node_type"] == "array"
    )
    assert stats["output"].startswith(f"s3://{PRIVATE}/{prefix}/")
    assert_no_secrets(s3, run.out, run.err)
    assert_no_secrets_in_tree(s3, out)


@pytest.mark.parametrize("case", list(CASES))
def test_s3_to_local(case, signed, tmp_path, convert):
    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, case)
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", f"--input-bucket={PRIVATE}", endpoint(s3, "input"), prefix, out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected)
    if case in ("image_5d", "image_2d", "labels"):
        stats = json.loads((out / "0" / "zarr.json").read_text())["attributes"]["_ome2024_ngff_challenge_stats"]
        assert stats["input"] == f"s3://{PRIVATE}/{prefix}/0"
    assert_no_secrets_in_tree(s3, out)


def test_s3_url_anonymous_from_public_bucket(s3, tmp_path, convert):
    src, expected, prefix = uploaded(s3, tmp_path, "labels", bucket=PUBLIC)
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc0", "--input-anon", endpoint(s3, "input"), f"s3://{PUBLIC}/{prefix}", out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected)


def test_no_credentials_reads_public_bucket_unsigned(s3, tmp_path, convert):
    src, expected, prefix = uploaded(s3, tmp_path, "image_2d", bucket=PUBLIC)
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc0", endpoint(s3, "input"), f"s3://{PUBLIC}/{prefix}", out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected, validators=False)


def test_credentials_from_a_profile(s3, tmp_path, convert, monkeypatch):
    """No AWS_* keys: the named profile of the shared credentials file signs."""
    src, expected, prefix = uploaded(s3, tmp_path, "image_5d")
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[default]\naws_access_key_id = AKIAWRONGWRONG\naws_secret_access_key = nope\n\n"
        f"[ngff]\naws_access_key_id = {s3.access_key}\naws_secret_access_key = {s3.secret_key}\n"
    )
    config = tmp_path / "config"
    config.write_text("[profile ngff]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "ngff")
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", endpoint(s3, "input"), f"s3://{PRIVATE}/{prefix}", out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected, validators=False)
    # the default profile's keys are wrong: one line, naming where they came from
    monkeypatch.delenv("AWS_PROFILE")
    run = convert("resave", "--cc-by", endpoint(s3, "input"), f"s3://{PRIVATE}/{prefix}", tmp_path / "o2")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/{prefix}", "profile 'default'")
    assert "nope" not in run.err and "AKIAWRONGWRONG" not in run.err
    # a profile that does not exist
    monkeypatch.setenv("AWS_PROFILE", "missing")
    run = convert("resave", "--cc-by", endpoint(s3, "input"), f"s3://{PRIVATE}/{prefix}", tmp_path / "o3")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, "profile 'missing'")


@pytest.mark.parametrize("case", ["labels", "plate"])
def test_s3_to_s3(case, signed, tmp_path, convert):
    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, case)
    out_prefix = unique("converted.zarr")
    run = convert(
        "resave", "--cc-by", endpoint(s3, "input"), endpoint(s3, "output"),
        f"s3://{PRIVATE}/{prefix}", f"s3://{PUBLIC}/{out_prefix}",
    )
    assert run.rc == 0, str(run)
    out = downloaded(s3, PUBLIC, out_prefix, tmp_path)
    checks.check_conversion(src, out, expected=expected)
    assert not list(out.rglob("*incomplete*"))


def test_byte_copy_s3_to_s3(signed, tmp_path, convert):
    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, "image_5d")
    out_prefix = unique("kept.zarr")
    run = convert("resave", "--cc-by", "--output-codec=keep", endpoint(s3, "input"), endpoint(s3, "output"),
                  f"s3://{PRIVATE}/{prefix}", f"s3://{PRIVATE}/{out_prefix}")
    assert run.rc == 0, str(run)
    checks.check_conversion(src, downloaded(s3, PRIVATE, out_prefix, tmp_path), expected=expected, validators=False)


def test_large_shard_is_uploaded_in_parts(signed, tmp_path, convert, monkeypatch):
    """A shard larger than the part size goes up as a multipart upload (here
    with 5 MiB parts, the S3 minimum) and reads back exactly."""
    from ome2024_ngff_challenge.stores import s3 as s3_store

    monkeypatch.setattr(s3_store, "PART_SIZE", 5 * 2**20)
    monkeypatch.setattr(s3_store, "SPOOL_IN_MEMORY", 2**20)
    s3 = signed
    src = tmp_path / "big.zarr"
    data = np.random.default_rng(7).integers(0, 2**16, size=(1536, 2048), dtype="<u2")  # 6 MiB, incompressible
    expected = samples.write_image(src, data, "yx", levels=1, chunks=(512, 512))
    prefix = unique("big.zarr")
    run = convert("resave", "--rocrate-skip", "--output-codec=none", "--output-shards=1536,2048",
                  f"--output-bucket={PRIVATE}", endpoint(s3, "output"), src, prefix)
    assert run.rc == 0, str(run)
    out = downloaded(s3, PRIVATE, prefix, tmp_path)
    assert (out / "0/c/0/0").stat().st_size > 6 * 2**20
    checks.check_conversion(src, out, expected=expected, rocrate=False, validators=False)


# ---------------------------------------------------------------------------
# options that write or read other things
# ---------------------------------------------------------------------------


def test_write_and_read_details_on_s3(signed, tmp_path, convert):
    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, "labels")
    details = unique("details.json")
    url = f"s3://{PRIVATE}/{details}"
    run = convert("resave", endpoint(s3, "input"), endpoint(s3, "output"), f"s3://{PRIVATE}/{prefix}", url,
                  "--output-write-details")
    assert run.rc == 0, str(run)
    written = json.loads(bytes(s3.obstore(PRIVATE).get(details).bytes()))
    assert set(written) == {"0", "1", "labels/cells/0", "labels/cells/1", "labels/nuclei/0", "labels/nuclei/1"}
    again = convert("resave", endpoint(s3, "input"), endpoint(s3, "output"), f"s3://{PRIVATE}/{prefix}", url,
                    "--output-write-details")
    assert again.rc == 1
    checks.assert_one_line_error(again.err, url, "exists")
    # edit it (smaller chunks for level 0) and convert with it, read from S3
    written["0"]["chunks"] = [1, 16, 16]
    written["0"]["shards"] = [1, 32, 32]
    s3.obstore(PRIVATE).put(details, json.dumps(written).encode())
    out = tmp_path / "out.zarr"
    run = convert("resave", "--cc-by", endpoint(s3, "input"), f"--output-read-details={url}",
                  f"s3://{PRIVATE}/{prefix}", out)
    assert run.rc == 0, str(run)
    report = checks.check_conversion(src, out, expected=expected)
    assert checks.chunks_and_shards(report.arrays["0"]) == ([1, 16, 16], [1, 32, 32])
    # a folder (an output dataset) is not a details file
    folder = unique("dataset.zarr")
    s3.obstore(PRIVATE).put(f"{folder}/zarr.json", b"{}")
    run = convert("resave", endpoint(s3, "input"), endpoint(s3, "output"), f"s3://{PRIVATE}/{prefix}",
                  f"s3://{PRIVATE}/{folder}", "--output-write-details")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, "is a folder")


def test_output_script_on_s3(signed, tmp_path, convert):
    s3 = signed
    src, _, prefix = uploaded(s3, tmp_path, "image_5d")
    out_prefix = unique("script.zarr")
    run = convert("resave", "--cc-by", "--output-script", endpoint(s3, "input"), endpoint(s3, "output"),
                  f"s3://{PRIVATE}/{prefix}", f"s3://{PRIVATE}/{out_prefix}")
    assert run.rc == 0, str(run)
    keys = s3.keys(PRIVATE, out_prefix)
    for level in ("0", "1", "2"):
        assert f"{out_prefix}/{level}/convert.sh" in keys
    line = bytes(s3.obstore(PRIVATE).get(f"{out_prefix}/0/convert.sh").bytes()).decode()
    assert line.startswith("zarrs_reencode ")
    assert f"s3://{PRIVATE}/{prefix}/0" in line and f"s3://{PRIVATE}/{out_prefix}/0" in line
    # no array is written yet: the output does not claim to be complete
    assert f"{out_prefix}/zarr.json" not in keys and f"{out_prefix}/.ome2024-ngff-challenge-incomplete.json" in keys


def test_overwrite_on_s3_deletes_only_the_output(signed, tmp_path, convert):
    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, "image_2d")
    base = unique("")
    out_prefix = f"{base}out.zarr"
    sibling = f"{base}out.zarr2/keep.txt"  # shares the string prefix, not the folder
    store = s3.obstore(PRIVATE)
    store.put(sibling, b"keep me")
    args = ["resave", "--cc-by", endpoint(s3, "input"), endpoint(s3, "output"), f"s3://{PRIVATE}/{prefix}",
            f"s3://{PRIVATE}/{out_prefix}"]
    assert convert(*args).rc == 0
    run = convert(*args)
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/{out_prefix}", "--output-overwrite")
    # a key the earlier run did not write (not in its record): nothing is deleted
    store.put(f"{out_prefix}/0/notes.txt", b"added later by someone")
    before = s3.keys(PRIVATE, out_prefix)
    run = convert(*args, "--output-overwrite")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/{out_prefix}/0/notes.txt", "not written by")
    assert s3.keys(PRIVATE, out_prefix) == before
    store.delete(f"{out_prefix}/0/notes.txt")
    run = convert(*args, "--output-overwrite")
    assert run.rc == 0, str(run)
    keys = s3.keys(PRIVATE, base)
    assert sibling in keys
    checks.check_conversion(src, downloaded(s3, PRIVATE, out_prefix, tmp_path), expected=expected,
                            validators=False)
    # a prefix that is not an output of ours is never deleted
    other = f"{base}notes"
    store.put(f"{other}/notes.txt", b"my notes")
    store.put(f"{other}/zarr.json", b"{}")
    run = convert("resave", "--cc-by", endpoint(s3, "input"), endpoint(s3, "output"), f"s3://{PRIVATE}/{prefix}",
                  f"s3://{PRIVATE}/{other}", "--output-overwrite")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/{other}", "no record")
    assert f"{other}/notes.txt" in s3.keys(PRIVATE, other)
    # nor the input (a Zarr v2 dataset)
    run = convert("resave", "--cc-by", endpoint(s3, "input"), endpoint(s3, "output"), f"s3://{PRIVATE}/{prefix}",
                  f"s3://{PRIVATE}/{prefix}", "--output-overwrite")
    assert run.rc == 1
    assert f"{prefix}/.zgroup" in s3.keys(PRIVATE, prefix)


def test_output_inside_input_refused(signed, tmp_path, convert):
    s3 = signed
    _, _, prefix = uploaded(s3, tmp_path, "image_2d")
    for out in (f"{prefix}/sub.zarr", prefix.rsplit("/", 1)[0]):
        run = convert("resave", endpoint(s3, "input"), endpoint(s3, "output"), f"s3://{PRIVATE}/{prefix}",
                      f"s3://{PRIVATE}/{out}")
        assert run.rc == 1
        checks.assert_one_line_error(run.err, "must not be the input")
    assert not [k for k in s3.keys(PRIVATE, prefix) if "zarr.json" in k]


# ---------------------------------------------------------------------------
# errors: one line, naming the bucket and key, never the credentials
# ---------------------------------------------------------------------------


def test_missing_bucket(signed, tmp_path, convert):
    s3 = signed
    run = convert("resave", endpoint(s3, "input"), "s3://no-such-bucket/data/in.zarr", tmp_path / "o")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, "s3://no-such-bucket/data/in.zarr", "no such bucket")
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    run = convert("resave", "--output-bucket=no-such-bucket", endpoint(s3, "output"), src, "out.zarr")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, "s3://no-such-bucket/out.zarr", "no such bucket")
    assert_no_secrets(s3, run.err)


def test_metadata_larger_than_the_limit_is_refused_from_its_size(signed, tmp_path, convert, monkeypatch):
    """An object's size is checked before its bytes are read (issue 16: a huge .zattrs)."""
    src, _, prefix = uploaded(signed, tmp_path, "image_2d")
    size = (src / ".zattrs").stat().st_size
    monkeypatch.setenv(MAX_METADATA_ENV, str(size - 1))
    run = convert("resave", "--cc-by", f"--input-bucket={PRIVATE}", endpoint(signed, "input"), prefix,
                  tmp_path / "out.zarr")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/{prefix}/.zattrs", f"{size:,} bytes",
                                 f"({size - 1:,} bytes", MAX_METADATA_ENV)
    monkeypatch.setenv(MAX_METADATA_ENV, str(size))
    run = convert("resave", "--cc-by", f"--input-bucket={PRIVATE}", endpoint(signed, "input"), prefix,
                  tmp_path / "out.zarr")
    assert run.rc == 0, str(run)


def test_missing_input_prefix(signed, tmp_path, convert):
    run = convert("resave", endpoint(signed, "input"), f"s3://{PRIVATE}/nothing/here.zarr", tmp_path / "o")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/nothing/here.zarr", "does not exist")


def test_wrong_secret_key(s3, tmp_path):
    _, _, prefix = uploaded(s3, tmp_path, "image_2d")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": s3.access_key, "AWS_SECRET_ACCESS_KEY": "wrong-" + s3.secret_key[::-1]}
    proc = subprocess.run(
        [sys.executable, "-m", "ome2024_ngff_challenge", "resave", endpoint(s3, "input"),
         f"s3://{PRIVATE}/{prefix}", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 1
    checks.assert_one_line_error(proc.stderr, f"s3://{PRIVATE}/{prefix}", "secret key does not match")
    assert s3.secret_key[::-1] not in proc.stderr and s3.access_key not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_access_key(s3, tmp_path, convert, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOBODYKNOWS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    run = convert("resave", f"--output-bucket={PRIVATE}", endpoint(s3, "output"), src, unique("o.zarr"))
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/", "access key")
    assert_no_secrets(s3, run.err)
    assert "AKIANOBODYKNOWS" not in run.err


def test_anonymous_access_to_private_bucket_denied(s3, tmp_path, convert):
    _, _, prefix = uploaded(s3, tmp_path, "image_2d")
    run = convert("resave", "--input-anon", endpoint(s3, "input"), f"s3://{PRIVATE}/{prefix}", tmp_path / "o")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/{prefix}", "access denied")
    # writing anonymously into the public (read-only) bucket
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    run = convert("resave", "--output-anon", endpoint(s3, "output"), src, f"s3://{PUBLIC}/{unique('o.zarr')}")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, f"s3://{PUBLIC}/", "access denied")


def test_wrong_endpoint(tmp_path, convert, monkeypatch):
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, "1")
    port = s3_server.free_ports(1)[0]  # nothing listens there
    started = time.monotonic()
    run = convert("resave", "--input-anon", f"--input-endpoint=http://127.0.0.1:{port}", "s3://bucket/in.zarr",
                  tmp_path / "o")
    assert run.rc == 1
    checks.assert_one_line_error(run.err, "s3://bucket/in.zarr", f"127.0.0.1:{port}", "connection refused")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--input-bucket=b", "s3://b/x.zarr", "OUT"], "not both"),
        (["--input-endpoint=http://127.0.0.1:9", "in.zarr", "OUT"], "need --input-bucket"),
        (["--input-bucket=b", "http://127.0.0.1:9/x.zarr", "OUT"], "--input-bucket"),
        (["IN", "http://127.0.0.1:9/out.zarr"], "read-only"),
        (["s3:///x.zarr", "OUT"], "no bucket"),
        (["s3://b/a/../x.zarr", "OUT"], "'..'"),
    ],
)
def test_location_option_errors(argv, needle, tmp_path, convert):
    src = tmp_path / "in.zarr"
    build_image_2d(src)
    argv = [str(src) if a == "IN" else str(tmp_path / "o") if a == "OUT" else a for a in argv]
    run = convert("resave", *argv)
    assert run.rc != 0
    checks.assert_one_line_error(run.err, needle)


def test_locations_parse():
    assert parse_s3_url("s3://bucket/a/b.zarr/") == ("bucket", "a/b.zarr")
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    store = open_store("/data//x.zarr", bucket="idr", endpoint="uk1s3.example.org", anon=True)
    assert isinstance(store, S3Store)
    assert store.describe("0/.zarray") == "s3://idr/data/x.zarr/0/.zarray"
    assert store.endpoint == "https://uk1s3.example.org"
    assert store.region == "us-east-1"
    with pytest.raises(UserError):
        read_location("s3://bucket", anon=True)
    with pytest.raises(UserError, match="everything in the bucket"):  # before any request
        open_store("s3://bucket", role="output", endpoint="http://127.0.0.1:9", anon=True).delete_tree()


# ---------------------------------------------------------------------------
# the store itself
# ---------------------------------------------------------------------------


def test_writer_stores_nothing_on_error(signed):
    s3 = signed
    store = open_store(f"s3://{PRIVATE}/{unique('w')}", role="output", endpoint=s3.endpoint)
    with pytest.raises(RuntimeError), store.writer("shard") as f:
        f.write(b"x" * 1000)
        raise RuntimeError("the shard failed")
    assert not store.exists("shard")
    with store.writer("shard") as f:
        f.write(b"y" * 1000)
    assert store.get("shard") == b"y" * 1000
    assert store.get_tail("shard", 10) == (b"y" * 10, 1000)
    assert store.get_tail("missing", 10) is None
    assert store.list_dir("") == ([], ["shard"])
    store.delete("shard")
    assert store.get("shard") is None and not store.exists("shard")


# ---------------------------------------------------------------------------
# the server goes away in the middle of a conversion
# ---------------------------------------------------------------------------


def build_many_chunks(path: Path) -> dict[str, np.ndarray]:
    data = np.random.default_rng(3).integers(0, 4096, size=(2048, 2048), dtype="<u2")
    return samples.write_image(path, data, "yx", levels=3, chunks=(64, 64))


def start_conversion(s3, prefix: str, out: Path, retry_timeout: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(s3.env())
    env[RETRY_TIMEOUT_ENV] = retry_timeout
    return subprocess.Popen(
        [sys.executable, "-m", "ome2024_ngff_challenge", "resave", "--cc-by", "--output-threads=1",
         "--output-shards=128,128", f"--input-endpoint={s3.endpoint}", f"s3://{PRIVATE}/{prefix}", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def communicate(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def wait_for_first_shard(proc: subprocess.Popen, out: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (out / "0" / "c").is_dir():
        assert proc.poll() is None, f"the conversion ended before the server was stopped: {proc.communicate()}"
        assert time.monotonic() < deadline, "no shard written"
        time.sleep(0.005)


@pytest.fixture
def own_server(tmp_path):
    with s3_server.running(tmp_path / "seaweedfs") as server:
        yield server


def test_server_stopped_mid_run_fails_clearly(own_server, tmp_path):
    s3 = own_server
    src = tmp_path / "many.zarr"
    build_many_chunks(src)
    prefix = "many.zarr"
    s3.upload(src, PRIVATE, prefix)
    out = tmp_path / "out.zarr"
    proc = start_conversion(s3, prefix, out, retry_timeout="2")
    wait_for_first_shard(proc, out)
    s3.stop()
    stdout, stderr = communicate(proc, timeout=60)
    assert proc.returncode == 1, stderr
    checks.assert_one_line_error(stderr, f"s3://{PRIVATE}/{prefix}", "cannot reach")
    checks.assert_no_complete_output(out)
    assert_no_secrets(s3, stdout, stderr)


@pytest.fixture
def proxy(s3):
    relay = s3_server.FlakyProxy(s3.ports["s3"])
    yield relay
    relay.close()


# An outage counted in refused connections, not in seconds: longer than obstore
# retries one request by itself (MAX_RETRIES, each on a new connection), and
# over once that many connections were refused, however long that took.
OUTAGE = 2 * (MAX_RETRIES + 1)
PATIENT = "120"  # the default retry budget: far longer than the outage takes


def test_outage_while_reading_is_retried(s3, proxy, tmp_path):
    """Every connection is reset as a chunk is read, and new ones are refused
    for a while: the reads are retried with backoff, the run finishes once the
    server answers again, and every shard is there."""
    src = tmp_path / "many.zarr"
    expected = build_many_chunks(src)
    prefix = unique("many.zarr")
    s3.upload(src, PRIVATE, prefix)
    out = tmp_path / "out.zarr"
    relayed = s3_server.S3Server(s3.root, s3.access_key, s3.secret_key, {"s3": proxy.port})
    chunks = f"/{PRIVATE}/{prefix}/0/5/"  # a row of chunks read in the middle of level 0
    proxy.trip("GET", chunks, refuse=OUTAGE)
    proc = start_conversion(relayed, prefix, out, retry_timeout=PATIENT)
    stdout, stderr = communicate(proc, timeout=600)  # against a hang only
    assert proc.returncode == 0, stderr
    assert proxy.cuts == OUTAGE, "the outage did not happen, or did not end"
    cut_off = next(r for r in proxy.requests if r[0] == "GET" and r[1].startswith(chunks))
    assert proxy.requests.count(cut_off) >= 2, f"{cut_off} was not read again"
    checks.check_conversion(src, out, expected=expected, validators=False)


def test_outage_while_writing_is_retried(signed, proxy, tmp_path, convert, monkeypatch):
    """Every connection is reset as a shard is written, and new ones are
    refused for longer than obstore retries one request: the write is sent
    again until the server answers, and the output is complete and equal."""
    s3 = signed
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, PATIENT)
    src = tmp_path / "many.zarr"
    expected = build_many_chunks(src)
    prefix = unique("out.zarr")
    shards = f"/{PRIVATE}/{prefix}/0/c/2/"  # a row of shards written in the middle of level 0
    proxy.trip("PUT", shards, refuse=OUTAGE)
    run = convert("resave", "--cc-by", "--output-threads=1", "--output-shards=128,128",
                  f"--output-endpoint={proxy.endpoint}", src, f"s3://{PRIVATE}/{prefix}")
    assert run.rc == 0, str(run)
    assert proxy.cuts == OUTAGE, "the outage did not happen, or did not end"
    cut_off = next(r for r in proxy.requests if r[0] == "PUT" and r[1].startswith(shards))
    assert proxy.requests.count(cut_off) >= 2, f"{cut_off} was not written again"
    out = downloaded(s3, PRIVATE, prefix, tmp_path)
    assert (out / cut_off[1].removeprefix(f"/{PRIVATE}/{prefix}/")).is_file()
    checks.check_conversion(src, out, expected=expected, validators=False)


def test_permanent_write_errors_are_not_retried(signed, proxy, monkeypatch):
    """No such bucket, access denied: one request, then one line (no retries)."""
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, PATIENT)
    key = unique("shard")
    store = open_store(f"s3://no-such-bucket/{key}", role="output", endpoint=proxy.endpoint)
    with pytest.raises(UserError) as raised:
        store.put("0/c/0/0", b"x" * 1000)
    checks.assert_one_line_error(str(raised.value), f"s3://no-such-bucket/{key}/0/c/0/0", "no such bucket")
    assert proxy.requests == [("PUT", f"/no-such-bucket/{key}/0/c/0/0")]
    anonymous = open_store(f"s3://{PUBLIC}/{key}", role="output", endpoint=proxy.endpoint, anon=True)
    with pytest.raises(UserError) as raised:
        with anonymous.writer("0/c/0/0") as f:
            f.write(b"y" * 1000)
    checks.assert_one_line_error(str(raised.value), f"s3://{PUBLIC}/{key}/0/c/0/0", "access denied")
    assert proxy.requests[1:] == [("PUT", f"/{PUBLIC}/{key}/0/c/0/0")]
    assert proxy.cuts == 0
    assert not signed.keys(PUBLIC, key)


def test_write_outage_longer_than_the_budget_fails_clearly(signed, proxy, monkeypatch):
    """The server never comes back: after the retry budget, one line naming the
    key and the endpoint, and nothing stored."""
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, "1")
    key = unique("shard")
    store = open_store(f"s3://{PRIVATE}/{key}", role="output", endpoint=proxy.endpoint)
    proxy.cut()  # until restore(): never, in this test
    with pytest.raises(UserError) as raised:
        store.put("0/c/0/0", b"z" * 1000)
    checks.assert_one_line_error(str(raised.value), f"s3://{PRIVATE}/{key}/0/c/0/0", "cannot write",
                                 f"cannot reach {proxy.endpoint}")
    assert proxy.cuts > 0
    proxy.restore()
    assert store.get("0/c/0/0") is None


def test_details_of_an_s3_input_written_to_a_local_file(signed, tmp_path, convert):
    """--output-write-details with an s3:// input and its endpoint option, to a
    local JSON file: the input's S3 options are not the output's."""
    s3 = signed
    src, _, prefix = uploaded(s3, tmp_path, "image_2d")
    details = tmp_path / "details.json"
    run = convert("resave", "--output-write-details", endpoint(s3, "input"), f"s3://{PRIVATE}/{prefix}", details)
    assert run.rc == 0, str(run)
    assert [d["shape"] for d in json.loads(details.read_text())] == [
        json.loads((src / level / ".zarray").read_text())["shape"] for level in ("0", "1")]


# ---------------------------------------------------------------------------
# zero copy on S3: the view added in place, server-side copies
# ---------------------------------------------------------------------------


def object_digest(s3, bucket: str, prefix: str, tmp_path: Path) -> dict:
    return checks.tree_digest(downloaded(s3, bucket, prefix, tmp_path))


@pytest.mark.parametrize("case", ["image_5d", "labels", "plate", "bioformats2raw"])
def test_in_place_on_s3(case, signed, tmp_path, convert):
    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, case)
    before = s3.keys(PRIVATE, prefix)
    original = object_digest(s3, PRIVATE, prefix, tmp_path)
    verify = ["--verify"] if case == "labels" else []  # every chunk read and decoded (read-only) first
    run = convert("resave", "--in-place", "--cc-by", *verify, endpoint(s3, "input"), f"s3://{PRIVATE}/{prefix}")
    assert run.rc == 0, str(run)
    view = downloaded(s3, PRIVATE, prefix, tmp_path)
    added = json.loads((view / IN_PLACE_RECORD).read_text())["added"]
    assert sorted(set(s3.keys(PRIVATE, prefix)) - set(before)) == sorted(
        f"{prefix}/{k}" for k in [*added, IN_PLACE_RECORD])
    after = checks.tree_digest(view)
    assert all(after[k] == v for k, v in original.items() if v[1]), "an object of the 0.4 view changed"
    checks.check_conversion(view, view, expected=expected, sharded=False)
    run = convert("resave", "--in-place", "--undo", endpoint(s3, "input"), f"--input-bucket={PRIVATE}", prefix)
    assert run.rc == 0, str(run)
    assert s3.keys(PRIVATE, prefix) == before
    assert object_digest(s3, PRIVATE, prefix, tmp_path) == original


def test_in_place_on_s3_reads_only_metadata(signed, tmp_path):
    import ome2024_ngff_challenge as ngff

    s3 = signed
    src, _, prefix = uploaded(s3, tmp_path, "image_5d")
    store = TracedStore(S3Store(PRIVATE, prefix, endpoint=s3.endpoint))
    ngff.resave_in_place(store, license="cc-by")
    size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert store.received < size / 20, (store.received, size)


def test_in_place_refusal_on_s3_adds_nothing(signed, tmp_path, convert):
    from numcodecs import Zlib

    s3 = signed
    src = tmp_path / "in.zarr"
    samples.write_image(src, samples.pattern((40, 50), "<u2", 3), "yx", levels=2, chunks=(16, 16),
                        compressor=Zlib(3))
    prefix = unique("zlib.zarr")
    s3.upload(src, PRIVATE, prefix)
    before = s3.keys(PRIVATE, prefix)
    run = convert("resave", "--in-place", endpoint(s3, "input"), f"s3://{PRIVATE}/{prefix}")
    assert run.rc != 0
    checks.assert_one_line_error(run.err, f"s3://{PRIVATE}/{prefix}/0", "zlib", "nothing was added")
    assert s3.keys(PRIVATE, prefix) == before


def test_unsharded_byte_copy_s3_to_s3_is_copied_by_the_server(signed, tmp_path):
    """Same bucket: every chunk is one CopyObject; the converter receives only
    the metadata. Another bucket: read and written, still correct."""
    import ome2024_ngff_challenge as ngff

    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, "image_5d")
    size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    for bucket in (PRIVATE, PUBLIC):
        source = TracedStore(S3Store(PRIVATE, prefix, endpoint=s3.endpoint))
        out_prefix = unique("linked.zarr")
        out = S3Store(bucket, out_prefix, endpoint=s3.endpoint, role="output")
        ngff.resave(source, out, codec="keep", shards="none", license="cc-by")
        copied = downloaded(s3, bucket, out_prefix, tmp_path)
        checks.check_conversion(src, copied, expected=expected, sharded=False)
        if bucket == PRIVATE:
            assert source.received < size / 20, (source.received, size)
        else:
            assert source.received > size / 2, (source.received, size)


def test_added_levels_read_back_from_s3(signed, tmp_path, convert):
    """--output-add-levels to a bucket: the levels below the first added one
    are computed from it where it was written (ranged reads of its shards)."""
    s3 = signed
    src, local = tmp_path / "in.zarr", tmp_path / "local.zarr"
    build_image_2d(src)
    assert convert("resave", "--cc-by", "--output-add-levels=10", src, local).rc == 0
    prefix = unique("out.zarr")
    run = convert("resave", "--cc-by", "--output-add-levels=10", "--output-shards=16,16", "--output-chunks=8,8",
                  f"--output-bucket={PRIVATE}", endpoint(s3, "output"), src, prefix)
    assert run.rc == 0, str(run)
    out = downloaded(s3, PRIVATE, prefix, tmp_path)
    checks.check_conversion(src, out, added_levels=True)
    for level in ("2", "3", "4"):  # 25x23, 13x12, 7x6
        checks.assert_same_voxels(checks.read_v3_zarr(local, level), checks.read_v3_zarr(out, level), level)


def test_added_levels_from_s3_input(signed, tmp_path, convert):
    """From a bucket, the first added level's input chunks are read ahead
    with the conversion's (ChunkReader.for_tasks)."""
    s3 = signed
    src, expected, prefix = uploaded(s3, tmp_path, "labels")
    local, out = tmp_path / "local" / "out.zarr", tmp_path / "s3" / "out.zarr"
    assert convert("resave", "--cc-by", "--output-add-levels=10", src, local).rc == 0
    run = convert("resave", "--cc-by", "--output-add-levels=10", f"--input-bucket={PRIVATE}", endpoint(s3, "input"),
                  prefix, out)
    assert run.rc == 0, str(run)
    checks.check_conversion(src, out, expected=expected, added_levels=True)
    for level in ("2", "3", "labels/cells/2", "labels/cells/3"):
        checks.assert_same_voxels(checks.read_v3_zarr(local, level), checks.read_v3_zarr(out, level), level)
