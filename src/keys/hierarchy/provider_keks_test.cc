// SPDX-License-Identifier: Apache-2.0
// Provider-backed KMS keys in the KeyHierarchy (provider_keks.h), against an
// in-memory provider: KEKs are unwrapped through the provider and bound to
// key id and version, made on first use after a rotation, cached within the
// TTL (no provider call), and an outage fails kUnavailable without a
// fall-back and heals by itself. The real providers: tests/providers/.

#include "keys/hierarchy/provider_keks.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/sqlite/sqlite_catalog.h"
#include "keys/hierarchy/fake_key_provider_test_util.h"
#include "keys/hierarchy/key_hierarchy.h"
#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using namespace std::chrono_literals;
using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

Bytes Copy(const Kek& kek) {
  ByteView m = kek.material->reveal();
  return Bytes(m.begin(), m.end());
}

crypto::SecretBytes Root() {
  crypto::SecretBytes root(32);
  for (auto& b : root.mutable_reveal()) b = 0x5a;
  return root;
}

class ProviderKeksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = catalog::SqliteCatalog::Open(scratch_.path() + "/catalog.db");
    ASSERT_TRUE(opened) << opened.error().ToString();
    catalog_ = std::move(opened).value();
    directory_ = std::make_unique<KeyDirectory>(*catalog_);
    ASSERT_OK(directory_->EnsureBuiltinKeys());
    auto provider_key = provider_.CreateKey("strongroom-kms-test");
    ASSERT_OK(provider_key);
    provider_key_ = *provider_key;
    auto created = directory_->Create("hsm", "backed by the fake provider", "fake", provider_key_);
    ASSERT_OK(created);
    key_id_ = created->key_id;
    EXPECT_EQ(created->provider, "fake");
    EXPECT_EQ(created->provider_key, provider_key_);
  }

  std::unique_ptr<KeyHierarchy> Ring(KekCacheOptions cache = {}) {
    auto ring = std::make_unique<KeyHierarchy>(*directory_, cache);
    ring->SetProviders([this](std::string_view id) -> KeyProvider* {
      return id == provider_.id() ? &provider_ : nullptr;
    });
    EXPECT_TRUE(ring->Unseal(Root()));
    return ring;
  }

  ScratchDir scratch_;
  std::unique_ptr<catalog::SqliteCatalog> catalog_;
  std::unique_ptr<KeyDirectory> directory_;
  FakeKeyProvider provider_{"fake"};
  std::string provider_key_;
  std::string key_id_;
};

TEST_F(ProviderKeksTest, KekIsTheProvidersUnwrapOfTheStoredVersionMaterial) {
  auto ring = Ring();
  auto kek = ring->CurrentKek(key_id_);
  ASSERT_OK(kek);
  EXPECT_EQ(kek->provider_id, kRootProvider) << "envelopes name the KMS key as always";
  EXPECT_EQ(kek->key_ref, key_id_ + "/1");
  ASSERT_EQ(kek->material->size(), 32u);

  // The catalog holds it only wrapped, bound to key id and version.
  auto wrapped = directory_->VersionWrapped(key_id_, 1);
  ASSERT_OK(wrapped);
  ASSERT_FALSE(wrapped->empty());
  auto unwrapped = provider_.Unwrap(provider_key_, *wrapped, ProviderKekAad(key_id_, 1));
  ASSERT_OK(unwrapped);
  EXPECT_EQ(Bytes(unwrapped->reveal().begin(), unwrapped->reveal().end()), Copy(*kek));
  EXPECT_TRUE(FailsWith(provider_.Unwrap(provider_key_, *wrapped, ProviderKekAad(key_id_, 2)),
                        ErrorCode::kDataLoss));

  // Not derived from the root key: another hierarchy with the same catalog
  // and provider gets the same KEK (it is stored, not recomputed).
  auto other = Ring();
  auto again = other->FindKek(kRootProvider, key_id_ + "/1");
  ASSERT_OK(again);
  EXPECT_EQ(Copy(*again), Copy(*kek));
}

TEST_F(ProviderKeksTest, CacheHitsNeedNoProviderCallAndTtlZeroAsksEveryTime) {
  auto cached = Ring({.ttl = 300s, .max_entries = 16});
  ASSERT_OK(cached->CurrentKek(key_id_));  // makes version 1 (wrap + nothing else)
  int unwraps = provider_.unwraps;
  for (int i = 0; i < 5; ++i) ASSERT_OK(cached->FindKek(kRootProvider, key_id_ + "/1"));
  EXPECT_EQ(provider_.unwraps, unwraps) << "served from the cache";

  auto uncached = Ring({.ttl = 0s, .max_entries = 16});
  unwraps = provider_.unwraps;
  for (int i = 0; i < 5; ++i) ASSERT_OK(uncached->FindKek(kRootProvider, key_id_ + "/1"));
  EXPECT_EQ(provider_.unwraps, unwraps + 5) << "one unwrap per use without a cache";
}

