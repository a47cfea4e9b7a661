// SPDX-License-Identifier: Apache-2.0
// File containers (docs/FORMAT.md §7): key-file and passphrase round trips,
// the byte layout, pipe-style sources, and rejection of truncated, extended
// or modified files — including Argon2 costs that must be refused before any
// key derivation runs.

#include "format/file_container.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/error.h"
#include "base/io.h"
#include "format/envelope.h"
#include "format/manifest.h"
#include "format/stream.h"
#include "testing/test_util.h"

namespace strongroom::format {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::Pattern;

// ------------------------------------------------------------------ helpers



// Cheap Argon2id costs for tests (the minimum the format accepts).
const crypto::Argon2idParams kCheapArgon2{1, 8192, 1};

FileKey KeyFile(uint8_t seed = 1) {
  FileKey key;
  key.source = KeySource::kKeyFile;
  key.secret = crypto::SecretBytes::CopyFrom(Pattern(kKeyFileSize, 500 + seed));
  return key;
}

FileKey Passphrase(std::string_view passphrase = "correct horse battery staple") {
  FileKey key;
  key.source = KeySource::kPassphrase;
  key.secret = crypto::SecretBytes::CopyFrom(AsBytes(passphrase));
  key.argon2 = kCheapArgon2;
  return key;
}

Bytes Encrypt(const FileKey& key, ByteView plaintext, FileSummary* summary = nullptr) {
  ByteViewSource source(plaintext);
  BytesSink sink;
  auto result = EncryptFile(key, source, sink);
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().ToString());
  if (result && summary) *summary = *result;
  return sink.bytes();
}

struct Decrypted {
  Result<FileSummary> result = FileSummary{};
  Bytes output;
};

Decrypted Decrypt(const FileKey& key, ByteSource& source) {
  BytesSink sink;
  Decrypted out;
  out.result = DecryptFile(key, source, sink);
  out.output = sink.bytes();
  return out;
}

Decrypted Decrypt(const FileKey& key, ByteView file) {
  ByteViewSource source(file);
  return Decrypt(key, source);
}

// Hands out data in pieces of 1..7 bytes, like a slow pipe.
class TrickleSource : public ByteSource {
 public:
  TrickleSource(ByteView data, uint64_t seed) : data_(data), rng_(seed) {}
  Result<size_t> Read(MutableByteView out) override {
    size_t n = std::min({out.size(), data_.size() - offset_, size_t{1 + rng_() % 7}});
    std::copy_n(data_.begin() + offset_, n, out.begin());
    offset_ += n;
    return n;
  }

 private:
  ByteView data_;
  std::mt19937_64 rng_;
  size_t offset_ = 0;
};

// Offsets in a file (FORMAT.md §7).
struct Layout {
  size_t object_id;
  size_t envelope_length;
  size_t envelope;
  size_t stream;
  size_t trailer;  // the manifest
};

Layout LayoutOf(ByteView file, bool passphrase) {
  Layout l;
  l.object_id = 8 + (passphrase ? 28 : 0);
  l.envelope_length = l.object_id + 16;
  l.envelope = l.envelope_length + 4;
  l.stream = l.envelope + LoadBe32(file.data() + l.envelope_length);
  l.trailer = file.size() - kFileTrailerSize;
  return l;
}

const std::vector<size_t> kSizes = {0, 1, 100000, 3 << 20};

// ------------------------------------------------------------- round trips

TEST(FileContainerTest, KeyFileRoundTrips) {
  FileKey key = KeyFile();
  for (size_t size : kSizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes plaintext = Pattern(size, size);
    FileSummary enc;
    Bytes file = Encrypt(key, plaintext, &enc);
    EXPECT_EQ(enc.plaintext_size, size);
    EXPECT_EQ(enc.file_size, file.size());
    Decrypted d = Decrypt(key, file);
    ASSERT_TRUE(d.result.has_value()) << d.result.error().ToString();
    EXPECT_EQ(d.output, plaintext);
    EXPECT_EQ(d.result->plaintext_size, size);
    EXPECT_EQ(d.result->file_size, file.size());
  }
}

