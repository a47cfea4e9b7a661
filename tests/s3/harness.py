# SPDX-License-Identifier: Apache-2.0
"""Test harness for the end-to-end S3 client suites in tests/s3/.

Starts `strongroom serve` on 127.0.0.1 with an ephemeral port in fresh
temporary directories, waits for its "listening on" line, exposes the
endpoint and credentials, and stops it with SIGTERM (the exit code must be 0).
By default the keyring is made once per server root with `strongroom init`
(PASSPHRASE, cheap Argon2id) and `serve` gets the passphrase in
STRONGROOM_PASSPHRASE; `dev=True` runs `serve --dev` (clear development key)
and `sealed=True` starts without a passphrase (sealed until `unseal`).

Run the suites with Debian's /usr/bin/python3 (it has python3-boto3):

    /usr/bin/python3 -m unittest -v tests/s3/test_boto3.py

Environment overrides:
    STRONGROOM_BIN   server binary (default build/src/cli/strongroom)
    SR_AWS           awscli v2 binary (default /usr/bin/aws)
    SR_S3CMD         s3cmd (default /usr/bin/s3cmd)
    SR_RCLONE        rclone (default /usr/bin/rclone)
    SR_GO            go (default /usr/bin/go)
"""

from __future__ import annotations

import collections
import datetime
import functools
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import warnings
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("STRONGROOM_BIN", os.path.join(REPO, "build", "src", "cli", "strongroom"))
AWS = os.environ.get("SR_AWS", "/usr/bin/aws")
S3CMD = os.environ.get("SR_S3CMD", "/usr/bin/s3cmd")
RCLONE = os.environ.get("SR_RCLONE", "/usr/bin/rclone")
GO = os.environ.get("SR_GO", "/usr/bin/go")

REGION = "us-east-1"
# The first admin's credentials (STRONGROOM_ACCESS_KEY / STRONGROOM_SECRET_KEY).
ACCESS_KEY = "SRTESTADMIN0000000001"
SECRET_KEY = "srTestSecret/0123456789+abcdefghijKLMNOPQ"
# The keyring passphrase `strongroom init` seals the root key with.
PASSPHRASE = "harness passphrase: correct horse battery staple"
# Cheap Argon2id (t, KiB, lanes) for the tests' keyrings; stored in root.sealed.
ARGON2_PARAMS = "1,8192,1"

_AWS_ENV_DROP_PREFIXES = ("AWS_", "RCLONE_", "S3CMD_", "BOTO_")
_ENV_DROP = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYENV_VERSION", "GOFLAGS", "GOPATH",
             "GO111MODULE", "GOPROXY", "GOCACHE", "GOROOT", "GOTOOLCHAIN", "http_proxy",
             "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "no_proxy",
             "NO_PROXY"}

# ---------------------------------------------------------------- process env

_PROCESS_HOME = tempfile.mkdtemp(prefix="sr-s3-home-")
import atexit  # noqa: E402
atexit.register(shutil.rmtree, _PROCESS_HOME, True)


def _sanitize_process_env() -> None:
    """Keeps user AWS configuration out of the in-process boto3 clients."""
    for name in list(os.environ):
        if name.startswith(_AWS_ENV_DROP_PREFIXES) or name in _ENV_DROP:
            del os.environ[name]
    os.environ["AWS_CONFIG_FILE"] = os.path.join(_PROCESS_HOME, "aws-config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(_PROCESS_HOME, "aws-credentials")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_DEFAULT_REGION"] = REGION
    warnings.filterwarnings("ignore", category=ResourceWarning)
    # Never route 127.0.0.1 through a proxy.
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


_sanitize_process_env()


