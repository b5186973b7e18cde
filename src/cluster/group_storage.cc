#include "cluster/group_storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cluster/snapshot_data.h"
#include "common/durable_file.h"
#include "common/log.h"
#include "net/event_loop.h"
#include "raft/codec.h"
#include "rocksdb/sst_file_writer.h"
#include "storage/encoding.h"

namespace flin::cluster {
namespace {

// Per group, so a node holds up to 64 (partitions) times these. Followers a few rounds behind
// are sent entries from here; one further behind is read back from RocksDB. The bytes' bound
// was 8 MiB: with 4 KiB values that is 2 K entries per group and 512 MiB per node, which
// under SETs filled for as long as a benchmark ran (each fresh 2 MiB of heap a huge page for
// the kernel to zero, a fifth of the machine) and stayed: a node's RSS after 15 s of 4 KiB
// SETs went from 932 to 510 MiB with 1 MiB (docs/BENCHMARKS.md, session 18).
constexpr size_t kCacheEntries = 4096;
constexpr size_t kCacheBytes = 1 << 20;

std::string GroupPrefix(char kind, int group) {
  std::string k(1, kind);
  k.push_back(static_cast<char>((group >> 8) & 0xff));
  k.push_back(static_cast<char>(group & 0xff));
  return k;
}

}  // namespace

std::string LogKey(int group, uint64_t index) {
  std::string k = GroupPrefix('l', group);
  PutU64(&k, index);
  return k;
}

std::string GroupMetaKey(char kind, int group) { return GroupPrefix(kind, group); }

namespace {
// Log keys (11 bytes) and the metadata keys (3 bytes), by kind and group, and the data keys
// by partition (storage::DataKeyInsertHint). RocksDB keeps one hint per prefix for point
// entries and range deletions alike (7.8, MemTable::Add), and a hint of one skiplist used in
// the other corrupts it: so no range deletion may start at a key of this domain (Store::Write
// refuses one). GroupStorage's start at the 3-byte "l" + group or partition prefix, outside.
class GroupKeyPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "flin.GroupKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 3);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    if (key.size() == 11 && key[0] == 'l') return true;
    if (key.size() == 3) return key[0] == 'h' || key[0] == 's' || key[0] == 'a' || key[0] == 'g';
    return storage::IsHintedDataKey(key);
  }
};
}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> GroupKeyInsertHint() {
  return std::make_shared<GroupKeyPrefix>();
}

Result<std::unique_ptr<GroupStorage>> GroupStorage::Open(storage::Store* store, LogStore* log,
                                                         int group,
                                                         const raft::ConfState& initial,
                                                         const std::string& snapshot_dir) {
  std::unique_ptr<GroupStorage> gs(new GroupStorage(store, log, group, snapshot_dir));
  rocksdb::DB* db = store->db();
  std::string v;
  rocksdb::ReadOptions ro;
  if (db->Get(ro, GroupMetaKey('g', group), &v).ok()) gs->generation_ = GetU64(v);
  if (Status s = gs->ResumeInstall(); !s.ok()) return s;  // may bump the generation
  if (db->Get(ro, GroupMetaKey('h', group), &v).ok()) {
    auto hs = raft::DecodeHardState(v);
    if (!hs.ok()) return Status::Corruption("group " + std::to_string(group) + " hard state");
    gs->hard_state_ = hs.value();
  }
  if (db->Get(ro, GroupMetaKey('s', group), &v).ok()) {
    auto meta = raft::DecodeSnapshotMeta(v);
    if (!meta.ok()) return Status::Corruption("group " + std::to_string(group) + " snapshot");
    gs->meta_ = meta.value();
  } else {
    gs->meta_.conf_state = initial;  // a group never started: bootstrap membership
  }
  std::string applied_value;
  if (db->Get(ro, GroupMetaKey('a', group), &applied_value).ok()) {
    gs->persisted_applied_ = GetU64(applied_value);
    if (applied_value.size() >= 16) {
      gs->applied_clock_ = static_cast<int64_t>(GetU64(std::string_view(applied_value).substr(8)));
    }
  }
  gs->recovering_ = db->Get(ro, GroupMetaKey('r', group), &v).ok();
  auto last = log->Attach(group, gs->generation_, gs->meta_.index);
  if (!last.ok()) return last.status();
  gs->last_index_ = last.value();
  if (Status s = gs->MigrateLog(); !s.ok()) return s;
  if (Status s = gs->CoverAppliedEntries(applied_value); !s.ok()) return s;
  gs->applied_ = std::max(gs->persisted_applied_, gs->meta_.index);
  gs->persisted_applied_ = gs->applied_;
  gs->applied_conf_ = gs->meta_.conf_state;
  return gs;
}

