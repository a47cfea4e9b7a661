# SPDX-License-Identifier: Apache-2.0
"""awscli v2 (Debian's /usr/bin/aws) against strongroom.

    /usr/bin/python3 -m unittest -v tests/s3/test_awscli.py
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import file_md5, make_tree, tree_digest, write_random_file  # noqa: E402

MiB = 1 << 20


class AwsCliBase(harness.ServerTestCase):
    """Set-up and helpers; no tests of its own."""

    @classmethod
    def setUpClass(cls):
        harness.require_executable(harness.AWS, "awscli v2 (Debian package awscli)")
        super().setUpClass()
        # Path-style addressing, no retries hiding errors.
        with open(os.path.join(cls.home, ".aws", "config"), "w") as f:
            f.write("[default]\nregion = us-east-1\nmax_attempts = 1\nretry_mode = standard\n"
                    "s3 =\n    addressing_style = path\n")
        cls.work = os.path.join(cls.tmp, "work")
        os.makedirs(cls.work)

    def aws(self, *args, timeout=300, check=True) -> subprocess.CompletedProcess:
        cmd = [harness.AWS, "--endpoint-url", self.server.endpoint, "--no-cli-pager",
               "--output", "json"]
        if self.server.tls:
            cmd += ["--ca-bundle", self.server.ca_bundle]
        cmd += [str(a) for a in args]
        if check:
            return self.check_cmd(cmd, timeout=timeout)
        return self.run_cmd(cmd, timeout=timeout)

    def aws_json(self, *args, **kwargs):
        out = self.aws(*args, **kwargs).stdout.decode()
        return json.loads(out) if out.strip() else {}

    def path(self, *parts):
        return os.path.join(self.work, self._testMethodName, *parts)


class AwsCliTest(AwsCliBase):

    def test_version_is_v2(self):
        proc = self.check_cmd([harness.AWS, "--version"])
        self.assertTrue(proc.stdout.decode().startswith("aws-cli/2."), proc.stdout)

    # ------------------------------------------------------------ s3 commands

    def test_mb_cp_ls_rm_rb(self):
        bucket = self.unique_bucket_name("cp")
        self.aws("s3", "mb", f"s3://{bucket}")
        listing = self.aws("s3", "ls").stdout.decode()
        self.assertIn(bucket, listing)

        small = self.path("small.txt")
        os.makedirs(os.path.dirname(small))
        with open(small, "wb") as f:
            f.write(b"small file for awscli\n" * 10)
        big = self.path("big 20MiB.bin")
        big_md5 = write_random_file(big, 20 * MiB, seed=7)

        self.aws("s3", "cp", small, f"s3://{bucket}/small.txt")
        mark = self.server.log_mark()
        self.aws("s3", "cp", big, f"s3://{bucket}/dir/big 20MiB.bin")
        ops = [e["operation"] for e in self.server.log_since(mark)]
        self.assertIn("CreateMultipartUpload", ops, "20 MiB cp did not use multipart")
        self.assertIn("CompleteMultipartUpload", ops)
        self.assertEqual(ops.count("UploadPart"), 3, ops)

        head = self.aws_json("s3api", "head-object", "--bucket", bucket,
                             "--key", "dir/big 20MiB.bin")
        self.assertEqual(head["ContentLength"], 20 * MiB)
        self.assertTrue(head["ETag"].strip('"').endswith("-3"), head["ETag"])

        down_small = self.path("down", "small.txt")
        down_big = self.path("down", "big.bin")
        self.aws("s3", "cp", f"s3://{bucket}/small.txt", down_small)
        self.aws("s3", "cp", f"s3://{bucket}/dir/big 20MiB.bin", down_big)
        self.assertEqual(file_md5(down_small), file_md5(small))
        self.assertEqual(file_md5(down_big), big_md5)
        # Download to stdout.
        proc = self.aws("s3", "cp", f"s3://{bucket}/small.txt", "-")
        self.assertEqual(proc.stdout, b"small file for awscli\n" * 10)
        # Upload from stdin.
        self.aws_stdin = subprocess.run(
            [harness.AWS, "--endpoint-url", self.server.endpoint, "s3", "cp", "-",
             f"s3://{bucket}/from-stdin.txt"], input=b"piped\n", env=self.client_env(),
            capture_output=True, timeout=120)
        self.assertEqual(self.aws_stdin.returncode, 0, self.aws_stdin.stderr)
        self.assertEqual(self.aws("s3", "cp", f"s3://{bucket}/from-stdin.txt", "-").stdout,
                         b"piped\n")
        out = self.aws("s3", "ls", f"s3://{bucket}/").stdout.decode()
        self.assertIn("small.txt", out)
        self.assertIn("PRE dir/", out)
        self.assertNotIn("big 20MiB.bin", out)
        out = self.aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout.decode()
        for name in ["small.txt", "dir/big 20MiB.bin", "from-stdin.txt"]:
            self.assertIn(name, out)
        self.assertIn(str(20 * MiB), out)

        # rb on a non-empty bucket fails; rm single and recursive; then rb.
        proc = self.aws("s3", "rb", f"s3://{bucket}", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"BucketNotEmpty", proc.stderr)
        self.aws("s3", "rm", f"s3://{bucket}/small.txt")
        out = self.aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout.decode()
        self.assertNotIn("small.txt", out)
        self.aws("s3", "rm", "--recursive", f"s3://{bucket}/")
        out = self.aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout.decode()
        self.assertEqual(out.strip(), "")
        self.aws("s3", "rb", f"s3://{bucket}")
        self.assertNotIn(bucket, self.aws("s3", "ls").stdout.decode())

    def test_s3_to_s3_copy(self):
        bucket = self.unique_bucket_name("s3cp")
        self.aws("s3", "mb", f"s3://{bucket}")
        small = self.path("small.txt")
        os.makedirs(os.path.dirname(small))
        with open(small, "wb") as f:
            f.write(b"server side copy\n")
        big = self.path("big.bin")
        big_md5 = write_random_file(big, 20 * MiB, seed=8)
        self.aws("s3", "cp", small, f"s3://{bucket}/src/small.txt")
        self.aws("s3", "cp", big, f"s3://{bucket}/src/big.bin")
        # Small object: CopyObject.
        self.aws("s3", "cp", f"s3://{bucket}/src/small.txt", f"s3://{bucket}/dst/small.txt")
        self.assertEqual(self.aws("s3", "cp", f"s3://{bucket}/dst/small.txt", "-").stdout,
                         b"server side copy\n")
        # Above the 8 MiB threshold awscli copies with UploadPartCopy and first
        # reads the source's tags (GetObjectTagging) to carry them over.
        mark = self.server.log_mark()
        self.aws("s3", "cp", f"s3://{bucket}/src/big.bin", f"s3://{bucket}/dst/big.bin")
        ops = [e["operation"] for e in self.server.log_since(mark)]
        self.assertIn("UploadPartCopy", ops)
        down = self.path("big.out")
        self.aws("s3", "cp", f"s3://{bucket}/dst/big.bin", down)
        self.assertEqual(file_md5(down), big_md5)
        # mv and a bucket-to-bucket sync.
        self.aws("s3", "mv", f"s3://{bucket}/dst/small.txt", f"s3://{bucket}/moved/small.txt")
        other = self.unique_bucket_name("s3cp2")
        self.aws("s3", "mb", f"s3://{other}")
        self.aws("s3", "sync", f"s3://{bucket}/src/", f"s3://{other}/mirror/")
        out = self.aws("s3", "ls", "--recursive", f"s3://{other}/").stdout.decode()
        self.assertIn("mirror/small.txt", out)
        self.assertIn("mirror/big.bin", out)

    def test_sync_tree_roundtrip(self):
        bucket = self.unique_bucket_name("sync")
        self.aws("s3", "mb", f"s3://{bucket}")
        src = self.path("src")
        expected = make_tree(src, big_size=9 * MiB + 123)
        self.aws("s3", "sync", src, f"s3://{bucket}/tree/")
        out = self.aws("s3", "ls", "--recursive", f"s3://{bucket}/tree/").stdout.decode()
        for rel in expected:
            self.assertIn(rel, out)
        # A second sync has nothing to do.
        out = self.aws("s3", "sync", src, f"s3://{bucket}/tree/").stdout.decode()
        self.assertEqual(out.strip(), "", "second sync uploaded again")
        # Down into an empty directory, compare byte for byte.
        dst = self.path("dst")
        os.makedirs(dst)
        self.aws("s3", "sync", f"s3://{bucket}/tree/", dst)
        self.assertEqual(tree_digest(dst), expected)
        # --delete removes what is gone locally.
        os.remove(os.path.join(src, "top.txt"))
        shutil.rmtree(os.path.join(src, "a"))
        self.aws("s3", "sync", "--delete", src, f"s3://{bucket}/tree/")
        out = self.aws("s3", "ls", "--recursive", f"s3://{bucket}/tree/").stdout.decode()
        self.assertNotIn("top.txt", out)
        self.assertNotIn("a/b/c/d/e/f.txt", out)
        dst2 = self.path("dst2")
        os.makedirs(dst2)
        self.aws("s3", "sync", f"s3://{bucket}/tree/", dst2)
        self.assertEqual(tree_digest(dst2), tree_digest(src))

    # --------------------------------------------------------------- s3api

    def test_s3api_objects(self):
        bucket = self.unique_bucket_name("api")
        self.aws("s3api", "create-bucket", "--bucket", bucket)
        body = self.path("body.txt")
        os.makedirs(os.path.dirname(body))
        content = b"0123456789abcdefghijklmnopqrstuvwxyz" * 100
        with open(body, "wb") as f:
            f.write(content)
        put = self.aws_json("s3api", "put-object", "--bucket", bucket, "--key", "docs/a.txt",
                            "--body", body, "--content-type", "text/plain; charset=utf-8",
                            "--metadata", "author=alice,project=strongroom",
                            "--cache-control", "no-store")
        self.assertEqual(put["ETag"], f'"{hashlib.md5(content).hexdigest()}"')
        head = self.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "docs/a.txt")
        self.assertEqual(head["ContentLength"], len(content))
        self.assertEqual(head["ContentType"], "text/plain; charset=utf-8")
        self.assertEqual(head["Metadata"], {"author": "alice", "project": "strongroom"})
        self.assertEqual(head["CacheControl"], "no-store")
        self.assertEqual(head["ETag"], put["ETag"])

        out = self.path("range.out")
        got = self.aws_json("s3api", "get-object", "--bucket", bucket, "--key", "docs/a.txt",
                            "--range", "bytes=10-19", out)
        self.assertEqual(got["ContentRange"], f"bytes 10-19/{len(content)}")
        self.assertEqual(got["ContentLength"], 10)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content[10:20])
        got = self.aws_json("s3api", "get-object", "--bucket", bucket, "--key", "docs/a.txt",
                            "--range", "bytes=-5", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), content[-5:])

        # copy-object: COPY keeps metadata, REPLACE sets new.
        self.aws("s3api", "copy-object", "--bucket", bucket, "--key", "docs/copy.txt",
                 "--copy-source", f"{bucket}/docs/a.txt")
        head = self.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "docs/copy.txt")
        self.assertEqual(head["Metadata"], {"author": "alice", "project": "strongroom"})
        self.assertEqual(head["ContentType"], "text/plain; charset=utf-8")
        self.aws("s3api", "copy-object", "--bucket", bucket, "--key", "docs/replaced.txt",
                 "--copy-source", f"{bucket}/docs/a.txt", "--metadata-directive", "REPLACE",
                 "--metadata", "author=bob", "--content-type", "application/json")
        head = self.aws_json("s3api", "head-object", "--bucket", bucket,
                             "--key", "docs/replaced.txt")
        self.assertEqual(head["Metadata"], {"author": "bob"})
        self.assertEqual(head["ContentType"], "application/json")
        self.assertEqual(head["ETag"], put["ETag"])
        proc = self.aws("s3api", "copy-object", "--bucket", bucket, "--key", "docs/a.txt",
                        "--copy-source", f"{bucket}/docs/a.txt", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"InvalidRequest", proc.stderr)

        # list-objects-v2.
        for key in ["docs/b.txt", "docs/sub/c.txt", "other/d.txt", "top.txt"]:
            self.aws("s3api", "put-object", "--bucket", bucket, "--key", key, "--body", body)
        listing = self.aws_json("s3api", "list-objects-v2", "--bucket", bucket,
                                "--prefix", "docs/", "--delimiter", "/")
        self.assertEqual([o["Key"] for o in listing["Contents"]],
                         ["docs/a.txt", "docs/b.txt", "docs/copy.txt", "docs/replaced.txt"])
        self.assertEqual([p["Prefix"] for p in listing["CommonPrefixes"]], ["docs/sub/"])
        listing = self.aws_json("s3api", "list-objects-v2", "--bucket", bucket,
                                "--delimiter", "/")
        self.assertEqual([o["Key"] for o in listing["Contents"]], ["top.txt"])
        self.assertEqual([p["Prefix"] for p in listing["CommonPrefixes"]], ["docs/", "other/"])
        page = self.aws_json("s3api", "list-objects-v2", "--bucket", bucket, "--max-items", "3")
        self.assertEqual(len(page["Contents"]), 3)
        self.assertIn("NextToken", page)
        rest = self.aws_json("s3api", "list-objects-v2", "--bucket", bucket,
                             "--starting-token", page["NextToken"])
        all_keys = [o["Key"] for o in page["Contents"] + rest["Contents"]]
        self.assertEqual(all_keys, ["docs/a.txt", "docs/b.txt", "docs/copy.txt",
                                    "docs/replaced.txt", "docs/sub/c.txt", "other/d.txt",
                                    "top.txt"])
        page = self.aws_json("s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "2",
                             "--prefix", "docs/")
        self.assertEqual(len(page["Contents"]), 5)  # the CLI follows the pages itself

        # delete-objects.
        deleted = self.aws_json("s3api", "delete-objects", "--bucket", bucket, "--delete",
                                json.dumps({"Objects": [{"Key": "docs/b.txt"},
                                                        {"Key": "top.txt"}], "Quiet": False}))
        self.assertEqual(sorted(d["Key"] for d in deleted["Deleted"]), ["docs/b.txt", "top.txt"])
        listing = self.aws_json("s3api", "list-objects-v2", "--bucket", bucket)
        keys = [o["Key"] for o in listing["Contents"]]
        self.assertNotIn("docs/b.txt", keys)
        self.assertNotIn("top.txt", keys)
        self.assertIn("docs/a.txt", keys)
        # head-object on a missing key fails with 404.
        proc = self.aws("s3api", "head-object", "--bucket", bucket, "--key", "top.txt",
                        check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"404", proc.stderr)

    def test_s3api_multipart(self):
        bucket = self.unique_bucket_name("mpu")
        self.aws("s3api", "create-bucket", "--bucket", bucket)
        part1 = self.path("part1")
        part2 = self.path("part2")
        md5_1 = write_random_file(part1, 5 * MiB, seed=1)
        md5_2 = write_random_file(part2, 1234567, seed=2)
        created = self.aws_json("s3api", "create-multipart-upload", "--bucket", bucket,
                                "--key", "mp/object.bin", "--content-type", "application/x-test",
                                "--metadata", "via=awscli")
        uid = created["UploadId"]
        r2 = self.aws_json("s3api", "upload-part", "--bucket", bucket, "--key", "mp/object.bin",
                           "--upload-id", uid, "--part-number", "2", "--body", part2)
        r1 = self.aws_json("s3api", "upload-part", "--bucket", bucket, "--key", "mp/object.bin",
                           "--upload-id", uid, "--part-number", "1", "--body", part1)
        self.assertEqual(r1["ETag"], f'"{md5_1}"')
        self.assertEqual(r2["ETag"], f'"{md5_2}"')
        parts = self.aws_json("s3api", "list-parts", "--bucket", bucket, "--key", "mp/object.bin",
                              "--upload-id", uid)
        self.assertEqual([(p["PartNumber"], p["Size"]) for p in parts["Parts"]],
                         [(1, 5 * MiB), (2, 1234567)])
        uploads = self.aws_json("s3api", "list-multipart-uploads", "--bucket", bucket)
        self.assertEqual([(u["Key"], u["UploadId"]) for u in uploads["Uploads"]],
                         [("mp/object.bin", uid)])
        spec = self.path("complete.json")
        with open(spec, "w") as f:
            json.dump({"Parts": [{"PartNumber": 1, "ETag": r1["ETag"]},
                                 {"PartNumber": 2, "ETag": r2["ETag"]}]}, f)
        done = self.aws_json("s3api", "complete-multipart-upload", "--bucket", bucket,
                             "--key", "mp/object.bin", "--upload-id", uid,
                             "--multipart-upload", f"file://{spec}")
        digests = bytes.fromhex(md5_1) + bytes.fromhex(md5_2)
        self.assertEqual(done["ETag"], f'"{hashlib.md5(digests).hexdigest()}-2"')
        head = self.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "mp/object.bin")
        self.assertEqual(head["ContentLength"], 5 * MiB + 1234567)
        self.assertEqual(head["ContentType"], "application/x-test")
        self.assertEqual(head["Metadata"], {"via": "awscli"})
        out = self.path("mp.out")
        self.aws("s3api", "get-object", "--bucket", bucket, "--key", "mp/object.bin", out)
        with open(part1, "rb") as a, open(part2, "rb") as b, open(out, "rb") as got:
            self.assertEqual(got.read(), a.read() + b.read())

        # Abort.
        uid2 = self.aws_json("s3api", "create-multipart-upload", "--bucket", bucket,
                             "--key", "mp/aborted.bin")["UploadId"]
        self.aws("s3api", "upload-part", "--bucket", bucket, "--key", "mp/aborted.bin",
                 "--upload-id", uid2, "--part-number", "1", "--body", part2)
        self.aws("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "mp/aborted.bin",
                 "--upload-id", uid2)
        uploads = self.aws_json("s3api", "list-multipart-uploads", "--bucket", bucket)
        self.assertEqual(uploads.get("Uploads", []), [])
        proc = self.aws("s3api", "list-parts", "--bucket", bucket, "--key", "mp/aborted.bin",
                        "--upload-id", uid2, check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"NoSuchUpload", proc.stderr)
        proc = self.aws("s3api", "head-object", "--bucket", bucket, "--key", "mp/aborted.bin",
                        check=False)
        self.assertNotEqual(proc.returncode, 0)

    def test_presign_and_bucket_calls(self):
        import urllib.request
        bucket = self.unique_bucket_name("pre")
        self.aws("s3api", "create-bucket", "--bucket", bucket)
        self.aws("s3api", "head-bucket", "--bucket", bucket)
        location = self.aws_json("s3api", "get-bucket-location", "--bucket", bucket)
        self.assertIn(location.get("LocationConstraint"), (None, "", "us-east-1"))
        names = [b["Name"] for b in self.aws_json("s3api", "list-buckets")["Buckets"]]
        self.assertIn(bucket, names)
        proc = self.aws("s3api", "head-bucket", "--bucket", "no-such-bucket-here", check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"404", proc.stderr)
        body = self.path("p.txt")
        os.makedirs(os.path.dirname(body))
        with open(body, "wb") as f:
            f.write(b"presigned by awscli\n")
        self.aws("s3", "cp", body, f"s3://{bucket}/dir/p q.txt")
        url = self.aws("s3", "presign", f"s3://{bucket}/dir/p q.txt", "--expires-in", "300"
                       ).stdout.decode().strip()
        self.assertTrue(url.startswith(self.server.endpoint), url)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=30) as resp:
            self.assertEqual(resp.read(), b"presigned by awscli\n")

    def test_s3api_checksum_crc32(self):
        # awscli v2 sends CRC32 checksums with its uploads when asked; over TLS
        # as STREAMING-UNSIGNED-PAYLOAD-TRAILER, over plain HTTP in a header.
        bucket = self.unique_bucket_name("crc")
        self.aws("s3api", "create-bucket", "--bucket", bucket)
        body = self.path("c.bin")
        write_random_file(body, 3 * MiB + 1, seed=4)
        put = self.aws_json("s3api", "put-object", "--bucket", bucket, "--key", "c.bin",
                            "--body", body, "--checksum-algorithm", "CRC32")
        self.assertIn("ChecksumCRC32", put)
        got = self.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "c.bin",
                            "--checksum-mode", "ENABLED")
        self.assertEqual(got.get("ChecksumCRC32"), put["ChecksumCRC32"])
        out = self.path("c.out")
        got = self.aws_json("s3api", "get-object", "--bucket", bucket, "--key", "c.bin",
                            "--checksum-mode", "ENABLED", out)
        self.assertEqual(got.get("ChecksumCRC32"), put["ChecksumCRC32"])
        self.assertEqual(file_md5(out), file_md5(body))
        # A multipart upload with CRC32 part checksums.
        uid = self.aws_json("s3api", "create-multipart-upload", "--bucket", bucket,
                            "--key", "mp.bin", "--checksum-algorithm", "CRC32")["UploadId"]
        part = self.aws_json("s3api", "upload-part", "--bucket", bucket, "--key", "mp.bin",
                             "--upload-id", uid, "--part-number", "1", "--body", body,
                             "--checksum-algorithm", "CRC32")
        self.assertIn("ChecksumCRC32", part)
        self.aws("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "mp.bin",
                 "--upload-id", uid)


class AwsCliTlsTest(AwsCliBase):
    """Over HTTPS awscli sends flexible checksums as aws-chunked trailers
    (STREAMING-UNSIGNED-PAYLOAD-TRAILER); over plain HTTP it uses headers."""

    server_options = {"tls": True}

    def test_checksum_trailers_over_tls(self):
        import base64
        import zlib
        bucket = self.unique_bucket_name("tls")
        self.aws("s3api", "create-bucket", "--bucket", bucket)
        body = self.path("t.bin")
        os.makedirs(os.path.dirname(body))
        write_random_file(body, 3 * MiB + 5, seed=14)
        with open(body, "rb") as f:
            data = f.read()
        crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        proc = self.aws("--debug", "s3api", "put-object", "--bucket", bucket, "--key", "t.bin",
                        "--body", body, "--checksum-algorithm", "CRC32")
        self.assertIn(b"STREAMING-UNSIGNED-PAYLOAD-TRAILER", proc.stderr,
                      "awscli did not use an unsigned trailer; the test proves nothing")
        put = json.loads(proc.stdout)
        self.assertEqual(put.get("ChecksumCRC32"), crc)
        self.assertEqual(put.get("ETag"), f'"{hashlib.md5(data).hexdigest()}"')
        head = self.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "t.bin",
                             "--checksum-mode", "ENABLED")
        self.assertEqual(head.get("ChecksumCRC32"), crc)
        self.assertEqual(head["ContentLength"], len(data))
        out = self.path("t.out")
        self.aws("s3api", "get-object", "--bucket", bucket, "--key", "t.bin", out)
        self.assertEqual(file_md5(out), hashlib.md5(data).hexdigest())
        # Multipart with trailer checksums on the parts.
        uid = self.aws_json("s3api", "create-multipart-upload", "--bucket", bucket,
                            "--key", "mp.bin", "--checksum-algorithm", "CRC32")["UploadId"]
        part = self.aws_json("s3api", "upload-part", "--bucket", bucket, "--key", "mp.bin",
                             "--upload-id", uid, "--part-number", "1", "--body", body,
                             "--checksum-algorithm", "CRC32")
        self.assertEqual(part.get("ChecksumCRC32"), crc)
        self.aws("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "mp.bin",
                 "--upload-id", uid)

    def test_cp_multipart_over_tls(self):
        bucket = self.unique_bucket_name("tlscp")
        self.aws("s3", "mb", f"s3://{bucket}")
        big = self.path("big.bin")
        md5 = write_random_file(big, 20 * MiB, seed=15)
        self.aws("s3", "cp", big, f"s3://{bucket}/big.bin")
        out = self.path("big.out")
        self.aws("s3", "cp", f"s3://{bucket}/big.bin", out)
        self.assertEqual(file_md5(out), md5)


if __name__ == "__main__":
    unittest.main()
