#include "tools/bench_runner.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "common/slot.h"

namespace flin::bench {
namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(10);
constexpr auto kMaintenanceInterval = std::chrono::milliseconds(10);
// Connects made during the run block the thread's loop: keep them short.
constexpr auto kReconnectTimeout = std::chrono::milliseconds(200);
constexpr auto kControlIoTimeout = std::chrono::milliseconds(1000);

std::string ErrorKind(const std::string& error) {
  return error.substr(0, std::min<size_t>(error.find(' '), 32));
}

}  // namespace

RouteTable::RouteTable(const Topology& topology)
    : nodes_(topology.nodes), slot_node_(topology.slot_node) {
  if (slot_node_.size() != static_cast<size_t>(kSlots)) {
    slot_node_.assign(kSlots, nodes_.empty() ? -1 : 0);
  }
}

int RouteTable::IndexOf(const NodeAddress& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) return static_cast<int>(it - nodes_.begin());
  nodes_.push_back(node);
  return static_cast<int>(nodes_.size() - 1);
}

void RouteTable::Replace(const SlotMap& map) {
  const NodeAddress* last = nullptr;
  int index = -1;
  for (int s = 0; s < kSlots; ++s) {
    const NodeAddress* node = map.Master(s);
    if (node == nullptr) continue;
    if (node != last) {
      last = node;
      index = IndexOf(*node);
    }
    slot_node_[s] = static_cast<int16_t>(index);
  }
}

ReplyAction DecideReply(const Reply& reply, int redirects, bool follow, const std::string& host) {
  ReplyAction action;
  if (!follow || !reply.IsError()) return action;
  std::optional<Redirect> redirect = ParseRedirect(reply.str, host);
  if (!redirect) return action;
  if (redirects >= kMaxRedirects) {
    action.kind = ReplyAction::kTooManyRedirects;
    return action;
  }
  action.kind = redirect->ask ? ReplyAction::kFollowAsk : ReplyAction::kFollowMoved;
  action.redirect = std::move(*redirect);
  return action;
}

Clock::duration ReconnectBackoff(int failures) {
  const int doublings = std::clamp(failures - 1, 0, 5);
  return std::min<Clock::duration>(std::chrono::milliseconds(50) * (1 << doublings),
                                   std::chrono::seconds(1));
}

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
      cluster_(topology.cluster),
      routes_(topology),
      node_state_(topology.nodes.size()),
      workload_(options, zipf, index, thread_count),
      clients_count_(clients),
      progress_(progress) {}

BenchThread::~BenchThread() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Status BenchThread::Open(Client* client, int node, std::chrono::milliseconds timeout) {
  ConnectOptions co;
  co.connect_timeout = timeout;
  const NodeAddress& address = routes_.nodes()[node];
  auto conn = Connection::Connect(address.host, address.port, co);
  if (!conn.ok()) return conn.status();
  auto c = std::make_unique<Conn>();
  c->conn = std::move(conn).value();
  c->client = client;
  c->node = node;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = c.get();
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->conn->fd(), &ev) != 0) {
    return Status::IOError("epoll_ctl failed");
  }
  if (client->conns.size() <= static_cast<size_t>(node)) client->conns.resize(node + 1);
  client->conns[node] = std::move(c);
  return Status::Ok();
}

Status BenchThread::Connect() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return Status::IOError("epoll_create1 failed");
  const int known = static_cast<int>(routes_.nodes().size());
  for (int i = 0; i < clients_count_; ++i) {
    clients_.push_back(std::make_unique<Client>());
    Client* client = clients_.back().get();
    client->conns.resize(known);
    Status first_failure;
    int opened = 0;
    for (int node = 0; node < known; ++node) {
      if (node_state_[node].failures > 0) continue;  // refused another client just now
      Status s = Open(client, node, std::chrono::milliseconds(options_.connect_timeout_ms));
      if (s.ok()) {
        ++opened;
        continue;
      }
      if (!cluster_) return s;
      if (first_failure.ok()) first_failure = s;
      NoteConnectFailure(node, Clock::now());  // down, or not up yet: ConnTo tries again
    }
    if (opened == 0) {
      return first_failure.ok() ? Status::IOError("no node could be reached") : first_failure;
    }
  }
  return Status::Ok();
}

