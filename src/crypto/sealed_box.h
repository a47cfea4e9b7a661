// SPDX-License-Identifier: Apache-2.0
#pragma once

// Sealed boxes: authenticated encryption of a small value under a long-lived
// key, with no nonce for the caller to manage. Each seal draws a 32-byte
// salt and derives a single-use AES-256-GCM key with HKDF-SHA-512, so the
// fixed nonce inside never repeats under a key (the construction of the
// envelope wrap, docs/FORMAT.md §6, generalised to any length; §14 there).
//
//   box = 0x01 ‖ salt(32) ‖ AES-256-GCM(K, 0^12, plaintext, aad) ‖ tag(16)
//   K   = HKDF-SHA-512(IKM = key, salt, info = "strongroom/v1/sealed-box" ‖ 0x00 ‖ purpose, 32)
//
// `purpose` separates uses of one key (for example "user-secret" and
// "object-attributes"); a box sealed for one purpose does not open for
// another.

#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::crypto {

inline constexpr size_t kSealedBoxOverhead = 1 + 32 + 16;

// kInvalidArgument for an empty key.
Result<Bytes> SealBox(ByteView key, std::string_view purpose, ByteView plaintext, ByteView aad);

// kDataLoss if the box is malformed or fails authentication (wrong key,
// purpose or aad, or modified bytes).
Result<SecretBytes> OpenBox(ByteView key, std::string_view purpose, ByteView box, ByteView aad);

}  // namespace strongroom::crypto
