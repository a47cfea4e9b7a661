// SPDX-License-Identifier: Apache-2.0
#pragma once

// A blocking KMIP 1.4 client over mutual TLS (crypto::TlsClient): one
// request message with one batch item per call, framed as a single TTLV
// structure each way.
//
// Connections are kept open between calls in a small pool, so a warm call
// costs one round trip, not a TLS handshake. A connection that failed in any
// way is dropped; the next call dials a new one (transparent reconnect). Idle
// connections the server has closed are noticed and dropped before use, and
// a read-only request that fails on a reused connection is retried once on
// a fresh one. Requests that change state (Create, Activate, Revoke, Destroy)
// are never retried: the first attempt may have taken effect.
//
// Every call is bounded: connect_timeout for TCP + TLS handshake, then
// request_timeout for sending the request and reading the whole response.
//
// Errors:
//   kUnavailable      transport failure, timeout, or a server certificate that
//                     does not verify (reason "ServiceUnavailable")
//   kPermissionDenied the server refused our client certificate in TLS
//   kInternal         the server sent something that is not a KMIP response
//   otherwise         the KMIP result mapped by ErrorFromResponse (ItemNotFound
//                     -> kNotFound, PermissionDenied -> kPermissionDenied, ...);
//                     for Decrypt, a failed integrity check -> kDataLoss
// Thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "crypto/tls_client.h"
#include "keys/kmip/protocol.h"

namespace strongroom::keys::kmip {

struct KmipClientOptions {
  // The server; its certificate must name `host` (IP SAN for an IP literal).
  std::string host = "127.0.0.1";
  uint16_t port = 5696;
  // PEM files: the CA that issued the server certificate, and our client
  // certificate and key (the certificate's CN is the KMIP owner of the keys).
  std::string ca_file;
  std::string client_cert_file;
  std::string client_key_file;
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{5000};
  // Idle connections kept for reuse. Concurrent calls beyond this dial more
  // connections; the extra ones are closed when returned.
  size_t max_idle_connections = 4;
  // A response larger than this is refused (and the connection dropped).
  size_t max_response_bytes = 1 << 20;
};

class KmipClient {
 public:
  // Loads the TLS files; does not connect.
  static Result<std::unique_ptr<KmipClient>> Create(const KmipClientOptions& options);
  ~KmipClient();
  KmipClient(const KmipClient&) = delete;
  KmipClient& operator=(const KmipClient&) = delete;

  // Sends one request and returns the server's answer if it succeeded, or
  // the mapped Error. `retry_safe` allows the single retry on a stale reused
  // connection (read-only requests only). `subject` (a unique id or name)
  // goes into error messages.
  Result<Response> Call(Operation op, Item payload, bool retry_safe,
                        std::string_view subject = {});

  // Create a symmetric key; returns its unique identifier. The key starts
  // Pre-Active.
  Result<std::string> CreateSymmetricKey(const SymmetricKeySpec& spec);
  Result<void> Activate(std::string_view unique_id);
  // The key material in clear, if the server releases it. For tests and
  // diagnostics only: the provider itself never fetches key material.
  Result<crypto::SecretBytes> Get(std::string_view unique_id);
  Result<std::vector<std::pair<std::string, Item>>> GetAttributes(
      std::string_view unique_id, const std::vector<std::string>& names);
  Result<std::vector<std::string>> LocateByName(std::string_view name);
  // AES-GCM under the server's key with our IV; returns ciphertext and tag.
  Result<GcmEncryptResult> EncryptGcm(std::string_view unique_id, ByteView plaintext, ByteView iv,
                                      ByteView aad, int32_t tag_length);
  // kDataLoss if the tag does not verify under the key, IV and AAD.
  Result<crypto::SecretBytes> DecryptGcm(std::string_view unique_id, ByteView ciphertext,
                                         ByteView iv, ByteView aad, ByteView tag);
  Result<void> Revoke(std::string_view unique_id, uint32_t reason_code);
  Result<void> Destroy(std::string_view unique_id);
  Result<std::vector<ProtocolVersion>> DiscoverVersions();
  // Query(Operations, ServerInformation): the operations the server lists.
  Result<std::vector<uint32_t>> QueryOperations(std::string* vendor = nullptr);

  // Connections dialled so far (tests: reuse and reconnect).
  uint64_t connections_opened() const { return connections_opened_.load(); }
  // Drops every idle connection (tests; also useful after a server change).
  void CloseIdleConnections();

 private:
  KmipClient(KmipClientOptions options, std::unique_ptr<crypto::TlsClient> tls);

  // Call without the status check: any well-formed reply is returned.
  Result<Response> RoundTrip(Operation op, Item payload, bool retry_safe,
                             std::string_view subject);
  Result<std::unique_ptr<crypto::TlsConnection>> Dial();
  // An idle open connection, or nullptr.
  std::unique_ptr<crypto::TlsConnection> TakeIdle();
  void ReturnIdle(std::unique_ptr<crypto::TlsConnection> connection);
  // Writes `request`, reads one framed response into `response`.
  Result<void> Exchange(crypto::TlsConnection& connection, ByteView request, Bytes& response);

  const KmipClientOptions options_;
  const std::unique_ptr<crypto::TlsClient> tls_;
  std::mutex mu_;
  std::vector<std::unique_ptr<crypto::TlsConnection>> idle_;  // guarded by mu_
  std::atomic<uint64_t> connections_opened_{0};
};

}  // namespace strongroom::keys::kmip
