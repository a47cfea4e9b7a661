// SPDX-License-Identifier: Apache-2.0
#include "crypto/digest.h"

#include <openssl/evp.h>

namespace strongroom::crypto {

struct Digest::State {
  EVP_MD_CTX* ctx = nullptr;
  const EVP_MD* md = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

namespace {
const EVP_MD* Fetch(Digest::Algorithm algorithm) {
  static EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  static EVP_MD* sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  switch (algorithm) {
    case Digest::Algorithm::kMd5: return md5;
    case Digest::Algorithm::kSha1: return sha1;
    case Digest::Algorithm::kSha256: return sha256;
    case Digest::Algorithm::kSha512: return sha512;
  }
  return nullptr;
}
}  // namespace

Digest::Digest(std::unique_ptr<State> state) : state_(std::move(state)) {}
Digest::~Digest() = default;

Result<std::unique_ptr<Digest>> Digest::Create(Algorithm algorithm) {
  auto state = std::make_unique<State>();
  state->md = Fetch(algorithm);
  if (state->md == nullptr) {
    return Internal("OpenSSL lacks the requested digest");
  }
  state->ctx = EVP_MD_CTX_new();
  if (state->ctx == nullptr || EVP_DigestInit_ex(state->ctx, state->md, nullptr) != 1) {
    return Internal("digest init failed");
  }
  return std::unique_ptr<Digest>(new Digest(std::move(state)));
}

Result<void> Digest::Update(ByteView data) {
  if (!data.empty() && EVP_DigestUpdate(state_->ctx, data.data(), data.size()) != 1) {
    return Internal("digest update failed");
  }
  return Ok();
}

Result<Bytes> Digest::Finish() {
  Bytes out(static_cast<size_t>(EVP_MD_get_size(state_->md)));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(state_->ctx, out.data(), &len) != 1 ||
      EVP_DigestInit_ex(state_->ctx, state_->md, nullptr) != 1) {
    return Internal("digest final failed");
  }
  out.resize(len);
  return out;
}

Result<Bytes> Digest::Compute(Algorithm algorithm, ByteView data) {
  STRONGROOM_ASSIGN_OR_RETURN(auto digest, Create(algorithm));
  STRONGROOM_RETURN_IF_ERROR(digest->Update(data));
  return digest->Finish();
}

}  // namespace strongroom::crypto
