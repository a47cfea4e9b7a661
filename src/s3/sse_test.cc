// SPDX-License-Identifier: Apache-2.0
// The SSE header rules. The expected codes and messages, and the header
// values of the SSE-C cases, are those of AWS's recorded responses
// (../shared/research/s3-encryption-anchors.md §d).
#include "s3/sse.h"

#include <gtest/gtest.h>

#include "aws/checksum.h"
#include "crypto/digest.h"
#include "s3/errors.h"

namespace strongroom::s3 {
namespace {

// The 32-byte key of the recorded AWS exchanges and its MD5.
constexpr char kKey[] = "K0+/yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo=";
constexpr char kKeyMd5[] = "I0aPuXuw4REDJuP1fw07QQ==";

std::string Md5Base64(ByteView data) {
  return aws::Base64Encode(*crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, data));
}

http::Headers SseC(std::optional<std::string> algorithm, std::optional<std::string> key,
                   std::optional<std::string> md5, const std::string& prefix = "x-amz-") {
  http::Headers headers;
  if (algorithm) headers.Add(prefix + "server-side-encryption-customer-algorithm", *algorithm);
  if (key) headers.Add(prefix + "server-side-encryption-customer-key", *key);
  if (md5) headers.Add(prefix + "server-side-encryption-customer-key-MD5", *md5);
  return headers;
}

// "" when the group parses; else "Code: Message".
std::string Outcome(const http::Headers& headers, KeyUse use, KeyGroup group = KeyGroup::kObject) {
  auto parsed = ParseCustomerKey(headers, group, use);
  if (parsed) return "";
  S3Error s3 = ToS3Error(parsed.error());
  return std::to_string(s3.status) + " " + s3.code + ": " + s3.message;
}

const std::string kNoAlgorithm =
    "400 InvalidArgument: Requests specifying Server Side Encryption with Customer provided keys "
    "must provide a valid encryption algorithm.";
const std::string kNoKey =
    "400 InvalidArgument: Requests specifying Server Side Encryption with Customer provided keys "
    "must provide an appropriate secret key.";
const std::string kNoMd5 =
    "400 InvalidArgument: Requests specifying Server Side Encryption with Customer provided keys "
    "must provide the client calculated MD5 of the secret key.";
const std::string kMismatch =
    "400 InvalidArgument: The calculated MD5 hash of the key did not match the hash that was "
    "provided.";
const std::string kTooShort = "400 InvalidArgument: The secret key was invalid - too short.";
const std::string kBadLength =
    "400 InvalidArgument: The secret key was invalid for the specified algorithm.";
const std::string kBadAlgorithm =
    "400 InvalidEncryptionAlgorithmError: The Encryption request you specified is not valid. "
    "Supported value: AES256.";

TEST(SseCustomerKeyTest, DecodesAsAwsDoes) {
  crypto::SecretBytes canonical = DecodeCustomerKey(kKey);
  ASSERT_EQ(canonical.size(), 32u);
  // Tolerated: spaces, tabs, newlines, garbage, extra padding.
  for (const char* text : {"K0+/ yQHJ cx5C gotq ScZJ qhfJ 8hpf w4le iB3B zyo8 HSo=",
                           "K0+/yQHJcx5Cg\totqScZJq\nhfJ8hpfw4leiB3Bzyo8HSo=",
                           "K0+/yQHJcx5CgotqScZJqh!!!!#fJ8hpfw4leiB3Bzyo8HSo=",
                           "!!!!#K0+/yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo=",
                           "K0+/yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo===="}) {
    crypto::SecretBytes decoded = DecodeCustomerKey(text);
    EXPECT_TRUE(std::equal(decoded.reveal().begin(), decoded.reveal().end(),
                           canonical.reveal().begin(), canonical.reveal().end()))
        << text;
  }
  // Unpadded or URL-safe text decodes to something else.
  EXPECT_EQ(DecodeCustomerKey("K0+/yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo").size(), 30u);
  EXPECT_EQ(DecodeCustomerKey("K0-_yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo=").size(), 30u);
  EXPECT_EQ(DecodeCustomerKey("ZZ").size(), 0u);
  EXPECT_EQ(DecodeCustomerKey("####").size(), 0u);
  EXPECT_EQ(DecodeCustomerKey("").size(), 0u);
  ASSERT_EQ(DecodeCustomerKey("AQ==").size(), 1u);
  EXPECT_EQ(DecodeCustomerKey("AQ==").reveal()[0], 1);
  EXPECT_EQ(DecodeCustomerKey("MTIzNDU2Nzg5MA==").size(), 10u);
}

TEST(SseCustomerKeyTest, ValidKeyParsesWithItsMd5) {
  auto key = ParseCustomerKey(SseC("AES256", kKey, kKeyMd5), KeyGroup::kObject, KeyUse::kWrite);
  ASSERT_TRUE(key.has_value()) << key.error().message();
  ASSERT_TRUE(key->has_value());
  EXPECT_EQ((*key)->key_md5, kKeyMd5);
  EXPECT_EQ((*key)->key.size(), 32u);
  // No SSE-C header at all: no key.
  auto none = ParseCustomerKey(http::Headers(), KeyGroup::kObject, KeyUse::kWrite);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
  // Reads take the MD5 as optional.
  auto read = ParseCustomerKey(SseC("AES256", kKey, std::nullopt), KeyGroup::kObject, KeyUse::kRead);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ((*read)->key_md5, kKeyMd5);
  // Decorated spellings of the key are the same key.
  EXPECT_EQ(Outcome(SseC("AES256", "K0+/ yQHJ cx5C gotq ScZJ qhfJ 8hpf w4le iB3B zyo8 HSo=",
                         kKeyMd5), KeyUse::kWrite), "");
}

TEST(SseCustomerKeyTest, ErrorsInAwsOrder) {
  for (KeyUse use : {KeyUse::kWrite, KeyUse::kRead}) {
    SCOPED_TRACE(use == KeyUse::kWrite ? "write" : "read");
    // Presence.
    EXPECT_EQ(Outcome(SseC(std::nullopt, kKey, kKeyMd5), use), kNoAlgorithm);
    EXPECT_EQ(Outcome(SseC(std::nullopt, kKey, std::nullopt), use), kNoAlgorithm);
    EXPECT_EQ(Outcome(SseC(std::nullopt, std::nullopt, kKeyMd5), use), kNoAlgorithm);
    EXPECT_EQ(Outcome(SseC(std::nullopt, "", std::nullopt), use), kNoAlgorithm);
    EXPECT_EQ(Outcome(SseC(std::nullopt, std::nullopt, ""), use), kNoAlgorithm);
    EXPECT_EQ(Outcome(SseC("AES256", std::nullopt, std::nullopt), use), kNoKey);
    EXPECT_EQ(Outcome(SseC("AES256", std::nullopt, kKeyMd5), use), kNoKey);
    EXPECT_EQ(Outcome(SseC("", std::nullopt, std::nullopt), use), kNoKey);
    // A key that decodes to nothing beats an MD5 mismatch.
    EXPECT_EQ(Outcome(SseC("AES256", "ZZ", kKeyMd5), use), kTooShort);
    EXPECT_EQ(Outcome(SseC("AES256", "####", kKeyMd5), use), kTooShort);
    EXPECT_EQ(Outcome(SseC("AES256", "", kKeyMd5), use), kTooShort);
    EXPECT_EQ(Outcome(SseC("", "", ""), use), kTooShort);
    // MD5 mismatch beats the algorithm and the key length.
    EXPECT_EQ(Outcome(SseC("AES256", kKey, "K9opmNmw7hl9oUKgRH9nJQ=="), use), kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256-INVALID", "not-valid-base64!!!", "K9opmNmw7hl9oUKgRH9nJQ=="),
                      use), kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256", "MTIzNDU2Nzg5MA==", "K9opmNmw7hl9oUKgRH9nJQ=="), use),
              kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256", kKey, ""), use), kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256", kKey, "I0aPuXuw4REDJuP1fw07QQ"), use), kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256", kKey, "!!I0aPuXuw##4REDJuP1fw07QQ=="), use), kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256", "K0+/yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo", kKeyMd5), use),
              kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256", "K0-_yQHJcx5CgotqScZJqhfJ8hpfw4leiB3Bzyo8HSo=", kKeyMd5), use),
              kMismatch);
    EXPECT_EQ(Outcome(SseC("AES256", kKey, std::string(kKeyMd5, 22) + std::string(100, 'A') + "=="),
                      use), kMismatch);
    // Then the algorithm.
    EXPECT_EQ(Outcome(SseC("AES256-INVALID", kKey, kKeyMd5), use), kBadAlgorithm);
    EXPECT_EQ(Outcome(SseC("", kKey, kKeyMd5), use), kBadAlgorithm);
    EXPECT_EQ(Outcome(SseC("aes256", kKey, kKeyMd5), use), kBadAlgorithm);
    EXPECT_EQ(Outcome(SseC("INVALID-ALGO", "MTIzNDU2Nzg5MA==", "6Afx/PgtEy+bsBjKZzihnw=="), use),
              kBadAlgorithm);
    EXPECT_EQ(Outcome(SseC("AES256-INVALID", "c2hvcnQta2V5", "oWfxrwsGTV2p+cdWS9ST7w=="), use),
              kBadAlgorithm);
  }
  // The MD5 is required on writes only.
  EXPECT_EQ(Outcome(SseC("AES256", kKey, std::nullopt), KeyUse::kWrite), kNoMd5);
  EXPECT_EQ(Outcome(SseC("AES256", kKey, std::nullopt), KeyUse::kRead), "");
  // A key of the wrong length: 400 on writes; on reads a stand-in key (so
  // the object store answers 403 for an SSE-C object).
  for (size_t size : {1u, 10u, 31u, 33u}) {
    Bytes raw(size, 1);
    std::string key = aws::Base64Encode(raw);
    EXPECT_EQ(Outcome(SseC("AES256", key, Md5Base64(raw)), KeyUse::kWrite), kBadLength) << size;
    auto read = ParseCustomerKey(SseC("AES256", key, Md5Base64(raw)), KeyGroup::kObject,
                                 KeyUse::kRead);
    ASSERT_TRUE(read.has_value()) << size;
    EXPECT_EQ((*read)->key.size(), 32u);
    EXPECT_EQ((*read)->key_md5, Md5Base64(raw));
  }
}

