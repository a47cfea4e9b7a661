// SPDX-License-Identifier: Apache-2.0
// Shamir sharing of the root key: GF(2^8) arithmetic and splits against
// vectors computed independently in Python (testdata/shamir/make_vectors.py),
// every k-subset reconstructing, k-1 shares failing verification, share
// texts and their checksums, the root.shamir record and the collector the
// server unseals with.

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/random.h"
#include "keys/shamir/gf256.h"
#include "keys/shamir/shamir.h"
#include "keys/shamir/shamir_root.h"
#include "testing/test_util.h"
#include "testing/testdata.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::Hex;
using ::strongroom::testing::LoadJson;
using ::strongroom::testing::ScratchDir;
using shamir::Point;

Bytes ToBytes(ByteView view) { return Bytes(view.begin(), view.end()); }
std::string Text(const crypto::SecretBytes& s) { return std::string(AsChars(s.reveal())); }

// All subsets of size k of {0..n-1}.
std::vector<std::vector<size_t>> Subsets(size_t n, size_t k) {
  std::vector<std::vector<size_t>> out;
  std::vector<bool> pick(n, false);
  std::fill(pick.begin(), pick.begin() + static_cast<long>(k), true);
  do {
    std::vector<size_t> subset;
    for (size_t i = 0; i < n; ++i) {
      if (pick[i]) subset.push_back(i);
    }
    out.push_back(subset);
  } while (std::prev_permutation(pick.begin(), pick.end()));
  return out;
}

std::vector<Point> Pick(const std::vector<Point>& points, const std::vector<size_t>& which) {
  std::vector<Point> out;
  for (size_t i : which) {
    out.push_back(Point{points[i].x, crypto::SecretBytes::CopyFrom(points[i].y.reveal())});
  }
  return out;
}

TEST(Gf256Test, ProductsMatchTheIndependentVectors) {
  auto vectors = LoadJson("shamir/vectors.json");
  ASSERT_GE(vectors["gf_mul"].size(), 200u);
  for (const auto& entry : vectors["gf_mul"]) {
    Bytes abp = Hex(entry.get<std::string>());
    ASSERT_EQ(abp.size(), 3u);
    EXPECT_EQ(shamir::GfMul(abp[0], abp[1]), abp[2]) << entry;
  }
  Bytes inverses = Hex(vectors["gf_inv"].get<std::string>());
  ASSERT_EQ(inverses.size(), 256u);
  for (unsigned a = 0; a < 256; ++a) {
    EXPECT_EQ(shamir::GfInv(static_cast<uint8_t>(a)), inverses[a]) << a;
  }
}

TEST(Gf256Test, FieldLaws) {
  for (unsigned a = 0; a < 256; ++a) {
    auto x = static_cast<uint8_t>(a);
    EXPECT_EQ(shamir::GfMul(x, 1), x);
    EXPECT_EQ(shamir::GfMul(x, 0), 0);
    if (a != 0) {
      EXPECT_EQ(shamir::GfMul(x, shamir::GfInv(x)), 1) << a;
    }
    for (unsigned b = 0; b < 256; b += 7) {
      auto y = static_cast<uint8_t>(b);
      EXPECT_EQ(shamir::GfMul(x, y), shamir::GfMul(y, x));
      // Distributive over XOR.
      EXPECT_EQ(shamir::GfMul(x, static_cast<uint8_t>(y ^ 0x35)),
                shamir::GfMul(x, y) ^ shamir::GfMul(x, 0x35));
    }
  }
}

