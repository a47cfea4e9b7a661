# SPDX-License-Identifier: Apache-2.0
"""Real key providers and `strongroom serve` configured to use them.

Starts and stops the providers through the project's own harness scripts
(tests/providers/{kmip,pkcs11,tpm}/start.sh and stop.sh), writes the
server's TOML config with the matching [provider.*] table, and runs
`strongroom init --root-provider ...` so `serve` starts with no passphrase.
Used by test_provider_server.py and bench/providers_bench.py.

Run with Debian's /usr/bin/python3 (boto3).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "s3"))

import harness  # noqa: E402


def _run(args: list, env: dict | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def _exports(text: str) -> dict:
    """`export K=V` lines and `K=V K=V` assignments, as a dict."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        for word in shlex.split(line):
            m = re.match(r"^([A-Z0-9_]+)=(.*)$", word)
            if m:
                out[m.group(1)] = m.group(2)
    return out


class Provider:
    """One provider's server (or token) under `root`."""

    id = ""

    def __init__(self, root: str):
        self.root = root
        self.env: dict = {}

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, kill: bool = False) -> None:
        raise NotImplementedError

    def purge(self) -> None:
        raise NotImplementedError

    def config(self) -> str:
        """The [provider.ID] table for the server's TOML config."""
        raise NotImplementedError

    def process_env(self) -> dict:
        """Variables a strongroom process needs to use the provider."""
        return {}


class Kmip(Provider):
    """A PyKMIP server (tests/providers/kmip/start.sh): TLS with client certificates."""

    id = "kmip"

    def __init__(self, root: str):
        super().__init__(root)
        self.state = os.path.join(root, "kmip")

    def start(self) -> None:
        self.env = _exports(_run(["bash", os.path.join(HERE, "kmip", "start.sh"), self.state]))

    def stop(self, kill: bool = False) -> None:
        _run(["bash", os.path.join(HERE, "kmip", "stop.sh"), self.state]
             + (["--kill"] if kill else []))

    def purge(self) -> None:
        _run(["bash", os.path.join(HERE, "kmip", "stop.sh"), self.state, "--purge"])

    def config(self) -> str:
        e = self.env
        return (f'[provider.kmip]\nhost = "{e["KMIP_HOST"]}"\nport = {e["KMIP_PORT"]}\n'
                f'ca = "{e["KMIP_CA"]}"\nclient_cert = "{e["KMIP_CLIENT_CERT"]}"\n'
                f'client_key = "{e["KMIP_CLIENT_KEY"]}"\n'
                f'connect_timeout_ms = 2000\nrequest_timeout_ms = 4000\n')


class Pkcs11(Provider):
    """A throwaway SoftHSM2 token (tests/providers/pkcs11/start.sh); in-process."""

    id = "pkcs11"

    def __init__(self, root: str):
        super().__init__(root)
        self.state = os.path.join(root, "softhsm")
        self.pin_file = os.path.join(root, "pkcs11.pin")

    def start(self) -> None:
        if self.env:
            return  # the token lives in files; nothing runs
        self.env = _exports(_run(["bash", os.path.join(HERE, "pkcs11", "start.sh"), self.state]))
        fd = os.open(self.pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.env["PKCS11_PIN"] + "\n")

    def stop(self, kill: bool = False) -> None:
        pass

    def purge(self) -> None:
        if os.path.isdir(self.state):
            _run(["bash", os.path.join(HERE, "pkcs11", "stop.sh"), self.state])

    def config(self) -> str:
        e = self.env
        return (f'[provider.pkcs11]\nmodule = "{e["PKCS11_MODULE"]}"\n'
                f'token_label = "{e["PKCS11_TOKEN_LABEL"]}"\npin_file = "{self.pin_file}"\n')

    def process_env(self) -> dict:
        return {"SOFTHSM2_CONF": self.env["SOFTHSM2_CONF"]}