TEST_F(ProviderKeksTest, OutageFailsUncachedUsesWithServiceUnavailableAndHeals) {
  auto cached = Ring({.ttl = 300s, .max_entries = 16});
  auto uncached = Ring({.ttl = 0s, .max_entries = 16});
  auto before = cached->CurrentKek(key_id_);
  ASSERT_OK(before);

  provider_.down = true;
  // A cached KEK keeps working without the provider.
  auto hit = cached->FindKek(kRootProvider, key_id_ + "/1");
  ASSERT_OK(hit);
  EXPECT_EQ(Copy(*hit), Copy(*before));
  // An uncached one fails as an outage, never with another key.
  for (auto result : {uncached->CurrentKek(key_id_),
                      uncached->FindKek(kRootProvider, key_id_ + "/1")}) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
    EXPECT_EQ(result.error().reason(), "ServiceUnavailable");
  }
  // Keys of the root hierarchy do not need the provider.
  EXPECT_TRUE(uncached->CurrentKek(kSseS3KeyId));

  provider_.down = false;
  auto healed = uncached->FindKek(kRootProvider, key_id_ + "/1");
  ASSERT_OK(healed);
  EXPECT_EQ(Copy(*healed), Copy(*before));
}

TEST_F(ProviderKeksTest, RotatedVersionGetsItsKekAtFirstUseOnceForEveryone) {
  auto first = Ring();
  auto v1 = first->CurrentKek(key_id_);
  ASSERT_OK(v1);
  // A rotation adds a version without asking the provider.
  ASSERT_OK(catalog_->AddKmsKeyVersion(catalog::KmsKeyVersion{key_id_, 2, Bytes(32, 1), 2}));
  auto v2_wrapped = directory_->VersionWrapped(key_id_, 2);
  ASSERT_OK(v2_wrapped);
  EXPECT_TRUE(v2_wrapped->empty());

  // Two hierarchies (two processes) race for the first use; both end with
  // the one KEK that was stored.
  auto second = Ring();
  std::vector<Bytes> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      auto kek = (i % 2 == 0 ? first : second)->CurrentKek(key_id_);
      ASSERT_TRUE(kek) << kek.error().ToString();
      EXPECT_EQ(kek->version, 2u);
      seen[i] = Copy(*kek);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const Bytes& kek : seen) EXPECT_EQ(kek, seen[0]);
  EXPECT_NE(seen[0], Copy(*v1));
  auto fresh = Ring();
  auto stored = fresh->FindKek(kRootProvider, key_id_ + "/2");
  ASSERT_OK(stored);
  EXPECT_EQ(Copy(*stored), seen[0]);
  auto old = fresh->FindKek(kRootProvider, key_id_ + "/1");
  ASSERT_OK(old);
  EXPECT_EQ(Copy(*old), Copy(*v1)) << "older versions stay readable";
}

TEST_F(ProviderKeksTest, WrappedKekMovedToAnotherVersionDoesNotUnwrap) {
  auto ring = Ring({.ttl = 0s, .max_entries = 1});
  ASSERT_OK(ring->CurrentKek(key_id_));
  auto v1 = directory_->VersionWrapped(key_id_, 1);
  ASSERT_OK(v1);
  catalog::KmsKeyVersion moved{key_id_, 2, Bytes(32, 2), 3};
  moved.wrapped = *v1;
  ASSERT_OK(catalog_->AddKmsKeyVersion(moved));
  EXPECT_TRUE(FailsWith(ring->CurrentKek(key_id_), ErrorCode::kDataLoss));
}

TEST_F(ProviderKeksTest, MissingProviderOrProviderKeyIsReported) {
  // No provider configured for the key's provider id: an outage (503), the
  // configuration can be fixed.
  KeyHierarchy bare(*directory_);
  ASSERT_OK(bare.Unseal(Root()));
  auto none = bare.CurrentKek(key_id_);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(none.error().reason(), "ServiceUnavailable");
  EXPECT_NE(none.error().message().find("[provider.fake]"), std::string::npos)
      << none.error().message();

  // The provider lost the key: a KMS NotFound, not an S3 NoSuchKey.
  auto ring = Ring({.ttl = 0s, .max_entries = 1});
  ASSERT_OK(ring->CurrentKek(key_id_));
  ASSERT_OK(provider_.DestroyKey(provider_key_));
  auto gone = ring->CurrentKek(key_id_);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(gone.error().reason(), "KMS.NotFoundException");
}

TEST_F(ProviderKeksTest, EnsureMakesAndChecksAVersion) {
  ProviderKeks keks(*directory_, [this](std::string_view id) -> KeyProvider* {
    return id == "fake" ? &provider_ : nullptr;
  });
  auto info = directory_->Get(key_id_);
  ASSERT_OK(info);
  int wraps = provider_.wraps, unwraps = provider_.unwraps;
  ASSERT_OK(keks.Ensure(*info, 1));
  EXPECT_EQ(provider_.wraps, wraps + 1);
  EXPECT_EQ(provider_.unwraps, unwraps + 1);
  provider_.down = true;
  EXPECT_TRUE(FailsWith(keks.Ensure(*info, 1), ErrorCode::kUnavailable));
}

TEST_F(ProviderKeksTest, DirectoryRefusesInconsistentProviderFields) {
  EXPECT_TRUE(FailsWith(directory_->Create("a", "", "kmip", ""), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->Create("b", "", "strongroom", "x"),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->Create("c", "", "", ""), ErrorCode::kInvalidArgument));
  auto plain = directory_->Create("d", "");
  ASSERT_OK(plain);
  EXPECT_EQ(plain->provider, "strongroom");
  EXPECT_EQ(plain->provider_key, "");
}

}  // namespace
}  // namespace strongroom::keys
