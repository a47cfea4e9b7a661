// SPDX-License-Identifier: Apache-2.0
#include "keys/shamir/shamir.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "crypto/constant_time.h"
#include "crypto/digest.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "keys/shamir/gf256.h"

namespace strongroom::keys::shamir {
namespace {

constexpr std::string_view kPrefix = "srshare";
constexpr std::string_view kKeyCheckLabel = "strongroom/v1/shamir/key-check";

Result<void> CheckParameters(size_t secret_size, unsigned shares, unsigned threshold) {
  if (secret_size == 0 || secret_size > kMaxPayload) {
    return InvalidArgument("a shared secret has 1 to " + std::to_string(kMaxPayload) + " bytes");
  }
  if (threshold < 2 || threshold > shares || shares > kMaxShares) {
    return InvalidArgument("Shamir sharing needs 2 <= threshold <= shares <= " +
                           std::to_string(kMaxShares) + " (got " + std::to_string(threshold) +
                           " of " + std::to_string(shares) + ")");
  }
  return Ok();
}

// One hex digit of a nibble, by arithmetic (no lookup indexed by secret
// data): '0'..'9' then 'a'..'f'.
char HexDigit(unsigned nibble) {
  // (9 - nibble) is negative exactly for 10..15; its sign bit selects +39.
  int n = static_cast<int>(nibble & 0xfu);
  int offset = ((9 - n) >> 8) & ('a' - '0' - 10);
  return static_cast<char>('0' + n + offset);
}

// -1 for a character that is not a hex digit.
int HexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  uint8_t lower = static_cast<uint8_t>(c | 0x20);
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

// Decodes `hex` into `out` (out.size() * 2 hex digits). false if malformed.
bool DecodeHexInto(std::string_view hex, MutableByteView out) {
  if (hex.size() != out.size() * 2) return false;
  bool ok = true;
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(static_cast<uint8_t>(hex[2 * i]));
    int lo = HexValue(static_cast<uint8_t>(hex[2 * i + 1]));
    ok &= hi >= 0 && lo >= 0;
    out[i] = static_cast<uint8_t>(((hi & 0xf) << 4) | (lo & 0xf));
  }
  return ok;
}

void AppendHex(std::string& out, ByteView data) {
  for (uint8_t b : data) {
    out.push_back(HexDigit(b >> 4));
    out.push_back(HexDigit(b & 0xf));
  }
}

// A small decimal 1..255 without sign or leading zeros. 0 if malformed.
unsigned ParseSmall(std::string_view digits) {
  if (digits.empty() || digits.size() > 3 || digits[0] == '0') return 0;
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 255 ? value : 0;
}

Result<std::array<uint8_t, kChecksumSize>> Checksum(const Share& share) {
  Bytes message;
  message.reserve(3 + kKeyCheckSize + share.payload.size());
  message.push_back(kShareVersion);
  message.push_back(share.threshold);
  message.push_back(share.x);
  Append(message, share.key_check);
  Append(message, share.payload.reveal());
  auto digest = crypto::Digest::Compute(crypto::Digest::Algorithm::kSha256, message);
  crypto::Cleanse(message);
  if (!digest) return tl::unexpected(digest.error());
  std::array<uint8_t, kChecksumSize> out{};
  std::copy_n(digest->begin(), kChecksumSize, out.begin());
  return out;
}

// Splits `text` at '-' into at most `max` fields.
std::vector<std::string_view> Fields(std::string_view text, size_t max) {
  std::vector<std::string_view> fields;
  while (fields.size() + 1 < max) {
    size_t dash = text.find('-');
    if (dash == std::string_view::npos) break;
    fields.push_back(text.substr(0, dash));
    text.remove_prefix(dash + 1);
  }
  fields.push_back(text);
  return fields;
}

}  // namespace

Result<std::vector<Point>> Split(ByteView secret, unsigned shares, unsigned threshold) {
  STRONGROOM_RETURN_IF_ERROR(CheckParameters(secret.size(), shares, threshold));
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes coefficients,
                              crypto::RandomSecret((threshold - 1) * secret.size()));
  return SplitWithCoefficients(secret, shares, threshold, coefficients.reveal());
}

Result<std::vector<Point>> SplitWithCoefficients(ByteView secret, unsigned shares,
                                                 unsigned threshold, ByteView coefficients) {
  STRONGROOM_RETURN_IF_ERROR(CheckParameters(secret.size(), shares, threshold));
  const size_t degree = threshold - 1;
  if (coefficients.size() != degree * secret.size()) {
    return InvalidArgument("wrong number of coefficients for the split");
  }
  std::vector<Point> points;
  points.reserve(shares);
  for (unsigned i = 1; i <= shares; ++i) {
    Point point{static_cast<uint8_t>(i), crypto::SecretBytes(secret.size())};
    const uint8_t x = point.x;
    MutableByteView y = point.y.mutable_reveal();
    for (size_t j = 0; j < secret.size(); ++j) {
      // Horner: ((c_{t-1}·x + c_{t-2})·x + ... + c_1)·x + secret[j].
      const uint8_t* c = coefficients.data() + j * degree;
      uint8_t value = c[degree - 1];
      for (size_t k = degree - 1; k > 0; --k) {
        value = static_cast<uint8_t>(GfMul(value, x) ^ c[k - 1]);
      }
      y[j] = static_cast<uint8_t>(GfMul(value, x) ^ secret[j]);
    }
    points.push_back(std::move(point));
  }
  return points;
}

