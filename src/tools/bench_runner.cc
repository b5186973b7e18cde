#include "tools/bench_runner.h"

#include <sys/epoll.h>
#include <unistd.h>

#include "common/slot.h"

namespace flin::bench {
namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(10);

bool IsRedirect(const Reply& r) {
  return r.str.starts_with("MOVED ") || r.str.starts_with("ASK ");
}

}  // namespace

Result<Topology> LoadTopology(const BenchOptions& options) {
  std::vector<NodeAddress> seeds = options.cluster;
  if (seeds.empty()) seeds.push_back({options.host, options.port});
  ConnectOptions co;
  co.connect_timeout = std::chrono::milliseconds(options.connect_timeout_ms);
  Status last = Status::Unavailable("no seed");
  for (const NodeAddress& seed : seeds) {
    auto conn = Connection::Connect(seed.host, seed.port, co);
    if (!conn.ok()) {
      last = conn.status();
      continue;
    }
    Topology t;
    t.slot_node.assign(kSlots, 0);
    if (options.cluster.empty()) {
      t.nodes.push_back(seed);  // a single server: no need to ask it about slots
      return t;
    }
    bool is_cluster = false;
    Result<SlotMap> map = FetchSlotMap(**conn, &is_cluster);
    if (!map.ok()) {
      last = map.status();
      continue;
    }
    t.cluster = is_cluster;
    t.nodes = map->nodes();
    for (int s = 0; s < kSlots; ++s) {
      const NodeAddress* node = map->Master(s);
      for (size_t i = 0; node && i < t.nodes.size(); ++i) {
        if (t.nodes[i] == *node) t.slot_node[s] = static_cast<int16_t>(i);
      }
    }
    return t;
  }
  return last;
}

BenchThread::BenchThread(const BenchOptions& options, const Topology& topology,
                         const ZipfParams* zipf, int index, int thread_count, int clients,
                         Progress* progress)
    : options_(options),
      topology_(topology),
      workload_(options, zipf, index, thread_count),
      clients_count_(clients),
      progress_(progress) {}

BenchThread::~BenchThread() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status BenchThread::Connect() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Status::IOError("epoll_create1 failed");
  ConnectOptions co;
  co.connect_timeout = std::chrono::milliseconds(options_.connect_timeout_ms);
  for (int i = 0; i < clients_count_; ++i) {
    auto client = std::make_unique<Client>();
    for (const NodeAddress& node : topology_.nodes) {
      auto conn = Connection::Connect(node.host, node.port, co);
      if (!conn.ok()) return conn.status();
      auto c = std::make_unique<Conn>();
      c->conn = std::move(conn).value();
      c->client = client.get();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c.get();
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->conn->fd(), &ev) != 0) {
        return Status::IOError("epoll_ctl failed");
      }
      client->conns.push_back(c.get());
      conns_.push_back(std::move(c));
    }
    clients_.push_back(std::move(client));
  }
  return Status::Ok();
}

bool BenchThread::Issue(Client* client, Clock::time_point now, const RunPlan& plan) {
  const bool measured = now >= plan.measure_start;
  if (plan.quota > 0) {
    if (measured && issued_measured_ >= plan.quota) return false;
  } else if (now >= plan.end) {
    return false;
  }
  if (measured) ++issued_measured_;
  Op op = workload_.Next(&argv_);
  int node = 0;
  if (topology_.nodes.size() > 1 && argv_.size() > 1) node = topology_.slot_node[KeySlot(argv_[1])];
  Conn* c = client->conns[node];
  if (c->dead) {
    client->dead = true;  // its share of the keyspace is unreachable: stop this client
    return false;
  }
  c->conn->Append(std::span<const std::string_view>(argv_));
  c->in_flight.push_back({now, op});
  ++client->in_flight;
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c);
  }
  return true;
}

