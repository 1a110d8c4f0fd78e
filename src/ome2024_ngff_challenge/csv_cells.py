"""CSV cells a spreadsheet opens as text: a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets (``=HYPERLINK(...)`` in a dataset's name would run when the
catalogue is opened), so such text gets the usual leading ``'``; numbers
(``-1.5``) stay numbers. A carriage return inside a cell becomes a line feed:
Python's csv module (lineterminator "\n") quotes cells holding a line feed but
not those holding only a carriage return, which spreadsheets take for the end
of the row (the rest of the cell a new row, and maybe a formula). Reading our
own CSV back takes the ``'`` off again."""

from __future__ import annotations

import math

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def safe_cell(text: str) -> str:
    """``text`` as a CSV cell no spreadsheet runs as a formula."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def read_cell(text: str) -> str:
    """A cell written by ``safe_cell`` as the text it was given."""
    if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) and not _is_number(text[1:]):
        return text[1:]
    return text
