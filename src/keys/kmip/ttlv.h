// SPDX-License-Identifier: Apache-2.0
#pragma once

// KMIP's Tag-Type-Length-Value encoding (KMIP 1.4 §9.1), written here.
//
// Every item is tag (3 bytes) ‖ type (1) ‖ length (4, big-endian) ‖ value,
// with the value padded with zeros to a multiple of 8 bytes. A Structure's
// value is the concatenation of its items. Integers, enumerations and
// intervals are 4 bytes (+4 pad); long integers, booleans and date-times 8.
//
// An Item is a small tree. Byte and text strings may hold key material
// (a Get's KeyMaterial, a Decrypt's Data), so their storage is wiped when an
// Item is destroyed.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::keys::kmip {

enum class ItemType : uint8_t {
  kStructure = 0x01,
  kInteger = 0x02,
  kLongInteger = 0x03,
  kBigInteger = 0x04,
  kEnumeration = 0x05,
  kBoolean = 0x06,
  kTextString = 0x07,
  kByteString = 0x08,
  kDateTime = 0x09,
  kInterval = 0x0A,
};

// "Structure", "Integer", ...
std::string_view ItemTypeName(ItemType type);

class Item {
 public:
  // Constructors, one per type. Tags are 24-bit (0x42xxxx for KMIP's own).
  static Item Structure(uint32_t tag, std::vector<Item> children = {});
  static Item Integer(uint32_t tag, int32_t value);
  static Item LongInteger(uint32_t tag, int64_t value);
  static Item BigInteger(uint32_t tag, ByteView twos_complement);  // length multiple of 8
  static Item Enumeration(uint32_t tag, uint32_t value);
  static Item Boolean(uint32_t tag, bool value);
  static Item TextString(uint32_t tag, std::string_view value);
  static Item ByteString(uint32_t tag, ByteView value);
  static Item DateTime(uint32_t tag, int64_t seconds_since_epoch);
  static Item Interval(uint32_t tag, uint32_t seconds);

  Item(const Item& other);
  Item& operator=(const Item& other);
  Item(Item&& other) noexcept;
  Item& operator=(Item&& other) noexcept;
  ~Item();

  uint32_t tag() const { return tag_; }
  ItemType type() const { return type_; }

  // Scalars. Meaningful only for the matching type (checked by the caller
  // through type(); the accessors do not check).
  int64_t integer() const { return number_; }  // Integer, LongInteger, DateTime
  uint32_t enumeration() const { return static_cast<uint32_t>(number_); }  // Enumeration, Interval
  bool boolean() const { return number_ != 0; }
  // TextString, ByteString, BigInteger.
  ByteView bytes() const { return bytes_; }
  std::string_view text() const { return AsChars(bytes_); }

  // Structure children, in order.
  const std::vector<Item>& children() const { return children_; }
  Item& Add(Item child);

  // The first child with `tag`, or nullptr.
  const Item* Find(uint32_t tag) const;
  // Every child with `tag`, in order.
  std::vector<const Item*> FindAll(uint32_t tag) const;

  // Encoded size of this item including header and padding.
  size_t EncodedSize() const;

  // An indented tree for tests and debugging. Byte strings longer than
  // 0 bytes are shown as hex only if `show_bytes` (never for key material).
  std::string DebugString(bool show_bytes = false) const;

 private:
  Item(uint32_t tag, ItemType type) : tag_(tag), type_(type) {}
  void WipeBytes();

  uint32_t tag_ = 0;
  ItemType type_ = ItemType::kStructure;
  int64_t number_ = 0;
  Bytes bytes_;
  std::vector<Item> children_;
};

// Appends the encoding of `item` to `out`.
void EncodeTo(const Item& item, Bytes& out);
Bytes Encode(const Item& item);

// Limits for decoding untrusted input.
inline constexpr size_t kMaxDepth = 16;
inline constexpr size_t kMaxItems = 4096;

// Decodes exactly one item that spans all of `data`. Strict: fixed-size
// types must have their fixed length, booleans are 0 or 1, padding must be
// zero, a structure's children must fill it exactly, nesting and item count
// are bounded. kInvalidArgument on any violation.
Result<Item> Decode(ByteView data);

// The length a message with this 8-byte header occupies in total
// (header + value), for framing on a stream. kInvalidArgument if `header`
// does not start a Structure.
Result<size_t> FramedLength(ByteView header);

}  // namespace strongroom::keys::kmip
