// SPDX-License-Identifier: Apache-2.0
// Unit tests for the primitives in src/crypto. Known-answer tests against the
// published vectors live in wycheproof_primitives_test.cc; these cover the
// wrappers' own contracts (sizes, errors, wiping, reuse) and a few RFC/NIST
// known answers that are small enough to hard-code.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/bytes.h"
#include "base/error.h"
#include "base/result.h"
#include "crypto/aes_gcm.h"
#include "crypto/argon2id.h"
#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "testing/testdata.h"

namespace strongroom::crypto {
namespace {

using ::strongroom::testing::Hex;

// Succeeds iff `result` holds an error with `code`.
template <typename T>
::testing::AssertionResult IsError(const Result<T>& result, ErrorCode code) {
  if (result.has_value()) {
    return ::testing::AssertionFailure()
           << "succeeded, expected error '" << ErrorCodeName(code) << "'";
  }
  if (result.error().code() != code) {
    return ::testing::AssertionFailure() << "failed with '" << result.error().ToString()
                                         << "', expected '" << ErrorCodeName(code) << "'";
  }
  return ::testing::AssertionSuccess();
}

bool AllZero(ByteView data) {
  return std::all_of(data.begin(), data.end(), [](uint8_t b) { return b == 0; });
}

Bytes ToBytes(std::string_view s) {
  ByteView view = AsBytes(s);
  return Bytes(view.begin(), view.end());
}

Bytes Sequence(size_t size, uint8_t start = 0) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(start + i);
  return out;
}

// ---------------------------------------------------------------------------
// SecretBytes

TEST(SecretBytesTest, DefaultIsEmpty) {
  SecretBytes secret;
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.size(), 0u);
  EXPECT_TRUE(secret.reveal().empty());
  EXPECT_FALSE(secret.locked());
}

TEST(SecretBytesTest, SizedConstructorZeroFills) {
  SecretBytes secret(48);
  EXPECT_FALSE(secret.empty());
  EXPECT_EQ(secret.size(), 48u);
  EXPECT_EQ(secret.reveal().size(), 48u);
  EXPECT_TRUE(AllZero(secret.reveal()));
}

TEST(SecretBytesTest, CopyFromCopies) {
  Bytes source = Sequence(32, 1);
  SecretBytes secret = SecretBytes::CopyFrom(source);
  ASSERT_EQ(secret.size(), source.size());
  EXPECT_EQ(HexEncode(secret.reveal()), HexEncode(source));
  EXPECT_NE(secret.reveal().data(), source.data());
  // The secret owns its bytes: changing or wiping the source leaves it alone.
  const std::string before = HexEncode(source);
  Cleanse(source);
  EXPECT_TRUE(AllZero(source));
  EXPECT_EQ(HexEncode(secret.reveal()), before);
}

TEST(SecretBytesTest, CopyFromEmpty) {
  SecretBytes secret = SecretBytes::CopyFrom({});
  EXPECT_TRUE(secret.empty());
  EXPECT_TRUE(secret.reveal().empty());
}

TEST(SecretBytesTest, MutableRevealWritesThrough) {
  SecretBytes secret(4);
  MutableByteView bytes = secret.mutable_reveal();
  ASSERT_EQ(bytes.size(), 4u);
  bytes[0] = 0xde;
  bytes[3] = 0xef;
  EXPECT_EQ(HexEncode(secret.reveal()), "de0000ef");
}

TEST(SecretBytesTest, MoveConstructionEmptiesSource) {
  const Bytes data = Sequence(24, 7);
  SecretBytes source = SecretBytes::CopyFrom(data);
  const uint8_t* storage = source.reveal().data();
  SecretBytes moved(std::move(source));
  EXPECT_EQ(moved.size(), data.size());
  EXPECT_EQ(HexEncode(moved.reveal()), HexEncode(data));
  EXPECT_EQ(moved.reveal().data(), storage) << "a move must not copy the secret";
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is the contract.
  EXPECT_TRUE(source.empty());
  EXPECT_EQ(source.size(), 0u);
  EXPECT_TRUE(source.reveal().empty());
  EXPECT_FALSE(source.locked());
}

