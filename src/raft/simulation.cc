// The simulation driver: virtual clock, network, nodes, clients and faults (simulation.h).

#include "raft/simulation.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <set>

#include "raft/codec.h"
#include "raft/sim_checker.h"

namespace flin::raft {

namespace {

constexpr int kTickMs = 10;
constexpr int kElectionTick = 10;
constexpr int kMaxNodes = 8;      // ids 1..kMaxNodes, never reused
constexpr int kMaxClients = 16;
constexpr int64_t kOpTimeoutMs = 400;

std::string S(uint64_t v) { return std::to_string(v); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x2545F4914F6CDD1Dull + 0x9E3779B97F4A7C15ull) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n ? Next() % n : 0; }
  int64_t Range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Below(hi - lo + 1)); }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

 private:
  uint64_t s_;
};

// The replicated state machine: an append-only log of write ids, kept as (count, last, hash).
struct StateMachine {
  uint64_t count = 0;
  uint64_t last = 0;
  uint64_t hash = 0;

  std::string Serialize(uint64_t pad) const {
    std::string s = S(count) + "," + S(last) + "," + S(hash) + ";";
    // Padding makes snapshots span several chunks.
    for (uint64_t i = 0; i < pad; i++) s.push_back(static_cast<char>('a' + (hash + i) % 26));
    return s;
  }
  static StateMachine Parse(const std::string& data) {
    StateMachine sm;
    if (data.empty()) return sm;
    unsigned long long c = 0, l = 0, h = 0;
    if (std::sscanf(data.c_str(), "%llu,%llu,%llu;", &c, &l, &h) == 3) sm = {c, l, h};
    return sm;
  }
};

struct PendingWrite {
  size_t op;  // index into writes_
  uint64_t index, term;
  int client;
};
struct PendingRead {
  size_t op;  // index into reads_
  uint64_t read_index = 0;  // 0 until the ReadState arrives
  int client;
};

struct Node {
  NodeId id = kNoNode;
  bool alive = false;
  bool shut_down = false;       // removed from the cluster and stopped for good
  bool removal_proposed = false;
  int phase_ms = 0;
  int64_t restart_at = -1;
  std::unique_ptr<MemoryStorage> storage;  // survives crashes
  std::unique_ptr<MemoryStorage> backup;   // an older copy of storage (SimOptions::restore_share)
  std::unique_ptr<RawNode> raft;
  StateMachine sm;
  uint64_t applied = 0;
  ConfState applied_conf;
  std::map<std::string, PendingRead> reads;  // by context
  std::map<uint64_t, PendingWrite> writes;   // by index
  uint64_t incarnation = 0;
  uint64_t last_commit = 0;
  // Nodes with odd ids keep the chunks of a snapshot they receive themselves, as a cluster
  // node does in a file (Config::stage_snapshot_chunk); a crash loses them.
  std::string staged;
  // Lost its storage, and not yet recovered (persisted with the storage: it survives crashes).
  bool recovering = false;
  bool crash_after_send = false;  // granted a vote: crashes once it is sent (crash_after_vote)
  uint64_t copies_checked_term = 0;  // accept_data_loss: CheckHoldsEveryCopy done as its leader
};

struct InFlight {
  Message msg;
  uint64_t from_incarnation;
};

