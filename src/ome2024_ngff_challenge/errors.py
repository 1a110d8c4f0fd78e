"""Errors meant for the user: printed as one line, no traceback.

Domain code never spells a command-line flag. Where a message names an option
(the value that is wrong, or the option that would help) it marks it with
``option("overwrite")`` or ``option("codec", text)``; the message then reads
``overwrite``/``codec=TEXT`` through the Python API (the keyword arguments'
names) and ``--output-overwrite``/``--output-codec=TEXT`` on the command line,
which renders it with its own spelling of each option (``UserError.render``).
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping

# Control characters never typed in a path or an option value.
_START, _SEP = "\x1e", "\x1f"
_OPTION = re.compile(f"{_START}([a-z_]+)(?:{_SEP}([^{_START}]*))?{_START}")


def option(name: str, value: object = None) -> str:
    """A reference to the option ``name`` (and the value given for it) inside a
    message: rendered as the API or the command line spells it."""
    if value is None:
        return f"{_START}{name}{_START}"
    return f"{_START}{name}{_SEP}{value}{_START}"


def render_options(text: str, spelling: Mapping[str, str] | None = None) -> str:
    """``text`` with each option reference spelled by ``spelling`` (option name
    -> how the reader writes it; default: the name itself)."""

    def spell(match: re.Match) -> str:
        name, value = match.group(1), match.group(2)
        word = (spelling or {}).get(name, name)
        return word if value is None else f"{word}={value}"

    return _OPTION.sub(spell, text)


class UserError(Exception):
    """Bad input, bad options or a refused action.

    The message names the path (or option) and what is wrong; the command line
    prints it as a single line and exits non-zero.
    """

    def render(self, spelling: Mapping[str, str] | None = None) -> str:
        """The message with each option reference spelled by ``spelling``
        (option name -> how the reader writes it; default: the name itself)."""
        return render_options(str(self.args[0]) if self.args else "", spelling)

    def __str__(self) -> str:
        return self.render()


class InputError(UserError):
    """The input dataset is not something we can convert."""


class CorruptChunkError(InputError):
    """A stored source chunk cannot be decoded (truncated, corrupt)."""


class OutputError(UserError):
    """The output location cannot be written as asked."""


# errno values of a write that failed for want of space: the disk, or a quota
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(OutputError):
    """A write failed for want of space (ENOSPC, or a quota: EDQUOT); the
    message names what was being written. A conversion adds how much it needs
    and that running it again resumes."""

    def __init__(self, message: str, location: str = ""):
        super().__init__(message)
        self.location = location  # what was being written
