// SPDX-License-Identifier: Apache-2.0
#include "server/providers.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "crypto/constant_time.h"
#include "crypto/random.h"
#include "keys/kmip/kmip_provider.h"
#include "keys/pkcs11/pkcs11_provider.h"
#include "keys/tpm/tpm_provider.h"
#include "server/audit_log.h"

namespace strongroom::server {
namespace {

using Clock = std::chrono::steady_clock;
using Factory = std::function<Result<std::unique_ptr<keys::KeyProvider>>()>;

constexpr std::string_view kRootKeyLabel = "strongroom-root";
constexpr std::string_view kProbeAad = "strongroom/v1/provider-probe";

// kUnavailable always says ServiceUnavailable (S3: 503 with Retry-After).
Error Normalized(Error error) {
  if (error.code() == ErrorCode::kUnavailable && error.reason().empty()) {
    return error.WithReason("ServiceUnavailable");
  }
  return error;
}

Factory KmipFactory(const KmipSettings& s) {
  keys::KmipProviderOptions options;
  options.host = s.host;
  options.port = s.port;
  options.ca_file = s.ca;
  options.client_cert_file = s.client_cert;
  options.client_key_file = s.client_key;
  options.connect_timeout = std::chrono::milliseconds(s.connect_timeout_ms);
  options.request_timeout = std::chrono::milliseconds(s.request_timeout_ms);
  return [options]() -> Result<std::unique_ptr<keys::KeyProvider>> {
    STRONGROOM_ASSIGN_OR_RETURN(auto provider, keys::KmipProvider::Create(options));
    return std::unique_ptr<keys::KeyProvider>(std::move(provider));
  };
}

Factory Pkcs11Factory(const Pkcs11Settings& s) {
  return [s]() -> Result<std::unique_ptr<keys::KeyProvider>> {
    keys::Pkcs11Options options;
    options.module_path = s.module;
    options.token_label = s.token_label;
    options.pin_file = s.pin_file;
    options.max_sessions = s.max_sessions;
    STRONGROOM_ASSIGN_OR_RETURN(auto provider, keys::Pkcs11Provider::Open(std::move(options)));
    return std::unique_ptr<keys::KeyProvider>(std::move(provider));
  };
}

Factory TpmFactory(const TpmSettings& s) {
  return [s]() -> Result<std::unique_ptr<keys::KeyProvider>> {
    keys::TpmOptions options;
    options.tcti = s.tcti;
    options.timeout = std::chrono::milliseconds(s.timeout_ms);
    options.owner_auth_file = s.owner_auth_file;
    options.default_pcrs = s.pcrs;
    STRONGROOM_ASSIGN_OR_RETURN(auto provider, keys::TpmProvider::Create(std::move(options)));
    return std::unique_ptr<keys::KeyProvider>(std::move(provider));
  };
}

// A label for a KMS key's provider key: the alias, reduced to characters
// every provider takes in a label, and a random suffix.
Result<std::string> KmsKeyLabel(const std::string& name) {
  std::string label = "strongroom-kms-";
  for (char c : name.substr(0, 32)) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    label.push_back(ok ? c : '-');
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes random, crypto::RandomBytes(4));
  return label + "-" + HexEncode(random);
}

// Wraps and unwraps a throwaway secret under `key_name`: the provider
// answers and the key can do both.
Result<void> Probe(keys::KeyProvider& provider, const std::string& key_name) {
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes secret, crypto::RandomSecret(32));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes wrapped,
                              provider.Wrap(key_name, secret.reveal(), AsBytes(kProbeAad)));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes back,
                              provider.Unwrap(key_name, wrapped, AsBytes(kProbeAad)));
  if (!crypto::ConstantTimeEquals(back.reveal(), secret.reveal())) {
    return DataLoss("provider '" + std::string(provider.id()) + "' key '" + key_name +
                    "' unwrapped another secret than it wrapped");
  }
  return Ok();
}

}  // namespace

keys::KekCacheOptions KekCacheOptionsOf(const ServerSettings& settings) {
  keys::KekCacheOptions options;
  options.ttl = std::chrono::seconds(settings.kek_cache_ttl);
  options.max_entries = settings.kek_cache_entries;
  return options;
}

