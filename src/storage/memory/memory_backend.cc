// SPDX-License-Identifier: Apache-2.0
#include "storage/memory/memory_backend.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

namespace strongroom::storage {

using Blob = std::shared_ptr<const Bytes>;

struct MemoryBackend::State {
  mutable std::mutex mutex;
  // std::less<> compares std::string by char_traits<char>, i.e. by unsigned
  // bytes: the byte order List promises.
  std::map<std::string, Blob, std::less<>> blobs;
};

namespace {

// Reads one immutable snapshot; concurrent ReadAt calls are safe.
class MemorySource : public RandomAccessSource {
 public:
  explicit MemorySource(Blob blob) : blob_(std::move(blob)), view_(*blob_) {}
  uint64_t size() const override { return view_.size(); }
  Result<void> ReadAt(uint64_t offset, MutableByteView out) override {
    return view_.ReadAt(offset, out);
  }

 private:
  Blob blob_;
  ByteViewRandomAccessSource view_;
};

class MemoryWriter : public BlobWriter {
 public:
  MemoryWriter(std::shared_ptr<MemoryBackend::State> state, std::string name)
      : state_(std::move(state)), name_(std::move(name)) {}

  Result<void> Write(ByteView data) override {
    if (committed_) {
      return FailedPrecondition("blob '" + name_ + "' is already committed");
    }
    Append(data_, data);
    return Ok();
  }

  Result<void> Commit() override {
    if (committed_) {
      return FailedPrecondition("blob '" + name_ + "' is already committed");
    }
    auto blob = std::make_shared<const Bytes>(std::move(data_));
    data_.clear();
    {
      std::lock_guard lock(state_->mutex);
      state_->blobs.insert_or_assign(name_, std::move(blob));
    }
    committed_ = true;
    return Ok();
  }

 private:
  std::shared_ptr<MemoryBackend::State> state_;
  std::string name_;
  Bytes data_;
  bool committed_ = false;
};

}  // namespace

MemoryBackend::MemoryBackend() : state_(std::make_shared<State>()) {}
MemoryBackend::~MemoryBackend() = default;

Result<std::unique_ptr<BlobWriter>> MemoryBackend::Create(std::string_view name) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBlobName(name));
  return std::unique_ptr<BlobWriter>(new MemoryWriter(state_, std::string(name)));
}

Result<std::unique_ptr<RandomAccessSource>> MemoryBackend::Open(std::string_view name) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBlobName(name));
  Blob blob;
  {
    std::lock_guard lock(state_->mutex);
    auto it = state_->blobs.find(name);
    if (it == state_->blobs.end()) {
      return NotFound("no blob '" + std::string(name) + "'");
    }
    blob = it->second;
  }
  return std::unique_ptr<RandomAccessSource>(new MemorySource(std::move(blob)));
}

Result<BlobInfo> MemoryBackend::Stat(std::string_view name) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBlobName(name));
  std::lock_guard lock(state_->mutex);
  auto it = state_->blobs.find(name);
  if (it == state_->blobs.end()) {
    return NotFound("no blob '" + std::string(name) + "'");
  }
  return BlobInfo{it->first, it->second->size()};
}

Result<void> MemoryBackend::Delete(std::string_view name) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBlobName(name));
  Blob doomed;  // released after the lock, outside the critical section
  std::lock_guard lock(state_->mutex);
  auto it = state_->blobs.find(name);
  if (it != state_->blobs.end()) {
    doomed = std::move(it->second);
    state_->blobs.erase(it);
  }
  return Ok();
}

Result<std::vector<BlobInfo>> MemoryBackend::List(std::string_view prefix) {
  std::vector<BlobInfo> out;
  std::lock_guard lock(state_->mutex);
  for (auto it = state_->blobs.lower_bound(prefix);
       it != state_->blobs.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    out.push_back(BlobInfo{it->first, it->second->size()});
  }
  return out;
}

size_t MemoryBackend::blob_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->blobs.size();
}

uint64_t MemoryBackend::total_bytes() const {
  std::lock_guard lock(state_->mutex);
  uint64_t total = 0;
  for (const auto& [name, blob] : state_->blobs) total += blob->size();
  return total;
}

}  // namespace strongroom::storage
