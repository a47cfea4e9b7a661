// SPDX-License-Identifier: Apache-2.0
#include "crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

namespace strongroom::crypto {
namespace {

EVP_KDF* HkdfAlgorithm() {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  return kdf;
}

Result<SecretBytes> Derive(int mode, ByteView key, ByteView salt, ByteView info, size_t length) {
  constexpr size_t kMaxLength = 255 * 64;
  if (length == 0 || length > kMaxLength) {
    return InvalidArgument("HKDF-SHA-512 output length must be 1..16320 bytes");
  }
  if (key.empty() && mode == EVP_KDF_HKDF_MODE_EXPAND_ONLY) {
    return InvalidArgument("HKDF-SHA-512 expand needs a non-empty key");
  }
  EVP_KDF* kdf = HkdfAlgorithm();
  if (kdf == nullptr) {
    return Internal("OpenSSL has no HKDF");
  }
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  if (ctx == nullptr) {
    return Internal("HKDF context allocation failed");
  }
  char digest[] = "SHA512";
  // RFC 5869 allows empty IKM. IKM is the HMAC *message* of Extract, so it
  // must stay zero-length (a zero byte would change the PRK); OpenSSL only
  // needs a non-null pointer for the empty key param.
  static const uint8_t kZero = 0;
  const uint8_t* key_ptr = key.empty() ? &kZero : key.data();
  size_t key_len = key.size();
  OSSL_PARAM params[6];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  const_cast<uint8_t*>(key_ptr), key_len);
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.empty() ? &kZero : info.data()),
      info.size());
  params[n] = OSSL_PARAM_construct_end();
  SecretBytes out(length);
  int ok = EVP_KDF_derive(ctx, out.mutable_reveal().data(), length, params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) {
    return Internal("HKDF-SHA-512 derivation failed");
  }
  return out;
}

}  // namespace

Result<SecretBytes> HkdfSha512Expand(ByteView prk, ByteView info, size_t length) {
  return Derive(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, {}, info, length);
}

Result<SecretBytes> HkdfSha512(ByteView ikm, ByteView salt, ByteView info, size_t length) {
  return Derive(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, ikm, salt, info, length);
}

}  // namespace strongroom::crypto
