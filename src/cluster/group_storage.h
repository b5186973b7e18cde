#pragma once
// GroupStorage: the stable storage of one Raft group (one partition): its log in the node's
// LogStore (segment files of their own, log_store.h), everything else in Flin's RocksDB:
//
//   'h' | group (u16 BE)                   → encoded HardState
//   's' | group                            → encoded SnapshotMeta    (the compaction point)
//   'a' | group                            → applied index, clock and (since session 22) the
//                                            SnapshotMeta as of it; written in the same batch
//                                            as the data it applied, so all move together
//   'g' | group                            → the log's generation in the LogStore (u64 BE;
//                                            absent: 0), bumped with each snapshot install
//   'r' | group                            → present while the replica recovers lost state
//                                            (raft::Config::recovering)
//   'i' | group                            → present while a snapshot is being installed
//                                            (InstallSnapshot; finished by Open after a crash)
//   'l' | group | index (u64 BE)           → the log, in data directories written before the
//                                            LogStore: moved into it by Open
//
// The read side is raft::Storage for the group's RawNode. The write side never writes by
// itself: log entries go to the LogStore's buffer, and the rest into a WriteBatch; the
// MultiRaftNode writes both for all groups at once (the batch first, then the log, each with
// one fsync). Recent entries are cached in memory (at most 4096 entries and 1 MiB per group),
// older ones read back from the LogStore.
//
// The log is the truth for what was applied: applies are written to RocksDB without a sync
// of their own, and a restart applies again from the persisted applied index. A log that ends
// below the persisted applied index (a backup, which copies RocksDB only; a power cut with
// --fsync everysec or no, where RocksDB's unsynced WAL outlived the log's) is taken as
// compacted up to it, from the SnapshotMeta the applied value carries.
//
// Snapshots are made on demand from a RocksDB snapshot taken at the applied index (an
// iterator opened on the raft thread, where the store is exactly at it), written to a file
// under <dir>/snapshots by a thread of their own — so that a large partition does not stop the
// raft thread, and with it every group's heartbeats — and streamed out in chunks. The receiving
// side writes the chunks to a file as they arrive (StageSnapshotChunk: the core holds none of
// them in memory), then installs the partition from it atomically (data range replaced, log
// reset): a small one in the round's batch, a large one as an SST file ingested into the
// store between a marker and the group's metadata (a crash in between is finished at Open).
//
// Threading: the raft thread only (the snapshot builder is internal). Ownership: borrows the
// Store; owns the snapshot files and the builder thread (joined when replaced or destroyed).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/log_store.h"
#include "cluster/snapshot_data.h"
#include "raft/storage.h"
#include "rocksdb/db.h"
#include "rocksdb/sst_file_writer.h"
#include "storage/store.h"

namespace flin::cluster {

std::string LogKey(int group, uint64_t index);
std::string GroupMetaKey(char kind, int group);
// For StoreOptions::insert_hint_prefix: the keys above, by kind and group (log entries are
// appended in order, metadata keys rewritten in place).
std::shared_ptr<const rocksdb::SliceTransform> GroupKeyInsertHint();

class GroupStorage : public raft::Storage {
 public:
  // Loads what the group persisted; a group never started gets `initial` as its bootstrap
  // configuration (a snapshot at index 0 with those voters).
  // The log store is borrowed (it outlives this) and shared by every group of the node.
  static Result<std::unique_ptr<GroupStorage>> Open(storage::Store* store, LogStore* log, int group,
                                                    const raft::ConfState& initial,
                                                    const std::string& snapshot_dir);
  ~GroupStorage() override;

  // raft::Storage
  Result<raft::InitialState> GetInitialState() const override;
  Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                 std::vector<raft::Entry>* out) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override { return meta_.index + 1; }
  uint64_t LastIndex() const override { return last_index_; }
  // The bytes of entries held in the cache (for tests).
  size_t cached_bytes() const { return cache_bytes_; }
  // The snapshot to send: Busy while one is being built in the background (the core asks
  // again later), started at the applied index when none covers the compaction point. Busy
  // too when the gate (if set) refuses to start another snapshot: the one this group has
  // built already still goes out.
  Result<raft::SnapshotMeta> SnapshotMetadata() const override;
  // Asked (on the raft thread, from SnapshotMetadata) before a snapshot is built or a built
  // one offered again: false defers it to a later probe. MultiRaftNode bounds with it how many
  // snapshots a node builds and streams at once.
  void set_snapshot_gate(std::function<bool()> may_start) { gate_ = std::move(may_start); }
  // Called (raft thread) with the error of each failed snapshot build; MultiRaftNode counts
  // and reports them. After a failure the next build waits, 1 s and doubling to 30 s while
  // builds keep failing, none once one succeeds: on a full disk every try would write until
  // it took the last free bytes, which the log's own appends need (and warn each time).
  void set_snapshot_failed(std::function<void(const Status&)> failed) {
    on_build_failed_ = std::move(failed);
  }
  // The first and longest wait after failed builds (tests shorten them).
  void set_snapshot_retry_ms(int64_t first_ms, int64_t max_ms) {
    retry_first_ms_ = first_ms;
    retry_max_ms_ = max_ms;
  }
  // Whether a snapshot is being built for this group now.
  bool building_snapshot() const { return building_ != nullptr; }
  Result<raft::SnapshotChunk> ReadSnapshotChunk(uint64_t index, uint64_t offset,
                                                uint64_t max_bytes) const override;

