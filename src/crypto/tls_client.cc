// SPDX-License-Identifier: Apache-2.0
#include "crypto/tls_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace strongroom::crypto {

namespace {

// Drains OpenSSL's error queue into one line.
std::string OpenSslErrors() {
  std::string out;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("no detail") : out;
}

tl::unexpected<Error> Unreachable(const std::string& message) {
  return Unavailable(message);
}

int MillisUntil(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  // Round up so that a sub-millisecond remainder still waits.
  return left.count() >= INT_MAX ? INT_MAX : static_cast<int>(left.count()) + 1;
}

// Waits until `fd` is ready for `events` or the deadline passes.
// Returns false on timeout.
Result<bool> WaitFor(int fd, short events, Deadline deadline) {
  for (;;) {
    const int ms = MillisUntil(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms);
    if (r > 0) return true;  // ready, or an error/hangup the next call reports
    if (r == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      continue;
    }
    if (errno == EINTR) continue;
    return Unreachable(std::string("poll: ") + std::strerror(errno));
  }
}

// ---- A socket BIO that never raises SIGPIPE --------------------------------
// OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE when
// the peer has gone. This one uses send(MSG_NOSIGNAL) / recv on a
// non-blocking descriptor it does not own.

int SocketBioWrite(BIO* bio, const char* data, size_t size, size_t* written) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      *written = static_cast<size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return 0;
  }
}

int SocketBioRead(BIO* bio, char* data, size_t size, size_t* read) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n > 0) {
      *read = static_cast<size_t>(n);
      return 1;
    }
    if (n == 0) return 0;  // orderly EOF
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return 0;
  }
}

long SocketBioCtrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // nothing is buffered here
    default:
      return 0;
  }
}

int SocketBioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* SocketBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "strongroom nosigpipe socket");
    if (m != nullptr) {
      BIO_meth_set_write_ex(m, SocketBioWrite);
      BIO_meth_set_read_ex(m, SocketBioRead);
      BIO_meth_set_ctrl(m, SocketBioCtrl);
      BIO_meth_set_create(m, SocketBioCreate);
    }
    return m;
  }();
  return method;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr addr6;
  in_addr addr4;
  return ::inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
}

std::string Endpoint(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

using Addresses = std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)>;

// One name lookup in flight: it must stay alive until glibc is done with it.
struct Lookup {
  std::string name;
  std::string service;
  addrinfo hints{};
  gaicb request{};
};

// Resolves `host` within the deadline. getaddrinfo has no timeout, so this
// uses glibc's asynchronous getaddrinfo_a and waits with gai_suspend; a
// lookup still running at the deadline is cancelled, or, if the resolver
// will not let go of it, left to a thread that frees it once it ends.
Result<Addresses> Resolve(const std::string& host, uint16_t port, Deadline deadline) {
  auto lookup = std::make_unique<Lookup>();
  lookup->name = host;
  lookup->service = std::to_string(port);
  lookup->hints.ai_family = AF_UNSPEC;
  lookup->hints.ai_socktype = SOCK_STREAM;
  lookup->hints.ai_flags = AI_NUMERICSERV | (IsIpLiteral(host) ? AI_NUMERICHOST : 0);
  lookup->request.ar_name = lookup->name.c_str();
  lookup->request.ar_service = lookup->service.c_str();
  lookup->request.ar_request = &lookup->hints;
  gaicb* list[] = {&lookup->request};
  int rc = ::getaddrinfo_a(GAI_NOWAIT, list, 1, nullptr);
  if (rc != 0) return Unreachable("resolving '" + host + "': " + ::gai_strerror(rc));
  for (;;) {
    rc = ::gai_error(&lookup->request);
    if (rc != EAI_INPROGRESS) break;
    const int ms = MillisUntil(deadline);
    if (ms == 0) {
      if (::gai_cancel(&lookup->request) == EAI_NOTCANCELED) {
        auto finish = [](Lookup* pending) {
          gaicb* waiting[] = {&pending->request};
          while (::gai_error(&pending->request) == EAI_INPROGRESS) {
            ::gai_suspend(waiting, 1, nullptr);
          }
          if (pending->request.ar_result != nullptr) ::freeaddrinfo(pending->request.ar_result);
          delete pending;
        };
        Lookup* pending = lookup.release();
        try {
          std::thread(finish, pending).detach();
        } catch (const std::system_error&) {
          finish(pending);  // no thread to spare: wait here rather than leak or free early
        }
      } else if (lookup->request.ar_result != nullptr) {
        ::freeaddrinfo(lookup->request.ar_result);
      }
      return Unreachable("resolving '" + host + "': timed out");
    }
    const timespec wait{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
    ::gai_suspend(list, 1, &wait);  // EAI_AGAIN (time up) and EAI_INTR: look again
  }
  if (rc != 0) return Unreachable("resolving '" + host + "': " + ::gai_strerror(rc));
  return Addresses(lookup->request.ar_result, ::freeaddrinfo);
}

// Non-blocking TCP connect to the first address of `host` that answers.
Result<int> ConnectTcp(const std::string& host, uint16_t port, Deadline deadline) {
  STRONGROOM_ASSIGN_OR_RETURN(Addresses addresses, Resolve(host, port, deadline));
  std::string last_error = "no address";
  for (addrinfo* ai = addresses.get(); ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            ai->ai_protocol);
    if (fd < 0) {
      last_error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int one = 1;
    // Request/response traffic: never hold a small write back (Nagle).
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    auto ready = WaitFor(fd, POLLOUT, deadline);
    if (!ready) {
      ::close(fd);
      return tl::unexpected(ready.error());
    }
    if (!*ready) {
      ::close(fd);
      return Unreachable("connecting to " + Endpoint(host, port) + ": timed out");
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 && so_error == 0) {
      return fd;
    }
    last_error = std::strerror(so_error != 0 ? so_error : errno);
    ::close(fd);
  }
  return Unreachable("connecting to " + Endpoint(host, port) + ": " + last_error);
}

}  // namespace

