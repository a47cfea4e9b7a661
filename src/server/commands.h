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
// <key_dir>/root.key, created on first use: development only.

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
Result<void> RunInit(const ServerSettings& settings, const PassphraseSource& passphrase);

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
struct KeyCommand {
  enum class Action { kCreate, kList, kDescribe, kEnable, kDisable, kAlias, kGrant, kRevoke };
  Action action = Action::kList;
  std::string key;          // create: the name; others: the reference
  std::string description;  // create
  std::string alias;        // alias
  bool remove = false;      // alias --remove
  std::string access_key;   // grant, revoke
};
Result<void> RunKey(const ServerSettings& settings, const KeyCommand& command);

// `strongroom dev-cert`: a self-signed certificate for development TLS.
Result<void> RunDevCert(const std::string& cert_file, const std::string& key_file,
                        const std::vector<std::string>& hosts, bool force);

}  // namespace strongroom::server