struct Client {
  bool busy = false;
  int64_t next_op_at = 0;
  NodeId node = kNoNode;
  int64_t deadline = 0;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& o) : opt_(o), rng_(o.seed) {}
  SimResult Run();

 private:
  void Trace(std::string ev);
  // accept_data_loss: a leader that committed in its term holds every node's committed
  // prefix (each node's stable storage, crashed ones too), the claim unanimous elections
  // rest on.
  void CheckHoldsEveryCopy(const Node& leader);
  bool Failed() const { return !result_.failure.empty() || !checker_.failure().empty(); }
  Config NodeConfig(NodeId id, uint64_t applied);
  void Start(Node& n);
  void Stop(Node& n);
  // wipe: restarts on empty storage; restore: on its backup (both recovering).
  void Crash(Node& n, const char* how, bool wipe = false, bool restore = false);
  void HandleReady(Node& n);
  void ApplyEntry(Node& n, const Entry& e);
  void SendMessage(Node& n, Message m);
  void Deliver(InFlight f);
  void AfterStep(Node& n);
  void ClientStep(int c);
  void FaultStep();
  void Membership();
  void MaybeCompact(Node& n);
  Node* RandomLeader();
  void CheckSettled();  // SimOptions::settle_ms
  bool Connected(NodeId a, NodeId b) const { return !cut_[a][b]; }
  void Finish();

  SimOptions opt_;
  Rng rng_;
  int64_t now_ = 0;
  uint64_t msg_seq_ = 0;
  Node nodes_[kMaxNodes + 1];
  ConfState initial_;  // the bootstrap membership
  int num_nodes_ = 0;  // ids 1..num_nodes_ exist
  bool cut_[kMaxNodes + 1][kMaxNodes + 1] = {};  // cut_[a][b]: a's messages to b are lost
  bool hold_[kMaxNodes + 1][kMaxNodes + 1] = {};  // ... or held until healed (hold_share)
  int64_t heal_at_ = -1;
  std::multimap<std::pair<int64_t, uint64_t>, InFlight> net_;
  SafetyChecker checker_;
  Client clients_[kMaxClients];
  int num_clients_ = 0;
  std::vector<WriteOp> writes_;
  std::vector<ReadOp> reads_;
  std::set<std::pair<uint64_t, NodeId>> leaders_seen_;
  // Fault rates chosen per seed.
  double drop_ = 0, dup_ = 0, crash_rate_ = 0, partition_rate_ = 0, conf_rate_ = 0;
  int64_t max_delay_ = 10;
  uint64_t max_msg_bytes_ = 200;
  std::deque<std::string> trace_;
  SimResult result_;
};

void Simulation::Trace(std::string ev) {
  trace_.push_back("[" + std::to_string(now_) + "ms] " + std::move(ev));
  if (!opt_.full_trace && trace_.size() > opt_.trace_events) trace_.pop_front();
}

Config Simulation::NodeConfig(NodeId id, uint64_t applied) {
  Config c;
  c.id = id;
  c.election_tick = kElectionTick;
  c.heartbeat_tick = 2;
  c.applied = applied;
  c.seed = opt_.seed * 131 + id * 7 + nodes_[id].incarnation;
  c.max_size_per_msg = max_msg_bytes_;  // small: exercises batching limits
  c.max_inflight_msgs = 4;        // small: exercises flow control
  c.snapshot_chunk_size = 300;    // small: snapshots take several chunks
  c.max_uncommitted_entries = 200;
  c.testing = opt_.knobs;
  c.recovering = nodes_[id].recovering;
  c.accept_data_loss = opt_.accept_data_loss;
  if (id % 2 == 1) {
    Node* n = &nodes_[id];
    c.stage_snapshot_chunk = [this, n](const SnapshotMeta&, uint64_t offset,
                                       std::string_view data) -> Result<bool> {
      if (opt_.faults && rng_.Chance(0.05)) return Status::IOError("staging failed");
      if (offset == 0) n->staged.clear();
      if (offset != n->staged.size()) {
        result_.failure = "node " + S(n->id) + ": snapshot chunk at " + S(offset) + " after " +
                          S(n->staged.size()) + " bytes kept";
      }
      n->staged.append(data);
      return true;
    };
  }
  return c;
}

void Simulation::Start(Node& n) {
  n.incarnation++;
  const Snapshot& snap = n.storage->snapshot();
  n.sm = StateMachine::Parse(snap.data);
  n.applied = snap.meta.index;
  n.applied_conf = snap.meta.conf_state;
  auto raft = RawNode::Create(NodeConfig(n.id, n.applied), n.storage.get());
  if (!raft.ok()) {
    result_.failure = "node " + S(n.id) + " failed to start: " + raft.status().ToString();
    return;
  }
  n.raft = std::move(raft.value());
  n.alive = true;
  if (n.recovering) {
    // Its peers meet it on a new data directory: their leaders forget what they knew of its
    // log (as a cluster node does on the handshake, RawNode::ResetProgress).
    for (int i = 1; i <= num_nodes_; i++) {
      if (i != static_cast<int>(n.id) && nodes_[i].alive) nodes_[i].raft->ResetProgress(n.id);
    }
  }
  n.restart_at = -1;
  n.last_commit = n.raft->committed();
  Trace("start node " + S(n.id) + " term=" + S(n.raft->term()) + " commit=" +
        S(n.raft->committed()) + " last=" + S(n.raft->last_index()));
}

