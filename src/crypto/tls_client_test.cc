// SPDX-License-Identifier: Apache-2.0
// crypto::TlsClient against an in-process OpenSSL server on 127.0.0.1, with
// a throwaway PKI made by the openssl command line.

#include "crypto/tls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "testing/test_util.h"

namespace strongroom::crypto {
namespace {

using std::chrono::milliseconds;
using strongroom::testing::FailsWith;

Deadline In(milliseconds ms) { return std::chrono::steady_clock::now() + ms; }

// ca/ (+ server with SAN IP:127.0.0.1,DNS:localhost, server-other with only
// DNS:other.example, client with EKU clientAuth) and other-ca/ (an unrelated CA).
void MakePki(const std::string& dir) {
  const std::string script = R"(
set -e
cd ")" + dir + R"("
ca() { openssl ecparam -name prime256v1 -genkey -noout -out $1.key
       openssl req -x509 -new -key $1.key -sha256 -days 2 -subj /CN=$1 \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
         -out $1.crt; }
leaf() { openssl ecparam -name prime256v1 -genkey -noout -out $1.key
         openssl req -new -key $1.key -subj /CN=$1 -out $1.csr
         printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n%s\n' "$2" "$3" > $1.ext
         openssl x509 -req -in $1.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -sha256 \
           -extfile $1.ext -out $1.crt; }
ca ca
ca other-ca
leaf server serverAuth 'subjectAltName=IP:127.0.0.1,DNS:localhost'
leaf server-other serverAuth 'subjectAltName=DNS:other.example'
leaf client clientAuth ''
)";
  {
    std::ofstream out(dir + "/make-pki.sh");
    out << script;
  }
  const std::string command = "bash " + dir + "/make-pki.sh >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl failed making the test PKI";
}

// What the test server does with each accepted connection.
enum class Behaviour {
  kEcho,                 // TLS, then echo everything back
  kSilentTcp,            // accept TCP, never start TLS
  kSilentTls,            // complete the handshake, then never answer
  kCloseAfterHandshake,  // complete the handshake, then close
};

struct ServerConfig {
  std::string cert, key;
  std::string client_ca;  // non-empty: require a client certificate from this CA
  int max_version = 0;    // e.g. TLS1_2_VERSION to pin TLS 1.2 as PyKMIP does
  Behaviour behaviour = Behaviour::kEcho;
};

class TestServer {
 public:
  explicit TestServer(ServerConfig config) : config_(std::move(config)) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx_, config_.cert.c_str()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx_, config_.key.c_str(), SSL_FILETYPE_PEM), 1);
    if (!config_.client_ca.empty()) {
      EXPECT_EQ(SSL_CTX_load_verify_locations(ctx_, config_.client_ca.c_str(), nullptr), 1);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    if (config_.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, config_.max_version);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  // Handshakes the server saw fail, waiting briefly for its thread to count
  // one that the client has already seen end.
  int handshakes_failed() const {
    for (int i = 0; i < 100 && handshakes_failed_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return handshakes_failed_;
  }

 private:
  void Run() {
    // The server side writes with write(2) through OpenSSL's socket BIO; a
    // client that hangs up would raise SIGPIPE on this thread. Block it here
    // only (SIGPIPE goes to the writing thread), so the client under test
    // still runs with SIGPIPE armed.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      timeval tv{0, 200 * 1000};  // so that a stalled client cannot wedge the test server
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      Serve(fd);
      ::close(fd);
    }
  }

  void Serve(int fd) {
    if (config_.behaviour == Behaviour::kSilentTcp) {
      WaitForStopOrClose(fd);
      return;
    }
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      ++handshakes_failed_;
      ERR_clear_error();
      SSL_free(ssl);
      return;
    }
    switch (config_.behaviour) {
      case Behaviour::kEcho: {
        char buf[4096];
        while (!stop_) {
          const int n = SSL_read(ssl, buf, sizeof(buf));
          if (n > 0) {
            if (SSL_write(ssl, buf, n) != n) break;
            continue;
          }
          const int err = SSL_get_error(ssl, n);
          if (err == SSL_ERROR_WANT_READ || (err == SSL_ERROR_SYSCALL && errno == EAGAIN)) {
            ERR_clear_error();
            continue;  // receive timeout: poll the stop flag
          }
          break;
        }
        break;
      }
      case Behaviour::kSilentTls:
        WaitForStopOrClose(fd);
        break;
      case Behaviour::kCloseAfterHandshake:
      case Behaviour::kSilentTcp:
        break;
    }
    ERR_clear_error();
    SSL_free(ssl);
  }

  void WaitForStopOrClose(int fd) {
    while (!stop_) {
      char c;
      const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return;
      if (n > 0) {
        // Discard what the client sends; we never answer.
        char sink[4096];
        if (::recv(fd, sink, sizeof(sink), 0) <= 0) return;
      }
    }
  }

  ServerConfig config_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_failed_{0};
  std::thread thread_;
};

class TlsClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new strongroom::testing::ScratchDir();
    MakePki(dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string F(const std::string& name) { return dir_->path() + "/" + name; }

  static ServerConfig Mutual(Behaviour behaviour = Behaviour::kEcho) {
    return ServerConfig{F("server.crt"), F("server.key"), F("ca.crt"), 0, behaviour};
  }
  static TlsClientOptions ClientOptions() {
    return TlsClientOptions{F("ca.crt"), F("client.crt"), F("client.key")};
  }
  static std::unique_ptr<TlsClient> MakeClient(const TlsClientOptions& options) {
    auto client = TlsClient::Create(options);
    EXPECT_TRUE(client.has_value()) << client.error().ToString();
    return client ? std::move(*client) : nullptr;
  }

  static strongroom::testing::ScratchDir* dir_;
};

strongroom::testing::ScratchDir* TlsClientTest::dir_ = nullptr;

TEST_F(TlsClientTest, MutualTlsRoundTrip) {
  TestServer server(Mutual());
  auto client = MakeClient(ClientOptions());
  ASSERT_NE(client, nullptr);
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  EXPECT_TRUE((*conn)->protocol() == "TLSv1.2" || (*conn)->protocol() == "TLSv1.3")
      << (*conn)->protocol();
  EXPECT_FALSE((*conn)->cipher().empty());
  for (int round = 0; round < 3; ++round) {
    const Bytes message = strongroom::testing::Pattern(1000 + round * 3000, round);
    ASSERT_TRUE((*conn)->WriteAll(message, In(milliseconds(3000))).has_value());
    Bytes echoed(message.size());
    auto read = (*conn)->ReadExact(echoed, In(milliseconds(3000)));
    ASSERT_TRUE(read.has_value()) << read.error().ToString();
    EXPECT_EQ(echoed, message);
    EXPECT_TRUE((*conn)->IdleAndOpen());
  }
}

TEST_F(TlsClientTest, DnsNameIsVerifiedAndResolved) {
  TestServer server(Mutual());
  auto client = MakeClient(ClientOptions());
  // "localhost" may resolve to ::1 first, where nothing listens: the client
  // must move on to 127.0.0.1, and the certificate's DNS:localhost must match.
  auto conn = client->Connect("localhost", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
}

TEST_F(TlsClientTest, PinnedTls12ServerWorks) {
  ServerConfig config = Mutual();
  config.max_version = TLS1_2_VERSION;
  TestServer server(config);
  auto client = MakeClient(ClientOptions());
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  EXPECT_EQ((*conn)->protocol(), "TLSv1.2");
}

TEST_F(TlsClientTest, ServerNameMismatchIsRejected) {
  TestServer server(ServerConfig{F("server-other.crt"), F("server-other.key"), F("ca.crt"), 0,
                                 Behaviour::kEcho});
  auto client = MakeClient(ClientOptions());
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(FailsWith(conn, ErrorCode::kUnauthenticated));
  EXPECT_NE(conn.error().message().find("certificate"), std::string::npos)
      << conn.error().message();
  // And by DNS name that is not in the certificate either.
  auto by_name = client->Connect("localhost", server.port(), In(milliseconds(3000)));
  EXPECT_TRUE(FailsWith(by_name, ErrorCode::kUnauthenticated));
}

TEST_F(TlsClientTest, UntrustedServerIsRejected) {
  TestServer server(Mutual());
  TlsClientOptions options = ClientOptions();
  options.ca_file = F("other-ca.crt");
  auto client = MakeClient(options);
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  EXPECT_TRUE(FailsWith(conn, ErrorCode::kUnauthenticated));
}

TEST_F(TlsClientTest, ServerRefusesClientWithoutCertificate) {
  // TLS 1.2 (what PyKMIP speaks): the refusal ends the handshake itself.
  // OpenSSL answers a missing certificate with a generic handshake_failure
  // alert, which cannot be told apart from, say, no common cipher suite, so
  // it stays kUnavailable (a refused certificate is kPermissionDenied, below).
  ServerConfig config = Mutual();
  config.max_version = TLS1_2_VERSION;
  TestServer server(config);
  auto client = MakeClient(TlsClientOptions{F("ca.crt"), "", ""});
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(FailsWith(conn, ErrorCode::kUnavailable));
  EXPECT_NE(conn.error().message().find("handshake failure"), std::string::npos)
      << conn.error().message();
  EXPECT_GE(server.handshakes_failed(), 1);
}

TEST_F(TlsClientTest, ServerRefusesClientWithoutCertificateTls13) {
  TestServer server(Mutual());
  auto client = MakeClient(TlsClientOptions{F("ca.crt"), "", ""});
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  Result<void> outcome = Ok();
  if (conn.has_value()) {
    // The client finishes first; the refusal arrives afterwards, so the write
    // (if the alert is already in) or the read fails.
    outcome = (*conn)->WriteAll(AsBytes("ping"), In(milliseconds(3000)));
    if (outcome.has_value()) {
      Bytes reply(4);
      outcome = (*conn)->ReadExact(reply, In(milliseconds(3000)));
    }
  } else {
    outcome = tl::unexpected(conn.error());
  }
  // Normally the alert is read (kPermissionDenied); if the server's reset
  // overtakes it, only the broken connection is left to report.
  ASSERT_FALSE(outcome.has_value());
  EXPECT_TRUE(outcome.error().code() == ErrorCode::kPermissionDenied ||
              outcome.error().code() == ErrorCode::kUnavailable)
      << outcome.error().ToString();
  EXPECT_GE(server.handshakes_failed(), 1);
}

TEST_F(TlsClientTest, ServerRefusesCertificateFromAnotherCa) {
  ServerConfig config = Mutual();
  config.client_ca = F("other-ca.crt");  // our client certificate is not from this CA
  config.max_version = TLS1_2_VERSION;   // the refusal then ends the handshake itself
  TestServer server(config);
  auto client = MakeClient(ClientOptions());
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(FailsWith(conn, ErrorCode::kPermissionDenied));
  EXPECT_NE(conn.error().message().find("refused our client certificate"), std::string::npos)
      << conn.error().message();
}

TEST_F(TlsClientTest, ConnectionRefusedIsUnavailableAndFast) {
  uint16_t port;
  {
    TestServer server(Mutual());
    port = server.port();
  }  // closed: nothing listens there now
  auto client = MakeClient(ClientOptions());
  const auto start = std::chrono::steady_clock::now();
  auto conn = client->Connect("127.0.0.1", port, In(milliseconds(3000)));
  EXPECT_TRUE(FailsWith(conn, ErrorCode::kUnavailable));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST_F(TlsClientTest, HandshakeTimesOutAgainstSilentPeer) {
  TestServer server(Mutual(Behaviour::kSilentTcp));
  auto client = MakeClient(ClientOptions());
  const auto start = std::chrono::steady_clock::now();
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(300)));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(FailsWith(conn, ErrorCode::kUnavailable));
  EXPECT_NE(conn.error().message().find("timed out"), std::string::npos) << conn.error().message();
  EXPECT_GE(took, milliseconds(290));
  EXPECT_LT(took, milliseconds(1500));
}

