// SPDX-License-Identifier: Apache-2.0
#pragma once

// Small records in the key directory (root.provider, root.shamir, ...):
// written once, atomically, 0600; read back only if nobody else may change
// them. Internal to keys/.

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::keys::internal {

// Writes `content` to the new file `path` (temp file, fsync, link, 0600).
// kAlreadyExists "<what> exists at '<path>'" if the file is there.
Result<void> WriteNewKeyFile(const std::string& path, ByteView content, std::string_view what);

// Reads `path`. kNotFound with `missing_message` if absent; kDataLoss if it
// is not a regular file or exceeds `max_size`; kFailedPrecondition if its
// mode has any bit of `forbidden_mode` (e.g. 0077, or 0022 for a public
// record that must not be writable by others).
Result<Bytes> ReadKeyFile(const std::string& path, mode_t forbidden_mode, size_t max_size,
                          const std::string& missing_message);

}  // namespace strongroom::keys::internal
