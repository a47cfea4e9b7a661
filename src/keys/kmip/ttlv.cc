// SPDX-License-Identifier: Apache-2.0
#include "keys/kmip/ttlv.h"

#include <cstdio>

#include "crypto/secret_bytes.h"

namespace strongroom::keys::kmip {

namespace {

constexpr size_t kHeaderSize = 8;

size_t Padded(size_t n) { return (n + 7) & ~size_t{7}; }

bool HasBytes(ItemType type) {
  return type == ItemType::kTextString || type == ItemType::kByteString ||
         type == ItemType::kBigInteger;
}

// Length on the wire of a scalar of `type` (0 for variable-length types).
size_t FixedLength(ItemType type) {
  switch (type) {
    case ItemType::kInteger:
    case ItemType::kEnumeration:
    case ItemType::kInterval:
      return 4;
    case ItemType::kLongInteger:
    case ItemType::kBoolean:
    case ItemType::kDateTime:
      return 8;
    default:
      return 0;
  }
}

bool KnownType(uint8_t t) { return t >= 0x01 && t <= 0x0A; }

}  // namespace

std::string_view ItemTypeName(ItemType type) {
  switch (type) {
    case ItemType::kStructure: return "Structure";
    case ItemType::kInteger: return "Integer";
    case ItemType::kLongInteger: return "LongInteger";
    case ItemType::kBigInteger: return "BigInteger";
    case ItemType::kEnumeration: return "Enumeration";
    case ItemType::kBoolean: return "Boolean";
    case ItemType::kTextString: return "TextString";
    case ItemType::kByteString: return "ByteString";
    case ItemType::kDateTime: return "DateTime";
    case ItemType::kInterval: return "Interval";
  }
  return "Unknown";
}

// ---- Item -------------------------------------------------------------------

Item Item::Structure(uint32_t tag, std::vector<Item> children) {
  Item item(tag, ItemType::kStructure);
  item.children_ = std::move(children);
  return item;
}
Item Item::Integer(uint32_t tag, int32_t value) {
  Item item(tag, ItemType::kInteger);
  item.number_ = value;
  return item;
}
Item Item::LongInteger(uint32_t tag, int64_t value) {
  Item item(tag, ItemType::kLongInteger);
  item.number_ = value;
  return item;
}
Item Item::BigInteger(uint32_t tag, ByteView twos_complement) {
  Item item(tag, ItemType::kBigInteger);
  item.bytes_.assign(twos_complement.begin(), twos_complement.end());
  return item;
}
Item Item::Enumeration(uint32_t tag, uint32_t value) {
  Item item(tag, ItemType::kEnumeration);
  item.number_ = value;
  return item;
}
Item Item::Boolean(uint32_t tag, bool value) {
  Item item(tag, ItemType::kBoolean);
  item.number_ = value ? 1 : 0;
  return item;
}
Item Item::TextString(uint32_t tag, std::string_view value) {
  Item item(tag, ItemType::kTextString);
  const ByteView b = AsBytes(value);
  item.bytes_.assign(b.begin(), b.end());
  return item;
}
Item Item::ByteString(uint32_t tag, ByteView value) {
  Item item(tag, ItemType::kByteString);
  item.bytes_.assign(value.begin(), value.end());
  return item;
}
Item Item::DateTime(uint32_t tag, int64_t seconds_since_epoch) {
  Item item(tag, ItemType::kDateTime);
  item.number_ = seconds_since_epoch;
  return item;
}
Item Item::Interval(uint32_t tag, uint32_t seconds) {
  Item item(tag, ItemType::kInterval);
  item.number_ = seconds;
  return item;
}

Item::Item(const Item& other) = default;
Item& Item::operator=(const Item& other) {
  if (this != &other) {
    WipeBytes();
    tag_ = other.tag_;
    type_ = other.type_;
    number_ = other.number_;
    bytes_ = other.bytes_;
    children_ = other.children_;
  }
  return *this;
}
Item::Item(Item&& other) noexcept = default;
Item& Item::operator=(Item&& other) noexcept {
  if (this != &other) {
    WipeBytes();
    tag_ = other.tag_;
    type_ = other.type_;
    number_ = other.number_;
    bytes_ = std::move(other.bytes_);
    children_ = std::move(other.children_);
  }
  return *this;
}
Item::~Item() { WipeBytes(); }

void Item::WipeBytes() {
  if (!bytes_.empty()) crypto::Cleanse(bytes_);
}

Item& Item::Add(Item child) {
  children_.push_back(std::move(child));
  return children_.back();
}

const Item* Item::Find(uint32_t tag) const {
  for (const Item& child : children_) {
    if (child.tag_ == tag) return &child;
  }
  return nullptr;
}

std::vector<const Item*> Item::FindAll(uint32_t tag) const {
  std::vector<const Item*> out;
  for (const Item& child : children_) {
    if (child.tag_ == tag) out.push_back(&child);
  }
  return out;
}

size_t Item::EncodedSize() const {
  if (type_ == ItemType::kStructure) {
    size_t total = kHeaderSize;
    for (const Item& child : children_) total += child.EncodedSize();
    return total;
  }
  if (HasBytes(type_)) return kHeaderSize + Padded(bytes_.size());
  return kHeaderSize + 8;
}

std::string Item::DebugString(bool show_bytes) const {
  std::string out;
  auto line = [&out](int depth, const Item& item, bool show) {
    char head[48];
    std::snprintf(head, sizeof(head), "%*s%06X %s", depth * 2, "", item.tag_,
                  std::string(ItemTypeName(item.type_)).c_str());
    out += head;
    switch (item.type_) {
      case ItemType::kStructure:
        break;
      case ItemType::kTextString:
        out += " '" + std::string(item.text()) + "'";
        break;
      case ItemType::kByteString:
      case ItemType::kBigInteger:
        out += show ? " " + HexEncode(item.bytes_)
                    : " (" + std::to_string(item.bytes_.size()) + " bytes)";
        break;
      case ItemType::kEnumeration:
      case ItemType::kInterval: {
        char v[16];
        std::snprintf(v, sizeof(v), " 0x%08X", item.enumeration());
        out += v;
        break;
      }
      case ItemType::kBoolean:
        out += item.boolean() ? " true" : " false";
        break;
      default:
        out += " " + std::to_string(item.number_);
        break;
    }
    out += "\n";
  };
  struct Walker {
    decltype(line)& emit;
    bool show;
    void Walk(const Item& item, int depth) {
      emit(depth, item, show);
      for (const Item& child : item.children()) Walk(child, depth + 1);
    }
  };
  Walker{line, show_bytes}.Walk(*this, 0);
  return out;
}

// ---- Encoding -----------------------------------------------------------------

void EncodeTo(const Item& item, Bytes& out) {
  const uint32_t tag = item.tag() & 0xFFFFFF;
  out.push_back(static_cast<uint8_t>(tag >> 16));
  out.push_back(static_cast<uint8_t>(tag >> 8));
  out.push_back(static_cast<uint8_t>(tag));
  out.push_back(static_cast<uint8_t>(item.type()));
  switch (item.type()) {
    case ItemType::kStructure: {
      const size_t length_at = out.size();
      AppendBe32(out, 0);
      const size_t start = out.size();
      for (const Item& child : item.children()) EncodeTo(child, out);
      StoreBe32(out.data() + length_at, static_cast<uint32_t>(out.size() - start));
      return;
    }
    case ItemType::kInteger:
    case ItemType::kEnumeration:
    case ItemType::kInterval:
      AppendBe32(out, 4);
      AppendBe32(out, static_cast<uint32_t>(item.integer()));
      AppendBe32(out, 0);
      return;
    case ItemType::kLongInteger:
    case ItemType::kDateTime:
    case ItemType::kBoolean:
      AppendBe32(out, 8);
      AppendBe64(out, static_cast<uint64_t>(item.integer()));
      return;
    case ItemType::kTextString:
    case ItemType::kByteString:
    case ItemType::kBigInteger: {
      const ByteView value = item.bytes();
      AppendBe32(out, static_cast<uint32_t>(value.size()));
      Append(out, value);
      out.resize(out.size() + (Padded(value.size()) - value.size()), 0);
      return;
    }
  }
}

Bytes Encode(const Item& item) {
  Bytes out;
  out.reserve(item.EncodedSize());
  EncodeTo(item, out);
  return out;
}

// ---- Decoding -----------------------------------------------------------------

namespace {

class Decoder {
 public:
  explicit Decoder(ByteView data) : data_(data) {}

