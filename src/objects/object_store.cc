// SPDX-License-Identifier: Apache-2.0
#include "objects/object_store.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <set>

#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "format/envelope.h"
#include "format/manifest.h"
#include "format/object_reader.h"
#include "format/stream.h"
#include "objects/blob_leases.h"

namespace strongroom::objects {
namespace {

tl::unexpected<Error> S3Error(ErrorCode code, std::string reason, std::string message) {
  return tl::unexpected(Error(code, std::move(message)).WithReason(std::move(reason)));
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

Result<crypto::SecretBytes> UnwrapFor(keys::KeyRing& keys, ByteView envelope_bytes,
                                      const format::ObjectId& object_id,
                                      const format::Binding& binding) {
  STRONGROOM_ASSIGN_OR_RETURN(format::Envelope envelope, format::ParseEnvelope(envelope_bytes));
  STRONGROOM_ASSIGN_OR_RETURN(keys::Kek kek, keys.FindKek(envelope.provider_id, envelope.key_id));
  auto dek = format::UnwrapDek(envelope, kek.material->reveal(), object_id, binding);
  if (!dek) {
    // The catalog's envelope failed authentication: stored metadata is corrupt.
    return DataLoss("the object's data key does not unwrap: " + dek.error().message());
  }
  return dek;
}

Result<std::pair<crypto::SecretBytes, Bytes>> NewWrappedDek(keys::KeyRing& keys,
                                                           const format::ObjectId& object_id,
                                                           const format::Binding& binding) {
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek, format::NewDek());
  STRONGROOM_ASSIGN_OR_RETURN(keys::Kek kek, keys.CurrentKek());
  STRONGROOM_ASSIGN_OR_RETURN(
      format::Envelope envelope,
      format::WrapDek(format::WrapScheme::kLocalKek, kek.provider_id, kek.key_id,
                      kek.material->reveal(), dek.reveal(), object_id, binding));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes serialized, format::SerializeEnvelope(envelope));
  return std::make_pair(std::move(dek), std::move(serialized));
}

ObjectInfo InfoOf(const catalog::Object& object, Attributes attributes, uint32_t parts_count) {
  return ObjectInfo{object.bucket, object.key, object.size, object.etag, object.last_modified_ms,
                    object.owner,  std::move(attributes), parts_count};
}

uint32_t PartsCount(const std::string& etag) {
  auto dash = etag.rfind('-');
  if (dash == std::string::npos) return 0;
  return static_cast<uint32_t>(std::strtoul(etag.c_str() + dash + 1, nullptr, 10));
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
  StoredObjectReader(ObjectInfo info, BlobLeases& leases, std::vector<std::string> leased)
      : info_(std::move(info)), leases_(leases), leased_(std::move(leased)) {}
  ~StoredObjectReader() override {
    reader_.reset();
    blobs_.reset();
    leases_.Release(leased_);
  }

  // Completes construction once the blobs are leased.
  void Attach(std::unique_ptr<LazyBlobSource> blobs,
              std::unique_ptr<format::ObjectRangeReader> reader) {
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

 private:
  ObjectInfo info_;
  BlobLeases& leases_;
  std::vector<std::string> leased_;
  std::unique_ptr<LazyBlobSource> blobs_;
  std::unique_ptr<format::ObjectRangeReader> reader_;
};

}  // namespace

ObjectStore::ObjectStore(catalog::Catalog& catalog, storage::Backend& backend,
                         keys::KeyRing& keys)
    : catalog_(catalog), backend_(backend), keys_(keys),
      leases_(std::make_unique<BlobLeases>(backend)) {}

ObjectStore::~ObjectStore() = default;

// ------------------------------------------------------------------ buckets

Result<void> ObjectStore::CreateBucket(const std::string& name, const std::string& owner) {
  STRONGROOM_RETURN_IF_ERROR(ValidateBucketName(name));
  auto created = catalog_.CreateBucket(catalog::Bucket{name, NowMs(), owner});
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
    return S3Error(ErrorCode::kNotFound, "NoSuchBucket", "The specified bucket does not exist");
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
    return S3Error(ErrorCode::kNotFound, "NoSuchBucket", "The specified bucket does not exist");
  }
  return bucket;
}

