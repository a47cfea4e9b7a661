// SPDX-License-Identifier: Apache-2.0
// The development root key file.

#include "keys/local/dev_root.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

Bytes Copy(const crypto::SecretBytes& s) { return Bytes(s.reveal().begin(), s.reveal().end()); }

TEST(DevRootTest, CreatesAPrivateRootKeyOnceAndReopensIt) {
  ScratchDir scratch;
  std::string dir = scratch.path() + "/keys";
  bool created = false;
  auto first = LoadOrCreateDevRoot(dir, &created);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(created);
  EXPECT_EQ(first->size(), 32u);
  struct stat st;
  ASSERT_EQ(::stat((dir + "/root.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto second = LoadOrCreateDevRoot(dir, &created);
  ASSERT_TRUE(second);
  EXPECT_FALSE(created);
  EXPECT_EQ(Copy(*second), Copy(*first));
  EXPECT_TRUE(LoadOrCreateDevRoot(dir, nullptr));

  std::string other_dir = scratch.path() + "/other";
  auto other = LoadOrCreateDevRoot(other_dir, nullptr);
  ASSERT_TRUE(other);
  EXPECT_NE(Copy(*other), Copy(*first));
}

TEST(DevRootTest, RefusesAKeyReadableByOthersOrOfTheWrongSize) {
  ScratchDir scratch;
  std::string dir = scratch.path() + "/keys";
  ASSERT_TRUE(LoadOrCreateDevRoot(dir, nullptr));
  std::string path = dir + "/root.key";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_TRUE(FailsWith(LoadOrCreateDevRoot(dir, nullptr), ErrorCode::kFailedPrecondition));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  std::ofstream(path, std::ios::app) << "x";
  EXPECT_TRUE(FailsWith(LoadOrCreateDevRoot(dir, nullptr), ErrorCode::kFailedPrecondition));
}

TEST(DevRootTest, ConcurrentFirstUseAgreesOnOneKey) {
  ScratchDir scratch;
  std::string dir = scratch.path() + "/keys";
  constexpr int kThreads = 8;
  std::vector<Bytes> keys(kThreads);
  std::vector<int> created(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      bool made = false;
      auto key = LoadOrCreateDevRoot(dir, &made);
      if (key) keys[i] = Copy(*key);
      created[i] = made ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  int made = 0;
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(keys[i].size(), 32u);
    EXPECT_EQ(keys[i], keys[0]);
    made += created[i];
  }
  EXPECT_EQ(made, 1);
}

}  // namespace
}  // namespace strongroom::keys
