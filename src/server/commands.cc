// SPDX-License-Identifier: Apache-2.0
#include "server/commands.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "base/file.h"
#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/certificate.h"
#include "crypto/random.h"
#include "http/server.h"
#include "keys/hierarchy/key_hierarchy.h"
#include "keys/key_directory.h"
#include "keys/local/dev_root.h"
#include "keys/passphrase/passphrase_root.h"
#include "keys/provider_root/provider_root.h"
#include "keys/shamir/shamir_root.h"
#include "objects/object_store.h"
#include "s3/metrics.h"
#include "s3/service.h"
#include "s3/users.h"
#include "server/audit_log.h"
#include "server/control.h"
#include "server/jobs.h"
#include "server/lifecycle_commands.h"
#include "server/providers.h"
#include "server/status.h"
#include "storage/local/local_backend.h"

namespace strongroom::server {
namespace {

using keys::kDevRootFile;
using keys::kSealedRootFile;
constexpr size_t kMinPassphrase = 8;

// Everything a command needs, built from the settings. The key hierarchy
// starts sealed; a command that has the root key unseals it.
struct Stack {
  std::unique_ptr<catalog::Catalog> catalog;
  std::unique_ptr<keys::KeyDirectory> directory;
  std::unique_ptr<keys::KeyHierarchy> keys;
  std::unique_ptr<s3::UserDirectory> users;
  std::unique_ptr<storage::LocalBackend> backend;  // serve only
  std::unique_ptr<objects::ObjectStore> store;     // serve only
  std::unique_ptr<keys::AuditSink> audit;          // the key audit log, once opened
};

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string CatalogPath(const ServerSettings& settings) {
  return settings.data_dir + "/catalog.db";
}
std::string DevRootPath(const ServerSettings& settings) {
  return settings.key_dir + "/" + kDevRootFile;
}
std::string SealedRootPath(const ServerSettings& settings) {
  return settings.key_dir + "/" + kSealedRootFile;
}
std::string ShamirRootPath(const ServerSettings& settings) {
  return settings.key_dir + "/" + keys::kShamirRootFile;
}
std::string ControlPath(const ServerSettings& settings) {
  return settings.data_dir + "/" + kControlSocketName;
}

// Creates `path` and any missing parents, each 0700.
Result<void> MakeDirectory(const std::string& path) {
  for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
    std::string prefix = path.substr(0, end);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return tl::unexpected(ErrnoError(errno, "cannot create directory '" + prefix + "'"));
    }
    if (end == std::string::npos) return Ok();
  }
}

// Opens the catalog and the (sealed) key hierarchy. Without `create`, a
// missing catalog is an error: admin commands never make a fresh one.
Result<Stack> OpenCatalog(const ServerSettings& settings, bool create) {
  Stack stack;
  if (create) {
    STRONGROOM_RETURN_IF_ERROR(MakeDirectory(settings.data_dir));
  } else if (!Exists(CatalogPath(settings))) {
    return FailedPrecondition("no catalog at '" + CatalogPath(settings) +
                              "': run `strongroom init` first (or `strongroom serve --dev` for a "
                              "development server), with the same --data-dir");
  }
  STRONGROOM_ASSIGN_OR_RETURN(stack.catalog, catalog::Catalog::Open(CatalogPath(settings)));
  stack.directory = std::make_unique<keys::KeyDirectory>(*stack.catalog);
  stack.keys = std::make_unique<keys::KeyHierarchy>(*stack.directory, KekCacheOptionsOf(settings));
  stack.users = std::make_unique<s3::UserDirectory>(*stack.catalog, *stack.keys);
  return stack;
}

// The object store audits every key use (server/audit_log.h).
Result<void> OpenStorage(const ServerSettings& settings, Stack& stack) {
  STRONGROOM_ASSIGN_OR_RETURN(stack.backend, storage::LocalBackend::Create(settings.data_dir));
  if (!stack.audit) {
    STRONGROOM_ASSIGN_OR_RETURN(stack.audit, OpenAuditLog(settings));
  }
  stack.store = std::make_unique<objects::ObjectStore>(*stack.catalog, *stack.backend,
                                                       *stack.keys, stack.audit.get());
  return Ok();
}

std::string NoKeyringMessage(const ServerSettings& settings) {
  if (Exists(DevRootPath(settings))) {
    return "'" + settings.key_dir + "' holds only a development key (" + kDevRootFile +
           "): pass --dev (or set dev = true) to keep using it, or run `strongroom init` with "
           "new key and data directories for a sealed keyring";
  }
  return "no keyring in '" + settings.key_dir + "' (" + kSealedRootFile +
         " is missing): run `strongroom init` first, or `strongroom serve --dev` for a "
         "throwaway development key";
}

// Development mode must not silently replace a sealed keyring's root key.
Result<void> CheckDevMode(const ServerSettings& settings) {
  if (keys::ShamirRootExists(settings.key_dir) && !Exists(DevRootPath(settings))) {
    return FailedPrecondition("'" + settings.key_dir + "' holds a Shamir keyring (" +
                              keys::kShamirRootFile + "): development mode would use another "
                              "root key; drop --dev (and dev = true) and unseal with shares");
  }
  if (keys::ProviderRootExists(settings.key_dir) && !Exists(DevRootPath(settings))) {
    return FailedPrecondition("'" + settings.key_dir + "' holds a keyring wrapped by a key "
                              "provider (" + keys::kProviderRootFile + "): development mode "
                              "would use another root key; drop --dev (and dev = true)");
  }
  if (keys::SealedRootExists(settings.key_dir) && !Exists(DevRootPath(settings))) {
    return FailedPrecondition("'" + settings.key_dir + "' holds a sealed keyring (" +
                              kSealedRootFile + "): development mode would use another root "
                              "key; drop --dev (and dev = true) and give the passphrase");
  }
  return Ok();
}

// Opens the sealed root with `passphrase`: kUnauthenticated if wrong.
Result<crypto::SecretBytes> OpenRoot(const ServerSettings& settings,
                                     const crypto::SecretBytes& passphrase) {
  auto root = keys::OpenSealedRoot(settings.key_dir, passphrase.reveal());
  if (!root && root.error().code() == ErrorCode::kUnauthenticated) {
    return Unauthenticated("wrong passphrase for the keyring in '" + settings.key_dir + "'");
  }
  return root;
}

