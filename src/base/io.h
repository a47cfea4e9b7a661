// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom {

// A sequential source of bytes (a file, a pipe, a request body).
// Not thread-safe.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to out.size() bytes; returns 0 only at the end of the data.
  // May return fewer bytes than asked before the end. May block.
  virtual Result<size_t> Read(MutableByteView out) = 0;
};

// A sequential sink of bytes. Not thread-safe.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes all of `data` or fails. May block.
  virtual Result<void> Write(ByteView data) = 0;
};

// Bytes addressable by offset (a blob on disk, a file). Thread-compatible:
// implementations state whether concurrent ReadAt calls are safe.
class RandomAccessSource {
 public:
  virtual ~RandomAccessSource() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly out.size() bytes at `offset`. kOutOfRange if the range
  // extends past size(). May block.
  virtual Result<void> ReadAt(uint64_t offset, MutableByteView out) = 0;
};

// Presents several sources as one, back to back. ReadAt may span sources.
// Thread-compatible as its parts are.
class ConcatenatedSource : public RandomAccessSource {
 public:
  explicit ConcatenatedSource(std::vector<std::unique_ptr<RandomAccessSource>> parts);
  uint64_t size() const override { return size_; }
  Result<void> ReadAt(uint64_t offset, MutableByteView out) override;

 private:
  std::vector<std::unique_ptr<RandomAccessSource>> parts_;
  std::vector<uint64_t> starts_;  // offset of each part
  uint64_t size_ = 0;
};

// Reads from `source` until `out` is full or the source ends; returns the
// number of bytes read (less than out.size() only at the end).
Result<size_t> ReadFull(ByteSource& source, MutableByteView out);

// In-memory implementations, for tests and small payloads.
class ByteViewSource : public ByteSource {
 public:
  explicit ByteViewSource(ByteView data) : data_(data) {}
  Result<size_t> Read(MutableByteView out) override;

 private:
  ByteView data_;
  size_t offset_ = 0;
};

class BytesSink : public ByteSink {
 public:
  Result<void> Write(ByteView data) override {
    Append(bytes_, data);
    return Ok();
  }
  const Bytes& bytes() const { return bytes_; }
  Bytes& bytes() { return bytes_; }

 private:
  Bytes bytes_;
};

class ByteViewRandomAccessSource : public RandomAccessSource {
 public:
  explicit ByteViewRandomAccessSource(ByteView data) : data_(data) {}
  uint64_t size() const override { return data_.size(); }
  Result<void> ReadAt(uint64_t offset, MutableByteView out) override;

 private:
  ByteView data_;
};

}  // namespace strongroom
