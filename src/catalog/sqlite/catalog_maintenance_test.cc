// SPDX-License-Identifier: Apache-2.0
// SqliteCatalog, key maintenance (issue #5): scans by kek_ref paged by
// (bucket, key), counts and per-kek_ref usage, conditional envelope updates
// of objects and uploads, ReplaceObjectIfUnchanged, the KMS key lifecycle
// (conditional state changes, destruction that removes every salt and
// wrapped KEK and leaves nothing of them in the database files), and jobs.

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "catalog/sqlite/sqlite_catalog.h"
#include "testing/test_util.h"

namespace strongroom::catalog {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::ScratchDir;

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

Object MakeObject(const std::string& bucket, const std::string& key, const std::string& kek_ref,
                  uint64_t size, const std::string& tag = "v1") {
  Object object;
  object.bucket = bucket;
  object.key = key;
  object.object_id = B("id:" + bucket + "/" + key + ":" + tag);
  object.size = size;
  object.etag = "etag";
  object.owner = "AKIA";
  object.attributes = B("attributes");
  object.manifest = B("manifest");
  object.envelope = B("envelope:" + key + ":" + tag);
  object.encryption = B("facts");
  object.kek_ref = kek_ref;
  object.blobs = {"o/" + bucket + "/" + key + "/" + tag};
  return object;
}

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/catalog.db";
    auto opened = SqliteCatalog::Open(path_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    catalog_ = std::move(*opened);
    for (const char* bucket : {"alpha", "beta", "gamma"}) {
      ASSERT_OK(catalog_->CreateBucket(Bucket{bucket, 1, "AKIA", {}}));
    }
  }

  // Every (bucket, key) the scan yields, page by page of `page` rows.
  std::vector<std::string> ScanAll(ObjectScanRequest request, size_t page) {
    std::vector<std::string> out;
    request.limit = page;
    for (int guard = 0; guard < 1000; ++guard) {
      auto rows = catalog_->ScanObjects(request);
      EXPECT_TRUE(rows) << rows.error().ToString();
      if (!rows) return out;
      EXPECT_LE(rows->size(), page);
      for (const auto& row : *rows) out.push_back(row.bucket + "/" + row.key);
      if (rows->size() < page) return out;
      request.after_bucket = rows->back().bucket;
      request.after_key = rows->back().key;
    }
    ADD_FAILURE() << "scan did not end";
    return out;
  }

  ScratchDir dir_;
  std::string path_;
  std::unique_ptr<SqliteCatalog> catalog_;
};

