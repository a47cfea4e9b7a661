# SPDX-License-Identifier: Apache-2.0
"""Tamper test (issue #4 items 7 and 8): stored data that fails authentication
is never served.

For objects under every encryption mode (SSE-S3, SSE-KMS with the default key
and with a created key plus an encryption context, SSE-C), the blobs on disk
are modified behind the server's back: a byte flipped in the first, a middle
and the last chunk (its tag) and in the 64-byte stream header (prefix, salt,
commitment); the blob truncated by one byte, by its final chunk and by one sealed
chunk's length; bytes appended; two objects' blobs swapped (same mode and
across modes); two parts' blobs of a multipart object swapped; a chunk in the
middle part of a multipart object flipped; and one blob flipped while the
server is stopped.

Every GET and range GET touching tampered data must fail closed: either
500 InternalError before any body, or a response whose connection ends before
Content-Length bytes with every received byte equal to the true plaintext at
that offset (only verified bytes). A range GET touching only untouched chunks
(or parts) of a blob whose length is intact must succeed with the right bytes:
that is what per-chunk authentication is for. Ranged reads take the salt and
commitment from the verified manifest and never fetch the stream header
(docs/FORMAT.md §8), so header damage may go unnoticed; then every byte served
must still be the true plaintext. A CopyObject from a tampered
source must fail and create nothing. Each case must raise
strongroom_integrity_failures_total in /metrics and write an access-log line
marking the integrity failure.

Requests are raw HTTP (http.client, SigV4 headers from botocore), so a
truncated body is observable. Blobs are found through the catalog
(objects -> object_blobs, read-only sqlite3) and the LocalBackend's path
encoding (src/storage/local/local_backend.h).

    /usr/bin/python3 -m unittest -v tests/s3/test_tamper.py
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import http_request, random_bytes, sign_headers  # noqa: E402

try:
    import boto3  # noqa: F401  (fail early if missing)
    from botocore.exceptions import ClientError
    IMPORT_ERROR = None
except ImportError as exc:  # fail, never skip
    IMPORT_ERROR = exc
    ClientError = Exception

MiB = 1 << 20
INSECURE_SSE_FLAG = "--allow-insecure-sse-on-loopback"

# docs/FORMAT.md §3, §4, §9: a data stream is an 8-byte prefix, a 56-byte
# Cobblestone header (24 salt + 32 commitment), then chunks of 16384
# plaintext bytes sealed to 16400; the final chunk is always present and
# shorter than 16384 (possibly empty).
PREFIX = 8
HEADER = 64
CHUNK = 16384
SEALED = 16400
STREAM_MAGIC = b"SRDS"

# Single-part objects: five full chunks and a final chunk of 1000 bytes.
SINGLE_SIZE = 5 * CHUNK + 1000
PART_SIZE = 5 * MiB          # parts 1 and 2 (same size, so they can be swapped)
LAST_PART_SIZE = 3 * CHUNK + 7


def stream_size(plain: int) -> int:
    return HEADER + plain + 16 * (plain // CHUNK + 1)


def chunk_start(k: int) -> int:
    """Offset of sealed chunk k in a stream's blob."""
    return HEADER + k * SEALED


def insecure_args() -> tuple:
    """The loopback SSE flag, unless the harness already passes it."""
    try:
        probe = harness.StrongroomServer("/nonexistent-strongroom-probe").command()
    except Exception:  # noqa: BLE001
        probe = []
    return () if INSECURE_SSE_FLAG in probe else (INSECURE_SSE_FLAG,)


