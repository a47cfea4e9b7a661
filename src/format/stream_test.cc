// SPDX-License-Identifier: Apache-2.0
// strongroom data streams (docs/FORMAT.md §4, §8, §9): prefix and context
// layout, the size formulas, round trips, and rejection of every kind of
// damaged, moved, swapped or stale stream.

#include "format/stream.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/error.h"
#include "base/io.h"
#include "format/format_test_util.h"

namespace strongroom::format {
namespace {

// ------------------------------------------------------------------ helpers





struct Written {
  Bytes stream;
  StreamInfo info;
};

Written WriteStream(ByteView dek, const ObjectId& id, uint32_t part, ByteView plaintext,
                    size_t piece = SIZE_MAX) {
  Written out;
  BytesSink sink;
  auto writer = StreamWriter::Create(dek, id, part, sink);
  EXPECT_TRUE(writer.has_value());
  if (!writer) return out;
  for (size_t at = 0; at < plaintext.size();) {
    size_t n = std::min(piece, plaintext.size() - at);
    EXPECT_TRUE((*writer)->Write(plaintext.subspan(at, n)).has_value());
    at += n;
  }
  EXPECT_EQ((*writer)->plaintext_size(), plaintext.size());
  auto info = (*writer)->Finish();
  EXPECT_TRUE(info.has_value());
  if (info) out.info = *info;
  out.stream = sink.bytes();
  return out;
}

struct Decrypted {
  Bytes released;
  Result<size_t> end = 0;
  StreamInfo info;
};

Decrypted ReadStream(ByteView dek, const ObjectId& id, uint32_t part, ByteSource& source,
                     std::optional<StreamInfo> expected = std::nullopt, size_t read_size = 65536) {
  Decrypted out;
  auto reader = StreamReader::Create(dek, id, part, source, expected);
  if (!reader) {
    out.end = tl::unexpected(reader.error());
    return out;
  }
  Bytes buffer(read_size);
  for (;;) {
    out.end = (*reader)->Read(buffer);
    if (!out.end || *out.end == 0) break;
    out.released.insert(out.released.end(), buffer.begin(), buffer.begin() + *out.end);
  }
  if (out.end) out.info = (*reader)->info();
  return out;
}

Decrypted ReadStream(ByteView dek, const ObjectId& id, uint32_t part, ByteView stream,
                     std::optional<StreamInfo> expected = std::nullopt, size_t read_size = 65536) {
  ByteViewSource source(stream);
  return ReadStream(dek, id, part, source, expected, read_size);
}

// Offset of chunk k in a stream.
size_t ChunkAt(uint64_t k) { return kStreamHeaderSize + k * kSealedChunkSize; }

class CountingSource : public ByteSource {
 public:
  explicit CountingSource(ByteView data) : inner_(data) {}
  Result<size_t> Read(MutableByteView out) override {
    auto n = inner_.Read(out);
    if (n) consumed += *n;
    return n;
  }
  size_t consumed = 0;

 private:
  ByteViewSource inner_;
};

class GrowableSource : public ByteSource {
 public:
  explicit GrowableSource(Bytes data) : data_(std::move(data)) {}
  void Append(ByteView more) { data_.insert(data_.end(), more.begin(), more.end()); }
  Result<size_t> Read(MutableByteView out) override {
    size_t n = std::min(out.size(), data_.size() - offset_);
    std::copy_n(data_.begin() + offset_, n, out.begin());
    offset_ += n;
    return n;
  }

