// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to s3/: byte sources used to stream object bodies.

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "base/io.h"
#include "objects/object_store.h"

namespace strongroom::s3 {

// Streams a range of an object while keeping its reader (and so its open
// blobs) alive for as long as the response needs them.
//
// Prefetch() reads the first bytes before the response headers go out, so
// stored data that fails authentication at the start of the range becomes
// a 500 InternalError rather than a cut connection. A later failure aborts
// the connection (the http server's rule for a failing source) after only
// verified bytes; `on_error` is called once with the first read error.
class ObjectBodySource : public ByteSource {
 public:
  ObjectBodySource(std::unique_ptr<objects::ObjectReader> reader,
                   std::unique_ptr<ByteSource> source,
                   std::function<void(const Error&)> on_error = {})
      : reader_(std::move(reader)), source_(std::move(source)), on_error_(std::move(on_error)) {}

  // Reads up to `limit` bytes (fewer at the end of the range) into a buffer
  // served first. Returns the read error, if any (on_error is not called).
  Result<void> Prefetch(size_t limit) {
    buffer_.resize(limit);
    size_t filled = 0;
    while (filled < limit) {
      auto n = source_->Read(MutableByteView(buffer_.data() + filled, limit - filled));
      if (!n) {
        buffer_.clear();
        failed_ = true;
        return tl::unexpected(n.error());
      }
      if (*n == 0) break;
      filled += *n;
    }
    buffer_.resize(filled);
    return Ok();
  }

  Result<size_t> Read(MutableByteView out) override {
    if (offset_ < buffer_.size()) {
      size_t n = std::min(out.size(), buffer_.size() - offset_);
      std::memcpy(out.data(), buffer_.data() + offset_, n);
      offset_ += n;
      if (offset_ == buffer_.size()) {
        Bytes().swap(buffer_);
        offset_ = 0;
      }
      return n;
    }
    auto n = source_->Read(out);
    if (!n && !failed_) {
      failed_ = true;
      if (on_error_) on_error_(n.error());
    }
    return n;
  }

 private:
  std::unique_ptr<objects::ObjectReader> reader_;
  std::unique_ptr<ByteSource> source_;
  std::function<void(const Error&)> on_error_;
  Bytes buffer_;
  size_t offset_ = 0;
  bool failed_ = false;
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
