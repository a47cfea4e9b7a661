// SPDX-License-Identifier: Apache-2.0
// The Wycheproof Cobblestone-256 vectors (testdata/wycheproof/README.md)
// through the streaming and the random-access reader, honouring the
// PartialPlaintext and ValidFinalChunk rules of doc/c2sp_chunked_encryption.md.

#include <algorithm>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "base/io.h"
#include "crypto/digest.h"
#include "format/cobblestone.h"
#include "testing/testdata.h"

namespace strongroom::format {
namespace {

using strongroom::testing::Hex;

struct Vector {
  int id;
  std::string comment;
  Bytes key;
  Bytes context;
  Bytes ciphertext;
  bool valid;
  std::set<std::string> flags;
  bool has_message;
  uint64_t message_size;
  std::string message_sha512;
};

std::vector<Vector> LoadVectors() {
  auto json = strongroom::testing::LoadJson(
      "wycheproof/c2sp_chunked_encryption_aes_256_gcm_test.json");
  std::vector<Vector> out;
  for (const auto& group : json["testGroups"]) {
    EXPECT_EQ(group["aead"], "AEAD_AES_256_GCM");
    for (const auto& t : group["tests"]) {
      Vector v;
      v.id = t["tcId"];
      v.comment = t["comment"];
      v.key = Hex(t["key"]);
      v.context = Hex(t["ctx"]);
      auto inflated = strongroom::testing::ZlibInflate(Hex(t["ct"]));
      EXPECT_TRUE(inflated.has_value()) << "tcId " << v.id;
      v.ciphertext = inflated.value_or(Bytes{});
      v.valid = t["result"] == "valid";
      for (const auto& f : t["flags"]) v.flags.insert(f.get<std::string>());
      v.has_message = t.contains("msgLength");
      v.message_size = v.has_message ? t["msgLength"].get<uint64_t>() : 0;
      v.message_sha512 = v.has_message ? t["msgSha512"].get<std::string>() : "";
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::string Sha512Hex(ByteView data) {
  return HexEncode(*crypto::Digest::Compute(crypto::Digest::Algorithm::kSha512, data));
}

// Feeds the ciphertext in uneven pieces, as a socket would.
class PiecewiseSource : public ByteSource {
 public:
  explicit PiecewiseSource(ByteView data) : data_(data) {}
  Result<size_t> Read(MutableByteView out) override {
    size_t n = std::min({out.size(), data_.size() - offset_, size_t{7777}});
    std::copy_n(data_.begin() + offset_, n, out.begin());
    offset_ += n;
    return n;
  }

 private:
  ByteView data_;
  size_t offset_ = 0;
};

TEST(CobblestoneVectorsTest, AllThirtyFiveVectorsThroughTheStreamingReader) {
  auto vectors = LoadVectors();
  ASSERT_EQ(vectors.size(), 35u);
  int valid = 0, invalid = 0;
  for (const Vector& v : vectors) {
    SCOPED_TRACE("tcId " + std::to_string(v.id) + ": " + v.comment);
    PiecewiseSource source(v.ciphertext);
    auto decryptor = CobblestoneDecryptor::Create(v.key, v.context, source);
    if (!decryptor) {
      // Only a bad key size may fail at construction.
      EXPECT_FALSE(v.valid);
      EXPECT_TRUE(v.flags.count("InvalidKeySize"));
      EXPECT_EQ(decryptor.error().code(), ErrorCode::kInvalidArgument);
      ++invalid;
      continue;
    }
    Bytes plaintext;
    Bytes buffer(10000);
    Result<size_t> n = 0;
    for (;;) {
      n = (*decryptor)->Read(buffer);
      if (!n || *n == 0) break;
      plaintext.insert(plaintext.end(), buffer.begin(), buffer.begin() + *n);
    }
    if (v.valid) {
      ASSERT_TRUE(n.has_value()) << n.error().ToString();
      EXPECT_EQ(plaintext.size(), v.message_size);
      EXPECT_EQ(Sha512Hex(plaintext), v.message_sha512);
      ++valid;
      continue;
    }
    ++invalid;
    ASSERT_FALSE(n.has_value()) << "invalid vector decrypted";
    EXPECT_TRUE(n.error().code() == ErrorCode::kDataLoss) << n.error().ToString();
    if (v.flags.count("HeaderFailure")) {
      // Rejected while processing the header: nothing was released.
      EXPECT_TRUE(plaintext.empty());
    } else if (v.flags.count("PartialPlaintext")) {
      // What was released is exactly the longest valid prefix.
      EXPECT_EQ(plaintext.size(), v.message_size);
      EXPECT_EQ(Sha512Hex(plaintext), v.message_sha512);
    } else {
      EXPECT_TRUE(plaintext.empty()) << "released " << plaintext.size() << " bytes";
    }
    // Sticky: a further read fails again.
    auto again = (*decryptor)->Read(buffer);
    EXPECT_FALSE(again.has_value());
  }
  EXPECT_EQ(valid, 10);
  EXPECT_EQ(invalid, 25);
}

TEST(CobblestoneVectorsTest, AllThirtyFiveVectorsThroughTheRandomAccessReader) {
  auto vectors = LoadVectors();
  ASSERT_EQ(vectors.size(), 35u);
  int checked = 0;
  for (const Vector& v : vectors) {
    SCOPED_TRACE("tcId " + std::to_string(v.id) + ": " + v.comment);
    ++checked;
    ByteViewRandomAccessSource source(v.ciphertext);
    // Create authenticates the length by opening the final chunk (the length
    // of a bare message is untrusted), so per the Wycheproof rules it must
    // fail for every invalid vector except the ValidFinalChunk ones.
    auto reader =
        CobblestoneRandomAccessReader::Create(v.key, v.context, source, 0, v.ciphertext.size());
    if (!v.valid && !v.flags.count("ValidFinalChunk")) {
      EXPECT_FALSE(reader.has_value()) << "invalid vector opened for random access";
      continue;
    }
    ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
    Bytes all((*reader)->plaintext_size());
    auto whole = (*reader)->ReadAt(0, all);
    if (!v.valid) {
      EXPECT_FALSE(whole.has_value()) << "invalid vector decrypted in full";
      EXPECT_EQ(whole.error().code(), ErrorCode::kDataLoss);
      continue;
    }
    ASSERT_TRUE(whole.has_value()) << whole.error().ToString();
    EXPECT_EQ(all.size(), v.message_size);
    EXPECT_EQ(Sha512Hex(all), v.message_sha512);
    // Aligned and unaligned sub-ranges agree with the whole.
    for (uint64_t start : {uint64_t{0}, uint64_t{1}, uint64_t{16383}, uint64_t{16384},
                           uint64_t{16385}, uint64_t{all.size() / 2}}) {
      if (start >= all.size()) continue;
      for (uint64_t len : {uint64_t{1}, uint64_t{100}, uint64_t{16384}, uint64_t{40000}}) {
        len = std::min<uint64_t>(len, all.size() - start);
        Bytes part(len);
        ASSERT_TRUE((*reader)->ReadAt(start, part).has_value());
        EXPECT_TRUE(std::equal(part.begin(), part.end(), all.begin() + start));
      }
    }
    Bytes past(1);
    EXPECT_EQ((*reader)->ReadAt(all.size(), past).error().code(), ErrorCode::kOutOfRange);
  }
  EXPECT_EQ(checked, 35);
}

}  // namespace
}  // namespace strongroom::format
