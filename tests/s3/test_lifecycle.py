# SPDX-License-Identifier: Apache-2.0
"""Key lifecycle against a real server (issue #5 item 3, status item 5).

* Rotation + rewrap: `strongroom key rotate` makes a new version current at
  once (new objects use it, old ones stay readable); `strongroom key rewrap`
  (a job inside the running, unsealed server) moves every object's and
  upload's data key to it: every object still reads, blob files are
  byte-identical, no object is left under the old version, SSE-C is untouched.
* Re-encryption: `strongroom reencrypt` rewrites objects under fresh data keys
  in the background (every blob changes, content, metadata and SSE facts do
  not), throttled by --rate, with progress in `status`/`job show`; it
  survives a server restart mid-job (resumes from its cursor) and never loses
  an object a client overwrites meanwhile. It keeps every ETag (SSE-KMS ones
  too) and a multipart object's part layout (PartsCount, part-number reads),
  and no internal multipart upload ever shows.
* Destruction: `key destroy --pending-seconds 1` makes the key's objects
  unreadable at once (KMS.KMSInvalidStateException, "pending deletion"), then
  crypto-shreds them (the version salts are gone from the catalog; reads say
  "crypto-shredded"); `key list`, `key describe` and `status` say so;
  `cancel-destroy` brings a key back (disabled).
* Status: `strongroom status` over the control socket (sealed / unsealed, keys,
  objects per version, current-version share, jobs) and "not running" without
  a server.

    STRONGROOM_BIN=build/src/cli/strongroom /usr/bin/python3 -m unittest -v \
        tests/s3/test_lifecycle.py
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import os
import re
import sqlite3
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import error_code, error_status, random_bytes  # noqa: E402

try:
    import boto3  # noqa: F401
    from botocore.exceptions import ClientError
    IMPORT_ERROR = None
except ImportError as exc:  # fail, never skip
    IMPORT_ERROR = exc
    ClientError = Exception

MiB = 1 << 20
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INVALID_STATE = "KMS.KMSInvalidStateException"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class LifecycleCase(harness.ServerTestCase):
    """One server per class, SSE-KMS and SSE-C allowed over loopback HTTP."""

    server_options = {"extra_args": ("--allow-insecure-sse-on-loopback",)}

    @classmethod
    def setUpClass(cls):
        if IMPORT_ERROR is not None:
            raise AssertionError(f"boto3 is not importable by {sys.executable}: {IMPORT_ERROR}")
        super().setUpClass()

    # -- the CLI

    def cli_ok(self, *args: str, timeout: float = 300) -> str:
        proc = self.server.cli(*args, timeout=timeout)
        self.assertEqual(proc.returncode, 0,
                         f"strongroom {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stdout}{proc.stderr}")
        return proc.stdout

    def cli_fails(self, *args: str) -> str:
        proc = self.server.cli(*args)
        self.assertEqual(proc.returncode, 1,
                         f"strongroom {' '.join(args)} should fail: {proc.stdout}{proc.stderr}")
        self.assertTrue(proc.stderr.startswith("strongroom: "), proc.stderr)
        return proc.stderr

    def create_key(self, stem: str) -> tuple[str, str]:
        """`key create`: returns (alias, key id)."""
        name = f"{stem}-{uuid.uuid4().hex[:6]}"
        out = self.cli_ok("key", "create", name)
        match = UUID_RE.search(out)
        self.assertIsNotNone(match, out)
        return f"alias/{name}", match.group(0)

    def status(self) -> dict:
        return json.loads(self.cli_ok("status", "--json"))

    def key_status(self, key_id: str) -> dict:
        for key in self.status()["keys"]:
            if key["key_id"] == key_id:
                return key
        self.fail(f"key {key_id} not in status")

    def job(self, job_id: str) -> dict:
        for job in self.status()["jobs"]:
            if job["id"] == job_id:
                return job
        self.fail(f"job {job_id} not in status")

    # -- objects

    def blobs(self) -> dict:
        """Relative path -> SHA-256 of every committed blob file."""
        root = os.path.join(self.server.data_dir, "blobs")
        out = {}
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
        return out

    def audit_events(self) -> list:
        with open(os.path.join(self.server.data_dir, "audit.log"), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def catalog_query(self, sql: str, *args):
        db = sqlite3.connect(f"file:{self.server.data_dir}/catalog.db?mode=ro", uri=True)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def put(self, bucket: str, key: str, data: bytes, mode: str = "s3", kms_key: str = "",
            context: dict | None = None, ssec: bytes | None = None, **extra) -> dict:
        args = dict(Bucket=bucket, Key=key, Body=data, **extra)
        if mode == "kms":
            args.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key)
            if context is not None:
                args["SSEKMSEncryptionContext"] = b64(json.dumps(context).encode())
        elif mode == "ssec":
            args.update(SSECustomerAlgorithm="AES256", SSECustomerKey=ssec)
        return self.s3.put_object(**args)

    def get(self, bucket: str, key: str, ssec: bytes | None = None) -> dict:
        args = dict(Bucket=bucket, Key=key)
        if ssec is not None:
            args.update(SSECustomerAlgorithm="AES256", SSECustomerKey=ssec)
        response = self.s3.get_object(**args)
        response["Data"] = response["Body"].read()
        return response


class RotateRewrapTest(LifecycleCase):
    def test_rotate_then_rewrap_keeps_every_object_readable_and_blobs_identical(self):
        bucket = self.new_bucket("rw")
        alias, key_id = self.create_key("rw")
        ssec_key = os.urandom(32)
        content = {}
        for i in range(6):
            content[f"s3/{i}"] = random_bytes(1000 + 9000 * i, i)
            self.put(bucket, f"s3/{i}", content[f"s3/{i}"], ContentType="text/plain",
                     Metadata={"n": str(i)})
        for i in range(5):
            content[f"kms/{i}"] = random_bytes(3000 + i, 100 + i)
            self.put(bucket, f"kms/{i}", content[f"kms/{i}"], "kms", alias,
                     {"team": f"t{i}"} if i % 2 else None)
        for i in range(2):
            content[f"ssec/{i}"] = random_bytes(2000 + i, 200 + i)
            self.put(bucket, f"ssec/{i}", content[f"ssec/{i}"], "ssec", ssec=ssec_key)
        # A completed multipart object and an upload in progress, both under the KMS key.
        part1, part2 = random_bytes(5 * MiB, 301), random_bytes(1234, 302)
        up = self.s3.create_multipart_upload(Bucket=bucket, Key="multi",
                                             ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)
        etags = [self.s3.upload_part(Bucket=bucket, Key="multi", UploadId=up["UploadId"],
                                     PartNumber=n, Body=data)["ETag"]
                 for n, data in ((1, part1), (2, part2))]
        self.s3.complete_multipart_upload(
            Bucket=bucket, Key="multi", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                       for n, e in zip((1, 2), etags)]})
        content["multi"] = part1 + part2
        pending = self.s3.create_multipart_upload(Bucket=bucket, Key="pending",
                                                  ServerSideEncryption="aws:kms",
                                                  SSEKMSKeyId=alias)
        pending_part = random_bytes(4321, 400)
        pending_etag = self.s3.upload_part(Bucket=bucket, Key="pending",
                                           UploadId=pending["UploadId"], PartNumber=1,
                                           Body=pending_part)["ETag"]
        heads_before = {k: self.s3.head_object(Bucket=bucket, Key=k)
                        for k in content if not k.startswith("ssec/")}

        key = self.key_status(key_id)
        self.assertEqual(key["current_version"], 1)
        self.assertEqual(key["objects"], 6)
        self.assertEqual(key["current_share"], 1.0)

        # Rotation: version 2 is current at once on the running server.
        out = self.cli_ok("key", "rotate", alias)
        self.assertIn("version 2 is current", out)
        self.assertIn("6 objects stay under older versions", out)
        out = self.cli_ok("key", "rotate", "sse-s3")
        self.assertIn("version 2 is current", out)
        content["after"] = b"written after the rotation"
        self.put(bucket, "after", content["after"], "kms", key_id)
        key = self.key_status(key_id)
        self.assertEqual(key["current_version"], 2)
        self.assertEqual({v["version"]: v["objects"] for v in key["versions"]}, {1: 6, 2: 1})
        self.assertAlmostEqual(key["current_share"], 1 / 7, places=3)
        self.assertIn("v1: 6", self.cli_ok("key", "describe", alias))
        # Old objects read before any rewrap.
        for name, data in content.items():
            got = self.get(bucket, name, ssec_key if name.startswith("ssec/") else None)
            self.assertEqual(got["Data"], data, name)

        blobs_before = self.blobs()
        out = self.cli_ok("key", "rewrap", alias)
        self.assertRegex(out, r"rewrap job \S+ done: rewrapped 6 objects and 1 uploads, "
                              r"skipped 0, failed 0")
        out = self.cli_ok("key", "rewrap", "sse-s3")
        self.assertRegex(out, r"rewrapped 6 objects and 0 uploads")

        # Data blobs are byte-identical; nothing was added or removed.
        self.assertEqual(self.blobs(), blobs_before)
        # Nothing is left under version 1 (the catalog's kek_refs, read directly).
        rows = self.catalog_query("SELECT kek_ref, COUNT(*) FROM objects GROUP BY kek_ref")
        refs = dict(rows)
        self.assertNotIn(f"strongroom:{key_id}/1", refs)
        self.assertNotIn("strongroom:sse-s3/1", refs)
        self.assertEqual(refs.get(f"strongroom:{key_id}/2"), 7)
        self.assertEqual(refs.get("strongroom:sse-s3/2"), 6)
        self.assertEqual(refs.get(""), 2)  # SSE-C: nothing server-held to rewrap
        key = self.key_status(key_id)
        self.assertEqual(key["current_share"], 1.0)
        self.assertEqual([v["version"] for v in key["versions"]], [2])

        # Every object reads, with the same ETag, metadata and SSE headers.
        for name, data in content.items():
            got = self.get(bucket, name, ssec_key if name.startswith("ssec/") else None)
            self.assertEqual(got["Data"], data, name)
            if name in heads_before:
                before = heads_before[name]
                for field in ("ETag", "ContentType", "Metadata", "ServerSideEncryption",
                              "SSEKMSKeyId"):
                    self.assertEqual(got.get(field), before.get(field), f"{name} {field}")
        # The upload in progress was rewrapped and completes.
        self.s3.complete_multipart_upload(
            Bucket=bucket, Key="pending", UploadId=pending["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": pending_etag}]})
        self.assertEqual(self.get(bucket, "pending")["Data"], pending_part)

        # The audit log has the rotation, and an unwrap (v1) and a wrap (v2)
        # by the server for every rewrapped object and upload.
        audit = self.audit_events()
        rotations = [e for e in audit if e["operation"] == "key.rotate"]
        self.assertTrue(any(e.get("key_id") == key_id and e.get("key_version") == 2
                            for e in rotations), rotations)
        for operation, version in (("unwrap", 1), ("wrap", 2)):
            mine = [e for e in audit if e["operation"] == operation
                    and e.get("request") in ("Rewrap", "RewrapUpload")
                    and e.get("key_id") == key_id]
            self.assertEqual(len(mine), 7, f"{operation}: {mine}")
            self.assertTrue(all(e["key_version"] == version and e["actor"] == "server"
                                and e["result"] == "ok" for e in mine), mine)
            self.assertEqual({e["object"] for e in mine},
                             {f"kms/{i}" for i in range(5)} | {"multi", "pending"})

        # A second rewrap finds nothing; unknown keys fail.
        out = self.cli_ok("key", "rewrap", alias)
        self.assertRegex(out, r"rewrapped 0 objects")
        self.assertRegex(self.cli_fails("key", "rewrap", "alias/no-such-key"), "is not found")
        self.assertRegex(self.cli_fails("key", "rotate", "alias/no-such-key"), "is not found")


class ReencryptTest(LifecycleCase):
    COUNT = 24
    SIZE = 96 * 1024
    RATE_MIB = 0.5

    def test_reencrypt_rewrites_data_resumes_after_a_restart_and_reports_progress(self):
        bucket = self.new_bucket("re")
        alias, key_id = self.create_key("re")
        ssec_key = os.urandom(32)
        content, heads = {}, {}
        for i in range(self.COUNT):
            name = f"obj/{i:03d}"
            content[name] = random_bytes(self.SIZE, 1000 + i)
            if i % 3 == 0:
                self.put(bucket, name, content[name], "kms", alias, {"i": str(i)},
                         ContentType="application/x-test", Metadata={"i": str(i)})
            else:
                self.put(bucket, name, content[name], ContentType="application/x-test",
                         Metadata={"i": str(i)})
            heads[name] = self.s3.head_object(Bucket=bucket, Key=name)
        for i in range(2):
            content[f"ssec/{i}"] = random_bytes(1000, 2000 + i)
            self.put(bucket, f"ssec/{i}", content[f"ssec/{i}"], "ssec", ssec=ssec_key)
        ssec_blobs = {row[0] for row in self.catalog_query(
            "SELECT b.blob FROM objects o JOIN object_blobs b ON b.object = o.id "
            "WHERE o.bucket = ? AND o.key LIKE 'ssec/%'", bucket)}
        blobs_before = self.blobs()
        ids_before = dict(self.catalog_query(
            "SELECT key, hex(object_id) FROM objects WHERE bucket = ?", bucket))
        # Blobs of other tests' buckets, which this job leaves alone.
        (others,), = self.catalog_query(
            "SELECT count(*) FROM objects o JOIN object_blobs b ON b.object = o.id "
            "WHERE o.bucket != ?", bucket)

        started = time.monotonic()
        out = self.cli_ok("reencrypt", "--bucket", bucket, "--rate", str(self.RATE_MIB))
        match = re.search(r"re-encryption job (\S+) started", out)
        self.assertIsNotNone(match, out)
        job_id = match.group(1)

        # Progress: it moves, and `job show` agrees with `status`.
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            job = self.job(job_id)
            seen.append(job["objects_done"])
            if job["objects_done"] >= 4 and len(set(seen)) >= 2:
                break
            time.sleep(0.1)
        self.assertEqual(job["state"], "running", job)
        self.assertEqual(job["objects_total"], self.COUNT + 2)
        self.assertEqual(job["bytes_total"], self.COUNT * self.SIZE + 2000)
        self.assertEqual(job["rate_bytes_per_second"], int(self.RATE_MIB * MiB))
        self.assertGreater(job["progress"], 0)
        self.assertLess(job["progress"], 1)
        self.assertGreater(seen[-1], seen[0], f"no progress seen: {seen}")
        shown = self.cli_ok("job", "show", job_id)
        self.assertRegex(shown, rf"reencrypt job {job_id}: running, \d+/{self.COUNT + 2} objects")
        text = self.cli_ok("status")
        self.assertIn(job_id, text)
        self.assertIn("running", text)

        # A client overwrites an object the job has not reached yet.
        overwritten = f"obj/{self.COUNT - 1:03d}"
        content[overwritten] = b"a client's newer version"
        self.put(bucket, overwritten, content[overwritten], Metadata={"i": "new"})

        # Stop the server mid-job: it stays running in the catalog.
        self.assertEqual(self.server.stop(), 0)
        state, done = self.catalog_query(
            "SELECT state, objects_done FROM jobs WHERE job_id = ?", job_id)[0]
        self.assertEqual(state, "running")
        self.assertLess(done, self.COUNT, "the job finished before the restart")
        self.assertGreater(done, 0)
        # Without a server, status still reads the catalog.
        offline = self.server.cli("status")
        self.assertEqual(offline.returncode, 0, offline.stderr)
        self.assertIn("not running", offline.stdout)
        self.assertIn(job_id, offline.stdout)

        # Restart: the job resumes from its cursor and finishes.
        self.server.start()
        self.s3 = harness.boto3_client(self.server, recorder=self.recorder)
        out = self.cli_ok("job", "wait", job_id, timeout=300)
        self.assertRegex(out, rf"reencrypt job {job_id} done: re-encrypted \d+ objects, "
                              r"skipped \d+, failed 0")
        elapsed = time.monotonic() - started
        job = self.job(job_id)
        self.assertEqual(job["state"], "done", job)
        self.assertEqual(job["objects_failed"], 0, job)
        self.assertEqual(job["progress"], 1.0)
        # Each object was counted once: SSE-C skipped, the rest re-encrypted
        # (the overwritten one may count as either, depending on timing).
        self.assertEqual(job["objects_done"] + job["objects_skipped"], self.COUNT + 2, job)
        self.assertGreaterEqual(job["objects_skipped"], 2, job)
        self.assertGreaterEqual(job["objects_done"], self.COUNT - 1, job)
        # Throttled: at most RATE plus one second of burst per run (two runs).
        minimum = (self.COUNT * self.SIZE) / (self.RATE_MIB * MiB) - 2 * self.RATE_MIB - 1
        self.assertGreaterEqual(elapsed, minimum, f"{elapsed:.1f}s is faster than the rate")

        # Every non-SSE-C blob is new (fresh object ids); SSE-C ones are untouched.
        blobs_after = self.blobs()
        ids_after = dict(self.catalog_query(
            "SELECT key, hex(object_id) FROM objects WHERE bucket = ?", bucket))
        for name in content:
            if name.startswith("ssec/"):
                self.assertEqual(ids_after[name], ids_before[name], name)
            else:
                self.assertNotEqual(ids_after[name], ids_before[name], name)
        after_ssec = {row[0] for row in self.catalog_query(
            "SELECT b.blob FROM objects o JOIN object_blobs b ON b.object = o.id "
            "WHERE o.bucket = ? AND o.key LIKE 'ssec/%'", bucket)}
        self.assertEqual(after_ssec, ssec_blobs)
        unchanged = set(blobs_before.items()) & set(blobs_after.items())
        self.assertEqual(len(unchanged), 2 + others, "only the two SSE-C blobs may remain")
        self.assertEqual(len(blobs_after), len(blobs_before))

        # Content, metadata and SSE facts are the same; the overwrite survived.
        for name, data in content.items():
            got = self.get(bucket, name, ssec_key if name.startswith("ssec/") else None)
            self.assertEqual(got["Data"], data, name)
            if name.startswith("obj/") and name != overwritten:
                before = heads[name]
                # The ETag too, for SSE-KMS (derived under the old data key) as
                # for AES256 (the MD5): sync tools compare it.
                for field in ("ContentType", "Metadata", "ServerSideEncryption",
                              "SSEKMSKeyId", "LastModified", "ETag"):
                    self.assertEqual(got.get(field), before.get(field), f"{name} {field}")
        self.assertEqual(self.get(bucket, overwritten)["Metadata"], {"i": "new"})

        # Only one key's objects, unthrottled: waits and reports.
        out = self.cli_ok("reencrypt", "--key", alias, "--wait")
        kms_objects = len(range(0, self.COUNT, 3))
        self.assertRegex(out, rf"done: re-encrypted {kms_objects} objects, skipped 0, failed 0")
        # Bad requests fail clearly.
        self.assertIn("no bucket", self.cli_fails("reencrypt", "--bucket", "no-such-bucket"))
        self.assertRegex(self.cli_fails("reencrypt", "--key", "alias/nope"), "is not found")


    def test_reencrypt_keeps_etags_and_the_part_layout_of_multipart_objects(self):
        bucket = self.new_bucket("remp")
        alias, _ = self.create_key("remp")
        parts = [random_bytes(5 * MiB, 3000), random_bytes(5 * MiB + 4321, 3001),
                 random_bytes(300 * 1024, 3002)]
        whole = b"".join(parts)
        extra = {"aws:kms": dict(ServerSideEncryption="aws:kms", SSEKMSKeyId=alias),
                 "AES256": {}}
        for sse, args in extra.items():
            key = f"mp/{sse}"
            uid = self.s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="video/x-test",
                                                  Metadata={"sse": sse}, **args)["UploadId"]
            done = []
            for number, data in enumerate(parts, 1):
                etag = self.s3.upload_part(Bucket=bucket, Key=key, UploadId=uid,
                                           PartNumber=number, Body=data)["ETag"]
                done.append({"PartNumber": number, "ETag": etag})
            self.s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                              MultipartUpload={"Parts": done})
        self.put(bucket, "single/kms", random_bytes(70000, 3003), "kms", alias, {"c": "d"},
                 ChecksumAlgorithm="SHA256")
        self.put(bucket, "single/s3", random_bytes(70000, 3004), ChecksumAlgorithm="CRC32")
        names = ["mp/aws:kms", "mp/AES256", "single/kms", "single/s3"]
        heads = {n: self.s3.head_object(Bucket=bucket, Key=n, ChecksumMode="ENABLED")
                 for n in names}
        for sse in extra:
            head = heads[f"mp/{sse}"]
            self.assertTrue(head["ETag"].endswith('-3"'), head["ETag"])
            self.assertEqual(head["ServerSideEncryption"], sse)
        ids_before = dict(self.catalog_query(
            "SELECT key, hex(object_id) FROM objects WHERE bucket = ?", bucket))
        blobs_before = self.blobs()

        out = self.cli_ok("reencrypt", "--bucket", bucket, "--wait")
        self.assertRegex(out, r"done: re-encrypted 4 objects, skipped 0, failed 0")

        ids_after = dict(self.catalog_query(
            "SELECT key, hex(object_id) FROM objects WHERE bucket = ?", bucket))
        blob_rows = self.catalog_query(
            "SELECT o.key, b.blob FROM objects o JOIN object_blobs b ON b.object = o.id "
            "WHERE o.bucket = ?", bucket)
        blobs_after = self.blobs()
        for name in names:
            self.assertNotEqual(ids_after[name], ids_before[name], name)
            # Every blob of the object is new (its name carries the new object id).
            mine = [blob for key, blob in blob_rows if key == name]
            self.assertEqual(len(mine), 3 if name.startswith("mp/") else 1, name)
            for blob in mine:
                self.assertIn(ids_after[name].lower(), blob, name)
        self.assertEqual(len(blobs_after), len(blobs_before))
        # Only other buckets' blobs (none but this bucket's 3 + 3 + 1 + 1) stay.
        self.assertEqual(len(set(blobs_before.values()) & set(blobs_after.values())),
                         len(blobs_before) - 8, "a blob survived the re-encryption byte for byte")
        # No internal multipart upload is visible, during or after.
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])

        for name in names:
            before = heads[name]
            after = self.s3.head_object(Bucket=bucket, Key=name, ChecksumMode="ENABLED")
            for field in ("ETag", "ContentLength", "ContentType", "Metadata", "LastModified",
                          "ServerSideEncryption", "SSEKMSKeyId", "ChecksumSHA256",
                          "ChecksumCRC32"):
                self.assertEqual(after.get(field), before.get(field), f"{name} {field}")
        for sse in extra:
            name = f"mp/{sse}"
            self.assertEqual(self.get(bucket, name)["Data"], whole, name)
            first = self.s3.head_object(Bucket=bucket, Key=name, PartNumber=1)
            self.assertEqual(first["PartsCount"], 3, name)
            # As AWS: no part count without a part number.
            self.assertNotIn("PartsCount", self.s3.head_object(Bucket=bucket, Key=name), name)
            self.assertEqual(first["ContentLength"], len(parts[0]), name)
            self.assertEqual(first["ETag"], heads[name]["ETag"], name)
            offset = 0
            for number, data in enumerate(parts, 1):
                got = self.s3.get_object(Bucket=bucket, Key=name, PartNumber=number)
                self.assertEqual(got["PartsCount"], 3, name)
                self.assertEqual(got["ContentRange"],
                                 f"bytes {offset}-{offset + len(data) - 1}/{len(whole)}", name)
                self.assertEqual(got["Body"].read(), data, f"{name} part {number}")
                offset += len(data)
            with self.assertRaises(ClientError) as caught:
                self.s3.get_object(Bucket=bucket, Key=name, PartNumber=4)
            self.assertEqual(error_code(caught.exception), "InvalidPartNumber")
            self.assertEqual(error_status(caught.exception), 416)
        single = self.s3.get_object(Bucket=bucket, Key="single/s3", PartNumber=1)
        self.assertEqual(single["Body"].read(), random_bytes(70000, 3004))


class DestroyTest(LifecycleCase):
    def test_destroy_crypto_shreds_after_the_pending_window(self):
        bucket = self.new_bucket("ds")
        alias, key_id = self.create_key("ds")
        doomed = {f"doomed/{i}": random_bytes(1500 + i, i) for i in range(3)}
        for name, data in doomed.items():
            self.put(bucket, name, data, "kms", alias)
        self.put(bucket, "safe", b"safe under sse-s3")
        self.assertEqual(len(self.catalog_query(
            "SELECT version FROM kms_key_versions WHERE key_id = ?", key_id)), 1)

        out = self.cli_ok("key", "destroy", alias, "--pending-seconds", "2")
        self.assertIn("pending deletion", out)
        self.assertIn("3 objects", out)
        # Unreadable and unwritable at once, with a clear error.
        with self.assertRaises(ClientError) as caught:
            self.get(bucket, "doomed/0")
        self.assertEqual((error_code(caught.exception), error_status(caught.exception)),
                         (INVALID_STATE, 400), caught.exception.response)
        self.assertIn("pending deletion", caught.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as caught:
            self.put(bucket, "new", b"x", "kms", alias)
        self.assertEqual(error_code(caught.exception), INVALID_STATE)
        self.assertIn("pending-destroy", self.cli_ok("key", "list"))
        self.assertIn("destroy at:", self.cli_ok("key", "describe", alias))
        self.assertEqual(self.key_status(key_id)["state"], "pending-destroy")
        # No enabling it meanwhile.
        self.assertIn("pending deletion", self.cli_fails("key", "enable", alias))

        time.sleep(2.5)
        with self.assertRaises(ClientError) as caught:
            self.get(bucket, "doomed/1")
        self.assertEqual((error_code(caught.exception), error_status(caught.exception)),
                         (INVALID_STATE, 400), caught.exception.response)
        self.assertIn("crypto-shredded", caught.exception.response["Error"]["Message"])
        self.assertEqual(self.head_status(bucket, "doomed/2"), 400)
        # The salts are gone from the catalog: nothing can derive the KEK again.
        self.assertEqual(self.catalog_query(
            "SELECT version FROM kms_key_versions WHERE key_id = ?", key_id), [])
        self.assertEqual(self.catalog_query(
            "SELECT state FROM kms_keys WHERE key_id = ?", key_id), [("destroyed",)])

        # Listings say so.
        listing = self.cli_ok("key", "list")
        self.assertRegex(listing, rf"{key_id} +destroyed ")
        self.assertRegex(listing, rf"{key_id}: destroyed at \S+; 3 objects \(\S+ \S+\) "
                                  r"crypto-shredded")
        describe = self.cli_ok("key", "describe", key_id)
        self.assertRegex(describe, r"state: +destroyed")
        self.assertRegex(describe, r"destroyed: +\S+; 3 objects .* crypto-shredded")
        key = self.key_status(key_id)
        self.assertEqual(key["state"], "destroyed")
        self.assertEqual(key["shredded_objects"], 3)
        self.assertEqual(key["shredded_bytes"], sum(len(d) for d in doomed.values()))
        self.assertIsNotNone(key["destroy_time"])
        self.assertIn("crypto-shredded", self.cli_ok("status"))
        # The object is still listed (and can be deleted); others are untouched.
        listed = [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket)["Contents"]]
        self.assertIn("doomed/0", listed)
        # The raw S3 listing flags the shredded ones with an extension element.
        resp = harness.signed_request(self.server, "GET", f"/{bucket}?list-type=2")
        self.assertEqual(resp.status, 200, resp)
        body = resp.body.decode()
        for entry in re.findall(r"<Contents>.*?</Contents>", body):
            name = re.search(r"<Key>(.*?)</Key>", entry).group(1)
            self.assertEqual("<StrongroomShredded>true</StrongroomShredded>" in entry,
                             name.startswith("doomed/"), entry)
        self.assertEqual(self.get(bucket, "safe")["Data"], b"safe under sse-s3")
        self.s3.delete_object(Bucket=bucket, Key="doomed/0")
        # A destroyed key stays destroyed.
        for args in (("enable", alias), ("cancel-destroy", alias), ("rotate", alias),
                     ("destroy", alias)):
            self.assertIn("destroyed", self.cli_fails("key", *args))

    def test_cancel_destroy_brings_the_key_back_disabled(self):
        bucket = self.new_bucket("cd")
        alias, key_id = self.create_key("cd")
        self.put(bucket, "k", b"kept", "kms", alias)
        out = self.cli_ok("key", "destroy", alias)  # default: 7 days
        self.assertIn("pending deletion", out)
        due = self.key_status(key_id)["destroy_time"]
        due_s = calendar.timegm(time.strptime(due, "%Y-%m-%dT%H:%M:%SZ"))
        self.assertAlmostEqual(due_s - time.time(), 7 * 86400, delta=120)
        self.assertEqual(self.head_status(bucket, "k"), 400)
        self.assertIn("disabled", self.cli_ok("key", "cancel-destroy", alias))
        self.assertEqual(self.key_status(key_id)["state"], "disabled")
        self.cli_ok("key", "enable", alias)
        self.assertEqual(self.get(bucket, "k")["Data"], b"kept")
        # Built-in keys cannot be destroyed; bad windows are usage errors.
        self.assertIn("built-in", self.cli_fails("key", "destroy", "alias/aws/s3"))
        proc = self.server.cli("key", "destroy", alias, "--pending-seconds", "-1")
        self.assertEqual(proc.returncode, 2, proc.stderr)
        proc = self.server.cli("key", "destroy", alias, "--pending-days", "1",
                               "--pending-seconds", "5")
        self.assertEqual(proc.returncode, 2, proc.stderr)


class StatusTest(LifecycleCase):
    server_options = {"extra_args": ("--allow-insecure-sse-on-loopback",), "sealed": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

    def test_status_sealed_unsealed_and_not_running(self):
        text = self.cli_ok("status")
        self.assertIn("server:     running, sealed", text)
        status = self.status()
        self.assertEqual(status["server"], {"running": True, "seal": "sealed"})
        self.assertEqual(status["providers"][0]["id"], "strongroom")
        self.assertEqual(status["providers"][0]["health"], "sealed")
        # A rewrap needs the root key.
        self.assertIn("sealed", self.cli_fails("key", "rewrap", "sse-s3"))

        proc = self.server.unseal()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        bucket = self.new_bucket("st")
        for i in range(4):
            self.put(bucket, f"o{i}", b"x" * (100 * (i + 1)))
        self.put(bucket, "c", b"y" * 10, "ssec", ssec=os.urandom(32))
        self.cli_ok("key", "rotate", "sse-s3")
        self.put(bucket, "o-new", b"z" * 50)
        status = self.status()
        self.assertEqual(status["server"], {"running": True, "seal": "unsealed"})
        self.assertEqual(status["providers"][0]["health"], "ok")
        self.assertEqual(status["objects"]["count"], 5)
        self.assertEqual(status["objects"]["bytes"], 1000 + 50)
        self.assertEqual(status["objects"]["current_version"], 1)
        self.assertAlmostEqual(status["objects"]["current_share"], 0.2, places=3)
        self.assertEqual(status["objects"]["sse_c_count"], 1)
        sse = status["keys"][0]
        self.assertEqual(sse["key_id"], "sse-s3")
        self.assertEqual(sse["kind"], "sse-s3")
        self.assertEqual(sse["current_version"], 2)
        self.assertEqual(sse["versions"], [{"version": 1, "objects": 4, "bytes": 1000},
                                           {"version": 2, "objects": 1, "bytes": 50}])
        text = self.cli_ok("status")
        self.assertIn("server:     running, unsealed", text)
        self.assertIn("20% under their key's current version", text)
        self.assertIn("sse-s3: objects per version: v1: 4, v2: 1", text)

        # The same status over HTTP for admins (signed like any S3 request).
        resp = harness.signed_request(self.server, "GET", "/_strongroom/status")
        self.assertEqual(resp.status, 200, resp)
        over_http = json.loads(resp.body)
        self.assertEqual(over_http["server"]["seal"], "unsealed")
        self.assertEqual(over_http["objects"]["count"], 5)
        self.server.add_user("statusreader", "statusreader-secret-0123456789")
        resp = harness.signed_request(self.server, "GET", "/_strongroom/status",
                                      access_key="statusreader",
                                      secret_key="statusreader-secret-0123456789")
        self.assertEqual((resp.status, resp.code), (403, "AccessDenied"), resp)
        self.assertEqual(harness.http_request(self.server, "GET", "/_strongroom/status").status,
                         403)

        self.assertEqual(self.server.stop(), 0)
        proc = self.server.cli("status")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("server:     not running", proc.stdout)
        self.assertIn("sse-s3", proc.stdout)
        offline = json.loads(self.server.cli("status", "--json").stdout)
        self.assertEqual(offline["server"], {"running": False, "seal": "unknown"})
        self.assertEqual(offline["objects"]["count"], 5)
        # Jobs need a server.
        self.assertIn("no strongroom server is running", self.cli_fails("key", "rewrap", "sse-s3"))
        self.assertIn("no strongroom server is running", self.cli_fails("reencrypt"))


if __name__ == "__main__":
    unittest.main()
