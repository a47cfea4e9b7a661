#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Independent Python reference implementation of the strongroom format, version 1.

Written from docs/FORMAT.md alone (no code shared with, or read from, the C++ implementation).
Section numbers in comments refer to that document.

Library:
  * §3  Cobblestone-256: CobblestoneEncryptor / CobblestoneDecryptor, cobblestone_encrypt /
        cobblestone_decrypt, cobblestone_read_range
  * §4  data streams: StreamEncryptor / StreamDecryptor, encrypt_stream / decrypt_stream
  * §5  manifests: seal_manifest / parse_manifest / open_manifest
  * §6  envelopes: wrap_dek / parse_envelope / unwrap_dek (with the envelope context)
  * §13 object metadata: encode_attributes / decode_attributes, seal_attributes /
        open_attributes, derive_etag, multipart_etag; SSE-C manifest keys (manifest_mac_key=)
  * §14 sealed boxes: seal_box / open_box
  * §7  file containers: encrypt_file / decrypt_file / inspect_file
  * §8  random access: read_object_range
  * §9  size formulas: chunk_count, stream_size, stream_plaintext_size, manifest_size, ...

CLI (interop contract shared with the C++ `format_interop` tool):
  write, read, encrypt-file, decrypt-file, inspect   (see `--help`).

