// SPDX-License-Identifier: Apache-2.0
// KeyDirectory over the real SqliteCatalog: creation, every reference form
// Resolve accepts, alias rules, state, grants, the built-in keys.

#include "keys/key_directory.h"

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "catalog/sqlite/sqlite_catalog.h"
#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

template <typename T>
::testing::AssertionResult KmsNotFound(const Result<T>& result, const std::string& message) {
  if (result.has_value()) return ::testing::AssertionFailure() << "succeeded";
  const Error& e = result.error();
  if (e.code() != ErrorCode::kNotFound || e.reason() != "KMS.NotFoundException" ||
      e.message() != message) {
    return ::testing::AssertionFailure() << "failed with \"" << e.ToString() << "\" reason '"
                                         << e.reason() << "'; expected \"" << message << "\"";
  }
  return ::testing::AssertionSuccess();
}

class KeyDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = catalog::SqliteCatalog::Open(scratch_.path() + "/catalog.db");
    ASSERT_TRUE(opened) << opened.error().ToString();
    catalog_ = std::move(opened).value();
    directory_ = std::make_unique<KeyDirectory>(*catalog_);
    ASSERT_OK(directory_->EnsureBuiltinKeys());
  }

  KeyInfo MustCreate(std::string_view name, std::string_view description = "") {
    auto created = directory_->Create(name, description);
    EXPECT_TRUE(created) << created.error().ToString();
    return created ? *created : KeyInfo{};
  }

  ScratchDir scratch_;
  std::unique_ptr<catalog::SqliteCatalog> catalog_;
  std::unique_ptr<KeyDirectory> directory_;
};

