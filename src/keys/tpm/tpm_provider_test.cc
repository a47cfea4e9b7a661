// SPDX-License-Identifier: Apache-2.0
// TpmProvider without a TPM: key names, options, blobs refused before any
// TPM round trip, and an unreachable or silent TPM failing within the
// timeout. The tests against swtpm are tests/providers/tpm/.
#include "keys/tpm/tpm_provider.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using Clock = std::chrono::steady_clock;

// ESAPI logs every failed command to stderr (read lazily from TSS2_LOG);
// these tests fail commands on purpose. An explicit TSS2_LOG still wins.
const int kQuietEsys = ::setenv("TSS2_LOG", "all+none", /*overwrite=*/0);

TEST(TpmKeyNameTest, CanonicalNamesParseAndPrintBack) {
  for (const char* name :
       {"primary-ecc-p256", "primary-ecc-p256/root", "primary-ecc-p256/a.b_c-9",
        "primary-ecc-p256+pcr:sha256:23", "primary-ecc-p256/root+pcr:sha256:0,2,4,7",
        "primary-ecc-p256+pcr:sha1:0,23", "primary-ecc-p256+pcr:sha384:10"}) {
    auto key = ParseTpmKeyName(name);
    ASSERT_TRUE(key.has_value()) << name << ": " << key.error().ToString();
    EXPECT_EQ(key->ToString(), name);
  }
  auto key = ParseTpmKeyName("primary-ecc-p256/root+pcr:sha256:0,2,4,7");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->label, "root");
  EXPECT_EQ(key->pcr_mask, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 7));
  EXPECT_TRUE(key->has_pcr_policy());
  EXPECT_FALSE(ParseTpmKeyName("primary-ecc-p256")->has_pcr_policy());
}

TEST(TpmKeyNameTest, AnythingElseNamesNoKey) {
  for (const char* name :
       {"", "nonsense", "primary-rsa-2048", "primary-ecc-p256/", "primary-ecc-p256//x",
        "primary-ecc-p256/a b", "primary-ecc-p256/a/b", "primary-ecc-p256+",
        "primary-ecc-p256+pcr:", "primary-ecc-p256+pcr:sha256:", "primary-ecc-p256+pcr:sha256:24",
        "primary-ecc-p256+pcr:sha256:7,0", "primary-ecc-p256+pcr:sha256:07",
        "primary-ecc-p256+pcr:sha256:1,1", "primary-ecc-p256+pcr:md5:1",
        "primary-ecc-p256+pcr:sha256:1,", "primary-ecc-p256+abc", "PRIMARY-ECC-P256",
        "primary-ecc-p256 ", "primary-ecc-p2567"}) {
    EXPECT_TRUE(FailsWith(ParseTpmKeyName(name), ErrorCode::kNotFound)) << "'" << name << "'";
  }
  std::string long_label = "primary-ecc-p256/" + std::string(65, 'a');
  EXPECT_TRUE(FailsWith(ParseTpmKeyName(long_label), ErrorCode::kNotFound));
  EXPECT_TRUE(ParseTpmKeyName("primary-ecc-p256/" + std::string(64, 'a')).has_value());
}

