"""What web viewers need of the server that hosts a dataset, checked over HTTP
for ``validate https://...``: each missing piece is one warning naming the
viewers it breaks.

Browser viewers (vizarr, the OME-NGFF validator, ome-zarr.js thumbnails,
neuroglancer) run on another site and read with ``fetch`` through zarrita.js
or their own code; for a sharded array zarrita.js asks the shard's size with
``HEAD``, reads its index (the last bytes) with a ``Range`` request, then one
inner chunk with another. So the server must answer:

- a ranged GET with 206 and exactly the bytes asked (a server that ignores
  ``Range`` sends the whole shard, which a viewer takes for the index);
- a suffix range (``bytes=-N``), as readers that ask for a shard's index so do;
- ``HEAD`` with ``Content-Length``;
- ``Access-Control-Allow-Origin`` on every answer, 404s included (without it
  the browser hides the answer: a missing chunk becomes a network error);
- the CORS preflight (``OPTIONS``) of a request with a ``Range`` header;
- 404 for a key that does not exist (chunks holding only the fill value are
  never written; viewers probe for ``zarr.json`` and ``.zattrs``).

The object checked is a stored shard (or chunk) of the dataset's first array,
else that array's ``zarr.json``. Only a few KiB of it are read (a whole-object
GET is read up to what the comparison needs, then closed).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from itertools import islice

from ..stores.base import join
from ..stores.remote import request_timeout, time_left
from ..validation.walk import Validator

ORIGIN = "https://ome.github.io"  # a viewer's site (the validator's), not the data's
TIMEOUT = 60.0
REFERENCE = 64 * 1024  # bytes of the object read with a plain GET to compare ranges with
PROBES = 64  # grid positions of the first array tried for a stored object
MISSING_KEY = "ome2024-ngff-challenge-no-such-key"
BROWSER_VIEWERS = "vizarr, the OME-NGFF validator, ome-zarr.js thumbnails, neuroglancer"
ZARRITA_VIEWERS = "vizarr, the OME-NGFF validator and ome-zarr.js (zarrita.js)"


@dataclass
class Answer:
    status: int  # 0 when there was no answer
    headers: Message | None
    body: bytes
    error: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name) if self.headers is not None else None

    def describe(self) -> str:
        return self.error if not self.status else f"HTTP {self.status}"


def ask(url: str, method: str = "GET", headers: dict | None = None, limit: int | None = None) -> Answer:
    """One request with an ``Origin`` (as a browser on another site sends);
    at most ``limit`` bytes of the body are read, within the deadline of one
    request and what is left of the run's (a server may answer slowly)."""
    budget = min(TIMEOUT, request_timeout(), *[t for t in [time_left()] if t is not None])
    if budget <= 0:
        return Answer(0, None, b"", "no answer (no time left)")
    end = time.monotonic() + budget
    request = urllib.request.Request(url, method=method, headers={"Origin": ORIGIN, **(headers or {})})
    try:
        response = urllib.request.urlopen(request, timeout=budget)  # noqa: S310 (http(s) only: the target's)
    except urllib.error.HTTPError as e:
        response = e
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        return Answer(0, None, b"", f"no answer ({reason})")
    with response:
        try:
            body = b"" if method in ("HEAD", "OPTIONS") else _read(response, limit, end)
        except TimeoutError:  # (an OSError)
            return Answer(0, None, b"", f"no whole answer within {budget:.0f} s")
        except OSError as e:
            return Answer(0, None, b"", f"the answer broke off ({e})")
        return Answer(response.status, response.headers, body)


def _read(response, limit: int | None, end: float) -> bytes:
    """Up to ``limit`` bytes of the body (None: all of it) until ``end``
    (TimeoutError after): read as they come, so a slow server is cut off."""
    pieces = []
    received = 0
    while limit is None or received < limit:
        if time.monotonic() >= end:
            raise TimeoutError
        piece = response.read1(65536 if limit is None else min(65536, limit - received))
        if not piece:
            break
        pieces.append(piece)
        received += len(piece)
    return b"".join(pieces)


def allows(value: str | None, wanted: str) -> bool:
    words = {w.strip().lower() for w in (value or "").split(",")}
    return "*" in words or wanted.lower() in words


def allows_origin(answer: Answer) -> bool:
    value = (answer.header("Access-Control-Allow-Origin") or "").strip()
    return value in ("*", ORIGIN)


def data_object(url: str, validator: Validator) -> str | None:
    """The key of a stored shard (or chunk) of the first array, else of its
    zarr.json (asked with GET: HEAD is one of the things checked)."""
    for path, arr in validator.arrays.items():
        for index in islice(arr.grid_indices(), PROBES):
            key = join(path, arr.key(index))
            if ask(f"{url}/{key}", limit=0).status == 200:
                return key
        return join(path, "zarr.json")
    return None