 private:
  Bytes data_;
  size_t offset_ = 0;
};

Bytes Prefix(uint8_t kind) { return Bytes{'S', 'R', 'D', 'S', 0x01, 0x01, kind, 0x00}; }

// ------------------------------------------------------------ size formulas

TEST(StreamSizeTest, StreamSizeMatchesTheTableInFormatSection9) {
  EXPECT_EQ(StreamSize(0), 80u);
  EXPECT_EQ(StreamSize(1), 81u);
  EXPECT_EQ(StreamSize(16383), 16463u);
  EXPECT_EQ(StreamSize(16384), 16480u);
  EXPECT_EQ(StreamSize(16385), 16481u);
  EXPECT_EQ(StreamSize(5242880), 5248080u);
  EXPECT_EQ(StreamSize(uint64_t{1} << 30), 1074790480u);
}

TEST(StreamSizeTest, PlaintextSizeOfStreamInvertsTheTable) {
  const std::pair<uint64_t, uint64_t> table[] = {{0, 80},
                                                 {1, 81},
                                                 {16383, 16463},
                                                 {16384, 16480},
                                                 {16385, 16481},
                                                 {5242880, 5248080},
                                                 {uint64_t{1} << 30, 1074790480}};
  for (auto [p, c] : table) {
    auto back = PlaintextSizeOfStream(c);
    ASSERT_TRUE(back.has_value()) << c;
    EXPECT_EQ(*back, p) << c;
  }
}

TEST(StreamSizeTest, PlaintextSizeOfStreamRejectsARemainderOfZero) {
  // L' = L - 64 a multiple of 16400: ends at a chunk boundary.
  for (uint64_t chunks = 0; chunks <= 4; ++chunks) {
    EXPECT_TRUE(FailsWith(PlaintextSizeOfStream(64 + chunks * 16400), ErrorCode::kDataLoss))
        << chunks;
  }
  EXPECT_TRUE(FailsWith(PlaintextSizeOfStream(64 + 65536 * uint64_t{16400}), ErrorCode::kDataLoss));
}

TEST(StreamSizeTest, PlaintextSizeOfStreamRejectsARemainderOf1To15) {
  for (uint64_t chunks = 0; chunks <= 4; ++chunks) {
    for (uint64_t r = 1; r <= 15; ++r) {
      EXPECT_TRUE(FailsWith(PlaintextSizeOfStream(64 + chunks * 16400 + r), ErrorCode::kDataLoss))
          << chunks << " chunks + " << r;
    }
  }
}

TEST(StreamSizeTest, PlaintextSizeOfStreamRejectsLengthsShorterThanAnEmptyStream) {
  for (uint64_t len = 0; len < 80; ++len) {
    EXPECT_TRUE(FailsWith(PlaintextSizeOfStream(len), ErrorCode::kDataLoss)) << len;
  }
  EXPECT_TRUE(PlaintextSizeOfStream(80).has_value());
}

TEST(StreamSizeTest, InverseRoundTripsForManySizes) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) {
    uint64_t p = rng() % (uint64_t{1} << (i % 40 + 1));
    auto back = PlaintextSizeOfStream(StreamSize(p));
    ASSERT_TRUE(back.has_value()) << p;
    ASSERT_EQ(*back, p);
  }
}

// --------------------------------------------------------- prefix & context