Result<std::vector<catalog::Bucket>> ObjectStore::ListBuckets() { return catalog_.ListBuckets(); }

// ------------------------------------------------------------------ objects

Result<ObjectInfo> ObjectStore::PutObject(const WriteRequest& request, ByteSource& body) {
  STRONGROOM_RETURN_IF_ERROR(ValidateObjectKey(request.key));
  STRONGROOM_RETURN_IF_ERROR(HeadBucket(request.bucket));
  STRONGROOM_ASSIGN_OR_RETURN(format::ObjectId object_id, format::NewObjectId());
  format::Binding binding{request.bucket, request.key};
  STRONGROOM_ASSIGN_OR_RETURN(auto wrapped, NewWrappedDek(keys_, object_id, binding));
  std::string blob_name = ObjectBlobName(object_id);
  STRONGROOM_ASSIGN_OR_RETURN(auto blob, backend_.Create(blob_name));
  STRONGROOM_ASSIGN_OR_RETURN(
      EncryptedBody encrypted,
      EncryptBody(wrapped.first.reveal(), object_id, 0, body, request.checks, *blob));

  format::Manifest manifest{object_id, {encrypted.stream}, binding};
  STRONGROOM_ASSIGN_OR_RETURN(Bytes sealed, format::SealManifest(manifest, wrapped.first.reveal()));
  Attributes attributes = request.attributes;
  if (encrypted.checksum) {
    attributes.push_back(*encrypted.checksum);
  }
  catalog::Object object;
  object.bucket = request.bucket;
  object.key = request.key;
  object.object_id.assign(object_id.begin(), object_id.end());
  object.size = encrypted.stream.plaintext_size;
  object.etag = HexEncode(encrypted.md5);
  object.last_modified_ms = NowMs();
  object.owner = request.owner;
  object.attributes = EncodeAttributes(attributes);
  object.manifest = std::move(sealed);
  object.envelope = std::move(wrapped.second);
  object.blobs = {blob_name};
  // The blob is durable before the catalog names it; a crash in between
  // leaves an orphan blob, removed at the next start.
  STRONGROOM_RETURN_IF_ERROR(blob->Commit());
  auto replaced = catalog_.PutObject(object);
  if (!replaced) {
    (void)backend_.Delete(blob_name);
    if (replaced.error().code() == ErrorCode::kNotFound) {
      return S3Error(ErrorCode::kNotFound, "NoSuchBucket", "The specified bucket does not exist");
    }
    return tl::unexpected(replaced.error());
  }
  if (*replaced) {
    DeleteBlobs((*replaced)->blobs);
  }
  return InfoOf(object, std::move(attributes), 0);
}

Result<ObjectInfo> ObjectStore::HeadObject(const std::string& bucket, const std::string& key) {
  auto object = catalog_.GetObject(bucket, key);
  if (!object) {
    if (object.error().code() == ErrorCode::kNotFound) {
      if (!catalog_.GetBucket(bucket)) {
        return S3Error(ErrorCode::kNotFound, "NoSuchBucket", "The specified bucket does not exist");
      }
      return S3Error(ErrorCode::kNotFound, "NoSuchKey", "The specified key does not exist.");
    }
    return tl::unexpected(object.error());
  }
  STRONGROOM_ASSIGN_OR_RETURN(Attributes attributes, DecodeAttributes(object->attributes));
  return InfoOf(*object, std::move(attributes), PartsCount(object->etag));
}

