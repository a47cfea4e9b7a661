// SPDX-License-Identifier: Apache-2.0
// Envelopes (docs/FORMAT.md §6, §8 rule 9): wrapping against an independent
// computation, the strict parser, and the binding of the wrapped DEK to its
// header, object id, bucket and object key.

#include "format/envelope.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/error.h"
#include "crypto/aes_gcm.h"
#include "crypto/hkdf.h"
#include "testing/test_util.h"

namespace strongroom::format {
namespace {

using ::strongroom::testing::FailsWith;
using ::strongroom::testing::Pattern;

// ------------------------------------------------------------------ helpers



Bytes Dek() { return Pattern(kDekSize, 1); }
Bytes Kek(uint8_t seed = 1) { return Pattern(32, 50 + seed); }
ObjectId Id(uint8_t seed = 1) {
  ObjectId id;
  Bytes b = Pattern(kObjectIdSize, 200 + seed);
  std::copy(b.begin(), b.end(), id.begin());
  return id;
}
const Binding kBinding{"photos", "2026/11/cat.jpg"};

Envelope Wrap(WrapScheme scheme = WrapScheme::kLocalKek, std::string provider = "local",
              std::string key_id = "master-key/v3", ByteView kek = {},
              const Binding& binding = kBinding, ByteView context = {}) {
  Bytes default_kek = Kek();
  auto envelope = WrapDek(scheme, std::move(provider), std::move(key_id),
                          kek.empty() ? ByteView(default_kek) : kek, Dek(), Id(), binding,
                          context);
  EXPECT_TRUE(envelope.has_value()) << (envelope ? "" : envelope.error().ToString());
  return envelope.value_or(Envelope{});
}

Bytes Serialized(const Envelope& envelope) {
  auto bytes = SerializeEnvelope(envelope);
  EXPECT_TRUE(bytes.has_value()) << (bytes ? "" : bytes.error().ToString());
  return bytes.value_or(Bytes{});
}

// An encoder written from FORMAT.md §6, independent of envelope.cc.
Bytes RawEnvelope(uint8_t scheme, std::string_view provider, std::string_view key_id, ByteView salt,
                  ByteView wrapped, uint16_t reserved = 0, uint8_t version = 1) {
  Bytes out = {'S', 'R', 'W', 'K', version, scheme};
  AppendBe16(out, reserved);
  out.push_back(static_cast<uint8_t>(provider.size()));
  Append(out, AsBytes(provider));
  AppendBe16(out, static_cast<uint16_t>(key_id.size()));
  Append(out, AsBytes(key_id));
  Append(out, salt);
  AppendBe16(out, static_cast<uint16_t>(wrapped.size()));
  Append(out, wrapped);
  return out;
}

void ExpectUnwrapsToTheDek(const Envelope& envelope, ByteView kek, const ObjectId& id,
                           const Binding& binding, ByteView context = {}) {
  auto dek = UnwrapDek(envelope, kek, id, binding, context);
  ASSERT_TRUE(dek.has_value()) << dek.error().ToString();
  EXPECT_EQ(Bytes(dek->reveal().begin(), dek->reveal().end()), Dek());
}

// ------------------------------------------------------------- round trips

TEST(EnvelopeTest, NewDekIs32RandomBytes) {
  auto a = NewDek();
  auto b = NewDek();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_FALSE(std::equal(a->reveal().begin(), a->reveal().end(), b->reveal().begin()));
}

TEST(EnvelopeTest, WrapUnwrapRoundTripLocalKek) {
  Envelope envelope = Wrap(WrapScheme::kLocalKek);
  EXPECT_EQ(envelope.scheme, WrapScheme::kLocalKek);
  EXPECT_EQ(envelope.wrapped.size(), 48u);
  ExpectUnwrapsToTheDek(envelope, Kek(), Id(), kBinding);
}

TEST(EnvelopeTest, WrapUnwrapRoundTripCustomerKey) {
  Envelope envelope = Wrap(WrapScheme::kCustomerKey, "sse-c", "");
  EXPECT_EQ(envelope.scheme, WrapScheme::kCustomerKey);
  EXPECT_EQ(envelope.wrapped.size(), 48u);
  ExpectUnwrapsToTheDek(envelope, Kek(), Id(), kBinding);
}

TEST(EnvelopeTest, WrapUnwrapRoundTripWithAnEmptyBindingAndAShortKek) {
  Bytes kek = Pattern(7, 9);  // any length: HKDF extracts
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "key-file", "", kek, Binding{});
  ExpectUnwrapsToTheDek(envelope, kek, Id(), Binding{});
}

TEST(EnvelopeTest, SerializeParseRoundTrip) {
  for (WrapScheme scheme : {WrapScheme::kLocalKek, WrapScheme::kCustomerKey}) {
    Envelope envelope = Wrap(scheme);
    auto parsed = ParseEnvelope(Serialized(envelope));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
    EXPECT_EQ(parsed->scheme, envelope.scheme);
    EXPECT_EQ(parsed->provider_id, envelope.provider_id);
    EXPECT_EQ(parsed->key_id, envelope.key_id);
    EXPECT_EQ(parsed->wrap_salt, envelope.wrap_salt);
    EXPECT_EQ(parsed->wrapped, envelope.wrapped);
    EXPECT_EQ(Serialized(*parsed), Serialized(envelope));
    ExpectUnwrapsToTheDek(*parsed, Kek(), Id(), kBinding);
  }
}

TEST(EnvelopeTest, SerializedLayoutMatchesTheFormat) {
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "local", "k1");
  Bytes bytes = Serialized(envelope);
  EXPECT_EQ(bytes, RawEnvelope(0x02, "local", "k1", envelope.wrap_salt, envelope.wrapped));
  // 8 + 1 + P + 2 + K + 32 + 2 + W
  EXPECT_EQ(bytes.size(), 8u + 1 + 5 + 2 + 2 + 32 + 2 + 48);
}

