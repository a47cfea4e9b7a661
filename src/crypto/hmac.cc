// SPDX-License-Identifier: Apache-2.0
#include "crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

namespace strongroom::crypto {

struct HmacSha256::State {
  EVP_MAC_CTX* ctx = nullptr;
  ~State() { EVP_MAC_CTX_free(ctx); }
};

namespace {
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}
}  // namespace

HmacSha256::HmacSha256(std::unique_ptr<State> state) : state_(std::move(state)) {}
HmacSha256::~HmacSha256() = default;

Result<std::unique_ptr<HmacSha256>> HmacSha256::Create(ByteView key) {
  EVP_MAC* mac = HmacAlgorithm();
  if (mac == nullptr) {
    return Internal("OpenSSL has no HMAC");
  }
  auto state = std::make_unique<State>();
  state->ctx = EVP_MAC_CTX_new(mac);
  if (state->ctx == nullptr) {
    return Internal("HMAC context allocation failed");
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  // An empty HMAC key is legal (RFC 2104 pads it with zeros); OpenSSL wants a
  // non-null pointer, and a single zero byte pads to the same block.
  static const uint8_t kZero = 0;
  const uint8_t* key_ptr = key.empty() ? &kZero : key.data();
  size_t key_len = key.empty() ? 1 : key.size();
  if (EVP_MAC_init(state->ctx, key_ptr, key_len, params) != 1) {
    return Internal("HMAC-SHA-256 init failed");
  }
  return std::unique_ptr<HmacSha256>(new HmacSha256(std::move(state)));
}

Result<void> HmacSha256::Update(ByteView data) {
  if (!data.empty() && EVP_MAC_update(state_->ctx, data.data(), data.size()) != 1) {
    return Internal("HMAC-SHA-256 update failed");
  }
  return Ok();
}

Result<HmacSha256::Tag> HmacSha256::Finish() {
  Tag tag{};
  size_t len = 0;
  if (EVP_MAC_final(state_->ctx, tag.data(), &len, tag.size()) != 1 || len != kTagSize) {
    return Internal("HMAC-SHA-256 final failed");
  }
  return tag;
}

Result<HmacSha256::Tag> HmacSha256::Compute(ByteView key, ByteView data) {
  STRONGROOM_ASSIGN_OR_RETURN(auto mac, Create(key));
  STRONGROOM_RETURN_IF_ERROR(mac->Update(data));
  return mac->Finish();
}

}  // namespace strongroom::crypto
