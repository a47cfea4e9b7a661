// SPDX-License-Identifier: Apache-2.0
#pragma once

// KeyProvider on a TPM 2.0 (tss2-esys), for unattended unseal of the root
// key and for TPM-backed KMS keys. See src/keys/tpm/README.md for the design,
// the measured costs and how to run it against swtpm.
//
// Keys. A key is a primary storage key under the owner hierarchy, recreated
// on every call from a fixed template (ECC NIST P-256, AES-128-CFB,
// restricted|decrypt|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth,
// nameAlg SHA-256 — the template of `tpm2_createprimary -C o -g sha256
// -G ecc256:aes128cfb`). The TPM derives it from its owner seed, so nothing
// is stored in the TPM and nothing needs persistence. A key name says which
// template, and which PCRs sealed data must match:
//
//   name   = "primary-ecc-p256" [ "/" label ] [ "+pcr:" bank ":" pcrs ]
//   label  = 1..64 of [A-Za-z0-9._-]      (distinct labels, distinct primaries:
//            unique.ecc.x = SHA-256("strongroom/tpm/v1/label" ‖ 0x00 ‖ label);
//            no label = empty unique, the tpm2-tools default)
//   bank   = "sha1" | "sha256" | "sha384" | "sha512"
//   pcrs   = ascending, distinct decimal indices 0..23 joined by ","
//
// for example "primary-ecc-p256", "primary-ecc-p256/root" or
// "primary-ecc-p256/root+pcr:sha256:0,2,4,7". A string that does not follow
// the grammar names no key (kNotFound).
//
// Wrapped blobs (self-contained; nothing else is stored anywhere):
//
//   wrapped = 0x01 ‖ TPM2B_PUBLIC ‖ TPM2B_PRIVATE ‖ box        (TPM2B_* marshalled as by
//                                                               Tss2_MU, as tpm2-tools writes them)
//   The TPM2B pair is a sealed data object (keyedhash, fixedTPM|fixedParent|
//   noDA; userWithAuth with an empty auth value, or for "+pcr" keys no
//   userWithAuth and authPolicy = TPM2_PolicyPCR over the PCR values at wrap
//   time) created with TPM2_Create under the key's primary. It holds a
//   fresh random 32-byte key K. box = crypto::SealBox(K, "tpm-provider-wrap",
//   plaintext, box_aad) with
//   box_aad = BE32 |name| ‖ name ‖ BE32 |header| ‖ header ‖ aad,
//   header  = 0x01 ‖ TPM2B_PUBLIC ‖ TPM2B_PRIVATE.
//   So the AAD (and the key name and the TPM object) is bound by AES-256-GCM:
//   a wrong AAD fails the tag check (constant time) → kDataLoss, and
//   plaintexts up to the interface's 4 KiB fit (a sealed data object alone
//   holds at most 128 bytes).
//
// Unwrap = TPM2_Load under the recreated primary + TPM2_Unseal (after
// TPM2_PolicyPCR in a policy session for "+pcr" keys) + OpenBox. A blob that
// does not parse, does not load (TPM integrity check: another TPM, another
// key, modified bytes) or does not open → kDataLoss; PCR values that changed
// since the wrap → kPermissionDenied (TPM_RC_POLICY_FAIL).
//
// Every command that carries a secret (TPM2_Create's inSensitive,
// TPM2_Unseal's outData) runs in a session salted with the primary key and
// with AES-128-CFB parameter encryption, so K never crosses the TCTI in
// clear. (TPM2_Load carries only the private area, already encrypted to the
// primary; it uses a password session with the primary's empty auth.)
//
// CreateKey checks that the TPM creates the primary (and has the PCR bank)
// and returns the name; it is idempotent: the same label gives the same name
// and the same key, never kAlreadyExists (the TPM keeps no per-key state).
// DestroyKey cannot destroy a primary key: the TPM re-derives it from the
// owner seed whenever asked. It returns kUnimplemented with the two ways to
// really destroy: delete every blob wrapped under the key, or clear the
// owner hierarchy (TPM2_Clear), which destroys every owner key at once.
//
// Transport and concurrency. The "swtpm:" TCTI is served by our own
// deadline-bounded TCP transport (swtpm_transport.h), one connection per TPM
// command like tss2's; every other TCTI string goes to Tss2_TctiLdr (e.g.
// "device:/dev/tpmrm0"; the kernel driver bounds a command's time). An ESAPI
// context is opened per call and closed before it returns, so the provider
// never holds the TPM between calls (swtpm serves one connection at a time
// and a held connection blocks every other client). Calls are serialised:
// swtpm has 3 transient object slots and no resource manager; each call
// flushes every object and session it created before it returns. A call
// waits at most `timeout` in total (lock included); past it, kUnavailable.
//
// Thread-safe.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "keys/key_provider.h"

