// SPDX-License-Identifier: Apache-2.0
#include "keys/key_directory.h"

#include <chrono>
#include <optional>
#include <utility>

#include "base/clock.h"
#include "crypto/random.h"

namespace strongroom::keys {
namespace {

// The AWS-managed default key has the same id in every installation, so two
// processes creating it at once agree on it (the first insert wins, the
// other sees kAlreadyExists). Its material is still unique: the salt of its
// version is random, and the root key differs.
constexpr std::string_view kAwsManagedKeyId = "a3a5e6f0-5e0d-4c1e-8b5d-000000000053";

constexpr std::string_view kKindSseS3 = "sse-s3";
constexpr std::string_view kKindAwsManaged = "aws-managed";
constexpr std::string_view kKindCustomer = "customer";
constexpr std::string_view kEnabled = "enabled";
constexpr std::string_view kDisabled = "disabled";

constexpr std::string_view kAliasPrefix = "alias/";
constexpr std::string_view kReservedAliasPrefix = "alias/aws/";
constexpr size_t kMaxAliasNameSize = 250;  // after "alias/": 256 in all, as AWS
constexpr size_t kMaxDescriptionSize = 8192;
constexpr size_t kSaltSize = 32;

tl::unexpected<Error> KmsNotFound(std::string message) {
  return tl::unexpected(
      Error(ErrorCode::kNotFound, std::move(message)).WithReason("KMS.NotFoundException"));
}

tl::unexpected<Error> KeyNotFound(std::string_view reference) {
  return KmsNotFound("Key '" + std::string(reference) + "' does not exist");
}

tl::unexpected<Error> AliasNotFound(std::string_view reference) {
  return KmsNotFound("Alias '" + std::string(reference) + "' is not found.");
}

// Turns the catalog's plain kNotFound into the KMS error; passes others on.
tl::unexpected<Error> KmsError(const Error& error, std::string_view reference, bool alias) {
  if (error.code() != ErrorCode::kNotFound) return tl::unexpected(error);
  return alias ? AliasNotFound(reference) : KeyNotFound(reference);
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// 8-4-4-4-12 hex digits, either case.
bool IsUuidShaped(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::string> NewKeyId() {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes b, crypto::RandomBytes(16));
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kDigits[b[i] >> 4]);
    id.push_back(kDigits[b[i] & 0x0f]);
  }
  return id;
}

// "alias/NAME" for "NAME" or "alias/NAME".
std::string NormalizeAlias(std::string_view alias) {
  if (alias.starts_with(kAliasPrefix)) return std::string(alias);
  return std::string(kAliasPrefix) + std::string(alias);
}

// AWS alias rules for an alias a customer may create.
Result<void> ValidateCustomerAlias(const std::string& alias) {
  std::string_view name = std::string_view(alias).substr(kAliasPrefix.size());
  if (name.empty() || name.size() > kMaxAliasNameSize) {
    return InvalidArgument("alias '" + alias + "': the name after 'alias/' must have 1 to " +
                           std::to_string(kMaxAliasNameSize) + " characters");
  }
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-';
    if (!ok) {
      return InvalidArgument("alias '" + alias +
                             "' may contain only letters, digits, '/', '_' and '-'");
    }
  }
  if (alias.starts_with(kReservedAliasPrefix)) {
    return InvalidArgument("alias '" + alias + "': the prefix 'alias/aws/' is reserved");
  }
  return Ok();
}

KeyState StateOf(const std::string& state) {
  if (state == kEnabled) return KeyState::kEnabled;
  if (state == KeyStateName(KeyState::kPendingDestroy)) return KeyState::kPendingDestroy;
  if (state == KeyStateName(KeyState::kDestroyed)) return KeyState::kDestroyed;
  // Anything else (a state a later version may add) is unusable.
  return KeyState::kDisabled;
}

// The resource of a KMS ARN "arn:PARTITION:kms:REGION:ACCOUNT:RESOURCE", or
// nullopt if `reference` is not one.
std::optional<std::string_view> ArnResource(std::string_view reference) {
  if (!reference.starts_with("arn:")) return std::nullopt;
  std::string_view rest = reference;
  std::string_view fields[5];
  for (std::string_view& field : fields) {
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    field = rest.substr(0, colon);
    rest.remove_prefix(colon + 1);
  }
  // fields: "arn", partition, service, region, account
  if (!fields[1].starts_with("aws") || fields[2] != "kms") return std::nullopt;
  return rest;
}