TEST(StreamContextTest, KindForPartNumber) {
  EXPECT_EQ(KindForPartNumber(0).value(), StreamKind::kWholeObject);
  EXPECT_EQ(KindForPartNumber(1).value(), StreamKind::kMultipartPart);
  EXPECT_EQ(KindForPartNumber(10000).value(), StreamKind::kMultipartPart);
  EXPECT_TRUE(FailsWith(KindForPartNumber(10001), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(KindForPartNumber(UINT32_MAX), ErrorCode::kInvalidArgument));
}

TEST(StreamContextTest, ContextIsPrefixObjectIdAndBigEndianPartNumber) {
  ObjectId id = Id();
  auto whole = StreamContext(id, 0);
  ASSERT_TRUE(whole.has_value());
  Bytes expected = Prefix(0x01);
  Append(expected, id);
  Append(expected, Bytes{0, 0, 0, 0});
  EXPECT_EQ(*whole, expected);

  auto part = StreamContext(id, 0x2710);  // 10000
  ASSERT_TRUE(part.has_value());
  expected = Prefix(0x02);
  Append(expected, id);
  Append(expected, Bytes{0x00, 0x00, 0x27, 0x10});
  EXPECT_EQ(*part, expected);
  EXPECT_EQ(part->size(), 28u);

  EXPECT_TRUE(FailsWith(StreamContext(id, 10001), ErrorCode::kInvalidArgument));
}

TEST(StreamContextTest, NewObjectIdIsRandom) {
  auto a = NewObjectId();
  auto b = NewObjectId();
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

TEST(StreamContextTest, CheckStreamPrefixAcceptsOnlyTheExpectedPrefix) {
  EXPECT_TRUE(CheckStreamPrefix(Prefix(0x01), 0).has_value());
  EXPECT_TRUE(CheckStreamPrefix(Prefix(0x02), 1).has_value());
  EXPECT_TRUE(CheckStreamPrefix(Prefix(0x02), 10000).has_value());
  EXPECT_TRUE(FailsWith(CheckStreamPrefix(Prefix(0x02), 0), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(CheckStreamPrefix(Prefix(0x01), 5), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(CheckStreamPrefix(Prefix(0x03), 0), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(CheckStreamPrefix(Prefix(0x00), 0), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      FailsWith(CheckStreamPrefix(ByteView(Prefix(0x01)).first(7), 0), ErrorCode::kDataLoss));
}

// ------------------------------------------------------------------ writer

TEST(StreamWriterTest, StreamStartsWithThePrefixAndHasTheFormulaLength) {
  Bytes plaintext = Pattern(16385, 1);
  Written whole = WriteStream(Dek(), Id(), 0, plaintext);
  ASSERT_EQ(whole.stream.size(), StreamSize(plaintext.size()));
  EXPECT_EQ(Bytes(whole.stream.begin(), whole.stream.begin() + 8), Prefix(0x01));
  EXPECT_TRUE(std::equal(whole.info.salt.begin(), whole.info.salt.end(), whole.stream.begin() + 8));
  EXPECT_TRUE(std::equal(whole.info.commitment.begin(), whole.info.commitment.end(),
                         whole.stream.begin() + 8 + kSaltSize));
  EXPECT_EQ(whole.info.part_number, 0u);
  EXPECT_EQ(whole.info.plaintext_size, plaintext.size());

  Written part = WriteStream(Dek(), Id(), 42, plaintext);
  EXPECT_EQ(Bytes(part.stream.begin(), part.stream.begin() + 8), Prefix(0x02));
  EXPECT_EQ(part.info.part_number, 42u);
}

TEST(StreamWriterTest, EveryStreamGetsAFreshSalt) {
  Bytes plaintext = Pattern(100, 2);
  Written a = WriteStream(Dek(), Id(), 1, plaintext);
  Written b = WriteStream(Dek(), Id(), 1, plaintext);
  EXPECT_NE(a.info.salt, b.info.salt);
  EXPECT_NE(a.info.commitment, b.info.commitment);
  EXPECT_NE(a.stream, b.stream);
}

TEST(StreamWriterTest, CreateRejectsAPartNumberAbove10000) {
  BytesSink sink;
  EXPECT_TRUE(
      FailsWith(StreamWriter::Create(Dek(), Id(), 10001, sink), ErrorCode::kInvalidArgument));
}

TEST(StreamWriterTest, CreateRejectsADekThatIsNot32Bytes) {
  BytesSink sink;
  Bytes dek(16, 1);
  EXPECT_TRUE(FailsWith(StreamWriter::Create(dek, Id(), 0, sink), ErrorCode::kInvalidArgument));
}

TEST(StreamWriterTest, WriteThatWouldUseChunkIndexTwoToThe38IsOutOfRange) {
  BytesSink sink;
  auto writer = StreamWriter::Create(Dek(), Id(), 0, sink);
  ASSERT_TRUE(writer.has_value());
  (*writer)->encryptor_for_test().SetNextChunkIndexForTest(kMaxChunks - 1);
  Bytes chunk = Pattern(kChunkSize, 3);
  ASSERT_TRUE((*writer)->Write(chunk).has_value());
  EXPECT_TRUE(FailsWith((*writer)->Finish(), ErrorCode::kOutOfRange));
}

// ------------------------------------------------------------- round trips

TEST(StreamRoundTripTest, WriterToReaderAtEverySizeEdge) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{16383}, size_t{16384}, size_t{16385},
                      size_t{3 * 16384}, size_t{3 * 16384 + 7}, size_t{(1 << 20) + 11}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes plaintext = Pattern(size, size + 7);
    for (uint32_t part : {0u, 1u, 10000u}) {
      Written w = WriteStream(Dek(), Id(), part, plaintext);
      ASSERT_EQ(w.stream.size(), StreamSize(size));
      ASSERT_EQ(PlaintextSizeOfStream(w.stream.size()).value(), size);
      // Without and with the manifest's expectations.
      for (bool with_expected : {false, true}) {
        Decrypted d = ReadStream(Dek(), Id(), part, w.stream,
                                 with_expected ? std::optional(w.info) : std::nullopt);
        ASSERT_TRUE(d.end.has_value()) << d.end.error().ToString();
        EXPECT_EQ(d.released, plaintext);
        EXPECT_EQ(d.info.salt, w.info.salt);
        EXPECT_EQ(d.info.commitment, w.info.commitment);
        EXPECT_EQ(d.info.plaintext_size, size);
        EXPECT_EQ(d.info.part_number, part);
      }
    }
  }
}

TEST(StreamRoundTripTest, OddSizedWritesGiveIdenticalPlaintext) {
  Bytes plaintext = Pattern(4 * 16384 + 99, 8);
  for (size_t piece : {size_t{1}, size_t{7}, size_t{16385}}) {
    Written w = WriteStream(Dek(), Id(), 3, plaintext, piece);
    for (size_t read : {size_t{1}, size_t{7}, size_t{16385}}) {
      SCOPED_TRACE("write " + std::to_string(piece) + " read " + std::to_string(read));
      Decrypted d = ReadStream(Dek(), Id(), 3, w.stream, w.info, read);
      ASSERT_TRUE(d.end.has_value()) << d.end.error().ToString();
      EXPECT_EQ(d.released, plaintext);
    }
  }
}

// ------------------------------------------------------- reader: structure

TEST(StreamReaderTest, CreateRejectsExpectedInfoForAnotherPart) {
  Written w = WriteStream(Dek(), Id(), 1, Pattern(10, 9));
  ByteViewSource source(w.stream);
  EXPECT_TRUE(
      FailsWith(StreamReader::Create(Dek(), Id(), 2, source, w.info), ErrorCode::kInvalidArgument));
}

TEST(StreamReaderTest, CreateRejectsAPartNumberAbove10000) {
  Written w = WriteStream(Dek(), Id(), 1, Pattern(10, 9));
  ByteViewSource source(w.stream);
  EXPECT_TRUE(FailsWith(StreamReader::Create(Dek(), Id(), 10001, source, std::nullopt),
                        ErrorCode::kInvalidArgument));
}

TEST(StreamReaderTest, StreamShorterThanItsPrefixIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(10, 10));
  for (size_t len = 0; len < 8; ++len) {
    Decrypted d = ReadStream(Dek(), Id(), 0, ByteView(w.stream).first(len));
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << len;
  }
}

TEST(StreamReaderTest, StreamShorterThanAnEmptyStreamIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, {});
  ASSERT_EQ(w.stream.size(), 80u);
  for (size_t len : {size_t{8}, size_t{40}, size_t{64}, size_t{65}, size_t{79}}) {
    Decrypted d = ReadStream(Dek(), Id(), 0, ByteView(w.stream).first(len));
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << len;
  }
}

TEST(StreamReaderTest, UnknownMagicIsInvalidArgument) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 11));
  for (size_t i = 0; i < 4; ++i) {
    Bytes bad = w.stream;
    bad[i] ^= 0x20;
    EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kInvalidArgument)) << i;
  }
}