Requires Debian's /usr/bin/python3 with python3-cryptography and python3-argon2.
"""

import argparse
import hashlib
import hmac
import io
import json
import os
import secrets
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand


class FormatError(Exception):
    """Any rejection by a reader, or invalid input to a writer."""


# ---------------------------------------------------------------------------------------------
# Constants

CHUNK_SIZE = 16384                     # §3 plaintext bytes per full chunk
TAG_SIZE = 16                          # AES-GCM tag
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE  # 16400
SALT_SIZE = 24
COMMITMENT_SIZE = 32
COBBLE_HEADER_SIZE = SALT_SIZE + COMMITMENT_SIZE  # 56
MIN_COBBLE_SIZE = COBBLE_HEADER_SIZE + TAG_SIZE   # 72
MAX_CHUNKS = 1 << 38                   # §8 rule 10, §10
COBBLE_INFO = b"c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM" + b"\x00"
KEY_SIZE = 32

STREAM_MAGIC = b"SRDS"
STREAM_PREFIX_SIZE = 8
STREAM_OVERHEAD = STREAM_PREFIX_SIZE + COBBLE_HEADER_SIZE  # 64
VERSION = 0x01
SUITE_COBBLESTONE = 0x01
KIND_WHOLE = 0x01
KIND_PART = 0x02
KIND_SEALED_ATTRS = 0x03  # reserved, never accepted by this reader
MAX_PART_NUMBER = 10000
MAX_ENTRIES = 10000

MANIFEST_MAGIC = b"SRMF"
MANIFEST_ENTRY_SIZE = 4 + 8 + SALT_SIZE + COMMITMENT_SIZE  # 68
MANIFEST_MAC_INFO = b"strongroom/v1/manifest-mac" + b"\x00"
MAC_SIZE = 32

ENVELOPE_MAGIC = b"SRWK"
SCHEME_EXTERNAL = 0x01
SCHEME_LOCAL_KEK = 0x02
SCHEME_CUSTOMER_KEY = 0x03
WRAP_SALT_SIZE = 32
WRAPPED_DEK_SIZE = 48
DEK_BINDING_LABEL = b"strongroom/v1/dek-binding" + b"\x00"
DEK_WRAP_INFO = b"strongroom/v1/dek-wrap" + b"\x00"

SEALED_BOX_VERSION = 0x01
SEALED_BOX_SALT_SIZE = 32
SEALED_BOX_OVERHEAD = 1 + SEALED_BOX_SALT_SIZE + TAG_SIZE  # 49
SEALED_BOX_INFO = b"strongroom/v1/sealed-box" + b"\x00"
OBJECT_ATTRIBUTES_PURPOSE = b"strongroom/v1/object-attributes"
PART_ATTRIBUTES_PURPOSE = b"strongroom/v1/part-attributes"
ATTRIBUTES_VERSION = 0x01
MD5_ATTRIBUTE = b":md5"
ETAG_ATTRIBUTE = b":etag"  # revision 3: a re-encrypted object's sealed ETag (§13.2)
ETAG_INFO = b"strongroom/v1/etag" + b"\x00"
ETAG_SIZE = 16

FILE_MAGIC = b"SRFL"
FILE_TRAILER_MAGIC = b"SRFE"
KEY_SOURCE_PASSPHRASE = 0x01
KEY_SOURCE_KEY_FILE = 0x02
FILE_KDF_PARAMS_SIZE = 28
FILE_MAX_ENVELOPE = 4096
FILE_MANIFEST_SIZE = 142
FILE_TRAILER_SIZE = FILE_MANIFEST_SIZE + 4 + 4  # 150
OBJECT_ID_SIZE = 16
ARGON2_DEFAULT = (3, 65536, 4)
ARGON2_SALT_SIZE = 16

IO_PIECE = 1 << 20


# ---------------------------------------------------------------------------------------------
# Small helpers

def _be16(n: int) -> bytes:
    return struct.pack(">H", n)


def _be32(n: int) -> bytes:
    return struct.pack(">I", n)


def _be64(n: int) -> bytes:
    return struct.pack(">Q", n)


def _ct_eq(a: bytes, b: bytes) -> bool:
    """Constant-time comparison (§3, §8 rule 3)."""
    return hmac.compare_digest(bytes(a), bytes(b))


def hkdf_expand_sha512(prk: bytes, info: bytes, length: int) -> bytes:
    return HKDFExpand(algorithm=hashes.SHA512(), length=length, info=info).derive(bytes(prk))


def hkdf_sha512(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=length, salt=salt, info=info).derive(bytes(ikm))


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def _random(n: int) -> bytes:
    return secrets.token_bytes(n)


class _Reader:
    """Bounds-checked cursor over a byte string; a short read is a FormatError."""

    def __init__(self, data: bytes, what: str):
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def take(self, n: int, field_name: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"{self.what} truncated in {field_name}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self, f: str) -> int:
        return self.take(1, f)[0]

    def u16(self, f: str) -> int:
        return struct.unpack(">H", self.take(2, f))[0]

    def u32(self, f: str) -> int:
        return struct.unpack(">I", self.take(4, f))[0]

    def u64(self, f: str) -> int:
        return struct.unpack(">Q", self.take(8, f))[0]

    def remaining(self) -> int:
        return len(self.data) - self.pos


# ---------------------------------------------------------------------------------------------
# §9 Size formulas

def chunk_count(p: int) -> int:
    """chunks(P) = floor(P / 16384) + 1"""
    if p < 0:
        raise ValueError("negative plaintext length")
    return p // CHUNK_SIZE + 1


def cobblestone_size(p: int) -> int:
    """Length of a Cobblestone-256 message holding P plaintext bytes (56 + P + 16*chunks)."""
    return COBBLE_HEADER_SIZE + p + TAG_SIZE * chunk_count(p)


def stream_size(p: int) -> int:
    """C(P) = 64 + P + 16*chunks(P)"""
    return STREAM_PREFIX_SIZE + cobblestone_size(p)


def cobblestone_plaintext_size(length: int) -> int:
    """Inverse of cobblestone_size; FormatError if the length is not well-formed (§3)."""
    if length < MIN_COBBLE_SIZE:
        raise FormatError(f"message of {length} bytes is shorter than {MIN_COBBLE_SIZE}")
    body = length - COBBLE_HEADER_SIZE
    r = body % ENC_CHUNK_SIZE
    if r < TAG_SIZE:
        if r == 0:
            raise FormatError("message ends at a chunk boundary: final chunk missing")
        raise FormatError("message ends inside a chunk tag: truncated final chunk")
    return (body // ENC_CHUNK_SIZE) * CHUNK_SIZE + r - TAG_SIZE


def stream_plaintext_size(length: int) -> int:
    """P for a data stream of L bytes (§9 inverse); FormatError if L is not valid."""
    if length < STREAM_OVERHEAD + TAG_SIZE:
        raise FormatError(f"data stream of {length} bytes is shorter than {STREAM_OVERHEAD + TAG_SIZE}")
    return cobblestone_plaintext_size(length - STREAM_PREFIX_SIZE)


def manifest_size(n_entries: int, binding_len: int) -> int:
    return 38 + MANIFEST_ENTRY_SIZE * n_entries + binding_len + MAC_SIZE


def envelope_size(provider_len: int, key_id_len: int, wrapped_len: int = WRAPPED_DEK_SIZE) -> int:
    return 8 + 1 + provider_len + 2 + key_id_len + WRAP_SALT_SIZE + 2 + wrapped_len


def file_size(p: int, envelope_len: int, passphrase: bool) -> int:
    return 8 + (FILE_KDF_PARAMS_SIZE if passphrase else 0) + OBJECT_ID_SIZE + 4 + envelope_len \
        + stream_size(p) + FILE_TRAILER_SIZE


# ---------------------------------------------------------------------------------------------
# §3 Cobblestone-256

def cobblestone_derive(key: bytes, salt: bytes, context: bytes) -> Tuple[bytes, bytes, bytes]:
    """Return (aead_key, base_nonce, commitment)."""
    if len(key) != KEY_SIZE:
        raise FormatError(f"input key must be {KEY_SIZE} bytes, got {len(key)}")
    if len(salt) != SALT_SIZE:
        raise FormatError("salt must be 24 bytes")
    okm = hkdf_expand_sha512(key, COBBLE_INFO + bytes(salt) + bytes(context), 76)
    return okm[0:32], okm[32:44], okm[44:76]


def chunk_nonce(base_nonce: bytes, index: int) -> bytes:
    if index < 0 or index >= MAX_CHUNKS:
        raise FormatError(f"chunk index {index} out of range (limit 2^38)")
    return (int.from_bytes(base_nonce, "big") ^ index).to_bytes(12, "big")


class CobblestoneEncryptor:
    """Streaming encryptor. header() first, then update()* and finish() exactly once."""

    def __init__(self, key: bytes, context: bytes, salt: Optional[bytes] = None):
        self.salt = bytes(salt) if salt is not None else _random(SALT_SIZE)
        aead_key, self._base_nonce, self.commitment = cobblestone_derive(key, self.salt, context)
        self._aead = AESGCM(aead_key)
        self._buf = bytearray()
        self._index = 0
        self._done = False
        self.plaintext_length = 0

    def header(self) -> bytes:
        return self.salt + self.commitment

    def _seal(self, pt: bytes) -> bytes:
        ct = self._aead.encrypt(chunk_nonce(self._base_nonce, self._index), bytes(pt), None)
        self._index += 1
        return ct

    def update(self, data: bytes) -> bytes:
        if self._done:
            raise FormatError("encryptor already finished")
        self._buf += data
        self.plaintext_length += len(data)
        out = bytearray()
        # The final chunk is always shorter than 16384 bytes, so every complete 16384-byte block
        # is a full (non-final) chunk and can be sealed now; finish() seals the (possibly empty)
        # final chunk.
        n_full = len(self._buf) // CHUNK_SIZE
        mv = memoryview(self._buf)
        for i in range(n_full):
            out += self._seal(mv[i * CHUNK_SIZE:(i + 1) * CHUNK_SIZE])
        mv.release()
        del self._buf[:n_full * CHUNK_SIZE]
        return bytes(out)

    def finish(self) -> bytes:
        if self._done:
            raise FormatError("encryptor already finished")
        self._done = True
        assert len(self._buf) < CHUNK_SIZE
        return self._seal(bytes(self._buf))


class CobblestoneDecryptor:
    """Streaming decryptor with sticky errors (§8).

    update(data) returns plaintext of chunks that verified; finish() verifies and returns the
    final chunk. Any FormatError makes every later call fail. The commitment is checked in
    constant time as soon as the 56-byte header is complete, before any chunk is decrypted.
    """

    def __init__(self, key: bytes, context: bytes,
                 expected_salt: Optional[bytes] = None,
                 expected_commitment: Optional[bytes] = None):
        if len(key) != KEY_SIZE:
            raise FormatError(f"input key must be {KEY_SIZE} bytes, got {len(key)}")
        self._key = bytes(key)
        self._context = bytes(context)
        self._expected_salt = expected_salt
        self._expected_commitment = expected_commitment
        self._buf = bytearray()
        self._state = "header"  # header | chunks | done | failed
        self._error: Optional[str] = None
        self._index = 0
        self._aead = None
        self._base_nonce = b""
        self.salt = b""
        self.commitment = b""
        self.plaintext_length = 0

    def _fail(self, msg: str):
        self._state = "failed"
        self._error = msg
        self._buf = bytearray()
        raise FormatError(msg)

    def _check_usable(self):
        if self._state == "failed":
            raise FormatError(f"reader already failed: {self._error}")
        if self._state == "done":
            self._fail("data after the final chunk")

    def _process_header(self):
        salt = bytes(self._buf[:SALT_SIZE])
        stored = bytes(self._buf[SALT_SIZE:COBBLE_HEADER_SIZE])
        if self._expected_salt is not None and not _ct_eq(salt, self._expected_salt):
            self._fail("stream salt differs from the manifest entry")
        if self._expected_commitment is not None and not _ct_eq(stored, self._expected_commitment):
            self._fail("stream commitment differs from the manifest entry")
        aead_key, base_nonce, derived = cobblestone_derive(self._key, salt, self._context)
        if not _ct_eq(derived, stored):
            self._fail("commitment mismatch (wrong key, wrong context, or modified header)")
        self.salt, self.commitment = salt, stored
        self._aead = AESGCM(aead_key)
        self._base_nonce = base_nonce
        del self._buf[:COBBLE_HEADER_SIZE]
        self._state = "chunks"

    def _open(self, ct) -> bytes:
        if self._index >= MAX_CHUNKS:
            self._fail("chunk index 2^38 or more")
        try:
            pt = self._aead.decrypt(chunk_nonce(self._base_nonce, self._index), bytes(ct), None)
        except InvalidTag:
            self._fail(f"chunk {self._index} failed authentication")
        self._index += 1
        self.plaintext_length += len(pt)
        return pt

    def update(self, data: bytes) -> bytes:
        self._check_usable()
        self._buf += data
        if self._state == "header":
            if len(self._buf) < COBBLE_HEADER_SIZE:
                return b""
            self._process_header()
        out = bytearray()
        # Hold back the last (up to) 16400 bytes: only a chunk with more bytes after it is known
        # to be a full, non-final chunk.
        n = (len(self._buf) - 1) // ENC_CHUNK_SIZE if self._buf else 0
        if n:
            mv = memoryview(self._buf)
            try:
                for i in range(n):
                    out += self._open(mv[i * ENC_CHUNK_SIZE:(i + 1) * ENC_CHUNK_SIZE])
            finally:
                mv.release()
            if self._state != "failed":
                del self._buf[:n * ENC_CHUNK_SIZE]
        return bytes(out)

    def finish(self) -> bytes:
        self._check_usable()
        if self._state == "header":
            self._fail(f"message truncated in the header ({len(self._buf)} of 56 bytes)")
        rest = len(self._buf)
        if rest == 0 or rest == ENC_CHUNK_SIZE:
            self._fail("final chunk missing (message ends at a chunk boundary)")
        if rest < TAG_SIZE:
            self._fail("final chunk truncated (shorter than a tag)")
        pt = self._open(self._buf)
        self._buf = bytearray()
        self._state = "done"
        return pt

    @property
    def done(self) -> bool:
        return self._state == "done"


def cobblestone_encrypt(key: bytes, context: bytes, plaintext: bytes, salt: Optional[bytes] = None) -> bytes:
    enc = CobblestoneEncryptor(key, context, salt)
    return enc.header() + enc.update(plaintext) + enc.finish()


def cobblestone_decrypt(key: bytes, context: bytes, message: bytes) -> bytes:
    """One-shot decryption; checks the §3 well-formedness rule on the length first."""
    if len(key) != KEY_SIZE:
        raise FormatError(f"input key must be {KEY_SIZE} bytes, got {len(key)}")
    cobblestone_plaintext_size(len(message))
    dec = CobblestoneDecryptor(key, context)
    return dec.update(message) + dec.finish()


def _read_chunks(aead: AESGCM, base_nonce: bytes, read_at: Callable[[int, int], bytes],
                 chunk0_offset: int, p: int, a: int, b: int, verify_final_chunk: bool = False) -> bytes:
    """Random access (§8 step 3) over one Cobblestone body of P plaintext bytes.

    With verify_final_chunk the final chunk is also decrypted even if the range does not touch
    it; that authenticates P when P was inferred from the ciphertext length instead of coming
    from a verified manifest."""
    if not (0 <= a <= b <= p):
        raise FormatError(f"range [{a}, {b}) outside a stream of {p} bytes")
    last = p // CHUNK_SIZE
    if last >= MAX_CHUNKS:
        raise FormatError("chunk index 2^38 or more")
    chunks = list(range(a // CHUNK_SIZE, (b - 1) // CHUNK_SIZE + 1)) if a < b else []
    if verify_final_chunk and last not in chunks:
        chunks.append(last)
    out = bytearray()
    for c in chunks:
        length = ENC_CHUNK_SIZE if c < last else (p % CHUNK_SIZE) + TAG_SIZE
        ct = read_at(chunk0_offset + c * ENC_CHUNK_SIZE, length)
        if len(ct) != length:
            raise FormatError(f"chunk {c} truncated")
        try:
            pt = aead.decrypt(chunk_nonce(base_nonce, c), bytes(ct), None)
        except InvalidTag:
            raise FormatError(f"chunk {c} failed authentication")
        lo = max(a - c * CHUNK_SIZE, 0)
        hi = min(b - c * CHUNK_SIZE, len(pt))
        out += pt[lo:hi]
    return bytes(out)


def cobblestone_read_range(key: bytes, context: bytes, read_at: Callable[[int, int], bytes],
                           p: int, salt: bytes, commitment: bytes, a: int, b: int,
                           message_offset: int = 0, verify_final_chunk: bool = False) -> bytes:
    """Random access into a Cobblestone message of P plaintext bytes whose salt and commitment
    are known (from a manifest); the header itself is not read."""
    aead_key, base_nonce, derived = cobblestone_derive(key, salt, context)
    if not _ct_eq(derived, commitment):
        raise FormatError("commitment mismatch (wrong key, wrong context, or modified salt/commitment)")
    return _read_chunks(AESGCM(aead_key), base_nonce, read_at,
                        message_offset + COBBLE_HEADER_SIZE, p, a, b, verify_final_chunk)


# ---------------------------------------------------------------------------------------------
# §4 Data streams

def kind_for_part(part_number: int) -> int:
    if part_number == 0:
        return KIND_WHOLE
    if 1 <= part_number <= MAX_PART_NUMBER:
        return KIND_PART
    raise FormatError(f"part number {part_number} out of range (0, or 1..10000)")


def stream_prefix(kind: int) -> bytes:
    return STREAM_MAGIC + bytes([VERSION, SUITE_COBBLESTONE, kind, 0x00])


def stream_context(object_id: bytes, part_number: int) -> bytes:
    if len(object_id) != OBJECT_ID_SIZE:
        raise FormatError("object id must be 16 bytes")
    return stream_prefix(kind_for_part(part_number)) + bytes(object_id) + _be32(part_number)


def check_stream_prefix(prefix: bytes, part_number: int) -> None:
    """§8 rule 1 for the 8-byte stream prefix, against the expected part number."""
    if len(prefix) < STREAM_PREFIX_SIZE:
        raise FormatError("data stream shorter than its 8-byte prefix")
    if prefix[0:4] != STREAM_MAGIC:
        raise FormatError("bad data stream magic")
    if prefix[4] != VERSION:
        raise FormatError(f"unknown data stream version 0x{prefix[4]:02x}")
    if prefix[5] != SUITE_COBBLESTONE:
        raise FormatError(f"unknown suite 0x{prefix[5]:02x}")
    if prefix[6] not in (KIND_WHOLE, KIND_PART):
        raise FormatError(f"unknown or unsupported stream kind 0x{prefix[6]:02x}")
    if prefix[7] != 0:
        raise FormatError("non-zero reserved byte in data stream prefix")
    if prefix[6] != kind_for_part(part_number):
        raise FormatError(f"stream kind 0x{prefix[6]:02x} does not match part number {part_number}")


class StreamEncryptor:
    def __init__(self, dek: bytes, object_id: bytes, part_number: int, salt: Optional[bytes] = None):
        self._prefix = stream_prefix(kind_for_part(part_number))
        self._inner = CobblestoneEncryptor(dek, stream_context(object_id, part_number), salt)
        self.salt = self._inner.salt
        self.commitment = self._inner.commitment

    def header(self) -> bytes:
        return self._prefix + self._inner.header()

    def update(self, data: bytes) -> bytes:
        return self._inner.update(data)

    def finish(self) -> bytes:
        return self._inner.finish()

    @property
    def plaintext_length(self) -> int:
        return self._inner.plaintext_length


class StreamDecryptor:
    """Streaming data-stream reader (§4, §8 rules 1-6, 10) with sticky errors.

    If `entry` (a ManifestEntry) is given, the stored salt and commitment must equal the entry's
    and the plaintext length must equal the entry's length (§8 rule 6)."""

    def __init__(self, dek: bytes, object_id: bytes, part_number: int, entry: "Optional[ManifestEntry]" = None):
        self._part = part_number
        self._entry = entry
        self._inner = CobblestoneDecryptor(
            dek, stream_context(object_id, part_number),
            expected_salt=entry.salt if entry else None,
            expected_commitment=entry.commitment if entry else None)
        self._prefix = bytearray()
        self._failed: Optional[str] = None
        self.plaintext_length = 0

    def _guard(self, fn, *args) -> bytes:
        if self._failed is not None:
            raise FormatError(f"reader already failed: {self._failed}")
        try:
            return fn(*args)
        except FormatError as e:
            self._failed = str(e)
            raise

    def _update(self, data: bytes) -> bytes:
        if len(self._prefix) < STREAM_PREFIX_SIZE:
            need = STREAM_PREFIX_SIZE - len(self._prefix)
            self._prefix += data[:need]
            data = data[need:]
            if len(self._prefix) < STREAM_PREFIX_SIZE:
                return b""
            check_stream_prefix(bytes(self._prefix), self._part)
        out = self._inner.update(data)
        self._count(out)
        return out

    def _finish(self) -> bytes:
        if len(self._prefix) < STREAM_PREFIX_SIZE:
            raise FormatError("data stream truncated in its prefix")
        out = self._inner.finish()
        self._count(out)
        if self._entry is not None and self.plaintext_length != self._entry.plaintext_length:
            raise FormatError("stream plaintext length differs from the manifest entry")
        return out

    def _count(self, out: bytes):
        self.plaintext_length += len(out)
        if self._entry is not None and self.plaintext_length > self._entry.plaintext_length:
            raise FormatError("stream longer than its manifest entry")

    def update(self, data: bytes) -> bytes:
        return self._guard(self._update, bytes(data))

    def finish(self) -> bytes:
        return self._guard(self._finish)

    @property
    def salt(self) -> bytes:
        return self._inner.salt

    @property
    def commitment(self) -> bytes:
        return self._inner.commitment