// ---- TlsClient ----------------------------------------------------------------

struct TlsClient::State {
  SSL_CTX* ctx = nullptr;
  ~State() { SSL_CTX_free(ctx); }
};

TlsClient::TlsClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
TlsClient::~TlsClient() = default;

Result<std::unique_ptr<TlsClient>> TlsClient::Create(const TlsClientOptions& options) {
  if (options.ca_file.empty()) {
    return InvalidArgument("tls client: a CA file is required");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return InvalidArgument("tls client: give both a client certificate and its key, or neither");
  }
  if (SocketBioMethod() == nullptr) {
    return Internal("tls client: cannot create the socket BIO method");
  }
  ERR_clear_error();
  auto state = std::make_unique<State>();
  state->ctx = SSL_CTX_new(TLS_client_method());
  if (state->ctx == nullptr) {
    return Internal("tls client: SSL_CTX_new: " + OpenSslErrors());
  }
  SSL_CTX* ctx = state->ctx;
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return Internal("tls client: cannot require TLS 1.2: " + OpenSslErrors());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Only the configured CA: the system store is deliberately not loaded.
  if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return InvalidArgument("tls client: cannot load CA file '" + options.ca_file +
                           "': " + OpenSslErrors());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return InvalidArgument("tls client: cannot load certificate '" + options.cert_file +
                             "': " + OpenSslErrors());
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return InvalidArgument("tls client: cannot load private key '" + options.key_file +
                             "': " + OpenSslErrors());
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return InvalidArgument("tls client: key '" + options.key_file +
                             "' does not match certificate '" + options.cert_file + "'");
    }
  }
  return std::unique_ptr<TlsClient>(new TlsClient(std::move(state)));
}

// ---- TlsConnection ------------------------------------------------------------

