"""Command-line options: chunks/shards, details files, scripts, overwrite,
threads, logging, RO-Crate metadata, statistics."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

import checks
from conftest import build_image_2d, build_image_5d
from ome2024_ngff_challenge import __version__
from ome2024_ngff_challenge.convert.output import INCOMPLETE_MARK

CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"


def _ok(run) -> None:
    assert run.rc == 0, str(run)
    assert "Traceback" not in run.err, str(run)


def crate_root(out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the whole crate document, its root data entity "./")."""
    doc = checks.load_json(out / "ro-crate-metadata.json")
    graph = doc["@graph"]
    meta = next(e for e in graph if e.get("@id") == "ro-crate-metadata.json")
    root_id = meta.get("about", {}).get("@id", "./")
    root = next(e for e in graph if e.get("@id") == root_id)
    return doc, root


def id_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("@id")
    if isinstance(value, list) and len(value) == 1:
        return id_of(value[0])
    return value


def level_shapes(src: Path) -> list[list[int]]:
    attrs = checks.v2_attrs(src, "")
    return [checks.load_json(src / d["path"] / ".zarray")["shape"] for d in attrs["multiscales"][0]["datasets"]]


# ---------------------------------------------------------------------------
# chunks and shards
# ---------------------------------------------------------------------------


def test_default_options_are_sharded_and_valid(image_5d, tmp_path, convert):
    src, expected = image_5d
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out))
    report = checks.check_conversion(src, out, expected=expected, sharded=True)
    # default codec: Blosc zstd inside sharding_indexed
    meta = report.arrays["0"]
    inner = meta["codecs"][0]["configuration"]["codecs"]
    blosc = [c for c in inner if c["name"] == "blosc"]
    assert blosc and blosc[0]["configuration"]["cname"] == "zstd", inner


def test_output_chunks_and_shards_clipped_to_small_levels(image_5d, tmp_path, convert):
    src, expected = image_5d
    out = tmp_path / "out.zarr"
    chunks, shards = [1, 1, 1, 64, 64], [1, 1, 2, 128, 128]
    _ok(convert("resave", src, out, "--output-chunks=" + ",".join(map(str, chunks)),
                "--output-shards=" + ",".join(map(str, shards))))
    report = checks.check_conversion(src, out, expected=expected, sharded=True)
    for level, shape in enumerate(level_shapes(src)):
        got_chunks, got_shards = checks.chunks_and_shards(report.arrays[str(level)])
        for i, s in enumerate(shape):
            assert min(got_chunks[i], s) == min(chunks[i], s), (level, got_chunks, shape)
            assert min(got_shards[i], s) == min(shards[i], s), (level, got_shards, shape)
    # level 0 is big enough to take them exactly
    assert checks.chunks_and_shards(report.arrays["0"]) == (chunks, shards)


def test_output_shards_not_multiple_of_chunks_is_refused(image_5d, tmp_path, convert):
    src, _ = image_5d
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out, "--output-chunks=1,1,1,64,64", "--output-shards=1,1,1,100,100")
    assert run.rc != 0, str(run)
    assert "Traceback" not in run.err
    assert run.err.strip(), "no error message"
    assert "shard" in run.err.lower(), run.err
    checks.assert_no_complete_output(out)


def test_output_shards_none_writes_unsharded(image_5d, tmp_path, convert):
    src, expected = image_5d
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, "--output-shards=none"))
    checks.check_conversion(src, out, expected=expected, sharded=False)


def test_output_shards_none_with_chunks(image_2d, tmp_path, convert):
    src, expected = image_2d
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, "--output-chunks=16,32", "--output-shards=none"))
    report = checks.check_conversion(src, out, expected=expected, sharded=False)
    assert checks.chunks_and_shards(report.arrays["0"]) == ([16, 32], None)


# ---------------------------------------------------------------------------
# details files
# ---------------------------------------------------------------------------


def details_by_path(details: Any, src: Path) -> dict[str, dict[str, Any]]:
    """Normalise a details file: a list (single image, datasets order) or a
    dict {array path: {"shape","chunks","shards"}}."""
    if isinstance(details, list):
        paths = [d["path"] for d in checks.v2_attrs(src, "")["multiscales"][0]["datasets"]]
        assert len(details) == len(paths), details
        return dict(zip(paths, details, strict=True))
    assert isinstance(details, dict), type(details)
    return {k.strip("/"): v for k, v in details.items()}


