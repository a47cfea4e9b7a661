// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace strongroom {

// What the caller can do about a failure. Kept small on purpose; the details
// go in the message. Codes follow absl::StatusCode in meaning.
enum class ErrorCode {
  kInvalidArgument,     // the input is malformed; retrying will not help
  kUnauthenticated,     // missing or bad credentials, wrong key or passphrase
  kPermissionDenied,    // authenticated, but not allowed
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // the named thing exists and must not be replaced
  kFailedPrecondition,  // the current state forbids the operation
  kOutOfRange,          // an offset or range lies outside the data
  kDataLoss,            // stored data failed authentication or is corrupt
  kUnavailable,         // a resource is unreachable; a retry may help
  kUnimplemented,       // not supported by this build or version
  kInternal,            // a bug, or a library failed unexpectedly
};

// Short lowercase name of `code`, e.g. "data loss".
std::string_view ErrorCodeName(ErrorCode code);

// Why an operation failed. Messages are for people and logs: lowercase, no
// trailing period, name the thing, and never contain key material or data.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "data loss: chunk 3 failed authentication".
  std::string ToString() const;

  // Returns a copy whose message is "`context`: <message>".
  Error WithContext(std::string_view context) const;

  // An optional machine-readable reason naming the exact protocol error
  // (for S3, the error Code such as "SignatureDoesNotMatch"). The edge that
  // speaks the protocol maps it; everyone else ignores it.
  const std::string& reason() const { return reason_; }
  Error WithReason(std::string reason) const {
    Error copy = *this;
    copy.reason_ = std::move(reason);
    return copy;
  }

 private:
  ErrorCode code_;
  std::string message_;
  std::string reason_;
};

// Constructors that convert to any Result<T>:  return NotFound("no blob 'x'");
tl::unexpected<Error> InvalidArgument(std::string message);
tl::unexpected<Error> Unauthenticated(std::string message);
tl::unexpected<Error> PermissionDenied(std::string message);
tl::unexpected<Error> NotFound(std::string message);
tl::unexpected<Error> AlreadyExists(std::string message);
tl::unexpected<Error> FailedPrecondition(std::string message);
tl::unexpected<Error> OutOfRange(std::string message);
tl::unexpected<Error> DataLoss(std::string message);
tl::unexpected<Error> Unavailable(std::string message);
tl::unexpected<Error> Unimplemented(std::string message);
tl::unexpected<Error> Internal(std::string message);

}  // namespace strongroom
