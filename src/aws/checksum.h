// SPDX-License-Identifier: Apache-2.0
#pragma once

// S3 flexible checksums (x-amz-checksum-crc32, -crc32c, -sha1, -sha256) and
// Content-MD5: incremental computation and the base64 form S3 uses.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::aws {

enum class ChecksumAlgorithm { kCrc32, kCrc32c, kSha1, kSha256, kMd5 };

// "CRC32" → kCrc32 ... (case-insensitive), nullopt otherwise.
std::optional<ChecksumAlgorithm> ParseChecksumAlgorithm(std::string_view name);
// "CRC32", "CRC32C", "SHA1", "SHA256", "MD5".
std::string_view ChecksumName(ChecksumAlgorithm algorithm);
// "x-amz-checksum-crc32" etc. (not for MD5).
std::string ChecksumHeader(ChecksumAlgorithm algorithm);

// Incremental checksum. Not thread-safe.
class Checksum {
 public:
  static Result<std::unique_ptr<Checksum>> Create(ChecksumAlgorithm algorithm);
  virtual ~Checksum() = default;
  virtual void Update(ByteView data) = 0;
  // Raw digest bytes (big-endian for CRCs).
  virtual Bytes Finish() = 0;
};

std::string Base64Encode(ByteView data);
std::optional<Bytes> Base64Decode(std::string_view text);

}  // namespace strongroom::aws
