"""`ome2024-ngff-challenge validate` (being written)."""

from __future__ import annotations

from .errors import UserError


def run(args) -> int:
    msg = "'validate' is not available yet"
    raise UserError(msg)
