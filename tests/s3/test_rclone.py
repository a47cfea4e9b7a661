# SPDX-License-Identifier: Apache-2.0
"""rclone (Debian's /usr/bin/rclone) against strongroom.

    /usr/bin/python3 -m unittest -v tests/s3/test_rclone.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import file_md5, make_tree, tree_digest  # noqa: E402

MiB = 1 << 20


class RcloneTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_executable(harness.RCLONE, "rclone (Debian package rclone)")
        super().setUpClass()
        cls.work = os.path.join(cls.tmp, "work")
        os.makedirs(cls.work)

    def rclone_env(self):
        # The remote "sr" is configured from the environment only; the
        # client env already drops AWS_CA_BUNDLE (the `env -u AWS_CA_BUNDLE`).
        return self.client_env(
            RCLONE_CONFIG=os.path.join(self.home, "rclone.conf"),
            RCLONE_CONFIG_SR_TYPE="s3",
            RCLONE_CONFIG_SR_PROVIDER="Other",
            RCLONE_CONFIG_SR_ENV_AUTH="false",
            RCLONE_CONFIG_SR_ACCESS_KEY_ID=self.server.access_key,
            RCLONE_CONFIG_SR_SECRET_ACCESS_KEY=self.server.secret_key,
            RCLONE_CONFIG_SR_ENDPOINT=self.server.endpoint,
            RCLONE_CONFIG_SR_REGION="us-east-1",
            RCLONE_CONFIG_SR_FORCE_PATH_STYLE="true",
            # rclone's default cutoff is 200 MiB; 16 MiB makes the 30 MiB file multipart.
            RCLONE_CONFIG_SR_UPLOAD_CUTOFF="16Mi",
            RCLONE_CONFIG_SR_CHUNK_SIZE="8Mi",
            RCLONE_CONFIG_SR_COPY_CUTOFF="16Mi",
        )

    def rclone(self, *args, check=True, timeout=300):
        cmd = ["/usr/bin/env", "-u", "AWS_CA_BUNDLE", harness.RCLONE, "--retries", "1",
               "--low-level-retries", "1", "--stats", "0"] + [str(a) for a in args]
        if check:
            return self.check_cmd(cmd, env=self.rclone_env(), timeout=timeout)
        return self.run_cmd(cmd, env=self.rclone_env(), timeout=timeout)

    def path(self, *parts):
        return os.path.join(self.work, self._testMethodName, *parts)

    def test_sync_check_lsl_cat_delete(self):
        bucket = self.unique_bucket_name("rc")
        self.rclone("mkdir", f"sr:{bucket}")
        src = self.path("src")
        expected = make_tree(src, big_size=30 * MiB, seed=30)
        mark = self.server.log_mark()
        self.rclone("sync", src, f"sr:{bucket}/tree")
        ops = [e["operation"] for e in self.server.log_since(mark)]
        self.assertIn("CreateMultipartUpload", ops, "the 30 MiB file was not sent as multipart")
        self.assertEqual(ops.count("UploadPart"), 4, ops)  # 30 MiB in 8 MiB chunks
        self.assertIn("CompleteMultipartUpload", ops)

        proc = self.rclone("check", src, f"sr:{bucket}/tree")
        out = (proc.stdout + proc.stderr).decode()
        self.assertIn("0 differences found", out)
        self.assertNotIn("ERROR", out)
        # --download compares the contents byte for byte.
        proc = self.rclone("check", "--download", src, f"sr:{bucket}/tree")
        self.assertIn("0 differences found", (proc.stdout + proc.stderr).decode())

        lsl = self.rclone("lsl", f"sr:{bucket}/tree").stdout.decode()
        listed = {}
        for line in lsl.splitlines():
            size, _date, _time, name = line.strip().split(None, 3)
            listed[name] = int(size)
        self.assertEqual(set(listed), set(expected))
        self.assertEqual(listed["big/large.bin"], 30 * MiB)
        self.assertEqual(listed["empty.bin"], 0)

        cat = self.rclone("cat", f"sr:{bucket}/tree/ünïcødé/名前.txt").stdout
        self.assertEqual(cat, "unicode content ✓\n".encode())
        cat = self.rclone("cat", "--offset", "3", "--count", "5",
                          f"sr:{bucket}/tree/dir one/file with spaces.txt").stdout
        self.assertEqual(cat, (b"spaces in names\n" * 10)[3:8])

        # Copy back and compare trees.
        dst = self.path("dst")
        self.rclone("copy", f"sr:{bucket}/tree", dst)
        self.assertEqual(tree_digest(dst), expected)

        # Server-side copy of the big file (rclone uses UploadPartCopy above copy_cutoff).
        self.rclone("copyto", f"sr:{bucket}/tree/big/large.bin", f"sr:{bucket}/copy/large.bin")
        got = self.path("copy.bin")
        self.rclone("copyto", f"sr:{bucket}/copy/large.bin", got)
        self.assertEqual(file_md5(got), expected["big/large.bin"])

        # A second sync transfers nothing and a changed file is found by check.
        mark = self.server.log_mark()
        self.rclone("sync", src, f"sr:{bucket}/tree")
        ops = [e["operation"] for e in self.server.log_since(mark)]
        self.assertNotIn("PutObject", ops)
        self.assertNotIn("CreateMultipartUpload", ops)
        with open(os.path.join(src, "top.txt"), "wb") as f:
            f.write(b"modified\n")
        proc = self.rclone("check", src, f"sr:{bucket}/tree", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("1 differences found", (proc.stdout + proc.stderr).decode())

        self.rclone("delete", f"sr:{bucket}/tree/dir one")
        lsl = self.rclone("lsl", f"sr:{bucket}/tree").stdout.decode()
        self.assertNotIn("dir one/", lsl)
        self.assertIn("top.txt", lsl)
        self.rclone("delete", f"sr:{bucket}")
        self.assertEqual(self.rclone("lsl", f"sr:{bucket}").stdout.decode().strip(), "")
        self.rclone("rmdir", f"sr:{bucket}")
        self.assertNotIn(bucket, self.rclone("lsd", "sr:").stdout.decode())


if __name__ == "__main__":
    unittest.main()
