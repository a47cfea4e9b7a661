// SPDX-License-Identifier: Apache-2.0
#pragma once

// AWS Signature Version 4 verification for S3 requests: the Authorization
// header, presigned URLs (query authentication), and request payloads —
// a signed SHA-256, UNSIGNED-PAYLOAD, and aws-chunked bodies
// (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER],
// STREAMING-UNSIGNED-PAYLOAD-TRAILER). Knows nothing of HTTP libraries.
//
// Errors carry Error::reason() set to the S3 error code a server must send:
// AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId,
// AuthorizationHeaderMalformed, AuthorizationQueryParametersError,
// RequestTimeTooSkewed, XAmzContentSHA256Mismatch, MissingContentLength,
// IncompleteBody, InvalidRequest, InvalidArgument.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/io.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::aws {

// The parts of an HTTP request that SigV4 covers, as received.
struct RequestView {
  std::string_view method;
  std::string_view raw_path;   // percent-encoded path as sent, starting with '/'
  std::string_view raw_query;  // everything after '?', as sent (may be empty)
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;
};

enum class PayloadMode {
  kSignedHash,               // x-amz-content-sha256 is the hex SHA-256 of the body
  kUnsigned,                 // UNSIGNED-PAYLOAD (and presigned URLs)
  kStreamingSigned,          // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  kStreamingSignedTrailer,   // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  kStreamingUnsignedTrailer, // STREAMING-UNSIGNED-PAYLOAD-TRAILER
};

// The outcome of a successful verification.
struct Authentication {
  std::string access_key;
  bool presigned = false;
  PayloadMode payload_mode = PayloadMode::kUnsigned;
  std::string payload_sha256;        // kSignedHash: expected lowercase hex
  // Streaming modes: what the chunk decoder needs to check chunk signatures.
  std::string seed_signature;        // the request signature (hex)
  std::string amz_date;              // yyyymmddThhmmssZ
  std::string scope;                 // date/region/s3/aws4_request
  std::shared_ptr<crypto::SecretBytes> signing_key;
  uint64_t decoded_content_length = 0;  // x-amz-decoded-content-length, streaming only
};

// Returns the secret key of `access_key`, or kNotFound.
using SecretLookup = std::function<Result<crypto::SecretBytes>(std::string_view access_key)>;

struct VerifyOptions {
  std::string region = "us-east-1";
  std::chrono::seconds max_clock_skew{15 * 60};
  std::chrono::seconds max_presign_expiry{7 * 24 * 3600};
};

// Verifies the request's signature (header or presigned query). kUnauthenticated
// (with the S3 reason) for anything that does not verify; the error message
// never contains the secret or the expected signature.
Result<Authentication> Authenticate(const RequestView& request,
                                    std::chrono::system_clock::time_point now,
                                    const SecretLookup& secrets, const VerifyOptions& options);

// True if the request carries any SigV4 credentials (header or query).
bool HasCredentials(const RequestView& request);

// Wraps the raw request body according to `auth.payload_mode`:
//   kSignedHash: passes bytes through and fails the final read with
//     XAmzContentSHA256Mismatch if the SHA-256 differs;
//   kUnsigned: passes through;
//   streaming modes: decodes aws-chunked framing, verifying each chunk
//     signature (signed modes) and the trailer signature, and fails with
//     IncompleteBody / SignatureDoesNotMatch on bad framing or signatures.
// Errors are sticky. `raw` must outlive the returned source.
class PayloadReader : public ByteSource {
 public:
  static Result<std::unique_ptr<PayloadReader>> Create(const Authentication& auth, ByteSource& raw);
  // Trailing headers (e.g. x-amz-checksum-crc32c) seen after the last chunk;
  // valid once Read has returned 0.
  virtual const std::vector<std::pair<std::string, std::string>>& trailers() const = 0;
};

// For clients and tests: computes the Authorization header value for a
// request (used by our own tests and the future gateway backend).
std::string SignRequestForTest(const RequestView& request, std::string_view access_key,
                               const crypto::SecretBytes& secret, std::string_view amz_date,
                               std::string_view region, std::string_view payload_hash);

}  // namespace strongroom::aws
