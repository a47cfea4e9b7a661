// SPDX-License-Identifier: Apache-2.0
#include "format/file_container.h"

#include <algorithm>
#include <string>

#include "crypto/random.h"

namespace strongroom::format {
namespace {

constexpr uint8_t kFileMagic[4] = {'S', 'R', 'F', 'L'};
constexpr uint8_t kTrailerMagic[4] = {'S', 'R', 'F', 'E'};
constexpr uint32_t kFileManifestSize = 142;
constexpr size_t kFixedHeaderSize = 8;
constexpr size_t kKdfParamsSize = 12 + kKdfSaltSize;  // 28
constexpr std::string_view kPassphraseProvider = "passphrase";
constexpr std::string_view kKeyFileProvider = "key-file";
const Binding kFileBinding{};  // files are bound to nothing but their object id

// The KEK for `header` from `key`. Argon2 costs come from the header.
Result<crypto::SecretBytes> DeriveKek(const FileKey& key, const FileHeader& header) {
  if (key.source != header.key_source) {
    return InvalidArgument(header.key_source == KeySource::kPassphrase
                               ? "this file was encrypted with a passphrase, not a key file"
                               : "this file was encrypted with a key file, not a passphrase");
  }
  if (key.source == KeySource::kKeyFile) {
    if (key.secret.size() != kKeyFileSize) {
      return InvalidArgument("a key file must hold exactly 32 bytes, this one has " +
                             std::to_string(key.secret.size()));
    }
    return crypto::SecretBytes::CopyFrom(key.secret.reveal());
  }
  if (key.secret.empty()) {
    return InvalidArgument("the passphrase is empty");
  }
  return crypto::Argon2id(key.secret.reveal(), header.kdf_salt, header.argon2, kDekSize);
}

Bytes SerializeHeaderPrefix(const FileHeader& header) {
  Bytes out;
  Append(out, kFileMagic);
  out.push_back(kFormatVersion);
  out.push_back(static_cast<uint8_t>(header.key_source));
  AppendBe16(out, 0);
  if (header.key_source == KeySource::kPassphrase) {
    AppendBe32(out, header.argon2.iterations);
    AppendBe32(out, header.argon2.memory_kib);
    AppendBe32(out, header.argon2.parallelism);
    Append(out, header.kdf_salt);
  }
  Append(out, header.object_id);
  return out;
}

// Parses the fixed header fields from `read`, which fills a buffer exactly
// or fails (a file or a pipe). Leaves `header.size` set.
template <typename ReadExactly>
Result<FileHeader> ParseHeader(ReadExactly&& read) {
  uint8_t fixed[kFixedHeaderSize];
  STRONGROOM_RETURN_IF_ERROR(read(MutableByteView(fixed)));
  if (!std::equal(fixed, fixed + 4, kFileMagic)) {
    return InvalidArgument("not a strongroom encrypted file (bad magic)");
  }
  if (fixed[4] != kFormatVersion) {
    return InvalidArgument("unsupported strongroom file version " + std::to_string(fixed[4]));
  }
  if (fixed[5] != static_cast<uint8_t>(KeySource::kPassphrase) &&
      fixed[5] != static_cast<uint8_t>(KeySource::kKeyFile)) {
    return InvalidArgument("unknown key source " + std::to_string(fixed[5]));
  }
  if (fixed[6] != 0 || fixed[7] != 0) {
    return InvalidArgument("file header reserved bytes are not zero");
  }
  FileHeader header;
  header.key_source = static_cast<KeySource>(fixed[5]);
  header.size = kFixedHeaderSize;
  if (header.key_source == KeySource::kPassphrase) {
    uint8_t kdf[kKdfParamsSize];
    STRONGROOM_RETURN_IF_ERROR(read(MutableByteView(kdf)));
    header.argon2.iterations = LoadBe32(kdf);
    header.argon2.memory_kib = LoadBe32(kdf + 4);
    header.argon2.parallelism = LoadBe32(kdf + 8);
    std::copy_n(kdf + 12, kKdfSaltSize, header.kdf_salt.begin());
    // Bound the work a crafted file can demand before running Argon2id.
    STRONGROOM_RETURN_IF_ERROR(crypto::ValidateArgon2idParams(header.argon2));
    header.size += kKdfParamsSize;
  }
  uint8_t id_and_length[kObjectIdSize + 4];
  STRONGROOM_RETURN_IF_ERROR(read(MutableByteView(id_and_length)));
  std::copy_n(id_and_length, kObjectIdSize, header.object_id.begin());
  uint32_t envelope_size = LoadBe32(id_and_length + kObjectIdSize);
  if (envelope_size > kMaxEnvelopeSize) {
    return InvalidArgument("envelope length " + std::to_string(envelope_size) +
                           " exceeds 4096 bytes");
  }
  Bytes envelope(envelope_size);
  STRONGROOM_RETURN_IF_ERROR(read(MutableByteView(envelope)));
  STRONGROOM_ASSIGN_OR_RETURN(header.envelope, ParseEnvelope(envelope));
  if (header.envelope.scheme != WrapScheme::kLocalKek) {
    return InvalidArgument("file envelopes use the local-KEK scheme");
  }
  header.size += sizeof(id_and_length) + envelope_size;
  return header;
}

// Withholds the last kFileTrailerSize bytes of a source, so a stream reader
// sees exactly the data stream of a file read from a pipe.
class TrailerHoldingSource : public ByteSource {
 public:
  explicit TrailerHoldingSource(ByteSource& source) : source_(source), buffer_(kCapacity) {}