TEST_F(MaintenanceTest, ScanFiltersByKekRefPrefixAndExclusionInBucketKeyOrder) {
  // Key K has versions 1..3; L shares K's id as a prefix but is another key.
  std::map<std::string, std::string> refs = {
      {"alpha/a", "strongroom:K/1"},        {"alpha/b", "strongroom:K/3"},
      {"alpha/c", "strongroom:L/1"},        {"alpha/d", ""},
      {"beta/a", "strongroom:K/2"},         {"beta/b\xc3\xa9", "strongroom:K/1"},
      {"gamma/x", "strongroom:K/1"},        {"gamma/y", "strongroom:sse-s3/1"},
  };
  for (const auto& [name, ref] : refs) {
    auto slash = name.find('/');
    ASSERT_OK(catalog_->PutObject(MakeObject(name.substr(0, slash), name.substr(slash + 1), ref,
                                             100 + name.size())));
  }
  // Key prefix "strongroom:K/" (not "strongroom:K", which would match L too
  // if L were "K2"), excluding the current version 3.
  ObjectScanRequest request;
  request.kek_ref_prefix = "strongroom:K/";
  request.exclude_kek_ref = "strongroom:K/3";
  std::vector<std::string> want = {"alpha/a", "beta/a", "beta/b\xc3\xa9", "gamma/x"};
  for (size_t page : {1u, 2u, 3u, 100u}) {
    EXPECT_EQ(ScanAll(request, page), want) << "page " << page;
  }
  auto counted = catalog_->CountObjects(request);
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->objects, 4u);
  uint64_t bytes = 0;
  for (const auto& name : want) bytes += 100 + name.size();
  EXPECT_EQ(counted->bytes, bytes);

  // One bucket, from a cursor inside it and from before it.
  request.bucket = "beta";
  EXPECT_EQ(ScanAll(request, 1), (std::vector<std::string>{"beta/a", "beta/b\xc3\xa9"}));
  request.after_bucket = "beta";
  request.after_key = "a";
  auto rest = catalog_->ScanObjects(request);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].key, "b\xc3\xa9");
  request.after_bucket = "gamma";
  request.after_key = "";
  rest = catalog_->ScanObjects(request);
  ASSERT_TRUE(rest);
  EXPECT_TRUE(rest->empty());
  request.after_bucket = "alpha";
  request.after_key = "zzz";
  EXPECT_EQ(catalog_->ScanObjects(request)->size(), 2u);
  counted = catalog_->CountObjects(request);
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->objects, 2u);

  // No filters: everything, SSE-C included; "" excluded: only server-held keys.
  ObjectScanRequest all;
  EXPECT_EQ(ScanAll(all, 3).size(), refs.size());
  all.exclude_kek_ref = "";
  EXPECT_EQ(ScanAll(all, 3).size(), refs.size() - 1);

  // The record carries what a rewrap needs.
  ObjectScanRequest one;
  one.kek_ref_prefix = "strongroom:sse-s3/";
  auto rows = catalog_->ScanObjects(one);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  Object expected = MakeObject("gamma", "y", "strongroom:sse-s3/1", 100 + 7);
  EXPECT_EQ((*rows)[0].object_id, expected.object_id);
  EXPECT_EQ((*rows)[0].envelope, expected.envelope);
  EXPECT_EQ((*rows)[0].encryption, expected.encryption);
  EXPECT_EQ((*rows)[0].size, expected.size);
  EXPECT_EQ((*rows)[0].kek_ref, "strongroom:sse-s3/1");

  // Usage per kek_ref, sorted, with SSE-C as "".
  auto usage = catalog_->ObjectUsageByKekRef();
  ASSERT_TRUE(usage);
  std::map<std::string, uint64_t> objects;
  std::vector<std::string> order;
  for (const auto& u : *usage) {
    objects[u.kek_ref] = u.objects;
    order.push_back(u.kek_ref);
  }
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(objects[""], 1u);
  EXPECT_EQ(objects["strongroom:K/1"], 3u);
  EXPECT_EQ(objects["strongroom:K/2"], 1u);
  EXPECT_EQ(objects["strongroom:K/3"], 1u);
  EXPECT_EQ(objects.size(), 6u);
}

TEST_F(MaintenanceTest, UpdateEnvelopeIsConditionalOnObjectIdAndEnvelope) {
  Object object = MakeObject("alpha", "k", "strongroom:K/1", 10);
  ASSERT_OK(catalog_->PutObject(object));
  // Wrong object id, wrong envelope: nothing changes.
  EXPECT_TRUE(FailsWith(catalog_->UpdateEnvelope("alpha", "k", B("other"), object.envelope,
                                                 B("new"), "strongroom:K/2"),
                        ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(catalog_->UpdateEnvelope("alpha", "k", object.object_id, B("stale"),
                                                 B("new"), "strongroom:K/2"),
                        ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(catalog_->UpdateEnvelope("alpha", "missing", object.object_id,
                                                 object.envelope, B("new"), "strongroom:K/2"),
                        ErrorCode::kNotFound));
  auto stored = catalog_->GetObject("alpha", "k");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->envelope, object.envelope);
  EXPECT_EQ(stored->kek_ref, "strongroom:K/1");

  ASSERT_OK(catalog_->UpdateEnvelope("alpha", "k", object.object_id, object.envelope, B("new"),
                                     "strongroom:K/2"));
  stored = catalog_->GetObject("alpha", "k");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->envelope, B("new"));
  EXPECT_EQ(stored->kek_ref, "strongroom:K/2");
  // Everything else is untouched, blobs included.
  EXPECT_EQ(stored->object_id, object.object_id);
  EXPECT_EQ(stored->manifest, object.manifest);
  EXPECT_EQ(stored->attributes, object.attributes);
  EXPECT_EQ(stored->blobs, object.blobs);
  // A second rewrap from the old envelope loses.
  EXPECT_TRUE(FailsWith(catalog_->UpdateEnvelope("alpha", "k", object.object_id, object.envelope,
                                                 B("newer"), "strongroom:K/3"),
                        ErrorCode::kFailedPrecondition));
}

