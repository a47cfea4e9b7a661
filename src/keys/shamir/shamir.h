// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shamir's k-of-n secret sharing over GF(2^8) (keys/shamir/gf256.h), byte
// by byte, and the printable encoding of one share.
//
// Splitting: for every secret byte s a polynomial of degree k-1 with
// constant term s and k-1 random coefficients (crypto::RandomSecret) is
// evaluated at x = 1..n; share x holds the n-th evaluations of all bytes.
// Any k shares give the secret back by Lagrange interpolation at 0; k-1
// shares are consistent with every secret.
//
// Share text:
//
//   srshare1-k<K>-x<X>-<key check: 8 hex>-<payload: 2·L hex>-<checksum: 8 hex>
//
//   K        the threshold, decimal 2..255
//   X        the share's x, decimal 1..255
//   key check  4 bytes that name the secret the share belongs to (for a root
//            key: HKDF-SHA-512(root, no salt, "strongroom/v1/shamir/key-check", 4)),
//            so shares of different keyrings are refused before combining
//   payload  the L evaluations (L = 32 for a root key)
//   checksum the first 4 bytes of SHA-256(0x01 ‖ K ‖ X ‖ key check ‖ payload),
//            each field one byte but the key check and payload: catches a
//            mistyped share before it is combined
//
// Hex is lowercase when written and read in either case; surrounding
// whitespace is ignored. The text is secret: it is returned in SecretBytes.

#include <array>
#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::keys::shamir {

inline constexpr uint8_t kShareVersion = 1;
inline constexpr size_t kKeyCheckSize = 4;
inline constexpr size_t kChecksumSize = 4;
inline constexpr unsigned kMaxShares = 255;
inline constexpr size_t kMaxPayload = 64;

using KeyCheck = std::array<uint8_t, kKeyCheckSize>;

// One evaluation of the secret's polynomials: y[j] = p_j(x).
struct Point {
  uint8_t x = 0;
  crypto::SecretBytes y;
};

// Splits `secret` (1..kMaxPayload bytes) into `shares` points x = 1..shares,
// any `threshold` of which reconstruct it. kInvalidArgument unless
// 2 <= threshold <= shares <= 255.
Result<std::vector<Point>> Split(ByteView secret, unsigned shares, unsigned threshold);

// Split with the coefficients given instead of drawn (for test vectors):
// (threshold - 1) · secret.size() bytes; byte j's polynomial is
// secret[j] + c[j(t-1)]·x + c[j(t-1)+1]·x^2 + ... + c[j(t-1)+t-2]·x^(t-1).
Result<std::vector<Point>> SplitWithCoefficients(ByteView secret, unsigned shares,
                                                 unsigned threshold, ByteView coefficients);

// The value at 0 of the polynomial of lowest degree through `points`
// (Lagrange). With at least the threshold's count of points of one split
// this is the secret; with fewer it is a value unrelated to it.
// kInvalidArgument for no points, x = 0, a repeated x or unequal lengths.
Result<crypto::SecretBytes> Interpolate(const std::vector<Point>& points);

// A share as its text carries it.
struct Share {
  uint8_t threshold = 0;
  uint8_t x = 0;
  KeyCheck key_check{};
  crypto::SecretBytes payload;
};

// The key check of `secret` (see above).
Result<KeyCheck> KeyCheckOf(ByteView secret);

// The share's text (see above). kInvalidArgument for a field out of range.
Result<crypto::SecretBytes> EncodeShare(const Share& share);

// Parses a share's text. kInvalidArgument if it is not one (or of another
// version), kDataLoss if the checksum does not match. Error messages never
// quote the text.
Result<Share> ParseShare(ByteView text);

}  // namespace strongroom::keys::shamir
