#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""C++ <-> Python interoperability tests for docs/FORMAT.md (strongroom format, version 1).

Both directions, for objects (streams + manifest + envelope, via the `write`/`read` interop
contract) and for file containers (via `strongroom encrypt/decrypt` and the Python reference's
`encrypt-file`/`decrypt-file`), plus tampering: whatever one side writes and the test corrupts,
the other side's reader must reject (exit 1, `error: ...` on stderr, no output file left).

Environment (CI always sets both; the test FAILS, it does not skip, if either is missing):
  STRONGROOM_BIN       path of the `strongroom` CLI (encrypt/decrypt)
  FORMAT_INTEROP_BIN   path of the C++ `format_interop` tool (write/read)
Optional:
  PYREF_PYTHON         interpreter for tools/pyref/strongroom_format.py (needs python3-cryptography
                       and python3-argon2); default: this interpreter if it has them, else
                       /usr/bin/python3

Run:  STRONGROOM_BIN=... FORMAT_INTEROP_BIN=... /usr/bin/python3 -m unittest -v tests/interop/interop_test.py
  or  /usr/bin/python3 tests/interop/interop_test.py -v
"""

import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PYREF = os.path.join(REPO, "tools", "pyref", "strongroom_format.py")

ENV_CLI = "STRONGROOM_BIN"
ENV_INTEROP = "FORMAT_INTEROP_BIN"
CHEAP_ARGON2 = "1,8192,1"
TIMEOUT = 600

CHUNK = 16384


# --------------------------------------------------------------------------------------------
# Independent size formulas (§9) and structure checks, so a mismatch is pinpointed early.

def stream_size(p):
    return 64 + p + 16 * (p // CHUNK + 1)


def manifest_size(n, b):
    return 38 + 68 * n + b + 32


def envelope_size(p, k, w=48):
    return 8 + 1 + p + 2 + k + 32 + 2 + w


def file_size(p, e, passphrase):
    return 8 + (28 if passphrase else 0) + 16 + 4 + e + stream_size(p) + 150


def binding(bucket, key):
    b, k = bucket.encode(), key.encode()
    return struct.pack(">H", len(b)) + b + struct.pack(">H", len(k)) + k


def parse_envelope(env):
    assert env[0:4] == b"SRWK", "envelope magic"
    pos = 8
    p = env[pos]
    pid = env[pos + 1:pos + 1 + p]
    pos += 1 + p
    (k,) = struct.unpack(">H", env[pos:pos + 2])
    kid = env[pos + 2:pos + 2 + k]
    pos += 2 + k + 32
    (w,) = struct.unpack(">H", env[pos:pos + 2])
    return {"version": env[4], "scheme": env[5], "reserved": env[6:8], "provider_id": pid,
            "key_id": kid, "w": w, "end": pos + 2 + w}


def parse_manifest(m):
    assert m[0:4] == b"SRMF", "manifest magic"
    (n,) = struct.unpack(">I", m[32:36])
    entries = []
    for i in range(n):
        e = m[36 + 68 * i:36 + 68 * (i + 1)]
        entries.append(struct.unpack(">IQ", e[:12]))
    (b,) = struct.unpack(">H", m[36 + 68 * n:38 + 68 * n])
    return {"version": m[4], "suite": m[5], "flags": m[6:8], "object_id": m[8:24],
            "total": struct.unpack(">Q", m[24:32])[0], "entries": entries,
            "binding": m[38 + 68 * n:38 + 68 * n + b], "n": n, "b": b}


def encode_attributes(pairs):
    """FORMAT.md §13.1, written here independently of both implementations."""
    out = bytes([1]) + struct.pack(">H", len(pairs))
    for name, value in pairs:
        n, v = name.encode(), value.encode()
        out += struct.pack(">H", len(n)) + n + struct.pack(">I", len(v)) + v
    return out


def parts_of(spec, size):
    if spec == "single":
        return [(0, size)]
    return [tuple(int(x) for x in item.split(":")) for item in spec.split(",")]


def flip(data, i, mask=0x01):
    b = bytearray(data)
    b[i] ^= mask
    return bytes(b)


def pyref_python():
    if os.environ.get("PYREF_PYTHON"):
        return os.environ["PYREF_PYTHON"]
    try:
        import argon2  # noqa: F401
        import cryptography  # noqa: F401
        return sys.executable
    except ImportError:
        return "/usr/bin/python3"


# --------------------------------------------------------------------------------------------

class Side:
    """One implementation: how to run its object writer/reader and its file encrypt/decrypt."""

    def __init__(self, name, interop_argv, file_cmd):
        self.name = name
        self.interop_argv = interop_argv
        self.file_cmd = file_cmd  # function(op, cred_flag, cred_path, inp, out, argon2) -> (argv, env)

    def __repr__(self):
        return self.name


def _run(argv, env=None, stdin_path=None):
    """Run argv; env maps variable -> value, or -> None to remove it from the environment;
    stdin_path, if given, is connected to standard input."""
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    if stdin_path is None:
        return subprocess.run(argv, capture_output=True, env=full_env, stdin=subprocess.DEVNULL,
                              timeout=TIMEOUT)
    with open(stdin_path, "rb") as f:
        return subprocess.run(argv, capture_output=True, env=full_env, stdin=f, timeout=TIMEOUT)


def _cpp_file_cmd(binary):
    def cmd(op, cred_flag, cred_path, inp, out, argon2):
        # argon2=None: the writer's default costs, so make sure no override is inherited
        env = {"STRONGROOM_ARGON2_PARAMS": argon2} if op == "encrypt" else {}
        argv = [binary, op, cred_flag, cred_path, "-o", out, inp]
        return argv, env
    return cmd


def _py_file_cmd(python, pipe=False):
    def cmd(op, cred_flag, cred_path, inp, out, argon2):
        argv = [python, PYREF, op + "-file", cred_flag, cred_path]
        if op == "encrypt" and argon2 is not None:
            argv += ["--argon2", argon2]
        if op == "decrypt" and pipe:
            argv += ["--pipe"]
        return argv + [inp, out], {}
    return cmd


# Crafted cases, built with the Python reference's primitives in a subprocess (so this driver
# itself needs only the standard library). Each breaks exactly one rule while everything the rule
# does not cover stays valid (correct manifest tag, correct DEK wrap), so a reader can only pass
# the test by enforcing that rule. A few valid edge cases are included as controls.
CRAFT_SCRIPT = r"""
import hashlib, hmac, json, os, struct, sys
import strongroom_format as sf