void Simulation::Stop(Node& n) {
  n.alive = false;
  n.raft.reset();
  n.staged.clear();
  n.crash_after_send = false;
  // Clients waiting on this node learn nothing: their operations stay indeterminate.
  for (auto& [ctx, r] : n.reads) clients_[r.client].busy = false;
  for (auto& [idx, w] : n.writes) clients_[w.client].busy = false;
  n.reads.clear();
  n.writes.clear();
}

void Simulation::Crash(Node& n, const char* how, bool wipe, bool restore) {
  restore = restore && !wipe && n.backup != nullptr;
  Trace("CRASH node " + S(n.id) + " (" + how + ")" + (wipe ? ", storage WIPED" : "") +
        (restore ? ", storage RESTORED from an older copy" : ""));
  result_.stats.crashes++;
  Stop(n);
  if (wipe) {
    // As a node restarted on an empty data directory: the bootstrap state, no memory of any
    // vote, entry or snapshot.
    result_.stats.wipes++;
    n.storage = std::make_unique<MemoryStorage>(MemoryStorage::WithSnapshot(1, 1, initial_));
    n.recovering = !opt_.wipe_without_recovering;
  } else if (restore) {
    // As a node started on a backup of its data directory: what it promised since is gone.
    result_.stats.restores++;
    n.storage = std::make_unique<MemoryStorage>(*n.backup);
    n.recovering = !opt_.restore_without_recovering;
  } else if (rng_.Chance(0.5)) {
    n.backup = std::make_unique<MemoryStorage>(*n.storage);  // a copy of what it holds now
  }
  n.restart_at = now_ + (rng_.Chance(0.3) ? rng_.Range(1, 30) : rng_.Range(20, 600));
}

void Simulation::SendMessage(Node& n, Message m) {
  result_.stats.messages++;
  if (m.to > static_cast<NodeId>(num_nodes_)) return;
  if (opt_.faults && opt_.crash_after_vote > 0 && m.type == MessageType::kVoteResp && !m.reject &&
      rng_.Chance(opt_.crash_after_vote)) {
    n.crash_after_send = true;
  }
  if (opt_.faults && rng_.Chance(drop_)) return;
  int copies = opt_.faults && rng_.Chance(dup_) ? 2 : 1;
  // Round-trip through the codec, as the cluster bus would.
  std::string wire;
  EncodeMessage(m, &wire);
  auto decoded = DecodeMessage(wire);
  if (!decoded.ok() || !(decoded.value() == m)) {
    result_.failure = "codec round trip failed for " + DescribeMessage(m);
    return;
  }
  for (int i = 0; i < copies; i++) {
    int64_t delay = rng_.Range(1, max_delay_);
    if (opt_.faults && rng_.Chance(0.05)) delay += rng_.Range(10, 80);  // reordering
    net_.emplace(std::make_pair(now_ + delay, msg_seq_++), InFlight{m, n.incarnation});
  }
}

void Simulation::Deliver(InFlight f) {
  Node& to = nodes_[f.msg.to];
  if (!Connected(f.msg.from, f.msg.to)) {
    const Node& from = nodes_[f.msg.from];
    if (hold_[f.msg.from][f.msg.to] && from.alive && from.incarnation == f.from_incarnation) {
      // Held by the sender's transport: tried again later, delivered once the link heals.
      net_.emplace(std::make_pair(now_ + rng_.Range(5, 40), msg_seq_++), std::move(f));
    }
    return;
  }
  if (!to.alive) return;
  Trace("deliver " + DescribeMessage(f.msg));
  Status s = to.raft->Step(f.msg);
  if (!s.ok()) {
    result_.failure = "Step rejected " + DescribeMessage(f.msg) + ": " + s.ToString();
    return;
  }
  AfterStep(to);
}

void Simulation::ApplyEntry(Node& n, const Entry& e) {
  checker_.OnApply(n.id, n.applied, e);
  n.applied = e.index;
  if (e.type == EntryType::kConfChange) {
    auto cc = DecodeConfChange(e.data);
    if (cc.ok()) {
      auto next = ApplyConfChange(n.applied_conf, cc.value());
      if (next.ok()) n.applied_conf = next.value();
    }
    result_.stats.conf_changes++;
  } else if (!e.data.empty()) {
    uint64_t id = std::strtoull(e.data.c_str() + 1, nullptr, 10);
    n.sm.count++;
    n.sm.last = id;
    n.sm.hash = HashBytes(e.data, n.sm.hash + 1);
  }
  auto it = n.writes.find(e.index);
  if (it != n.writes.end()) {
    PendingWrite w = it->second;
    n.writes.erase(it);
    clients_[w.client].busy = false;
    if (w.term == e.term) {
      writes_[w.op].ack = now_;
      result_.stats.writes_acked++;
      checker_.OnAck(e.index, e.term);
      Trace("client " + std::to_string(w.client) + " write " + S(writes_[w.op].id) + " acked at " +
            S(e.index) + "/" + S(e.term));
    }
  }
}

