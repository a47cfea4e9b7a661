// SPDX-License-Identifier: Apache-2.0
// Fuzzes envelopes (FORMAT.md §6, §8 rule 9): ParseEnvelope on the input,
// then SerializeEnvelope and UnwrapDek with a fixed KEK, object id and binding
// (fuzz_common.h) and the empty context.
//
// Oracles:
//  * Whatever ParseEnvelope accepts, SerializeEnvelope reproduces byte for
//    byte (the parse is strict, so the encoding is canonical).
//  * UnwrapDek never crashes. The external scheme always fails with
//    kUnimplemented. When it succeeds, the DEK is kFuzzDek (every seed that
//    unwraps wraps that key; nothing else can be forged), and the same
//    envelope must NOT unwrap under a different KEK, object id, binding or
//    context.
//  * For the local schemes, re-wrapping kFuzzDek with the parsed scheme,
//    provider id and key id gives an envelope that serializes, parses and
//    unwraps back to kFuzzDek.

#include <algorithm>
#include <cstdint>

#include "base/bytes.h"
#include "format/envelope.h"
#include "fuzz_common.h"

namespace {

bool EqualsDek(const strongroom::crypto::SecretBytes& dek) {
  strongroom::ByteView want = strongroom::AsBytes(strongroom::fuzz::kFuzzDek);
  return dek.size() == want.size() &&
         std::equal(want.begin(), want.end(), dek.reveal().begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace strongroom;
  using namespace strongroom::fuzz;
  using format::WrapScheme;
  ByteView input(data, size);
  const ByteView kek = AsBytes(kFuzzKek);
  const format::ObjectId id = FuzzObjectId();
  const format::Binding binding = FuzzBinding();

  auto envelope = format::ParseEnvelope(input);
  if (!envelope) {
    return 0;
  }
  auto serialized = format::SerializeEnvelope(*envelope);
  FUZZ_CHECK(serialized.has_value(), "SerializeEnvelope rejected a parsed envelope");
  FUZZ_CHECK(serialized->size() == input.size() &&
                 std::equal(serialized->begin(), serialized->end(), input.begin()),
             "SerializeEnvelope does not reproduce the parsed bytes");

  const bool local = envelope->scheme == WrapScheme::kLocalKek ||
                     envelope->scheme == WrapScheme::kCustomerKey;
  auto dek = format::UnwrapDek(*envelope, kek, id, binding, {});
  if (!local) {
    FUZZ_CHECK(!dek.has_value() && dek.error().code() == ErrorCode::kUnimplemented,
               "an external-scheme envelope did not fail with unimplemented");
    return 0;
  }
  if (dek) {
    FUZZ_CHECK(EqualsDek(*dek), "an envelope unwrapped to a key no seed wrapped");
    Bytes other_kek(kek.begin(), kek.end());
    other_kek.back() ^= 1;
    FUZZ_CHECK(!format::UnwrapDek(*envelope, other_kek, id, binding, {}).has_value(),
               "an envelope unwrapped under a different KEK");
    format::ObjectId other_id = id;
    other_id[0] ^= 1;
    FUZZ_CHECK(!format::UnwrapDek(*envelope, kek, other_id, binding, {}).has_value(),
               "an envelope unwrapped for a different object id");
    format::Binding other_binding = binding;
    other_binding.object_key += "x";
    FUZZ_CHECK(!format::UnwrapDek(*envelope, kek, id, other_binding, {}).has_value(),
               "an envelope unwrapped for a different binding");
    static constexpr uint8_t kOtherContext[] = {'{', '}'};
    FUZZ_CHECK(!format::UnwrapDek(*envelope, kek, id, binding, kOtherContext).has_value(),
               "an envelope unwrapped for a different context");
  } else {
    FUZZ_CHECK(dek.error().code() == ErrorCode::kUnauthenticated,
               "a well-formed local envelope failed to unwrap with an unexpected error");
  }

  // Re-wrap with the same header fields and check the round trip.
  auto rewrapped = format::WrapDek(envelope->scheme, envelope->provider_id, envelope->key_id, kek,
                                   AsBytes(kFuzzDek), id, binding, {});
  FUZZ_CHECK(rewrapped.has_value(), "WrapDek rejected ids that ParseEnvelope accepted");
  auto bytes = format::SerializeEnvelope(*rewrapped);
  FUZZ_CHECK(bytes.has_value() && bytes->size() == input.size(),
             "a re-wrapped envelope does not serialize to the same length");
  auto reparsed = format::ParseEnvelope(*bytes);
  FUZZ_CHECK(reparsed.has_value(), "a re-wrapped envelope does not parse");
  auto again = format::UnwrapDek(*reparsed, kek, id, binding, {});
  FUZZ_CHECK(again.has_value() && EqualsDek(*again), "a re-wrapped envelope does not unwrap");
  return 0;
}
