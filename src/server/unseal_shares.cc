// SPDX-License-Identifier: Apache-2.0
// `strongroom unseal --share`: sends Shamir shares to a running server over
// its control socket (server/control.h), one SHARE request each.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "base/file.h"
#include "server/commands.h"
#include "server/control.h"

namespace strongroom::server {
namespace {

constexpr size_t kMaxShareFile = 1 << 20;
constexpr std::string_view kSharePrefix = "srshare";

// The whole of `path` ("-": standard input), at most kMaxShareFile bytes.
Result<crypto::SecretBytes> ReadShareFile(const std::string& path) {
  int fd = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(ErrnoError(errno, "cannot open share file '" + path + "'"));
  crypto::SecretBytes buffer(kMaxShareFile);
  size_t size = 0;
  Result<void> status;
  for (;;) {
    if (size == buffer.size()) {
      status = InvalidArgument("share file '" + path + "' is too large");
      break;
    }
    ssize_t n = ::read(fd, buffer.mutable_reveal().data() + size, buffer.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = tl::unexpected(ErrnoError(errno, "cannot read share file '" + path + "'"));
      break;
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  if (fd != STDIN_FILENO) ::close(fd);
  STRONGROOM_RETURN_IF_ERROR(status);
  return crypto::SecretBytes::CopyFrom(buffer.reveal().first(size));
}

// The share on each line of `content`: the word starting with "srshare"
// (so init's own output lines work), else the trimmed line; blank lines and
// lines starting with '#' are skipped.
void ExtractShares(ByteView content, std::vector<crypto::SecretBytes>& out) {
  std::string_view text = AsChars(content);
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (size_t start = line.find(kSharePrefix); start != std::string_view::npos) {
      line.remove_prefix(start);
      size_t end = 0;
      while (end < line.size() && !is_space(line[end])) ++end;
      line = line.substr(0, end);
    }
    out.push_back(crypto::SecretBytes::CopyFrom(AsBytes(line)));
  }
}

}  // namespace

Result<void> RunUnsealShares(const ServerSettings& settings,
                             std::vector<crypto::SecretBytes> shares,
                             const std::vector<std::string>& share_files) {
  for (const std::string& file : share_files) {
    STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes content, ReadShareFile(file));
    ExtractShares(content.reveal(), shares);
  }
  if (shares.empty()) {
    return InvalidArgument("no share given: pass --share SHARE or --share-file FILE ('-' reads "
                           "standard input, one share per line)");
  }
  std::string path = settings.data_dir + "/" + kControlSocketName;
  STRONGROOM_ASSIGN_OR_RETURN(
      std::string status,
      ControlRequest(path, crypto::SecretBytes::CopyFrom(AsBytes(std::string_view("STATUS"))),
                     10));
  if (status == "unsealed") {
    std::printf("already unsealed\n");
    return Ok();
  }
  if (status != "sealed") {
    return Internal("unexpected answer from the server at " + path + ": " + status);
  }
  size_t refused = 0;
  std::string progress;
  for (size_t i = 0; i < shares.size(); ++i) {
    std::string which = "share " + std::to_string(i + 1) + " of the " +
                        std::to_string(shares.size()) + " given";
    auto request = ShareRequest(shares[i]);
    if (!request) {
      std::fprintf(stderr, "strongroom: %s refused: %s\n", which.c_str(),
                   request.error().message().c_str());
      ++refused;
      continue;
    }
    STRONGROOM_ASSIGN_OR_RETURN(std::string answer, ControlRequest(path, *request, 30));
    if (answer == "OK unsealed" || answer == "OK already unsealed") {
      std::printf("%s: %s\n", which.c_str(),
                  answer == "OK unsealed" ? "accepted; unsealed: the server serves requests now"
                                          : "not needed, already unsealed");
      std::fflush(stdout);
      return Ok();
    }
    if (answer.rfind("OK ", 0) == 0) {
      progress = answer.substr(3);
      std::printf("%s: accepted (%s)\n", which.c_str(), progress.c_str());
      std::fflush(stdout);
      continue;
    }
    if (answer.rfind("ERR ", 0) == 0) {
      std::fprintf(stderr, "strongroom: %s refused: %s\n", which.c_str(), answer.substr(4).c_str());
      std::fflush(stderr);
      ++refused;
      continue;
    }
    return Internal("unexpected answer from the server at " + path + ": " + answer);
  }
  std::string state = progress.empty() ? "still sealed" : "still sealed, " + progress + " held";
  if (refused > 0) {
    return InvalidArgument(std::to_string(refused) + " of " + std::to_string(shares.size()) +
                           " shares were refused; the server is " + state);
  }
  std::printf("the server is %s: more shares are needed (a restart forgets them)\n",
              state.c_str());
  return Ok();
}

}  // namespace strongroom::server
