// SPDX-License-Identifier: Apache-2.0
#include "objects/object_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <set>

#include "base/clock.h"
#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "crypto/secret_bytes.h"
#include "format/envelope.h"
#include "format/manifest.h"
#include "format/object_metadata.h"
#include "format/object_reader.h"
#include "format/stream.h"
#include "keys/key_directory.h"
#include "objects/blob_leases.h"
#include "objects/encryption_facts.h"

namespace strongroom::objects {
namespace {

tl::unexpected<Error> S3Error(ErrorCode code, std::string reason, std::string message) {
  return tl::unexpected(Error(code, std::move(message)).WithReason(std::move(reason)));
}

format::ObjectId ToObjectId(ByteView bytes) {
  format::ObjectId id{};
  std::copy_n(bytes.begin(), std::min(bytes.size(), id.size()), id.begin());
  return id;
}

std::string StripQuotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

// Blob names: "o/<object id>" for a whole object, and
// "p/<object id>/<part>-<attempt>" for each upload attempt of a part.
std::string ObjectBlobName(const format::ObjectId& id) { return "o/" + HexEncode(id); }

Result<std::string> PartBlobName(ByteView object_id, uint32_t part_number) {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes attempt, crypto::RandomBytes(8));
  return "p/" + HexEncode(object_id) + "/" + std::to_string(part_number) + "-" +
         HexEncode(attempt);
}

// StreamInfo of a part as stored in the catalog: salt ‖ commitment.
Bytes EncodeStreamInfo(const format::StreamInfo& info) {
  Bytes out(info.salt.begin(), info.salt.end());
  Append(out, info.commitment);
  return out;
}

Result<format::StreamInfo> DecodeStreamInfo(const catalog::Part& part) {
  format::StreamInfo info;
  if (part.stream_info.size() != info.salt.size() + info.commitment.size()) {
    return DataLoss("part " + std::to_string(part.part_number) + " has a corrupt stream record");
  }
  info.part_number = part.part_number;
  info.plaintext_size = part.size;
  std::copy_n(part.stream_info.begin(), info.salt.size(), info.salt.begin());
  std::copy_n(part.stream_info.begin() + info.salt.size(), info.commitment.size(),
              info.commitment.begin());
  return info;
}

struct EncryptedBody {
  format::StreamInfo stream;
  Bytes md5;
  std::optional<std::pair<std::string, std::string>> checksum;  // header, base64 value
};

// Streams `body` through the format into `blob`, computing MD5 and the
// requested checksum, and checks them once the body has ended. Nothing is
// committed here.
Result<EncryptedBody> EncryptBody(ByteView dek, const format::ObjectId& object_id,
                                  uint32_t part_number, ByteSource& body, const BodyChecks& checks,
                                  storage::BlobWriter& blob) {
  STRONGROOM_ASSIGN_OR_RETURN(auto writer,
                              format::StreamWriter::Create(dek, object_id, part_number, blob));
  STRONGROOM_ASSIGN_OR_RETURN(auto md5, crypto::Digest::Create(crypto::Digest::Algorithm::kMd5));
  std::unique_ptr<aws::Checksum> checksum;
  if (checks.checksum_algorithm) {
    STRONGROOM_ASSIGN_OR_RETURN(checksum, aws::Checksum::Create(*checks.checksum_algorithm));
  }
  // MD5 (the S3 ETag) costs more CPU than encrypting: it runs on a second
  // thread over buffer i while this thread encrypts and writes buffer i and
  // then reads buffer i+1 into the other half of the double buffer.
  constexpr size_t kBuffer = 1 << 20;
  constexpr size_t kParallelFrom = 256 << 10;
  // Uninitialised, so a small body touches one page of each, not 1 MiB.
  Buffer buffers[2] = {Buffer(kBuffer), Buffer(kBuffer)};
  std::future<Result<void>> md5_job;
  uint64_t total = 0;
  for (int current = 0;; current ^= 1) {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, ReadFull(body, buffers[current].view()));
    if (n == 0) {
      break;
    }
    total += n;
    if (total > kMaxObjectSize) {
      return S3Error(ErrorCode::kInvalidArgument, "EntityTooLarge",
                     "Your proposed upload exceeds the maximum allowed size");
    }
    ByteView chunk = std::as_const(buffers[current]).view().first(n);
    if (md5_job.valid()) {
      STRONGROOM_RETURN_IF_ERROR(md5_job.get());
    }
    if (n >= kParallelFrom) {
      md5_job = std::async(std::launch::async, [&md5, chunk] { return md5->Update(chunk); });
    } else {
      STRONGROOM_RETURN_IF_ERROR(md5->Update(chunk));
    }
    if (checksum) {
      checksum->Update(chunk);
    }
    STRONGROOM_RETURN_IF_ERROR(writer->Write(chunk));
    if (n < kBuffer) {
      break;  // ReadFull stops short only at the end of the body
    }
  }
  if (md5_job.valid()) {
    STRONGROOM_RETURN_IF_ERROR(md5_job.get());
  }
  EncryptedBody out;
  STRONGROOM_ASSIGN_OR_RETURN(out.md5, md5->Finish());
  if (checks.content_md5 && !crypto::ConstantTimeEquals(*checks.content_md5, out.md5)) {
    return S3Error(ErrorCode::kInvalidArgument, "BadDigest",
                   "The Content-MD5 you specified did not match what we received.");
  }
  if (checksum) {
    std::string computed = aws::Base64Encode(checksum->Finish());
    std::string header = aws::ChecksumHeader(*checks.checksum_algorithm);
    std::optional<std::string> expected =
        checks.expected_checksum ? checks.expected_checksum() : std::nullopt;
    if (expected && *expected != computed) {
      return S3Error(ErrorCode::kInvalidArgument, "BadDigest",
                     "The " + std::string(aws::ChecksumName(*checks.checksum_algorithm)) +
                         " you specified did not match the calculated checksum.");
    }
    out.checksum = std::make_pair(header, computed);
  }
  STRONGROOM_ASSIGN_OR_RETURN(out.stream, writer->Finish());
  return out;
}


// ------------------------------------------------------------- encryption

// The sealed MD5 of a single-part object's plaintext: an internal attribute
// entry, never a header (no HTTP header name starts with ':').
constexpr std::string_view kMd5Attribute = ":md5";
// The sealed ETag of a re-encrypted object, whose catalog ETag no longer
// follows from its DEK (FORMAT.md §13.2).
constexpr std::string_view kEtagAttribute = ":etag";
constexpr std::string_view kSseCProvider = "sse-c";
// keys::KeyRing::Seal purpose of an SSE-C upload's manifest key (FORMAT.md §13.3).
constexpr std::string_view kManifestKeyPurpose = "strongroom/v1/manifest-key";

constexpr std::string_view kSseCNoKeyMessage =
    "The object was stored using a form of Server Side Encryption. The correct parameters must "
    "be provided to retrieve the object.";
constexpr std::string_view kSseCNotApplicableMessage =
    "The encryption parameters are not applicable to this object.";
constexpr std::string_view kSseCWrongKeyMessage =
    "Requests specifying Server Side Encryption with Customer provided keys must provide the "
    "correct secret key.";
constexpr std::string_view kSseCPartNoKeyMessage =
    "The multipart upload initiate requested encryption. Subsequent part requests must include "
    "the appropriate encryption parameters.";
constexpr std::string_view kSseCMismatchMessage =
    "The provided encryption parameters did not match the ones used originally.";
constexpr std::string_view kSseCCompleteMessage =
    "The object was stored using a form of Server Side Encryption. Correct SSE-C request "
    "parameters are required for this request when specifying checksums for each part.";

// What the DEK is unwrapped for: the SSE-C errors differ.
enum class KeyUse { kRead, kUploadPart, kComplete };

bool IsEtagFamilyMd5(SseMode mode) { return mode == SseMode::kS3; }

// The ETag of an object or part with plaintext MD5 `md5` (raw bytes).
Result<std::string> EtagFor(SseMode mode, ByteView dek, const format::ObjectId& object_id,
                            ByteView md5) {
  if (IsEtagFamilyMd5(mode)) {
    return HexEncode(md5);
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes derived, format::DeriveEtag(dek, object_id, md5));
  return HexEncode(derived);
}

// The ETag of a multipart object whose parts' plaintext MD5s are `md5s`, in
// part order: the MD5 of the parts' ETags (raw bytes), then "-N".
Result<std::string> MultipartEtagFor(SseMode mode, ByteView dek, const format::ObjectId& object_id,
                                     const std::vector<Bytes>& md5s) {
  STRONGROOM_ASSIGN_OR_RETURN(auto all, crypto::Digest::Create(crypto::Digest::Algorithm::kMd5));
  for (const Bytes& part_md5 : md5s) {
    STRONGROOM_ASSIGN_OR_RETURN(std::string part_etag, EtagFor(mode, dek, object_id, part_md5));
    STRONGROOM_RETURN_IF_ERROR(all->Update(*HexDecode(part_etag)));
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes digest, all->Finish());
  return HexEncode(digest) + "-" + std::to_string(md5s.size());
}

// A DEK wrapped for one write or re-wrap.
struct Wrapped {
  Bytes envelope;
  StoredEncryption stored;
  std::string kek_ref;  // catalog::Object::kek_ref
  std::string key_id;          // the KEK's key id and version (not for SSE-C), for the audit
  uint32_t key_version = 0;
};