Result<catalog::KmsKeyVersion> FreshVersion(const std::string& key_id, uint32_t version,
                                            int64_t now_ms) {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes salt, crypto::RandomBytes(kSaltSize));
  return catalog::KmsKeyVersion{key_id, version, std::move(salt), now_ms};
}

// Inserts a key with a fresh first version; kAlreadyExists passes through.
Result<void> InsertKey(catalog::Catalog& catalog, const std::string& key_id, std::string_view kind,
                       std::string_view description, std::string_view provider = "strongroom",
                       std::string_view provider_key = {}, bool provider_key_owned = false) {
  int64_t now_ms = NowMs();
  catalog::KmsKey key;
  key.key_id = key_id;
  key.description = std::string(description);
  key.state = std::string(kEnabled);
  key.current_version = 1;
  key.created_ms = now_ms;
  key.kind = std::string(kind);
  key.provider = std::string(provider);
  key.provider_key = std::string(provider_key);
  key.provider_key_owned = provider_key_owned;
  STRONGROOM_ASSIGN_OR_RETURN(catalog::KmsKeyVersion first, FreshVersion(key_id, 1, now_ms));
  return catalog.CreateKmsKey(key, first);
}

// Builds the public view of a catalog row, with its aliases unless the
// caller does not need them (the per-request state check).
Result<KeyInfo> ToInfo(catalog::Catalog& catalog, const catalog::KmsKey& key,
                       bool with_aliases = true) {
  KeyInfo info;
  info.key_id = key.key_id;
  if (with_aliases) {
    STRONGROOM_ASSIGN_OR_RETURN(info.aliases, catalog.KmsAliasesOf(key.key_id));
  }
  info.description = key.description;
  info.state = StateOf(key.state);
  info.current_version = key.current_version;
  info.created_ms = key.created_ms;
  info.aws_managed = key.kind == kKindAwsManaged;
  info.provider = key.provider;
  info.provider_key = key.provider_key;
  info.provider_key_owned = key.provider_key_owned;
  info.provider_key_outcome = key.provider_key_outcome;
  info.provider_key_settled_ms = key.provider_key_settled_ms;
  info.destroy_ms = key.destroy_ms;
  return info;
}

// The catalog row of a key a customer may manage (not sse-s3, not the
// AWS-managed key). kNotFound as Get.
Result<catalog::KmsKey> CustomerKey(catalog::Catalog& catalog, std::string_view key_id,
                                    std::string_view action) {
  auto key = catalog.GetKmsKey(key_id);
  if (!key) return KmsError(key.error(), key_id, false);
  if (key->kind != kKindCustomer) {
    return InvalidArgument("cannot " + std::string(action) + " the built-in key '" +
                           std::string(key_id) + "'");
  }
  return std::move(*key);
}

}  // namespace

KeyDirectory::KeyDirectory(catalog::Catalog& catalog) : catalog_(catalog) {}

// ------------------------------------------------------------------ built-in keys

Result<void> KeyDirectory::EnsureBuiltinKeys() {
  // Each step tolerates kAlreadyExists: another process may be doing the same.
  auto tolerate = [](Result<void> result) -> Result<void> {
    if (!result && result.error().code() == ErrorCode::kAlreadyExists) return Ok();
    return result;
  };
  auto sse_s3 = catalog_.GetKmsKey(kSseS3KeyId);
  if (!sse_s3) {
    if (sse_s3.error().code() != ErrorCode::kNotFound) return tl::unexpected(sse_s3.error());
    STRONGROOM_RETURN_IF_ERROR(tolerate(InsertKey(catalog_, std::string(kSseS3KeyId), kKindSseS3,
                                                  "the key of SSE-S3 (AES256) objects")));
  }
  auto managed = catalog_.GetKmsKey(kAwsManagedKeyId);
  if (!managed) {
    if (managed.error().code() != ErrorCode::kNotFound) return tl::unexpected(managed.error());
    STRONGROOM_RETURN_IF_ERROR(
        tolerate(InsertKey(catalog_, std::string(kAwsManagedKeyId), kKindAwsManaged,
                           "Default key that protects my S3 objects when no other key is "
                           "defined")));
  }
  auto alias = catalog_.ResolveKmsAlias(kDefaultKmsAlias);
  if (!alias) {
    if (alias.error().code() != ErrorCode::kNotFound) return tl::unexpected(alias.error());
    STRONGROOM_RETURN_IF_ERROR(tolerate(catalog_.AddKmsAlias(kDefaultKmsAlias, kAwsManagedKeyId)));
  }
  return Ok();
}

// ------------------------------------------------------------------ keys

