// Log replication: proposals, AppendEntries with batching and an inflight window, fast
// backtracking, heartbeats and the commit rule.

#include <algorithm>

#include "raft/raw_node.h"

namespace flin::raft {

Result<ProposeResult> RawNode::AppendProposal(EntryType type, std::string data) {
  if (role_ != Role::kLeader) return Status::NotLeader("not the leader");
  if (lead_transferee_ != kNoNode) return Status::Busy("leadership transfer in progress");
  if (log_.LastIndex() - log_.committed() >= cfg_.max_uncommitted_entries) {
    return Status::Busy("too many uncommitted entries");
  }
  Entry e;
  e.term = term_;
  e.index = log_.LastIndex() + 1;
  e.type = type;
  e.data = std::move(data);
  ProposeResult res{e.index, e.term};
  AppendToLog({std::move(e)});
  pending_bcast_ = true;  // sent with the next Ready, batched with other proposals
  MaybeCommit();
  return res;
}

void RawNode::AppendToLog(std::vector<Entry> ents) {
  log_.Append(ents);
  TrackConfChanges(ents);
  auto it = prs_.find(cfg_.id);
  if (it != prs_.end()) it->second.MaybeUpdate(log_.LastIndex());
}

void RawNode::BcastAppend() {
  for (auto& [id, pr] : prs_) {
    if (id == cfg_.id) continue;
    // Pipelining: a follower in replicate state gets as many appends as its window allows.
    if (!SendAppend(id, /*send_if_empty=*/true)) continue;
    while (pr.state == ProgressState::kReplicate && SendAppend(id, /*send_if_empty=*/false)) {
    }
  }
}

bool RawNode::SendAppend(NodeId to, bool send_if_empty) {
  auto it = prs_.find(to);
  if (it == prs_.end()) return false;
  Progress& pr = it->second;
  if (pr.IsPaused(cfg_.max_inflight_msgs)) return false;
  const uint64_t prev = pr.next - 1;
  auto prev_term = log_.Term(prev);
  std::vector<Entry> ents;
  Status s = prev_term.ok() ? log_.Slice(pr.next, log_.LastIndex() + 1, cfg_.max_size_per_msg, &ents)
                            : prev_term.status();
  if (!s.ok()) {
    if (IsCompacted(s)) StartSnapshot(to, pr);
    return false;  // other storage errors: retried on the next heartbeat response
  }
  if (ents.empty() && !send_if_empty) return false;
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = prev_term.value();
  m.commit = log_.committed();
  const uint64_t count = ents.size();
  const uint64_t last = count ? ents.back().index : prev;
  m.entries = std::move(ents);
  pr.SentEntries(last, count);
  pr.sent_tick = ticks_;
  Send(std::move(m));
  return true;
}

void RawNode::BcastHeartbeat() {
  for (auto& [id, pr] : prs_) {
    if (id == cfg_.id) continue;
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = id;
    // Never tell a follower to commit past what it is known to hold.
    m.commit = std::min(pr.match, log_.committed());
    // And that entry's term (0: compacted here): a follower holding another entry there lost
    // what it acknowledged (HandleHeartbeat).
    m.log_term = log_.TermOrZero(m.commit);
    m.tick = ticks_;
    m.read_seq = read_seq_;
    Send(std::move(m));
  }
}

bool RawNode::ConflictsWithCommitted(const Message& m) const {
  // Terms it no longer holds (compacted) are not judged.
  auto differs = [this](uint64_t index, uint64_t term) {
    auto mine = log_.Term(index);
    return mine.ok() && mine.value() != term;
  };
  if (differs(m.index, m.log_term)) return true;
  for (const Entry& e : m.entries) {
    if (e.index > log_.committed()) break;
    if (differs(e.index, e.term)) return true;
  }
  return false;
}

void RawNode::HandleAppend(const Message& m) {
  NoteRecoveryTarget(m);
  Message r;
  r.type = MessageType::kAppendResp;
  r.to = m.from;
  if (m.index < log_.committed()) {
    if (ConflictsWithCommitted(m)) {
      // The leader's log differs from what this replica committed (and may have applied):
      // never with correct storage. Acknowledging would claim a match that is not there (it
      // did), and truncating would undo applied state: it answers nothing and says so.
      events_.commit_conflicts++;
      return;
    }
    r.index = log_.committed();
    Send(std::move(r));
    return;
  }
  if (log_.MatchTerm(m.index, m.log_term)) {
    const uint64_t last_new = m.index + m.entries.size();
    const uint64_t ci = log_.FindConflict(m.entries);
    if (ci != 0 && ci > log_.committed()) {  // (entries here all lie past the commit index)
      std::vector<Entry> tail(m.entries.begin() + static_cast<long>(ci - m.index - 1),
                              m.entries.end());
      AppendToLog(std::move(tail));
    }
    log_.CommitTo(std::min(m.commit, last_new));
    if (verified_ != std::numeric_limits<uint64_t>::max()) verified_ = std::max(verified_, last_new);
    CompactConfHistory();
    r.index = last_new;
    Send(std::move(r));
    return;
  }
  // Reject with a hint: the largest index <= m.index whose term is <= m.log_term. The leader
  // then skips every entry of a conflicting term in one round trip.
  uint64_t hint = log_.FindConflictByTerm(std::min(m.index, log_.LastIndex()), m.log_term);
  r.reject = true;
  r.index = m.index;
  r.reject_hint = hint;
  r.log_term = log_.TermOrZero(hint);
  Send(std::move(r));
}

void RawNode::HandleAppendResponse(const Message& m) {
  auto it = prs_.find(m.from);
  if (it == prs_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  if (m.reject) {
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term);
    if (pr.MaybeDecrTo(m.index, next_probe)) {
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      SendAppend(m.from, /*send_if_empty=*/true);
    }
    return;
  }
  // An acknowledgement of entries this leader never had comes only from a follower whose
  // committed entries differ from this log (a correct one's are all here): never counted.
  if (m.index > log_.LastIndex()) return;
  const bool was_paused = pr.IsPaused(cfg_.max_inflight_msgs);
  if (!pr.MaybeUpdate(m.index)) return;
  switch (pr.state) {
    case ProgressState::kProbe: pr.BecomeReplicate(); break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) pr.BecomeReplicate();
      break;
    case ProgressState::kReplicate: pr.FreeInflightsTo(m.index); break;
  }
  if (MaybeCommit()) {
    if (role_ != Role::kLeader) return;  // stepped down after its own removal committed
    BcastAppend();
  } else if (was_paused) {
    // Even without new entries: the follower may not know the commit index yet.
    SendAppend(m.from, /*send_if_empty=*/true);
  }
  // Keep the window full for a follower catching up.
  while (SendAppend(m.from, /*send_if_empty=*/false)) {
  }
  if (m.from == lead_transferee_ && pr.match == log_.LastIndex()) SendTimeoutNow(m.from);
}

