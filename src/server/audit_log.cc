// SPDX-License-Identifier: Apache-2.0
#include "server/audit_log.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>

#include "keys/audit/file_audit_sink.h"

namespace strongroom::server {

std::string AuditLogPath(const ServerSettings& settings) {
  return settings.audit_log.empty() ? settings.data_dir + "/audit.log" : settings.audit_log;
}

Result<std::unique_ptr<keys::AuditSink>> OpenAuditLog(const ServerSettings& settings) {
  STRONGROOM_ASSIGN_OR_RETURN(auto sink, keys::FileAuditSink::Open(AuditLogPath(settings)));
  return std::unique_ptr<keys::AuditSink>(std::move(sink));
}

std::string LocalActor() {
  uid_t uid = ::geteuid();
  passwd entry{};
  passwd* found = nullptr;
  char buffer[1024];
  if (::getpwuid_r(uid, &entry, buffer, sizeof(buffer), &found) == 0 && found != nullptr) {
    return std::string("local:") + found->pw_name;
  }
  return "local:uid=" + std::to_string(uid);
}

void RecordOrWarn(keys::AuditSink* sink, const keys::AuditEvent& event) {
  if (sink == nullptr) return;
  auto recorded = sink->Record(event);
  if (!recorded) {
    std::fprintf(stderr, "strongroom: WARNING: %s (event %s not recorded)\n",
                 recorded.error().message().c_str(), event.operation.c_str());
    std::fflush(stderr);
  }
}

std::string KeyAuditOperation(const KeyCommand& command) {
  using Action = KeyCommand::Action;
  if (command.action == Action::kList || command.action == Action::kDescribe) return "";
  if (!command.name.empty()) return "key." + command.name;
  switch (command.action) {
    case Action::kCreate: return keys::audit_op::kKeyCreate;
    case Action::kEnable: return keys::audit_op::kKeyEnable;
    case Action::kDisable: return keys::audit_op::kKeyDisable;
    case Action::kAlias: return keys::audit_op::kKeyAlias;
    case Action::kGrant: return keys::audit_op::kKeyGrant;
    case Action::kRevoke: return keys::audit_op::kKeyRevoke;
    default: return "key.change";
  }
}

}  // namespace strongroom::server
