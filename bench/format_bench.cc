// SPDX-License-Identifier: Apache-2.0
//
// Throughput of the encrypted format (docs/FORMAT.md) against raw
// AES-256-GCM, measured in the same process and the same run.
//
// Performance is always read as a RATIO against the BM_Raw* baselines of the
// same run (bench/run_format_bench.sh computes them): absolute MB/s on a
// shared 2-vCPU VM mean little on their own.
//
// NOTE on OpenSSL: the project rule "OpenSSL only in src/crypto/" is for
// production code. This benchmark's baseline deliberately calls raw OpenSSL
// EVP itself (the bench target alone links OpenSSL::Crypto), so that the
// format is measured against the best a direct caller could do, not against
// our own wrapper.
//
// Baselines ("fair and strong"): one EVP_CIPHER_CTX per direction, the key is
// set once, and each 16 KiB chunk only resets the IV
// (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv)), exactly the per-chunk work
// Cobblestone needs, with no buffering and no copies.
//
// Working sets: 1 MiB (cache resident) and 64 MiB (memory bound: input and
// output both exceed the last-level cache). Every benchmark reads its input
// from, and writes its output to, buffers of the same size as the raw
// baseline does, so the ratio isolates the format's own overhead.
//
// Repetition-friendly: inputs are built once per size (outside the timed
// region) and shared; each iteration is self-contained (a fresh writer or
// reader, as a real request would have), so --benchmark_repetitions and
// --benchmark_enable_random_interleaving give independent samples.

#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/io.h"
#include "crypto/secret_bytes.h"
#include "format/cobblestone.h"
#include "format/file_container.h"
#include "format/manifest.h"
#include "format/object_reader.h"
#include "format/stream.h"

