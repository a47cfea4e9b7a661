// SPDX-License-Identifier: Apache-2.0
#pragma once

// The key lifecycle commands of the `strongroom` tool (issue #5):
//
//   key rotate KEY                 a new current version (catalog only; works with or
//                                  without a running server)
//   key rewrap KEY [--no-wait]     a rewrap job on the running, unsealed server
//   key destroy KEY [--pending-days N | --pending-seconds S]
//   key cancel-destroy KEY
//   reencrypt [--bucket B] [--key KEY] [--rate MiB/s] [--wait]
//   job show|wait|cancel ID
//   status [--json]                through the control socket; without a server,
//                                  from the catalog, saying "not running"
//
// KEY is "sse-s3" or any reference KeyDirectory::Resolve accepts. Jobs run
// inside the server (it holds the root key); these commands talk to it over
// <data_dir>/control.sock (server/control.h, server/status.h).

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "catalog/catalog.h"
#include "keys/key_directory.h"
#include "server/commands.h"
#include "server/options.h"

namespace strongroom::server {

inline constexpr int64_t kDefaultPendingDestroyMs = int64_t{7} * 24 * 3600 * 1000;

// RunKey's rotate, rewrap, destroy and cancel-destroy.
Result<void> RunKeyLifecycle(const ServerSettings& settings, catalog::Catalog& catalog,
                             keys::KeyDirectory& directory, const KeyCommand& command);
// After `key list`'s table: one line per key pending destruction or
// destroyed, with the objects and bytes it holds (or shredded).
void PrintKeyLifecycleNotes(catalog::Catalog& catalog, const std::vector<keys::KeyInfo>& keys);
// `key describe`'s lines about objects per version and destruction.
void PrintKeyUsage(catalog::Catalog& catalog, const keys::KeyInfo& key);

Result<void> RunStatus(const ServerSettings& settings, bool json);

struct ReencryptCommand {
  std::string bucket;
  std::string key;
  double rate_mib = 0;  // MiB/s; 0: unthrottled
  bool wait = false;
};
Result<void> RunReencrypt(const ServerSettings& settings, const ReencryptCommand& command);

struct JobCommand {
  enum class Action { kShow, kWait, kCancel };
  Action action = Action::kShow;
  std::string job_id;
};
Result<void> RunJob(const ServerSettings& settings, const JobCommand& command);

}  // namespace strongroom::server
