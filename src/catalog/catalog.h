// SPDX-License-Identifier: Apache-2.0
#pragma once

// The metadata catalog: buckets, the object index, multipart uploads and
// parts, and users. The only module that includes SQLite. Every method is
// one transaction; readers see committed state only (read-after-write
// consistency for every caller of the same catalog file, including other
// processes such as `strongroom user add`). Thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace strongroom::catalog {

struct Bucket {
  std::string name;
  int64_t created_ms = 0;   // Unix epoch milliseconds
  std::string owner;        // access key of the creator
  Bytes encryption;         // default encryption, encoded by objects/; empty = SSE-S3
};

// One committed object. The catalog treats the byte fields as opaque.
struct Object {
  std::string bucket;
  std::string key;
  Bytes object_id;             // 16 bytes (FORMAT.md)
  uint64_t size = 0;           // plaintext bytes
  std::string etag;            // as sent to clients, without quotes
  int64_t last_modified_ms = 0;
  std::string owner;           // access key of the writer
  Bytes attributes;            // content headers, user metadata, checksums: sealed by objects/
  Bytes manifest;              // sealed manifest (FORMAT.md §5)
  Bytes envelope;              // serialized envelope (FORMAT.md §6)
  Bytes encryption;            // public encryption facts (mode, KMS key id, context), by objects/
  std::string kek_ref;         // "<provider>:<key ref>" of the envelope's KEK, "" for SSE-C;
                               // indexed, for rewrap and per-key accounting
  std::vector<std::string> blobs;  // one blob per manifest stream, in order
};

// Listing entry: what ListObjects needs without the heavy fields.
struct ObjectSummary {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  int64_t last_modified_ms = 0;
  std::string owner;
  std::string kek_ref;  // as Object::kek_ref, so listings can flag shredded objects
};

struct ListObjectsRequest {
  std::string bucket;
  std::string prefix;
  std::string delimiter;      // empty: no grouping
  std::string start_after;    // exclusive; keys and common prefixes after it
  size_t max_keys = 1000;     // entries + common prefixes per page; 0 returns nothing
};

struct ListObjectsPage {
  std::vector<ObjectSummary> objects;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  // The last key or common prefix returned; continue with start_after = it.
  std::string next_start_after;
};

struct Upload {
  std::string upload_id;
  std::string bucket;
  std::string key;
  Bytes object_id;
  int64_t initiated_ms = 0;
  std::string owner;
  Bytes attributes;             // sealed by objects/
  Bytes envelope;
  Bytes encryption;             // as Object::encryption
};

struct Part {
  std::string upload_id;
  uint32_t part_number = 0;
  uint64_t size = 0;            // plaintext bytes
  std::string etag;             // MD5 hex of the plaintext part, no quotes
  int64_t last_modified_ms = 0;
  Bytes stream_info;            // salt, commitment (opaque to the catalog)
  std::string blob;
  Bytes attributes;             // e.g. checksums
};

struct ListUploadsRequest {
  std::string bucket;
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string upload_id_marker;
  size_t max_uploads = 1000;
};

struct ListUploadsPage {
  std::vector<Upload> uploads;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

struct ListPartsPage {
  std::vector<Part> parts;
  bool is_truncated = false;
  uint32_t next_part_number_marker = 0;
};

// KMS keys (keys/key_directory.h gives them meaning).
struct KmsKey {
  std::string key_id;
  std::string description;
  std::string state;            // "enabled" | "disabled" | "pending-destroy" | "destroyed"
  uint32_t current_version = 1;
  int64_t created_ms = 0;
  std::string kind;             // "sse-s3" | "aws-managed" | "customer"
  std::string provider;         // "strongroom", or a key provider's id ("kmip", "pkcs11", "tpm")
  int64_t destroy_ms = 0;       // pending-destroy: when it is due; destroyed: when it happened
  std::string provider_key{};   // provider-backed keys: the provider's key that wraps the KEKs
  bool provider_key_owned = false;      // strongroom created provider_key (so may destroy it)
  // What became of provider_key once the KMS key was destroyed: "" (not
  // yet, or not owned), "destroyed", "not-found", or "kept: <reason>".
  std::string provider_key_outcome{};
  int64_t provider_key_settled_ms = 0;  // when that outcome was recorded
};

struct KmsKeyVersion {
  std::string key_id;
  uint32_t version = 0;
  Bytes salt;                   // 32 random bytes; the KEK is derived from it
  int64_t created_ms = 0;
  // Provider-backed keys: the version's KEK wrapped by the key's provider
  // (keys/hierarchy/provider_keks.h); empty until made, and for other keys.
  Bytes wrapped{};
};

// Key maintenance (rewrap, re-encryption, per-key accounting).

// What key maintenance needs of an object, without manifest and blobs.
struct ObjectKeyRecord {
  std::string bucket;
  std::string key;
  Bytes object_id;
  uint64_t size = 0;
  Bytes envelope;
  Bytes encryption;
  std::string kek_ref;
};

// Objects in (bucket, key) order after a cursor, filtered by kek_ref.
struct ObjectScanRequest {
  std::string bucket;                          // empty: every bucket
  std::optional<std::string> kek_ref_prefix;   // only kek_refs that start with it
  std::optional<std::string> exclude_kek_ref;  // not this exact kek_ref
  std::string after_bucket;                    // exclusive cursor; both empty: from the start
  std::string after_key;
  size_t limit = 256;
};

struct ObjectCount {
  uint64_t objects = 0;
  uint64_t bytes = 0;  // plaintext bytes
};

// Objects and plaintext bytes per kek_ref ("" for SSE-C).
struct KekRefUsage {
  std::string kek_ref;
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

// A background job of the server (server/jobs.h gives kinds and states
// meaning; params and cursor are opaque here).
struct Job {
  std::string job_id;
  std::string kind;
  std::string state;
  std::string params;
  Bytes cursor;
  uint64_t objects_done = 0;
  uint64_t bytes_done = 0;
  uint64_t objects_skipped = 0;
  uint64_t objects_failed = 0;
  uint64_t objects_total = 0;
  uint64_t bytes_total = 0;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t finished_ms = 0;
  std::string message;
};

struct User {
  std::string access_key;
  Bytes sealed_secret;   // the secret key sealed by keys/; never stored in clear
  bool admin = false;
  int64_t created_ms = 0;
};

class Catalog {
 public:
  // Opens or creates the SQLite database at `path` (WAL, busy timeout,
  // synchronous=FULL, foreign keys), creating or migrating the schema.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path);
  virtual ~Catalog() = default;

