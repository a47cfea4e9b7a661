// SPDX-License-Identifier: Apache-2.0
#pragma once

// Cobblestone-256: C2SP chunked-encryption with SHA-512 and AES-256-GCM.
// Layout and rules: docs/FORMAT.md §3. This layer knows nothing of
// strongroom's prefixes or manifests (stream.h adds those); it exists on its
// own so it can be checked against the Wycheproof vectors unchanged.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/bytes.h"
#include "base/io.h"
#include "base/result.h"
#include "crypto/aes_gcm.h"
#include "crypto/secret_bytes.h"

namespace strongroom::format {

inline constexpr size_t kInputKeySize = 32;
inline constexpr size_t kSaltSize = 24;
inline constexpr size_t kCommitmentSize = 32;
inline constexpr size_t kCobblestoneHeaderSize = kSaltSize + kCommitmentSize;  // 56
inline constexpr size_t kChunkSize = 16384;                                     // plaintext
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kSealedChunkSize = kChunkSize + kTagSize;  // 16400
inline constexpr uint64_t kMaxChunks = uint64_t{1} << 38;

using Salt = std::array<uint8_t, kSaltSize>;
using Commitment = std::array<uint8_t, kCommitmentSize>;

// Number of chunks for a plaintext of `plaintext_size` bytes (the final chunk
// is always short, so a multiple of 16384 gets an extra empty chunk).
inline uint64_t ChunkCount(uint64_t plaintext_size) { return plaintext_size / kChunkSize + 1; }

// Length of a Cobblestone message (header included) for `plaintext_size`.
inline uint64_t MessageSize(uint64_t plaintext_size) {
  return kCobblestoneHeaderSize + plaintext_size + kTagSize * ChunkCount(plaintext_size);
}

// Plaintext length of a message of `message_size` bytes. kDataLoss if no
// plaintext encrypts to that length (truncated, or with trailing bytes).
Result<uint64_t> PlaintextSizeOfMessage(uint64_t message_size);

// The per-message key schedule. Holds key material: keep it short-lived.
// Seals and opens individual chunks; a chunk's nonce is base_nonce XOR its
// index, so callers pass indexes, never nonces. Not thread-safe.
class ChunkCipher {
 public:
  // Derives the AEAD key, base nonce and commitment from `input_key`
  // (exactly 32 bytes, else kInvalidArgument), `salt` and `context`.
  static Result<std::unique_ptr<ChunkCipher>> Derive(ByteView input_key, const Salt& salt,
                                                     ByteView context);

  const Commitment& commitment() const { return commitment_; }

  // Seals chunk `index` of `plaintext` (at most 16384 bytes) into `out`
  // (plaintext.size() + 16 bytes). kOutOfRange if index >= 2^38.
  Result<void> SealChunk(uint64_t index, ByteView plaintext, MutableByteView out);

  // Opens chunk `index`; `out` holds sealed.size() - 16 bytes. kDataLoss if
  // the tag fails, in which case `out` is wiped. kOutOfRange if index >= 2^38.
  Result<void> OpenChunk(uint64_t index, ByteView sealed, MutableByteView out);

 private:
  ChunkCipher() = default;
  Result<void> NonceFor(uint64_t index, std::array<uint8_t, 12>& nonce) const;

  std::unique_ptr<crypto::AesGcm256> aead_;
  std::array<uint8_t, 12> base_nonce_{};
  Commitment commitment_{};
};

// Writes one Cobblestone message to a sink: the header first, then each
// chunk as soon as it is complete (full chunks are never final, so no
// look-ahead is needed). Output is buffered up to about 1 MiB. Not
// thread-safe; `sink` must outlive the encryptor.
class CobblestoneEncryptor {
 public:
  // Draws a random salt. kInvalidArgument for a key that is not 32 bytes.
  static Result<std::unique_ptr<CobblestoneEncryptor>> Create(ByteView input_key,
                                                              ByteView context, ByteSink& sink);
  // For tests and vector generation only: a caller-chosen salt.
  static Result<std::unique_ptr<CobblestoneEncryptor>> CreateWithSaltForTest(
      ByteView input_key, ByteView context, const Salt& salt, ByteSink& sink);

  const Salt& salt() const { return salt_; }
  const Commitment& commitment() const { return cipher_->commitment(); }
  uint64_t plaintext_size() const { return plaintext_size_; }

  // Encrypts more plaintext. Errors are sticky.
  Result<void> Write(ByteView plaintext);
  // Writes the final short chunk and flushes. Must be called exactly once.
  Result<void> Finish();

  // Test hook: continue as if `index` chunks had been written already.
  void SetNextChunkIndexForTest(uint64_t index) { next_index_ = index; }

 private:
  CobblestoneEncryptor(ByteSink& sink) : sink_(sink) {}
  Result<void> SealInto(ByteView chunk);
  Result<void> Flush();

