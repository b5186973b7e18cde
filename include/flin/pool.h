#pragma once
// flin::ConnectionPool: a bounded set of connections to one server, shared by threads.
//
// Threads borrow a Connection with Acquire() and give it back by destroying the Lease. A
// connection is opened lazily when no idle one exists and fewer than max_connections are
// open; otherwise Acquire() waits (bounded by acquire_timeout) for one to be returned. A
// connection returned broken, or with replies still pending, is closed rather than reused,
// so a borrower always receives a connection whose reply stream is in step with its requests.
// An idle connection is checked (Connection::CheckIdle) before it is lent: one the server
// closed while it sat idle is replaced by a new one, before any command is written to it.
//
// Thread-safety: all ConnectionPool methods are thread-safe. A Lease and the Connection it
// lends are used by one thread at a time.
// Ownership: the pool owns idle connections; a Lease owns its connection until destroyed.
// Every Lease must be destroyed before the pool.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flin/connection.h"

namespace flin {

struct PoolOptions {
  std::string host = "127.0.0.1";
  int port = 6380;
  ConnectOptions connect;
  // Most connections open at once (idle + lent). Default 8.
  size_t max_connections = 8;
  // Longest Acquire() waits for a connection to be returned when all are lent. Default 1 s.
  std::chrono::milliseconds acquire_timeout{1000};
};

class ConnectionPool {
 public:
  // A borrowed connection; returns it to the pool when destroyed. Move-only.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    Connection* get() const { return conn_.get(); }
    Connection* operator->() const { return conn_.get(); }
    Connection& operator*() const { return *conn_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  explicit ConnectionPool(PoolOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Borrows a connection: an idle one, a newly opened one, or (when max_connections are
  // lent) the next one returned within acquire_timeout. Errors: TimedOut when none became
  // free in time; IOError/TimedOut from connecting.
  Result<Lease> Acquire();

  // Conveniences: acquire, run, release.
  Result<Reply> Command(const Argv& argv);
  Result<std::vector<Reply>> Pipeline(const std::vector<Argv>& commands);

  const PoolOptions& options() const { return options_; }
  // Connections open now (idle + lent), and idle now. Snapshots, for tests and stats.
  size_t open_count() const;
  size_t idle_count() const;

 private:
  void Release(std::unique_ptr<Connection> conn);

  const PoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  size_t open_ = 0;                                // guarded by mu_
};

}  // namespace flin
