// SPDX-License-Identifier: Apache-2.0
#include "server/provider_settings.h"

// Result-returning parse (no exceptions), as in options.cc.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <functional>
#include <map>

namespace strongroom::server {
namespace {

using Setter = std::function<Result<void>(const toml::node&, const std::string& where)>;

Setter Text(std::string& field) {
  return [&field](const toml::node& node, const std::string& where) -> Result<void> {
    if (auto value = node.value<std::string>()) {
      field = *value;
      return Ok();
    }
    return InvalidArgument(where + " must be a string");
  };
}

template <typename T>
Setter Number(T& field, int64_t min, int64_t max) {
  return [&field, min, max](const toml::node& node, const std::string& where) -> Result<void> {
    if (auto value = node.value<int64_t>(); value && *value >= min && *value <= max) {
      field = static_cast<T>(*value);
      return Ok();
    }
    return InvalidArgument(where + " must be an integer from " + std::to_string(min) + " to " +
                           std::to_string(max));
  };
}

// Applies `setters` to the keys of `table` ('-' and '_' alike); unknown
// keys are errors. Then checks that every key in `required` was given.
Result<void> Apply(const toml::table& table, const std::string& name,
                   const std::map<std::string, Setter>& setters,
                   std::initializer_list<const char*> required) {
  std::map<std::string, bool> seen;
  for (const auto& [raw_key, node] : table) {
    std::string key(raw_key.str());
    for (char& c : key) {
      if (c == '-') c = '_';
    }
    std::string where = "config key '" + name + "." + key + "'";
    auto it = setters.find(key);
    if (it == setters.end()) return InvalidArgument("unknown " + where);
    STRONGROOM_RETURN_IF_ERROR(it->second(node, where));
    seen[key] = true;
  }
  for (const char* key : required) {
    if (!seen.count(key)) {
      return InvalidArgument("[" + name + "] needs '" + std::string(key) + "'");
    }
  }
  return Ok();
}

}  // namespace

Result<void> LoadProviderSettings(const std::string& path, ProviderSettings& out) {
  toml::parse_result parsed = toml::parse_file(path);
  if (!parsed) {
    const auto& error = parsed.error();
    return InvalidArgument("config file '" + path + "' line " +
                           std::to_string(error.source().begin.line) + ": " +
                           std::string(error.description()));
  }
  const toml::node* providers = parsed.table().get("provider");
  if (providers == nullptr) return Ok();
  const toml::table* table = providers->as_table();
  if (table == nullptr) {
    return InvalidArgument("config file '" + path + "': 'provider' must be a table of " +
                           "[provider.kmip], [provider.pkcs11] or [provider.tpm]");
  }
  for (const auto& [raw_name, node] : *table) {
    std::string name(raw_name.str());
    const toml::table* section = node.as_table();
    if (section == nullptr) {
      return InvalidArgument("config file '" + path + "': 'provider." + name +
                             "' must be a table");
    }
    std::string full = "provider." + name;
    if (name == "kmip") {
      KmipSettings kmip;
      STRONGROOM_RETURN_IF_ERROR(Apply(
          *section, full,
          {{"host", Text(kmip.host)},
           {"port", Number(kmip.port, 1, 65535)},
           {"ca", Text(kmip.ca)},
           {"client_cert", Text(kmip.client_cert)},
           {"client_key", Text(kmip.client_key)},
           {"connect_timeout_ms", Number(kmip.connect_timeout_ms, 1, 600000)},
           {"request_timeout_ms", Number(kmip.request_timeout_ms, 1, 600000)}},
          {"ca", "client_cert", "client_key"}));
      out.kmip = std::move(kmip);
    } else if (name == "pkcs11") {
      Pkcs11Settings pkcs11;
      STRONGROOM_RETURN_IF_ERROR(Apply(*section, full,
                                       {{"module", Text(pkcs11.module)},
                                        {"token_label", Text(pkcs11.token_label)},
                                        {"pin_file", Text(pkcs11.pin_file)},
                                        {"max_sessions", Number(pkcs11.max_sessions, 1, 256)}},
                                       {"module", "token_label", "pin_file"}));
      out.pkcs11 = std::move(pkcs11);
    } else if (name == "tpm") {
      TpmSettings tpm;
      STRONGROOM_RETURN_IF_ERROR(Apply(*section, full,
                                       {{"tcti", Text(tpm.tcti)},
                                        {"pcrs", Text(tpm.pcrs)},
                                        {"owner_auth_file", Text(tpm.owner_auth_file)},
                                        {"timeout_ms", Number(tpm.timeout_ms, 1, 600000)}},
                                       {}));
      out.tpm = std::move(tpm);
    } else {
      return InvalidArgument("config file '" + path + "': unknown key provider '" + name +
                             "' (kmip, pkcs11 or tpm)");
    }
  }
  return Ok();
}

}  // namespace strongroom::server
