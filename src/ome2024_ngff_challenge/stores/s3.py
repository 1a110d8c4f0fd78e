"""A prefix in an S3 bucket (AWS or any S3-compatible object store) as a Store.

All requests go through obstore (Rust's object_store): it keeps a pool of
connections, releases the GIL while a request is in flight (so every thread of
the executor has its own request running) and retries transient failures
(connection errors, 5xx such as 503 SlowDown, timeouts of reads) with
exponential backoff. obstore gives up after ``MAX_RETRIES`` retries however
short they were, and never retries some failures of a connection (one that is
closed before it is ready is "unknown" to it), so every request is also
retried here (``S3Store._retrying``), with backoff, until the time budget
(``OME2024_NGFF_CHALLENGE_RETRY_TIMEOUT``) is spent; an error that sending
again cannot mend (no such bucket or key, access denied, a bad request) is
not retried. What is left becomes one line naming ``s3://bucket/key`` and what
went wrong; the credentials never appear in it.

Credentials, unless anonymous access is asked for: the AWS environment
variables, else the profile (``AWS_PROFILE``, or ``default``) of the shared
files ``~/.aws/credentials`` and ``~/.aws/config`` (static keys; a profile
that assumes a role, runs a credential process or uses SSO is resolved by
botocore when it is installed), else the web-identity or container credentials
named in the environment. With none of these the requests are unsigned (the
instance-metadata service is never asked: it is not there off EC2).

Writes: a shard is spooled to a temporary file (small ones stay in memory) and
uploaded when its writer closes cleanly: one PUT, or a multipart upload when it
is larger than ``PART_SIZE``. Nothing is uploaded when the writer fails, and S3
never shows a multipart upload that was not completed.
"""

from __future__ import annotations

import configparser
import contextlib
import datetime as dt
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import obstore
from obstore.store import S3Store as _ObstoreS3

from ..errors import DISK_FULL, DiskFullError, InputError, OutputError, UserError, option
from .base import Store, join
from .remote import (
    DeadlinePassed,
    GaveUp,
    NotFoundError,
    RetriesExhausted,
    T,
    call_with_retries,
    client_options,
    explain_error,
    is_metadata,
    max_metadata_bytes,
    read_body,
    request_timeout,
    retry_config,
    retry_timeout,
    safe_url,
)

LOG = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
PART_SIZE = 16 * 2**20  # multipart above this; also the size of each part
SPOOL_IN_MEMORY = 8 * 2**20  # a shard being written stays in memory up to this
UPLOAD_CONCURRENCY = 8  # parts of one multipart upload in flight
DELETE_BATCH = 1000  # keys per DeleteObjects request (the S3 limit)
LIST_PAGE = 1000  # objects per ListObjectsV2 request (the S3 limit)
# In-flight requests that suit an object store: the executor may run this many
# tasks when the user did not choose how many threads.
PREFERRED_CONCURRENCY = 16
# a server-side copy refused for good (access, a server without CopyObject)
REFUSED = re.compile(r"status code: (4\d\d|501)")



# ---------------------------------------------------------------------------
# locations
# ---------------------------------------------------------------------------


def normalize_prefix(prefix: str, where: str) -> str:
    """A key prefix without leading, trailing or doubled slashes; '.' parts
    dropped; '..' refused (object keys have no parent folders)."""
    parts = [p for p in prefix.split("/") if p not in ("", ".")]
    if ".." in parts:
        msg = f"{where}: '..' is not allowed in an S3 key"
        raise UserError(msg)
    return "/".join(parts)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    if not url.startswith("s3://"):
        msg = f"{url}: not an s3:// URL"
        raise UserError(msg)
    rest = url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        msg = f"{url}: no bucket (expected s3://BUCKET/PREFIX)"
        raise UserError(msg)
    check_bucket_name(bucket, url)
    return bucket, normalize_prefix(prefix, url)


def check_bucket_name(bucket: str, where: str) -> None:
    if not bucket or "/" in bucket or any(c.isspace() for c in bucket) or len(bucket) > 255:
        msg = f"{where}: '{bucket}' is not a bucket name"
        raise UserError(msg)


def normalize_endpoint(endpoint: str) -> str:
    endpoint = endpoint.strip().rstrip("/")
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    if not endpoint.startswith(("http://", "https://")):
        msg = f"{safe_url(endpoint)}: an S3 endpoint is an http:// or https:// URL"
        raise UserError(msg)
    return endpoint


