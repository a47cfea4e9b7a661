#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The cost of a key provider's unwrap per request, with and without the KEK cache.

Issue #5: GET of a 4 KiB SSE-KMS object whose KMS key is backed by KMIP
(PyKMIP), PKCS#11 (SoftHSM2) or a TPM (swtpm), against one server started
twice on the same data: `--kek-cache-ttl 0` (every GET asks the provider to
unwrap the KEK) and the default cache (300 s: the KEK is unwrapped once).
A key derived from the root key (no provider) is the baseline in the same
run. Requests go round-robin over the keys on one keep-alive connection,
pre-signed outside the timing; latency is measured by the client (wall
time of the exchange) and by the server (the access log's duration_s).

The script reports; it asserts no number. Writes bench/PROVIDERS.md.

    /usr/bin/python3 bench/providers_bench.py [-n 400] [--out bench/PROVIDERS.md]

STRONGROOM_BIN selects the binary (default build-bench/src/cli/strongroom).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
os.environ.setdefault("STRONGROOM_BIN", os.path.join(REPO, "build-bench", "src", "cli",
                                                     "strongroom"))
sys.path.insert(0, os.path.join(REPO, "tests", "providers"))

import provider_harness as ph  # noqa: E402
from provider_harness import harness  # noqa: E402

OBJECT_SIZE = 4096
KEYS = [("none", None), ("kmip", "kmip"), ("pkcs11", "pkcs11"), ("tpm", "tpm")]
MODES = [("ttl 0 (no cache)", "0"), ("ttl 300 s (default)", "300")]


def percentile(values: list, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]


def measure(server, targets: dict, n: int, warmup: int) -> dict:
    """{key: ([client ms], [server ms])} for n GETs of each target, round-robin."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    out = {name: ([], []) for name in targets}
    try:
        for round_ in range(warmup + n):
            for name, target in targets.items():
                headers = harness.sign_headers(server, "GET", target)
                mark = server.log_mark()
                started = time.perf_counter()
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                body = response.read()
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200 or len(body) != OBJECT_SIZE:
                    raise AssertionError(f"GET {target}: {response.status} {body[:300]!r}")
                if round_ < warmup:
                    continue
                out[name][0].append(elapsed)
                entries = server.log_since(mark, settle=0)
                for _ in range(50):
                    if entries:
                        break
                    time.sleep(0.001)
                    entries = server.log_since(mark, settle=0)
                if entries:
                    out[name][1].append(float(entries[-1]["duration_s"]) * 1000)
    finally:
        conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="measured GETs per key and mode")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", default=os.path.join(HERE, "PROVIDERS.md"))
    parser.add_argument("--no-tpm", action="store_true", help="skip the TPM key")
    args = parser.parse_args()
    keys = [k for k in KEYS if not (args.no_tpm and k[0] == "tpm")]

    started = time.time()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tmp = tempfile.mkdtemp(prefix="sr-provbench-")
    providers = []
    server = None
    results = {}
    try:
        for cls in (ph.Pkcs11, ph.Kmip, ph.Tpm):
            if args.no_tpm and cls is ph.Tpm:
                continue
            p = cls(os.path.join(tmp, cls.id))
            os.makedirs(p.root, exist_ok=True)
            providers.append(p)
            p.start()
        root_provider = providers[0]  # pkcs11: the root provider does not matter here
        for mode, ttl in MODES:
            server = ph.ProviderServer(os.path.join(tmp, "server"), providers, root_provider,
                                       serve_args=("--kek-cache-ttl", ttl))
            server.start()
            if not results:
                s3 = ph.s3_client(server)
                s3.create_bucket(Bucket="bench")
                for name, provider in keys:
                    if provider:
                        ph.create_provider_key(server, f"bench-{name}", provider)
                    else:
                        server.key("create", f"bench-{name}")
                    s3.put_object(Bucket="bench", Key=name, Body=os.urandom(OBJECT_SIZE),
                                  ServerSideEncryption="aws:kms",
                                  SSEKMSKeyId=f"alias/bench-{name}")
            targets = {name: f"/bench/{name}" for name, _ in keys}
            results[mode] = measure(server, targets, args.n, args.warmup)
            rc = server.stop()
            if rc != 0:
                raise AssertionError(f"server exited {rc}")
            server = None
    finally:
        if server is not None and server.running():
            server.proc.kill()
        for p in providers:
            try:
                p.purge()
            except Exception as exc:  # noqa: BLE001
                print(f"purge {p.id}: {exc}", file=sys.stderr)
        shutil.rmtree(tmp, True)

    def med(mode, key, side):
        return statistics.median(results[mode][key][side])

    uncached, cached = MODES[0][0], MODES[1][0]
    lines = []
    lines.append("# Key providers: the cost of an unwrap per request\n")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    lines.append(f"Written by `bench/providers_bench.py` on {now} (git {git}, binary "
                 f"`{os.path.relpath(harness.BINARY, REPO)}`; the run took "
                 f"{time.time() - started:.0f} s). Issue #5: GET of a {OBJECT_SIZE // 1024} KiB "
                 f"SSE-KMS object, {args.n} measured GETs per key and mode after {args.warmup} "
                 f"warm-up rounds, round-robin over the keys on one keep-alive connection, "
                 f"requests signed outside the timing. The same server and data, started with "
                 f"`--kek-cache-ttl 0` and with the default cache. The script reports; it asserts "
                 f"no number.\n")
    binary = os.path.relpath(harness.BINARY, REPO)
    lines.append("Command (from the repository root, with a Release build of `strongroom`, "
                 "see bench/README.md; the providers are started and stopped by the script):\n")
    lines.append("```\nSTRONGROOM_BIN=" + binary + " /usr/bin/python3 bench/providers_bench.py -n "
                 + str(args.n) + "\n```\n")
    lines.append(f"Load average when the run started: {load_before} (a shared 2-vCPU VM; other "
                 f"builds may have been running).\n")
    lines.append("## Results (milliseconds; median, p10–p90)\n")
    lines.append("| KMS key backed by | client, no cache | client, cache | server, no cache | "
                 "server, cache |")
    lines.append("| --- | --- | --- | --- | --- |")
    for name, _ in keys:
        cells = []
        for side in (0, 1):
            for mode in (uncached, cached):
                values = results[mode][name][side]
                if not values:
                    cells.append("n/a")
                    continue
                cells.append(f"{statistics.median(values):.3f} ({percentile(values, 0.1):.3f}–"
                             f"{percentile(values, 0.9):.3f})")
        label = "root key (no provider)" if name == "none" else name
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |")
    lines.append("")
    lines.append("## Cost of one unwrap per request\n")
    lines.append("Server-side medians (the access log's request duration), differences in the same "
                 "run:\n")
    lines.append("| Provider | unwrap per request (no cache − root-key baseline, no cache) | "
                 "saved by the cache (no cache − cache) | no cache ÷ cache |")
    lines.append("| --- | --- | --- | --- |")
    for name, _ in keys:
        if name == "none":
            continue
        cost = med(uncached, name, 1) - med(uncached, "none", 1)
        saved = med(uncached, name, 1) - med(cached, name, 1)
        ratio = med(uncached, name, 1) / med(cached, name, 1)
        lines.append(f"| {name} | {cost:.3f} ms | {saved:.3f} ms | {ratio:.1f}× |")
    lines.append("")
    lines.append("Client-side medians (what an S3 client sees, Python http.client):\n")
    lines.append("| Provider | no cache − baseline | no cache − cache |")
    lines.append("| --- | --- | --- |")
    for name, _ in keys:
        if name == "none":
            continue
        lines.append(f"| {name} | {med(uncached, name, 0) - med(uncached, 'none', 0):.3f} ms | "
                     f"{med(uncached, name, 0) - med(cached, name, 0):.3f} ms |")
    lines.append("")
    lines.append("""## Method and reading

- **What differs.** With `--kek-cache-ttl 0` every GET of a provider-backed object unwraps the
  KEK of the object's KMS key version through the provider (KMIP: one Decrypt round trip over
  mutual TLS to PyKMIP on the same machine, on a pooled connection; PKCS#11: `C_Decrypt` with
  AES-GCM in SoftHSM2, in-process; TPM: `TPM2_Load` + `TPM2_Unseal` in a salted session on
  swtpm over TCP). With the default cache the KEK is unwrapped once and then served from memory
  (keys/hierarchy/kek_cache.h), so the cached column is the same request without the
  provider. The root-key row (a KMS key whose KEK is derived from the root key with HKDF) is
  the baseline: its GET does the same object work with no provider.
- **Same run, same server.** Both modes use one data directory and one set of providers; the
  keys are measured interleaved, so drift of the shared 2-vCPU VM hits all keys alike. Read
  the differences and ratios, not the absolute numbers.
- **What it does not include.** PyKMIP is a Python server and by far the slowest part of the
  KMIP path; a hardware KMS over a network adds its round-trip time instead. SoftHSM2 is a
  software token in-process; a network HSM adds a round trip per unwrap. The swtpm TPM is a
  software TPM over TCP loopback; a hardware TPM is typically slower per command.
- **Why a cache.** The unwrap is paid once per KEK per TTL instead of once per request; the TTL
  bounds how long a KEK revoked in the provider keeps working and how long it stays in memory
  (entries are wiped on expiry). Provider outages: requests that find their KEK cached do not
  notice; the others get 503 ServiceUnavailable at once (tests/providers/test_provider_server.py).
""")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines[:40]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
