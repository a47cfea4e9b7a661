// SPDX-License-Identifier: Apache-2.0
// The passphrase-sealed root key: round trip, wrong passphrase, file modes,
// corruption, and that the file is an ordinary file container.

#include "keys/passphrase/passphrase_root.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "base/file.h"
#include "format/file_container.h"
#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

Bytes ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const Bytes& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

class PassphraseRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Cheap Argon2id costs for tests (stored in the file, used to open it).
    ::setenv("STRONGROOM_ARGON2_PARAMS", "1,8192,1", 1);
    dir_ = scratch_.path() + "/keys";
    path_ = dir_ + "/root.sealed";
  }
  void TearDown() override { ::unsetenv("STRONGROOM_ARGON2_PARAMS"); }

  ScratchDir scratch_;
  std::string dir_;
  std::string path_;
};

TEST_F(PassphraseRootTest, CreateThenOpenRoundTrips) {
  EXPECT_FALSE(SealedRootExists(dir_));
  ASSERT_TRUE(CreateSealedRoot(dir_, AsBytes("correct horse")));
  EXPECT_TRUE(SealedRootExists(dir_));

  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto root = OpenSealedRoot(dir_, AsBytes("correct horse"));
  ASSERT_TRUE(root) << root.error().ToString();
  EXPECT_EQ(root->size(), 32u);
  auto again = OpenSealedRoot(dir_, AsBytes("correct horse"));
  ASSERT_TRUE(again);
  EXPECT_EQ(Bytes(root->reveal().begin(), root->reveal().end()),
            Bytes(again->reveal().begin(), again->reveal().end()));

  // The key is not in the file in clear.
  Bytes file = ReadAll(path_);
  Bytes key(root->reveal().begin(), root->reveal().end());
  EXPECT_EQ(std::search(file.begin(), file.end(), key.begin(), key.end()), file.end());

  // A second create never replaces the key.
  EXPECT_TRUE(FailsWith(CreateSealedRoot(dir_, AsBytes("other")), ErrorCode::kAlreadyExists));
  EXPECT_EQ(ReadAll(path_), file);

  // Two keyrings get two different root keys.
  std::string dir2 = scratch_.path() + "/keys2";
  ASSERT_TRUE(CreateSealedRoot(dir2, AsBytes("correct horse")));
  auto root2 = OpenSealedRoot(dir2, AsBytes("correct horse"));
  ASSERT_TRUE(root2);
  EXPECT_NE(Bytes(root2->reveal().begin(), root2->reveal().end()), key);
}

TEST_F(PassphraseRootTest, WrongOrEmptyPassphrase) {
  ASSERT_TRUE(CreateSealedRoot(dir_, AsBytes("right")));
  EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, AsBytes("wrong")), ErrorCode::kUnauthenticated));
  EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, AsBytes("right ")), ErrorCode::kUnauthenticated));
  EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, {}), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      FailsWith(CreateSealedRoot(scratch_.path() + "/k3", {}), ErrorCode::kInvalidArgument));
  EXPECT_FALSE(SealedRootExists(scratch_.path() + "/k3"));
}

TEST_F(PassphraseRootTest, MissingFileIsNotFound) {
  EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, AsBytes("p")), ErrorCode::kNotFound));
  std::filesystem::create_directories(dir_);
  EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, AsBytes("p")), ErrorCode::kNotFound));
}

TEST_F(PassphraseRootTest, FileReadableByOthersIsRefused) {
  ASSERT_TRUE(CreateSealedRoot(dir_, AsBytes("p")));
  ASSERT_EQ(::chmod(path_.c_str(), 0640), 0);
  EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, AsBytes("p")), ErrorCode::kFailedPrecondition));
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  EXPECT_TRUE(OpenSealedRoot(dir_, AsBytes("p")));
}

