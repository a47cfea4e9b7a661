// SPDX-License-Identifier: Apache-2.0
// KeyDirectory, the key lifecycle (key_directory.h): rotation, scheduled
// destruction and its cancellation, crypto-shredding of due keys, and the
// usability check the key ring runs on every use.

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>
#include <utility>

#include "base/clock.h"
#include "crypto/random.h"
#include "keys/key_directory.h"

namespace strongroom::keys {
namespace {

constexpr size_t kSaltSize = 32;
constexpr std::string_view kKindCustomer = "customer";
constexpr std::string_view kInvalidState = "KMS.KMSInvalidStateException";

tl::unexpected<Error> InvalidState(std::string message) {
  return tl::unexpected(Error(ErrorCode::kFailedPrecondition, std::move(message))
                            .WithReason(std::string(kInvalidState)));
}

// The error for using a key that is pending destruction or destroyed.
tl::unexpected<Error> StateError(const KeyInfo& info) {
  if (info.state == KeyState::kDestroyed) {
    return InvalidState(info.key_id + " was destroyed at " + Iso8601(info.destroy_ms) +
                        ": the objects encrypted under it were crypto-shredded and can no "
                        "longer be read.");
  }
  return InvalidState(info.key_id + " is pending deletion (it will be destroyed at " +
                      Iso8601(info.destroy_ms) +
                      "); objects encrypted under it cannot be read or written until the "
                      "deletion is cancelled.");
}

}  // namespace

const char* KeyStateName(KeyState state) {
  switch (state) {
    case KeyState::kEnabled: return "enabled";
    case KeyState::kDisabled: return "disabled";
    case KeyState::kPendingDestroy: return "pending-destroy";
    case KeyState::kDestroyed: return "destroyed";
  }
  return "disabled";
}

Result<KeyInfo> KeyDirectory::Rotate(std::string_view key_id) {
  STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, Get(key_id));
  if (info.state == KeyState::kPendingDestroy || info.state == KeyState::kDestroyed) {
    return StateError(info);
  }
  // Two rotations at once: the loser's version number is taken
  // (kAlreadyExists) or no longer above the current one; it retries.
  for (int attempt = 0;; ++attempt) {
    if (info.current_version == UINT32_MAX) {
      return FailedPrecondition("key " + info.key_id + " has no versions left");
    }
    catalog::KmsKeyVersion next;
    next.key_id = info.key_id;
    next.version = info.current_version + 1;
    STRONGROOM_ASSIGN_OR_RETURN(next.salt, crypto::RandomBytes(kSaltSize));
    next.created_ms = NowMs();
    auto added = catalog_.AddKmsKeyVersion(next);
    if (added) break;
    bool raced = added.error().code() == ErrorCode::kAlreadyExists ||
                 added.error().code() == ErrorCode::kInvalidArgument;
    if (!raced || attempt >= 3) return tl::unexpected(added.error());
    STRONGROOM_ASSIGN_OR_RETURN(info, Get(key_id));
  }
  return Get(key_id);
}

Result<KeyInfo> KeyDirectory::ScheduleDestroy(std::string_view key_id, int64_t pending_ms) {
  if (pending_ms < 0) {
    return InvalidArgument("the pending window must not be negative");
  }
  STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, Get(key_id));
  STRONGROOM_ASSIGN_OR_RETURN(catalog::KmsKey row, catalog_.GetKmsKey(info.key_id));
  if (row.kind != kKindCustomer) {
    return InvalidArgument("cannot destroy the built-in key '" + info.key_id + "'");
  }
  if (info.state == KeyState::kPendingDestroy || info.state == KeyState::kDestroyed) {
    return StateError(info);
  }
  int64_t due = NowMs() + pending_ms;
  auto set = catalog_.UpdateKmsKeyState(info.key_id, row.state,
                                        KeyStateName(KeyState::kPendingDestroy), due);
  if (!set) return tl::unexpected(set.error());
  return Get(info.key_id);
}