  Result<size_t> Read(MutableByteView out) override {
    if (held() <= kFileTrailerSize && !eof_) {
      STRONGROOM_RETURN_IF_ERROR(Refill());
    }
    size_t available = held() > kFileTrailerSize ? held() - kFileTrailerSize : 0;
    size_t n = std::min(out.size(), available);
    std::copy_n(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_), n, out.begin());
    begin_ += n;
    return n;
  }

  // After the stream reader saw the end: the withheld trailer. kDataLoss if
  // the source ended before a whole trailer.
  Result<ByteView> Trailer() {
    if (!eof_ || held() != kFileTrailerSize) {
      return DataLoss("file is truncated: the manifest trailer is incomplete");
    }
    return ByteView(buffer_).subspan(begin_, kFileTrailerSize);
  }

 private:
  static constexpr size_t kCapacity = 1 << 20;
  size_t held() const { return end_ - begin_; }

  Result<void> Refill() {
    std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_),
              buffer_.begin() + static_cast<std::ptrdiff_t>(end_), buffer_.begin());
    end_ -= begin_;
    begin_ = 0;
    while (end_ < buffer_.size()) {
      STRONGROOM_ASSIGN_OR_RETURN(size_t n, source_.Read(MutableByteView(buffer_).subspan(end_)));
      if (n == 0) {
        eof_ = true;
        break;
      }
      end_ += n;
    }
    return Ok();
  }

  ByteSource& source_;
  Bytes buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
};

Result<ByteView> ManifestFromTrailer(ByteView trailer) {
  if (LoadBe32(trailer.data() + kFileManifestSize) != kFileManifestSize ||
      !std::equal(kTrailerMagic, kTrailerMagic + 4, trailer.begin() + kFileManifestSize + 4)) {
    return DataLoss("file trailer is malformed (truncated file or trailing data)");
  }
  return trailer.first(kFileManifestSize);
}

}  // namespace

Result<FileSummary> EncryptFile(const FileKey& key, ByteSource& source, ByteSink& sink) {
  FileHeader header;
  header.key_source = key.source;
  header.argon2 = key.argon2;
  STRONGROOM_ASSIGN_OR_RETURN(header.object_id, NewObjectId());
  if (key.source == KeySource::kPassphrase) {
    STRONGROOM_RETURN_IF_ERROR(crypto::RandomFill(header.kdf_salt));
    STRONGROOM_RETURN_IF_ERROR(crypto::ValidateArgon2idParams(header.argon2));
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes kek, DeriveKek(key, header));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes dek, NewDek());
  std::string provider(key.source == KeySource::kPassphrase ? kPassphraseProvider
                                                            : kKeyFileProvider);
  STRONGROOM_ASSIGN_OR_RETURN(header.envelope,
                              WrapDek(WrapScheme::kLocalKek, provider, "", kek.reveal(),
                                      dek.reveal(), header.object_id, kFileBinding, {}));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes envelope, SerializeEnvelope(header.envelope));
  Bytes head = SerializeHeaderPrefix(header);
  AppendBe32(head, static_cast<uint32_t>(envelope.size()));
  Append(head, envelope);
  STRONGROOM_RETURN_IF_ERROR(sink.Write(head));

  STRONGROOM_ASSIGN_OR_RETURN(auto writer,
                              StreamWriter::Create(dek.reveal(), header.object_id, 0, sink));
  Bytes buffer(1 << 20);
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, source.Read(buffer));
    if (n == 0) {
      break;
    }
    STRONGROOM_RETURN_IF_ERROR(writer->Write(ByteView(buffer).first(n)));
  }
  crypto::Cleanse(buffer);
  STRONGROOM_ASSIGN_OR_RETURN(StreamInfo info, writer->Finish());

  Manifest manifest;
  manifest.object_id = header.object_id;
  manifest.streams.push_back(info);
  STRONGROOM_ASSIGN_OR_RETURN(Bytes sealed, SealManifest(manifest, dek.reveal()));
  if (sealed.size() != kFileManifestSize) {
    return Internal("file manifest has an unexpected size");
  }
  AppendBe32(sealed, kFileManifestSize);
  Append(sealed, kTrailerMagic);
  STRONGROOM_RETURN_IF_ERROR(sink.Write(sealed));
  return FileSummary{info.plaintext_size,
                     head.size() + StreamSize(info.plaintext_size) + kFileTrailerSize};
}

