// SPDX-License-Identifier: Apache-2.0
#pragma once

// The audit trail (keys/audit.h) as a JSON-lines file, by default
// <data_dir>/audit.log. Opened O_APPEND (created 0600): each event is one
// line written with a single write(2), so the server and admin commands
// running in other processes can append to the same file at once without
// interleaving lines. Existing lines are never rewritten.
//
// One line per event, fields in this order, empty strings and a zero
// version left out:
//
//   {"time":"2024-05-01T12:00:00.123Z","operation":"unwrap","result":"ok",
//    "error":…,"access_key":…,"actor":…,"key_id":…,"key_version":1,
//    "bucket":…,"object":…,"request":"GetObject","mode":"SSE-KMS",
//    "method":…,<details…>,"pid":1234}
//
// "result" is "ok" or "error". Strings are JSON-escaped; bytes that are not
// UTF-8 are written as \u00XX each.
//
// Durability. A line is in the kernel once Record returns, so a crash of
// the process loses nothing. Against power loss: key management events
// (init, unseal, key.*) are synced (fdatasync) before Record returns; the
// per-request wrap/unwrap events are synced in groups by a background
// thread at most `sync_interval` later (and at close), so a read does not
// wait for the disk (a wrap/unwrap is thus in the file before the key is
// used, and on disk within the interval). A failed sync, or a line cut
// short, breaks the sink for good: every later Record fails (kUnavailable),
// so no key is used once the trail cannot be vouched for. A newly created
// file's directory is synced too.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "keys/audit.h"

namespace strongroom::keys {

class FileAuditSink : public AuditSink {
 public:
  // Opens (or creates, 0600) `path` for appending. Errors name the path.
  static constexpr std::chrono::milliseconds kDefaultSyncInterval{1000};
  static Result<std::unique_ptr<FileAuditSink>> Open(
      const std::string& path, std::chrono::milliseconds sync_interval = kDefaultSyncInterval);
  ~FileAuditSink() override;
  FileAuditSink(const FileAuditSink&) = delete;
  FileAuditSink& operator=(const FileAuditSink&) = delete;

  Result<void> Record(const AuditEvent& event) override;

  const std::string& path() const { return path_; }
  // fdatasync calls so far (for tests).
  uint64_t syncs() const { return syncs_.load(); }
  // Tests only: replaces fdatasync(2) (returns 0, or -1 with errno set).
  void SetSyncFunctionForTesting(int (*sync)(int fd)) { sync_function_ = sync; }

 private:
  FileAuditSink(std::string path, int fd, std::chrono::milliseconds sync_interval);
  Result<void> Sync();
  void SyncLoop();
  std::string BrokenMessage() const;

  std::string path_;
  int fd_;
  std::chrono::milliseconds sync_interval_;
  std::mutex mutex_;  // one line at a time
  std::mutex sync_mutex_;
  std::condition_variable wake_;
  bool dirty_ = false;  // lines written since the last sync (under sync_mutex_)
  bool stop_ = false;
  std::atomic<uint64_t> syncs_{0};
  std::atomic<int (*)(int)> sync_function_{&::fdatasync};
  // Set once a sync failed; every later Record fails (kUnavailable).
  std::atomic<bool> broken_{false};
  std::mutex fsync_mutex_;  // one fdatasync at a time
  mutable std::mutex broken_mutex_;
  std::string broken_error_;  // the first failure (under broken_mutex_)
  std::thread syncer_;
};

// One event as its JSON object (no newline), stamped `now_ms` unless the
// event carries a time.
std::string FormatAuditEvent(const AuditEvent& event, int64_t now_ms);

}  // namespace strongroom::keys
