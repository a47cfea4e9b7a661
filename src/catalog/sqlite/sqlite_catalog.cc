// SPDX-License-Identifier: Apache-2.0
#include "catalog/sqlite/sqlite_catalog.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

namespace strongroom::catalog {

// ------------------------------------------------------------------ schema

namespace {

// Migration N brings the schema from version N-1 to N. Append only; never
// edit a released migration.
constexpr const char* kMigrations[] = {
    // Version 1.
    R"sql(
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
)sql",
    // Version 2: encryption facts of buckets, objects and uploads, and the
    // KMS key directory (keys/key_directory.h).
    R"sql(
ALTER TABLE buckets ADD COLUMN encryption BLOB NOT NULL DEFAULT x'';
ALTER TABLE objects ADD COLUMN encryption BLOB;
ALTER TABLE objects ADD COLUMN kek_ref TEXT COLLATE BINARY;
CREATE INDEX objects_by_kek_ref ON objects (kek_ref);
ALTER TABLE uploads ADD COLUMN encryption BLOB;

CREATE TABLE kms_keys (
  key_id          TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
  description     TEXT NOT NULL,
  state           TEXT NOT NULL,
  current_version INTEGER NOT NULL CHECK (current_version > 0),
  created_ms      INTEGER NOT NULL,
  kind            TEXT NOT NULL,
  provider        TEXT NOT NULL
) STRICT;
CREATE INDEX kms_keys_by_creation ON kms_keys (created_ms, key_id);

CREATE TABLE kms_key_versions (
  key_id     TEXT NOT NULL COLLATE BINARY REFERENCES kms_keys (key_id),
  version    INTEGER NOT NULL CHECK (version > 0),
  salt       BLOB NOT NULL,
  created_ms INTEGER NOT NULL,
  PRIMARY KEY (key_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE kms_aliases (
  alias  TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
  key_id TEXT NOT NULL COLLATE BINARY REFERENCES kms_keys (key_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX kms_aliases_by_key ON kms_aliases (key_id, alias);

CREATE TABLE kms_grants (
  key_id     TEXT NOT NULL COLLATE BINARY REFERENCES kms_keys (key_id),
  access_key TEXT NOT NULL COLLATE BINARY,
  PRIMARY KEY (key_id, access_key)
) STRICT, WITHOUT ROWID;
)sql",
    // Version 3: key destruction times and the server's background jobs
    // (rewrap, re-encryption) with their resumable cursors.
    R"sql(
ALTER TABLE kms_keys ADD COLUMN destroy_ms INTEGER NOT NULL DEFAULT 0;

CREATE TABLE jobs (
  job_id          TEXT NOT NULL COLLATE BINARY PRIMARY KEY,
  kind            TEXT NOT NULL,
  state           TEXT NOT NULL,
  params          TEXT NOT NULL,
  cursor          BLOB NOT NULL,
  objects_done    INTEGER NOT NULL,
  bytes_done      INTEGER NOT NULL,
  objects_skipped INTEGER NOT NULL,
  objects_failed  INTEGER NOT NULL,
  objects_total   INTEGER NOT NULL,
  bytes_total     INTEGER NOT NULL,
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  finished_ms     INTEGER NOT NULL,
  message         TEXT NOT NULL
) STRICT;
CREATE INDEX jobs_by_creation ON jobs (created_ms, job_id);
)sql",
    // Version 4: KMS keys backed by an external key provider
    // (keys/hierarchy/provider_keks.h): the provider's key on the key, each
    // version's KEK wrapped by it (empty: none yet, or not provider-backed).
    R"sql(
ALTER TABLE kms_keys ADD COLUMN provider_key TEXT NOT NULL DEFAULT '';
ALTER TABLE kms_key_versions ADD COLUMN wrapped BLOB NOT NULL DEFAULT x'';
)sql",
    // Version 5: whether strongroom created a provider-backed key's provider
    // key (only then does it destroy that key after the KMS key), and what
    // became of it and when.
    R"sql(
ALTER TABLE kms_keys ADD COLUMN provider_key_owned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kms_keys ADD COLUMN provider_key_outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE kms_keys ADD COLUMN provider_key_settled_ms INTEGER NOT NULL DEFAULT 0;
)sql",
};
static_assert(std::size(kMigrations) == SqliteCatalog::kSchemaVersion);

// ------------------------------------------------------------------ SQL

constexpr const char* kBegin = "BEGIN";
constexpr const char* kBeginImmediate = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";

constexpr const char* kHasMigrationsTable =
    "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
    "name = 'schema_migrations'), EXISTS (SELECT 1 FROM sqlite_schema)";
constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL) STRICT";
constexpr const char* kSelectVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr const char* kInsertVersion =
    "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)";

constexpr const char* kInsertBucket =
    "INSERT INTO buckets (name, created_ms, owner, encryption) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kSelectBucket =
    "SELECT name, created_ms, owner, encryption FROM buckets WHERE name = ?1";
constexpr const char* kSelectBuckets =
    "SELECT name, created_ms, owner, encryption FROM buckets ORDER BY name";
constexpr const char* kSetBucketEncryption = "UPDATE buckets SET encryption = ?2 WHERE name = ?1";
constexpr const char* kBucketHasObjects = "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1)";
constexpr const char* kBucketHasUploads = "SELECT EXISTS (SELECT 1 FROM uploads WHERE bucket = ?1)";
constexpr const char* kDeleteBucket = "DELETE FROM buckets WHERE name = ?1";

constexpr const char* kSelectObject =
    "SELECT id, key, size, etag, last_modified_ms, owner, object_id, attributes, manifest, "
    "envelope, encryption, kek_ref FROM objects WHERE bucket = ?1 AND key = ?2";
constexpr const char* kSelectObjectBlobs =
    "SELECT blob FROM object_blobs WHERE object = ?1 ORDER BY seq";
constexpr const char* kInsertObject =
    "INSERT INTO objects (bucket, key, size, etag, last_modified_ms, owner, object_id, "
    "attributes, manifest, envelope, encryption, kek_ref) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr const char* kInsertObjectBlob =
    "INSERT INTO object_blobs (object, seq, blob) VALUES (?1, ?2, ?3)";
constexpr const char* kDeleteObject = "DELETE FROM objects WHERE id = ?1";
// Listing reads only the leading, small columns of each row.
constexpr const char* kListObjectsFrom =
    "SELECT key, size, etag, last_modified_ms, owner, kek_ref FROM objects "
    "WHERE bucket = ?1 AND key >= ?2 ORDER BY key";

constexpr const char* kInsertUpload =
    "INSERT INTO uploads (upload_id, bucket, key, initiated_ms, owner, object_id, attributes, "
    "envelope, encryption) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr const char* kSelectUpload =
    "SELECT upload_id, bucket, key, initiated_ms, owner, object_id, attributes, envelope, "
    "encryption FROM uploads WHERE upload_id = ?1";
constexpr const char* kListUploadsFrom =
    "SELECT upload_id, bucket, key, initiated_ms, owner, object_id, attributes, envelope, "
    "encryption FROM uploads WHERE bucket = ?1 AND key >= ?2 ORDER BY key, upload_id";
constexpr const char* kDeleteUpload = "DELETE FROM uploads WHERE upload_id = ?1";

constexpr const char* kSelectPart =
    "SELECT upload_id, part_number, size, etag, last_modified_ms, blob, stream_info, attributes "
    "FROM parts WHERE upload_id = ?1 AND part_number = ?2";
constexpr const char* kSelectParts =
    "SELECT upload_id, part_number, size, etag, last_modified_ms, blob, stream_info, attributes "
    "FROM parts WHERE upload_id = ?1 ORDER BY part_number";
constexpr const char* kListParts =
    "SELECT upload_id, part_number, size, etag, last_modified_ms, blob, stream_info, attributes "
    "FROM parts WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3";
constexpr const char* kUpsertPart =
    "INSERT OR REPLACE INTO parts (upload_id, part_number, size, etag, last_modified_ms, blob, "
    "stream_info, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

constexpr const char* kInsertUser =
    "INSERT INTO users (access_key, sealed_secret, admin, created_ms) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kSelectUser =
    "SELECT access_key, sealed_secret, admin, created_ms FROM users WHERE access_key = ?1";
constexpr const char* kSelectUsers =
    "SELECT access_key, sealed_secret, admin, created_ms FROM users ORDER BY access_key";
constexpr const char* kDeleteUser = "DELETE FROM users WHERE access_key = ?1";

constexpr const char* kInsertKmsKey =
    "INSERT INTO kms_keys (key_id, description, state, current_version, created_ms, kind, "
    "provider, destroy_ms, provider_key, provider_key_owned) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
#define STRONGROOM_KMS_KEY_COLUMNS                                                            \
  "key_id, description, state, current_version, created_ms, kind, provider, destroy_ms, " \
  "provider_key, provider_key_owned, provider_key_outcome, provider_key_settled_ms"
constexpr const char* kSelectKmsKey =
    "SELECT " STRONGROOM_KMS_KEY_COLUMNS " FROM kms_keys WHERE key_id = ?1";
