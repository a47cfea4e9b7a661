// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::crypto {

// Incremental message digest. Not thread-safe.
//
// MD5 exists only because S3 defines ETags and Content-MD5 with it; it must
// never protect anything. SHA-1 likewise exists only for S3's
// x-amz-checksum-sha1. SHA-256 is for checksums and SigV4; SHA-512 for
// checking test vectors.
class Digest {
 public:
  enum class Algorithm { kMd5, kSha1, kSha256, kSha512 };

  static Result<std::unique_ptr<Digest>> Create(Algorithm algorithm);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  Result<void> Update(ByteView data);
  // Returns the digest and resets the object for a new message.
  Result<Bytes> Finish();

  // One-shot convenience.
  static Result<Bytes> Compute(Algorithm algorithm, ByteView data);

 private:
  struct State;
  explicit Digest(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace strongroom::crypto