TEST(StreamReaderTest, UnknownVersionIsInvalidArgument) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 12));
  for (uint8_t version : {0x00, 0x02, 0xFF}) {
    Bytes bad = w.stream;
    bad[4] = version;
    EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kInvalidArgument));
  }
}

TEST(StreamReaderTest, UnknownSuiteIsInvalidArgument) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 13));
  for (uint8_t suite : {0x00, 0x02, 0x81}) {
    Bytes bad = w.stream;
    bad[5] = suite;
    EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kInvalidArgument));
  }
}

TEST(StreamReaderTest, UnknownKindIsInvalidArgument) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 14));
  for (uint8_t kind : {0x00, 0x03, 0x04, 0x81}) {  // 0x03: reserved, not readable
    Bytes bad = w.stream;
    bad[6] = kind;
    EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kInvalidArgument))
        << int{kind};
  }
}

TEST(StreamReaderTest, KindOfAnotherPartNumberIsDataLoss) {
  Written whole = WriteStream(Dek(), Id(), 0, Pattern(100, 15));
  Bytes bad = whole.stream;
  bad[6] = 0x02;  // claims to be a multipart part
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kDataLoss));
  Written part = WriteStream(Dek(), Id(), 1, Pattern(100, 15));
  bad = part.stream;
  bad[6] = 0x01;
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 1, bad).end, ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, NonZeroReservedByteIsInvalidArgument) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 16));
  for (uint8_t reserved : {0x01, 0x80, 0xFF}) {
    Bytes bad = w.stream;
    bad[7] = reserved;
    EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kInvalidArgument));
  }
}