def encrypt_stream(dek: bytes, object_id: bytes, part_number: int, plaintext: bytes,
                   salt: Optional[bytes] = None) -> Tuple[bytes, "ManifestEntry"]:
    enc = StreamEncryptor(dek, object_id, part_number, salt)
    data = enc.header() + enc.update(plaintext) + enc.finish()
    return data, ManifestEntry(part_number, len(plaintext), enc.salt, enc.commitment)


def decrypt_stream(dek: bytes, object_id: bytes, part_number: int, data: bytes,
                   entry: "Optional[ManifestEntry]" = None) -> bytes:
    """One-shot: checks the §9 length rule, then the streaming rules."""
    stream_plaintext_size(len(data))
    dec = StreamDecryptor(dek, object_id, part_number, entry)
    return dec.update(data) + dec.finish()


# ---------------------------------------------------------------------------------------------
# §5 Manifests

@dataclass
class ManifestEntry:
    part_number: int
    plaintext_length: int
    salt: bytes
    commitment: bytes

    def encode(self) -> bytes:
        if len(self.salt) != SALT_SIZE or len(self.commitment) != COMMITMENT_SIZE:
            raise FormatError("bad salt or commitment size in manifest entry")
        return _be32(self.part_number) + _be64(self.plaintext_length) + self.salt + self.commitment


@dataclass
class Manifest:
    object_id: bytes
    total: int
    entries: List[ManifestEntry]
    binding: bytes
    bucket: Optional[bytes]
    object_key: Optional[bytes]
    tag: bytes
    flags: int = 0
    raw: bytes = b""

    def stream_offsets(self) -> List[int]:
        offs, base = [], 0
        for e in self.entries:
            offs.append(base)
            base += stream_size(e.plaintext_length)
        return offs

    def blob_size(self) -> int:
        return sum(stream_size(e.plaintext_length) for e in self.entries)


def _as_bytes(s) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def encode_binding(bucket, object_key) -> bytes:
    b, k = _as_bytes(bucket), _as_bytes(object_key)
    if len(b) > 0xFFFF or len(k) > 0xFFFF:
        raise FormatError("bucket or object key longer than 65535 bytes")
    return _be16(len(b)) + b + _be16(len(k)) + k


def decode_binding(binding: bytes) -> Tuple[bytes, bytes]:
    r = _Reader(binding, "binding")
    b = r.take(r.u16("bucket length"), "bucket")
    k = r.take(r.u16("object key length"), "object key")
    if r.remaining():
        raise FormatError("binding has trailing bytes")
    return b, k


def manifest_key(dek: bytes, object_id: bytes) -> bytes:
    if len(dek) != KEY_SIZE:
        raise FormatError("DEK must be 32 bytes")
    return hkdf_expand_sha512(dek, MANIFEST_MAC_INFO + bytes(object_id), 32)


