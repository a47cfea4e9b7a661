// SPDX-License-Identifier: Apache-2.0
#include "format/cobblestone.h"

#include <algorithm>
#include <string>
#include <utility>

#include "crypto/constant_time.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"

namespace strongroom::format {
namespace {

// FORMAT.md §3: the C2SP label for AES-256-GCM.
constexpr std::string_view kLabel = "c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM";
constexpr size_t kOutputBatch = 64 * kSealedChunkSize;  // ~1 MiB per sink write

Result<void> CheckKeySize(ByteView input_key) {
  if (input_key.size() != kInputKeySize) {
    return InvalidArgument("Cobblestone-256 needs a 32-byte key, got " +
                           std::to_string(input_key.size()));
  }
  return Ok();
}

}  // namespace

Result<uint64_t> PlaintextSizeOfMessage(uint64_t message_size) {
  // FORMAT.md §9 inverse formula, on the Cobblestone part only.
  if (message_size < kCobblestoneHeaderSize + kTagSize) {
    return DataLoss("message of " + std::to_string(message_size) + " bytes is truncated");
  }
  uint64_t body = message_size - kCobblestoneHeaderSize;
  uint64_t remainder = body % kSealedChunkSize;
  if (remainder == 0) {
    return DataLoss("message ends at a chunk boundary: the final chunk is missing");
  }
  if (remainder < kTagSize) {
    return DataLoss("message ends inside a chunk tag");
  }
  return (body / kSealedChunkSize) * kChunkSize + remainder - kTagSize;
}

// ---------------------------------------------------------------- ChunkCipher

Result<std::unique_ptr<ChunkCipher>> ChunkCipher::Derive(ByteView input_key, const Salt& salt,
                                                         ByteView context) {
  STRONGROOM_RETURN_IF_ERROR(CheckKeySize(input_key));
  Bytes info;
  info.reserve(kLabel.size() + 1 + salt.size() + context.size());
  Append(info, AsBytes(kLabel));
  info.push_back(0x00);
  Append(info, salt);
  Append(info, context);
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes okm,
                              crypto::HkdfSha512Expand(input_key, info, 32 + 12 + 32));
  ByteView k = okm.reveal();
  auto cipher = std::unique_ptr<ChunkCipher>(new ChunkCipher());
  STRONGROOM_ASSIGN_OR_RETURN(cipher->aead_, crypto::AesGcm256::Create(k.first(32)));
  std::copy_n(k.begin() + 32, 12, cipher->base_nonce_.begin());
  std::copy_n(k.begin() + 44, 32, cipher->commitment_.begin());
  return cipher;
}

Result<void> ChunkCipher::NonceFor(uint64_t index, std::array<uint8_t, 12>& nonce) const {
  if (index >= kMaxChunks) {
    return OutOfRange("chunk index exceeds the Cobblestone limit of 2^38 chunks");
  }
  nonce = base_nonce_;
  // base_nonce XOR BE96(index): the counter sits in the low-order bytes.
  for (int i = 0; i < 8; ++i) {
    nonce[11 - i] ^= static_cast<uint8_t>(index >> (8 * i));
  }
  return Ok();
}

Result<void> ChunkCipher::SealChunk(uint64_t index, ByteView plaintext, MutableByteView out) {
  std::array<uint8_t, 12> nonce;
  STRONGROOM_RETURN_IF_ERROR(NonceFor(index, nonce));
  return aead_->Seal(nonce, {}, plaintext, out);
}

Result<void> ChunkCipher::OpenChunk(uint64_t index, ByteView sealed, MutableByteView out) {
  std::array<uint8_t, 12> nonce;
  STRONGROOM_RETURN_IF_ERROR(NonceFor(index, nonce));
  auto opened = aead_->Open(nonce, {}, sealed, out);
  if (!opened && opened.error().code() == ErrorCode::kDataLoss) {
    return DataLoss("chunk " + std::to_string(index) + " failed authentication");
  }
  return opened;
}

// ------------------------------------------------------- CobblestoneEncryptor

Result<std::unique_ptr<CobblestoneEncryptor>> CobblestoneEncryptor::Create(ByteView input_key,
                                                                           ByteView context,
                                                                           ByteSink& sink) {
  Salt salt;
  STRONGROOM_RETURN_IF_ERROR(crypto::RandomFill(salt));
  return CreateWithSaltForTest(input_key, context, salt, sink);
}

