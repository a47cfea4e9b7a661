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

#include <memory>
#include <mutex>
#include <string>

#include "keys/audit.h"

namespace strongroom::keys {

class FileAuditSink : public AuditSink {
 public:
  // Opens (or creates, 0600) `path` for appending. Errors name the path.
  static Result<std::unique_ptr<FileAuditSink>> Open(const std::string& path);
  ~FileAuditSink() override;
  FileAuditSink(const FileAuditSink&) = delete;
  FileAuditSink& operator=(const FileAuditSink&) = delete;

  Result<void> Record(const AuditEvent& event) override;

  const std::string& path() const { return path_; }

 private:
  FileAuditSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
  std::mutex mutex_;
};

// One event as its JSON object (no newline), stamped `now_ms` unless the
// event carries a time.
std::string FormatAuditEvent(const AuditEvent& event, int64_t now_ms);

}  // namespace strongroom::keys
