// SPDX-License-Identifier: Apache-2.0
#include "base/bytes.h"

#include <gtest/gtest.h>

#include "base/io.h"

namespace strongroom {
namespace {

TEST(BytesTest, HexRoundTrips) {
  Bytes data = {0x00, 0x7f, 0x80, 0xff};
  EXPECT_EQ(HexEncode(data), "007f80ff");
  EXPECT_EQ(*HexDecode("007F80ff"), data);
}

TEST(BytesTest, HexDecodeRejectsOddLengthAndNonHex) {
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(BytesTest, BigEndianRoundTrips) {
  Bytes out;
  AppendBe16(out, 0x0102);
  AppendBe32(out, 0x03040506);
  AppendBe64(out, 0x0708090a0b0c0d0eULL);
  ASSERT_EQ(out.size(), 14u);
  EXPECT_EQ(out[0], 0x01);
  ByteReader reader(out);
  uint16_t a;
  uint32_t b;
  uint64_t c;
  ASSERT_TRUE(reader.ReadBe16(a));
  ASSERT_TRUE(reader.ReadBe32(b));
  ASSERT_TRUE(reader.ReadBe64(c));
  EXPECT_EQ(a, 0x0102);
  EXPECT_EQ(b, 0x03040506u);
  EXPECT_EQ(c, 0x0708090a0b0c0d0eULL);
  EXPECT_EQ(reader.remaining(), 0u);
}

TEST(BytesTest, ByteReaderRefusesToReadPastTheEnd) {
  Bytes data = {1, 2, 3};
  ByteReader reader(data);
  uint32_t v;
  EXPECT_FALSE(reader.ReadBe32(v));
  ByteView view;
  EXPECT_FALSE(reader.ReadBytes(4, view));
  EXPECT_TRUE(reader.ReadBytes(3, view));
  EXPECT_EQ(reader.remaining(), 0u);
}

TEST(IoTest, ReadFullCollectsShortReads) {
  Bytes data(100, 7);
  ByteViewSource source(data);
  Bytes out(150);
  auto n = ReadFull(source, out);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 100u);
}

TEST(IoTest, RandomAccessReadPastEndIsOutOfRange) {
  Bytes data(10);
  ByteViewRandomAccessSource source(data);
  Bytes out(5);
  EXPECT_TRUE(source.ReadAt(5, out).has_value());
  auto r = source.ReadAt(6, out);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace strongroom
