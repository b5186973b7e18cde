#include "storage/store.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "common/log.h"

#include "rocksdb/cache.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "storage/encoding.h"

namespace flin::storage {
namespace {

// Drops data values that expired at or before the apply clock (see store.h for why that
// clock and not the wall clock). Shared by all compaction threads: stateless but for an atomic.
class ExpiryFilter : public rocksdb::CompactionFilter {
 public:
  explicit ExpiryFilter(const Store* store) : store_(store) {}
  bool Filter(int /*level*/, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    int partition;
    std::string_view user_key;
    if (!DecodeDataKey(std::string_view(key.data(), key.size()), &partition, &user_key)) {
      return false;
    }
    auto v = DecodeValue(std::string_view(value.data(), value.size()));
    return v && v->Expired(store_->ApplyClock(partition));
  }
  const char* Name() const override { return "flin.ExpiryFilter"; }

 private:
  const Store* store_;
};

// RocksDB's own messages go to Flin's log (stderr) instead of a LOG file in the data
// directory: one log per process, and none that needs the disk to be writable. (With a LOG
// file on a full disk, Debian's RocksDB 7.8 trips an assertion in its log writer while
// reporting the very write error that filled it.) Its INFO and WARN chatter (flushes,
// compactions, a directory not there yet) is debug level here; errors are warnings.
class ForwardingLogger : public rocksdb::Logger {
 public:
  ForwardingLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    const LogLevel ours =
        level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? LogLevel::kWarning : LogLevel::kDebug;
    if (!LogEnabled(ours)) return;
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), format, ap);
    n = std::min<int>(n, sizeof(buf) - 1);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    Logf(ours, "rocksdb: %s", buf);
  }
};

// Collects what a batch does to data keys, for the RowCache (w: null without one), and counts
// the values it stores that carry an expiry. A range deletion of data (or an operation it
// does not know) counts as "every key".
class DataKeyCollector : public rocksdb::WriteBatch::Handler {
  static constexpr char kDataEnd = kDataPrefix + 1;

 public:
  // not_admitted: per partition, whether its new keys stay out of the cache.
  DataKeyCollector(RowCache::WriteSet* w, const rocksdb::SliceTransform* hint,
                   const std::atomic<bool>* not_admitted)
      : w_(w), hint_(hint), not_admitted_(not_admitted) {}
  rocksdb::Status PutCF(uint32_t, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    if (!IsData(k)) return rocksdb::Status::OK();
    if (w_) w_->Put(View(k), View(v), Admitted(k));
    auto value = DecodeValue(View(v));
    if (!value || value->expire_at_ms != 0) ++volatile_puts_;
    return rocksdb::Status::OK();
  }
  uint64_t volatile_puts() const { return volatile_puts_; }
  bool hinted_range() const { return hinted_range_; }
  rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice& k) override {
    if (IsData(k) && w_) w_->Delete(View(k));
    return rocksdb::Status::OK();
  }
  rocksdb::Status SingleDeleteCF(uint32_t cf, const rocksdb::Slice& k) override {
    return DeleteCF(cf, k);
  }
  rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice& k, const rocksdb::Slice&) override {
    if (IsData(k)) AddAll();  // Flin does not merge; the result would be unknown here
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteRangeCF(uint32_t, const rocksdb::Slice& begin,
                                const rocksdb::Slice& end) override {
    // Raft log truncations are ranges too; only a range reaching into the data keys counts.
    const rocksdb::Slice data_begin(&kDataPrefix, 1), data_end(&kDataEnd, 1);
    if (begin.compare(data_end) < 0 && end.compare(data_begin) > 0) AddAll();
    if (hint_ != nullptr && hint_->InDomain(begin)) {
      hinted_range_ = true;
      return rocksdb::Status::InvalidArgument("range deletion at an insert-hinted key");
    }
    return rocksdb::Status::OK();
  }
  rocksdb::Status PutBlobIndexCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
    AddAll();
    ++volatile_puts_;  // unknown value
    return rocksdb::Status::OK();
  }
  void LogData(const rocksdb::Slice&) override {}

 private:
  static bool IsData(const rocksdb::Slice& k) { return !k.empty() && k[0] == kDataPrefix; }
  static std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
  bool Admitted(const rocksdb::Slice& k) const {
    int partition;
    std::string_view user_key;
    return !DecodeDataKey(View(k), &partition, &user_key) || partition >= Store::kMaxPartitions ||
           !not_admitted_[partition].load(std::memory_order_relaxed);
  }
  void AddAll() {
    if (w_) w_->AddAll();
  }
  RowCache::WriteSet* w_;
  const rocksdb::SliceTransform* hint_;
  const std::atomic<bool>* not_admitted_;
  uint64_t volatile_puts_ = 0;
  bool hinted_range_ = false;
};

class DataKeyPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "flin.DataKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 3);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return IsHintedDataKey(key); }
};

Status ToStatus(const rocksdb::Status& s) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return Status::NotFound();
  if (s.IsCorruption()) return Status::Corruption(s.ToString());
  return Status::IOError(s.ToString());
}

}  // namespace

bool IsHintedDataKey(const rocksdb::Slice& key) { return key.size() > 3 && key[0] == kDataPrefix; }

std::shared_ptr<const rocksdb::SliceTransform> DataKeyInsertHint() {
  return std::make_shared<DataKeyPrefix>();
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store());
  store->dir_ = options.dir;
  store->cache_ = rocksdb::NewLRUCache(options.block_cache_bytes);
  store->filter_ = std::make_unique<ExpiryFilter>(store.get());
  store->rows_ = std::make_unique<RowCache>(options.row_cache_bytes);
  store->write_buffer_entries_ = options.write_buffer_entries;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = store->cache_;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Partitioned filters and index: one SST can hold millions of (well-compressing) values,
  // and its whole-file filter then outgrows a block-cache shard (capacity / 64). Such a block
  // is never kept, so every Get read and checksummed megabytes of filter: 373 GETs/s at 10 M
  // keys (scripts/bench-memory.sh). Partitions of ~4 KiB stay cached; only the small top
  // level is pinned.
  table.partition_filters = true;
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;

  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  opts.compaction_filter = store->filter_.get();
  opts.write_buffer_size = options.write_buffer_bytes;
  opts.max_background_jobs = 2;
  opts.bytes_per_sync = 1 << 20;
  opts.enable_pipelined_write = false;
  // Writes are serialized by write_mu_ anyway; the insert hints need this off.
  opts.allow_concurrent_memtable_write = false;
  opts.memtable_insert_with_hint_prefix_extractor = options.insert_hint_prefix;
  store->hint_ = options.insert_hint_prefix;
  opts.max_total_wal_size = 256u << 20;
  opts.avoid_unnecessary_blocking_io = true;
  opts.info_log = std::make_shared<ForwardingLogger>();

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, options.dir, &db);
  if (!s.ok()) return Status::IOError("cannot open store in " + options.dir + ": " + s.ToString());
  store->db_.reset(db);
  return store;
}

Store::~Store() {
  {
    std::lock_guard<std::mutex> lock(deleted_mu_);
    if (tidy_thread_.joinable()) {
      db_->DisableManualCompaction();  // a running CompactRange returns early
      tidy_thread_.join();
    }
  }
  if (db_) {
    // After a write error the log writer must not be touched again (Debian's RocksDB asserts
    // on it); what failed was never acknowledged.
    if (!failed_.load(std::memory_order_relaxed)) db_->FlushWAL(true).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
}

Status Store::Get(int partition, std::string_view key, int64_t now_ms, std::string* raw) const {
  thread_local std::string k;
  EncodeDataKey(partition, key, &k);
  Status s = GetRaw(k, raw);
  if (!s.ok()) return s;
  return Live(partition, *raw, now_ms);
}

Status Store::Get(int partition, std::string_view key, int64_t now_ms, std::string* raw,
                  const Snapshot& at) const {
  thread_local std::string k;
  EncodeDataKey(partition, key, &k);
  rocksdb::ReadOptions ro;
  ro.snapshot = at.snap_;
  Status s = ToStatus(db_->Get(ro, k, raw));
  if (!s.ok()) return s;
  return Live(partition, *raw, now_ms);
}

Status Store::Live(int partition, std::string_view raw, int64_t now_ms) const {
  auto v = DecodeValue(raw);
  if (!v) return Status::Corruption("bad value encoding");
  // Never judge by a time the partition's log has passed: a wall clock that jumped back, or
  // that runs behind the leader which wrote the log, must not bring an expired key back.
  if (v->Expired(std::max(now_ms, ApplyClock(partition)))) return Status::NotFound();
  return Status::Ok();
}

Status Store::GetRaw(std::string_view storage_key, std::string* raw) const {
  RowCache::Ticket ticket;
  switch (rows_->Lookup(storage_key, raw, &ticket)) {
    case RowCache::Hit::kAbsent:
      return Status::NotFound();
    case RowCache::Hit::kValue:
      return Status::Ok();
    case RowCache::Hit::kMiss:
      break;
  }
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(),
                               rocksdb::Slice(storage_key.data(), storage_key.size()), raw);
  if (!s.ok() && !s.IsNotFound()) return ToStatus(s);
  rows_->Fill(storage_key, s.ok() ? raw : nullptr, ticket);
  return s.ok() ? Status::Ok() : Status::NotFound();
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator() const {
  rocksdb::ReadOptions ro;
  ro.total_order_seek = true;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro));
}