def check_entries(entries: Sequence[ManifestEntry]) -> None:
    """§5 entry rules."""
    n = len(entries)
    if not 1 <= n <= MAX_ENTRIES:
        raise FormatError(f"manifest has {n} entries (must be 1..10000)")
    if n == 1 and entries[0].part_number == 0:
        return
    prev = 0
    for e in entries:
        if not 1 <= e.part_number <= MAX_PART_NUMBER:
            raise FormatError(f"manifest part number {e.part_number} invalid")
        if e.part_number <= prev:
            raise FormatError("manifest part numbers do not strictly increase")
        prev = e.part_number


def seal_manifest(dek: bytes, object_id: bytes, entries: Sequence[ManifestEntry],
                  bucket, object_key) -> bytes:
    if len(object_id) != OBJECT_ID_SIZE:
        raise FormatError("object id must be 16 bytes")
    check_entries(entries)
    total = sum(e.plaintext_length for e in entries)
    if total >= 1 << 64:
        raise FormatError("total plaintext length overflows 64 bits")
    binding = encode_binding(bucket, object_key)
    body = (MANIFEST_MAGIC + bytes([VERSION, SUITE_COBBLESTONE]) + _be16(0) + bytes(object_id)
            + _be64(total) + _be32(len(entries)) + b"".join(e.encode() for e in entries)
            + _be16(len(binding)) + binding)
    return body + hmac_sha256(manifest_key(dek, object_id), body)


def parse_manifest(data: bytes) -> Manifest:
    """Structural parse (magic, version, suite, flags, lengths, no trailing bytes). Does NOT
    check the tag, the entry rules, the total or the binding: use open_manifest for that."""
    r = _Reader(data, "manifest")
    if r.take(4, "magic") != MANIFEST_MAGIC:
        raise FormatError("bad manifest magic")
    v = r.u8("version")
    if v != VERSION:
        raise FormatError(f"unknown manifest version 0x{v:02x}")
    s = r.u8("suite")
    if s != SUITE_COBBLESTONE:
        raise FormatError(f"unknown manifest suite 0x{s:02x}")
    flags = r.u16("flags")
    if flags != 0:
        raise FormatError(f"unknown manifest flags 0x{flags:04x}")
    object_id = r.take(OBJECT_ID_SIZE, "object id")
    total = r.u64("total")
    n = r.u32("entry count")
    if not 1 <= n <= MAX_ENTRIES:
        raise FormatError(f"manifest entry count {n} out of range 1..10000")
    entries = []
    for _ in range(n):
        part = r.u32("entry")
        length = r.u64("entry")
        salt = r.take(SALT_SIZE, "entry")
        commitment = r.take(COMMITMENT_SIZE, "entry")
        entries.append(ManifestEntry(part, length, salt, commitment))
    blen = r.u16("binding length")
    binding = r.take(blen, "binding")
    tag = r.take(MAC_SIZE, "tag")
    if r.remaining():
        raise FormatError("bytes after the manifest tag")
    try:
        bucket, key = decode_binding(binding)
    except FormatError:
        bucket = key = None
    return Manifest(object_id, total, entries, binding, bucket, key, tag, flags, bytes(data))


def open_manifest(dek: bytes, data: bytes, expected_object_id: bytes,
                  bucket, object_key) -> Manifest:
    """Parse and verify a manifest (§8 rule 7 and rule 1)."""
    m = parse_manifest(data)
    mac = hmac_sha256(manifest_key(dek, expected_object_id), bytes(data[:-MAC_SIZE]))
    if not _ct_eq(mac, m.tag):
        raise FormatError("manifest tag mismatch")
    if not _ct_eq(m.object_id, expected_object_id):
        raise FormatError("manifest object id differs from the expected one")
    check_entries(m.entries)
    if sum(e.plaintext_length for e in m.entries) != m.total:
        raise FormatError("manifest total differs from the sum of entry lengths")
    if m.bucket is None:
        raise FormatError("malformed manifest binding")
    if not _ct_eq(m.binding, encode_binding(bucket, object_key)):
        raise FormatError("manifest binding differs from the expected bucket/object key")
    return m


# ---------------------------------------------------------------------------------------------
# §6 Envelopes

@dataclass
class Envelope:
    scheme: int
    provider_id: bytes
    key_id: bytes
    wrap_salt: bytes
    wrapped: bytes
    header: bytes
    raw: bytes = b""


def _check_provider_id(pid: bytes):
    if len(pid) > 255:
        raise FormatError("provider id longer than 255 bytes")
    if any(c < 0x21 or c > 0x7E for c in pid):  # FORMAT.md §6: 0x21..0x7E, no spaces
        raise FormatError("provider id is not printable ASCII")


def envelope_header(scheme: int, provider_id, key_id) -> bytes:
    pid, kid = _as_bytes(provider_id), _as_bytes(key_id)
    _check_provider_id(pid)
    if len(kid) > 0xFFFF:
        raise FormatError("key id longer than 65535 bytes")
    return ENVELOPE_MAGIC + bytes([VERSION, scheme]) + _be16(0) + bytes([len(pid)]) + pid \
        + _be16(len(kid)) + kid


def parse_envelope(data: bytes) -> Envelope:
    """Structural parse with §8 rules 1 and 9 (W, trailing bytes). Does not unwrap."""
    r = _Reader(data, "envelope")
    if r.take(4, "magic") != ENVELOPE_MAGIC:
        raise FormatError("bad envelope magic")
    v = r.u8("version")
    if v != VERSION:
        raise FormatError(f"unknown envelope version 0x{v:02x}")
    scheme = r.u8("scheme")
    if scheme not in (SCHEME_EXTERNAL, SCHEME_LOCAL_KEK, SCHEME_CUSTOMER_KEY):
        raise FormatError(f"unknown envelope scheme 0x{scheme:02x}")
    if r.u16("reserved") != 0:
        raise FormatError("non-zero reserved bytes in envelope")
    pid = r.take(r.u8("provider id length"), "provider id")
    _check_provider_id(pid)
    kid = r.take(r.u16("key id length"), "key id")
    header_end = r.pos
    wrap_salt = r.take(WRAP_SALT_SIZE, "wrap salt")
    wrapped = r.take(r.u16("wrapped length"), "wrapped DEK")
    if r.remaining():
        raise FormatError("trailing bytes after the envelope")
    if scheme in (SCHEME_LOCAL_KEK, SCHEME_CUSTOMER_KEY) and len(wrapped) != WRAPPED_DEK_SIZE:
        raise FormatError(f"wrapped DEK is {len(wrapped)} bytes, must be 48")
    # FORMAT.md §6: the wrap salt of scheme 0x01 is written as zeros and ignored by readers.
    data = bytes(data)
    return Envelope(scheme, pid, kid, wrap_salt, wrapped, data[:header_end], data)


def dek_wrap_aad(header: bytes, object_id: bytes, bucket, object_key, context=b"") -> bytes:
    """§6: the context (SSE-KMS encryption context; empty elsewhere) is always length-prefixed."""
    ctx = _as_bytes(context)
    if len(ctx) > 0xFFFFFFFF:
        raise FormatError("envelope context of 4 GiB or more")
    return (DEK_BINDING_LABEL + bytes(header) + bytes(object_id) + encode_binding(bucket, object_key)
            + _be32(len(ctx)) + ctx)


def _wrap_key(kek: bytes, wrap_salt: bytes, scheme: int) -> bytes:
    if len(kek) != KEY_SIZE:
        raise FormatError(f"KEK must be {KEY_SIZE} bytes, got {len(kek)}")
    return hkdf_sha512(kek, wrap_salt, DEK_WRAP_INFO + bytes([scheme]), 32)


def wrap_dek(kek: bytes, dek: bytes, object_id: bytes, bucket, object_key,
             scheme: int = SCHEME_LOCAL_KEK, provider_id="local", key_id=b"test-key/1",
             wrap_salt: Optional[bytes] = None, context=b"") -> bytes:
    if scheme not in (SCHEME_LOCAL_KEK, SCHEME_CUSTOMER_KEY):
        raise FormatError(f"cannot wrap with scheme 0x{scheme:02x}")
    if len(dek) != KEY_SIZE:
        raise FormatError("DEK must be 32 bytes")
    if len(object_id) != OBJECT_ID_SIZE:
        raise FormatError("object id must be 16 bytes")
    header = envelope_header(scheme, provider_id, key_id)
    wrap_salt = bytes(wrap_salt) if wrap_salt is not None else _random(WRAP_SALT_SIZE)
    k = _wrap_key(kek, wrap_salt, scheme)
    wrapped = AESGCM(k).encrypt(b"\x00" * 12, bytes(dek),
                                dek_wrap_aad(header, object_id, bucket, object_key, context))
    return header + wrap_salt + _be16(len(wrapped)) + wrapped


