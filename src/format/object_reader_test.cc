// SPDX-License-Identifier: Apache-2.0
// Random-access reads of whole objects (docs/FORMAT.md §8, "A random-access
// read"): ranges over a multipart object with an empty part, proof that only
// the touched chunks are fetched and decrypted, and stale or swapped parts.

#include "format/object_reader.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/error.h"
#include "base/io.h"
#include "format/manifest.h"
#include "format/stream.h"
#include "format/format_test_util.h"

namespace strongroom::format {
namespace {

// ------------------------------------------------------------------ helpers




const Binding kBinding{"bucket", "big/object.bin"};

// Appends one stream to `blob` and returns its manifest entry.
StreamInfo AppendStream(Bytes& blob, ByteView dek, const ObjectId& id, uint32_t part,
                        ByteView plaintext) {
  BytesSink sink;
  auto writer = StreamWriter::Create(dek, id, part, sink);
  EXPECT_TRUE(writer.has_value());
  if (!writer) return {};
  EXPECT_TRUE((*writer)->Write(plaintext).has_value());
  auto info = (*writer)->Finish();
  EXPECT_TRUE(info.has_value());
  Append(blob, sink.bytes());
  return info.value_or(StreamInfo{});
}

// Parts 1: 5 chunks + 3 bytes, 2: empty, 3: exactly one chunk, 7: 100 bytes.
struct MultipartObject {
  Bytes plaintext;
  Bytes blob;
  Manifest manifest;
  std::vector<uint64_t> part_begin;  // plaintext offset of each part
  std::vector<uint64_t> blob_begin;  // blob offset of each part
};

constexpr uint32_t kParts[] = {1, 2, 3, 7};
constexpr size_t kPartSizes[] = {5 * 16384 + 3, 0, 16384, 100};

MultipartObject MakeObject(uint64_t seed = 1) {
  MultipartObject o;
  o.manifest.object_id = Id();
  o.manifest.binding = kBinding;
  for (size_t i = 0; i < 4; ++i) {
    Bytes part = DistinctPattern(kPartSizes[i], seed * 10 + i);
    o.part_begin.push_back(o.plaintext.size());
    o.blob_begin.push_back(o.blob.size());
    o.manifest.streams.push_back(AppendStream(o.blob, Dek(), Id(), kParts[i], part));
    Append(o.plaintext, part);
  }
  // Go through the real seal/open path, as a server would.
  auto sealed = SealManifest(o.manifest, Dek());
  EXPECT_TRUE(sealed.has_value());
  if (!sealed) return o;
  auto opened = OpenManifest(*sealed, Dek(), Id(), kBinding);
  EXPECT_TRUE(opened.has_value());
  if (opened) o.manifest = *opened;
  return o;
}

class CountingRandomAccessSource : public RandomAccessSource {
 public:
  explicit CountingRandomAccessSource(ByteView data) : inner_(data) {}
  uint64_t size() const override { return inner_.size(); }
  Result<void> ReadAt(uint64_t offset, MutableByteView out) override {
    ++calls;
    bytes += out.size();
    return inner_.ReadAt(offset, out);
  }
  void Reset() { calls = bytes = 0; }
  uint64_t calls = 0;
  uint64_t bytes = 0;

