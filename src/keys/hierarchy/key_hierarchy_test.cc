// SPDX-License-Identifier: Apache-2.0
// KeyHierarchy over a real KeyDirectory and SqliteCatalog: the seal state,
// KEK derivation (checked against an independent HKDF computation), key
// state enforcement, key references, sealed boxes, concurrency.

#include "keys/hierarchy/key_hierarchy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

Bytes Material(const Kek& kek) {
  ByteView m = kek.material->reveal();
  return Bytes(m.begin(), m.end());
}

crypto::SecretBytes Root(uint8_t fill) {
  crypto::SecretBytes root(32);
  for (auto& b : root.mutable_reveal()) b = fill;
  return root;
}

// The KEK as docs say, computed here independently of the implementation.
Bytes ExpectedKek(ByteView root, ByteView salt, const std::string& key_id, uint32_t version) {
  std::string label = "strongroom/v1/kek";
  Bytes info(label.begin(), label.end());
  info.push_back(0);
  info.insert(info.end(), key_id.begin(), key_id.end());
  info.push_back(0);
  for (int shift : {24, 16, 8, 0}) info.push_back(static_cast<uint8_t>(version >> shift));
  auto kek = crypto::HkdfSha512(root, salt, info, 32);
  EXPECT_TRUE(kek);
  return Bytes(kek->reveal().begin(), kek->reveal().end());
}

class KeyHierarchyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = scratch_.path() + "/catalog.db";
    auto opened = catalog::SqliteCatalog::Open(path_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    catalog_ = std::move(opened).value();
    directory_ = std::make_unique<KeyDirectory>(*catalog_);
    ASSERT_OK(directory_->EnsureBuiltinKeys());
    auto created = directory_->Create("app", "");
    ASSERT_TRUE(created) << created.error().ToString();
    key_id_ = created->key_id;
    ring_ = std::make_unique<KeyHierarchy>(*directory_);
  }

  void UnsealWith(uint8_t fill) { ASSERT_OK(ring_->Unseal(Root(fill))); }

  ScratchDir scratch_;
  std::string path_;
  std::unique_ptr<catalog::SqliteCatalog> catalog_;
  std::unique_ptr<KeyDirectory> directory_;
  std::unique_ptr<KeyHierarchy> ring_;
  std::string key_id_;
};

