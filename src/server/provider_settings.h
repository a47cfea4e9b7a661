// SPDX-License-Identifier: Apache-2.0
#pragma once

// Settings of the external key providers (keys/key_provider.h), from the
// [provider.*] tables of the server's TOML config file:
//
//   [provider.kmip]                  # a KMIP 1.4 server over mutual TLS
//   host = "kms.example.net"         # default 127.0.0.1; the certificate must name it
//   port = 5696
//   ca = "/etc/strongroom/kmip-ca.pem"
//   client_cert = "/etc/strongroom/kmip-client.pem"
//   client_key = "/etc/strongroom/kmip-client.key"
//   connect_timeout_ms = 3000        # optional
//   request_timeout_ms = 5000        # optional
//
//   [provider.pkcs11]                # any PKCS#11 module (an HSM, SoftHSM2)
//   module = "/usr/lib/softhsm/libsofthsm2.so"
//   token_label = "strongroom"
//   pin_file = "/etc/strongroom/pkcs11.pin"   # mode 0600
//   max_sessions = 4                 # optional
//
//   [provider.tpm]                   # a TPM 2.0
//   tcti = "device:/dev/tpmrm0"      # or "swtpm:host=127.0.0.1,port=2321"
//   pcrs = "sha256:7"                # optional: PCR policy of keys created
//   owner_auth_file = ""             # optional
//   timeout_ms = 5000                # optional
//
// Only toml++ parses them (provider_settings.cc); server/providers.h builds
// the providers.

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace strongroom::server {

struct KmipSettings {
  std::string host = "127.0.0.1";
  uint16_t port = 5696;
  std::string ca;
  std::string client_cert;
  std::string client_key;
  uint32_t connect_timeout_ms = 3000;
  uint32_t request_timeout_ms = 5000;
};

struct Pkcs11Settings {
  std::string module;
  std::string token_label;
  std::string pin_file;
  uint32_t max_sessions = 4;
};

struct TpmSettings {
  std::string tcti = "device:/dev/tpmrm0";
  std::string pcrs;
  std::string owner_auth_file;
  uint32_t timeout_ms = 5000;
};

struct ProviderSettings {
  std::optional<KmipSettings> kmip;
  std::optional<Pkcs11Settings> pkcs11;
  std::optional<TpmSettings> tpm;
  bool any() const { return kmip || pkcs11 || tpm; }
};

// Reads the [provider] table of the TOML file `path` into `out` (other
// tables and keys are left to LoadConfigFile). kInvalidArgument for an
// unknown provider or key, a wrong type, or a missing required key (kmip:
// ca, client_cert, client_key; pkcs11: module, token_label, pin_file).
Result<void> LoadProviderSettings(const std::string& path, ProviderSettings& out);

}  // namespace strongroom::server
