"""What a local folder store may read, list, write and delete: the rules, once.

- **Inside its root.** A key is reached through its folders' real paths (links
  resolved). A link that stays inside the root (the root's real path) is
  followed; one that leads out of it is refused, naming it, unless the store
  was opened with ``follow_links`` (datasets deliberately assembled from links).
  Nothing is ever written or deleted through a link that leads out of the root,
  ``follow_links`` or not: a folder swapped for a link to ``/elsewhere`` never
  gets a file written into it or removed from it.
- **No loops.** A folder whose real path is that of a folder above it (``ln -s .
  a``) would be listed for ever: refused, as is a link the kernel cannot resolve
  (ELOOP). A broken link is refused too (a missing chunk would read as fill).
- **Regular files only.** A FIFO blocks for ever, a device (``/dev/zero``)
  never ends, a socket cannot be read: anything but a regular file is refused
  before it is opened (and checked again on the open file, without blocking).

Each refusal is a UserError, one line naming the path (and where its link
leads). Races with someone swapping folders for links while we run are not
covered (we hold no file descriptors of folders); what is there is checked.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from ..errors import InputError, OutputError, UserError, option

# a collection's list, a details file: small by nature; a bigger one is a mistake
SMALL_FILE_LIMIT = 64 * 2**20
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
NOT_THERE = (FileNotFoundError, NotADirectoryError)


def kind(mode: int) -> str:
    """What a file that is not a regular file is, in a message."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def not_regular(path: str, mode: int) -> InputError:
    return InputError(f"{path}: {kind(mode)}, not a regular file: only regular files are read")


def loop(path: str) -> InputError:
    return InputError(f"{path}: a link loop (it leads back to a folder above it, or to itself): refused")


def failed(path: str, e: OSError, *, write: bool = False) -> UserError:
    """Any other reason the file system gives (permission denied, a name too long ...)."""
    return (OutputError if write else InputError)(f"{path}: {e.strerror or e}")


