// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>

#include "keys/key_ring.h"

namespace strongroom::keys {

// Development key ring: a 32-byte root key in `key_dir`/root.key (directory
// 0700, file 0600), created on first use. The key sits on the same machine
// as the data in clear, which is why the server warns loudly in this mode.
// Data keys are wrapped under a KEK derived from the root key
// (HKDF-SHA-512, "strongroom/v1/kek" ‖ 0x00 ‖ key id), so the root key
// itself never touches an envelope.
class LocalKeyRing : public KeyRing {
 public:
  // Creates the directory and key if missing. kFailedPrecondition if the key
  // file has the wrong size or is readable by group or others.
  static Result<std::unique_ptr<LocalKeyRing>> OpenOrCreate(const std::string& key_dir);

  // Whether OpenOrCreate generated a new root key.
  bool created() const { return created_; }

  // KeyRing
  Result<Kek> CurrentKek() override;
  Result<Kek> FindKek(std::string_view provider_id, std::string_view key_id) override;
  Result<Bytes> Seal(std::string_view purpose, ByteView plaintext, ByteView aad) override;
  Result<crypto::SecretBytes> Unseal(std::string_view purpose, ByteView sealed,
                                     ByteView aad) override;

 private:
  LocalKeyRing() = default;
  crypto::SecretBytes root_;
  Kek current_;
  bool created_ = false;
};

}  // namespace strongroom::keys
