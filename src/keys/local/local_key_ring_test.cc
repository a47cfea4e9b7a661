// SPDX-License-Identifier: Apache-2.0
#include "keys/local/local_key_ring.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

namespace strongroom::keys {
namespace {

std::string TempDir() {
  std::string t = std::filesystem::temp_directory_path() / "sr-keys-XXXXXX";
  return mkdtemp(t.data());
}

TEST(LocalKeyRingTest, CreatesAPrivateRootKeyOnceAndReopensIt) {
  std::string dir = TempDir() + "/keys";
  auto first = LocalKeyRing::OpenOrCreate(dir);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_TRUE((*first)->created());
  struct stat st;
  ASSERT_EQ(stat((dir + "/root.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto second = LocalKeyRing::OpenOrCreate(dir);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE((*second)->created());
  auto a = (*first)->CurrentKek();
  auto b = (*second)->CurrentKek();
  EXPECT_EQ(Bytes(a->material->reveal().begin(), a->material->reveal().end()),
            Bytes(b->material->reveal().begin(), b->material->reveal().end()));
  // The KEK is derived, not the root key itself.
  EXPECT_EQ(a->key_id, "root/1");
}

TEST(LocalKeyRingTest, RefusesAKeyReadableByOthers) {
  std::string dir = TempDir() + "/keys";
  ASSERT_TRUE(LocalKeyRing::OpenOrCreate(dir).has_value());
  chmod((dir + "/root.key").c_str(), 0644);
  auto ring = LocalKeyRing::OpenOrCreate(dir);
  ASSERT_FALSE(ring.has_value());
  EXPECT_EQ(ring.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(LocalKeyRingTest, SealsAndUnsealsPerPurpose) {
  auto ring = LocalKeyRing::OpenOrCreate(TempDir() + "/keys");
  ASSERT_TRUE(ring.has_value());
  auto sealed = (*ring)->Seal("user-secret", AsBytes("s3cr3t"), AsBytes("AKID"));
  ASSERT_TRUE(sealed.has_value());
  auto opened = (*ring)->Unseal("user-secret", *sealed, AsBytes("AKID"));
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(AsChars(opened->reveal()), "s3cr3t");
  EXPECT_EQ((*ring)->Unseal("other", *sealed, AsBytes("AKID")).error().code(),
            ErrorCode::kDataLoss);
  EXPECT_EQ((*ring)->Unseal("user-secret", *sealed, AsBytes("AKID2")).error().code(),
            ErrorCode::kDataLoss);
  EXPECT_FALSE((*ring)->FindKek("local", "root/2").has_value());
}

}  // namespace
}  // namespace strongroom::keys
