// SPDX-License-Identifier: Apache-2.0
// Runs the Wycheproof vectors for the primitives in src/crypto against our
// wrappers: HKDF-SHA-512, AES-256-GCM (96-bit nonce, 128-bit tag) and
// HMAC-SHA-256 (full and truncated tags). The vector files live in
// testdata/wycheproof/ (see its README.md for their provenance).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/bytes.h"
#include "base/error.h"
#include "base/result.h"
#include "crypto/aes_gcm.h"
#include "crypto/constant_time.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "testing/testdata.h"

namespace strongroom::crypto {
namespace {

using ::strongroom::testing::Hex;
using ::strongroom::testing::LoadJson;

// Lower bounds on the vectors each test must check, so that a filter or a
// field-name mistake that silently skips everything cannot pass. These are
// the counts in the files as vendored; an updated file may only add vectors.
constexpr size_t kMinHkdfVectors = 83;
constexpr size_t kMinAesGcmVectors = 66;  // keySize 256, ivSize 96, tagSize 128
constexpr size_t kMinHmacVectors = 174;

std::string TraceLabel(const nlohmann::json& test) {
  std::string label = "tcId " + std::to_string(test.at("tcId").get<int>());
  const std::string comment = test.value("comment", "");
  if (!comment.empty()) label += " (" + comment + ")";
  return label;
}

bool IsValid(const nlohmann::json& test) {
  const std::string result = test.at("result").get<std::string>();
  // None of these files uses "acceptable"; if one ever does, flag it rather
  // than guess which way it should go.
  EXPECT_TRUE(result == "valid" || result == "invalid")
      << TraceLabel(test) << ": unexpected result '" << result << "'";
  return result == "valid";
}

bool AllZero(ByteView data) {
  return std::all_of(data.begin(), data.end(), [](uint8_t b) { return b == 0; });
}

// Every test in every group: valid vectors must reproduce okm; invalid ones
// (the output size 255 * 64 + 1) must be refused with kInvalidArgument.
TEST(WycheproofTest, HkdfSha512) {
  const nlohmann::json file = LoadJson("wycheproof/hkdf_sha512_test.json");
  ASSERT_EQ(file.at("algorithm").get<std::string>(), "HKDF-SHA-512");

  size_t checked = 0;
  size_t valid = 0;
  size_t invalid = 0;
  for (const nlohmann::json& group : file.at("testGroups")) {
    for (const nlohmann::json& test : group.at("tests")) {
      SCOPED_TRACE(TraceLabel(test));
      const Bytes ikm = Hex(test.at("ikm").get<std::string>());
      const Bytes salt = Hex(test.at("salt").get<std::string>());
      const Bytes info = Hex(test.at("info").get<std::string>());
      const size_t size = test.at("size").get<size_t>();
      Result<SecretBytes> okm = HkdfSha512(ikm, salt, info, size);
      if (IsValid(test)) {
        ++valid;
        ASSERT_TRUE(okm.has_value()) << okm.error().ToString();
        EXPECT_EQ(okm->size(), size);
        EXPECT_EQ(HexEncode(okm->reveal()), test.at("okm").get<std::string>());
      } else {
        ++invalid;
        ASSERT_FALSE(okm.has_value()) << "accepted an invalid vector";
        EXPECT_EQ(okm.error().code(), ErrorCode::kInvalidArgument) << okm.error().ToString();
      }
      ++checked;
    }
  }
  RecordProperty("vectors_checked", static_cast<int>(checked));
  EXPECT_EQ(checked, file.at("numberOfTests").get<size_t>());
  EXPECT_GE(checked, kMinHkdfVectors);
  EXPECT_GT(valid, 0u);
  EXPECT_GT(invalid, 0u);
}

// The groups AesGcm256 can express (256-bit key, 96-bit nonce, 128-bit tag).
// Valid vectors must open to msg and seal back to ct || tag; invalid ones
// must fail with kDataLoss and leave the output buffer zeroed.
TEST(WycheproofTest, AesGcm256) {
  const nlohmann::json file = LoadJson("wycheproof/aes_gcm_test.json");
  ASSERT_EQ(file.at("algorithm").get<std::string>(), "AES-GCM");

  auto applicable = [](const nlohmann::json& group) {
    return group.at("keySize").get<int>() == 256 && group.at("ivSize").get<int>() == 96 &&
           group.at("tagSize").get<int>() == 128;
  };
  size_t expected = 0;
  for (const nlohmann::json& group : file.at("testGroups")) {
    if (applicable(group)) expected += group.at("tests").size();
  }

  size_t checked = 0;
  size_t valid = 0;
  size_t invalid = 0;
  for (const nlohmann::json& group : file.at("testGroups")) {
    if (!applicable(group)) continue;
    for (const nlohmann::json& test : group.at("tests")) {
      SCOPED_TRACE(TraceLabel(test));
      ++checked;
      const Bytes key = Hex(test.at("key").get<std::string>());
      const Bytes iv = Hex(test.at("iv").get<std::string>());
      const Bytes aad = Hex(test.at("aad").get<std::string>());
      const Bytes msg = Hex(test.at("msg").get<std::string>());
      Bytes sealed = Hex(test.at("ct").get<std::string>());
      Append(sealed, Hex(test.at("tag").get<std::string>()));
      ASSERT_EQ(key.size(), AesGcm256::kKeySize);
      ASSERT_EQ(iv.size(), AesGcm256::kNonceSize);
      ASSERT_GE(sealed.size(), AesGcm256::kTagSize);

      auto aead = AesGcm256::Create(key);
      ASSERT_TRUE(aead.has_value()) << aead.error().ToString();

      // Pre-filled so that a failed Open that forgets to wipe is caught.
      Bytes opened(sealed.size() - AesGcm256::kTagSize, 0xa5);
      Result<void> open = (*aead)->Open(iv, aad, sealed, opened);
      if (IsValid(test)) {
        ++valid;
        ASSERT_TRUE(open.has_value()) << open.error().ToString();
        EXPECT_EQ(HexEncode(opened), HexEncode(msg));

        Bytes resealed(msg.size() + AesGcm256::kTagSize);
        Result<void> seal = (*aead)->Seal(iv, aad, msg, resealed);
        ASSERT_TRUE(seal.has_value()) << seal.error().ToString();
        EXPECT_EQ(HexEncode(resealed), HexEncode(sealed));
      } else {
        ++invalid;
        ASSERT_FALSE(open.has_value()) << "opened an invalid vector";
        EXPECT_EQ(open.error().code(), ErrorCode::kDataLoss) << open.error().ToString();
        EXPECT_TRUE(AllZero(opened)) << "output not wiped after failed Open";
      }
    }
  }
  RecordProperty("vectors_checked", static_cast<int>(checked));
  EXPECT_EQ(checked, expected);
  EXPECT_GE(checked, kMinAesGcmVectors);
  EXPECT_GT(valid, 0u);
  EXPECT_GT(invalid, 0u);
}

// Every group. Wycheproof's truncated-tag groups (tagSize < 256) hold the
// leading tagSize bits of the HMAC; a vector is valid iff that prefix of our
// full tag matches, compared in constant time.
TEST(WycheproofTest, HmacSha256) {
  const nlohmann::json file = LoadJson("wycheproof/hmac_sha256_test.json");
  ASSERT_EQ(file.at("algorithm").get<std::string>(), "HMACSHA256");

  size_t checked = 0;
  size_t full = 0;
  size_t truncated = 0;
  size_t valid = 0;
  size_t invalid = 0;
  for (const nlohmann::json& group : file.at("testGroups")) {
    const int tag_bits = group.at("tagSize").get<int>();
    ASSERT_EQ(tag_bits % 8, 0);
    const size_t tag_size = static_cast<size_t>(tag_bits / 8);
    ASSERT_GT(tag_size, 0u);
    ASSERT_LE(tag_size, HmacSha256::kTagSize);
    for (const nlohmann::json& test : group.at("tests")) {
      SCOPED_TRACE(TraceLabel(test) + ", tagSize " + std::to_string(tag_bits));
      ++checked;
      ++(tag_size == HmacSha256::kTagSize ? full : truncated);
      const Bytes key = Hex(test.at("key").get<std::string>());
      const Bytes msg = Hex(test.at("msg").get<std::string>());
      const Bytes expected_tag = Hex(test.at("tag").get<std::string>());
      ASSERT_EQ(expected_tag.size(), tag_size);

      auto tag = HmacSha256::Compute(key, msg);
      ASSERT_TRUE(tag.has_value()) << tag.error().ToString();
      const bool matches = ConstantTimeEquals(ByteView(*tag).first(tag_size), expected_tag);
      if (IsValid(test)) {
        ++valid;
        EXPECT_TRUE(matches) << "computed " << HexEncode(ByteView(*tag).first(tag_size))
                             << ", expected " << HexEncode(expected_tag);
      } else {
        ++invalid;
        EXPECT_FALSE(matches) << "an invalid tag verified";
      }
    }
  }
  RecordProperty("vectors_checked", static_cast<int>(checked));
  EXPECT_EQ(checked, file.at("numberOfTests").get<size_t>());
  EXPECT_GE(checked, kMinHmacVectors);
  EXPECT_GT(full, 0u);
  EXPECT_GT(truncated, 0u);
  EXPECT_GT(valid, 0u);
  EXPECT_GT(invalid, 0u);
}

}  // namespace
}  // namespace strongroom::crypto