void Simulation::HandleReady(Node& n) {
  while (n.alive && n.raft->HasReady() && !Failed()) {
    Ready rd = n.raft->GetReady();
    if (opt_.faults && rng_.Chance(0.002)) {
      Crash(n, "before persisting a Ready");
      return;
    }
    if (rd.snapshot) {
      Trace("node " + S(n.id) + " installs snapshot " + S(rd.snapshot->meta.index) + "/" +
            S(rd.snapshot->meta.term));
      checker_.OnSnapshot(n.id, rd.snapshot->meta);
      Snapshot snap = *rd.snapshot;
      if (snap.staged) {
        snap.data = std::move(n.staged);
        n.staged.clear();
        snap.staged = false;
      }
      (void)n.storage->ApplySnapshot(snap);
      n.sm = StateMachine::Parse(snap.data);
      n.applied = rd.snapshot->meta.index;
      n.applied_conf = rd.snapshot->meta.conf_state;
      result_.stats.snapshots_sent++;
    }
    checker_.OnPersist(n.id, *n.raft, rd.entries);
    Status s = n.storage->Append(rd.entries);
    if (!s.ok()) {
      result_.failure = "node " + S(n.id) + " storage append: " + s.ToString();
      return;
    }
    if (rd.hard_state) n.storage->SetHardState(*rd.hard_state);
    if (n.recovering && !n.raft->recovering()) {
      n.recovering = false;  // persisted after the entries that ended the recovery
      Trace("node " + S(n.id) + " recovered its lost state");
    } else if (!n.recovering && n.raft->recovering()) {
      // A leader's heartbeat showed it lost acknowledged entries (RawNode::BeginRecovery).
      // Only a node whose storage went back in time unbeknown to it can; anything else is a
      // false alarm.
      if (!opt_.wipe_without_recovering && !opt_.restore_without_recovering) {
        result_.failure = "node " + S(n.id) + " began recovering, but lost nothing";
        return;
      }
      n.recovering = true;  // persisted: a crash from here on starts the recovery over
      Trace("node " + S(n.id) + " learned it lost acknowledged entries: recovering");
    }
    if (opt_.faults && rng_.Chance(0.002)) {
      Crash(n, "after persisting, before sending");
      return;
    }
    for (Message& m : rd.messages) SendMessage(n, std::move(m));
    for (const Entry& e : rd.committed_entries) ApplyEntry(n, e);
    for (const ReadState& rs : rd.read_states) {
      auto it = n.reads.find(rs.context);
      if (it != n.reads.end()) it->second.read_index = std::max<uint64_t>(rs.index, 1);
    }
    for (auto it = n.reads.begin(); it != n.reads.end();) {
      if (it->second.read_index != 0 && it->second.read_index <= n.applied) {
        ReadOp& op = reads_[it->second.op];
        op.done = now_;
        op.count = n.sm.count;
        result_.stats.reads_done++;
        if (op.lease) result_.stats.lease_reads_done++;
        clients_[it->second.client].busy = false;
        Trace("client " + std::to_string(it->second.client) + std::string(op.lease ? " lease" : "") +
              " read at node " + S(n.id) + " index " + S(it->second.read_index) + " -> " +
              S(op.count) + " writes");
        it = n.reads.erase(it);
      } else {
        ++it;
      }
    }
    n.raft->Advance(rd);
    if (rd.soft_state) {
      Trace("node " + S(n.id) + " is " + RoleName(rd.soft_state->role) + " term " +
            S(n.raft->term()) + " leader " + S(rd.soft_state->leader));
    }
    MaybeCompact(n);
  }
}

