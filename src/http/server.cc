// SPDX-License-Identifier: Apache-2.0
#include "http/server.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "http/internal/connection.h"
#include "http/internal/wire.h"
#include "http/internal/worker_pool.h"

namespace strongroom::http {

// ---- Headers ---------------------------------------------------------------

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> Headers::Get(std::string_view name) const {
  for (const auto& [field, value] : fields_) {
    if (internal::EqualsIgnoreCase(field, name)) {
      return value;
    }
  }
  return std::nullopt;
}

void Headers::Set(std::string name, std::string value) {
  std::erase_if(fields_,
                [&](const auto& field) { return internal::EqualsIgnoreCase(field.first, name); });
  fields_.emplace_back(std::move(name), std::move(value));
}

// ---- Server ----------------------------------------------------------------

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using internal::Connection;

constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

size_t DefaultWorkerThreads() {
  const size_t cores = std::max<size_t>(std::thread::hardware_concurrency(), 1);
  return std::max<size_t>(4, 2 * cores);
}

size_t DefaultIoThreads() {
  const size_t cores = std::max<size_t>(std::thread::hardware_concurrency(), 1);
  return std::clamp<size_t>(cores / 2, 2, 4);
}

Result<void> ValidateOptions(const ServerOptions& options, const Handler& handler) {
  if (!handler) {
    return InvalidArgument("http server needs a handler");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return InvalidArgument("TLS needs both a certificate file and a key file");
  }
  if (options.max_connections == 0) {
    return InvalidArgument("max_connections must be at least 1");
  }
  if (options.max_header_bytes < 1024) {
    return InvalidArgument("max_header_bytes must be at least 1024");
  }
  if (options.header_timeout.count() <= 0 || options.body_idle_timeout.count() <= 0 ||
      options.keep_alive_timeout.count() <= 0) {
    return InvalidArgument("http timeouts must be positive");
  }
  return Ok();
}

Result<std::unique_ptr<net::ssl::context>> MakeTlsContext(const ServerOptions& options) {
  try {
    auto context = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    error_code ec;
    // TLS 1.2 and later only.
    context->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                             net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                             net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use,
                         ec);
    if (ec) {
      return Internal("configuring TLS: " + ec.message());
    }
    context->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
      return InvalidArgument("loading TLS certificate '" + options.tls_cert_file +
                             "': " + ec.message());
    }
    // Fails if the key does not match the certificate.
    context->use_private_key_file(options.tls_key_file, net::ssl::context::pem, ec);
    if (ec) {
      return InvalidArgument("loading TLS key '" + options.tls_key_file + "': " + ec.message());
    }
    return context;
  } catch (const std::exception& e) {
    return Internal(std::string("creating TLS context: ") + e.what());
  }
}

class ServerImpl final : public Server, public internal::ConnectionRegistry {
 public:
  ServerImpl(ServerOptions options, Handler handler)
      : io_(static_cast<int>(options.io_threads)),
        acceptor_(net::make_strand(io_)),
        retry_timer_(acceptor_.get_executor()) {
    context_.options = std::move(options);
    context_.handler = std::move(handler);
    context_.registry = this;
  }

