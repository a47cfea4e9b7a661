// SPDX-License-Identifier: Apache-2.0
// The key lifecycle over a real SqliteCatalog and KeyHierarchy: rotation
// (new writes under the new version, old versions still unwrap), scheduled
// destruction (refused at once, cancellable, crypto-shred once due, by use
// or by the sweep), the KMS.KMSInvalidStateException errors, built-in keys.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "catalog/sqlite/sqlite_catalog.h"
#include "keys/hierarchy/key_hierarchy.h"
#include "keys/key_directory.h"
#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

constexpr char kInvalidState[] = "KMS.KMSInvalidStateException";

Bytes Material(const Kek& kek) {
  ByteView m = kek.material->reveal();
  return Bytes(m.begin(), m.end());
}

template <typename T>
::testing::AssertionResult FailsWithReason(const Result<T>& result, std::string_view reason,
                                           std::string_view message_part = "") {
  if (result) return ::testing::AssertionFailure() << "succeeded; expected " << reason;
  if (result.error().code() != ErrorCode::kFailedPrecondition ||
      result.error().reason() != reason ||
      result.error().message().find(message_part) == std::string::npos) {
    return ::testing::AssertionFailure() << "failed with " << result.error().ToString()
                                         << " (reason " << result.error().reason() << ")";
  }
  return ::testing::AssertionSuccess();
}

class KeyLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = scratch_.path() + "/catalog.db";
    auto opened = catalog::SqliteCatalog::Open(path_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    catalog_ = std::move(*opened);
    directory_ = std::make_unique<KeyDirectory>(*catalog_);
    ASSERT_OK(directory_->EnsureBuiltinKeys());
    ring_ = std::make_unique<KeyHierarchy>(*directory_);
    crypto::SecretBytes root(32);
    for (auto& b : root.mutable_reveal()) b = 0x5a;
    ASSERT_OK(ring_->Unseal(std::move(root)));
    auto key = directory_->Create("app", "");
    ASSERT_TRUE(key) << key.error().ToString();
    key_id_ = key->key_id;
  }

  ScratchDir scratch_;
  std::string path_;
  std::unique_ptr<catalog::SqliteCatalog> catalog_;
  std::unique_ptr<KeyDirectory> directory_;
  std::unique_ptr<KeyHierarchy> ring_;
  std::string key_id_;
};

TEST_F(KeyLifecycleTest, RotateAddsACurrentVersionAndKeepsOldOnesUsable) {
  auto v1 = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->version, 1u);
  auto salt1 = directory_->VersionSalt(key_id_, 1);
  ASSERT_TRUE(salt1);

  auto rotated = directory_->Rotate(key_id_);
  ASSERT_TRUE(rotated) << rotated.error().ToString();
  EXPECT_EQ(rotated->current_version, 2u);
  auto salt2 = directory_->VersionSalt(key_id_, 2);
  ASSERT_TRUE(salt2);
  EXPECT_NE(*salt1, *salt2);
  EXPECT_EQ(salt2->size(), 32u);

  // A running ring sees the rotation at once: new wraps use version 2 (new
  // material), version 1 still resolves to the same material as before.
  auto v2 = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->version, 2u);
  EXPECT_EQ(v2->key_ref, key_id_ + "/2");
  EXPECT_NE(Material(*v2), Material(*v1));
  auto again = ring_->FindKek(kRootProvider, key_id_ + "/1");
  ASSERT_TRUE(again);
  EXPECT_EQ(Material(*again), Material(*v1));
  EXPECT_TRUE(FailsWith(ring_->FindKek(kRootProvider, key_id_ + "/3"), ErrorCode::kNotFound));

  // A second ring on another connection (another process) agrees.
  auto other_catalog = catalog::SqliteCatalog::Open(path_);
  ASSERT_TRUE(other_catalog);
  KeyDirectory other_directory(**other_catalog);
  KeyHierarchy other_ring(other_directory);
  crypto::SecretBytes root(32);
  for (auto& b : root.mutable_reveal()) b = 0x5a;
  ASSERT_OK(other_ring.Unseal(std::move(root)));
  auto seen = other_ring.CurrentKek(key_id_);
  ASSERT_TRUE(seen);
  EXPECT_EQ(Material(*seen), Material(*v2));

  // SSE-S3 and the aws/s3 key rotate too; a disabled key may be rotated.
  auto sse = directory_->Rotate(kSseS3KeyId);
  ASSERT_TRUE(sse) << sse.error().ToString();
  EXPECT_EQ(sse->current_version, 2u);
  auto sse_kek = ring_->CurrentKek(kSseS3KeyId);
  ASSERT_TRUE(sse_kek);
  EXPECT_EQ(sse_kek->key_ref, "sse-s3/2");
  auto managed = directory_->Resolve(kDefaultKmsAlias);
  ASSERT_TRUE(managed);
  ASSERT_TRUE(directory_->Rotate(managed->key_id));
  ASSERT_OK(directory_->SetState(key_id_, KeyState::kDisabled));
  auto disabled = directory_->Rotate(key_id_);
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->current_version, 3u);
  EXPECT_TRUE(FailsWith(directory_->Rotate("no-such-key"), ErrorCode::kNotFound));
}

