# SPDX-License-Identifier: Apache-2.0
"""Operations: /health, /metrics, the access log, graceful SIGTERM during an
upload, `strongroom user add` while running, restart keeps data, encryption
at rest (no plaintext in the data directory), and the keyring: `init`, a
sealed start answering 503 until `strongroom unseal`, unattended restarts
with --passphrase-file, development mode.

    /usr/bin/python3 -m unittest -v tests/s3/test_ops.py
"""

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
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
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue  # control.sock
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
        # `init` made the admin (printed once, the given secret never); serve does not.
        created = server.init_result.stdout
        self.assertIn(f"export AWS_ACCESS_KEY_ID={harness.ACCESS_KEY}", created)
        self.assertNotIn(harness.SECRET_KEY, created + server.init_result.stderr)
        self.assertNotIn(harness.PASSPHRASE, created + server.init_result.stderr)
        banner = "\n".join(server.stdout_lines)
        self.assertNotIn("First start", banner)
        self.assertNotIn(harness.SECRET_KEY, banner)
        self.assertIn("unsealed", banner)
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


class KeyringTest(unittest.TestCase):
    """`strongroom init`, sealed starts and `strongroom unseal`, development mode."""

    def setUp(self):
        import warnings
        warnings.filterwarnings("ignore", category=ResourceWarning)
        self.tmp = tempfile.mkdtemp(prefix="sr-s3-keyring-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.servers = []
        self.addCleanup(self._kill_all)

    def _kill_all(self):
        for server in self.servers:
            if server.running():
                server.proc.kill()
                server.proc.wait()

    def server(self, name="server", **kwargs) -> harness.StrongroomServer:
        server = harness.StrongroomServer(os.path.join(self.tmp, name), **kwargs)
        self.servers.append(server)
        return server

    def assert_one_line_error(self, proc, *fragments):
        out = proc.stdout + proc.stderr
        self.assertEqual(proc.returncode, 1, out)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"expected one line on stderr: {proc.stderr!r}")
        self.assertTrue(lines[0].startswith("strongroom: "), lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def assert_sealed_503(self, server):
        resp = harness.signed_request(server, "GET", "/")
        self.assertEqual(resp.status, 503, resp.body)
        self.assertIn(b"<Code>ServiceUnavailable</Code>", resp.body)
        self.assertIn(b"strongroom unseal", resp.body)
        put = harness.signed_request(server, "PUT", "/sealedbucket")
        self.assertEqual(put.status, 503, put.body)
        # Unsigned and badly signed requests get the same answer: nothing is checked.
        anon = http_request(server, "GET", "/some-bucket/some-key")
        self.assertEqual(anon.status, 503, anon.body)
        s3 = harness.boto3_client(server)
        try:
            s3.list_buckets()
            self.fail("a sealed server answered ListBuckets")
        except ClientError as exc:
            self.assertEqual((harness.error_code(exc), harness.error_status(exc)),
                             ("ServiceUnavailable", 503))
            self.assertIn("strongroom unseal", exc.response["Error"]["Message"])
        health = http_request(server, "GET", "/health")
        self.assertEqual(health.status, 503, health.body)
        self.assertIn(b"sealed", health.body.lower())

    def assert_serving(self, server, bucket):
        s3 = harness.boto3_client(server)
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"after unseal")
        self.assertEqual(s3.get_object(Bucket=bucket, Key="k")["Body"].read(), b"after unseal")
        health = http_request(server, "GET", "/health")
        self.assertEqual((health.status, health.body.strip()), (200, b"ok"))

    def test_sealed_start_unseal_without_restart(self):
        server = self.server(sealed=True)
        server.start()
        self.assertTrue(server.initialized)
        banner = "\n".join(server.stdout_lines)
        self.assertIn("SEALED", banner)
        self.assertIn(f"strongroom unseal --data-dir {server.data_dir}", banner)
        sock = os.path.join(server.data_dir, "control.sock")
        st = os.stat(sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assert_sealed_503(server)

        wrong = server.unseal("not the passphrase")
        self.assert_one_line_error(wrong, "wrong passphrase")
        self.assert_sealed_503(server)

        pid = server.proc.pid
        right = server.unseal()
        self.assertEqual(right.returncode, 0, right.stdout + right.stderr)
        self.assertIn("unsealed", right.stdout)
        self.assertNotIn(harness.PASSPHRASE, right.stdout + right.stderr)
        self.assertTrue(server.running())
        self.assertEqual(server.proc.pid, pid)
        self.assert_serving(server, "unsealed-bucket")
        again = server.unseal()
        self.assertEqual(again.returncode, 0, again.stdout + again.stderr)
        self.assertIn("already unsealed", again.stdout)
        # Without a passphrase at all it still succeeds: the server is unsealed.
        nothing = server.cli("unseal")
        self.assertEqual(nothing.returncode, 0, nothing.stderr)
        self.assertIn("already unsealed", nothing.stdout)

        self.assertEqual(server.stop(), 0, "\n".join(server.stderr_lines))
        self.assertFalse(os.path.exists(sock), "control.sock left behind after stop")
        gone = server.unseal()
        self.assert_one_line_error(gone, "no strongroom server is running")

    def test_passphrase_is_removed_from_the_environment(self):
        server = self.server()
        server.start()
        with open(f"/proc/{server.proc.pid}/environ", "rb") as f:
            environ = f.read()
        # The probe works (other variables are there); the passphrase is gone.
        self.assertIn(b"STRONGROOM_ARGON2_PARAMS=", environ)
        self.assertNotIn(harness.PASSPHRASE.encode(), environ)
        self.assertEqual(server.stop(), 0)

    def test_unattended_restart_with_passphrase_file(self):
        first = self.server()
        first.start()
        s3 = harness.boto3_client(first)
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="obj", Body=b"survives restarts")
        self.assertEqual(first.stop(), 0)

        pass_file = os.path.join(self.tmp, "pass.txt")
        with open(pass_file, "w") as f:
            f.write(harness.PASSPHRASE + "\n")
        os.chmod(pass_file, 0o600)
        # No STRONGROOM_PASSPHRASE (sealed=True): the file alone unseals.
        again = self.server(sealed=True, extra_args=("--passphrase-file", pass_file))
        again.start()
        banner = "\n".join(again.stdout_lines)
        self.assertNotIn("SEALED", banner)
        self.assertIn("unsealed", banner)
        s3 = harness.boto3_client(again)
        self.assertEqual(s3.get_object(Bucket="kept", Key="obj")["Body"].read(),
                         b"survives restarts")
        self.assertEqual(again.stop(), 0)

        # A wrong passphrase file stops the start with exit status 1.
        with open(pass_file, "w") as f:
            f.write("a wrong passphrase\n")
        plain = self.server(data_dir=again.data_dir, key_dir=again.key_dir, sealed=True)
        proc = subprocess.run(plain.command() + ["--passphrase-file", pass_file],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60, env=again.base_env())
        self.assert_one_line_error(proc, "wrong passphrase")
        self.assertNotIn("listening on", proc.stdout)
        self.assertFalse(os.path.exists(os.path.join(again.data_dir, "control.sock")))

    def test_serve_without_keyring_fails_clearly(self):
        server = self.server(sealed=True)
        proc = subprocess.run(server.command(), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=60, env=server.base_env())
        self.assert_one_line_error(proc, "strongroom init", "--dev")
        self.assertNotIn("listening on", proc.stdout)
        self.assertFalse(os.path.exists(server.data_dir), "a failed start created the data dir")
        # Key and user commands need the catalog init makes.
        listing = server.cli("key", "list")
        self.assert_one_line_error(listing, "strongroom init")

    def test_init_twice_refuses(self):
        server = self.server()
        first = server.init()
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("root.sealed", first.stdout)
        self.assertNotIn("passphrase:", first.stdout, "a given passphrase must not be printed")
        sealed_path = os.path.join(server.key_dir, "root.sealed")
        self.assertEqual(stat.S_IMODE(os.stat(sealed_path).st_mode), 0o600)
        with open(sealed_path, "rb") as f:
            before = f.read()
        second = server.init(check=False)
        self.assert_one_line_error(second, "already exists")
        with open(sealed_path, "rb") as f:
            self.assertEqual(f.read(), before, "a refused init changed the keyring")
        # The original keyring still opens with the original passphrase.
        server.start()
        self.assertEqual(harness.boto3_client(server).list_buckets()["Buckets"], [])
        self.assertEqual(server.stop(), 0)

    def test_dev_mode(self):
        server = self.server(dev=True)
        server.start()
        banner = "\n".join(server.stdout_lines)
        self.assertIn("DEVELOPMENT KEY MODE", banner)
        self.assertIn("First start", banner)
        self.assertIn(f"export AWS_ACCESS_KEY_ID={harness.ACCESS_KEY}", banner)
        key_file = os.path.join(server.key_dir, "root.key")
        self.assertEqual(os.path.getsize(key_file), 32)
        self.assertEqual(stat.S_IMODE(os.stat(key_file).st_mode), 0o600)
        self.assertFalse(server.initialized)
        self.assert_serving(server, "dev-bucket")
        added = server.add_user("SRDEVUSER0000000001", "dev-user-secret-0123456789")
        self.assertEqual(added.returncode, 0, added.stderr)
        harness.boto3_client(server, "SRDEVUSER0000000001",
                             "dev-user-secret-0123456789").list_buckets()
        self.assertEqual(server.stop(), 0)
        # Without --dev the same directories are refused with a hint.
        plain = subprocess.run([a for a in server.command() if a != "--dev"],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60, env=server.base_env())
        self.assert_one_line_error(plain, "--dev")
        # And init does not replace the development key.
        refused = server.init(check=False)
        self.assert_one_line_error(refused, "development key")

    def test_user_add_needs_the_passphrase(self):
        server = self.server(sealed=True)
        server.start()
        without = server.cli("user", "add", "--access-key", "SRSEALEDUSER0000001",
                             "--secret-key", "sealed-user-secret-0123")
        self.assert_one_line_error(without, "passphrase")
        wrong = server.cli("user", "add", "--access-key", "SRSEALEDUSER0000001",
                           "--secret-key", "sealed-user-secret-0123",
                           env={"STRONGROOM_PASSPHRASE": "wrong passphrase"})
        self.assert_one_line_error(wrong, "wrong passphrase")
        added = server.add_user("SRSEALEDUSER0000001", "sealed-user-secret-0123")
        self.assertEqual(added.returncode, 0, added.stderr)
        self.assertEqual(server.unseal().returncode, 0)
        harness.boto3_client(server, "SRSEALEDUSER0000001",
                             "sealed-user-secret-0123").list_buckets()
        self.assertEqual(server.stop(), 0)

    def test_allow_insecure_sse_on_loopback(self):
        # Default: SSE-KMS over plain HTTP is refused, as on AWS.
        strict = self.server("strict")
        strict.start()
        s3 = harness.boto3_client(strict)
        s3.create_bucket(Bucket="strict")
        try:
            s3.put_object(Bucket="strict", Key="k", Body=b"x", ServerSideEncryption="aws:kms")
            self.fail("SSE-KMS over plain HTTP was accepted without the flag")
        except ClientError as exc:
            self.assertEqual(harness.error_status(exc), 400, exc.response)
        self.assertEqual(strict.stop(), 0)
        # The flag, and the same setting from the config file, allow it from loopback.
        config = os.path.join(self.tmp, "serve.toml")
        with open(config, "w") as f:
            f.write("allow-insecure-sse-on-loopback = true\n")
        for name, args in (("flag", ("--allow-insecure-sse-on-loopback",)),
                           ("config", ("--config", config))):
            with self.subTest(name):
                server = self.server(name, extra_args=args)
                server.start()
                s3 = harness.boto3_client(server)
                s3.create_bucket(Bucket="loose")
                s3.put_object(Bucket="loose", Key="k", Body=b"kms over http",
                              ServerSideEncryption="aws:kms")
                head = s3.head_object(Bucket="loose", Key="k")
                self.assertEqual(head.get("ServerSideEncryption"), "aws:kms", head)
                self.assertEqual(s3.get_object(Bucket="loose", Key="k")["Body"].read(),
                                 b"kms over http")
                self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
