// SPDX-License-Identifier: Apache-2.0
#include "server/lifecycle_commands.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include "base/clock.h"
#include "objects/key_maintenance.h"
#include "server/audit_log.h"
#include "server/control.h"
#include "server/jobs.h"
#include "server/providers.h"
#include "server/status.h"

namespace strongroom::server {
namespace {

constexpr int kControlTimeoutSeconds = 60;
constexpr auto kPollInterval = std::chrono::milliseconds(250);

std::string ControlPath(const ServerSettings& settings) {
  return settings.data_dir + "/" + kControlSocketName;
}

std::string CatalogPath(const ServerSettings& settings) {
  return settings.data_dir + "/catalog.db";
}

std::string Named(const keys::KeyInfo& info) {
  return info.aliases.empty() ? info.key_id : info.key_id + " (" + info.aliases.front() + ")";
}

// Sends a lifecycle request; "ERR …" answers become errors.
Result<std::string> Call(const ServerSettings& settings, const std::string& request) {
  auto answer = ControlCall(ControlPath(settings), request, kControlTimeoutSeconds);
  if (!answer) {
    if (answer.error().code() == ErrorCode::kUnavailable) {
      return Unavailable(answer.error().message() +
                         ": start the server (and unseal it); jobs run inside it, where the "
                         "root key is");
    }
    return answer;
  }
  if (answer->starts_with("ERR ")) return FailedPrecondition(answer->substr(4));
  if (answer->starts_with("OK")) return answer->size() > 3 ? answer->substr(3) : std::string();
  return *answer;
}

Result<catalog::Job> GetJob(const ServerSettings& settings, const std::string& job_id) {
  STRONGROOM_ASSIGN_OR_RETURN(std::string line, Call(settings, "JOB GET " + job_id));
  return ParseJobLine(line);
}

std::string JobState(const catalog::Job& job) {
  return job.kind + " job " + job.job_id + ": " + job.state + ", " + JobProgressText(job);
}

// Polls until the job finishes, printing its progress when it changes.
Result<catalog::Job> WaitJob(const ServerSettings& settings, const std::string& job_id) {
  std::string last;
  auto queued_since = std::chrono::steady_clock::now();
  bool told_queued = false;
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(catalog::Job job, GetJob(settings, job_id));
    if (JobFinished(job)) return job;
    std::string line = JobState(job);
    if (line != last) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      last = line;
    }
    if (job.state == kJobQueued && !told_queued &&
        std::chrono::steady_clock::now() - queued_since > std::chrono::seconds(3)) {
      std::printf("(queued: the server runs one job at a time, and only while unsealed)\n");
      std::fflush(stdout);
      told_queued = true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// Prints a finished job; an error unless it completed without failures.
Result<void> ReportFinished(const catalog::Job& job) {
  std::printf("%s job %s %s: %s\n", job.kind.c_str(), job.job_id.c_str(), job.state.c_str(),
              job.message.c_str());
  if (job.state != kJobDone) {
    return FailedPrecondition(job.kind + " job " + job.job_id + " " + job.state +
                              (job.message.empty() ? "" : ": " + job.message));
  }
  if (job.objects_failed > 0) {
    return DataLoss(job.kind + " job " + job.job_id + ": " + std::to_string(job.objects_failed) +
                    " objects failed");
  }
  return Ok();
}

// Objects and bytes per version of every key (from the kek_ref aggregate).
struct KeyObjects {
  uint64_t objects = 0;
  uint64_t bytes = 0;
  std::map<uint32_t, uint64_t> per_version;
};

std::map<std::string, KeyObjects> ObjectsPerKey(catalog::Catalog& catalog) {
  std::map<std::string, KeyObjects> out;
  auto usage = catalog.ObjectUsageByKekRef();
  if (!usage) return out;
  std::string prefix = std::string(keys::kRootProvider) + ":";
  for (const catalog::KekRefUsage& u : *usage) {
    std::string_view ref = u.kek_ref;
    if (!ref.starts_with(prefix)) continue;
    ref.remove_prefix(prefix.size());
    size_t slash = ref.rfind('/');
    if (slash == std::string_view::npos) continue;
    KeyObjects& key = out[std::string(ref.substr(0, slash))];
    key.objects += u.objects;
    key.bytes += u.bytes;
    std::string digits(ref.substr(slash + 1));
    uint32_t version = static_cast<uint32_t>(std::strtoul(digits.c_str(), nullptr, 10));
    key.per_version[version] += u.objects;
  }
  return out;
}

Result<void> CheckValue(const std::string& what, const std::string& value) {
  if (value.find_first_of(" \t\r\n") != std::string::npos) {
    return InvalidArgument(what + " must not contain spaces");
  }
  return Ok();
}

}  // namespace

void PrintKeyLifecycleNotes(catalog::Catalog& catalog, const std::vector<keys::KeyInfo>& keys) {
  std::map<std::string, KeyObjects> objects;
  bool loaded = false;
  for (const keys::KeyInfo& key : keys) {
    if (key.state != keys::KeyState::kPendingDestroy && key.state != keys::KeyState::kDestroyed) {
      continue;
    }
    if (!loaded) {
      objects = ObjectsPerKey(catalog);
      loaded = true;
    }
    const KeyObjects& held = objects[key.key_id];
    if (key.state == keys::KeyState::kDestroyed) {
      std::printf("%s: destroyed at %s; %llu objects (%s) crypto-shredded\n", key.key_id.c_str(),
                  Iso8601(key.destroy_ms).c_str(), static_cast<unsigned long long>(held.objects),
                  FormatBytes(held.bytes).c_str());
    } else {
      std::printf("%s: pending deletion, destroyed at %s; %llu objects (%s) unreadable until "
                  "then, crypto-shredded then\n",
                  key.key_id.c_str(), Iso8601(key.destroy_ms).c_str(),
                  static_cast<unsigned long long>(held.objects), FormatBytes(held.bytes).c_str());
    }
  }
}

void PrintKeyUsage(catalog::Catalog& catalog, const keys::KeyInfo& key) {
  std::map<std::string, KeyObjects> all = ObjectsPerKey(catalog);
  const KeyObjects& held = all[key.key_id];
  uint64_t current = held.per_version.count(key.current_version)
                         ? held.per_version.at(key.current_version)
                         : 0;
  std::printf("objects:      %llu (%s), %llu under the current version\n",
              static_cast<unsigned long long>(held.objects), FormatBytes(held.bytes).c_str(),
              static_cast<unsigned long long>(current));
  if (!held.per_version.empty()) {
    std::string versions;
    for (const auto& [version, count] : held.per_version) {
      if (!versions.empty()) versions += ", ";
      versions += "v" + std::to_string(version) + ": " + std::to_string(count);
    }
    std::printf("per version:  %s\n", versions.c_str());
  }
  if (key.state == keys::KeyState::kDestroyed) {
    std::printf("destroyed:    %s; %llu objects (%s) crypto-shredded\n",
                Iso8601(key.destroy_ms).c_str(), static_cast<unsigned long long>(held.objects),
                FormatBytes(held.bytes).c_str());
  } else if (key.state == keys::KeyState::kPendingDestroy) {
    std::printf("destroy at:   %s (cancel with strongroom key cancel-destroy)\n",
                Iso8601(key.destroy_ms).c_str());
  }
}

// `key destroy --now` of a provider-backed key: its provider key goes too,
// from here if this command has the provider configured, else at the
// server's next sweep.
static void DestroyOwnProviderKeys(const ServerSettings& settings, keys::KeyDirectory& directory) {
  auto registry = ProviderRegistry::Create(settings.providers);
  auto audit = OpenAuditLog(settings);
  keys::ProviderLookup lookup = registry ? (*registry)->Lookup() : keys::ProviderLookup();
  for (const ProviderKeyDestruction& step :
       DestroyProviderKeys(settings, directory, lookup, audit ? audit->get() : nullptr, LocalActor())) {
    std::printf("%s\n", DescribeOutcome(step).c_str());
  }
}

Result<void> RunKeyLifecycle(const ServerSettings& settings, catalog::Catalog& catalog,
                             keys::KeyDirectory& directory, const KeyCommand& command) {
  using Action = KeyCommand::Action;
  if (command.action == Action::kRewrap) {
    STRONGROOM_RETURN_IF_ERROR(CheckValue("the key", command.key));
    // The rewrap runs where the root key is: the server must be unsealed.
    auto state = ControlCall(ControlPath(settings), "STATUS", kControlTimeoutSeconds);
    if (state && *state == "sealed") {
      return FailedPrecondition("the server is sealed: unseal it first (a rewrap needs the "
                                "root key)");
    }
    STRONGROOM_ASSIGN_OR_RETURN(std::string job_id,
                                Call(settings, "JOB START rewrap key=" + command.key));
    std::printf("rewrap job %s started\n", job_id.c_str());
    std::fflush(stdout);
    if (!command.wait) return Ok();
    STRONGROOM_ASSIGN_OR_RETURN(catalog::Job job, WaitJob(settings, job_id));
    return ReportFinished(job);
  }
  STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo info, ResolveKeyArgument(directory, command.key));
  switch (command.action) {
    case Action::kRotate: {
      STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo rotated, directory.Rotate(info.key_id));
      auto older =
          catalog.CountObjects(objects::KeyMaintenance::RewrapScan(rotated.key_id,
                                                                   rotated.current_version));
      std::printf("rotated key %s: version %u is current; new objects are wrapped under it\n",
                  Named(rotated).c_str(), rotated.current_version);
      if (older) {
        std::printf("%llu objects stay under older versions and readable; `strongroom key "
                    "rewrap %s` moves their data keys to version %u without touching data\n",
                    static_cast<unsigned long long>(older->objects), command.key.c_str(),
                    rotated.current_version);
      }
      return Ok();
    }
    case Action::kDestroy: {
      STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo scheduled,
                                  directory.ScheduleDestroy(info.key_id, command.pending_ms));
      catalog::ObjectScanRequest scan;
      scan.kek_ref_prefix = objects::KeyMaintenance::KekRefPrefix(info.key_id);
      auto held = catalog.CountObjects(scan);
      unsigned long long count = held ? held->objects : 0;
      std::string bytes = held ? FormatBytes(held->bytes) : "?";
      if (command.pending_ms == 0) {
        STRONGROOM_RETURN_IF_ERROR(directory.DestroyDueKeys());
        std::printf("destroyed key %s: its version salts are deleted; %llu objects (%s) are "
                    "crypto-shredded\n",
                    Named(scheduled).c_str(), count, bytes.c_str());
        // A provider-backed key may free a provider key it shared.
        if (scheduled.provider != keys::kRootProvider) DestroyOwnProviderKeys(settings, directory);
        return Ok();
      }
      std::printf("key %s is pending deletion: it will be destroyed at %s.\n"
                  "From now on its %llu objects (%s) cannot be read or written; then they are "
                  "crypto-shredded for good.\nCancel with: strongroom key cancel-destroy %s\n",
                  Named(scheduled).c_str(), Iso8601(scheduled.destroy_ms).c_str(), count,
                  bytes.c_str(), command.key.c_str());
      return Ok();
    }
    case Action::kCancelDestroy: {
      STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo cancelled, directory.CancelDestroy(info.key_id));
      std::printf("key %s is no longer pending deletion; it is disabled (strongroom key enable "
                  "%s makes it usable again)\n",
                  Named(cancelled).c_str(), command.key.c_str());
      return Ok();
    }
    default:
      return Internal("not a key lifecycle command");
  }
}

