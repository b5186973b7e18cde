// Cluster commands: CLUSTER (SLOTS SHARDS NODES INFO MYID KEYSLOT COUNTKEYSINSLOT
// GETKEYSINSLOT), READONLY, READWRITE, ASKING — and request routing (cluster_family.h).

#include "server/cluster_family.h"

#include <algorithm>

#include "common/slot.h"
#include "common/strings.h"
#include "net/event_loop.h"
#include "server/client_conn.h"
#include "server/server.h"
#include "server/transaction_family.h"
#include "storage/encoding.h"

namespace flin::server {
namespace {

constexpr std::string_view kErrNoCluster = "ERR This instance has cluster support disabled";

// `leader` as read from the partition's view, or if unknown (election in progress, or a
// partition this node does not host) the preferred leader: the best guess, and it redirects
// further if it is wrong.
uint64_t LeaderOf(const cluster::MultiRaftNode& mr, int p, uint64_t leader) {
  return leader != 0 ? leader : mr.topology().Replicas(p).front();
}
uint64_t LeaderOf(const cluster::MultiRaftNode& mr, int p) {
  return LeaderOf(mr, p, mr.View(p).leader.load(std::memory_order_relaxed));
}

int FirstSlot(int p, int parts) { return PartitionFirstSlot(p, parts); }
int LastSlot(int p, int parts) { return PartitionFirstSlot(p + 1, parts) - 1; }

// The error for a key of partition p (slot `slot`) that this node does not serve: -MOVED to
// its leader, or, with no leader, -TRYAGAIN / -CLUSTERDOWN.
// `leader`: the partition's leader as the caller read it (0: none known).
void NotServedHere(CommandContext& ctx, const cluster::MultiRaftNode& mr, int slot, int p,
                   uint64_t leader) {
  if (leader == 0 && mr.topology().Hosts(p)) return ctx.out.Error(mr.NoLeaderError(p));
  const std::optional<cluster::NodeInfo> n = mr.topology().Find(LeaderOf(mr, p, leader));
  ctx.out.Error("MOVED " + std::to_string(slot) + " " + n->ClientAddress());
}

}  // namespace

bool RouteCommand(CommandContext& ctx) {
  cluster::MultiRaftNode* mr = ctx.server.cluster();
  if (mr == nullptr || ctx.spec.Has(kCmdNoRedirect)) return true;
  const auto keys = ctx.spec.KeyPositions(ctx.args);
  if (keys.empty()) return true;  // keyless commands run on this node
  const int slot = KeySlot(ctx.args[keys[0]]);
  for (size_t i = 1; i < keys.size(); ++i) {
    if (KeySlot(ctx.args[keys[i]]) != slot) {
      ctx.out.Error("CROSSSLOT Keys in request don't hash to the same slot");
      return false;
    }
  }
  const int p = SlotPartition(slot, ctx.server.partitions());
  const uint64_t self = mr->topology().self_id();
  const uint64_t leader = mr->View(p).leader.load(std::memory_order_relaxed);
  const bool write = ctx.spec.Writes(ctx.args);
  if (ctx.spec.Has(kCmdPubSub)) {
    // SSUBSCRIBE, SPUBLISH: the partition's leader, or (READONLY) a node with a replica of it,
    // lease or not: they touch no data, so there is no read to keep linearizable.
    if (leader == self || (ctx.conn.readonly() && mr->topology().Hosts(p))) return true;
  } else if (write) {
    if (leader == self) return true;
  } else {
    if (ctx.server.LocalReadable(p, ctx.conn.readonly())) return true;
    if (leader == self) {
      // Elected, but its lease is not confirmed (yet, or any more): a read through the log
      // is linearizable without one, at the price of a round of consensus.
      if (ctx.spec.apply != nullptr) {
        NoteReadThroughLog(ctx);
        ctx.conn.TrackRead(ctx.spec, ctx.args);
        ctx.Propose(p);
      } else {
        ctx.out.Error("TRYAGAIN the leader of this slot is confirming its lease");
      }
      return false;
    }
  }
  if (leader == 0 && !ctx.spec.Has(kCmdPubSub) && mr->ElectionWindowOpen(p)) {
    // Leadership is moving (mostly a planned transfer, milliseconds): the raft thread holds
    // the proposal until the partition has a leader, then proposes it or answers -MOVED.
    if (write) return true;  // the handler checks it and proposes
    if (ctx.spec.apply != nullptr) {
      NoteReadThroughLog(ctx);
      ctx.conn.TrackRead(ctx.spec, ctx.args);
      ctx.Propose(p);  // a read through the log
      return false;
    }
  }
  NotServedHere(ctx, *mr, slot, p, leader);
  return false;
}

bool RouteQueuedCommand(CommandContext& ctx, int* txn_slot) {
  cluster::MultiRaftNode* mr = ctx.server.cluster();
  if (mr == nullptr) return true;  // one log: any keys, and FLUSHALL, go together
  const auto keys = ctx.spec.KeyPositions(ctx.args);
  if (keys.empty()) return true;  // routed by nothing (UNWATCH)
  const int slot = KeySlot(ctx.args[keys[0]]);
  for (size_t i = 1; i < keys.size(); ++i) {
    if (KeySlot(ctx.args[keys[i]]) != slot) {
      ctx.out.Error("CROSSSLOT Keys in request don't hash to the same slot");
      return false;
    }
  }
  const int p = SlotPartition(slot, ctx.server.partitions());
  // Its leader takes the transaction (reads too: they run with it, from the log). One read of
  // the view decides, as in RouteCommand. While the partition's leadership moves, the command
  // is queued and EXEC decides: the raft thread holds EXEC's proposal as it holds any write,
  // then proposes it here or answers -MOVED (a transaction that certainly did not run).
  const uint64_t leader = mr->View(p).leader.load(std::memory_order_relaxed);
  if (leader != mr->topology().self_id() && !(leader == 0 && mr->ElectionWindowOpen(p))) {
    NotServedHere(ctx, *mr, slot, p, leader);  // first, as Redis: a client can follow it
    return false;
  }
  if (*txn_slot >= 0 && slot != *txn_slot) {
    ctx.out.Error("CROSSSLOT Keys in request don't hash to the same slot");
    return false;
  }
  *txn_slot = slot;
  return true;
}

int LogReadPartition(CommandContext& ctx) {
  if (ctx.spec.apply == nullptr) return -1;
  const auto keys = ctx.spec.KeyPositions(ctx.args);
  if (keys.empty()) return -1;
  const int slot = KeySlot(ctx.args[keys[0]]);
  for (size_t i = 1; i < keys.size(); ++i) {
    if (KeySlot(ctx.args[keys[i]]) != slot) return -1;
  }
  const int p = SlotPartition(slot, ctx.server.partitions());
  return ctx.server.Leads(p) ? p : -1;
}

namespace {

// The nodes this one can reach now: itself and the peers its bus connection to is up. The
// others are what Redis Cluster calls failing (fail?): flagged in CLUSTER NODES, failed in
// SHARDS, and left out of CLUSTER SLOTS as replicas, so that clients reading from replicas do
// not keep picking a dead one.
struct Reachable {
  explicit Reachable(const cluster::MultiRaftNode& mr) : self(mr.topology().self_id()) {
    for (const auto& p : mr.Peers()) {
      if (p.connected) up.push_back(p.id);
    }
  }
  bool operator()(uint64_t id) const {
    return id == self || std::find(up.begin(), up.end(), id) != up.end();
  }
  uint64_t self;
  std::vector<uint64_t> up;
};

void WriteNode(protocol::ReplyWriter& w, const cluster::Topology& t, uint64_t id) {
  const std::optional<cluster::NodeInfo> n = t.Find(id);
  w.ArrayHeader(4);
  w.Bulk(n->host);
  w.Integer(n->client_port);
  w.Bulk(t.RedisNodeId(id));
  w.MapHeader(0);  // Redis 7's networking metadata: none beyond the address
}

void Slots(CommandContext& ctx, cluster::MultiRaftNode& mr) {
  const auto& t = mr.topology();
  const int parts = t.partitions();
  const Reachable reachable(mr);
  // A Flin node leads some partitions and follows others; a Redis Cluster node is a master
  // or a replica. redis-py takes a node's role from its first appearance here, so a node
  // named as a replica before its own ranges would be no primary to it, and its commands for
  // all primaries (SCAN, FLUSHALL; DBSIZE and KEYS when asked) would miss that node's keys
  // (FLUSHALL answered OK and left two thirds). So the first range of each leader comes
  // first, and a replica that leads partitions is listed only after its own first range: of
  // the first ranges, all but the last show fewer replicas; the rest follow in slot order.
  std::vector<uint64_t> leaders(parts);
  for (int p = 0; p < parts; ++p) leaders[p] = LeaderOf(mr, p);
  std::vector<int> order;
  order.reserve(parts);
  std::vector<bool> first(parts, false);
  std::vector<uint64_t> unlisted;  // leaders whose first range is still to come
  for (const auto& n : t.nodes()) {
    const auto it = std::find(leaders.begin(), leaders.end(), n.id);
    if (it == leaders.end()) continue;
    first[it - leaders.begin()] = true;
    order.push_back(static_cast<int>(it - leaders.begin()));
    unlisted.push_back(n.id);
  }
  for (int p = 0; p < parts; ++p) {
    if (!first[p]) order.push_back(p);
  }
  ctx.out.ArrayHeader(order.size());
  for (int p : order) {
    // The leader first, then the other replicas this node can reach.
    const uint64_t leader = leaders[p];
    unlisted.erase(std::remove(unlisted.begin(), unlisted.end(), leader), unlisted.end());
    std::vector<uint64_t> nodes = {leader};
    for (uint64_t r : t.Replicas(p)) {
      const bool shown = std::find(unlisted.begin(), unlisted.end(), r) == unlisted.end();
      if (r != leader && reachable(r) && shown) nodes.push_back(r);
    }
    ctx.out.ArrayHeader(2 + nodes.size());
    ctx.out.Integer(FirstSlot(p, parts));
    ctx.out.Integer(LastSlot(p, parts));
    for (uint64_t n : nodes) WriteNode(ctx.out, t, n);
  }
}

void Shards(CommandContext& ctx, cluster::MultiRaftNode& mr) {
  const auto& t = mr.topology();
  const int parts = t.partitions();
  const Reachable reachable(mr);
  ctx.out.ArrayHeader(parts);
  for (int p = 0; p < parts; ++p) {
    const uint64_t leader = LeaderOf(mr, p);
    auto replicas = t.Replicas(p);
    ctx.out.MapHeader(2);
    ctx.out.Bulk("slots");
    ctx.out.ArrayHeader(2);
    ctx.out.Integer(FirstSlot(p, parts));
    ctx.out.Integer(LastSlot(p, parts));
    ctx.out.Bulk("nodes");
    ctx.out.ArrayHeader(replicas.size());
    for (uint64_t r : replicas) {
      const std::optional<cluster::NodeInfo> n = t.Find(r);
      ctx.out.MapHeader(7);
      ctx.out.Bulk("id");
      ctx.out.Bulk(t.RedisNodeId(r));
      ctx.out.Bulk("port");
      ctx.out.Integer(n->client_port);
      ctx.out.Bulk("ip");
      ctx.out.Bulk(n->host);
      ctx.out.Bulk("endpoint");
      ctx.out.Bulk(n->host);
      ctx.out.Bulk("role");
      ctx.out.Bulk(r == leader ? "master" : "replica");
      ctx.out.Bulk("replication-offset");
      ctx.out.Integer(0);
      ctx.out.Bulk("health");
      ctx.out.Bulk(reachable(r) ? "online" : "failed");
    }
  }
}

// CLUSTER NODES: every node is a master of the partitions it leads (a Raft group has no fixed
// master), listed as slot ranges.
std::string NodesText(cluster::MultiRaftNode& mr) {
  const auto& t = mr.topology();
  const int parts = t.partitions();
  const Reachable reachable(mr);
  std::string out;
  for (const auto& n : t.nodes()) {
    std::string slots;
    int run_start = -1;
    for (int p = 0; p <= parts; ++p) {
      const bool mine = p < parts && LeaderOf(mr, p) == n.id;
      if (mine && run_start < 0) run_start = FirstSlot(p, parts);
      if (!mine && run_start >= 0) {
        const int end = FirstSlot(p, parts) - 1;
        slots += " " + std::to_string(run_start) +
                 (end != run_start ? "-" + std::to_string(end) : "");
        run_start = -1;
      }
    }
    const bool self = n.id == t.self_id();
    const bool up = reachable(n.id);
    out += t.RedisNodeId(n.id) + " " + n.host + ":" + std::to_string(n.client_port) + "@" +
           std::to_string(n.bus_port) + (self ? " myself,master" : " master") +
           (up ? "" : ",fail?") + " - 0 0 1 " + (up ? "connected" : "disconnected") + slots +
           "\n";
  }
  return out;
}

void Info(CommandContext& ctx, cluster::MultiRaftNode& mr) {
  const auto& t = mr.topology();
  int ok_slots = 0;
  for (int p = 0; p < t.partitions(); ++p) {
    if (mr.View(p).leader.load(std::memory_order_relaxed) != 0 || !t.Hosts(p)) {
      ok_slots += LastSlot(p, t.partitions()) - FirstSlot(p, t.partitions()) + 1;
    }
  }
  std::string s;
  s += "cluster_state:" + std::string(ok_slots == kSlots ? "ok" : "fail") + "\r\n";
  s += "cluster_slots_assigned:16384\r\n";
  s += "cluster_slots_ok:" + std::to_string(ok_slots) + "\r\n";
  s += "cluster_slots_pfail:0\r\n";
  s += "cluster_slots_fail:" + std::to_string(kSlots - ok_slots) + "\r\n";
  s += "cluster_known_nodes:" + std::to_string(t.nodes().size()) + "\r\n";
  s += "cluster_size:" + std::to_string(t.nodes().size()) + "\r\n";
  s += "cluster_current_epoch:1\r\ncluster_my_epoch:1\r\n";
  s += "cluster_partitions:" + std::to_string(t.partitions()) + "\r\n";
  s += "cluster_replicas:" + std::to_string(t.replicas()) + "\r\n";
  ctx.out.Verbatim(s);
}

// CLUSTER's subcommands and their argument counts (the subcommand included), as Redis's.
struct ClusterSub {
  const char* name;
  size_t args;
  const char* help;
};
constexpr ClusterSub kClusterSubs[] = {
    {"countkeysinslot", 3, "COUNTKEYSINSLOT <slot>|    Return the number of keys in <slot>."},
    {"getkeysinslot", 4, "GETKEYSINSLOT <slot> <count>|    Return key names stored by the "
                         "node in a slot."},
    {"info", 2, "INFO|    Return information about the cluster."},
    {"keyslot", 3, "KEYSLOT <key>|    Return the hash slot for <key>."},
    {"myid", 2, "MYID|    Return the node id."},
    {"nodes", 2, "NODES|    Return cluster configuration seen by node. Output format:|    "
                 "<id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> "
                 "<slot> ..."},
    {"shards", 2, "SHARDS|    Return information about slot range mappings and the nodes "
                  "associated with them."},
    {"slots", 2, "SLOTS|    Return information about slots range mappings. Each range is made "
                 "of:|    start, end, master and replicas IP addresses, ports and ids"},
    {"help", 2, "HELP|    Print this help."},
};

void ClusterHelp(CommandContext& ctx) {
  std::vector<std::string> lines = {
      "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"};
  for (const ClusterSub& sub : kClusterSubs) {
    std::string_view rest = sub.help;
    for (size_t bar; (bar = rest.find('|')) != std::string_view::npos; rest.remove_prefix(bar + 1)) {
      lines.emplace_back(rest.substr(0, bar));
    }
    lines.emplace_back(rest);
  }
  ctx.out.ArrayHeader(lines.size());
  for (const auto& line : lines) ctx.out.Simple(line);
}

void ClusterCmd(CommandContext& ctx) {
  cluster::MultiRaftNode* mr = ctx.server.cluster();
  const std::string sub = ToLower(ctx.args[1]);
  const size_t argc = ctx.args.size();
  const ClusterSub* known = nullptr;
  for (const ClusterSub& s : kClusterSubs) {
    if (sub == s.name) known = &s;
  }
  if (known == nullptr) {
    return ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1]) +
                         "'. Try CLUSTER HELP.");
  }
  if (argc != known->args) return ctx.out.Error(ErrWrongArity("cluster|" + sub));
  if (sub == "help") return ClusterHelp(ctx);
  if (sub == "keyslot") return ctx.out.Integer(KeySlot(ctx.args[2]));
  if (mr == nullptr) return ctx.out.Error(kErrNoCluster);
  const int parts = ctx.server.partitions();
  if (sub == "countkeysinslot" || sub == "getkeysinslot") {
    int64_t slot = 0;
    int64_t max = INT64_MAX;
    if (!ParseInt64(ctx.args[2], &slot) || (argc == 4 && !ParseInt64(ctx.args[3], &max))) {
      return ctx.out.Error(kErrNotInteger);
    }
    if (max < 0 || slot < 0 || slot >= kSlots) {
      return ctx.out.Error(argc == 4 ? "ERR Invalid slot or number of keys" : "ERR Invalid slot");
    }
    const int p = SlotPartition(static_cast<int>(slot), parts);
    std::vector<std::string> keys;
    int64_t count = 0;
    const std::string prefix = storage::PartitionPrefix(p);
    auto it = ctx.server.store().NewIterator();
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) && count < max;
         it->Next()) {
      std::string_view k(it->key().data() + prefix.size(), it->key().size() - prefix.size());
      if (KeySlot(k) != slot) continue;
      auto v = storage::DecodeValue(std::string_view(it->value().data(), it->value().size()));
      if (!v || v->Expired(ctx.now_ms)) continue;
      ++count;
      if (sub == "getkeysinslot") keys.emplace_back(k);
    }
    if (sub == "countkeysinslot") return ctx.out.Integer(count);
    ctx.out.ArrayHeader(keys.size());
    for (const auto& k : keys) ctx.out.Bulk(k);
    return;
  }
  if (sub == "slots") return Slots(ctx, *mr);
  if (sub == "shards") return Shards(ctx, *mr);
  if (sub == "nodes") return ctx.out.Verbatim(NodesText(*mr));
  if (sub == "info") return Info(ctx, *mr);
  ctx.out.Bulk(mr->topology().RedisNodeId(mr->topology().self_id()));  // myid
}

