# SPDX-License-Identifier: Apache-2.0
"""Self-tests of the Python reference implementation of docs/FORMAT.md.

Run:  /usr/bin/python3 -m unittest discover -s tools/pyref -p 'test_*.py'
"""

import hashlib
import hmac
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import strongroom_format as sf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
WYCHEPROOF = os.path.join(REPO, "testdata", "wycheproof", "c2sp_chunked_encryption_aes_256_gcm_test.json")
SCRIPT = os.path.join(HERE, "strongroom_format.py")
CHEAP_ARGON2 = (1, 8192, 1)

SIZES = [0, 1, 16383, 16384, 16385, 3 * 16384 + 5]


def rbytes(n, seed=0):
    return random.Random(seed * 1000003 + n).randbytes(n)


def flip(data: bytes, i: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[i] ^= mask
    return bytes(b)


def set_byte(data: bytes, i: int, v: int) -> bytes:
    b = bytearray(data)
    b[i] = v
    return bytes(b)


DEK = bytes(range(32))
KEK = bytes(range(100, 132))
OID = bytes.fromhex("00112233445566778899aabbccddeeff")


# ---------------------------------------------------------------------------------------------
class SizeFormulaTest(unittest.TestCase):
    def test_table(self):
        table = {0: 80, 1: 81, 16383: 16463, 16384: 16480, 16385: 16481,
                 5 * 1024 * 1024: 5248080, 1 << 30: 1074790480}
        for p, c in table.items():
            self.assertEqual(sf.stream_size(p), c, p)
            self.assertEqual(sf.stream_plaintext_size(c), p)

    def test_inverse_exhaustive_small(self):
        valid = {sf.stream_size(p) for p in range(0, 3 * 16384 + 50)}
        for length in range(0, sf.stream_size(3 * 16384 + 49) + 1):
            if length in valid:
                self.assertEqual(sf.stream_size(sf.stream_plaintext_size(length)), length)
            else:
                with self.assertRaises(sf.FormatError):
                    sf.stream_plaintext_size(length)

    def test_manifest_envelope_file_sizes(self):
        self.assertEqual(sf.manifest_size(1, 4), 142)
        env = sf.wrap_dek(KEK, DEK, OID, "b", "k", provider_id="local", key_id="test-key/1")
        self.assertEqual(len(env), sf.envelope_size(5, 10))
        m = sf.seal_manifest(DEK, OID, [sf.ManifestEntry(0, 5, b"s" * 24, b"c" * 32)], "bb", "kkk")
        self.assertEqual(len(m), sf.manifest_size(1, 4 + 2 + 3))


# ---------------------------------------------------------------------------------------------
class CobblestoneTest(unittest.TestCase):
    CTX = b"some context \x00 bytes"

    def test_round_trip_sizes(self):
        for n in SIZES:
            pt = rbytes(n)
            msg = sf.cobblestone_encrypt(DEK, self.CTX, pt)
            self.assertEqual(len(msg), sf.cobblestone_size(n))
            self.assertEqual(sf.cobblestone_decrypt(DEK, self.CTX, msg), pt)
            # streaming, odd piece sizes, both directions
            enc = sf.CobblestoneEncryptor(DEK, self.CTX, salt=msg[:24])
            out = enc.header()
            for i in range(0, n, 7777):
                out += enc.update(pt[i:i + 7777])
            out += enc.finish()
            self.assertEqual(out, msg)
            dec = sf.CobblestoneDecryptor(DEK, self.CTX)
            got = b"".join(dec.update(msg[i:i + 5000]) for i in range(0, len(msg), 5000)) + dec.finish()
            self.assertEqual(got, pt)

    def test_chunking(self):
        # empty plaintext = one empty chunk; 16384 = one full chunk + one empty chunk
        self.assertEqual(len(sf.cobblestone_encrypt(DEK, b"", b"")), 72)
        self.assertEqual(len(sf.cobblestone_encrypt(DEK, b"", bytes(16384))), 56 + 16400 + 16)

    def test_truncation_at_chunk_boundary(self):
        pt = rbytes(2 * 16384 + 3)
        msg = sf.cobblestone_encrypt(DEK, self.CTX, pt)
        for cut in (56, 56 + 16400, 56 + 2 * 16400):
            with self.assertRaises(sf.FormatError):
                sf.cobblestone_decrypt(DEK, self.CTX, msg[:cut])
            dec = sf.CobblestoneDecryptor(DEK, self.CTX)
            dec.update(msg[:cut])
            with self.assertRaises(sf.FormatError):
                dec.finish()
        # a 16384-byte message cut after its full chunk (drops the empty final chunk)
        msg = sf.cobblestone_encrypt(DEK, self.CTX, bytes(16384))
        with self.assertRaises(sf.FormatError):
            sf.cobblestone_decrypt(DEK, self.CTX, msg[:-16])

    def test_trailing_bytes(self):
        for n in (0, 5, 16384):
            msg = sf.cobblestone_encrypt(DEK, self.CTX, rbytes(n))
            for extra in (b"\x00", bytes(16), bytes(16400), sf.cobblestone_encrypt(DEK, self.CTX, b"")[56:]):
                with self.assertRaises(sf.FormatError):
                    sf.cobblestone_decrypt(DEK, self.CTX, msg + extra)
            dec = sf.CobblestoneDecryptor(DEK, self.CTX)
            dec.update(msg)
            dec.finish()
            with self.assertRaises(sf.FormatError):
                dec.update(b"\x00")

    def test_sticky_errors(self):
        msg = sf.cobblestone_encrypt(DEK, self.CTX, rbytes(40000))
        bad = flip(msg, 56 + 5)
        dec = sf.CobblestoneDecryptor(DEK, self.CTX)
        with self.assertRaises(sf.FormatError):
            dec.update(bad)
        with self.assertRaises(sf.FormatError):
            dec.update(b"")
        with self.assertRaises(sf.FormatError):
            dec.finish()

    def test_commitment_checked_before_chunks(self):
        msg = sf.cobblestone_encrypt(DEK, self.CTX, rbytes(10))
        dec = sf.CobblestoneDecryptor(DEK, self.CTX + b"x")
        with self.assertRaises(sf.FormatError) as cm:
            dec.update(msg[:56])  # only the header: must already fail
        self.assertIn("commitment", str(cm.exception))

    def test_every_byte_authenticated(self):
        msg = sf.cobblestone_encrypt(DEK, self.CTX, rbytes(100))
        for i in range(len(msg)):
            with self.assertRaises(sf.FormatError):
                sf.cobblestone_decrypt(DEK, self.CTX, flip(msg, i))

    def test_counter_in_low_bytes(self):
        self.assertEqual(sf.chunk_nonce(bytes(12), 1), bytes(11) + b"\x01")
        self.assertEqual(sf.chunk_nonce(bytes(12), 256), bytes(10) + b"\x01\x00")
        with self.assertRaises(sf.FormatError):
            sf.chunk_nonce(bytes(12), 1 << 38)


class WycheproofTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(WYCHEPROOF) as f:
            cls.data = json.load(f)
        cls.tests = [t for g in cls.data["testGroups"] for t in g["tests"]]

    def test_count(self):
        self.assertEqual(len(self.tests), 35)
        self.assertEqual(sum(t["result"] == "valid" for t in self.tests), 10)

    @staticmethod
    def _case(t):
        return (bytes.fromhex(t["key"]), bytes.fromhex(t["ctx"]),
                zlib.decompress(bytes.fromhex(t["ct"])))

    def _stream(self, key, ctx, ct, piece):
        """Streaming decrypt; returns (output emitted, exception or None)."""
        out = bytearray()
        try:
            dec = sf.CobblestoneDecryptor(key, ctx)
            for i in range(0, len(ct), piece):
                out += dec.update(ct[i:i + piece])
            out += dec.finish()
        except sf.FormatError as e:
            # sticky: further calls fail too
            if "dec" in locals():
                with self.assertRaises(sf.FormatError):
                    dec.finish()
            return bytes(out), e
        return bytes(out), None

    def test_vectors(self):
        for t in self.tests:
            with self.subTest(tcId=t["tcId"], comment=t["comment"]):
                key, ctx, ct = self._case(t)
                if "aeadKey" in t:
                    ak, bn, _ = sf.cobblestone_derive(key, ct[:24], ctx)
                    self.assertEqual(ak.hex(), t["aeadKey"])
                    self.assertEqual(bn.hex(), t["baseNonce"])
                if t["result"] == "valid":
                    pt = sf.cobblestone_decrypt(key, ctx, ct)
                    self.assertEqual(len(pt), t["msgLength"])
                    self.assertEqual(hashlib.sha512(pt).hexdigest(), t["msgSha512"])
                    for piece in (1, 1000, 16400, 16401, 1 << 22):
                        if piece == 1 and len(ct) > 100000:
                            continue
                        out, err = self._stream(key, ctx, ct, piece)
                        self.assertIsNone(err)
                        self.assertEqual(out, pt)
                    self._random_access_valid(key, ctx, ct, pt)
                else:
                    with self.assertRaises(sf.FormatError):
                        sf.cobblestone_decrypt(key, ctx, ct)
                    for piece in (1, 1000, 16400, 16401, 1 << 22):
                        out, err = self._stream(key, ctx, ct, piece)
                        self.assertIsNotNone(err, f"piece {piece}")
                        if "PartialPlaintext" in t["flags"]:
                            self.assertLessEqual(len(out), t["msgLength"])
                            if len(out) == t["msgLength"]:
                                self.assertEqual(hashlib.sha512(out).hexdigest(), t["msgSha512"])
                        else:
                            # no valid prefix is described: nothing may be released
                            self.assertEqual(out, b"", f"piece {piece}")
                    self._random_access_invalid(t, key, ctx, ct)

    def _random_access_valid(self, key, ctx, ct, pt):
        p = sf.cobblestone_plaintext_size(len(ct))
        self.assertEqual(p, len(pt))
        read_at = lambda off, n: ct[off:off + n]  # noqa: E731
        ranges = [(0, p), (0, 0), (p, p), (0, min(1, p)), (max(p - 1, 0), p)]
        for c in (16383, 16384, 16385, 2 * 16384, 256 * 16384 + 1):
            if c <= p:
                ranges += [(max(c - 3, 0), c), (c, min(c + 3, p)), (max(c - 3, 0), min(c + 3, p))]
        for a, b in ranges:
            self.assertEqual(sf.cobblestone_read_range(key, ctx, read_at, p, ct[:24], ct[24:56], a, b),
                             pt[a:b], (a, b))

    def _random_access_invalid(self, t, key, ctx, ct):
        try:
            p = sf.cobblestone_plaintext_size(len(ct))
        except sf.FormatError:
            return  # length alone rejects it
        if len(key) != 32:
            with self.assertRaises(sf.FormatError):
                sf.cobblestone_derive(key, ct[:24], ctx)
            return
        read_at = lambda off, n: ct[off:off + n]  # noqa: E731
        # P is inferred from the untrusted length here (no manifest), so the final chunk must be
        # verified too: a read of [0, P) with P a multiple of 16384 does not touch the empty final
        # chunk (§8 step 3) -- tcId 14 (corrupted empty final chunk) passes without it.
        with self.assertRaises(sf.FormatError):
            sf.cobblestone_read_range(key, ctx, read_at, p, ct[:24], ct[24:56], 0, p,
                                      verify_final_chunk=True)
        if t["tcId"] != 14:
            with self.assertRaises(sf.FormatError):
                sf.cobblestone_read_range(key, ctx, read_at, p, ct[:24], ct[24:56], 0, p)
        if "ValidFinalChunk" in t["flags"]:
            # reading only the (valid) final chunk may succeed, and does here
            sf.cobblestone_read_range(key, ctx, read_at, p, ct[:24], ct[24:56], p, p,
                                      verify_final_chunk=True)


# ---------------------------------------------------------------------------------------------
class StreamTest(unittest.TestCase):
    def test_round_trip(self):
        for part in (0, 1, 10000):
            for n in SIZES:
                pt = rbytes(n, part)
                data, entry = sf.encrypt_stream(DEK, OID, part, pt)
                self.assertEqual(len(data), sf.stream_size(n))
                self.assertEqual(data[:8], b"SRDS\x01\x01" + bytes([1 if part == 0 else 2]) + b"\x00")
                self.assertEqual(sf.decrypt_stream(DEK, OID, part, data, entry), pt)
                self.assertEqual(sf.decrypt_stream(DEK, OID, part, data), pt)

    def test_context(self):
        ctx = sf.stream_context(OID, 7)
        self.assertEqual(len(ctx), 28)
        self.assertEqual(ctx, b"SRDS\x01\x01\x02\x00" + OID + b"\x00\x00\x00\x07")

    def test_wrong_part_object_or_key(self):
        data, entry = sf.encrypt_stream(DEK, OID, 3, rbytes(100))
        for dek, oid, part in ((DEK, OID, 4), (DEK, OID[::-1], 3), (KEK, OID, 3)):
            with self.assertRaises(sf.FormatError):
                sf.decrypt_stream(dek, oid, part, data)
        with self.assertRaises(sf.FormatError):  # kind 0x02 stream read as whole object
            sf.decrypt_stream(DEK, OID, 0, data)

    def test_prefix_rules(self):
        data, entry = sf.encrypt_stream(DEK, OID, 0, rbytes(10))
        for i, v in ((0, ord("X")), (4, 2), (4, 0), (5, 0), (5, 2), (6, 3), (6, 2), (6, 0), (7, 1)):
            with self.subTest(byte=i, value=v):
                with self.assertRaises(sf.FormatError):
                    sf.decrypt_stream(DEK, OID, 0, set_byte(data, i, v), entry)
                with self.assertRaises(sf.FormatError):
                    sf.decrypt_stream(DEK, OID, 0, set_byte(data, i, v))

    def test_truncation_and_trailing(self):
        data, entry = sf.encrypt_stream(DEK, OID, 1, rbytes(3 * 16384 + 5))
        for cut in (8, 64, 64 + 16400, 64 + 3 * 16400, len(data) - 1):
            with self.assertRaises(sf.FormatError):
                sf.decrypt_stream(DEK, OID, 1, data[:cut], entry)
            with self.assertRaises(sf.FormatError):
                dec = sf.StreamDecryptor(DEK, OID, 1, entry)
                dec.update(data[:cut])
                dec.finish()
        with self.assertRaises(sf.FormatError):
            sf.decrypt_stream(DEK, OID, 1, data + b"\x00", entry)

    def test_entry_mismatch(self):
        data, entry = sf.encrypt_stream(DEK, OID, 1, rbytes(100))
        data2, entry2 = sf.encrypt_stream(DEK, OID, 1, rbytes(100))  # another attempt, same part
        with self.assertRaises(sf.FormatError):
            sf.decrypt_stream(DEK, OID, 1, data2, entry)  # stale/other part attempt
        bad = sf.ManifestEntry(1, 99, entry.salt, entry.commitment)
        with self.assertRaises(sf.FormatError):
            sf.decrypt_stream(DEK, OID, 1, data, bad)


# ---------------------------------------------------------------------------------------------
def raw_manifest(dek, oid, entries, total=None, binding=None, flags=0, version=1, suite=1,
                 mac_oid=None, n=None, magic=b"SRMF"):
    """A manifest with arbitrary content but a correct tag (to test rules beyond the MAC)."""
    if total is None:
        total = sum(e.plaintext_length for e in entries)
    if binding is None:
        binding = sf.encode_binding("bucket", "key")
    body = (magic + bytes([version, suite]) + struct.pack(">H", flags) + oid + struct.pack(">Q", total)
            + struct.pack(">I", len(entries) if n is None else n) + b"".join(e.encode() for e in entries)
            + struct.pack(">H", len(binding)) + binding)
    k = sf.manifest_key(dek, mac_oid or oid)
    return body + hmac.new(k, body, hashlib.sha256).digest()


class ManifestTest(unittest.TestCase):
    def entries(self, parts):
        return [sf.ManifestEntry(p, 10 * p + 1, bytes([p % 256]) * 24, bytes([p % 256 + 1 & 255]) * 32)
                for p in parts]

    def test_seal_open(self):
        for parts in ([0], [1], [1, 2, 3], [1, 3, 7], [10000], list(range(1, 101))):
            es = self.entries(parts)
            m = sf.seal_manifest(DEK, OID, es, "bucket", "key/é")
            self.assertEqual(len(m), sf.manifest_size(len(es), 4 + 6 + len("key/é".encode())))
            self.assertEqual(m, raw_manifest(DEK, OID, es, binding=sf.encode_binding("bucket", "key/é")))
            got = sf.open_manifest(DEK, m, OID, "bucket", "key/é")
            self.assertEqual(got.entries, es)
            self.assertEqual(got.total, sum(e.plaintext_length for e in es))

    def test_tag_flip_and_every_byte(self):
        m = sf.seal_manifest(DEK, OID, self.entries([1, 2]), "bucket", "key")
        for i in range(len(m)):
            with self.assertRaises(sf.FormatError):
                sf.open_manifest(DEK, flip(m, i), OID, "bucket", "key")

    def test_wrong_binding_oid_key(self):
        m = sf.seal_manifest(DEK, OID, self.entries([0]), "bucket", "key")
        for args in ((DEK, OID, "bucket", "key2"), (DEK, OID, "bucket2", "key"), (DEK, OID, "", "bucketkey"),
                     (DEK, OID[::-1], "bucket", "key"), (KEK, OID, "bucket", "key")):
            with self.assertRaises(sf.FormatError):
                sf.open_manifest(args[0], m, args[1], args[2], args[3])
        # same tag key but a different stored object id
        m2 = raw_manifest(DEK, OID[::-1], self.entries([0]), mac_oid=OID)
        with self.assertRaises(sf.FormatError):
            sf.open_manifest(DEK, m2, OID, "bucket", "key")

    def test_rules_behind_a_valid_tag(self):
        ok = raw_manifest(DEK, OID, self.entries([1, 2]))
        sf.open_manifest(DEK, ok, OID, "bucket", "key")
        bad = {
            "flags": raw_manifest(DEK, OID, self.entries([0]), flags=1),
            "version": raw_manifest(DEK, OID, self.entries([0]), version=2),
            "suite0": raw_manifest(DEK, OID, self.entries([0]), suite=0),
            "suite2": raw_manifest(DEK, OID, self.entries([0]), suite=2),
            "magic": raw_manifest(DEK, OID, self.entries([0]), magic=b"SRMG"),
            "no entries": raw_manifest(DEK, OID, []),
            "part 0 among parts": raw_manifest(DEK, OID, self.entries([0, 1])),
            "two part 0": raw_manifest(DEK, OID, self.entries([0, 0])),
            "not increasing": raw_manifest(DEK, OID, self.entries([2, 1])),
            "duplicate": raw_manifest(DEK, OID, self.entries([3, 3])),
            "part 10001": raw_manifest(DEK, OID, self.entries([10001])),
            "total": raw_manifest(DEK, OID, self.entries([1, 2]), total=10),
            "binding": raw_manifest(DEK, OID, self.entries([1]), binding=sf.encode_binding("bucket", "kex")),
            "binding malformed": raw_manifest(DEK, OID, self.entries([1]), binding=b"\x00\x06bucket\x00\x04key"),
            "binding extra": raw_manifest(DEK, OID, self.entries([1]), binding=sf.encode_binding("bucket", "key") + b"x"),
            "count too high": raw_manifest(DEK, OID, self.entries([1]), n=2),
            "count too low": raw_manifest(DEK, OID, self.entries([1, 2]), n=1),
            "trailing byte": ok + b"\x00",
            "truncated": ok[:-1],
            "empty": b"",
        }
        for name, m in bad.items():
            with self.subTest(name):
                with self.assertRaises(sf.FormatError):
                    sf.open_manifest(DEK, m, OID, "bucket", "key")

    def test_too_many_entries(self):
        with self.assertRaises(sf.FormatError):
            sf.seal_manifest(DEK, OID, self.entries(range(1, 10002)), "b", "k")
        with self.assertRaises(sf.FormatError):
            sf.open_manifest(DEK, raw_manifest(DEK, OID, [], n=10001), OID, "bucket", "key")



# ---------------------------------------------------------------------------------------------
class SealedBoxTest(unittest.TestCase):
    def test_layout_and_round_trip(self):
        salt = bytes(range(1, 33))
        box = sf.seal_box(KEK, "user-secret", b"hello", b"aad", salt=salt)
        self.assertEqual(len(box), 1 + 32 + 5 + 16)
        self.assertEqual(box[:33], b"\x01" + salt)
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        k = HKDF(hashes.SHA512(), 32, salt, b"strongroom/v1/sealed-box\x00user-secret").derive(KEK)
        self.assertEqual(AESGCM(k).decrypt(bytes(12), box[33:], b"aad"), b"hello")
        self.assertEqual(sf.open_box(KEK, "user-secret", box, b"aad"), b"hello")

    def test_rejects(self):
        box = sf.seal_box(KEK, "p", b"secret value", b"aad")
        bad = {"other key": (KEK[::-1], "p", box, b"aad"), "other purpose": (KEK, "q", box, b"aad"),
               "other aad": (KEK, "p", box, b"aax"), "version": (KEK, "p", set_byte(box, 0, 2), b"aad"),
               "short": (KEK, "p", box[:48], b"aad"), "empty key": (b"", "p", box, b"aad")}
        for name, args in bad.items():
            with self.subTest(name), self.assertRaises(sf.FormatError):
                sf.open_box(*args)
        for i in range(len(box)):
            with self.assertRaises(sf.FormatError):
                sf.open_box(KEK, "p", flip(box, i), b"aad")


class ObjectMetadataTest(unittest.TestCase):
    ATTRS = [("Content-Type", "text/plain"), ("x-amz-meta-été", "ü" * 3),
             (":md5", "0" * 32)]

    def test_attribute_encoding(self):
        enc = sf.encode_attributes(self.ATTRS)
        self.assertEqual(enc[:3], b"\x01\x00\x03")
        self.assertEqual(enc[3:31], b"\x00\x0cContent-Type" + b"\x00\x00\x00\x0atext/plain")
        self.assertEqual(sf.decode_attributes(enc), [(n.encode(), v.encode()) for n, v in self.ATTRS])
        self.assertEqual(sf.decode_attributes(b"\x01\x00\x00"), [])
        kept = self.ATTRS + [(":etag", "9b2cf535f27731c974343645a3985328-3")]
        self.assertEqual(sf.decode_attributes(sf.encode_attributes(kept)),
                         [(n.encode(), v.encode()) for n, v in kept])
        for bad in (enc + b"\x00", enc[:-1], b"\x02" + enc[1:], b"",
                    sf.encode_attributes([(":other", "x")]), sf.encode_attributes([(":md5", "0" * 31)]),
                    sf.encode_attributes([(":md5", "A" * 32)]),
                    sf.encode_attributes([(":md5", "0" * 32), (":md5", "1" * 32)]),
                    sf.encode_attributes([(":etag", "")]),
                    sf.encode_attributes([(":etag", "a-2"), (":etag", "a-2")])):
            with self.subTest(bad=bad), self.assertRaises(sf.FormatError):
                sf.decode_attributes(bad)

    def test_sealed_attributes_layout(self):
        enc = sf.encode_attributes(self.ATTRS)
        salt = bytes(32)
        box = sf.seal_attributes(DEK, OID, "b", "kk", 0, enc, salt=salt)
        aad = OID + b"\x00\x01b\x00\x02kk"
        self.assertEqual(box, sf.seal_box(DEK, b"strongroom/v1/object-attributes", enc, aad, salt=salt))
        part = sf.seal_attributes(DEK, OID, "b", "kk", 7, enc, salt=salt)
        self.assertEqual(part, sf.seal_box(DEK, b"strongroom/v1/part-attributes", enc,
                                           aad + b"\x00\x00\x00\x07", salt=salt))
        self.assertEqual(sf.open_attributes(DEK, OID, "b", "kk", 0, box), enc)
        self.assertEqual(sf.open_attributes(DEK, OID, "b", "kk", 7, part), enc)
        for args in ((DEK[::-1], OID, "b", "kk", 0, box), (DEK, OID[::-1], "b", "kk", 0, box),
                     (DEK, OID, "b", "k", 0, box), (DEK, OID, "bb", "kk", 0, box), (DEK, OID, "b", "kk", 1, box),
                     (DEK, OID, "b", "kk", 0, part), (DEK, OID, "b", "kk", 8, part)):
            with self.assertRaises(sf.FormatError):
                sf.open_attributes(*args)

    def test_derived_etag(self):
        md5 = hashlib.md5(b"hello").digest()
        k = sf.hkdf_expand_sha512(DEK, b"strongroom/v1/etag\x00" + OID, 32)
        want = hmac.new(k, md5, hashlib.sha256).digest()[:16]
        self.assertEqual(sf.derive_etag(DEK, OID, md5), want)
        self.assertNotEqual(sf.derive_etag(DEK, OID[::-1], md5), want)
        self.assertNotEqual(sf.derive_etag(DEK[::-1], OID, md5), want)
        self.assertEqual(sf.multipart_etag([md5, md5]),
                         hashlib.md5(md5 + md5).hexdigest() + "-2")

    def test_manifest_key_replaces_the_dek(self):
        mk = bytes(range(200, 232))
        obj = sf.write_object(KEK, "b", "k", [(1, 10), (2, 5)], lambda n: b"x" * n, lambda b: None,
                              scheme=3, provider_id="sse-c", key_id=b"", manifest_mac_key=mk)
        with self.assertRaises(sf.FormatError):
            sf.open_manifest(obj.dek, obj.manifest, obj.object_id, "b", "k")
        m = sf.open_manifest(mk, obj.manifest, obj.object_id, "b", "k")
        self.assertEqual([e.part_number for e in m.entries], [1, 2])


# ---------------------------------------------------------------------------------------------
class EnvelopeTest(unittest.TestCase):
    def test_wrap_unwrap(self):
        for scheme, pid, kid in ((2, "local", b"test-key/1"), (3, "sse-c", b""), (2, "x" * 255, b"k" * 300)):
            env = sf.wrap_dek(KEK, DEK, OID, "bucket", "key", scheme, pid, kid)
            self.assertEqual(len(env), sf.envelope_size(len(pid), len(kid)))
            e = sf.parse_envelope(env)
            self.assertEqual((e.scheme, e.provider_id, e.key_id), (scheme, pid.encode(), kid))
            self.assertEqual(sf.unwrap_dek(KEK, env, OID, "bucket", "key"), DEK)

    def test_layout(self):
        salt = bytes(range(32))
        env = sf.wrap_dek(KEK, DEK, OID, "b", "k", 2, "local", b"id", wrap_salt=salt)
        self.assertEqual(env[:18], b"SRWK\x01\x02\x00\x00\x05local\x00\x02id")
        self.assertEqual(env[18:50], salt)
        self.assertEqual(env[50:52], b"\x00\x30")
        self.assertEqual(len(env), 100)
        # independent recomputation of the wrap
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        kw = HKDF(hashes.SHA512(), 32, salt, b"strongroom/v1/dek-wrap\x00\x02").derive(KEK)
        aad = b"strongroom/v1/dek-binding\x00" + env[:18] + OID + b"\x00\x01b\x00\x01k" + b"\x00" * 4
        self.assertEqual(AESGCM(kw).decrypt(bytes(12), env[52:], aad), DEK)
        # with a context: BE32 length, then the bytes
        ctx = b'{"dept":"finance"}'
        env = sf.wrap_dek(KEK, DEK, OID, "b", "k", 2, "strongroom", b"kms/1", wrap_salt=salt, context=ctx)
        hdr = env[:len(env) - 82]
        aad = (b"strongroom/v1/dek-binding\x00" + hdr + OID + b"\x00\x01b\x00\x01k"
               + struct.pack(">I", len(ctx)) + ctx)
        self.assertEqual(AESGCM(kw).decrypt(bytes(12), env[-48:], aad), DEK)

    def test_context_is_bound(self):
        ctx = b'{"a":"b"}'
        env = sf.wrap_dek(KEK, DEK, OID, "bucket", "key", 2, "strongroom", b"k/1", context=ctx)
        self.assertEqual(sf.unwrap_dek(KEK, env, OID, "bucket", "key", ctx), DEK)
        for other in (b"", b'{"a":"c"}', ctx + b" ", ctx[:-1]):
            with self.subTest(other=other), self.assertRaises(sf.FormatError):
                sf.unwrap_dek(KEK, env, OID, "bucket", "key", other)
        plain = sf.wrap_dek(KEK, DEK, OID, "bucket", "key", 2, "strongroom", b"k/1")
        with self.assertRaises(sf.FormatError):
            sf.unwrap_dek(KEK, plain, OID, "bucket", "key", ctx)
        # the length prefix keeps the binding and the context apart
        env = sf.wrap_dek(KEK, DEK, OID, "b", "k", 2, "local", b"", context=b"\x00")
        with self.assertRaises(sf.FormatError):
            sf.unwrap_dek(KEK, env, OID, "b", "k\x00", b"")

    def test_rejects(self):
        env = sf.wrap_dek(KEK, DEK, OID, "bucket", "key", 2, "local", b"test-key/1")
        cases = {
            "wrong kek": (KEK[::-1], env, OID, "bucket", "key"),
            "wrong oid": (KEK, env, OID[::-1], "bucket", "key"),
            "wrong bucket": (KEK, env, OID, "bucket2", "key"),
            "wrong key": (KEK, env, OID, "bucket", "key2"),
            "scheme 3": (KEK, set_byte(env, 5, 3), OID, "bucket", "key"),
            "scheme 1": (KEK, set_byte(env, 5, 1), OID, "bucket", "key"),
            "scheme 4": (KEK, set_byte(env, 5, 4), OID, "bucket", "key"),
            "version": (KEK, set_byte(env, 4, 2), OID, "bucket", "key"),
            "magic": (KEK, set_byte(env, 0, 0), OID, "bucket", "key"),
            "reserved6": (KEK, set_byte(env, 6, 1), OID, "bucket", "key"),
            "reserved7": (KEK, set_byte(env, 7, 1), OID, "bucket", "key"),
            "provider id": (KEK, set_byte(env, 9, ord("L")), OID, "bucket", "key"),
            "provider non-printable": (KEK, set_byte(env, 9, 0x01), OID, "bucket", "key"),
            "key id": (KEK, set_byte(env, 16, ord("X")), OID, "bucket", "key"),
            "wrap salt": (KEK, flip(env, 30), OID, "bucket", "key"),
            "wrapped": (KEK, flip(env, len(env) - 1), OID, "bucket", "key"),
            "trailing": (KEK, env + b"\x00", OID, "bucket", "key"),
            "truncated": (KEK, env[:-1], OID, "bucket", "key"),
        }
        for name, (kek, e, oid, b, k) in cases.items():
            with self.subTest(name):
                with self.assertRaises(sf.FormatError):
                    sf.unwrap_dek(kek, e, oid, b, k)
        for i in range(len(env)):
            with self.assertRaises(sf.FormatError):
                sf.unwrap_dek(KEK, flip(env, i), OID, "bucket", "key")

    def test_wrapped_length(self):
        env = sf.wrap_dek(KEK, DEK, OID, "b", "k", 2, "local", b"")
        hdr_end = 8 + 1 + 5 + 2
        w49 = env[:hdr_end + 32] + b"\x00\x31" + env[hdr_end + 34:] + b"\x00"
        w47 = env[:hdr_end + 32] + b"\x00\x2f" + env[hdr_end + 34:-1]
        for e in (w49, w47):
            with self.assertRaises(sf.FormatError):
                sf.parse_envelope(e)


# ---------------------------------------------------------------------------------------------
def make_object(pt, parts, bucket="bucket", key="obj/key", **kw):
    blob = bytearray()
    f = io.BytesIO(pt)
    obj = sf.write_object(KEK, bucket, key, parts, f.read, blob.extend, **kw)
    return obj, bytes(blob)


def read_object(obj, blob, bucket="bucket", key="obj/key", kek=KEK, oid=None):
    oid = oid or obj.object_id
    dek, m = sf.open_object(kek, obj.envelope, obj.manifest, oid, bucket, key, len(blob))
    out = bytearray()
    sf.decrypt_object(dek, m, lambda o, n: blob[o:o + n], out.extend)
    return bytes(out), dek, m


class ObjectTest(unittest.TestCase):
    def test_single_round_trip(self):
        for n in SIZES:
            pt = rbytes(n, 9)
            obj, blob = make_object(pt, [(0, n)])
            self.assertEqual(len(blob), sf.stream_size(n))
            out, dek, m = read_object(obj, blob)
            self.assertEqual(out, pt)
            for a, b in ((0, n), (0, 0), (n // 2, n), (max(n - 20000, 0), n)):
                self.assertEqual(sf.read_object_range(dek, m, obj.object_id, lambda o, k: blob[o:o + k], a, b),
                                 pt[a:b])

    def test_multipart_ranges(self):
        parts = [(1, 16384), (2, 0), (3, 16385), (7, 5), (9, 40000)]
        total = sum(s for _, s in parts)
        pt = rbytes(total, 3)
        obj, blob = make_object(pt, parts, scheme=3, provider_id="sse-c", key_id=b"")
        out, dek, m = read_object(obj, blob)
        self.assertEqual(out, pt)
        rd = lambda o, k: blob[o:o + k]  # noqa: E731
        rng = random.Random(5)
        points = sorted({0, total, 16383, 16384, 16385, 32768, 32769, 32770, 32774, 40000}
                        | {rng.randrange(total + 1) for _ in range(30)})
        for a in points:
            for b in points:
                if a <= b:
                    self.assertEqual(sf.read_object_range(dek, m, obj.object_id, rd, a, b), pt[a:b])
        with self.assertRaises(sf.FormatError):
            sf.read_object_range(dek, m, obj.object_id, rd, 0, total + 1)

    def test_part_swap(self):
        pt = rbytes(200, 1)
        obj, blob = make_object(pt, [(1, 100), (2, 100)])
        c = sf.stream_size(100)
        swapped = blob[c:] + blob[:c]
        with self.assertRaises(sf.FormatError):
            read_object(obj, swapped)
        dek, m = sf.open_object(KEK, obj.envelope, obj.manifest, obj.object_id, "bucket", "obj/key")
        # the random-access reader fetches no stream header, so the chunk must fail to verify
        with self.assertRaises(sf.FormatError):
            sf.read_object_range(dek, m, obj.object_id, lambda o, k: swapped[o:o + k], 0, 200)
        # a stream of part 1 presented as part 2 fails on the context alone
        with self.assertRaises(sf.FormatError):
            sf.decrypt_stream(dek, obj.object_id, 2, blob[:c])

    def test_cross_object_splice(self):
        pt = rbytes(1000, 2)
        obj1, blob1 = make_object(pt, [(0, 1000)])
        obj2, blob2 = make_object(pt, [(0, 1000)])
        for env, man, oid, blob in ((obj1.envelope, obj2.manifest, obj1.object_id, blob1),
                                    (obj2.envelope, obj1.manifest, obj1.object_id, blob1),
                                    (obj1.envelope, obj1.manifest, obj1.object_id, blob2)):
            with self.assertRaises(sf.FormatError):
                o = sf.WrittenObject(oid, env, man)
                read_object(o, blob)

    def test_truncation_trailing_tamper(self):
        pt = rbytes(2 * 16384 + 10, 4)
        obj, blob = make_object(pt, [(1, 16384), (2, 16384 + 10)])
        first = sf.stream_size(16384)
        for bad in (blob[:-1], blob + b"\x00", blob[:first - 16] + blob[first:],
                    blob[:first] + blob[first:first + 64 + 16400]):
            with self.assertRaises(sf.FormatError):
                read_object(obj, bad)
        for i in (0, 5, 7, 8, 40, 70, first - 1, first + 100, len(blob) - 1):
            with self.assertRaises(sf.FormatError):
                read_object(obj, flip(blob, i))

    def test_wrong_kek_binding_tags(self):
        pt = rbytes(10, 5)
        obj, blob = make_object(pt, [(0, 10)])
        with self.assertRaises(sf.FormatError):
            read_object(obj, blob, kek=KEK[::-1])
        with self.assertRaises(sf.FormatError):
            read_object(obj, blob, key="obj/other")
        with self.assertRaises(sf.FormatError):
            read_object(obj, blob, bucket="other")
        with self.assertRaises(sf.FormatError):
            read_object(obj, blob, oid=bytes(16))
        with self.assertRaises(sf.FormatError):
            read_object(sf.WrittenObject(obj.object_id, obj.envelope, flip(obj.manifest, len(obj.manifest) - 1)), blob)
        with self.assertRaises(sf.FormatError):
            read_object(sf.WrittenObject(obj.object_id, flip(obj.envelope, 6), obj.manifest), blob)

    def test_parts_spec(self):
        self.assertEqual(sf.parse_parts_spec("single", 5), [(0, 5)])
        self.assertEqual(sf.parse_parts_spec("1:5242880,2:100,7:0"), [(1, 5242880), (2, 100), (7, 0)])
        for bad in ("2:1,1:1", "0:1,1:1", "1:1,1:1", "10001:1", "1:-1", "x", "1:1:1"):
            with self.assertRaises(sf.FormatError):
                sf.parse_parts_spec(bad)
        with self.assertRaises(sf.FormatError):
            sf.parse_parts_spec("1:5,2:5", 11)


# ---------------------------------------------------------------------------------------------
def enc_file(pt, key=None, passphrase=None, params=CHEAP_ARGON2, **kw):
    out = io.BytesIO()
    sf.encrypt_file_stream(io.BytesIO(pt), out, key=key, passphrase=passphrase, argon2_params=params, **kw)
    return out.getvalue()


def dec_file(data, key=None, passphrase=None, pipe=False):
    out = bytearray()
    fn = sf.decrypt_file_pipe if pipe else sf.decrypt_file_seekable
    fn(io.BytesIO(data), out.extend, key=key, passphrase=passphrase)
    return bytes(out)


class FileContainerTest(unittest.TestCase):
    KEY = bytes(range(200, 232))

    def test_round_trip(self):
        for n in SIZES:
            pt = rbytes(n, 6)
            for kw, pp in (({"key": self.KEY}, False), ({"passphrase": b"correct horse"}, True)):
                data = enc_file(pt, **kw)
                e_len = struct.unpack(">I", data[(36 if pp else 8) + 16:][:4])[0]
                self.assertEqual(len(data), sf.file_size(n, e_len, pp))
                self.assertEqual(data[-4:], b"SRFE")
                self.assertEqual(data[-8:-4], b"\x00\x00\x00\x8e")
                self.assertEqual(dec_file(data, **kw), pt)
                self.assertEqual(dec_file(data, pipe=True, **kw), pt)

    def test_layout_and_kek(self):
        oid, dek, salt = bytes(range(16)), bytes(32), bytes(range(16, 32))
        data = enc_file(b"hello", passphrase=b"pw", object_id=oid, dek=dek, kdf_salt=salt, params=(2, 8192, 2))
        self.assertEqual(data[:8], b"SRFL\x01\x01\x00\x00")
        self.assertEqual(data[8:20], struct.pack(">III", 2, 8192, 2))
        self.assertEqual(data[20:36], salt)
        self.assertEqual(data[36:52], oid)
        e_len = struct.unpack(">I", data[52:56])[0]
        env = data[56:56 + e_len]
        kek = sf.argon2_kek(b"pw", salt, 2, 8192, 2)
        self.assertEqual(sf.unwrap_dek(kek, env, oid, "", ""), dek)
        e = sf.parse_envelope(env)
        self.assertEqual((e.scheme, e.provider_id, e.key_id), (2, b"passphrase", b""))
        m = sf.open_manifest(dek, data[-150:-8], oid, b"", b"")
        self.assertEqual((m.entries[0].part_number, m.total), (0, 5))
        self.assertEqual(data[56 + e_len:56 + e_len + 8], b"SRDS\x01\x01\x01\x00")

    def test_wrong_credentials(self):
        data = enc_file(b"x" * 100, passphrase=b"pw")
        for kw in ({"passphrase": b"pw2"}, {"passphrase": b"pw\n"}, {"key": self.KEY}):
            with self.assertRaises(sf.FormatError):
                dec_file(data, **kw)
        data = enc_file(b"x" * 100, key=self.KEY)
        for kw in ({"key": self.KEY[::-1]}, {"passphrase": b"pw"}):
            with self.assertRaises(sf.FormatError):
                dec_file(data, **kw)

    def test_every_byte_authenticated(self):
        for kw in ({"key": self.KEY}, {"passphrase": b"pw"}):
            data = enc_file(rbytes(20, 1), **kw)
            for i in range(len(data)):
                for pipe in (False, True):
                    with self.assertRaises(sf.FormatError, msg=f"byte {i} pipe={pipe}"):
                        dec_file(flip(data, i), pipe=pipe, **kw)

    def test_truncation_and_trailing(self):
        data = enc_file(rbytes(2 * 16384 + 1, 2), key=self.KEY)
        for bad in (data + b"\x00", data[:-1], data[:-150], data[:100]):
            for pipe in (False, True):
                with self.assertRaises(sf.FormatError):
                    dec_file(bad, key=self.KEY, pipe=pipe)

    def test_argon2_bounds_checked_before_kdf(self):
        data = enc_file(b"abc", passphrase=b"pw")
        for t, m, p in ((0, 8192, 1), (65, 8192, 1), (1, 8191, 1), (1, 4194305, 1), (1, 8192, 0),
                        (1, 8192, 65), (1, 0xFFFFFFFF, 1)):
            bad = data[:8] + struct.pack(">III", t, m, p) + data[20:]
            with self.assertRaises(sf.FormatError) as cm:
                dec_file(bad, passphrase=b"pw")
            self.assertIn("outside the accepted bounds", str(cm.exception))

    def test_header_fields(self):
        data = enc_file(b"abc", key=self.KEY)
        for i, v in ((0, 0), (4, 2), (5, 3), (5, 0), (5, 1), (6, 1), (7, 1)):
            with self.assertRaises(sf.FormatError):
                dec_file(set_byte(data, i, v), key=self.KEY)
        # envelope length above 4096
        big = data[:24] + struct.pack(">I", 4097) + data[28:]
        with self.assertRaises(sf.FormatError):
            dec_file(big, key=self.KEY)


# ---------------------------------------------------------------------------------------------
class CliTest(unittest.TestCase):
    def run_cli(self, *args, expect=0, stdin=None):
        r = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, input=stdin)
        if expect is not None:
            self.assertEqual(r.returncode, expect, r.stderr.decode())
        if r.returncode != 0:
            lines = r.stderr.decode().strip().splitlines()
            self.assertEqual(len(lines), 1, lines)
            self.assertTrue(lines[0].startswith("error: "), lines)
        return r

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def p(self, *names):
        return os.path.join(self.d, *names)

    def test_write_read(self):
        pt = rbytes(3 * 16384 + 5, 7)
        with open(self.p("pt"), "wb") as f:
            f.write(pt)
        kek = os.urandom(32).hex()
        for spec in ("single", "1:16384,2:16384,5:16389"):
            case = self.p("case-" + spec[:3])
            self.run_cli("write", "--kek", kek, "--bucket", "bk", "--object-key", "a/b c", "--plaintext",
                         self.p("pt"), "--parts", spec, "--out", case, "--scheme", "3", "--provider-id", "sse-c",
                         "--key-id", "")
            with open(os.path.join(case, "case.json")) as f:
                cj = json.load(f)
            self.assertEqual(cj["plaintext_sha256"], hashlib.sha256(pt).hexdigest())
            self.assertEqual(cj["plaintext_size"], len(pt))
            self.assertEqual(set(cj), {"object_id", "bucket", "object_key", "envelope", "manifest", "kek",
                                       "plaintext_size", "plaintext_sha256", "context", "plaintext_md5",
                                       "etag"})
            self.assertEqual(cj["plaintext_md5"], hashlib.md5(pt).hexdigest())
            self.run_cli("read", "--case", case, "--out", self.p("out"), "--range", "0-1",
                         "--range", "16380-16390", "--range", f"0-{len(pt)}", "--range", f"{len(pt)}-{len(pt)}")
            with open(self.p("out"), "rb") as f:
                self.assertEqual(f.read(), pt)
            os.unlink(self.p("out"))
            info = json.loads(self.run_cli("inspect", case).stdout)
            self.assertNotIn(kek, json.dumps(info))
            # tampering: blob byte, manifest byte, envelope byte, trailing byte, bad range
            blob = os.path.join(case, "blob.bin")
            with open(blob, "rb") as f:
                orig_blob = f.read()
            for bad in (flip(orig_blob, 100), orig_blob + b"\x00", orig_blob[:-1]):
                with open(blob, "wb") as f:
                    f.write(bad)
                self.run_cli("read", "--case", case, "--out", self.p("out"), expect=1)
                self.assertFalse(os.path.exists(self.p("out")))
            with open(blob, "wb") as f:
                f.write(orig_blob)
            for fld in ("manifest", "envelope"):
                bad = dict(cj)
                bad[fld] = flip(bytes.fromhex(cj[fld]), 10).hex()
                with open(os.path.join(case, "case.json"), "w") as f:
                    json.dump(bad, f)
                self.run_cli("read", "--case", case, "--out", self.p("out"), expect=1)
                self.assertFalse(os.path.exists(self.p("out")))
            with open(os.path.join(case, "case.json"), "w") as f:
                json.dump(cj, f)
            self.run_cli("read", "--case", case, "--out", self.p("out"), "--range", f"0-{len(pt) + 1}", expect=1)
            self.assertFalse(os.path.exists(self.p("out")))
            self.run_cli("read", "--case", case, "--out", self.p("out"))

    def test_write_rejects_bad_spec(self):
        with open(self.p("pt"), "wb") as f:
            f.write(b"x" * 10)
        self.run_cli("write", "--kek", "00" * 32, "--bucket", "b", "--object-key", "k", "--plaintext",
                     self.p("pt"), "--parts", "1:5,2:4", "--out", self.p("c"), expect=1)
        self.run_cli("write", "--kek", "00" * 31, "--bucket", "b", "--object-key", "k", "--plaintext",
                     self.p("pt"), "--parts", "single", "--out", self.p("c"), expect=1)
        self.run_cli("read", "--case", self.p("nonexistent"), "--out", self.p("o"), expect=1)
        self.run_cli("bogus", expect=1)

    def test_file_commands(self):
        pt = rbytes(40000, 8)
        with open(self.p("pt"), "wb") as f:
            f.write(pt)
        with open(self.p("key"), "wb") as f:
            f.write(os.urandom(32))
        with open(self.p("pw"), "wb") as f:
            f.write(b"hunter2\n")
        with open(self.p("pw2"), "wb") as f:
            f.write(b"hunter2")
        with open(self.p("pw3"), "wb") as f:
            f.write(b"hunter2\n\n")
        self.run_cli("encrypt-file", "--key-file", self.p("key"), self.p("pt"), self.p("e1"))
        self.run_cli("decrypt-file", "--key-file", self.p("key"), self.p("e1"), self.p("d1"))
        self.run_cli("encrypt-file", "--passphrase-file", self.p("pw"), "--argon2", "1,8192,1", self.p("pt"), self.p("e2"))
        self.run_cli("decrypt-file", "--passphrase-file", self.p("pw2"), self.p("e2"), self.p("d2"))
        self.run_cli("decrypt-file", "--passphrase-file", self.p("pw3"), self.p("e2"), self.p("d3"), expect=1)
        self.assertFalse(os.path.exists(self.p("d3")))
        with open(self.p("e2"), "rb") as f:
            self.run_cli("decrypt-file", "--passphrase-file", self.p("pw"), "-", self.p("d4"), stdin=f.read())
        for d in ("d1", "d2", "d4"):
            with open(self.p(d), "rb") as f:
                self.assertEqual(f.read(), pt)
        info = json.loads(self.run_cli("inspect", self.p("e2")).stdout)
        self.assertEqual(info["argon2id"]["memory_kib"], 8192)
        self.assertEqual(info["manifest"]["total_plaintext_length"], 40000)
        self.assertEqual(info["envelope"]["provider_id"], "passphrase")
        self.run_cli("encrypt-file", "--passphrase-file", self.p("pw"), "--argon2", "1,4096,1", self.p("pt"), self.p("e3"), expect=1)
        self.assertFalse(os.path.exists(self.p("e3")))
        with open(self.p("e1"), "rb") as f:
            data = f.read()
        with open(self.p("e1"), "wb") as f:
            f.write(flip(data, len(data) // 2))
        self.run_cli("decrypt-file", "--key-file", self.p("key"), self.p("e1"), self.p("d5"), expect=1)
        self.assertFalse(os.path.exists(self.p("d5")))


if __name__ == "__main__":
    unittest.main()
