// SPDX-License-Identifier: Apache-2.0
#pragma once

// Settings of `strongroom serve` and the admin commands that share its
// directories. Every setting is a flag; a TOML file (--config) supplies
// defaults that flags override.

#include <cstdint>
#include <string>

#include "base/result.h"
#include "server/provider_settings.h"

namespace strongroom::server {

struct ServerSettings {
  std::string listen = "127.0.0.1:9000";
  std::string data_dir = "strongroom-data";
  std::string key_dir = "strongroom-keys";
  std::string tls_cert;
  std::string tls_key;
  std::string region = "us-east-1";
  std::string domain;          // virtual-hosted-style base domain; empty: path style only
  std::string access_log;      // file for JSON lines; "-" is stdout; empty: <data-dir>/access.log
  // The key audit log (keys/audit.h): JSON lines appended by `serve` and the
  // admin commands alike; empty: <data-dir>/audit.log.
  std::string audit_log;
  uint32_t max_connections = 1024;
  uint32_t worker_threads = 0;  // 0: automatic
  // Development key mode: the root key in clear in <key_dir>/root.key
  // instead of the passphrase-sealed keyring (`strongroom init`).
  bool dev = false;
  // SSE-C and SSE-KMS over plain HTTP from a loopback peer (AWS needs TLS).
  bool allow_insecure_sse_on_loopback = false;
  // The KEK cache (keys/hierarchy/kek_cache.h): seconds a derived or
  // provider-unwrapped KEK stays in memory, and how many; 0 disables it
  // (every use of a provider-backed key then asks its provider).
  uint32_t kek_cache_ttl = 300;
  uint32_t kek_cache_entries = 1024;
  // External key providers: the [provider.*] tables (provider_settings.h).
  ProviderSettings providers;
};

// Reads `path` (TOML) into `settings`; keys are the field names above with
// '-' or '_' (e.g. data-dir). kInvalidArgument for unknown keys or bad types.
Result<void> LoadConfigFile(const std::string& path, ServerSettings& settings);

// Splits "host:port" ("[v6]:port" too). kInvalidArgument if malformed.
Result<std::pair<std::string, uint16_t>> SplitListen(const std::string& listen);

}  // namespace strongroom::server
