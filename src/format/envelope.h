// SPDX-License-Identifier: Apache-2.0
#pragma once

// Envelopes: a data key (DEK) wrapped under a key-encryption key, bound to
// the object id, the object's bucket and key, and a context (the SSE-KMS
// encryption context; empty elsewhere). Layout: docs/FORMAT.md §6.

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "format/manifest.h"
#include "format/stream.h"

namespace strongroom::format {

enum class WrapScheme : uint8_t {
  kExternal = 0x01,     // a key service's own ciphertext (KMIP, PKCS#11, ...)
  kLocalKek = 0x02,     // HKDF + AES-256-GCM under a KEK we hold
  kCustomerKey = 0x03,  // the same, under an SSE-C customer key
};

inline constexpr size_t kWrapSaltSize = 32;
inline constexpr size_t kDekSize = 32;
inline constexpr size_t kMaxEnvelopeSize = 4096;

struct Envelope {
  WrapScheme scheme = WrapScheme::kLocalKek;
  std::string provider_id;  // printable ASCII, at most 255 bytes
  std::string key_id;       // at most 65535 bytes
  std::array<uint8_t, kWrapSaltSize> wrap_salt{};
  Bytes wrapped;
};

// A fresh random 32-byte DEK.
Result<crypto::SecretBytes> NewDek();

// Wraps `dek` under `kek` (any length; HKDF extracts) with a fresh wrap salt,
// for the local-KEK or customer-key scheme. `context` enters the wrap AAD
// (length-prefixed, so empty is a value too) and is not stored in the
// envelope: the caller keeps it and must present the same bytes to unwrap.
// kInvalidArgument for the external scheme, a DEK that is not 32 bytes, an
// empty KEK, bad ids or a context of 2^32 bytes or more.
Result<Envelope> WrapDek(WrapScheme scheme, std::string provider_id, std::string key_id,
                         ByteView kek, ByteView dek, const ObjectId& object_id,
                         const Binding& binding, ByteView context);

// Unwraps. kUnauthenticated if the tag fails — a wrong key, or an envelope
// that was modified or belongs to another object, bucket, key or context;
// the causes are indistinguishable by design. kUnimplemented for the
// external scheme.
Result<crypto::SecretBytes> UnwrapDek(const Envelope& envelope, ByteView kek,
                                      const ObjectId& object_id, const Binding& binding,
                                      ByteView context);

Result<Bytes> SerializeEnvelope(const Envelope& envelope);
// Strict parse: kInvalidArgument for unknown magic, version or scheme,
// non-zero reserved bytes, bad lengths, or trailing bytes.
Result<Envelope> ParseEnvelope(ByteView data);

}  // namespace strongroom::format
