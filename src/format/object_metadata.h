// SPDX-License-Identifier: Apache-2.0
#pragma once

// What an object carries besides its streams, manifest and envelope, keyed by
// its DEK: sealed attributes (content headers, user metadata, checksums and
// the plaintext MD5) and the ETag derived from the MD5 for modes whose ETag
// must not be the MD5. Layout: docs/FORMAT.md §13; the box itself is
// crypto/sealed_box.h (§14).

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "format/manifest.h"
#include "format/stream.h"

namespace strongroom::format {

inline constexpr std::string_view kObjectAttributesPurpose = "strongroom/v1/object-attributes";
inline constexpr std::string_view kPartAttributesPurpose = "strongroom/v1/part-attributes";
inline constexpr size_t kDerivedEtagSize = 16;

// Seals `plaintext` (encoded attributes) under `dek`. Part number 0 is the
// object's (or multipart upload's) attributes box, bound to the object id
// and binding; 1..10000 is one part's box, bound to its part number too.
// kInvalidArgument for a DEK that is not 32 bytes or a bad part number.
Result<Bytes> SealAttributes(ByteView dek, const ObjectId& object_id, const Binding& binding,
                             uint32_t part_number, ByteView plaintext);

// Opens a box sealed by SealAttributes with the same arguments. kDataLoss
// if it is malformed or fails authentication (other key, object id,
// binding or part number, or modified bytes).
Result<crypto::SecretBytes> OpenAttributes(ByteView dek, const ObjectId& object_id,
                                           const Binding& binding, uint32_t part_number,
                                           ByteView sealed);

// The 16-byte ETag of an SSE-KMS or SSE-C object or part with plaintext MD5
// `md5`: the first 16 bytes of HMAC-SHA-256 under a key derived from the DEK
// and the object id. Stable for the object across re-wraps (the DEK stays),
// and reveals nothing about the MD5 without the DEK.
Result<Bytes> DeriveEtag(ByteView dek, const ObjectId& object_id, ByteView md5);

}  // namespace strongroom::format