def unwrap_dek(kek: bytes, envelope, object_id: bytes, bucket, object_key, context=b"") -> bytes:
    env = envelope if isinstance(envelope, Envelope) else parse_envelope(envelope)
    if env.scheme == SCHEME_EXTERNAL:
        raise FormatError("envelope scheme 0x01 (external key service) is not supported here")
    k = _wrap_key(kek, env.wrap_salt, env.scheme)
    try:
        dek = AESGCM(k).decrypt(b"\x00" * 12, env.wrapped,
                                dek_wrap_aad(env.header, object_id, bucket, object_key, context))
    except InvalidTag:
        raise FormatError("envelope failed to unwrap (wrong key, or envelope/binding/context mismatch)")
    return dek


# ---------------------------------------------------------------------------------------------
# §14 Sealed boxes

def _box_key(key: bytes, purpose, salt: bytes) -> bytes:
    if not key:
        raise FormatError("sealed box key is empty")
    return hkdf_sha512(bytes(key), salt, SEALED_BOX_INFO + _as_bytes(purpose), 32)


def seal_box(key: bytes, purpose, plaintext: bytes, aad: bytes, salt: Optional[bytes] = None) -> bytes:
    salt = bytes(salt) if salt is not None else _random(SEALED_BOX_SALT_SIZE)
    if len(salt) != SEALED_BOX_SALT_SIZE:
        raise FormatError("sealed box salt must be 32 bytes")
    sealed = AESGCM(_box_key(key, purpose, salt)).encrypt(b"\x00" * 12, bytes(plaintext), bytes(aad))
    return bytes([SEALED_BOX_VERSION]) + salt + sealed


def open_box(key: bytes, purpose, box: bytes, aad: bytes) -> bytes:
    box = bytes(box)
    if len(box) < SEALED_BOX_OVERHEAD:
        raise FormatError("sealed box shorter than 49 bytes")
    if box[0] != SEALED_BOX_VERSION:
        raise FormatError(f"unknown sealed box version 0x{box[0]:02x}")
    salt = box[1:1 + SEALED_BOX_SALT_SIZE]
    try:
        return AESGCM(_box_key(key, purpose, salt)).decrypt(b"\x00" * 12, box[1 + SEALED_BOX_SALT_SIZE:],
                                                            bytes(aad))
    except InvalidTag:
        raise FormatError("sealed box failed authentication")


# ---------------------------------------------------------------------------------------------
# §13 Object metadata

def encode_attributes(attributes: Sequence[Tuple[object, object]]) -> bytes:
    """§13.1: 0x01 ‖ BE16 count ‖ count × (BE16 len ‖ name ‖ BE32 len ‖ value)."""
    if len(attributes) > 0xFFFF:
        raise FormatError("more than 65535 attributes")
    out = bytearray([ATTRIBUTES_VERSION]) + _be16(len(attributes))
    for name, value in attributes:
        n, v = _as_bytes(name), _as_bytes(value)
        if len(n) > 0xFFFF or len(v) > 0xFFFFFFFF:
            raise FormatError("attribute name or value too long")
        out += _be16(len(n)) + n + _be32(len(v)) + v
    return bytes(out)


def decode_attributes(data: bytes) -> List[Tuple[bytes, bytes]]:
    """§13.1, strictly; internal names other than `:md5` and `:etag` (and a malformed or repeated
    one) are rejected."""
    r = _Reader(data, "attributes")
    if r.u8("version") != ATTRIBUTES_VERSION:
        raise FormatError("unknown attributes version")
    out = []
    seen_md5 = seen_etag = False
    for _ in range(r.u16("count")):
        name = r.take(r.u16("name length"), "name")
        value = r.take(r.u32("value length"), "value")
        if name == ETAG_ATTRIBUTE:
            if seen_etag or not value:
                raise FormatError("malformed :etag attribute")
            seen_etag = True
        elif name.startswith(b":"):
            if name != MD5_ATTRIBUTE:
                raise FormatError(f"unknown internal attribute {name!r}")
            if seen_md5 or len(value) != 32 or value != value.lower() or any(
                    c not in b"0123456789abcdef" for c in value):
                raise FormatError("malformed :md5 attribute")
            seen_md5 = True
        out.append((name, value))
    if r.remaining():
        raise FormatError("trailing bytes after the attributes")
    return out


def attributes_aad(object_id: bytes, bucket, object_key, part_number: int = 0) -> bytes:
    if len(object_id) != OBJECT_ID_SIZE:
        raise FormatError("object id must be 16 bytes")
    if not 0 <= part_number <= MAX_PART_NUMBER:
        raise FormatError(f"part number {part_number} out of range 0..10000")
    aad = bytes(object_id) + encode_binding(bucket, object_key)
    return aad + (_be32(part_number) if part_number else b"")


def _attributes_purpose(part_number: int) -> bytes:
    return PART_ATTRIBUTES_PURPOSE if part_number else OBJECT_ATTRIBUTES_PURPOSE


def seal_attributes(dek: bytes, object_id: bytes, bucket, object_key, part_number: int,
                    encoded: bytes, salt: Optional[bytes] = None) -> bytes:
    if len(dek) != KEY_SIZE:
        raise FormatError("DEK must be 32 bytes")
    return seal_box(dek, _attributes_purpose(part_number), encoded,
                    attributes_aad(object_id, bucket, object_key, part_number), salt)


def open_attributes(dek: bytes, object_id: bytes, bucket, object_key, part_number: int,
                    box: bytes) -> bytes:
    if len(dek) != KEY_SIZE:
        raise FormatError("DEK must be 32 bytes")
    return open_box(dek, _attributes_purpose(part_number), box,
                    attributes_aad(object_id, bucket, object_key, part_number))


def derive_etag(dek: bytes, object_id: bytes, md5: bytes) -> bytes:
    """§13.2: the 16-byte ETag of an SSE-KMS/SSE-C object or part with plaintext MD5 `md5`."""
    if len(dek) != KEY_SIZE or len(object_id) != OBJECT_ID_SIZE or len(md5) != 16:
        raise FormatError("derive_etag needs a 32-byte DEK, a 16-byte object id and a 16-byte MD5")
    k = hkdf_expand_sha512(dek, ETAG_INFO + bytes(object_id), 32)
    return hmac_sha256(k, md5)[:ETAG_SIZE]


def multipart_etag(part_etags: Sequence[bytes]) -> str:
    """§13.2: S3's multipart ETag over the raw 16-byte part ETags."""
    return hashlib.md5(b"".join(part_etags)).hexdigest() + "-" + str(len(part_etags))


# ---------------------------------------------------------------------------------------------
# Objects: streams + manifest + envelope (the S3 layout used by the `write`/`read` CLI)

def parse_parts_spec(spec: str, total: Optional[int] = None) -> List[Tuple[int, int]]:
    spec = spec.strip()
    if spec == "single":
        if total is None:
            raise FormatError("`single` needs the plaintext size")
        return [(0, total)]
    parts = []
    for item in spec.split(","):
        try:
            n_s, size_s = item.split(":")
            n, size = int(n_s, 10), int(size_s, 10)
        except ValueError:
            raise FormatError(f"bad part spec item {item!r} (want N:SIZE)")
        if size < 0:
            raise FormatError(f"negative size in part spec item {item!r}")
        parts.append((n, size))
    if len(parts) == 1 and parts[0][0] == 0:
        pass  # equivalent to `single`
    else:
        check_entries([ManifestEntry(n, s, b"\0" * SALT_SIZE, b"\0" * COMMITMENT_SIZE) for n, s in parts])
    if total is not None and sum(s for _, s in parts) != total:
        raise FormatError(f"part sizes sum to {sum(s for _, s in parts)}, plaintext is {total} bytes")
    return parts


@dataclass
class WrittenObject:
    object_id: bytes
    envelope: bytes
    manifest: bytes
    entries: List[ManifestEntry] = field(default_factory=list)
    dek: bytes = b""


def write_object(kek: bytes, bucket, object_key, parts: Sequence[Tuple[int, int]],
                 read_plaintext: Callable[[int], bytes], write_blob: Callable[[bytes], None],
                 scheme: int = SCHEME_LOCAL_KEK, provider_id="local", key_id=b"test-key/1",
                 dek: Optional[bytes] = None, object_id: Optional[bytes] = None,
                 context=b"", manifest_mac_key: Optional[bytes] = None) -> WrittenObject:
    """Encrypt an object as the given (part_number, size) streams. read_plaintext(n) must return
    exactly n bytes (or fewer at EOF, which is an error); write_blob receives the stream bytes."""
    dek = dek or _random(KEY_SIZE)
    object_id = object_id or _random(OBJECT_ID_SIZE)
    entries = []
    for part, size in parts:
        enc = StreamEncryptor(dek, object_id, part)
        write_blob(enc.header())
        left = size
        while left:
            piece = read_plaintext(min(left, IO_PIECE))
            if not piece:
                raise FormatError("plaintext shorter than the part sizes")
            left -= len(piece)
            write_blob(enc.update(piece))
        write_blob(enc.finish())
        entries.append(ManifestEntry(part, size, enc.salt, enc.commitment))
    envelope = wrap_dek(kek, dek, object_id, bucket, object_key, scheme, provider_id, key_id,
                        context=context)
    # §13.3: an SSE-C multipart upload MACs its manifest under its own manifest key.
    manifest = seal_manifest(manifest_mac_key or dek, object_id, entries, bucket, object_key)
    return WrittenObject(object_id, envelope, manifest, entries, dek)