Status Store::Write(rocksdb::WriteBatch* batch, bool sync, bool no_stall) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  wo.no_slowdown = no_stall;
  RowCache::WriteSet keys;
  DataKeyCollector collect(rows_->enabled() ? &keys : nullptr, hint_.get(),
                           rows_not_admitted_.get());
  const bool understood = batch->Iterate(&collect).ok();
  if (collect.hinted_range()) {
    return Status::InvalidArgument("a range deletion may not start at an insert-hinted key");
  }
  if (!understood) keys.AddAll();
  std::lock_guard<std::mutex> lock(write_mu_);
  rows_->BeginWrite(keys);
  const rocksdb::Status rs = db_->Write(wo, batch);
  // A failed append to (or sync of) the write-ahead log leaves RocksDB's log writer in an
  // error state that Resume does not clear (7.8): the next write or sync through it trips an
  // assertion, and the process aborts. Such a store takes no more writes until reopened.
  // (Told by the file named in the error: WAL files are NNNNNN.log.)
  if (rs.IsIOError() && rs.ToString().find(".log") != std::string::npos) {
    wal_failed_.store(true, std::memory_order_relaxed);
  }
  if (rs.ok()) {
    entries_unchecked_ += batch->Count();
    if (write_buffer_entries_ != 0 && entries_unchecked_ >= write_buffer_entries_ / 8) {
      SwitchIfFull();
    }
  }
  // A refused slowdown wrote nothing and is no failure of the store.
  Status s = no_stall && rs.IsIncomplete() ? Status::Busy("RocksDB would stall this write")
                                           : Checked(rs);
  rows_->EndWrite(keys, s.ok());
  // Counted once the values are readable (ActiveExpiry relies on that order); a batch that
  // could not be read through counts as storing one.
  if (s.ok() && (collect.volatile_puts() > 0 || !understood)) {
    volatile_writes_.fetch_add(1, std::memory_order_release);
  }
  return s;
}

// RocksDB bounds a memtable by bytes only (7.8); this bounds its entries too. Looked at every
// eighth of the bound (a property read under RocksDB's mutex), so a memtable holds at most
// 1/8 more than the bound, while no flush is pending. Not while one is: were flushes slower
// than writes, switching on count would pile up memtables beyond max_write_buffer_number;
// the memtable grows on to the bytes' bound instead, where RocksDB slows writes down. The switch itself is what a full memtable
// does (a new memtable and WAL file; the flush in the background): it waits for nothing.
void Store::SwitchIfFull() {
  entries_unchecked_ = 0;
  uint64_t entries = 0, immutable = 0;
  if (!db_->GetIntProperty("rocksdb.num-entries-active-mem-table", &entries) ||
      entries < write_buffer_entries_ ||
      !db_->GetIntProperty("rocksdb.num-immutable-mem-table", &immutable) || immutable > 0) {
    return;
  }
  rocksdb::FlushOptions fo;
  fo.wait = false;
  fo.allow_write_stall = true;
  // A failure here is one of the store's (it would fail the next write too); nothing to undo.
  db_->Flush(fo).PermitUncheckedError();
}

