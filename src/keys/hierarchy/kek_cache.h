// SPDX-License-Identifier: Apache-2.0
#pragma once

// The cache of KEK material the key hierarchy has derived or unwrapped.
//
// Bounded twice: an entry lives at most `ttl` after it was loaded (a hit
// does not extend it, so a key revoked in its provider stops working within
// one TTL), and at most `max_entries` entries are held (the oldest goes
// first). An entry dropped for either reason releases the cache's share of
// the material; crypto::SecretBytes wipes it when the last holder (a request
// still using the Kek) lets go. Expired entries are dropped on every access
// and by Sweep(), which StartSweeper() runs periodically, so material does
// not linger in an idle server.
//
// A TTL of zero or max_entries of zero disables the cache: every lookup
// misses and loads again (for a provider-backed key that is one provider
// call per use). Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::keys {

struct KekCacheOptions {
  std::chrono::milliseconds ttl{std::chrono::seconds(300)};
  size_t max_entries = 1024;
};

class KekCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Material = std::shared_ptr<const crypto::SecretBytes>;
  using Loader = std::function<Result<crypto::SecretBytes>()>;

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t expired = 0;   // entries dropped because their TTL ended
    uint64_t evicted = 0;   // entries dropped to stay within max_entries
    size_t entries = 0;     // held now
  };

  // `now` replaces the steady clock (tests).
  explicit KekCache(KekCacheOptions options, std::function<Clock::time_point()> now = nullptr);
  ~KekCache();
  KekCache(const KekCache&) = delete;
  KekCache& operator=(const KekCache&) = delete;

  bool enabled() const { return enabled_; }
  const KekCacheOptions& options() const { return options_; }

  // The material cached under `ref` if it is still fresh; else calls `load`
  // (outside the lock), caches its result and returns it. A failed load is
  // not cached. If another thread cached `ref` meanwhile, its entry wins (so
  // every holder shares one copy).
  Result<Material> GetOrLoad(const std::string& ref, const Loader& load);

  // The fresh entry for `ref`, or nullptr.
  Material Find(const std::string& ref);

  // Drops every entry / the entry of `ref`.
  void Clear();
  void Erase(const std::string& ref);
  // Drops every entry whose ref starts with `prefix`.
  void ErasePrefix(std::string_view prefix);

  // Drops expired entries; returns how many.
  size_t Sweep();

  // Calls Sweep() every `interval` on a background thread until the cache
  // is destroyed. At most one sweeper; a second call does nothing.
  void StartSweeper(std::chrono::milliseconds interval);

  Stats stats() const;

 private:
  struct Entry {
    std::string ref;
    Material material;
    Clock::time_point expires;
  };
  using List = std::list<Entry>;  // load order = expiry order (one TTL for all)

  Clock::time_point Now() const;
  // Needs mutex_ held.
  size_t DropExpiredLocked(Clock::time_point now);
  void EraseLocked(List::iterator it);

  const KekCacheOptions options_;
  const bool enabled_;
  const std::function<Clock::time_point()> now_;

  mutable std::mutex mutex_;
  List entries_;
  std::unordered_map<std::string, List::iterator> index_;
  Stats stats_;

  std::mutex sweeper_mutex_;
  std::condition_variable sweeper_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace strongroom::keys