 private:
  ByteViewRandomAccessSource inner_;
};

struct Range {
  uint64_t offset;
  uint64_t size;
};

// ~200 deterministic ranges: every part boundary (including the empty part)
// with lengths around it, then seeded random ones.
std::vector<Range> TestRanges(uint64_t total, const std::vector<uint64_t>& boundaries) {
  std::vector<Range> ranges = {{0, total}, {0, 0}, {total, 0}, {total - 1, 1}};
  for (uint64_t b : boundaries) {
    for (uint64_t back : {uint64_t{0}, uint64_t{1}, uint64_t{5}, uint64_t{16384}}) {
      for (uint64_t len : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{10}, uint64_t{16384},
                           uint64_t{16390}}) {
        if (back > b) continue;
        uint64_t start = b - back;
        if (start + len <= total) ranges.push_back({start, len});
      }
    }
  }
  std::mt19937_64 rng(2026);
  while (ranges.size() < 200) {
    uint64_t start = rng() % total;
    uint64_t max = total - start;
    uint64_t len = (rng() % 3 == 0) ? rng() % std::min<uint64_t>(max + 1, 40) : rng() % (max + 1);
    ranges.push_back({start, len});
  }
  return ranges;
}

std::vector<uint64_t> Boundaries(const MultipartObject& o) {
  std::vector<uint64_t> out = o.part_begin;
  // Chunk boundaries inside part 1 too.
  for (uint64_t c = 1; c <= 5; ++c) out.push_back(c * kChunkSize);
  return out;
}

// ------------------------------------------------------------------- tests

TEST(ObjectRangeReaderTest, LayoutOfTheTestObject) {
  MultipartObject o = MakeObject();
  EXPECT_EQ(o.blob.size(), o.manifest.blob_size());
  EXPECT_EQ(o.plaintext.size(), o.manifest.plaintext_size());
  EXPECT_EQ(o.part_begin, (std::vector<uint64_t>{0, 81923, 81923, 98307}));
  EXPECT_EQ(o.blob_begin[1], StreamSize(81923));
}

TEST(ObjectRangeReaderTest, WholeObjectReadEqualsThePlaintext) {
  MultipartObject o = MakeObject();
  ByteViewRandomAccessSource source(o.blob);
  auto reader = ObjectRangeReader::Create(Dek(), o.manifest, source);
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  EXPECT_EQ((*reader)->plaintext_size(), o.plaintext.size());
  Bytes all(o.plaintext.size());
  ASSERT_TRUE((*reader)->ReadAt(0, all).has_value());
  EXPECT_EQ(all, o.plaintext);
}

TEST(ObjectRangeReaderTest, RandomRangesEqualThePlaintextSlice) {
  MultipartObject o = MakeObject();
  ByteViewRandomAccessSource source(o.blob);
  auto reader = ObjectRangeReader::Create(Dek(), o.manifest, source);
  ASSERT_TRUE(reader.has_value());
  auto ranges = TestRanges(o.plaintext.size(), Boundaries(o));
  ASSERT_GE(ranges.size(), 200u);
  for (const Range& r : ranges) {
    Bytes out(r.size, kSentinel);
    auto read = (*reader)->ReadAt(r.offset, out);
    ASSERT_TRUE(read.has_value()) << r.offset << "+" << r.size << ": " << read.error().ToString();
    ASSERT_TRUE(std::equal(out.begin(), out.end(), o.plaintext.begin() + r.offset))
        << r.offset << "+" << r.size;
  }
}

TEST(ObjectRangeReaderTest, RangesAcrossTheEmptyPart) {
  MultipartObject o = MakeObject();
  ByteViewRandomAccessSource source(o.blob);
  auto reader = ObjectRangeReader::Create(Dek(), o.manifest, source);
  ASSERT_TRUE(reader.has_value());
  const uint64_t p1_end = o.part_begin[1];  // = part 2's (empty) and part 3's start
  for (Range r : {Range{p1_end - 1, 2}, Range{p1_end, 1}, Range{p1_end - 3, 16384 + 3 + 100},
                  Range{p1_end + 16383, 2}, Range{0, o.plaintext.size()}}) {
    Bytes out(r.size);
    ASSERT_TRUE((*reader)->ReadAt(r.offset, out).has_value()) << r.offset << "+" << r.size;
    EXPECT_TRUE(std::equal(out.begin(), out.end(), o.plaintext.begin() + r.offset));
  }
}

TEST(ObjectRangeReaderTest, SinglePartObject) {
  Bytes blob;
  Bytes plaintext = Pattern(3 * 16384 + 7, 5);
  Manifest m;
  m.object_id = Id();
  m.streams = {AppendStream(blob, Dek(), Id(), 0, plaintext)};
  ByteViewRandomAccessSource source(blob);
  auto reader = ObjectRangeReader::Create(Dek(), m, source);
  ASSERT_TRUE(reader.has_value());
  for (Range r : {Range{0, plaintext.size()}, Range{16383, 2}, Range{3 * 16384, 7}}) {
    Bytes out(r.size);
    ASSERT_TRUE((*reader)->ReadAt(r.offset, out).has_value());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), plaintext.begin() + r.offset));
  }
}