namespace strongroom::bench {
namespace {

using format::kChunkSize;
using format::kSealedChunkSize;
using format::kTagSize;

constexpr size_t kIoSlice = size_t{1} << 20;  // what EncryptFile/DecryptFile use
constexpr size_t kSmallRange = 4096;
constexpr size_t kRandomOffsets = 4096;

// ------------------------------------------------------------------ raw EVP

const EVP_CIPHER* Aes256Gcm() {
  // Explicit fetch once, as src/crypto does: implicit fetches per init cost.
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

// Cobblestone's nonce rule (base XOR BE96(i)), so the baseline does the same
// per-chunk arithmetic the format must do.
inline void ChunkNonce(const std::array<uint8_t, 12>& base, uint64_t index,
                       std::array<uint8_t, 12>& nonce) {
  nonce = base;
  for (int i = 0; i < 8; ++i) {
    nonce[static_cast<size_t>(11 - i)] ^= static_cast<uint8_t>(index >> (8 * i));
  }
}

class RawGcm {
 public:
  RawGcm(const uint8_t* key) {
    seal_ = EVP_CIPHER_CTX_new();
    open_ = EVP_CIPHER_CTX_new();
    ok_ = seal_ != nullptr && open_ != nullptr && Aes256Gcm() != nullptr &&
          EVP_EncryptInit_ex(seal_, Aes256Gcm(), nullptr, key, nullptr) == 1 &&
          EVP_DecryptInit_ex(open_, Aes256Gcm(), nullptr, key, nullptr) == 1;
    base_nonce_.fill(0x5a);
  }
  ~RawGcm() {
    EVP_CIPHER_CTX_free(seal_);
    EVP_CIPHER_CTX_free(open_);
  }
  RawGcm(const RawGcm&) = delete;
  RawGcm& operator=(const RawGcm&) = delete;
  bool ok() const { return ok_; }

  // out: n + 16 bytes.
  bool Seal(uint64_t index, const uint8_t* in, size_t n, uint8_t* out) {
    std::array<uint8_t, 12> iv;
    ChunkNonce(base_nonce_, index, iv);
    int len = 0;
    return EVP_EncryptInit_ex(seal_, nullptr, nullptr, nullptr, iv.data()) == 1 &&
           EVP_EncryptUpdate(seal_, out, &len, in, static_cast<int>(n)) == 1 &&
           EVP_EncryptFinal_ex(seal_, out + n, &len) == 1 &&
           EVP_CIPHER_CTX_ctrl(seal_, EVP_CTRL_GCM_GET_TAG, kTagSize, out + n) == 1;
  }

  // in: n + 16 bytes (ciphertext ‖ tag); out: n bytes.
  bool Open(uint64_t index, const uint8_t* in, size_t n, uint8_t* out) {
    std::array<uint8_t, 12> iv;
    ChunkNonce(base_nonce_, index, iv);
    int len = 0;
    return EVP_DecryptInit_ex(open_, nullptr, nullptr, nullptr, iv.data()) == 1 &&
           EVP_DecryptUpdate(open_, out, &len, in, static_cast<int>(n)) == 1 &&
           EVP_CIPHER_CTX_ctrl(open_, EVP_CTRL_GCM_SET_TAG, kTagSize,
                               const_cast<uint8_t*>(in + n)) == 1 &&
           EVP_DecryptFinal_ex(open_, out + n, &len) == 1;
  }

 private:
  EVP_CIPHER_CTX* seal_ = nullptr;
  EVP_CIPHER_CTX* open_ = nullptr;
  std::array<uint8_t, 12> base_nonce_{};
  bool ok_ = false;
};

// ---------------------------------------------------------------- fixtures

constexpr std::array<uint8_t, 32> kDek = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
constexpr format::ObjectId kObjectId = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

// A sink that writes into a preallocated buffer (the data lands in memory of
// the full output size, as with the raw baseline).
class BufferSink : public ByteSink {
 public:
  explicit BufferSink(MutableByteView buffer) : buffer_(buffer) {}
  Result<void> Write(ByteView data) override {
    if (data.size() > buffer_.size() - used_) {
      return OutOfRange("BufferSink is full");
    }
    std::memcpy(buffer_.data() + used_, data.data(), data.size());
    used_ += data.size();
    return Ok();
  }
  size_t used() const { return used_; }

 private:
  MutableByteView buffer_;
  size_t used_ = 0;
};

// A sink that drops everything: isolates the format's CPU work from the
// cost of storing its output.
class DiscardSink : public ByteSink {
 public:
  Result<void> Write(ByteView data) override {
    benchmark::DoNotOptimize(data.data());
    used_ += data.size();
    return Ok();
  }
  size_t used() const { return used_; }

 private:
  size_t used_ = 0;
};

// Everything one working-set size needs, built once (outside any timing)
// and shared by all benchmarks and repetitions of that size.
struct Fixture {
  size_t size = 0;
  Bytes plain;       // random plaintext, `size` bytes
  Bytes raw_sealed;  // `plain` sealed chunk by chunk by RawGcm
  Bytes stream;      // `plain` as a strongroom data stream (FORMAT.md §4)
  format::StreamInfo info;
  Bytes file;        // `plain` as a key-file file container (FORMAT.md §7)
  Bytes sealed_out;  // output scratch for encryption (>= StreamSize(size))
  Bytes plain_out;   // output scratch for decryption (`size` bytes)
  std::vector<uint64_t> random_offsets;  // 4 KiB-aligned, for small ranges
  std::string error;
};

format::FileKey KeyFileKey() {
  format::FileKey key;
  key.source = format::KeySource::kKeyFile;
  key.secret = crypto::SecretBytes::CopyFrom(kDek);
  return key;
}

Fixture& GetFixture(size_t size) {
  static std::map<size_t, std::unique_ptr<Fixture>> fixtures;
  auto& slot = fixtures[size];
  if (slot) {
    return *slot;
  }
  slot = std::make_unique<Fixture>();
  Fixture& f = *slot;
  f.size = size;
  if (size % kChunkSize != 0) {
    f.error = "size must be a multiple of 16 KiB";
    return f;
  }
  // Content does not affect AES-GCM speed; it only has to be non-trivial.
  f.plain.resize(size);
  std::mt19937_64 rng(size);
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(f.plain.data() + i, &v, 8);
  }
  const size_t chunks = size / kChunkSize;
  f.raw_sealed.resize(chunks * kSealedChunkSize);
  RawGcm raw(kDek.data());
  for (size_t c = 0; c < chunks && raw.ok(); ++c) {
    if (!raw.Seal(c, f.plain.data() + c * kChunkSize, kChunkSize,
                  f.raw_sealed.data() + c * kSealedChunkSize)) {
      f.error = "raw seal failed";
      return f;
    }
  }
  if (!raw.ok()) {
    f.error = "EVP setup failed";
    return f;
  }

  BytesSink stream_sink;
  auto writer = format::StreamWriter::Create(kDek, kObjectId, 0, stream_sink);
  if (!writer) {
    f.error = writer.error().message();
    return f;
  }
  auto written = (*writer)->Write(f.plain);
  auto info = written ? (*writer)->Finish() : tl::unexpected(written.error());
  if (!info) {
    f.error = info.error().message();
    return f;
  }
  f.info = *info;
  f.stream = std::move(stream_sink.bytes());

  BytesSink file_sink;
  ByteViewSource file_source(f.plain);
  auto summary = format::EncryptFile(KeyFileKey(), file_source, file_sink);
  if (!summary) {
    f.error = summary.error().message();
    return f;
  }
  f.file = std::move(file_sink.bytes());

  // Output scratch, touched now so no benchmark pays first-touch page faults.
  f.sealed_out.assign(std::max(f.file.size(), f.stream.size()), 0);
  f.plain_out.assign(size, 0);

  std::mt19937_64 offsets_rng(42);
  std::uniform_int_distribution<uint64_t> pick(0, size / kSmallRange - 1);
  f.random_offsets.resize(kRandomOffsets);
  for (auto& o : f.random_offsets) {
    o = pick(offsets_rng) * kSmallRange;
  }
  return f;
}

Fixture* Setup(benchmark::State& state) {
  Fixture& f = GetFixture(static_cast<size_t>(state.range(0)));
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return nullptr;
  }
  return &f;
}

format::Manifest FileManifest(const Fixture& f) {
  format::Manifest manifest;
  manifest.object_id = kObjectId;
  manifest.streams.push_back(f.info);
  return manifest;
}

// --------------------------------------------------------------- baselines

// Raw AES-256-GCM seal of every 16 KiB chunk of the working set into a
// same-size output buffer; key set once, IV reset per chunk.
void BM_RawEvpSeal16K(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  RawGcm raw(kDek.data());
  const size_t chunks = f->size / kChunkSize;
  for (auto _ : state) {
    for (size_t c = 0; c < chunks; ++c) {
      if (!raw.Seal(c, f->plain.data() + c * kChunkSize, kChunkSize,
                    f->sealed_out.data() + c * kSealedChunkSize)) {
        state.SkipWithError("EVP seal failed");
        return;
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// Raw AES-256-GCM open (tag verified) of every chunk into a same-size buffer.
void BM_RawEvpOpen16K(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  RawGcm raw(kDek.data());
  const size_t chunks = f->size / kChunkSize;
  for (auto _ : state) {
    for (size_t c = 0; c < chunks; ++c) {
      if (!raw.Open(c, f->raw_sealed.data() + c * kSealedChunkSize, kChunkSize,
                    f->plain_out.data() + c * kChunkSize)) {
        state.SkipWithError("EVP open failed");
        return;
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// Baseline for small ranges: the least any chunked-GCM reader must do for a
// 4 KiB range, i.e. open the one 16 KiB chunk holding it and copy 4 KiB out.
void BM_RawEvpOpenRandom4K(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  RawGcm raw(kDek.data());
  std::array<uint8_t, kChunkSize> scratch;
  std::array<uint8_t, kSmallRange> out;
  size_t next = 0;
  for (auto _ : state) {
    uint64_t offset = f->random_offsets[next++ % kRandomOffsets];
    uint64_t c = offset / kChunkSize;
    if (!raw.Open(c, f->raw_sealed.data() + c * kSealedChunkSize, kChunkSize, scratch.data())) {
      state.SkipWithError("EVP open failed");
      return;
    }
    std::memcpy(out.data(), scratch.data() + (offset - c * kChunkSize), kSmallRange);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * int64_t{kSmallRange});
}

// -------------------------------------------------- attribution baselines
//
// Not the baseline of the goal; these split the gap between format and raw
// into its parts (bench/README.md, "Where the time goes").

// The floor for any reader behind the pull interface ByteSource: the source
// must copy each sealed chunk into the reader's buffer (for a file, that copy
// is read(2)) before it can be opened. Raw open plus exactly that one copy.
void BM_RawEvpOpen16K_CopyIn(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  RawGcm raw(kDek.data());
  Bytes sealed(kSealedChunkSize);
  const size_t chunks = f->size / kChunkSize;
  for (auto _ : state) {
    for (size_t c = 0; c < chunks; ++c) {
      std::memcpy(sealed.data(), f->raw_sealed.data() + c * kSealedChunkSize, kSealedChunkSize);
      if (!raw.Open(c, sealed.data(), kChunkSize, f->plain_out.data() + c * kChunkSize)) {
        state.SkipWithError("EVP open failed");
        return;
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// The floor for a batching writer behind the push interface ByteSink: seal
// into a ~1 MiB batch, then the sink copies the batch out (for a file, that
// copy is write(2)). Raw seal plus exactly that one copy.
void BM_RawEvpSeal16K_CopyOut(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  RawGcm raw(kDek.data());
  constexpr size_t kBatchChunks = 64;
  Bytes batch(kBatchChunks * kSealedChunkSize);
  const size_t chunks = f->size / kChunkSize;
  for (auto _ : state) {
    size_t out = 0;
    for (size_t c = 0; c < chunks; c += kBatchChunks) {
      size_t n = std::min(kBatchChunks, chunks - c);
      for (size_t i = 0; i < n; ++i) {
        if (!raw.Seal(c + i, f->plain.data() + (c + i) * kChunkSize, kChunkSize,
                      batch.data() + i * kSealedChunkSize)) {
          state.SkipWithError("EVP seal failed");
          return;
        }
      }
      std::memcpy(f->sealed_out.data() + out, batch.data(), n * kSealedChunkSize);
      out += n * kSealedChunkSize;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// One 16 KiB memcpy per chunk over the working set: the price of each extra
// copy a data path makes (compare with the raw seal/open times).
void BM_Memcpy16K(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  const size_t chunks = f->size / kChunkSize;
  for (auto _ : state) {
    for (size_t c = 0; c < chunks; ++c) {
      std::memcpy(f->plain_out.data() + c * kChunkSize, f->plain.data() + c * kChunkSize,
                  kChunkSize);
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// crypto::Cleanse (OPENSSL_cleanse) of a 16 KiB buffer, as the range reader
// does after every partially used chunk.
void BM_Cleanse16K(benchmark::State& state) {
  Bytes buffer(kChunkSize, 1);
  for (auto _ : state) {
    crypto::Cleanse(buffer);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * int64_t{kChunkSize});
}

// Per-stream setup: ChunkCipher::Derive (HKDF-SHA-512 expand, AES-256-GCM
// key schedule for a seal and an open context). Every stream, writer,
// reader and fresh range reader pays it once.
void BM_ChunkCipherDerive(benchmark::State& state) {
  auto context = format::StreamContext(kObjectId, 0);
  if (!context) {
    state.SkipWithError(context.error().message().c_str());
    return;
  }
  format::Salt salt{};
  salt.fill(7);
  for (auto _ : state) {
    auto cipher = format::ChunkCipher::Derive(kDek, salt, *context);
    if (!cipher) {
      state.SkipWithError(cipher.error().message().c_str());
      return;
    }
    benchmark::DoNotOptimize(cipher->get());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// ------------------------------------------------------------------ format

// StreamWriter over the whole working set, fed in 1 MiB slices (as
// EncryptFile does). range(1): 0 = discard sink, 1 = preallocated buffer.
// A fresh writer per iteration: HKDF, key schedule, header and final chunk
// are part of the cost.
void BM_StreamEncrypt(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  const bool to_buffer = state.range(1) != 0;
  for (auto _ : state) {
    BufferSink buffer_sink(f->sealed_out);
    DiscardSink discard_sink;
    ByteSink& sink = to_buffer ? static_cast<ByteSink&>(buffer_sink) : discard_sink;
    auto writer = format::StreamWriter::Create(kDek, kObjectId, 0, sink);
    if (!writer) {
      state.SkipWithError(writer.error().message().c_str());
      return;
    }
    for (size_t at = 0; at < f->size; at += kIoSlice) {
      size_t n = std::min(kIoSlice, f->size - at);
      if (auto w = (*writer)->Write(ByteView(f->plain).subspan(at, n)); !w) {
        state.SkipWithError(w.error().message().c_str());
        return;
      }
    }
    auto info = (*writer)->Finish();
    if (!info) {
      state.SkipWithError(info.error().message().c_str());
      return;
    }
    benchmark::ClobberMemory();
  }
  state.SetLabel(to_buffer ? "buffer_sink" : "discard_sink");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// StreamReader from a ByteViewSource over a pre-built stream, read in 1 MiB
// slices into a same-size output buffer. Checks the stream against its
// manifest entry, as the object store does.
void BM_StreamDecrypt(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  for (auto _ : state) {
    ByteViewSource source(f->stream);
    auto reader = format::StreamReader::Create(kDek, kObjectId, 0, source, f->info);
    if (!reader) {
      state.SkipWithError(reader.error().message().c_str());
      return;
    }
    size_t at = 0;
    for (;;) {
      size_t want = std::min(kIoSlice, f->size - at);
      // Past the end, ask for one byte more to see the verified end.
      MutableByteView out = want > 0 ? MutableByteView(f->plain_out).subspan(at, want)
                                     : MutableByteView(f->sealed_out).first(1);
      auto n = (*reader)->Read(out);
      if (!n) {
        state.SkipWithError(n.error().message().c_str());
        return;
      }
      if (*n == 0) break;
      at += *n;
    }
    if (at != f->size) {
      state.SkipWithError("short read");
      return;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// ObjectRangeReader over the stream (manifest already verified), reading the
// whole object as consecutive 1 MiB ranges into a same-size buffer. A fresh
// reader per iteration (one per request).
void BM_RangeRead1M(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  ByteViewRandomAccessSource source(f->stream);
  for (auto _ : state) {
    auto reader = format::ObjectRangeReader::Create(kDek, FileManifest(*f), source);
    if (!reader) {
      state.SkipWithError(reader.error().message().c_str());
      return;
    }
    for (size_t at = 0; at < f->size; at += kIoSlice) {
      size_t n = std::min(kIoSlice, f->size - at);
      if (auto r = (*reader)->ReadAt(at, MutableByteView(f->plain_out).subspan(at, n)); !r) {
        state.SkipWithError(r.error().message().c_str());
        return;
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

// 4 KiB ranges at random 4 KiB-aligned offsets. range(1): 0 = one reader
// for all ranges (steady state, keys derived once); 1 = a fresh
// ObjectRangeReader per range (per-request cost: HKDF, commitment check,
// AES key schedule). Reports items/s (ranges per second); bytes are the
// 4 KiB actually returned.
void BM_RangeRead4KRandom(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  const bool fresh = state.range(1) != 0;
  ByteViewRandomAccessSource source(f->stream);
  std::unique_ptr<format::ObjectRangeReader> shared;
  if (!fresh) {
    auto reader = format::ObjectRangeReader::Create(kDek, FileManifest(*f), source);
    if (!reader) {
      state.SkipWithError(reader.error().message().c_str());
      return;
    }
    shared = std::move(*reader);
  }
  // The manifest is built outside the timed loop in both modes (a server
  // holds it already); Create copies it, which is part of per-request cost.
  const format::Manifest manifest = FileManifest(*f);
  std::array<uint8_t, kSmallRange> out;
  size_t next = 0;
  for (auto _ : state) {
    uint64_t offset = f->random_offsets[next++ % kRandomOffsets];
    Result<void> r;
    if (fresh) {
      auto reader = format::ObjectRangeReader::Create(kDek, manifest, source);
      r = reader ? (*reader)->ReadAt(offset, out) : tl::unexpected(reader.error());
    } else {
      r = shared->ReadAt(offset, out);
    }
    if (!r) {
      state.SkipWithError(r.error().message().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(fresh ? "fresh_reader" : "shared_reader");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * int64_t{kSmallRange});
}

// The whole CLI data path without the OS: EncryptFile / DecryptFile with a
// key file, in memory, 1 MiB reads, into a preallocated buffer. Shows what
// the file container (trailer hold-back, manifest) adds over a bare stream.
void BM_FileEncrypt(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  const format::FileKey key = KeyFileKey();
  for (auto _ : state) {
    ByteViewSource source(f->plain);
    BufferSink sink(f->sealed_out);
    auto summary = format::EncryptFile(key, source, sink);
    if (!summary) {
      state.SkipWithError(summary.error().message().c_str());
      return;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

void BM_FileDecrypt(benchmark::State& state) {
  Fixture* f = Setup(state);
  if (f == nullptr) return;
  const format::FileKey key = KeyFileKey();
  for (auto _ : state) {
    ByteViewSource source(f->file);
    BufferSink sink(f->plain_out);
    auto summary = format::DecryptFile(key, source, sink);
    if (!summary) {
      state.SkipWithError(summary.error().message().c_str());
      return;
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(f->size));
}

constexpr int64_t kCacheResident = int64_t{1} << 20;  // 1 MiB
constexpr int64_t kMemoryBound = int64_t{64} << 20;   // 64 MiB

BENCHMARK(BM_RawEvpSeal16K)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RawEvpOpen16K)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StreamEncrypt)
    ->ArgsProduct({{kCacheResident, kMemoryBound}, {0, 1}})
    ->ArgNames({"size", "buffer"})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StreamDecrypt)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RangeRead1M)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RawEvpOpenRandom4K)->Arg(kCacheResident)->Arg(kMemoryBound);
BENCHMARK(BM_RangeRead4KRandom)
    ->ArgsProduct({{kCacheResident, kMemoryBound}, {0, 1}})
    ->ArgNames({"size", "fresh"});
BENCHMARK(BM_RawEvpOpen16K_CopyIn)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RawEvpSeal16K_CopyOut)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Memcpy16K)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Cleanse16K);
BENCHMARK(BM_ChunkCipherDerive);
BENCHMARK(BM_FileEncrypt)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FileDecrypt)->Arg(kCacheResident)->Arg(kMemoryBound)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace strongroom::bench

BENCHMARK_MAIN();
