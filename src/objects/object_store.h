// SPDX-License-Identifier: Apache-2.0
#pragma once

// The use cases of an encrypting object store: buckets, objects and
// multipart uploads. This is where the pieces meet: a PUT reads top to
// bottom as "get a KEK from keys/, make a DEK, encrypt with format/, write a
// blob to storage/, record it in catalog/". Every object is encrypted; there
// is no other path. Synchronous and thread-safe; every method may block.
//
// Errors carry Error::reason() with the S3 error code where one applies
// (NoSuchBucket, NoSuchKey, NoSuchUpload, InvalidPart, InvalidPartOrder,
// EntityTooSmall, EntityTooLarge, BadDigest, BucketNotEmpty,
// BucketAlreadyOwnedByYou, InvalidBucketName, KeyTooLongError,
// InvalidArgument, InvalidRequest, AccessDenied, KMS.NotFoundException,
// KMS.DisabledException, ServiceUnavailable) and, for the SSE cases, AWS's
// exact message.
//
// Encryption (docs/FORMAT.md, docs/ARCHITECTURE.md): every object has a DEK
// wrapped under the KEK of its mode — the SSE-S3 key, a KMS key, or the
// customer's key (SSE-C, never stored). Content headers, user metadata,
// checksums and the plaintext MD5 are sealed under the DEK; the catalog
// holds in clear only what listings need (size, ETag) and the public
// encryption facts (mode, KMS key id, encryption context). The ETag is the
// plaintext MD5 only for SSE-S3; for SSE-KMS and SSE-C it is derived from
// it under the DEK and reveals nothing.
//
// Audit (keys/audit.h): with an AuditSink, every DEK wrap (PutObject,
// CopyObject, CreateMultipartUpload) and unwrap (GetObject/HeadObject,
// UploadPart, CompleteMultipartUpload, ListParts) is recorded with the
// caller's access key (WriteRequest/ReadAccess::principal), the key id and
// version, the mode, bucket, object and result; failed uses too. A use that
// succeeded but cannot be recorded fails the call (kUnavailable,
// ServiceUnavailable): no key is used without a trace.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aws/checksum.h"
#include "base/io.h"
#include "base/result.h"
#include "catalog/catalog.h"
#include "crypto/secret_bytes.h"
#include "keys/audit.h"
#include "keys/key_ring.h"
#include "storage/backend.h"

