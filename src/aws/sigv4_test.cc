// SPDX-License-Identifier: Apache-2.0
// Signature verification: the known answers of the AWS S3 documentation
// ("Signature Calculations for the Authorization Header: Transferring Payload
// in a Single Chunk", "Authenticating Requests: Using Query Parameters",
// "... Transferring Payload in Multiple Chunks", "... Including Trailing
// Headers"), then everything that must fail.

#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include "aws/sigv4_test_util.h"

namespace strongroom::aws {
namespace {

using test::ExampleNow;
using test::ExampleSecrets;
using test::kExampleAccessKey;
using test::kExampleSecret;
using test::TestRequest;

constexpr const char* kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string SignatureOf(const std::string& authorization) {
  const size_t at = authorization.find("Signature=");
  return at == std::string::npos ? std::string() : authorization.substr(at + 10);
}

Result<Authentication> Verify(const TestRequest& r, std::chrono::system_clock::time_point now,
                              VerifyOptions options = {}) {
  return Authenticate(r.view(), now, ExampleSecrets(), options);
}

void ExpectReason(const Result<Authentication>& result, const std::string& reason) {
  ASSERT_FALSE(result.has_value()) << "expected " << reason;
  EXPECT_EQ(result.error().reason(), reason) << result.error().ToString();
}

// --- The AWS documentation's single-chunk examples --------------------------

TestRequest GetObjectExample() {
  TestRequest r;
  r.method = "GET";
  r.path = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", kEmptySha},
               {"x-amz-date", "20130524T000000Z"}};
  return r;
}

TEST(SigV4KnownAnswer, GetObjectWithRange) {
  TestRequest r = GetObjectExample();
  const std::string auth =
      SignRequestForTest(r.view(), kExampleAccessKey, test::Secret(kExampleSecret),
                         "20130524T000000Z", "us-east-1", kEmptySha);
  EXPECT_EQ(auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  // Exactly as the documentation prints it: no spaces after the commas.
  r.headers.push_back(
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"});
  auto result = Verify(r, ExampleNow());
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->access_key, kExampleAccessKey);
  EXPECT_FALSE(result->presigned);
  EXPECT_EQ(result->payload_mode, PayloadMode::kSignedHash);
  EXPECT_EQ(result->payload_sha256, kEmptySha);
  EXPECT_EQ(result->scope, "20130524/us-east-1/s3/aws4_request");
}

TestRequest PutObjectExample(const std::string& path) {
  TestRequest r;
  r.method = "PUT";
  r.path = path;
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}};
  r.headers.push_back(
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
       "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"});
  return r;
}

