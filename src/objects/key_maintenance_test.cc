// SPDX-License-Identifier: Apache-2.0
// KeyMaintenance over the real SqliteCatalog, LocalBackend, KeyDirectory and
// KeyHierarchy: rotation + rewrap leaves every blob byte-identical and every
// object readable, and no object under an old version; SSE-C is skipped;
// uploads in progress are rewrapped and still complete; concurrent
// overwrites and copies in place win over rewrap and re-encryption;
// re-encryption changes data and ids but keeps content, metadata, facts,
// the ETag and a multipart object's part layout, and a tampered ETag or blob
// still fails closed afterwards; a destroyed key makes its objects unreadable with a clear error.

#include "objects/key_maintenance.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/random.h"
#include "keys/hierarchy/key_hierarchy.h"
#include "keys/key_directory.h"
#include "storage/local/local_backend.h"
#include "testing/test_util.h"

namespace strongroom::objects {
namespace {

namespace fs = std::filesystem;
using ::strongroom::testing::Pattern;
using ::strongroom::testing::ScratchDir;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class KeyMaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = catalog::SqliteCatalog::Open(dir_.path() + "/catalog.db");
    ASSERT_TRUE(catalog) << catalog.error().ToString();
    catalog_ = std::move(*catalog);
    directory_ = std::make_unique<keys::KeyDirectory>(*catalog_);
    ASSERT_OK(directory_->EnsureBuiltinKeys());
    ring_ = std::make_unique<keys::KeyHierarchy>(*directory_);
    auto root = crypto::RandomSecret(32);
    ASSERT_TRUE(root);
    ASSERT_OK(ring_->Unseal(std::move(*root)));
    auto backend = storage::LocalBackend::Create(dir_.path() + "/data");
    ASSERT_TRUE(backend);
    backend_ = std::move(*backend);
    store_ = std::make_unique<ObjectStore>(*catalog_, *backend_, *ring_);
    maintenance_ = std::make_unique<KeyMaintenance>(*catalog_, *ring_, *store_);
    ASSERT_OK(store_->CreateBucket("bucket", "owner"));
    auto key = directory_->Create("app", "");
    ASSERT_TRUE(key);
    kms_ = key->key_id;
    customer_key_ = CustomerKey{crypto::SecretBytes::CopyFrom(Pattern(32, 9)), "md5"};
  }

  EncryptionRequest S3() { return {}; }
  EncryptionRequest Kms(std::string context = "") {
    EncryptionRequest request;
    request.mode = SseMode::kKms;
    request.kms_key_id = kms_;
    request.kms_context = std::move(context);
    return request;
  }
  EncryptionRequest SseC() {
    EncryptionRequest request;
    request.mode = SseMode::kCustomer;
    request.customer_key = &customer_key_;
    return request;
  }

  // A write of `key` in "bucket" by "owner".
  static WriteRequest Request(const std::string& key, EncryptionRequest encryption,
                              Attributes attributes) {
    WriteRequest request;
    request.bucket = "bucket";
    request.key = key;
    request.owner = "owner";
    request.attributes = std::move(attributes);
    request.encryption = encryption;
    return request;
  }

  Result<ObjectInfo> Put(const std::string& key, ByteView data, EncryptionRequest encryption,
                         Attributes attributes = {{"Content-Type", "text/plain"},
                                                  {"x-amz-meta-color", "blue"}}) {
    ByteViewSource body(data);
    return store_->PutObject(Request(key, encryption, std::move(attributes)), body);
  }

  Result<Bytes> Get(const std::string& key, const ReadAccess& access = {}) {
    STRONGROOM_ASSIGN_OR_RETURN(auto reader, store_->OpenObject("bucket", key, access));
    STRONGROOM_ASSIGN_OR_RETURN(auto source, reader->NewRangeSource(0, reader->info().size));
    Bytes out(reader->info().size);
    STRONGROOM_ASSIGN_OR_RETURN(size_t got, ReadFull(*source, out));
    if (got != out.size()) return DataLoss("short read");
    return out;
  }

