// SPDX-License-Identifier: Apache-2.0
// The audit trail ObjectStore writes (keys/audit.h): one event per DEK wrap
// and unwrap with the caller, key id and version, mode, bucket, object and
// request, failed uses included; nothing key-derived in any event; and a
// sink that cannot record fails the call instead of using a key untraced.
// Over the real KeyHierarchy, KeyDirectory and SqliteCatalog.

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "aws/checksum.h"
#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/digest.h"
#include "keys/audit.h"
#include "keys/hierarchy/key_hierarchy.h"
#include "keys/key_directory.h"
#include "objects/object_store.h"
#include "storage/memory/memory_backend.h"
#include "testing/test_util.h"

namespace strongroom::objects {
namespace {

using ::strongroom::testing::ScratchDir;

class FakeSink : public keys::AuditSink {
 public:
  Result<void> Record(const keys::AuditEvent& event) override {
    std::lock_guard lock(mutex_);
    if (fail_) return Unavailable("disk full");
    events_.push_back(event);
    return Ok();
  }
  std::vector<keys::AuditEvent> Take() {
    std::lock_guard lock(mutex_);
    return std::exchange(events_, {});
  }
  void Fail(bool fail) {
    std::lock_guard lock(mutex_);
    fail_ = fail;
  }

 private:
  std::mutex mutex_;
  std::vector<keys::AuditEvent> events_;
  bool fail_ = false;
};

// "operation request mode key_id/version ok" for compact comparisons.
std::string Summary(const keys::AuditEvent& e) {
  return e.operation + " " + e.request + " " + e.mode + " " + e.key_id + "/" +
         std::to_string(e.key_version) + (e.ok ? " ok" : " error");
}

std::vector<std::string> Summaries(const std::vector<keys::AuditEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(Summary(e));
  return out;
}

class ObjectStoreAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = catalog::Catalog::Open(dir_.path() + "/catalog.db");
    ASSERT_TRUE(catalog);
    catalog_ = std::move(*catalog);
    directory_ = std::make_unique<keys::KeyDirectory>(*catalog_);
    ASSERT_TRUE(directory_->EnsureBuiltinKeys());
    hierarchy_ = std::make_unique<keys::KeyHierarchy>(*directory_);
    crypto::SecretBytes root(32);
    for (auto& b : root.mutable_reveal()) b = 0x42;
    ASSERT_TRUE(hierarchy_->Unseal(std::move(root)));
    store_ = std::make_unique<ObjectStore>(*catalog_, backend_, *hierarchy_, &sink_);
    ASSERT_TRUE(store_->CreateBucket("bucket", "alice"));
    auto key = directory_->Create("team", "");
    ASSERT_TRUE(key);
    kms_key_ = key->key_id;
    sink_.Take();
  }

  WriteRequest Write(const std::string& key, EncryptionRequest encryption = {}) {
    WriteRequest request;
    request.bucket = "bucket";
    request.key = key;
    request.owner = "alice";
    request.principal = "AKIAALICE";
    request.encryption = encryption;
    return request;
  }
  EncryptionRequest Kms() {
    EncryptionRequest request;
    request.mode = SseMode::kKms;
    request.kms_key_id = kms_key_;
    return request;
  }
  ReadAccess Reader(std::string principal = "AKIABOB") {
    ReadAccess access;
    access.principal = std::move(principal);
    return access;
  }
  Result<ObjectInfo> Put(const WriteRequest& request, std::string_view data = "hello") {
    ByteViewSource body(AsBytes(data));
    return store_->PutObject(request, body);
  }

  ScratchDir dir_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<keys::KeyDirectory> directory_;
  std::unique_ptr<keys::KeyHierarchy> hierarchy_;
  storage::MemoryBackend backend_;
  FakeSink sink_;
  std::unique_ptr<ObjectStore> store_;
  std::string kms_key_;
};

TEST_F(ObjectStoreAuditTest, SseS3WritesAndReadsAreRecordedWithWhoAndWhat) {
  ASSERT_TRUE(Put(Write("dir/a.txt")));
  ASSERT_TRUE(store_->OpenObject("bucket", "dir/a.txt", Reader()));
  ASSERT_TRUE(store_->HeadObject("bucket", "dir/a.txt", Reader("AKIACAROL")));
  auto events = sink_.Take();
  ASSERT_EQ(Summaries(events),
            (std::vector<std::string>{"wrap PutObject SSE-S3 sse-s3/1 ok",
                                      "unwrap GetObject SSE-S3 sse-s3/1 ok",
                                      "unwrap HeadObject SSE-S3 sse-s3/1 ok"}));
  EXPECT_EQ(events[0].access_key, "AKIAALICE");
  EXPECT_EQ(events[1].access_key, "AKIABOB");
  EXPECT_EQ(events[2].access_key, "AKIACAROL");
  for (const auto& e : events) {
    EXPECT_EQ(e.bucket, "bucket");
    EXPECT_EQ(e.object, "dir/a.txt");
    EXPECT_TRUE(e.error.empty());
  }
}

