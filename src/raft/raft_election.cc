// Elections: timers, role transitions, pre-vote, votes and check-quorum.

#include <algorithm>

#include "raft/raw_node.h"

namespace flin::raft {

void RawNode::ResetTimers() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_election_timeout_ =
      cfg_.election_tick + static_cast<int>(NextRandom() % static_cast<uint64_t>(cfg_.election_tick));
}

bool RawNode::InLease() const {
  if (!cfg_.check_quorum) return false;
  return (lead_ != kNoNode || boot_lease_) && election_elapsed_ < cfg_.election_tick;
}

void RawNode::TickElection() {
  election_elapsed_++;
  if (!recovery_term_known_ && ticks_ % static_cast<uint64_t>(cfg_.heartbeat_tick + 1) == 0) {
    ProbeTermsWhileRecovering();
  }
  if (boot_lease_ && election_elapsed_ >= cfg_.election_tick) boot_lease_ = false;
  if (Promotable() && election_elapsed_ >= randomized_election_timeout_) {
    election_elapsed_ = 0;
    events_.election_timeouts++;
    StartElection(cfg_.pre_vote, /*transfer=*/false);
  }
}

void RawNode::TickHeartbeat() {
  heartbeat_elapsed_++;
  election_elapsed_++;
  if (election_elapsed_ >= cfg_.election_tick) {
    election_elapsed_ = 0;
    if (cfg_.check_quorum && !QuorumActive()) {
      events_.quorum_losses++;
      BecomeFollower(term_, kNoNode);
      return;
    }
    if (lead_transferee_ != kNoNode) {
      events_.transfers_aborted++;
      AbortTransfer();  // a transfer that did not finish within an election timeout
    }
  }
  if (heartbeat_elapsed_ >= cfg_.heartbeat_tick) {
    heartbeat_elapsed_ = 0;
    BcastHeartbeat();
  }
}

bool RawNode::QuorumActive() {
  size_t active = 0;
  for (NodeId v : conf_state().voters) {
    if (v == cfg_.id) {
      active++;
      continue;
    }
    auto it = prs_.find(v);
    if (it != prs_.end() && it->second.recent_active) active++;
  }
  for (auto& [id, pr] : prs_) pr.recent_active = false;
  return active >= Quorum();
}

void RawNode::BecomeFollower(uint64_t term, NodeId lead) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
    ResetSnapshotReceive();
  }
  role_ = Role::kFollower;
  lead_ = lead;
  if (lead != kNoNode) unanimous_next_ = false;
  unanimous_commit_pending_ = false;
  vote_runs_.clear();
  ResetTimers();
  prs_.clear();
  votes_.clear();
  pending_reads_.clear();
  lead_transferee_ = kNoNode;
  pending_bcast_ = false;
}

void RawNode::BecomePreCandidate() {
  // Term and vote stay: a pre-election changes nothing durable.
  role_ = Role::kPreCandidate;
  lead_ = kNoNode;
  votes_.clear();
  prs_.clear();
  pending_reads_.clear();
  ResetTimers();
}

uint64_t RawNode::CampaignTerm() const {
  return unanimous_campaign_ ? unanimous_term_ : term_ + 1;
}

void RawNode::BecomeCandidate() {
  term_ = CampaignTerm();
  vote_runs_.clear();
  vote_ = cfg_.id;
  role_ = Role::kCandidate;
  lead_ = kNoNode;
  votes_.clear();
  prs_.clear();
  pending_reads_.clear();
  ResetSnapshotReceive();
  ResetTimers();
}

void RawNode::BecomeLeader() {
  role_ = Role::kLeader;
  lead_ = cfg_.id;
  unanimous_next_ = false;
  unanimous_commit_pending_ = unanimous_campaign_ && conf_state().voters.size() > 1;
  ResetTimers();
  votes_.clear();
  prs_.clear();
  lead_transferee_ = kNoNode;
  lease_revoked_ = false;
  leader_since_tick_ = ticks_;
  SyncProgress();
  // The no-op of the new term: committing it commits every earlier entry (entries of older
  // terms never commit by counting replicas), and reads wait for it.
  term_start_index_ = log_.LastIndex() + 1;
  Entry e;
  e.term = term_;
  e.index = term_start_index_;
  AppendToLog({e});
  pending_bcast_ = true;
  MaybeCommit();
}

