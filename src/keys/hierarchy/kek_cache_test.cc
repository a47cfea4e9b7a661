// SPDX-License-Identifier: Apache-2.0
// KekCache: TTL from load time, count bound, disabled mode, prefix erase,
// the sweeper, and that the cache's share of the material is released.

#include "keys/hierarchy/kek_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace strongroom::keys {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  KekCache::Clock::time_point now{};
  std::function<KekCache::Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

KekCache::Loader Loads(uint8_t fill, int* calls) {
  return [fill, calls]() -> Result<crypto::SecretBytes> {
    ++*calls;
    crypto::SecretBytes out(32);
    for (auto& b : out.mutable_reveal()) b = fill;
    return out;
  };
}

TEST(KekCacheTest, HitsWithinTtlAndReloadsAfter) {
  FakeClock clock;
  KekCache cache({.ttl = 10s, .max_entries = 8}, clock.fn());
  int calls = 0;
  auto first = cache.GetOrLoad("k/1", Loads(1, &calls));
  ASSERT_TRUE(first);
  EXPECT_EQ(calls, 1);
  clock.now += 9s;
  auto second = cache.GetOrLoad("k/1", Loads(2, &calls));
  ASSERT_TRUE(second);
  EXPECT_EQ(calls, 1) << "a hit needs no load";
  EXPECT_EQ(first->get(), second->get()) << "one shared copy";
  EXPECT_EQ((*second)->reveal()[0], 1);
  // A hit does not extend the TTL: 10 s after the load it is gone.
  clock.now += 1s;
  auto third = cache.GetOrLoad("k/1", Loads(3, &calls));
  ASSERT_TRUE(third);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ((*third)->reveal()[0], 3);
  KekCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.expired, 1u);
  EXPECT_EQ(stats.entries, 1u);
}

TEST(KekCacheTest, ExpiryReleasesTheCachesShareOfTheMaterial) {
  FakeClock clock;
  KekCache cache({.ttl = 5s, .max_entries = 8}, clock.fn());
  int calls = 0;
  std::weak_ptr<const crypto::SecretBytes> weak;
  {
    auto material = cache.GetOrLoad("k/1", Loads(7, &calls));
    ASSERT_TRUE(material);
    weak = *material;
  }
  EXPECT_FALSE(weak.expired()) << "held by the cache";
  clock.now += 5s;
  EXPECT_EQ(cache.Sweep(), 1u);
  EXPECT_TRUE(weak.expired()) << "dropped (and so wiped) once expired";
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(KekCacheTest, HolderKeepsItsCopyAcrossEviction) {
  FakeClock clock;
  KekCache cache({.ttl = 5s, .max_entries = 8}, clock.fn());
  int calls = 0;
  auto held = cache.GetOrLoad("k/1", Loads(9, &calls));
  ASSERT_TRUE(held);
  clock.now += 6s;
  cache.Sweep();
  EXPECT_EQ((*held)->reveal()[0], 9) << "a request using it is not disturbed";
}

TEST(KekCacheTest, CountBoundEvictsOldestFirst) {
  FakeClock clock;
  KekCache cache({.ttl = 100s, .max_entries = 2}, clock.fn());
  int calls = 0;
  ASSERT_TRUE(cache.GetOrLoad("a", Loads(1, &calls)));
  ASSERT_TRUE(cache.GetOrLoad("b", Loads(2, &calls)));
  ASSERT_TRUE(cache.GetOrLoad("c", Loads(3, &calls)));
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_EQ(cache.stats().evicted, 1u);
  EXPECT_EQ(cache.Find("a"), nullptr);
  EXPECT_NE(cache.Find("b"), nullptr);
  EXPECT_NE(cache.Find("c"), nullptr);
}

TEST(KekCacheTest, ZeroTtlOrZeroEntriesDisablesIt) {
  for (KekCacheOptions options : {KekCacheOptions{0s, 10}, KekCacheOptions{10s, 0}}) {
    KekCache cache(options);
    EXPECT_FALSE(cache.enabled());
    int calls = 0;
    ASSERT_TRUE(cache.GetOrLoad("k", Loads(1, &calls)));
    ASSERT_TRUE(cache.GetOrLoad("k", Loads(1, &calls)));
    EXPECT_EQ(calls, 2) << "every use loads";
    EXPECT_EQ(cache.stats().entries, 0u);
    EXPECT_EQ(cache.Find("k"), nullptr);
  }
}

TEST(KekCacheTest, FailedLoadsAreNotCached) {
  KekCache cache({.ttl = 100s, .max_entries = 8});
  int calls = 0;
  auto failed = cache.GetOrLoad("k", [&]() -> Result<crypto::SecretBytes> {
    ++calls;
    return Unavailable("provider down");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable);
  ASSERT_TRUE(cache.GetOrLoad("k", Loads(4, &calls)));
  EXPECT_EQ(calls, 2) << "the next use tries again";
  EXPECT_NE(cache.Find("k"), nullptr);
}

TEST(KekCacheTest, ErasePrefixDropsOneKeysVersions) {
  KekCache cache({.ttl = 100s, .max_entries = 8});
  int calls = 0;
  for (const char* ref : {"k1/1", "k1/2", "k10/1", "k2/1"}) {
    ASSERT_TRUE(cache.GetOrLoad(ref, Loads(1, &calls)));
  }
  cache.ErasePrefix("k1/");
  EXPECT_EQ(cache.Find("k1/1"), nullptr);
  EXPECT_EQ(cache.Find("k1/2"), nullptr);
  EXPECT_NE(cache.Find("k10/1"), nullptr);
  EXPECT_NE(cache.Find("k2/1"), nullptr);
  cache.Clear();
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(KekCacheTest, SweeperDropsExpiredEntriesOfAnIdleCache) {
  KekCache cache({.ttl = 50ms, .max_entries = 8});
  cache.StartSweeper(10ms);
  int calls = 0;
  std::weak_ptr<const crypto::SecretBytes> weak;
  {
    auto material = cache.GetOrLoad("k", Loads(1, &calls));
    ASSERT_TRUE(material);
    weak = *material;
  }
  for (int i = 0; i < 200 && !weak.expired(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(weak.expired()) << "no access needed to drop it";
}

TEST(KekCacheTest, ConcurrentUseIsSafe) {
  KekCache cache({.ttl = 1s, .max_entries = 4});
  std::atomic<int> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        std::string ref = "k/" + std::to_string((i + t) % 6);
        auto got = cache.GetOrLoad(ref, [&]() -> Result<crypto::SecretBytes> {
          ++calls;
          return crypto::SecretBytes(32);
        });
        ASSERT_TRUE(got);
        ASSERT_EQ((*got)->size(), 32u);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(cache.stats().entries, 4u);
}

}  // namespace
}  // namespace strongroom::keys
