// SPDX-License-Identifier: Apache-2.0
#include "keys/tpm/swtpm_transport.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <type_traits>

namespace strongroom::keys::tpm_internal {
namespace {

constexpr uint64_t kMagic = 0x73726f6f6d74706dULL;  // "sroomtpm"
constexpr size_t kHeaderSize = 10;                  // tag(2) size(4) code(4)
constexpr uint32_t kMaxResponse = 1 << 16;

uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

// What ESAPI sees: the common TCTI header first, then our back pointer.
struct SwtpmTransport::Context {
  TSS2_TCTI_CONTEXT_COMMON_V2 common;
  SwtpmTransport* self;
};
static_assert(std::is_standard_layout_v<TSS2_TCTI_CONTEXT_COMMON_V2>);

SwtpmTransport::SwtpmTransport(std::string host, uint16_t port)
    : context_(std::make_unique<Context>()), host_(std::move(host)), port_(port) {
  std::memset(&context_->common, 0, sizeof context_->common);
  TSS2_TCTI_CONTEXT_COMMON_V1& v1 = context_->common.v1;
  v1.magic = kMagic;
  v1.version = 2;
  v1.transmit = &SwtpmTransport::Transmit;
  v1.receive = &SwtpmTransport::Receive;
  v1.finalize = &SwtpmTransport::Finalize;
  v1.cancel = &SwtpmTransport::Cancel;
  v1.getPollHandles = &SwtpmTransport::GetPollHandles;
  v1.setLocality = &SwtpmTransport::SetLocality;
  context_->common.makeSticky = &SwtpmTransport::MakeSticky;
  context_->self = this;
}

SwtpmTransport::~SwtpmTransport() { Close(); }

TSS2_TCTI_CONTEXT* SwtpmTransport::tcti() {
  return reinterpret_cast<TSS2_TCTI_CONTEXT*>(context_.get());
}

SwtpmTransport* SwtpmTransport::From(TSS2_TCTI_CONTEXT* tcti) {
  if (tcti == nullptr) return nullptr;
  auto* context = reinterpret_cast<Context*>(tcti);
  if (context->common.v1.magic != kMagic) return nullptr;
  return context->self;
}

void SwtpmTransport::Fail(std::string message, bool timed_out) {
  failed_ = true;
  timed_out_ = timed_out_ || timed_out;
  last_error_ = std::move(message);
  Close();
}

void SwtpmTransport::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  receiving_ = false;
  header_have_ = 0;
}

bool SwtpmTransport::Wait(short events, const char* what) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) {
      Fail(std::string("no ") + what + " from the TPM at " + host_ + ":" +
               std::to_string(port_) + " within the deadline (busy or hung)",
           /*timed_out=*/true);
      return false;
    }
    pollfd p{fd_, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 60'000)));
    if (n > 0) return true;  // ready, or an error the next call reports
    if (n < 0 && errno != EINTR) {
      Fail(std::string("poll: ") + std::strerror(errno));
      return false;
    }
  }
}

bool SwtpmTransport::Connect() {
  if (Clock::now() >= deadline_) {
    Fail("deadline passed before connecting to the TPM", /*timed_out=*/true);
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(port_);
  int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    Fail("resolve " + host_ + ": " + ::gai_strerror(rc));
    return false;
  }
  std::string error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd_ < 0) {
      error = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS) {
      if (!Wait(POLLOUT, "connection")) {
        ::freeaddrinfo(found);
        return false;
      }
      int so_error = 0;
      socklen_t len = sizeof so_error;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error == 0) break;
      error = std::strerror(so_error);
    } else {
      error = std::strerror(errno);
    }
    ::close(fd_);
    fd_ = -1;
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) {
    Fail("connect to the TPM at " + host_ + ":" + port + ": " + error);
    return false;
  }
  return true;
}

