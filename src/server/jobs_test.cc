// SPDX-License-Identifier: Apache-2.0
// JobRunner and the status over the real stack (SqliteCatalog, LocalBackend,
// KeyDirectory, KeyHierarchy, ObjectStore): jobs wait for the unseal, run,
// resume from a persisted cursor, are throttled and cancelled; the sweep
// destroys due keys; the control socket answers lifecycle commands; the
// status JSON is valid and its numbers add up.

#include "server/jobs.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/random.h"
#include "server/control.h"
#include "server/status.h"
#include "storage/local/local_backend.h"
#include "testing/test_util.h"

namespace strongroom::server {
namespace {

using ::strongroom::testing::Pattern;
using ::strongroom::testing::ScratchDir;

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = catalog::SqliteCatalog::Open(dir_.path() + "/catalog.db");
    ASSERT_TRUE(catalog);
    catalog_ = std::move(*catalog);
    directory_ = std::make_unique<keys::KeyDirectory>(*catalog_);
    ASSERT_OK(directory_->EnsureBuiltinKeys());
    ring_ = std::make_unique<keys::KeyHierarchy>(*directory_);
    auto backend = storage::LocalBackend::Create(dir_.path() + "/data");
    ASSERT_TRUE(backend);
    backend_ = std::move(*backend);
    store_ = std::make_unique<objects::ObjectStore>(*catalog_, *backend_, *ring_);
    maintenance_ = std::make_unique<objects::KeyMaintenance>(*catalog_, *ring_, *store_);
    JobRunnerOptions options;
    options.idle_poll = std::chrono::milliseconds(20);
    options.persist_interval = std::chrono::milliseconds(0);
    options.retry_delay = std::chrono::milliseconds(20);
    options.sweep_interval = std::chrono::milliseconds(50);
    options.page = 3;
    options.on_destroyed = [this](const std::string& id) {
      std::lock_guard lock(mutex_);
      destroyed_.insert(id);
    };
    runner_ = std::make_unique<JobRunner>(*catalog_, *directory_, *ring_, *maintenance_, options);
  }
  void TearDown() override { runner_.reset(); }

  void Unseal() {
    auto root = crypto::RandomSecret(32);
    ASSERT_TRUE(root);
    ASSERT_OK(ring_->Unseal(std::move(*root)));
  }

  void Put(const std::string& bucket, const std::string& key, size_t size,
           objects::EncryptionRequest encryption = {}) {
    objects::WriteRequest request;
    request.bucket = bucket;
    request.key = key;
    request.owner = "owner";
    request.encryption = encryption;
    Bytes data = Pattern(size, key.size());
    ByteViewSource body(data);
    ASSERT_TRUE(store_->PutObject(request, body));
  }

  catalog::Job WaitFinished(const std::string& id, std::chrono::seconds timeout =
                                                       std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto job = catalog_->GetJob(id);
      EXPECT_TRUE(job);
      if (!job || JobFinished(*job) || std::chrono::steady_clock::now() > deadline) return *job;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  ScratchDir dir_;
  std::unique_ptr<catalog::SqliteCatalog> catalog_;
  std::unique_ptr<keys::KeyDirectory> directory_;
  std::unique_ptr<keys::KeyHierarchy> ring_;
  std::unique_ptr<storage::LocalBackend> backend_;
  std::unique_ptr<objects::ObjectStore> store_;
  std::unique_ptr<objects::KeyMaintenance> maintenance_;
  std::unique_ptr<JobRunner> runner_;
  std::mutex mutex_;
  std::set<std::string> destroyed_;
};

TEST_F(JobsTest, ParamsRoundTripAndBadRequestsAreRefused) {
  JobRequest request{kJobReencrypt, "k", "b", 1234};
  auto decoded = DecodeJobParams(kJobReencrypt, EncodeJobParams(request));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->key_id, "k");
  EXPECT_EQ(decoded->bucket, "b");
  EXPECT_EQ(decoded->rate, 1234u);
  EXPECT_FALSE(DecodeJobParams(kJobRewrap, "color=red\n"));
  EXPECT_FALSE(DecodeJobParams(kJobRewrap, "rate=12x\n"));

