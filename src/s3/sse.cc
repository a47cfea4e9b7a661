// SPDX-License-Identifier: Apache-2.0
#include "s3/sse.h"

#include <algorithm>
#include <array>

#include "aws/checksum.h"
#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "s3/errors.h"
#include "s3/xml.h"

namespace strongroom::s3 {
namespace {

constexpr char kSseCOverHttp[] =
    "Requests specifying Server Side Encryption with Customer provided keys must be made over a "
    "secure connection.";
constexpr char kSseKmsOverHttp[] =
    "Requests specifying Server Side Encryption with AWS KMS managed keys must be made over a "
    "secure connection.";
constexpr char kNoAlgorithm[] =
    "Requests specifying Server Side Encryption with Customer provided keys must provide a valid "
    "encryption algorithm.";
constexpr char kNoKey[] =
    "Requests specifying Server Side Encryption with Customer provided keys must provide an "
    "appropriate secret key.";
constexpr char kNoKeyMd5[] =
    "Requests specifying Server Side Encryption with Customer provided keys must provide the "
    "client calculated MD5 of the secret key.";
constexpr char kKeyMd5Mismatch[] =
    "The calculated MD5 hash of the key did not match the hash that was provided.";
constexpr char kKeyTooShort[] = "The secret key was invalid - too short.";
constexpr char kKeyBadLength[] = "The secret key was invalid for the specified algorithm.";
constexpr char kBadAlgorithm[] =
    "The Encryption request you specified is not valid. Supported value: AES256.";
constexpr char kKmsHeaderNeedsKms[] =
    "Server Side Encryption with AWS KMS managed key requires HTTP header "
    "x-amz-server-side-encryption : aws:kms";
constexpr char kBadContext[] =
    "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string "
    "holding JSON which represents a string-string map";
constexpr char kMalformedXml[] =
    "The XML you provided was not well-formed or did not validate against our published schema";

struct GroupNames {
  std::string algorithm;
  std::string key;
  std::string md5;
};

const GroupNames& Names(KeyGroup group) {
  static const GroupNames object{std::string(kSseCustomerAlgorithmHeader),
                                 std::string(kSseCustomerKeyHeader),
                                 std::string(kSseCustomerKeyMd5Header)};
  static const GroupNames copy{"x-amz-copy-source-" + object.algorithm.substr(6),
                               "x-amz-copy-source-" + object.key.substr(6),
                               "x-amz-copy-source-" + object.md5.substr(6)};
  return group == KeyGroup::kObject ? object : copy;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  if (c == '=') return 64;  // padding
  return -1;
}

// Walks the complete groups of four symbols of `text` (skipping characters
// outside the alphabet) and calls `emit(byte)` for every decoded byte.
template <typename Emit>
void ForEachDecodedByte(std::string_view text, Emit&& emit) {
  std::array<int, 4> quad{};
  size_t filled = 0;
  for (char c : text) {
    int value = Base64Value(c);
    if (value < 0) continue;
    quad[filled++] = value;
    if (filled < 4) continue;
    filled = 0;
    // Padding may only end a group, after at least two symbols.
    if (quad[0] == 64 || quad[1] == 64 || (quad[2] == 64 && quad[3] != 64)) continue;
    uint32_t bits = static_cast<uint32_t>(quad[0]) << 18 | static_cast<uint32_t>(quad[1]) << 12 |
                    static_cast<uint32_t>(quad[2] == 64 ? 0 : quad[2]) << 6 |
                    static_cast<uint32_t>(quad[3] == 64 ? 0 : quad[3]);
    emit(static_cast<uint8_t>(bits >> 16));
    if (quad[2] != 64) emit(static_cast<uint8_t>(bits >> 8));
    if (quad[3] != 64) emit(static_cast<uint8_t>(bits));
    bits = 0;
  }
  quad.fill(0);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return ::tolower(x) == ::tolower(y); });
}

