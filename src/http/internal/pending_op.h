// SPDX-License-Identifier: Apache-2.0
#pragma once

// The bridge from asynchronous socket operations to blocking worker threads:
// a worker posts an operation to a connection's strand, the completion
// handler calls Complete, and the worker blocks in Wait. Internal to http/.

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>

#include "base/error.h"

namespace strongroom::http::internal {

class PendingOp {
 public:
  struct Outcome {
    std::optional<Error> error;
    size_t bytes = 0;  // transferred, even if `error` is set
    // For request body reads: the end of the body has been reached.
    bool body_done = false;
  };

  // Records the outcome and wakes the waiter. Call exactly once.
  void Complete(std::optional<Error> error, size_t bytes, bool body_done = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      outcome_.error = std::move(error);
      outcome_.bytes = bytes;
      outcome_.body_done = body_done;
      completed_ = true;
    }
    cv_.notify_all();
  }

  // Blocks until Complete has been called; returns its outcome.
  Outcome Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return completed_; });
    return outcome_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool completed_ = false;
  Outcome outcome_;
};

}  // namespace strongroom::http::internal
