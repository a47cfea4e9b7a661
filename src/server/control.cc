// SPDX-License-Identifier: Apache-2.0
#include "server/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>
#include <optional>
#include <string_view>

#include "aws/checksum.h"
#include "base/file.h"

namespace strongroom::server {
namespace {

constexpr int kServerIoTimeoutSeconds = 5;
constexpr auto kFailedUnsealDelay = std::chrono::seconds(1);

// Runs `call` with a socket address for `path`. A path too long for
// sun_path is reached through /proc/self/fd/N/<name>, N being its directory
// opened with O_PATH. Returns the call's result; errno is preserved.
template <typename Call>
Result<int> WithAddress(const std::string& path, Call call) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  int directory = -1;
  std::string target = path;
  if (target.size() >= sizeof(address.sun_path)) {
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    directory = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0) {
      return tl::unexpected(ErrnoError(errno, "cannot open directory '" + dir + "'"));
    }
    target = "/proc/self/fd/" + std::to_string(directory) + "/" +
             (slash == std::string::npos ? path : path.substr(slash + 1));
    if (target.size() >= sizeof(address.sun_path)) {
      ::close(directory);
      return InvalidArgument("control socket name too long: '" + path + "'");
    }
  }
  std::memcpy(address.sun_path, target.c_str(), target.size() + 1);
  int rc = call(reinterpret_cast<const sockaddr*>(&address),
                static_cast<socklen_t>(sizeof(address)));
  int saved = errno;
  if (directory >= 0) ::close(directory);
  errno = saved;
  return rc;
}

