// libFuzzer target for the Raft core under a hostile or broken peer: one replica of a group
// that has committed a few entries (chosen by the first byte: the leader, a follower or a
// learner of 3 voters, a follower of 5, or a replica that lost its state and recovers) is
// driven by the input alone: messages decoded from the input (any type, term,
// index, entries, snapshot chunks; `from` any of the voters, a stranger or node 0) or built
// from a few bytes around the replica's own term and log (AimedMessage), ticks,
// proposals, reads, transfers, campaigns, the application's handling of each Ready, log
// compaction and restarts from what it persisted. Peers are trusted to follow the protocol
// only for safety across the group; whatever one sends, this replica must not crash, and must
// keep the promises that are its own to keep:
//  - its term never goes back, and it votes at most once per term (both as persisted);
//  - its commit index never goes back, is never past its last index, and applied <= commit;
//  - committed entries come to the application in order, each once, and never change:
//    an index once reported committed keeps its term in the log (until compacted), and a
//    snapshot older than what was applied is never handed over.
// Any violation aborts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "raft/codec.h"
#include "raft/raft_test_util.h"
#include "raft/raw_node.h"

namespace {

using namespace flin::raft;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t Byte() { return p_ < end_ ? *p_++ : 0; }
  std::string_view Bytes(size_t n) {
    n = std::min<size_t>(n, end_ - p_);
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

// One replica and what its application has seen and persisted.
class Replica {
 public:
  // recovering: the replica lost its state (Config::recovering); kept across restarts until
  // its recovery ends, as the application persists it.
  Replica(NodeId id, std::unique_ptr<MemoryStorage> storage, uint64_t run, bool recovering)
      : id_(id), storage_(std::move(storage)), run_(run), recovering_(recovering) {
    applied_ = storage_->snapshot().meta.index;
    Start();
  }

  RawNode& raft() { return *raft_; }

  void Start() {
    if (raft_) recovering_ = raft_->recovering();
    Config c;
    c.id = id_;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.seed = run_;
    c.run_id = ++run_;
    c.applied = applied_;
    c.recovering = recovering_;
    c.max_size_per_msg = 256;
    c.snapshot_chunk_size = 64;
    auto r = RawNode::Create(c, storage_.get());
    Check(r.ok());  // what it persisted itself must always load
    raft_ = std::move(r.value());
    persisted_ = storage_->hard_state();
    commit_ = raft_->committed();
  }

  // The application's handling of every pending Ready (persist, then apply). Checks what each
  // Ready hands over; Invariants() checks the state after every step of the input.
  void Process() {
    while (raft_->HasReady()) {
      Ready rd = raft_->GetReady();
      if (rd.snapshot) {
        Check(rd.snapshot->meta.index >= applied_);
        Check(storage_->ApplySnapshot(*rd.snapshot).ok() ||
              rd.snapshot->meta.index <= storage_->snapshot().meta.index);
        applied_ = std::max(applied_, rd.snapshot->meta.index);
      }
      if (!rd.entries.empty()) Check(storage_->Append(rd.entries).ok());
      if (rd.hard_state) {
        const HardState& hs = *rd.hard_state;
        Check(hs.term >= persisted_.term);
        if (hs.term == persisted_.term && persisted_.vote != kNoNode) {
          Check(hs.vote == persisted_.vote);
        }
        Check(hs.commit >= persisted_.commit);
        storage_->SetHardState(hs);
        persisted_ = hs;
      }
      for (const Entry& e : rd.committed_entries) {
        Check(e.index == applied_ + 1);
        auto [it, fresh] = committed_.emplace(e.index, e.term);
        Check(fresh || it->second == e.term);  // re-applied after a restart: the same entry
        applied_ = e.index;
      }
      raft_->Advance(rd);
    }
  }

  void Invariants() {
    Check(raft_->term() >= persisted_.term);
    Check(raft_->committed() >= commit_);
    commit_ = raft_->committed();
    Check(raft_->committed() <= raft_->last_index());
    for (const auto& [index, term] : committed_) {
      if (index < storage_->FirstIndex() || index > storage_->LastIndex()) continue;
      auto t = storage_->Term(index);
      Check(!t.ok() || t.value() == term);
    }
  }

  void Compact() {
    if (applied_ <= storage_->snapshot().meta.index || applied_ > storage_->LastIndex()) return;
    if (storage_->CreateSnapshot(applied_, raft_->conf_state(), "state").ok()) {
      (void)storage_->Compact(applied_);
    }
  }

 private:
  NodeId id_;
  std::unique_ptr<MemoryStorage> storage_;
  uint64_t run_;
  bool recovering_;
  std::unique_ptr<RawNode> raft_;
  HardState persisted_;
  uint64_t applied_ = 0;
  uint64_t commit_ = 0;
  std::map<uint64_t, uint64_t> committed_;  // index -> term, as reported committed
};

// The replica the input drives, in a group that elected node 1 and committed a few entries.
struct Scenario {
  std::unique_ptr<Replica> replica;
  NodeId self;
  int members;  // ids 1..members are in the group; members + 1 is a stranger
};

// kind % 5: 0 a follower, 1 the leader, 2 a learner (node 4) of a 3-voter group; 3 a follower
// of a 5-voter group; 4 a follower of a 3-voter group that lost its state and recovers.
Scenario Setup(uint8_t kind) {
  kind %= 5;
  test_util::TestCluster c(kind == 3 ? 5 : 3);
  c.Elect(1);
  c.TickAll();
  int members = kind == 3 ? 5 : 3;
  if (kind == 2) {
    Check(c.raft(1).ProposeConfChange({ConfChangeType::kAddLearner, 4}).ok());
    c.node(4);  // an empty node
    c.Start(4);
    members = 4;
  }
  for (const char* d : {"a", "b", "c"}) (void)c.raft(1).Propose(d);
  c.Stabilize();
  c.TickAll(3);  // the followers learn the commit index
  const NodeId self = kind == 1 ? 1 : kind == 2 ? 4 : 2;
  std::unique_ptr<MemoryStorage> storage = std::move(c.node(self).storage);
  if (kind == 4) {
    ConfState cs;
    cs.voters = {1, 2, 3};
    storage = std::make_unique<MemoryStorage>(MemoryStorage::WithSnapshot(1, 1, cs));
  }
  return {std::make_unique<Replica>(self, std::move(storage), 100, kind == 4), self, members};
}

// A message built from a few input bytes around the replica's own state (its term, last
// index and their terms), so that inputs reach what a peer's well-aimed message reaches;
// decoded messages rarely match the log.
Message AimedMessage(Input& in, RawNode& raft, int members) {
  Message m;
  m.type = static_cast<MessageType>(in.Byte() % kNumMessageTypes);
  m.from = 1 + in.Byte() % (members + 1);
  m.to = raft.id();
  const uint8_t f = in.Byte();
  m.term = raft.term() + (f & 3);
  if ((f & 4) && m.term > 0) m.term--;
  const uint64_t last = raft.last_index();
  m.index = last - std::min<uint64_t>(last, in.Byte() % 8) + ((f & 8) ? 1 : 0);
  m.log_term = (f & 16) ? in.Byte() % 5 : raft.TermAt(m.index);
  m.commit = m.index + in.Byte() % 5;
  m.commit -= std::min<uint64_t>(m.commit, in.Byte() % 5);
  m.reject = f & 32;
  m.force = f & 64;
  m.reject_hint = in.Byte() % 16;
  m.tick = in.Byte();
  m.read_seq = in.Byte() % 8;
  uint64_t term = m.log_term;
  for (int i = 0, n = in.Byte() % 4; i < n; i++) {
    Entry e;
    e.index = m.index + 1 + i;
    e.term = std::max(term, m.term - std::min<uint64_t>(m.term, in.Byte() % 2));
    e.data = std::string(in.Bytes(in.Byte() % 4));
    term = e.term;
    m.entries.push_back(std::move(e));
  }
  if (m.type == MessageType::kSnapshot || m.type == MessageType::kSnapshotResp) {
    m.snapshot.index = m.commit + in.Byte() % 8;
    m.snapshot.term = m.term - std::min<uint64_t>(m.term, in.Byte() % 2);
    m.snapshot.conf_state = raft.conf_state();  // this group's, or 1-3 with learner 4
    if (f & 128) m.snapshot.conf_state = ConfState{{1, 2, 3}, {4}};
    m.offset = in.Byte() % 4 * 16;
    m.chunk = std::string(in.Bytes(in.Byte() % 40));
    m.done = in.Byte() & 1;
  }
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  Scenario sc = Setup(in.Byte());
  Replica* r = sc.replica.get();
  const NodeId self = sc.self;
  while (!in.empty()) {
    const uint8_t op = in.Byte();
    switch (op % 12) {
      case 0:
      case 1: {  // a message from a peer
        const uint8_t how = in.Byte();
        const size_t n = in.Byte() | (static_cast<size_t>(in.Byte() & 3) << 8);
        auto m = DecodeMessage(in.Bytes(n));
        if (!m.ok()) break;
        Message msg = std::move(m.value());
        if (how & 1) msg.to = self;
        if (how & 2) msg.from = (how >> 2) % (sc.members + 2);  // 0 (invalid), members, a stranger
        (void)r->raft().Step(msg);
        break;
      }
      case 2:
        for (int i = 0, n = 1 + in.Byte() % 24; i < n; i++) r->raft().Tick();
        break;
      case 3:
        (void)r->raft().Propose(std::string(in.Bytes(in.Byte() % 16)));
        break;
      case 4:
        (void)r->raft().ReadIndex(std::string(in.Bytes(2)),
                                  (op & 16) ? ReadMode::kLease : ReadMode::kSafe);
        break;
      case 5:
        (void)r->raft().TransferLeader(in.Byte() % (sc.members + 2));
        break;
      case 6:
        r->raft().Campaign();
        break;
      case 7:
        r->Process();
        r->Compact();
        break;
      case 8:  // a crash: what was not persisted is lost
        r->Start();
        break;
      case 9:
        r->Process();
        break;
      default:
        (void)r->raft().Step(AimedMessage(in, r->raft(), sc.members));
        break;
    }
    r->Invariants();
  }
  r->Process();
  r->Invariants();
  return 0;
}