namespace strongroom::objects {

class BlobLeases;

inline constexpr uint64_t kMaxObjectSize = uint64_t{5} << 30;  // 5 GiB per PUT or part
inline constexpr uint64_t kMinPartSize = uint64_t{5} << 20;    // all parts but the last
inline constexpr uint32_t kMaxPartNumber = 10000;

// Response headers stored with an object (Content-Type, Content-Encoding,
// Content-Disposition, Content-Language, Cache-Control, Expires,
// x-amz-meta-*, x-amz-checksum-*), in the order given.
using Attributes = std::vector<std::pair<std::string, std::string>>;
Bytes EncodeAttributes(const Attributes& attributes);
Result<Attributes> DecodeAttributes(ByteView data);

enum class SseMode { kS3, kKms, kCustomer };

// An SSE-C key as the request carried it, already validated by s3/ (32
// bytes, MD5 matched). Never stored, never logged.
struct CustomerKey {
  crypto::SecretBytes key;
  std::string key_md5;  // base64 MD5 of the key, echoed in responses
};

// What a write asks for, after s3/ applied the bucket default and checked
// the headers, the KMS key's existence, state and the caller's grant.
struct EncryptionRequest {
  SseMode mode = SseMode::kS3;
  std::string kms_key_id;      // canonical KMS key id (keys::KeyDirectory); kKms only and
                               // required there (s3/ resolves the aws/s3 default key)
  std::string kms_context;     // decoded encryption-context JSON; kKms only, may be empty
  bool bucket_key_enabled = false;  // accepted and echoed; no behavioural effect
  const CustomerKey* customer_key = nullptr;  // kCustomer only
};

// The public encryption facts of a stored object or upload.
struct ObjectEncryption {
  SseMode mode = SseMode::kS3;
  std::string kms_key_id;
  std::string kms_context;
  bool bucket_key_enabled = false;
};

// Who reads: the SSE-C key the request carried (nullptr if none) and the
// caller's right to use a KMS key (returns AccessDenied if not; unset
// allows all). It is asked with the object's KMS key id before the key ring
// is, and its error is returned as is.
struct ReadAccess {
  const CustomerKey* customer_key = nullptr;
  std::function<Result<void>(const std::string& kms_key_id)> may_use_kms_key;
  std::string principal{};  // the caller's access key, for the audit log (s3/ sets it)
};

// A bucket's default encryption (Put/Get/DeleteBucketEncryption). The
// default of a bucket nobody configured is SSE-S3, as on AWS since 2023.
struct BucketEncryption {
  SseMode default_mode = SseMode::kS3;  // kS3 or kKms
  std::string kms_key_id;               // canonical; empty = the aws/s3 key
  bool bucket_key_enabled = false;
  bool block_sse_c = false;             // BlockedEncryptionTypes: SSE-C
};

struct ObjectInfo {
  std::string bucket;
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes
  int64_t last_modified_ms = 0;
  std::string owner;
  Attributes attributes;      // empty when returned by a call that did not unseal them
  uint32_t parts_count = 0;  // 0 for single-part objects
  ObjectEncryption encryption;
  // A multipart object opened by HeadObject or OpenObject: the plaintext
  // size of each part, in part order (parts_count entries; GET ?partNumber=N
  // serves the N-th). Empty otherwise.
  std::vector<uint64_t> part_sizes{};
};

// What to check while a body streams in.
struct BodyChecks {
  std::optional<Bytes> content_md5;  // raw 16 bytes (Content-MD5 decoded)
  // Compute this checksum and store it with the object.
  std::optional<aws::ChecksumAlgorithm> checksum_algorithm;
  // Called after the body ended: the expected checksum (base64), if the
  // client sent one (header or trailer). A mismatch fails with BadDigest.
  std::function<std::optional<std::string>()> expected_checksum;
};

struct WriteRequest {
  std::string bucket;
  std::string key;
  std::string owner;
  Attributes attributes;
  BodyChecks checks;
  EncryptionRequest encryption;
  std::string principal{};  // the caller's access key, for the audit log (s3/ sets it)
};

// A rewrite by objects::KeyMaintenance (ObjectStore::Reencrypt) replaces the
// object only if the stored version still has this object id and envelope,
// and keeps this last-modified time.
struct ReplaceCondition {
  Bytes object_id;
  Bytes envelope;
  int64_t last_modified_ms = 0;
};

struct PartInfo {
  uint32_t part_number = 0;
  uint64_t size = 0;
  std::string etag;
  int64_t last_modified_ms = 0;
  Attributes attributes;  // checksums
};

struct PartsPage {
  std::vector<PartInfo> parts;
  bool is_truncated = false;
  uint32_t next_part_number_marker = 0;
};

struct CompletedPart {
  uint32_t part_number = 0;
  std::string etag;  // with or without quotes
};

// Reads one object's plaintext. Holds its blobs open, so it keeps reading
// the version it opened even if the object is replaced meanwhile.
class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  virtual const ObjectInfo& info() const = 0;
  // A source yielding plaintext [offset, offset + length), decrypting only
  // the chunks it touches. Its reads fail with kDataLoss if stored data does
  // not authenticate. kOutOfRange if the range passes the end.
  virtual Result<std::unique_ptr<ByteSource>> NewRangeSource(uint64_t offset,
                                                             uint64_t length) = 0;
};

class ObjectStore {
 public:
  // `audit` (may be null: no audit trail) must outlive the store.
  ObjectStore(catalog::Catalog& catalog, storage::Backend& backend, keys::KeyRing& keys,
              keys::AuditSink* audit = nullptr);
  ~ObjectStore();

  // Buckets.
  Result<void> CreateBucket(const std::string& name, const std::string& owner);
  Result<void> DeleteBucket(const std::string& name);
  Result<catalog::Bucket> HeadBucket(const std::string& name);
  Result<std::vector<catalog::Bucket>> ListBuckets();
  Result<BucketEncryption> GetBucketEncryption(const std::string& name);
  Result<void> PutBucketEncryption(const std::string& name, const BucketEncryption& config);
  Result<void> DeleteBucketEncryption(const std::string& name);  // back to SSE-S3