  // Every blob file (name -> contents), temporary files excluded.
  std::map<std::string, std::string> Blobs() {
    std::map<std::string, std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(dir_.path() + "/data")) {
      std::string relative = fs::relative(entry.path(), dir_.path() + "/data").string();
      if (entry.is_regular_file() && relative.rfind("tmp/", 0) != 0) {
        out[relative] = ReadFile(entry.path());
      }
    }
    return out;
  }

  catalog::ObjectKeyRecord Record(const std::string& key) {
    auto object = catalog_->GetObject("bucket", key);
    EXPECT_TRUE(object);
    catalog::ObjectKeyRecord record;
    record.bucket = object->bucket;
    record.key = object->key;
    record.object_id = object->object_id;
    record.size = object->size;
    record.envelope = object->envelope;
    record.encryption = object->encryption;
    record.kek_ref = object->kek_ref;
    return record;
  }

  // Completes a multipart upload of `parts` (part number -> data).
  Result<ObjectInfo> PutMultipart(const std::string& key,
                                  const std::vector<std::pair<uint32_t, Bytes>>& parts,
                                  EncryptionRequest encryption, Attributes attributes) {
    STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload,
                                store_->CreateUpload(Request(key, encryption, std::move(attributes))));
    std::vector<CompletedPart> completed;
    for (const auto& [number, data] : parts) {
      ByteViewSource body(data);
      BodyChecks checks;
      checks.checksum_algorithm = aws::ChecksumAlgorithm::kSha256;
      STRONGROOM_ASSIGN_OR_RETURN(
          PartInfo part,
          store_->UploadPart(upload.upload_id, "bucket", key, number, body, checks, {}));
      completed.push_back({number, part.etag});
    }
    return store_->CompleteUpload(upload.upload_id, "bucket", key, completed, {});
  }

  // CopyObject of `key` onto itself with new metadata `attributes`.
  Result<ObjectInfo> CopyOntoItself(const std::string& key, EncryptionRequest encryption,
                                    Attributes attributes) {
    STRONGROOM_ASSIGN_OR_RETURN(auto source, store_->OpenObject("bucket", key, {}));
    return store_->CopyObject(*source, Request(key, encryption, std::move(attributes)));
  }

  // Plaintext [offset, offset + length) of an object.
  Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length) {
    STRONGROOM_ASSIGN_OR_RETURN(auto reader, store_->OpenObject("bucket", key, {}));
    STRONGROOM_ASSIGN_OR_RETURN(auto source, reader->NewRangeSource(offset, length));
    Bytes out(length);
    STRONGROOM_ASSIGN_OR_RETURN(size_t got, ReadFull(*source, out));
    if (got != out.size()) return DataLoss("short read");
    return out;
  }

  // Rewrites the catalog record of `key` through `change` (a tampering).
  void Tamper(const std::string& key, const std::function<void(catalog::Object&)>& change) {
    auto object = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(object);
    catalog::Object tampered = *object;
    change(tampered);
    ASSERT_TRUE(catalog_->ReplaceObjectIf(tampered, object->object_id));
  }

  uint64_t ObjectsUnder(const std::string& kek_ref) {
    auto usage = catalog_->ObjectUsageByKekRef();
    EXPECT_TRUE(usage);
    for (const auto& u : *usage) {
      if (u.kek_ref == kek_ref) return u.objects;
    }
    return 0;
  }

  ScratchDir dir_;
  std::unique_ptr<catalog::SqliteCatalog> catalog_;
  std::unique_ptr<keys::KeyDirectory> directory_;
  std::unique_ptr<keys::KeyHierarchy> ring_;
  std::unique_ptr<storage::LocalBackend> backend_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<KeyMaintenance> maintenance_;
  std::string kms_;
  CustomerKey customer_key_;
};

