// SPDX-License-Identifier: Apache-2.0
// Sealed attributes and derived ETags (docs/FORMAT.md §13, §14): the box
// against an independent computation, its bindings, and the ETag formula.

#include "format/object_metadata.h"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "crypto/aes_gcm.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "testing/test_util.h"

namespace strongroom::format {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::Pattern;

Bytes Dek(uint64_t seed = 1) { return Pattern(32, 700 + seed); }
ObjectId Id(uint64_t seed = 1) {
  ObjectId id;
  Bytes b = Pattern(kObjectIdSize, 800 + seed);
  std::copy(b.begin(), b.end(), id.begin());
  return id;
}
const Binding kBinding{"photos", "2026/11/cat.jpg"};
const Bytes kAttributes = Pattern(300, 5);

Bytes ToBytes(const crypto::SecretBytes& secret) {
  return Bytes(secret.reveal().begin(), secret.reveal().end());
}

TEST(SealedAttributesTest, RoundTripForTheObjectAndForParts) {
  for (uint32_t part : {0u, 1u, 10000u}) {
    auto sealed = SealAttributes(Dek(), Id(), kBinding, part, kAttributes);
    ASSERT_TRUE(sealed.has_value()) << sealed.error().ToString();
    EXPECT_EQ(sealed->size(), kAttributes.size() + 49);
    auto opened = OpenAttributes(Dek(), Id(), kBinding, part, *sealed);
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    EXPECT_EQ(ToBytes(*opened), kAttributes);
  }
}

TEST(SealedAttributesTest, MatchesAnIndependentComputation) {
  // box = 0x01 ‖ salt ‖ AES-256-GCM(K, 0^12, plaintext, aad), K from
  // HKDF-SHA-512(DEK, salt, "strongroom/v1/sealed-box" ‖ 0x00 ‖ purpose).
  for (uint32_t part : {0u, 7u}) {
    auto sealed = SealAttributes(Dek(), Id(), Binding{"b", "kk"}, part, kAttributes);
    ASSERT_TRUE(sealed.has_value());
    ASSERT_EQ((*sealed)[0], 0x01);
    ByteView salt = ByteView(*sealed).subspan(1, 32);
    std::string label = std::string("strongroom/v1/sealed-box") + '\0' +
                        (part == 0 ? "strongroom/v1/object-attributes"
                                   : "strongroom/v1/part-attributes");
    auto key = crypto::HkdfSha512(Dek(), salt, AsBytes(label), 32);
    ASSERT_TRUE(key.has_value());
    ObjectId id = Id();
    Bytes aad(id.begin(), id.end());
    Append(aad, Bytes{0, 1, 'b', 0, 2, 'k', 'k'});
    if (part != 0) Append(aad, Bytes{0, 0, 0, 7});
    auto aead = crypto::AesGcm256::Create(key->reveal());
    ASSERT_TRUE(aead.has_value());
    uint8_t zero_nonce[12] = {};
    Bytes plain(kAttributes.size());
    ASSERT_TRUE((*aead)->Open(zero_nonce, aad, ByteView(*sealed).subspan(33), plain).has_value())
        << "part " << part;
    EXPECT_EQ(plain, kAttributes);
  }
}

TEST(SealedAttributesTest, EveryBindingIsChecked) {
  auto sealed = SealAttributes(Dek(), Id(), kBinding, 0, kAttributes);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_TRUE(FailsWith(OpenAttributes(Dek(2), Id(), kBinding, 0, *sealed), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(2), kBinding, 0, *sealed), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(), Binding{"photos", "dog.jpg"}, 0, *sealed),
                        ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(), Binding{"videos", kBinding.object_key}, 0,
                                       *sealed),
                        ErrorCode::kDataLoss));
  // An object box is not a part box, and parts are not interchangeable.
  EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(), kBinding, 1, *sealed), ErrorCode::kDataLoss));
  auto part3 = SealAttributes(Dek(), Id(), kBinding, 3, kAttributes);
  ASSERT_TRUE(part3.has_value());
  EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(), kBinding, 4, *part3), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(), kBinding, 0, *part3), ErrorCode::kDataLoss));
}

TEST(SealedAttributesTest, EveryFlippedByteAndEveryTruncationIsDataLoss) {
  auto sealed = SealAttributes(Dek(), Id(), kBinding, 0, AsBytes("Content-Type"));
  ASSERT_TRUE(sealed.has_value());
  for (size_t i = 0; i < sealed->size(); ++i) {
    Bytes bad = *sealed;
    bad[i] ^= 0x01;
    EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(), kBinding, 0, bad), ErrorCode::kDataLoss))
        << i;
  }
  for (size_t n = 0; n < sealed->size(); ++n) {
    EXPECT_TRUE(FailsWith(OpenAttributes(Dek(), Id(), kBinding, 0, ByteView(*sealed).first(n)),
                          ErrorCode::kDataLoss))
        << n;
  }
}

TEST(SealedAttributesTest, BadArgumentsAreRejected) {
  EXPECT_TRUE(FailsWith(SealAttributes(Pattern(31, 1), Id(), kBinding, 0, kAttributes),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(SealAttributes(Dek(), Id(), kBinding, 10001, kAttributes),
                        ErrorCode::kInvalidArgument));
}

TEST(SealedAttributesTest, EverySealUsesAFreshSalt) {
  auto a = SealAttributes(Dek(), Id(), kBinding, 0, kAttributes);
  auto b = SealAttributes(Dek(), Id(), kBinding, 0, kAttributes);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

TEST(DerivedEtagTest, MatchesAnIndependentComputation) {
  Bytes md5 = Pattern(16, 9);
  auto etag = DeriveEtag(Dek(), Id(), md5);
  ASSERT_TRUE(etag.has_value()) << etag.error().ToString();
  ASSERT_EQ(etag->size(), 16u);
  std::string label = std::string("strongroom/v1/etag") + '\0';
  Bytes info(label.begin(), label.end());
  Append(info, Id());
  auto key = crypto::HkdfSha512Expand(Dek(), info, 32);
  ASSERT_TRUE(key.has_value());
  auto tag = crypto::HmacSha256::Compute(key->reveal(), md5);
  ASSERT_TRUE(tag.has_value());
  EXPECT_EQ(*etag, Bytes(tag->begin(), tag->begin() + 16));
}

TEST(DerivedEtagTest, DependsOnTheDekTheObjectIdAndTheMd5) {
  Bytes md5 = Pattern(16, 9);
  auto base = DeriveEtag(Dek(), Id(), md5);
  ASSERT_TRUE(base.has_value());
  EXPECT_EQ(*DeriveEtag(Dek(), Id(), md5), *base);  // deterministic
  EXPECT_NE(*DeriveEtag(Dek(2), Id(), md5), *base);
  EXPECT_NE(*DeriveEtag(Dek(), Id(2), md5), *base);
  EXPECT_NE(*DeriveEtag(Dek(), Id(), Pattern(16, 10)), *base);
  EXPECT_NE(*base, md5);
  EXPECT_TRUE(FailsWith(DeriveEtag(Dek(), Id(), Pattern(15, 1)), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(DeriveEtag(Pattern(16, 1), Id(), md5), ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace strongroom::format
