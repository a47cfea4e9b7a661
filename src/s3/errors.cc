// SPDX-License-Identifier: Apache-2.0
#include "s3/errors.h"

#include <map>

#include "s3/xml.h"

namespace strongroom::s3 {
namespace {

struct Known {
  int status;
  ErrorCode code;
};

const std::map<std::string, Known, std::less<>>& Table() {
  static const auto* table = new std::map<std::string, Known, std::less<>>{
      {"AccessDenied", {403, ErrorCode::kPermissionDenied}},
      {"AuthorizationHeaderMalformed", {400, ErrorCode::kInvalidArgument}},
      {"AuthorizationQueryParametersError", {400, ErrorCode::kInvalidArgument}},
      {"BadDigest", {400, ErrorCode::kInvalidArgument}},
      {"BucketAlreadyExists", {409, ErrorCode::kAlreadyExists}},
      {"BucketAlreadyOwnedByYou", {409, ErrorCode::kAlreadyExists}},
      {"BucketNotEmpty", {409, ErrorCode::kFailedPrecondition}},
      {"EntityTooLarge", {400, ErrorCode::kInvalidArgument}},
      {"EntityTooSmall", {400, ErrorCode::kInvalidArgument}},
      {"IncompleteBody", {400, ErrorCode::kInvalidArgument}},
      {"InternalError", {500, ErrorCode::kInternal}},
      {"InvalidAccessKeyId", {403, ErrorCode::kUnauthenticated}},
      {"InvalidArgument", {400, ErrorCode::kInvalidArgument}},
      {"InvalidBucketName", {400, ErrorCode::kInvalidArgument}},
      {"InvalidDigest", {400, ErrorCode::kInvalidArgument}},
      {"InvalidEncryptionAlgorithmError", {400, ErrorCode::kInvalidArgument}},
      {"InvalidLocationConstraint", {400, ErrorCode::kInvalidArgument}},
      {"InvalidPart", {400, ErrorCode::kInvalidArgument}},
      {"InvalidPartOrder", {400, ErrorCode::kInvalidArgument}},
      {"InvalidPartNumber", {416, ErrorCode::kOutOfRange}},
      {"InvalidRange", {416, ErrorCode::kOutOfRange}},
      {"InvalidRequest", {400, ErrorCode::kInvalidArgument}},
      {"InvalidURI", {400, ErrorCode::kInvalidArgument}},
      {"KeyTooLongError", {400, ErrorCode::kInvalidArgument}},
      {"KMS.DisabledException", {400, ErrorCode::kFailedPrecondition}},
      {"KMS.KMSInvalidStateException", {400, ErrorCode::kFailedPrecondition}},
      {"KMS.NotFoundException", {400, ErrorCode::kNotFound}},
      {"MalformedXML", {400, ErrorCode::kInvalidArgument}},
      {"MetadataTooLarge", {400, ErrorCode::kInvalidArgument}},
      {"MethodNotAllowed", {405, ErrorCode::kInvalidArgument}},
      {"MissingContentLength", {411, ErrorCode::kInvalidArgument}},
      {"MissingRequestBodyError", {400, ErrorCode::kInvalidArgument}},
      {"NoSuchBucket", {404, ErrorCode::kNotFound}},
      {"NoSuchKey", {404, ErrorCode::kNotFound}},
      {"NoSuchUpload", {404, ErrorCode::kNotFound}},
      {"NotImplemented", {501, ErrorCode::kUnimplemented}},
      {"NotModified", {304, ErrorCode::kFailedPrecondition}},
      {"OperationAborted", {409, ErrorCode::kFailedPrecondition}},
      {"PreconditionFailed", {412, ErrorCode::kFailedPrecondition}},
      {"RequestTimeTooSkewed", {403, ErrorCode::kUnauthenticated}},
      {"RequestTimeout", {400, ErrorCode::kUnavailable}},
      {"ServiceUnavailable", {503, ErrorCode::kUnavailable}},
      {"SignatureDoesNotMatch", {403, ErrorCode::kUnauthenticated}},
      {"XAmzContentSHA256Mismatch", {400, ErrorCode::kInvalidArgument}},
  };
  return *table;
}

}  // namespace

Error MakeError(std::string_view code, std::string message) {
  auto it = Table().find(code);
  ErrorCode canonical = it == Table().end() ? ErrorCode::kInternal : it->second.code;
  return Error(canonical, std::move(message)).WithReason(std::string(code));
}

S3Error ToS3Error(const Error& error) {
  if (!error.reason().empty()) {
    auto it = Table().find(error.reason());
    if (it != Table().end()) {
      return S3Error{it->second.status, it->first, error.message()};
    }
  }
  switch (error.code()) {
    case ErrorCode::kInvalidArgument: return {400, "InvalidArgument", error.message()};
    case ErrorCode::kUnauthenticated: return {403, "AccessDenied", error.message()};
    case ErrorCode::kPermissionDenied: return {403, "AccessDenied", error.message()};
    case ErrorCode::kNotFound: return {404, "NoSuchKey", error.message()};
    case ErrorCode::kAlreadyExists: return {409, "InvalidRequest", error.message()};
    case ErrorCode::kFailedPrecondition: return {412, "PreconditionFailed", error.message()};
    case ErrorCode::kOutOfRange: return {416, "InvalidRange", error.message()};
    case ErrorCode::kUnavailable: return {503, "ServiceUnavailable", error.message()};
    case ErrorCode::kUnimplemented: return {501, "NotImplemented", error.message()};
    case ErrorCode::kDataLoss:
      // Stored data failed authentication: never serve it; say so plainly.
      return {500, "InternalError", "stored data failed integrity verification"};
    case ErrorCode::kInternal: break;
  }
  return {500, "InternalError", "We encountered an internal error. Please try again."};
}

std::string ErrorXml(const S3Error& error, std::string_view resource,
                     std::string_view request_id) {
  XmlWriter xml("Error", /*with_namespace=*/false);
  xml.Add("Code", error.code);
  xml.Add("Message", error.message);
  xml.Add("Resource", resource);
  xml.Add("RequestId", request_id);
  return xml.Finish();
}

}  // namespace strongroom::s3
