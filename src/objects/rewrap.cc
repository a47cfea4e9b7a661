// SPDX-License-Identifier: Apache-2.0
// KeyMaintenance (key_maintenance.h): rewrap of envelopes to the current KEK
// version, and re-encryption of objects under fresh data keys.

#include <algorithm>
#include <utility>

#include "format/envelope.h"
#include "keys/key_directory.h"
#include "objects/encryption_facts.h"
#include "objects/key_maintenance.h"

namespace strongroom::objects {
namespace {

constexpr size_t kPage = 256;

// What rewrapping one envelope gave.
struct EnvelopeRewrap {
  MaintenanceOutcome outcome = MaintenanceOutcome::kDone;
  Bytes envelope;        // kDone: the new envelope
  std::string kek_ref;   // kDone: its catalog kek_ref
  std::string key_id;
  uint32_t old_version = 0;
  uint32_t new_version = 0;
  SseMode mode = SseMode::kS3;
};

const char* ModeName(SseMode mode) {
  switch (mode) {
    case SseMode::kS3: return "SSE-S3";
    case SseMode::kKms: return "SSE-KMS";
    case SseMode::kCustomer: return "SSE-C";
  }
  return "";
}

// Records a key use by the server's maintenance. A use that succeeded but
// cannot be recorded fails (no key is used without a trace).
Result<void> Audit(keys::AuditSink* audit, const char* operation, const char* request,
                   const EnvelopeRewrap& rewrap, uint32_t version, std::string_view bucket,
                   std::string_view key, const Error* error) {
  if (audit == nullptr) return Ok();
  keys::AuditEvent event;
  event.operation = operation;
  event.ok = error == nullptr;
  if (error != nullptr) {
    event.error = error->reason().empty() ? error->message()
                                          : error->reason() + ": " + error->message();
  }
  event.actor = "server";
  event.key_id = rewrap.key_id;
  event.key_version = version;
  event.bucket = std::string(bucket);
  event.object = std::string(key);
  event.request = request;
  event.mode = ModeName(rewrap.mode);
  auto recorded = audit->Record(event);
  if (!recorded && error == nullptr) {
    return tl::unexpected(Error(ErrorCode::kUnavailable,
                                "the key use could not be audited: " + recorded.error().message())
                              .WithReason("ServiceUnavailable"));
  }
  return Ok();
}

// Unwraps `envelope_bytes` with the KEK it names and wraps the DEK under the
// current version of the same key, same object id, binding and context.
Result<EnvelopeRewrap> Rewrap(keys::KeyRing& keys, keys::AuditSink* audit, const char* request,
                              ByteView envelope_bytes, ByteView encryption,
                              ByteView object_id_bytes, const format::Binding& binding) {
  EnvelopeRewrap out;
  STRONGROOM_ASSIGN_OR_RETURN(StoredEncryption stored, DecodeStoredEncryption(encryption));
  out.mode = stored.facts.mode;
  if (stored.facts.mode == SseMode::kCustomer) {
    out.outcome = MaintenanceOutcome::kSkipped;
    return out;
  }
  auto parsed = format::ParseEnvelope(envelope_bytes);
  if (!parsed) {
    return DataLoss("the stored envelope is malformed: " + parsed.error().message());
  }
  const format::Envelope& envelope = *parsed;
  if (envelope.scheme != format::WrapScheme::kLocalKek ||
      envelope.provider_id != keys::kRootProvider) {
    out.outcome = MaintenanceOutcome::kSkipped;  // another provider's envelope
    return out;
  }
  if (object_id_bytes.size() != format::kObjectIdSize) {
    return DataLoss("malformed object id");
  }
  format::ObjectId object_id{};
  std::copy_n(object_id_bytes.begin(), object_id.size(), object_id.begin());
  const bool kms = stored.facts.mode == SseMode::kKms;
  out.key_id = kms ? stored.facts.kms_key_id : std::string(keys::kSseS3KeyId);
  ByteView context = kms ? AsBytes(stored.facts.kms_context) : ByteView();

  auto old_kek = keys.FindKek(envelope.provider_id, envelope.key_id);
  if (!old_kek) {
    (void)Audit(audit, keys::audit_op::kUnwrap, request, out, 0, binding.bucket, binding.object_key,
                &old_kek.error());
    return tl::unexpected(old_kek.error());
  }
  if (old_kek->key_id != out.key_id) {
    return DataLoss("the stored envelope names another key than the stored encryption facts");
  }
  out.old_version = old_kek->version;
  STRONGROOM_ASSIGN_OR_RETURN(keys::Kek current, keys.CurrentKek(old_kek->key_id));
  out.new_version = current.version;
  if (current.version == old_kek->version) {
    out.outcome = MaintenanceOutcome::kAlreadyCurrent;
    return out;
  }
  auto dek = format::UnwrapDek(envelope, old_kek->material->reveal(), object_id, binding, context);
  if (!dek) {
    // A key we hold does not open it: the stored metadata is corrupt.
    Error error = DataLoss("the data key does not unwrap: " + dek.error().message()).value();
    (void)Audit(audit, keys::audit_op::kUnwrap, request, out, out.old_version, binding.bucket,
                binding.object_key, &error);
    return tl::unexpected(error);
  }
  STRONGROOM_RETURN_IF_ERROR(Audit(audit, keys::audit_op::kUnwrap, request, out, out.old_version,
                                   binding.bucket, binding.object_key, nullptr));
  STRONGROOM_ASSIGN_OR_RETURN(
      format::Envelope rewrapped,
      format::WrapDek(format::WrapScheme::kLocalKek, current.provider_id, current.key_ref,
                      current.material->reveal(), dek->reveal(), object_id, binding, context));
  STRONGROOM_ASSIGN_OR_RETURN(out.envelope, format::SerializeEnvelope(rewrapped));
  STRONGROOM_RETURN_IF_ERROR(Audit(audit, keys::audit_op::kWrap, request, out, out.new_version,
                                   binding.bucket, binding.object_key, nullptr));
  out.kek_ref = current.provider_id + ":" + current.key_ref;
  return out;
}

}  // namespace

const char* MaintenanceOutcomeName(MaintenanceOutcome outcome) {
  switch (outcome) {
    case MaintenanceOutcome::kDone: return "done";
    case MaintenanceOutcome::kAlreadyCurrent: return "already current";
    case MaintenanceOutcome::kSkipped: return "skipped";
    case MaintenanceOutcome::kChanged: return "changed meanwhile";
  }
  return "";
}

KeyMaintenance::KeyMaintenance(catalog::Catalog& catalog, keys::KeyRing& keys, ObjectStore& store,
                               keys::AuditSink* audit)
    : catalog_(catalog), keys_(keys), store_(store), audit_(audit) {}

std::string KeyMaintenance::KekRefPrefix(std::string_view key_id) {
  return std::string(keys::kRootProvider) + ":" + std::string(key_id) + "/";
}

catalog::ObjectScanRequest KeyMaintenance::RewrapScan(std::string_view key_id,
                                                      uint32_t current_version) {
  catalog::ObjectScanRequest scan;
  scan.kek_ref_prefix = KekRefPrefix(key_id);
  scan.exclude_kek_ref = *scan.kek_ref_prefix + std::to_string(current_version);
  scan.limit = kPage;
  return scan;
}

bool KeyMaintenance::UploadUsesKey(const catalog::Upload& upload, std::string_view key_id) {
  auto envelope = format::ParseEnvelope(upload.envelope);
  if (!envelope || envelope->provider_id != keys::kRootProvider) return false;
  std::string_view ref = envelope->key_id;
  return ref.size() > key_id.size() + 1 && ref.starts_with(key_id) && ref[key_id.size()] == '/';
}

Result<MaintenanceOutcome> KeyMaintenance::RewrapObject(const catalog::ObjectKeyRecord& record) {
  if (record.kek_ref.empty()) return MaintenanceOutcome::kSkipped;  // SSE-C
  STRONGROOM_ASSIGN_OR_RETURN(
      EnvelopeRewrap rewrap,
      Rewrap(keys_, audit_, "Rewrap", record.envelope, record.encryption, record.object_id,
             format::Binding{record.bucket, record.key}));
  if (rewrap.outcome != MaintenanceOutcome::kDone) return rewrap.outcome;
  auto updated = catalog_.UpdateEnvelope(record.bucket, record.key, record.object_id,
                                         record.envelope, rewrap.envelope, rewrap.kek_ref);
  if (!updated) {
    ErrorCode code = updated.error().code();
    if (code == ErrorCode::kFailedPrecondition || code == ErrorCode::kNotFound) {
      return MaintenanceOutcome::kChanged;
    }
    return tl::unexpected(updated.error());
  }
  return MaintenanceOutcome::kDone;
}

Result<MaintenanceOutcome> KeyMaintenance::RewrapUpload(const catalog::Upload& upload) {
  STRONGROOM_ASSIGN_OR_RETURN(
      EnvelopeRewrap rewrap,
      Rewrap(keys_, audit_, "RewrapUpload", upload.envelope, upload.encryption, upload.object_id,
             format::Binding{upload.bucket, upload.key}));
  if (rewrap.outcome != MaintenanceOutcome::kDone) return rewrap.outcome;
  auto updated = catalog_.UpdateUploadEnvelope(upload.upload_id, upload.envelope, rewrap.envelope);
  if (!updated) {
    ErrorCode code = updated.error().code();
    if (code == ErrorCode::kFailedPrecondition || code == ErrorCode::kNotFound) {
      return MaintenanceOutcome::kChanged;
    }
    return tl::unexpected(updated.error());
  }
  return MaintenanceOutcome::kDone;
}

Result<RewrapSummary> KeyMaintenance::RewrapKey(std::string_view key_id,
                                                uint32_t current_version) {
  RewrapSummary summary;
  catalog::ObjectScanRequest scan = RewrapScan(key_id, current_version);
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::ObjectKeyRecord> page,
                                catalog_.ScanObjects(scan));
    for (const catalog::ObjectKeyRecord& record : page) {
      STRONGROOM_ASSIGN_OR_RETURN(MaintenanceOutcome outcome, RewrapObject(record));
      if (outcome == MaintenanceOutcome::kDone) ++summary.objects_rewrapped;
      if (outcome == MaintenanceOutcome::kChanged) ++summary.objects_changed;
    }
    if (page.size() < scan.limit) break;
    scan.after_bucket = page.back().bucket;
    scan.after_key = page.back().key;
  }
  std::string after;
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::Upload> page,
                                catalog_.ScanUploads(after, kPage));
    for (const catalog::Upload& upload : page) {
      if (!UploadUsesKey(upload, key_id)) continue;
      STRONGROOM_ASSIGN_OR_RETURN(MaintenanceOutcome outcome, RewrapUpload(upload));
      if (outcome == MaintenanceOutcome::kDone) ++summary.uploads_rewrapped;
      if (outcome == MaintenanceOutcome::kChanged) ++summary.uploads_changed;
    }
    if (page.size() < kPage) break;
    after = page.back().upload_id;
  }
  return summary;
}