void ReadOnlyCmd(CommandContext& ctx) {
  if (ctx.server.cluster() == nullptr) return ctx.out.Error(kErrNoCluster);
  ctx.conn.set_readonly(ctx.spec.name == "readonly");
  ctx.out.Ok();
}

void AskingCmd(CommandContext& ctx) {
  if (ctx.server.cluster() == nullptr) return ctx.out.Error(kErrNoCluster);
  ctx.out.Ok();  // Flin never migrates slots, so it never sends -ASK; accepted for clients
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, std::string summary) {
  return MakeCommand(std::move(name), arity, flags, h, nullptr, "cluster", std::move(summary));
}

}  // namespace

void RegisterClusterFamily(CommandTable* t) {
  CommandSpec cluster = Spec("cluster", -2, kCmdStale, ClusterCmd,
                             "A container for Redis Cluster commands.");
  cluster.subcommands = {"cluster|slots", "cluster|shards", "cluster|nodes",
                         "cluster|info", "cluster|myid", "cluster|keyslot",
                         "cluster|countkeysinslot", "cluster|getkeysinslot", "cluster|help"};
  t->Add(std::move(cluster));
  t->Add(Spec("readonly", 1, kCmdFast | kCmdLoading | kCmdStale, ReadOnlyCmd,
              "Enables read-only queries for a connection to a Redis Cluster replica node."));
  t->Add(Spec("readwrite", 1, kCmdFast | kCmdLoading | kCmdStale, ReadOnlyCmd,
              "Enables read-write queries for a connection to a Redis Cluster replica node."));
  t->Add(Spec("asking", 1, kCmdFast, AskingCmd,
              "Signals that a cluster client is following an -ASK redirect."));
}

}  // namespace flin::server
