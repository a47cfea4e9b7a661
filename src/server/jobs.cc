// SPDX-License-Identifier: Apache-2.0
#include "server/jobs.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <cstdio>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "crypto/random.h"

namespace strongroom::server {
namespace {

using Clock = std::chrono::steady_clock;

Result<std::string> NewJobId() {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes id, crypto::RandomBytes(6));
  return HexEncode(id);
}

// Cursor: empty (start), "o" bucket NUL key (the last object done), or
// "u" upload id (the last upload done; objects are finished). Bucket names
// and object keys never hold a NUL.
Bytes ObjectCursor(const std::string& bucket, const std::string& key) {
  Bytes out{'o'};
  Append(out, AsBytes(bucket));
  out.push_back(0);
  Append(out, AsBytes(key));
  return out;
}

Bytes UploadCursor(const std::string& upload_id) {
  Bytes out{'u'};
  Append(out, AsBytes(upload_id));
  return out;
}

// Token bucket over plaintext bytes, one second of burst.
class Throttle {
 public:
  explicit Throttle(uint64_t rate) : rate_(static_cast<double>(rate)), tokens_(rate_) {}
  // Takes `n` bytes; returns how long to wait before going on.
  std::chrono::milliseconds Take(size_t n) {
    if (rate_ <= 0) return std::chrono::milliseconds(0);
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
    tokens_ -= static_cast<double>(n);
    if (tokens_ >= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(static_cast<int64_t>(-tokens_ / rate_ * 1000.0) + 1);
  }

 private:
  double rate_;
  double tokens_;
  Clock::time_point last_ = Clock::now();
};

std::string ErrorText(const Error& error) {
  return error.reason().empty() ? error.message() : error.reason() + ": " + error.message();
}

}  // namespace

bool JobFinished(const catalog::Job& job) {
  return job.state == kJobDone || job.state == kJobCancelled || job.state == kJobFailed;
}

std::string EncodeJobParams(const JobRequest& request) {
  std::string out;
  if (!request.key_id.empty()) out += "key=" + request.key_id + "\n";
  if (!request.bucket.empty()) out += "bucket=" + request.bucket + "\n";
  if (request.rate != 0) out += "rate=" + std::to_string(request.rate) + "\n";
  return out;
}

Result<JobRequest> DecodeJobParams(std::string_view kind, std::string_view params) {
  JobRequest request;
  request.kind = std::string(kind);
  while (!params.empty()) {
    size_t end = params.find('\n');
    std::string_view line = params.substr(0, end);
    params = end == std::string_view::npos ? std::string_view() : params.substr(end + 1);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("bad job parameter '" + std::string(line) + "'");
    }
    std::string_view name = line.substr(0, eq), value = line.substr(eq + 1);
    if (name == "key") {
      request.key_id = std::string(value);
    } else if (name == "bucket") {
      request.bucket = std::string(value);
    } else if (name == "rate") {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), request.rate);
      if (ec != std::errc() || ptr != value.data() + value.size()) {
        return InvalidArgument("bad job rate '" + std::string(value) + "'");
      }
    } else {
      return InvalidArgument("unknown job parameter '" + std::string(name) + "'");
    }
  }
  return request;
}

Result<keys::KeyInfo> ResolveKeyArgument(keys::KeyDirectory& directory,
                                         std::string_view reference) {
  if (reference == keys::kSseS3KeyId) return directory.Get(keys::kSseS3KeyId);
  return directory.Resolve(reference);
}

JobRunner::JobRunner(catalog::Catalog& catalog, keys::KeyDirectory& directory,
                     keys::KeyHierarchy& hierarchy, objects::KeyMaintenance& maintenance,
                     JobRunnerOptions options)
    : catalog_(catalog),
      directory_(directory),
      hierarchy_(hierarchy),
      maintenance_(maintenance),
      options_(std::move(options)) {}

JobRunner::~JobRunner() { Stop(); }

void JobRunner::Start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void JobRunner::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobRunner::Wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