TEST_F(PassphraseRootTest, CorruptFilesAreDataLoss) {
  ASSERT_TRUE(CreateSealedRoot(dir_, AsBytes("p")));
  const Bytes good = ReadAll(path_);
  auto expect_data_loss = [&](const Bytes& contents, const char* what) {
    SCOPED_TRACE(what);
    WriteAll(path_, contents);
    ::chmod(path_.c_str(), 0600);
    EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, AsBytes("p")), ErrorCode::kDataLoss));
  };
  Bytes flipped = good;
  flipped[flipped.size() - 40] ^= 0x01;  // inside the trailer's manifest
  expect_data_loss(flipped, "flipped trailer byte");
  Bytes body = good;
  body[body.size() - 200] ^= 0x80;  // inside the data stream
  expect_data_loss(body, "flipped data byte");
  expect_data_loss(Bytes(good.begin(), good.end() - 1), "truncated");
  Bytes longer = good;
  longer.push_back(0);
  expect_data_loss(longer, "trailing byte");
  expect_data_loss(Bytes(100, 0x41), "not a container");
  expect_data_loss(Bytes(), "empty");
  WriteAll(path_, good);
  EXPECT_TRUE(OpenSealedRoot(dir_, AsBytes("p")));
}

TEST_F(PassphraseRootTest, AContainerOfAnotherSizeIsNotARootKey) {
  std::filesystem::create_directories(dir_);
  ::chmod(dir_.c_str(), 0700);
  format::FileKey key;
  key.source = format::KeySource::kPassphrase;
  key.secret = crypto::SecretBytes::CopyFrom(AsBytes("p"));
  key.argon2 = {1, 8192, 1};
  Bytes plaintext(31, 0x11);
  ByteViewSource source(plaintext);
  BytesSink sink;
  ASSERT_TRUE(format::EncryptFile(key, source, sink));
  WriteAll(path_, sink.bytes());
  ::chmod(path_.c_str(), 0600);
  EXPECT_TRUE(FailsWith(OpenSealedRoot(dir_, AsBytes("p")), ErrorCode::kDataLoss));
}

TEST_F(PassphraseRootTest, TheFileIsAStandardFileContainer) {
  ASSERT_TRUE(CreateSealedRoot(dir_, AsBytes("operator passphrase")));
  auto root = OpenSealedRoot(dir_, AsBytes("operator passphrase"));
  ASSERT_TRUE(root);
  // What `strongroom decrypt` does with it.
  auto file = FdSource::Open(path_);
  ASSERT_TRUE(file);
  format::FileKey key;
  key.source = format::KeySource::kPassphrase;
  key.secret = crypto::SecretBytes::CopyFrom(AsBytes("operator passphrase"));
  BytesSink out;
  auto summary = format::DecryptFile(key, **file, out);
  ASSERT_TRUE(summary) << summary.error().ToString();
  EXPECT_EQ(out.bytes(), Bytes(root->reveal().begin(), root->reveal().end()));
  // With the test's Argon2id costs recorded in the header.
  auto source = FileRandomAccessSource::Open(path_);
  ASSERT_TRUE(source);
  auto inspection = format::InspectFile(**source);
  ASSERT_TRUE(inspection);
  EXPECT_EQ(inspection->header.key_source, format::KeySource::kPassphrase);
  EXPECT_EQ(inspection->header.argon2.iterations, 1u);
  EXPECT_EQ(inspection->header.argon2.memory_kib, 8192u);
}

TEST_F(PassphraseRootTest, BadArgonParametersAreRefused) {
  ::setenv("STRONGROOM_ARGON2_PARAMS", "1,8", 1);
  EXPECT_TRUE(FailsWith(CreateSealedRoot(dir_, AsBytes("p")), ErrorCode::kInvalidArgument));
  ::setenv("STRONGROOM_ARGON2_PARAMS", "1,16,1", 1);  // below the memory minimum
  EXPECT_TRUE(FailsWith(CreateSealedRoot(dir_, AsBytes("p")), ErrorCode::kInvalidArgument));
  EXPECT_FALSE(SealedRootExists(dir_));
}

}  // namespace
}  // namespace strongroom::keys
