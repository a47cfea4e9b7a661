# SPDX-License-Identifier: Apache-2.0
"""Operations: /health, /metrics, the access log, graceful SIGTERM during an
upload, `strongroom user add` while running, restart keeps data, and
encryption at rest (no plaintext in the data directory).

    /usr/bin/python3 -m unittest -v tests/s3/test_ops.py
"""

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import http_request, sign_headers  # noqa: E402

try:
    from botocore.exceptions import ClientError
except ImportError:  # reported by the setUpClass of the base class users
    ClientError = Exception

MiB = 1 << 20


class OpsTest(harness.ServerTestCase):

    def test_health(self):
        for path in ("/health", "/_strongroom/health"):
            with self.subTest(path=path):
                resp = http_request(self.server, "GET", path)
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.body.strip(), b"ok")

    def test_metrics(self):
        bucket = self.new_bucket("metrics")
        for i in range(3):
            self.s3.put_object(Bucket=bucket, Key=f"m{i}", Body=b"x" * 1000)
        self.s3.get_object(Bucket=bucket, Key="m0")["Body"].read()
        self.assertEqual(self.head_status(bucket, "missing"), 404)
        resp = http_request(self.server, "GET", "/metrics")
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.headers.get("content-type", "").startswith("text/plain"), resp)
        text = resp.body.decode()
        self.assertIn("# TYPE strongroom_requests_total counter", text)
        counts = {}
        for m in re.finditer(r'^strongroom_requests_total\{operation="(\w+)",status="(\d+)"\} (\d+)$',
                             text, re.M):
            counts[(m.group(1), int(m.group(2)))] = int(m.group(3))
        self.assertGreaterEqual(counts.get(("PutObject", 200), 0), 3, text[:2000])
        self.assertGreaterEqual(counts.get(("GetObject", 200), 0), 1, text[:2000])
        self.assertGreaterEqual(counts.get(("HeadObject", 404), 0), 1, text[:2000])
        self.assertRegex(text, r"(?m)^strongroom_received_bytes_total \d+")
        received = int(re.search(r"(?m)^strongroom_received_bytes_total (\d+)", text).group(1))
        self.assertGreaterEqual(received, 3000)
        self.assertIn('strongroom_request_duration_seconds_bucket{operation="PutObject",le="+Inf"}',
                      text)

    def test_access_log_is_json_without_secrets(self):
        bucket = self.new_bucket("log")
        self.s3.put_object(Bucket=bucket, Key="logged key", Body=b"log me")
        url = self.s3.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                                   "Key": "logged key"})
        signature = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]
        target = url.split(self.server.host_port, 1)[1]
        resp = http_request(self.server, "GET", target)
        self.assertEqual(resp.status, 200, resp)
        headers = sign_headers(self.server, "GET", f"/{bucket}/logged%20key")
        header_signature = headers["Authorization"].rsplit("Signature=", 1)[1]
        resp = http_request(self.server, "GET", f"/{bucket}/logged%20key", headers)
        self.assertEqual(resp.status, 200, resp)
        resp = harness.signed_request(self.server, "GET", f"/{bucket}/k",
                                      secret_key="a-wrong-secret")
        self.assertEqual(resp.status, 403)
        self.server.wait_for_log(lambda e: e.get("status") == 403, timeout=5)
        time.sleep(0.3)

        self.assertEqual(self.server.bad_log_lines, [], "access log lines that are not JSON")
        json_lines = [line for line in self.server.raw_stdout if line.startswith("{")]
        self.assertGreater(len(json_lines), 3)
        for line in json_lines:
            entry = json.loads(line)
            for field in ("time", "request_id", "method", "operation", "status", "bucket", "key",
                          "access_key", "bytes_in", "bytes_out", "duration_s"):
                self.assertIn(field, entry, line)
        everything = "\n".join(self.server.raw_stdout + self.server.stderr_lines)
        self.assertNotIn(self.server.secret_key, everything, "the secret key was printed")
        self.assertNotIn(signature, everything, "a presigned X-Amz-Signature was logged")
        self.assertNotIn(header_signature, everything, "an Authorization signature was logged")
        self.assertNotIn("X-Amz-Signature", everything)
        gets = [json.loads(line) for line in json_lines
                if json.loads(line).get("key") == "logged key"]
        self.assertTrue(any(e["operation"] == "GetObject" and e["status"] == 200 for e in gets),
                        gets)
        denied = [json.loads(line) for line in json_lines if json.loads(line)["status"] == 403]
        self.assertTrue(denied)
        self.assertEqual(denied[-1].get("error"), "SignatureDoesNotMatch")

    def test_keep_alive_connection_reuse(self):
        import http.client
        bucket = self.new_bucket("keepalive")
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.connect()
            sock = conn.sock
            steps = [("PUT", f"/{bucket}/a", b"first", 200),
                     ("GET", f"/{bucket}/a", b"", 200),
                     ("HEAD", f"/{bucket}/a", b"", 200),
                     ("GET", f"/{bucket}/missing", b"", 404),
                     ("HEAD", f"/{bucket}/missing", b"", 404),
                     ("GET", f"/{bucket}?list-type=2", b"", 200),
                     ("PUT", f"/{bucket}/b", b"x" * 100_000, 200),
                     ("GET", f"/{bucket}/b", b"", 200),
                     ("DELETE", f"/{bucket}/a", b"", 204),
                     ("GET", f"/{bucket}/a", b"", 404)] * 2
            for method, target, body, status in steps:
                headers = sign_headers(self.server, method, target, body=body)
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.assertEqual(resp.status, status, f"{method} {target}: {data[:300]!r}")
                self.assertIs(conn.sock, sock, f"connection was not kept alive after {method} "
                                               f"{target} ({resp.getheader('Connection')})")
        finally:
            conn.close()

    def test_user_add_takes_effect_immediately(self):
        access, secret = "SRNEWUSER00000000001", "new-user-secret/abcdefghijklmnopqrstuvw"
        client = harness.boto3_client(self.server, access, secret, recorder=self.recorder)
        try:
            client.list_buckets()
            self.fail("an unknown access key was accepted")
        except ClientError as exc:
            self.assertEqual(harness.error_code(exc), "InvalidAccessKeyId")
        proc = self.server.add_user(access, secret)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        self.assertNotIn(secret, proc.stdout + proc.stderr, "user add printed a given secret")
        # No wait: the next request must work.
        client.list_buckets()
        bucket = self.unique_bucket_name("newuser")
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key="by-new-user", Body=b"hello")
        self.assertEqual(client.get_object(Bucket=bucket, Key="by-new-user")["Body"].read(),
                         b"hello")
        # The wrong secret for the new key is refused.
        bad = harness.boto3_client(self.server, access, secret + "x")
        try:
            bad.list_buckets()
            self.fail("a wrong secret was accepted")
        except ClientError as exc:
            self.assertEqual(harness.error_code(exc), "SignatureDoesNotMatch")
        # A duplicate access key is refused by the command.
        dup = self.server.add_user(access, "another-secret-0123456789")
        self.assertNotEqual(dup.returncode, 0, "adding the same access key twice succeeded")
        client.list_buckets()  # the original secret still works

    def test_encryption_at_rest(self):
        marker = b"STRONGROOM-PLAINTEXT-MARKER-4f1c9a:"
        plaintext = (marker * (MiB // len(marker) + 1))[:MiB]
        bucket = self.new_bucket("atrest")
        self.s3.put_object(Bucket=bucket, Key="plain-single", Body=plaintext,
                           Metadata={"note": "metadata is not sealed yet"})
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key="plain-multi")["UploadId"]
        part1 = (plaintext * 5)[:5 * MiB]
        e1 = self.s3.upload_part(Bucket=bucket, Key="plain-multi", UploadId=uid, PartNumber=1,
                                 Body=part1)["ETag"]
        e2 = self.s3.upload_part(Bucket=bucket, Key="plain-multi", UploadId=uid, PartNumber=2,
                                 Body=plaintext)["ETag"]
        self.s3.complete_multipart_upload(
            Bucket=bucket, Key="plain-multi", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        # An upload left in progress and a copy.
        uid2 = self.s3.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
        self.s3.upload_part(Bucket=bucket, Key="pending", UploadId=uid2, PartNumber=1,
                            Body=plaintext)
        self.s3.copy_object(Bucket=bucket, Key="plain-copy",
                            CopySource={"Bucket": bucket, "Key": "plain-single"})
        # The data reads back.
        self.assertEqual(self.get_bytes(bucket, "plain-single"), plaintext)
        self.assertEqual(self.get_bytes(bucket, "plain-multi"), part1 + plaintext)
        self.assertEqual(self.get_bytes(bucket, "plain-copy"), plaintext)
        # Nothing under the data directory contains the plaintext.
        probes = [marker, marker[:16], marker[8:24]]
        scanned, offenders = 0, []
        for dirpath, _, files in os.walk(self.server.data_dir):
            for name in files:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    content = f.read()
                scanned += len(content)
                for probe in probes:
                    if probe in content:
                        offenders.append(f"{os.path.relpath(path, self.server.data_dir)} "
                                         f"contains {probe!r} at {content.find(probe)}")
                        break
        self.assertGreater(scanned, 3 * MiB, "the data directory holds less than the data")
        self.assertEqual(offenders, [], "plaintext found at rest")
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "catalog.db")))


