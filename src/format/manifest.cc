// SPDX-License-Identifier: Apache-2.0
#include "format/manifest.h"

#include <algorithm>
#include <string>

#include "crypto/constant_time.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"

namespace strongroom::format {
namespace {

constexpr uint8_t kManifestMagic[4] = {'S', 'R', 'M', 'F'};
constexpr std::string_view kMacLabel = "strongroom/v1/manifest-mac";
constexpr size_t kEntrySize = 4 + 8 + kSaltSize + kCommitmentSize;  // 68

Result<void> CheckEntries(const std::vector<StreamInfo>& streams) {
  if (streams.empty() || streams.size() > kMaxPartNumber) {
    return InvalidArgument("a manifest lists 1..10000 streams, not " +
                           std::to_string(streams.size()));
  }
  if (streams.size() == 1 && streams[0].part_number == 0) {
    return Ok();
  }
  uint32_t previous = 0;
  for (const StreamInfo& s : streams) {
    if (s.part_number == 0 || s.part_number > kMaxPartNumber) {
      return InvalidArgument("manifest part number " + std::to_string(s.part_number) +
                             " is not in 1..10000");
    }
    if (s.part_number <= previous) {
      return InvalidArgument("manifest part numbers must strictly increase");
    }
    previous = s.part_number;
  }
  return Ok();
}

Result<crypto::HmacSha256::Tag> ManifestTag(ByteView dek, const ObjectId& object_id,
                                            ByteView body) {
  if (dek.size() != kInputKeySize) {
    return InvalidArgument("the data key must be 32 bytes");
  }
  Bytes info(kMacLabel.begin(), kMacLabel.end());
  info.push_back(0x00);
  Append(info, object_id);
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::HkdfSha512Expand(dek, info, 32));
  return crypto::HmacSha256::Compute(key.reveal(), body);
}

bool ReadString16(ByteReader& reader, std::string& out) {
  uint16_t len;
  ByteView bytes;
  if (!reader.ReadBe16(len) || !reader.ReadBytes(len, bytes)) {
    return false;
  }
  out.assign(AsChars(bytes));
  return true;
}

// Parses everything up to the tag; `body_size` receives the MAC'd length.
Result<Manifest> Parse(ByteView data, size_t& body_size) {
  ByteReader reader(data);
  ByteView magic;
  uint8_t version, suite;
  uint16_t flags;
  if (!reader.ReadBytes(4, magic) || !std::equal(magic.begin(), magic.end(), kManifestMagic)) {
    return InvalidArgument("not a strongroom manifest (bad magic)");
  }
  if (!reader.ReadU8(version) || version != kFormatVersion) {
    return InvalidArgument("unsupported manifest version");
  }
  if (!reader.ReadU8(suite) || suite != kSuiteCobblestone256) {
    return InvalidArgument("unsupported manifest suite");
  }
  if (!reader.ReadBe16(flags) || flags != 0) {
    return InvalidArgument("manifest flags are not zero");
  }
  Manifest manifest;
  uint64_t total;
  uint32_t count;
  if (!reader.ReadInto(manifest.object_id) || !reader.ReadBe64(total) ||
      !reader.ReadBe32(count)) {
    return InvalidArgument("manifest truncated in its header");
  }
  if (count == 0 || count > kMaxPartNumber || reader.remaining() < uint64_t{count} * kEntrySize) {
    return InvalidArgument("manifest stream count is invalid or truncated");
  }
  manifest.streams.resize(count);
  for (StreamInfo& s : manifest.streams) {
    if (!reader.ReadBe32(s.part_number) || !reader.ReadBe64(s.plaintext_size) ||
        !reader.ReadInto(s.salt) || !reader.ReadInto(s.commitment)) {
      return InvalidArgument("manifest truncated in its entries");
    }
  }
  STRONGROOM_RETURN_IF_ERROR(CheckEntries(manifest.streams));
  uint16_t binding_size;
  ByteView binding;
  if (!reader.ReadBe16(binding_size) || !reader.ReadBytes(binding_size, binding)) {
    return InvalidArgument("manifest truncated in its binding");
  }
  ByteReader binding_reader(binding);
  if (!ReadString16(binding_reader, manifest.binding.bucket) ||
      !ReadString16(binding_reader, manifest.binding.object_key) ||
      binding_reader.remaining() != 0) {
    return InvalidArgument("manifest binding is malformed");
  }
  body_size = reader.offset();
  if (reader.remaining() != kManifestTagSize) {
    return InvalidArgument(reader.remaining() < kManifestTagSize
                               ? "manifest truncated in its tag"
                               : "manifest has bytes after its tag");
  }
  // Sum with overflow check: the stored total must be the sum of the entries.
  uint64_t sum = 0;
  for (const StreamInfo& s : manifest.streams) {
    if (s.plaintext_size > UINT64_MAX - sum) {
      return DataLoss("manifest stream sizes overflow");
    }
    sum += s.plaintext_size;
  }
  if (sum != total) {
    return DataLoss("manifest total does not equal the sum of its streams");
  }
  return manifest;
}

}  // namespace

