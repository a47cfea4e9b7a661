// SPDX-License-Identifier: Apache-2.0
#include "base/bytes.h"

#include <algorithm>

namespace strongroom {

std::string HexEncode(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
    uint8_t b = byte(i);
    size_t length;
    uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      length = 2;
      cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
      length = 3;
      cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
      length = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((byte(i + k) & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (byte(i + k) & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

void AppendBe16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void AppendBe32(Bytes& out, uint32_t v) {
  uint8_t b[4];
  StoreBe32(b, v);
  out.insert(out.end(), b, b + 4);
}
void AppendBe64(Bytes& out, uint64_t v) {
  uint8_t b[8];
  StoreBe64(b, v);
  out.insert(out.end(), b, b + 8);
}
uint16_t LoadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t LoadBe64(const uint8_t* p) { return (uint64_t{LoadBe32(p)} << 32) | LoadBe32(p + 4); }
void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
void StoreBe64(uint8_t* p, uint64_t v) {
  StoreBe32(p, static_cast<uint32_t>(v >> 32));
  StoreBe32(p + 4, static_cast<uint32_t>(v));
}

bool ByteReader::ReadU8(uint8_t& v) {
  if (remaining() < 1) return false;
  v = data_[offset_++];
  return true;
}
bool ByteReader::ReadBe16(uint16_t& v) {
  if (remaining() < 2) return false;
  v = LoadBe16(data_.data() + offset_);
  offset_ += 2;
  return true;
}
bool ByteReader::ReadBe32(uint32_t& v) {
  if (remaining() < 4) return false;
  v = LoadBe32(data_.data() + offset_);
  offset_ += 4;
  return true;
}
bool ByteReader::ReadBe64(uint64_t& v) {
  if (remaining() < 8) return false;
  v = LoadBe64(data_.data() + offset_);
  offset_ += 8;
  return true;
}
bool ByteReader::ReadBytes(size_t n, ByteView& v) {
  if (remaining() < n) return false;
  v = data_.subspan(offset_, n);
  offset_ += n;
  return true;
}
bool ByteReader::ReadInto(MutableByteView out) {
  ByteView v;
  if (!ReadBytes(out.size(), v)) return false;
  std::copy(v.begin(), v.end(), out.begin());
  return true;
}

}  // namespace strongroom
