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
// row through the KeyDirectory, so a key disabled by another process (for
// example `strongroom key disable`) is refused at once; derived material is
// cached per (id, version), at most kCacheEntries of them.
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

#include "keys/key_directory.h"
#include "keys/key_ring.h"

namespace strongroom::keys {

class KeyHierarchy : public KeyRing {
 public:
  static constexpr size_t kRootKeySize = 32;
  static constexpr size_t kCacheEntries = 4096;

  // `directory` must outlive the hierarchy. `cache_entries` bounds the
  // derived KEKs kept in memory (the oldest go first).
  explicit KeyHierarchy(KeyDirectory& directory, size_t cache_entries = kCacheEntries);

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
  Result<Kek> Derive(const std::string& key_id, uint32_t version);

  KeyDirectory& directory_;
  const size_t cache_entries_;

  mutable std::shared_mutex root_mutex_;
  crypto::SecretBytes root_;  // empty while sealed

  std::mutex cache_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const crypto::SecretBytes>> cache_;
  std::deque<std::string> cache_order_;  // insertion order, for eviction
};

}  // namespace strongroom::keys