TEST(SseCustomerKeyTest, CopySourceGroupIsSeparate) {
  http::Headers headers = SseC("AES256", kKey, kKeyMd5, "x-amz-copy-source-");
  EXPECT_TRUE(HasCustomerKeyHeaders(headers, KeyGroup::kCopySource));
  EXPECT_FALSE(HasCustomerKeyHeaders(headers, KeyGroup::kObject));
  auto key = ParseCustomerKey(headers, KeyGroup::kCopySource, KeyUse::kRead);
  ASSERT_TRUE(key.has_value());
  ASSERT_TRUE(key->has_value());
  EXPECT_EQ((*key)->key_md5, kKeyMd5);
  EXPECT_EQ(Outcome(SseC("AES256", std::nullopt, std::nullopt, "x-amz-copy-source-"),
                    KeyUse::kRead, KeyGroup::kCopySource),
            kNoKey);
}

TEST(SseTransportTest, SseCAndKmsNeedTls) {
  const std::string sse_c_message =
      "Requests specifying Server Side Encryption with Customer provided keys must be made over "
      "a secure connection.";
  const std::string kms_message =
      "Requests specifying Server Side Encryption with AWS KMS managed keys must be made over a "
      "secure connection.";
  http::Headers sse_c = SseC("AES256-INVALID", "not-valid-base64!!!", "x");
  http::Headers copy_only = SseC(std::nullopt, std::nullopt, "", "x-amz-copy-source-");
  http::Headers kms;
  kms.Add("x-amz-server-side-encryption", "aws:kms");
  http::Headers s3;
  s3.Add("x-amz-server-side-encryption", "AES256");
  auto check = [](const http::Headers& h, bool tls, const char* peer, bool allow) {
    auto r = CheckSecureTransport(h, tls, peer, allow);
    return r ? std::string() : ToS3Error(r.error()).code + ": " + r.error().message();
  };
  EXPECT_EQ(check(sse_c, false, "10.0.0.1:5", false), "InvalidArgument: " + sse_c_message);
  EXPECT_EQ(check(copy_only, false, "10.0.0.1:5", false), "InvalidArgument: " + sse_c_message);
  EXPECT_EQ(check(kms, false, "10.0.0.1:5", false), "InvalidArgument: " + kms_message);
  EXPECT_EQ(check(s3, false, "10.0.0.1:5", false), "");
  EXPECT_EQ(check(http::Headers(), false, "10.0.0.1:5", false), "");
  EXPECT_EQ(check(sse_c, true, "10.0.0.1:5", false), "");
  EXPECT_EQ(check(kms, true, "10.0.0.1:5", false), "");
  // Loopback only with the operator's flag.
  EXPECT_EQ(check(sse_c, false, "127.0.0.1:5", false), "InvalidArgument: " + sse_c_message);
  EXPECT_EQ(check(sse_c, false, "127.0.0.1:5", true), "");
  EXPECT_EQ(check(kms, false, "[::1]:5", true), "");
  EXPECT_EQ(check(kms, false, "10.0.0.1:5", true), "InvalidArgument: " + kms_message);
}

