// SPDX-License-Identifier: Apache-2.0
#pragma once

// Terminal interaction for the CLI: passphrase prompts without echo and a
// progress display. Nothing here is used by the server.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/io.h"
#include "base/result.h"
#include "crypto/secret_bytes.h"

namespace strongroom::cli {

// Asks for a passphrase on /dev/tty with echo off (twice when `confirm`).
// kFailedPrecondition if there is no terminal; kInvalidArgument if the
// answers differ or are empty.
Result<crypto::SecretBytes> PromptPassphrase(const std::string& prompt, bool confirm);

// Reads a passphrase from a file, dropping one trailing newline.
Result<crypto::SecretBytes> ReadPassphraseFile(const std::string& path);

// Reads a passphrase from an open file descriptor (inherited from the
// caller, e.g. `3<pass.txt`): up to the first newline or end of input, at
// most 4096 bytes; closes the descriptor. kInvalidArgument if it is not open
// or the passphrase is empty.
Result<crypto::SecretBytes> ReadPassphraseFd(int fd);

// Moves STRONGROOM_PASSPHRASE out of the environment: copies it, wipes the
// bytes in the environment block and unsets it, so child processes and
// /proc/PID/environ do not see it. nullopt if unset or empty.
std::optional<crypto::SecretBytes> TakePassphraseFromEnvironment();

// Reads a key file; it must hold exactly 32 bytes.
Result<crypto::SecretBytes> ReadKeyFile(const std::string& path);

// A ByteSource that passes bytes through and draws a progress line on
// stderr: percentage when the total is known, always bytes and throughput.
// Draws only when stderr is a terminal and the input passes 4 MiB, at most
// ten times a second.
class ProgressSource : public ByteSource {
 public:
  ProgressSource(ByteSource& inner, std::optional<uint64_t> total, std::string label);
  ~ProgressSource() override;
  Result<size_t> Read(MutableByteView out) override;
  // Draws the final state and ends the line.
  void Finish();

 private:
  void Draw(bool final);

  ByteSource& inner_;
  std::optional<uint64_t> total_;
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  uint64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1.5 GiB", "512 B".
std::string FormatBytes(double bytes);

}  // namespace strongroom::cli