Result<Wrapped> WrapFor(keys::KeyRing& keys, const EncryptionRequest& request, ByteView dek,
                        const format::ObjectId& object_id, const format::Binding& binding) {
  Wrapped out;
  out.stored.facts.mode = request.mode;
  out.stored.facts.bucket_key_enabled = request.bucket_key_enabled;
  format::Envelope envelope;
  if (request.mode == SseMode::kCustomer) {
    if (request.customer_key == nullptr || request.customer_key->key.empty()) {
      return InvalidArgument("SSE-C without a customer key");
    }
    STRONGROOM_ASSIGN_OR_RETURN(
        envelope, format::WrapDek(format::WrapScheme::kCustomerKey, std::string(kSseCProvider), "",
                                  request.customer_key->key.reveal(), dek, object_id, binding, {}));
  } else {
    std::string_view key_id = keys::kSseS3KeyId;
    if (request.mode == SseMode::kKms) {
      if (request.kms_key_id.empty()) {
        return InvalidArgument("aws:kms without a KMS key id");
      }
      key_id = request.kms_key_id;
    }
    STRONGROOM_ASSIGN_OR_RETURN(keys::Kek kek, keys.CurrentKek(key_id));
    ByteView context;
    if (request.mode == SseMode::kKms) {
      out.stored.facts.kms_key_id = kek.key_id;
      out.stored.facts.kms_context = request.kms_context;
      context = AsBytes(out.stored.facts.kms_context);
    }
    STRONGROOM_ASSIGN_OR_RETURN(
        envelope, format::WrapDek(format::WrapScheme::kLocalKek, kek.provider_id, kek.key_ref,
                                  kek.material->reveal(), dek, object_id, binding, context));
    out.kek_ref = kek.provider_id + ":" + kek.key_ref;
    out.key_id = kek.key_id;
    out.key_version = kek.version;
  }
  STRONGROOM_ASSIGN_OR_RETURN(out.envelope, format::SerializeEnvelope(envelope));
  return out;
}

// Unwraps a stored envelope for `access`, with AWS's errors for SSE-C, the
// KMS grant check, and kDataLoss for anything that fails authentication
// under a key we hold or disagrees with the stored facts.
Result<crypto::SecretBytes> UnwrapFor(keys::KeyRing& keys, const StoredEncryption& stored,
                                      ByteView envelope_bytes, const format::ObjectId& object_id,
                                      const format::Binding& binding, const ReadAccess& access,
                                      KeyUse use) {
  auto parsed = format::ParseEnvelope(envelope_bytes);
  if (!parsed) {
    return DataLoss("the stored envelope is malformed: " + parsed.error().message());
  }
  const format::Envelope& envelope = *parsed;
  const bool customer = stored.facts.mode == SseMode::kCustomer;
  const bool envelope_customer = envelope.scheme == format::WrapScheme::kCustomerKey &&
                                 envelope.provider_id == kSseCProvider && envelope.key_id.empty();
  if (customer != envelope_customer ||
      (!customer && envelope.scheme != format::WrapScheme::kLocalKek)) {
    return DataLoss("the stored envelope disagrees with the stored encryption facts");
  }
  if (customer) {
    if (access.customer_key == nullptr) {
      return S3Error(ErrorCode::kInvalidArgument, "InvalidRequest",
                     std::string(use == KeyUse::kUploadPart ? kSseCPartNoKeyMessage
                                                            : kSseCNoKeyMessage));
    }
    auto dek = format::UnwrapDek(envelope, access.customer_key->key.reveal(), object_id, binding,
                                 {});
    if (!dek) {
      if (dek.error().code() != ErrorCode::kUnauthenticated) {
        return tl::unexpected(dek.error());
      }
      switch (use) {
        case KeyUse::kRead:
          return S3Error(ErrorCode::kPermissionDenied, "AccessDenied",
                         std::string(kSseCWrongKeyMessage));
        case KeyUse::kUploadPart:
          return S3Error(ErrorCode::kInvalidArgument, "InvalidRequest",
                         std::string(kSseCMismatchMessage));
        case KeyUse::kComplete:
          return S3Error(ErrorCode::kInvalidArgument, "InvalidRequest",
                         std::string(kSseCCompleteMessage));
      }
    }
    return dek;
  }
  if (access.customer_key != nullptr) {
    switch (use) {
      case KeyUse::kRead:
        return S3Error(ErrorCode::kInvalidArgument, "InvalidRequest",
                       std::string(kSseCNotApplicableMessage));
      case KeyUse::kUploadPart:
        return S3Error(ErrorCode::kInvalidArgument, "InvalidRequest",
                       std::string(kSseCMismatchMessage));
      case KeyUse::kComplete:
        return S3Error(ErrorCode::kInvalidArgument, "InvalidRequest",
                       std::string(kSseCCompleteMessage));
    }
  }
  const bool kms = stored.facts.mode == SseMode::kKms;
  if (kms && access.may_use_kms_key) {
    STRONGROOM_RETURN_IF_ERROR(access.may_use_kms_key(stored.facts.kms_key_id));
  }
  STRONGROOM_ASSIGN_OR_RETURN(keys::Kek kek, keys.FindKek(envelope.provider_id, envelope.key_id));
  if (kek.key_id != (kms ? std::string_view(stored.facts.kms_key_id) : keys::kSseS3KeyId)) {
    return DataLoss("the stored envelope names another key than the stored encryption facts");
  }
  auto dek = format::UnwrapDek(envelope, kek.material->reveal(), object_id, binding,
                               kms ? AsBytes(stored.facts.kms_context) : ByteView());
  if (!dek) {
    // A key we hold does not open it: stored metadata is corrupt.
    return DataLoss("the object's data key does not unwrap: " + dek.error().message());
  }
  return dek;
}

// The key the manifest is MAC'd under: the DEK, or an SSE-C upload's own
// manifest key (FORMAT.md §13.3), which needs no customer key.
Result<crypto::SecretBytes> ManifestKey(keys::KeyRing& keys, const StoredEncryption& stored,
                                        const format::ObjectId& object_id,
                                        const crypto::SecretBytes* dek) {
  if (!stored.sealed_manifest_key.empty()) {
    STRONGROOM_ASSIGN_OR_RETURN(
        crypto::SecretBytes key,
        keys.Unseal(kManifestKeyPurpose, stored.sealed_manifest_key, object_id));
    if (key.size() != format::kDekSize) {
      return DataLoss("the sealed manifest key has the wrong size");
    }
    return key;
  }
  if (dek == nullptr) {
    return Internal("the manifest key needs the data key");
  }
  return crypto::SecretBytes::CopyFrom(dek->reveal());
}

// ------------------------------------------------------------------ audit

// Who uses a key for which object, for the audit trail (keys/audit.h).
struct AuditScope {
  keys::AuditSink* sink = nullptr;
  std::string_view request;  // the S3 operation
  std::string_view principal;
  std::string_view bucket;
  std::string_view key;
};

const char* ModeName(SseMode mode) {
  switch (mode) {
    case SseMode::kS3: return "SSE-S3";
    case SseMode::kKms: return "SSE-KMS";
    case SseMode::kCustomer: return "SSE-C";
  }
  return "";
}

// The version in an envelope's key ref "<key id>/<version>"; 0 if none.
uint32_t KeyRefVersion(std::string_view key_ref) {
  size_t slash = key_ref.rfind('/');
  if (slash == std::string_view::npos) return 0;
  uint32_t version = 0;
  auto digits = key_ref.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  return ec == std::errc() && ptr == digits.data() + digits.size() ? version : 0;
}

// Records one key use. A use that succeeded but cannot be recorded fails
// (no key is used without a trace); a failed use is recorded best effort.
Result<void> AuditKeyUse(const AuditScope& scope, const char* operation, SseMode mode,
                         std::string_view key_id, uint32_t version, const Error* error) {
  if (scope.sink == nullptr) return Ok();
  keys::AuditEvent event;
  event.operation = operation;
  event.ok = error == nullptr;
  if (error != nullptr) {
    event.error = error->reason().empty() ? error->message()
                                          : error->reason() + ": " + error->message();
  }
  event.access_key = std::string(scope.principal);
  event.key_id = std::string(key_id);
  event.key_version = version;
  event.bucket = std::string(scope.bucket);
  event.object = std::string(scope.key);
  event.request = std::string(scope.request);
  event.mode = ModeName(mode);
  auto recorded = scope.sink->Record(event);
  if (!recorded && error == nullptr) {
    return tl::unexpected(Error(ErrorCode::kUnavailable,
                                "the key use could not be audited: " + recorded.error().message())
                              .WithReason("ServiceUnavailable"));
  }
  return Ok();
}

// WrapFor, audited.
Result<Wrapped> AuditedWrap(keys::KeyRing& keys, const EncryptionRequest& request, ByteView dek,
                            const format::ObjectId& object_id, const format::Binding& binding,
                            const AuditScope& scope) {
  auto wrapped = WrapFor(keys, request, dek, object_id, binding);
  std::string key_id;
  uint32_t version = 0;
  if (wrapped) {
    key_id = wrapped->key_id;
    version = wrapped->key_version;
  } else if (request.mode != SseMode::kCustomer) {
    key_id = request.mode == SseMode::kKms ? request.kms_key_id : std::string(keys::kSseS3KeyId);
  }
  STRONGROOM_RETURN_IF_ERROR(AuditKeyUse(scope, keys::audit_op::kWrap, request.mode, key_id,
                                         version, wrapped ? nullptr : &wrapped.error()));
  return wrapped;
}