// The root key now: the development key, or the sealed root opened with the
// passphrase. nullopt if no passphrase is available.
Result<std::optional<crypto::SecretBytes>> LoadRoot(const ServerSettings& settings,
                                                    const PassphraseSource& passphrase,
                                                    bool* dev_created) {
  if (settings.dev) {
    STRONGROOM_RETURN_IF_ERROR(CheckDevMode(settings));
    STRONGROOM_RETURN_IF_ERROR(MakeDirectory(settings.key_dir));
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes root,
                                keys::LoadOrCreateDevRoot(settings.key_dir, dev_created));
    return std::optional<crypto::SecretBytes>(std::move(root));
  }
  if (keys::ShamirRootExists(settings.key_dir)) {
    // Only K shares open it, and they come through `strongroom unseal`.
    return std::optional<crypto::SecretBytes>();
  }
  if (keys::ProviderRootExists(settings.key_dir)) {
    // Unattended: the key provider unwraps it (server/providers.h).
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes root, OpenRootWithProvider(settings));
    return std::optional<crypto::SecretBytes>(std::move(root));
  }
  if (!keys::SealedRootExists(settings.key_dir)) {
    return FailedPrecondition(NoKeyringMessage(settings));
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<crypto::SecretBytes> secret, passphrase());
  if (!secret) return std::optional<crypto::SecretBytes>();
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes root, OpenRoot(settings, *secret));
  return std::optional<crypto::SecretBytes>(std::move(root));
}

// A passphrase for people to write down: 8 groups of 5 characters from a
// 32-letter alphabet without look-alikes (200 bits).
Result<crypto::SecretBytes> GeneratePassphrase() {
  static constexpr char kAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";
  static_assert(sizeof(kAlphabet) - 1 == 32);
  constexpr size_t kGroups = 8, kGroupSize = 5;
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes random,
                              crypto::RandomSecret(kGroups * kGroupSize));
  crypto::SecretBytes out(kGroups * (kGroupSize + 1) - 1);
  size_t o = 0;
  for (size_t i = 0; i < random.size(); ++i) {
    if (i > 0 && i % kGroupSize == 0) out.mutable_reveal()[o++] = '-';
    // 256 is a multiple of 32: the low five bits are uniform.
    out.mutable_reveal()[o++] = static_cast<uint8_t>(kAlphabet[random.reveal()[i] & 31]);
  }
  return out;
}