  EXPECT_FALSE(runner_->Submit({"compress", "", "", 0}));
  EXPECT_FALSE(runner_->Submit({kJobRewrap, "", "", 0}));
  auto unknown = runner_->Submit({kJobRewrap, "no-such-key", "", 0});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().reason(), "KMS.NotFoundException");
  EXPECT_FALSE(runner_->Submit({kJobReencrypt, "", "no-bucket", 0}));
  auto jobs = catalog_->ListJobs();
  ASSERT_TRUE(jobs);
  EXPECT_TRUE(jobs->empty());
}

TEST_F(JobsTest, AJobWaitsForTheUnsealThenRewrapsEverything) {
  Unseal();
  ASSERT_OK(store_->CreateBucket("bkt", "owner"));
  for (int i = 0; i < 8; ++i) Put("bkt", "k" + std::to_string(i), 100 + i);
  ASSERT_TRUE(directory_->Rotate(keys::kSseS3KeyId));

  // A second ring, sealed, shows that nothing runs until it is unsealed.
  keys::KeyHierarchy sealed_ring(*directory_);
  JobRunnerOptions options;
  options.idle_poll = std::chrono::milliseconds(20);
  JobRunner sealed_runner(*catalog_, *directory_, sealed_ring, *maintenance_, options);
  auto job = sealed_runner.Submit({kJobRewrap, std::string(keys::kSseS3KeyId), "", 0});
  ASSERT_TRUE(job) << job.error().ToString();
  EXPECT_EQ(job->state, kJobQueued);
  sealed_runner.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(catalog_->GetJob(job->job_id)->state, kJobQueued);
  sealed_runner.Stop();

  // The unsealed runner picks it up.
  runner_->Start();
  catalog::Job done = WaitFinished(job->job_id);
  EXPECT_EQ(done.state, kJobDone) << done.message;
  EXPECT_EQ(done.objects_done, 8u);
  EXPECT_EQ(done.objects_total, 8u);
  EXPECT_EQ(done.objects_failed, 0u);
  EXPECT_GT(done.finished_ms, 0);
  auto left = catalog_->CountObjects(objects::KeyMaintenance::RewrapScan(keys::kSseS3KeyId, 2));
  ASSERT_TRUE(left);
  EXPECT_EQ(left->objects, 0u);
  EXPECT_FALSE(runner_->Cancel(job->job_id));  // finished
  EXPECT_FALSE(runner_->Cancel("nope"));
}

TEST_F(JobsTest, AJobResumesFromItsPersistedCursor) {
  Unseal();
  ASSERT_OK(store_->CreateBucket("bkt", "owner"));
  for (int i = 0; i < 6; ++i) Put("bkt", "k" + std::to_string(i), 1000);
  std::map<std::string, Bytes> ids;
  for (int i = 0; i < 6; ++i) {
    ids["k" + std::to_string(i)] = catalog_->GetObject("bkt", "k" + std::to_string(i))->object_id;
  }
  // A re-encryption that was running and had done k0..k2 when the server stopped.
  catalog::Job job;
  job.job_id = "resume-me";
  job.kind = kJobReencrypt;
  job.state = kJobRunning;
  job.params = EncodeJobParams({kJobReencrypt, "", "bkt", 0});
  job.cursor = Bytes{'o', 'b', 'k', 't', 0, 'k', '2'};
  job.objects_done = 3;
  job.bytes_done = 3000;
  job.objects_total = 6;
  job.bytes_total = 6000;
  ASSERT_OK(catalog_->CreateJob(job));

  runner_->Start();
  catalog::Job done = WaitFinished(job.job_id);
  EXPECT_EQ(done.state, kJobDone) << done.message;
  EXPECT_EQ(done.objects_done, 6u);
  EXPECT_EQ(done.bytes_done, 6000u);
  EXPECT_EQ(done.objects_total, 6u);  // kept, not recounted
  for (int i = 0; i < 6; ++i) {
    std::string key = "k" + std::to_string(i);
    bool rewritten = catalog_->GetObject("bkt", key)->object_id != ids[key];
    EXPECT_EQ(rewritten, i >= 3) << key;
  }
}