TEST_F(KeyMaintenanceTest, RotateAndRewrapKeepBlobsAndReadsAndLeaveNoOldVersion) {
  std::map<std::string, Bytes> content;
  for (int i = 0; i < 7; ++i) {
    std::string key = "s3/" + std::to_string(i);
    content[key] = Pattern(1000 + 7000 * i, i);
    ASSERT_TRUE(Put(key, content[key], S3()));
  }
  for (int i = 0; i < 5; ++i) {
    std::string key = "kms/" + std::to_string(i);
    content[key] = Pattern(20000 + i, 100 + i);
    ASSERT_TRUE(Put(key, content[key], Kms(i % 2 ? R"({"team":"a"})" : "")));
  }
  content["ssec"] = Pattern(5000, 200);
  ASSERT_TRUE(Put("ssec", content["ssec"], SseC()));
  // A multipart KMS object and an upload still in progress.
  Bytes part1 = Pattern(kMinPartSize, 301), part2 = Pattern(1234, 302);
  {
    WriteRequest create;
    create.bucket = "bucket";
    create.key = "multi";
    create.owner = "owner";
    create.encryption = Kms(R"({"m":"1"})");
    auto upload = store_->CreateUpload(create);
    ASSERT_TRUE(upload);
    std::vector<CompletedPart> parts;
    for (auto [number, data] : {std::pair{1u, &part1}, std::pair{2u, &part2}}) {
      ByteViewSource body(*data);
      auto part = store_->UploadPart(upload->upload_id, "bucket", "multi", number, body, {}, {});
      ASSERT_TRUE(part) << part.error().ToString();
      parts.push_back({number, part->etag});
    }
    ASSERT_TRUE(store_->CompleteUpload(upload->upload_id, "bucket", "multi", parts, {}));
    content["multi"] = part1;
    content["multi"].insert(content["multi"].end(), part2.begin(), part2.end());
  }
  auto pending = store_->CreateUpload(Request("pending", Kms(), {}));
  ASSERT_TRUE(pending);
  Bytes pending_part = Pattern(3000, 400);
  {
    ByteViewSource body(pending_part);
    ASSERT_TRUE(store_->UploadPart(pending->upload_id, "bucket", "pending", 1, body, {}, {}));
  }

  const std::string s3_v1 = "strongroom:sse-s3/1", kms_v1 = "strongroom:" + kms_ + "/1";
  EXPECT_EQ(ObjectsUnder(s3_v1), 7u);
  EXPECT_EQ(ObjectsUnder(kms_v1), 6u);

  // Rotate both keys: new writes use version 2 at once.
  auto s3_key = directory_->Rotate(keys::kSseS3KeyId);
  ASSERT_TRUE(s3_key);
  auto kms_key = directory_->Rotate(kms_);
  ASSERT_TRUE(kms_key);
  ASSERT_TRUE(Put("after", Pattern(10, 1), S3()));
  EXPECT_EQ(catalog_->GetObject("bucket", "after")->kek_ref, "strongroom:sse-s3/2");
  content["after"] = Pattern(10, 1);
  // Old objects still read before any rewrap.
  for (const auto& [key, data] : content) {
    ReadAccess access;
    if (key == "ssec") access.customer_key = &customer_key_;
    auto got = Get(key, access);
    ASSERT_TRUE(got) << key << ": " << got.error().ToString();
    EXPECT_EQ(*got, data) << key;
  }

  std::map<std::string, std::string> blobs_before = Blobs();
  std::map<std::string, catalog::Object> records_before;
  for (const auto& [key, data] : content) records_before[key] = *catalog_->GetObject("bucket", key);

  auto s3_summary = maintenance_->RewrapKey(keys::kSseS3KeyId, s3_key->current_version);
  ASSERT_TRUE(s3_summary) << s3_summary.error().ToString();
  EXPECT_EQ(s3_summary->objects_rewrapped, 7u);
  auto kms_summary = maintenance_->RewrapKey(kms_, kms_key->current_version);
  ASSERT_TRUE(kms_summary) << kms_summary.error().ToString();
  EXPECT_EQ(kms_summary->objects_rewrapped, 6u);
  EXPECT_EQ(kms_summary->uploads_rewrapped, 1u);
  EXPECT_EQ(kms_summary->objects_changed, 0u);

  // Not one blob changed, none appeared or vanished.
  EXPECT_EQ(Blobs(), blobs_before);
  // No object is left under version 1; SSE-C is untouched.
  EXPECT_EQ(ObjectsUnder(s3_v1), 0u);
  EXPECT_EQ(ObjectsUnder(kms_v1), 0u);
  EXPECT_EQ(ObjectsUnder("strongroom:sse-s3/2"), 8u);
  EXPECT_EQ(ObjectsUnder("strongroom:" + kms_ + "/2"), 6u);
  EXPECT_EQ(ObjectsUnder(""), 1u);
  auto left = catalog_->CountObjects(KeyMaintenance::RewrapScan(kms_, 2));
  ASSERT_TRUE(left);
  EXPECT_EQ(left->objects, 0u);

  // Only the envelope and kek_ref moved; data, manifest, attributes, ETag
  // and encryption facts are as they were.
  for (const auto& [key, before] : records_before) {
    auto after = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->object_id, before.object_id) << key;
    EXPECT_EQ(after->blobs, before.blobs) << key;
    EXPECT_EQ(after->manifest, before.manifest) << key;
    EXPECT_EQ(after->attributes, before.attributes) << key;
    EXPECT_EQ(after->etag, before.etag) << key;
    EXPECT_EQ(after->encryption, before.encryption) << key;
    bool moved = key != "ssec" && key != "after";
    EXPECT_EQ(after->envelope != before.envelope, moved) << key;
  }
  // Every object reads, with its metadata and facts.
  for (const auto& [key, data] : content) {
    ReadAccess access;
    if (key == "ssec") access.customer_key = &customer_key_;
    auto got = Get(key, access);
    ASSERT_TRUE(got) << key << ": " << got.error().ToString();
    EXPECT_EQ(*got, data) << key;
  }
  auto head = store_->HeadObject("bucket", "kms/1", {});
  ASSERT_TRUE(head);
  EXPECT_EQ(head->encryption.kms_context, R"({"team":"a"})");
  EXPECT_EQ(head->attributes, (Attributes{{"Content-Type", "text/plain"},
                                          {"x-amz-meta-color", "blue"}}));

  // The upload in progress was rewrapped, takes more parts and completes.
  auto upload = catalog_->GetUpload(pending->upload_id);
  ASSERT_TRUE(upload);
  EXPECT_FALSE(KeyMaintenance::UploadUsesKey(*upload, "other"));
  EXPECT_TRUE(KeyMaintenance::UploadUsesKey(*upload, kms_));
  EXPECT_NE(upload->envelope, pending->envelope);
  Bytes pending_part2 = Pattern(10, 401);
  {
    ByteViewSource body(pending_part2);
    ASSERT_TRUE(store_->UploadPart(pending->upload_id, "bucket", "pending", 2, body, {}, {}));
  }
  // Part 1 is below the minimum part size: complete with it alone.
  auto parts = store_->ListParts(pending->upload_id, "bucket", "pending", 0, 10, {});
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->parts.size(), 2u);
  ASSERT_TRUE(store_->CompleteUpload(pending->upload_id, "bucket", "pending",
                                     {{1, parts->parts[0].etag}}, {}));
  auto completed = Get("pending");
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, pending_part);
  EXPECT_EQ(catalog_->GetObject("bucket", "pending")->kek_ref, "strongroom:" + kms_ + "/2");

  // A second pass finds nothing to do.
  auto again = maintenance_->RewrapKey(kms_, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->objects_rewrapped, 0u);
  EXPECT_EQ(again->uploads_rewrapped, 0u);
  auto current = maintenance_->RewrapObject(Record("kms/0"));
  ASSERT_TRUE(current);
  EXPECT_EQ(*current, MaintenanceOutcome::kAlreadyCurrent);
  auto ssec = maintenance_->RewrapObject(Record("ssec"));
  ASSERT_TRUE(ssec);
  EXPECT_EQ(*ssec, MaintenanceOutcome::kSkipped);
}