def test_write_details_single_image(image_5d, tmp_path, convert):
    src, _ = image_5d
    cfg = tmp_path / "details.json"
    _ok(convert("resave", src, cfg, "--output-write-details"))
    assert cfg.is_file(), "details file not written"
    details = json.loads(cfg.read_text())
    assert isinstance(details, list), f"single image details should be a list: {details!r}"
    assert len(details) == 3
    for entry, shape in zip(details, level_shapes(src), strict=True):
        assert set(entry) >= {"shape", "chunks", "shards"}, entry
        assert entry["shape"] == shape
        assert all(s % c == 0 for s, c in zip(entry["shards"], entry["chunks"], strict=True)), entry


def test_read_details_round_trip(image_5d, tmp_path, convert):
    src, expected = image_5d
    cfg = tmp_path / "details.json"
    _ok(convert("resave", src, cfg, "--output-write-details"))
    details = json.loads(cfg.read_text())
    details[0]["chunks"] = [1, 1, 1, 32, 64]
    details[0]["shards"] = [1, 1, 3, 128, 128]
    cfg.write_text(json.dumps(details))
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, f"--output-read-details={cfg}"))
    report = checks.check_conversion(src, out, expected=expected)
    assert checks.chunks_and_shards(report.arrays["0"]) == ([1, 1, 1, 32, 64], [1, 1, 3, 128, 128])
    for level in ("1", "2"):  # untouched entries are used as written
        entry = details[int(level)]
        assert checks.chunks_and_shards(report.arrays[level]) == (entry["chunks"], entry["shards"])


@pytest.mark.parametrize("which", ["labels", "plate", "bioformats2raw"])
def test_write_and_read_details_collections(which, request, tmp_path, convert):
    src, expected = request.getfixturevalue({"labels": "image_with_labels"}.get(which, which))
    cfg = tmp_path / "details.json"
    _ok(convert("resave", src, cfg, "--output-write-details"))
    details = json.loads(cfg.read_text())
    assert isinstance(details, dict), f"details for a {which} should name each array: {details!r}"
    by_path = details_by_path(details, src)
    assert set(by_path) == set(expected), f"{sorted(by_path)} != {sorted(expected)}"
    for rel, entry in by_path.items():
        assert entry["shape"] == list(expected[rel].shape), rel
    # edit one array and check the output follows
    target = {"labels": "labels/cells/0", "plate": "A/1/0/0", "bioformats2raw": "0/0"}[which]
    key = next(k for k in details if k.strip("/") == target)
    shape = details[key]["shape"]
    new_chunks = [1] * (len(shape) - 2) + [16, 16]
    new_shards = [1] * (len(shape) - 2) + [32, 48]
    details[key]["chunks"], details[key]["shards"] = new_chunks, new_shards
    cfg.write_text(json.dumps(details))
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, f"--output-read-details={cfg}"))
    report = checks.check_conversion(src, out, expected=expected)
    assert checks.chunks_and_shards(report.arrays[target]) == (new_chunks, new_shards)


# ---------------------------------------------------------------------------
# script mode
# ---------------------------------------------------------------------------


