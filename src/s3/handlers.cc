// SPDX-License-Identifier: Apache-2.0
// Routing, bucket-level operations and shared request helpers.

#include "s3/handlers.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "aws/checksum.h"
#include "keys/key_ring.h"
#include "s3/errors.h"
#include "s3/object_io.h"
#include "s3/xml.h"

namespace strongroom::s3 {

// ----------------------------------------------------------------- helpers

std::string HttpDate(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string IsoTime(std::chrono::system_clock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

std::chrono::system_clock::time_point FromMs(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

std::optional<std::chrono::system_clock::time_point> ParseHttpDate(const std::string& text) {
  static constexpr const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                             "%a %b %d %H:%M:%S %Y"};
  for (const char* format : kFormats) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') {
      return std::chrono::system_clock::from_time_t(timegm(&tm));
    }
  }
  return std::nullopt;
}

http::Response XmlResponse(std::string body, int status) {
  http::Response response;
  response.status = status;
  response.body = std::move(body);
  response.headers.Set("Content-Type", "application/xml");
  return response;
}

std::string Quote(const std::string& etag) { return "\"" + etag + "\""; }

Result<size_t> ClientBodySource::Read(MutableByteView out) {
  auto n = inner_.Read(out);
  // A server shutdown stays a 503; a stalled or vanished client is a 400.
  if (!n && n.error().code() == ErrorCode::kUnavailable &&
      n.error().message().find("closed by the server") == std::string::npos) {
    bool timeout = n.error().message().find("idle timeout") != std::string::npos;
    return tl::unexpected(
        timeout ? MakeError("RequestTimeout",
                            "Your socket connection to the server was not read from or written "
                            "to within the timeout period.")
                : MakeError("IncompleteBody",
                            "You did not provide the number of bytes specified by the "
                            "Content-Length HTTP header."));
  }
  if (!n && n.error().code() == ErrorCode::kInvalidArgument && n.error().reason().empty()) {
    return tl::unexpected(MakeError("IncompleteBody", n.error().message()));
  }
  return n;
}

Result<std::unique_ptr<aws::PayloadReader>> VerifiedBody(RequestContext& context) {
  bool chunked_transfer = false;
  if (auto te = context.request.headers().Get("Transfer-Encoding")) {
    chunked_transfer = te->find("chunked") != std::string::npos;
  }
  if (!context.request.content_length() && !chunked_transfer) {
    return tl::unexpected(
        MakeError("MissingContentLength", "You must provide the Content-Length HTTP header."));
  }
  if (!context.raw_body) {
    context.raw_body = std::make_unique<ClientBodySource>(context.request.body());
  }
  return aws::PayloadReader::Create(context.auth, *context.raw_body);
}


Result<std::string> ReadSmallBody(RequestContext& context, size_t limit) {
  STRONGROOM_ASSIGN_OR_RETURN(auto body, VerifiedBody(context));
  CountedSource counted(*body, context.bytes_in);
  std::string out;
  char buffer[16384];
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(
        size_t n, counted.Read(MutableByteView(reinterpret_cast<uint8_t*>(buffer), sizeof(buffer))));
    if (n == 0) break;
    out.append(buffer, n);
    if (out.size() > limit) {
      return tl::unexpected(MakeError("MalformedXML", "The request body is too large."));
    }
  }
  return out;
}

