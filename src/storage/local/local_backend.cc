// SPDX-License-Identifier: Apache-2.0
#include "storage/local/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>
#include <utility>

#include "base/file.h"

namespace strongroom::storage {

struct LocalBackend::State {
  std::string root;
  std::string blobs;  // root + "/blobs"
  std::string tmp;    // root + "/tmp"
  std::mutex mutex;
  // Basenames in tmp/ of live writers; CleanTemporaryFiles spares them.
  std::set<std::string> live_temps;
};

namespace {

constexpr char kDirMarker = '+';
constexpr char kFileMarker = '=';
constexpr char kContinuationMarker = '~';
// Commit gives up after this many renames that lost a race with a Delete
// removing the freshly created parent directory.
constexpr int kMaxCommitAttempts = 64;

Error Errno(const std::string& what) { return ErrnoError(errno, what); }

// The path segments (relative to blobs/) of a valid name; see the header.
std::vector<std::string> EncodeName(std::string_view name) {
  std::vector<std::string> segments;
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    bool last = slash == std::string_view::npos;
    std::string_view component = last ? name.substr(start) : name.substr(start, slash - start);
    while (component.size() > LocalBackend::kSegmentChars) {
      segments.push_back(kContinuationMarker +
                         std::string(component.substr(0, LocalBackend::kSegmentChars)));
      component.remove_prefix(LocalBackend::kSegmentChars);
    }
    segments.push_back((last ? kFileMarker : kDirMarker) + std::string(component));
    if (last) break;
    start = slash + 1;
  }
  return segments;
}

std::string JoinPath(const std::string& base, const std::vector<std::string>& segments,
                     size_t count) {
  std::string path = base;
  for (size_t i = 0; i < count; ++i) {
    path += '/';
    path += segments[i];
  }
  return path;
}

Result<void> FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return tl::unexpected(Errno("cannot open directory '" + path + "'"));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return tl::unexpected(ErrnoError(err, "cannot fsync directory '" + path + "'"));
  }
  return Ok();
}

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Creates directory `path` and its missing parents (mkdir -p), fsyncing the
// parent of every directory it creates so the new entries are durable. For
// Create, before any concurrent use.
Result<void> MakeDirsDurably(const std::string& path) {
  for (int round = 0; round < 2; ++round) {
    if (::mkdir(path.c_str(), 0700) == 0) {
      std::string parent = Parent(path);
      return FsyncPath(parent.empty() ? "/" : parent);
    }
    if (errno == EEXIST) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return Internal("'" + path + "' exists and is not a directory");
      }
      return Ok();
    }
    if (errno != ENOENT || round > 0 || path.find('/', 1) == std::string::npos) break;
    STRONGROOM_RETURN_IF_ERROR(MakeDirsDurably(Parent(path)));
  }
  return tl::unexpected(Errno("cannot create directory '" + path + "'"));
}

// mkdir -p without fsync, for Commit (which fsyncs the whole chain after
// its rename). kNotFound if a concurrent Delete removed a parent directory
// it had just made: the caller retries.
Result<void> MakeDirs(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return Ok();
  if (errno == ENOENT && path.find('/', 1) != std::string::npos) {
    STRONGROOM_RETURN_IF_ERROR(MakeDirs(Parent(path)));
    if (::mkdir(path.c_str(), 0700) == 0) return Ok();
  }
  if (errno != EEXIST) {
    return tl::unexpected(Errno("cannot create directory '" + path + "'"));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return tl::unexpected(Errno("cannot create directory '" + path + "'"));  // removed again
  }
  if (!S_ISDIR(st.st_mode)) {
    return Internal("'" + path + "' exists and is not a directory");
  }
  return Ok();
}

class LocalWriter : public BlobWriter {
 public:
  LocalWriter(std::shared_ptr<LocalBackend::State> state, std::string name,
              std::vector<std::string> segments, std::string temp_name, int fd)
      : state_(std::move(state)),
        name_(std::move(name)),
        segments_(std::move(segments)),
        temp_name_(std::move(temp_name)),
        temp_path_(state_->tmp + "/" + temp_name_),
        fd_(fd) {}

