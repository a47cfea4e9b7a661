// SPDX-License-Identifier: Apache-2.0
#include "base/error.h"

namespace strongroom {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kFailedPrecondition: return "failed precondition";
    case ErrorCode::kOutOfRange: return "out of range";
    case ErrorCode::kDataLoss: return "data loss";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kUnimplemented: return "unimplemented";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::ToString() const {
  std::string out(ErrorCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Error Error::WithContext(std::string_view context) const {
  std::string message(context);
  message += ": ";
  message += message_;
  Error out(code_, std::move(message));
  return reason_.empty() ? out : out.WithReason(reason_);
}

#define STRONGROOM_DEFINE_ERROR_CTOR(name, code)              \
  tl::unexpected<Error> name(std::string message) {           \
    return tl::unexpected<Error>(Error(code, std::move(message))); \
  }
STRONGROOM_DEFINE_ERROR_CTOR(InvalidArgument, ErrorCode::kInvalidArgument)
STRONGROOM_DEFINE_ERROR_CTOR(Unauthenticated, ErrorCode::kUnauthenticated)
STRONGROOM_DEFINE_ERROR_CTOR(PermissionDenied, ErrorCode::kPermissionDenied)
STRONGROOM_DEFINE_ERROR_CTOR(NotFound, ErrorCode::kNotFound)
STRONGROOM_DEFINE_ERROR_CTOR(AlreadyExists, ErrorCode::kAlreadyExists)
STRONGROOM_DEFINE_ERROR_CTOR(FailedPrecondition, ErrorCode::kFailedPrecondition)
STRONGROOM_DEFINE_ERROR_CTOR(OutOfRange, ErrorCode::kOutOfRange)
STRONGROOM_DEFINE_ERROR_CTOR(DataLoss, ErrorCode::kDataLoss)
STRONGROOM_DEFINE_ERROR_CTOR(Unavailable, ErrorCode::kUnavailable)
STRONGROOM_DEFINE_ERROR_CTOR(Unimplemented, ErrorCode::kUnimplemented)
STRONGROOM_DEFINE_ERROR_CTOR(Internal, ErrorCode::kInternal)
#undef STRONGROOM_DEFINE_ERROR_CTOR

}  // namespace strongroom