constexpr const char* kSelectKmsKeys =
    "SELECT " STRONGROOM_KMS_KEY_COLUMNS " FROM kms_keys ORDER BY created_ms, rowid";
#undef STRONGROOM_KMS_KEY_COLUMNS
constexpr const char* kSetKmsKeyState = "UPDATE kms_keys SET state = ?2 WHERE key_id = ?1";
constexpr const char* kSetKmsKeyVersion =
    "UPDATE kms_keys SET current_version = ?2 WHERE key_id = ?1";
constexpr const char* kInsertKmsKeyVersion =
    "INSERT INTO kms_key_versions (key_id, version, salt, created_ms, wrapped) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kSelectKmsKeyVersion =
    "SELECT key_id, version, salt, created_ms, wrapped FROM kms_key_versions "
    "WHERE key_id = ?1 AND version = ?2";
constexpr const char* kSetKmsKeyVersionWrapped =
    "UPDATE kms_key_versions SET wrapped = ?3 "
    "WHERE key_id = ?1 AND version = ?2 AND length(wrapped) = 0";
constexpr const char* kInsertKmsAlias = "INSERT INTO kms_aliases (alias, key_id) VALUES (?1, ?2)";
constexpr const char* kSelectKmsAlias = "SELECT key_id FROM kms_aliases WHERE alias = ?1";
constexpr const char* kDeleteKmsAlias = "DELETE FROM kms_aliases WHERE alias = ?1";
constexpr const char* kSelectKmsAliasesOf =
    "SELECT alias FROM kms_aliases WHERE key_id = ?1 ORDER BY alias";
constexpr const char* kInsertKmsGrant =
    "INSERT OR IGNORE INTO kms_grants (key_id, access_key) VALUES (?1, ?2)";
constexpr const char* kSelectKmsGrant =
    "SELECT EXISTS (SELECT 1 FROM kms_grants WHERE key_id = ?1 AND access_key = ?2)";
constexpr const char* kDeleteKmsGrant =
    "DELETE FROM kms_grants WHERE key_id = ?1 AND access_key = ?2";
constexpr const char* kSelectKmsGrantees =
    "SELECT access_key FROM kms_grants WHERE key_id = ?1 ORDER BY access_key";

constexpr const char* kReferencedBlobs =
    "SELECT blob FROM object_blobs UNION SELECT blob FROM parts ORDER BY 1";

// ------------------------------------------------------------------ helpers

ErrorCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOLFS: return ErrorCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ErrorCode::kDataLoss;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH: return ErrorCode::kPermissionDenied;
    case SQLITE_CONSTRAINT: return ErrorCode::kFailedPrecondition;
    case SQLITE_TOOBIG: return ErrorCode::kInvalidArgument;
    default: return ErrorCode::kInternal;
  }
}

// The smallest string greater than every string that starts with `prefix`,
// or nullopt if there is none (prefix is empty or all 0xff bytes).
std::optional<std::string> PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (prefix.empty()) return std::nullopt;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

// The smallest string greater than `s` (bytewise): s followed by a NUL.
std::string Successor(std::string_view s) {
  std::string out(s);
  out.push_back('\0');
  return out;
}

// The common prefix `key` rolls up into, or nullopt if it is listed itself.
std::optional<std::string> CommonPrefixOf(std::string_view key, std::string_view prefix,
                                          std::string_view delimiter) {
  if (delimiter.empty() || !key.starts_with(prefix)) return std::nullopt;
  size_t at = key.find(delimiter, prefix.size());
  if (at == std::string_view::npos) return std::nullopt;
  return std::string(key.substr(0, at + delimiter.size()));
}

Result<int64_t> ToInt64(uint64_t value, std::string_view what) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument(std::string(what) + " is too large");
  }
  return static_cast<int64_t>(value);
}

}  // namespace

// ------------------------------------------------------------------ Statement

// A cached prepared statement in use. Binding errors are remembered and
// reported by the next Step. Resets the statement and clears its bindings
// when destroyed, returning it to the cache.
class SqliteCatalog::Statement {
 public:
  Statement(SqliteCatalog* catalog, CachedStatement* cached)
      : catalog_(catalog), cached_(cached), stmt_(cached->stmt) {
    cached_->in_use = true;
  }
  Statement(Statement&& other) noexcept
      : catalog_(other.catalog_),
        cached_(std::exchange(other.cached_, nullptr)),
        stmt_(std::exchange(other.stmt_, nullptr)),
        bind_error_(other.bind_error_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ == nullptr) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    cached_->in_use = false;
  }

  Statement& Bind(int index, std::string_view text) {
    static const char kEmpty[1] = {0};
    Check(sqlite3_bind_text64(stmt_, index, text.empty() ? kEmpty : text.data(), text.size(),
                              SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  Statement& BindBytes(int index, ByteView bytes) {
    static const uint8_t kEmpty[1] = {0};
    Check(sqlite3_bind_blob64(stmt_, index, bytes.empty() ? kEmpty : bytes.data(), bytes.size(),
                              SQLITE_TRANSIENT));
    return *this;
  }
  Statement& BindInt(int index, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }

  // true: a row is ready; false: done.
  Result<bool> Step() {
    if (bind_error_ != SQLITE_OK) {
      return tl::unexpected(catalog_->SqliteError(bind_error_, "cannot bind a parameter"));
    }
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return tl::unexpected(catalog_->SqliteError(rc, "statement failed"));
  }

  // Runs a statement that returns no rows.
  Result<void> Run() {
    STRONGROOM_ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return Ok();
  }

  // Rewinds for another execution with new bindings.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    bind_error_ = SQLITE_OK;
  }

  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    int size = sqlite3_column_bytes(stmt_, column);
    return text == nullptr ? std::string()
                           : std::string(reinterpret_cast<const char*>(text), size_t(size));
  }
  Bytes Blob(int column) {
    const void* data = sqlite3_column_blob(stmt_, column);
    int size = sqlite3_column_bytes(stmt_, column);
    const auto* bytes = static_cast<const uint8_t*>(data);
    return data == nullptr ? Bytes() : Bytes(bytes, bytes + size);
  }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  }

  SqliteCatalog* catalog_;
  CachedStatement* cached_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

// ------------------------------------------------------------------ Transaction

// BEGIN on construction; ROLLBACK on destruction unless committed.
class SqliteCatalog::Transaction {
 public:
  static Result<Transaction> Begin(SqliteCatalog* catalog, bool write) {
    STRONGROOM_ASSIGN_OR_RETURN(Statement begin,
                                catalog->Prepare(write ? kBeginImmediate : kBegin));
    auto ran = begin.Run();
    if (!ran) {
      return tl::unexpected(ran.error().WithContext(write ? "cannot start a write transaction"
                                                          : "cannot start a read transaction"));
    }
    return Transaction(catalog);
  }
  Transaction(Transaction&& other) noexcept : catalog_(std::exchange(other.catalog_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction() {
    // SQLite may have rolled back already (e.g. after SQLITE_FULL).
    if (catalog_ != nullptr && sqlite3_get_autocommit(catalog_->db_) == 0) {
      auto rollback = catalog_->Prepare(kRollback);
      if (rollback) (void)rollback->Run();
    }
  }

  Result<void> Commit() {
    SqliteCatalog* catalog = catalog_;
    STRONGROOM_ASSIGN_OR_RETURN(Statement commit, catalog->Prepare(kCommit));
    STRONGROOM_RETURN_IF_ERROR(commit.Run());
    catalog_ = nullptr;
    return Ok();
  }

 private:
  explicit Transaction(SqliteCatalog* catalog) : catalog_(catalog) {}
  SqliteCatalog* catalog_;
};

// ------------------------------------------------------------------ open

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path) {
  STRONGROOM_ASSIGN_OR_RETURN(auto catalog, SqliteCatalog::Open(path));
  return std::unique_ptr<Catalog>(std::move(catalog));
}

Result<std::unique_ptr<SqliteCatalog>> SqliteCatalog::Open(const std::string& path,
                                                           const Options& options) {
  sqlite3* db = nullptr;
  // Object keys, sizes and ETags are in clear here: create the file 0600
  // (SQLite would use 0644); its -wal and -shm files take the same mode.
  if (!path.empty() && path != ":memory:" && path.rfind("file:", 0) != 0) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  // NOMUTEX: the catalog's own mutex serializes use of the connection.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open catalog '" + path +
                          "': " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return tl::unexpected(Error(CodeFor(rc), std::move(message)));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::unique_ptr<SqliteCatalog> catalog(new SqliteCatalog(db));

  auto context = [&](const Error& e) { return e.WithContext("catalog '" + path + "'"); };
  // journal_mode returns the mode in effect: only "wal" will do (an
  // in-memory database, for tests, reports "memory").
  {
    std::lock_guard lock(catalog->mutex_);
    STRONGROOM_ASSIGN_OR_RETURN(Statement wal, catalog->Prepare("PRAGMA journal_mode = WAL"));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, wal.Step().map_error(context));
    std::string mode = row ? wal.Text(0) : "";
    if (mode != "wal" && !(mode == "memory" && (path == ":memory:" || path.empty()))) {
      return Unavailable("catalog '" + path + "': cannot switch to WAL mode (mode is '" + mode +
                         "')");
    }
  }
  STRONGROOM_RETURN_IF_ERROR(catalog->Exec("PRAGMA synchronous = FULL").map_error(context));
  STRONGROOM_RETURN_IF_ERROR(catalog->Exec("PRAGMA foreign_keys = ON").map_error(context));
  STRONGROOM_RETURN_IF_ERROR(catalog->Exec("PRAGMA trusted_schema = OFF").map_error(context));
  STRONGROOM_RETURN_IF_ERROR(catalog->Migrate().map_error(context));
  return catalog;
}

