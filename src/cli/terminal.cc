// SPDX-License-Identifier: Apache-2.0
#include "cli/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "base/file.h"
#include "crypto/constant_time.h"

namespace strongroom::cli {
namespace {

constexpr uint64_t kProgressThreshold = 4 << 20;

// The terminal mode to restore if a signal ends the process during a
// prompt (Ctrl-C must not leave the terminal without echo).
int g_prompt_tty = -1;
termios g_prompt_mode;

extern "C" void RestoreTerminalAndDie(int signal) {
  // A process outside the terminal's foreground group (say, started by a
  // tool that put it in its own group) gets SIGTTOU from tcsetattr and would
  // stop inside this handler for good; ignoring SIGTTOU lets it restore the
  // mode and die as asked.
  ::signal(SIGTTOU, SIG_IGN);
  if (g_prompt_tty >= 0) tcsetattr(g_prompt_tty, TCSANOW, &g_prompt_mode);
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

// Reads one line from the terminal with echo disabled.
Result<crypto::SecretBytes> ReadHidden(int tty, const std::string& prompt) {
  if (::write(tty, prompt.data(), prompt.size()) < 0) {
    return Internal("cannot write to the terminal");
  }
  termios old_mode;
  bool restore = tcgetattr(tty, &old_mode) == 0;
  struct sigaction on_signal {}, old_int {}, old_term {}, old_hup {};
  if (restore) {
    g_prompt_mode = old_mode;
    g_prompt_tty = tty;
    on_signal.sa_handler = RestoreTerminalAndDie;
    sigemptyset(&on_signal.sa_mask);
    ::sigaction(SIGINT, &on_signal, &old_int);
    ::sigaction(SIGTERM, &on_signal, &old_term);
    ::sigaction(SIGHUP, &on_signal, &old_hup);
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(tty, TCSANOW, &quiet);  // keep typed-ahead input
  }
  crypto::SecretBytes line(1024);
  size_t size = 0;
  bool ok = true;
  for (;;) {
    char c;
    ssize_t n = ::read(tty, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n' || c == '\r') {
      ok = n > 0 || size > 0;
      break;
    }
    if (size == line.size()) {
      ok = false;
      break;
    }
    line.mutable_reveal()[size++] = static_cast<uint8_t>(c);
  }
  if (restore) {
    tcsetattr(tty, TCSANOW, &old_mode);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    ::sigaction(SIGHUP, &old_hup, nullptr);
    g_prompt_tty = -1;
  }
  if (!ok) {
    return InvalidArgument("no passphrase was entered (or it exceeds 1024 bytes)");
  }
  return crypto::SecretBytes::CopyFrom(line.reveal().first(size));
}

}  // namespace

Result<crypto::SecretBytes> PromptPassphrase(const std::string& prompt, bool confirm) {
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) {
    return FailedPrecondition(
        "no passphrase given and no terminal to ask on: use --passphrase-file, --key-file, or "
        "set STRONGROOM_PASSPHRASE");
  }
  auto first = ReadHidden(tty, prompt);
  Result<crypto::SecretBytes> result = std::move(first);
  if (result && result->empty()) {
    result = InvalidArgument("the passphrase is empty");
  }
  if (result && confirm) {
    auto second = ReadHidden(tty, "Confirm passphrase: ");
    if (!second) {
      result = tl::unexpected(second.error());
    } else if (!crypto::ConstantTimeEquals(result->reveal(), second->reveal())) {
      result = InvalidArgument("the passphrases do not match");
    }
  }
  ::close(tty);
  return result;
}

namespace {
Result<crypto::SecretBytes> ReadSmallFile(const std::string& path, size_t limit) {
  STRONGROOM_ASSIGN_OR_RETURN(auto source, FdSource::Open(path));
  crypto::SecretBytes buffer(limit + 1);
  STRONGROOM_ASSIGN_OR_RETURN(size_t n, ReadFull(*source, buffer.mutable_reveal()));
  if (n > limit) {
    return InvalidArgument("'" + path + "' is larger than " + std::to_string(limit) + " bytes");
  }
  return crypto::SecretBytes::CopyFrom(buffer.reveal().first(n));
}
}  // namespace

Result<crypto::SecretBytes> ReadPassphraseFile(const std::string& path) {
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes contents, ReadSmallFile(path, 4096));
  ByteView view = contents.reveal();
  if (!view.empty() && view.back() == '\n') {
    view = view.first(view.size() - 1);
  }
  if (view.empty()) {
    return InvalidArgument("passphrase file '" + path + "' is empty");
  }
  return crypto::SecretBytes::CopyFrom(view);
}