// A tiny JSON reader for IsStringMapJson: whitespace, one object, strings.
class JsonCursor {
 public:
  explicit JsonCursor(std::string_view text) : text_(text) {}
  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool String() {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < text_.size()) {
      unsigned char c = static_cast<unsigned char>(text_[pos_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (pos_ >= text_.size()) return false;
      char escape = text_[pos_++];
      if (escape == 'u') {
        if (pos_ + 4 > text_.size()) return false;
        for (int i = 0; i < 4; ++i) {
          if (!std::isxdigit(static_cast<unsigned char>(text_[pos_++]))) return false;
        }
      } else if (std::string_view("\"\\/bfnrt").find(escape) == std::string_view::npos) {
        return false;
      }
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

bool HasCustomerKeyHeaders(const http::Headers& headers, KeyGroup group) {
  const GroupNames& names = Names(group);
  return headers.Has(names.algorithm) || headers.Has(names.key) || headers.Has(names.md5);
}

crypto::SecretBytes DecodeCustomerKey(std::string_view text) {
  size_t size = 0;
  ForEachDecodedByte(text, [&](uint8_t) { ++size; });
  crypto::SecretBytes out(size);
  MutableByteView bytes = out.mutable_reveal();
  size_t at = 0;
  ForEachDecodedByte(text, [&](uint8_t b) { bytes[at++] = b; });
  return out;
}

Result<std::optional<objects::CustomerKey>> ParseCustomerKey(const http::Headers& headers,
                                                              KeyGroup group, KeyUse use) {
  const GroupNames& names = Names(group);
  auto algorithm = headers.Get(names.algorithm);
  auto key = headers.Get(names.key);
  auto md5 = headers.Get(names.md5);
  if (!algorithm && !key && !md5) {
    return std::optional<objects::CustomerKey>();
  }
  if (!algorithm) return tl::unexpected(MakeError("InvalidArgument", kNoAlgorithm));
  if (!key) return tl::unexpected(MakeError("InvalidArgument", kNoKey));
  crypto::SecretBytes raw = DecodeCustomerKey(*key);
  if (raw.empty()) return tl::unexpected(MakeError("InvalidArgument", kKeyTooShort));
  if (!md5 && use == KeyUse::kWrite) {
    return tl::unexpected(MakeError("InvalidArgument", kNoKeyMd5));
  }
  STRONGROOM_ASSIGN_OR_RETURN(Bytes digest,
                              crypto::Digest::Compute(crypto::Digest::Algorithm::kMd5, raw.reveal()));
  std::string key_md5 = aws::Base64Encode(digest);
  // AWS compares the header text itself: unpadded, URL-safe or decorated
  // spellings of the right digest do not match.
  if (md5 && !crypto::ConstantTimeEquals(AsBytes(*md5), AsBytes(key_md5))) {
    return tl::unexpected(MakeError("InvalidArgument", kKeyMd5Mismatch));
  }
  if (*algorithm != "AES256") {
    return tl::unexpected(MakeError("InvalidEncryptionAlgorithmError", kBadAlgorithm));
  }
  if (raw.size() != 32) {
    if (use == KeyUse::kWrite) {
      return tl::unexpected(MakeError("InvalidArgument", kKeyBadLength));
    }
    // On reads AWS treats a key of the wrong length as a wrong key (403 for
    // an SSE-C object, "not applicable" for another). A random key gives the
    // object store exactly that case without a second code path.
    STRONGROOM_ASSIGN_OR_RETURN(raw, crypto::RandomSecret(32));
  }
  return std::optional<objects::CustomerKey>(objects::CustomerKey{std::move(raw), key_md5});
}

bool IsLoopback(std::string_view remote_address) {
  std::string_view host = remote_address;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos &&
                                            host.find(':') == colon) {
    host = host.substr(0, colon);  // "a.b.c.d:port"
  }
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  if (lower.rfind("::ffff:", 0) == 0) lower = lower.substr(7);
  if (lower == "::1" || lower == "0:0:0:0:0:0:0:1") return true;
  return lower.rfind("127.", 0) == 0 && lower.find_first_not_of("0123456789.") == std::string::npos;
}

Result<void> CheckSecureTransport(const http::Headers& headers, bool is_tls,
                                  std::string_view remote_address, bool allow_loopback) {
  if (is_tls) return Ok();
  bool sse_c = HasCustomerKeyHeaders(headers, KeyGroup::kObject) ||
               HasCustomerKeyHeaders(headers, KeyGroup::kCopySource);
  auto algorithm = headers.Get(kSseHeader);
  bool kms = algorithm && algorithm->rfind("aws:kms", 0) == 0;
  if (!sse_c && !kms) return Ok();
  if (allow_loopback && IsLoopback(remote_address)) return Ok();
  return tl::unexpected(MakeError("InvalidArgument", sse_c ? kSseCOverHttp : kSseKmsOverHttp));
}

bool IsStringMapJson(std::string_view json) {
  JsonCursor cursor(json);
  if (!cursor.Consume('{')) return false;
  if (cursor.Consume('}')) return cursor.AtEnd();
  for (;;) {
    if (!cursor.String() || !cursor.Consume(':') || !cursor.String()) return false;
    if (cursor.Consume(',')) continue;
    if (cursor.Consume('}')) return cursor.AtEnd();
    return false;
  }
}

Result<SseHeaders> ParseSseHeaders(const http::Headers& headers) {
  SseHeaders sse;
  sse.algorithm = headers.Get(kSseHeader);
  sse.kms_key_id = headers.Get(kSseKmsKeyIdHeader);
  if (sse.algorithm) {
    if (*sse.algorithm == "aws:kms:dsse") {
      return tl::unexpected(MakeError(
          "NotImplemented",
          "A header you provided implies functionality that is not implemented: DSSE-KMS "
          "(aws:kms:dsse)"));
    }
    if (*sse.algorithm != "AES256" && *sse.algorithm != "aws:kms") {
      return tl::unexpected(
          MakeError("InvalidArgument", "The encryption method specified is not supported"));
    }
  }
  bool kms = sse.algorithm == std::optional<std::string>("aws:kms");
  auto context = headers.Get(kSseContextHeader);
  if ((sse.kms_key_id || context) && !kms) {
    return tl::unexpected(MakeError("InvalidArgument", kKmsHeaderNeedsKms));
  }
  if (context) {
    auto decoded = aws::Base64Decode(*context);
    if (!decoded || !IsValidUtf8(AsChars(*decoded)) || !IsStringMapJson(AsChars(*decoded))) {
      return tl::unexpected(MakeError("InvalidArgument", kBadContext));
    }
    sse.context = std::string(AsChars(*decoded));
  }
  if (auto bucket_key = headers.Get(kSseBucketKeyHeader)) {
    if (EqualsIgnoreCase(*bucket_key, "true")) {
      sse.bucket_key_enabled = true;
    } else if (EqualsIgnoreCase(*bucket_key, "false")) {
      sse.bucket_key_enabled = false;
    } else {
      return tl::unexpected(MakeError(
          "InvalidArgument",
          "x-amz-server-side-encryption-bucket-key-enabled must be true or false"));
    }
  }
  return sse;
}

std::string KmsKeyArn(std::string_view region, std::string_view key_id) {
  return "arn:aws:kms:" + std::string(region) + ":" + std::string(kAccountId) + ":key/" +
         std::string(key_id);
}

void AddEncryptionHeaders(http::Headers& headers, const objects::ObjectEncryption& encryption,
                          std::string_view region, const objects::CustomerKey* customer_key,
                          bool with_context) {
  switch (encryption.mode) {
    case objects::SseMode::kCustomer:
      headers.Set(std::string(kSseCustomerAlgorithmHeader), "AES256");
      if (customer_key != nullptr) {
        headers.Set(std::string(kSseCustomerKeyMd5Header), customer_key->key_md5);
      }
      return;
    case objects::SseMode::kS3:
      headers.Set(std::string(kSseHeader), "AES256");
      return;
    case objects::SseMode::kKms:
      headers.Set(std::string(kSseHeader), "aws:kms");
      headers.Set(std::string(kSseKmsKeyIdHeader), KmsKeyArn(region, encryption.kms_key_id));
      if (encryption.bucket_key_enabled) {
        headers.Set(std::string(kSseBucketKeyHeader), "true");
      }
      if (with_context && !encryption.kms_context.empty()) {
        headers.Set(std::string(kSseContextHeader),
                    aws::Base64Encode(AsBytes(encryption.kms_context)));
      }
      return;
  }
}

Result<BucketEncryptionRequest> ParseBucketEncryptionXml(std::string_view body) {
  auto malformed = [] { return tl::unexpected(MakeError("MalformedXML", kMalformedXml)); };
  STRONGROOM_ASSIGN_OR_RETURN(XmlElement root, ParseXml(body));
  if (root.name != "ServerSideEncryptionConfiguration") return malformed();
  const XmlElement* rule = nullptr;
  for (const XmlElement& child : root.children) {
    if (child.name != "Rule") return malformed();
    if (rule != nullptr) return malformed();  // one rule, as AWS
    rule = &child;
  }
  if (rule == nullptr) return malformed();
  BucketEncryptionRequest request;
  for (const XmlElement& part : rule->children) {
    if (part.name == "ApplyServerSideEncryptionByDefault") {
      const XmlElement* algorithm = part.Child("SSEAlgorithm");
      const XmlElement* key = part.Child("KMSMasterKeyID");
      for (const XmlElement& field : part.children) {
        if (field.name != "SSEAlgorithm" && field.name != "KMSMasterKeyID") return malformed();
      }
      if (algorithm == nullptr) return malformed();
      if (algorithm->text == "aws:kms:dsse") {
        return tl::unexpected(MakeError(
            "NotImplemented",
            "A header you provided implies functionality that is not implemented: DSSE-KMS "
            "(aws:kms:dsse)"));
      }
      if (algorithm->text == "AES256") {
        request.mode = objects::SseMode::kS3;
        if (key != nullptr) {
          return tl::unexpected(MakeError(
              "InvalidArgument",
              "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms "
              "or aws:kms:dsse"));
        }
      } else if (algorithm->text == "aws:kms") {
        request.mode = objects::SseMode::kKms;
        if (key != nullptr) request.kms_key_reference = key->text;
      } else {
        return malformed();
      }
    } else if (part.name == "BucketKeyEnabled") {
      if (part.text == "true") {
        request.bucket_key_enabled = true;
      } else if (part.text != "false") {
        return malformed();
      }
    } else if (part.name == "BlockedEncryptionTypes") {
      for (const XmlElement& type : part.children) {
        if (type.name != "EncryptionType") return malformed();
        if (type.text == "SSE-C") {
          request.block_sse_c = true;
        } else if (type.text != "NONE") {
          return malformed();
        }
      }
    } else {
      return malformed();
    }
  }
  return request;
}

std::string BucketEncryptionXml(const objects::BucketEncryption& config, std::string_view region) {
  XmlWriter xml("ServerSideEncryptionConfiguration");
  xml.Begin("Rule").Begin("ApplyServerSideEncryptionByDefault");
  if (config.default_mode == objects::SseMode::kKms) {
    xml.Add("SSEAlgorithm", "aws:kms");
    if (!config.kms_key_id.empty()) xml.Add("KMSMasterKeyID", KmsKeyArn(region, config.kms_key_id));
  } else {
    xml.Add("SSEAlgorithm", "AES256");
  }
  xml.End();
  xml.Add("BucketKeyEnabled", config.bucket_key_enabled ? "true" : "false");
  if (config.block_sse_c) {
    xml.Begin("BlockedEncryptionTypes").Add("EncryptionType", "SSE-C").End();
  }
  xml.End();
  return xml.Finish();
}

}  // namespace strongroom::s3
