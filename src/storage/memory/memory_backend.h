// SPDX-License-Identifier: Apache-2.0
#pragma once

// A Backend that keeps blobs in memory, for tests and benchmarks. Nothing is
// durable. Thread-safe. Each committed blob is an immutable, reference-counted
// byte string: a source returned by Open keeps the bytes it opened alive and
// readable even after the blob is replaced or deleted, so readers always see
// a consistent snapshot. Writers buffer in memory until Commit; writers and
// sources may outlive the backend.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/backend.h"

namespace strongroom::storage {

class MemoryBackend : public Backend {
 public:
  MemoryBackend();
  ~MemoryBackend() override;

  Result<std::unique_ptr<BlobWriter>> Create(std::string_view name) override;
  Result<std::unique_ptr<RandomAccessSource>> Open(std::string_view name) override;
  Result<BlobInfo> Stat(std::string_view name) override;
  Result<void> Delete(std::string_view name) override;
  Result<std::vector<BlobInfo>> List(std::string_view prefix) override;

  // The number of committed blobs and the sum of their sizes (for tests).
  size_t blob_count() const;
  uint64_t total_bytes() const;

  // Internal; shared with writers so they may outlive the backend.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace strongroom::storage