Result<Bytes> EncodeBinding(const Binding& binding) {
  if (binding.bucket.size() > UINT16_MAX || binding.object_key.size() > UINT16_MAX) {
    return InvalidArgument("bucket or object key longer than 65535 bytes");
  }
  Bytes out;
  AppendBe16(out, static_cast<uint16_t>(binding.bucket.size()));
  Append(out, AsBytes(binding.bucket));
  AppendBe16(out, static_cast<uint16_t>(binding.object_key.size()));
  Append(out, AsBytes(binding.object_key));
  return out;
}

uint64_t Manifest::plaintext_size() const {
  uint64_t total = 0;
  for (const StreamInfo& s : streams) total += s.plaintext_size;
  return total;
}

uint64_t Manifest::blob_size() const {
  uint64_t total = 0;
  for (const StreamInfo& s : streams) total += StreamSize(s.plaintext_size);
  return total;
}

Result<Bytes> SealManifest(const Manifest& manifest, ByteView dek) {
  STRONGROOM_RETURN_IF_ERROR(CheckEntries(manifest.streams));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes binding, EncodeBinding(manifest.binding));
  if (binding.size() > UINT16_MAX) {
    return InvalidArgument("manifest binding longer than 65535 bytes");
  }
  Bytes out;
  out.reserve(38 + kEntrySize * manifest.streams.size() + binding.size() + kManifestTagSize);
  Append(out, kManifestMagic);
  out.push_back(kFormatVersion);
  out.push_back(kSuiteCobblestone256);
  AppendBe16(out, 0);
  Append(out, manifest.object_id);
  AppendBe64(out, manifest.plaintext_size());
  AppendBe32(out, static_cast<uint32_t>(manifest.streams.size()));
  for (const StreamInfo& s : manifest.streams) {
    AppendBe32(out, s.part_number);
    AppendBe64(out, s.plaintext_size);
    Append(out, s.salt);
    Append(out, s.commitment);
  }
  AppendBe16(out, static_cast<uint16_t>(binding.size()));
  Append(out, binding);
  STRONGROOM_ASSIGN_OR_RETURN(auto tag, ManifestTag(dek, manifest.object_id, out));
  Append(out, tag);
  return out;
}

Result<Manifest> OpenManifest(ByteView data, ByteView dek, const ObjectId& expected_object_id,
                              const Binding& expected_binding) {
  size_t body_size = 0;
  STRONGROOM_ASSIGN_OR_RETURN(Manifest manifest, Parse(data, body_size));
  // The tag is keyed by the expected object id, so a manifest moved from
  // another object fails here even before the explicit comparison below.
  STRONGROOM_ASSIGN_OR_RETURN(auto tag,
                              ManifestTag(dek, expected_object_id, data.first(body_size)));
  if (!crypto::ConstantTimeEquals(tag, data.subspan(body_size))) {
    return DataLoss("manifest failed authentication");
  }
  if (!crypto::ConstantTimeEquals(manifest.object_id, expected_object_id)) {
    return DataLoss("manifest belongs to another object");
  }
  if (!(manifest.binding == expected_binding)) {
    return DataLoss("manifest is bound to another bucket or object key");
  }
  return manifest;
}

Result<Manifest> ParseManifestUnverified(ByteView data) {
  size_t body_size = 0;
  return Parse(data, body_size);
}

}  // namespace strongroom::format
