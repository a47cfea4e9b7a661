// SPDX-License-Identifier: Apache-2.0
#pragma once

// The KMS key directory: which keys exist, their aliases, state, versions
// and grants, kept in the catalog. Needs no root key: it holds only public
// facts and per-version salts (key_ring.h explains why salts suffice).
// Changes are visible at once to every process sharing the catalog, so
// `strongroom key disable` takes effect on a running server. Thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "catalog/catalog.h"

namespace strongroom::keys {

// The internal key every SSE-S3 object is wrapped under. Not a KMS key:
// Resolve() does not find it and it cannot be granted, disabled or aliased.
inline constexpr std::string_view kSseS3KeyId = "sse-s3";
// The AWS-managed default key for aws:kms without a key id; every access
// key may use it.
inline constexpr std::string_view kDefaultKmsAlias = "alias/aws/s3";

// A key pending destruction can neither wrap nor unwrap (its objects are
// unreadable already) until `key cancel-destroy` puts it back to disabled;
// once its window ends its version salts are deleted and it is destroyed:
// every object under it is crypto-shredded for good.
enum class KeyState { kEnabled, kDisabled, kPendingDestroy, kDestroyed };

// "enabled", "disabled", "pending-destroy", "destroyed".
const char* KeyStateName(KeyState state);

struct KeyInfo {
  std::string key_id;                // canonical: a lowercase UUID, or kSseS3KeyId
  std::vector<std::string> aliases;  // "alias/NAME"
  std::string description;
  KeyState state = KeyState::kEnabled;
  uint32_t current_version = 1;
  int64_t created_ms = 0;
  bool aws_managed = false;          // the default aws/s3 key
  std::string provider = "strongroom";
  // Provider-backed keys (provider is a key provider's id, e.g. "kmip";
  // keys/hierarchy/provider_keks.h): the provider's key that wraps each
  // version's KEK. Empty for keys derived from the root key.
  std::string provider_key;
  // strongroom created provider_key (`key create --provider` without
  // --provider-key), so destroying this key destroys that one too.
  bool provider_key_owned = false;
  // Once the key is destroyed: what became of that provider key
  // ("destroyed", "not-found", "kept: <reason>"; empty: not yet) and when.
  std::string provider_key_outcome;
  int64_t provider_key_settled_ms = 0;
  int64_t destroy_ms = 0;            // kPendingDestroy: when due; kDestroyed: when done
};

class KeyDirectory {
 public:
  explicit KeyDirectory(catalog::Catalog& catalog);

  // Creates the SSE-S3 key and the aws/s3 default KMS key if missing.
  // Idempotent; called by `strongroom init` and at every start.
  Result<void> EnsureBuiltinKeys();

  // Creates a customer-managed key with a fresh id, version 1 and, if `name`
  // is not empty, the alias "alias/<name>". kAlreadyExists if the alias is
  // taken; kInvalidArgument for a bad name (AWS alias rules; "aws/" is
  // reserved).
  // With `provider` other than "strongroom" the key is provider-backed:
  // `provider_key` (not empty) names the provider's key that wraps its
  // versions' KEKs, which the key hierarchy makes on first use
  // (keys/hierarchy/provider_keks.h). `provider_key_owned`: strongroom
  // created that provider key for this KMS key alone (see KeyInfo).
  Result<KeyInfo> Create(std::string_view name, std::string_view description,
                         std::string_view provider = "strongroom",
                         std::string_view provider_key = {}, bool provider_key_owned = false);

  // Resolves a reference as S3 accepts it: a key id, "alias/NAME", a bare
  // NAME (treated as an alias; a convenience AWS does not offer), or the
  // ARN of either ("arn:aws:kms:REGION:ACCOUNT:key/ID", "...:alias/NAME").
  // kNotFound with reason "KMS.NotFoundException" and an AWS-style message
  // ("Key 'REF' does not exist") otherwise. Never resolves kSseS3KeyId.
  Result<KeyInfo> Resolve(std::string_view reference);
  // By canonical id, including kSseS3KeyId. kNotFound as above.
  Result<KeyInfo> Get(std::string_view key_id);
  Result<std::vector<KeyInfo>> List();  // KMS keys only, by creation time

