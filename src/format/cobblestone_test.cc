// SPDX-License-Identifier: Apache-2.0
// Cobblestone-256 (docs/FORMAT.md §3, §8, §9): the key schedule against an
// independent computation, encryptor/decryptor and random-access round trips
// at the chunk-size edges, and every way a message can be damaged.

#include "format/cobblestone.h"

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
#include "crypto/aes_gcm.h"
#include "crypto/hkdf.h"
#include "testing/test_util.h"

namespace strongroom::format {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::Pattern;

// ------------------------------------------------------------------ helpers


// Pseudo-random bytes that are never 0x00 (the wipe value) nor 0xA5 (the
// sentinel callers pre-fill buffers with), so a leaked plaintext byte can be
// told apart from a wiped or untouched one.
Bytes DistinctPattern(size_t size, uint64_t seed) {
  Bytes out = Pattern(size, seed);
  for (uint8_t& b : out) {
    if (b == 0x00 || b == 0xA5) b = 0x5A;
  }
  return out;
}

constexpr uint8_t kSentinel = 0xA5;

Bytes Key(uint8_t seed = 1) { return Pattern(kInputKeySize, 1000 + seed); }
Bytes Context(uint8_t seed = 1) { return Pattern(28, 2000 + seed); }
Salt FixedSalt(uint8_t seed = 1) {
  Salt salt;
  Bytes b = Pattern(kSaltSize, 3000 + seed);
  std::copy(b.begin(), b.end(), salt.begin());
  return salt;
}

// Encrypts `plaintext`, handing it to Write in pieces of `piece` bytes.
Bytes Encrypt(ByteView key, ByteView context, ByteView plaintext,
              std::optional<Salt> salt = std::nullopt, size_t piece = SIZE_MAX) {
  BytesSink sink;
  auto enc = salt ? CobblestoneEncryptor::CreateWithSaltForTest(key, context, *salt, sink)
                  : CobblestoneEncryptor::Create(key, context, sink);
  EXPECT_TRUE(enc.has_value());
  if (!enc) return {};
  for (size_t at = 0; at < plaintext.size();) {
    size_t n = std::min(piece, plaintext.size() - at);
    EXPECT_TRUE((*enc)->Write(plaintext.subspan(at, n)).has_value());
    at += n;
  }
  EXPECT_TRUE((*enc)->Finish().has_value());
  EXPECT_EQ((*enc)->plaintext_size(), plaintext.size());
  return sink.bytes();
}

// What a streaming decryption released, and how it ended.
struct Decrypted {
  Bytes released;
  Result<size_t> end = 0;  // the last Read: 0 at a clean end, or the error
};

Decrypted DecryptAll(ByteView key, ByteView context, ByteSource& source, size_t read_size = 65536) {
  Decrypted out;
  auto dec = CobblestoneDecryptor::Create(key, context, source);
  if (!dec) {
    out.end = tl::unexpected(dec.error());
    return out;
  }
  Bytes buffer(read_size);
  for (;;) {
    out.end = (*dec)->Read(buffer);
    if (!out.end || *out.end == 0) break;
    out.released.insert(out.released.end(), buffer.begin(), buffer.begin() + *out.end);
  }
  return out;
}

Decrypted DecryptAll(ByteView key, ByteView context, ByteView message, size_t read_size = 65536) {
  ByteViewSource source(message);
  return DecryptAll(key, context, source, read_size);
}

size_t ChunkOffset(uint64_t k) { return kCobblestoneHeaderSize + k * kSealedChunkSize; }

bool IsPrefixOf(ByteView prefix, ByteView whole) {
  return prefix.size() <= whole.size() && std::equal(prefix.begin(), prefix.end(), whole.begin());
}

// A source that can be given more data after it reported the end.
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

// Counts what a reader pulls from a sequential source.
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

// A sink that fails every write.
class FailingSink : public ByteSink {
 public:
  Result<void> Write(ByteView) override { return Unavailable("disk unplugged"); }
};

const std::vector<size_t> kRoundTripSizes = {
    0, 1, 16383, 16384, 16385, 3 * 16384, 3 * 16384 + 7, 1 << 20, (1 << 20) + 5};

// ------------------------------------------------------------- size formulas

TEST(CobblestoneSizeTest, ChunkCountAndMessageSize) {
  EXPECT_EQ(ChunkCount(0), 1u);
  EXPECT_EQ(ChunkCount(16383), 1u);
  EXPECT_EQ(ChunkCount(16384), 2u);
  EXPECT_EQ(ChunkCount(3 * 16384 + 7), 4u);
  EXPECT_EQ(MessageSize(0), 72u);
  EXPECT_EQ(MessageSize(1), 73u);
  EXPECT_EQ(MessageSize(16383), 56u + 16383 + 16);
  EXPECT_EQ(MessageSize(16384), 56u + 16384 + 32);
  EXPECT_EQ(kSealedChunkSize, 16400u);
  EXPECT_EQ(kMaxChunks, uint64_t{1} << 38);
}

TEST(CobblestoneSizeTest, PlaintextSizeOfMessageInvertsMessageSize) {
  for (uint64_t p : {uint64_t{0}, uint64_t{1}, uint64_t{15}, uint64_t{16}, uint64_t{16383},
                     uint64_t{16384}, uint64_t{16385}, uint64_t{3 * 16384}, uint64_t{5242880},
                     uint64_t{1} << 30, (uint64_t{1} << 40) + 3}) {
    auto back = PlaintextSizeOfMessage(MessageSize(p));
    ASSERT_TRUE(back.has_value()) << p;
    EXPECT_EQ(*back, p);
  }
}

TEST(CobblestoneSizeTest, PlaintextSizeOfMessageRejectsImpossibleLengths) {
  // Shorter than header + one tag.
  for (uint64_t len = 0; len < 72; ++len) {
    EXPECT_TRUE(FailsWith(PlaintextSizeOfMessage(len), ErrorCode::kDataLoss)) << len;
  }
  for (uint64_t chunks = 1; chunks <= 3; ++chunks) {
    uint64_t boundary = 56 + chunks * 16400;
    // Exactly at a chunk boundary: the final chunk is missing.
    EXPECT_TRUE(FailsWith(PlaintextSizeOfMessage(boundary), ErrorCode::kDataLoss)) << boundary;
    // 1..15 bytes into a chunk: not even a tag.
    for (uint64_t r = 1; r < 16; ++r) {
      EXPECT_TRUE(FailsWith(PlaintextSizeOfMessage(boundary + r), ErrorCode::kDataLoss))
          << boundary + r;
    }
    EXPECT_TRUE(PlaintextSizeOfMessage(boundary + 16).has_value());
  }
}

TEST(CobblestoneSizeTest, EveryLengthUpToThreeChunksHasAtMostOnePlaintext) {
  // Exhaustive: a length is valid iff it is MessageSize of exactly one P.
  std::vector<int> hits(56 + 3 * 16400 + 100, 0);
  for (uint64_t p = 0; MessageSize(p) < hits.size(); ++p) ++hits[MessageSize(p)];
  for (uint64_t len = 0; len < hits.size(); ++len) {
    auto p = PlaintextSizeOfMessage(len);
    if (hits[len] == 1) {
      ASSERT_TRUE(p.has_value()) << len;
      ASSERT_EQ(MessageSize(*p), len);
    } else {
      ASSERT_EQ(hits[len], 0);
      ASSERT_TRUE(FailsWith(p, ErrorCode::kDataLoss)) << len;
    }
  }
}

// --------------------------------------------------------------- ChunkCipher

TEST(ChunkCipherTest, DeriveRejectsKeysThatAreNot32Bytes) {
  for (size_t size : {0, 16, 31, 33, 64}) {
    Bytes key(size, 7);
    EXPECT_TRUE(
        FailsWith(ChunkCipher::Derive(key, FixedSalt(), Context()), ErrorCode::kInvalidArgument))
        << size;
  }
}

TEST(ChunkCipherTest, KeyScheduleMatchesAnIndependentComputation) {
  // FORMAT.md §3, computed here from the HKDF and AES-GCM primitives.
  Bytes key = Key(), context = Context();
  Salt salt = FixedSalt();
  std::string label = "c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM";
  Bytes info(label.begin(), label.end());
  info.push_back(0x00);
  Append(info, salt);
  Append(info, context);
  auto okm = crypto::HkdfSha512Expand(key, info, 76);
  ASSERT_TRUE(okm.has_value());
  ByteView k = okm->reveal();

  auto cipher = ChunkCipher::Derive(key, salt, context);
  ASSERT_TRUE(cipher.has_value());
  EXPECT_TRUE(
      std::equal((*cipher)->commitment().begin(), (*cipher)->commitment().end(), k.begin() + 44));

  auto aead = crypto::AesGcm256::Create(k.first(32));
  ASSERT_TRUE(aead.has_value());
  Bytes plaintext = Pattern(1000, 9);
  for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256},
                         uint64_t{0x0123456789}, kMaxChunks - 1}) {
    // base_nonce XOR BE96(index): the counter in the rightmost bytes.
    uint8_t nonce[12];
    std::copy_n(k.begin() + 32, 12, nonce);
    for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(index >> (8 * i));
    Bytes expected(plaintext.size() + 16), actual(plaintext.size() + 16);
    ASSERT_TRUE((*aead)->Seal(nonce, {}, plaintext, expected).has_value());
    ASSERT_TRUE((*cipher)->SealChunk(index, plaintext, actual).has_value());
    EXPECT_EQ(actual, expected) << "chunk " << index;
  }
}

