// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <utility>

#include <tl/expected.hpp>

#include "base/error.h"

namespace strongroom {

// The one error model: a value or an Error. Result<void> for operations that
// return nothing. The API is std::expected's (value, error, and_then, map).
template <typename T>
using Result = tl::expected<T, Error>;

// Success for Result<void>.
inline Result<void> Ok() { return {}; }

}  // namespace strongroom

#define STRONGROOM_CONCAT_INNER_(a, b) a##b
#define STRONGROOM_CONCAT_(a, b) STRONGROOM_CONCAT_INNER_(a, b)

// Evaluates `expr` (a Result); on error returns the error from the enclosing function.
#define STRONGROOM_RETURN_IF_ERROR(expr)                                 \
  do {                                                                   \
    auto&& strongroom_result_ = (expr);                                  \
    if (!strongroom_result_) {                                           \
      return tl::unexpected<::strongroom::Error>(                        \
          std::move(strongroom_result_).error());                        \
    }                                                                    \
  } while (0)

// Evaluates `expr` (a Result<T>); on error returns it, else moves the value into `lhs`.
#define STRONGROOM_ASSIGN_OR_RETURN(lhs, expr) \
  STRONGROOM_ASSIGN_OR_RETURN_IMPL_(STRONGROOM_CONCAT_(strongroom_tmp_, __LINE__), lhs, expr)
#define STRONGROOM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                      \
  auto tmp = (expr);                                                           \
  if (!tmp) {                                                                  \
    return tl::unexpected<::strongroom::Error>(std::move(tmp).error());        \
  }                                                                            \
  lhs = std::move(tmp).value()
