// SPDX-License-Identifier: Apache-2.0
#include "http/internal/connection.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "http/internal/exchange.h"
#include "http/internal/pending_op.h"
#include "http/internal/wire.h"

namespace strongroom::http::internal {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// Read-ahead room beyond the header section: bounds the bytes buffered per
// connection while a body streams through.
constexpr size_t kBodyReadAhead = 64 * 1024;
// A body read returns once it has this much (or the body ended).
constexpr size_t kBodyMinFill = 256 * 1024;
// How long a closing connection keeps discarding input (TCP) or waits for
// close_notify (TLS), so the client reads the response rather than a reset.
constexpr auto kLinger = std::chrono::seconds(1);
constexpr size_t kIdleRead = 4096;

std::string ToString(beast::string_view s) { return std::string(s.data(), s.size()); }

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const net::ip::address address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) {
    host = "[" + host + "]";
  }
  return host + ":" + std::to_string(endpoint.port());
}

bool IsHttpError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

Error BodyError(const error_code& ec, std::chrono::seconds idle_timeout) {
  if (ec == beast::error::timeout) {
    return Error(ErrorCode::kUnavailable, "request body idle timeout: no bytes for " +
                                              std::to_string(idle_timeout.count()) + " s");
  }
  if (ec == bhttp::error::partial_message || ec == bhttp::error::end_of_stream ||
      ec == net::error::eof || ec == net::error::connection_reset) {
    return Error(ErrorCode::kUnavailable,
                 "client closed the connection before the end of the request body");
  }
  if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor) {
    return Error(ErrorCode::kUnavailable, "connection closed by the server");
  }
  if (IsHttpError(ec)) {
    return Error(ErrorCode::kInvalidArgument, "malformed request body: " + ec.message());
  }
  return Error(ErrorCode::kUnavailable, "reading the request body: " + ec.message());
}

// Removes the connection from the registry when destroyed. Declared as the
// first member of a connection, so it runs after the I/O objects are gone.
struct Registration {
  ConnectionRegistry* registry = nullptr;
  uint64_t id = 0;
  ~Registration() {
    if (registry != nullptr) {
      registry->Remove(id);
    }
  }
};

