// SPDX-License-Identifier: Apache-2.0
#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace strongroom {

Error ErrnoError(int err, const std::string& what) {
  std::string message = what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT: return Error(ErrorCode::kNotFound, message);
    case EACCES:
    case EPERM: return Error(ErrorCode::kPermissionDenied, message);
    case EEXIST: return Error(ErrorCode::kAlreadyExists, message);
    case ENOSPC:
    case EDQUOT: return Error(ErrorCode::kUnavailable, message);
    case EISDIR: return Error(ErrorCode::kInvalidArgument, message);
    default: return Error(ErrorCode::kInternal, message);
  }
}

std::optional<uint64_t> RegularFileSize(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(st.st_size);
}

namespace {
Result<int> OpenForReading(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return tl::unexpected(ErrnoError(errno, "cannot open '" + path + "'"));
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("'" + path + "' is a directory");
  }
  return fd;
}
}  // namespace

FdSource::~FdSource() {
  if (owned_) ::close(fd_);
}

Result<std::unique_ptr<FdSource>> FdSource::Open(const std::string& path) {
  STRONGROOM_ASSIGN_OR_RETURN(int fd, OpenForReading(path));
  return std::make_unique<FdSource>(fd, true);
}

Result<size_t> FdSource::Read(MutableByteView out) {
  for (;;) {
    ssize_t n = ::read(fd_, out.data(), out.size());
    if (n >= 0) {
      return static_cast<size_t>(n);
    }
    if (errno != EINTR) {
      return tl::unexpected(ErrnoError(errno, "read failed"));
    }
  }
}

Result<void> FdSink::Write(ByteView data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(ErrnoError(errno, "write failed"));
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return Ok();
}

Result<std::unique_ptr<FileRandomAccessSource>> FileRandomAccessSource::Open(
    const std::string& path) {
  STRONGROOM_ASSIGN_OR_RETURN(int fd, OpenForReading(path));
  auto size = RegularFileSize(fd);
  if (!size) {
    ::close(fd);
    return InvalidArgument("'" + path + "' is not a regular file");
  }
  return std::unique_ptr<FileRandomAccessSource>(new FileRandomAccessSource(fd, *size));
}

FileRandomAccessSource::~FileRandomAccessSource() { ::close(fd_); }

Result<void> FileRandomAccessSource::ReadAt(uint64_t offset, MutableByteView out) {
  if (offset > size_ || out.size() > size_ - offset) {
    return OutOfRange("read past the end of the file");
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                        static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(ErrnoError(errno, "read failed"));
    }
    if (n == 0) {
      return DataLoss("file shrank while being read");
    }
    done += static_cast<size_t>(n);
  }
  return Ok();
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& path, bool overwrite) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return InvalidArgument("'" + path + "' is a directory");
    }
    if (!overwrite) {
      return AlreadyExists("'" + path + "' exists (use --force to overwrite)");
    }
  }
  std::string temp = path + ".strongroom-XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);  // mode 0600 while incomplete
  if (fd < 0) {
    return tl::unexpected(ErrnoError(errno, "cannot create a file next to '" + path + "'"));
  }
  return std::unique_ptr<AtomicFile>(new AtomicFile(path, temp, fd, overwrite));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

Result<void> AtomicFile::Write(ByteView data) { return FdSink(fd_).Write(data); }

Result<void> AtomicFile::Commit(uint32_t mode) {
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd_, static_cast<mode_t>(mode) & ~mask) != 0 || ::fsync(fd_) != 0) {
    return tl::unexpected(ErrnoError(errno, "cannot finish '" + path_ + "'"));
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    return tl::unexpected(ErrnoError(errno, "cannot finish '" + path_ + "'"));
  }
  fd_ = -1;
  if (!overwrite_) {
    // link() fails if the target appeared meanwhile: never clobber silently.
    if (::link(temp_path_.c_str(), path_.c_str()) != 0) {
      return tl::unexpected(ErrnoError(errno, "cannot create '" + path_ + "'"));
    }
    ::unlink(temp_path_.c_str());
  } else if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return tl::unexpected(ErrnoError(errno, "cannot replace '" + path_ + "'"));
  }
  committed_ = true;
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? std::string(".")
                          : slash == 0               ? std::string("/")
                                                     : path_.substr(0, slash);
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Ok();
}

}  // namespace strongroom
