// SPDX-License-Identifier: Apache-2.0
#include "s3/request.h"

#include <gtest/gtest.h>

#include "s3/errors.h"
#include "s3/xml.h"

namespace strongroom::s3 {
namespace {

TEST(AddressTest, PathStyleSplitsBucketAndDecodedKey) {
  auto a = ParseAddress("/bucket/dir/a%20b%2Bc+d?list-type=2&prefix=x%2Fy&uploads", "h", "");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->bucket, "bucket");
  EXPECT_EQ(a->key, "dir/a b+c+d");  // '+' in a path is a plus
  EXPECT_EQ(a->Get("prefix"), "x/y");
  EXPECT_TRUE(a->Has("uploads"));
  EXPECT_EQ(a->Get("uploads"), "");
  EXPECT_FALSE(a->virtual_hosted);
}

TEST(AddressTest, VirtualHostedStyleTakesTheBucketFromHost) {
  auto a = ParseAddress("/photos/cat.jpg", "media.s3.example.test:9000", "s3.example.test");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->virtual_hosted);
  EXPECT_EQ(a->bucket, "media");
  EXPECT_EQ(a->key, "photos/cat.jpg");
  // A Host that is the domain itself is path style.
  auto b = ParseAddress("/media/k", "s3.example.test", "s3.example.test");
  EXPECT_EQ(b->bucket, "media");
  EXPECT_FALSE(b->virtual_hosted);
}

TEST(AddressTest, ServiceLevelAndBucketLevel) {
  EXPECT_EQ(ParseAddress("/", "", "")->bucket, "");
  auto a = ParseAddress("/bucket", "", "");
  EXPECT_EQ(a->bucket, "bucket");
  EXPECT_EQ(a->key, "");
  EXPECT_EQ(ParseAddress("/bucket/", "", "")->key, "");
}

TEST(AddressTest, BadPercentEncodingIsInvalidUri) {
  auto a = ParseAddress("/bucket/a%zz", "", "");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().reason(), "InvalidURI");
  EXPECT_EQ(ParseAddress("/bucket/a%2", "", "").error().reason(), "InvalidURI");
  EXPECT_EQ(ParseAddress("bucket/a", "", "").error().reason(), "InvalidURI");
}

TEST(AddressTest, PercentEncodeMatchesS3UrlEncoding) {
  EXPECT_EQ(PercentEncode("a b/c~d+é", true), "a%20b/c~d%2B%C3%A9");
  EXPECT_EQ(PercentEncode("a/b", false), "a%2Fb");
}

TEST(ErrorsTest, ReasonsMapToAwsStatusCodes) {
  EXPECT_EQ(ToS3Error(MakeError("NoSuchKey", "x")).status, 404);
  EXPECT_EQ(ToS3Error(MakeError("SignatureDoesNotMatch", "x")).status, 403);
  EXPECT_EQ(ToS3Error(MakeError("InvalidRange", "x")).status, 416);
  EXPECT_EQ(ToS3Error(MakeError("MissingContentLength", "x")).status, 411);
  EXPECT_EQ(ToS3Error(MakeError("NotImplemented", "x")).status, 501);
  EXPECT_EQ(ToS3Error(MakeError("BucketNotEmpty", "x")).status, 409);
  // Stored data that fails authentication is a 500 with a plain message.
  S3Error loss = ToS3Error(Error(ErrorCode::kDataLoss, "chunk 3 failed authentication"));
  EXPECT_EQ(loss.status, 500);
  EXPECT_EQ(loss.code, "InternalError");
  EXPECT_EQ(ToS3Error(Error(ErrorCode::kUnimplemented, "x")).code, "NotImplemented");
}

TEST(ErrorsTest, ErrorXmlHasTheFourFields) {
  std::string xml = ErrorXml({404, "NoSuchKey", "The specified key does not exist."}, "/b/k", "RID");
  EXPECT_NE(xml.find("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                     "</Message><Resource>/b/k</Resource><RequestId>RID</RequestId></Error>"),
            std::string::npos)
      << xml;
}

TEST(XmlTest, ParsesAndRejects) {
  auto ok = ParseXml("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object>"
                     "<Key>a&amp;b</Key></Object></Delete>");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->name, "Delete");
  EXPECT_EQ(ok->Child("Object")->Child("Key")->text, "a&b");
  EXPECT_EQ(ParseXml("<Delete>").error().reason(), "MalformedXML");
  EXPECT_EQ(ParseXml("<a/><b/>").error().reason(), "MalformedXML");
  EXPECT_EQ(ParseXml("").error().reason(), "MalformedXML");
}

TEST(XmlTest, WriterEscapesText) {
  XmlWriter xml("ListBucketResult");
  xml.Add("Key", "a<b>&\"c\"");
  std::string out = xml.Finish();
  EXPECT_NE(out.find("<Key>a&lt;b&gt;&amp;\"c\"</Key>"), std::string::npos) << out;
  EXPECT_NE(out.find("xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""), std::string::npos);
}

}  // namespace
}  // namespace strongroom::s3