Status GroupStorage::MigrateLog() {
  const std::string prefix = GroupPrefix('l', group_);
  std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(rocksdb::ReadOptions()));
  std::vector<raft::Entry> entries;
  bool any = false;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    any = true;
    auto e = raft::DecodeEntry(it->value().ToStringView());
    if (!e.ok()) return Status::Corruption("group " + std::to_string(group_) + ": log entry");
    if (e->index <= meta_.index) continue;  // compacted (deleted in the same batch as 's')
    if (!entries.empty() && e->index != entries.back().index + 1) {
      return Status::Corruption("group " + std::to_string(group_) + ": a gap in the log");
    }
    entries.push_back(std::move(e).value());
  }
  if (!it->status().ok()) return Status::IOError("reading the log: " + it->status().ToString());
  if (!any) return Status::Ok();
  if (!entries.empty()) {
    // Durable in the log store before RocksDB forgets them; a crash in between moves them again
    // (the same records, superseding the first copies).
    if (entries.front().index != meta_.index + 1) {
      return Status::Corruption("group " + std::to_string(group_) + ": the log does not start " +
                                "after its compaction point");
    }
    log_->Append(group_, entries);
    if (Status s = log_->Sync(true); !s.ok()) return s;
    last_index_ = entries.back().index;
  }
  rocksdb::WriteBatch wb;
  wb.DeleteRange(prefix, LogKey(group_, UINT64_MAX)).PermitUncheckedError();
  if (Status s = store_->Write(&wb, true); !s.ok()) return s;
  LOG_NOTICE("group %d: moved %zu log entries from RocksDB into the log store", group_,
             entries.size());
  return Status::Ok();
}

Status GroupStorage::CoverAppliedEntries(std::string_view applied_value) {
  if (persisted_applied_ <= meta_.index) return Status::Ok();
  auto at = applied_value.size() > 16 ? raft::DecodeSnapshotMeta(applied_value.substr(16))
                                      : Result<raft::SnapshotMeta>(Status::NotFound());
  if (persisted_applied_ <= last_index_) {
    // The log holds the applied index, but maybe not the entry applied there: a new leader's
    // overwrite, applied (RocksDB's WAL synced) and lost from the log (not synced yet) in a
    // power cut, leaves the superseded entry — of another term — where the applied one was.
    // Kept, the replica would take it for committed and never follow its leader again. The
    // applied state is the truth: the log starts afresh after it (a new generation, as after
    // a snapshot install; what followed the superseded entry is of its history too).
    if (!at.ok() || at->index != persisted_applied_) return Status::Ok();  // nothing to compare
    auto term = Term(persisted_applied_);
    if (!term.ok()) return term.status();
    if (term.value() == at->term) return Status::Ok();
    LOG_NOTICE("group %d: the log holds entry %llu of term %llu, where the entry applied was of "
               "term %llu: the log starts again after it",
               group_, static_cast<unsigned long long>(persisted_applied_),
               static_cast<unsigned long long>(term.value()),
               static_cast<unsigned long long>(at->term));
    const uint64_t generation = std::max(generation_, log_->HighestGeneration(group_)) + 1;
    std::string gen, buf;
    PutU64(&gen, generation);
    raft::EncodeSnapshotMeta(at.value(), &buf);
    rocksdb::WriteBatch wb;
    wb.Put(GroupMetaKey('g', group_), gen).PermitUncheckedError();
    wb.Put(GroupMetaKey('s', group_), buf).PermitUncheckedError();
    if (Status s = store_->Write(&wb, true); !s.ok()) return s;
    generation_ = generation;
    meta_ = at.value();
    log_->Reset(group_, generation_, meta_.index);
    last_index_ = meta_.index;
    return Status::Ok();
  }
  if (!at.ok() || at->index != persisted_applied_) {
    return Status::Corruption("group " + std::to_string(group_) + ": the log ends at " +
                              std::to_string(last_index_) + ", below the applied index " +
                              std::to_string(persisted_applied_) + ", and its term is unknown");
  }
  LOG_NOTICE("group %d: the log ends at %llu, below the applied index %llu: compacted up to it",
             group_, static_cast<unsigned long long>(last_index_),
             static_cast<unsigned long long>(persisted_applied_));
  meta_ = at.value();
  log_->Compact(group_, meta_.index);
  last_index_ = meta_.index;
  std::string buf;
  raft::EncodeSnapshotMeta(meta_, &buf);
  rocksdb::WriteBatch wb;
  wb.Put(GroupMetaKey('s', group_), buf).PermitUncheckedError();
  return store_->Write(&wb, true);
}

void GroupStorage::SetRecovering(bool on, rocksdb::WriteBatch* wb) {
  if (on == recovering_) return;
  recovering_ = on;
  if (on) {
    wb->Put(GroupMetaKey('r', group_), "1").PermitUncheckedError();
  } else {
    wb->Delete(GroupMetaKey('r', group_)).PermitUncheckedError();
  }
}

GroupStorage::~GroupStorage() {
  AbandonSnapshotBuild();
  ReleaseSnapshot();
  DropIncoming();
}

Result<raft::InitialState> GroupStorage::GetInitialState() const {
  raft::HardState hs = hard_state_;
  // The stored commit index is only as new as the last term or vote change (SetHardState);
  // what was applied was committed. It may also be past the log's end: the hard state is
  // written (and synced) before the round's log, and under --fsync everysec the entries it
  // covers may have been written unsynced in earlier rounds; a power cut then keeps the one
  // and not the other. The core refuses a commit index past the last index (the node would
  // never start again): the commit index is re-learned from the leader with the entries.
  hs.commit = std::min(hs.commit, last_index_);
  hs.commit = std::max(hs.commit, std::min(applied_, last_index_));
  return raft::InitialState{hs, meta_.conf_state};
}

