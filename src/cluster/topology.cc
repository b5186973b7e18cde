#include "cluster/topology.h"

#include <algorithm>
#include <sstream>

#include "common/strings.h"

namespace flin::cluster {
namespace {

// FNV-1a, 64 bits: a stable name for the cluster and its nodes (not a security measure).
uint64_t Fnv(std::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Hex(uint64_t v) {
  static const char kHex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = kHex[v & 15];
  return s;
}

}  // namespace

Topology Topology::Single(uint64_t id, const std::string& host, int port, int bus_port,
                          int partitions) {
  Topology t;
  t.self_id_ = id;
  t.partitions_ = partitions;
  t.replicas_ = 1;
  t.nodes_.push_back(NodeInfo{id, host, port, bus_port});
  t.cluster_id_ = "single-" + Hex(Fnv(host + ":" + std::to_string(port)));
  return t;
}

Result<Topology> Topology::Parse(const std::string& initial_cluster, uint64_t self_id,
                                 int partitions, int replicas) {
  Topology t;
  t.self_id_ = self_id;
  t.partitions_ = partitions;
  std::stringstream ss(initial_cluster);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    size_t at = item.find('@');
    if (at == std::string::npos) {
      return Status::InvalidArgument("--initial-cluster entry '" + item + "' is not id@host:port");
    }
    int64_t id;
    if (!ParseInt64(item.substr(0, at), &id) || id <= 0) {
      return Status::InvalidArgument("bad node id in '" + item + "'");
    }
    std::string addr = item.substr(at + 1);
    std::vector<std::string> parts;
    std::stringstream as(addr);
    std::string part;
    while (std::getline(as, part, ':')) parts.push_back(part);
    int64_t port = 0, bus = 0;
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || !ParseInt64(parts[1], &port) ||
        port <= 0 || port > 55535) {
      return Status::InvalidArgument("bad address in '" + item + "' (want host:port[:bus-port])");
    }
    bus = port + 10000;
    if (parts.size() == 3 && (!ParseInt64(parts[2], &bus) || bus <= 0 || bus > 65535)) {
      return Status::InvalidArgument("bad bus port in '" + item + "'");
    }
    for (const auto& n : t.nodes_) {
      if (n.id == static_cast<uint64_t>(id)) {
        return Status::InvalidArgument("node id " + std::to_string(id) + " appears twice");
      }
    }
    t.nodes_.push_back(NodeInfo{static_cast<uint64_t>(id), parts[0], static_cast<int>(port),
                                static_cast<int>(bus)});
  }
  if (t.nodes_.empty()) return Status::InvalidArgument("--initial-cluster lists no node");
  std::sort(t.nodes_.begin(), t.nodes_.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return a.id < b.id; });
  if (t.Find(self_id) == nullptr) {
    return Status::InvalidArgument("--node-id " + std::to_string(self_id) +
                                   " is not in --initial-cluster");
  }
  if (replicas < 1 || replicas > static_cast<int>(t.nodes_.size())) {
    return Status::InvalidArgument("--replicas must be between 1 and the number of nodes (" +
                                   std::to_string(t.nodes_.size()) + ")");
  }
  t.replicas_ = replicas;
  std::string ident = std::to_string(partitions) + "/" + std::to_string(replicas);
  for (const auto& n : t.nodes_) {
    ident += "," + std::to_string(n.id) + "@" + n.host + ":" + std::to_string(n.client_port);
  }
  t.cluster_id_ = Hex(Fnv(ident));
  return t;
}

const NodeInfo* Topology::Find(uint64_t id) const {
  for (const auto& n : nodes_) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

std::vector<uint64_t> Topology::Replicas(int p) const {
  std::vector<uint64_t> out;
  const int n = static_cast<int>(nodes_.size());
  for (int i = 0; i < replicas_; ++i) out.push_back(nodes_[(p + i) % n].id);
  return out;
}

bool Topology::Hosts(int p) const {
  for (uint64_t id : Replicas(p)) {
    if (id == self_id_) return true;
  }
  return false;
}

std::string Topology::RedisNodeId(uint64_t id) const {
  const uint64_t a = Fnv(cluster_id_ + "/" + std::to_string(id));
  const uint64_t b = Fnv(std::to_string(id), a);
  return Hex(a) + Hex(b) + Hex(a ^ b).substr(0, 8);
}

}  // namespace flin::cluster