bool BenchThread::Issue(Client* client, Clock::time_point now, const RunPlan& plan) {
  const bool measured = now >= plan.measure_start;
  if (plan.Stopped()) return false;
  if (plan.quota > 0) {
    if (measured && issued_measured_ >= plan.quota) return false;
  } else if (now >= plan.end) {
    return false;
  }
  if (!cluster_ && client->conns[0] == nullptr) {
    client->dead = true;  // its server is unreachable: stop this client
    return false;
  }
  if (measured) ++issued_measured_;
  Request request{now, Op::kPing};
  request.op = workload_.Next(&argv_, &request.key_index);
  ++client->in_flight;
  Send(client, request, RouteOf(request), /*ask=*/false, now);
  return true;
}

int BenchThread::RouteOf(const Request& request) {
  if (!cluster_) return 0;
  if (request.op == Op::kPing || argv_.size() < 2) return -1;
  return routes_.NodeOf(KeySlot(argv_[1]));
}

void BenchThread::Send(Client* client, const Request& request, int node, bool ask,
                       Clock::time_point now) {
  if (SendNow(client, request, node, ask, now)) return;
  if (!cluster_) return LoseRequest(client, request);
  // An ASK is not kept: once sent again the request goes by the map, and meets the ASK anew.
  parked_.push_back({client, request, now});
  ++result_.parked;
  refresh_wanted_ = true;
}

bool BenchThread::SendNow(Client* client, const Request& request, int node, bool ask,
                          Clock::time_point now) {
  Conn* c = ConnTo(client, node, now);
  if (c == nullptr) return false;
  if (ask) {
    c->conn->Append({"ASKING"});
    Request asking = request;
    asking.asking = true;
    c->in_flight.push_back(asking);
  }
  c->conn->Append(std::span<const std::string_view>(argv_));
  c->in_flight.push_back(request);
  MarkDirty(c);
  return true;
}

BenchThread::Conn* BenchThread::ConnTo(Client* client, int node, Clock::time_point now) {
  const int known = static_cast<int>(routes_.nodes().size());
  if (node < 0) {
    // A request any node may answer: the first open connection, else the first node that
    // may be tried.
    for (auto& c : client->conns) {
      if (c) return c.get();
    }
    for (int i = 0; i < known && node < 0; ++i) {
      if (i >= static_cast<int>(node_state_.size()) || now >= node_state_[i].retry_at) node = i;
    }
    if (node < 0) return nullptr;
  }
  if (node < static_cast<int>(client->conns.size()) && client->conns[node]) {
    return client->conns[node].get();
  }
  if (!cluster_) return nullptr;
  if (node_state_.size() < static_cast<size_t>(known)) node_state_.resize(known);
  NodeState& state = node_state_[node];
  if (now < state.retry_at) return nullptr;
  if (Status s = Open(client, node, std::min<std::chrono::milliseconds>(
                                        kReconnectTimeout,
                                        std::chrono::milliseconds(options_.connect_timeout_ms)));
      !s.ok()) {
    NoteConnectFailure(node, now);
    return nullptr;
  }
  state.failures = 0;
  ++result_.reconnects;
  return client->conns[node].get();
}

void BenchThread::NoteConnectFailure(int node, Clock::time_point now) {
  NodeState& state = node_state_[node];
  ++state.failures;
  state.retry_at = now + ReconnectBackoff(state.failures);
  refresh_wanted_ = true;
}

void BenchThread::MarkDirty(Conn* c) {
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c);
  }
}

void BenchThread::LoseRequest(Client* client, const Request& request) {
  ++result_.errors[static_cast<int>(request.op)];
  ++result_.lost;
  ++progress_errors_pending_;
  --client->in_flight;
}

