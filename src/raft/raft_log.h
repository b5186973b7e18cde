#pragma once
// RaftLog: the core's view of the log = the application's Storage (persisted) plus the
// "unstable" tail the core has accepted but the application has not yet persisted (handed out
// in a Ready and confirmed by Advance), plus an unstable incoming snapshot. Tracks the commit
// and applied indexes. Internal to the core; single-threaded like RawNode.

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/storage.h"
#include "raft/types.h"

namespace flin::raft {

class RaftLog {
 public:
  // Borrows `storage`, which must outlive the log.
  RaftLog(const Storage* storage, uint64_t max_next_ents_size);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  // Term of entry i; 0 with ok() false if i is compacted or beyond the last index.
  Result<uint64_t> Term(uint64_t i) const;
  // Term of i, or 0 if unknown.
  uint64_t TermOrZero(uint64_t i) const;
  uint64_t LastTerm() const { return TermOrZero(LastIndex()); }
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // Raft's "at least as up to date" rule for votes.
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // Follower append: if (index, log_term) matches, appends `ents` (truncating conflicts) and
  // advances commit to min(committed, last new index). Returns the last new index.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& ents);
  // Appends entries after truncating anything at or after ents[0].index. Returns LastIndex().
  uint64_t Append(const std::vector<Entry>& ents);
  // First index in `ents` whose term conflicts with the log (or is new); 0 if none.
  uint64_t FindConflict(const std::vector<Entry>& ents) const;
  // Largest index <= index whose term is <= term (fast backtracking).
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries [lo, hi) up to max_bytes (at least one). Compacted error if lo is compacted.
  Status Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes, std::vector<Entry>* out) const;

  bool MaybeCommit(uint64_t max_index, uint64_t term);
  void CommitTo(uint64_t index);
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  void AppliedTo(uint64_t index);

  // --- Ready support ---
  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  const std::optional<Snapshot>& unstable_snapshot() const { return unstable_snap_; }
  bool HasNextCommittedEntries() const;
  std::vector<Entry> NextCommittedEntries() const;
  // The application persisted entries up to (index, term) / the snapshot at index.
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapTo(uint64_t index);
  // Installs a snapshot received from the leader (becomes the unstable snapshot).
  void Restore(Snapshot snap);

 private:
  std::optional<uint64_t> UnstableTerm(uint64_t i) const;

  const Storage* storage_;
  uint64_t max_next_ents_size_;
  std::optional<Snapshot> unstable_snap_;
  std::vector<Entry> unstable_;
  uint64_t unstable_offset_;  // index of unstable_[0] (or where it would be)
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace flin::raft
