#include "cluster/topology.h"

#include <algorithm>
#include <cctype>
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

// "host:port[:bus-port]" (bus port default: port + 10000); `what` names it in errors.
Status ParseAddress(const std::string& addr, const std::string& what, NodeInfo* n) {
  std::stringstream as(addr);
  std::vector<std::string> parts;
  std::string part;
  while (std::getline(as, part, ':')) parts.push_back(part);
  int64_t port = 0, bus = 0;
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || !ParseInt64(parts[1], &port) ||
      port <= 0 || port > 55535) {
    return Status::InvalidArgument("bad address in '" + what + "' (want host:port[:bus-port])");
  }
  bus = port + 10000;
  if (parts.size() == 3 && (!ParseInt64(parts[2], &bus) || bus <= 0 || bus > 65535)) {
    return Status::InvalidArgument("bad bus port in '" + what + "'");
  }
  if (!ValidHost(parts[0])) {
    return Status::InvalidArgument("bad host in '" + what +
                                   "' (letters, digits, '.', '-' and '_' only)");
  }
  n->host = parts[0];
  n->client_port = static_cast<int>(port);
  n->bus_port = static_cast<int>(bus);
  return Status::Ok();
}

}  // namespace

bool ValidHost(const std::string& host) {
  if (host.empty() || host.size() > 255) return false;
  for (unsigned char c : host) {
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

Result<NodeInfo> ParseNodeAddress(uint64_t id, const std::string& address) {
  NodeInfo n;
  n.id = id;
  Status s = ParseAddress(address, address, &n);
  if (!s.ok()) return s;
  return n;
}

Topology::Topology(const Topology& o)
    : self_id_(o.self_id_), partitions_(o.partitions_), replicas_(o.replicas_), ids_(o.ids_),
      cluster_id_(o.cluster_id_), listed_(o.listed_) {
  std::lock_guard<std::mutex> lock(o.mu_);
  nodes_ = o.nodes_;
}

Topology& Topology::operator=(const Topology& o) {
  if (this == &o) return *this;
  std::vector<NodeInfo> nodes = o.nodes();
  self_id_ = o.self_id_;
  partitions_ = o.partitions_;
  replicas_ = o.replicas_;
  ids_ = o.ids_;
  cluster_id_ = o.cluster_id_;
  listed_ = o.listed_;
  std::lock_guard<std::mutex> lock(mu_);
  nodes_ = std::move(nodes);
  return *this;
}

Result<Topology> Topology::Parse(const std::string& initial_cluster, uint64_t self_id,
                                 int partitions, int replicas, const std::string& announce) {
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
    NodeInfo node;
    node.id = static_cast<uint64_t>(id);
    Status s = ParseAddress(item.substr(at + 1), item, &node);
    if (!s.ok()) return s;
    for (const auto& n : t.nodes_) {
      if (n.id == static_cast<uint64_t>(id)) {
        return Status::InvalidArgument("node id " + std::to_string(id) + " appears twice");
      }
    }
    t.nodes_.push_back(std::move(node));
  }
  if (t.nodes_.empty()) return Status::InvalidArgument("--initial-cluster lists no node");
  std::sort(t.nodes_.begin(), t.nodes_.end(),
            [](const NodeInfo& a, const NodeInfo& b) { return a.id < b.id; });
  for (const auto& n : t.nodes_) t.ids_.push_back(n.id);
  if (!t.Find(self_id)) {
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
  t.listed_ = t.nodes_;
  if (!announce.empty()) {
    NodeInfo self;
    self.id = self_id;
    Status s = ParseAddress(announce, "--announce " + announce, &self);
    if (!s.ok()) return s;
    for (auto& n : t.nodes_) {
      if (n.id == self_id) n = self;
    }
  }
  return t;
}

std::vector<NodeInfo> Topology::nodes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_;
}

std::optional<NodeInfo> Topology::Find(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& n : nodes_) {
    if (n.id == id) return n;
  }
  return std::nullopt;
}

std::optional<NodeInfo> Topology::Listed(uint64_t id) const {
  for (const auto& n : listed_) {
    if (n.id == id) return n;
  }
  return std::nullopt;
}

bool Topology::announced() const { return !self().SameAddress(*Listed(self_id_)); }

bool Topology::SetAddress(const NodeInfo& to) {
  if (to.id == self_id_ || !ValidHost(to.host) || to.client_port <= 0 ||
      to.client_port > 65535 || to.bus_port <= 0 || to.bus_port > 65535) {
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& n : nodes_) {
    if (n.id != to.id) continue;
    if (n.SameAddress(to)) return false;
    n = to;
    return true;
  }
  return false;
}

std::vector<uint64_t> Topology::Replicas(int p) const {
  std::vector<uint64_t> out;
  const int n = static_cast<int>(ids_.size());
  for (int i = 0; i < replicas_; ++i) out.push_back(ids_[(p + i) % n]);
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
