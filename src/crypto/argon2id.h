// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::crypto {

// Cost parameters of Argon2id (RFC 9106), version 0x13.
struct Argon2idParams {
  uint32_t iterations = 3;         // t
  uint32_t memory_kib = 64 * 1024;  // m, in KiB
  uint32_t parallelism = 4;        // p (lanes; also threads)
};

// Bounds a decoder accepts, so a crafted file cannot demand 4 TiB of memory.
inline constexpr uint32_t kArgon2idMaxIterations = 64;
inline constexpr uint32_t kArgon2idMinMemoryKib = 8 * 1024;
inline constexpr uint32_t kArgon2idMaxMemoryKib = 4 * 1024 * 1024;  // 4 GiB
inline constexpr uint32_t kArgon2idMaxParallelism = 64;
inline constexpr size_t kArgon2idMinSaltSize = 16;

// kInvalidArgument if `params` fall outside the bounds above.
Result<void> ValidateArgon2idParams(const Argon2idParams& params);

// Derives `length` bytes from `passphrase` and `salt` (>= 16 bytes) with
// Argon2id. Blocks for as long as the parameters demand (about a second at
// the defaults). kInvalidArgument for bad parameters; kInternal if the
// library fails (for example, out of memory).
Result<SecretBytes> Argon2id(ByteView passphrase, ByteView salt, const Argon2idParams& params,
                             size_t length);

}  // namespace strongroom::crypto
