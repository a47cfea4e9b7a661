// SPDX-License-Identifier: Apache-2.0
#include "server/status.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <utility>

#include "base/clock.h"

namespace strongroom::server {
namespace {

// "strongroom:<key id>/<version>" → key id, version.
bool ParseKekRef(std::string_view kek_ref, std::string& key_id, uint32_t& version) {
  std::string prefix = std::string(keys::kRootProvider) + ":";
  if (!kek_ref.starts_with(prefix)) return false;
  std::string_view ref = kek_ref.substr(prefix.size());
  size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  std::string_view digits = ref.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty()) return false;
  key_id = std::string(ref.substr(0, slash));
  return true;
}

// A minimal JSON writer: objects, arrays, strings (escaped), numbers.
class Json {
 public:
  Json& Open(char c) {
    Comma();
    out_ += c;
    first_ = true;
    return *this;
  }
  Json& Close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  Json& Key(std::string_view name) {
    Comma();
    String(name);
    out_ += ':';
    first_ = true;  // the value needs no comma
    return *this;
  }
  Json& Str(std::string_view value) {
    Comma();
    String(value);
    return *this;
  }
  Json& Num(uint64_t value) {
    Comma();
    out_ += std::to_string(value);
    return *this;
  }
  Json& Int(int64_t value) {
    Comma();
    out_ += std::to_string(value);
    return *this;
  }
  Json& Real(double value) {
    Comma();
    char text[32];
    std::snprintf(text, sizeof(text), "%.4f", value);
    out_ += text;
    return *this;
  }
  Json& Bool(bool value) {
    Comma();
    out_ += value ? "true" : "false";
    return *this;
  }
  Json& Null() {
    Comma();
    out_ += "null";
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  void Comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void String(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char escape[8];
            std::snprintf(escape, sizeof(escape), "\\u%04x", static_cast<unsigned>(c));
            out_ += escape;
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  bool first_ = true;
};

// part / whole, or null when there is nothing to share out.
void ShareOrNull(Json& json, uint64_t part, uint64_t whole) {
  if (whole == 0) {
    json.Null();
  } else {
    json.Real(static_cast<double>(part) / static_cast<double>(whole));
  }
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (whole == 0) return "-";
  char text[16];
  std::snprintf(text, sizeof(text), "%.0f%%", 100.0 * static_cast<double>(part) /
                                                  static_cast<double>(whole));
  return text;
}

std::string Table(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string KeyName(const KeyStatus& key) {
  return key.aliases.empty() ? "-" : key.aliases.front();
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, kUnits[unit]);
  return text;
}

Result<Status> CollectStatus(catalog::Catalog& catalog, keys::KeyDirectory& directory,
                             const StatusSource& source) {
  Status status;
  status.time_ms = NowMs();
  status.server_running = source.server_running;
  if (source.hierarchy != nullptr) {
    status.seal = source.hierarchy->sealed() ? "sealed" : "unsealed";
  } else {
    status.seal = "unknown";
  }
  ProviderStatus root;
  root.id = std::string(keys::kRootProvider);
  root.detail = "root key held in memory; KEKs derived per key version";
  root.health = source.hierarchy == nullptr ? "unknown"
                : source.hierarchy->sealed() ? "sealed"
                                             : "ok";
  status.providers.push_back(root);
  if (source.providers) {
    for (ProviderStatus& provider : source.providers()) status.providers.push_back(provider);
  }

  // A key whose window ended is shown destroyed, not pending.
  (void)directory.DestroyDueKeys();

  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::KmsKey> rows, catalog.ListKmsKeys());
  std::map<std::string, size_t> index;
  for (const catalog::KmsKey& row : rows) {
    STRONGROOM_ASSIGN_OR_RETURN(keys::KeyInfo info, directory.Get(row.key_id));
    KeyStatus key;
    key.key_id = info.key_id;
    key.aliases = info.aliases;
    key.kind = row.kind;
    key.state = keys::KeyStateName(info.state);
    key.current_version = info.current_version;
    key.destroy_ms = info.destroy_ms;
    index[key.key_id] = status.keys.size();
    status.keys.push_back(std::move(key));
  }
  // SSE-S3 first.
  std::stable_sort(status.keys.begin(), status.keys.end(), [](const auto& a, const auto& b) {
    return (a.key_id == keys::kSseS3KeyId) > (b.key_id == keys::kSseS3KeyId);
  });
  index.clear();
  for (size_t i = 0; i < status.keys.size(); ++i) index[status.keys[i].key_id] = i;

  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::KekRefUsage> usage,
                              catalog.ObjectUsageByKekRef());
  for (const catalog::KekRefUsage& u : usage) {
    if (u.kek_ref.empty()) {
      status.sse_c_objects += u.objects;
      status.sse_c_bytes += u.bytes;
      continue;
    }
    std::string key_id;
    uint32_t version = 0;
    auto it = ParseKekRef(u.kek_ref, key_id, version) ? index.find(key_id) : index.end();
    if (it == index.end()) {
      status.other_objects += u.objects;
      continue;
    }
    KeyStatus& key = status.keys[it->second];
    key.objects += u.objects;
    key.bytes += u.bytes;
    if (version == key.current_version) key.objects_current += u.objects;
    key.versions.push_back(VersionUsage{version, u.objects, u.bytes});
    status.objects += u.objects;
    status.bytes += u.bytes;
    if (version == key.current_version) status.objects_current += u.objects;
  }
  for (KeyStatus& key : status.keys) {
    std::sort(key.versions.begin(), key.versions.end(),
              [](const auto& a, const auto& b) { return a.version < b.version; });
  }