namespace strongroom::keys {

struct TpmOptions {
  // TCTI configuration string. "swtpm:host=H,port=P" (host defaults to
  // 127.0.0.1, port to 2321) uses the built-in deadline-bounded transport;
  // anything else is passed to Tss2_TctiLdr_Initialize.
  std::string tcti = "device:/dev/tpmrm0";
  // Upper bound on one provider call, waiting for other calls included.
  std::chrono::milliseconds timeout{5000};
  // File holding the owner hierarchy's authorization value (raw bytes, a
  // trailing newline is dropped). Empty path: empty authorization, the state
  // of a fresh TPM. A non-empty value is proved with an HMAC session, never
  // sent in clear.
  std::string owner_auth_file;
  // PCR selection CreateKey adds when its label names none, e.g.
  // "sha256:7" (same syntax as after "+pcr:"). Empty: none.
  std::string default_pcrs;
};

// A parsed key name (the grammar above).
struct TpmKeyName {
  std::string label;          // empty: the unlabelled default primary
  uint16_t pcr_bank = 0;      // TPM2_ALG_ID; 0 when no PCR policy
  uint32_t pcr_mask = 0;      // bit i = PCR i
  bool has_pcr_policy() const { return pcr_mask != 0; }
  // The canonical text form.
  std::string ToString() const;
};

// kNotFound unless `name` follows the grammar exactly (canonical form).
Result<TpmKeyName> ParseTpmKeyName(std::string_view name);
// Parses "bank:i,j,..." (any order, no duplicates) into bank and mask.
// kInvalidArgument on malformed input.
Result<void> ParsePcrSelection(std::string_view text, TpmKeyName& out);

class TpmProvider : public KeyProvider {
 public:
  static constexpr size_t kMaxPlaintext = 4096;
  static constexpr uint8_t kBlobVersion = 1;

  // Validates the options (TCTI string, owner auth file, default PCRs); does
  // not contact the TPM. kInvalidArgument on bad options.
  static Result<std::unique_ptr<TpmProvider>> Create(TpmOptions options);
  ~TpmProvider() override;

  std::string_view id() const override { return "tpm"; }
  Result<std::string> CreateKey(std::string_view label) override;
  Result<Bytes> Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) override;
  Result<crypto::SecretBytes> Unwrap(std::string_view key_name, ByteView wrapped,
                                     ByteView aad) override;
  // kNotFound for a malformed name, else kUnimplemented (see above).
  Result<void> DestroyKey(std::string_view key_name) override;
  // TPM2_GetCapability(TPM_PROPERTIES, TPM2_PT_MANUFACTURER).
  Result<void> HealthCheck() override;

 private:
  class Session;  // one call's connection + ESAPI context (tpm_provider.cc)

  TpmProvider(TpmOptions options, crypto::SecretBytes owner_auth, std::string host,
              uint16_t port, bool swtpm);

  // Takes the call lock and opens a connection, both before `deadline`.
  Result<std::unique_ptr<Session>> Open(std::unique_lock<std::timed_mutex>& lock,
                                        std::chrono::steady_clock::time_point deadline);

  const TpmOptions options_;
  const crypto::SecretBytes owner_auth_;
  const std::string swtpm_host_;
  const uint16_t swtpm_port_;
  const bool use_swtpm_transport_;
  std::timed_mutex call_mutex_;
};

}  // namespace strongroom::keys