TEST(ChunkCipherTest, CommitmentDependsOnKeySaltAndContext) {
  auto base = ChunkCipher::Derive(Key(1), FixedSalt(1), Context(1));
  auto same = ChunkCipher::Derive(Key(1), FixedSalt(1), Context(1));
  auto other_key = ChunkCipher::Derive(Key(2), FixedSalt(1), Context(1));
  auto other_salt = ChunkCipher::Derive(Key(1), FixedSalt(2), Context(1));
  auto other_context = ChunkCipher::Derive(Key(1), FixedSalt(1), Context(2));
  auto empty_context = ChunkCipher::Derive(Key(1), FixedSalt(1), {});
  ASSERT_TRUE(base && same && other_key && other_salt && other_context && empty_context);
  EXPECT_EQ((*base)->commitment(), (*same)->commitment());
  EXPECT_NE((*base)->commitment(), (*other_key)->commitment());
  EXPECT_NE((*base)->commitment(), (*other_salt)->commitment());
  EXPECT_NE((*base)->commitment(), (*other_context)->commitment());
  EXPECT_NE((*base)->commitment(), (*empty_context)->commitment());
}

TEST(ChunkCipherTest, SealOpenRoundTripsAtTheLastAllowedIndex) {
  auto cipher = ChunkCipher::Derive(Key(), FixedSalt(), Context());
  ASSERT_TRUE(cipher.has_value());
  Bytes plaintext = Pattern(kChunkSize, 4);
  Bytes sealed(kSealedChunkSize), opened(kChunkSize);
  ASSERT_TRUE((*cipher)->SealChunk(kMaxChunks - 1, plaintext, sealed).has_value());
  ASSERT_TRUE((*cipher)->OpenChunk(kMaxChunks - 1, sealed, opened).has_value());
  EXPECT_EQ(opened, plaintext);
}