  // Objects.
  Result<ObjectInfo> PutObject(const WriteRequest& request, ByteSource& body);
  // Reads unwrap the DEK: SSE-C objects need the right customer key
  // (InvalidRequest if none or if one is given for a non-SSE-C object,
  // AccessDenied if wrong), SSE-KMS objects an allowed, enabled key (the key
  // ring's KMS.* and ServiceUnavailable errors as they come). HEAD unwraps
  // too: it returns the sealed attributes. Stored metadata that fails
  // authentication (envelope under a KEK we hold, manifest, attributes,
  // facts that disagree with the envelope, an ETag the sealed ETag or MD5
  // contradicts) is kDataLoss.
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key,
                                const ReadAccess& access);
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket,
                                                   const std::string& key,
                                                   const ReadAccess& access);
  // Deleting a missing object succeeds (S3 semantics); a missing bucket fails.
  Result<void> DeleteObject(const std::string& bucket, const std::string& key);
  // Copies `source` (already opened, so conditions can be checked first) to
  // `destination`, re-encrypting under a new data key. A copy onto itself
  // (same bucket and key, same stored version) re-wraps the DEK under the
  // destination's encryption and re-seals the attributes without touching
  // the data blobs; kFailedPrecondition (reason "OperationAborted") if the object was
  // replaced meanwhile. The re-wrap keeps the source's checksums unless
  // `destination.attributes` carries its own; if destination.checks asks for
  // a checksum that is not stored, the copy re-encrypts instead.
  Result<ObjectInfo> CopyObject(ObjectReader& source, const WriteRequest& destination);
  Result<catalog::ListObjectsPage> ListObjects(const catalog::ListObjectsRequest& request);

  // Multipart uploads. Every call names the bucket and key the upload was
  // created for; a mismatch is NoSuchUpload.
  Result<catalog::Upload> CreateUpload(const WriteRequest& request);
  // The upload's encryption facts (for response headers).
  Result<ObjectEncryption> UploadEncryption(const std::string& upload_id,
                                            const std::string& bucket, const std::string& key);
  // An SSE-C upload needs the same customer key on every part (InvalidRequest
  // if missing or different); other uploads refuse one.
  Result<PartInfo> UploadPart(const std::string& upload_id, const std::string& bucket,
                              const std::string& key, uint32_t part_number, ByteSource& body,
                              const BodyChecks& checks, const ReadAccess& access);
  // Needs no customer key (AWS completes SSE-C uploads without one); a key
  // that is given must be the upload's.
  Result<ObjectInfo> CompleteUpload(const std::string& upload_id, const std::string& bucket,
                                    const std::string& key,
                                    const std::vector<CompletedPart>& parts,
                                    const ReadAccess& access);
  Result<void> AbortUpload(const std::string& upload_id, const std::string& bucket,
                           const std::string& key);
  // Part checksums are sealed: they are listed when the DEK can be
  // unwrapped (always for SSE-S3/KMS, with the key for SSE-C), else omitted.
  Result<PartsPage> ListParts(const std::string& upload_id,
                                           const std::string& bucket, const std::string& key,
                                           uint32_t part_number_marker, size_t max_parts,
                                           const ReadAccess& access);
  Result<catalog::ListUploadsPage> ListUploads(const catalog::ListUploadsRequest& request);

  // Re-encryption (objects::KeyMaintenance, never an S3 request): rewrites
  // the object `source` reads under a fresh DEK and object id, with the same
  // encryption facts (mode, KMS key, context), attributes, owner,
  // last-modified time, ETag (byte for byte) and part layout: one stream per
  // part with the same part numbers and sizes, so objects of any size can be
  // rewritten and a multipart object stays one (FORMAT.md §13.2). The ETag
  // no longer follows from the new DEK, so it is sealed in the attributes
  // (`:etag`) and reads check the catalog's against it. Replaced only if the
  // stored object still has `condition`'s object id and envelope, else
  // kFailedPrecondition (reason OperationAborted) and nothing changes. Every
  // new blob is committed before the catalog names any; a failure deletes
  // them, a crash leaves orphans for CleanOrphanBlobs. No multipart upload is
  // created. `on_bytes` (may be empty) is called with the plaintext bytes
  // read; its error aborts. SSE-C objects: kInvalidArgument (the server
  // holds no key for them). `source` must come from this store's OpenObject.
  Result<ObjectInfo> Reencrypt(ObjectReader& source,
                               const ReplaceCondition& condition,
                               const std::function<Result<void>(size_t bytes)>& on_bytes);

  // Deletes blobs no object or part references (left by a crash between a
  // blob commit and its catalog record). Run before serving. Returns the count.
  Result<size_t> CleanOrphanBlobs();

 private:
  Result<catalog::Upload> GetUploadFor(const std::string& upload_id, const std::string& bucket,
                                       const std::string& key);
  void DeleteBlobs(const std::vector<std::string>& blobs);
  // PutObject, recorded in the audit trail as `request`.
  Result<ObjectInfo> Put(const WriteRequest& request, ByteSource& body, const char* request_name);

  catalog::Catalog& catalog_;
  storage::Backend& backend_;
  keys::KeyRing& keys_;
  keys::AuditSink* audit_ = nullptr;
  std::unique_ptr<BlobLeases> leases_;
};

// S3 naming rules. kInvalidArgument with reason InvalidBucketName /
// KeyTooLongError / InvalidArgument.
Result<void> ValidateBucketName(const std::string& name);
Result<void> ValidateObjectKey(const std::string& key);

}  // namespace strongroom::objects
