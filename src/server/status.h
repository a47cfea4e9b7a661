// SPDX-License-Identifier: Apache-2.0
#pragma once

// What `strongroom status` and the admin endpoint report: seal state, key
// providers' health, objects and bytes per KMS key and version (from the
// catalog's aggregate over kek_ref), the share of objects under their key's
// current version, keys pending destruction or destroyed with what they
// shredded, and the server's jobs with their progress. Rendered as JSON (one
// line, for the HTTP admin endpoint and `status --json`) or as text.
//
// Also the control-socket commands of the lifecycle (server/control.h):
//
//   STATUS JSON | STATUS TEXT               -> the status, rendered
//   JOB START <kind> [key=K] [bucket=B] [rate=N] -> "OK <job id>" | "ERR <message>"
//   JOB GET <job id>                        -> "OK " JobLine | "ERR <message>"
//   JOB CANCEL <job id>                     -> "OK cancelled|cancelling" | "ERR <message>"
//
// <kind> is "rewrap" or "reencrypt"; K any key reference (ResolveKeyArgument),
// N plaintext bytes per second. Values hold no spaces.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "catalog/catalog.h"
#include "keys/hierarchy/key_hierarchy.h"
#include "keys/key_directory.h"
#include "server/jobs.h"

namespace strongroom::server {

struct VersionUsage {
  uint32_t version = 0;
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

struct KeyStatus {
  std::string key_id;
  std::vector<std::string> aliases;
  std::string kind;          // "sse-s3" | "aws-managed" | "customer"
  std::string state;         // keys::KeyStateName
  uint32_t current_version = 0;
  int64_t destroy_ms = 0;    // pending-destroy: due; destroyed: when
  uint64_t objects = 0;      // every version
  uint64_t bytes = 0;
  uint64_t objects_current = 0;  // under current_version
  std::vector<VersionUsage> versions;  // versions that hold objects, ascending
};

struct ProviderStatus {
  std::string id;       // "strongroom" (the root key), later "kmip", "pkcs11", "tpm"
  std::string health;   // "ok" | "sealed" | "unavailable" | "unknown"
  std::string detail;
};

struct Status {
  int64_t time_ms = 0;
  bool server_running = false;
  std::string seal;     // "sealed" | "unsealed" | "unknown" (no server)
  std::vector<ProviderStatus> providers;
  std::vector<KeyStatus> keys;       // sse-s3 first, then KMS keys by creation
  uint64_t objects = 0;              // under server-held keys
  uint64_t bytes = 0;
  uint64_t objects_current = 0;      // of those, under their key's current version
  uint64_t sse_c_objects = 0;        // customer keys: nothing to rotate or shred here
  uint64_t sse_c_bytes = 0;
  uint64_t other_objects = 0;        // kek_refs of no known key (other providers)
  std::vector<catalog::Job> jobs;    // unfinished ones and the latest finished ones
};

struct StatusSource {
  bool server_running = false;
  // The running server's key ring (null: no server here).
  const keys::KeyHierarchy* hierarchy = nullptr;
  // External providers' health, when there are some (issue #5 providers).
  std::function<std::vector<ProviderStatus>()> providers;
  size_t finished_jobs = 10;  // how many finished jobs to list
};

// Collects the status. Carries out due key destructions first, so a key
// whose window ended shows as destroyed.
Result<Status> CollectStatus(catalog::Catalog& catalog, keys::KeyDirectory& directory,
                             const StatusSource& source);

std::string RenderStatusJson(const Status& status);
std::string RenderStatusText(const Status& status);

// One line "id=… kind=… state=… done=… skipped=… failed=… total=… bytes=…
// total_bytes=… message=…" (message last, may hold spaces), and back.
std::string JobLine(const catalog::Job& job);
Result<catalog::Job> ParseJobLine(std::string_view line);
// "12/40 objects (30%), 1.2 MiB of 4.0 MiB" and the like.
std::string JobProgressText(const catalog::Job& job);
std::string FormatBytes(uint64_t bytes);

// Everything the control socket's lifecycle commands need.
struct AdminServices {
  catalog::Catalog* catalog = nullptr;
  keys::KeyDirectory* directory = nullptr;
  keys::KeyHierarchy* hierarchy = nullptr;
  JobRunner* jobs = nullptr;
  // The configured key providers' health (StatusSource::providers); may be empty.
  std::function<std::vector<ProviderStatus>()> providers;
};

// Answers a STATUS JSON/TEXT or JOB … line (see above); nullopt for any
// other line. The answer has no trailing newline and may span lines
// (STATUS TEXT).
std::optional<std::string> HandleAdminCommand(std::string_view line, const AdminServices& admin);

}  // namespace strongroom::server
