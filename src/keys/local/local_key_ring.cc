// SPDX-License-Identifier: Apache-2.0
#include "keys/local/local_key_ring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "crypto/sealed_box.h"

namespace strongroom::keys {
namespace {

constexpr std::string_view kProvider = "local";
constexpr std::string_view kKeyId = "root/1";
constexpr std::string_view kKekLabel = "strongroom/v1/kek";
constexpr size_t kRootKeySize = 32;

Result<crypto::SecretBytes> DeriveKek(const crypto::SecretBytes& root, std::string_view key_id) {
  Bytes info(kKekLabel.begin(), kKekLabel.end());
  info.push_back(0x00);
  Append(info, AsBytes(key_id));
  return crypto::HkdfSha512(root.reveal(), {}, info, 32);
}

Result<crypto::SecretBytes> LoadOrCreateRoot(const std::string& dir, bool& created) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return tl::unexpected(ErrnoError(errno, "cannot create key directory '" + dir + "'"));
  }
  std::string path = dir + "/root.key";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes key, crypto::RandomSecret(kRootKeySize));
    STRONGROOM_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(path, false));
    STRONGROOM_RETURN_IF_ERROR(file->Write(key.reveal()));
    STRONGROOM_RETURN_IF_ERROR(file->Commit(0600));
    created = true;
    return key;
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

Result<std::unique_ptr<LocalKeyRing>> LocalKeyRing::OpenOrCreate(const std::string& key_dir) {
  auto ring = std::unique_ptr<LocalKeyRing>(new LocalKeyRing());
  STRONGROOM_ASSIGN_OR_RETURN(ring->root_, LoadOrCreateRoot(key_dir, ring->created_));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes kek, DeriveKek(ring->root_, kKeyId));
  ring->current_ = Kek{std::string(kProvider), std::string(kKeyId),
                       std::make_shared<const crypto::SecretBytes>(std::move(kek))};
  return ring;
}

Result<Kek> LocalKeyRing::CurrentKek() { return current_; }

Result<Kek> LocalKeyRing::FindKek(std::string_view provider_id, std::string_view key_id) {
  if (provider_id == current_.provider_id && key_id == current_.key_id) {
    return current_;
  }
  return NotFound("no key '" + std::string(key_id) + "' from provider '" +
                  std::string(provider_id) + "' in the local key ring");
}

Result<Bytes> LocalKeyRing::Seal(std::string_view purpose, ByteView plaintext, ByteView aad) {
  return crypto::SealBox(root_.reveal(), purpose, plaintext, aad);
}

Result<crypto::SecretBytes> LocalKeyRing::Unseal(std::string_view purpose, ByteView sealed,
                                                 ByteView aad) {
  return crypto::OpenBox(root_.reveal(), purpose, sealed, aad);
}

}  // namespace strongroom::keys
