// SPDX-License-Identifier: Apache-2.0
#include "aws/checksum.h"

#include <array>
#include <cstdint>

#include "crypto/digest.h"

namespace strongroom::aws {
namespace {

// ---------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, as zlib) and CRC-32C (Castagnoli, RFC 3720), both in
// their reflected form, computed with slicing-by-8 tables built at compile
// time. These are checksums against accidents, not cryptography.

using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr CrcTables MakeCrcTables(uint32_t reflected_polynomial) {
  CrcTables tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1U) != 0 ? (crc >> 1) ^ reflected_polynomial : crc >> 1;
    }
    tables[0][i] = crc;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t t = 1; t < 8; ++t) {
      const uint32_t previous = tables[t - 1][i];
      tables[t][i] = (previous >> 8) ^ tables[0][previous & 0xFFU];
    }
  }
  return tables;
}

constexpr CrcTables kCrc32Tables = MakeCrcTables(0xEDB88320U);
constexpr CrcTables kCrc32cTables = MakeCrcTables(0x82F63B78U);

// `crc` is the running (pre-inverted) register.
uint32_t CrcUpdate(const CrcTables& t, uint32_t crc, ByteView data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    const uint32_t lo = crc ^ (static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                               static_cast<uint32_t>(p[2]) << 16 |
                               static_cast<uint32_t>(p[3]) << 24);
    crc = t[7][lo & 0xFFU] ^ t[6][(lo >> 8) & 0xFFU] ^ t[5][(lo >> 16) & 0xFFU] ^
          t[4][lo >> 24] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) {
    crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFFU];
  }
  return crc;
}

class CrcChecksum final : public Checksum {
 public:
  explicit CrcChecksum(const CrcTables& tables) : tables_(tables) {}
  void Update(ByteView data) override { crc_ = CrcUpdate(tables_, crc_, data); }
  Bytes Finish() override {
    Bytes out;
    AppendBe32(out, crc_ ^ 0xFFFFFFFFU);
    crc_ = 0xFFFFFFFFU;
    return out;
  }

 private:
  const CrcTables& tables_;
  uint32_t crc_ = 0xFFFFFFFFU;
};

class DigestChecksum final : public Checksum {
 public:
  explicit DigestChecksum(std::unique_ptr<crypto::Digest> digest) : digest_(std::move(digest)) {}
  void Update(ByteView data) override {
    if (!failed_ && !digest_->Update(data)) {
      failed_ = true;
    }
  }
  // A digest that failed internally (OpenSSL error; not expected) yields an
  // empty result, which never equals a real checksum.
  Bytes Finish() override {
    auto result = digest_->Finish();
    const bool failed = failed_ || !result;
    failed_ = false;
    return failed ? Bytes{} : std::move(result).value();
  }

 private:
  std::unique_ptr<crypto::Digest> digest_;
  bool failed_ = false;
};

// ---------------------------------------------------------------------------
// Base64 (RFC 4648 §4, standard alphabet, padded).

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeBase64Decode() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    table[static_cast<uint8_t>(kBase64Alphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}
constexpr std::array<int8_t, 256> kBase64Decode = MakeBase64Decode();

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<ChecksumAlgorithm> ParseChecksumAlgorithm(std::string_view name) {
  for (ChecksumAlgorithm algorithm :
       {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kSha1,
        ChecksumAlgorithm::kSha256, ChecksumAlgorithm::kMd5}) {
    if (EqualsIgnoreCase(name, ChecksumName(algorithm))) {
      return algorithm;
    }
  }
  return std::nullopt;
}

std::string_view ChecksumName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32: return "CRC32";
    case ChecksumAlgorithm::kCrc32c: return "CRC32C";
    case ChecksumAlgorithm::kSha1: return "SHA1";
    case ChecksumAlgorithm::kSha256: return "SHA256";
    case ChecksumAlgorithm::kMd5: return "MD5";
  }
  return "";
}

std::string ChecksumHeader(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32: return "x-amz-checksum-crc32";
    case ChecksumAlgorithm::kCrc32c: return "x-amz-checksum-crc32c";
    case ChecksumAlgorithm::kSha1: return "x-amz-checksum-sha1";
    case ChecksumAlgorithm::kSha256: return "x-amz-checksum-sha256";
    case ChecksumAlgorithm::kMd5: return "content-md5";  // not an x-amz-checksum header
  }
  return "";
}

Result<std::unique_ptr<Checksum>> Checksum::Create(ChecksumAlgorithm algorithm) {
  crypto::Digest::Algorithm digest_algorithm;
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return std::unique_ptr<Checksum>(new CrcChecksum(kCrc32Tables));
    case ChecksumAlgorithm::kCrc32c:
      return std::unique_ptr<Checksum>(new CrcChecksum(kCrc32cTables));
    case ChecksumAlgorithm::kSha1: digest_algorithm = crypto::Digest::Algorithm::kSha1; break;
    case ChecksumAlgorithm::kSha256: digest_algorithm = crypto::Digest::Algorithm::kSha256; break;
    case ChecksumAlgorithm::kMd5: digest_algorithm = crypto::Digest::Algorithm::kMd5; break;
    default: return InvalidArgument("unknown checksum algorithm");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto digest, crypto::Digest::Create(digest_algorithm));
  return std::unique_ptr<Checksum>(new DigestChecksum(std::move(digest)));
}

std::string Base64Encode(ByteView data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(data[i]) << 16 |
                       static_cast<uint32_t>(data[i + 1]) << 8 | data[i + 2];
    out += kBase64Alphabet[(v >> 18) & 0x3FU];
    out += kBase64Alphabet[(v >> 12) & 0x3FU];
    out += kBase64Alphabet[(v >> 6) & 0x3FU];
    out += kBase64Alphabet[v & 0x3FU];
  }
  const size_t rest = data.size() - i;
  if (rest == 1) {
    const uint32_t v = static_cast<uint32_t>(data[i]) << 16;
    out += kBase64Alphabet[(v >> 18) & 0x3FU];
    out += kBase64Alphabet[(v >> 12) & 0x3FU];
    out += "==";
  } else if (rest == 2) {
    const uint32_t v = static_cast<uint32_t>(data[i]) << 16 | static_cast<uint32_t>(data[i + 1]) << 8;
    out += kBase64Alphabet[(v >> 18) & 0x3FU];
    out += kBase64Alphabet[(v >> 12) & 0x3FU];
    out += kBase64Alphabet[(v >> 6) & 0x3FU];
    out += '=';
  }
  return out;
}

// Strict: the length is a multiple of four, only the alphabet appears before
// at most two trailing '=', and the bits padding leaves unused are zero, so
// every byte string has exactly one accepted encoding.
std::optional<Bytes> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') {
    padding = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  }
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t pad_here = last ? padding : 0;
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (j >= 4 - pad_here) {
        v <<= 6;  // '=' already established by the padding count
        continue;
      }
      const int8_t d = kBase64Decode[static_cast<uint8_t>(c)];
      if (d < 0) {
        return std::nullopt;  // also rejects '=' anywhere but the end
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<uint8_t>(v >> 16));
    if (pad_here == 2) {
      if ((v & 0xFFFFU) != 0) {
        return std::nullopt;
      }
      break;
    }
    out.push_back(static_cast<uint8_t>(v >> 8));
    if (pad_here == 1) {
      if ((v & 0xFFU) != 0) {
        return std::nullopt;
      }
      break;
    }
    out.push_back(static_cast<uint8_t>(v));
  }
  return out;
}

}  // namespace strongroom::aws