out = sys.argv[1]
KEK = bytes(range(32))
BUCKET, KEY = "crafted", "obj"
index = {}

def raw_manifest(dek, oid, entries, total=None, binding=None, flags=0, version=1, suite=1, n=None,
                 stored_oid=None, extra=b""):
    if total is None:
        total = sum(e.plaintext_length for e in entries)
    if binding is None:
        binding = sf.encode_binding(BUCKET, KEY)
    body = (b"SRMF" + bytes([version, suite]) + struct.pack(">H", flags) + (stored_oid or oid)
            + struct.pack(">Q", total) + struct.pack(">I", len(entries) if n is None else n)
            + b"".join(e.encode() for e in entries) + struct.pack(">H", len(binding)) + binding)
    return body + hmac.new(sf.manifest_key(dek, oid), body, hashlib.sha256).digest() + extra

def raw_envelope(dek, oid, scheme=2, version=1, reserved=0, pid=b"local", kid=b"k", trailing=b""):
    header = (b"SRWK" + bytes([version, scheme]) + struct.pack(">H", reserved) + bytes([len(pid)]) + pid
              + struct.pack(">H", len(kid)) + kid)
    salt = bytes(range(1, 33))
    kw = sf.hkdf_sha512(KEK, salt, b"strongroom/v1/dek-wrap\x00" + bytes([scheme]), 32)
    aad = b"strongroom/v1/dek-binding\x00" + header + oid + sf.encode_binding(BUCKET, KEY) + bytes(4)
    wrapped = sf.AESGCM(kw).encrypt(bytes(12), dek, aad)
    return header + salt + struct.pack(">H", len(wrapped)) + wrapped + trailing

def case(name, expect, streams, manifest, envelope, oid, total):
    d = os.path.join(out, name)
    os.makedirs(d)
    with open(os.path.join(d, "blob.bin"), "wb") as f:
        f.write(b"".join(streams))
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump({"object_id": oid.hex(), "bucket": BUCKET, "object_key": KEY, "envelope": envelope.hex(),
                   "manifest": manifest.hex(), "kek": KEK.hex(), "plaintext_size": total,
                   "plaintext_sha256": ""}, f)
    index[name] = expect

def build(name, expect, parts, **mkw):
    dek = hashlib.sha256(name.encode()).digest()
    oid = hashlib.sha256(b"oid" + name.encode()).digest()[:16]
    env_kw = mkw.pop("env", {})
    streams, entries = [], []
    for part, size in parts:
        data, e = sf.encrypt_stream(dek, oid, part, bytes([part % 256]) * size)
        streams.append(data)
        entries.append(e)
    entries = mkw.pop("entries_fn", lambda es: es)(entries)
    streams = mkw.pop("streams_fn", lambda ss: ss)(streams)
    man = raw_manifest(dek, oid, entries, **mkw)
    case(name, expect, streams, man, raw_envelope(dek, oid, **env_kw), oid, sum(s for _, s in parts))