TEST(EnvelopeTest, WrappedDekMatchesAnIndependentComputation) {
  Envelope envelope = Wrap(WrapScheme::kCustomerKey, "sse-c", "customer-md5");
  Bytes header = Serialized(envelope);
  header.resize(header.size() - (kWrapSaltSize + 2 + 48));  // bytes before the wrap salt

  std::string wrap_label = "strongroom/v1/dek-wrap";
  Bytes info(wrap_label.begin(), wrap_label.end());
  info.push_back(0x00);
  info.push_back(0x03);
  auto wrap_key = crypto::HkdfSha512(Kek(), envelope.wrap_salt, info, 32);
  ASSERT_TRUE(wrap_key.has_value());

  std::string binding_label = "strongroom/v1/dek-binding";
  Bytes aad(binding_label.begin(), binding_label.end());
  aad.push_back(0x00);
  Append(aad, header);
  Append(aad, Id());
  Append(aad, Bytes{0, 6});
  Append(aad, AsBytes("photos"));
  Append(aad, Bytes{0, 15});
  Append(aad, AsBytes("2026/11/cat.jpg"));
  Append(aad, Bytes{0, 0, 0, 0});  // the empty context, length-prefixed

  auto aead = crypto::AesGcm256::Create(wrap_key->reveal());
  ASSERT_TRUE(aead.has_value());
  uint8_t zero_nonce[12] = {};
  Bytes dek(32);
  ASSERT_TRUE((*aead)->Open(zero_nonce, aad, envelope.wrapped, dek).has_value());
  EXPECT_EQ(dek, Dek());
}

TEST(EnvelopeTest, WrappedDekWithAContextMatchesAnIndependentComputation) {
  std::string context = R"({"department":"finance"})";
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "strongroom", "0f9a/2", {}, Binding{"b", "k"},
                           AsBytes(context));
  Bytes header = Serialized(envelope);
  header.resize(header.size() - (kWrapSaltSize + 2 + 48));

  std::string wrap_label = "strongroom/v1/dek-wrap";
  Bytes info(wrap_label.begin(), wrap_label.end());
  info.push_back(0x00);
  info.push_back(0x02);
  auto wrap_key = crypto::HkdfSha512(Kek(), envelope.wrap_salt, info, 32);
  ASSERT_TRUE(wrap_key.has_value());
  std::string label = "strongroom/v1/dek-binding";
  Bytes aad(label.begin(), label.end());
  aad.push_back(0x00);
  Append(aad, header);
  Append(aad, Id());
  Append(aad, Bytes{0, 1, 'b', 0, 1, 'k'});
  Append(aad, Bytes{0, 0, 0, static_cast<uint8_t>(context.size())});
  Append(aad, AsBytes(context));
  auto aead = crypto::AesGcm256::Create(wrap_key->reveal());
  ASSERT_TRUE(aead.has_value());
  uint8_t zero_nonce[12] = {};
  Bytes dek(32);
  ASSERT_TRUE((*aead)->Open(zero_nonce, aad, envelope.wrapped, dek).has_value());
  EXPECT_EQ(dek, Dek());
}