Result<FileSummary> DecryptFile(const FileKey& key, ByteSource& source, ByteSink& sink) {
  auto read_exactly = [&](MutableByteView out) -> Result<void> {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, ReadFull(source, out));
    if (n != out.size()) {
      return DataLoss("file is truncated in its header");
    }
    return Ok();
  };
  STRONGROOM_ASSIGN_OR_RETURN(FileHeader header, ParseHeader(read_exactly));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes kek, DeriveKek(key, header));
  auto dek = UnwrapDek(header.envelope, kek.reveal(), header.object_id, kFileBinding, {});
  if (!dek) {
    if (dek.error().code() == ErrorCode::kUnauthenticated) {
      return Unauthenticated(header.key_source == KeySource::kPassphrase
                                 ? "wrong passphrase, or the file header was modified"
                                 : "wrong key file, or the file header was modified");
    }
    return tl::unexpected(dek.error());
  }

  TrailerHoldingSource stream_source(source);
  STRONGROOM_ASSIGN_OR_RETURN(
      auto reader,
      StreamReader::Create(dek->reveal(), header.object_id, 0, stream_source, std::nullopt));
  Bytes buffer(1 << 20);
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, reader->Read(buffer));
    if (n == 0) {
      break;
    }
    STRONGROOM_RETURN_IF_ERROR(sink.Write(ByteView(buffer).first(n)));
  }
  crypto::Cleanse(buffer);

  // FORMAT.md §7: the trailer's manifest must name exactly this stream.
  STRONGROOM_ASSIGN_OR_RETURN(ByteView trailer, stream_source.Trailer());
  STRONGROOM_ASSIGN_OR_RETURN(ByteView manifest_bytes, ManifestFromTrailer(trailer));
  STRONGROOM_ASSIGN_OR_RETURN(
      Manifest manifest,
      OpenManifest(manifest_bytes, dek->reveal(), header.object_id, kFileBinding));
  StreamInfo seen = reader->info();
  const StreamInfo& listed = manifest.streams.front();
  if (manifest.streams.size() != 1 || listed.part_number != 0 ||
      listed.plaintext_size != seen.plaintext_size || listed.salt != seen.salt ||
      listed.commitment != seen.commitment) {
    return DataLoss("the manifest does not describe this file's data stream");
  }
  return FileSummary{seen.plaintext_size,
                     header.size + StreamSize(seen.plaintext_size) + kFileTrailerSize};
}

Result<FileInspection> InspectFile(RandomAccessSource& file) {
  FileInspection out;
  out.file_size = file.size();
  uint64_t offset = 0;
  auto read_exactly = [&](MutableByteView buf) -> Result<void> {
    if (offset + buf.size() > file.size()) {
      return DataLoss("file is truncated in its header");
    }
    STRONGROOM_RETURN_IF_ERROR(file.ReadAt(offset, buf));
    offset += buf.size();
    return Ok();
  };
  STRONGROOM_ASSIGN_OR_RETURN(out.header, ParseHeader(read_exactly));
  if (file.size() < out.header.size + kStreamHeaderSize + kFileTrailerSize) {
    return DataLoss("file is too short to hold a data stream and trailer");
  }
  out.stream_size = file.size() - out.header.size - kFileTrailerSize;
  uint8_t stream_header[kStreamHeaderSize];
  STRONGROOM_RETURN_IF_ERROR(file.ReadAt(out.header.size, stream_header));
  out.stream_prefix.assign(stream_header, stream_header + kStreamPrefixSize);
  std::copy_n(stream_header + kStreamPrefixSize, kSaltSize, out.stream_salt.begin());
  std::copy_n(stream_header + kStreamPrefixSize + kSaltSize, kCommitmentSize,
              out.stream_commitment.begin());
  Bytes trailer(kFileTrailerSize);
  STRONGROOM_RETURN_IF_ERROR(file.ReadAt(file.size() - kFileTrailerSize, trailer));
  auto manifest_bytes = ManifestFromTrailer(trailer);
  out.manifest = manifest_bytes ? ParseManifestUnverified(*manifest_bytes)
                                : Result<Manifest>(tl::unexpected(manifest_bytes.error()));
  return out;
}

}  // namespace strongroom::format