TEST(SseTransportTest, Loopback) {
  EXPECT_TRUE(IsLoopback("127.0.0.1:9000"));
  EXPECT_TRUE(IsLoopback("127.3.4.5:1"));
  EXPECT_TRUE(IsLoopback("[::1]:9000"));
  EXPECT_TRUE(IsLoopback("[::ffff:127.0.0.1]:9000"));
  EXPECT_FALSE(IsLoopback("10.0.0.1:9000"));
  EXPECT_FALSE(IsLoopback("[::2]:9000"));
  EXPECT_FALSE(IsLoopback("[::ffff:10.0.0.1]:9000"));
  EXPECT_FALSE(IsLoopback("127.example.com:1"));
  EXPECT_FALSE(IsLoopback(""));
}

TEST(SseHeadersTest, AlgorithmKeyIdContextAndBucketKey) {
  auto parse = [](std::vector<std::pair<std::string, std::string>> fields) {
    http::Headers headers;
    for (auto& [name, value] : fields) headers.Add(name, value);
    return ParseSseHeaders(headers);
  };
  auto code = [&](std::vector<std::pair<std::string, std::string>> fields) {
    auto parsed = parse(std::move(fields));
    return parsed ? std::string() : ToS3Error(parsed.error()).code + ": " + parsed.error().message();
  };
  EXPECT_FALSE(parse({})->any());
  EXPECT_EQ(parse({{"x-amz-server-side-encryption", "AES256"}})->algorithm, "AES256");
  EXPECT_EQ(code({{"x-amz-server-side-encryption", "AES128"}}),
            "InvalidArgument: The encryption method specified is not supported");
  EXPECT_EQ(code({{"x-amz-server-side-encryption", ""}}),
            "InvalidArgument: The encryption method specified is not supported");
  EXPECT_EQ(code({{"x-amz-server-side-encryption", "aws:kms:dsse"}}).substr(0, 15),
            "NotImplemented:");
  const std::string needs_kms =
      "InvalidArgument: Server Side Encryption with AWS KMS managed key requires HTTP header "
      "x-amz-server-side-encryption : aws:kms";
  EXPECT_EQ(code({{"x-amz-server-side-encryption-aws-kms-key-id", "k"}}), needs_kms);
  EXPECT_EQ(code({{"x-amz-server-side-encryption", "AES256"},
                  {"x-amz-server-side-encryption-aws-kms-key-id", "k"}}),
            needs_kms);
  std::string context = aws::Base64Encode(AsBytes(std::string(R"({"a":"b","c\"":"\u00e9"})")));
  auto kms = parse({{"x-amz-server-side-encryption", "aws:kms"},
                    {"x-amz-server-side-encryption-aws-kms-key-id", "alias/x"},
                    {"x-amz-server-side-encryption-context", context},
                    {"x-amz-server-side-encryption-bucket-key-enabled", "TRUE"}});
  ASSERT_TRUE(kms.has_value());
  EXPECT_EQ(kms->kms_key_id, "alias/x");
  EXPECT_EQ(kms->context, R"({"a":"b","c\"":"\u00e9"})");
  EXPECT_EQ(kms->bucket_key_enabled, true);
  const std::string bad_context =
      "InvalidArgument: The header 'x-amz-server-side-encryption-context' shall be "
      "Base64-encoded UTF-8 string holding JSON which represents a string-string map";
  for (std::string json : {"[]", "{\"a\":1}", "{\"a\":\"b\"", "not json", "{\"a\":\"b\"} x",
                           "{\"a\":null}", "{\"a\":{\"b\":\"c\"}}"}) {
    EXPECT_EQ(code({{"x-amz-server-side-encryption", "aws:kms"},
                    {"x-amz-server-side-encryption-context", aws::Base64Encode(AsBytes(json))}}),
              bad_context)
        << json;
  }
  EXPECT_EQ(code({{"x-amz-server-side-encryption", "aws:kms"},
                  {"x-amz-server-side-encryption-context", "e30"}}),  // unpadded "{}"
            bad_context);
  EXPECT_EQ(code({{"x-amz-server-side-encryption", "aws:kms"},
                  {"x-amz-server-side-encryption-bucket-key-enabled", "yes"}})
                .substr(0, 16),
            "InvalidArgument:");
}