std::set<std::string> TrailerNames(const http::Headers& headers) {
  std::set<std::string> names;
  std::string list = headers.Get("x-amz-trailer").value_or("");
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string name = list.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (!name.empty()) names.insert(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return names;
}

Result<objects::BodyChecks> BodyChecksFor(RequestContext& context, aws::PayloadReader* body) {
  objects::BodyChecks checks;
  const http::Headers& headers = context.request.headers();
  if (auto md5 = headers.Get("Content-MD5")) {
    auto raw = aws::Base64Decode(*md5);
    if (!raw || raw->size() != 16) {
      return tl::unexpected(
          MakeError("InvalidDigest", "The Content-MD5 you specified was invalid."));
    }
    checks.content_md5 = std::move(*raw);
  }
  // A checksum value in a header, or announced for the trailer.
  for (auto algorithm : {aws::ChecksumAlgorithm::kCrc32, aws::ChecksumAlgorithm::kCrc32c,
                         aws::ChecksumAlgorithm::kSha1, aws::ChecksumAlgorithm::kSha256}) {
    std::string header = aws::ChecksumHeader(algorithm);
    if (auto value = headers.Get(header)) {
      checks.checksum_algorithm = algorithm;
      std::string expected = *value;
      checks.expected_checksum = [expected] { return std::optional<std::string>(expected); };
      break;
    }
    if (TrailerNames(headers).count(header)) {
      {
        checks.checksum_algorithm = algorithm;
        checks.expected_checksum = [body, header]() -> std::optional<std::string> {
          if (body == nullptr) return std::nullopt;
          for (const auto& [name, value] : body->trailers()) {
            std::string lower_name = name;
            std::transform(lower_name.begin(), lower_name.end(), lower_name.begin(), ::tolower);
            if (lower_name == header) return value;
          }
          return std::nullopt;
        };
        break;
      }
    }
  }
  if (!checks.checksum_algorithm) {
    if (auto requested = headers.Get("x-amz-sdk-checksum-algorithm")) {
      auto algorithm = aws::ParseChecksumAlgorithm(*requested);
      if (!algorithm || *algorithm == aws::ChecksumAlgorithm::kMd5) {
        return tl::unexpected(MakeError("InvalidRequest", "Invalid checksum algorithm."));
      }
      checks.checksum_algorithm = *algorithm;
    }
  }
  return checks;
}

// ---------------------------------------------------------------- routing

namespace {

const std::set<std::string>& UnsupportedBucketSubresources() {
  static const auto* set = new std::set<std::string>{
      "accelerate", "acl",           "analytics",        "cors",
      "intelligent-tiering", "inventory", "lifecycle",   "logging",       "metrics",
      "notification", "object-lock", "ownershipControls", "policy",       "policyStatus",
      "publicAccessBlock", "replication", "requestPayment", "tagging",     "versioning",
      "versions",   "website"};
  return *set;
}

const std::set<std::string>& UnsupportedObjectSubresources() {
  static const auto* set = new std::set<std::string>{
      "acl", "attributes", "legal-hold", "restore", "retention", "select", "tagging", "torrent",
      "versionId"};
  return *set;
}

Result<http::Response> NotImplemented(const std::string& what) {
  return tl::unexpected(MakeError("NotImplemented",
                                  "A header or query you provided implies functionality that is "
                                  "not implemented: " + what));
}

}  // namespace

Result<http::Response> Dispatch(RequestContext& context) {
  const Address& address = context.address;
  if (address.bucket.empty()) {
    if (context.request.method() == "GET") {
      return ListBuckets(context);
    }
    return tl::unexpected(MakeError("MethodNotAllowed",
                                    "The specified method is not allowed against this resource."));
  }
  // Objects have no tags here; reading them answers an empty set, which
  // clients (awscli copies between buckets) read before copying.
  if (!address.key.empty() && address.Has("tagging") && context.request.method() == "GET") {
    context.operation = "GetObjectTagging";
    // Existence from the catalog: no key (SSE-C) is needed to read tags.
    catalog::ListObjectsRequest exists;
    exists.bucket = address.bucket;
    exists.prefix = address.key;
    exists.max_keys = 1;
    STRONGROOM_ASSIGN_OR_RETURN(catalog::ListObjectsPage page, context.store->ListObjects(exists));
    if (page.objects.empty() || page.objects.front().key != address.key) {
      return tl::unexpected(MakeError("NoSuchKey", "The specified key does not exist."));
    }
    XmlWriter xml("Tagging");
    xml.Begin("TagSet").End();
    return XmlResponse(xml.Finish());
  }
  const auto& unsupported =
      address.key.empty() ? UnsupportedBucketSubresources() : UnsupportedObjectSubresources();
  for (const auto& [name, value] : address.query) {
    if (unsupported.count(name)) {
      context.operation = "Unsupported";
      return NotImplemented("?" + name);
    }
  }
  if (address.key.empty()) {
    if (address.Has("encryption")) return HandleBucketEncryption(context);
    return HandleBucket(context);
  }
  if (address.Has("uploads") || address.Has("uploadId")) {
    return HandleMultipart(context);
  }
  return HandleObject(context);
}

// ---------------------------------------------------------- bucket level

Result<http::Response> ListBuckets(RequestContext& context) {
  context.operation = "ListBuckets";
  STRONGROOM_ASSIGN_OR_RETURN(auto buckets, context.store->ListBuckets());
  XmlWriter xml("ListAllMyBucketsResult");
  xml.Begin("Owner").Add("ID", context.auth.access_key).Add("DisplayName", context.auth.access_key).End();
  xml.Begin("Buckets");
  for (const auto& bucket : buckets) {
    xml.Begin("Bucket").Add("Name", bucket.name).Add("CreationDate", IsoTime(FromMs(bucket.created_ms))).End();
  }
  xml.End();
  return XmlResponse(xml.Finish());
}

namespace {

Result<size_t> ParseMax(const Address& address, const char* name, size_t fallback) {
  auto value = address.Get(name);
  if (!value) return fallback;
  char* end = nullptr;
  long long parsed = std::strtoll(value->c_str(), &end, 10);
  if (value->empty() || *end != '\0' || parsed < 0) {
    return tl::unexpected(MakeError("InvalidArgument", std::string(name) + " must be a non-negative integer"));
  }
  return std::min<size_t>(static_cast<size_t>(parsed), 1000);
}

Result<http::Response> ListObjects(RequestContext& context) {
  const Address& address = context.address;
  bool v2 = address.Get("list-type") == std::optional<std::string>("2");
  context.operation = v2 ? "ListObjectsV2" : "ListObjects";
  auto encoding = address.Get("encoding-type");
  if (encoding && *encoding != "url") {
    return tl::unexpected(MakeError("InvalidArgument", "Invalid Encoding Method specified in Request"));
  }
  bool url = encoding.has_value();
  auto enc = [&](const std::string& s) { return url ? PercentEncode(s, true) : s; };

  catalog::ListObjectsRequest request;
  request.bucket = address.bucket;
  request.prefix = address.Get("prefix").value_or("");
  request.delimiter = address.Get("delimiter").value_or("");
  STRONGROOM_ASSIGN_OR_RETURN(request.max_keys, ParseMax(address, "max-keys", 1000));
  std::string token = address.Get("continuation-token").value_or("");
  if (v2) {
    if (address.Has("continuation-token")) {
      auto decoded = aws::Base64Decode(token);
      if (!decoded || token.empty()) {
        return tl::unexpected(MakeError("InvalidArgument", "The continuation token provided is incorrect"));
      }
      request.start_after = std::string(AsChars(*decoded));
    } else {
      request.start_after = address.Get("start-after").value_or("");
    }
  } else {
    request.start_after = address.Get("marker").value_or("");
  }
  STRONGROOM_ASSIGN_OR_RETURN(catalog::ListObjectsPage page, context.store->ListObjects(request));

  XmlWriter xml("ListBucketResult");
  xml.Add("Name", address.bucket).Add("Prefix", enc(request.prefix));
  if (v2) {
    if (address.Has("continuation-token")) xml.Add("ContinuationToken", token);
    if (address.Has("start-after")) xml.Add("StartAfter", enc(address.Get("start-after").value_or("")));
    xml.Add("KeyCount", std::to_string(page.objects.size() + page.common_prefixes.size()));
  } else {
    xml.Add("Marker", enc(request.start_after));
  }
  xml.Add("MaxKeys", std::to_string(request.max_keys));
  if (!request.delimiter.empty()) xml.Add("Delimiter", enc(request.delimiter));
  if (url) xml.Add("EncodingType", "url");
  xml.Add("IsTruncated", page.is_truncated ? "true" : "false");
  if (page.is_truncated) {
    if (v2) {
      xml.Add("NextContinuationToken", aws::Base64Encode(AsBytes(page.next_start_after)));
    } else {
      xml.Add("NextMarker", enc(page.next_start_after));
    }
  }
  bool owner = !v2 || address.Get("fetch-owner") == std::optional<std::string>("true");
  // Objects whose KMS key was destroyed are listed (their catalog rows stay)
  // but can never be read again: say so with an extension element SDKs
  // ignore. One key-state lookup per distinct key in the page.
  std::map<std::string, bool> shredded_keys;
  auto shredded = [&](const std::string& kek_ref) {
    const std::string prefix = std::string(keys::kRootProvider) + ":";
    if (context.key_directory == nullptr || !kek_ref.starts_with(prefix)) return false;
    std::string key_id = kek_ref.substr(prefix.size(), kek_ref.rfind('/') - prefix.size());
    auto [it, inserted] = shredded_keys.try_emplace(key_id, false);
    if (inserted) {
      auto key = context.key_directory->Get(key_id);
      it->second = key && key->state == keys::KeyState::kDestroyed;
    }
    return it->second;
  };
  for (const auto& object : page.objects) {
    xml.Begin("Contents")
        .Add("Key", enc(object.key))
        .Add("LastModified", IsoTime(FromMs(object.last_modified_ms)))
        .Add("ETag", Quote(object.etag))
        .Add("Size", std::to_string(object.size))
        .Add("StorageClass", "STANDARD");
    if (owner) {
      xml.Begin("Owner").Add("ID", object.owner).Add("DisplayName", object.owner).End();
    }
    if (shredded(object.kek_ref)) {
      xml.Add("StrongroomShredded", "true");
    }
    xml.End();
  }
  for (const auto& prefix : page.common_prefixes) {
    xml.Begin("CommonPrefixes").Add("Prefix", enc(prefix)).End();
  }
  return XmlResponse(xml.Finish());
}

Result<http::Response> ListUploads(RequestContext& context) {
  context.operation = "ListMultipartUploads";
  const Address& address = context.address;
  catalog::ListUploadsRequest request;
  request.bucket = address.bucket;
  request.prefix = address.Get("prefix").value_or("");
  request.delimiter = address.Get("delimiter").value_or("");
  request.key_marker = address.Get("key-marker").value_or("");
  request.upload_id_marker = address.Get("upload-id-marker").value_or("");
  STRONGROOM_ASSIGN_OR_RETURN(request.max_uploads, ParseMax(address, "max-uploads", 1000));
  bool url = address.Get("encoding-type") == std::optional<std::string>("url");
  auto enc = [&](const std::string& s) { return url ? PercentEncode(s, true) : s; };
  STRONGROOM_ASSIGN_OR_RETURN(catalog::ListUploadsPage page, context.store->ListUploads(request));
  XmlWriter xml("ListMultipartUploadsResult");
  xml.Add("Bucket", address.bucket)
      .Add("KeyMarker", enc(request.key_marker))
      .Add("UploadIdMarker", request.upload_id_marker)
      .Add("NextKeyMarker", enc(page.next_key_marker))
      .Add("NextUploadIdMarker", page.next_upload_id_marker)
      .Add("MaxUploads", std::to_string(request.max_uploads))
      .Add("IsTruncated", page.is_truncated ? "true" : "false");
  if (!request.prefix.empty()) xml.Add("Prefix", enc(request.prefix));
  if (!request.delimiter.empty()) xml.Add("Delimiter", enc(request.delimiter));
  if (url) xml.Add("EncodingType", "url");
  for (const auto& upload : page.uploads) {
    xml.Begin("Upload")
        .Add("Key", enc(upload.key))
        .Add("UploadId", upload.upload_id)
        .Begin("Initiator").Add("ID", upload.owner).Add("DisplayName", upload.owner).End()
        .Begin("Owner").Add("ID", upload.owner).Add("DisplayName", upload.owner).End()
        .Add("StorageClass", "STANDARD")
        .Add("Initiated", IsoTime(FromMs(upload.initiated_ms)))
        .End();
  }
  for (const auto& prefix : page.common_prefixes) {
    xml.Begin("CommonPrefixes").Add("Prefix", enc(prefix)).End();
  }
  return XmlResponse(xml.Finish());
}

Result<http::Response> DeleteObjects(RequestContext& context) {
  context.operation = "DeleteObjects";
  const http::Headers& headers = context.request.headers();
  bool has_digest = headers.Has("Content-MD5");
  for (auto algorithm : {aws::ChecksumAlgorithm::kCrc32, aws::ChecksumAlgorithm::kCrc32c,
                         aws::ChecksumAlgorithm::kSha1, aws::ChecksumAlgorithm::kSha256}) {
    has_digest = has_digest || headers.Has(aws::ChecksumHeader(algorithm)) ||
                 TrailerNames(headers).count(aws::ChecksumHeader(algorithm)) > 0;
  }
  STRONGROOM_ASSIGN_OR_RETURN(std::string body, ReadSmallBody(context, 2 << 20));
  if (!has_digest) {
    return tl::unexpected(MakeError(
        "InvalidRequest", "Missing required header for this request: Content-MD5"));
  }
  if (auto md5 = headers.Get("Content-MD5")) {
    auto raw = aws::Base64Decode(*md5);
    STRONGROOM_ASSIGN_OR_RETURN(auto digest, aws::Checksum::Create(aws::ChecksumAlgorithm::kMd5));
    digest->Update(AsBytes(body));
    if (!raw || *raw != digest->Finish()) {
      return tl::unexpected(MakeError("BadDigest", "The Content-MD5 you specified did not match what we received."));
    }
  }
  STRONGROOM_ASSIGN_OR_RETURN(XmlElement root, ParseXml(body));
  if (root.name != "Delete") {
    return tl::unexpected(MakeError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"));
  }
  bool quiet = false;
  if (const XmlElement* q = root.Child("Quiet")) quiet = q->text == "true";
  std::vector<std::string> keys;
  for (const XmlElement& child : root.children) {
    if (child.name != "Object") continue;
    const XmlElement* key = child.Child("Key");
    if (key == nullptr) {
      return tl::unexpected(MakeError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"));
    }
    keys.push_back(key->text);
  }
  if (keys.empty() || keys.size() > 1000) {
    return tl::unexpected(MakeError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"));
  }
  STRONGROOM_RETURN_IF_ERROR(context.store->HeadBucket(context.address.bucket));
  XmlWriter xml("DeleteResult");
  for (const std::string& key : keys) {
    auto deleted = context.store->DeleteObject(context.address.bucket, key);
    if (deleted) {
      if (!quiet) xml.Begin("Deleted").Add("Key", key).End();
    } else {
      S3Error error = ToS3Error(deleted.error());
      xml.Begin("Error").Add("Key", key).Add("Code", error.code).Add("Message", error.message).End();
    }
  }
  return XmlResponse(xml.Finish());
}

}  // namespace

Result<http::Response> HandleBucket(RequestContext& context) {
  const std::string& method = context.request.method();
  const Address& address = context.address;
  if (method == "PUT") {
    context.operation = "CreateBucket";
    // An optional CreateBucketConfiguration names the region.
    if (context.request.content_length().value_or(0) > 0) {
      STRONGROOM_ASSIGN_OR_RETURN(std::string body, ReadSmallBody(context, 64 << 10));
      if (!body.empty()) {
        STRONGROOM_ASSIGN_OR_RETURN(XmlElement root, ParseXml(body));
        const XmlElement* location = root.Child("LocationConstraint");
        if (root.name != "CreateBucketConfiguration") {
          return tl::unexpected(MakeError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema"));
        }
        if (location != nullptr && !location->text.empty() && location->text != context.region) {
          return tl::unexpected(MakeError(
              "InvalidLocationConstraint",
              "The specified location-constraint is not valid for this server's region " +
                  context.region));
        }
      }
    }
    auto created = context.store->CreateBucket(address.bucket, context.auth.access_key);
    // us-east-1 answers 200 when the caller already owns the bucket (legacy
    // behaviour clients rely on); other regions answer 409.
    if (!created && !(created.error().reason() == "BucketAlreadyOwnedByYou" &&
                      context.region == "us-east-1")) {
      return tl::unexpected(created.error());
    }
    http::Response response;
    response.headers.Set("Location", "/" + address.bucket);
    return response;
  }
  if (method == "DELETE") {
    context.operation = "DeleteBucket";
    STRONGROOM_RETURN_IF_ERROR(context.store->DeleteBucket(address.bucket));
    http::Response response;
    response.status = 204;
    return response;
  }
  if (method == "HEAD") {
    context.operation = "HeadBucket";
    STRONGROOM_RETURN_IF_ERROR(context.store->HeadBucket(address.bucket));
    http::Response response;
    response.headers.Set("x-amz-bucket-region", context.region);
    response.omit_body = true;
    return response;
  }
  if (method == "GET") {
    if (address.Has("location")) {
      context.operation = "GetBucketLocation";
      STRONGROOM_RETURN_IF_ERROR(context.store->HeadBucket(address.bucket));
      XmlWriter xml("LocationConstraint");
      // AWS answers an empty constraint for us-east-1.
      if (context.region != "us-east-1") {
        return XmlResponse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                           "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" +
                           context.region + "</LocationConstraint>");
      }
      return XmlResponse(xml.Finish());
    }
    if (address.Has("uploads")) {
      return ListUploads(context);
    }
    for (const auto& [name, value] : address.query) {
      static const std::set<std::string> kListParameters = {
          "list-type", "prefix", "delimiter", "max-keys", "marker", "continuation-token",
          "start-after", "fetch-owner", "encoding-type", "x-id"};
      if (!kListParameters.count(name) && name.rfind("X-Amz-", 0) != 0) {
        context.operation = "Unsupported";
        return NotImplemented("?" + name);
      }
    }
    return ListObjects(context);
  }
  if (method == "POST" && address.Has("delete")) {
    return DeleteObjects(context);
  }
  return tl::unexpected(MakeError("MethodNotAllowed",
                                  "The specified method is not allowed against this resource."));
}

}  // namespace strongroom::s3
