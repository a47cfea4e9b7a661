// SPDX-License-Identifier: Apache-2.0
#include "http/internal/exchange.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "base/io.h"
#include "http/internal/wire.h"

namespace strongroom::http::internal {
namespace {

// Size of each of the two buffers a streamed response body alternates between.
constexpr size_t kResponseChunk = 256 * 1024;
// An unread request body at most this large is drained to keep the connection.
constexpr uint64_t kMaxDrain = 64 * 1024;

class Exchange;

// The Request a handler sees; its body reads go through the Exchange.
class RequestImpl final : public Request, private ByteSource {
 public:
  RequestImpl(Exchange& exchange, const RequestHead& head, bool tls,
              const std::string& remote_address)
      : exchange_(exchange), head_(head), tls_(tls), remote_address_(remote_address) {}

  const std::string& method() const override { return head_.method; }
  const std::string& target() const override { return head_.target; }
  const Headers& headers() const override { return head_.headers; }
  std::optional<uint64_t> content_length() const override { return head_.content_length; }
  ByteSource& body() override { return *this; }
  bool is_tls() const override { return tls_; }
  const std::string& remote_address() const override { return remote_address_; }
  bool body_consumed() const override;

 private:
  Result<size_t> Read(MutableByteView out) override;

  Exchange& exchange_;
  const RequestHead& head_;
  const bool tls_;
  const std::string& remote_address_;
};

class Exchange {
 public:
  Exchange(const ServerContext& context, Transport& transport, const RequestHead& head)
      : context_(context), transport_(transport), head_(head), body_done_(head.body_done) {}

  AfterResponse Run(bool tls, const std::string& remote_address);

  // ByteSource::Read semantics for the request body; errors are sticky.
  Result<size_t> ReadBody(MutableByteView out);
  bool body_done() const { return body_done_; }

 private:
  bool WriteResponse(const Response& response, ConnectionHeader connection);
  bool StreamBody(const std::string& head, ByteSource& source, uint64_t length);
  bool DrainBody();
  bool AwaitWrite(ByteView first, ByteView second = {}) {
    return !transport_.StartWrite(first, second)->Wait().error;
  }