TEST(ChunkCipherTest, OpenChunkAtIndexTwoToThe38IsOutOfRange) {
  auto cipher = ChunkCipher::Derive(Key(), FixedSalt(), Context());
  ASSERT_TRUE(cipher.has_value());
  Bytes sealed(16 + 10, 0), out(10);
  EXPECT_TRUE(FailsWith((*cipher)->OpenChunk(kMaxChunks, sealed, out), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*cipher)->OpenChunk(UINT64_MAX, sealed, out), ErrorCode::kOutOfRange));
}

TEST(ChunkCipherTest, SealChunkAtIndexTwoToThe38IsOutOfRange) {
  auto cipher = ChunkCipher::Derive(Key(), FixedSalt(), Context());
  ASSERT_TRUE(cipher.has_value());
  Bytes plaintext(10, 1), out(26);
  EXPECT_TRUE(FailsWith((*cipher)->SealChunk(kMaxChunks, plaintext, out), ErrorCode::kOutOfRange));
}

TEST(ChunkCipherTest, OpenChunkWithTheWrongIndexFailsAndWipesTheOutput) {
  auto cipher = ChunkCipher::Derive(Key(), FixedSalt(), Context());
  ASSERT_TRUE(cipher.has_value());
  Bytes plaintext = DistinctPattern(5000, 5);
  Bytes sealed(plaintext.size() + 16);
  ASSERT_TRUE((*cipher)->SealChunk(3, plaintext, sealed).has_value());
  Bytes out(plaintext.size(), kSentinel);
  EXPECT_TRUE(FailsWith((*cipher)->OpenChunk(4, sealed, out), ErrorCode::kDataLoss));
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_NE(out[i], plaintext[i]) << "decrypted byte " << i << " left in the output";
  }
}

// ------------------------------------------------ encryptor: layout & state

TEST(CobblestoneEncryptorTest, CreateRejectsAKeyThatIsNot32Bytes) {
  BytesSink sink;
  Bytes short_key(31, 1);
  EXPECT_TRUE(FailsWith(CobblestoneEncryptor::Create(short_key, Context(), sink),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(sink.bytes().empty());
}

TEST(CobblestoneEncryptorTest, OutputIsSaltCommitmentAndIndependentlySealedChunks) {
  Bytes key = Key(), context = Context();
  Salt salt = FixedSalt();
  Bytes plaintext = Pattern(2 * 16384 + 100, 6);
  Bytes message = Encrypt(key, context, plaintext, salt);
  ASSERT_EQ(message.size(), MessageSize(plaintext.size()));

  auto cipher = ChunkCipher::Derive(key, salt, context);
  ASSERT_TRUE(cipher.has_value());
  Bytes expected(salt.begin(), salt.end());
  Append(expected, (*cipher)->commitment());
  for (uint64_t i = 0; i < ChunkCount(plaintext.size()); ++i) {
    ByteView chunk = ByteView(plaintext).subspan(
        i * kChunkSize, std::min<size_t>(kChunkSize, plaintext.size() - i * kChunkSize));
    Bytes sealed(chunk.size() + 16);
    ASSERT_TRUE((*cipher)->SealChunk(i, chunk, sealed).has_value());
    Append(expected, sealed);
  }
  EXPECT_EQ(message, expected);
}

TEST(CobblestoneEncryptorTest, SaltIsFreshForEveryMessage) {
  Bytes plaintext = Pattern(100, 1);
  BytesSink a, b;
  auto ea = CobblestoneEncryptor::Create(Key(), Context(), a);
  auto eb = CobblestoneEncryptor::Create(Key(), Context(), b);
  ASSERT_TRUE(ea && eb);
  EXPECT_NE((*ea)->salt(), (*eb)->salt());
  EXPECT_NE((*ea)->commitment(), (*eb)->commitment());
}

TEST(CobblestoneEncryptorTest, WritePatternDoesNotChangeTheOutput) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(5 * 16384 + 1234, 7);
  Bytes whole = Encrypt(key, context, plaintext, FixedSalt());
  for (size_t piece : {size_t{1}, size_t{7}, size_t{16383}, size_t{16385}, size_t{40000}}) {
    EXPECT_EQ(Encrypt(key, context, plaintext, FixedSalt(), piece), whole) << "piece " << piece;
  }
}

TEST(CobblestoneEncryptorTest, WriteAfterFinishFails) {
  BytesSink sink;
  auto enc = CobblestoneEncryptor::Create(Key(), Context(), sink);
  ASSERT_TRUE(enc.has_value());
  ASSERT_TRUE((*enc)->Finish().has_value());
  Bytes more(5, 1);
  EXPECT_TRUE(FailsWith((*enc)->Write(more), ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith((*enc)->Finish(), ErrorCode::kFailedPrecondition));
  EXPECT_EQ(sink.bytes().size(), MessageSize(0));
}

TEST(CobblestoneEncryptorTest, SinkErrorsAreReportedAndSticky) {
  FailingSink sink;
  auto enc = CobblestoneEncryptor::Create(Key(), Context(), sink);
  ASSERT_TRUE(enc.has_value());
  Bytes plaintext(100, 1);
  ASSERT_TRUE((*enc)->Write(plaintext).has_value());  // buffered
  EXPECT_TRUE(FailsWith((*enc)->Finish(), ErrorCode::kUnavailable));
  EXPECT_TRUE(FailsWith((*enc)->Write(plaintext), ErrorCode::kFailedPrecondition));
}

TEST(CobblestoneEncryptorTest, FinishThatWouldUseChunkIndexTwoToThe38IsOutOfRange) {
  BytesSink sink;
  auto enc = CobblestoneEncryptor::Create(Key(), Context(), sink);
  ASSERT_TRUE(enc.has_value());
  (*enc)->SetNextChunkIndexForTest(kMaxChunks - 1);
  // Chunk 2^38 - 1 is the last allowed one; a full chunk there is fine...
  Bytes chunk = Pattern(kChunkSize, 8);
  ASSERT_TRUE((*enc)->Write(chunk).has_value());
  // ...but then the final chunk would need index 2^38.
  EXPECT_TRUE(FailsWith((*enc)->Finish(), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*enc)->Write(chunk), ErrorCode::kFailedPrecondition));
}

TEST(CobblestoneEncryptorTest, WriteThatWouldUseChunkIndexTwoToThe38IsOutOfRange) {
  BytesSink sink;
  auto enc = CobblestoneEncryptor::Create(Key(), Context(), sink);
  ASSERT_TRUE(enc.has_value());
  (*enc)->SetNextChunkIndexForTest(kMaxChunks - 1);
  Bytes two_chunks = Pattern(2 * kChunkSize, 8);
  EXPECT_TRUE(FailsWith((*enc)->Write(two_chunks), ErrorCode::kOutOfRange));
  // Sticky: the encryptor refuses to go on.
  EXPECT_TRUE(FailsWith((*enc)->Finish(), ErrorCode::kFailedPrecondition));
}

TEST(CobblestoneEncryptorTest, FinalChunkAtTheLastAllowedIndexIsFine) {
  BytesSink sink;
  auto enc = CobblestoneEncryptor::Create(Key(), Context(), sink);
  ASSERT_TRUE(enc.has_value());
  (*enc)->SetNextChunkIndexForTest(kMaxChunks - 1);
  Bytes tail(100, 3);
  ASSERT_TRUE((*enc)->Write(tail).has_value());
  EXPECT_TRUE((*enc)->Finish().has_value());
}

// ------------------------------------------------------------- round trips

TEST(CobblestoneRoundTripTest, EncryptorToDecryptorAtEverySizeEdge) {
  Bytes key = Key(), context = Context();
  for (size_t size : kRoundTripSizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes plaintext = Pattern(size, size);
    Bytes message = Encrypt(key, context, plaintext);
    EXPECT_EQ(message.size(), MessageSize(size));
    Decrypted d = DecryptAll(key, context, message);
    ASSERT_TRUE(d.end.has_value()) << d.end.error().ToString();
    EXPECT_EQ(d.released, plaintext);
  }
}

TEST(CobblestoneRoundTripTest, OddSizedWritesAndReadsGiveIdenticalPlaintext) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(3 * 16384 + 7, 11);
  for (size_t piece : {size_t{1}, size_t{7}, size_t{16385}}) {
    Bytes message = Encrypt(key, context, plaintext, std::nullopt, piece);
    for (size_t read : {size_t{1}, size_t{7}, size_t{16383}, size_t{16384}, size_t{16385}}) {
      SCOPED_TRACE("write " + std::to_string(piece) + " read " + std::to_string(read));
      Decrypted d = DecryptAll(key, context, message, read);
      ASSERT_TRUE(d.end.has_value()) << d.end.error().ToString();
      EXPECT_EQ(d.released, plaintext);
    }
  }
}