  // Write side: the entries go to the log store (the caller syncs it after writing the round's
  // batch).
  void Append(const std::vector<raft::Entry>& entries);
  // Writes the hard state if term or vote changed, and returns whether they did (they must
  // be fsynced before messages go out). A changed commit index alone is kept in memory only:
  // after a restart the commit index is at least the applied index and the rest is re-learned
  // from the leader.
  bool SetHardState(const raft::HardState& hs, rocksdb::WriteBatch* wb);
  // Whether hs has another term or vote than the hard state last given to SetHardState.
  bool ChangesTermOrVote(const raft::HardState& hs) const {
    return hs.term != hard_state_.term || hs.vote != hard_state_.vote;
  }
  // The receiving side, for raft::Config::stage_snapshot_chunk: writes bytes [offset, ...) of
  // snapshot `meta` to <dir>/incoming-group-N.part (offset 0 starts it afresh). Returns true
  // (kept), false without a snapshot dir, or an error (the stream is dropped, and the core
  // drops it too: the leader starts it over). The file needs
  // no fsync: a crash drops the stream (the follower is sent the snapshot again) and
  // MultiRaftNode clears the directory at start.
  Result<bool> StageSnapshotChunk(const raft::SnapshotMeta& meta, uint64_t offset,
                                  std::string_view data);
  // Whether a received snapshot's file is kept, and dropping it (the core gave the stream up:
  // a refused snapshot, a new term, a leader that moved on).
  bool has_incoming() const { return incoming_.has_value(); }
  void DropIncoming();
  // Whether InstallSnapshot would take this snapshot (its data, or for a staged one the file
  // kept of it, is well formed); changes nothing.
  Status ValidateSnapshot(const raft::Snapshot& snap) const;
  // The index the log must not be compacted past: a snapshot's being built, or (streaming:
  // a follower is being sent one) the one offered; UINT64_MAX if none.
  uint64_t SnapshotInUse(bool streaming) const {
    if (building_) return building_->snap.meta.index;
    if (streaming && out_snap_) return out_snap_->meta.index;
    return UINT64_MAX;
  }
  // Replaces this partition's data and log with a received snapshot (a staged one read from
  // its file, which is then removed). Below the ingest size (set_ingest_bytes) the data, the
  // log's deletion and the new metadata go into `wb`, which the caller writes with the rest of
  // the Ready. From it on, an SST file of it (for a staged one, written as its chunks came;
  // else built now) is ingested into the store
  // (storage::Store::IngestFile) and the group's metadata written, durably, before this
  // returns: the data is neither held in memory nor passed through the WAL and the memtable.
  // `pending` is the hard state of the Ready that carries the snapshot, if it has one. The
  // snapshot must have been validated (ValidateSnapshot). An error before anything was
  // written changes nothing; one after it is a failed store (the node stops), and the next
  // Open finishes the install.
  Status InstallSnapshot(const raft::Snapshot& snap, const raft::HardState* pending,
                         rocksdb::WriteBatch* wb);
  // The size from which a snapshot is installed by ingesting a file (default 64 MiB; 0: all).
  void set_ingest_bytes(uint64_t bytes) { ingest_bytes_ = bytes; }
  // Tests: InstallSnapshot by ingestion returns Aborted, as if the process died, right after
  // writing its marker (1) or after ingesting the data (2); 0: never.
  static void SetInstallCrashForTesting(int step);
  // Drops log entries up to `index` (<= applied); the state at `applied` can always be
  // snapshotted, so the log may start anywhere at or before it.
  void Compact(uint64_t index, rocksdb::WriteBatch* wb);

  // The applied index (persisted by the apply batch) and the membership as of it.
  uint64_t applied() const { return applied_; }
  // After applying up to i, with the membership and the partition's clock (newest entry
  // timestamp) as of it; the clock goes into the snapshots made from here.
  void set_applied(uint64_t i, const raft::ConfState& cs, int64_t clock) {
    applied_ = i;
    applied_conf_ = cs;
    applied_clock_ = std::max(applied_clock_, clock);
  }
  uint64_t persisted_applied() const { return persisted_applied_; }
  // The newest entry timestamp applied (0 if unknown: a data dir from before it was kept, or a
  // snapshot from a node that did not send it).
  int64_t applied_clock() const { return applied_clock_; }
  // The 'a' value apply writes: applied index, then that clock (u64 big-endian each), then
  // `at` encoded: the applied index's term and the membership as of it.
  static std::string AppliedValue(const raft::SnapshotMeta& at, int64_t clock);
  int group() const { return group_; }
  // Whether the replica is marked recovering (persisted, 'r'), and the mark's change.
  bool recovering() const { return recovering_; }
  void SetRecovering(bool on, rocksdb::WriteBatch* wb);

