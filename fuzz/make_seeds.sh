#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the seed corpus in fuzz/corpus/<target>/seed-* (fuzz/README.md).
#
#   fuzz/make_seeds.sh [BUILD_DIR]      # default: build (a normal gcc build)
#
# Uses the normal binaries of BUILD_DIR:
#   src/cli/strongroom          file containers (`encrypt --key-file`, one with a passphrase)
#   tests/format_interop        streams, manifests and envelopes of random objects (--kek = kFuzzKek)
# and the Python reference (tools/pyref, python3-cryptography) for the seeds that must use the
# fuzzers' fixed DEK / object id / binding (fuzz/fuzz_common.h) so that they decrypt, open or
# unwrap inside the fuzzers; the C++ binaries cannot be told which DEK or object id to use.
# Ciphertexts use fresh random salts, so every run produces different (equally good) bytes.
# Existing crash-* files in the corpus directories are left alone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
strongroom="$build/src/cli/strongroom"
interop="$build/tests/format_interop"
[[ -x "$interop" ]] || interop="$build/tests/interop/format_interop"
for bin in "$strongroom" "$interop"; do
  [[ -x "$bin" ]] || { echo "make_seeds: missing $bin (build the project first)" >&2; exit 1; }
done

# Must match fuzz/fuzz_common.h.
FUZZ_DEK='strongroom-fuzz-data-key-dek-v01'
FUZZ_KEK='strongroom-fuzz-kek-for-envs-v01'
FUZZ_KEY_FILE='strongroom-fuzz-key-file-key-v01'
kek_hex="$(printf '%s' "$FUZZ_KEK" | od -An -tx1 | tr -d ' \n')"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

corpus="$here/corpus"
for t in stream_reader_fuzzer manifest_parser_fuzzer envelope_parser_fuzzer file_container_fuzzer; do
  mkdir -p "$corpus/$t"
  rm -f "$corpus/$t"/seed-*
done

# Deterministic plaintext of N bytes (text-like, so compressible patterns are absent).
plaintext() { python3 -c "import sys; n=int(sys.argv[1]); sys.stdout.buffer.write(bytes((i*131+7)%251 for i in range(n)))" "$1"; }

# ------------------------------------------------------------------ file containers
fc="$corpus/file_container_fuzzer"
printf '%s' "$FUZZ_KEY_FILE" > "$work/key"
chmod 600 "$work/key"
for n in 0 1 300 16383 16384 20000; do
  plaintext "$n" > "$work/p$n"
  "$strongroom" encrypt --key-file "$work/key" -o "$fc/seed-keyfile-$n" "$work/p$n"
done
printf 'hello, strongroom\n' > "$work/hello"
"$strongroom" encrypt --key-file "$work/key" -o "$fc/seed-keyfile-text" "$work/hello"
# One passphrase-mode file: the fuzzer only parses its header (no Argon2id in the fuzzer).
printf 'fuzz passphrase\n' > "$work/pass"
"$strongroom" encrypt --passphrase-file "$work/pass" -o "$fc/seed-passphrase-text" "$work/hello"

# ------------------------------------------------------------- format_interop objects
# write_case NAME PLAINTEXT_SIZE PARTS BUCKET OBJECT_KEY [extra format_interop flags]
write_case() {
  local name="$1" size="$2" parts="$3" bucket="$4" key="$5"
  shift 5
  plaintext "$size" > "$work/$name.in"
  mkdir -p "$work/$name"
  "$interop" write --kek "$kek_hex" --bucket "$bucket" --object-key "$key" \
    --plaintext "$work/$name.in" --parts "$parts" --out "$work/$name" "$@"
}
write_case single 100 single b k
write_case multi 300 1:100,2:200 photos 2024/a.jpg --scheme 3 --provider-id sse-c --key-id ""
write_case gaps 70 1:10,3:0,7:60 "" "" --provider-id kmip --key-id "kmip://vault/keys/$(printf 'x%.0s' {1..150})"

# ------------------------------------------------------------------ python seeds
python3 - "$root" "$work" "$corpus" "$FUZZ_DEK" "$FUZZ_KEK" <<'EOF'
import json, os, struct, sys
root, work, corpus, dek, kek = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].encode(), sys.argv[5].encode()
sys.path.insert(0, os.path.join(root, "tools", "pyref"))
import strongroom_format as sf

OBJECT_ID = b"fuzz-object-id-1"   # fuzz_common.h
BUCKET, OBJECT_KEY = b"fuzz-bucket", b"fuzz/object"

def put(target, name, data):
    with open(os.path.join(corpus, target, "seed-" + name), "wb") as f:
        f.write(data)

def pt(n):
    return bytes((i * 131 + 7) % 251 for i in range(n))

def case(name):
    with open(os.path.join(work, name, "case.json")) as f:
        c = json.load(f)
    with open(os.path.join(work, name, "blob.bin"), "rb") as f:
        blob = f.read()
    return c, blob

# --- stream_reader_fuzzer: [32-byte key | selector | rest]
# selector: bits 0-1 part (0,1,2,10000), 2-4 buffer size (1,7,16,100,4096,16399,16400,65536),
# bit 5 piecewise source, bit 6 expected info, bit 7 round-trip mode.
S = "stream_reader_fuzzer"
PART_BITS = {0: 0, 1: 1, 2: 2, 10000: 3}
def raw_seed(name, part, size, buf_bits, flags=0):
    stream, _ = sf.encrypt_stream(dek, OBJECT_ID, part, pt(size))
    put(S, name, dek + bytes([PART_BITS[part] | (buf_bits << 2) | flags]) + stream)