Result<crypto::SecretBytes> Interpolate(const std::vector<Point>& points) {
  if (points.empty()) return InvalidArgument("no shares to combine");
  const size_t size = points.front().y.size();
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].x == 0) return InvalidArgument("a share has x = 0");
    if (points[i].y.size() != size) return InvalidArgument("the shares differ in length");
    for (size_t j = 0; j < i; ++j) {
      if (points[i].x == points[j].x) {
        return InvalidArgument("share " + std::to_string(points[i].x) + " is given twice");
      }
    }
  }
  crypto::SecretBytes secret(size);
  MutableByteView out = secret.mutable_reveal();
  for (size_t i = 0; i < points.size(); ++i) {
    // The Lagrange basis polynomial of point i at 0:
    //   l_i(0) = Π_{j≠i} x_j / (x_j - x_i), and subtraction is XOR.
    // The x values are public (they are printed on the shares).
    uint8_t numerator = 1, denominator = 1;
    for (size_t j = 0; j < points.size(); ++j) {
      if (j == i) continue;
      numerator = GfMul(numerator, points[j].x);
      denominator = GfMul(denominator, static_cast<uint8_t>(points[j].x ^ points[i].x));
    }
    const uint8_t basis = GfMul(numerator, GfInv(denominator));
    ByteView y = points[i].y.reveal();
    for (size_t b = 0; b < size; ++b) {
      out[b] = static_cast<uint8_t>(out[b] ^ GfMul(y[b], basis));
    }
  }
  return secret;
}

Result<KeyCheck> KeyCheckOf(ByteView secret) {
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes derived,
                              crypto::HkdfSha512(secret, {}, AsBytes(kKeyCheckLabel),
                                                 kKeyCheckSize));
  KeyCheck out{};
  std::copy_n(derived.reveal().begin(), kKeyCheckSize, out.begin());
  return out;
}

Result<crypto::SecretBytes> EncodeShare(const Share& share) {
  if (share.threshold < 2 || share.x == 0 || share.payload.empty() ||
      share.payload.size() > kMaxPayload) {
    return InvalidArgument("a share needs a threshold of at least 2, x >= 1 and a payload");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto checksum, Checksum(share));
  std::string text;
  text.reserve(32 + 2 * share.payload.size());
  text.append(kPrefix);
  text += std::to_string(kShareVersion) + "-k" + std::to_string(share.threshold) + "-x" +
          std::to_string(share.x) + "-";
  AppendHex(text, share.key_check);
  text.push_back('-');
  AppendHex(text, share.payload.reveal());
  text.push_back('-');
  AppendHex(text, checksum);
  crypto::SecretBytes out = crypto::SecretBytes::CopyFrom(AsBytes(text));
  crypto::Cleanse(MutableByteView(reinterpret_cast<uint8_t*>(text.data()), text.size()));
  return out;
}

Result<Share> ParseShare(ByteView bytes) {
  std::string_view text = AsChars(bytes);
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);

  auto not_a_share = [] {
    return InvalidArgument(
        "not a strongroom share (expected srshare1-k<threshold>-x<index>-<key check>-<payload>-"
        "<checksum>, as `strongroom init --shares` printed it)");
  };
  std::vector<std::string_view> fields = Fields(text, 7);
  if (fields.size() != 6) return not_a_share();
  std::string_view head = fields[0];
  if (head.size() <= kPrefix.size() || head.substr(0, kPrefix.size()) != kPrefix) {
    return not_a_share();
  }
  if (head.substr(kPrefix.size()) != std::to_string(kShareVersion)) {
    return InvalidArgument("this share has a version this strongroom does not know (it reads "
                           "srshare" + std::to_string(kShareVersion) + ")");
  }
  Share share;
  unsigned threshold = fields[1].size() > 1 && fields[1][0] == 'k' ? ParseSmall(fields[1].substr(1))
                                                                    : 0;
  unsigned x = fields[2].size() > 1 && fields[2][0] == 'x' ? ParseSmall(fields[2].substr(1)) : 0;
  if (threshold < 2) return InvalidArgument("the share's threshold field (k…) is malformed");
  if (x < 1) return InvalidArgument("the share's index field (x…) is malformed");
  share.threshold = static_cast<uint8_t>(threshold);
  share.x = static_cast<uint8_t>(x);
  if (!DecodeHexInto(fields[3], share.key_check)) {
    return InvalidArgument("the share's key check field is malformed (8 hex digits)");
  }
  std::string_view payload = fields[4];
  if (payload.empty() || payload.size() % 2 != 0 || payload.size() / 2 > kMaxPayload) {
    return InvalidArgument("the share's payload field is malformed");
  }
  share.payload = crypto::SecretBytes(payload.size() / 2);
  if (!DecodeHexInto(payload, share.payload.mutable_reveal())) {
    return InvalidArgument("the share's payload field is malformed (hex digits only)");
  }
  std::array<uint8_t, kChecksumSize> given{};
  if (!DecodeHexInto(fields[5], given)) {
    return InvalidArgument("the share's checksum field is malformed (8 hex digits)");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto expected, Checksum(share));
  if (!crypto::ConstantTimeEquals(given, expected)) {
    return DataLoss("share " + std::to_string(x) +
                    ": the checksum does not match, so the share was mistyped or damaged");
  }
  return share;
}

}  // namespace strongroom::keys::shamir
