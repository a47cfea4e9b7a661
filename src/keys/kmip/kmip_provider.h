// SPDX-License-Identifier: Apache-2.0
#pragma once

// keys::KeyProvider backed by a KMIP 1.4 server over mutual TLS (tested
// against PyKMIP 0.10). The AES-256 key stays in the server; we only ask it
// to encrypt and decrypt.
//
//   CreateKey(label)  Locate(Name = label): kAlreadyExists if any object has
//                     it; else Create(AES-256, usage Encrypt|Decrypt,
//                     Name = label, Sensitive = true) + Activate. Returns the
//                     server's unique identifier, which names the key from
//                     then on. (Locate-then-Create is not atomic: two
//                     concurrent CreateKey calls with one label can both win.)
//   Wrap              Encrypt with AES-GCM: a fresh random 12-byte IV (ours,
//                     from the CSPRNG: PyKMIP would make a 16-byte one), the
//                     caller's AAD, a 16-byte tag.
//   Unwrap            Decrypt; a tag that does not verify -> kDataLoss.
//   DestroyKey        Revoke (cessation of operation) + Destroy. A key that
//                     is not Active (e.g. never activated, already revoked)
//                     goes straight to Destroy.
//   HealthCheck       DiscoverVersions; the server must list KMIP 1.4.
//
// Wrapped blob (opaque to callers, self-contained):
//   version (1 byte, 0x01) ‖ IV (12) ‖ ciphertext (= plaintext length) ‖ tag (16)
// The tag length is fixed by the format, never taken from the blob, so a
// truncated tag cannot be smuggled to a server that would accept one.
// Random IVs: keep the number of wraps under one key well below 2^32.
//
// Errors follow keys/key_provider.h; kUnavailable carries the reason
// "ServiceUnavailable". Thread-safe (connections are pooled, see
// kmip_client.h).

#include <memory>
#include <string>
#include <string_view>

#include "keys/key_provider.h"
#include "keys/kmip/kmip_client.h"

namespace strongroom::keys {

// Endpoint, mutual-TLS files and timeouts (see kmip::KmipClientOptions).
using KmipProviderOptions = kmip::KmipClientOptions;

class KmipProvider final : public KeyProvider {
 public:
  static constexpr uint8_t kBlobVersion = 0x01;
  static constexpr size_t kIvSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kMaxPlaintext = 4096;

  // Reads the TLS files; does not contact the server (HealthCheck does).
  static Result<std::unique_ptr<KmipProvider>> Create(const KmipProviderOptions& options);

  std::string_view id() const override { return "kmip"; }
  Result<std::string> CreateKey(std::string_view label) override;
  Result<Bytes> Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) override;
  Result<crypto::SecretBytes> Unwrap(std::string_view key_name, ByteView wrapped,
                                     ByteView aad) override;
  Result<void> DestroyKey(std::string_view key_name) override;
  Result<void> HealthCheck() override;

  // The underlying client (connection statistics in tests).
  kmip::KmipClient& client() { return *client_; }

 private:
  explicit KmipProvider(std::unique_ptr<kmip::KmipClient> client);
  std::unique_ptr<kmip::KmipClient> client_;
};

}  // namespace strongroom::keys