  // Buckets. CreateBucket: kAlreadyExists if present. DeleteBucket:
  // kNotFound if absent, kFailedPrecondition if it holds objects or uploads.
  virtual Result<void> CreateBucket(const Bucket& bucket) = 0;
  virtual Result<Bucket> GetBucket(std::string_view name) = 0;
  virtual Result<std::vector<Bucket>> ListBuckets() = 0;
  virtual Result<void> DeleteBucket(std::string_view name) = 0;
  // kNotFound if the bucket does not exist. Empty clears.
  virtual Result<void> SetBucketEncryption(std::string_view name, ByteView encryption) = 0;

  // Objects. PutObject inserts or replaces (last writer wins) and returns the
  // replaced object, if any, so the caller can delete its blobs. kNotFound if
  // the bucket does not exist.
  virtual Result<std::optional<Object>> PutObject(const Object& object) = 0;
  virtual Result<Object> GetObject(std::string_view bucket, std::string_view key) = 0;
  // Replaces the object only if the stored one still has `expected_object_id`
  // (a copy-in-place re-wrap). kNotFound if absent, kFailedPrecondition if replaced.
  // Returns the replaced object.
  virtual Result<Object> ReplaceObjectIf(const Object& object, ByteView expected_object_id) = 0;
  // Returns the deleted object (kNotFound if absent).
  virtual Result<Object> DeleteObject(std::string_view bucket, std::string_view key) = 0;
  virtual Result<ListObjectsPage> ListObjects(const ListObjectsRequest& request) = 0;

  // Multipart uploads.
  virtual Result<void> CreateUpload(const Upload& upload) = 0;
  virtual Result<Upload> GetUpload(std::string_view upload_id) = 0;
  // Inserts or replaces a part; returns the replaced part (its blob is the
  // caller's to delete). kNotFound if the upload does not exist.
  virtual Result<std::optional<Part>> PutPart(const Part& part) = 0;
  virtual Result<ListPartsPage> ListParts(std::string_view upload_id, uint32_t part_number_marker,
                                          size_t max_parts) = 0;
  // All parts of an upload in part order.
  virtual Result<std::vector<Part>> GetParts(std::string_view upload_id) = 0;
  virtual Result<ListUploadsPage> ListUploads(const ListUploadsRequest& request) = 0;
  // Atomically publishes `object` and removes the upload and all its part
  // rows. Returns the blobs no longer referenced (parts not in `object`,
  // and the replaced object's blobs). kNotFound if the upload is gone.
  virtual Result<std::vector<std::string>> CompleteUpload(std::string_view upload_id,
                                                          const Object& object) = 0;
  // Removes the upload and its parts; returns their blobs. kNotFound if absent.
  virtual Result<std::vector<std::string>> AbortUpload(std::string_view upload_id) = 0;

  // Users.
  virtual Result<void> AddUser(const User& user) = 0;  // kAlreadyExists
  virtual Result<User> GetUser(std::string_view access_key) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;
  virtual Result<void> RemoveUser(std::string_view access_key) = 0;  // kNotFound

