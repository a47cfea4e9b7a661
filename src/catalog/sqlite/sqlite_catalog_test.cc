// SPDX-License-Identifier: Apache-2.0
// SqliteCatalog: schema and migrations, error codes of every method, listing
// semantics (checked against a naive reference implementation), multipart
// uploads, read-after-write across connections and processes, concurrency.

#include "catalog/sqlite/sqlite_catalog.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>
#include "testing/test_util.h"

namespace strongroom::catalog {
namespace {

// ------------------------------------------------------------------ helpers

template <typename T>
::testing::AssertionResult FailsWith(const Result<T>& result, ErrorCode code) {
  if (result.has_value()) {
    return ::testing::AssertionFailure() << "succeeded; expected " << ErrorCodeName(code);
  }
  if (result.error().code() != code) {
    return ::testing::AssertionFailure() << "failed with \"" << result.error().ToString()
                                         << "\"; expected " << ErrorCodeName(code);
  }
  return ::testing::AssertionSuccess();
}

using ::strongroom::testing::ScratchDir;

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

// An object whose every field derives from `tag`, so a mix of two writes is
// detectable.
Object MakeObject(const std::string& bucket, const std::string& key, const std::string& tag,
                  size_t blob_count = 2) {
  Object object;
  object.bucket = bucket;
  object.key = key;
  object.object_id = B("id:" + tag);
  object.size = tag.size() * 1000 + blob_count;
  object.etag = "etag-" + tag;
  object.last_modified_ms = 1700000000000 + static_cast<int64_t>(tag.size());
  object.owner = "owner-" + tag;
  object.attributes = B("attrs:" + tag);
  object.manifest = B("manifest:" + tag);
  object.envelope = B("envelope:" + tag);
  object.encryption = B("encryption:" + tag);
  object.kek_ref = "strongroom:kek-" + tag + "/1";
  for (size_t i = 0; i < blob_count; ++i) {
    object.blobs.push_back("blobs/" + tag + "/" + std::to_string(i));
  }
  return object;
}

void ExpectSameObject(const Object& a, const Object& b) {
  EXPECT_EQ(a.bucket, b.bucket);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.object_id, b.object_id);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.etag, b.etag);
  EXPECT_EQ(a.last_modified_ms, b.last_modified_ms);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.attributes, b.attributes);
  EXPECT_EQ(a.manifest, b.manifest);
  EXPECT_EQ(a.envelope, b.envelope);
  EXPECT_EQ(a.encryption, b.encryption);
  EXPECT_EQ(a.kek_ref, b.kek_ref);
  EXPECT_EQ(a.blobs, b.blobs);
}

// Whether every field of `object` derives from one tag (see MakeObject).
bool IsConsistent(const Object& object) {
  std::string_view id = AsChars(object.object_id);
  if (!id.starts_with("id:")) return false;
  std::string tag(id.substr(3));
  Object expected = MakeObject(object.bucket, object.key, tag, object.blobs.size());
  return object.object_id == expected.object_id && object.size == expected.size &&
         object.etag == expected.etag && object.last_modified_ms == expected.last_modified_ms &&
         object.owner == expected.owner && object.attributes == expected.attributes &&
         object.manifest == expected.manifest && object.envelope == expected.envelope &&
         object.encryption == expected.encryption && object.kek_ref == expected.kek_ref &&
         object.blobs == expected.blobs;
}

Upload MakeUpload(const std::string& id, const std::string& bucket, const std::string& key) {
  Upload upload;
  upload.upload_id = id;
  upload.bucket = bucket;
  upload.key = key;
  upload.object_id = B("oid-" + id);
  upload.initiated_ms = 1600000000000;
  upload.owner = "AKIAOWNER";
  upload.attributes = B("content-type: x");
  upload.envelope = B("env-" + id);
  upload.encryption = B("enc-" + id);
  return upload;
}

Part MakePart(const std::string& upload_id, uint32_t number, const std::string& blob) {
  Part part;
  part.upload_id = upload_id;
  part.part_number = number;
  part.size = 5u << 20;
  part.etag = "md5-" + blob;
  part.last_modified_ms = 1650000000000 + number;
  part.stream_info = B("salt+commitment " + blob);
  part.blob = blob;
  part.attributes = B("crc32c=" + std::to_string(number));
  return part;
}

