// SPDX-License-Identifier: Apache-2.0
// Limits, timeouts, shutdown and TLS, through real sockets on 127.0.0.1.

#include "http/server.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "crypto/certificate.h"
#include "http/test_client.h"

namespace strongroom::http {
namespace {

using namespace std::chrono_literals;
using namespace testutil;  // NOLINT(build/namespaces)

// ---- Limits and timeouts ------------------------------------------------------------------

TEST(HttpServerTest, HeaderTooLargeGets431WithoutHandler) {
  std::atomic<int> calls{0};
  ServerOptions options = TestOptions();
  options.max_header_bytes = 4096;
  auto server = Start(
      [&](Request&) {
        ++calls;
        return Text(200, "");
      },
      options);
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_TRUE(c.Send(Get("/", "X-Big: " + std::string(8000, 'a') + "\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->Get("Connection"), "close");
  EXPECT_NE(r->body.find("<Error>"), std::string::npos);
  EXPECT_TRUE(c.WaitForClose(5s));
  EXPECT_EQ(calls, 0);
}

TEST(HttpServerTest, BodyIdleTimeoutFailsRead) {
  ServerOptions options = TestOptions();
  options.body_idle_timeout = 1s;
  std::promise<Error> seen;
  auto server = Start(
      [&](Request& req) {
        auto result = Consume(req);
        seen.set_value(result ? Error(ErrorCode::kInternal, "no error") : result.error());
        return Text(408, "slow");
      },
      options);
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_TRUE(c.Send("PUT /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"));
  ASSERT_TRUE(c.SendPattern(0, 50000));
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  Error error = future.get();
  EXPECT_EQ(error.code(), ErrorCode::kUnavailable) << error.ToString();
  EXPECT_TRUE(c.WaitForClose(5s));
}

TEST(HttpServerTest, HeaderAndKeepAliveTimeoutsCloseConnections) {
  ServerOptions options = TestOptions();
  options.header_timeout = 1s;
  options.keep_alive_timeout = 1s;
  auto server = Start([](Request&) { return Text(200, "ok"); }, options);
  ASSERT_TRUE(server);
  Client partial(server->port());
  ASSERT_TRUE(partial.Send("GET / HTTP/1.1\r\nHost"));
  Client idle(server->port());
  ASSERT_TRUE(idle.Send(Get("/")));
  ASSERT_TRUE(idle.Read());
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(partial.WaitForClose(5s));
  EXPECT_TRUE(idle.WaitForClose(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST(HttpServerTest, MaxConnectionsHoldsFurtherConnections) {
  ServerOptions options = TestOptions();
  options.max_connections = 1;
  auto server = Start([](Request&) { return Text(200, "ok"); }, options);
  ASSERT_TRUE(server);
  auto first = std::make_unique<Client>(server->port());
  ASSERT_TRUE(first->Send(Get("/")));
  ASSERT_TRUE(first->Read());
  Client second(server->port());  // completes in the kernel backlog
  ASSERT_TRUE(second.connected());
  ASSERT_TRUE(second.Send(Get("/")));
  EXPECT_FALSE(second.Read(false, 500ms));  // not served while the first is open
  first.reset();
  auto r = second.Read(false, 5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// ---- Shutdown --------------------------------------------------------------------------

TEST(HttpServerTest, GracefulStopFinishesInFlightRequest) {
  std::promise<void> entered;
  auto server = Start([&](Request& req) {
    if (req.target() == "/slow") {
      entered.set_value();
      std::this_thread::sleep_for(1s);
    }
    return Text(200, "finished");
  });
  ASSERT_TRUE(server);
  const uint16_t port = server->port();
  Client idle(port);
  ASSERT_TRUE(idle.Send(Get("/warm")));
  ASSERT_TRUE(idle.Read());
  Client busy(port);
  ASSERT_TRUE(busy.Send(Get("/slow")));
  entered.get_future().wait();

  auto start = std::chrono::steady_clock::now();
  server->Stop(10s);
  Client late(port);
  EXPECT_FALSE(late.connected());
  EXPECT_EQ(late.connect_errno(), ECONNREFUSED);
  EXPECT_TRUE(idle.WaitForClose(2s));  // at once, not after keep_alive_timeout (5 s)
  auto r = busy.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(r->Get("Connection"), "close");
  server->Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  server->Stop(1s);  // idempotent
  server->Wait();
}

TEST(HttpServerTest, StopForcesStuckRequestsAfterGrace) {
  std::promise<Error> seen;
  std::promise<void> entered;
  auto server = Start([&](Request& req) {
    entered.set_value();
    auto result = Consume(req);  // the client never sends the body
    seen.set_value(result ? Error(ErrorCode::kInternal, "no error") : result.error());
    return Text(500, "");
  });
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_TRUE(c.Send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"));
  entered.get_future().wait();
  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { server->Stop(1s); });  // as from a signal-handling thread
  server->Wait();
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  EXPECT_EQ(seen.get_future().get().code(), ErrorCode::kUnavailable);
}

TEST(HttpServerTest, CreateRejectsBadOptions) {
  auto handler = [](Request&) { return Response{}; };
  ServerOptions options = TestOptions();
  options.tls_cert_file = "/nonexistent.pem";
  EXPECT_EQ(Server::Create(options, handler).error().code(), ErrorCode::kInvalidArgument);
  options.tls_key_file = "/nonexistent.key";
  EXPECT_EQ(Server::Create(options, handler).error().code(), ErrorCode::kInvalidArgument);
  auto first = Start(handler);
  ASSERT_TRUE(first);
  options = TestOptions();
  options.port = first->port();
  EXPECT_EQ(Server::Create(options, handler).error().code(), ErrorCode::kUnavailable);
}

// ---- TLS ---------------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "http_test_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(CertificateTest, WritesKeyWithMode0600AndHonoursOverwrite) {
  TempDir dir;
  const std::string cert = dir / "cert.pem", key = dir / "key.pem";
  ASSERT_TRUE(
      crypto::WriteSelfSignedCertificate(cert, key, {"localhost", "127.0.0.1", "::1"}, 30, false));
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = crypto::WriteSelfSignedCertificate(cert, key, {"localhost"}, 30, false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  chmod(key.c_str(), 0644);
  EXPECT_TRUE(crypto::WriteSelfSignedCertificate(cert, key, {"localhost"}, 30, true));
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(crypto::WriteSelfSignedCertificate(dir / "c2", dir / "k2", {}, 30, false));
  EXPECT_FALSE(
      crypto::WriteSelfSignedCertificate(dir / "c2", dir / "k2", {"bad host,x"}, 30, false));
}

namespace net = boost::asio;
namespace beast = boost::beast;

// An HTTPS PUT (of 200000 bytes) and then a GET on the same connection,
// with a Beast client that trusts only `ca_file` and checks `host`. Returns
// "<status> <body>" of the PUT and "<status> <body size>" of the GET.
Result<std::string> TlsPut(uint16_t port, const std::string& ca_file, const std::string& host) {
  net::io_context io;
  net::ssl::context ctx(net::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.load_verify_file(ca_file, ec);
  if (ec) return Internal("load_verify_file: " + ec.message());
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  stream.set_verify_mode(net::ssl::verify_peer);
  stream.set_verify_callback(net::ssl::host_name_verification(host));
  beast::get_lowest_layer(stream).connect(
      net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return Internal("connect: " + ec.message());
  stream.handshake(net::ssl::stream_base::client, ec);
  if (ec) return Unauthenticated("handshake: " + ec.message());
  beast::http::request<beast::http::string_body> req{beast::http::verb::put, "/tls", 11};
  req.set(beast::http::field::host, host);
  req.body() = std::string(200000, 'z');
  req.prepare_payload();
  beast::http::write(stream, req, ec);
  if (ec) return Internal("write: " + ec.message());
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> res;
  beast::http::read(stream, buffer, res, ec);
  if (ec) return Internal("read: " + ec.message());
  beast::http::request<beast::http::empty_body> get{beast::http::verb::get, "/big", 11};
  get.set(beast::http::field::host, host);
  get.keep_alive(false);
  beast::http::write(stream, get, ec);
  if (ec) return Internal("write: " + ec.message());
  beast::http::response_parser<beast::http::string_body> big;
  big.body_limit(64 * kMiB);
  beast::http::read(stream, buffer, big, ec);
  if (ec) return Internal("read: " + ec.message());
  stream.shutdown(ec);  // the server answers close_notify or closes; either is fine
  return std::to_string(res.result_int()) + " " + res.body() + ", " +
         std::to_string(big.get().result_int()) + " " + std::to_string(big.get().body().size());
}

TEST(HttpServerTest, TlsRoundTripWithSelfSignedCertificate) {
  TempDir dir;
  ASSERT_TRUE(crypto::WriteSelfSignedCertificate(dir / "cert.pem", dir / "key.pem",
                                                 {"localhost", "127.0.0.1"}, 1, false));
  ASSERT_TRUE(crypto::WriteSelfSignedCertificate(dir / "other.pem", dir / "other.key",
                                                 {"localhost", "127.0.0.1"}, 1, false));
  ServerOptions options = TestOptions();
  options.tls_cert_file = dir / "cert.pem";
  options.tls_key_file = dir / "key.pem";
  auto server = Start(
      [](Request& req) {
        if (req.method() == "GET") {
          Response r;
          r.body_source = std::make_unique<PatternSource>(5 * kMiB);
          r.content_length = 5 * kMiB;
          return r;
        }
        auto result = Consume(req);
        return Text(200, std::string(req.is_tls() ? "tls " : "plain ") +
                             (result ? std::to_string(result->first) : "error"));
      },
      options);
  ASSERT_TRUE(server);
  auto ok = TlsPut(server->port(), dir / "cert.pem", "127.0.0.1");
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(*ok, "200 tls 200000, 200 5242880");
  ok = TlsPut(server->port(), dir / "cert.pem", "localhost");
  ASSERT_TRUE(ok) << ok.error().ToString();
  // Verification is real: a different trust anchor or a wrong name fails.
  EXPECT_FALSE(TlsPut(server->port(), dir / "other.pem", "127.0.0.1"));
  EXPECT_FALSE(TlsPut(server->port(), dir / "cert.pem", "example.com"));
  // Plain HTTP to the TLS port gets no HTTP answer.
  Client plain(server->port());
  ASSERT_TRUE(plain.Send(Get("/")));
  EXPECT_FALSE(plain.Read(false, 2s));
}

}  // namespace
}  // namespace strongroom::http