void BenchThread::Fail(Conn* c, const Status& why) {
  if (c->dead) return;
  c->dead = true;
  if (result_.first_error.empty()) result_.first_error = why.ToString();
  for (const Conn::Sent& s : c->in_flight) {
    ++result_.errors[static_cast<int>(s.op)];
    ++result_.lost;
    ++progress_errors_pending_;
  }
  c->client->in_flight -= static_cast<int>(c->in_flight.size());
  c->in_flight.clear();
  c->client->dead = true;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->conn->fd(), nullptr);
}

void BenchThread::OnReplies(Conn* c, Clock::time_point now, const RunPlan& plan) {
  Reply reply;
  for (;;) {
    Result<bool> got = c->conn->TryPopReply(&reply);
    if (!got.ok()) return Fail(c, got.status());
    if (!*got) return;
    const Conn::Sent sent = c->in_flight.front();
    c->in_flight.pop_front();
    --c->client->in_flight;
    const bool counted =
        sent.at >= plan.measure_start && (plan.quota > 0 || now <= plan.end);
    if (!counted) continue;
    const int op = static_cast<int>(sent.op);
    ++progress_pending_;
    result_.last_reply = now;
    if (reply.IsError()) {
      ++result_.errors[op];
      ++progress_errors_pending_;
      if (IsRedirect(reply)) ++result_.redirects;
      if (result_.first_error.empty()) result_.first_error = reply.str;
    } else {
      ++result_.ok[op];
      result_.histograms[op].Record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent.at).count()));
    }
  }
}

void BenchThread::FlushDirty() {
  for (Conn* c : dirty_) {
    c->dirty = false;
    if (c->dead) continue;
    if (Status s = c->conn->WriteSome(); !s.ok()) {
      Fail(c, s);
      continue;
    }
    const bool want = c->conn->wants_write();
    if (want != c->watching_write) {
      epoll_event ev{};
      ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
      ev.data.ptr = c;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->conn->fd(), &ev);
      c->watching_write = want;
    }
  }
  dirty_.clear();
}

void BenchThread::Run(const RunPlan& plan) {
  Clock::time_point now = Clock::now();
  for (auto& client : clients_) {
    for (int i = 0; i < options_.pipeline && Issue(client.get(), now, plan); ++i) {
    }
  }
  FlushDirty();
  std::vector<epoll_event> events(256);
  Clock::time_point drain_deadline = Clock::time_point::max();
  for (;;) {
    int in_flight = 0;
    bool any_alive = false;
    for (auto& client : clients_) {
      in_flight += client->in_flight;
      any_alive |= !client->dead;
    }
    const bool sending = !any_alive ? false
                         : plan.quota > 0 ? issued_measured_ < plan.quota || now < plan.measure_start
                                          : now < plan.end;
    if (!sending && in_flight == 0) break;
    if (!sending && drain_deadline == Clock::time_point::max()) {
      drain_deadline = now + kDrainTimeout;
    }
    if (now >= drain_deadline) {
      // Replies that never came are errors, like any other lost request.
      for (auto& c : conns_) Fail(c.get(), Status::TimedOut("no reply within the drain time"));
      break;
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 50);
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      if (c->dead) continue;
      if (events[i].events & EPOLLOUT) {
        if (!c->dirty) {
          c->dirty = true;
          dirty_.push_back(c);
        }
      }
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (Status s = c->conn->ReadSome(); !s.ok()) {
          OnReplies(c, now, plan);  // replies that arrived before the failure still count
          Fail(c, s);
          continue;
        }
        OnReplies(c, now, plan);
        Client* client = c->client;
        while (!client->dead && client->in_flight < options_.pipeline &&
               Issue(client, now, plan)) {
        }
      }
    }
    FlushDirty();
    if (progress_pending_ > 0) {
      progress_->completed.fetch_add(progress_pending_, std::memory_order_relaxed);
      progress_->errors.fetch_add(progress_errors_pending_, std::memory_order_relaxed);
      progress_pending_ = progress_errors_pending_ = 0;
    }
  }
  progress_->completed.fetch_add(progress_pending_, std::memory_order_relaxed);
  progress_->errors.fetch_add(progress_errors_pending_, std::memory_order_relaxed);
}

}  // namespace flin::bench