def open_object(kek: bytes, envelope: bytes, manifest: bytes, object_id: bytes,
                bucket, object_key, blob_size: Optional[int] = None, context=b"",
                manifest_mac_key: Optional[bytes] = None) -> Tuple[bytes, Manifest]:
    """Unwrap the DEK and verify the manifest; returns (dek, manifest)."""
    if len(object_id) != OBJECT_ID_SIZE:
        raise FormatError("object id must be 16 bytes")
    dek = unwrap_dek(kek, parse_envelope(envelope), object_id, bucket, object_key, context)
    m = open_manifest(manifest_mac_key or dek, manifest, object_id, bucket, object_key)
    if blob_size is not None and blob_size != m.blob_size():
        raise FormatError(f"blob is {blob_size} bytes, manifest implies {m.blob_size()}")
    return dek, m


def decrypt_object(dek: bytes, m: Manifest, read_at: Callable[[int, int], bytes],
                   emit: Callable[[bytes], None]) -> None:
    """Decrypt every stream fully with the streaming rules (§8 rules 1-6, 10)."""
    for entry, base in zip(m.entries, m.stream_offsets()):
        length = stream_size(entry.plaintext_length)
        dec = StreamDecryptor(dek, m.object_id, entry.part_number, entry)
        pos = 0
        while pos < length:
            n = min(IO_PIECE, length - pos)
            piece = read_at(base + pos, n)
            if len(piece) != n:
                raise FormatError("blob truncated")
            emit(dec.update(piece))
            pos += n
        emit(dec.finish())


def read_object_range(dek: bytes, m: Manifest, object_id: bytes,
                      read_at: Callable[[int, int], bytes], a: int, b: int) -> bytes:
    """§8 random-access read of plaintext bytes [a, b) from a verified manifest."""
    if not (0 <= a <= b <= m.total):
        raise FormatError(f"range [{a}, {b}) outside an object of {m.total} bytes")
    out = bytearray()
    start = 0
    for entry, base in zip(m.entries, m.stream_offsets()):
        p = entry.plaintext_length
        end = start + p
        if a < end and b > start:
            aead_key, base_nonce, derived = cobblestone_derive(
                dek, entry.salt, stream_context(object_id, entry.part_number))
            if not _ct_eq(derived, entry.commitment):
                raise FormatError(f"part {entry.part_number}: commitment mismatch")
            out += _read_chunks(AESGCM(aead_key), base_nonce, read_at, base + STREAM_OVERHEAD, p,
                                max(a, start) - start, min(b, end) - start)
        start = end
        if start >= b:
            break
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# §7 File containers

def check_argon2_params(t: int, m: int, p: int) -> None:
    if not (1 <= t <= 64 and 8192 <= m <= 4194304 and 1 <= p <= 64 and m >= 8 * p):
        raise FormatError(f"Argon2id parameters t={t} m={m} p={p} outside the accepted bounds")


def argon2_kek(passphrase: bytes, salt: bytes, t: int, m: int, p: int) -> bytes:
    check_argon2_params(t, m, p)
    import argon2.low_level as a2
    return a2.hash_secret_raw(bytes(passphrase), bytes(salt), time_cost=t, memory_cost=m,
                              parallelism=p, hash_len=32, type=a2.Type.ID, version=19)


@dataclass
class FileHeader:
    key_source: int
    argon2: Optional[Tuple[int, int, int]]
    kdf_salt: Optional[bytes]
    object_id: bytes
    envelope: Envelope
    envelope_length: int
    header_length: int  # bytes before the data stream


def _read_exact(f, n: int, what: str) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        piece = f.read(n - len(buf))
        if not piece:
            raise FormatError(f"file truncated in {what}")
        buf += piece
    return bytes(buf)


def read_file_header(f) -> FileHeader:
    """Read and check the §7 header and envelope from a file object positioned at 0."""
    fixed = _read_exact(f, 8, "header")
    if fixed[0:4] != FILE_MAGIC:
        raise FormatError("bad file magic (not a strongroom file)")
    if fixed[4] != VERSION:
        raise FormatError(f"unknown file version 0x{fixed[4]:02x}")
    src = fixed[5]
    if src not in (KEY_SOURCE_PASSPHRASE, KEY_SOURCE_KEY_FILE):
        raise FormatError(f"unknown key source 0x{src:02x}")
    if fixed[6:8] != b"\x00\x00":
        raise FormatError("non-zero reserved bytes in file header")
    argon = salt = None
    n = 8
    if src == KEY_SOURCE_PASSPHRASE:
        kdf = _read_exact(f, FILE_KDF_PARAMS_SIZE, "KDF parameters")
        argon = struct.unpack(">III", kdf[:12])
        salt = kdf[12:]
        check_argon2_params(*argon)
        n += FILE_KDF_PARAMS_SIZE
    object_id = _read_exact(f, OBJECT_ID_SIZE, "object id")
    e_len = struct.unpack(">I", _read_exact(f, 4, "envelope length"))[0]
    if e_len > FILE_MAX_ENVELOPE:
        raise FormatError(f"envelope length {e_len} exceeds 4096")
    env = parse_envelope(_read_exact(f, e_len, "envelope"))
    n += OBJECT_ID_SIZE + 4 + e_len
    if env.scheme != SCHEME_LOCAL_KEK:
        raise FormatError(f"file envelope has scheme 0x{env.scheme:02x}, must be 0x02")
    want_pid = b"passphrase" if src == KEY_SOURCE_PASSPHRASE else b"key-file"
    if env.provider_id != want_pid:
        raise FormatError(f"file envelope provider id {env.provider_id!r} does not match the key source")
    if env.key_id:
        raise FormatError("file envelope key id is not empty")
    return FileHeader(src, argon, salt, object_id, env, e_len, n)


def _file_kek(h: FileHeader, key: Optional[bytes], passphrase: Optional[bytes]) -> bytes:
    if h.key_source == KEY_SOURCE_PASSPHRASE:
        if passphrase is None:
            raise FormatError("this file is protected by a passphrase")
        return argon2_kek(passphrase, h.kdf_salt, *h.argon2)
    if key is None:
        raise FormatError("this file is protected by a key file")
    if len(key) != KEY_SIZE:
        raise FormatError("key file must be exactly 32 bytes")
    return key


def encrypt_file_stream(fin, fout, key: Optional[bytes] = None, passphrase: Optional[bytes] = None,
                        argon2_params: Tuple[int, int, int] = ARGON2_DEFAULT,
                        dek: Optional[bytes] = None, object_id: Optional[bytes] = None,
                        kdf_salt: Optional[bytes] = None) -> None:
    if (key is None) == (passphrase is None):
        raise FormatError("exactly one of key / passphrase is required")
    object_id = object_id or _random(OBJECT_ID_SIZE)
    dek = dek or _random(KEY_SIZE)
    if passphrase is not None:
        check_argon2_params(*argon2_params)
        kdf_salt = kdf_salt or _random(ARGON2_SALT_SIZE)
        kek = argon2_kek(passphrase, kdf_salt, *argon2_params)
        head = FILE_MAGIC + bytes([VERSION, KEY_SOURCE_PASSPHRASE, 0, 0]) \
            + struct.pack(">III", *argon2_params) + kdf_salt
        pid = "passphrase"
    else:
        if len(key) != KEY_SIZE:
            raise FormatError("key file must be exactly 32 bytes")
        kek = key
        head = FILE_MAGIC + bytes([VERSION, KEY_SOURCE_KEY_FILE, 0, 0])
        pid = "key-file"
    env = wrap_dek(kek, dek, object_id, b"", b"", SCHEME_LOCAL_KEK, pid, b"")
    fout.write(head + object_id + _be32(len(env)) + env)
    enc = StreamEncryptor(dek, object_id, 0)
    fout.write(enc.header())
    while True:
        piece = fin.read(IO_PIECE)
        if not piece:
            break
        fout.write(enc.update(piece))
    fout.write(enc.finish())
    entry = ManifestEntry(0, enc.plaintext_length, enc.salt, enc.commitment)
    manifest = seal_manifest(dek, object_id, [entry], b"", b"")
    assert len(manifest) == FILE_MANIFEST_SIZE
    fout.write(manifest + _be32(len(manifest)) + FILE_TRAILER_MAGIC)


