"""JSON as the Zarr and OME-NGFF metadata use it: the few value checks that every
parser of that metadata needs, and how our JSON is written."""

from __future__ import annotations

import json
import math
from typing import Any

# How Zarr spells the non-finite floats that JSON cannot hold.
FLOAT_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def is_int(value: object) -> bool:
    """An integer, and not a bool (which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def json_bytes(obj: Any) -> bytes:
    """JSON as the Zarr world writes it: indented, UTF-8, NaN spelled as a string
    by the caller (allow_nan=False makes a slip an error, not invalid JSON)."""
    return (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