void SetTimeouts(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool WriteAll(int fd, ByteView data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

bool WriteLine(int fd, std::string line) {
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  line += '\n';
  return WriteAll(fd, ByteView(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
}

// Reads up to the first '\n' into `buffer`; returns the line length, or
// nullopt on EOF before a newline, a timeout, or a full buffer.
std::optional<size_t> ReadLine(int fd, MutableByteView buffer, bool* too_long) {
  size_t size = 0;
  *too_long = false;
  while (size < buffer.size()) {
    ssize_t n = ::recv(fd, buffer.data() + size, buffer.size() - size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    const uint8_t* start = buffer.data() + size;
    size += static_cast<size_t>(n);
    if (const void* newline = std::memchr(start, '\n', static_cast<size_t>(n))) {
      return static_cast<size_t>(static_cast<const uint8_t*>(newline) - buffer.data());
    }
  }
  *too_long = true;
  return std::nullopt;
}

// Whether something answers on the socket at `path`.
bool Answers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  auto rc = WithAddress(path, [fd](const sockaddr* a, socklen_t n) { return ::connect(fd, a, n); });
  ::close(fd);
  return rc && *rc == 0;
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& path,
                                                            ControlHandlers handlers) {
  struct stat existing;
  if (::lstat(path.c_str(), &existing) == 0) {
    if (!S_ISSOCK(existing.st_mode)) {
      return FailedPrecondition("'" + path + "' exists and is not a socket");
    }
    if (Answers(path)) {
      return AlreadyExists("another strongroom server is running on this data directory (" +
                           path + " answers)");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return tl::unexpected(ErrnoError(errno, "cannot remove the stale socket '" + path + "'"));
    }
  }
  auto server = std::unique_ptr<ControlServer>(new ControlServer());
  server->path_ = path;
  server->handlers_ = std::move(handlers);
  server->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server->listen_fd_ < 0) {
    return tl::unexpected(ErrnoError(errno, "cannot create the control socket"));
  }
  int fd = server->listen_fd_;
  // The socket file is created 0600 (bind honours the umask); chmod again
  // in case the file system ignores it. Called before other threads start.
  mode_t old_mask = ::umask(0177);
  auto bound = WithAddress(path, [fd](const sockaddr* a, socklen_t n) { return ::bind(fd, a, n); });
  int bind_errno = errno;
  ::umask(old_mask);
  STRONGROOM_RETURN_IF_ERROR(bound);
  if (*bound != 0) {
    return tl::unexpected(ErrnoError(bind_errno, "cannot bind the control socket '" + path + "'"));
  }
  struct stat created;
  if (::chmod(path.c_str(), 0600) != 0 || ::stat(path.c_str(), &created) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return tl::unexpected(ErrnoError(err, "cannot set up the control socket '" + path + "'"));
  }
  server->inode_ = created.st_ino;
  if (::listen(fd, 4) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return tl::unexpected(ErrnoError(err, "cannot listen on the control socket '" + path + "'"));
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    int err = errno;
    ::unlink(path.c_str());
    return tl::unexpected(ErrnoError(err, "cannot create a pipe"));
  }
  server->wake_read_ = wake[0];
  server->wake_write_ = wake[1];
  server->thread_ = std::thread([raw = server.get()] { raw->Run(); });
  return server;
}

ControlServer::~ControlServer() {
  Stop();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_read_ >= 0) ::close(wake_read_);
  if (wake_write_ >= 0) ::close(wake_write_);
}

void ControlServer::Stop() {
  if (!thread_.joinable()) return;
  char byte = 0;
  while (::write(wake_write_, &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  // Remove the socket only if it is still ours.
  struct stat current;
  if (::lstat(path_.c_str(), &current) == 0 && current.st_ino == inode_) {
    ::unlink(path_.c_str());
  }
}

void ControlServer::Run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int connection = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    Serve(connection);
    ::close(connection);
  }
}

void ControlServer::Serve(int connection) {
  ucred peer{};
  socklen_t peer_size = sizeof(peer);
  if (::getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0 ||
      (peer.uid != ::geteuid() && peer.uid != 0)) {
    WriteLine(connection, "ERR permission denied");
    return;
  }
  SetTimeouts(connection, kServerIoTimeoutSeconds);
  crypto::SecretBytes buffer(kMaxControlRequest);
  bool too_long = false;
  auto length = ReadLine(connection, buffer.mutable_reveal(), &too_long);
  if (!length) {
    if (too_long) WriteLine(connection, "ERR request too long");
    return;
  }
  std::string_view line(reinterpret_cast<const char*>(buffer.reveal().data()), *length);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

  if (line == "STATUS") {
    WriteLine(connection, handlers_.sealed() ? "sealed" : "unsealed");
    return;
  }
  constexpr std::string_view kShare = "SHARE ";
  if (line.substr(0, kShare.size()) == kShare) {
    Result<ShareAnswer> answer =
        handlers_.share
            ? handlers_.share(crypto::SecretBytes::CopyFrom(AsBytes(line.substr(kShare.size()))))
            : Result<ShareAnswer>(FailedPrecondition(
                  "this keyring is not unsealed with shares (use a passphrase)"));
    if (!answer) {
      std::this_thread::sleep_for(kFailedUnsealDelay);
      WriteLine(connection, "ERR " + answer.error().message());
      return;
    }
    if (answer->unsealed) {
      WriteLine(connection, answer->already ? "OK already unsealed" : "OK unsealed");
    } else {
      WriteLine(connection, "OK " + std::to_string(answer->received) + " of " +
                                std::to_string(answer->threshold) + " shares");
    }
    return;
  }
  constexpr std::string_view kUnseal = "UNSEAL ";
  if (line.substr(0, kUnseal.size()) != kUnseal) {
    if (handlers_.command) {
      if (std::optional<std::string> answer = handlers_.command(line)) {
        answer->push_back('\n');
        WriteAll(connection, AsBytes(*answer));
        return;
      }
    }
    WriteLine(connection,
              "ERR unknown request (expected STATUS, UNSEAL <base64> or SHARE <share>)");
    return;
  }
  std::optional<Bytes> decoded = aws::Base64Decode(line.substr(kUnseal.size()));
  Result<bool> result = InvalidArgument("the passphrase field is not base64");
  if (decoded && !decoded->empty()) {
    crypto::SecretBytes passphrase = crypto::SecretBytes::CopyFrom(*decoded);
    result = handlers_.unseal(std::move(passphrase));
  } else if (decoded) {
    result = InvalidArgument("the passphrase is empty");
  }
  if (decoded) crypto::Cleanse(*decoded);
  if (!result) {
    std::this_thread::sleep_for(kFailedUnsealDelay);
    WriteLine(connection, "ERR " + result.error().message());
    return;
  }
  WriteLine(connection, *result ? "OK unsealed" : "OK already unsealed");
}

Result<crypto::SecretBytes> UnsealRequest(const crypto::SecretBytes& passphrase) {
  std::string encoded = aws::Base64Encode(passphrase.reveal());
  constexpr std::string_view kUnseal = "UNSEAL ";
  crypto::SecretBytes request(kUnseal.size() + encoded.size());
  std::memcpy(request.mutable_reveal().data(), kUnseal.data(), kUnseal.size());
  std::memcpy(request.mutable_reveal().data() + kUnseal.size(), encoded.data(), encoded.size());
  crypto::Cleanse(MutableByteView(reinterpret_cast<uint8_t*>(encoded.data()), encoded.size()));
  if (request.size() + 1 > kMaxControlRequest) {
    return InvalidArgument("the passphrase is too long");
  }
  return request;
}

Result<crypto::SecretBytes> ShareRequest(const crypto::SecretBytes& share) {
  constexpr std::string_view kShare = "SHARE ";
  ByteView text = share.reveal();
  if (text.empty()) return InvalidArgument("the share is empty");
  if (std::find_if(text.begin(), text.end(), [](uint8_t c) { return c == '\n' || c == '\r'; }) !=
      text.end()) {
    return InvalidArgument("a share is one line");
  }
  if (kShare.size() + text.size() + 1 > kMaxControlRequest) {
    return InvalidArgument("the share is too long");
  }
  crypto::SecretBytes request(kShare.size() + text.size());
  std::memcpy(request.mutable_reveal().data(), kShare.data(), kShare.size());
  std::memcpy(request.mutable_reveal().data() + kShare.size(), text.data(), text.size());
  return request;
}

namespace {

// A connected client end of the control socket, closed when dropped.
struct ClientSocket {
  int fd = -1;
  explicit ClientSocket(int f) : fd(f) {}
  ClientSocket(ClientSocket&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  ClientSocket(const ClientSocket&) = delete;
  ~ClientSocket() {
    if (fd >= 0) ::close(fd);
  }
};

Result<ClientSocket> ConnectControl(const std::string& path, int timeout_seconds) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return tl::unexpected(ErrnoError(errno, "cannot create a socket"));
  ClientSocket socket(fd);
  STRONGROOM_ASSIGN_OR_RETURN(
      int rc, WithAddress(path, [fd](const sockaddr* a, socklen_t n) { return ::connect(fd, a, n); }));
  if (rc != 0) {
    int err = errno;
    if (err == ENOENT || err == ECONNREFUSED) {
      return Unavailable("no strongroom server is running on this data directory (nothing "
                         "answers at " + path + ")");
    }
    return tl::unexpected(ErrnoError(err, "cannot connect to " + path));
  }
  SetTimeouts(fd, timeout_seconds);
  return socket;
}

}  // namespace

Result<std::string> ControlCall(const std::string& path, std::string_view request,
                                int timeout_seconds) {
  STRONGROOM_ASSIGN_OR_RETURN(ClientSocket socket, ConnectControl(path, timeout_seconds));
  const int fd = socket.fd;
  std::string line(request);
  line.push_back('\n');
  if (line.size() > kMaxControlRequest) return InvalidArgument("the request is too long");
  if (!WriteAll(fd, AsBytes(line))) {
    return Unavailable("the server at " + path + " closed the connection");
  }
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Unavailable("no complete answer from the server at " + path + " within " +
                         std::to_string(timeout_seconds) + " s");
    }
    if (n == 0) break;
    answer.append(buffer, static_cast<size_t>(n));
    if (answer.size() > kMaxControlAnswer) {
      return InvalidArgument("the answer from the server at " + path + " is too long");
    }
  }
  if (answer.empty()) return Unavailable("the server at " + path + " closed the connection");
  if (answer.back() == '\n') answer.pop_back();
  return answer;
}

Result<std::string> ControlRequest(const std::string& path, const crypto::SecretBytes& request,
                                   int timeout_seconds) {
  STRONGROOM_ASSIGN_OR_RETURN(ClientSocket socket, ConnectControl(path, timeout_seconds));
  const int fd = socket.fd;
  crypto::SecretBytes line(request.size() + 1);
  std::memcpy(line.mutable_reveal().data(), request.reveal().data(), request.size());
  line.mutable_reveal()[request.size()] = '\n';
  if (!WriteAll(fd, line.reveal())) {
    return Unavailable("the server at " + path + " closed the connection");
  }
  ::shutdown(fd, SHUT_WR);
  Bytes answer(4096);
  bool too_long = false;
  auto length = ReadLine(fd, answer, &too_long);
  if (!length) {
    return Unavailable("no answer from the server at " + path + " within " +
                       std::to_string(timeout_seconds) + " s");
  }
  return std::string(reinterpret_cast<const char*>(answer.data()), *length);
}

}  // namespace strongroom::server
