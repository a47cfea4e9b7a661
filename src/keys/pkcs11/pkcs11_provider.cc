// SPDX-License-Identifier: Apache-2.0
#include "keys/pkcs11/pkcs11_provider.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <tuple>
#include <utility>
#include <vector>

#include "crypto/random.h"

// The GNU flavour of p11-kit's header: the default "compatibility" flavour
// #defines plain words such as `value` and `count`, which would rewrite
// tl::expected::value() and friends in everything included after it.
#define CRYPTOKI_GNU 1
#include <p11-kit/pkcs11.h>

namespace strongroom::keys {
namespace {

constexpr uint8_t kFormatVersion = 0x01;
constexpr size_t kIvSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kHeaderSize = 1 + kIvSize;
constexpr size_t kMaxPlaintext = 4096;
constexpr size_t kMaxLabel = 128;
constexpr size_t kAesKeySize = 32;
// PKCS#11 3.0; absent from the 2.40 header but a 3.0 module may return it.
constexpr ck_rv_t kCkrAeadDecryptFailed = 0x35UL;

// ---------------------------------------------------------------- errors

std::string RvName(ck_rv_t rv) {
  static const std::map<ck_rv_t, const char*> kNames = {
      {CKR_OK, "CKR_OK"},
      {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
      {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
      {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
      {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
      {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
      {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
      {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
      {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
      {CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED"},
      {CKR_DATA_INVALID, "CKR_DATA_INVALID"},
      {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
      {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
      {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
      {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
      {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"},
      {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE"},
      {kCkrAeadDecryptFailed, "CKR_AEAD_DECRYPT_FAILED"},
      {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED"},
      {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
      {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
      {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"},
      {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
      {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
      {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
      {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
      {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
      {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
      {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
      {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
      {CKR_PIN_INVALID, "CKR_PIN_INVALID"},
      {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
      {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
      {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
      {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
      {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
      {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
      {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
      {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
      {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
      {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
      {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
      {CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED"},
      {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
      {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
      {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
      {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
      {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
      {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
      {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
      {CKR_FUNCTION_REJECTED, "CKR_FUNCTION_REJECTED"},
  };
  char hex[24];
  std::snprintf(hex, sizeof hex, "0x%lx", rv);
  auto it = kNames.find(rv);
  if (it == kNames.end()) return std::string("CKR ") + hex;
  return std::string(it->second) + " (" + hex + ")";
}

Error DownError(std::string message) {
  return Error(ErrorCode::kUnavailable, std::move(message)).WithReason("ServiceUnavailable");
}

// Return codes that mean the session (or the token behind it, or the login)
// is gone: the pool is dropped and the call retried once on a fresh session.
bool IsSessionLost(ck_rv_t rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_GENERAL_ERROR:  // SoftHSM: the token's files are gone
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SLOT_ID_INVALID:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return true;
    default:
      return false;
  }
}

bool IsPinRejected(ck_rv_t rv) {
  return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
         rv == CKR_PIN_EXPIRED || rv == CKR_PIN_LOCKED || rv == CKR_USER_PIN_NOT_INITIALIZED;
}

Error MapRv(ck_rv_t rv, std::string_view what) {
  std::string message = "pkcs11 " + std::string(what) + ": " + RvName(rv);
  if (IsSessionLost(rv) || rv == CKR_SESSION_COUNT || rv == CKR_FUNCTION_CANCELED) {
    return DownError(std::move(message));
  }
  if (IsPinRejected(rv) || rv == CKR_KEY_FUNCTION_NOT_PERMITTED || rv == CKR_ACTION_PROHIBITED ||
      rv == CKR_TOKEN_WRITE_PROTECTED || rv == CKR_SESSION_READ_ONLY ||
      rv == CKR_FUNCTION_REJECTED) {
    return Error(ErrorCode::kPermissionDenied, std::move(message));
  }
  if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
    return Error(ErrorCode::kNotFound, std::move(message));
  }
  if (rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_MECHANISM_INVALID) {
    return Error(ErrorCode::kFailedPrecondition, std::move(message));
  }
  return Error(ErrorCode::kInternal, std::move(message));
}

// CK_TOKEN_INFO.label: 32 bytes, blank padded, not NUL terminated.
std::string TrimLabel(const unsigned char (&label)[32]) {
  std::string s(reinterpret_cast<const char*>(label), sizeof label);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

Result<void> CheckKeyLabel(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) {
    return InvalidArgument("pkcs11 key label must be 1 to " + std::to_string(kMaxLabel) +
                           " bytes");
  }
  if (!IsValidUtf8(label)) return InvalidArgument("pkcs11 key label is not valid utf-8");
  for (char c : label) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return InvalidArgument("pkcs11 key label contains a control character");
    }
  }
  return Ok();
}

// ---------------------------------------------------------------- module

// One loaded and initialised module per file, shared by every provider in
// the process that names it: C_Initialize/C_Finalize are process-wide, so a
// second provider must not initialise it again, nor the first finalise it
// under the second.
//
// Reinitialize() finalises and initialises it again. Some modules only look
// for tokens in C_Initialize (SoftHSM2 scans its token directory there, and
// once a token's files vanish it stays invalid until then), so this is how a
// provider gets a token back that was removed and re-inserted. Every PKCS#11
// call runs under calls() held shared; Reinitialize holds it exclusively, and
// bumps generation(): session and object handles from an older generation
// are dead and must not be passed to the module (their numbers may be reused).
class Module {
 public:
  static Result<std::shared_ptr<Module>> Load(const std::string& path);

  ck_function_list* fn() const { return fn_; }
  const std::string& path() const { return path_; }
  std::shared_mutex& calls() { return calls_; }
  // Read under calls() (shared or exclusive).
  uint64_t generation() const { return generation_; }

  // Reloads the module's view of its tokens unless someone already did since
  // `seen_generation` (then true at once: retry), the module is not ours to
  // finalise, or the last reload was under kReinitInterval ago (false).
  // Must not be called with calls() held.
  bool Reinitialize(uint64_t seen_generation);

  static constexpr std::chrono::milliseconds kReinitInterval{1000};

 private:
  Module() = default;
  static void Release(Module* module);
  ck_rv_t Initialize();

  std::string path_;
  void* dl_ = nullptr;
  ck_function_list* fn_ = nullptr;
  bool ours_ = false;         // we initialised it, so we may finalise it
  bool initialised_ = false;  // the last C_Initialize of ours succeeded
  std::shared_mutex calls_;
  uint64_t generation_ = 0;
  std::chrono::steady_clock::time_point last_reinit_{};
};

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::weak_ptr<Module>>& Registry() {
  static auto* modules = new std::map<std::string, std::weak_ptr<Module>>();
  return *modules;
}

ck_rv_t Module::Initialize() {
  ck_c_initialize_args args{};
  args.flags = CKF_OS_LOCKING_OK;
  return fn_->C_Initialize(&args);
}

void Module::Release(Module* module) {
  // Under the registry lock, so a concurrent Load cannot initialise the
  // module while it is being finalised.
  std::lock_guard<std::mutex> lock(RegistryMutex());
  if (module->ours_ && module->initialised_) module->fn_->C_Finalize(nullptr);
  if (module->dl_ != nullptr) dlclose(module->dl_);
  auto it = Registry().find(module->path_);
  if (it != Registry().end() && it->second.expired()) Registry().erase(it);
  delete module;
}

bool Module::Reinitialize(uint64_t seen_generation) {
  std::unique_lock<std::shared_mutex> lock(calls_);
  if (generation_ != seen_generation) return true;
  if (!ours_) return false;
  auto now = std::chrono::steady_clock::now();
  if (last_reinit_ != std::chrono::steady_clock::time_point{} &&
      now - last_reinit_ < kReinitInterval) {
    return false;
  }
  last_reinit_ = now;
  if (initialised_) fn_->C_Finalize(nullptr);
  ck_rv_t rv = Initialize();
  initialised_ = rv == CKR_OK;
  ++generation_;
  return true;
}

Result<std::shared_ptr<Module>> Module::Load(const std::string& path) {
  if (path.empty()) return InvalidArgument("pkcs11 module path is empty");
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return tl::unexpected(DownError("pkcs11 module '" + path + "' not found: " +
                                    std::strerror(errno)));
  }
  std::string canonical(resolved);

  std::lock_guard<std::mutex> lock(RegistryMutex());
  if (auto it = Registry().find(canonical); it != Registry().end()) {
    if (auto existing = it->second.lock()) return existing;
  }

  std::unique_ptr<Module> module(new Module());
  module->path_ = canonical;
  module->dl_ = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module->dl_ == nullptr) {
    const char* why = dlerror();
    return tl::unexpected(DownError("pkcs11 module '" + path + "' cannot be loaded: " +
                                    (why != nullptr ? why : "dlopen failed")));
  }
  auto cleanup = [&] {
    dlclose(module->dl_);
    module->dl_ = nullptr;
  };
  void* sym = dlsym(module->dl_, "C_GetFunctionList");
  if (sym == nullptr) {
    cleanup();
    return InvalidArgument("'" + path + "' is not a pkcs11 module (no C_GetFunctionList)");
  }
  auto get_list = reinterpret_cast<ck_rv_t (*)(ck_function_list**)>(sym);
  ck_rv_t rv = get_list(&module->fn_);
  if (rv != CKR_OK || module->fn_ == nullptr) {
    cleanup();
    return tl::unexpected(DownError("pkcs11 module '" + path +
                                    "': C_GetFunctionList failed: " + RvName(rv)));
  }
  if (module->fn_->version.major < 2) {
    cleanup();
    return InvalidArgument("pkcs11 module '" + path + "' speaks cryptoki " +
                           std::to_string(module->fn_->version.major) + ".x; need 2.x or later");
  }
  rv = module->Initialize();
  if (rv == CKR_OK) {
    module->ours_ = true;
    module->initialised_ = true;
  } else if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    // Someone else in the process initialised it: use it, never finalise it.
    module->initialised_ = true;
  } else {
    cleanup();
    return tl::unexpected(DownError("pkcs11 module '" + path +
                                    "': C_Initialize failed: " + RvName(rv)));
  }
  std::shared_ptr<Module> shared(module.release(), &Module::Release);
  Registry()[canonical] = shared;
  return shared;
}

// ---------------------------------------------------------------- attributes

ck_attribute Attr(ck_attribute_type_t type, void* value, unsigned long len) {
  ck_attribute a{};
  a.type = type;
  a.value = value;
  a.value_len = len;
  return a;
}

}  // namespace

// ---------------------------------------------------------------- impl

struct Pkcs11Provider::Impl {
  // One session on loan to one call.
  struct Lease {
    ck_session_handle_t handle = CK_INVALID_HANDLE;
    ck_slot_id_t slot = 0;
    uint64_t epoch = 0;
    ck_rv_t lost = CKR_OK;  // the session, token or login is gone: reconnect
    bool dirty = false;     // an operation may still be active: do not reuse
  };

  std::shared_ptr<Module> module;
  ck_function_list* p11 = nullptr;
  std::string token_label;
  crypto::SecretBytes pin;
  size_t max_sessions = 4;
  std::chrono::milliseconds session_wait{2000};

  std::mutex mu;  // guards everything below
  std::condition_variable freed;
  std::vector<std::pair<ck_session_handle_t, ck_slot_id_t>> idle;
  size_t open = 0;          // sessions of this epoch, idle or on loan
  uint64_t epoch = 0;       // bumped when the pool is dropped
  uint64_t module_gen = 0;  // the module generation the pool's handles belong to
  std::optional<ck_slot_id_t> slot;
  bool pin_rejected = false;
  std::string pin_error;
  // Key handles by label, and when the token last confirmed the label.
  struct CachedHandle {
    ck_object_handle_t handle;
    std::chrono::steady_clock::time_point checked;
  };
  std::map<std::string, CachedHandle, std::less<>> handles;

  std::mutex create_mu;  // CreateKey: find-then-generate is not atomic

  ~Impl() {
    std::shared_lock<std::shared_mutex> calls(module->calls());
    std::lock_guard<std::mutex> lock(mu);
    if (module_gen == module->generation()) {
      for (const auto& [h, unused_slot] : idle) p11->C_CloseSession(h);
    }
    idle.clear();
  }

  // Records a session-level failure on the lease and maps `rv`.
  Error Fail(Lease& lease, ck_rv_t rv, std::string_view what) {
    if (IsSessionLost(rv)) lease.lost = rv;
    return MapRv(rv, what);
  }

  // True if the token in the lease's slot still answers. SoftHSM keeps
  // answering C_FindObjects (with no matches) after its token files are gone,
  // so "no such key" and "bad tag" are only believed if this holds.
  bool TokenAnswers(Lease& lease) {
    ck_token_info info{};
    ck_rv_t rv = p11->C_GetTokenInfo(lease.slot, &info);
    if (rv == CKR_OK && TrimLabel(info.label) == token_label) return true;
    lease.lost = rv != CKR_OK ? rv : CKR_TOKEN_NOT_RECOGNIZED;
    return false;
  }
  Error TokenGone(Lease& lease, std::string_view what) {
    return DownError("pkcs11 " + std::string(what) + ": token '" + token_label +
                     "' does not answer (" + RvName(lease.lost) + ")");
  }

  Result<ck_slot_id_t> FindSlot() {
    for (int tries = 0; tries < 4; ++tries) {
      unsigned long count = 0;
      ck_rv_t rv = p11->C_GetSlotList(1, nullptr, &count);
      if (rv != CKR_OK) return tl::unexpected(DownError("pkcs11 C_GetSlotList: " + RvName(rv)));
      std::vector<ck_slot_id_t> slots(count);
      rv = p11->C_GetSlotList(1, slots.data(), &count);
      if (rv == CKR_BUFFER_TOO_SMALL) continue;  // a token arrived in between
      if (rv != CKR_OK) return tl::unexpected(DownError("pkcs11 C_GetSlotList: " + RvName(rv)));
      slots.resize(count);
      std::vector<ck_slot_id_t> matches;
      for (ck_slot_id_t id : slots) {
        ck_token_info info{};
        if (p11->C_GetTokenInfo(id, &info) != CKR_OK) continue;  // removed or broken
        if ((info.flags & CKF_TOKEN_INITIALIZED) != 0 && TrimLabel(info.label) == token_label) {
          matches.push_back(id);
        }
      }
      if (matches.size() > 1) {
        return FailedPrecondition("pkcs11: " + std::to_string(matches.size()) +
                                  " tokens are labelled '" + token_label + "'");
      }
      if (matches.empty()) {
        return tl::unexpected(DownError("pkcs11 token '" + token_label + "' is not present"));
      }
      return matches.front();
    }
    return tl::unexpected(DownError("pkcs11 slot list keeps changing"));
  }

  // Opens a read-write session on the token and logs the user in.
  Result<Lease> OpenSession(uint64_t for_epoch) {
    std::optional<ck_slot_id_t> known;
    {
      std::lock_guard<std::mutex> lock(mu);
      known = slot;
    }
    if (!known) {
      STRONGROOM_ASSIGN_OR_RETURN(ck_slot_id_t found, FindSlot());
      std::lock_guard<std::mutex> lock(mu);
      if (epoch == for_epoch) slot = found;
      known = found;
    }
    Lease lease;
    lease.slot = *known;
    lease.epoch = for_epoch;
    ck_rv_t rv = p11->C_OpenSession(*known, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                    nullptr, &lease.handle);
    if (rv != CKR_OK) {
      if (IsSessionLost(rv)) ForgetSlot(for_epoch);
      return tl::unexpected(MapRv(rv, "C_OpenSession on token '" + token_label + "'"));
    }
    rv = p11->C_Login(lease.handle, CKU_USER, const_cast<unsigned char*>(pin.reveal().data()),
                      pin.size());
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) return lease;
    p11->C_CloseSession(lease.handle);
    Error error = MapRv(rv, "C_Login to token '" + token_label + "'");
    if (IsPinRejected(rv)) {
      std::lock_guard<std::mutex> lock(mu);
      pin_rejected = true;
      pin_error = error.message();
    } else if (IsSessionLost(rv)) {
      ForgetSlot(for_epoch);
    }
    return tl::unexpected(std::move(error));
  }

  void ForgetSlot(uint64_t seen_epoch) {
    std::lock_guard<std::mutex> lock(mu);
    if (epoch == seen_epoch) slot.reset();
  }

  // Drops the pool: idle sessions are closed (if `close`: their module
  // generation is alive), sessions on loan are closed when they come back,
  // and the next call finds the token again.
  void ResetLocked(bool close) {
    ++epoch;
    if (close) {
      for (const auto& [h, unused_slot] : idle) p11->C_CloseSession(h);
    }
    idle.clear();
    open = 0;
    slot.reset();
    handles.clear();
    freed.notify_all();
  }

  // Called with module->calls() held shared. `*token_down` tells a failure
  // to reach the token (worth reloading the module for) from the rest.
  Result<Lease> Acquire(bool* token_down) {
    *token_down = false;
    std::unique_lock<std::mutex> lock(mu);
    if (module_gen != module->generation()) {
      ResetLocked(/*close=*/false);  // the module was reloaded: every handle is dead
      module_gen = module->generation();
    }
    auto deadline = std::chrono::steady_clock::now() + session_wait;
    while (true) {
      if (pin_rejected) {
        return PermissionDenied(pin_error + " (the pin is not tried again)");
      }
      if (!idle.empty()) {
        Lease lease;
        std::tie(lease.handle, lease.slot) = idle.back();
        idle.pop_back();
        lease.epoch = epoch;
        return lease;
      }
      if (open < max_sessions) break;
      if (freed.wait_until(lock, deadline) == std::cv_status::timeout && idle.empty() &&
          open >= max_sessions && !pin_rejected) {
        return tl::unexpected(DownError("pkcs11: no free session on token '" + token_label +
                                        "' within " + std::to_string(session_wait.count()) +
                                        " ms"));
      }
    }
    ++open;
    uint64_t my_epoch = epoch;
    lock.unlock();
    Result<Lease> lease = OpenSession(my_epoch);
    if (!lease) {
      *token_down = lease.error().code() == ErrorCode::kUnavailable;
      lock.lock();
      if (epoch == my_epoch) --open;
      freed.notify_one();
    }
    return lease;
  }

  // Called with module->calls() held shared, as Acquire was.
  void Release(Lease& lease) {
    std::lock_guard<std::mutex> lock(mu);
    if (lease.epoch != epoch) {
      p11->C_CloseSession(lease.handle);  // same module generation: Acquire would have reset
      return;
    }
    if (lease.lost != CKR_OK) {
      p11->C_CloseSession(lease.handle);
      ResetLocked(/*close=*/true);
      return;
    }
    if (lease.dirty) {
      p11->C_CloseSession(lease.handle);
      --open;
    } else {
      idle.emplace_back(lease.handle, lease.slot);
    }
    freed.notify_one();
  }

  // Runs `fn` on a pooled session. A lost session is retried once on a fresh
  // one; if the token still cannot be reached, the module is reloaded (at
  // most once a second per module) and the call tried a last time.
  template <typename T>
  Result<T> Run(const std::function<Result<T>(Lease&)>& fn) {
    bool reloaded = false;
    for (int attempt = 0;; ++attempt) {
      uint64_t generation = 0;
      bool lost = false;
      bool token_down = false;
      std::optional<Result<T>> result;
      {
        std::shared_lock<std::shared_mutex> calls(module->calls());
        generation = module->generation();
        Result<Lease> lease = Acquire(&token_down);
        if (!lease) {
          result.emplace(tl::unexpected(lease.error()));
        } else {
          result.emplace(fn(*lease));
          lost = lease->lost != CKR_OK;
          Release(*lease);
        }
      }
      if (result->has_value() || result->error().code() != ErrorCode::kUnavailable) {
        return std::move(*result);
      }
      if (!lost && !token_down) return std::move(*result);  // e.g. the pool stayed busy
      if (lost && attempt == 0) continue;                   // reconnect
      if (reloaded || !module->Reinitialize(generation)) return std::move(*result);
      reloaded = true;
    }
  }

  // The handle of the secret key labelled `label`. A key destroyed
  // elsewhere shows up as CKR_KEY_HANDLE_INVALID on use (KeyFail); in case a
  // module reuses handle numbers, a cached handle's label is also re-read
  // once it is kHandleRecheck old (that read costs as much as the unwrap on
  // SoftHSM, which decrypts a private object's label, so not on every call).
  static constexpr std::chrono::milliseconds kHandleRecheck{1000};
  Result<ck_object_handle_t> FindKey(Lease& lease, std::string_view label) {
    std::optional<CachedHandle> cached;
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto it = handles.find(label); it != handles.end()) cached = it->second;
    }
    if (cached && now - cached->checked < kHandleRecheck) return cached->handle;
    if (cached) {
      std::vector<unsigned char> buf(label.size() + 1);
      ck_attribute attr = Attr(CKA_LABEL, buf.data(), buf.size());
      ck_rv_t rv = p11->C_GetAttributeValue(lease.handle, cached->handle, &attr, 1);
      if (rv == CKR_OK && attr.value_len == label.size() &&
          std::memcmp(buf.data(), label.data(), label.size()) == 0) {
        RememberHandle(lease, label, cached->handle);
        return cached->handle;
      }
      if (IsSessionLost(rv)) return tl::unexpected(Fail(lease, rv, "C_GetAttributeValue"));
      ForgetHandle(label);
    }

    ck_object_class_t cls = CKO_SECRET_KEY;
    unsigned char on_token = 1;
    ck_attribute tmpl[] = {
        Attr(CKA_CLASS, &cls, sizeof cls),
        Attr(CKA_TOKEN, &on_token, sizeof on_token),
        Attr(CKA_LABEL, const_cast<char*>(label.data()), label.size()),
    };
    ck_rv_t rv = p11->C_FindObjectsInit(lease.handle, tmpl, std::size(tmpl));
    if (rv != CKR_OK) return tl::unexpected(Fail(lease, rv, "C_FindObjectsInit"));
    ck_object_handle_t found[2] = {};
    unsigned long count = 0;
    rv = p11->C_FindObjects(lease.handle, found, std::size(found), &count);
    ck_rv_t final_rv = p11->C_FindObjectsFinal(lease.handle);
    if (rv != CKR_OK) {
      lease.dirty = true;
      return tl::unexpected(Fail(lease, rv, "C_FindObjects"));
    }
    if (final_rv != CKR_OK) lease.dirty = true;
    if (count == 0) {
      if (!TokenAnswers(lease)) return tl::unexpected(TokenGone(lease, "looking up a key"));
      return NotFound("pkcs11 key '" + std::string(label) + "' not found on token '" +
                      token_label + "'");
    }
    if (count > 1) {
      return FailedPrecondition("pkcs11: more than one secret key on token '" + token_label +
                                "' is labelled '" + std::string(label) + "'");
    }
    RememberHandle(lease, label, found[0]);
    return found[0];
  }

  void RememberHandle(const Lease& lease, std::string_view label, ck_object_handle_t handle) {
    std::lock_guard<std::mutex> lock(mu);
    if (lease.epoch == epoch) {
      handles.insert_or_assign(std::string(label),
                               CachedHandle{handle, std::chrono::steady_clock::now()});
    }
  }

  void ForgetHandle(std::string_view label) {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = handles.find(label); it != handles.end()) handles.erase(it);
  }

  // A key handle the token no longer knows means the key was destroyed.
  Error KeyFail(Lease& lease, ck_rv_t rv, std::string_view what, std::string_view label) {
    if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID) {
      ForgetHandle(label);
      if (!TokenAnswers(lease)) return TokenGone(lease, what);
      return Error(ErrorCode::kNotFound, "pkcs11 key '" + std::string(label) +
                                             "' not found on token '" + token_label + "'");
    }
    return Fail(lease, rv, what);
  }
};

// ---------------------------------------------------------------- provider

Result<crypto::SecretBytes> ReadPkcs11PinFile(const std::string& path) {
  constexpr size_t kMaxPin = 256;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int e = errno;
    std::string message = "pkcs11 pin file '" + path + "': " + std::strerror(e);
    if (e == ENOENT) return NotFound(std::move(message));
    if (e == EACCES || e == EPERM || e == ELOOP) return PermissionDenied(std::move(message));
    return Unavailable(std::move(message));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return FailedPrecondition("pkcs11 pin file '" + path + "' is not a regular file");
  }
  if ((st.st_mode & 0077) != 0) {
    ::close(fd);
    return FailedPrecondition("pkcs11 pin file '" + path +
                              "' is accessible by group or others; chmod 600 it");
  }
  crypto::SecretBytes buffer(kMaxPin + 3);
  size_t got = 0;
  while (got < buffer.size()) {
    ssize_t n = ::read(fd, buffer.mutable_reveal().data() + got, buffer.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Unavailable("pkcs11 pin file '" + path + "': " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  ByteView pin = buffer.reveal().first(got);
  if (!pin.empty() && pin.back() == '\n') pin = pin.first(pin.size() - 1);
  if (!pin.empty() && pin.back() == '\r') pin = pin.first(pin.size() - 1);
  if (pin.empty() || pin.size() > kMaxPin) {
    return InvalidArgument("pkcs11 pin file '" + path + "' must hold 1 to " +
                           std::to_string(kMaxPin) + " bytes");
  }
  return crypto::SecretBytes::CopyFrom(pin);
}

Pkcs11Provider::Pkcs11Provider(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pkcs11Provider::~Pkcs11Provider() = default;

Result<std::unique_ptr<Pkcs11Provider>> Pkcs11Provider::Open(Pkcs11Options options) {
  if (options.token_label.empty() || options.token_label.size() > 32) {
    return InvalidArgument("pkcs11 token label must be 1 to 32 bytes");
  }
  if (options.pin.empty() == options.pin_file.empty()) {
    return InvalidArgument("pkcs11: give exactly one of pin and pin_file");
  }
  if (options.pin.empty()) {
    STRONGROOM_ASSIGN_OR_RETURN(options.pin, ReadPkcs11PinFile(options.pin_file));
  }
  if (options.max_sessions == 0) return InvalidArgument("pkcs11 max_sessions must be positive");
  STRONGROOM_ASSIGN_OR_RETURN(std::shared_ptr<Module> module, Module::Load(options.module_path));

  auto impl = std::make_unique<Impl>();
  impl->p11 = module->fn();
  impl->module = std::move(module);
  impl->token_label = std::move(options.token_label);
  impl->pin = std::move(options.pin);
  impl->max_sessions = options.max_sessions;
  impl->session_wait = options.session_wait;

  // Fail now on a wrong label or PIN; the session goes back to the pool.
  STRONGROOM_RETURN_IF_ERROR(impl->Run<void>([](Impl::Lease&) -> Result<void> { return Ok(); }));
  return std::unique_ptr<Pkcs11Provider>(new Pkcs11Provider(std::move(impl)));
}

Result<std::string> Pkcs11Provider::CreateKey(std::string_view label) {
  STRONGROOM_RETURN_IF_ERROR(CheckKeyLabel(label));
  std::lock_guard<std::mutex> create_lock(impl_->create_mu);
  Impl& impl = *impl_;
  return impl.Run<std::string>([&](Impl::Lease& lease) -> Result<std::string> {
    Result<ck_object_handle_t> existing = impl.FindKey(lease, label);
    if (existing) {
      return AlreadyExists("pkcs11 key '" + std::string(label) + "' already exists on token '" +
                           impl.token_label + "'");
    }
    if (existing.error().code() != ErrorCode::kNotFound) {
      return tl::unexpected(existing.error());
    }
    ck_object_class_t cls = CKO_SECRET_KEY;
    ck_key_type_t type = CKK_AES;
    unsigned long len = kAesKeySize;
    unsigned char yes = 1;
    unsigned char no = 0;
    ck_attribute tmpl[] = {
        Attr(CKA_CLASS, &cls, sizeof cls),
        Attr(CKA_KEY_TYPE, &type, sizeof type),
        Attr(CKA_VALUE_LEN, &len, sizeof len),
        Attr(CKA_LABEL, const_cast<char*>(label.data()), label.size()),
        Attr(CKA_TOKEN, &yes, 1),
        Attr(CKA_PRIVATE, &yes, 1),
        Attr(CKA_SENSITIVE, &yes, 1),
        Attr(CKA_EXTRACTABLE, &no, 1),
        Attr(CKA_ENCRYPT, &yes, 1),
        Attr(CKA_DECRYPT, &yes, 1),
        Attr(CKA_WRAP, &no, 1),
        Attr(CKA_UNWRAP, &no, 1),
        Attr(CKA_SIGN, &no, 1),
        Attr(CKA_VERIFY, &no, 1),
        Attr(CKA_DERIVE, &no, 1),
        Attr(CKA_MODIFIABLE, &no, 1),
    };
    ck_mechanism mech{};
    mech.mechanism = CKM_AES_KEY_GEN;
    ck_object_handle_t handle = CK_INVALID_HANDLE;
    ck_rv_t rv = impl.p11->C_GenerateKey(lease.handle, &mech, tmpl, std::size(tmpl), &handle);
    if (rv != CKR_OK) return tl::unexpected(impl.Fail(lease, rv, "C_GenerateKey"));
    // The lock above covers this process only: another process (a CLI next
    // to the server) may have made a key of this label meanwhile. Look
    // again; whoever sees more than one gives its own up, so at most one
    // survives (if both see two, neither does, and the callers retry).
    impl.ForgetHandle(label);
    auto found = impl.FindKey(lease, label);
    if (!found || *found != handle) {
      (void)impl.p11->C_DestroyObject(lease.handle, handle);
      impl.ForgetHandle(label);
      if (found || found.error().code() == ErrorCode::kFailedPrecondition) {
        return AlreadyExists("pkcs11 key '" + std::string(label) + "' was created at the same "
                             "time by another client on token '" + impl.token_label +
                             "'; this one was destroyed again");
      }
      return tl::unexpected(found.error());
    }
    return std::string(label);
  });
}

Result<Bytes> Pkcs11Provider::Wrap(std::string_view key_name, ByteView plaintext, ByteView aad) {
  if (plaintext.empty() || plaintext.size() > kMaxPlaintext) {
    return InvalidArgument("pkcs11 wrap: plaintext must be 1 to " +
                           std::to_string(kMaxPlaintext) + " bytes");
  }
  STRONGROOM_RETURN_IF_ERROR(CheckKeyLabel(key_name));
  STRONGROOM_ASSIGN_OR_RETURN(Bytes iv, crypto::RandomBytes(kIvSize));
  Bytes gcm_aad;
  gcm_aad.reserve(1 + aad.size());
  gcm_aad.push_back(kFormatVersion);
  Append(gcm_aad, aad);

  Impl& impl = *impl_;
  return impl.Run<Bytes>([&](Impl::Lease& lease) -> Result<Bytes> {
    STRONGROOM_ASSIGN_OR_RETURN(ck_object_handle_t key, impl.FindKey(lease, key_name));
    ck_gcm_params params{};
    params.iv_ptr = iv.data();
    params.iv_len = iv.size();
    params.iv_bits = iv.size() * 8;
    params.aad_ptr = gcm_aad.data();
    params.aad_len = gcm_aad.size();
    params.tag_bits = kTagSize * 8;
    ck_mechanism mech{};
    mech.mechanism = CKM_AES_GCM;
    mech.parameter = &params;
    mech.parameter_len = sizeof params;
    ck_rv_t rv = impl.p11->C_EncryptInit(lease.handle, &mech, key);
    if (rv != CKR_OK) return tl::unexpected(impl.KeyFail(lease, rv, "C_EncryptInit", key_name));

    Bytes out(kHeaderSize + plaintext.size() + kTagSize);
    out[0] = kFormatVersion;
    std::copy(iv.begin(), iv.end(), out.begin() + 1);
    unsigned long out_len = plaintext.size() + kTagSize;
    rv = impl.p11->C_Encrypt(lease.handle, const_cast<uint8_t*>(plaintext.data()),
                             plaintext.size(), out.data() + kHeaderSize, &out_len);
    if (rv != CKR_OK) {
      if (rv == CKR_BUFFER_TOO_SMALL) lease.dirty = true;  // the operation stays active
      return tl::unexpected(impl.Fail(lease, rv, "C_Encrypt"));
    }
    if (out_len != plaintext.size() + kTagSize) {
      return Internal("pkcs11 C_Encrypt returned " + std::to_string(out_len) +
                      " bytes for AES-GCM of " + std::to_string(plaintext.size()));
    }
    return out;
  });
}

Result<crypto::SecretBytes> Pkcs11Provider::Unwrap(std::string_view key_name, ByteView wrapped,
                                                   ByteView aad) {
  STRONGROOM_RETURN_IF_ERROR(CheckKeyLabel(key_name));
  if (wrapped.size() < kHeaderSize + 1 + kTagSize ||
      wrapped.size() > kHeaderSize + kMaxPlaintext + kTagSize) {
    return DataLoss("pkcs11 wrapped blob has an impossible size (" +
                    std::to_string(wrapped.size()) + " bytes)");
  }
  if (wrapped[0] != kFormatVersion) {
    return DataLoss("pkcs11 wrapped blob has unknown format version " +
                    std::to_string(wrapped[0]));
  }
  Bytes gcm_aad;
  gcm_aad.reserve(1 + aad.size());
  gcm_aad.push_back(kFormatVersion);
  Append(gcm_aad, aad);
  ByteView iv = wrapped.subspan(1, kIvSize);
  ByteView sealed = wrapped.subspan(kHeaderSize);

  Impl& impl = *impl_;
  return impl.Run<crypto::SecretBytes>(
      [&](Impl::Lease& lease) -> Result<crypto::SecretBytes> {
        STRONGROOM_ASSIGN_OR_RETURN(ck_object_handle_t key, impl.FindKey(lease, key_name));
        ck_gcm_params params{};
        params.iv_ptr = const_cast<uint8_t*>(iv.data());
        params.iv_len = iv.size();
        params.iv_bits = iv.size() * 8;
        params.aad_ptr = gcm_aad.data();
        params.aad_len = gcm_aad.size();
        params.tag_bits = kTagSize * 8;
        ck_mechanism mech{};
        mech.mechanism = CKM_AES_GCM;
        mech.parameter = &params;
        mech.parameter_len = sizeof params;
        ck_rv_t rv = impl.p11->C_DecryptInit(lease.handle, &mech, key);
        if (rv != CKR_OK) {
          return tl::unexpected(impl.KeyFail(lease, rv, "C_DecryptInit", key_name));
        }
        // Room for the whole input: some modules ask for it before they
        // know how much of it is tag. Wiped when it goes out of scope.
        crypto::SecretBytes buffer(sealed.size());
        unsigned long out_len = sealed.size();
        rv = impl.p11->C_Decrypt(lease.handle, const_cast<uint8_t*>(sealed.data()),
                                 sealed.size(), buffer.mutable_reveal().data(), &out_len);
        if (rv == CKR_GENERAL_ERROR || rv == CKR_ENCRYPTED_DATA_INVALID ||
            rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == kCkrAeadDecryptFailed ||
            rv == CKR_DATA_INVALID) {
          // SoftHSM 2.6.1 reports a bad GCM tag as CKR_GENERAL_ERROR, which
          // it also uses when the token itself broke: tell them apart.
          if (!impl.TokenAnswers(lease)) return tl::unexpected(impl.TokenGone(lease, "C_Decrypt"));
          return DataLoss("pkcs11 wrapped blob does not authenticate under key '" +
                          std::string(key_name) + "' and this aad (" + RvName(rv) + ")");
        }
        if (rv != CKR_OK) {
          if (rv == CKR_BUFFER_TOO_SMALL) lease.dirty = true;
          return tl::unexpected(impl.Fail(lease, rv, "C_Decrypt"));
        }
        if (out_len != sealed.size() - kTagSize) {
          return Internal("pkcs11 C_Decrypt returned " + std::to_string(out_len) +
                          " bytes for " + std::to_string(sealed.size()) + " of AES-GCM");
        }
        return crypto::SecretBytes::CopyFrom(buffer.reveal().first(out_len));
      });
}

Result<void> Pkcs11Provider::DestroyKey(std::string_view key_name) {
  STRONGROOM_RETURN_IF_ERROR(CheckKeyLabel(key_name));
  Impl& impl = *impl_;
  return impl.Run<void>([&](Impl::Lease& lease) -> Result<void> {
    STRONGROOM_ASSIGN_OR_RETURN(ck_object_handle_t key, impl.FindKey(lease, key_name));
    ck_rv_t rv = impl.p11->C_DestroyObject(lease.handle, key);
    if (rv != CKR_OK) return tl::unexpected(impl.KeyFail(lease, rv, "C_DestroyObject", key_name));
    impl.ForgetHandle(key_name);
    return Ok();
  });
}

Result<void> Pkcs11Provider::HealthCheck() {
  Impl& impl = *impl_;
  return impl.Run<void>([&](Impl::Lease& lease) -> Result<void> {
    ck_session_info session{};
    ck_rv_t rv = impl.p11->C_GetSessionInfo(lease.handle, &session);
    if (rv != CKR_OK) return tl::unexpected(impl.Fail(lease, rv, "C_GetSessionInfo"));
    if (session.state != CKS_RW_USER_FUNCTIONS && session.state != CKS_RO_USER_FUNCTIONS) {
      return tl::unexpected(impl.Fail(lease, CKR_USER_NOT_LOGGED_IN, "session state"));
    }
    ck_token_info token{};
    rv = impl.p11->C_GetTokenInfo(session.slot_id, &token);
    if (rv != CKR_OK) return tl::unexpected(impl.Fail(lease, rv, "C_GetTokenInfo"));
    if (TrimLabel(token.label) != impl.token_label) {
      lease.lost = CKR_TOKEN_NOT_RECOGNIZED;
      return tl::unexpected(DownError("pkcs11 token in the slot is no longer '" +
                                      impl.token_label + "'"));
    }
    return Ok();
  });
}

Result<Pkcs11Provider::KeyProtection> Pkcs11Provider::InspectKey(std::string_view key_name) {
  STRONGROOM_RETURN_IF_ERROR(CheckKeyLabel(key_name));
  Impl& impl = *impl_;
  return impl.Run<KeyProtection>([&](Impl::Lease& lease) -> Result<KeyProtection> {
    STRONGROOM_ASSIGN_OR_RETURN(ck_object_handle_t key, impl.FindKey(lease, key_name));
    unsigned char sensitive = 0, extractable = 1, always_sensitive = 0, never_extractable = 0;
    unsigned long value_len = 0;
    ck_attribute flags[] = {
        Attr(CKA_SENSITIVE, &sensitive, 1),
        Attr(CKA_EXTRACTABLE, &extractable, 1),
        Attr(CKA_ALWAYS_SENSITIVE, &always_sensitive, 1),
        Attr(CKA_NEVER_EXTRACTABLE, &never_extractable, 1),
        Attr(CKA_VALUE_LEN, &value_len, sizeof value_len),
    };
    ck_rv_t rv = impl.p11->C_GetAttributeValue(lease.handle, key, flags, std::size(flags));
    if (rv != CKR_OK) {
      return tl::unexpected(impl.KeyFail(lease, rv, "C_GetAttributeValue", key_name));
    }
    KeyProtection out;
    out.sensitive = sensitive != 0;
    out.extractable = extractable != 0;
    out.always_sensitive = always_sensitive != 0;
    out.never_extractable = never_extractable != 0;
    out.value_len = value_len;

    crypto::SecretBytes value(64);
    ck_attribute value_attr = Attr(CKA_VALUE, value.mutable_reveal().data(), value.size());
    rv = impl.p11->C_GetAttributeValue(lease.handle, key, &value_attr, 1);
    out.value_read_rv = rv;
    out.value_readable = rv == CKR_OK && value_attr.value_len != CK_UNAVAILABLE_INFORMATION;
    return out;
  });
}

}  // namespace strongroom::keys
