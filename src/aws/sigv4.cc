// SPDX-License-Identifier: Apache-2.0
#include "aws/sigv4.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <set>

#include "base/bytes.h"
#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/hmac.h"

namespace strongroom::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kService = "s3";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
constexpr std::string_view kStreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
constexpr std::string_view kStreamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kChunkSignaturePrefix = "chunk-signature=";
constexpr std::string_view kTrailerSignatureName = "x-amz-trailer-signature";

// Bounds on what a client controls in an aws-chunked body.
constexpr size_t kMaxChunkLineLength = 4096;
constexpr size_t kMaxTrailerLines = 32;
constexpr size_t kRawBufferSize = 64 * 1024;

// ---------------------------------------------------------------------------
// Errors. The reason is the S3 error Code; messages never hold secrets or the
// expected signature.

tl::unexpected<Error> Fail(ErrorCode code, std::string reason, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)).WithReason(std::move(reason)));
}
tl::unexpected<Error> HeaderMalformed(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "AuthorizationHeaderMalformed",
              "authorization header is malformed: " + message);
}
tl::unexpected<Error> QueryMalformed(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "AuthorizationQueryParametersError",
              "presigned query parameters are malformed: " + message);
}
tl::unexpected<Error> SignatureMismatch(std::string message) {
  return Fail(ErrorCode::kUnauthenticated, "SignatureDoesNotMatch", std::move(message));
}
tl::unexpected<Error> AccessDenied(std::string message) {
  return Fail(ErrorCode::kUnauthenticated, "AccessDenied", std::move(message));
}
tl::unexpected<Error> IncompleteBody(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, "IncompleteBody", "aws-chunked body: " + message);
}

// ---------------------------------------------------------------------------
// Small string helpers.

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = ToLowerAscii(c);
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) {
      return false;
    }
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// SigV4 "Trimall": strips the ends and turns every run of whitespace inside
// into one space (what botocore's ' '.join(value.split()) does).
std::string TrimAll(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char c : Trim(s)) {
    if (IsSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) {
      out += ' ';
      pending_space = false;
    }
    out += c;
  }
  return out;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsLowerHex(std::string_view s, size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---------------------------------------------------------------------------
// URI encoding (the SigV4 UriEncode: everything but A-Z a-z 0-9 - . _ ~ is
// percent-encoded with upper-case hex digits).

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void AppendPercent(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 0x0F];
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      AppendPercent(out, c);
    }
  }
  return out;
}

// Percent-decodes; a '%' not followed by two hex digits stays literal.
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

// The canonical URI forms a request path may have been signed under; both
// decode to the same object key, so accepting either cannot change what the
// request addresses.
//  1. The path as sent, with every byte that is neither unreserved, '/', nor
//     part of a valid %XX escape percent-encoded. For what botocore,
//     aws-sdk-go, minio-go and rclone send this is the path unchanged (they
//     encode every segment with the unreserved set); it also turns the raw
//     "/test$file.text" of the AWS documentation into "/test%24file.text".
//  2. The path decoded and re-encoded with UriEncode (as S3 and MinIO
//     canonicalise), for clients that send escapes of unreserved characters,
//     lower-case hex digits or other variants but sign the canonical form.
std::vector<std::string> CanonicalUriCandidates(std::string_view raw_path) {
  if (raw_path.empty()) {
    return {"/"};
  }
  std::string as_sent;
  as_sent.reserve(raw_path.size());
  for (size_t i = 0; i < raw_path.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw_path[i]);
    if (c == '%' && i + 2 < raw_path.size() && HexValue(raw_path[i + 1]) >= 0 &&
        HexValue(raw_path[i + 2]) >= 0) {
      as_sent.append(raw_path.substr(i, 3));
      i += 2;
    } else if (IsUnreserved(c) || c == '/') {
      as_sent += static_cast<char>(c);
    } else {
      AppendPercent(as_sent, c);
    }
  }
  std::string reencoded = UriEncode(PercentDecode(raw_path, /*plus_is_space=*/false), true);
  std::vector<std::string> out{std::move(as_sent)};
  if (reencoded != out[0]) {
    out.push_back(std::move(reencoded));
  }
  return out;
}

struct QueryParam {
  std::string name;   // decoded
  std::string value;  // decoded
};

// Splits a raw query into decoded parameters; '+' means a space, as in
// every form-encoded query (and as S3 and MinIO read it).
std::vector<QueryParam> ParseQuery(std::string_view raw_query) {
  std::vector<QueryParam> params;
  while (!raw_query.empty()) {
    const size_t amp = raw_query.find('&');
    const std::string_view piece = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view{} : raw_query.substr(amp + 1);
    if (piece.empty()) {
      continue;
    }
    const size_t eq = piece.find('=');
    QueryParam p;
    p.name = PercentDecode(piece.substr(0, eq), true);
    p.value = eq == std::string_view::npos ? std::string{} : PercentDecode(piece.substr(eq + 1), true);
    params.push_back(std::move(p));
  }
  return params;
}

