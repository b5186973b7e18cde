// Linearizable reads: ReadIndex (a heartbeat round confirms leadership) and the leader lease.

#include <algorithm>

#include "raft/raw_node.h"

namespace flin::raft {

Status RawNode::ReadIndex(std::string context, ReadMode mode) {
  if (role_ != Role::kLeader) return Status::NotLeader("not the leader");
  // Everything committed before this call is at or below our commit index or our term's
  // first entry (Leader Completeness), so applying up to here sees it.
  ReadState rs{std::max(log_.committed(), term_start_index_), std::move(context)};
  if ((mode == ReadMode::kLease && LeaseValid()) ||
      (conf_state().voters.size() == 1 && conf_state().IsVoter(cfg_.id))) {
    read_states_.push_back(std::move(rs));
    return Status::Ok();
  }
  if (pending_reads_.size() >= cfg_.max_pending_reads) return Status::Busy("too many reads");
  pending_reads_.push_back(PendingRead{++read_seq_, std::move(rs)});
  BcastHeartbeat();
  return Status::Ok();
}

void RawNode::AdvanceReads() {
  if (pending_reads_.empty()) return;
  const uint64_t confirmed = QuorumValue([this](NodeId v) {
    return v == cfg_.id ? read_seq_ : PeerValue(v, &Progress::ack_read_seq);
  });
  while (!pending_reads_.empty() && pending_reads_.front().seq <= confirmed) {
    read_states_.push_back(std::move(pending_reads_.front().state));
    pending_reads_.pop_front();
  }
}

uint64_t RawNode::LeaseRemainingTicks() const {
  if (!LeaseValid()) return 0;
  if (cfg_.testing.lease_without_check_quorum) return 1;
  const uint64_t since = QuorumValue([this](NodeId v) {
    return v == cfg_.id ? ticks_ : PeerValue(v, &Progress::ack_tick);
  });
  return since + static_cast<uint64_t>(lease_ticks_) - ticks_;
}

bool RawNode::LeaseValid() const {
  if (role_ != Role::kLeader) return false;
  // The bug etcd's docs warn about: a lease trusted because "check_quorum would have deposed
  // us", with check_quorum off.
  if (cfg_.testing.lease_without_check_quorum) return true;
  if (lease_ticks_ <= 0 || lease_revoked_) return false;
  // The lease runs from the send tick of the heartbeat a quorum acknowledged; acks of
  // heartbeats sent before we became leader do not count.
  const uint64_t since = QuorumValue([this](NodeId v) {
    return v == cfg_.id ? ticks_ : PeerValue(v, &Progress::ack_tick);
  });
  return since >= leader_since_tick_ && since + static_cast<uint64_t>(lease_ticks_) > ticks_;
}

}  // namespace flin::raft
