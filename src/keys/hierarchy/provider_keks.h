// SPDX-License-Identifier: Apache-2.0
#pragma once

// KMS keys backed by an external key provider (keys/key_provider.h):
// `strongroom key create NAME --provider kmip|pkcs11|tpm`.
//
// Such a key's catalog row names the provider (KeyInfo::provider, the
// provider's id) and the provider key that wraps its versions
// (KeyInfo::provider_key). Each version's KEK is 32 random bytes, stored
// only wrapped by the provider, in the version row's `wrapped` column:
//
//   wrapped = provider.Wrap(provider_key, KEK, aad)
//   aad     = "strongroom/v1/kms-kek" ‖ 0x00 ‖ key id ‖ 0x00 ‖ BE32 version
//
// so a wrapped KEK moved to another key or version does not unwrap. Using a
// version asks the provider to unwrap it (the key hierarchy caches the
// result, keys/hierarchy/kek_cache.h). The version's salt is not used.
//
// A version without wrapped material yet (a rotation adds versions without
// asking the provider; so may a `key create` whose provider failed after
// the key row was written) gets it on first use: fresh random bytes, wrapped
// and stored with a compare-and-set, so concurrent first uses (also in other
// processes) agree on one KEK. Every KEK of a provider-backed key therefore
// exists in clear only in memory, never in the catalog.
//
// Errors: what the provider says (keys/key_provider.h) — kUnavailable with
// reason "ServiceUnavailable" while it cannot be reached, which S3 answers
// with 503; never a fall-back to another key. A provider id this server has
// not configured is kUnavailable as well (the configuration can be fixed).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "keys/key_directory.h"
#include "keys/key_provider.h"

namespace strongroom::keys {

inline constexpr std::string_view kProviderKekLabel = "strongroom/v1/kms-kek";
inline constexpr size_t kProviderKekSize = 32;

// The provider configured under `provider_id`, or nullptr if there is none.
// The provider must outlive every use.
using ProviderLookup = std::function<KeyProvider*(std::string_view provider_id)>;

// The AAD that binds a wrapped KEK to its key id and version.
Bytes ProviderKekAad(std::string_view key_id, uint32_t version);

class ProviderKeks {
 public:
  // Both must outlive this object.
  ProviderKeks(KeyDirectory& directory, ProviderLookup lookup);

  // The KEK material of `version` of the provider-backed key `key` (its
  // provider and provider_key are read from `key`), creating and storing it
  // first if the version has none yet.
  Result<crypto::SecretBytes> Material(const KeyInfo& key, uint32_t version);

  // Makes sure `version` of `key` has wrapped material (creating it if not)
  // and that the provider unwraps it. For `key create`, to fail early.
  Result<void> Ensure(const KeyInfo& key, uint32_t version);

 private:
  Result<KeyProvider*> ProviderOf(const KeyInfo& key);

  KeyDirectory& directory_;
  ProviderLookup lookup_;
};

}  // namespace strongroom::keys