TEST_F(KeyMaintenanceTest, ConcurrentOverwritesAndCopiesWinOverARewrap) {
  ASSERT_TRUE(Put("a", Pattern(100, 1), Kms()));
  ASSERT_TRUE(Put("b", Pattern(100, 2), Kms()));
  catalog::ObjectKeyRecord stale_a = Record("a");
  catalog::ObjectKeyRecord stale_b = Record("b");
  ASSERT_TRUE(directory_->Rotate(kms_));

  // a is overwritten by a client after the scan read it.
  Bytes newer = Pattern(50, 3);
  ASSERT_TRUE(Put("a", newer, S3()));
  // b is copied onto itself (a new envelope for the same object id) under SSE-S3.
  ASSERT_TRUE(CopyOntoItself("b", S3(), {{"x-amz-meta-new", "yes"}}));
  ASSERT_EQ(catalog_->GetObject("bucket", "b")->object_id, stale_b.object_id);

  auto a = maintenance_->RewrapObject(stale_a);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(*a, MaintenanceOutcome::kChanged);
  auto b = maintenance_->RewrapObject(stale_b);
  ASSERT_TRUE(b) << b.error().ToString();
  EXPECT_EQ(*b, MaintenanceOutcome::kChanged);

  // Both clients' versions are intact.
  EXPECT_EQ(*Get("a"), newer);
  EXPECT_EQ(*Get("b"), Pattern(100, 2));
  auto head = store_->HeadObject("bucket", "b", {});
  ASSERT_TRUE(head);
  EXPECT_EQ(head->encryption.mode, SseMode::kS3);
  EXPECT_EQ(head->attributes, (Attributes{{"x-amz-meta-new", "yes"}}));
}

