// SPDX-License-Identifier: Apache-2.0
#pragma once

// The worker-thread half of a connection: one request/response exchange.
// Runs the handler, feeds it the request body, writes the response, and
// decides what happens to the connection afterwards. Reaches the socket only
// through Transport; no Beast types. Internal to http/.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "http/internal/pending_op.h"
#include "http/internal/server_context.h"
#include "http/server.h"

namespace strongroom::http::internal {

// A parsed request header section.
struct RequestHead {
  std::string method;
  std::string target;
  Headers headers;
  std::optional<uint64_t> content_length;  // none for chunked bodies
  bool body_done = false;                  // no body, or an empty one
  bool expect_continue = false;            // HTTP/1.1 with "Expect: 100-continue"
  bool is_head = false;
  bool http10 = false;
  bool keep_alive = false;  // what the client asked for
};

// The socket side of an exchange, implemented by the connection. Each Start*
// posts an operation to the connection's strand and returns at once; the
// caller blocks in PendingOp::Wait. Memory the operation refers to must stay
// valid until it completes.
class Transport {
 public:
  virtual ~Transport() = default;
  // Writes `first` then `second` (either may be empty) completely.
  virtual std::shared_ptr<PendingOp> StartWrite(ByteView first, ByteView second) = 0;
  // Reads decoded request body bytes into `out` (non-empty): completes with
  // at least one byte, or at the end of the body (body_done), or with an
  // error (kUnavailable: disconnect, idle timeout, server closing;
  // kInvalidArgument: malformed chunked encoding). Must not be called once
  // the body is done.
  virtual std::shared_ptr<PendingOp> StartBodyRead(MutableByteView out) = 0;
};

// What the connection does after the response.
enum class AfterResponse {
  kKeepAlive,    // wait for the next request
  kClose,        // close
  kCloseLinger,  // the client may still be sending: half-close, discard, close
  kAbort,        // the response is incomplete: close at once
};

// Serves one request on the calling (worker) thread. Never throws from the
// handler (an exception becomes a 500).
AfterResponse ServeRequest(const ServerContext& context, Transport& transport,
                           const RequestHead& head, bool tls, const std::string& remote_address);

}  // namespace strongroom::http::internal