TEST(ObjectRangeReaderTest, SinglePartRoundTripsAtEverySizeEdge) {
  std::mt19937_64 rng(3);
  for (size_t size : {size_t{0}, size_t{1}, size_t{16383}, size_t{16384}, size_t{16385},
                      size_t{3 * 16384}, size_t{3 * 16384 + 7}, size_t{(1 << 20) + 1}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes blob;
    Bytes plaintext = Pattern(size, size + 5);
    Manifest m;
    m.object_id = Id();
    m.streams = {AppendStream(blob, Dek(), Id(), 0, plaintext)};
    ASSERT_EQ(blob.size(), StreamSize(size));
    ByteViewRandomAccessSource source(blob);
    auto reader = ObjectRangeReader::Create(Dek(), m, source);
    ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
    Bytes all(size);
    ASSERT_TRUE((*reader)->ReadAt(0, all).has_value());
    EXPECT_EQ(all, plaintext);
    for (int i = 0; i < 20 && size > 0; ++i) {
      uint64_t start = rng() % size;
      Bytes part(rng() % (size - start + 1));
      ASSERT_TRUE((*reader)->ReadAt(start, part).has_value()) << start << "+" << part.size();
      ASSERT_TRUE(std::equal(part.begin(), part.end(), plaintext.begin() + start));
    }
  }
}

TEST(ObjectRangeReaderTest, EmptyObject) {
  Bytes blob;
  Manifest m;
  m.object_id = Id();
  m.streams = {AppendStream(blob, Dek(), Id(), 0, {})};
  ByteViewRandomAccessSource source(blob);
  auto reader = ObjectRangeReader::Create(Dek(), m, source);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ((*reader)->plaintext_size(), 0u);
  Bytes none, one(1);
  EXPECT_TRUE((*reader)->ReadAt(0, none).has_value());
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(0, one), ErrorCode::kOutOfRange));
}

TEST(ObjectRangeReaderTest, RangePastTheEndIsOutOfRange) {
  MultipartObject o = MakeObject();
  ByteViewRandomAccessSource source(o.blob);
  auto reader = ObjectRangeReader::Create(Dek(), o.manifest, source);
  ASSERT_TRUE(reader.has_value());
  const uint64_t total = o.plaintext.size();
  Bytes one(1), two(2), none, all(total + 1);
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(total, one), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(total - 1, two), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(total + 1, none), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(0, all), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(UINT64_MAX, one), ErrorCode::kOutOfRange));
  EXPECT_TRUE((*reader)->ReadAt(total, none).has_value());
}

TEST(ObjectRangeReaderTest, BlobLongerThanTheManifestSaysIsDataLossAtCreate) {
  MultipartObject o = MakeObject();
  Bytes blob = o.blob;
  blob.push_back(0);
  ByteViewRandomAccessSource source(blob);
  EXPECT_TRUE(
      FailsWith(ObjectRangeReader::Create(Dek(), o.manifest, source), ErrorCode::kDataLoss));
}

TEST(ObjectRangeReaderTest, BlobShorterThanTheManifestSaysIsDataLossAtCreate) {
  MultipartObject o = MakeObject();
  // One byte, a tag's worth, and part 7's whole stream (64 + 100 + 16).
  for (size_t cut : {size_t{1}, size_t{16}, size_t{180}}) {
    ByteViewRandomAccessSource source(ByteView(o.blob).first(o.blob.size() - cut));
    EXPECT_TRUE(
        FailsWith(ObjectRangeReader::Create(Dek(), o.manifest, source), ErrorCode::kDataLoss))
        << cut;
  }
}

TEST(ObjectRangeReaderTest, CreateRejectsADekThatIsNot32Bytes) {
  MultipartObject o = MakeObject();
  ByteViewRandomAccessSource source(o.blob);
  Bytes dek(16, 1);
  EXPECT_TRUE(
      FailsWith(ObjectRangeReader::Create(dek, o.manifest, source), ErrorCode::kInvalidArgument));
}

TEST(ObjectRangeReaderTest, WrongDekIsDataLossOnRead) {
  MultipartObject o = MakeObject();
  ByteViewRandomAccessSource source(o.blob);
  auto reader = ObjectRangeReader::Create(Dek(2), o.manifest, source);
  ASSERT_TRUE(reader.has_value());
  Bytes out(10, kSentinel);
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(0, out), ErrorCode::kDataLoss));
  EXPECT_EQ(out, Bytes(10, kSentinel));
}