// UnwrapFor, audited.
Result<crypto::SecretBytes> AuditedUnwrap(keys::KeyRing& keys, const StoredEncryption& stored,
                                          ByteView envelope_bytes,
                                          const format::ObjectId& object_id,
                                          const format::Binding& binding,
                                          const ReadAccess& access, KeyUse use,
                                          const AuditScope& scope) {
  auto dek = UnwrapFor(keys, stored, envelope_bytes, object_id, binding, access, use);
  std::string key_id;
  uint32_t version = 0;
  if (stored.facts.mode != SseMode::kCustomer) {
    key_id = stored.facts.mode == SseMode::kKms ? stored.facts.kms_key_id
                                                : std::string(keys::kSseS3KeyId);
    if (auto envelope = format::ParseEnvelope(envelope_bytes)) {
      version = KeyRefVersion(envelope->key_id);
    }
  }
  STRONGROOM_RETURN_IF_ERROR(AuditKeyUse(scope, keys::audit_op::kUnwrap, stored.facts.mode, key_id,
                                         version, dek ? nullptr : &dek.error()));
  return dek;
}

Result<Bytes> SealObjectAttributes(ByteView dek, const format::ObjectId& object_id,
                                   const format::Binding& binding, uint32_t part_number,
                                   const Attributes& attributes) {
  Bytes encoded = EncodeAttributes(attributes);
  auto sealed = format::SealAttributes(dek, object_id, binding, part_number, encoded);
  crypto::Cleanse(encoded);
  return sealed;
}

// Opened attributes: the client-visible ones and the internal MD5 and
// ETag, if any.
struct OpenedAttributes {
  Attributes visible;
  std::optional<Bytes> md5;
  std::optional<std::string> etag;
};

Result<OpenedAttributes> OpenObjectAttributes(ByteView dek, const format::ObjectId& object_id,
                                              const format::Binding& binding,
                                              uint32_t part_number, ByteView sealed) {
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes plain,
                              format::OpenAttributes(dek, object_id, binding, part_number, sealed));
  STRONGROOM_ASSIGN_OR_RETURN(Attributes all, DecodeAttributes(plain.reveal()));
  OpenedAttributes out;
  for (auto& [name, value] : all) {
    if (name == kMd5Attribute) {
      auto md5 = HexDecode(value);
      if (!md5 || md5->size() != 16 || out.md5) {
        return DataLoss("the sealed MD5 is malformed");
      }
      out.md5 = std::move(*md5);
    } else if (name == kEtagAttribute) {
      if (value.empty() || out.etag) {
        return DataLoss("the sealed ETag is malformed");
      }
      out.etag = std::move(value);
    } else if (!name.empty() && name.front() == ':') {
      return DataLoss("unknown internal attribute '" + name + "'");
    } else {
      out.visible.emplace_back(std::move(name), std::move(value));
    }
  }
  return out;
}

Attributes WithMd5(Attributes attributes, const std::optional<Bytes>& md5) {
  if (md5) {
    attributes.emplace_back(std::string(kMd5Attribute), HexEncode(*md5));
  }
  return attributes;
}

Attributes WithEtag(Attributes attributes, const std::optional<std::string>& etag) {
  if (etag) {
    attributes.emplace_back(std::string(kEtagAttribute), *etag);
  }
  return attributes;
}

bool IsChecksumHeader(const std::string& name) {
  return name.rfind("x-amz-checksum-", 0) == 0;
}

std::optional<std::string> FindAttribute(const Attributes& attributes, std::string_view name) {
  for (const auto& [n, v] : attributes) {
    if (n == name) return v;
  }
  return std::nullopt;
}

ObjectInfo InfoOf(const catalog::Object& object, Attributes attributes, uint32_t parts_count,
                  const ObjectEncryption& encryption) {
  return ObjectInfo{object.bucket, object.key,           object.size, object.etag,
                    object.last_modified_ms, object.owner, std::move(attributes), parts_count,
                    encryption};
}

uint32_t PartsCount(const std::string& etag) {
  auto dash = etag.rfind('-');
  if (dash == std::string::npos) return 0;
  return static_cast<uint32_t>(std::strtoul(etag.c_str() + dash + 1, nullptr, 10));
}

// ObjectInfo::part_sizes of an object with this (verified) manifest.
std::vector<uint64_t> PartSizes(const format::Manifest& manifest) {
  std::vector<uint64_t> out;
  if (manifest.streams.empty() || manifest.streams[0].part_number == 0) return out;
  for (const format::StreamInfo& stream : manifest.streams) out.push_back(stream.plaintext_size);
  return out;
}

// Plaintext [offset, offset + length) of an object, read 1 MiB at a time.
class RangeSource : public ByteSource {
 public:
  RangeSource(format::ObjectRangeReader& reader, uint64_t offset, uint64_t length)
      : reader_(reader), offset_(offset), end_(offset + length) {}
  Result<size_t> Read(MutableByteView out) override {
    if (failed_) {
      return DataLoss("stored data failed authentication");
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), end_ - offset_));
    n = std::min<size_t>(n, 1 << 20);
    if (n == 0) {
      return size_t{0};
    }
    auto read = reader_.ReadAt(offset_, out.first(n));
    if (!read) {
      failed_ = true;
      return tl::unexpected(read.error());
    }
    offset_ += n;
    return n;
  }

 private:
  format::ObjectRangeReader& reader_;
  uint64_t offset_;
  uint64_t end_;
  bool failed_ = false;
};

// The streams of an object, back to back, opening each blob on first use
// and keeping only the most recent one open: a 10000-part object needs one
// descriptor, not 10000. The blobs are leased, so they outlive an overwrite.
class LazyBlobSource : public RandomAccessSource {
 public:
  LazyBlobSource(storage::Backend& backend, std::vector<std::string> names,
                 std::vector<uint64_t> sizes)
      : backend_(backend), names_(std::move(names)), sizes_(std::move(sizes)) {
    for (uint64_t size : sizes_) {
      starts_.push_back(size_);
      size_ += size;
    }
  }
  uint64_t size() const override { return size_; }

  Result<void> ReadAt(uint64_t offset, MutableByteView out) override {
    if (offset > size_ || out.size() > size_ - offset) {
      return OutOfRange("read past the end of the object's blobs");
    }
    size_t index = static_cast<size_t>(
        std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin() - 1);
    size_t done = 0;
    while (done < out.size()) {
      uint64_t within = offset + done - starts_[index];
      if (within >= sizes_[index]) {
        ++index;
        continue;
      }
      STRONGROOM_RETURN_IF_ERROR(OpenBlob(index));
      size_t take = static_cast<size_t>(std::min<uint64_t>(sizes_[index] - within,
                                                           out.size() - done));
      STRONGROOM_RETURN_IF_ERROR(open_->ReadAt(within, out.subspan(done, take)));
      done += take;
      ++index;
    }
    return Ok();
  }

 private:
  Result<void> OpenBlob(size_t index) {
    if (open_index_ == index) return Ok();
    open_.reset();
    open_index_ = SIZE_MAX;
    auto opened = backend_.Open(names_[index]);
    if (!opened) {
      return DataLoss("blob '" + names_[index] + "' is unreadable: " + opened.error().message());
    }
    if ((*opened)->size() != sizes_[index]) {
      return DataLoss("blob '" + names_[index] + "' has " + std::to_string((*opened)->size()) +
                      " bytes, its manifest says " + std::to_string(sizes_[index]));
    }
    open_ = std::move(*opened);
    open_index_ = index;
    return Ok();
  }

  storage::Backend& backend_;
  std::vector<std::string> names_;
  std::vector<uint64_t> sizes_;
  std::vector<uint64_t> starts_;
  uint64_t size_ = 0;
  std::unique_ptr<RandomAccessSource> open_;
  size_t open_index_ = SIZE_MAX;
};


class StoredObjectReader : public ObjectReader {
 public:
  StoredObjectReader(catalog::Object record, BlobLeases& leases)
      : record_(std::move(record)), leases_(leases), leased_(record_.blobs) {}
  ~StoredObjectReader() override {
    reader_.reset();
    blobs_.reset();
    leases_.Release(leased_);
  }

  // Completes construction once the blobs are leased and the keys opened.
  void Attach(ObjectInfo info, crypto::SecretBytes dek, format::Manifest manifest,
              StoredEncryption stored, std::optional<Bytes> md5,
              std::optional<std::string> sealed_etag, std::unique_ptr<LazyBlobSource> blobs,
              std::unique_ptr<format::ObjectRangeReader> reader) {
    info_ = std::move(info);
    dek_ = std::move(dek);
    manifest_ = std::move(manifest);
    stored_ = std::move(stored);
    md5_ = std::move(md5);
    sealed_etag_ = std::move(sealed_etag);
    blobs_ = std::move(blobs);
    reader_ = std::move(reader);
  }

  const ObjectInfo& info() const override { return info_; }

