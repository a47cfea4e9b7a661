// SPDX-License-Identifier: Apache-2.0
// Fuzzes the manifest parser (FORMAT.md §5, §8 rule 7): ParseManifestUnverified
// and OpenManifest on the raw input, with a fixed DEK, object id and binding
// (fuzz_common.h; the seeds with that identity open successfully).
//
// Oracles:
//  * OpenManifest succeeds only if ParseManifestUnverified does, with the same
//    fields and the expected object id and binding.
//  * Round trip: whatever ParseManifestUnverified accepts, SealManifest must
//    re-seal, to the same bytes up to the tag (the encoding is canonical), and
//    the result must parse and open back to the same fields.
//  * The input opens under the fixed identity iff it names that identity and
//    re-sealing it under the fixed DEK reproduces it exactly (same tag).

#include <algorithm>
#include <cstdint>

#include "base/bytes.h"
#include "format/manifest.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strongroom;
  using namespace strongroom::fuzz;
  ByteView input(data, size);
  const ByteView dek = AsBytes(kFuzzDek);
  const format::ObjectId id = FuzzObjectId();
  const format::Binding binding = FuzzBinding();

  auto parsed = format::ParseManifestUnverified(input);
  auto opened = format::OpenManifest(input, dek, id, binding);
  if (opened) {
    FUZZ_CHECK(parsed.has_value(), "OpenManifest accepted what the parser rejects");
    FUZZ_CHECK(SameManifest(*parsed, *opened), "OpenManifest and the parser disagree");
    FUZZ_CHECK(opened->object_id == id && opened->binding == binding,
               "OpenManifest accepted another object id or binding");
  }
  if (!parsed) {
    return 0;
  }

  // Structural facts the parser promises (FORMAT.md §5).
  const format::Manifest& m = *parsed;
  FUZZ_CHECK(!m.streams.empty() && m.streams.size() <= format::kMaxPartNumber,
             "parsed manifest has an invalid stream count");
  FUZZ_CHECK(input.size() >= 36 && LoadBe64(input.data() + 24) == m.plaintext_size(),
             "parsed manifest total is not the sum of its entries");
  FUZZ_CHECK(m.binding.bucket.size() <= UINT16_MAX && m.binding.object_key.size() <= UINT16_MAX,
             "parsed binding is too long");

  // Round trip through SealManifest.
  auto sealed = format::SealManifest(m, dek);
  FUZZ_CHECK(sealed.has_value(), "SealManifest rejected a manifest the parser accepted");
  FUZZ_CHECK(sealed->size() == input.size(), "re-sealed manifest has a different length");
  const size_t body = input.size() - format::kManifestTagSize;
  FUZZ_CHECK(std::equal(sealed->begin(), sealed->begin() + static_cast<std::ptrdiff_t>(body),
                        input.begin()),
             "re-sealed manifest body differs from the input (non-canonical encoding)");
  auto reparsed = format::ParseManifestUnverified(*sealed);
  FUZZ_CHECK(reparsed.has_value() && SameManifest(*reparsed, m),
             "re-sealed manifest does not parse back to the same fields");
  auto reopened = format::OpenManifest(*sealed, dek, m.object_id, m.binding);
  FUZZ_CHECK(reopened.has_value() && SameManifest(*reopened, m),
             "re-sealed manifest does not open under its own key, object id and binding");

  const bool identical = ByteView(*sealed).size() == input.size() &&
                         std::equal(sealed->begin(), sealed->end(), input.begin());
  const bool expected_identity = m.object_id == id && m.binding == binding;
  FUZZ_CHECK((identical && expected_identity) == opened.has_value(),
             "OpenManifest's verdict disagrees with re-sealing under the same key");
  return 0;
}
