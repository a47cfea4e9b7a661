// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::crypto {

// HKDF with SHA-512 (RFC 5869).

// HKDF-Expand only: `prk` must already be a uniformly random key of at least
// 64 bytes' strength (Cobblestone uses the 32-byte DEK directly as PRK).
// kInvalidArgument if `length` exceeds 255 * 64 or `prk` is empty.
Result<SecretBytes> HkdfSha512Expand(ByteView prk, ByteView info, size_t length);

// HKDF-Extract then Expand, for input keying material that is not uniform
// or is shared across uses (KEKs, customer keys). An empty salt means the
// RFC's string of 64 zero bytes.
Result<SecretBytes> HkdfSha512(ByteView ikm, ByteView salt, ByteView info, size_t length);

}  // namespace strongroom::crypto
