// SPDX-License-Identifier: Apache-2.0
// Manifests (docs/FORMAT.md §5, §8 rule 7): the byte layout and MAC against
// an independent encoder, the entry rules, and rejection of every modified,
// moved or malformed manifest.

#include "format/manifest.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/error.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "format/format_test_util.h"

namespace strongroom::format {
namespace {

// ------------------------------------------------------------------ helpers




StreamInfo Entry(uint32_t part, uint64_t size) {
  StreamInfo s;
  s.part_number = part;
  s.plaintext_size = size;
  Bytes salt = Pattern(kSaltSize, 300 + part), commitment = Pattern(kCommitmentSize, 400 + part);
  std::copy(salt.begin(), salt.end(), s.salt.begin());
  std::copy(commitment.begin(), commitment.end(), s.commitment.begin());
  return s;
}

const Binding kBinding{"photos", "2026/11/cat.jpg"};

Manifest SinglePart(uint64_t size = 12345) {
  Manifest m;
  m.object_id = Id();
  m.streams = {Entry(0, size)};
  m.binding = kBinding;
  return m;
}

Manifest MultiPart() {
  Manifest m;
  m.object_id = Id();
  m.streams = {Entry(1, 5 * 16384 + 3), Entry(2, 0), Entry(3, 16384), Entry(7, 100)};
  m.binding = kBinding;
  return m;
}

// An encoder written from FORMAT.md §5, independent of manifest.cc.
Bytes RawBinding(std::string_view bucket, std::string_view key) {
  Bytes out;
  AppendBe16(out, static_cast<uint16_t>(bucket.size()));
  Append(out, AsBytes(bucket));
  AppendBe16(out, static_cast<uint16_t>(key.size()));
  Append(out, AsBytes(key));
  return out;
}

struct RawManifest {
  Bytes magic = {'S', 'R', 'M', 'F'};
  uint8_t version = 0x01;
  uint8_t suite = 0x01;
  uint16_t flags = 0;
  ObjectId object_id = Id();
  std::optional<uint64_t> total;  // default: the sum
  std::optional<uint32_t> count;  // default: entries.size()
  std::vector<StreamInfo> entries = {Entry(0, 12345)};
  Bytes binding = RawBinding(kBinding.bucket, kBinding.object_key);

  Bytes Body() const {
    Bytes out = magic;
    out.push_back(version);
    out.push_back(suite);
    AppendBe16(out, flags);
    Append(out, object_id);
    uint64_t sum = 0;
    for (const auto& e : entries) sum += e.plaintext_size;
    AppendBe64(out, total.value_or(sum));
    AppendBe32(out, count.value_or(static_cast<uint32_t>(entries.size())));
    for (const auto& e : entries) {
      AppendBe32(out, e.part_number);
      AppendBe64(out, e.plaintext_size);
      Append(out, e.salt);
      Append(out, e.commitment);
    }
    AppendBe16(out, static_cast<uint16_t>(binding.size()));
    Append(out, binding);
    return out;
  }
};

// tag = HMAC-SHA-256(HKDF-Expand-SHA-512(DEK, label ‖ 0 ‖ object_id, 32), body)
Bytes WithTag(Bytes body, ByteView dek, const ObjectId& object_id) {
  std::string label = "strongroom/v1/manifest-mac";
  Bytes info(label.begin(), label.end());
  info.push_back(0x00);
  Append(info, object_id);
  auto key = crypto::HkdfSha512Expand(dek, info, 32);
  EXPECT_TRUE(key.has_value());
  auto tag = crypto::HmacSha256::Compute(key->reveal(), body);
  EXPECT_TRUE(tag.has_value());
  Append(body, *tag);
  return body;
}

Bytes Sealed(const Manifest& m, ByteView dek) {
  auto sealed = SealManifest(m, dek);
  EXPECT_TRUE(sealed.has_value()) << (sealed ? "" : sealed.error().ToString());
  return sealed.value_or(Bytes{});
}

void ExpectSameManifest(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.object_id, b.object_id);
  EXPECT_EQ(a.binding, b.binding);
  ASSERT_EQ(a.streams.size(), b.streams.size());
  for (size_t i = 0; i < a.streams.size(); ++i) {
    EXPECT_EQ(a.streams[i].part_number, b.streams[i].part_number);
    EXPECT_EQ(a.streams[i].plaintext_size, b.streams[i].plaintext_size);
    EXPECT_EQ(a.streams[i].salt, b.streams[i].salt);
    EXPECT_EQ(a.streams[i].commitment, b.streams[i].commitment);
  }
}

// ------------------------------------------------------------------ binding

TEST(BindingTest, EncodingIsLengthPrefixedBucketThenKey) {
  auto encoded = EncodeBinding(Binding{"ab", "c/d"});
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(*encoded, (Bytes{0, 2, 'a', 'b', 0, 3, 'c', '/', 'd'}));
  auto empty = EncodeBinding(Binding{});
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, (Bytes{0, 0, 0, 0}));
}

