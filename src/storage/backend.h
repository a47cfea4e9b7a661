// SPDX-License-Identifier: Apache-2.0
#pragma once

// Blob storage: opaque, immutable byte strings by name. A backend never
// sees plaintext (the objects layer encrypts before writing) and never
// hears the word "object".

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/io.h"
#include "base/result.h"

namespace strongroom::storage {

// The longest valid blob name, in bytes.
inline constexpr size_t kMaxBlobNameSize = 512;

struct BlobInfo {
  std::string name;
  uint64_t size = 0;
};

// Streams one new blob. Nothing is visible under the name until Commit()
// returns; destroying an uncommitted writer discards everything written.
// Not thread-safe.
class BlobWriter : public ByteSink {
 public:
  // Makes the blob durable (where the backend can promise durability) and
  // visible, atomically replacing any blob of the same name.
  virtual Result<void> Commit() = 0;
};

// Thread-safe: every method may be called concurrently.
class Backend {
 public:
  virtual ~Backend() = default;

  // Names are 1..512 bytes of [A-Za-z0-9._/-], no leading '/', no "..",
  // no "//"; kInvalidArgument otherwise. Callers choose collision-free names.
  virtual Result<std::unique_ptr<BlobWriter>> Create(std::string_view name) = 0;

  // Opens a committed blob for ranged reads. kNotFound if absent. The
  // returned source reads a consistent snapshot even if the blob is replaced
  // or deleted meanwhile (where the backend allows; LocalBackend does).
  virtual Result<std::unique_ptr<RandomAccessSource>> Open(std::string_view name) = 0;

  virtual Result<BlobInfo> Stat(std::string_view name) = 0;

  // Deletes a blob. Deleting a missing blob succeeds (idempotent).
  virtual Result<void> Delete(std::string_view name) = 0;

  // Committed blobs whose names start with `prefix`, in byte order.
  virtual Result<std::vector<BlobInfo>> List(std::string_view prefix) = 0;
};

// kInvalidArgument unless `name` follows the rules above.
Result<void> ValidateBlobName(std::string_view name);

}  // namespace strongroom::storage