Result<std::unique_ptr<CobblestoneEncryptor>> CobblestoneEncryptor::CreateWithSaltForTest(
    ByteView input_key, ByteView context, const Salt& salt, ByteSink& sink) {
  auto enc = std::unique_ptr<CobblestoneEncryptor>(new CobblestoneEncryptor(sink));
  STRONGROOM_ASSIGN_OR_RETURN(enc->cipher_, ChunkCipher::Derive(input_key, salt, context));
  enc->salt_ = salt;
  enc->pending_.reserve(kChunkSize);
  // Sized once and never zero-filled; out_size_ tracks the used prefix.
  enc->out_ = std::make_unique<Buffer>(kOutputBatch + kSealedChunkSize);
  std::copy(salt.begin(), salt.end(), enc->out_->data());
  std::copy(enc->cipher_->commitment().begin(), enc->cipher_->commitment().end(),
            enc->out_->data() + kSaltSize);
  enc->out_size_ = kCobblestoneHeaderSize;
  return enc;
}

Result<void> CobblestoneEncryptor::SealInto(ByteView chunk) {
  const size_t sealed_size = chunk.size() + kTagSize;
  STRONGROOM_RETURN_IF_ERROR(cipher_->SealChunk(
      next_index_, chunk, out_->view().subspan(out_size_, sealed_size)));
  out_size_ += sealed_size;
  ++next_index_;
  if (out_size_ >= kOutputBatch) {
    return Flush();
  }
  return Ok();
}

Result<void> CobblestoneEncryptor::Flush() {
  if (out_size_ == 0) {
    return Ok();
  }
  auto written = sink_.Write(std::as_const(*out_).view().first(out_size_));
  out_size_ = 0;
  return written;
}

Result<void> CobblestoneEncryptor::Write(ByteView plaintext) {
  if (failed_ || finished_) {
    return FailedPrecondition(finished_ ? "write after finish" : "encryptor failed earlier");
  }
  auto result = [&]() -> Result<void> {
    plaintext_size_ += plaintext.size();
    // Top up a partial chunk first.
    if (!pending_.empty()) {
      size_t take = std::min(kChunkSize - pending_.size(), plaintext.size());
      Append(pending_, plaintext.first(take));
      plaintext = plaintext.subspan(take);
      if (pending_.size() < kChunkSize) {
        return Ok();
      }
      STRONGROOM_RETURN_IF_ERROR(SealInto(pending_));
      pending_.clear();
    }
    // Full chunks straight from the caller's buffer: a full chunk is never
    // the final one (FORMAT.md §3), so it can be sealed at once.
    while (plaintext.size() >= kChunkSize) {
      STRONGROOM_RETURN_IF_ERROR(SealInto(plaintext.first(kChunkSize)));
      plaintext = plaintext.subspan(kChunkSize);
    }
    Append(pending_, plaintext);
    return Ok();
  }();
  if (!result) {
    failed_ = true;
  }
  return result;
}

Result<void> CobblestoneEncryptor::Finish() {
  if (failed_ || finished_) {
    return FailedPrecondition(finished_ ? "finish called twice" : "encryptor failed earlier");
  }
  finished_ = true;
  // The final chunk: 0..16383 bytes, always present.
  auto result = SealInto(pending_).and_then([&] { return Flush(); });
  crypto::Cleanse(pending_);
  pending_.clear();
  if (!result) {
    failed_ = true;
  }
  return result;
}

// ------------------------------------------------------- CobblestoneDecryptor

Result<std::unique_ptr<CobblestoneDecryptor>> CobblestoneDecryptor::Create(ByteView input_key,
                                                                           ByteView context,
                                                                           ByteSource& source) {
  STRONGROOM_RETURN_IF_ERROR(CheckKeySize(input_key));
  auto dec = std::unique_ptr<CobblestoneDecryptor>(new CobblestoneDecryptor(source));
  dec->input_key_ = crypto::SecretBytes::CopyFrom(input_key);
  dec->context_.assign(context.begin(), context.end());
  dec->sealed_.resize(kSealedChunkSize);
  dec->plain_.resize(kChunkSize);
  return dec;
}

Result<void> CobblestoneDecryptor::ReadHeaderUnsticky() {
  uint8_t header[kCobblestoneHeaderSize];
  STRONGROOM_ASSIGN_OR_RETURN(size_t n, ReadFull(source_, header));
  if (n < kCobblestoneHeaderSize) {
    return DataLoss("message truncated inside its header");
  }
  std::copy_n(header, kSaltSize, salt_.begin());
  std::copy_n(header + kSaltSize, kCommitmentSize, stored_commitment_.begin());
  STRONGROOM_ASSIGN_OR_RETURN(cipher_, ChunkCipher::Derive(input_key_.reveal(), salt_, context_));
  input_key_ = crypto::SecretBytes();  // no longer needed
  // FORMAT.md §8 rule 3: commitment first, in constant time.
  if (!crypto::ConstantTimeEquals(cipher_->commitment(), stored_commitment_)) {
    cipher_.reset();
    return DataLoss("key commitment mismatch: wrong key, wrong context, or modified header");
  }
  header_done_ = true;
  return Ok();
}

