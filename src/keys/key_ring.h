// SPDX-License-Identifier: Apache-2.0
#pragma once

// Key-encryption keys (KEKs) as the rest of the server sees them.
//
// Hierarchy: one root key → KEKs, one per KMS key id and version → one data
// key (DEK) per object. The root key comes from a root source (passphrase-
// sealed file, or the development key file; issue #5 adds Shamir shares and
// external providers) and lives only in memory. KEK material is derived from
// the root key and a random per-version salt kept in the catalog
// (keys/key_directory.h), so creating a key needs no root key and deleting a
// version's salt shreds every object under it.
//
// A KeyRing may be *sealed* (no root key yet): then every method fails with
// kUnavailable and reason "ServiceUnavailable". Thread-safe.

#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::keys {

// Provider id written into envelopes for KEKs derived from the root key.
inline constexpr std::string_view kRootProvider = "strongroom";

// A KEK held in memory. `material` is shared so a handle can outlive a
// cache eviction; it is wiped when the last holder drops it.
struct Kek {
  std::string provider_id;  // goes into envelopes, e.g. "strongroom"
  std::string key_ref;      // goes into envelopes: "<key id>/<version>"
  std::string key_id;       // the KMS key id (keys::kSseS3KeyId for SSE-S3)
  uint32_t version = 0;
  std::shared_ptr<const crypto::SecretBytes> material;
};

class KeyRing {
 public:
  virtual ~KeyRing() = default;

  // True until a root key is available.
  virtual bool sealed() const = 0;

  // The current version's KEK of KMS key `key_id` (a canonical id, see
  // KeyDirectory::Resolve, or kSseS3KeyId), for wrapping new data keys.
  // kNotFound (reason "KMS.NotFoundException") for an unknown key,
  // kFailedPrecondition (reason "KMS.DisabledException") for a disabled one.
  virtual Result<Kek> CurrentKek(std::string_view key_id) = 0;

  // The KEK an envelope names (its provider id and key ref). Same errors as
  // CurrentKek; a disabled key cannot be used to unwrap either.
  virtual Result<Kek> FindKek(std::string_view provider_id, std::string_view key_ref) = 0;

  // Seals / opens a small secret under the root key for `purpose`
  // (crypto/sealed_box.h). Unseal: kDataLoss if it fails to authenticate.
  virtual Result<Bytes> Seal(std::string_view purpose, ByteView plaintext, ByteView aad) = 0;
  virtual Result<crypto::SecretBytes> Unseal(std::string_view purpose, ByteView sealed,
                                             ByteView aad) = 0;
};

}  // namespace strongroom::keys