Result<KeyInfo> KeyDirectory::CancelDestroy(std::string_view key_id) {
  STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, Get(key_id));
  if (info.state != KeyState::kPendingDestroy) {
    if (info.state == KeyState::kDestroyed) return StateError(info);
    return InvalidState(info.key_id + " is not pending deletion.");
  }
  auto set = catalog_.UpdateKmsKeyState(info.key_id, KeyStateName(KeyState::kPendingDestroy),
                                        KeyStateName(KeyState::kDisabled), 0);
  if (!set) {
    if (set.error().code() == ErrorCode::kFailedPrecondition) {
      // Destroyed meanwhile (the window ended): report that.
      STRONGROOM_ASSIGN_OR_RETURN(KeyInfo now, Get(key_id));
      if (now.state == KeyState::kDestroyed) return StateError(now);
    }
    return tl::unexpected(set.error());
  }
  return Get(info.key_id);
}

Result<std::vector<std::string>> KeyDirectory::DestroyDueKeys() {
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::KmsKey> keys, catalog_.ListKmsKeys());
  std::vector<std::string> destroyed;
  int64_t now = NowMs();
  for (const catalog::KmsKey& key : keys) {
    if (key.state != KeyStateName(KeyState::kPendingDestroy) || key.destroy_ms > now) continue;
    auto done = catalog_.DestroyKmsKey(key.key_id, now);
    if (!done) {
      // Cancelled or destroyed by another process meanwhile.
      if (done.error().code() == ErrorCode::kFailedPrecondition) continue;
      return tl::unexpected(done.error());
    }
    destroyed.push_back(key.key_id);
  }
  return destroyed;
}

Result<std::vector<KeyInfo>> KeyDirectory::ProviderKeysToDestroy() {
  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::KmsKey> keys, catalog_.ListKmsKeys());
  std::vector<KeyInfo> out;
  auto still_used = [&](const catalog::KmsKey& key) {
    return std::any_of(keys.begin(), keys.end(), [&](const catalog::KmsKey& other) {
      return other.key_id != key.key_id && other.provider == key.provider &&
             other.provider_key == key.provider_key &&
             other.state != KeyStateName(KeyState::kDestroyed);
    });
  };
  for (const catalog::KmsKey& key : keys) {
    if (key.state != KeyStateName(KeyState::kDestroyed) || !key.provider_key_owned ||
        key.provider_key.empty() || key.provider_key_settled_ms != 0 || still_used(key)) {
      continue;
    }
    STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, GetWithoutAliases(key.key_id));
    out.push_back(std::move(info));
  }
  return out;
}

Result<void> KeyDirectory::SettleProviderKey(std::string_view key_id, std::string_view outcome) {
  return catalog_.SettleKmsProviderKey(key_id, outcome, NowMs());
}

Result<KeyInfo> KeyDirectory::Usable(std::string_view key_id) {
  STRONGROOM_ASSIGN_OR_RETURN(KeyInfo info, GetWithoutAliases(key_id));
  switch (info.state) {
    case KeyState::kEnabled:
      return info;
    case KeyState::kDisabled:
      return tl::unexpected(Error(ErrorCode::kFailedPrecondition, info.key_id + " is disabled.")
                                .WithReason("KMS.DisabledException"));
    case KeyState::kPendingDestroy:
      if (info.destroy_ms <= NowMs()) {
        auto done = catalog_.DestroyKmsKey(info.key_id, NowMs());
        // kFailedPrecondition: cancelled or destroyed meanwhile; re-read.
        if (!done && done.error().code() != ErrorCode::kFailedPrecondition) {
          return tl::unexpected(done.error());
        }
        STRONGROOM_ASSIGN_OR_RETURN(info, GetWithoutAliases(key_id));
        if (info.state == KeyState::kEnabled) return info;
        if (info.state == KeyState::kDisabled) return Usable(key_id);
      }
      return StateError(info);
    case KeyState::kDestroyed:
      return StateError(info);
  }
  return Internal("unknown key state");
}

}  // namespace strongroom::keys
