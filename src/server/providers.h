// SPDX-License-Identifier: Apache-2.0
#pragma once

// The external key providers of a server process (keys/key_provider.h),
// built from the [provider.*] settings (server/provider_settings.h), and
// what the commands do with them:
//
//  * ProviderRegistry: one provider per configured id ("kmip", "pkcs11",
//    "tpm"), each behind a guard that (1) builds it lazily when building
//    needs the provider (a PKCS#11 token that is absent at start) and
//    retries later, and (2) after a call failed kUnavailable answers every
//    call kUnavailable at once for a short cool-down (kCooldown), so a dead
//    or black-holed provider costs one timeout per cool-down, not one per
//    request. Errors keep the provider's code; kUnavailable always carries
//    reason "ServiceUnavailable" (S3: 503). Nothing ever falls back to
//    another key.
//  * Unattended unseal: `init --root-provider` (CreateRootWithProvider) and
//    `serve` (ProviderUnsealer), the root key wrapped by a provider in
//    <key_dir>/root.provider (keys/provider_root/provider_root.h).
//  * Provider-backed KMS keys: `key create NAME --provider ID`
//    (CreateProviderBackedKey; keys/hierarchy/provider_keks.h).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "keys/hierarchy/kek_cache.h"
#include "keys/hierarchy/provider_keks.h"
#include "keys/key_directory.h"
#include "keys/audit.h"
#include "keys/key_provider.h"
#include "keys/provider_root/provider_root.h"
#include "server/options.h"

namespace strongroom::server {

// The KEK cache settings of `settings` (kek_cache_ttl seconds,
// kek_cache_entries).
keys::KekCacheOptions KekCacheOptionsOf(const ServerSettings& settings);

class ProviderRegistry {
 public:
  static constexpr std::chrono::milliseconds kCooldown{500};

  // Called with a line for the operator when a provider goes down or comes
  // back (serve prints it; commands leave it empty).
  using Notice = std::function<void(const std::string&)>;

  // Builds every configured provider. A provider that cannot be built
  // because it is unavailable (kUnavailable: a token not present) is built
  // again on later use; any other failure (a missing certificate file, a
  // wrong PIN, a malformed TCTI) fails here.
  static Result<std::unique_ptr<ProviderRegistry>> Create(const ProviderSettings& settings,
                                                          Notice notice = nullptr);
  ~ProviderRegistry();

  // The provider configured under `id`, or nullptr.
  keys::KeyProvider* Find(std::string_view id);
  // Same, or kFailedPrecondition naming the missing [provider.ID] table
  // (kInvalidArgument for an id that is no provider at all).
  Result<keys::KeyProvider*> Require(std::string_view id);
  // For KeyHierarchy::SetProviders; valid while the registry lives.
  keys::ProviderLookup Lookup();

  std::vector<std::string> ids() const;

  struct Health {
    std::string id;
    bool ok = false;
    std::string message;  // the error if not ok
  };
  // Calls every provider's HealthCheck (bypassing the cool-down).
  std::vector<Health> CheckHealth();

  class Guarded;  // the guard around one provider (providers.cc)

 private:
  ProviderRegistry() = default;
  std::map<std::string, std::unique_ptr<Guarded>, std::less<>> providers_;
};

// `init --root-provider ID [--provider-key NAME]`: has provider ID (from
// `registry`) create a key labelled "strongroom-root" unless `provider_key`
// names an existing one, generates the root key and writes only its
// wrapped form to <key_dir>/root.provider. Returns the root key and sets
// *key_name to the provider key used.
Result<crypto::SecretBytes> CreateRootWithProvider(const ServerSettings& settings,
                                                   ProviderRegistry& registry,
                                                   const std::string& provider_id,
                                                   const std::string& provider_key,
                                                   std::string* key_name);

// The root key of a provider keyring, unwrapped now (for admin commands
// such as `user add`; `serve` uses ProviderUnsealer).
Result<crypto::SecretBytes> OpenRootWithProvider(const ServerSettings& settings);

// `key create NAME --provider ID [--provider-key KEY]`: creates (or with
// `provider_key`, checks) the provider key that will wrap the new KMS key's
// KEKs, then the key, and makes its first version's KEK.
Result<keys::KeyInfo> CreateProviderBackedKey(const ServerSettings& settings,
                                              keys::KeyDirectory& directory,
                                              const std::string& name,
                                              const std::string& description,
                                              const std::string& provider_id,
                                              const std::string& provider_key);

// The last step of destroying a provider-backed KMS key: destroys, at its
// provider, each provider key that strongroom created for a KMS key that is
// now destroyed (KeyDirectory::ProviderKeysToDestroy), so that a copy of
// the catalog in a backup, which still holds the wrapped KEKs, is useless
// too. Keys the operator brought (--provider-key) are never offered; one
// that also wraps the root key (root.provider in settings.key_dir) is kept.
// Settled, recorded in the catalog and audited: destroyed; not found
// (already gone, or not visible to these credentials); kept (the provider
// cannot destroy it, kUnimplemented: a TPM primary key). Anything else
// (provider down or not configured here) is left for the next call;
// `retries` (may be null), kept by the caller between calls, makes a
// failure that repeats unchanged neither audited nor reported again.
struct ProviderKeyDestruction {
  keys::KeyInfo key;
  std::string outcome;         // as recorded ("destroyed", "not-found", "kept: …"); empty: not settled
  std::optional<Error> error;  // why it is not destroyed (kept or not settled)
  bool repeated = false;       // the same failure as last time: nothing new to say
};
using ProviderKeyRetries = std::map<std::string, std::string>;  // key id -> last failure
std::vector<ProviderKeyDestruction> DestroyProviderKeys(const ServerSettings& settings,
                                                       keys::KeyDirectory& directory,
                                                       const keys::ProviderLookup& lookup,
                                                       keys::AuditSink* audit,
                                                       const std::string& actor,
                                                       ProviderKeyRetries* retries = nullptr);
// One line for the operator about one such step.
std::string DescribeOutcome(const ProviderKeyDestruction& step);

// `serve` with a provider keyring: unwraps the root key with no human
// input. If the provider cannot be reached, the server starts sealed and
// this keeps trying in the background (backoff from kMinBackoff doubling up
// to kMaxBackoff) until the provider answers, then unseals. A permanent
// failure (the key is gone, the blob does not authenticate) stops the
// retries and is reported; the server stays sealed.
class ProviderUnsealer {
 public:
  static constexpr std::chrono::milliseconds kMinBackoff{250};
  static constexpr std::chrono::milliseconds kMaxBackoff{5000};

  // Installs the root key (KeyHierarchy::Unseal and its audit record).
  using Install = std::function<Result<void>(crypto::SecretBytes root)>;
  using Say = std::function<void(const std::string&)>;

  ProviderUnsealer(keys::ProviderRootInfo info, keys::KeyProvider& provider, Install install,
                   Say say);
  ~ProviderUnsealer();  // stops the background retries

  // One attempt. true: unsealed; false: the provider is unavailable (call
  // StartRetrying); an error: a permanent failure.
  Result<bool> TryOnce();
  void StartRetrying();
  bool unsealed() const { return unsealed_; }
  const keys::ProviderRootInfo& info() const { return info_; }

 private:
  keys::ProviderRootInfo info_;
  keys::KeyProvider& provider_;
  Install install_;
  Say say_;
  std::atomic<bool> unsealed_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace strongroom::server
