# SPDX-License-Identifier: Apache-2.0
"""Server-side encryption against a real server (issue #4 items 2-5, 7, 8).

SSE-S3, SSE-KMS and SSE-C with AWS's exact semantics: response headers,
every SSE-C error case of AWS's recorded responses
(../shared/research/s3-encryption-anchors.md §d), HEAD errors without a
body, KMS keys (not found, disabled, grants), bucket default encryption and
blocking SSE-C, copies across modes and keys (SSE-C key rotation in place
without rewriting data), multipart and range GETs under every mode, the TLS
rule and its loopback exception, ETags and listings, the sealed server.

boto3 over TLS for what it can express; raw SigV4-signed requests
(harness.signed_request) where boto3 validates client-side or does not
model a field (BlockedEncryptionTypes); awscli v2 for --sse, --sse-kms-key-id
and --sse-c.

    /usr/bin/python3 -m unittest -v tests/s3/test_sse.py
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import AWS, error_code, error_status, random_bytes  # noqa: E402

try:
    import boto3  # noqa: F401
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import ClientError
    IMPORT_ERROR = None
except ImportError as exc:  # fail, never skip
    IMPORT_ERROR = exc
    ClientError = Exception

MiB = 1 << 20
ACCOUNT = "000000000000"
ARN_PREFIX = f"arn:aws:kms:{harness.REGION}:{ACCOUNT}:key/"

# AWS's messages (anchors §d; recorded AWS responses).
M_SSEC_OVER_HTTP = ("Requests specifying Server Side Encryption with Customer provided keys must "
                    "be made over a secure connection.")
M_KMS_OVER_HTTP = ("Requests specifying Server Side Encryption with AWS KMS managed keys must be "
                   "made over a secure connection.")
M_NEED_PARAMS = ("The object was stored using a form of Server Side Encryption. The correct "
                 "parameters must be provided to retrieve the object.")
M_WRONG_KEY = ("Requests specifying Server Side Encryption with Customer provided keys must "
               "provide the correct secret key.")
M_NOT_APPLICABLE = "The encryption parameters are not applicable to this object."
M_BAD_ALGORITHM = "The Encryption request you specified is not valid. Supported value: AES256."
M_NO_ALGORITHM = ("Requests specifying Server Side Encryption with Customer provided keys must "
                  "provide a valid encryption algorithm.")
M_NO_KEY = ("Requests specifying Server Side Encryption with Customer provided keys must provide "
            "an appropriate secret key.")
M_NO_MD5 = ("Requests specifying Server Side Encryption with Customer provided keys must provide "
            "the client calculated MD5 of the secret key.")
M_MD5_MISMATCH = "The calculated MD5 hash of the key did not match the hash that was provided."
M_BAD_LENGTH = "The secret key was invalid for the specified algorithm."
M_TOO_SHORT = "The secret key was invalid - too short."
M_INCOMPATIBLE = ("Server Side Encryption with Customer provided key is incompatible with the "
                  "encryption method specified")
M_INITIATE_REQUESTED = ("The multipart upload initiate requested encryption. Subsequent part "
                        "requests must include the appropriate encryption parameters.")
M_NOT_MATCH = "The provided encryption parameters did not match the ones used originally."
M_PART_SSE = "x-amz-server-side-encryption header is not supported for this operation."
M_COMPLETE = ("The object was stored using a form of Server Side Encryption. Correct SSE-C "
              "request parameters are required for this request when specifying checksums for "
              "each part.")
M_SELF_COPY = ("This copy request is illegal because it is trying to copy an object to itself "
               "without changing the object's metadata, storage class, website redirect "
               "location or encryption attributes.")

# The 32-byte key of the recorded AWS exchanges.
AWS_KEY_B64 = "K0+/yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo="
AWS_KEY_MD5 = "I0aPuXuw4REDJuP1fw07QQ=="


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def md5_b64(data: bytes) -> str:
    return b64(hashlib.md5(data).digest())


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def new_key(seed: str) -> bytes:
    return hashlib.sha256(f"strongroom sse test key {seed}".encode()).digest()


def ssec(raw: bytes, prefix: str = "x-amz-", md5: bool = True, algorithm: str = "AES256",
         key_text: str | None = None, md5_text: str | None = None) -> dict:
    """SSE-C headers of one group ('x-amz-' or 'x-amz-copy-source-')."""
    headers = {prefix + "server-side-encryption-customer-algorithm": algorithm,
               prefix + "server-side-encryption-customer-key":
                   key_text if key_text is not None else b64(raw)}
    if md5:
        headers[prefix + "server-side-encryption-customer-key-MD5"] = (
            md5_text if md5_text is not None else md5_b64(raw))
    return headers


def boto_ssec(raw: bytes, copy_source: bool = False) -> dict:
    if copy_source:
        return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": raw}
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": raw}


def text_ssec(raw_args: dict) -> dict:
    """SSE-C arguments for operations whose botocore (1.29) does not encode the key
    itself (ListParts): base64 key and MD5 given explicitly."""
    if "SSECustomerKey" not in raw_args:
        return dict(raw_args)
    raw = raw_args["SSECustomerKey"]
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": b64(raw),
            "SSECustomerKeyMD5": md5_b64(raw)}


def multipart_etag(parts: list) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"


class SseCase(harness.ServerTestCase):
    """Shared helpers."""

    @classmethod
    def setUpClass(cls):
        if IMPORT_ERROR is not None:
            raise AssertionError(f"boto3 is not importable by {sys.executable}: {IMPORT_ERROR}")
        super().setUpClass()
        cls._key_counter = 0
        cls._user_counter = 0

    # -- raw requests

    def raw(self, method: str, bucket: str, key: str = "", query: str = "",
            headers: dict | None = None, body: bytes = b"", access_key: str | None = None,
            secret_key: str | None = None) -> harness.RawResponse:
        target = "/" + bucket
        if key:
            target += "/" + urllib.parse.quote(key, safe="/~")
        if query:
            target += "?" + query
        return harness.signed_request(self.server, method, target, dict(headers or {}), body,
                                      access_key=access_key, secret_key=secret_key)

    def assertError(self, resp: harness.RawResponse, status: int, code: str | None,
                    message: str | None = None, what: str = ""):
        self.assertEqual(resp.status, status, f"{what}: {resp}")
        if code is None:  # HEAD: no body at all
            self.assertEqual(resp.body, b"", f"{what}: a HEAD error must have no body: {resp}")
            return
        error = harness.parse_error(resp.body)
        self.assertEqual(error.get("Code"), code, f"{what}: {resp}")
        if message is not None:
            self.assertEqual(error.get("Message"), message, f"{what}: {resp}")

    def assertOk(self, resp: harness.RawResponse, what: str = "", status: int = 200):
        self.assertEqual(resp.status, status, f"{what}: {resp}")

    # -- keys and users through the CLI (effective at once on the running server)

    def cli(self, *args: str) -> str:
        proc = self.server.cli(*args)
        self.assertEqual(proc.returncode, 0,
                         f"strongroom {' '.join(args)} failed: {proc.stdout}{proc.stderr}")
        return proc.stdout

    def create_kms_key(self, stem: str = "app") -> tuple[str, str]:
        """Creates a key with alias/<name>; returns (alias, key id)."""
        type(self)._key_counter += 1
        name = f"{stem}-{self._key_counter}-{uuid.uuid4().hex[:6]}"
        out = self.cli("key", "create", name)
        match = re.search(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", out)
        self.assertIsNotNone(match, f"no key id in `key create` output: {out!r}")
        return f"alias/{name}", match.group(1)

    def create_user(self, admin: bool = False) -> tuple[str, str]:
        type(self)._user_counter += 1
        access_key = f"SRSSEUSER{self._user_counter:04d}{uuid.uuid4().hex[:7].upper()}"
        secret_key = "sse-user-secret-" + uuid.uuid4().hex
        proc = self.server.add_user(access_key, secret_key, admin=admin)
        self.assertEqual(proc.returncode, 0, f"user add failed: {proc.stdout}{proc.stderr}")
        return access_key, secret_key

    def client_for(self, access_key: str, secret_key: str):
        return harness.boto3_client(self.server, access_key, secret_key, recorder=self.recorder)

    def kms_default_arn(self, bucket: str) -> str:
        put = self.s3.put_object(Bucket=bucket, Key="probe-aws-s3-key", Body=b"x",
                                 ServerSideEncryption="aws:kms")
        return put["SSEKMSKeyId"]

    def blobs_dir(self) -> str:
        return os.path.join(self.server.data_dir, "blobs")


class SseTlsTest(SseCase):
    """Every mode over HTTPS (as SSE-C and SSE-KMS require)."""

    server_options = {"tls": True}

    # ------------------------------------------------------------ modes

    def test_sse_s3_is_the_default_and_round_trips(self):
        bucket = self.new_bucket("s3")
        data = random_bytes(100_000, 1)
        for key, extra in (("implicit", {}), ("explicit", {"ServerSideEncryption": "AES256"})):
            with self.subTest(key=key):
                put = self.s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
                self.assertEqual(put["ServerSideEncryption"], "AES256")
                self.assertNotIn("SSEKMSKeyId", put)
                self.assertNotIn("SSECustomerAlgorithm", put)
                # SSE-S3 single part: the ETag is the MD5 of the plaintext, as AWS.
                self.assertEqual(put["ETag"], f'"{md5_hex(data)}"')
                head = self.s3.head_object(Bucket=bucket, Key=key)
                self.assertEqual(head["ServerSideEncryption"], "AES256")
                self.assertEqual(head["ETag"], put["ETag"])
                got = self.s3.get_object(Bucket=bucket, Key=key)
                self.assertEqual(got["ServerSideEncryption"], "AES256")
                self.assertEqual(got["Body"].read(), data)
                rng = self.s3.get_object(Bucket=bucket, Key=key, Range="bytes=16380-16400")
                self.assertEqual(rng["ResponseMetadata"]["HTTPStatusCode"], 206)
                self.assertEqual(rng["Body"].read(), data[16380:16401])

    def test_sse_kms_default_key(self):
        bucket = self.new_bucket("kms-default")
        data = random_bytes(70_000, 2)
        put = self.s3.put_object(Bucket=bucket, Key="k", Body=data, ServerSideEncryption="aws:kms")
        self.assertEqual(put["ServerSideEncryption"], "aws:kms")
        self.assertTrue(put["SSEKMSKeyId"].startswith(ARN_PREFIX), put)
        self.assertNotIn("BucketKeyEnabled", put)
        self.assertNotIn("SSEKMSEncryptionContext", put)
        # SSE-KMS: the ETag is not the plaintext MD5 (as AWS).
        self.assertRegex(put["ETag"], r'^"[0-9a-f]{32}"$')
        self.assertNotEqual(put["ETag"], f'"{md5_hex(data)}"')
        head = self.s3.head_object(Bucket=bucket, Key="k")
        self.assertEqual((head["ServerSideEncryption"], head["SSEKMSKeyId"]),
                         ("aws:kms", put["SSEKMSKeyId"]))
        self.assertEqual(head["ETag"], put["ETag"])
        got = self.s3.get_object(Bucket=bucket, Key="k")
        self.assertEqual((got["ServerSideEncryption"], got["SSEKMSKeyId"]),
                         ("aws:kms", put["SSEKMSKeyId"]))
        self.assertEqual(got["Body"].read(), data)
        self.assertEqual(self.get_bytes(bucket, "k", Range="bytes=-100"), data[-100:])
        # The alias and the ARN of the default key name the same key.
        again = self.s3.put_object(Bucket=bucket, Key="k2", Body=b"y", ServerSideEncryption="aws:kms",
                                   SSEKMSKeyId="alias/aws/s3")
        self.assertEqual(again["SSEKMSKeyId"], put["SSEKMSKeyId"])
        # Same plaintext, same key: a different ETag (derived under each DEK).
        twin = self.s3.put_object(Bucket=bucket, Key="twin", Body=data,
                                  ServerSideEncryption="aws:kms")
        self.assertNotEqual(twin["ETag"], put["ETag"])

    def test_sse_kms_created_key_context_and_bucket_key(self):
        bucket = self.new_bucket("kms-key")
        alias, key_id = self.create_kms_key()
        arn = ARN_PREFIX + key_id
        context = b64(json.dumps({"department": "finance", "ticket": "é-42"}).encode())
        data = random_bytes(40_000, 3)
        put = self.s3.put_object(Bucket=bucket, Key="k", Body=data, ServerSideEncryption="aws:kms",
                                 SSEKMSKeyId=alias, SSEKMSEncryptionContext=context,
                                 BucketKeyEnabled=True)
        self.assertEqual(put["ServerSideEncryption"], "aws:kms")
        self.assertEqual(put["SSEKMSKeyId"], arn)
        self.assertEqual(put["SSEKMSEncryptionContext"], context)
        self.assertIs(put["BucketKeyEnabled"], True)
        head = self.s3.head_object(Bucket=bucket, Key="k")
        self.assertEqual(head["SSEKMSKeyId"], arn)
        self.assertIs(head["BucketKeyEnabled"], True)
        self.assertEqual(self.get_bytes(bucket, "k"), data)
        self.assertEqual(self.get_bytes(bucket, "k", Range="bytes=100-199"), data[100:200])
        # Every reference form: key id, key ARN, alias ARN, bare alias name.
        for ref in (key_id, arn, f"arn:aws:kms:{harness.REGION}:{ACCOUNT}:{alias}",
                    alias.split("/", 1)[1]):
            with self.subTest(ref=ref):
                r = self.s3.put_object(Bucket=bucket, Key="ref", Body=b"r",
                                       ServerSideEncryption="aws:kms", SSEKMSKeyId=ref)
                self.assertEqual(r["SSEKMSKeyId"], arn)
                self.assertNotIn("BucketKeyEnabled", r)
        # The context must be base64 of a JSON object of strings.
        for bad in (b64(b"[1,2]"), b64(b'{"a": 1}'), "not base64!", b64(b"{")):
            with self.subTest(context=bad):
                self.assertClientError("InvalidArgument", 400, self.s3.put_object, Bucket=bucket,
                                       Key="bad", Body=b"x", ServerSideEncryption="aws:kms",
                                       SSEKMSEncryptionContext=bad)
        # A key id or context without aws:kms.
        self.assertClientError("InvalidArgument", 400, self.s3.put_object, Bucket=bucket,
                               Key="bad", Body=b"x", ServerSideEncryption="AES256",
                               SSEKMSKeyId=alias)
        resp = self.raw("PUT", bucket, "bad", headers={
            "x-amz-server-side-encryption-aws-kms-key-id": alias}, body=b"x")
        self.assertError(resp, 400, "InvalidArgument",
                         "Server Side Encryption with AWS KMS managed key requires HTTP header "
                         "x-amz-server-side-encryption : aws:kms")
        # An unknown algorithm.
        resp = self.raw("PUT", bucket, "bad", headers={"x-amz-server-side-encryption": "AES128"},
                        body=b"x")
        self.assertError(resp, 400, "InvalidArgument")
        self.assertEqual(self.head_status(bucket, "bad"), 404)

    def test_sse_c_round_trip(self):
        bucket = self.new_bucket("ssec")
        key = new_key("round trip")
        data = random_bytes(90_000, 4)
        put = self.s3.put_object(Bucket=bucket, Key="k", Body=data, **boto_ssec(key))
        self.assertEqual(put["SSECustomerAlgorithm"], "AES256")
        self.assertEqual(put["SSECustomerKeyMD5"], md5_b64(key))
        self.assertNotIn("ServerSideEncryption", put)  # as AWS
        self.assertNotEqual(put["ETag"], f'"{md5_hex(data)}"')
        self.assertRegex(put["ETag"], r'^"[0-9a-f]{32}"$')
        head = self.s3.head_object(Bucket=bucket, Key="k", **boto_ssec(key))
        self.assertEqual((head["SSECustomerAlgorithm"], head["SSECustomerKeyMD5"]),
                         ("AES256", md5_b64(key)))
        self.assertEqual(head["ContentLength"], len(data))
        got = self.s3.get_object(Bucket=bucket, Key="k", **boto_ssec(key))
        self.assertEqual(got["SSECustomerKeyMD5"], md5_b64(key))
        self.assertEqual(got["Body"].read(), data)
        for first, last in ((0, 0), (16383, 16384), (50_000, 89_999)):
            got = self.s3.get_object(Bucket=bucket, Key="k", Range=f"bytes={first}-{last}",
                                     **boto_ssec(key))
            self.assertEqual(got["Body"].read(), data[first:last + 1])
        # The key as AWS tolerates it: spaces and garbage are skipped.
        resp = self.raw("GET", bucket, "k", headers=ssec(
            key, key_text=" ".join(b64(key)[i:i + 4] for i in range(0, 44, 4)) + "!#"))
        self.assertOk(resp, "decorated key")
        self.assertEqual(resp.body, data)
        self.assertEqual(resp.headers.get("x-amz-server-side-encryption-customer-key-md5"),
                         md5_b64(key))
        self.assertNotIn("x-amz-server-side-encryption", resp.headers)
        # Tags need no key (AWS reads them without one).
        self.assertEqual(self.s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"], [])
        self.assertClientError("NoSuchKey", 404, self.s3.get_object_tagging, Bucket=bucket,
                               Key="missing")

    # ------------------------------------------------------- SSE-C errors

    def test_sse_c_write_errors(self):
        """Every write-side row of AWS's SSE-C table, on PutObject, CreateMultipartUpload
        and the CopyObject destination."""
        bucket = self.new_bucket("ssec-write")
        self.s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
        k = new_key("write errors")
        one = b"\x01"
        ten = b"1234567890"
        cases = [
            ("only algorithm", {"x-amz-server-side-encryption-customer-algorithm": "AES256"},
             400, "InvalidArgument", M_NO_KEY),
            ("only key", {"x-amz-server-side-encryption-customer-key": b64(k)},
             400, "InvalidArgument", M_NO_ALGORITHM),
            ("only MD5", {"x-amz-server-side-encryption-customer-key-MD5": md5_b64(k)},
             400, "InvalidArgument", M_NO_ALGORITHM),
            ("key and MD5 without algorithm",
             {"x-amz-server-side-encryption-customer-key": b64(k),
              "x-amz-server-side-encryption-customer-key-MD5": md5_b64(k)},
             400, "InvalidArgument", M_NO_ALGORITHM),
            ("algorithm and MD5 without key",
             {"x-amz-server-side-encryption-customer-algorithm": "AES256",
              "x-amz-server-side-encryption-customer-key-MD5": md5_b64(k)},
             400, "InvalidArgument", M_NO_KEY),
            ("MD5 missing", ssec(k, md5=False), 400, "InvalidArgument", M_NO_MD5),
            ("MD5 mismatch", ssec(k, md5_text=md5_b64(b"other")), 400, "InvalidArgument",
             M_MD5_MISMATCH),
            ("MD5 unpadded", ssec(k, md5_text=md5_b64(k).rstrip("=")), 400, "InvalidArgument",
             M_MD5_MISMATCH),
            ("MD5 not base64", ssec(k, md5_text="!!" + md5_b64(k)), 400, "InvalidArgument",
             M_MD5_MISMATCH),
            ("MD5 empty", ssec(k, md5_text=""), 400, "InvalidArgument", M_MD5_MISMATCH),
            ("key URL-safe base64", ssec(None, key_text=AWS_KEY_B64.replace("+", "-").replace("/", "_"),
                                         md5_text=AWS_KEY_MD5), 400, "InvalidArgument", M_MD5_MISMATCH),
            ("key unpadded", ssec(None, key_text=AWS_KEY_B64.rstrip("="), md5_text=AWS_KEY_MD5),
             400, "InvalidArgument", M_MD5_MISMATCH),
            ("invalid algorithm", ssec(k, algorithm="AES256-INVALID"), 400,
             "InvalidEncryptionAlgorithmError", M_BAD_ALGORITHM),
            ("empty algorithm", ssec(k, algorithm=""), 400, "InvalidEncryptionAlgorithmError",
             M_BAD_ALGORITHM),
            ("all invalid: MD5 first", ssec(None, algorithm="AES256-INVALID",
                                            key_text="not-valid-base64!!!",
                                            md5_text="K9opmNmw7hl9oUKgRH9nJQ=="),
             400, "InvalidArgument", M_MD5_MISMATCH),
            ("1-byte key", ssec(one), 400, "InvalidArgument", M_BAD_LENGTH),
            ("10-byte key", ssec(ten), 400, "InvalidArgument", M_BAD_LENGTH),
            ("31-byte key", ssec(k[:31]), 400, "InvalidArgument", M_BAD_LENGTH),
            ("33-byte key", ssec(k + b"!"), 400, "InvalidArgument", M_BAD_LENGTH),
            ("10-byte key, invalid algorithm", ssec(ten, algorithm="INVALID-ALGO"), 400,
             "InvalidEncryptionAlgorithmError", M_BAD_ALGORITHM),
            ("key 'ZZ'", ssec(None, key_text="ZZ", md5_text=AWS_KEY_MD5), 400, "InvalidArgument",
             M_TOO_SHORT),
            ("key '####'", ssec(None, key_text="####", md5_text=AWS_KEY_MD5), 400,
             "InvalidArgument", M_TOO_SHORT),
            ("empty key", ssec(None, key_text="", md5_text=AWS_KEY_MD5), 400, "InvalidArgument",
             M_TOO_SHORT),
            ("all three empty", ssec(None, algorithm="", key_text="", md5_text=""), 400,
             "InvalidArgument", M_TOO_SHORT),
            ("with x-amz-server-side-encryption: AES256",
             {**ssec(k), "x-amz-server-side-encryption": "AES256"}, 400, "InvalidArgument",
             M_INCOMPATIBLE),
            ("with x-amz-server-side-encryption: aws:kms",
             {**ssec(k), "x-amz-server-side-encryption": "aws:kms"}, 400, "InvalidArgument",
             M_INCOMPATIBLE),
        ]
        for what, headers, status, code, message in cases:
            with self.subTest(case=what, op="PutObject"):
                resp = self.raw("PUT", bucket, "target", headers=headers, body=b"data")
                self.assertError(resp, status, code, message, what)
            with self.subTest(case=what, op="CreateMultipartUpload"):
                resp = self.raw("POST", bucket, "target", query="uploads=", headers=headers)
                self.assertError(resp, status, code, message, what)
            with self.subTest(case=what, op="CopyObject destination"):
                resp = self.raw("PUT", bucket, "target", headers={
                    **headers, "x-amz-copy-source": f"/{bucket}/plain"})
                self.assertError(resp, status, code, message, what)
        self.assertEqual(self.head_status(bucket, "target"), 404)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])
        # Tolerated spellings of the right key (AWS accepts these).
        for what, text in (("spaces", " ".join(AWS_KEY_B64[i:i + 4] for i in range(0, 44, 4))),
                           ("garbage", AWS_KEY_B64[:22] + "!!!!#" + AWS_KEY_B64[22:]),
                           ("extra padding", AWS_KEY_B64 + "===")):
            with self.subTest(tolerated=what):
                resp = self.raw("PUT", bucket, "tolerated", body=b"ok",
                                headers=ssec(None, key_text=text, md5_text=AWS_KEY_MD5))
                self.assertOk(resp, what)
                self.assertEqual(resp.headers.get("x-amz-server-side-encryption-customer-key-md5"),
                                 AWS_KEY_MD5)

    def test_sse_c_read_errors_get_and_head(self):
        bucket = self.new_bucket("ssec-read")
        k = new_key("read errors")
        self.s3.put_object(Bucket=bucket, Key="enc", Body=b"secret body", **boto_ssec(k))
        self.s3.put_object(Bucket=bucket, Key="plain", Body=b"plain body")
        self.s3.put_object(Bucket=bucket, Key="kms", Body=b"kms body", ServerSideEncryption="aws:kms")
        other = new_key("other")
        cases = [
            ("enc", "no SSE-C headers", {}, 400, "InvalidRequest", M_NEED_PARAMS),
            ("enc", "wrong key", ssec(other), 403, "AccessDenied", M_WRONG_KEY),
            ("enc", "31-byte key", ssec(k[:31]), 403, "AccessDenied", M_WRONG_KEY),
            ("enc", "33-byte key", ssec(k + b"x"), 403, "AccessDenied", M_WRONG_KEY),
            ("enc", "1-byte key", ssec(b"\x01"), 403, "AccessDenied", M_WRONG_KEY),
            ("enc", "MD5 mismatch", ssec(k, md5_text=md5_b64(other)), 400, "InvalidArgument",
             M_MD5_MISMATCH),
            ("enc", "MD5 with trailing garbage",
             ssec(k, md5_text=md5_b64(k)[:22] + "A" * 100 + "=="), 400, "InvalidArgument",
             M_MD5_MISMATCH),
            ("enc", "invalid algorithm", ssec(k, algorithm="AES256-INVALID"), 400,
             "InvalidEncryptionAlgorithmError", M_BAD_ALGORITHM),
            ("enc", "only algorithm", {"x-amz-server-side-encryption-customer-algorithm": "AES256"},
             400, "InvalidArgument", M_NO_KEY),
            ("enc", "key and MD5 without algorithm",
             {"x-amz-server-side-encryption-customer-key": b64(k),
              "x-amz-server-side-encryption-customer-key-MD5": md5_b64(k)},
             400, "InvalidArgument", M_NO_ALGORITHM),
            ("enc", "key 'ZZ'", ssec(None, key_text="ZZ", md5_text=AWS_KEY_MD5), 400,
             "InvalidArgument", M_TOO_SHORT),
            ("plain", "SSE-C headers on a plain object", ssec(k), 400, "InvalidRequest",
             M_NOT_APPLICABLE),
            ("kms", "SSE-C headers on an SSE-KMS object", ssec(k), 400, "InvalidRequest",
             M_NOT_APPLICABLE),
        ]
        for key, what, headers, status, code, message in cases:
            with self.subTest(case=what, op="GET"):
                resp = self.raw("GET", bucket, key, headers=headers)
                self.assertError(resp, status, code, message, what)
            with self.subTest(case=what, op="HEAD"):
                resp = self.raw("HEAD", bucket, key, headers=headers)
                self.assertError(resp, status, None, what=what)
        # Reads take the MD5 as optional.
        resp = self.raw("GET", bucket, "enc", headers=ssec(k, md5=False))
        self.assertOk(resp, "GET without MD5")
        self.assertEqual(resp.body, b"secret body")
        self.assertOk(self.raw("HEAD", bucket, "enc", headers=ssec(k, md5=False)), "HEAD w/o MD5")

    def test_sse_c_copy_source_errors(self):
        bucket = self.new_bucket("ssec-copy")
        k = new_key("copy source")
        other = new_key("copy other")
        self.s3.put_object(Bucket=bucket, Key="enc", Body=b"copy me", **boto_ssec(k))
        self.s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
        src = {"x-amz-copy-source": f"/{bucket}/enc"}
        cs = "x-amz-copy-source-"
        cases = [
            ("no source headers", {}, 400, "InvalidRequest", M_NEED_PARAMS),
            ("wrong source key", ssec(other, prefix=cs), 400, "InvalidRequest", M_NOT_MATCH),
            ("1-byte source key", ssec(b"\x01", prefix=cs), 400, "InvalidRequest", M_NOT_MATCH),
            ("33-byte source key", ssec(b"\x01" * 33, prefix=cs), 400, "InvalidRequest",
             M_NOT_MATCH),
            ("only source algorithm", {cs + "server-side-encryption-customer-algorithm": "AES256"},
             400, "InvalidArgument", M_NO_KEY),
            ("source MD5 mismatch", ssec(k, prefix=cs, md5_text=md5_b64(other)), 400,
             "InvalidArgument", M_MD5_MISMATCH),
            ("source key 'ZZ'", ssec(None, prefix=cs, key_text="ZZ", md5_text=AWS_KEY_MD5), 400,
             "InvalidArgument", M_TOO_SHORT),
            ("invalid source algorithm", ssec(k, prefix=cs, algorithm="SRC-INVALID"), 400,
             "InvalidEncryptionAlgorithmError", M_BAD_ALGORITHM),
            # Both groups wrong: the source group is checked first.
            ("source before destination",
             {cs + "server-side-encryption-customer-algorithm": "AES256",
              **ssec(other, algorithm="DEST-INVALID")}, 400, "InvalidArgument", M_NO_KEY),
            ("source before destination (swapped)",
             {**ssec(k, prefix=cs, algorithm="SRC-INVALID"),
              "x-amz-server-side-encryption-customer-algorithm": "AES256"}, 400,
             "InvalidEncryptionAlgorithmError", M_BAD_ALGORITHM),
        ]
        for what, headers, status, code, message in cases:
            with self.subTest(case=what):
                resp = self.raw("PUT", bucket, "dest", headers={**src, **headers})
                self.assertError(resp, status, code, message, what)
        self.assertEqual(self.head_status(bucket, "dest"), 404)
        resp = self.raw("PUT", bucket, "dest", headers={
            "x-amz-copy-source": f"/{bucket}/plain", **ssec(k, prefix=cs)})
        self.assertError(resp, 400, "InvalidRequest", M_NOT_APPLICABLE, "source headers, plain source")
        # The copy source's MD5 is optional.
        resp = self.raw("PUT", bucket, "dest", headers={**src, **ssec(k, prefix=cs, md5=False)})
        self.assertOk(resp, "copy source without MD5")
        self.assertEqual(self.get_bytes(bucket, "dest"), b"copy me")

    def test_sse_c_multipart_errors(self):
        bucket = self.new_bucket("ssec-mpu")
        k = new_key("mpu errors")
        other = new_key("mpu other")
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key="mp", **boto_ssec(k))["UploadId"]
        part_query = f"partNumber=1&uploadId={urllib.parse.quote(uid, safe='')}"
        cases = [
            ("part without SSE-C", {}, 400, "InvalidRequest", M_INITIATE_REQUESTED),
            ("part with another key", ssec(other), 400, "InvalidRequest", M_NOT_MATCH),
            ("part with x-amz-server-side-encryption", {**ssec(k), "x-amz-server-side-encryption":
                                                        "AES256"}, 400, "InvalidArgument",
             M_PART_SSE),
            ("part without MD5", ssec(k, md5=False), 400, "InvalidArgument", M_NO_MD5),
            ("part with a 31-byte key", ssec(k[:31]), 400, "InvalidArgument", M_BAD_LENGTH),
        ]
        for what, headers, status, code, message in cases:
            with self.subTest(case=what):
                resp = self.raw("PUT", bucket, "mp", query=part_query, headers=headers,
                                body=b"part data")
                self.assertError(resp, status, code, message, what)
        # A plain upload refuses a part with SSE-C headers.
        plain = self.s3.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
        resp = self.raw("PUT", bucket, "plain", headers=ssec(k), body=b"x",
                        query=f"partNumber=1&uploadId={urllib.parse.quote(plain, safe='')}")
        self.assertEqual(resp.status, 400, resp)
        self.s3.abort_multipart_upload(Bucket=bucket, Key="plain", UploadId=plain)
        # The right key works; UploadPart echoes the customer headers.
        part = self.s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                                   Body=b"last and only part", **boto_ssec(k))
        self.assertEqual((part["SSECustomerAlgorithm"], part["SSECustomerKeyMD5"]),
                         ("AES256", md5_b64(k)))
        self.assertNotIn("ServerSideEncryption", part)
        listed = self.s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
        self.assertEqual([(p["PartNumber"], p["Size"]) for p in listed["Parts"]], [(1, 18)])
        # A part's checksum is sealed: listed only with the key.
        checked = self.s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2,
                                      Body=b"checked", ChecksumAlgorithm="SHA256", **boto_ssec(k))
        expected = b64(hashlib.sha256(b"checked").digest())
        self.assertEqual(checked["ChecksumSHA256"], expected)
        without = self.s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]
        self.assertNotIn("ChecksumSHA256", without[1])
        with_key = self.s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid,
                                      **text_ssec(boto_ssec(k)))["Parts"]
        self.assertEqual(with_key[1].get("ChecksumSHA256"), expected)
        # CompleteMultipartUpload: a key that is given must be the upload's.
        complete_body = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
                         f"{part['ETag']}</ETag></Part></CompleteMultipartUpload>").encode()
        upload_query = f"uploadId={urllib.parse.quote(uid, safe='')}"
        for what, headers in (("wrong key", ssec(other)), ("31-byte key", ssec(k[:31]))):
            with self.subTest(complete=what):
                resp = self.raw("POST", bucket, "mp", query=upload_query, headers=headers,
                                body=complete_body)
                self.assertError(resp, 400, "InvalidRequest", M_COMPLETE, what)
        plain = self.s3.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
        plain_part = self.s3.upload_part(Bucket=bucket, Key="plain", UploadId=plain, PartNumber=1,
                                         Body=b"p")["ETag"]
        resp = self.raw("POST", bucket, "plain", headers=ssec(k),
                        query=f"uploadId={urllib.parse.quote(plain, safe='')}",
                        body=(f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
                              f"{plain_part}</ETag></Part></CompleteMultipartUpload>").encode())
        self.assertError(resp, 400, "InvalidRequest", M_COMPLETE, "SSE-C headers, plain upload")
        self.s3.abort_multipart_upload(Bucket=bucket, Key="plain", UploadId=plain)
        # CompleteMultipartUpload needs no key (as AWS).
        done = self.s3.complete_multipart_upload(
            Bucket=bucket, Key="mp", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        self.assertEqual(done["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(self.get_bytes(bucket, "mp", **boto_ssec(k)), b"last and only part")
        resp = self.raw("GET", bucket, "mp")
        self.assertError(resp, 400, "InvalidRequest", M_NEED_PARAMS, "GET completed SSE-C upload")

    # ------------------------------------------------------ multipart, ranges

    def _modes(self):
        alias, key_id = self.create_kms_key("mpu")
        return [
            ("SSE-S3", {}, {}, lambda r: self.assertEqual(r["ServerSideEncryption"], "AES256")),
            ("SSE-KMS default", {"ServerSideEncryption": "aws:kms"}, {},
             lambda r: (self.assertEqual(r["ServerSideEncryption"], "aws:kms"),
                        self.assertTrue(r["SSEKMSKeyId"].startswith(ARN_PREFIX)))),
            ("SSE-KMS key", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": alias}, {},
             lambda r: self.assertEqual(r["SSEKMSKeyId"], ARN_PREFIX + key_id)),
            ("SSE-C", boto_ssec(new_key("mpu modes")), boto_ssec(new_key("mpu modes")),
             lambda r: self.assertEqual(r["SSECustomerKeyMD5"], md5_b64(new_key("mpu modes")))),
        ]

    def test_multipart_and_ranges_under_every_mode(self):
        bucket = self.new_bucket("mpu-modes")
        parts = [random_bytes(5 * MiB, 10), random_bytes(1 * MiB + 3, 11)]
        data = b"".join(parts)
        for name, create_args, part_args, check in self._modes():
            with self.subTest(mode=name):
                key = "mp-" + name.replace(" ", "-")
                created = self.s3.create_multipart_upload(Bucket=bucket, Key=key, **create_args)
                check(created)
                uid = created["UploadId"]
                etags = []
                for number, body in enumerate(parts, 1):
                    r = self.s3.upload_part(Bucket=bucket, Key=key, UploadId=uid,
                                            PartNumber=number, Body=body, **part_args)
                    check(r)
                    etags.append(r["ETag"])
                listed = self.s3.list_parts(Bucket=bucket, Key=key, UploadId=uid,
                                            **text_ssec(part_args))
                self.assertEqual([p["Size"] for p in listed["Parts"]], [len(p) for p in parts])
                done = self.s3.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=uid,
                    MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e}
                                               for i, e in enumerate(etags)]})
                self.assertTrue(done["ETag"].endswith('-2"'), done)
                if name == "SSE-S3":
                    self.assertEqual(done["ETag"], f'"{multipart_etag(parts)}"')
                read = dict(part_args)
                head = self.s3.head_object(Bucket=bucket, Key=key, **read)
                check(head)
                self.assertEqual(head["ContentLength"], len(data))
                self.assertEqual(head["ETag"], done["ETag"])
                self.assertEqual(hashlib.sha256(self.get_bytes(bucket, key, **read)).hexdigest(),
                                 hashlib.sha256(data).hexdigest())
                boundary = len(parts[0])
                for first, last in ((0, 99), (boundary - 10, boundary + 10),
                                    (boundary, boundary), (16383, 16384 * 3),
                                    (len(data) - 5, len(data) - 1)):
                    got = self.s3.get_object(Bucket=bucket, Key=key,
                                             Range=f"bytes={first}-{last}", **read)
                    self.assertEqual(got["ResponseMetadata"]["HTTPStatusCode"], 206)
                    self.assertEqual(got["Body"].read(), data[first:last + 1], (first, last))
                self.assertEqual(self.get_bytes(bucket, key, Range="bytes=-7", **read), data[-7:])

    def test_sse_c_upload_file_multipart(self):
        """boto3's managed upload with SSE-C: the key on Create and every UploadPart."""
        bucket = self.new_bucket("ssec-transfer")
        key = new_key("transfer")
        path = os.path.join(self.tmp, "ssec-upload.bin")
        size = 11 * MiB + 17
        harness.write_random_file(path, size, seed=12)
        with open(path, "rb") as f:
            data = f.read()
        sent = []
        handler = lambda request=None, **_: sent.append(  # noqa: E731
            (request.method, request.url.split("?", 1)[-1][:40],
             "x-amz-server-side-encryption-customer-key" in request.headers))
        self.s3.meta.events.register("before-send.s3", handler)
        try:
            config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                                    max_concurrency=2)
            self.s3.upload_file(path, bucket, "big", ExtraArgs=boto_ssec(key), Config=config)
        finally:
            self.s3.meta.events.unregister("before-send.s3", handler)
        completes = [s for s in sent if s[0] == "POST" and s[1].startswith("uploadId")]
        self.assertEqual(len(completes), 1, sent)
        parts = [s for s in sent if s[0] == "PUT"]
        self.assertEqual(len(parts), 3, sent)
        self.assertTrue(all(s[2] for s in parts), f"a part went without the key: {sent}")
        head = self.s3.head_object(Bucket=bucket, Key="big", **boto_ssec(key))
        self.assertEqual(head["ContentLength"], size)
        self.assertTrue(head["ETag"].endswith('-3"'))
        got = self.get_bytes(bucket, "big", **boto_ssec(key))
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest())
        mid = 5 * MiB
        self.assertEqual(self.get_bytes(bucket, "big", Range=f"bytes={mid - 3}-{mid + 3}",
                                        **boto_ssec(key)), data[mid - 3:mid + 4])
        self.assertClientError("AccessDenied", 403, self.s3.get_object, Bucket=bucket, Key="big",
                               **boto_ssec(new_key("not it")))

    # ------------------------------------------------------------- copies

    def test_copy_across_modes(self):
        bucket = self.new_bucket("copy-modes")
        alias, key_id = self.create_kms_key("copy")
        k1, k2 = new_key("copy 1"), new_key("copy 2")
        data = random_bytes(50_000, 20)
        self.s3.put_object(Bucket=bucket, Key="s3", Body=data, Metadata={"m": "1"},
                           ContentType="text/x-original")
        steps = [
            # (source, destination, source read args, destination args, check)
            ("s3", "to-kms", {}, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": alias},
             lambda r: self.assertEqual(r["SSEKMSKeyId"], ARN_PREFIX + key_id)),
            ("to-kms", "to-ssec", {}, boto_ssec(k1),
             lambda r: self.assertEqual(r["SSECustomerKeyMD5"], md5_b64(k1))),
            ("to-ssec", "to-ssec2", boto_ssec(k1, True), boto_ssec(k2),
             lambda r: self.assertEqual(r["SSECustomerKeyMD5"], md5_b64(k2))),
            ("to-ssec2", "back-to-s3", boto_ssec(k2, True), {},
             lambda r: self.assertEqual(r["ServerSideEncryption"], "AES256")),
            ("to-ssec2", "to-default-kms", boto_ssec(k2, True), {"ServerSideEncryption": "aws:kms"},
             lambda r: self.assertEqual(r["ServerSideEncryption"], "aws:kms")),
        ]
        reads = {"s3": {}, "to-kms": {}, "to-ssec": boto_ssec(k1), "to-ssec2": boto_ssec(k2),
                 "back-to-s3": {}, "to-default-kms": {}}
        for source, dest, source_args, dest_args, check in steps:
            with self.subTest(copy=f"{source} -> {dest}"):
                r = self.s3.copy_object(Bucket=bucket, Key=dest,
                                        CopySource={"Bucket": bucket, "Key": source},
                                        **source_args, **dest_args)
                check(r)
                head = self.s3.head_object(Bucket=bucket, Key=dest, **reads[dest])
                check(head)
                # COPY keeps the metadata through every mode.
                self.assertEqual(head["Metadata"], {"m": "1"})
                self.assertEqual(head["ContentType"], "text/x-original")
                self.assertEqual(self.get_bytes(bucket, dest, **reads[dest]), data)
        self.assertEqual(self.s3.head_object(Bucket=bucket, Key="back-to-s3")["ETag"],
                         f'"{md5_hex(data)}"')
        # REPLACE takes the request's metadata.
        self.s3.copy_object(Bucket=bucket, Key="replaced", CopySource={"Bucket": bucket, "Key": "s3"},
                            MetadataDirective="REPLACE", Metadata={"n": "2"},
                            ContentType="text/x-new")
        head = self.s3.head_object(Bucket=bucket, Key="replaced")
        self.assertEqual((head["Metadata"], head["ContentType"]), ({"n": "2"}, "text/x-new"))

    def test_copy_onto_itself(self):
        bucket = self.new_bucket("self-copy")
        self.s3.put_object(Bucket=bucket, Key="obj", Body=b"self", Metadata={"a": "b"})
        self.assertClientError("InvalidRequest", 400, self.s3.copy_object, Bucket=bucket, Key="obj",
                               CopySource={"Bucket": bucket, "Key": "obj"})
        resp = self.raw("PUT", bucket, "obj", headers={"x-amz-copy-source": f"/{bucket}/obj"})
        self.assertError(resp, 400, "InvalidRequest", M_SELF_COPY)
        # Changing the encryption is a change: SSE-S3 -> SSE-KMS -> SSE-S3 in place.
        r = self.s3.copy_object(Bucket=bucket, Key="obj", CopySource={"Bucket": bucket, "Key": "obj"},
                                ServerSideEncryption="aws:kms")
        self.assertEqual(r["ServerSideEncryption"], "aws:kms")
        self.assertEqual(self.s3.head_object(Bucket=bucket, Key="obj")["ServerSideEncryption"],
                         "aws:kms")
        r = self.s3.copy_object(Bucket=bucket, Key="obj", CopySource={"Bucket": bucket, "Key": "obj"},
                                ServerSideEncryption="AES256")
        head = self.s3.head_object(Bucket=bucket, Key="obj")
        self.assertEqual((head["ServerSideEncryption"], head["Metadata"]), ("AES256", {"a": "b"}))
        self.assertEqual(head["ETag"], f'"{md5_hex(b"self")}"')
        # So is REPLACE.
        self.s3.copy_object(Bucket=bucket, Key="obj", CopySource={"Bucket": bucket, "Key": "obj"},
                            MetadataDirective="REPLACE", Metadata={"c": "d"})
        self.assertEqual(self.s3.head_object(Bucket=bucket, Key="obj")["Metadata"], {"c": "d"})
        self.assertEqual(self.get_bytes(bucket, "obj"), b"self")

    def test_sse_c_key_rotation_in_place_keeps_the_data_blobs(self):
        bucket = self.new_bucket("rotate")
        old, new = new_key("rotate old"), new_key("rotate new")
        single = random_bytes(300_000, 21)
        self.s3.put_object(Bucket=bucket, Key="single", Body=single, Metadata={"x": "y"},
                           **boto_ssec(old))
        parts = [random_bytes(5 * MiB, 22), random_bytes(200_000, 23)]
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key="multi", **boto_ssec(old))["UploadId"]
        etags = [self.s3.upload_part(Bucket=bucket, Key="multi", UploadId=uid, PartNumber=i + 1,
                                     Body=p, **boto_ssec(old))["ETag"] for i, p in enumerate(parts)]
        self.s3.complete_multipart_upload(
            Bucket=bucket, Key="multi", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
        for key, data in (("single", single), ("multi", b"".join(parts))):
            with self.subTest(key=key):
                before = harness.tree_digest(self.blobs_dir())
                self.assertTrue(before, "no blobs found under " + self.blobs_dir())
                r = self.s3.copy_object(Bucket=bucket, Key=key,
                                        CopySource={"Bucket": bucket, "Key": key},
                                        **boto_ssec(old, True), **boto_ssec(new))
                self.assertEqual(r["SSECustomerKeyMD5"], md5_b64(new))
                after = harness.tree_digest(self.blobs_dir())
                self.assertEqual(after, before,
                                 "a copy-in-place key change rewrote, added or removed blobs")
                self.assertEqual(self.get_bytes(bucket, key, **boto_ssec(new)), data)
                self.assertEqual(self.get_bytes(bucket, key, Range="bytes=10-20", **boto_ssec(new)),
                                 data[10:21])
                self.assertClientError("AccessDenied", 403, self.s3.get_object, Bucket=bucket,
                                       Key=key, **boto_ssec(old))
                resp = self.raw("HEAD", bucket, key, headers=ssec(old))
                self.assertError(resp, 403, None, what="HEAD with the old key")
        self.assertEqual(self.s3.head_object(Bucket=bucket, Key="single", **boto_ssec(new))["Metadata"],
                         {"x": "y"})

    def test_upload_part_copy_with_sse_c_source(self):
        bucket = self.new_bucket("part-copy")
        src_key, dst_key = new_key("upc source"), new_key("upc dest")
        source = random_bytes(6 * MiB, 24)
        self.s3.put_object(Bucket=bucket, Key="src", Body=source, **boto_ssec(src_key))
        for name, create_args, part_args in (
                ("to SSE-C", boto_ssec(dst_key), boto_ssec(dst_key)),
                ("to SSE-KMS", {"ServerSideEncryption": "aws:kms"}, {}),
                ("to SSE-S3", {}, {})):
            with self.subTest(dest=name):
                key = "dst-" + name.split()[-1]
                uid = self.s3.create_multipart_upload(Bucket=bucket, Key=key, **create_args)["UploadId"]
                p1 = self.s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1,
                                              CopySource={"Bucket": bucket, "Key": "src"},
                                              CopySourceRange=f"bytes=0-{5 * MiB - 1}",
                                              **boto_ssec(src_key, True), **part_args)
                p2 = self.s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2,
                                              CopySource={"Bucket": bucket, "Key": "src"},
                                              CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}",
                                              **boto_ssec(src_key, True), **part_args)
                self.s3.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=uid,
                    MultipartUpload={"Parts": [
                        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
                got = self.get_bytes(bucket, key, **part_args)
                self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(source).hexdigest())
        # Without the source key, or with another: refused.
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key="nokey")["UploadId"]
        query = f"partNumber=1&uploadId={urllib.parse.quote(uid, safe='')}"
        resp = self.raw("PUT", bucket, "nokey", query=query,
                        headers={"x-amz-copy-source": f"/{bucket}/src"})
        self.assertError(resp, 400, "InvalidRequest", M_NEED_PARAMS)
        resp = self.raw("PUT", bucket, "nokey", query=query,
                        headers={"x-amz-copy-source": f"/{bucket}/src",
                                 **ssec(dst_key, prefix="x-amz-copy-source-")})
        self.assertError(resp, 400, "InvalidRequest", M_NOT_MATCH)
        self.s3.abort_multipart_upload(Bucket=bucket, Key="nokey", UploadId=uid)

    # ---------------------------------------------------- bucket defaults

    def test_bucket_default_encryption(self):
        bucket = self.new_bucket("defaults")
        alias, key_id = self.create_kms_key("bucket")
        arn = ARN_PREFIX + key_id
        # A bucket nobody configured: SSE-S3 (as AWS since 2023).
        rule = self.s3.get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"], {"SSEAlgorithm": "AES256"})
        self.assertIs(rule["BucketKeyEnabled"], False)
        # aws:kms with a key and bucket keys.
        self.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": alias},
            "BucketKeyEnabled": True}]})
        rule = self.s3.get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"],
                         {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn})
        self.assertIs(rule["BucketKeyEnabled"], True)
        put = self.s3.put_object(Bucket=bucket, Key="default", Body=b"d")
        self.assertEqual((put["ServerSideEncryption"], put["SSEKMSKeyId"]), ("aws:kms", arn))
        self.assertIs(put["BucketKeyEnabled"], True)
        head = self.s3.head_object(Bucket=bucket, Key="default")
        self.assertEqual((head["ServerSideEncryption"], head["SSEKMSKeyId"]), ("aws:kms", arn))
        mpu = self.s3.create_multipart_upload(Bucket=bucket, Key="mpu")
        self.assertEqual(mpu["SSEKMSKeyId"], arn)
        self.s3.abort_multipart_upload(Bucket=bucket, Key="mpu", UploadId=mpu["UploadId"])
        copied = self.s3.copy_object(Bucket=bucket, Key="copied",
                                     CopySource={"Bucket": bucket, "Key": "default"})
        self.assertEqual(copied["SSEKMSKeyId"], arn)
        # Request headers override the default.
        put = self.s3.put_object(Bucket=bucket, Key="s3", Body=b"s", ServerSideEncryption="AES256")
        self.assertEqual(put["ServerSideEncryption"], "AES256")
        self.assertNotIn("SSEKMSKeyId", put)
        put = self.s3.put_object(Bucket=bucket, Key="aws-key", Body=b"a",
                                 ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/aws/s3")
        self.assertNotEqual(put["SSEKMSKeyId"], arn)
        # Without the bucket-key header the bucket's setting applies (AWS).
        self.assertIs(put["BucketKeyEnabled"], True)
        put = self.s3.put_object(Bucket=bucket, Key="no-bucket-key", Body=b"a",
                                 ServerSideEncryption="aws:kms", BucketKeyEnabled=False)
        self.assertNotIn("BucketKeyEnabled", put)
        k = new_key("defaults")
        put = self.s3.put_object(Bucket=bucket, Key="ssec", Body=b"c", **boto_ssec(k))
        self.assertEqual(put["SSECustomerKeyMD5"], md5_b64(k))
        self.assertNotIn("ServerSideEncryption", put)
        # aws:kms without a key id: the aws/s3 key.
        self.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
        rule = self.s3.get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"], {"SSEAlgorithm": "aws:kms"})
        put = self.s3.put_object(Bucket=bucket, Key="aws-default", Body=b"x")
        self.assertEqual(put["SSEKMSKeyId"], self.kms_default_arn(bucket))
        # Delete: back to SSE-S3.
        deleted = self.s3.delete_bucket_encryption(Bucket=bucket)
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 204)
        rule = self.s3.get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"], {"SSEAlgorithm": "AES256"})
        put = self.s3.put_object(Bucket=bucket, Key="after-delete", Body=b"z")
        self.assertEqual(put["ServerSideEncryption"], "AES256")
        # Earlier objects keep their encryption.
        self.assertEqual(self.s3.head_object(Bucket=bucket, Key="default")["SSEKMSKeyId"], arn)

    def test_bucket_encryption_errors(self):
        bucket = self.new_bucket("defaults-bad")
        for what, body in (
                ("not XML", b"<ServerSideEncryptionConfiguration>"),
                ("no rule", b"<ServerSideEncryptionConfiguration/>"),
                ("bad algorithm", b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSide"
                                  b"EncryptionByDefault><SSEAlgorithm>AES128</SSEAlgorithm>"
                                  b"</ApplyServerSideEncryptionByDefault></Rule>"
                                  b"</ServerSideEncryptionConfiguration>"),
                ("wrong root", b"<Other/>")):
            with self.subTest(case=what):
                resp = self.raw("PUT", bucket, query="encryption=", body=body)
                self.assertError(resp, 400, "MalformedXML", what=what)
        self.assertClientError("KMS.NotFoundException", 400, self.s3.put_bucket_encryption,
                               Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
                                   "ApplyServerSideEncryptionByDefault": {
                                       "SSEAlgorithm": "aws:kms",
                                       "KMSMasterKeyID": "alias/no-such-key"}}]})
        self.assertClientError("InvalidArgument", 400, self.s3.put_bucket_encryption,
                               Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
                                   "ApplyServerSideEncryptionByDefault": {
                                       "SSEAlgorithm": "AES256", "KMSMasterKeyID": "x"}}]})
        # Nothing changed.
        rule = self.s3.get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"], {"SSEAlgorithm": "AES256"})
        self.assertClientError("NoSuchBucket", 404, self.s3.get_bucket_encryption,
                               Bucket="no-such-bucket-sse")

    def test_blocking_sse_c(self):
        bucket = self.new_bucket("block")
        k = new_key("block")
        self.s3.put_object(Bucket=bucket, Key="before", Body=b"written before", **boto_ssec(k))
        self.s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
        # boto3 does not model BlockedEncryptionTypes: raw XML.
        block = (b'<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                 b"<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
                 b"</ApplyServerSideEncryptionByDefault><BlockedEncryptionTypes><EncryptionType>"
                 b"SSE-C</EncryptionType></BlockedEncryptionTypes></Rule>"
                 b"</ServerSideEncryptionConfiguration>")
        self.assertOk(self.raw("PUT", bucket, query="encryption=", body=block,
                               headers={"Content-MD5": md5_b64(block)}), "block SSE-C")
        got = self.raw("GET", bucket, query="encryption=")
        self.assertOk(got, "GetBucketEncryption")
        self.assertIn(b"<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType>"
                      b"</BlockedEncryptionTypes>", got.body)
        for what, method, query, headers in (
                ("PutObject", "PUT", "", {}),
                ("CreateMultipartUpload", "POST", "uploads=", {}),
                ("CopyObject", "PUT", "", {"x-amz-copy-source": f"/{bucket}/plain"})):
            with self.subTest(op=what):
                resp = self.raw(method, bucket, "blocked", query=query, body=b"",
                                headers={**headers, **ssec(k)})
                self.assertError(resp, 403, "AccessDenied", what=what)
        self.assertEqual(self.head_status(bucket, "blocked"), 404)
        # Other writes go on; existing SSE-C objects stay readable.
        self.assertEqual(self.s3.put_object(Bucket=bucket, Key="s3", Body=b"x")["ServerSideEncryption"],
                         "AES256")
        self.assertEqual(self.get_bytes(bucket, "before", **boto_ssec(k)), b"written before")
        # NONE unblocks.
        unblock = block.replace(b"SSE-C</EncryptionType>", b"NONE</EncryptionType>")
        self.assertOk(self.raw("PUT", bucket, query="encryption=", body=unblock), "unblock")
        self.assertNotIn(b"BlockedEncryptionTypes", self.raw("GET", bucket, query="encryption=").body)
        self.s3.put_object(Bucket=bucket, Key="after", Body=b"ok", **boto_ssec(k))

    # ----------------------------------------------------- KMS keys, grants

    def test_kms_key_not_found_and_disabled(self):
        bucket = self.new_bucket("kms-state")
        alias, key_id = self.create_kms_key("state")
        arn = ARN_PREFIX + key_id
        self.s3.put_object(Bucket=bucket, Key="obj", Body=b"kms data", ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=alias)
        for ref in ("alias/no-such-key", str(uuid.uuid4()), ARN_PREFIX + str(uuid.uuid4())):
            with self.subTest(unknown=ref):
                exc = self.assertClientError("KMS.NotFoundException", 400, self.s3.put_object,
                                             Bucket=bucket, Key="nf", Body=b"x",
                                             ServerSideEncryption="aws:kms", SSEKMSKeyId=ref)
                self.assertIn("arn:aws:kms:", exc.response["Error"]["Message"])
        self.cli("key", "disable", alias)
        try:
            exc = self.assertClientError("KMS.DisabledException", 400, self.s3.put_object,
                                         Bucket=bucket, Key="new", Body=b"x",
                                         ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)
            self.assertIn(arn, exc.response["Error"]["Message"])
            self.assertClientError("KMS.DisabledException", 400, self.s3.get_object, Bucket=bucket,
                                   Key="obj")
            resp = self.raw("HEAD", bucket, "obj")
            self.assertError(resp, 400, None, what="HEAD of an object under a disabled key")
            self.assertClientError("KMS.DisabledException", 400, self.s3.copy_object,
                                   Bucket=bucket, Key="copy",
                                   CopySource={"Bucket": bucket, "Key": "obj"})
            self.assertEqual(self.head_status(bucket, "new"), 404)
            self.assertEqual(self.head_status(bucket, "copy"), 404)
        finally:
            self.cli("key", "enable", alias)
        self.assertEqual(self.get_bytes(bucket, "obj"), b"kms data")
        self.s3.put_object(Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=alias)

    def test_kms_grants(self):
        bucket = self.new_bucket("grants")
        alias, key_id = self.create_kms_key("grant")
        access_key, secret_key = self.create_user(admin=False)
        user = self.client_for(access_key, secret_key)
        data = b"granted data"
        # The admin needs no grant.
        self.s3.put_object(Bucket=bucket, Key="by-admin", Body=data, ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=alias)
        # The aws/s3 key needs no grant.
        r = user.put_object(Bucket=bucket, Key="aws-key", Body=data, ServerSideEncryption="aws:kms")
        self.assertEqual(r["ServerSideEncryption"], "aws:kms")
        self.assertEqual(user.get_object(Bucket=bucket, Key="aws-key")["Body"].read(), data)
        # Not granted: writes and reads denied.
        exc = self.assertClientError("AccessDenied", 403, user.put_object, Bucket=bucket, Key="u",
                                     Body=data, ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)
        self.assertIn(access_key, exc.response["Error"]["Message"])
        self.assertClientError("AccessDenied", 403, user.get_object, Bucket=bucket, Key="by-admin")
        resp = self.raw("HEAD", bucket, "by-admin", access_key=access_key, secret_key=secret_key)
        self.assertError(resp, 403, None, what="HEAD without a grant")
        self.assertClientError("AccessDenied", 403, user.copy_object, Bucket=bucket, Key="c",
                               CopySource={"Bucket": bucket, "Key": "by-admin"})
        # Grant: effective at once.
        self.cli("key", "grant", alias, access_key)
        user.put_object(Bucket=bucket, Key="u", Body=data, ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=key_id)
        self.assertEqual(user.get_object(Bucket=bucket, Key="by-admin")["Body"].read(), data)
        self.assertEqual(user.get_object(Bucket=bucket, Key="u")["Body"].read(), data)
        # A bucket default under the key applies the grant rule too.
        self.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": alias}}]})
        user.put_object(Bucket=bucket, Key="by-default", Body=data)
        # Revoke: effective at once.
        self.cli("key", "revoke", alias, access_key)
        self.assertClientError("AccessDenied", 403, user.get_object, Bucket=bucket, Key="u")
        self.assertClientError("AccessDenied", 403, user.put_object, Bucket=bucket, Key="u2",
                               Body=data, ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)
        self.assertClientError("AccessDenied", 403, user.put_object, Bucket=bucket,
                               Key="by-default-2", Body=data)
        self.assertEqual(self.get_bytes(bucket, "u"), data)  # the admin still reads
        # SSE-S3 and SSE-C need no grant.
        user.put_object(Bucket=bucket, Key="s3", Body=data, ServerSideEncryption="AES256")
        k = new_key("grants")
        user.put_object(Bucket=bucket, Key="c", Body=data, **boto_ssec(k))
        self.assertEqual(user.get_object(Bucket=bucket, Key="c", **boto_ssec(k))["Body"].read(), data)

    # ------------------------------------------------- listings, metrics

    def test_listings_show_sizes_and_etags(self):
        bucket = self.new_bucket("listing")
        k = new_key("listing")
        puts = {}
        for name, size, args in (("a-s3", 1000, {}),
                                 ("b-kms", 2000, {"ServerSideEncryption": "aws:kms"}),
                                 ("c-ssec", 3000, boto_ssec(k))):
            puts[name] = (size, self.s3.put_object(Bucket=bucket, Key=name,
                                                   Body=random_bytes(size, size), **args)["ETag"])
        for listed in (self.s3.list_objects_v2(Bucket=bucket)["Contents"],
                       self.s3.list_objects(Bucket=bucket)["Contents"]):
            self.assertEqual({o["Key"]: (o["Size"], o["ETag"]) for o in listed}, puts)

    def test_metrics_expose_the_integrity_counter(self):
        resp = harness.http_request(self.server, "GET", "/metrics")
        self.assertEqual(resp.status, 200, resp)
        self.assertRegex(resp.body.decode(), r"(?m)^strongroom_integrity_failures_total \d+$")

    # -------------------------------------------------------------- awscli

    def aws(self, *args: str) -> str:
        harness.require_executable(AWS, "awscli v2")
        proc = self.check_cmd([AWS, "--endpoint-url", self.server.endpoint, "--ca-bundle",
                               self.server.ca_bundle, *args])
        return proc.stdout.decode()

    def test_awscli_sse_options(self):
        bucket = self.new_bucket("awscli")
        alias, key_id = self.create_kms_key("cli")
        small = os.path.join(self.tmp, "cli-small.bin")
        big = os.path.join(self.tmp, "cli-big.bin")
        harness.write_random_file(small, 100_000, seed=30)
        harness.write_random_file(big, 9 * MiB + 5, seed=31)  # multipart for awscli (8 MiB)
        keyfile = os.path.join(self.tmp, "cli-key.bin")
        customer_key = new_key("awscli")
        with open(keyfile, "wb") as f:
            f.write(customer_key)

        def head(key, *extra):
            return json.loads(self.aws("s3api", "head-object", "--bucket", bucket, "--key", key,
                                       *extra))

        self.aws("s3", "cp", small, f"s3://{bucket}/s3", "--sse", "AES256")
        self.assertEqual(head("s3")["ServerSideEncryption"], "AES256")
        self.aws("s3", "cp", small, f"s3://{bucket}/kms", "--sse", "aws:kms",
                 "--sse-kms-key-id", alias)
        h = head("kms")
        self.assertEqual((h["ServerSideEncryption"], h["SSEKMSKeyId"]),
                         ("aws:kms", ARN_PREFIX + key_id))
        self.aws("s3", "cp", big, f"s3://{bucket}/kms-big", "--sse", "aws:kms")
        self.assertTrue(head("kms-big")["SSEKMSKeyId"].startswith(ARN_PREFIX))
        for name, path in (("c", small), ("c-big", big)):
            self.aws("s3", "cp", path, f"s3://{bucket}/{name}", "--sse-c", "AES256",
                     "--sse-c-key", f"fileb://{keyfile}")
            h = self.s3.head_object(Bucket=bucket, Key=name, **boto_ssec(customer_key))
            self.assertEqual(h["SSECustomerKeyMD5"], md5_b64(customer_key))
            self.assertEqual(h["ContentLength"], os.path.getsize(path))
            out = os.path.join(self.tmp, f"cli-out-{name}")
            self.aws("s3", "cp", f"s3://{bucket}/{name}", out, "--sse-c", "AES256",
                     "--sse-c-key", f"fileb://{keyfile}")
            self.assertEqual(harness.file_md5(out), harness.file_md5(path))
            # Without the key: refused.
            proc = self.run_cmd([AWS, "--endpoint-url", self.server.endpoint, "--ca-bundle",
                                 self.server.ca_bundle, "s3", "cp", f"s3://{bucket}/{name}",
                                 out + ".nokey"])
            self.assertNotEqual(proc.returncode, 0)
            self.assertFalse(os.path.exists(out + ".nokey"))
        # Copy with a key change (awscli's --sse-c-copy-source).
        self.aws("s3", "cp", f"s3://{bucket}/c", f"s3://{bucket}/c-to-kms",
                 "--sse-c-copy-source", "AES256", "--sse-c-copy-source-key", f"fileb://{keyfile}",
                 "--sse", "aws:kms", "--sse-kms-key-id", alias)
        self.assertEqual(head("c-to-kms")["SSEKMSKeyId"], ARN_PREFIX + key_id)


