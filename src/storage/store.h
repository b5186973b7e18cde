#pragma once
// Store: Flin's one RocksDB instance — data of every partition, plus node metadata.
//
// Ownership: the Store owns the rocksdb::DB and its caches; whoever opens it owns the Store
// (the server's main). Threading: reads (Get, NewIterator, properties) from any thread — the
// I/O threads read directly, without a hand-off. Writes come only from the apply path (one
// thread), through Write(); command handlers never write RocksDB themselves. Every write of a
// data key must go through Write() (or DeleteRange/DeleteAllData): Get answers hot keys from
// a RowCache that Write keeps consistent (row_cache.h), and a write made through db() directly
// would leave it stale.
//
// Expiry: a value whose expire-at is at or before the *apply clock* of its log is dropped by
// compaction. The apply clock is the newest timestamp of an applied entry of that log. Entry
// timestamps never go backwards within a log, so every later entry also sees such a value as
// expired: dropping it cannot change what the state machine computes, on any replica. A single
// node has one log for everything (the global clock); in a cluster each partition is its own
// Raft group with its own leader's clock, so each partition has its own apply clock.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "rocksdb/db.h"
#include "rocksdb/slice_transform.h"
#include "storage/row_cache.h"

namespace flin::storage {

struct StoreOptions {
  std::string dir = "./flin-data";        // created if missing
  size_t block_cache_bytes = 256u << 20;  // LRU block cache shared by all partitions
  // One memtable, switched (and flushed) at whichever bound it reaches first. Few entries on
  // purpose: inserting into a skiplist of a few 100 K entries costs ~5 us in cache misses (a
  // third of the apply thread under SET, perf); 56 K keeps it shallow and warm (what 8 MiB of
  // 100-byte values held). But bytes alone must not be the bound: 8 MiB of 4 KiB values is
  // 2 K entries, and each L0 file then so small that compaction rewrote the whole of L1 for
  // every few MiB written (4 KiB SETs: the compaction thread a whole core, half Redis's rate).
  size_t write_buffer_bytes = 32u << 20;
  size_t write_buffer_entries = 56000;
  size_t row_cache_bytes = 64u << 20;     // RowCache in front of Get; 0 = none
  // Keys in this transform's domain are written in ascending order within their prefix, or
  // are the same key written again (the Raft log of each group, its metadata): the memtable
  // inserts each from where the previous one of its prefix went instead of searching the
  // skiplist from the top. Null: every insert searches.
  std::shared_ptr<const rocksdb::SliceTransform> insert_hint_prefix;
};

// For StoreOptions::insert_hint_prefix: data keys (encoding.h) by partition, i.e. the 3-byte
// prefix of data keys longer than it. WriteTxn writes each batch's keys in order, so the
// memtable inserts each from where the previous one of its partition went. RocksDB keeps one
// hint per prefix for point entries and range deletions alike (7.8, MemTable::Add), and a hint
// of one skiplist used in the other corrupts it: so no range deletion may start at a key of a
// hint domain, and Store::Write refuses a batch with one. A partition's own 3-byte prefix, where
// its range deletions start, is outside the domain.
bool IsHintedDataKey(const rocksdb::Slice& key);
std::shared_ptr<const rocksdb::SliceTransform> DataKeyInsertHint();

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The live raw value (see encoding.h) of `key` in `partition`: NotFound if absent or expired
  // at now_ms or at the partition's apply clock, whichever is later. Any thread.
  Status Get(int partition, std::string_view key, int64_t now_ms, std::string* raw) const;
  // Pins the store's current state for a read of several keys that must see each write whole
  // (MGET, EXISTS k1 k2 ...: an MSET or a DEL of several keys is one batch). Reads through it
  // go to RocksDB at that state, not to the row cache. Any thread; released when destroyed.
  class Snapshot {
   public:
    explicit Snapshot(const Store& store) : db_(store.db_.get()), snap_(db_->GetSnapshot()) {}
    ~Snapshot() { db_->ReleaseSnapshot(snap_); }
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;

   private:
    friend class Store;
    rocksdb::DB* db_;
    const rocksdb::Snapshot* snap_;
  };
  // Get as of `at`.
  Status Get(int partition, std::string_view key, int64_t now_ms, std::string* raw,
             const Snapshot& at) const;

  // The raw value stored at `storage_key` (a data key, see encoding.h), expired or not;
  // NotFound if none. Through the row cache. Any thread.
  Status GetRaw(std::string_view storage_key, std::string* raw) const;

  // An iterator over a consistent snapshot of the whole store; the caller skips expired values.
  std::unique_ptr<rocksdb::Iterator> NewIterator() const;

