"""`ome2024-ngff-challenge lookup` (being written)."""

from __future__ import annotations

from .errors import UserError


def run(args) -> int:
    msg = "'lookup' is not available yet"
    raise UserError(msg)
