#pragma once
// Checkers used by the simulation (simulation.h): Raft's safety properties, observed through
// what nodes persist, apply and report, and a linearizability checker for the clients'
// history. Internal to the simulation; single-threaded.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "raft/raw_node.h"

namespace flin::raft {

uint64_t HashBytes(std::string_view data, uint64_t seed = 1469598103934665603ull);

class SafetyChecker {
 public:
  // Every check records the first violation (failure() non-empty) and keeps going.
  const std::string& failure() const { return failure_; }

  // Election Safety: `id` is leader of `term`; Leader Completeness for its log.
  void OnLeader(NodeId id, const RawNode& node);
  // Log Matching: `node` persisted `ents` (its log holds them now).
  void OnPersist(NodeId id, const RawNode& node, const std::vector<Entry>& ents);
  // State Machine Safety: `id` applied `e` (after applying `prev_applied`).
  void OnApply(NodeId id, uint64_t prev_applied, const Entry& e);
  // A snapshot replaced a node's state up to meta.index.
  void OnSnapshot(NodeId id, const SnapshotMeta& meta);
  // The leader `node` reports commit index `commit`: entries up to it are committed in its term.
  void OnLeaderCommit(NodeId id, const RawNode& node);
  // A client was told its write at (index, term) succeeded.
  void OnAck(uint64_t index, uint64_t term);
  // A unanimous election that may have accepted a loss (Config::accept_data_loss): what was
  // committed and applied before may be gone, so those checks start over from here. Election
  // Safety and Log Matching span every era.
  void NewEra();

  // The committed log as applied (index -> (term, data)); index 1 is the bootstrap snapshot.
  struct AppliedEntry {
    uint64_t term = 0;
    uint64_t hash = 0;
    EntryType type = EntryType::kNormal;
    std::string data;
  };
  const std::map<uint64_t, AppliedEntry>& applied() const { return applied_; }

 private:
  void Fail(std::string msg);

  std::map<uint64_t, NodeId> leaders_;  // term -> leader
  // (index, term) -> (term of index-1, data hash), for Log Matching.
  std::map<std::pair<uint64_t, uint64_t>, std::pair<uint64_t, uint64_t>> entries_;
  std::map<uint64_t, AppliedEntry> applied_;
  // index -> (lowest leader term known to have committed it, entry term).
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> commit_term_;
  std::map<NodeId, uint64_t> leader_commit_seen_;  // per node: commit already recorded
  std::string failure_;
};

// One client operation, for the linearizability check. Times are virtual milliseconds.
struct WriteOp {
  uint64_t id = 0;
  int64_t invoke = 0;
  int64_t ack = -1;  // -1: outcome unknown (timed out, node crashed)
};
struct ReadOp {
  int64_t invoke = 0;
  int64_t done = 0;
  uint64_t count = 0;  // number of writes the state machine had applied when it answered
  bool lease = false;
  NodeId node = kNoNode;
};

// The state machine is an append-only log of write ids, so its state is a prefix of the
// committed write order `order` (write ids, log order; State Machine Safety makes it unique)
// and a read's answer is that prefix's length. The history is linearizable iff there are
// linearization points; with the write order fixed by the log this reduces to:
//   - a write acknowledged before another was invoked precedes it in the log;
//   - a read sees every write acknowledged before the read was invoked;
//   - a read sees no write invoked after the read returned;
//   - a read that returned before another read was invoked saw no more than it.
// Returns "" or a description of the first violation.
std::string CheckLinearizable(const std::vector<WriteOp>& writes, const std::vector<ReadOp>& reads,
                              const std::vector<uint64_t>& order);

}  // namespace flin::raft
