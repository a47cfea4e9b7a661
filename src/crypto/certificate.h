// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace strongroom::crypto {

// Writes a self-signed development certificate and its private key (PEM;
// ECDSA P-256, SHA-256; the key file gets mode 0600) valid for `hosts`
// (DNS names or IP addresses, all placed in subjectAltName) for `days`.
// kAlreadyExists if either file exists and `overwrite` is false.
Result<void> WriteSelfSignedCertificate(const std::string& cert_file, const std::string& key_file,
                                        const std::vector<std::string>& hosts, int days,
                                        bool overwrite);

}  // namespace strongroom::crypto
