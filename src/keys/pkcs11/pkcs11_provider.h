// SPDX-License-Identifier: Apache-2.0
#pragma once

// A KeyProvider over any PKCS#11 module (an HSM, a smart card, SoftHSM2).
//
// The module is dlopen()ed, never linked: any path to a shared object that
// exports C_GetFunctionList works. The token is selected by its label (slot
// ids are not stable: SoftHSM renumbers a slot when a token is initialised)
// and the session is logged in as CKU_USER with the configured PIN.
//
// Keys are token objects: AES-256, CKA_SENSITIVE, not CKA_EXTRACTABLE, usable
// only for CKA_ENCRYPT/CKA_DECRYPT, found by CKA_LABEL. A key's handle name is
// its label. Wrap is CKM_AES_GCM through C_Encrypt with a random 96-bit IV and
// a 128-bit tag (C_WrapKey cannot take GCM on SoftHSM 2.6.1, and wrapping
// through C_Encrypt also covers secrets that are not token keys):
//
//   wrapped = 0x01 (format version) || IV (12) || ciphertext || tag (16)
//   GCM AAD = 0x01 || caller's AAD
//
// Errors (see keys/key_provider.h):
//   kUnavailable      module cannot be loaded or initialised; token not present;
//                     CKR_DEVICE_*, CKR_TOKEN_NOT_PRESENT, lost sessions that a
//                     reconnect could not restore (reason "ServiceUnavailable")
//   kPermissionDenied CKR_PIN_INCORRECT / PIN locked / key function not permitted.
//                     A rejected PIN is remembered: the provider does not try it
//                     again (every try could count toward the token's lockout)
//   kNotFound         no secret key with that label on the token
//   kAlreadyExists    CreateKey with a label that is taken
//   kDataLoss         the blob is malformed or fails authentication (SoftHSM
//                     reports a bad tag as CKR_GENERAL_ERROR, mapped here)
//   kFailedPrecondition two tokens or two keys share the label
//   kInvalidArgument  empty or oversized plaintext, bad label
//
// Sessions: a small pool (at most `max_sessions`, each used by one call at a
// time). A call that finds its session lost (CKR_SESSION_HANDLE_INVALID,
// CKR_DEVICE_*, CKR_GENERAL_ERROR, token removed, logged out) drops the pool,
// finds the token by label again, logs in again and retries once. If the
// token still cannot be found, the module is finalised and initialised again
// (at most once a second per module; SoftHSM2 only rescans its token store in
// C_Initialize) and the call tried a last time. So the provider recovers by
// itself when the token comes back, and while it is away every call fails
// kUnavailable within a few module calls: never kNotFound or kDataLoss (a
// missing key or a bad tag is only reported after C_GetTokenInfo confirms
// the token still answers). A call waits at most `session_wait` for a free
// session, then fails kUnavailable. The PKCS#11 calls themselves are bounded
// only by the module (SoftHSM is in-process and does not block).
//
// The module is initialised once per process (C_Initialize with
// CKF_OS_LOCKING_OK) and shared by every provider that names the same file;
// the last one to close finalises it. A reload triggered by one provider
// drops the sessions of the others on that module, which reconnect on their
// next call without failing it. If something else in the process had
// initialised the module already, the provider never finalises or reloads
// it. Thread-safe.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "keys/key_provider.h"

namespace strongroom::keys {

struct Pkcs11Options {
  // Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so.
  std::string module_path;
  // CKA_LABEL of the token (CK_TOKEN_INFO.label without the blank padding).
  std::string token_label;
  // The CKU_USER PIN: either given here, or read from `pin_file` (for
  // unattended start; see ReadPkcs11PinFile). Exactly one of them is set.
  crypto::SecretBytes pin;
  std::string pin_file;
  // Upper bound on open sessions; each serves one call at a time.
  size_t max_sessions = 4;
  // How long a call waits for a free session before failing kUnavailable.
  std::chrono::milliseconds session_wait{2000};
};

// Reads a PIN file: a regular file of mode 0600 or stricter (else
// kFailedPrecondition) holding the PIN, 1 to 256 bytes, optionally followed
// by one newline. kNotFound / kPermissionDenied as the file system says.
Result<crypto::SecretBytes> ReadPkcs11PinFile(const std::string& path);

class Pkcs11Provider final : public KeyProvider {
 public:
  // Loads and initialises the module, finds the token and logs in, so a
  // wrong path, label or PIN fails here rather than at first use.
  static Result<std::unique_ptr<Pkcs11Provider>> Open(Pkcs11Options options);

  ~Pkcs11Provider() override;
  Pkcs11Provider(const Pkcs11Provider&) = delete;
  Pkcs11Provider& operator=(const Pkcs11Provider&) = delete;

  std::string_view id() const override { return "pkcs11"; }
  Result<std::string> CreateKey(std::string_view label) override;
  Result<Bytes> Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) override;
  Result<crypto::SecretBytes> Unwrap(std::string_view key_name, ByteView wrapped,
                                     ByteView aad) override;
  Result<void> DestroyKey(std::string_view key_name) override;
  // C_GetSessionInfo (session alive and logged in) and C_GetTokenInfo (token
  // present, label unchanged).
  Result<void> HealthCheck() override;

  // What the token says about a key's protection, for status reports and
  // tests: the flags as stored, and whether asking for CKA_VALUE was refused
  // (it must be: a sensitive, non-extractable key never leaves the token).
  struct KeyProtection {
    bool sensitive = false;
    bool extractable = true;
    bool always_sensitive = false;
    bool never_extractable = false;
    bool value_readable = true;        // C_GetAttributeValue(CKA_VALUE) succeeded
    unsigned long value_read_rv = 0;   // its CK_RV (CKR_ATTRIBUTE_SENSITIVE = 0x11)
    unsigned long value_len = 0;       // CKA_VALUE_LEN
  };
  Result<KeyProtection> InspectKey(std::string_view key_name);

 private:
  struct Impl;
  explicit Pkcs11Provider(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strongroom::keys