// Runs one SQL statement on a separate raw connection.
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// Inserts objects (as MakeObject(bucket, key, "t-" + key, 0)) over a raw
// connection in one transaction: much faster than one durable PutObject per
// key, for tests that need thousands of keys to list.
void BulkInsert(const std::string& path, const std::string& bucket,
                const std::vector<std::string>& keys) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO objects (bucket, key, size, etag, last_modified_ms, "
                               "owner, object_id, attributes, manifest, envelope) VALUES "
                               "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  for (const auto& key : keys) {
    Object o = MakeObject(bucket, key, "t-" + key, 0);
    sqlite3_bind_text(stmt, 1, o.bucket.data(), int(o.bucket.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, o.key.data(), int(o.key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, int64_t(o.size));
    sqlite3_bind_text(stmt, 4, o.etag.data(), int(o.etag.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 5, o.last_modified_ms);
    sqlite3_bind_text(stmt, 6, o.owner.data(), int(o.owner.size()), SQLITE_TRANSIENT);
    for (int i = 7; i <= 10; ++i) sqlite3_bind_blob(stmt, i, "x", 1, SQLITE_STATIC);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = scratch_.path() + "/catalog.db";
    auto opened = SqliteCatalog::Open(path_);
    ASSERT_TRUE(opened) << opened.error().ToString();
    catalog_ = std::move(opened).value();
    ASSERT_OK(catalog_->CreateBucket(Bucket{"bucket", 1, "AKIAOWNER", {}}));
  }

  std::unique_ptr<SqliteCatalog> OpenAnother() {
    auto opened = SqliteCatalog::Open(path_);
    EXPECT_TRUE(opened) << opened.error().ToString();
    return opened ? std::move(opened).value() : nullptr;
  }

  void PutKeys(const std::vector<std::string>& keys, const std::string& bucket = "bucket") {
    for (const auto& key : keys) {
      ASSERT_OK(catalog_->PutObject(MakeObject(bucket, key, "t-" + key, 1)));
    }
  }

  ScratchDir scratch_;
  std::string path_;
  std::unique_ptr<SqliteCatalog> catalog_;
};

// ------------------------------------------------------------------ reference listing

struct Entry {
  std::string name;
  bool is_prefix;
  bool operator==(const Entry&) const = default;
};

void PrintTo(const Entry& e, std::ostream* os) {
  *os << (e.is_prefix ? "[" + e.name + "]" : e.name);
}

std::optional<std::string> ReferenceGroup(const std::string& key, const std::string& prefix,
                                          const std::string& delimiter) {
  if (delimiter.empty() || key.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  size_t at = key.find(delimiter, prefix.size());
  if (at == std::string::npos) return std::nullopt;
  return key.substr(0, at + delimiter.size());
}

// Every entry of a listing with no max_keys, by brute force over all keys.
std::vector<Entry> ReferenceList(std::vector<std::string> keys, const std::string& prefix,
                                 const std::string& delimiter, const std::string& start_after) {
  std::sort(keys.begin(), keys.end());
  std::vector<Entry> out;
  for (const auto& key : keys) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    if (auto group = ReferenceGroup(key, prefix, delimiter)) {
      if (!out.empty() && out.back() == Entry{*group, true}) continue;
      if (*group == start_after) continue;  // skip a whole common prefix
      if (!start_after.empty() && key <= start_after) continue;
      out.push_back(Entry{*group, true});
    } else if (start_after.empty() || key > start_after) {
      out.push_back(Entry{key, false});
    }
  }
  return out;
}

// The page's entries merged in order.
std::vector<Entry> PageEntries(const ListObjectsPage& page) {
  std::vector<Entry> out;
  for (const auto& object : page.objects) out.push_back(Entry{object.key, false});
  for (const auto& prefix : page.common_prefixes) out.push_back(Entry{prefix, true});
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

std::string Describe(const std::vector<Entry>& entries) {
  std::string out;
  for (const auto& e : entries) out += (e.is_prefix ? "[" + e.name + "] " : e.name + " ");
  return out;
}

// Pages through a listing and checks every page against the reference.
void CheckListing(Catalog& catalog, const std::vector<std::string>& keys, const std::string& prefix,
                  const std::string& delimiter, const std::string& start_after, size_t max_keys) {
  SCOPED_TRACE("prefix='" + prefix + "' delimiter='" + delimiter + "' start_after='" + start_after +
               "' max_keys=" + std::to_string(max_keys));
  std::vector<Entry> expected = ReferenceList(keys, prefix, delimiter, start_after);
  ListObjectsRequest request{"bucket", prefix, delimiter, start_after, max_keys};
  if (max_keys == 0) {
    auto page = catalog.ListObjects(request);
    ASSERT_TRUE(page);
    EXPECT_TRUE(page->objects.empty() && page->common_prefixes.empty());
    EXPECT_FALSE(page->is_truncated);
    return;
  }
  std::vector<Entry> seen;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10000);
    auto page = catalog.ListObjects(request);
    ASSERT_TRUE(page) << page.error().ToString();
    std::vector<Entry> entries = PageEntries(*page);
    ASSERT_LE(entries.size(), max_keys);
    size_t offset = seen.size();
    ASSERT_LE(offset + entries.size(), expected.size()) << Describe(entries);
    std::vector<Entry> want(expected.begin() + offset, expected.begin() + offset + entries.size());
    ASSERT_EQ(entries, want) << "got " << Describe(entries) << "want " << Describe(want);
    seen.insert(seen.end(), entries.begin(), entries.end());
    EXPECT_EQ(page->is_truncated, seen.size() < expected.size());
    if (!entries.empty()) {
      EXPECT_EQ(page->next_start_after, entries.back().name);
    }
    if (!page->is_truncated) break;
    ASSERT_FALSE(entries.empty());
    request.start_after = page->next_start_after;
  }
  EXPECT_EQ(seen, expected) << "got " << Describe(seen) << "want " << Describe(expected);
}

// ------------------------------------------------------------------ schema, open, errors

TEST_F(CatalogTest, OpenSetsWalModeAndRecordsTheSchemaVersion) {
  auto version = catalog_->SchemaVersion();
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, 5);
  EXPECT_EQ(SqliteCatalog::kSchemaVersion, 5);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT version FROM schema_migrations ORDER BY version", -1,
                               &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 3);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 4);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 5);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(CatalogTest, TheDatabaseAndItsWalAreOwnerOnly) {
  ASSERT_TRUE(catalog_->CreateBucket(Bucket{"perm", 1, "o", {}}));
  for (const std::string& file : {path_, path_ + "-wal", path_ + "-shm"}) {
    struct stat st;
    ASSERT_EQ(::stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
}

TEST_F(CatalogTest, ReopeningKeepsDataAndSchema) {
  ASSERT_OK(catalog_->PutObject(MakeObject("bucket", "k", "v1")));
  catalog_.reset();
  auto reopened = Catalog::Open(path_);
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  auto object = (*reopened)->GetObject("bucket", "k");
  ASSERT_TRUE(object);
  ExpectSameObject(*object, MakeObject("bucket", "k", "v1"));
}

TEST_F(CatalogTest, NewerSchemaIsRefused) {
  catalog_.reset();
  RawExec(path_, "INSERT INTO schema_migrations (version, applied_ms) VALUES (99, 0)");
  EXPECT_TRUE(FailsWith(SqliteCatalog::Open(path_), ErrorCode::kFailedPrecondition));
}

// The schema exactly as version 1 of this build created it (released
// migrations are never edited, so this copy stays valid).
constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL) STRICT;
INSERT INTO schema_migrations VALUES (1, 1);
CREATE TABLE buckets (
  name        TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
  created_ms  INTEGER NOT NULL,
  owner       TEXT NOT NULL
) STRICT;
CREATE TABLE objects (
  id               INTEGER PRIMARY KEY,
  bucket           TEXT NOT NULL COLLATE BINARY REFERENCES buckets (name),
  key              TEXT NOT NULL COLLATE BINARY,
  size             INTEGER NOT NULL CHECK (size >= 0),
  etag             TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  owner            TEXT NOT NULL,
  object_id        BLOB NOT NULL,
  attributes       BLOB NOT NULL,
  manifest         BLOB NOT NULL,
  envelope         BLOB NOT NULL,
  UNIQUE (bucket, key)
) STRICT;
CREATE TABLE object_blobs (
  object  INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
  seq     INTEGER NOT NULL,
  blob    TEXT NOT NULL COLLATE BINARY,
  PRIMARY KEY (object, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE uploads (
  upload_id    TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
  bucket       TEXT NOT NULL COLLATE BINARY REFERENCES buckets (name),
  key          TEXT NOT NULL COLLATE BINARY,
  initiated_ms INTEGER NOT NULL,
  owner        TEXT NOT NULL,
  object_id    BLOB NOT NULL,
  attributes   BLOB NOT NULL,
  envelope     BLOB NOT NULL
) STRICT;
CREATE INDEX uploads_by_key ON uploads (bucket, key, upload_id);
CREATE TABLE parts (
  upload_id        TEXT NOT NULL COLLATE BINARY
                   REFERENCES uploads (upload_id) ON DELETE CASCADE,
  part_number      INTEGER NOT NULL CHECK (part_number > 0),
  size             INTEGER NOT NULL CHECK (size >= 0),
  etag             TEXT NOT NULL,
  last_modified_ms INTEGER NOT NULL,
  blob             TEXT NOT NULL COLLATE BINARY,
  stream_info      BLOB NOT NULL,
  attributes       BLOB NOT NULL,
  PRIMARY KEY (upload_id, part_number)
) STRICT, WITHOUT ROWID;
CREATE TABLE users (
  access_key    TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
  sealed_secret BLOB NOT NULL,
  admin         INTEGER NOT NULL CHECK (admin IN (0, 1)),
  created_ms    INTEGER NOT NULL
) STRICT;
INSERT INTO buckets VALUES ('old', 7, 'AKIAOLD');
INSERT INTO objects VALUES (1, 'old', 'k', 3, 'etag-k', 8, 'AKIAOLD', x'0102', x'aa', x'bb', x'cc');
INSERT INTO object_blobs VALUES (1, 0, 'blob-k-0'), (1, 1, 'blob-k-1');
INSERT INTO uploads VALUES ('u1', 'old', 'm', 9, 'AKIAOLD', x'03', x'dd', x'ee');
INSERT INTO parts VALUES ('u1', 1, 5, 'etag-p', 10, 'blob-p1', x'ff', x'');
INSERT INTO users VALUES ('AKIAOLD', x'5e', 1, 11);
)sql";

TEST(CatalogMigrationTest, AVersion1DatabaseUpgradesKeepingItsData) {
  ScratchDir dir;
  std::string path = dir.path() + "/v1.db";
  RawExec(path, kSchemaVersion1);

  auto opened = SqliteCatalog::Open(path);
  ASSERT_TRUE(opened) << opened.error().ToString();
  SqliteCatalog& catalog = **opened;
  auto version = catalog.SchemaVersion();
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, SqliteCatalog::kSchemaVersion);

  // Old rows read with empty encryption fields.
  auto bucket = catalog.GetBucket("old");
  ASSERT_TRUE(bucket) << bucket.error().ToString();
  EXPECT_EQ(bucket->owner, "AKIAOLD");
  EXPECT_TRUE(bucket->encryption.empty());
  auto object = catalog.GetObject("old", "k");
  ASSERT_TRUE(object) << object.error().ToString();
  EXPECT_EQ(object->object_id, (Bytes{1, 2}));
  EXPECT_EQ(object->envelope, (Bytes{0xcc}));
  EXPECT_EQ(object->blobs, (std::vector<std::string>{"blob-k-0", "blob-k-1"}));
  EXPECT_TRUE(object->encryption.empty());
  EXPECT_EQ(object->kek_ref, "");
  auto upload = catalog.GetUpload("u1");
  ASSERT_TRUE(upload);
  EXPECT_EQ(upload->envelope, (Bytes{0xee}));
  EXPECT_TRUE(upload->encryption.empty());
  auto parts = catalog.GetParts("u1");
  ASSERT_TRUE(parts);
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].blob, "blob-p1");
  auto user = catalog.GetUser("AKIAOLD");
  ASSERT_TRUE(user);
  EXPECT_TRUE(user->admin);

  // The new columns and tables work on the upgraded file.
  ASSERT_OK(catalog.SetBucketEncryption("old", B("kms")));
  ASSERT_OK(catalog.PutObject(MakeObject("old", "new", "n")));
  ASSERT_OK(catalog.CreateKmsKey(KmsKey{"kid", "", "enabled", 1, 1, "customer", "strongroom"},
                                 KmsKeyVersion{"kid", 1, B("salt"), 1}));
  ASSERT_OK(catalog.AddKmsAlias("alias/x", "kid"));
  opened->reset();

  // Reopening finds the current version and the data.
  auto again = SqliteCatalog::Open(path);
  ASSERT_TRUE(again) << again.error().ToString();
  version = (*again)->SchemaVersion();
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, SqliteCatalog::kSchemaVersion);
  bucket = (*again)->GetBucket("old");
  ASSERT_TRUE(bucket);
  EXPECT_EQ(bucket->encryption, B("kms"));
  auto resolved = (*again)->ResolveKmsAlias("alias/x");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(*resolved, "kid");
  object = (*again)->GetObject("old", "new");
  ASSERT_TRUE(object);
  ExpectSameObject(*object, MakeObject("old", "new", "n"));
}

TEST_F(CatalogTest, ObjectsAreIndexedByKekRef) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT id FROM objects WHERE kek_ref = 'x'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::string plan;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_NE(plan.find("objects_by_kek_ref"), std::string::npos) << plan;
}

TEST(CatalogOpenTest, ForeignDatabaseIsRefused) {
  ScratchDir dir;
  std::string path = dir.path() + "/other.db";
  RawExec(path, "CREATE TABLE users (name TEXT)");
  EXPECT_TRUE(FailsWith(Catalog::Open(path), ErrorCode::kFailedPrecondition));
}

TEST(CatalogOpenTest, GarbageFileIsDataLoss) {
  ScratchDir dir;
  std::string path = dir.path() + "/garbage.db";
  std::ofstream(path) << std::string(8192, 'G');
  EXPECT_TRUE(FailsWith(Catalog::Open(path), ErrorCode::kDataLoss));
}

