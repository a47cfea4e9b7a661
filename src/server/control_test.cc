// SPDX-License-Identifier: Apache-2.0
#include "server/control.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace strongroom::server {
namespace {

namespace fs = std::filesystem;

crypto::SecretBytes Text(std::string_view text) {
  return crypto::SecretBytes::CopyFrom(AsBytes(text));
}

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "sr-control-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/control.sock";
    handlers_.sealed = [this] { return sealed_.load(); };
    handlers_.unseal = [this](crypto::SecretBytes passphrase) -> Result<bool> {
      ++unseal_calls_;
      if (!sealed_) return false;
      std::string_view given(reinterpret_cast<const char*>(passphrase.reveal().data()),
                             passphrase.size());
      if (given != "right passphrase") return Unauthenticated("wrong passphrase for the keyring");
      sealed_ = false;
      return true;
    };
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<std::string> Send(std::string_view line) { return ControlRequest(path_, Text(line), 10); }
  Result<std::string> Unseal(std::string_view passphrase) {
    auto request = UnsealRequest(Text(passphrase));
    if (!request) return tl::unexpected(request.error());
    return ControlRequest(path_, *request, 10);
  }

  std::string dir_, path_;
  std::atomic<bool> sealed_{true};
  std::atomic<int> unseal_calls_{0};
  ControlHandlers handlers_;
};

TEST_F(ControlTest, StatusAndUnseal) {
  auto server = ControlServer::Start(path_, handlers_);
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  struct stat st;
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(Send("STATUS").value(), "sealed");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Unseal("not the passphrase").value(), "ERR wrong passphrase for the keyring");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950))
      << "a failed unseal must be answered only after a pause";
  EXPECT_EQ(Send("STATUS").value(), "sealed");
  EXPECT_EQ(Unseal("right passphrase").value(), "OK unsealed");
  EXPECT_EQ(Send("STATUS").value(), "unsealed");
  EXPECT_EQ(Unseal("anything").value(), "OK already unsealed");
  EXPECT_EQ(unseal_calls_.load(), 3);
}

TEST_F(ControlTest, SharesAreCountedUntilTheThreshold) {
  // Without a share handler (a passphrase keyring) SHARE is refused.
  {
    auto server = ControlServer::Start(path_, handlers_);
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    EXPECT_EQ(Send("SHARE srshare1-anything").value().substr(0, 4), "ERR ");
  }
  std::vector<std::string> received;
  handlers_.share = [&](crypto::SecretBytes share) -> Result<ShareAnswer> {
    std::string text(AsChars(share.reveal()));
    if (text == "bad") return DataLoss("share 9: the checksum does not match");
    received.push_back(text);
    ShareAnswer answer;
    answer.threshold = 3;
    answer.received = static_cast<unsigned>(received.size());
    answer.unsealed = received.size() == 3;
    if (answer.unsealed) sealed_ = false;
    return answer;
  };
  auto server = ControlServer::Start(path_, handlers_);
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  auto request = [&](std::string_view share) {
    auto line = ShareRequest(Text(share));
    EXPECT_TRUE(line.has_value());
    return ControlRequest(path_, *line, 10).value();
  };
  EXPECT_EQ(request("one"), "OK 1 of 3 shares");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(request("bad"), "ERR share 9: the checksum does not match");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950));
  EXPECT_EQ(request("two"), "OK 2 of 3 shares");
  EXPECT_EQ(Send("STATUS").value(), "sealed");
  EXPECT_EQ(request("three"), "OK unsealed");
  EXPECT_EQ(Send("STATUS").value(), "unsealed");
  EXPECT_EQ(received, (std::vector<std::string>{"one", "two", "three"}));
  // A share is one line of bounded length.
  EXPECT_FALSE(ShareRequest(Text("two\nlines")).has_value());
  EXPECT_FALSE(ShareRequest(Text("")).has_value());
  EXPECT_FALSE(ShareRequest(Text(std::string(kMaxControlRequest, 'a'))).has_value());
}

TEST_F(ControlTest, MalformedAndOversizedRequestsAreRefused) {
  auto server = ControlServer::Start(path_, handlers_);
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  EXPECT_EQ(Send("HELLO").value().substr(0, 4), "ERR ");
  EXPECT_EQ(Send("UNSEAL !!!not-base64").value().substr(0, 4), "ERR ");
  EXPECT_EQ(Send("UNSEAL ").value().substr(0, 4), "ERR ");
  EXPECT_EQ(Send(std::string(kMaxControlRequest + 10, 'A')).value(), "ERR request too long");
  EXPECT_EQ(unseal_calls_.load(), 0);
  // The server still answers afterwards.
  EXPECT_EQ(Send("STATUS").value(), "sealed");
}

TEST_F(ControlTest, StaleSocketIsReplacedLiveOneIsNot) {
  {
    // A socket file nobody listens on, as a crashed server leaves it.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ::close(fd);
  }
  auto server = ControlServer::Start(path_, handlers_);
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  EXPECT_EQ(Send("STATUS").value(), "sealed");

  auto second = ControlServer::Start(path_, handlers_);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(Send("STATUS").value(), "sealed") << "the live socket must be left alone";

  (*server)->Stop();
  EXPECT_FALSE(fs::exists(path_)) << "the socket must be removed at stop";
  auto none = Send("STATUS");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kUnavailable);
}

TEST_F(ControlTest, RegularFileInTheWayIsNotRemoved) {
  { std::ofstream(path_) << "data"; }
  auto server = ControlServer::Start(path_, handlers_);
  ASSERT_FALSE(server.has_value());
  EXPECT_TRUE(fs::exists(path_));
}

TEST_F(ControlTest, PathsLongerThanSunPathWork) {
  std::string deep = dir_;
  while (deep.size() < 150) {
    deep += "/a-rather-long-directory-name";
    ASSERT_EQ(::mkdir(deep.c_str(), 0700), 0);
  }
  path_ = deep + "/control.sock";
  ASSERT_GT(path_.size(), sizeof(sockaddr_un::sun_path));
  auto server = ControlServer::Start(path_, handlers_);
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  EXPECT_TRUE(fs::exists(path_));
  EXPECT_EQ(Unseal("right passphrase").value(), "OK unsealed");
  server->reset();
  EXPECT_FALSE(fs::exists(path_));
}

}  // namespace
}  // namespace strongroom::server