TEST(FileContainerTest, PassphraseRoundTrips) {
  FileKey key = Passphrase();
  for (size_t size : kSizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes plaintext = Pattern(size, size + 1);
    FileSummary enc;
    Bytes file = Encrypt(key, plaintext, &enc);
    EXPECT_EQ(enc.file_size, file.size());
    // Decryption takes the costs from the file, not from the key.
    FileKey other_costs = Passphrase();
    other_costs.argon2 = crypto::Argon2idParams{};
    Decrypted d = Decrypt(other_costs, file);
    ASSERT_TRUE(d.result.has_value()) << d.result.error().ToString();
    EXPECT_EQ(d.output, plaintext);
  }
}

TEST(FileContainerTest, PipeSourceInTinyPiecesDecryptsCorrectly) {
  FileKey key = KeyFile();
  for (size_t size : {size_t{0}, size_t{16384}, size_t{100000}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes plaintext = Pattern(size, 40 + size);
    // Encrypt from a trickling source as well.
    TrickleSource plain_source(plaintext, 1);
    BytesSink sink;
    ASSERT_TRUE(EncryptFile(key, plain_source, sink).has_value());
    TrickleSource file_source(sink.bytes(), 2);
    Decrypted d = Decrypt(key, file_source);
    ASSERT_TRUE(d.result.has_value()) << d.result.error().ToString();
    EXPECT_EQ(d.output, plaintext);
  }
}

TEST(FileContainerTest, PipeSourceStillDetectsCorruption) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(50000, 3));
  Bytes truncated(file.begin(), file.end() - 1);
  TrickleSource short_source(truncated, 4);
  EXPECT_TRUE(FailsWith(Decrypt(key, short_source).result, ErrorCode::kDataLoss));
  Bytes flipped = file;
  flipped[flipped.size() - 10] ^= 1;
  TrickleSource flipped_source(flipped, 5);
  EXPECT_FALSE(Decrypt(key, flipped_source).result.has_value());
}

TEST(FileContainerTest, EveryEncryptionIsFresh) {
  FileKey key = KeyFile();
  Bytes plaintext = Pattern(100, 6);
  Bytes a = Encrypt(key, plaintext), b = Encrypt(key, plaintext);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_NE(a, b);
  Layout l = LayoutOf(a, false);
  EXPECT_FALSE(
      std::equal(a.begin() + l.object_id, a.begin() + l.object_id + 16, b.begin() + l.object_id));
}

// ------------------------------------------------------------------ layout

TEST(FileContainerTest, KeyFileLayoutMatchesTheFormat) {
  Bytes plaintext = Pattern(20000, 7);
  Bytes file = Encrypt(KeyFile(), plaintext);
  Layout l = LayoutOf(file, false);
  EXPECT_EQ(Bytes(file.begin(), file.begin() + 8), (Bytes{'S', 'R', 'F', 'L', 1, 2, 0, 0}));
  uint32_t e = LoadBe32(file.data() + l.envelope_length);
  EXPECT_LE(e, 4096u);
  auto envelope = ParseEnvelope(ByteView(file).subspan(l.envelope, e));
  ASSERT_TRUE(envelope.has_value()) << envelope.error().ToString();
  EXPECT_EQ(envelope->scheme, WrapScheme::kLocalKek);
  EXPECT_EQ(envelope->provider_id, "key-file");
  EXPECT_EQ(envelope->key_id, "");
  EXPECT_EQ(Bytes(file.begin() + l.stream, file.begin() + l.stream + 8),
            (Bytes{'S', 'R', 'D', 'S', 1, 1, 1, 0}));
  EXPECT_EQ(l.trailer - l.stream, StreamSize(plaintext.size()));
  EXPECT_EQ(LoadBe32(file.data() + file.size() - 8), 142u);
  EXPECT_EQ(Bytes(file.end() - 4, file.end()), (Bytes{'S', 'R', 'F', 'E'}));
  // 8 + 16 + 4 + E + C(P) + 150
  EXPECT_EQ(file.size(), 8 + 16 + 4 + e + StreamSize(plaintext.size()) + 150);

  // The object id in the header opens the envelope and the manifest.
  ObjectId id;
  std::copy_n(file.begin() + l.object_id, 16, id.begin());
  FileKey key = KeyFile();
  auto dek = UnwrapDek(*envelope, key.secret.reveal(), id, Binding{}, {});
  ASSERT_TRUE(dek.has_value()) << dek.error().ToString();
  auto manifest =
      OpenManifest(ByteView(file).subspan(l.trailer, 142), dek->reveal(), id, Binding{});
  ASSERT_TRUE(manifest.has_value()) << manifest.error().ToString();
  ASSERT_EQ(manifest->streams.size(), 1u);
  EXPECT_EQ(manifest->streams[0].part_number, 0u);
  EXPECT_EQ(manifest->streams[0].plaintext_size, plaintext.size());
  EXPECT_TRUE(std::equal(manifest->streams[0].salt.begin(), manifest->streams[0].salt.end(),
                         file.begin() + l.stream + 8));
}