TEST(StreamReaderTest, EveryPrefixBitFlipIsRejectedBeforeAnyPlaintext) {
  Written w = WriteStream(Dek(), Id(), 7, Pattern(20000, 17));
  for (size_t i = 0; i < kStreamPrefixSize; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = w.stream;
      bad[i] ^= static_cast<uint8_t>(1 << bit);
      Decrypted d = ReadStream(Dek(), Id(), 7, bad);
      EXPECT_FALSE(d.end.has_value()) << "byte " << i << " bit " << bit;
      EXPECT_TRUE(d.released.empty());
    }
  }
}

// -------------------------------------------------- reader: header & chunks

TEST(StreamReaderTest, FlippedSaltIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 18));
  for (size_t i = 8; i < 8 + kSaltSize; i += 5) {
    Bytes bad = w.stream;
    bad[i] ^= 0x01;
    Decrypted d = ReadStream(Dek(), Id(), 0, bad);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << i;
    EXPECT_TRUE(d.released.empty());
  }
}

TEST(StreamReaderTest, FlippedCommitmentIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 19));
  for (size_t i = 8 + kSaltSize; i < kStreamHeaderSize; i += 5) {
    Bytes bad = w.stream;
    bad[i] ^= 0x01;
    Decrypted d = ReadStream(Dek(), Id(), 0, bad);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << i;
    EXPECT_TRUE(d.released.empty());
  }
}

TEST(StreamReaderTest, FlippedChunkBodyIsDataLoss) {
  Bytes plaintext = Pattern(2 * 16384 + 7, 20);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  Bytes bad = w.stream;
  bad[ChunkAt(1) + 100] ^= 0x01;
  Decrypted d = ReadStream(Dek(), Id(), 0, bad, w.info, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + kChunkSize));
}

TEST(StreamReaderTest, FlippedTagIsDataLoss) {
  Bytes plaintext = Pattern(2 * 16384 + 7, 21);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  Bytes bad = w.stream;
  bad[bad.size() - 3] ^= 0x01;  // the final chunk's tag
  Decrypted d = ReadStream(Dek(), Id(), 0, bad, w.info, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + 2 * kChunkSize));
}

TEST(StreamReaderTest, TruncationAtEveryChunkBoundaryIsDataLoss) {
  Bytes plaintext = Pattern(4 * 16384 + 5, 22);
  Written w = WriteStream(Dek(), Id(), 2, plaintext);
  for (uint64_t k = 0; k < ChunkCount(plaintext.size()); ++k) {
    SCOPED_TRACE("cut before chunk " + std::to_string(k));
    ByteView cut = ByteView(w.stream).first(ChunkAt(k));
    for (bool with_expected : {false, true}) {
      Decrypted d = ReadStream(Dek(), Id(), 2, cut,
                               with_expected ? std::optional(w.info) : std::nullopt, kChunkSize);
      EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
      EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + k * kChunkSize));
    }
  }
}