TEST(CatalogOpenTest, CorruptPageIsDataLoss) {
  ScratchDir dir;
  std::string path = dir.path() + "/corrupt.db";
  {
    auto catalog = Catalog::Open(path);
    ASSERT_TRUE(catalog);
    ASSERT_OK((*catalog)->CreateBucket(Bucket{"b", 1, "o", {}}));
    std::vector<std::string> keys;
    for (int i = 0; i < 500; ++i) keys.push_back("key" + std::to_string(i));
    BulkInsert(path, "b", keys);
  }  // the last connection closes: the WAL is checkpointed into the file
  ASSERT_FALSE(std::filesystem::exists(path + "-wal"));
  {
    // Overwrite everything after the schema page.
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096);
    std::string junk(std::filesystem::file_size(path) - 4096, '\xA5');
    file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto catalog = Catalog::Open(path);
  if (!catalog) {
    EXPECT_TRUE(FailsWith(catalog, ErrorCode::kDataLoss));
    return;
  }
  EXPECT_TRUE(FailsWith((*catalog)->ListObjects({"b", "", "", "", 1000}), ErrorCode::kDataLoss));
}

TEST(CatalogOpenTest, MissingDirectoryIsUnavailable) {
  EXPECT_TRUE(FailsWith(Catalog::Open("/nonexistent-strongroom-dir/x/catalog.db"),
                        ErrorCode::kUnavailable));
}

TEST_F(CatalogTest, BusyDatabaseIsUnavailableAfterTheTimeout) {
  auto impatient = SqliteCatalog::Open(path_, SqliteCatalog::Options{.busy_timeout_ms = 100});
  ASSERT_TRUE(impatient);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(
      FailsWith((*impatient)->CreateBucket(Bucket{"other", 1, "o", {}}), ErrorCode::kUnavailable));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
  // WAL: readers are not blocked by the writer.
  EXPECT_TRUE((*impatient)->GetBucket("bucket"));

  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE((*impatient)->CreateBucket(Bucket{"other", 1, "o", {}}));
}

TEST_F(CatalogTest, AWriterWaitsForAnotherConnectionWithinTheTimeout) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::thread release([db] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  });
  EXPECT_TRUE(catalog_->CreateBucket(Bucket{"patient", 1, "o", {}}));  // default 10 s timeout
  release.join();
  sqlite3_close(db);
}

// ------------------------------------------------------------------ buckets

TEST_F(CatalogTest, Buckets) {
  EXPECT_TRUE(
      FailsWith(catalog_->CreateBucket(Bucket{"bucket", 2, "x", {}}), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(
      FailsWith(catalog_->CreateBucket(Bucket{"", 2, "x", {}}), ErrorCode::kInvalidArgument));
  ASSERT_OK(catalog_->CreateBucket(Bucket{"alpha", 10, "AKIA1", {}}));
  ASSERT_OK(catalog_->CreateBucket(Bucket{"zulu", 20, "AKIA2", {}}));

  auto bucket = catalog_->GetBucket("alpha");
  ASSERT_TRUE(bucket);
  EXPECT_EQ(bucket->name, "alpha");
  EXPECT_EQ(bucket->created_ms, 10);
  EXPECT_EQ(bucket->owner, "AKIA1");
  EXPECT_TRUE(FailsWith(catalog_->GetBucket("missing"), ErrorCode::kNotFound));

  auto buckets = catalog_->ListBuckets();
  ASSERT_TRUE(buckets);
  std::vector<std::string> names;
  for (const auto& b : *buckets) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "bucket", "zulu"}));

  ASSERT_OK(catalog_->DeleteBucket("zulu"));
  EXPECT_TRUE(FailsWith(catalog_->GetBucket("zulu"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->DeleteBucket("zulu"), ErrorCode::kNotFound));
}

TEST_F(CatalogTest, DeleteBucketRefusesWhileObjectsOrUploadsExist) {
  ASSERT_OK(catalog_->PutObject(MakeObject("bucket", "k", "v")));
  EXPECT_TRUE(FailsWith(catalog_->DeleteBucket("bucket"), ErrorCode::kFailedPrecondition));
  ASSERT_OK(catalog_->DeleteObject("bucket", "k"));
  ASSERT_OK(catalog_->CreateUpload(MakeUpload("u1", "bucket", "k")));
  EXPECT_TRUE(FailsWith(catalog_->DeleteBucket("bucket"), ErrorCode::kFailedPrecondition));
  ASSERT_OK(catalog_->AbortUpload("u1"));
  ASSERT_OK(catalog_->DeleteBucket("bucket"));
  auto buckets = catalog_->ListBuckets();
  ASSERT_TRUE(buckets);
  EXPECT_TRUE(buckets->empty());
}

TEST_F(CatalogTest, BucketEncryption) {
  auto bucket = catalog_->GetBucket("bucket");
  ASSERT_TRUE(bucket);
  EXPECT_TRUE(bucket->encryption.empty()) << "empty = SSE-S3 default";

  ASSERT_OK(catalog_->CreateBucket(Bucket{"kms", 3, "AKIA1", B("aws:kms key-1")}));
  bucket = catalog_->GetBucket("kms");
  ASSERT_TRUE(bucket);
  EXPECT_EQ(bucket->encryption, B("aws:kms key-1"));

  ASSERT_OK(catalog_->SetBucketEncryption("bucket", B("AES256")));
  auto buckets = catalog_->ListBuckets();
  ASSERT_TRUE(buckets);
  ASSERT_EQ(buckets->size(), 2u);
  EXPECT_EQ((*buckets)[0].name, "bucket");
  EXPECT_EQ((*buckets)[0].encryption, B("AES256"));
  EXPECT_EQ((*buckets)[1].encryption, B("aws:kms key-1"));

  ASSERT_OK(catalog_->SetBucketEncryption("kms", {}));
  bucket = catalog_->GetBucket("kms");
  ASSERT_TRUE(bucket);
  EXPECT_TRUE(bucket->encryption.empty());
  EXPECT_EQ(bucket->owner, "AKIA1") << "only the encryption changes";
  EXPECT_EQ(bucket->created_ms, 3);
  EXPECT_TRUE(FailsWith(catalog_->SetBucketEncryption("missing", B("x")), ErrorCode::kNotFound));
}

// ------------------------------------------------------------------ objects

TEST_F(CatalogTest, PutGetReplaceDeleteObject) {
  Object v1 = MakeObject("bucket", "dir/key", "v1", 3);
  auto first = catalog_->PutObject(v1);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->has_value());

  auto got = catalog_->GetObject("bucket", "dir/key");
  ASSERT_TRUE(got);
  ExpectSameObject(*got, v1);

  Object v2 = MakeObject("bucket", "dir/key", "version2", 1);
  auto second = catalog_->PutObject(v2);
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->has_value());
  ExpectSameObject(**second, v1);  // the replaced object, with its blobs
  got = catalog_->GetObject("bucket", "dir/key");
  ASSERT_TRUE(got);
  ExpectSameObject(*got, v2);

  auto deleted = catalog_->DeleteObject("bucket", "dir/key");
  ASSERT_TRUE(deleted);
  ExpectSameObject(*deleted, v2);
  EXPECT_TRUE(FailsWith(catalog_->GetObject("bucket", "dir/key"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->DeleteObject("bucket", "dir/key"), ErrorCode::kNotFound));
  auto referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_TRUE(referenced->empty()) << "blob rows go with their object";
}

TEST_F(CatalogTest, ObjectErrorsAndEdgeValues) {
  EXPECT_TRUE(
      FailsWith(catalog_->PutObject(MakeObject("nobucket", "k", "v")), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->GetObject("nobucket", "k"), ErrorCode::kNotFound));
  EXPECT_TRUE(
      FailsWith(catalog_->PutObject(MakeObject("bucket", "", "v")), ErrorCode::kInvalidArgument));
  Object huge = MakeObject("bucket", "huge", "v");
  huge.size = UINT64_MAX;
  EXPECT_TRUE(FailsWith(catalog_->PutObject(huge), ErrorCode::kInvalidArgument));

  // Empty byte fields, no blobs, large fields, a maximal size.
  Object sparse;
  sparse.bucket = "bucket";
  sparse.key = "sparse";
  sparse.size = uint64_t{INT64_MAX};
  ASSERT_OK(catalog_->PutObject(sparse));
  auto got = catalog_->GetObject("bucket", "sparse");
  ASSERT_TRUE(got);
  ExpectSameObject(*got, sparse);

  Object big = MakeObject("bucket", "big", "b", 10000);
  big.manifest = Bytes(1 << 20, 0x5A);
  big.manifest[12345] = 0;
  ASSERT_OK(catalog_->PutObject(big));
  got = catalog_->GetObject("bucket", "big");
  ASSERT_TRUE(got);
  ExpectSameObject(*got, big);

  // The same key in another bucket is another object.
  ASSERT_OK(catalog_->CreateBucket(Bucket{"second", 1, "o", {}}));
  ASSERT_OK(catalog_->PutObject(MakeObject("second", "big", "other")));
  got = catalog_->GetObject("bucket", "big");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->etag, "etag-b");
}