TEST(FileContainerTest, PassphraseLayoutMatchesTheFormat) {
  Bytes file = Encrypt(Passphrase(), Pattern(10, 8));
  EXPECT_EQ(Bytes(file.begin(), file.begin() + 8), (Bytes{'S', 'R', 'F', 'L', 1, 1, 0, 0}));
  EXPECT_EQ(LoadBe32(file.data() + 8), 1u);      // iterations
  EXPECT_EQ(LoadBe32(file.data() + 12), 8192u);  // memory_kib
  EXPECT_EQ(LoadBe32(file.data() + 16), 1u);     // parallelism
  Layout l = LayoutOf(file, true);
  uint32_t e = LoadBe32(file.data() + l.envelope_length);
  auto envelope = ParseEnvelope(ByteView(file).subspan(l.envelope, e));
  ASSERT_TRUE(envelope.has_value());
  EXPECT_EQ(envelope->provider_id, "passphrase");
  EXPECT_EQ(file.size(), 8 + 28 + 16 + 4 + e + StreamSize(10) + 150);
}

// --------------------------------------------------------------- wrong key

TEST(FileContainerTest, WrongPassphraseIsUnauthenticated) {
  Bytes file = Encrypt(Passphrase("right"), Pattern(1000, 9));
  Decrypted d = Decrypt(Passphrase("wrong"), file);
  EXPECT_TRUE(FailsWith(d.result, ErrorCode::kUnauthenticated));
  EXPECT_TRUE(d.output.empty());
}

TEST(FileContainerTest, WrongKeyFileIsUnauthenticated) {
  Bytes file = Encrypt(KeyFile(1), Pattern(1000, 10));
  Decrypted d = Decrypt(KeyFile(2), file);
  EXPECT_TRUE(FailsWith(d.result, ErrorCode::kUnauthenticated));
  EXPECT_TRUE(d.output.empty());
}

TEST(FileContainerTest, KeyFileEncryptedFileGivenAPassphraseIsInvalidArgument) {
  Bytes file = Encrypt(KeyFile(), Pattern(1000, 11));
  EXPECT_TRUE(FailsWith(Decrypt(Passphrase(), file).result, ErrorCode::kInvalidArgument));
}

TEST(FileContainerTest, PassphraseEncryptedFileGivenAKeyFileIsInvalidArgument) {
  Bytes file = Encrypt(Passphrase(), Pattern(1000, 12));
  EXPECT_TRUE(FailsWith(Decrypt(KeyFile(), file).result, ErrorCode::kInvalidArgument));
}

TEST(FileContainerTest, KeyFileOfTheWrongSizeIsInvalidArgument) {
  Bytes file = Encrypt(KeyFile(), Pattern(1000, 13));
  FileKey short_key;
  short_key.source = KeySource::kKeyFile;
  short_key.secret = crypto::SecretBytes::CopyFrom(Pattern(31, 1));
  EXPECT_TRUE(FailsWith(Decrypt(short_key, file).result, ErrorCode::kInvalidArgument));
  Bytes plaintext(10, 1);
  ByteViewSource source(plaintext);
  BytesSink sink;
  EXPECT_TRUE(FailsWith(EncryptFile(short_key, source, sink), ErrorCode::kInvalidArgument));
}

