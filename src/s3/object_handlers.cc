// SPDX-License-Identifier: Apache-2.0
// Object-level operations: PutObject, CopyObject, GetObject, HeadObject,
// DeleteObject.

#include <algorithm>
#include <cstring>

#include "s3/errors.h"
#include "s3/handlers.h"
#include "s3/object_io.h"
#include "s3/sse.h"
#include "s3/xml.h"

namespace strongroom::s3 {
namespace {

// How much of a GET body is read (and so authenticated) before the
// response headers are sent: four 16 KiB chunks.
constexpr uint64_t kPrefetchBytes = 64 << 10;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

// Conditional headers of GET/HEAD (RFC 9110 §13.2.2 order, as S3 applies it).
Result<void> CheckConditions(const http::Headers& headers, const objects::ObjectInfo& info,
                             const std::string& prefix, bool copy_source) {
  auto header = [&](const char* name) { return headers.Get(prefix + name); };
  auto etag_matches = [&](const std::string& list) {
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (item.rfind("W/", 0) == 0) item = item.substr(2);
      if (item == "*" || item == Quote(info.etag) || item == info.etag) return true;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return false;
  };
  auto modified = std::chrono::time_point_cast<std::chrono::seconds>(FromMs(info.last_modified_ms));
  auto if_match = header("If-Match");
  auto if_unmodified = header("If-Unmodified-Since");
  auto if_none_match = header("If-None-Match");
  auto if_modified = header("If-Modified-Since");
  auto failed = [] {
    return tl::unexpected(MakeError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"));
  };
  auto not_modified = [&]() -> Result<void> {
    if (copy_source) return failed();
    return tl::unexpected(MakeError("NotModified", "Not Modified"));
  };
  if (if_match) {
    if (!etag_matches(*if_match)) return failed();
  } else if (if_unmodified) {
    auto since = ParseHttpDate(*if_unmodified);
    if (since && modified > *since) return failed();
  }
  if (if_none_match) {
    if (etag_matches(*if_none_match)) return not_modified();
  } else if (if_modified) {
    auto since = ParseHttpDate(*if_modified);
    if (since && modified <= *since) return not_modified();
  }
  return Ok();
}

// System and user metadata from request headers (S3: 2 KB of user metadata).
Result<objects::Attributes> AttributesFrom(const http::Headers& headers) {
  objects::Attributes attributes;
  static constexpr const char* kContent[] = {"Content-Type", "Content-Encoding",
                                             "Content-Disposition", "Content-Language",
                                             "Cache-Control", "Expires"};
  for (const char* name : kContent) {
    if (auto value = headers.Get(name)) {
      std::string v = *value;
      // aws-chunked is transfer framing, not a content coding of the object.
      if (std::strcmp(name, "Content-Encoding") == 0) {
        std::string lower = Lower(v);
        if (lower == "aws-chunked") continue;
        if (lower.rfind("aws-chunked,", 0) == 0) v = v.substr(v.find(',') + 1);
        v.erase(0, v.find_first_not_of(' '));
      }
      attributes.emplace_back(name, v);
    }
  }
  size_t user_bytes = 0;
  for (const auto& [name, value] : headers.all()) {
    std::string lower = Lower(name);
    if (lower.rfind("x-amz-meta-", 0) == 0) {
      user_bytes += lower.size() - 11 + value.size();
      attributes.emplace_back(lower, value);
    }
  }
  if (user_bytes > 2048) {
    return tl::unexpected(MakeError("MetadataTooLarge",
                                    "Your metadata headers exceed the maximum allowed metadata size."));
  }
  return attributes;
}

Result<void> CheckUnsupportedHeaders(const http::Headers& headers) {
  if (auto storage = headers.Get("x-amz-storage-class"); storage && *storage != "STANDARD") {
    return tl::unexpected(MakeError("NotImplemented", "Only the STANDARD storage class exists"));
  }
  if (headers.Has("x-amz-tagging") || headers.Has("x-amz-object-lock-mode") ||
      headers.Has("x-amz-website-redirect-location")) {
    return tl::unexpected(MakeError("NotImplemented", "Tagging, object lock and website redirects are not implemented"));
  }
  return Ok();
}

void AddObjectHeaders(http::Response& response, const objects::ObjectInfo& info,
                      bool with_checksums, const std::string& region,
                      const objects::CustomerKey* customer_key) {
  response.headers.Set("ETag", Quote(info.etag));
  response.headers.Set("Last-Modified", HttpDate(FromMs(info.last_modified_ms)));
  response.headers.Set("Accept-Ranges", "bytes");
  AddEncryptionHeaders(response.headers, info.encryption, region, customer_key,
                       /*with_context=*/false);
  bool has_type = false;
  for (const auto& [name, value] : info.attributes) {
    if (name.rfind("x-amz-checksum-", 0) == 0) {
      if (with_checksums) response.headers.Set(name, value);
      continue;
    }
    has_type = has_type || name == "Content-Type";
    response.headers.Set(name, value);
  }
  if (!has_type) {
    response.headers.Set("Content-Type", "binary/octet-stream");
  }
}

struct Range {
  uint64_t first = 0;
  uint64_t length = 0;
};

// Parses a single byte range; nullopt for an absent or syntactically
// invalid header (served as a full 200, as S3 does), an error for an
// unsatisfiable one.
Result<std::optional<Range>> ParseRange(const std::optional<std::string>& header, uint64_t size) {
  if (!header || header->rfind("bytes=", 0) != 0) return std::optional<Range>();
  std::string spec = header->substr(6);
  if (spec.find(',') != std::string::npos) return std::optional<Range>();
  auto dash = spec.find('-');
  if (dash == std::string::npos) return std::optional<Range>();
  std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto number = [](const std::string& s) -> std::optional<uint64_t> {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19) return std::nullopt;
    return std::stoull(s);
  };
  auto unsatisfiable = [&] {
    return tl::unexpected(MakeError("InvalidRange", "The requested range is not satisfiable"));
  };
  if (a.empty()) {
    auto suffix = number(b);
    if (!suffix) return std::optional<Range>();
    if (*suffix == 0) return unsatisfiable();
    uint64_t n = std::min(*suffix, size);
    if (size == 0) return unsatisfiable();
    return std::optional<Range>(Range{size - n, n});
  }
  auto first = number(a);
  if (!first) return std::optional<Range>();
  std::optional<uint64_t> last = b.empty() ? std::optional<uint64_t>(UINT64_MAX) : number(b);
  if (!last || *last < *first) return std::optional<Range>();
  if (*first >= size) return unsatisfiable();
  uint64_t end = std::min(*last, size - 1);
  return std::optional<Range>(Range{*first, end - *first + 1});
}

// GET/HEAD ?partNumber=N: the N-th part of a multipart object (in part
// order), or the whole of a single-part object for N = 1.
Result<uint32_t> ReadPartNumber(const Address& address) {
  std::string text = address.Get("partNumber").value_or("");
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(text) < 1 || std::stoul(text) > 10000) {
    return tl::unexpected(MakeError("InvalidArgument",
                                    "Part number must be an integer between 1 and 10000, inclusive"));
  }
  return static_cast<uint32_t>(std::stoul(text));
}

Result<Range> PartRange(const objects::ObjectInfo& info, uint32_t part_number) {
  if (info.part_sizes.empty()) {
    if (part_number == 1) return Range{0, info.size};
  } else if (part_number <= info.part_sizes.size()) {
    uint64_t first = 0;
    for (uint32_t i = 0; i + 1 < part_number; ++i) first += info.part_sizes[i];
    return Range{first, info.part_sizes[part_number - 1]};
  }
  return tl::unexpected(
      MakeError("InvalidPartNumber", "The requested partnumber is not satisfiable"));
}

Result<http::Response> GetOrHead(RequestContext& context, bool head) {
  context.operation = head ? "HeadObject" : "GetObject";
  const Address& address = context.address;
  const http::Headers& headers = context.request.headers();
  STRONGROOM_RETURN_IF_ERROR(CheckSseTransport(context));
  STRONGROOM_RETURN_IF_ERROR(CheckUnsupportedHeaders(headers));
  std::optional<uint32_t> part_number;
  if (address.Has("partNumber")) {
    STRONGROOM_ASSIGN_OR_RETURN(part_number, ReadPartNumber(address));
    if (headers.Has("Range")) {
      return tl::unexpected(MakeError(
          "InvalidRequest", "Cannot specify both Range header and partNumber query parameter"));
    }
  }
  STRONGROOM_ASSIGN_OR_RETURN(context.customer_key,
                              ParseCustomerKey(headers, KeyGroup::kObject, KeyUse::kRead));
  const objects::CustomerKey* customer_key =
      context.customer_key ? &*context.customer_key : nullptr;
  objects::ReadAccess access = ReadAccessFor(context, customer_key);
  http::Response response;
  response.omit_body = head;
  std::unique_ptr<objects::ObjectReader> reader;
  objects::ObjectInfo info;
  if (head) {
    STRONGROOM_ASSIGN_OR_RETURN(info, context.store->HeadObject(address.bucket, address.key, access));
  } else {
    STRONGROOM_ASSIGN_OR_RETURN(reader,
                                context.store->OpenObject(address.bucket, address.key, access));
    info = reader->info();
  }
  auto conditions = CheckConditions(headers, info, "", false);
  if (!conditions) {
    if (conditions.error().reason() == "NotModified") {
      http::Response not_modified;
      not_modified.status = 304;
      not_modified.omit_body = true;
      not_modified.headers.Set("ETag", Quote(info.etag));
      not_modified.headers.Set("Last-Modified", HttpDate(FromMs(info.last_modified_ms)));
      return not_modified;
    }
    return tl::unexpected(conditions.error());
  }
  bool checksums = Lower(headers.Get("x-amz-checksum-mode").value_or("")) == "enabled";
  Result<std::optional<Range>> range = std::optional<Range>();
  if (part_number) {
    STRONGROOM_ASSIGN_OR_RETURN(Range part, PartRange(info, *part_number));
    range = std::optional<Range>(part);
  } else {
    range = ParseRange(headers.Get("Range"), info.size);
  }
  if (!range) {
    // 416 carries the object size, which an Error cannot; build it here.
    S3Error s3 = ToS3Error(range.error());
    http::Response error;
    error.status = s3.status;
    error.headers.Set("Content-Range", "bytes */" + std::to_string(info.size));
    error.headers.Set("Content-Type", "application/xml");
    error.body = ErrorXml(s3, address.raw_path, context.request_id);
    return error;
  }
  AddObjectHeaders(response, info, checksums && !*range, context.region, customer_key);
  // As AWS: the part count comes with part-number requests only.
  if (part_number && info.parts_count > 0) {
    response.headers.Set("x-amz-mp-parts-count", std::to_string(info.parts_count));
  }
  // response-* overrides (S3 honours them on signed requests).
  static constexpr std::pair<const char*, const char*> kOverrides[] = {
      {"response-content-type", "Content-Type"},
      {"response-content-language", "Content-Language"},
      {"response-expires", "Expires"},
      {"response-cache-control", "Cache-Control"},
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"}};
  for (const auto& [parameter, header] : kOverrides) {
    if (auto value = address.Get(parameter)) response.headers.Set(header, *value);
  }
  uint64_t first = 0, length = info.size;
  if (*range) {
    first = (*range)->first;
    length = (*range)->length;
    // An empty part (or part 1 of an empty object) has no byte range to
    // name, and a 206 must name one: it is served as a plain 200.
    if (length > 0) {
      response.status = 206;
      response.headers.Set("Content-Range", "bytes " + std::to_string(first) + "-" +
                                                std::to_string(first + length - 1) + "/" +
                                                std::to_string(info.size));
    }
  }
  response.content_length = length;
  if (head) {
    response.headers.Set("Content-Length", std::to_string(length));
    return response;
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto source, reader->NewRangeSource(first, length));
  auto body = std::make_unique<ObjectBodySource>(std::move(reader), std::move(source),
                                                 context.on_integrity_failure);
  // The first piece is verified before the headers go out: a blob that
  // fails authentication there is a 500, not a cut connection.
  STRONGROOM_RETURN_IF_ERROR(body->Prefetch(std::min<uint64_t>(length, kPrefetchBytes)));
  response.body_source = std::move(body);
  return response;
}

// "/bucket/key?versionId=x" or "bucket/key", URL-encoded.
Result<std::pair<std::string, std::string>> ParseCopySource(const std::string& header) {
  std::string value = header.substr(0, header.find('?'));
  STRONGROOM_ASSIGN_OR_RETURN(std::string decoded, PercentDecode(value, false));
  if (!decoded.empty() && decoded[0] == '/') decoded = decoded.substr(1);
  auto slash = decoded.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == decoded.size()) {
    return tl::unexpected(MakeError("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey"));
  }
  if (header.find("?versionId=") != std::string::npos) {
    return tl::unexpected(MakeError("NotImplemented", "Versioning is not implemented"));
  }
  return std::make_pair(decoded.substr(0, slash), decoded.substr(slash + 1));
}

Result<http::Response> Copy(RequestContext& context, const std::string& copy_source) {
  context.operation = "CopyObject";
  const Address& address = context.address;
  const http::Headers& headers = context.request.headers();
  STRONGROOM_ASSIGN_OR_RETURN(auto source_name, ParseCopySource(copy_source));
  // AWS validates the copy source's SSE-C headers before the destination's.
  STRONGROOM_ASSIGN_OR_RETURN(context.source_customer_key,
                              ParseCustomerKey(headers, KeyGroup::kCopySource, KeyUse::kRead));
  std::string directive = headers.Get("x-amz-metadata-directive").value_or("COPY");
  if (directive != "COPY" && directive != "REPLACE") {
    return tl::unexpected(MakeError("InvalidArgument", "Unknown metadata directive."));
  }
  STRONGROOM_RETURN_IF_ERROR(objects::ValidateObjectKey(address.key));
  objects::WriteRequest write;
  write.bucket = address.bucket;
  write.key = address.key;
  write.owner = context.auth.access_key;
  write.principal = context.auth.access_key;
  STRONGROOM_ASSIGN_OR_RETURN(write.encryption, ResolveWriteEncryption(context, address.bucket));
  // A copy onto itself must change something: the metadata (REPLACE) or
  // the encryption (any SSE or SSE-C header for the destination).
  bool same = source_name.first == address.bucket && source_name.second == address.key;
  bool changes_encryption = context.customer_key.has_value() ||
                            headers.Has(std::string(kSseHeader)) ||
                            headers.Has(std::string(kSseKmsKeyIdHeader)) ||
                            headers.Has(std::string(kSseContextHeader)) ||
                            headers.Has(std::string(kSseBucketKeyHeader));
  if (same && directive == "COPY" && !changes_encryption) {
    return tl::unexpected(MakeError(
        "InvalidRequest",
        "This copy request is illegal because it is trying to copy an object to itself without "
        "changing the object's metadata, storage class, website redirect location or encryption "
        "attributes."));
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto source, OpenCopySource(context, source_name));
  STRONGROOM_RETURN_IF_ERROR(CheckConditions(headers, source->info(), "x-amz-copy-source-", true));
  if (directive == "REPLACE") {
    STRONGROOM_ASSIGN_OR_RETURN(write.attributes, AttributesFrom(headers));
  } else {
    for (const auto& attribute : source->info().attributes) {
      if (attribute.first.rfind("x-amz-checksum-", 0) != 0) write.attributes.push_back(attribute);
    }
  }
  // Drain the (empty) request body so the connection stays usable.
  if (context.request.content_length().value_or(0) > 0) {
    STRONGROOM_RETURN_IF_ERROR(ReadSmallBody(context, 0));
  }
  STRONGROOM_ASSIGN_OR_RETURN(objects::ObjectInfo info, context.store->CopyObject(*source, write));
  XmlWriter xml("CopyObjectResult");
  xml.Add("LastModified", IsoTime(FromMs(info.last_modified_ms))).Add("ETag", Quote(info.etag));
  http::Response response = XmlResponse(xml.Finish());
  AddEncryptionHeaders(response.headers, info.encryption, context.region,
                       write.encryption.customer_key, /*with_context=*/true);
  return response;
}

Result<http::Response> Put(RequestContext& context) {
  const Address& address = context.address;
  const http::Headers& headers = context.request.headers();
  auto copy_source = headers.Get("x-amz-copy-source");
  context.operation = copy_source ? "CopyObject" : "PutObject";
  STRONGROOM_RETURN_IF_ERROR(CheckSseTransport(context));
  STRONGROOM_RETURN_IF_ERROR(CheckUnsupportedHeaders(headers));
  if (copy_source) {
    return Copy(context, *copy_source);
  }
  STRONGROOM_RETURN_IF_ERROR(objects::ValidateObjectKey(address.key));
  objects::WriteRequest write;
  write.bucket = address.bucket;
  write.key = address.key;
  write.owner = context.auth.access_key;
  write.principal = context.auth.access_key;
  STRONGROOM_ASSIGN_OR_RETURN(write.attributes, AttributesFrom(headers));
  STRONGROOM_ASSIGN_OR_RETURN(auto body, VerifiedBody(context));
  STRONGROOM_ASSIGN_OR_RETURN(write.checks, BodyChecksFor(context, body.get()));
  STRONGROOM_ASSIGN_OR_RETURN(write.encryption, ResolveWriteEncryption(context, address.bucket));
  CountedSource counted(*body, context.bytes_in);
  STRONGROOM_ASSIGN_OR_RETURN(objects::ObjectInfo info, context.store->PutObject(write, counted));
  http::Response response;
  response.headers.Set("ETag", Quote(info.etag));
  AddEncryptionHeaders(response.headers, info.encryption, context.region,
                       write.encryption.customer_key, /*with_context=*/true);
  for (const auto& [name, value] : info.attributes) {
    if (name.rfind("x-amz-checksum-", 0) == 0) response.headers.Set(name, value);
  }
  return response;
}

}  // namespace

Result<http::Response> HandleObject(RequestContext& context) {
  const std::string& method = context.request.method();
  if (method == "GET") return GetOrHead(context, false);
  if (method == "HEAD") return GetOrHead(context, true);
  if (method == "PUT") return Put(context);
  if (method == "DELETE") {
    context.operation = "DeleteObject";
    STRONGROOM_RETURN_IF_ERROR(
        context.store->DeleteObject(context.address.bucket, context.address.key));
    http::Response response;
    response.status = 204;
    return response;
  }
  return tl::unexpected(MakeError("MethodNotAllowed",
                                  "The specified method is not allowed against this resource."));
}

// Shared with multipart: the copy-source helpers.
Result<std::pair<std::string, std::string>> ParseCopySourceHeader(const std::string& header) {
  return ParseCopySource(header);
}
Result<void> CheckCopySourceConditions(const http::Headers& headers,
                                       const objects::ObjectInfo& info) {
  return CheckConditions(headers, info, "x-amz-copy-source-", true);
}
Result<objects::Attributes> RequestAttributes(const http::Headers& headers) {
  STRONGROOM_RETURN_IF_ERROR(CheckUnsupportedHeaders(headers));
  return AttributesFrom(headers);
}

}  // namespace strongroom::s3
