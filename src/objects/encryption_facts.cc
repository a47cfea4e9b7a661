// SPDX-License-Identifier: Apache-2.0
#include "objects/encryption_facts.h"

#include <string>

namespace strongroom::objects {
namespace {

constexpr uint8_t kVersion = 0x01;
constexpr uint8_t kFlagBucketKey = 0x01;
constexpr uint8_t kFlagBlockSseC = 0x02;

uint8_t ModeByte(SseMode mode) {
  switch (mode) {
    case SseMode::kS3: return 0x01;
    case SseMode::kKms: return 0x02;
    case SseMode::kCustomer: return 0x03;
  }
  return 0x00;
}

bool ModeFromByte(uint8_t byte, SseMode& mode) {
  switch (byte) {
    case 0x01: mode = SseMode::kS3; return true;
    case 0x02: mode = SseMode::kKms; return true;
    case 0x03: mode = SseMode::kCustomer; return true;
    default: return false;
  }
}

Result<void> AppendString16(Bytes& out, ByteView value, const char* what) {
  if (value.size() > UINT16_MAX) {
    return InvalidArgument(std::string(what) + " longer than 65535 bytes");
  }
  AppendBe16(out, static_cast<uint16_t>(value.size()));
  Append(out, value);
  return Ok();
}

bool ReadString16(ByteReader& reader, std::string& out) {
  uint16_t size;
  ByteView bytes;
  if (!reader.ReadBe16(size) || !reader.ReadBytes(size, bytes)) return false;
  out.assign(AsChars(bytes));
  return true;
}

}  // namespace

// 0x01 ‖ mode ‖ flags ‖ BE16 len ‖ KMS key id ‖ BE32 len ‖ KMS context ‖
// BE16 len ‖ sealed manifest key.
Result<Bytes> EncodeStoredEncryption(const StoredEncryption& stored) {
  const ObjectEncryption& facts = stored.facts;
  Bytes out;
  out.push_back(kVersion);
  out.push_back(ModeByte(facts.mode));
  out.push_back(facts.bucket_key_enabled ? kFlagBucketKey : 0);
  STRONGROOM_RETURN_IF_ERROR(AppendString16(out, AsBytes(facts.kms_key_id), "KMS key id"));
  if (facts.kms_context.size() > UINT32_MAX) {
    return InvalidArgument("encryption context too long");
  }
  AppendBe32(out, static_cast<uint32_t>(facts.kms_context.size()));
  Append(out, AsBytes(facts.kms_context));
  STRONGROOM_RETURN_IF_ERROR(
      AppendString16(out, stored.sealed_manifest_key, "sealed manifest key"));
  return out;
}

Result<StoredEncryption> DecodeStoredEncryption(ByteView data) {
  ByteReader reader(data);
  uint8_t version, mode, flags;
  StoredEncryption stored;
  if (!reader.ReadU8(version) || version != kVersion || !reader.ReadU8(mode) ||
      !ModeFromByte(mode, stored.facts.mode) || !reader.ReadU8(flags) ||
      (flags & ~kFlagBucketKey) != 0) {
    return DataLoss("the stored encryption facts are malformed or of an unknown version");
  }
  stored.facts.bucket_key_enabled = (flags & kFlagBucketKey) != 0;
  uint32_t context_size;
  ByteView context;
  uint16_t key_size;
  ByteView sealed_key;
  if (!ReadString16(reader, stored.facts.kms_key_id) || !reader.ReadBe32(context_size) ||
      !reader.ReadBytes(context_size, context) || !reader.ReadBe16(key_size) ||
      !reader.ReadBytes(key_size, sealed_key) || reader.remaining() != 0) {
    return DataLoss("the stored encryption facts are truncated or have trailing bytes");
  }
  stored.facts.kms_context.assign(AsChars(context));
  stored.sealed_manifest_key.assign(sealed_key.begin(), sealed_key.end());
  if ((stored.facts.mode == SseMode::kKms) == stored.facts.kms_key_id.empty() ||
      (stored.facts.mode != SseMode::kKms && !stored.facts.kms_context.empty())) {
    return DataLoss("the stored encryption facts are inconsistent");
  }
  return stored;
}

// 0x01 ‖ default mode ‖ flags ‖ BE16 len ‖ KMS key id.
Result<Bytes> EncodeBucketEncryption(const BucketEncryption& config) {
  Bytes out;
  out.push_back(kVersion);
  out.push_back(ModeByte(config.default_mode));
  out.push_back(static_cast<uint8_t>((config.bucket_key_enabled ? kFlagBucketKey : 0) |
                                     (config.block_sse_c ? kFlagBlockSseC : 0)));
  STRONGROOM_RETURN_IF_ERROR(AppendString16(out, AsBytes(config.kms_key_id), "KMS key id"));
  return out;
}

Result<BucketEncryption> DecodeBucketEncryption(ByteView data) {
  BucketEncryption config;
  if (data.empty()) {
    return config;
  }
  ByteReader reader(data);
  uint8_t version, mode, flags;
  if (!reader.ReadU8(version) || version != kVersion || !reader.ReadU8(mode) ||
      !ModeFromByte(mode, config.default_mode) || config.default_mode == SseMode::kCustomer ||
      !reader.ReadU8(flags) || (flags & ~(kFlagBucketKey | kFlagBlockSseC)) != 0 ||
      !ReadString16(reader, config.kms_key_id) || reader.remaining() != 0) {
    return DataLoss("the bucket's encryption configuration is malformed");
  }
  config.bucket_key_enabled = (flags & kFlagBucketKey) != 0;
  config.block_sse_c = (flags & kFlagBlockSseC) != 0;
  return config;
}

}  // namespace strongroom::objects
