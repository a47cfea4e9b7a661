// SPDX-License-Identifier: Apache-2.0
#pragma once

// strongroom data streams: an 8-byte prefix and a Cobblestone-256 message
// whose context binds the prefix, the object id and the part number.
// Layout: docs/FORMAT.md §4. Sizes: §9.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/io.h"
#include "base/result.h"
#include "format/cobblestone.h"

namespace strongroom::format {

inline constexpr size_t kObjectIdSize = 16;
inline constexpr size_t kStreamPrefixSize = 8;
inline constexpr size_t kStreamHeaderSize = kStreamPrefixSize + kCobblestoneHeaderSize;  // 64
inline constexpr uint8_t kFormatVersion = 0x01;
inline constexpr uint8_t kSuiteCobblestone256 = 0x01;
inline constexpr uint32_t kMaxPartNumber = 10000;

using ObjectId = std::array<uint8_t, kObjectIdSize>;

// A fresh random object id.
Result<ObjectId> NewObjectId();

enum class StreamKind : uint8_t {
  kWholeObject = 0x01,    // part number 0
  kMultipartPart = 0x02,  // part number 1..10000
};

// The kind a part number implies: 0 is a whole object, 1..10000 a part.
// kInvalidArgument for anything else.
Result<StreamKind> KindForPartNumber(uint32_t part_number);

// Stream length for `plaintext_size` bytes, and its inverse (kDataLoss if no
// plaintext encrypts to `stream_size` bytes).
inline uint64_t StreamSize(uint64_t plaintext_size) {
  return kStreamPrefixSize + MessageSize(plaintext_size);
}
Result<uint64_t> PlaintextSizeOfStream(uint64_t stream_size);

// The 28-byte Cobblestone context of a stream (prefix ‖ object id ‖ part).
Result<Bytes> StreamContext(const ObjectId& object_id, uint32_t part_number);

// What a finished stream contributes to its object's manifest.
struct StreamInfo {
  uint32_t part_number = 0;
  uint64_t plaintext_size = 0;
  Salt salt{};
  Commitment commitment{};
};

// Encrypts one stream into a sink, chunk by chunk, with a fresh salt.
// Not thread-safe; `sink` must outlive the writer. Errors are sticky.
class StreamWriter {
 public:
  // `dek` must be 32 bytes (kInvalidArgument); `part_number` 0 or 1..10000.
  static Result<std::unique_ptr<StreamWriter>> Create(ByteView dek, const ObjectId& object_id,
                                                      uint32_t part_number, ByteSink& sink);

  Result<void> Write(ByteView plaintext);
  // Seals the final chunk and flushes. Call exactly once; the returned info
  // goes into the manifest.
  Result<StreamInfo> Finish();

  uint64_t plaintext_size() const { return encryptor_->plaintext_size(); }
  CobblestoneEncryptor& encryptor_for_test() { return *encryptor_; }

 private:
  StreamWriter() = default;
  std::unique_ptr<CobblestoneEncryptor> encryptor_;
  uint32_t part_number_ = 0;
};

// Decrypts one stream from a source that ends where the stream ends.
// Checks the prefix and, when `expected` comes from a verified manifest, that
// salt, commitment and length match it. Errors are sticky; bytes returned
// before an error are a verified prefix only (FORMAT.md §8). Not
// thread-safe; `source` must outlive the reader.
class StreamReader {
 public:
  static Result<std::unique_ptr<StreamReader>> Create(ByteView dek, const ObjectId& object_id,
                                                      uint32_t part_number, ByteSource& source,
                                                      std::optional<StreamInfo> expected);

  // Up to out.size() plaintext bytes; 0 at a complete, verified end.
  // kDataLoss for any authentication or structure failure; kInvalidArgument
  // for an unknown version, suite or kind, or a non-zero reserved byte.
  Result<size_t> Read(MutableByteView out);

  // The stream's salt and commitment (after the first successful Read) and
  // the plaintext length read so far; for matching against a manifest read
  // after the stream, as file containers do.
  StreamInfo info() const;

 private:
  StreamReader(ByteSource& source) : source_(source) {}
  Result<size_t> ReadUnsticky(MutableByteView out);

  ByteSource& source_;
  std::unique_ptr<CobblestoneDecryptor> decryptor_;
  std::optional<StreamInfo> expected_;
  uint32_t part_number_ = 0;
  bool prefix_checked_ = false;
  std::optional<Error> error_;
};

// Checks a stored 8-byte prefix against the one `part_number` implies, with
// the specific reason on failure. Shared by readers and `inspect`.
Result<void> CheckStreamPrefix(ByteView prefix, uint32_t part_number);

}  // namespace strongroom::format