TEST(BindingTest, EncodingRejectsFieldsLongerThan65535Bytes) {
  EXPECT_TRUE(EncodeBinding(Binding{std::string(65535, 'b'), ""}).has_value());
  EXPECT_TRUE(
      FailsWith(EncodeBinding(Binding{std::string(65536, 'b'), "k"}), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      FailsWith(EncodeBinding(Binding{"b", std::string(65536, 'k')}), ErrorCode::kInvalidArgument));
}

// ----------------------------------------------------------- seal & layout

TEST(ManifestTest, SizesAddUp) {
  Manifest m = MultiPart();
  EXPECT_EQ(m.plaintext_size(), 5u * 16384 + 3 + 0 + 16384 + 100);
  EXPECT_EQ(m.blob_size(),
            StreamSize(5 * 16384 + 3) + StreamSize(0) + StreamSize(16384) + StreamSize(100));
}

TEST(ManifestTest, SealedBytesMatchAnIndependentEncoding) {
  Manifest m = MultiPart();
  RawManifest raw;
  raw.entries = m.streams;
  Bytes expected = WithTag(raw.Body(), Dek(), m.object_id);
  EXPECT_EQ(Sealed(m, Dek()), expected);
}

TEST(ManifestTest, SealedSizeIs38Plus68NPlusBPlus32) {
  Manifest m = MultiPart();
  size_t b = 4 + kBinding.bucket.size() + kBinding.object_key.size();
  EXPECT_EQ(Sealed(m, Dek()).size(), 38 + 68 * 4 + b + 32);
  Manifest file;
  file.object_id = Id();
  file.streams = {Entry(0, 99)};
  EXPECT_EQ(Sealed(file, Dek()).size(), 142u);  // a file container's trailer
}

TEST(ManifestTest, SealOpenRoundTripSinglePart) {
  Manifest m = SinglePart();
  auto opened = OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, kBinding);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  ExpectSameManifest(*opened, m);
}

TEST(ManifestTest, SealOpenRoundTripMultipart) {
  Manifest m = MultiPart();
  auto opened = OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, kBinding);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  ExpectSameManifest(*opened, m);
  EXPECT_EQ(opened->plaintext_size(), m.plaintext_size());
}

TEST(ManifestTest, SealOpenRoundTripWith10000Parts) {
  Manifest m;
  m.object_id = Id();
  StreamInfo e = Entry(1, 5u << 20);
  for (uint32_t part = 1; part <= 10000; ++part) {
    e.part_number = part;
    m.streams.push_back(e);
  }
  Bytes sealed = Sealed(m, Dek());
  EXPECT_EQ(sealed.size(), 38u + 68 * 10000 + 4 + 32);
  auto opened = OpenManifest(sealed, Dek(), m.object_id, Binding{});
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  EXPECT_EQ(opened->streams.size(), 10000u);
  EXPECT_EQ(opened->plaintext_size(), 10000 * (uint64_t{5} << 20));
}

