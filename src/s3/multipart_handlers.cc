// SPDX-License-Identifier: Apache-2.0
// Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort,
// ListParts.

#include <cstdlib>

#include "s3/errors.h"
#include "s3/handlers.h"
#include "s3/object_io.h"
#include "s3/sse.h"
#include "s3/xml.h"

namespace strongroom::s3 {
namespace {

Result<uint32_t> PartNumber(const Address& address) {
  std::string text = address.Get("partNumber").value_or("");
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < 1 || value > 10000) {
    return tl::unexpected(
        MakeError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive"));
  }
  return static_cast<uint32_t>(value);
}

// UploadPart's response: the upload's encryption, as AWS echoes it.
Result<void> AddUploadEncryptionHeaders(RequestContext& context, http::Response& response,
                                        const std::string& upload_id,
                                        const objects::CustomerKey* customer_key) {
  STRONGROOM_ASSIGN_OR_RETURN(
      objects::ObjectEncryption encryption,
      context.store->UploadEncryption(upload_id, context.address.bucket, context.address.key));
  AddEncryptionHeaders(response.headers, encryption, context.region, customer_key,
                       /*with_context=*/false);
  return Ok();
}

Result<http::Response> Create(RequestContext& context) {
  context.operation = "CreateMultipartUpload";
  const Address& address = context.address;
  STRONGROOM_RETURN_IF_ERROR(CheckSseTransport(context));
  objects::WriteRequest write;
  write.bucket = address.bucket;
  write.key = address.key;
  write.owner = context.auth.access_key;
  write.principal = context.auth.access_key;
  STRONGROOM_ASSIGN_OR_RETURN(write.attributes, RequestAttributes(context.request.headers()));
  STRONGROOM_ASSIGN_OR_RETURN(write.encryption, ResolveWriteEncryption(context, address.bucket));
  STRONGROOM_ASSIGN_OR_RETURN(catalog::Upload upload, context.store->CreateUpload(write));
  XmlWriter xml("InitiateMultipartUploadResult");
  xml.Add("Bucket", address.bucket).Add("Key", address.key).Add("UploadId", upload.upload_id);
  http::Response response = XmlResponse(xml.Finish());
  objects::ObjectEncryption facts;
  facts.mode = write.encryption.mode;
  facts.kms_key_id = write.encryption.kms_key_id;
  facts.kms_context = write.encryption.kms_context;
  facts.bucket_key_enabled = write.encryption.bucket_key_enabled;
  AddEncryptionHeaders(response.headers, facts, context.region, write.encryption.customer_key,
                       /*with_context=*/true);
  return response;
}

Result<http::Response> UploadPartCopy(RequestContext& context, const std::string& copy_source,
                                      uint32_t part_number, const std::string& upload_id) {
  context.operation = "UploadPartCopy";
  const Address& address = context.address;
  const http::Headers& headers = context.request.headers();
  STRONGROOM_ASSIGN_OR_RETURN(auto source_name, ParseCopySourceHeader(copy_source));
  STRONGROOM_ASSIGN_OR_RETURN(context.source_customer_key,
                              ParseCustomerKey(headers, KeyGroup::kCopySource, KeyUse::kRead));
  STRONGROOM_ASSIGN_OR_RETURN(context.customer_key,
                              ParseCustomerKey(headers, KeyGroup::kObject, KeyUse::kWrite));
  const objects::CustomerKey* part_key = context.customer_key ? &*context.customer_key : nullptr;
  STRONGROOM_ASSIGN_OR_RETURN(auto source, OpenCopySource(context, source_name));
  STRONGROOM_RETURN_IF_ERROR(CheckCopySourceConditions(headers, source->info()));
  uint64_t first = 0, length = source->info().size;
  if (auto range = headers.Get("x-amz-copy-source-range")) {
    unsigned long long a = 0, b = 0;
    char extra;
    if (std::sscanf(range->c_str(), "bytes=%llu-%llu%c", &a, &b, &extra) != 2 || b < a) {
      return tl::unexpected(MakeError(
          "InvalidArgument",
          "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
          "and last are the zero-based offsets of the first and last bytes to copy"));
    }
    if (b >= source->info().size) {
      return tl::unexpected(MakeError("InvalidRange", "The requested range is not satisfiable"));
    }
    first = a;
    length = b - a + 1;
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto body, source->NewRangeSource(first, length));
  STRONGROOM_ASSIGN_OR_RETURN(
      objects::PartInfo part,
      context.store->UploadPart(upload_id, address.bucket, address.key, part_number, *body, {},
                                ReadAccessFor(context, part_key)));
  XmlWriter xml("CopyPartResult");
  xml.Add("LastModified", IsoTime(FromMs(part.last_modified_ms))).Add("ETag", Quote(part.etag));
  http::Response response = XmlResponse(xml.Finish());
  STRONGROOM_RETURN_IF_ERROR(AddUploadEncryptionHeaders(context, response, upload_id, part_key));
  return response;
}

Result<http::Response> UploadPart(RequestContext& context) {
  const Address& address = context.address;
  const http::Headers& headers = context.request.headers();
  auto copy_source = headers.Get("x-amz-copy-source");
  context.operation = copy_source ? "UploadPartCopy" : "UploadPart";
  STRONGROOM_RETURN_IF_ERROR(CheckSseTransport(context));
  if (headers.Has(std::string(kSseHeader))) {
    return tl::unexpected(MakeError(
        "InvalidArgument", "x-amz-server-side-encryption header is not supported for this operation."));
  }
  STRONGROOM_ASSIGN_OR_RETURN(uint32_t part_number, PartNumber(address));
  std::string upload_id = address.Get("uploadId").value_or("");
  if (copy_source) {
    return UploadPartCopy(context, *copy_source, part_number, upload_id);
  }
  STRONGROOM_RETURN_IF_ERROR(RequestAttributes(headers));
  STRONGROOM_ASSIGN_OR_RETURN(auto body, VerifiedBody(context));
  STRONGROOM_ASSIGN_OR_RETURN(objects::BodyChecks checks, BodyChecksFor(context, body.get()));
  STRONGROOM_ASSIGN_OR_RETURN(context.customer_key,
                              ParseCustomerKey(headers, KeyGroup::kObject, KeyUse::kWrite));
  const objects::CustomerKey* part_key = context.customer_key ? &*context.customer_key : nullptr;
  CountedSource counted(*body, context.bytes_in);
  STRONGROOM_ASSIGN_OR_RETURN(
      objects::PartInfo part,
      context.store->UploadPart(upload_id, address.bucket, address.key, part_number, counted,
                                checks, ReadAccessFor(context, part_key)));
  http::Response response;
  response.headers.Set("ETag", Quote(part.etag));
  for (const auto& [name, value] : part.attributes) {
    response.headers.Set(name, value);
  }
  STRONGROOM_RETURN_IF_ERROR(AddUploadEncryptionHeaders(context, response, upload_id, part_key));
  return response;
}

Result<http::Response> Complete(RequestContext& context) {
  context.operation = "CompleteMultipartUpload";
  const Address& address = context.address;
  STRONGROOM_RETURN_IF_ERROR(CheckSseTransport(context));
  STRONGROOM_ASSIGN_OR_RETURN(
      context.customer_key,
      ParseCustomerKey(context.request.headers(), KeyGroup::kObject, KeyUse::kRead));
  const objects::CustomerKey* customer_key =
      context.customer_key ? &*context.customer_key : nullptr;
  STRONGROOM_ASSIGN_OR_RETURN(std::string body, ReadSmallBody(context, 4 << 20));
  auto malformed = [] {
    return tl::unexpected(MakeError("MalformedXML",
                                    "The XML you provided was not well-formed or did not validate "
                                    "against our published schema"));
  };
  if (body.empty()) {
    return malformed();
  }
  STRONGROOM_ASSIGN_OR_RETURN(XmlElement root, ParseXml(body));
  if (root.name != "CompleteMultipartUpload") {
    return malformed();
  }
  std::vector<objects::CompletedPart> parts;
  for (const XmlElement& child : root.children) {
    if (child.name != "Part") continue;
    const XmlElement* number = child.Child("PartNumber");
    const XmlElement* etag = child.Child("ETag");
    if (number == nullptr || etag == nullptr) {
      return malformed();
    }
    char* end = nullptr;
    long value = std::strtol(number->text.c_str(), &end, 10);
    if (number->text.empty() || *end != '\0' || value < 1 || value > 10000) {
      return malformed();
    }
    parts.push_back({static_cast<uint32_t>(value), etag->text});
  }
  STRONGROOM_ASSIGN_OR_RETURN(
      objects::ObjectInfo info,
      context.store->CompleteUpload(address.Get("uploadId").value_or(""), address.bucket,
                                    address.key, parts, ReadAccessFor(context, customer_key)));
  XmlWriter xml("CompleteMultipartUploadResult");
  xml.Add("Location", "/" + address.bucket + "/" + PercentEncode(address.key, true))
      .Add("Bucket", address.bucket)
      .Add("Key", address.key)
      .Add("ETag", Quote(info.etag));
  http::Response response = XmlResponse(xml.Finish());
  AddEncryptionHeaders(response.headers, info.encryption, context.region, customer_key,
                       /*with_context=*/false);
  return response;
}

Result<http::Response> ListParts(RequestContext& context) {
  context.operation = "ListParts";
  const Address& address = context.address;
  std::string upload_id = address.Get("uploadId").value_or("");
  uint32_t marker = static_cast<uint32_t>(
      std::strtoul(address.Get("part-number-marker").value_or("0").c_str(), nullptr, 10));
  size_t max_parts = std::min<size_t>(
      std::strtoul(address.Get("max-parts").value_or("1000").c_str(), nullptr, 10), 1000);
  STRONGROOM_RETURN_IF_ERROR(CheckSseTransport(context));
  STRONGROOM_ASSIGN_OR_RETURN(
      context.customer_key,
      ParseCustomerKey(context.request.headers(), KeyGroup::kObject, KeyUse::kRead));
  const objects::CustomerKey* customer_key =
      context.customer_key ? &*context.customer_key : nullptr;
  STRONGROOM_ASSIGN_OR_RETURN(
      objects::PartsPage page,
      context.store->ListParts(upload_id, address.bucket, address.key, marker, max_parts,
                               ReadAccessFor(context, customer_key)));
  XmlWriter xml("ListPartsResult");
  xml.Add("Bucket", address.bucket)
      .Add("Key", address.key)
      .Add("UploadId", upload_id)
      .Begin("Initiator").Add("ID", context.auth.access_key).Add("DisplayName", context.auth.access_key).End()
      .Begin("Owner").Add("ID", context.auth.access_key).Add("DisplayName", context.auth.access_key).End()
      .Add("StorageClass", "STANDARD")
      .Add("PartNumberMarker", std::to_string(marker))
      .Add("NextPartNumberMarker", std::to_string(page.next_part_number_marker))
      .Add("MaxParts", std::to_string(max_parts))
      .Add("IsTruncated", page.is_truncated ? "true" : "false");
  for (const objects::PartInfo& part : page.parts) {
    xml.Begin("Part")
        .Add("PartNumber", std::to_string(part.part_number))
        .Add("LastModified", IsoTime(FromMs(part.last_modified_ms)))
        .Add("ETag", Quote(part.etag))
        .Add("Size", std::to_string(part.size));
    for (const auto& [name, value] : part.attributes) {
      // x-amz-checksum-sha256 → <ChecksumSHA256>
      static constexpr std::pair<const char*, const char*> kChecksums[] = {
          {"x-amz-checksum-crc32", "ChecksumCRC32"}, {"x-amz-checksum-crc32c", "ChecksumCRC32C"},
          {"x-amz-checksum-sha1", "ChecksumSHA1"}, {"x-amz-checksum-sha256", "ChecksumSHA256"}};
      for (const auto& [header, element] : kChecksums) {
        if (name == header) xml.Add(element, value);
      }
    }
    xml.End();
  }
  return XmlResponse(xml.Finish());
}

}  // namespace

Result<http::Response> HandleMultipart(RequestContext& context) {
  const std::string& method = context.request.method();
  const Address& address = context.address;
  if (method == "POST" && address.Has("uploads")) return Create(context);
  if (method == "POST" && address.Has("uploadId")) return Complete(context);
  if (method == "PUT" && address.Has("uploadId")) return UploadPart(context);
  if (method == "GET" && address.Has("uploadId")) return ListParts(context);
  if (method == "DELETE" && address.Has("uploadId")) {
    context.operation = "AbortMultipartUpload";
    STRONGROOM_RETURN_IF_ERROR(context.store->AbortUpload(address.Get("uploadId").value_or(""),
                                                          address.bucket, address.key));
    http::Response response;
    response.status = 204;
    return response;
  }
  return tl::unexpected(MakeError("MethodNotAllowed",
                                  "The specified method is not allowed against this resource."));
}

}  // namespace strongroom::s3