Result<KeyInfo> KeyDirectory::Create(std::string_view name, std::string_view description,
                                     std::string_view provider, std::string_view provider_key,
                                     bool provider_key_owned) {
  if (provider.empty() || (provider != "strongroom" && provider_key.empty())) {
    return InvalidArgument("a provider-backed key needs a provider id and a provider key");
  }
  if (provider == "strongroom" && (!provider_key.empty() || provider_key_owned)) {
    return InvalidArgument("a key derived from the root key has no provider key");
  }
  if (description.size() > kMaxDescriptionSize) {
    return InvalidArgument("a key description may have at most " +
                           std::to_string(kMaxDescriptionSize) + " characters");
  }
  std::string alias;
  if (!name.empty()) {
    alias = NormalizeAlias(name);
    STRONGROOM_RETURN_IF_ERROR(ValidateCustomerAlias(alias));
    // Checked up front so a taken name creates no key (the catalog has no
    // multi-table create; a race between two creators can still leave the
    // loser's key without an alias, which `key alias` can fix).
    auto taken = catalog_.ResolveKmsAlias(alias);
    if (taken) return AlreadyExists("alias '" + alias + "' already names a key");
    if (taken.error().code() != ErrorCode::kNotFound) return tl::unexpected(taken.error());
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::string key_id, NewKeyId());
  STRONGROOM_RETURN_IF_ERROR(
      InsertKey(catalog_, key_id, kKindCustomer, description, provider, provider_key,
                provider_key_owned));
  if (!alias.empty()) {
    STRONGROOM_RETURN_IF_ERROR(catalog_.AddKmsAlias(alias, key_id));
  }
  return Get(key_id);
}

Result<KeyInfo> KeyDirectory::Resolve(std::string_view reference) {
  std::string_view target = reference;
  if (auto resource = ArnResource(reference)) {
    if (resource->starts_with("key/")) {
      target = resource->substr(4);
      if (!IsUuidShaped(target)) return KeyNotFound(reference);
    } else if (resource->starts_with(kAliasPrefix)) {
      target = *resource;
    } else {
      return KeyNotFound(reference);
    }
  } else if (reference.starts_with("arn:")) {
    return KeyNotFound(reference);
  }

  std::string key_id;
  if (IsUuidShaped(target)) {
    key_id = Lowercase(target);
  } else {
    if (target.empty() || target == kAliasPrefix) return AliasNotFound(reference);
    auto resolved = catalog_.ResolveKmsAlias(NormalizeAlias(target));
    if (!resolved) return KmsError(resolved.error(), reference, true);
    key_id = std::move(*resolved);
  }
  auto key = catalog_.GetKmsKey(key_id);
  if (!key) return KmsError(key.error(), reference, false);
  if (key->kind == kKindSseS3) return KeyNotFound(reference);
  return ToInfo(catalog_, *key);
}

Result<KeyInfo> KeyDirectory::Get(std::string_view key_id) {
  auto key = catalog_.GetKmsKey(key_id);
  if (!key) return KmsError(key.error(), key_id, false);
  return ToInfo(catalog_, *key);
}

Result<KeyInfo> KeyDirectory::GetWithoutAliases(std::string_view key_id) {
  auto key = catalog_.GetKmsKey(key_id);
  if (!key) return KmsError(key.error(), key_id, false);
  return ToInfo(catalog_, *key, /*with_aliases=*/false);
}

Result<std::vector<KeyInfo>> KeyDirectory::List() {
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::KmsKey> keys, catalog_.ListKmsKeys());
  std::vector<KeyInfo> out;
  for (const catalog::KmsKey& key : keys) {
    if (key.kind == kKindSseS3) continue;
    STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, ToInfo(catalog_, key));
    out.push_back(std::move(info));
  }
  return out;
}

Result<void> KeyDirectory::SetState(std::string_view key_id, KeyState state) {
  if (state != KeyState::kEnabled && state != KeyState::kDisabled) {
    return InvalidArgument("SetState only enables or disables a key");
  }
  STRONGROOM_ASSIGN_OR_RETURN(
      catalog::KmsKey key,
      CustomerKey(catalog_, key_id, state == KeyState::kEnabled ? "enable" : "disable"));
  if (key.state != kEnabled && key.state != kDisabled) {
    return tl::unexpected(
        Error(ErrorCode::kFailedPrecondition,
              key.key_id + " is " +
                  (key.state == KeyStateName(KeyState::kDestroyed)
                       ? std::string("destroyed and cannot be enabled or disabled.")
                       : "pending deletion: cancel the deletion first (strongroom key "
                         "cancel-destroy).") )
            .WithReason("KMS.KMSInvalidStateException"));
  }
  // Conditional: a destruction scheduled meanwhile wins.
  auto set = catalog_.UpdateKmsKeyState(key_id, key.state,
                                        state == KeyState::kEnabled ? kEnabled : kDisabled, 0);
  if (!set) return KmsError(set.error(), key_id, false);
  return Ok();
}