TEST(SecretBytesTest, MoveAssignmentReplacesAndEmptiesSource) {
  const Bytes data = Sequence(16, 100);
  SecretBytes source = SecretBytes::CopyFrom(data);
  SecretBytes target = SecretBytes::CopyFrom(Sequence(40, 200));
  target = std::move(source);
  EXPECT_EQ(target.size(), data.size());
  EXPECT_EQ(HexEncode(target.reveal()), HexEncode(data));
  // NOLINTNEXTLINE(bugprone-use-after-move): the moved-from state is the contract.
  EXPECT_TRUE(source.empty());
  EXPECT_TRUE(source.reveal().empty());
  // A moved-from secret can be assigned again.
  source = SecretBytes::CopyFrom(Sequence(3));
  EXPECT_EQ(HexEncode(source.reveal()), "000102");
}

TEST(SecretBytesTest, CleanseZeroes) {
  Bytes data = Sequence(33, 1);
  Cleanse(data);
  EXPECT_EQ(data.size(), 33u);
  EXPECT_TRUE(AllZero(data));
  Cleanse({});  // must not crash on an empty view
}

// ---------------------------------------------------------------------------
// ConstantTimeEquals

TEST(ConstantTimeEqualsTest, Equal) {
  const Bytes a = Sequence(32);
  const Bytes b = Sequence(32);
  EXPECT_TRUE(ConstantTimeEquals(a, b));
  EXPECT_TRUE(ConstantTimeEquals(a, a));
}

TEST(ConstantTimeEqualsTest, DifferentLength) {
  const Bytes a = Sequence(32);
  EXPECT_FALSE(ConstantTimeEquals(a, ByteView(a).first(31)));
  EXPECT_FALSE(ConstantTimeEquals(ByteView(a).first(31), a));
  EXPECT_FALSE(ConstantTimeEquals(a, {}));
  EXPECT_FALSE(ConstantTimeEquals({}, a));
}

TEST(ConstantTimeEqualsTest, DifferentContent) {
  const Bytes a = Sequence(32);
  for (size_t i : {size_t{0}, size_t{15}, size_t{31}}) {
    Bytes b = a;
    b[i] ^= 0x01;
    EXPECT_FALSE(ConstantTimeEquals(a, b)) << "differs at byte " << i;
    b[i] ^= 0x81;  // now differs only in the top bit
    EXPECT_FALSE(ConstantTimeEquals(a, b)) << "differs at byte " << i;
  }
}

TEST(ConstantTimeEqualsTest, Empty) {
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
  const Bytes a = Sequence(4);
  EXPECT_TRUE(ConstantTimeEquals(ByteView(a).first(0), ByteView(a).last(0)));
}

// ---------------------------------------------------------------------------
// Random

TEST(RandomTest, RandomBytesHasRequestedSize) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{32}, size_t{1000}}) {
    auto bytes = RandomBytes(size);
    ASSERT_TRUE(bytes.has_value()) << bytes.error().ToString();
    EXPECT_EQ(bytes->size(), size);
  }
}

TEST(RandomTest, TwoDrawsDiffer) {
  // A collision of two 32-byte draws has probability 2^-256.
  auto a = RandomBytes(32);
  auto b = RandomBytes(32);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_NE(*a, *b);
  EXPECT_FALSE(AllZero(*a));
  EXPECT_FALSE(AllZero(*b));
}

TEST(RandomTest, RandomFillOverwritesWholeBuffer) {
  // Each 64-byte half stays all-zero with probability 2^-512.
  Bytes buffer(128, 0);
  ASSERT_TRUE(RandomFill(buffer).has_value());
  EXPECT_FALSE(AllZero(ByteView(buffer).first(64)));
  EXPECT_FALSE(AllZero(ByteView(buffer).last(64)));
  ASSERT_TRUE(RandomFill({}).has_value());
}

TEST(RandomTest, RandomSecret) {
  auto a = RandomSecret(32);
  auto b = RandomSecret(32);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_FALSE(AllZero(a->reveal()));
  EXPECT_FALSE(ConstantTimeEquals(a->reveal(), b->reveal()));
}

// ---------------------------------------------------------------------------
// AesGcm256

