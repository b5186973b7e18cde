// ClusterClient: routing, redirections and bounded retries over per-node pools.

#include <random>
#include <thread>

#include "common/slot.h"
#include "flin/cluster.h"

namespace flin {
namespace {

// Transient cluster states worth retrying after a pause.
bool IsTransient(const Reply& r) {
  return r.IsError() && (r.str.starts_with("TRYAGAIN") || r.str.starts_with("CLUSTERDOWN") ||
                         r.str.starts_with("LOADING"));
}

bool IsRedirect(const Reply& r) {
  return r.IsError() && (r.str.starts_with("MOVED ") || r.str.starts_with("ASK "));
}

}  // namespace

ClusterClient::ClusterClient(ClusterOptions options) : options_(std::move(options)) {}
ClusterClient::~ClusterClient() = default;

Result<std::unique_ptr<ClusterClient>> ClusterClient::Connect(ClusterOptions options) {
  if (options.seeds.empty()) return Status::InvalidArgument("ClusterOptions::seeds is empty");
  std::unique_ptr<ClusterClient> client(new ClusterClient(std::move(options)));
  if (Status s = client->RefreshSlots(); !s.ok()) return s;
  return client;
}

ConnectionPool* ClusterClient::PoolFor(const NodeAddress& node) {
  std::lock_guard lock(pools_mu_);
  std::unique_ptr<ConnectionPool>& pool = pools_[node.ToString()];
  if (!pool) {
    PoolOptions po;
    po.host = node.host;
    po.port = node.port;
    po.connect = options_.connect;
    po.max_connections = options_.connections_per_node;
    po.acquire_timeout = options_.acquire_timeout;
    pool = std::make_unique<ConnectionPool>(std::move(po));
  }
  return pool.get();
}

Status ClusterClient::RefreshSlots() {
  std::vector<NodeAddress> candidates;
  {
    std::shared_lock lock(map_mu_);
    candidates = map_.nodes();
  }
  candidates.insert(candidates.end(), options_.seeds.begin(), options_.seeds.end());
  Status last = Status::Unavailable("no node to ask for CLUSTER SLOTS");
  for (const NodeAddress& node : candidates) {
    Result<ConnectionPool::Lease> lease = PoolFor(node)->Acquire();
    if (!lease.ok()) {
      last = lease.status();
      continue;
    }
    bool is_cluster = true;
    Result<SlotMap> map = FetchSlotMap(**lease, &is_cluster);
    if (!map.ok()) {
      last = map.status();
      continue;
    }
    std::unique_lock lock(map_mu_);
    map_ = std::move(map).value();
    is_cluster_ = is_cluster;
    return Status::Ok();
  }
  return last;
}

SlotMap ClusterClient::slot_map() const {
  std::shared_lock lock(map_mu_);
  return map_;
}

NodeAddress ClusterClient::Route(const Argv& argv) const {
  std::optional<std::string_view> key = RoutingKey(argv);
  std::shared_lock lock(map_mu_);
  if (key) {
    if (const NodeAddress* node = map_.Master(KeySlot(*key))) return *node;
  }
  // Keyless, or a slot nobody serves (the server will say CLUSTERDOWN): any node will do.
  if (!map_.nodes().empty()) {
    thread_local std::minstd_rand rng(std::random_device{}());
    return map_.nodes()[rng() % map_.nodes().size()];
  }
  return options_.seeds.front();
}

void ClusterClient::Backoff(int attempt) const {
  auto delay = options_.backoff_initial * (1 << std::min(attempt, 16));
  std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(delay, options_.backoff_max));
}

Result<Reply> ClusterClient::Execute(const Argv& argv) {
  NodeAddress target = Route(argv);
  bool asking = false;
  int redirects = 0;
  int attempts = 0;
  for (;;) {
    Result<ConnectionPool::Lease> lease = PoolFor(target)->Acquire();
    if (!lease.ok()) {
      // Nothing was sent: retrying elsewhere is safe. The node may be gone; ask the others
      // who serves the slot now.
      if (++attempts >= options_.max_attempts) return lease.status();
      Backoff(attempts);
      (void)RefreshSlots();
      target = Route(argv);
      asking = false;
      continue;
    }
    Connection& conn = **lease;
    if (asking) conn.Append({"ASKING"});
    conn.Append(argv);
    Result<Reply> reply = conn.ReadReply();
    if (asking && reply.ok()) reply = conn.ReadReply();  // the first was ASKING's +OK
    asking = false;
    if (!reply.ok()) {
      if (!options_.retry_after_send_failure || ++attempts >= options_.max_attempts) {
        return reply.status();
      }
      lease = Status::Aborted("released");  // the broken connection is closed, not pooled
      Backoff(attempts);
      (void)RefreshSlots();
      target = Route(argv);
      continue;
    }
    if (IsRedirect(*reply)) {
      std::optional<Redirect> redirect = ParseRedirect(reply->str, target.host);
      if (!redirect) return reply;
      if (++redirects > options_.max_redirects) {
        return Status::Aborted("too many redirections; last: " + reply->str);
      }
      target = redirect->node;
      if (redirect->ask) {
        asking = true;
      } else {
        {
          std::unique_lock lock(map_mu_);
          map_.Assign(redirect->slot, redirect->node);
        }
        // One slot moved usually means more did (a failover moves all of a node's slots).
        // Release the connection first: the refresh may need one from the same pool.
        lease = Status::Aborted("released");
        (void)RefreshSlots();
      }
      continue;
    }
    if (IsTransient(*reply)) {
      if (++attempts >= options_.max_attempts) return reply;
      lease = Status::Aborted("released");
      Backoff(attempts);
      if (reply->str.starts_with("CLUSTERDOWN")) (void)RefreshSlots();
      target = Route(argv);
      continue;
    }
    return reply;
  }
}

std::vector<Result<Reply>> ClusterClient::ExecuteMany(const std::vector<Argv>& commands) {
  std::vector<Result<Reply>> results(commands.size(), Status::Aborted("not run"));
  // Group by node, keeping each group's original indexes.
  std::unordered_map<std::string, std::pair<NodeAddress, std::vector<size_t>>> groups;
  for (size_t i = 0; i < commands.size(); ++i) {
    NodeAddress node = Route(commands[i]);
    auto& group = groups[node.ToString()];
    group.first = node;
    group.second.push_back(i);
  }
  std::vector<size_t> stragglers;
  for (auto& [name, group] : groups) {
    Result<ConnectionPool::Lease> lease = PoolFor(group.first)->Acquire();
    if (!lease.ok()) {
      stragglers.insert(stragglers.end(), group.second.begin(), group.second.end());
      continue;
    }
    for (size_t i : group.second) (*lease)->Append(commands[i]);
    for (size_t k = 0; k < group.second.size(); ++k) {
      const size_t i = group.second[k];
      Result<Reply> reply = (*lease)->ReadReply();
      if (!reply.ok()) {
        // The connection is broken: what was sent may have run. Report, do not resend,
        // unless the caller allowed it.
        for (size_t rest = k; rest < group.second.size(); ++rest) {
          if (options_.retry_after_send_failure) {
            stragglers.push_back(group.second[rest]);
          } else {
            results[group.second[rest]] = reply.status();
          }
        }
        break;
      }
      if (IsRedirect(*reply) || IsTransient(*reply)) {
        stragglers.push_back(i);
      } else {
        results[i] = std::move(reply);
      }
    }
  }
  for (size_t i : stragglers) results[i] = Execute(commands[i]);
  return results;
}

}  // namespace flin
