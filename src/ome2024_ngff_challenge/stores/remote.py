"""What the stores built on obstore (S3, HTTP) share: how long and how often a
request is sent again, which failures are worth it, and how a failure is told
in a few words without secrets.

obstore retries transient failures itself with exponential backoff, but gives
up after ``MAX_RETRIES`` retries however short they were, and never retries
some failures of a connection (one closed before it is ready is "unknown" to
it); so every request is also retried here (``call_with_retries``) until the
time budget (``OME2024_NGFF_CHALLENGE_RETRY_TIMEOUT``) is spent. An error that
sending again cannot mend (no such bucket or key, access denied, a bad request)
is not retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from obstore.exceptions import GenericError as _ObstoreGeneric
from obstore.exceptions import NotFoundError as _ObstoreNotFound

from ..errors import UserError, option

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


def _connect_reason(text: str) -> str:
    low = text.lower()
    if "dns error" in low or "failed to lookup address" in low or "name or service not known" in low:
        return "host not found (DNS)"
    if "connection refused" in low:
        return "connection refused"
    if "certificate" in low or "handshake" in low:
        return "TLS/certificate error"
    if "timed out" in low:
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
    reason = _connect_reason(text)
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


def client_options(url: str) -> dict:
    return {
        "allow_http": url.startswith("http://"),
        "connect_timeout": "10s",
        "timeout": "300s",  # a whole request, including a 16 MiB part on a slow link
        "read_timeout": "30s",  # but a connection that stalls is dropped (and retried) sooner
        "pool_idle_timeout": "50s",
    }


def call_with_retries(request: Callable[[], T], timeout: float, on_retry: Callable[[BaseException, float], None]) -> T:
    """``request()``, called again with backoff while it fails transiently
    (is_transient), until ``timeout`` seconds are spent: then RetriesExhausted.
    Any other error is raised at once. ``on_retry(error, pause)`` is told of
    each retry. Only for requests that may be sent again (GET, HEAD, LIST, PUT,
    DELETE; a multipart upload that failed was aborted by obstore)."""
    deadline = time.monotonic() + timeout
    longest = max_backoff(timeout)
    backoff = INIT_BACKOFF
    retries = 0
    while True:
        try:
            return request()
        except Exception as e:
            if not is_transient(e):
                raise
            retries += internal_retries(e)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RetriesExhausted(e, retries) from None
            retries += 1
            backoff = min(longest, backoff * 2)
            pause = min(remaining, random.uniform(INIT_BACKOFF, backoff))
            on_retry(e, pause)
            time.sleep(pause)