TEST(SseHeadersTest, StringMapJson) {
  EXPECT_TRUE(IsStringMapJson("{}"));
  EXPECT_TRUE(IsStringMapJson(" { \"k\" : \"v\" , \"k2\":\"\\n\\\\\" } "));
  EXPECT_FALSE(IsStringMapJson(""));
  EXPECT_FALSE(IsStringMapJson("{\"k\":\"v\",}"));
  EXPECT_FALSE(IsStringMapJson("{\"k\":\"\\x\"}"));
  EXPECT_FALSE(IsStringMapJson("{\"k\":\"\x01\"}"));
  EXPECT_FALSE(IsStringMapJson("{\"k\":true}"));
}

TEST(SseResponseTest, HeadersPerMode) {
  objects::ObjectEncryption kms;
  kms.mode = objects::SseMode::kKms;
  kms.kms_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
  kms.kms_context = R"({"a":"b"})";
  kms.bucket_key_enabled = true;
  http::Headers headers;
  AddEncryptionHeaders(headers, kms, "eu-west-1", nullptr, true);
  EXPECT_EQ(headers.Get("x-amz-server-side-encryption"), "aws:kms");
  EXPECT_EQ(headers.Get("x-amz-server-side-encryption-aws-kms-key-id"),
            "arn:aws:kms:eu-west-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab");
  EXPECT_EQ(headers.Get("x-amz-server-side-encryption-bucket-key-enabled"), "true");
  EXPECT_EQ(headers.Get("x-amz-server-side-encryption-context"),
            aws::Base64Encode(AsBytes(std::string(R"({"a":"b"})"))));
  http::Headers no_context;
  AddEncryptionHeaders(no_context, kms, "eu-west-1", nullptr, false);
  EXPECT_FALSE(no_context.Has("x-amz-server-side-encryption-context"));

  http::Headers s3;
  AddEncryptionHeaders(s3, objects::ObjectEncryption{}, "us-east-1", nullptr, true);
  EXPECT_EQ(s3.Get("x-amz-server-side-encryption"), "AES256");
  EXPECT_FALSE(s3.Has("x-amz-server-side-encryption-aws-kms-key-id"));

  objects::ObjectEncryption customer;
  customer.mode = objects::SseMode::kCustomer;
  objects::CustomerKey key{crypto::SecretBytes(32), kKeyMd5};
  http::Headers sse_c;
  AddEncryptionHeaders(sse_c, customer, "us-east-1", &key, true);
  EXPECT_FALSE(sse_c.Has("x-amz-server-side-encryption"));  // as AWS
  EXPECT_EQ(sse_c.Get("x-amz-server-side-encryption-customer-algorithm"), "AES256");
  EXPECT_EQ(sse_c.Get("x-amz-server-side-encryption-customer-key-MD5"), kKeyMd5);
}

