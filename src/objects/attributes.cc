// SPDX-License-Identifier: Apache-2.0
#include <string>

#include "objects/object_store.h"

namespace strongroom::objects {

// Encoding: 0x01 ‖ BE16 count ‖ count × (BE16 len ‖ name ‖ BE32 len ‖ value).
Bytes EncodeAttributes(const Attributes& attributes) {
  Bytes out;
  out.push_back(0x01);
  AppendBe16(out, static_cast<uint16_t>(attributes.size()));
  for (const auto& [name, value] : attributes) {
    AppendBe16(out, static_cast<uint16_t>(name.size()));
    Append(out, AsBytes(name));
    AppendBe32(out, static_cast<uint32_t>(value.size()));
    Append(out, AsBytes(value));
  }
  return out;
}

Result<Attributes> DecodeAttributes(ByteView data) {
  Attributes out;
  if (data.empty()) {
    return out;
  }
  ByteReader reader(data);
  uint8_t version;
  uint16_t count;
  if (!reader.ReadU8(version) || version != 0x01 || !reader.ReadBe16(count)) {
    return DataLoss("object attributes are malformed");
  }
  for (uint16_t i = 0; i < count; ++i) {
    uint16_t name_size;
    uint32_t value_size;
    ByteView name, value;
    if (!reader.ReadBe16(name_size) || !reader.ReadBytes(name_size, name) ||
        !reader.ReadBe32(value_size) || !reader.ReadBytes(value_size, value)) {
      return DataLoss("object attributes are truncated");
    }
    out.emplace_back(std::string(AsChars(name)), std::string(AsChars(value)));
  }
  if (reader.remaining() != 0) {
    return DataLoss("object attributes have trailing bytes");
  }
  return out;
}

}  // namespace strongroom::objects