TEST(FileContainerTest, EncryptRejectsAnEmptyPassphrase) {
  Bytes plaintext(10, 1);
  ByteViewSource source(plaintext);
  BytesSink sink;
  EXPECT_TRUE(FailsWith(EncryptFile(Passphrase(""), source, sink), ErrorCode::kInvalidArgument));
}

TEST(FileContainerTest, EncryptRejectsArgon2CostsOutsideTheBounds) {
  for (crypto::Argon2idParams params :
       {crypto::Argon2idParams{0, 8192, 1}, crypto::Argon2idParams{65, 8192, 1},
        crypto::Argon2idParams{1, 4096, 1}, crypto::Argon2idParams{1, 8192, 0},
        crypto::Argon2idParams{1, 8192, 65}}) {
    FileKey key = Passphrase();
    key.argon2 = params;
    Bytes plaintext(10, 1);
    ByteViewSource source(plaintext);
    BytesSink sink;
    EXPECT_TRUE(FailsWith(EncryptFile(key, source, sink), ErrorCode::kInvalidArgument))
        << params.iterations << "/" << params.memory_kib << "/" << params.parallelism;
  }
}

// -------------------------------------------------------------- truncation

TEST(FileContainerTest, TruncatedByOneByteIsDataLoss) {
  FileKey key = KeyFile();
  Bytes plaintext = Pattern(100000, 14);
  Bytes file = Encrypt(key, plaintext);
  file.pop_back();
  Decrypted d = Decrypt(key, file);
  EXPECT_TRUE(FailsWith(d.result, ErrorCode::kDataLoss));
  // What reached the sink before the error is a verified prefix.
  EXPECT_TRUE(std::equal(d.output.begin(), d.output.end(), plaintext.begin()));
  EXPECT_LT(d.output.size(), plaintext.size());
}

TEST(FileContainerTest, TruncatedBy150BytesAtTheStreamTrailerBoundaryIsDataLoss) {
  for (bool passphrase : {false, true}) {
    FileKey key = passphrase ? Passphrase() : KeyFile();
    Bytes plaintext = Pattern(100000, 15);
    Bytes file = Encrypt(key, plaintext);
    Layout l = LayoutOf(file, passphrase);
    file.resize(file.size() - 150);
    ASSERT_EQ(file.size(), l.trailer);  // ends exactly where the stream ends
    Decrypted d = Decrypt(key, file);
    EXPECT_TRUE(FailsWith(d.result, ErrorCode::kDataLoss)) << passphrase;
    EXPECT_LT(d.output.size(), plaintext.size());
  }
}

TEST(FileContainerTest, TruncatedInsideTheTrailerIsDataLoss) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(3000, 16));
  for (size_t cut :
       {size_t{2}, size_t{4}, size_t{8}, size_t{50}, size_t{149}, size_t{151}, size_t{166}}) {
    Bytes shorter(file.begin(), file.end() - cut);
    EXPECT_TRUE(FailsWith(Decrypt(key, shorter).result, ErrorCode::kDataLoss)) << cut;
  }
}

TEST(FileContainerTest, TruncatedToTheHeaderIsDataLoss) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(3000, 17));
  Layout l = LayoutOf(file, false);
  for (size_t len : {l.stream, l.stream + 8, l.stream + 64, l.stream + 150}) {
    Decrypted d = Decrypt(key, ByteView(file).first(len));
    EXPECT_TRUE(FailsWith(d.result, ErrorCode::kDataLoss)) << len;
    EXPECT_TRUE(d.output.empty());
  }
}

TEST(FileContainerTest, TruncatedInsideTheHeaderIsDataLoss) {
  for (bool passphrase : {false, true}) {
    FileKey key = passphrase ? Passphrase() : KeyFile();
    Bytes file = Encrypt(key, Pattern(10, 18));
    Layout l = LayoutOf(file, passphrase);
    for (size_t len = 0; len < l.stream; ++len) {
      Decrypted d = Decrypt(key, ByteView(file).first(len));
      EXPECT_TRUE(FailsWith(d.result, ErrorCode::kDataLoss)) << passphrase << " " << len;
    }
  }
}