Result<raft::Entry> GroupStorage::ReadEntry(uint64_t i) const {
  if (!cache_.empty() && i >= cache_.front().index && i <= cache_.back().index) {
    return cache_[i - cache_.front().index];
  }
  auto e = log_->Read(group_, i);
  if (!e.ok()) return Status::IOError("log entry " + std::to_string(i) + ": " + e.status().ToString());
  return e;
}

Status GroupStorage::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                             std::vector<raft::Entry>* out) const {
  if (lo <= meta_.index) return raft::CompactedError();
  if (hi > last_index_ + 1) return Status::Unavailable("beyond the last index");
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    auto e = ReadEntry(i);
    if (!e.ok()) return e.status();
    bytes += e->Size();
    if (!out->empty() && bytes > max_bytes) break;
    out->push_back(std::move(e).value());
  }
  return Status::Ok();
}

Result<uint64_t> GroupStorage::Term(uint64_t i) const {
  if (i == meta_.index) return meta_.term;
  if (i < meta_.index) return raft::CompactedError();
  if (i > last_index_) return Status::Unavailable("beyond the last index");
  // Asked for every append's previous entry and every heartbeat's commit: from the cache
  // without copying the entry's data.
  if (!cache_.empty() && i >= cache_.front().index && i <= cache_.back().index) {
    return cache_[i - cache_.front().index].term;
  }
  auto e = ReadEntry(i);
  if (!e.ok()) return e.status();
  return e->term;
}

void GroupStorage::Append(const std::vector<raft::Entry>& entries) {
  if (entries.empty()) return;
  uint64_t first = entries.front().index;
  if (first <= meta_.index) return;  // covered by the snapshot (cannot happen after Ready rules)
  // A new leader overwriting our tail: the log store's records of `first` on supersede it.
  log_->Append(group_, entries);
  while (!cache_.empty() && cache_.back().index >= first) {
    cache_bytes_ -= cache_.back().Size();
    cache_.pop_back();
  }
  if (!cache_.empty() && cache_.back().index + 1 != first) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  for (const auto& e : entries) {
    cache_.push_back(e);
    cache_bytes_ += e.Size();
  }
  while (!cache_.empty() && (cache_.size() > kCacheEntries || cache_bytes_ > kCacheBytes)) {
    cache_bytes_ -= cache_.front().Size();
    cache_.pop_front();
  }
  last_index_ = entries.back().index;
}

bool GroupStorage::SetHardState(const raft::HardState& hs, rocksdb::WriteBatch* wb) {
  const bool changed = ChangesTermOrVote(hs);
  hard_state_ = hs;
  // A commit index alone is not written: it changes every round for every busy group (a
  // memtable insert each), and nothing needs it back. At start the commit is taken as at
  // least the applied index (applied entries were committed), and the rest is re-learned
  // from the leader.
  if (!changed) return false;
  std::string buf;
  raft::EncodeHardState(hs, &buf);
  wb->Put(GroupMetaKey('h', group_), buf).PermitUncheckedError();
  return true;
}

void GroupStorage::Compact(uint64_t index, rocksdb::WriteBatch* wb) {
  if (index <= meta_.index || index > applied_ || index > last_index_) return;
  auto term = Term(index);
  if (!term.ok()) return;
  // The entries' space goes once the compaction point is durable (MultiRaftNode syncs RocksDB
  // before the log store deletes a segment).
  log_->Compact(group_, index);
  meta_.index = index;
  meta_.term = term.value();
  meta_.conf_state = applied_conf_;
  std::string buf;
  raft::EncodeSnapshotMeta(meta_, &buf);
  wb->Put(GroupMetaKey('s', group_), buf).PermitUncheckedError();
  while (!cache_.empty() && cache_.front().index <= index) {
    cache_bytes_ -= cache_.front().Size();
    cache_.pop_front();
  }
}

void GroupStorage::ReleaseSnapshot() const {
  if (out_snap_) {
    std::error_code ec;
    std::filesystem::remove(out_snap_->path, ec);
    out_snap_.reset();
  }
}

