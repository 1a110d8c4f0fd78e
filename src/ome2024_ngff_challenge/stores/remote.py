"""What the stores built on obstore (S3, HTTP) share: how long and how often a
request is sent again, which failures are worth it, and how a failure is told
in a few words without secrets.

obstore retries transient failures itself with exponential backoff, but gives
up after ``MAX_RETRIES`` retries however short they were, and never retries
some failures of a connection (one closed before it is ready is "unknown" to
it); so every request is also retried here (``call_with_retries``) until the
time budget (``OME2024_NGFF_CHALLENGE_RETRY_TIMEOUT``) is spent. An error that
sending again cannot mend (no such bucket or key, access denied, a bad request,
an answer without Content-Length) is not retried.

A server is not trusted to be quick or small: each request has a total
deadline (``OME2024_NGFF_CHALLENGE_REQUEST_TIMEOUT``, not only a timeout
between bytes: a server sending one byte every few seconds is cut off), a run
may set a deadline of its own for all its requests (``run_deadline``: checked
before each request and between the pieces of an answer), and a metadata
document (``zarr.json``, ``.zattrs``, OME-XML, ...) is refused when the server
announces more than ``OME2024_NGFF_CHALLENGE_MAX_METADATA_BYTES`` or sends more
(``read_body``), instead of being read whole into memory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from obstore.exceptions import GenericError as _ObstoreGeneric
from obstore.exceptions import NotFoundError as _ObstoreNotFound

from ..errors import InputError, UserError, option

if TYPE_CHECKING:
    from .s3 import Credentials

LOG = logging.getLogger("ome2024_ngff_challenge")
T = TypeVar("T")

# obstore raises the builtin FileNotFoundError for a 404 (its NotFoundError in
# some versions): either means "no such key" (or, with NoSuchBucket, bucket)
NotFoundError = (FileNotFoundError, _ObstoreNotFound)

# How long a request is retried before the run gives up (seconds); the
# environment variable shortens it (tests) or lengthens it (flaky links).
RETRY_TIMEOUT_ENV = "OME2024_NGFF_CHALLENGE_RETRY_TIMEOUT"
DEFAULT_RETRY_TIMEOUT = 120.0
# The longest one request may take, from connecting to the last byte of the answer
REQUEST_TIMEOUT_ENV = "OME2024_NGFF_CHALLENGE_REQUEST_TIMEOUT"
DEFAULT_REQUEST_TIMEOUT = 120.0
# The largest metadata document read (bytes); chunks and shards have no such limit
MAX_METADATA_ENV = "OME2024_NGFF_CHALLENGE_MAX_METADATA_BYTES"
DEFAULT_MAX_METADATA = 64 << 20
METADATA_NAMES = frozenset({"zarr.json", ".zattrs", ".zgroup", ".zarray", ".zmetadata"})
MAX_RETRIES = 10  # by obstore, within one call; then again here, within the budget
INIT_BACKOFF = 0.1  # seconds
MAX_BACKOFF = 15.0


def safe_url(url: str) -> str:
    """``url`` without any user:password@ part (for messages)."""
    return re.sub(r"^([a-z0-9+.-]+://)[^/@]*@", r"\1", url, flags=re.IGNORECASE)


_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_MESSAGE = re.compile(r"<Message>([^<]{1,300})</Message>")
_STATUS = re.compile(r"status code: (\d{3})")
_RETRIES = re.compile(r"after (\d+) retries")
_MISSING_LENGTH = re.compile(r"Content-Length Header missing|MissingContentLength", re.IGNORECASE)


def _connect_reason(text: str) -> str:
    low = text.lower()
    if "dns error" in low or "failed to lookup address" in low or "name or service not known" in low:
        return "host not found (DNS)"
    if "connection refused" in low:
        return "connection refused"
    if "certificate" in low or "handshake" in low:
        return "TLS/certificate error"
    if "timed out" in low or "timedout" in low or "kind: timeout" in low:
        return "timed out"
    if "connection reset" in low or "broken pipe" in low or "connection closed" in low:
        return "connection lost"
    if "error sending request" in low or "connect" in low:
        return "cannot connect"
    return ""


def explain_error(
    error: BaseException, endpoint: str, credentials: Credentials | None, role: str, retries: int | None = None
) -> str:
    """What went wrong, in a few words, from an obstore error (no secrets).
    ``retries``: how often the request was sent again in all (else as the error says)."""
    if isinstance(error, (TooLarge, DeadlinePassed)):
        return str(error)
    text = str(error)
    code = _CODE.search(text)
    code = code.group(1) if code else None
    message = _MESSAGE.search(text)
    message = message.group(1).strip() if message else None
    status = _STATUS.search(text)
    status = int(status.group(1)) if status else None
    if retries is None:
        retries = internal_retries(error)
    tried = f" after {retries} retries" if retries else ""
    source = credentials.source if credentials is not None else "none"
    anonymous = credentials is not None and credentials.anonymous
    if code == "NoSuchBucket":
        return f"no such bucket at {endpoint}"
    if code in ("InvalidAccessKeyId", "InvalidClientTokenId"):
        return f"the server does not know the access key (credentials from {source})"
    if code == "SignatureDoesNotMatch":
        return f"the secret key does not match the access key (credentials from {source})"
    if code in ("ExpiredToken", "TokenRefreshRequired", "InvalidToken"):
        return f"the session token has expired or is invalid (credentials from {source})"
    if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException") or status in (301, 307):
        return (
            f"the bucket is in another region or behind another endpoint (use {option(role + '_region')} and/or "
            f"{option(role + '_endpoint')}; now {endpoint})"
        )
    if code == "AccessDenied" or status == 403 or isinstance(error, PermissionError):
        if credentials is None:  # plain HTTP
            why = "HTTP 403"
        elif not anonymous:
            why = f"credentials from {source}"
        elif source.startswith("anonymous"):
            why = "requests were anonymous"
        else:
            why = f"requests were anonymous: credentials {source}"
        return f"access denied ({why})"
    if status == 401:
        return "not authenticated (HTTP 401)" if credentials is None else f"not authenticated (credentials from {source})"
    if code is not None and status is not None and status >= 500:
        return f"server error {status} {code}{tried}"
    if status is not None:
        return f"HTTP {status}{' ' + code if code else ''}{': ' + message if message else ''}{tried}"
    if _MISSING_LENGTH.search(text):
        return "the server answered without Content-Length (needed to read it; chunked answers are not read)"
    reason = _connect_reason(text)
    if reason == "timed out" and "connect" not in text.lower():  # (a connection not made: below)
        return (f"cannot reach {endpoint}: no whole answer within {request_timeout():g} s (the limit of one "
                f"request: {REQUEST_TIMEOUT_ENV}){tried}")
    if reason:
        return f"cannot reach {endpoint}: {reason}{tried}"
    first = text.split("\n", 1)[0].strip()
    first = re.sub(r"https?://\S+", lambda m: safe_url(m.group(0)), first)
    return f"{type(error).__name__}: {first[:300]}"


def internal_retries(error: BaseException) -> int:
    """How often obstore sent the request again before it raised ``error``."""
    found = _RETRIES.search(str(error))
    return int(found.group(1)) if found else 0


def is_transient(error: BaseException) -> bool:
    """Whether a request that failed with ``error`` may succeed if sent again:
    the connection failed, was lost or timed out, or the server was failing or
    overloaded (5xx, 429, 408). Not a missing key or bucket, a refusal, a bad
    request, a host name that does not exist or a bad certificate."""
    if not isinstance(error, _ObstoreGeneric):  # NotFound, PermissionDenied, ...
        return False
    text = str(error)
    status = _STATUS.search(text)
    if status:
        code = int(status.group(1))
        return code >= 500 or code in (408, 429)
    if "Server returned error response" in text:  # a 200 whose body is InternalError/SlowDown
        return True
    if _MISSING_LENGTH.search(text):  # the server always answers so
        return False
    if "HTTP error" not in text:  # not a failure of the transport
        return False
    low = text.lower()
    if "dns error" in low and "temporary failure" not in low:
        return False
    return "certificate" not in low


class RetriesExhausted(Exception):
    """A transient ``error`` that lasted longer than the retry budget."""

    def __init__(self, error: BaseException, retries: int):
        super().__init__(str(error))
        self.error = error
        self.retries = retries


def _number_from_env(name: str, default: float, what: str, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= minimum or value == float("inf"):
        msg = f"{name}={raw!r}: expected {what}"
        raise UserError(msg)
    return value


def retry_timeout() -> float:
    """The retry budget in seconds (0: no retries)."""
    raw = os.environ.get(RETRY_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_RETRY_TIMEOUT
    try:
        return max(0.0, float(raw))
    except ValueError:
        msg = f"{RETRY_TIMEOUT_ENV}={raw!r}: expected a number of seconds"
        raise UserError(msg) from None


def request_timeout() -> float:
    """The longest one request may take (seconds), answer included."""
    return _number_from_env(REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT, "a number of seconds above 0", 0.001)


def max_metadata_bytes() -> int:
    """The largest metadata document read (bytes)."""
    return int(_number_from_env(MAX_METADATA_ENV, DEFAULT_MAX_METADATA, "a number of bytes above 0", 1))


def is_metadata(key: str) -> bool:
    """Whether ``key`` names a metadata document (read whole, parsed, bounded
    by max_metadata_bytes) rather than a chunk or shard."""
    name = key.rsplit("/", 1)[-1]
    return name in METADATA_NAMES or name.endswith((".json", ".xml"))


class TooLarge(Exception):
    """A metadata document larger than max_metadata_bytes (not retried)."""


class DeadlinePassed(Exception):
    """The run's deadline (run_deadline) passed (not retried)."""