 private:
  GroupStorage(storage::Store* store, LogStore* log, int group, std::string snapshot_dir)
      : store_(store), log_(log), group_(group), snapshot_dir_(std::move(snapshot_dir)) {}
  // At Open: moves log entries kept in RocksDB by an earlier version into the log store.
  Status MigrateLog();
  // At Open: a log that ends below the persisted applied index is compacted up to it.
  Status CoverAppliedEntries(std::string_view applied_value);
  Result<raft::Entry> ReadEntry(uint64_t i) const;
  // The install's file (".sst", moved into the store by the ingest; ".keep", a second link
  // kept until the install is finished).
  std::string InstallPath(const char* ext) const;
  Status InstallByBatch(const raft::Snapshot& snap, rocksdb::WriteBatch* wb, int64_t* clock);
  Status InstallByIngest(const raft::Snapshot& snap, const raft::HardState* pending,
                         int64_t* clock);
  // What either way of installing writes of the group besides the data: the log deleted, the
  // snapshot's metadata as the compaction point, the applied index and clock.
  // It bumps the log's generation (generation_ takes the new one).
  void AddInstalledMetadata(const raft::SnapshotMeta& meta, int64_t clock,
                            rocksdb::WriteBatch* wb);
  // Step 3 of an install by ingestion (group_storage.cc): the metadata, the hard state, the
  // marker's deletion.
  Status FinishInstall(const raft::SnapshotMeta& meta, int64_t clock, const raft::HardState& hs);
  // At Open: finishes an install a crash interrupted (its marker is there), or removes the
  // second link of a finished one.
  Status ResumeInstall();
  void ReleaseSnapshot() const;

  storage::Store* store_;
  LogStore* log_;
  int group_;
  uint64_t generation_ = 0;  // the log's, in the log store ('g')
  std::string snapshot_dir_;
  raft::HardState hard_state_;
  raft::SnapshotMeta meta_;   // compaction point: entries <= meta_.index are gone
  uint64_t last_index_ = 0;
  uint64_t applied_ = 0, persisted_applied_ = 0;
  int64_t applied_clock_ = 0;
  bool recovering_ = false;
  uint64_t ingest_bytes_ = 64u << 20;
  raft::ConfState applied_conf_;
  std::deque<raft::Entry> cache_;  // the newest entries, contiguous, ending at last_index_
  size_t cache_bytes_ = 0;

  // The snapshot offered to followers (made lazily at the applied index).
  struct OutgoingSnapshot {
    raft::SnapshotMeta meta;
    std::string path;
    uint64_t size = 0;
  };
  mutable std::optional<OutgoingSnapshot> out_snap_;
  // One being written by its own thread; the thread owns everything but `done`, `cancel` and
  // the thread handle until it sets done.
  struct SnapshotBuild {
    OutgoingSnapshot snap;
    std::unique_ptr<rocksdb::Iterator> it;  // opened on the raft thread: the state to write
    int64_t clock = 0;
    Status status;
    std::atomic<bool> done{false}, cancel{false};
    std::thread thread;
  };
  mutable std::unique_ptr<SnapshotBuild> building_;
  // The snapshot being received (StageSnapshotChunk): its file, open for writing; its
  // records checked as they arrive; and from the ingest size on, the SST file it will be
  // installed from, written as they arrive (FeedIncoming).
  struct IncomingSnapshot {
    IncomingSnapshot(const raft::SnapshotMeta& m, int f) : meta(m), fd(f) {}
    raft::SnapshotMeta meta;
    uint64_t size = 0;
    int fd = -1;
    SnapshotStream stream;
    std::unique_ptr<rocksdb::SstFileWriter> sst;
    bool sst_failed = false;  // starting or writing it failed: the install builds it
  };
  std::optional<IncomingSnapshot> incoming_;
  std::string IncomingPath(const char* ext = ".part") const;
  void FeedIncoming();
  bool StartIncomingSst();
  // Runs `use` over bytes [from, to) of the staged file (mapped).
  Status WithStaged(uint64_t from, uint64_t to,
                    const std::function<Status(std::string_view)>& use) const;
  void AbandonIncomingSst();
  // InstallByIngest's file: the incoming one finished, if it was written as the chunks came.
  Status TakeIncomingSst(const std::string& sst, int64_t* clock);
  // Runs `use` over the data of snap: its bytes, or the file kept of a staged one.
  Status WithSnapshotData(const raft::Snapshot& snap,
                          const std::function<Status(std::string_view)>& use) const;
  std::function<bool()> gate_;
  std::function<void(const Status&)> on_build_failed_;
  int64_t retry_first_ms_ = 1000, retry_max_ms_ = 30000;
  mutable int64_t retry_wait_ms_ = 0;   // after the last failed build; 0 after a success
  mutable int64_t retry_at_ms_ = 0;     // monotonic: no build starts before
  void StartSnapshotBuild() const;
  void AbandonSnapshotBuild() const;  // cancels, joins, removes its file
};

}  // namespace flin::cluster