TEST_F(JobsTest, ThrottlingAndCancellation) {
  Unseal();
  ASSERT_OK(store_->CreateBucket("bkt", "owner"));
  for (int i = 0; i < 10; ++i) Put("bkt", "k" + std::to_string(i), 64 * 1024);
  runner_->Start();
  // 640 KiB at 256 KiB/s with 256 KiB of burst: at least 1.5 s.
  auto start = std::chrono::steady_clock::now();
  auto job = runner_->Submit({kJobReencrypt, "", "bkt", 256 * 1024});
  ASSERT_TRUE(job);
  catalog::Job done = WaitFinished(job->job_id);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(done.state, kJobDone) << done.message;
  EXPECT_EQ(done.objects_done, 10u);
  EXPECT_GE(elapsed, std::chrono::milliseconds(1400));
  EXPECT_LE(elapsed, std::chrono::seconds(10));

  // A slow job is cancelled between objects; a queued one at once.
  auto slow = runner_->Submit({kJobReencrypt, "", "bkt", 16 * 1024});
  ASSERT_TRUE(slow);
  auto queued = runner_->Submit({kJobReencrypt, "", "bkt", 0});
  ASSERT_TRUE(queued);
  auto cancelled = runner_->Cancel(queued->job_id);
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->state, kJobCancelled);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(runner_->Cancel(slow->job_id));
  catalog::Job stopped = WaitFinished(slow->job_id, std::chrono::seconds(10));
  EXPECT_EQ(stopped.state, kJobCancelled);
  EXPECT_LT(stopped.objects_done, 10u);
  EXPECT_EQ(catalog_->GetJob(queued->job_id)->objects_done, 0u);
  // Every object still reads.
  for (int i = 0; i < 10; ++i) {
    auto reader = store_->OpenObject("bkt", "k" + std::to_string(i), {});
    EXPECT_TRUE(reader) << i;
  }
}

TEST_F(JobsTest, TheSweepDestroysDueKeysAndStatusShowsIt) {
  Unseal();
  ASSERT_OK(store_->CreateBucket("bkt", "owner"));
  auto key = directory_->Create("doomed", "");
  ASSERT_TRUE(key);
  objects::EncryptionRequest kms;
  kms.mode = objects::SseMode::kKms;
  kms.kms_key_id = key->key_id;
  Put("bkt", "d1", 100, kms);
  Put("bkt", "d2", 200, kms);
  Put("bkt", "s", 50);
  // Destroyed before the runner starts: the baseline, not reported.
  auto old_key = directory_->Create("old", "");
  ASSERT_TRUE(old_key);
  ASSERT_TRUE(directory_->ScheduleDestroy(old_key->key_id, 0));
  ASSERT_TRUE(directory_->DestroyDueKeys());
  ASSERT_TRUE(directory_->ScheduleDestroy(key->key_id, 100));
  runner_->Start();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (destroyed_.count(key->key_id)) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the sweep did not destroy the key";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(directory_->Get(key->key_id)->state, keys::KeyState::kDestroyed);
  // Destroyed on first use (not by the sweep): reported by the next sweep.
  auto lazy = directory_->Create("lazy", "");
  ASSERT_TRUE(lazy);
  ASSERT_TRUE(directory_->ScheduleDestroy(lazy->key_id, 0));
  EXPECT_FALSE(ring_->CurrentKek(lazy->key_id));
  EXPECT_EQ(directory_->Get(lazy->key_id)->state, keys::KeyState::kDestroyed);
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (destroyed_.count(lazy->key_id)) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the sweep did not report it";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(destroyed_.count(old_key->key_id), 0u);
    EXPECT_EQ(destroyed_.size(), 2u);
  }

  StatusSource source;
  source.server_running = true;
  source.hierarchy = ring_.get();
  auto status = CollectStatus(*catalog_, *directory_, source);
  ASSERT_TRUE(status) << status.error().ToString();
  auto json = nlohmann::json::parse(RenderStatusJson(*status));
  EXPECT_EQ(json["server"]["seal"], "unsealed");
  EXPECT_EQ(json["objects"]["count"], 3);
  EXPECT_EQ(json["objects"]["bytes"], 350);
  bool found = false;
  for (const auto& k : json["keys"]) {
    if (k["key_id"] != key->key_id) continue;
    found = true;
    EXPECT_EQ(k["state"], "destroyed");
    EXPECT_EQ(k["shredded_objects"], 2);
    EXPECT_EQ(k["shredded_bytes"], 300);
    EXPECT_EQ(k["aliases"][0], "alias/doomed");
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(json["keys"][0]["key_id"], "sse-s3");
  std::string text = RenderStatusText(*status);
  EXPECT_NE(text.find("2 objects (300 B) crypto-shredded"), std::string::npos) << text;

  // A re-encryption skips the shredded objects instead of failing on them.
  auto job = runner_->Submit({kJobReencrypt, "", "bkt", 0});
  ASSERT_TRUE(job);
  catalog::Job done = WaitFinished(job->job_id);
  EXPECT_EQ(done.state, kJobDone) << done.message;
  EXPECT_EQ(done.objects_done, 1u);
  EXPECT_EQ(done.objects_skipped, 2u);
  EXPECT_EQ(done.objects_failed, 0u) << done.message;
}