  // KMS keys. CreateKmsKey inserts the key and its first version
  // (kAlreadyExists if the id exists). AddKmsKeyVersion inserts a version
  // and makes it current.
  virtual Result<void> CreateKmsKey(const KmsKey& key, const KmsKeyVersion& first) = 0;
  virtual Result<KmsKey> GetKmsKey(std::string_view key_id) = 0;  // kNotFound
  virtual Result<std::vector<KmsKey>> ListKmsKeys() = 0;          // by created_ms
  virtual Result<void> SetKmsKeyState(std::string_view key_id, std::string_view state) = 0;
  virtual Result<void> AddKmsKeyVersion(const KmsKeyVersion& version) = 0;
  virtual Result<KmsKeyVersion> GetKmsKeyVersion(std::string_view key_id, uint32_t version) = 0;
  // Stores the wrapped KEK of a version that has none yet (compare-and-set:
  // kAlreadyExists if it has one, kNotFound if the version is unknown).
  virtual Result<void> SetKmsKeyVersionWrapped(std::string_view key_id, uint32_t version,
                                               ByteView wrapped) = 0;
  // Aliases: kAlreadyExists if taken, kNotFound on delete/resolve if absent.
  virtual Result<void> AddKmsAlias(std::string_view alias, std::string_view key_id) = 0;
  virtual Result<void> DeleteKmsAlias(std::string_view alias) = 0;
  virtual Result<std::string> ResolveKmsAlias(std::string_view alias) = 0;
  virtual Result<std::vector<std::string>> KmsAliasesOf(std::string_view key_id) = 0;
  // Grants: (key id, access key) pairs. Revoke: kNotFound if absent.
  virtual Result<void> AddKmsGrant(std::string_view key_id, std::string_view access_key) = 0;
  virtual Result<void> RemoveKmsGrant(std::string_view key_id, std::string_view access_key) = 0;
  virtual Result<bool> HasKmsGrant(std::string_view key_id, std::string_view access_key) = 0;
  virtual Result<std::vector<std::string>> KmsGrantees(std::string_view key_id) = 0;

  // KMS key lifecycle. UpdateKmsKeyState sets state and destroy_ms only if
  // the key's state is still `expected_state` (kFailedPrecondition if not,
  // kNotFound for an unknown key). DestroyKmsKey deletes every version row
  // (salts and wrapped KEKs) of a key in state "pending-destroy" whose
  // destroy_ms <= now_ms (securely: freed pages are zeroed and the WAL
  // checkpointed) and sets the state to "destroyed" and destroy_ms to
  // now_ms; kFailedPrecondition otherwise.
  virtual Result<void> UpdateKmsKeyState(std::string_view key_id, std::string_view expected_state,
                                         std::string_view state, int64_t destroy_ms) = 0;
  virtual Result<void> DestroyKmsKey(std::string_view key_id, int64_t now_ms) = 0;
  // Records what became of the provider key of a destroyed KMS key
  // (provider_key_outcome, provider_key_settled_ms = now_ms). The first
  // outcome stands, except that "destroyed" replaces "not-found". kNotFound
  // for an unknown key, kFailedPrecondition unless it is "destroyed".
  virtual Result<void> SettleKmsProviderKey(std::string_view key_id, std::string_view outcome,
                                            int64_t now_ms) = 0;

  // Key maintenance. ScanObjects: at most request.limit objects after the
  // cursor in (bucket, key) order (kek_ref of rows without one reads "").
  // CountObjects: every match of the same filters (cursor and limit ignored).
  virtual Result<std::vector<ObjectKeyRecord>> ScanObjects(const ObjectScanRequest& request) = 0;
  virtual Result<ObjectCount> CountObjects(const ObjectScanRequest& request) = 0;
  virtual Result<std::vector<KekRefUsage>> ObjectUsageByKekRef() = 0;  // sorted by kek_ref
  // Replaces the envelope and kek_ref of an object only if it still has
  // `object_id` and `expected_envelope` (a rewrap). kNotFound if absent,
  // kFailedPrecondition if it changed meanwhile.
  virtual Result<void> UpdateEnvelope(std::string_view bucket, std::string_view key,
                                      ByteView object_id, ByteView expected_envelope,
                                      ByteView envelope, std::string_view kek_ref) = 0;
  // ReplaceObjectIf that also needs the stored envelope to be
  // `expected_envelope` (a re-encryption must not undo a copy-in-place).
  virtual Result<Object> ReplaceObjectIfUnchanged(const Object& object,
                                                  ByteView expected_object_id,
                                                  ByteView expected_envelope) = 0;
  // Uploads after `after_upload_id` in upload id order, at most `limit`.
  virtual Result<std::vector<Upload>> ScanUploads(std::string_view after_upload_id,
                                                  size_t limit) = 0;
  // kNotFound if the upload is gone, kFailedPrecondition if its envelope changed.
  virtual Result<void> UpdateUploadEnvelope(std::string_view upload_id,
                                            ByteView expected_envelope, ByteView envelope) = 0;

  // Jobs. CreateJob: kAlreadyExists for a used id. UpdateJob writes every
  // field but job_id, kind and created_ms (kNotFound if absent). ListJobs
  // orders by (created_ms, job_id).
  virtual Result<void> CreateJob(const Job& job) = 0;
  virtual Result<Job> GetJob(std::string_view job_id) = 0;  // kNotFound
  virtual Result<std::vector<Job>> ListJobs() = 0;
  virtual Result<void> UpdateJob(const Job& job) = 0;

  // Every blob name referenced by an object or a part (for orphan cleanup).
  virtual Result<std::vector<std::string>> ReferencedBlobs() = 0;
};

}  // namespace strongroom::catalog
