// SPDX-License-Identifier: Apache-2.0
#include "keys/hierarchy/kek_cache.h"

#include <utility>

namespace strongroom::keys {

KekCache::KekCache(KekCacheOptions options, std::function<Clock::time_point()> now)
    : options_(options),
      enabled_(options.ttl.count() > 0 && options.max_entries > 0),
      now_(std::move(now)) {}

KekCache::~KekCache() {
  {
    std::lock_guard lock(sweeper_mutex_);
    stopping_ = true;
  }
  sweeper_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

KekCache::Clock::time_point KekCache::Now() const { return now_ ? now_() : Clock::now(); }

void KekCache::EraseLocked(List::iterator it) {
  index_.erase(it->ref);
  entries_.erase(it);  // drops our share of the material; the last holder wipes it
}

size_t KekCache::DropExpiredLocked(Clock::time_point now) {
  size_t dropped = 0;
  while (!entries_.empty() && entries_.front().expires <= now) {
    EraseLocked(entries_.begin());
    ++dropped;
  }
  stats_.expired += dropped;
  return dropped;
}

KekCache::Material KekCache::Find(const std::string& ref) {
  if (!enabled_) return nullptr;
  std::lock_guard lock(mutex_);
  DropExpiredLocked(Now());
  auto it = index_.find(ref);
  return it == index_.end() ? nullptr : it->second->material;
}

Result<KekCache::Material> KekCache::GetOrLoad(const std::string& ref, const Loader& load) {
  if (!enabled_) {
    {
      std::lock_guard lock(mutex_);
      ++stats_.misses;
    }
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes loaded, load());
    return std::make_shared<const crypto::SecretBytes>(std::move(loaded));
  }
  {
    std::lock_guard lock(mutex_);
    DropExpiredLocked(Now());
    if (auto it = index_.find(ref); it != index_.end()) {
      ++stats_.hits;
      return it->second->material;
    }
    ++stats_.misses;
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes loaded, load());
  auto material = std::make_shared<const crypto::SecretBytes>(std::move(loaded));

  std::lock_guard lock(mutex_);
  Clock::time_point now = Now();
  DropExpiredLocked(now);
  if (auto it = index_.find(ref); it != index_.end()) {
    return it->second->material;  // another thread loaded it meanwhile
  }
  entries_.push_back(Entry{ref, material, now + options_.ttl});
  index_.emplace(ref, std::prev(entries_.end()));
  while (entries_.size() > options_.max_entries) {
    EraseLocked(entries_.begin());
    ++stats_.evicted;
  }
  return material;
}

void KekCache::Clear() {
  std::lock_guard lock(mutex_);
  index_.clear();
  entries_.clear();
}

void KekCache::Erase(const std::string& ref) {
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(ref); it != index_.end()) EraseLocked(it->second);
}

void KekCache::ErasePrefix(std::string_view prefix) {
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (std::string_view(it->ref).starts_with(prefix)) EraseLocked(it);
    it = next;
  }
}

size_t KekCache::Sweep() {
  std::lock_guard lock(mutex_);
  return DropExpiredLocked(Now());
}

void KekCache::StartSweeper(std::chrono::milliseconds interval) {
  if (!enabled_) return;
  std::lock_guard lock(sweeper_mutex_);
  if (sweeper_.joinable() || stopping_) return;
  if (interval.count() <= 0) interval = std::chrono::milliseconds(1000);
  sweeper_ = std::thread([this, interval] {
    std::unique_lock wait_lock(sweeper_mutex_);
    while (!stopping_) {
      sweeper_cv_.wait_for(wait_lock, interval, [this] { return stopping_; });
      if (stopping_) break;
      wait_lock.unlock();
      Sweep();
      wait_lock.lock();
    }
  });
}

KekCache::Stats KekCache::stats() const {
  std::lock_guard lock(mutex_);
  Stats out = stats_;
  out.entries = entries_.size();
  return out;
}

}  // namespace strongroom::keys