Result<void> RunStatus(const ServerSettings& settings, bool json) {
  auto answer = ControlCall(ControlPath(settings), json ? "STATUS JSON" : "STATUS TEXT",
                            kControlTimeoutSeconds);
  if (answer) {
    if (answer->starts_with("ERR ")) return FailedPrecondition(answer->substr(4));
    std::printf("%s\n", answer->c_str());
    return Ok();
  }
  if (answer.error().code() != ErrorCode::kUnavailable) return tl::unexpected(answer.error());
  // No server: what the catalog says, and that nothing runs.
  struct stat st;
  if (::stat(CatalogPath(settings).c_str(), &st) != 0) {
    if (!json) std::printf("server:     not running\n");
    return FailedPrecondition("no catalog at '" + CatalogPath(settings) +
                              "': run `strongroom init` first, with the same --data-dir");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto catalog, catalog::Catalog::Open(CatalogPath(settings)));
  keys::KeyDirectory directory(*catalog);
  StatusSource source;
  source.server_running = false;
  STRONGROOM_ASSIGN_OR_RETURN(Status status, CollectStatus(*catalog, directory, source));
  std::printf("%s\n", json ? RenderStatusJson(status).c_str() : RenderStatusText(status).c_str());
  return Ok();
}

Result<void> RunReencrypt(const ServerSettings& settings, const ReencryptCommand& command) {
  STRONGROOM_RETURN_IF_ERROR(CheckValue("the bucket", command.bucket));
  STRONGROOM_RETURN_IF_ERROR(CheckValue("the key", command.key));
  if (command.rate_mib < 0 || !std::isfinite(command.rate_mib)) {
    return InvalidArgument("--rate must be a positive number of MiB/s");
  }
  std::string request = "JOB START reencrypt";
  if (!command.key.empty()) request += " key=" + command.key;
  if (!command.bucket.empty()) request += " bucket=" + command.bucket;
  if (command.rate_mib > 0) {
    uint64_t rate = static_cast<uint64_t>(std::max(1.0, command.rate_mib * 1048576.0));
    request += " rate=" + std::to_string(rate);
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::string job_id, Call(settings, request));
  std::printf("re-encryption job %s started in the background (strongroom status shows its "
              "progress; strongroom job cancel %s stops it)\n",
              job_id.c_str(), job_id.c_str());
  std::fflush(stdout);
  if (!command.wait) return Ok();
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Job job, WaitJob(settings, job_id));
  return ReportFinished(job);
}

Result<void> RunJob(const ServerSettings& settings, const JobCommand& command) {
  STRONGROOM_RETURN_IF_ERROR(CheckValue("the job id", command.job_id));
  switch (command.action) {
    case JobCommand::Action::kShow: {
      STRONGROOM_ASSIGN_OR_RETURN(catalog::Job job, GetJob(settings, command.job_id));
      std::printf("%s\n", JobState(job).c_str());
      if (!job.message.empty()) std::printf("%s\n", job.message.c_str());
      return Ok();
    }
    case JobCommand::Action::kWait: {
      STRONGROOM_ASSIGN_OR_RETURN(catalog::Job job, WaitJob(settings, command.job_id));
      return ReportFinished(job);
    }
    case JobCommand::Action::kCancel: {
      STRONGROOM_ASSIGN_OR_RETURN(std::string answer,
                                  Call(settings, "JOB CANCEL " + command.job_id));
      std::printf("job %s: %s\n", command.job_id.c_str(), answer.c_str());
      return Ok();
    }
  }
  return Internal("unknown job command");
}

}  // namespace strongroom::server