TEST(StreamReaderTest, TruncationExactlyAtAChunkBoundaryIsAMissingFinalChunk) {
  Bytes plaintext = Pattern(2 * 16384, 23);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  ByteView cut = ByteView(w.stream).first(w.stream.size() - kTagSize);  // no empty final chunk
  ASSERT_EQ(cut.size(), ChunkAt(2));
  Decrypted d = ReadStream(Dek(), Id(), 0, cut);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(PlaintextSizeOfStream(cut.size()), ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, TruncationMidChunkIsDataLoss) {
  Bytes plaintext = Pattern(3 * 16384 + 7, 24);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  for (size_t cut : {ChunkAt(0) + 1, ChunkAt(1) + 9000, ChunkAt(3) + 10, w.stream.size() - 1}) {
    Decrypted d = ReadStream(Dek(), Id(), 0, ByteView(w.stream).first(cut), w.info);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << cut;
  }
}

TEST(StreamReaderTest, OneTrailingByteIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(3 * 16384 + 7, 25));
  Bytes bad = w.stream;
  bad.push_back(0x2A);
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad, w.info).end, ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, AWholeTrailingChunkIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(3 * 16384 + 7, 26));
  Bytes bad = w.stream;
  bad.insert(bad.end(), w.stream.begin() + ChunkAt(0), w.stream.begin() + ChunkAt(1));
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, bad).end, ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, TrailingDataAfterAnEmptyFinalChunkIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(2 * 16384, 27));
  Bytes one = w.stream;
  one.push_back(0);
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, one).end, ErrorCode::kDataLoss));
  Bytes chunk = w.stream;
  chunk.insert(chunk.end(), w.stream.begin() + ChunkAt(1), w.stream.begin() + ChunkAt(2));
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, chunk).end, ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, SwappedChunksAreDataLoss) {
  Bytes plaintext = Pattern(3 * 16384 + 7, 28);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  Bytes bad = w.stream;
  std::swap_ranges(bad.begin() + ChunkAt(1), bad.begin() + ChunkAt(2), bad.begin() + ChunkAt(2));
  Decrypted d = ReadStream(Dek(), Id(), 0, bad, w.info, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + kChunkSize));
}

TEST(StreamReaderTest, DuplicatedChunkIsDataLoss) {
  Bytes plaintext = Pattern(3 * 16384 + 7, 29);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  Bytes bad = w.stream;
  std::copy(w.stream.begin() + ChunkAt(1), w.stream.begin() + ChunkAt(2),
            bad.begin() + ChunkAt(2));  // chunk 1 again where chunk 2 belongs
  Decrypted d = ReadStream(Dek(), Id(), 0, bad, w.info, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + 2 * kChunkSize));
}

// -------------------------------------------------- reader: wrong context

TEST(StreamReaderTest, WrongDekIsACommitmentMismatchBeforeAnyChunkIsRead) {
  Written w = WriteStream(Dek(1), Id(), 0, Pattern(3 * 16384, 30));
  CountingSource source(w.stream);
  Decrypted d = ReadStream(Dek(2), Id(), 0, source);
  ASSERT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_NE(d.end.error().message().find("commitment"), std::string::npos)
      << d.end.error().message();
  EXPECT_EQ(source.consumed, kStreamHeaderSize) << "a chunk was read";
  EXPECT_TRUE(d.released.empty());
}

TEST(StreamReaderTest, OtherObjectIdIsDataLoss) {
  Written w = WriteStream(Dek(), Id(1), 0, Pattern(1000, 31));
  Decrypted d = ReadStream(Dek(), Id(2), 0, w.stream);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_TRUE(d.released.empty());
}

TEST(StreamReaderTest, OtherPartNumberIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 3, Pattern(1000, 32));
  for (uint32_t other : {1u, 2u, 4u, 10000u}) {
    Decrypted d = ReadStream(Dek(), Id(), other, w.stream);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << other;
    EXPECT_TRUE(d.released.empty());
  }
}

