// SPDX-License-Identifier: Apache-2.0
#include "keys/internal/key_files.h"

#include <sys/stat.h>

#include <cerrno>

#include "base/file.h"

namespace strongroom::keys::internal {

Result<void> WriteNewKeyFile(const std::string& path, ByteView content, std::string_view what) {
  STRONGROOM_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(path, false));
  STRONGROOM_RETURN_IF_ERROR(file->Write(content));
  auto committed = file->Commit(0600);
  if (!committed && committed.error().code() == ErrorCode::kAlreadyExists) {
    return AlreadyExists(std::string(what) + " exists at '" + path + "'");
  }
  return committed;
}

Result<Bytes> ReadKeyFile(const std::string& path, mode_t forbidden_mode, size_t max_size,
                          const std::string& missing_message) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return NotFound(missing_message);
    return tl::unexpected(ErrnoError(err, "cannot read '" + path + "'"));
  }
  if (!S_ISREG(st.st_mode)) return DataLoss("'" + path + "' is not a regular file");
  if ((st.st_mode & forbidden_mode) != 0) {
    return FailedPrecondition("'" + path + "' is " +
                              ((forbidden_mode & 0044) != 0 ? "accessible" : "writable") +
                              " by group or others; chmod 600 it");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto file, FileRandomAccessSource::Open(path));
  if (file->size() > max_size) return DataLoss("'" + path + "' is too large");
  Bytes content(file->size());
  STRONGROOM_RETURN_IF_ERROR(file->ReadAt(0, content));
  return content;
}

}  // namespace strongroom::keys::internal