// Parameters URI-encoded, sorted by encoded name then value, joined with '&'.
std::string CanonicalQuery(const std::vector<QueryParam>& params, bool skip_signature) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& p : params) {
    if (skip_signature && p.name == "X-Amz-Signature") {
      continue;
    }
    encoded.emplace_back(UriEncode(p.name, false), UriEncode(p.value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Headers.

using HeaderList = std::vector<std::pair<std::string, std::string>>;

const HeaderList& HeadersOf(const RequestView& request) {
  static const HeaderList kEmpty;
  return request.headers != nullptr ? *request.headers : kEmpty;
}

// Every value of header `name` (case-insensitive), in order.
std::vector<std::string_view> HeaderValues(const RequestView& request, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [n, v] : HeadersOf(request)) {
    if (EqualsIgnoreCase(n, name)) {
      values.emplace_back(v);
    }
  }
  return values;
}

std::optional<std::string_view> SingleHeader(const RequestView& request, std::string_view name) {
  auto values = HeaderValues(request, name);
  if (values.empty()) {
    return std::nullopt;
  }
  return values.front();
}

// "name:value\n" for each signed header, in the order listed. Multiple
// occurrences of one header are joined with ','.
Result<std::string> CanonicalHeaders(const RequestView& request,
                                     const std::vector<std::string>& signed_headers) {
  std::string out;
  for (const auto& name : signed_headers) {
    auto values = HeaderValues(request, name);
    if (values.empty()) {
      return SignatureMismatch("signed header '" + name + "' is not in the request");
    }
    out += name;
    out += ':';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += TrimAll(values[i]);
    }
    out += '\n';
  }
  return out;
}

// ---------------------------------------------------------------------------
// Time.

using Clock = std::chrono::system_clock;

bool ParseFixedInt(std::string_view s, int& out) {
  if (!IsDigits(s)) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::optional<Clock::time_point> MakeTime(int year, unsigned month, unsigned day, int hour,
                                          int minute, int second) {
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month},
                                        std::chrono::day{day}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  return std::chrono::sys_days{ymd} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second};
}

// "20130524T000000Z".
std::optional<Clock::time_point> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') {
    return std::nullopt;
  }
  int year, month, day, hour, minute, second;
  if (!ParseFixedInt(s.substr(0, 4), year) || !ParseFixedInt(s.substr(4, 2), month) ||
      !ParseFixedInt(s.substr(6, 2), day) || !ParseFixedInt(s.substr(9, 2), hour) ||
      !ParseFixedInt(s.substr(11, 2), minute) || !ParseFixedInt(s.substr(13, 2), second)) {
    return std::nullopt;
  }
  return MakeTime(year, static_cast<unsigned>(month), static_cast<unsigned>(day), hour, minute,
                  second);
}

// RFC 7231 IMF-fixdate, "Fri, 24 May 2013 00:00:00 GMT", for the Date header.
std::optional<Clock::time_point> ParseHttpDate(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  s = Trim(s);
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT") {
    return std::nullopt;
  }
  int day, year, hour, minute, second;
  if (!ParseFixedInt(s.substr(5, 2), day) || !ParseFixedInt(s.substr(12, 4), year) ||
      !ParseFixedInt(s.substr(17, 2), hour) || !ParseFixedInt(s.substr(20, 2), minute) ||
      !ParseFixedInt(s.substr(23, 2), second)) {
    return std::nullopt;
  }
  const auto month_it = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  if (month_it == kMonths.end()) {
    return std::nullopt;
  }
  const auto month = static_cast<unsigned>(month_it - kMonths.begin() + 1);
  return MakeTime(year, month, static_cast<unsigned>(day), hour, minute, second);
}

std::string FormatAmzDate(Clock::time_point t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{std::chrono::floor<std::chrono::seconds>(t - days)};
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  return buf;
}

// ---------------------------------------------------------------------------
// Cryptography.

Result<std::string> Sha256Hex(ByteView data) {
  STRONGROOM_ASSIGN_OR_RETURN(Bytes digest,
                              crypto::Digest::Compute(crypto::Digest::Algorithm::kSha256, data));
  return HexEncode(digest);
}

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), "s3"), "aws4_request").
Result<crypto::SecretBytes> DeriveSigningKey(const crypto::SecretBytes& secret,
                                             std::string_view date, std::string_view region) {
  crypto::SecretBytes key(4 + secret.size());
  auto k = key.mutable_reveal();
  std::copy_n("AWS4", 4, k.begin());
  std::copy(secret.reveal().begin(), secret.reveal().end(), k.begin() + 4);
  for (std::string_view part : {date, region, kService, kTerminator}) {
    auto tag = crypto::HmacSha256::Compute(key.reveal(), AsBytes(part));
    if (!tag) {
      return tl::unexpected<Error>(tag.error());
    }
    crypto::SecretBytes next = crypto::SecretBytes::CopyFrom(*tag);
    crypto::Cleanse(*tag);
    key = std::move(next);
  }
  return key;
}

Result<crypto::HmacSha256::Tag> Sign(const crypto::SecretBytes& signing_key,
                                     std::string_view string_to_sign) {
  return crypto::HmacSha256::Compute(signing_key.reveal(), AsBytes(string_to_sign));
}

