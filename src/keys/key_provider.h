// SPDX-License-Identifier: Apache-2.0
#pragma once

// An external key store: wraps and unwraps small secrets (root keys, KEK
// material) under a key that never leaves it. Shaped like Tink's KmsClient.
// Implementations live in subfolders (kmip/, pkcs11/, tpm/); only server/
// and cli/ construct them. Every call is blocking and bounded by the
// provider's own timeout: an unreachable provider fails, it never hangs.
//
// Errors:
//   kUnavailable      the provider cannot be reached or is not ready (retry may help;
//                     reason "ServiceUnavailable")
//   kNotFound         the named key does not exist (or was destroyed)
//   kPermissionDenied the provider refused (authentication, policy, key state)
//   kDataLoss         `wrapped` does not authenticate under the key and AAD
//   kInvalidArgument  malformed input
// Thread-safe.

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::keys {

class KeyProvider {
 public:
  virtual ~KeyProvider() = default;

  // Short id written next to what it wraps: "kmip", "pkcs11", "tpm".
  virtual std::string_view id() const = 0;

  // Creates a new non-extractable AES-256 key labelled `label` in the
  // provider and returns the handle to name it by (a KMIP unique id, a
  // PKCS#11 label, a TPM blob name...). kAlreadyExists if the label is taken.
  virtual Result<std::string> CreateKey(std::string_view label) = 0;

  // Encrypts `plaintext` (at most 4 KiB) under key `key_name` with `aad`
  // bound (AES-GCM or AES-KWP with the AAD folded in, as the provider
  // allows). The result is opaque and self-contained.
  virtual Result<Bytes> Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) = 0;
  virtual Result<crypto::SecretBytes> Unwrap(std::string_view key_name, ByteView wrapped,
                                             ByteView aad) = 0;

  // Makes the key unusable for good (KMIP Revoke + Destroy, PKCS#11
  // C_DestroyObject...). kNotFound if absent.
  virtual Result<void> DestroyKey(std::string_view key_name) = 0;

  // Cheap liveness probe (a round trip that touches no key material).
  virtual Result<void> HealthCheck() = 0;
};

}  // namespace strongroom::keys
