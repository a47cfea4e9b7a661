// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to objects/. Blobs that open readers still use are not deleted
// when their object is replaced or removed; the deletion waits until the
// last reader closes. This lets readers open blobs lazily (one at a time,
// however many parts an object has) without racing a concurrent overwrite.
// A crash forgets deferred deletions; the start-up orphan sweep finds them.
// Thread-safe.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "storage/backend.h"

namespace strongroom::objects {

class BlobLeases {
 public:
  explicit BlobLeases(storage::Backend& backend) : backend_(backend) {}

  // Runs `read_record` (which must return the blobs it found) under the
  // lease lock and leases those blobs, so no deletion decided after the
  // record was read can remove them.
  template <typename ReadRecord>
  auto AcquireWhile(ReadRecord&& read_record) -> decltype(read_record()) {
    std::lock_guard lock(mutex_);
    auto record = read_record();
    if (record) {
      for (const std::string& blob : record->blobs) ++leases_[blob];
    }
    return record;
  }

  // Ends a lease; performs any deletion that waited for it.
  void Release(const std::vector<std::string>& blobs);

  // Deletes blobs now, or when their last lease ends. Best effort: a blob
  // that fails to delete is left for the orphan sweep.
  void Delete(const std::vector<std::string>& blobs);

 private:
  storage::Backend& backend_;
  std::mutex mutex_;
  std::map<std::string, int> leases_;
  std::set<std::string> deferred_;
};

}  // namespace strongroom::objects