TEST(CobblestoneRoundTripTest, DecryptorExposesHeaderAndCountsPlaintext) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(20000, 12);
  Bytes message = Encrypt(key, context, plaintext, FixedSalt());
  ByteViewSource source(message);
  auto dec = CobblestoneDecryptor::Create(key, context, source);
  ASSERT_TRUE(dec.has_value());
  ASSERT_TRUE((*dec)->ReadHeader().has_value());
  ASSERT_TRUE((*dec)->ReadHeader().has_value());  // idempotent
  EXPECT_EQ((*dec)->salt(), FixedSalt());
  EXPECT_TRUE(std::equal((*dec)->stored_commitment().begin(), (*dec)->stored_commitment().end(),
                         message.begin() + kSaltSize));
  Bytes buffer(50000);
  auto n = (*dec)->Read(buffer);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, plaintext.size());
  EXPECT_EQ((*dec)->plaintext_read(), plaintext.size());
  auto end = (*dec)->Read(buffer);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(*end, 0u);
  end = (*dec)->Read(buffer);  // the end stays the end
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(*end, 0u);
}

TEST(CobblestoneRoundTripTest, DecryptorCreateRejectsAKeyThatIsNot32Bytes) {
  Bytes message = Encrypt(Key(), Context(), Pattern(10, 1));
  ByteViewSource source(message);
  Bytes long_key(33, 1);
  EXPECT_TRUE(FailsWith(CobblestoneDecryptor::Create(long_key, Context(), source),
                        ErrorCode::kInvalidArgument));
}

TEST(CobblestoneRoundTripTest, RandomAccessReadsAtEverySizeEdge) {
  Bytes key = Key(), context = Context();
  std::mt19937_64 rng(77);
  for (size_t size : kRoundTripSizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes plaintext = Pattern(size, size + 1);
    Bytes message = Encrypt(key, context, plaintext);
    ByteViewRandomAccessSource source(message);
    auto reader = CobblestoneRandomAccessReader::Create(key, context, source, 0, message.size());
    ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
    ASSERT_EQ((*reader)->plaintext_size(), size);
    Bytes all(size);
    ASSERT_TRUE((*reader)->ReadAt(0, all).has_value());
    EXPECT_EQ(all, plaintext);
    // Edges around every chunk boundary, plus random ranges.
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (uint64_t b = 0; b <= size; b += kChunkSize) {
      for (uint64_t s : {b == 0 ? 0 : b - 1, b}) {
        for (uint64_t len : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{kChunkSize},
                             uint64_t{kChunkSize + 1}}) {
          if (s + len <= size) ranges.emplace_back(s, len);
        }
      }
    }
    for (int i = 0; i < 20 && size > 0; ++i) {
      uint64_t s = rng() % size;
      ranges.emplace_back(s, rng() % (size - s + 1));
    }
    for (auto [start, len] : ranges) {
      Bytes part(len);
      ASSERT_TRUE((*reader)->ReadAt(start, part).has_value()) << start << "+" << len;
      ASSERT_TRUE(std::equal(part.begin(), part.end(), plaintext.begin() + start))
          << start << "+" << len;
    }
  }
}