Result<MaintenanceOutcome> KeyMaintenance::ReencryptObject(const catalog::ObjectKeyRecord& record,
                                                           const BytesCallback& on_bytes) {
  // The condition is read before the data: whatever version the reader then
  // opens, the replacement only lands over the version read here, so a
  // client's newer write or copy-in-place always survives.
  auto current = catalog_.GetObject(record.bucket, record.key);
  if (!current) {
    if (current.error().code() == ErrorCode::kNotFound) return MaintenanceOutcome::kChanged;
    return tl::unexpected(current.error());
  }
  if (current->object_id != record.object_id) {
    return MaintenanceOutcome::kChanged;  // rewritten meanwhile, under a fresh DEK already
  }
  STRONGROOM_ASSIGN_OR_RETURN(StoredEncryption stored, DecodeStoredEncryption(current->encryption));
  if (stored.facts.mode == SseMode::kCustomer) return MaintenanceOutcome::kSkipped;
  auto reader = store_.OpenObject(record.bucket, record.key, ReadAccess{});
  if (!reader) {
    if (reader.error().code() == ErrorCode::kNotFound &&
        reader.error().reason() == "NoSuchKey") {
      return MaintenanceOutcome::kChanged;
    }
    // Replaced meanwhile (say by an SSE-C write, which cannot be opened
    // here): the object this job was asked about is gone, not broken.
    auto now = catalog_.GetObject(record.bucket, record.key);
    if ((!now && now.error().code() == ErrorCode::kNotFound) ||
        (now && (now->object_id != current->object_id || now->envelope != current->envelope))) {
      return MaintenanceOutcome::kChanged;
    }
    return tl::unexpected(reader.error());
  }
  auto written = store_.Reencrypt(
      **reader,
      ReplaceCondition{current->object_id, current->envelope, current->last_modified_ms},
      on_bytes);
  if (!written) {
    if (written.error().reason() == "OperationAborted") return MaintenanceOutcome::kChanged;
    return tl::unexpected(written.error());
  }
  return MaintenanceOutcome::kDone;
}

}  // namespace strongroom::objects
