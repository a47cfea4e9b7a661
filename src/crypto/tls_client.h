// SPDX-License-Identifier: Apache-2.0
#pragma once

// A small blocking TLS client for request/response protocols spoken to a key
// service (KMIP). Every network step is bounded by a deadline: nothing here
// waits longer than the caller allows, so an unreachable or stalled peer
// becomes an error, never a hang.
//
// Security properties (fixed, not options):
//   * TLS 1.2 or newer only.
//   * The server's chain is verified against `ca_file` alone (the system
//     trust store is not consulted) and its certificate must name the host
//     dialled: subjectAltName IP for an IP literal, DNS name otherwise (SNI is
//     sent for DNS names).
//   * A client certificate and key are presented when configured (mutual TLS).
//   * Writes never raise SIGPIPE (the socket is driven with MSG_NOSIGNAL).
//
// Errors:
//   kInvalidArgument  unreadable or mismatched CA/certificate/key files; bad host
//   kUnavailable      name resolution, connect, I/O or deadline failures, the
//                     peer closed, or the handshake failed otherwise
//   kUnauthenticated  the server's certificate did not verify (chain or name)
//   kPermissionDenied the server refused our client certificate (a bad_certificate,
//                     unknown_ca, certificate_required... alert; with TLS 1.3
//                     this can surface on the first read rather than in Connect)
//
// After any error a TlsConnection is unusable and must be dropped.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::crypto {

using Deadline = std::chrono::steady_clock::time_point;

struct TlsClientOptions {
  // PEM file with the CA certificate(s) the server chain must lead to. Required.
  std::string ca_file;
  // PEM client certificate (chain) and its private key. Both or neither.
  std::string cert_file;
  std::string key_file;
};

class TlsConnection;

// The configuration shared by every connection (an SSL_CTX): files are read
// once, here. Thread-safe; Connect may be called from many threads.
class TlsClient {
 public:
  static Result<std::unique_ptr<TlsClient>> Create(const TlsClientOptions& options);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Resolves `host` (an IP literal or a DNS name), connects over TCP and
  // completes the handshake, all before `deadline`. The server certificate
  // must match `host`.
  Result<std::unique_ptr<TlsConnection>> Connect(const std::string& host, uint16_t port,
                                                 Deadline deadline) const;

 private:
  struct State;
  explicit TlsClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One established connection. Not thread-safe: one user at a time.
class TlsConnection {
 public:
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Sends all of `data` before `deadline`.
  Result<void> WriteAll(ByteView data, Deadline deadline);
  // Fills all of `out` before `deadline`; kUnavailable if the peer closes first.
  Result<void> ReadExact(MutableByteView out, Deadline deadline);

  // For a connection kept idle between request/response exchanges: false if
  // the peer has closed it (or sent something unasked for), i.e. it must not
  // be reused. Never blocks.
  bool IdleAndOpen();

  // The negotiated protocol ("TLSv1.2") and cipher suite, for logs and tests.
  std::string protocol() const;
  std::string cipher() const;

 private:
  friend class TlsClient;
  struct State;
  explicit TlsConnection(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace strongroom::crypto
