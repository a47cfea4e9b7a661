// SPDX-License-Identifier: Apache-2.0
#include "keys/shamir/shamir_root.h"

#include <sys/stat.h>

#include <cerrno>
#include <string_view>

#include "base/file.h"
#include "keys/internal/key_files.h"
#include "crypto/constant_time.h"
#include "crypto/hmac.h"
#include "crypto/random.h"

namespace strongroom::keys {
namespace {

constexpr size_t kRootKeySize = 32;
constexpr std::string_view kRootCheckLabel = "strongroom/v1/shamir/root-check";
constexpr std::string_view kFileMagic = "strongroom-shamir-root 1";
constexpr size_t kMaxFileSize = 4096;

std::string RootPath(const std::string& key_dir) { return key_dir + "/" + kShamirRootFile; }

Result<std::array<uint8_t, 32>> RootCheck(ByteView root, unsigned shares, unsigned threshold,
                                          const shamir::KeyCheck& key_check) {
  Bytes message(kRootCheckLabel.begin(), kRootCheckLabel.end());
  message.push_back(0x00);
  message.push_back(shamir::kShareVersion);
  message.push_back(static_cast<uint8_t>(threshold));
  message.push_back(static_cast<uint8_t>(shares));
  Append(message, key_check);
  STRONGROOM_ASSIGN_OR_RETURN(crypto::HmacSha256::Tag tag,
                              crypto::HmacSha256::Compute(root, message));
  return tag;
}

// "name value" → value, or nullopt.
std::optional<std::string_view> Field(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() + 1 || line.substr(0, name.size()) != name ||
      line[name.size()] != ' ') {
    return std::nullopt;
  }
  return line.substr(name.size() + 1);
}

std::optional<unsigned> SmallNumber(std::string_view digits) {
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value;
}

template <size_t N>
bool HexInto(std::string_view hex, std::array<uint8_t, N>& out) {
  auto decoded = HexDecode(hex);
  if (!decoded || decoded->size() != N) return false;
  std::copy(decoded->begin(), decoded->end(), out.begin());
  return true;
}

}  // namespace

bool ShamirRootExists(const std::string& key_dir) {
  struct stat st;
  return ::lstat(RootPath(key_dir).c_str(), &st) == 0;
}

Result<ShamirRootInfo> MakeShamirRootInfo(ByteView root, unsigned shares, unsigned threshold) {
  if (root.size() != kRootKeySize) return InvalidArgument("the root key must have 32 bytes");
  if (threshold < 2 || threshold > shares || shares > shamir::kMaxShares) {
    return InvalidArgument("Shamir sharing needs 2 <= threshold <= shares <= 255");
  }
  ShamirRootInfo info;
  info.threshold = threshold;
  info.shares = shares;
  STRONGROOM_ASSIGN_OR_RETURN(info.key_check, shamir::KeyCheckOf(root));
  STRONGROOM_ASSIGN_OR_RETURN(info.root_check, RootCheck(root, shares, threshold, info.key_check));
  return info;
}

Result<void> VerifyShamirRoot(const ShamirRootInfo& info, ByteView root) {
  if (root.size() != kRootKeySize) {
    return Unauthenticated("the shares do not reconstruct a 32-byte root key");
  }
  STRONGROOM_ASSIGN_OR_RETURN(auto check,
                              RootCheck(root, info.shares, info.threshold, info.key_check));
  if (!crypto::ConstantTimeEquals(check, info.root_check)) {
    return Unauthenticated("the shares do not reconstruct this keyring's root key");
  }
  return Ok();
}

std::string FormatShamirRootFile(const ShamirRootInfo& info) {
  return std::string(kFileMagic) + "\nthreshold " + std::to_string(info.threshold) +
         "\nshares " + std::to_string(info.shares) + "\nkey-check " + HexEncode(info.key_check) +
         "\nroot-check " + HexEncode(info.root_check) + "\n";
}

Result<ShamirRootInfo> ParseShamirRootFile(std::string_view text) {
  auto malformed = [](const std::string& why) {
    return DataLoss("root.shamir is malformed: " + why);
  };
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return malformed("no final newline");
    lines.push_back(text.substr(0, newline));
    text.remove_prefix(newline + 1);
  }
  if (lines.size() != 5) return malformed("expected 5 lines");
  if (lines[0] != kFileMagic) return malformed("unknown first line (version)");
  ShamirRootInfo info;
  auto threshold = Field(lines[1], "threshold");
  auto shares = Field(lines[2], "shares");
  auto key_check = Field(lines[3], "key-check");
  auto root_check = Field(lines[4], "root-check");
  std::optional<unsigned> k = threshold ? SmallNumber(*threshold) : std::nullopt;
  std::optional<unsigned> n = shares ? SmallNumber(*shares) : std::nullopt;
  if (!k || !n || *k < 2 || *k > *n || *n > shamir::kMaxShares) {
    return malformed("bad threshold or share count");
  }
  info.threshold = *k;
  info.shares = *n;
  if (!key_check || !HexInto(*key_check, info.key_check)) return malformed("bad key-check");
  if (!root_check || !HexInto(*root_check, info.root_check)) return malformed("bad root-check");
  return info;
}

