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
// InvalidArgument).

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

struct ObjectInfo {
  std::string bucket;
  std::string key;
  uint64_t size = 0;
  std::string etag;  // without quotes
  int64_t last_modified_ms = 0;
  std::string owner;
  Attributes attributes;
  uint32_t parts_count = 0;  // 0 for single-part objects
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
};

struct PartInfo {
  uint32_t part_number = 0;
  uint64_t size = 0;
  std::string etag;
  int64_t last_modified_ms = 0;
  Attributes attributes;  // checksums
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
  ObjectStore(catalog::Catalog& catalog, storage::Backend& backend, keys::KeyRing& keys);
  ~ObjectStore();

  // Buckets.
  Result<void> CreateBucket(const std::string& name, const std::string& owner);
  Result<void> DeleteBucket(const std::string& name);
  Result<catalog::Bucket> HeadBucket(const std::string& name);
  Result<std::vector<catalog::Bucket>> ListBuckets();

  // Objects.
  Result<ObjectInfo> PutObject(const WriteRequest& request, ByteSource& body);
  Result<ObjectInfo> HeadObject(const std::string& bucket, const std::string& key);
  Result<std::unique_ptr<ObjectReader>> OpenObject(const std::string& bucket,
                                                   const std::string& key);
  // Deleting a missing object succeeds (S3 semantics); a missing bucket fails.
  Result<void> DeleteObject(const std::string& bucket, const std::string& key);
  // Copies `source` (already opened, so conditions can be checked first) to
  // `destination`, re-encrypting under a new data key.
  Result<ObjectInfo> CopyObject(ObjectReader& source, const WriteRequest& destination);
  Result<catalog::ListObjectsPage> ListObjects(const catalog::ListObjectsRequest& request);

  // Multipart uploads. Every call names the bucket and key the upload was
  // created for; a mismatch is NoSuchUpload.
  Result<catalog::Upload> CreateUpload(const WriteRequest& request);
  Result<PartInfo> UploadPart(const std::string& upload_id, const std::string& bucket,
                              const std::string& key, uint32_t part_number, ByteSource& body,
                              const BodyChecks& checks);
  Result<ObjectInfo> CompleteUpload(const std::string& upload_id, const std::string& bucket,
                                    const std::string& key,
                                    const std::vector<CompletedPart>& parts);
  Result<void> AbortUpload(const std::string& upload_id, const std::string& bucket,
                           const std::string& key);
  Result<catalog::ListPartsPage> ListParts(const std::string& upload_id,
                                           const std::string& bucket, const std::string& key,
                                           uint32_t part_number_marker, size_t max_parts);
  Result<catalog::ListUploadsPage> ListUploads(const catalog::ListUploadsRequest& request);

  // Deletes blobs no object or part references (left by a crash between a
  // blob commit and its catalog record). Run before serving. Returns the count.
  Result<size_t> CleanOrphanBlobs();

 private:
  Result<catalog::Upload> GetUploadFor(const std::string& upload_id, const std::string& bucket,
                                       const std::string& key);
  void DeleteBlobs(const std::vector<std::string>& blobs);

  catalog::Catalog& catalog_;
  storage::Backend& backend_;
  keys::KeyRing& keys_;
  std::unique_ptr<BlobLeases> leases_;
};

// S3 naming rules. kInvalidArgument with reason InvalidBucketName /
// KeyTooLongError / InvalidArgument.
Result<void> ValidateBucketName(const std::string& name);
Result<void> ValidateObjectKey(const std::string& key);

}  // namespace strongroom::objects
