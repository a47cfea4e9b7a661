// SPDX-License-Identifier: Apache-2.0
// PayloadReader: the aws-chunked examples of the AWS S3 documentation
// ("Transferring Payload in Multiple Chunks": seed 4f232c43..., and
// "Including Trailing Headers": seed 106e2a8a...), then framing and
// signature failures.

#include <gtest/gtest.h>

#include <algorithm>

#include "aws/checksum.h"
#include "aws/sigv4.h"
#include "aws/sigv4_test_util.h"

namespace strongroom::aws {
namespace {

using test::ExampleNow;
using test::ExampleSecrets;
using test::TestRequest;

constexpr const char* kSeed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
constexpr const char* kChunkSignatures[3] = {
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
};
constexpr const char* kTrailerSeed =
    "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
constexpr const char* kTrailerChunkSignatures[3] = {
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
};
constexpr const char* kTrailerSignature =
    "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

// Hands out at most `step` bytes per Read, to exercise every boundary.
class TrickleSource : public ByteSource {
 public:
  TrickleSource(std::string data, size_t step) : data_(std::move(data)), step_(step) {}
  Result<size_t> Read(MutableByteView out) override {
    const size_t n = std::min({out.size(), step_, data_.size() - offset_});
    std::copy_n(data_.data() + offset_, n, out.data());
    offset_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t step_;
  size_t offset_ = 0;
};

Result<std::string> ReadAll(ByteSource& source, size_t step) {
  std::string out;
  Bytes buffer(step);
  while (true) {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, source.Read(buffer));
    if (n == 0) return out;
    out.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
}

struct Decoded {
  Result<std::string> body;
  std::vector<std::pair<std::string, std::string>> trailers;
};

Decoded Decode(const Authentication& auth, const std::string& wire, size_t raw_step = 1 << 20,
               size_t out_step = 1 << 20) {
  TrickleSource raw(wire, raw_step);
  auto reader = PayloadReader::Create(auth, raw);
  if (!reader) return {tl::unexpected<Error>(reader.error()), {}};
  Decoded d{ReadAll(**reader, out_step), {}};
  if (d.body) d.trailers = (*reader)->trailers();
  // Errors are sticky: reading again gives the same failure (or the end again).
  Bytes more(16);
  auto again = (*reader)->Read(more);
  if (d.body) {
    EXPECT_TRUE(again.has_value() && *again == 0);
  } else {
    EXPECT_FALSE(again.has_value());
    if (!again) {
      EXPECT_EQ(again.error().reason(), d.body.error().reason());
    }
  }
  return d;
}

std::string As(size_t n) { return std::string(n, 'a'); }

std::string ChunkedBody(const char* const signatures[3], const std::string& after_final) {
  return "10000;chunk-signature=" + std::string(signatures[0]) + "\r\n" + As(65536) + "\r\n" +
         "400;chunk-signature=" + std::string(signatures[1]) + "\r\n" + As(1024) + "\r\n" +
         "0;chunk-signature=" + std::string(signatures[2]) + "\r\n" + after_final;
}

std::string ExampleBody() { return ChunkedBody(kChunkSignatures, "\r\n"); }

std::string TrailerBody(const std::string& checksum_line = "x-amz-checksum-crc32c:sOO8/Q==\r\n",
                        const std::string& signature = kTrailerSignature) {
  return ChunkedBody(kTrailerChunkSignatures,
                     checksum_line + "x-amz-trailer-signature:" + signature + "\r\n\r\n");
}

// The documentation's request headers, authenticated for real.
Authentication ExampleAuth() {
  TestRequest r;
  r.method = "PUT";
  r.path = "/examplebucket/chunkObject.txt";
  r.headers = {
      {"Host", "s3.amazonaws.com"},
      {"x-amz-date", "20130524T000000Z"},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
       "x-amz-decoded-content-length;x-amz-storage-class,Signature=" +
           std::string(kSeed)},
      {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
      {"Content-Encoding", "aws-chunked"},
      {"x-amz-decoded-content-length", "66560"},
      {"Content-Length", "66824"},
  };
  auto auth = Authenticate(r.view(), ExampleNow(), ExampleSecrets(), {});
  EXPECT_TRUE(auth.has_value()) << auth.error().ToString();
  return auth.value_or(Authentication{});
}

Authentication TrailerAuth() {
  TestRequest r;
  r.method = "PUT";
  r.path = "/examplebucket/chunkObject.txt";
  r.headers = {
      {"Host", "s3.amazonaws.com"},
      {"x-amz-date", "20130524T000000Z"},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
       "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;"
       "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer,Signature=" +
           std::string(kTrailerSeed)},
      {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"},
      {"Content-Encoding", "aws-chunked"},
      {"x-amz-decoded-content-length", "66560"},
      {"x-amz-trailer", "x-amz-checksum-crc32c"},
  };
  auto auth = Authenticate(r.view(), ExampleNow(), ExampleSecrets(), {});
  EXPECT_TRUE(auth.has_value()) << auth.error().ToString();
  return auth.value_or(Authentication{});
}

void ExpectFailure(const Decoded& d, const std::string& reason) {
  ASSERT_FALSE(d.body.has_value()) << "expected " << reason;
  EXPECT_EQ(d.body.error().reason(), reason) << d.body.error().ToString();
}

TEST(ChunkedKnownAnswer, SeedSignatureFromTheDocumentedHeaders) {
  Authentication auth = ExampleAuth();
  EXPECT_EQ(auth.payload_mode, PayloadMode::kStreamingSigned);
  EXPECT_EQ(auth.seed_signature, kSeed);
  EXPECT_EQ(auth.decoded_content_length, 66560u);
  EXPECT_EQ(ExampleBody().size(), 66824u);  // the documented Content-Length
}

TEST(ChunkedKnownAnswer, DecodesTheDocumentedBody) {
  const Authentication auth = ExampleAuth();
  for (size_t raw_step : {size_t{1} << 20, size_t{65536}, size_t{1000}, size_t{7}, size_t{1}}) {
    for (size_t out_step : {size_t{1} << 20, size_t{4096}, size_t{3}}) {
      if (raw_step == 1 && out_step == 3) continue;  // slow and adds nothing
      Decoded d = Decode(auth, ExampleBody(), raw_step, out_step);
      ASSERT_TRUE(d.body.has_value()) << raw_step << "/" << out_step << ": "
                                      << d.body.error().ToString();
      EXPECT_EQ(*d.body, As(66560));
      EXPECT_TRUE(d.trailers.empty());
    }
  }
}

TEST(ChunkedKnownAnswer, SignedTrailer) {
  const Authentication auth = TrailerAuth();
  EXPECT_EQ(auth.payload_mode, PayloadMode::kStreamingSignedTrailer);
  EXPECT_EQ(auth.seed_signature, kTrailerSeed);
  for (size_t raw_step : {size_t{1} << 20, size_t{13}}) {
    Decoded d = Decode(auth, TrailerBody(), raw_step);
    ASSERT_TRUE(d.body.has_value()) << d.body.error().ToString();
    EXPECT_EQ(*d.body, As(66560));
    ASSERT_EQ(d.trailers.size(), 1u);
    EXPECT_EQ(d.trailers[0].first, "x-amz-checksum-crc32c");
    EXPECT_EQ(d.trailers[0].second, "sOO8/Q==");
  }
  // The trailer value is the CRC32C of the data.
  auto crc = Checksum::Create(ChecksumAlgorithm::kCrc32c);
  ASSERT_TRUE(crc.has_value());
  (*crc)->Update(AsBytes(As(66560)));
  EXPECT_EQ(Base64Encode((*crc)->Finish()), "sOO8/Q==");
}

TEST(ChunkedKnownAnswer, SignedTrailerFromAwsSdkJavaV2Tests) {
  // aws-sdk-java-v2's ChunkedEncodedInputStream test signs another trailer
  // value after the same chunk chain: ce306fa4... over "x-amz-checksum-crc32c:wdBDMA==\n".
  Decoded d = Decode(TrailerAuth(),
                     TrailerBody("x-amz-checksum-crc32c:wdBDMA==\r\n",
                                 "ce306fa4cdf73aa89071b78358f0d22ea79c43117314c8ed68017f7d6f91048e"));
  ASSERT_TRUE(d.body.has_value()) << d.body.error().ToString();
  ASSERT_EQ(d.trailers.size(), 1u);
  EXPECT_EQ(d.trailers[0].second, "wdBDMA==");
}

TEST(ChunkedTolerance, TrailerLayoutsClientsSend) {
  const Authentication auth = TrailerAuth();
  const std::string checksum = "x-amz-checksum-crc32c:sOO8/Q==";
  const std::string sig = std::string("x-amz-trailer-signature:") + kTrailerSignature;
  for (const std::string& after : {
           checksum + "\r\n" + sig + "\r\n",                // no final empty line
           "\r\n" + checksum + "\r\n" + sig + "\r\n\r\n",   // an empty line before the trailers
           checksum + "\n\r\n" + sig + "\r\n\r\n",          // minio-go: LF, then CRLF
           "X-Amz-Checksum-CRC32C: sOO8/Q== \r\n" + sig + "\r\n\r\n",  // case and spaces
       }) {
    Decoded d = Decode(auth, ChunkedBody(kTrailerChunkSignatures, after));
    ASSERT_TRUE(d.body.has_value()) << after << ": " << d.body.error().ToString();
    ASSERT_EQ(d.trailers.size(), 1u);
    EXPECT_EQ(d.trailers[0], (std::pair<std::string, std::string>{"x-amz-checksum-crc32c", "sOO8/Q=="}));
  }
  // The final chunk alone, with or without the closing empty line.
  Authentication plain = ExampleAuth();
  EXPECT_TRUE(Decode(plain, ChunkedBody(kChunkSignatures, "")).body.has_value());
}

TEST(ChunkedFailure, TamperedChunkSignature) {
  const Authentication auth = ExampleAuth();
  for (int i = 0; i < 3; ++i) {
    const char* sigs[3] = {kChunkSignatures[0], kChunkSignatures[1], kChunkSignatures[2]};
    std::string bad = sigs[i];
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    sigs[i] = bad.c_str();
    ExpectFailure(Decode(auth, ChunkedBody(sigs, "\r\n")), "SignatureDoesNotMatch");
  }
  // Chunks in the wrong order break the chain.
  ExpectFailure(Decode(auth, "400;chunk-signature=" + std::string(kChunkSignatures[1]) + "\r\n" +
                                 As(1024) + "\r\n"),
                "SignatureDoesNotMatch");
  // A wrong seed breaks the first chunk.
  Authentication wrong_seed = auth;
  wrong_seed.seed_signature = kTrailerSeed;
  ExpectFailure(Decode(wrong_seed, ExampleBody()), "SignatureDoesNotMatch");
  // Missing or malformed chunk-signature.
  std::string body = ExampleBody();
  ExpectFailure(Decode(auth, "10000\r\n" + body.substr(body.find("\r\n") + 2)),
                "SignatureDoesNotMatch");
  ExpectFailure(Decode(auth, "10000;chunk-signature=abc\r\n" + body.substr(body.find("\r\n") + 2)),
                "SignatureDoesNotMatch");
  ExpectFailure(Decode(auth, "10000;signature=" + body.substr(body.find('=') + 1)),
                "SignatureDoesNotMatch");
}

TEST(ChunkedFailure, TamperedChunkData) {
  const Authentication auth = ExampleAuth();
  for (size_t offset : {size_t{88}, size_t{88 + 40000}, size_t{88 + 65535}, size_t{65626 + 86 + 5}}) {
    std::string body = ExampleBody();
    ASSERT_EQ(body[offset], 'a');
    body[offset] = 'b';
    ExpectFailure(Decode(auth, body), "SignatureDoesNotMatch");
  }
}

TEST(ChunkedFailure, Truncated) {
  const Authentication auth = ExampleAuth();
  const std::string body = ExampleBody();
  for (size_t keep : {size_t{0}, size_t{5}, size_t{87}, size_t{88}, size_t{1000}, size_t{65624},
                      size_t{65625}, size_t{65626}, size_t{66000}, body.size() - 90,
                      body.size() - 20}) {
    ExpectFailure(Decode(auth, body.substr(0, keep), 4096), "IncompleteBody");
  }
  // Cut inside the final chunk's header: a signature too short to match.
  EXPECT_FALSE(Decode(auth, body.substr(0, body.size() - 5)).body.has_value());
}

TEST(ChunkedFailure, DecodedLengthMismatch) {
  for (uint64_t length : {uint64_t{66559}, uint64_t{66561}, uint64_t{0}, uint64_t{65536}}) {
    Authentication auth = ExampleAuth();
    auth.decoded_content_length = length;
    ExpectFailure(Decode(auth, ExampleBody()), "IncompleteBody");
  }
}

TEST(ChunkedFailure, TrailerSignature) {
  const Authentication auth = TrailerAuth();
  std::string bad = kTrailerSignature;
  bad[0] = 'e';
  ExpectFailure(Decode(auth, TrailerBody("x-amz-checksum-crc32c:sOO8/Q==\r\n", bad)),
                "SignatureDoesNotMatch");
  // The trailer value changed under a valid signature.
  ExpectFailure(Decode(auth, TrailerBody("x-amz-checksum-crc32c:sOO8/R==\r\n")),
                "SignatureDoesNotMatch");
  ExpectFailure(Decode(auth, TrailerBody("x-amz-checksum-crc32:sOO8/Q==\r\n")),
                "SignatureDoesNotMatch");
  // An extra unsigned trailer.
  ExpectFailure(Decode(auth, TrailerBody("x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-meta-a:b\r\n")),
                "SignatureDoesNotMatch");
  // No trailer signature at all.
  ExpectFailure(Decode(auth, ChunkedBody(kTrailerChunkSignatures,
                                         "x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n")),
                "SignatureDoesNotMatch");
  // Something after the trailer signature.
  ExpectFailure(Decode(auth, ChunkedBody(kTrailerChunkSignatures,
                                         "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:" +
                                             std::string(kTrailerSignature) + "\r\nx-a:b\r\n\r\n")),
                "IncompleteBody");
}

TEST(ChunkedFailure, Framing) {
  const Authentication auth = ExampleAuth();
  const std::string body = ExampleBody();
  // Data after the end.
  ExpectFailure(Decode(auth, body + "x"), "IncompleteBody");
  // Trailers where none were declared.
  ExpectFailure(Decode(auth, ChunkedBody(kChunkSignatures, "x-amz-checksum-crc32:AAAAAA==\r\n\r\n")),
                "IncompleteBody");
  // Chunk data not followed by CRLF.
  std::string no_crlf = body;
  no_crlf.replace(88 + 65536, 2, "ab");
  ExpectFailure(Decode(auth, no_crlf), "IncompleteBody");
  // Malformed sizes.
  const std::string rest = body.substr(body.find(';'));
  for (const std::string size : {"", "zz", "-1", " 10000", "10000000000000000", "0x10000"}) {
    ExpectFailure(Decode(auth, size + rest), "IncompleteBody");
  }
  // A header line longer than the bound is refused before it is buffered.
  ExpectFailure(Decode(auth, "10000;chunk-signature=" + std::string(10000, 'a') + "\r\n"),
                "IncompleteBody");
  ExpectFailure(Decode(auth, std::string(100000, '1')), "IncompleteBody");
  // A size beyond the decoded length is refused before its data is read.
  ExpectFailure(Decode(auth, "ffffffffffffffff;chunk-signature=" + std::string(kChunkSignatures[0]) +
                                 "\r\n"),
                "IncompleteBody");
}

TEST(ChunkedUnsignedTrailer, DecodesAndExposesTrailers) {
  Authentication auth;
  auth.payload_mode = PayloadMode::kStreamingUnsignedTrailer;
  auth.decoded_content_length = 17409;
  const std::string data = std::string(8192, 'x') + std::string(8192, 'y') + std::string(1025, 'z');
  auto crc = Checksum::Create(ChecksumAlgorithm::kCrc32);
  ASSERT_TRUE(crc.has_value());
  (*crc)->Update(AsBytes(data));
  const std::string value = Base64Encode((*crc)->Finish());
  const std::string wire = "2000\r\n" + data.substr(0, 8192) + "\r\n2000\r\n" +
                           data.substr(8192, 8192) + "\r\n401\r\n" + data.substr(16384) +
                           "\r\n0\r\nx-amz-checksum-crc32:" + value + "\r\n\r\n";
  for (size_t step : {size_t{1} << 20, size_t{3}}) {
    Decoded d = Decode(auth, wire, step);
    ASSERT_TRUE(d.body.has_value()) << d.body.error().ToString();
    EXPECT_EQ(*d.body, data);
    ASSERT_EQ(d.trailers.size(), 1u);
    EXPECT_EQ(d.trailers[0].first, "x-amz-checksum-crc32");
    EXPECT_EQ(d.trailers[0].second, value);
  }
  // minio-go's StreamingUSReader ends the trailer with "\n\r\n\r\n".
  {
    Decoded d = Decode(auth, "2000\r\n" + data.substr(0, 8192) + "\r\n2000\r\n" +
                                 data.substr(8192, 8192) + "\r\n401\r\n" + data.substr(16384) +
                                 "\r\n0\r\nx-amz-checksum-crc32:" + value + "\n\r\n\r\n");
    ASSERT_TRUE(d.body.has_value()) << d.body.error().ToString();
    ASSERT_EQ(d.trailers.size(), 1u);
    EXPECT_EQ(d.trailers[0].second, value);
  }
  // Chunk extensions are ignored when chunks are unsigned.
  EXPECT_TRUE(Decode(auth, "2000;foo=bar\r\n" + data.substr(0, 8192) + "\r\n2000\r\n" +
                               data.substr(8192, 8192) + "\r\n401\r\n" + data.substr(16384) +
                               "\r\n0;\r\n\r\n")
                  .body.has_value());
  // A trailer signature has no place here.
  ExpectFailure(Decode(auth, "2000\r\n" + data.substr(0, 8192) + "\r\n2000\r\n" +
                                 data.substr(8192, 8192) + "\r\n401\r\n" + data.substr(16384) +
                                 "\r\n0\r\nx-amz-checksum-crc32:" + value +
                                 "\r\nx-amz-trailer-signature:" + kTrailerSignature + "\r\n\r\n"),
                "IncompleteBody");
  // Too many trailers.
  std::string many;
  for (int i = 0; i < 40; ++i) many += "x-amz-meta-" + std::to_string(i) + ":v\r\n";
  auth.decoded_content_length = 1;
  ExpectFailure(Decode(auth, "1\r\nq\r\n0\r\n" + many + "\r\n"), "IncompleteBody");
}

TEST(SignedHashReader, VerifiesAtTheEnd) {
  Authentication auth;
  auth.payload_mode = PayloadMode::kSignedHash;
  auth.payload_sha256 = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
  for (size_t step : {size_t{1}, size_t{5}, size_t{100}}) {
    Decoded d = Decode(auth, "Welcome to Amazon S3.", step, step);
    ASSERT_TRUE(d.body.has_value()) << d.body.error().ToString();
    EXPECT_EQ(*d.body, "Welcome to Amazon S3.");
  }
  ExpectFailure(Decode(auth, "Welcome to Amazon S3!"), "XAmzContentSHA256Mismatch");
  ExpectFailure(Decode(auth, "Welcome to Amazon S3"), "XAmzContentSHA256Mismatch");
  ExpectFailure(Decode(auth, ""), "XAmzContentSHA256Mismatch");
  auth.payload_sha256 = "not hex";
  TrickleSource raw("", 1);
  EXPECT_FALSE(PayloadReader::Create(auth, raw).has_value());
}

TEST(UnsignedReader, PassesThrough) {
  Authentication auth;
  auth.payload_mode = PayloadMode::kUnsigned;
  Decoded d = Decode(auth, "anything at all", 4, 3);
  ASSERT_TRUE(d.body.has_value());
  EXPECT_EQ(*d.body, "anything at all");
}

TEST(ChunkedReader, SignedModesNeedKeyAndSeed) {
  Authentication auth;
  auth.payload_mode = PayloadMode::kStreamingSigned;
  TrickleSource raw("", 1);
  EXPECT_FALSE(PayloadReader::Create(auth, raw).has_value());
}

}  // namespace
}  // namespace strongroom::aws