std::string EnvOrEmpty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// Appends JSON lines to a file (or stdout), one write per line.
class AccessLog {
 public:
  static Result<std::unique_ptr<AccessLog>> Open(const std::string& path) {
    auto log = std::unique_ptr<AccessLog>(new AccessLog());
    if (path == "-") {
      log->file_ = stdout;
    } else {
      log->file_ = std::fopen(path.c_str(), "a");
      if (log->file_ == nullptr) {
        return tl::unexpected(ErrnoError(errno, "cannot open access log '" + path + "'"));
      }
      log->owned_ = true;
    }
    return log;
  }
  ~AccessLog() {
    if (owned_) std::fclose(file_);
  }
  void Write(const std::string& line) {
    std::lock_guard lock(mutex_);
    std::fputs(line.c_str(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
  }

 private:
  AccessLog() = default;
  std::mutex mutex_;
  FILE* file_ = nullptr;
  bool owned_ = false;
};

void PrintCredentials(const std::string& access, const std::string& generated_secret,
                      const std::string& region) {
  std::printf("  export AWS_ACCESS_KEY_ID=%s\n", access.c_str());
  if (!generated_secret.empty()) {
    std::printf("  export AWS_SECRET_ACCESS_KEY='%s'\n", generated_secret.c_str());
  } else {
    std::printf("  export AWS_SECRET_ACCESS_KEY=\"$STRONGROOM_SECRET_KEY\"\n");
  }
  std::printf("  export AWS_DEFAULT_REGION=%s\n", region.c_str());
}

// Writes "<prefix><secret>\n" to standard output with write(2), so the
// secret passes through no stdio buffer that outlives it.
void WriteSecretLine(const std::string& prefix, const crypto::SecretBytes& secret) {
  std::fflush(stdout);
  crypto::SecretBytes line(prefix.size() + secret.size() + 1);
  std::copy(prefix.begin(), prefix.end(), line.mutable_reveal().begin());
  std::copy(secret.reveal().begin(), secret.reveal().end(),
            line.mutable_reveal().begin() + static_cast<long>(prefix.size()));
  line.mutable_reveal()[line.size() - 1] = '\n';
  ByteView rest = line.reveal();
  while (!rest.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    rest = rest.subspan(static_cast<size_t>(n));
  }
}

// The part every kind of `init` shares once the new root key exists:
// unseal with it, create the first admin (STRONGROOM_ACCESS_KEY /
// STRONGROOM_SECRET_KEY or generated) and record the init. A failure
// removes `root_file`, so init can be rerun.
struct FirstAdmin {
  s3::NewUser user;
  bool secret_given = false;  // from STRONGROOM_SECRET_KEY, so not printed
};

Result<FirstAdmin> FinishInit(Stack& stack, const std::string& root_file,
                              Result<crypto::SecretBytes> root, const keys::AuditEvent& event) {
  auto undo = [&](const Error& error) -> tl::unexpected<Error> {
    ::unlink(root_file.c_str());
    return tl::unexpected(error.WithContext("init failed, keyring removed"));
  };
  if (!root) return undo(root.error());
  if (auto unsealed = stack.keys->Unseal(std::move(*root)); !unsealed) {
    return undo(unsealed.error());
  }
  std::string given_secret = EnvOrEmpty("STRONGROOM_SECRET_KEY");
  auto admin = stack.users->Add(EnvOrEmpty("STRONGROOM_ACCESS_KEY"), given_secret,
                                /*admin=*/true);
  if (!admin) return undo(admin.error());
  RecordOrWarn(stack.audit.get(), event);
  return FirstAdmin{std::move(*admin), !given_secret.empty()};
}

void PrintFirstAdmin(const FirstAdmin& admin, const std::string& region) {
  std::printf("\nAdmin access key (%s):\n",
              admin.secret_given ? "the secret from STRONGROOM_SECRET_KEY"
                                 : "the secret is shown only now");
  PrintCredentials(admin.user.access_key, admin.secret_given ? "" : admin.user.secret_key, region);
}

keys::AuditEvent InitEvent(std::string method) {
  keys::AuditEvent event;
  event.operation = keys::audit_op::kInit;
  event.actor = LocalActor();
  event.method = std::move(method);
  return event;
}

// The rest of `init --shares N --threshold K` once the catalog is ready:
// the split root key, root.shamir, the first admin, the shares printed once.
Result<void> InitWithShares(const ServerSettings& settings, const InitOptions& options,
                            Stack& stack) {
  STRONGROOM_ASSIGN_OR_RETURN(
      keys::NewShamirRoot created,
      keys::CreateShamirRoot(settings.key_dir, options.shares, options.threshold));
  keys::AuditEvent event = InitEvent("shamir");
  event.details = {{"shares", std::to_string(options.shares)},
                   {"threshold", std::to_string(options.threshold)},
                   {"key_check", HexEncode(created.info.key_check)}};
  STRONGROOM_ASSIGN_OR_RETURN(
      FirstAdmin admin,
      FinishInit(stack, ShamirRootPath(settings), std::move(created.root), event));

  std::printf("initialised the keyring: %s (root key split into %u Shamir shares, any %u of "
              "which unseal it; only what verifies the root key is stored)\n",
              ShamirRootPath(settings).c_str(), options.shares, options.threshold);
  std::printf("catalog: %s\n", CatalogPath(settings).c_str());
  std::printf("\nThe %u shares are shown only now. Give each to a different person and keep no\n"
              "copy here: any %u of them unseal the server, fewer reveal nothing. The last field\n"
              "of each share is its checksum, so a mistyped share is refused.\n",
              options.shares, options.threshold);
  for (size_t i = 0; i < created.shares.size(); ++i) {
    ByteView text = created.shares[i].reveal();
    std::string checksum(AsChars(text.subspan(text.size() - 8)));
    WriteSecretLine("  share " + std::to_string(i + 1) + " of " +
                        std::to_string(options.shares) + " (checksum " + checksum + "): ",
                    created.shares[i]);
  }
  PrintFirstAdmin(admin, settings.region);
  std::printf("\nStart the server (it starts sealed), then unseal it with %u shares:\n"
              "  strongroom serve --data-dir %s --key-dir %s\n"
              "  strongroom unseal --data-dir %s --share-file -     (one share per line)\n",
              options.threshold, settings.data_dir.c_str(), settings.key_dir.c_str(),
              settings.data_dir.c_str());
  std::fflush(stdout);
  return Ok();
}

// The rest of `init --root-provider ID` once the catalog is ready: the root
// key wrapped by the provider in root.provider, the first admin.
Result<void> InitWithProvider(const ServerSettings& settings, const InitOptions& options,
                              Stack& stack) {
  STRONGROOM_ASSIGN_OR_RETURN(auto providers, ProviderRegistry::Create(settings.providers));
  std::string key_name;
  STRONGROOM_ASSIGN_OR_RETURN(
      crypto::SecretBytes root,
      CreateRootWithProvider(settings, *providers, options.root_provider, options.provider_key,
                             &key_name));
  std::string path = settings.key_dir + "/" + keys::kProviderRootFile;
  keys::AuditEvent event = InitEvent("provider:" + options.root_provider);
  event.details = {{"provider", options.root_provider}, {"provider_key", key_name}};
  STRONGROOM_ASSIGN_OR_RETURN(FirstAdmin admin,
                              FinishInit(stack, path, std::move(root), event));

  std::printf("initialised the keyring: %s (root key wrapped by key provider '%s', key '%s';\n"
              "only the wrapped root key is stored)\n",
              path.c_str(), options.root_provider.c_str(), key_name.c_str());
  std::printf("catalog: %s\n", CatalogPath(settings).c_str());
  PrintFirstAdmin(admin, settings.region);
  std::printf("\nStart the server with the same config file; it asks the provider to unwrap the\n"
              "root key, no passphrase needed (if the provider is down it starts sealed and\n"
              "unseals itself once the provider answers):\n"
              "  strongroom serve --config CONFIG --data-dir %s --key-dir %s\n",
              settings.data_dir.c_str(), settings.key_dir.c_str());
  std::fflush(stdout);
  return Ok();
}

}  // namespace

Result<void> RunInit(const ServerSettings& settings, const PassphraseSource& passphrase,
                     const InitOptions& options) {
  if (settings.dev) {
    return FailedPrecondition(
        "the configuration sets dev = true: development mode needs no init (remove it to use "
        "a sealed keyring)");
  }
  if (keys::SealedRootExists(settings.key_dir)) {
    return AlreadyExists("a keyring already exists in '" + settings.key_dir + "' (" +
                         kSealedRootFile + "); nothing was changed");
  }
  if (keys::ShamirRootExists(settings.key_dir)) {
    return AlreadyExists("a keyring already exists in '" + settings.key_dir + "' (" +
                         keys::kShamirRootFile + "); nothing was changed");
  }
  if (keys::ProviderRootExists(settings.key_dir)) {
    return AlreadyExists("a keyring already exists in '" + settings.key_dir + "' (" +
                         keys::kProviderRootFile + "); nothing was changed");
  }
  const bool shamir = options.shares > 0 || options.threshold > 0;
  if (shamir && !options.root_provider.empty()) {
    return InvalidArgument("--shares and --root-provider exclude each other");
  }
  if (options.root_provider.empty() && !options.provider_key.empty()) {
    return InvalidArgument("--provider-key needs --root-provider");
  }
  if (shamir && (options.threshold < 2 || options.threshold > options.shares ||
                 options.shares > keys::shamir::kMaxShares)) {
    return InvalidArgument("--shares N --threshold K need 2 <= K <= N <= 255 (got K = " +
                           std::to_string(options.threshold) + ", N = " +
                           std::to_string(options.shares) + ")");
  }
  if (Exists(DevRootPath(settings))) {
    return AlreadyExists("'" + settings.key_dir + "' holds a development key (" + kDevRootFile +
                         "); nothing was changed (use new key and data directories for a "
                         "sealed keyring)");
  }
  STRONGROOM_RETURN_IF_ERROR(MakeDirectory(settings.key_dir));
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenCatalog(settings, /*create=*/true));
  STRONGROOM_ASSIGN_OR_RETURN(auto existing_users, stack.users->List());
  if (!existing_users.empty()) {
    return FailedPrecondition("the catalog '" + CatalogPath(settings) +
                              "' already has access keys, sealed under another root key; "
                              "nothing was changed (use a new data directory)");
  }
  STRONGROOM_RETURN_IF_ERROR(stack.directory->EnsureBuiltinKeys());
  STRONGROOM_ASSIGN_OR_RETURN(stack.audit, OpenAuditLog(settings));
  if (shamir) return InitWithShares(settings, options, stack);
  if (!options.root_provider.empty()) return InitWithProvider(settings, options, stack);

