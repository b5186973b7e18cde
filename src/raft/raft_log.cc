#include "raft/raft_log.h"

#include <algorithm>

namespace flin::raft {

RaftLog::RaftLog(const Storage* storage, uint64_t max_next_ents_size)
    : storage_(storage), max_next_ents_size_(max_next_ents_size) {
  unstable_offset_ = storage_->LastIndex() + 1;
  // Everything up to the first index - 1 is covered by a snapshot, hence committed and applied.
  committed_ = storage_->FirstIndex() - 1;
  applied_ = committed_;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snap_) return unstable_snap_->meta.index + 1;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snap_) return unstable_snap_->meta.index;
  return storage_->LastIndex();
}

std::optional<uint64_t> RaftLog::UnstableTerm(uint64_t i) const {
  if (i < unstable_offset_) {
    if (unstable_snap_ && unstable_snap_->meta.index == i) return unstable_snap_->meta.term;
    return std::nullopt;
  }
  if (i - unstable_offset_ >= unstable_.size()) return std::nullopt;
  return unstable_[i - unstable_offset_].term;
}

Result<uint64_t> RaftLog::Term(uint64_t i) const {
  uint64_t dummy = FirstIndex() - 1;
  if (i < dummy) return CompactedError();
  if (i > LastIndex()) return Status::Unavailable("beyond last index");
  if (auto t = UnstableTerm(i)) return *t;
  // With an unstable snapshot pending, storage below it is stale.
  if (unstable_snap_) return CompactedError();
  return storage_->Term(i);
}

uint64_t RaftLog::TermOrZero(uint64_t i) const {
  auto t = Term(i);
  return t.ok() ? t.value() : 0;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t.ok() && t.value() == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  uint64_t lt = LastTerm();
  return term > lt || (term == lt && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term,
                                             uint64_t committed, const std::vector<Entry>& ents) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + ents.size();
  uint64_t ci = FindConflict(ents);
  if (ci != 0 && ci > committed_) {
    std::vector<Entry> tail(ents.begin() + (ci - index - 1), ents.end());
    Append(tail);
  }
  // A conflict at or below commit would mean a committed entry differs: never happens with a
  // correct leader; the entries are then ignored rather than truncating committed state.
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& ents) {
  if (ents.empty()) return LastIndex();
  uint64_t after = ents[0].index;
  if (after <= committed_) return LastIndex();  // never truncate committed entries
  if (after == unstable_offset_ + unstable_.size()) {
    unstable_.insert(unstable_.end(), ents.begin(), ents.end());
  } else if (after <= unstable_offset_) {
    // Replaces the whole unstable tail; storage entries >= after are truncated when the
    // application persists these (MemoryStorage::Append semantics).
    unstable_offset_ = after;
    unstable_ = ents;
  } else {
    unstable_.resize(after - unstable_offset_);
    unstable_.insert(unstable_.end(), ents.begin(), ents.end());
  }
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const Entry& e : ents) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  index = std::min(index, LastIndex());
  while (index > 0) {
    auto t = Term(index);
    if (!t.ok() || t.value() <= term) break;
    index--;
  }
  return index;
}

Status RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                      std::vector<Entry>* out) const {
  if (lo >= hi) return Status::Ok();
  if (lo < FirstIndex()) return CompactedError();
  if (hi > LastIndex() + 1) return Status::Unavailable("slice beyond last index");
  size_t start = out->size();
  if (lo < unstable_offset_) {
    uint64_t shi = std::min(hi, unstable_offset_);
    Status s = storage_->Entries(lo, shi, max_bytes, out);
    if (!s.ok()) return s;
    if (out->size() - start < shi - lo) return Status::Ok();  // size limit reached
  }
  uint64_t size = 0;
  for (size_t i = start; i < out->size(); i++) size += (*out)[i].Size();
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; i++) {
    const Entry& e = unstable_[i - unstable_offset_];
    size += e.Size();
    if (out->size() > start && size > max_bytes) break;
    out->push_back(e);
  }
  return Status::Ok();
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && TermOrZero(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(uint64_t index) {
  if (index > committed_) committed_ = std::min(index, LastIndex());
}

void RaftLog::AppliedTo(uint64_t index) {
  if (index > applied_) applied_ = std::min(index, committed_);
}

bool RaftLog::HasNextCommittedEntries() const {
  return committed_ > std::max(applied_, FirstIndex() - 1);
}

std::vector<Entry> RaftLog::NextCommittedEntries() const {
  std::vector<Entry> out;
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 > lo) {
    // A storage error leaves `out` short; the rest is returned by a later Ready.
    (void)Slice(lo, committed_ + 1, max_next_ents_size_, &out);
  }
  return out;
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  auto t = UnstableTerm(index);
  if (!t || *t != term || index < unstable_offset_) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + (index + 1 - unstable_offset_));
  unstable_offset_ = index + 1;
}

void RaftLog::StableSnapTo(uint64_t index) {
  if (unstable_snap_ && unstable_snap_->meta.index == index) unstable_snap_.reset();
}

void RaftLog::Restore(Snapshot snap) {
  committed_ = snap.meta.index;
  unstable_offset_ = snap.meta.index + 1;
  unstable_.clear();
  unstable_snap_ = std::move(snap);
}

}  // namespace flin::raft
