#include "raft/types.h"

#include <algorithm>
#include <cstdio>

namespace flin::raft {

namespace {
bool Has(const std::vector<NodeId>& v, NodeId id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}
void Erase(std::vector<NodeId>& v, NodeId id) { v.erase(std::remove(v.begin(), v.end(), id), v.end()); }
}  // namespace

bool ConfState::IsVoter(NodeId id) const { return Has(voters, id); }
bool ConfState::IsLearner(NodeId id) const { return Has(learners, id); }

Result<ConfState> ApplyConfChange(const ConfState& cs, const ConfChange& cc) {
  if (cc.node == kNoNode) return Status::InvalidArgument("conf change for node 0");
  ConfState out = cs;
  switch (cc.type) {
    case ConfChangeType::kAddVoter:
      if (cs.Contains(cc.node)) return Status::InvalidArgument("node already a member");
      out.voters.push_back(cc.node);
      break;
    case ConfChangeType::kAddLearner:
      if (cs.Contains(cc.node)) return Status::InvalidArgument("node already a member");
      out.learners.push_back(cc.node);
      break;
    case ConfChangeType::kRemoveNode:
      if (!cs.Contains(cc.node)) return Status::InvalidArgument("node not a member");
      if (cs.IsVoter(cc.node) && cs.voters.size() == 1) {
        return Status::InvalidArgument("cannot remove the last voter");
      }
      Erase(out.voters, cc.node);
      Erase(out.learners, cc.node);
      break;
    case ConfChangeType::kPromoteLearner:
      if (!cs.IsLearner(cc.node)) return Status::InvalidArgument("node is not a learner");
      Erase(out.learners, cc.node);
      out.voters.push_back(cc.node);
      break;
    default:
      return Status::InvalidArgument("unknown conf change type");
  }
  std::sort(out.voters.begin(), out.voters.end());
  std::sort(out.learners.begin(), out.learners.end());
  return out;
}

const char* MessageTypeName(MessageType t) {
  static constexpr const char* kNames[kNumMessageTypes] = {
      "App",          "AppResp",  "Vote",     "VoteResp", "PreVote",   "PreVoteResp",
      "Heartbeat",    "HeartbeatResp", "Snap", "SnapResp", "TimeoutNow"};
  int i = static_cast<int>(t);
  return i < kNumMessageTypes ? kNames[i] : "?";
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "?";
}

std::string DescribeMessage(const Message& m) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s %llu->%llu t=%llu lt=%llu i=%llu c=%llu%s", MessageTypeName(m.type),
                (unsigned long long)m.from, (unsigned long long)m.to, (unsigned long long)m.term,
                (unsigned long long)m.log_term, (unsigned long long)m.index,
                (unsigned long long)m.commit, m.reject ? " REJECT" : "");
  std::string s = buf;
  if (m.reject) s += " hint=" + std::to_string(m.reject_hint);
  if (!m.entries.empty()) {
    s += " ents=[" + std::to_string(m.entries.front().index) + ".." +
         std::to_string(m.entries.back().index) + "]";
  }
  if (m.type == MessageType::kSnapshot || m.type == MessageType::kSnapshotResp) {
    s += " snap=" + std::to_string(m.snapshot.index) + "/" + std::to_string(m.snapshot.term) +
         " off=" + std::to_string(m.offset) + " len=" + std::to_string(m.chunk.size()) +
         (m.done ? " done" : "");
  }
  if (m.type == MessageType::kHeartbeat || m.type == MessageType::kHeartbeatResp) {
    s += " tick=" + std::to_string(m.tick) + " rs=" + std::to_string(m.read_seq);
  }
  if (m.force) s += " force";
  if (m.unanimous) s += " unanimous";
  if (m.run_id != 0) {
    s += " run=" + std::to_string(m.run_id);
    if (m.recover_to != 0) s += " recover_to=" + std::to_string(m.recover_to);
  }
  return s;
}

}  // namespace flin::raft