TEST(BucketEncryptionXmlTest, ParsesAwsBodies) {
  auto kms = ParseBucketEncryptionXml(
      "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>"
      "<KMSMasterKeyID>alias/app</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>"
      "<BucketKeyEnabled>true</BucketKeyEnabled>"
      "<BlockedEncryptionTypes><EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>"
      "</Rule></ServerSideEncryptionConfiguration>");
  ASSERT_TRUE(kms.has_value()) << kms.error().message();
  EXPECT_EQ(kms->mode, objects::SseMode::kKms);
  EXPECT_EQ(kms->kms_key_reference, "alias/app");
  EXPECT_TRUE(kms->bucket_key_enabled);
  EXPECT_TRUE(kms->block_sse_c);
  auto s3 = ParseBucketEncryptionXml(
      "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
      "<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
      "<BlockedEncryptionTypes><EncryptionType>NONE</EncryptionType></BlockedEncryptionTypes>"
      "</Rule></ServerSideEncryptionConfiguration>");
  ASSERT_TRUE(s3.has_value());
  EXPECT_EQ(s3->mode, objects::SseMode::kS3);
  EXPECT_FALSE(s3->block_sse_c);
  EXPECT_FALSE(s3->bucket_key_enabled);
  for (const char* bad : {
           "<ServerSideEncryptionConfiguration/>",
           "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
           "<SSEAlgorithm>AES128</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
           "</ServerSideEncryptionConfiguration>",
           "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
           "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
           "<ServerSideEncryptionConfiguration><Rule/><Rule/></ServerSideEncryptionConfiguration>",
           "<ServerSideEncryptionConfiguration><Rule><BucketKeyEnabled>maybe</BucketKeyEnabled>"
           "</Rule></ServerSideEncryptionConfiguration>",
           "<ServerSideEncryptionConfiguration><Rule><BlockedEncryptionTypes><EncryptionType>"
           "SSE-S3</EncryptionType></BlockedEncryptionTypes></Rule>"
           "</ServerSideEncryptionConfiguration>",
           "<Other/>",
           "<ServerSideEncryptionConfiguration>"}) {
    auto parsed = ParseBucketEncryptionXml(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().reason(), "MalformedXML") << bad;
  }
  auto key_with_aes = ParseBucketEncryptionXml(
      "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
      "<SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>"
      "</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>");
  ASSERT_FALSE(key_with_aes.has_value());
  EXPECT_EQ(key_with_aes.error().reason(), "InvalidArgument");
}

TEST(BucketEncryptionXmlTest, WritesAwsBodies) {
  objects::BucketEncryption config;
  std::string s3 = BucketEncryptionXml(config, "us-east-1");
  EXPECT_NE(s3.find("<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                    "2006-03-01/\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
                    "</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false"
                    "</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>"),
            std::string::npos)
      << s3;
  config.default_mode = objects::SseMode::kKms;
  config.kms_key_id = "k1";
  config.bucket_key_enabled = true;
  config.block_sse_c = true;
  std::string kms = BucketEncryptionXml(config, "us-east-1");
  EXPECT_NE(kms.find("<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>"
                     "arn:aws:kms:us-east-1:000000000000:key/k1</KMSMasterKeyID>"),
            std::string::npos)
      << kms;
  EXPECT_NE(kms.find("<BucketKeyEnabled>true</BucketKeyEnabled><BlockedEncryptionTypes>"
                     "<EncryptionType>SSE-C</EncryptionType></BlockedEncryptionTypes>"),
            std::string::npos)
      << kms;
}

}  // namespace
}  // namespace strongroom::s3