TEST_F(KeyMaintenanceTest, ReencryptRewritesDataUnderAFreshKeyKeepingContentAndMetadata) {
  Bytes data = Pattern(300000, 5);
  Attributes attributes = {{"Content-Type", "image/png"}, {"x-amz-meta-owner", "me"}};
  ASSERT_TRUE(Put("k", data, Kms(R"({"a":"b"})"), attributes));
  ASSERT_TRUE(Put("ssec", Pattern(10, 6), SseC()));
  auto before = catalog_->GetObject("bucket", "k");
  ASSERT_TRUE(before);
  std::map<std::string, std::string> blobs_before = Blobs();

  uint64_t seen = 0;
  auto outcome = maintenance_->ReencryptObject(Record("k"), [&](size_t n) -> Result<void> {
    seen += n;
    return Ok();
  });
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(*outcome, MaintenanceOutcome::kDone);
  EXPECT_EQ(seen, data.size());

  auto after = catalog_->GetObject("bucket", "k");
  ASSERT_TRUE(after);
  EXPECT_NE(after->object_id, before->object_id);
  EXPECT_NE(after->blobs, before->blobs);
  EXPECT_NE(after->envelope, before->envelope);
  EXPECT_EQ(after->encryption, before->encryption);  // same mode, key and context
  EXPECT_EQ(after->kek_ref, before->kek_ref);
  EXPECT_EQ(after->last_modified_ms, before->last_modified_ms);
  EXPECT_EQ(after->owner, before->owner);
  EXPECT_EQ(after->size, before->size);
  EXPECT_EQ(after->etag, before->etag);  // the opaque SSE-KMS ETag survives the new DEK
  // The old blob is gone, the new one is new.
  auto blobs_after = Blobs();
  EXPECT_EQ(blobs_after.count(before->blobs[0]), 0u);
  EXPECT_EQ(blobs_before.count(after->blobs[0]), 0u);
  EXPECT_EQ(blobs_after.size(), blobs_before.size());

  auto reader = store_->OpenObject("bucket", "k", {});
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->info().etag, before->etag);
  EXPECT_EQ((*reader)->info().attributes, attributes);
  EXPECT_EQ((*reader)->info().encryption.kms_context, R"({"a":"b"})");
  EXPECT_EQ(*Get("k"), data);

  // SSE-C: skipped, untouched. A stale record: changed.
  auto ssec_before = catalog_->GetObject("bucket", "ssec");
  auto skipped = maintenance_->ReencryptObject(Record("ssec"), {});
  ASSERT_TRUE(skipped);
  EXPECT_EQ(*skipped, MaintenanceOutcome::kSkipped);
  EXPECT_EQ(catalog_->GetObject("bucket", "ssec")->object_id, ssec_before->object_id);
  catalog::ObjectKeyRecord stale = Record("k");
  stale.object_id = before->object_id;
  auto changed = maintenance_->ReencryptObject(stale, {});
  ASSERT_TRUE(changed);
  EXPECT_EQ(*changed, MaintenanceOutcome::kChanged);
}