  ByteSink& sink_;
  std::unique_ptr<ChunkCipher> cipher_;
  Salt salt_{};
  Bytes pending_;  // plaintext of the incomplete chunk
  std::unique_ptr<Buffer> out_;  // sealed bytes not yet written: the first out_size_
  size_t out_size_ = 0;
  uint64_t next_index_ = 0;
  uint64_t plaintext_size_ = 0;
  bool failed_ = false;
  bool finished_ = false;
};

// Reads one Cobblestone message from a source that ends exactly where the
// message ends. Verifies the commitment (constant time) before decrypting
// anything, releases a chunk only after its tag verifies, and requires a
// short final chunk with nothing after it. Errors are sticky: once Read
// fails, it fails forever. Output released before an error is a verified
// prefix, not the message (FORMAT.md §8). Not thread-safe; `source` must
// outlive the decryptor.
class CobblestoneDecryptor {
 public:
  // Key and context are checked lazily, on the first Read.
  static Result<std::unique_ptr<CobblestoneDecryptor>> Create(ByteView input_key,
                                                              ByteView context,
                                                              ByteSource& source);

  // Returns up to out.size() plaintext bytes; 0 means the message ended and
  // was complete. Errors: kInvalidArgument (bad key size), kDataLoss
  // (commitment, tag, truncation, trailing data), kOutOfRange (counter limit),
  // or the source's own error.
  Result<size_t> Read(MutableByteView out);

  // Valid after the header was read (after the first successful Read).
  // Reads the header and checks the commitment without decrypting any chunk.
  // Idempotent; Read calls it. Same errors as Read, and equally sticky.
  Result<void> ReadHeader();

  // Valid after ReadHeader succeeded.
  const Salt& salt() const { return salt_; }
  const Commitment& stored_commitment() const { return stored_commitment_; }
  uint64_t plaintext_read() const { return plaintext_read_; }

 private:
  CobblestoneDecryptor(ByteSource& source) : source_(source) {}
  Result<void> ReadHeaderUnsticky();
  // Reads and opens the next chunk, into `direct` if it fits there (returns
  // the bytes placed) or into plain_ (returns 0).
  Result<size_t> NextChunk(MutableByteView direct);
  Result<size_t> ReadUnsticky(MutableByteView out);

  ByteSource& source_;
  crypto::SecretBytes input_key_;
  Bytes context_;
  std::unique_ptr<ChunkCipher> cipher_;
  Salt salt_{};
  Commitment stored_commitment_{};
  Bytes sealed_;  // one sealed chunk
  Bytes plain_;   // its verified plaintext: the first plain_size_ bytes
  size_t plain_size_ = 0;
  size_t plain_offset_ = 0;
  uint64_t next_index_ = 0;
  uint64_t plaintext_read_ = 0;
  bool header_done_ = false;
  bool final_seen_ = false;
  std::optional<Error> error_;
  std::optional<Error> deferred_error_;
};

// Random access to one Cobblestone message of known length. Create checks
// the length rule and the commitment; ReadAt decrypts only the chunks the
// range touches. Not thread-safe; `source` must outlive the reader.
class CobblestoneRandomAccessReader {
 public:
  // Reads the 56-byte header at `offset` of `source`; the message spans
  // [offset, offset + message_size). Because that length is untrusted, the
  // final chunk is opened once to authenticate it (as seeking from the end
  // requires). kDataLoss for a bad length, commitment or final chunk.
  static Result<std::unique_ptr<CobblestoneRandomAccessReader>> Create(
      ByteView input_key, ByteView context, RandomAccessSource& source, uint64_t offset,
      uint64_t message_size);

  // Without reading the header: salt and commitment come from a trusted
  // record (a verified manifest); the derived commitment must equal it.
  static Result<std::unique_ptr<CobblestoneRandomAccessReader>> CreateFromKnownHeader(
      ByteView input_key, ByteView context, const Salt& salt, const Commitment& commitment,
      RandomAccessSource& source, uint64_t offset, uint64_t plaintext_size);

  uint64_t plaintext_size() const { return plaintext_size_; }

  // Opens the final chunk, which proves the message length. kDataLoss if it
  // fails.
  Result<void> VerifyFinalChunk();

  // Fills `out` with plaintext starting at `plaintext_offset`. kOutOfRange if
  // the range passes the end; kDataLoss if a touched chunk fails.
  Result<void> ReadAt(uint64_t plaintext_offset, MutableByteView out);

 private:
  CobblestoneRandomAccessReader(RandomAccessSource& source) : source_(source) {}

  RandomAccessSource& source_;
  std::unique_ptr<ChunkCipher> cipher_;
  uint64_t base_offset_ = 0;  // where the chunks start in `source_`
  uint64_t plaintext_size_ = 0;
  Bytes sealed_;
  Bytes plain_;
};

}  // namespace strongroom::format
