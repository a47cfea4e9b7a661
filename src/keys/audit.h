// SPDX-License-Identifier: Apache-2.0
#pragma once

// The key audit trail: one event per use of a key — a DEK wrapped or
// unwrapped for an object, a KMS key created, enabled, disabled, granted,
// revoked, rotated or destroyed, the key ring unsealed (or a try that
// failed). Who, which key and version, which object, what happened.
//
// An event never holds key material, passphrases, shares, SSE-C keys or
// anything derived from them: only names and ids that are public in the
// catalog anyway. The file implementation (keys/audit/) writes JSON lines.
//
// Failing closed: a sink that cannot record returns an error, and callers
// that use a key on someone's behalf (objects/) fail the request rather
// than use a key without a trace.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace strongroom::keys {

// AuditEvent::operation values.
namespace audit_op {
inline constexpr char kWrap[] = "wrap";          // a new DEK wrapped (object or upload write)
inline constexpr char kUnwrap[] = "unwrap";      // a stored DEK unwrapped (read, part, complete)
inline constexpr char kUnseal[] = "unseal";      // the key ring unsealed (or a failed try)
inline constexpr char kUnsealShare[] = "unseal.share";  // one Shamir share offered
inline constexpr char kInit[] = "init";          // a keyring created
inline constexpr char kKeyCreate[] = "key.create";
inline constexpr char kKeyEnable[] = "key.enable";
inline constexpr char kKeyDisable[] = "key.disable";
inline constexpr char kKeyGrant[] = "key.grant";
inline constexpr char kKeyRevoke[] = "key.revoke";
inline constexpr char kKeyAlias[] = "key.alias";
inline constexpr char kKeyRotate[] = "key.rotate";
inline constexpr char kKeyDestroy[] = "key.destroy";
}  // namespace audit_op

struct AuditEvent {
  int64_t time_ms = 0;        // milliseconds since the epoch; 0: the sink stamps the time
  std::string operation;      // audit_op::…
  bool ok = true;             // the operation succeeded
  std::string error;          // on failure: the reason (e.g. "AccessDenied") or a short message
  std::string access_key;     // the S3 caller, if any
  std::string actor;          // who ran an admin command ("local:<user>") or "server"
  std::string key_id;         // KMS key id, "sse-s3", or empty (SSE-C, root key)
  uint32_t key_version = 0;   // 0: not applicable or unknown
  std::string bucket;
  std::string object;
  std::string request;        // the S3 operation, e.g. "PutObject"
  std::string mode;           // "SSE-S3", "SSE-KMS", "SSE-C"
  std::string method;         // unseal: "passphrase", "shamir", "dev"
  // Further string fields, e.g. {"grantee", "AKIA…"}, {"received", "2"}.
  std::vector<std::pair<std::string, std::string>> details;
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Appends one event, durably ordered with other writers. Thread-safe.
  // kUnavailable if the event could not be recorded.
  virtual Result<void> Record(const AuditEvent& event) = 0;
};

}  // namespace strongroom::keys