class AesGcm256Test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto created = AesGcm256::Create(key_);
    ASSERT_TRUE(created.has_value()) << created.error().ToString();
    aead_ = std::move(*created);
  }

  Bytes Seal(ByteView nonce, ByteView aad, ByteView plaintext) {
    Bytes out(plaintext.size() + AesGcm256::kTagSize);
    Result<void> sealed = aead_->Seal(nonce, aad, plaintext, out);
    EXPECT_TRUE(sealed.has_value()) << sealed.error().ToString();
    return out;
  }

  // Opens `sealed` into a buffer pre-filled with a non-zero pattern and
  // checks that it fails with kDataLoss and leaves the buffer all zeros.
  void ExpectOpenFailsAndWipes(ByteView nonce, ByteView aad, ByteView sealed) {
    ASSERT_GE(sealed.size(), AesGcm256::kTagSize);
    Bytes out(sealed.size() - AesGcm256::kTagSize, 0xa5);
    EXPECT_TRUE(IsError(aead_->Open(nonce, aad, sealed, out), ErrorCode::kDataLoss));
    EXPECT_TRUE(AllZero(out)) << "output after failed Open: " << HexEncode(out);
  }

  const Bytes key_ = Sequence(32, 0x40);
  const Bytes nonce_ = Sequence(12, 0xc0);
  const Bytes aad_ = ToBytes("header v1");
  const Bytes plaintext_ = Sequence(100, 0x11);
  std::unique_ptr<AesGcm256> aead_;
};

TEST(AesGcm256CreateTest, RejectsWrongKeySizes) {
  for (size_t size : {size_t{0}, size_t{16}, size_t{24}, size_t{31}, size_t{33}, size_t{64}}) {
    const Bytes key(size, 0x42);
    EXPECT_TRUE(IsError(AesGcm256::Create(key), ErrorCode::kInvalidArgument))
        << "key size " << size;
  }
  const Bytes key(32, 0x42);
  auto aead = AesGcm256::Create(key);
  ASSERT_TRUE(aead.has_value()) << aead.error().ToString();
  EXPECT_NE(*aead, nullptr);
}

// NIST GCM test case 16 (McGrew & Viega, "The Galois/Counter Mode of
// Operation", AES-256 with AAD), independent of the Wycheproof file.
TEST(AesGcm256CreateTest, KnownAnswer) {
  const Bytes key = Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const Bytes nonce = Hex("cafebabefacedbaddecaf888");
  const Bytes aad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const Bytes plaintext =
      Hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
          "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  const std::string expected =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b";
  auto aead = AesGcm256::Create(key);
  ASSERT_TRUE(aead.has_value());
  Bytes sealed(plaintext.size() + AesGcm256::kTagSize);
  ASSERT_TRUE((*aead)->Seal(nonce, aad, plaintext, sealed).has_value());
  EXPECT_EQ(HexEncode(sealed), expected);
  Bytes opened(plaintext.size());
  ASSERT_TRUE((*aead)->Open(nonce, aad, sealed, opened).has_value());
  EXPECT_EQ(opened, plaintext);
}

TEST_F(AesGcm256Test, SealOpenRoundTrip) {
  const Bytes sealed = Seal(nonce_, aad_, plaintext_);
  ASSERT_EQ(sealed.size(), plaintext_.size() + AesGcm256::kTagSize);
  EXPECT_NE(Bytes(sealed.begin(), sealed.begin() + plaintext_.size()), plaintext_);

  Bytes opened(plaintext_.size());
  Result<void> open = aead_->Open(nonce_, aad_, sealed, opened);
  ASSERT_TRUE(open.has_value()) << open.error().ToString();
  EXPECT_EQ(opened, plaintext_);
}

TEST_F(AesGcm256Test, SealIsDeterministicPerNonce) {
  EXPECT_EQ(Seal(nonce_, aad_, plaintext_), Seal(nonce_, aad_, plaintext_));
  Bytes other_nonce = nonce_;
  other_nonce[11] ^= 1;
  EXPECT_NE(Seal(nonce_, aad_, plaintext_), Seal(other_nonce, aad_, plaintext_));
}

TEST_F(AesGcm256Test, SealInPlace) {
  const Bytes expected = Seal(nonce_, aad_, plaintext_);
  Bytes buffer = plaintext_;
  buffer.resize(plaintext_.size() + AesGcm256::kTagSize);
  Result<void> sealed =
      aead_->Seal(nonce_, aad_, ByteView(buffer).first(plaintext_.size()), buffer);
  ASSERT_TRUE(sealed.has_value()) << sealed.error().ToString();
  EXPECT_EQ(HexEncode(buffer), HexEncode(expected));
}

TEST_F(AesGcm256Test, FlippedCiphertextBitFails) {
  Bytes sealed = Seal(nonce_, aad_, plaintext_);
  for (size_t i : {size_t{0}, plaintext_.size() / 2, plaintext_.size() - 1}) {
    SCOPED_TRACE("ciphertext byte " + std::to_string(i));
    sealed[i] ^= 0x01;
    ExpectOpenFailsAndWipes(nonce_, aad_, sealed);
    sealed[i] ^= 0x01;
  }
}

