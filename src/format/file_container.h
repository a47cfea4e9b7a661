// SPDX-License-Identifier: Apache-2.0
#pragma once

// File containers: one object as a self-contained file, for
// `strongroom encrypt`/`decrypt`. Layout: docs/FORMAT.md §7.

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/io.h"
#include "base/result.h"
#include "crypto/argon2id.h"
#include "crypto/secret_bytes.h"
#include "format/envelope.h"
#include "format/manifest.h"
#include "format/stream.h"

namespace strongroom::format {

enum class KeySource : uint8_t {
  kPassphrase = 0x01,  // KEK = Argon2id(passphrase)
  kKeyFile = 0x02,     // KEK = the 32 bytes of a key file
};

inline constexpr size_t kKdfSaltSize = 16;
inline constexpr size_t kKeyFileSize = 32;
inline constexpr size_t kFileTrailerSize = 150;  // manifest(142) ‖ BE32 ‖ "SRFE"

// The secret a file is encrypted under. For kPassphrase, `secret` is the
// passphrase and `argon2` the costs used when encrypting (decryption takes
// them from the file); for kKeyFile, `secret` is the 32-byte key.
struct FileKey {
  KeySource source = KeySource::kKeyFile;
  crypto::SecretBytes secret;
  crypto::Argon2idParams argon2;
};

// The parsed fixed part of a file, up to and including the envelope.
struct FileHeader {
  KeySource key_source = KeySource::kKeyFile;
  crypto::Argon2idParams argon2;            // kPassphrase only
  std::array<uint8_t, kKdfSaltSize> kdf_salt{};  // kPassphrase only
  ObjectId object_id{};
  Envelope envelope;
  uint64_t size = 0;  // bytes, up to the start of the data stream
};

struct FileSummary {
  uint64_t plaintext_size = 0;
  uint64_t file_size = 0;
};

// Encrypts everything `source` yields into `sink`. kInvalidArgument for a
// key file that is not 32 bytes, an empty passphrase or bad Argon2 costs.
Result<FileSummary> EncryptFile(const FileKey& key, ByteSource& source, ByteSink& sink);

// Decrypts a file container from a sequential source into `sink`, verifying
// the trailer at the end. Bytes written to `sink` before an error are not
// trustworthy: the caller must discard its output unless this returns a
// value. kUnauthenticated for a wrong passphrase or key; kDataLoss for
// corruption, truncation or trailing data; kInvalidArgument for something
// that is not a version-1 file container.
Result<FileSummary> DecryptFile(const FileKey& key, ByteSource& source, ByteSink& sink);

// What `strongroom inspect` shows. Nothing here is secret or verified.
struct FileInspection {
  FileHeader header;
  Bytes stream_prefix;
  Salt stream_salt{};
  Commitment stream_commitment{};
  uint64_t stream_size = 0;
  Result<Manifest> manifest = InvalidArgument("not read");  // unverified
  uint64_t file_size = 0;
};

// Parses a file container without any key: header, envelope, the stream's
// header fields and the (unverified) manifest trailer. kInvalidArgument or
// kDataLoss if the structure is broken.
Result<FileInspection> InspectFile(RandomAccessSource& file);

}  // namespace strongroom::format
