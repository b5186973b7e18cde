#pragma once
// Deterministic whole-cluster simulation of the Raft core (after canonical/raft's fixture and
// etcd raft's tests). One process holds 3 or 5 RawNodes (plus nodes added by membership
// changes), a virtual clock in milliseconds (a tick every 10 ms, each node at its own phase)
// and a network that drops, delays, duplicates and reorders messages and can be partitioned.
// Nodes crash (losing everything not yet persisted: a crash may even hit between receiving a
// Ready and persisting it, or between persisting and sending) and restart from their
// MemoryStorage, which models the application's fsynced stable storage. Simulated clients
// propose writes and do ReadIndex and lease reads throughout; an admin client changes
// membership and transfers leadership; nodes take snapshots and compact their logs.
//
// Checked after every step: Election Safety (at most one leader per term), Log Matching (via
// the (index, term) -> (previous term, data) map of every entry any node persisted), Leader
// Completeness (a new leader of term T holds every entry committed in a term < T, in
// particular every acknowledged write), State Machine Safety (no two nodes apply different
// entries at one index; each node applies indexes in order), acknowledged writes are
// committed. At the end: the clients' history is linearizable (register-style checker over
// the append-only write log, see simulation.cc).
//
// Everything is a function of SimOptions: a failing seed reproduces exactly.

#include <cstdint>
#include <string>
#include <vector>

#include "raft/raw_node.h"

namespace flin::raft {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 0;            // 3 or 5; 0 = chosen by the seed
  int duration_ms = 3000;   // virtual time simulated
  bool faults = true;       // partitions, crashes, drops, duplicates
  bool membership = true;   // add / remove / promote during the run
  bool lease_reads = true;  // clients also use lease reads
  size_t trace_events = 60; // events kept for a failure report
  bool full_trace = false;  // keep (and return) every event
  TestingKnobs knobs;       // deliberate bugs, applied to every node
  // Fault profile overrides (negative = chosen by the seed). Rates are per virtual ms.
  double crash_rate = -1;
  double partition_rate = -1;
  int max_msg_bytes = -1;   // Config::max_size_per_msg (1 = one entry per message)
  int clients = 4;          // concurrent clients, each with one operation outstanding
  // Targeted crash points (with faults): a leader crashes right after it advanced its commit
  // index, or right after it won an election (leaving its no-op on no other node).
  double crash_after_commit = 0.01;
  double crash_after_election = 0.03;
  // ... and a node crashes right after it granted a vote (sent with it), restarting wiped or
  // restored as wipe_share and restore_share say: its vote may still elect the candidate.
  // 0 (the default) leaves every other draw of a seed as it was.
  double crash_after_vote = 0;
  // Of the random crashes, the share that also wipe the node's storage: it restarts empty
  // (a lost data directory), told it is recovering (Config::recovering) until it is.
  double wipe_share = 0.1;
  bool wipe_without_recovering = false;  // a deliberate bug: the wiped node votes at once
  // Of the other random crashes, the share that restart the node on an older copy of its
  // storage (one kept at an earlier crash, as SAVE/BGSAVE keep a data directory): it forgot
  // every vote and entry since, and restarts recovering, as a cluster node started on a
  // backup does (its peers meet a new incarnation and reset what they knew of it).
  double restore_share = 0.05;
  bool restore_without_recovering = false;  // a deliberate bug: the restored node votes at once
  // Of the links a partition cuts, the share that HOLD messages instead of losing them, as
  // Flin's transport keeps payloads for an unreachable peer and sends them once it connects:
  // delivered after the heal unless the sender crashed first (its queue died with it).
  // 0 (the default) leaves every other draw of a seed as it was.
  double hold_share = 0;
  // Every node accepts data loss (Config::accept_data_loss). Each unanimous win then starts a
  // new era for the checks of committed and applied entries and acknowledged writes (what
  // came before may be lost, by design; older copies are dropped as of another history);
  // every leader that commits in its term must then hold every node's committed prefix
  // instead, and the clients'
  // history is not checked. Election Safety and Log Matching span every era.
  bool accept_data_loss = false;
  // Liveness: after duration_ms, this much more virtual time with faults off, partitions
  // healed and every crashed node restarted; then a leader must exist and every node in its
  // configuration must have recovered (Config::recovering). Skipped when fewer than a quorum
  // of the voters are ordinary replicas: nothing can be elected then, by design. 0: none.
  int settle_ms = 0;
};

struct SimStats {
  uint64_t writes_acked = 0;
  uint64_t reads_done = 0;
  uint64_t lease_reads_done = 0;
  uint64_t elections = 0;      // distinct (term, leader) pairs
  uint64_t crashes = 0;
  uint64_t wipes = 0;          // crashes that lost the node's storage
  uint64_t restores = 0;       // crashes after which the node restarted on an older copy
  uint64_t snapshots_sent = 0; // snapshots a follower installed from the leader
  uint64_t conf_changes = 0;   // applied by some node
  uint64_t unanimous_elections = 0;  // won unanimously (accept_data_loss): new eras
  uint64_t messages = 0;
};

struct SimResult {
  bool ok = true;
  std::string failure;              // which property broke, and where
  std::vector<std::string> trace;   // the last trace_events events (all with full_trace)
  SimStats stats;
};

SimResult RunSimulation(const SimOptions& options);

}  // namespace flin::raft