TEST_F(AesGcm256Test, FlippedTagBitFails) {
  Bytes sealed = Seal(nonce_, aad_, plaintext_);
  for (size_t i = plaintext_.size(); i < sealed.size(); ++i) {
    SCOPED_TRACE("tag byte " + std::to_string(i - plaintext_.size()));
    sealed[i] ^= 0x80;
    ExpectOpenFailsAndWipes(nonce_, aad_, sealed);
    sealed[i] ^= 0x80;
  }
}

TEST_F(AesGcm256Test, WrongAadFails) {
  const Bytes sealed = Seal(nonce_, aad_, plaintext_);
  Bytes wrong_aad = aad_;
  wrong_aad.back() ^= 0x01;
  ExpectOpenFailsAndWipes(nonce_, wrong_aad, sealed);
  ExpectOpenFailsAndWipes(nonce_, {}, sealed);
  ExpectOpenFailsAndWipes(nonce_, ByteView(aad_).first(aad_.size() - 1), sealed);
}

TEST_F(AesGcm256Test, WrongNonceFails) {
  const Bytes sealed = Seal(nonce_, aad_, plaintext_);
  Bytes wrong_nonce = nonce_;
  wrong_nonce[0] ^= 0x01;
  ExpectOpenFailsAndWipes(wrong_nonce, aad_, sealed);
}

TEST_F(AesGcm256Test, WrongKeyFails) {
  const Bytes sealed = Seal(nonce_, aad_, plaintext_);
  Bytes other_key = key_;
  other_key[5] ^= 0x01;
  auto other = AesGcm256::Create(other_key);
  ASSERT_TRUE(other.has_value());
  Bytes out(plaintext_.size(), 0xa5);
  EXPECT_TRUE(IsError((*other)->Open(nonce_, aad_, sealed, out), ErrorCode::kDataLoss));
  EXPECT_TRUE(AllZero(out));
}

TEST_F(AesGcm256Test, UsableAfterFailedOpen) {
  Bytes sealed = Seal(nonce_, aad_, plaintext_);
  sealed.back() ^= 0x01;
  ExpectOpenFailsAndWipes(nonce_, aad_, sealed);
  sealed.back() ^= 0x01;
  Bytes opened(plaintext_.size());
  ASSERT_TRUE(aead_->Open(nonce_, aad_, sealed, opened).has_value());
  EXPECT_EQ(opened, plaintext_);
}

TEST_F(AesGcm256Test, EmptyPlaintext) {
  const Bytes sealed = Seal(nonce_, aad_, {});
  ASSERT_EQ(sealed.size(), AesGcm256::kTagSize);
  Bytes opened;
  Result<void> open = aead_->Open(nonce_, aad_, sealed, opened);
  ASSERT_TRUE(open.has_value()) << open.error().ToString();

  // The tag alone still authenticates the aad and the nonce.
  Bytes bad_tag = sealed;
  bad_tag[0] ^= 0x01;
  EXPECT_TRUE(IsError(aead_->Open(nonce_, aad_, bad_tag, opened), ErrorCode::kDataLoss));
  EXPECT_TRUE(IsError(aead_->Open(nonce_, {}, sealed, opened), ErrorCode::kDataLoss));
}

TEST_F(AesGcm256Test, EmptyAad) {
  const Bytes sealed = Seal(nonce_, {}, plaintext_);
  Bytes opened(plaintext_.size());
  ASSERT_TRUE(aead_->Open(nonce_, {}, sealed, opened).has_value());
  EXPECT_EQ(opened, plaintext_);
  ExpectOpenFailsAndWipes(nonce_, aad_, sealed);
}