void RawNode::HandleHeartbeat(const Message& m) {
  // The leader sends min(its commit, what it believes we match) and that entry's term: past
  // our last index, or another entry there, we lost entries we acknowledged to it (our
  // storage went back in time). Committing as far as our log goes would commit a stale tail
  // (one of an older term, overwritten since, even within our log: review of session 13);
  // answering would count for its lease. Recover.
  if (!recovering_ &&
      (m.commit > log_.LastIndex() ||
       (m.commit > log_.committed() && m.log_term != 0 && !log_.MatchTerm(m.commit, m.log_term)))) {
    events_.lost_state++;
    BeginRecovery();
    return;
  }
  // A replica started on an older copy of its state (Config::recovering) trusts the leader's
  // commit index only as far as this run has verified.
  log_.CommitTo(std::min(m.commit, verified_));
  CompactConfHistory();
  Message r;
  r.type = MessageType::kHeartbeatResp;
  r.to = m.from;
  r.tick = m.tick;
  r.read_seq = m.read_seq;
  Send(std::move(r));
}

void RawNode::HandleHeartbeatResponse(const Message& m) {
  auto it = prs_.find(m.from);
  if (it == prs_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.ack_tick = std::max(pr.ack_tick, m.tick);
  pr.ack_read_seq = std::max(pr.ack_read_seq, m.read_seq);
  // Did the last append or chunk get lost? Only a heartbeat sent in a later tick says so: on
  // the ordered peer channel the answer to that message would have come first. Answers to
  // older heartbeats prove nothing, and a follower back from an outage answers a backlog of
  // them at once (queued for it meanwhile): resending on each sent the same megabyte-sized
  // probe dozens of times per partition, and stalled a leader's raft thread for seconds.
  const bool lost = m.tick > pr.sent_tick;
  if (pr.state == ProgressState::kSnapshot) {
    if (lost) SendSnapshotChunk(m.from, pr);  // resend the chunk the follower waits for
  } else {
    // A probe, or every append of a full window, was lost: allow another send (a rejection
    // will then move the follower back to probing).
    if (lost && pr.state == ProgressState::kProbe) pr.probe_sent = false;
    if (lost && pr.state == ProgressState::kReplicate && pr.IsPaused(cfg_.max_inflight_msgs)) {
      pr.inflight.pop_front();
    }
    if (pr.match < log_.LastIndex()) SendAppend(m.from, /*send_if_empty=*/true);
  }
  AdvanceReads();
}

bool RawNode::MaybeCommit() {
  if (conf_state().voters.empty()) return false;
  uint64_t mci = 0;
  if (unanimous_commit_pending_) {
    // Every voter, from the run it voted from (vote_runs_), before the first commit.
    mci = std::numeric_limits<uint64_t>::max();
    for (NodeId v : conf_state().voters) mci = std::min(mci, PeerValue(v, &Progress::match));
  } else {
    mci = QuorumValue([this](NodeId v) { return PeerValue(v, &Progress::match); });
  }
  bool advanced;
  if (cfg_.testing.commit_any_term) {
    advanced = mci > log_.committed();
    if (advanced) log_.CommitTo(mci);
  } else {
    // Raft's commit rule: only an entry of the current term commits by counting replicas
    // (Figure 8 of the Raft paper); earlier entries commit with it.
    advanced = log_.MaybeCommit(mci, term_);
  }
  if (advanced) {
    // Every voter granted this election and acknowledged an entry of its term from the run
    // that voted (only a unanimous election elects a recovering replica,
    // Config::accept_data_loss): this log holds everything any of them committed. Not
    // before: a winner whose election turns out void must not count as ordinary.
    if (unanimous_commit_pending_ && recovering_) EndRecovery();
    unanimous_commit_pending_ = false;
    AfterCommit();
  }
  return advanced;
}

void RawNode::AfterCommit() {
  CompactConfHistory();
  if (role_ == Role::kLeader && !conf_state().IsVoter(cfg_.id) &&
      LastConfIndex() <= log_.committed()) {
    // Our own removal (or a configuration without us) is committed: stop leading.
    BecomeFollower(term_, kNoNode);
  }
}

}  // namespace flin::raft