def client_env(home: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY,
               extra: dict | None = None) -> dict:
    """Environment for child client processes (aws, s3cmd, rclone, go).

    AWS_CA_BUNDLE (set on this machine) breaks rclone and awscli, so it and
    every other AWS_* / RCLONE_* variable from the outside is removed; HOME is
    a temporary directory so no user configuration leaks in.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_AWS_ENV_DROP_PREFIXES) and k not in _ENV_DROP}
    env.update({
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_CONFIG_FILE": os.path.join(home, ".aws", "config"),
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, ".aws", "credentials"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        # Debian's tools first: pyenv shims must not shadow /usr/bin/aws etc.
        "PATH": "/usr/bin:/bin:" + os.environ.get("PATH", ""),
    })
    os.makedirs(os.path.join(home, ".aws"), exist_ok=True)
    if extra:
        env.update(extra)
    return env


def require_executable(path: str, what: str) -> None:
    """Fails (never skips) when a client binary is missing."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(f"{what} not found at {path}: install it (CI installs awscli "
                             f"python3-boto3 s3cmd rclone golang-go "
                             f"golang-github-minio-minio-go-v7-dev)")


# ------------------------------------------------------------------- server


class StrongroomServer:
    """One `strongroom serve` process on 127.0.0.1:<ephemeral port>."""

    LISTEN_RE = re.compile(r"^strongroom \S+ listening on (https?://127\.0\.0\.1:(\d+))\s*$")

    def __init__(self, root: str, data_dir: str | None = None, key_dir: str | None = None,
                 domain: str | None = None, access_key: str = ACCESS_KEY,
                 secret_key: str = SECRET_KEY, extra_args: tuple = (), tls: bool = False,
                 dev: bool = False, sealed: bool = False, passphrase: str = PASSPHRASE):
        self.root = root
        # dev: `serve --dev` (development key, first admin made at start).
        # sealed: no passphrase for `serve`; it starts sealed.
        self.dev = dev
        self.sealed = sealed
        self.passphrase = passphrase
        self.init_result: subprocess.CompletedProcess | None = None  # the `init` this root had
        # TLS with a certificate from `strongroom dev-cert` (clients trust ca_bundle).
        self.tls = tls
        self.ca_bundle = os.path.join(root, "tls", "cert.pem") if tls else None
        self.data_dir = data_dir or os.path.join(root, "data")
        self.key_dir = key_dir or os.path.join(root, "keys")
        self.domain = domain
        self.access_key = access_key
        self.secret_key = secret_key
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None
        self.port = None
        self.endpoint = None
        self.raw_stdout: list[str] = []     # every stdout line, as printed
        self.stdout_lines: list[str] = []   # non-JSON stdout lines (banner etc.)
        self.stderr_lines: list[str] = []
        self.access_log: list[dict] = []    # parsed JSON access-log lines
        self.bad_log_lines: list[str] = []  # stdout lines that start with '{' but are not JSON
        self._cond = threading.Condition()
        self._readers: list[threading.Thread] = []

    # -- lifecycle

    def command(self) -> list[str]:
        cmd = [BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
               "--key-dir", self.key_dir, "--access-log", "-"]
        if self.dev:
            cmd.append("--dev")
        if self.domain:
            cmd += ["--domain", self.domain]
        if self.tls:
            cmd += ["--tls-cert", self.ca_bundle, "--tls-key",
                    os.path.join(self.root, "tls", "key.pem")]
        return cmd + list(self.extra_args)

    def _make_certificate(self) -> None:
        if os.path.exists(self.ca_bundle):
            return
        os.makedirs(os.path.dirname(self.ca_bundle), exist_ok=True)
        proc = subprocess.run([BINARY, "dev-cert", "--cert", self.ca_bundle, "--key",
                               os.path.join(self.root, "tls", "key.pem"), "--host", "127.0.0.1"],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise AssertionError(f"strongroom dev-cert failed: {proc.stderr}{proc.stdout}")

    def base_env(self) -> dict:
        """The environment of every strongroom process: no outside STRONGROOM_* or AWS_*."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_AWS_ENV_DROP_PREFIXES) and not k.startswith("STRONGROOM_")}
        env["HOME"] = self.root
        env["STRONGROOM_ARGON2_PARAMS"] = ARGON2_PARAMS
        return env

    @property
    def initialized(self) -> bool:
        return os.path.exists(os.path.join(self.key_dir, "root.sealed"))

    def init(self, check: bool = True) -> subprocess.CompletedProcess:
        """`strongroom init` with PASSPHRASE and the admin credentials."""
        env = self.base_env()
        env["STRONGROOM_PASSPHRASE"] = self.passphrase
        env["STRONGROOM_ACCESS_KEY"] = self.access_key
        env["STRONGROOM_SECRET_KEY"] = self.secret_key
        proc = subprocess.run([BINARY, "init", "--data-dir", self.data_dir, "--key-dir",
                               self.key_dir], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=120, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"strongroom init failed (exit {proc.returncode}):\n"
                                 f"{proc.stdout}{proc.stderr}")
        self.init_result = proc
        return proc

    def cli(self, *args: str, passphrase: bool = False, input: str | None = None,
            env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """Runs `strongroom ARGS... --data-dir D --key-dir K` (text output).

        passphrase=True passes PASSPHRASE in STRONGROOM_PASSPHRASE (for
        `user add` and `unseal`); `env` adds variables.
        """
        full = self.base_env()
        if passphrase:
            full["STRONGROOM_PASSPHRASE"] = self.passphrase
        full.update(env or {})
        return subprocess.run([BINARY, *args, "--data-dir", self.data_dir, "--key-dir",
                               self.key_dir], input=input,
                              stdin=None if input is not None else subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, env=full)

    def unseal(self, passphrase: str | None = None) -> subprocess.CompletedProcess:
        """`strongroom unseal` with `passphrase` (default: the right one)."""
        return self.cli("unseal", env={"STRONGROOM_PASSPHRASE": passphrase or self.passphrase})

    def start(self, timeout: float = 30.0) -> "StrongroomServer":
        require_executable(BINARY, "strongroom server binary (cmake --build build --target "
                                   "strongroom)")
        os.makedirs(self.root, exist_ok=True)
        if self.tls:
            self._make_certificate()
        if not self.dev and not self.initialized:
            self.init()
        env = self.base_env()
        env["STRONGROOM_ACCESS_KEY"] = self.access_key
        env["STRONGROOM_SECRET_KEY"] = self.secret_key
        if not self.dev and not self.sealed:
            env["STRONGROOM_PASSPHRASE"] = self.passphrase
        self.stdout_lines, self.stderr_lines, self.raw_stdout = [], [], []
        self.access_log, self.bad_log_lines = [], []
        self.port = self.endpoint = None
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self.proc.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self.proc.stderr,), daemon=True),
        ]
        for t in self._readers:
            t.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.endpoint is None:
                if self.proc.poll() is not None:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.2))
        if self.endpoint is None:
            rc = self.proc.poll()
            if rc is None:
                self.proc.kill()
                self.proc.wait()
            for t in self._readers:
                t.join(5)
            raise AssertionError(
                f"server did not print its listening line within {timeout}s (exit code {rc})\n"
                f"command: {' '.join(self.command())}\nstdout:\n" + "\n".join(self.stdout_lines)
                + "\nstderr:\n" + "\n".join(self.stderr_lines))
        return self

    def _read_stdout(self, pipe) -> None:
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                raw.decode("utf-8")
                utf8 = True
            except UnicodeDecodeError:
                utf8 = False
            with self._cond:
                self.raw_stdout.append(line)
                if line.startswith("{") and not utf8:
                    self.bad_log_lines.append("not UTF-8: " + line)
                    try:
                        self.access_log.append(json.loads(line))
                    except ValueError:
                        pass
                elif line.startswith("{"):
                    try:
                        self.access_log.append(json.loads(line))
                    except ValueError:
                        self.bad_log_lines.append(line)
                else:
                    self.stdout_lines.append(line)
                    m = self.LISTEN_RE.match(line)
                    if m and self.endpoint is None:
                        self.endpoint = m.group(1)
                        self.port = int(m.group(2))
                self._cond.notify_all()
        pipe.close()

    def _read_stderr(self, pipe) -> None:
        for raw in iter(pipe.readline, b""):
            with self._cond:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
        pipe.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_stop(self) -> None:
        """Sends SIGTERM without waiting."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, wait; returns the exit code (kills after `timeout`)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                for t in self._readers:
                    t.join(5)
                raise AssertionError(f"server did not stop within {timeout}s of SIGTERM")
        for t in self._readers:
            t.join(10)
        return self.proc.returncode

    # -- addresses and credentials

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def credentials(self) -> tuple[str, str]:
        return self.access_key, self.secret_key

    # -- access log

    def log_mark(self) -> int:
        with self._cond:
            return len(self.access_log)

    def log_since(self, mark: int, settle: float = 0.2) -> list[dict]:
        """Access-log entries written after `mark` (waits briefly for the reader)."""
        time.sleep(settle)
        with self._cond:
            return list(self.access_log[mark:])

    def wait_for_log(self, predicate, timeout: float = 5.0) -> dict | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for entry in self.access_log:
                    if predicate(entry):
                        return entry
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(min(remaining, 0.2))

    def add_user(self, access_key: str, secret_key: str, admin: bool = False) -> subprocess.CompletedProcess:
        """`strongroom user add` (with the passphrase, or --dev in development mode)."""
        args = ["user", "add", "--access-key", access_key, "--secret-key", secret_key]
        if admin:
            args.append("--admin")
        if self.dev:
            args.append("--dev")
        return self.cli(*args, passphrase=not self.dev, timeout=60)


# ---------------------------------------------------------- request recording


class ExchangeRecorder:
    """Remembers the last requests/responses of boto3 clients for failure reports."""

    SHOWN_HEADERS = ("content-length", "content-type", "content-md5", "content-encoding", "range",
                     "x-amz-content-sha256", "x-amz-copy-source", "x-amz-copy-source-range",
                     "x-amz-metadata-directive", "x-amz-decoded-content-length", "x-amz-trailer",
                     "x-amz-sdk-checksum-algorithm", "if-match", "if-none-match",
                     "if-modified-since", "if-unmodified-since", "expect", "transfer-encoding",
                     "x-amz-copy-source-if-match", "x-amz-checksum-crc32",
                     "x-amz-checksum-crc32c", "x-amz-checksum-sha1", "x-amz-checksum-sha256")

    def __init__(self, maxlen: int = 6):
        self._lock = threading.Lock()
        self._items: collections.deque = collections.deque(maxlen=maxlen)
        self._pending = threading.local()

    def attach(self, client) -> None:
        client.meta.events.register("before-send.s3", self._before_send)
        client.meta.events.register("needs-retry.s3", self._after)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _before_send(self, request=None, **_):
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else str(v))
                   for k, v in request.headers.items()}
        shown = {k: v for k, v in headers.items() if k in self.SHOWN_HEADERS or
                 k.startswith("x-amz-meta-")}
        self._pending.request = f"{request.method} {request.url} {shown}"
        return None

    def _after(self, response=None, caught_exception=None, operation=None, **_):
        req = getattr(self._pending, "request", "?")
        if response is not None:
            http_response = response[0]
            status = http_response.status_code
            body = ""
            if status >= 300:
                body = http_response.content[:800].decode("utf-8", "replace")
            line = f"{operation.name if operation else '?'}: {req}\n    -> {status} {body}"
        else:
            line = f"{operation.name if operation else '?'}: {req}\n    -> exception {caught_exception!r}"
        with self._lock:
            self._items.append(line)
        return None

    def dump(self) -> str:
        with self._lock:
            return "\n".join(self._items)