void BenchThread::Fail(Conn* c, const Status& why) {
  if (c->dead) return;
  c->dead = true;
  if (result_.first_error.empty()) result_.first_error = why.ToString();
  Client* client = c->client;
  for (const Request& request : c->in_flight) {
    if (!request.asking) LoseRequest(client, request);
  }
  c->in_flight.clear();
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->conn->fd(), nullptr);
  // Events already read may still name c: it is freed at the top of the next loop.
  graveyard_.push_back(std::move(client->conns[c->node]));
  if (!cluster_) {
    client->dead = true;
    return;
  }
  // The node may be gone: later connects to it back off (without counting a failure, as
  // each of its connections reports the same loss), and the map is reloaded.
  NodeState& state = node_state_[c->node];
  state.retry_at = std::max(state.retry_at, Clock::now() + ReconnectBackoff(state.failures + 1));
  refresh_wanted_ = true;
}

void BenchThread::Finish(Client* client, const Request& request, Clock::time_point now,
                         const RunPlan& plan, const Reply* error) {
  --client->in_flight;
  const bool counted = request.at >= plan.measure_start && (plan.quota > 0 || now <= plan.end);
  if (!counted) return;
  const int op = static_cast<int>(request.op);
  ++progress_pending_;
  result_.last_reply = now;
  if (error != nullptr) {
    ++result_.errors[op];
    ++progress_errors_pending_;
    const std::string kind = ErrorKind(error->str);
    if (result_.error_kinds[kind]++ == 0) result_.first_error_of_kind[kind] = error->str;
    if (result_.first_error.empty()) result_.first_error = error->str;
  } else {
    ++result_.ok[op];
    ++progress_ok_pending_;
    result_.histograms[op].Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - request.at).count()));
  }
}

void BenchThread::FollowRedirect(Client* client, Request request, const ReplyAction& action,
                                 Clock::time_point now) {
  ++request.redirects;
  const int node = routes_.IndexOf(action.redirect.node);
  if (action.kind == ReplyAction::kFollowMoved) {
    routes_.Assign(action.redirect.slot, node);
    refresh_wanted_ = true;  // a moved slot seldom moves alone
  }
  workload_.Rebuild(request.op, request.key_index, &argv_);
  Send(client, request, node, action.kind == ReplyAction::kFollowAsk, now);
}

void BenchThread::OnReplies(Conn* c, Clock::time_point now, const RunPlan& plan) {
  Reply reply;
  for (;;) {
    Result<bool> got = c->conn->TryPopReply(&reply);
    if (!got.ok()) return Fail(c, got.status());
    if (!*got) return;
    const Request request = c->in_flight.front();
    c->in_flight.pop_front();
    if (request.asking) continue;  // ASKING's +OK; the command's own reply follows
    if (!reply.IsError()) {
      Finish(c->client, request, now, plan, nullptr);
      continue;
    }
    const ReplyAction action = DecideReply(reply, request.redirects, cluster_, c->conn->host());
    if (action.kind == ReplyAction::kFollowMoved || action.kind == ReplyAction::kFollowAsk) {
      if (plan.quota == 0 && now >= plan.end) {
        --c->client->in_flight;  // the run is over: its reply would not be counted
        continue;
      }
      if (request.at >= plan.measure_start) ++result_.redirects;
      FollowRedirect(c->client, request, action, now);
      continue;
    }
    Finish(c->client, request, now, plan, &reply);
  }
}

void BenchThread::RefreshRoutes(Clock::time_point now) {
  last_refresh_ = now;
  refresh_wanted_ = false;
  ConnectOptions co;
  co.connect_timeout = std::min<std::chrono::milliseconds>(
      kReconnectTimeout, std::chrono::milliseconds(options_.connect_timeout_ms));
  co.io_timeout = kControlIoTimeout;
  // The control connection's node first, then every node not backing off, then the seeds.
  std::vector<NodeAddress> candidates;
  for (size_t i = 0; i < routes_.nodes().size(); ++i) {
    if (i >= node_state_.size() || now >= node_state_[i].retry_at) {
      candidates.push_back(routes_.nodes()[i]);
    }
  }
  candidates.insert(candidates.end(), options_.cluster.begin(), options_.cluster.end());
  for (size_t i = 0; i <= candidates.size(); ++i) {
    if (control_ == nullptr || control_->broken()) {
      control_.reset();
      if (i == candidates.size()) return;
      auto conn = Connection::Connect(candidates[i].host, candidates[i].port, co);
      if (!conn.ok()) continue;
      control_ = std::move(conn).value();
    }
    bool is_cluster = false;
    Result<SlotMap> map = FetchSlotMap(*control_, &is_cluster);
    if (map.ok() && is_cluster) {
      routes_.Replace(*map);
      ++result_.refreshes;
      return;
    }
    control_.reset();  // a node that cannot tell: ask the next
  }
}