// Snapshot data: a header (u32 kSnapshotHeader, u64 the partition's clock as of the snapshot),
// then records of u32 key length, key, u32 value length, raw value (encoding.h). Data without
// the header (from a node of an earlier version) is records only, and carries no clock.
Result<raft::SnapshotMeta> GroupStorage::SnapshotMetadata() const {
  const char* kDeferred = "too many snapshots in flight on this node";
  if (out_snap_ && out_snap_->meta.index >= meta_.index) {
    if (gate_ && !gate_()) return Status::Busy(kDeferred);
    return out_snap_->meta;
  }
  if (building_) {
    if (!building_->done.load(std::memory_order_acquire)) {
      return Status::Busy("snapshot being built");
    }
    building_->thread.join();
    std::unique_ptr<SnapshotBuild> b = std::move(building_);
    std::error_code ec;
    if (!b->status.ok()) {
      std::filesystem::remove(b->snap.path, ec);
      retry_wait_ms_ = std::clamp(retry_wait_ms_ * 2, retry_first_ms_, retry_max_ms_);
      retry_at_ms_ = net::MonotonicMs() + retry_wait_ms_;
      if (on_build_failed_) on_build_failed_(b->status);
      return b->status;  // a later call starts another, once retry_at_ms_ has passed
    }
    retry_wait_ms_ = 0;
    if (b->snap.meta.index >= meta_.index) {
      LOG_NOTICE("group %d: snapshot at index %llu, %llu bytes", group_,
                 static_cast<unsigned long long>(b->snap.meta.index),
                 static_cast<unsigned long long>(b->snap.size));
      ReleaseSnapshot();
      out_snap_ = std::move(b->snap);
      return out_snap_->meta;
    }
    std::filesystem::remove(b->snap.path, ec);  // the log was compacted past it meanwhile
  }
  if (retry_wait_ms_ > 0 && net::MonotonicMs() < retry_at_ms_) {
    return Status::Busy("the last snapshot build failed; retrying later");
  }
  if (gate_ && !gate_()) return Status::Busy(kDeferred);
  ReleaseSnapshot();
  auto term = Term(applied_);
  if (!term.ok()) return Status::Busy("applied entry not readable yet");
  StartSnapshotBuild();
  return Status::Busy("snapshot being built");
}

void GroupStorage::StartSnapshotBuild() const {
  auto b = std::make_unique<SnapshotBuild>();
  b->snap.meta.index = applied_;
  b->snap.meta.term = Term(applied_).value();
  b->snap.meta.conf_state = applied_conf_;
  b->snap.path = snapshot_dir_ + "/group-" + std::to_string(group_) + "-" +
                 std::to_string(applied_) + ".snap";
  b->clock = applied_clock_;
  // The raft thread is the only writer, and it is here: the store is exactly at `applied_`,
  // and the iterator keeps that state for the builder whatever is applied meanwhile.
  b->it = store_->NewIterator();
  SnapshotBuild* build = b.get();
  const std::string prefix = storage::PartitionPrefix(group_);
  const std::string dir = snapshot_dir_;
  b->thread = std::thread([build, prefix, dir] {
    // Durably: an install later puts its .keep link here, trusting the directory's name.
    (void)MakeDirsDurably(dir);  // on failure the file cannot be made either: the build fails
    std::ofstream out(build->snap.path, std::ios::binary | std::ios::trunc);
    std::string rec;
    PutU32(&rec, kSnapshotHeader);
    PutU64(&rec, static_cast<uint64_t>(build->clock));
    out.write(rec.data(), static_cast<std::streamsize>(rec.size()));
    build->snap.size += rec.size();
    rocksdb::Iterator* it = build->it.get();
    for (it->Seek(prefix); out && it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (build->cancel.load(std::memory_order_relaxed)) break;
      rec.clear();
      PutU32(&rec, static_cast<uint32_t>(it->key().size() - prefix.size()));
      rec.append(it->key().data() + prefix.size(), it->key().size() - prefix.size());
      PutU32(&rec, static_cast<uint32_t>(it->value().size()));
      rec.append(it->value().data(), it->value().size());
      out.write(rec.data(), static_cast<std::streamsize>(rec.size()));
      build->snap.size += rec.size();
    }
    out.close();
    if (!it->status().ok()) {
      build->status = Status::IOError("reading the partition: " + it->status().ToString());
    } else if (!out) {
      build->status = Status::IOError("cannot write " + build->snap.path);
    } else if (build->cancel.load(std::memory_order_relaxed)) {
      build->status = Status::Aborted("snapshot abandoned");
    }
    build->it.reset();  // releases the RocksDB state it pinned
    build->done.store(true, std::memory_order_release);
  });
  building_ = std::move(b);
}

void GroupStorage::AbandonSnapshotBuild() const {
  if (!building_) return;
  building_->cancel.store(true, std::memory_order_relaxed);
  building_->thread.join();
  std::error_code ec;
  std::filesystem::remove(building_->snap.path, ec);
  building_.reset();
}

Result<raft::SnapshotChunk> GroupStorage::ReadSnapshotChunk(uint64_t index, uint64_t offset,
                                                            uint64_t max_bytes) const {
  if (!out_snap_ || out_snap_->meta.index != index) return Status::NotFound("snapshot replaced");
  raft::SnapshotChunk chunk;
  chunk.meta = out_snap_->meta;
  if (offset > out_snap_->size) return Status::InvalidArgument("offset beyond the snapshot");
  uint64_t n = std::min(max_bytes, out_snap_->size - offset);
  chunk.data.resize(n);
  int fd = open(out_snap_->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + out_snap_->path);
  ssize_t got = pread(fd, chunk.data.data(), n, static_cast<off_t>(offset));
  close(fd);
  if (got != static_cast<ssize_t>(n)) return Status::IOError("short read of " + out_snap_->path);
  chunk.done = offset + n == out_snap_->size;
  return chunk;
}

