#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Captures requests signed by real S3 clients, for src/aws/client_requests_test.cc.

Runs a throw-away HTTP and HTTPS server on 127.0.0.1, points real clients at
it (botocore through boto3, the aws command, rclone and s3cmd when installed),
records every request exactly as it arrived (request target, headers in order,
entity body after HTTP chunked decoding) and writes them to
testdata/aws/botocore_signed_requests.json. The C++ test then verifies each one
with aws::Authenticate and, where there is a body, aws::PayloadReader, so it
needs no Python at run time.

    /usr/bin/python3 src/aws/testdata/gen_signed_requests.py

Regenerate only when adding cases: signatures embed the time of capture and
the test uses the recorded time.
"""
import base64
import hashlib
import http.server
import json
import os
import pathlib
import shutil
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import boto3
import botocore
import botocore.httpchecksum
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[3]
OUT = ROOT / "testdata" / "aws" / "botocore_signed_requests.json"
ACCESS_KEY = "AKIDSTRONGROOMTEST01"
SECRET = "s3cr3t/Key+With=Odd~Chars0123456789abcd"
REGION = "us-east-1"
BUCKET = "bucket"

captured = []
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        body = self._body()
        target = self.path
        path, _, query = target.partition("?")
        headers = [[k, v] for k, v in self.headers.items()]
        with lock:
            captured.append({"method": self.command, "path": path, "query": query,
                             "headers": headers, "body": body})
        self._respond(path, query)

    def _respond(self, path, query):
        names = {p.split("=")[0] for p in query.split("&") if p}
        status, payload, extra = 200, b"", {}
        if self.command == "HEAD":
            status = 404
        elif self.command == "GET" and "location" in names:
            payload = b'<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>'
        elif self.command == "GET" and path.rstrip("/").count("/") <= 1:
            payload = (b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                       b"<Name>bucket</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>"
                       b"<IsTruncated>false</IsTruncated></ListBucketResult>")
        elif self.command == "GET":
            payload, extra = b"hello", {"ETag": '"5d41402abc4b2a76b9719d911017c592"',
                                        "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT"}
        elif self.command == "POST" and "uploads" in names:
            payload = (b'<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult>'
                       b"<Bucket>bucket</Bucket><Key>k</Key><UploadId>UPLOAD1</UploadId>"
                       b"</InitiateMultipartUploadResult>")
        elif self.command == "POST" and "uploadId" in names:
            payload = (b'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult>'
                       b'<Bucket>bucket</Bucket><Key>k</Key><ETag>"x-2"</ETag></CompleteMultipartUploadResult>')
        elif self.command == "POST" and "delete" in names:
            payload = b'<?xml version="1.0" encoding="UTF-8"?><DeleteResult></DeleteResult>'
        elif self.command == "PUT" and any(h.lower() == "x-amz-copy-source" for h in self.headers):
            payload = (b'<?xml version="1.0" encoding="UTF-8"?><CopyObjectResult>'
                       b'<ETag>"e"</ETag><LastModified>2025-01-01T00:00:00.000Z</LastModified></CopyObjectResult>')
        elif self.command == "PUT":
            extra = {"ETag": '"5d41402abc4b2a76b9719d911017c592"'}
        elif self.command == "DELETE":
            status = 204
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        if self.command == "HEAD" or status == 204:
            self.send_header("Content-Length", "0")
        else:
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and status != 204:
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def start(tls_dir=None):
    server = Server(("127.0.0.1", 0), Handler)
    if tls_dir:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def amz_time(entry):
    """The request time as epoch seconds, from x-amz-date or X-Amz-Date."""
    value = None
    for k, v in entry["headers"]:
        if k.lower() == "x-amz-date":
            value = v
    if value is None:
        for part in entry["query"].split("&"):
            name, _, v = part.partition("=")
            if name == "X-Amz-Date":
                value = urllib.parse.unquote(v)
    if value is None:
        return None
    return int(time.mktime(time.strptime(value, "%Y%m%dT%H%M%SZ")) - time.timezone)


class Recorder:
    def __init__(self):
        self.out = []

    def run(self, client_name, name, action, payload=None):
        """Runs `action`, labelling the requests it made."""
        start_index = len(captured)
        try:
            action()
        except Exception as e:  # the fake server's answers need not satisfy the client
            print(f"  ({client_name} {name}: {type(e).__name__}: {str(e)[:80]})", file=sys.stderr)
        time.sleep(0.05)
        with lock:
            new = captured[start_index:]
        for i, entry in enumerate(new):
            self.add(client_name, name if len(new) == 1 else f"{name} #{i + 1}", entry, payload)

    def add(self, client_name, name, entry, payload=None, presigned_expires=None):
        now = amz_time(entry)
        if now is None:
            print(f"  skipping unsigned request {client_name} {name}", file=sys.stderr)
            return
        item = {
            "name": name,
            "client": client_name,
            "method": entry["method"],
            "path": entry["path"],
            "query": entry["query"],
            "headers": entry["headers"],
            "access_key": ACCESS_KEY,
            "secret": SECRET,
            "now": now,
        }
        if entry["body"]:
            item["body_base64"] = base64.b64encode(entry["body"]).decode()
        # The payload belongs to the request that carried it (not, say, to the
        # bucket creation rclone sends first).
        if payload is not None and entry["method"] in ("PUT", "POST") and \
                (entry["body"] or not payload):
            item["decoded_sha256"] = hashlib.sha256(payload).hexdigest()
        if presigned_expires is not None:
            item["presigned_expires"] = presigned_expires
        self.out.append(item)


ODD_KEYS = [
    "plain.txt",
    "with space.txt",
    "two  spaces",
    "unicode-é-日本語.txt",
    "emoji-😀",
    "plus+sign",
    "equals=sign&amp",
    "percent%20literal%",
    "tilde~file",
    "dir/../up",
    "a/./b//c",
    "trailing/",
    "dollar$comma,semi;colon:at@",
    "quote'paren()star*bang!",
    "hash#question?",
    "brackets[]{}|^`\\\"<>",
]


def botocore_cases(rec, http_url, https_url):
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET,
                                    region_name=REGION)
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                 signature_version="s3v4")
    s3 = session.client("s3", endpoint_url=http_url, config=cfg)
    s3tls = session.client("s3", endpoint_url=https_url, config=cfg, verify=False)
    v = "botocore " + botocore.__version__
    for key in ODD_KEYS:
        rec.run(v, f"get_object {key!r}", lambda key=key: s3.get_object(Bucket=BUCKET, Key=key))
    rec.run(v, "get_object range+version", lambda: s3.get_object(
        Bucket=BUCKET, Key="k", Range="bytes=0-9", VersionId="v1+/=",
        ResponseContentDisposition='attachment; filename="a b.txt"'))
    rec.run(v, "list_objects_v2 prefix/delimiter", lambda: s3.list_objects_v2(
        Bucket=BUCKET, Prefix="a b+c/é", Delimiter="/", StartAfter="", MaxKeys=10))
    rec.run(v, "list_objects_v2 empty prefix", lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=""))
    rec.run(v, "list_objects v1", lambda: s3.list_objects(Bucket=BUCKET, Marker="m~", EncodingType="url"))
    rec.run(v, "get_bucket_acl (empty value)", lambda: s3.get_bucket_acl(Bucket=BUCKET))
    rec.run(v, "get_bucket_location", lambda: s3.get_bucket_location(Bucket=BUCKET))
    rec.run(v, "list_object_versions", lambda: s3.list_object_versions(Bucket=BUCKET, KeyMarker="x y"))
    body = b"hello, strongroom\n" * 3
    rec.run(v, "put_object signed payload", lambda: s3.put_object(
        Bucket=BUCKET, Key="dir/with space+plus.txt", Body=body, ContentType="text/plain",
        Metadata={"note": "two  spaces   inside", "unicode": "ok"}), payload=body)
    rec.run(v, "put_object sha256 checksum", lambda: s3.put_object(
        Bucket=BUCKET, Key="sha", Body=body, ChecksumAlgorithm="SHA256"), payload=body)
    rec.run(v, "put_object sha1 checksum", lambda: s3.put_object(
        Bucket=BUCKET, Key="sha1", Body=body, ChecksumAlgorithm="SHA1"), payload=body)
    rec.run(v, "put_object content-md5", lambda: s3.put_object(
        Bucket=BUCKET, Key="md5", Body=body,
        ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode()), payload=body)
    rec.run(v, "put_object empty", lambda: s3.put_object(Bucket=BUCKET, Key="empty", Body=b""),
            payload=b"")
    big = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(40000))
    rec.run(v, "put_object tls unsigned trailer", lambda: s3tls.put_object(
        Bucket=BUCKET, Key="tls/trailer é.bin", Body=big), payload=big)
    old = botocore.httpchecksum.AwsChunkedWrapper._DEFAULT_CHUNK_SIZE
    botocore.httpchecksum.AwsChunkedWrapper._DEFAULT_CHUNK_SIZE = 16384
    try:
        rec.run(v, "put_object tls unsigned trailer 16k chunks", lambda: s3tls.put_object(
            Bucket=BUCKET, Key="tls/chunks", Body=big), payload=big)
        rec.run(v, "upload_part tls unsigned trailer sha256", lambda: s3tls.upload_part(
            Bucket=BUCKET, Key="mp", UploadId="UPLOAD1", PartNumber=2, Body=big,
            ChecksumAlgorithm="SHA256"), payload=big)
    finally:
        botocore.httpchecksum.AwsChunkedWrapper._DEFAULT_CHUNK_SIZE = old
    rec.run(v, "put_object tls crc32 trailer", lambda: s3tls.put_object(
        Bucket=BUCKET, Key="tls/crc32", Body=big, ChecksumAlgorithm="CRC32"), payload=big)
    rec.run(v, "put_object tls sha1 trailer", lambda: s3tls.put_object(
        Bucket=BUCKET, Key="tls/sha1", Body=body, ChecksumAlgorithm="SHA1"), payload=body)
    rec.run(v, "put_object tls empty", lambda: s3tls.put_object(Bucket=BUCKET, Key="e", Body=b""),
            payload=b"")
    rec.run(v, "create_multipart_upload", lambda: s3.create_multipart_upload(Bucket=BUCKET, Key="mp k"))
    rec.run(v, "upload_part", lambda: s3.upload_part(
        Bucket=BUCKET, Key="mp k", UploadId="UPLOAD1/+=", PartNumber=1, Body=body), payload=body)
    rec.run(v, "complete_multipart_upload", lambda: s3.complete_multipart_upload(
        Bucket=BUCKET, Key="mp k", UploadId="UPLOAD1",
        MultipartUpload={"Parts": [{"ETag": '"x"', "PartNumber": 1}]}))
    rec.run(v, "delete_objects", lambda: s3.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "a b"}, {"Key": "c&d"}]}))
    rec.run(v, "copy_object", lambda: s3.copy_object(
        Bucket=BUCKET, Key="dst key", CopySource={"Bucket": "src", "Key": "src key+é"},
        MetadataDirective="REPLACE", Metadata={"a": "b"}))
    rec.run(v, "delete_object", lambda: s3.delete_object(Bucket=BUCKET, Key="del é"))
    rec.run(v, "head_object", lambda: s3.head_object(Bucket=BUCKET, Key="h"))

    # Presigned URLs: parse what botocore returns, as a browser would send it.
    for i, (method, params, expires) in enumerate([
        ("get_object", {"Bucket": BUCKET, "Key": "presigned/é x+y.txt"}, 3600),
        ("get_object", {"Bucket": BUCKET, "Key": "p",
                        "ResponseContentDisposition": 'attachment; filename="r é.txt"',
                        "ResponseContentType": "text/plain; charset=utf-8"}, 604800),
        ("put_object", {"Bucket": BUCKET, "Key": "upload/~tilde name"}, 900),
        ("list_objects_v2", {"Bucket": BUCKET, "Prefix": "a b"}, 60),
    ]):
        url = s3.generate_presigned_url(method, Params=params, ExpiresIn=expires)
        parts = urllib.parse.urlsplit(url)
        entry = {"method": {"get_object": "GET", "put_object": "PUT",
                            "list_objects_v2": "GET"}[method],
                 "path": parts.path, "query": parts.query,
                 "headers": [["Host", parts.netloc], ["User-Agent", "browser"]], "body": b""}
        rec.add(v, f"presigned {method} #{i + 1}", entry, presigned_expires=expires)


def cli_cases(rec, http_url, tmp):
    aws = shutil.which("aws")
    if not aws:
        return
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET,
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    f = tmp / "cli upload.txt"
    f.write_bytes(b"from the aws command\n")
    version = subprocess.run([aws, "--version"], capture_output=True, text=True).stdout.strip() or \
        subprocess.run([aws, "--version"], capture_output=True, text=True).stderr.strip()
    name = "awscli " + version.split()[0].split("/")[1]
    run = lambda *args: subprocess.run([aws, "--endpoint-url", http_url, *args], env=env,
                                       capture_output=True, timeout=60)
    rec.run(name, "s3 cp upload", lambda: run("s3", "cp", str(f), f"s3://{BUCKET}/cli dir/ü+.txt"),
            payload=f.read_bytes())
    rec.run(name, "s3 ls", lambda: run("s3", "ls", f"s3://{BUCKET}/some prefix/"))
    rec.run(name, "s3api get-object", lambda: run(
        "s3api", "get-object", "--bucket", BUCKET, "--key", "k=v&x", str(tmp / "out")))
    return name


def clean_env():
    # A CA bundle meant for real endpoints makes rclone's SDK refuse its transport.
    return {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}


def rclone_cases(rec, http_url, tmp):
    rclone = shutil.which("rclone")
    if not rclone:
        return
    version = subprocess.run([rclone, "version"], capture_output=True, text=True).stdout.split()[1]
    name = "rclone " + version
    f = tmp / "rclone file.txt"
    f.write_bytes(b"from rclone\n" * 10)
    remote = (f":s3,provider=Other,access_key_id={ACCESS_KEY},secret_access_key='{SECRET}',"
              f"endpoint='{http_url}',region={REGION},force_path_style=true:")
    run = lambda *args: subprocess.run([rclone, "--config", "/dev/null", "--retries", "1",
                                        "--low-level-retries", "1", "--no-check-dest", *args],
                                       capture_output=True, timeout=60, env=clean_env())
    rec.run(name, "copyto", lambda: run("copyto", str(f), remote + f"{BUCKET}/rc dir/a+b é=c.txt"),
            payload=f.read_bytes())
    rec.run(name, "lsf", lambda: run("lsf", remote + f"{BUCKET}/pre fix"))
    return name


def s3cmd_cases(rec, port, tmp):
    s3cmd = shutil.which("s3cmd")
    if not s3cmd:
        return
    version = subprocess.run([s3cmd, "--version"], capture_output=True, text=True).stdout.split()[-1]
    name = "s3cmd " + version
    f = tmp / "s3cmd file.txt"
    f.write_bytes(b"from s3cmd\n" * 5)
    cfg = tmp / "s3cfg"
    cfg.write_text("[default]\n")
    base = [s3cmd, "-c", str(cfg), f"--access_key={ACCESS_KEY}", f"--secret_key={SECRET}",
            f"--host=127.0.0.1:{port}", f"--host-bucket=127.0.0.1:{port}", "--no-ssl",
            f"--region={REGION}", "--no-mime-magic"]
    run = lambda *args: subprocess.run(base + list(args), capture_output=True, timeout=60,
                                       env=clean_env())
    rec.run(name, "put", lambda: run("put", str(f), f"s3://{BUCKET}/s3cmd dir/x+y=z é.txt"),
            payload=f.read_bytes())
    rec.run(name, "ls", lambda: run("ls", f"s3://{BUCKET}/pre fix/"))
    rec.run(name, "get", lambda: run("get", "--force", f"s3://{BUCKET}/k~(1).txt", str(tmp / "o")))
    return name


def other_botocore_interpreters():
    """Other Python interpreters on PATH whose botocore differs from ours."""
    found = []
    for name in ("python3",):
        exe = shutil.which(name)
        if not exe or os.path.realpath(exe) == os.path.realpath(sys.executable):
            continue
        probe = subprocess.run([exe, "-c", "import botocore,boto3;print(botocore.__version__)"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() != botocore.__version__:
            found.append(exe)
    return found


def dedupe(requests):
    """Drops retries: the same signature seen twice."""
    seen, out = set(), []
    for r in requests:
        key = (r["method"], r["path"], r["query"],
               tuple(v for k, v in r["headers"] if k.lower() == "authorization"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def main():
    if "--botocore-worker" in sys.argv:
        # Run by main() under another interpreter: botocore cases only, JSON on stdout.
        tmp = pathlib.Path(tempfile.mkdtemp())
        try:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                            "1", "-subj", "/CN=127.0.0.1", "-keyout", str(tmp / "key.pem"),
                            "-out", str(tmp / "cert.pem")], check=True, capture_output=True)
            plain, tls = start(), start(tmp)
            import urllib3
            urllib3.disable_warnings()
            rec = Recorder()
            botocore_cases(rec, f"http://127.0.0.1:{plain.server_address[1]}",
                           f"https://127.0.0.1:{tls.server_address[1]}")
            json.dump({"botocore": botocore.__version__, "requests": rec.out}, sys.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    tmp = pathlib.Path(tempfile.mkdtemp())
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(tmp / "key.pem"),
                        "-out", str(tmp / "cert.pem")], check=True, capture_output=True)
        plain = start()
        tls = start(tmp)
        http_url = f"http://127.0.0.1:{plain.server_address[1]}"
        https_url = f"https://127.0.0.1:{tls.server_address[1]}"
        import urllib3
        urllib3.disable_warnings()
        rec = Recorder()
        clients = {"botocore": [botocore.__version__]}
        botocore_cases(rec, http_url, https_url)
        for exe in other_botocore_interpreters():
            worker = subprocess.run([exe, __file__, "--botocore-worker"], capture_output=True,
                                    text=True, timeout=600)
            if worker.returncode != 0:
                print(worker.stderr[-2000:], file=sys.stderr)
                continue
            result = json.loads(worker.stdout)
            clients["botocore"].append(result["botocore"])
            rec.out.extend(result["requests"])
        for extra in (cli_cases(rec, http_url, tmp), rclone_cases(rec, http_url, tmp),
                      s3cmd_cases(rec, plain.server_address[1], tmp)):
            if extra:
                clients[extra.split()[0]] = extra.split()[1]
        doc = {
            "description": "Requests signed by real S3 clients and captured on the wire by "
                           "src/aws/testdata/gen_signed_requests.py; verified by "
                           "src/aws/client_requests_test.cc.",
            "clients": clients,
            "region": REGION,
            "requests": dedupe(rec.out),
        }
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        counts = {}
        for r in doc["requests"]:
            counts[r["client"]] = counts.get(r["client"], 0) + 1
        print(f"wrote {OUT} with {len(doc['requests'])} requests: {counts}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