TEST_F(KeyMaintenanceTest, ReencryptKeepsTheEtagAndPartLayoutOfMultipartObjects) {
  // Parts 1, 3 and 4 (a gap: part numbers are bound into each stream),
  // sizes that differ, the last one short.
  const std::vector<std::pair<uint32_t, Bytes>> parts = {
      {1, Pattern(kMinPartSize + 100, 11)}, {3, Pattern(kMinPartSize, 12)}, {4, Pattern(777, 13)}};
  const std::vector<uint64_t> sizes = {kMinPartSize + 100, kMinPartSize, 777};
  Bytes whole;
  for (const auto& part : parts) whole.insert(whole.end(), part.second.begin(), part.second.end());
  const Attributes attributes = {{"Content-Type", "video/mp4"}, {"x-amz-meta-take", "2"}};
  for (const auto& [key, encryption] : {std::pair{std::string("mp-kms"), Kms(R"({"p":"q"})")},
                                        std::pair{std::string("mp-s3"), S3()}}) {
    SCOPED_TRACE(key);
    auto put = PutMultipart(key, parts, encryption, attributes);
    ASSERT_TRUE(put) << put.error().ToString();
    auto head_before = store_->HeadObject("bucket", key, {});
    ASSERT_TRUE(head_before) << head_before.error().ToString();
    EXPECT_EQ(head_before->parts_count, 3u);
    EXPECT_EQ(head_before->part_sizes, sizes);
    auto before = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(before);
    ASSERT_EQ(before->blobs.size(), 3u);
    std::map<std::string, std::string> blobs_before = Blobs();

    // No upload shows while it runs; every plaintext byte is read once.
    uint64_t seen = 0;
    bool upload_seen = false;
    auto outcome = maintenance_->ReencryptObject(Record(key), [&](size_t n) -> Result<void> {
      seen += n;
      catalog::ListUploadsRequest list;
      list.bucket = "bucket";
      auto uploads = catalog_->ListUploads(list);
      if (!uploads || !uploads->uploads.empty()) upload_seen = true;
      return Ok();
    });
    ASSERT_TRUE(outcome) << outcome.error().ToString();
    EXPECT_EQ(*outcome, MaintenanceOutcome::kDone);
    EXPECT_EQ(seen, whole.size());
    EXPECT_FALSE(upload_seen);

    auto after = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(after);
    EXPECT_EQ(after->etag, before->etag);  // "<md5 of part ETags>-3", byte for byte
    EXPECT_NE(after->object_id, before->object_id);
    EXPECT_NE(after->envelope, before->envelope);
    EXPECT_EQ(after->encryption, before->encryption);
    EXPECT_EQ(after->kek_ref, before->kek_ref);
    EXPECT_EQ(after->last_modified_ms, before->last_modified_ms);
    EXPECT_EQ(after->size, before->size);
    // One new blob per part, named for its part number; the old ones are gone.
    ASSERT_EQ(after->blobs.size(), 3u);
    auto blobs_after = Blobs();
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string prefix = "p/" + HexEncode(after->object_id) + "/" +
                           std::to_string(parts[i].first) + "-";
      EXPECT_EQ(after->blobs[i].rfind(prefix, 0), 0u) << after->blobs[i];
      EXPECT_TRUE(backend_->Stat(after->blobs[i])) << after->blobs[i];
      auto gone = backend_->Stat(before->blobs[i]);
      ASSERT_FALSE(gone) << before->blobs[i];
      EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
    }
    EXPECT_EQ(blobs_after.size(), blobs_before.size());
    // Only the other objects' files are byte-identical to one before.
    size_t unchanged = 0;
    for (const auto& [path, bytes] : blobs_after) {
      auto old = blobs_before.find(path);
      if (old != blobs_before.end() && old->second == bytes) ++unchanged;
    }
    EXPECT_EQ(unchanged, blobs_before.size() - 3);

    // Same part count and sizes; each part's byte range reads that part.
    auto head = store_->HeadObject("bucket", key, {});
    ASSERT_TRUE(head) << head.error().ToString();
    EXPECT_EQ(head->etag, before->etag);
    EXPECT_EQ(head->parts_count, 3u);
    EXPECT_EQ(head->part_sizes, sizes);
    EXPECT_EQ(head->attributes, attributes);
    EXPECT_EQ(head->encryption.mode, encryption.mode);
    EXPECT_EQ(head->encryption.kms_context, encryption.kms_context);
    uint64_t offset = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      auto got = GetRange(key, offset, head->part_sizes[i]);
      ASSERT_TRUE(got) << got.error().ToString();
      EXPECT_TRUE(*got == parts[i].second) << "part " << parts[i].first;
      offset += head->part_sizes[i];
    }
    EXPECT_EQ(*Get(key), whole);
    // Nothing to clean up: no orphan, no upload.
    EXPECT_EQ(*store_->CleanOrphanBlobs(), 0u);

    // A copy onto itself that keeps the ETag keeps it sealed.
    {
      auto copied = CopyOntoItself(key, encryption, {{"x-amz-meta-take", "3"}});
      ASSERT_TRUE(copied) << copied.error().ToString();
      EXPECT_EQ(copied->etag, before->etag);
    }
    ASSERT_TRUE(store_->HeadObject("bucket", key, {}));

    // Tampering after the re-encryption fails closed: another ETag in the
    // catalog (same shape, one digit changed), or a flipped ciphertext byte.
    Tamper(key, [](catalog::Object& object) { object.etag[0] = object.etag[0] == '0' ? '1' : '0'; });
    auto head_tampered = store_->HeadObject("bucket", key, {});
    ASSERT_FALSE(head_tampered);
    EXPECT_EQ(head_tampered.error().code(), ErrorCode::kDataLoss);
    EXPECT_FALSE(store_->OpenObject("bucket", key, {}));
    Tamper(key, [&](catalog::Object& object) { object.etag = before->etag; });
    ASSERT_TRUE(store_->HeadObject("bucket", key, {}));
    {
      auto current = catalog_->GetObject("bucket", key);
      ASSERT_TRUE(current);
      auto blob = backend_->Open(current->blobs[1]);
      ASSERT_TRUE(blob);
      Bytes bytes((*blob)->size());
      ASSERT_OK((*blob)->ReadAt(0, bytes));
      bytes[bytes.size() / 2] ^= 0x01;
      auto rewritten = backend_->Create(std::string_view(current->blobs[1]));
      ASSERT_TRUE(rewritten);
      ASSERT_OK((*rewritten)->Write(bytes));
      ASSERT_OK((*rewritten)->Commit());
    }
    auto corrupt = GetRange(key, sizes[0], sizes[1]);
    ASSERT_FALSE(corrupt);
    EXPECT_EQ(corrupt.error().code(), ErrorCode::kDataLoss);
  }
}

