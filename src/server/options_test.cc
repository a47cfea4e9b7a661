// SPDX-License-Identifier: Apache-2.0
#include "server/options.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace strongroom::server {
namespace {

std::string WriteTemp(const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / "sr-config-XXXXXX").string();
  int fd = mkstemp(path.data());
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, TomlFileSetsEveryKnownKey) {
  std::string path = WriteTemp(
      "listen = \"0.0.0.0:9100\"\ndata-dir = \"/srv/data\"\nkey_dir = \"/srv/keys\"\n"
      "region = \"eu-west-1\"\ndomain = \"s3.local\"\nmax-connections = 64\n");
  ServerSettings settings;
  ASSERT_TRUE(LoadConfigFile(path, settings).has_value());
  EXPECT_EQ(settings.listen, "0.0.0.0:9100");
  EXPECT_EQ(settings.data_dir, "/srv/data");
  EXPECT_EQ(settings.key_dir, "/srv/keys");
  EXPECT_EQ(settings.region, "eu-west-1");
  EXPECT_EQ(settings.domain, "s3.local");
  EXPECT_EQ(settings.max_connections, 64u);
  EXPECT_FALSE(settings.dev);
  EXPECT_FALSE(settings.allow_insecure_sse_on_loopback);
}

TEST(ConfigTest, BooleanKeys) {
  ServerSettings settings;
  ASSERT_TRUE(LoadConfigFile(WriteTemp("dev = true\nallow-insecure-sse-on-loopback = true\n"),
                             settings)
                  .has_value());
  EXPECT_TRUE(settings.dev);
  EXPECT_TRUE(settings.allow_insecure_sse_on_loopback);
  ASSERT_TRUE(LoadConfigFile(WriteTemp("dev = false\n"), settings).has_value());
  EXPECT_FALSE(settings.dev);
  auto wrong = LoadConfigFile(WriteTemp("dev = \"yes\"\n"), settings);
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kInvalidArgument);
}

TEST(ConfigTest, UnknownKeysWrongTypesAndSyntaxErrorsAreRejected) {
  ServerSettings settings;
  EXPECT_EQ(LoadConfigFile(WriteTemp("lisen = \"x\"\n"), settings).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(LoadConfigFile(WriteTemp("listen = 9000\n"), settings).error().code(),
            ErrorCode::kInvalidArgument);
  auto syntax = LoadConfigFile(WriteTemp("listen = \"x\nregion = 1\n"), settings);
  ASSERT_FALSE(syntax.has_value());
  EXPECT_NE(syntax.error().message().find("line"), std::string::npos);
}

TEST(ConfigTest, ListenAddressesSplit) {
  EXPECT_EQ(SplitListen("127.0.0.1:9000")->second, 9000);
  EXPECT_EQ(SplitListen("[::1]:0")->first, "::1");
  EXPECT_FALSE(SplitListen("localhost").has_value());
  EXPECT_FALSE(SplitListen("localhost:99999").has_value());
  EXPECT_FALSE(SplitListen(":80").has_value());
}

}  // namespace
}  // namespace strongroom::server