void BenchThread::Maintain(Clock::time_point now, const RunPlan& plan, bool sending) {
  if (!cluster_ || now < next_maintenance_) return;
  next_maintenance_ = now + kMaintenanceInterval;
  if (!parked_.empty()) {
    if (!sending && plan.quota == 0) {
      // The run is over and their replies would not be counted.
      for (const Parked& p : parked_) --p.client->in_flight;
      parked_.clear();
    } else {
      refresh_wanted_ = true;  // until the map sends them somewhere that answers
    }
  }
  if (refresh_wanted_ && now - last_refresh_ >= kRefreshInterval) RefreshRoutes(now);
  for (size_t n = parked_.size(); n > 0; --n) {
    Parked p = parked_.front();
    parked_.pop_front();
    if (now - p.since >= kParkTimeout) {
      if (result_.first_error.empty()) {
        result_.first_error = "no reachable node served a request's slot within " +
                              std::to_string(kParkTimeout.count()) + " s";
      }
      LoseRequest(p.client, p.request);
      continue;
    }
    workload_.Rebuild(p.request.op, p.request.key_index, &argv_);
    if (!SendNow(p.client, p.request, RouteOf(p.request), /*ask=*/false, now)) {
      parked_.push_back(p);
    }
  }
  // Clients that lost requests (to a failed connection or here) have no reply coming to make
  // them send the next ones: top their pipelines up.
  for (auto& client : clients_) {
    while (client->in_flight < options_.pipeline && Issue(client.get(), now, plan)) {
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
    graveyard_.clear();
    int in_flight = 0;
    bool any_alive = false;
    for (auto& client : clients_) {
      in_flight += client->in_flight;
      any_alive |= !client->dead;
    }
    const bool sending = !any_alive || plan.Stopped() ? false
                         : plan.quota > 0 ? issued_measured_ < plan.quota || now < plan.measure_start
                                          : now < plan.end;
    if (!sending && in_flight == 0) break;
    if (!sending && drain_deadline == Clock::time_point::max()) {
      drain_deadline = now + kDrainTimeout;
    }
    if (now >= drain_deadline) {
      // Replies that never came are errors, like any other lost request.
      for (auto& client : clients_) {
        for (auto& c : client->conns) {
          if (c) Fail(c.get(), Status::TimedOut("no reply within the drain time"));
        }
      }
      for (const Parked& p : parked_) LoseRequest(p.client, p.request);
      parked_.clear();
      break;
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                               parked_.empty() ? 50 : 10);
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      Conn* c = static_cast<Conn*>(events[i].data.ptr);
      if (c->dead) continue;
      if (events[i].events & EPOLLOUT) MarkDirty(c);
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (Status s = c->conn->ReadSome(); !s.ok()) {
          OnReplies(c, now, plan);  // replies that arrived before the failure still count
          Fail(c, s);
        } else {
          OnReplies(c, now, plan);
        }
        Client* client = c->client;
        while (!client->dead && client->in_flight < options_.pipeline &&
               Issue(client, now, plan)) {
        }
      }
    }
    Maintain(now, plan, sending);
    FlushDirty();
    if (progress_pending_ > 0 || progress_errors_pending_ > 0) PublishProgress();
  }
  PublishProgress();
}

void BenchThread::PublishProgress() {
  progress_->completed.fetch_add(progress_pending_, std::memory_order_relaxed);
  progress_->errors.fetch_add(progress_errors_pending_, std::memory_order_relaxed);
  progress_->ok.fetch_add(progress_ok_pending_, std::memory_order_relaxed);
  progress_pending_ = progress_errors_pending_ = progress_ok_pending_ = 0;
}

}  // namespace flin::bench
