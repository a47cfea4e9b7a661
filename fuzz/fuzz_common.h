// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared pieces of the libFuzzer targets (fuzz/README.md): the fixed keys and
// identities the seed corpus was made with, an oracle check that aborts, a
// source that hands out data in small pieces, and a deterministic generator
// for values derived from the input.
//
// The fixed values are 32- or 16-byte ASCII strings so that the seed
// generator (fuzz/make_seeds.sh) can write them with printf. Changing any of
// them invalidates the seeds that were made with it; regenerate the corpus.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "base/bytes.h"
#include "base/io.h"
#include "base/result.h"
#include "format/manifest.h"
#include "format/stream.h"

namespace strongroom::fuzz {

// DEK for streams and manifests (stream_reader_fuzzer's round-trip mode,
// manifest_parser_fuzzer's OpenManifest/SealManifest); envelope seeds wrap it.
inline constexpr std::string_view kFuzzDek = "strongroom-fuzz-data-key-dek-v01";
// KEK for envelopes (envelope_parser_fuzzer).
inline constexpr std::string_view kFuzzKek = "strongroom-fuzz-kek-for-envs-v01";
// The key file of file containers (file_container_fuzzer); make_seeds.sh
// writes it to a key file and runs `strongroom encrypt --key-file`.
inline constexpr std::string_view kFuzzKeyFile = "strongroom-fuzz-key-file-key-v01";
// Object id and binding of streams, manifests and envelopes.
inline constexpr std::string_view kFuzzObjectIdText = "fuzz-object-id-1";
inline constexpr std::string_view kFuzzBucket = "fuzz-bucket";
inline constexpr std::string_view kFuzzObjectKey = "fuzz/object";

static_assert(kFuzzDek.size() == 32 && kFuzzKek.size() == 32 && kFuzzKeyFile.size() == 32);
static_assert(kFuzzObjectIdText.size() == format::kObjectIdSize);

inline format::ObjectId FuzzObjectId() {
  format::ObjectId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(kFuzzObjectIdText[i]);
  return id;
}

inline format::Binding FuzzBinding() {
  return format::Binding{std::string(kFuzzBucket), std::string(kFuzzObjectKey)};
}

// An oracle violation: print why and abort, so libFuzzer records the input
// as a crash (with a stack trace from the sanitizer's deadly-signal handler).
[[noreturn]] inline void OracleFailure(const char* file, int line, const char* condition,
                                       const char* why) {
  std::fprintf(stderr, "\n==== FUZZ ORACLE FAILURE at %s:%d\n  check: %s\n  why:   %s\n", file,
               line, condition, why);
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, why)                                                       \
  do {                                                                              \
    if (!(cond)) ::strongroom::fuzz::OracleFailure(__FILE__, __LINE__, #cond, why); \
  } while (0)

// SplitMix64: cheap, deterministic values derived from the input, so one
// input always takes the same path (libFuzzer needs reproducibility).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform-ish in [0, n]; 0 when n == 0.
  uint64_t UpTo(uint64_t n) { return n == UINT64_MAX ? Next() : Next() % (n + 1); }

 private:
  uint64_t state_;
};

// FNV-1a over the input: seeds Rng.
inline uint64_t HashBytes(ByteView data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint8_t b : data) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A sequential source that returns at most `piece` bytes per Read (and a
// varying amount below that), to exercise readers' handling of short reads.
// piece == 0 means no limit.
class PiecewiseSource : public ByteSource {
 public:
  PiecewiseSource(ByteView data, size_t piece) : data_(data), piece_(piece) {}
  Result<size_t> Read(MutableByteView out) override {
    size_t n = std::min(out.size(), data_.size() - offset_);
    if (piece_ != 0) {
      // 1..piece bytes, cycling, so reads straddle every kind of boundary.
      size_t limit = 1 + (calls_++ % piece_);
      n = std::min(n, limit);
    }
    std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset_), n, out.begin());
    offset_ += n;
    return n;
  }

 private:
  ByteView data_;
  size_t piece_;
  size_t offset_ = 0;
  size_t calls_ = 0;
};

// Reads `source` through `read` (a callable taking MutableByteView and
// returning Result<size_t>) in buffers of `buffer_size` bytes until it
// returns 0 or fails. Returns whether it ended cleanly; `out` gets every byte
// released, including those released before an error.
template <typename ReadFn>
bool DrainReader(ReadFn&& read, size_t buffer_size, Bytes& out) {
  Bytes buffer(buffer_size);
  // Every successful non-final Read returns >= 1 byte, so this terminates;
  // the bound is a guard against a reader that would loop forever.
  for (size_t calls = 0; calls < (size_t{1} << 24); ++calls) {
    Result<size_t> n = read(MutableByteView(buffer));
    if (!n) return false;
    if (*n == 0) return true;
    FUZZ_CHECK(*n <= buffer.size(), "a reader returned more bytes than asked for");
    out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  OracleFailure(__FILE__, __LINE__, "calls < 2^24",
                "a reader never reached the end of a finite input");
}

inline bool SameStreamInfo(const format::StreamInfo& a, const format::StreamInfo& b) {
  return a.part_number == b.part_number && a.plaintext_size == b.plaintext_size &&
         a.salt == b.salt && a.commitment == b.commitment;
}

inline bool SameManifest(const format::Manifest& a, const format::Manifest& b) {
  if (a.object_id != b.object_id || !(a.binding == b.binding) ||
      a.streams.size() != b.streams.size()) {
    return false;
  }
  for (size_t i = 0; i < a.streams.size(); ++i) {
    if (!SameStreamInfo(a.streams[i], b.streams[i])) return false;
  }
  return true;
}

}  // namespace strongroom::fuzz
