// SPDX-License-Identifier: Apache-2.0
#pragma once

// The local control socket of a running server, <data_dir>/control.sock
// (a Unix stream socket, mode 0600, answered only for the server's own user
// or root). `strongroom unseal` talks to it. A line protocol, one request
// per connection:
//
//   STATUS\n               -> "sealed\n" | "unsealed\n"
//   UNSEAL <base64>\n      -> "OK unsealed\n" | "OK already unsealed\n" | "ERR <message>\n"
//   SHARE <share text>\n   -> "OK unsealed\n" | "OK already unsealed\n" |
//                             "OK <n> of <k> shares\n" | "ERR <message>\n"
//   STATUS JSON|TEXT, JOB … -> server/status.h (ControlHandlers::command); the
//                             answer may span lines and ends with the connection
//   anything else          -> "ERR <message>\n"
//
// The base64 field is the passphrase; the share text is one Shamir share as
// `strongroom init --shares` printed it (keys/shamir/shamir.h). A rejected
// share is not counted. Requests are bounded (kMaxRequest);
// connections are served one at a time; a failed unseal is answered only
// after a one-second pause, which bounds guessing through the socket.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::server {

inline constexpr size_t kMaxControlRequest = 8192;
inline constexpr char kControlSocketName[] = "control.sock";

// Where a Shamir unseal stands after a SHARE.
struct ShareAnswer {
  bool unsealed = false;  // the key ring is unsealed (now, or `already`)
  bool already = false;   // it was unsealed before this share
  unsigned received = 0;  // shares held, while still sealed
  unsigned threshold = 0;
};

struct ControlHandlers {
  // Whether the key ring is still sealed.
  std::function<bool()> sealed;
  // Unseals with `passphrase`. true: unsealed now; false: it already was.
  // kUnauthenticated for a wrong passphrase.
  std::function<Result<bool>(crypto::SecretBytes passphrase)> unseal;
  // Takes one Shamir share (its text). Unset: SHARE is refused.
  std::function<Result<ShareAnswer>(crypto::SecretBytes share)> share;
  // Any other request that holds no secret (server/status.h: STATUS JSON,
  // STATUS TEXT, JOB …): the answer, written as is (it may span lines; the
  // connection closes after it), or nullopt for an unknown request.
  std::function<std::optional<std::string>(std::string_view line)> command;
};

class ControlServer {
 public:
  // Binds `path` (a stale socket nobody answers on is replaced; one a live
  // server answers on is kAlreadyExists) and serves it on a thread.
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& path,
                                                      ControlHandlers handlers);
  // Stops the thread and removes the socket.
  ~ControlServer();
  void Stop();

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  ControlServer() = default;
  void Run();
  void Serve(int connection);

  std::string path_;
  ControlHandlers handlers_;
  int listen_fd_ = -1;
  int wake_read_ = -1;
  int wake_write_ = -1;
  unsigned long inode_ = 0;
  std::thread thread_;
};

// Client side: sends one request line (without the newline) and returns the
// answer line (without the newline). kUnavailable if no server listens.
// `request` may hold a secret; it is not copied beyond the send buffer,
// which is wiped.
Result<std::string> ControlRequest(const std::string& path, const crypto::SecretBytes& request,
                                   int timeout_seconds);

// "UNSEAL <base64 of passphrase>", as a secret.
Result<crypto::SecretBytes> UnsealRequest(const crypto::SecretBytes& passphrase);

// "SHARE <share text>", as a secret. kInvalidArgument if the text is empty,
// holds a line break or is too long.
Result<crypto::SecretBytes> ShareRequest(const crypto::SecretBytes& share);

// Client side for requests without secrets whose answer may span lines:
// sends `request` and returns everything the server wrote until it closed
// (without the final newline), at most kMaxControlAnswer bytes.
// kUnavailable if no server listens.
inline constexpr size_t kMaxControlAnswer = 64 << 20;
Result<std::string> ControlCall(const std::string& path, std::string_view request,
                                int timeout_seconds);

}  // namespace strongroom::server