TEST_F(CatalogTest, ReplaceObjectIfSwapsOnlyTheExpectedVersion) {
  Object original = MakeObject("bucket", "k", "v1", 2);
  ASSERT_OK(catalog_->PutObject(original));

  // Same object id, new envelope and encryption facts (a re-wrap).
  Object rewrapped = original;
  rewrapped.envelope = B("envelope:rewrapped");
  rewrapped.encryption = B("encryption:rewrapped");
  rewrapped.kek_ref = "strongroom:other/2";
  rewrapped.etag = "etag-rewrapped";
  auto replaced = catalog_->ReplaceObjectIf(rewrapped, original.object_id);
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  ExpectSameObject(*replaced, original);
  auto got = catalog_->GetObject("bucket", "k");
  ASSERT_TRUE(got);
  ExpectSameObject(*got, rewrapped);

  // The stored version changed meanwhile: nothing is written.
  Object newer = MakeObject("bucket", "k", "v2", 1);
  ASSERT_OK(catalog_->PutObject(newer));
  Object stale = rewrapped;
  stale.envelope = B("envelope:stale");
  EXPECT_TRUE(FailsWith(catalog_->ReplaceObjectIf(stale, original.object_id),
                        ErrorCode::kFailedPrecondition));
  got = catalog_->GetObject("bucket", "k");
  ASSERT_TRUE(got);
  ExpectSameObject(*got, newer);
  // A prefix of the stored id is not the id.
  ByteView prefix(newer.object_id.data(), newer.object_id.size() - 1);
  EXPECT_TRUE(FailsWith(catalog_->ReplaceObjectIf(stale, prefix), ErrorCode::kFailedPrecondition));

  // Gone: kNotFound, and no object appears.
  ASSERT_OK(catalog_->DeleteObject("bucket", "k"));
  EXPECT_TRUE(FailsWith(catalog_->ReplaceObjectIf(stale, newer.object_id), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->GetObject("bucket", "k"), ErrorCode::kNotFound));
  Object elsewhere = MakeObject("nobucket", "k", "v1");
  EXPECT_TRUE(
      FailsWith(catalog_->ReplaceObjectIf(elsewhere, elsewhere.object_id), ErrorCode::kNotFound));
  auto referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_TRUE(referenced->empty());
}

TEST_F(CatalogTest, UnicodeKeysRoundTripAndSortByUtf8Bytes) {
  std::vector<std::string> keys = {"z",
                                   "\xc3\xa9t\xc3\xa9",         // été
                                   "\xe6\x97\xa5\xe6\x9c\xac",  // 日本
                                   "\xf0\x9f\x98\x80",          // 😀 (4 bytes)
                                   "\xef\xbd\x81",              // ａ U+FF41
                                   "A",
                                   "a",
                                   "~",
                                   " space",
                                   "\x7f",
                                   "a\xc2\x80"};
  PutKeys(keys);
  for (const auto& key : keys) {
    auto got = catalog_->GetObject("bucket", key);
    ASSERT_TRUE(got) << key;
    EXPECT_EQ(got->key, key);
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());  // std::string compares bytes as unsigned
  auto page = catalog_->ListObjects({"bucket", "", "", "", 1000});
  ASSERT_TRUE(page);
  std::vector<std::string> listed;
  for (const auto& o : page->objects) listed.push_back(o.key);
  EXPECT_EQ(listed, sorted);
  // Byte order, not code-point order after UTF-16 or collation: U+FF41 (EF BD 81)
  // sorts before U+1F600 (F0 9F 98 80).
  EXPECT_LT(std::find(listed.begin(), listed.end(), "\xef\xbd\x81"),
            std::find(listed.begin(), listed.end(), "\xf0\x9f\x98\x80"));
}

// ------------------------------------------------------------------ ListObjects

TEST_F(CatalogTest, ListObjectsSummariesCarryTheirFields) {
  ASSERT_OK(catalog_->PutObject(MakeObject("bucket", "one", "tag1", 2)));
  auto page = catalog_->ListObjects({"bucket", "", "", "", 1000});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->objects.size(), 1u);
  const ObjectSummary& s = page->objects[0];
  Object expected = MakeObject("bucket", "one", "tag1", 2);
  EXPECT_EQ(s.key, "one");
  EXPECT_EQ(s.size, expected.size);
  EXPECT_EQ(s.etag, expected.etag);
  EXPECT_EQ(s.last_modified_ms, expected.last_modified_ms);
  EXPECT_EQ(s.owner, expected.owner);
  EXPECT_FALSE(page->is_truncated);
  EXPECT_EQ(page->next_start_after, "one");
  EXPECT_TRUE(
      FailsWith(catalog_->ListObjects({"missing", "", "", "", 1000}), ErrorCode::kNotFound));
  auto empty = catalog_->ListObjects({"bucket", "nothing", "", "", 1000});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->objects.empty() && empty->common_prefixes.empty());
  EXPECT_FALSE(empty->is_truncated);
  EXPECT_EQ(empty->next_start_after, "");
}

TEST_F(CatalogTest, ListObjectsWithPrefixAndDelimiter) {
  PutKeys({"a", "a/", "a/b/c", "a/b/d", "a/b/e/f", "a/c", "a/d/", "a/e", "a0", "b", "b/x"});
  auto page = catalog_->ListObjects({"bucket", "a/", "/", "", 1000});
  ASSERT_TRUE(page);
  std::vector<std::string> keys;
  for (const auto& o : page->objects) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a/", "a/c", "a/e"}));
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/b/", "a/d/"}));
  EXPECT_FALSE(page->is_truncated);

  // Nested: the group is cut at the first delimiter after the prefix.
  page = catalog_->ListObjects({"bucket", "a/b/", "/", "", 1000});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/b/e/"}));
  ASSERT_EQ(page->objects.size(), 2u);

  // No prefix: keys ending with the delimiter roll up too.
  page = catalog_->ListObjects({"bucket", "", "/", "", 1000});
  ASSERT_TRUE(page);
  keys.clear();
  for (const auto& o : page->objects) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "a0", "b"}));
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/", "b/"}));
  // "b" is listed: it has no delimiter.
  page = catalog_->ListObjects({"bucket", "b", "/", "", 1000});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "b");
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"b/"}));

  // A prefix that is not followed by the delimiter groups at the next one.
  page = catalog_->ListObjects({"bucket", "a/b", "/", "", 1000});
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->objects.empty());
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/b/"}));

  // A multi-byte delimiter.
  page = catalog_->ListObjects({"bucket", "", "b/", "", 1000});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->common_prefixes, (std::vector<std::string>{"a/b/", "b/"}));
}

TEST_F(CatalogTest, ListObjectsStartAfterAndCommonPrefixes) {
  PutKeys({"a/1", "a/2", "a/3", "b", "c/1", "d"});
  auto list = [&](const std::string& start_after) {
    auto page = catalog_->ListObjects({"bucket", "", "/", start_after, 1000});
    EXPECT_TRUE(page);
    return PageEntries(*page);
  };
  // Equal to a common prefix: the prefix is skipped.
  EXPECT_EQ(list("a/"), (std::vector<Entry>{{"b", false}, {"c/", true}, {"d", false}}));
  EXPECT_EQ(list("c/"), (std::vector<Entry>{{"d", false}}));
  // Inside a common prefix: the rest of the group still shows as the prefix.
  EXPECT_EQ(list("a/1"),
            (std::vector<Entry>{{"a/", true}, {"b", false}, {"c/", true}, {"d", false}}));
  // ... unless no key of the group follows.
  EXPECT_EQ(list("a/3"), (std::vector<Entry>{{"b", false}, {"c/", true}, {"d", false}}));
  EXPECT_EQ(list("a/3z"), (std::vector<Entry>{{"b", false}, {"c/", true}, {"d", false}}));
  EXPECT_EQ(list("a/2z"),
            (std::vector<Entry>{{"a/", true}, {"b", false}, {"c/", true}, {"d", false}}));
  // Before a group: all of it.
  EXPECT_EQ(list("a"),
            (std::vector<Entry>{{"a/", true}, {"b", false}, {"c/", true}, {"d", false}}));
  // Exclusive for keys; past the end; not an existing key.
  EXPECT_EQ(list("b"), (std::vector<Entry>{{"c/", true}, {"d", false}}));
  EXPECT_EQ(list("d"), (std::vector<Entry>{}));
  EXPECT_EQ(list("\xff\xff"), (std::vector<Entry>{}));
  EXPECT_EQ(list("bb"), (std::vector<Entry>{{"c/", true}, {"d", false}}));
  // A start_after before the prefix changes nothing.
  auto page = catalog_->ListObjects({"bucket", "c", "/", "a/2", 1000});
  ASSERT_TRUE(page);
  EXPECT_EQ(PageEntries(*page), (std::vector<Entry>{{"c/", true}}));
}

TEST_F(CatalogTest, ListObjectsMaxKeysZeroAndOne) {
  PutKeys({"a/1", "a/2", "b", "c/1"});
  auto zero = catalog_->ListObjects({"bucket", "", "/", "", 0});
  ASSERT_TRUE(zero);
  EXPECT_TRUE(zero->objects.empty() && zero->common_prefixes.empty());
  EXPECT_FALSE(zero->is_truncated);

  std::vector<Entry> expected = {{"a/", true}, {"b", false}, {"c/", true}};
  std::string start_after;
  for (size_t i = 0; i < expected.size(); ++i) {
    auto page = catalog_->ListObjects({"bucket", "", "/", start_after, 1});
    ASSERT_TRUE(page);
    EXPECT_EQ(PageEntries(*page), std::vector<Entry>{expected[i]});
    EXPECT_EQ(page->is_truncated, i + 1 < expected.size()) << i;
    EXPECT_EQ(page->next_start_after, expected[i].name);
    start_after = page->next_start_after;
  }
  // Exactly max_keys entries left: not truncated.
  auto page = catalog_->ListObjects({"bucket", "", "/", "", 3});
  ASSERT_TRUE(page);
  EXPECT_FALSE(page->is_truncated);
}