  ~ServerImpl() override {
    if (running_) {
      Stop(std::chrono::seconds(0));
      Wait();
      std::thread stopper;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopper = std::move(stopper_);
      }
      if (stopper.joinable()) {
        stopper.join();
      }
    }
  }

  // Binds and listens; starts no thread.
  Result<void> Bind(std::unique_ptr<net::ssl::context> tls) {
    tls_ = std::move(tls);
    const ServerOptions& options = context_.options;
    error_code ec;
    tcp::endpoint endpoint;
    net::ip::address address = net::ip::make_address(options.listen_address, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, options.port);
    } else {
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(options.listen_address, std::to_string(options.port),
                                      tcp::resolver::passive, ec);
      if (ec || results.empty()) {
        return InvalidArgument("cannot resolve listen address '" + options.listen_address +
                               "': " + ec.message());
      }
      endpoint = results.begin()->endpoint();
    }
    const std::string where = options.listen_address + ":" + std::to_string(options.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return Unavailable("cannot listen on " + where + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) {
      return Internal("cannot read the bound port: " + ec.message());
    }
    return Ok();
  }

  // Starts the I/O threads, the workers and accepting.
  void Run() {
    workers_ = std::make_unique<internal::WorkerPool>(context_.options.worker_threads);
    context_.workers = workers_.get();
    work_.emplace(io_.get_executor());
    for (size_t i = 0; i < context_.options.io_threads; ++i) {
      io_threads_.emplace_back([this] { RunIo(); });
    }
    running_ = true;
    net::post(acceptor_.get_executor(), [this] { DoAccept(); });
  }

  uint16_t port() const override { return port_; }

  void Wait() override {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return finished_; });
  }

  void Stop(std::chrono::seconds grace) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_requested_) {
        return;
      }
      stop_requested_ = true;
    }
    context_.stopping.store(true);
    // Close the listening socket before returning, so new connections are
    // refused from now on.
    std::promise<void> closed;
    net::post(acceptor_.get_executor(), [this, &closed] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
      closed.set_value();
    });
    closed.get_future().wait();
    for (const auto& connection : Snapshot()) {
      connection->Shutdown(/*force=*/false);  // closes the idle ones now
    }
    // Under the lock: Finish publishes finished_ under it, so whoever sees
    // finished_ also sees stopper_ assigned.
    std::lock_guard<std::mutex> lock(mu_);
    stopper_ = std::thread([this, grace] { Finish(grace); });
  }

  uint64_t Add(std::weak_ptr<Connection> connection) override {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t id = next_id_++;
    connections_.emplace(id, std::move(connection));
    return id;
  }

  void Remove(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(id);
    if (accept_paused_ && !context_.stopping.load() &&
        connections_.size() < context_.options.max_connections) {
      accept_paused_ = false;
      net::post(acceptor_.get_executor(), [this] { DoAccept(); });
    }
    if (connections_.empty()) {
      cv_.notify_all();
    }
  }

 private:
  void RunIo() {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (...) {
        // A completion handler threw; the connection it served is dropped.
        // Keep serving the others.
      }
    }
  }

  std::vector<std::shared_ptr<Connection>> Snapshot() {
    std::vector<std::shared_ptr<Connection>> live;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) {
        live.push_back(std::move(connection));
      }
    }
    return live;
  }

  // Acceptor strand.
  void DoAccept() {
    if (context_.stopping.load()) {
      return;
    }
    acceptor_.async_accept(net::make_strand(io_), [this](const error_code& ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(const error_code& ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || context_.stopping.load()) {
      return;
    }
    if (ec) {
      // E.g. out of file descriptors: retry shortly rather than spin.
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([this](const error_code& wait_ec) {
        if (!wait_ec) {
          DoAccept();
        }
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    try {
      internal::MakeConnection(context_, std::move(socket), tls_.get())->Start();
    } catch (...) {
      // Dropping the socket closes it.
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (connections_.size() >= context_.options.max_connections) {
        accept_paused_ = true;  // Remove resumes accepting
        return;
      }
    }
    DoAccept();
  }

  // Runs on stopper_: waits for in-flight requests up to `grace`, forces
  // the rest closed, then stops the threads.
  void Finish(std::chrono::seconds grace) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, grace, [this] { return connections_.empty(); })) {
      lock.unlock();
      for (const auto& connection : Snapshot()) {
        connection->Shutdown(/*force=*/true);
      }
      lock.lock();
    }
    // Handlers still running finish on their own; their I/O now fails fast.
    cv_.wait(lock, [this] { return connections_.empty(); });
    lock.unlock();
    workers_->Shutdown();
    work_.reset();
    io_.stop();
    for (std::thread& thread : io_threads_) {
      thread.join();
    }
    lock.lock();
    finished_ = true;
    cv_.notify_all();
  }

  internal::ServerContext context_;
  net::io_context io_;
  std::unique_ptr<net::ssl::context> tls_;
  tcp::acceptor acceptor_;  // on a strand, with retry_timer_
  net::steady_timer retry_timer_;
  uint16_t port_ = 0;
  std::unique_ptr<internal::WorkerPool> workers_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> io_threads_;
  bool running_ = false;

  std::mutex mu_;
  std::condition_variable cv_;  // connections_ became empty, or finished_
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;
  uint64_t next_id_ = 1;
  bool accept_paused_ = false;
  bool stop_requested_ = false;
  bool finished_ = false;
  std::thread stopper_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options, Handler handler) {
  STRONGROOM_RETURN_IF_ERROR(ValidateOptions(options, handler));
  if (options.worker_threads == 0) {
    options.worker_threads = DefaultWorkerThreads();
  }
  if (options.io_threads == 0) {
    options.io_threads = DefaultIoThreads();
  }
  std::unique_ptr<net::ssl::context> tls;
  if (!options.tls_cert_file.empty()) {
    STRONGROOM_ASSIGN_OR_RETURN(tls, MakeTlsContext(options));
  }
  try {
    auto server = std::make_unique<ServerImpl>(std::move(options), std::move(handler));
    STRONGROOM_RETURN_IF_ERROR(server->Bind(std::move(tls)));
    server->Run();
    return std::unique_ptr<Server>(std::move(server));
  } catch (const std::exception& e) {
    return Internal(std::string("starting the http server: ") + e.what());
  }
}

}  // namespace strongroom::http