TEST_F(AesGcm256Test, RejectsBadSizes) {
  Bytes out(plaintext_.size() + AesGcm256::kTagSize);
  const Bytes short_nonce(11, 0);
  const Bytes long_nonce(13, 0);
  EXPECT_TRUE(
      IsError(aead_->Seal(short_nonce, aad_, plaintext_, out), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(aead_->Seal(long_nonce, aad_, plaintext_, out), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(aead_->Seal(nonce_, aad_, plaintext_, MutableByteView(out).first(115)),
                      ErrorCode::kInvalidArgument));

  const Bytes sealed = Seal(nonce_, aad_, plaintext_);
  Bytes opened(plaintext_.size());
  EXPECT_TRUE(IsError(aead_->Open(short_nonce, aad_, sealed, opened), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(aead_->Open(nonce_, aad_, sealed, MutableByteView(opened).first(99)),
                      ErrorCode::kInvalidArgument));
  Bytes empty;
  EXPECT_TRUE(IsError(aead_->Open(nonce_, aad_, ByteView(sealed).first(15), empty),
                      ErrorCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------
// HKDF-SHA-512. Wycheproof's vectors are the known answers; these check the
// API's contracts and the Extract/Expand relationship.

TEST(HkdfTest, ExpandHonoursLength) {
  const Bytes prk = Sequence(64, 3);
  for (size_t length : {size_t{1}, size_t{16}, size_t{32}, size_t{63}, size_t{64}, size_t{65},
                        size_t{1000}, size_t{255 * 64}}) {
    auto okm = HkdfSha512Expand(prk, AsBytes("info"), length);
    ASSERT_TRUE(okm.has_value()) << "length " << length << ": " << okm.error().ToString();
    EXPECT_EQ(okm->size(), length);
    auto full = HkdfSha512(prk, {}, AsBytes("info"), length);
    ASSERT_TRUE(full.has_value()) << "length " << length << ": " << full.error().ToString();
    EXPECT_EQ(full->size(), length);
  }
}

TEST(HkdfTest, ShorterOutputIsPrefixOfLonger) {
  const Bytes prk = Sequence(64, 9);
  auto short_okm = HkdfSha512Expand(prk, AsBytes("ctx"), 40);
  auto long_okm = HkdfSha512Expand(prk, AsBytes("ctx"), 200);
  ASSERT_TRUE(short_okm.has_value());
  ASSERT_TRUE(long_okm.has_value());
  EXPECT_EQ(HexEncode(short_okm->reveal()), HexEncode(long_okm->reveal().first(40)));
}

TEST(HkdfTest, DeterministicAndSeparatedByInputs) {
  const Bytes prk = Sequence(32, 1);
  auto a = HkdfSha512Expand(prk, AsBytes("purpose a"), 32);
  auto a2 = HkdfSha512Expand(prk, AsBytes("purpose a"), 32);
  auto b = HkdfSha512Expand(prk, AsBytes("purpose b"), 32);
  auto none = HkdfSha512Expand(prk, {}, 32);
  Bytes other_prk = prk;
  other_prk[0] ^= 1;
  auto c = HkdfSha512Expand(other_prk, AsBytes("purpose a"), 32);
  ASSERT_TRUE(a && a2 && b && none && c);
  EXPECT_TRUE(ConstantTimeEquals(a->reveal(), a2->reveal()));
  EXPECT_FALSE(ConstantTimeEquals(a->reveal(), b->reveal()));
  EXPECT_FALSE(ConstantTimeEquals(a->reveal(), none->reveal()));
  EXPECT_FALSE(ConstantTimeEquals(a->reveal(), c->reveal()));

  auto salted = HkdfSha512(prk, AsBytes("salt 1"), AsBytes("purpose a"), 32);
  auto resalted = HkdfSha512(prk, AsBytes("salt 2"), AsBytes("purpose a"), 32);
  ASSERT_TRUE(salted && resalted);
  EXPECT_FALSE(ConstantTimeEquals(salted->reveal(), resalted->reveal()));
  // Extract-then-expand is not expand alone.
  EXPECT_FALSE(ConstantTimeEquals(salted->reveal(), a->reveal()));
}

TEST(HkdfTest, RejectsBadLengthsAndEmptyPrk) {
  const Bytes prk = Sequence(64);
  EXPECT_TRUE(IsError(HkdfSha512Expand(prk, {}, 0), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(HkdfSha512Expand(prk, {}, 16321), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(HkdfSha512(prk, {}, {}, 0), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(HkdfSha512(prk, {}, {}, 16321), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(HkdfSha512Expand({}, AsBytes("info"), 32), ErrorCode::kInvalidArgument));
}

// HKDF = Expand(Extract(salt, ikm)). Inputs are RFC 5869 test case 1's, run
// through SHA-512; PRK = HMAC-SHA-512(salt, ikm) and the OKM were computed
// independently with Python's hmac/hashlib modules.
TEST(HkdfTest, ExtractThenExpandMatchesExpandOfPrk) {
  const Bytes ikm(22, 0x0b);
  const Bytes salt = Hex("000102030405060708090a0b0c");
  const Bytes info = Hex("f0f1f2f3f4f5f6f7f8f9");
  const Bytes prk =
      Hex("665799823737ded04a88e47e54a5890bb2c3d247c7a4254a8e61350723590a26"
          "c36238127d8661b88cf80ef802d57e2f7cebcf1e00e083848be19929c61b4237");
  const std::string okm =
      "832390086cda71fb47625bb5ceb168e4c8e26a1a16ed34d9fc7fe92c14815793"
      "38da362cb8d9f925d7cb";
  auto full = HkdfSha512(ikm, salt, info, 42);
  auto expanded = HkdfSha512Expand(prk, info, 42);
  ASSERT_TRUE(full.has_value());
  ASSERT_TRUE(expanded.has_value());
  EXPECT_EQ(HexEncode(full->reveal()), okm);
  EXPECT_EQ(HexEncode(expanded->reveal()), okm);
}

// RFC 5869 section 2.2: an absent salt is HashLen zero bytes.
TEST(HkdfTest, EmptySaltEqualsZeroSalt) {
  const Bytes ikm = Sequence(32, 5);
  auto empty_salt = HkdfSha512(ikm, {}, AsBytes("info"), 64);
  auto zero_salt = HkdfSha512(ikm, Bytes(64, 0), AsBytes("info"), 64);
  ASSERT_TRUE(empty_salt.has_value());
  ASSERT_TRUE(zero_salt.has_value());
  EXPECT_EQ(HexEncode(empty_salt->reveal()), HexEncode(zero_salt->reveal()));
}

// RFC 5869 allows empty IKM: PRK = HMAC-SHA-512(salt, ""), which differs from
// HMAC over a single zero byte. Expected values from Python's hmac/hashlib.
TEST(HkdfTest, EmptyIkm) {
  auto okm = HkdfSha512({}, AsBytes("salt"), AsBytes("info"), 42);
  ASSERT_TRUE(okm.has_value()) << okm.error().ToString();
  EXPECT_EQ(HexEncode(okm->reveal()),
            "618a2ba19b9f039bd9e8e902d3967158b1c1b842f5c8d76a9e8a2ae3163afe9b"
            "99c6a9958b540ac24657");
  auto all_empty = HkdfSha512({}, {}, {}, 42);
  ASSERT_TRUE(all_empty.has_value()) << all_empty.error().ToString();
  EXPECT_EQ(HexEncode(all_empty->reveal()),
            "9d73c98e791e80ebe5b4cb45693aa32fdd44b5fa3edab3ec82f9d0f4d66905e2"
            "215ad0d4ac20fe570da5");
}

// ---------------------------------------------------------------------------
// HMAC-SHA-256

std::string HexTag(const Result<HmacSha256::Tag>& tag) {
  if (!tag.has_value()) return "error: " + tag.error().ToString();
  return HexEncode(*tag);
}

TEST(HmacSha256Test, Rfc4231TestCase1) {
  const Bytes key(20, 0x0b);
  EXPECT_EQ(HexTag(HmacSha256::Compute(key, AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacSha256Test, Rfc4231TestCase2) {
  EXPECT_EQ(HexTag(HmacSha256::Compute(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256Test, Rfc4231TestCase6KeyLongerThanBlock) {
  const Bytes key(131, 0xaa);
  EXPECT_EQ(HexTag(HmacSha256::Compute(
                key, AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// HMAC-SHA-256("", ""), from Python's hmac module.
TEST(HmacSha256Test, EmptyKeyAndMessage) {
  EXPECT_EQ(HexTag(HmacSha256::Compute({}, {})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacSha256Test, IncrementalEqualsOneShot) {
  const Bytes key = Sequence(32, 0x20);
  const Bytes message = Sequence(300, 0x33);
  auto one_shot = HmacSha256::Compute(key, message);
  ASSERT_TRUE(one_shot.has_value());

  auto mac = HmacSha256::Create(key);
  ASSERT_TRUE(mac.has_value());
  ASSERT_TRUE((*mac)->Update(ByteView(message).first(77)).has_value());
  ASSERT_TRUE((*mac)->Update(ByteView(message).subspan(77)).has_value());
  EXPECT_EQ(HexTag((*mac)->Finish()), HexEncode(*one_shot));

  auto bytewise = HmacSha256::Create(key);
  ASSERT_TRUE(bytewise.has_value());
  ASSERT_TRUE((*bytewise)->Update({}).has_value());
  for (size_t i = 0; i < message.size(); ++i) {
    ASSERT_TRUE((*bytewise)->Update(ByteView(message).subspan(i, 1)).has_value());
  }
  EXPECT_EQ(HexTag((*bytewise)->Finish()), HexEncode(*one_shot));
}

TEST(HmacSha256Test, KeyAndMessageMatter) {
  const Bytes key = Sequence(32);
  Bytes other_key = key;
  other_key[31] ^= 1;
  auto a = HmacSha256::Compute(key, AsBytes("message"));
  auto b = HmacSha256::Compute(other_key, AsBytes("message"));
  auto c = HmacSha256::Compute(key, AsBytes("messagf"));
  ASSERT_TRUE(a && b && c);
  EXPECT_FALSE(ConstantTimeEquals(*a, *b));
  EXPECT_FALSE(ConstantTimeEquals(*a, *c));
}

// ---------------------------------------------------------------------------
// Digest

std::string HexDigest(Digest::Algorithm algorithm, std::string_view message) {
  auto digest = Digest::Compute(algorithm, AsBytes(message));
  if (!digest.has_value()) return "error: " + digest.error().ToString();
  return HexEncode(*digest);
}

TEST(DigestTest, Md5KnownAnswers) {  // RFC 1321 appendix A.5
  EXPECT_EQ(HexDigest(Digest::Algorithm::kMd5, ""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(HexDigest(Digest::Algorithm::kMd5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(DigestTest, Sha256KnownAnswers) {  // FIPS 180-2 appendix B.1
  EXPECT_EQ(HexDigest(Digest::Algorithm::kSha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexDigest(Digest::Algorithm::kSha256, ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(DigestTest, Sha512KnownAnswer) {  // FIPS 180-2 appendix C.1
  EXPECT_EQ(HexDigest(Digest::Algorithm::kSha512, "abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(DigestTest, FinishResetsForReuse) {
  auto digest = Digest::Create(Digest::Algorithm::kSha256);
  ASSERT_TRUE(digest.has_value());
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_TRUE((*digest)->Update(AsBytes("abc")).has_value());
    auto out = (*digest)->Finish();
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(HexEncode(*out), abc);  // not SHA-256("abcabc")
  }
  // Finish with no input after a reset is the digest of the empty message.
  auto empty = (*digest)->Finish();
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(HexEncode(*empty), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(DigestTest, IncrementalEqualsOneShotForEachAlgorithm) {
  for (auto algorithm :
       {Digest::Algorithm::kMd5, Digest::Algorithm::kSha256, Digest::Algorithm::kSha512}) {
    auto digest = Digest::Create(algorithm);
    ASSERT_TRUE(digest.has_value());
    ASSERT_TRUE((*digest)->Update(AsBytes("a")).has_value());
    ASSERT_TRUE((*digest)->Update({}).has_value());
    ASSERT_TRUE((*digest)->Update(AsBytes("bc")).has_value());
    auto out = (*digest)->Finish();
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(HexEncode(*out), HexDigest(algorithm, "abc"));
  }
  EXPECT_EQ(Digest::Compute(Digest::Algorithm::kMd5, {})->size(), 16u);
  EXPECT_EQ(Digest::Compute(Digest::Algorithm::kSha256, {})->size(), 32u);
  EXPECT_EQ(Digest::Compute(Digest::Algorithm::kSha512, {})->size(), 64u);
}

// ---------------------------------------------------------------------------
// Argon2id

Argon2idParams FastParams() {
  Argon2idParams params;
  params.iterations = 1;
  params.memory_kib = kArgon2idMinMemoryKib;
  params.parallelism = 1;
  return params;
}

// RFC 9106 section 5.3's Argon2id vector uses a secret and associated data,
// which this API does not expose. These known answers were produced once with
// the reference implementation's CLI (Debian package `argon2`, 20171227):
//   echo -n password | argon2 somesalt_16bytes -id -t 2 -m 13 -p 1 -l 32 -r
//   echo -n "correct horse battery staple" | argon2 0123456789abcdef -id -t 1 -m 13 -p 2 -l 16 -r
TEST(Argon2idTest, KnownAnswers) {
  Argon2idParams params;
  params.iterations = 2;
  params.memory_kib = 8192;  // 2^13 KiB
  params.parallelism = 1;
  auto key = Argon2id(AsBytes("password"), AsBytes("somesalt_16bytes"), params, 32);
  ASSERT_TRUE(key.has_value()) << key.error().ToString();
  EXPECT_EQ(HexEncode(key->reveal()),
            "da9e6b5b5a7bfe23ec0c43821579a7222ddbef19c87042aac30cfb6c87aed872");

  params.iterations = 1;
  params.parallelism = 2;
  auto key2 =
      Argon2id(AsBytes("correct horse battery staple"), AsBytes("0123456789abcdef"), params, 16);
  ASSERT_TRUE(key2.has_value()) << key2.error().ToString();
  EXPECT_EQ(HexEncode(key2->reveal()), "cb7e1721ec35422a2fab9e49e8847b01");
}

TEST(Argon2idTest, InputsMatter) {
  const Argon2idParams params = FastParams();
  auto a = Argon2id(AsBytes("passphrase"), AsBytes("saltsaltsaltsalt"), params, 32);
  auto a2 = Argon2id(AsBytes("passphrase"), AsBytes("saltsaltsaltsalt"), params, 32);
  auto other_salt = Argon2id(AsBytes("passphrase"), AsBytes("saltsaltsaltsalT"), params, 32);
  auto other_pass = Argon2id(AsBytes("passphrasf"), AsBytes("saltsaltsaltsalt"), params, 32);
  Argon2idParams slower = params;
  slower.iterations = 2;
  auto other_cost = Argon2id(AsBytes("passphrase"), AsBytes("saltsaltsaltsalt"), slower, 32);
  ASSERT_TRUE(a && a2 && other_salt && other_pass && other_cost);
  EXPECT_TRUE(ConstantTimeEquals(a->reveal(), a2->reveal()));
  EXPECT_FALSE(ConstantTimeEquals(a->reveal(), other_salt->reveal()));
  EXPECT_FALSE(ConstantTimeEquals(a->reveal(), other_pass->reveal()));
  EXPECT_FALSE(ConstantTimeEquals(a->reveal(), other_cost->reveal()));
}

TEST(Argon2idTest, ValidateAcceptsDefaultsAndBounds) {
  EXPECT_TRUE(ValidateArgon2idParams(Argon2idParams{}).has_value());
  EXPECT_TRUE(ValidateArgon2idParams(FastParams()).has_value());
  Argon2idParams max;
  max.iterations = kArgon2idMaxIterations;
  max.memory_kib = kArgon2idMaxMemoryKib;
  max.parallelism = kArgon2idMaxParallelism;
  EXPECT_TRUE(ValidateArgon2idParams(max).has_value());
}

TEST(Argon2idTest, ValidateRejectsOutOfRange) {
  auto rejects = [](auto mutate) {
    Argon2idParams params = FastParams();
    mutate(params);
    return IsError(ValidateArgon2idParams(params), ErrorCode::kInvalidArgument);
  };
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.iterations = 0; })) << "t = 0";
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.iterations = kArgon2idMaxIterations + 1; }))
      << "t too large";
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.parallelism = 0; })) << "p = 0";
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.parallelism = kArgon2idMaxParallelism + 1; }))
      << "p too large";
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.memory_kib = 0; })) << "m = 0";
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.memory_kib = 8 * 1024 - 1; }))
      << "m just under 8 MiB";
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.memory_kib = 4u * 1024 * 1024 + 1; }))
      << "m just over 4 GiB";
  EXPECT_TRUE(rejects([](Argon2idParams& p) { p.memory_kib = UINT32_MAX; })) << "m = 2^32 - 1";
}

TEST(Argon2idTest, RejectsShortSalt) {
  const Bytes salt15(15, 0x5a);
  EXPECT_TRUE(
      IsError(Argon2id(AsBytes("pw"), salt15, FastParams(), 32), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(Argon2id(AsBytes("pw"), {}, FastParams(), 32), ErrorCode::kInvalidArgument));
  const Bytes salt16(16, 0x5a);
  EXPECT_TRUE(Argon2id(AsBytes("pw"), salt16, FastParams(), 32).has_value());
}

TEST(Argon2idTest, RejectsInvalidParamsAndLengths) {
  const Bytes salt(16, 0x5a);
  Argon2idParams bad = FastParams();
  bad.iterations = 0;
  EXPECT_TRUE(IsError(Argon2id(AsBytes("pw"), salt, bad, 32), ErrorCode::kInvalidArgument));
  bad = FastParams();
  bad.memory_kib = 1024;
  EXPECT_TRUE(IsError(Argon2id(AsBytes("pw"), salt, bad, 32), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(Argon2id(AsBytes("pw"), salt, FastParams(), 0), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(
      IsError(Argon2id(AsBytes("pw"), salt, FastParams(), 15), ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace strongroom::crypto