def _check_trailer(trailer: bytes) -> bytes:
    if len(trailer) != FILE_TRAILER_SIZE:
        raise FormatError("file truncated in the trailer")
    if trailer[-4:] != FILE_TRAILER_MAGIC:
        raise FormatError("bad trailer magic")
    m_len = struct.unpack(">I", trailer[-8:-4])[0]
    if m_len != FILE_MANIFEST_SIZE:
        raise FormatError(f"trailer manifest length {m_len}, must be 142")
    return trailer[:FILE_MANIFEST_SIZE]


def _file_manifest(dek: bytes, h: FileHeader, manifest_bytes: bytes) -> Manifest:
    m = open_manifest(dek, manifest_bytes, h.object_id, b"", b"")
    if len(m.entries) != 1 or m.entries[0].part_number != 0:
        raise FormatError("file manifest must have exactly one entry, part number 0")
    return m


def decrypt_file_seekable(f, emit: Callable[[bytes], None], key: Optional[bytes] = None,
                          passphrase: Optional[bytes] = None) -> None:
    """Random-access reader: verifies the trailer first, then streams the data stream."""
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    h = read_file_header(f)
    stream_len = size - h.header_length - FILE_TRAILER_SIZE
    if stream_len < STREAM_OVERHEAD + TAG_SIZE:
        raise FormatError("file too short")
    f.seek(size - FILE_TRAILER_SIZE)
    manifest_bytes = _check_trailer(_read_exact(f, FILE_TRAILER_SIZE, "trailer"))
    kek = _file_kek(h, key, passphrase)
    dek = unwrap_dek(kek, h.envelope, h.object_id, b"", b"")
    m = _file_manifest(dek, h, manifest_bytes)
    entry = m.entries[0]
    if stream_len != stream_size(entry.plaintext_length):
        raise FormatError(f"data stream is {stream_len} bytes, manifest implies "
                          f"{stream_size(entry.plaintext_length)}")
    f.seek(h.header_length)
    dec = StreamDecryptor(dek, h.object_id, 0, entry)
    left = stream_len
    while left:
        piece = _read_exact(f, min(IO_PIECE, left), "data stream")
        left -= len(piece)
        emit(dec.update(piece))
    emit(dec.finish())


def decrypt_file_pipe(f, emit: Callable[[bytes], None], key: Optional[bytes] = None,
                      passphrase: Optional[bytes] = None) -> None:
    """Pipe reader (§7): decrypts while holding back the last 150 bytes, then verifies the
    trailer. Output is unverified until this returns without error."""
    h = read_file_header(f)
    kek = _file_kek(h, key, passphrase)
    dek = unwrap_dek(kek, h.envelope, h.object_id, b"", b"")
    dec = StreamDecryptor(dek, h.object_id, 0)
    held = bytearray()
    while True:
        piece = f.read(IO_PIECE)
        if not piece:
            break
        held += piece
        if len(held) > FILE_TRAILER_SIZE:
            cut = len(held) - FILE_TRAILER_SIZE
            emit(dec.update(bytes(held[:cut])))
            del held[:cut]
    manifest_bytes = _check_trailer(bytes(held))
    emit(dec.finish())
    m = _file_manifest(dek, h, manifest_bytes)
    e = m.entries[0]
    if not (_ct_eq(dec.salt, e.salt) and _ct_eq(dec.commitment, e.commitment)):
        raise FormatError("stream salt/commitment differs from the manifest entry")
    if dec.plaintext_length != e.plaintext_length:
        raise FormatError("stream plaintext length differs from the manifest entry")


def inspect_file_header(f) -> dict:
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    h = read_file_header(f)
    out = {
        "type": "file",
        "file_size": size,
        "version": VERSION,
        "key_source": {1: "passphrase", 2: "key-file"}[h.key_source],
        "object_id": h.object_id.hex(),
        "envelope_length": h.envelope_length,
        "envelope": envelope_info(h.envelope),
    }
    if h.argon2:
        out["argon2id"] = {"iterations": h.argon2[0], "memory_kib": h.argon2[1],
                           "parallelism": h.argon2[2], "salt": h.kdf_salt.hex()}
    stream_len = size - h.header_length - FILE_TRAILER_SIZE
    sinfo = {"offset": h.header_length, "length": stream_len}
    f.seek(h.header_length)
    head = f.read(STREAM_OVERHEAD)
    if len(head) == STREAM_OVERHEAD:
        sinfo.update(stream_header_info(head))
    try:
        sinfo["plaintext_length"] = stream_plaintext_size(stream_len)
    except FormatError as e:
        sinfo["length_error"] = str(e)
    out["stream"] = sinfo
    f.seek(max(size - FILE_TRAILER_SIZE, 0))
    trailer = f.read(FILE_TRAILER_SIZE)
    try:
        out["manifest"] = manifest_info(parse_manifest(_check_trailer(trailer)))
        out["manifest"]["verified"] = False
    except FormatError as e:
        out["manifest_error"] = str(e)
    return out


# ---------------------------------------------------------------------------------------------
# Inspection helpers (never print keys)

def envelope_info(env: Envelope) -> dict:
    return {
        "length": len(env.raw),
        "version": VERSION,
        "scheme": env.scheme,
        "scheme_name": {1: "external", 2: "local-kek", 3: "customer-key"}[env.scheme],
        "provider_id": env.provider_id.decode("ascii"),
        "key_id": env.key_id.decode("utf-8", "backslashreplace"),
        "wrap_salt": env.wrap_salt.hex(),
        "wrapped_length": len(env.wrapped),
    }


def manifest_info(m: Manifest) -> dict:
    return {
        "length": len(m.raw),
        "version": VERSION,
        "suite": SUITE_COBBLESTONE,
        "flags": m.flags,
        "object_id": m.object_id.hex(),
        "total_plaintext_length": m.total,
        "entries": [{"part_number": e.part_number, "plaintext_length": e.plaintext_length,
                     "salt": e.salt.hex(), "commitment": e.commitment.hex(),
                     "stream_length": stream_size(e.plaintext_length)} for e in m.entries],
        "binding": {"bucket": m.bucket.decode("utf-8", "backslashreplace") if m.bucket is not None else None,
                    "object_key": m.object_key.decode("utf-8", "backslashreplace") if m.object_key is not None else None,
                    "length": len(m.binding)},
        "tag": m.tag.hex(),
    }


def stream_header_info(head: bytes) -> dict:
    return {"magic": head[0:4].decode("latin-1"), "version": head[4], "suite": head[5],
            "kind": head[6], "reserved": head[7], "salt": head[8:32].hex(),
            "commitment": head[32:64].hex()}


# ---------------------------------------------------------------------------------------------
# CLI

class _CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _CliError(message)


