"""From what the user typed to a Store: a local folder, an S3 bucket prefix, or
an HTTP(S) URL (read-only).

- ``--input-bucket=B PATH`` (or ``--output-...``): PATH is a key prefix in bucket B;
- ``s3://B/PATH``: the same, pasted as a URL (the endpoint, region and anonymity
  still come from the options);
- ``http://...`` / ``https://...``: an input read over HTTP (no listing needed);
- anything else: a local folder, read only inside it (a link out of it is
  refused unless ``follow_links``; see ``confined.py``).

The remote stores are imported only when asked for, so a local run does not pay
for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import UserError, option
from .base import Store
from .confined import read_small_file
from .local import LocalStore
from .traced import TRACE, TracedStore

LOG = logging.getLogger("ome2024_ngff_challenge")

REMOTE_SCHEMES = ("s3://", "http://", "https://")


@dataclass(frozen=True)
class S3Options:
    """How to reach an S3 location: with ``bucket`` the location is a prefix in
    it; an ``s3://bucket/prefix`` location needs no bucket here."""

    bucket: str | None = None
    endpoint: str | None = None  # a non-AWS store, e.g. https://uk1s3.embassy.ebi.ac.uk
    anon: bool = False  # unsigned requests (public buckets)
    region: str | None = None  # default us-east-1

    def as_kwargs(self) -> dict:
        return {"bucket": self.bucket, "endpoint": self.endpoint, "anon": self.anon, "region": self.region}


def is_remote(path: str) -> bool:
    return path.startswith(REMOTE_SCHEMES)


def open_store(*args, **kwargs) -> Store:
    """See ``_open_store``; with ``--log trace``, every call on the store is logged."""
    store = _open_store(*args, **kwargs)
    if LOG.isEnabledFor(TRACE):
        return TracedStore(store)
    return store


def _open_store(
    path: str,
    *,
    role: str = "input",
    bucket: str | None = None,
    endpoint: str | None = None,
    anon: bool = False,
    region: str | None = None,
    follow_links: bool = False,
) -> Store:
    """The store for ``path``. With ``bucket`` (or an ``s3://`` path) it is a
    prefix in an S3 bucket; an ``http(s)://`` path is read over HTTP; anything
    else is a local folder (``follow_links``: its links that lead out of it
    are read too). ``role`` ("input"/"output") names the options in
    messages."""
    if path.startswith(("http://", "https://")):
        from .http import HTTPStore  # noqa: PLC0415

        if bucket:
            msg = f"{option(role + '_bucket')}: not with an http(s):// {role} (give the path in the bucket instead of a URL)"
            raise UserError(msg)
        if endpoint or region:
            msg = f"{option(role + '_endpoint')}/{option(role + '_region')}: for S3 locations, not for an http(s):// URL"
            raise UserError(msg)
        store = HTTPStore(path)
        if role != "input" and not store.supports_writes:
            msg = f"{store.describe()}: HTTP(S) is read-only; write to a folder, s3://BUCKET/PREFIX or {option(role + '_bucket')}"
            raise UserError(msg)
        return store
    if path.startswith("s3://") or bucket:
        from .s3 import S3Store, parse_s3_url  # noqa: PLC0415

        if path.startswith("s3://"):
            if bucket:
                msg = f"{path}: give either an s3:// URL or {option(role + '_bucket')} with a path, not both"
                raise UserError(msg)
            bucket, prefix = parse_s3_url(path)
        else:
            prefix = path
        return S3Store(bucket, prefix, endpoint=endpoint, region=region, anon=anon, role=role)
    if endpoint or anon or region:
        msg = f"{option(role + '_endpoint')}/{option(role + '_anon')}/{option(role + '_region')} need {option(role + '_bucket')} or an s3:// path"
        raise UserError(msg)
    return LocalStore(path, follow_links=follow_links)


def read_location(path: str, *, role: str = "input", **location) -> bytes:
    """The bytes of one file given as a local path, ``s3://bucket/key`` or an
    http(s) URL (``location``: bucket/endpoint/anon/region as for open_store;
    with a bucket, ``path`` is a key in it). UserError when it cannot be read;
    a local file must be a regular file of at most 64 MiB."""
    if not is_remote(path) and not location.get("bucket"):
        return read_small_file(path)
    parent, _, name = path.rstrip("/").rpartition("/")
    if not name or parent.endswith(":/"):  # "s3://bucket" or "https://host": no file in it
        msg = f"{path}: not a file location"
        raise UserError(msg)
    if path.startswith(("http://", "https://")):
        store = open_store(parent, role="input")  # the S3 options do not apply
    else:
        store = open_store(parent, role=role, **location)
    data = store.get(name)
    if data is None:
        msg = f"{store.describe(name)}: not found"
        raise UserError(msg)
    return data