TEST_F(JobsTest, ControlCommandsStartFollowAndCancelJobs) {
  Unseal();
  ASSERT_OK(store_->CreateBucket("bkt", "owner"));
  Put("bkt", "x", 10);
  ASSERT_TRUE(directory_->Rotate(keys::kSseS3KeyId));
  runner_->Start();
  AdminServices admin{catalog_.get(), directory_.get(), ring_.get(), runner_.get(), {}};
  admin.providers = [] {
    return std::vector<ProviderStatus>{{"kmip", "unavailable", "connection refused"}};
  };
  ControlHandlers handlers;
  handlers.sealed = [this] { return ring_->sealed(); };
  handlers.unseal = [](crypto::SecretBytes) -> Result<bool> { return false; };
  handlers.command = [&admin](std::string_view line) { return HandleAdminCommand(line, admin); };
  std::string path = dir_.path() + "/control.sock";
  auto control = ControlServer::Start(path, handlers);
  ASSERT_TRUE(control) << control.error().ToString();

  auto started = ControlCall(path, "JOB START rewrap key=sse-s3", 10);
  ASSERT_TRUE(started);
  ASSERT_TRUE(started->starts_with("OK ")) << *started;
  std::string id = started->substr(3);
  catalog::Job done = WaitFinished(id);
  EXPECT_EQ(done.state, kJobDone);
  auto got = ControlCall(path, "JOB GET " + id, 10);
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->starts_with("OK ")) << *got;
  auto parsed = ParseJobLine(got->substr(3));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->job_id, id);
  EXPECT_EQ(parsed->state, kJobDone);
  EXPECT_EQ(parsed->objects_done, 1u);
  EXPECT_EQ(parsed->message, done.message);

  auto text = ControlCall(path, "STATUS TEXT", 10);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("server:     running, unsealed"), std::string::npos) << *text;
  EXPECT_NE(text->find('\n'), std::string::npos);  // several lines
  auto json = ControlCall(path, "STATUS JSON", 10);
  ASSERT_TRUE(json);
  auto parsed_status = nlohmann::json::parse(*json);
  EXPECT_EQ(parsed_status["jobs"][0]["id"], id);
  ASSERT_EQ(parsed_status["providers"].size(), 2u);
  EXPECT_EQ(parsed_status["providers"][0]["id"], "strongroom");
  EXPECT_EQ(parsed_status["providers"][0]["health"], "ok");
  EXPECT_EQ(parsed_status["providers"][1]["id"], "kmip");
  EXPECT_EQ(parsed_status["providers"][1]["health"], "unavailable");
  EXPECT_EQ(parsed_status["providers"][1]["detail"], "connection refused");
  // The old one-line protocol still works beside it.
  auto status = ControlCall(path, "STATUS", 10);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, "unsealed");

  auto bad = ControlCall(path, "JOB START rewrap key=alias/nope", 10);
  ASSERT_TRUE(bad);
  EXPECT_TRUE(bad->starts_with("ERR ")) << *bad;
  auto unknown = ControlCall(path, "JOB FLY", 10);
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->starts_with("ERR ")) << *unknown;
  auto cancel = ControlCall(path, "JOB CANCEL " + id, 10);
  ASSERT_TRUE(cancel);
  EXPECT_TRUE(cancel->starts_with("ERR ")) << *cancel;  // finished already
  (*control)->Stop();
}

}  // namespace
}  // namespace strongroom::server
