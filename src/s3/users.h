// SPDX-License-Identifier: Apache-2.0
#pragma once

// Access keys: creation, listing, removal, and the secret lookup SigV4
// verification needs. Secrets are sealed by the key ring before they reach
// the catalog and unsealed only to verify a signature.

#include <string>
#include <vector>

#include "base/result.h"
#include "catalog/catalog.h"
#include "crypto/secret_bytes.h"
#include "keys/key_ring.h"

namespace strongroom::s3 {

struct NewUser {
  std::string access_key;
  std::string secret_key;  // shown once, never stored in clear
};

class UserDirectory {
 public:
  UserDirectory(catalog::Catalog& catalog, keys::KeyRing& keys) : catalog_(catalog), keys_(keys) {}

  // Adds a user. Empty `access_key`/`secret_key` are generated (20 uppercase
  // alphanumerics / 40 base64-ish characters, as AWS keys look).
  // kInvalidArgument for keys of bad shape; kAlreadyExists.
  Result<NewUser> Add(std::string access_key, std::string secret_key, bool admin);
  Result<std::vector<catalog::User>> List();
  Result<void> Remove(const std::string& access_key);
  // The secret of `access_key`; kNotFound if there is no such user.
  Result<crypto::SecretBytes> Secret(std::string_view access_key);
  // Whether `access_key` is an admin (admins may use every KMS key without
  // a grant); kNotFound if there is no such user.
  Result<bool> IsAdmin(std::string_view access_key);

 private:
  catalog::Catalog& catalog_;
  keys::KeyRing& keys_;
};

}  // namespace strongroom::s3
