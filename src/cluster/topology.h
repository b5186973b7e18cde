#pragma once
// Topology: who is in the cluster and where each partition's replicas live.
//
// Built from --initial-cluster "1@127.0.0.1:6380,2@127.0.0.1:6381,3@127.0.0.1:6382" (each entry
// id@host:client-port[:bus-port]; the bus port defaults to client port + 10000), --partitions
// and --replicas. The same list on every node gives every node the same placement:
// partition p's replicas are the nodes at positions p, p+1, ..., p+R-1 (mod N) of the list
// sorted by id, and its preferred leader is the first of them, so replicas and leaders are
// spread evenly. The cluster id is derived from all of it, so two clusters started from
// different lists refuse each other's peers.
//
// Addresses may change; nothing else does. The list is the one the cluster was CREATED with
// (it is the cluster's identity), so a node moved to another address keeps it and says where
// it is now with --announce; its peers learn the new address from its bus handshake
// (SetAddress) and tell clients (CLUSTER SLOTS, -MOVED). A handshake without an address sends
// the peer back to where this node's own list puts it (a node moved back; a list may also
// route a peer's bus through something else, as tests/jepsen's proxies do).
//
// Threading: everything is immutable after Parse() but the addresses, which a mutex guards;
// every method may be called from any thread. Addresses are returned by value.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace flin::cluster {

struct NodeInfo {
  uint64_t id = 0;
  std::string host;
  int client_port = 0;
  int bus_port = 0;
  std::string ClientAddress() const { return host + ":" + std::to_string(client_port); }
  // "host:port:bus-port", as ParseNodeAddress reads it.
  std::string Spec() const {
    return ClientAddress() + ":" + std::to_string(bus_port);
  }
  bool SameAddress(const NodeInfo& o) const {
    return host == o.host && client_port == o.client_port && bus_port == o.bus_port;
  }
};

// Whether `host` may be announced: 1-255 letters, digits, '.', '-' or '_' (it is written into
// CLUSTER NODES lines and dialed; a peer's handshake is checked with this too).
bool ValidHost(const std::string& host);
// Node `id` at "host:port[:bus-port]" (bus port default: port + 10000).
Result<NodeInfo> ParseNodeAddress(uint64_t id, const std::string& address);

class Topology {
 public:
  // `announce`: "host:port[:bus-port]", this node's address when it is no longer the one the
  // list gives it (bus port default: port + 10000); empty: the list's. The cluster id is the
  // list's either way.
  static Result<Topology> Parse(const std::string& initial_cluster, uint64_t self_id,
                                int partitions, int replicas, const std::string& announce = "");

  Topology(const Topology& o);
  Topology& operator=(const Topology& o);

  uint64_t self_id() const { return self_id_; }
  NodeInfo self() const { return *Find(self_id_); }
  // Every node, sorted by id, at its current address.
  std::vector<NodeInfo> nodes() const;
  size_t size() const { return ids_.size(); }
  std::optional<NodeInfo> Find(uint64_t id) const;
  // Where this node's --initial-cluster puts node `id`.
  std::optional<NodeInfo> Listed(uint64_t id) const;
  // Whether this node was started somewhere else than its entry in the list (--announce).
  bool announced() const;
  // A peer announced another address (its handshake): remembers it. Returns whether it
  // changed anything (false too for an unknown id, this node's own id or an invalid address).
  bool SetAddress(const NodeInfo& n);
  int partitions() const { return partitions_; }
  int replicas() const { return replicas_; }
  const std::string& cluster_id() const { return cluster_id_; }
  // Replica node ids of partition p, preferred leader first.
  std::vector<uint64_t> Replicas(int p) const;
  bool Hosts(int p) const;  // is this node a replica of p?
  // Redis Cluster node id (40 hex chars) for a node, stable across restarts.
  std::string RedisNodeId(uint64_t id) const;

 private:
  Topology() = default;

  uint64_t self_id_ = 0;
  int partitions_ = 0;
  int replicas_ = 0;
  std::vector<uint64_t> ids_;  // sorted
  std::string cluster_id_;
  std::vector<NodeInfo> listed_;  // as --initial-cluster gives them, in the order of ids_
  mutable std::mutex mu_;
  std::vector<NodeInfo> nodes_;  // guarded by mu_; in the order of ids_
};

}  // namespace flin::cluster