  const ServerContext& context_;
  Transport& transport_;
  const RequestHead& head_;
  bool body_done_;
  bool continue_sent_ = false;
  uint64_t body_bytes_read_ = 0;
  std::optional<Error> body_error_;
};

bool RequestImpl::body_consumed() const { return exchange_.body_done(); }
Result<size_t> RequestImpl::Read(MutableByteView out) { return exchange_.ReadBody(out); }

Response InternalServerError() {
  Response response;
  response.status = 500;
  return response;
}

AfterResponse Exchange::Run(bool tls, const std::string& remote_address) {
  Response response;
  {
    RequestImpl request(*this, head_, tls, remote_address);
    try {
      response = context_.handler(request);
    } catch (...) {
      response = InternalServerError();
    }
  }
  if (!IsValidFinalStatus(response.status)) {
    response = InternalServerError();
  }

  bool keep_alive = head_.keep_alive && !body_error_ && !context_.stopping.load() &&
                    !ResponseWantsClose(response);
  bool drain = false;
  if (!body_done_) {
    // Drain only what the client is surely sending and is small.
    const bool small_rest =
        head_.content_length && *head_.content_length - body_bytes_read_ <= kMaxDrain;
    const bool client_sends = !head_.expect_continue || continue_sent_;
    drain = small_rest && client_sends;
    keep_alive = keep_alive && drain;
  }
  const ConnectionHeader connection =
      !keep_alive ? ConnectionHeader::kClose
                  : (head_.http10 ? ConnectionHeader::kKeepAlive : ConnectionHeader::kNone);
  const bool written = WriteResponse(response, connection);
  response = Response{};  // releases the body source on this thread
  if (!written) {
    return AfterResponse::kAbort;
  }
  if (keep_alive && drain && !DrainBody()) {
    return AfterResponse::kAbort;
  }
  if (keep_alive) {
    return AfterResponse::kKeepAlive;
  }
  return body_done_ ? AfterResponse::kClose : AfterResponse::kCloseLinger;
}

bool Exchange::WriteResponse(const Response& response, ConnectionHeader connection) {
  const int status = response.status;
  std::optional<uint64_t> content_length;
  if (!StatusHasNoBody(status)) {
    if (response.body_source != nullptr || (response.omit_body && response.body.empty())) {
      content_length = response.content_length;
    } else {
      content_length = response.body.size();
    }
  }
  const bool send_body = !StatusHasNoBody(status) && !head_.is_head && !response.omit_body;
  const std::string head = FormatResponseHead(status, response.headers, content_length, connection);
  if (!send_body) {
    return AwaitWrite(AsBytes(head));
  }
  if (response.body_source != nullptr) {
    return StreamBody(head, *response.body_source, response.content_length);
  }
  return AwaitWrite(AsBytes(head), AsBytes(response.body));
}

bool Exchange::StreamBody(const std::string& head, ByteSource& source, uint64_t length) {
  // Two buffers: the source fills one while the other is being written.
  std::array<std::vector<uint8_t>, 2> buffers;
  std::shared_ptr<PendingOp> pending = transport_.StartWrite(AsBytes(head), {});
  uint64_t remaining = length;
  size_t index = 0;
  bool ok = true;
  while (remaining > 0) {
    std::vector<uint8_t>& buffer = buffers[index];
    if (buffer.empty()) {
      buffer.resize(static_cast<size_t>(std::min<uint64_t>(kResponseChunk, length)));
    }
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), remaining));
    Result<size_t> n = ReadFull(source, MutableByteView(buffer.data(), want));
    if (!n || *n == 0) {
      ok = false;  // the source failed or ended early: abort the connection
      break;
    }
    if (pending->Wait().error) {
      pending = nullptr;
      ok = false;
      break;
    }
    pending = transport_.StartWrite(ByteView(buffer.data(), *n), {});
    remaining -= *n;
    index ^= 1;
  }
  // Never leave a write in flight on a buffer that is about to go away.
  if (pending != nullptr && pending->Wait().error) {
    ok = false;
  }
  return ok;
}

Result<size_t> Exchange::ReadBody(MutableByteView out) {
  if (body_error_) {
    return tl::unexpected(*body_error_);
  }
  if (out.empty()) {
    return 0;
  }
  // Sent on the handler's first read even for an empty body: some clients
  // (botocore 1.29) mis-parse the next response on a kept-alive connection
  // when a final status answers their Expect: 100-continue directly.
  if (head_.expect_continue && !continue_sent_) {
    continue_sent_ = true;
    if (!AwaitWrite(AsBytes(ContinueResponse()))) {
      body_error_ = Error(ErrorCode::kUnavailable, "sending 100 Continue failed");
      return tl::unexpected(*body_error_);
    }
  }
  if (body_done_) {
    return 0;
  }
  const PendingOp::Outcome outcome = transport_.StartBodyRead(out)->Wait();
  body_bytes_read_ += outcome.bytes;
  body_done_ = outcome.body_done;
  if (outcome.error) {
    body_error_ = outcome.error;
    if (outcome.bytes == 0) {
      return tl::unexpected(*body_error_);
    }
  }
  return outcome.bytes;  // an error is reported by the next read
}

bool Exchange::DrainBody() {
  std::array<uint8_t, 16 * 1024> scratch;
  while (!body_done_) {
    Result<size_t> n = ReadBody(scratch);
    if (!n || (*n == 0 && !body_done_)) {
      return false;
    }
  }
  return true;
}

}  // namespace

AfterResponse ServeRequest(const ServerContext& context, Transport& transport,
                           const RequestHead& head, bool tls, const std::string& remote_address) {
  return Exchange(context, transport, head).Run(tls, remote_address);
}

}  // namespace strongroom::http::internal