TEST(ObjectRangeReaderTest, CreateFetchesNothingAndAOneByteRangeReadsAtMostOneSealedChunk) {
  MultipartObject o = MakeObject();
  CountingRandomAccessSource source(o.blob);
  auto reader = ObjectRangeReader::Create(Dek(), o.manifest, source);
  ASSERT_TRUE(reader.has_value());
  EXPECT_EQ(source.calls, 0u) << "Create must fetch nothing";
  // The first touch of a stream reads its 64-byte header once (rule 6).
  for (size_t i : {0, 2, 3}) {
    source.Reset();
    Bytes one(1);
    ASSERT_TRUE((*reader)->ReadAt(o.part_begin[i], one).has_value());
    EXPECT_EQ(source.calls, 2u);
    EXPECT_EQ(source.bytes, kStreamHeaderSize + std::min<uint64_t>(kPartSizes[i], kChunkSize) +
                                kTagSize);
  }
  std::mt19937_64 rng(9);
  std::vector<uint64_t> offsets = {0,
                                   16383,
                                   16384,
                                   5 * 16384,
                                   5 * 16384 + 2,
                                   o.part_begin[2],
                                   o.part_begin[3],
                                   o.plaintext.size() - 1};
  for (int i = 0; i < 50; ++i) offsets.push_back(rng() % o.plaintext.size());
  for (uint64_t offset : offsets) {
    source.Reset();
    Bytes one(1);
    ASSERT_TRUE((*reader)->ReadAt(offset, one).has_value()) << offset;
    EXPECT_EQ(one[0], o.plaintext[offset]);
    EXPECT_EQ(source.calls, 1u) << offset;
    EXPECT_LE(source.bytes, kSealedChunkSize) << offset;
  }
  // The short last chunk of part 1 (3 bytes) costs only its own 19 bytes.
  source.Reset();
  Bytes one(1);
  ASSERT_TRUE((*reader)->ReadAt(5 * 16384 + 1, one).has_value());
  EXPECT_EQ(source.bytes, 3u + kTagSize);
  // A range over two chunks reads two sealed chunks.
  source.Reset();
  Bytes two(2);
  ASSERT_TRUE((*reader)->ReadAt(16383, two).has_value());
  EXPECT_EQ(source.bytes, 2 * kSealedChunkSize);
  // Reading nothing reads nothing.
  source.Reset();
  Bytes none;
  ASSERT_TRUE((*reader)->ReadAt(100, none).has_value());
  EXPECT_EQ(source.calls, 0u);
}

TEST(ObjectRangeReaderTest, BitFlipFailsExactlyTheRangesTouchingThatChunk) {
  MultipartObject o = MakeObject();
  auto ranges = TestRanges(o.plaintext.size(), Boundaries(o));
  struct Target {
    size_t part_index;
    uint64_t chunk;
    size_t byte_in_chunk;
  };
  // Chunk 2 of part 1, the short final chunk of part 1, part 3's only full
  // chunk, and part 7's final chunk (its tag).
  for (Target t : {Target{0, 2, 500}, Target{0, 5, 1}, Target{2, 0, 16000}, Target{3, 0, 110}}) {
    SCOPED_TRACE("part " + std::to_string(kParts[t.part_index]) + " chunk " +
                 std::to_string(t.chunk));
    Bytes blob = o.blob;
    blob[o.blob_begin[t.part_index] + kStreamHeaderSize + t.chunk * kSealedChunkSize +
         t.byte_in_chunk] ^= 0x01;
    const uint64_t bad_begin = o.part_begin[t.part_index] + t.chunk * kChunkSize;
    const uint64_t bad_end = std::min<uint64_t>(
        bad_begin + kChunkSize, o.part_begin[t.part_index] + kPartSizes[t.part_index]);
    ByteViewRandomAccessSource source(blob);
    auto reader = ObjectRangeReader::Create(Dek(), o.manifest, source);
    ASSERT_TRUE(reader.has_value());
    int failed = 0;
    for (const Range& r : ranges) {
      bool touches = r.size > 0 && r.offset < bad_end && bad_begin < r.offset + r.size;
      Bytes out(r.size, kSentinel);
      auto read = (*reader)->ReadAt(r.offset, out);
      if (touches) {
        ++failed;
        ASSERT_TRUE(FailsWith(read, ErrorCode::kDataLoss)) << r.offset << "+" << r.size;
        // No byte of the bad chunk reached the caller.
        for (uint64_t p = std::max(r.offset, bad_begin); p < std::min(r.offset + r.size, bad_end);
             ++p) {
          ASSERT_NE(out[p - r.offset], o.plaintext[p]) << "leaked byte " << p;
        }
      } else {
        ASSERT_TRUE(read.has_value())
            << r.offset << "+" << r.size << ": " << read.error().ToString();
        ASSERT_TRUE(std::equal(out.begin(), out.end(), o.plaintext.begin() + r.offset));
      }
    }
    EXPECT_GT(failed, 0);
  }
}