# ------------------------------------------------------------------ boto3


def boto3_client(server: StrongroomServer, access_key: str | None = None,
                 secret_key: str | None = None, recorder: ExchangeRecorder | None = None,
                 addressing_style: str = "path", endpoint: str | None = None, **config):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=access_key or server.access_key,
        aws_secret_access_key=secret_key or server.secret_key,
        region_name=REGION)
    cfg = Config(signature_version="s3v4", s3={"addressing_style": addressing_style},
                 retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=32,
                 connect_timeout=10, read_timeout=180, **config)
    client = session.client("s3", endpoint_url=endpoint or server.endpoint, config=cfg,
                            verify=server.ca_bundle if server.tls else None)
    if recorder is not None:
        recorder.attach(client)
    return client


def error_code(exc) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_status(exc) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


# ----------------------------------------------------------- raw requests


class RawResponse:
    def __init__(self, status: int, reason: str, headers: list, body: bytes):
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    @property
    def code(self) -> str:
        """The S3 error Code of an XML error body ('' if none)."""
        return parse_error(self.body).get("Code", "")

    def __repr__(self):
        return (f"<{self.status} {self.reason} headers={self.headers} "
                f"body={self.body[:600]!r}>")


def parse_error(body: bytes) -> dict:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return {}
    out = {}
    for child in root:
        tag = child.tag.split("}")[-1]
        out[tag] = child.text or ""
    return out