void RawNode::StartElection(bool pre_vote, bool transfer) {
  // A campaign's kind is chosen once: the vote after a won pre-vote keeps it. An ordinary
  // replica's unanimous campaign is one try; it tries a majority next unless another
  // unanimous candidate with an older log comes along (a flag left on must not leave a group
  // waiting for every voter where a majority would do).
  if (pre_vote || role_ != Role::kPreCandidate) {
    unanimous_campaign_ = CampaignsUnanimously();
    unanimous_next_ = false;
    // A unanimous campaign accepts a loss: terms of the lost era may lie beyond every term a
    // live replica knows (all of their holders lost them), and one reused could meet a
    // message, or entries, of its earlier leader. It leaps past any era of fewer elections
    // than the gap, by a random amount more: two lost eras leaping from one term would
    // otherwise meet in the same one (raft_sim seed 1448 of the wipe profile with the flag).
    if (unanimous_campaign_) {
      unanimous_term_ = term_ + kLossTermGap + NextRandom() % kLossTermGap;
    }
  }
  if (pre_vote) {
    BecomePreCandidate();
  } else {
    BecomeCandidate();
  }
  const uint64_t vote_term = pre_vote ? CampaignTerm() : term_;
  const MessageType req = pre_vote ? MessageType::kPreVote : MessageType::kVote;
  votes_[cfg_.id] = true;
  if (votes_.size() >= VotesToWin()) {
    // A single-voter group wins at once.
    if (pre_vote) {
      StartElection(false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  RequestVotes(req, vote_term, transfer, /*run_id=*/0, unanimous_campaign_);
}

size_t RawNode::VotesToWin() const {
  return unanimous_campaign_ ? conf_state().voters.size() : Quorum();
}

void RawNode::RequestVotes(MessageType type, uint64_t term, bool force, uint64_t run_id,
                           bool unanimous) {
  for (NodeId v : conf_state().voters) {
    if (v == cfg_.id) continue;
    Message m;
    m.type = type;
    m.to = v;
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    m.force = force;
    m.run_id = run_id;
    m.unanimous = unanimous;
    if (unanimous) m.commit = log_.committed();  // what it is judged by (HandleVoteRequest)
    Send(std::move(m));
  }
}

void RawNode::HandleVoteRequest(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) ||
                  (pre && m.term > term_);
  if (!pre && cfg_.testing.vote_twice) can_vote = true;
  // Its earlier self's votes are unknown (Config::recovering); only a unanimous election may
  // have its vote, once it knows its peers' terms, and in a term above all of those, in which
  // its earlier self may have voted (Config::accept_data_loss).
  if (recovering_ && !(cfg_.accept_data_loss && m.unanimous && recovery_term_known_ &&
                       m.term > vote_floor_)) {
    can_vote = false;
  }
  // A unanimous candidate must hold everything this replica committed: committed prefixes of
  // one history form a chain, so a commit index at least this one's says it does (a newer
  // last entry does not: it may be a stale tail that never committed). Ties go to the newer
  // log, keeping what it can.
  const bool up_to_date =
      m.unanimous ? (m.commit > log_.committed() ||
                     (m.commit == log_.committed() && log_.IsUpToDate(m.index, m.log_term)))
                  : log_.IsUpToDate(m.index, m.log_term);
  // A unanimous candidate behind this replica cannot win while it refuses: this replica (or
  // one further ahead) must, and only a unanimous campaign can have the votes of replicas
  // accepting data loss. So its next campaign is unanimous (once: StartElection).
  if (m.unanimous && !up_to_date && lead_ == kNoNode) unanimous_next_ = true;
  Message r;
  r.type = pre ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  r.to = m.from;
  if (pre) r.run_id = m.run_id;  // answers a recovering replica's probe
  if (can_vote && up_to_date) {
    // The answer carries the term asked about, so a pre-candidate can count it.
    r.term = m.term;
    // ... and to a unanimous candidate, the run the grant comes from (vote_runs_).
    if (!pre && m.unanimous && recovering_) r.run_id = run_id_;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    r.reject = true;
  }
  Send(std::move(r));
}

void RawNode::HandleVoteResponse(const Message& m) {
  const bool pre = role_ == Role::kPreCandidate;
  if ((m.type == MessageType::kPreVoteResp) != pre) return;
  if (!conf_state().IsVoter(m.from)) return;
  const bool first = votes_.emplace(m.from, !m.reject).second;  // the first answer counts
  if (first && !pre && unanimous_campaign_ && !m.reject) vote_runs_[m.from] = m.run_id;
  size_t granted = 0, rejected = 0;
  for (const auto& [id, ok] : votes_) (ok ? granted : rejected)++;
  if (granted >= VotesToWin()) {
    if (pre) {
      StartElection(false, /*transfer=*/false);
    } else {
      BecomeLeader();
    }
  } else if (rejected >= (unanimous_campaign_ ? 1 : Quorum())) {
    BecomeFollower(term_, kNoNode);
  }
}

}  // namespace flin::raft
