// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test-only helpers for the format tests.

#include <algorithm>

#include "format/stream.h"
#include "testing/test_util.h"

namespace strongroom::format {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::Pattern;

// A byte that marks "untouched" in output buffers.
inline constexpr uint8_t kSentinel = 0xA5;

// Never 0x00 (wiped) or kSentinel (untouched), so leaks are recognisable.
inline Bytes DistinctPattern(size_t size, uint64_t seed) {
  Bytes out = Pattern(size, seed);
  for (uint8_t& b : out) {
    if (b == 0x00 || b == kSentinel) b = 0x5A;
  }
  return out;
}

inline Bytes Dek(uint8_t seed = 1) { return Pattern(32, 100 + seed); }

inline ObjectId Id(uint8_t seed = 1) {
  ObjectId id;
  Bytes b = Pattern(kObjectIdSize, 200 + seed);
  std::copy(b.begin(), b.end(), id.begin());
  return id;
}

}  // namespace strongroom::format