SqliteCatalog::~SqliteCatalog() {
  for (auto& [sql, cached] : statements_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

Error SqliteCatalog::SqliteError(int code, std::string_view what) const {
  std::string message(what);
  message += ": ";
  // errmsg describes the most recent failure on this connection; fall back
  // to the generic text if it belongs to another code.
  message += (sqlite3_extended_errcode(db_) == code) ? sqlite3_errmsg(db_) : sqlite3_errstr(code);
  return Error(CodeFor(code), std::move(message));
}

Result<SqliteCatalog::Statement> SqliteCatalog::Prepare(const char* sql) {
  auto [it, inserted] = statements_.try_emplace(sql);
  CachedStatement& cached = it->second;
  if (cached.stmt == nullptr) {
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &cached.stmt, nullptr);
    if (rc != SQLITE_OK) {
      Error error = SqliteError(rc, std::string("cannot prepare \"") + sql + "\"");
      sqlite3_finalize(cached.stmt);
      statements_.erase(it);
      return tl::unexpected(std::move(error));
    }
  }
  if (cached.in_use) {
    return Internal(std::string("statement already in use: ") + sql);
  }
  return Statement(this, &cached);
}

Result<void> SqliteCatalog::Exec(const char* sql) {
  std::lock_guard lock(mutex_);
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    return tl::unexpected(Error(CodeFor(rc), text));
  }
  return Ok();
}

Result<void> SqliteCatalog::Migrate() {
  std::lock_guard lock(mutex_);
  {
    // Most opens find the schema current and need no write lock.
    STRONGROOM_ASSIGN_OR_RETURN(Transaction read, Transaction::Begin(this, false));
    STRONGROOM_ASSIGN_OR_RETURN(Statement probe, Prepare(kHasMigrationsTable));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, probe.Step());
    if (row && probe.Int(0) == 1) {
      STRONGROOM_ASSIGN_OR_RETURN(Statement version, Prepare(kSelectVersion));
      STRONGROOM_ASSIGN_OR_RETURN(bool has_version, version.Step());
      if (has_version && version.Int(0) == kSchemaVersion) return Ok();
    } else if (row && probe.Int(1) == 1) {
      return FailedPrecondition("the database holds tables but is not a strongroom catalog");
    }
  }

  STRONGROOM_ASSIGN_OR_RETURN(Transaction write, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement create, Prepare(kCreateMigrationsTable));
    STRONGROOM_RETURN_IF_ERROR(create.Run());
  }
  int64_t version = 0;
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectVersion));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Step());
    if (row) version = select.Int(0);
  }
  if (version > kSchemaVersion) {
    return FailedPrecondition("schema version " + std::to_string(version) +
                              " is newer than this build supports (" +
                              std::to_string(kSchemaVersion) + ")");
  }
  for (int64_t next = version + 1; next <= kSchemaVersion; ++next) {
    char* message = nullptr;
    int rc = sqlite3_exec(db_, kMigrations[next - 1], nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      std::string text = message != nullptr ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      return tl::unexpected(
          Error(CodeFor(rc), "migration to schema version " + std::to_string(next) + ": " + text));
    }
    STRONGROOM_ASSIGN_OR_RETURN(Statement record, Prepare(kInsertVersion));
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    STRONGROOM_RETURN_IF_ERROR(record.BindInt(1, next).BindInt(2, now_ms).Run());
  }
  return write.Commit();
}

Result<int> SqliteCatalog::SchemaVersion() {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectVersion));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Step());
  return row ? static_cast<int>(select.Int(0)) : 0;
}

// ------------------------------------------------------------------ rows

namespace {

// Steps `stmt` to its end, turning each row into a value with `read`.
template <typename Stmt, typename Read>
auto CollectRows(Stmt& stmt, Read read) -> Result<std::vector<decltype(read(stmt))>> {
  std::vector<decltype(read(stmt))> rows;
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    rows.push_back(read(stmt));
  }
  return rows;
}

constexpr auto ColumnText0 = [](auto& stmt) { return stmt.Text(0); };

Bucket ReadBucket(auto& stmt) {
  return Bucket{stmt.Text(0), stmt.Int(1), stmt.Text(2), stmt.Blob(3)};
}

// Columns of kSelectUpload / kListUploadsFrom.
Upload ReadUpload(auto& stmt) {
  Upload upload;
  upload.upload_id = stmt.Text(0);
  upload.bucket = stmt.Text(1);
  upload.key = stmt.Text(2);
  upload.initiated_ms = stmt.Int(3);
  upload.owner = stmt.Text(4);
  upload.object_id = stmt.Blob(5);
  upload.attributes = stmt.Blob(6);
  upload.envelope = stmt.Blob(7);
  upload.encryption = stmt.Blob(8);
  return upload;
}

// Columns of kSelectPart / kSelectParts / kListParts.
Part ReadPart(auto& stmt) {
  Part part;
  part.upload_id = stmt.Text(0);
  part.part_number = static_cast<uint32_t>(stmt.Int(1));
  part.size = static_cast<uint64_t>(stmt.Int(2));
  part.etag = stmt.Text(3);
  part.last_modified_ms = stmt.Int(4);
  part.blob = stmt.Text(5);
  part.stream_info = stmt.Blob(6);
  part.attributes = stmt.Blob(7);
  return part;
}

User ReadUser(auto& stmt) {
  return User{stmt.Text(0), stmt.Blob(1), stmt.Int(2) != 0, stmt.Int(3)};
}

// Columns of kSelectKmsKey / kSelectKmsKeys.
KmsKey ReadKmsKey(auto& stmt) {
  KmsKey key;
  key.key_id = stmt.Text(0);
  key.description = stmt.Text(1);
  key.state = stmt.Text(2);
  key.current_version = static_cast<uint32_t>(stmt.Int(3));
  key.created_ms = stmt.Int(4);
  key.kind = stmt.Text(5);
  key.provider = stmt.Text(6);
  key.destroy_ms = stmt.Int(7);
  key.provider_key = stmt.Text(8);
  key.provider_key_owned = stmt.Int(9) != 0;
  key.provider_key_outcome = stmt.Text(10);
  key.provider_key_settled_ms = stmt.Int(11);
  return key;
}

KmsKeyVersion ReadKmsKeyVersion(auto& stmt) {
  KmsKeyVersion version{stmt.Text(0), static_cast<uint32_t>(stmt.Int(1)), stmt.Blob(2),
                        stmt.Int(3)};
  version.wrapped = stmt.Blob(4);
  return version;
}

}  // namespace

Result<bool> SqliteCatalog::BucketExists(std::string_view name) {
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectBucket));
  return select.Bind(1, name).Step();
}

Result<std::optional<Object>> SqliteCatalog::FindObject(std::string_view bucket,
                                                        std::string_view key, int64_t* row_id) {
  Object object;
  int64_t id = 0;
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectObject));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, bucket).Bind(2, key).Step());
    if (!row) return std::optional<Object>();
    id = select.Int(0);
    object.bucket = std::string(bucket);
    object.key = select.Text(1);
    object.size = static_cast<uint64_t>(select.Int(2));
    object.etag = select.Text(3);
    object.last_modified_ms = select.Int(4);
    object.owner = select.Text(5);
    object.object_id = select.Blob(6);
    object.attributes = select.Blob(7);
    object.manifest = select.Blob(8);
    object.envelope = select.Blob(9);
    object.encryption = select.Blob(10);
    object.kek_ref = select.Text(11);
  }
  STRONGROOM_ASSIGN_OR_RETURN(Statement blobs, Prepare(kSelectObjectBlobs));
  blobs.BindInt(1, id);
  STRONGROOM_ASSIGN_OR_RETURN(object.blobs, CollectRows(blobs, ColumnText0));
  if (row_id != nullptr) *row_id = id;
  return std::optional<Object>(std::move(object));
}

