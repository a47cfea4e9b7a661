// SPDX-License-Identifier: Apache-2.0
// Fuzzes file containers (FORMAT.md §7): DecryptFile with the fixed key-file
// key (fuzz_common.h; the seeds were encrypted with it, so they decrypt) and
// InspectFile, on the raw input.
//
// Only key-file mode is ever used to decrypt. A file that claims passphrase
// mode is rejected by DecryptFile (key source mismatch) before Argon2id could
// run, and InspectFile runs no KDF at all, so no input can make an iteration
// expensive.
//
// Oracles:
//  * DecryptFile gives the same verdict, error code and output whether the
//    source returns everything at once or a few bytes per call.
//  * On success: the summary matches the input length and the output, and
//    InspectFile succeeds and describes the same stream (size, salt,
//    commitment) and a manifest naming it.

#include <algorithm>
#include <cstdint>

#include "base/bytes.h"
#include "base/io.h"
#include "crypto/secret_bytes.h"
#include "format/file_container.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strongroom;
  using namespace strongroom::fuzz;
  ByteView input(data, size);

  format::FileKey key;
  key.source = format::KeySource::kKeyFile;
  key.secret = crypto::SecretBytes::CopyFrom(AsBytes(kFuzzKeyFile));

  ByteViewSource whole(input);
  BytesSink out_whole;
  auto result_whole = format::DecryptFile(key, whole, out_whole);

  // 1..piece bytes per Read; the piece size comes from the input so each
  // input is reproducible.
  const size_t piece = 1 + HashBytes(input) % 97;
  PiecewiseSource pieces(input, piece);
  BytesSink out_pieces;
  auto result_pieces = format::DecryptFile(key, pieces, out_pieces);

  FUZZ_CHECK(result_whole.has_value() == result_pieces.has_value(),
             "DecryptFile's verdict depends on how the source splits its reads");
  if (result_whole) {
    FUZZ_CHECK(out_whole.bytes() == out_pieces.bytes() &&
                   result_whole->plaintext_size == result_pieces->plaintext_size &&
                   result_whole->file_size == result_pieces->file_size,
               "DecryptFile's output depends on how the source splits its reads");
    FUZZ_CHECK(result_whole->file_size == input.size(),
               "DecryptFile accepted a file whose length is not what it parsed");
    FUZZ_CHECK(result_whole->plaintext_size == out_whole.bytes().size(),
               "DecryptFile's plaintext size disagrees with its output");
  } else {
    FUZZ_CHECK(result_whole.error().code() == result_pieces.error().code(),
               "DecryptFile's error depends on how the source splits its reads");
  }

  ByteViewRandomAccessSource file(input);
  auto inspection = format::InspectFile(file);
  if (inspection) {
    FUZZ_CHECK(inspection->file_size == input.size(), "InspectFile reports a wrong file size");
    FUZZ_CHECK(inspection->stream_prefix.size() == format::kStreamPrefixSize,
               "InspectFile reports a truncated stream prefix");
    FUZZ_CHECK(inspection->header.size + inspection->stream_size + format::kFileTrailerSize ==
                   input.size(),
               "InspectFile's sizes do not add up to the file");
  }
  if (result_whole) {
    FUZZ_CHECK(inspection.has_value(), "InspectFile rejected a file that decrypted");
    FUZZ_CHECK(inspection->header.key_source == format::KeySource::kKeyFile,
               "InspectFile reports another key source");
    FUZZ_CHECK(inspection->stream_size == format::StreamSize(result_whole->plaintext_size),
               "InspectFile's stream size disagrees with the decrypted length");
    FUZZ_CHECK(inspection->manifest.has_value(), "InspectFile could not read a verified trailer");
    const format::Manifest& manifest = *inspection->manifest;
    FUZZ_CHECK(manifest.streams.size() == 1 && manifest.streams[0].part_number == 0 &&
                   manifest.streams[0].plaintext_size == result_whole->plaintext_size &&
                   manifest.streams[0].salt == inspection->stream_salt &&
                   manifest.streams[0].commitment == inspection->stream_commitment &&
                   manifest.object_id == inspection->header.object_id,
               "InspectFile's manifest does not describe the stream that decrypted");
  }
  return 0;
}