Result<crypto::SecretBytes> ReadPassphraseFd(int fd) {
  constexpr size_t kLimit = 4096;
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) {
    return InvalidArgument("--passphrase-fd " + std::to_string(fd) + ": not an open descriptor");
  }
  crypto::SecretBytes buffer(kLimit + 1);
  size_t size = 0;
  bool line_end = false;
  while (size < buffer.size() && !line_end) {
    ssize_t n = ::read(fd, buffer.mutable_reveal().data() + size, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return tl::unexpected(ErrnoError(err, "cannot read --passphrase-fd " + std::to_string(fd)));
    }
    if (n == 0) break;
    if (buffer.reveal()[size] == '\n') {
      line_end = true;
    } else {
      ++size;
    }
  }
  ::close(fd);
  if (size > kLimit) {
    return InvalidArgument("the passphrase on descriptor " + std::to_string(fd) +
                           " is longer than 4096 bytes");
  }
  if (size == 0) {
    return InvalidArgument("the passphrase on descriptor " + std::to_string(fd) + " is empty");
  }
  return crypto::SecretBytes::CopyFrom(buffer.reveal().first(size));
}

std::optional<crypto::SecretBytes> TakePassphraseFromEnvironment() {
  char* value = std::getenv("STRONGROOM_PASSPHRASE");
  std::optional<crypto::SecretBytes> out;
  if (value == nullptr) return out;
  size_t size = std::strlen(value);
  if (size > 0) {
    out = crypto::SecretBytes::CopyFrom(ByteView(reinterpret_cast<const uint8_t*>(value), size));
    crypto::Cleanse(MutableByteView(reinterpret_cast<uint8_t*>(value), size));
  }
  ::unsetenv("STRONGROOM_PASSPHRASE");
  return out;
}

Result<crypto::SecretBytes> ReadKeyFile(const std::string& path) {
  STRONGROOM_ASSIGN_OR_RETURN(crypto::SecretBytes key, ReadSmallFile(path, 64));
  if (key.size() != 32) {
    return InvalidArgument("key file '" + path + "' must hold exactly 32 bytes, it has " +
                           std::to_string(key.size()) +
                           " (make one with: strongroom keygen FILE)");
  }
  return key;
}

std::string FormatBytes(double bytes) {
  static constexpr std::string_view kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", bytes,
                std::string(kUnits[unit]).c_str());
  return text;
}

ProgressSource::ProgressSource(ByteSource& inner, std::optional<uint64_t> total,
                               std::string label)
    : inner_(inner),
      total_(total),
      label_(std::move(label)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressSource::~ProgressSource() {
  if (drawn_) {
    std::fputc('\n', stderr);
  }
}

Result<size_t> ProgressSource::Read(MutableByteView out) {
  STRONGROOM_ASSIGN_OR_RETURN(size_t n, inner_.Read(out));
  done_ += n;
  if (enabled_ && (done_ > kProgressThreshold || total_.value_or(0) > kProgressThreshold)) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ >= std::chrono::milliseconds(100)) {
      last_draw_ = now;
      Draw(false);
    }
  }
  return n;
}

void ProgressSource::Finish() {
  if (enabled_ && (drawn_ || done_ > kProgressThreshold)) {
    Draw(true);
    std::fputc('\n', stderr);
    drawn_ = false;
  }
}

void ProgressSource::Draw(bool final) {
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0;
  std::string line = "\r" + label_ + " ";
  if (total_ && *total_ > 0) {
    constexpr int kWidth = 24;
    double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(*total_));
    int filled = static_cast<int>(fraction * kWidth);
    line += "[" + std::string(static_cast<size_t>(filled), '#') +
            std::string(static_cast<size_t>(kWidth - filled), '.') + "] ";
    char percent[8];
    std::snprintf(percent, sizeof(percent), "%3d%% ", static_cast<int>(fraction * 100));
    line += percent;
    line += FormatBytes(static_cast<double>(done_)) + " / " +
            FormatBytes(static_cast<double>(*total_));
  } else {
    line += FormatBytes(static_cast<double>(done_));
  }
  line += "  " + FormatBytes(rate) + "/s";
  if (final) {
    char elapsed[32];
    std::snprintf(elapsed, sizeof(elapsed), "  in %.1f s", seconds);
    line += elapsed;
  }
  line += "\033[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace strongroom::cli