template <class Stream>
class ConnectionImpl final : public Connection,
                             public Transport,
                             public std::enable_shared_from_this<ConnectionImpl<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  ConnectionImpl(ServerContext& context, tcp::socket socket, net::ssl::context* tls)
      : context_(context),
        remote_(RemoteOf(socket)),
        stream_(MakeStream(std::move(socket), tls)),
        buffer_(context.options.max_header_bytes + kBodyReadAhead) {}

  void Register() {
    registration_.registry = context_.registry;
    registration_.id = context_.registry->Add(this->weak_from_this());
  }

  void Start() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->BeginSession(); });
  }

  void Shutdown(bool force) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), force] {
      if (force || self->state_ == State::kIdle) {
        self->Close();
      }
    });
  }

  // Transport (called from the worker thread).
  std::shared_ptr<PendingOp> StartWrite(ByteView first, ByteView second) override {
    return Launch([first, second](ConnectionImpl& self, const std::shared_ptr<PendingOp>& op) {
      self.Lowest().expires_after(self.context_.options.body_idle_timeout);
      auto done = [op](const error_code& ec, size_t n) {
        std::optional<Error> error;
        if (ec) {
          error = Error(ErrorCode::kUnavailable, "writing the response: " + ec.message());
        }
        op->Complete(std::move(error), n);
      };
      if constexpr (kTls) {
        // One buffer per write over TLS. Beast's flat_stream (inside
        // ssl_stream, Boost 1.81) writes nothing when a sequence starts with
        // an empty buffer, and async_write takes that 0-byte success as the
        // end: once the head was sent, the body of a head+body pair above
        // 16 KiB never went out. Two writes in turn avoid that path.
        self.WriteInTurn(first, second, std::move(done));
      } else {
        const std::array<net::const_buffer, 2> buffers = {
            net::const_buffer(first.data(), first.size()),
            net::const_buffer(second.data(), second.size())};
        net::async_write(self.stream_, buffers, std::move(done));
      }
    });
  }

  std::shared_ptr<PendingOp> StartBodyRead(MutableByteView out) override {
    return Launch([out](ConnectionImpl& self, const std::shared_ptr<PendingOp>& op) {
      self.ReadBodySome(out, op);
    });
  }

 private:
  enum class State { kHandshake, kIdle, kHeader, kBusy, kClosing, kClosed };

  static std::string RemoteOf(const tcp::socket& socket) {
    error_code ec;
    tcp::endpoint endpoint = socket.remote_endpoint(ec);
    return ec ? std::string("unknown") : FormatEndpoint(endpoint);
  }

  static Stream MakeStream(tcp::socket socket, net::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      (void)tls;
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Runs `start(*this, op)` on the strand; it must start an operation that
  // eventually completes `op`. Exceptions complete `op` with an error.
  template <class F>
  std::shared_ptr<PendingOp> Launch(F start) {
    auto op = std::make_shared<PendingOp>();
    net::post(stream_.get_executor(), [self = this->shared_from_this(), op, start]() mutable {
      try {
        start(*self, op);
      } catch (...) {
        op->Complete(Error(ErrorCode::kInternal, "starting socket operation failed"), 0);
      }
    });
    return op;
  }

  // ---- Strand side: everything below runs on the connection's strand. ----

  // Writes `first`, then `second` (either may be empty); `done` gets the
  // bytes of both.
  template <class Done>
  void WriteInTurn(ByteView first, ByteView second, Done done) {
    net::async_write(
        stream_, net::const_buffer(first.data(), first.size()),
        [self = this->shared_from_this(), second, done = std::move(done)](
            const error_code& ec, size_t n) mutable {
          if (ec || second.empty()) {
            done(ec, n);
            return;
          }
          net::async_write(self->stream_, net::const_buffer(second.data(), second.size()),
                           [n, done = std::move(done)](const error_code& ec2, size_t m) mutable {
                             done(ec2, n + m);
                           });
        });
  }

  void BeginSession() {
    header_deadline_ = Clock::now() + context_.options.header_timeout;
    if constexpr (kTls) {
      state_ = State::kHandshake;
      Lowest().expires_at(header_deadline_);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = this->shared_from_this()](const error_code& ec) {
                                if (ec) {
                                  self->Close();
                                } else {
                                  self->WaitForRequest();
                                }
                              });
    } else {
      WaitForRequest();
    }
  }

  // Waits for the first byte of the next request (the connection is idle).
  void WaitForRequest() {
    if (state_ == State::kClosed) {
      return;
    }
    state_ = State::kIdle;
    if (context_.stopping.load()) {
      Close();
      return;
    }
    if (buffer_.size() > 0) {
      StartHeader();
      return;
    }
    buffer_.shrink_to_fit();  // idle connections hold no body read-ahead
    if (first_request_) {
      Lowest().expires_at(header_deadline_);
    } else {
      Lowest().expires_after(context_.options.keep_alive_timeout);
    }
    stream_.async_read_some(buffer_.prepare(kIdleRead),
                            [self = this->shared_from_this()](const error_code& ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec || self->state_ != State::kIdle) {
                                self->Close();
                              } else {
                                self->StartHeader();
                              }
                            });
  }

  void StartHeader() {
    if (!first_request_) {
      header_deadline_ = Clock::now() + context_.options.header_timeout;
    }
    first_request_ = false;
    state_ = State::kHeader;
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(std::min<size_t>(context_.options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(boost::none);
    Lowest().expires_at(header_deadline_);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](const error_code& ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const error_code& ec) {
    if (state_ == State::kClosed) {
      return;
    }
    if (ec) {
      if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        SendErrorAndClose(431);
      } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
        Close();
      } else if (IsHttpError(ec)) {
        SendErrorAndClose(400);
      } else {
        Close();  // timeout, reset, server closing
      }
      return;
    }
    const auto& message = parser_->get();
    RequestHead head;
    head.method = ToString(message.method_string());
    head.target = ToString(message.target());
    for (const auto& field : message) {
      head.headers.Add(ToString(field.name_string()), ToString(field.value()));
    }
    if (auto length = parser_->content_length()) {
      head.content_length = *length;
    }
    head.body_done = parser_->is_done();
    head.http10 = message.version() < 11;
    head.expect_continue =
        !head.http10 && HasToken(ToString(message[bhttp::field::expect]), "100-continue");
    head.is_head = message.method() == bhttp::verb::head;
    head.keep_alive = parser_->keep_alive();

    state_ = State::kBusy;
    Lowest().expires_never();
    auto task = [self = this->shared_from_this(), head = std::move(head)] {
      self->HandleRequest(head);
    };
    if (!context_.workers->Post(std::move(task))) {
      Close();
    }
  }

  // Reads body bytes into `out` until it holds at least kBodyMinFill bytes
  // (or is full), the body ends, or a read fails, then wakes the worker.
  // Handing each socket read (often a few KiB) to the worker separately cost
  // a thread switch per read; batching keeps a 1 GiB PUT to a few thousand.
  void ReadBodySome(MutableByteView out, std::shared_ptr<PendingOp> op, size_t filled = 0) {
    auto& body = parser_->get().body();
    MutableByteView rest = out.subspan(filled);
    body.data = rest.data();
    body.size = rest.size();
    Lowest().expires_after(context_.options.body_idle_timeout);
    bhttp::async_read_some(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this(), out, op, filled](error_code ec, size_t) {
          if (ec == bhttp::error::need_buffer) {
            ec = {};  // `out` is full
          }
          auto& parsed = self->parser_->get().body();
          const size_t got = filled + (out.size() - filled - parsed.size);
          parsed.data = nullptr;
          const bool done = self->parser_->is_done();
          if (ec) {
            op->Complete(BodyError(ec, self->context_.options.body_idle_timeout), got, done);
          } else if (!done && got < out.size() && got < kBodyMinFill) {
            self->ReadBodySome(out, op, got);  // framing only, or not enough yet
          } else {
            op->Complete(std::nullopt, got, done);
          }
        });
  }

  void AfterExchange(AfterResponse next) {
    switch (next) {
      case AfterResponse::kKeepAlive:
        WaitForRequest();
        break;
      case AfterResponse::kClose:
        // Bytes of a further request may be buffered: linger for those too.
        GracefulClose(/*linger=*/buffer_.size() > 0);
        break;
      case AfterResponse::kCloseLinger:
        GracefulClose(/*linger=*/true);
        break;
      case AfterResponse::kAbort:
        Close();
        break;
    }
  }

  void SendErrorAndClose(int status) {
    state_ = State::kClosing;
    auto message = std::make_shared<std::string>(MinimalErrorResponse(status));
    Lowest().expires_after(context_.options.header_timeout);
    net::async_write(stream_, net::buffer(*message),
                     [self = this->shared_from_this(), message](const error_code& ec, size_t) {
                       if (ec) {
                         self->Close();
                       } else {
                         self->GracefulClose(/*linger=*/true);
                       }
                     });
  }

  // Ends the connection after a complete response. TLS: close_notify, then
  // wait (briefly) for the client's. TCP with `linger`: half-close, then
  // discard input until the client closes or kLinger passes.
  void GracefulClose(bool linger) {
    if (state_ == State::kClosed) {
      return;
    }
    state_ = State::kClosing;
    Lowest().expires_after(kLinger);
    if constexpr (kTls) {
      (void)linger;
      stream_.async_shutdown(
          [self = this->shared_from_this()](const error_code&) { self->Close(); });
    } else if (linger) {
      error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      Linger();
    } else {
      Close();
    }
  }

  void Linger() {
    buffer_.consume(buffer_.size());
    Lowest().async_read_some(buffer_.prepare(kIdleRead),
                             [self = this->shared_from_this()](const error_code& ec, size_t) {
                               if (ec) {
                                 self->Close();
                               } else {
                                 self->Linger();
                               }
                             });
  }

  void Close() {
    if (state_ == State::kClosed) {
      return;
    }
    state_ = State::kClosed;
    Lowest().close();  // cancels pending operations and the timer
  }

  // ---- Worker side ----

  void HandleRequest(const RequestHead& head) {
    AfterResponse next = AfterResponse::kAbort;
    try {
      next = ServeRequest(context_, *this, head, kTls, remote_);
    } catch (...) {
      next = AfterResponse::kAbort;
    }
    try {
      net::post(stream_.get_executor(),
                [self = this->shared_from_this(), next] { self->AfterExchange(next); });
    } catch (...) {
      // Dropping the last reference closes the socket.
    }
  }

  Registration registration_;  // first: destroyed last
  ServerContext& context_;
  const std::string remote_;
  Stream stream_;
  // Strand only (body reads run there on the worker's behalf).
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  State state_ = State::kHandshake;
  bool first_request_ = true;
  Clock::time_point header_deadline_;
};

template <class Stream>
std::shared_ptr<Connection> Make(ServerContext& context, tcp::socket socket,
                                 net::ssl::context* tls) {
  auto connection = std::make_shared<ConnectionImpl<Stream>>(context, std::move(socket), tls);
  connection->Register();
  return connection;
}

}  // namespace

std::shared_ptr<Connection> MakeConnection(ServerContext& context, tcp::socket socket,
                                           net::ssl::context* tls) {
  if (tls != nullptr) {
    return Make<beast::ssl_stream<beast::tcp_stream>>(context, std::move(socket), tls);
  }
  return Make<beast::tcp_stream>(context, std::move(socket), nullptr);
}

}  // namespace strongroom::http::internal