def http_request(server: StrongroomServer, method: str, target: str, headers: dict | None = None,
                 body=b"", timeout: float = 60.0, encode_chunked: bool = False) -> RawResponse:
    """Sends one request with http.client; `target` is the raw path?query."""
    if server.tls:
        import ssl
        context = ssl.create_default_context(cafile=server.ca_bundle)
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=timeout,
                                           context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {},
                     encode_chunked=encode_chunked)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, resp.reason, resp.getheaders(), data)
    finally:
        conn.close()


def raw_exchange(server: StrongroomServer, data: bytes, method: str = "GET",
                 timeout: float = 30.0) -> RawResponse:
    """Writes raw bytes to a fresh connection and parses one HTTP response."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        body = resp.read()
        return RawResponse(resp.status, resp.reason, resp.getheaders(), body)
    finally:
        sock.close()


class _PayloadHashS3SigV4Auth:
    """Factory for botocore's S3SigV4Auth with a fixed x-amz-content-sha256."""

    @staticmethod
    def make(credentials, payload_hash):
        from botocore.auth import S3SigV4Auth

        class Signer(S3SigV4Auth):
            def payload(self, request):
                if payload_hash is not None:
                    return payload_hash
                return super().payload(request)

        return Signer(credentials, "s3", REGION)


