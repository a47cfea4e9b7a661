// SPDX-License-Identifier: Apache-2.0
#pragma once

// One accepted TCP (or TLS) connection and its request loop. Internal to
// http/.
//
// Threads: every socket operation runs on the connection's strand (the I/O
// threads): the TLS handshake, waiting for and parsing request headers, and
// closing. A parsed request is handed to a WorkerPool thread, which runs the
// handler and writes the response (exchange.h); it reaches the socket only by
// posting an operation to the strand and blocking until that operation
// completes, so request and response bodies stream through small buffers.

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "http/internal/server_context.h"

namespace strongroom::http::internal {

class Connection {
 public:
  virtual ~Connection() = default;
  // Begins the TLS handshake (if any) and the request loop.
  virtual void Start() = 0;
  // Graceful (force = false): closes the connection now if it is waiting for
  // a request; otherwise it closes after the current response (the server's
  // `stopping` flag must already be set). Force: closes the socket now, so
  // pending body reads and writes fail; a running handler still runs to its
  // end. Safe from any thread.
  virtual void Shutdown(bool force) = 0;
};

// Creates a connection for an accepted `socket` (whose executor must be a
// strand) and registers it with context.registry. With `tls` non-null the
// connection speaks TLS using that context, which must outlive it.
std::shared_ptr<Connection> MakeConnection(ServerContext& context,
                                           boost::asio::ip::tcp::socket socket,
                                           boost::asio::ssl::context* tls);

}  // namespace strongroom::http::internal