TEST(FileContainerTest, MissingChunkInsideTheStreamIsDataLoss) {
  FileKey key = KeyFile();
  Bytes plaintext = Pattern(3 * 16384 + 5, 19);
  Bytes file = Encrypt(key, plaintext);
  Layout l = LayoutOf(file, false);
  size_t chunk1 = l.stream + kStreamHeaderSize + kSealedChunkSize;
  Bytes bad = file;
  bad.erase(bad.begin() + chunk1, bad.begin() + chunk1 + kSealedChunkSize);
  Decrypted d = Decrypt(key, bad);
  EXPECT_TRUE(FailsWith(d.result, ErrorCode::kDataLoss));
  EXPECT_TRUE(std::equal(d.output.begin(), d.output.end(), plaintext.begin()));
}

// --------------------------------------------------------------- extension

TEST(FileContainerTest, TrailingByteIsDataLoss) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(100000, 20));
  file.push_back(0x00);
  EXPECT_TRUE(FailsWith(Decrypt(key, file).result, ErrorCode::kDataLoss));
}

TEST(FileContainerTest, DuplicatedTrailerIsDataLoss) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(1000, 21));
  Bytes trailer(file.end() - 150, file.end());
  Append(file, trailer);
  EXPECT_TRUE(FailsWith(Decrypt(key, file).result, ErrorCode::kDataLoss));
}

// ---------------------------------------------------------- modified bytes

TEST(FileContainerTest, FlippedTrailerMagicIsDataLoss) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(1000, 22));
  for (size_t i = file.size() - 4; i < file.size(); ++i) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kDataLoss)) << i;
  }
}

TEST(FileContainerTest, FlippedManifestLengthIsDataLoss) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(1000, 23));
  for (size_t i = file.size() - 8; i < file.size() - 4; ++i) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kDataLoss)) << i;
  }
}

TEST(FileContainerTest, FlippedManifestByteIsRejected) {
  FileKey key = KeyFile();
  Bytes plaintext = Pattern(1000, 24);
  Bytes file = Encrypt(key, plaintext);
  Layout l = LayoutOf(file, false);
  for (size_t i = l.trailer; i < l.trailer + 142; ++i) {
    Bytes bad = file;
    bad[i] ^= 0x10;
    auto result = Decrypt(key, bad).result;
    ASSERT_FALSE(result.has_value()) << "manifest byte " << i - l.trailer;
    ErrorCode code = result.error().code();
    EXPECT_TRUE(code == ErrorCode::kDataLoss || code == ErrorCode::kInvalidArgument)
        << result.error().ToString();
  }
  // An entry's salt: structurally fine, so the MAC catches it.
  Bytes bad = file;
  bad[l.trailer + 36 + 12] ^= 0x01;
  EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kDataLoss));
}

TEST(FileContainerTest, FlippedStreamByteIsRejected) {
  FileKey key = KeyFile();
  Bytes plaintext = Pattern(40000, 25);
  Bytes file = Encrypt(key, plaintext);
  Layout l = LayoutOf(file, false);
  // Prefix, salt, commitment, first chunk, last chunk's tag.
  for (size_t at : {l.stream, l.stream + 7, l.stream + 8, l.stream + 40, l.stream + 64,
                    l.stream + 64 + 20000, l.trailer - 1}) {
    Bytes bad = file;
    bad[at] ^= 0x01;
    Decrypted d = Decrypt(key, bad);
    ASSERT_FALSE(d.result.has_value()) << at - l.stream;
    ErrorCode code = d.result.error().code();
    EXPECT_TRUE(code == ErrorCode::kDataLoss || code == ErrorCode::kInvalidArgument)
        << d.result.error().ToString();
    EXPECT_TRUE(std::equal(d.output.begin(), d.output.end(), plaintext.begin()));
  }
  Bytes bad = file;
  bad[l.stream + 64 + 100] ^= 0x01;
  EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kDataLoss));
}

TEST(FileContainerTest, FlippedHeaderMagicVersionOrKeySourceIsInvalidArgument) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(100, 26));
  for (size_t i = 0; i < 5; ++i) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kInvalidArgument)) << i;
  }
  for (uint8_t source : {0x00, 0x03, 0xFF}) {
    Bytes bad = file;
    bad[5] = source;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kInvalidArgument)) << int{source};
  }
}

