#include "flin/pool.h"

namespace flin {

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (conn_) pool_->Release(std::move(conn_));
    pool_ = other.pool_;
    conn_ = std::move(other.conn_);
  }
  return *this;
}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

ConnectionPool::ConnectionPool(PoolOptions options) : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() = default;

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      lock.unlock();
      // A server may have closed the connection while it sat idle (restart, idle timeout):
      // find out now, while resending elsewhere is still safe.
      if (conn->CheckIdle().ok()) return Lease(this, std::move(conn));
      conn.reset();
      lock.lock();
      --open_;
      continue;
    }
    if (open_ < options_.max_connections) break;
    if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.max_connections) {
      return Status::TimedOut("all " + std::to_string(options_.max_connections) +
                              " pooled connections busy");
    }
  }
  ++open_;  // reserve the slot, then connect without holding the lock
  lock.unlock();
  auto conn = Connection::Connect(options_.host, options_.port, options_.connect);
  if (!conn.ok()) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return conn.status();
  }
  return Lease(this, std::move(conn).value());
}

void ConnectionPool::Release(std::unique_ptr<Connection> conn) {
  // A connection with unread replies would hand the next borrower someone else's reply.
  const bool reusable = !conn->broken() && conn->pending() == 0 && !conn->wants_write();
  std::lock_guard lock(mu_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  returned_.notify_one();
}

Result<Reply> ConnectionPool::Command(const Argv& argv) {
  Result<Lease> lease = Acquire();
  if (!lease.ok()) return lease.status();
  return (*lease)->Command(argv);
}

Result<std::vector<Reply>> ConnectionPool::Pipeline(const std::vector<Argv>& commands) {
  Result<Lease> lease = Acquire();
  if (!lease.ok()) return lease.status();
  return (*lease)->Pipeline(commands);
}

size_t ConnectionPool::open_count() const {
  std::lock_guard lock(mu_);
  return open_;
}

size_t ConnectionPool::idle_count() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

}  // namespace flin
