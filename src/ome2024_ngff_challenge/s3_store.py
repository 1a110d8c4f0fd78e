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
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

import obstore
from obstore.exceptions import GenericError as _ObstoreGeneric
from obstore.exceptions import NotFoundError as _ObstoreNotFound
from obstore.store import S3Store as _ObstoreS3

from .errors import InputError, OutputError, UserError
from .stores import Store, join

LOG = logging.getLogger(__name__)

# obstore raises the builtin FileNotFoundError for a 404 (its NotFoundError in
# some versions): either means "no such key" (or, with NoSuchBucket, bucket)
NotFoundError = (FileNotFoundError, _ObstoreNotFound)

DEFAULT_REGION = "us-east-1"
PART_SIZE = 16 * 2**20  # multipart above this; also the size of each part
SPOOL_IN_MEMORY = 8 * 2**20  # a shard being written stays in memory up to this
UPLOAD_CONCURRENCY = 8  # parts of one multipart upload in flight
DELETE_BATCH = 1000  # keys per DeleteObjects request (the S3 limit)
# In-flight requests that suit an object store: the executor may run this many
# tasks when the user did not choose --output-threads.
PREFERRED_CONCURRENCY = 16
# How long a request is retried before the run gives up (seconds); the
# environment variable shortens it (tests) or lengthens it (flaky links).
RETRY_TIMEOUT_ENV = "OME2024_NGFF_CHALLENGE_RETRY_TIMEOUT"
DEFAULT_RETRY_TIMEOUT = 120.0
MAX_RETRIES = 10  # by obstore, within one call; then again here, within the budget
INIT_BACKOFF = 0.1  # seconds
MAX_BACKOFF = 15.0

T = TypeVar("T")


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


def safe_url(url: str) -> str:
    """``url`` without any user:password@ part (for messages)."""
    return re.sub(r"^([a-z0-9+.-]+://)[^/@]*@", r"\1", url, flags=re.IGNORECASE)


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
        return Credentials(f"anonymous (--{role}-anon)", {"skip_signature": True})
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
            f"the bucket is in another region or behind another endpoint (use --{role}-region and/or "
            f"--{role}-endpoint; now {endpoint})"
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


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


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


# ---------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------


class S3Store(Store):
    """Keys below ``prefix`` in ``bucket``."""

    preferred_concurrency = PREFERRED_CONCURRENCY

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
        check_bucket_name(bucket, f"--{role}-bucket")
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
        self._retry_timeout = retry_timeout()
        try:
            self._store = _ObstoreS3(
                bucket,
                config=config,
                client_options=client_options(url),
                retry_config=retry_config(self._retry_timeout),
                credential_provider=self.credentials.provider,
            )
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
        return cls(self._scrub(f"{self.describe(key)}: cannot {action}: {reason}"))

    def _not_found(self, error: Exception, key: str, action: str) -> None:
        """A 404 is a missing key, unless the bucket itself is missing."""
        if "NoSuchBucket" in str(error):
            raise self._fail(error, key, action) from None

    def _retrying(self, request: Callable[[], T]) -> T:
        """``request()``, called again with backoff while it fails transiently
        (is_transient), until the retry budget is spent: then RetriesExhausted.
        Any other error is raised at once. Every request of this store may be
        sent again (GET, HEAD, LIST, PUT, DELETE; a multipart upload that
        failed was aborted by obstore and starts afresh)."""
        deadline = time.monotonic() + self._retry_timeout
        longest = max_backoff(self._retry_timeout)
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
                why = explain_error(e, self._shown_endpoint, self.credentials, self.role, 0)
                LOG.info("%s: %s; sending again in %.1f s", self.describe(), self._scrub(why), pause)
                time.sleep(pause)

    def location(self) -> tuple[str, str, str]:
        return (self._shown_endpoint, self.bucket, self.prefix)

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

    def get(self, key: str) -> bytes | None:
        try:
            data = self._retrying(lambda: bytes(obstore.get(self._store, self._path(key)).bytes()))
        except NotFoundError as e:
            self._not_found(e, key, "read")
            self._bucket_checked = True
            return None
        except Exception as e:
            raise self._fail(e, key, "read") from None
        self._bucket_checked = True
        return data

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

        try:
            data, size = self._retrying(ranged)
        except NotFoundError as e:
            self._not_found(e, key, "read")
            return None
        except Exception as e:
            raise self._fail(e, key, "read") from None
        self._bucket_checked = True
        return data, size

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
            yield spool  # an exception here leaves S3 untouched
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