// Compares the hex signature a client sent with the one computed, in
// constant time. Upper-case hex is accepted; anything else does not match.
bool SignatureMatches(std::string_view provided_hex, const crypto::HmacSha256::Tag& expected) {
  Bytes provided(crypto::HmacSha256::kTagSize, 0);
  bool well_formed = provided_hex.size() == 2 * crypto::HmacSha256::kTagSize;
  if (well_formed) {
    for (size_t i = 0; i < provided.size(); ++i) {
      const int hi = HexValue(provided_hex[2 * i]);
      const int lo = HexValue(provided_hex[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        well_formed = false;
        break;
      }
      provided[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
  }
  const bool equal = crypto::ConstantTimeEquals(provided, expected);
  return well_formed && equal;
}

// ---------------------------------------------------------------------------
// The parts of a SigV4 signature, however they arrived.

struct Credential {
  std::string access_key;
  std::string date;    // yyyymmdd
  std::string region;
  std::string scope;   // date/region/s3/aws4_request
};

enum class CredentialProblem { kNone, kMalformed, kWrongRegion };

// "AKID/20130524/us-east-1/s3/aws4_request". The access key is everything
// before the last four components.
CredentialProblem ParseCredential(std::string_view text, const VerifyOptions& options,
                                  Credential& out, std::string& detail) {
  std::array<std::string_view, 4> parts;
  std::string_view rest = text;
  for (int i = 3; i >= 0; --i) {
    const size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) {
      detail = "the Credential is malformed; expecting \"<ACCESS-KEY>/YYYYMMDD/REGION/s3/aws4_request\"";
      return CredentialProblem::kMalformed;
    }
    parts[static_cast<size_t>(i)] = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (rest.empty() || parts[0].size() != 8 || !IsDigits(parts[0]) || parts[1].empty()) {
    detail = "the Credential is malformed; expecting \"<ACCESS-KEY>/YYYYMMDD/REGION/s3/aws4_request\"";
    return CredentialProblem::kMalformed;
  }
  if (parts[2] != kService) {
    detail = "incorrect service \"" + std::string(parts[2]) + "\"; this endpoint belongs to \"s3\"";
    return CredentialProblem::kMalformed;
  }
  if (parts[3] != kTerminator) {
    detail = "incorrect terminal \"" + std::string(parts[3]) + "\"; this endpoint uses \"aws4_request\"";
    return CredentialProblem::kMalformed;
  }
  if (parts[1] != options.region) {
    detail = "the region '" + std::string(parts[1]) + "' is wrong; expecting '" + options.region + "'";
    return CredentialProblem::kWrongRegion;
  }
  out.access_key = std::string(rest);
  out.date = std::string(parts[0]);
  out.region = std::string(parts[1]);
  out.scope = out.date + "/" + out.region + "/" + std::string(kService) + "/" + std::string(kTerminator);
  return CredentialProblem::kNone;
}

// "host;x-amz-date": lower-case names, none empty, none repeated.
bool ParseSignedHeaders(std::string_view text, std::vector<std::string>& out) {
  out.clear();
  std::set<std::string> seen;
  while (true) {
    const size_t semi = text.find(';');
    const std::string_view name = text.substr(0, semi);
    if (name.empty() || std::any_of(name.begin(), name.end(), [](char c) {
          return IsSpace(c) || (c >= 'A' && c <= 'Z') || c == ':';
        })) {
      return false;
    }
    if (!seen.insert(std::string(name)).second) {
      return false;
    }
    out.emplace_back(name);
    if (semi == std::string_view::npos) {
      return true;
    }
    text = text.substr(semi + 1);
  }
}

// S3 refuses x-amz-* headers the signature does not cover ("There were
// headers present in the request which were not signed"); otherwise anyone
// holding a presigned URL, or on the path, could add x-amz-copy-source, SSE
// or metadata headers to a signed request.
Result<void> CheckAllAmzHeadersSigned(const RequestView& request,
                                      const std::vector<std::string>& signed_headers,
                                      bool allow_unsigned_content_sha256) {
  std::set<std::string> missing;
  if (std::find(signed_headers.begin(), signed_headers.end(), "host") == signed_headers.end()) {
    missing.insert("host");
  }
  for (const auto& [name, value] : HeadersOf(request)) {
    std::string lower = ToLower(Trim(name));
    if (lower.rfind("x-amz-", 0) != 0) {
      continue;
    }
    if (allow_unsigned_content_sha256 && lower == "x-amz-content-sha256") {
      continue;
    }
    if (std::find(signed_headers.begin(), signed_headers.end(), lower) == signed_headers.end()) {
      missing.insert(std::move(lower));
    }
  }
  if (missing.empty()) {
    return Ok();
  }
  std::string names;
  for (const auto& n : missing) {
    if (!names.empty()) names += ", ";
    names += n;
  }
  return AccessDenied("there were headers present in the request which were not signed: " + names);
}

struct PayloadChoice {
  PayloadMode mode = PayloadMode::kUnsigned;
  std::string sha256;  // kSignedHash: lower-case hex
};

Result<PayloadChoice> ClassifyPayload(std::string_view value, bool presigned) {
  PayloadChoice choice;
  if (value == kUnsignedPayload) {
    choice.mode = PayloadMode::kUnsigned;
  } else if (value.size() == 64 && std::all_of(value.begin(), value.end(),
                                                [](char c) { return HexValue(c) >= 0; })) {
    choice.mode = PayloadMode::kSignedHash;
    choice.sha256 = ToLower(value);
  } else if (!presigned && value == kStreamingSigned) {
    choice.mode = PayloadMode::kStreamingSigned;
  } else if (!presigned && value == kStreamingSignedTrailer) {
    choice.mode = PayloadMode::kStreamingSignedTrailer;
  } else if (!presigned && value == kStreamingUnsignedTrailer) {
    choice.mode = PayloadMode::kStreamingUnsignedTrailer;
  } else {
    return Fail(ErrorCode::kInvalidArgument, "InvalidArgument",
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value");
  }
  return choice;
}

// What both kinds of authentication have once parsed.
struct ParsedSignature {
  bool presigned = false;
  Credential credential;
  std::vector<std::string> signed_headers;
  std::string signed_headers_text;
  std::string signature;  // as sent
  std::string amz_date;   // yyyymmddThhmmssZ
  Clock::time_point time;
  std::vector<QueryParam> query;
  PayloadChoice payload;
  std::string payload_line;  // the last line of the canonical request
};

Result<ParsedSignature> ParseHeaderAuth(const RequestView& request, std::string_view authorization,
                                        const VerifyOptions& options) {
  ParsedSignature p;
  std::string_view rest = authorization.substr(kAlgorithm.size());
  if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) {
    return HeaderMalformed("expecting \"AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...\"");
  }
  std::optional<std::string_view> credential, signed_headers, signature;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return HeaderMalformed("expecting key=value pairs separated by ','");
    }
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    std::optional<std::string_view>* slot = nullptr;
    if (key == "Credential") {
      slot = &credential;
    } else if (key == "SignedHeaders") {
      slot = &signed_headers;
    } else if (key == "Signature") {
      slot = &signature;
    } else {
      return HeaderMalformed("unexpected component '" + std::string(key) + "'");
    }
    if (slot->has_value()) {
      return HeaderMalformed("component '" + std::string(key) + "' appears twice");
    }
    *slot = value;
  }
  if (!credential || !signed_headers || !signature) {
    return HeaderMalformed("Credential, SignedHeaders and Signature are all required");
  }
  std::string detail;
  switch (ParseCredential(*credential, options, p.credential, detail)) {
    case CredentialProblem::kNone: break;
    case CredentialProblem::kMalformed:
    case CredentialProblem::kWrongRegion: return HeaderMalformed(detail);
  }
  if (!ParseSignedHeaders(*signed_headers, p.signed_headers)) {
    return HeaderMalformed("SignedHeaders must be ';'-separated lower-case header names");
  }
  p.signed_headers_text = std::string(*signed_headers);
  p.signature = std::string(*signature);

  // The request time: x-amz-date, else Date.
  if (auto amz = SingleHeader(request, "x-amz-date")) {
    const std::string_view value = Trim(*amz);
    auto t = ParseAmzDate(value);
    if (!t) {
      return AccessDenied("AWS authentication requires a valid Date or x-amz-date header");
    }
    p.time = *t;
    p.amz_date = std::string(value);
  } else if (auto date = SingleHeader(request, "date")) {
    auto t = ParseHttpDate(*date);
    if (!t) {
      return AccessDenied("AWS authentication requires a valid Date or x-amz-date header");
    }
    p.time = *t;
    p.amz_date = FormatAmzDate(*t);
  } else {
    return AccessDenied("AWS authentication requires a valid Date or x-amz-date header");
  }
  if (p.amz_date.substr(0, 8) != p.credential.date) {
    return HeaderMalformed("invalid credential date; date is not the same as X-Amz-Date");
  }

  auto content_sha256 = SingleHeader(request, "x-amz-content-sha256");
  if (!content_sha256) {
    return Fail(ErrorCode::kInvalidArgument, "InvalidRequest",
                "missing required header for this request: x-amz-content-sha256");
  }
  p.payload_line = std::string(Trim(*content_sha256));
  STRONGROOM_ASSIGN_OR_RETURN(p.payload, ClassifyPayload(p.payload_line, false));
  p.query = ParseQuery(request.raw_query);
  return p;
}

Result<ParsedSignature> ParseQueryAuth(const RequestView& request, const VerifyOptions& options) {
  ParsedSignature p;
  p.presigned = true;
  p.query = ParseQuery(request.raw_query);
  std::optional<std::string> algorithm, credential, date, expires, signed_headers, signature,
      content_sha256;
  for (const auto& param : p.query) {
    std::optional<std::string>* slot = nullptr;
    if (param.name == "X-Amz-Algorithm") slot = &algorithm;
    else if (param.name == "X-Amz-Credential") slot = &credential;
    else if (param.name == "X-Amz-Date") slot = &date;
    else if (param.name == "X-Amz-Expires") slot = &expires;
    else if (param.name == "X-Amz-SignedHeaders") slot = &signed_headers;
    else if (param.name == "X-Amz-Signature") slot = &signature;
    else if (param.name == "X-Amz-Content-Sha256") slot = &content_sha256;
    if (slot == nullptr) continue;
    if (slot->has_value()) {
      return QueryMalformed("parameter " + param.name + " appears twice");
    }
    *slot = param.value;
  }
  if (!algorithm || !credential || !date || !expires || !signed_headers || !signature) {
    return QueryMalformed(
        "query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
        "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters");
  }
  if (*algorithm != kAlgorithm) {
    return QueryMalformed("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  std::string detail;
  if (ParseCredential(*credential, options, p.credential, detail) != CredentialProblem::kNone) {
    return QueryMalformed("error parsing the X-Amz-Credential parameter; " + detail);
  }
  auto t = ParseAmzDate(*date);
  if (!t) {
    return QueryMalformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  }
  p.time = *t;
  p.amz_date = *date;
  if (p.amz_date.substr(0, 8) != p.credential.date) {
    return QueryMalformed("invalid credential date; date is not the same as X-Amz-Date");
  }
  if (!ParseSignedHeaders(*signed_headers, p.signed_headers)) {
    return QueryMalformed("X-Amz-SignedHeaders must be ';'-separated lower-case header names");
  }
  p.signed_headers_text = *signed_headers;
  p.signature = *signature;
  // X-Amz-Expires is validated by the caller (it needs the options and now).
  p.payload_line = std::string(kUnsignedPayload);
  if (content_sha256) {
    p.payload_line = *content_sha256;
  } else if (auto header = SingleHeader(request, "x-amz-content-sha256")) {
    p.payload_line = std::string(Trim(*header));
  }
  STRONGROOM_ASSIGN_OR_RETURN(p.payload, ClassifyPayload(p.payload_line, true));
  return p;
}

Result<std::string> StringToSign(std::string_view method, std::string_view canonical_uri,
                                 std::string_view canonical_query,
                                 std::string_view canonical_headers,
                                 std::string_view signed_headers, std::string_view payload_line,
                                 std::string_view amz_date, std::string_view scope) {
  std::string canonical_request;
  canonical_request.reserve(method.size() + canonical_uri.size() + canonical_query.size() +
                            canonical_headers.size() + signed_headers.size() + 128);
  canonical_request.append(method).append("\n");
  canonical_request.append(canonical_uri).append("\n");
  canonical_request.append(canonical_query).append("\n");
  canonical_request.append(canonical_headers).append("\n");
  canonical_request.append(signed_headers).append("\n");
  canonical_request.append(payload_line);
  STRONGROOM_ASSIGN_OR_RETURN(std::string hash, Sha256Hex(AsBytes(canonical_request)));
  std::string out;
  out.append(kAlgorithm).append("\n");
  out.append(amz_date).append("\n");
  out.append(scope).append("\n");
  out.append(hash);
  return out;
}

// "AWS4-HMAC-SHA256" alone or followed by whitespace (and, if well formed,
// the credential, signed headers and signature).
bool AuthorizationIsSigV4(std::string_view value) {
  value = Trim(value);
  return value.substr(0, kAlgorithm.size()) == kAlgorithm &&
         (value.size() == kAlgorithm.size() || value[kAlgorithm.size()] == ' ' ||
          value[kAlgorithm.size()] == '\t');
}

bool QueryHasSigV4(const RequestView& request) {
  for (const auto& p : ParseQuery(request.raw_query)) {
    if (p.name == "X-Amz-Algorithm" || p.name == "X-Amz-Credential" ||
        p.name == "X-Amz-Signature") {
      return true;
    }
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------

bool HasCredentials(const RequestView& request) {
  for (auto value : HeaderValues(request, "authorization")) {
    if (AuthorizationIsSigV4(value)) {
      return true;
    }
  }
  return QueryHasSigV4(request);
}

Result<Authentication> Authenticate(const RequestView& request, Clock::time_point now,
                                    const SecretLookup& secrets, const VerifyOptions& options) {
  const auto authorizations = HeaderValues(request, "authorization");
  const bool query_auth = QueryHasSigV4(request);
  if (authorizations.size() > 1) {
    return Fail(ErrorCode::kInvalidArgument, "InvalidArgument",
                "only one Authorization header is allowed");
  }
  const bool header_auth = !authorizations.empty();
  if (header_auth && query_auth) {
    return Fail(ErrorCode::kInvalidArgument, "InvalidArgument",
                "only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified");
  }
  if (header_auth && !AuthorizationIsSigV4(authorizations.front())) {
    const std::string_view value = Trim(authorizations.front());
    if (value.rfind("AWS ", 0) == 0 || value.rfind("AWS4-", 0) == 0) {
      return Fail(ErrorCode::kInvalidArgument, "InvalidRequest",
                  "the authorization mechanism you have provided is not supported; "
                  "please use AWS4-HMAC-SHA256");
    }
    return HeaderMalformed("expecting \"AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...\"");
  }
  if (!header_auth && !query_auth) {
    return AccessDenied("the request carries no credentials");
  }

  ParsedSignature p;
  if (header_auth) {
    STRONGROOM_ASSIGN_OR_RETURN(p, ParseHeaderAuth(request, Trim(authorizations.front()), options));
  } else {
    STRONGROOM_ASSIGN_OR_RETURN(p, ParseQueryAuth(request, options));
  }

  // The secret; an unknown key is InvalidAccessKeyId whatever else is wrong.
  auto secret = secrets(p.credential.access_key);
  if (!secret) {
    if (secret.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kUnauthenticated, "InvalidAccessKeyId",
                  "the access key id you provided does not exist in our records");
    }
    return tl::unexpected<Error>(secret.error().WithContext("looking up the access key"));
  }

  // Time.
  if (p.presigned) {
    int64_t expires = 0;
    std::string expires_text;
    for (const auto& param : p.query) {
      if (param.name == "X-Amz-Expires") expires_text = param.value;
    }
    auto [ptr, ec] = std::from_chars(expires_text.data(), expires_text.data() + expires_text.size(),
                                     expires);
    if (!IsDigits(expires_text) || ec != std::errc() ||
        ptr != expires_text.data() + expires_text.size()) {
      return QueryMalformed("X-Amz-Expires should be a number");
    }
    const int64_t max_expiry =
        std::min<int64_t>(options.max_presign_expiry.count(), int64_t{7} * 24 * 3600);
    if (expires < 1) {
      return QueryMalformed("X-Amz-Expires must be at least 1");
    }
    if (expires > max_expiry) {
      return QueryMalformed(max_expiry == int64_t{7} * 24 * 3600
                                ? "X-Amz-Expires must be less than a week (in seconds) that is 604800"
                                : "X-Amz-Expires must be at most " + std::to_string(max_expiry));
    }
    if (p.time > now + options.max_clock_skew) {
      return AccessDenied("request is not valid yet");
    }
    if (now > p.time + std::chrono::seconds{expires}) {
      return AccessDenied("Request has expired");
    }
  } else {
    const auto skew = now > p.time ? now - p.time : p.time - now;
    if (skew > options.max_clock_skew) {
      return Fail(ErrorCode::kUnauthenticated, "RequestTimeTooSkewed",
                  "the difference between the request time and the server's time is too large");
    }
  }

  STRONGROOM_RETURN_IF_ERROR(CheckAllAmzHeadersSigned(request, p.signed_headers, !p.presigned));

  // Streaming bodies need their decoded length before anything is read.
  uint64_t decoded_length = 0;
  const bool streaming = p.payload.mode == PayloadMode::kStreamingSigned ||
                         p.payload.mode == PayloadMode::kStreamingSignedTrailer ||
                         p.payload.mode == PayloadMode::kStreamingUnsignedTrailer;
  if (streaming) {
    auto value = SingleHeader(request, "x-amz-decoded-content-length");
    if (!value) {
      return Fail(ErrorCode::kInvalidArgument, "MissingContentLength",
                  "aws-chunked uploads need the x-amz-decoded-content-length header");
    }
    const std::string_view text = Trim(*value);
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), decoded_length);
    if (!IsDigits(text) || ec != std::errc() || ptr != text.data() + text.size()) {
      return Fail(ErrorCode::kInvalidArgument, "InvalidArgument",
                  "x-amz-decoded-content-length is not a number");
    }
  }

  // The signature.
  STRONGROOM_ASSIGN_OR_RETURN(std::string canonical_headers,
                              CanonicalHeaders(request, p.signed_headers));
  const std::string canonical_query = CanonicalQuery(p.query, p.presigned);
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes signing_key,
                              DeriveSigningKey(*secret, p.credential.date, p.credential.region));
  bool matched = false;
  crypto::HmacSha256::Tag tag{};
  for (const std::string& uri : CanonicalUriCandidates(request.raw_path)) {
    STRONGROOM_ASSIGN_OR_RETURN(
        std::string string_to_sign,
        StringToSign(request.method, uri, canonical_query, canonical_headers,
                     p.signed_headers_text, p.payload_line, p.amz_date, p.credential.scope));
    STRONGROOM_ASSIGN_OR_RETURN(crypto::HmacSha256::Tag candidate, Sign(signing_key, string_to_sign));
    if (SignatureMatches(p.signature, candidate)) {
      matched = true;
      tag = candidate;
      break;
    }
  }
  if (!matched) {
    return SignatureMismatch(
        "the request signature we calculated does not match the signature you provided; "
        "check your key and signing method");
  }

  Authentication auth;
  auth.access_key = p.credential.access_key;
  auth.presigned = p.presigned;
  auth.payload_mode = p.payload.mode;
  auth.payload_sha256 = p.payload.sha256;
  auth.amz_date = p.amz_date;
  auth.scope = p.credential.scope;
  auth.decoded_content_length = decoded_length;
  if (streaming) {
    auth.seed_signature = HexEncode(tag);
  }
  if (p.payload.mode == PayloadMode::kStreamingSigned ||
      p.payload.mode == PayloadMode::kStreamingSignedTrailer) {
    auth.signing_key = std::make_shared<crypto::SecretBytes>(std::move(signing_key));
  }
  return auth;
}

std::string SignRequestForTest(const RequestView& request, std::string_view access_key,
                               const crypto::SecretBytes& secret, std::string_view amz_date,
                               std::string_view region, std::string_view payload_hash) {
  // Every header but the ones botocore leaves unsigned.
  std::set<std::string> names;
  for (const auto& [name, value] : HeadersOf(request)) {
    std::string lower = ToLower(Trim(name));
    if (lower == "authorization" || lower == "user-agent" || lower == "expect" ||
        lower == "x-amzn-trace-id") {
      continue;
    }
    names.insert(std::move(lower));
  }
  const std::vector<std::string> signed_headers(names.begin(), names.end());
  std::string signed_headers_text;
  for (const auto& n : signed_headers) {
    if (!signed_headers_text.empty()) signed_headers_text += ';';
    signed_headers_text += n;
  }
  const std::string date(amz_date.substr(0, 8));
  const std::string scope =
      date + "/" + std::string(region) + "/" + std::string(kService) + "/" + std::string(kTerminator);
  auto canonical_headers = CanonicalHeaders(request, signed_headers);
  auto signing_key = DeriveSigningKey(secret, date, region);
  if (!canonical_headers || !signing_key) {
    return {};
  }
  auto string_to_sign = StringToSign(request.method, CanonicalUriCandidates(request.raw_path)[0],
                                     CanonicalQuery(ParseQuery(request.raw_query), false),
                                     *canonical_headers, signed_headers_text, payload_hash,
                                     amz_date, scope);
  if (!string_to_sign) {
    return {};
  }
  auto tag = Sign(*signing_key, *string_to_sign);
  if (!tag) {
    return {};
  }
  return std::string(kAlgorithm) + " Credential=" + std::string(access_key) + "/" + scope +
         ", SignedHeaders=" + signed_headers_text + ", Signature=" + HexEncode(*tag);
}

// ---------------------------------------------------------------------------
// Payload readers.

namespace {

class UnsignedPayloadReader final : public PayloadReader {
 public:
  explicit UnsignedPayloadReader(ByteSource& raw) : raw_(raw) {}
  Result<size_t> Read(MutableByteView out) override { return raw_.Read(out); }
  const HeaderList& trailers() const override { return trailers_; }

 private:
  ByteSource& raw_;
  HeaderList trailers_;
};

// Passes the body through and checks its SHA-256 when the body ends.
class SignedHashPayloadReader final : public PayloadReader {
 public:
  SignedHashPayloadReader(ByteSource& raw, Bytes expected, std::unique_ptr<crypto::Digest> digest)
      : raw_(raw), expected_(std::move(expected)), digest_(std::move(digest)) {}

  Result<size_t> Read(MutableByteView out) override {
    if (error_) return tl::unexpected<Error>(*error_);
    if (done_) return size_t{0};
    if (out.empty()) return size_t{0};
    auto n = raw_.Read(out);
    if (!n) return Stick(n.error());
    if (*n > 0) {
      if (auto ok = digest_->Update(out.first(*n)); !ok) return Stick(ok.error());
      return *n;
    }
    auto digest = digest_->Finish();
    if (!digest) return Stick(digest.error());
    if (!crypto::ConstantTimeEquals(*digest, expected_)) {
      return Stick(Error(ErrorCode::kInvalidArgument,
                         "the provided x-amz-content-sha256 header does not match what was computed")
                       .WithReason("XAmzContentSHA256Mismatch"));
    }
    done_ = true;
    return size_t{0};
  }
  const HeaderList& trailers() const override { return trailers_; }

 private:
  tl::unexpected<Error> Stick(Error error) {
    error_ = std::move(error);
    return tl::unexpected<Error>(*error_);
  }

  ByteSource& raw_;
  Bytes expected_;
  std::unique_ptr<crypto::Digest> digest_;
  std::optional<Error> error_;
  bool done_ = false;
  HeaderList trailers_;
};

// Decodes aws-chunked framing:
//   hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//   [name:value\r\n ...] [x-amz-trailer-signature:sig\r\n] \r\n
// Data is passed on as it arrives; a chunk's signature is checked when the
// chunk ends, so the caller must treat the body as authentic only once Read
// has returned 0. Errors are sticky.
class ChunkedPayloadReader final : public PayloadReader {
 public:
  ChunkedPayloadReader(const Authentication& auth, ByteSource& raw)
      : raw_(raw),
        mode_(auth.payload_mode),
        signing_key_(auth.signing_key),
        amz_date_(auth.amz_date),
        scope_(auth.scope),
        previous_signature_(auth.seed_signature),
        decoded_length_(auth.decoded_content_length),
        buffer_(kRawBufferSize) {}

  Result<void> Init() {
    if (signed_chunks()) {
      if (!signing_key_ || !IsLowerHex(previous_signature_, 64) || amz_date_.empty() ||
          scope_.empty()) {
        return Fail(ErrorCode::kInvalidArgument, "InvalidRequest",
                    "streaming signed payload without a seed signature and signing key");
      }
    }
    if (signed_chunks()) {
      STRONGROOM_ASSIGN_OR_RETURN(chunk_digest_,
                                  crypto::Digest::Create(crypto::Digest::Algorithm::kSha256));
    }
    return Ok();
  }

  Result<size_t> Read(MutableByteView out) override {
    if (error_) return tl::unexpected<Error>(*error_);
    if (out.empty()) return size_t{0};
    while (true) {
      switch (state_) {
        case State::kChunkHeader: {
          auto line = ReadLine();
          if (!line) return Stick(line.error());
          if (auto ok = StartChunk(*line); !ok) return Stick(ok.error());
          break;
        }
        case State::kChunkData: {
          if (chunk_remaining_ == 0) {
            state_ = State::kChunkDataEnd;
            break;
          }
          if (begin_ == end_) {
            auto filled = Fill();
            if (!filled) return Stick(filled.error());
            if (!*filled) return Stick(IncompleteBody("the body ended inside a chunk").value());
          }
          const size_t n = static_cast<size_t>(
              std::min<uint64_t>({out.size(), chunk_remaining_, end_ - begin_}));
          std::copy_n(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_), n, out.begin());
          if (signed_chunks()) {
            if (auto ok = chunk_digest_->Update(out.first(n)); !ok) return Stick(ok.error());
          }
          begin_ += n;
          chunk_remaining_ -= n;
          return n;
        }
        case State::kChunkDataEnd: {
          auto ok = ExpectCrlf();
          if (!ok) return Stick(ok.error());
          if (auto verified = FinishChunk(); !verified) return Stick(verified.error());
          state_ = State::kChunkHeader;
          break;
        }
        case State::kTrailers: {
          if (auto ok = ReadTrailers(); !ok) return Stick(ok.error());
          state_ = State::kDone;
          break;
        }
        case State::kDone: return size_t{0};
      }
    }
  }

  const HeaderList& trailers() const override { return trailers_; }

 private:
  enum class State { kChunkHeader, kChunkData, kChunkDataEnd, kTrailers, kDone };

  bool signed_chunks() const {
    return mode_ == PayloadMode::kStreamingSigned || mode_ == PayloadMode::kStreamingSignedTrailer;
  }
  bool trailers_allowed() const {
    return mode_ == PayloadMode::kStreamingSignedTrailer ||
           mode_ == PayloadMode::kStreamingUnsignedTrailer;
  }

  tl::unexpected<Error> Stick(Error error) {
    error_ = std::move(error);
    return tl::unexpected<Error>(*error_);
  }

  // Reads more raw bytes; false at the end of the raw body.
  Result<bool> Fill() {
    if (begin_ > 0) {
      std::copy(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_),
                buffer_.begin() + static_cast<std::ptrdiff_t>(end_), buffer_.begin());
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buffer_.size()) {
      return true;  // full; the caller consumes before asking again
    }
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, raw_.Read(MutableByteView(buffer_).subspan(end_)));
    end_ += n;
    return n > 0;
  }

  // One CRLF-terminated line without its CRLF. `at_end` (if given) is set
  // when the raw body ends cleanly before any byte of a line.
  Result<std::string> ReadLine(bool* at_end = nullptr) {
    size_t scanned = 0;
    while (true) {
      const auto window = std::string_view(reinterpret_cast<const char*>(buffer_.data()) + begin_,
                                           end_ - begin_);
      const size_t crlf = window.find("\r\n", scanned > 0 ? scanned - 1 : 0);
      if (crlf != std::string_view::npos) {
        if (crlf > kMaxChunkLineLength) {
          return IncompleteBody("a chunk header or trailer line is too long");
        }
        std::string line(window.substr(0, crlf));
        begin_ += crlf + 2;
        return line;
      }
      scanned = window.size();
      if (window.size() > kMaxChunkLineLength) {
        return IncompleteBody("a chunk header or trailer line is too long");
      }
      STRONGROOM_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) {
        if (at_end != nullptr && begin_ == end_) {
          *at_end = true;
          return std::string();
        }
        return IncompleteBody("the body ended inside a chunk header or trailer");
      }
    }
  }

  Result<void> ExpectCrlf() {
    while (end_ - begin_ < 2) {
      STRONGROOM_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) {
        return IncompleteBody("the body ended after a chunk's data");
      }
    }
    if (buffer_[begin_] != '\r' || buffer_[begin_ + 1] != '\n') {
      return IncompleteBody("a chunk's data is not followed by CRLF");
    }
    begin_ += 2;
    return Ok();
  }

  Result<void> StartChunk(std::string_view line) {
    const size_t semi = line.find(';');
    const std::string_view size_text = line.substr(0, semi);
    if (size_text.empty() || size_text.size() > 16 ||
        !std::all_of(size_text.begin(), size_text.end(), [](char c) { return HexValue(c) >= 0; })) {
      return IncompleteBody("malformed chunk size");
    }
    uint64_t size = 0;
    for (char c : size_text) {
      size = size << 4 | static_cast<uint64_t>(HexValue(c));
    }
    chunk_signature_.clear();
    if (semi != std::string_view::npos) {
      std::string_view extensions = line.substr(semi + 1);
      if (signed_chunks()) {
        if (extensions.substr(0, kChunkSignaturePrefix.size()) != kChunkSignaturePrefix) {
          return SignatureMismatch("a chunk carries no chunk-signature");
        }
        chunk_signature_ = std::string(extensions.substr(kChunkSignaturePrefix.size()));
      }
      // Unsigned chunks: extensions carry nothing we need.
    } else if (signed_chunks()) {
      return SignatureMismatch("a chunk carries no chunk-signature");
    }
    if (size > decoded_length_ - decoded_so_far_) {
      return IncompleteBody("the chunks hold more data than x-amz-decoded-content-length");
    }
    decoded_so_far_ += size;
    chunk_remaining_ = size;
    if (size == 0) {
      if (decoded_so_far_ != decoded_length_) {
        return IncompleteBody("the chunks hold less data than x-amz-decoded-content-length");
      }
      STRONGROOM_RETURN_IF_ERROR(FinishChunk());
      state_ = State::kTrailers;
    } else {
      state_ = State::kChunkData;
    }
    return Ok();
  }

  // Verifies the chunk just read (signed modes) and advances the chain.
  Result<void> FinishChunk() {
    if (!signed_chunks()) {
      return Ok();
    }
    STRONGROOM_ASSIGN_OR_RETURN(Bytes digest, chunk_digest_->Finish());
    std::string string_to_sign = "AWS4-HMAC-SHA256-PAYLOAD\n";
    string_to_sign.append(amz_date_).append("\n");
    string_to_sign.append(scope_).append("\n");
    string_to_sign.append(previous_signature_).append("\n");
    string_to_sign.append(kEmptySha256).append("\n");
    string_to_sign.append(HexEncode(digest));
    STRONGROOM_ASSIGN_OR_RETURN(crypto::HmacSha256::Tag tag, Sign(*signing_key_, string_to_sign));
    if (!SignatureMatches(chunk_signature_, tag)) {
      return SignatureMismatch("a chunk signature does not match");
    }
    previous_signature_ = HexEncode(tag);
    return Ok();
  }

  Result<void> ReadTrailers() {
    std::optional<std::string> trailer_signature;
    size_t lines = 0;
    while (true) {
      bool at_end = false;
      STRONGROOM_ASSIGN_OR_RETURN(std::string raw_line, ReadLine(&at_end));
      // Some clients (minio-go) end trailer lines with LF before the CRLF.
      const std::string_view line = Trim(raw_line);
      if (!at_end && line.empty() && lines == 0 && trailers_allowed()) {
        // Tolerate an empty line between the final chunk and the trailers
        // (as some renderings of the AWS example have it) when more follows.
        STRONGROOM_ASSIGN_OR_RETURN(bool more, begin_ != end_ ? Result<bool>(true) : Fill());
        if (more) {
          ++lines;
          continue;
        }
      }
      if (at_end || line.empty()) {
        break;  // the body may also end without the final empty line
      }
      if (++lines > kMaxTrailerLines) {
        return IncompleteBody("too many trailing headers");
      }
      if (!trailers_allowed()) {
        return IncompleteBody("trailing headers in a body that declared none");
      }
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return IncompleteBody("malformed trailing header");
      }
      std::string name = ToLower(Trim(line.substr(0, colon)));
      std::string value(Trim(line.substr(colon + 1)));
      if (trailer_signature) {
        return IncompleteBody("trailing headers after x-amz-trailer-signature");
      }
      if (name == kTrailerSignatureName) {
        if (mode_ != PayloadMode::kStreamingSignedTrailer) {
          return IncompleteBody("a trailer signature in an unsigned body");
        }
        trailer_signature = std::move(value);
        continue;
      }
      trailers_.emplace_back(std::move(name), std::move(value));
    }
    if (mode_ == PayloadMode::kStreamingSignedTrailer && (!trailers_.empty() || trailer_signature)) {
      if (!trailer_signature) {
        return SignatureMismatch("trailing headers carry no x-amz-trailer-signature");
      }
      std::string canonical;
      for (const auto& [name, value] : trailers_) {
        canonical.append(name).append(":").append(value).append("\n");
      }
      STRONGROOM_ASSIGN_OR_RETURN(std::string hash, Sha256Hex(AsBytes(canonical)));
      std::string string_to_sign = "AWS4-HMAC-SHA256-TRAILER\n";
      string_to_sign.append(amz_date_).append("\n");
      string_to_sign.append(scope_).append("\n");
      string_to_sign.append(previous_signature_).append("\n");
      string_to_sign.append(hash);
      STRONGROOM_ASSIGN_OR_RETURN(crypto::HmacSha256::Tag tag, Sign(*signing_key_, string_to_sign));
      if (!SignatureMatches(*trailer_signature, tag)) {
        return SignatureMismatch("the trailer signature does not match");
      }
    }
    // Nothing may follow.
    if (begin_ != end_) {
      return IncompleteBody("data after the end of the chunked body");
    }
    STRONGROOM_ASSIGN_OR_RETURN(bool more, Fill());
    if (more) {
      return IncompleteBody("data after the end of the chunked body");
    }
    return Ok();
  }

  ByteSource& raw_;
  PayloadMode mode_;
  std::shared_ptr<crypto::SecretBytes> signing_key_;
  std::string amz_date_;
  std::string scope_;
  std::string previous_signature_;
  uint64_t decoded_length_;
  uint64_t decoded_so_far_ = 0;

  Bytes buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;

  State state_ = State::kChunkHeader;
  uint64_t chunk_remaining_ = 0;
  std::string chunk_signature_;
  std::unique_ptr<crypto::Digest> chunk_digest_;
  std::optional<Error> error_;
  HeaderList trailers_;
};

}  // namespace

