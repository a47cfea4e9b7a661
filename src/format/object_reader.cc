// SPDX-License-Identifier: Apache-2.0
#include "format/object_reader.h"

#include "crypto/constant_time.h"
#include "format/stream.h"

#include <algorithm>
#include <array>
#include <string>

namespace strongroom::format {

Result<std::unique_ptr<ObjectRangeReader>> ObjectRangeReader::Create(ByteView dek,
                                                                     Manifest manifest,
                                                                     RandomAccessSource& source) {
  if (dek.size() != kInputKeySize) {
    return InvalidArgument("the data key must be 32 bytes");
  }
  // FORMAT.md §8 rule 8: the blob is exactly the concatenated streams.
  if (source.size() != manifest.blob_size()) {
    return DataLoss("blob is " + std::to_string(source.size()) + " bytes, manifest says " +
                    std::to_string(manifest.blob_size()));
  }
  auto reader = std::unique_ptr<ObjectRangeReader>(new ObjectRangeReader(source));
  reader->dek_ = crypto::SecretBytes::CopyFrom(dek);
  uint64_t plaintext = 0;
  uint64_t blob = 0;
  for (const StreamInfo& s : manifest.streams) {
    reader->streams_.push_back(Stream{plaintext, blob});
    plaintext += s.plaintext_size;
    blob += StreamSize(s.plaintext_size);
  }
  reader->plaintext_size_ = plaintext;
  reader->manifest_ = std::move(manifest);
  reader->header_checked_.assign(reader->manifest_.streams.size(), false);
  return reader;
}

Result<CobblestoneRandomAccessReader*> ObjectRangeReader::ReaderFor(size_t index) {
  if (current_index_ != index || !current_) {
    current_.reset();
    current_index_ = SIZE_MAX;
    const StreamInfo& info = manifest_.streams[index];
    if (!header_checked_[index]) {
      STRONGROOM_RETURN_IF_ERROR(CheckStoredHeader(index));
      header_checked_[index] = true;
    }
    STRONGROOM_ASSIGN_OR_RETURN(Bytes context,
                                StreamContext(manifest_.object_id, info.part_number));
    STRONGROOM_ASSIGN_OR_RETURN(
        current_, CobblestoneRandomAccessReader::CreateFromKnownHeader(
                      dek_.reveal(), context, info.salt, info.commitment, source_,
                      streams_[index].blob_offset + kStreamPrefixSize, info.plaintext_size));
    current_index_ = index;
  }
  return current_.get();
}

// FORMAT.md §8 rule 6: the stored header (prefix, salt, commitment) must be
// the one the manifest names. Not needed to decrypt (the manifest supplies
// salt and commitment) but checked so that no stored byte goes unverified.
Result<void> ObjectRangeReader::CheckStoredHeader(size_t index) {
  const StreamInfo& info = manifest_.streams[index];
  std::array<uint8_t, kStreamHeaderSize> stored;
  STRONGROOM_RETURN_IF_ERROR(source_.ReadAt(streams_[index].blob_offset, stored));
  ByteView view(stored);
  // A stored blob is trusted to be ours: any mismatch is corruption.
  if (auto prefix = CheckStreamPrefix(view.first(kStreamPrefixSize), info.part_number); !prefix) {
    return DataLoss("stream " + std::to_string(index) + ": " + prefix.error().message());
  }
  ByteView salt = view.subspan(kStreamPrefixSize, kSaltSize);
  ByteView commitment = view.subspan(kStreamPrefixSize + kSaltSize, kCommitmentSize);
  if (!crypto::ConstantTimeEquals(salt, info.salt) ||
      !crypto::ConstantTimeEquals(commitment, info.commitment)) {
    return DataLoss("stream " + std::to_string(index) +
                    "'s stored header differs from its manifest entry");
  }
  return Ok();
}

Result<void> ObjectRangeReader::ReadAt(uint64_t offset, MutableByteView out) {
  if (offset > plaintext_size_ || out.size() > plaintext_size_ - offset) {
    return OutOfRange("range " + std::to_string(offset) + "+" + std::to_string(out.size()) +
                      " passes the end of a " + std::to_string(plaintext_size_) +
                      "-byte object");
  }
  // The last stream whose first byte is at or before `offset`.
  auto it = std::upper_bound(
      streams_.begin(), streams_.end(), offset,
      [](uint64_t value, const Stream& s) { return value < s.plaintext_begin; });
  size_t index = static_cast<size_t>(it - streams_.begin()) - 1;
  size_t done = 0;
  while (done < out.size()) {
    // Skip empty streams; they hold no bytes of the range.
    while (manifest_.streams[index].plaintext_size == 0 ||
           offset >= streams_[index].plaintext_begin + manifest_.streams[index].plaintext_size) {
      ++index;
    }
    STRONGROOM_ASSIGN_OR_RETURN(CobblestoneRandomAccessReader * reader, ReaderFor(index));
    uint64_t within = offset - streams_[index].plaintext_begin;
    size_t take = static_cast<size_t>(
        std::min<uint64_t>(reader->plaintext_size() - within, out.size() - done));
    STRONGROOM_RETURN_IF_ERROR(reader->ReadAt(within, out.subspan(done, take)));
    done += take;
    offset += take;
  }
  return Ok();
}

}  // namespace strongroom::format