Result<catalog::Job> JobRunner::Submit(const JobRequest& request) {
  if (request.kind != kJobRewrap && request.kind != kJobReencrypt) {
    return InvalidArgument("unknown job kind '" + request.kind + "'");
  }
  if (request.kind == kJobRewrap) {
    if (request.key_id.empty()) return InvalidArgument("a rewrap needs a key");
    if (!request.bucket.empty() || request.rate != 0) {
      return InvalidArgument("a rewrap takes no bucket and no rate");
    }
  }
  if (!request.key_id.empty()) STRONGROOM_RETURN_IF_ERROR(directory_.Get(request.key_id));
  if (!request.bucket.empty()) {
    auto bucket = catalog_.GetBucket(request.bucket);
    if (!bucket && bucket.error().code() == ErrorCode::kNotFound) {
      return tl::unexpected(Error(ErrorCode::kNotFound, "no bucket '" + request.bucket + "'")
                                .WithReason("NoSuchBucket"));
    }
    STRONGROOM_RETURN_IF_ERROR(bucket);
  }
  catalog::Job job;
  STRONGROOM_ASSIGN_OR_RETURN(job.job_id, NewJobId());
  job.kind = request.kind;
  job.state = kJobQueued;
  job.params = EncodeJobParams(request);
  {
    // Jobs run in (created_ms, job_id) order: distinct times keep it FIFO.
    std::lock_guard lock(mutex_);
    last_created_ms_ = std::max(NowMs(), last_created_ms_ + 1);
    job.created_ms = job.updated_ms = last_created_ms_;
  }
  STRONGROOM_RETURN_IF_ERROR(catalog_.CreateJob(job));
  Wake();
  return job;
}

Result<catalog::Job> JobRunner::Cancel(std::string_view job_id) {
  std::unique_lock lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Job job, catalog_.GetJob(job_id));
  if (JobFinished(job)) {
    return FailedPrecondition("job " + job.job_id + " is " + job.state + " already");
  }
  if (current_job_ == job.job_id) {
    cancel_current_ = true;  // the runner stops between objects and records it
    lock.unlock();
    wake_.notify_all();
    return job;
  }
  // Queued (or running in no one's hands): NextJob cannot take it meanwhile.
  job.state = kJobCancelled;
  job.finished_ms = job.updated_ms = NowMs();
  job.message = "cancelled before it ran";
  STRONGROOM_RETURN_IF_ERROR(catalog_.UpdateJob(job));
  return job;
}

void JobRunner::Sweep() {
  auto destroyed = directory_.DestroyDueKeys();
  if (!destroyed) {
    std::fprintf(stderr, "strongroom: key destruction sweep: %s\n",
                 destroyed.error().message().c_str());
    return;
  }
  std::set<std::string> now(destroyed->begin(), destroyed->end());
  // Keys destroyed here, on first use, or by another process (`key list`
  // does it too): drop their KEKs and report each once. Those destroyed
  // before the first sweep are the baseline, not news.
  auto keys = catalog_.ListKmsKeys();
  if (!keys) return;
  for (const catalog::KmsKey& key : *keys) {
    bool is_destroyed = key.state == keys::KeyStateName(keys::KeyState::kDestroyed);
    if (is_destroyed || key.state == keys::KeyStateName(keys::KeyState::kPendingDestroy)) {
      hierarchy_.Forget(key.key_id);
    }
    if (!is_destroyed || known_destroyed_.count(key.key_id)) continue;
    known_destroyed_.insert(key.key_id);
    if ((swept_ || now.count(key.key_id)) && options_.on_destroyed) {
      options_.on_destroyed(key.key_id);
    }
  }
  swept_ = true;
  if (options_.after_sweep) options_.after_sweep();
}

void JobRunner::Run() {
  auto last_sweep = Clock::now() - options_.sweep_interval;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (Clock::now() - last_sweep >= options_.sweep_interval) {
      Sweep();
      last_sweep = Clock::now();
    }
    if (!hierarchy_.sealed()) {
      if (std::optional<catalog::Job> job = NextJob()) {
        RunJob(std::move(*job));
        std::lock_guard lock(mutex_);
        current_job_.clear();
        cancel_current_ = false;
        continue;
      }
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.idle_poll, [this] { return stopping_ || woken_; });
    woken_ = false;
  }
}

