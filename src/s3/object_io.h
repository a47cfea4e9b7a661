// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to s3/: byte sources used to stream object bodies.

#include <memory>

#include "base/io.h"
#include "objects/object_store.h"

namespace strongroom::s3 {

// Streams a range of an object while keeping its reader (and so its open
// blobs) alive for as long as the response needs them.
class OwningSource : public ByteSource {
 public:
  OwningSource(std::unique_ptr<objects::ObjectReader> reader, std::unique_ptr<ByteSource> source)
      : reader_(std::move(reader)), source_(std::move(source)) {}
  Result<size_t> Read(MutableByteView out) override { return source_->Read(out); }

 private:
  std::unique_ptr<objects::ObjectReader> reader_;
  std::unique_ptr<ByteSource> source_;
};

// Passes bytes through and adds their count to `count`.
class CountedSource : public ByteSource {
 public:
  CountedSource(ByteSource& inner, uint64_t& count) : inner_(inner), count_(count) {}
  Result<size_t> Read(MutableByteView out) override {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, inner_.Read(out));
    count_ += n;
    return n;
  }

 private:
  ByteSource& inner_;
  uint64_t& count_;
};

}  // namespace strongroom::s3
