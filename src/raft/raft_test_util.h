#pragma once
// A tiny synchronous test cluster for unit tests of the Raft core: every node persists each
// Ready into its MemoryStorage, and messages are delivered (or dropped by a filter) until the
// network is quiet. Header-only, test code only.

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "raft/raw_node.h"

namespace flin::raft::test_util {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RawNode> raft;
  std::vector<Entry> applied;
  std::vector<ReadState> reads;
  std::vector<Snapshot> snapshots;  // received from the leader
};

class TestCluster {
 public:
  // Nodes 1..n, all voters, bootstrapped with a snapshot at index 1, term 1.
  explicit TestCluster(int n, std::function<void(Config&)> tweak = nullptr) : tweak_(tweak) {
    ConfState cs;
    for (int i = 1; i <= n; i++) cs.voters.push_back(i);
    for (int i = 1; i <= n; i++) {
      auto& node = nodes_[i];
      node.storage = std::make_unique<MemoryStorage>(MemoryStorage::WithSnapshot(1, 1, cs));
      Start(i);
    }
    // Let every node's start-up vote refusal (the restart lease) expire, then forget any
    // election that started meanwhile: tests start elections explicitly.
    for (int t = 0; t < 10; t++) {
      for (int i = 1; i <= n; i++) nodes_[i].raft->Tick();
    }
    Process();
    queue_.clear();
  }

  Config MakeConfig(NodeId id) const {
    Config c;
    c.id = id;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.seed = id;
    if (tweak_) tweak_(c);
    return c;
  }

  // (Re)creates node `id` over its storage, as after a crash.
  void Start(NodeId id) {
    auto& node = nodes_[id];
    if (!node.storage) node.storage = std::make_unique<MemoryStorage>();
    Config c = MakeConfig(id);
    c.applied = node.storage->snapshot().meta.index;
    c.run_id = ++runs_;  // distinct per start (the seed is not)
    auto r = RawNode::Create(c, node.storage.get());
    node.raft = std::move(r.value());
  }
  void Crash(NodeId id) { nodes_[id].raft.reset(); }

  RawNode& raft(NodeId id) { return *nodes_[id].raft; }
  TestNode& node(NodeId id) { return nodes_[id]; }

  // Drains every node's Ready; sent messages are queued.
  void Process() {
    for (auto& [id, n] : nodes_) {
      if (!n.raft) continue;
      while (n.raft->HasReady()) {
        Ready rd = n.raft->GetReady();
        if (rd.snapshot) {
          (void)n.storage->ApplySnapshot(*rd.snapshot);
          n.snapshots.push_back(*rd.snapshot);
        }
        (void)n.storage->Append(rd.entries);
        if (rd.hard_state) n.storage->SetHardState(*rd.hard_state);
        for (auto& m : rd.messages) queue_.push_back(m);
        for (auto& e : rd.committed_entries) n.applied.push_back(e);
        for (auto& rs : rd.read_states) n.reads.push_back(rs);
        n.raft->Advance(rd);
      }
    }
  }

  // Delivers queued messages until none are left; returns how many were delivered.
  int Stabilize(int max_rounds = 1000) {
    int delivered = 0;
    Process();
    for (int round = 0; round < max_rounds && !queue_.empty(); round++) {
      std::vector<Message> q;
      q.swap(queue_);
      for (auto& m : q) {
        sent_.push_back(m);
        if (Dropped(m)) continue;
        auto it = nodes_.find(m.to);
        if (it == nodes_.end() || !it->second.raft) continue;
        (void)it->second.raft->Step(m);
        delivered++;
      }
      Process();
    }
    return delivered;
  }

  void Tick(NodeId id, int n = 1) {
    for (int i = 0; i < n; i++) nodes_[id].raft->Tick();
    Process();
  }
  void TickAll(int n = 1) {
    for (int i = 0; i < n; i++) {
      for (auto& [id, node] : nodes_) {
        if (node.raft) node.raft->Tick();
      }
      Stabilize();
    }
  }

  void Elect(NodeId id) {
    raft(id).Campaign();
    Stabilize();
  }

  void Isolate(NodeId id) { isolated_.insert(id); }
  void Cut(NodeId a, NodeId b) { cut_.insert({a, b}), cut_.insert({b, a}); }
  void Heal() {
    isolated_.clear();
    cut_.clear();
  }
  std::function<bool(const Message&)> drop;  // extra filter, e.g. by message type

  // Every message delivered or dropped since the last clear.
  std::vector<Message>& sent() { return sent_; }
  std::vector<Message>& queue() { return queue_; }

 private:
  bool Dropped(const Message& m) const {
    if (isolated_.count(m.from) || isolated_.count(m.to)) return true;
    if (cut_.count({m.from, m.to})) return true;
    return drop && drop(m);
  }

  std::function<void(Config&)> tweak_;
  std::map<NodeId, TestNode> nodes_;
  std::vector<Message> queue_, sent_;
  uint64_t runs_ = 0;  // starts so far: each run's Config::run_id
  std::set<NodeId> isolated_;
  std::set<std::pair<NodeId, NodeId>> cut_;
};

// Node `id` crashes and restarts on `storage` (a backup, or a bootstrap state: a wiped
// directory), *recovering set first if given (the cluster's Config tweak reads it).
inline void RestartOn(TestCluster& c, NodeId id, const MemoryStorage& storage,
                      bool* recovering = nullptr) {
  c.Crash(id);
  c.node(id).storage = std::make_unique<MemoryStorage>(storage);
  c.node(id).applied.clear();
  if (recovering) *recovering = true;
  c.Start(id);
}

// Every index that two of nodes 1..n applied holds the same entry on both (State Machine
// Safety): "" if so, else the first conflict.
inline std::string AppliedConflict(TestCluster& c, int n) {
  std::map<uint64_t, std::pair<NodeId, std::string>> seen;
  for (NodeId id = 1; id <= static_cast<NodeId>(n); id++) {
    for (const Entry& e : c.node(id).applied) {
      const std::string what = e.data + "/" + std::to_string(e.term);
      auto [it, fresh] = seen.emplace(e.index, std::make_pair(id, what));
      if (!fresh && it->second.second != what) {
        return "index " + std::to_string(e.index) + ": node " +
               std::to_string(it->second.first) + " applied " + it->second.second +
               ", node " + std::to_string(id) + " applied " + what;
      }
    }
  }
  return "";
}

// Ticks only `ids`, an election timeout's worth, and delivers what follows: their leases on
// a leader that is not ticked (or cut off) run out.
inline void TickOnly(TestCluster& c, std::initializer_list<NodeId> ids) {
  for (int i = 0; i < 10; i++) {
    for (NodeId id : ids) c.raft(id).Tick();
  }
  c.Stabilize();
}

// A drop filter that holds back every message of `type` from `from` to `to`, into *held.
inline std::function<bool(const Message&)> Hold(NodeId from, NodeId to, MessageType type,
                                                std::vector<Message>* held) {
  return [=](const Message& m) {
    if (m.from != from || m.to != to || m.type != type) return false;
    held->push_back(m);
    return true;
  };
}

}  // namespace flin::raft::test_util