class SsePlainHttpTest(SseCase):
    """Over plain HTTP, SSE-C and SSE-KMS are refused as AWS refuses them."""

    def test_sse_c_and_kms_refused_over_http(self):
        bucket = self.new_bucket("http")
        k = new_key("http")
        self.s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
        cases = [
            ("PUT SSE-C", "PUT", "k", "", ssec(k), M_SSEC_OVER_HTTP),
            ("PUT SSE-C, all invalid", "PUT", "k", "",
             ssec(None, algorithm="AES256-INVALID", key_text="not-valid-base64!!!",
                  md5_text="K9opmNmw7hl9oUKgRH9nJQ=="), M_SSEC_OVER_HTTP),
            ("PUT only the SSE-C MD5", "PUT", "k", "",
             {"x-amz-server-side-encryption-customer-key-MD5": md5_b64(k)}, M_SSEC_OVER_HTTP),
            ("GET SSE-C", "GET", "plain", "", ssec(k), M_SSEC_OVER_HTTP),
            ("copy source SSE-C", "PUT", "k", "",
             {"x-amz-copy-source": f"/{bucket}/plain", **ssec(k, prefix="x-amz-copy-source-")},
             M_SSEC_OVER_HTTP),
            ("CreateMultipartUpload SSE-C", "POST", "k", "uploads=", ssec(k), M_SSEC_OVER_HTTP),
            ("PUT SSE-KMS", "PUT", "k", "", {"x-amz-server-side-encryption": "aws:kms"},
             M_KMS_OVER_HTTP),
            ("CreateMultipartUpload SSE-KMS", "POST", "k", "uploads=",
             {"x-amz-server-side-encryption": "aws:kms"}, M_KMS_OVER_HTTP),
            ("copy to SSE-KMS", "PUT", "k", "", {"x-amz-copy-source": f"/{bucket}/plain",
                                                 "x-amz-server-side-encryption": "aws:kms"},
             M_KMS_OVER_HTTP),
        ]
        for what, method, key, query, headers, message in cases:
            with self.subTest(case=what):
                resp = self.raw(method, bucket, key, query=query, headers=headers,
                                body=b"x" if method == "PUT" and "x-amz-copy-source" not in headers
                                else b"")
                self.assertError(resp, 400, "InvalidArgument", message, what)
        resp = self.raw("HEAD", bucket, "plain", headers=ssec(k))
        self.assertError(resp, 400, None, what="HEAD SSE-C over HTTP")
        self.assertEqual(self.head_status(bucket, "k"), 404)
        self.assertEqual(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []), [])
        # An UploadPart with SSE-C over HTTP, too.
        uid = self.s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
        resp = self.raw("PUT", bucket, "mp", headers=ssec(k), body=b"x",
                        query=f"partNumber=1&uploadId={urllib.parse.quote(uid, safe='')}")
        self.assertError(resp, 400, "InvalidArgument", M_SSEC_OVER_HTTP)
        self.s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)
        # SSE-S3 needs no TLS, and neither does a bucket default of SSE-KMS
        # (the client sends no key material and no KMS header).
        put = self.s3.put_object(Bucket=bucket, Key="s3", Body=b"x", ServerSideEncryption="AES256")
        self.assertEqual(put["ServerSideEncryption"], "AES256")
        self.s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
        put = self.s3.put_object(Bucket=bucket, Key="default-kms", Body=b"x")
        self.assertEqual(put["ServerSideEncryption"], "aws:kms")
        self.assertEqual(self.get_bytes(bucket, "default-kms"), b"x")