namespace {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  return s.ok() ? Status::Ok() : Status::IOError(what + ": " + s.ToString());
}

// Opens `w` at `path` as an SST that replaces partition `group`'s data: a range deletion of
// the partition first (a range deletion in a file does not delete that file's own keys), then
// the snapshot's records (PutRecord).
Status OpenPartitionSst(rocksdb::SstFileWriter& w, const std::string& path, int group) {
  Status s = FromRocks(w.Open(path), "creating " + path);
  if (!s.ok()) return s;
  return FromRocks(w.DeleteRange(storage::PartitionPrefix(group),
                                 storage::PartitionPrefix(group + 1)),
                   "writing " + path);
}

// Writes one snapshot record into such a file: its key under the partition's `prefix`
// (`key`: scratch).
Status PutRecord(rocksdb::SstFileWriter& w, const std::string& path, const std::string& prefix,
                 std::string_view k, std::string_view v, std::string* key) {
  key->assign(prefix);
  key->append(k);
  return FromRocks(w.Put(*key, rocksdb::Slice(v.data(), v.size())), "writing " + path);
}

}  // namespace

std::string GroupStorage::AppliedValue(const raft::SnapshotMeta& at, int64_t clock) {
  std::string v;
  PutU64(&v, at.index);
  PutU64(&v, static_cast<uint64_t>(clock));
  raft::EncodeSnapshotMeta(at, &v);
  return v;
}

std::string GroupStorage::IncomingPath(const char* ext) const {
  return snapshot_dir_ + "/incoming-group-" + std::to_string(group_) + ext;
}

void GroupStorage::DropIncoming() {
  if (!incoming_) return;
  AbandonIncomingSst();
  close(incoming_->fd);
  std::error_code ec;
  std::filesystem::remove(IncomingPath(), ec);
  incoming_.reset();
}

void GroupStorage::AbandonIncomingSst() {
  if (!incoming_ || !incoming_->sst) return;
  incoming_->sst.reset();  // unfinished: RocksDB leaves the file
  std::error_code ec;
  std::filesystem::remove(IncomingPath(".sst"), ec);
}

// A received chunk, on the raft thread: its records are checked now (ValidateSnapshot has
// nothing left to read when the last one is in) and, once the stream has reached the ingest
// size, written into the SST file it will be installed from (InstallByIngest then only
// finishes it). Before, a large partition cost the raft thread — which every partition of the
// node shares — two parses of the whole file and the writing of the SST in the one round its
// last chunk arrived: about a second per GiB, enough for every partition this node leads to
// lose its leader. Now each chunk's share is paid as it comes. The records are read from the
// staged file (mapped from the first byte not consumed yet), so a record spanning many chunks
// is not gathered in memory. Bad data is kept by the stream: ValidateSnapshot refuses the
// snapshot. A failed write into the SST (a full disk) only drops the SST: the install then
// builds it from the staged file, as before, and a disk that still fails stops the node.
void GroupStorage::FeedIncoming() {
  IncomingSnapshot& in = *incoming_;
  if (in.stream.failed()) return;
  if (!in.sst && !in.sst_failed && in.size >= ingest_bytes_) in.sst_failed = !StartIncomingSst();
  std::string key;
  const std::string prefix = storage::PartitionPrefix(group_);
  Status write;
  SnapshotRecordFn put = nullptr;
  if (in.sst) {
    put = [&](std::string_view k, std::string_view v) {
      if (!write.ok()) return Status::Ok();  // the file is lost already: no record after a gap
      write = PutRecord(*in.sst, IncomingPath(".sst"), prefix, k, v, &key);
      return Status::Ok();  // a failed write is not bad data (below)
    };
  }
  const Status s = WithStaged(in.stream.consumed(), in.size, [&](std::string_view window) {
    return in.stream.Consume(window, put);
  });
  if (in.stream.failed()) return AbandonIncomingSst();  // bad data: it will be refused
  if (!s.ok()) write = s;  // the file could not be read
  if (!write.ok() && in.sst) {
    LOG_WARNING("group %d: %s; the install will write the file", group_, write.ToString().c_str());
    AbandonIncomingSst();
    in.sst_failed = true;
  }
}

Status GroupStorage::WithStaged(uint64_t from, uint64_t to,
                                const std::function<Status(std::string_view)>& use) const {
  if (from >= to) return use(std::string_view());
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t start = from / page * page;
  void* p = mmap(nullptr, to - start, PROT_READ, MAP_PRIVATE, incoming_->fd,
                 static_cast<off_t>(start));
  if (p == MAP_FAILED) return Status::IOError("mapping " + IncomingPath() + ": " + strerror(errno));
  Status s = use(std::string_view(static_cast<const char*>(p) + (from - start), to - from));
  munmap(p, to - start);
  return s;
}

