// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strongroom {

// Owned and borrowed byte sequences. ByteView never owns; it must not outlive
// the storage it points into.
using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
using MutableByteView = std::span<uint8_t>;

// A fixed-size heap buffer whose bytes start uninitialised: unlike Bytes,
// creating a large one touches no pages, so a 1 MiB buffer used for a 4 KiB
// request costs one page, not 256 page faults and a memset.
class Buffer {
 public:
  explicit Buffer(size_t size) : data_(new uint8_t[size]), size_(size) {}
  size_t size() const { return size_; }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  MutableByteView view() { return {data_.get(), size_}; }
  ByteView view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_;
};

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsChars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lowercase hexadecimal.
std::string HexEncode(ByteView data);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<Bytes> HexDecode(std::string_view hex);

// True if `text` is well-formed UTF-8 (no overlong forms, surrogates or
// code points above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Big-endian fixed-width integers, as every strongroom format uses them.
void AppendBe16(Bytes& out, uint16_t v);
void AppendBe32(Bytes& out, uint32_t v);
void AppendBe64(Bytes& out, uint64_t v);
inline void Append(Bytes& out, ByteView data) { out.insert(out.end(), data.begin(), data.end()); }
uint16_t LoadBe16(const uint8_t* p);
uint32_t LoadBe32(const uint8_t* p);
uint64_t LoadBe64(const uint8_t* p);
void StoreBe32(uint8_t* p, uint32_t v);
void StoreBe64(uint8_t* p, uint64_t v);

// A cursor over untrusted input: every read is bounds-checked and reports
// failure instead of reading past the end. Used by the format parsers.
class ByteReader {
 public:
  explicit ByteReader(ByteView data) : data_(data) {}

  bool ReadU8(uint8_t& v);
  bool ReadBe16(uint16_t& v);
  bool ReadBe32(uint32_t& v);
  bool ReadBe64(uint64_t& v);
  // Borrows the next `n` bytes.
  bool ReadBytes(size_t n, ByteView& v);
  // Copies the next out.size() bytes.
  bool ReadInto(MutableByteView out);

  size_t offset() const { return offset_; }
  size_t remaining() const { return data_.size() - offset_; }
  // The bytes consumed so far.
  ByteView consumed() const { return data_.first(offset_); }

 private:
  ByteView data_;
  size_t offset_ = 0;
};

}  // namespace strongroom