TEST(FileContainerTest, NonZeroHeaderReservedByteIsInvalidArgument) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(100, 27));
  for (size_t i : {6, 7}) {
    Bytes bad = file;
    bad[i] = 0x01;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kInvalidArgument)) << i;
  }
}

// Sets one 32-bit Argon2 field of a passphrase file, decrypts, and checks
// that the file is refused quickly (no Argon2id ran at a crafted cost).
void ExpectArgon2FieldRejected(size_t offset, uint32_t value) {
  FileKey key = Passphrase();
  Bytes file = Encrypt(key, Pattern(100, 28));
  StoreBe32(file.data() + offset, value);
  auto start = std::chrono::steady_clock::now();
  Decrypted d = Decrypt(key, file);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(FailsWith(d.result, ErrorCode::kInvalidArgument)) << offset << " = " << value;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(FileContainerTest, HeaderArgon2ZeroIterationsIsRejectedBeforeRunningArgon2) {
  ExpectArgon2FieldRejected(8, 0);
}

TEST(FileContainerTest, HeaderArgon2TooManyIterationsIsRejectedBeforeRunningArgon2) {
  ExpectArgon2FieldRejected(8, 65);
  ExpectArgon2FieldRejected(8, 0xFFFFFFFF);
}

TEST(FileContainerTest, HeaderArgon2MemoryAbove4GiBIsRejectedBeforeRunningArgon2) {
  ExpectArgon2FieldRejected(12, 4 * 1024 * 1024 + 1);
  ExpectArgon2FieldRejected(12, 0xFFFFFFFF);
}

TEST(FileContainerTest, HeaderArgon2MemoryBelow8MiBIsRejected) {
  ExpectArgon2FieldRejected(12, 8191);
  ExpectArgon2FieldRejected(12, 0);
}

TEST(FileContainerTest, HeaderArgon2BadParallelismIsRejectedBeforeRunningArgon2) {
  ExpectArgon2FieldRejected(16, 0);
  ExpectArgon2FieldRejected(16, 65);
}

TEST(FileContainerTest, HeaderArgon2ChangedWithinBoundsIsUnauthenticated) {
  FileKey key = Passphrase();
  Bytes file = Encrypt(key, Pattern(100, 29));
  Bytes bad = file;
  StoreBe32(bad.data() + 8, 2);  // t = 2: a different KEK
  EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kUnauthenticated));
}

TEST(FileContainerTest, FlippedKdfSaltIsUnauthenticated) {
  FileKey key = Passphrase();
  Bytes file = Encrypt(key, Pattern(100, 30));
  for (size_t i : {20, 35}) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kUnauthenticated)) << i;
  }
}

TEST(FileContainerTest, FlippedObjectIdIsUnauthenticated) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(100, 31));
  Layout l = LayoutOf(file, false);
  for (size_t i = l.object_id; i < l.object_id + 16; i += 5) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kUnauthenticated)) << i;
  }
}

TEST(FileContainerTest, EnvelopeLengthAbove4096IsInvalidArgument) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(100, 32));
  Layout l = LayoutOf(file, false);
  StoreBe32(file.data() + l.envelope_length, 4097);
  EXPECT_TRUE(FailsWith(Decrypt(key, file).result, ErrorCode::kInvalidArgument));
  StoreBe32(file.data() + l.envelope_length, 0xFFFFFFFF);
  EXPECT_TRUE(FailsWith(Decrypt(key, file).result, ErrorCode::kInvalidArgument));
}

TEST(FileContainerTest, EnvelopeSchemeOtherThanLocalKekIsInvalidArgument) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(100, 41));
  Layout l = LayoutOf(file, false);
  ASSERT_EQ(file[l.envelope + 5], 0x02);
  for (uint8_t scheme : {0x01, 0x03}) {
    Bytes bad = file;
    bad[l.envelope + 5] = scheme;
    EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kInvalidArgument)) << int{scheme};
  }
}