TEST_F(CatalogTest, PaginationOver2500KeysYieldsEachKeyOnceInOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "dir%d/key-%05d", i % 3, (i * 7919) % 2500);
    keys.push_back(name);
  }
  BulkInsert(path_, "bucket", keys);  // visible at once to catalog_'s connection
  std::sort(keys.begin(), keys.end());

  std::vector<std::string> seen;
  ListObjectsRequest request{"bucket", "", "", "", 1000};
  int pages = 0;
  for (;;) {
    auto page = catalog_->ListObjects(request);
    ASSERT_TRUE(page);
    ++pages;
    for (const auto& o : page->objects) seen.push_back(o.key);
    EXPECT_TRUE(page->common_prefixes.empty());
    if (!page->is_truncated) break;
    EXPECT_EQ(page->objects.size(), 1000u);
    request.start_after = page->next_start_after;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, keys);
  CheckListing(*catalog_, keys, "dir1/", "", "", 1000);
  CheckListing(*catalog_, keys, "", "/", "", 1);
  CheckListing(*catalog_, keys, "dir2/key-01", "/", "dir2/key-0150", 7);
}

TEST_F(CatalogTest, ListObjectsSkipsLargeCommonPrefixes) {
  // 20000 keys in one group: with a delimiter the listing returns the group
  // after one seek past it instead of visiting each of its keys.
  std::vector<std::string> keys;
  for (int i = 0; i < 20000; ++i) keys.push_back("big/" + std::to_string(i));
  BulkInsert(path_, "bucket", keys);
  PutKeys({"a", "z"});
  keys.push_back("a");
  keys.push_back("z");
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    auto page = catalog_->ListObjects({"bucket", "", "/", "", 1000});
    ASSERT_TRUE(page);
    ASSERT_EQ(PageEntries(*page), (std::vector<Entry>{{"a", false}, {"big/", true}, {"z", false}}));
  }
  // 100 listings that each scanned 20000 rows would take far longer.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  CheckListing(*catalog_, keys, "", "/", "big/", 1000);
  CheckListing(*catalog_, keys, "big/1999", "/", "", 10);
}

TEST_F(CatalogTest, ListObjectsMatchesTheReferenceOnRandomKeys) {
  std::mt19937 rng(20240601);
  const std::vector<std::string> alphabet = {"a", "b", "/", "-", "\xc3\xa9", "/"};
  std::set<std::string> key_set;
  while (key_set.size() < 400) {
    std::string key;
    size_t length = 1 + rng() % 6;
    for (size_t i = 0; i < length; ++i) key += alphabet[rng() % alphabet.size()];
    key_set.insert(key);
  }
  std::vector<std::string> keys(key_set.begin(), key_set.end());
  BulkInsert(path_, "bucket", keys);

  const std::vector<std::string> prefixes = {"", "a", "a/", "/", "b-", "\xc3\xa9", "zz", "a/b/"};
  const std::vector<std::string> delimiters = {"", "/", "-", "a/", "\xc3\xa9"};
  const std::vector<size_t> max_keys = {0, 1, 2, 3, 7, 50, 1000};
  for (int round = 0; round < 300; ++round) {
    std::string prefix = prefixes[rng() % prefixes.size()];
    std::string delimiter = delimiters[rng() % delimiters.size()];
    std::string start_after;
    switch (rng() % 4) {
      case 0: break;
      case 1: start_after = keys[rng() % keys.size()]; break;
      case 2: {  // a common prefix, or a string inside one
        const std::string& key = keys[rng() % keys.size()];
        auto group = ReferenceGroup(key, prefix, delimiter);
        start_after = group ? (rng() % 2 ? *group : *group + "a") : key;
        break;
      }
      case 3: start_after = keys[rng() % keys.size()].substr(0, 2); break;
    }
    CheckListing(*catalog_, keys, prefix, delimiter, start_after,
                 max_keys[rng() % max_keys.size()]);
    if (HasFatalFailure()) return;
  }
}

// ------------------------------------------------------------------ uploads and parts

TEST_F(CatalogTest, UploadsAndParts) {
  Upload upload = MakeUpload("up-1", "bucket", "video.mp4");
  ASSERT_OK(catalog_->CreateUpload(upload));
  EXPECT_TRUE(FailsWith(catalog_->CreateUpload(upload), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(
      FailsWith(catalog_->CreateUpload(MakeUpload("up-2", "nobucket", "k")), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->CreateUpload(MakeUpload("", "bucket", "k")),
                        ErrorCode::kInvalidArgument));

  auto got = catalog_->GetUpload("up-1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->upload_id, upload.upload_id);
  EXPECT_EQ(got->bucket, upload.bucket);
  EXPECT_EQ(got->key, upload.key);
  EXPECT_EQ(got->object_id, upload.object_id);
  EXPECT_EQ(got->initiated_ms, upload.initiated_ms);
  EXPECT_EQ(got->owner, upload.owner);
  EXPECT_EQ(got->attributes, upload.attributes);
  EXPECT_EQ(got->envelope, upload.envelope);
  EXPECT_EQ(got->encryption, upload.encryption);
  EXPECT_TRUE(FailsWith(catalog_->GetUpload("nope"), ErrorCode::kNotFound));
  auto uploads = catalog_->ListUploads(ListUploadsRequest{"bucket", "", "", "", "", 10});
  ASSERT_TRUE(uploads);
  ASSERT_EQ(uploads->uploads.size(), 1u);
  EXPECT_EQ(uploads->uploads[0].encryption, upload.encryption);

  // Parts arrive out of order; part 2 is uploaded twice.
  for (uint32_t n : {3u, 1u, 2u, 10u}) {
    auto put = catalog_->PutPart(MakePart("up-1", n, "p" + std::to_string(n)));
    ASSERT_TRUE(put);
    EXPECT_FALSE(put->has_value());
  }
  auto replaced = catalog_->PutPart(MakePart("up-1", 2, "p2-retry"));
  ASSERT_TRUE(replaced);
  ASSERT_TRUE(replaced->has_value());
  EXPECT_EQ((*replaced)->blob, "p2");
  EXPECT_EQ((*replaced)->stream_info, MakePart("up-1", 2, "p2").stream_info);
  EXPECT_TRUE(FailsWith(catalog_->PutPart(MakePart("nope", 1, "x")), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->PutPart(MakePart("up-1", 0, "x")), ErrorCode::kInvalidArgument));

  auto parts = catalog_->GetParts("up-1");
  ASSERT_TRUE(parts);
  std::vector<uint32_t> numbers;
  for (const auto& p : *parts) numbers.push_back(p.part_number);
  EXPECT_EQ(numbers, (std::vector<uint32_t>{1, 2, 3, 10}));
  const Part expected = MakePart("up-1", 2, "p2-retry");
  const Part& p2 = (*parts)[1];
  EXPECT_EQ(p2.upload_id, "up-1");
  EXPECT_EQ(p2.size, expected.size);
  EXPECT_EQ(p2.etag, expected.etag);
  EXPECT_EQ(p2.last_modified_ms, expected.last_modified_ms);
  EXPECT_EQ(p2.stream_info, expected.stream_info);
  EXPECT_EQ(p2.blob, "p2-retry");
  EXPECT_EQ(p2.attributes, expected.attributes);
  EXPECT_TRUE(FailsWith(catalog_->GetParts("nope"), ErrorCode::kNotFound));

  // ListParts with a marker and a page size.
  auto page = catalog_->ListParts("up-1", 0, 2);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->parts.size(), 2u);
  EXPECT_EQ(page->parts[0].part_number, 1u);
  EXPECT_EQ(page->parts[1].part_number, 2u);
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_part_number_marker, 2u);
  page = catalog_->ListParts("up-1", 2, 2);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->parts.size(), 2u);
  EXPECT_EQ(page->parts[0].part_number, 3u);
  EXPECT_EQ(page->parts[1].part_number, 10u);
  EXPECT_FALSE(page->is_truncated);
  EXPECT_EQ(page->next_part_number_marker, 10u);
  page = catalog_->ListParts("up-1", 4, 1000);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->parts.size(), 1u);
  EXPECT_EQ(page->parts[0].part_number, 10u);
  page = catalog_->ListParts("up-1", 10, 1000);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->parts.empty());
  EXPECT_FALSE(page->is_truncated);
  EXPECT_EQ(page->next_part_number_marker, 0u);
  page = catalog_->ListParts("up-1", 0, 0);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->parts.empty());
  page = catalog_->ListParts("up-1", 0, SIZE_MAX);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->parts.size(), 4u);
  EXPECT_TRUE(FailsWith(catalog_->ListParts("nope", 0, 10), ErrorCode::kNotFound));

  // Referenced: every part's blob (not the replaced one: that is the caller's).
  auto referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_EQ(*referenced, (std::vector<std::string>{"p1", "p10", "p2-retry", "p3"}));

  // Abort returns the parts' blobs and removes everything.
  auto aborted = catalog_->AbortUpload("up-1");
  ASSERT_TRUE(aborted);
  EXPECT_EQ(*aborted, (std::vector<std::string>{"p1", "p2-retry", "p3", "p10"}));
  EXPECT_TRUE(FailsWith(catalog_->GetUpload("up-1"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->AbortUpload("up-1"), ErrorCode::kNotFound));
  referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_TRUE(referenced->empty()) << "part rows cascade with their upload";
}