  // Decodes the item at `pos`, which must end at or before `end`; advances pos.
  Result<Item> DecodeItem(size_t& pos, size_t end, size_t depth) {
    if (depth > kMaxDepth) return Bad(pos, "nesting deeper than " + std::to_string(kMaxDepth));
    if (++items_ > kMaxItems) return Bad(pos, "more than " + std::to_string(kMaxItems) + " items");
    if (end - pos < kHeaderSize) return Bad(pos, "truncated item header");
    const uint8_t* p = data_.data() + pos;
    const uint32_t tag = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    const uint8_t raw_type = p[3];
    const uint32_t length = LoadBe32(p + 4);
    if (!KnownType(raw_type)) return Bad(pos, "unknown item type " + std::to_string(raw_type));
    const auto type = static_cast<ItemType>(raw_type);
    const size_t value_at = pos + kHeaderSize;
    const size_t fixed = FixedLength(type);
    if (fixed != 0 && length != fixed) {
      return Bad(pos, std::string(ItemTypeName(type)) + " with length " + std::to_string(length));
    }
    const size_t padded = type == ItemType::kStructure ? length : Padded(length);
    const size_t occupied = fixed == 4 ? 8 : padded;
    if (type == ItemType::kStructure && length % 8 != 0) {
      return Bad(pos, "structure length not a multiple of 8");
    }
    if (type == ItemType::kBigInteger && length % 8 != 0) {
      return Bad(pos, "big integer length not a multiple of 8");
    }
    if (occupied > end - value_at) return Bad(pos, "item runs past its container");
    // Padding must be zero.
    const size_t used = fixed != 0 ? fixed : length;
    for (size_t i = used; i < occupied; ++i) {
      if (data_[value_at + i] != 0) return Bad(pos, "non-zero padding");
    }
    const uint8_t* v = data_.data() + value_at;
    pos = value_at + occupied;
    switch (type) {
      case ItemType::kStructure: {
        Item item = Item::Structure(tag);
        size_t child_pos = value_at;
        const size_t child_end = value_at + length;
        while (child_pos < child_end) {
          STRONGROOM_ASSIGN_OR_RETURN(Item child, DecodeItem(child_pos, child_end, depth + 1));
          item.Add(std::move(child));
        }
        return item;
      }
      case ItemType::kInteger:
        return Item::Integer(tag, static_cast<int32_t>(LoadBe32(v)));
      case ItemType::kEnumeration:
        return Item::Enumeration(tag, LoadBe32(v));
      case ItemType::kInterval:
        return Item::Interval(tag, LoadBe32(v));
      case ItemType::kLongInteger:
        return Item::LongInteger(tag, static_cast<int64_t>(LoadBe64(v)));
      case ItemType::kDateTime:
        return Item::DateTime(tag, static_cast<int64_t>(LoadBe64(v)));
      case ItemType::kBoolean: {
        const uint64_t b = LoadBe64(v);
        if (b > 1) return Bad(value_at - kHeaderSize, "boolean other than 0 or 1");
        return Item::Boolean(tag, b == 1);
      }
      case ItemType::kTextString: {
        const std::string_view text(reinterpret_cast<const char*>(v), length);
        if (!IsValidUtf8(text)) return Bad(value_at - kHeaderSize, "text string is not UTF-8");
        return Item::TextString(tag, text);
      }
      case ItemType::kByteString:
        return Item::ByteString(tag, ByteView(v, length));
      case ItemType::kBigInteger:
        return Item::BigInteger(tag, ByteView(v, length));
    }
    return Bad(pos, "unreachable");
  }

 private:
  static tl::unexpected<Error> Bad(size_t offset, const std::string& what) {
    return InvalidArgument("kmip ttlv: " + what + " at offset " + std::to_string(offset));
  }

  ByteView data_;
  size_t items_ = 0;
};

}  // namespace

Result<Item> Decode(ByteView data) {
  Decoder decoder(data);
  size_t pos = 0;
  STRONGROOM_ASSIGN_OR_RETURN(Item item, decoder.DecodeItem(pos, data.size(), 0));
  if (pos != data.size()) {
    return InvalidArgument("kmip ttlv: " + std::to_string(data.size() - pos) +
                           " trailing bytes after the message");
  }
  return item;
}

Result<size_t> FramedLength(ByteView header) {
  if (header.size() < kHeaderSize) return InvalidArgument("kmip ttlv: short message header");
  if (header[3] != static_cast<uint8_t>(ItemType::kStructure)) {
    return InvalidArgument("kmip ttlv: message is not a structure");
  }
  const uint32_t length = LoadBe32(header.data() + 4);
  if (length % 8 != 0) return InvalidArgument("kmip ttlv: message length not a multiple of 8");
  return kHeaderSize + size_t{length};
}

}  // namespace strongroom::keys::kmip