TEST(StreamReaderTest, PartSwapIsDataLoss) {
  // Two parts of one multipart upload under one DEK: part 2's bytes offered
  // as part 1 (and the other way round) must fail.
  Bytes p1 = Pattern(20000, 33), p2 = Pattern(20000, 34);
  Written part1 = WriteStream(Dek(), Id(), 1, p1);
  Written part2 = WriteStream(Dek(), Id(), 2, p2);
  Decrypted d = ReadStream(Dek(), Id(), 1, part2.stream);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_TRUE(d.released.empty());
  d = ReadStream(Dek(), Id(), 2, part1.stream);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_TRUE(d.released.empty());
}

TEST(StreamReaderTest, WholeObjectStreamReadAsAPartIsRejected) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 35));
  Decrypted d = ReadStream(Dek(), Id(), 1, w.stream);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, StalePartAttemptIsDataLossBeforeAnyPlaintext) {
  // Two attempts at part 1, same DEK and object id. The manifest names A;
  // the blob holds B. B is a perfectly good stream on its own.
  Bytes pa = Pattern(3 * 16384 + 100, 36), pb = Pattern(3 * 16384 + 100, 37);
  Written a = WriteStream(Dek(), Id(), 1, pa);
  Written b = WriteStream(Dek(), Id(), 1, pb);
  ASSERT_EQ(a.stream.size(), b.stream.size());
  ASSERT_TRUE(ReadStream(Dek(), Id(), 1, b.stream).end.has_value());

  CountingSource source(b.stream);
  auto reader = StreamReader::Create(Dek(), Id(), 1, source, a.info);
  ASSERT_TRUE(reader.has_value());
  Bytes buffer(100000, kSentinel);
  auto n = (*reader)->Read(buffer);
  ASSERT_TRUE(FailsWith(n, ErrorCode::kDataLoss));
  EXPECT_EQ(source.consumed, kStreamHeaderSize) << "a chunk was read";
  EXPECT_TRUE(std::all_of(buffer.begin(), buffer.end(), [](uint8_t c) { return c == kSentinel; }));
  // Sticky.
  EXPECT_TRUE(FailsWith((*reader)->Read(buffer), ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, PlaintextLengthOtherThanTheManifestsIsDataLoss) {
  Bytes plaintext = Pattern(16384 + 10, 38);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  StreamInfo longer = w.info;
  longer.plaintext_size += 1;
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, w.stream, longer).end, ErrorCode::kDataLoss));
  StreamInfo shorter = w.info;
  shorter.plaintext_size -= 1;
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, w.stream, shorter).end, ErrorCode::kDataLoss));
  StreamInfo much_shorter = w.info;
  much_shorter.plaintext_size = 0;
  EXPECT_TRUE(
      FailsWith(ReadStream(Dek(), Id(), 0, w.stream, much_shorter).end, ErrorCode::kDataLoss));
}

TEST(StreamReaderTest, ExpectedSaltOrCommitmentMismatchIsDataLoss) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 39));
  StreamInfo salt = w.info;
  salt.salt[0] ^= 1;
  EXPECT_TRUE(FailsWith(ReadStream(Dek(), Id(), 0, w.stream, salt).end, ErrorCode::kDataLoss));
  StreamInfo commitment = w.info;
  commitment.commitment[31] ^= 1;
  EXPECT_TRUE(
      FailsWith(ReadStream(Dek(), Id(), 0, w.stream, commitment).end, ErrorCode::kDataLoss));
}

// ------------------------------------------------- sticky / verified prefix

TEST(StreamReaderTest, ErrorsAreStickyEvenWhenMoreDataArrives) {
  Bytes plaintext = Pattern(2 * 16384 + 7, 40);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  size_t cut = ChunkAt(1);  // the source first ends at a chunk boundary
  GrowableSource source(Bytes(w.stream.begin(), w.stream.begin() + cut));
  auto reader = StreamReader::Create(Dek(), Id(), 0, source, std::nullopt);
  ASSERT_TRUE(reader.has_value());
  Bytes buffer(kChunkSize);
  auto first = (*reader)->Read(buffer);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, kChunkSize);
  auto failed = (*reader)->Read(buffer);
  ASSERT_TRUE(FailsWith(failed, ErrorCode::kDataLoss));
  source.Append(ByteView(w.stream).subspan(cut));
  for (int i = 0; i < 3; ++i) {
    auto again = (*reader)->Read(buffer);
    ASSERT_TRUE(FailsWith(again, ErrorCode::kDataLoss));
    EXPECT_EQ(again.error().message(), failed.error().message());
  }
}

