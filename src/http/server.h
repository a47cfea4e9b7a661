// SPDX-License-Identifier: Apache-2.0
#pragma once

// An HTTP/1.1 server (Boost.Beast + Asio; the only module that includes
// them) that knows nothing of S3. Request and response bodies stream: a
// handler reads the request body and the server pulls the response body
// through ByteSource, with memory per request bounded by small buffers,
// never by the body size.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/io.h"
#include "base/result.h"

namespace strongroom::http {

// Header fields in arrival order. Names compare case-insensitively.
class Headers {
 public:
  void Add(std::string name, std::string value);
  // The first value of `name`, if present.
  std::optional<std::string> Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // Replaces every value of `name` by `value`.
  void Set(std::string name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& all() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// One request as a handler sees it. The body is read through body(); reads
// block the calling (worker) thread until bytes arrive, the body ends, or the
// body idle timeout expires (kUnavailable). If the request carried
// "Expect: 100-continue", the server sends "100 Continue" on the first body
// read, so a handler that rejects a request without reading never asks the
// client for the body.
//
// Body reads fail with kUnavailable when the client disconnects or stalls,
// or the server is force-closing (the connection is then closed, and the
// response may not reach the client), and with kInvalidArgument when the
// chunked encoding is malformed; errors are sticky.
// Chunked request bodies arrive decoded. The Request, and its body, are valid
// only during the handler call and only on the handler's thread.
class Request {
 public:
  virtual ~Request() = default;
  virtual const std::string& method() const = 0;   // "GET", "PUT", ...
  virtual const std::string& target() const = 0;   // raw request-target: path?query
  virtual const Headers& headers() const = 0;
  // Content-Length if the request has one; chunked transfer encoding has none.
  virtual std::optional<uint64_t> content_length() const = 0;
  virtual ByteSource& body() = 0;
  virtual bool is_tls() const = 0;
  virtual const std::string& remote_address() const = 0;  // "ip:port", "[v6]:port"
  // True if the whole body has been read (the connection can be reused).
  virtual bool body_consumed() const = 0;
};

// A response. Small bodies go in `body`; large ones stream from
// `body_source`, which must yield exactly `content_length` bytes. If the
// source fails or yields too few bytes, the server aborts the connection so
// the client sees a truncated response rather than wrong data. The source is
// read (on the worker thread) in pieces of up to 256 KiB and destroyed there.
//
// The server owns the framing headers: Content-Length, Transfer-Encoding and
// Connection set by the handler are dropped (but "Connection: close" is
// honoured: the connection closes after the response), fields whose name is
// not a token or whose value contains CR/LF/NUL are dropped, and Date is
// added unless present.
// Content-Length is `content_length` with a body_source, or with omit_body
// and an empty `body`; otherwise body.size(). 204 and 304 carry neither
// Content-Length nor a body, responses to HEAD never carry a body, and a
// status outside 200..599 (or a handler exception) becomes a bare 500.
struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::unique_ptr<ByteSource> body_source;
  uint64_t content_length = 0;  // used with body_source, or with omit_body
  // HEAD responses: send Content-Length as given but no body.
  bool omit_body = false;
};

// Called on a worker thread for every request; may block. Must not call
// Server::Wait (it would wait for itself).
//
// If the handler returns before the request body has been read to its end,
// the connection is closed after the response ("Connection: close" is
// added), except that a Content-Length body with at most 64 KiB left is
// drained after the response and the connection kept. A request whose
// "100 Continue" was never sent is never drained.
using Handler = std::function<Response(Request&)>;

struct ServerOptions {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 9000;  // 0 picks a free port (see Server::port())
  // TLS when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Beyond this the server answers 431 with a short XML body and closes,
  // without calling the handler; malformed requests get 400 likewise.
  size_t max_header_bytes = 16 * 1024;        // at least 1024
  size_t max_connections = 1024;              // further connections wait in the backlog
  // From accepting a connection (or the first byte of a later request) to
  // the end of its header section; includes the TLS handshake.
  std::chrono::seconds header_timeout{30};
  // No request body bytes for this long fails the read (kUnavailable) and
  // closes the connection; also bounds each response write.
  std::chrono::seconds body_idle_timeout{60};
  // An idle connection between requests is closed after this long.
  std::chrono::seconds keep_alive_timeout{60};
  size_t worker_threads = 0;                  // 0 = max(4, 2 * cores)
  size_t io_threads = 0;                      // 0 = clamp(cores / 2, 2, 4)
};

// The server. Create() binds, listens and begins accepting; Stop() stops
// accepting, lets in-flight requests finish (up to `grace`), then closes
// everything. Thread-safe.
class Server {
 public:
  // kInvalidArgument for bad options or unreadable/mismatched TLS files,
  // kUnavailable if the address cannot be bound.
  static Result<std::unique_ptr<Server>> Create(ServerOptions options, Handler handler);
  // Stops with no grace if Stop() was not called, and waits.
  virtual ~Server() = default;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Blocks until Stop() has finished: every connection closed, every
  // handler returned and the server's threads joined.
  virtual void Wait() = 0;
  // Returns once the listening socket is closed (new connections are
  // refused); the rest happens in the background: idle keep-alive
  // connections close at once, in-flight requests get `grace` to finish
  // (each closes after its response), then remaining sockets are closed,
  // which fails pending body reads and writes. A handler that blocks on
  // something else still delays Wait() until it returns. Safe from any
  // thread except the server's I/O threads; later calls do nothing.
  virtual void Stop(std::chrono::seconds grace = std::chrono::seconds(30)) = 0;
};

}  // namespace strongroom::http
