#pragma once
// SingleNodeReplicator: the log-then-apply path of a cluster of one voter.
//
// One apply thread takes everything proposed since its last round as one batch, applies each
// command through the StateMachine into one WriteTxn (each sees the ones before it), and
// writes the batch with one RocksDB write: with --fsync always, one fsync shared by every
// writer of the batch (group commit). Only then are the replies posted back. The RocksDB WAL
// is the log: a batch is durable exactly when its write returns.
//
// With --fsync everysec (or no) a batch is applied on the proposing thread itself when nothing
// else is queued or being applied: the I/O thread then parses, applies and answers in one go,
// as Redis does, instead of handing each batch to the apply thread and back (two wake-ups and
// the cache lines of every request crossing cores). Order is kept by one rule: a batch is
// applied inline only while holding apply_mu_ and with the queue empty, and the apply thread
// takes apply_mu_ before it takes a batch from the queue, so nothing proposed earlier can be
// waiting or in flight. With --fsync always batches go to the apply thread: an fsync would
// stall every connection of the I/O thread, and the queue gathers the next group meanwhile.
// Nor does an inline apply wait out a RocksDB write stall: its write is made with no_stall,
// and a batch RocksDB would have held is handed to the apply thread, first in line (its
// commands are applied again there, from the same state: nothing of it was written).
//
// Entry timestamps are max(wall clock, previous timestamp), so time never runs backwards along
// the log; the store's apply clock (see storage/store.h) follows them. The latest timestamp is
// written with every batch (meta key ClockKey()) and read back at Start(), so time does not
// run backwards across a restart either (a wall clock set back while the node was down).
//
// A failed write (full or failing disk) fails its whole batch ("not acknowledged": the bytes
// may or may not have reached the log) and the node then refuses writes up front (Propose
// returns IOError) while reads go on. Every second the apply thread asks the store to resume;
// once it does (RocksDB resumes after a full disk, not after a failed fsync, whose page cache
// cannot be trusted: that takes a restart), writes are taken again.
//
// Threading: Propose() and ProposeBatch() from any thread (ProposeBatch may complete the batch
// before it returns: its sinks' Complete() is then called on the calling thread); the rest
// from the owner (main). Ownership: borrows the Store and the StateMachine, which must
// outlive it.

#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/replicator.h"
#include "storage/store.h"
#include "storage/write_txn.h"

namespace flin::cluster {

struct SingleNodeOptions {
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  size_t max_queued = 1 << 20;   // proposals waiting for the apply thread
  size_t max_batch = 4096;       // proposals applied in one round
};

class SingleNodeReplicator : public Replicator {
 public:
  SingleNodeReplicator(storage::Store* store, StateMachine* sm, SingleNodeOptions options);
  ~SingleNodeReplicator() override;

  Status Start() override;
  void Stop() override;
  Status Propose(Proposal&& p) override;
  Status ProposeBatch(std::vector<Proposal>* batch) override;
  Status Admit() const override;

  void set_fsync(FsyncPolicy p) { fsync_.store(p, std::memory_order_relaxed); }
  // Counters for INFO persistence.
  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  uint64_t applied() const { return applied_.load(std::memory_order_relaxed); }
  uint64_t fsyncs() const { return fsyncs_.load(std::memory_order_relaxed); }
  int64_t last_sync_unix_ms() const { return last_sync_ms_.load(std::memory_order_relaxed); }
  bool write_error() const { return write_error_.load(std::memory_order_relaxed); }

  // Where the latest entry timestamp is kept (decimal Unix ms), and its value (0 if none).
  static std::string ClockKey();
  static int64_t PersistedClock(storage::Store* store);

 private:
  // The replies of a batch, by the sink they go to, in proposal order.
  using Deliveries = std::unordered_map<CompletionSink*, std::vector<Completion>>;
  void Loop();
  // Holding apply_mu_. deferred: an inline apply, which must not wait out a RocksDB write
  // stall; set (and nothing written or answered) if the write would have waited.
  Deliveries ApplyBatch(std::vector<Proposal>& batch, bool* deferred = nullptr);
  void Deliver(Deliveries& replies);       // not holding apply_mu_
  void RefuseWrites(const Status& cause);  // not holding mu_
  // Applies *batch on this thread if the order allows it (see above); false if it did not.
  bool TryApplyInline(std::vector<Proposal>* batch, Status* refused);

  storage::Store* store_;
  StateMachine* sm_;
  SingleNodeOptions options_;
  std::atomic<FsyncPolicy> fsync_;

  std::mutex apply_mu_;  // held while a batch is applied; taken before mu_, never after
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Proposal> queue_;  // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  std::thread thread_;

  storage::WriteTxn txn_;             // guarded by apply_mu_; reused by every batch
  int64_t last_ts_ = 0;               // guarded by apply_mu_
  // The apply clock the store holds (ClockKey), guarded by apply_mu_: a batch writes the key
  // only when its clock differs. A batch without it is later in the WAL than the one that
  // wrote the value, and a crash loses only a suffix of the WAL.
  int64_t persisted_ts_ = -1;
  std::atomic<bool> unsynced_{false};  // writes since the last fsync
  std::atomic<uint64_t> batches_{0}, applied_{0}, fsyncs_{0};
  std::atomic<int64_t> last_sync_ms_{0};
  std::atomic<bool> write_error_{false};
  std::string write_error_message_;  // guarded by mu_; why writes are refused
};

int64_t UnixMs();

}  // namespace flin::cluster
