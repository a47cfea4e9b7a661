// SPDX-License-Identifier: Apache-2.0
#pragma once

// Small helpers shared by the unit tests.

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::testing {

// Runs fn(0) ... fn(n - 1) on n threads released at the same moment (a
// race on purpose); returns when all have finished.
template <class F>
void RunAtOnce(int n, F fn) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&go, &fn, i] {
      while (!go) std::this_thread::yield();
      fn(i);
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
}

// EXPECT_TRUE(FailsWith(result, ErrorCode::kDataLoss)): fails with a message
// naming what happened instead.
template <typename T>
::testing::AssertionResult FailsWith(const Result<T>& result, ErrorCode code) {
  if (result.has_value()) {
    return ::testing::AssertionFailure() << "succeeded; expected " << ErrorCodeName(code);
  }
  if (result.error().code() != code) {
    return ::testing::AssertionFailure() << "failed with \"" << result.error().ToString()
                                         << "\"; expected " << ErrorCodeName(code);
  }
  return ::testing::AssertionSuccess();
}

// ASSERT_OK(expr): asserts that a Result succeeded, printing its error if not.
#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    auto&& ok_result_ = (expr);                                                \
    ASSERT_TRUE(ok_result_) << #expr << ": " << ok_result_.error().ToString(); \
  } while (0)

// `size` deterministic pseudo-random bytes for `seed`.
inline Bytes Pattern(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(rng() >> 56);
  return out;
}

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace strongroom::testing
