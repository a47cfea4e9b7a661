// SPDX-License-Identifier: Apache-2.0
#include "objects/blob_leases.h"

namespace strongroom::objects {

void BlobLeases::Release(const std::vector<std::string>& blobs) {
  std::vector<std::string> now;
  {
    std::lock_guard lock(mutex_);
    for (const std::string& blob : blobs) {
      auto it = leases_.find(blob);
      if (it == leases_.end()) continue;
      if (--it->second == 0) {
        leases_.erase(it);
        if (deferred_.erase(blob) > 0) now.push_back(blob);
      }
    }
  }
  for (const std::string& blob : now) (void)backend_.Delete(blob);
}

void BlobLeases::Delete(const std::vector<std::string>& blobs) {
  std::vector<std::string> now;
  {
    std::lock_guard lock(mutex_);
    for (const std::string& blob : blobs) {
      if (leases_.count(blob)) {
        deferred_.insert(blob);
      } else {
        now.push_back(blob);
      }
    }
  }
  for (const std::string& blob : now) (void)backend_.Delete(blob);
}

}  // namespace strongroom::objects