def test_output_script(image_with_labels, tmp_path, convert):
    src, expected = image_with_labels
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, "--output-script"))
    # no array is written yet: the output must not claim to be complete
    assert not (out / "zarr.json").exists(), "root zarr.json written before any array exists"
    assert (out / INCOMPLETE_MARK).is_file()
    for rel, kind in checks.iter_v2_nodes(src):
        if kind == "group":
            if rel:
                assert checks.v3_meta(out, rel)["node_type"] == "group"
            continue
        folder = out / rel
        script = folder / "convert.sh"
        assert script.is_file(), f"missing {script}"
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert set(files) <= {"convert.sh", "zarr.json"}, f"{folder}: chunk data written in script mode: {files}"
        lines = [ln for ln in script.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        assert len(lines) == 1, f"{script}: {lines}"
        argv = shlex.split(lines[0])
        assert argv[0] == "zarrs_reencode", argv
        assert argv[1] == "--chunk-shape" and argv[3] == "--shard-shape", argv
        assert argv[5] == "--dimension-names" and argv[7] == "--bytes-to-bytes-codecs", argv
        assert json.loads(argv[8]) == [{"name": "blosc", "configuration": {
            "cname": "zstd", "clevel": 5, "shuffle": "shuffle", "typesize": expected[rel].dtype.itemsize,
            "blocksize": 0}}], argv
        assert argv[9] == "--validate" and len(argv) == 12, argv
        chunk = [int(v) for v in argv[2].split(",")]
        shard = [int(v) for v in argv[4].split(",")]
        ndim = expected[rel].ndim
        assert len(chunk) == len(shard) == ndim
        assert all(s % c == 0 for s, c in zip(shard, chunk, strict=True)), argv
        assert argv[6].split(",") == ["z", "y", "x"]
        assert Path(argv[10]).resolve() == (src / rel).resolve(), argv
        assert Path(argv[11]).resolve() == (out / rel).resolve(), argv


def fake_zarrs_reencode(argv: list[str], data) -> None:
    """What zarrs_reencode does with one convert.sh line, done with zarr-python:
    write the array with the given chunks, shards, names and codecs."""
    import zarr
    from zarr.codecs import BloscCodec

    options = dict(zip(argv[1:-2:2], argv[2:-2:2]))
    chunks = tuple(int(v) for v in options["--chunk-shape"].split(","))
    shards = tuple(int(v) for v in options["--shard-shape"].split(","))
    codec = json.loads(options["--bytes-to-bytes-codecs"])[0]["configuration"]
    array = zarr.create_array(
        argv[-1], shape=data.shape, dtype=data.dtype, chunks=chunks, shards=shards,
        dimension_names=options["--dimension-names"].split(","), zarr_format=3,
        compressors=[BloscCodec(cname=codec["cname"], clevel=codec["clevel"], shuffle=codec["shuffle"])],
    )
    array[...] = data


def test_output_script_completes_when_run_again(image_with_labels, tmp_path, convert):
    """The output of --output-script becomes complete only when every array has
    been written by its convert.sh and the same command runs again."""
    src, expected = image_with_labels
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, "--output-script", "--cc-by"))
    refused = convert("update", out, "--cc0")
    assert refused.rc != 0 and "did not finish" in refused.err, str(refused)
    arrays = [rel for rel, kind in checks.iter_v2_nodes(src) if kind == "array"]
    # run all but one script: the command says what is missing and stays incomplete
    for rel in arrays[:-1]:
        line = [ln for ln in (out / rel / "convert.sh").read_text().splitlines() if ln and ln[0] != "#"][0]
        fake_zarrs_reencode(shlex.split(line), expected[rel])
    again = convert("resave", src, out, "--output-script", "--cc-by")
    _ok(again)
    assert arrays[-1] in again.out and not (out / "zarr.json").exists()
    rel = arrays[-1]
    line = [ln for ln in (out / rel / "convert.sh").read_text().splitlines() if ln and ln[0] != "#"][0]
    fake_zarrs_reencode(shlex.split(line), expected[rel])
    _ok(convert("resave", src, out, "--output-script", "--cc-by"))
    assert (out / "zarr.json").is_file() and not (out / INCOMPLETE_MARK).exists()
    checks.check_conversion(src, out, expected=expected)
    valid = convert("validate", out, "--against", src)
    assert valid.rc == 0 and "0 errors" in valid.out, str(valid)
    assert checks.v3_meta(out, "labels/cells")["attributes"]["ome"]["image-label"], "label metadata lost"


def test_output_script_quotes_paths(tmp_path, convert):
    """convert.sh is run by a shell: paths with spaces, quotes or $ must come
    back unchanged from shell word splitting."""
    folder = tmp_path / "my data $HOME it's"
    src, out = folder / "in put.zarr", folder / "out 'put'.zarr"
    build_image_2d(src, shape=(20, 30), levels=1)
    _ok(convert("resave", src, out, "--output-script"))
    line = [ln for ln in (out / "0" / "convert.sh").read_text().splitlines() if ln.strip() and ln[0] != "#"][0]
    argv = shlex.split(line)
    assert len(argv) == 12, f"paths not quoted for the shell: {line}"
    assert Path(argv[10]).resolve() == (src / "0").resolve(), line
    assert Path(argv[11]).resolve() == (out / "0").resolve(), line


# ---------------------------------------------------------------------------
# overwrite
# ---------------------------------------------------------------------------


def test_existing_output_refused_without_overwrite(image_2d, tmp_path, convert):
    src, _ = image_2d
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out))
    before = checks.tree_digest(out)
    run = convert("resave", src, out)
    assert run.rc != 0, str(run)
    checks.assert_one_line_error(run.err, str(out))
    assert checks.tree_digest(out) == before, "refused run changed the existing output"