Result<std::unique_ptr<ObjectReader>> ObjectStore::OpenObject(const std::string& bucket,
                                                              const std::string& key) {
  // Reading the record and leasing its blobs is one step, so an overwrite
  // that commits meanwhile defers deleting them until this reader closes.
  auto found = leases_->AcquireWhile([&] { return catalog_.GetObject(bucket, key); });
  if (!found) {
    if (found.error().code() == ErrorCode::kNotFound) {
      return tl::unexpected(HeadObject(bucket, key).error());
    }
    return tl::unexpected(found.error());
  }
  catalog::Object object = std::move(*found);
  STRONGROOM_ASSIGN_OR_RETURN(Attributes attributes, DecodeAttributes(object.attributes));
  auto reader = std::make_unique<StoredObjectReader>(
      InfoOf(object, std::move(attributes), PartsCount(object.etag)), *leases_, object.blobs);
  format::ObjectId object_id = ToObjectId(object.object_id);
  format::Binding binding{bucket, key};
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek,
                              UnwrapFor(keys_, object.envelope, object_id, binding));
  STRONGROOM_ASSIGN_OR_RETURN(
      format::Manifest manifest,
      format::OpenManifest(object.manifest, dek.reveal(), object_id, binding));
  if (manifest.plaintext_size() != object.size || manifest.streams.size() != object.blobs.size()) {
    return DataLoss("the catalog record of " + bucket + "/" + key +
                    " disagrees with its manifest");
  }
  std::vector<uint64_t> sizes;
  for (const format::StreamInfo& stream : manifest.streams) {
    sizes.push_back(format::StreamSize(stream.plaintext_size));
  }
  auto blobs = std::make_unique<LazyBlobSource>(backend_, object.blobs, std::move(sizes));
  STRONGROOM_ASSIGN_OR_RETURN(auto range_reader,
                              format::ObjectRangeReader::Create(dek.reveal(), manifest, *blobs));
  reader->Attach(std::move(blobs), std::move(range_reader));
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
  STRONGROOM_ASSIGN_OR_RETURN(auto body, source.NewRangeSource(0, source.info().size));
  return PutObject(destination, *body);
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
  STRONGROOM_ASSIGN_OR_RETURN(auto wrapped, NewWrappedDek(keys_, object_id,
                                                          {request.bucket, request.key}));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes upload_id, crypto::RandomBytes(16));
  catalog::Upload upload;
  upload.upload_id = HexEncode(upload_id);
  upload.bucket = request.bucket;
  upload.key = request.key;
  upload.object_id.assign(object_id.begin(), object_id.end());
  upload.initiated_ms = NowMs();
  upload.owner = request.owner;
  upload.attributes = EncodeAttributes(request.attributes);
  upload.envelope = std::move(wrapped.second);
  STRONGROOM_RETURN_IF_ERROR(catalog_.CreateUpload(upload));
  return upload;
}

Result<catalog::Upload> ObjectStore::GetUploadFor(const std::string& upload_id,
                                                  const std::string& bucket,
                                                  const std::string& key) {
  auto upload = catalog_.GetUpload(upload_id);
  if ((!upload && upload.error().code() == ErrorCode::kNotFound) ||
      (upload && (upload->bucket != bucket || upload->key != key))) {
    STRONGROOM_RETURN_IF_ERROR(HeadBucket(bucket));
    return S3Error(ErrorCode::kNotFound, "NoSuchUpload",
                   "The specified upload does not exist. The upload ID may be invalid, or the "
                   "upload may have been aborted or completed.");
  }
  return upload;
}