Result<void> SqliteCatalog::InsertObject(const Object& object) {
  if (object.key.empty()) {
    return InvalidArgument("empty object key");
  }
  STRONGROOM_ASSIGN_OR_RETURN(int64_t size, ToInt64(object.size, "object size"));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertObject));
    insert.Bind(1, object.bucket)
        .Bind(2, object.key)
        .BindInt(3, size)
        .Bind(4, object.etag)
        .BindInt(5, object.last_modified_ms)
        .Bind(6, object.owner)
        .BindBytes(7, object.object_id)
        .BindBytes(8, object.attributes)
        .BindBytes(9, object.manifest)
        .BindBytes(10, object.envelope)
        .BindBytes(11, object.encryption)
        .Bind(12, object.kek_ref);
    STRONGROOM_RETURN_IF_ERROR(insert.Run());
  }
  int64_t id = sqlite3_last_insert_rowid(db_);
  STRONGROOM_ASSIGN_OR_RETURN(Statement insert_blob, Prepare(kInsertObjectBlob));
  for (size_t i = 0; i < object.blobs.size(); ++i) {
    insert_blob.Reset();
    insert_blob.BindInt(1, id).BindInt(2, static_cast<int64_t>(i)).Bind(3, object.blobs[i]);
    STRONGROOM_RETURN_IF_ERROR(insert_blob.Run());
  }
  return Ok();
}

Result<std::optional<Upload>> SqliteCatalog::FindUpload(std::string_view upload_id) {
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectUpload));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, upload_id).Step());
  if (!row) return std::optional<Upload>();
  return std::optional<Upload>(ReadUpload(select));
}

Result<std::vector<Part>> SqliteCatalog::ReadParts(std::string_view upload_id) {
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectParts));
  select.Bind(1, upload_id);
  return CollectRows(select, [](auto& s) { return ReadPart(s); });
}

// ------------------------------------------------------------------ buckets

namespace {
std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }
}  // namespace

Result<void> SqliteCatalog::CreateBucket(const Bucket& bucket) {
  if (bucket.name.empty()) {
    return InvalidArgument("empty bucket name");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(bool exists, BucketExists(bucket.name));
  if (exists) {
    return AlreadyExists("bucket " + Quote(bucket.name) + " exists");
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertBucket));
    STRONGROOM_RETURN_IF_ERROR(insert.Bind(1, bucket.name)
                                   .BindInt(2, bucket.created_ms)
                                   .Bind(3, bucket.owner)
                                   .BindBytes(4, bucket.encryption)
                                   .Run());
  }
  return txn.Commit();
}

Result<Bucket> SqliteCatalog::GetBucket(std::string_view name) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectBucket));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, name).Step());
  if (!row) {
    return NotFound("no bucket " + Quote(name));
  }
  return ReadBucket(select);
}

Result<std::vector<Bucket>> SqliteCatalog::ListBuckets() {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectBuckets));
  return CollectRows(select, [](auto& s) { return ReadBucket(s); });
}

Result<void> SqliteCatalog::DeleteBucket(std::string_view name) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(bool exists, BucketExists(name));
  if (!exists) {
    return NotFound("no bucket " + Quote(name));
  }
  for (auto [sql, what] : {std::pair{kBucketHasObjects, "objects"},
                           std::pair{kBucketHasUploads, "multipart uploads"}}) {
    STRONGROOM_ASSIGN_OR_RETURN(Statement check, Prepare(sql));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, check.Bind(1, name).Step());
    if (row && check.Int(0) != 0) {
      return FailedPrecondition("bucket " + Quote(name) + " still holds " + what);
    }
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteBucket));
    STRONGROOM_RETURN_IF_ERROR(erase.Bind(1, name).Run());
  }
  return txn.Commit();
}

Result<void> SqliteCatalog::SetBucketEncryption(std::string_view name, ByteView encryption) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kSetBucketEncryption));
    STRONGROOM_RETURN_IF_ERROR(update.Bind(1, name).BindBytes(2, encryption).Run());
  }
  if (sqlite3_changes(db_) == 0) {
    return NotFound("no bucket " + Quote(name));
  }
  return txn.Commit();
}

// ------------------------------------------------------------------ objects

Result<std::optional<Object>> SqliteCatalog::PutObject(const Object& object) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(bool bucket_exists, BucketExists(object.bucket));
  if (!bucket_exists) {
    return NotFound("no bucket " + Quote(object.bucket));
  }
  int64_t old_id = 0;
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Object> replaced,
                              FindObject(object.bucket, object.key, &old_id));
  if (replaced) {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteObject));
    STRONGROOM_RETURN_IF_ERROR(erase.BindInt(1, old_id).Run());
  }
  STRONGROOM_RETURN_IF_ERROR(InsertObject(object));
  STRONGROOM_RETURN_IF_ERROR(txn.Commit());
  return replaced;
}

Result<Object> SqliteCatalog::GetObject(std::string_view bucket, std::string_view key) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Object> object, FindObject(bucket, key, nullptr));
  if (!object) {
    return NotFound("no object " + Quote(key) + " in bucket " + Quote(bucket));
  }
  return std::move(*object);
}

Result<Object> SqliteCatalog::ReplaceObjectIf(const Object& object, ByteView expected_object_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  int64_t old_id = 0;
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Object> replaced,
                              FindObject(object.bucket, object.key, &old_id));
  if (!replaced) {
    return NotFound("no object " + Quote(object.key) + " in bucket " + Quote(object.bucket));
  }
  if (!std::equal(replaced->object_id.begin(), replaced->object_id.end(),
                  expected_object_id.begin(), expected_object_id.end())) {
    return FailedPrecondition("object " + Quote(object.key) + " in bucket " + Quote(object.bucket) +
                              " was replaced meanwhile");
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteObject));
    STRONGROOM_RETURN_IF_ERROR(erase.BindInt(1, old_id).Run());
  }
  STRONGROOM_RETURN_IF_ERROR(InsertObject(object));
  STRONGROOM_RETURN_IF_ERROR(txn.Commit());
  return std::move(*replaced);
}

Result<Object> SqliteCatalog::DeleteObject(std::string_view bucket, std::string_view key) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  int64_t id = 0;
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Object> object, FindObject(bucket, key, &id));
  if (!object) {
    return NotFound("no object " + Quote(key) + " in bucket " + Quote(bucket));
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteObject));
    STRONGROOM_RETURN_IF_ERROR(erase.BindInt(1, id).Run());
  }
  STRONGROOM_RETURN_IF_ERROR(txn.Commit());
  return std::move(*object);
}

Result<ListObjectsPage> SqliteCatalog::ListObjects(const ListObjectsRequest& request) {
  const std::string& prefix = request.prefix;
  const std::string& delimiter = request.delimiter;
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(bool bucket_exists, BucketExists(request.bucket));
  if (!bucket_exists) {
    return NotFound("no bucket " + Quote(request.bucket));
  }
  ListObjectsPage page;
  if (request.max_keys == 0) return page;

  // The first key that may be listed (inclusive).
  std::optional<std::string> lower = prefix;
  if (!request.start_after.empty()) {
    std::optional<std::string> after;
    auto group = CommonPrefixOf(request.start_after, prefix, delimiter);
    if (group && *group == request.start_after) {
      after = PrefixSuccessor(*group);  // skip the whole common prefix
    } else {
      after = Successor(request.start_after);
    }
    if (!after) return page;
    if (*after > *lower) lower = std::move(after);
  }

  STRONGROOM_ASSIGN_OR_RETURN(Statement list, Prepare(kListObjectsFrom));
  size_t count = 0;
  bool reseek = true;
  while (reseek) {
    reseek = false;
    list.Reset();
    list.Bind(1, request.bucket).Bind(2, *lower);
    for (;;) {
      STRONGROOM_ASSIGN_OR_RETURN(bool row, list.Step());
      if (!row) break;
      std::string key = list.Text(0);
      if (!std::string_view(key).starts_with(prefix)) break;
      if (count == request.max_keys) {
        page.is_truncated = true;
        break;
      }
      ++count;
      if (auto group = CommonPrefixOf(key, prefix, delimiter)) {
        page.next_start_after = *group;
        lower = PrefixSuccessor(*group);
        page.common_prefixes.push_back(std::move(*group));
        reseek = lower.has_value();  // one seek past every key of the group
        break;
      }
      page.next_start_after = key;
      ObjectSummary summary;
      summary.key = std::move(key);
      summary.size = static_cast<uint64_t>(list.Int(1));
      summary.etag = list.Text(2);
      summary.last_modified_ms = list.Int(3);
      summary.owner = list.Text(4);
      summary.kek_ref = list.Text(5);
      page.objects.push_back(std::move(summary));
    }
  }
  return page;
}

// ------------------------------------------------------------------ uploads

Result<void> SqliteCatalog::CreateUpload(const Upload& upload) {
  if (upload.upload_id.empty()) {
    return InvalidArgument("empty upload id");
  }
  if (upload.key.empty()) {
    return InvalidArgument("empty object key");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(bool bucket_exists, BucketExists(upload.bucket));
  if (!bucket_exists) {
    return NotFound("no bucket " + Quote(upload.bucket));
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> existing, FindUpload(upload.upload_id));
  if (existing) {
    return AlreadyExists("upload " + Quote(upload.upload_id) + " exists");
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertUpload));
    insert.Bind(1, upload.upload_id)
        .Bind(2, upload.bucket)
        .Bind(3, upload.key)
        .BindInt(4, upload.initiated_ms)
        .Bind(5, upload.owner)
        .BindBytes(6, upload.object_id)
        .BindBytes(7, upload.attributes)
        .BindBytes(8, upload.envelope)
        .BindBytes(9, upload.encryption);
    STRONGROOM_RETURN_IF_ERROR(insert.Run());
  }
  return txn.Commit();
}