// Opens the SST and writes into it the records of what was consumed before this chunk: a
// second stream walks the staged file up to there and takes the first one's place (the two
// have consumed the same bytes).
bool GroupStorage::StartIncomingSst() {
  IncomingSnapshot& in = *incoming_;
  rocksdb::EnvOptions eo;
  eo.bytes_per_sync = 1 << 20;  // written back as it goes: the final fsync has little left
  auto writer = std::make_unique<rocksdb::SstFileWriter>(eo, store_->SstWriterOptions());
  const std::string path = IncomingPath(".sst");
  const std::string prefix = storage::PartitionPrefix(group_);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  Status s = OpenPartitionSst(*writer, path, group_);
  SnapshotStream replay;
  std::string key;
  if (s.ok()) {
    s = WithStaged(0, in.stream.consumed(), [&](std::string_view done) {
      return replay.Consume(done, [&](std::string_view k, std::string_view v) {
        return PutRecord(*writer, path, prefix, k, v, &key);
      });
    });
  }
  if (s.ok() && replay.consumed() != in.stream.consumed()) s = Status::Corruption("replay");
  if (!s.ok()) {
    LOG_WARNING("group %d: %s; the install will write the file", group_, s.ToString().c_str());
    writer.reset();
    std::filesystem::remove(path, ec);
    return false;
  }
  in.stream = std::move(replay);
  in.sst = std::move(writer);
  return true;
}

Result<bool> GroupStorage::StageSnapshotChunk(const raft::SnapshotMeta& meta, uint64_t offset,
                                              std::string_view data) {
  if (snapshot_dir_.empty()) return false;  // nowhere to keep it: the core reassembles it
  if (offset == 0) {
    DropIncoming();
    Status made = MakeDirsDurably(snapshot_dir_);  // as InstallByIngest needs it
    if (!made.ok()) return made;
    const std::string path = IncomingPath();
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);  // read: mmap
    if (fd < 0) return Status::IOError("cannot create " + path + ": " + strerror(errno));
    incoming_.emplace(meta, fd);
  }
  // The core hands chunks over in order from 0 for one snapshot; anything else is a bug here.
  if (!incoming_ || !(incoming_->meta == meta) || incoming_->size != offset) {
    DropIncoming();  // as the core does on any error: the leader starts over
    return Status::InvalidArgument("snapshot chunk out of order");
  }
  for (size_t done = 0; done < data.size();) {
    ssize_t n = pwrite(incoming_->fd, data.data() + done, data.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status s = Status::IOError("writing " + IncomingPath() + ": " + strerror(errno));
      DropIncoming();  // the core drops the stream too; the leader starts it over
      return s;
    }
    done += static_cast<size_t>(n);
  }
  incoming_->size += data.size();
  FeedIncoming();
  return true;
}

Status GroupStorage::WithSnapshotData(const raft::Snapshot& snap,
                                      const std::function<Status(std::string_view)>& use) const {
  if (!snap.staged) return use(snap.data);
  if (!incoming_ || !(incoming_->meta == snap.meta)) {
    return Status::NotFound("no staged data of the snapshot at " + std::to_string(snap.meta.index));
  }
  if (incoming_->size == 0) return use(std::string_view());
  void* p = mmap(nullptr, incoming_->size, PROT_READ, MAP_PRIVATE, incoming_->fd, 0);
  if (p == MAP_FAILED) return Status::IOError("cannot map " + IncomingPath() + ": " + strerror(errno));
  Status s = use(std::string_view(static_cast<const char*>(p), incoming_->size));
  munmap(p, incoming_->size);
  return s;
}

Status GroupStorage::ValidateSnapshot(const raft::Snapshot& snap) const {
  if (snap.staged && incoming_ && incoming_->meta == snap.meta) {
    return incoming_->stream.Finish(incoming_->size);  // checked chunk by chunk (FeedIncoming)
  }
  return WithSnapshotData(snap, [](std::string_view data) {
    return ParseSnapshotData(data, nullptr);
  });
}