Result<NewShamirRoot> CreateShamirRoot(const std::string& key_dir, unsigned shares,
                                       unsigned threshold) {
  if (threshold < 2 || threshold > shares || shares > shamir::kMaxShares) {
    return InvalidArgument("--threshold K and --shares N need 2 <= K <= N <= 255 (got " +
                           std::to_string(threshold) + " of " + std::to_string(shares) + ")");
  }
  if (::mkdir(key_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return tl::unexpected(ErrnoError(errno, "cannot create key directory '" + key_dir + "'"));
  }
  std::string path = RootPath(key_dir);
  if (ShamirRootExists(key_dir)) {
    return AlreadyExists("a Shamir root key record exists at '" + path + "'");
  }
  NewShamirRoot out;
  STRONGROOM_ASSIGN_OR_RETURN(out.root, crypto::RandomSecret(kRootKeySize));
  STRONGROOM_ASSIGN_OR_RETURN(out.info, MakeShamirRootInfo(out.root.reveal(), shares, threshold));
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<shamir::Point> points,
                              shamir::Split(out.root.reveal(), shares, threshold));
  for (shamir::Point& point : points) {
    shamir::Share share;
    share.threshold = static_cast<uint8_t>(threshold);
    share.x = point.x;
    share.key_check = out.info.key_check;
    share.payload = std::move(point.y);
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes text, shamir::EncodeShare(share));
    out.shares.push_back(std::move(text));
  }
  std::string record = FormatShamirRootFile(out.info);
  STRONGROOM_RETURN_IF_ERROR(internal::WriteNewKeyFile(path, AsBytes(record), "a Shamir root key record"));
  return out;
}

Result<ShamirRootInfo> ReadShamirRoot(const std::string& key_dir) {
  std::string path = RootPath(key_dir);
  STRONGROOM_ASSIGN_OR_RETURN(Bytes content,
                              internal::ReadKeyFile(path, 0022, kMaxFileSize,
                                                    "no Shamir root key record at '" + path +
                                                        "'; run `strongroom init --shares N --threshold K`"));
  auto info = ParseShamirRootFile(AsChars(content));
  if (!info) return tl::unexpected(info.error().WithContext(path));
  return info;
}

// ------------------------------------------------------------- collector

ShareCollector::ShareCollector(ShamirRootInfo info) : info_(info) {}

unsigned ShareCollector::received() const {
  std::lock_guard lock(mutex_);
  return static_cast<unsigned>(points_.size());
}

void ShareCollector::Clear() {
  std::lock_guard lock(mutex_);
  points_.clear();  // SecretBytes wipe themselves
}

Result<ShareProgress> ShareCollector::Add(ByteView share_text) {
  STRONGROOM_ASSIGN_OR_RETURN(shamir::Share share, shamir::ParseShare(share_text));
  if (share.key_check != info_.key_check) {
    return InvalidArgument("share " + std::to_string(share.x) + " belongs to another keyring (key "
                           "check " + HexEncode(share.key_check) + ", this keyring's is " +
                           HexEncode(info_.key_check) + ")");
  }
  if (share.threshold != info_.threshold) {
    return InvalidArgument("share " + std::to_string(share.x) + " is of a " +
                           std::to_string(share.threshold) + "-of-N split; this keyring needs " +
                           std::to_string(info_.threshold));
  }
  if (share.x > info_.shares) {
    return InvalidArgument("share index " + std::to_string(share.x) + " is beyond this keyring's " +
                           std::to_string(info_.shares) + " shares");
  }
  if (share.payload.size() != kRootKeySize) {
    return InvalidArgument("share " + std::to_string(share.x) + " does not hold a root key share");
  }
  std::lock_guard lock(mutex_);
  for (const shamir::Point& point : points_) {
    if (point.x == share.x) {
      return AlreadyExists("share " + std::to_string(share.x) + " was given already (" +
                           std::to_string(points_.size()) + " of " +
                           std::to_string(info_.threshold) + " shares)");
    }
  }
  points_.push_back(shamir::Point{share.x, std::move(share.payload)});
  ShareProgress progress;
  progress.received = static_cast<unsigned>(points_.size());
  progress.threshold = info_.threshold;
  progress.x = share.x;
  if (points_.size() < info_.threshold) return progress;

  auto root = shamir::Interpolate(points_);
  points_.clear();
  if (!root) return tl::unexpected(root.error());
  auto verified = VerifyShamirRoot(info_, root->reveal());
  if (!verified) {
    return Unauthenticated(
        "the " + std::to_string(info_.threshold) + " shares do not reconstruct this keyring's "
        "root key (one of them is from another split or was altered); every share given so far "
        "was discarded: start again");
  }
  progress.root = std::move(*root);
  return progress;
}

}  // namespace strongroom::keys
