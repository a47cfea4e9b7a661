// SPDX-License-Identifier: Apache-2.0
#include "format/stream.h"

#include <algorithm>
#include <string>

#include "crypto/constant_time.h"
#include "crypto/random.h"

namespace strongroom::format {
namespace {

constexpr uint8_t kStreamMagic[4] = {'S', 'R', 'D', 'S'};

Bytes StreamPrefix(StreamKind kind) {
  return Bytes{kStreamMagic[0], kStreamMagic[1], kStreamMagic[2], kStreamMagic[3],
               kFormatVersion, kSuiteCobblestone256, static_cast<uint8_t>(kind), 0x00};
}

}  // namespace

Result<ObjectId> NewObjectId() {
  ObjectId id;
  STRONGROOM_RETURN_IF_ERROR(crypto::RandomFill(id));
  return id;
}

Result<StreamKind> KindForPartNumber(uint32_t part_number) {
  if (part_number == 0) {
    return StreamKind::kWholeObject;
  }
  if (part_number <= kMaxPartNumber) {
    return StreamKind::kMultipartPart;
  }
  return InvalidArgument("part number " + std::to_string(part_number) + " is not in 1..10000");
}

Result<uint64_t> PlaintextSizeOfStream(uint64_t stream_size) {
  if (stream_size < kStreamPrefixSize) {
    return DataLoss("stream of " + std::to_string(stream_size) + " bytes is truncated");
  }
  return PlaintextSizeOfMessage(stream_size - kStreamPrefixSize);
}

Result<Bytes> StreamContext(const ObjectId& object_id, uint32_t part_number) {
  STRONGROOM_ASSIGN_OR_RETURN(StreamKind kind, KindForPartNumber(part_number));
  Bytes context = StreamPrefix(kind);
  Append(context, object_id);
  AppendBe32(context, part_number);
  return context;
}

Result<void> CheckStreamPrefix(ByteView prefix, uint32_t part_number) {
  if (prefix.size() != kStreamPrefixSize) {
    return DataLoss("stream truncated inside its prefix");
  }
  if (!std::equal(prefix.begin(), prefix.begin() + 4, kStreamMagic)) {
    return InvalidArgument("not a strongroom data stream (bad magic)");
  }
  if (prefix[4] != kFormatVersion) {
    return InvalidArgument("unsupported stream version " + std::to_string(prefix[4]));
  }
  if (prefix[5] != kSuiteCobblestone256) {
    return InvalidArgument("unsupported stream suite " + std::to_string(prefix[5]));
  }
  STRONGROOM_ASSIGN_OR_RETURN(StreamKind kind, KindForPartNumber(part_number));
  if (prefix[6] != static_cast<uint8_t>(StreamKind::kWholeObject) &&
      prefix[6] != static_cast<uint8_t>(StreamKind::kMultipartPart)) {
    return InvalidArgument("unknown stream kind " + std::to_string(prefix[6]));
  }
  if (prefix[6] != static_cast<uint8_t>(kind)) {
    return DataLoss("stream kind does not match its part number");
  }
  if (prefix[7] != 0) {
    return InvalidArgument("stream reserved byte is not zero");
  }
  return Ok();
}

// --------------------------------------------------------------- StreamWriter

Result<std::unique_ptr<StreamWriter>> StreamWriter::Create(ByteView dek, const ObjectId& object_id,
                                                           uint32_t part_number, ByteSink& sink) {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes context, StreamContext(object_id, part_number));
  auto writer = std::unique_ptr<StreamWriter>(new StreamWriter());
  writer->part_number_ = part_number;
  // The prefix is the first 8 bytes of the context.
  STRONGROOM_RETURN_IF_ERROR(sink.Write(ByteView(context).first(kStreamPrefixSize)));
  STRONGROOM_ASSIGN_OR_RETURN(writer->encryptor_,
                              CobblestoneEncryptor::Create(dek, context, sink));
  return writer;
}

Result<void> StreamWriter::Write(ByteView plaintext) { return encryptor_->Write(plaintext); }

Result<StreamInfo> StreamWriter::Finish() {
  STRONGROOM_RETURN_IF_ERROR(encryptor_->Finish());
  StreamInfo info;
  info.part_number = part_number_;
  info.plaintext_size = encryptor_->plaintext_size();
  info.salt = encryptor_->salt();
  info.commitment = encryptor_->commitment();
  return info;
}

// --------------------------------------------------------------- StreamReader

Result<std::unique_ptr<StreamReader>> StreamReader::Create(ByteView dek, const ObjectId& object_id,
                                                           uint32_t part_number,
                                                           ByteSource& source,
                                                           std::optional<StreamInfo> expected) {
  if (expected && expected->part_number != part_number) {
    return InvalidArgument("expected stream info is for another part");
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes context, StreamContext(object_id, part_number));
  auto reader = std::unique_ptr<StreamReader>(new StreamReader(source));
  reader->expected_ = expected;
  reader->part_number_ = part_number;
  STRONGROOM_ASSIGN_OR_RETURN(reader->decryptor_,
                              CobblestoneDecryptor::Create(dek, context, source));
  return reader;
}

Result<size_t> StreamReader::ReadUnsticky(MutableByteView out) {
  if (!prefix_checked_) {
    uint8_t prefix[kStreamPrefixSize];
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, ReadFull(source_, prefix));
    STRONGROOM_RETURN_IF_ERROR(CheckStreamPrefix(ByteView(prefix, n), part_number_));
    STRONGROOM_RETURN_IF_ERROR(decryptor_->ReadHeader());
    // FORMAT.md §8 rule 6: the stream must be the one the manifest names;
    // checked before any chunk is decrypted.
    if (expected_ &&
        (!crypto::ConstantTimeEquals(decryptor_->salt(), expected_->salt) ||
         !crypto::ConstantTimeEquals(decryptor_->stored_commitment(), expected_->commitment))) {
      return DataLoss("stream is not the one its manifest names (stale or substituted part)");
    }
    prefix_checked_ = true;
  }
  STRONGROOM_ASSIGN_OR_RETURN(size_t n, decryptor_->Read(out));
  if (expected_) {
    if (decryptor_->plaintext_read() > expected_->plaintext_size) {
      return DataLoss("stream is longer than its manifest says");
    }
    // n == 0 is the end only when there was room for a byte; an empty
    // buffer says nothing about the stream's length.
    if (n == 0 && !out.empty() && decryptor_->plaintext_read() != expected_->plaintext_size) {
      return DataLoss("stream is shorter than its manifest says");
    }
  }
  return n;
}

StreamInfo StreamReader::info() const {
  StreamInfo info;
  info.part_number = part_number_;
  info.plaintext_size = decryptor_->plaintext_read();
  info.salt = decryptor_->salt();
  info.commitment = decryptor_->stored_commitment();
  return info;
}

Result<size_t> StreamReader::Read(MutableByteView out) {
  if (error_) {
    return tl::unexpected(*error_);
  }
  auto result = ReadUnsticky(out);
  if (!result) {
    error_ = result.error();
  }
  return result;
}

}  // namespace strongroom::format