TEST(EnvelopeTest, WrapUnwrapRoundTripWithAContext) {
  std::string context = R"({"a":"b"})";
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "strongroom", "k/1", {}, kBinding,
                           AsBytes(context));
  ExpectUnwrapsToTheDek(envelope, Kek(), Id(), kBinding, AsBytes(context));
}

TEST(EnvelopeTest, EveryWrapUsesAFreshSalt) {
  Envelope a = Wrap(), b = Wrap();
  EXPECT_NE(a.wrap_salt, b.wrap_salt);
  EXPECT_NE(a.wrapped, b.wrapped);
}

// ------------------------------------------------------------- wrap checks

TEST(EnvelopeWrapTest, RejectsTheExternalScheme) {
  EXPECT_TRUE(FailsWith(WrapDek(WrapScheme::kExternal, "kmip", "k", Kek(), Dek(), Id(), kBinding, {}),
                        ErrorCode::kInvalidArgument));
}

TEST(EnvelopeWrapTest, RejectsADekThatIsNot32Bytes) {
  Bytes dek(31, 1);
  EXPECT_TRUE(FailsWith(WrapDek(WrapScheme::kLocalKek, "local", "", Kek(), dek, Id(), kBinding, {}),
                        ErrorCode::kInvalidArgument));
}

TEST(EnvelopeWrapTest, RejectsAnEmptyKek) {
  EXPECT_TRUE(FailsWith(WrapDek(WrapScheme::kLocalKek, "local", "", {}, Dek(), Id(), kBinding, {}),
                        ErrorCode::kInvalidArgument));
}

TEST(EnvelopeWrapTest, RejectsAProviderIdThatIsNotPrintableAscii) {
  for (std::string provider : {std::string("has space"), std::string("tab\t"),
                               std::string("caf\xc3\xa9"), std::string(256, 'p')}) {
    EXPECT_TRUE(
        FailsWith(WrapDek(WrapScheme::kLocalKek, provider, "", Kek(), Dek(), Id(), kBinding, {}),
                  ErrorCode::kInvalidArgument))
        << provider;
  }
  EXPECT_TRUE(
      WrapDek(WrapScheme::kLocalKek, std::string(255, 'p'), "", Kek(), Dek(), Id(), kBinding, {})
          .has_value());
}

TEST(EnvelopeWrapTest, RejectsAKeyIdLongerThan65535Bytes) {
  EXPECT_TRUE(FailsWith(WrapDek(WrapScheme::kLocalKek, "local", std::string(65536, 'k'), Kek(),
                                Dek(), Id(), kBinding, {}),
                        ErrorCode::kInvalidArgument));
}

TEST(EnvelopeWrapTest, SerializeRejectsEnvelopesLargerThan4096Bytes) {
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "local", std::string(5000, 'k'));
  EXPECT_TRUE(FailsWith(SerializeEnvelope(envelope), ErrorCode::kInvalidArgument));
}

// ---------------------------------------------------- unwrap: wrong inputs