void Simulation::AfterStep(Node& n) {
  HandleReady(n);
  if (!n.alive) return;
  if (n.crash_after_send) {
    n.crash_after_send = false;
    const bool wipe = rng_.Chance(opt_.wipe_share);
    Crash(n, "voter, just voted", wipe, !wipe && rng_.Chance(opt_.restore_share));
    return;
  }
  if (n.raft->role() != Role::kLeader) return;
  const bool elected = leaders_seen_.emplace(n.raft->term(), n.id).second;
  if (elected) result_.stats.elections++;
  // Once a leader commits in its term (a unanimous winner only after every voter acknowledged
  // it from the run that voted), it holds every node's committed prefix.
  if (opt_.accept_data_loss && n.copies_checked_term != n.raft->term() &&
      n.raft->TermAt(n.raft->committed()) == n.raft->term()) {
    n.copies_checked_term = n.raft->term();
    CheckHoldsEveryCopy(n);
  }
  if (elected && opt_.accept_data_loss) {
    if (n.raft->unanimous_campaign()) {
      // It may have accepted a loss: what was committed before may be gone, and so may be
      // the history the older copies belong to (a copy from before is no backup of this one).
      Trace("node " + S(n.id) + " won a unanimous election: a new era");
      result_.stats.unanimous_elections++;
      checker_.NewEra();
      for (int i = 1; i <= num_nodes_; i++) nodes_[i].backup.reset();
    }
  }
  checker_.OnLeader(n.id, *n.raft);
  checker_.OnLeaderCommit(n.id, *n.raft);
  const bool committed = n.raft->committed() > n.last_commit;
  n.last_commit = n.raft->committed();
  if (opt_.faults && ((elected && rng_.Chance(opt_.crash_after_election)) ||
                      (committed && rng_.Chance(opt_.crash_after_commit)))) {
    Crash(n, elected ? "leader, just elected" : "leader, just advanced its commit index");
  }
}

void Simulation::MaybeCompact(Node& n) {
  // Take a snapshot now and then, and sometimes drop the whole log behind it.
  const uint64_t snap_index = n.storage->snapshot().meta.index;
  if (n.applied < snap_index + 15 || !rng_.Chance(0.2)) return;
  Status s = n.storage->CreateSnapshot(n.applied, n.applied_conf, n.sm.Serialize(rng_.Range(0, 900)));
  if (!s.ok()) return;
  (void)n.storage->Compact(n.applied - std::min<uint64_t>(n.applied - 1, rng_.Range(0, 8)));
}

Node* Simulation::RandomLeader() {
  std::vector<Node*> leaders;
  for (int i = 1; i <= num_nodes_; i++) {
    if (nodes_[i].alive && nodes_[i].raft->role() == Role::kLeader) leaders.push_back(&nodes_[i]);
  }
  if (leaders.empty()) return nullptr;
  return leaders[rng_.Below(leaders.size())];
}

void Simulation::ClientStep(int c) {
  Client& cl = clients_[c];
  if (cl.busy) {
    if (now_ < cl.deadline) return;
    // Give up: the outcome stays unknown (an unacknowledged write may still commit).
    Node& n = nodes_[cl.node];
    for (auto it = n.reads.begin(); it != n.reads.end();) {
      it = it->second.client == c ? n.reads.erase(it) : std::next(it);
    }
    for (auto it = n.writes.begin(); it != n.writes.end();) {
      it = it->second.client == c ? n.writes.erase(it) : std::next(it);
    }
    cl.busy = false;
  }
  if (now_ < cl.next_op_at) return;
  cl.next_op_at = now_ + rng_.Range(0, 15);
  // Clients stick to the node they last used while it says it is leader (as a real client
  // would until redirected), else look for a leader.
  Node* n = nullptr;
  if (cl.node != kNoNode && nodes_[cl.node].alive && nodes_[cl.node].raft->role() == Role::kLeader &&
      rng_.Chance(0.7)) {
    n = &nodes_[cl.node];
  } else {
    n = RandomLeader();
  }
  if (n == nullptr) return;
  if (rng_.Chance(0.5)) {
    WriteOp w{writes_.size() + 1, now_, -1};
    auto res = n->raft->Propose("w" + S(w.id));
    if (!res.ok()) return;  // a definite failure: not part of the history
    writes_.push_back(w);
    n->writes[res.value().index] = PendingWrite{writes_.size() - 1, res.value().index, res.value().term, c};
    Trace("client " + std::to_string(c) + " write " + S(w.id) + " proposed at node " + S(n->id) +
          " as " + S(res.value().index) + "/" + S(res.value().term));
  } else {
    const bool lease = opt_.lease_reads && rng_.Chance(0.5);
    std::string ctx = "r" + S(reads_.size());
    if (!n->raft->ReadIndex(ctx, lease ? ReadMode::kLease : ReadMode::kSafe).ok()) return;
    reads_.push_back(ReadOp{now_, -1, 0, lease, n->id});
    n->reads[ctx] = PendingRead{reads_.size() - 1, 0, c};
    Trace("client " + std::to_string(c) + (lease ? " lease" : "") + " read at node " + S(n->id));
  }
  cl.busy = true;
  cl.node = n->id;
  cl.deadline = now_ + rng_.Range(kOpTimeoutMs / 8, kOpTimeoutMs);
  AfterStep(*n);
}