std::optional<catalog::Job> JobRunner::NextJob() {
  std::lock_guard lock(mutex_);
  auto jobs = catalog_.ListJobs();
  if (!jobs) return std::nullopt;
  for (catalog::Job& job : *jobs) {
    if (job.state == kJobQueued || job.state == kJobRunning) {
      current_job_ = job.job_id;
      cancel_current_ = false;
      return std::move(job);
    }
  }
  return std::nullopt;
}

bool JobRunner::ShreddedObject(const catalog::ObjectKeyRecord& record) {
  std::string prefix = std::string(keys::kRootProvider) + ":";
  std::string_view ref = record.kek_ref;
  if (!ref.starts_with(prefix)) return false;
  ref.remove_prefix(prefix.size());
  size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos) return false;
  auto key = directory_.Get(ref.substr(0, slash));
  return key && key->state == keys::KeyState::kDestroyed;
}

bool JobRunner::Interrupted(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  return stopping_ || (current_job_ == job_id && cancel_current_);
}

void JobRunner::Pause(std::chrono::milliseconds delay, const std::string& job_id) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, delay,
                 [&] { return stopping_ || (current_job_ == job_id && cancel_current_); });
}

void JobRunner::Save(const catalog::Job& job) {
  catalog::Job saved = job;
  saved.updated_ms = NowMs();
  for (int attempt = 0;; ++attempt) {
    auto updated = catalog_.UpdateJob(saved);
    if (updated) return;
    if (updated.error().code() != ErrorCode::kUnavailable || attempt >= 20) {
      std::fprintf(stderr, "strongroom: cannot record job %s: %s\n", job.job_id.c_str(),
                   updated.error().message().c_str());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void JobRunner::RunJob(catalog::Job job) {
  const std::string id = job.job_id;
  auto finish = [&](const char* state, std::string message) {
    job.state = state;
    job.finished_ms = NowMs();
    job.message = std::move(message);
    Save(job);
  };
  auto request = DecodeJobParams(job.kind, job.params);
  if (!request) return finish(kJobFailed, request.error().message());
  const bool rewrap = job.kind == kJobRewrap;

  catalog::ObjectScanRequest scan;
  if (!request->key_id.empty()) {
    // A key that cannot be used now (disabled, pending deletion, destroyed)
    // fails the job at once instead of failing every object.
    auto key = directory_.Usable(request->key_id);
    if (!key) {
      if (key.error().code() == ErrorCode::kUnavailable) {
        Pause(options_.retry_delay, id);
        return;  // picked up again
      }
      return finish(kJobFailed, ErrorText(key.error()));
    }
    if (rewrap) {
      scan = objects::KeyMaintenance::RewrapScan(key->key_id, key->current_version);
    } else {
      scan.kek_ref_prefix = objects::KeyMaintenance::KekRefPrefix(key->key_id);
    }
  }
  scan.bucket = request->bucket;
  scan.limit = options_.page;

  if (job.state != kJobRunning) {
    job.state = kJobRunning;
    if (auto count = catalog_.CountObjects(scan)) {
      job.objects_total = count->objects;
      job.bytes_total = count->bytes;
    }
    Save(job);
  }

  Throttle throttle(request->rate);
  auto last_save = Clock::now();
  auto save_now_and_then = [&] {
    if (Clock::now() - last_save >= options_.persist_interval) {
      Save(job);
      last_save = Clock::now();
    }
  };
  // Stops (keeping the job running, to resume) or cancels; true if so.
  auto interrupted = [&] {
    if (!Interrupted(id)) return false;
    bool cancelled;
    {
      std::lock_guard lock(mutex_);
      cancelled = current_job_ == id && cancel_current_;
    }
    if (cancelled) {
      finish(kJobCancelled, "cancelled after " + std::to_string(job.objects_done) + " objects");
    } else {
      Save(job);  // stays running: resumed at the next start
    }
    return true;
  };
  objects::BytesCallback on_bytes = [&](size_t n) -> Result<void> {
    auto wait = throttle.Take(n);
    if (wait.count() > 0) Pause(wait, id);
    if (Interrupted(id)) return Unavailable("the job was interrupted");
    return Ok();
  };

  uint64_t uploads_done = 0;
  std::string last_error;
  bool objects_finished = !job.cursor.empty() && job.cursor[0] == 'u';
  if (!job.cursor.empty() && job.cursor[0] == 'o') {
    auto nul = std::find(job.cursor.begin() + 1, job.cursor.end(), uint8_t{0});
    scan.after_bucket.assign(job.cursor.begin() + 1, nul);
    if (nul != job.cursor.end()) scan.after_key.assign(nul + 1, job.cursor.end());
  }
  while (!objects_finished) {
    if (interrupted()) return;
    auto page = catalog_.ScanObjects(scan);
    if (!page) {
      if (page.error().code() == ErrorCode::kUnavailable) {
        Pause(options_.retry_delay, id);
        continue;
      }
      return finish(kJobFailed, ErrorText(page.error()));
    }
    for (size_t i = 0; i < page->size();) {
      if (interrupted()) return;
      const catalog::ObjectKeyRecord& record = (*page)[i];
      auto outcome = rewrap ? maintenance_.RewrapObject(record)
                            : maintenance_.ReencryptObject(record, on_bytes);
      if (!outcome) {
        if (interrupted()) return;
        if (outcome.error().code() == ErrorCode::kUnavailable) {
          Pause(options_.retry_delay, id);  // sealed storage, busy catalog: retry
          continue;
        }
        if (ShreddedObject(record)) {
          ++job.objects_skipped;  // crypto-shredded: nothing left to rewrite
        } else {
          ++job.objects_failed;
          last_error = record.bucket + "/" + record.key + ": " + ErrorText(outcome.error());
          job.message = "last failure: " + last_error;
        }
      } else if (*outcome == objects::MaintenanceOutcome::kDone) {
        ++job.objects_done;
        job.bytes_done += record.size;
      } else {
        ++job.objects_skipped;
      }
      job.cursor = ObjectCursor(record.bucket, record.key);
      scan.after_bucket = record.bucket;
      scan.after_key = record.key;
      ++i;
      save_now_and_then();
    }
    if (page->size() < scan.limit) {
      objects_finished = true;
      if (rewrap) job.cursor = UploadCursor("");
    }
    Save(job);
    last_save = Clock::now();
  }

  if (rewrap) {
    std::string after(job.cursor.begin() + 1, job.cursor.end());
    for (;;) {
      if (interrupted()) return;
      auto page = catalog_.ScanUploads(after, options_.page);
      if (!page) {
        if (page.error().code() == ErrorCode::kUnavailable) {
          Pause(options_.retry_delay, id);
          continue;
        }
        return finish(kJobFailed, ErrorText(page.error()));
      }
      for (size_t i = 0; i < page->size();) {
        if (interrupted()) return;
        const catalog::Upload& upload = (*page)[i];
        if (objects::KeyMaintenance::UploadUsesKey(upload, request->key_id)) {
          auto outcome = maintenance_.RewrapUpload(upload);
          if (!outcome && outcome.error().code() == ErrorCode::kUnavailable) {
            if (interrupted()) return;
            Pause(options_.retry_delay, id);
            continue;
          }
          if (!outcome) {
            ++job.objects_failed;
            last_error = "upload " + upload.upload_id + ": " + ErrorText(outcome.error());
          } else if (*outcome == objects::MaintenanceOutcome::kDone) {
            ++uploads_done;
          }
        }
        after = upload.upload_id;
        job.cursor = UploadCursor(after);
        ++i;
        save_now_and_then();
      }
      if (page->size() < options_.page) break;
    }
  }

  std::string summary = std::string(rewrap ? "rewrapped " : "re-encrypted ") +
                        std::to_string(job.objects_done) + " objects";
  if (rewrap) summary += " and " + std::to_string(uploads_done) + " uploads";
  summary += ", skipped " + std::to_string(job.objects_skipped) + ", failed " +
             std::to_string(job.objects_failed);
  if (!last_error.empty()) summary += " (last failure: " + last_error + ")";
  finish(kJobDone, std::move(summary));
}

}  // namespace strongroom::server
