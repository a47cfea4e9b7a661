// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Catalog on SQLite (the implementation Catalog::Open returns).
//
// Connection. One connection per SqliteCatalog, guarded by a mutex: calls
// from threads of one process are serialized (SQLite allows one writer at a
// time anyway; reads are short index lookups). Other processes and other
// SqliteCatalog objects on the same file use their own connections: WAL
// journal mode lets them read while one writes, and busy_timeout makes a
// writer wait for another's transaction. synchronous=FULL (a commit is
// durable when the call returns), foreign_keys=ON. Statements are prepared
// once per connection and reused.
//
// Transactions. Every method is one transaction: reads run in a deferred
// transaction (one consistent snapshot, so a page of a listing never mixes
// two states), writes in BEGIN IMMEDIATE (the write lock is taken up front,
// so a transaction never fails half-way with SQLITE_BUSY). A commit by any
// connection is visible to every transaction that starts after it.
//
// Errors. SQLITE_BUSY/LOCKED after the busy timeout, a full disk, an I/O
// error or no memory: kUnavailable. A corrupt file or one that is not a
// database: kDataLoss. A schema newer than this build: kFailedPrecondition.
// Read-only database or file permissions: kPermissionDenied.
//
// Schema (version 2; table schema_migrations records applied versions, and
// opening a database of an older version migrates it in one transaction):
//   buckets(name PK, created_ms, owner, encryption)
//   objects(id PK, bucket FK, key, size, etag, last_modified_ms, owner,
//           object_id, attributes, manifest, envelope, encryption, kek_ref;
//           UNIQUE(bucket, key), INDEX(kek_ref))
//   object_blobs(object FK->objects.id ON DELETE CASCADE, seq, blob)
//   uploads(upload_id PK, bucket FK, key, object_id, initiated_ms, owner,
//           attributes, envelope, encryption; INDEX(bucket, key, upload_id))
//   parts(upload_id FK ON DELETE CASCADE, part_number, size, etag,
//         last_modified_ms, blob, stream_info, attributes;
//         PK(upload_id, part_number))
//   users(access_key PK, sealed_secret, admin, created_ms)
//   kms_keys(key_id PK, description, state, current_version, created_ms,
//            kind, provider; INDEX(created_ms, key_id))
//   kms_key_versions(key_id FK, version, salt, created_ms; PK(key_id, version))
//   kms_aliases(alias PK, key_id FK; INDEX(key_id, alias))
//   kms_grants(key_id FK, access_key; PK(key_id, access_key))
//   jobs(job_id PK, kind, state, params, cursor, objects_done, bytes_done,
//        objects_skipped, objects_failed, objects_total, bytes_total,
//        created_ms, updated_ms, finished_ms, message; INDEX(created_ms, job_id))
// Version 2 added the encryption columns (NULL in rows written by version 1,
// read as empty) and the kms_* tables; version 3 kms_keys.destroy_ms (0 for
// older rows) and the jobs table.
// Text keys use the BINARY collation, so they order by their UTF-8 bytes as
// S3 requires. Small listing columns come before the large blobs in each
// row, so listings never read manifests.
//
// Listing semantics (ListObjects; ListUploads alike):
//  * Keys are listed in byte order from the first key after start_after
//    (exclusive) that starts with prefix.
//  * With a delimiter, every key that contains it after the prefix is
//    rolled up into the common prefix prefix + ... + delimiter (first
//    occurrence after the prefix), returned once in key order in place of
//    its keys; the listing then seeks past the whole common prefix in one
//    step instead of scanning its keys.
//  * A start_after equal to a common prefix skips that common prefix; a
//    start_after inside one (e.g. "a/b" for the group "a/") returns the
//    common prefix again if keys after start_after fall into it (as S3
//    does).
//  * max_keys counts objects plus common prefixes; 0 returns an empty,
//    untruncated page. is_truncated says whether more entries follow;
//    next_start_after is the last entry returned (empty for an empty page).
//
// Details beyond catalog.h:
//  * kInvalidArgument: an empty bucket name (CreateBucket), object key
//    (PutObject, CreateUpload), upload id or access key; part number 0;
//    a size above INT64_MAX; CompleteUpload with an object whose bucket or
//    key differs from the upload's.
//  * kNotFound: ListObjects/ListUploads of a missing bucket; ListParts and
//    GetParts of a missing upload. CreateUpload: kAlreadyExists for a used
//    upload id, kNotFound for a missing bucket.
//  * CompleteUpload returns the unreferenced blobs in a fixed order: the
//    upload's parts not in object.blobs (by part number), then the replaced
//    object's blobs not in object.blobs; each name once. Whether another
//    object still uses a name is not checked: blob names are unique by
//    construction (objects/ chooses them).
//  * ListParts: max_parts 0 returns an empty, untruncated page;
//    next_part_number_marker is the last part returned (0 if none).
//  * ReferencedBlobs is sorted and has no duplicates.
//  * ReplaceObjectIf compares object ids bytewise; the replacement may name
//    other blobs (the replaced row's blobs are returned with it).
//  * KMS: CreateKmsKey needs first.version == key.current_version > 0 and
//    first.key_id empty or key.key_id (else kInvalidArgument).
//    AddKmsKeyVersion: kNotFound for an unknown key, kAlreadyExists for an
//    existing version, kInvalidArgument for a version not above the current
//    one. SetKmsKeyState, DeleteKmsAlias, RemoveKmsGrant: kNotFound if
//    nothing matched. AddKmsAlias and AddKmsGrant: kNotFound for an unknown
//    key; AddKmsGrant is idempotent. KmsAliasesOf and KmsGrantees are sorted
//    and empty for an unknown key. ListKmsKeys orders by (created_ms, key_id)
//    and includes every kind.
//  * Key maintenance: ScanObjects walks the (bucket, key) index from the
//    cursor and filters kek_ref row by row, so paging through every match
//    costs one pass over the scanned range in all. UpdateEnvelope and
//    ReplaceObjectIfUnchanged compare object id and envelope bytewise.
//    DestroyKmsKey runs with secure_delete on and then checkpoints the WAL
//    (TRUNCATE, best effort: a reader holding an old snapshot may delay it).
//
// ListUploads orders uploads by (key, upload_id). key_marker alone resumes
// after every upload of that key; with upload_id_marker, after that upload
// of key_marker. upload_id_marker is ignored without key_marker. The next
// markers name the last entry returned (upload_id empty for a common prefix).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "catalog/catalog.h"