TEST(ObjectRangeReaderTest, AFlippedStoredHeaderByteFailsEveryReadOfThatStream) {
  MultipartObject o = MakeObject();
  // Prefix, salt and commitment of part 3 (index 2): the manifest supplies
  // salt and commitment, yet the stored copy must match them.
  for (size_t at : {size_t{0}, size_t{7}, size_t{8}, size_t{39}, size_t{40}, size_t{63}}) {
    SCOPED_TRACE(at);
    Bytes blob = o.blob;
    blob[o.blob_begin[2] + at] ^= 0x80;
    ByteViewRandomAccessSource source(blob);
    auto reader = ObjectRangeReader::Create(Dek(), o.manifest, source);
    ASSERT_TRUE(reader.has_value());
    Bytes out(10);
    EXPECT_TRUE(FailsWith((*reader)->ReadAt(o.part_begin[2] + 100, out), ErrorCode::kDataLoss));
    // Other streams are untouched and still read.
    ASSERT_TRUE((*reader)->ReadAt(o.part_begin[0], out).has_value());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), o.plaintext.begin()));
  }
}

TEST(ObjectRangeReaderTest, StalePartAttemptIsDataLossBeforeAnyPlaintext) {
  // Two attempts at part 1 of one upload: same DEK, same object id, same
  // length. The manifest names attempt A; the blob holds attempt B.
  Bytes a_plain = DistinctPattern(3 * 16384 + 50, 61),
        b_plain = DistinctPattern(3 * 16384 + 50, 62);
  Bytes a_blob, b_blob;
  StreamInfo a = AppendStream(a_blob, Dek(), Id(), 1, a_plain);
  AppendStream(b_blob, Dek(), Id(), 1, b_plain);
  Bytes part2 = DistinctPattern(1000, 63);
  StreamInfo p2 = AppendStream(a_blob, Dek(), Id(), 2, part2);
  Append(b_blob, ByteView(a_blob).subspan(StreamSize(a_plain.size())));  // same part 2
  ASSERT_EQ(a_blob.size(), b_blob.size());

  Manifest m;
  m.object_id = Id();
  m.streams = {a, p2};
  ByteViewRandomAccessSource source(b_blob);
  auto reader = ObjectRangeReader::Create(Dek(), m, source);
  ASSERT_TRUE(reader.has_value());
  for (Range r : {Range{0, 1}, Range{16384, 16384}, Range{0, a_plain.size()},
                  Range{3 * 16384 + 10, 40}, Range{a_plain.size() - 5, 10}}) {
    Bytes out(r.size, kSentinel);
    EXPECT_TRUE(FailsWith((*reader)->ReadAt(r.offset, out), ErrorCode::kDataLoss))
        << r.offset << "+" << r.size;
    for (size_t i = 0; i < out.size() && r.offset + i < a_plain.size(); ++i) {
      ASSERT_NE(out[i], b_plain[r.offset + i]) << "stale plaintext released at " << r.offset + i;
      ASSERT_NE(out[i], a_plain[r.offset + i]);
    }
  }
  // The untouched part 2 still reads.
  Bytes tail(1000);
  ASSERT_TRUE((*reader)->ReadAt(a_plain.size(), tail).has_value());
  EXPECT_EQ(tail, part2);
}

TEST(ObjectRangeReaderTest, SwappedPartsInTheBlobAreDataLoss) {
  Bytes p1 = Pattern(20000, 71), p2 = Pattern(20000, 72);
  Bytes s1, s2;
  Manifest m;
  m.object_id = Id();
  m.streams = {AppendStream(s1, Dek(), Id(), 1, p1), AppendStream(s2, Dek(), Id(), 2, p2)};
  Bytes swapped = s2;
  Append(swapped, s1);
  ByteViewRandomAccessSource source(swapped);
  auto reader = ObjectRangeReader::Create(Dek(), m, source);
  ASSERT_TRUE(reader.has_value());
  Bytes out(10);
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(0, out), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(20000, out), ErrorCode::kDataLoss));
}

TEST(ObjectRangeReaderTest, StreamOfAnotherObjectIsDataLoss) {
  Bytes plaintext = Pattern(5000, 81);
  Bytes ours, theirs;
  Manifest m;
  m.object_id = Id(1);
  m.streams = {AppendStream(ours, Dek(), Id(1), 0, plaintext)};
  AppendStream(theirs, Dek(), Id(2), 0, plaintext);  // same DEK, other object
  ByteViewRandomAccessSource source(theirs);
  auto reader = ObjectRangeReader::Create(Dek(), m, source);
  ASSERT_TRUE(reader.has_value());
  Bytes out(100);
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(0, out), ErrorCode::kDataLoss));
}

}  // namespace
}  // namespace strongroom::format