TEST_F(MaintenanceTest, ReplaceObjectIfUnchangedNeedsTheSameIdAndEnvelope) {
  Object object = MakeObject("alpha", "k", "strongroom:K/1", 10);
  ASSERT_OK(catalog_->PutObject(object));
  Object next = MakeObject("alpha", "k", "strongroom:K/1", 10, "v2");
  EXPECT_TRUE(FailsWith(catalog_->ReplaceObjectIfUnchanged(next, object.object_id, B("x")),
                        ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(catalog_->ReplaceObjectIfUnchanged(next, B("x"), object.envelope),
                        ErrorCode::kFailedPrecondition));
  Object elsewhere = MakeObject("beta", "k", "", 1);
  EXPECT_TRUE(FailsWith(catalog_->ReplaceObjectIfUnchanged(elsewhere, B("x"), B("y")),
                        ErrorCode::kNotFound));
  auto replaced = catalog_->ReplaceObjectIfUnchanged(next, object.object_id, object.envelope);
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  EXPECT_EQ(replaced->blobs, object.blobs);
  auto stored = catalog_->GetObject("alpha", "k");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->object_id, next.object_id);
  EXPECT_EQ(stored->blobs, next.blobs);
}

TEST_F(MaintenanceTest, UploadsScanAndConditionalEnvelopeUpdate) {
  for (const char* id : {"u3", "u1", "u2"}) {
    Upload upload;
    upload.upload_id = id;
    upload.bucket = "alpha";
    upload.key = "k";
    upload.object_id = B("oid");
    upload.envelope = B(std::string("env-") + id);
    ASSERT_OK(catalog_->CreateUpload(upload));
  }
  auto first = catalog_->ScanUploads("", 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].upload_id, "u1");
  EXPECT_EQ((*first)[1].upload_id, "u2");
  auto rest = catalog_->ScanUploads("u2", 2);
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].upload_id, "u3");
  EXPECT_EQ((*rest)[0].envelope, B("env-u3"));

  EXPECT_TRUE(FailsWith(catalog_->UpdateUploadEnvelope("u1", B("stale"), B("new")),
                        ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(catalog_->UpdateUploadEnvelope("nope", B("env-u1"), B("new")),
                        ErrorCode::kNotFound));
  ASSERT_OK(catalog_->UpdateUploadEnvelope("u1", B("env-u1"), B("new")));
  auto upload = catalog_->GetUpload("u1");
  ASSERT_TRUE(upload);
  EXPECT_EQ(upload->envelope, B("new"));
}

TEST_F(MaintenanceTest, KmsKeyStateChangesAreConditional) {
  ASSERT_OK(catalog_->CreateKmsKey(KmsKey{"k", "", "enabled", 1, 1, "customer", "strongroom"},
                                   KmsKeyVersion{"k", 1, B("salt-1"), 1}));
  EXPECT_TRUE(FailsWith(catalog_->UpdateKmsKeyState("k", "disabled", "pending-destroy", 5),
                        ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(catalog_->UpdateKmsKeyState("nope", "enabled", "disabled", 0),
                        ErrorCode::kNotFound));
  ASSERT_OK(catalog_->UpdateKmsKeyState("k", "enabled", "pending-destroy", 5000));
  auto key = catalog_->GetKmsKey("k");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->state, "pending-destroy");
  EXPECT_EQ(key->destroy_ms, 5000);
  auto keys = catalog_->ListKmsKeys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].destroy_ms, 5000);
}

