// SPDX-License-Identifier: Apache-2.0
#pragma once

// A TSS2 TCTI for swtpm's TCP command channel ("swtpm socket --server
// type=tcp": raw TPM command and response bytes, no framing) in which every
// step — connect, send, receive — ends by a deadline the caller sets.
//
// Why not libtss2-tcti-swtpm: its sockets block without limit, and swtpm
// serves one connection at a time, so one client that holds a connection
// open (or a stopped swtpm process) makes every other client wait forever.
// ESAPI's synchronous calls force an infinite timeout on the TCTI, so the
// bound has to live in the transport.
//
// Like tss2's swtpm TCTI it opens one TCP connection per command and closes
// it after the response, so an idle ESAPI context holds nothing. Locality,
// cancel and poll handles are not supported (ESAPI does not need them).
// Not thread-safe; one per ESAPI context.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <tss2/tss2_tcti.h>

namespace strongroom::keys::tpm_internal {

class SwtpmTransport {
 public:
  using Clock = std::chrono::steady_clock;

  SwtpmTransport(std::string host, uint16_t port);
  ~SwtpmTransport();
  SwtpmTransport(const SwtpmTransport&) = delete;
  SwtpmTransport& operator=(const SwtpmTransport&) = delete;

  // The TCTI context to hand to Esys_Initialize; valid while *this lives.
  TSS2_TCTI_CONTEXT* tcti();

  // Every later connect/send/receive fails with TSS2_TCTI_RC_IO_ERROR once
  // `deadline` has passed.
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }

  // True once an exchange failed at the transport level (refused, reset,
  // deadline); the TPM is then treated as unreachable for this context.
  bool failed() const { return failed_; }
  bool timed_out() const { return timed_out_; }
  // What went wrong, for error messages ("connect to 127.0.0.1:2321:
  // Connection refused", "no response within the deadline").
  const std::string& last_error() const { return last_error_; }

 private:
  struct Context;  // the C struct ESAPI sees
  static SwtpmTransport* From(TSS2_TCTI_CONTEXT* tcti);
  static TSS2_RC Transmit(TSS2_TCTI_CONTEXT* tcti, size_t size, const uint8_t* command);
  static TSS2_RC Receive(TSS2_TCTI_CONTEXT* tcti, size_t* size, uint8_t* response,
                         int32_t timeout);
  static void Finalize(TSS2_TCTI_CONTEXT* tcti);
  static TSS2_RC Cancel(TSS2_TCTI_CONTEXT* tcti);
  static TSS2_RC GetPollHandles(TSS2_TCTI_CONTEXT* tcti, TSS2_TCTI_POLL_HANDLE* handles,
                                size_t* num_handles);
  static TSS2_RC SetLocality(TSS2_TCTI_CONTEXT* tcti, uint8_t locality);
  static TSS2_RC MakeSticky(TSS2_TCTI_CONTEXT* tcti, TPM2_HANDLE* handle, uint8_t sticky);

  bool Connect();
  bool SendAll(const uint8_t* data, size_t size);
  bool RecvAll(uint8_t* data, size_t size);
  // Waits for `events` on the socket until the deadline.
  bool Wait(short events, const char* what);
  void Fail(std::string message, bool timed_out = false);
  void Close();

  std::unique_ptr<Context> context_;
  const std::string host_;
  const uint16_t port_;
  Clock::time_point deadline_ = Clock::time_point::max();
  int fd_ = -1;
  bool receiving_ = false;     // a command was sent; its response is due
  uint8_t header_[10] = {};
  size_t header_have_ = 0;
  bool failed_ = false;
  bool timed_out_ = false;
  std::string last_error_;
};

}  // namespace strongroom::keys::tpm_internal