  ~LocalWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_path_.c_str());
    std::lock_guard lock(state_->mutex);
    state_->live_temps.erase(temp_name_);
  }

  Result<void> Write(ByteView data) override {
    STRONGROOM_RETURN_IF_ERROR(CheckWritable());
    if (buffer_.size() + data.size() <= LocalBackend::kWriteBufferSize) {
      if (buffer_.capacity() == 0) buffer_.reserve(LocalBackend::kWriteBufferSize);
      Append(buffer_, data);
      return Ok();
    }
    STRONGROOM_RETURN_IF_ERROR(Flush());
    if (data.size() >= LocalBackend::kWriteBufferSize) {
      return Sticky(FdSink(fd_).Write(data));
    }
    if (buffer_.capacity() == 0) buffer_.reserve(LocalBackend::kWriteBufferSize);
    Append(buffer_, data);
    return Ok();
  }

  Result<void> Commit() override {
    STRONGROOM_RETURN_IF_ERROR(CheckWritable());
    STRONGROOM_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) {
      return Sticky(tl::unexpected(Errno("cannot fsync blob '" + name_ + "'")));
    }
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) {
      return Sticky(tl::unexpected(Errno("cannot close blob '" + name_ + "'")));
    }
    std::string dir = JoinPath(state_->blobs, segments_, segments_.size() - 1);
    std::string path = dir + "/" + segments_.back();
    for (int attempt = 0;; ++attempt) {
      if (::rename(temp_path_.c_str(), path.c_str()) == 0) break;
      if (errno != ENOENT || attempt + 1 >= kMaxCommitAttempts) {
        return Sticky(tl::unexpected(Errno("cannot commit blob '" + name_ + "'")));
      }
      // The parent directories are missing: this is the first blob below
      // them, or a Delete removed them when they became empty (kNotFound:
      // it removed one we had just made). Either way, make them and retry.
      auto made = MakeDirs(dir);
      if (!made && made.error().code() != ErrorCode::kNotFound) {
        return Sticky(std::move(made));
      }
    }
    committed_ = true;
    // Make the new entry durable, and every directory entry on the way down
    // from blobs/: whoever created a directory (perhaps a concurrent commit
    // that has not synced it yet), this blob needs it. Cheap for directories
    // with nothing unsynced.
    for (size_t depth = segments_.size() - 1;; --depth) {
      auto synced = FsyncPath(JoinPath(state_->blobs, segments_, depth));
      if (!synced) {
        // kNotFound: the blob was deleted meanwhile and its directory with it.
        return synced.error().code() == ErrorCode::kNotFound ? Ok() : synced;
      }
      if (depth == 0) break;
    }
    return Ok();
  }

 private:
  Result<void> CheckWritable() {
    if (committed_) {
      return FailedPrecondition("blob '" + name_ + "' is already committed");
    }
    if (failed_) {
      return FailedPrecondition("an earlier write to blob '" + name_ + "' failed");
    }
    return Ok();
  }

  Result<void> Flush() {
    if (buffer_.empty()) return Ok();
    STRONGROOM_RETURN_IF_ERROR(Sticky(FdSink(fd_).Write(buffer_)));
    buffer_.clear();
    return Ok();
  }

  // Remembers a failure: after one, the writer can only be discarded.
  Result<void> Sticky(Result<void> result) {
    if (!result) failed_ = true;
    return result;
  }

  std::shared_ptr<LocalBackend::State> state_;
  std::string name_;
  std::vector<std::string> segments_;
  std::string temp_name_;
  std::string temp_path_;
  int fd_;
  Bytes buffer_;
  bool committed_ = false;
  bool failed_ = false;
};

// Decodes one directory level of blobs/ into `out`. `decoded` is the name
// prefix the directory stands for, `relative` its path below blobs/.
Result<void> Walk(const std::string& blobs, const std::string& relative, const std::string& decoded,
                  std::string_view prefix, std::vector<BlobInfo>& out) {
  std::string dir_path = relative.empty() ? blobs : blobs + "/" + relative;
  // Never follows a symbolic link: blobs/ holds only what Commit made.
  int fd = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    // ENOENT: removed meanwhile by a Delete. ENOTDIR, ELOOP: not ours.
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return Ok();
    return tl::unexpected(Errno("cannot list '" + dir_path + "'"));
  }
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    Error error = Errno("cannot list '" + dir_path + "'");
    ::close(fd);
    return tl::unexpected(std::move(error));
  }
  std::vector<std::string> entries;
  while (dirent* entry = ::readdir(dir)) {
    char marker = entry->d_name[0];
    if (marker == kFileMarker || marker == kDirMarker || marker == kContinuationMarker) {
      entries.emplace_back(entry->d_name);
    }
  }
  ::closedir(dir);

  for (const std::string& entry : entries) {
    std::string child_relative = relative.empty() ? entry : relative + "/" + entry;
    std::string name = decoded + entry.substr(1);
    if (entry.front() == kFileMarker) {
      if (!std::string_view(name).starts_with(prefix) || !ValidateBlobName(name)) continue;
      std::vector<std::string> canonical = EncodeName(name);
      if (JoinPath("", canonical, canonical.size()).substr(1) != child_relative) continue;
      struct stat st;
      if (::lstat((blobs + "/" + child_relative).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        continue;  // deleted meanwhile, or not ours
      }
      out.push_back(BlobInfo{std::move(name), static_cast<uint64_t>(st.st_size)});
    } else {
      if (entry.front() == kDirMarker) name += '/';
      if (name.size() > kMaxBlobNameSize) continue;
      // Descend only where names starting with `prefix` can be.
      if (!std::string_view(name).starts_with(prefix) &&
          !prefix.starts_with(std::string_view(name))) {
        continue;
      }
      STRONGROOM_RETURN_IF_ERROR(Walk(blobs, child_relative, name, prefix, out));
    }
  }
  return Ok();
}

}  // namespace

LocalBackend::LocalBackend(std::shared_ptr<State> state) : state_(std::move(state)) {}
LocalBackend::~LocalBackend() = default;