TEST(SigV4KnownAnswer, PutObject) {
  // The documentation sends "PUT test$file.text" and signs "/test%24file.text";
  // clients that encode every segment send the encoded form.
  for (const std::string path : {"/test$file.text", "/test%24file.text"}) {
    TestRequest r = PutObjectExample(path);
    auto result = Verify(r, ExampleNow());
    ASSERT_TRUE(result.has_value()) << path << ": " << result.error().ToString();
    EXPECT_EQ(result->payload_mode, PayloadMode::kSignedHash);
    EXPECT_EQ(result->payload_sha256,
              "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  }
  TestRequest r = PutObjectExample("/test%24file.text");
  r.headers.pop_back();
  EXPECT_EQ(SignatureOf(SignRequestForTest(
                r.view(), kExampleAccessKey, test::Secret(kExampleSecret), "20130524T000000Z",
                "us-east-1", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TestRequest BucketExample(const std::string& query, const std::string& signature) {
  TestRequest r;
  r.method = "GET";
  r.path = "/";
  r.query = query;
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-content-sha256", kEmptySha},
               {"x-amz-date", "20130524T000000Z"},
               {"Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                "aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" +
                    signature}};
  return r;
}

TEST(SigV4KnownAnswer, GetBucketLifecycle) {
  // A parameter without a value canonicalises to "lifecycle=".
  for (const std::string query : {"lifecycle", "lifecycle="}) {
    auto result = Verify(
        BucketExample(query, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ExampleNow());
    EXPECT_TRUE(result.has_value()) << query << ": " << result.error().ToString();
  }
}

TEST(SigV4KnownAnswer, ListObjects) {
  // Sorted by name whatever the order sent.
  for (const std::string query : {"max-keys=2&prefix=J", "prefix=J&max-keys=2"}) {
    auto result = Verify(
        BucketExample(query, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        ExampleNow());
    EXPECT_TRUE(result.has_value()) << query << ": " << result.error().ToString();
  }
}

// --- Presigned URL example ("Authenticating Requests: Using Query Parameters")

TestRequest PresignedExample() {
  TestRequest r;
  r.method = "GET";
  r.path = "/test.txt";
  r.query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
      "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
      "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"}};
  return r;
}

TEST(SigV4KnownAnswer, PresignedGet) {
  TestRequest r = PresignedExample();
  EXPECT_TRUE(HasCredentials(r.view()));
  auto result = Verify(r, ExampleNow() + std::chrono::hours(23));
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_TRUE(result->presigned);
  EXPECT_EQ(result->payload_mode, PayloadMode::kUnsigned);
  EXPECT_EQ(result->access_key, kExampleAccessKey);
  // The order of the parameters sent does not matter.
  r.query =
      "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
      "&X-Amz-SignedHeaders=host&X-Amz-Expires=86400&X-Amz-Date=20130524T000000Z"
      "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
      "&X-Amz-Algorithm=AWS4-HMAC-SHA256";
  EXPECT_TRUE(Verify(r, ExampleNow()).has_value());
}

TEST(SigV4Presigned, Expired) {
  auto result = Verify(PresignedExample(), ExampleNow() + std::chrono::seconds(86401));
  ExpectReason(result, "AccessDenied");
  EXPECT_NE(result.error().message().find("Request has expired"), std::string::npos);
  // Exactly at the end it is still valid.
  EXPECT_TRUE(Verify(PresignedExample(), ExampleNow() + std::chrono::seconds(86400)).has_value());
}

TEST(SigV4Presigned, NotYetValid) {
  ExpectReason(Verify(PresignedExample(), ExampleNow() - std::chrono::hours(1)), "AccessDenied");
}

TEST(SigV4Presigned, ExpiresOutOfRange) {
  for (const std::string expires : {"0", "-1", "604801", "abc", "", "1e3"}) {
    TestRequest r = PresignedExample();
    r.ReplaceQueryParam("X-Amz-Expires", expires);
    ExpectReason(Verify(r, ExampleNow()), "AuthorizationQueryParametersError");
  }
  // A server may allow less than a week.
  VerifyOptions options;
  options.max_presign_expiry = std::chrono::hours(1);
  ExpectReason(Verify(PresignedExample(), ExampleNow(), options),
               "AuthorizationQueryParametersError");
}

TEST(SigV4Presigned, MissingOrBadParameters) {
  for (const char* name : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                           "X-Amz-SignedHeaders"}) {
    TestRequest r = PresignedExample();
    r.RemoveQueryParam(name);
    ExpectReason(Verify(r, ExampleNow()), "AuthorizationQueryParametersError");
  }
  TestRequest r = PresignedExample();
  r.ReplaceQueryParam("X-Amz-Algorithm", "AWS4-HMAC-SHA512");
  ExpectReason(Verify(r, ExampleNow()), "AuthorizationQueryParametersError");
  r = PresignedExample();
  r.ReplaceQueryParam("X-Amz-Date", "2013-05-24T00:00:00Z");
  ExpectReason(Verify(r, ExampleNow()), "AuthorizationQueryParametersError");
  r = PresignedExample();
  r.ReplaceQueryParam("X-Amz-Date", "20130525T000000Z");  // not the credential's date
  ExpectReason(Verify(r, ExampleNow()), "AuthorizationQueryParametersError");
  r = PresignedExample();
  r.ReplaceQueryParam("X-Amz-Credential",
                      "AKIAIOSFODNN7EXAMPLE%2F20130524%2Feu-west-1%2Fs3%2Faws4_request");
  ExpectReason(Verify(r, ExampleNow()), "AuthorizationQueryParametersError");
  r = PresignedExample();
  r.query += "&X-Amz-Date=20130524T000000Z";  // twice
  ExpectReason(Verify(r, ExampleNow()), "AuthorizationQueryParametersError");
}

TEST(SigV4Presigned, TamperedFails) {
  TestRequest r = PresignedExample();
  r.path = "/test2.txt";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = PresignedExample();
  r.ReplaceQueryParam("X-Amz-Expires", "86399");
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = PresignedExample();
  r.query += "&response-content-type=text%2Fhtml";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = PresignedExample();
  r.method = "PUT";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = PresignedExample();
  r.headers = {{"Host", "otherbucket.s3.amazonaws.com"}};
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
}

TEST(SigV4Presigned, UnsignedAmzHeaderRejected) {
  // Anyone holding the URL could otherwise add x-amz-copy-source or SSE headers.
  TestRequest r = PresignedExample();
  r.headers.push_back({"x-amz-copy-source", "/otherbucket/secret"});
  auto result = Verify(r, ExampleNow());
  ExpectReason(result, "AccessDenied");
  EXPECT_NE(result.error().message().find("x-amz-copy-source"), std::string::npos);
}

// --- Header authentication failures ------------------------------------------

TEST(SigV4Header, WrongSecret) {
  TestRequest r = GetObjectExample();
  r.Sign(kExampleAccessKey, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEX", "20130524T000000Z",
         "us-east-1", kEmptySha);
  auto result = Verify(r, ExampleNow());
  ExpectReason(result, "SignatureDoesNotMatch");
  EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated);
  // The message never carries the signature we computed, nor the secret.
  TestRequest good = GetObjectExample();
  good.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  const std::string expected = SignatureOf(good.Header("Authorization"));
  EXPECT_EQ(result.error().message().find(expected), std::string::npos);
  EXPECT_EQ(result.error().message().find(kExampleSecret), std::string::npos);
}

TEST(SigV4Header, ModifiedAfterSigning) {
  auto signed_request = [] {
    TestRequest r = GetObjectExample();
    r.query = "versionId=3&partNumber=1";
    r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
    return r;
  };
  ASSERT_TRUE(Verify(signed_request(), ExampleNow()).has_value());

  TestRequest r = signed_request();
  r.SetHeader("Range", "bytes=0-10");
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.path = "/test.txT";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.path = "/test.txt/";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.query = "versionId=4&partNumber=1";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.query += "&acl";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.method = "DELETE";
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.SetHeader("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.RemoveHeader("Range");  // signed but gone
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.headers.push_back({"Range", "bytes=5-9"});  // a second value
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  // Tampering with the signature itself.
  r = signed_request();
  std::string auth = r.Header("Authorization");
  auth.back() = auth.back() == '0' ? '1' : '0';
  r.SetHeader("Authorization", auth);
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  r = signed_request();
  r.SetHeader("Authorization", r.Header("Authorization").substr(0, r.Header("Authorization").size() - 2));
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
}

TEST(SigV4Header, HeaderValueWhitespaceIsCanonicalised) {
  TestRequest r = GetObjectExample();
  r.SetHeader("Range", "bytes=0-9");
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  r.SetHeader("Range", "  bytes=0-9 \t");
  EXPECT_TRUE(Verify(r, ExampleNow()).has_value());
  TestRequest multi = GetObjectExample();
  multi.headers.push_back({"x-amz-meta-tag", "a   b"});
  multi.headers.push_back({"X-Amz-Meta-Tag", "c"});
  multi.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  EXPECT_TRUE(Verify(multi, ExampleNow()).has_value());
}

TEST(SigV4Header, UppercaseHexSignatureAccepted) {
  TestRequest r = GetObjectExample();
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  std::string auth = r.Header("Authorization");
  const size_t at = auth.find("Signature=") + 10;
  for (size_t i = at; i < auth.size(); ++i) auth[i] = static_cast<char>(std::toupper(auth[i]));
  r.SetHeader("Authorization", auth);
  EXPECT_TRUE(Verify(r, ExampleNow()).has_value());
}

TEST(SigV4Header, ClockSkew) {
  TestRequest r = GetObjectExample();
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  EXPECT_TRUE(Verify(r, ExampleNow() + std::chrono::minutes(15)).has_value());
  EXPECT_TRUE(Verify(r, ExampleNow() - std::chrono::minutes(15)).has_value());
  ExpectReason(Verify(r, ExampleNow() + std::chrono::minutes(15) + std::chrono::seconds(1)),
               "RequestTimeTooSkewed");
  ExpectReason(Verify(r, ExampleNow() - std::chrono::minutes(16)), "RequestTimeTooSkewed");
  VerifyOptions options;
  options.max_clock_skew = std::chrono::seconds(30);
  ExpectReason(Verify(r, ExampleNow() + std::chrono::minutes(1), options), "RequestTimeTooSkewed");
}

TEST(SigV4Header, DateRequired) {
  TestRequest r = GetObjectExample();
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  r.RemoveHeader("x-amz-date");
  ExpectReason(Verify(r, ExampleNow()), "AccessDenied");
  r = GetObjectExample();
  r.SetHeader("x-amz-date", "2013-05-24T00:00:00Z");
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  ExpectReason(Verify(r, ExampleNow()), "AccessDenied");
}

TEST(SigV4Header, DateHeaderAloneIsEnough) {
  TestRequest r = GetObjectExample();
  r.RemoveHeader("x-amz-date");
  r.headers.push_back({"Date", "Fri, 24 May 2013 00:00:00 GMT"});
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  auto result = Verify(r, ExampleNow());
  ASSERT_TRUE(result.has_value()) << result.error().ToString();
  EXPECT_EQ(result->amz_date, "20130524T000000Z");
}

TEST(SigV4Header, CredentialDateMustMatchRequestDate) {
  TestRequest r = GetObjectExample();
  r.SetHeader("x-amz-date", "20130525T000000Z");
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  ExpectReason(Verify(r, ExampleNow() + std::chrono::hours(24)), "AuthorizationHeaderMalformed");
}

TEST(SigV4Header, WrongRegion) {
  TestRequest r = GetObjectExample();
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "eu-west-1", kEmptySha);
  ExpectReason(Verify(r, ExampleNow()), "AuthorizationHeaderMalformed");
  VerifyOptions options;
  options.region = "eu-west-1";
  EXPECT_TRUE(Verify(r, ExampleNow(), options).has_value());
}

TEST(SigV4Header, UnknownAccessKey) {
  TestRequest r = GetObjectExample();
  r.Sign("AKIANOTKNOWN", kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  auto result = Verify(r, ExampleNow());
  ExpectReason(result, "InvalidAccessKeyId");
  EXPECT_EQ(result.error().code(), ErrorCode::kUnauthenticated);
}

TEST(SigV4Header, LookupFailureIsNotAnAuthVerdict) {
  TestRequest r = GetObjectExample();
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  auto result = Authenticate(
      r.view(), ExampleNow(),
      [](std::string_view) -> Result<crypto::SecretBytes> { return Unavailable("db down"); }, {});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::kUnavailable);
}

TEST(SigV4Header, Malformed) {
  const std::string good_credential =
      "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";
  const std::string sig =
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
  const std::string sh = "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date";
  for (const std::string& auth : std::vector<std::string>{
           "AWS4-HMAC-SHA256",
           "AWS4-HMAC-SHA256 ",
           "AWS4-HMAC-SHA256 " + good_credential + ", " + sh,              // no Signature
           "AWS4-HMAC-SHA256 " + sh + ", " + sig,                           // no Credential
           "AWS4-HMAC-SHA256 " + good_credential + ", " + sig,              // no SignedHeaders
           "AWS4-HMAC-SHA256 " + good_credential + ", " + sh + ", " + sig + ", Extra=1",
           "AWS4-HMAC-SHA256 " + good_credential + ", " + good_credential + ", " + sh + ", " + sig,
           "AWS4-HMAC-SHA256 " + good_credential + "; " + sh + "; " + sig,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, " + sh + ", " + sig,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2013052/us-east-1/s3/aws4_request, " + sh + ", " + sig,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/aws4_request, " + sh + ", " + sig,
           "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws5_request, " + sh + ", " + sig,
           "AWS4-HMAC-SHA256 Credential=/20130524/us-east-1/s3/aws4_request, " + sh + ", " + sig,
           "AWS4-HMAC-SHA256 " + good_credential + ", SignedHeaders=Host;range, " + sig,
           "AWS4-HMAC-SHA256 " + good_credential + ", SignedHeaders=host;;range, " + sig,
           "AWS4-HMAC-SHA256 " + good_credential + ", SignedHeaders=host;host, " + sig,
           "AWS4-HMAC-SHA256 " + good_credential + ", SignedHeaders=, " + sig,
       }) {
    TestRequest r = GetObjectExample();
    r.headers.push_back({"Authorization", auth});
    ExpectReason(Verify(r, ExampleNow()), "AuthorizationHeaderMalformed");
  }
}

TEST(SigV4Header, SpacesAfterCommasTolerated) {
  TestRequest r = GetObjectExample();
  r.headers.push_back(
      {"Authorization",
       "AWS4-HMAC-SHA256   Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request ,  "
       "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,   "
       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"});
  EXPECT_TRUE(Verify(r, ExampleNow()).has_value());
}

TEST(SigV4Header, HostMustBeSigned) {
  TestRequest r = GetObjectExample();
  r.headers.push_back(
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
       "SignedHeaders=range;x-amz-content-sha256;x-amz-date, "
       "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"});
  auto result = Verify(r, ExampleNow());
  ExpectReason(result, "AccessDenied");
  EXPECT_NE(result.error().message().find("host"), std::string::npos);
}

TEST(SigV4Header, UnsignedAmzHeaderRejected) {
  TestRequest r = GetObjectExample();
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  r.headers.push_back({"X-Amz-Server-Side-Encryption-Customer-Key", "abc"});
  ExpectReason(Verify(r, ExampleNow()), "AccessDenied");
  // Other unsigned headers are fine (User-Agent, Expect, Content-Length...).
  r = GetObjectExample();
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  r.headers.push_back({"User-Agent", "test"});
  r.headers.push_back({"x-amzn-trace-id", "Root=1"});
  EXPECT_TRUE(Verify(r, ExampleNow()).has_value());
}

TEST(SigV4Header, ContentSha256Required) {
  TestRequest r = GetObjectExample();
  r.RemoveHeader("x-amz-content-sha256");
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  ExpectReason(Verify(r, ExampleNow()), "InvalidRequest");
  r = GetObjectExample();
  r.SetHeader("x-amz-content-sha256", "not-a-hash");
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", "not-a-hash");
  ExpectReason(Verify(r, ExampleNow()), "InvalidArgument");
}

TEST(SigV4Header, ContentSha256NeedNotBeSigned) {
  // The documentation: the payload hash is in the canonical request anyway.
  TestRequest r = GetObjectExample();
  r.RemoveHeader("x-amz-content-sha256");
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  r.headers.push_back({"x-amz-content-sha256", kEmptySha});
  EXPECT_TRUE(Verify(r, ExampleNow()).has_value());
  r.SetHeader("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
  ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
}

TEST(SigV4Header, PayloadModes) {
  struct Case {
    const char* value;
    PayloadMode mode;
  };
  for (const Case& c : {Case{"UNSIGNED-PAYLOAD", PayloadMode::kUnsigned},
                        Case{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", PayloadMode::kStreamingSigned},
                        Case{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                             PayloadMode::kStreamingSignedTrailer},
                        Case{"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                             PayloadMode::kStreamingUnsignedTrailer}}) {
    TestRequest r = GetObjectExample();
    r.method = "PUT";
    r.SetHeader("x-amz-content-sha256", c.value);
    r.headers.push_back({"x-amz-decoded-content-length", "5"});
    r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", c.value);
    auto result = Verify(r, ExampleNow());
    ASSERT_TRUE(result.has_value()) << c.value << ": " << result.error().ToString();
    EXPECT_EQ(result->payload_mode, c.mode);
    if (c.mode != PayloadMode::kUnsigned) {
      EXPECT_EQ(result->decoded_content_length, 5u);
      EXPECT_EQ(result->seed_signature, SignatureOf(r.Header("Authorization")));
      EXPECT_EQ(result->amz_date, "20130524T000000Z");
    }
    EXPECT_EQ(result->signing_key != nullptr, c.mode == PayloadMode::kStreamingSigned ||
                                                   c.mode == PayloadMode::kStreamingSignedTrailer);
  }
}

TEST(SigV4Header, StreamingNeedsDecodedLength) {
  TestRequest r = GetObjectExample();
  r.method = "PUT";
  r.SetHeader("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1",
         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
  ExpectReason(Verify(r, ExampleNow()), "MissingContentLength");
  r.RemoveHeader("Authorization");
  r.headers.push_back({"x-amz-decoded-content-length", "12x"});
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1",
         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
  ExpectReason(Verify(r, ExampleNow()), "InvalidArgument");
}

TEST(SigV4Header, OtherMechanisms) {
  TestRequest r = GetObjectExample();
  r.headers.push_back({"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="});
  EXPECT_FALSE(HasCredentials(r.view()));
  ExpectReason(Verify(r, ExampleNow()), "InvalidRequest");
  // Anonymous.
  TestRequest anonymous = GetObjectExample();
  EXPECT_FALSE(HasCredentials(anonymous.view()));
  ExpectReason(Verify(anonymous, ExampleNow()), "AccessDenied");
  // Header and query together.
  TestRequest both = PresignedExample();
  both.headers.push_back(
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
       "SignedHeaders=host, Signature=00"});
  ExpectReason(Verify(both, ExampleNow()), "InvalidArgument");
  // Two Authorization headers.
  TestRequest twice = GetObjectExample();
  twice.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  twice.headers.push_back({"authorization", twice.Header("Authorization")});
  ExpectReason(Verify(twice, ExampleNow()), "InvalidArgument");
}

TEST(SigV4, HasCredentials) {
  TestRequest r;
  r.method = "GET";
  r.path = "/";
  EXPECT_FALSE(HasCredentials(r.view()));
  r.query = "X-Amz-Credential=x";
  EXPECT_TRUE(HasCredentials(r.view()));
  r.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
  EXPECT_TRUE(HasCredentials(r.view()));
  r.query = "x-amz-algorithm=AWS4-HMAC-SHA256";  // names are case-sensitive
  EXPECT_FALSE(HasCredentials(r.view()));
  r.query = "";
  r.headers = {{"authorization", "AWS4-HMAC-SHA256 Credential=..."}};
  EXPECT_TRUE(HasCredentials(r.view()));
  r.headers = {{"Authorization", "Bearer abc"}};
  EXPECT_FALSE(HasCredentials(r.view()));
}

// --- Canonical URI and query: what real clients send -------------------------

TEST(SigV4Canonical, PathEncodingVariantsDecodeToTheSameKey) {
  // Signed over the canonical form of "a b/é+(x)~.txt".
  TestRequest base;
  base.method = "GET";
  base.path = "/bucket/a%20b/%C3%A9%2B%28x%29~.txt";
  base.headers = {{"Host", "localhost:9000"},
                  {"x-amz-content-sha256", kEmptySha},
                  {"x-amz-date", "20130524T000000Z"}};
  base.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  for (const std::string sent : {
           "/bucket/a%20b/%C3%A9%2B%28x%29~.txt",   // as signed
           "/bucket/a%20b/%C3%A9+(x)~.txt",         // sub-delims left raw
           "/bucket/a%20b/%c3%a9%2b%28x%29%7E.txt", // lower-case hex, escaped '~'
           "/bucket/a%20b%2F%C3%A9%2B%28x%29~.txt", // an escaped '/' (S3 decodes it too)
       }) {
    TestRequest r = base;
    r.path = sent;
    auto result = Verify(r, ExampleNow());
    EXPECT_TRUE(result.has_value()) << sent << ": " << result.error().ToString();
  }
  // A different key does not verify.
  for (const std::string sent : {"/bucket/a+b/%C3%A9%2B%28x%29~.txt",
                                 "/bucket/a%20b/%C3%A9%20%28x%29~.txt",
                                 "/bucket/a%20b/%C3%A9%2B%28x%29~.tx",
                                 "/Bucket/a%20b/%C3%A9%2B%28x%29~.txt"}) {
    TestRequest r = base;
    r.path = sent;
    ExpectReason(Verify(r, ExampleNow()), "SignatureDoesNotMatch");
  }
}

TEST(SigV4Canonical, PathIsNotNormalised) {
  // S3 keys may hold "..", "." and empty segments; they are signed as sent.
  for (const std::string path : {"/bucket/a/../b", "/bucket/./c", "/bucket//d", "/bucket/e/"}) {
    TestRequest r;
    r.method = "GET";
    r.path = path;
    r.headers = {{"Host", "localhost"},
                 {"x-amz-content-sha256", kEmptySha},
                 {"x-amz-date", "20130524T000000Z"}};
    r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
    EXPECT_TRUE(Verify(r, ExampleNow()).has_value()) << path;
    TestRequest normalised = r;
    normalised.path = path == "/bucket/a/../b" ? "/bucket/b" : "/bucket/x";
    ExpectReason(Verify(normalised, ExampleNow()), "SignatureDoesNotMatch");
  }
}

TEST(SigV4Canonical, QueryPlusIsSpace) {
  TestRequest r;
  r.method = "GET";
  r.path = "/bucket";
  r.query = "prefix=a%20b&list-type=2&delimiter=%2F&empty=&flag";
  r.headers = {{"Host", "localhost"},
               {"x-amz-content-sha256", kEmptySha},
               {"x-amz-date", "20130524T000000Z"}};
  r.Sign(kExampleAccessKey, kExampleSecret, "20130524T000000Z", "us-east-1", kEmptySha);
  ASSERT_TRUE(Verify(r, ExampleNow()).has_value());
  TestRequest plus = r;
  plus.query = "flag=&empty&delimiter=/&list-type=2&prefix=a+b";
  EXPECT_TRUE(Verify(plus, ExampleNow()).has_value());
  TestRequest literal_plus = r;
  literal_plus.query = "prefix=a%2Bb&list-type=2&delimiter=%2F&empty=&flag";
  ExpectReason(Verify(literal_plus, ExampleNow()), "SignatureDoesNotMatch");
}

}  // namespace
}  // namespace strongroom::aws
