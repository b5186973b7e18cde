#pragma once
// Storage: the read side of a Raft group's stable storage, implemented by the application
// (in the style of etcd raft's Storage). The core reads the persisted log, hard state and
// snapshot through it; it never writes. The application writes what each Ready hands it
// (entries, hard state, snapshot) and compacts the log when it likes (see raw_node.h).
//
// Index conventions: the log holds entries [FirstIndex(), LastIndex()]. Entry FirstIndex()-1
// is the last one covered by the current snapshot; its term stays known (Term() answers for
// it). An empty log after a snapshot at index i has FirstIndex() == i+1, LastIndex() == i.
//
// Errors: NotFound with IsCompacted() for indexes below FirstIndex()-1; Unavailable for indexes
// above LastIndex(); Busy from SnapshotMetadata() when a snapshot is being built (the core
// retries later). Any other error is treated as transient: the core retries later and never
// crashes on it.
//
// Threading: called only from the thread that drives the RawNode, during RawNode calls.
// MemoryStorage below is not thread-safe either.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace flin::raft {

// True if `s` is the error Storage returns for an index below the snapshot.
bool IsCompacted(const Status& s);
Status CompactedError();

struct InitialState {
  HardState hard_state;
  ConfState conf_state;  // membership as of the latest snapshot (the core replays the log)
};

// A piece of a snapshot's data.
struct SnapshotChunk {
  SnapshotMeta meta;
  std::string data;   // bytes [offset, offset + data.size())
  bool done = false;  // the chunk reaches the end of the snapshot data
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual Result<InitialState> GetInitialState() const = 0;
  // Appends entries [lo, hi) to *out, stopping once max_bytes (Entry::Size()) would be
  // exceeded, but always at least one entry. Requires FirstIndex() <= lo < hi <= LastIndex()+1.
  virtual Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                         std::vector<Entry>* out) const = 0;
  // Term of entry i, for i in [FirstIndex()-1, LastIndex()].
  virtual Result<uint64_t> Term(uint64_t i) const = 0;
  virtual uint64_t FirstIndex() const = 0;
  virtual uint64_t LastIndex() const = 0;
  // Metadata of the most recent snapshot (index 0 if none was ever taken).
  virtual Result<SnapshotMeta> SnapshotMetadata() const = 0;
  // Up to max_bytes of the data of the snapshot whose index is `index`, from `offset`.
  // NotFound if the current snapshot is no longer that one (the leader then starts over).
  virtual Result<SnapshotChunk> ReadSnapshotChunk(uint64_t index, uint64_t offset,
                                                  uint64_t max_bytes) const = 0;
};

// In-memory Storage, used by tests and the simulation, where it plays the part of the
// application's durable storage (what survives a simulated crash).
class MemoryStorage : public Storage {
 public:
  MemoryStorage();
  // A bootstrap state: a snapshot at (index, term) with membership `cs` and empty data.
  static MemoryStorage WithSnapshot(uint64_t index, uint64_t term, const ConfState& cs);

  Result<InitialState> GetInitialState() const override;
  Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                 std::vector<Entry>* out) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Result<SnapshotMeta> SnapshotMetadata() const override;
  Result<SnapshotChunk> ReadSnapshotChunk(uint64_t index, uint64_t offset,
                                          uint64_t max_bytes) const override;

  // --- Write side, called by the application while handling a Ready. ---
  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }
  // Appends entries, first truncating any stored entries at or after entries[0].index.
  // Entries already covered by the snapshot are skipped. Requires no gap.
  Status Append(const std::vector<Entry>& entries);
  // Replaces the log with `snap` (older snapshots are rejected with InvalidArgument).
  Status ApplySnapshot(const Snapshot& snap);
  // Records a snapshot of the application state at `index` (<= LastIndex()); the log is kept.
  Status CreateSnapshot(uint64_t index, const ConfState& cs, std::string data);
  // Discards entries before `index` (index <= snapshot index is required by callers that want
  // to keep the snapshot as the only source; here any index <= LastIndex() is accepted).
  Status Compact(uint64_t index);
  const Snapshot& snapshot() const { return snapshot_; }

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  // ents_[0] is a dummy holding the index/term of the compaction point.
  std::vector<Entry> ents_;
};

}  // namespace flin::raft
