// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internal to s3/: the per-request context and the operation handlers.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "aws/sigv4.h"
#include "http/server.h"
#include "keys/key_directory.h"
#include "objects/object_store.h"
#include "s3/request.h"
#include "s3/sse.h"
#include "s3/users.h"

namespace strongroom::s3 {

struct RequestContext {
  RequestContext(http::Request& r, std::string id) : request(r), request_id(std::move(id)) {}
  http::Request& request;
  std::string request_id;
  objects::ObjectStore* store = nullptr;
  keys::KeyDirectory* key_directory = nullptr;  // null: SSE-KMS is refused
  UserDirectory* users = nullptr;
  std::string region;
  bool allow_insecure_sse_on_loopback = false;
  // Called when stored data fails authentication after the response
  // headers went out (the connection is then cut).
  std::function<void(const Error&)> on_integrity_failure;
  Address address;
  aws::Authentication auth;
  std::string operation;  // for metrics and logs, e.g. "PutObject"
  uint64_t bytes_in = 0;
  std::unique_ptr<ByteSource> raw_body;  // the request body with S3 error mapping
  // SSE-C keys the request carried (objects:: requests point at them).
  std::optional<objects::CustomerKey> customer_key;         // x-amz-server-side-encryption-customer-*
  std::optional<objects::CustomerKey> source_customer_key;  // x-amz-copy-source-...-customer-*
  std::optional<bool> is_admin;                             // cached UserDirectory::IsAdmin
};

// The client's body: a client that stops sending mid-body is the client's
// error (400 IncompleteBody or RequestTimeout, as S3 answers), not a 503
// that SDKs would retry.
class ClientBodySource : public ByteSource {
 public:
  explicit ClientBodySource(ByteSource& inner) : inner_(inner) {}
  Result<size_t> Read(MutableByteView out) override;

 private:
  ByteSource& inner_;
};

// Names listed in x-amz-trailer, lowercased.
std::set<std::string> TrailerNames(const http::Headers& headers);

// Routes an authenticated request to its operation.
Result<http::Response> Dispatch(RequestContext& context);

// Operations by resource level.
Result<http::Response> ListBuckets(RequestContext& context);
Result<http::Response> HandleBucket(RequestContext& context);
Result<http::Response> HandleObject(RequestContext& context);
Result<http::Response> HandleMultipart(RequestContext& context);

// The request body with SigV4 payload verification applied, counted into
// context.bytes_in. Fails with MissingContentLength if the request has no
// length. The returned reader's trailers() hold trailing checksums.
Result<std::unique_ptr<aws::PayloadReader>> VerifiedBody(RequestContext& context);
// Reads a small body (XML) completely; kInvalidArgument past `limit`.
Result<std::string> ReadSmallBody(RequestContext& context, size_t limit);
// Checks from the request headers: Content-MD5 and flexible checksums.
Result<objects::BodyChecks> BodyChecksFor(RequestContext& context, aws::PayloadReader* body);

// "Tue, 15 Nov 1994 08:12:31 GMT" and "2009-10-12T17:50:30.000Z".
std::string HttpDate(std::chrono::system_clock::time_point time);
std::string IsoTime(std::chrono::system_clock::time_point time);
std::chrono::system_clock::time_point FromMs(int64_t ms);
// Parses an HTTP date (RFC 1123, RFC 850 or asctime); nullopt if invalid.
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(const std::string& text);

http::Response XmlResponse(std::string body, int status = 200);

// Server-side encryption (encryption_handlers.cc).
// The TLS rule for SSE-C and SSE-KMS headers (sse.h CheckSecureTransport).
Result<void> CheckSseTransport(RequestContext& context);
// The encryption of a write to `bucket`: the request's SSE headers (SSE-C
// keys parsed into context.customer_key), else the bucket default; KMS keys
// resolved, their state and the caller's grant checked; SSE-C refused with
// 403 where the bucket blocks it. The result points into `context`.
Result<objects::EncryptionRequest> ResolveWriteEncryption(RequestContext& context,
                                                          const std::string& bucket);
// Read access with `customer_key` (may be null) and the caller's KMS grants.
objects::ReadAccess ReadAccessFor(RequestContext& context,
                                  const objects::CustomerKey* customer_key);
// Opens a copy source (CopyObject, UploadPartCopy) with the copy-source
// SSE-C key, if any. A wrong key is 400 InvalidRequest here ("did not match
// the ones used originally"), where GET answers 403.
Result<std::unique_ptr<objects::ObjectReader>> OpenCopySource(
    RequestContext& context, const std::pair<std::string, std::string>& source);
// Get/Put/DeleteBucketEncryption.
Result<http::Response> HandleBucketEncryption(RequestContext& context);

// Copy-source helpers shared by CopyObject and UploadPartCopy.
Result<std::pair<std::string, std::string>> ParseCopySourceHeader(const std::string& header);
Result<void> CheckCopySourceConditions(const http::Headers& headers,
                                       const objects::ObjectInfo& info);
// Content headers and x-amz-meta-* of a request; rejects unsupported ones.
Result<objects::Attributes> RequestAttributes(const http::Headers& headers);
std::string Quote(const std::string& etag);

}  // namespace strongroom::s3