Result<std::unique_ptr<PayloadReader>> PayloadReader::Create(const Authentication& auth,
                                                             ByteSource& raw) {
  switch (auth.payload_mode) {
    case PayloadMode::kUnsigned:
      return std::unique_ptr<PayloadReader>(new UnsignedPayloadReader(raw));
    case PayloadMode::kSignedHash: {
      auto expected = IsLowerHex(auth.payload_sha256, 64) ? HexDecode(auth.payload_sha256)
                                                           : std::optional<Bytes>();
      if (!expected) {
        return InvalidArgument("payload_sha256 is not a lower-case hex SHA-256");
      }
      STRONGROOM_ASSIGN_OR_RETURN(auto digest,
                                  crypto::Digest::Create(crypto::Digest::Algorithm::kSha256));
      return std::unique_ptr<PayloadReader>(
          new SignedHashPayloadReader(raw, std::move(*expected), std::move(digest)));
    }
    case PayloadMode::kStreamingSigned:
    case PayloadMode::kStreamingSignedTrailer:
    case PayloadMode::kStreamingUnsignedTrailer: {
      auto reader = std::make_unique<ChunkedPayloadReader>(auth, raw);
      STRONGROOM_RETURN_IF_ERROR(reader->Init());
      return std::unique_ptr<PayloadReader>(std::move(reader));
    }
  }
  return InvalidArgument("unknown payload mode");
}

}  // namespace strongroom::aws
