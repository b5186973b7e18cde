#pragma once
// WriteTxn: the apply path's view of the store while it applies a batch of log entries.
//
// Reads see the store plus every write already made in this transaction, so the entries of one
// group-commit batch apply exactly as if each had been written on its own; Commit() then writes
// them all with one WAL write and, with sync, one fsync. The transaction keeps each data key's
// latest write (a hash index over copies of keys and values in its own blocks); other keys are
// read through the store's row cache (Store::GetRaw). Commit writes one batch with each key's
// last write, in key order (see Commit). A transaction is reusable: after Commit it starts
// afresh and keeps its buffers (the hash index, a block, the batch), so an apply loop that
// keeps one allocates nothing per batch. Ownership: borrows the Store. Threading: one thread
// at a time (whichever applies).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "common/status.h"
#include "rocksdb/write_batch.h"
#include "storage/store.h"

namespace flin::storage {

class WriteTxn {
 public:
  explicit WriteTxn(Store* store);

  // Live raw value of `key` (NotFound if absent or expired at now_ms), including this
  // transaction's own writes.
  Status Get(int partition, std::string_view key, int64_t now_ms, std::string* raw);
  void Put(int partition, std::string_view key, std::string_view raw);
  void Delete(int partition, std::string_view key);
  // Removes all data (FLUSHALL): writes what is pending, then a range deletion. Not atomic with
  // the entries around it on a crash, which is acceptable: each is one complete command.
  Status DeleteAllData();
  // Removes every key of one partition (FLUSHALL in a cluster, one Raft group at a time).
  Status DeletePartition(int partition);
  // A write outside the data keyspace (e.g. a Raft group's applied index), in the same batch.
  void PutRaw(std::string_view key, std::string_view value);
  // Adds n to *counter when the next Commit stores this transaction's writes; nothing if that
  // Commit fails (a batch deferred by no_stall is applied again, in a new transaction). For
  // statistics of what the writes did (INFO's expired_keys). `counter` must outlive the Commit.
  void CountOnCommit(std::atomic<uint64_t>* counter, uint64_t n);

  // Writes everything pending (sync: one fsync) and starts afresh. A sync commit also makes
  // every earlier unsynced commit durable (they share the WAL). no_stall: Busy, writing
  // nothing, where RocksDB would make the write wait (Store::Write) — unless this transaction
  // already wrote part of itself (DeleteAllData, DeletePartition): then it waits, since what
  // it wrote cannot be taken back.
  Status Commit(bool sync, bool no_stall = false);
  // Whether the parts DeleteAllData/DeletePartition write ahead of Commit are synced: set by
  // a writer whose Commit will sync (a single node under --fsync always), so that nothing of
  // the transaction is readable before it is durable. Kept across Commits.
  void set_sync_parts(bool sync) { sync_parts_ = sync; }
  bool empty() const { return pending_.empty() && raw_.empty(); }
  Store* store() { return store_; }

 private:
  // This transaction's latest write of a data key: its value (in blocks_), or a deletion.
  struct Pending {
    std::string_view value;
    bool deleted = false;
  };
  void Note(std::string_view storage_key, Pending p);
  // A copy of `bytes` that stays put until Commit: keys and values of pending_ and raw_ live
  // in blocks, no allocation per write.
  std::string_view Keep(std::string_view bytes);

  Store* store_;
  absl::flat_hash_map<std::string_view, Pending> pending_;  // by storage key
  std::vector<std::pair<std::string_view, std::string_view>> raw_;  // PutRaw, in order
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t block_used_ = 0, block_size_ = 0;  // of blocks_.back()
  std::string key_buf_;
  bool wrote_part_ = false;  // a DeleteAllData/DeletePartition wrote part of this transaction
  bool sync_parts_ = false;  // set_sync_parts
  rocksdb::WriteBatch batch_;  // built by Commit (kept for its buffer)
  std::vector<const std::pair<const std::string_view, Pending>*> order_;  // Commit's sort
  std::vector<std::pair<std::atomic<uint64_t>*, uint64_t>> counts_;  // CountOnCommit
};

}  // namespace flin::storage