  STRONGROOM_ASSIGN_OR_RETURN(std::optional<crypto::SecretBytes> secret, passphrase());
  bool generated = !secret.has_value();
  if (generated) {
    STRONGROOM_ASSIGN_OR_RETURN(secret, GeneratePassphrase());
  } else if (secret->size() < kMinPassphrase) {
    return InvalidArgument("the passphrase must be at least " + std::to_string(kMinPassphrase) +
                           " bytes long");
  }
  STRONGROOM_RETURN_IF_ERROR(keys::CreateSealedRoot(settings.key_dir, secret->reveal()));
  STRONGROOM_ASSIGN_OR_RETURN(FirstAdmin admin,
                              FinishInit(stack, SealedRootPath(settings),
                                         OpenRoot(settings, *secret), InitEvent("passphrase")));

  std::printf("initialised the keyring: %s (root key sealed by the passphrase, Argon2id)\n",
              SealedRootPath(settings).c_str());
  std::printf("catalog: %s\n", CatalogPath(settings).c_str());
  if (generated) {
    std::printf(
        "\nNo passphrase was given and there is no terminal to ask on, so one was generated.\n"
        "It is shown only now. Store it safely: without it nothing here can be decrypted.\n"
        "  passphrase: %.*s\n",
        static_cast<int>(secret->size()), reinterpret_cast<const char*>(secret->reveal().data()));
  }
  PrintFirstAdmin(admin, settings.region);
  std::printf("\nStart the server (it asks for the passphrase on a terminal; or set\n"
              "STRONGROOM_PASSPHRASE, or pass --passphrase-file FILE / --passphrase-fd N):\n"
              "  strongroom serve --data-dir %s --key-dir %s\n",
              settings.data_dir.c_str(), settings.key_dir.c_str());
  std::fflush(stdout);
  return Ok();
}