class HostingCheck:
    """The checks of one dataset URL; ``warnings``: (path, message)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.warnings: list[tuple[str, str]] = []
        self.no_cors: list[str] = []  # the answers without Access-Control-Allow-Origin

    def warn(self, key: str, message: str) -> None:
        self.warnings.append((key, message))

    def cors(self, what: str, answer: Answer) -> None:
        if answer.status and not allows_origin(answer):
            self.no_cors.append(what)

    def run(self, key: str) -> list[tuple[str, str]]:
        url = f"{self.url}/{key}"
        whole = ask(url, limit=REFERENCE)
        self.cors("GET", whole)
        if whole.status != 200:
            self.warn(key, f"cannot check what viewers need: GET answered {whole.describe()}")
            return self.warnings
        size = self.head(key, url, whole)
        if size is not None:
            self.ranges(key, url, whole.body, size)
        self.preflight(key, url)
        self.missing()
        if self.no_cors:
            self.warn(key, f"no Access-Control-Allow-Origin on the answers to {', '.join(self.no_cors)}: browser "
                      f"viewers on other sites ({BROWSER_VIEWERS}) cannot read the dataset (the server must send "
                      "Access-Control-Allow-Origin: * on every answer, 404s included)")
        return self.warnings

    def head(self, key: str, url: str, whole: Answer) -> int | None:
        """The object's size (from HEAD, else the GET); warns when HEAD does not say it."""
        head = ask(url, "HEAD")
        self.cors("HEAD", head)
        length = head.header("Content-Length") if head.status == 200 else None
        if length is None or not length.strip().isdigit():
            said = "no Content-Length" if head.status == 200 else head.describe()
            self.warn(key, f"HEAD answered {said}: {ZARRITA_VIEWERS} ask a shard's size with HEAD before reading its "
                      "index, so sharded arrays do not open")
            length = whole.header("Content-Length")
            if length is None or not length.strip().isdigit():
                return len(whole.body) if len(whole.body) < REFERENCE else None
        return int(length)

    def ranges(self, key: str, url: str, reference: bytes, size: int) -> None:
        if size == 0:
            return
        first = min(len(reference) // 4, size - 1)
        last = min(first + 999, len(reference) - 1)
        ranged = ask(url, headers={"Range": f"bytes={first}-{last}"}, limit=last - first + 1 + 1)
        self.cors("a ranged GET", ranged)
        if ranged.status == 200:
            self.warn(key, f"a ranged GET (Range: bytes={first}-{last}) was answered with 200 and the whole object, "
                      f"not 206 and the range: viewers that read one chunk of a shard ({BROWSER_VIEWERS}) cannot "
                      "open sharded arrays (and read whole objects where they ask for a part)")
            return
        expected = f"bytes {first}-{last}/{size}"
        if ranged.status != 206 or ranged.body != reference[first:last + 1] or ranged.header("Content-Range") != expected:
            got = f"Content-Range {ranged.header('Content-Range')!r}, {len(ranged.body)} bytes"
            self.warn(key, f"a ranged GET (Range: bytes={first}-{last}) was answered with {ranged.describe()} "
                      f"({got}), not 206 with {expected} and those bytes: {BROWSER_VIEWERS} cannot read sharded arrays")
            return
        n = min(size, 16)
        suffix = ask(url, headers={"Range": f"bytes=-{n}"}, limit=n + 1)
        tail = reference[-n:] if size <= len(reference) else None
        if tail is None:
            explicit = ask(url, headers={"Range": f"bytes={size - n}-{size - 1}"}, limit=n + 1)
            tail = explicit.body if explicit.status == 206 else None
        if suffix.status != 206 or (tail is not None and suffix.body != tail):
            self.warn(key, f"a suffix range (Range: bytes=-{n}) was answered with {suffix.describe()}"
                      f"{'' if suffix.status != 206 else ' and other bytes'}, not 206 and the last {n} bytes: "
                      "readers that ask for a shard's index as the object's last bytes (zarr-python 3 over "
                      "obstore, zarrita.js with suffix requests) cannot read sharded arrays")

    def preflight(self, key: str, url: str) -> None:
        answer = ask(url, "OPTIONS", headers={"Access-Control-Request-Method": "GET",
                                              "Access-Control-Request-Headers": "range"})
        problems = []
        if not 200 <= answer.status < 300:
            problems.append(f"answered {answer.describe()}")
        else:
            if not allows_origin(answer):
                problems.append("no Access-Control-Allow-Origin")
            if not allows(answer.header("Access-Control-Allow-Methods"), "GET"):
                problems.append("GET not in Access-Control-Allow-Methods")
            if not allows(answer.header("Access-Control-Allow-Headers"), "range"):
                problems.append("Range not in Access-Control-Allow-Headers")
        if problems:
            self.warn(key, f"the CORS preflight (OPTIONS from {ORIGIN}, asking to send Range) does not allow it "
                      f"({'; '.join(problems)}): browser viewers on other sites ({BROWSER_VIEWERS}) cannot read "
                      "shards where the browser asks first (suffix ranges; any Range in some browsers)")

    def missing(self) -> None:
        answer = ask(f"{self.url}/{MISSING_KEY}", limit=1024)
        self.cors("a 404", answer)
        if answer.status == 404:
            return
        said = answer.describe()
        self.warn(MISSING_KEY, f"a key that does not exist was answered with {said}, not 404: {ZARRITA_VIEWERS} "
                  "take only a 404 for a missing key, and meet many (chunks holding only the fill value are not "
                  "stored; viewers probe for zarr.json and .zattrs)"
                  + (" (a bucket that is not publicly listable answers 403: allow listing, or map 403 to 404)"
                     if answer.status == 403 else ""))


def check_hosting(url: str, validator: Validator) -> list[tuple[str, str]]:
    """Warnings (path, message) about what the server at ``url`` (the dataset
    ``validator`` walked) does not give web viewers; none when all is there."""
    url = url.rstrip("/")
    key = data_object(url, validator) or "zarr.json"
    return HostingCheck(url).run(key)
