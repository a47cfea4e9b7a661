// SPDX-License-Identifier: Apache-2.0
// Requests signed by real S3 clients (botocore, the aws command, rclone,
// s3cmd) and captured on the wire by src/aws/testdata/gen_signed_requests.py
// into testdata/aws/botocore_signed_requests.json. Each must verify; each
// body must decode, match the client's payload and its checksums; each must
// stop verifying when altered.

#include <gtest/gtest.h>

#include <map>

#include "aws/checksum.h"
#include "aws/sigv4.h"
#include "aws/sigv4_test_util.h"
#include "crypto/digest.h"
#include "testing/testdata.h"

namespace strongroom::aws {
namespace {

using test::TestRequest;

struct Captured {
  std::string name;
  TestRequest request;
  std::string access_key;
  std::string secret;
  std::chrono::system_clock::time_point now;
  std::optional<Bytes> body;
  std::optional<std::string> decoded_sha256;
  std::optional<int64_t> presigned_expires;
};

std::vector<Captured> LoadCaptured() {
  const nlohmann::json doc = testing::LoadJson("aws/botocore_signed_requests.json");
  std::vector<Captured> out;
  for (const auto& item : doc.at("requests")) {
    Captured c;
    c.name = item.at("client").get<std::string>() + ": " + item.at("name").get<std::string>();
    c.request.method = item.at("method").get<std::string>();
    c.request.path = item.at("path").get<std::string>();
    c.request.query = item.at("query").get<std::string>();
    for (const auto& h : item.at("headers")) {
      c.request.headers.emplace_back(h.at(0).get<std::string>(), h.at(1).get<std::string>());
    }
    c.access_key = item.at("access_key").get<std::string>();
    c.secret = item.at("secret").get<std::string>();
    c.now = std::chrono::system_clock::time_point(std::chrono::seconds(item.at("now").get<int64_t>()));
    if (item.contains("body_base64")) {
      c.body = Base64Decode(item.at("body_base64").get<std::string>());
      EXPECT_TRUE(c.body.has_value()) << c.name;
    }
    if (item.contains("decoded_sha256")) c.decoded_sha256 = item.at("decoded_sha256").get<std::string>();
    if (item.contains("presigned_expires")) {
      c.presigned_expires = item.at("presigned_expires").get<int64_t>();
    }
    out.push_back(std::move(c));
  }
  return out;
}

const std::vector<Captured>& All() {
  static const std::vector<Captured> all = LoadCaptured();
  return all;
}

SecretLookup SecretsFor(const Captured& c, std::string secret) {
  return [access_key = c.access_key, secret = std::move(secret)](
             std::string_view key) -> Result<crypto::SecretBytes> {
    if (key == access_key) return test::Secret(secret);
    return NotFound("no such key");
  };
}

Result<Authentication> Verify(const Captured& c, const TestRequest& request,
                              std::chrono::system_clock::time_point now) {
  return Authenticate(request.view(), now, SecretsFor(c, c.secret), {});
}

std::string Reason(const Result<Authentication>& r) { return r ? "(verified)" : r.error().reason(); }

TEST(ClientRequests, CoverTheClients) {
  std::map<std::string, int> per_client;
  for (const auto& c : All()) per_client[c.name.substr(0, c.name.find(' '))]++;
  EXPECT_GE(per_client["botocore"], 40);
  for (const auto& [client, count] : per_client) {
    std::cout << "  " << client << ": " << count << " requests\n";
  }
}

TEST(ClientRequests, AllVerify) {
  int presigned = 0;
  for (const auto& c : All()) {
    auto auth = Verify(c, c.request, c.now);
    ASSERT_TRUE(auth.has_value()) << c.name << ": " << auth.error().ToString();
    EXPECT_EQ(auth->access_key, c.access_key);
    EXPECT_EQ(auth->presigned, c.presigned_expires.has_value()) << c.name;
    EXPECT_TRUE(HasCredentials(c.request.view())) << c.name;
    presigned += auth->presigned ? 1 : 0;
  }
  EXPECT_GE(presigned, 4);
}

// Decodes each body and checks it against the client's own payload and the
// checksums it sent (x-amz-checksum-* and Content-MD5 headers and trailers).
TEST(ClientRequests, BodiesDecodeAndChecksumsAgree) {
  int chunked = 0;
  int checksums = 0;
  for (const auto& c : All()) {
    if (c.request.method != "PUT" && c.request.method != "POST") continue;
    if (c.presigned_expires) continue;
    auto auth = Verify(c, c.request, c.now);
    ASSERT_TRUE(auth.has_value()) << c.name;
    const Bytes raw_body = c.body.value_or(Bytes{});
    ByteViewSource raw(raw_body);
    auto reader = PayloadReader::Create(*auth, raw);
    ASSERT_TRUE(reader.has_value()) << c.name << ": " << reader.error().ToString();
    Bytes decoded;
    Bytes buffer(1000);
    while (true) {
      auto n = (*reader)->Read(buffer);
      ASSERT_TRUE(n.has_value()) << c.name << ": " << n.error().ToString();
      if (*n == 0) break;
      decoded.insert(decoded.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    if (auth->payload_mode == PayloadMode::kStreamingUnsignedTrailer ||
        auth->payload_mode == PayloadMode::kStreamingSigned ||
        auth->payload_mode == PayloadMode::kStreamingSignedTrailer) {
      ++chunked;
      EXPECT_EQ(decoded.size(), auth->decoded_content_length) << c.name;
    }
    if (c.decoded_sha256) {
      auto digest = crypto::Digest::Compute(crypto::Digest::Algorithm::kSha256, decoded);
      ASSERT_TRUE(digest.has_value());
      EXPECT_EQ(HexEncode(*digest), *c.decoded_sha256) << c.name;
    }
    auto sources = c.request.headers;
    for (const auto& t : (*reader)->trailers()) sources.push_back(t);
    for (const auto& [raw_name, value] : sources) {
      std::string name = raw_name;
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::optional<ChecksumAlgorithm> algorithm;
      if (name == "content-md5") {
        algorithm = ChecksumAlgorithm::kMd5;
      } else if (name.rfind("x-amz-checksum-", 0) == 0 && name != "x-amz-checksum-mode") {
        algorithm = ParseChecksumAlgorithm(name.substr(15));
        ASSERT_TRUE(algorithm.has_value()) << c.name << ": " << name;
      }
      if (!algorithm) continue;
      auto checksum = Checksum::Create(*algorithm);
      ASSERT_TRUE(checksum.has_value());
      (*checksum)->Update(decoded);
      EXPECT_EQ(Base64Encode((*checksum)->Finish()), value) << c.name << ": " << name;
      ++checksums;
    }
  }
  EXPECT_GE(chunked, 4);
  EXPECT_GE(checksums, 10);
}

TEST(ClientRequests, WrongSecretFails) {
  for (const auto& c : All()) {
    auto auth = Authenticate(c.request.view(), c.now, SecretsFor(c, c.secret + "x"), {});
    EXPECT_EQ(Reason(auth), "SignatureDoesNotMatch") << c.name;
  }
}

TEST(ClientRequests, AlteredRequestsFail) {
  for (const auto& c : All()) {
    TestRequest r = c.request;
    r.path += "x";
    EXPECT_EQ(Reason(Verify(c, r, c.now)), "SignatureDoesNotMatch") << c.name << " (path)";

    r = c.request;
    r.path.insert(r.path.find('/', 1) == std::string::npos ? r.path.size() : r.path.find('/', 1),
                  "%20");
    EXPECT_EQ(Reason(Verify(c, r, c.now)), "SignatureDoesNotMatch") << c.name << " (bucket)";

    r = c.request;
    r.query += r.query.empty() ? "acl" : "&acl";
    EXPECT_EQ(Reason(Verify(c, r, c.now)), "SignatureDoesNotMatch") << c.name << " (query)";

    r = c.request;
    r.method = r.method == "GET" ? "DELETE" : "GET";
    EXPECT_EQ(Reason(Verify(c, r, c.now)), "SignatureDoesNotMatch") << c.name << " (method)";

    r = c.request;
    r.SetHeader("Host", "127.0.0.2:9");
    EXPECT_EQ(Reason(Verify(c, r, c.now)), "SignatureDoesNotMatch") << c.name << " (host)";

    // Every signed header matters.
    if (!c.presigned_expires) {
      const std::string auth_value = c.request.Header("Authorization");
      const size_t from = auth_value.find("SignedHeaders=") + 14;
      const std::string list = auth_value.substr(from, auth_value.find(',', from) - from);
      size_t start = 0;
      while (start <= list.size()) {
        const size_t semi = std::min(list.find(';', start), list.size());
        const std::string header = list.substr(start, semi - start);
        start = semi + 1;
        if (header == "x-amz-date") continue;  // changes the time check instead
        r = c.request;
        r.SetHeader(header, r.Header(header) + "1");
        const std::string reason = Reason(Verify(c, r, c.now));
        // An altered x-amz-content-sha256 is no longer a valid value at all.
        EXPECT_TRUE(reason == "SignatureDoesNotMatch" ||
                    (header == "x-amz-content-sha256" && reason == "InvalidArgument"))
            << c.name << " (header " << header << "): " << reason;
      }
    }
  }
}

TEST(ClientRequests, TimeLimits) {
  for (const auto& c : All()) {
    if (c.presigned_expires) {
      const auto expiry = c.now + std::chrono::seconds(*c.presigned_expires);
      EXPECT_TRUE(Verify(c, c.request, expiry).has_value()) << c.name;
      auto late = Verify(c, c.request, expiry + std::chrono::seconds(1));
      EXPECT_EQ(Reason(late), "AccessDenied") << c.name;
    } else {
      EXPECT_EQ(Reason(Verify(c, c.request, c.now + std::chrono::minutes(16))),
                "RequestTimeTooSkewed")
          << c.name;
      EXPECT_EQ(Reason(Verify(c, c.request, c.now - std::chrono::minutes(16))),
                "RequestTimeTooSkewed")
          << c.name;
    }
  }
}

}  // namespace
}  // namespace strongroom::aws