TEST(EnvelopeUnwrapTest, WrongKekIsUnauthenticated) {
  EXPECT_TRUE(FailsWith(UnwrapDek(Wrap(), Kek(2), Id(), kBinding, {}), ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, EmptyKekIsInvalidArgument) {
  EXPECT_TRUE(FailsWith(UnwrapDek(Wrap(), {}, Id(), kBinding, {}), ErrorCode::kInvalidArgument));
}

TEST(EnvelopeUnwrapTest, OtherObjectIdIsUnauthenticated) {
  EXPECT_TRUE(FailsWith(UnwrapDek(Wrap(), Kek(), Id(2), kBinding, {}), ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, OtherBucketIsUnauthenticated) {
  EXPECT_TRUE(FailsWith(UnwrapDek(Wrap(), Kek(), Id(), Binding{"videos", kBinding.object_key}, {}),
                        ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, OtherObjectKeyIsUnauthenticated) {
  EXPECT_TRUE(FailsWith(UnwrapDek(Wrap(), Kek(), Id(), Binding{kBinding.bucket, "dog.jpg"}, {}),
                        ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, BindingBoundaryShiftIsUnauthenticated) {
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "local", "", {}, Binding{"ab", "c"});
  EXPECT_TRUE(
      FailsWith(UnwrapDek(envelope, Kek(), Id(), Binding{"a", "bc"}, {}), ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, OtherContextIsUnauthenticated) {
  std::string context = R"({"a":"b"})";
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "strongroom", "k/1", {}, kBinding,
                           AsBytes(context));
  for (std::string other : {std::string(R"({"a":"c"})"), std::string(R"({"a":"b"} )"),
                            std::string(), std::string(R"({"a":"b")")}) {
    EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, AsBytes(other)),
                          ErrorCode::kUnauthenticated))
        << other;
  }
  // An envelope wrapped without a context does not open with one.
  EXPECT_TRUE(FailsWith(UnwrapDek(Wrap(), Kek(), Id(), kBinding, AsBytes(context)),
                        ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, BindingContextBoundaryShiftIsUnauthenticated) {
  // The context is length-prefixed after the binding: moving bytes between
  // the object key and the context changes the AAD.
  Bytes with_nul = {0x00};
  Envelope envelope = Wrap(WrapScheme::kLocalKek, "local", "", {}, Binding{"b", "k"}, with_nul);
  EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), Binding{"b", std::string("k\0", 2)}, {}),
                        ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, OtherSchemeByteIsUnauthenticated) {
  Envelope local = Wrap(WrapScheme::kLocalKek);
  local.scheme = WrapScheme::kCustomerKey;
  EXPECT_TRUE(FailsWith(UnwrapDek(local, Kek(), Id(), kBinding, {}), ErrorCode::kUnauthenticated));
  // The same through the bytes: 0x02 → 0x03 parses, then fails to unwrap.
  Bytes bytes = Serialized(Wrap(WrapScheme::kCustomerKey));
  bytes[5] = 0x02;
  auto parsed = ParseEnvelope(bytes);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(FailsWith(UnwrapDek(*parsed, Kek(), Id(), kBinding, {}), ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, OtherProviderIdIsUnauthenticated) {
  Envelope envelope = Wrap();
  envelope.provider_id = "locak";
  EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, {}), ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, OtherKeyIdIsUnauthenticated) {
  Envelope envelope = Wrap();
  envelope.key_id = "master-key/v4";
  EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, {}), ErrorCode::kUnauthenticated));
  envelope.key_id = "";
  EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, {}), ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, OtherWrapSaltIsUnauthenticated) {
  Envelope envelope = Wrap();
  envelope.wrap_salt[17] ^= 1;
  EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, {}), ErrorCode::kUnauthenticated));
}

TEST(EnvelopeUnwrapTest, ModifiedWrappedKeyIsUnauthenticated) {
  for (size_t i : {size_t{0}, size_t{31}, size_t{32}, size_t{47}}) {
    Envelope envelope = Wrap();
    envelope.wrapped[i] ^= 0x80;
    EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, {}), ErrorCode::kUnauthenticated))
        << i;
  }
}

TEST(EnvelopeUnwrapTest, ExternalSchemeIsUnimplemented) {
  Envelope envelope = Wrap();
  envelope.scheme = WrapScheme::kExternal;
  EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, {}), ErrorCode::kUnimplemented));
}

TEST(EnvelopeUnwrapTest, WrappedKeyOtherThan48BytesIsInvalidArgument) {
  Envelope envelope = Wrap();
  envelope.wrapped.pop_back();
  EXPECT_TRUE(FailsWith(UnwrapDek(envelope, Kek(), Id(), kBinding, {}), ErrorCode::kInvalidArgument));
}

// ------------------------------------------------------------- strict parse

TEST(EnvelopeParseTest, RejectsTrailingBytes) {
  Bytes bytes = Serialized(Wrap());
  bytes.push_back(0x00);
  EXPECT_TRUE(FailsWith(ParseEnvelope(bytes), ErrorCode::kInvalidArgument));
}

TEST(EnvelopeParseTest, RejectsEveryTruncation) {
  Bytes bytes = Serialized(Wrap());
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_TRUE(FailsWith(ParseEnvelope(ByteView(bytes).first(len)), ErrorCode::kInvalidArgument))
        << len;
  }
}

TEST(EnvelopeParseTest, RejectsAWrappedKeyOtherThan48BytesForLocalSchemes) {
  Envelope e = Wrap();
  for (uint8_t scheme : {0x02, 0x03}) {
    for (size_t w : {size_t{0}, size_t{32}, size_t{47}, size_t{49}, size_t{64}}) {
      Bytes wrapped = Pattern(w, w);
      EXPECT_TRUE(FailsWith(ParseEnvelope(RawEnvelope(scheme, "local", "", e.wrap_salt, wrapped)),
                            ErrorCode::kInvalidArgument))
          << "scheme " << int{scheme} << " W " << w;
    }
    EXPECT_TRUE(ParseEnvelope(RawEnvelope(scheme, "local", "", e.wrap_salt, e.wrapped)));
  }
}

