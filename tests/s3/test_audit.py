# SPDX-License-Identifier: Apache-2.0
"""The key audit log and Shamir unsealing against a real server (issue #5 items 2, 4).

AuditLogTest (passphrase keyring, SSE over loopback HTTP): every key use and
change lands in <data_dir>/audit.log as one JSON line — the unseal at start,
DEK wraps and unwraps of SSE-S3, SSE-KMS and SSE-C objects with the caller's
access key, key id and version, bucket and object, refused uses with their
reason, `strongroom key create/grant/revoke/disable/enable` run as separate
processes — and nothing secret: no SSE-C key (raw, base64, hex), no
passphrase, no secret access key.

ShamirUnsealTest: `strongroom init --shares 5 --threshold 3` prints five
shares once; the key directory holds only root.shamir; the server starts
sealed and stays sealed (503) with two shares; mistyped and repeated shares
are refused without counting; a restart forgets partial shares; three shares
unseal it; the audit log records each share and the unseal, never a share.

    STRONGROOM_BIN=build/src/cli/strongroom tests/s3/run_all.sh test_audit
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

try:
    import boto3  # noqa: F401
    from botocore.exceptions import ClientError
    IMPORT_ERROR = None
except ImportError as exc:  # fail, never skip
    IMPORT_ERROR = exc
    ClientError = Exception

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def read_audit(path: str) -> list[dict]:
    """Every line of the audit log, each of which must be a JSON object."""
    if not os.path.exists(path):
        return []
    entries = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            assert line.endswith("\n"), f"audit line {number} is not terminated: {line!r}"
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            for field in ("time", "operation", "result", "pid"):
                assert field in entry, f"audit line {number} lacks {field}: {line!r}"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"]), entry
            assert entry["result"] in ("ok", "error"), entry
            entries.append(entry)
    return entries


def matching(entries: list[dict], **fields) -> list[dict]:
    return [e for e in entries if all(e.get(k) == v for k, v in fields.items())]


class AuditCase(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        if IMPORT_ERROR is not None:
            raise AssertionError(f"boto3 is not importable by {sys.executable}: {IMPORT_ERROR}")
        super().setUpClass()

    @property
    def audit_path(self) -> str:
        return os.path.join(self.server.data_dir, "audit.log")

    def audit(self) -> list[dict]:
        return read_audit(self.audit_path)

    def audit_since(self, mark: int, settle: float = 0.1) -> list[dict]:
        time.sleep(settle)
        return self.audit()[mark:]

    def cli_ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        proc = self.server.cli(*args, **kwargs)
        self.assertEqual(proc.returncode, 0,
                         f"strongroom {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
        return proc

    def assertOne(self, entries: list[dict], **fields) -> dict:
        found = matching(entries, **fields)
        self.assertEqual(len(found), 1, f"expected one audit entry with {fields}, got {found}\n"
                                        f"all entries: {json.dumps(entries, indent=1)}")
        return found[0]


class AuditLogTest(AuditCase):
    """A passphrase keyring; SSE-C and SSE-KMS over loopback HTTP."""

    server_options = {"extra_args": ("--allow-insecure-sse-on-loopback",)}

    def test_unseal_at_start_is_recorded(self):
        entries = self.audit()
        init = self.assertOne(entries, operation="init")
        self.assertEqual(init["method"], "passphrase")
        self.assertTrue(init["actor"].startswith("local:"), init)
        unseal = self.assertOne(entries, operation="unseal")
        self.assertEqual((unseal["result"], unseal["method"], unseal["actor"], unseal["via"]),
                         ("ok", "passphrase", "server", "start"))
        self.assertEqual(unseal["pid"], self.server.proc.pid)
        self.assertNotEqual(init["pid"], unseal["pid"])  # init ran as its own process

    def test_sse_s3_writes_and_reads(self):
        bucket = self.new_bucket("s3")
        mark = len(self.audit())
        self.s3.put_object(Bucket=bucket, Key="dir/plain.txt", Body=b"hello")
        self.assertEqual(self.get_bytes(bucket, "dir/plain.txt"), b"hello")
        self.s3.head_object(Bucket=bucket, Key="dir/plain.txt")
        entries = self.audit_since(mark)
        expected = [("wrap", "PutObject"), ("unwrap", "GetObject"), ("unwrap", "HeadObject")]
        self.assertEqual([(e["operation"], e["request"]) for e in entries], expected, entries)
        for entry in entries:
            self.assertEqual(entry["result"], "ok", entry)
            self.assertEqual(entry["access_key"], self.server.access_key, entry)
            self.assertEqual((entry["key_id"], entry["key_version"], entry["mode"]),
                             ("sse-s3", 1, "SSE-S3"), entry)
            self.assertEqual((entry["bucket"], entry["object"]), (bucket, "dir/plain.txt"))
            self.assertEqual(entry["pid"], self.server.proc.pid)

    def test_kms_keys_grants_and_refusals(self):
        bucket = self.new_bucket("kms")
        name = f"audit-{uuid.uuid4().hex[:8]}"
        user = f"SRAUDITUSER{uuid.uuid4().hex[:8].upper()}"
        user_secret = "audit-user-secret-" + uuid.uuid4().hex
        proc = self.server.add_user(user, user_secret)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        mark = len(self.audit())

        out = self.cli_ok("key", "create", name).stdout
        key_id = UUID_RE.search(out).group(0)
        self.cli_ok("key", "grant", f"alias/{name}", user)
        other = harness.boto3_client(self.server, user, user_secret)
        other.put_object(Bucket=bucket, Key="k", Body=b"kms data", ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=f"alias/{name}")
        self.assertEqual(other.get_object(Bucket=bucket, Key="k")["Body"].read(), b"kms data")
        self.cli_ok("key", "revoke", key_id, user)
        with self.assertRaises(ClientError) as refused:
            other.get_object(Bucket=bucket, Key="k")
        self.assertEqual(harness.error_code(refused.exception), "AccessDenied")
        self.cli_ok("key", "disable", key_id)
        with self.assertRaises(ClientError):
            self.s3.get_object(Bucket=bucket, Key="k")  # the admin needs no grant, but disabled
        self.cli_ok("key", "enable", key_id)
        failed = self.server.cli("key", "grant", key_id, "NOSUCHUSER")
        self.assertEqual(failed.returncode, 1)

        entries = self.audit_since(mark)
        create = self.assertOne(entries, operation="key.create")
        self.assertEqual((create["result"], create["key_id"], create["key_version"]),
                         ("ok", key_id, 1))
        self.assertTrue(create["actor"].startswith("local:"), create)
        self.assertNotIn("access_key", create)
        grant = self.assertOne(entries, operation="key.grant", grantee=user)
        self.assertEqual((grant["result"], grant["key_id"]), ("ok", key_id))
        revoke = self.assertOne(entries, operation="key.revoke")
        self.assertEqual((revoke["result"], revoke["key_id"], revoke["grantee"]),
                         ("ok", key_id, user))
        self.assertEqual(self.assertOne(entries, operation="key.disable")["key_id"], key_id)
        self.assertEqual(self.assertOne(entries, operation="key.enable")["result"], "ok")
        bad_grant = self.assertOne(entries, operation="key.grant", grantee="NOSUCHUSER")
        self.assertEqual(bad_grant["result"], "error")
        self.assertIn("NOSUCHUSER", bad_grant["error"])

        uses = [e for e in entries if e["operation"] in ("wrap", "unwrap")]
        summary = [(e["operation"], e["request"], e["result"], e.get("access_key")) for e in uses]
        self.assertEqual(summary, [("wrap", "PutObject", "ok", user),
                                   ("unwrap", "GetObject", "ok", user),
                                   ("unwrap", "GetObject", "error", user),
                                   ("unwrap", "GetObject", "error", self.server.access_key)],
                         uses)
        for entry in uses:
            self.assertEqual((entry["key_id"], entry["key_version"], entry["mode"]),
                             (key_id, 1, "SSE-KMS"), entry)
            self.assertEqual((entry["bucket"], entry["object"]), (bucket, "k"))
        self.assertTrue(uses[2]["error"].startswith("AccessDenied"), uses[2])
        self.assertTrue(uses[3]["error"].startswith("KMS.DisabledException"), uses[3])

    def test_rotation_shows_in_key_versions(self):
        bucket = self.new_bucket("rotate")
        name = f"rot-{uuid.uuid4().hex[:8]}"
        key_id = UUID_RE.search(self.cli_ok("key", "create", name).stdout).group(0)
        kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
        self.s3.put_object(Bucket=bucket, Key="old", Body=b"v1", **kms)
        mark = len(self.audit())
        self.cli_ok("key", "rotate", key_id)
        self.s3.put_object(Bucket=bucket, Key="new", Body=b"v2", **kms)
        self.assertEqual(self.get_bytes(bucket, "old"), b"v1")
        entries = self.audit_since(mark)
        rotate = self.assertOne(entries, operation="key.rotate")
        self.assertEqual((rotate["result"], rotate["key_id"], rotate["key_version"]),
                         ("ok", key_id, 2))
        uses = [(e["operation"], e["object"], e["key_id"], e["key_version"]) for e in entries
                if e["operation"] in ("wrap", "unwrap")]
        self.assertEqual(uses, [("wrap", "new", key_id, 2), ("unwrap", "old", key_id, 1)])

    def test_multipart_and_copy_uses(self):
        bucket = self.new_bucket("mp")
        mark = len(self.audit())
        upload = self.s3.create_multipart_upload(Bucket=bucket, Key="big",
                                                 ServerSideEncryption="aws:kms")
        part = self.s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"],
                                   PartNumber=1, Body=b"only part")
        self.s3.complete_multipart_upload(
            Bucket=bucket, Key="big", UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        self.s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "big"})
        entries = self.audit_since(mark)
        summary = [(e["operation"], e["request"], e["object"], e["mode"]) for e in entries]
        self.assertEqual(summary, [("wrap", "CreateMultipartUpload", "big", "SSE-KMS"),
                                   ("unwrap", "UploadPart", "big", "SSE-KMS"),
                                   ("unwrap", "CompleteMultipartUpload", "big", "SSE-KMS"),
                                   ("unwrap", "GetObject", "big", "SSE-KMS"),
                                   ("wrap", "CopyObject", "copy", "SSE-S3")], entries)
        self.assertTrue(all(e["access_key"] == self.server.access_key for e in entries), entries)
        self.assertTrue(UUID_RE.fullmatch(entries[0]["key_id"]), entries[0])  # the aws/s3 key

    def test_sse_c_is_recorded_without_the_key(self):
        bucket = self.new_bucket("ssec")
        key = hashlib.sha256(b"strongroom audit test customer key").digest()
        mark = len(self.audit())
        self.s3.put_object(Bucket=bucket, Key="c", Body=b"customer data",
                           SSECustomerAlgorithm="AES256", SSECustomerKey=key)
        self.assertEqual(self.get_bytes(bucket, "c", SSECustomerAlgorithm="AES256",
                                        SSECustomerKey=key), b"customer data")
        wrong = hashlib.sha256(b"another key").digest()
        with self.assertRaises(ClientError):
            self.s3.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256",
                               SSECustomerKey=wrong)
        entries = self.audit_since(mark)
        summary = [(e["operation"], e["request"], e["result"], e["mode"]) for e in entries]
        self.assertEqual(summary, [("wrap", "PutObject", "ok", "SSE-C"),
                                   ("unwrap", "GetObject", "ok", "SSE-C"),
                                   ("unwrap", "GetObject", "error", "SSE-C")], entries)
        self.assertTrue(entries[2]["error"].startswith("AccessDenied"), entries[2])
        for entry in entries:
            self.assertNotIn("key_id", entry)
        # Nothing about either key anywhere in the log.
        with open(self.audit_path, "rb") as f:
            text = f.read()
        for secret in (key, wrong):
            for form in (secret, secret.hex().encode(), base64.b64encode(secret),
                         base64.b64encode(hashlib.md5(secret).digest()),
                         hashlib.md5(secret).hexdigest().encode()):
                self.assertNotIn(form, text)

    def test_no_secret_in_the_log(self):
        # Runs after the others in this class (alphabetical order): the log
        # then holds every kind of event this class produces.
        self.s3.list_buckets()
        with open(self.audit_path, "rb") as f:
            text = f.read()
        self.assertGreater(text.count(b"\n"), 3)
        self.assertNotIn(harness.PASSPHRASE.encode(), text)
        self.assertNotIn(self.server.secret_key.encode(), text)
        self.assertEqual(os.stat(self.audit_path).st_mode & 0o777, 0o600)

    def test_audit_log_flag_moves_the_log(self):
        path = os.path.join(self.tmp, "elsewhere", "audit.jsonl")
        os.makedirs(os.path.dirname(path))
        name = f"moved-{uuid.uuid4().hex[:8]}"
        self.cli_ok("key", "create", name, "--audit-log", path)
        moved = read_audit(path)
        self.assertEqual([e["operation"] for e in moved], ["key.create"])
        self.assertEqual(matching(self.audit(), operation="key.create", key=name), [])
        # An audit log that cannot be opened refuses the change.
        proc = self.server.cli("key", "create", name + "-x", "--audit-log",
                               os.path.join(self.tmp, "no", "such", "dir", "audit.log"))
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("audit log", proc.stderr)
        listing = self.cli_ok("key", "list").stdout
        self.assertNotIn(name + "-x", listing)


class ShamirServer(harness.StrongroomServer):
    """A server whose keyring is `init --shares 5 --threshold 3` (no passphrase)."""

    SHARES, THRESHOLD = 5, 3

    def __init__(self, *args, **kwargs):
        super().__init__(*args, sealed=True, **kwargs)
        self.shares: list[str] = []

    @property
    def initialized(self) -> bool:
        return os.path.exists(os.path.join(self.key_dir, "root.shamir"))

    def init(self, check: bool = True) -> subprocess.CompletedProcess:
        env = self.base_env()
        env["STRONGROOM_ACCESS_KEY"] = self.access_key
        env["STRONGROOM_SECRET_KEY"] = self.secret_key
        proc = subprocess.run([harness.BINARY, "init", "--data-dir", self.data_dir, "--key-dir",
                               self.key_dir, "--shares", str(self.SHARES), "--threshold",
                               str(self.THRESHOLD)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"strongroom init --shares failed: {proc.stdout}{proc.stderr}")
        self.init_result = proc
        return proc


class ShamirUnsealTest(AuditCase):
    @classmethod
    def setUpClass(cls):
        if IMPORT_ERROR is not None:
            raise AssertionError(f"boto3 is not importable by {sys.executable}: {IMPORT_ERROR}")
        cls.tmp = tempfile.mkdtemp(prefix="sr-s3-ShamirUnsealTest-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.home = os.path.join(cls.tmp, "home")
        os.makedirs(os.path.join(cls.home, ".aws"))
        cls.recorder = harness.ExchangeRecorder()
        cls.server = ShamirServer(os.path.join(cls.tmp, "server"))
        cls.addClassCleanup(cls._stop_quietly)
        cls.server.start()
        cls.s3 = harness.boto3_client(cls.server, recorder=cls.recorder)
        cls._bucket_counter = 0

    def shares(self) -> list[str]:
        """The shares init printed: (index, checksum, text) checked, texts returned."""
        out = self.server.init_result.stdout
        lines = re.findall(r"^  share (\d) of 5 \(checksum ([0-9a-f]{8})\): (srshare1-\S+)$", out,
                           re.M)
        self.assertEqual([int(i) for i, _, _ in lines], [1, 2, 3, 4, 5], out)
        texts = []
        for index, checksum, text in lines:
            self.assertTrue(text.startswith(f"srshare1-k3-x{index}-"), text)
            self.assertTrue(text.endswith("-" + checksum), text)
            texts.append(text)
        self.assertEqual(len(set(t.split("-")[3] for t in texts)), 1)  # one key check
        return texts

    def unseal(self, *shares: str, via_file: bool = True) -> subprocess.CompletedProcess:
        if via_file:
            return self.server.cli("unseal", "--share-file", "-", input="".join(
                s + "\n" for s in shares))
        args = []
        for share in shares:
            args += ["--share", share]
        return self.server.cli("unseal", *args)

    def assertSealed(self):
        health = harness.http_request(self.server, "GET", "/health")
        self.assertEqual(health.status, 503, health)
        with self.assertRaises(ClientError) as ctx:
            self.s3.list_buckets()
        self.assertEqual(harness.error_status(ctx.exception), 503)

    def test_shares_unseal_the_server(self):
        shares = self.shares()
        # Only the check record is on disk: no root key, no share.
        self.assertEqual(sorted(os.listdir(self.server.key_dir)), ["root.shamir"])
        with open(os.path.join(self.server.key_dir, "root.shamir")) as f:
            record = f.read()
        self.assertTrue(record.startswith("strongroom-shamir-root 1\nthreshold 3\nshares 5\n"))
        for share in shares:
            self.assertNotIn(share.split("-")[4], record)
        self.assertIn("SEALED", "\n".join(self.server.stdout_lines))
        self.assertSealed()

        first = self.unseal(shares[0])
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("1 of 3 shares", first.stdout)
        # A mistyped share and a repeated one are refused and not counted.
        typo = shares[1][:-12] + ("0" if shares[1][-12] != "0" else "1") + shares[1][-11:]
        refused = self.unseal(typo, via_file=False)
        self.assertEqual(refused.returncode, 1, refused.stdout)
        self.assertIn("checksum", refused.stderr)
        again = self.unseal(shares[0])
        self.assertEqual(again.returncode, 1, again.stdout)
        self.assertIn("given already", again.stderr)
        second = self.unseal(shares[1], via_file=False)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertIn("2 of 3 shares", second.stdout)
        self.assertIn("still sealed", second.stdout)
        self.assertSealed()  # K - 1 shares: still sealed

        # A restart forgets the two shares.
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.s3 = harness.boto3_client(self.server, recorder=self.recorder)  # a new port
        self.assertSealed()
        third = self.unseal(shares[2])
        self.assertEqual(third.returncode, 0, third.stderr)
        self.assertIn("1 of 3 shares", third.stdout)
        # init's own output lines work as a share file; shares 4 and 5 finish it.
        lines = [l for l in self.server.init_result.stdout.splitlines() if "srshare1" in l]
        rest = self.server.cli("unseal", "--share-file", "-", input="\n".join(lines[3:]) + "\n")
        self.assertEqual(rest.returncode, 0, rest.stderr)
        self.assertIn("unsealed", rest.stdout)
        self.assertEqual(harness.http_request(self.server, "GET", "/health").status, 200)
        bucket = self.new_bucket("shamir")
        self.s3.put_object(Bucket=bucket, Key="k", Body=b"after shares")
        self.assertEqual(self.get_bytes(bucket, "k"), b"after shares")
        done = self.unseal(shares[4])
        self.assertEqual(done.returncode, 0)
        self.assertIn("already unsealed", done.stdout)

        entries = self.audit()
        self.assertEqual(self.assertOne(entries, operation="init")["method"], "shamir")
        share_events = matching(entries, operation="unseal.share")
        self.assertEqual([(e["result"], e["received"]) for e in share_events],
                         [("ok", "1"), ("error", "1"), ("error", "1"), ("ok", "2"),
                          ("ok", "1"), ("ok", "2"), ("ok", "3")], share_events)
        self.assertEqual([e.get("share") for e in share_events if e["result"] == "ok"],
                         ["1", "2", "3", "4", "5"])
        unseal = self.assertOne(entries, operation="unseal")
        self.assertEqual((unseal["result"], unseal["method"]), ("ok", "shamir"))
        self.assertEqual(unseal["pid"], self.server.proc.pid)
        # No share, nor any share's payload, in the log or the server's output.
        with open(self.audit_path, encoding="utf-8") as f:
            text = f.read()
        output = "\n".join(self.server.raw_stdout + self.server.stderr_lines)
        for share in shares:
            payload = share.split("-")[4]
            self.assertNotIn(payload, text)
            self.assertNotIn(payload, output)

    def test_passphrase_and_dev_mode_are_refused(self):
        proc = self.server.cli("unseal", env={"STRONGROOM_PASSPHRASE": "not a share"})
        # Sealed or not, a passphrase is no way into a Shamir keyring.
        if "already unsealed" not in proc.stdout:
            self.assertEqual(proc.returncode, 1, proc.stdout)
            self.assertIn("Shamir shares", proc.stderr)
        again = self.server.cli("init", "--shares", "3", "--threshold", "2")
        self.assertEqual(again.returncode, 1)
        self.assertIn("already exists", again.stderr)
        bad = subprocess.run([harness.BINARY, "init", "--data-dir",
                              os.path.join(self.tmp, "d2"), "--key-dir",
                              os.path.join(self.tmp, "k2"), "--shares", "2", "--threshold", "3"],
                             capture_output=True, text=True, env=self.server.base_env(),
                             stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(bad.returncode, 1, bad.stdout)
        self.assertIn("2 <= K <= N", bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "k2", "root.shamir")))


if __name__ == "__main__":
    unittest.main()