Result<size_t> CobblestoneDecryptor::NextChunk(MutableByteView direct) {
  STRONGROOM_ASSIGN_OR_RETURN(size_t n, ReadFull(source_, sealed_));
  if (n == kSealedChunkSize) {
    // A full chunk is never final. Whether more follows is checked next time.
  } else if (n < kTagSize) {
    return DataLoss(n == 0 ? "message truncated: the final chunk is missing"
                           : "message truncated inside a chunk tag");
  } else {
    final_seen_ = true;  // a short read means the source ended
  }
  const size_t size = n - kTagSize;
  // Open straight into the caller's buffer when the whole chunk fits there
  // (OpenChunk wipes it if the tag fails); otherwise into plain_.
  const bool straight = direct.size() >= size;
  MutableByteView target = straight ? direct.first(size) : MutableByteView(plain_).first(size);
  plain_size_ = 0;
  plain_offset_ = 0;
  STRONGROOM_RETURN_IF_ERROR(
      cipher_->OpenChunk(next_index_, ByteView(sealed_).first(n), target));
  ++next_index_;
  if (straight) {
    return size;
  }
  plain_size_ = size;
  return size_t{0};
}

Result<void> CobblestoneDecryptor::ReadHeader() {
  if (error_) {
    return tl::unexpected(*error_);
  }
  if (header_done_) {
    return Ok();
  }
  auto result = ReadHeaderUnsticky();
  if (!result) {
    error_ = result.error();
  }
  return result;
}

Result<size_t> CobblestoneDecryptor::ReadUnsticky(MutableByteView out) {
  STRONGROOM_RETURN_IF_ERROR(ReadHeader());
  size_t total = 0;
  while (total < out.size()) {
    if (plain_offset_ == plain_size_) {
      if (final_seen_) {
        break;
      }
      auto next = NextChunk(out.subspan(total));
      if (!next) {
        if (total == 0) {
          return tl::unexpected(next.error());
        }
        // Hand out the verified bytes first; the error comes with the next call.
        deferred_error_ = next.error();
        break;
      }
      total += *next;
      continue;
    }
    size_t take = std::min(out.size() - total, plain_size_ - plain_offset_);
    std::copy_n(plain_.begin() + static_cast<std::ptrdiff_t>(plain_offset_), take,
                out.begin() + static_cast<std::ptrdiff_t>(total));
    plain_offset_ += take;
    total += take;
  }
  plaintext_read_ += total;
  return total;
}

Result<size_t> CobblestoneDecryptor::Read(MutableByteView out) {
  if (error_) {
    return tl::unexpected(*error_);
  }
  auto result = ReadUnsticky(out);
  if (deferred_error_) {
    error_ = std::move(deferred_error_);
    deferred_error_.reset();
  }
  if (!result) {
    error_ = result.error();
  }
  if (error_) {
    crypto::Cleanse(plain_);
    plain_size_ = 0;
    plain_offset_ = 0;
  }
  return result;
}

// ----------------------------------------------- CobblestoneRandomAccessReader

Result<std::unique_ptr<CobblestoneRandomAccessReader>> CobblestoneRandomAccessReader::Create(
    ByteView input_key, ByteView context, RandomAccessSource& source, uint64_t offset,
    uint64_t message_size) {
  STRONGROOM_RETURN_IF_ERROR(CheckKeySize(input_key));
  STRONGROOM_ASSIGN_OR_RETURN(uint64_t plaintext_size, PlaintextSizeOfMessage(message_size));
  // A claimed length past the blob is a bad length (kDataLoss), also when
  // not even the header fits (the source would say kOutOfRange).
  if (offset + message_size < offset || offset + message_size > source.size()) {
    return DataLoss("message extends past the end of its blob");
  }
  uint8_t header[kCobblestoneHeaderSize];
  STRONGROOM_RETURN_IF_ERROR(source.ReadAt(offset, header));
  Salt salt;
  Commitment commitment;
  std::copy_n(header, kSaltSize, salt.begin());
  std::copy_n(header + kSaltSize, kCommitmentSize, commitment.begin());
  STRONGROOM_ASSIGN_OR_RETURN(auto reader,
                              CreateFromKnownHeader(input_key, context, salt, commitment, source,
                                                    offset, plaintext_size));
  STRONGROOM_RETURN_IF_ERROR(reader->VerifyFinalChunk());
  return reader;
}