# ---------------------------------------------------------------------------
# credentials
# ---------------------------------------------------------------------------


@dataclass
class Credentials:
    """How requests are signed, as obstore configuration."""

    source: str  # for messages: where they came from (never the keys)
    config: dict = field(default_factory=dict)  # S3Config entries
    provider: Callable | None = None  # obstore credential_provider
    region: str | None = None  # from the profile
    secrets: tuple[str, ...] = ()  # strings scrubbed from every message

    @property
    def anonymous(self) -> bool:
        return bool(self.config.get("skip_signature"))


def _aws_file(env: str, name: str) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser() if value else Path.home() / ".aws" / name


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        msg = f"{path}: cannot read the AWS settings ({type(e).__name__})"
        raise UserError(msg) from None
    return parser


def _profile_sections(name: str) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The profile's entries in the shared credentials file and in the config
    file (where it is ``[profile NAME]``, or ``[default]``)."""
    creds = _read_ini(_aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"))
    conf = _read_ini(_aws_file("AWS_CONFIG_FILE", "config"))
    in_creds = dict(creds.items(name)) if creds.has_section(name) else None
    section = name if name == "default" else f"profile {name}"
    in_conf = dict(conf.items(section)) if conf.has_section(section) else None
    if in_conf is None and name == "default" and conf.has_section("profile default"):
        in_conf = dict(conf.items("profile default"))
    return in_creds, in_conf


DELEGATED = ("role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file")


def _botocore_provider(profile: str) -> Callable:
    """Credentials of a profile that botocore resolves (assumed roles, SSO,
    credential processes), refreshed by botocore as they expire."""
    try:
        import botocore.session  # noqa: PLC0415
    except ImportError:
        msg = (
            f"AWS profile '{profile}' gets its credentials from a role, SSO or a process; "
            "install botocore (pip install botocore) to use it, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
        raise UserError(msg) from None
    try:
        resolved = botocore.session.Session(profile=profile).get_credentials()
    except Exception as e:  # botocore's own errors: one line, no secrets in them
        msg = f"AWS profile '{profile}': cannot get credentials ({type(e).__name__})"
        raise UserError(msg) from None
    if resolved is None:
        msg = f"AWS profile '{profile}': no credentials found"
        raise UserError(msg)

    def provide() -> dict:
        frozen = resolved.get_frozen_credentials()
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            # let obstore ask again every few minutes; botocore refreshes
            "expires_at": dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5),
        }

    return provide


def resolve_credentials(anon: bool, role: str) -> Credentials:
    if anon:
        return Credentials(f"anonymous ({option(role + '_anon')})", {"skip_signature": True})
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN")
        config = {"access_key_id": env["AWS_ACCESS_KEY_ID"], "secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}
        if token:
            config["session_token"] = token
        return Credentials("the AWS_* environment variables", config, secrets=tuple(v for v in config.values()))
    explicit = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
    profile = explicit or "default"
    in_creds, in_conf = _profile_sections(profile)
    region = None
    if in_conf is not None:
        region = in_conf.get("region") or None
    merged = {**(in_conf or {}), **(in_creds or {})}
    if merged.get("aws_access_key_id") and merged.get("aws_secret_access_key"):
        config = {
            "access_key_id": merged["aws_access_key_id"].strip(),
            "secret_access_key": merged["aws_secret_access_key"].strip(),
        }
        if merged.get("aws_session_token"):
            config["session_token"] = merged["aws_session_token"].strip()
        return Credentials(f"AWS profile '{profile}'", config, region=region, secrets=tuple(config.values()))
    if any(merged.get(k) for k in DELEGATED):
        return Credentials(f"AWS profile '{profile}'", {}, provider=_botocore_provider(profile), region=region)
    if explicit and in_creds is None and in_conf is None:
        msg = (
            f"AWS profile '{profile}' (AWS_PROFILE) is in neither {_aws_file('AWS_SHARED_CREDENTIALS_FILE', 'credentials')} "
            f"nor {_aws_file('AWS_CONFIG_FILE', 'config')}"
        )
        raise UserError(msg)
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return Credentials("web identity / container credentials (environment)", {}, region=region)
    LOG.info("no AWS credentials found (environment, ~/.aws); S3 requests are unsigned (anonymous)")
    return Credentials(
        "none found (no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, no ~/.aws profile with keys)",
        {"skip_signature": True},
        region=region,
    )


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# ---------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------

# obstore clients by bucket and configuration: making one costs ~10 ms of CPU
# (its HTTP client, TLS roots), and a shared one keeps its connections open, so
# the prefixes of one bucket (the datasets of a collection) share both.
_CLIENTS: dict[tuple, _ObstoreS3] = {}
_CLIENTS_LOCK = threading.Lock()
MAX_CLIENTS = 32


def _client(bucket: str, config: dict, url: str, timeout: float, provider: Callable | None) -> _ObstoreS3:
    def make() -> _ObstoreS3:
        # (shared by runs: the deadline of one request only, not what is left of a run's)
        return _ObstoreS3(bucket, config=config, client_options=client_options(url, within_run=False),
                          retry_config=retry_config(timeout), credential_provider=provider)

    if provider is not None:  # credentials that refresh: a client of its own
        return make()
    key = (bucket, tuple(sorted(config.items())), url, timeout, request_timeout())
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            if len(_CLIENTS) >= MAX_CLIENTS:
                _CLIENTS.clear()
            client = _CLIENTS[key] = make()
        return client



class S3Store(Store):
    """Keys below ``prefix`` in ``bucket``."""

    preferred_concurrency = PREFERRED_CONCURRENCY
    supports_ranged_reads = True
    supports_copy_from = True  # server-side copies within one bucket (CopyObject)

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        anon: bool = False,
        role: str = "input",
    ):
        check_bucket_name(bucket, option(role + "_bucket"))
        self._args = {"bucket": bucket, "prefix": prefix, "endpoint": endpoint, "region": region, "anon": anon,
                      "role": role}
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix, f"s3://{bucket}/{prefix}")
        self.role = role
        env = os.environ
        env_endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or env.get("AWS_ENDPOINT")
        self.endpoint = normalize_endpoint(endpoint) if endpoint else (normalize_endpoint(env_endpoint) if env_endpoint else None)
        self.credentials = resolve_credentials(anon, role)
        self.region = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or self.credentials.region or DEFAULT_REGION
        config = {**self.credentials.config, "region": self.region}
        if self.endpoint:
            config["endpoint"] = self.endpoint
        url = self.endpoint or f"https://s3.{self.region}.amazonaws.com"
        self._shown_endpoint = safe_url(url)
        self._bucket_checked = False
        self._copy_refused: str | None = None  # why server-side copies failed here (said once)
        self._retry_timeout = retry_timeout()
        self._max_metadata = max_metadata_bytes()
        try:
            self._store = _client(bucket, config, url, self._retry_timeout, self.credentials.provider)
        except Exception as e:  # a bad option value, caught before any request
            msg = f"{self.describe()}: {self._scrub(explain_error(e, self._shown_endpoint, self.credentials, role))}"
            raise UserError(msg) from None

    def __repr__(self) -> str:
        return f"S3Store({self.describe()!r}, endpoint={self._shown_endpoint!r})"

    def __reduce__(self):
        """Pickled (for other processes, e.g. Dask workers) as its location
        only: the receiving process finds its own credentials, so none travel."""
        return (_reopen, (self._args,))

    # -- helpers -----------------------------------------------------------

    def _path(self, key: str) -> str:
        return join(self.prefix, key)

    def _scrub(self, text: str) -> str:
        return scrub(text, self.credentials.secrets)

    def _fail(self, error: BaseException, key: str, action: str) -> UserError:
        cls = OutputError if self.role == "output" else InputError
        retries = None
        if isinstance(error, RetriesExhausted):
            error, retries = error.error, error.retries
        reason = explain_error(error, self._shown_endpoint, self.credentials, self.role, retries)
        if isinstance(error, DeadlinePassed):
            cls = GaveUp
        return cls(self._scrub(f"{self.describe(key)}: cannot {action}: {reason}"))

    def _not_found(self, error: Exception, key: str, action: str) -> None:
        """A 404 is a missing key, unless the bucket itself is missing."""
        if "NoSuchBucket" in str(error):
            raise self._fail(error, key, action) from None

    def _retrying(self, request: Callable[[], T]) -> T:
        """``request()``, sent again while it fails transiently, within the
        retry budget (see remote.call_with_retries)."""

        def tell(error: BaseException, pause: float) -> None:
            why = explain_error(error, self._shown_endpoint, self.credentials, self.role, 0)
            LOG.info("%s: %s; sending again in %.1f s", self.describe(), self._scrub(why), pause)

        return call_with_retries(request, self._retry_timeout, tell)

    def location(self) -> tuple[str, str, str]:
        return (self._shown_endpoint, self.bucket, self.prefix)

    def object_location(self) -> tuple[str, str, str]:
        return self.location()

    # -- server-side copies --------------------------------------------------

    def can_copy_from(self, src: Store) -> bool:
        """Objects of the same bucket at the same endpoint are copied by the
        server (one CopyObject each: no byte comes here); obstore copies within
        one bucket only, so another bucket is read and written."""
        theirs = src.object_location()
        return self._copy_refused is None and theirs is not None and theirs[:2] == self.location()[:2]

    def copy_from(self, src: Store, src_key: str, key: str) -> int | None:
        theirs = src.object_location()
        if theirs is None or self._copy_refused is not None:
            return None
        source = join(theirs[2], src_key)
        target = self._path(key)
        try:
            self._retrying(lambda: obstore.copy(self._store, source, target))
        except NotFoundError as e:
            self._not_found(e, key, "copy")
            return None  # no such chunk: it reads as the fill value
        except Exception as e:
            if not (isinstance(e, PermissionError) or REFUSED.search(str(e))):
                raise self._fail(e, key, f"copy s3://{self.bucket}/{source} to") from None
            # refused (access, a server without CopyObject): read and write instead
            self._copy_refused = self._scrub(explain_error(e, self._shown_endpoint, self.credentials, self.role))
            LOG.warning("%s: the server refused to copy objects (%s): reading and writing them instead",
                        self.describe(), self._copy_refused)
            return None
        self._bucket_checked = True
        return 0  # the server does not say the size (another request would)

    def overlaps(self, other: Store) -> bool:
        """Whether ``other`` is this prefix, inside it, or around it (same bucket)."""
        if not isinstance(other, S3Store):
            return False
        e1, b1, p1 = self.location()
        e2, b2, p2 = other.location()
        if (e1, b1) != (e2, b2):
            return False
        a, b = p1 + "/", p2 + "/"
        return not p1 or not p2 or a.startswith(b) or b.startswith(a)

    # -- Store -------------------------------------------------------------

    def describe(self, key: str = "") -> str:
        path = self._path(key)
        return f"s3://{self.bucket}/{path}"

    def _read(self, key: str, request: Callable[[], T]) -> T | None:
        """``request()`` (a GET of ``key``), retried; None when the key is
        missing. Either answer shows the bucket exists (see ``exists``)."""
        try:
            data = self._retrying(request)
        except NotFoundError as e:
            self._not_found(e, key, "read")
            data = None
        except Exception as e:
            raise self._fail(e, key, "read") from None
        self._bucket_checked = True
        return data

    def get(self, key: str) -> bytes | None:
        limit = self._max_metadata if is_metadata(key) else None  # (the object's size is checked first)
        return self._read(key, lambda: read_body(obstore.get(self._store, self._path(key)), limit))

    def get_tail(self, key: str, length: int) -> tuple[bytes, int] | None:
        """The last ``length`` bytes at ``key`` and its size: one ranged GET."""
        if length <= 0:
            try:
                meta = self._retrying(lambda: obstore.head(self._store, self._path(key)))
            except NotFoundError:
                return None
            except Exception as e:
                raise self._fail(e, key, "read") from None
            return b"", int(meta["size"])

        def ranged() -> tuple[bytes, int]:
            result = obstore.get(self._store, self._path(key), options={"range": {"suffix": length}})
            return bytes(result.bytes()), int(result.meta["size"])

        return self._read(key, ranged)

    def get_range(self, key: str, start: int, length: int) -> bytes | None:
        """One ranged GET."""
        if length <= 0:
            return b"" if self.exists(key) else None
        return self._read(key, lambda: bytes(obstore.get_range(self._store, self._path(key), start=start,
                                                                length=length)))

    def exists(self, key: str) -> bool:
        try:
            self._retrying(lambda: obstore.head(self._store, self._path(key)))
        except NotFoundError:
            if not self._bucket_checked:
                # a HEAD has no body to tell a missing key from a missing bucket
                return self.get(key) is not None
            return False
        except Exception as e:
            if "status code: 4" in str(e):
                # a refused HEAD says nothing; a GET's body tells why (or reads)
                return self.get(key) is not None
            raise self._fail(e, key, "read") from None
        self._bucket_checked = True
        return True

    def list_dir(self, prefix: str = "") -> tuple[list[str], list[str]]:
        full = self._path(prefix)
        try:
            listing = self._retrying(lambda: obstore.list_with_delimiter(self._store, full or None))
        except NotFoundError as e:
            self._not_found(e, prefix, "list")
            return [], []
        except Exception as e:
            raise self._fail(e, prefix, "list") from None
        self._bucket_checked = True
        base = full + "/" if full else ""
        dirs = sorted(p[len(base):] for p in listing["common_prefixes"] if p.startswith(base))
        files = sorted(o["path"][len(base):] for o in listing["objects"] if o["path"].startswith(base))
        return dirs, [f for f in files if f]

    def sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """Every object below ``prefix`` with its size: one paged listing
        (1000 objects a request), sent again from the start after a transient
        failure."""
        full = self._path(prefix)
        base = full + "/" if full else ""

        def listing() -> list[tuple[str, int]]:
            found = []
            for page in obstore.list(self._store, full or None, chunk_size=LIST_PAGE):
                found.extend((o["path"][len(self.prefix) + 1 if self.prefix else 0:], int(o["size"])) for o in page
                             if o["path"].startswith(base))
            return found

        try:
            found = self._retrying(listing)
        except NotFoundError as e:
            self._not_found(e, prefix, "list")
            return
        except Exception as e:
            raise self._fail(e, prefix, "list") from None
        self._bucket_checked = True
        yield from found

    def put(self, key: str, data: bytes) -> None:
        try:
            self._retrying(lambda: obstore.put(
                self._store, self._path(key), data, chunk_size=PART_SIZE, max_concurrency=UPLOAD_CONCURRENCY
            ))
        except Exception as e:
            raise self._fail(e, key, "write") from None

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, prefix="ome2024-s3-") as spool:
            try:
                yield spool  # an exception here leaves S3 untouched
            except OSError as e:
                if e.errno not in DISK_FULL:
                    raise
                msg = (f"{self.describe(key)}: no space left in {tempfile.gettempdir()} (TMPDIR) for the copy of it "
                       f"spooled before the upload ({e.strerror})")
                raise DiskFullError(msg, self.describe(key)) from None
            size = spool.seek(0, os.SEEK_END)
            spool.seek(0)
            if size <= PART_SIZE:
                self.put(key, spool.read())
                return

            def upload() -> None:
                spool.seek(0)  # all of it again, when a retry follows a failed upload
                obstore.put(
                    self._store, self._path(key), spool, chunk_size=PART_SIZE, max_concurrency=UPLOAD_CONCURRENCY
                )

            try:
                self._retrying(upload)
            except Exception as e:
                raise self._fail(e, key, "write") from None

    def delete(self, key: str) -> None:
        try:
            self._retrying(lambda: obstore.delete(self._store, self._path(key)))
        except NotFoundError as e:
            self._not_found(e, key, "delete")
        except Exception as e:
            raise self._fail(e, key, "delete") from None

    def delete_tree(self) -> None:
        """Delete every object below the prefix (never the whole bucket)."""
        if not self.prefix:
            msg = f"{self.describe()}: refusing to delete everything in the bucket (write below a prefix)"
            raise OutputError(msg)

        def delete_all() -> None:  # from the start again after a failure: what is left
            batch: list[str] = []
            for page in obstore.list(self._store, self.prefix, chunk_size=DELETE_BATCH):
                batch.extend(o["path"] for o in page)
                while len(batch) >= DELETE_BATCH:
                    obstore.delete(self._store, batch[:DELETE_BATCH])
                    batch = batch[DELETE_BATCH:]
            if batch:
                obstore.delete(self._store, batch)

        try:
            self._retrying(delete_all)
        except NotFoundError as e:
            self._not_found(e, "", "delete")
        except Exception as e:
            raise self._fail(e, "", "delete") from None


def _reopen(args: dict) -> S3Store:
    return S3Store(**args)