TEST_F(CatalogTest, CompleteUploadPublishesAndReturnsUnreferencedBlobs) {
  Object old_object = MakeObject("bucket", "movie", "old", 2);  // blobs/old/0, blobs/old/1
  ASSERT_OK(catalog_->PutObject(old_object));
  ASSERT_OK(catalog_->CreateUpload(MakeUpload("up", "bucket", "movie")));
  ASSERT_OK(catalog_->CreateUpload(MakeUpload("other", "bucket", "movie")));
  ASSERT_OK(catalog_->PutPart(MakePart("other", 1, "other-p1")));
  for (uint32_t n = 1; n <= 4; ++n) {
    ASSERT_OK(catalog_->PutPart(MakePart("up", n, "up-p" + std::to_string(n))));
  }
  // The client completes with parts 1, 2 and 4.
  Object completed = MakeObject("bucket", "movie", "new", 0);
  completed.blobs = {"up-p1", "up-p2", "up-p4"};

  Object wrong = completed;
  wrong.key = "another";
  EXPECT_TRUE(FailsWith(catalog_->CompleteUpload("up", wrong), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(catalog_->CompleteUpload("missing", completed), ErrorCode::kNotFound));
  EXPECT_TRUE(catalog_->GetUpload("up")) << "a failed completion changes nothing";

  auto unreferenced = catalog_->CompleteUpload("up", completed);
  ASSERT_TRUE(unreferenced) << unreferenced.error().ToString();
  EXPECT_EQ(*unreferenced, (std::vector<std::string>{"up-p3", "blobs/old/0", "blobs/old/1"}));

  auto got = catalog_->GetObject("bucket", "movie");
  ASSERT_TRUE(got);
  ExpectSameObject(*got, completed);
  EXPECT_TRUE(FailsWith(catalog_->GetUpload("up"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->GetParts("up"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->CompleteUpload("up", completed), ErrorCode::kNotFound));
  // The other upload of the same key is untouched.
  auto other_parts = catalog_->GetParts("other");
  ASSERT_TRUE(other_parts);
  EXPECT_EQ(other_parts->size(), 1u);

  auto referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_EQ(*referenced, (std::vector<std::string>{"other-p1", "up-p1", "up-p2", "up-p4"}));

  // Completing onto a key with no object returns only the unused parts.
  ASSERT_OK(catalog_->CreateUpload(MakeUpload("fresh", "bucket", "new-key")));
  ASSERT_OK(catalog_->PutPart(MakePart("fresh", 1, "fresh-p1")));
  Object fresh = MakeObject("bucket", "new-key", "fresh", 0);
  fresh.blobs = {"fresh-p1"};
  unreferenced = catalog_->CompleteUpload("fresh", fresh);
  ASSERT_TRUE(unreferenced);
  EXPECT_TRUE(unreferenced->empty());
}

TEST_F(CatalogTest, CompleteUploadIntoADeletedBucketIsImpossible) {
  // A bucket with an upload cannot go away, so completion always has a bucket.
  ASSERT_OK(catalog_->CreateBucket(Bucket{"tmp", 1, "o", {}}));
  ASSERT_OK(catalog_->CreateUpload(MakeUpload("u", "tmp", "k")));
  EXPECT_TRUE(FailsWith(catalog_->DeleteBucket("tmp"), ErrorCode::kFailedPrecondition));
  Object object = MakeObject("tmp", "k", "v", 0);
  ASSERT_OK(catalog_->CompleteUpload("u", object));
  EXPECT_TRUE(FailsWith(catalog_->DeleteBucket("tmp"), ErrorCode::kFailedPrecondition));
}

struct UploadEntry {
  std::string key;
  std::string upload_id;  // empty for a common prefix
  bool operator==(const UploadEntry&) const = default;
};

void PrintTo(const UploadEntry& e, std::ostream* os) { *os << e.key << "#" << e.upload_id; }

std::vector<UploadEntry> UploadEntries(const ListUploadsPage& page) {
  std::vector<UploadEntry> out;
  for (const auto& u : page.uploads) out.push_back({u.key, u.upload_id});
  for (const auto& p : page.common_prefixes) out.push_back({p, ""});
  std::sort(out.begin(), out.end(), [](const UploadEntry& a, const UploadEntry& b) {
    return std::tie(a.key, a.upload_id) < std::tie(b.key, b.upload_id);
  });
  return out;
}

// Reference: all entries after the markers, by brute force.
std::vector<UploadEntry> ReferenceUploads(std::vector<UploadEntry> uploads,
                                          const ListUploadsRequest& r) {
  std::sort(uploads.begin(), uploads.end(), [](const UploadEntry& a, const UploadEntry& b) {
    return std::tie(a.key, a.upload_id) < std::tie(b.key, b.upload_id);
  });
  std::vector<UploadEntry> out;
  for (const auto& u : uploads) {
    if (u.key.compare(0, r.prefix.size(), r.prefix) != 0) continue;
    bool after =
        r.key_marker.empty() || u.key > r.key_marker ||
        (u.key == r.key_marker && !r.upload_id_marker.empty() && u.upload_id > r.upload_id_marker);
    if (auto group = ReferenceGroup(u.key, r.prefix, r.delimiter)) {
      if (!out.empty() && out.back() == UploadEntry{*group, ""}) continue;
      if (*group == r.key_marker) continue;
      if (!after) continue;
      out.push_back({*group, ""});
    } else if (after) {
      out.push_back(u);
    }
  }
  return out;
}

TEST_F(CatalogTest, ListUploadsOrdersByKeyThenUploadIdWithMarkers) {
  std::vector<UploadEntry> all = {{"a", "u2"},   {"a", "u1"},   {"a", "u3"}, {"b", "u0"},
                                  {"d/x", "u5"}, {"d/y", "u4"}, {"e", "u6"}};
  for (const auto& u : all) {
    ASSERT_OK(catalog_->CreateUpload(MakeUpload(u.upload_id, "bucket", u.key)));
  }
  auto list = [&](ListUploadsRequest r) {
    r.bucket = "bucket";
    auto page = catalog_->ListUploads(r);
    EXPECT_TRUE(page) << page.error().ToString();
    return page ? UploadEntries(*page) : std::vector<UploadEntry>{};
  };
  ListUploadsRequest r;
  EXPECT_EQ(list(r), ReferenceUploads(all, {"bucket", "", "", "", "", 1000}));
  ASSERT_EQ(list(r).size(), 7u);
  EXPECT_EQ(list(r)[0], (UploadEntry{"a", "u1"}));

  r.key_marker = "a";  // after every upload of "a"
  EXPECT_EQ(list(r),
            (std::vector<UploadEntry>{{"b", "u0"}, {"d/x", "u5"}, {"d/y", "u4"}, {"e", "u6"}}));
  r.upload_id_marker = "u1";  // after upload u1 of "a"
  EXPECT_EQ(list(r),
            (std::vector<UploadEntry>{
                {"a", "u2"}, {"a", "u3"}, {"b", "u0"}, {"d/x", "u5"}, {"d/y", "u4"}, {"e", "u6"}}));
  r.key_marker.clear();  // upload_id_marker alone is ignored
  EXPECT_EQ(list(r).size(), 7u);

  r = ListUploadsRequest{};
  r.delimiter = "/";
  EXPECT_EQ(list(r),
            (std::vector<UploadEntry>{
                {"a", "u1"}, {"a", "u2"}, {"a", "u3"}, {"b", "u0"}, {"d/", ""}, {"e", "u6"}}));
  r.key_marker = "d/";  // a common prefix as the marker skips it
  EXPECT_EQ(list(r), (std::vector<UploadEntry>{{"e", "u6"}}));
  r.prefix = "d/";
  r.key_marker.clear();
  EXPECT_EQ(list(r), (std::vector<UploadEntry>{{"d/x", "u5"}, {"d/y", "u4"}}));

  EXPECT_TRUE(
      FailsWith(catalog_->ListUploads({"nobucket", "", "", "", "", 10}), ErrorCode::kNotFound));
  auto zero = catalog_->ListUploads({"bucket", "", "", "", "", 0});
  ASSERT_TRUE(zero);
  EXPECT_TRUE(zero->uploads.empty() && zero->common_prefixes.empty());
  EXPECT_FALSE(zero->is_truncated);
}

TEST_F(CatalogTest, ListUploadsPaginatesLikeTheReference) {
  std::mt19937 rng(7);
  std::vector<UploadEntry> all;
  const std::vector<std::string> keys = {"a",     "a/b", "a/c/d",    "a/c/e", "b",   "b/",
                                         "c/x/y", "c/z", "\xc3\xa9", "d",     "d-1", "d/"};
  for (int i = 0; i < 120; ++i) {
    UploadEntry u{keys[rng() % keys.size()], "up" + std::to_string(1000 + rng() % 9000)};
    if (std::find(all.begin(), all.end(), u) != all.end()) continue;
    bool taken = false;
    for (const auto& other : all) taken = taken || other.upload_id == u.upload_id;
    if (taken) continue;
    all.push_back(u);
    ASSERT_OK(catalog_->CreateUpload(MakeUpload(u.upload_id, "bucket", u.key)));
  }
  for (const std::string prefix : {"", "a", "a/", "c/", "d"}) {
    for (const std::string delimiter : {"", "/", "-"}) {
      for (size_t max : {1u, 2u, 5u, 1000u}) {
        SCOPED_TRACE(prefix + " | " + delimiter + " | " + std::to_string(max));
        ListUploadsRequest request{"bucket", prefix, delimiter, "", "", max};
        std::vector<UploadEntry> expected = ReferenceUploads(all, request);
        std::vector<UploadEntry> seen;
        for (int pages = 0;; ++pages) {
          ASSERT_LT(pages, 1000);
          auto page = catalog_->ListUploads(request);
          ASSERT_TRUE(page);
          auto entries = UploadEntries(*page);
          ASSERT_LE(entries.size(), max);
          seen.insert(seen.end(), entries.begin(), entries.end());
          EXPECT_EQ(page->is_truncated, seen.size() < expected.size());
          if (!page->is_truncated) break;
          EXPECT_EQ(page->next_key_marker, entries.back().key);
          EXPECT_EQ(page->next_upload_id_marker, entries.back().upload_id);
          request.key_marker = page->next_key_marker;
          request.upload_id_marker = page->next_upload_id_marker;
        }
        EXPECT_EQ(seen, expected);
      }
    }
  }
}

// ------------------------------------------------------------------ KMS keys

KmsKey MakeKey(const std::string& id, int64_t created_ms, const std::string& kind = "customer") {
  return KmsKey{id, "description of " + id, "enabled", 1, created_ms, kind, "strongroom"};
}

KmsKeyVersion MakeVersion(const std::string& id, uint32_t version) {
  return KmsKeyVersion{id, version, B("salt-" + id + "-" + std::to_string(version)),
                       1000 + version};
}

TEST_F(CatalogTest, KmsKeysAndVersions) {
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("k-late", 300), MakeVersion("k-late", 1)));
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("sse-s3", 100, "sse-s3"), MakeVersion("sse-s3", 1)));
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("k-mid", 200), MakeVersion("k-mid", 1)));
  EXPECT_TRUE(FailsWith(catalog_->CreateKmsKey(MakeKey("k-mid", 5), MakeVersion("k-mid", 1)),
                        ErrorCode::kAlreadyExists));
  EXPECT_TRUE(FailsWith(catalog_->CreateKmsKey(MakeKey("", 5), MakeVersion("", 1)),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(catalog_->CreateKmsKey(MakeKey("x", 5), MakeVersion("y", 1)),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(catalog_->CreateKmsKey(MakeKey("x", 5), MakeVersion("x", 2)),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(catalog_->GetKmsKey("x"), ErrorCode::kNotFound)) << "nothing half-made";

  auto key = catalog_->GetKmsKey("k-mid");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->key_id, "k-mid");
  EXPECT_EQ(key->description, "description of k-mid");
  EXPECT_EQ(key->state, "enabled");
  EXPECT_EQ(key->current_version, 1u);
  EXPECT_EQ(key->created_ms, 200);
  EXPECT_EQ(key->kind, "customer");
  EXPECT_EQ(key->provider, "strongroom");
  EXPECT_TRUE(FailsWith(catalog_->GetKmsKey("nope"), ErrorCode::kNotFound));

  auto keys = catalog_->ListKmsKeys();
  ASSERT_TRUE(keys);
  std::vector<std::string> ids;
  for (const auto& k : *keys) ids.push_back(k.key_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"sse-s3", "k-mid", "k-late"})) << "by creation time";
  EXPECT_EQ((*keys)[0].kind, "sse-s3");

  // State.
  ASSERT_OK(catalog_->SetKmsKeyState("k-mid", "disabled"));
  key = catalog_->GetKmsKey("k-mid");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->state, "disabled");
  EXPECT_TRUE(FailsWith(catalog_->SetKmsKeyState("nope", "disabled"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->SetKmsKeyState("k-mid", ""), ErrorCode::kInvalidArgument));

  // Versions.
  auto version = catalog_->GetKmsKeyVersion("k-mid", 1);
  ASSERT_TRUE(version);
  EXPECT_EQ(version->key_id, "k-mid");
  EXPECT_EQ(version->version, 1u);
  EXPECT_EQ(version->salt, B("salt-k-mid-1"));
  EXPECT_EQ(version->created_ms, 1001);
  EXPECT_TRUE(FailsWith(catalog_->GetKmsKeyVersion("k-mid", 2), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->GetKmsKeyVersion("nope", 1), ErrorCode::kNotFound));

  ASSERT_OK(catalog_->AddKmsKeyVersion(MakeVersion("k-mid", 2)));
  key = catalog_->GetKmsKey("k-mid");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->current_version, 2u);
  EXPECT_EQ(key->state, "disabled") << "a new version keeps the state";
  version = catalog_->GetKmsKeyVersion("k-mid", 2);
  ASSERT_TRUE(version);
  EXPECT_EQ(version->salt, B("salt-k-mid-2"));
  version = catalog_->GetKmsKeyVersion("k-mid", 1);
  ASSERT_TRUE(version) << "old versions stay readable";
  EXPECT_EQ(version->salt, B("salt-k-mid-1"));
  EXPECT_TRUE(
      FailsWith(catalog_->AddKmsKeyVersion(MakeVersion("k-mid", 2)), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(
      FailsWith(catalog_->AddKmsKeyVersion(MakeVersion("k-mid", 0)), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(catalog_->AddKmsKeyVersion(MakeVersion("nope", 2)), ErrorCode::kNotFound));
  key = catalog_->GetKmsKey("k-mid");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->current_version, 2u);
}

// Provider-backed keys (issue 5): the provider's key on the key row, each
// version's wrapped KEK set once (compare-and-set).
TEST_F(CatalogTest, ProviderBackedKmsKeys) {
  KmsKey key = MakeKey("kp", 1);
  key.provider = "kmip";
  key.provider_key = "uid-42";
  KmsKeyVersion first = MakeVersion("kp", 1);
  first.wrapped = B("wrapped-1");
  ASSERT_OK(catalog_->CreateKmsKey(key, first));
  auto got = catalog_->GetKmsKey("kp");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->provider, "kmip");
  EXPECT_EQ(got->provider_key, "uid-42");
  auto listed = catalog_->ListKmsKeys();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].provider_key, "uid-42");
  auto v1 = catalog_->GetKmsKeyVersion("kp", 1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->wrapped, B("wrapped-1"));
  EXPECT_TRUE(FailsWith(catalog_->SetKmsKeyVersionWrapped("kp", 1, B("other")),
                        ErrorCode::kAlreadyExists));
  v1 = catalog_->GetKmsKeyVersion("kp", 1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->wrapped, B("wrapped-1")) << "set once";

  // A version added without wrapped material gets it later, once.
  ASSERT_OK(catalog_->AddKmsKeyVersion(MakeVersion("kp", 2)));
  auto v2 = catalog_->GetKmsKeyVersion("kp", 2);
  ASSERT_TRUE(v2);
  EXPECT_TRUE(v2->wrapped.empty());
  ASSERT_OK(catalog_->SetKmsKeyVersionWrapped("kp", 2, B("wrapped-2")));
  EXPECT_TRUE(FailsWith(catalog_->SetKmsKeyVersionWrapped("kp", 2, B("wrapped-x")),
                        ErrorCode::kAlreadyExists));
  v2 = catalog_->GetKmsKeyVersion("kp", 2);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->wrapped, B("wrapped-2"));
  EXPECT_EQ(v2->salt, B("salt-kp-2"));
  EXPECT_TRUE(FailsWith(catalog_->SetKmsKeyVersionWrapped("kp", 3, B("w")), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->SetKmsKeyVersionWrapped("nope", 1, B("w")), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->SetKmsKeyVersionWrapped("kp", 2, Bytes()),
                        ErrorCode::kInvalidArgument));

  // Keys of the root hierarchy have neither.
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("kr", 2), MakeVersion("kr", 1)));
  got = catalog_->GetKmsKey("kr");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->provider_key, "");
  auto r1 = catalog_->GetKmsKeyVersion("kr", 1);
  ASSERT_TRUE(r1);
  EXPECT_TRUE(r1->wrapped.empty());
}