  Result<std::unique_ptr<ByteSource>> NewRangeSource(uint64_t offset, uint64_t length) override {
    if (offset > info_.size || length > info_.size - offset) {
      return OutOfRange("range passes the end of the object");
    }
    return std::unique_ptr<ByteSource>(new RangeSource(*reader_, offset, length));
  }

  // For a copy onto itself (ObjectStore::CopyObject) and a re-encryption.
  const catalog::Object& record() const { return record_; }
  const crypto::SecretBytes& dek() const { return dek_; }
  const format::Manifest& manifest() const { return manifest_; }
  const StoredEncryption& stored() const { return stored_; }
  const std::optional<Bytes>& md5() const { return md5_; }
  const std::optional<std::string>& sealed_etag() const { return sealed_etag_; }

 private:
  catalog::Object record_;
  BlobLeases& leases_;
  std::vector<std::string> leased_;
  ObjectInfo info_;
  crypto::SecretBytes dek_;
  format::Manifest manifest_;
  StoredEncryption stored_;
  std::optional<Bytes> md5_;
  std::optional<std::string> sealed_etag_;
  std::unique_ptr<LazyBlobSource> blobs_;
  std::unique_ptr<format::ObjectRangeReader> reader_;
};

// The MD5 of each stream's plaintext, read back through `source`: for a
// re-wrap that changes the ETag family when the MD5s are not sealed.
Result<std::vector<Bytes>> StreamMd5s(ObjectReader& source, const format::Manifest& manifest) {
  std::vector<Bytes> out;
  uint64_t offset = 0;
  Buffer buffer(1 << 20);
  for (const format::StreamInfo& stream : manifest.streams) {
    STRONGROOM_ASSIGN_OR_RETURN(auto range, source.NewRangeSource(offset, stream.plaintext_size));
    STRONGROOM_ASSIGN_OR_RETURN(auto md5, crypto::Digest::Create(crypto::Digest::Algorithm::kMd5));
    uint64_t left = stream.plaintext_size;
    while (left > 0) {
      STRONGROOM_ASSIGN_OR_RETURN(size_t n, range->Read(buffer.view()));
      if (n == 0) {
        return DataLoss("the object ended early while it was read back");
      }
      STRONGROOM_RETURN_IF_ERROR(md5->Update(std::as_const(buffer).view().first(n)));
      left -= n;
    }
    STRONGROOM_ASSIGN_OR_RETURN(Bytes digest, md5->Finish());
    out.push_back(std::move(digest));
    offset += stream.plaintext_size;
  }
  return out;
}

// `inner`'s bytes, each read reported to `on_bytes` (whose error aborts).
class ProgressSource : public ByteSource {
 public:
  ProgressSource(ByteSource& inner, const std::function<Result<void>(size_t)>& on_bytes)
      : inner_(inner), on_bytes_(on_bytes) {}
  Result<size_t> Read(MutableByteView out) override {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, inner_.Read(out));
    if (n > 0 && on_bytes_) STRONGROOM_RETURN_IF_ERROR(on_bytes_(n));
    return n;
  }

 private:
  ByteSource& inner_;
  const std::function<Result<void>(size_t)>& on_bytes_;
};

// Blobs a rewrite committed: deleted again unless the catalog took them.
class NewBlobs {
 public:
  explicit NewBlobs(storage::Backend& backend) : backend_(backend) {}
  NewBlobs(const NewBlobs&) = delete;
  NewBlobs& operator=(const NewBlobs&) = delete;
  ~NewBlobs() {
    if (kept_) return;
    for (const std::string& name : names_) (void)backend_.Delete(name);
  }
  void Add(std::string name) { names_.push_back(std::move(name)); }
  const std::vector<std::string>& names() const { return names_; }
  void Keep() { kept_ = true; }

 private:
  storage::Backend& backend_;
  std::vector<std::string> names_;
  bool kept_ = false;
};

tl::unexpected<Error> OperationAborted(std::string message) {
  return S3Error(ErrorCode::kFailedPrecondition, "OperationAborted", std::move(message));
}

tl::unexpected<Error> NoSuchBucket() {
  return S3Error(ErrorCode::kNotFound, "NoSuchBucket", "The specified bucket does not exist");
}

tl::unexpected<Error> NoSuchUpload() {
  return S3Error(ErrorCode::kNotFound, "NoSuchUpload",
                 "The specified upload does not exist. The upload ID may be invalid, or the "
                 "upload may have been aborted or completed.");
}

// A catalog read of an upload found moments ago: a concurrent Complete or
// Abort may have removed it since, which the client must see as NoSuchUpload.
template <typename T>
Result<T> UploadStillThere(Result<T> result) {
  if (!result && result.error().code() == ErrorCode::kNotFound) return NoSuchUpload();
  return result;
}

// What reading an object's record yields once its keys are open.
struct OpenedRecord {
  crypto::SecretBytes dek;
  format::Manifest manifest;
  StoredEncryption stored;
  OpenedAttributes attributes;
};

// NoSuchKey, or NoSuchBucket if the bucket is missing too.
tl::unexpected<Error> MissingObject(catalog::Catalog& catalog, const std::string& bucket) {
  auto found = catalog.GetBucket(bucket);
  if (!found && found.error().code() == ErrorCode::kNotFound) {
    return NoSuchBucket();
  }
  if (!found) {
    return tl::unexpected(found.error());
  }
  return S3Error(ErrorCode::kNotFound, "NoSuchKey", "The specified key does not exist.");
}

Result<catalog::Object> GetObjectRecord(catalog::Catalog& catalog, const std::string& bucket,
                                        const std::string& key) {
  auto object = catalog.GetObject(bucket, key);
  if (!object && object.error().code() == ErrorCode::kNotFound) {
    return MissingObject(catalog, bucket);
  }
  return object;
}

// Unwraps the DEK for `access` and verifies the manifest, the attributes
// box and the record's agreement with both.
Result<OpenedRecord> OpenRecord(keys::KeyRing& keys, const catalog::Object& object,
                                const ReadAccess& access, const AuditScope& scope) {
  if (object.object_id.size() != format::kObjectIdSize) {
    return DataLoss("the catalog record of " + object.bucket + "/" + object.key +
                    " has a malformed object id");
  }
  format::ObjectId object_id = ToObjectId(object.object_id);
  format::Binding binding{object.bucket, object.key};
  OpenedRecord out;
  STRONGROOM_ASSIGN_OR_RETURN(out.stored, DecodeStoredEncryption(object.encryption));
  STRONGROOM_ASSIGN_OR_RETURN(out.dek, AuditedUnwrap(keys, out.stored, object.envelope, object_id,
                                                     binding, access, KeyUse::kRead, scope));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes manifest_key,
                              ManifestKey(keys, out.stored, object_id, &out.dek));
  auto manifest = format::OpenManifest(object.manifest, manifest_key.reveal(), object_id, binding);
  if (!manifest) {
    return DataLoss("the manifest of " + object.bucket + "/" + object.key +
                    " failed verification: " + manifest.error().message());
  }
  out.manifest = std::move(*manifest);
  if (out.manifest.plaintext_size() != object.size ||
      out.manifest.streams.size() != object.blobs.size() ||
      (PartsCount(object.etag) == 0) != (out.manifest.streams[0].part_number == 0) ||
      (PartsCount(object.etag) != 0 && PartsCount(object.etag) != out.manifest.streams.size())) {
    return DataLoss("the catalog record of " + object.bucket + "/" + object.key +
                    " disagrees with its manifest");
  }
  STRONGROOM_ASSIGN_OR_RETURN(out.attributes,
                              OpenObjectAttributes(out.dek.reveal(), object_id, binding, 0,
                                                   object.attributes));
  if (out.attributes.etag) {
    // A re-encrypted object keeps its ETag, which no longer follows from its
    // DEK: the attributes seal it, and the catalog's must be that one.
    if (!crypto::ConstantTimeEquals(AsBytes(*out.attributes.etag), AsBytes(object.etag))) {
      return DataLoss("the catalog ETag of " + object.bucket + "/" + object.key +
                      " disagrees with its sealed ETag");
    }
  }
  if (out.attributes.md5 &&
      (!out.attributes.etag || IsEtagFamilyMd5(out.stored.facts.mode))) {
    // A single-part object's ETag follows from its sealed MD5 (under its
    // DEK unless it is the MD5 itself).
    STRONGROOM_ASSIGN_OR_RETURN(std::string etag, EtagFor(out.stored.facts.mode, out.dek.reveal(),
                                                          object_id, *out.attributes.md5));
    if (etag != object.etag) {
      return DataLoss("the catalog ETag of " + object.bucket + "/" + object.key +
                      " disagrees with its sealed attributes");
    }
  }
  return out;
}

