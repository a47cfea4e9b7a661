// SPDX-License-Identifier: Apache-2.0
#include "keys/audit/file_audit_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/file.h"

namespace strongroom::keys {
namespace {

std::string Rfc3339(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  size_t n = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return text;
}

void AppendEscaped(std::string& out, std::string_view s) {
  const bool utf8 = IsValidUtf8(s);
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
          char buffer[8];
          std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void AppendField(std::string& out, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  out.push_back(',');
  AppendEscaped(out, name);
  out.push_back(':');
  AppendEscaped(out, value);
}

}  // namespace

std::string FormatAuditEvent(const AuditEvent& event, int64_t now_ms) {
  std::string out = "{\"time\":";
  AppendEscaped(out, Rfc3339(event.time_ms != 0 ? event.time_ms : now_ms));
  out += ",\"operation\":";
  AppendEscaped(out, event.operation);
  out += event.ok ? ",\"result\":\"ok\"" : ",\"result\":\"error\"";
  AppendField(out, "error", event.error);
  AppendField(out, "access_key", event.access_key);
  AppendField(out, "actor", event.actor);
  AppendField(out, "key_id", event.key_id);
  if (event.key_version != 0) {
    out += ",\"key_version\":" + std::to_string(event.key_version);
  }
  AppendField(out, "bucket", event.bucket);
  AppendField(out, "object", event.object);
  AppendField(out, "request", event.request);
  AppendField(out, "mode", event.mode);
  AppendField(out, "method", event.method);
  for (const auto& [name, value] : event.details) AppendField(out, name, value);
  out += ",\"pid\":" + std::to_string(::getpid()) + "}";
  return out;
}

Result<std::unique_ptr<FileAuditSink>> FileAuditSink::Open(
    const std::string& path, std::chrono::milliseconds sync_interval) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      // A new file: its directory entry must survive power loss too.
      std::string dir = path.substr(0, path.find_last_of('/') + 1);
      int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dir_fd >= 0) {
        (void)::fsync(dir_fd);
        ::close(dir_fd);
      }
    }
  }
  if (fd < 0) {
    return tl::unexpected(ErrnoError(errno, "cannot open the audit log '" + path + "'"));
  }
  return std::unique_ptr<FileAuditSink>(new FileAuditSink(path, fd, sync_interval));
}

FileAuditSink::FileAuditSink(std::string path, int fd, std::chrono::milliseconds sync_interval)
    : path_(std::move(path)), fd_(fd), sync_interval_(sync_interval) {
  syncer_ = std::thread([this] { SyncLoop(); });
}

FileAuditSink::~FileAuditSink() {
  {
    std::lock_guard lock(sync_mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  syncer_.join();
  bool dirty = false;
  {
    std::lock_guard lock(sync_mutex_);
    dirty = dirty_;
  }
  if (dirty) (void)Sync();
  ::close(fd_);
}

Result<void> FileAuditSink::Sync() {
  // One sync at a time: Linux reports a failed writeback to one fdatasync
  // caller only, and a concurrent one must not take its 0 as "durable".
  std::lock_guard serial(fsync_mutex_);
  if (broken_) return Unavailable(BrokenMessage());
  int rc;
  do {
    rc = sync_function_.load()(fd_);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // Linux reports a failed writeback once and then forgets it, so a
    // retry could "succeed" over lost lines: the log stays broken.
    std::string error = ErrnoError(errno, "fdatasync").message();
    {
      std::lock_guard lock(broken_mutex_);
      if (broken_error_.empty()) broken_error_ = std::move(error);
    }
    broken_ = true;
    return Unavailable(BrokenMessage());
  }
  syncs_.fetch_add(1);
  return Ok();
}

std::string FileAuditSink::BrokenMessage() const {
  std::lock_guard lock(broken_mutex_);
  return "the audit log '" + path_ + "' could not be synced (" + broken_error_ +
         "): no key is used until the server is restarted";
}

void FileAuditSink::SyncLoop() {
  std::unique_lock lock(sync_mutex_);
  while (!stop_) {
    wake_.wait_for(lock, sync_interval_, [this] { return stop_; });
    if (!dirty_) continue;
    dirty_ = false;
    lock.unlock();
    if (auto synced = Sync(); !synced) {
      std::fprintf(stderr, "strongroom: %s\n", synced.error().message().c_str());
      return;  // broken for good: Record refuses from now on
    }
    lock.lock();
  }
}

Result<void> FileAuditSink::Record(const AuditEvent& event) {
  std::string line = FormatAuditEvent(event, NowMs());
  line.push_back('\n');
  if (broken_) return Unavailable(BrokenMessage());
  std::unique_lock lock(mutex_);
  // One write(2) per line: with O_APPEND the kernel places it at the end as
  // a whole, so concurrent writers (other processes too) do not interleave.
  ByteView rest = AsBytes(line);
  while (!rest.empty()) {
    ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      if (rest.size() != line.size()) {
        // Part of a line is in the file; the next one would join it.
        std::lock_guard broken_lock(broken_mutex_);
        if (broken_error_.empty()) broken_error_ = "a line was cut short";
        broken_ = true;
      }
      return Unavailable("cannot append to the audit log '" + path_ + "': " +
                         ErrnoError(err, "write").message());
    }
    rest = rest.subspan(static_cast<size_t>(n));
  }
  // Key management is rare and must survive power loss before the command
  // reports success; per-request events are synced in groups.
  const bool per_request = event.operation == audit_op::kWrap ||
                           event.operation == audit_op::kUnwrap;
  lock.unlock();  // the line is written; other writers need not wait for the disk
  if (!per_request) return Sync();
  {
    std::lock_guard sync_lock(sync_mutex_);
    dirty_ = true;
  }
  return Ok();
}

}  // namespace strongroom::keys
