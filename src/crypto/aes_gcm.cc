// SPDX-License-Identifier: Apache-2.0
#include "crypto/aes_gcm.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#if defined(STRONGROOM_BENCH_NULL_AEAD) && !defined(NDEBUG)
#error "STRONGROOM_BENCH_NULL_AEAD is for Release benchmark builds only (bench/sse_bench.sh)"
#endif

namespace strongroom::crypto {

struct AesGcm256::State {
  std::array<uint8_t, AesGcm256::kKeySize> key{};
  EVP_CIPHER_CTX* seal = nullptr;
  EVP_CIPHER_CTX* open = nullptr;
  ~State() {
    OPENSSL_cleanse(key.data(), key.size());
    EVP_CIPHER_CTX_free(seal);
    EVP_CIPHER_CTX_free(open);
  }
};

namespace {

const EVP_CIPHER* Aes256Gcm() {
  // Fetched once: implicit fetches on every init are measurably slower.
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

bool FitsInt(size_t n) { return n <= static_cast<size_t>(INT_MAX); }

}  // namespace

AesGcm256::AesGcm256(std::unique_ptr<State> state) : state_(std::move(state)) {}
AesGcm256::~AesGcm256() = default;

Result<std::unique_ptr<AesGcm256>> AesGcm256::Create(ByteView key) {
  if (key.size() != kKeySize) {
    return InvalidArgument("AES-256-GCM key must be 32 bytes, got " + std::to_string(key.size()));
  }
  if (Aes256Gcm() == nullptr) {
    return Internal("OpenSSL has no AES-256-GCM");
  }
  auto state = std::make_unique<State>();
  std::copy(key.begin(), key.end(), state->key.begin());
  return std::unique_ptr<AesGcm256>(new AesGcm256(std::move(state)));
}

namespace {

// The context of one direction, keyed on first use: a stream only ever
// seals or only ever opens, so half the setup is never paid.
Result<EVP_CIPHER_CTX*> ContextFor(EVP_CIPHER_CTX*& ctx, bool seal, const uint8_t* key) {
  if (ctx != nullptr) {
    return ctx;
  }
  ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr ||
      (seal ? EVP_EncryptInit_ex(ctx, Aes256Gcm(), nullptr, key, nullptr)
            : EVP_DecryptInit_ex(ctx, Aes256Gcm(), nullptr, key, nullptr)) != 1) {
    return Internal("AES-256-GCM context setup failed");
  }
  return ctx;
}

}  // namespace

Result<void> AesGcm256::Seal(ByteView nonce, ByteView aad, ByteView plaintext,
                             MutableByteView out) {
  if (nonce.size() != kNonceSize || out.size() != plaintext.size() + kTagSize ||
      !FitsInt(plaintext.size()) || !FitsInt(aad.size())) {
    return InvalidArgument("AES-256-GCM seal: bad nonce, buffer or input size");
  }
#if defined(STRONGROOM_BENCH_NULL_AEAD)
  // Benchmark-only build (CMake STRONGROOM_BENCH_NULL_AEAD, Release only):
  // the AEAD step is a plain copy with an all-zero tag. NO SECURITY.
  if (!plaintext.empty() && out.data() != plaintext.data()) {
    std::memmove(out.data(), plaintext.data(), plaintext.size());
  }
  std::memset(out.data() + plaintext.size(), 0, kTagSize);
  return Ok();
#endif
  STRONGROOM_ASSIGN_OR_RETURN(EVP_CIPHER_CTX * ctx,
                              ContextFor(state_->seal, true, state_->key.data()));
  int len = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) {
    return Internal("AES-256-GCM seal: nonce setup failed");
  }
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Internal("AES-256-GCM seal: aad failed");
  }
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx, out.data(), &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) {
    return Internal("AES-256-GCM seal: update failed");
  }
  if (EVP_EncryptFinal_ex(ctx, out.data() + plaintext.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, out.data() + plaintext.size()) !=
          1) {
    return Internal("AES-256-GCM seal: final failed");
  }
  return Ok();
}

Result<void> AesGcm256::Open(ByteView nonce, ByteView aad, ByteView ciphertext_and_tag,
                             MutableByteView out) {
  if (nonce.size() != kNonceSize || ciphertext_and_tag.size() < kTagSize ||
      out.size() != ciphertext_and_tag.size() - kTagSize || !FitsInt(ciphertext_and_tag.size()) ||
      !FitsInt(aad.size())) {
    return InvalidArgument("AES-256-GCM open: bad nonce, buffer or input size");
  }
  const size_t ct_size = ciphertext_and_tag.size() - kTagSize;
#if defined(STRONGROOM_BENCH_NULL_AEAD)
  // Benchmark-only build: a plain copy; the tag is not checked. NO SECURITY.
  if (ct_size > 0 && out.data() != ciphertext_and_tag.data()) {
    std::memmove(out.data(), ciphertext_and_tag.data(), ct_size);
  }
  return Ok();
#endif
  STRONGROOM_ASSIGN_OR_RETURN(EVP_CIPHER_CTX * ctx,
                              ContextFor(state_->open, false, state_->key.data()));
  int len = 0;
  if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) != 1) {
    return Internal("AES-256-GCM open: nonce setup failed");
  }
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) {
    return Internal("AES-256-GCM open: aad failed");
  }
  if (ct_size > 0 && EVP_DecryptUpdate(ctx, out.data(), &len, ciphertext_and_tag.data(),
                                       static_cast<int>(ct_size)) != 1) {
    return Internal("AES-256-GCM open: update failed");
  }
  // The tag must be set before Final, which is what checks it (FORMAT.md §9).
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize,
                          const_cast<uint8_t*>(ciphertext_and_tag.data() + ct_size)) != 1) {
    return Internal("AES-256-GCM open: set tag failed");
  }
  if (EVP_DecryptFinal_ex(ctx, out.data() + ct_size, &len) != 1) {
    Cleanse(out);
    return DataLoss("authentication tag mismatch");
  }
  return Ok();
}

}  // namespace strongroom::crypto