TEST(FileContainerTest, EveryFlippedEnvelopeByteIsRejected) {
  FileKey key = KeyFile();
  Bytes file = Encrypt(key, Pattern(100, 33));
  Layout l = LayoutOf(file, false);
  for (size_t i = l.envelope_length; i < l.stream; ++i) {
    Bytes bad = file;
    bad[i] ^= 0x01;
    auto result = Decrypt(key, bad).result;
    ASSERT_FALSE(result.has_value()) << "envelope byte " << i - l.envelope;
    ErrorCode code = result.error().code();
    EXPECT_TRUE(code == ErrorCode::kUnauthenticated || code == ErrorCode::kInvalidArgument ||
                code == ErrorCode::kDataLoss)
        << result.error().ToString();
  }
  // The wrapped key itself: only the unwrap can notice.
  Bytes bad = file;
  bad[l.stream - 1] ^= 0x01;
  EXPECT_TRUE(FailsWith(Decrypt(key, bad).result, ErrorCode::kUnauthenticated));
}

// ---------------------------------------------- substitution with the DEK

TEST(FileContainerTest, ValidManifestForAnotherStreamIsDataLoss) {
  // Someone who knows the key re-MACs a manifest naming different stream
  // data: the trailer no longer describes the stream that was decrypted.
  FileKey key = KeyFile();
  Bytes plaintext = Pattern(5000, 34);
  Bytes file = Encrypt(key, plaintext);
  Layout l = LayoutOf(file, false);
  auto envelope = ParseEnvelope(ByteView(file).subspan(l.envelope, l.stream - l.envelope));
  ASSERT_TRUE(envelope.has_value());
  ObjectId id;
  std::copy_n(file.begin() + l.object_id, 16, id.begin());
  auto dek = UnwrapDek(*envelope, key.secret.reveal(), id, Binding{}, {});
  ASSERT_TRUE(dek.has_value());
  auto manifest = OpenManifest(ByteView(file).subspan(l.trailer, 142), dek->reveal(), id, {});
  ASSERT_TRUE(manifest.has_value());

  auto substitute = [&](auto mutate) {
    Manifest m = *manifest;
    mutate(m.streams[0]);
    auto sealed = SealManifest(m, dek->reveal());
    if (!sealed) return Result<FileSummary>(tl::unexpected(sealed.error()));
    Bytes bad = file;
    std::copy(sealed->begin(), sealed->end(), bad.begin() + l.trailer);
    return Decrypt(key, bad).result;
  };
  EXPECT_TRUE(FailsWith(substitute([](StreamInfo& s) { s.salt[0] ^= 1; }), ErrorCode::kDataLoss));
  EXPECT_TRUE(
      FailsWith(substitute([](StreamInfo& s) { s.commitment[0] ^= 1; }), ErrorCode::kDataLoss));
  EXPECT_TRUE(
      FailsWith(substitute([](StreamInfo& s) { s.plaintext_size += 1; }), ErrorCode::kDataLoss));
  // Control: re-sealing the same manifest is accepted.
  EXPECT_TRUE(substitute([](StreamInfo&) {}).has_value());
}

TEST(FileContainerTest, StreamAndTrailerFromAnotherFileAreRejected) {
  FileKey key = KeyFile();
  Bytes a = Encrypt(key, Pattern(1000, 35)), b = Encrypt(key, Pattern(1000, 36));
  Layout la = LayoutOf(a, false), lb = LayoutOf(b, false);
  Bytes spliced(a.begin(), a.begin() + la.stream);
  spliced.insert(spliced.end(), b.begin() + lb.stream, b.end());
  Decrypted d = Decrypt(key, spliced);
  EXPECT_TRUE(FailsWith(d.result, ErrorCode::kDataLoss));
  EXPECT_TRUE(d.output.empty());
}

// ----------------------------------------------------------------- inspect