Result<void> RunServe(const ServerSettings& settings, const PassphraseSource& passphrase) {
  // First the root key: a passphrase prompt must still be interruptible.
  bool dev_created = false;
  // A keyring wrapped by a key provider is unwrapped below, with no human
  // input, by a ProviderUnsealer (server/providers.h).
  const bool by_provider = !settings.dev && keys::ProviderRootExists(settings.key_dir);
  std::optional<crypto::SecretBytes> root;
  if (!by_provider) {
    STRONGROOM_ASSIGN_OR_RETURN(root, LoadRoot(settings, passphrase, &dev_created));
  }
  // A Shamir keyring starts sealed and collects shares over the control socket.
  std::unique_ptr<keys::ShareCollector> shares;
  if (!settings.dev && keys::ShamirRootExists(settings.key_dir)) {
    STRONGROOM_ASSIGN_OR_RETURN(keys::ShamirRootInfo info, keys::ReadShamirRoot(settings.key_dir));
    shares = std::make_unique<keys::ShareCollector>(info);
  }

  // Signals go to one thread that turns them into a graceful stop. Blocked
  // before any thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  // The key providers, before the stack that uses them (and outliving it).
  auto say = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  STRONGROOM_ASSIGN_OR_RETURN(auto providers, ProviderRegistry::Create(settings.providers, say));
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenCatalog(settings, /*create=*/true));
  stack.keys->SetProviders(providers->Lookup());
  // Expired KEKs are dropped (and wiped) even while nobody asks for them.
  stack.keys->kek_cache().StartSweeper(std::clamp<std::chrono::milliseconds>(
      KekCacheOptionsOf(settings).ttl / 2, std::chrono::milliseconds(100),
      std::chrono::milliseconds(5000)));
  STRONGROOM_RETURN_IF_ERROR(OpenStorage(settings, stack));
  STRONGROOM_RETURN_IF_ERROR(stack.directory->EnsureBuiltinKeys());
  keys::AuditSink* audit = stack.audit.get();
  if (root) {
    STRONGROOM_RETURN_IF_ERROR(stack.keys->Unseal(std::move(*root)));
    root.reset();
    keys::AuditEvent event;
    event.operation = keys::audit_op::kUnseal;
    event.actor = "server";
    event.method = settings.dev ? "dev" : "passphrase";
    event.details = {{"via", "start"}};
    RecordOrWarn(audit, event);
  }
  // A provider keyring: unwrapped now, or (the provider cannot be reached)
  // by retries in the background while the server answers 503.
  std::unique_ptr<ProviderUnsealer> provider_unsealer;
  if (by_provider) {
    STRONGROOM_ASSIGN_OR_RETURN(keys::ProviderRootInfo info,
                                keys::ReadProviderRoot(settings.key_dir));
    STRONGROOM_ASSIGN_OR_RETURN(keys::KeyProvider * provider, providers->Require(info.provider));
    std::string method = "provider:" + info.provider;
    keys::KeyHierarchy* ring = stack.keys.get();
    auto install = [ring, audit, method](crypto::SecretBytes key) -> Result<void> {
      auto unsealed = ring->Unseal(std::move(key));
      if (!unsealed && unsealed.error().code() == ErrorCode::kFailedPrecondition) return Ok();
      STRONGROOM_RETURN_IF_ERROR(unsealed);
      keys::AuditEvent event;
      event.operation = keys::audit_op::kUnseal;
      event.actor = "server";
      event.method = method;
      event.details = {{"via", "start"}};
      RecordOrWarn(audit, event);
      return Ok();
    };
    provider_unsealer =
        std::make_unique<ProviderUnsealer>(std::move(info), *provider, install, say);
    STRONGROOM_ASSIGN_OR_RETURN(bool unsealed_now, provider_unsealer->TryOnce());
    if (!unsealed_now) provider_unsealer->StartRetrying();
  }
  STRONGROOM_ASSIGN_OR_RETURN(size_t temporaries, stack.backend->CleanTemporaryFiles());
  STRONGROOM_ASSIGN_OR_RETURN(size_t orphans, stack.store->CleanOrphanBlobs());
  if (temporaries + orphans > 0) {
    std::printf("recovered from an unclean stop: removed %zu partial and %zu unreferenced blobs\n",
                temporaries, orphans);
  }

  // Development mode (and a sealed keyring whose users were all removed)
  // creates the first admin at start; `init` does it otherwise.
  STRONGROOM_ASSIGN_OR_RETURN(auto users, stack.users->List());
  std::string shown_access, shown_secret;
  if (users.empty() && !stack.keys->sealed()) {
    const char* access = std::getenv("STRONGROOM_ACCESS_KEY");
    const char* secret = std::getenv("STRONGROOM_SECRET_KEY");
    STRONGROOM_ASSIGN_OR_RETURN(
        s3::NewUser admin,
        stack.users->Add(access ? access : "", secret ? secret : "", /*admin=*/true));
    shown_access = admin.access_key;
    if (secret == nullptr) shown_secret = admin.secret_key;  // generated: print it once
  }

  std::string log_path =
      settings.access_log.empty() ? settings.data_dir + "/access.log" : settings.access_log;
  STRONGROOM_ASSIGN_OR_RETURN(auto access_log, AccessLog::Open(log_path));

  keys::KeyHierarchy& hierarchy = *stack.keys;
  ControlHandlers control_handlers;
  control_handlers.sealed = [&hierarchy] { return hierarchy.sealed(); };
  // Every unseal and every failed try is audited (never the passphrase or a share).
  auto record_unseal = [audit](const char* method, const Error* error) {
    keys::AuditEvent event;
    event.operation = keys::audit_op::kUnseal;
    event.actor = "server";
    event.method = method;
    event.details = {{"via", "control socket"}};
    if (error != nullptr) {
      event.ok = false;
      event.error = error->message();
    }
    RecordOrWarn(audit, event);
  };
  const bool by_shares = shares != nullptr;
  control_handlers.unseal = [&hierarchy, &settings, by_shares, by_provider,
                             record_unseal](crypto::SecretBytes secret) -> Result<bool> {
    if (!hierarchy.sealed()) return false;
    if (by_shares) {
      return FailedPrecondition("this keyring is unsealed with Shamir shares, not a passphrase: "
                                "strongroom unseal --share SHARE (or --share-file FILE)");
    }
    if (by_provider) {
      return FailedPrecondition("this keyring is unwrapped by its key provider, not a "
                                "passphrase: the server unseals itself once the provider answers");
    }
    auto key = OpenRoot(settings, secret);
    if (!key) {
      record_unseal("passphrase", &key.error());
      return tl::unexpected(key.error());
    }
    auto unsealed = hierarchy.Unseal(std::move(*key));
    if (!unsealed && unsealed.error().code() == ErrorCode::kFailedPrecondition) return false;
    STRONGROOM_RETURN_IF_ERROR(unsealed);
    record_unseal("passphrase", nullptr);
    std::printf("unsealed through the control socket: serving requests\n");
    std::fflush(stdout);
    return true;
  };
  if (by_shares) {
    keys::ShareCollector& collector = *shares;
    control_handlers.share = [&hierarchy, &collector, audit,
                              record_unseal](crypto::SecretBytes text) -> Result<ShareAnswer> {
      ShareAnswer answer;
      if (!hierarchy.sealed()) {
        answer.unsealed = answer.already = true;
        return answer;
      }
      auto progress = collector.Add(text.reveal());
      keys::AuditEvent event;
      event.operation = keys::audit_op::kUnsealShare;
      event.actor = "server";
      event.method = "shamir";
      if (!progress) {
        event.ok = false;
        event.error = progress.error().message();
        event.details = {{"received", std::to_string(collector.received())},
                         {"threshold", std::to_string(collector.threshold())}};
        RecordOrWarn(audit, event);
        if (progress.error().code() == ErrorCode::kUnauthenticated) {
          record_unseal("shamir", &progress.error());
        }
        return tl::unexpected(progress.error());
      }
      event.details = {{"share", std::to_string(progress->x)},
                       {"received", std::to_string(progress->received)},
                       {"threshold", std::to_string(progress->threshold)}};
      RecordOrWarn(audit, event);
      if (!progress->root) {
        answer.received = progress->received;
        answer.threshold = progress->threshold;
        return answer;
      }
      auto unsealed = hierarchy.Unseal(std::move(*progress->root));
      answer.unsealed = true;
      if (!unsealed && unsealed.error().code() == ErrorCode::kFailedPrecondition) {
        answer.already = true;
        return answer;
      }
      STRONGROOM_RETURN_IF_ERROR(unsealed);
      record_unseal("shamir", nullptr);
      std::printf("unsealed with %u Shamir shares through the control socket: serving "
                  "requests\n", progress->threshold);
      std::fflush(stdout);
      return answer;
    };
  }
  // Key lifecycle: background jobs (rewrap, re-encryption) resumed once
  // unsealed, the sweep of due key destructions, and their control commands.
  objects::KeyMaintenance maintenance(*stack.catalog, hierarchy, *stack.store, audit);
  JobRunnerOptions job_options;
  job_options.on_destroyed = [audit](const std::string& key_id) {
    std::printf("key %s destroyed (its pending window ended): its objects are crypto-shredded\n",
                key_id.c_str());
    std::fflush(stdout);
    keys::AuditEvent event;
    event.operation = keys::audit_op::kKeyDestroy;
    event.actor = "server";
    event.key_id = key_id;
    event.details = {{"phase", "shredded"}};
    RecordOrWarn(audit, event);
  };
  // Failures that repeat unchanged are said (and audited) once.
  auto provider_key_retries = std::make_shared<ProviderKeyRetries>();
  job_options.after_sweep = [&settings, directory = stack.directory.get(),
                             lookup = providers->Lookup(), audit, provider_key_retries] {
    for (const ProviderKeyDestruction& step : DestroyProviderKeys(
             settings, *directory, lookup, audit, "server", provider_key_retries.get())) {
      if (step.repeated) continue;
      std::FILE* to = step.outcome.empty() ? stderr : stdout;
      std::fprintf(to, "%s\n", DescribeOutcome(step).c_str());
      std::fflush(to);
    }
  };
  JobRunner jobs(*stack.catalog, *stack.directory, hierarchy, maintenance, job_options);
  AdminServices admin{stack.catalog.get(), stack.directory.get(), &hierarchy, &jobs, {}};
  admin.providers = [&providers] {
    std::vector<ProviderStatus> out;
    for (const ProviderRegistry::Health& health : providers->CheckHealth()) {
      out.push_back({health.id, health.ok ? "ok" : "unavailable", health.message});
    }
    return out;
  };
  control_handlers.command = [&admin](std::string_view line) {
    return HandleAdminCommand(line, admin);
  };
  jobs.Start();
  STRONGROOM_ASSIGN_OR_RETURN(auto control,
                              ControlServer::Start(ControlPath(settings), control_handlers));

  s3::Metrics metrics;
  s3::ServiceOptions service_options;
  service_options.region = settings.region;
  service_options.domain = settings.domain;
  service_options.access_log = [&access_log](const std::string& line) { access_log->Write(line); };
  service_options.sealed = [&hierarchy] { return hierarchy.sealed(); };
  service_options.key_directory = stack.directory.get();
  service_options.allow_insecure_sse_on_loopback = settings.allow_insecure_sse_on_loopback;
  service_options.admin_status = [&admin]() -> Result<std::string> {
    std::optional<std::string> json = HandleAdminCommand("STATUS JSON", admin);
    if (!json) return Internal("status is not available");
    return *json;
  };
  s3::Service service(*stack.store, *stack.users, metrics, service_options);

  STRONGROOM_ASSIGN_OR_RETURN(auto listen, SplitListen(settings.listen));
  http::ServerOptions http_options;
  http_options.listen_address = listen.first;
  http_options.port = listen.second;
  http_options.tls_cert_file = settings.tls_cert;
  http_options.tls_key_file = settings.tls_key;
  http_options.max_connections = settings.max_connections;
  http_options.worker_threads = settings.worker_threads;
  STRONGROOM_ASSIGN_OR_RETURN(
      auto server, http::Server::Create(http_options, [&service](http::Request& request) {
        return service.Handle(request);
      }));

  bool tls = !settings.tls_cert.empty();
  std::string host = listen.first.find(':') != std::string::npos ? "[" + listen.first + "]"
                                                                  : listen.first;
  std::string endpoint = std::string(tls ? "https" : "http") + "://" + host + ":" +
                         std::to_string(server->port());
  std::printf("strongroom 0.1.0 listening on %s\n", endpoint.c_str());
  std::printf("data: %s   keys: %s   access log: %s\n", settings.data_dir.c_str(),
              settings.key_dir.c_str(), log_path.c_str());
  if (!providers->ids().empty()) {
    std::printf("key providers: %s   KEK cache: %u s, %u entries\n",
                Join(providers->ids(), ", ").c_str(), settings.kek_cache_ttl,
                settings.kek_cache_entries);
  }
  if (settings.dev) {
    std::printf(
        "WARNING: DEVELOPMENT KEY MODE (--dev): the root key is kept in clear in %s\n"
        "         on this machine%s. Anyone who can read it and the data directory can decrypt\n"
        "         everything. For real data use a sealed keyring: strongroom init.\n",
        DevRootPath(settings).c_str(), dev_created ? " (created now)" : "");
  } else if (hierarchy.sealed() && by_shares) {
    std::printf(
        "SEALED: the root key is split into Shamir shares; every S3 request answers 503\n"
        "        ServiceUnavailable until %u of them are given (one per person, each run):\n"
        "  strongroom unseal --data-dir %s --share-file -      (reads shares, one per line)\n"
        "  strongroom unseal --data-dir %s --share SHARE\n",
        shares->threshold(), settings.data_dir.c_str(), settings.data_dir.c_str());
  } else if (provider_unsealer && hierarchy.sealed()) {
    std::printf(
        "SEALED: key provider '%s' cannot be reached yet, so every S3 request answers 503\n"
        "        ServiceUnavailable. Retrying in the background; the server unseals itself\n"
        "        once the provider answers (no human input needed).\n",
        provider_unsealer->info().provider.c_str());
  } else if (provider_unsealer) {
    std::printf("keyring: %s/%s, unsealed by key provider '%s' (key '%s'); the root key is held\n"
                "         only in memory\n",
                settings.key_dir.c_str(), keys::kProviderRootFile,
                provider_unsealer->info().provider.c_str(),
                provider_unsealer->info().key_name.c_str());
  } else if (hierarchy.sealed()) {
    std::printf(
        "SEALED: no passphrase was given, so the keyring stays sealed and every S3 request\n"
        "        answers 503 ServiceUnavailable until it is unsealed. Unseal with:\n"
        "  strongroom unseal --data-dir %s\n"
        "        (it asks on a terminal, or reads STRONGROOM_PASSPHRASE, --passphrase-file FILE\n"
        "        or --passphrase-fd N)\n",
        settings.data_dir.c_str());
  } else {
    std::printf("keyring: %s, unsealed (the root key is held only in memory)\n",
                SealedRootPath(settings).c_str());
  }
  if (!shown_access.empty()) {
    std::printf("\nFirst start: created the admin access key (the secret is shown only now).\n");
    PrintCredentials(shown_access, shown_secret, settings.region);
  }
  std::printf("\nTry it:\n  aws --endpoint-url %s s3 mb s3://demo\n"
              "  aws --endpoint-url %s s3 cp README.md s3://demo/\n"
              "  aws --endpoint-url %s s3 ls s3://demo/\n",
              endpoint.c_str(), endpoint.c_str(), endpoint.c_str());
  std::fflush(stdout);

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::printf("received %s: finishing in-flight requests\n",
                signal == SIGINT ? "SIGINT" : "SIGTERM");
    std::fflush(stdout);
    server->Stop(std::chrono::seconds(30));
  });
  server->Wait();
  // If Wait returned for another reason, release the signal thread.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  control->Stop();
  jobs.Stop();  // a running job stays "running" and resumes at the next start
  std::printf("stopped\n");
  return Ok();
}