bool SwtpmTransport::SendAll(const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!Wait(POLLOUT, "room to send")) return false;
      continue;
    }
    Fail(std::string("send to the TPM: ") + std::strerror(errno));
    return false;
  }
  return true;
}

bool SwtpmTransport::RecvAll(uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::recv(fd_, data, size, 0);
    if (n > 0) {
      data += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      Fail("the TPM closed the connection before answering");
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (!Wait(POLLIN, "response")) return false;
      continue;
    }
    Fail(std::string("receive from the TPM: ") + std::strerror(errno));
    return false;
  }
  return true;
}

TSS2_RC SwtpmTransport::Transmit(TSS2_TCTI_CONTEXT* tcti, size_t size, const uint8_t* command) {
  SwtpmTransport* self = From(tcti);
  if (self == nullptr) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (command == nullptr) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (self->receiving_) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (size < kHeaderSize || LoadBe32(command + 2) != size) return TSS2_TCTI_RC_BAD_VALUE;
  if (!self->Connect()) return TSS2_TCTI_RC_IO_ERROR;
  if (!self->SendAll(command, size)) return TSS2_TCTI_RC_IO_ERROR;
  self->receiving_ = true;
  self->header_have_ = 0;
  return TSS2_RC_SUCCESS;
}

// The TCTI contract: a call with response == nullptr reports the size; a
// buffer too small gets TSS2_TCTI_RC_INSUFFICIENT_BUFFER and the size. The
// `timeout` argument is ignored: ESAPI's synchronous calls always pass
// "block", and our deadline bounds the wait instead.
TSS2_RC SwtpmTransport::Receive(TSS2_TCTI_CONTEXT* tcti, size_t* size, uint8_t* response,
                                int32_t /*timeout*/) {
  SwtpmTransport* self = From(tcti);
  if (self == nullptr) return TSS2_TCTI_RC_BAD_CONTEXT;
  if (size == nullptr) return TSS2_TCTI_RC_BAD_REFERENCE;
  if (!self->receiving_) return TSS2_TCTI_RC_BAD_SEQUENCE;
  if (self->header_have_ < kHeaderSize) {
    if (!self->RecvAll(self->header_, kHeaderSize)) return TSS2_TCTI_RC_IO_ERROR;
    self->header_have_ = kHeaderSize;
  }
  uint32_t total = LoadBe32(self->header_ + 2);
  if (total < kHeaderSize || total > kMaxResponse) {
    self->Fail("the TPM sent a response with an impossible size");
    return TSS2_TCTI_RC_MALFORMED_RESPONSE;
  }
  if (response == nullptr) {
    *size = total;
    return TSS2_RC_SUCCESS;
  }
  if (*size < total) {
    *size = total;
    return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
  }
  std::memcpy(response, self->header_, kHeaderSize);
  if (!self->RecvAll(response + kHeaderSize, total - kHeaderSize)) return TSS2_TCTI_RC_IO_ERROR;
  *size = total;
  self->Close();  // one connection per command: never hold the TPM while idle
  return TSS2_RC_SUCCESS;
}

void SwtpmTransport::Finalize(TSS2_TCTI_CONTEXT* tcti) {
  if (SwtpmTransport* self = From(tcti)) self->Close();
}

TSS2_RC SwtpmTransport::Cancel(TSS2_TCTI_CONTEXT*) { return TSS2_TCTI_RC_NOT_IMPLEMENTED; }
TSS2_RC SwtpmTransport::GetPollHandles(TSS2_TCTI_CONTEXT*, TSS2_TCTI_POLL_HANDLE*, size_t*) {
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}
TSS2_RC SwtpmTransport::SetLocality(TSS2_TCTI_CONTEXT*, uint8_t) {
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}
TSS2_RC SwtpmTransport::MakeSticky(TSS2_TCTI_CONTEXT*, TPM2_HANDLE*, uint8_t) {
  return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

}  // namespace strongroom::keys::tpm_internal
