#include "raft/sim_checker.h"

#include <algorithm>
#include <unordered_map>

namespace flin::raft {

uint64_t HashBytes(std::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

namespace {
std::string S(uint64_t v) { return std::to_string(v); }
}  // namespace

void SafetyChecker::Fail(std::string msg) {
  if (failure_.empty()) failure_ = std::move(msg);
}

void SafetyChecker::OnLeader(NodeId id, const RawNode& node) {
  const uint64_t term = node.term();
  auto [it, inserted] = leaders_.emplace(term, id);
  if (!inserted && it->second != id) {
    Fail("Election Safety: nodes " + S(it->second) + " and " + S(id) + " both leaders of term " +
         S(term));
    return;
  }
  if (!inserted) return;
  if (node.conf_state().IsLearner(id)) Fail("learner " + S(id) + " became leader");
  // Leader Completeness: every entry committed in an earlier term is in the new leader's log.
  for (const auto& [index, ct] : commit_term_) {
    const auto [commit_term, entry_term] = ct;
    if (commit_term >= term) continue;
    if (index + 1 < node.first_index()) continue;  // covered by the leader's snapshot
    if (index > node.last_index() || node.TermAt(index) != entry_term) {
      Fail("Leader Completeness: leader " + S(id) + " of term " + S(term) + " lacks entry " +
           S(index) + " (term " + S(entry_term) + ") committed in term " + S(commit_term) +
           "; its log has term " + S(node.TermAt(index)) + ", last index " +
           S(node.last_index()));
      return;
    }
  }
}

void SafetyChecker::OnPersist(NodeId id, const RawNode& node, const std::vector<Entry>& ents) {
  for (const Entry& e : ents) {
    const uint64_t prev = e.index >= node.first_index() ? node.TermAt(e.index - 1) : 0;
    const uint64_t h = HashBytes(e.data, static_cast<uint64_t>(e.type) + 1);
    auto [it, inserted] = entries_.emplace(std::make_pair(e.index, e.term), std::make_pair(prev, h));
    if (inserted) continue;
    if (it->second.second != h) {
      Fail("Log Matching: node " + S(id) + " holds a different entry " + S(e.index) + "/" +
           S(e.term));
    } else if (prev != 0 && it->second.first != 0 && it->second.first != prev) {
      Fail("Log Matching: node " + S(id) + " entry " + S(e.index) + "/" + S(e.term) +
           " follows term " + S(prev) + ", elsewhere term " + S(it->second.first));
    } else if (it->second.first == 0) {
      it->second.first = prev;
    }
  }
}

void SafetyChecker::OnApply(NodeId id, uint64_t prev_applied, const Entry& e) {
  if (e.index != prev_applied + 1) {
    Fail("node " + S(id) + " applied index " + S(e.index) + " after " + S(prev_applied));
    return;
  }
  AppliedEntry a{e.term, HashBytes(e.data, static_cast<uint64_t>(e.type) + 1), e.type, e.data};
  auto [it, inserted] = applied_.emplace(e.index, a);
  if (!inserted && (it->second.term != a.term || it->second.hash != a.hash)) {
    Fail("State Machine Safety: node " + S(id) + " applied " + S(e.index) + "/" + S(e.term) +
         ", another node applied " + S(e.index) + "/" + S(it->second.term));
  }
  auto ct = commit_term_.find(e.index);
  if (ct != commit_term_.end() && ct->second.second != e.term) {
    Fail("node " + S(id) + " applied " + S(e.index) + "/" + S(e.term) + " but " +
         S(e.index) + "/" + S(ct->second.second) + " was committed");
  }
}

void SafetyChecker::OnSnapshot(NodeId id, const SnapshotMeta& meta) {
  auto it = applied_.find(meta.index);
  if (it != applied_.end() && it->second.term != meta.term) {
    Fail("node " + S(id) + " installed snapshot " + S(meta.index) + "/" + S(meta.term) +
         " but " + S(meta.index) + "/" + S(it->second.term) + " was applied");
  }
}

void SafetyChecker::OnLeaderCommit(NodeId id, const RawNode& node) {
  uint64_t& seen = leader_commit_seen_[id];
  const uint64_t commit = node.committed();
  if (commit < seen) seen = 0;  // restarted
  for (uint64_t i = std::max(seen + 1, node.first_index()); i <= commit; i++) {
    const uint64_t t = node.TermAt(i);
    auto [it, inserted] = commit_term_.emplace(i, std::make_pair(node.term(), t));
    if (inserted) continue;
    if (it->second.second != t) {
      Fail("leader " + S(id) + " of term " + S(node.term()) + " committed " + S(i) + "/" + S(t) +
           " but " + S(i) + "/" + S(it->second.second) + " was committed in term " +
           S(it->second.first));
      return;
    }
    it->second.first = std::min(it->second.first, node.term());
  }
  seen = std::max(seen, commit);
}

void SafetyChecker::NewEra() {
  applied_.clear();
  commit_term_.clear();
  leader_commit_seen_.clear();
}

void SafetyChecker::OnAck(uint64_t index, uint64_t term) {
  auto it = applied_.find(index);
  if (it == applied_.end() || it->second.term != term) {
    Fail("acknowledged write " + S(index) + "/" + S(term) + " is not the applied entry");
  }
}

std::string CheckLinearizable(const std::vector<WriteOp>& writes, const std::vector<ReadOp>& reads,
                              const std::vector<uint64_t>& order) {
  std::unordered_map<uint64_t, const WriteOp*> by_id;
  for (const WriteOp& w : writes) by_id[w.id] = &w;
  // pos[k] = the write at log position k+1.
  std::vector<const WriteOp*> pos;
  for (uint64_t id : order) {
    auto it = by_id.find(id);
    if (it == by_id.end()) return "log holds write " + S(id) + " that no client issued";
    pos.push_back(it->second);
  }
  std::unordered_map<uint64_t, size_t> position;  // write id -> 1-based position
  for (size_t k = 0; k < pos.size(); k++) {
    if (!position.emplace(pos[k]->id, k + 1).second) return "write " + S(pos[k]->id) + " applied twice";
  }
  // Real-time order of writes: no write precedes, in the log, one acknowledged before it was
  // invoked. Scan backwards keeping the earliest acknowledgement among later positions.
  int64_t min_ack_after = -1;
  uint64_t min_ack_id = 0;
  for (size_t k = pos.size(); k-- > 0;) {
    if (min_ack_after >= 0 && pos[k]->invoke > min_ack_after) {
      return "write " + S(pos[k]->id) + " invoked at " + std::to_string(pos[k]->invoke) +
             " after write " + S(min_ack_id) + " was acknowledged, yet precedes it in the log";
    }
    if (pos[k]->ack >= 0 && (min_ack_after < 0 || pos[k]->ack < min_ack_after)) {
      min_ack_after = pos[k]->ack;
      min_ack_id = pos[k]->id;
    }
  }
  for (const WriteOp& w : writes) {
    if (w.ack >= 0 && !position.count(w.id)) return "acknowledged write " + S(w.id) + " lost";
  }
  // Writes acknowledged by time t: sorted ack times with the highest position reached.
  std::vector<std::pair<int64_t, size_t>> acks;
  for (const WriteOp& w : writes) {
    if (w.ack >= 0) acks.emplace_back(w.ack, position[w.id]);
  }
  std::sort(acks.begin(), acks.end());
  for (size_t i = 1; i < acks.size(); i++) acks[i].second = std::max(acks[i].second, acks[i - 1].second);
  // Latest invocation among the first k writes.
  std::vector<int64_t> invoked_by(pos.size() + 1, -1);
  for (size_t k = 0; k < pos.size(); k++) invoked_by[k + 1] = std::max(invoked_by[k], pos[k]->invoke);

  std::vector<const ReadOp*> by_invoke;
  for (const ReadOp& r : reads) {
    if (r.count > pos.size()) return "read saw " + S(r.count) + " writes, the log has fewer";
    // Writes acknowledged strictly before the read was invoked.
    auto it = std::lower_bound(acks.begin(), acks.end(), std::make_pair(r.invoke, size_t{0}));
    if (it != acks.begin()) {
      const size_t need = std::prev(it)->second;
      if (r.count < need) {
        return std::string(r.lease ? "lease" : "ReadIndex") + " read at node " + S(r.node) +
               " [" + std::to_string(r.invoke) + "," + std::to_string(r.done) + "] saw " +
               S(r.count) + " writes but write #" + S(need) + " was acknowledged before it began";
      }
    }
    if (invoked_by[r.count] > r.done) {
      return "read at node " + S(r.node) + " saw a write invoked after the read returned";
    }
    by_invoke.push_back(&r);
  }
  // Reads in real-time order never go back: scan by invoke time, tracking the largest count
  // among reads that completed before.
  std::vector<const ReadOp*> by_done = by_invoke;
  std::sort(by_invoke.begin(), by_invoke.end(), [](auto* a, auto* b) { return a->invoke < b->invoke; });
  std::sort(by_done.begin(), by_done.end(), [](auto* a, auto* b) { return a->done < b->done; });
  size_t j = 0;
  uint64_t max_done = 0;
  for (const ReadOp* r : by_invoke) {
    while (j < by_done.size() && by_done[j]->done < r->invoke) max_done = std::max(max_done, by_done[j++]->count);
    if (r->count < max_done) {
      return "read at node " + S(r->node) + " invoked at " + std::to_string(r->invoke) + " saw " +
             S(r->count) + " writes, an earlier read had seen " + S(max_done);
    }
  }
  return "";
}

}  // namespace flin::raft