class LifecycleTest(unittest.TestCase):
    """Servers started and stopped by the tests themselves."""

    def setUp(self):
        import warnings
        warnings.filterwarnings("ignore", category=ResourceWarning)
        self.tmp = tempfile.mkdtemp(prefix="sr-s3-lifecycle-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.servers = []
        self.addCleanup(self._kill_all)

    def _kill_all(self):
        for server in self.servers:
            if server.running():
                server.proc.kill()
                server.proc.wait()

    def start(self, **kwargs):
        server = harness.StrongroomServer(os.path.join(self.tmp, "server"), **kwargs)
        self.servers.append(server)
        server.start()
        return server

    def test_graceful_sigterm_during_upload(self):
        server = self.start()
        s3 = harness.boto3_client(server)
        s3.create_bucket(Bucket="drain")
        size = 64 * MiB
        block = harness.random_bytes(MiB, 99)
        expected_md5 = hashlib.md5(block * 64).hexdigest()
        halfway = threading.Event()
        result = {}

        def body():
            for i in range(64):
                if i == 16:
                    halfway.set()
                time.sleep(0.04)
                yield block

        def upload():
            try:
                headers = sign_headers(server, "PUT", "/drain/large.bin",
                                       payload_hash="UNSIGNED-PAYLOAD")
                headers["Content-Length"] = str(size)
                result["response"] = http_request(server, "PUT", "/drain/large.bin", headers,
                                                  body(), timeout=120)
            except Exception as exc:  # noqa: BLE001
                result["error"] = exc
            finally:
                halfway.set()
        thread = threading.Thread(target=upload)
        thread.start()
        self.assertTrue(halfway.wait(60))
        time.sleep(0.2)
        self.assertTrue(server.running())
        stop_sent = time.monotonic()
        server.signal_stop()
        thread.join(120)
        self.assertNotIn("error", result, f"the in-flight upload failed: {result.get('error')!r}")
        resp = result["response"]
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.headers.get("etag"), f'"{expected_md5}"')
        try:
            rc = server.proc.wait(60)
        except Exception:  # noqa: BLE001
            self.fail("the server did not exit within 60 s of SIGTERM after the upload ended")
        server.stop()
        self.assertEqual(rc, 0, "\n".join(server.stderr_lines[-20:]))
        self.assertLess(time.monotonic() - stop_sent, 60)
        self.assertTrue(any("SIGTERM" in line for line in server.stdout_lines),
                        server.stdout_lines)
        # The object is complete after a restart.
        again = self.start()
        s3 = harness.boto3_client(again)
        head = s3.head_object(Bucket="drain", Key="large.bin")
        self.assertEqual(head["ContentLength"], size)
        got = hashlib.md5(s3.get_object(Bucket="drain", Key="large.bin")["Body"].read())
        self.assertEqual(got.hexdigest(), expected_md5)
        self.assertEqual(again.stop(), 0)

    def test_new_connections_refused_after_stop(self):
        server = self.start()
        port = server.port
        self.assertEqual(server.stop(), 0)
        import socket
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_restart_keeps_data(self):
        server = self.start()
        banner = "\n".join(server.stdout_lines)
        self.assertIn("First start", banner)
        self.assertIn(f"export AWS_ACCESS_KEY_ID={harness.ACCESS_KEY}", banner)
        self.assertNotIn(harness.SECRET_KEY, banner)
        s3 = harness.boto3_client(server)
        s3.create_bucket(Bucket="persist")
        objects = {f"k{i}": harness.random_bytes(10_000 * (i + 1), i) for i in range(5)}
        for key, data in objects.items():
            s3.put_object(Bucket="persist", Key=key, Body=data, Metadata={"i": key})
        uid = s3.create_multipart_upload(Bucket="persist", Key="mp")["UploadId"]
        p1, p2 = harness.random_bytes(5 * MiB, 50), harness.random_bytes(1000, 51)
        e1 = s3.upload_part(Bucket="persist", Key="mp", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
        e2 = s3.upload_part(Bucket="persist", Key="mp", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
        s3.complete_multipart_upload(Bucket="persist", Key="mp", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        pending = s3.create_multipart_upload(Bucket="persist", Key="pending")["UploadId"]
        s3.upload_part(Bucket="persist", Key="pending", UploadId=pending, PartNumber=1, Body=p2)
        self.assertEqual(server.stop(), 0)

        # Restart on the same directories; the env secret must not replace the stored one.
        again = self.start(secret_key="a-different-secret-that-must-be-ignored")
        banner = "\n".join(again.stdout_lines)
        self.assertNotIn("First start", banner)
        self.assertNotIn("export AWS_ACCESS_KEY_ID", banner)
        self.assertNotIn("recovered from an unclean stop", banner)
        s3 = harness.boto3_client(again, harness.ACCESS_KEY, harness.SECRET_KEY)
        self.assertIn("persist", [b["Name"] for b in s3.list_buckets()["Buckets"]])
        for key, data in objects.items():
            got = s3.get_object(Bucket="persist", Key=key)
            self.assertEqual(got["Body"].read(), data)
            self.assertEqual(got["Metadata"], {"i": key})
        self.assertEqual(s3.get_object(Bucket="persist", Key="mp")["Body"].read(), p1 + p2)
        parts = s3.list_parts(Bucket="persist", Key="pending", UploadId=pending)["Parts"]
        self.assertEqual([p["PartNumber"] for p in parts], [1])
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="persist")["Contents"]]
        self.assertEqual(keys, sorted(list(objects) + ["mp"]))
        ignored = harness.boto3_client(again, harness.ACCESS_KEY,
                                       "a-different-secret-that-must-be-ignored")
        try:
            ignored.list_buckets()
            self.fail("the restart replaced the stored admin secret with the env one")
        except ClientError as exc:
            self.assertEqual(harness.error_code(exc), "SignatureDoesNotMatch")
        self.assertEqual(again.stop(), 0)


if __name__ == "__main__":
    unittest.main()