struct sqlite3;
struct sqlite3_stmt;

namespace strongroom::catalog {

class SqliteCatalog : public Catalog {
 public:
  // The newest schema version this build creates and understands.
  static constexpr int kSchemaVersion = 5;

  struct Options {
    // How long a write waits for another connection's transaction before
    // failing with kUnavailable.
    int busy_timeout_ms = 10000;
  };

  static Result<std::unique_ptr<SqliteCatalog>> Open(const std::string& path,
                                                     const Options& options);
  static Result<std::unique_ptr<SqliteCatalog>> Open(const std::string& path) {
    return Open(path, Options());
  }
  ~SqliteCatalog() override;

  SqliteCatalog(const SqliteCatalog&) = delete;
  SqliteCatalog& operator=(const SqliteCatalog&) = delete;

  Result<void> CreateBucket(const Bucket& bucket) override;
  Result<Bucket> GetBucket(std::string_view name) override;
  Result<std::vector<Bucket>> ListBuckets() override;
  Result<void> DeleteBucket(std::string_view name) override;
  Result<void> SetBucketEncryption(std::string_view name, ByteView encryption) override;

  Result<std::optional<Object>> PutObject(const Object& object) override;
  Result<Object> GetObject(std::string_view bucket, std::string_view key) override;
  Result<Object> ReplaceObjectIf(const Object& object, ByteView expected_object_id) override;
  Result<Object> DeleteObject(std::string_view bucket, std::string_view key) override;
  Result<ListObjectsPage> ListObjects(const ListObjectsRequest& request) override;

  Result<void> CreateUpload(const Upload& upload) override;
  Result<Upload> GetUpload(std::string_view upload_id) override;
  Result<std::optional<Part>> PutPart(const Part& part) override;
  Result<ListPartsPage> ListParts(std::string_view upload_id, uint32_t part_number_marker,
                                  size_t max_parts) override;
  Result<std::vector<Part>> GetParts(std::string_view upload_id) override;
  Result<ListUploadsPage> ListUploads(const ListUploadsRequest& request) override;
  Result<std::vector<std::string>> CompleteUpload(std::string_view upload_id,
                                                  const Object& object) override;
  Result<std::vector<std::string>> AbortUpload(std::string_view upload_id) override;