void Simulation::Membership() {
  Node* l = RandomLeader();
  if (l == nullptr) return;
  const ConfState cs = l->raft->conf_state();
  ConfChange cc;
  const uint64_t r = rng_.Below(10);
  if (!cs.learners.empty() && r < 3) {
    cc = {ConfChangeType::kPromoteLearner, cs.learners[rng_.Below(cs.learners.size())]};
  } else if (num_nodes_ < kMaxNodes && r < 7 && cs.voters.size() + cs.learners.size() < 6) {
    cc = {r < 6 ? ConfChangeType::kAddLearner : ConfChangeType::kAddVoter,
          static_cast<NodeId>(num_nodes_ + 1)};
  } else {
    std::vector<NodeId> members = cs.learners;
    if (cs.voters.size() > 3) members.insert(members.end(), cs.voters.begin(), cs.voters.end());
    if (members.empty()) return;
    cc = {ConfChangeType::kRemoveNode, members[rng_.Below(members.size())]};
  }
  auto res = l->raft->ProposeConfChange(cc);
  if (!res.ok()) return;
  static constexpr const char* kNames[] = {"add voter", "add learner", "remove", "promote"};
  Trace("admin: " + std::string(kNames[static_cast<int>(cc.type)]) + " " + S(cc.node) + " at node " +
        S(l->id) + " index " + S(res.value().index));
  if (cc.type == ConfChangeType::kAddLearner || cc.type == ConfChangeType::kAddVoter) {
    // A brand-new node with an empty log: it learns everything from the leader.
    Node& n = nodes_[++num_nodes_];
    n.id = cc.node;
    n.phase_ms = static_cast<int>(rng_.Below(kTickMs));
    n.storage = std::make_unique<MemoryStorage>();
    Start(n);
  } else if (cc.type == ConfChangeType::kRemoveNode) {
    nodes_[cc.node].removal_proposed = true;
  }
  AfterStep(*l);
}

void Simulation::FaultStep() {
  const uint64_t r = rng_.Below(100000);
  const double p = static_cast<double>(r) / 100000;
  if (p < partition_rate_) {
    if (heal_at_ >= 0) return;  // one partition at a time
    // Split the nodes into two random groups, isolate one node (the leader, for kind 3), or
    // cut a few links (a non-transitive partition: a and b both reach c but not each other).
    const uint64_t kind = rng_.Below(4);
    NodeId victim = 1 + rng_.Below(num_nodes_);
    if (kind == 3) {
      Node* l = RandomLeader();
      if (l) victim = l->id;
    }
    int group[kMaxNodes + 1] = {};
    for (int i = 1; i <= num_nodes_; i++) {
      group[i] = kind == 0 ? static_cast<int>(rng_.Below(2)) : static_cast<NodeId>(i) == victim;
    }
    std::string desc;
    for (int a = 1; a <= num_nodes_; a++) {
      for (int b = 1; b <= num_nodes_; b++) {
        if (kind != 2) cut_[a][b] = group[a] != group[b];
      }
    }
    if (kind == 2) {
      for (int k = 0, n = 1 + static_cast<int>(rng_.Below(2)); k < n; k++) {
        const NodeId a = 1 + rng_.Below(num_nodes_), b = 1 + rng_.Below(num_nodes_);
        if (a != b) cut_[a][b] = cut_[b][a] = true;
      }
    }
    for (int a = 1; a <= num_nodes_; a++) {
      for (int b = a + 1; b <= num_nodes_; b++) {
        if (cut_[a][b]) desc += " " + S(a) + "-" + S(b);
      }
    }
    if (opt_.hold_share > 0) {
      for (int a = 1; a <= num_nodes_; a++) {
        for (int b = 1; b <= num_nodes_; b++) {
          hold_[a][b] = cut_[a][b] && rng_.Chance(opt_.hold_share);
          if (hold_[a][b]) desc += " (" + S(a) + "->" + S(b) + " held)";
        }
      }
    }
    heal_at_ = now_ + rng_.Range(50, 1200);
    Trace("PARTITION cut links" + desc);
  } else if (p < partition_rate_ + crash_rate_) {
    Node* l = RandomLeader();
    Node& n = (l && rng_.Chance(0.5)) ? *l : nodes_[1 + rng_.Below(num_nodes_)];
    if (n.alive) {
      const bool wipe = rng_.Chance(opt_.wipe_share);
      Crash(n, "random", wipe, !wipe && rng_.Chance(opt_.restore_share));
    }
  } else if (p < partition_rate_ + crash_rate_ + conf_rate_) {
    if (!opt_.membership) return;
    Membership();
  } else if (p < partition_rate_ + crash_rate_ + conf_rate_ + 0.002) {
    Node* l = RandomLeader();
    if (l) {
      const auto& voters = l->raft->conf_state().voters;
      NodeId to = voters[rng_.Below(voters.size())];
      if (l->raft->TransferLeader(to).ok()) {
        Trace("admin: transfer leadership " + S(l->id) + " -> " + S(to));
        AfterStep(*l);
      }
    }
  }
}