TEST_F(CatalogTest, KmsAliases) {
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("k1", 1), MakeVersion("k1", 1)));
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("k2", 2), MakeVersion("k2", 1)));
  ASSERT_OK(catalog_->AddKmsAlias("alias/b", "k1"));
  ASSERT_OK(catalog_->AddKmsAlias("alias/a", "k1"));
  ASSERT_OK(catalog_->AddKmsAlias("alias/c", "k2"));
  EXPECT_TRUE(FailsWith(catalog_->AddKmsAlias("alias/a", "k2"), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(FailsWith(catalog_->AddKmsAlias("alias/a", "k1"), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(FailsWith(catalog_->AddKmsAlias("alias/d", "nope"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->AddKmsAlias("", "k1"), ErrorCode::kInvalidArgument));

  auto resolved = catalog_->ResolveKmsAlias("alias/a");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(*resolved, "k1");
  resolved = catalog_->ResolveKmsAlias("alias/c");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(*resolved, "k2");
  EXPECT_TRUE(FailsWith(catalog_->ResolveKmsAlias("alias/d"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->ResolveKmsAlias("ALIAS/A"), ErrorCode::kNotFound))
      << "aliases are case-sensitive";

  auto aliases = catalog_->KmsAliasesOf("k1");
  ASSERT_TRUE(aliases);
  EXPECT_EQ(*aliases, (std::vector<std::string>{"alias/a", "alias/b"}));
  aliases = catalog_->KmsAliasesOf("nope");
  ASSERT_TRUE(aliases);
  EXPECT_TRUE(aliases->empty());

  ASSERT_OK(catalog_->DeleteKmsAlias("alias/a"));
  EXPECT_TRUE(FailsWith(catalog_->DeleteKmsAlias("alias/a"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->ResolveKmsAlias("alias/a"), ErrorCode::kNotFound));
  ASSERT_OK(catalog_->AddKmsAlias("alias/a", "k2"));  // a freed alias may name another key
  aliases = catalog_->KmsAliasesOf("k2");
  ASSERT_TRUE(aliases);
  EXPECT_EQ(*aliases, (std::vector<std::string>{"alias/a", "alias/c"}));
}

TEST_F(CatalogTest, KmsGrants) {
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("k1", 1), MakeVersion("k1", 1)));
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("k2", 2), MakeVersion("k2", 1)));
  ASSERT_OK(catalog_->AddKmsGrant("k1", "AKIAB"));
  ASSERT_OK(catalog_->AddKmsGrant("k1", "AKIAA"));
  ASSERT_OK(catalog_->AddKmsGrant("k1", "AKIAA"));  // granting twice is harmless
  ASSERT_OK(catalog_->AddKmsGrant("k2", "AKIAA"));
  EXPECT_TRUE(FailsWith(catalog_->AddKmsGrant("nope", "AKIAA"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->AddKmsGrant("k1", ""), ErrorCode::kInvalidArgument));

  auto has = catalog_->HasKmsGrant("k1", "AKIAA");
  ASSERT_TRUE(has);
  EXPECT_TRUE(*has);
  has = catalog_->HasKmsGrant("k2", "AKIAB");
  ASSERT_TRUE(has);
  EXPECT_FALSE(*has) << "grants are per (key, access key)";
  has = catalog_->HasKmsGrant("nope", "AKIAA");
  ASSERT_TRUE(has);
  EXPECT_FALSE(*has);

  auto grantees = catalog_->KmsGrantees("k1");
  ASSERT_TRUE(grantees);
  EXPECT_EQ(*grantees, (std::vector<std::string>{"AKIAA", "AKIAB"}));

  ASSERT_OK(catalog_->RemoveKmsGrant("k1", "AKIAA"));
  EXPECT_TRUE(FailsWith(catalog_->RemoveKmsGrant("k1", "AKIAA"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->RemoveKmsGrant("nope", "AKIAA"), ErrorCode::kNotFound));
  has = catalog_->HasKmsGrant("k1", "AKIAA");
  ASSERT_TRUE(has);
  EXPECT_FALSE(*has);
  has = catalog_->HasKmsGrant("k2", "AKIAA");
  ASSERT_TRUE(has);
  EXPECT_TRUE(*has) << "revoking on one key leaves the other";
  grantees = catalog_->KmsGrantees("k1");
  ASSERT_TRUE(grantees);
  EXPECT_EQ(*grantees, (std::vector<std::string>{"AKIAB"}));
}

TEST_F(CatalogTest, KmsChangesAreVisibleToAnotherConnectionAtOnce) {
  auto other = OpenAnother();
  ASSERT_NE(other, nullptr);
  ASSERT_OK(catalog_->CreateKmsKey(MakeKey("k", 1), MakeVersion("k", 1)));
  auto key = other->GetKmsKey("k");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->state, "enabled");
  ASSERT_OK(other->SetKmsKeyState("k", "disabled"));
  ASSERT_OK(other->AddKmsGrant("k", "AKIAX"));
  key = catalog_->GetKmsKey("k");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->state, "disabled");
  auto has = catalog_->HasKmsGrant("k", "AKIAX");
  ASSERT_TRUE(has);
  EXPECT_TRUE(*has);
}

// ------------------------------------------------------------------ users

TEST_F(CatalogTest, Users) {
  User admin{"AKIAADMIN", B("sealed-1"), true, 100};
  User plain{"AKIAPLAIN", B("sealed-2"), false, 200};
  ASSERT_OK(catalog_->AddUser(plain));
  ASSERT_OK(catalog_->AddUser(admin));
  EXPECT_TRUE(FailsWith(catalog_->AddUser(admin), ErrorCode::kAlreadyExists));
  EXPECT_TRUE(FailsWith(catalog_->AddUser(User{"", {}, false, 0}), ErrorCode::kInvalidArgument));

  auto got = catalog_->GetUser("AKIAADMIN");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->access_key, "AKIAADMIN");
  EXPECT_EQ(got->sealed_secret, B("sealed-1"));
  EXPECT_TRUE(got->admin);
  EXPECT_EQ(got->created_ms, 100);
  EXPECT_TRUE(FailsWith(catalog_->GetUser("AKIANOBODY"), ErrorCode::kNotFound));

  auto users = catalog_->ListUsers();
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].access_key, "AKIAADMIN");
  EXPECT_EQ((*users)[1].access_key, "AKIAPLAIN");
  EXPECT_FALSE((*users)[1].admin);

  ASSERT_OK(catalog_->RemoveUser("AKIAPLAIN"));
  EXPECT_TRUE(FailsWith(catalog_->RemoveUser("AKIAPLAIN"), ErrorCode::kNotFound));
  EXPECT_TRUE(FailsWith(catalog_->GetUser("AKIAPLAIN"), ErrorCode::kNotFound));
  users = catalog_->ListUsers();
  ASSERT_TRUE(users);
  EXPECT_EQ(users->size(), 1u);
}

