// SPDX-License-Identifier: Apache-2.0
#include "keys/passphrase/passphrase_root.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/file.h"
#include "crypto/random.h"
#include "format/file_container.h"

namespace strongroom::keys {
namespace {

constexpr size_t kRootKeySize = 32;

std::string SealedPath(const std::string& key_dir) { return key_dir + "/" + kSealedRootFile; }

Result<crypto::Argon2idParams> Argon2Params() {
  crypto::Argon2idParams params;
  const char* env = std::getenv("STRONGROOM_ARGON2_PARAMS");
  if (env == nullptr || *env == '\0') return params;
  unsigned t = 0, m = 0, p = 0;
  char extra;
  if (std::sscanf(env, "%u,%u,%u%c", &t, &m, &p, &extra) != 3) {
    return InvalidArgument("STRONGROOM_ARGON2_PARAMS must be T,M,P (iterations, KiB, lanes)");
  }
  params = {t, m, p};
  STRONGROOM_RETURN_IF_ERROR(crypto::ValidateArgon2idParams(params));
  return params;
}

// Collects at most kRootKeySize bytes of plaintext into key material.
class RootSink : public ByteSink {
 public:
  Result<void> Write(ByteView data) override {
    if (data.size() > kRootKeySize - size_) {
      size_ = kRootKeySize + 1;  // remembered: too long
      return DataLoss("the sealed root key holds more than 32 bytes");
    }
    std::copy(data.begin(), data.end(), key_.mutable_reveal().begin() + size_);
    size_ += data.size();
    return Ok();
  }
  size_t size() const { return size_; }
  crypto::SecretBytes Take() { return std::move(key_); }

 private:
  crypto::SecretBytes key_{kRootKeySize};
  size_t size_ = 0;
};

}  // namespace

bool SealedRootExists(const std::string& key_dir) {
  struct stat st;
  return ::lstat(SealedPath(key_dir).c_str(), &st) == 0;
}

Result<void> CreateSealedRoot(const std::string& key_dir, ByteView passphrase) {
  if (passphrase.empty()) return InvalidArgument("the passphrase is empty");
  format::FileKey key;
  key.source = format::KeySource::kPassphrase;
  STRONGROOM_ASSIGN_OR_RETURN(key.argon2, Argon2Params());
  key.secret = crypto::SecretBytes::CopyFrom(passphrase);

  if (::mkdir(key_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return tl::unexpected(ErrnoError(errno, "cannot create key directory '" + key_dir + "'"));
  }
  std::string path = SealedPath(key_dir);
  if (SealedRootExists(key_dir)) {
    return AlreadyExists("a sealed root key exists at '" + path + "'");
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes root, crypto::RandomSecret(kRootKeySize));
  STRONGROOM_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(path, false));
  ByteViewSource source(root.reveal());
  STRONGROOM_RETURN_IF_ERROR(format::EncryptFile(key, source, *file));
  auto committed = file->Commit(0600);
  if (!committed && committed.error().code() == ErrorCode::kAlreadyExists) {
    return AlreadyExists("a sealed root key exists at '" + path + "'");
  }
  return committed;
}

Result<crypto::SecretBytes> OpenSealedRoot(const std::string& key_dir, ByteView passphrase) {
  if (passphrase.empty()) return InvalidArgument("the passphrase is empty");
  std::string path = SealedPath(key_dir);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return NotFound("no sealed root key at '" + path + "'; run `strongroom init`");
    }
    return tl::unexpected(ErrnoError(err, "cannot read '" + path + "'"));
  }
  if (!S_ISREG(st.st_mode)) {
    return DataLoss("'" + path + "' is not a regular file");
  }
  if ((st.st_mode & 0077) != 0) {
    return FailedPrecondition("sealed root key '" + path +
                              "' is accessible by group or others; chmod 600 it");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto source, FdSource::Open(path));

  format::FileKey key;
  key.source = format::KeySource::kPassphrase;
  key.secret = crypto::SecretBytes::CopyFrom(passphrase);
  RootSink sink;
  auto decrypted = format::DecryptFile(key, *source, sink);
  if (!decrypted) {
    const Error& e = decrypted.error();
    if (e.code() == ErrorCode::kUnauthenticated) {
      return Unauthenticated("wrong passphrase for the sealed root key '" + path + "'");
    }
    if (e.code() == ErrorCode::kInvalidArgument || e.code() == ErrorCode::kDataLoss ||
        e.code() == ErrorCode::kOutOfRange) {
      return DataLoss("sealed root key '" + path + "' is corrupt: " + e.message());
    }
    return tl::unexpected(e.WithContext("sealed root key '" + path + "'"));
  }
  if (sink.size() != kRootKeySize) {
    return DataLoss("sealed root key '" + path + "' does not hold a 32-byte key");
  }
  return sink.Take();
}

}  // namespace strongroom::keys
