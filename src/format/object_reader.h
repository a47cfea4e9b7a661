// SPDX-License-Identifier: Apache-2.0
#pragma once

// Random access to an object's plaintext: FORMAT.md §8, "A random-access
// read". Decrypts only the chunks a byte range touches.

#include <cstdint>
#include <cstddef>
#include <memory>
#include <vector>

#include "base/bytes.h"
#include "base/io.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "format/cobblestone.h"
#include "format/manifest.h"

namespace strongroom::format {

// Reads plaintext ranges of one object whose streams are concatenated in
// `source` in manifest order. The manifest must already be verified
// (OpenManifest); salts and commitments come from the manifest and each
// stream's derived commitment is compared with it. The first time a stream
// is touched its stored 64-byte header is read and must equal the manifest
// entry (prefix, salt, commitment), so no stored byte goes unchecked.
// Not thread-safe; `source` must outlive the reader.
class ObjectRangeReader {
 public:
  // kDataLoss if source.size() differs from the manifest's blob size.
  static Result<std::unique_ptr<ObjectRangeReader>> Create(ByteView dek, Manifest manifest,
                                                           RandomAccessSource& source);

  uint64_t plaintext_size() const { return plaintext_size_; }

  // Fills `out` with the plaintext at [offset, offset + out.size()).
  // kOutOfRange past the end; kDataLoss if any touched chunk fails.
  Result<void> ReadAt(uint64_t offset, MutableByteView out);

 private:
  struct Stream {
    uint64_t plaintext_begin;  // offset of its first byte in the object
    uint64_t blob_offset;      // offset of its prefix in `source`
  };
  ObjectRangeReader(RandomAccessSource& source) : source_(source) {}
  Result<CobblestoneRandomAccessReader*> ReaderFor(size_t index);
  Result<void> CheckStoredHeader(size_t index);

  RandomAccessSource& source_;
  crypto::SecretBytes dek_;
  Manifest manifest_;
  std::vector<Stream> streams_;
  std::vector<bool> header_checked_;  // once per stream and reader
  uint64_t plaintext_size_ = 0;
  // Only the stream being read keeps a reader (key schedule and buffers), so
  // memory stays flat however many parts an object has.
  size_t current_index_ = SIZE_MAX;
  std::unique_ptr<CobblestoneRandomAccessReader> current_;
};

}  // namespace strongroom::format