Status Store::IngestFile(const std::string& path) {
  rocksdb::IngestExternalFileOptions io;
  io.move_files = true;  // a hard link: the file is in the snapshot dir, on the same disk
  // The file is not modified (its sequence number goes to the MANIFEST only): a second link
  // to it can be ingested again (GroupStorage finishing an install after a crash).
  io.write_global_seqno = false;
  RowCache::WriteSet all;
  all.AddAll();
  std::lock_guard<std::mutex> lock(write_mu_);
  rows_->BeginWrite(all);
  Status s = Checked(db_->IngestExternalFile({path}, io));
  rows_->EndWrite(all, s.ok());
  // The file may hold values with an expiry (ActiveExpiry wakes up on this).
  if (s.ok()) volatile_writes_.fetch_add(1, std::memory_order_release);
  return s;
}

Status Store::DeleteAllData(bool sync) {
  return DeleteRange(std::string(1, kDataPrefix), std::string(1, kDataPrefix + 1), sync);
}

Status Store::DeleteRange(const std::string& begin, const std::string& end, bool sync) {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(begin, end);
  Status s = Write(&batch, sync);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(deleted_mu_);
    if (!deleted_ || begin < deleted_begin_) deleted_begin_ = begin;
    if (!deleted_ || end > deleted_end_) deleted_end_ = end;
    deleted_ = true;
    deleted_at_ms_ = 0;  // noted by the next TidyDeletedRanges, on its clock
  }
  return s;
}

void Store::TidyDeletedRanges(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(deleted_mu_);
  if (tidy_thread_.joinable() && tidy_done_.load()) tidy_thread_.join();
  if (!deleted_ || tidy_thread_.joinable()) return;
  if (deleted_at_ms_ == 0) deleted_at_ms_ = now_ms;
  if (now_ms - deleted_at_ms_ < 1000) return;  // more may come
  deleted_ = false;
  tidy_done_.store(false);
  tidy_thread_ = std::thread([this, begin = deleted_begin_, end = deleted_end_] {
    rocksdb::FlushOptions fo;
    fo.allow_write_stall = true;
    rocksdb::CompactRangeOptions co;
    co.exclusive_manual_compaction = false;
    co.allow_write_stall = true;
    const rocksdb::Slice b(begin), e(end);
    if (db_->Flush(fo).ok()) db_->CompactRange(co, &b, &e).PermitUncheckedError();
    tidy_done_.store(true);
  });
}

Status Store::SyncWal() {
  // RocksDB asserts on a sync of a log writer whose append failed (its own builds keep their
  // assertions): after a failed write, nothing is synced until Resume succeeds.
  if (failed()) return Status::IOError("the store failed a write and has not recovered yet");
  return Checked(db_->SyncWAL());
}

Status Store::Resume() {
  if (wal_failed_.load(std::memory_order_relaxed)) {
    return Status::IOError("a write to the write-ahead log failed: the store takes writes "
                           "again once the server restarts");
  }
  Status s = ToStatus(db_->Resume());
  if (s.ok()) failed_.store(false, std::memory_order_relaxed);
  return s;
}

Status Store::Checked(const rocksdb::Status& s) {
  if (!s.ok() && !s.IsNotFound()) failed_.store(true, std::memory_order_relaxed);
  return ToStatus(s);
}

void Store::SetRowCacheAdmitsWrites(int partition, bool admit) {
  if (partition >= 0 && partition < kMaxPartitions) {
    rows_not_admitted_[partition].store(!admit, std::memory_order_relaxed);
  }
}

void Store::AdvanceApplyClock(int partition, int64_t ms) {
  std::atomic<int64_t>& clock =
      partition < 0 || partition >= kMaxPartitions ? apply_clock_ : partition_clocks_[partition];
  int64_t cur = clock.load(std::memory_order_relaxed);
  while (ms > cur && !clock.compare_exchange_weak(cur, ms, std::memory_order_relaxed)) {
  }
}

int64_t Store::ApplyClock(int partition) const {
  const int64_t global = apply_clock_.load(std::memory_order_relaxed);
  if (partition < 0 || partition >= kMaxPartitions) return global;
  return std::max(global, partition_clocks_[partition].load(std::memory_order_relaxed));
}

uint64_t Store::IntProperty(const std::string& name) const {
  uint64_t v = 0;
  return db_->GetIntProperty(name, &v) ? v : 0;
}

size_t Store::BlockCacheUsage() const { return cache_->GetUsage(); }

Status Store::Checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return ToStatus(s);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: flush first, so the copy holds SST files rather than a WAL to replay.
  return ToStatus(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0));
}

}  // namespace flin::storage
