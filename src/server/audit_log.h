// SPDX-License-Identifier: Apache-2.0
#pragma once

// The key audit log of `serve` and the admin commands (keys/audit.h,
// keys/audit/file_audit_sink.h): one file, settings.audit_log or
// <data_dir>/audit.log, that every process appends to.

#include <memory>
#include <string>

#include "base/result.h"
#include "keys/audit.h"
#include "server/commands.h"
#include "server/options.h"

namespace strongroom::server {

std::string AuditLogPath(const ServerSettings& settings);

// Opens the audit log for appending (created 0600).
Result<std::unique_ptr<keys::AuditSink>> OpenAuditLog(const ServerSettings& settings);

// Who runs this process, for admin events: "local:<user name>" (or the uid).
std::string LocalActor();

// Records `event`; a failure is reported on stderr, not returned (for
// events about something already done, such as a completed unseal).
void RecordOrWarn(keys::AuditSink* sink, const keys::AuditEvent& event);

// The audit operation of a `strongroom key` subcommand that changes a key
// ("key.create", "key.grant", …), or empty for one that only reads.
std::string KeyAuditOperation(const KeyCommand& command);

}  // namespace strongroom::server