Result<void> RunUnseal(const ServerSettings& settings, const PassphraseSource& passphrase) {
  std::string path = ControlPath(settings);
  STRONGROOM_ASSIGN_OR_RETURN(
      std::string status,
      ControlRequest(path, crypto::SecretBytes::CopyFrom(AsBytes(std::string_view("STATUS"))),
                     10));
  if (status == "unsealed") {
    std::printf("already unsealed\n");
    return Ok();
  }
  if (status != "sealed") {
    return Internal("unexpected answer from the server at " + path + ": " + status);
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<crypto::SecretBytes> secret, passphrase());
  if (!secret) {
    return InvalidArgument(
        "no passphrase: set STRONGROOM_PASSPHRASE, pass --passphrase-file FILE or "
        "--passphrase-fd N, or run on a terminal");
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes request, UnsealRequest(*secret));
  secret.reset();
  STRONGROOM_ASSIGN_OR_RETURN(std::string answer, ControlRequest(path, request, 120));
  if (answer == "OK unsealed") {
    std::printf("unsealed: the server on %s serves requests now\n", settings.data_dir.c_str());
    return Ok();
  }
  if (answer == "OK already unsealed") {
    std::printf("already unsealed\n");
    return Ok();
  }
  if (answer.rfind("ERR ", 0) == 0) {
    std::string message = answer.substr(4);
    if (message.find("wrong passphrase") != std::string::npos) return Unauthenticated(message);
    return FailedPrecondition("the server refused to unseal: " + message);
  }
  return Internal("unexpected answer from the server at " + path + ": " + answer);
}

