// SPDX-License-Identifier: Apache-2.0
#pragma once

// Test helpers for http/ tests (no gtest here): a blocking POSIX-socket
// HTTP/1.1 client that controls every byte and pause, deterministic pattern
// bodies with a hash, and handler helpers.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/io.h"
#include "base/result.h"
#include "http/server.h"

namespace strongroom::http::testutil {

inline constexpr uint64_t kMiB = 1024 * 1024;

inline uint8_t PatternByte(uint64_t i) { return static_cast<uint8_t>((i * 31) ^ (i >> 13)); }

inline void FillPattern(uint64_t offset, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = PatternByte(offset + i);
}

// FNV-1a, 64-bit.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Update(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
};

inline uint64_t PatternHash(uint64_t size) {
  Fnv fnv;
  std::vector<uint8_t> buf(kMiB);
  for (uint64_t off = 0; off < size; off += buf.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    FillPattern(off, buf.data(), n);
    fnv.Update(buf.data(), n);
  }
  return fnv.h;
}

inline long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Yields `size` pattern bytes, failing (or ending) after `fail_at` bytes.
class PatternSource : public ByteSource {
 public:
  PatternSource(uint64_t size, std::optional<uint64_t> fail_at = std::nullopt,
                bool fail_by_eof = false)
      : size_(size), fail_at_(fail_at), fail_by_eof_(fail_by_eof) {}
  Result<size_t> Read(MutableByteView out) override {
    uint64_t end = fail_at_ ? *fail_at_ : size_;
    if (pos_ >= end) {
      if (fail_at_ && !fail_by_eof_) return Unavailable("disk on fire");
      return 0;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), end - pos_));
    FillPattern(pos_, out.data(), n);
    pos_ += n;
    return n;
  }

 private:
  uint64_t size_, pos_ = 0;
  std::optional<uint64_t> fail_at_;
  bool fail_by_eof_;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::string> Get(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (strcasecmp(n.c_str(), name.c_str()) == 0) return v;
    }
    return std::nullopt;
  }
};

// A blocking HTTP/1.1 client over one TCP connection.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      connect_errno_ = errno;
      close(fd_);
      fd_ = -1;
    }
  }
  ~Client() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool connected() const { return fd_ >= 0; }
  int connect_errno() const { return connect_errno_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Sends `size` pattern bytes starting at pattern offset `offset`.
  bool SendPattern(uint64_t offset, uint64_t size) {
    std::vector<uint8_t> buf(kMiB);
    for (uint64_t done = 0; done < size;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
      FillPattern(offset + done, buf.data(), n);
      if (!Send(std::string_view(reinterpret_cast<char*>(buf.data()), n))) return false;
      done += n;
    }
    return true;
  }

  // Reads one response (headers, and the body unless `head`); nullopt if the
  // connection ends first or nothing arrives within `timeout`.
  std::optional<HttpResponse> Read(bool head = false,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout)) return std::nullopt;
    }
    HttpResponse r;
    std::istringstream lines(buffer_.substr(0, end));
    std::string line;
    std::getline(lines, line);
    r.status = std::atoi(line.substr(9, 3).c_str());
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers.emplace_back(line.substr(0, colon), value);
    }
    buffer_.erase(0, end + 4);
    size_t length = 0;
    if (!head && r.status >= 200 && r.Get("Content-Length")) {
      length = std::stoull(*r.Get("Content-Length"));
    }
    while (buffer_.size() < length) {
      if (!Fill(timeout)) return std::nullopt;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // Reads and discards until the peer closes; false if that takes longer than `timeout`.
  bool WaitForClose(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                    size_t* discarded = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t total = buffer_.size();
    buffer_.clear();
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[65536];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (discarded) *discarded = total;
        return true;
      }
      total += static_cast<size_t>(n);
    }
  }

  std::string& buffer() { return buffer_; }

 private:
  bool Fill(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  int connect_errno_ = 0;
  std::string buffer_;
};

inline ServerOptions TestOptions() {
  ServerOptions options;
  options.port = 0;
  options.worker_threads = 4;
  options.io_threads = 2;
  options.header_timeout = std::chrono::seconds(5);
  options.body_idle_timeout = std::chrono::seconds(5);
  options.keep_alive_timeout = std::chrono::seconds(5);
  return options;
}

// A started server, or null (with the reason on stderr).
inline std::unique_ptr<Server> Start(Handler handler, ServerOptions options = TestOptions()) {
  auto server = Server::Create(std::move(options), std::move(handler));
  if (!server) {
    std::fprintf(stderr, "Server::Create: %s\n", server.error().ToString().c_str());
    return nullptr;
  }
  return std::move(*server);
}

inline Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.Add("Content-Type", "text/plain");
  return r;
}

// Reads the whole body; returns its size and hash, or the error.
inline Result<std::pair<uint64_t, uint64_t>> Consume(Request& request) {
  std::vector<uint8_t> buf(64 * 1024);
  Fnv fnv;
  uint64_t total = 0;
  for (;;) {
    STRONGROOM_ASSIGN_OR_RETURN(size_t n, request.body().Read(buf));
    if (n == 0) break;
    fnv.Update(buf.data(), n);
    total += n;
  }
  return std::make_pair(total, fnv.h);
}

inline std::string Get(const std::string& target, const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

}  // namespace strongroom::http::testutil