// Whether `needle` occurs in any file of `dir` (the database, its WAL...).
bool AnyFileContains(const std::string& dir, ByteView needle) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string_view wanted = AsChars(needle);
    if (data.find(wanted) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST_F(MaintenanceTest, DestroyKmsKeyRemovesEverySaltFromTheFiles) {
  Bytes salt1 = ::strongroom::testing::Pattern(32, 1);
  Bytes salt2 = ::strongroom::testing::Pattern(32, 2);
  Bytes other_salt = ::strongroom::testing::Pattern(32, 3);
  ASSERT_OK(catalog_->CreateKmsKey(KmsKey{"k", "", "enabled", 1, 1, "customer", "strongroom"},
                                   KmsKeyVersion{"k", 1, salt1, 1}));
  ASSERT_OK(catalog_->AddKmsKeyVersion(KmsKeyVersion{"k", 2, salt2, 2}));
  Bytes wrapped = ::strongroom::testing::Pattern(60, 4);  // a provider-wrapped KEK
  ASSERT_OK(catalog_->SetKmsKeyVersionWrapped("k", 2, wrapped));
  ASSERT_OK(catalog_->CreateKmsKey(KmsKey{"o", "", "enabled", 1, 1, "customer", "strongroom"},
                                   KmsKeyVersion{"o", 1, other_salt, 1}));
  ASSERT_TRUE(AnyFileContains(dir_.path(), salt1));  // the probe works
  ASSERT_TRUE(AnyFileContains(dir_.path(), wrapped));

  // Only a pending key, only once due.
  EXPECT_TRUE(FailsWith(catalog_->DestroyKmsKey("k", 100), ErrorCode::kFailedPrecondition));
  ASSERT_OK(catalog_->UpdateKmsKeyState("k", "enabled", "pending-destroy", 1000));
  EXPECT_TRUE(FailsWith(catalog_->DestroyKmsKey("k", 999), ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(catalog_->DestroyKmsKey("nope", 999), ErrorCode::kNotFound));
  ASSERT_TRUE(catalog_->GetKmsKeyVersion("k", 1));

  ASSERT_OK(catalog_->DestroyKmsKey("k", 1000));
  auto key = catalog_->GetKmsKey("k");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->state, "destroyed");
  EXPECT_EQ(key->destroy_ms, 1000);
  EXPECT_EQ(key->current_version, 2u);  // the history stays
  EXPECT_TRUE(FailsWith(catalog_->GetKmsKeyVersion("k", 1), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->GetKmsKeyVersion("k", 2), ErrorCode::kNotFound));
  EXPECT_TRUE(catalog_->GetKmsKeyVersion("o", 1));
  EXPECT_TRUE(FailsWith(catalog_->DestroyKmsKey("k", 2000), ErrorCode::kFailedPrecondition));

  // Nothing of the salts is left in the database file or the WAL, even
  // while this connection stays open; the other key's salt is.
  EXPECT_FALSE(AnyFileContains(dir_.path(), salt1));
  EXPECT_FALSE(AnyFileContains(dir_.path(), salt2));
  EXPECT_FALSE(AnyFileContains(dir_.path(), wrapped));
  EXPECT_TRUE(AnyFileContains(dir_.path(), other_salt));
}

TEST_F(MaintenanceTest, ProviderKeyOwnershipAndItsDestructionAreRecorded) {
  KmsKey row{"p", "", "enabled", 1, 1, "customer", "kmip", 0, "kmip-uid-7"};
  row.provider_key_owned = true;
  ASSERT_OK(catalog_->CreateKmsKey(row, KmsKeyVersion{"p", 1, Bytes(32, 9), 1}));
  ASSERT_OK(catalog_->CreateKmsKey(KmsKey{"e", "", "enabled", 1, 1, "customer", "kmip", 0, "x"},
                                   KmsKeyVersion{"e", 1, Bytes(32, 8), 1}));
  auto owned = catalog_->GetKmsKey("p");
  ASSERT_TRUE(owned);
  EXPECT_TRUE(owned->provider_key_owned);
  EXPECT_EQ(owned->provider_key_outcome, "");
  EXPECT_EQ(owned->provider_key_settled_ms, 0);
  auto external = catalog_->GetKmsKey("e");
  ASSERT_TRUE(external);
  EXPECT_FALSE(external->provider_key_owned);

  // Only once the KMS key itself is destroyed.
  EXPECT_TRUE(
      FailsWith(catalog_->SettleKmsProviderKey("p", "destroyed", 5), ErrorCode::kFailedPrecondition));
  EXPECT_TRUE(FailsWith(catalog_->SettleKmsProviderKey("nope", "destroyed", 5), ErrorCode::kNotFound));
  ASSERT_OK(catalog_->UpdateKmsKeyState("p", "enabled", "pending-destroy", 10));
  ASSERT_OK(catalog_->DestroyKmsKey("p", 10));
  ASSERT_OK(catalog_->SettleKmsProviderKey("p", "not-found", 20));
  ASSERT_OK(catalog_->SettleKmsProviderKey("p", "kept: a reason", 25));  // the first stands
  EXPECT_EQ(catalog_->GetKmsKey("p")->provider_key_outcome, "not-found");
  ASSERT_OK(catalog_->SettleKmsProviderKey("p", "destroyed", 30));  // but this replaces it
  ASSERT_OK(catalog_->SettleKmsProviderKey("p", "kept: a reason", 20));
  auto keys = catalog_->ListKmsKeys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].key_id, "p");
  EXPECT_EQ((*keys)[0].provider_key_outcome, "destroyed");
  EXPECT_EQ((*keys)[0].provider_key_settled_ms, 30);
  EXPECT_EQ((*keys)[0].provider_key, "kmip-uid-7");  // named still, for the record
}

