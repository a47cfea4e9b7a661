#!/usr/bin/python3
"""Helpers for bench/server_bench.sh: presigned URLs, bucket setup, wrk parsing.

Runs under Debian's /usr/bin/python3 with python3-boto3 (the pyenv python3 on
PATH has no boto3). Credentials come from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY, region from AWS_DEFAULT_REGION (default us-east-1).
Only talks to the endpoint given on the command line (127.0.0.1 in the bench).

Subcommands:
  mkbucket ENDPOINT BUCKET           create BUCKET (ok if it exists already)
  presign ENDPOINT METHOD BUCKET KEY [EXPIRES]
                                     print a path-style SigV4 presigned URL
                                     (METHOD is GET or PUT)
  head ENDPOINT BUCKET KEY           print the object's size (HEAD, signed)
  delete ENDPOINT BUCKET KEY         delete one object
  wrk FILE                           parse wrk --latency output into
                                     "reqs_per_s p50_ms p99_ms non2xx errors requests"
"""
import os
import re
import sys


def _client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )


def cmd_mkbucket(endpoint, bucket):
    c = _client(endpoint)
    try:
        c.create_bucket(Bucket=bucket)
    except c.exceptions.BucketAlreadyOwnedByYou:
        pass


def cmd_presign(endpoint, method, bucket, key, expires="3600"):
    c = _client(endpoint)
    op = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object"}[method.upper()]
    print(
        c.generate_presigned_url(
            op, Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires), HttpMethod=method.upper()
        )
    )


def cmd_head(endpoint, bucket, key):
    print(_client(endpoint).head_object(Bucket=bucket, Key=key)["ContentLength"])


def cmd_delete(endpoint, bucket, key):
    _client(endpoint).delete_object(Bucket=bucket, Key=key)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def cmd_wrk(path):
    """Parse `wrk --latency` output. Prints: rps p50_ms p99_ms non2xx socket_errors requests."""
    text = open(path, encoding="utf-8", errors="replace").read()
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    reqs = re.search(r"(\d+) requests in", text)
    errs = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errs = sum(int(x) for x in m.groups())
    print(
        "%s %s %s %s %d %s"
        % (
            rps.group(1) if rps else "nan",
            "%.3f" % _ms(p50.group(1)) if p50 else "nan",
            "%.3f" % _ms(p99.group(1)) if p99 else "nan",
            non2xx.group(1) if non2xx else "0",
            errs,
            reqs.group(1) if reqs else "0",
        )
    )


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    cmd = argv[1]
    fn = {
        "mkbucket": cmd_mkbucket,
        "presign": cmd_presign,
        "head": cmd_head,
        "delete": cmd_delete,
        "wrk": cmd_wrk,
    }.get(cmd)
    if fn is None:
        print("unknown subcommand: " + cmd, file=sys.stderr)
        return 2
    fn(*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