TEST(EnvelopeParseTest, AcceptsAnyWrappedLengthForTheExternalScheme) {
  Bytes zeros(kWrapSaltSize, 0), wrapped = Pattern(300, 2);
  auto parsed = ParseEnvelope(RawEnvelope(0x01, "kmip", "arn:aws:kms:key/1", zeros, wrapped));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->scheme, WrapScheme::kExternal);
  EXPECT_EQ(parsed->wrapped, wrapped);
  EXPECT_EQ(parsed->key_id, "arn:aws:kms:key/1");
}

TEST(EnvelopeParseTest, RejectsUnknownScheme0x04) {
  Envelope e = Wrap();
  EXPECT_TRUE(FailsWith(ParseEnvelope(RawEnvelope(0x04, "local", "", e.wrap_salt, e.wrapped)),
                        ErrorCode::kInvalidArgument));
}

TEST(EnvelopeParseTest, RejectsUnknownScheme0x00) {
  Envelope e = Wrap();
  EXPECT_TRUE(FailsWith(ParseEnvelope(RawEnvelope(0x00, "local", "", e.wrap_salt, e.wrapped)),
                        ErrorCode::kInvalidArgument));
}

TEST(EnvelopeParseTest, RejectsNonZeroReservedBytes) {
  Envelope e = Wrap();
  for (uint16_t reserved : {0x0001, 0x0100, 0xFFFF}) {
    EXPECT_TRUE(
        FailsWith(ParseEnvelope(RawEnvelope(0x02, "local", "", e.wrap_salt, e.wrapped, reserved)),
                  ErrorCode::kInvalidArgument))
        << reserved;
  }
}

TEST(EnvelopeParseTest, RejectsBadMagic) {
  Bytes bytes = Serialized(Wrap());
  bytes[3] = 'X';
  EXPECT_TRUE(FailsWith(ParseEnvelope(bytes), ErrorCode::kInvalidArgument));
}

TEST(EnvelopeParseTest, RejectsUnknownVersion) {
  Envelope e = Wrap();
  for (uint8_t version : {0x00, 0x02}) {
    EXPECT_TRUE(
        FailsWith(ParseEnvelope(RawEnvelope(0x02, "local", "", e.wrap_salt, e.wrapped, 0, version)),
                  ErrorCode::kInvalidArgument));
  }
}

TEST(EnvelopeParseTest, RejectsANonPrintableProviderId) {
  Envelope e = Wrap();
  EXPECT_TRUE(FailsWith(ParseEnvelope(RawEnvelope(0x02, "lo cal", "", e.wrap_salt, e.wrapped)),
                        ErrorCode::kInvalidArgument));
  EXPECT_TRUE(FailsWith(
      ParseEnvelope(RawEnvelope(0x02, std::string_view("lo\0al", 5), "", e.wrap_salt, e.wrapped)),
      ErrorCode::kInvalidArgument));
}

TEST(EnvelopeParseTest, RejectsMoreThan4096Bytes) {
  Envelope e = Wrap();
  Bytes bytes = RawEnvelope(0x01, "kmip", std::string(4000, 'k'), e.wrap_salt, Pattern(200, 3));
  ASSERT_GT(bytes.size(), kMaxEnvelopeSize);
  EXPECT_TRUE(FailsWith(ParseEnvelope(bytes), ErrorCode::kInvalidArgument));
}

TEST(EnvelopeParseTest, EveryFlippedByteFailsToParseOrToUnwrap) {
  for (WrapScheme scheme : {WrapScheme::kLocalKek, WrapScheme::kCustomerKey}) {
    Bytes bytes = Serialized(Wrap(scheme));
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (uint8_t mask : {0x01, 0x80, 0xFF}) {
        Bytes bad = bytes;
        bad[i] ^= mask;
        auto parsed = ParseEnvelope(bad);
        if (!parsed) {
          EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidArgument) << i;
          continue;
        }
        auto dek = UnwrapDek(*parsed, Kek(), Id(), kBinding, {});
        ASSERT_FALSE(dek.has_value()) << "byte " << i << " mask " << int{mask} << " unwrapped";
        ErrorCode code = dek.error().code();
        EXPECT_TRUE(code == ErrorCode::kUnauthenticated || code == ErrorCode::kUnimplemented)
            << dek.error().ToString();
      }
    }
  }
}

}  // namespace
}  // namespace strongroom::format
