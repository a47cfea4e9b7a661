// SPDX-License-Identifier: Apache-2.0
#include "format/envelope.h"

#include <algorithm>

#include "crypto/aes_gcm.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"

namespace strongroom::format {
namespace {

constexpr uint8_t kEnvelopeMagic[4] = {'S', 'R', 'W', 'K'};
constexpr std::string_view kWrapLabel = "strongroom/v1/dek-wrap";
constexpr std::string_view kBindingLabel = "strongroom/v1/dek-binding";
constexpr size_t kWrappedSize = kDekSize + crypto::AesGcm256::kTagSize;  // 48

Result<void> CheckIds(const Envelope& envelope) {
  if (envelope.provider_id.size() > 255) {
    return InvalidArgument("provider id longer than 255 bytes");
  }
  for (char c : envelope.provider_id) {
    if (c < 0x21 || c > 0x7e) {
      return InvalidArgument("provider id must be printable ASCII");
    }
  }
  if (envelope.key_id.size() > UINT16_MAX) {
    return InvalidArgument("key id longer than 65535 bytes");
  }
  return Ok();
}

// Every byte of the envelope before the wrap salt (FORMAT.md §6).
Bytes EnvelopeHeader(const Envelope& envelope) {
  Bytes out;
  Append(out, kEnvelopeMagic);
  out.push_back(kFormatVersion);
  out.push_back(static_cast<uint8_t>(envelope.scheme));
  AppendBe16(out, 0);
  out.push_back(static_cast<uint8_t>(envelope.provider_id.size()));
  Append(out, AsBytes(envelope.provider_id));
  AppendBe16(out, static_cast<uint16_t>(envelope.key_id.size()));
  Append(out, AsBytes(envelope.key_id));
  return out;
}

Result<Bytes> WrapAad(const Envelope& envelope, const ObjectId& object_id,
                      const Binding& binding, ByteView context) {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes encoded_binding, EncodeBinding(binding));
  if (context.size() > UINT32_MAX) {
    return InvalidArgument("envelope context of 4 GiB or more");
  }
  Bytes aad(kBindingLabel.begin(), kBindingLabel.end());
  aad.push_back(0x00);
  Append(aad, EnvelopeHeader(envelope));
  Append(aad, object_id);
  Append(aad, encoded_binding);
  AppendBe32(aad, static_cast<uint32_t>(context.size()));
  Append(aad, context);
  return aad;
}

Result<std::unique_ptr<crypto::AesGcm256>> WrapCipher(const Envelope& envelope, ByteView kek) {
  if (kek.empty()) {
    return InvalidArgument("the key-encryption key is empty");
  }
  Bytes info(kWrapLabel.begin(), kWrapLabel.end());
  info.push_back(0x00);
  info.push_back(static_cast<uint8_t>(envelope.scheme));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes wrap_key,
                              crypto::HkdfSha512(kek, envelope.wrap_salt, info, 32));
  return crypto::AesGcm256::Create(wrap_key.reveal());
}

bool IsLocalScheme(WrapScheme scheme) {
  return scheme == WrapScheme::kLocalKek || scheme == WrapScheme::kCustomerKey;
}

}  // namespace

Result<crypto::SecretBytes> NewDek() { return crypto::RandomSecret(kDekSize); }

Result<Envelope> WrapDek(WrapScheme scheme, std::string provider_id, std::string key_id,
                         ByteView kek, ByteView dek, const ObjectId& object_id,
                         const Binding& binding, ByteView context) {
  if (!IsLocalScheme(scheme)) {
    return InvalidArgument("only the local-KEK and customer-key schemes wrap locally");
  }
  if (dek.size() != kDekSize) {
    return InvalidArgument("the data key must be 32 bytes");
  }
  Envelope envelope;
  envelope.scheme = scheme;
  envelope.provider_id = std::move(provider_id);
  envelope.key_id = std::move(key_id);
  STRONGROOM_RETURN_IF_ERROR(CheckIds(envelope));
  STRONGROOM_RETURN_IF_ERROR(crypto::RandomFill(envelope.wrap_salt));
  STRONGROOM_ASSIGN_OR_RETURN(auto cipher, WrapCipher(envelope, kek));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes aad, WrapAad(envelope, object_id, binding, context));
  // The wrap key is single-use (fresh salt), so the all-zero nonce is unique.
  static constexpr uint8_t kZeroNonce[crypto::AesGcm256::kNonceSize] = {};
  envelope.wrapped.resize(kWrappedSize);
  STRONGROOM_RETURN_IF_ERROR(cipher->Seal(kZeroNonce, aad, dek, envelope.wrapped));
  return envelope;
}

