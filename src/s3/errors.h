// SPDX-License-Identifier: Apache-2.0
#pragma once

// The one place where errors become S3 error responses: status code, error
// Code, Message, Resource and RequestId (docs/S3_COMPATIBILITY.md).

#include <string>
#include <string_view>

#include "base/error.h"

namespace strongroom::s3 {

struct S3Error {
  int status = 500;
  std::string code;     // "NoSuchKey"
  std::string message;
};

// Maps an Error: its reason() when it names an S3 code, else by ErrorCode.
S3Error ToS3Error(const Error& error);

// An error with an explicit S3 code and the status S3 uses for it.
Error MakeError(std::string_view code, std::string message);

// The XML body for `error` (empty for HEAD responses).
std::string ErrorXml(const S3Error& error, std::string_view resource, std::string_view request_id);

}  // namespace strongroom::s3