Result<Upload> SqliteCatalog::GetUpload(std::string_view upload_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> upload, FindUpload(upload_id));
  if (!upload) {
    return NotFound("no upload " + Quote(upload_id));
  }
  return std::move(*upload);
}

Result<std::optional<Part>> SqliteCatalog::PutPart(const Part& part) {
  if (part.part_number == 0) {
    return InvalidArgument("part numbers start at 1");
  }
  STRONGROOM_ASSIGN_OR_RETURN(int64_t size, ToInt64(part.size, "part size"));
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> upload, FindUpload(part.upload_id));
  if (!upload) {
    return NotFound("no upload " + Quote(part.upload_id));
  }
  std::optional<Part> replaced;
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectPart));
    STRONGROOM_ASSIGN_OR_RETURN(bool row,
                                select.Bind(1, part.upload_id).BindInt(2, part.part_number).Step());
    if (row) replaced = ReadPart(select);
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement upsert, Prepare(kUpsertPart));
    upsert.Bind(1, part.upload_id)
        .BindInt(2, part.part_number)
        .BindInt(3, size)
        .Bind(4, part.etag)
        .BindInt(5, part.last_modified_ms)
        .Bind(6, part.blob)
        .BindBytes(7, part.stream_info)
        .BindBytes(8, part.attributes);
    STRONGROOM_RETURN_IF_ERROR(upsert.Run());
  }
  STRONGROOM_RETURN_IF_ERROR(txn.Commit());
  return replaced;
}

Result<ListPartsPage> SqliteCatalog::ListParts(std::string_view upload_id,
                                               uint32_t part_number_marker, size_t max_parts) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> upload, FindUpload(upload_id));
  if (!upload) {
    return NotFound("no upload " + Quote(upload_id));
  }
  ListPartsPage page;
  if (max_parts == 0) return page;
  // One more than asked, to learn whether the page is truncated.
  int64_t limit = max_parts >= size_t(std::numeric_limits<int32_t>::max())
                      ? std::numeric_limits<int64_t>::max()
                      : static_cast<int64_t>(max_parts) + 1;
  STRONGROOM_ASSIGN_OR_RETURN(Statement list, Prepare(kListParts));
  list.Bind(1, upload_id).BindInt(2, part_number_marker).BindInt(3, limit);
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(bool row, list.Step());
    if (!row) break;
    if (page.parts.size() == max_parts) {
      page.is_truncated = true;
      break;
    }
    page.parts.push_back(ReadPart(list));
  }
  if (!page.parts.empty()) page.next_part_number_marker = page.parts.back().part_number;
  return page;
}

Result<std::vector<Part>> SqliteCatalog::GetParts(std::string_view upload_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> upload, FindUpload(upload_id));
  if (!upload) {
    return NotFound("no upload " + Quote(upload_id));
  }
  return ReadParts(upload_id);
}

Result<ListUploadsPage> SqliteCatalog::ListUploads(const ListUploadsRequest& request) {
  const std::string& prefix = request.prefix;
  const std::string& delimiter = request.delimiter;
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(bool bucket_exists, BucketExists(request.bucket));
  if (!bucket_exists) {
    return NotFound("no bucket " + Quote(request.bucket));
  }
  ListUploadsPage page;
  if (request.max_uploads == 0) return page;

  // The first (key, upload_id) that may be listed, inclusive; the upload id
  // bound applies only to rows of lower_key itself.
  std::string lower_key = prefix;
  std::string lower_upload;
  if (!request.key_marker.empty()) {
    std::optional<std::string> key;
    std::string upload;
    auto group = CommonPrefixOf(request.key_marker, prefix, delimiter);
    if (group && *group == request.key_marker) {
      key = PrefixSuccessor(*group);
    } else if (!request.upload_id_marker.empty()) {
      key = request.key_marker;
      upload = Successor(request.upload_id_marker);
    } else {
      key = Successor(request.key_marker);
    }
    if (!key) return page;
    if (std::tie(*key, upload) > std::tie(lower_key, lower_upload)) {
      lower_key = std::move(*key);
      lower_upload = std::move(upload);
    }
  }

  STRONGROOM_ASSIGN_OR_RETURN(Statement list, Prepare(kListUploadsFrom));
  size_t count = 0;
  bool reseek = true;
  while (reseek) {
    reseek = false;
    list.Reset();
    list.Bind(1, request.bucket).Bind(2, lower_key);
    for (;;) {
      STRONGROOM_ASSIGN_OR_RETURN(bool row, list.Step());
      if (!row) break;
      std::string key = list.Text(2);
      if (!std::string_view(key).starts_with(prefix)) break;
      if (key == lower_key && list.Text(0) < lower_upload) continue;
      if (count == request.max_uploads) {
        page.is_truncated = true;
        break;
      }
      ++count;
      if (auto group = CommonPrefixOf(key, prefix, delimiter)) {
        page.next_key_marker = *group;
        page.next_upload_id_marker.clear();
        auto next = PrefixSuccessor(*group);
        page.common_prefixes.push_back(std::move(*group));
        if (next) {
          lower_key = std::move(*next);
          lower_upload.clear();
          reseek = true;
        }
        break;
      }
      Upload upload = ReadUpload(list);
      page.next_key_marker = upload.key;
      page.next_upload_id_marker = upload.upload_id;
      page.uploads.push_back(std::move(upload));
    }
  }
  return page;
}

Result<std::vector<std::string>> SqliteCatalog::CompleteUpload(std::string_view upload_id,
                                                               const Object& object) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> upload, FindUpload(upload_id));
  if (!upload) {
    return NotFound("no upload " + Quote(upload_id));
  }
  if (upload->bucket != object.bucket || upload->key != object.key) {
    return InvalidArgument("upload " + Quote(upload_id) + " is for " + Quote(upload->key) +
                           " in bucket " + Quote(upload->bucket) + ", not " + Quote(object.key) +
                           " in " + Quote(object.bucket));
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<Part> parts, ReadParts(upload_id));
  int64_t old_id = 0;
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Object> replaced,
                              FindObject(object.bucket, object.key, &old_id));
  if (replaced) {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteObject));
    STRONGROOM_RETURN_IF_ERROR(erase.BindInt(1, old_id).Run());
  }
  STRONGROOM_RETURN_IF_ERROR(InsertObject(object));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteUpload));
    STRONGROOM_RETURN_IF_ERROR(erase.Bind(1, upload_id).Run());  // parts cascade
  }
  STRONGROOM_RETURN_IF_ERROR(txn.Commit());

  // Parts first (in part order), then the replaced object's blobs; each
  // once, and none the new object uses.
  std::set<std::string_view> keep(object.blobs.begin(), object.blobs.end());
  std::vector<std::string> unreferenced;
  auto add = [&](const std::string& blob) {
    if (keep.insert(blob).second) unreferenced.push_back(blob);
  };
  for (const Part& part : parts) add(part.blob);
  if (replaced) {
    for (const std::string& blob : replaced->blobs) add(blob);
  }
  return unreferenced;
}

Result<std::vector<std::string>> SqliteCatalog::AbortUpload(std::string_view upload_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> upload, FindUpload(upload_id));
  if (!upload) {
    return NotFound("no upload " + Quote(upload_id));
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<Part> parts, ReadParts(upload_id));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteUpload));
    STRONGROOM_RETURN_IF_ERROR(erase.Bind(1, upload_id).Run());
  }
  STRONGROOM_RETURN_IF_ERROR(txn.Commit());
  std::vector<std::string> blobs;
  for (Part& part : parts) blobs.push_back(std::move(part.blob));
  return blobs;
}

// ------------------------------------------------------------------ users

Result<void> SqliteCatalog::AddUser(const User& user) {
  if (user.access_key.empty()) {
    return InvalidArgument("empty access key");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectUser));
    STRONGROOM_ASSIGN_OR_RETURN(bool exists, select.Bind(1, user.access_key).Step());
    if (exists) {
      return AlreadyExists("user " + Quote(user.access_key) + " exists");
    }
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertUser));
    insert.Bind(1, user.access_key)
        .BindBytes(2, user.sealed_secret)
        .BindInt(3, user.admin ? 1 : 0)
        .BindInt(4, user.created_ms);
    STRONGROOM_RETURN_IF_ERROR(insert.Run());
  }
  return txn.Commit();
}

Result<User> SqliteCatalog::GetUser(std::string_view access_key) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectUser));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, access_key).Step());
  if (!row) {
    return NotFound("no user " + Quote(access_key));
  }
  return ReadUser(select);
}

Result<std::vector<User>> SqliteCatalog::ListUsers() {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectUsers));
  return CollectRows(select, [](auto& s) { return ReadUser(s); });
}

Result<void> SqliteCatalog::RemoveUser(std::string_view access_key) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteUser));
    STRONGROOM_RETURN_IF_ERROR(erase.Bind(1, access_key).Run());
  }
  if (sqlite3_changes(db_) == 0) {
    return NotFound("no user " + Quote(access_key));
  }
  return txn.Commit();
}