// ------------------------------------------------------------------ ReferencedBlobs

TEST_F(CatalogTest, ReferencedBlobsCoversObjectsAndPartsOnce) {
  Object a = MakeObject("bucket", "a", "A", 0);
  a.blobs = {"shared", "x2", "x1"};
  Object b = MakeObject("bucket", "b", "B", 0);
  b.blobs = {"shared", "y"};
  ASSERT_OK(catalog_->PutObject(a));
  ASSERT_OK(catalog_->PutObject(b));
  ASSERT_OK(catalog_->CreateUpload(MakeUpload("u", "bucket", "c")));
  ASSERT_OK(catalog_->PutPart(MakePart("u", 1, "y")));
  ASSERT_OK(catalog_->PutPart(MakePart("u", 2, "z")));
  auto referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_EQ(*referenced, (std::vector<std::string>{"shared", "x1", "x2", "y", "z"}));

  auto replaced = catalog_->PutObject(MakeObject("bucket", "a", "A2", 1));
  ASSERT_TRUE(replaced);
  referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_EQ(*referenced, (std::vector<std::string>{"blobs/A2/0", "shared", "y", "z"}));
}

// ------------------------------------------------------------------ consistency

TEST_F(CatalogTest, TwoCatalogsOnOneFileReadTheirWrites) {
  auto other = OpenAnother();
  ASSERT_NE(other, nullptr);
  ASSERT_OK(catalog_->PutObject(MakeObject("bucket", "k", "first")));
  auto seen = other->GetObject("bucket", "k");
  ASSERT_TRUE(seen) << "read-after-write across connections";
  EXPECT_EQ(seen->etag, "etag-first");

  ASSERT_OK(other->PutObject(MakeObject("bucket", "k", "second")));
  ASSERT_OK(other->CreateBucket(Bucket{"made-by-other", 1, "o", {}}));
  ASSERT_OK(other->AddUser(User{"AKIA2", B("s"), false, 1}));
  seen = catalog_->GetObject("bucket", "k");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->etag, "etag-second");
  EXPECT_TRUE(catalog_->GetBucket("made-by-other"));
  EXPECT_TRUE(catalog_->GetUser("AKIA2"));
  auto page = catalog_->ListObjects({"bucket", "", "", "", 10});
  ASSERT_TRUE(page);
  ASSERT_EQ(page->objects.size(), 1u);

  ASSERT_OK(catalog_->DeleteObject("bucket", "k"));
  EXPECT_TRUE(FailsWith(other->GetObject("bucket", "k"), ErrorCode::kNotFound));
}

TEST_F(CatalogTest, AnotherProcessSeesAndMakesChanges) {
  ASSERT_OK(catalog_->PutObject(MakeObject("bucket", "from-parent", "p")));
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A fresh connection in the child (never reuse the parent's).
    auto catalog = Catalog::Open(path_);
    int status = 0;
    if (!catalog || !(*catalog)->GetObject("bucket", "from-parent")) status = 1;
    if (status == 0 && !(*catalog)->AddUser(User{"AKIACHILD", B("s"), true, 5})) status = 2;
    catalog = tl::unexpected(Error(ErrorCode::kInternal, "closed"));
    ::_exit(status);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto user = catalog_->GetUser("AKIACHILD");
  ASSERT_TRUE(user) << "the parent sees the child's commit";
  EXPECT_TRUE(user->admin);
}

TEST_F(CatalogTest, ConcurrentPutObjectToOneKeyLeavesOneIntactWrite) {
  auto other = OpenAnother();  // half the threads write through a second connection
  ASSERT_NE(other, nullptr);
  constexpr int kThreads = 8;
  constexpr int kWrites = 25;
  std::atomic<int> failures{0};
  std::atomic<int> fresh_inserts{0};
  std::atomic<int> torn{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Catalog& catalog = t % 2 == 0 ? static_cast<Catalog&>(*catalog_) : *other;
      for (int i = 0; i < kWrites; ++i) {
        std::string tag = "t" + std::to_string(t) + "w" + std::to_string(i);
        auto replaced = catalog.PutObject(MakeObject("bucket", "hot", tag, 1 + (t + i) % 4));
        if (!replaced) {
          ++failures;
          continue;
        }
        if (!replaced->has_value()) {
          ++fresh_inserts;
        } else if (!IsConsistent(**replaced)) {
          ++torn;
        }
        auto read = catalog.GetObject("bucket", "hot");
        if (!read || !IsConsistent(*read)) ++torn;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(fresh_inserts.load(), 1) << "exactly one write found no object";
  auto final_object = catalog_->GetObject("bucket", "hot");
  ASSERT_TRUE(final_object);
  EXPECT_TRUE(IsConsistent(*final_object));
  auto referenced = catalog_->ReferencedBlobs();
  ASSERT_TRUE(referenced);
  EXPECT_EQ(referenced->size(), final_object->blobs.size()) << "no blob rows left behind";
  auto page = catalog_->ListObjects({"bucket", "", "", "", 10});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->objects.size(), 1u);
}

}  // namespace
}  // namespace strongroom::catalog