TEST_F(KeyHierarchyTest, SealedRingRefusesEverythingWithServiceUnavailable) {
  EXPECT_TRUE(ring_->sealed());
  auto expect_sealed = [](const auto& result) {
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
    EXPECT_EQ(result.error().reason(), "ServiceUnavailable");
    EXPECT_EQ(result.error().message(), "the key ring is sealed; run `strongroom unseal`");
  };
  expect_sealed(ring_->CurrentKek(key_id_));
  expect_sealed(ring_->CurrentKek(kSseS3KeyId));
  expect_sealed(ring_->FindKek(kRootProvider, key_id_ + "/1"));
  expect_sealed(ring_->Seal("user-secret", AsBytes("x"), {}));
  expect_sealed(ring_->Unseal("user-secret", AsBytes("box"), {}));

  EXPECT_TRUE(FailsWith(ring_->Unseal(crypto::SecretBytes(16)), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(ring_->sealed());
  UnsealWith(1);
  EXPECT_FALSE(ring_->sealed());
  EXPECT_TRUE(ring_->CurrentKek(key_id_));
  EXPECT_TRUE(FailsWith(ring_->Unseal(Root(2)), ErrorCode::kFailedPrecondition));
  // The first root key stays.
  auto kek = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(kek);
  auto salt = directory_->VersionSalt(key_id_, 1);
  ASSERT_TRUE(salt);
  EXPECT_EQ(Material(*kek), ExpectedKek(Root(1).reveal(), *salt, key_id_, 1));
}

TEST_F(KeyHierarchyTest, KekIsDerivedFromRootSaltIdAndVersion) {
  UnsealWith(7);
  auto kek = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(kek) << kek.error().ToString();
  EXPECT_EQ(kek->provider_id, "strongroom");
  EXPECT_EQ(kek->key_ref, key_id_ + "/1");
  EXPECT_EQ(kek->key_id, key_id_);
  EXPECT_EQ(kek->version, 1u);
  ASSERT_EQ(kek->material->size(), 32u);
  auto salt = directory_->VersionSalt(key_id_, 1);
  ASSERT_TRUE(salt);
  EXPECT_EQ(Material(*kek), ExpectedKek(Root(7).reveal(), *salt, key_id_, 1));

  // Deterministic: again, through FindKek, and from a fresh ring with the same root.
  auto again = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(again);
  EXPECT_EQ(Material(*again), Material(*kek));
  auto found = ring_->FindKek(kek->provider_id, kek->key_ref);
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(Material(*found), Material(*kek));
  EXPECT_EQ(found->key_ref, kek->key_ref);
  KeyHierarchy fresh(*directory_);
  ASSERT_OK(fresh.Unseal(Root(7)));
  auto fresh_kek = fresh.CurrentKek(key_id_);
  ASSERT_TRUE(fresh_kek);
  EXPECT_EQ(Material(*fresh_kek), Material(*kek));

  // Another root key gives another KEK.
  KeyHierarchy other_root(*directory_);
  ASSERT_OK(other_root.Unseal(Root(8)));
  auto other = other_root.CurrentKek(key_id_);
  ASSERT_TRUE(other);
  EXPECT_NE(Material(*other), Material(*kek));

  // Other keys (and the SSE-S3 key) give other KEKs.
  auto second_key = directory_->Create("", "");
  ASSERT_TRUE(second_key);
  auto second = ring_->CurrentKek(second_key->key_id);
  ASSERT_TRUE(second);
  EXPECT_NE(Material(*second), Material(*kek));
  auto sse_s3 = ring_->CurrentKek(kSseS3KeyId);
  ASSERT_TRUE(sse_s3) << sse_s3.error().ToString();
  EXPECT_EQ(sse_s3->key_ref, "sse-s3/1");
  EXPECT_EQ(sse_s3->key_id, kSseS3KeyId);
  EXPECT_NE(Material(*sse_s3), Material(*kek));
  auto sse_found = ring_->FindKek("strongroom", "sse-s3/1");
  ASSERT_TRUE(sse_found);
  EXPECT_EQ(Material(*sse_found), Material(*sse_s3));
  auto managed = directory_->Resolve(kDefaultKmsAlias);
  ASSERT_TRUE(managed);
  auto managed_kek = ring_->CurrentKek(managed->key_id);
  ASSERT_TRUE(managed_kek);
  EXPECT_NE(Material(*managed_kek), Material(*sse_s3));
}

TEST_F(KeyHierarchyTest, NewVersionsGetNewKeksAndOldOnesStayReadable) {
  UnsealWith(3);
  auto v1 = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(v1);
  ASSERT_OK(
      catalog_->AddKmsKeyVersion(catalog::KmsKeyVersion{key_id_, 2, *crypto::RandomBytes(32), 5}));
  auto v2 = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->version, 2u);
  EXPECT_EQ(v2->key_ref, key_id_ + "/2");
  EXPECT_NE(Material(*v2), Material(*v1));
  auto salt2 = directory_->VersionSalt(key_id_, 2);
  ASSERT_TRUE(salt2);
  EXPECT_EQ(Material(*v2), ExpectedKek(Root(3).reveal(), *salt2, key_id_, 2));
  auto old = ring_->FindKek(kRootProvider, key_id_ + "/1");
  ASSERT_TRUE(old);
  EXPECT_EQ(Material(*old), Material(*v1));
  EXPECT_EQ(old->version, 1u);

  // The same salt with another version number is another KEK (the version is in info).
  EXPECT_NE(ExpectedKek(Root(3).reveal(), *salt2, key_id_, 1), Material(*v2));

  auto missing = ring_->FindKek(kRootProvider, key_id_ + "/3");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(KeyHierarchyTest, DisabledKeysAreRefusedAtOnceEvenFromAnotherProcess) {
  UnsealWith(4);
  auto kek = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(kek);  // now cached

  // `strongroom key disable` runs with its own catalog connection.
  auto other_catalog = catalog::SqliteCatalog::Open(path_);
  ASSERT_TRUE(other_catalog);
  KeyDirectory other(**other_catalog);
  ASSERT_OK(other.SetState(key_id_, KeyState::kDisabled));

  auto expect_disabled = [&](const Result<Kek>& result) {
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(result.error().reason(), "KMS.DisabledException");
    EXPECT_EQ(result.error().message(), key_id_ + " is disabled.");
  };
  expect_disabled(ring_->CurrentKek(key_id_));
  expect_disabled(ring_->FindKek(kRootProvider, kek->key_ref));

  ASSERT_OK(other.SetState(key_id_, KeyState::kEnabled));
  auto back = ring_->FindKek(kRootProvider, kek->key_ref);
  ASSERT_TRUE(back);
  EXPECT_EQ(Material(*back), Material(*kek));
}

TEST_F(KeyHierarchyTest, UnknownKeysAndMalformedReferences) {
  UnsealWith(5);
  const std::string missing = "0f1e2d3c-4b5a-4968-8776-655443322110";
  auto unknown = ring_->CurrentKek(missing);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().reason(), "KMS.NotFoundException");
  unknown = ring_->FindKek(kRootProvider, missing + "/1");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().reason(), "KMS.NotFoundException");

  // Envelopes of other providers are not ours.
  EXPECT_TRUE(FailsWith(ring_->FindKek("local", key_id_ + "/1"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(ring_->FindKek("", key_id_ + "/1"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(ring_->FindKek("local", "root/1"), ErrorCode::kNotFound));

  for (const std::string& bad : std::vector<std::string>{
           key_id_, key_id_ + "/", key_id_ + "/0", key_id_ + "/01", key_id_ + "/+1",
           key_id_ + "/-1", key_id_ + "/1x", key_id_ + "/ 1", key_id_ + "/4294967296",
           std::string("/1"), std::string(""), key_id_ + "/0x1"}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(FailsWith(ring_->FindKek(kRootProvider, bad), ErrorCode::kInvalidArgument));
  }
  // The largest version number parses (and does not exist).
  EXPECT_TRUE(
      FailsWith(ring_->FindKek(kRootProvider, key_id_ + "/4294967295"), ErrorCode::kNotFound));
}

TEST_F(KeyHierarchyTest, SealedBoxesBindPurposeAadAndRoot) {
  UnsealWith(6);
  auto box = ring_->Seal("user-secret", AsBytes("s3cr3t"), AsBytes("AKID"));
  ASSERT_TRUE(box);
  EXPECT_EQ(std::string(AsChars(*box)).find("s3cr3t"), std::string::npos);
  auto opened = ring_->Unseal("user-secret", *box, AsBytes("AKID"));
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(AsChars(opened->reveal()), "s3cr3t");

  EXPECT_TRUE(
      FailsWith(ring_->Unseal("object-attributes", *box, AsBytes("AKID")), ErrorCode::kDataLoss));
  EXPECT_TRUE(
      FailsWith(ring_->Unseal("user-secret", *box, AsBytes("AKID2")), ErrorCode::kDataLoss));
  Bytes flipped = *box;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_TRUE(
      FailsWith(ring_->Unseal("user-secret", flipped, AsBytes("AKID")), ErrorCode::kDataLoss));

  KeyHierarchy other(*directory_);
  ASSERT_OK(other.Unseal(Root(9)));
  EXPECT_TRUE(FailsWith(other.Unseal("user-secret", *box, AsBytes("AKID")), ErrorCode::kDataLoss));
  KeyHierarchy same(*directory_);
  ASSERT_OK(same.Unseal(Root(6)));
  EXPECT_TRUE(same.Unseal("user-secret", *box, AsBytes("AKID")));
}

TEST_F(KeyHierarchyTest, CacheIsBoundedAndEvictedKeksAreDerivedAgainEqual) {
  KeyHierarchy ring(*directory_, KekCacheOptions{.max_entries = 2});
  ASSERT_OK(ring.Unseal(Root(11)));
  std::vector<std::string> ids = {key_id_};
  for (int i = 0; i < 2; ++i) {
    auto created = directory_->Create("", "");
    ASSERT_TRUE(created);
    ids.push_back(created->key_id);
  }
  auto first = ring.CurrentKek(ids[0]);
  ASSERT_TRUE(first);
  auto hit = ring.FindKek(kRootProvider, ids[0] + "/1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->material.get(), first->material.get()) << "served from the cache";
  ASSERT_TRUE(ring.CurrentKek(ids[1]));
  ASSERT_TRUE(ring.CurrentKek(ids[2]));  // evicts ids[0]
  auto again = ring.CurrentKek(ids[0]);
  ASSERT_TRUE(again);
  EXPECT_NE(again->material.get(), first->material.get()) << "derived anew";
  EXPECT_EQ(Material(*again), Material(*first));
  EXPECT_EQ(first->material->size(), 32u) << "a handle outlives its eviction";
}

TEST_F(KeyHierarchyTest, ConcurrentUseWhileUnsealing) {
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        auto kek = ring_->CurrentKek(key_id_);
        if (kek) {
          ++ok;
        } else if (kek.error().code() != ErrorCode::kUnavailable) {
          ++wrong;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  UnsealWith(12);
  while (ok.load() < 200) std::this_thread::yield();
  stop = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace strongroom::keys