class GaveUp(InputError):
    """What a store raises when the run's deadline passed: it ends the run
    (it is not one dataset's or one node's error, to report and go on)."""


# (monotonic time, what it is) of the deadline of the run under way, if any:
# one for the process, as the requests of a run are sent from many threads
_deadline: tuple[float, str] | None = None


@contextlib.contextmanager
def run_deadline(seconds: float | None, what: str) -> Iterator[None]:
    """Every remote request sent within the block fails (DeadlinePassed) once
    ``seconds`` have passed (None: no deadline); ``what``: the deadline's name
    and how to change it, for the message."""
    global _deadline
    before = _deadline
    if seconds is not None:
        end = time.monotonic() + seconds
        if before is None or end < before[0]:
            _deadline = (end, f"gave up: {what} passed")
    try:
        yield
    finally:
        _deadline = before


def time_left() -> float | None:
    """Seconds left before the run's deadline (None: none set)."""
    current = _deadline
    return None if current is None else current[0] - time.monotonic()


def check_deadline() -> None:
    current = _deadline
    if current is not None and time.monotonic() >= current[0]:
        raise DeadlinePassed(current[1])


def read_body(result, size_limit: int | None) -> bytes:
    """The body of ``result`` (an obstore GetResult), read as it arrives:
    TooLarge when the server announces or sends more than ``size_limit``
    bytes (None: no limit), DeadlinePassed when the run's deadline passes
    meanwhile (a server sending one byte at a time is checked between bytes)."""
    announced = int(result.meta["size"])
    if size_limit is not None and announced > size_limit:
        raise TooLarge(too_large(f"{announced:,} bytes", size_limit))
    pieces = []
    received = 0
    for piece in result.stream(min_chunk_size=1):  # each piece as it comes (a larger minimum waits for it)
        received += len(piece)
        if size_limit is not None and received > size_limit:
            raise TooLarge(too_large(f"more than {size_limit:,} bytes", size_limit))
        pieces.append(piece)
        check_deadline()
    return b"".join(pieces)  # (one piece: itself, no copy)