TEST_F(MaintenanceTest, JobsRoundTripAndUpdate) {
  Job job;
  job.job_id = "j1";
  job.kind = "reencrypt";
  job.state = "queued";
  job.params = "bucket=b";
  job.cursor = Bytes{'o', 0, 'x'};
  job.objects_total = 7;
  job.bytes_total = 700;
  job.created_ms = 20;
  job.updated_ms = 20;
  ASSERT_OK(catalog_->CreateJob(job));
  EXPECT_TRUE(FailsWith(catalog_->CreateJob(job), ErrorCode::kAlreadyExists));
  Job earlier = job;
  earlier.job_id = "j0";
  earlier.created_ms = 10;
  ASSERT_OK(catalog_->CreateJob(earlier));

  job.state = "running";
  job.cursor = Bytes{'o', 0, 'y', 0, 'z'};
  job.objects_done = 3;
  job.bytes_done = 300;
  job.objects_skipped = 1;
  job.objects_failed = 2;
  job.updated_ms = 30;
  job.finished_ms = 40;
  job.message = "m";
  ASSERT_OK(catalog_->UpdateJob(job));
  auto stored = catalog_->GetJob("j1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, "running");
  EXPECT_EQ(stored->cursor, job.cursor);
  EXPECT_EQ(stored->objects_done, 3u);
  EXPECT_EQ(stored->bytes_done, 300u);
  EXPECT_EQ(stored->objects_skipped, 1u);
  EXPECT_EQ(stored->objects_failed, 2u);
  EXPECT_EQ(stored->objects_total, 7u);
  EXPECT_EQ(stored->bytes_total, 700u);
  EXPECT_EQ(stored->created_ms, 20);
  EXPECT_EQ(stored->updated_ms, 30);
  EXPECT_EQ(stored->finished_ms, 40);
  EXPECT_EQ(stored->message, "m");
  EXPECT_EQ(stored->params, "bucket=b");

  auto jobs = catalog_->ListJobs();
  ASSERT_TRUE(jobs);
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].job_id, "j0");
  EXPECT_EQ((*jobs)[1].job_id, "j1");

  Job missing = job;
  missing.job_id = "nope";
  EXPECT_TRUE(FailsWith(catalog_->UpdateJob(missing), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->GetJob("nope"), ErrorCode::kNotFound));

  // Another connection sees the committed state (the job survives a restart).
  catalog_.reset();
  auto reopened = SqliteCatalog::Open(path_);
  ASSERT_TRUE(reopened);
  auto again = (*reopened)->GetJob("j1");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->cursor, job.cursor);
}

}  // namespace
}  // namespace strongroom::catalog