TEST_F(KeyMaintenanceTest, ReencryptKeepsSinglePartEtagsAndChecksumsAndTheEtagStaysBound) {
  Bytes data = Pattern(70000, 21);
  for (const auto& [key, encryption] : {std::pair{std::string("kms"), Kms()},
                                        std::pair{std::string("s3"), S3()}}) {
    SCOPED_TRACE(key);
    WriteRequest request = Request(key, encryption, {{"Content-Type", "text/csv"}});
    request.checks.checksum_algorithm = aws::ChecksumAlgorithm::kCrc32c;
    ByteViewSource body(data);
    auto put = store_->PutObject(request, body);
    ASSERT_TRUE(put) << put.error().ToString();
    auto before = store_->HeadObject("bucket", key, {});
    ASSERT_TRUE(before);
    ASSERT_EQ(before->attributes.size(), 2u);  // Content-Type and the CRC32C
    auto old_record = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(old_record);

    auto outcome = maintenance_->ReencryptObject(Record(key), {});
    ASSERT_TRUE(outcome) << outcome.error().ToString();
    EXPECT_EQ(*outcome, MaintenanceOutcome::kDone);
    auto after = store_->HeadObject("bucket", key, {});
    ASSERT_TRUE(after) << after.error().ToString();
    EXPECT_EQ(after->etag, before->etag);
    EXPECT_EQ(after->parts_count, 0u);
    EXPECT_TRUE(after->part_sizes.empty());
    EXPECT_EQ(after->attributes, before->attributes);
    EXPECT_EQ(after->last_modified_ms, before->last_modified_ms);
    EXPECT_NE(catalog_->GetObject("bucket", key)->object_id, old_record->object_id);
    EXPECT_EQ(*Get(key), data);
    // Twice in a row: still the same ETag.
    ASSERT_TRUE(maintenance_->ReencryptObject(Record(key), {}));
    EXPECT_EQ(catalog_->GetObject("bucket", key)->etag, before->etag);
    EXPECT_EQ(*Get(key), data);

    // The catalog ETag is checked against the sealed one: any other fails,
    // including the old record's attributes box (the old DEK's).
    Tamper(key, [](catalog::Object& object) { object.etag[5] = object.etag[5] == 'a' ? 'b' : 'a'; });
    auto tampered = store_->HeadObject("bucket", key, {});
    ASSERT_FALSE(tampered);
    EXPECT_EQ(tampered.error().code(), ErrorCode::kDataLoss);
    Tamper(key, [&](catalog::Object& object) {
      object.etag = before->etag;
      object.attributes = old_record->attributes;
    });
    auto swapped = store_->HeadObject("bucket", key, {});
    ASSERT_FALSE(swapped);
    EXPECT_EQ(swapped.error().code(), ErrorCode::kDataLoss);
  }
}

TEST_F(KeyMaintenanceTest, ReencryptRefusesToSealAnEtagTheDataDoesNotGive) {
  // A multipart ETag is not authenticated until a re-encryption seals it:
  // a planted one (same shape, same part count) must not get sealed.
  const std::vector<std::pair<uint32_t, Bytes>> parts = {{1, Pattern(kMinPartSize, 31)},
                                                         {2, Pattern(1000, 32)}};
  for (const auto& [key, encryption] : {std::pair{std::string("mp-kms"), Kms()},
                                        std::pair{std::string("mp-s3"), S3()}}) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(PutMultipart(key, parts, encryption, {}));
    auto honest = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(honest);
    // Not sealed yet, but its part count must match the manifest already.
    Tamper(key, [&](catalog::Object& object) {
      object.etag = honest->etag.substr(0, honest->etag.size() - 1) + "3";
    });
    auto miscounted = store_->HeadObject("bucket", key, {});
    ASSERT_FALSE(miscounted);
    EXPECT_EQ(miscounted.error().code(), ErrorCode::kDataLoss);
    const std::string planted = std::string(32, 'a') + "-2";
    Tamper(key, [&](catalog::Object& object) { object.etag = planted; });
    std::map<std::string, std::string> blobs_before = Blobs();
    auto outcome = maintenance_->ReencryptObject(Record(key), {});
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().code(), ErrorCode::kDataLoss);
    EXPECT_EQ(catalog_->GetObject("bucket", key)->object_id, honest->object_id);
    EXPECT_EQ(Blobs(), blobs_before);  // nothing new left behind
    // The honest ETag is re-encrypted and sealed.
    Tamper(key, [&](catalog::Object& object) { object.etag = honest->etag; });
    auto done = maintenance_->ReencryptObject(Record(key), {});
    ASSERT_TRUE(done) << done.error().ToString();
    EXPECT_EQ(catalog_->GetObject("bucket", key)->etag, honest->etag);
    // A part count that disagrees with the manifest fails every read.
    Tamper(key, [&](catalog::Object& object) {
      object.etag = honest->etag.substr(0, honest->etag.size() - 1) + "3";
    });
    auto head = store_->HeadObject("bucket", key, {});
    ASSERT_FALSE(head);
    EXPECT_EQ(head.error().code(), ErrorCode::kDataLoss);
  }
  // Single-part under SSE-KMS: the opaque ETag must follow from the data too.
  ASSERT_TRUE(Put("one-kms", Pattern(5000, 33), Kms()));
  auto honest = catalog_->GetObject("bucket", "one-kms");
  ASSERT_TRUE(honest);
  Tamper("one-kms", [&](catalog::Object& object) { object.etag = std::string(32, 'b'); });
  auto outcome = maintenance_->ReencryptObject(Record("one-kms"), {});
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code(), ErrorCode::kDataLoss);
}

