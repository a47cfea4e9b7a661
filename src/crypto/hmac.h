// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <memory>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::crypto {

// HMAC-SHA-256 (RFC 2104), incremental. Not thread-safe.
class HmacSha256 {
 public:
  static constexpr size_t kTagSize = 32;
  using Tag = std::array<uint8_t, kTagSize>;

  // Any key length is accepted (RFC 2104 hashes long keys).
  static Result<std::unique_ptr<HmacSha256>> Create(ByteView key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  Result<void> Update(ByteView data);
  // Returns the tag; the object must not be updated afterwards.
  Result<Tag> Finish();

  // One-shot convenience.
  static Result<Tag> Compute(ByteView key, ByteView data);

 private:
  struct State;
  explicit HmacSha256(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace strongroom::crypto
