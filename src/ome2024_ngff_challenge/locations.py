"""From what the user typed to a Store: a local folder, an S3 bucket prefix, or
an HTTP(S) URL (read-only)."""

from __future__ import annotations

from .errors import UserError
from .stores import LocalStore, Store


def open_store(
    path: str,
    *,
    role: str = "input",
    bucket: str | None = None,
    endpoint: str | None = None,
    anon: bool = False,
    region: str | None = None,
) -> Store:
    """The store for ``path``. With ``bucket`` (or an ``s3://`` path) it is a
    prefix in an S3 bucket; an ``http(s)://`` path is read over HTTP; anything
    else is a local folder. ``role`` ("input"/"output") names the options in
    messages."""
    if bucket or path.startswith("s3://") or path.startswith(("http://", "https://")):
        msg = f"{path}: remote {role}s (S3, HTTP) are not supported yet"
        raise UserError(msg)
    if endpoint or anon or region:
        msg = f"--{role}-endpoint/--{role}-anon/--{role}-region need --{role}-bucket or an s3:// path"
        raise UserError(msg)
    return LocalStore(path)
