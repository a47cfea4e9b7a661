// SPDX-License-Identifier: Apache-2.0
#pragma once

// Background jobs of a running server: rewrap (every object and upload of a
// key to its current version) and re-encryption (objects under fresh data
// keys), run one at a time in submission order by a JobRunner thread, and
// the periodic sweep that destroys keys whose pending window has ended.
//
// Jobs live in the catalog (catalog::Job): kind, state, parameters, a
// cursor and counters. The cursor (the last object done, in (bucket, key)
// order; then the last upload for rewrap) is persisted at least every
// JobRunnerOptions::persist_interval and at the end of every page, so a job
// that was running when the server stopped resumes from it after the next
// start, once the key ring is unsealed. Objects are processed at most twice
// across a restart; both operations are idempotent (a rewrap finds the
// object current; a second re-encryption only costs time).
//
// Per object: rewrap and re-encryption are conditional (objects/
// key_maintenance.h), so objects written meanwhile are left alone and
// counted as skipped. SSE-C objects are skipped, and so are objects whose
// key is destroyed (crypto-shredded: nothing to rewrite). A failing object
// is counted and the job goes on (its last error in `message`); a key ring
// or catalog that is unavailable pauses the job and retries the same object.
// Re-encryption is throttled to `rate` plaintext bytes per second (a token
// bucket with one second of burst), inside objects as they stream.
//
// States: queued → running → done | cancelled | failed (bad parameters,
// e.g. a key that no longer exists). Cancelling a running job stops it
// between objects (an object being re-encrypted is abandoned unchanged).
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "base/result.h"
#include "catalog/catalog.h"
#include "keys/hierarchy/key_hierarchy.h"
#include "keys/key_directory.h"
#include "objects/key_maintenance.h"

namespace strongroom::server {

inline constexpr char kJobRewrap[] = "rewrap";
inline constexpr char kJobReencrypt[] = "reencrypt";

inline constexpr char kJobQueued[] = "queued";
inline constexpr char kJobRunning[] = "running";
inline constexpr char kJobDone[] = "done";
inline constexpr char kJobCancelled[] = "cancelled";
inline constexpr char kJobFailed[] = "failed";

// True for done, cancelled and failed.
bool JobFinished(const catalog::Job& job);

struct JobRequest {
  std::string kind;          // kJobRewrap or kJobReencrypt
  std::string key_id;        // canonical id or keys::kSseS3KeyId; required for rewrap,
                             // a filter for re-encryption (empty: every key, SSE-C skipped)
  std::string bucket;        // re-encryption: only this bucket (empty: all)
  uint64_t rate = 0;         // re-encryption: plaintext bytes per second (0: unthrottled)
};

// The job's parameters as stored in catalog::Job::params ("key=…\nbucket=…\n
// rate=…"), and back. kInvalidArgument for unknown fields or bad numbers.
std::string EncodeJobParams(const JobRequest& request);
Result<JobRequest> DecodeJobParams(std::string_view kind, std::string_view params);

// A key as the admin commands name it: "sse-s3" (the SSE-S3 key) or any
// reference KeyDirectory::Resolve accepts.
Result<keys::KeyInfo> ResolveKeyArgument(keys::KeyDirectory& directory,
                                         std::string_view reference);

struct JobRunnerOptions {
  std::chrono::milliseconds idle_poll{1000};        // how often an idle runner looks again
  std::chrono::milliseconds sweep_interval{60000};  // destroying due keys
  std::chrono::milliseconds persist_interval{500};  // cursor and counters
  std::chrono::milliseconds retry_delay{1000};      // after kUnavailable
  size_t page = 256;                                // objects per catalog page
  // Called with each key found destroyed (Sweep), for the log and audit.
  std::function<void(const std::string& key_id)> on_destroyed;
  // Runs at the end of every sweep (the provider keys of destroyed keys).
  std::function<void()> after_sweep;
};

class JobRunner {
 public:
  // Every reference must outlive the runner. Call Start to run it.
  JobRunner(catalog::Catalog& catalog, keys::KeyDirectory& directory,
            keys::KeyHierarchy& hierarchy, objects::KeyMaintenance& maintenance,
            JobRunnerOptions options = {});
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Starts the thread: it waits for the key ring to be unsealed, resumes
  // queued and running jobs in order, and sweeps due key destructions.
  void Start();
  // Stops between objects (a running job stays "running" and resumes at the
  // next start) and joins the thread. Idempotent.
  void Stop();
  // Looks for work now (after an unseal, a submission).
  void Wake();

  // Validates and queues a job. kNotFound (KMS.NotFoundException) for an
  // unknown key, kInvalidArgument for a bad request.
  Result<catalog::Job> Submit(const JobRequest& request);
  // Cancels a queued job at once, a running one between objects. kNotFound
  // for an unknown job, kFailedPrecondition for a finished one.
  Result<catalog::Job> Cancel(std::string_view job_id);

  // Runs one due-destruction sweep now (also done by the thread; not
  // concurrently with it). Reports every key it finds destroyed for the
  // first time through JobRunnerOptions::on_destroyed (also those destroyed
  // on first use or by another process), except those already destroyed at
  // the first sweep.
  void Sweep();

 private:
  void Run();
  // The next queued or running job, marked as current; nullopt if none.
  std::optional<catalog::Job> NextJob();
  void RunJob(catalog::Job job);
  // Persists `job` (retrying while the catalog is busy and not stopping).
  void Save(const catalog::Job& job);
  bool Interrupted(const std::string& job_id);
  // Whether `record`'s key is destroyed (its data is crypto-shredded).
  bool ShreddedObject(const catalog::ObjectKeyRecord& record);
  // Sleeps up to `delay`, returning early when stopping or cancelled.
  void Pause(std::chrono::milliseconds delay, const std::string& job_id);

  catalog::Catalog& catalog_;
  keys::KeyDirectory& directory_;
  keys::KeyHierarchy& hierarchy_;
  objects::KeyMaintenance& maintenance_;
  const JobRunnerOptions options_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool woken_ = false;
  std::string current_job_;  // the job RunJob works on
  bool cancel_current_ = false;
  int64_t last_created_ms_ = 0;
  std::set<std::string> known_destroyed_;  // Sweep's, on the runner thread
  bool swept_ = false;
  std::thread thread_;
};

}  // namespace strongroom::server