def sign_headers(server: StrongroomServer, method: str, target: str, headers: dict | None = None,
                 body: bytes = b"", access_key: str | None = None, secret_key: str | None = None,
                 payload_hash: str | None = None, host: str | None = None) -> dict:
    """Signs a raw request with botocore's S3SigV4Auth; returns the headers to send.

    `target` is the raw (already percent-encoded) path?query; the query must
    be in canonical form (name=value pairs, RFC 3986 encoded) because
    botocore signs the pairs as given. `payload_hash` overrides
    x-amz-content-sha256 (e.g. UNSIGNED-PAYLOAD or a STREAMING-* value).
    """
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{'https' if server.tls else 'http'}://{host or server.host_port}{target}"
    request = AWSRequest(method=method, url=url, data=body if payload_hash is None else b"",
                         headers=dict(headers or {}))
    signer = _PayloadHashS3SigV4Auth.make(
        Credentials(access_key or server.access_key, secret_key or server.secret_key),
        payload_hash)
    signer.add_auth(request)
    out = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    if host:
        out["Host"] = host
    return out


def signed_request(server: StrongroomServer, method: str, target: str, headers: dict | None = None,
                   body: bytes = b"", access_key: str | None = None,
                   secret_key: str | None = None, payload_hash: str | None = None,
                   timeout: float = 60.0) -> RawResponse:
    signed = sign_headers(server, method, target, headers, body, access_key, secret_key,
                          payload_hash)
    return http_request(server, method, target, signed, body, timeout=timeout)


# ------------------------------------------- a small independent SigV4 signer

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str = REGION) -> bytes:
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, "s3")
    return _hmac(k, "aws4_request")