  STRONGROOM_ASSIGN_OR_RETURN(std::vector<catalog::Job> jobs, catalog.ListJobs());
  std::vector<catalog::Job> finished;
  for (catalog::Job& job : jobs) {
    if (JobFinished(job)) {
      finished.push_back(std::move(job));
    } else {
      status.jobs.push_back(std::move(job));
    }
  }
  size_t keep = std::min(finished.size(), source.finished_jobs);
  std::vector<catalog::Job> latest(finished.end() - static_cast<std::ptrdiff_t>(keep),
                                   finished.end());
  latest.insert(latest.end(), status.jobs.begin(), status.jobs.end());
  status.jobs = std::move(latest);
  return status;
}

std::string JobProgressText(const catalog::Job& job) {
  uint64_t handled = job.objects_done + job.objects_skipped + job.objects_failed;
  std::string out = std::to_string(handled) + "/" + std::to_string(job.objects_total) +
                    " objects (" + Percent(std::min(handled, job.objects_total),
                                           job.objects_total) + ")";
  out += ", " + FormatBytes(job.bytes_done) + " of " + FormatBytes(job.bytes_total);
  out += ", skipped " + std::to_string(job.objects_skipped) + ", failed " +
         std::to_string(job.objects_failed);
  return out;
}

std::string RenderStatusJson(const Status& status) {
  Json json;
  json.Open('{');
  json.Key("time").Str(Iso8601(status.time_ms));
  json.Key("server").Open('{');
  json.Key("running").Bool(status.server_running);
  json.Key("seal").Str(status.seal);
  json.Close('}');
  json.Key("providers").Open('[');
  for (const ProviderStatus& provider : status.providers) {
    json.Open('{');
    json.Key("id").Str(provider.id);
    json.Key("health").Str(provider.health);
    json.Key("detail").Str(provider.detail);
    json.Close('}');
  }
  json.Close(']');
  json.Key("objects").Open('{');
  json.Key("count").Num(status.objects);
  json.Key("bytes").Num(status.bytes);
  json.Key("current_version").Num(status.objects_current);
  json.Key("current_share");
  ShareOrNull(json, status.objects_current, status.objects);
  json.Key("sse_c_count").Num(status.sse_c_objects);
  json.Key("sse_c_bytes").Num(status.sse_c_bytes);
  json.Key("other_count").Num(status.other_objects);
  json.Close('}');
  json.Key("keys").Open('[');
  for (const KeyStatus& key : status.keys) {
    json.Open('{');
    json.Key("key_id").Str(key.key_id);
    json.Key("aliases").Open('[');
    for (const std::string& alias : key.aliases) json.Str(alias);
    json.Close(']');
    json.Key("kind").Str(key.kind);
    json.Key("state").Str(key.state);
    json.Key("current_version").Num(key.current_version);
    json.Key("destroy_time");
    if (key.destroy_ms > 0) {
      json.Str(Iso8601(key.destroy_ms));
    } else {
      json.Null();
    }
    json.Key("objects").Num(key.objects);
    json.Key("bytes").Num(key.bytes);
    json.Key("objects_current_version").Num(key.objects_current);
    json.Key("current_share");
    ShareOrNull(json, key.objects_current, key.objects);
    bool destroyed = key.state == keys::KeyStateName(keys::KeyState::kDestroyed);
    json.Key("shredded_objects").Num(destroyed ? key.objects : 0);
    json.Key("shredded_bytes").Num(destroyed ? key.bytes : 0);
    json.Key("versions").Open('[');
    for (const VersionUsage& version : key.versions) {
      json.Open('{');
      json.Key("version").Num(version.version);
      json.Key("objects").Num(version.objects);
      json.Key("bytes").Num(version.bytes);
      json.Close('}');
    }
    json.Close(']');
    json.Close('}');
  }
  json.Close(']');
  json.Key("jobs").Open('[');
  for (const catalog::Job& job : status.jobs) {
    json.Open('{');
    json.Key("id").Str(job.job_id);
    json.Key("kind").Str(job.kind);
    json.Key("state").Str(job.state);
    auto params = DecodeJobParams(job.kind, job.params);
    json.Key("key_id").Str(params ? params->key_id : "");
    json.Key("bucket").Str(params ? params->bucket : "");
    json.Key("rate_bytes_per_second").Num(params ? params->rate : 0);
    json.Key("objects_done").Num(job.objects_done);
    json.Key("objects_skipped").Num(job.objects_skipped);
    json.Key("objects_failed").Num(job.objects_failed);
    json.Key("objects_total").Num(job.objects_total);
    json.Key("bytes_done").Num(job.bytes_done);
    json.Key("bytes_total").Num(job.bytes_total);
    uint64_t handled = job.objects_done + job.objects_skipped + job.objects_failed;
    json.Key("progress");
    if (JobFinished(job) && job.state == kJobDone) {
      json.Real(1.0);
    } else if (job.objects_total == 0) {
      json.Null();
    } else {
      json.Real(std::min(1.0, static_cast<double>(handled) /
                                  static_cast<double>(job.objects_total)));
    }
    json.Key("created").Str(Iso8601(job.created_ms));
    json.Key("updated").Str(Iso8601(job.updated_ms));
    json.Key("finished");
    if (job.finished_ms > 0) {
      json.Str(Iso8601(job.finished_ms));
    } else {
      json.Null();
    }
    json.Key("message").Str(job.message);
    json.Close('}');
  }
  json.Close(']');
  json.Close('}');
  return json.Take();
}

std::string RenderStatusText(const Status& status) {
  std::string out;
  out += "server:     ";
  out += status.server_running ? "running, " + status.seal : std::string("not running");
  out += "\n";
  out += "objects:    " + std::to_string(status.objects) + " (" + FormatBytes(status.bytes) +
         ") under server-held keys, " + Percent(status.objects_current, status.objects) +
         " under their key's current version\n";
  if (status.sse_c_objects > 0) {
    out += "            " + std::to_string(status.sse_c_objects) + " SSE-C (" +
           FormatBytes(status.sse_c_bytes) + "): customer keys, not held here\n";
  }
  if (status.other_objects > 0) {
    out += "            " + std::to_string(status.other_objects) +
           " under keys of other providers\n";
  }
  out += "providers:\n";
  std::vector<std::vector<std::string>> providers;
  for (const ProviderStatus& provider : status.providers) {
    providers.push_back({provider.id, provider.health, provider.detail});
  }
  out += Table(providers, "  ");
  out += "keys:\n";
  std::vector<std::vector<std::string>> rows = {
      {"KEY ID", "ALIAS", "STATE", "VERSION", "OBJECTS", "BYTES", "CURRENT"}};
  std::string notes;
  for (const KeyStatus& key : status.keys) {
    rows.push_back({key.key_id, KeyName(key), key.state, std::to_string(key.current_version),
                    std::to_string(key.objects), FormatBytes(key.bytes),
                    Percent(key.objects_current, key.objects)});
    if (key.state == keys::KeyStateName(keys::KeyState::kDestroyed)) {
      notes += "  " + key.key_id + ": destroyed at " + Iso8601(key.destroy_ms) + ", " +
               std::to_string(key.objects) + " objects (" + FormatBytes(key.bytes) +
               ") crypto-shredded\n";
    } else if (key.state == keys::KeyStateName(keys::KeyState::kPendingDestroy)) {
      notes += "  " + key.key_id + ": pending deletion, destroyed at " +
               Iso8601(key.destroy_ms) + "; " + std::to_string(key.objects) + " objects (" +
               FormatBytes(key.bytes) + ") unreadable meanwhile, shredded then\n";
    }
    if (key.objects > key.objects_current && !key.versions.empty()) {
      std::string versions;
      for (const VersionUsage& version : key.versions) {
        if (!versions.empty()) versions += ", ";
        versions += "v" + std::to_string(version.version) + ": " +
                    std::to_string(version.objects);
      }
      notes += "  " + key.key_id + ": objects per version: " + versions + "\n";
    }
  }
  out += Table(rows, "  ");
  out += notes;
  out += "jobs:\n";
  if (status.jobs.empty()) out += "  none\n";
  for (const catalog::Job& job : status.jobs) {
    auto params = DecodeJobParams(job.kind, job.params);
    std::string what = job.kind;
    if (params && !params->key_id.empty()) what += " key " + params->key_id;
    if (params && !params->bucket.empty()) what += " bucket " + params->bucket;
    if (params && params->rate != 0) what += " at " + FormatBytes(params->rate) + "/s";
    out += "  " + job.job_id + "  " + what + "  " + job.state + "  " + JobProgressText(job) +
           "\n";
    if (!job.message.empty()) out += "    " + job.message + "\n";
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string JobLine(const catalog::Job& job) {
  std::string message = job.message;
  std::replace(message.begin(), message.end(), '\n', ' ');
  return "id=" + job.job_id + " kind=" + job.kind + " state=" + job.state +
         " done=" + std::to_string(job.objects_done) +
         " skipped=" + std::to_string(job.objects_skipped) +
         " failed=" + std::to_string(job.objects_failed) +
         " total=" + std::to_string(job.objects_total) +
         " bytes=" + std::to_string(job.bytes_done) +
         " total_bytes=" + std::to_string(job.bytes_total) + " message=" + message;
}

Result<catalog::Job> ParseJobLine(std::string_view line) {
  catalog::Job job;
  auto number = [](std::string_view text, uint64_t& out) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
  };
  while (!line.empty()) {
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return InvalidArgument("malformed job line");
    std::string_view name = line.substr(0, eq);
    if (name == "message") {
      job.message = std::string(line.substr(eq + 1));
      break;
    }
    size_t space = line.find(' ', eq);
    std::string_view value = line.substr(eq + 1, space == std::string_view::npos
                                                     ? std::string_view::npos
                                                     : space - eq - 1);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    bool ok = true;
    if (name == "id") job.job_id = std::string(value);
    else if (name == "kind") job.kind = std::string(value);
    else if (name == "state") job.state = std::string(value);
    else if (name == "done") ok = number(value, job.objects_done);
    else if (name == "skipped") ok = number(value, job.objects_skipped);
    else if (name == "failed") ok = number(value, job.objects_failed);
    else if (name == "total") ok = number(value, job.objects_total);
    else if (name == "bytes") ok = number(value, job.bytes_done);
    else if (name == "total_bytes") ok = number(value, job.bytes_total);
    if (!ok) return InvalidArgument("malformed job line field '" + std::string(name) + "'");
  }
  if (job.job_id.empty() || job.state.empty()) return InvalidArgument("malformed job line");
  return job;
}

std::optional<std::string> HandleAdminCommand(std::string_view line, const AdminServices& admin) {
  auto err = [](const Error& error) {
    std::string message = error.message();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return "ERR " + message;
  };
  if (line == "STATUS JSON" || line == "STATUS TEXT") {
    StatusSource source;
    source.server_running = true;
    source.hierarchy = admin.hierarchy;
    source.providers = admin.providers;
    auto status = CollectStatus(*admin.catalog, *admin.directory, source);
    if (!status) return err(status.error());
    return line == "STATUS JSON" ? RenderStatusJson(*status) : RenderStatusText(*status);
  }
  if (!line.starts_with("JOB ")) return std::nullopt;
  std::vector<std::string_view> words;
  for (std::string_view rest = line.substr(4); !rest.empty();) {
    size_t space = rest.find(' ');
    std::string_view word = rest.substr(0, space);
    if (!word.empty()) words.push_back(word);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  if (admin.jobs == nullptr) return "ERR this server runs no jobs";
  if (words.size() >= 2 && words[0] == "START") {
    JobRequest request;
    request.kind = std::string(words[1]);
    for (size_t i = 2; i < words.size(); ++i) {
      size_t eq = words[i].find('=');
      if (eq == std::string_view::npos) {
        return "ERR malformed job option '" + std::string(words[i]) + "'";
      }
      std::string_view name = words[i].substr(0, eq), value = words[i].substr(eq + 1);
      if (name == "key") {
        auto key = ResolveKeyArgument(*admin.directory, value);
        if (!key) return err(key.error());
        request.key_id = key->key_id;
      } else if (name == "bucket") {
        request.bucket = std::string(value);
      } else if (name == "rate") {
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), request.rate);
        if (ec != std::errc() || ptr != value.data() + value.size()) {
          return "ERR bad rate '" + std::string(value) + "'";
        }
      } else {
        return "ERR unknown job option '" + std::string(name) + "'";
      }
    }
    auto job = admin.jobs->Submit(request);
    if (!job) return err(job.error());
    return "OK " + job->job_id;
  }
  if (words.size() == 2 && words[0] == "GET") {
    auto job = admin.catalog->GetJob(words[1]);
    if (!job) return err(job.error());
    return "OK " + JobLine(*job);
  }
  if (words.size() == 2 && words[0] == "CANCEL") {
    auto job = admin.jobs->Cancel(words[1]);
    if (!job) return err(job.error());
    return job->state == kJobCancelled ? "OK cancelled" : "OK cancelling";
  }
  return "ERR unknown job request (expected JOB START, JOB GET or JOB CANCEL)";
}

}  // namespace strongroom::server