class SseLoopbackTest(SseCase):
    """--allow-insecure-sse-on-loopback lets a loopback client use SSE-C and SSE-KMS over HTTP."""

    server_options = {"extra_args": ("--allow-insecure-sse-on-loopback",)}

    def test_sse_c_and_kms_over_http_on_loopback(self):
        bucket = self.new_bucket("loopback")
        k = new_key("loopback")
        put = self.s3.put_object(Bucket=bucket, Key="c", Body=b"customer", **boto_ssec(k))
        self.assertEqual(put["SSECustomerKeyMD5"], md5_b64(k))
        self.assertEqual(self.get_bytes(bucket, "c", **boto_ssec(k)), b"customer")
        put = self.s3.put_object(Bucket=bucket, Key="kms", Body=b"kms", ServerSideEncryption="aws:kms")
        self.assertTrue(put["SSEKMSKeyId"].startswith(ARN_PREFIX))
        self.assertEqual(self.get_bytes(bucket, "kms"), b"kms")
        # The validation still applies.
        resp = self.raw("PUT", bucket, "bad", headers=ssec(k, md5=False), body=b"x")
        self.assertError(resp, 400, "InvalidArgument", M_NO_MD5)


class SealedServerTest(SseCase):
    """A server started without a passphrase answers 503 until unsealed."""

    server_options = {"sealed": True}

    def test_sealed_until_unsealed(self):
        health = harness.http_request(self.server, "GET", "/health")
        self.assertEqual(health.status, 503, health)
        self.assertIn(b"sealed", health.body)
        metrics = harness.http_request(self.server, "GET", "/metrics")
        self.assertEqual(metrics.status, 200, metrics)
        exc = self.assertClientError("ServiceUnavailable", 503, self.s3.list_buckets)
        self.assertIn("strongroom unseal", exc.response["Error"]["Message"])
        resp = self.raw("HEAD", "some-bucket")
        self.assertError(resp, 503, None, what="HEAD while sealed")
        resp = self.raw("PUT", "some-bucket", "k", body=b"x")
        self.assertError(resp, 503, "ServiceUnavailable", what="PUT while sealed")
        proc = self.server.unseal()
        self.assertEqual(proc.returncode, 0, f"unseal failed: {proc.stdout}{proc.stderr}")
        self.assertEqual(harness.http_request(self.server, "GET", "/health").status, 200)
        bucket = self.new_bucket("unsealed")
        self.s3.put_object(Bucket=bucket, Key="k", Body=b"after unseal")
        self.assertEqual(self.get_bytes(bucket, "k"), b"after unseal")


if __name__ == "__main__":
    unittest.main()