def test_overwrite_replaces_previous_output(image_with_labels, tmp_path, convert):
    first, _ = image_with_labels
    out = tmp_path / "out.zarr"
    _ok(convert("resave", first, out))
    assert (out / "labels").exists()
    second = tmp_path / "second.zarr"
    expected = build_image_2d(second, shape=(40, 50), levels=1, seed=9)
    _ok(convert("resave", second, out, "--output-overwrite"))
    # nothing of the first conversion may remain (check_conversion refuses
    # zarr.json files that have no source node)
    checks.check_conversion(second, out, expected=expected)
    assert not (out / "labels").exists() and not (out / "1").exists()


def test_overwrite_refuses_to_delete_a_non_zarr_folder(image_2d, tmp_path, convert):
    src, _ = image_2d
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("my thesis\n")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("1,2,3\n")
    before = checks.tree_digest(out)
    run = convert("resave", src, out, "--output-overwrite")
    assert run.rc != 0, str(run)
    checks.assert_one_line_error(run.err, str(out))
    assert checks.tree_digest(out) == before, "a folder that is not a Zarr output was modified"


def test_overwrite_refuses_to_delete_a_zarr_v2_dataset(image_2d, tmp_path, convert):
    """A Zarr v2 / OME-Zarr 0.4 dataset is never an output of this converter
    (its outputs are Zarr v3): --output-overwrite must not delete one that was
    given as OUTPUT by mistake (e.g. swapped arguments)."""
    src, _ = image_2d
    other = tmp_path / "other_v04.zarr"
    build_image_2d(other, shape=(30, 30), levels=1, seed=5)
    before = checks.tree_digest(other)
    run = convert("resave", src, other, "--output-overwrite")
    assert run.rc != 0, f"an OME-Zarr 0.4 dataset was replaced by --output-overwrite\n{run}"
    checks.assert_one_line_error(run.err, str(other))
    assert checks.tree_digest(other) == before


# ---------------------------------------------------------------------------
# threads, logging, notes, statistics, creator
# ---------------------------------------------------------------------------


def _find_key(stats: dict[str, Any], *fragments: str, exclude: tuple[str, ...] = ()) -> str:
    for key in stats:
        low = key.lower()
        if all(f in low for f in fragments) and not any(x in low for x in exclude):
            return key
    raise AssertionError(f"no stats key containing {fragments}: {sorted(stats)}")


def test_threads_notes_and_statistics(image_with_labels, tmp_path, convert):
    src, expected = image_with_labels
    out = tmp_path / "out.zarr"
    notes = "run on a test machine – ünïcode"
    _ok(convert("resave", src, out, "--output-threads=3", f"--conversion-notes={notes}", "--cc0"))
    report = checks.check_conversion(src, out, expected=expected)
    for rel, meta in report.arrays.items():
        stats = meta.get("attributes", {}).get(checks.STATS_KEY)
        assert isinstance(stats, dict), f"{rel}: no {checks.STATS_KEY} in attributes"
        read = stats[_find_key(stats, "read", exclude=("thread",))]
        written = stats[_find_key(stats, "writ")]
        assert isinstance(read, int) and read > 0, (rel, stats)
        assert isinstance(written, int) and written > 0, (rel, stats)
        start, stop = stats[_find_key(stats, "start")], stats[_find_key(stats, "stop")]
        elapsed = stats[_find_key(stats, "elapsed")]
        assert isinstance(elapsed, (int, float)) and elapsed >= 0
        if isinstance(start, (int, float)) and isinstance(stop, (int, float)):
            assert stop >= start
        assert stats[_find_key(stats, "thread")] == 3, stats
        cpus = stats[_find_key(stats, "cpu", "count")]
        assert isinstance(cpus, int) and cpus >= 1
        cpu_seconds = stats[_find_key(stats, "cpu", "seconds")]
        assert isinstance(cpu_seconds, float) and cpu_seconds > 0, stats
        assert stats[_find_key(stats, "note")] == notes, stats
    creator = checks.v3_meta(out, "")["attributes"]["ome"][checks.CREATOR_KEY]
    assert creator["name"] == "ome2024-ngff-challenge"
    assert creator["version"] and isinstance(creator["version"], str)
    assert creator["version"] == __version__


