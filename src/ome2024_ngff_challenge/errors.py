"""Errors meant for the user: printed as one line, no traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input, bad options or a refused action.

    The message names the path (or option) and what is wrong; the command line
    prints it as a single line and exits non-zero.
    """


class InputError(UserError):
    """The input dataset is not something we can convert."""


class CorruptChunkError(InputError):
    """A stored source chunk cannot be decoded (truncated, corrupt)."""


class OutputError(UserError):
    """The output location cannot be written as asked."""
