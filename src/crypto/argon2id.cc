// SPDX-License-Identifier: Apache-2.0
#include "crypto/argon2id.h"

#include <string>

#include <argon2.h>

namespace strongroom::crypto {

Result<void> ValidateArgon2idParams(const Argon2idParams& params) {
  if (params.iterations < 1 || params.iterations > kArgon2idMaxIterations) {
    return InvalidArgument("argon2id iterations must be 1.." +
                           std::to_string(kArgon2idMaxIterations));
  }
  if (params.parallelism < 1 || params.parallelism > kArgon2idMaxParallelism) {
    return InvalidArgument("argon2id parallelism must be 1.." +
                           std::to_string(kArgon2idMaxParallelism));
  }
  if (params.memory_kib < kArgon2idMinMemoryKib || params.memory_kib > kArgon2idMaxMemoryKib ||
      params.memory_kib < 8 * params.parallelism) {
    return InvalidArgument("argon2id memory must be 8 MiB..4 GiB");
  }
  return Ok();
}

Result<SecretBytes> Argon2id(ByteView passphrase, ByteView salt, const Argon2idParams& params,
                             size_t length) {
  STRONGROOM_RETURN_IF_ERROR(ValidateArgon2idParams(params));
  if (salt.size() < kArgon2idMinSaltSize) {
    return InvalidArgument("argon2id salt must be at least 16 bytes");
  }
  if (length < 16 || length > 1024) {
    return InvalidArgument("argon2id output must be 16..1024 bytes");
  }
  SecretBytes out(length);
  int rc = argon2id_hash_raw(params.iterations, params.memory_kib, params.parallelism,
                             passphrase.data(), passphrase.size(), salt.data(), salt.size(),
                             out.mutable_reveal().data(), length);
  if (rc != ARGON2_OK) {
    return Internal(std::string("argon2id failed: ") + argon2_error_message(rc));
  }
  return out;
}

}  // namespace strongroom::crypto
