// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to s3/: the server-side encryption headers as AWS defines them
// (docs/S3_COMPATIBILITY.md, "Server-side encryption").
//
// Parsing and validation are pure functions of the headers so they can be
// tested without a server; ResolveWriteEncryption and ReadAccessFor (in
// handlers.h's world) add the bucket default, the KMS key directory and the
// caller's grants.
//
// SSE-C keys are decoded straight into crypto::SecretBytes and never appear
// in an error message, a log line or a response.

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "http/server.h"
#include "objects/object_store.h"

namespace strongroom::s3 {

// The AWS account id in the KMS key ARNs we return
// ("arn:aws:kms:<region>:000000000000:key/<id>"): a placeholder, as
// LocalStack and others use; strongroom has no accounts.
inline constexpr std::string_view kAccountId = "000000000000";

inline constexpr std::string_view kSseHeader = "x-amz-server-side-encryption";
inline constexpr std::string_view kSseKmsKeyIdHeader = "x-amz-server-side-encryption-aws-kms-key-id";
inline constexpr std::string_view kSseContextHeader = "x-amz-server-side-encryption-context";
inline constexpr std::string_view kSseBucketKeyHeader =
    "x-amz-server-side-encryption-bucket-key-enabled";
inline constexpr std::string_view kSseCustomerAlgorithmHeader =
    "x-amz-server-side-encryption-customer-algorithm";
inline constexpr std::string_view kSseCustomerKeyHeader = "x-amz-server-side-encryption-customer-key";
inline constexpr std::string_view kSseCustomerKeyMd5Header =
    "x-amz-server-side-encryption-customer-key-MD5";

// Which SSE-C header group: the object's own (x-amz-server-side-
// encryption-customer-*) or the copy source's (x-amz-copy-source-server-
// side-encryption-customer-*).
enum class KeyGroup { kObject, kCopySource };

// Writes (PutObject, CreateMultipartUpload, UploadPart, copy destination)
// need the key's MD5 and answer a key of the wrong length with 400; reads
// (Get, Head, copy source, Complete, ListParts) take the MD5 as optional
// and answer a wrong length as a wrong key (403 AccessDenied, from
// objects/).
enum class KeyUse { kWrite, kRead };

// True if any header of the group is present (even empty).
bool HasCustomerKeyHeaders(const http::Headers& headers, KeyGroup group);

// Decodes base64 as AWS does for SSE-C keys: characters outside the
// standard alphabet are skipped, only complete groups of four symbols (with
// '=' padding) yield bytes, anything after is dropped. So spaces, garbage
// and extra padding are tolerated, while URL-safe or unpadded text yields a
// different (wrong) key.
crypto::SecretBytes DecodeCustomerKey(std::string_view text);

// Validates one SSE-C header group in AWS's order (anchors §d and the
// recorded AWS responses):
//   1. a key or MD5 without the algorithm header → InvalidArgument "must
//      provide a valid encryption algorithm"
//   2. no key header → InvalidArgument "must provide an appropriate secret key"
//   3. the key decodes to nothing → InvalidArgument "The secret key was
//      invalid - too short."
//   4. writes without the MD5 header → InvalidArgument "must provide the
//      client calculated MD5 of the secret key"
//   5. an MD5 header that is not exactly base64(MD5(key)) → InvalidArgument
//      "The calculated MD5 hash of the key did not match ..."
//   6. an algorithm other than AES256 → InvalidEncryptionAlgorithmError
//   7. a key that is not 32 bytes → on writes InvalidArgument "The secret
//      key was invalid for the specified algorithm."; on reads a random key
//      stands in, so the object store answers as for any wrong key.
// nullopt when the group is absent. The TLS rule is CheckSecureTransport's.
Result<std::optional<objects::CustomerKey>> ParseCustomerKey(const http::Headers& headers,
                                                              KeyGroup group, KeyUse use);

// "127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.2]:1" → true.
bool IsLoopback(std::string_view remote_address);

// SSE-C (either group) and SSE-KMS (x-amz-server-side-encryption: aws:kms)
// need TLS: 400 InvalidArgument with AWS's messages over plain HTTP, unless
// `allow_loopback` and the peer is a loopback address.
Result<void> CheckSecureTransport(const http::Headers& headers, bool is_tls,
                                  std::string_view remote_address, bool allow_loopback);

// The x-amz-server-side-encryption* headers of a write, checked for shape:
// the algorithm is AES256 or aws:kms (aws:kms:dsse → 501), the key id and
// context only come with aws:kms, the context is base64 of a JSON object of
// strings, bucket-key-enabled is true or false.
struct SseHeaders {
  std::optional<std::string> algorithm;
  std::optional<std::string> kms_key_id;
  std::optional<std::string> context;  // the decoded JSON text
  std::optional<bool> bucket_key_enabled;
  bool any() const { return algorithm || kms_key_id || context || bucket_key_enabled; }
};
Result<SseHeaders> ParseSseHeaders(const http::Headers& headers);

// True if `json` is one JSON object whose members are all strings (the
// shape KMS accepts as an encryption context).
bool IsStringMapJson(std::string_view json);

// "arn:aws:kms:<region>:<kAccountId>:key/<key_id>".
std::string KmsKeyArn(std::string_view region, std::string_view key_id);

// Response headers describing an object's encryption, as AWS sends them:
// x-amz-server-side-encryption (AES256 | aws:kms) with the KMS key ARN,
// bucket-key-enabled when set and, if `with_context`, the encryption
// context; for SSE-C only the customer algorithm and the key MD5 (of
// `customer_key`, when the request carried one).
void AddEncryptionHeaders(http::Headers& headers, const objects::ObjectEncryption& encryption,
                          std::string_view region, const objects::CustomerKey* customer_key,
                          bool with_context);

// PutBucketEncryption's body. The KMS key reference is returned as sent
// (the caller resolves it). MalformedXML for anything else than one rule
// with AES256 or aws:kms.
struct BucketEncryptionRequest {
  objects::SseMode mode = objects::SseMode::kS3;
  std::string kms_key_reference;  // empty = the aws/s3 key
  bool bucket_key_enabled = false;
  bool block_sse_c = false;
};
Result<BucketEncryptionRequest> ParseBucketEncryptionXml(std::string_view body);
// GetBucketEncryption's body.
std::string BucketEncryptionXml(const objects::BucketEncryption& config, std::string_view region);

}  // namespace strongroom::s3