TEST_F(ObjectStoreAuditTest, KmsUsesNameTheKeyVersionAndFailuresAreRecorded) {
  ASSERT_TRUE(Put(Write("k", Kms())));
  ReadAccess denied = Reader();
  denied.may_use_kms_key = [](const std::string&) -> Result<void> {
    return tl::unexpected(Error(ErrorCode::kPermissionDenied, "no grant").WithReason("AccessDenied"));
  };
  EXPECT_FALSE(store_->OpenObject("bucket", "k", denied));
  ASSERT_TRUE(directory_->SetState(kms_key_, keys::KeyState::kDisabled));
  EXPECT_FALSE(Put(Write("k2", Kms())));
  EXPECT_FALSE(store_->OpenObject("bucket", "k", Reader()));
  auto events = sink_.Take();
  std::string id = kms_key_;
  ASSERT_EQ(Summaries(events),
            (std::vector<std::string>{"wrap PutObject SSE-KMS " + id + "/1 ok",
                                      "unwrap GetObject SSE-KMS " + id + "/1 error",
                                      "wrap PutObject SSE-KMS " + id + "/0 error",
                                      "unwrap GetObject SSE-KMS " + id + "/1 error"}));
  EXPECT_EQ(events[1].error, "AccessDenied: no grant");
  EXPECT_EQ(events[2].error.rfind("KMS.DisabledException", 0), 0u) << events[2].error;
  EXPECT_EQ(events[2].object, "k2");
  EXPECT_EQ(events[3].error.rfind("KMS.DisabledException", 0), 0u) << events[3].error;
}

TEST_F(ObjectStoreAuditTest, SseCIsRecordedWithoutAnythingKeyDerived) {
  CustomerKey customer{crypto::SecretBytes(32), ""};
  for (size_t i = 0; i < 32; ++i) customer.key.mutable_reveal()[i] = static_cast<uint8_t>(0xa0 + i);
  customer.key_md5 = aws::Base64Encode(
      *crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, customer.key.reveal()));
  EncryptionRequest sse_c;
  sse_c.mode = SseMode::kCustomer;
  sse_c.customer_key = &customer;
  ASSERT_TRUE(Put(Write("secret", sse_c)));
  ReadAccess with_key = Reader();
  with_key.customer_key = &customer;
  ASSERT_TRUE(store_->OpenObject("bucket", "secret", with_key));
  EXPECT_FALSE(store_->OpenObject("bucket", "secret", Reader()));  // no key: refused, recorded
  auto events = sink_.Take();
  ASSERT_EQ(Summaries(events), (std::vector<std::string>{"wrap PutObject SSE-C /0 ok",
                                                         "unwrap GetObject SSE-C /0 ok",
                                                         "unwrap GetObject SSE-C /0 error"}));
  std::string hex = HexEncode(customer.key.reveal());
  std::string b64 = aws::Base64Encode(customer.key.reveal());
  std::string raw(AsChars(customer.key.reveal()));
  for (const auto& e : events) {
    std::string all = e.operation + e.error + e.access_key + e.actor + e.key_id + e.bucket +
                      e.object + e.request + e.mode + e.method;
    for (const auto& [name, value] : e.details) all += name + value;
    for (const std::string& secret : {hex, b64, raw, customer.key_md5}) {
      EXPECT_EQ(all.find(secret), std::string::npos);
    }
  }
}

TEST_F(ObjectStoreAuditTest, MultipartAndCopiesAreRecordedPerKeyUse) {
  auto upload = store_->CreateUpload(Write("mp", Kms()));
  ASSERT_TRUE(upload);
  ByteViewSource part(AsBytes("part one"));
  auto info = store_->UploadPart(upload->upload_id, "bucket", "mp", 1, part, {}, Reader());
  ASSERT_TRUE(info);
  ASSERT_TRUE(store_->ListParts(upload->upload_id, "bucket", "mp", 0, 100, Reader()));
  ASSERT_TRUE(store_->CompleteUpload(upload->upload_id, "bucket", "mp",
                                     {{1, info->etag}}, Reader()));
  // A copy to another key re-encrypts; a copy onto itself re-wraps.
  auto source = store_->OpenObject("bucket", "mp", Reader());
  ASSERT_TRUE(source);
  ASSERT_TRUE(store_->CopyObject(**source, Write("copy")));
  auto self = store_->OpenObject("bucket", "copy", Reader());
  ASSERT_TRUE(self);
  ASSERT_TRUE(store_->CopyObject(**self, Write("copy", Kms())));
  std::string id = kms_key_;
  EXPECT_EQ(Summaries(sink_.Take()),
            (std::vector<std::string>{"wrap CreateMultipartUpload SSE-KMS " + id + "/1 ok",
                                      "unwrap UploadPart SSE-KMS " + id + "/1 ok",
                                      "unwrap ListParts SSE-KMS " + id + "/1 ok",
                                      "unwrap CompleteMultipartUpload SSE-KMS " + id + "/1 ok",
                                      "unwrap GetObject SSE-KMS " + id + "/1 ok",
                                      "wrap CopyObject SSE-S3 sse-s3/1 ok",
                                      "unwrap GetObject SSE-S3 sse-s3/1 ok",
                                      "wrap CopyObject SSE-KMS " + id + "/1 ok"}));
}

TEST_F(ObjectStoreAuditTest, AKeyUseThatCannotBeRecordedFailsTheCall) {
  ASSERT_TRUE(Put(Write("kept")));
  sink_.Fail(true);
  auto put = Put(Write("untraced"));
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(put.error().reason(), "ServiceUnavailable");
  auto read = store_->OpenObject("bucket", "kept", Reader());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().reason(), "ServiceUnavailable");
  sink_.Fail(false);
  // Nothing was stored for the refused write.
  EXPECT_EQ(store_->HeadObject("bucket", "untraced", Reader()).error().reason(), "NoSuchKey");
  EXPECT_TRUE(store_->OpenObject("bucket", "kept", Reader()));
}

}  // namespace
}  // namespace strongroom::objects
