// RawNode: construction, the input dispatch (Step / Tick / Propose) and the Ready cycle.
// Elections, replication, snapshots, reads and membership live in raft_*.cc.

#include "raft/raw_node.h"

#include <algorithm>

#include "raft/codec.h"

namespace flin::raft {

bool Ready::Empty() const {
  return !soft_state && !hard_state && read_states.empty() && entries.empty() && !snapshot &&
         committed_entries.empty() && messages.empty();
}

RawNode::RawNode(const Config& config, const Storage* storage)
    : cfg_(config),
      storage_(storage),
      log_(storage, config.max_committed_size_per_ready),
      rng_state_(config.seed * 0x9E3779B97F4A7C15ull + config.id) {}

Result<std::unique_ptr<RawNode>> RawNode::Create(const Config& config, const Storage* storage) {
  if (config.id == kNoNode) return Status::InvalidArgument("node id 0 is reserved");
  if (storage == nullptr) return Status::InvalidArgument("no storage");
  if (config.heartbeat_tick <= 0 || config.election_tick <= config.heartbeat_tick) {
    return Status::InvalidArgument("need 0 < heartbeat_tick < election_tick");
  }
  if (config.lease_ticks >= config.election_tick) {
    return Status::InvalidArgument("lease_ticks must be < election_tick");
  }
  if (config.max_inflight_msgs == 0 || config.snapshot_chunk_size == 0) {
    return Status::InvalidArgument("max_inflight_msgs and snapshot_chunk_size must be > 0");
  }
  std::unique_ptr<RawNode> node(new RawNode(config, storage));
  Status s = node->Init();
  if (!s.ok()) return s;
  return node;
}

Status RawNode::Init() {
  auto init = storage_->GetInitialState();
  if (!init.ok()) return init.status();
  const HardState& hs = init.value().hard_state;
  if (hs.commit > log_.LastIndex()) return Status::Corruption("commit beyond last index");
  term_ = hs.term;
  vote_ = hs.vote;
  log_.CommitTo(hs.commit);
  if (cfg_.applied > 0) log_.AppliedTo(cfg_.applied);
  conf_log_.emplace_back(storage_->FirstIndex() - 1, init.value().conf_state);
  Status s = LoadConfigFromLog();
  if (!s.ok()) return s;
  if (!cfg_.check_quorum) {
    lease_ticks_ = 0;
  } else {
    lease_ticks_ = cfg_.lease_ticks < 0 ? std::max(0, cfg_.election_tick - 2) : cfg_.lease_ticks;
  }
  if (cfg_.testing.lease_ticks_override > 0) lease_ticks_ = cfg_.testing.lease_ticks_override;
  if (cfg_.testing.lease_without_check_quorum) cfg_.check_quorum = false;
  boot_lease_ = !cfg_.testing.no_restart_lease;
  // The only voter of its group has nobody to learn from and nobody it could contradict:
  // waiting would wait for a leader that can only be itself.
  recovering_ = cfg_.recovering &&
                !(conf_state().voters.size() == 1 && conf_state().IsVoter(cfg_.id));
  if (recovering_) {
    verified_ = log_.committed();
    run_id_ = cfg_.run_id;
    while (run_id_ == 0) run_id_ = NextRandom();
  }
  recovery_term_known_ = !recovering_ || cfg_.testing.recover_without_terms ||
                         conf_state().voters.size() <= 1;  // nobody to learn a term from
  BecomeFollower(term_, kNoNode);
  prev_hard_state_ = hard_state();
  prev_soft_state_ = SoftState{lead_, role_};
  return Status::Ok();
}

uint64_t RawNode::NextRandom() {
  // splitmix64: tiny state, good enough for timeout jitter, fully deterministic.
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void RawNode::Tick() {
  ticks_++;
  if (role_ == Role::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

namespace {

// A configuration some leader could hold: voters, each named once, none also a learner.
bool ConfigPossible(const ConfState& cs) {
  std::vector<NodeId> ids = cs.voters;
  ids.insert(ids.end(), cs.learners.begin(), cs.learners.end());
  std::sort(ids.begin(), ids.end());
  return !cs.voters.empty() && ids.front() != kNoNode &&
         std::adjacent_find(ids.begin(), ids.end()) == ids.end();
}

// What every correct leader's message satisfies, and the log's invariants (an entry's index is
// its position; terms never go down, and never past the current term) rest on: an append's
// entries follow its (index, log_term) one index at a time, in terms from log_term up to the
// sender's; a snapshot's last entry is of a term from 1 up to the sender's, with a possible
// configuration. One append that broke it corrupted the log and hung the node; a snapshot of
// a later term would have made the replica's log outrank every correct one in elections
// (raft_hostile_peer_test; found while writing raw_node_fuzz).
bool WellFormed(const Message& m) {
  if (m.type == MessageType::kSnapshot) {
    return m.entries.empty() && m.snapshot.term >= 1 && m.snapshot.term <= m.term &&
           m.snapshot.index >= 1 && ConfigPossible(m.snapshot.conf_state);
  }
  if (m.type != MessageType::kAppend) return m.entries.empty();
  if (m.log_term > m.term || m.index > UINT64_MAX - m.entries.size()) return false;
  uint64_t term = m.log_term;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const Entry& e = m.entries[i];
    if (e.index != m.index + 1 + i || e.term < term || e.term > m.term) return false;
    term = e.term;
  }
  return true;
}

}  // namespace

Status RawNode::Step(const Message& m) {
  if (m.to != cfg_.id) return Status::InvalidArgument("message for another node");
  if (m.from == kNoNode || m.from == cfg_.id) return Status::InvalidArgument("bad sender");
  if (static_cast<int>(m.type) >= kNumMessageTypes) return Status::InvalidArgument("bad type");
  if (!WellFormed(m)) return Status::InvalidArgument("no correct leader sends this message");
  const bool is_vote = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (!recovery_term_known_) NoteTermWhileRecovering(m);

  if (m.term > term_) {
    if (is_vote && !m.force && InLease()) {
      // We heard from a live leader less than an election timeout ago: do not let a
      // partitioned node depose it (and keep the leader's lease promise).
      return Status::Ok();
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote does not change our term.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // The pre-candidate's term moves only when it starts the real election.
    } else if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnapshot) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((cfg_.check_quorum || cfg_.pre_vote || recovering_) &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
      // A stale leader (e.g. behind a healed partition) learns our term and steps down;
      // without this it could keep resetting nobody's timer while we cannot elect. A
      // recovering replica never campaigns, so it always tells: its copy's term may be above
      // the leader's (RaftRecoveryTest.ACopysHigherTermDeposesAStaleLeaderWithout...).
      Message r;
      r.type = MessageType::kAppendResp;
      r.to = m.from;
      Send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.type = MessageType::kPreVoteResp;
      r.to = m.from;
      r.reject = true;
      r.run_id = m.run_id;  // answers a recovering replica's probe (NoteTermWhileRecovering)
      Send(std::move(r));
    }
    return Status::Ok();
  }

  if (is_vote) {
    HandleVoteRequest(m);
    return Status::Ok();
  }
  const bool from_a_leader = m.type == MessageType::kAppend ||
                             m.type == MessageType::kHeartbeat || m.type == MessageType::kSnapshot;
  if (from_a_leader &&
      (role_ == Role::kLeader || (role_ == Role::kFollower && lead_ != kNoNode && lead_ != m.from))) {
    // A second leader of this term: no correct peer is one (Election Safety). Taking it as
    // ours would let two histories meet at one index of one term. It happens only where a
    // term was reused (two replicas that both lost their state, docs/RELIABILITY.md), and
    // then this narrows, not closes, the gap: a replica that knows no leader yet takes it.
    return Status::InvalidArgument("a second leader of this term");
  }
  switch (role_) {
    case Role::kLeader:
      if (UnanimousVoteVoid(m)) {
        BecomeFollower(term_, kNoNode);
        break;
      }
      NotePeerRun(m);
      switch (m.type) {
        case MessageType::kAppendResp: HandleAppendResponse(m); break;
        case MessageType::kHeartbeatResp: HandleHeartbeatResponse(m); break;
        case MessageType::kSnapshotResp: HandleSnapshotResponse(m); break;
        default: break;  // e.g. late vote responses
      }
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      switch (m.type) {
        case MessageType::kAppend:
        case MessageType::kHeartbeat:
        case MessageType::kSnapshot:
          // Someone won this term.
          BecomeFollower(term_, m.from);
          return Step(m);
        case MessageType::kVoteResp:
        case MessageType::kPreVoteResp: HandleVoteResponse(m); break;
        default: break;
      }
      break;
    case Role::kFollower:
      // A recovering replica that does not know its earlier self's term yet answers no
      // leader: it could be one its earlier self had already left behind (Config::recovering).
      if (!recovery_term_known_ && (m.type == MessageType::kAppend ||
                                    m.type == MessageType::kHeartbeat ||
                                    m.type == MessageType::kSnapshot)) {
        election_elapsed_ = 0;
        break;
      }
      if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
          m.type == MessageType::kSnapshot) {
        unanimous_next_ = false;  // it heard of a leader (Config::accept_data_loss)
      }
      switch (m.type) {
        case MessageType::kAppend:
          election_elapsed_ = 0;
          lead_ = m.from;
          HandleAppend(m);
          break;
        case MessageType::kHeartbeat:
          election_elapsed_ = 0;
          lead_ = m.from;
          HandleHeartbeat(m);
          break;
        case MessageType::kSnapshot:
          election_elapsed_ = 0;
          lead_ = m.from;
          HandleSnapshotChunk(m);
          break;
        case MessageType::kTimeoutNow:
          if (Promotable()) StartElection(/*pre_vote=*/false, /*transfer=*/true);
          break;
        default: break;
      }
      MaybeEndRecovery();
      break;
  }
  return Status::Ok();
}

void RawNode::NoteRecoveryTarget(const Message& m) {
  // Only a message sent after the leader heard from this run: older ones (delayed,
  // duplicated) may name less than the earlier self acknowledged.
  if (!recovering_ || m.run_id != run_id_) return;
  if (recovery_target_term_ != term_) {
    recovery_target_term_ = term_;
    recovery_target_ = 0;
  }
  recovery_target_ = std::max(recovery_target_, m.recover_to);
}

void RawNode::BeginRecovery() {
  if (recovering_) return;
  recovering_ = true;
  // As at a start on an older copy: what it committed stands (commit indexes only grow);
  // beyond that its log may hold a stale tail.
  verified_ = log_.committed();
  // A run its leaders have not heard recovering: they reset what they knew of its log.
  const uint64_t previous = run_id_;
  do {
    run_id_ = NextRandom() ^ cfg_.run_id;  // the app's id: distinct even for a repeated seed
  } while (run_id_ == 0 || run_id_ == previous || run_id_ == cfg_.run_id);
  recovery_target_ = 0;
  recovery_target_term_ = 0;
  recovery_terms_.clear();
  recovery_term_known_ = conf_state().voters.size() <= 1;
  BecomeFollower(term_, kNoNode);
  // Answers given from the stale state and not yet handed out (a vote granted earlier in the
  // same batch of messages): never sent, as if the network lost them.
  std::erase_if(msgs_, [](const Message& m) {
    return m.type == MessageType::kVoteResp || m.type == MessageType::kPreVoteResp ||
           m.type == MessageType::kAppendResp || m.type == MessageType::kHeartbeatResp ||
           m.type == MessageType::kSnapshotResp;
  });
}

namespace {
// The responses that name their sender's run (Message::run_id).
bool NamesARun(const Message& m) {
  return m.type == MessageType::kAppendResp || m.type == MessageType::kHeartbeatResp ||
         m.type == MessageType::kSnapshotResp;
}
}  // namespace

bool RawNode::UnanimousVoteVoid(const Message& m) const {
  if (!unanimous_commit_pending_ || !NamesARun(m)) return false;
  auto it = vote_runs_.find(m.from);
  return it != vote_runs_.end() && it->second != m.run_id;
}

void RawNode::NotePeerRun(const Message& m) {
  if (!NamesARun(m)) return;
  auto it = prs_.find(m.from);
  if (it == prs_.end() || it->second.run_id == m.run_id) return;
  it->second.run_id = m.run_id;
  if (m.run_id == 0) return;  // it recovered (or a delayed message of an ordinary run)
  // A run that lost what its earlier selves had: what this leader knew of the peer's log is
  // void (an acknowledgement of an earlier self may have come in since any reset), and
  // everything they could have acknowledged to it, or any earlier leader committed, lies at or
  // below this leader's last index.
  ResetProgress(m.from);
  it->second.recover_to = log_.LastIndex();
  SendAppend(m.from, /*send_if_empty=*/true);
}

void RawNode::MaybeEndRecovery() {
  if (!recovering_ || !recovery_term_known_ || lead_ == kNoNode || log_.committed() == 0) return;
  // A committed entry of the current term, in our log, from this term's leader (the only
  // source of this term's entries): see Config::recovering.
  if (log_.TermOrZero(log_.committed()) != term_) return;
  // ... and holding the leader's log as far as its first append of this run reached.
  if (recovery_target_term_ != term_ || log_.committed() < recovery_target_) return;
  recovering_ = false;
  if (vote_ == kNoNode) vote_ = lead_;  // whatever its earlier self did in this term
}

// Step 1 of a recovery (Config::recovering): an answer to one of this run's probes carries
// its sender's term when the probe reached it, after this run began.
void RawNode::NoteTermWhileRecovering(const Message& m) {
  // Any other message may have been sent before this run began (delayed or duplicated), with
  // a term its sender has left since (RaftRecoveryTest.ADuplicateFromBeforeTheRestartIsNotAnAnswer).
  if (m.type != MessageType::kPreVoteResp || m.run_id != run_id_) return;
  if (!conf_state().IsVoter(m.from)) return;
  uint64_t& t = recovery_terms_[m.from];
  t = std::max(t, m.term);
  // Every other voter: see Config::recovering for why a set meeting every quorum is not enough.
  for (NodeId v : conf_state().voters) {
    if (v != cfg_.id && recovery_terms_.count(v) == 0) return;
  }
  uint64_t highest = 0;
  for (const auto& [id, term] : recovery_terms_) highest = std::max(highest, term);
  // Steps into that term as a follower (no vote): the message being stepped is then judged
  // against it, and answered as its earlier self would have.
  if (highest > term_) BecomeFollower(highest, kNoNode);
  recovery_term_known_ = true;
  // Its earlier self may have voted in any term up to here (Config::accept_data_loss).
  vote_floor_ = term_;
  recovery_terms_.clear();
}

// Asks every other voter for its term: a pre-vote for term 1, below any term a peer that took
// part in an election holds, so each answers with a refusal carrying its term (or, at term 1,
// with term 1 either way) and this run's id. It changes nothing on the peers.
void RawNode::ProbeTermsWhileRecovering() {
  RequestVotes(MessageType::kPreVote, /*term=*/1, /*force=*/false, run_id_);
}

void RawNode::Campaign() {
  if (role_ == Role::kLeader || !Promotable()) return;
  StartElection(cfg_.pre_vote, /*transfer=*/false);
}

Result<ProposeResult> RawNode::Propose(std::string data) {
  return AppendProposal(EntryType::kNormal, std::move(data));
}

Result<ProposeResult> RawNode::ProposeConfChange(const ConfChange& cc) {
  if (role_ != Role::kLeader) return Status::NotLeader("not the leader");
  if (LastConfIndex() > log_.committed()) {
    return Status::Busy("a membership change is not committed yet");
  }
  if (log_.TermOrZero(log_.committed()) != term_) {
    return Status::Busy("leader has not committed an entry of its term yet");
  }
  auto next = ApplyConfChange(conf_state(), cc);
  if (!next.ok()) return next.status();
  return AppendProposal(EntryType::kConfChange, EncodeConfChange(cc));
}

void RawNode::Send(Message m) {
  m.from = cfg_.id;
  switch (m.type) {
    case MessageType::kAppendResp:
    case MessageType::kHeartbeatResp:
    case MessageType::kSnapshotResp:
      if (recovering_) m.run_id = run_id_;
      break;
    case MessageType::kAppend:
    case MessageType::kSnapshot:
      if (role_ == Role::kLeader && !cfg_.testing.no_run_echo) {
        auto it = prs_.find(m.to);
        if (it != prs_.end() && it->second.run_id != 0) {
          m.run_id = it->second.run_id;
          m.recover_to = it->second.recover_to;
        }
      }
      break;
    default: break;
  }
  // Responses to (pre)votes carry the term they answer; everything else carries ours.
  if (m.term == 0) m.term = term_;
  msgs_.push_back(std::move(m));
}

bool RawNode::HasReady() const {
  if (pending_bcast_ || !msgs_.empty() || !read_states_.empty()) return true;
  if (SoftState{lead_, role_} != prev_soft_state_) return true;
  if (hard_state() != prev_hard_state_) return true;
  if (log_.unstable_snapshot() || !log_.unstable_entries().empty()) return true;
  return log_.HasNextCommittedEntries();
}

Ready RawNode::GetReady() {
  if (pending_bcast_) {
    // Proposals since the last Ready go out together (batching).
    pending_bcast_ = false;
    BcastAppend();
  }
  Ready rd;
  SoftState ss{lead_, role_};
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  HardState hs = hard_state();
  if (hs != prev_hard_state_) {
    rd.hard_state = hs;
    prev_hard_state_ = hs;
  }
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.entries = log_.unstable_entries();
  if (log_.unstable_snapshot()) rd.snapshot = *log_.unstable_snapshot();
  rd.committed_entries = log_.NextCommittedEntries();
  rd.messages = std::move(msgs_);
  msgs_.clear();
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  if (rd.snapshot) {
    log_.StableSnapTo(rd.snapshot->meta.index);
    log_.AppliedTo(rd.snapshot->meta.index);
  }
  if (!rd.entries.empty()) log_.StableTo(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) log_.AppliedTo(rd.committed_entries.back().index);
}

void RawNode::ResetProgress(NodeId id) {
  if (role_ != Role::kLeader || id == cfg_.id) return;
  auto it = prs_.find(id);
  if (it == prs_.end()) return;
  Progress& pr = it->second;
  pr.BecomeProbe();
  pr.match = 0;
  pr.next = log_.LastIndex() + 1;  // a probe at the end; the peer's rejection says where it is
  pr.inflight.clear();
}

std::vector<PeerStatus> RawNode::Peers() const {
  std::vector<PeerStatus> out;
  if (role_ != Role::kLeader) return out;
  for (const auto& [id, pr] : prs_) {
    out.push_back(PeerStatus{id, pr.match, pr.next, pr.state, conf_state().IsLearner(id),
                             // 0 until it first answers this leader: counted as live.
                             id == cfg_.id || pr.ack_tick == 0
                                 ? 0
                                 : ticks_ - std::min(ticks_, pr.ack_tick)});
  }
  return out;
}

}  // namespace flin::raft