// ------------------------------------------------------------------ the guard

class ProviderRegistry::Guarded final : public keys::KeyProvider {
 public:
  Guarded(std::string id, Factory factory, Notice notice)
      : id_(std::move(id)), factory_(std::move(factory)), notice_(std::move(notice)) {}

  // Builds the provider now; kUnavailable failures are retried on use.
  Result<void> Build() {
    auto built = Get(/*probe=*/true);
    if (!built && built.error().code() != ErrorCode::kUnavailable) {
      return tl::unexpected(built.error());
    }
    return Ok();
  }

  std::string_view id() const override { return id_; }

  Result<std::string> CreateKey(std::string_view label) override {
    return Call<std::string>([&](KeyProvider& p) { return p.CreateKey(label); });
  }
  Result<Bytes> Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) override {
    return Call<Bytes>([&](KeyProvider& p) { return p.Wrap(key_name, plaintext, aad); });
  }
  Result<crypto::SecretBytes> Unwrap(std::string_view key_name, ByteView wrapped,
                                     ByteView aad) override {
    return Call<crypto::SecretBytes>(
        [&](KeyProvider& p) { return p.Unwrap(key_name, wrapped, aad); });
  }
  Result<void> DestroyKey(std::string_view key_name) override {
    return Call<void>([&](KeyProvider& p) { return p.DestroyKey(key_name); });
  }
  // A probe: ignores the cool-down, and its outcome sets the state.
  Result<void> HealthCheck() override {
    return Call<void>([](KeyProvider& p) { return p.HealthCheck(); }, /*probe=*/true);
  }

 private:
  // The built provider, building it if needed (at most once per cool-down
  // unless `probe`).
  Result<KeyProvider*> Get(bool probe) {
    if (KeyProvider* built = provider_.load()) return built;
    std::lock_guard lock(build_mutex_);
    if (KeyProvider* built = provider_.load()) return built;
    Clock::time_point now = Clock::now();
    if (!probe && now < next_build_) {
      return tl::unexpected(Error(ErrorCode::kUnavailable,
                                  "key provider '" + id_ + "' is not ready: " + build_error_)
                                .WithReason("ServiceUnavailable"));
    }
    auto made = factory_();
    if (!made) {
      build_error_ = made.error().message();
      next_build_ = now + kCooldown;
      return tl::unexpected(Normalized(made.error().WithContext("key provider '" + id_ + "'")));
    }
    owned_ = std::move(*made);
    provider_.store(owned_.get());
    return owned_.get();
  }

  template <typename T, typename Op>
  Result<T> Call(Op&& op, bool probe = false) {
    if (!probe) {
      std::lock_guard lock(state_mutex_);
      if (down_ && Clock::now() < retry_at_) {
        return tl::unexpected(Error(ErrorCode::kUnavailable,
                                    "key provider '" + id_ + "' is unavailable (" + last_error_ +
                                        "); retrying shortly")
                                  .WithReason("ServiceUnavailable"));
      }
    }
    auto provider = Get(probe);
    if (!provider) {
      Note(&provider.error());
      return tl::unexpected(provider.error());
    }
    Result<T> result = op(**provider);
    if (!result) {
      Error error = Normalized(result.error());
      if (error.code() == ErrorCode::kUnavailable) Note(&error);
      return tl::unexpected(std::move(error));
    }
    Note(nullptr);
    return result;
  }

  // Records an outage (`error` of code kUnavailable) or a success.
  void Note(const Error* error) {
    if (error != nullptr && error->code() != ErrorCode::kUnavailable) return;
    std::string line;
    {
      std::lock_guard lock(state_mutex_);
      if (error != nullptr) {
        if (!down_) {
          line = "key provider '" + id_ + "' is unavailable: " + error->message() +
                 " (requests that need it answer 503 until it is back)";
        }
        down_ = true;
        last_error_ = error->message();
        retry_at_ = Clock::now() + kCooldown;
      } else if (down_) {
        down_ = false;
        line = "key provider '" + id_ + "' is available again";
      }
    }
    if (!line.empty() && notice_) notice_(line);
  }

  const std::string id_;
  const Factory factory_;
  const Notice notice_;

  std::mutex build_mutex_;
  std::unique_ptr<KeyProvider> owned_;
  std::atomic<KeyProvider*> provider_{nullptr};
  Clock::time_point next_build_{};
  std::string build_error_;

  std::mutex state_mutex_;
  bool down_ = false;
  Clock::time_point retry_at_{};
  std::string last_error_;
};