TEST(FileContainerTest, InspectReportsThePassphraseHeaderAndUnverifiedManifest) {
  Bytes plaintext = Pattern(100000, 37);
  Bytes file = Encrypt(Passphrase(), plaintext);
  Layout l = LayoutOf(file, true);
  ByteViewRandomAccessSource source(file);
  auto inspection = InspectFile(source);
  ASSERT_TRUE(inspection.has_value()) << inspection.error().ToString();
  const FileHeader& h = inspection->header;
  EXPECT_EQ(h.key_source, KeySource::kPassphrase);
  EXPECT_EQ(h.argon2.iterations, 1u);
  EXPECT_EQ(h.argon2.memory_kib, 8192u);
  EXPECT_EQ(h.argon2.parallelism, 1u);
  EXPECT_TRUE(std::equal(h.kdf_salt.begin(), h.kdf_salt.end(), file.begin() + 20));
  EXPECT_TRUE(std::equal(h.object_id.begin(), h.object_id.end(), file.begin() + l.object_id));
  EXPECT_EQ(h.envelope.provider_id, "passphrase");
  EXPECT_EQ(h.size, l.stream);
  EXPECT_EQ(inspection->stream_prefix, (Bytes{'S', 'R', 'D', 'S', 1, 1, 1, 0}));
  EXPECT_EQ(inspection->stream_size, StreamSize(plaintext.size()));
  EXPECT_EQ(inspection->file_size, file.size());
  ASSERT_TRUE(inspection->manifest.has_value()) << inspection->manifest.error().ToString();
  EXPECT_EQ(inspection->manifest->plaintext_size(), plaintext.size());
  EXPECT_EQ(inspection->manifest->object_id, h.object_id);
  ASSERT_EQ(inspection->manifest->streams.size(), 1u);
  EXPECT_EQ(inspection->manifest->streams[0].salt, inspection->stream_salt);
  EXPECT_EQ(inspection->manifest->streams[0].commitment, inspection->stream_commitment);
}

TEST(FileContainerTest, InspectReportsAKeyFileHeader) {
  Bytes file = Encrypt(KeyFile(), {});
  ByteViewRandomAccessSource source(file);
  auto inspection = InspectFile(source);
  ASSERT_TRUE(inspection.has_value()) << inspection.error().ToString();
  EXPECT_EQ(inspection->header.key_source, KeySource::kKeyFile);
  EXPECT_EQ(inspection->header.envelope.provider_id, "key-file");
  EXPECT_EQ(inspection->stream_size, 80u);
  ASSERT_TRUE(inspection->manifest.has_value());
  EXPECT_EQ(inspection->manifest->plaintext_size(), 0u);
}

TEST(FileContainerTest, InspectReportsABrokenTrailerWithoutFailing) {
  Bytes file = Encrypt(KeyFile(), Pattern(100, 38));
  file[file.size() - 1] ^= 1;  // trailer magic
  ByteViewRandomAccessSource source(file);
  auto inspection = InspectFile(source);
  ASSERT_TRUE(inspection.has_value()) << inspection.error().ToString();
  EXPECT_TRUE(FailsWith(inspection->manifest, ErrorCode::kDataLoss));
}

TEST(FileContainerTest, InspectRejectsATooShortFile) {
  Bytes file = Encrypt(KeyFile(), Pattern(100, 39));
  Layout l = LayoutOf(file, false);
  for (size_t len : {size_t{0}, size_t{7}, size_t{30}, l.stream, l.stream + 64 + 149}) {
    ByteViewRandomAccessSource source(ByteView(file).first(len));
    EXPECT_TRUE(FailsWith(InspectFile(source), ErrorCode::kDataLoss)) << len;
  }
}

TEST(FileContainerTest, InspectRejectsABadHeader) {
  Bytes file = Encrypt(Passphrase(), Pattern(100, 40));
  Bytes bad_magic = file;
  bad_magic[0] = 'X';
  ByteViewRandomAccessSource magic_source(bad_magic);
  EXPECT_TRUE(FailsWith(InspectFile(magic_source), ErrorCode::kInvalidArgument));
  Bytes bad_argon = file;
  StoreBe32(bad_argon.data() + 12, 0xFFFFFFFF);
  ByteViewRandomAccessSource argon_source(bad_argon);
  EXPECT_TRUE(FailsWith(InspectFile(argon_source), ErrorCode::kInvalidArgument));
}

}  // namespace
}  // namespace strongroom::format