raw_seed("raw-part0-empty", 0, 0, 0)
raw_seed("raw-part1-100", 1, 100, 3)
raw_seed("raw-part2-16384-pieces", 2, 16384, 4, 0x20)
raw_seed("raw-part10000-16385-expected", 10000, 16385, 5, 0x40)
raw_seed("raw-part0-33000-expected", 0, 33000, 6, 0x40)
# Streams of a random object (format_interop): valid structure, commitment fails.
c, blob = case("single")
put(S, "raw-interop-single", dek + bytes([0x10]) + blob)
c, blob = case("multi")
first = sf.stream_size(100)
put(S, "raw-interop-part2", dek + bytes([0x02 | 0x20]) + blob[first:])

# Round-trip mode: rest = [spec(12) | plaintext]; spec[0] length code, spec[1] write piece
# (bits 0-2) and stale-attempt substitution (bit 3),
# spec[2:7] and spec[7:12] edits: op(1) BE24 pos value(1); op&7: 0 none, 1 flip, 2 truncate,
# 3 extend, 4 insert, 5 delete, 6 swap chunks, 7 duplicate chunk; op&8 near end, op&16 header.
def rt_seed(name, selector, length_code, write_piece, edit1=b"\0" * 5, edit2=b"\0" * 5, text=b""):
    spec = bytes([length_code, write_piece]) + edit1 + edit2
    assert len(spec) == 12
    put(S, name, b"\0" * 32 + bytes([0x80 | selector]) + spec + text)
rt_seed("rt-unchanged", 0x00, 0, 0, text=b"hello, strongroom")
rt_seed("rt-flip-tail-16384", 0x01 | (4 << 2), 2, 3, edit1=bytes([0x09, 0, 0, 5, 3]))
rt_seed("rt-swap-chunks-32769", 0x40 | (6 << 2), 6, 4, edit1=bytes([0x06, 0, 0, 0, 1]), text=b"abc")
rt_seed("rt-truncate-header", 0x02 | 0x20, 0, 1, edit1=bytes([0x12, 0, 0, 40, 0]), text=pt(200))
rt_seed("rt-extend-and-flip", 0x03, 0, 2, edit1=bytes([0x03, 0, 0, 0, 5]),
        edit2=bytes([0x11, 0, 0, 9, 1]), text=pt(64))
rt_seed("rt-duplicate-chunk-16385", 0x40, 3, 5, edit1=bytes([0x07, 0, 0, 0, 0]))
# spec[1] bit 3: a second encryption of the same plaintext replaces the stream (stale attempt).
rt_seed("rt-stale-attempt-expected", 0x41 | (4 << 2), 0, 0x08 | 4, text=pt(500))

# --- manifest_parser_fuzzer
M = "manifest_parser_fuzzer"
for name in ("single", "multi", "gaps"):
    c, _ = case(name)
    put(M, "interop-" + name, bytes.fromhex(c["manifest"]))
def entries(parts):
    out = []
    for part, size in parts:
        _, e = sf.encrypt_stream(dek, OBJECT_ID, part, pt(size))
        out.append(e)
    return out
put(M, "fixed-single", sf.seal_manifest(dek, OBJECT_ID, entries([(0, 1000)]), BUCKET, OBJECT_KEY))
put(M, "fixed-multi", sf.seal_manifest(dek, OBJECT_ID, entries([(1, 10), (2, 0), (9, 20)]),
                                       BUCKET, OBJECT_KEY))
many = [sf.ManifestEntry(i, i * 7, bytes([i]) * 24, bytes([255 - i]) * 32) for i in range(1, 41)]
put(M, "fixed-40-parts", sf.seal_manifest(dek, OBJECT_ID, many, BUCKET, OBJECT_KEY))
with open(os.path.join(corpus, "file_container_fuzzer", "seed-keyfile-300"), "rb") as f:
    data = f.read()
put(M, "file-trailer", data[-150:-8])   # a file container's manifest: empty binding

# --- envelope_parser_fuzzer
E = "envelope_parser_fuzzer"
for name in ("single", "multi", "gaps"):
    c, _ = case(name)
    put(E, "interop-" + name, bytes.fromhex(c["envelope"]))
put(E, "fixed-local", sf.wrap_dek(kek, dek, OBJECT_ID, BUCKET, OBJECT_KEY))
put(E, "fixed-customer", sf.wrap_dek(kek, dek, OBJECT_ID, BUCKET, OBJECT_KEY,
                                     scheme=sf.SCHEME_CUSTOMER_KEY, provider_id="sse-c", key_id=b""))
external = (sf.envelope_header(sf.SCHEME_EXTERNAL, "kmip", b"arn:aws:kms:eu-west-1:1:key/x")
            + b"\0" * 32 + struct.pack(">H", 100) + pt(100))
put(E, "external-kmip", external)
# The envelope inside a file container: after 8-byte header, 16-byte object id, BE32 length.
(length,) = struct.unpack(">I", data[24:28])
put(E, "file-key-file", data[28:28 + length])
EOF

du -sh "$corpus"
for t in "$corpus"/*/; do
  seeds=("$t"seed-*)
  echo "${#seeds[@]} seeds in $t"
done
