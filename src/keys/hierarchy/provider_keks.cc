// SPDX-License-Identifier: Apache-2.0
#include "keys/hierarchy/provider_keks.h"

#include <utility>

#include "crypto/constant_time.h"
#include "crypto/random.h"

namespace strongroom::keys {
namespace {

std::string Describe(const KeyInfo& key, uint32_t version) {
  return "KMS key " + key.key_id + " version " + std::to_string(version) + " (provider " +
         key.provider + ", key '" + key.provider_key + "')";
}

// A provider's error as the rest of the server should see it: an outage is
// always 503 ServiceUnavailable; a provider key that is gone is a KMS
// NotFound (not an S3 NoSuchKey).
Error FromProvider(const Error& error, const KeyInfo& key, uint32_t version) {
  Error out = error.WithContext(Describe(key, version));
  switch (error.code()) {
    case ErrorCode::kUnavailable:
      return out.WithReason("ServiceUnavailable");
    case ErrorCode::kNotFound:
      return out.WithReason("KMS.NotFoundException");
    default:
      return out;
  }
}

}  // namespace

Bytes ProviderKekAad(std::string_view key_id, uint32_t version) {
  Bytes aad(kProviderKekLabel.begin(), kProviderKekLabel.end());
  aad.push_back(0x00);
  Append(aad, AsBytes(key_id));
  aad.push_back(0x00);
  AppendBe32(aad, version);
  return aad;
}

ProviderKeks::ProviderKeks(KeyDirectory& directory, ProviderLookup lookup)
    : directory_(directory), lookup_(std::move(lookup)) {}

Result<KeyProvider*> ProviderKeks::ProviderOf(const KeyInfo& key) {
  if (key.provider_key.empty()) {
    return DataLoss("KMS key " + key.key_id + " names provider '" + key.provider +
                    "' but no provider key");
  }
  KeyProvider* provider = lookup_ ? lookup_(key.provider) : nullptr;
  if (provider == nullptr) {
    return tl::unexpected(
        Error(ErrorCode::kUnavailable,
              "KMS key " + key.key_id + " is held by key provider '" + key.provider +
                  "', which this server does not configure (add [provider." + key.provider +
                  "] to its config file)")
            .WithReason("ServiceUnavailable"));
  }
  return provider;
}

Result<crypto::SecretBytes> ProviderKeks::Material(const KeyInfo& key, uint32_t version) {
  STRONGROOM_ASSIGN_OR_RETURN(KeyProvider * provider, ProviderOf(key));
  Bytes aad = ProviderKekAad(key.key_id, version);
  STRONGROOM_ASSIGN_OR_RETURN(Bytes wrapped, directory_.VersionWrapped(key.key_id, version));
  if (wrapped.empty()) {
    // First use of this version: make its KEK and store it wrapped.
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes fresh,
                                crypto::RandomSecret(kProviderKekSize));
    auto made = provider->Wrap(key.provider_key, fresh.reveal(), aad);
    if (!made) return tl::unexpected(FromProvider(made.error(), key, version));
    auto stored = directory_.SetVersionWrapped(key.key_id, version, *made);
    if (stored) return fresh;
    if (stored.error().code() != ErrorCode::kAlreadyExists) {
      return tl::unexpected(stored.error());
    }
    // Someone else stored one first: theirs is the version's KEK.
    STRONGROOM_ASSIGN_OR_RETURN(wrapped, directory_.VersionWrapped(key.key_id, version));
    if (wrapped.empty()) return Internal(Describe(key, version) + ": wrapped KEK vanished");
  }
  auto material = provider->Unwrap(key.provider_key, wrapped, aad);
  if (!material) return tl::unexpected(FromProvider(material.error(), key, version));
  if (material->size() != kProviderKekSize) {
    return DataLoss(Describe(key, version) + ": the provider returned a KEK of " +
                    std::to_string(material->size()) + " bytes");
  }
  return std::move(*material);
}

Result<void> ProviderKeks::Ensure(const KeyInfo& key, uint32_t version) {
  // Twice: the first call may have made the KEK, the second unwraps it.
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes first, Material(key, version));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes second, Material(key, version));
  if (!crypto::ConstantTimeEquals(first.reveal(), second.reveal())) {
    return DataLoss(Describe(key, version) + ": the provider unwrapped another KEK than it wrapped");
  }
  return Ok();
}

}  // namespace strongroom::keys
