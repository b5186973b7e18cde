#pragma once
// Cluster awareness: which node serves a key, and a client that routes by it.
//
// Flin (like Redis Cluster) hashes each key to one of 16384 slots (CRC16 with {hash tags},
// see common/slot.h); each slot is served by one node, the leader of the slot's partition. A
// node asked about a slot it does not serve answers "-MOVED <slot> <host>:<port>" (the slot
// has a new owner: update the map) or "-ASK <slot> <host>:<port>" (the slot is migrating: ask
// that node once, preceded by ASKING). "-TRYAGAIN" and "-CLUSTERDOWN" are transient.
//
// SlotMap, ParseRedirect, RoutingKey and FetchSlotMap are the building blocks (flin-bench
// routes with them from its own event loop); ClusterClient puts them together behind one
// call, Execute().

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "flin/connection.h"
#include "flin/pool.h"

namespace flin {

struct NodeAddress {
  std::string host;
  int port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  bool operator==(const NodeAddress&) const = default;
};

// Parses "host:port" (IPv6 hosts may be bracketed or bare: the last ':' splits).
Result<NodeAddress> ParseNodeAddress(std::string_view text);

// Slot → master node. A value type; not synchronised (ClusterClient guards its own).
class SlotMap {
 public:
  SlotMap();
  // Every slot served by `node`: the map of a server that is not a cluster.
  static SlotMap SingleNode(const NodeAddress& node);
  // Builds the map from a CLUSTER SLOTS reply: [[start, end, [host, port, ...], replicas...]].
  // An empty host (a node that does not know its own address) becomes `fallback_host`, the
  // host the reply came from. Corruption if the reply has another shape.
  static Result<SlotMap> FromClusterSlots(const Reply& reply, const std::string& fallback_host);

  // The master serving `slot` (0..16383), or nullptr if no node covers it.
  const NodeAddress* Master(int slot) const;
  // Records that `node` now serves `slot` (after a MOVED).
  void Assign(int slot, const NodeAddress& node);
  // Every node that serves at least one slot, in first-seen order.
  const std::vector<NodeAddress>& nodes() const { return nodes_; }
  // Number of slots with a master.
  int covered_slots() const;

 private:
  int NodeIndex(const NodeAddress& node);
  std::vector<NodeAddress> nodes_;
  std::vector<int16_t> slot_node_;  // kSlots entries; -1 = unassigned
};

struct Redirect {
  bool ask = false;  // ASK (one-shot, send ASKING first) rather than MOVED (permanent)
  int slot = 0;
  NodeAddress node;
};
// Parses an error reply's text: "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381".
// nullopt for any other error. An empty host becomes `fallback_host`.
std::optional<Redirect> ParseRedirect(std::string_view error, const std::string& fallback_host);

// The key a command is routed by (its first key), or nullopt for a command without keys
// (PING, INFO, ...), which any node may answer. Knows the key positions of the string, key,
// hash, list, set and sorted-set commands, MSET/MSETNX (keys at 1, 3, ...) and EVAL/EVALSHA
// (numkeys); other commands are assumed to take their key at argv[1].
std::optional<std::string_view> RoutingKey(const Argv& argv);
std::optional<std::string_view> RoutingKey(std::span<const std::string_view> argv);

// Asks `conn` for CLUSTER SLOTS. A server that is not a cluster (the command fails, or no slot
// is covered) yields SingleNode(conn's address), with *is_cluster set false.
Result<SlotMap> FetchSlotMap(Connection& conn, bool* is_cluster);

struct ClusterOptions {
  // Where to start: any reachable seed yields the whole map. Required.
  std::vector<NodeAddress> seeds;
  ConnectOptions connect;
  // Connections pooled per node. Default 4.
  size_t connections_per_node = 4;
  std::chrono::milliseconds acquire_timeout{1000};
  // MOVED/ASK redirections followed per command before giving up. Default 16.
  int max_redirects = 16;
  // Tries per command on TRYAGAIN, CLUSTERDOWN, LOADING or a failed connect. Default 6.
  int max_attempts = 6;
  // Back-off between those tries: doubles from initial, capped at max.
  std::chrono::milliseconds backoff_initial{10};
  std::chrono::milliseconds backoff_max{500};
  // Whether to resend a command whose connection failed after it was written. The command
  // may then run twice (not idempotent for INCR, for instance); off by default, so the
  // caller receives the IOError and decides.
  bool retry_after_send_failure = false;
};

// ClusterClient: the partition-aware pool. Routes each command to the node serving its key,
// follows MOVED (updating its map and refreshing it from the cluster) and ASK, retries
// transient errors with bounded exponential back-off, and when a node cannot be reached,
// refreshes the map from any other node and retries there. Works unchanged against a single
// server that is not a cluster (everything goes to the seed).
//
// Results: a Reply (which may be an error reply: a command error, or the last TRYAGAIN /
// CLUSTERDOWN once attempts run out) or a Status for transport failure, a timeout, or too
// many redirections.
//
// Thread-safety: every method is thread-safe; commands from many threads run concurrently
// over the per-node pools.
class ClusterClient {
 public:
  // Connects to the first reachable seed and loads the slot map.
  static Result<std::unique_ptr<ClusterClient>> Connect(ClusterOptions options);
  ~ClusterClient();

  Result<Reply> Execute(const Argv& argv);
  // Runs many commands, pipelined per node; the i-th result answers commands[i]. Commands
  // that meet a redirection or a transient error are then finished one by one via Execute().
  std::vector<Result<Reply>> ExecuteMany(const std::vector<Argv>& commands);

  // Reloads the slot map from the first node (known nodes, then seeds) that answers.
  Status RefreshSlots();
  // A copy of the current map.
  SlotMap slot_map() const;
  // False when the seed is a plain server without cluster support.
  bool is_cluster() const { return is_cluster_; }

 private:
  explicit ClusterClient(ClusterOptions options);
  ConnectionPool* PoolFor(const NodeAddress& node);
  NodeAddress Route(const Argv& argv) const;
  void Backoff(int attempt) const;

  const ClusterOptions options_;
  bool is_cluster_ = true;
  mutable std::shared_mutex map_mu_;
  SlotMap map_;  // guarded by map_mu_
  std::mutex pools_mu_;
  // Pools live as long as the client, so raw pointers into them stay valid.
  std::unordered_map<std::string, std::unique_ptr<ConnectionPool>> pools_;  // by pools_mu_
};

}  // namespace flin