  // kEnabled or kDisabled only; a key pending destruction or destroyed is
  // refused with KMS.KMSInvalidStateException (cancel the destruction first).
  Result<void> SetState(std::string_view key_id, KeyState state);
  // kAlreadyExists if the alias names another key; aliases are
  // "alias/NAME" (a bare NAME gets the prefix).
  Result<void> AddAlias(std::string_view key_id, std::string_view alias);
  Result<void> RemoveAlias(std::string_view alias);  // kNotFound

  // Grants: which access keys may use which customer-managed keys. The
  // aws/s3 key needs no grant; admin users need none either (checked by
  // the caller, who knows the user).
  Result<void> Grant(std::string_view key_id, std::string_view access_key);
  Result<void> Revoke(std::string_view key_id, std::string_view access_key);  // kNotFound
  Result<bool> IsGranted(std::string_view key_id, std::string_view access_key);
  Result<std::vector<std::string>> Grantees(std::string_view key_id);

  // The salt of one version (kNotFound if the key or version is unknown).
  Result<Bytes> VersionSalt(std::string_view key_id, uint32_t version);
  // Provider-backed keys: the version's wrapped KEK (empty if none yet;
  // kNotFound as VersionSalt), and storing it once (kAlreadyExists if the
  // version has one: another process made it first).
  Result<Bytes> VersionWrapped(std::string_view key_id, uint32_t version);
  Result<void> SetVersionWrapped(std::string_view key_id, uint32_t version, ByteView wrapped);

  // Lifecycle (key_lifecycle.cc). Errors for a key in the wrong state:
  // kFailedPrecondition with reason "KMS.KMSInvalidStateException".

  // Adds a version with a fresh salt and makes it current: new data keys are
  // wrapped under it, objects under older versions stay readable (a rewrap
  // moves them). Customer keys, the aws/s3 key and kSseS3KeyId; enabled or
  // disabled ones. Returns the key with its new version.
  Result<KeyInfo> Rotate(std::string_view key_id);
  // Schedules a customer-managed key (enabled or disabled) for destruction
  // `pending_ms` (>= 0) from now; from now on it neither wraps nor unwraps.
  // kInvalidArgument for built-in keys or a negative window.
  Result<KeyInfo> ScheduleDestroy(std::string_view key_id, int64_t pending_ms);
  // Takes a key pending destruction back to disabled (as AWS does).
  Result<KeyInfo> CancelDestroy(std::string_view key_id);
  // Destroys every key pending destruction whose window has ended: deletes
  // its version salts (catalog::Catalog::DestroyKmsKey) and marks it
  // destroyed. Returns the ids of the keys destroyed now.
  Result<std::vector<std::string>> DestroyDueKeys();
  // Destroyed keys whose provider key strongroom created and has not yet
  // destroyed at the provider: the copies of the catalog in backups still
  // hold their wrapped KEKs, which only that destruction makes useless.
  // A provider key another key still uses (one made with --provider-key)
  // waits until that key is destroyed too.
  Result<std::vector<KeyInfo>> ProviderKeysToDestroy();
  // Records what became of the provider key of destroyed key `key_id`
  // (see KeyInfo::provider_key_outcome); it is not offered again.
  Result<void> SettleProviderKey(std::string_view key_id, std::string_view outcome);
  // The key `key_id` if it may wrap and unwrap now. Otherwise kNotFound
  // (KMS.NotFoundException), kFailedPrecondition with KMS.DisabledException
  // ("<id> is disabled.") or KMS.KMSInvalidStateException (pending deletion,
  // destroyed). A pending destruction that is due is carried out first.
  // Runs on every key use, so the result has no aliases (one catalog read).
  Result<KeyInfo> Usable(std::string_view key_id);

 private:
  Result<KeyInfo> GetWithoutAliases(std::string_view key_id);

  catalog::Catalog& catalog_;
};

}  // namespace strongroom::keys