def uri_encode(text: str, keep_slash: bool) -> str:
    return urllib.parse.quote(text, safe="/~" if keep_slash else "~")


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((uri_encode(k, False), uri_encode(v, False)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def presign_url(server: StrongroomServer, method: str, raw_path: str, expires: int,
                when: datetime.datetime | None = None, access_key: str | None = None,
                secret_key: str | None = None, extra_query: list | None = None) -> str:
    """A presigned URL target (path?query) signed at `when` (default: now)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    ak = access_key or server.access_key
    sk = secret_key or server.secret_key
    scope = f"{date}/{REGION}/s3/aws4_request"
    pairs = list(extra_query or []) + [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{ak}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    query = canonical_query(pairs)
    creq = "\n".join([method, raw_path, query, f"host:{server.host_port}\n", "host",
                      "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(signing_key(sk, date), sts.encode(), hashlib.sha256).hexdigest()
    return f"{raw_path}?{query}&X-Amz-Signature={sig}"


def sign_headers_manual(server: StrongroomServer, method: str, raw_path: str,
                        query_pairs: list | None = None, headers: dict | None = None,
                        payload_hash: str = EMPTY_SHA256, when: datetime.datetime | None = None,
                        access_key: str | None = None, secret_key: str | None = None,
                        region: str = REGION) -> tuple[str, dict]:
    """Header SigV4 with an explicit time; returns (target, headers to send)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    ak = access_key or server.access_key
    sk = secret_key or server.secret_key
    scope = f"{date}/{region}/s3/aws4_request"
    out = dict(headers or {})
    out["Host"] = server.host_port
    out["x-amz-date"] = amz_date
    out["x-amz-content-sha256"] = payload_hash
    canon = sorted((k.lower(), " ".join(str(v).split())) for k, v in out.items())
    signed_names = ";".join(k for k, _ in canon)
    query = canonical_query(query_pairs or [])
    creq = "\n".join([method, raw_path, query, "".join(f"{k}:{v}\n" for k, v in canon),
                      signed_names, payload_hash])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(signing_key(sk, date, region), sts.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, "
                            f"SignedHeaders={signed_names}, Signature={sig}")
    target = raw_path + (f"?{query}" if query else "")
    return target, out


def chunk_signature(key: bytes, amz_date: str, scope: str, previous: str, data: bytes) -> str:
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256,
                     hashlib.sha256(data).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def trailer_signature(key: bytes, amz_date: str, scope: str, previous: str,
                      trailer_text: str) -> str:
    sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous,
                     hashlib.sha256(trailer_text.encode()).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def streaming_signed_put(server: StrongroomServer, target: str, payload: bytes,
                         chunk_size: int = 64 * 1024, tamper=None, extra_headers=None,
                         trailer: tuple[str, str] | None = None,
                         secret_key: str | None = None) -> tuple[RawResponse, dict, bytes]:
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] built by hand.

    The headers are signed with botocore's S3SigV4Auth; the chunk signatures
    with the signer above. `tamper(chunks)` may modify the list of
    [header_line_bytes, data_bytes] before they are joined. Returns the
    response, the headers and the body sent.
    """
    mode = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if trailer
            else "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    pieces = [payload[i:i + chunk_size] for i in range(0, len(payload), chunk_size)] + [b""]
    # The body length must be known before signing (Content-Length is signed
    # by some clients; we sign x-amz-decoded-content-length).
    headers = {"Content-Encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(len(payload))}
    if trailer:
        headers["x-amz-trailer"] = trailer[0]
    headers.update(extra_headers or {})
    signed = sign_headers(server, "PUT", target, headers, payload_hash=mode,
                          secret_key=secret_key)
    auth = signed["Authorization"]
    seed = auth.rsplit("Signature=", 1)[1].strip()
    amz_date = signed["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    key = signing_key(secret_key or server.secret_key, amz_date[:8])
    chunks = []
    previous = seed
    for data in pieces:
        sig = chunk_signature(key, amz_date, scope, previous, data)
        previous = sig
        chunks.append([f"{len(data):x};chunk-signature={sig}\r\n".encode(), data])
    if tamper:
        tamper(chunks)
    body = b"".join(h + d + b"\r\n" for h, d in chunks[:-1])
    final_header, _ = chunks[-1]
    if trailer:
        trailer_text = f"{trailer[0]}:{trailer[1]}\n"
        tsig = trailer_signature(key, amz_date, scope, previous, trailer_text)
        body += final_header + f"{trailer[0]}:{trailer[1]}\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode()
    else:
        body += final_header + b"\r\n"
    signed["Content-Length"] = str(len(body))
    return http_request(server, "PUT", target, signed, body), signed, body


def unsigned_trailer_put(server: StrongroomServer, target: str, payload: bytes,
                         checksum_name: str, checksum_value: str,
                         chunk_size: int = 64 * 1024) -> RawResponse:
    """PUT with STREAMING-UNSIGNED-PAYLOAD-TRAILER (what SDKs send with checksums over TLS)."""
    pieces = [payload[i:i + chunk_size] for i in range(0, len(payload), chunk_size)]
    body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces)
    body += f"0\r\n{checksum_name}:{checksum_value}\r\n\r\n".encode()
    headers = {"Content-Encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(len(payload)),
               "x-amz-trailer": checksum_name}
    signed = sign_headers(server, "PUT", target, headers,
                          payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    signed["Content-Length"] = str(len(body))
    return http_request(server, "PUT", target, signed, body)


# --------------------------------------------------------------- test base


def _with_context(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        self._log_mark = self.server.log_mark() if getattr(self, "server", None) else 0
        self.recorder.clear()
        try:
            return fn(self, *args, **kwargs)
        except unittest.SkipTest:
            raise
        except BaseException as exc:  # add what the server saw to the report
            context = self.failure_context()
            if context and hasattr(exc, "add_note"):
                exc.add_note(context)
            raise
    return wrapper


class ServerTestCase(unittest.TestCase):
    """Starts one server per test class (fresh temporary directories)."""

    server_options: dict = {}
    maxDiff = 4000

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("test") and callable(value):
                setattr(cls, name, _with_context(value))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # unittest re-enables warnings; unclosed keep-alive sockets are not news.
        warnings.filterwarnings("ignore", category=ResourceWarning)
        cls.tmp = tempfile.mkdtemp(prefix=f"sr-s3-{cls.__name__}-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(os.path.join(cls.home, ".aws"))
        cls.recorder = ExchangeRecorder()
        cls.server = StrongroomServer(os.path.join(cls.tmp, "server"), **cls.server_options)
        cls.addClassCleanup(cls._stop_quietly)
        cls.server.start()
        cls.s3 = boto3_client(cls.server, recorder=cls.recorder)
        cls._bucket_counter = 0

    @classmethod
    def _stop_quietly(cls):
        if cls.server.running():
            cls.server.proc.kill()
            cls.server.proc.wait()

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        super().tearDownClass()
        if rc != 0:
            raise AssertionError(f"server exited with code {rc} after SIGTERM; stderr tail:\n"
                                 + "\n".join(cls.server.stderr_lines[-30:]))

    # -- helpers

    @classmethod
    def unique_bucket_name(cls, stem: str = "b") -> str:
        cls._bucket_counter += 1
        base = re.sub(r"[^a-z0-9-]", "-", f"{cls.__name__.lower()}-{stem}")[:40].strip("-")
        return f"{base}-{cls._bucket_counter}-{os.getpid() % 10000}"

    def new_bucket(self, stem: str = "b") -> str:
        name = self.unique_bucket_name(stem)
        self.s3.create_bucket(Bucket=name)
        return name

    def client_env(self, **extra) -> dict:
        return client_env(self.home, self.server.access_key, self.server.secret_key, extra)

    def failure_context(self) -> str:
        parts = []
        exchanges = self.recorder.dump()
        if exchanges:
            parts.append("last boto3 exchanges:\n" + exchanges)
        try:
            entries = self.server.log_since(self._log_mark, settle=0.3)
        except Exception:  # noqa: BLE001
            entries = []
        bad = [e for e in entries if int(e.get("status", 0)) >= 400]
        if bad:
            lines = [f"  {e.get('method')} {e.get('operation')} bucket={e.get('bucket')!r} "
                     f"key={e.get('key')!r} -> {e.get('status')} {e.get('error', '')}"
                     for e in bad[-15:]]
            parts.append("server access log, requests with status >= 400 during this test:\n"
                         + "\n".join(lines))
        if self.server.stderr_lines:
            parts.append("server stderr tail:\n" + "\n".join(self.server.stderr_lines[-10:]))
        return "\n".join(parts)

    def run_cmd(self, args: list, env: dict | None = None, timeout: float = 300,
                cwd: str | None = None, input: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=env or self.client_env(), capture_output=True,
                              timeout=timeout, cwd=cwd, input=input)

    def check_cmd(self, args: list, env: dict | None = None, timeout: float = 300,
                  cwd: str | None = None, input: bytes | None = None) -> subprocess.CompletedProcess:
        mark = self.server.log_mark()
        proc = self.run_cmd(args, env=env, timeout=timeout, cwd=cwd, input=input)
        if proc.returncode != 0:
            self.fail(describe_failed_command(proc, self.server.log_since(mark)))
        return proc

    def assertClientError(self, code: str, status: int, fn, *args, **kwargs):
        from botocore.exceptions import ClientError
        try:
            result = fn(*args, **kwargs)
        except ClientError as exc:
            self.assertEqual((error_code(exc), error_status(exc)), (code, status),
                             f"wrong error for {getattr(fn, '__name__', fn)}: {exc.response}")
            return exc
        self.fail(f"{getattr(fn, '__name__', fn)} succeeded, expected {code} ({status}): "
                  f"{str(result)[:500]}")

    def head_status(self, bucket: str, key: str) -> int:
        from botocore.exceptions import ClientError
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return 200
        except ClientError as exc:
            return error_status(exc)

    def get_bytes(self, bucket: str, key: str, **kwargs) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()


def describe_failed_command(proc: subprocess.CompletedProcess, log_entries: list) -> str:
    out = proc.stdout.decode("utf-8", "replace") if isinstance(proc.stdout, bytes) else proc.stdout
    err = proc.stderr.decode("utf-8", "replace") if isinstance(proc.stderr, bytes) else proc.stderr
    bad = [e for e in log_entries if int(e.get("status", 0)) >= 400]
    lines = [f"  {e.get('method')} {e.get('operation')} bucket={e.get('bucket')!r} "
             f"key={e.get('key')!r} -> {e.get('status')} {e.get('error', '')}" for e in bad[-20:]]
    return (f"command failed with exit code {proc.returncode}: {' '.join(map(str, proc.args))}\n"
            f"stdout (tail):\n{out[-3000:]}\nstderr (tail):\n{err[-3000:]}\n"
            + ("server answered errors:\n" + "\n".join(lines) if lines else
               "no error status in the server access log"))


# ------------------------------------------------------------- file helpers


def write_random_file(path: str, size: int, seed: int = 0) -> str:
    """Writes `size` pseudo-random bytes (fast, deterministic); returns the hex MD5."""
    import random
    rng = random.Random(seed)
    md5 = hashlib.md5()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            n = min(remaining, 1 << 20)
            block = rng.randbytes(n)
            md5.update(block)
            f.write(block)
            remaining -= n
    return md5.hexdigest()


def random_bytes(size: int, seed: int = 0) -> bytes:
    import random
    return random.Random(seed).randbytes(size)


def file_md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_digest(root: str) -> dict:
    """Relative path -> MD5 of every regular file under root."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = file_md5(full)
    return out


def make_tree(root: str, big_size: int = 0, seed: int = 1) -> dict:
    """A tree with nested directories, spaces, unicode names and an empty file."""
    files = {
        "top.txt": b"top level\n",
        "empty.bin": b"",
        "dir one/file with spaces.txt": b"spaces in names\n" * 10,
        "dir one/nested/deeper/leaf.dat": random_bytes(70_000, seed),
        "ünïcødé/名前.txt": "unicode content ✓\n".encode(),
        "ünïcødé/emoji 🎉.txt": b"party\n",
        "a/b/c/d/e/f.txt": b"deep\n",
        "special/plus+and&amp=eq.txt": b"specials\n",
        "special/percent%20literal.txt": b"percent\n",
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    if big_size:
        write_random_file(os.path.join(root, "big", "large.bin"), big_size, seed)
    return tree_digest(root)
