// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::testing {

// Absolute path of `relative` under the repository's testdata/ directory.
std::string TestDataPath(const std::string& relative);

// Parses the JSON file testdata/`relative`; aborts the test on failure.
nlohmann::json LoadJson(const std::string& relative);

// Hex string to bytes; aborts the test on malformed input.
Bytes Hex(const std::string& hex);

// zlib-inflates `data` (the Wycheproof Cobblestone vectors store `ct` so).
Result<Bytes> ZlibInflate(ByteView data);

}  // namespace strongroom::testing
