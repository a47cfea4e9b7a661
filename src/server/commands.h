// SPDX-License-Identifier: Apache-2.0
#pragma once

// The composition root of the server: builds key ring, catalog, storage and
// the S3 service from settings, and runs `init`, `serve`, `unseal`, `user`,
// `key` and `dev-cert`.
//
// Key modes. Normally the root key is sealed by a passphrase in
// <key_dir>/root.sealed (`strongroom init` creates it) and exists only in
// the memory of a running server once unsealed. With `dev` (--dev, or
// `dev = true` in the config file) it is a clear 32-byte file,
// <key_dir>/root.key, created on first use: development only. A keyring
// made with `init --shares N --threshold K` has no passphrase: its root key
// is split into Shamir shares (keys/shamir/shamir_root.h), the server starts
// sealed, and K shares sent with `strongroom unseal --share` unseal it.
//
// Audit: key uses and changes go to the key audit log (server/audit_log.h):
// serve records object key uses and unseals, init the new keyring, `key`
// every change it makes, all appending to the same file.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "server/options.h"

namespace strongroom::server {

// Supplies the keyring passphrase when a command needs it: nullopt when none
// is available (no flag, no environment variable, no terminal). Called at
// most once, and only after the command checked everything it can check
// without it (so nobody is asked for a passphrase in vain).
using PassphraseSource = std::function<Result<std::optional<crypto::SecretBytes>>()>;

// `strongroom init`: creates the sealed keyring (kAlreadyExists if one, or
// a development key, is there), the catalog with the built-in keys, and the
// first admin user (STRONGROOM_ACCESS_KEY / STRONGROOM_SECRET_KEY, or
// generated). Without a passphrase from `passphrase` it generates one and
// prints it once. Prints the admin credentials once.
//
// With `options.shares` > 0 there is no passphrase: the root key is split
// into `shares` Shamir shares of which `threshold` unseal it, only
// <key_dir>/root.shamir (what verifies a reconstructed root) is stored, and
// the shares are printed once, one per line with its index and checksum.
//
// With `options.root_provider` ("kmip", "pkcs11", "tpm"; configured by a
// [provider.ID] table, server/provider_settings.h) there is no passphrase
// either: the provider wraps the root key (under a new key labelled
// "strongroom-root", or the existing `provider_key`), only the wrapped root
// is stored (<key_dir>/root.provider, keys/provider_root/provider_root.h),
// and `serve` unwraps it at start with no human input (server/providers.h).
struct InitOptions {
  unsigned shares = 0;     // 0: a passphrase-sealed keyring
  unsigned threshold = 0;
  std::string root_provider;  // empty: no provider
  std::string provider_key;   // empty: create one
};
Result<void> RunInit(const ServerSettings& settings, const PassphraseSource& passphrase,
                     const InitOptions& options = {});

// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
// Sealed mode: kFailedPrecondition if there is no keyring; a passphrase
// from `passphrase` unseals at start (kUnauthenticated if wrong); without
// one the server starts sealed and serves the control socket
// (server/control.h) until `strongroom unseal`.
Result<void> RunServe(const ServerSettings& settings, const PassphraseSource& passphrase);

// `strongroom unseal`: asks the server running on settings.data_dir to
// unseal (through <data_dir>/control.sock). kUnavailable if none runs,
// kUnauthenticated for a wrong passphrase.
Result<void> RunUnseal(const ServerSettings& settings, const PassphraseSource& passphrase);

// `strongroom unseal --share …` for a Shamir keyring: sends each share (the
// `shares` given, then the lines of each file in `share_files`, "-" being
// standard input) to the server, which counts the valid ones and unseals
// once the threshold is reached. Prints the progress ("2 of 3 shares").
// Lines without a share are skipped; a line holding one of init's share
// lines ("share 1 of 5 …: srshare1-…") counts as its share. kUnavailable if
// no server runs; kInvalidArgument if a share was refused (the others still
// count) or no share was given.
Result<void> RunUnsealShares(const ServerSettings& settings,
                             std::vector<crypto::SecretBytes> shares,
                             const std::vector<std::string>& share_files);

// `strongroom user add|list|remove`, on the same directories as `serve`;
// effective at once for a running server (the catalog is shared). Adding
// seals the secret under the root key, so it needs the passphrase (or, in
// development mode, the development key).
Result<void> RunUserAdd(const ServerSettings& settings, const PassphraseSource& passphrase,
                        const std::string& access_key, const std::string& secret_key,
                        bool admin);
Result<void> RunUserList(const ServerSettings& settings);
Result<void> RunUserRemove(const ServerSettings& settings, const std::string& access_key);

// `strongroom key ...`: the KMS key directory (keys/key_directory.h). Needs
// only the catalog; effective at once for a running server. `key` is any
// reference KeyDirectory::Resolve accepts.
// rotate, rewrap, destroy and cancel-destroy: server/lifecycle_commands.h
// (rewrap runs as a job on the running server; KEY may also be "sse-s3").
struct KeyCommand {
  enum class Action {
    kCreate, kList, kDescribe, kEnable, kDisable, kAlias, kGrant, kRevoke,
    kRotate, kRewrap, kDestroy, kCancelDestroy
  };
  Action action = Action::kList;
  std::string key;          // create: the name; others: the reference
  std::string description;  // create
  std::string alias;        // alias
  bool remove = false;      // alias --remove
  std::string access_key;   // grant, revoke
  std::string name;         // the subcommand ("create", "grant", …), for the audit log
  int64_t pending_ms = int64_t{7} * 24 * 3600 * 1000;  // destroy: the pending window
  bool wait = true;         // rewrap: wait for the job to finish
  // create: a provider-backed key (server/providers.h); empty: derived from
  // the root key. provider_key: an existing provider key to use.
  std::string provider;
  std::string provider_key;
};
Result<void> RunKey(const ServerSettings& settings, const KeyCommand& command);

// `strongroom dev-cert`: a self-signed certificate for development TLS.
Result<void> RunDevCert(const std::string& cert_file, const std::string& key_file,
                        const std::vector<std::string>& hosts, bool force);

}  // namespace strongroom::server