TEST(TpmKeyNameTest, PcrSelectionAcceptsAnyOrderButNoRepeats) {
  TpmKeyName key;
  ASSERT_TRUE(ParsePcrSelection("sha256:7,0,4", key).has_value());
  EXPECT_EQ(key.pcr_mask, (1u << 0) | (1u << 4) | (1u << 7));
  EXPECT_EQ(key.ToString(), "primary-ecc-p256+pcr:sha256:0,4,7");
  EXPECT_TRUE(FailsWith(ParsePcrSelection("sha256:7,7", key), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(ParsePcrSelection("sha256", key), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(ParsePcrSelection("sm3:1", key), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(ParsePcrSelection("sha256:-1", key), ErrorCode::kInvalidArgument));
}

TpmOptions SwtpmAt(uint16_t port, std::chrono::milliseconds timeout) {
  TpmOptions options;
  options.tcti = "swtpm:host=127.0.0.1,port=" + std::to_string(port);
  options.timeout = timeout;
  return options;
}

TEST(TpmProviderOptionsTest, BadOptionsAreRefused) {
  for (const char* tcti : {"", "swtpm:port=0", "swtpm:port=70000", "swtpm:port=x",
                           "swtpm:foo=1", "swtpm:host"}) {
    TpmOptions options;
    options.tcti = tcti;
    EXPECT_TRUE(FailsWith(TpmProvider::Create(options), ErrorCode::kInvalidArgument)) << tcti;
  }
  TpmOptions options = SwtpmAt(2321, std::chrono::milliseconds(0));
  EXPECT_TRUE(FailsWith(TpmProvider::Create(options), ErrorCode::kInvalidArgument));
  options = SwtpmAt(2321, std::chrono::milliseconds(100));
  options.default_pcrs = "sha256:99";
  EXPECT_TRUE(FailsWith(TpmProvider::Create(options), ErrorCode::kInvalidArgument));
  options.default_pcrs = "";
  options.owner_auth_file = "/nonexistent/owner-auth";
  EXPECT_TRUE(FailsWith(TpmProvider::Create(options), ErrorCode::kNotFound));

  ::strongroom::testing::ScratchDir dir;
  std::string path = dir.path() + "/auth";
  std::ofstream(path) << std::string(65, 'x');
  options.owner_auth_file = path;
  EXPECT_TRUE(FailsWith(TpmProvider::Create(options), ErrorCode::kInvalidArgument));
  std::ofstream(path, std::ios::trunc) << std::string(64, 'x') << "\n";
  EXPECT_TRUE(TpmProvider::Create(options).has_value());
  // The TCTI loader's strings are passed through unchecked until used.
  options.owner_auth_file = "";
  options.tcti = "device:/dev/tpmrm0";
  EXPECT_TRUE(TpmProvider::Create(options).has_value());
  options.tcti = "swtpm";
  EXPECT_TRUE(TpmProvider::Create(options).has_value());
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
uint16_t ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(TpmProviderTest, RequestsThatNeedNoTpmAreAnsweredWithoutOne) {
  auto provider = TpmProvider::Create(SwtpmAt(ClosedPort(), std::chrono::milliseconds(2000)));
  ASSERT_TRUE(provider.has_value());
  TpmProvider& p = **provider;
  EXPECT_EQ(p.id(), "tpm");
  Bytes data(16, 1);
  EXPECT_TRUE(FailsWith(p.Wrap("nonsense", data, {}), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(p.Unwrap("primary-rsa-2048", data, {}), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(p.Wrap("primary-ecc-p256", Bytes(4097, 0), {}),
                        ErrorCode::kInvalidArgument));
  // Blobs that do not parse never reach the TPM.
  EXPECT_TRUE(FailsWith(p.Unwrap("primary-ecc-p256", {}, {}), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(p.Unwrap("primary-ecc-p256", Bytes{2, 0, 0}, {}), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(p.Unwrap("primary-ecc-p256", Bytes(200, 1), {}), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(p.CreateKey("bad label"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(p.CreateKey("x+pcr:sha256:99"), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(p.DestroyKey("nonsense"), ErrorCode::kNotFound));
  auto destroyed = p.DestroyKey("primary-ecc-p256/root");
  ASSERT_TRUE(FailsWith(destroyed, ErrorCode::kUnimplemented));
  EXPECT_NE(destroyed.error().message().find("TPM2_Clear"), std::string::npos);
}

TEST(TpmProviderTest, NoTpmListeningIsUnavailableAtOnce) {
  auto provider = TpmProvider::Create(SwtpmAt(ClosedPort(), std::chrono::milliseconds(3000)));
  ASSERT_TRUE(provider.has_value());
  auto start = Clock::now();
  auto health = (*provider)->HealthCheck();
  ASSERT_TRUE(FailsWith(health, ErrorCode::kUnavailable));
  EXPECT_EQ(health.error().reason(), "ServiceUnavailable");
  EXPECT_NE(health.error().message().find("refused"), std::string::npos)
      << health.error().message();
  EXPECT_TRUE(FailsWith((*provider)->Wrap("primary-ecc-p256", Bytes(32, 1), {}),
                        ErrorCode::kUnavailable));
  EXPECT_TRUE(FailsWith((*provider)->CreateKey("root"), ErrorCode::kUnavailable));
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
}

// A "TPM" that accepts connections and never answers, like swtpm behind
// another client's idle connection, or a hung one.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
};

TEST(TpmProviderTest, SilentTpmIsUnavailableWithinTheTimeout) {
  SilentServer server;
  const auto timeout = std::chrono::milliseconds(300);
  auto provider = TpmProvider::Create(SwtpmAt(server.port(), timeout));
  ASSERT_TRUE(provider.has_value());
  auto start = Clock::now();
  auto health = (*provider)->HealthCheck();
  auto took = Clock::now() - start;
  ASSERT_TRUE(FailsWith(health, ErrorCode::kUnavailable));
  EXPECT_NE(health.error().message().find("within the deadline"), std::string::npos)
      << health.error().message();
  EXPECT_GE(took, timeout);
  EXPECT_LT(took, timeout + std::chrono::milliseconds(400));

  // Callers queued behind a hung call give up within their own timeout too.
  std::atomic<int> unavailable{0};
  start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      if (FailsWith((*provider)->HealthCheck(), ErrorCode::kUnavailable)) ++unavailable;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(unavailable.load(), 3);
  EXPECT_LT(Clock::now() - start, timeout + std::chrono::milliseconds(400));
}

}  // namespace
}  // namespace strongroom::keys
