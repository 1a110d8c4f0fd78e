"""An OME-Zarr served over HTTP(S) as a read-only Store, as viewers and
validators read it: a key is a URL below the dataset's URL.

HTTP has no listing, and Zarr v2 needs none: the planner walks a dataset with
``exists`` and ``get`` only (``.zgroup``, ``.zattrs``, ``.zarray``, chunks).
A 404 is a missing key (a chunk never written reads as the fill value); any
other failure that survives obstore's retries (connection errors and 5xx are
retried with backoff) is a one-line error naming the URL. A metadata document
is read up to its size limit, and every request within its deadlines (see
``remote``).
"""

from __future__ import annotations

import logging
import urllib.parse

import obstore
from obstore.store import HTTPStore as _ObstoreHTTP

from ..errors import InputError, UserError
from .base import ReadOnlyStore
from .remote import (
    DeadlinePassed,
    GaveUp,
    NotFoundError,
    RetriesExhausted,
    call_with_retries,
    client_options,
    explain_error,
    is_metadata,
    is_transient,
    max_metadata_bytes,
    read_body,
    refused,
    retry_config,
    retry_timeout,
    safe_url,
)

LOG = logging.getLogger("ome2024_ngff_challenge")
PREFERRED_CONCURRENCY = 8


class HTTPStore(ReadOnlyStore):
    """Keys below the URL ``url`` (read-only)."""

    read_only_reason = "HTTP(S) locations are read-only (write to a folder or to S3)"
    preferred_concurrency = PREFERRED_CONCURRENCY
    supports_listing = False  # a web server answers for keys, it does not list them
    supports_ranged_reads = False  # servers differ in their support of suffix ranges: get_tail reads all

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            msg = f"{safe_url(url)}: not an http(s):// URL"
            raise UserError(msg)
        if parts.query or parts.fragment:
            msg = f"{safe_url(url)}: a dataset URL has no ?query or #fragment"
            raise UserError(msg)
        self.url = url.rstrip("/")
        self._answered = False  # whether the server has answered a request yet
        self._retry_timeout = retry_timeout()
        self._max_metadata = max_metadata_bytes()
        self._shown = safe_url(self.url)
        try:
            self._store = _ObstoreHTTP(self.url, client_options=client_options(self.url), retry_config=retry_config())
        except Exception as e:
            msg = f"{self._shown}: {explain_error(e, self._shown, None, 'input')}"
            raise UserError(msg) from None

    def __repr__(self) -> str:
        return f"HTTPStore({self._shown!r})"

    def __reduce__(self):
        return (HTTPStore, (self.url,))

    def _host(self) -> str:
        return urllib.parse.urlsplit(self._shown).netloc or self._shown

    def _fail(self, error: BaseException, key: str) -> InputError:
        retries = None
        if isinstance(error, RetriesExhausted):
            error, retries = error.error, error.retries
        reason = explain_error(error, self._host(), None, "input", retries)
        cls = GaveUp if isinstance(error, DeadlinePassed) else InputError
        return cls(f"{self.describe(key)}: cannot read: {reason}")

    def _retrying(self, request):
        def tell(error: BaseException, pause: float) -> None:
            why = explain_error(error, self._host(), None, "input", 0)
            LOG.info("%s: %s; sending again in %.1f s", self.describe(), why, pause)

        def transient(error: BaseException) -> bool:
            # a server that has never answered and refuses the connection is not
            # there (a wrong host or port): said at once, not retried for minutes;
            # one that answered before and refuses now is restarting: retried
            return is_transient(error) and (self._answered or not refused(error))

        try:
            result = call_with_retries(request, self._retry_timeout, tell, transient)
        except NotFoundError:
            self._answered = True  # a 404 is an answer
            raise
        self._answered = True
        return result

    def describe(self, key: str = "") -> str:
        return f"{self._shown}/{key}" if key else self._shown

    def get(self, key: str) -> bytes | None:
        limit = self._max_metadata if is_metadata(key) else None
        try:
            return self._retrying(lambda: read_body(obstore.get(self._store, key), limit))
        except NotFoundError:
            return None
        except Exception as e:
            raise self._fail(e, key) from None

    def get_tail(self, key: str, length: int) -> tuple[bytes, int] | None:
        data = self.get(key)  # servers differ in their support of suffix ranges
        if data is None:
            return None
        return (data[-length:] if length else b""), len(data)

    def exists(self, key: str) -> bool:
        try:
            self._retrying(lambda: obstore.head(self._store, key))
        except NotFoundError:
            return False
        except Exception as e:
            raise self._fail(e, key) from None
        return True

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        """HTTP cannot list a folder: nothing is known below ``prefix``."""
        return [], []


