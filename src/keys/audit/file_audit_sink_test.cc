// SPDX-License-Identifier: Apache-2.0
// The JSON-lines audit file: one parsable line per event, fields as
// documented, escaping, appending (never truncating), 0600, and writers on
// separate descriptors (as separate processes have) never interleaving.

#include "keys/audit/file_audit_sink.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "testing/test_util.h"

namespace strongroom::keys {
namespace {

using ::strongroom::testing::ScratchDir;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(FileAuditSinkTest, WritesOneJsonLinePerEventWithTheDocumentedFields) {
  ScratchDir dir;
  std::string path = dir.path() + "/audit.log";
  auto sink = FileAuditSink::Open(path);
  ASSERT_TRUE(sink) << sink.error().ToString();

  AuditEvent unwrap;
  unwrap.time_ms = 1714564800123;  // 2024-05-01T12:00:00.123Z
  unwrap.operation = audit_op::kUnwrap;
  unwrap.access_key = "AKIDEXAMPLE";
  unwrap.key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
  unwrap.key_version = 3;
  unwrap.bucket = "bucket";
  unwrap.object = "dir/\"quoted\"\nname\x01";
  unwrap.request = "GetObject";
  unwrap.mode = "SSE-KMS";
  ASSERT_TRUE((*sink)->Record(unwrap));

  AuditEvent failed;
  failed.operation = audit_op::kUnseal;
  failed.ok = false;
  failed.error = "wrong passphrase";
  failed.method = "passphrase";
  failed.actor = "server";
  failed.details = {{"received", "2"}, {"threshold", "3"}};
  failed.object = std::string("\xff\xfe", 2);  // not UTF-8
  ASSERT_TRUE((*sink)->Record(failed));

  auto lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["time"], "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(first["operation"], "unwrap");
  EXPECT_EQ(first["result"], "ok");
  EXPECT_EQ(first["access_key"], "AKIDEXAMPLE");
  EXPECT_EQ(first["key_id"], "1234abcd-12ab-34cd-56ef-1234567890ab");
  EXPECT_EQ(first["key_version"], 3);
  EXPECT_EQ(first["bucket"], "bucket");
  EXPECT_EQ(first["object"], "dir/\"quoted\"\nname\x01");
  EXPECT_EQ(first["request"], "GetObject");
  EXPECT_EQ(first["mode"], "SSE-KMS");
  EXPECT_EQ(first["pid"], ::getpid());
  EXPECT_FALSE(first.contains("error"));
  EXPECT_FALSE(first.contains("method"));
  EXPECT_EQ(lines[0].rfind("{\"time\":", 0), 0u);

  auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["result"], "error");
  EXPECT_EQ(second["error"], "wrong passphrase");
  EXPECT_EQ(second["method"], "passphrase");
  EXPECT_EQ(second["received"], "2");
  EXPECT_EQ(second["threshold"], "3");
  EXPECT_EQ(second["object"], "\u00ff\u00fe");
  EXPECT_FALSE(second.contains("key_version"));
  // Stamped by the sink: this year or later, RFC 3339 with milliseconds.
  std::string time = second["time"];
  EXPECT_EQ(time.size(), 24u);
  EXPECT_GE(time.substr(0, 4), "2024");

  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(FileAuditSinkTest, AppendsAndNeverTruncates) {
  ScratchDir dir;
  std::string path = dir.path() + "/audit.log";
  {
    std::ofstream out(path);
    out << "{\"earlier\":true}\n";
  }
  auto sink = FileAuditSink::Open(path);
  ASSERT_TRUE(sink);
  AuditEvent event;
  event.operation = audit_op::kKeyCreate;
  ASSERT_TRUE((*sink)->Record(event));
  auto reopened = FileAuditSink::Open(path);
  ASSERT_TRUE(reopened);
  ASSERT_TRUE((*reopened)->Record(event));
  auto lines = Lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "{\"earlier\":true}");
}

TEST(FileAuditSinkTest, WritersOnSeparateDescriptorsDoNotInterleave) {
  ScratchDir dir;
  std::string path = dir.path() + "/audit.log";
  constexpr int kWriters = 4, kEvents = 300;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      auto sink = FileAuditSink::Open(path);  // its own open file, like another process
      ASSERT_TRUE(sink);
      AuditEvent event;
      event.operation = audit_op::kWrap;
      event.object = std::string(2000 + 97 * static_cast<size_t>(w), static_cast<char>('a' + w));
      for (int i = 0; i < kEvents; ++i) {
        event.details = {{"writer", std::to_string(w)}, {"seq", std::to_string(i)}};
        ASSERT_TRUE((*sink)->Record(event));
      }
    });
  }
  for (auto& t : threads) t.join();
  auto lines = Lines(path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kWriters * kEvents));
  std::vector<int> next(kWriters, 0);
  for (const auto& line : lines) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << line.substr(0, 200);
    int w = std::stoi(json["writer"].get<std::string>());
    EXPECT_EQ(json["object"], std::string(2000 + 97 * static_cast<size_t>(w),
                                          static_cast<char>('a' + w)));
    EXPECT_EQ(std::stoi(json["seq"].get<std::string>()), next[w]++);  // in order per writer
  }
}

TEST(FileAuditSinkTest, KeyManagementSyncsAtOnceRequestEventsInGroups) {
  ScratchDir dir;
  auto sink = FileAuditSink::Open(dir.path() + "/audit.log", std::chrono::milliseconds(50));
  ASSERT_TRUE(sink);
  AuditEvent created;
  created.operation = audit_op::kKeyCreate;
  ASSERT_TRUE((*sink)->Record(created));
  EXPECT_EQ((*sink)->syncs(), 1u);  // before Record returned
  AuditEvent unwrap;
  unwrap.operation = audit_op::kUnwrap;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*sink)->Record(unwrap));
  EXPECT_LE((*sink)->syncs(), 5u);  // not a sync per request
  for (int i = 0; i < 200 && (*sink)->syncs() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // a last group
  const uint64_t settled = (*sink)->syncs();
  EXPECT_GE(settled, 2u);  // the hundred were synced in the background
  EXPECT_LE(settled, 6u);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ((*sink)->syncs(), settled);  // nothing written: no sync
}

int FailingSync(int) {
  errno = EIO;
  return -1;
}

TEST(FileAuditSinkTest, AFailedSyncRefusesEveryLaterEvent) {
  ScratchDir dir;
  auto sink = FileAuditSink::Open(dir.path() + "/audit.log", std::chrono::milliseconds(20));
  ASSERT_TRUE(sink);
  AuditEvent unwrap;
  unwrap.operation = audit_op::kUnwrap;
  ASSERT_TRUE((*sink)->Record(unwrap));
  (*sink)->SetSyncFunctionForTesting(&FailingSync);
  AuditEvent created;
  created.operation = audit_op::kKeyCreate;
  auto failed = (*sink)->Record(created);  // synced at once: the failure shows here
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(failed.error().message().find("could not be synced"), std::string::npos);
  // Even with a working disk again, nothing is recorded any more: Linux
  // forgets a failed writeback, so the lost lines cannot be vouched for.
  (*sink)->SetSyncFunctionForTesting(&::fdatasync);
  auto later = (*sink)->Record(unwrap);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code(), ErrorCode::kUnavailable);
}

TEST(FileAuditSinkTest, UnopenablePathsFail) {
  ScratchDir dir;
  EXPECT_FALSE(FileAuditSink::Open(dir.path()));                  // a directory
  EXPECT_FALSE(FileAuditSink::Open(dir.path() + "/no/such/dir/audit.log"));
}

}  // namespace
}  // namespace strongroom::keys