// A copy onto itself: the same DEK, blobs and manifest under a new envelope,
// new sealed attributes and the ETag of the new mode.
Result<ObjectInfo> RewrapInPlace(catalog::Catalog& catalog, keys::KeyRing& keys,
                                 StoredObjectReader& reader, const WriteRequest& destination,
                                 keys::AuditSink* audit) {
  const catalog::Object& record = reader.record();
  format::ObjectId object_id = ToObjectId(record.object_id);
  format::Binding binding{record.bucket, record.key};
  ByteView dek = reader.dek().reveal();

  // The data is unchanged, so the source's checksums stay true; a checksum
  // of another algorithm needs a full read (the caller falls back to a copy).
  Attributes attributes = destination.attributes;
  bool has_checksum = std::any_of(attributes.begin(), attributes.end(),
                                  [](const auto& a) { return IsChecksumHeader(a.first); });
  if (!has_checksum) {
    for (const auto& entry : reader.info().attributes) {
      if (IsChecksumHeader(entry.first)) attributes.push_back(entry);
    }
  }
  if (destination.checks.checksum_algorithm &&
      !FindAttribute(attributes, aws::ChecksumHeader(*destination.checks.checksum_algorithm))) {
    return Unimplemented("the requested checksum is not stored");
  }

  STRONGROOM_ASSIGN_OR_RETURN(
      Wrapped wrapped,
      AuditedWrap(keys, destination.encryption, dek, object_id, binding,
                  {audit, "CopyObject", destination.principal, record.bucket, record.key}));
  // An SSE-C multipart object keeps its manifest and so its manifest key.
  wrapped.stored.sealed_manifest_key = reader.stored().sealed_manifest_key;

  const SseMode old_mode = reader.stored().facts.mode;
  const SseMode new_mode = destination.encryption.mode;
  const uint32_t parts = PartsCount(record.etag);
  std::optional<Bytes> md5 = reader.md5();
  std::string etag = record.etag;
  const bool same_family = IsEtagFamilyMd5(old_mode) == IsEtagFamilyMd5(new_mode);
  if (parts == 0 && !(reader.sealed_etag() && same_family)) {
    // (A sealed ETag, kept by a re-encryption, stays while the family does.)
    if (!md5) {
      STRONGROOM_ASSIGN_OR_RETURN(auto md5s, StreamMd5s(reader, reader.manifest()));
      md5 = std::move(md5s.front());
    }
    STRONGROOM_ASSIGN_OR_RETURN(etag, EtagFor(new_mode, dek, object_id, *md5));
  } else if (parts != 0 && !same_family) {
    // Part ETags change family: recompute them from the parts' MD5s.
    STRONGROOM_ASSIGN_OR_RETURN(auto md5s, StreamMd5s(reader, reader.manifest()));
    STRONGROOM_ASSIGN_OR_RETURN(etag, MultipartEtagFor(new_mode, dek, object_id, md5s));
  }

  // A kept ETag that was sealed (a re-encrypted object's) stays sealed.
  std::optional<std::string> sealed_etag;
  if (reader.sealed_etag() && etag == record.etag) sealed_etag = etag;
  catalog::Object object = record;
  object.etag = std::move(etag);
  object.last_modified_ms = NowMs();
  object.owner = destination.owner;
  STRONGROOM_ASSIGN_OR_RETURN(
      object.attributes,
      SealObjectAttributes(dek, object_id, binding, 0,
                           WithEtag(WithMd5(attributes, md5), sealed_etag)));
  object.envelope = std::move(wrapped.envelope);
  STRONGROOM_ASSIGN_OR_RETURN(object.encryption, EncodeStoredEncryption(wrapped.stored));
  object.kek_ref = std::move(wrapped.kek_ref);
  auto replaced = catalog.ReplaceObjectIf(object, record.object_id);
  if (!replaced) {
    ErrorCode code = replaced.error().code();
    if (code == ErrorCode::kFailedPrecondition || code == ErrorCode::kNotFound) {
      return S3Error(ErrorCode::kFailedPrecondition, "OperationAborted",
                     "A conflicting conditional operation is currently in progress against "
                     "this resource. Please try again.");
    }
    return tl::unexpected(replaced.error());
  }
  // The replaced record names the same blobs: nothing to delete.
  return InfoOf(object, std::move(attributes), parts, wrapped.stored.facts);
}

}  // namespace

ObjectStore::ObjectStore(catalog::Catalog& catalog, storage::Backend& backend,
                         keys::KeyRing& keys, keys::AuditSink* audit)
    : catalog_(catalog), backend_(backend), keys_(keys), audit_(audit),
      leases_(std::make_unique<BlobLeases>(backend)) {}

ObjectStore::~ObjectStore() = default;

// ------------------------------------------------------------------ buckets

Result<void> ObjectStore::CreateBucket(const std::string& name, const std::string& owner) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBucketName(name));
  auto created = catalog_.CreateBucket(catalog::Bucket{name, NowMs(), owner, {}});
  if (!created && created.error().code() == ErrorCode::kAlreadyExists) {
    auto existing = catalog_.GetBucket(name);
    bool mine = existing && existing->owner == owner;
    return S3Error(ErrorCode::kAlreadyExists,
                   mine ? "BucketAlreadyOwnedByYou" : "BucketAlreadyExists",
                   mine ? "Your previous request to create the named bucket succeeded and you "
                          "already own it."
                        : "The requested bucket name is not available.");
  }
  return created;
}

Result<void> ObjectStore::DeleteBucket(const std::string& name) {
  auto deleted = catalog_.DeleteBucket(name);
  if (!deleted && deleted.error().code() == ErrorCode::kNotFound) {
    return NoSuchBucket();
  }
  if (!deleted && deleted.error().code() == ErrorCode::kFailedPrecondition) {
    return S3Error(ErrorCode::kFailedPrecondition, "BucketNotEmpty",
                   "The bucket you tried to delete is not empty");
  }
  return deleted;
}

Result<catalog::Bucket> ObjectStore::HeadBucket(const std::string& name) {
  auto bucket = catalog_.GetBucket(name);
  if (!bucket && bucket.error().code() == ErrorCode::kNotFound) {
    return NoSuchBucket();
  }
  return bucket;
}

Result<std::vector<catalog::Bucket>> ObjectStore::ListBuckets() { return catalog_.ListBuckets(); }

Result<BucketEncryption> ObjectStore::GetBucketEncryption(const std::string& name) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Bucket bucket, HeadBucket(name));
  return DecodeBucketEncryption(bucket.encryption);
}

Result<void> ObjectStore::PutBucketEncryption(const std::string& name,
                                              const BucketEncryption& config) {
  if (config.default_mode == SseMode::kCustomer) {
    return S3Error(ErrorCode::kInvalidArgument, "InvalidArgument",
                   "A bucket's default encryption is AES256 or aws:kms");
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes encoded, EncodeBucketEncryption(config));
  auto set = catalog_.SetBucketEncryption(name, encoded);
  if (!set && set.error().code() == ErrorCode::kNotFound) {
    return NoSuchBucket();
  }
  return set;
}

Result<void> ObjectStore::DeleteBucketEncryption(const std::string& name) {
  auto set = catalog_.SetBucketEncryption(name, {});
  if (!set && set.error().code() == ErrorCode::kNotFound) {
    return NoSuchBucket();
  }
  return set;
}

// ------------------------------------------------------------------ objects

Result<ObjectInfo> ObjectStore::PutObject(const WriteRequest& request, ByteSource& body) {
  return Put(request, body, "PutObject");
}

Result<ObjectInfo> ObjectStore::Put(const WriteRequest& request, ByteSource& body,
                                    const char* request_name) {
  STRONGROOM_RETURN_IF_ERROR(ValidateObjectKey(request.key));
  STRONGROOM_RETURN_IF_ERROR(HeadBucket(request.bucket));
  STRONGROOM_ASSIGN_OR_RETURN(format::ObjectId object_id, format::NewObjectId());
  format::Binding binding{request.bucket, request.key};
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek, format::NewDek());
  // Wrapping first: a key that cannot be used fails before the body is read.
  STRONGROOM_ASSIGN_OR_RETURN(
      Wrapped wrapped,
      AuditedWrap(keys_, request.encryption, dek.reveal(), object_id, binding,
                  {audit_, request_name, request.principal, request.bucket, request.key}));
  std::string blob_name = ObjectBlobName(object_id);
  STRONGROOM_ASSIGN_OR_RETURN(auto blob, backend_.Create(blob_name));
  STRONGROOM_ASSIGN_OR_RETURN(
      EncryptedBody encrypted,
      EncryptBody(dek.reveal(), object_id, 0, body, request.checks, *blob));

  format::Manifest manifest{object_id, {encrypted.stream}, binding};
  STRONGROOM_ASSIGN_OR_RETURN(Bytes sealed, format::SealManifest(manifest, dek.reveal()));
  Attributes attributes = request.attributes;
  if (encrypted.checksum) {
    attributes.push_back(*encrypted.checksum);
  }
  catalog::Object object;
  object.bucket = request.bucket;
  object.key = request.key;
  object.object_id.assign(object_id.begin(), object_id.end());
  object.size = encrypted.stream.plaintext_size;
  STRONGROOM_ASSIGN_OR_RETURN(object.etag, EtagFor(request.encryption.mode, dek.reveal(),
                                                   object_id, encrypted.md5));
  object.last_modified_ms = NowMs();
  object.owner = request.owner;
  STRONGROOM_ASSIGN_OR_RETURN(object.attributes,
                              SealObjectAttributes(dek.reveal(), object_id, binding, 0,
                                                   WithMd5(attributes, encrypted.md5)));
  object.manifest = std::move(sealed);
  object.envelope = std::move(wrapped.envelope);
  STRONGROOM_ASSIGN_OR_RETURN(object.encryption, EncodeStoredEncryption(wrapped.stored));
  object.kek_ref = std::move(wrapped.kek_ref);
  object.blobs = {blob_name};
  // The blob is durable before the catalog names it; a crash in between
  // leaves an orphan blob, removed at the next start.
  STRONGROOM_RETURN_IF_ERROR(blob->Commit());
  auto replaced = catalog_.PutObject(object);
  if (!replaced) {
    (void)backend_.Delete(blob_name);
    if (replaced.error().code() == ErrorCode::kNotFound) {
      return NoSuchBucket();
    }
    return tl::unexpected(replaced.error());
  }
  if (*replaced) {
    DeleteBlobs((*replaced)->blobs);
  }
  return InfoOf(object, std::move(attributes), 0, wrapped.stored.facts);
}

