"""A write counts as done only once it is durable: every file of an output is
flushed to the disk (fsync) before it is renamed into place, and the folder
entry of the rename is flushed after it, so that a power loss never leaves an
empty or short file under a final name."""

from __future__ import annotations

import os
from pathlib import Path

import ome2024_ngff_challenge as ngff
from conftest import build_image_with_labels


def test_every_file_is_flushed_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    src, out = tmp_path / "in.zarr", tmp_path / "out.zarr"
    build_image_with_labels(src)
    synced_files: set[str] = set()
    synced_dirs: list[str] = []
    renamed: list[str] = []
    unsynced_renames: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.isdir(path):
            synced_dirs.append(path)
        else:
            synced_files.add(path)
        real_fsync(fd)

    def replace(source, target) -> None:
        if os.fspath(source) not in synced_files:
            unsynced_renames.append(os.fspath(target))
        real_replace(source, target)
        renamed.append(os.fspath(target))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    ngff.resave(src, out, threads=2, license="cc0")

    files = {os.fspath(p) for p in out.rglob("*") if p.is_file()}
    assert files, "nothing written"
    assert not unsynced_renames, f"renamed into place before being flushed: {unsynced_renames}"
    assert files <= set(renamed), f"written without an atomic rename: {files - set(renamed)}"
    # each rename's folder entry is flushed after the rename, and so is each new
    # folder's entry in its parent
    for path in files:
        assert os.fspath(Path(path).parent) in synced_dirs, f"folder of {path} never flushed"
    for folder in (p for p in out.rglob("*") if p.is_dir()):
        assert os.fspath(folder.parent) in synced_dirs, f"new folder {folder} not flushed into its parent"
