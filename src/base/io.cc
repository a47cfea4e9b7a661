// SPDX-License-Identifier: Apache-2.0
#include "base/io.h"

#include <algorithm>
#include <string>

namespace strongroom {

Result<size_t> ReadFull(ByteSource& source, MutableByteView out) {
  size_t total = 0;
  while (total < out.size()) {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, source.Read(out.subspan(total)));
    if (n == 0) {
      break;
    }
    total += n;
  }
  return total;
}

Result<size_t> ByteViewSource::Read(MutableByteView out) {
  size_t n = std::min(out.size(), data_.size() - offset_);
  std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset_), n, out.begin());
  offset_ += n;
  return n;
}

Result<void> ByteViewRandomAccessSource::ReadAt(uint64_t offset, MutableByteView out) {
  if (offset > data_.size() || out.size() > data_.size() - offset) {
    return OutOfRange("read of " + std::to_string(out.size()) + " bytes at offset " +
                      std::to_string(offset) + " past size " + std::to_string(data_.size()));
  }
  std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
  return Ok();
}

}  // namespace strongroom
