// SPDX-License-Identifier: Apache-2.0
#pragma once

// The development root source: a 32-byte root key in clear in
// <key_dir>/root.key. The key sits on the same machine as the data, which is
// why the server runs in this mode only when asked to, and warns loudly.
// Production keyrings seal the root key by a passphrase
// (keys/passphrase/passphrase_root.h).

#include <string>

#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::keys {

inline constexpr const char* kDevRootFile = "root.key";

// Loads <key_dir>/root.key, or creates it (random, file 0600 in a 0700
// directory, appearing atomically) on first use; `*created` (may be null)
// says which. kFailedPrecondition if the file is readable by group or others
// or does not hold exactly 32 bytes. Two processes creating it at once get
// the same key.
Result<crypto::SecretBytes> LoadOrCreateDevRoot(const std::string& key_dir, bool* created);

}  // namespace strongroom::keys
