// SPDX-License-Identifier: Apache-2.0
#include "crypto/secret_bytes.h"

#include <sys/mman.h>

#include <algorithm>

#include <openssl/crypto.h>

namespace strongroom::crypto {

SecretBytes::SecretBytes(size_t size) : data_(new uint8_t[size == 0 ? 1 : size]()), size_(size) {
  // mlock may fail under RLIMIT_MEMLOCK; the secret is still wiped on free.
  locked_ = size_ > 0 && mlock(data_.get(), size_) == 0;
}

SecretBytes SecretBytes::CopyFrom(ByteView data) {
  SecretBytes out(data.size());
  std::copy(data.begin(), data.end(), out.data_.get());
  return out;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(other.size_), locked_(other.locked_) {
  other.size_ = 0;
  other.locked_ = false;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = other.size_;
    locked_ = other.locked_;
    other.size_ = 0;
    other.locked_ = false;
  }
  return *this;
}

SecretBytes::~SecretBytes() { Wipe(); }

void SecretBytes::Wipe() {
  if (data_ && size_ > 0) {
    OPENSSL_cleanse(data_.get(), size_);
    if (locked_) {
      munlock(data_.get(), size_);
    }
  }
  data_.reset();
  size_ = 0;
  locked_ = false;
}

void Cleanse(MutableByteView data) {
  if (!data.empty()) {
    OPENSSL_cleanse(data.data(), data.size());
  }
}

}  // namespace strongroom::crypto