def create_kms_key(server: harness.StrongroomServer, name: str) -> None:
    if hasattr(server, "cli"):
        result = server.cli("key", "create", name)
    else:
        result = harness.subprocess.run(
            [harness.BINARY, "key", "create", name, "--data-dir", server.data_dir,
             "--key-dir", server.key_dir], capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")})
    if getattr(result, "returncode", 0) != 0:
        raise AssertionError(f"strongroom key create {name} failed: {result}")


# ------------------------------------------------------------- blob paths


def _encode_blob_name(name: str) -> list[str]:
    """LocalBackend's name -> path segments (see local_backend.h)."""
    segments = []
    components = name.split("/")
    for i, component in enumerate(components):
        last = i == len(components) - 1
        while len(component) > 200:
            segments.append("~" + component[:200])
            component = component[200:]
        segments.append(("=" if last else "+") + component)
    return segments


def blob_path(data_dir: str, name: str) -> str:
    return os.path.join(data_dir, "blobs", *_encode_blob_name(name))


def catalog_blobs(data_dir: str, bucket: str, key: str) -> list[str]:
    """The blob names of an object, in stream order, from the catalog."""
    db = os.path.join(data_dir, "catalog.db")
    query = ("SELECT b.blob FROM objects o JOIN object_blobs b ON b.object = o.id "
             "WHERE o.bucket = ? AND o.key = ? ORDER BY b.seq")
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            return [row[0] for row in con.execute(query, (bucket, key))]
        finally:
            con.close()
    except sqlite3.OperationalError:
        # A stopped server's WAL database without -shm: read a copy.
        tmp = tempfile.mkdtemp(prefix="sr-tamper-catalog-")
        try:
            for suffix in ("", "-wal"):
                if os.path.exists(db + suffix):
                    shutil.copy(db + suffix, os.path.join(tmp, "catalog.db" + suffix))
            con = sqlite3.connect(os.path.join(tmp, "catalog.db"))
            try:
                return [row[0] for row in con.execute(query, (bucket, key))]
            finally:
                con.close()
        finally:
            shutil.rmtree(tmp, True)


# ---------------------------------------------------------------- outcome

# How the raw GETs ended, counted over the run (printed with SR_TAMPER_VERBOSE=1).
OUTCOMES: dict[str, int] = {}


def tearDownModule():
    if os.environ.get("SR_TAMPER_VERBOSE"):
        print("\nraw GET outcomes:", json.dumps(OUTCOMES, indent=1, sort_keys=True),
              file=sys.stderr)



class Outcome:
    """What a raw GET produced."""

    def __init__(self, status: int, headers: dict, body: bytes, declared: int | None,
                 error: str | None):
        self.status = status
        self.headers = headers
        self.body = body
        self.declared = declared  # Content-Length, if any
        self.error = error        # how the body ended early, if it did

    @property
    def complete(self) -> bool:
        return self.error is None and (self.declared is None or len(self.body) == self.declared)

    def __repr__(self):
        return (f"<{self.status} declared={self.declared} received={len(self.body)} "
                f"error={self.error} code={harness.parse_error(self.body).get('Code', '')!r}>")


# ------------------------------------------------------------------ tests


class TamperBase(harness.ServerTestCase):
    server_options = {"extra_args": insecure_args()}

    MODES = {
        "sse-s3": {"ServerSideEncryption": "AES256"},
        "sse-kms-default": {"ServerSideEncryption": "aws:kms"},
        "sse-kms-key": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/tamper-key",
                        "SSEKMSEncryptionContext": base64.b64encode(
                            json.dumps({"test": "tamper"}).encode()).decode()},
        "sse-c": {"SSECustomerAlgorithm": "AES256"},  # + SSECustomerKey, see put_args
    }

    @classmethod
    def setUpClass(cls):
        if IMPORT_ERROR is not None:
            raise AssertionError(f"boto3 is not importable by {sys.executable}: {IMPORT_ERROR} "
                                 "(install python3-boto3 and run with /usr/bin/python3)")
        super().setUpClass()
        cls.customer_key = secrets.token_bytes(32)
        create_kms_key(cls.server, "tamper-key")
        cls.bucket = cls.unique_bucket_name("tamper")
        cls.s3.create_bucket(Bucket=cls.bucket)
        cls.counter = 0

    # -- encryption arguments

    def put_args(self, mode: str) -> dict:
        args = dict(self.MODES[mode])
        if mode == "sse-c":
            args["SSECustomerKey"] = self.customer_key
        return args

    def read_args(self, mode: str) -> dict:
        if mode == "sse-c":
            return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": self.customer_key}
        return {}

    def raw_read_headers(self, mode: str) -> dict:
        if mode != "sse-c":
            return {}
        return {
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key":
                base64.b64encode(self.customer_key).decode(),
            "x-amz-server-side-encryption-customer-key-MD5":
                base64.b64encode(hashlib.md5(self.customer_key).digest()).decode(),
        }

    # -- objects

    def next_key(self, stem: str) -> str:
        type(self).counter += 1
        return f"{stem}-{type(self).counter}"

    def put_single(self, mode: str, size: int = SINGLE_SIZE, stem: str = "obj") -> tuple:
        key = self.next_key(f"{mode}/{stem}")
        body = random_bytes(size, hash(key) & 0xFFFFFFFF)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **self.put_args(mode))
        return key, body

    def put_multipart(self, mode: str) -> tuple:
        key = self.next_key(f"{mode}/mpu")
        parts = [random_bytes(PART_SIZE, hash(key + "1") & 0xFFFFFFFF),
                 random_bytes(PART_SIZE, hash(key + "2") & 0xFFFFFFFF),
                 random_bytes(LAST_PART_SIZE, hash(key + "3") & 0xFFFFFFFF)]
        uid = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key,
                                              **self.put_args(mode))["UploadId"]
        done = []
        for n, data in enumerate(parts, 1):
            etag = self.s3.upload_part(Bucket=self.bucket, Key=key, UploadId=uid, PartNumber=n,
                                       Body=data, **self.read_args(mode))["ETag"]
            done.append({"PartNumber": n, "ETag": etag})
        # AWS completes SSE-C uploads without the key (and botocore 1.29 would
        # not encode a bytes key for this operation).
        self.s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=uid,
                                          MultipartUpload={"Parts": done})
        return key, parts

    def blob_files(self, key: str, expected_sizes: list[int]) -> list[str]:
        names = catalog_blobs(self.server.data_dir, self.bucket, key)
        paths = [blob_path(self.server.data_dir, n) for n in names]
        streams = []
        for path in paths:
            self.assertTrue(os.path.isfile(path), f"blob file {path} (from the catalog) missing")
            with open(path, "rb") as f:
                if f.read(4) == STREAM_MAGIC:
                    streams.append(path)
        self.assertEqual([os.path.getsize(p) for p in streams],
                         [stream_size(s) for s in expected_sizes],
                         f"{key}: data-stream blobs {streams} (of {names}) do not have the "
                         "sizes docs/FORMAT.md §9 gives")
        return streams

    # -- tampering

    @staticmethod
    def flip(path: str, offset: int) -> None:
        with open(path, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0x01]))

    @staticmethod
    def truncate(path: str, remove: int) -> None:
        os.truncate(path, os.path.getsize(path) - remove)

    @staticmethod
    def append(path: str, data: bytes) -> None:
        with open(path, "ab") as f:
            f.write(data)

    @staticmethod
    def swap(a: str, b: str) -> None:
        tmp = a + ".swap"
        os.rename(a, tmp)
        os.rename(b, a)
        os.rename(tmp, b)

    # -- raw reads

    def fetch(self, key: str, mode: str, first: int | None = None,
              last: int | None = None) -> Outcome:
        target = "/" + self.bucket + "/" + urllib.parse.quote(key, safe="/~")
        headers = self.raw_read_headers(mode)
        if first is not None:
            headers["Range"] = f"bytes={first}-{last}"
        signed = sign_headers(self.server, "GET", target, headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request("GET", target, headers=signed)
            resp = conn.getresponse()
            declared = resp.getheader("Content-Length")
            declared = int(declared) if declared is not None else None
            body = bytearray()
            error = None
            try:
                while True:
                    piece = resp.read(64 * 1024)
                    if not piece:
                        break
                    body += piece
            except http.client.IncompleteRead as exc:
                body += exc.partial
                error = "IncompleteRead"
            except (ConnectionError, http.client.HTTPException) as exc:
                error = exc.__class__.__name__
            except socket.timeout:
                self.fail(f"GET {key} range={first}-{last}: the server stopped sending without "
                          f"closing the connection (hung after {len(body)} bytes)")
            if error is None and declared is not None and len(body) < declared:
                error = "connection closed early"
            outcome = Outcome(resp.status, dict((k.lower(), v) for k, v in resp.getheaders()),
                              bytes(body), declared, error)
            kind = ("500" if outcome.status == 500 else
                    f"{outcome.status} complete" if outcome.complete else
                    f"{outcome.status} aborted after {'0' if not body else 'some'} bytes")
            OUTCOMES[kind] = OUTCOMES.get(kind, 0) + 1
            return outcome
        finally:
            conn.close()

    def assertFailsClosed(self, outcome: Outcome, expected: bytes, what: str,
                          limit: int = 0) -> None:
        """`expected` is the true plaintext of the requested range; `limit` is how
        many bytes of it lie before the first damaged chunk (chunks the server
        can verify): an aborted body may hold at most that many."""
        if outcome.status == 500:
            self.assertEqual(harness.parse_error(outcome.body).get("Code"), "InternalError",
                             f"{what}: 500 without InternalError: {outcome.body[:300]!r}")
            return
        self.assertIn(outcome.status, (200, 206),
                      f"{what}: expected 500 InternalError or an aborted body, got {outcome}")
        self.assertFalse(outcome.complete,
                         f"{what}: the server sent the whole {outcome.status} body of tampered "
                         f"data ({outcome}); identical to the plaintext: "
                         f"{outcome.body == expected}")
        got = outcome.body
        if got != expected[:len(got)]:
            bad = next(i for i in range(len(got)) if got[i] != expected[i])
            self.fail(f"{what}: unverified bytes served: received byte {bad} of {len(got)} "
                      f"differs from the plaintext ({outcome})")
        # Bytes of a damaged chunk before the damaged byte would compare equal,
        # so also bound the length: nothing of a chunk that fails may be sent.
        self.assertLessEqual(len(got), max(limit, 0),
                             f"{what}: {len(got)} bytes received, but only {max(limit, 0)} "
                             f"precede the first damaged chunk ({outcome})")

    def assertServes(self, outcome: Outcome, expected: bytes, what: str) -> None:
        self.assertIn(outcome.status, (200, 206), f"{what}: {outcome} "
                      f"{harness.parse_error(outcome.body)}")
        self.assertTrue(outcome.complete, f"{what}: body cut short: {outcome}")
        self.assertEqual(len(outcome.body), len(expected), f"{what}: wrong length")
        self.assertTrue(outcome.body == expected, f"{what}: wrong bytes")

    def assertServesOrFailsClosed(self, outcome: Outcome, expected: bytes, what: str,
                                  limit: int = 0) -> None:
        if outcome.status in (200, 206) and outcome.complete:
            self.assertServes(outcome, expected, what)
        else:
            self.assertFailsClosed(outcome, expected, what, limit)

    # -- observability

    def integrity_failures(self) -> int | None:
        resp = http_request(self.server, "GET", "/metrics")
        self.assertEqual(resp.status, 200, resp)
        values = re.findall(r"^strongroom_integrity_failures_total(?:\{[^}]*\})? (\d+)",
                            resp.body.decode(), re.M)
        return sum(int(v) for v in values) if values else None

    def assertIntegrityFailureRecorded(self, before: int | None, log_mark: int, what: str):
        after = self.integrity_failures()
        self.assertIsNotNone(after, "/metrics has no strongroom_integrity_failures_total")
        self.assertGreater(after, before or 0,
                           f"{what}: strongroom_integrity_failures_total did not increase")
        entries = self.server.log_since(log_mark, settle=0.3)
        marked = [e for e in entries if "integrity" in json.dumps(e).lower()]
        self.assertTrue(marked, f"{what}: no access-log line marks the integrity failure; "
                                f"entries since the case started: {entries[-6:]}")


class TamperSinglePartTest(TamperBase):
    """Byte flips, truncation, appending and blob swaps on single-part objects."""

    RANGES = {  # name -> (first, last) in plaintext
        "chunk0": (10, 1000),
        "chunk2": (2 * CHUNK + 5, 2 * CHUNK + 4000),
        "chunks1-3": (CHUNK + 100, 3 * CHUNK + 100),
        "chunk4": (4 * CHUNK, 5 * CHUNK - 1),
        "final": (5 * CHUNK + 1, SINGLE_SIZE - 1),
    }

    def run_case(self, name: str, tamper, damaged_from: int, must_serve: tuple = (),
                 may_serve: tuple = ()):
        """Tampers one fresh object per mode. `damaged_from` is the plaintext
        offset of the first chunk the damage touches (0 if the whole stream is
        unusable). The full GET and every range not in must_serve/may_serve must
        fail closed."""
        for mode in self.MODES:
            with self.subTest(case=name, mode=mode):
                key, body = self.put_single(mode)
                (path,) = self.blob_files(key, [SINGLE_SIZE])
                tamper(path)
                before = self.integrity_failures()
                mark = self.server.log_mark()
                self.assertFailsClosed(self.fetch(key, mode), body, f"{name}/{mode} full GET",
                                       damaged_from)
                for rname, (a, b) in self.RANGES.items():
                    what = f"{name}/{mode} range {rname} bytes={a}-{b}"
                    outcome = self.fetch(key, mode, a, b)
                    if rname in must_serve:
                        self.assertServes(outcome, body[a:b + 1], what)
                    elif rname in may_serve:
                        self.assertServesOrFailsClosed(outcome, body[a:b + 1], what,
                                                       damaged_from - a)
                    else:
                        self.assertFailsClosed(outcome, body[a:b + 1], what, damaged_from - a)
                self.assertIntegrityFailureRecorded(before, mark, f"{name}/{mode}")
                # An untampered object of the same mode still reads back.
                other, other_body = self.put_single(mode, 3000)
                self.assertServes(self.fetch(other, mode), other_body, f"{name}/{mode} control")

    # The 64-byte stream header (prefix, salt, commitment) in the blob: a
    # ranged read derives the keys from the manifest's salt and expected
    # context and checks the manifest's commitment, and does not fetch the
    # header (docs/FORMAT.md §8, random-access read, step 2). So damage there
    # may go unnoticed -- but then every byte served must be the true
    # plaintext (it was verified under keys the header cannot influence);
    # a server that does read the header must fail closed.

    def run_header_case(self, name: str, offset: int):
        for mode in self.MODES:
            with self.subTest(case=name, mode=mode):
                key, body = self.put_single(mode)
                (path,) = self.blob_files(key, [SINGLE_SIZE])
                self.flip(path, offset)
                self.assertServesOrFailsClosed(self.fetch(key, mode), body,
                                               f"{name}/{mode} full GET")
                for rname, (a, b) in self.RANGES.items():
                    self.assertServesOrFailsClosed(self.fetch(key, mode, a, b), body[a:b + 1],
                                                   f"{name}/{mode} range {rname}")

    def test_flip_stream_prefix(self):
        self.run_header_case("flip prefix", 6)

    def test_flip_salt(self):
        self.run_header_case("flip salt", PREFIX + 3)

    def test_flip_commitment(self):
        self.run_header_case("flip commitment", PREFIX + 24 + 31)

    def test_flip_first_chunk(self):
        self.run_case("flip chunk 0", lambda p: self.flip(p, chunk_start(0) + 100), 0,
                      must_serve=("chunk2", "chunks1-3", "chunk4", "final"))

    def test_flip_middle_chunk(self):
        self.run_case("flip chunk 2", lambda p: self.flip(p, chunk_start(2) + 8000), 2 * CHUNK,
                      must_serve=("chunk0", "chunk4", "final"))

    def test_flip_middle_chunk_tag(self):
        self.run_case("flip chunk 2 tag", lambda p: self.flip(p, chunk_start(3) - 1), 2 * CHUNK,
                      must_serve=("chunk0", "chunk4", "final"))

    def test_flip_last_tag(self):
        self.run_case("flip final tag", lambda p: self.flip(p, os.path.getsize(p) - 1),
                      5 * CHUNK, must_serve=("chunk0", "chunk2", "chunks1-3", "chunk4"))

    # Truncation and appending change the blob's length, which the manifest
    # fixes: a reader may refuse the whole blob, or serve chunks before the
    # damage; it must never serve the damaged part.

    def test_truncate_one_byte(self):
        self.run_case("truncate 1 byte", lambda p: self.truncate(p, 1), 5 * CHUNK,
                      may_serve=("chunk0", "chunk2", "chunks1-3", "chunk4"))

    def test_truncate_final_chunk(self):
        # Drops the whole sealed final chunk: what remains is only valid full chunks.
        self.run_case("truncate final chunk", lambda p: self.truncate(p, 1000 + 16), 5 * CHUNK,
                      may_serve=("chunk0", "chunk2", "chunks1-3", "chunk4"))

    def test_truncate_one_sealed_chunk_length(self):
        self.run_case("truncate 16400 bytes", lambda p: self.truncate(p, SEALED), 4 * CHUNK,
                      may_serve=("chunk0", "chunk2", "chunks1-3"))

    def test_append_bytes(self):
        # Nothing is damaged, but the blob no longer matches its manifest: the full
        # GET must not complete; ranges may serve verified chunks.
        self.run_case("append 16 bytes", lambda p: self.append(p, os.urandom(16)), SINGLE_SIZE,
                      may_serve=("chunk0", "chunk2", "chunks1-3", "chunk4", "final"))

    def test_append_sealed_chunk_length(self):
        self.run_case("append 16400 bytes", lambda p: self.append(p, os.urandom(SEALED)),
                      SINGLE_SIZE,
                      may_serve=("chunk0", "chunk2", "chunks1-3", "chunk4", "final"))

    def test_swap_blobs_same_mode(self):
        for mode in self.MODES:
            with self.subTest(mode=mode):
                key_a, body_a = self.put_single(mode, stem="swap-a")
                key_b, body_b = self.put_single(mode, stem="swap-b")
                (path_a,) = self.blob_files(key_a, [SINGLE_SIZE])
                (path_b,) = self.blob_files(key_b, [SINGLE_SIZE])
                self.swap(path_a, path_b)
                before = self.integrity_failures()
                mark = self.server.log_mark()
                for key, body in ((key_a, body_a), (key_b, body_b)):
                    self.assertFailsClosed(self.fetch(key, mode), body, f"swap {mode} {key}")
                    for rname, (a, b) in self.RANGES.items():
                        self.assertFailsClosed(self.fetch(key, mode, a, b), body[a:b + 1],
                                               f"swap {mode} {key} range {rname}")
                self.assertIntegrityFailureRecorded(before, mark, f"swap {mode}")

    def test_swap_blobs_across_modes(self):
        pairs = [("sse-s3", "sse-c"), ("sse-kms-key", "sse-s3"), ("sse-c", "sse-kms-default")]
        for mode_a, mode_b in pairs:
            with self.subTest(a=mode_a, b=mode_b):
                key_a, body_a = self.put_single(mode_a, stem="xswap")
                key_b, body_b = self.put_single(mode_b, stem="xswap")
                (path_a,) = self.blob_files(key_a, [SINGLE_SIZE])
                (path_b,) = self.blob_files(key_b, [SINGLE_SIZE])
                self.swap(path_a, path_b)
                before = self.integrity_failures()
                mark = self.server.log_mark()
                for key, mode, body in ((key_a, mode_a, body_a), (key_b, mode_b, body_b)):
                    self.assertFailsClosed(self.fetch(key, mode), body, f"xswap {key}")
                    self.assertFailsClosed(self.fetch(key, mode, 10, 1000), body[10:1001],
                                           f"xswap {key} range chunk0")
                self.assertIntegrityFailureRecorded(before, mark, f"xswap {mode_a}/{mode_b}")

    def test_copy_from_tampered_source_fails(self):
        for mode in self.MODES:
            with self.subTest(mode=mode):
                key, _ = self.put_single(mode, stem="copysrc")
                (path,) = self.blob_files(key, [SINGLE_SIZE])
                self.flip(path, chunk_start(4) + 3)
                dest = self.next_key("copy-dest")
                args = {}
                if mode == "sse-c":
                    args = {"CopySourceSSECustomerAlgorithm": "AES256",
                            "CopySourceSSECustomerKey": self.customer_key}
                before = self.integrity_failures()
                mark = self.server.log_mark()
                try:
                    result = self.s3.copy_object(Bucket=self.bucket, Key=dest,
                                                 CopySource={"Bucket": self.bucket, "Key": key},
                                                 **args)
                    self.fail(f"copy of a tampered {mode} source succeeded: {result}")
                except ClientError as exc:
                    self.assertEqual((harness.error_status(exc), harness.error_code(exc)),
                                     (500, "InternalError"), exc.response)
                self.assertEqual(self.head_status(self.bucket, dest), 404,
                                 "a failed copy left a destination object")
                self.assertIntegrityFailureRecorded(before, mark, f"copy {mode}")


class TamperMultipartTest(TamperBase):
    """Part blobs swapped or flipped in a three-part object."""

    MPU_MODES = ("sse-s3", "sse-kms-key", "sse-c")

    def ranges(self, parts):
        p1, p2, p3 = (len(p) for p in parts)
        return {  # name -> (first, last)
            "part1": (100, 5000),
            "part2-chunk3": (p1 + 3 * CHUNK, p1 + 3 * CHUNK + 999),
            "part1-2": (p1 - 100, p1 + 100),
            "part2-early": (p1 + 10, p1 + 99 * CHUNK),
            "part2-chunk100": (p1 + 100 * CHUNK, p1 + 100 * CHUNK + 100),
            "part2-end": (p1 + p2 - 50, p1 + p2 - 1),
            "part3": (p1 + p2 + 10, p1 + p2 + p3 - 1),
        }

    def run_case(self, name: str, tamper, damaged_from, failing: set):
        """`tamper(paths)` damages the part blobs; `damaged_from(parts)` is the
        plaintext offset of the first damaged chunk; ranges named in `failing`
        must fail closed, every other range must be served."""
        for mode in self.MPU_MODES:
            with self.subTest(case=name, mode=mode):
                key, parts = self.put_multipart(mode)
                body = b"".join(parts)
                paths = self.blob_files(key, [len(p) for p in parts])
                tamper(paths)
                start = damaged_from(parts)
                before = self.integrity_failures()
                mark = self.server.log_mark()
                self.assertFailsClosed(self.fetch(key, mode), body, f"{name}/{mode} full GET",
                                       start)
                for rname, (a, b) in self.ranges(parts).items():
                    outcome = self.fetch(key, mode, a, b)
                    what = f"{name}/{mode} range {rname} bytes={a}-{b}"
                    if rname in failing:
                        self.assertFailsClosed(outcome, body[a:b + 1], what, start - a)
                    else:
                        self.assertServes(outcome, body[a:b + 1], what)
                self.assertIntegrityFailureRecorded(before, mark, f"{name}/{mode}")

    def test_swap_two_parts(self):
        self.run_case("swap parts 1 and 2", lambda paths: self.swap(paths[0], paths[1]),
                      lambda parts: 0,
                      {"part1", "part2-chunk3", "part1-2", "part2-early", "part2-chunk100",
                       "part2-end"})

    def test_flip_chunk_in_middle_part(self):
        # The full GET streams part 1 and part 2's first 100 chunks (verified)
        # and must stop there: the mid-body abort path.
        self.run_case("flip part 2 chunk 100", lambda paths: self.flip(paths[1],
                                                                      chunk_start(100) + 77),
                      lambda parts: len(parts[0]) + 100 * CHUNK, {"part2-chunk100"})

    def test_truncate_part(self):
        # Part 2 is exactly 320 chunks, so its final chunk is empty (16 bytes of
        # tag) and cutting one byte damages only that chunk. A reader may refuse
        # all of part 2 once its length is wrong, or serve its verified chunks;
        # it must not serve the damaged end, and parts 1 and 3 stay readable.
        for mode in self.MPU_MODES:
            with self.subTest(case="truncate part 2", mode=mode):
                key, parts = self.put_multipart(mode)
                body = b"".join(parts)
                paths = self.blob_files(key, [len(p) for p in parts])
                self.truncate(paths[1], 1)
                start = len(parts[0]) + len(parts[1])
                before = self.integrity_failures()
                mark = self.server.log_mark()
                self.assertFailsClosed(self.fetch(key, mode), body, f"part truncate {mode}",
                                       start)
                for rname, (a, b) in self.ranges(parts).items():
                    outcome = self.fetch(key, mode, a, b)
                    what = f"part truncate {mode} range {rname}"
                    if rname in ("part1", "part3"):
                        self.assertServes(outcome, body[a:b + 1], what)
                    else:
                        self.assertServesOrFailsClosed(outcome, body[a:b + 1], what, start - a)
                self.assertIntegrityFailureRecorded(before, mark, f"part truncate {mode}")


class TamperStoppedServerTest(TamperBase):
    """Blobs modified while the server is down are refused after the restart."""

    def test_tamper_while_stopped(self):
        objects = {}
        for mode in self.MODES:
            key, body = self.put_single(mode, stem="offline")
            objects[mode] = (key, body, self.blob_files(key, [SINGLE_SIZE])[0])
        rc = self.server.stop()
        self.assertEqual(rc, 0, "server exit code after SIGTERM")
        for mode, (_, _, path) in objects.items():
            self.flip(path, chunk_start(1) + 5)
        self.server.start()
        type(self).s3 = harness.boto3_client(self.server, recorder=self.recorder)
        before = self.integrity_failures()
        mark = self.server.log_mark()
        for mode, (key, body, _) in objects.items():
            with self.subTest(mode=mode):
                self.assertFailsClosed(self.fetch(key, mode), body, f"offline {mode} full GET",
                                       CHUNK)
                self.assertServes(self.fetch(key, mode, 10, 1000), body[10:1001],
                                  f"offline {mode} range chunk0")
                self.assertFailsClosed(self.fetch(key, mode, CHUNK, 2 * CHUNK - 1),
                                       body[CHUNK:2 * CHUNK], f"offline {mode} range chunk1")
        self.assertIntegrityFailureRecorded(before, mark, "offline")


if __name__ == "__main__":
    unittest.main()