Result<std::unique_ptr<LocalBackend>> LocalBackend::Create(const std::string& root_dir) {
  if (root_dir.empty()) {
    return InvalidArgument("empty storage root directory");
  }
  std::string root = root_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  auto state = std::make_shared<State>();
  state->root = root;
  state->blobs = root == "/" ? "/blobs" : root + "/blobs";
  state->tmp = root == "/" ? "/tmp" : root + "/tmp";
  STRONGROOM_RETURN_IF_ERROR(MakeDirsDurably(state->blobs).map_error([](const Error& e) {
    return e.WithContext("cannot create the blob store");
  }));
  STRONGROOM_RETURN_IF_ERROR(MakeDirsDurably(state->tmp).map_error([](const Error& e) {
    return e.WithContext("cannot create the blob store");
  }));
  return std::unique_ptr<LocalBackend>(new LocalBackend(std::move(state)));
}

const std::string& LocalBackend::root() const { return state_->root; }
std::string LocalBackend::blobs_dir() const { return state_->blobs; }
std::string LocalBackend::tmp_dir() const { return state_->tmp; }

Result<std::string> LocalBackend::BlobPath(std::string_view name) const {
  STRONGROOM_RETURN_IF_ERROR(ValidateBlobName(name));
  std::vector<std::string> segments = EncodeName(name);
  return JoinPath(state_->blobs, segments, segments.size());
}

Result<std::unique_ptr<BlobWriter>> LocalBackend::Create(std::string_view name) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBlobName(name));
  std::string temp = state_->tmp + "/w-XXXXXX";
  std::lock_guard lock(state_->mutex);
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) {
    return tl::unexpected(Errno("cannot create a temporary file in '" + state_->tmp + "'"));
  }
  std::string temp_name = temp.substr(state_->tmp.size() + 1);
  state_->live_temps.insert(temp_name);
  return std::unique_ptr<BlobWriter>(
      new LocalWriter(state_, std::string(name), EncodeName(name), std::move(temp_name), fd));
}

Result<std::unique_ptr<RandomAccessSource>> LocalBackend::Open(std::string_view name) {
  STRONGROOM_ASSIGN_OR_RETURN(std::string path, BlobPath(name));
  auto source = FileRandomAccessSource::Open(path);
  if (!source) {
    if (source.error().code() == ErrorCode::kNotFound) {
      return NotFound("no blob '" + std::string(name) + "'");
    }
    return tl::unexpected(source.error().WithContext("blob '" + std::string(name) + "'"));
  }
  return std::unique_ptr<RandomAccessSource>(std::move(source).value());
}

Result<BlobInfo> LocalBackend::Stat(std::string_view name) {
  STRONGROOM_ASSIGN_OR_RETURN(std::string path, BlobPath(name));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return NotFound("no blob '" + std::string(name) + "'");
    }
    return tl::unexpected(Errno("cannot stat blob '" + std::string(name) + "'"));
  }
  if (!S_ISREG(st.st_mode)) {
    return Internal("blob '" + std::string(name) + "' is not a regular file");
  }
  return BlobInfo{std::string(name), static_cast<uint64_t>(st.st_size)};
}

Result<void> LocalBackend::Delete(std::string_view name) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBlobName(name));
  std::vector<std::string> segments = EncodeName(name);
  std::string path = JoinPath(state_->blobs, segments, segments.size());
  if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
    return tl::unexpected(Errno("cannot delete blob '" + std::string(name) + "'"));
  }
  // Remove the directories this leaves empty, deepest first; rmdir refuses
  // a non-empty one, which ends the walk. A Commit racing to use one of
  // them recreates it (see LocalWriter::Commit).
  for (size_t depth = segments.size() - 1; depth > 0; --depth) {
    if (::rmdir(JoinPath(state_->blobs, segments, depth).c_str()) != 0) break;
  }
  return Ok();
}

Result<std::vector<BlobInfo>> LocalBackend::List(std::string_view prefix) {
  std::vector<BlobInfo> out;
  STRONGROOM_RETURN_IF_ERROR(Walk(state_->blobs, "", "", prefix, out));
  std::sort(out.begin(), out.end(),
            [](const BlobInfo& a, const BlobInfo& b) { return a.name < b.name; });
  return out;
}

Result<size_t> LocalBackend::CleanTemporaryFiles() {
  std::lock_guard lock(state_->mutex);
  DIR* dir = ::opendir(state_->tmp.c_str());
  if (dir == nullptr) {
    return tl::unexpected(Errno("cannot list '" + state_->tmp + "'"));
  }
  std::vector<std::string> doomed;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || state_->live_temps.count(name) != 0) continue;
    doomed.push_back(std::move(name));
  }
  ::closedir(dir);
  size_t removed = 0;
  for (const std::string& name : doomed) {
    std::string path = state_->tmp + "/" + name;
    if (::unlink(path.c_str()) == 0 || (errno == EISDIR && ::rmdir(path.c_str()) == 0)) {
      ++removed;
    } else if (errno != ENOENT) {
      return tl::unexpected(Errno("cannot remove '" + path + "'"));
    }
  }
  return removed;
}

}  // namespace strongroom::storage