// Installing a snapshot. A partition smaller than ingest_bytes_ goes into the round's batch
// (InstallByBatch): the memtable takes it, and its flushes pace a catch-up of many partitions.
// A larger one is written as an SST file and ingested (InstallByIngest), so that it is neither
// held in memory as one batch nor passed through the WAL and one oversized memtable, in three
// durable steps; the file's key range is the partition's alone (a file spanning the group's
// metadata would span every partition, and RocksDB flushes the memtable before ingesting a
// file that overlaps it):
//   1. the 'i' marker (synced): the snapshot's metadata, clock and the hard state to write;
//   2. an SST of the partition (a range deletion of its data, then its records; a range
//      deletion in a file does not delete that file's own keys), ingested;
//   3. the group's metadata in one synced batch: 'a' applied = the snapshot's index with its
//      clock, 'h' the Ready's hard state with the commit at the snapshot's index, the whole
//      log deleted (entries after the snapshot follow in the round's write), 's' the new
//      compaction point, and the marker deleted.
// A crash between 1 and 3 leaves the marker: Open redoes 2 and 3 from a second link of the
// file kept until 3 is done (install-group-N.keep; the ingest moves the .sst link away).
// Measured (BENCHMARKS.md, session 10): 64 partitions of 12.5 MB each ingested as files
// stacked L0 files faster than compaction merged them (RocksDB stopped writes at 36), through
// the batch it did not; the batch costs memory in proportion to the partition.
namespace {

std::string MarkerValue(const raft::SnapshotMeta& meta, int64_t clock, const raft::HardState& hs) {
  std::string m, v;
  raft::EncodeSnapshotMeta(meta, &m);
  PutU32(&v, static_cast<uint32_t>(m.size()));
  v += m;
  PutU64(&v, static_cast<uint64_t>(clock));
  raft::EncodeHardState(hs, &v);
  return v;
}

bool ParseMarker(std::string_view v, raft::SnapshotMeta* meta, int64_t* clock, raft::HardState* hs) {
  size_t pos = 0;
  uint32_t n;
  if (!GetU32(v, &pos, &n) || v.size() - pos < static_cast<size_t>(n) + 8) return false;
  auto m = raft::DecodeSnapshotMeta(v.substr(pos, n));
  auto h = raft::DecodeHardState(v.substr(pos + n + 8));
  if (!m.ok() || !h.ok()) return false;
  *meta = m.value();
  *clock = static_cast<int64_t>(GetU64(v.substr(pos + n, 8)));
  *hs = h.value();
  return true;
}

std::atomic<int> g_install_crash{0};

}  // namespace

void GroupStorage::SetInstallCrashForTesting(int step) { g_install_crash.store(step); }

std::string GroupStorage::InstallPath(const char* ext) const {
  return snapshot_dir_ + "/install-group-" + std::to_string(group_) + ext;
}

void GroupStorage::AddInstalledMetadata(const raft::SnapshotMeta& meta, int64_t clock,
                                        rocksdb::WriteBatch* wb) {
  // A new generation of the log: what the log store holds of the old one no longer counts,
  // atomically with the data (InstallSnapshot resets the log store's index).
  // Above every generation the log store holds records of, not only the one RocksDB kept: a
  // bump lost in a power cut (its batch unsynced, --fsync everysec) may have left records of
  // the lost generation, which would count again.
  generation_ = std::max(generation_, log_->HighestGeneration(group_)) + 1;
  std::string gen;
  PutU64(&gen, generation_);
  wb->Put(GroupMetaKey('g', group_), gen).PermitUncheckedError();
  std::string buf;
  raft::EncodeSnapshotMeta(meta, &buf);
  wb->Put(GroupMetaKey('s', group_), buf).PermitUncheckedError();
  wb->Put(GroupMetaKey('a', group_), AppliedValue(meta, clock)).PermitUncheckedError();
}

Status GroupStorage::FinishInstall(const raft::SnapshotMeta& meta, int64_t clock,
                                   const raft::HardState& hs) {
  rocksdb::WriteBatch wb;
  std::string buf;
  raft::EncodeHardState(hs, &buf);
  wb.Put(GroupMetaKey('h', group_), buf).PermitUncheckedError();
  AddInstalledMetadata(meta, clock, &wb);
  wb.Delete(GroupMetaKey('i', group_)).PermitUncheckedError();
  Status s = store_->Write(&wb, true);
  if (!s.ok()) return s;
  std::error_code ec;
  std::filesystem::remove(InstallPath(".keep"), ec);
  return Status::Ok();
}

Status GroupStorage::ResumeInstall() {
  std::string v;
  std::error_code ec;
  if (!store_->db()->Get(rocksdb::ReadOptions(), GroupMetaKey('i', group_), &v).ok()) {
    if (!snapshot_dir_.empty()) std::filesystem::remove(InstallPath(".keep"), ec);  // done
    return Status::Ok();
  }
  raft::SnapshotMeta meta;
  int64_t clock;
  raft::HardState hs;
  if (!ParseMarker(v, &meta, &clock, &hs)) {
    return Status::Corruption("group " + std::to_string(group_) + ": snapshot install marker");
  }
  const std::string sst = InstallPath(".sst"), keep = InstallPath(".keep");
  std::filesystem::remove(sst, ec);
  std::filesystem::create_hard_link(keep, sst, ec);
  if (ec) {
    return Status::Corruption("group " + std::to_string(group_) + ": an install was interrupted " +
                              "and its file " + keep + " is gone: " + ec.message());
  }
  Status s = store_->IngestFile(sst);
  if (!s.ok()) return s;
  LOG_NOTICE("group %d: finished the install of the snapshot at index %llu interrupted by a crash",
             group_, static_cast<unsigned long long>(meta.index));
  return FinishInstall(meta, clock, hs);
}

Status GroupStorage::InstallSnapshot(const raft::Snapshot& snap, const raft::HardState* pending,
                                     rocksdb::WriteBatch* wb) {
  uint64_t size = snap.data.size();
  if (snap.staged) size = incoming_ && incoming_->meta == snap.meta ? incoming_->size : 0;
  int64_t clock = 0;
  Status s = size >= ingest_bytes_ && !snapshot_dir_.empty()
                 ? InstallByIngest(snap, pending, &clock)
                 : InstallByBatch(snap, wb, &clock);
  if (!s.ok()) return s;
  if (snap.staged) DropIncoming();
  log_->Reset(group_, generation_, snap.meta.index);
  meta_ = snap.meta;
  applied_clock_ = clock;
  last_index_ = meta_.index;
  applied_ = persisted_applied_ = meta_.index;
  applied_conf_ = meta_.conf_state;
  cache_.clear();
  cache_bytes_ = 0;
  AbandonSnapshotBuild();  // of data this replaces (made while this node led)
  ReleaseSnapshot();
  return Status::Ok();
}