def test_log_debug(image_2d, tmp_path, convert):
    src, expected = image_2d
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out, "--log", "debug", "--cc-by")
    _ok(run)
    checks.check_conversion(src, out, expected=expected)
    quiet_out = tmp_path / "quiet.zarr"
    quiet = convert("resave", src, quiet_out, "--cc-by")
    _ok(quiet)
    assert len(run.out) + len(run.err) > len(quiet.out) + len(quiet.err), "--log debug printed nothing more"


def test_without_resave_word(image_2d, tmp_path, convert):
    src, expected = image_2d
    out = tmp_path / "out.zarr"
    _ok(convert(src, out, "--cc-by"))
    checks.check_conversion(src, out, expected=expected)


# ---------------------------------------------------------------------------
# RO-Crate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "license_url"),
    [
        (["--cc-by"], CC_BY),
        (["--cc0"], CC0),
        (["--rocrate-license=https://creativecommons.org/licenses/by-sa/4.0/"],
         "https://creativecommons.org/licenses/by-sa/4.0/"),
    ],
)
def test_license(flags, license_url, image_2d, tmp_path, convert):
    src, _ = image_2d
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out, *flags)
    _ok(run)
    _, root = crate_root(out)
    assert id_of(root.get("license")) == license_url, root
    assert "license" not in run.err.lower(), f"license warning although a license was given: {run.err}"


def test_two_licenses_refused(image_2d, tmp_path, convert):
    src, _ = image_2d
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out, "--cc-by", "--cc0")
    assert run.rc != 0, str(run)
    assert "Traceback" not in run.err
    assert "--cc0" in run.err or "--cc-by" in run.err or "license" in run.err.lower(), run.err
    checks.assert_no_complete_output(out)


def test_no_license_warns_but_converts(image_2d, tmp_path, convert):
    src, expected = image_2d
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out)
    _ok(run)
    assert "license" in run.err.lower(), f"no warning about the missing license on stderr: {run.err!r}"
    checks.check_conversion(src, out, expected=expected)


def test_rocrate_metadata_flags(image_2d, tmp_path, convert):
    src, _ = image_2d
    out = tmp_path / "out.zarr"
    _ok(convert(
        "resave", src, out, "--cc-by", "--rocrate-organism=NCBI:txid9606", "--rocrate-modality=obo:FBbi_00000369",
        "--rocrate-name=my experiment", "--rocrate-description=More text – here",
    ))
    doc, root = crate_root(out)
    assert root.get("name") == "my experiment"
    assert root.get("description") == "More text – here"
    text = json.dumps(doc)
    assert "NCBI:txid9606" in text or "txid9606" in text, text
    assert "FBbi_00000369" in text, text


def test_rocrate_modality_without_organism(image_2d, tmp_path, convert):
    src, _ = image_2d
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, "--cc0", "--rocrate-modality=obo:FBbi_00000369"))
    doc, _ = crate_root(out)
    assert "FBbi_00000369" in json.dumps(doc)


def test_rocrate_skip(image_2d, tmp_path, convert):
    src, expected = image_2d
    out = tmp_path / "out.zarr"
    _ok(convert("resave", src, out, "--rocrate-skip"))
    checks.check_conversion(src, out, expected=expected, rocrate=False)


# ---------------------------------------------------------------------------
# the installed console script
# ---------------------------------------------------------------------------


def test_console_script_success(tmp_path, run_script):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    expected = build_image_5d(src)
    run = run_script("resave", src, out, "--cc-by")
    assert run.rc == 0, str(run)
    assert "Traceback" not in run.err
    checks.check_conversion(src, out, expected=expected)


def test_log_trace_shows_every_store_operation(image_2d, tmp_path, convert):
    src, _ = image_2d
    out = tmp_path / "out.zarr"
    run = convert("resave", src, out, "--cc-by", "--log", "trace")
    _ok(run)
    lines = run.err.splitlines()
    assert any(ln.startswith(f"trace: get {src}/.zattrs: ") and ln.endswith(" ms") for ln in lines), run.err
    assert any(ln.startswith(f"trace: get {src}/0/") for ln in lines), "no chunk read traced"
    assert any(ln.startswith(f"trace: write {out}/0/c/") for ln in lines), "no shard write traced"
    assert any(ln == f"trace: put {out}/zarr.json: {(out / 'zarr.json').stat().st_size} bytes" for ln in lines)
    debug = convert("resave", src, tmp_path / "debug.zarr", "--cc-by", "--log", "debug")
    assert "trace:" not in debug.err