  Result<void> AddUser(const User& user) override;
  Result<User> GetUser(std::string_view access_key) override;
  Result<std::vector<User>> ListUsers() override;
  Result<void> RemoveUser(std::string_view access_key) override;

  Result<void> CreateKmsKey(const KmsKey& key, const KmsKeyVersion& first) override;
  Result<KmsKey> GetKmsKey(std::string_view key_id) override;
  Result<std::vector<KmsKey>> ListKmsKeys() override;
  Result<void> SetKmsKeyState(std::string_view key_id, std::string_view state) override;
  Result<void> AddKmsKeyVersion(const KmsKeyVersion& version) override;
  Result<void> SetKmsKeyVersionWrapped(std::string_view key_id, uint32_t version,
                                       ByteView wrapped) override;
  Result<KmsKeyVersion> GetKmsKeyVersion(std::string_view key_id, uint32_t version) override;
  Result<void> AddKmsAlias(std::string_view alias, std::string_view key_id) override;
  Result<void> DeleteKmsAlias(std::string_view alias) override;
  Result<std::string> ResolveKmsAlias(std::string_view alias) override;
  Result<std::vector<std::string>> KmsAliasesOf(std::string_view key_id) override;
  Result<void> AddKmsGrant(std::string_view key_id, std::string_view access_key) override;
  Result<void> RemoveKmsGrant(std::string_view key_id, std::string_view access_key) override;
  Result<bool> HasKmsGrant(std::string_view key_id, std::string_view access_key) override;
  Result<std::vector<std::string>> KmsGrantees(std::string_view key_id) override;

  Result<void> UpdateKmsKeyState(std::string_view key_id, std::string_view expected_state,
                                 std::string_view state, int64_t destroy_ms) override;
  Result<void> DestroyKmsKey(std::string_view key_id, int64_t now_ms) override;
  Result<void> SettleKmsProviderKey(std::string_view key_id, std::string_view outcome,
                                    int64_t now_ms) override;

  Result<std::vector<ObjectKeyRecord>> ScanObjects(const ObjectScanRequest& request) override;
  Result<ObjectCount> CountObjects(const ObjectScanRequest& request) override;
  Result<std::vector<KekRefUsage>> ObjectUsageByKekRef() override;
  Result<void> UpdateEnvelope(std::string_view bucket, std::string_view key, ByteView object_id,
                              ByteView expected_envelope, ByteView envelope,
                              std::string_view kek_ref) override;
  Result<Object> ReplaceObjectIfUnchanged(const Object& object, ByteView expected_object_id,
                                          ByteView expected_envelope) override;
  Result<std::vector<Upload>> ScanUploads(std::string_view after_upload_id,
                                          size_t limit) override;
  Result<void> UpdateUploadEnvelope(std::string_view upload_id, ByteView expected_envelope,
                                    ByteView envelope) override;

  Result<void> CreateJob(const Job& job) override;
  Result<Job> GetJob(std::string_view job_id) override;
  Result<std::vector<Job>> ListJobs() override;
  Result<void> UpdateJob(const Job& job) override;

  Result<std::vector<std::string>> ReferencedBlobs() override;

  // The schema version of the open database (for tests and diagnostics).
  Result<int> SchemaVersion();

 private:
  class Statement;
  class Transaction;

  explicit SqliteCatalog(sqlite3* db) : db_(db) {}
  Result<void> Migrate();
  // The prepared statement for `sql`, prepared on first use. Needs mutex_.
  Result<Statement> Prepare(const char* sql);
  Result<void> Exec(const char* sql);
  Error SqliteError(int code, std::string_view what) const;

  // Helpers that run inside a caller's transaction.
  Result<bool> BucketExists(std::string_view name);
  Result<std::optional<Object>> FindObject(std::string_view bucket, std::string_view key,
                                           int64_t* row_id);
  Result<void> InsertObject(const Object& object);
  Result<std::optional<Upload>> FindUpload(std::string_view upload_id);
  Result<std::vector<Part>> ReadParts(std::string_view upload_id);
  Result<std::optional<KmsKey>> FindKmsKey(std::string_view key_id);

  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;  // a Statement handle holds it
  };

  std::mutex mutex_;
  sqlite3* db_;
  std::unordered_map<std::string, CachedStatement> statements_;
};

}  // namespace strongroom::catalog
