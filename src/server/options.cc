// SPDX-License-Identifier: Apache-2.0
#include "server/options.h"

// Result-returning parse (no exceptions): only this file includes toml++.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

namespace strongroom::server {

Result<void> LoadConfigFile(const std::string& path, ServerSettings& settings) {
  toml::parse_result parsed = toml::parse_file(path);
  if (!parsed) {
    const auto& error = parsed.error();
    return InvalidArgument("config file '" + path + "' line " +
                           std::to_string(error.source().begin.line) + ": " +
                           std::string(error.description()));
  }
  const toml::table& table = parsed.table();
  for (const auto& [raw_key, node] : table) {
    std::string key(raw_key.str());
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    auto text = [&](std::string& field) -> Result<void> {
      if (auto value = node.value<std::string>()) {
        field = *value;
        return Ok();
      }
      return InvalidArgument("config key '" + key + "' must be a string");
    };
    auto number = [&](uint32_t& field) -> Result<void> {
      if (auto value = node.value<int64_t>(); value && *value >= 0 && *value <= 1000000) {
        field = static_cast<uint32_t>(*value);
        return Ok();
      }
      return InvalidArgument("config key '" + key + "' must be a non-negative integer");
    };
    auto flag = [&](bool& field) -> Result<void> {
      if (auto value = node.value<bool>()) {
        field = *value;
        return Ok();
      }
      return InvalidArgument("config key '" + key + "' must be true or false");
    };
    Result<void> result;
    if (key == "listen") result = text(settings.listen);
    else if (key == "data_dir") result = text(settings.data_dir);
    else if (key == "key_dir") result = text(settings.key_dir);
    else if (key == "tls_cert") result = text(settings.tls_cert);
    else if (key == "tls_key") result = text(settings.tls_key);
    else if (key == "region") result = text(settings.region);
    else if (key == "domain") result = text(settings.domain);
    else if (key == "access_log") result = text(settings.access_log);
    else if (key == "audit_log") result = text(settings.audit_log);
    else if (key == "max_connections") result = number(settings.max_connections);
    else if (key == "worker_threads") result = number(settings.worker_threads);
    else if (key == "dev") result = flag(settings.dev);
    else if (key == "allow_insecure_sse_on_loopback")
      result = flag(settings.allow_insecure_sse_on_loopback);
    else if (key == "kek_cache_ttl") result = number(settings.kek_cache_ttl);
    else if (key == "kek_cache_entries") result = number(settings.kek_cache_entries);
    else if (key == "provider") result = LoadProviderSettings(path, settings.providers);
    else result = InvalidArgument("config file '" + path + "': unknown key '" + key + "'");
    STRONGROOM_RETURN_IF_ERROR(result);
  }
  return Ok();
}

Result<std::pair<std::string, uint16_t>> SplitListen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return InvalidArgument("listen address must be HOST:PORT, got '" + listen + "'");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535 || host.empty()) {
    return InvalidArgument("listen address must be HOST:PORT, got '" + listen + "'");
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace strongroom::server
