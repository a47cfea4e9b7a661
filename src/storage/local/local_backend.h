// SPDX-License-Identifier: Apache-2.0
#pragma once

// A Backend on a local POSIX file system.
//
// Layout under the root directory:
//   root/blobs/   committed blobs, one regular file each (mode 0600)
//   root/tmp/     blobs being written, as random names; nothing else
//
// Name mapping. A blob name is split at '/' into components; each component
// becomes one or more path segments, and every segment starts with a marker
// byte that is not a blob-name character, so files and directories can never
// collide (blobs "a" and "a/b" coexist) and no segment is ever "." or "..":
//   '+' + c    a directory for a non-final component c       ("a/" -> "+a/")
//   '=' + c    the file holding the blob, for the final component c
//   '~' + s    a directory holding the first kSegmentChars bytes s of a
//              component longer than kSegmentChars; the rest follows in the
//              next segment (keeps every segment under NAME_MAX)
// e.g. "objects/ab/0001" -> root/blobs/+objects/+ab/=0001, "x/" -> +x/=.
// The final component may be empty (a name ending in '/'): its file is "=".
// List decodes the paths back and ignores anything not in canonical form.
//
// Writes. Create makes root/tmp/<random> (O_CLOEXEC, 0600) and buffers
// writes in 1 MiB. Commit flushes, fsyncs the file, creates missing parent
// directories, renames the file into place (atomically replacing an old blob)
// and fsyncs the destination directory and each of its ancestors up to
// blobs/ (so the entries of directories it or a concurrent commit created
// are durable too; directories with nothing unsynced are cheap to fsync).
// So a blob is never visible partially, and once Commit returns it survives
// a crash. If the directory fsync fails after the rename, Commit
// reports the error although the blob is already visible. Destroying an
// uncommitted writer closes and unlinks its temporary file; a crash leaves
// it in root/tmp, where CleanTemporaryFiles removes it.
//
// Reads. Open returns a pread-based source owning its own descriptor: it
// keeps reading the bytes it opened even if the blob is replaced or deleted
// meanwhile. Concurrent ReadAt calls on one source are safe.
//
// Delete unlinks the file (idempotent) and removes directories it leaves
// empty; it does not fsync (a blob that reappears after a crash is an orphan
// for the caller's cleanup). No lock orders the two: rmdir only removes
// empty directories, and a Commit whose rename finds a directory gone
// (removed by a Delete, here or in another process) recreates it and
// retries.
//
// Thread-safe. One process should own a root: CleanTemporaryFiles only knows
// the writers of this LocalBackend object.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/backend.h"

namespace strongroom::storage {

class LocalBackend : public Backend {
 public:
  // Bytes of a name component per path segment; longer components are split.
  static constexpr size_t kSegmentChars = 200;
  // Writers flush to the file in units of this size.
  static constexpr size_t kWriteBufferSize = 1 << 20;

  // Opens the store at `root_dir`, creating it (with parents), blobs/ and
  // tmp/ if missing. Does not touch leftovers in tmp/ (see CleanTemporaryFiles).
  // Note: with a string literal, Create is ambiguous between this and
  // Backend::Create (a compile error, never a wrong call): pass the root as
  // a std::string, and create blobs through a Backend& or a std::string_view.
  static Result<std::unique_ptr<LocalBackend>> Create(const std::string& root_dir);
  ~LocalBackend() override;

  Result<std::unique_ptr<BlobWriter>> Create(std::string_view name) override;
  Result<std::unique_ptr<RandomAccessSource>> Open(std::string_view name) override;
  Result<BlobInfo> Stat(std::string_view name) override;
  Result<void> Delete(std::string_view name) override;
  Result<std::vector<BlobInfo>> List(std::string_view prefix) override;

  // Removes every entry of root/tmp that is not the temporary file of a live
  // writer of this object: the leftovers of a crash. Call it at start-up,
  // before other processes could be writing to the same root. Returns how
  // many entries it removed.
  Result<size_t> CleanTemporaryFiles();

  const std::string& root() const;
  std::string blobs_dir() const;
  std::string tmp_dir() const;
  // The file that holds (or would hold) blob `name`; kInvalidArgument for an
  // invalid name. For tests and diagnostics.
  Result<std::string> BlobPath(std::string_view name) const;

  // Internal; shared with writers so they may outlive the backend.
  struct State;

 private:
  explicit LocalBackend(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace strongroom::storage
