// SPDX-License-Identifier: Apache-2.0
#pragma once

// Key-encryption keys (KEKs) as the rest of the server sees them. A KeyRing
// hands out the KEK that wraps new data keys and finds the KEK an existing
// envelope names; it also seals small server secrets (access-key secrets).
// Implementations: keys/local/ (a root key file; development mode). Issue
// #4 adds a passphrase-sealed keyring and per-KMS-key KEKs, #5 external
// providers. Thread-safe.

#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::keys {

// A KEK held in memory. `material` is shared so a handle can outlive a
// key-ring reload; it is wiped when the last holder drops it.
struct Kek {
  std::string provider_id;  // goes into envelopes, e.g. "local"
  std::string key_id;       // e.g. "root/1"
  std::shared_ptr<const crypto::SecretBytes> material;
};

class KeyRing {
 public:
  virtual ~KeyRing() = default;

  // The KEK for new objects.
  virtual Result<Kek> CurrentKek() = 0;
  // The KEK an envelope names. kNotFound if this ring does not hold it.
  virtual Result<Kek> FindKek(std::string_view provider_id, std::string_view key_id) = 0;

  // Seals / opens a small secret under the ring's root key for `purpose`
  // (crypto/sealed_box.h). Unseal: kDataLoss if it fails to authenticate.
  virtual Result<Bytes> Seal(std::string_view purpose, ByteView plaintext, ByteView aad) = 0;
  virtual Result<crypto::SecretBytes> Unseal(std::string_view purpose, ByteView sealed,
                                             ByteView aad) = 0;
};

}  // namespace strongroom::keys