def too_large(size: str, limit: int) -> str:
    """Why a metadata document of ``size`` is refused (for every store's message)."""
    return (f"{size}: larger than a metadata document may be ({limit:,} bytes; {MAX_METADATA_ENV} raises the "
            "limit)")


def max_backoff(timeout: float) -> float:
    return min(MAX_BACKOFF, max(timeout / 4, INIT_BACKOFF))


def retry_config(timeout: float | None = None) -> dict:
    """obstore's own retries of one call (see S3Store._retrying for the rest)."""
    if timeout is None:
        timeout = retry_timeout()
    return {
        "max_retries": MAX_RETRIES if timeout > 0 else 0,
        "retry_timeout": dt.timedelta(seconds=timeout),
        "backoff": {
            "init_backoff": dt.timedelta(seconds=INIT_BACKOFF),
            "max_backoff": dt.timedelta(seconds=max_backoff(timeout)),
            "base": 2,
        },
    }


def client_options(url: str, *, within_run: bool = True) -> dict:
    """obstore's options of an HTTP client; ``within_run``: no request may
    outlast the run's deadline (a client made for this run only)."""
    total = request_timeout()
    left = time_left() if within_run else None
    if left is not None:
        total = max(0.001, min(total, left))

    def ms(seconds: float) -> str:
        return f"{max(1, round(seconds * 1000))}ms"

    return {
        "allow_http": url.startswith("http://"),
        "connect_timeout": ms(min(10.0, total)),
        "timeout": ms(total),  # a whole request, from connecting to the answer's last byte
        "read_timeout": ms(min(30.0, total)),  # but a connection that stalls is dropped (and retried) sooner
        "pool_idle_timeout": "50s",
    }


def refused(error: BaseException) -> bool:
    """Whether ``error`` is a refused connection (nothing listens there)."""
    return "connection refused" in str(error).lower()


def call_with_retries(request: Callable[[], T], timeout: float, on_retry: Callable[[BaseException, float], None],
                      transient: Callable[[BaseException], bool] = is_transient) -> T:
    """``request()``, called again with backoff while it fails transiently
    (is_transient), until ``timeout`` seconds are spent: then RetriesExhausted.
    Any other error is raised at once. ``on_retry(error, pause)`` is told of
    each retry. Only for requests that may be sent again (GET, HEAD, LIST, PUT,
    DELETE; a multipart upload that failed was aborted by obstore).
    ``transient``: which errors are sent again (default ``is_transient``)."""
    deadline = time.monotonic() + timeout
    left = time_left()
    if left is not None:
        deadline = min(deadline, time.monotonic() + left)
    longest = max_backoff(timeout)
    backoff = INIT_BACKOFF
    retries = 0
    while True:
        check_deadline()
        try:
            return request()
        except Exception as e:
            if not transient(e):
                raise
            retries += internal_retries(e)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                check_deadline()  # the run's deadline, if it is what ended the retries
                raise RetriesExhausted(e, retries) from None
            retries += 1
            backoff = min(longest, backoff * 2)
            pause = min(remaining, random.uniform(INIT_BACKOFF, backoff))
            on_retry(e, pause)
            time.sleep(pause)