Result<ObjectInfo> ObjectStore::HeadObject(const std::string& bucket, const std::string& key,
                                           const ReadAccess& access) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Object object, GetObjectRecord(catalog_, bucket, key));
  STRONGROOM_ASSIGN_OR_RETURN(
      OpenedRecord opened,
      OpenRecord(keys_, object, access, {audit_, "HeadObject", access.principal, bucket, key}));
  ObjectInfo info = InfoOf(object, std::move(opened.attributes.visible), PartsCount(object.etag),
                           opened.stored.facts);
  info.part_sizes = PartSizes(opened.manifest);
  return info;
}

Result<std::unique_ptr<ObjectReader>> ObjectStore::OpenObject(const std::string& bucket,
                                                              const std::string& key,
                                                              const ReadAccess& access) {
  // Reading the record and leasing its blobs is one step, so an overwrite
  // that commits meanwhile defers deleting them until this reader closes.
  auto found = leases_->AcquireWhile([&] { return catalog_.GetObject(bucket, key); });
  if (!found) {
    if (found.error().code() == ErrorCode::kNotFound) {
      return MissingObject(catalog_, bucket);
    }
    return tl::unexpected(found.error());
  }
  // From here the reader owns the leases: every return releases them.
  auto reader = std::make_unique<StoredObjectReader>(std::move(*found), *leases_);
  const catalog::Object& object = reader->record();
  STRONGROOM_ASSIGN_OR_RETURN(
      OpenedRecord opened,
      OpenRecord(keys_, object, access, {audit_, "GetObject", access.principal, bucket, key}));
  std::vector<uint64_t> sizes;
  for (const format::StreamInfo& stream : opened.manifest.streams) {
    sizes.push_back(format::StreamSize(stream.plaintext_size));
  }
  auto blobs = std::make_unique<LazyBlobSource>(backend_, object.blobs, std::move(sizes));
  STRONGROOM_ASSIGN_OR_RETURN(
      auto range_reader,
      format::ObjectRangeReader::Create(opened.dek.reveal(), opened.manifest, *blobs));
  ObjectInfo info = InfoOf(object, std::move(opened.attributes.visible), PartsCount(object.etag),
                           opened.stored.facts);
  info.part_sizes = PartSizes(opened.manifest);
  reader->Attach(std::move(info), std::move(opened.dek), std::move(opened.manifest),
                 std::move(opened.stored), std::move(opened.attributes.md5),
                 std::move(opened.attributes.etag), std::move(blobs), std::move(range_reader));
  return std::unique_ptr<ObjectReader>(std::move(reader));
}

Result<void> ObjectStore::DeleteObject(const std::string& bucket, const std::string& key) {
  auto deleted = catalog_.DeleteObject(bucket, key);
  if (!deleted) {
    if (deleted.error().code() == ErrorCode::kNotFound) {
      STRONGROOM_RETURN_IF_ERROR(HeadBucket(bucket));
      return Ok();
    }
    return tl::unexpected(deleted.error());
  }
  DeleteBlobs(deleted->blobs);
  return Ok();
}

Result<ObjectInfo> ObjectStore::CopyObject(ObjectReader& source, const WriteRequest& destination) {
  auto* stored = dynamic_cast<StoredObjectReader*>(&source);
  if (stored != nullptr && destination.bucket == stored->record().bucket &&
      destination.key == stored->record().key) {
    auto current = catalog_.GetObject(destination.bucket, destination.key);
    if (current && current->object_id == stored->record().object_id) {
      auto rewrapped = RewrapInPlace(catalog_, keys_, *stored, destination, audit_);
      if (rewrapped || rewrapped.error().code() != ErrorCode::kUnimplemented) {
        return rewrapped;
      }
      // kUnimplemented: a checksum only a full read computes; copy instead.
    } else if (!current && current.error().code() != ErrorCode::kNotFound) {
      return tl::unexpected(current.error());
    }
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto body, source.NewRangeSource(0, source.info().size));
  return Put(destination, *body, "CopyObject");
}

Result<ObjectInfo> ObjectStore::Reencrypt(ObjectReader& source,
                                          const ReplaceCondition& condition,
                                          const std::function<Result<void>(size_t)>& on_bytes) {
  auto* reader = dynamic_cast<StoredObjectReader*>(&source);
  if (reader == nullptr) {
    return InvalidArgument("a re-encryption reads through ObjectStore::OpenObject");
  }
  const catalog::Object& record = reader->record();
  const StoredEncryption& old = reader->stored();
  if (old.facts.mode == SseMode::kCustomer) {
    return InvalidArgument("an SSE-C object cannot be re-encrypted: the server holds no key for it");
  }
  if (record.object_id != condition.object_id || record.envelope != condition.envelope) {
    return OperationAborted("the object was replaced before it was rewritten");
  }
  format::Binding binding{record.bucket, record.key};
  STRONGROOM_ASSIGN_OR_RETURN(format::ObjectId object_id, format::NewObjectId());
  const Bytes object_id_bytes(object_id.begin(), object_id.end());
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek, format::NewDek());
  EncryptionRequest encryption;
  encryption.mode = old.facts.mode;
  encryption.kms_key_id = old.facts.kms_key_id;
  encryption.kms_context = old.facts.kms_context;
  encryption.bucket_key_enabled = old.facts.bucket_key_enabled;
  STRONGROOM_ASSIGN_OR_RETURN(
      Wrapped wrapped, AuditedWrap(keys_, encryption, dek.reveal(), object_id, binding,
                                   {audit_, "Reencrypt", "", record.bucket, record.key}));

  // The same layout: one stream per stored stream, same part number and
  // plaintext size, each in a blob of its own (so any object size works).
  format::Manifest manifest{object_id, {}, binding};
  NewBlobs blobs(backend_);
  uint64_t offset = 0;
  std::vector<Bytes> md5s;  // of each stream's plaintext, as read back
  for (const format::StreamInfo& stream : reader->manifest().streams) {
    std::string blob_name;
    if (stream.part_number == 0) {
      blob_name = ObjectBlobName(object_id);
    } else {
      STRONGROOM_ASSIGN_OR_RETURN(blob_name, PartBlobName(object_id_bytes, stream.part_number));
    }
    STRONGROOM_ASSIGN_OR_RETURN(auto plaintext,
                                source.NewRangeSource(offset, stream.plaintext_size));
    ProgressSource body(*plaintext, on_bytes);
    STRONGROOM_ASSIGN_OR_RETURN(auto blob, backend_.Create(blob_name));
    STRONGROOM_ASSIGN_OR_RETURN(
        EncryptedBody encrypted,
        EncryptBody(dek.reveal(), object_id, stream.part_number, body, {}, *blob));
    if (encrypted.stream.plaintext_size != stream.plaintext_size) {
      return DataLoss("part " + std::to_string(stream.part_number) + " of " + record.bucket + "/" +
                      record.key + " read back with another size");
    }
    if (stream.part_number == 0 && reader->md5() &&
        !crypto::ConstantTimeEquals(*reader->md5(), encrypted.md5)) {
      return DataLoss("the plaintext of " + record.bucket + "/" + record.key +
                      " read back disagrees with its sealed MD5");
    }
    STRONGROOM_RETURN_IF_ERROR(blob->Commit());
    blobs.Add(std::move(blob_name));
    manifest.streams.push_back(encrypted.stream);
    md5s.push_back(encrypted.md5);
    offset += stream.plaintext_size;
  }
  if (offset != record.size) {
    return DataLoss("the manifest of " + record.bucket + "/" + record.key +
                    " disagrees with its size");
  }
  // The ETag is about to be sealed, so it must be the true one: verified on
  // open if it was sealed before, else recomputed here from the data just
  // read (a multipart ETag was not authenticated until now).
  if (md5s.empty()) return DataLoss("the manifest of " + record.bucket + "/" + record.key + " is empty");
  if (!reader->sealed_etag()) {
    const format::ObjectId old_id = ToObjectId(record.object_id);
    const bool multipart = PartsCount(record.etag) != 0;
    std::string expected;
    if (multipart) {
      STRONGROOM_ASSIGN_OR_RETURN(
          expected, MultipartEtagFor(old.facts.mode, reader->dek().reveal(), old_id, md5s));
    } else {
      STRONGROOM_ASSIGN_OR_RETURN(
          expected, EtagFor(old.facts.mode, reader->dek().reveal(), old_id, md5s.front()));
    }
    if (expected != record.etag) {
      return DataLoss("the catalog ETag of " + record.bucket + "/" + record.key +
                      " does not follow from its data: not re-encrypted");
    }
  }

  catalog::Object object;
  object.bucket = record.bucket;
  object.key = record.key;
  object.object_id = object_id_bytes;
  object.size = record.size;
  object.etag = record.etag;  // kept byte for byte, and sealed below
  object.last_modified_ms = condition.last_modified_ms;
  object.owner = record.owner;
  const Attributes& visible = source.info().attributes;
  STRONGROOM_ASSIGN_OR_RETURN(
      object.attributes,
      SealObjectAttributes(dek.reveal(), object_id, binding, 0,
                           WithEtag(WithMd5(visible, reader->md5()), record.etag)));
  STRONGROOM_ASSIGN_OR_RETURN(object.manifest, format::SealManifest(manifest, dek.reveal()));
  object.envelope = std::move(wrapped.envelope);
  STRONGROOM_ASSIGN_OR_RETURN(object.encryption, EncodeStoredEncryption(wrapped.stored));
  object.kek_ref = std::move(wrapped.kek_ref);
  object.blobs = blobs.names();
  auto replaced =
      catalog_.ReplaceObjectIfUnchanged(object, condition.object_id, condition.envelope);
  if (!replaced) {
    ErrorCode code = replaced.error().code();
    if (code == ErrorCode::kFailedPrecondition || code == ErrorCode::kNotFound) {
      return OperationAborted("the object was replaced or deleted while it was rewritten");
    }
    return tl::unexpected(replaced.error());
  }
  blobs.Keep();
  DeleteBlobs(replaced->blobs);  // deferred while readers (`source` too) hold them
  ObjectInfo info = InfoOf(object, visible, PartsCount(object.etag), wrapped.stored.facts);
  info.part_sizes = PartSizes(manifest);
  return info;
}