TEST(StreamReaderTest, PrefixErrorsAreSticky) {
  Written w = WriteStream(Dek(), Id(), 0, Pattern(100, 41));
  GrowableSource source(Bytes(w.stream.begin(), w.stream.begin() + 5));
  auto reader = StreamReader::Create(Dek(), Id(), 0, source, std::nullopt);
  ASSERT_TRUE(reader.has_value());
  Bytes buffer(1000);
  auto failed = (*reader)->Read(buffer);
  ASSERT_TRUE(FailsWith(failed, ErrorCode::kDataLoss));
  source.Append(ByteView(w.stream).subspan(5));
  auto again = (*reader)->Read(buffer);
  ASSERT_TRUE(FailsWith(again, ErrorCode::kDataLoss));
  EXPECT_EQ(again.error().message(), failed.error().message());
}

TEST(StreamReaderTest, NoUnverifiedPlaintextIsReleased) {
  Bytes plaintext = DistinctPattern(4 * 16384 + 3, 42);
  Written w = WriteStream(Dek(), Id(), 5, plaintext);
  const size_t bad_chunk = 3;
  Bytes bad = w.stream;
  bad[ChunkAt(bad_chunk) + 16000] ^= 0x02;
  const size_t verified = bad_chunk * kChunkSize;
  for (size_t read_size : {size_t{1}, size_t{1000}, size_t{16384}, size_t{50000}}) {
    SCOPED_TRACE("read size " + std::to_string(read_size));
    ByteViewSource source(bad);
    auto reader = StreamReader::Create(Dek(), Id(), 5, source, w.info);
    ASSERT_TRUE(reader.has_value());
    Bytes released, buffer(read_size);
    Result<size_t> n = 0;
    for (;;) {
      std::fill(buffer.begin(), buffer.end(), kSentinel);
      n = (*reader)->Read(buffer);
      if (!n || *n == 0) break;
      released.insert(released.end(), buffer.begin(), buffer.begin() + *n);
    }
    ASSERT_TRUE(FailsWith(n, ErrorCode::kDataLoss));
    EXPECT_EQ(released, Bytes(plaintext.begin(), plaintext.begin() + verified));
    for (size_t i = 0; i < buffer.size(); ++i) {
      size_t position = released.size() + i;
      if (position < verified || position >= plaintext.size()) continue;
      ASSERT_NE(buffer[i], plaintext[position]) << "plaintext byte " << position << " leaked";
    }
  }
}

TEST(StreamReaderTest, ReadIntoAnEmptyBufferIsNotAnError) {
  // A zero-length read is not the end of the stream, and must not make a
  // reader with manifest expectations report (and stick to) a short stream.
  Bytes plaintext = Pattern(20000, 43);
  Written w = WriteStream(Dek(), Id(), 0, plaintext);
  for (bool with_expected : {false, true}) {
    ByteViewSource source(w.stream);
    auto reader = StreamReader::Create(Dek(), Id(), 0, source,
                                       with_expected ? std::optional(w.info) : std::nullopt);
    ASSERT_TRUE(reader.has_value());
    Bytes none;
    auto empty = (*reader)->Read(none);
    ASSERT_TRUE(empty.has_value()) << with_expected << ": " << empty.error().ToString();
    EXPECT_EQ(*empty, 0u);
    Bytes all(30000);
    auto n = (*reader)->Read(all);
    ASSERT_TRUE(n.has_value()) << n.error().ToString();
    EXPECT_EQ(*n, plaintext.size());
    EXPECT_TRUE((*reader)->Read(none).has_value());
    auto end = (*reader)->Read(all);
    ASSERT_TRUE(end.has_value()) << end.error().ToString();
    EXPECT_EQ(*end, 0u);
  }
}

}  // namespace
}  // namespace strongroom::format
