// SPDX-License-Identifier: Apache-2.0
// The TTLV codec on hand-made inputs: exact encodings, and every way the
// strict decoder must refuse malformed input.

#include "keys/kmip/ttlv.h"

#include <string>

#include <gtest/gtest.h>

#include "testing/test_util.h"
#include "testing/testdata.h"

namespace strongroom::keys::kmip {
namespace {

using strongroom::testing::FailsWith;
using strongroom::testing::Hex;

std::string EncodedHex(const Item& item) { return HexEncode(Encode(item)); }

TEST(Ttlv, EncodesEachType) {
  // Integer, enumeration and interval: 4 value bytes + 4 zero pad bytes.
  EXPECT_EQ(EncodedHex(Item::Integer(0x42000D, 8)), "42000d02000000040000000800000000");
  EXPECT_EQ(EncodedHex(Item::Integer(0x42000D, -1)), "42000d0200000004ffffffff00000000");
  EXPECT_EQ(EncodedHex(Item::Enumeration(0x42005C, 0x1E)), "42005c05000000040000001e00000000");
  EXPECT_EQ(EncodedHex(Item::Interval(0x420300, 16)), "4203000a000000040000001000000000");
  // Long integer, boolean, date-time: 8 bytes, no pad.
  EXPECT_EQ(EncodedHex(Item::LongInteger(0x420001, 0x0102030405060708)),
            "42000103000000080102030405060708");
  EXPECT_EQ(EncodedHex(Item::Boolean(0x420120, true)), "42012006000000080000000000000001");
  EXPECT_EQ(EncodedHex(Item::Boolean(0x420120, false)), "42012006000000080000000000000000");
  EXPECT_EQ(EncodedHex(Item::DateTime(0x420092, 1795322348)), "4200920900000008000000006b0271ec");
  // Strings: the length is the unpadded length, the value padded to 8.
  EXPECT_EQ(EncodedHex(Item::TextString(0x42000A, "Name")), "42000a07000000044e616d6500000000");
  EXPECT_EQ(EncodedHex(Item::TextString(0x42000A, "abcdefgh")), "42000a07000000086162636465666768");
  EXPECT_EQ(EncodedHex(Item::ByteString(0x4200C2, {})), "4200c20800000000");
  const Bytes nine = Hex("010203040506070809");
  EXPECT_EQ(EncodedHex(Item::ByteString(0x4200C2, nine)),
            "4200c2080000000901020304050607080900000000000000");
  EXPECT_EQ(EncodedHex(Item::BigInteger(0x420004, Hex("00000000000000ff"))),
            "4200040400000008" "00000000000000ff");
  // A structure's length counts its children, padding included.
  const Item version = Item::Structure(
      0x420069, {Item::Integer(0x42006A, 1), Item::Integer(0x42006B, 4)});
  EXPECT_EQ(EncodedHex(version),
            "420069010000002042006a0200000004000000010000000042006b02000000040000000400000000");
  EXPECT_EQ(version.EncodedSize(), 40u);
}

TEST(Ttlv, RoundTripsATree) {
  Item root = Item::Structure(0x420078);
  Item& inner = root.Add(Item::Structure(0x420077));
  inner.Add(Item::Integer(0x42000D, 3));
  inner.Add(Item::TextString(0x42000A, "Cryptographic Usage Mask"));  // 24 chars: no pad
  inner.Add(Item::TextString(0x42000A, "héllo"));
  root.Add(Item::ByteString(0x4200C2, strongroom::testing::Pattern(37, 1)));
  root.Add(Item::LongInteger(0x420003, -5));
  root.Add(Item::Boolean(0x420120, true));
  root.Add(Item::Structure(0x420079));  // empty structure
  const Bytes encoded = Encode(root);
  EXPECT_EQ(encoded.size(), root.EncodedSize());
  auto decoded = Decode(encoded);
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  EXPECT_EQ(Encode(*decoded), encoded);
  ASSERT_EQ(decoded->children().size(), 5u);
  EXPECT_EQ(decoded->children()[0].Find(0x42000D)->integer(), 3);
  EXPECT_EQ(decoded->children()[0].FindAll(0x42000A).size(), 2u);
  EXPECT_EQ(decoded->children()[0].FindAll(0x42000A)[1]->text(), "héllo");
  EXPECT_EQ(decoded->children()[2].integer(), -5);
  EXPECT_TRUE(decoded->children()[3].boolean());
  EXPECT_EQ(decoded->Find(0x4200C2)->bytes().size(), 37u);
  EXPECT_EQ(decoded->Find(0x123456), nullptr);
}

TEST(Ttlv, DebugStringHidesBytesUnlessAsked) {
  const Item item = Item::Structure(0x420045, {Item::ByteString(0x420043, Hex("a1b2c3"))});
  EXPECT_EQ(item.DebugString().find("a1b2c3"), std::string::npos);
  EXPECT_NE(item.DebugString().find("(3 bytes)"), std::string::npos);
  EXPECT_NE(item.DebugString(true).find("a1b2c3"), std::string::npos);
}

void ExpectRejected(const std::string& hex, const std::string& why) {
  auto decoded = Decode(Hex(hex));
  EXPECT_TRUE(FailsWith(decoded, ErrorCode::kInvalidArgument)) << why;
  if (!decoded) {
    EXPECT_NE(decoded.error().message().find("kmip ttlv"), std::string::npos);
  }
}

TEST(Ttlv, RejectsMalformedInput) {
  ExpectRejected("", "empty");
  ExpectRejected("42000d02000000", "truncated header");
  ExpectRejected("42000d020000000400000008", "truncated value");
  ExpectRejected("42000d02000000080000000800000000", "integer with length 8");
  ExpectRejected("42000103000000040000000100000000", "long integer with length 4");
  ExpectRejected("42000d02000000040000000800000001", "non-zero integer padding");
  ExpectRejected("42000d0000000000", "type 0");
  ExpectRejected("42000d0b000000080000000000000000", "type 0x0B (2.0 only)");
  ExpectRejected("42012006000000080000000000000002", "boolean 2");
  ExpectRejected("42000a0700000002c328000000000000", "text that is not UTF-8");
  ExpectRejected("42000a07000000036162630000000001", "non-zero string padding");
  ExpectRejected("4200c2080000001801020304050607080000000000000000", "byte string past the end");
  ExpectRejected("4200040400000004000000ff00000000", "big integer not a multiple of 8");
  ExpectRejected("420069010000000442006a02", "structure length not a multiple of 8");
  ExpectRejected("420069010000000842006a02000000040000000100000000",
                 "child runs past its structure");
  ExpectRejected("42000d020000000400000008000000000000000000000000", "trailing bytes");
}

TEST(Ttlv, BoundsNestingAndItemCount) {
  Item deep = Item::Integer(0x420001, 1);
  for (size_t i = 0; i < kMaxDepth + 1; ++i) deep = Item::Structure(0x420002, {deep});
  EXPECT_TRUE(FailsWith(Decode(Encode(deep)), ErrorCode::kInvalidArgument));

  Item ok_depth = Item::Integer(0x420001, 1);
  for (size_t i = 0; i < kMaxDepth; ++i) ok_depth = Item::Structure(0x420002, {ok_depth});
  EXPECT_TRUE(Decode(Encode(ok_depth)).has_value());

  Item wide = Item::Structure(0x420002);
  for (size_t i = 0; i < kMaxItems; ++i) wide.Add(Item::Integer(0x420001, 1));
  EXPECT_TRUE(FailsWith(Decode(Encode(wide)), ErrorCode::kInvalidArgument));
}

TEST(Ttlv, FramedLength) {
  auto n = FramedLength(Hex("42007b0100000170"));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 0x170u + 8);
  EXPECT_TRUE(FailsWith(FramedLength(Hex("42007b02000000")), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(FramedLength(Hex("42007b0200000004")), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(FramedLength(Hex("42007b0100000171")), ErrorCode::kInvalidArgument));
}

TEST(Ttlv, CopiesAndMovesKeepContent) {
  Item a = Item::Structure(0x420045, {Item::ByteString(0x420043, Hex("0102"))});
  Item b = a;
  EXPECT_EQ(Encode(a), Encode(b));
  Item c = std::move(b);
  EXPECT_EQ(Encode(a), Encode(c));
  c = a.children()[0];
  EXPECT_EQ(HexEncode(c.bytes()), "0102");
  a = std::move(c);
  EXPECT_EQ(a.type(), ItemType::kByteString);
}

}  // namespace
}  // namespace strongroom::keys::kmip