build("control_valid_single", "accept", [(0, 5)])
build("control_valid_one_part_numbered_5", "accept", [(5, 20000)])
build("control_valid_empty_middle_part", "accept", [(1, 3), (2, 0), (3, 16384)])
build("control_valid_part_10000", "accept", [(9999, 1), (10000, 1)])
build("manifest_flags_nonzero", "reject", [(0, 5)], flags=1)
build("manifest_version_2", "reject", [(0, 5)], version=2)
build("manifest_suite_0", "reject", [(0, 5)], suite=0)
build("manifest_suite_2", "reject", [(0, 5)], suite=2)
build("manifest_parts_decreasing", "reject", [(2, 5), (1, 5)])
build("manifest_parts_duplicate", "reject", [(3, 5), (3, 5)])
build("manifest_part0_with_parts", "reject", [(0, 5), (1, 5)])
build("manifest_two_part0", "reject", [(0, 5), (0, 5)])
build("manifest_part_10001", "reject", [(10001 - 1, 5)],
      entries_fn=lambda es: [sf.ManifestEntry(10001, e.plaintext_length, e.salt, e.commitment) for e in es])
build("manifest_total_mismatch", "reject", [(1, 5), (2, 5)], total=11)
build("manifest_zero_entries", "reject", [], )
build("manifest_byte_after_tag", "reject", [(0, 5)], extra=b"\x00")
build("manifest_binding_other_key", "reject", [(0, 5)], binding=sf.encode_binding(BUCKET, KEY + "2"))
build("manifest_binding_trailing_byte", "reject", [(0, 5)], binding=sf.encode_binding(BUCKET, KEY) + b"\x00")
build("manifest_binding_swapped_fields", "reject", [(0, 5)], binding=sf.encode_binding(KEY, BUCKET))
build("manifest_stored_object_id_differs", "reject", [(0, 5)], stored_oid=bytes(16))
build("manifest_entry_salt_of_other_attempt", "reject", [(1, 100), (2, 100)],
      entries_fn=lambda es: [es[0], sf.ManifestEntry(2, 100, bytes(24), es[1].commitment)])
build("manifest_entry_length_off_by_one", "reject", [(1, 100), (2, 100)],
      entries_fn=lambda es: [es[0], sf.ManifestEntry(2, 101, es[1].salt, es[1].commitment)], total=201)
build("stream_attempt_swap", "reject", [(1, 100), (2, 100)],
      streams_fn=lambda ss: [ss[0], sf.encrypt_stream(hashlib.sha256(b"stream_attempt_swap").digest(),
                                                      hashlib.sha256(b"oidstream_attempt_swap").digest()[:16],
                                                      2, bytes([2]) * 100)[0]])
