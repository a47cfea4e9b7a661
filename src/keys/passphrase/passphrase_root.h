// SPDX-License-Identifier: Apache-2.0
#pragma once

// The root key sealed by a passphrase at rest: <key_dir>/root.sealed is a
// file container (docs/FORMAT.md §7, key source 0x01: Argon2id of the
// passphrase) whose plaintext is the 32-byte root key, so an operator can
// also open it with `strongroom decrypt`. The directory is 0700 and the
// file 0600; a file readable by group or others is refused.
//
// Argon2id costs are the format's defaults, or STRONGROOM_ARGON2_PARAMS
// ("T,M,P": iterations, KiB, lanes; for tests and small machines) when the
// file is created; opening uses the costs stored in the file.

#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::keys {

inline constexpr const char* kSealedRootFile = "root.sealed";

// Whether <key_dir>/root.sealed exists.
bool SealedRootExists(const std::string& key_dir);

// Generates a random 32-byte root key and writes it sealed by `passphrase`
// to <key_dir>/root.sealed (creating the directory 0700; the file appears
// atomically, 0600). kAlreadyExists if present, kInvalidArgument for an
// empty passphrase or bad STRONGROOM_ARGON2_PARAMS.
Result<void> CreateSealedRoot(const std::string& key_dir, ByteView passphrase);

// The root key. kUnauthenticated for a wrong passphrase, kNotFound if there
// is no file, kDataLoss if it is corrupt or not a root key,
// kFailedPrecondition if group or others may read it, kInvalidArgument for
// an empty passphrase.
Result<crypto::SecretBytes> OpenSealedRoot(const std::string& key_dir, ByteView passphrase);

}  // namespace strongroom::keys
