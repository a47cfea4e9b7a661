// SPDX-License-Identifier: Apache-2.0
#pragma once

// The key ring of strongroom's own key hierarchy (key_ring.h): a root key
// held in memory, KEKs derived from it per KMS key version.
//
//   KEK(id, v) = HKDF-SHA-512(IKM  = root key,
//                             salt = the version's 32-byte salt (catalog),
//                             info = "strongroom/v1/kek" ‖ 0x00 ‖ id ‖ 0x00 ‖ BE32 v,
//                             L    = 32)
//
// Envelopes name a KEK by provider id kRootProvider and key ref "<id>/<v>"
// (v in decimal, no leading zeros). Every CurrentKek/FindKek reads the key's
// row through the KeyDirectory (KeyDirectory::Usable), so a key disabled or
// scheduled for destruction by another process (for example `strongroom key
// disable`) is refused at once, and a due destruction is carried out;
// KEK material is cached per (id, version) in a KekCache (kek_cache.h:
// bounded by a TTL and a count, wiped on expiry), and dropped when a key is
// found pending destruction or destroyed.
//
// Provider-backed KMS keys (KeyInfo::provider is a key provider's id, not
// kRootProvider) do not derive their KEKs: each version's KEK is unwrapped
// by that provider (provider_keks.h), found through SetProviders(). Their
// envelopes name them like any other key (kRootProvider, "<id>/<v>"). A
// cached KEK needs no provider call; an uncached one while the provider is
// down fails kUnavailable ("ServiceUnavailable"), never falls back.
//
// Starts sealed; Unseal installs the root key (from a root source:
// keys/passphrase/, keys/local/). While sealed every method but sealed()
// fails with kUnavailable, reason "ServiceUnavailable". Seal/Unseal of
// small secrets use crypto/sealed_box.h with the root key. Thread-safe.

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "keys/hierarchy/kek_cache.h"
#include "keys/hierarchy/provider_keks.h"
#include "keys/key_directory.h"
#include "keys/key_ring.h"

namespace strongroom::keys {

class KeyHierarchy : public KeyRing {
 public:
  static constexpr size_t kRootKeySize = 32;

  // `directory` must outlive the hierarchy. `cache` bounds the KEKs kept in
  // memory (kek_cache.h; the oldest go first).
  explicit KeyHierarchy(KeyDirectory& directory, KekCacheOptions cache = {});

  // The key providers that back provider-backed KMS keys. Call before the
  // hierarchy is used by other threads; without it such keys fail
  // kUnavailable.
  void SetProviders(ProviderLookup lookup);

  // The KEK cache (statistics, a periodic sweeper).
  KekCache& kek_cache() { return cache_; }

  // Drops the cached KEKs of every version of `key_id` (a key pending
  // destruction or destroyed; done on its next use anyway). Holders of a Kek
  // keep their copy until they drop it.
  void Forget(std::string_view key_id);

  // Installs the root key (32 bytes, else kInvalidArgument).
  // kFailedPrecondition if already unsealed.
  Result<void> Unseal(crypto::SecretBytes root);

  // KeyRing
  bool sealed() const override;
  Result<Kek> CurrentKek(std::string_view key_id) override;
  Result<Kek> FindKek(std::string_view provider_id, std::string_view key_ref) override;
  Result<Bytes> Seal(std::string_view purpose, ByteView plaintext, ByteView aad) override;
  Result<crypto::SecretBytes> Unseal(std::string_view purpose, ByteView sealed,
                                     ByteView aad) override;

 private:
  // The enabled key `key_id` (kNotFound / KMS.DisabledException otherwise).
  Result<KeyInfo> UsableKey(std::string_view key_id);
  // The KEK of a version of a usable key. Needs the root lock held shared.
  Result<Kek> Derive(const KeyInfo& key, uint32_t version);

  KeyDirectory& directory_;
  std::unique_ptr<ProviderKeks> provider_keks_;

  mutable std::shared_mutex root_mutex_;
  crypto::SecretBytes root_;  // empty while sealed

  KekCache cache_;
};

}  // namespace strongroom::keys
