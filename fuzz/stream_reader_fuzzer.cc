// SPDX-License-Identifier: Apache-2.0
// Fuzzes the data-stream readers (FORMAT.md §3, §4, §8): StreamReader,
// CobblestoneRandomAccessReader and ObjectRangeReader.
//
// Input: [32-byte key | selector | rest].
//
// selector bit 7 = 0, "raw" mode: `rest` is a data stream, decrypted with the
//   key from the input and the fixed object id (fuzz_common.h). The readers
//   must not crash, and must agree with each other: the streaming reader
//   succeeds exactly when the prefix is valid and the random-access reader
//   can read the whole plaintext, and then both return the same bytes.
//   Seeds are streams encrypted under kFuzzDek, so mutations reach chunk
//   decryption (an unrelated key stops at the commitment check).
//
// selector bit 7 = 1, "round-trip" mode: the key in the input is ignored.
//   rest = [12-byte spec | plaintext]. The plaintext (possibly stretched to
//   cross chunk boundaries) is encrypted with StreamWriter under kFuzzDek,
//   the ciphertext is modified by up to two edits the spec describes
//   (optionally after swapping in a second encryption of the same plaintext,
//   as a stale part attempt would be), and decrypted again. Oracle:
//   decryption FAILS whenever the bytes a reader authenticates changed (or the
//   stream is not the one the expected StreamInfo names), and SUCCEEDS with
//   the original plaintext when they did not; bytes released before a failure
//   are a prefix of the plaintext.
//
// Selector bits shared by both modes:
//   bits 0-1  part number: 0, 1, 2, 10000
//   bits 2-4  read buffer size (kBufferSizes)
//   bit 5     the source returns 1..13 bytes per call instead of everything
//   bit 6     pass an expected StreamInfo (as a verified manifest would)

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/io.h"
#include "format/cobblestone.h"
#include "format/manifest.h"
#include "format/object_reader.h"
#include "format/stream.h"
#include "fuzz_common.h"