Result<catalog::ListObjectsPage> ObjectStore::ListObjects(
    const catalog::ListObjectsRequest& request) {
  STRONGROOM_RETURN_IF_ERROR(HeadBucket(request.bucket));
  return catalog_.ListObjects(request);
}

// --------------------------------------------------------------- multipart

Result<catalog::Upload> ObjectStore::CreateUpload(const WriteRequest& request) {
  STRONGROOM_RETURN_IF_ERROR(ValidateObjectKey(request.key));
  STRONGROOM_RETURN_IF_ERROR(HeadBucket(request.bucket));
  STRONGROOM_ASSIGN_OR_RETURN(format::ObjectId object_id, format::NewObjectId());
  format::Binding binding{request.bucket, request.key};
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek, format::NewDek());
  STRONGROOM_ASSIGN_OR_RETURN(
      Wrapped wrapped,
      AuditedWrap(keys_, request.encryption, dek.reveal(), object_id, binding,
                  {audit_, "CreateMultipartUpload", request.principal, request.bucket,
                   request.key}));
  if (request.encryption.mode == SseMode::kCustomer) {
    // AWS clients complete SSE-C uploads without the key: the manifest gets
    // a key of its own that the key ring can open (FORMAT.md §13.3).
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes manifest_key,
                                crypto::RandomSecret(format::kDekSize));
    STRONGROOM_ASSIGN_OR_RETURN(
        wrapped.stored.sealed_manifest_key,
        keys_.Seal(kManifestKeyPurpose, manifest_key.reveal(), object_id));
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes upload_id, crypto::RandomBytes(16));
  catalog::Upload upload;
  upload.upload_id = HexEncode(upload_id);
  upload.bucket = request.bucket;
  upload.key = request.key;
  upload.object_id.assign(object_id.begin(), object_id.end());
  upload.initiated_ms = NowMs();
  upload.owner = request.owner;
  STRONGROOM_ASSIGN_OR_RETURN(
      upload.attributes,
      SealObjectAttributes(dek.reveal(), object_id, binding, 0, request.attributes));
  upload.envelope = std::move(wrapped.envelope);
  STRONGROOM_ASSIGN_OR_RETURN(upload.encryption, EncodeStoredEncryption(wrapped.stored));
  auto created = catalog_.CreateUpload(upload);
  if (!created && created.error().code() == ErrorCode::kNotFound) {
    return NoSuchBucket();
  }
  STRONGROOM_RETURN_IF_ERROR(created);
  return upload;
}

Result<catalog::Upload> ObjectStore::GetUploadFor(const std::string& upload_id,
                                                  const std::string& bucket,
                                                  const std::string& key) {
  auto upload = catalog_.GetUpload(upload_id);
  if ((!upload && upload.error().code() == ErrorCode::kNotFound) ||
      (upload && (upload->bucket != bucket || upload->key != key))) {
    STRONGROOM_RETURN_IF_ERROR(HeadBucket(bucket));
    return NoSuchUpload();
  }
  if (upload && upload->object_id.size() != format::kObjectIdSize) {
    return DataLoss("upload " + upload_id + " has a malformed object id");
  }
  return upload;
}

Result<ObjectEncryption> ObjectStore::UploadEncryption(const std::string& upload_id,
                                                       const std::string& bucket,
                                                       const std::string& key) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload, GetUploadFor(upload_id, bucket, key));
  STRONGROOM_ASSIGN_OR_RETURN(StoredEncryption stored, DecodeStoredEncryption(upload.encryption));
  return stored.facts;
}

Result<PartInfo> ObjectStore::UploadPart(const std::string& upload_id, const std::string& bucket,
                                         const std::string& key, uint32_t part_number,
                                         ByteSource& body, const BodyChecks& checks,
                                         const ReadAccess& access) {
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return S3Error(ErrorCode::kInvalidArgument, "InvalidArgument",
                   "Part number must be an integer between 1 and 10000, inclusive");
  }
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload, GetUploadFor(upload_id, bucket, key));
  format::ObjectId object_id = ToObjectId(upload.object_id);
  format::Binding binding{bucket, key};
  STRONGROOM_ASSIGN_OR_RETURN(StoredEncryption stored, DecodeStoredEncryption(upload.encryption));
  STRONGROOM_ASSIGN_OR_RETURN(
      crypto::SecretBytes dek,
      AuditedUnwrap(keys_, stored, upload.envelope, object_id, binding, access,
                    KeyUse::kUploadPart, {audit_, "UploadPart", access.principal, bucket, key}));
  STRONGROOM_ASSIGN_OR_RETURN(std::string blob_name, PartBlobName(upload.object_id, part_number));
  STRONGROOM_ASSIGN_OR_RETURN(auto blob, backend_.Create(blob_name));
  STRONGROOM_ASSIGN_OR_RETURN(
      EncryptedBody encrypted,
      EncryptBody(dek.reveal(), object_id, part_number, body, checks, *blob));
  catalog::Part part;
  part.upload_id = upload_id;
  part.part_number = part_number;
  part.size = encrypted.stream.plaintext_size;
  STRONGROOM_ASSIGN_OR_RETURN(part.etag, EtagFor(stored.facts.mode, dek.reveal(), object_id,
                                                 encrypted.md5));
  part.last_modified_ms = NowMs();
  part.stream_info = EncodeStreamInfo(encrypted.stream);
  part.blob = blob_name;
  Attributes attributes;
  if (encrypted.checksum) {
    attributes.push_back(*encrypted.checksum);
  }
  STRONGROOM_ASSIGN_OR_RETURN(part.attributes, SealObjectAttributes(dek.reveal(), object_id,
                                                                    binding, part_number,
                                                                    attributes));
  STRONGROOM_RETURN_IF_ERROR(blob->Commit());
  auto replaced = catalog_.PutPart(part);
  if (!replaced) {
    (void)backend_.Delete(blob_name);
    if (replaced.error().code() == ErrorCode::kNotFound) {
      return NoSuchUpload();
    }
    return tl::unexpected(replaced.error());
  }
  if (*replaced) {
    DeleteBlobs({(*replaced)->blob});
  }
  return PartInfo{part_number, part.size, part.etag, part.last_modified_ms,
                  std::move(attributes)};
}

