# SPDX-License-Identifier: Apache-2.0
"""Canary test (issue #4 item 8): nothing secret reaches the disk in clear.

Objects carrying a unique random canary in their body, user metadata,
Content-Type, Content-Disposition, Content-Language and Cache-Control are
uploaded under every encryption mode (SSE-S3 by default, SSE-KMS with the
default key and with a created key plus an encryption context, SSE-C),
single-part and multipart (boto3 with a 5 MiB threshold), by copies across
modes and by an SSE-C key change in place; a multipart upload is left in
progress. Then, while the server runs and again after a clean stop, every file
under the server's root (data dir with blobs, SQLite catalog and its -wal/-shm,
the access log, tmp/, the control socket's directory, the key dir), every
regular file the server process holds open (also deleted ones), its console
output, and every file that appeared under /tmp, /var/tmp and /dev/shm since
the server started is scanned for:

* the canary: raw (lower and upper case), hex (lower, upper), base64 and
  URL-safe base64 (at the three byte alignments);
* every SSE-C key used: raw bytes, hex, base64, its MD5 (raw, hex, base64 --
  what clients send as the key MD5) and its SHA-256 (raw, hex): the server
  stores nothing derived from a customer key;
* each body's checksum (SHA-256 raw/hex/base64, sealed for every mode) and,
  for SSE-KMS and SSE-C objects, the plaintext MD5 of each body and part (the
  ETag of those modes is not the MD5; AWS-compatible SSE-S3 ETags are).

None may appear. Object keys and bucket names are an index in clear by
design, so the canary is kept out of them; a unique marker in an object key
must be found in the catalog (a positive control proving the scan reads the
SQLite files). A self-check first plants the canary in several encodings into
files in the data dir, key dir and a fresh /tmp file and requires the scanner
to report each of them.

    /usr/bin/python3 -m unittest -v tests/s3/test_canary.py
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

try:
    import boto3  # noqa: F401  (fail early if missing)
    from boto3.s3.transfer import TransferConfig
    IMPORT_ERROR = None
except ImportError as exc:  # fail, never skip
    IMPORT_ERROR = exc

MiB = 1 << 20
INSECURE_SSE_FLAG = "--allow-insecure-sse-on-loopback"
TMP_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")
MAX_FILE_SCAN = 64 * MiB       # per file outside the server root
MAX_OUTSIDE_SCAN = 512 * MiB   # all files outside the server root together (other jobs
                               # share /tmp; the server root itself is scanned in full)
BLOCK = 8 * MiB


# ------------------------------------------------------------------ needles


def base64_fragments(data: bytes, urlsafe: bool = False) -> list[bytes]:
    """The base64 text of `data` as it appears inside any longer base64 text.

    Base64 works on 3-byte groups, so `data` embedded at offset o encodes
    differently for o % 3 = 0, 1, 2. For each alignment this returns the
    characters of the groups lying wholly inside `data`.
    """
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    out = []
    for shift in range(3):
        padded = b"\0" * shift + data
        text = enc(padded)
        first_group = (shift + 2) // 3            # first group starting at or after `shift`
        last_group = (shift + len(data)) // 3     # groups [first, last) are inside data
        if last_group - first_group < 4:
            continue  # too short to be a meaningful needle
        out.append(text[first_group * 4:last_group * 4])
    return out


def text_needles(label: str, data: bytes) -> dict[str, bytes]:
    needles = {f"{label} raw": data, f"{label} hex": data.hex().encode(),
               f"{label} HEX": data.hex().upper().encode()}
    if data.upper() != data:
        needles[f"{label} raw upper"] = data.upper()
    if data.lower() != data:
        needles[f"{label} raw lower"] = data.lower()
    for i, frag in enumerate(base64_fragments(data)):
        needles[f"{label} base64#{i}"] = frag
    for i, frag in enumerate(base64_fragments(data, urlsafe=True)):
        if frag not in needles.values():
            needles[f"{label} base64url#{i}"] = frag
    return needles


def customer_key_needles(label: str, key: bytes) -> dict[str, bytes]:
    md5 = hashlib.md5(key).digest()
    sha = hashlib.sha256(key).digest()
    needles = text_needles(label, key)
    needles.update({
        f"{label} MD5 raw": md5,
        f"{label} MD5 base64": base64.b64encode(md5),
        f"{label} MD5 hex": md5.hex().encode(),
        f"{label} MD5 HEX": md5.hex().upper().encode(),
        f"{label} SHA-256 raw": sha,
        f"{label} SHA-256 hex": sha.hex().encode(),
    })
    return needles


def digest_needles(label: str, digest: bytes) -> dict[str, bytes]:
    return {f"{label} raw": digest, f"{label} hex": digest.hex().encode(),
            f"{label} HEX": digest.hex().upper().encode(),
            f"{label} base64": base64.b64encode(digest)}


# ------------------------------------------------------------------ scanner


class Scanner:
    """Looks for byte strings in files, streaming with an overlap."""

    def __init__(self, needles: dict[str, bytes]):
        self.needles = dict(needles)
        self.overlap = max(len(n) for n in self.needles.values()) - 1
        self.files_scanned: list[str] = []
        self.bytes_scanned = 0
        self.skipped: list[str] = []

    def scan_bytes(self, where: str, data: bytes) -> list[str]:
        return [f"{where}: {name} at offset {data.find(n)}"
                for name, n in self.needles.items() if n in data]

    def scan_file(self, path: str, limit: int | None = None) -> list[str]:
        hits = {}
        try:
            with open(path, "rb") as f:
                tail = b""
                offset = 0
                while True:
                    block = f.read(BLOCK)
                    if not block:
                        break
                    window = tail + block
                    for name, needle in self.needles.items():
                        if name not in hits:
                            at = window.find(needle)
                            if at >= 0:
                                hits[name] = offset - len(tail) + at
                    offset += len(block)
                    self.bytes_scanned += len(block)
                    tail = window[-self.overlap:] if self.overlap else b""
                    if limit is not None and offset >= limit:
                        self.skipped.append(f"{path}: only the first {offset} bytes scanned")
                        break
        except (FileNotFoundError, PermissionError, IsADirectoryError, OSError) as exc:
            self.skipped.append(f"{path}: {exc.__class__.__name__}")
            return []
        self.files_scanned.append(path)
        return [f"{path}: {name} at offset {at}" for name, at in hits.items()]

    def scan_tree(self, root: str, limit: int | None = None, uid: int | None = None,
                  budget: list | None = None) -> list[str]:
        hits = []
        for dirpath, dirnames, files in os.walk(root, onerror=lambda e: None):
            dirnames.sort()
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue  # sockets, fifos, symlinks
                if uid is not None and st.st_uid != uid:
                    continue
                if budget is not None:
                    if budget[0] <= 0:
                        self.skipped.append(f"{path}: scan budget exhausted")
                        continue
                    budget[0] -= min(st.st_size, limit or st.st_size)
                hits += self.scan_file(path, limit)
        return hits


def tmp_entries() -> set[str]:
    out = set()
    for root in TMP_ROOTS:
        try:
            out.update(os.path.join(root, name) for name in os.listdir(root))
        except OSError:
            pass
    return out


def open_regular_files(pid: int) -> list[str]:
    """/proc/PID/fd entries that are regular files (readable even if deleted)."""
    out = []
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return out
    for name in names:
        path = os.path.join(fd_dir, name)
        try:
            if stat.S_ISREG(os.stat(path).st_mode):
                out.append(path)
        except OSError:
            pass
    return out


# ----------------------------------------------------------------- server


class CanaryServer(harness.StrongroomServer):
    """The harness server, with the access log in its default file
    (DATA_DIR/access.log, so it is scanned on disk) and SSE over plain HTTP
    allowed on loopback."""

    def command(self) -> list[str]:
        cmd = list(super().command())
        if "--access-log" in cmd:
            i = cmd.index("--access-log")
            del cmd[i:i + 2]
        if cmd[1:2] == ["serve"] and INSECURE_SSE_FLAG not in cmd:
            cmd.append(INSECURE_SSE_FLAG)
        return cmd


def create_kms_key(server: harness.StrongroomServer, name: str) -> None:
    """`strongroom key create NAME` against the server's directories."""
    if hasattr(server, "cli"):
        result = server.cli("key", "create", name)
    else:
        result = harness.subprocess.run(
            [harness.BINARY, "key", "create", name, "--data-dir", server.data_dir,
             "--key-dir", server.key_dir], capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")})
    rc = getattr(result, "returncode", 0)
    if rc != 0:
        raise AssertionError(f"strongroom key create {name} failed: {result}")


# ------------------------------------------------------------------- test


class CanaryTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        if IMPORT_ERROR is not None:
            raise AssertionError(f"boto3 is not importable by {sys.executable}: {IMPORT_ERROR} "
                                 "(install python3-boto3 and run with /usr/bin/python3)")
        import warnings
        warnings.filterwarnings("ignore", category=ResourceWarning)
        self.tmp = tempfile.mkdtemp(prefix="sr-s3-canary-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.server: CanaryServer | None = None
        self.addCleanup(self._kill)

    def _kill(self):
        if self.server is not None and self.server.running():
            self.server.proc.kill()
            self.server.proc.wait()

    # -- helpers

    def scan_everything(self, scanner: Scanner, new_tmp: set[str], running: bool) -> list[str]:
        server = self.server
        hits = scanner.scan_tree(server.root)
        for path in (server.data_dir, server.key_dir):  # in case they live outside the root
            if not os.path.realpath(path).startswith(os.path.realpath(server.root) + os.sep):
                hits += scanner.scan_tree(path)
        if running:
            for path in open_regular_files(server.proc.pid):
                hits += scanner.scan_file(path, MAX_FILE_SCAN)
        budget = [MAX_OUTSIDE_SCAN]
        root_real = os.path.realpath(self.tmp)
        for entry in sorted(new_tmp):
            if os.path.realpath(entry) == root_real:
                continue  # the server root inside it was scanned above (same bytes)
            if os.path.isdir(entry) and not os.path.islink(entry):
                hits += scanner.scan_tree(entry, MAX_FILE_SCAN, os.getuid(), budget)
            elif os.path.isfile(entry) and not os.path.islink(entry):
                try:
                    st = os.stat(entry)
                except OSError:
                    continue
                if st.st_uid != os.getuid():
                    continue
                if budget[0] <= 0:
                    scanner.skipped.append(f"{entry}: scan budget exhausted")
                    continue
                budget[0] -= min(st.st_size, MAX_FILE_SCAN)
                hits += scanner.scan_file(entry, MAX_FILE_SCAN)
        # Our own test tree (HOME for clients etc.), apart from the server root.
        for name in os.listdir(self.tmp):
            path = os.path.join(self.tmp, name)
            if os.path.realpath(path) != os.path.realpath(server.root):
                hits += scanner.scan_tree(path)
        console = "\n".join(server.raw_stdout + server.stderr_lines).encode("utf-8", "replace")
        hits += scanner.scan_bytes("server stdout/stderr", console)
        return hits

    # -- the test

    def test_no_canary_or_customer_key_at_rest(self):
        canary = secrets.token_hex(12)  # 24 random characters, never typed anywhere else
        canary_b = canary.encode()
        key_marker = "keyidx" + secrets.token_hex(8)  # object keys are an index in clear
        before = tmp_entries()
        self.server = CanaryServer(os.path.join(self.tmp, "server"))
        self.server.start()
        new_tmp_dirs_at_start = tmp_entries() - before
        s3 = harness.boto3_client(self.server)

        customer_keys = {f"SSE-C key {i}": secrets.token_bytes(32) for i in range(1, 5)}
        needles = text_needles("canary", canary_b)
        passphrase = getattr(self.server, "passphrase", None)
        if passphrase and not getattr(self.server, "dev", False):
            # The keyring passphrase reaches the server only through its environment.
            needles.update({"keyring passphrase": passphrase.encode(),
                            "keyring passphrase base64":
                                base64.b64encode(passphrase.encode())})
        for label, key in customer_keys.items():
            needles.update(customer_key_needles(label, key))

        # ---- 0: the scanner finds a planted canary in every kind of place
        planted = {
            os.path.join(self.server.data_dir, "planted-raw.bin"):
                os.urandom(100) + canary_b + os.urandom(100),
            os.path.join(self.server.key_dir, "planted-b64.txt"):
                base64.b64encode(b"x" + canary_b + b"yz"),
            os.path.join(self.server.data_dir, "planted-HEX.txt"):
                b"..." + canary_b.hex().upper().encode(),
            os.path.join(self.server.data_dir, "planted-key-md5.txt"):
                b"md5=" + base64.b64encode(hashlib.md5(customer_keys["SSE-C key 1"]).digest()),
        }
        planted_tmp = tempfile.NamedTemporaryFile(prefix="sr-canary-planted-", dir="/tmp",
                                                  delete=False)
        planted_tmp.write(b"\n" + base64.b64encode(customer_keys["SSE-C key 2"]) + b"\n")
        planted_tmp.close()
        planted[planted_tmp.name] = None
        try:
            for path, content in planted.items():
                if content is not None:
                    with open(path, "wb") as f:
                        f.write(content)
            check = Scanner(needles)
            found = self.scan_everything(check, tmp_entries() - before, running=True)
            for path, expect in [
                    (list(planted)[0], "canary raw"), (list(planted)[1], "canary base64#1"),
                    (list(planted)[2], "canary HEX"), (list(planted)[3], "SSE-C key 1 MD5 base64"),
                    (planted_tmp.name, "SSE-C key 2 base64#0")]:
                self.assertTrue(any(h.startswith(path + ":") and f" {expect} at" in h
                                    for h in found),
                                f"self-check: the scanner missed the planted {expect} in {path}; "
                                f"found: {found}")
            self.assertEqual([h for h in found if not any(h.startswith(p + ":") for p in planted)],
                             [], "something matched before any upload")
        finally:
            for path in planted:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

        # ---- 1: uploads under every mode
        bucket = "canary-" + secrets.token_hex(4)
        s3.create_bucket(Bucket=bucket)
        create_kms_key(self.server, "canary-test-key")
        context = {"purpose": "canary-test", "run": secrets.token_hex(4)}
        context_b64 = base64.b64encode(json.dumps(context).encode()).decode()

        def ssec(label):
            return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer_keys[label]}

        modes = {
            "sse-s3-default": {},
            "sse-s3-explicit": {"ServerSideEncryption": "AES256"},
            "sse-kms-default": {"ServerSideEncryption": "aws:kms"},
            "sse-kms-key": {"ServerSideEncryption": "aws:kms",
                            "SSEKMSKeyId": "alias/canary-test-key",
                            "SSEKMSEncryptionContext": context_b64},
            "sse-c": ssec("SSE-C key 1"),
        }
        # For reads: only SSE-C needs parameters.
        read_args = {name: ({k: v for k, v in args.items() if k.startswith("SSECustomer")})
                     for name, args in modes.items()}

        def make_body(size: int, seed_tag: str) -> bytes:
            """Random bytes with the canary every 64 KiB (so every part and chunk
            region holds it), unique per object."""
            out = bytearray()
            while len(out) < size:
                out += canary_b + seed_tag.encode() + os.urandom(64 * 1024)
            return bytes(out[:size])

        def attributes(tag: str) -> dict:
            return {
                "Metadata": {"note": f"meta {canary}", "tag": tag, "second": canary.upper()},
                "ContentType": f"application/x-{canary}",
                "ContentDisposition": f'attachment; filename="{canary}-{tag}.bin"',
                "ContentLanguage": f"x-{canary[:8]}",
                "CacheControl": f"private, x-{canary}",
            }

        uploaded = {}   # key -> (body, read args, attribute dict)
        # Bodies whose plaintext MD5 must never be in clear (KMS/SSE-C only).
        secret_md5_bodies = []

        def put(key, body, mode, tag, checksum=True):
            extra = dict(modes[mode])
            attrs = attributes(tag)
            extra.update(attrs)
            if checksum:
                extra["ChecksumAlgorithm"] = "SHA256"
            s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
            uploaded[key] = (body, read_args[mode], attrs)
            if mode.startswith(("sse-kms", "sse-c")):
                secret_md5_bodies.append(body)

        for i, mode in enumerate(modes):
            put(f"{key_marker}/single/{i}", make_body(200 * 1024 + 123, f"s{i}"), mode, f"s{i}")
        # Multipart (boto3 transfer manager, 5 MiB parts) under each mode.
        config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                                max_concurrency=2, use_threads=True)
        for i, mode in enumerate(["sse-s3-default", "sse-kms-key", "sse-c"]):
            body = make_body(11 * MiB + 777, f"m{i}")
            key = f"{key_marker}/multi/{i}"
            extra = dict(modes[mode])
            extra.update(attributes(f"m{i}"))
            s3.upload_fileobj(io.BytesIO(body), bucket, key, ExtraArgs=extra, Config=config)
            uploaded[key] = (body, read_args[mode], attributes(f"m{i}"))
            if mode != "sse-s3-default":
                secret_md5_bodies.extend(body[o:o + 5 * MiB] for o in range(0, len(body), 5 * MiB))
                secret_md5_bodies.append(body)
        # A multipart upload left in progress (its attributes wait in the catalog).
        for mode in ("sse-kms-key", "sse-c"):
            pending_key = f"{key_marker}/pending/{mode}"
            extra = dict(modes[mode])
            extra.update(attributes("pending"))
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=pending_key,
                                                   **extra)["UploadId"]
            part = make_body(5 * MiB, "pending")
            s3.upload_part(Bucket=bucket, Key=pending_key, UploadId=upload_id, PartNumber=1,
                           Body=part, **read_args[mode])
            secret_md5_bodies.append(part)
        # Copies: SSE-S3 -> SSE-C (new metadata), SSE-C -> SSE-KMS (metadata copied),
        # SSE-KMS -> SSE-C, and an SSE-C key change in place (key 1 -> key 4).
        src_s3 = f"{key_marker}/single/0"
        src_c = f"{key_marker}/single/4"
        src_kms = f"{key_marker}/single/3"
        s3.copy_object(Bucket=bucket, Key=f"{key_marker}/copy/s3-to-c",
                       CopySource={"Bucket": bucket, "Key": src_s3},
                       MetadataDirective="REPLACE", **attributes("copy1"), **ssec("SSE-C key 2"))
        uploaded[f"{key_marker}/copy/s3-to-c"] = (uploaded[src_s3][0], ssec("SSE-C key 2"),
                                                  attributes("copy1"))
        s3.copy_object(Bucket=bucket, Key=f"{key_marker}/copy/c-to-kms",
                       CopySource={"Bucket": bucket, "Key": src_c},
                       CopySourceSSECustomerAlgorithm="AES256",
                       CopySourceSSECustomerKey=customer_keys["SSE-C key 1"],
                       ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/canary-test-key")
        uploaded[f"{key_marker}/copy/c-to-kms"] = (uploaded[src_c][0], {}, uploaded[src_c][2])
        s3.copy_object(Bucket=bucket, Key=f"{key_marker}/copy/kms-to-c",
                       CopySource={"Bucket": bucket, "Key": src_kms}, **ssec("SSE-C key 3"))
        uploaded[f"{key_marker}/copy/kms-to-c"] = (uploaded[src_kms][0], ssec("SSE-C key 3"),
                                                   uploaded[src_kms][2])
        s3.put_object(Bucket=bucket, Key=f"{key_marker}/rekey", Body=make_body(70000, "rk"),
                      **attributes("rekey"), **ssec("SSE-C key 1"))
        rekey_body = s3.get_object(Bucket=bucket, Key=f"{key_marker}/rekey",
                                   **ssec("SSE-C key 1"))["Body"].read()
        secret_md5_bodies.append(rekey_body)
        s3.copy_object(Bucket=bucket, Key=f"{key_marker}/rekey",
                       CopySource={"Bucket": bucket, "Key": f"{key_marker}/rekey"},
                       CopySourceSSECustomerAlgorithm="AES256",
                       CopySourceSSECustomerKey=customer_keys["SSE-C key 1"],
                       **ssec("SSE-C key 4"))
        uploaded[f"{key_marker}/rekey"] = (rekey_body, ssec("SSE-C key 4"), attributes("rekey"))

        # ---- 2: everything reads back with its metadata (else "absent" proves nothing)
        for key, (body, args, attrs) in uploaded.items():
            with self.subTest(read=key):
                got = s3.get_object(Bucket=bucket, Key=key, **args)
                self.assertEqual(got["Body"].read(), body, f"{key}: body differs")
                self.assertEqual(got["Metadata"], attrs["Metadata"], f"{key}: metadata")
                self.assertEqual(got.get("ContentType"), attrs["ContentType"], key)
                self.assertEqual(got.get("ContentDisposition"), attrs["ContentDisposition"], key)
                self.assertEqual(got.get("ContentLanguage"), attrs["ContentLanguage"], key)
                self.assertEqual(got.get("CacheControl"), attrs["CacheControl"], key)

        # Needles beyond the canary: sealed checksums and (KMS/SSE-C) plaintext MD5s.
        for key, (body, _, _) in uploaded.items():
            needles.update(digest_needles(f"SHA-256 of {key}", hashlib.sha256(body).digest()))
        for i, body in enumerate(secret_md5_bodies):
            needles.update(digest_needles(f"MD5 of KMS/SSE-C body #{i}",
                                          hashlib.md5(body).digest()))
        # An SSE-S3 object shares its body with the s3-to-c copy: its MD5 is its
        # public ETag, so MD5 needles are only for bodies never stored as SSE-S3.
        public_md5 = {hashlib.md5(uploaded[k][0]).digest() for k in uploaded
                      if "/single/0" in k or "/single/1" in k}
        needles = {n: v for n, v in needles.items()
                   if not (n.startswith("MD5 of") and
                           any(v in digest_needles("", d).values() for d in public_md5))}
        positive = {"object-key marker": key_marker.encode()}

        # ---- 3: scan while running (WAL not yet checkpointed)
        new_tmp = (tmp_entries() - before) | new_tmp_dirs_at_start
        scanner = Scanner({**needles, **positive})
        hits = self.scan_everything(scanner, new_tmp, running=True)
        catalog_files = [p for p in scanner.files_scanned
                         if os.path.basename(p).startswith("catalog.db")]
        self.assertTrue(catalog_files, f"no catalog file scanned: {scanner.files_scanned}")
        self.assertTrue(any("object-key marker" in h and "catalog.db" in h for h in hits),
                        "positive control: the object keys (an index in clear) were not found "
                        f"in the catalog files {catalog_files}; hits: {hits}")
        if os.environ.get("SR_CANARY_VERBOSE"):
            print(f"\nrunning scan: {len(scanner.needles)} needles, "
                  f"{len(scanner.files_scanned)} files, {scanner.bytes_scanned} bytes",
                  file=sys.stderr)
            for path in scanner.files_scanned:
                print("  scanned", path, file=sys.stderr)
            for line in scanner.skipped + hits:
                print("  note", line, file=sys.stderr)
        leaks = [h for h in hits if "object-key marker" not in h]
        data_bytes = sum(os.path.getsize(os.path.join(d, f))
                         for d, _, fs in os.walk(self.server.data_dir) for f in fs
                         if os.path.isfile(os.path.join(d, f)))
        self.assertGreater(data_bytes, 35 * MiB, "the data directory holds less than the data")
        self.assertEqual(leaks, [], f"secrets found at rest while running (scanned "
                                    f"{len(scanner.files_scanned)} files, "
                                    f"{scanner.bytes_scanned} bytes)")

        # ---- 4: clean stop, scan again (catalog checkpointed, logs flushed)
        rc = self.server.stop()
        self.assertEqual(rc, 0, "server exit code after SIGTERM:\n"
                         + "\n".join(self.server.stderr_lines[-20:]))
        new_tmp = (tmp_entries() - before) | new_tmp_dirs_at_start
        scanner = Scanner({**needles, **positive})
        hits = self.scan_everything(scanner, new_tmp, running=False)
        self.assertTrue(any("object-key marker" in h and "catalog.db" in h for h in hits),
                        f"positive control after stop failed; hits: {hits}")
        access_logs = [p for p in scanner.files_scanned if os.path.basename(p) == "access.log"]
        self.assertTrue(access_logs, "the access log file was not scanned")
        self.assertGreater(os.path.getsize(access_logs[0]), 1000, "the access log is empty")
        leaks = [h for h in hits if "object-key marker" not in h]
        self.assertEqual(leaks, [], f"secrets found at rest after stop (scanned "
                                    f"{len(scanner.files_scanned)} files, "
                                    f"{scanner.bytes_scanned} bytes)")


class NeedleTest(unittest.TestCase):
    """The base64 fragments match the data wherever it sits in a longer text."""

    def test_base64_fragments_cover_every_alignment(self):
        data = secrets.token_hex(12).encode()
        frags = base64_fragments(data)
        self.assertEqual(len(frags), 3)
        for prefix_len in range(9):
            text = base64.b64encode(os.urandom(prefix_len) + data + os.urandom(5))
            self.assertTrue(any(f in text for f in frags), (prefix_len, frags, text))
        self.assertFalse(any(f in base64.b64encode(os.urandom(200)) for f in frags))


if __name__ == "__main__":
    unittest.main()