build("streams_reordered", "reject", [(1, 100), (2, 100)], streams_fn=lambda ss: [ss[1], ss[0]])
build("envelope_reserved_nonzero", "reject", [(0, 5)], env={"reserved": 1})
build("envelope_version_2", "reject", [(0, 5)], env={"version": 2})
build("envelope_scheme_4", "reject", [(0, 5)], env={"scheme": 4})
build("envelope_scheme_0", "reject", [(0, 5)], env={"scheme": 0})
build("envelope_trailing_byte", "reject", [(0, 5)], env={"trailing": b"\x00"})
build("control_valid_scheme_3", "accept", [(0, 5)], env={"scheme": 3})
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump(index, f)
"""

OBJECT_CASES = [
    # name, parts spec, plaintext size, extra write options
    ("single_0", "single", 0, {}),
    ("single_1", "single", 1, {}),
    ("single_16384", "single", 16384, {}),
    ("single_100000", "single", 100000, {}),
    ("multipart_5mib", "1:5242880,2:16385,3:0", 5242880 + 16385, {}),
    ("multipart_gaps", "2:100,5:16384,9:77", 100 + 16384 + 77, {}),
    ("scheme3_sse_c", "1:16384,2:33000", 16384 + 33000,
     {"scheme": 3, "provider_id": "sse-c", "key_id": "customer-key-md5:abc="}),
    ("scheme3_single_empty_key_id", "single", 20000, {"scheme": 3, "provider_id": "customer", "key_id": ""}),
    # The key ring's and SSE-C's envelopes (§6) with object metadata (§13).
    ("kms_context_attributes", "single", 30000,
     {"provider_id": "strongroom", "key_id": "0b5c1f36-9f61-4c0e-9d1c-5ad0e9b8a001/3",
      "context": '{"department":"finance","r\u00e9gion":"\u00eele"}',
      "attributes": [("Content-Type", "text/plain"), ("x-amz-meta-owner", "\u00e9mile"),
                     ("x-amz-checksum-crc32c", "mnG7TA=="), (":md5", "0" * 32)]}),
    ("sse_s3_empty_attributes", "single", 1, {"provider_id": "strongroom", "key_id": "sse-s3/1",
                                              "attributes": []}),
    ("ssec_multipart_manifest_key", "1:16384,2:100", 16384 + 100,
     {"scheme": 3, "provider_id": "sse-c", "key_id": "", "manifest_key": bytes(range(7, 39)),
      "attributes": [("Cache-Control", "no-store")]}),
]

TAMPER_CASES = {"single_100000", "multipart_gaps", "scheme3_sse_c", "kms_context_attributes",
                "ssec_multipart_manifest_key"}

FILE_SIZES = [0, 1, 16384, 100000]


class InteropTest(unittest.TestCase):
    maxDiff = 2000

    @classmethod
    def setUpClass(cls):
        cls.cli = os.environ.get(ENV_CLI)
        cls.interop = os.environ.get(ENV_INTEROP)
        cls.python = pyref_python()

    def setUp(self):
        missing = [v for v in (ENV_CLI, ENV_INTEROP) if not os.environ.get(v)]
        if missing:
            self.fail("interop test needs the C++ binaries: set " + " and ".join(missing)
                      + " (the `strongroom` CLI and the `format_interop` tool); CI always sets them")
        for v in (ENV_CLI, ENV_INTEROP):
            path = os.environ[v]
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                self.fail(f"{v}={path!r} is not an executable file")
        self.tmp = tempfile.TemporaryDirectory(prefix="sr-interop-")
        self.dir = self.tmp.name
        self.cpp = Side("C++", [os.path.abspath(self.interop)], _cpp_file_cmd(os.path.abspath(self.cli)))
        self.py = Side("Python", [self.python, PYREF], _py_file_cmd(self.python))
        self.py_pipe = Side("Python(pipe reader)", [self.python, PYREF], _py_file_cmd(self.python, pipe=True))

    def tearDown(self):
        self.tmp.cleanup()

    # ----------------------------------------------------------------------------------------
    def path(self, *names):
        return os.path.join(self.dir, *names)

    def write_bytes(self, name, data):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def read_bytes(self, p):
        with open(p, "rb") as f:
            return f.read()

    def plaintext(self, size, seed):
        return random.Random(seed).randbytes(size)

    def assert_ok(self, r, what):
        self.assertEqual(r.returncode, 0, f"{what} failed (exit {r.returncode}):\n"
                         f"argv: {r.args}\nstderr: {r.stderr.decode(errors='replace')}")

    def assert_rejected(self, r, out_path, what, error_prefix="error:"):
        """Exit status 1, a reason on stderr (for the write/read contract: a line
        `error: <reason>`; the strongroom CLI uses its own prefix), and no output file."""
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, f"{what}: reader accepted tampered input\nargv: {r.args}")
        self.assertEqual(r.returncode, 1, f"{what}: exit code {r.returncode}, expected 1\n{err}")
        self.assertTrue(any(line.startswith(error_prefix) and line.strip() for line in err.splitlines()),
                        f"{what}: no `{error_prefix}<reason>` line on stderr: {err!r}")
        self.assertFalse(os.path.exists(out_path), f"{what}: output file left behind after failure")

    # ----------------------------------------------------------------------------------------
    # Objects

    def obj_write(self, side, case_dir, pt_path, spec, kek, opts, bucket="interop-bucket",
                  key="dir/obj é.bin"):
        argv = side.interop_argv + ["write", "--kek", kek.hex(), "--bucket", bucket, "--object-key", key,
                                    "--plaintext", pt_path, "--parts", spec, "--out", case_dir]
        if "scheme" in opts:
            argv += ["--scheme", str(opts["scheme"])]
        if "provider_id" in opts:
            argv += ["--provider-id", opts["provider_id"]]
        if "key_id" in opts:
            argv += ["--key-id", opts["key_id"]]
        if "context" in opts:
            argv += ["--context", opts["context"]]
        if "attributes" in opts:
            argv += ["--attributes", encode_attributes(opts["attributes"]).hex()]
        if "manifest_key" in opts:
            argv += ["--manifest-key", opts["manifest_key"].hex()]
        # The contract does not say whether `write` creates DIR; the C++ tool expects it to exist.
        os.makedirs(case_dir, exist_ok=True)
        r = _run(argv)
        self.assert_ok(r, f"{side} write")
        return bucket, key

    def obj_read(self, side, case_dir, out, ranges=()):
        argv = side.interop_argv + ["read", "--case", case_dir, "--out", out]
        for a, b in ranges:
            argv += ["--range", f"{a}-{b}"]
        return _run(argv)

    def check_case_structure(self, writer, case_dir, pt, spec, opts, bucket, key):
        with open(os.path.join(case_dir, "case.json")) as f:
            case = json.load(f)
        for k in ("object_id", "bucket", "object_key", "envelope", "manifest", "kek",
                  "plaintext_size", "plaintext_sha256"):
            self.assertIn(k, case, f"{writer}: case.json lacks {k}")
        self.assertEqual(case["bucket"], bucket)
        self.assertEqual(case["object_key"], key)
        self.assertEqual(case["plaintext_size"], len(pt))
        self.assertEqual(case["plaintext_sha256"].lower(), hashlib.sha256(pt).hexdigest())
        oid = bytes.fromhex(case["object_id"])
        self.assertEqual(len(oid), 16)
        parts = parts_of(spec, len(pt))
        blob = self.read_bytes(os.path.join(case_dir, "blob.bin"))
        self.assertEqual(len(blob), sum(stream_size(s) for _, s in parts), f"{writer}: blob size (§9)")
        # stream prefixes
        off = 0
        for n, s in parts:
            self.assertEqual(blob[off:off + 8], b"SRDS\x01\x01" + bytes([1 if n == 0 else 2]) + b"\x00",
                             f"{writer}: stream prefix of part {n}")
            off += stream_size(s)
        env = bytes.fromhex(case["envelope"])
        e = parse_envelope(env)
        pid = opts.get("provider_id", "local").encode()
        kid = opts.get("key_id", "test-key/1").encode()
        self.assertEqual((e["version"], e["scheme"], e["reserved"], e["provider_id"], e["key_id"], e["w"]),
                         (1, opts.get("scheme", 2), b"\x00\x00", pid, kid, 48), f"{writer}: envelope fields")
        self.assertEqual(len(env), envelope_size(len(pid), len(kid)), f"{writer}: envelope size")
        man = bytes.fromhex(case["manifest"])
        m = parse_manifest(man)
        bnd = binding(bucket, key)
        self.assertEqual((m["version"], m["suite"], m["flags"], m["object_id"], m["total"], m["entries"],
                          m["binding"]),
                         (1, 1, b"\x00\x00", oid, len(pt), [tuple(p) for p in parts], bnd),
                         f"{writer}: manifest fields")
        self.assertEqual(len(man), manifest_size(len(parts), len(bnd)), f"{writer}: manifest size")
        # §13: context recorded, MD5 and derived ETag, sealed attributes, manifest key
        self.assertEqual(case.get("context"), opts.get("context", ""), f"{writer}: context")
        self.assertEqual(case["plaintext_md5"], hashlib.md5(pt).hexdigest(), f"{writer}: plaintext MD5")
        self.assertEqual(len(bytes.fromhex(case["etag"])), 16, f"{writer}: derived ETag length")
        self.assertNotEqual(case["etag"], case["plaintext_md5"], f"{writer}: the derived ETag is not the MD5")
        if "attributes" in opts:
            enc = encode_attributes(opts["attributes"])
            self.assertEqual(bytes.fromhex(case["attributes"]), enc, f"{writer}: attributes")
            box = bytes.fromhex(case["attributes_sealed"])
            self.assertEqual((box[0], len(box)), (1, len(enc) + 49), f"{writer}: sealed box layout (§14)")
            self.assertNotIn(enc, box)
        if "manifest_key" in opts:
            self.assertEqual(case["manifest_key"], opts["manifest_key"].hex())
        return case

    def ranges_for(self, spec, size):
        pts = {0, size, size // 2, max(size - 1, 0)}
        for c in range(CHUNK, size, CHUNK):
            if c > 300000 and c < size - 300000:
                continue
            pts |= {c - 1, c, c + 1}
        acc = 0
        for _, s in parts_of(spec, size):
            acc += s
            pts |= {max(acc - 1, 0), acc, min(acc + 1, size)}
        pts = sorted(p for p in pts if 0 <= p <= size)
        rng = random.Random(size)
        out = {(0, size), (0, 0), (size, size)}
        for a in pts:
            out.add((a, min(a + 1, size)))
            out.add((max(a - 3, 0), min(a + 3, size)))
        for _ in range(8):
            a = rng.randrange(size + 1)
            out.add((a, rng.randrange(a, size + 1)))
        return sorted(out)

    def object_round_trip(self, writer, reader, name, spec, size, opts, seed):
        pt = self.plaintext(size, seed)
        pt_path = self.write_bytes(f"{name}.pt", pt)
        case_dir = self.path(f"{name}-{writer.name[:2]}")
        kek = random.Random(seed + 1).randbytes(32)
        bucket, key = self.obj_write(writer, case_dir, pt_path, spec, kek, opts)
        case = self.check_case_structure(writer, case_dir, pt, spec, opts, bucket, key)
        out = self.path(f"{name}.out")
        r = self.obj_read(reader, case_dir, out, self.ranges_for(spec, size))
        self.assert_ok(r, f"{reader} read of {writer}-written {name}")
        self.assertEqual(self.read_bytes(out), pt, f"{reader} read of {writer}-written {name}: plaintext differs")
        os.unlink(out)
        if name in TAMPER_CASES:
            self.object_tampering(writer, reader, case_dir, case, spec, size)

    def object_tampering(self, writer, reader, case_dir, case, spec, size):
        blob = self.read_bytes(os.path.join(case_dir, "blob.bin"))
        parts = parts_of(spec, size)
        last_base = sum(stream_size(s) for _, s in parts[:-1])
        env = bytes.fromhex(case["envelope"])
        man = bytes.fromhex(case["manifest"])
        e = parse_envelope(env)
        n = len(parts)
        mutations = {
            "blob: stream kind byte": ("blob", flip(blob, 6, 0x03)),
            "blob: reserved byte": ("blob", flip(blob, 7)),
            "blob: version byte": ("blob", flip(blob, 4, 0x02)),
            "blob: salt byte": ("blob", flip(blob, 8)),
            "blob: commitment byte": ("blob", flip(blob, 40)),
            "blob: first chunk body": ("blob", flip(blob, 64)),
            "blob: last byte (final tag)": ("blob", flip(blob, len(blob) - 1)),
            "blob: last stream prefix": ("blob", flip(blob, last_base + 2)),
            "blob: trailing byte": ("blob", blob + b"\x00"),
            "blob: truncated by one byte": ("blob", blob[:-1]),
            "blob: final chunk removed": ("blob", blob[:len(blob) - ((parts[-1][1] % CHUNK) + 16)]),
            "manifest: suite": ("manifest", flip(man, 5)),
            "manifest: flags": ("manifest", flip(man, 7)),
            "manifest: object id": ("manifest", flip(man, 10)),
            "manifest: total": ("manifest", flip(man, 31)),
            "manifest: first entry length": ("manifest", flip(man, 36 + 11)),
            "manifest: first entry salt": ("manifest", flip(man, 36 + 12)),
            "manifest: last entry commitment": ("manifest", flip(man, 36 + 68 * n - 1)),
            "manifest: binding": ("manifest", flip(man, 38 + 68 * n + 2)),
            "manifest: tag": ("manifest", flip(man, len(man) - 1)),
            "manifest: trailing byte": ("manifest", man + b"\x00"),
            "manifest: truncated": ("manifest", man[:-1]),
            "envelope: version": ("envelope", flip(env, 4)),
            "envelope: scheme": ("envelope", flip(env, 5, 0x01)),
            "envelope: reserved": ("envelope", flip(env, 7)),
            "envelope: provider id": ("envelope", flip(env, 9, 0x20)),
            "envelope: key id length": ("envelope", flip(env, 9 + len(e["provider_id"]) + 1)),
            "envelope: wrap salt": ("envelope", flip(env, len(env) - 50 - 1)),
            "envelope: wrapped DEK": ("envelope", flip(env, len(env) - 1)),
            "envelope: trailing byte": ("envelope", env + b"\x00"),
            "case: wrong kek": ("kek", flip(bytes.fromhex(case["kek"]), 0)),
            "case: wrong object id": ("object_id", flip(bytes.fromhex(case["object_id"]), 15)),
            "case: wrong bucket": ("bucket", case["bucket"] + "x"),
            "case: wrong object key": ("object_key", case["object_key"][:-1]),
        }
        if e["key_id"]:
            mutations["envelope: key id byte"] = ("envelope", flip(env, 9 + len(e["provider_id"]) + 2))
        ctx = case.get("context", "")
        mutations["case: other context"] = ("context", ctx + " " if ctx else "{}")
        mutations["case: derived etag"] = ("etag", flip(bytes.fromhex(case["etag"]), 3))
        mutations["case: plaintext md5"] = ("plaintext_md5", flip(bytes.fromhex(case["plaintext_md5"]), 0))
        if "attributes_sealed" in case:
            box = bytes.fromhex(case["attributes_sealed"])
            mutations["attributes: sealed box salt"] = ("attributes_sealed", flip(box, 5))
            mutations["attributes: sealed box tag"] = ("attributes_sealed", flip(box, len(box) - 1))
            mutations["attributes: sealed box version"] = ("attributes_sealed", flip(box, 0))
            mutations["attributes: sealed box truncated"] = ("attributes_sealed", box[:-1])
        if "manifest_key" in case:
            mutations["case: other manifest key"] = ("manifest_key", flip(bytes.fromhex(case["manifest_key"]), 31))
        for what, (fld, value) in mutations.items():
            with self.subTest(tamper=what, writer=writer.name, reader=reader.name):
                d = case_dir + "-t"
                shutil.rmtree(d, ignore_errors=True)
                shutil.copytree(case_dir, d)
                if fld == "blob":
                    with open(os.path.join(d, "blob.bin"), "wb") as f:
                        f.write(value)
                else:
                    c = dict(case)
                    c[fld] = value if isinstance(value, str) else value.hex()
                    with open(os.path.join(d, "case.json"), "w") as f:
                        json.dump(c, f)
                out = self.path("tampered.out")
                r = self.obj_read(reader, d, out, [(0, min(size, 10))])
                self.assert_rejected(r, out, f"{reader} reading {writer}-written case with {what}")
                shutil.rmtree(d)

    # ----------------------------------------------------------------------------------------
    # File containers

    def file_round_trip(self, writer, reader, cred, size, seed, argon2=CHEAP_ARGON2, tamper=False):
        pt = self.plaintext(size, seed)
        inp = self.write_bytes(f"f{seed}.pt", pt)
        enc = self.path(f"f{seed}.srfl")
        if cred == "key":
            wflag = rflag = "--key-file"
            wcred = rcred = self.write_bytes("key", random.Random(seed).randbytes(32))
        else:
            wflag = rflag = "--passphrase-file"
            # one side gets a trailing newline, the other not: both mean the same passphrase
            wcred = self.write_bytes("pw-w", "pässwörd 123\n".encode())
            rcred = self.write_bytes("pw-r", "pässwörd 123".encode())
        argv, env = writer.file_cmd("encrypt", wflag, wcred, inp, enc, argon2)
        r = _run(argv, env)
        self.assert_ok(r, f"{writer} encrypt ({cred}, {size} B)")
        data = self.read_bytes(enc)
        passphrase = cred == "passphrase"
        # structure: header, envelope, size formula, KDF parameters written
        self.assertEqual(data[:8], b"SRFL\x01" + bytes([1 if passphrase else 2]) + b"\x00\x00", f"{writer}: header")
        off = 8
        if passphrase:
            params = struct.unpack(">III", data[8:20])
            want = tuple(int(x) for x in (argon2 or "3,65536,4").split(","))
            self.assertEqual(params, want, f"{writer}: Argon2id parameters in the header")
            off += 28
        (e_len,) = struct.unpack(">I", data[off + 16:off + 20])
        env_fields = parse_envelope(data[off + 20:off + 20 + e_len])
        self.assertEqual((env_fields["scheme"], env_fields["provider_id"], env_fields["key_id"]),
                         (2, b"passphrase" if passphrase else b"key-file", b""), f"{writer}: file envelope")
        self.assertEqual(len(data), file_size(size, e_len, passphrase), f"{writer}: file size (§9)")
        self.assertEqual(data[-8:], b"\x00\x00\x00\x8eSRFE", f"{writer}: trailer")
        self.assertEqual(data[off:off + 16], data[-150 + 8:-150 + 24], f"{writer}: object id header vs manifest")
        for rd in ([reader, self.py_pipe] if reader is self.py else [reader]):
            out = self.path(f"f{seed}.out")
            argv, env = rd.file_cmd("decrypt", rflag, rcred, enc, out, None)
            r = _run(argv, env)
            self.assert_ok(r, f"{rd} decrypt of {writer}-written file ({cred}, {size} B)")
            self.assertEqual(self.read_bytes(out), pt, f"{rd} decrypt of {writer}-written file: plaintext differs")
            os.unlink(out)
        if tamper:
            self.file_tampering(writer, reader, data, rflag, rcred, passphrase, e_len)

    def file_tampering(self, writer, reader, data, flag, cred, passphrase, e_len):
        hdr = 8 + (28 if passphrase else 0)
        env_off = hdr + 20
        stream_off = env_off + e_len
        pos = {
            "magic": 0, "version": 4, "key source": 5, "reserved": 7,
            "object id": hdr + 3, "envelope length": hdr + 16 + 3,
            "envelope scheme": env_off + 5, "envelope provider id": env_off + 10,
            "envelope wrapped DEK": stream_off - 1,
            "stream kind": stream_off + 6, "stream salt": stream_off + 9, "stream commitment": stream_off + 40,
            "stream chunk": stream_off + 64, "stream last tag": len(data) - 151,
            "manifest total": len(data) - 150 + 31, "manifest entry": len(data) - 150 + 36 + 10,
            "manifest tag": len(data) - 9, "trailer length": len(data) - 5, "trailer magic": len(data) - 1,
        }
        if passphrase:
            pos.update({"argon2 iterations": 11, "argon2 memory": 15, "argon2 parallelism": 19, "kdf salt": 25})
        muts = {k: flip(data, v) for k, v in pos.items()}
        muts["trailing byte"] = data + b"\x00"
        muts["truncated by one byte"] = data[:-1]
        muts["trailer only"] = data[-150:]
        for what, bad in muts.items():
            with self.subTest(tamper=what, writer=writer.name, reader=reader.name):
                src = self.write_bytes("tampered.srfl", bad)
                for rd in ([reader, self.py_pipe] if reader is self.py else [reader]):
                    out = self.path("tampered.out")
                    argv, env = rd.file_cmd("decrypt", flag, cred, src, out, None)
                    self.assert_rejected(_run(argv, env), out, f"{rd} decrypting {writer}-written file with {what}",
                                         error_prefix="" if rd is self.cpp else "error:")

    # ----------------------------------------------------------------------------------------

    def test_00_binaries_configured(self):
        r = _run([self.python, "-c", "import cryptography, argon2"])
        self.assert_ok(r, f"the pyref interpreter {self.python} lacks python3-cryptography/argon2 "
                          "(set PYREF_PYTHON)")

    def test_file_key_cpp_to_py(self):
        for i, size in enumerate(FILE_SIZES):
            with self.subTest(size=size):
                self.file_round_trip(self.cpp, self.py, "key", size, 100 + i, tamper=(size == 100000))

    def test_file_key_py_to_cpp(self):
        for i, size in enumerate(FILE_SIZES):
            with self.subTest(size=size):
                self.file_round_trip(self.py, self.cpp, "key", size, 200 + i, tamper=(size == 100000))

    def test_file_passphrase_cpp_to_py(self):
        for i, size in enumerate(FILE_SIZES):
            with self.subTest(size=size):
                self.file_round_trip(self.cpp, self.py, "passphrase", size, 300 + i, tamper=(size == 16384))

    def test_file_passphrase_py_to_cpp(self):
        for i, size in enumerate(FILE_SIZES):
            with self.subTest(size=size):
                self.file_round_trip(self.py, self.cpp, "passphrase", size, 400 + i, tamper=(size == 16384))

    def test_file_stdin_pipes(self):
        """Writers and readers on standard input (the pipe code paths, §7: the reader holds back
        the last 150 bytes), both directions."""
        pt = self.plaintext(3 * CHUNK + 7, 600)
        inp = self.write_bytes("pipe.pt", pt)
        key = self.write_bytes("pipe.key", random.Random(600).randbytes(32))
        cli = os.path.abspath(self.cli)
        # C++ encrypts from stdin -> Python decrypts (seekable and pipe readers)
        enc1 = self.path("pipe1.srfl")
        self.assert_ok(_run([cli, "encrypt", "--key-file", key, "-o", enc1, "-"], stdin_path=inp),
                       "C++ encrypt from stdin")
        for rd in (self.py, self.py_pipe):
            out = self.path("pipe1.out")
            argv, env = rd.file_cmd("decrypt", "--key-file", key, enc1, out, None)
            self.assert_ok(_run(argv, env), f"{rd} decrypt of C++ stdin-written file")
            self.assertEqual(self.read_bytes(out), pt)
            os.unlink(out)
        # Python encrypts from stdin -> C++ decrypts from stdin
        enc2 = self.path("pipe2.srfl")
        self.assert_ok(_run([self.python, PYREF, "encrypt-file", "--key-file", key, "-", enc2], stdin_path=inp),
                       "Python encrypt from stdin")
        out = self.path("pipe2.out")
        self.assert_ok(_run([cli, "decrypt", "--key-file", key, "-o", out, "-"], stdin_path=enc2),
                       "C++ decrypt from stdin")
        self.assertEqual(self.read_bytes(out), pt)
        os.unlink(out)
        data = self.read_bytes(enc2)
        for what, bad in (("chunk byte", flip(data, len(data) // 2)), ("manifest tag", flip(data, len(data) - 9)),
                          ("trailing byte", data + b"\x00"), ("truncated", data[:-1]),
                          ("final chunk dropped", data[:-150 - 23] + data[-150:])):
            with self.subTest(tamper=what):
                bad_path = self.write_bytes("pipe-bad.srfl", bad)
                self.assert_rejected(_run([cli, "decrypt", "--key-file", key, "-o", out, "-"], stdin_path=bad_path),
                                     out, f"C++ stdin decrypt of Python-written file with {what}", error_prefix="")

    def test_crafted_rule_violations(self):
        """Cases that break exactly one §5/§6/§8 rule behind a valid MAC/wrap: both readers must
        reject them; controls (valid edge cases) must be accepted by both."""
        d = self.path("crafted")
        os.makedirs(d)
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [os.path.dirname(PYREF), os.environ.get("PYTHONPATH")]))}
        self.assert_ok(_run([self.python, "-c", CRAFT_SCRIPT, d], env), "crafting cases")
        with open(os.path.join(d, "index.json")) as f:
            index = json.load(f)
        self.assertGreater(len(index), 20)
        for name, expect in sorted(index.items()):
            for side in (self.cpp, self.py):
                with self.subTest(case=name, reader=side.name):
                    out = self.path("crafted.out")
                    # ranges only for the controls, so a reject is never caused by a bad range
                    r = self.obj_read(side, os.path.join(d, name), out, [(0, 1)] if expect == "accept" else [])
                    if expect == "accept":
                        self.assert_ok(r, f"{side} read of crafted valid case {name}")
                        os.unlink(out)
                    else:
                        self.assert_rejected(r, out, f"{side} read of crafted case {name}")

    def test_file_passphrase_default_argon2(self):
        # The real default costs (t=3, m=64 MiB, p=4), once in each direction.
        self.file_round_trip(self.cpp, self.py, "passphrase", 1000, 500, argon2=None)
        self.file_round_trip(self.py, self.cpp, "passphrase", 1000, 501, argon2=None)


def _add_object_tests():
    for i, (name, spec, size, opts) in enumerate(OBJECT_CASES):
        def cpp_to_py(self, name=name, spec=spec, size=size, opts=opts, i=i):
            self.object_round_trip(self.cpp, self.py, name, spec, size, opts, 1000 + i)

        def py_to_cpp(self, name=name, spec=spec, size=size, opts=opts, i=i):
            self.object_round_trip(self.py, self.cpp, name, spec, size, opts, 2000 + i)

        cpp_to_py.__doc__ = f"object {name} ({spec}, {size} B): C++ write -> Python read"
        py_to_cpp.__doc__ = f"object {name} ({spec}, {size} B): Python write -> C++ read"
        setattr(InteropTest, f"test_object_{name}_cpp_to_py", cpp_to_py)
        setattr(InteropTest, f"test_object_{name}_py_to_cpp", py_to_cpp)


_add_object_tests()


if __name__ == "__main__":
    unittest.main()