TEST_F(KeyMaintenanceTest, ASelfCopyAfterAReencryptionKeepsTheKmsEtag) {
  ASSERT_TRUE(Put("k", Pattern(3000, 41), Kms()));
  const std::string etag = catalog_->GetObject("bucket", "k")->etag;
  auto done = maintenance_->ReencryptObject(Record("k"), {});
  ASSERT_TRUE(done) << done.error().ToString();
  auto copied = CopyOntoItself("k", Kms(), {{"x-amz-meta-note", "replaced"}});
  ASSERT_TRUE(copied) << copied.error().ToString();
  EXPECT_EQ(copied->etag, etag);
  auto head = store_->HeadObject("bucket", "k", {});
  ASSERT_TRUE(head) << head.error().ToString();
  EXPECT_EQ(head->etag, etag);
}

TEST_F(KeyMaintenanceTest, AWriteDuringAReencryptionIsNeverLost) {
  Bytes original = Pattern(200000, 7);
  ASSERT_TRUE(Put("k", original, S3()));
  Bytes client = Pattern(1000, 8);
  bool written = false;
  auto outcome = maintenance_->ReencryptObject(Record("k"), [&](size_t) -> Result<void> {
    if (!written) {
      written = true;  // a client overwrites the object while it streams
      EXPECT_TRUE(Put("k", client, Kms()));
    }
    return Ok();
  });
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(*outcome, MaintenanceOutcome::kChanged);
  EXPECT_EQ(*Get("k"), client);
  EXPECT_EQ(catalog_->GetObject("bucket", "k")->kek_ref, "strongroom:" + kms_ + "/1");
  // The re-encryption left no blob behind: one object, one blob.
  EXPECT_EQ(Blobs().size(), 1u);

  // An abort from the callback (a cancelled job) changes nothing either.
  auto before = catalog_->GetObject("bucket", "k");
  auto aborted = maintenance_->ReencryptObject(
      Record("k"), [](size_t) -> Result<void> { return Unavailable("stopping"); });
  EXPECT_FALSE(aborted);
  EXPECT_EQ(catalog_->GetObject("bucket", "k")->object_id, before->object_id);
  EXPECT_EQ(*Get("k"), client);
  EXPECT_EQ(Blobs().size(), 1u);
}

TEST_F(KeyMaintenanceTest, ADestroyedKeyShredsItsObjectsWithAClearError) {
  ASSERT_TRUE(Put("doomed", Pattern(100, 1), Kms()));
  ASSERT_TRUE(Put("safe", Pattern(100, 2), S3()));
  ASSERT_TRUE(directory_->ScheduleDestroy(kms_, 3600 * 1000));
  auto pending = Get("doomed");
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().reason(), "KMS.KMSInvalidStateException");
  EXPECT_NE(pending.error().message().find("pending deletion"), std::string::npos);
  ASSERT_FALSE(Put("new", Pattern(1, 1), Kms()));

  ASSERT_TRUE(directory_->CancelDestroy(kms_));
  ASSERT_TRUE(directory_->SetState(kms_, keys::KeyState::kEnabled));
  EXPECT_TRUE(Get("doomed"));
  ASSERT_TRUE(directory_->ScheduleDestroy(kms_, 0));
  auto destroyed = Get("doomed");
  ASSERT_FALSE(destroyed);
  EXPECT_EQ(destroyed.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(destroyed.error().reason(), "KMS.KMSInvalidStateException");
  EXPECT_NE(destroyed.error().message().find("crypto-shredded"), std::string::npos);
  EXPECT_FALSE(store_->HeadObject("bucket", "doomed", {}));
  EXPECT_FALSE(maintenance_->RewrapObject(Record("doomed")));
  EXPECT_FALSE(maintenance_->ReencryptObject(Record("doomed"), {}));
  EXPECT_EQ(*Get("safe"), Pattern(100, 2));
  // The object is still listed (its record stays, unreadable).
  EXPECT_TRUE(catalog_->GetObject("bucket", "doomed"));
}

}  // namespace
}  // namespace strongroom::objects
