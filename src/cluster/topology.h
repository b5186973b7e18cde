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
// Immutable after Parse(); thread-safe to read.

#include <cstdint>
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
};

class Topology {
 public:
  // A cluster of one (no --initial-cluster).
  static Topology Single(uint64_t id, const std::string& host, int port, int bus_port,
                         int partitions);
  static Result<Topology> Parse(const std::string& initial_cluster, uint64_t self_id,
                                int partitions, int replicas);

  uint64_t self_id() const { return self_id_; }
  const NodeInfo& self() const { return *Find(self_id_); }
  const std::vector<NodeInfo>& nodes() const { return nodes_; }
  const NodeInfo* Find(uint64_t id) const;
  int partitions() const { return partitions_; }
  int replicas() const { return replicas_; }
  const std::string& cluster_id() const { return cluster_id_; }
  // Replica node ids of partition p, preferred leader first.
  std::vector<uint64_t> Replicas(int p) const;
  bool Hosts(int p) const;  // is this node a replica of p?
  // Redis Cluster node id (40 hex chars) for a node, stable across restarts.
  std::string RedisNodeId(uint64_t id) const;

 private:
  uint64_t self_id_ = 0;
  int partitions_ = 0;
  int replicas_ = 0;
  std::vector<NodeInfo> nodes_;  // sorted by id
  std::string cluster_id_;
};

}  // namespace flin::cluster
