// Membership (single-server changes effective when appended, see raw_node.h) and leadership
// transfer.

#include "raft/codec.h"
#include "raft/raw_node.h"

namespace flin::raft {

Status RawNode::LoadConfigFromLog() {
  // Replays the conf changes of the stored log on top of the snapshot's configuration.
  uint64_t lo = storage_->FirstIndex();
  const uint64_t hi = storage_->LastIndex() + 1;
  while (lo < hi) {
    std::vector<Entry> ents;
    Status s = storage_->Entries(lo, hi, cfg_.max_committed_size_per_ready, &ents);
    if (!s.ok()) return s;
    if (ents.empty()) return Status::Corruption("storage returned no entries");
    TrackConfChanges(ents);
    lo = ents.back().index + 1;
  }
  CompactConfHistory();
  return Status::Ok();
}

void RawNode::TrackConfChanges(const std::vector<Entry>& ents) {
  if (ents.empty()) return;
  const size_t before = conf_log_.size();
  const ConfState old = conf_state();
  // Entries at or after ents[0] were replaced: forget configurations they carried.
  while (conf_log_.size() > 1 && conf_log_.back().first >= ents[0].index) conf_log_.pop_back();
  for (const Entry& e : ents) {
    if (e.type != EntryType::kConfChange) continue;
    ConfState next = conf_state();
    auto cc = DecodeConfChange(e.data);
    if (cc.ok()) {
      auto applied = ApplyConfChange(conf_state(), cc.value());
      // An invalid change (never proposed by a correct leader) is a no-op on every node.
      if (applied.ok()) next = std::move(applied.value());
    }
    conf_log_.emplace_back(e.index, std::move(next));
  }
  if (conf_log_.size() != before || !(conf_state() == old)) SyncProgress();
}

void RawNode::ResetConfig(uint64_t index, const ConfState& cs) {
  conf_log_.clear();
  conf_log_.emplace_back(index, cs);
  SyncProgress();
}

void RawNode::CompactConfHistory() {
  // Committed configurations can never be truncated: keep only the newest of them.
  size_t keep = 0;
  while (keep + 1 < conf_log_.size() && conf_log_[keep + 1].first <= log_.committed()) keep++;
  if (keep > 0) conf_log_.erase(conf_log_.begin(), conf_log_.begin() + static_cast<long>(keep));
}

void RawNode::SyncProgress() {
  if (role_ != Role::kLeader) return;
  const ConfState& cs = conf_state();
  for (auto it = prs_.begin(); it != prs_.end();) {
    it = cs.Contains(it->first) ? std::next(it) : prs_.erase(it);
  }
  auto add = [&](NodeId id) {
    if (prs_.count(id)) return;
    Progress pr;
    pr.next = log_.LastIndex() + 1;
    if (id == cfg_.id) {
      pr.match = log_.LastIndex();
      pr.BecomeReplicate();
    }
    pr.recent_active = true;  // give a new peer one check-quorum round
    prs_.emplace(id, std::move(pr));
  };
  for (NodeId id : cs.voters) add(id);
  for (NodeId id : cs.learners) add(id);
  if (lead_transferee_ != kNoNode && !cs.IsVoter(lead_transferee_)) AbortTransfer();
}

Status RawNode::TransferLeader(NodeId to) {
  if (role_ != Role::kLeader) return Status::NotLeader("not the leader");
  if (to == cfg_.id) return Status::Ok();
  if (!conf_state().IsVoter(to)) return Status::InvalidArgument("transferee is not a voter");
  if (lead_transferee_ == to) return Status::Ok();
  lead_transferee_ = to;
  election_elapsed_ = 0;  // the transfer times out after one election timeout
  auto& pr = prs_[to];
  if (pr.match == log_.LastIndex()) {
    SendTimeoutNow(to);
  } else {
    SendAppend(to, /*send_if_empty=*/true);
  }
  return Status::Ok();
}

void RawNode::SendTimeoutNow(NodeId to) {
  // The transferee's election will ignore leases, so ours ends here for good.
  lease_revoked_ = true;
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

}  // namespace flin::raft