struct TlsConnection::State {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string endpoint;
  ~State() {
    // No close_notify: this is also the path after an error or timeout, and
    // it must not block. The peer sees the TCP close.
    SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

TlsConnection::TlsConnection(std::unique_ptr<State> state) : state_(std::move(state)) {}
TlsConnection::~TlsConnection() = default;

namespace {

// True for the alerts a server sends when it does not accept the client
// certificate (TLS 1.2: during the handshake; TLS 1.3: after it, so these
// can also end a read).
bool PeerRefusedOurCertificate(unsigned long error) {
  if (error == 0 || ERR_GET_LIB(error) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(error)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

// Runs one SSL_* step until it completes, waiting on the socket as OpenSSL
// asks, until `deadline`. `step` returns the SSL_*_ex style result (1 ok).
template <typename Step>
Result<void> Drive(SSL* ssl, int fd, const std::string& what,
                   Deadline deadline, Step step) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int r = step();
    if (r == 1) return Ok();
    const int err = SSL_get_error(ssl, r);
    short events = 0;
    switch (err) {
      case SSL_ERROR_WANT_READ:
        events = POLLIN;
        break;
      case SSL_ERROR_WANT_WRITE:
        events = POLLOUT;
        break;
      case SSL_ERROR_ZERO_RETURN:
        return Unreachable(what + ": connection closed by peer");
      case SSL_ERROR_SYSCALL: {
        const int saved = errno;
        const std::string detail = ERR_peek_error() != 0 ? OpenSslErrors()
                                   : saved != 0          ? std::string(std::strerror(saved))
                                                         : std::string("connection closed by peer");
        return Unreachable(what + ": " + detail);
      }
      default: {
        const long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
          ERR_clear_error();
          return Unauthenticated(what + ": server certificate rejected: " +
                                 X509_verify_cert_error_string(verify));
        }
        if (PeerRefusedOurCertificate(ERR_peek_error())) {
          return PermissionDenied(what + ": the server refused our client certificate: " +
                                  OpenSslErrors());
        }
        return Unreachable(what + ": " + OpenSslErrors());
      }
    }
    auto ready = WaitFor(fd, events, deadline);
    STRONGROOM_RETURN_IF_ERROR(ready);
    if (!*ready) return Unreachable(what + ": timed out");
  }
}

}  // namespace

Result<std::unique_ptr<TlsConnection>> TlsClient::Connect(const std::string& host, uint16_t port,
                                                          Deadline deadline) const {
  if (host.empty()) return InvalidArgument("tls client: empty host");
  const std::string endpoint = Endpoint(host, port);
  auto state = std::make_unique<TlsConnection::State>();
  state->endpoint = endpoint;
  STRONGROOM_ASSIGN_OR_RETURN(state->fd, ConnectTcp(host, port, deadline));

  ERR_clear_error();
  state->ssl = SSL_new(state_->ctx);
  if (state->ssl == nullptr) return Internal("tls client: SSL_new: " + OpenSslErrors());
  SSL* ssl = state->ssl;
  BIO* bio = BIO_new(SocketBioMethod());
  if (bio == nullptr) return Internal("tls client: BIO_new: " + OpenSslErrors());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(state->fd)));
  SSL_set_bio(ssl, bio, bio);  // ssl owns the BIO (one reference for both directions)

  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (IsIpLiteral(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return InvalidArgument("tls client: bad IP address '" + host + "'");
    }
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host.c_str()) != 1 ||
        SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
      return InvalidArgument("tls client: bad host name '" + host + "'");
    }
  }
  SSL_set_connect_state(ssl);
  STRONGROOM_RETURN_IF_ERROR(Drive(ssl, state->fd, "tls handshake with " + endpoint,
                                   deadline, [ssl] { return SSL_do_handshake(ssl); }));
  // SSL_VERIFY_PEER already failed the handshake on a bad chain or name;
  // checked again so that no configuration slip can let one through.
  if (SSL_get0_peer_certificate(ssl) == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) {
    return Unauthenticated("tls handshake with " + endpoint + ": server certificate not verified");
  }
  return std::unique_ptr<TlsConnection>(new TlsConnection(std::move(state)));
}

Result<void> TlsConnection::WriteAll(ByteView data, Deadline deadline) {
  SSL* ssl = state_->ssl;
  size_t done = 0;
  while (done < data.size()) {
    size_t written = 0;
    const uint8_t* p = data.data() + done;
    const size_t n = data.size() - done;
    STRONGROOM_RETURN_IF_ERROR(Drive(ssl, state_->fd, "tls write to " + state_->endpoint,
                                     deadline,
                                     [&] { return SSL_write_ex(ssl, p, n, &written); }));
    done += written;
  }
  return Ok();
}

Result<void> TlsConnection::ReadExact(MutableByteView out, Deadline deadline) {
  SSL* ssl = state_->ssl;
  size_t done = 0;
  while (done < out.size()) {
    size_t read = 0;
    uint8_t* p = out.data() + done;
    const size_t n = out.size() - done;
    STRONGROOM_RETURN_IF_ERROR(Drive(ssl, state_->fd, "tls read from " + state_->endpoint,
                                     deadline, [&] { return SSL_read_ex(ssl, p, n, &read); }));
    done += read;
  }
  return Ok();
}

bool TlsConnection::IdleAndOpen() {
  SSL* ssl = state_->ssl;
  if (SSL_pending(ssl) > 0) return false;  // unasked-for data
  pollfd p{state_->fd, POLLIN, 0};
  const int r = ::poll(&p, 1, 0);
  if (r == 0) return true;  // nothing arrived: still open
  if (r < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return false;
  // Something arrived. Post-handshake messages (TLS 1.3 session tickets) are
  // fine and consumed here; application data, close_notify or EOF are not.
  uint8_t byte;
  size_t got = 0;
  ERR_clear_error();
  const int rc = SSL_peek_ex(ssl, &byte, 1, &got);
  if (rc == 1) return false;
  const bool open = SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ;
  ERR_clear_error();
  return open;
}

std::string TlsConnection::protocol() const { return SSL_get_version(state_->ssl); }

std::string TlsConnection::cipher() const {
  const char* name = SSL_get_cipher_name(state_->ssl);
  return name != nullptr ? name : "";
}

}  // namespace strongroom::crypto
