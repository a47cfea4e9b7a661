// SPDX-License-Identifier: Apache-2.0
#pragma once

// Key maintenance of stored objects (issue #5): rewrap and re-encryption.
//
// Rewrap moves an object's (or a multipart upload's) data key to the
// current version of its KMS key without touching data: the DEK is unwrapped
// with the old version's KEK and wrapped under the current one with the same
// object id, binding and context (FORMAT.md §6); manifest, sealed attributes
// and blobs stay byte for byte. The catalog update is conditional on the
// object id and the envelope it read, so a concurrent overwrite or
// copy-in-place always wins (the rewrap of that object is just skipped).
//
// Re-encryption rewrites an object under a fresh DEK and object id through
// ObjectStore::Reencrypt, with its mode, KMS key, context, content headers,
// user metadata, checksums, owner and last-modified time, and with its ETag
// byte for byte and its part layout (a multipart object keeps its part
// count, part sizes and part-number reads), so objects of any size can be
// re-encrypted and sync tools that compare ETags see no change. The
// replacement is conditional as above (ReplaceCondition); no multipart
// upload is ever visible.
//
// SSE-C objects are skipped by both: the server holds nothing to unwrap them
// with. Objects under keys of other providers are skipped too.
//
// Thread-safe (no state of its own); every call may block.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "catalog/catalog.h"
#include "keys/audit.h"
#include "keys/key_ring.h"
#include "objects/object_store.h"

namespace strongroom::objects {

// What happened to one object or upload.
enum class MaintenanceOutcome {
  kDone,             // rewrapped / re-encrypted
  kAlreadyCurrent,   // rewrap: already under its key's current version
  kSkipped,          // SSE-C, or a key provider that cannot be rewrapped here
  kChanged,          // overwritten, copied in place or deleted meanwhile: left alone
};
const char* MaintenanceOutcomeName(MaintenanceOutcome outcome);

// Called with the plaintext bytes a re-encryption has read so far (a chunk
// at a time); an error aborts the object (nothing is replaced). Throttling
// and cancellation hook in here.
using BytesCallback = std::function<Result<void>(size_t bytes)>;

// Totals of RewrapKey.
struct RewrapSummary {
  uint64_t objects_rewrapped = 0;
  uint64_t objects_changed = 0;   // skipped because a client changed them meanwhile
  uint64_t uploads_rewrapped = 0;
  uint64_t uploads_changed = 0;
};

class KeyMaintenance {
 public:
  // `store` must be the ObjectStore over the same catalog and key ring.
  // `audit` may be null.
  KeyMaintenance(catalog::Catalog& catalog, keys::KeyRing& keys, ObjectStore& store,
                 keys::AuditSink* audit = nullptr);

  // The catalog scan of the objects of `key_id` (canonical id or
  // keys::kSseS3KeyId) whose kek_ref is not its `current_version`.
  static catalog::ObjectScanRequest RewrapScan(std::string_view key_id, uint32_t current_version);
  // The kek_ref prefix of every version of `key_id`: "strongroom:<id>/".
  static std::string KekRefPrefix(std::string_view key_id);

  // Rewraps one object to the current version of its key. Errors: the key
  // ring's (sealed, key disabled/pending/destroyed, not found); kDataLoss if
  // the stored envelope does not open under a key we hold or disagrees with
  // the stored encryption facts.
  Result<MaintenanceOutcome> RewrapObject(const catalog::ObjectKeyRecord& record);
  // The same for a multipart upload in progress (its parts keep their DEK).
  Result<MaintenanceOutcome> RewrapUpload(const catalog::Upload& upload);
  // Whether an upload's envelope names a version of `key_id`.
  static bool UploadUsesKey(const catalog::Upload& upload, std::string_view key_id);

  // Rewraps every object and upload under an older version of `key_id`,
  // page by page. Stops at the first error.
  Result<RewrapSummary> RewrapKey(std::string_view key_id, uint32_t current_version);

  // Re-encrypts the object `record` names (its current version, if it still
  // is the one the record names) under a fresh DEK. `on_bytes` may be empty.
  Result<MaintenanceOutcome> ReencryptObject(const catalog::ObjectKeyRecord& record,
                                             const BytesCallback& on_bytes);

 private:
  catalog::Catalog& catalog_;
  keys::KeyRing& keys_;
  ObjectStore& store_;
  keys::AuditSink* audit_;
};

}  // namespace strongroom::objects
