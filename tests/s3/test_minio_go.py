# SPDX-License-Identifier: Apache-2.0
"""minio-go v7 (Debian's golang-github-minio-minio-go-v7-dev) against strongroom.

Builds tests/s3/minio/main.go offline in GOPATH mode against the Debian Go
sources in /usr/share/gocode, then runs it against the server.

    /usr/bin/python3 -m unittest -v tests/s3/test_minio_go.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

GOCODE = "/usr/share/gocode"
MINIO_SRC = os.path.join(GOCODE, "src", "github.com", "minio", "minio-go", "v7")
PROGRAM_DIR = os.path.join(harness.HERE, "minio")


def go_build_env(tmp: str, home: str) -> dict:
    """The offline build: GOPATH mode, Debian's sources, no proxy, no network."""
    env = harness.client_env(home)
    env.update({
        "GO111MODULE": "off",
        "GOPATH": f"{GOCODE}:{tmp}",
        "GOFLAGS": "",
        "GOCACHE": os.path.join(tmp, "gocache"),
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    })
    return env


class MinioGoTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        harness.require_executable(harness.GO, "go (Debian package golang-go)")
        if not os.path.isdir(MINIO_SRC):
            raise AssertionError(f"minio-go sources not found at {MINIO_SRC}: install "
                                 "golang-github-minio-minio-go-v7-dev")
        super().setUpClass()

    def test_minio_go_program(self):
        gotmp = os.path.join(self.tmp, "go")
        os.makedirs(gotmp, exist_ok=True)
        binary = os.path.join(gotmp, "srminio")
        # Equivalent shell command:
        #   cd tests/s3/minio && GO111MODULE=off GOPATH=/usr/share/gocode:$TMP GOFLAGS= \
        #     GOCACHE=$TMP/gocache GOPROXY=off CGO_ENABLED=0 go build -o $TMP/srminio .
        build = self.run_cmd([harness.GO, "build", "-o", binary, "."],
                             env=go_build_env(gotmp, self.home), cwd=PROGRAM_DIR, timeout=300)
        self.assertEqual(build.returncode, 0,
                         "offline go build failed:\n" + build.stderr.decode(errors="replace"))
        env = self.client_env(SR_ENDPOINT=self.server.host_port,
                              SR_ACCESS_KEY=self.server.access_key,
                              SR_SECRET_KEY=self.server.secret_key,
                              SR_BUCKET=self.unique_bucket_name("minio"))
        mark = self.server.log_mark()
        proc = self.check_cmd([binary], env=env, timeout=300)
        out = proc.stdout.decode()
        self.assertIn("ALL OK", out)
        ops = [e["operation"] for e in self.server.log_since(mark)]
        self.assertIn("CreateMultipartUpload", ops, "the 70 MiB object was not multipart")
        self.assertIn("CompleteMultipartUpload", ops)


if __name__ == "__main__":
    unittest.main()