TEST_F(KeyLifecycleTest, PendingDestroyRefusesUseAtOnceAndCanBeCancelled) {
  auto before = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(before);
  auto scheduled = directory_->ScheduleDestroy(key_id_, 3600 * 1000);
  ASSERT_TRUE(scheduled) << scheduled.error().ToString();
  EXPECT_EQ(scheduled->state, KeyState::kPendingDestroy);
  EXPECT_GT(scheduled->destroy_ms, 0);

  EXPECT_TRUE(FailsWithReason(ring_->CurrentKek(key_id_), kInvalidState, "pending deletion"));
  EXPECT_TRUE(
      FailsWithReason(ring_->FindKek(kRootProvider, key_id_ + "/1"), kInvalidState, "pending"));
  // Nothing is shredded yet; the state is listed.
  EXPECT_TRUE(directory_->VersionSalt(key_id_, 1));
  auto listed = directory_->List();
  ASSERT_TRUE(listed);
  bool found = false;
  for (const auto& key : *listed) {
    if (key.key_id == key_id_) {
      found = true;
      EXPECT_EQ(key.state, KeyState::kPendingDestroy);
      EXPECT_STREQ(KeyStateName(key.state), "pending-destroy");
    }
  }
  EXPECT_TRUE(found);
  auto none = directory_->DestroyDueKeys();
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  // No enabling, disabling, rotating or scheduling twice meanwhile.
  EXPECT_TRUE(FailsWithReason(directory_->SetState(key_id_, KeyState::kEnabled), kInvalidState));
  EXPECT_TRUE(FailsWithReason(directory_->SetState(key_id_, KeyState::kDisabled), kInvalidState));
  EXPECT_TRUE(FailsWithReason(directory_->Rotate(key_id_), kInvalidState));
  EXPECT_TRUE(FailsWithReason(directory_->ScheduleDestroy(key_id_, 0), kInvalidState));

  // Cancelling leaves it disabled (as AWS); enabling makes it usable with
  // the same material.
  auto cancelled = directory_->CancelDestroy(key_id_);
  ASSERT_TRUE(cancelled) << cancelled.error().ToString();
  EXPECT_EQ(cancelled->state, KeyState::kDisabled);
  EXPECT_EQ(cancelled->destroy_ms, 0);
  EXPECT_TRUE(FailsWithReason(ring_->CurrentKek(key_id_), "KMS.DisabledException"));
  ASSERT_OK(directory_->SetState(key_id_, KeyState::kEnabled));
  auto after = ring_->CurrentKek(key_id_);
  ASSERT_TRUE(after);
  EXPECT_EQ(Material(*after), Material(*before));
  EXPECT_TRUE(FailsWithReason(directory_->CancelDestroy(key_id_), kInvalidState));
}

TEST_F(KeyLifecycleTest, ADueDestroyShredsOnFirstUse) {
  ASSERT_TRUE(directory_->Rotate(key_id_));
  ASSERT_TRUE(ring_->CurrentKek(key_id_));  // cached
  auto scheduled = directory_->ScheduleDestroy(key_id_, 0);
  ASSERT_TRUE(scheduled);
  // The use finds it due, destroys it and says so.
  auto use = ring_->FindKek(kRootProvider, key_id_ + "/1");
  EXPECT_TRUE(FailsWithReason(use, kInvalidState, "crypto-shredded"));
  auto info = directory_->Get(key_id_);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, KeyState::kDestroyed);
  EXPECT_GT(info->destroy_ms, 0);
  EXPECT_EQ(info->current_version, 2u);
  // Both version salts are gone: nothing can derive the KEKs again.
  EXPECT_TRUE(FailsWith(directory_->VersionSalt(key_id_, 1), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(directory_->VersionSalt(key_id_, 2), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWithReason(ring_->CurrentKek(key_id_), kInvalidState, "destroyed"));
  // A destroyed key stays destroyed.
  EXPECT_TRUE(FailsWithReason(directory_->SetState(key_id_, KeyState::kEnabled), kInvalidState));
  EXPECT_TRUE(FailsWithReason(directory_->CancelDestroy(key_id_), kInvalidState));
  EXPECT_TRUE(FailsWithReason(directory_->Rotate(key_id_), kInvalidState));
  EXPECT_TRUE(FailsWithReason(directory_->ScheduleDestroy(key_id_, 0), kInvalidState));
  // It is still listed (by id and alias), as destroyed.
  auto resolved = directory_->Resolve("alias/app");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->state, KeyState::kDestroyed);
  // Other keys are untouched.
  EXPECT_TRUE(ring_->CurrentKek(kSseS3KeyId));
}

