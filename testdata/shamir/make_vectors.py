#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Writes vectors.json: Shamir k-of-n test vectors for src/keys/shamir/.

An independent implementation of what keys/shamir/shamir.h and
keys/shamir/shamir_root.h specify, using only the Python standard library:

* GF(2^8) products by carry-less multiplication followed by reduction modulo
  x^8 + x^4 + x^3 + x + 1 (polynomial long division), unlike the C++ code's
  shift-and-add loop; inverses by exhaustive search.
* Splits with fixed coefficients (SHA-256 in counter mode over a label, so
  the vectors are reproducible), evaluated term by term rather than by Horner.
* Share texts, key checks (HKDF-SHA-512, RFC 5869, written out with hmac),
  checksums and root.shamir records.

Run:  /usr/bin/python3 testdata/shamir/make_vectors.py > testdata/shamir/vectors.json
"""
import hashlib
import hmac
import itertools
import json

POLY = 0x11B


def clmul(a: int, b: int) -> int:
    out = 0
    for i in range(8):
        if (b >> i) & 1:
            out ^= a << i
    return out


def reduce(p: int) -> int:
    for bit in range(15, 7, -1):
        if (p >> bit) & 1:
            p ^= POLY << (bit - 8)
    return p


def gf_mul(a: int, b: int) -> int:
    return reduce(clmul(a, b))


def gf_inv(a: int) -> int:
    if a == 0:
        return 0
    return next(b for b in range(1, 256) if gf_mul(a, b) == 1)


def stream(label: str, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(label.encode() + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:size]


def evaluate(secret_byte: int, coefficients: list, x: int) -> int:
    y = secret_byte
    for power, c in enumerate(coefficients, start=1):
        term = c
        for _ in range(power):
            term = gf_mul(term, x)
        y ^= term
    return y


def split(secret: bytes, n: int, k: int, coefficients: bytes) -> dict:
    d = k - 1
    shares = {}
    for x in range(1, n + 1):
        shares[x] = bytes(evaluate(secret[j], list(coefficients[j * d:(j + 1) * d]), x)
                          for j in range(len(secret)))
    return shares


def interpolate(points: dict) -> bytes:
    xs = list(points)
    size = len(next(iter(points.values())))
    out = bytearray(size)
    for xi in xs:
        num, den = 1, 1
        for xj in xs:
            if xj != xi:
                num = gf_mul(num, xj)
                den = gf_mul(den, xj ^ xi)
        basis = gf_mul(num, gf_inv(den))
        for b in range(size):
            out[b] ^= gf_mul(points[xi][b], basis)
    return bytes(out)


def hkdf_sha512(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt or b"\x00" * 64, ikm, hashlib.sha512).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha512).digest()
        out += block
        counter += 1
    return out[:length]


def key_check(secret: bytes) -> bytes:
    return hkdf_sha512(secret, b"", b"strongroom/v1/shamir/key-check", 4)


def share_text(k: int, x: int, check: bytes, payload: bytes) -> str:
    checksum = hashlib.sha256(bytes([1, k, x]) + check + payload).digest()[:4]
    return f"srshare1-k{k}-x{x}-{check.hex()}-{payload.hex()}-{checksum.hex()}"


def root_record(root: bytes, n: int, k: int) -> dict:
    check = key_check(root)
    message = b"strongroom/v1/shamir/root-check\x00" + bytes([1, k, n]) + check
    root_check = hmac.new(root, message, hashlib.sha256).digest()
    text = (f"strongroom-shamir-root 1\nthreshold {k}\nshares {n}\nkey-check {check.hex()}\n"
            f"root-check {root_check.hex()}\n")
    return {"key_check": check.hex(), "root_check": root_check.hex(), "file": text}


def case(name: str, secret: bytes, n: int, k: int, with_texts: bool) -> dict:
    coefficients = stream("strongroom shamir vectors: " + name, (k - 1) * len(secret))
    shares = split(secret, n, k, coefficients)
    # Every k-subset must give the secret back; check it here too.
    for subset in itertools.combinations(range(1, n + 1), k):
        assert interpolate({x: shares[x] for x in subset}) == secret
    out = {"name": name, "secret": secret.hex(), "shares": n, "threshold": k,
           "coefficients": coefficients.hex(),
           "points": [{"x": x, "y": shares[x].hex()} for x in range(1, n + 1)]}
    if with_texts:
        check = key_check(secret)
        out["key_check"] = check.hex()
        out["texts"] = [share_text(k, x, check, shares[x]) for x in range(1, n + 1)]
        out.update({"root_" + key: value for key, value in root_record(secret, n, k).items()})
    # With k-1 points the interpolation is some other value.
    below = interpolate({x: shares[x] for x in range(1, k)}) if k > 2 else None
    if below is not None:
        out["interpolated_from_first_k_minus_1"] = below.hex()
    return out


def main() -> None:
    pairs = [(0x57, 0x83), (0x57, 0x13), (0x53, 0xCA), (0x00, 0xFF), (0xFF, 0xFF), (0x01, 0xAB),
             (0x02, 0x80), (0x80, 0x80)]
    rng = stream("strongroom shamir vectors: gf pairs", 512)
    pairs += [(rng[2 * i], rng[2 * i + 1]) for i in range(256)]
    vectors = {
        "generator": "testdata/shamir/make_vectors.py",
        # "aabbpp": a · b = p, hex.
        "gf_mul": [bytes([a, b, gf_mul(a, b)]).hex() for a, b in pairs],
        # Byte a is the inverse of a (0 for 0).
        "gf_inv": bytes(gf_inv(a) for a in range(256)).hex(),
        "cases": [
            # Hand-checkable: y(x) = 0x42 + 0x05·x.
            {"name": "one byte 2 of 3", "secret": "42", "shares": 3, "threshold": 2,
             "coefficients": "05",
             "points": [{"x": x, "y": f"{0x42 ^ gf_mul(5, x):02x}"} for x in (1, 2, 3)]},
            case("root 3 of 5", bytes(range(32)), 5, 3, True),
            case("root 2 of 2", bytes(range(0xE0, 0x100)), 2, 2, True),
            case("sixteen bytes 4 of 7", stream("secret", 16), 7, 4, False),
            case("root 5 of 5", stream("root 5 of 5", 32), 5, 5, True),
        ],
    }
    print(json.dumps(vectors, indent=1))


if __name__ == "__main__":
    main()
