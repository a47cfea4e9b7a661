// SPDX-License-Identifier: Apache-2.0
#pragma once

// The S3 API: turns HTTP requests into ObjectStore calls and results into
// S3 responses (docs/S3_COMPATIBILITY.md). Authenticates every request with
// SigV4; anything not implemented answers 501 NotImplemented.

#include <functional>
#include <memory>
#include <string>

#include "http/server.h"
#include "keys/key_directory.h"
#include "objects/object_store.h"
#include "s3/metrics.h"
#include "s3/users.h"

namespace strongroom::s3 {

struct ServiceOptions {
  std::string region = "us-east-1";
  // Base domain for virtual-hosted-style requests (bucket.domain); empty
  // serves path-style only.
  std::string domain;
  // Receives one JSON line per request (no secrets, no signatures).
  std::function<void(const std::string&)> access_log;
  // True while the key ring is sealed: every request but /health and
  // /metrics answers 503 ServiceUnavailable saying how to unseal.
  std::function<bool()> sealed;
  // Resolves SSE-KMS key references and checks grants. Required.
  keys::KeyDirectory* key_directory = nullptr;
  // SSE-C and SSE-KMS need TLS (as on AWS); this allows them over plain
  // HTTP from a loopback peer (--allow-insecure-sse-on-loopback).
  bool allow_insecure_sse_on_loopback = false;
  // GET /_strongroom/status for admin users: the JSON key-management status
  // (server/status.h). Unset: the path is not special.
  std::function<Result<std::string>()> admin_status;
};

class Service {
 public:
  Service(objects::ObjectStore& store, UserDirectory& users, Metrics& metrics,
          ServiceOptions options);
  ~Service();

  // The http::Handler. Thread-safe.
  http::Response Handle(http::Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strongroom::s3