TEST_F(TlsClientTest, ReadTimesOutWhenServerNeverAnswers) {
  TestServer server(Mutual(Behaviour::kSilentTls));
  auto client = MakeClient(ClientOptions());
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  ASSERT_TRUE((*conn)->WriteAll(AsBytes("request"), In(milliseconds(1000))).has_value());
  Bytes reply(8);
  const auto start = std::chrono::steady_clock::now();
  auto read = (*conn)->ReadExact(reply, In(milliseconds(250)));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(FailsWith(read, ErrorCode::kUnavailable));
  EXPECT_NE(read.error().message().find("timed out"), std::string::npos);
  EXPECT_GE(took, milliseconds(240));
  EXPECT_LT(took, milliseconds(1500));
}

TEST_F(TlsClientTest, PeerCloseIsSeenWhileIdleAndWritesDoNotRaiseSigpipe) {
  TestServer server(Mutual(Behaviour::kCloseAfterHandshake));
  auto client = MakeClient(ClientOptions());
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  // The server closes right after the handshake; wait until that shows.
  bool open = true;
  for (int i = 0; i < 100 && open; ++i) {
    open = (*conn)->IdleAndOpen();
    if (open) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_FALSE(open);
  // Writing into the closed connection fails with an error (and, without
  // MSG_NOSIGNAL, SIGPIPE would have killed this test binary).
  const Bytes chunk(64 * 1024, 0x5a);
  Result<void> written = Ok();
  for (int i = 0; i < 64 && written.has_value(); ++i) {
    written = (*conn)->WriteAll(chunk, In(milliseconds(1000)));
  }
  EXPECT_TRUE(FailsWith(written, ErrorCode::kUnavailable));
}

TEST_F(TlsClientTest, ReadAfterPeerCloseIsUnavailable) {
  TestServer server(Mutual(Behaviour::kCloseAfterHandshake));
  auto client = MakeClient(ClientOptions());
  auto conn = client->Connect("127.0.0.1", server.port(), In(milliseconds(3000)));
  ASSERT_TRUE(conn.has_value()) << conn.error().ToString();
  Bytes reply(8);
  EXPECT_TRUE(
      FailsWith((*conn)->ReadExact(reply, In(milliseconds(2000))), ErrorCode::kUnavailable));
}

TEST_F(TlsClientTest, BadConfigurationIsInvalidArgument) {
  EXPECT_TRUE(FailsWith(TlsClient::Create(TlsClientOptions{"", "", ""}),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(TlsClient::Create(TlsClientOptions{F("missing.crt"), "", ""}),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(TlsClient::Create(TlsClientOptions{F("ca.crt"), F("client.crt"), ""}),
                        ErrorCode::kInvalidArgument));
  // A key that does not belong to the certificate.
  EXPECT_TRUE(FailsWith(
      TlsClient::Create(TlsClientOptions{F("ca.crt"), F("client.crt"), F("server.key")}),
      ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace strongroom::crypto