namespace strongroom::fuzz {
namespace {

using format::CobblestoneRandomAccessReader;
using format::kChunkSize;
using format::kSealedChunkSize;
using format::kStreamHeaderSize;
using format::kStreamPrefixSize;
using format::StreamInfo;
using format::StreamReader;

constexpr uint32_t kPartNumbers[4] = {0, 1, 2, 10000};
constexpr size_t kBufferSizes[8] = {1, 7, 16, 100, 4096, 16399, 16400, 65536};
constexpr size_t kSmallPieces = 13;
constexpr int kRanges = 4;

struct Options {
  uint32_t part_number;
  size_t buffer_size;
  size_t source_piece;  // 0: unlimited
  bool with_expected;
};

Options DecodeSelector(uint8_t selector) {
  return Options{kPartNumbers[selector & 3], kBufferSizes[(selector >> 2) & 7],
                 (selector & 0x20) ? kSmallPieces : 0, (selector & 0x40) != 0};
}

bool IsPrefixOf(ByteView prefix, ByteView whole) {
  return prefix.size() <= whole.size() && std::equal(prefix.begin(), prefix.end(), whole.begin());
}

bool RangeEquals(ByteView got, ByteView truth, uint64_t offset) {
  return offset <= truth.size() && got.size() <= truth.size() - offset &&
         std::equal(got.begin(), got.end(), truth.begin() + static_cast<std::ptrdiff_t>(offset));
}

// Streams `stream` through a StreamReader; true if it ended cleanly. Checks
// that errors are sticky and that a finished reader stays finished.
bool ReadStream(ByteView key, const format::ObjectId& id, const Options& options,
                ByteView stream, std::optional<StreamInfo> expected, Bytes& out,
                StreamInfo* info = nullptr) {
  PiecewiseSource source(stream, options.source_piece);
  auto reader = StreamReader::Create(key, id, options.part_number, source, expected);
  FUZZ_CHECK(reader.has_value(), "StreamReader::Create failed for a valid key and part number");
  bool ok = DrainReader([&](MutableByteView buf) { return (*reader)->Read(buf); },
                        options.buffer_size, out);
  uint8_t one[1];
  auto again = (*reader)->Read(one);
  if (ok) {
    FUZZ_CHECK(again.has_value() && *again == 0, "a finished StreamReader returned more data");
    if (info) *info = (*reader)->info();
  } else {
    FUZZ_CHECK(!again.has_value(), "a StreamReader error was not sticky");
  }
  return ok;
}

// Reads [offset, offset + size) through `read_at`; sizes may pass the end on
// purpose. Calls check(offset, bytes) for each successful read and verifies
// that reads past `plaintext_size` fail with kOutOfRange.
template <typename ReadAt, typename Check>
void ReadRandomRanges(Rng& rng, uint64_t plaintext_size, ReadAt&& read_at, Check&& check) {
  for (int i = 0; i < kRanges; ++i) {
    uint64_t offset = rng.UpTo(plaintext_size + 1);
    uint64_t room = plaintext_size >= offset ? plaintext_size - offset : 0;
    uint64_t length = rng.UpTo(room + 1);
    Bytes buf(static_cast<size_t>(length));
    Result<void> r = read_at(offset, MutableByteView(buf));
    if (offset + length > plaintext_size) {
      FUZZ_CHECK(!r.has_value() && r.error().code() == ErrorCode::kOutOfRange,
                 "a read past the end of the plaintext did not fail with out-of-range");
    } else if (r.has_value()) {
      check(offset, ByteView(buf));
    }
  }
}

// ---------------------------------------------------------------- raw mode

void RawMode(ByteView key, const Options& options, ByteView stream, Rng& rng) {
  const format::ObjectId id = FuzzObjectId();
  auto context = format::StreamContext(id, options.part_number);
  FUZZ_CHECK(context.has_value(), "StreamContext failed for a valid part number");
  const Result<uint64_t> size_from_length = format::PlaintextSizeOfStream(stream.size());
  const bool prefix_ok =
      format::CheckStreamPrefix(stream.first(std::min(stream.size(), kStreamPrefixSize)),
                                options.part_number)
          .has_value();

  // The expected info a manifest would carry, taken from the stream itself so
  // that a well-formed stream can still pass.
  std::optional<StreamInfo> expected;
  if (options.with_expected && stream.size() >= kStreamHeaderSize) {
    StreamInfo e;
    e.part_number = options.part_number;
    e.plaintext_size = size_from_length.value_or(0);
    std::copy_n(stream.begin() + kStreamPrefixSize, e.salt.size(), e.salt.begin());
    std::copy_n(stream.begin() + kStreamPrefixSize + format::kSaltSize, e.commitment.size(),
                e.commitment.begin());
    expected = e;
  }

  Bytes streamed;
  StreamInfo info;
  const bool stream_ok = ReadStream(key, id, options, stream, expected, streamed, &info);
  if (stream_ok) {
    FUZZ_CHECK(prefix_ok, "a stream with a bad prefix was accepted");
    FUZZ_CHECK(size_from_length.has_value() && *size_from_length == streamed.size(),
               "the streamed plaintext length disagrees with the size formula (FORMAT.md §9)");
    FUZZ_CHECK(std::equal(info.salt.begin(), info.salt.end(), stream.begin() + 8) &&
                   std::equal(info.commitment.begin(), info.commitment.end(),
                              stream.begin() + 8 + format::kSaltSize),
               "StreamReader::info() does not report the stream's salt and commitment");
  }

  // The random-access reader over the Cobblestone message after the prefix.
  if (stream.size() < kStreamPrefixSize) {
    return;
  }
  ByteViewRandomAccessSource ras(stream);
  auto ra = CobblestoneRandomAccessReader::Create(key, *context, ras, kStreamPrefixSize,
                                                  stream.size() - kStreamPrefixSize);
  if (stream_ok) {
    FUZZ_CHECK(ra.has_value(),
               "the random-access reader rejected a stream the streaming reader accepted");
  }
  if (!ra) {
    return;
  }
  FUZZ_CHECK(size_from_length.has_value() && (*ra)->plaintext_size() == *size_from_length,
             "random-access reader plaintext size disagrees with the size formula");
  Bytes full(static_cast<size_t>((*ra)->plaintext_size()));
  const bool ra_full_ok = (*ra)->ReadAt(0, full).has_value();
  if (stream_ok) {
    FUZZ_CHECK(ra_full_ok && full == streamed,
               "the random-access reader disagrees with the streaming reader");
  }
  if (prefix_ok && ra_full_ok) {
    FUZZ_CHECK(stream_ok, "the streaming reader rejected a stream the random-access reader read");
  }
  if (ra_full_ok) {
    FUZZ_CHECK(IsPrefixOf(streamed, full), "released streaming bytes are not a verified prefix");
  }
  ReadRandomRanges(
      rng, (*ra)->plaintext_size(),
      [&](uint64_t offset, MutableByteView out) { return (*ra)->ReadAt(offset, out); },
      [&](uint64_t offset, ByteView got) {
        if (ra_full_ok) {
          FUZZ_CHECK(RangeEquals(got, full, offset), "a range read differs from the full read");
        } else if (offset + got.size() <= streamed.size()) {
          FUZZ_CHECK(RangeEquals(got, streamed, offset),
                     "a range read differs from the verified streamed prefix");
        }
      });

  // A verified manifest naming this stream: ObjectRangeReader must agree.
  if (stream_ok) {
    format::Manifest manifest;
    manifest.object_id = id;
    manifest.streams.push_back(info);
    auto object = format::ObjectRangeReader::Create(key, manifest, ras);
    FUZZ_CHECK(object.has_value(), "ObjectRangeReader rejected a stream that verified");
    FUZZ_CHECK((*object)->plaintext_size() == streamed.size(),
               "ObjectRangeReader reports a wrong plaintext size");
    ReadRandomRanges(
        rng, (*object)->plaintext_size(),
        [&](uint64_t offset, MutableByteView out) { return (*object)->ReadAt(offset, out); },
        [&](uint64_t offset, ByteView got) {
          FUZZ_CHECK(RangeEquals(got, streamed, offset),
                     "an ObjectRangeReader range differs from the streamed plaintext");
        });
  }
}

// ---------------------------------------------------------- round-trip mode

constexpr size_t kSpecSize = 12;
constexpr size_t kEditSize = 5;

// A position in [0, size) for an edit, biased towards the places that matter.
size_t EditPosition(uint8_t op, uint32_t raw, size_t size) {
  if (op & 0x08) {  // near the end: the final chunk and its tag
    return size - 1 - raw % std::min<size_t>(size, 256);
  }
  if (op & 0x10) {  // in the 64-byte stream header
    return raw % std::min<size_t>(size, kStreamHeaderSize);
  }
  return raw % size;
}

// Splits a stream into its header and sealed chunks (the last may be short
// or, after edits, malformed).
std::vector<Bytes> SplitChunks(const Bytes& ct) {
  std::vector<Bytes> parts;
  size_t header = std::min(ct.size(), kStreamHeaderSize);
  parts.emplace_back(ct.begin(), ct.begin() + static_cast<std::ptrdiff_t>(header));
  for (size_t at = header; at < ct.size(); at += kSealedChunkSize) {
    size_t end = std::min(ct.size(), at + kSealedChunkSize);
    parts.emplace_back(ct.begin() + static_cast<std::ptrdiff_t>(at),
                       ct.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return parts;
}

Bytes JoinChunks(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& p : parts) Append(out, p);
  return out;
}

// One edit: op(1) ‖ BE24 position ‖ value(1).
void ApplyEdit(Bytes& ct, const uint8_t* edit) {
  const uint8_t op = edit[0];
  const uint32_t raw = (uint32_t{edit[1]} << 16) | (uint32_t{edit[2]} << 8) | edit[3];
  const uint8_t value = edit[4];
  switch (op & 7) {
    case 0:
      return;
    case 1:  // flip one bit
      if (!ct.empty()) {
        ct[EditPosition(op, raw, ct.size())] ^= static_cast<uint8_t>(1u << (value & 7));
      }
      return;
    case 2:  // truncate
      if (!ct.empty()) ct.resize(EditPosition(op, raw, ct.size()));
      return;
    case 3:  // extend
      ct.insert(ct.end(), size_t{value % 64u} + 1, value);
      return;
    case 4:  // insert one byte
      ct.insert(ct.begin() + static_cast<std::ptrdiff_t>(EditPosition(op, raw, ct.size() + 1)),
                value);
      return;
    case 5: {  // delete a few bytes
      if (ct.empty()) return;
      size_t at = EditPosition(op, raw, ct.size());
      size_t end = std::min(ct.size(), at + value % 32u + 1);
      ct.erase(ct.begin() + static_cast<std::ptrdiff_t>(at),
               ct.begin() + static_cast<std::ptrdiff_t>(end));
      return;
    }
    case 6: {  // swap two chunks (reordering)
      std::vector<Bytes> parts = SplitChunks(ct);
      size_t chunks = parts.size() - 1;
      if (chunks < 2) return;
      size_t a = 1 + raw % chunks, b = 1 + value % chunks;
      std::swap(parts[a], parts[b]);
      ct = JoinChunks(parts);
      return;
    }
    case 7: {  // duplicate a chunk (replay)
      std::vector<Bytes> parts = SplitChunks(ct);
      size_t chunks = parts.size() - 1;
      if (chunks < 1) return;
      size_t a = 1 + raw % chunks;
      parts.insert(parts.begin() + static_cast<std::ptrdiff_t>(a), parts[a]);
      ct = JoinChunks(parts);
      return;
    }
  }
}

// The plaintext: the input bytes, or for spec[0] & 7 != 0 a length near a
// chunk boundary filled by repeating them.
Bytes MakePlaintext(uint8_t code, ByteView seed) {
  constexpr uint64_t kLengths[8] = {0, kChunkSize - 1, kChunkSize, kChunkSize + 1,
                                    2 * kChunkSize - 1, 2 * kChunkSize, 2 * kChunkSize + 1, 0};
  code &= 7;
  if (code == 0) {
    return Bytes(seed.begin(), seed.end());
  }
  size_t length = code == 7 ? seed.size() + kChunkSize : static_cast<size_t>(kLengths[code]);
  Bytes out(length);
  for (size_t i = 0; i < length; ++i) {
    out[i] = seed.empty() ? static_cast<uint8_t>(i * 131 + 7) : seed[i % seed.size()];
  }
  return out;
}

bool SameFrom(const Bytes& a, const Bytes& b, size_t from) {
  return a.size() == b.size() &&
         (a.size() <= from || std::equal(a.begin() + static_cast<std::ptrdiff_t>(from), a.end(),
                                         b.begin() + static_cast<std::ptrdiff_t>(from)));
}

// Encrypts `plaintext` with StreamWriter, writing in pieces of `write_piece`.
Bytes Encrypt(ByteView dek, const format::ObjectId& id, uint32_t part_number,
              const Bytes& plaintext, size_t write_piece, StreamInfo& info) {
  BytesSink sink;
  auto writer = format::StreamWriter::Create(dek, id, part_number, sink);
  FUZZ_CHECK(writer.has_value(), "StreamWriter::Create failed");
  for (size_t at = 0; at < plaintext.size(); at += write_piece) {
    size_t n = std::min(write_piece, plaintext.size() - at);
    FUZZ_CHECK((*writer)->Write(ByteView(plaintext).subspan(at, n)).has_value(),
               "StreamWriter::Write failed");
  }
  auto finished = (*writer)->Finish();
  FUZZ_CHECK(finished.has_value(), "StreamWriter::Finish failed");
  info = *finished;
  FUZZ_CHECK(sink.bytes().size() == format::StreamSize(plaintext.size()) &&
                 info.plaintext_size == plaintext.size() && info.part_number == part_number,
             "StreamWriter output disagrees with the size formula (FORMAT.md §9)");
  return sink.bytes();
}

// spec[1]: bits 0-2 write piece size (kBufferSizes); bit 3 replaces the
// stream by a second, independent encryption of the same plaintext (a stale
// or re-uploaded part attempt: valid on its own, not the one the manifest
// names) before the edits.
void RoundTripMode(const Options& options, ByteView rest, Rng& rng) {
  uint8_t spec[kSpecSize] = {};
  std::memcpy(spec, rest.data(), std::min(rest.size(), kSpecSize));
  const Bytes plaintext =
      MakePlaintext(spec[0], rest.size() > kSpecSize ? rest.subspan(kSpecSize) : ByteView{});
  const ByteView dek = AsBytes(kFuzzDek);
  const format::ObjectId id = FuzzObjectId();
  const size_t write_piece = kBufferSizes[spec[1] & 7];
  const bool substitute = (spec[1] & 0x08) != 0;

  // `original` is what the manifest names; `base` is the stream before the
  // edits (another encryption when substituting).
  StreamInfo info;
  const Bytes original = Encrypt(dek, id, options.part_number, plaintext, write_piece, info);
  Bytes base = original;
  if (substitute) {
    StreamInfo other;
    base = Encrypt(dek, id, options.part_number, plaintext, write_piece, other);
    FUZZ_CHECK(base != original && other.salt != info.salt,
               "two encryptions of one stream share a salt");
  }

  Bytes ct = base;
  ApplyEdit(ct, spec + 2);
  ApplyEdit(ct, spec + 2 + kEditSize);
  // What each reader authenticates: the streaming reader every byte, and
  // with an expected StreamInfo also that the stream is the manifest's; the
  // random-access reader the message after the prefix (the prefix is only
  // implied by the context); ObjectRangeReader the stored 64-byte header and
  // the chunks after it that a read touches.
  // A range read opens only the chunks the range touches (FORMAT.md §8), so
  // a full read of P bytes authenticates chunks 0..⌊(P−1)/16384⌋; when P is a
  // multiple of 16384 the empty final chunk is not among them (the verified
  // manifest, not the final chunk, fixes the length).
  const bool changed = ct != base;
  const bool message_changed = !SameFrom(ct, base, kStreamPrefixSize);
  const size_t touched_chunks = plaintext.empty() ? 0 : (plaintext.size() - 1) / kChunkSize + 1;
  const size_t touched_end =
      kStreamHeaderSize + plaintext.size() + format::kTagSize * touched_chunks;
  // The stored 64-byte header is checked against the manifest the first
  // time a read touches the stream (FORMAT.md §8 rule 6), so a changed header
  // fails every non-empty read too.
  const bool chunks_changed =
      ct.size() != original.size() ||
      (touched_chunks > 0 &&
       !std::equal(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(kStreamHeaderSize),
                   ct.begin())) ||
      !std::equal(original.begin() + static_cast<std::ptrdiff_t>(kStreamHeaderSize),
                  original.begin() + static_cast<std::ptrdiff_t>(touched_end),
                  ct.begin() + static_cast<std::ptrdiff_t>(kStreamHeaderSize));

  // Streaming.
  Bytes streamed;
  std::optional<StreamInfo> expected;
  if (options.with_expected) expected = info;
  const bool stream_ok = ReadStream(dek, id, options, ct, expected, streamed);
  if (changed) {
    FUZZ_CHECK(!stream_ok, "a modified stream decrypted without error");
  } else if (substitute && options.with_expected) {
    FUZZ_CHECK(!stream_ok, "a stream other than the manifest's was accepted (stale part)");
  } else {
    FUZZ_CHECK(stream_ok && streamed == plaintext,
               "an unmodified stream did not decrypt to its plaintext");
  }
  FUZZ_CHECK(IsPrefixOf(streamed, plaintext),
             "bytes released before an error are not a prefix of the plaintext");

  // Random access over the Cobblestone message.
  ByteViewRandomAccessSource ras(ct);
  if (ct.size() >= kStreamPrefixSize) {
    auto context = format::StreamContext(id, options.part_number);
    FUZZ_CHECK(context.has_value(), "StreamContext failed");
    auto ra = CobblestoneRandomAccessReader::Create(dek, *context, ras, kStreamPrefixSize,
                                                    ct.size() - kStreamPrefixSize);
    if (!message_changed) {
      FUZZ_CHECK(ra.has_value(), "the random-access reader rejected an unmodified stream");
    }
    if (ra) {
      FUZZ_CHECK((*ra)->plaintext_size() == plaintext.size(),
                 "the random-access reader accepted a stream of another length");
      Bytes full(plaintext.size());
      const bool full_ok = (*ra)->ReadAt(0, full).has_value();
      if (message_changed) {
        FUZZ_CHECK(!full_ok, "a modified message was read in full without error");
      } else {
        FUZZ_CHECK(full_ok && full == plaintext,
                   "the random-access reader did not return the plaintext");
      }
      ReadRandomRanges(
          rng, (*ra)->plaintext_size(),
          [&](uint64_t offset, MutableByteView out) { return (*ra)->ReadAt(offset, out); },
          [&](uint64_t offset, ByteView got) {
            FUZZ_CHECK(RangeEquals(got, plaintext, offset),
                       "a random-access range returned bytes that are not the plaintext");
          });
    }
  }

  // ObjectRangeReader with the manifest the writer's info makes.
  format::Manifest manifest;
  manifest.object_id = id;
  manifest.streams.push_back(info);
  auto object = format::ObjectRangeReader::Create(dek, manifest, ras);
  if (ct.size() != original.size()) {
    FUZZ_CHECK(!object.has_value(), "ObjectRangeReader accepted a blob of the wrong size");
    return;
  }
  FUZZ_CHECK(object.has_value(), "ObjectRangeReader rejected a blob of the right size");
  Bytes full(plaintext.size());
  const bool full_ok = (*object)->ReadAt(0, full).has_value();
  if (chunks_changed) {
    FUZZ_CHECK(!full_ok, "ObjectRangeReader read modified chunks without error");
  } else {
    FUZZ_CHECK(full_ok && full == plaintext, "ObjectRangeReader did not return the plaintext");
  }
  ReadRandomRanges(
      rng, (*object)->plaintext_size(),
      [&](uint64_t offset, MutableByteView out) { return (*object)->ReadAt(offset, out); },
      [&](uint64_t offset, ByteView got) {
        FUZZ_CHECK(RangeEquals(got, plaintext, offset),
                   "an ObjectRangeReader range returned bytes that are not the plaintext");
      });
}

}  // namespace
}  // namespace strongroom::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strongroom;
  constexpr size_t kKeySize = 32;
  if (size < kKeySize + 1) {
    return 0;
  }
  ByteView input(data, size);
  ByteView key = input.first(kKeySize);
  uint8_t selector = input[kKeySize];
  ByteView rest = input.subspan(kKeySize + 1);
  fuzz::Rng rng(fuzz::HashBytes(input));
  fuzz::Options options = fuzz::DecodeSelector(selector);
  if (selector & 0x80) {
    fuzz::RoundTripMode(options, rest, rng);
  } else {
    fuzz::RawMode(key, options, rest, rng);
  }
  return 0;
}