Result<void> RunUserAdd(const ServerSettings& settings, const PassphraseSource& passphrase,
                        const std::string& access_key, const std::string& secret_key,
                        bool admin) {
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenCatalog(settings, /*create=*/false));
  if (!settings.dev && keys::ShamirRootExists(settings.key_dir)) {
    return FailedPrecondition(
        "adding a user seals its secret under the root key, and the root key of a Shamir "
        "keyring exists only in the running server once unsealed; `user add` cannot open it "
        "(not supported yet)");
  }
  bool dev_created = false;
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<crypto::SecretBytes> root,
                              LoadRoot(settings, passphrase, &dev_created));
  if (!root) {
    return FailedPrecondition(
        "adding a user seals its secret under the root key, so it needs the passphrase: set "
        "STRONGROOM_PASSPHRASE, pass --passphrase-file FILE or --passphrase-fd N, or run on a "
        "terminal");
  }
  STRONGROOM_RETURN_IF_ERROR(stack.keys->Unseal(std::move(*root)));
  STRONGROOM_ASSIGN_OR_RETURN(s3::NewUser user, stack.users->Add(access_key, secret_key, admin));
  std::printf("access key: %s\n", user.access_key.c_str());
  if (secret_key.empty()) {
    std::printf("secret key: %s\n(shown only now)\n", user.secret_key.c_str());
  }
  return Ok();
}

Result<void> RunUserList(const ServerSettings& settings) {
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenCatalog(settings, /*create=*/false));
  STRONGROOM_ASSIGN_OR_RETURN(auto users, stack.users->List());
  for (const auto& user : users) {
    std::printf("%s%s\n", user.access_key.c_str(), user.admin ? "  (admin)" : "");
  }
  return Ok();
}

Result<void> RunUserRemove(const ServerSettings& settings, const std::string& access_key) {
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenCatalog(settings, /*create=*/false));
  auto removed = stack.users->Remove(access_key);
  if (!removed && removed.error().code() == ErrorCode::kNotFound) {
    return NotFound("no user with access key '" + access_key + "'");
  }
  return removed;
}

