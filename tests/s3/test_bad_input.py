# SPDX-License-Identifier: Apache-2.0
"""Hostile and malformed requests: each must fail with the exact S3 error
code and HTTP status, and must leave no trace (objects absent or unchanged).

Requests are built by hand, signed with botocore's S3SigV4Auth (or the small
independent signer in harness.py where a fixed time or aws-chunked framing is
needed) and sent with http.client or a raw socket.

    /usr/bin/python3 -m unittest -v tests/s3/test_bad_input.py
"""

import base64
import datetime
import hashlib
import os
import sys
import unittest
import urllib.parse
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (EMPTY_SHA256, http_request, raw_exchange, sign_headers,  # noqa: E402
                     signed_request)

MiB = 1 << 20


def q(key: str) -> str:
    return urllib.parse.quote(key, safe="/~")


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


class BadInputTest(harness.ServerTestCase):

    # ------------------------------------------------------------ helpers

    def assertS3Error(self, resp, status, code, what=""):
        self.assertEqual((resp.status, resp.code), (status, code),
                         f"{what}: expected {status} {code}, got {resp!r}")

    def keys(self, bucket):
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]

    def bucket_with(self, stem, objects=None):
        bucket = self.new_bucket(stem)
        for key, data in (objects or {}).items():
            self.s3.put_object(Bucket=bucket, Key=key, Body=data)
        return bucket

    def assertUnchanged(self, bucket, objects):
        """The bucket holds exactly `objects` (key -> bytes)."""
        self.assertEqual(self.keys(bucket), sorted(objects))
        for key, data in objects.items():
            self.assertEqual(self.get_bytes(bucket, key), data, f"object {key!r} changed")

    def upload_with_part(self, bucket, key, data=b"part one"):
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etag = self.s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1,
                                   Body=data)["ETag"]
        return uid, etag

    # ---------------------------------------------------------- malformed XML

    def test_complete_multipart_malformed_xml(self):
        bucket = self.bucket_with("cmx")
        uid, etag = self.upload_with_part(bucket, "obj")
        part = b"<Part><PartNumber>1</PartNumber><ETag>" + etag.encode() + b"</ETag></Part>"
        bodies = {
            "truncated": b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
            "not xml": b"this is not xml",
            "mismatched end tag": b"<CompleteMultipartUpload>" + part + b"</Wrong>",
            "wrong root element": b"<WrongRoot>" + part + b"</WrongRoot>",
            "non-numeric PartNumber": b"<CompleteMultipartUpload><Part><PartNumber>one"
                                      b"</PartNumber><ETag>" + etag.encode() +
                                      b"</ETag></Part></CompleteMultipartUpload>",
            "empty body": b"",
            # A complete document followed by a second root element is not XML.
            "second root element after the document":
                b"<CompleteMultipartUpload>" + part + b"</CompleteMultipartUpload><extra/>",
        }
        for name, body in bodies.items():
            with self.subTest(body=name):
                resp = signed_request(self.server, "POST", f"/{bucket}/obj?uploadId={uid}",
                                      body=body)
                self.assertS3Error(resp, 400, "MalformedXML", "CompleteMultipartUpload")
        self.assertEqual(self.head_status(bucket, "obj"), 404)
        parts = self.s3.list_parts(Bucket=bucket, Key="obj", UploadId=uid)["Parts"]
        self.assertEqual([p["PartNumber"] for p in parts], [1])

    def test_delete_objects_malformed_xml(self):
        objects = {"keep-1": b"one", "keep-2": b"two"}
        bucket = self.bucket_with("dox", objects)
        bodies = {
            "truncated": b"<Delete><Object><Key>keep-1</Key></Object>",
            "not xml": b"not xml at all",
            "second root element after the document":
                b"<Delete><Object><Key>keep-1</Key></Object></Delete><extra/>",
            "wrong root element": b"<Remove><Object><Key>keep-1</Key></Object></Remove>",
            "Object without Key": b"<Delete><Object><NoKey>keep-1</NoKey></Object></Delete>",
            "no objects": b"<Delete></Delete>",
        }
        for name, body in bodies.items():
            with self.subTest(body=name):
                resp = signed_request(self.server, "POST", f"/{bucket}?delete", body=body,
                                      headers={"Content-MD5": md5_b64(body)})
                self.assertS3Error(resp, 400, "MalformedXML", "DeleteObjects")
        # More than 1000 keys.
        body = ("<Delete>" + "".join(f"<Object><Key>k{i}</Key></Object>" for i in range(1001))
                + "</Delete>").encode()
        resp = signed_request(self.server, "POST", f"/{bucket}?delete", body=body,
                              headers={"Content-MD5": md5_b64(body)})
        self.assertS3Error(resp, 400, "MalformedXML", "DeleteObjects with 1001 keys")
        self.assertUnchanged(bucket, objects)

    def test_delete_objects_without_content_md5(self):
        objects = {"keep": b"kept"}
        bucket = self.bucket_with("dnomd5", objects)
        body = b"<Delete><Object><Key>keep</Key></Object></Delete>"
        resp = signed_request(self.server, "POST", f"/{bucket}?delete", body=body)
        self.assertS3Error(resp, 400, "InvalidRequest", "DeleteObjects without Content-MD5")
        resp = signed_request(self.server, "POST", f"/{bucket}?delete", body=body,
                              headers={"Content-MD5": md5_b64(b"other")})
        self.assertS3Error(resp, 400, "BadDigest", "DeleteObjects with a wrong Content-MD5")
        self.assertUnchanged(bucket, objects)

    # ------------------------------------------------------- authentication

    def test_no_authorization(self):
        objects = {"private": b"private data"}
        bucket = self.bucket_with("noauth", objects)
        resp = http_request(self.server, "PUT", f"/{bucket}/new", {}, b"anonymous write")
        self.assertS3Error(resp, 403, "AccessDenied", "anonymous PUT")
        resp = http_request(self.server, "GET", f"/{bucket}/private", {})
        self.assertS3Error(resp, 403, "AccessDenied", "anonymous GET")
        self.assertNotIn(b"private data", resp.body)
        resp = http_request(self.server, "GET", f"/{bucket}", {})
        self.assertS3Error(resp, 403, "AccessDenied", "anonymous list")
        resp = http_request(self.server, "DELETE", f"/{bucket}/private", {})
        self.assertS3Error(resp, 403, "AccessDenied", "anonymous DELETE")
        resp = http_request(self.server, "PUT", "/anonymous-bucket", {})
        self.assertS3Error(resp, 403, "AccessDenied", "anonymous CreateBucket")
        self.assertUnchanged(bucket, objects)
        self.assertNotIn("anonymous-bucket",
                         [b["Name"] for b in self.s3.list_buckets()["Buckets"]])

    def test_bad_signature(self):
        objects = {"k": b"original"}
        bucket = self.bucket_with("badsig", objects)
        for key in ("k", "new"):
            with self.subTest(key=key):
                body = b"forged"
                headers = sign_headers(self.server, "PUT", f"/{bucket}/{key}", body=body)
                auth = headers["Authorization"]
                last = auth[-1]
                headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
                resp = http_request(self.server, "PUT", f"/{bucket}/{key}", headers, body)
                self.assertS3Error(resp, 403, "SignatureDoesNotMatch", "PUT with a flipped signature")
        # A signed header changed after signing.
        headers = sign_headers(self.server, "PUT", f"/{bucket}/k", body=b"forged",
                               headers={"x-amz-meta-a": "1"})
        headers["x-amz-meta-a"] = "2"
        resp = http_request(self.server, "PUT", f"/{bucket}/k", headers, b"forged")
        self.assertS3Error(resp, 403, "SignatureDoesNotMatch", "PUT with a changed signed header")
        # The path changed after signing.
        headers = sign_headers(self.server, "GET", f"/{bucket}/k")
        resp = http_request(self.server, "GET", f"/{bucket}/other", headers)
        self.assertS3Error(resp, 403, "SignatureDoesNotMatch", "GET of another path")
        self.assertUnchanged(bucket, objects)

    def test_unknown_access_key(self):
        objects = {"k": b"original"}
        bucket = self.bucket_with("unkak", objects)
        resp = signed_request(self.server, "PUT", f"/{bucket}/k", body=b"forged",
                              access_key="AKIDOESNOTEXIST00000", secret_key="whatever")
        self.assertS3Error(resp, 403, "InvalidAccessKeyId", "PUT with an unknown access key")
        resp = signed_request(self.server, "GET", "/", access_key="AKIDOESNOTEXIST00000",
                              secret_key="whatever")
        self.assertS3Error(resp, 403, "InvalidAccessKeyId", "ListBuckets with an unknown key")
        self.assertUnchanged(bucket, objects)

    def test_wrong_secret(self):
        objects = {"k": b"original"}
        bucket = self.bucket_with("wrongsk", objects)
        resp = signed_request(self.server, "PUT", f"/{bucket}/k", body=b"forged",
                              secret_key=self.server.secret_key + "x")
        self.assertS3Error(resp, 403, "SignatureDoesNotMatch", "PUT with a wrong secret")
        resp = signed_request(self.server, "DELETE", f"/{bucket}/k",
                              secret_key="wrong-secret")
        self.assertS3Error(resp, 403, "SignatureDoesNotMatch", "DELETE with a wrong secret")
        self.assertUnchanged(bucket, objects)

    def test_expired_presigned_url(self):
        objects = {"k": b"presigned secret"}
        bucket = self.bucket_with("expired", objects)
        now = datetime.datetime.now(datetime.timezone.utc)
        # Control: the same signer with a valid time works.
        target = harness.presign_url(self.server, "GET", f"/{bucket}/k", 600)
        resp = http_request(self.server, "GET", target, {})
        self.assertEqual((resp.status, resp.body), (200, b"presigned secret"), resp)
        # Signed two hours ago, valid for one hour.
        target = harness.presign_url(self.server, "GET", f"/{bucket}/k", 3600,
                                     when=now - datetime.timedelta(hours=2))
        resp = http_request(self.server, "GET", target, {})
        self.assertS3Error(resp, 403, "AccessDenied", "expired presigned GET")
        self.assertNotIn(b"presigned secret", resp.body)
        target = harness.presign_url(self.server, "PUT", f"/{bucket}/k", 3600,
                                     when=now - datetime.timedelta(hours=2))
        resp = http_request(self.server, "PUT", target, {}, b"overwrite")
        self.assertS3Error(resp, 403, "AccessDenied", "expired presigned PUT")
        target = harness.presign_url(self.server, "PUT", f"/{bucket}/new", 60,
                                     when=now - datetime.timedelta(seconds=120))
        resp = http_request(self.server, "PUT", target, {}, b"new")
        self.assertS3Error(resp, 403, "AccessDenied", "expired presigned PUT (new key)")
        # More than 7 days of validity is not allowed.
        target = harness.presign_url(self.server, "GET", f"/{bucket}/k", 7 * 24 * 3600 + 1)
        resp = http_request(self.server, "GET", target, {})
        self.assertS3Error(resp, 400, "AuthorizationQueryParametersError",
                           "presigned URL valid for more than 7 days")
        self.assertUnchanged(bucket, objects)

    def test_request_time_too_skewed(self):
        objects = {"k": b"original"}
        bucket = self.bucket_with("skew", objects)
        body = b"late write"
        target, headers = harness.sign_headers_manual(
            self.server, "PUT", f"/{bucket}/k", payload_hash=hashlib.sha256(body).hexdigest(),
            when=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
        resp = http_request(self.server, "PUT", target, headers, body)
        self.assertS3Error(resp, 403, "RequestTimeTooSkewed", "PUT signed an hour ago")
        # Control: the same signer, now.
        target, headers = harness.sign_headers_manual(
            self.server, "GET", f"/{bucket}/k")
        resp = http_request(self.server, "GET", target, headers)
        self.assertEqual((resp.status, resp.body), (200, b"original"), resp)
        self.assertUnchanged(bucket, objects)

    def test_malformed_authorization_header(self):
        objects = {"k": b"original"}
        bucket = self.bucket_with("authmal", objects)
        headers = sign_headers(self.server, "PUT", f"/{bucket}/k", body=b"x")
        headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=garbage, Signature=abc"
        resp = http_request(self.server, "PUT", f"/{bucket}/k", headers, b"x")
        self.assertS3Error(resp, 400, "AuthorizationHeaderMalformed", "garbage Authorization")
        # Credential scope for another region.
        headers = sign_headers(self.server, "PUT", f"/{bucket}/k", body=b"x")
        headers["Authorization"] = headers["Authorization"].replace("/us-east-1/",
                                                                    "/eu-west-1/")
        resp = http_request(self.server, "PUT", f"/{bucket}/k", headers, b"x")
        self.assertEqual(resp.status // 100, 4, resp)
        self.assertIn(resp.code, ("AuthorizationHeaderMalformed", "SignatureDoesNotMatch"), resp)
        self.assertUnchanged(bucket, objects)

    def test_payload_hash_mismatch(self):
        objects = {"k": b"original"}
        bucket = self.bucket_with("sha", objects)
        headers = sign_headers(self.server, "PUT", f"/{bucket}/k", body=b"what was signed")
        resp = http_request(self.server, "PUT", f"/{bucket}/k", headers, b"what is sent !!")
        self.assertS3Error(resp, 400, "XAmzContentSHA256Mismatch", "body differs from its hash")
        headers = sign_headers(self.server, "PUT", f"/{bucket}/new", body=b"what was signed")
        resp = http_request(self.server, "PUT", f"/{bucket}/new", headers, b"what is sent !!")
        self.assertS3Error(resp, 400, "XAmzContentSHA256Mismatch", "body differs from its hash")
        self.assertUnchanged(bucket, objects)

    # ------------------------------------------------------------ framing

    def test_put_without_content_length(self):
        bucket = self.bucket_with("nolen")
        headers = sign_headers(self.server, "PUT", f"/{bucket}/nolen",
                               payload_hash="UNSIGNED-PAYLOAD")
        lines = [f"PUT /{bucket}/nolen HTTP/1.1", f"Host: {self.server.host_port}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
        lines += ["Connection: close", "", ""]
        resp = raw_exchange(self.server, "\r\n".join(lines).encode(), method="PUT")
        self.assertS3Error(resp, 411, "MissingContentLength", "PUT without Content-Length")
        self.assertEqual(self.keys(bucket), [])

    def test_oversized_headers(self):
        objects = {"k": b"original"}
        bucket = self.bucket_with("bighdr", objects)
        for shape in ("one header", "many headers"):
            with self.subTest(shape=shape):
                headers = sign_headers(self.server, "PUT", f"/{bucket}/k", body=b"big",
                                       payload_hash="UNSIGNED-PAYLOAD")
                lines = [f"PUT /{bucket}/k HTTP/1.1", f"Host: {self.server.host_port}",
                         "Content-Length: 3"]
                lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
                if shape == "one header":
                    lines.append("X-Padding: " + "p" * 65536)
                else:
                    lines += [f"X-Pad-{i}: " + "p" * 1000 for i in range(66)]
                request = ("\r\n".join(lines) + "\r\n\r\n").encode() + b"big"
                try:
                    resp = raw_exchange(self.server, request, method="PUT")
                except ConnectionResetError as exc:
                    self.fail(f"connection reset without a response to a ~64 KiB header: {exc}")
                self.assertIn(resp.status, (400, 431), resp)
        # The server is still serving.
        resp = http_request(self.server, "GET", "/health")
        self.assertEqual(resp.status, 200)
        self.assertUnchanged(bucket, objects)

    # ---------------------------------------------------------------- keys

    def _put_raw_path(self, raw_path, body=b"evil"):
        return signed_request(self.server, "PUT", raw_path, body=body)

    def test_key_with_dot_dot_segments(self):
        objects = {"inside": b"inside"}
        bucket = self.bucket_with("dotdot", objects)
        for key in ["../escape", "a/../b", "a/..", "..", "./x", "a/./b"]:
            with self.subTest(key=key):
                resp = self._put_raw_path(f"/{bucket}/{key}")
                self.assertS3Error(resp, 400, "InvalidArgument", f"PUT key {key!r}")
        # Reaching another bucket through the path must not work either.
        other = self.bucket_with("dotdot-victim", {"victim": b"victim data"})
        resp = self._put_raw_path(f"/{bucket}/../{other}/victim")
        self.assertEqual(resp.status // 100, 4, resp)
        self.assertUnchanged(other, {"victim": b"victim data"})
        resp = signed_request(self.server, "GET", f"/{bucket}/../{other}/victim")
        self.assertNotEqual(resp.status, 200, resp)
        self.assertNotIn(b"victim data", resp.body)
        # Copy and multipart paths validate the key too.
        resp = signed_request(self.server, "PUT", f"/{bucket}/a/../b",
                              headers={"x-amz-copy-source": f"/{bucket}/inside"})
        self.assertS3Error(resp, 400, "InvalidArgument", "CopyObject to a '..' key")
        resp = signed_request(self.server, "POST", f"/{bucket}/a/../b?uploads")
        self.assertS3Error(resp, 400, "InvalidArgument", "CreateMultipartUpload of a '..' key")
        self.assertUnchanged(bucket, objects)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])

    def test_key_with_encoded_dot_dot(self):
        objects = {"inside": b"inside"}
        bucket = self.bucket_with("pctdot", objects)
        for raw in ["%2e%2e/escape", "%2E%2E/escape", "a/%2e%2e/b", "a%2f%2e%2e%2fb", ".%2e/x"]:
            with self.subTest(raw=raw):
                resp = self._put_raw_path(f"/{bucket}/{raw}")
                self.assertS3Error(resp, 400, "InvalidArgument", f"PUT raw path {raw!r}")
        self.assertUnchanged(bucket, objects)

    def test_key_with_nul(self):
        objects = {"inside": b"inside"}
        bucket = self.bucket_with("nul", objects)
        for raw in ["a%00b", "%00", "trailing%00"]:
            with self.subTest(raw=raw):
                resp = self._put_raw_path(f"/{bucket}/{raw}")
                self.assertS3Error(resp, 400, "InvalidArgument", f"PUT raw path {raw!r}")
        self.assertUnchanged(bucket, objects)

    def test_key_too_long(self):
        bucket = self.bucket_with("longkey")
        ok_key = "k" * 1024
        self.s3.put_object(Bucket=bucket, Key=ok_key, Body=b"max")
        for key in ["k" * 1025, "é" * 512 + "a"]:  # both 1025 bytes of UTF-8
            with self.subTest(chars=len(key)):
                resp = self._put_raw_path(f"/{bucket}/{q(key)}")
                self.assertS3Error(resp, 400, "KeyTooLongError", "PUT of a 1025-byte key")
                self.assertClientError("KeyTooLongError", 400, self.s3.create_multipart_upload,
                                       Bucket=bucket, Key=key)
        self.assertUnchanged(bucket, {ok_key: b"max"})

    def test_key_not_utf8(self):
        # AWS answers 400 (InvalidURI) for keys whose bytes are not UTF-8;
        # stored, such a key would make every listing invalid XML.
        objects = {"inside": b"inside"}
        bucket = self.bucket_with("utf8", objects)
        for raw in ["bad%FFkey", "%C3", "%80abc", "ok%C3%28"]:
            with self.subTest(raw=raw):
                resp = self._put_raw_path(f"/{bucket}/{raw}")
                self.assertEqual(resp.status, 400, f"PUT raw path {raw!r}: {resp!r}")
                self.assertIn(resp.code, ("InvalidURI", "InvalidArgument"), resp)
        resp = signed_request(self.server, "GET", f"/{bucket}?list-type=2")
        self.assertEqual(resp.status, 200, resp)
        try:
            resp.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.fail(f"ListObjectsV2 (no encoding-type) body is not the UTF-8 it declares "
                      f"({exc}): {resp.body[:400]!r}")
        self.assertUnchanged(bucket, objects)

    def test_truncated_body(self):
        import socket
        bucket = self.bucket_with("trunc", {"obj": b"original"})
        for key in ("obj", "new"):
            with self.subTest(key=key):
                headers = sign_headers(self.server, "PUT", f"/{bucket}/{key}",
                                       payload_hash="UNSIGNED-PAYLOAD")
                lines = [f"PUT /{bucket}/{key} HTTP/1.1", f"Host: {self.server.host_port}",
                         "Content-Length: 100000"]
                lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
                sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
                try:
                    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"y" * 50000)
                    sock.shutdown(socket.SHUT_WR)  # the client gives up half way
                    import http.client
                    resp = http.client.HTTPResponse(sock, method="PUT")
                    resp.begin()
                    body = resp.read()
                finally:
                    sock.close()
                raw = harness.RawResponse(resp.status, resp.reason, resp.getheaders(), body)
                self.assertS3Error(raw, 400, "IncompleteBody",
                                   "PUT whose body ends before Content-Length")
        self.assertUnchanged(bucket, {"obj": b"original"})

    def test_expect_continue_rejected_before_body(self):
        import socket
        bucket = self.bucket_with("expect", {"obj": b"original"})
        body = b"z" * (8 * MiB)
        headers = sign_headers(self.server, "PUT", f"/{bucket}/obj", body=body,
                               secret_key="wrong-secret")
        lines = [f"PUT /{bucket}/obj HTTP/1.1", f"Host: {self.server.host_port}",
                 f"Content-Length: {len(body)}", "Expect: 100-continue"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            import http.client
            resp = http.client.HTTPResponse(sock, method="PUT")
            resp.begin()  # must be the final answer, not "100 Continue"
            raw = harness.RawResponse(resp.status, resp.reason, resp.getheaders(), resp.read())
        finally:
            sock.close()
        self.assertS3Error(raw, 403, "SignatureDoesNotMatch",
                           "Expect: 100-continue with a bad signature")
        # boto3 with a wrong secret and a large body (it sends Expect: 100-continue).
        bad = harness.boto3_client(self.server, secret_key="wrong-secret")
        self.assertClientError("SignatureDoesNotMatch", 403, bad.put_object, Bucket=bucket,
                               Key="obj", Body=body)
        self.assertUnchanged(bucket, {"obj": b"original"})

    def test_invalid_percent_encoding(self):
        bucket = self.bucket_with("pct")
        resp = self._put_raw_path(f"/{bucket}/bad%zzkey")
        self.assertS3Error(resp, 400, "InvalidURI", "PUT raw path with %zz")
        resp = self._put_raw_path(f"/{bucket}/trailing%2")
        self.assertS3Error(resp, 400, "InvalidURI", "PUT raw path ending in %2")
        self.assertEqual(self.keys(bucket), [])

    # ------------------------------------------------------------- buckets

    def test_invalid_bucket_names(self):
        before = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        for name in ["ab", "Upper", "under_score", "a" * 64, "-lead", "trail-", "10.1.2.3",
                     "a..b", "a.-b", "xn--abc", "sthree-x", "x-s3alias", "sp%20ace"]:
            with self.subTest(name=name):
                resp = signed_request(self.server, "PUT", f"/{name}")
                self.assertS3Error(resp, 400, "InvalidBucketName", f"CreateBucket {name!r}")
        after = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        self.assertEqual(before, after)

    def test_bad_list_parameters(self):
        bucket = self.bucket_with("lstp", {"k": b"v"})
        resp = signed_request(self.server, "GET", f"/{bucket}?list-type=2&max-keys=-1")
        self.assertS3Error(resp, 400, "InvalidArgument", "max-keys=-1")
        resp = signed_request(self.server, "GET", f"/{bucket}?encoding-type=base64")
        self.assertS3Error(resp, 400, "InvalidArgument", "encoding-type=base64")
        resp = signed_request(self.server, "GET",
                              f"/{bucket}?continuation-token=%21%21%21&list-type=2")
        self.assertS3Error(resp, 400, "InvalidArgument", "bad continuation token")

    # ----------------------------------------------------------- multipart

    def test_parts_out_of_order(self):
        bucket = self.bucket_with("order")
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key="obj")["UploadId"]
        etags = {}
        for n in (1, 2, 3):
            etags[n] = self.s3.upload_part(Bucket=bucket, Key="obj", UploadId=uid, PartNumber=n,
                                           Body=harness.random_bytes(5 * MiB if n < 3 else 10, n))["ETag"]
        for order in ([2, 1, 3], [1, 3, 2], [3, 2, 1]):
            with self.subTest(order=order):
                xml = "<CompleteMultipartUpload>" + "".join(
                    f"<Part><PartNumber>{n}</PartNumber><ETag>{etags[n]}</ETag></Part>"
                    for n in order) + "</CompleteMultipartUpload>"
                resp = signed_request(self.server, "POST", f"/{bucket}/obj?uploadId={uid}",
                                      body=xml.encode())
                self.assertS3Error(resp, 400, "InvalidPartOrder", f"Complete with parts {order}")
        self.assertEqual(self.head_status(bucket, "obj"), 404)
        parts = self.s3.list_parts(Bucket=bucket, Key="obj", UploadId=uid)["Parts"]
        self.assertEqual([p["PartNumber"] for p in parts], [1, 2, 3])

    def test_unknown_upload_ids(self):
        bucket = self.bucket_with("nosuch")
        real_uid, _ = self.upload_with_part(bucket, "real")
        for uid in ["0" * 32, "not-an-upload-id", "", real_uid + "0"]:
            with self.subTest(uid=uid):
                target = f"/{bucket}/obj?uploadId={uid}"
                resp = signed_request(self.server, "PUT", f"/{bucket}/obj?partNumber=1&uploadId={uid}",
                                      body=b"data")
                self.assertS3Error(resp, 404, "NoSuchUpload", "UploadPart")
                resp = signed_request(self.server, "GET", target)
                self.assertS3Error(resp, 404, "NoSuchUpload", "ListParts")
                xml = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>"
                resp = signed_request(self.server, "POST", target, body=xml)
                self.assertS3Error(resp, 404, "NoSuchUpload", "CompleteMultipartUpload")
                resp = signed_request(self.server, "DELETE", target)
                self.assertS3Error(resp, 404, "NoSuchUpload", "AbortMultipartUpload")
        # A real upload id with another key.
        resp = signed_request(self.server, "DELETE", f"/{bucket}/other?uploadId={real_uid}")
        self.assertS3Error(resp, 404, "NoSuchUpload", "Abort with the upload id of another key")
        self.assertEqual(self.keys(bucket), [])
        uploads = self.s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
        self.assertEqual([u["UploadId"] for u in uploads], [real_uid])

    # ------------------------------------------------------ aws-chunked bodies

    def test_chunked_signed_body_control(self):
        bucket = self.bucket_with("chunkok")
        payload = harness.random_bytes(200_000, 5)
        resp, _, _ = harness.streaming_signed_put(self.server, f"/{bucket}/chunked", payload)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.headers.get("etag"), f'"{hashlib.md5(payload).hexdigest()}"')
        self.assertEqual(self.get_bytes(bucket, "chunked"), payload)
        # With a signed trailer carrying a CRC32.
        crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
        resp, _, _ = harness.streaming_signed_put(self.server, f"/{bucket}/trailer", payload,
                                                  trailer=("x-amz-checksum-crc32", crc))
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.get_bytes(bucket, "trailer"), payload)
        head = self.s3.head_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
        self.assertEqual(head.get("ChecksumCRC32"), crc)

    def test_chunked_body_tampered(self):
        original = harness.random_bytes(200_000, 6)
        bucket = self.bucket_with("chunkbad", {"obj": original})
        payload = harness.random_bytes(200_000, 7)

        def flip_data(chunks):
            data = bytearray(chunks[1][1])
            data[100] ^= 0x01
            chunks[1][1] = bytes(data)

        def flip_signature(chunks):
            header = chunks[0][0].decode()
            sig = header.rsplit("=", 1)[1].strip()
            bad = ("0" if sig[0] != "0" else "1") + sig[1:]
            chunks[0][0] = header.replace(sig, bad).encode()

        def swap_chunks(chunks):
            chunks[0], chunks[1] = chunks[1], chunks[0]

        def drop_chunk(chunks):
            del chunks[1]

        for name, tamper in [("data byte flipped", flip_data),
                             ("chunk signature changed", flip_signature),
                             ("chunks swapped", swap_chunks)]:
            with self.subTest(tamper=name):
                resp, _, _ = harness.streaming_signed_put(self.server, f"/{bucket}/obj", payload,
                                                          tamper=tamper)
                self.assertS3Error(resp, 403, "SignatureDoesNotMatch", f"aws-chunked, {name}")
                resp, _, _ = harness.streaming_signed_put(self.server, f"/{bucket}/new", payload,
                                                          tamper=tamper)
                self.assertS3Error(resp, 403, "SignatureDoesNotMatch", f"aws-chunked, {name}")
        with self.subTest(tamper="chunk dropped"):
            resp, _, _ = harness.streaming_signed_put(self.server, f"/{bucket}/obj", payload,
                                                      tamper=drop_chunk)
            self.assertEqual(resp.status // 100, 4, resp)
            self.assertIn(resp.code, ("SignatureDoesNotMatch", "IncompleteBody"), resp)
        # The trailer: a changed checksum breaks the trailer signature.
        crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
        resp, headers, body = harness.streaming_signed_put(
            self.server, f"/{bucket}/obj", payload, trailer=("x-amz-checksum-crc32", crc))
        self.assertEqual(resp.status, 200, resp)  # control
        self.s3.put_object(Bucket=bucket, Key="obj", Body=original)
        wrong_crc = base64.b64encode(zlib.crc32(b"x").to_bytes(4, "big")).decode()
        tampered = body.replace(f"x-amz-checksum-crc32:{crc}".encode(),
                                f"x-amz-checksum-crc32:{wrong_crc}".encode())
        self.assertNotEqual(tampered, body)
        resp = http_request(self.server, "PUT", f"/{bucket}/obj", headers, tampered)
        # (A fresh signature date is not needed: the seed signature is unchanged.)
        self.assertEqual(resp.status, 403, resp)
        self.assertEqual(resp.code, "SignatureDoesNotMatch", resp)
        self.assertUnchanged(bucket, {"obj": original})

    def test_unsigned_trailer_checksum(self):
        original = b"original content"
        bucket = self.bucket_with("utrail", {"obj": original})
        payload = harness.random_bytes(150_000, 8)
        crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
        # Control: what SDKs send over TLS with a checksum.
        resp = harness.unsigned_trailer_put(self.server, f"/{bucket}/good", payload,
                                            "x-amz-checksum-crc32", crc)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.get_bytes(bucket, "good"), payload)
        head = self.s3.head_object(Bucket=bucket, Key="good", ChecksumMode="ENABLED")
        self.assertEqual(head.get("ChecksumCRC32"), crc)
        # A wrong trailing checksum.
        wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
        resp = harness.unsigned_trailer_put(self.server, f"/{bucket}/obj", payload,
                                            "x-amz-checksum-crc32", wrong)
        self.assertS3Error(resp, 400, "BadDigest", "unsigned trailer with a wrong CRC32")
        self.assertUnchanged(bucket, {"obj": original, "good": payload})

    def test_unsigned_trailer_each_algorithm(self):
        # Every algorithm's trailer is verified under its own name (a
        # crc32c trailer must not be taken for crc32, sha1 for sha...).
        import hashlib as h
        original = b"original content"
        bucket = self.bucket_with("utrail2", {"obj": original})
        payload = harness.random_bytes(70_000, 9)
        crc32c = _crc32c(payload)
        values = {
            "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")),
            "x-amz-checksum-crc32c": base64.b64encode(crc32c.to_bytes(4, "big")),
            "x-amz-checksum-sha1": base64.b64encode(h.sha1(payload).digest()),
            "x-amz-checksum-sha256": base64.b64encode(h.sha256(payload).digest()),
        }
        wrong = base64.b64encode(b"\x00" * 4).decode()
        for name, value in values.items():
            with self.subTest(trailer=name):
                resp = harness.unsigned_trailer_put(self.server, f"/{bucket}/obj", payload, name,
                                                    wrong if "sha" not in name else
                                                    base64.b64encode(b"\x00" * 20).decode())
                self.assertS3Error(resp, 400, "BadDigest", f"unsigned trailer {name} wrong")
                resp = harness.unsigned_trailer_put(self.server, f"/{bucket}/ok-{name}", payload,
                                                    name, value.decode())
                self.assertEqual(resp.status, 200, resp)
                self.assertEqual(resp.headers.get(name), value.decode(),
                                 f"PutObject answered {resp.headers} for a {name} trailer")
        self.assertEqual(self.get_bytes(bucket, "obj"), original)
        self.assertEqual(self.keys(bucket), sorted(["obj"] + [f"ok-{n}" for n in values]))

    # ------------------------------------------------------------- digests

    def test_content_md5_mismatch(self):
        original = b"original"
        bucket = self.bucket_with("md5", {"obj": original})
        body = b"new content"
        for key in ("obj", "new"):
            with self.subTest(key=key):
                resp = signed_request(self.server, "PUT", f"/{bucket}/{key}", body=body,
                                      headers={"Content-MD5": md5_b64(b"something else")})
                self.assertS3Error(resp, 400, "BadDigest", "PUT with a wrong Content-MD5")
        resp = signed_request(self.server, "PUT", f"/{bucket}/new", body=body,
                              headers={"Content-MD5": "AAAA"})
        self.assertS3Error(resp, 400, "InvalidDigest", "PUT with a short Content-MD5")
        # UploadPart checks it too.
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
        resp = signed_request(self.server, "PUT", f"/{bucket}/mp?partNumber=1&uploadId={uid}",
                              body=body, headers={"Content-MD5": md5_b64(b"else")})
        self.assertS3Error(resp, 400, "BadDigest", "UploadPart with a wrong Content-MD5")
        self.assertEqual(self.s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
                         .get("Parts", []), [])
        self.assertUnchanged(bucket, {"obj": original})


if __name__ == "__main__":
    unittest.main()
