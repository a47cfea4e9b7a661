// SPDX-License-Identifier: Apache-2.0
#pragma once

// The root key split into Shamir shares (keys/shamir/shamir.h): k of n
// people must bring their share to unseal a server. The key directory
// keeps only what checks a reconstructed root, never the root or a share:
// <key_dir>/root.shamir (0600, in a 0700 directory), a text file
//
//   strongroom-shamir-root 1
//   threshold <K>
//   shares <N>
//   key-check <8 hex>
//   root-check <64 hex>
//
// key-check is the shares' key check (KeyCheckOf(root)); root-check is
// HMAC-SHA-256(key = root, "strongroom/v1/shamir/root-check" ‖ 0x00 ‖
// 0x01 ‖ K ‖ N ‖ key check), compared in constant time. Both are one-way
// functions of a 256-bit key: they identify the root without revealing it.

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"
#include "keys/shamir/shamir.h"

namespace strongroom::keys {

inline constexpr const char* kShamirRootFile = "root.shamir";

struct ShamirRootInfo {
  unsigned threshold = 0;
  unsigned shares = 0;
  shamir::KeyCheck key_check{};
  std::array<uint8_t, 32> root_check{};
};

// Whether <key_dir>/root.shamir exists.
bool ShamirRootExists(const std::string& key_dir);

// The check record of `root` for a K-of-N split.
Result<ShamirRootInfo> MakeShamirRootInfo(ByteView root, unsigned shares, unsigned threshold);

// Ok if `root` is the key `info` was made for; kUnauthenticated otherwise.
Result<void> VerifyShamirRoot(const ShamirRootInfo& info, ByteView root);

// The text of root.shamir, and its parser (kDataLoss if malformed).
std::string FormatShamirRootFile(const ShamirRootInfo& info);
Result<ShamirRootInfo> ParseShamirRootFile(std::string_view text);

struct NewShamirRoot {
  crypto::SecretBytes root;
  std::vector<crypto::SecretBytes> shares;  // share texts; shares[i] has x = i + 1
  ShamirRootInfo info;
};

// Generates a random 32-byte root key, splits it into `shares` shares with
// threshold `threshold`, and writes <key_dir>/root.shamir (creating the
// directory 0700; the file appears atomically, 0600). The caller shows the
// shares once and keeps nothing. kAlreadyExists if root.shamir exists,
// kInvalidArgument unless 2 <= threshold <= shares <= 255.
Result<NewShamirRoot> CreateShamirRoot(const std::string& key_dir, unsigned shares,
                                       unsigned threshold);

// Reads <key_dir>/root.shamir. kNotFound if missing, kDataLoss if malformed,
// kFailedPrecondition if group or others may write it.
Result<ShamirRootInfo> ReadShamirRoot(const std::string& key_dir);

// Where an unseal stands after a share was accepted.
struct ShareProgress {
  unsigned received = 0;   // distinct valid shares held now
  unsigned threshold = 0;
  uint8_t x = 0;           // the accepted share's index
  std::optional<crypto::SecretBytes> root;  // the verified root, once reconstructed
};

// Collects shares for one keyring until `threshold` arrived, then combines
// and verifies them. Shares live only in SecretBytes and are wiped when the
// root is reconstructed, when the combination fails, by Clear(), and with
// the collector. Thread-safe.
class ShareCollector {
 public:
  explicit ShareCollector(ShamirRootInfo info);

  // Adds one share (its text). A rejected share is not counted:
  // kInvalidArgument if malformed, of another version, another keyring (key
  // check), another threshold or an index beyond the share count; kDataLoss
  // for a checksum mismatch; kAlreadyExists for an index already given.
  // When the threshold is reached: the root, or kUnauthenticated if the
  // shares do not reconstruct the root root.shamir describes (then every
  // collected share is discarded and the count starts again at zero).
  Result<ShareProgress> Add(ByteView share_text);

  unsigned received() const;
  unsigned threshold() const { return info_.threshold; }
  void Clear();

 private:
  const ShamirRootInfo info_;
  mutable std::mutex mutex_;
  std::vector<shamir::Point> points_;
};

}  // namespace strongroom::keys