// ------------------------------------------------------------------ registry

Result<std::unique_ptr<ProviderRegistry>> ProviderRegistry::Create(
    const ProviderSettings& settings, Notice notice) {
  std::unique_ptr<ProviderRegistry> registry(new ProviderRegistry());
  auto add = [&](const char* id, Factory factory) -> Result<void> {
    auto guarded = std::make_unique<Guarded>(id, std::move(factory), notice);
    STRONGROOM_RETURN_IF_ERROR(guarded->Build());
    registry->providers_.emplace(id, std::move(guarded));
    return Ok();
  };
  if (settings.kmip) STRONGROOM_RETURN_IF_ERROR(add("kmip", KmipFactory(*settings.kmip)));
  if (settings.pkcs11) STRONGROOM_RETURN_IF_ERROR(add("pkcs11", Pkcs11Factory(*settings.pkcs11)));
  if (settings.tpm) STRONGROOM_RETURN_IF_ERROR(add("tpm", TpmFactory(*settings.tpm)));
  return registry;
}

ProviderRegistry::~ProviderRegistry() = default;

keys::KeyProvider* ProviderRegistry::Find(std::string_view id) {
  auto it = providers_.find(id);
  return it == providers_.end() ? nullptr : it->second.get();
}

Result<keys::KeyProvider*> ProviderRegistry::Require(std::string_view id) {
  if (id != "kmip" && id != "pkcs11" && id != "tpm") {
    return InvalidArgument("unknown key provider '" + std::string(id) +
                           "' (kmip, pkcs11 or tpm)");
  }
  if (keys::KeyProvider* provider = Find(id)) return provider;
  return FailedPrecondition("key provider '" + std::string(id) +
                            "' is not configured: add a [provider." + std::string(id) +
                            "] table to the config file (--config)");
}

keys::ProviderLookup ProviderRegistry::Lookup() {
  return [this](std::string_view id) { return Find(id); };
}

std::vector<std::string> ProviderRegistry::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, provider] : providers_) out.push_back(id);
  return out;
}

std::vector<ProviderRegistry::Health> ProviderRegistry::CheckHealth() {
  std::vector<Health> out;
  for (const auto& [id, provider] : providers_) {
    auto checked = provider->HealthCheck();
    out.push_back(Health{id, checked.has_value(), checked ? "" : checked.error().message()});
  }
  return out;
}

// ------------------------------------------------------------------ commands

Result<crypto::SecretBytes> CreateRootWithProvider(const ServerSettings& settings,
                                                   ProviderRegistry& registry,
                                                   const std::string& provider_id,
                                                   const std::string& provider_key,
                                                   std::string* key_name) {
  STRONGROOM_ASSIGN_OR_RETURN(keys::KeyProvider * provider, registry.Require(provider_id));
  std::string name = provider_key;
  if (name.empty()) {
    auto created = provider->CreateKey(kRootKeyLabel);
    if (!created && created.error().code() == ErrorCode::kAlreadyExists) {
      return AlreadyExists("key provider '" + provider_id + "' already has a key labelled '" +
                           std::string(kRootKeyLabel) +
                           "': pass --provider-key NAME to wrap the root key under an existing "
                           "key (or remove that key)");
    }
    if (!created) {
      return tl::unexpected(created.error().WithContext("creating the root wrapping key"));
    }
    name = std::move(*created);
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes root,
                              keys::CreateProviderRoot(settings.key_dir, *provider, name));
  if (key_name != nullptr) *key_name = name;
  return root;
}

Result<crypto::SecretBytes> OpenRootWithProvider(const ServerSettings& settings) {
  STRONGROOM_ASSIGN_OR_RETURN(keys::ProviderRootInfo info,
                              keys::ReadProviderRoot(settings.key_dir));
  STRONGROOM_ASSIGN_OR_RETURN(auto registry, ProviderRegistry::Create(settings.providers));
  STRONGROOM_ASSIGN_OR_RETURN(keys::KeyProvider * provider, registry->Require(info.provider));
  return keys::OpenProviderRoot(info, *provider);
}