// ------------------------------------------------------------------ KMS keys

Result<std::optional<KmsKey>> SqliteCatalog::FindKmsKey(std::string_view key_id) {
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsKey));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, key_id).Step());
  if (!row) return std::optional<KmsKey>();
  return std::optional<KmsKey>(ReadKmsKey(select));
}

Result<void> SqliteCatalog::CreateKmsKey(const KmsKey& key, const KmsKeyVersion& first) {
  if (key.key_id.empty()) {
    return InvalidArgument("empty KMS key id");
  }
  if (!first.key_id.empty() && first.key_id != key.key_id) {
    return InvalidArgument("the first version of KMS key " + Quote(key.key_id) + " names key " +
                           Quote(first.key_id));
  }
  if (first.version == 0 || first.version != key.current_version) {
    return InvalidArgument("KMS key " + Quote(key.key_id) + ": the first version must be " +
                           "the current version and positive");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> existing, FindKmsKey(key.key_id));
  if (existing) {
    return AlreadyExists("KMS key " + Quote(key.key_id) + " exists");
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertKmsKey));
    insert.Bind(1, key.key_id)
        .Bind(2, key.description)
        .Bind(3, key.state)
        .BindInt(4, key.current_version)
        .BindInt(5, key.created_ms)
        .Bind(6, key.kind)
        .Bind(7, key.provider)
        .BindInt(8, key.destroy_ms)
        .Bind(9, key.provider_key)
        .BindInt(10, key.provider_key_owned ? 1 : 0);
    STRONGROOM_RETURN_IF_ERROR(insert.Run());
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertKmsKeyVersion));
    insert.Bind(1, key.key_id)
        .BindInt(2, first.version)
        .BindBytes(3, first.salt)
        .BindInt(4, first.created_ms)
        .BindBytes(5, first.wrapped);
    STRONGROOM_RETURN_IF_ERROR(insert.Run());
  }
  return txn.Commit();
}

Result<KmsKey> SqliteCatalog::GetKmsKey(std::string_view key_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> key, FindKmsKey(key_id));
  if (!key) {
    return NotFound("no KMS key " + Quote(key_id));
  }
  return std::move(*key);
}

Result<std::vector<KmsKey>> SqliteCatalog::ListKmsKeys() {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsKeys));
  return CollectRows(select, [](auto& s) { return ReadKmsKey(s); });
}

Result<void> SqliteCatalog::SetKmsKeyState(std::string_view key_id, std::string_view state) {
  if (state.empty()) {
    return InvalidArgument("empty KMS key state");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kSetKmsKeyState));
    STRONGROOM_RETURN_IF_ERROR(update.Bind(1, key_id).Bind(2, state).Run());
  }
  if (sqlite3_changes(db_) == 0) {
    return NotFound("no KMS key " + Quote(key_id));
  }
  return txn.Commit();
}

Result<void> SqliteCatalog::AddKmsKeyVersion(const KmsKeyVersion& version) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> key, FindKmsKey(version.key_id));
  if (!key) {
    return NotFound("no KMS key " + Quote(version.key_id));
  }
  std::string what =
      "version " + std::to_string(version.version) + " of KMS key " + Quote(version.key_id);
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsKeyVersion));
    STRONGROOM_ASSIGN_OR_RETURN(bool row,
                                select.Bind(1, version.key_id).BindInt(2, version.version).Step());
    if (row) return AlreadyExists(what + " exists");
  }
  if (version.version <= key->current_version) {
    return InvalidArgument(what + " is not newer than the current version " +
                           std::to_string(key->current_version));
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertKmsKeyVersion));
    insert.Bind(1, version.key_id)
        .BindInt(2, version.version)
        .BindBytes(3, version.salt)
        .BindInt(4, version.created_ms)
        .BindBytes(5, version.wrapped);
    STRONGROOM_RETURN_IF_ERROR(insert.Run());
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kSetKmsKeyVersion));
    STRONGROOM_RETURN_IF_ERROR(update.Bind(1, version.key_id).BindInt(2, version.version).Run());
  }
  return txn.Commit();
}

Result<void> SqliteCatalog::SetKmsKeyVersionWrapped(std::string_view key_id, uint32_t version,
                                                    ByteView wrapped) {
  std::string what = "version " + std::to_string(version) + " of KMS key " + Quote(key_id);
  if (wrapped.empty()) return InvalidArgument(what + ": empty wrapped KEK");
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kSetKmsKeyVersionWrapped));
    STRONGROOM_RETURN_IF_ERROR(
        update.Bind(1, key_id).BindInt(2, version).BindBytes(3, wrapped).Run());
  }
  if (sqlite3_changes(db_) == 0) {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsKeyVersion));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, key_id).BindInt(2, version).Step());
    if (!row) return NotFound("no " + what);
    return AlreadyExists(what + " has a wrapped KEK already");
  }
  return txn.Commit();
}

Result<KmsKeyVersion> SqliteCatalog::GetKmsKeyVersion(std::string_view key_id, uint32_t version) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsKeyVersion));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, key_id).BindInt(2, version).Step());
  if (!row) {
    return NotFound("no version " + std::to_string(version) + " of KMS key " + Quote(key_id));
  }
  return ReadKmsKeyVersion(select);
}

Result<void> SqliteCatalog::AddKmsAlias(std::string_view alias, std::string_view key_id) {
  if (alias.empty()) {
    return InvalidArgument("empty KMS alias");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> key, FindKmsKey(key_id));
  if (!key) {
    return NotFound("no KMS key " + Quote(key_id));
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsAlias));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, alias).Step());
    if (row) {
      return AlreadyExists("KMS alias " + Quote(alias) + " names key " + Quote(select.Text(0)));
    }
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertKmsAlias));
    STRONGROOM_RETURN_IF_ERROR(insert.Bind(1, alias).Bind(2, key_id).Run());
  }
  return txn.Commit();
}

Result<void> SqliteCatalog::DeleteKmsAlias(std::string_view alias) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteKmsAlias));
    STRONGROOM_RETURN_IF_ERROR(erase.Bind(1, alias).Run());
  }
  if (sqlite3_changes(db_) == 0) {
    return NotFound("no KMS alias " + Quote(alias));
  }
  return txn.Commit();
}

Result<std::string> SqliteCatalog::ResolveKmsAlias(std::string_view alias) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsAlias));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, alias).Step());
  if (!row) {
    return NotFound("no KMS alias " + Quote(alias));
  }
  return select.Text(0);
}

Result<std::vector<std::string>> SqliteCatalog::KmsAliasesOf(std::string_view key_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsAliasesOf));
  select.Bind(1, key_id);
  return CollectRows(select, ColumnText0);
}

Result<void> SqliteCatalog::AddKmsGrant(std::string_view key_id, std::string_view access_key) {
  if (access_key.empty()) {
    return InvalidArgument("empty access key");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> key, FindKmsKey(key_id));
  if (!key) {
    return NotFound("no KMS key " + Quote(key_id));
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertKmsGrant));
    STRONGROOM_RETURN_IF_ERROR(insert.Bind(1, key_id).Bind(2, access_key).Run());
  }
  return txn.Commit();
}

Result<void> SqliteCatalog::RemoveKmsGrant(std::string_view key_id, std::string_view access_key) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteKmsGrant));
    STRONGROOM_RETURN_IF_ERROR(erase.Bind(1, key_id).Bind(2, access_key).Run());
  }
  if (sqlite3_changes(db_) == 0) {
    return NotFound("access key " + Quote(access_key) + " holds no grant on KMS key " +
                    Quote(key_id));
  }
  return txn.Commit();
}

Result<bool> SqliteCatalog::HasKmsGrant(std::string_view key_id, std::string_view access_key) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsGrant));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, key_id).Bind(2, access_key).Step());
  return row && select.Int(0) != 0;
}

Result<std::vector<std::string>> SqliteCatalog::KmsGrantees(std::string_view key_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectKmsGrantees));
  select.Bind(1, key_id);
  return CollectRows(select, ColumnText0);
}

// ------------------------------------------------------------------ key maintenance