TEST(CobblestoneRoundTripTest, RandomAccessAtAnOffsetInsideALargerBlob) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(70 * 16384 + 9, 13);  // more than one 64-chunk batch
  Bytes blob = Pattern(1000, 14);
  Bytes message = Encrypt(key, context, plaintext, FixedSalt());
  Append(blob, message);
  Append(blob, Pattern(500, 15));
  ByteViewRandomAccessSource source(blob);
  auto reader = CobblestoneRandomAccessReader::Create(key, context, source, 1000, message.size());
  ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
  Bytes all(plaintext.size());
  ASSERT_TRUE((*reader)->ReadAt(0, all).has_value());
  EXPECT_EQ(all, plaintext);
  Bytes span(3 * 16384);
  ASSERT_TRUE((*reader)->ReadAt(62 * 16384 + 5, span).has_value());
  EXPECT_TRUE(std::equal(span.begin(), span.end(), plaintext.begin() + 62 * 16384 + 5));

  Commitment commitment;
  std::copy_n(message.begin() + kSaltSize, kCommitmentSize, commitment.begin());
  auto known = CobblestoneRandomAccessReader::CreateFromKnownHeader(
      key, context, FixedSalt(), commitment, source, 1000, plaintext.size());
  ASSERT_TRUE(known.has_value()) << known.error().ToString();
  Bytes tail(9);
  ASSERT_TRUE((*known)->ReadAt(70 * 16384, tail).has_value());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), plaintext.begin() + 70 * 16384));
}

TEST(CobblestoneRandomAccessTest, ReadPastTheEndIsOutOfRange) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(20000, 16);
  Bytes message = Encrypt(key, context, plaintext);
  ByteViewRandomAccessSource source(message);
  auto reader = CobblestoneRandomAccessReader::Create(key, context, source, 0, message.size());
  ASSERT_TRUE(reader.has_value());
  Bytes one(1), two(2), none;
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(20000, one), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(19999, two), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(20001, none), ErrorCode::kOutOfRange));
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(UINT64_MAX, one), ErrorCode::kOutOfRange));
  EXPECT_TRUE((*reader)->ReadAt(20000, none).has_value());
}

TEST(CobblestoneRandomAccessTest, CreateRejectsAnImpossibleLength) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(3 * 16384, 17));
  ByteViewRandomAccessSource source(message);
  // Without the empty final chunk: ends exactly at a chunk boundary.
  EXPECT_TRUE(
      FailsWith(CobblestoneRandomAccessReader::Create(key, context, source, 0, message.size() - 16),
                ErrorCode::kDataLoss));
  EXPECT_TRUE(
      FailsWith(CobblestoneRandomAccessReader::Create(key, context, source, 0, message.size() - 1),
                ErrorCode::kDataLoss));
}

TEST(CobblestoneRandomAccessTest, CreateRejectsAMessageLongerThanTheSource) {
  // The claimed length passes the size rule but the blob is shorter: a bad
  // length, so kDataLoss, whether or not the 56-byte header still fits.
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(100, 18));
  for (size_t available : {size_t{0}, size_t{30}, size_t{56}, size_t{100}, message.size() - 1}) {
    ByteViewRandomAccessSource source(ByteView(message).first(available));
    EXPECT_TRUE(
        FailsWith(CobblestoneRandomAccessReader::Create(key, context, source, 0, message.size()),
                  ErrorCode::kDataLoss))
        << available;
  }
  ByteViewRandomAccessSource source(message);
  EXPECT_TRUE(
      FailsWith(CobblestoneRandomAccessReader::Create(key, context, source, 1, message.size()),
                ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(
      CobblestoneRandomAccessReader::Create(key, context, source, UINT64_MAX - 10, message.size()),
      ErrorCode::kDataLoss));
}

TEST(CobblestoneRandomAccessTest, CreateRejectsATruncationThatStillHasAValidLength) {
  // Cutting a whole final chunk plus part of the one before leaves a length
  // the size rule accepts; opening the final chunk catches it.
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(3 * 16384 + 7, 18));
  Bytes cut(message.begin(), message.begin() + ChunkOffset(2) + 23);
  ASSERT_TRUE(PlaintextSizeOfMessage(cut.size()).has_value());
  ByteViewRandomAccessSource source(cut);
  EXPECT_TRUE(FailsWith(CobblestoneRandomAccessReader::Create(key, context, source, 0, cut.size()),
                        ErrorCode::kDataLoss));
}

TEST(CobblestoneRandomAccessTest, CreateFromKnownHeaderRejectsAWrongCommitment) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(100, 19), FixedSalt());
  ByteViewRandomAccessSource source(message);
  Commitment wrong{};
  std::copy_n(message.begin() + kSaltSize, kCommitmentSize, wrong.begin());
  wrong[31] ^= 1;
  EXPECT_TRUE(FailsWith(CobblestoneRandomAccessReader::CreateFromKnownHeader(
                            key, context, FixedSalt(), wrong, source, 0, 100),
                        ErrorCode::kDataLoss));
}

TEST(CobblestoneRandomAccessTest, CreateFromKnownHeaderRejectsAMessagePastTheBlobEnd) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(100, 19), FixedSalt());
  ByteViewRandomAccessSource source(message);
  Commitment c{};
  std::copy_n(message.begin() + kSaltSize, kCommitmentSize, c.begin());
  EXPECT_TRUE(FailsWith(CobblestoneRandomAccessReader::CreateFromKnownHeader(
                            key, context, FixedSalt(), c, source, 0, 101),
                        ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(CobblestoneRandomAccessReader::CreateFromKnownHeader(
                            key, context, FixedSalt(), c, source, 1, 100),
                        ErrorCode::kDataLoss));
}