TEST(ManifestTest, GapsInPartNumbersAreAllowed) {
  Manifest m;
  m.object_id = Id();
  m.streams = {Entry(1, 1), Entry(3, 1), Entry(10000, 1)};
  auto opened = OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, Binding{});
  EXPECT_TRUE(opened.has_value());
}

TEST(ManifestTest, ParseManifestUnverifiedNeedsNoKey) {
  Manifest m = MultiPart();
  auto parsed = ParseManifestUnverified(Sealed(m, Dek()));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  ExpectSameManifest(*parsed, m);
}

// ------------------------------------------------------- seal: entry rules

TEST(ManifestSealTest, RejectsNoEntries) {
  Manifest m = SinglePart();
  m.streams.clear();
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
}

TEST(ManifestSealTest, RejectsRepeatedPartNumbers) {
  Manifest m = MultiPart();
  m.streams = {Entry(1, 1), Entry(2, 1), Entry(2, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
}

TEST(ManifestSealTest, RejectsDecreasingPartNumbers) {
  Manifest m = MultiPart();
  m.streams = {Entry(1, 1), Entry(3, 1), Entry(2, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
}

TEST(ManifestSealTest, RejectsPartZeroMixedWithParts) {
  Manifest m = MultiPart();
  m.streams = {Entry(0, 1), Entry(1, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
  m.streams = {Entry(1, 1), Entry(0, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
  m.streams = {Entry(0, 1), Entry(0, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
}

TEST(ManifestSealTest, RejectsPartNumbersAbove10000) {
  Manifest m = MultiPart();
  m.streams = {Entry(10001, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
  m.streams = {Entry(1, 1), Entry(10001, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
  m.streams = {Entry(UINT32_MAX, 1)};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
}

TEST(ManifestSealTest, RejectsMoreThan10000Entries) {
  Manifest m;
  m.object_id = Id();
  for (uint32_t i = 0; i < 10001; ++i) m.streams.push_back(Entry(i + 1, 1));
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
}

TEST(ManifestSealTest, RejectsADekThatIsNot32Bytes) {
  Bytes dek(31, 1);
  EXPECT_TRUE(FailsWith(SealManifest(SinglePart(), dek), ErrorCode::kInvalidArgument));
}

TEST(ManifestSealTest, RejectsABindingLongerThan65535Bytes) {
  Manifest m = SinglePart();
  m.binding = Binding{std::string(40000, 'b'), std::string(40000, 'k')};
  EXPECT_TRUE(FailsWith(SealManifest(m, Dek()), ErrorCode::kInvalidArgument));
}

// ------------------------------------------------- open: wrong expectations

TEST(ManifestOpenTest, WrongDekIsDataLoss) {
  Manifest m = SinglePart();
  EXPECT_TRUE(FailsWith(OpenManifest(Sealed(m, Dek(1)), Dek(2), m.object_id, kBinding),
                        ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, DekThatIsNot32BytesIsInvalidArgument) {
  Manifest m = SinglePart();
  Bytes dek(16, 1);
  EXPECT_TRUE(FailsWith(OpenManifest(Sealed(m, Dek()), dek, m.object_id, kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, WrongObjectIdIsDataLoss) {
  Manifest m = SinglePart();
  EXPECT_TRUE(
      FailsWith(OpenManifest(Sealed(m, Dek()), Dek(), Id(2), kBinding), ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, ObjectIdMismatchIsDataLossEvenWithAValidTag) {
  // A manifest MAC'd under the expected id's key but naming another id.
  RawManifest raw;
  raw.object_id = Id(2);
  Bytes forged = WithTag(raw.Body(), Dek(), Id(1));
  EXPECT_TRUE(FailsWith(OpenManifest(forged, Dek(), Id(1), kBinding), ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, OtherBucketIsDataLoss) {
  Manifest m = SinglePart();
  EXPECT_TRUE(FailsWith(
      OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, Binding{"videos", kBinding.object_key}),
      ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, OtherObjectKeyIsDataLoss) {
  Manifest m = SinglePart();
  EXPECT_TRUE(FailsWith(
      OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, Binding{kBinding.bucket, "dog.jpg"}),
      ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, BindingBoundaryShiftIsDataLoss) {
  // ("ab", "c") and ("a", "bc") must not be confused.
  Manifest m = SinglePart();
  m.binding = Binding{"ab", "c"};
  EXPECT_TRUE(FailsWith(OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, Binding{"a", "bc"}),
                        ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, EmptyBindingIsNotAnyBinding) {
  Manifest m = SinglePart();
  m.binding = Binding{};
  EXPECT_TRUE(FailsWith(OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, kBinding),
                        ErrorCode::kDataLoss));
  m.binding = kBinding;
  EXPECT_TRUE(FailsWith(OpenManifest(Sealed(m, Dek()), Dek(), m.object_id, Binding{}),
                        ErrorCode::kDataLoss));
}

// --------------------------------------------------- open: modified bytes

TEST(ManifestOpenTest, EveryFlippedBitOfASinglePartManifestIsRejected) {
  Manifest m = SinglePart();
  Bytes sealed = Sealed(m, Dek());
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = sealed;
      bad[i] ^= static_cast<uint8_t>(1 << bit);
      auto opened = OpenManifest(bad, Dek(), m.object_id, kBinding);
      ASSERT_FALSE(opened.has_value()) << "byte " << i << " bit " << bit;
      ErrorCode code = opened.error().code();
      EXPECT_TRUE(code == ErrorCode::kDataLoss || code == ErrorCode::kInvalidArgument)
          << opened.error().ToString();
    }
  }
}

TEST(ManifestOpenTest, EveryFlippedByteOfAMultipartManifestIsRejected) {
  Manifest m = MultiPart();
  Bytes sealed = Sealed(m, Dek());
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (uint8_t mask : {0x01, 0xFF}) {
      Bytes bad = sealed;
      bad[i] ^= mask;
      auto opened = OpenManifest(bad, Dek(), m.object_id, kBinding);
      ASSERT_FALSE(opened.has_value()) << "byte " << i << " mask " << int{mask};
    }
  }
}

TEST(ManifestOpenTest, FlippedEntryOrTagIsDataLoss) {
  Manifest m = MultiPart();
  Bytes sealed = Sealed(m, Dek());
  // Salt of entry 1, commitment of entry 3, and the tag: structurally fine,
  // so only the MAC can catch them.
  for (size_t at :
       {size_t{36 + 68 + 12}, size_t{36 + 3 * 68 + 40}, sealed.size() - 1, sealed.size() - 32}) {
    Bytes bad = sealed;
    bad[at] ^= 0x01;
    EXPECT_TRUE(FailsWith(OpenManifest(bad, Dek(), m.object_id, kBinding), ErrorCode::kDataLoss))
        << at;
  }
}

TEST(ManifestOpenTest, BytesAfterTheTagAreRejected) {
  Manifest m = SinglePart();
  for (size_t extra : {1, 32}) {
    Bytes bad = Sealed(m, Dek());
    bad.insert(bad.end(), extra, 0);
    EXPECT_TRUE(
        FailsWith(OpenManifest(bad, Dek(), m.object_id, kBinding), ErrorCode::kInvalidArgument))
        << extra;
    EXPECT_TRUE(FailsWith(ParseManifestUnverified(bad), ErrorCode::kInvalidArgument));
  }
}

TEST(ManifestOpenTest, EveryTruncationIsRejected) {
  Manifest m = MultiPart();
  Bytes sealed = Sealed(m, Dek());
  for (size_t len = 0; len < sealed.size(); ++len) {
    auto opened = OpenManifest(ByteView(sealed).first(len), Dek(), m.object_id, kBinding);
    ASSERT_TRUE(FailsWith(opened, ErrorCode::kInvalidArgument)) << len;
  }
}

// ------------------------- open: rule violations under a valid tag (forged
// with the DEK, so only the structural checks can catch them)

TEST(ManifestOpenTest, ValidTagButBadMagicIsInvalidArgument) {
  RawManifest raw;
  raw.magic = {'S', 'R', 'M', 'X'};
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButUnknownVersionIsInvalidArgument) {
  RawManifest raw;
  raw.version = 0x02;
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButUnknownSuiteIsInvalidArgument) {
  for (uint8_t suite : {0x00, 0x02}) {
    RawManifest raw;
    raw.suite = suite;
    EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                          ErrorCode::kInvalidArgument));
  }
}

TEST(ManifestOpenTest, ValidTagButNonZeroFlagsIsInvalidArgument) {
  for (uint16_t flags : {0x0001, 0x8000}) {
    RawManifest raw;
    raw.flags = flags;
    EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                          ErrorCode::kInvalidArgument));
  }
}

TEST(ManifestOpenTest, ValidTagButWrongTotalIsDataLoss) {
  RawManifest raw;
  raw.entries = MultiPart().streams;
  raw.total = MultiPart().plaintext_size() + 1;
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, ValidTagButOverflowingSizesIsDataLoss) {
  RawManifest raw;
  raw.entries = {Entry(1, UINT64_MAX), Entry(2, 2)};
  raw.total = 1;  // what the sum wraps to
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kDataLoss));
}

TEST(ManifestOpenTest, ValidTagButZeroEntriesIsInvalidArgument) {
  RawManifest raw;
  raw.entries.clear();
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButCountAbove10000IsInvalidArgument) {
  RawManifest raw;
  raw.count = 10001;
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButCountLargerThanTheEntriesIsInvalidArgument) {
  RawManifest raw;
  raw.count = 2;  // one entry present
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButPartNumbersNotIncreasingIsInvalidArgument) {
  RawManifest raw;
  raw.entries = {Entry(2, 1), Entry(1, 1)};
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
  raw.entries = {Entry(4, 1), Entry(4, 1)};
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButPartZeroMixedWithPartsIsInvalidArgument) {
  RawManifest raw;
  raw.entries = {Entry(0, 1), Entry(1, 1)};
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButPartAbove10000IsInvalidArgument) {
  RawManifest raw;
  raw.entries = {Entry(1, 1), Entry(10001, 1)};
  EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), kBinding),
                        ErrorCode::kInvalidArgument));
}

TEST(ManifestOpenTest, ValidTagButMalformedBindingIsInvalidArgument) {
  // Inner lengths that overrun, underrun, or leave bytes over.
  for (Bytes binding :
       {Bytes{0, 5, 'a'}, Bytes{0, 1, 'a', 0, 1}, Bytes{0, 0, 0, 0, 0}, Bytes{0}, Bytes{}}) {
    RawManifest raw;
    raw.binding = binding;
    EXPECT_TRUE(FailsWith(OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), Binding{}),
                          ErrorCode::kInvalidArgument))
        << HexEncode(binding);
  }
}

TEST(ManifestOpenTest, IndependentlyEncodedManifestOpens) {
  RawManifest raw;
  raw.entries = {Entry(2, 7), Entry(9, 0)};
  raw.binding = RawBinding("b", "k");
  auto opened = OpenManifest(WithTag(raw.Body(), Dek(), Id()), Dek(), Id(), Binding{"b", "k"});
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  EXPECT_EQ(opened->streams.size(), 2u);
  EXPECT_EQ(opened->plaintext_size(), 7u);
}

}  // namespace
}  // namespace strongroom::format