TEST(ShamirTest, SplitsMatchTheIndependentVectors) {
  auto vectors = LoadJson("shamir/vectors.json");
  ASSERT_GE(vectors["cases"].size(), 4u);
  for (const auto& c : vectors["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    Bytes secret = Hex(c["secret"].get<std::string>());
    unsigned n = c["shares"], k = c["threshold"];
    auto points = shamir::SplitWithCoefficients(secret, n, k, Hex(c["coefficients"]));
    ASSERT_TRUE(points) << points.error().ToString();
    ASSERT_EQ(points->size(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ((*points)[i].x, c["points"][i]["x"].get<unsigned>());
      EXPECT_EQ(HexEncode((*points)[i].y.reveal()), c["points"][i]["y"].get<std::string>());
    }
    // Every k-subset gives the secret back.
    for (const auto& subset : Subsets(n, k)) {
      auto secret_again = shamir::Interpolate(Pick(*points, subset));
      ASSERT_TRUE(secret_again);
      EXPECT_EQ(ToBytes(secret_again->reveal()), secret);
    }
    if (c.contains("interpolated_from_first_k_minus_1")) {
      std::vector<size_t> first;
      for (size_t i = 0; i + 1 < k; ++i) first.push_back(i);
      auto below = shamir::Interpolate(Pick(*points, first));
      ASSERT_TRUE(below);
      EXPECT_EQ(HexEncode(below->reveal()), c["interpolated_from_first_k_minus_1"]);
      EXPECT_NE(ToBytes(below->reveal()), secret);
    }
    if (c.contains("texts")) {
      auto check = shamir::KeyCheckOf(secret);
      ASSERT_TRUE(check);
      EXPECT_EQ(HexEncode(*check), c["key_check"]);
      for (size_t i = 0; i < n; ++i) {
        shamir::Share share{static_cast<uint8_t>(k), (*points)[i].x, *check,
                            crypto::SecretBytes::CopyFrom((*points)[i].y.reveal())};
        auto text = shamir::EncodeShare(share);
        ASSERT_TRUE(text);
        EXPECT_EQ(Text(*text), c["texts"][i].get<std::string>());
        auto parsed = shamir::ParseShare(AsBytes(c["texts"][i].get<std::string>()));
        ASSERT_TRUE(parsed) << parsed.error().ToString();
        EXPECT_EQ(parsed->x, i + 1);
        EXPECT_EQ(parsed->threshold, k);
        EXPECT_EQ(parsed->key_check, *check);
        EXPECT_EQ(ToBytes(parsed->payload.reveal()), ToBytes((*points)[i].y.reveal()));
      }
      auto info = MakeShamirRootInfo(secret, n, k);
      ASSERT_TRUE(info);
      EXPECT_EQ(HexEncode(info->root_check), c["root_root_check"]);
      EXPECT_EQ(FormatShamirRootFile(*info), c["root_file"].get<std::string>());
      auto reparsed = ParseShamirRootFile(c["root_file"].get<std::string>());
      ASSERT_TRUE(reparsed);
      EXPECT_EQ(reparsed->root_check, info->root_check);
      EXPECT_EQ(reparsed->key_check, info->key_check);
      EXPECT_EQ(reparsed->threshold, k);
      EXPECT_EQ(reparsed->shares, n);
    }
  }
}

TEST(ShamirTest, RandomThreeOfFiveEverySubsetAndNothingBelow) {
  Bytes root = ::strongroom::testing::Pattern(32, 5);
  auto info = MakeShamirRootInfo(root, 5, 3);
  ASSERT_TRUE(info);
  auto points = shamir::Split(root, 5, 3);
  ASSERT_TRUE(points);
  for (const auto& subset : Subsets(5, 3)) {
    auto combined = shamir::Interpolate(Pick(*points, subset));
    ASSERT_TRUE(combined);
    EXPECT_EQ(ToBytes(combined->reveal()), root);
    EXPECT_TRUE(VerifyShamirRoot(*info, combined->reveal()));
  }
  // Every pair (k - 1 = 2 shares) yields something that fails verification.
  for (const auto& subset : Subsets(5, 2)) {
    auto combined = shamir::Interpolate(Pick(*points, subset));
    ASSERT_TRUE(combined);
    EXPECT_NE(ToBytes(combined->reveal()), root);
    EXPECT_TRUE(FailsWith(VerifyShamirRoot(*info, combined->reveal()),
                          ErrorCode::kUnauthenticated));
  }
  // Fresh coefficients each time: two splits of one secret differ.
  auto again = shamir::Split(root, 5, 3);
  ASSERT_TRUE(again);
  EXPECT_NE(ToBytes((*again)[0].y.reveal()), ToBytes((*points)[0].y.reveal()));
}

TEST(ShamirTest, ParametersAreChecked) {
  Bytes secret(32, 1);
  EXPECT_TRUE(FailsWith(shamir::Split(secret, 5, 1), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(shamir::Split(secret, 3, 4), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(shamir::Split(secret, 256, 3), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(shamir::Split({}, 3, 2), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(shamir::Split(secret, 255, 255));
  std::vector<Point> twice;
  twice.push_back(Point{1, crypto::SecretBytes(32)});
  twice.push_back(Point{1, crypto::SecretBytes(32)});
  EXPECT_TRUE(FailsWith(shamir::Interpolate(twice), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(shamir::Interpolate({}), ErrorCode::kInvalidArgument));
}

class ShareTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vectors = LoadJson("shamir/vectors.json");
    for (const auto& c : vectors["cases"]) {
      if (c["name"] == "root 3 of 5") {
        for (const auto& t : c["texts"]) texts_.push_back(t.get<std::string>());
        root_ = Hex(c["secret"].get<std::string>());
        file_ = c["root_file"].get<std::string>();
      }
      if (c["name"] == "root 5 of 5") {
        for (const auto& t : c["texts"]) other_texts_.push_back(t.get<std::string>());
      }
    }
    ASSERT_EQ(texts_.size(), 5u);
    auto info = ParseShamirRootFile(file_);
    ASSERT_TRUE(info);
    info_ = *info;
  }
  std::vector<std::string> texts_, other_texts_;
  Bytes root_;
  std::string file_;
  ShamirRootInfo info_;
};

TEST_F(ShareTextTest, EveryMistypedCharacterIsCaughtByTheChecksum) {
  const std::string& good = texts_[1];
  // Key check, payload and checksum: every hex digit replaced by another.
  size_t first_hex = good.find('-', good.find("-x") + 1) + 1;
  int caught = 0;
  for (size_t i = first_hex; i < good.size(); ++i) {
    if (good[i] == '-') continue;
    std::string typo = good;
    typo[i] = good[i] == '0' ? '1' : '0';
    auto parsed = shamir::ParseShare(AsBytes(typo));
    EXPECT_TRUE(FailsWith(parsed, ErrorCode::kDataLoss)) << i;
    if (!parsed) {
      // The message names the share but never quotes its text.
      EXPECT_EQ(parsed.error().message().find(typo.substr(first_hex, 16)), std::string::npos);
    }
    ++caught;
  }
  EXPECT_GT(caught, 70);
  // The index and threshold are covered too.
  std::string other_x = good;
  other_x.replace(other_x.find("-x2-"), 4, "-x4-");
  EXPECT_TRUE(FailsWith(shamir::ParseShare(AsBytes(other_x)), ErrorCode::kDataLoss));
  std::string other_k = good;
  other_k.replace(other_k.find("-k3-"), 4, "-k4-");
  EXPECT_TRUE(FailsWith(shamir::ParseShare(AsBytes(other_k)), ErrorCode::kDataLoss));
}

TEST_F(ShareTextTest, SpellingsAndMalformedTexts) {
  std::string upper = texts_[0];
  std::transform(upper.begin() + upper.find('-', 16), upper.end(), upper.begin() +
                 upper.find('-', 16), [](char c) { return c >= 'a' && c <= 'f' ? c - 32 : c; });
  EXPECT_TRUE(shamir::ParseShare(AsBytes("  " + upper + "\r\n"))) << upper;
  for (std::string bad : {std::string(""), std::string("hello"), texts_[0].substr(1),
                          "srshare2" + texts_[0].substr(8), texts_[0] + "-00",
                          texts_[0].substr(0, texts_[0].size() - 2),
                          std::string("srshare1-k1-x1-00000000-00-00000000"),
                          std::string("srshare1-k3-x0-00000000-00-00000000"),
                          std::string("srshare1-k03-x1-00000000-00-00000000")}) {
    EXPECT_TRUE(FailsWith(shamir::ParseShare(AsBytes(bad)), ErrorCode::kInvalidArgument)) << bad;
  }
}

TEST_F(ShareTextTest, CollectorCountsValidSharesAndUnsealsAtTheThreshold) {
  ShareCollector collector(info_);
  auto first = collector.Add(AsBytes(texts_[4]));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->received, 1u);
  EXPECT_EQ(first->threshold, 3u);
  EXPECT_EQ(first->x, 5);
  EXPECT_FALSE(first->root);

  // Rejected without counting: the same share again, a typo, another keyring.
  EXPECT_TRUE(FailsWith(collector.Add(AsBytes(texts_[4])), ErrorCode::kAlreadyExists));
  std::string typo = texts_[0];
  typo[typo.size() - 20] = typo[typo.size() - 20] == 'a' ? 'b' : 'a';
  EXPECT_TRUE(FailsWith(collector.Add(AsBytes(typo)), ErrorCode::kDataLoss));
  EXPECT_TRUE(FailsWith(collector.Add(AsBytes(other_texts_[0])), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(collector.Add(AsBytes("garbage")), ErrorCode::kInvalidArgument));
  EXPECT_EQ(collector.received(), 1u);

  auto second = collector.Add(AsBytes(texts_[0]));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->received, 2u);
  EXPECT_FALSE(second->root);  // k - 1 shares: still sealed

  auto third = collector.Add(AsBytes(texts_[2]));
  ASSERT_TRUE(third) << third.error().ToString();
  ASSERT_TRUE(third->root);
  EXPECT_EQ(ToBytes(third->root->reveal()), root_);
  EXPECT_EQ(collector.received(), 0u);  // the shares are gone
}

TEST_F(ShareTextTest, SharesOfAnotherSplitOfTheSameRootFailVerificationAndReset) {
  // A second split of the same root: same key check, other polynomials.
  auto points = shamir::Split(root_, 5, 3);
  ASSERT_TRUE(points);
  shamir::Share foreign{3, (*points)[1].x, info_.key_check,
                        crypto::SecretBytes::CopyFrom((*points)[1].y.reveal())};
  auto foreign_text = shamir::EncodeShare(foreign);
  ASSERT_TRUE(foreign_text);

  ShareCollector collector(info_);
  ASSERT_TRUE(collector.Add(AsBytes(texts_[0])));
  ASSERT_TRUE(collector.Add(foreign_text->reveal()));
  EXPECT_TRUE(FailsWith(collector.Add(AsBytes(texts_[3])), ErrorCode::kUnauthenticated));
  EXPECT_EQ(collector.received(), 0u);
  // Starting again with good shares works.
  ASSERT_TRUE(collector.Add(AsBytes(texts_[0])));
  ASSERT_TRUE(collector.Add(AsBytes(texts_[1])));
  auto done = collector.Add(AsBytes(texts_[3]));
  ASSERT_TRUE(done);
  ASSERT_TRUE(done->root);
  EXPECT_EQ(ToBytes(done->root->reveal()), root_);
}

TEST_F(ShareTextTest, AnIndexBeyondTheShareCountIsRefused) {
  ShamirRootInfo fewer = info_;
  fewer.shares = 4;
  ShareCollector collector(fewer);
  EXPECT_TRUE(FailsWith(collector.Add(AsBytes(texts_[4])), ErrorCode::kInvalidArgument));
}

TEST(ShamirRootTest, CreateWritesOnlyTheCheckRecord) {
  ScratchDir dir;
  std::string key_dir = dir.path() + "/keys";
  EXPECT_FALSE(ShamirRootExists(key_dir));
  auto created = CreateShamirRoot(key_dir, 5, 3);
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_TRUE(ShamirRootExists(key_dir));
  ASSERT_EQ(created->shares.size(), 5u);
  EXPECT_EQ(created->root.size(), 32u);

  std::string path = key_dir + "/root.shamir";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(key_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  EXPECT_EQ(text.find(HexEncode(created->root.reveal())), std::string::npos);
  for (const auto& share : created->shares) {
    auto parsed = shamir::ParseShare(share.reveal());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(text.find(HexEncode(parsed->payload.reveal())), std::string::npos);
  }

  auto info = ReadShamirRoot(key_dir);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->threshold, 3u);
  EXPECT_EQ(info->shares, 5u);
  ShareCollector collector(*info);
  ASSERT_TRUE(collector.Add(created->shares[4].reveal()));
  ASSERT_TRUE(collector.Add(created->shares[1].reveal()));
  auto done = collector.Add(created->shares[2].reveal());
  ASSERT_TRUE(done);
  ASSERT_TRUE(done->root);
  EXPECT_EQ(ToBytes(done->root->reveal()), ToBytes(created->root.reveal()));

  EXPECT_TRUE(FailsWith(CreateShamirRoot(key_dir, 5, 3), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(FailsWith(CreateShamirRoot(dir.path() + "/other", 2, 3),
                        ErrorCode::kInvalidArgument));
  ASSERT_EQ(::chmod(path.c_str(), 0620), 0);
  EXPECT_TRUE(FailsWith(ReadShamirRoot(key_dir), ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(ReadShamirRoot(dir.path() + "/none"), ErrorCode::kNotFound));
}

TEST(ShamirRootTest, MalformedRecordsAreDataLoss) {
  auto info = MakeShamirRootInfo(Bytes(32, 9), 3, 2);
  ASSERT_TRUE(info);
  std::string good = FormatShamirRootFile(*info);
  ASSERT_TRUE(ParseShamirRootFile(good));
  for (std::string bad : {std::string(""), good.substr(0, good.size() - 1), good + "extra\n",
                          std::string("strongroom-shamir-root 2") + good.substr(24)}) {
    EXPECT_TRUE(FailsWith(ParseShamirRootFile(bad), ErrorCode::kDataLoss)) << bad;
  }
  std::string swapped = good;
  swapped.replace(swapped.find("threshold 2"), 11, "threshold 4");
  EXPECT_TRUE(FailsWith(ParseShamirRootFile(swapped), ErrorCode::kDataLoss));
}

}  // namespace
}  // namespace strongroom::keys