Result<keys::KeyInfo> CreateProviderBackedKey(const ServerSettings& settings,
                                              keys::KeyDirectory& directory,
                                              const std::string& name,
                                              const std::string& description,
                                              const std::string& provider_id,
                                              const std::string& provider_key) {
  STRONGROOM_ASSIGN_OR_RETURN(auto registry, ProviderRegistry::Create(settings.providers));
  STRONGROOM_ASSIGN_OR_RETURN(keys::KeyProvider * provider, registry->Require(provider_id));
  // A taken alias must not leave a provider key behind.
  if (!name.empty() && directory.Resolve("alias/" + name)) {
    return AlreadyExists("alias 'alias/" + name + "' already names a key");
  }
  std::string key_name = provider_key;
  if (key_name.empty()) {
    STRONGROOM_ASSIGN_OR_RETURN(std::string label, KmsKeyLabel(name));
    auto created = provider->CreateKey(label);
    if (!created) {
      return tl::unexpected(created.error().WithContext("creating the provider key"));
    }
    key_name = std::move(*created);
  }
  // A provider key made here for a key that then is not created goes again
  // (but never once a key row names it: Create can fail after inserting).
  auto undo = [&](Error error) -> tl::unexpected<Error> {
    if (!provider_key.empty()) return tl::unexpected(std::move(error));
    auto keys = directory.List();
    const bool named = !keys || std::any_of(keys->begin(), keys->end(), [&](const auto& key) {
      return key.provider == provider_id && key.provider_key == key_name;
    });
    if (named) return tl::unexpected(std::move(error));
    if (auto removed = provider->DestroyKey(key_name); !removed) {
      return tl::unexpected(error.WithContext("provider key '" + key_name +
                                              "' could not be removed again (" +
                                              removed.error().message() + ")"));
    }
    return tl::unexpected(std::move(error));
  };
  if (auto probed = Probe(*provider, key_name); !probed) {
    return undo(probed.error().WithContext("provider '" + provider_id + "' key '" + key_name + "'"));
  }
  auto created_info = directory.Create(name, description, provider_id, key_name,
                                       /*provider_key_owned=*/provider_key.empty());
  if (!created_info) return undo(created_info.error());
  keys::KeyInfo info = std::move(*created_info);
  keys::ProviderKeks keks(directory, registry->Lookup());
  auto ensured = keks.Ensure(info, info.current_version);
  if (!ensured) {
    return tl::unexpected(ensured.error().WithContext(
        "created key " + info.key_id + ", but its first KEK could not be made (it will be "
        "at first use)"));
  }
  return info;
}

