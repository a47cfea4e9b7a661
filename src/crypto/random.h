// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::crypto {

// Fills `out` from the OpenSSL CSPRNG (RAND_bytes, fork-safe in OpenSSL 3).
// Fails with kInternal only if the generator cannot be seeded.
Result<void> RandomFill(MutableByteView out);

// `size` random bytes for public values (salts, identifiers).
Result<Bytes> RandomBytes(size_t size);

// `size` random bytes for key material.
Result<SecretBytes> RandomSecret(size_t size);

}  // namespace strongroom::crypto
