// SPDX-License-Identifier: Apache-2.0
#include "format/object_metadata.h"

#include <string>

#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "crypto/sealed_box.h"

namespace strongroom::format {
namespace {

constexpr std::string_view kEtagLabel = "strongroom/v1/etag";

// FORMAT.md §13.1: object id ‖ binding, then BE32 part number for a part.
Result<Bytes> AttributesAad(ByteView dek, const ObjectId& object_id, const Binding& binding,
                            uint32_t part_number) {
  if (dek.size() != kInputKeySize) {
    return InvalidArgument("the data key must be 32 bytes");
  }
  if (part_number > kMaxPartNumber) {
    return InvalidArgument("part number " + std::to_string(part_number) +
                           " is not in 0..10000");
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes encoded_binding, EncodeBinding(binding));
  Bytes aad(object_id.begin(), object_id.end());
  Append(aad, encoded_binding);
  if (part_number != 0) {
    AppendBe32(aad, part_number);
  }
  return aad;
}

std::string_view Purpose(uint32_t part_number) {
  return part_number == 0 ? kObjectAttributesPurpose : kPartAttributesPurpose;
}

}  // namespace

Result<Bytes> SealAttributes(ByteView dek, const ObjectId& object_id, const Binding& binding,
                             uint32_t part_number, ByteView plaintext) {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes aad, AttributesAad(dek, object_id, binding, part_number));
  return crypto::SealBox(dek, Purpose(part_number), plaintext, aad);
}

Result<crypto::SecretBytes> OpenAttributes(ByteView dek, const ObjectId& object_id,
                                           const Binding& binding, uint32_t part_number,
                                           ByteView sealed) {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes aad, AttributesAad(dek, object_id, binding, part_number));
  auto opened = crypto::OpenBox(dek, Purpose(part_number), sealed, aad);
  if (!opened) {
    return DataLoss("the object's sealed attributes failed authentication");
  }
  return opened;
}

Result<Bytes> DeriveEtag(ByteView dek, const ObjectId& object_id, ByteView md5) {
  if (dek.size() != kInputKeySize) {
    return InvalidArgument("the data key must be 32 bytes");
  }
  if (md5.size() != 16) {
    return InvalidArgument("an MD5 is 16 bytes");
  }
  Bytes info(kEtagLabel.begin(), kEtagLabel.end());
  info.push_back(0x00);
  Append(info, object_id);
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::HkdfSha512Expand(dek, info, 32));
  STRONGROOM_ASSIGN_OR_RETURN(auto tag, crypto::HmacSha256::Compute(key.reveal(), md5));
  return Bytes(tag.begin(), tag.begin() + kDerivedEtagSize);
}

}  // namespace strongroom::format