// A small partition goes into the round's batch, atomically with the rest of the Ready: the
// partition's data replaced, the log deleted, the new compaction point and applied index.
Status GroupStorage::InstallByBatch(const raft::Snapshot& snap, rocksdb::WriteBatch* wb,
                                    int64_t* clock) {
  const std::string prefix = storage::PartitionPrefix(group_);
  const std::string next = storage::PartitionPrefix(group_ + 1);
  return WithSnapshotData(snap, [&](std::string_view data) {
    // The whole data is checked before anything goes into the batch.
    Status parsed = ParseSnapshotData(data, nullptr);
    if (!parsed.ok()) return parsed;
    *clock = SnapshotClock(data);
    wb->DeleteRange(prefix, next).PermitUncheckedError();
    std::string key;
    // (It parsed above; the second walk cannot fail.)
    [[maybe_unused]] Status again = ParseSnapshotData(data, [&](std::string_view k, std::string_view v) {
      key = prefix;
      key.append(k);
      wb->Put(key, rocksdb::Slice(v.data(), v.size())).PermitUncheckedError();
      return Status::Ok();
    });
    AddInstalledMetadata(snap.meta, *clock, wb);
    return Status::Ok();
  });
}

Status GroupStorage::TakeIncomingSst(const std::string& sst, int64_t* clock) {
  IncomingSnapshot& in = *incoming_;
  const std::string path = IncomingPath(".sst");
  Status s = in.stream.Finish(in.size);  // whole and well formed (as ValidateSnapshot said)
  if (s.ok()) s = FromRocks(in.sst->Finish(), "finishing " + path);
  in.sst.reset();
  std::error_code ec;
  if (s.ok()) {
    std::filesystem::rename(path, sst, ec);
    if (ec) s = Status::IOError("renaming " + path + ": " + ec.message());
  }
  if (!s.ok()) std::filesystem::remove(path, ec);
  *clock = in.stream.clock();
  return s;
}

Status GroupStorage::InstallByIngest(const raft::Snapshot& snap, const raft::HardState* pending,
                                     int64_t* clock) {
  const std::string prefix = storage::PartitionPrefix(group_);
  const std::string sst = InstallPath(".sst"), keep = InstallPath(".keep");
  std::error_code ec;
  Status made = MakeDirsDurably(snapshot_dir_);  // the .keep link's directory, by its name
  if (!made.ok()) return made;
  std::filesystem::remove(keep, ec);
  // Never written through: a link left from an earlier ingest would be a file of the store.
  std::filesystem::remove(sst, ec);
  auto build = [&](std::string_view data) {  // from the whole data: it was not written as it came
    *clock = SnapshotClock(data);
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), store_->SstWriterOptions());
    Status w = OpenPartitionSst(writer, sst, group_);
    std::string key;
    if (w.ok()) {
      w = ParseSnapshotData(data, [&](std::string_view k, std::string_view v) {
        return PutRecord(writer, sst, prefix, k, v, &key);
      });
    }
    if (w.ok()) w = FromRocks(writer.Finish(), "finishing " + sst);
    return w;
  };
  Status s = snap.staged && incoming_ && incoming_->meta == snap.meta && incoming_->sst
                 ? TakeIncomingSst(sst, clock)
                 : WithSnapshotData(snap, build);
  if (s.ok()) {
    std::filesystem::create_hard_link(sst, keep, ec);
    if (ec) s = Status::IOError("linking " + keep + ": " + ec.message());
  }
  if (s.ok()) s = SyncDir(snapshot_dir_);  // the .keep link, before the marker names it
  if (!s.ok()) {  // nothing changed
    std::filesystem::remove(sst, ec);
    std::filesystem::remove(keep, ec);
    return s;
  }
  raft::HardState hs = pending ? *pending : hard_state_;
  hs.commit = snap.meta.index;
  rocksdb::WriteBatch marker;
  marker.Put(GroupMetaKey('i', group_), MarkerValue(snap.meta, *clock, hs)).PermitUncheckedError();
  s = store_->Write(&marker, true);
  if (s.ok() && g_install_crash.load() == 1) return Status::Aborted("crash after the marker (test)");
  if (s.ok()) s = store_->IngestFile(sst);
  if (s.ok() && g_install_crash.load() == 2) return Status::Aborted("crash after the ingest (test)");
  if (s.ok()) s = FinishInstall(snap.meta, *clock, hs);
  // On an error the marker may be written: the store has failed, and the next start finishes
  // the install (or, without the marker, there is nothing to finish).
  return s;
}

}  // namespace flin::cluster