Result<crypto::SecretBytes> UnwrapDek(const Envelope& envelope, ByteView kek,
                                      const ObjectId& object_id, const Binding& binding,
                                      ByteView context) {
  if (!IsLocalScheme(envelope.scheme)) {
    return Unimplemented("envelopes of an external key service are unwrapped by that service");
  }
  if (envelope.wrapped.size() != kWrappedSize) {
    return InvalidArgument("wrapped data key must be 48 bytes");
  }
  STRONGROOM_RETURN_IF_ERROR(CheckIds(envelope));
  STRONGROOM_ASSIGN_OR_RETURN(auto cipher, WrapCipher(envelope, kek));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes aad, WrapAad(envelope, object_id, binding, context));
  static constexpr uint8_t kZeroNonce[crypto::AesGcm256::kNonceSize] = {};
  crypto::SecretBytes dek(kDekSize);
  auto opened = cipher->Open(kZeroNonce, aad, envelope.wrapped, dek.mutable_reveal());
  if (!opened) {
    if (opened.error().code() == ErrorCode::kDataLoss) {
      return Unauthenticated("the data key did not unwrap: wrong key, or the envelope was "
                             "modified or belongs to another object or context");
    }
    return tl::unexpected(opened.error());
  }
  return dek;
}

Result<Bytes> SerializeEnvelope(const Envelope& envelope) {
  STRONGROOM_RETURN_IF_ERROR(CheckIds(envelope));
  if (envelope.wrapped.size() > UINT16_MAX) {
    return InvalidArgument("wrapped key longer than 65535 bytes");
  }
  Bytes out = EnvelopeHeader(envelope);
  Append(out, envelope.wrap_salt);
  AppendBe16(out, static_cast<uint16_t>(envelope.wrapped.size()));
  Append(out, envelope.wrapped);
  if (out.size() > kMaxEnvelopeSize) {
    return InvalidArgument("envelope larger than 4096 bytes");
  }
  return out;
}

Result<Envelope> ParseEnvelope(ByteView data) {
  if (data.size() > kMaxEnvelopeSize) {
    return InvalidArgument("envelope larger than 4096 bytes");
  }
  ByteReader reader(data);
  ByteView magic;
  uint8_t version, scheme, provider_size;
  uint16_t reserved, key_id_size, wrapped_size;
  ByteView provider, key_id, wrapped;
  if (!reader.ReadBytes(4, magic) || !std::equal(magic.begin(), magic.end(), kEnvelopeMagic)) {
    return InvalidArgument("not a strongroom envelope (bad magic)");
  }
  if (!reader.ReadU8(version) || version != kFormatVersion) {
    return InvalidArgument("unsupported envelope version");
  }
  if (!reader.ReadU8(scheme) || scheme < 0x01 || scheme > 0x03) {
    return InvalidArgument("unknown envelope wrap scheme");
  }
  if (!reader.ReadBe16(reserved) || reserved != 0) {
    return InvalidArgument("envelope reserved bytes are not zero");
  }
  Envelope envelope;
  envelope.scheme = static_cast<WrapScheme>(scheme);
  if (!reader.ReadU8(provider_size) || !reader.ReadBytes(provider_size, provider) ||
      !reader.ReadBe16(key_id_size) || !reader.ReadBytes(key_id_size, key_id) ||
      !reader.ReadInto(envelope.wrap_salt) || !reader.ReadBe16(wrapped_size) ||
      !reader.ReadBytes(wrapped_size, wrapped)) {
    return InvalidArgument("envelope is truncated");
  }
  if (reader.remaining() != 0) {
    return InvalidArgument("envelope has trailing bytes");
  }
  envelope.provider_id.assign(AsChars(provider));
  envelope.key_id.assign(AsChars(key_id));
  envelope.wrapped.assign(wrapped.begin(), wrapped.end());
  STRONGROOM_RETURN_IF_ERROR(CheckIds(envelope));
  if (IsLocalScheme(envelope.scheme) && envelope.wrapped.size() != kWrappedSize) {
    return InvalidArgument("wrapped data key must be 48 bytes");
  }
  return envelope;
}

}  // namespace strongroom::format
