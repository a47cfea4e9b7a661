// SPDX-License-Identifier: Apache-2.0
#pragma once

// The root key wrapped by an external key provider (keys/key_provider.h),
// for unattended start: `strongroom init --root-provider kmip|pkcs11|tpm`
// makes it, and `serve` asks the provider to unwrap it, with no human input.
//
// The key directory keeps only the wrapped root: <key_dir>/root.provider
// (0600, in a 0700 directory), a text file
//
//   strongroom-provider-root 1
//   provider <provider id>
//   key <the provider's key name; one line>
//   wrapped <hex of provider.Wrap(key, root, "strongroom/v1/root")>
//
// Whoever can read it and use the provider key can unwrap the root; the
// file alone is useless. A file writable or readable by group or others is
// refused: a writer could point the server at a root of their choosing.

#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "keys/key_provider.h"

namespace strongroom::keys {

inline constexpr const char* kProviderRootFile = "root.provider";
inline constexpr std::string_view kProviderRootAad = "strongroom/v1/root";

struct ProviderRootInfo {
  std::string provider;  // the KeyProvider::id() that wrapped it
  std::string key_name;  // the provider's key that wraps it
  Bytes wrapped;
};

// Whether <key_dir>/root.provider exists.
bool ProviderRootExists(const std::string& key_dir);

// The text of root.provider, and its parser (kDataLoss if malformed).
std::string FormatProviderRootFile(const ProviderRootInfo& info);
Result<ProviderRootInfo> ParseProviderRootFile(std::string_view text);

// Generates a random 32-byte root key, has `provider` wrap it under
// `key_name`, checks that it unwraps again, and writes <key_dir>/root.provider
// (creating the directory 0700; the file appears atomically, 0600). Returns
// the root key. kAlreadyExists if the file exists; provider errors as the
// provider reports them (nothing is written then).
Result<crypto::SecretBytes> CreateProviderRoot(const std::string& key_dir, KeyProvider& provider,
                                               const std::string& key_name);

// Reads <key_dir>/root.provider. kNotFound if missing, kDataLoss if
// malformed, kFailedPrecondition if group or others may read or write it.
Result<ProviderRootInfo> ReadProviderRoot(const std::string& key_dir);

// Asks `provider` (which must have info.provider as its id, else
// kInvalidArgument) to unwrap the root. Provider errors pass through
// (kUnavailable while it cannot be reached); kDataLoss if the result is not
// a 32-byte key.
Result<crypto::SecretBytes> OpenProviderRoot(const ProviderRootInfo& info, KeyProvider& provider);

}  // namespace strongroom::keys
