# SPDX-License-Identifier: Apache-2.0
"""s3cmd (Debian's /usr/bin/s3cmd) against strongroom.

    /usr/bin/python3 -m unittest -v tests/s3/test_s3cmd.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import file_md5, make_tree, tree_digest, write_random_file  # noqa: E402

MiB = 1 << 20


class S3cmdTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_executable(harness.S3CMD, "s3cmd (Debian package s3cmd)")
        super().setUpClass()
        cls.config = os.path.join(cls.home, "s3cmd.cfg")
        with open(cls.config, "w") as f:
            f.write(
                "[default]\n"
                f"access_key = {cls.server.access_key}\n"
                f"secret_key = {cls.server.secret_key}\n"
                f"host_base = {cls.server.host_port}\n"
                f"host_bucket = {cls.server.host_port}\n"
                "use_https = False\n"
                "signature_v2 = False\n"
                "bucket_location = us-east-1\n"
                "check_ssl_certificate = False\n"
                "guess_mime_type = True\n"
                "progress_meter = False\n"
                "proxy_host =\n"
                "proxy_port = 0\n")
        cls.work = os.path.join(cls.tmp, "work")
        os.makedirs(cls.work)

    def s3cmd(self, *args, check=True, timeout=300):
        cmd = [harness.S3CMD, "-c", self.config, "--no-progress"] + [str(a) for a in args]
        if check:
            return self.check_cmd(cmd, timeout=timeout)
        return self.run_cmd(cmd, timeout=timeout)

    def path(self, *parts):
        return os.path.join(self.work, self._testMethodName, *parts)

    def test_basic_commands(self):
        bucket = self.unique_bucket_name("basic")
        self.s3cmd("mb", f"s3://{bucket}")
        self.assertIn(f"s3://{bucket}", self.s3cmd("ls").stdout.decode())

        src = self.path("hello world.txt")
        os.makedirs(os.path.dirname(src))
        with open(src, "wb") as f:
            f.write(b"hello from s3cmd\n" * 100)
        self.s3cmd("put", src, f"s3://{bucket}/docs/hello world.txt")
        self.s3cmd("put", src, f"s3://{bucket}/ünï/çødé.txt")
        out = self.s3cmd("ls", f"s3://{bucket}/").stdout.decode()
        self.assertIn(f"DIR  s3://{bucket}/docs/", out)
        out = self.s3cmd("ls", "-r", f"s3://{bucket}/").stdout.decode()
        self.assertIn(f"s3://{bucket}/docs/hello world.txt", out)
        self.assertIn(f"s3://{bucket}/ünï/çødé.txt", out)
        out = self.s3cmd("la").stdout.decode()
        self.assertIn(f"DIR  s3://{bucket}/docs/", out)
        out = self.s3cmd("la", "--recursive").stdout.decode()
        self.assertIn(f"s3://{bucket}/docs/hello world.txt", out)

        dst = self.path("down.txt")
        self.s3cmd("get", f"s3://{bucket}/docs/hello world.txt", dst)
        self.assertEqual(file_md5(dst), file_md5(src))
        dst2 = self.path("down2.txt")
        self.s3cmd("get", f"s3://{bucket}/ünï/çødé.txt", dst2)
        self.assertEqual(file_md5(dst2), file_md5(src))

        # Server-side copy and move.
        self.s3cmd("cp", f"s3://{bucket}/docs/hello world.txt", f"s3://{bucket}/copy.txt")
        self.s3cmd("mv", f"s3://{bucket}/copy.txt", f"s3://{bucket}/moved.txt")
        out = self.s3cmd("ls", "-r", f"s3://{bucket}/").stdout.decode()
        self.assertIn("moved.txt", out)
        self.assertNotIn("copy.txt", out)

        # rb of a non-empty bucket fails.
        proc = self.s3cmd("rb", f"s3://{bucket}", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"BucketNotEmpty", proc.stderr + proc.stdout)

        self.s3cmd("del", f"s3://{bucket}/docs/hello world.txt")
        out = self.s3cmd("ls", "-r", f"s3://{bucket}/").stdout.decode()
        self.assertNotIn("hello world.txt", out)
        self.s3cmd("del", "--recursive", "--force", f"s3://{bucket}/")
        self.assertEqual(self.s3cmd("ls", "-r", f"s3://{bucket}/").stdout.decode().strip(), "")
        self.s3cmd("rb", f"s3://{bucket}")
        self.assertNotIn(f"s3://{bucket}", self.s3cmd("ls").stdout.decode())

    def test_multipart_put(self):
        bucket = self.unique_bucket_name("mp")
        self.s3cmd("mb", f"s3://{bucket}")
        src = self.path("twelve.bin")
        md5 = write_random_file(src, 12 * MiB, seed=12)
        mark = self.server.log_mark()
        self.s3cmd("put", "--multipart-chunk-size-mb=5", src, f"s3://{bucket}/big/twelve.bin")
        ops = [e["operation"] for e in self.server.log_since(mark)]
        self.assertIn("CreateMultipartUpload", ops)
        self.assertEqual(ops.count("UploadPart"), 3, ops)
        self.assertIn("CompleteMultipartUpload", ops)
        head = self.s3.head_object(Bucket=bucket, Key="big/twelve.bin")
        self.assertEqual(head["ContentLength"], 12 * MiB)
        self.assertTrue(head["ETag"].strip('"').endswith("-3"), head["ETag"])
        dst = self.path("twelve.out")
        self.s3cmd("get", f"s3://{bucket}/big/twelve.bin", dst)
        self.assertEqual(file_md5(dst), md5)

    def test_sync(self):
        bucket = self.unique_bucket_name("sync")
        self.s3cmd("mb", f"s3://{bucket}")
        src = self.path("src")
        expected = make_tree(src)
        self.s3cmd("sync", src + "/", f"s3://{bucket}/tree/")
        out = self.s3cmd("ls", "-r", f"s3://{bucket}/tree/").stdout.decode()
        for rel in expected:
            self.assertIn(f"s3://{bucket}/tree/{rel}", out)
        dst = self.path("dst")
        os.makedirs(dst)
        self.s3cmd("sync", f"s3://{bucket}/tree/", dst + "/")
        self.assertEqual(tree_digest(dst), expected)
        # A changed file is uploaded again; --delete-removed removes gone files.
        with open(os.path.join(src, "top.txt"), "wb") as f:
            f.write(b"changed content\n")
        os.remove(os.path.join(src, "empty.bin"))
        self.s3cmd("sync", "--delete-removed", src + "/", f"s3://{bucket}/tree/")
        got = self.s3.get_object(Bucket=bucket, Key="tree/top.txt")["Body"].read()
        self.assertEqual(got, b"changed content\n")
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket)["Contents"]]
        self.assertNotIn("tree/empty.bin", keys)


if __name__ == "__main__":
    unittest.main()