TEST(CobblestoneRandomAccessTest, CreateFromKnownHeaderRejectsMoreThanTwoToThe38Chunks) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(100, 19), FixedSalt());
  ByteViewRandomAccessSource source(message);
  EXPECT_TRUE(
      FailsWith(CobblestoneRandomAccessReader::CreateFromKnownHeader(
                    key, context, FixedSalt(), Commitment{}, source, 0, kMaxChunks * kChunkSize),
                ErrorCode::kOutOfRange));
}

TEST(CobblestoneRandomAccessTest, BitFlipFailsExactlyTheReadsTouchingThatChunk) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = DistinctPattern(5 * 16384 + 3, 20);
  Bytes message = Encrypt(key, context, plaintext);
  message[ChunkOffset(2) + 777] ^= 0x10;
  ByteViewRandomAccessSource source(message);
  auto reader = CobblestoneRandomAccessReader::Create(key, context, source, 0, message.size());
  ASSERT_TRUE(reader.has_value());
  for (uint64_t chunk = 0; chunk < 6; ++chunk) {
    uint64_t start = chunk * kChunkSize;
    Bytes one(std::min<uint64_t>(10, plaintext.size() - start));
    auto r = (*reader)->ReadAt(start, one);
    if (chunk == 2) {
      EXPECT_TRUE(FailsWith(r, ErrorCode::kDataLoss));
    } else {
      ASSERT_TRUE(r.has_value()) << chunk;
      EXPECT_TRUE(std::equal(one.begin(), one.end(), plaintext.begin() + start));
    }
  }
  // A read of chunks 1..3 whole: chunk 1 is released, chunk 2's region never
  // holds bytes decrypted from the bad chunk.
  Bytes out(3 * kChunkSize, kSentinel);
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(kChunkSize, out), ErrorCode::kDataLoss));
  for (size_t i = kChunkSize; i < 2 * kChunkSize; ++i) {
    ASSERT_NE(out[i], plaintext[kChunkSize + i]) << "unverified byte at " << i;
  }
  // A partial read of the bad chunk leaks nothing either.
  Bytes partial(100, kSentinel);
  EXPECT_TRUE(FailsWith((*reader)->ReadAt(2 * kChunkSize + 50, partial), ErrorCode::kDataLoss));
  for (size_t i = 0; i < partial.size(); ++i) {
    ASSERT_NE(partial[i], plaintext[2 * kChunkSize + 50 + i]) << i;
  }
  // The reader is not poisoned: other chunks still read.
  Bytes last(3);
  ASSERT_TRUE((*reader)->ReadAt(5 * 16384, last).has_value());
}

// ---------------------------------------------------- streaming: negatives

TEST(CobblestoneDecryptorTest, TruncationAtEveryChunkBoundaryIsDataLoss) {
  Bytes key = Key(), context = Context();
  for (size_t size : {size_t{3 * 16384}, size_t{3 * 16384 + 7}}) {
    Bytes plaintext = Pattern(size, 21);
    Bytes message = Encrypt(key, context, plaintext);
    for (uint64_t k = 0; k < ChunkCount(size); ++k) {
      SCOPED_TRACE("size " + std::to_string(size) + ", cut before chunk " + std::to_string(k));
      Bytes cut(message.begin(), message.begin() + ChunkOffset(k));
      Decrypted d = DecryptAll(key, context, cut, kChunkSize);
      EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
      // The chunks before the cut verified and were released, nothing more.
      EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + k * kChunkSize));
    }
  }
}

TEST(CobblestoneDecryptorTest, TruncationExactlyAtAChunkBoundaryIsAMissingFinalChunk) {
  // 3 full chunks and an empty final chunk; dropping the 16-byte final chunk
  // leaves 3 perfect chunks, which must still not count as complete.
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(3 * 16384, 22);
  Bytes message = Encrypt(key, context, plaintext);
  message.resize(message.size() - kTagSize);
  Decrypted d = DecryptAll(key, context, message);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, plaintext);  // every chunk verified, but no clean end
}

TEST(CobblestoneDecryptorTest, TruncationMidChunkIsDataLoss) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(3 * 16384 + 7, 23);
  Bytes message = Encrypt(key, context, plaintext);
  message.resize(ChunkOffset(1) + 5000);
  Decrypted d = DecryptAll(key, context, message, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + kChunkSize));
}

TEST(CobblestoneDecryptorTest, TruncationInsideTheFinalTagIsDataLoss) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(16384 + 7, 24);
  Bytes message = Encrypt(key, context, plaintext);
  for (size_t cut = 1; cut <= 23; ++cut) {
    Bytes shorter(message.begin(), message.end() - cut);
    Decrypted d = DecryptAll(key, context, shorter, kChunkSize);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << cut;
    EXPECT_EQ(d.released.size(), kChunkSize) << cut;
  }
}

TEST(CobblestoneDecryptorTest, TruncationInsideTheHeaderIsDataLoss) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(10, 25));
  for (size_t len : {size_t{0}, size_t{1}, size_t{23}, size_t{24}, size_t{40}, size_t{55}}) {
    Decrypted d = DecryptAll(key, context, ByteView(message).first(len));
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << len;
    EXPECT_TRUE(d.released.empty());
  }
}

TEST(CobblestoneDecryptorTest, OneTrailingByteIsDataLoss) {
  Bytes key = Key(), context = Context();
  for (size_t size : {size_t{0}, size_t{100}, size_t{16384}, size_t{3 * 16384 + 7}}) {
    Bytes message = Encrypt(key, context, Pattern(size, 26));
    message.push_back(0x00);
    Decrypted d = DecryptAll(key, context, message);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << size;
  }
}

