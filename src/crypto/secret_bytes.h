// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "base/bytes.h"

namespace strongroom::crypto {

// Owned key material. The buffer is locked in memory where the OS allows
// (mlock; failure is tolerated and counted, see locked()), is never copied
// implicitly, and is wiped with OPENSSL_cleanse when destroyed or reassigned.
// Access to the raw bytes goes through reveal(), so every use is visible.
// Move-only. Thread-compatible.
class SecretBytes {
 public:
  SecretBytes() = default;
  // `size` zero bytes.
  explicit SecretBytes(size_t size);
  // Copies `data`; the caller remains responsible for wiping its own copy.
  static SecretBytes CopyFrom(ByteView data);

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // True when the pages holding the secret are locked against swapping.
  bool locked() const { return locked_; }

  ByteView reveal() const { return {data_.get(), size_}; }
  MutableByteView mutable_reveal() { return {data_.get(), size_}; }

 private:
  void Wipe();

  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  bool locked_ = false;
};

// Wipes a buffer that held secret material (OPENSSL_cleanse).
void Cleanse(MutableByteView data);

}  // namespace strongroom::crypto
