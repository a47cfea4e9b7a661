// SPDX-License-Identifier: Apache-2.0
#pragma once

// A fixed set of threads that run posted tasks in FIFO order. Tasks may block.
// Internal to http/.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace strongroom::http::internal {

class WorkerPool {
 public:
  // Starts `threads` threads (at least one).
  explicit WorkerPool(size_t threads);
  // Calls Shutdown().
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. Returns false (and drops the task) after Shutdown().
  // Tasks must not throw. Safe from any thread.
  bool Post(std::function<void()> task);

  // Runs the queued tasks to completion, then joins the threads. Idempotent;
  // must not be called from a pool thread.
  void Shutdown();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace strongroom::http::internal
