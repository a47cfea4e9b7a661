// SPDX-License-Identifier: Apache-2.0
#include "crypto/sealed_box.h"

#include <string>

#include "crypto/aes_gcm.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"

namespace strongroom::crypto {
namespace {

constexpr uint8_t kVersion = 0x01;
constexpr size_t kSaltSize = 32;
constexpr std::string_view kLabel = "strongroom/v1/sealed-box";
constexpr uint8_t kZeroNonce[AesGcm256::kNonceSize] = {};

Result<std::unique_ptr<AesGcm256>> BoxCipher(ByteView key, std::string_view purpose,
                                             ByteView salt) {
  if (key.empty()) {
    return InvalidArgument("sealed box key is empty");
  }
  Bytes info(kLabel.begin(), kLabel.end());
  info.push_back(0x00);
  Append(info, AsBytes(purpose));
  STRONGROOM_ASSIGN_OR_RETURN(SecretBytes box_key, HkdfSha512(key, salt, info, 32));
  return AesGcm256::Create(box_key.reveal());
}

}  // namespace

Result<Bytes> SealBox(ByteView key, std::string_view purpose, ByteView plaintext, ByteView aad) {
  Bytes box(kSealedBoxOverhead + plaintext.size());
  box[0] = kVersion;
  MutableByteView salt = MutableByteView(box).subspan(1, kSaltSize);
  STRONGROOM_RETURN_IF_ERROR(RandomFill(salt));
  STRONGROOM_ASSIGN_OR_RETURN(auto cipher, BoxCipher(key, purpose, salt));
  STRONGROOM_RETURN_IF_ERROR(
      cipher->Seal(kZeroNonce, aad, plaintext, MutableByteView(box).subspan(1 + kSaltSize)));
  return box;
}

Result<SecretBytes> OpenBox(ByteView key, std::string_view purpose, ByteView box, ByteView aad) {
  if (box.size() < kSealedBoxOverhead || box[0] != kVersion) {
    return DataLoss("sealed value is malformed or of an unknown version");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto cipher, BoxCipher(key, purpose, box.subspan(1, kSaltSize)));
  SecretBytes plaintext(box.size() - kSealedBoxOverhead);
  auto opened = cipher->Open(kZeroNonce, aad, box.subspan(1 + kSaltSize),
                             plaintext.mutable_reveal());
  if (!opened) {
    return DataLoss("sealed value failed authentication (wrong key, or modified)");
  }
  return plaintext;
}

}  // namespace strongroom::crypto
