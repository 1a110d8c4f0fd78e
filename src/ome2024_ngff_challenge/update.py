"""`ome2024-ngff-challenge update` (being written)."""

from __future__ import annotations

from .errors import UserError


def run(args) -> int:
    msg = "'update' is not available yet"
    raise UserError(msg)
