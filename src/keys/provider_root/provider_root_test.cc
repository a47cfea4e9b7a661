// SPDX-License-Identifier: Apache-2.0
// The provider-wrapped root key file (provider_root.h) against an in-memory
// provider: round trip, file format and mode, refusals.

#include "keys/provider_root/provider_root.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "keys/hierarchy/fake_key_provider_test_util.h"
#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

class ProviderRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_dir_ = scratch_.path() + "/keys";
    auto key = provider_.CreateKey("strongroom-root");
    ASSERT_OK(key);
    key_name_ = *key;
  }
  ScratchDir scratch_;
  std::string key_dir_;
  FakeKeyProvider provider_{"kmip"};
  std::string key_name_;
};

TEST_F(ProviderRootTest, CreateWritesOnlyTheWrappedRootAndOpenUnwrapsIt) {
  EXPECT_FALSE(ProviderRootExists(key_dir_));
  auto root = CreateProviderRoot(key_dir_, provider_, key_name_);
  ASSERT_OK(root);
  ASSERT_EQ(root->size(), 32u);
  EXPECT_TRUE(ProviderRootExists(key_dir_));

  std::string path = key_dir_ + "/" + kProviderRootFile;
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(key_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  std::string text = ReadText(path);
  EXPECT_EQ(text.rfind("strongroom-provider-root 1\nprovider kmip\nkey " + key_name_ + "\nwrapped ",
                       0),
            0u)
      << text;
  EXPECT_EQ(text.find(HexEncode(root->reveal())), std::string::npos) << "never the root in clear";

  auto info = ReadProviderRoot(key_dir_);
  ASSERT_OK(info);
  EXPECT_EQ(info->provider, "kmip");
  EXPECT_EQ(info->key_name, key_name_);
  // Bound to the AAD "strongroom/v1/root".
  auto direct = provider_.Unwrap(key_name_, info->wrapped, AsBytes(kProviderRootAad));
  ASSERT_OK(direct);
  EXPECT_TRUE(FailsWith(provider_.Unwrap(key_name_, info->wrapped, AsBytes("strongroom/v1/kek")),
                        ErrorCode::kDataLoss));
  auto opened = OpenProviderRoot(*info, provider_);
  ASSERT_OK(opened);
  EXPECT_EQ(HexEncode(opened->reveal()), HexEncode(root->reveal()));

  EXPECT_TRUE(FailsWith(CreateProviderRoot(key_dir_, provider_, key_name_),
                        ErrorCode::kAlreadyExists));
}

TEST_F(ProviderRootTest, ProviderErrorsPassThroughAndWriteNothing) {
  provider_.down = true;
  auto down = CreateProviderRoot(key_dir_, provider_, key_name_);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(ProviderRootExists(key_dir_));
  provider_.down = false;
  EXPECT_TRUE(FailsWith(CreateProviderRoot(key_dir_, provider_, "fake:nope"),
                        ErrorCode::kNotFound));
  EXPECT_FALSE(ProviderRootExists(key_dir_));
  EXPECT_TRUE(FailsWith(CreateProviderRoot(key_dir_, provider_, "two\nlines"),
                        ErrorCode::kInvalidArgument));

  ASSERT_OK(CreateProviderRoot(key_dir_, provider_, key_name_));
  auto info = ReadProviderRoot(key_dir_);
  ASSERT_OK(info);
  provider_.down = true;
  auto unreachable = OpenProviderRoot(*info, provider_);
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code(), ErrorCode::kUnavailable);
  provider_.down = false;
  FakeKeyProvider other("pkcs11");
  EXPECT_TRUE(FailsWith(OpenProviderRoot(*info, other), ErrorCode::kInvalidArgument));
  ProviderRootInfo tampered = *info;
  tampered.wrapped.back() ^= 1;
  EXPECT_TRUE(FailsWith(OpenProviderRoot(tampered, provider_), ErrorCode::kDataLoss));
}

TEST_F(ProviderRootTest, FileModeAndFormatAreChecked) {
  EXPECT_TRUE(FailsWith(ReadProviderRoot(key_dir_), ErrorCode::kNotFound));
  ASSERT_OK(CreateProviderRoot(key_dir_, provider_, key_name_));
  std::string path = key_dir_ + "/" + kProviderRootFile;
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_TRUE(FailsWith(ReadProviderRoot(key_dir_), ErrorCode::kFailedPrecondition));
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_OK(ReadProviderRoot(key_dir_));

  ProviderRootInfo info{"tpm", "primary-ecc-p256/strongroom-root", Bytes{1, 2, 3}};
  std::string text = FormatProviderRootFile(info);
  auto parsed = ParseProviderRootFile(text);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->provider, "tpm");
  EXPECT_EQ(parsed->key_name, "primary-ecc-p256/strongroom-root");
  EXPECT_EQ(parsed->wrapped, (Bytes{1, 2, 3}));
  for (std::string bad : {std::string(""), text.substr(0, text.size() - 1),
                          "strongroom-provider-root 2" + text.substr(text.find('\n')),
                          text + "extra\n", std::string("strongroom-provider-root 1\nprovider "
                                                        "KMIP\nkey k\nwrapped 00\n"),
                          std::string("strongroom-provider-root 1\nprovider kmip\nkey k\n"
                                      "wrapped zz\n"),
                          std::string("strongroom-provider-root 1\nprovider kmip\nkey \n"
                                      "wrapped 00\n")}) {
    EXPECT_TRUE(FailsWith(ParseProviderRootFile(bad), ErrorCode::kDataLoss)) << bad;
  }
}

}  // namespace
}  // namespace strongroom::keys