Result<PartInfo> ObjectStore::UploadPart(const std::string& upload_id, const std::string& bucket,
                                         const std::string& key, uint32_t part_number,
                                         ByteSource& body, const BodyChecks& checks) {
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return S3Error(ErrorCode::kInvalidArgument, "InvalidArgument",
                   "Part number must be an integer between 1 and 10000, inclusive");
  }
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload, GetUploadFor(upload_id, bucket, key));
  format::ObjectId object_id = ToObjectId(upload.object_id);
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek,
                              UnwrapFor(keys_, upload.envelope, object_id, {bucket, key}));
  STRONGROOM_ASSIGN_OR_RETURN(std::string blob_name, PartBlobName(upload.object_id, part_number));
  STRONGROOM_ASSIGN_OR_RETURN(auto blob, backend_.Create(blob_name));
  STRONGROOM_ASSIGN_OR_RETURN(
      EncryptedBody encrypted,
      EncryptBody(dek.reveal(), object_id, part_number, body, checks, *blob));
  catalog::Part part;
  part.upload_id = upload_id;
  part.part_number = part_number;
  part.size = encrypted.stream.plaintext_size;
  part.etag = HexEncode(encrypted.md5);
  part.last_modified_ms = NowMs();
  part.stream_info = EncodeStreamInfo(encrypted.stream);
  part.blob = blob_name;
  Attributes attributes;
  if (encrypted.checksum) {
    attributes.push_back(*encrypted.checksum);
  }
  part.attributes = EncodeAttributes(attributes);
  STRONGROOM_RETURN_IF_ERROR(blob->Commit());
  auto replaced = catalog_.PutPart(part);
  if (!replaced) {
    (void)backend_.Delete(blob_name);
    if (replaced.error().code() == ErrorCode::kNotFound) {
      return S3Error(ErrorCode::kNotFound, "NoSuchUpload", "The specified upload does not exist.");
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
                                               const std::vector<CompletedPart>& parts) {
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload, GetUploadFor(upload_id, bucket, key));
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
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::Part> stored, catalog_.GetParts(upload_id));
  format::ObjectId object_id = ToObjectId(upload.object_id);
  format::Binding binding{bucket, key};
  format::Manifest manifest{object_id, {}, binding};
  catalog::Object object;
  STRONGROOM_ASSIGN_OR_RETURN(auto md5s, crypto::Digest::Create(crypto::Digest::Algorithm::kMd5));
  // Every listed part must exist with its ETag before sizes are judged.
  std::vector<const catalog::Part*> chosen;
  for (const CompletedPart& wanted : parts) {
    auto it = std::find_if(stored.begin(), stored.end(), [&](const catalog::Part& p) {
      return p.part_number == wanted.part_number;
    });
    if (it == stored.end() || StripQuotes(wanted.etag) != it->etag) {
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
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek,
                              UnwrapFor(keys_, upload.envelope, object_id, binding));
  STRONGROOM_ASSIGN_OR_RETURN(object.manifest, format::SealManifest(manifest, dek.reveal()));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes etag_md5, md5s->Finish());
  object.bucket = bucket;
  object.key = key;
  object.object_id = upload.object_id;
  object.etag = HexEncode(etag_md5) + "-" + std::to_string(parts.size());
  object.last_modified_ms = NowMs();
  object.owner = upload.owner;
  object.attributes = upload.attributes;
  object.envelope = upload.envelope;
  auto unreferenced = catalog_.CompleteUpload(upload_id, object);
  if (!unreferenced) {
    if (unreferenced.error().code() == ErrorCode::kNotFound) {
      return S3Error(ErrorCode::kNotFound, "NoSuchUpload", "The specified upload does not exist.");
    }
    return tl::unexpected(unreferenced.error());
  }
  DeleteBlobs(*unreferenced);
  STRONGROOM_ASSIGN_OR_RETURN(Attributes attributes, DecodeAttributes(object.attributes));
  return InfoOf(object, std::move(attributes), static_cast<uint32_t>(parts.size()));
}

Result<void> ObjectStore::AbortUpload(const std::string& upload_id, const std::string& bucket,
                                      const std::string& key) {
  STRONGROOM_RETURN_IF_ERROR(GetUploadFor(upload_id, bucket, key));
  auto blobs = catalog_.AbortUpload(upload_id);
  if (!blobs) {
    if (blobs.error().code() == ErrorCode::kNotFound) {
      return S3Error(ErrorCode::kNotFound, "NoSuchUpload", "The specified upload does not exist.");
    }
    return tl::unexpected(blobs.error());
  }
  DeleteBlobs(*blobs);
  return Ok();
}

Result<catalog::ListPartsPage> ObjectStore::ListParts(const std::string& upload_id,
                                                      const std::string& bucket,
                                                      const std::string& key,
                                                      uint32_t part_number_marker,
                                                      size_t max_parts) {
  STRONGROOM_RETURN_IF_ERROR(GetUploadFor(upload_id, bucket, key));
  return catalog_.ListParts(upload_id, part_number_marker, max_parts);
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