class Tpm(Provider):
    """A software TPM 2.0 (tests/providers/tpm/start.sh); a restart with the
    same state is a reboot of the same TPM."""

    id = "tpm"

    def __init__(self, root: str):
        super().__init__(root)
        self.state = os.path.join(root, "swtpm")

    def start(self) -> None:
        args = ["bash", os.path.join(HERE, "tpm", "start.sh"), self.state]
        if self.env.get("SWTPM_PORT"):
            args.append(self.env["SWTPM_PORT"])  # same port: the config names it
        self.env = _exports(_run(args))

    def stop(self, kill: bool = False) -> None:
        _run(["bash", os.path.join(HERE, "tpm", "stop.sh"), self.state])

    def purge(self) -> None:
        _run(["bash", os.path.join(HERE, "tpm", "stop.sh"), self.state, "--purge"])

    def config(self) -> str:
        return f'[provider.tpm]\ntcti = "{self.env["SWTPM_TCTI"]}"\ntimeout_ms = 5000\n'

    def process_env(self) -> dict:
        return {"TSS2_LOG": "all+none"}


PROVIDERS = {"kmip": Kmip, "pkcs11": Pkcs11, "tpm": Tpm}


class ProviderServer(harness.StrongroomServer):
    """`strongroom serve --config C` whose root key is wrapped by a provider.

    init() runs `strongroom init --root-provider ID`; start() never passes a
    passphrase (sealed=True in harness terms: no STRONGROOM_PASSPHRASE), so
    an unsealed server was unsealed by its provider.
    """

    def __init__(self, root: str, providers: list, root_provider: Provider | None,
                 serve_args: tuple = (), extra_config: str = ""):
        self.providers = providers
        self.root_provider = root_provider
        self.config_path = os.path.join(root, "strongroom.toml")
        os.makedirs(root, exist_ok=True)
        super().__init__(root, sealed=True,
                         extra_args=("--config", self.config_path,
                                     "--allow-insecure-sse-on-loopback", *serve_args))
        self.extra_config = extra_config
        self.write_config()

    def write_config(self) -> None:
        text = self.extra_config + "".join(p.config() for p in self.providers)
        with open(self.config_path, "w") as f:
            f.write(text)

    def base_env(self) -> dict:
        env = super().base_env()
        for p in self.providers:
            env.update(p.process_env())
        return env

    @property
    def initialized(self) -> bool:
        return os.path.exists(os.path.join(self.key_dir, "root.provider"))

    def init(self, check: bool = True) -> subprocess.CompletedProcess:
        env = self.base_env()
        env["STRONGROOM_ACCESS_KEY"] = self.access_key
        env["STRONGROOM_SECRET_KEY"] = self.secret_key
        proc = subprocess.run([harness.BINARY, "init", "--config", self.config_path,
                               "--data-dir", self.data_dir, "--key-dir", self.key_dir,
                               "--root-provider", self.root_provider.id],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"strongroom init --root-provider {self.root_provider.id} "
                                 f"failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        self.init_result = proc
        return proc

    def key(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """`strongroom key ARGS --config C` (output as text)."""
        proc = self.cli("key", *args, "--config", self.config_path)
        if check and proc.returncode != 0:
            raise AssertionError(f"strongroom key {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}{proc.stderr}")
        return proc

    def wait_for_line(self, pattern: str, timeout: float = 30.0) -> str | None:
        """The first stdout line matching `pattern` (regex), waiting for it."""
        import time
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.stdout_lines:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.running():
                    return None
                self._cond.wait(min(remaining, 0.2))


def s3_client(server: harness.StrongroomServer, read_timeout: float = 30):
    """A boto3 S3 client without retries (every 503 is seen) and with short timeouts."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=server.access_key,
                                    aws_secret_access_key=server.secret_key,
                                    region_name=harness.REGION)
    cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                 retries={"total_max_attempts": 1, "mode": "legacy"}, max_pool_connections=16,
                 connect_timeout=5, read_timeout=read_timeout)
    return session.client("s3", endpoint_url=server.endpoint, config=cfg)


def create_provider_key(server: ProviderServer, name: str, provider: str) -> str:
    """`key create NAME --provider P`; returns the new key id."""
    out = server.key("create", name, "--provider", provider).stdout
    m = re.search(r"created key ([0-9a-f-]{36})", out)
    if not m:
        raise AssertionError(f"no key id in: {out}")
    return m.group(1)
