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

ConcatenatedSource::ConcatenatedSource(std::vector<std::unique_ptr<RandomAccessSource>> parts)
    : parts_(std::move(parts)) {
  for (const auto& part : parts_) {
    starts_.push_back(size_);
    size_ += part->size();
  }
}

Result<void> ConcatenatedSource::ReadAt(uint64_t offset, MutableByteView out) {
  if (offset > size_ || out.size() > size_ - offset) {
    return OutOfRange("read past the end of the concatenated source");
  }
  size_t done = 0;
  // The last part starting at or before `offset`.
  size_t index = static_cast<size_t>(
      std::upper_bound(starts_.begin(), starts_.end(), offset) - starts_.begin());
  index = index == 0 ? 0 : index - 1;
  while (done < out.size()) {
    uint64_t within = offset + done - starts_[index];
    uint64_t available = parts_[index]->size() - within;
    if (available == 0) {
      ++index;
      continue;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(available, out.size() - done));
    STRONGROOM_RETURN_IF_ERROR(parts_[index]->ReadAt(within, out.subspan(done, take)));
    done += take;
    ++index;
  }
  return Ok();
}

}  // namespace strongroom
