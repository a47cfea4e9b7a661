// SPDX-License-Identifier: Apache-2.0
#include "aws/checksum.h"

#include <gtest/gtest.h>

#include <numeric>

namespace strongroom::aws {
namespace {

std::string Compute(ChecksumAlgorithm algorithm, ByteView data, size_t step = 0) {
  auto checksum = Checksum::Create(algorithm);
  EXPECT_TRUE(checksum.has_value());
  if (step == 0) {
    (*checksum)->Update(data);
  } else {
    for (size_t i = 0; i < data.size(); i += step) {
      (*checksum)->Update(data.subspan(i, std::min(step, data.size() - i)));
    }
  }
  return HexEncode((*checksum)->Finish());
}

std::string Compute(ChecksumAlgorithm algorithm, std::string_view text) {
  return Compute(algorithm, AsBytes(text));
}

TEST(Crc32c, Rfc3720Vectors) {
  // RFC 3720, appendix B.4.
  const Bytes zeros(32, 0x00);
  const Bytes ones(32, 0xFF);
  Bytes ascending(32);
  std::iota(ascending.begin(), ascending.end(), uint8_t{0});
  Bytes descending(32);
  for (size_t i = 0; i < 32; ++i) descending[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32c, zeros), "8a9136aa");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32c, ones), "62a8ab43");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32c, ascending), "46dd794e");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32c, descending), "113fdb5c");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32c, "123456789"), "e3069283");  // the check value
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32c, ""), "00000000");
}

TEST(Crc32, MatchesZlib) {
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32, "123456789"), "cbf43926");  // the check value
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32, ""), "00000000");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32, "The quick brown fox jumps over the lazy dog"),
            "414fa339");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kCrc32, Bytes(32, 0)), "190a55ad");
}

TEST(Crc, IncrementalEqualsOneShot) {
  Bytes data(100003);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + (i >> 7));
  for (auto algorithm : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                         ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256,
                         ChecksumAlgorithm::kMd5}) {
    const std::string whole = Compute(algorithm, data);
    for (size_t step : {size_t{1}, size_t{3}, size_t{7}, size_t{8}, size_t{9}, size_t{4096}}) {
      EXPECT_EQ(Compute(algorithm, data, step), whole) << ChecksumName(algorithm) << " " << step;
    }
  }
}

TEST(Checksum, FinishResets) {
  auto checksum = Checksum::Create(ChecksumAlgorithm::kCrc32c);
  ASSERT_TRUE(checksum.has_value());
  (*checksum)->Update(AsBytes("123456789"));
  EXPECT_EQ(HexEncode((*checksum)->Finish()), "e3069283");
  (*checksum)->Update(AsBytes("123456789"));
  EXPECT_EQ(HexEncode((*checksum)->Finish()), "e3069283");
}

TEST(Digests, KnownValues) {
  EXPECT_EQ(Compute(ChecksumAlgorithm::kSha1, "abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kSha256, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Compute(ChecksumAlgorithm::kMd5, "abc"), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Checksum, S3Base64Forms) {
  // The CRC32C trailer of the AWS trailing-header example: 66560 'a's.
  auto crc = Checksum::Create(ChecksumAlgorithm::kCrc32c);
  ASSERT_TRUE(crc.has_value());
  (*crc)->Update(AsBytes(std::string(66560, 'a')));
  EXPECT_EQ(Base64Encode((*crc)->Finish()), "sOO8/Q==");
  // Content-MD5 of the empty body, as S3 documents it.
  auto md5 = Checksum::Create(ChecksumAlgorithm::kMd5);
  ASSERT_TRUE(md5.has_value());
  EXPECT_EQ(Base64Encode((*md5)->Finish()), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

TEST(Checksum, Names) {
  EXPECT_EQ(ParseChecksumAlgorithm("crc32"), ChecksumAlgorithm::kCrc32);
  EXPECT_EQ(ParseChecksumAlgorithm("CRC32C"), ChecksumAlgorithm::kCrc32c);
  EXPECT_EQ(ParseChecksumAlgorithm("Sha1"), ChecksumAlgorithm::kSha1);
  EXPECT_EQ(ParseChecksumAlgorithm("SHA256"), ChecksumAlgorithm::kSha256);
  EXPECT_EQ(ParseChecksumAlgorithm("md5"), ChecksumAlgorithm::kMd5);
  EXPECT_EQ(ParseChecksumAlgorithm("CRC64NVME"), std::nullopt);
  EXPECT_EQ(ParseChecksumAlgorithm("crc32 "), std::nullopt);
  EXPECT_EQ(ParseChecksumAlgorithm(""), std::nullopt);
  EXPECT_EQ(ChecksumName(ChecksumAlgorithm::kCrc32c), "CRC32C");
  EXPECT_EQ(ChecksumHeader(ChecksumAlgorithm::kCrc32), "x-amz-checksum-crc32");
  EXPECT_EQ(ChecksumHeader(ChecksumAlgorithm::kCrc32c), "x-amz-checksum-crc32c");
  EXPECT_EQ(ChecksumHeader(ChecksumAlgorithm::kSha1), "x-amz-checksum-sha1");
  EXPECT_EQ(ChecksumHeader(ChecksumAlgorithm::kSha256), "x-amz-checksum-sha256");
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(AsChars(*decoded), plain);
  }
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  Bytes data;
  for (int i = 0; i < 300; ++i) {
    const std::string encoded = Base64Encode(data);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, data);
    data.push_back(static_cast<uint8_t>(255 - i));
  }
}

TEST(Base64, StrictDecodingRejects) {
  for (const char* bad : {
           "Zg",        // missing padding
           "Zg=",       // short padding
           "Zm9",       // length not a multiple of four
           "Z===",      // too much padding
           "====",      //
           "Zg==Zg==",  // padding in the middle
           "Zm=v",      // '=' inside a quantum
           "Zh==",      // non-zero bits under the padding
           "Zm9=",      // ditto (would be "fo" with a stray bit)
           "Zm9v YmFy", // whitespace
           "Zm9v\nYmFy",
           "Zm9-",      // URL-safe alphabet
           "Zm9_",
           "Zm9v*A==",
       }) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace strongroom::aws