TEST_F(KeyDirectoryTest, CreateMakesAUuidKeyWithASaltedFirstVersion) {
  KeyInfo key = MustCreate("orders", "order data");
  EXPECT_TRUE(std::regex_match(
      key.key_id,
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << key.key_id;
  EXPECT_EQ(key.aliases, (std::vector<std::string>{"alias/orders"}));
  EXPECT_EQ(key.description, "order data");
  EXPECT_EQ(key.state, KeyState::kEnabled);
  EXPECT_EQ(key.current_version, 1u);
  EXPECT_GT(key.created_ms, 1600000000000);
  EXPECT_FALSE(key.aws_managed);
  EXPECT_EQ(key.provider, "strongroom");

  auto salt = directory_->VersionSalt(key.key_id, 1);
  ASSERT_TRUE(salt);
  EXPECT_EQ(salt->size(), 32u);
  EXPECT_TRUE(FailsWith(directory_->VersionSalt(key.key_id, 2), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(directory_->VersionSalt("nope", 1), ErrorCode::kNotFound));

  // A nameless key; ids and salts are fresh each time.
  KeyInfo other = MustCreate("");
  EXPECT_TRUE(other.aliases.empty());
  EXPECT_NE(other.key_id, key.key_id);
  auto other_salt = directory_->VersionSalt(other.key_id, 1);
  ASSERT_TRUE(other_salt);
  EXPECT_NE(*other_salt, *salt);

  // "alias/NAME" works as the name too; a taken alias creates nothing.
  KeyInfo prefixed = MustCreate("alias/billing");
  EXPECT_EQ(prefixed.aliases, (std::vector<std::string>{"alias/billing"}));
  auto before = directory_->List();
  ASSERT_TRUE(before);
  EXPECT_TRUE(FailsWith(directory_->Create("orders", ""), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(FailsWith(directory_->Create("alias/orders", ""), ErrorCode::kAlreadyExists));
  auto after = directory_->List();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), before->size());
  EXPECT_TRUE(
      FailsWith(directory_->Create("", std::string(8193, 'd')), ErrorCode::kInvalidArgument));
}

TEST_F(KeyDirectoryTest, AliasNamesFollowAwsRules) {
  for (const std::string& bad :
       std::vector<std::string>{"alias/", "alias/has space", "alias/dot.ted", "caf\xc3\xa9",
                                "alias/aws/s3", "aws/mine", "alias/aws/x", std::string(251, 'a')}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(FailsWith(directory_->Create(bad, ""), ErrorCode::kInvalidArgument));
  }
  for (const std::string& good :
       std::vector<std::string>{"a", "A-b_c/d", "alias/x/y/z", std::string(250, 'z'), "awsome",
                                "aws-like", "alias/awsx/y"}) {
    SCOPED_TRACE(good);
    auto created = directory_->Create(good, "");
    ASSERT_TRUE(created) << created.error().ToString();
    EXPECT_EQ(created->aliases.front(), good.starts_with("alias/") ? good : "alias/" + good);
  }
}

TEST_F(KeyDirectoryTest, ResolveAcceptsEveryReferenceForm) {
  KeyInfo key = MustCreate("photos");
  const std::string& id = key.key_id;
  std::string upper = id;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& reference :
       std::vector<std::string>{id, upper, std::string("alias/photos"), std::string("photos"),
                                "arn:aws:kms:us-east-1:123456789012:key/" + id,
                                "arn:aws:kms:eu-west-3:000000000000:key/" + id,
                                std::string("arn:aws:kms:us-east-1:123456789012:alias/photos"),
                                std::string("arn:aws:kms:ap-south-1:999:alias/photos")}) {
    SCOPED_TRACE(reference);
    auto resolved = directory_->Resolve(reference);
    ASSERT_TRUE(resolved) << resolved.error().ToString();
    EXPECT_EQ(resolved->key_id, id);
    EXPECT_EQ(resolved->aliases, (std::vector<std::string>{"alias/photos"}));
  }

  // Unknown references: KMS.NotFoundException naming what the client sent.
  const std::string missing_id = "0f1e2d3c-4b5a-4968-8776-655443322110";
  EXPECT_TRUE(
      KmsNotFound(directory_->Resolve(missing_id), "Key '" + missing_id + "' does not exist"));
  std::string arn = "arn:aws:kms:us-east-1:123456789012:key/" + missing_id;
  EXPECT_TRUE(KmsNotFound(directory_->Resolve(arn), "Key '" + arn + "' does not exist"));
  EXPECT_TRUE(KmsNotFound(directory_->Resolve("alias/x"), "Alias 'alias/x' is not found."));
  EXPECT_TRUE(KmsNotFound(directory_->Resolve("x"), "Alias 'x' is not found."));
  std::string alias_arn = "arn:aws:kms:us-east-1:123456789012:alias/x";
  EXPECT_TRUE(
      KmsNotFound(directory_->Resolve(alias_arn), "Alias '" + alias_arn + "' is not found."));
  for (const std::string& odd :
       std::vector<std::string>{"arn:aws:s3:::bucket/key", "arn:aws:kms:us-east-1:1:key/not-a-uuid",
                                "arn:aws:kms:us-east-1:1:other/x", "arn:aws:kms", ""}) {
    SCOPED_TRACE(odd);
    auto resolved = directory_->Resolve(odd);
    ASSERT_FALSE(resolved);
    EXPECT_EQ(resolved.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(resolved.error().reason(), "KMS.NotFoundException");
  }
}

TEST_F(KeyDirectoryTest, BuiltinKeys) {
  // The aws/s3 key: resolvable by alias and id, listed, usable by everyone.
  auto managed = directory_->Resolve("alias/aws/s3");
  ASSERT_TRUE(managed) << managed.error().ToString();
  EXPECT_TRUE(managed->aws_managed);
  EXPECT_EQ(managed->aliases, (std::vector<std::string>{std::string(kDefaultKmsAlias)}));
  EXPECT_EQ(managed->state, KeyState::kEnabled);
  auto by_id = directory_->Resolve(managed->key_id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->key_id, managed->key_id);
  auto by_arn = directory_->Resolve("arn:aws:kms:us-east-1:123456789012:alias/aws/s3");
  ASSERT_TRUE(by_arn);
  EXPECT_EQ(by_arn->key_id, managed->key_id);
  auto granted = directory_->IsGranted(managed->key_id, "AKIAANYONE");
  ASSERT_TRUE(granted);
  EXPECT_TRUE(*granted);

  // The SSE-S3 key: Get finds it, Resolve and List never do.
  auto sse_s3 = directory_->Get(kSseS3KeyId);
  ASSERT_TRUE(sse_s3) << sse_s3.error().ToString();
  EXPECT_EQ(sse_s3->key_id, kSseS3KeyId);
  EXPECT_FALSE(sse_s3->aws_managed);
  EXPECT_TRUE(FailsWith(directory_->Resolve(kSseS3KeyId), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(directory_->Resolve("alias/sse-s3"), ErrorCode::kNotFound));
  auto salt = directory_->VersionSalt(kSseS3KeyId, 1);
  ASSERT_TRUE(salt);
  EXPECT_EQ(salt->size(), 32u);

  auto listed = directory_->List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key_id, managed->key_id);

  // Neither built-in key can be disabled, aliased or granted.
  for (const std::string& id :
       std::vector<std::string>{std::string(kSseS3KeyId), managed->key_id}) {
    SCOPED_TRACE(id);
    EXPECT_TRUE(
        FailsWith(directory_->SetState(id, KeyState::kDisabled), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(FailsWith(directory_->AddAlias(id, "mine"), ErrorCode::kInvalidArgument));
    EXPECT_TRUE(FailsWith(directory_->Grant(id, "AKIA1"), ErrorCode::kInvalidArgument));
  }
  EXPECT_TRUE(FailsWith(directory_->RemoveAlias("alias/aws/s3"), ErrorCode::kInvalidArgument));
  auto sse_granted = directory_->IsGranted(kSseS3KeyId, "AKIA1");
  ASSERT_TRUE(sse_granted);
  EXPECT_FALSE(*sse_granted);

  // Idempotent: nothing changes on a second call or from another connection.
  Bytes salt_before = *salt;
  ASSERT_OK(directory_->EnsureBuiltinKeys());
  auto other_catalog = catalog::SqliteCatalog::Open(scratch_.path() + "/catalog.db");
  ASSERT_TRUE(other_catalog);
  KeyDirectory other(**other_catalog);
  ASSERT_OK(other.EnsureBuiltinKeys());
  auto salt_after = directory_->VersionSalt(kSseS3KeyId, 1);
  ASSERT_TRUE(salt_after);
  EXPECT_EQ(*salt_after, salt_before);
  listed = directory_->List();
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(KeyDirectoryTest, BuiltinKeysSurviveARaceBetweenProcesses) {
  // Fresh catalog; several connections (as separate processes would) race.
  ScratchDir dir;
  std::string path = dir.path() + "/race.db";
  constexpr int kRacers = 6;
  std::vector<std::unique_ptr<catalog::SqliteCatalog>> catalogs;
  for (int i = 0; i < kRacers; ++i) {
    auto opened = catalog::SqliteCatalog::Open(path);
    ASSERT_TRUE(opened) << opened.error().ToString();
    catalogs.push_back(std::move(opened).value());
  }
  std::vector<Result<void>> results(kRacers, Ok());
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] { results[i] = KeyDirectory(*catalogs[i]).EnsureBuiltinKeys(); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r) << r.error().ToString();
  auto keys = catalogs[0]->ListKmsKeys();
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->size(), 2u) << "one sse-s3 key and one aws/s3 key";
  KeyDirectory directory(*catalogs[0]);
  EXPECT_TRUE(directory.Resolve("alias/aws/s3"));
  EXPECT_TRUE(directory.Get(kSseS3KeyId));
}

TEST_F(KeyDirectoryTest, StateChangesAreSeenByAnotherConnectionAtOnce) {
  KeyInfo key = MustCreate("k");
  auto other_catalog = catalog::SqliteCatalog::Open(scratch_.path() + "/catalog.db");
  ASSERT_TRUE(other_catalog);
  KeyDirectory other(**other_catalog);

  ASSERT_OK(other.SetState(key.key_id, KeyState::kDisabled));
  auto seen = directory_->Get(key.key_id);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->state, KeyState::kDisabled);
  auto resolved = directory_->Resolve("k");
  ASSERT_TRUE(resolved) << "a disabled key still resolves; using it fails";
  EXPECT_EQ(resolved->state, KeyState::kDisabled);

  ASSERT_OK(directory_->SetState(key.key_id, KeyState::kEnabled));
  seen = other.Get(key.key_id);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->state, KeyState::kEnabled);

  EXPECT_TRUE(
      KmsNotFound(directory_->SetState("0f1e2d3c-4b5a-4968-8776-655443322110", KeyState::kDisabled),
                  "Key '0f1e2d3c-4b5a-4968-8776-655443322110' does not exist"));
}

TEST_F(KeyDirectoryTest, Aliases) {
  KeyInfo a = MustCreate("first");
  KeyInfo b = MustCreate("");
  ASSERT_OK(directory_->AddAlias(a.key_id, "second"));
  ASSERT_OK(directory_->AddAlias(a.key_id, "alias/third"));
  auto got = directory_->Get(a.key_id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->aliases, (std::vector<std::string>{"alias/first", "alias/second", "alias/third"}));
  auto resolved = directory_->Resolve("third");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->key_id, a.key_id);

  EXPECT_TRUE(FailsWith(directory_->AddAlias(b.key_id, "first"), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(
      FailsWith(directory_->AddAlias(b.key_id, "alias/aws/mine"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->AddAlias(b.key_id, "bad name"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->AddAlias("0f1e2d3c-4b5a-4968-8776-655443322110", "free"),
                        ErrorCode::kNotFound));

  ASSERT_OK(directory_->RemoveAlias("first"));
  EXPECT_TRUE(KmsNotFound(directory_->Resolve("alias/first"), "Alias 'alias/first' is not found."));
  EXPECT_TRUE(FailsWith(directory_->RemoveAlias("alias/first"), ErrorCode::kNotFound));
  ASSERT_OK(directory_->AddAlias(b.key_id, "first"));  // a freed alias may move
  resolved = directory_->Resolve("alias/first");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->key_id, b.key_id);
}

TEST_F(KeyDirectoryTest, Grants) {
  KeyInfo a = MustCreate("a");
  KeyInfo b = MustCreate("b");
  ASSERT_OK(directory_->Grant(a.key_id, "AKIAUSER2"));
  ASSERT_OK(directory_->Grant(a.key_id, "AKIAUSER1"));
  ASSERT_OK(directory_->Grant(a.key_id, "AKIAUSER1"));

  auto granted = directory_->IsGranted(a.key_id, "AKIAUSER1");
  ASSERT_TRUE(granted);
  EXPECT_TRUE(*granted);
  granted = directory_->IsGranted(b.key_id, "AKIAUSER1");
  ASSERT_TRUE(granted);
  EXPECT_FALSE(*granted) << "a grant is for one key";
  granted = directory_->IsGranted(a.key_id, "AKIAOTHER");
  ASSERT_TRUE(granted);
  EXPECT_FALSE(*granted);
  EXPECT_TRUE(FailsWith(directory_->IsGranted("0f1e2d3c-4b5a-4968-8776-655443322110", "AKIAUSER1"),
                        ErrorCode::kNotFound));

  auto grantees = directory_->Grantees(a.key_id);
  ASSERT_TRUE(grantees);
  EXPECT_EQ(*grantees, (std::vector<std::string>{"AKIAUSER1", "AKIAUSER2"}));

  ASSERT_OK(directory_->Revoke(a.key_id, "AKIAUSER1"));
  EXPECT_TRUE(FailsWith(directory_->Revoke(a.key_id, "AKIAUSER1"), ErrorCode::kNotFound));
  granted = directory_->IsGranted(a.key_id, "AKIAUSER1");
  ASSERT_TRUE(granted);
  EXPECT_FALSE(*granted);
  EXPECT_TRUE(FailsWith(directory_->Grant(a.key_id, ""), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(directory_->Grant("0f1e2d3c-4b5a-4968-8776-655443322110", "AKIA"),
                        ErrorCode::kNotFound));
}

TEST_F(KeyDirectoryTest, ListIsInCreationOrderWithAliases) {
  KeyInfo a = MustCreate("one");
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  KeyInfo b = MustCreate("two");
  auto listed = directory_->List();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_TRUE((*listed)[0].aws_managed);
  EXPECT_EQ((*listed)[1].key_id, a.key_id);
  EXPECT_EQ((*listed)[1].aliases, (std::vector<std::string>{"alias/one"}));
  EXPECT_EQ((*listed)[2].key_id, b.key_id);
}

}  // namespace
}  // namespace strongroom::keys
