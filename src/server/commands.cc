// SPDX-License-Identifier: Apache-2.0
#include "server/commands.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "base/file.h"
#include "catalog/sqlite/sqlite_catalog.h"
#include "crypto/certificate.h"
#include "http/server.h"
#include "keys/local/local_key_ring.h"
#include "objects/object_store.h"
#include "s3/metrics.h"
#include "s3/service.h"
#include "s3/users.h"
#include "storage/local/local_backend.h"

namespace strongroom::server {
namespace {

// Everything a command needs, built from the settings.
struct Stack {
  std::unique_ptr<keys::LocalKeyRing> keys;
  std::unique_ptr<catalog::Catalog> catalog;
  std::unique_ptr<storage::LocalBackend> backend;
  std::unique_ptr<objects::ObjectStore> store;
  std::unique_ptr<s3::UserDirectory> users;
};

Result<void> MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return tl::unexpected(ErrnoError(errno, "cannot create directory '" + path + "'"));
  }
  return Ok();
}

Result<Stack> OpenStack(const ServerSettings& settings) {
  Stack stack;
  STRONGROOM_RETURN_IF_ERROR(MakeDirectory(settings.data_dir));
  STRONGROOM_ASSIGN_OR_RETURN(stack.keys, keys::LocalKeyRing::OpenOrCreate(settings.key_dir));
  STRONGROOM_ASSIGN_OR_RETURN(stack.catalog,
                              catalog::Catalog::Open(settings.data_dir + "/catalog.db"));
  STRONGROOM_ASSIGN_OR_RETURN(stack.backend, storage::LocalBackend::Create(settings.data_dir));
  stack.store = std::make_unique<objects::ObjectStore>(*stack.catalog, *stack.backend, *stack.keys);
  stack.users = std::make_unique<s3::UserDirectory>(*stack.catalog, *stack.keys);
  return stack;
}

// Appends JSON lines to a file (or stdout), one write per line.
class AccessLog {
 public:
  static Result<std::unique_ptr<AccessLog>> Open(const std::string& path) {
    auto log = std::unique_ptr<AccessLog>(new AccessLog());
    if (path == "-") {
      log->file_ = stdout;
    } else {
      log->file_ = std::fopen(path.c_str(), "a");
      if (log->file_ == nullptr) {
        return tl::unexpected(ErrnoError(errno, "cannot open access log '" + path + "'"));
      }
      log->owned_ = true;
    }
    return log;
  }
  ~AccessLog() {
    if (owned_) std::fclose(file_);
  }
  void Write(const std::string& line) {
    std::lock_guard lock(mutex_);
    std::fputs(line.c_str(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
  }

 private:
  AccessLog() = default;
  std::mutex mutex_;
  FILE* file_ = nullptr;
  bool owned_ = false;
};

}  // namespace

Result<void> RunServe(const ServerSettings& settings) {
  // Signals go to one thread that turns them into a graceful stop.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenStack(settings));
  STRONGROOM_ASSIGN_OR_RETURN(size_t temporaries, stack.backend->CleanTemporaryFiles());
  STRONGROOM_ASSIGN_OR_RETURN(size_t orphans, stack.store->CleanOrphanBlobs());
  if (temporaries + orphans > 0) {
    std::printf("recovered from an unclean stop: removed %zu partial and %zu unreferenced blobs\n",
                temporaries, orphans);
  }

  STRONGROOM_ASSIGN_OR_RETURN(auto users, stack.users->List());
  std::string shown_access, shown_secret;
  if (users.empty()) {
    const char* access = std::getenv("STRONGROOM_ACCESS_KEY");
    const char* secret = std::getenv("STRONGROOM_SECRET_KEY");
    STRONGROOM_ASSIGN_OR_RETURN(
        s3::NewUser admin,
        stack.users->Add(access ? access : "", secret ? secret : "", /*admin=*/true));
    shown_access = admin.access_key;
    if (secret == nullptr) shown_secret = admin.secret_key;  // generated: print it once
  }

  std::string log_path =
      settings.access_log.empty() ? settings.data_dir + "/access.log" : settings.access_log;
  STRONGROOM_ASSIGN_OR_RETURN(auto access_log, AccessLog::Open(log_path));

  s3::Metrics metrics;
  s3::ServiceOptions service_options;
  service_options.region = settings.region;
  service_options.domain = settings.domain;
  service_options.access_log = [&access_log](const std::string& line) { access_log->Write(line); };
  s3::Service service(*stack.store, *stack.users, metrics, service_options);

  STRONGROOM_ASSIGN_OR_RETURN(auto listen, SplitListen(settings.listen));
  http::ServerOptions http_options;
  http_options.listen_address = listen.first;
  http_options.port = listen.second;
  http_options.tls_cert_file = settings.tls_cert;
  http_options.tls_key_file = settings.tls_key;
  http_options.max_connections = settings.max_connections;
  http_options.worker_threads = settings.worker_threads;
  STRONGROOM_ASSIGN_OR_RETURN(
      auto server, http::Server::Create(http_options, [&service](http::Request& request) {
        return service.Handle(request);
      }));

  bool tls = !settings.tls_cert.empty();
  std::string host = listen.first.find(':') != std::string::npos ? "[" + listen.first + "]"
                                                                  : listen.first;
  std::string endpoint = std::string(tls ? "https" : "http") + "://" + host + ":" +
                         std::to_string(server->port());
  std::printf("strongroom 0.1.0 listening on %s\n", endpoint.c_str());
  std::printf("data: %s   keys: %s   access log: %s\n", settings.data_dir.c_str(),
              settings.key_dir.c_str(), log_path.c_str());
  std::printf(
      "WARNING: development key mode: the root key is kept in clear in %s/root.key on this\n"
      "         machine. Anyone who can read it and the data directory can decrypt everything.\n",
      settings.key_dir.c_str());
  if (!shown_access.empty()) {
    std::printf("\nFirst start: created the admin access key (the secret is shown only now).\n");
    std::printf("  export AWS_ACCESS_KEY_ID=%s\n", shown_access.c_str());
    if (!shown_secret.empty()) {
      std::printf("  export AWS_SECRET_ACCESS_KEY='%s'\n", shown_secret.c_str());
    } else {
      std::printf("  export AWS_SECRET_ACCESS_KEY=\"$STRONGROOM_SECRET_KEY\"\n");
    }
    std::printf("  export AWS_DEFAULT_REGION=%s\n", settings.region.c_str());
  }
  std::printf("\nTry it:\n  aws --endpoint-url %s s3 mb s3://demo\n"
              "  aws --endpoint-url %s s3 cp README.md s3://demo/\n"
              "  aws --endpoint-url %s s3 ls s3://demo/\n",
              endpoint.c_str(), endpoint.c_str(), endpoint.c_str());
  std::fflush(stdout);

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::printf("received %s: finishing in-flight requests\n",
                signal == SIGINT ? "SIGINT" : "SIGTERM");
    std::fflush(stdout);
    server->Stop(std::chrono::seconds(30));
  });
  server->Wait();
  // If Wait returned for another reason, release the signal thread.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  std::printf("stopped\n");
  return Ok();
}

