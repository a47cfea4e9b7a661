// SPDX-License-Identifier: Apache-2.0
#pragma once

// The composition root of the server: builds key ring, catalog, storage and
// the S3 service from settings, and runs `serve`, `user` and `dev-cert`.

#include <string>
#include <vector>

#include "base/result.h"
#include "server/options.h"

namespace strongroom::server {

// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
Result<void> RunServe(const ServerSettings& settings);

// `strongroom user add|list|remove`, on the same directories as `serve`;
// effective at once for a running server (the catalog is shared).
Result<void> RunUserAdd(const ServerSettings& settings, const std::string& access_key,
                        const std::string& secret_key, bool admin);
Result<void> RunUserList(const ServerSettings& settings);
Result<void> RunUserRemove(const ServerSettings& settings, const std::string& access_key);

// `strongroom dev-cert`: a self-signed certificate for development TLS.
Result<void> RunDevCert(const std::string& cert_file, const std::string& key_file,
                        const std::vector<std::string>& hosts, bool force);

}  // namespace strongroom::server
