// SPDX-License-Identifier: Apache-2.0
#pragma once

// POSIX files behind the ByteSource/ByteSink/RandomAccessSource interfaces,
// and an output file that appears only when committed.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/io.h"
#include "base/result.h"

namespace strongroom {

// Reads a file descriptor sequentially (a file, a pipe, stdin). Retries on
// EINTR. Does not own the descriptor unless constructed by Open.
class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd, bool owned = false) : fd_(fd), owned_(owned) {}
  ~FdSource() override;
  // kNotFound / kPermissionDenied / kInvalidArgument (a directory).
  static Result<std::unique_ptr<FdSource>> Open(const std::string& path);
  Result<size_t> Read(MutableByteView out) override;
  int fd() const { return fd_; }

 private:
  int fd_;
  bool owned_;
};

// Writes to a file descriptor; does not own it.
class FdSink : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  Result<void> Write(ByteView data) override;

 private:
  int fd_;
};

// pread-based random access to a regular file. Concurrent ReadAt calls are safe.
class FileRandomAccessSource : public RandomAccessSource {
 public:
  static Result<std::unique_ptr<FileRandomAccessSource>> Open(const std::string& path);
  ~FileRandomAccessSource() override;
  uint64_t size() const override { return size_; }
  Result<void> ReadAt(uint64_t offset, MutableByteView out) override;

 private:
  FileRandomAccessSource(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

// A file written under a temporary name in the target's directory and
// renamed over the target only by Commit (after fsync of the file and then
// of the directory). If it is destroyed uncommitted, the temporary file is
// removed, so a failed write never leaves partial output at the target.
class AtomicFile : public ByteSink {
 public:
  // kAlreadyExists if `path` exists and `overwrite` is false.
  static Result<std::unique_ptr<AtomicFile>> Create(const std::string& path, bool overwrite);
  ~AtomicFile() override;

  Result<void> Write(ByteView data) override;
  // Makes the file visible at its path with mode `mode & ~umask`.
  Result<void> Commit(uint32_t mode = 0666);

 private:
  AtomicFile(std::string path, std::string temp_path, int fd, bool overwrite)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd), overwrite_(overwrite) {}
  std::string path_;
  std::string temp_path_;
  int fd_;
  bool overwrite_;
  bool committed_ = false;
};

// errno as an Error: ENOENT → kNotFound, EACCES/EPERM → kPermissionDenied,
// EEXIST → kAlreadyExists, ENOSPC/EDQUOT → kUnavailable, else kInternal.
Error ErrnoError(int err, const std::string& what);

// Size of a regular file, or nullopt for pipes, terminals and the like.
std::optional<uint64_t> RegularFileSize(int fd);

}  // namespace strongroom