namespace {

const char* StateName(keys::KeyState state) { return keys::KeyStateName(state); }

std::string AliasesText(const keys::KeyInfo& info) {
  return info.aliases.empty() ? "-" : Join(info.aliases, ",");
}

std::string Describe(const keys::KeyInfo& info) {
  std::string name = info.aliases.empty() ? "" : " (" + info.aliases.front() + ")";
  return info.key_id + name;
}

void PrintKeyTable(const std::vector<keys::KeyInfo>& keys) {
  std::vector<std::vector<std::string>> rows = {
      {"KEY ID", "STATE", "ALIASES", "CREATED", "DESCRIPTION"}};
  for (const auto& key : keys) {
    rows.push_back({key.key_id, StateName(key.state), AliasesText(key),
                    Iso8601(key.created_ms), key.description});
  }
  std::vector<size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

std::string FullAlias(const std::string& alias) {
  return alias.rfind("alias/", 0) == 0 ? alias : "alias/" + alias;
}

}  // namespace

// RunKey without the audit record (RunKey below adds it).
static Result<void> RunKeyAction(const ServerSettings& settings, const KeyCommand& command) {
  using Action = KeyCommand::Action;
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenCatalog(settings, /*create=*/false));
  keys::KeyDirectory& directory = *stack.directory;
  if (command.action == Action::kCreate && !command.provider.empty() &&
      command.provider != keys::kRootProvider) {
    // Provider-backed: the provider wraps every version's KEK (server/providers.h).
    STRONGROOM_ASSIGN_OR_RETURN(
        keys::KeyInfo info,
        CreateProviderBackedKey(settings, directory, command.key, command.description,
                                command.provider, command.provider_key));
    std::printf("created key %s, its KEKs wrapped by key provider '%s' (key '%s')\n",
                Describe(info).c_str(), info.provider.c_str(), info.provider_key.c_str());
    return Ok();
  }
  if (command.action == Action::kCreate) {
    if (!command.provider_key.empty()) {
      return InvalidArgument("--provider-key needs --provider kmip|pkcs11|tpm");
    }
    STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo info,
                                directory.Create(command.key, command.description));
    std::printf("created key %s\n", Describe(info).c_str());
    return Ok();
  }
  if (command.action == Action::kList) {
    (void)directory.DestroyDueKeys();  // a key whose window ended is listed as destroyed
    STRONGROOM_ASSIGN_OR_RETURN(auto keys, directory.List());
    PrintKeyTable(keys);
    PrintKeyLifecycleNotes(*stack.catalog, keys);
    return Ok();
  }
  if (command.action == Action::kRotate || command.action == Action::kRewrap ||
      command.action == Action::kDestroy || command.action == Action::kCancelDestroy) {
    return RunKeyLifecycle(settings, *stack.catalog, directory, command);
  }
  if (command.action == Action::kDescribe) (void)directory.DestroyDueKeys();
  STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo info, directory.Resolve(command.key));
  switch (command.action) {
    case Action::kDescribe: {
      STRONGROOM_ASSIGN_OR_RETURN(auto grantees, directory.Grantees(info.key_id));
      std::printf("key id:       %s\n", info.key_id.c_str());
      std::printf("aliases:      %s\n", AliasesText(info).c_str());
      std::printf("state:        %s\n", StateName(info.state));
      std::printf("version:      %u\n", info.current_version);
      std::printf("managed by:   %s\n",
                  info.aws_managed ? "AWS (the default aws:kms key)" : "customer");
      std::printf("provider:     %s%s\n", info.provider.c_str(),
                  info.provider_key.empty() ? ""
                                            : (" (key '" + info.provider_key + "')").c_str());
      if (!info.provider_key.empty()) {
        std::string origin;
        if (!info.provider_key_owned) {
          origin = "not created by strongroom for this key (or created before catalog schema 5): "
                   "strongroom never destroys it";
        } else if (info.provider_key_outcome.empty()) {
          origin = info.state == keys::KeyState::kDestroyed
                       ? "created by strongroom; still at the provider: strongroom serve "
                         "destroys it at its next sweep (once no other key uses it)"
                       : "created by strongroom; destroyed at the provider with this key";
        } else if (info.provider_key_outcome == "destroyed") {
          origin = "created by strongroom; destroyed at the provider " +
                   Iso8601(info.provider_key_settled_ms);
        } else if (info.provider_key_outcome == "not-found") {
          origin = "created by strongroom; not found at the provider " +
                   Iso8601(info.provider_key_settled_ms) +
                   " (already destroyed, or not visible to the credentials used)";
        } else {
          origin = "created by strongroom; " + info.provider_key_outcome + " (" +
                   Iso8601(info.provider_key_settled_ms) + ")";
        }
        std::printf("provider key: %s\n", origin.c_str());
      }
      std::printf("created:      %s\n", Iso8601(info.created_ms).c_str());
      std::printf("description:  %s\n", info.description.c_str());
      std::printf("grantees:     %s\n",
                  info.aws_managed ? "every access key (no grant needed)"
                  : grantees.empty() ? "none (admin access keys only)"
                                     : Join(grantees, ", ").c_str());
      PrintKeyUsage(*stack.catalog, info);
      return Ok();
    }
    case Action::kEnable:
    case Action::kDisable: {
      keys::KeyState state =
          command.action == Action::kEnable ? keys::KeyState::kEnabled : keys::KeyState::kDisabled;
      STRONGROOM_RETURN_IF_ERROR(directory.SetState(info.key_id, state));
      std::printf("key %s is %s\n", Describe(info).c_str(), StateName(state));
      return Ok();
    }
    case Action::kAlias: {
      std::string alias = FullAlias(command.alias);
      if (command.remove) {
        auto target = directory.Resolve(alias);
        if (!target || target->key_id != info.key_id) {
          return NotFound("'" + alias + "' is not an alias of key " + info.key_id);
        }
        STRONGROOM_RETURN_IF_ERROR(directory.RemoveAlias(alias));
        std::printf("removed %s from key %s\n", alias.c_str(), info.key_id.c_str());
      } else {
        STRONGROOM_RETURN_IF_ERROR(directory.AddAlias(info.key_id, alias));
        std::printf("%s now names key %s\n", alias.c_str(), info.key_id.c_str());
      }
      return Ok();
    }
    case Action::kGrant: {
      auto user = stack.catalog->GetUser(command.access_key);
      if (!user && user.error().code() == ErrorCode::kNotFound) {
        return NotFound("no user with access key '" + command.access_key + "'");
      }
      STRONGROOM_RETURN_IF_ERROR(user);
      STRONGROOM_RETURN_IF_ERROR(directory.Grant(info.key_id, command.access_key));
      std::printf("granted %s the use of key %s\n", command.access_key.c_str(),
                  Describe(info).c_str());
      return Ok();
    }
    case Action::kRevoke: {
      auto revoked = directory.Revoke(info.key_id, command.access_key);
      if (!revoked && revoked.error().code() == ErrorCode::kNotFound) {
        return NotFound("'" + command.access_key + "' holds no grant on key " + info.key_id);
      }
      STRONGROOM_RETURN_IF_ERROR(revoked);
      std::printf("revoked the use of key %s from %s\n", Describe(info).c_str(),
                  command.access_key.c_str());
      return Ok();
    }
    default:
      return Internal("unknown key command");
  }
}

// Every change to a key is audited: the log is opened first (a change that
// could not be recorded is not made), the outcome appended after.
Result<void> RunKey(const ServerSettings& settings, const KeyCommand& command) {
  std::string operation = KeyAuditOperation(command);
  if (operation.empty()) return RunKeyAction(settings, command);
  if (!Exists(CatalogPath(settings))) return RunKeyAction(settings, command);  // its error
  STRONGROOM_ASSIGN_OR_RETURN(auto audit, OpenAuditLog(settings));
  Result<void> result = RunKeyAction(settings, command);

  keys::AuditEvent event;
  event.operation = operation;
  event.actor = LocalActor();
  event.ok = result.has_value();
  if (!result) event.error = result.error().message();
  // The key as it stands now (a new key: found by its alias).
  std::string reference = command.action == KeyCommand::Action::kCreate && !command.key.empty()
                              ? "alias/" + command.key
                              : command.key;
  if (auto stack = OpenCatalog(settings, /*create=*/false); stack && !reference.empty()) {
    auto info = stack->directory->Resolve(reference);
    if (!info) info = stack->directory->Get(reference);  // sse-s3
    if (info) {
      event.key_id = info->key_id;
      event.key_version = info->current_version;
    }
  }
  if (!command.key.empty()) event.details.emplace_back("key", command.key);
  if (!command.provider.empty()) event.details.emplace_back("provider", command.provider);
  if (!command.access_key.empty()) event.details.emplace_back("grantee", command.access_key);
  if (!command.alias.empty()) event.details.emplace_back("alias", command.alias);
  if (command.remove) event.details.emplace_back("remove", "true");
  auto recorded = audit->Record(event);
  if (!recorded && result) {
    return tl::unexpected(recorded.error().WithContext("the change was made but not audited"));
  }
  return result;
}

Result<void> RunDevCert(const std::string& cert_file, const std::string& key_file,
                        const std::vector<std::string>& hosts, bool force) {
  STRONGROOM_RETURN_IF_ERROR(
      crypto::WriteSelfSignedCertificate(cert_file, key_file, hosts, 365, force));
  std::printf("wrote %s and %s (self-signed, 365 days, for", cert_file.c_str(), key_file.c_str());
  for (const auto& host : hosts) std::printf(" %s", host.c_str());
  std::printf(")\nserve with: strongroom serve --tls-cert %s --tls-key %s\n"
              "clients must trust %s (e.g. aws --ca-bundle %s)\n",
              cert_file.c_str(), key_file.c_str(), cert_file.c_str(), cert_file.c_str());
  return Ok();
}

}  // namespace strongroom::server
