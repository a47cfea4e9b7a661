// SPDX-License-Identifier: Apache-2.0
#pragma once

// State the server shares with its connections. Internal to http/.

#include <atomic>
#include <cstdint>
#include <memory>

#include "http/internal/worker_pool.h"
#include "http/server.h"

namespace strongroom::http::internal {

class Connection;

// Tracks live connections. Add is called when a connection is created,
// Remove when it is destroyed (from whichever thread drops it last); the
// I/O objects of the connection are gone by the time Remove runs, but the
// io_context must still be alive.
class ConnectionRegistry {
 public:
  virtual ~ConnectionRegistry() = default;
  virtual uint64_t Add(std::weak_ptr<Connection> connection) = 0;
  virtual void Remove(uint64_t id) = 0;
};

// Outlives every connection. Only `stopping` changes after the server starts.
struct ServerContext {
  ServerOptions options;
  Handler handler;
  WorkerPool* workers = nullptr;
  ConnectionRegistry* registry = nullptr;
  // Set once by Server::Stop: no new requests are started, and every
  // response carries "Connection: close".
  std::atomic<bool> stopping{false};
};

}  // namespace strongroom::http::internal