class Confinement:
    """The rules for one local store's root (see the module's text). Folders'
    real paths are remembered once checked (one lstat per key afterwards)."""

    def __init__(self, root: str | os.PathLike[str], follow_links: bool = False):
        self.root = os.fspath(root)
        self.follow_links = follow_links
        self._real_root: str | None = None
        self._folders: dict[str, str] = {}  # folder key -> its real path, checked
        self.excluded: list[str] = []  # real paths never read, follow_links or not (an output being written)

    def exclude(self, path: str | os.PathLike[str]) -> None:
        """Never read below ``path`` through a link (the output of this run)."""
        real = os.path.realpath(path)
        if real not in self.excluded:
            self.excluded.append(real)
            self._folders.clear()

    def forget(self) -> None:
        """Folders were removed (a tree deleted): resolve them afresh."""
        self._folders.clear()
        self._real_root = None

    @property
    def real_root(self) -> str:
        if self._real_root is not None:
            return self._real_root
        real = os.path.realpath(self.root)
        if os.path.isdir(real):  # an output not made yet is resolved again once it is
            self._real_root = real
        return real

    def inside(self, real: str) -> bool:
        root = self.real_root
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    def shown(self, key: str) -> str:
        """The path of ``key`` as the user gave the root (for messages)."""
        return os.path.join(self.root, key) if key else self.root

    # -- resolving ----------------------------------------------------------

    def _follow(self, path: str, key: str, *, write: bool) -> str | None:
        """The real path of what ``path`` (the key's entry in its folder's real
        path) names: itself, or where its link leads once checked; None when
        nothing is there."""
        try:
            st = os.lstat(path)
        except NOT_THERE:
            return None
        except OSError as e:
            raise failed(self.shown(key), e, write=write) from None
        name = os.path.basename(path)
        if not stat.S_ISLNK(st.st_mode) and name not in (".", ".."):
            return path
        real = os.path.realpath(path)
        try:
            os.stat(real)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise loop(self.shown(key)) from None
            if isinstance(e, NOT_THERE):
                if write:  # a broken link is replaced (never written through): see writable
                    return None
                msg = f"{self.shown(key)}: a broken link (to {os.readlink(path)}, which does not exist)"
                raise InputError(msg) from None
            raise failed(self.shown(key), e, write=write) from None
        if not write and any(real == x or real.startswith(x.rstrip(os.sep) + os.sep) for x in self.excluded):
            msg = f"{self.shown(key)}: a link to {real}, inside the output of this run: never read"
            raise InputError(msg)
        if not self.inside(real):
            if write:
                msg = (f"{self.shown(key)}: a link to {real}, outside {self.root}: nothing is written or "
                       f"deleted through a link that leads out of the dataset")
                raise OutputError(msg)
            if not self.follow_links:
                msg = (f"{self.shown(key)}: a link to {real}, outside {self.root}: not followed (files outside "
                       f"the input are not read unless asked with {option('follow_links')})")
                raise InputError(msg)
        return real

    def folder(self, key: str, *, write: bool = False) -> str | None:
        """The real path of the folder ``key``, checked; None when no folder is
        there. ``write``: for writing or deleting in it (never outside the root)."""
        key = key.strip("/")
        real = self._folders.get(key)
        if real is None:
            real = self._resolve_folder(key, write=write)
            if real is None:
                return None
        if write and not self.inside(real):  # followed for reading (follow_links), never for writing
            msg = (f"{self.shown(key)}: leads to {real}, outside {self.root}: nothing is written or deleted "
                   f"through a link that leads out of the dataset")
            raise OutputError(msg)
        return real

    def _resolve_folder(self, key: str, *, write: bool) -> str | None:
        if not key:
            real = self.real_root
            try:
                st = os.stat(real)
            except NOT_THERE:
                return None
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise loop(self.root) from None
                raise failed(self.root, e, write=write) from None
            if not stat.S_ISDIR(st.st_mode):
                return None
            self._folders[""] = real
            return real
        up, _, name = key.rpartition("/")
        parent = self.folder(up, write=write)
        if parent is None:
            return None
        real = self._follow(os.path.join(parent, name), key, write=write)
        if real is None or not os.path.isdir(real):
            return None
        above = up
        while True:  # a folder that is one above it: listed for ever
            if self._folders.get(above) == real:
                raise loop(self.shown(key))
            if not above:
                break
            above = above.rpartition("/")[0]
        self._folders[key] = real
        return real

    # -- what the store does ------------------------------------------------

    def file(self, key: str) -> str | None:
        """The real path of the regular file ``key``; None when there is none
        (or a folder is there); a UserError when it may not be read."""
        up, _, name = key.strip("/").rpartition("/")
        parent = self.folder(up)
        if parent is None:
            return None
        real = self._follow(os.path.join(parent, name), key, write=False)
        if real is None:
            return None
        try:
            st = os.stat(real)
        except NOT_THERE:
            return None
        except OSError as e:
            raise failed(self.shown(key), e) from None
        if stat.S_ISDIR(st.st_mode):
            return None
        if not stat.S_ISREG(st.st_mode):
            raise not_regular(self.shown(key), st.st_mode)
        return real

    def open(self, key: str) -> BinaryIO | None:
        """The regular file ``key`` opened for reading; None when there is none."""
        real = self.file(key)
        if real is None:
            return None
        return open_regular(real, self.shown(key))

    def writable(self, key: str, *, follow_file: bool = False) -> str:
        """The real path at which ``key`` is written or deleted: its folder's
        real path (made by us where missing) and its name. OutputError when a
        folder on the way leads out of the root. ``follow_file``: for writes
        into the file itself (appends): a link there is followed, inside only."""
        up, _, name = key.strip("/").rpartition("/")
        known = self._folders.get(up)
        if known is not None and not follow_file and self.inside(known):  # the common case: one lookup
            return os.path.join(known, name)
        parts = up.split("/") if up else []
        real = self.folder("", write=True) or self.real_root
        for n in range(len(parts)):
            found = self.folder("/".join(parts[: n + 1]), write=True)
            if found is None:  # the rest is made by us (or a file is in the way: the write fails)
                real = os.path.join(real, *parts[n:])
                break
            real = found
        path = os.path.join(real, name)
        if follow_file:
            path = self._follow(path, key, write=True) or path
        return path


def open_regular(real: str, shown: str) -> BinaryIO | None:
    """``real`` opened for reading if it is a regular file (checked on the open
    file: a FIFO put there meanwhile neither blocks nor is read); None when it
    is gone."""
    try:
        fd = os.open(real, OPEN_FLAGS)
    except (*NOT_THERE, IsADirectoryError):
        return None
    except PermissionError:
        msg = f"{shown}: permission denied"
        raise InputError(msg) from None
    except OSError as e:
        if e.errno == errno.ELOOP:  # swapped for a link since it was checked
            raise loop(shown) from None
        if e.errno == errno.ENXIO:  # a socket
            msg = f"{shown}: a socket, not a regular file: only regular files are read"
            raise InputError(msg) from None
        raise failed(shown, e) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise not_regular(shown, mode)
    return os.fdopen(fd, "rb")


def read_small_file(path: str, limit: int = SMALL_FILE_LIMIT, what: str = "a list or details file") -> bytes:
    """The bytes of a file the user names (a collection's list, a details
    file, a metadata document: ``what``, for the message): a regular file
    (links followed: the user chose it) of at most ``limit`` bytes. UserError
    otherwise."""
    try:
        st = os.stat(path)
    except OSError as e:
        msg = f"{path}: {e.strerror}"
        raise UserError(msg) from None
    if not stat.S_ISREG(st.st_mode):
        msg = f"{path}: {kind(st.st_mode)}, not a regular file"
        raise UserError(msg)
    real = os.path.realpath(path)
    try:
        f = open_regular(real, path)
    except InputError as e:
        raise UserError(str(e)) from None
    if f is None:
        msg = f"{path}: No such file or directory"
        raise UserError(msg)
    with f:
        data = f.read(limit + 1)
    if len(data) > limit:
        msg = f"{path}: larger than {limit // 2**20} MiB: not such a file ({what} is small)"
        raise UserError(msg)
    return data