def _write_atomically(out_path: str, producer: Callable[[Callable[[bytes], None], "io.BufferedWriter"], None]):
    """Run producer(emit, fileobj) into a temporary file beside out_path; rename on success,
    remove on failure (so no output is left behind)."""
    d = os.path.dirname(os.path.abspath(out_path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(out_path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w+b") as f:
            producer(f.write, f)
            f.flush()
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _hex(s: str, what: str, n: Optional[int] = None) -> bytes:
    try:
        b = bytes.fromhex(s)
    except (ValueError, TypeError):
        raise FormatError(f"{what} is not valid hex")
    if n is not None and len(b) != n:
        raise FormatError(f"{what} must be {n} bytes, got {len(b)}")
    return b


def _parse_range(s: str) -> Tuple[int, int]:
    try:
        a_s, b_s = s.split("-")
        a, b = int(a_s, 10), int(b_s, 10)
    except ValueError:
        raise FormatError(f"bad range {s!r} (want A-B)")
    if a < 0 or b < a:
        raise FormatError(f"bad range {s!r}")
    return a, b


def cmd_write(args) -> None:
    kek = _hex(args.kek, "--kek", KEY_SIZE)
    if args.scheme not in (2, 3):
        raise FormatError("--scheme must be 2 or 3")
    size = os.path.getsize(args.plaintext)
    parts = parse_parts_spec(args.parts, size)
    mk = _hex(args.manifest_key, "--manifest-key", KEY_SIZE) if args.manifest_key else None
    attributes = _hex(args.attributes, "--attributes") if args.attributes is not None else None
    if attributes is not None:
        decode_attributes(attributes)  # a writer seals only well-formed attributes
    os.makedirs(args.out, exist_ok=True)
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(args.plaintext, "rb") as pf, open(os.path.join(args.out, "blob.bin"), "wb") as bf:
        def rd(n):
            b = pf.read(n)
            sha.update(b)
            md5.update(b)
            return b
        obj = write_object(kek, args.bucket, args.object_key, parts, rd, bf.write,
                           scheme=args.scheme, provider_id=args.provider_id,
                           key_id=args.key_id.encode("utf-8"), context=args.context.encode("utf-8"),
                           manifest_mac_key=mk)
        if pf.read(1):
            raise FormatError("plaintext longer than the part sizes")
    case = {
        "object_id": obj.object_id.hex(),
        "bucket": args.bucket,
        "object_key": args.object_key,
        "envelope": obj.envelope.hex(),
        "manifest": obj.manifest.hex(),
        "kek": kek.hex(),
        "plaintext_size": size,
        "plaintext_sha256": sha.hexdigest(),
        "context": args.context,
        "plaintext_md5": md5.hexdigest(),
        "etag": derive_etag(obj.dek, obj.object_id, md5.digest()).hex(),
    }
    if mk is not None:
        case["manifest_key"] = mk.hex()
    if attributes is not None:
        case["attributes"] = attributes.hex()
        case["attributes_sealed"] = seal_attributes(obj.dek, obj.object_id, args.bucket, args.object_key,
                                                    0, attributes).hex()
    with open(os.path.join(args.out, "case.json"), "w") as f:
        json.dump(case, f, indent=2)
        f.write("\n")


def _load_case(d: str) -> dict:
    try:
        with open(os.path.join(d, "case.json")) as f:
            case = json.load(f)
    except json.JSONDecodeError as e:
        raise FormatError(f"case.json is not valid JSON: {e}")
    for k in ("object_id", "bucket", "object_key", "envelope", "manifest", "kek"):
        if k not in case:
            raise FormatError(f"case.json lacks {k!r}")
    return case


def cmd_read(args) -> None:
    case = _load_case(args.case)
    ranges = [_parse_range(r) for r in (args.range or [])]
    kek = _hex(case["kek"], "kek", KEY_SIZE)
    object_id = _hex(case["object_id"], "object_id", OBJECT_ID_SIZE)
    blob_path = os.path.join(args.case, "blob.bin")
    with open(blob_path, "rb") as bf:
        blob_size = os.fstat(bf.fileno()).st_size

        def read_at(off, n):
            bf.seek(off)
            return bf.read(n)

        mk = _hex(case["manifest_key"], "manifest_key", KEY_SIZE) if "manifest_key" in case else None
        dek, m = open_object(kek, _hex(case["envelope"], "envelope"), _hex(case["manifest"], "manifest"),
                             object_id, case["bucket"], case["object_key"], blob_size,
                             context=case.get("context", "").encode("utf-8"), manifest_mac_key=mk)
        if "attributes_sealed" in case:
            plain = open_attributes(dek, object_id, case["bucket"], case["object_key"], 0,
                                    _hex(case["attributes_sealed"], "attributes_sealed"))
            decode_attributes(plain)
            if "attributes" in case and plain != _hex(case["attributes"], "attributes"):
                raise FormatError("the sealed attributes differ from the case's attributes")
        for a, b in ranges:
            if b > m.total:
                raise FormatError(f"range {a}-{b} beyond the object size {m.total}")

        def produce(emit, f):
            md5 = hashlib.md5()

            def emit_and_hash(b):
                md5.update(b)
                emit(b)
            decrypt_object(dek, m, read_at, emit_and_hash)
            f.flush()
            if "plaintext_md5" in case and md5.hexdigest() != case["plaintext_md5"].lower():
                raise FormatError("the plaintext MD5 differs from the case's")
            if "etag" in case and derive_etag(dek, object_id, md5.digest()).hex() != case["etag"].lower():
                raise FormatError("the derived ETag differs from the case's")
            for a, b in ranges:
                got = read_object_range(dek, m, object_id, read_at, a, b)
                f.seek(a)
                want = f.read(b - a)
                if got != want:
                    raise FormatError(f"range {a}-{b} differs from the full plaintext")
            f.seek(0, io.SEEK_END)
        _write_atomically(args.out, produce)


def _credentials(args) -> Tuple[Optional[bytes], Optional[bytes]]:
    if args.key_file:
        with open(args.key_file, "rb") as f:
            key = f.read()
        if len(key) != KEY_SIZE:
            raise FormatError(f"key file must be exactly 32 bytes, got {len(key)}")
        return key, None
    with open(args.passphrase_file, "rb") as f:
        pw = f.read()
    if pw.endswith(b"\n"):
        pw = pw[:-1]
    return None, pw


def _parse_argon2(s: str) -> Tuple[int, int, int]:
    try:
        t, m, p = (int(x, 10) for x in s.split(","))
    except ValueError:
        raise FormatError(f"bad --argon2 {s!r} (want T,M,P)")
    check_argon2_params(t, m, p)
    return t, m, p


def cmd_encrypt_file(args) -> None:
    key, pw = _credentials(args)
    params = _parse_argon2(args.argon2) if args.argon2 else ARGON2_DEFAULT
    fin = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")
    try:
        _write_atomically(args.output, lambda emit, f: encrypt_file_stream(
            fin, f, key=key, passphrase=pw, argon2_params=params))
    finally:
        if fin is not sys.stdin.buffer:
            fin.close()


def cmd_decrypt_file(args) -> None:
    key, pw = _credentials(args)
    if args.input == "-":
        _write_atomically(args.output, lambda emit, f: decrypt_file_pipe(
            sys.stdin.buffer, emit, key=key, passphrase=pw))
        return
    with open(args.input, "rb") as fin:
        if args.pipe:
            _write_atomically(args.output, lambda emit, f: decrypt_file_pipe(fin, emit, key=key, passphrase=pw))
        else:
            _write_atomically(args.output, lambda emit, f: decrypt_file_seekable(fin, emit, key=key, passphrase=pw))


def cmd_inspect(args) -> None:
    path = args.file
    if os.path.isdir(path):
        case = _load_case(path)
        info = {"type": "case", "object_id": case["object_id"], "bucket": case["bucket"],
                "object_key": case["object_key"],
                "envelope": envelope_info(parse_envelope(_hex(case["envelope"], "envelope"))),
                "manifest": manifest_info(parse_manifest(_hex(case["manifest"], "manifest")))}
        info["manifest"]["verified"] = False
        blob = os.path.join(path, "blob.bin")
        if os.path.exists(blob):
            info["blob_size"] = os.path.getsize(blob)
    else:
        with open(path, "rb") as f:
            magic = f.read(4)
            f.seek(0)
            if magic == FILE_MAGIC:
                info = inspect_file_header(f)
            elif magic == ENVELOPE_MAGIC:
                info = {"type": "envelope", **envelope_info(parse_envelope(f.read()))}
            elif magic == MANIFEST_MAGIC:
                info = {"type": "manifest", **manifest_info(parse_manifest(f.read())), "verified": False}
            elif magic == STREAM_MAGIC:
                data_len = os.fstat(f.fileno()).st_size
                info = {"type": "stream", "length": data_len, **stream_header_info(f.read(STREAM_OVERHEAD))}
                info["plaintext_length"] = stream_plaintext_size(data_len)
            else:
                raise FormatError("unknown magic (not a strongroom structure)")
    json.dump(info, sys.stdout, indent=2)
    sys.stdout.write("\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="strongroom_format.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    w = sub.add_parser("write", help="encrypt an object as streams + envelope + manifest")
    w.add_argument("--kek", required=True)
    w.add_argument("--bucket", required=True)
    w.add_argument("--object-key", required=True)
    w.add_argument("--plaintext", required=True)
    w.add_argument("--parts", required=True)
    w.add_argument("--out", required=True)
    w.add_argument("--scheme", type=int, default=2)
    w.add_argument("--provider-id", default="local")
    w.add_argument("--key-id", default="test-key/1")
    w.add_argument("--context", default="", help="envelope context (§6), e.g. an SSE-KMS context")
    w.add_argument("--attributes", help="hex of encoded attributes (§13.1) to seal under the DEK")
    w.add_argument("--manifest-key", help="hex of a 32-byte SSE-C manifest key (§13.3)")
    w.set_defaults(func=cmd_write)

    r = sub.add_parser("read", help="verify and decrypt a case directory")
    r.add_argument("--case", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--range", action="append")
    r.set_defaults(func=cmd_read)

    for name, func in (("encrypt-file", cmd_encrypt_file), ("decrypt-file", cmd_decrypt_file)):
        c = sub.add_parser(name)
        g = c.add_mutually_exclusive_group(required=True)
        g.add_argument("--key-file")
        g.add_argument("--passphrase-file")
        if name == "encrypt-file":
            c.add_argument("--argon2", help="T,M,P (default 3,65536,4)")
        else:
            c.add_argument("--pipe", action="store_true", help="use the pipe reader (hold back 150 bytes)")
        c.add_argument("input", metavar="IN")
        c.add_argument("output", metavar="OUT")
        c.set_defaults(func=func)

    i = sub.add_parser("inspect", help="print structure fields as JSON (never keys)")
    i.add_argument("file", metavar="FILE")
    i.set_defaults(func=cmd_inspect)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.func(args)
        return 0
    except (FormatError, _CliError, OSError, ValueError, KeyError, TypeError) as e:
        msg = str(e).replace("\n", " ") or type(e).__name__
        if isinstance(e, OSError) and e.filename:
            msg = f"{e.strerror}: {e.filename}"
        sys.stderr.write(f"error: {msg}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