void Simulation::CheckHoldsEveryCopy(const Node& leader) {
  const RawNode& l = *leader.raft;
  for (int i = 1; i <= num_nodes_; i++) {
    const Node& n = nodes_[i];
    if (!n.storage) continue;
    const uint64_t c = n.storage->hard_state().commit;
    auto t = n.storage->Term(c);
    if (!t.ok() || c + 1 < l.first_index()) continue;  // compacted on one side
    if (c > l.last_index() || l.TermAt(c) != t.value()) {
      result_.failure = "Copy Completeness: leader " + S(leader.id) + " of term " +
                        S(l.term()) + " lacks node " + S(n.id) + "'s committed " + S(c) + "/" +
                        S(t.value()) + "; its log has term " + S(l.TermAt(c)) + ", last index " +
                        S(l.last_index());
      return;
    }
  }
}

void Simulation::Finish() {
  if (Failed()) return;
  // An accepted loss may lose acknowledged writes: the history is not checked.
  if (opt_.accept_data_loss) return;
  std::vector<uint64_t> order;
  for (const auto& [index, a] : checker_.applied()) {
    if (a.type == EntryType::kNormal && !a.data.empty()) {
      order.push_back(std::strtoull(a.data.c_str() + 1, nullptr, 10));
    }
  }
  std::vector<ReadOp> done;
  for (const ReadOp& r : reads_) {
    if (r.done >= 0) done.push_back(r);
  }
  std::string err = CheckLinearizable(writes_, done, order);
  if (!err.empty()) result_.failure = "Linearizability: " + err;
}