TEST_F(KeyLifecycleTest, TheSweepDestroysOnlyDueKeys) {
  auto second = directory_->Create("later", "");
  ASSERT_TRUE(second);
  ASSERT_TRUE(directory_->ScheduleDestroy(key_id_, 50));
  ASSERT_TRUE(directory_->ScheduleDestroy(second->key_id, 3600 * 1000));
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  auto destroyed = directory_->DestroyDueKeys();
  ASSERT_TRUE(destroyed);
  EXPECT_EQ(*destroyed, std::vector<std::string>{key_id_});
  EXPECT_EQ(directory_->Get(key_id_)->state, KeyState::kDestroyed);
  EXPECT_EQ(directory_->Get(second->key_id)->state, KeyState::kPendingDestroy);
  EXPECT_TRUE(directory_->VersionSalt(second->key_id, 1));
  destroyed = directory_->DestroyDueKeys();
  ASSERT_TRUE(destroyed);
  EXPECT_TRUE(destroyed->empty());
}

TEST_F(KeyLifecycleTest, OnlyOwnedProviderKeysOfDestroyedKeysAreToDestroy) {
  auto owned = directory_->Create("owned", "", "kmip", "uid-1", /*provider_key_owned=*/true);
  auto supplied = directory_->Create("supplied", "", "kmip", "uid-2");
  ASSERT_TRUE(owned && supplied);
  EXPECT_TRUE(owned->provider_key_owned);
  EXPECT_FALSE(supplied->provider_key_owned);
  EXPECT_TRUE(FailsWith(directory_->Create("bad", "", "strongroom", "", true),
                        ErrorCode::kInvalidArgument));
  ASSERT_TRUE(directory_->ProviderKeysToDestroy()->empty());
  for (const auto& key : {*owned, *supplied}) {
    ASSERT_TRUE(directory_->ScheduleDestroy(key.key_id, 0));
  }
  ASSERT_TRUE(directory_->DestroyDueKeys());
  auto due = directory_->ProviderKeysToDestroy();
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);  // never a key the operator brought
  EXPECT_EQ((*due)[0].key_id, owned->key_id);
  EXPECT_EQ((*due)[0].provider_key, "uid-1");
  ASSERT_TRUE(directory_->SettleProviderKey(owned->key_id, "destroyed"));
  EXPECT_TRUE(directory_->ProviderKeysToDestroy()->empty());
  EXPECT_GT(directory_->Get(owned->key_id)->provider_key_settled_ms, 0);
  EXPECT_EQ(directory_->Get(owned->key_id)->provider_key_outcome, "destroyed");

  // A provider key another live key shares waits for that one.
  auto first = directory_->Create("first", "", "pkcs11", "label-x", true);
  auto sharer = directory_->Create("sharer", "", "pkcs11", "label-x");
  ASSERT_TRUE(first && sharer);
  ASSERT_TRUE(directory_->ScheduleDestroy(first->key_id, 0));
  ASSERT_TRUE(directory_->DestroyDueKeys());
  EXPECT_TRUE(directory_->ProviderKeysToDestroy()->empty());
  ASSERT_TRUE(directory_->ScheduleDestroy(sharer->key_id, 0));
  ASSERT_TRUE(directory_->DestroyDueKeys());
  due = directory_->ProviderKeysToDestroy();
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].key_id, first->key_id);
}

TEST_F(KeyLifecycleTest, BuiltInKeysCannotBeDestroyed) {
  auto managed = directory_->Resolve(kDefaultKmsAlias);
  ASSERT_TRUE(managed);
  EXPECT_TRUE(FailsWith(directory_->ScheduleDestroy(managed->key_id, 0),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->ScheduleDestroy(kSseS3KeyId, 0), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->ScheduleDestroy(key_id_, -1), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->ScheduleDestroy("nope", 0), ErrorCode::kNotFound));
  EXPECT_TRUE(ring_->CurrentKek(kSseS3KeyId));
}

}  // namespace
}  // namespace strongroom::keys
