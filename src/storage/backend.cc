// SPDX-License-Identifier: Apache-2.0
#include "storage/backend.h"

#include <string>

namespace strongroom::storage {

namespace {
bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '/' || c == '-';
}
}  // namespace

Result<void> ValidateBlobName(std::string_view name) {
  if (name.empty()) {
    return InvalidArgument("empty blob name");
  }
  if (name.size() > kMaxBlobNameSize) {
    return InvalidArgument("blob name of " + std::to_string(name.size()) + " bytes exceeds " +
                           std::to_string(kMaxBlobNameSize));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i])) {
      // The name is not echoed: it may hold control characters.
      return InvalidArgument("blob name has a character outside [A-Za-z0-9._/-] at offset " +
                             std::to_string(i));
    }
  }
  if (name.front() == '/') {
    return InvalidArgument("blob name '" + std::string(name) + "' starts with '/'");
  }
  if (name.find("..") != std::string_view::npos) {
    return InvalidArgument("blob name '" + std::string(name) + "' contains '..'");
  }
  if (name.find("//") != std::string_view::npos) {
    return InvalidArgument("blob name '" + std::string(name) + "' contains '//'");
  }
  return Ok();
}

}  // namespace strongroom::storage
