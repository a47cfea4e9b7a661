// SPDX-License-Identifier: Apache-2.0
#include "keys/provider_root/provider_root.h"

#include <sys/stat.h>

#include <cerrno>
#include <optional>
#include <vector>

#include "base/file.h"
#include "keys/internal/key_files.h"
#include "crypto/constant_time.h"
#include "crypto/random.h"

namespace strongroom::keys {
namespace {

constexpr size_t kRootKeySize = 32;
constexpr std::string_view kFileMagic = "strongroom-provider-root 1";
constexpr size_t kMaxFileSize = 64 * 1024;
constexpr size_t kMaxKeyName = 1024;

std::string RootPath(const std::string& key_dir) { return key_dir + "/" + kProviderRootFile; }

// "<name> <value>" → value (the rest of the line after one space).
std::optional<std::string_view> Field(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() + 1 || line.substr(0, name.size()) != name ||
      line[name.size()] != ' ') {
    return std::nullopt;
  }
  return line.substr(name.size() + 1);
}

bool ValidProviderId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

bool ValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxKeyName) return false;
  for (char c : name) {
    if (c == '\n' || c == '\r' || c == '\0') return false;
  }
  return true;
}

}  // namespace

bool ProviderRootExists(const std::string& key_dir) {
  struct stat st;
  return ::lstat(RootPath(key_dir).c_str(), &st) == 0;
}

std::string FormatProviderRootFile(const ProviderRootInfo& info) {
  return std::string(kFileMagic) + "\nprovider " + info.provider + "\nkey " + info.key_name +
         "\nwrapped " + HexEncode(info.wrapped) + "\n";
}

Result<ProviderRootInfo> ParseProviderRootFile(std::string_view text) {
  auto malformed = [](const std::string& why) {
    return DataLoss(std::string(kProviderRootFile) + " is malformed: " + why);
  };
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return malformed("no final newline");
    lines.push_back(text.substr(0, newline));
    text.remove_prefix(newline + 1);
  }
  if (lines.size() != 4) return malformed("expected 4 lines");
  if (lines[0] != kFileMagic) return malformed("unknown first line (version)");
  auto provider = Field(lines[1], "provider");
  auto key = Field(lines[2], "key");
  auto wrapped = Field(lines[3], "wrapped");
  if (!provider || !ValidProviderId(*provider)) return malformed("bad provider");
  if (!key || !ValidKeyName(*key)) return malformed("bad key name");
  std::optional<Bytes> blob = wrapped ? HexDecode(*wrapped) : std::nullopt;
  if (!blob || blob->empty()) return malformed("bad wrapped root");
  return ProviderRootInfo{std::string(*provider), std::string(*key), std::move(*blob)};
}

Result<crypto::SecretBytes> CreateProviderRoot(const std::string& key_dir, KeyProvider& provider,
                                               const std::string& key_name) {
  if (!ValidProviderId(provider.id())) {
    return InvalidArgument("bad provider id '" + std::string(provider.id()) + "'");
  }
  if (!ValidKeyName(key_name)) {
    return InvalidArgument("bad provider key name (empty, too long or several lines)");
  }
  if (::mkdir(key_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return tl::unexpected(ErrnoError(errno, "cannot create key directory '" + key_dir + "'"));
  }
  std::string path = RootPath(key_dir);
  if (ProviderRootExists(key_dir)) {
    return AlreadyExists("a provider-wrapped root key exists at '" + path + "'");
  }
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes root, crypto::RandomSecret(kRootKeySize));
  ProviderRootInfo info;
  info.provider = std::string(provider.id());
  info.key_name = key_name;
  STRONGROOM_ASSIGN_OR_RETURN(info.wrapped,
                              provider.Wrap(key_name, root.reveal(), AsBytes(kProviderRootAad)));
  // Unwrap once before anything is written: a provider that wraps but will
  // not unwrap must not leave a keyring nobody can open.
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes check, OpenProviderRoot(info, provider));
  if (!crypto::ConstantTimeEquals(check.reveal(), root.reveal())) {
    return DataLoss("provider '" + info.provider + "' unwrapped another key than it wrapped");
  }
  std::string record = FormatProviderRootFile(info);
  STRONGROOM_RETURN_IF_ERROR(internal::WriteNewKeyFile(path, AsBytes(record), "a provider-wrapped root key"));
  return root;
}

Result<ProviderRootInfo> ReadProviderRoot(const std::string& key_dir) {
  std::string path = RootPath(key_dir);
  STRONGROOM_ASSIGN_OR_RETURN(Bytes content,
                              internal::ReadKeyFile(path, 0077, kMaxFileSize,
                                                    "no provider-wrapped root key at '" + path +
                                                        "'; run `strongroom init --root-provider …`"));
  auto info = ParseProviderRootFile(AsChars(content));
  if (!info) return tl::unexpected(info.error().WithContext(path));
  return info;
}

Result<crypto::SecretBytes> OpenProviderRoot(const ProviderRootInfo& info, KeyProvider& provider) {
  if (provider.id() != info.provider) {
    return InvalidArgument("the root key is wrapped by provider '" + info.provider + "', not '" +
                           std::string(provider.id()) + "'");
  }
  auto root = provider.Unwrap(info.key_name, info.wrapped, AsBytes(kProviderRootAad));
  if (!root) {
    return tl::unexpected(root.error().WithContext("unwrapping the root key with provider '" +
                                                   info.provider + "' key '" + info.key_name +
                                                   "'"));
  }
  if (root->size() != kRootKeySize) {
    return DataLoss("provider '" + info.provider + "' unwrapped a root key of " +
                    std::to_string(root->size()) + " bytes");
  }
  return std::move(*root);
}

}  // namespace strongroom::keys
