// SPDX-License-Identifier: Apache-2.0
#include "keys/hierarchy/key_hierarchy.h"

#include <charconv>
#include <utility>

#include "crypto/hkdf.h"
#include "crypto/sealed_box.h"

namespace strongroom::keys {
namespace {

constexpr std::string_view kKekLabel = "strongroom/v1/kek";
constexpr size_t kKekSize = 32;

tl::unexpected<Error> SealedError() {
  return tl::unexpected(
      Error(ErrorCode::kUnavailable, "the key ring is sealed; run `strongroom unseal`")
          .WithReason("ServiceUnavailable"));
}

std::string KeyRef(std::string_view key_id, uint32_t version) {
  return std::string(key_id) + "/" + std::to_string(version);
}

// "<id>/<version>": version decimal, 1..2^32-1, no leading zeros or sign.
bool ParseKeyRef(std::string_view key_ref, std::string& key_id, uint32_t& version) {
  size_t slash = key_ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view digits = key_ref.substr(slash + 1);
  if (digits.empty() || digits[0] == '0') return false;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, version);
  if (ec != std::errc() || ptr != end) return false;
  key_id = std::string(key_ref.substr(0, slash));
  return true;
}

}  // namespace

KeyHierarchy::KeyHierarchy(KeyDirectory& directory, KekCacheOptions cache)
    : directory_(directory),
      provider_keks_(std::make_unique<ProviderKeks>(directory, nullptr)),
      cache_(cache) {}

void KeyHierarchy::SetProviders(ProviderLookup lookup) {
  provider_keks_ = std::make_unique<ProviderKeks>(directory_, std::move(lookup));
}

Result<void> KeyHierarchy::Unseal(crypto::SecretBytes root) {
  if (root.size() != kRootKeySize) {
    return InvalidArgument("the root key must have " + std::to_string(kRootKeySize) + " bytes");
  }
  std::unique_lock lock(root_mutex_);
  if (!root_.empty()) {
    return FailedPrecondition("the key ring is already unsealed");
  }
  root_ = std::move(root);
  return Ok();
}

bool KeyHierarchy::sealed() const {
  std::shared_lock lock(root_mutex_);
  return root_.empty();
}

Result<KeyInfo> KeyHierarchy::UsableKey(std::string_view key_id) {
  auto info = directory_.Usable(key_id);
  if (!info && info.error().reason() == "KMS.KMSInvalidStateException") {
    Forget(key_id);  // pending destruction or destroyed: drop its cached KEKs
  }
  return info;
}

void KeyHierarchy::Forget(std::string_view key_id) {
  cache_.ErasePrefix(std::string(key_id) + "/");
}

Result<Kek> KeyHierarchy::Derive(const KeyInfo& key, uint32_t version) {
  const std::string& key_id = key.key_id;
  std::string key_ref = KeyRef(key_id, version);
  Kek kek{std::string(kRootProvider), key_ref, key_id, version, nullptr};
  auto load = [&]() -> Result<crypto::SecretBytes> {
    if (key.provider != kRootProvider) {
      // Provider-backed: unwrapped by the provider (provider_keks.h).
      return provider_keks_->Material(key, version);
    }
    STRONGROOM_ASSIGN_OR_RETURN(Bytes salt, directory_.VersionSalt(key_id, version));
    Bytes info(kKekLabel.begin(), kKekLabel.end());
    info.push_back(0x00);
    Append(info, AsBytes(key_id));
    info.push_back(0x00);
    AppendBe32(info, version);
    return crypto::HkdfSha512(root_.reveal(), salt, info, kKekSize);
  };
  STRONGROOM_ASSIGN_OR_RETURN(kek.material, cache_.GetOrLoad(key_ref, load));
  return kek;
}

Result<Kek> KeyHierarchy::CurrentKek(std::string_view key_id) {
  std::shared_lock lock(root_mutex_);
  if (root_.empty()) return SealedError();
  STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, UsableKey(key_id));
  return Derive(info, info.current_version);
}

Result<Kek> KeyHierarchy::FindKek(std::string_view provider_id, std::string_view key_ref) {
  std::shared_lock lock(root_mutex_);
  if (root_.empty()) return SealedError();
  if (provider_id != kRootProvider) {
    return NotFound("no key provider '" + std::string(provider_id) + "' (key '" +
                    std::string(key_ref) + "')");
  }
  std::string key_id;
  uint32_t version = 0;
  if (!ParseKeyRef(key_ref, key_id, version)) {
    return InvalidArgument("malformed key reference '" + std::string(key_ref) +
                           "' (expected <key id>/<version>)");
  }
  STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, UsableKey(key_id));
  if (version > info.current_version) {
    return tl::unexpected(Error(ErrorCode::kNotFound, "Key '" + info.key_id + "' has no version " +
                                                          std::to_string(version))
                              .WithReason("KMS.NotFoundException"));
  }
  return Derive(info, version);
}

Result<Bytes> KeyHierarchy::Seal(std::string_view purpose, ByteView plaintext, ByteView aad) {
  std::shared_lock lock(root_mutex_);
  if (root_.empty()) return SealedError();
  return crypto::SealBox(root_.reveal(), purpose, plaintext, aad);
}

Result<crypto::SecretBytes> KeyHierarchy::Unseal(std::string_view purpose, ByteView sealed,
                                                 ByteView aad) {
  std::shared_lock lock(root_mutex_);
  if (root_.empty()) return SealedError();
  return crypto::OpenBox(root_.reveal(), purpose, sealed, aad);
}

}  // namespace strongroom::keys