Result<void> CobblestoneRandomAccessReader::VerifyFinalChunk() {
  const uint64_t last_chunk = ChunkCount(plaintext_size_) - 1;
  const uint64_t size = plaintext_size_ % kChunkSize;
  sealed_.resize(size + kTagSize);
  plain_.resize(size);
  STRONGROOM_RETURN_IF_ERROR(
      source_.ReadAt(base_offset_ + last_chunk * kSealedChunkSize, sealed_));
  auto opened = cipher_->OpenChunk(last_chunk, sealed_, plain_);
  crypto::Cleanse(plain_);
  return opened;
}

Result<std::unique_ptr<CobblestoneRandomAccessReader>>
CobblestoneRandomAccessReader::CreateFromKnownHeader(ByteView input_key, ByteView context,
                                                     const Salt& salt,
                                                     const Commitment& commitment,
                                                     RandomAccessSource& source, uint64_t offset,
                                                     uint64_t plaintext_size) {
  if (ChunkCount(plaintext_size) > kMaxChunks) {
    return OutOfRange("message exceeds the Cobblestone limit of 2^38 chunks");
  }
  uint64_t end = offset + MessageSize(plaintext_size);
  if (end < offset || end > source.size()) {
    return DataLoss("message extends past the end of its blob");
  }
  auto reader =
      std::unique_ptr<CobblestoneRandomAccessReader>(new CobblestoneRandomAccessReader(source));
  STRONGROOM_ASSIGN_OR_RETURN(reader->cipher_, ChunkCipher::Derive(input_key, salt, context));
  if (!crypto::ConstantTimeEquals(reader->cipher_->commitment(), commitment)) {
    return DataLoss("key commitment mismatch: wrong key, wrong context, or modified header");
  }
  reader->base_offset_ = offset + kCobblestoneHeaderSize;
  reader->plaintext_size_ = plaintext_size;
  return reader;
}

Result<void> CobblestoneRandomAccessReader::ReadAt(uint64_t plaintext_offset,
                                                   MutableByteView out) {
  if (plaintext_offset > plaintext_size_ || out.size() > plaintext_size_ - plaintext_offset) {
    return OutOfRange("read past the end of the plaintext");
  }
  if (out.empty()) {
    return Ok();
  }
  constexpr uint64_t kBatchChunks = 64;  // one source read per ~1 MiB
  const uint64_t last_chunk = ChunkCount(plaintext_size_) - 1;
  const uint64_t first = plaintext_offset / kChunkSize;
  const uint64_t end = (plaintext_offset + out.size() - 1) / kChunkSize + 1;
  size_t done = 0;
  uint64_t position = plaintext_offset;
  for (uint64_t batch = first; batch < end; batch += kBatchChunks) {
    uint64_t batch_end = std::min(end, batch + kBatchChunks);
    // Sealed length of the batch; only the stream's last chunk is short.
    uint64_t sealed_size = (batch_end - batch) * kSealedChunkSize;
    if (batch_end - 1 == last_chunk) {
      sealed_size -= kChunkSize - plaintext_size_ % kChunkSize;
    }
    sealed_.resize(sealed_size);
    STRONGROOM_RETURN_IF_ERROR(source_.ReadAt(base_offset_ + batch * kSealedChunkSize, sealed_));
    for (uint64_t chunk = batch; chunk < batch_end; ++chunk) {
      uint64_t chunk_plain =
          chunk == last_chunk ? plaintext_size_ % kChunkSize : uint64_t{kChunkSize};
      ByteView sealed = ByteView(sealed_).subspan((chunk - batch) * kSealedChunkSize,
                                                  chunk_plain + kTagSize);
      uint64_t within = position - chunk * kChunkSize;
      size_t take =
          static_cast<size_t>(std::min<uint64_t>(chunk_plain - within, out.size() - done));
      if (within == 0 && take == chunk_plain) {
        // The whole chunk is wanted: open it straight into the caller's
        // buffer (wiped by OpenChunk if the tag fails).
        STRONGROOM_RETURN_IF_ERROR(cipher_->OpenChunk(chunk, sealed, out.subspan(done, take)));
      } else {
        plain_.resize(chunk_plain);
        STRONGROOM_RETURN_IF_ERROR(cipher_->OpenChunk(chunk, sealed, plain_));
        std::copy_n(plain_.begin() + static_cast<std::ptrdiff_t>(within), take,
                    out.begin() + static_cast<std::ptrdiff_t>(done));
        crypto::Cleanse(plain_);
      }
      done += take;
      position += take;
    }
  }
  return Ok();
}

}  // namespace strongroom::format
