// SPDX-License-Identifier: Apache-2.0
#include "s3/users.h"

#include <chrono>

#include "crypto/random.h"

namespace strongroom::s3 {
namespace {

constexpr std::string_view kPurpose = "user-secret";

Result<std::string> RandomString(size_t length, std::string_view alphabet) {
  std::string out;
  while (out.size() < length) {
    STRONGROOM_ASSIGN_OR_RETURN(Bytes random, crypto::RandomBytes(64));
    for (uint8_t b : random) {
      // Rejection sampling keeps the characters uniform.
      if (b < 256 - 256 % alphabet.size() && out.size() < length) {
        out.push_back(alphabet[b % alphabet.size()]);
      }
    }
  }
  return out;
}

bool Printable(std::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace

Result<NewUser> UserDirectory::Add(std::string access_key, std::string secret_key, bool admin) {
  if (access_key.empty()) {
    STRONGROOM_ASSIGN_OR_RETURN(access_key, RandomString(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
  }
  if (secret_key.empty()) {
    STRONGROOM_ASSIGN_OR_RETURN(
        secret_key,
        RandomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
  }
  if (access_key.size() < 3 || access_key.size() > 128 || !Printable(access_key)) {
    return InvalidArgument("an access key is 3..128 printable characters without spaces");
  }
  if (secret_key.size() < 8 || secret_key.size() > 128 || !Printable(secret_key)) {
    return InvalidArgument("a secret key is 8..128 printable characters without spaces");
  }
  catalog::User user;
  user.access_key = access_key;
  user.admin = admin;
  user.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  STRONGROOM_ASSIGN_OR_RETURN(user.sealed_secret,
                              keys_.Seal(kPurpose, AsBytes(secret_key), AsBytes(access_key)));
  STRONGROOM_RETURN_IF_ERROR(catalog_.AddUser(user));
  return NewUser{access_key, secret_key};
}

Result<std::vector<catalog::User>> UserDirectory::List() { return catalog_.ListUsers(); }

Result<void> UserDirectory::Remove(const std::string& access_key) {
  return catalog_.RemoveUser(access_key);
}

Result<crypto::SecretBytes> UserDirectory::Secret(std::string_view access_key) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::User user, catalog_.GetUser(access_key));
  return keys_.Unseal(kPurpose, user.sealed_secret, AsBytes(access_key));
}

Result<bool> UserDirectory::IsAdmin(std::string_view access_key) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::User user, catalog_.GetUser(access_key));
  return user.admin;
}

}  // namespace strongroom::s3