Result<ObjectInfo> ObjectStore::CompleteUpload(const std::string& upload_id,
                                               const std::string& bucket, const std::string& key,
                                               const std::vector<CompletedPart>& parts,
                                               const ReadAccess& access) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload, GetUploadFor(upload_id, bucket, key));
  format::ObjectId object_id = ToObjectId(upload.object_id);
  format::Binding binding{bucket, key};
  STRONGROOM_ASSIGN_OR_RETURN(StoredEncryption stored, DecodeStoredEncryption(upload.encryption));
  // The DEK when it can be had: always but for SSE-C without the key, which
  // AWS allows here (the manifest has its own key then). A key that is
  // given must be the upload's.
  std::optional<crypto::SecretBytes> dek;
  if (stored.facts.mode != SseMode::kCustomer || access.customer_key != nullptr) {
    STRONGROOM_ASSIGN_OR_RETURN(
        dek, AuditedUnwrap(keys_, stored, upload.envelope, object_id, binding, access,
                           KeyUse::kComplete,
                           {audit_, "CompleteMultipartUpload", access.principal, bucket, key}));
  }
  if (parts.empty()) {
    return S3Error(ErrorCode::kInvalidArgument, "MalformedXML",
                   "You must specify at least one part");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].part_number <= parts[i - 1].part_number) {
      return S3Error(ErrorCode::kInvalidArgument, "InvalidPartOrder",
                     "The list of parts was not in ascending order. The parts list must be "
                     "specified in order by part number.");
    }
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::Part> stored_parts,
                              UploadStillThere(catalog_.GetParts(upload_id)));
  format::Manifest manifest{object_id, {}, binding};
  catalog::Object object;
  STRONGROOM_ASSIGN_OR_RETURN(auto md5s, crypto::Digest::Create(crypto::Digest::Algorithm::kMd5));
  // Every listed part must exist with its ETag before sizes are judged.
  std::vector<const catalog::Part*> chosen;
  for (const CompletedPart& wanted : parts) {
    auto it = std::find_if(stored_parts.begin(), stored_parts.end(),
                           [&](const catalog::Part& p) { return p.part_number == wanted.part_number; });
    if (it == stored_parts.end() || StripQuotes(wanted.etag) != it->etag) {
      return S3Error(ErrorCode::kInvalidArgument, "InvalidPart",
                     "One or more of the specified parts could not be found. The part may not "
                     "have been uploaded, or the specified entity tag may not match the part's "
                     "entity tag.");
    }
    chosen.push_back(&*it);
  }
  for (size_t i = 0; i < chosen.size(); ++i) {
    const catalog::Part* it = chosen[i];
    if (i + 1 < chosen.size() && it->size < kMinPartSize) {
      return S3Error(ErrorCode::kInvalidArgument, "EntityTooSmall",
                     "Your proposed upload is smaller than the minimum allowed object size.");
    }
    STRONGROOM_ASSIGN_OR_RETURN(format::StreamInfo info, DecodeStreamInfo(*it));
    manifest.streams.push_back(info);
    object.blobs.push_back(it->blob);
    object.size += it->size;
    auto raw = HexDecode(it->etag);
    if (!raw) {
      return DataLoss("part " + std::to_string(it->part_number) + " has a corrupt ETag record");
    }
    STRONGROOM_RETURN_IF_ERROR(md5s->Update(*raw));
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes manifest_key,
                              ManifestKey(keys_, stored, object_id, dek ? &*dek : nullptr));
  STRONGROOM_ASSIGN_OR_RETURN(object.manifest,
                              format::SealManifest(manifest, manifest_key.reveal()));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes etag_md5, md5s->Finish());
  object.bucket = bucket;
  object.key = key;
  object.object_id = upload.object_id;
  object.etag = HexEncode(etag_md5) + "-" + std::to_string(parts.size());
  object.last_modified_ms = NowMs();
  object.owner = upload.owner;
  object.attributes = upload.attributes;  // sealed for this object id and binding already
  object.envelope = upload.envelope;
  object.encryption = upload.encryption;
  if (stored.facts.mode != SseMode::kCustomer) {
    STRONGROOM_ASSIGN_OR_RETURN(format::Envelope envelope, format::ParseEnvelope(upload.envelope));
    object.kek_ref = envelope.provider_id + ":" + envelope.key_id;
  }
  auto unreferenced = catalog_.CompleteUpload(upload_id, object);
  if (!unreferenced) {
    if (unreferenced.error().code() == ErrorCode::kNotFound) {
      return NoSuchUpload();
    }
    return tl::unexpected(unreferenced.error());
  }
  DeleteBlobs(*unreferenced);
  Attributes attributes;
  if (dek) {
    STRONGROOM_ASSIGN_OR_RETURN(OpenedAttributes opened,
                                OpenObjectAttributes(dek->reveal(), object_id, binding, 0,
                                                     object.attributes));
    attributes = std::move(opened.visible);
  }
  return InfoOf(object, std::move(attributes), static_cast<uint32_t>(parts.size()),
                stored.facts);
}

Result<void> ObjectStore::AbortUpload(const std::string& upload_id, const std::string& bucket,
                                      const std::string& key) {
  STRONGROOM_RETURN_IF_ERROR(GetUploadFor(upload_id, bucket, key));
  auto blobs = catalog_.AbortUpload(upload_id);
  if (!blobs) {
    if (blobs.error().code() == ErrorCode::kNotFound) {
      return NoSuchUpload();
    }
    return tl::unexpected(blobs.error());
  }
  DeleteBlobs(*blobs);
  return Ok();
}

Result<PartsPage> ObjectStore::ListParts(const std::string& upload_id, const std::string& bucket,
                                         const std::string& key, uint32_t part_number_marker,
                                         size_t max_parts, const ReadAccess& access) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload, GetUploadFor(upload_id, bucket, key));
  format::ObjectId object_id = ToObjectId(upload.object_id);
  format::Binding binding{bucket, key};
  STRONGROOM_ASSIGN_OR_RETURN(StoredEncryption stored, DecodeStoredEncryption(upload.encryption));
  // Checksums are sealed: listed only when the DEK can be had. A key we
  // cannot use just omits them; stored data that fails to authenticate fails.
  std::optional<crypto::SecretBytes> dek;
  if (stored.facts.mode != SseMode::kCustomer || access.customer_key != nullptr) {
    ReadAccess for_listing = access;
    if (stored.facts.mode != SseMode::kCustomer) for_listing.customer_key = nullptr;
    auto unwrapped = AuditedUnwrap(keys_, stored, upload.envelope, object_id, binding,
                                   for_listing, KeyUse::kRead,
                                   {audit_, "ListParts", access.principal, bucket, key});
    if (unwrapped) {
      dek = std::move(*unwrapped);
    } else if (unwrapped.error().code() == ErrorCode::kDataLoss) {
      return tl::unexpected(unwrapped.error());
    }
  }
  STRONGROOM_ASSIGN_OR_RETURN(
      catalog::ListPartsPage page,
      UploadStillThere(catalog_.ListParts(upload_id, part_number_marker, max_parts)));
  PartsPage out;
  out.is_truncated = page.is_truncated;
  out.next_part_number_marker = page.next_part_number_marker;
  for (const catalog::Part& part : page.parts) {
    PartInfo info{part.part_number, part.size, part.etag, part.last_modified_ms, {}};
    if (dek) {
      STRONGROOM_ASSIGN_OR_RETURN(OpenedAttributes opened,
                                  OpenObjectAttributes(dek->reveal(), object_id, binding,
                                                       part.part_number, part.attributes));
      info.attributes = std::move(opened.visible);
    }
    out.parts.push_back(std::move(info));
  }
  return out;
}

Result<catalog::ListUploadsPage> ObjectStore::ListUploads(
    const catalog::ListUploadsRequest& request) {
  STRONGROOM_RETURN_IF_ERROR(HeadBucket(request.bucket));
  return catalog_.ListUploads(request);
}

Result<size_t> ObjectStore::CleanOrphanBlobs() {
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<std::string> referenced, catalog_.ReferencedBlobs());
  std::set<std::string> keep(referenced.begin(), referenced.end());
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<storage::BlobInfo> blobs, backend_.List(""));
  size_t removed = 0;
  for (const storage::BlobInfo& blob : blobs) {
    if (!keep.count(blob.name)) {
      STRONGROOM_RETURN_IF_ERROR(backend_.Delete(blob.name));
      ++removed;
    }
  }
  return removed;
}

void ObjectStore::DeleteBlobs(const std::vector<std::string>& blobs) {
  // Deferred while readers hold them; best effort either way.
  leases_->Delete(blobs);
}


// ------------------------------------------------------------------- names

Result<void> ValidateBucketName(const std::string& name) {
  auto invalid = [&](const std::string& why) {
    return S3Error(ErrorCode::kInvalidArgument, "InvalidBucketName",
                   "The specified bucket is not valid: " + why);
  };
  if (name.size() < 3 || name.size() > 63) {
    return invalid("a bucket name has 3 to 63 characters");
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      return invalid("only lowercase letters, digits, '.' and '-' are allowed");
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) {
    return invalid("a bucket name begins and ends with a letter or digit");
  }
  if (name.find("..") != std::string::npos || name.find(".-") != std::string::npos ||
      name.find("-.") != std::string::npos) {
    return invalid("adjacent periods or a period next to a hyphen are not allowed");
  }
  if (name.rfind("xn--", 0) == 0 || name.rfind("sthree-", 0) == 0 ||
      (name.size() > 8 && name.compare(name.size() - 8, 8, "-s3alias") == 0)) {
    return invalid("reserved prefix or suffix");
  }
  int dots = 0;
  bool ip_like = true;
  for (char c : name) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') ip_like = false;
  }
  if (ip_like && dots == 3) {
    return invalid("a bucket name must not look like an IP address");
  }
  return Ok();
}

Result<void> ValidateObjectKey(const std::string& key) {
  if (key.empty()) {
    return S3Error(ErrorCode::kInvalidArgument, "InvalidArgument", "Object key must not be empty");
  }
  if (key.size() > 1024) {
    return S3Error(ErrorCode::kInvalidArgument, "KeyTooLongError", "Your key is too long");
  }
  if (!IsValidUtf8(key)) {
    return S3Error(ErrorCode::kInvalidArgument, "InvalidArgument",
                   "Object key is not valid UTF-8");
  }
  if (key.find('\0') != std::string::npos) {
    return S3Error(ErrorCode::kInvalidArgument, "InvalidArgument",
                   "Object key must not contain a NUL character");
  }
  // Keys never become file paths here, but "." and ".." segments are what
  // path-traversal attempts look like, and no client produces them.
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view segment(key.data() + start,
                             (slash == std::string::npos ? key.size() : slash) - start);
    if (segment == "." || segment == "..") {
      return S3Error(ErrorCode::kInvalidArgument, "InvalidArgument",
                     "Object key must not contain '.' or '..' path segments");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Ok();
}

}  // namespace strongroom::objects
