// SPDX-License-Identifier: Apache-2.0
#include "keys/local/dev_root.h"

#include <sys/stat.h>

#include <cerrno>

#include "base/file.h"
#include "crypto/random.h"

namespace strongroom::keys {
namespace {

constexpr size_t kRootKeySize = 32;

Result<crypto::SecretBytes> LoadRoot(const std::string& path, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) {
    return FailedPrecondition("root key '" + path + "' is not a regular file");
  }
  if ((st.st_mode & 0077) != 0) {
    return FailedPrecondition("root key '" + path +
                              "' is accessible by group or others; chmod 600 it");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto file, FileRandomAccessSource::Open(path));
  if (file->size() != kRootKeySize) {
    return FailedPrecondition("root key '" + path + "' must hold exactly 32 bytes");
  }
  crypto::SecretBytes key(kRootKeySize);
  STRONGROOM_RETURN_IF_ERROR(file->ReadAt(0, key.mutable_reveal()));
  return key;
}

}  // namespace

Result<crypto::SecretBytes> LoadOrCreateDevRoot(const std::string& key_dir, bool* created) {
  if (created != nullptr) *created = false;
  if (::mkdir(key_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return tl::unexpected(ErrnoError(errno, "cannot create key directory '" + key_dir + "'"));
  }
  std::string path = key_dir + "/" + kDevRootFile;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return LoadRoot(path, st);
  if (errno != ENOENT) {
    return tl::unexpected(ErrnoError(errno, "cannot read root key '" + path + "'"));
  }

  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::RandomSecret(kRootKeySize));
  auto file = AtomicFile::Create(path, false);
  Result<void> written = file ? (*file)->Write(key.reveal()) : tl::unexpected(file.error());
  if (written) written = (*file)->Commit(0600);
  if (written) {
    if (created != nullptr) *created = true;
    return key;
  }
  if (written.error().code() != ErrorCode::kAlreadyExists) return tl::unexpected(written.error());
  // Another process created it first: use theirs.
  if (::stat(path.c_str(), &st) != 0) {
    return tl::unexpected(ErrnoError(errno, "cannot read root key '" + path + "'"));
  }
  return LoadRoot(path, st);
}

}  // namespace strongroom::keys
