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


# Metadata nests a few levels; deeper documents are refused when read (Python
# recursion, in the parser and in every walk over them, would fail first).
MAX_DEPTH = 100


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether parsed JSON nests lists and objects more than ``limit`` deep
    (walked without recursion)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def non_finite_at(obj: Any) -> str | None:
    """Where parsed JSON holds NaN or an infinity (which Python's parser
    accepts but JSON has not: we could not write it back), e.g.
    "multiscales[0].coordinateTransformations[0].scale[1]"; None if nowhere."""
    stack: list[tuple[Any, str]] = [(obj, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return where or "the top level"
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))
    return None


def non_finite_problem(obj: Any) -> str | None:
    """The message part for a NaN or infinity in ``obj`` (None: there is none)."""
    at = non_finite_at(obj)
    if at is None:
        return None
    return (f"{at} is NaN or infinite: JSON has no such number (Zarr spells a NaN fill value "
            '"NaN"), and the attributes could not be written')


def json_bytes(obj: Any) -> bytes:
    """JSON as the Zarr world writes it: indented, UTF-8, NaN spelled as a string
    by the caller (allow_nan=False makes a slip an error, not invalid JSON)."""
    return (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
