// SPDX-License-Identifier: Apache-2.0
#pragma once

// `strongroom encrypt | decrypt | inspect | keygen`: files through the
// file-container format (docs/FORMAT.md §7).

#include <optional>
#include <string>

#include "base/result.h"

namespace strongroom::cli {

struct FileCommandOptions {
  std::string input = "-";             // "-" is stdin
  std::optional<std::string> output;   // unset is stdout
  std::optional<std::string> key_file;
  std::optional<std::string> passphrase_file;
  bool force = false;
};

// Each returns the process exit status after printing any error itself.
Result<void> RunEncrypt(const FileCommandOptions& options);
Result<void> RunDecrypt(const FileCommandOptions& options);
Result<void> RunInspect(const std::string& path);
Result<void> RunKeygen(const std::string& path, bool force);

}  // namespace strongroom::cli