// ------------------------------------------------------------------ aliases

Result<void> KeyDirectory::AddAlias(std::string_view key_id, std::string_view alias) {
  std::string normalized = NormalizeAlias(alias);
  STRONGROOM_RETURN_IF_ERROR(ValidateCustomerAlias(normalized));
  STRONGROOM_RETURN_IF_ERROR(CustomerKey(catalog_, key_id, "alias"));
  auto added = catalog_.AddKmsAlias(normalized, key_id);
  if (!added) {
    if (added.error().code() == ErrorCode::kAlreadyExists) {
      return AlreadyExists("alias '" + normalized + "' already names a key");
    }
    return KmsError(added.error(), key_id, false);
  }
  return Ok();
}

Result<void> KeyDirectory::RemoveAlias(std::string_view alias) {
  std::string normalized = NormalizeAlias(alias);
  if (normalized.starts_with(kReservedAliasPrefix)) {
    return InvalidArgument("alias '" + normalized + "' is reserved");
  }
  auto removed = catalog_.DeleteKmsAlias(normalized);
  if (!removed) return KmsError(removed.error(), normalized, true);
  return Ok();
}

// ------------------------------------------------------------------ grants

Result<void> KeyDirectory::Grant(std::string_view key_id, std::string_view access_key) {
  if (access_key.empty()) return InvalidArgument("empty access key");
  STRONGROOM_RETURN_IF_ERROR(CustomerKey(catalog_, key_id, "grant"));
  auto granted = catalog_.AddKmsGrant(key_id, access_key);
  if (!granted) return KmsError(granted.error(), key_id, false);
  return Ok();
}

Result<void> KeyDirectory::Revoke(std::string_view key_id, std::string_view access_key) {
  STRONGROOM_RETURN_IF_ERROR(CustomerKey(catalog_, key_id, "revoke a grant on"));
  return catalog_.RemoveKmsGrant(key_id, access_key);
}

Result<bool> KeyDirectory::IsGranted(std::string_view key_id, std::string_view access_key) {
  auto key = catalog_.GetKmsKey(key_id);
  if (!key) return KmsError(key.error(), key_id, false);
  if (key->kind == kKindAwsManaged) return true;  // every access key may use aws/s3
  if (key->kind != kKindCustomer) return false;   // sse-s3 is not a KMS key
  return catalog_.HasKmsGrant(key_id, access_key);
}

Result<std::vector<std::string>> KeyDirectory::Grantees(std::string_view key_id) {
  auto key = catalog_.GetKmsKey(key_id);
  if (!key) return KmsError(key.error(), key_id, false);
  return catalog_.KmsGrantees(key_id);
}

// ------------------------------------------------------------------ versions

Result<Bytes> KeyDirectory::VersionSalt(std::string_view key_id, uint32_t version) {
  auto found = catalog_.GetKmsKeyVersion(key_id, version);
  if (!found) {
    if (found.error().code() != ErrorCode::kNotFound) return tl::unexpected(found.error());
    return KmsNotFound("Key '" + std::string(key_id) + "' has no version " +
                       std::to_string(version));
  }
  return std::move(found->salt);
}

Result<Bytes> KeyDirectory::VersionWrapped(std::string_view key_id, uint32_t version) {
  auto found = catalog_.GetKmsKeyVersion(key_id, version);
  if (!found) {
    if (found.error().code() != ErrorCode::kNotFound) return tl::unexpected(found.error());
    return KmsNotFound("Key '" + std::string(key_id) + "' has no version " +
                       std::to_string(version));
  }
  return std::move(found->wrapped);
}

Result<void> KeyDirectory::SetVersionWrapped(std::string_view key_id, uint32_t version,
                                             ByteView wrapped) {
  auto stored = catalog_.SetKmsKeyVersionWrapped(key_id, version, wrapped);
  if (!stored && stored.error().code() == ErrorCode::kNotFound) {
    return KmsNotFound("Key '" + std::string(key_id) + "' has no version " +
                       std::to_string(version));
  }
  return stored;
}

}  // namespace strongroom::keys