SimResult Simulation::Run() {
  num_nodes_ = opt_.nodes ? opt_.nodes : (rng_.Chance(0.5) ? 3 : 5);
  if (opt_.faults) {
    const double drops[] = {0, 0.01, 0.05, 0.15};
    drop_ = drops[rng_.Below(4)];
    dup_ = rng_.Chance(0.5) ? 0.02 : 0;
    max_delay_ = rng_.Range(2, 30);
    const uint64_t sizes[] = {1, 200, 4096};
    max_msg_bytes_ = sizes[rng_.Below(3)];
    if (opt_.max_msg_bytes > 0) max_msg_bytes_ = opt_.max_msg_bytes;
    const double rates[] = {0, 0.001, 0.003, 0.008};
    crash_rate_ = rates[rng_.Below(4)];
    partition_rate_ = rates[rng_.Below(4)];
    if (opt_.crash_rate >= 0) crash_rate_ = opt_.crash_rate;
    if (opt_.partition_rate >= 0) partition_rate_ = opt_.partition_rate;
  }
  conf_rate_ = opt_.membership ? 0.003 : 0;
  num_clients_ = std::clamp(opt_.clients, 1, kMaxClients);
  Trace("seed " + S(opt_.seed) + ": " + S(num_nodes_) + " nodes, drop " + std::to_string(drop_) +
        " dup " + std::to_string(dup_) + " max delay " + S(max_delay_) + "ms");
  ConfState& initial = initial_;
  for (int i = 1; i <= num_nodes_; i++) initial.voters.push_back(i);
  for (int i = 1; i <= num_nodes_; i++) {
    Node& n = nodes_[i];
    n.id = i;
    n.phase_ms = static_cast<int>(rng_.Below(kTickMs));
    n.storage = std::make_unique<MemoryStorage>(MemoryStorage::WithSnapshot(1, 1, initial));
    Start(n);
  }
  const int64_t end = static_cast<int64_t>(opt_.duration_ms) + std::max(0, opt_.settle_ms);
  bool settling = false;
  for (now_ = 0; now_ < end && !Failed(); now_++) {
    if (!settling && now_ >= opt_.duration_ms) {
      settling = true;
      opt_.faults = false;  // no more drops, duplicates, delays, crashes or failed stagings
      for (auto& row : cut_) std::fill(std::begin(row), std::end(row), false);
      heal_at_ = -1;
      for (int i = 1; i <= num_nodes_; i++) {
        if (!nodes_[i].alive && !nodes_[i].shut_down) nodes_[i].restart_at = now_;
      }
      Trace("SETTLE: faults off, partitions healed, crashed nodes restart");
    }
    while (!net_.empty() && net_.begin()->first.first <= now_ && !Failed()) {
      InFlight f = std::move(net_.begin()->second);
      net_.erase(net_.begin());
      Deliver(std::move(f));
    }
    for (int i = 1; i <= num_nodes_ && !Failed(); i++) {
      Node& n = nodes_[i];
      if (!n.alive && !n.shut_down && n.restart_at >= 0 && now_ >= n.restart_at) Start(n);
      if (n.alive && now_ % kTickMs == n.phase_ms) {
        n.raft->Tick();
        AfterStep(n);
      }
    }
    for (int c = 0; c < num_clients_ && !Failed(); c++) ClientStep(c);
    if (heal_at_ >= 0 && now_ >= heal_at_) {
      for (auto& row : cut_) std::fill(std::begin(row), std::end(row), false);
      heal_at_ = -1;
      Trace("HEAL");
    }
    if (!Failed() && !settling) FaultStep();
    // Stop nodes whose removal is committed (the leader applied it).
    if (Node* l = RandomLeader()) {
      for (int i = 1; i <= num_nodes_; i++) {
        Node& n = nodes_[i];
        if (n.removal_proposed && n.alive && !l->applied_conf.Contains(n.id) &&
            l->applied_conf.voters.size() > 0 && l->raft->conf_state() == l->applied_conf) {
          Trace("node " + S(n.id) + " removed: shut down");
          Stop(n);
          n.shut_down = true;
        }
      }
    }
  }
  if (settling && !Failed()) CheckSettled();
  Finish();
  if (result_.failure.empty()) result_.failure = checker_.failure();
  result_.ok = result_.failure.empty();
  result_.trace.assign(trace_.begin(), trace_.end());
  return result_;
}

}  // namespace

void Simulation::CheckSettled() {
  // The configuration of the most advanced log: who must take part.
  const Node* newest = nullptr;
  Node* leader = nullptr;
  for (int i = 1; i <= num_nodes_; i++) {
    Node& n = nodes_[i];
    if (!n.alive) continue;
    if (!newest || n.raft->last_index() > newest->raft->last_index()) newest = &n;
    if (n.raft->role() == Role::kLeader && (!leader || n.raft->term() > leader->raft->term())) {
      leader = &n;
    }
  }
  if (!newest) return;
  const ConfState& cs = (leader ? leader : newest)->raft->conf_state();
  size_t ordinary = 0;
  for (NodeId v : cs.voters) ordinary += !nodes_[v].recovering && !nodes_[v].shut_down;
  // Accepting data loss, every voter up elects someone whatever they lost.
  if (ordinary < cs.voters.size() / 2 + 1 && !opt_.accept_data_loss) {
    Trace("SETTLE: fewer than a quorum of ordinary voters; nothing can be elected, by design");
    return;
  }
  const std::string after = " after " + S(opt_.settle_ms) + "ms without faults";
  if (!leader) {
    result_.failure = "LIVENESS: no leader" + after;
    return;
  }
  for (const std::vector<NodeId>* ids : {&cs.voters, &cs.learners}) {
    for (NodeId id : *ids) {
      const Node& n = nodes_[id];
      if (n.alive && n.raft->recovering()) {
        result_.failure = "LIVENESS: node " + S(id) + " still recovering" + after + " (term " +
                          S(n.raft->term()) + ", commit " + S(n.raft->committed()) +
                          ", leader " + S(leader->id) + " at commit " +
                          S(leader->raft->committed()) + ")";
        return;
      }
    }
  }
}

SimResult RunSimulation(const SimOptions& options) {
  auto sim = std::make_unique<Simulation>(options);
  return sim->Run();
}

}  // namespace flin::raft