namespace {

constexpr const char* kUpdateKmsKeyState =
    "UPDATE kms_keys SET state = ?3, destroy_ms = ?4 WHERE key_id = ?1 AND state = ?2";
constexpr const char* kDeleteKmsKeyVersions = "DELETE FROM kms_key_versions WHERE key_id = ?1";
constexpr const char* kMarkKmsKeyDestroyed =
    "UPDATE kms_keys SET state = 'destroyed', destroy_ms = ?2 WHERE key_id = ?1";
constexpr const char* kSettleKmsProviderKey =
    "UPDATE kms_keys SET provider_key_outcome = ?2, provider_key_settled_ms = ?3 WHERE key_id = ?1";

// kek_ref filters: ?3 prefix (NULL: any), ?4 excluded kek_ref (NULL: none).
// The kek_ref terms are expressions, so the planner walks the (bucket, key)
// index in order instead of sorting the kek_ref index's matches.
#define STRONGROOM_KEK_REF_FILTER                                                \
  " AND (?3 IS NULL OR substr(COALESCE(kek_ref, ''), 1, length(?3)) = ?3)" \
  " AND (?4 IS NULL OR COALESCE(kek_ref, '') <> ?4)"
constexpr const char* kScanObjects =
    "SELECT bucket, key, object_id, size, envelope, encryption, COALESCE(kek_ref, '') "
    "FROM objects WHERE (bucket, key) > (?1, ?2)" STRONGROOM_KEK_REF_FILTER
    " ORDER BY bucket, key LIMIT ?5";
constexpr const char* kScanBucketObjects =
    "SELECT bucket, key, object_id, size, envelope, encryption, COALESCE(kek_ref, '') "
    "FROM objects WHERE bucket = ?1 AND key > ?2" STRONGROOM_KEK_REF_FILTER
    " ORDER BY bucket, key LIMIT ?5";
constexpr const char* kCountObjects =
    "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects WHERE 1" STRONGROOM_KEK_REF_FILTER;
constexpr const char* kCountBucketObjects =
    "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM objects WHERE bucket = ?1"
    STRONGROOM_KEK_REF_FILTER;
#undef STRONGROOM_KEK_REF_FILTER
constexpr const char* kUsageByKekRef =
    "SELECT COALESCE(kek_ref, ''), COUNT(*), COALESCE(SUM(size), 0) FROM objects "
    "GROUP BY 1 ORDER BY 1";
constexpr const char* kUpdateEnvelope =
    "UPDATE objects SET envelope = ?5, kek_ref = ?6 "
    "WHERE bucket = ?1 AND key = ?2 AND object_id = ?3 AND envelope = ?4";
constexpr const char* kObjectExists =
    "SELECT EXISTS (SELECT 1 FROM objects WHERE bucket = ?1 AND key = ?2)";
constexpr const char* kScanUploads =
    "SELECT upload_id, bucket, key, initiated_ms, owner, object_id, attributes, envelope, "
    "encryption FROM uploads WHERE upload_id > ?1 ORDER BY upload_id LIMIT ?2";
constexpr const char* kUpdateUploadEnvelope =
    "UPDATE uploads SET envelope = ?3 WHERE upload_id = ?1 AND envelope = ?2";

constexpr const char* kInsertJob =
    "INSERT INTO jobs (job_id, kind, state, params, cursor, objects_done, bytes_done, "
    "objects_skipped, objects_failed, objects_total, bytes_total, created_ms, updated_ms, "
    "finished_ms, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
    "?15)";
constexpr const char* kSelectJob =
    "SELECT job_id, kind, state, params, cursor, objects_done, bytes_done, objects_skipped, "
    "objects_failed, objects_total, bytes_total, created_ms, updated_ms, finished_ms, message "
    "FROM jobs WHERE job_id = ?1";
constexpr const char* kSelectJobs =
    "SELECT job_id, kind, state, params, cursor, objects_done, bytes_done, objects_skipped, "
    "objects_failed, objects_total, bytes_total, created_ms, updated_ms, finished_ms, message "
    "FROM jobs ORDER BY created_ms, job_id";
constexpr const char* kUpdateJob =
    "UPDATE jobs SET state = ?2, params = ?3, cursor = ?4, objects_done = ?5, bytes_done = ?6, "
    "objects_skipped = ?7, objects_failed = ?8, objects_total = ?9, bytes_total = ?10, "
    "updated_ms = ?11, finished_ms = ?12, message = ?13 WHERE job_id = ?1";

ObjectKeyRecord ReadObjectKeyRecord(auto& stmt) {
  ObjectKeyRecord record;
  record.bucket = stmt.Text(0);
  record.key = stmt.Text(1);
  record.object_id = stmt.Blob(2);
  record.size = static_cast<uint64_t>(stmt.Int(3));
  record.envelope = stmt.Blob(4);
  record.encryption = stmt.Blob(5);
  record.kek_ref = stmt.Text(6);
  return record;
}

Job ReadJob(auto& stmt) {
  Job job;
  job.job_id = stmt.Text(0);
  job.kind = stmt.Text(1);
  job.state = stmt.Text(2);
  job.params = stmt.Text(3);
  job.cursor = stmt.Blob(4);
  job.objects_done = static_cast<uint64_t>(stmt.Int(5));
  job.bytes_done = static_cast<uint64_t>(stmt.Int(6));
  job.objects_skipped = static_cast<uint64_t>(stmt.Int(7));
  job.objects_failed = static_cast<uint64_t>(stmt.Int(8));
  job.objects_total = static_cast<uint64_t>(stmt.Int(9));
  job.bytes_total = static_cast<uint64_t>(stmt.Int(10));
  job.created_ms = stmt.Int(11);
  job.updated_ms = stmt.Int(12);
  job.finished_ms = stmt.Int(13);
  job.message = stmt.Text(14);
  return job;
}

// Binds the kek_ref filters (?3, ?4) of a scan; unset ones stay NULL.
template <typename Stmt>
void BindKekRefFilter(Stmt& stmt, const ObjectScanRequest& request) {
  if (request.kek_ref_prefix) stmt.Bind(3, *request.kek_ref_prefix);
  if (request.exclude_kek_ref) stmt.Bind(4, *request.exclude_kek_ref);
}

}  // namespace

Result<void> SqliteCatalog::UpdateKmsKeyState(std::string_view key_id,
                                              std::string_view expected_state,
                                              std::string_view state, int64_t destroy_ms) {
  if (state.empty()) {
    return InvalidArgument("empty KMS key state");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kUpdateKmsKeyState));
    STRONGROOM_RETURN_IF_ERROR(update.Bind(1, key_id)
                                   .Bind(2, expected_state)
                                   .Bind(3, state)
                                   .BindInt(4, destroy_ms)
                                   .Run());
  }
  if (sqlite3_changes(db_) == 0) {
    STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> key, FindKmsKey(key_id));
    if (!key) return NotFound("no KMS key " + Quote(key_id));
    return FailedPrecondition("KMS key " + Quote(key_id) + " is " + key->state + ", not " +
                              std::string(expected_state));
  }
  return txn.Commit();
}

Result<void> SqliteCatalog::DestroyKmsKey(std::string_view key_id, int64_t now_ms) {
  // secure_delete zeroes the freed cells and pages, so the salts do not
  // linger in free space; the checkpoint then moves the zeroed pages into
  // the database file and truncates the WAL that held the old ones.
  bool was_secure = false;
  {
    std::lock_guard lock(mutex_);
    STRONGROOM_ASSIGN_OR_RETURN(Statement query, Prepare("PRAGMA secure_delete"));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, query.Step());
    was_secure = row && query.Int(0) != 0;
  }
  STRONGROOM_RETURN_IF_ERROR(Exec("PRAGMA secure_delete = ON"));
  auto destroyed = [&]() -> Result<void> {
    std::lock_guard lock(mutex_);
    STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
    STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> key, FindKmsKey(key_id));
    if (!key) return NotFound("no KMS key " + Quote(key_id));
    if (key->state != "pending-destroy") {
      return FailedPrecondition("KMS key " + Quote(key_id) + " is " + key->state +
                                ", not pending destruction");
    }
    if (key->destroy_ms > now_ms) {
      return FailedPrecondition("KMS key " + Quote(key_id) + " is not due for destruction yet");
    }
    {
      STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteKmsKeyVersions));
      STRONGROOM_RETURN_IF_ERROR(erase.Bind(1, key_id).Run());
    }
    {
      STRONGROOM_ASSIGN_OR_RETURN(Statement mark, Prepare(kMarkKmsKeyDestroyed));
      STRONGROOM_RETURN_IF_ERROR(mark.Bind(1, key_id).BindInt(2, now_ms).Run());
    }
    return txn.Commit();
  }();
  if (!was_secure) (void)Exec("PRAGMA secure_delete = OFF");
  STRONGROOM_RETURN_IF_ERROR(destroyed);
  (void)Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return Ok();
}

Result<void> SqliteCatalog::SettleKmsProviderKey(std::string_view key_id,
                                                 std::string_view outcome, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<KmsKey> key, FindKmsKey(key_id));
  if (!key) return NotFound("no KMS key " + Quote(key_id));
  if (key->state != "destroyed") {
    return FailedPrecondition("KMS key " + Quote(key_id) + " is " + key->state +
                              ", not destroyed");
  }
  // The first outcome stands (two destroyers race: one destroys, the other
  // finds nothing), except that "destroyed" is the truer word for a
  // "not-found" the loser recorded first.
  if (key->provider_key_settled_ms != 0 &&
      !(outcome == "destroyed" && key->provider_key_outcome == "not-found")) {
    return Ok();
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement mark, Prepare(kSettleKmsProviderKey));
    STRONGROOM_RETURN_IF_ERROR(mark.Bind(1, key_id).Bind(2, outcome).BindInt(3, now_ms).Run());
  }
  return txn.Commit();
}