std::vector<ProviderKeyDestruction> DestroyProviderKeys(const ServerSettings& settings,
                                                       keys::KeyDirectory& directory,
                                                       const keys::ProviderLookup& lookup,
                                                       keys::AuditSink* audit,
                                                       const std::string& actor,
                                                       ProviderKeyRetries* retries) {
  std::vector<ProviderKeyDestruction> out;
  auto due = directory.ProviderKeysToDestroy();
  if (!due) {
    std::fprintf(stderr, "strongroom: listing provider keys to destroy: %s\n",
                 due.error().message().c_str());
    return out;
  }
  if (due->empty()) return out;
  std::optional<keys::ProviderRootInfo> root;
  if (keys::ProviderRootExists(settings.key_dir)) {
    auto read = keys::ReadProviderRoot(settings.key_dir);
    if (!read) {
      // Unsure which key wraps the root key: destroy nothing.
      std::fprintf(stderr, "strongroom: not destroying provider keys: %s\n",
                   read.error().message().c_str());
      return out;
    }
    root = std::move(*read);
  }
  for (keys::KeyInfo& key : *due) {
    ProviderKeyDestruction step{std::move(key), "", std::nullopt, false};
    keys::KeyProvider* provider = lookup ? lookup(step.key.provider) : nullptr;
    Result<void> destroyed =
        Unavailable("key provider '" + step.key.provider + "' is not configured here ([provider." +
                    step.key.provider + "])");
    if (root && root->provider == step.key.provider && root->key_name == step.key.provider_key) {
      destroyed = Unimplemented("it also wraps the root key (root.provider)");
    } else if (provider != nullptr) {
      destroyed = provider->DestroyKey(step.key.provider_key);
    }
    std::string outcome;
    if (destroyed) {
      outcome = "destroyed";
    } else {
      step.error = destroyed.error();
      if (destroyed.error().code() == ErrorCode::kNotFound) outcome = "not-found";
      if (destroyed.error().code() == ErrorCode::kUnimplemented) {
        outcome = "kept: " + destroyed.error().message();
      }
    }
    if (!outcome.empty()) {
      auto settled = directory.SettleProviderKey(step.key.key_id, outcome);
      if (settled) {
        step.outcome = outcome;
      } else {
        step.error = settled.error();
      }
    }
    if (retries != nullptr) {
      if (step.outcome.empty()) {
        // By kind, not wording (a provider in its cool-down words it otherwise).
        std::string kind = std::to_string(static_cast<int>(step.error->code())) + "/" +
                           step.error->reason();
        std::string& last = (*retries)[step.key.key_id];
        step.repeated = last == kind;
        last = kind;
      } else {
        retries->erase(step.key.key_id);
      }
    }
    if (!step.repeated) {
      keys::AuditEvent event;
      event.operation = keys::audit_op::kKeyDestroy;
      event.actor = actor;
      event.key_id = step.key.key_id;
      event.ok = step.outcome == "destroyed" || step.outcome == "not-found";
      if (!event.ok) event.error = step.error->message();
      event.details = {{"phase", "provider-key"},
                       {"provider", step.key.provider},
                       {"provider_key", step.key.provider_key},
                       {"outcome", step.outcome.empty() ? "retry" : step.outcome}};
      RecordOrWarn(audit, event);
    }
    out.push_back(std::move(step));
  }
  return out;
}

std::string DescribeOutcome(const ProviderKeyDestruction& step) {
  std::string which = "key " + step.key.key_id + ": its provider key '" + step.key.provider_key +
                      "' at '" + step.key.provider + "'";
  if (step.outcome == "destroyed") return which + " is destroyed";
  if (step.outcome == "not-found") {
    return which + " was not found there (already destroyed, or not visible to these "
                   "credentials)";
  }
  if (!step.outcome.empty()) {
    return which + " is not destroyed (" + step.error->message() +
           "); the KEKs it wrapped are deleted from the catalog, but a catalog backup "
           "holding them stays readable while that key exists";
  }
  return which + " could not be destroyed yet (" + step.error->message() +
         "); strongroom serve tries again at its next sweep";
}

// ------------------------------------------------------------------ unsealer

ProviderUnsealer::ProviderUnsealer(keys::ProviderRootInfo info, keys::KeyProvider& provider,
                                   Install install, Say say)
    : info_(std::move(info)),
      provider_(provider),
      install_(std::move(install)),
      say_(std::move(say)) {}

ProviderUnsealer::~ProviderUnsealer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<bool> ProviderUnsealer::TryOnce() {
  auto root = keys::OpenProviderRoot(info_, provider_);
  if (!root) {
    if (root.error().code() == ErrorCode::kUnavailable) return false;
    return tl::unexpected(root.error());
  }
  STRONGROOM_RETURN_IF_ERROR(install_(std::move(*root)));
  unsealed_ = true;
  return true;
}

void ProviderUnsealer::StartRetrying() {
  if (unsealed_ || thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::chrono::milliseconds backoff = kMinBackoff;
    unsigned attempts = 1;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        if (cv_.wait_for(lock, backoff, [this] { return stopping_; })) return;
      }
      ++attempts;
      auto tried = TryOnce();
      if (tried && *tried) {
        say_("unsealed by key provider '" + info_.provider + "' after " +
             std::to_string(attempts) + " attempts: serving requests");
        return;
      }
      if (!tried) {
        say_("cannot unseal with key provider '" + info_.provider + "': " +
             tried.error().message() + "; staying sealed (fix it and restart)");
        return;
      }
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  });
}

}  // namespace strongroom::server