TEST(CobblestoneDecryptorTest, AWholeExtraChunkAfterTheFinalChunkIsDataLoss) {
  Bytes key = Key(), context = Context();
  Salt salt = FixedSalt();
  Bytes plaintext = Pattern(3 * 16384 + 7, 27);
  Bytes message = Encrypt(key, context, plaintext, salt);
  // A genuinely sealed chunk 4 under the message's own key.
  auto cipher = ChunkCipher::Derive(key, salt, context);
  ASSERT_TRUE(cipher.has_value());
  Bytes extra_plain = Pattern(kChunkSize, 28), extra(kSealedChunkSize);
  ASSERT_TRUE((*cipher)->SealChunk(4, extra_plain, extra).has_value());
  Append(message, extra);
  Decrypted d = DecryptAll(key, context, message, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_TRUE(IsPrefixOf(d.released, plaintext));
  EXPECT_EQ(d.released.size(), 3 * kChunkSize);
}

TEST(CobblestoneDecryptorTest, SwappedChunksAreDataLoss) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(3 * 16384 + 7, 29);
  Bytes message = Encrypt(key, context, plaintext);
  std::swap_ranges(message.begin() + ChunkOffset(0), message.begin() + ChunkOffset(1),
                   message.begin() + ChunkOffset(1));
  Decrypted d = DecryptAll(key, context, message);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_TRUE(d.released.empty());
}

TEST(CobblestoneDecryptorTest, DuplicatedChunkIsDataLoss) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(3 * 16384 + 7, 30);
  Bytes message = Encrypt(key, context, plaintext);
  // Chunk 0 again in place of chunk 1.
  Bytes replaced = message;
  std::copy(message.begin() + ChunkOffset(0), message.begin() + ChunkOffset(1),
            replaced.begin() + ChunkOffset(1));
  Decrypted d = DecryptAll(key, context, replaced, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + kChunkSize));
  // Chunk 0 inserted a second time.
  Bytes inserted = message;
  inserted.insert(inserted.begin() + ChunkOffset(1), message.begin() + ChunkOffset(0),
                  message.begin() + ChunkOffset(1));
  d = DecryptAll(key, context, inserted, kChunkSize);
  EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_EQ(d.released, Bytes(plaintext.begin(), plaintext.begin() + kChunkSize));
}

TEST(CobblestoneDecryptorTest, FlippedSaltBitFailsTheCommitment) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(1000, 31));
  for (size_t i = 0; i < kSaltSize; ++i) {
    Bytes bad = message;
    bad[i] ^= 0x01;
    CountingSource source(bad);
    Decrypted d = DecryptAll(key, context, source);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << i;
    EXPECT_EQ(source.consumed, kCobblestoneHeaderSize) << "read past the header";
  }
}

TEST(CobblestoneDecryptorTest, FlippedCommitmentBitFailsTheCommitment) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(1000, 32));
  for (size_t i = kSaltSize; i < kCobblestoneHeaderSize; ++i) {
    Bytes bad = message;
    bad[i] ^= 0x80;
    CountingSource source(bad);
    Decrypted d = DecryptAll(key, context, source);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << i;
    EXPECT_EQ(source.consumed, kCobblestoneHeaderSize);
  }
}

TEST(CobblestoneDecryptorTest, FlippedChunkBodyBitIsDataLoss) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(2 * 16384 + 7, 33);
  Bytes message = Encrypt(key, context, plaintext);
  for (size_t at : {ChunkOffset(0), ChunkOffset(1) + 8000, ChunkOffset(2) + 6}) {
    Bytes bad = message;
    bad[at] ^= 0x04;
    Decrypted d = DecryptAll(key, context, bad, kChunkSize);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << at;
    EXPECT_EQ(d.released.size(), (at - kCobblestoneHeaderSize) / kSealedChunkSize * kChunkSize);
    EXPECT_TRUE(IsPrefixOf(d.released, plaintext));
  }
}

TEST(CobblestoneDecryptorTest, FlippedTagBitIsDataLoss) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(2 * 16384 + 7, 34);
  Bytes message = Encrypt(key, context, plaintext);
  for (size_t at :
       {ChunkOffset(1) - 1, ChunkOffset(1) - 16, message.size() - 1, message.size() - 16}) {
    Bytes bad = message;
    bad[at] ^= 0x40;
    Decrypted d = DecryptAll(key, context, bad, kChunkSize);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss)) << at;
    EXPECT_TRUE(IsPrefixOf(d.released, plaintext));
  }
}

TEST(CobblestoneDecryptorTest, WrongKeyFailsTheCommitmentBeforeAnyChunkIsRead) {
  Bytes context = Context();
  Bytes message = Encrypt(Key(1), context, Pattern(3 * 16384, 35));
  CountingSource source(message);
  Decrypted d = DecryptAll(Key(2), context, source);
  ASSERT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
  EXPECT_NE(d.end.error().message().find("commitment"), std::string::npos)
      << d.end.error().message();
  EXPECT_EQ(source.consumed, kCobblestoneHeaderSize);
  EXPECT_TRUE(d.released.empty());
}

TEST(CobblestoneDecryptorTest, WrongContextFailsTheCommitment) {
  Bytes key = Key();
  Bytes message = Encrypt(key, Context(1), Pattern(100, 36));
  Bytes longer = Context(1);
  longer.push_back(0);
  for (const Bytes& context : {Context(2), Bytes{}, longer}) {
    Decrypted d = DecryptAll(key, context, message);
    EXPECT_TRUE(FailsWith(d.end, ErrorCode::kDataLoss));
    EXPECT_TRUE(d.released.empty());
  }
}

// ------------------------------------------------- sticky / verified prefix

