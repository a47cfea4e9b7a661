// SPDX-License-Identifier: Apache-2.0
#pragma once

// Object manifests: the MAC'd list of an object's streams. Layout and rules:
// docs/FORMAT.md §5.

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "format/stream.h"

namespace strongroom::format {

// What an object is bound to: its bucket and object key. Files use an empty
// binding. Encoded as BE16 len ‖ bucket ‖ BE16 len ‖ object key.
struct Binding {
  std::string bucket;
  std::string object_key;

  bool operator==(const Binding&) const = default;
};

// kInvalidArgument if either field exceeds 65535 bytes.
Result<Bytes> EncodeBinding(const Binding& binding);

// The streams of one object, in part order, and what the object is bound to.
struct Manifest {
  ObjectId object_id{};
  std::vector<StreamInfo> streams;
  Binding binding;

  uint64_t plaintext_size() const;
  // Bytes of the concatenated streams: Σ StreamSize(P_j).
  uint64_t blob_size() const;
};

inline constexpr size_t kManifestTagSize = 32;

// Serializes and MACs `manifest` under a key derived from `dek` — the
// object's DEK, or for an SSE-C multipart upload its separate manifest key
// (FORMAT.md §13.3); any 32 random bytes serve.
// kInvalidArgument if the entries break FORMAT.md §5 (count, part numbers,
// order) or `dek` is not 32 bytes.
Result<Bytes> SealManifest(const Manifest& manifest, ByteView dek);

// Parses `data`, verifies its tag (constant time) and checks that it belongs
// to `expected_object_id` and `expected_binding`. kDataLoss for a bad tag,
// a wrong object id or binding, or a total that does not add up;
// kInvalidArgument for a malformed or unknown structure.
Result<Manifest> OpenManifest(ByteView data, ByteView dek, const ObjectId& expected_object_id,
                              const Binding& expected_binding);

// Parses the structure without verifying the tag. Only for `inspect` and
// diagnostics: nothing it returns may be trusted or acted upon.
Result<Manifest> ParseManifestUnverified(ByteView data);

}  // namespace strongroom::format
