// SPDX-License-Identifier: Apache-2.0
#pragma once

// An in-memory KeyProvider for unit tests: keys are random 32-byte secrets
// held in a map, Wrap is crypto::SealBox with the caller's AAD. It can be
// switched "down" (every call fails kUnavailable, as a real provider does
// while unreachable) and counts its calls. The real providers are tested
// against their servers in tests/providers/.

#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "crypto/random.h"
#include "crypto/sealed_box.h"
#include "keys/key_provider.h"

namespace strongroom::keys {

class FakeKeyProvider final : public KeyProvider {
 public:
  explicit FakeKeyProvider(std::string id = "fake") : id_(std::move(id)) {}

  std::string_view id() const override { return id_; }

  Result<std::string> CreateKey(std::string_view label) override {
    STRONGROOM_RETURN_IF_ERROR(Reachable());
    std::lock_guard lock(mutex_);
    std::string name = "fake:" + std::string(label);
    if (keys_.count(name) != 0) return AlreadyExists("label '" + std::string(label) + "' taken");
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::RandomSecret(32));
    keys_.emplace(name, std::move(key));
    return name;
  }

  Result<Bytes> Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) override {
    STRONGROOM_RETURN_IF_ERROR(Reachable());
    ++wraps;
    std::lock_guard lock(mutex_);
    auto it = keys_.find(std::string(key_name));
    if (it == keys_.end()) return NotFound("no key '" + std::string(key_name) + "'");
    return crypto::SealBox(it->second.reveal(), "fake-provider", plaintext, aad);
  }

  Result<crypto::SecretBytes> Unwrap(std::string_view key_name, ByteView wrapped,
                                     ByteView aad) override {
    STRONGROOM_RETURN_IF_ERROR(Reachable());
    ++unwraps;
    std::lock_guard lock(mutex_);
    auto it = keys_.find(std::string(key_name));
    if (it == keys_.end()) return NotFound("no key '" + std::string(key_name) + "'");
    return crypto::OpenBox(it->second.reveal(), "fake-provider", wrapped, aad);
  }

  Result<void> DestroyKey(std::string_view key_name) override {
    STRONGROOM_RETURN_IF_ERROR(Reachable());
    std::lock_guard lock(mutex_);
    if (keys_.erase(std::string(key_name)) == 0) return NotFound("no key");
    return Ok();
  }

  Result<void> HealthCheck() override { return Reachable(); }

  std::atomic<bool> down{false};
  std::atomic<int> wraps{0};
  std::atomic<int> unwraps{0};

 private:
  Result<void> Reachable() const {
    if (down) {
      return tl::unexpected(Error(ErrorCode::kUnavailable, "fake provider is down")
                                .WithReason("ServiceUnavailable"));
    }
    return Ok();
  }

  const std::string id_;
  std::mutex mutex_;
  std::map<std::string, crypto::SecretBytes> keys_;
};

}  // namespace strongroom::keys
