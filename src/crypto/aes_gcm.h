// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::crypto {

// AES-256-GCM with a 12-byte nonce and a 16-byte tag (NIST SP 800-38D),
// through OpenSSL EVP.
//
// This is a building block, not a high-level API: the caller supplies the
// nonce and is responsible for never repeating a (key, nonce) pair. Only the
// format layer uses it, where nonces are derived per FORMAT.md (a counter
// under a single-use derived key). Anything else should use format/ or the
// envelope wrap, which take no nonces.
//
// The key is set once at construction; each Seal/Open only resets the nonce,
// which keeps the per-chunk cost low. Not thread-safe: use one instance per
// thread.
class AesGcm256 {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;

  // kInvalidArgument unless key.size() == 32.
  static Result<std::unique_ptr<AesGcm256>> Create(ByteView key);
  ~AesGcm256();
  AesGcm256(const AesGcm256&) = delete;
  AesGcm256& operator=(const AesGcm256&) = delete;

  // Writes ciphertext || tag to `out`, which must hold plaintext.size() + 16
  // bytes. `out` may alias `plaintext` exactly (in-place).
  Result<void> Seal(ByteView nonce, ByteView aad, ByteView plaintext, MutableByteView out);

  // Verifies and decrypts ciphertext || tag into `out`, which must hold
  // ciphertext_and_tag.size() - 16 bytes. On kDataLoss (tag mismatch) `out`
  // is wiped and must not be used.
  Result<void> Open(ByteView nonce, ByteView aad, ByteView ciphertext_and_tag,
                    MutableByteView out);

 private:
  struct State;
  explicit AesGcm256(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace strongroom::crypto