Result<void> RunUserAdd(const ServerSettings& settings, const std::string& access_key,
                        const std::string& secret_key, bool admin) {
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenStack(settings));
  STRONGROOM_ASSIGN_OR_RETURN(s3::NewUser user, stack.users->Add(access_key, secret_key, admin));
  std::printf("access key: %s\n", user.access_key.c_str());
  if (secret_key.empty()) {
    std::printf("secret key: %s\n(shown only now)\n", user.secret_key.c_str());
  }
  return Ok();
}

Result<void> RunUserList(const ServerSettings& settings) {
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenStack(settings));
  STRONGROOM_ASSIGN_OR_RETURN(auto users, stack.users->List());
  for (const auto& user : users) {
    std::printf("%s%s\n", user.access_key.c_str(), user.admin ? "  (admin)" : "");
  }
  return Ok();
}

Result<void> RunUserRemove(const ServerSettings& settings, const std::string& access_key) {
  STRONGROOM_ASSIGN_OR_RETURN(Stack stack, OpenStack(settings));
  auto removed = stack.users->Remove(access_key);
  if (!removed && removed.error().code() == ErrorCode::kNotFound) {
    return NotFound("no user with access key '" + access_key + "'");
  }
  return removed;
}

Result<void> RunDevCert(const std::string& cert_file, const std::string& key_file,
                        const std::vector<std::string>& hosts, bool force) {
  STRONGROOM_RETURN_IF_ERROR(
      crypto::WriteSelfSignedCertificate(cert_file, key_file, hosts, 365, force));
  std::printf("wrote %s and %s (self-signed, 365 days, for", cert_file.c_str(), key_file.c_str());
  for (const auto& host : hosts) std::printf(" %s", host.c_str());
  std::printf(")\nserve with: strongroom serve --tls-cert %s --tls-key %s\n"
              "clients must trust %s (e.g. aws --ca-bundle %s)\n",
              cert_file.c_str(), key_file.c_str(), cert_file.c_str(), cert_file.c_str());
  return Ok();
}

}  // namespace strongroom::server