TEST(CobblestoneDecryptorTest, ErrorsAreStickyEvenWhenMoreDataArrives) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = Pattern(2 * 16384 + 7, 37);
  Bytes message = Encrypt(key, context, plaintext);
  // The source ends in the middle of chunk 1; later the rest shows up.
  size_t cut = ChunkOffset(1) + 100;
  GrowableSource source(Bytes(message.begin(), message.begin() + cut));
  auto dec = CobblestoneDecryptor::Create(key, context, source);
  ASSERT_TRUE(dec.has_value());
  Bytes buffer(kChunkSize);
  auto first = (*dec)->Read(buffer);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, kChunkSize);
  auto failed = (*dec)->Read(buffer);
  ASSERT_TRUE(FailsWith(failed, ErrorCode::kDataLoss));
  source.Append(ByteView(message).subspan(cut));
  for (int i = 0; i < 3; ++i) {
    auto again = (*dec)->Read(buffer);
    ASSERT_TRUE(FailsWith(again, ErrorCode::kDataLoss));
    EXPECT_EQ(again.error().message(), failed.error().message());
  }
  EXPECT_TRUE(FailsWith((*dec)->ReadHeader(), ErrorCode::kDataLoss));
}

TEST(CobblestoneDecryptorTest, HeaderErrorsAreStickyEvenWhenMoreDataArrives) {
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(100, 38));
  GrowableSource source(Bytes(message.begin(), message.begin() + 30));
  auto dec = CobblestoneDecryptor::Create(key, context, source);
  ASSERT_TRUE(dec.has_value());
  Bytes buffer(1000);
  auto failed = (*dec)->Read(buffer);
  ASSERT_TRUE(FailsWith(failed, ErrorCode::kDataLoss));
  source.Append(ByteView(message).subspan(30));
  auto again = (*dec)->Read(buffer);
  ASSERT_TRUE(FailsWith(again, ErrorCode::kDataLoss));
  EXPECT_EQ(again.error().message(), failed.error().message());
}

TEST(CobblestoneDecryptorTest, SourceErrorsAreSticky) {
  class FlakySource : public ByteSource {
   public:
    explicit FlakySource(ByteView data) : inner_(data) {}
    Result<size_t> Read(MutableByteView out) override {
      if (++calls_ == 2) return Unavailable("connection reset");
      return inner_.Read(out.first(std::min<size_t>(out.size(), 100)));
    }

   private:
    ByteViewSource inner_;
    int calls_ = 0;
  };
  Bytes key = Key(), context = Context();
  Bytes message = Encrypt(key, context, Pattern(1000, 39));
  FlakySource source(message);
  auto dec = CobblestoneDecryptor::Create(key, context, source);
  ASSERT_TRUE(dec.has_value());
  Bytes buffer(2000);
  EXPECT_TRUE(FailsWith((*dec)->Read(buffer), ErrorCode::kUnavailable));
  EXPECT_TRUE(FailsWith((*dec)->Read(buffer), ErrorCode::kUnavailable));
}

TEST(CobblestoneDecryptorTest, NoUnverifiedPlaintextIsReleasedWhateverTheReadSize) {
  Bytes key = Key(), context = Context();
  Bytes plaintext = DistinctPattern(5 * 16384 + 3, 40);
  Bytes message = Encrypt(key, context, plaintext);
  const size_t bad_chunk = 2;
  message[ChunkOffset(bad_chunk) + 1234] ^= 0x08;
  const size_t verified = bad_chunk * kChunkSize;
  for (size_t read_size : {size_t{1}, size_t{7}, size_t{1000}, size_t{16383}, size_t{16384},
                           size_t{16385}, size_t{100000}}) {
    SCOPED_TRACE("read size " + std::to_string(read_size));
    ByteViewSource source(message);
    auto dec = CobblestoneDecryptor::Create(key, context, source);
    ASSERT_TRUE(dec.has_value());
    Bytes released, buffer(read_size);
    Result<size_t> n = 0;
    for (;;) {
      std::fill(buffer.begin(), buffer.end(), kSentinel);
      n = (*dec)->Read(buffer);
      if (!n || *n == 0) break;
      released.insert(released.end(), buffer.begin(), buffer.begin() + *n);
    }
    ASSERT_TRUE(FailsWith(n, ErrorCode::kDataLoss));
    // Released: exactly the chunks before the bad one.
    EXPECT_EQ(released, Bytes(plaintext.begin(), plaintext.begin() + verified));
    // The failing call left no byte of the bad chunk in the caller's buffer.
    for (size_t i = 0; i < buffer.size(); ++i) {
      size_t position = released.size() + i;
      if (position < verified || position >= plaintext.size()) continue;
      ASSERT_NE(buffer[i], plaintext[position]) << "plaintext byte " << position << " leaked";
    }
  }
}

TEST(CobblestoneDecryptorTest, ReadHeaderChecksTheCommitmentWithoutReadingChunks) {
  Bytes context = Context();
  Bytes message = Encrypt(Key(1), context, Pattern(50000, 41));
  CountingSource good_source(message);
  auto good = CobblestoneDecryptor::Create(Key(1), context, good_source);
  ASSERT_TRUE(good.has_value());
  EXPECT_TRUE((*good)->ReadHeader().has_value());
  EXPECT_EQ(good_source.consumed, kCobblestoneHeaderSize);
  CountingSource bad_source(message);
  auto bad = CobblestoneDecryptor::Create(Key(2), context, bad_source);
  ASSERT_TRUE(bad.has_value());
  EXPECT_TRUE(FailsWith((*bad)->ReadHeader(), ErrorCode::kDataLoss));
  EXPECT_EQ(bad_source.consumed, kCobblestoneHeaderSize);
  Bytes buffer(10);
  EXPECT_TRUE(FailsWith((*bad)->Read(buffer), ErrorCode::kDataLoss));
}

}  // namespace
}  // namespace strongroom::format