  // Apply path only. sync=true returns after the WAL is on disk (fsync). InvalidArgument,
  // writing nothing, if a range deletion of the batch starts at a key of the insert-hint
  // domain (see DataKeyInsertHint). no_stall: Busy, writing nothing, where RocksDB would
  // delay or stop the write (memtables waiting for a flush, too many L0 files) instead of
  // making the caller wait.
  Status Write(rocksdb::WriteBatch* batch, bool sync, bool no_stall = false);
  // Loads an SST file made with SstWriterOptions() into the store, atomically: every key
  // and range deletion in it at once, after (overriding) everything written before; the file
  // is moved into the store (removed from `path` on success). Nothing goes through the WAL or
  // the memtable (RocksDB flushes the memtable first if their key ranges overlap, and waits for
  // that). Durable on return. The file is not modified, so another link to it can be
  // ingested again later. The row cache is emptied. Apply path only.
  Status IngestFile(const std::string& path);
  // Options for a rocksdb::SstFileWriter whose file IngestFile will take.
  rocksdb::Options SstWriterOptions() const { return db_->GetOptions(); }
  // Removes every data key of every partition (FLUSHALL). Apply path only. sync: as Write's.
  Status DeleteAllData(bool sync = false);
  // Removes the keys in [begin, end). Apply path only. sync: as Write's.
  Status DeleteRange(const std::string& begin, const std::string& end, bool sync = false);
  // Range deletions (DeleteRange, DeleteAllData) leave the deleted values in their SST files
  // until a compaction reaches those files, which with no further writes never happens: the
  // disk space stays taken, and every iterator still reads (and decompresses) the covered
  // blocks to skip them. Called about every 100 ms from one thread (the server's main loop),
  // never blocking: a second after the last range deletion it starts a thread that flushes the
  // memtable (its tombstones must be in a file before a compaction can drop anything) and
  // compacts the deleted range (a manual compaction; automatic ones go on meanwhile, and the
  // destructor cancels it). Many deletions in a burst (a cluster's FLUSHALL, one per
  // partition) make one such round.
  void TidyDeletedRanges(int64_t now_ms);
  // Makes every write so far durable (for --fsync everysec). IOError, syncing nothing, while
  // the store has failed a write (failed(): until Resume). Any thread.
  Status SyncWal();
  // Writes a copy of the store as it is now into `dir` (which must not exist; made in
  // `dir`.tmp and renamed into place), openable as a store of its own: a RocksDB checkpoint,
  // the memtables flushed first, SST files hard-linked (copied across file systems), the WAL
  // copied. Every write that returned before the call is in it. Any thread; writes go on.
  Status Checkpoint(const std::string& dir);
  // After a failed write (RocksDB then refuses every write: a full or failing disk), tries to
  // take writes again; OK once it does. Writes that failed stay failed. Any thread.
  Status Resume();
  // True from a failed write until a successful Resume().
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  // True once a write failed in the write-ahead log itself (a full disk): Resume() then
  // refuses, since RocksDB cannot go on with that log; the store must be reopened.
  bool wal_failed() const { return wal_failed_.load(std::memory_order_relaxed); }

  static constexpr int kMaxPartitions = 16384;
  // partition -1: the single node's one log, which covers every partition.
  void AdvanceApplyClock(int partition, int64_t ms);
  // The clock that decides whether a value of `partition` may be dropped.
  int64_t ApplyClock(int partition) const;

  // How many successful writes so far stored at least one value with an expiry (counted after
  // the write is readable). Active expiry sleeps while it stays unchanged. Any thread.
  uint64_t volatile_writes() const { return volatile_writes_.load(std::memory_order_acquire); }

  // Numbers for INFO: a RocksDB integer property ("rocksdb.estimate-num-keys"), 0 if unknown.
  uint64_t IntProperty(const std::string& name) const;
  size_t BlockCacheUsage() const;
  RowCache::Stats RowCacheStats() const { return rows_->GetStats(); }
  // Whether writes of `partition` add keys the row cache does not hold yet (they always update
  // the keys it holds, and a read adds what it missed). On for every partition at first. A
  // cluster node turns it off for the partitions it follows: only READONLY clients read
  // those there, and caching every write applied for another node's leader cost a third of
  // the node's row-cache work and memory for nothing. Any thread; a write reads it once.
  void SetRowCacheAdmitsWrites(int partition, bool admit);
  size_t RowCacheCapacity() const { return rows_->capacity(); }
  const std::string& dir() const { return dir_; }
  rocksdb::DB* db() { return db_.get(); }

 private:
  Store() = default;
  std::string dir_;
  Status Checked(const rocksdb::Status& s);  // ToStatus, noting a failed write
  // OK if `raw` decodes and is not expired (see Get); NotFound or Corruption otherwise.
  Status Live(int partition, std::string_view raw, int64_t now_ms) const;
  std::atomic<bool> failed_{false};
  std::atomic<bool> wal_failed_{false};
  std::mutex write_mu_;  // one write at a time (the row cache relies on it)
  // Entries written since the active memtable's size was last looked at (guarded by
  // write_mu_), and the bound (options.write_buffer_entries; 0: none). See SwitchIfFull.
  uint64_t entries_unchecked_ = 0;
  uint64_t write_buffer_entries_ = 0;
  void SwitchIfFull();  // with write_mu_ held
  std::atomic<int64_t> apply_clock_{0};  // the single node's
  std::atomic<uint64_t> volatile_writes_{0};
  std::shared_ptr<const rocksdb::SliceTransform> hint_;  // options.insert_hint_prefix
  std::unique_ptr<std::atomic<int64_t>[]> partition_clocks_{
      new std::atomic<int64_t>[kMaxPartitions]()};
  // Partitions whose writes do not add new keys to the row cache (SetRowCacheAdmitsWrites).
  std::unique_ptr<std::atomic<bool>[]> rows_not_admitted_{
      new std::atomic<bool>[kMaxPartitions]()};
  std::shared_ptr<rocksdb::Cache> cache_;
  std::unique_ptr<RowCache> rows_;
  std::unique_ptr<rocksdb::CompactionFilter> filter_;
  std::unique_ptr<rocksdb::DB> db_;
  // The range deleted since the last tidy-up (TidyDeletedRanges), and the thread compacting
  // the one before (done once tidy_done_).
  std::mutex deleted_mu_;
  bool deleted_ = false;
  std::string deleted_begin_, deleted_end_;
  int64_t deleted_at_ms_ = 0;  // the caller's clock at the first call after the last deletion
  std::thread tidy_thread_;
  std::atomic<bool> tidy_done_{false};
};

}  // namespace flin::storage
