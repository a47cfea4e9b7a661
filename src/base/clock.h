// SPDX-License-Identifier: Apache-2.0
#pragma once

// Wall-clock time as the catalog and the audit trail store it: milliseconds
// since the Unix epoch, and its ISO 8601 text for people.

#include <cstdint>
#include <string>

namespace strongroom {

// Now, in milliseconds since the Unix epoch (system clock).
int64_t NowMs();

// `ms` as "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds).
std::string Iso8601(int64_t ms);

}  // namespace strongroom
