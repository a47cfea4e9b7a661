// SPDX-License-Identifier: Apache-2.0
// The strongroom command: one binary, one subcommand per task. This is a
// composition root: it parses flags and calls into the modules.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/file_commands.h"
#include "cli/terminal.h"
#include "server/commands.h"
#include "server/lifecycle_commands.h"

namespace {

constexpr char kDescription[] =
    "strongroom: an encrypting object store.\n"
    "Every stored byte is encrypted (AES-256-GCM, Cobblestone-256 chunked format; docs/FORMAT.md).";

void AddKeyOptions(CLI::App& command, strongroom::cli::FileCommandOptions& options) {
  command.add_option("input", options.input, "Input file; '-' or omitted reads standard input");
  command.add_option("-o,--output", options.output,
                     "Output file, written under a temporary name and renamed only on success; "
                     "omitted writes standard output");
  auto* key = command.add_option("--key-file", options.key_file,
                                 "A file holding exactly 32 random bytes (see 'keygen')");
  auto* pass = command.add_option("--passphrase-file", options.passphrase_file,
                                  "A file holding the passphrase (one trailing newline ignored)");
  key->excludes(pass);
  command.add_flag("-f,--force", options.force, "Overwrite the output file if it exists");
}

// Server settings: a --config TOML file first, then flags on top.
struct SettingsFlags {
  std::string config;
  strongroom::server::ServerSettings flags;
  std::vector<std::string> given;  // names of flags given on the command line
};

void AddDirectoryOptions(CLI::App& command, SettingsFlags& s) {
  command.add_option("--config", s.config, "TOML file with defaults for every option below");
  command.add_option("--data-dir", s.flags.data_dir, "Directory for blobs and the catalog")
      ->capture_default_str();
  command.add_option("--key-dir", s.flags.key_dir,
                     "Directory for the root key (keep it off the data disk)")
      ->capture_default_str();
  command.add_option("--audit-log", s.flags.audit_log,
                     "Key audit log, JSON lines appended by serve and the admin commands "
                     "(default DATA_DIR/audit.log)");
}

void AddServeOptions(CLI::App& command, SettingsFlags& s) {
  AddDirectoryOptions(command, s);
  command.add_option("--listen", s.flags.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  command.add_option("--tls-cert", s.flags.tls_cert, "PEM certificate; serve HTTPS (see dev-cert)");
  command.add_option("--tls-key", s.flags.tls_key, "PEM private key for --tls-cert");
  command.add_option("--region", s.flags.region, "Region name clients sign for")
      ->capture_default_str();
  command.add_option("--domain", s.flags.domain,
                     "Base domain for virtual-hosted-style requests (BUCKET.DOMAIN)");
  command.add_option("--access-log", s.flags.access_log,
                     "JSON-lines access log file ('-' is stdout; default DATA_DIR/access.log)");
  command.add_option("--max-connections", s.flags.max_connections, "Concurrent connections")
      ->capture_default_str();
  command.add_option("--worker-threads", s.flags.worker_threads,
                     "Request handler threads (0: automatic)")
      ->capture_default_str();
  command.add_flag("--dev", s.flags.dev,
                   "Development key mode: a clear root key file in the key directory, created "
                   "on first start (loud warning; never for real data)");
  command.add_flag("--allow-insecure-sse-on-loopback", s.flags.allow_insecure_sse_on_loopback,
                   "Accept SSE-C and SSE-KMS over plain HTTP from loopback clients (AWS "
                   "requires TLS)");
  command.add_option("--kek-cache-ttl", s.flags.kek_cache_ttl,
                     "Seconds an unwrapped or derived KEK stays cached in memory (0: no cache; "
                     "every use of a provider-backed key asks its provider)")
      ->capture_default_str();
  command.add_option("--kek-cache-entries", s.flags.kek_cache_entries,
                     "Most KEKs cached at once (0: no cache)")
      ->capture_default_str();
}

// Where a keyring passphrase may come from besides STRONGROOM_PASSPHRASE.
struct PassphraseFlags {
  std::string file;
  int fd = -1;
};

void AddPassphraseOptions(CLI::App& command, PassphraseFlags& p) {
  auto* file = command.add_option("--passphrase-file", p.file,
                                  "File holding the keyring passphrase (one trailing newline "
                                  "ignored)");
  auto* fd = command.add_option("--passphrase-fd", p.fd,
                                "Read the keyring passphrase from this open file descriptor "
                                "(first line)");
  file->excludes(fd);
}

// The passphrase, in this order: --passphrase-file, --passphrase-fd,
// STRONGROOM_PASSPHRASE (taken out of the environment when the command
// starts), a no-echo prompt on the terminal when standard input is one;
// otherwise none.
strongroom::server::PassphraseSource MakePassphraseSource(
    const PassphraseFlags& flags, std::optional<strongroom::crypto::SecretBytes> environment,
    std::string prompt, bool confirm) {
  auto env = std::make_shared<std::optional<strongroom::crypto::SecretBytes>>(
      std::move(environment));
  return [flags, env, prompt, confirm]()
             -> strongroom::Result<std::optional<strongroom::crypto::SecretBytes>> {
    using Secret = std::optional<strongroom::crypto::SecretBytes>;
    if (!flags.file.empty()) {
      STRONGROOM_ASSIGN_OR_RETURN(auto secret, strongroom::cli::ReadPassphraseFile(flags.file));
      return Secret(std::move(secret));
    }
    if (flags.fd >= 0) {
      STRONGROOM_ASSIGN_OR_RETURN(auto secret, strongroom::cli::ReadPassphraseFd(flags.fd));
      return Secret(std::move(secret));
    }
    if (env->has_value()) {
      Secret secret = std::move(*env);
      env->reset();
      return secret;
    }
    if (::isatty(STDIN_FILENO) == 1) {
      STRONGROOM_ASSIGN_OR_RETURN(auto secret,
                                  strongroom::cli::PromptPassphrase(prompt, confirm));
      return Secret(std::move(secret));
    }
    return Secret();
  };
}

// Config file values, overridden by every flag that was given.
strongroom::Result<strongroom::server::ServerSettings> Resolve(CLI::App& command,
                                                               const SettingsFlags& s) {
  strongroom::server::ServerSettings settings;
  if (!s.config.empty()) {
    STRONGROOM_RETURN_IF_ERROR(strongroom::server::LoadConfigFile(s.config, settings));
  }
  auto given = [&](const char* name) { return command.count(name) > 0; };
  if (given("--data-dir")) settings.data_dir = s.flags.data_dir;
  if (given("--key-dir")) settings.key_dir = s.flags.key_dir;
  if (given("--audit-log")) settings.audit_log = s.flags.audit_log;
  if (command.get_option_no_throw("--listen") != nullptr) {
    if (given("--listen")) settings.listen = s.flags.listen;
    if (given("--tls-cert")) settings.tls_cert = s.flags.tls_cert;
    if (given("--tls-key")) settings.tls_key = s.flags.tls_key;
    if (given("--region")) settings.region = s.flags.region;
    if (given("--domain")) settings.domain = s.flags.domain;
    if (given("--access-log")) settings.access_log = s.flags.access_log;
    if (given("--max-connections")) settings.max_connections = s.flags.max_connections;
    if (given("--worker-threads")) settings.worker_threads = s.flags.worker_threads;
    if (given("--dev")) settings.dev = s.flags.dev;
    if (given("--allow-insecure-sse-on-loopback")) {
      settings.allow_insecure_sse_on_loopback = s.flags.allow_insecure_sse_on_loopback;
    }
    if (given("--kek-cache-ttl")) settings.kek_cache_ttl = s.flags.kek_cache_ttl;
    if (given("--kek-cache-entries")) settings.kek_cache_entries = s.flags.kek_cache_entries;
  }
  if (settings.tls_cert.empty() != settings.tls_key.empty()) {
    return strongroom::InvalidArgument("--tls-cert and --tls-key go together");
  }
  return settings;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(STRONGROOM_BENCH_NULL_AEAD)
  // Benchmark-only build (CMake STRONGROOM_BENCH_NULL_AEAD): refuse to run
  // unless the caller says it knows; then say so on every start.
  if (const char* ok = std::getenv("STRONGROOM_BENCH_NULL_AEAD_OK"); ok == nullptr ||
                                                                     std::string(ok) != "1") {
    std::fprintf(stderr,
                 "strongroom: REFUSING TO RUN: built with STRONGROOM_BENCH_NULL_AEAD (AES-GCM "
                 "replaced by a plain copy, nothing is encrypted or authenticated); benchmark "
                 "only, set STRONGROOM_BENCH_NULL_AEAD_OK=1 to run it anyway\n");
    return 1;
  }
  std::fprintf(stderr,
               "WARNING: strongroom built with STRONGROOM_BENCH_NULL_AEAD: NOTHING is encrypted or "
               "authenticated (benchmark build, never use it for data)\n");
#endif
  CLI::App app(kDescription, "strongroom");
  app.require_subcommand(1);
  app.set_version_flag("--version", "strongroom 0.1.0");
  app.footer(
      "\nPassphrases: without --key-file or --passphrase-file, the passphrase comes from the\n"
      "STRONGROOM_PASSPHRASE environment variable, or is asked for on the terminal without echo.\n"
      "It is stretched with Argon2id (t=3, m=64 MiB, p=4; the parameters are stored in the file).\n"
      "The keyring passphrase (init, serve, unseal, user add) comes from --passphrase-file,\n"
      "--passphrase-fd, STRONGROOM_PASSPHRASE (removed from the environment once read), or a\n"
      "prompt when standard input is a terminal.\n"
      "\nExit status: 0 on success, 1 on failure (one line on stderr says why), 2 on bad usage.");

  strongroom::cli::FileCommandOptions encrypt_options;
  auto* encrypt = app.add_subcommand("encrypt", "Encrypt a file or standard input");
  AddKeyOptions(*encrypt, encrypt_options);

  strongroom::cli::FileCommandOptions decrypt_options;
  auto* decrypt = app.add_subcommand(
      "decrypt",
      "Decrypt and verify a file. With -o, nothing appears at the output path unless the whole "
      "file verifies; on standard output, bytes may be written before a failure is found, and "
      "the exit status is then 1");
  AddKeyOptions(*decrypt, decrypt_options);

  std::string inspect_path;
  auto* inspect = app.add_subcommand(
      "inspect", "Show the header, envelope and manifest fields of an encrypted file (no secrets)");
  inspect->add_option("file", inspect_path, "Encrypted file")->required();

  std::string keygen_path;
  bool keygen_force = false;
  auto* keygen =
      app.add_subcommand("keygen", "Write a new random 32-byte key file with mode 0600");
  keygen->add_option("file", keygen_path, "Key file to create")->required();
  keygen->add_flag("-f,--force", keygen_force, "Overwrite the file if it exists");

  SettingsFlags init_flags;
  PassphraseFlags init_pass;
  auto* init = app.add_subcommand(
      "init",
      "Create the keyring: a random root key sealed by a passphrase (Argon2id) in "
      "KEY_DIR/root.sealed, the catalog, and the first admin access key (printed once; "
      "STRONGROOM_ACCESS_KEY and STRONGROOM_SECRET_KEY choose it instead). The passphrase comes "
      "from the options below, STRONGROOM_PASSPHRASE or a terminal prompt; without any, a strong "
      "one is generated and printed once (a given one needs at least 8 bytes). Refuses if a "
      "keyring exists.");
  AddDirectoryOptions(*init, init_flags);
  AddPassphraseOptions(*init, init_pass);
  strongroom::server::InitOptions init_options;
  auto* init_shares = init->add_option(
      "--shares", init_options.shares,
      "Split the root key into N Shamir shares instead of sealing it by a passphrase: only "
      "KEY_DIR/root.shamir (what verifies the root key) is stored, the shares are printed "
      "once, and the server starts sealed until --threshold of them are given to `unseal`");
  auto* init_threshold = init->add_option("--threshold", init_options.threshold,
                                          "How many of the --shares unseal (2..N)");
  init_shares->needs(init_threshold);
  init_threshold->needs(init_shares);
  init_shares->excludes("--passphrase-file")->excludes("--passphrase-fd");
  auto* init_root_provider = init->add_option(
      "--root-provider", init_options.root_provider,
      "Wrap the root key by a key provider instead of a passphrase, for unattended start: "
      "kmip, pkcs11 or tpm, configured by a [provider.NAME] table of the --config file. Only "
      "KEY_DIR/root.provider (the wrapped root key) is stored; `serve` asks the provider to "
      "unwrap it at start");
  init_root_provider->check(CLI::IsMember({"kmip", "pkcs11", "tpm"}));
  init_root_provider->excludes(init_shares)->excludes("--passphrase-file")
      ->excludes("--passphrase-fd");
  init->add_option("--provider-key", init_options.provider_key,
                   "With --root-provider: an existing provider key to wrap the root key under "
                   "(default: create one labelled strongroom-root)")
      ->needs(init_root_provider);

  SettingsFlags serve_flags;
  PassphraseFlags serve_pass;
  auto* serve = app.add_subcommand(
      "serve",
      "Run the S3 server. Every object is encrypted at rest under a per-object data key. Defaults: "
      "127.0.0.1:9000, data in ./strongroom-data, keyring in ./strongroom-keys (made by "
      "`strongroom init`). The passphrase unseals the keyring at start; without one the server "
      "starts sealed, answers 503 to every S3 request and waits for `strongroom unseal`. The "
      "root key is kept only in memory. --dev uses a clear development key instead (created on "
      "first start, with a loud warning, and the first admin access key printed once). "
      "SIGINT/SIGTERM stop gracefully. GET /health and /metrics need no credentials.");
  AddServeOptions(*serve, serve_flags);
  AddPassphraseOptions(*serve, serve_pass);

  SettingsFlags unseal_flags;
  PassphraseFlags unseal_pass;
  auto* unseal = app.add_subcommand(
      "unseal",
      "Unseal a server started without a passphrase, through its control socket "
      "DATA_DIR/control.sock. A keyring made with `init --shares` is unsealed with its Shamir "
      "shares instead (--share, --share-file); the server counts valid shares until the "
      "threshold and forgets them when restarted. Exit status 1 for a wrong passphrase, a "
      "refused share, or when no server runs");
  AddDirectoryOptions(*unseal, unseal_flags);
  AddPassphraseOptions(*unseal, unseal_pass);
  std::vector<std::string> unseal_shares, unseal_share_files;
  auto* share_option = unseal->add_option(
      "--share", unseal_shares,
      "A Shamir share (repeatable) for a keyring made with `init --shares`. Visible to other "
      "users in the process list: prefer --share-file");
  auto* share_file_option = unseal->add_option(
      "--share-file", unseal_share_files,
      "A file with Shamir shares, one per line ('-': standard input); repeatable");
  share_option->excludes("--passphrase-file")->excludes("--passphrase-fd");
  share_file_option->excludes("--passphrase-file")->excludes("--passphrase-fd");

  SettingsFlags user_flags;
  auto* user = app.add_subcommand("user", "Manage access keys (works while the server runs)");
  user->require_subcommand(1);
  AddDirectoryOptions(*user, user_flags);
  std::string user_access, user_secret;
  bool user_admin = false, user_dev = false;
  PassphraseFlags user_pass;
  auto* user_add = user->add_subcommand(
      "add",
      "Add an access key (generated unless given). Its secret is sealed under the root key, so "
      "this needs the keyring passphrase (or --dev for the development key)");
  user_add->add_option("--access-key", user_access, "Access key id");
  user_add->add_option("--secret-key", user_secret, "Secret key (prefer generating one)");
  user_add->add_flag("--admin", user_admin, "Mark the user as an administrator");
  user_add->add_flag("--dev", user_dev, "Use the development key (as `serve --dev`)");
  AddPassphraseOptions(*user_add, user_pass);
  auto* user_list = user->add_subcommand("list", "List access keys (never secrets)");
  user_add->fallthrough();
  user_list->fallthrough();
  auto* user_remove = user->add_subcommand("remove", "Remove an access key");
  std::string remove_key;
  user_remove->add_option("access_key", remove_key, "Access key id")->required();
  user_remove->fallthrough();

  SettingsFlags key_flags;
  strongroom::server::KeyCommand key_command;
  using KeyAction = strongroom::server::KeyCommand::Action;
  auto* key = app.add_subcommand(
      "key",
      "Manage SSE-KMS keys (needs only the catalog; effective at once on a running server). "
      "KEY is a key id, alias/NAME, NAME, or an ARN of either");
  key->require_subcommand(1);
  AddDirectoryOptions(*key, key_flags);
  auto key_sub = [&](const char* name, const char* help, KeyAction action) {
    auto* sub = key->add_subcommand(name, help);
    sub->fallthrough();
    sub->callback([&key_command, action, name] {
      key_command.action = action;
      key_command.name = name;
    });
    return sub;
  };
  auto* key_create = key_sub("create", "Create a key with the alias alias/NAME", KeyAction::kCreate);
  key_create->add_option("name", key_command.key, "Alias name (without alias/)")->required();
  key_create->add_option("--description", key_command.description, "Free text");
  auto* key_provider = key_create->add_option(
      "--provider", key_command.provider,
      "Back the key by a key provider (kmip, pkcs11 or tpm, configured in the --config file): "
      "each version's KEK is random and stored only wrapped by the provider, which unwraps it "
      "on use (cached for kek_cache_ttl)");
  key_provider->check(CLI::IsMember({"kmip", "pkcs11", "tpm"}));
  key_create->add_option("--provider-key", key_command.provider_key,
                         "With --provider: an existing provider key (default: create one)")
      ->needs(key_provider);
  key_sub("list", "List keys: id, state, aliases, creation time, description", KeyAction::kList);
  key_sub("describe", "Show a key with its version and grantees", KeyAction::kDescribe)
      ->add_option("key", key_command.key, "KEY")->required();
  key_sub("enable", "Enable a key", KeyAction::kEnable)
      ->add_option("key", key_command.key, "KEY")->required();
  key_sub("disable", "Disable a key: objects under it cannot be written or read",
          KeyAction::kDisable)
      ->add_option("key", key_command.key, "KEY")->required();
  auto* key_alias = key_sub("alias", "Add (or with --remove, remove) an alias of a key",
                            KeyAction::kAlias);
  key_alias->add_option("key", key_command.key, "KEY")->required();
  key_alias->add_option("alias", key_command.alias, "alias/NAME or NAME")->required();
  key_alias->add_flag("--remove", key_command.remove, "Remove the alias instead");
  auto* key_grant = key_sub("grant", "Allow an access key to use a key", KeyAction::kGrant);
  key_grant->add_option("key", key_command.key, "KEY")->required();
  key_grant->add_option("access_key", key_command.access_key, "Access key id")->required();
  auto* key_revoke = key_sub("revoke", "Withdraw a grant", KeyAction::kRevoke);
  key_revoke->add_option("key", key_command.key, "KEY")->required();
  key_revoke->add_option("access_key", key_command.access_key, "Access key id")->required();
  key_sub("rotate",
          "Add a new version of a key (KEY, or sse-s3 for the SSE-S3 key) and make it current: "
          "new objects are wrapped under it; objects under older versions stay readable",
          KeyAction::kRotate)
      ->add_option("key", key_command.key, "KEY or sse-s3")->required();
  auto* key_rewrap = key_sub(
      "rewrap",
      "Re-wrap the data keys of every object and multipart upload under an older version of "
      "KEY (or sse-s3) to its current version, without touching object data (SSE-C objects "
      "have nothing to rewrap). Runs as a job inside the running, unsealed server and waits "
      "for it; exit status 1 if an object failed",
      KeyAction::kRewrap);
  key_rewrap->add_option("key", key_command.key, "KEY or sse-s3")->required();
  key_rewrap->add_flag_callback("--no-wait", [&key_command] { key_command.wait = false; },
                                "Return once the job is started (strongroom status shows it)");
  auto* key_destroy = key_sub(
      "destroy",
      "Schedule a customer-managed key for destruction: from now on its objects cannot be "
      "read or written (KMS.KMSInvalidStateException); when the pending window ends its "
      "version salts are deleted and every object under it is crypto-shredded for good. "
      "Cancel with cancel-destroy",
      KeyAction::kDestroy);
  key_destroy->add_option("key", key_command.key, "KEY")->required();
  auto* pending_days = key_destroy->add_option_function<unsigned>(
      "--pending-days",
      [&key_command](const unsigned& days) {
        key_command.pending_ms = int64_t{days} * 24 * 3600 * 1000;
      },
      "Days until the key is destroyed (default 7)");
  pending_days->check(CLI::Range(1u, 3650u));
  auto* pending_seconds = key_destroy->add_option_function<int64_t>(
      "--pending-seconds",
      [&key_command](const int64_t& seconds) { key_command.pending_ms = seconds * 1000; },
      "Seconds until the key is destroyed (for tests; 0 destroys it now)");
  pending_seconds->check(CLI::Range(int64_t{0}, int64_t{10} * 365 * 24 * 3600));
  pending_days->excludes(pending_seconds);
  key_sub("cancel-destroy",
          "Cancel a pending destruction: the key comes back disabled (enable it to use it)",
          KeyAction::kCancelDestroy)
      ->add_option("key", key_command.key, "KEY")->required();

  SettingsFlags status_flags;
  bool status_json = false;
  auto* status = app.add_subcommand(
      "status",
      "Show the running server's seal state, key providers, objects and bytes per key and "
      "version (and the share under each key's current version), destroyed keys and what "
      "they shredded, and jobs with their progress. Without a server: the same from the "
      "catalog, saying \"not running\"");
  AddDirectoryOptions(*status, status_flags);
  status->add_flag("--json", status_json, "One JSON object (as the admin endpoint serves it)");

  SettingsFlags reencrypt_flags;
  strongroom::server::ReencryptCommand reencrypt_command;
  auto* reencrypt = app.add_subcommand(
      "reencrypt",
      "Rewrite objects under fresh data keys (new object ids, same mode, key, context and "
      "metadata; multipart objects become single-part, so those above 5 GiB fail), in the "
      "background inside the running server: resumable across restarts, throttled with "
      "--rate, progress in `strongroom status`. SSE-C objects are skipped and counted. "
      "Objects written meanwhile are left alone");
  AddDirectoryOptions(*reencrypt, reencrypt_flags);
  reencrypt->add_option("--bucket", reencrypt_command.bucket, "Only this bucket");
  reencrypt->add_option("--key", reencrypt_command.key,
                        "Only objects under this KMS key (or sse-s3)");
  reencrypt->add_option("--rate", reencrypt_command.rate_mib,
                        "At most this many MiB of plaintext per second")
      ->check(CLI::PositiveNumber);
  reencrypt->add_flag("--wait", reencrypt_command.wait,
                      "Wait for the job and print its progress; exit status 1 if an object "
                      "failed");

  SettingsFlags job_flags;
  strongroom::server::JobCommand job_command;
  using JobAction = strongroom::server::JobCommand::Action;
  auto* job = app.add_subcommand("job", "Follow or cancel a job of the running server");
  job->require_subcommand(1);
  AddDirectoryOptions(*job, job_flags);
  for (auto [name, help, action] :
       {std::tuple{"show", "Show a job's state and progress", JobAction::kShow},
        std::tuple{"wait", "Wait for a job to finish, printing its progress", JobAction::kWait},
        std::tuple{"cancel", "Cancel a job (a running one stops between objects)",
                   JobAction::kCancel}}) {
    auto* sub = job->add_subcommand(name, help);
    sub->fallthrough();
    sub->add_option("id", job_command.job_id, "Job id")->required();
    sub->callback([&job_command, action = action] { job_command.action = action; });
  }

  std::string cert_file = "strongroom-dev.crt", cert_key = "strongroom-dev.key";
  std::vector<std::string> cert_hosts = {"localhost", "127.0.0.1", "::1"};
  bool cert_force = false;
  auto* dev_cert = app.add_subcommand(
      "dev-cert", "Write a self-signed TLS certificate and key for development");
  dev_cert->add_option("--cert", cert_file, "Certificate file")->capture_default_str();
  dev_cert->add_option("--key", cert_key, "Private key file (mode 0600)")->capture_default_str();
  dev_cert->add_option("--host", cert_hosts, "DNS names and IP addresses it is valid for")
      ->capture_default_str();
  dev_cert->add_flag("-f,--force", cert_force, "Overwrite existing files");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  strongroom::Result<void> result;
  if (*encrypt) {
    result = strongroom::cli::RunEncrypt(encrypt_options);
  } else if (*decrypt) {
    result = strongroom::cli::RunDecrypt(decrypt_options);
  } else if (*inspect) {
    result = strongroom::cli::RunInspect(inspect_path);
  } else if (*keygen) {
    result = strongroom::cli::RunKeygen(keygen_path, keygen_force);
  } else if (*init) {
    auto environment = strongroom::cli::TakePassphraseFromEnvironment();
    auto settings = Resolve(*init, init_flags);
    result = settings ? strongroom::server::RunInit(
                            *settings,
                            MakePassphraseSource(init_pass, std::move(environment),
                                                 "New keyring passphrase: ", true),
                            init_options)
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*serve) {
    auto environment = strongroom::cli::TakePassphraseFromEnvironment();
    auto settings = Resolve(*serve, serve_flags);
    result = settings ? strongroom::server::RunServe(
                            *settings, MakePassphraseSource(serve_pass, std::move(environment),
                                                            "Keyring passphrase: ", false))
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*unseal && (!unseal_shares.empty() || !unseal_share_files.empty())) {
    std::vector<strongroom::crypto::SecretBytes> shares;
    for (std::string& share : unseal_shares) {
      shares.push_back(strongroom::crypto::SecretBytes::CopyFrom(strongroom::AsBytes(share)));
      strongroom::crypto::Cleanse(strongroom::MutableByteView(
          reinterpret_cast<uint8_t*>(share.data()), share.size()));
    }
    auto settings = Resolve(*unseal, unseal_flags);
    result = settings ? strongroom::server::RunUnsealShares(*settings, std::move(shares),
                                                            unseal_share_files)
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*unseal) {
    auto environment = strongroom::cli::TakePassphraseFromEnvironment();
    auto settings = Resolve(*unseal, unseal_flags);
    result = settings ? strongroom::server::RunUnseal(
                            *settings, MakePassphraseSource(unseal_pass, std::move(environment),
                                                            "Keyring passphrase: ", false))
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*user) {
    auto environment = strongroom::cli::TakePassphraseFromEnvironment();
    auto settings = Resolve(*user, user_flags);
    if (!settings) {
      result = tl::unexpected(settings.error());
    } else if (*user_add) {
      if (user_dev) settings->dev = true;
      result = strongroom::server::RunUserAdd(
          *settings,
          MakePassphraseSource(user_pass, std::move(environment), "Keyring passphrase: ", false),
          user_access, user_secret, user_admin);
    } else if (*user_list) {
      result = strongroom::server::RunUserList(*settings);
    } else if (*user_remove) {
      result = strongroom::server::RunUserRemove(*settings, remove_key);
    }
  } else if (*key) {
    auto settings = Resolve(*key, key_flags);
    result = settings ? strongroom::server::RunKey(*settings, key_command)
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*status) {
    auto settings = Resolve(*status, status_flags);
    result = settings ? strongroom::server::RunStatus(*settings, status_json)
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*reencrypt) {
    auto settings = Resolve(*reencrypt, reencrypt_flags);
    result = settings ? strongroom::server::RunReencrypt(*settings, reencrypt_command)
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*job) {
    auto settings = Resolve(*job, job_flags);
    result = settings ? strongroom::server::RunJob(*settings, job_command)
                      : strongroom::Result<void>(tl::unexpected(settings.error()));
  } else if (*dev_cert) {
    result = strongroom::server::RunDevCert(cert_file, cert_key, cert_hosts, cert_force);
  }
  if (!result) {
    std::fprintf(stderr, "strongroom: %s\n", result.error().message().c_str());
    return 1;
  }
  return 0;
}
