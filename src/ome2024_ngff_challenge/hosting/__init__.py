"""What web viewers see of a dataset: ``server`` serves a local folder as S3
serves a bucket (ranges, HEAD, CORS), ``check`` checks that a server gives
what viewers need (``validate https://...``)."""

from __future__ import annotations

from .server import Server, viewer_links

__all__ = ["Server", "viewer_links"]