Result<std::vector<ObjectKeyRecord>> SqliteCatalog::ScanObjects(const ObjectScanRequest& request) {
  std::vector<ObjectKeyRecord> out;
  if (request.limit == 0) return out;
  std::string after_key = request.after_key;
  if (!request.bucket.empty()) {
    if (request.after_bucket > request.bucket) return out;
    if (request.after_bucket < request.bucket) after_key.clear();
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(
      Statement scan, Prepare(request.bucket.empty() ? kScanObjects : kScanBucketObjects));
  scan.Bind(1, request.bucket.empty() ? request.after_bucket : request.bucket).Bind(2, after_key);
  BindKekRefFilter(scan, request);
  scan.BindInt(5, static_cast<int64_t>(
                      std::min<uint64_t>(request.limit, std::numeric_limits<int64_t>::max())));
  return CollectRows(scan, [](auto& s) { return ReadObjectKeyRecord(s); });
}

Result<ObjectCount> SqliteCatalog::CountObjects(const ObjectScanRequest& request) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement count, Prepare(request.bucket.empty()
                                                           ? kCountObjects
                                                           : kCountBucketObjects));
  if (!request.bucket.empty()) count.Bind(1, request.bucket);
  BindKekRefFilter(count, request);
  STRONGROOM_ASSIGN_OR_RETURN(bool row, count.Step());
  ObjectCount out;
  if (row) {
    out.objects = static_cast<uint64_t>(count.Int(0));
    out.bytes = static_cast<uint64_t>(count.Int(1));
  }
  return out;
}

Result<std::vector<KekRefUsage>> SqliteCatalog::ObjectUsageByKekRef() {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kUsageByKekRef));
  return CollectRows(select, [](auto& s) {
    return KekRefUsage{s.Text(0), static_cast<uint64_t>(s.Int(1)),
                       static_cast<uint64_t>(s.Int(2))};
  });
}

Result<void> SqliteCatalog::UpdateEnvelope(std::string_view bucket, std::string_view key,
                                           ByteView object_id, ByteView expected_envelope,
                                           ByteView envelope, std::string_view kek_ref) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kUpdateEnvelope));
    STRONGROOM_RETURN_IF_ERROR(update.Bind(1, bucket)
                                   .Bind(2, key)
                                   .BindBytes(3, object_id)
                                   .BindBytes(4, expected_envelope)
                                   .BindBytes(5, envelope)
                                   .Bind(6, kek_ref)
                                   .Run());
  }
  if (sqlite3_changes(db_) == 0) {
    STRONGROOM_ASSIGN_OR_RETURN(Statement exists, Prepare(kObjectExists));
    STRONGROOM_ASSIGN_OR_RETURN(bool row, exists.Bind(1, bucket).Bind(2, key).Step());
    if (!row || exists.Int(0) == 0) {
      return NotFound("no object " + Quote(key) + " in bucket " + Quote(bucket));
    }
    return FailedPrecondition("object " + Quote(key) + " in bucket " + Quote(bucket) +
                              " changed meanwhile");
  }
  return txn.Commit();
}

Result<Object> SqliteCatalog::ReplaceObjectIfUnchanged(const Object& object,
                                                       ByteView expected_object_id,
                                                       ByteView expected_envelope) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  int64_t old_id = 0;
  STRONGROOM_ASSIGN_OR_RETURN(std::optional<Object> replaced,
                              FindObject(object.bucket, object.key, &old_id));
  if (!replaced) {
    return NotFound("no object " + Quote(object.key) + " in bucket " + Quote(object.bucket));
  }
  auto same = [](ByteView a, ByteView b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  };
  if (!same(replaced->object_id, expected_object_id) ||
      !same(replaced->envelope, expected_envelope)) {
    return FailedPrecondition("object " + Quote(object.key) + " in bucket " + Quote(object.bucket) +
                              " changed meanwhile");
  }
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement erase, Prepare(kDeleteObject));
    STRONGROOM_RETURN_IF_ERROR(erase.BindInt(1, old_id).Run());
  }
  STRONGROOM_RETURN_IF_ERROR(InsertObject(object));
  STRONGROOM_RETURN_IF_ERROR(txn.Commit());
  return std::move(*replaced);
}

Result<std::vector<Upload>> SqliteCatalog::ScanUploads(std::string_view after_upload_id,
                                                       size_t limit) {
  if (limit == 0) return std::vector<Upload>();
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement scan, Prepare(kScanUploads));
  scan.Bind(1, after_upload_id)
      .BindInt(2, static_cast<int64_t>(
                      std::min<uint64_t>(limit, std::numeric_limits<int64_t>::max())));
  return CollectRows(scan, [](auto& s) { return ReadUpload(s); });
}

Result<void> SqliteCatalog::UpdateUploadEnvelope(std::string_view upload_id,
                                                 ByteView expected_envelope, ByteView envelope) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kUpdateUploadEnvelope));
    STRONGROOM_RETURN_IF_ERROR(
        update.Bind(1, upload_id).BindBytes(2, expected_envelope).BindBytes(3, envelope).Run());
  }
  if (sqlite3_changes(db_) == 0) {
    STRONGROOM_ASSIGN_OR_RETURN(std::optional<Upload> upload, FindUpload(upload_id));
    if (!upload) return NotFound("no upload " + Quote(upload_id));
    return FailedPrecondition("upload " + Quote(upload_id) + " changed meanwhile");
  }
  return txn.Commit();
}

// ------------------------------------------------------------------ jobs

Result<void> SqliteCatalog::CreateJob(const Job& job) {
  if (job.job_id.empty()) {
    return InvalidArgument("empty job id");
  }
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectJob));
    STRONGROOM_ASSIGN_OR_RETURN(bool exists, select.Bind(1, job.job_id).Step());
    if (exists) return AlreadyExists("job " + Quote(job.job_id) + " exists");
  }
  STRONGROOM_ASSIGN_OR_RETURN(int64_t done, ToInt64(job.objects_done, "objects_done"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t bytes, ToInt64(job.bytes_done, "bytes_done"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t skipped, ToInt64(job.objects_skipped, "objects_skipped"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t failed, ToInt64(job.objects_failed, "objects_failed"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t total, ToInt64(job.objects_total, "objects_total"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t total_bytes, ToInt64(job.bytes_total, "bytes_total"));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement insert, Prepare(kInsertJob));
    insert.Bind(1, job.job_id)
        .Bind(2, job.kind)
        .Bind(3, job.state)
        .Bind(4, job.params)
        .BindBytes(5, job.cursor)
        .BindInt(6, done)
        .BindInt(7, bytes)
        .BindInt(8, skipped)
        .BindInt(9, failed)
        .BindInt(10, total)
        .BindInt(11, total_bytes)
        .BindInt(12, job.created_ms)
        .BindInt(13, job.updated_ms)
        .BindInt(14, job.finished_ms)
        .Bind(15, job.message);
    STRONGROOM_RETURN_IF_ERROR(insert.Run());
  }
  return txn.Commit();
}

Result<Job> SqliteCatalog::GetJob(std::string_view job_id) {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectJob));
  STRONGROOM_ASSIGN_OR_RETURN(bool row, select.Bind(1, job_id).Step());
  if (!row) return NotFound("no job " + Quote(job_id));
  return ReadJob(select);
}

Result<std::vector<Job>> SqliteCatalog::ListJobs() {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kSelectJobs));
  return CollectRows(select, [](auto& s) { return ReadJob(s); });
}

Result<void> SqliteCatalog::UpdateJob(const Job& job) {
  STRONGROOM_ASSIGN_OR_RETURN(int64_t done, ToInt64(job.objects_done, "objects_done"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t bytes, ToInt64(job.bytes_done, "bytes_done"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t skipped, ToInt64(job.objects_skipped, "objects_skipped"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t failed, ToInt64(job.objects_failed, "objects_failed"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t total, ToInt64(job.objects_total, "objects_total"));
  STRONGROOM_ASSIGN_OR_RETURN(int64_t total_bytes, ToInt64(job.bytes_total, "bytes_total"));
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, true));
  {
    STRONGROOM_ASSIGN_OR_RETURN(Statement update, Prepare(kUpdateJob));
    update.Bind(1, job.job_id)
        .Bind(2, job.state)
        .Bind(3, job.params)
        .BindBytes(4, job.cursor)
        .BindInt(5, done)
        .BindInt(6, bytes)
        .BindInt(7, skipped)
        .BindInt(8, failed)
        .BindInt(9, total)
        .BindInt(10, total_bytes)
        .BindInt(11, job.updated_ms)
        .BindInt(12, job.finished_ms)
        .Bind(13, job.message);
    STRONGROOM_RETURN_IF_ERROR(update.Run());
  }
  if (sqlite3_changes(db_) == 0) {
    return NotFound("no job " + Quote(job.job_id));
  }
  return txn.Commit();
}

// ------------------------------------------------------------------ blobs

Result<std::vector<std::string>> SqliteCatalog::ReferencedBlobs() {
  std::lock_guard lock(mutex_);
  STRONGROOM_ASSIGN_OR_RETURN(Transaction txn, Transaction::Begin(this, false));
  STRONGROOM_ASSIGN_OR_RETURN(Statement select, Prepare(kReferencedBlobs));
  return CollectRows(select, ColumnText0);
}

}  // namespace strongroom::catalog
