// GroupStorage: a Raft group's log, hard state, compaction point and snapshots in RocksDB.

#include "cluster/group_storage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "raft/codec.h"
#include "storage/encoding.h"
#include "storage/write_txn.h"

namespace flin::cluster {
namespace {

// One snapshot record: u32 LE key length, key, u32 LE value length, value.
std::string SnapshotRecord(std::string_view key, std::string_view value) {
  std::string r;
  for (std::string_view part : {key, value}) {
    for (int i = 0; i < 4; ++i) r.push_back(static_cast<char>((part.size() >> (8 * i)) & 0xff));
    r.append(part);
  }
  return r;
}

// A string value as Flin stores it (encoding.h), without expiry.
std::string StoredString(std::string_view payload) {
  std::string raw;
  storage::EncodeValue(storage::ValueType::kString, 0, payload, &raw);
  return raw;
}

// Every test runs twice: snapshots installed through the round's batch (the default for small
// partitions) and by ingesting an SST file (GroupStorage::set_ingest_bytes(0)).
class GroupStorageTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');  // "Test/Batch"
    dir_ = std::filesystem::temp_directory_path() /
           ("flin_gs_test_" + std::to_string(getpid()) + "_" + name);
    std::filesystem::remove_all(dir_);
    voters_.voters = {1, 2, 3};
    Reopen();
  }
  void TearDown() override {
    gs_.reset();
    log_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen(int group = 5) {
    gs_.reset();
    log_.reset();
    store_.reset();
    storage::StoreOptions o;
    o.dir = dir_;
    o.block_cache_bytes = 8 << 20;
    o.insert_hint_prefix = GroupKeyInsertHint();  // as a cluster node opens its store
    auto s = storage::Store::Open(o);
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    LogStoreOptions lo;
    lo.dir = dir_ + "/raft-log";
    auto l = LogStore::Open(lo);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(l).value();
    auto g = GroupStorage::Open(store_.get(), log_.get(), group, voters_, dir_ + "/snapshots");
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    gs_ = std::move(g).value();
    if (GetParam()) gs_->set_ingest_bytes(0);
  }
  static std::vector<raft::Entry> Entries(uint64_t from, uint64_t to, uint64_t term) {
    std::vector<raft::Entry> v;
    for (uint64_t i = from; i <= to; ++i) v.push_back(raft::Entry{term, i, raft::EntryType::kNormal, "e" + std::to_string(i)});
    return v;
  }
  raft::SnapshotMeta MetaAt(uint64_t index, uint64_t term) const {
    raft::SnapshotMeta meta;
    meta.index = index;
    meta.term = term;
    meta.conf_state = voters_;
    return meta;
  }
  // InstallSnapshot, and the round's write that follows it (what it put into the batch).
  Status Install(const raft::Snapshot& snap, const raft::HardState* pending = nullptr) {
    rocksdb::WriteBatch wb;
    Status s = gs_->InstallSnapshot(snap, pending, &wb);
    if (s.ok() && wb.Count() > 0) s = store_->Write(&wb, true);
    if (s.ok()) s = log_->Sync(true);
    return s;
  }
  // A round's write, as MultiRaftNode makes it: the batch, then the log.
  void Write(rocksdb::WriteBatch* wb) {
    ASSERT_TRUE(store_->Write(wb, true).ok());
    ASSERT_TRUE(log_->Sync(true).ok());
  }
  void PutData(int group, const std::string& key, const std::string& value) {
    storage::WriteTxn txn(store_.get());
    std::string raw;
    storage::EncodeValue(storage::ValueType::kString, 0, value, &raw);
    txn.Put(group, key, raw);
    ASSERT_TRUE(txn.Commit(false).ok());
  }

  // SnapshotMetadata until the background build is done (Busy until then), at most 10 s.
  // Entries 1..last of `term` in the log, applied up to `applied` (with that clock).
  void LogApplied(uint64_t last, uint64_t term, uint64_t applied, int64_t clock = 0) {
    rocksdb::WriteBatch wb;
    gs_->Append(Entries(1, last, term));
    Write(&wb);
    gs_->set_applied(applied, voters_, clock);
  }
  Result<raft::SnapshotMeta> BuiltSnapshot() {
    for (int i = 0; i < 10000; ++i) {
      auto meta = gs_->SnapshotMetadata();
      if (meta.ok() || meta.status().code() != Status::Code::kBusy) return meta;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Status::TimedOut("snapshot not built in 10 s");
  }
  // Partition 5 holds "a", applied to index 4, and a file stands where the snapshot directory
  // should be (as a full disk, a build fails). Returns the directory's path.
  std::string AppliedWithSnapshotDirBlocked() {
    PutData(5, "a", "1");
    LogApplied(4, 1, 4);
    const std::string snapdir = dir_ + "/snapshots";
    std::filesystem::remove_all(snapdir);
    std::ofstream(snapdir) << "a file where the directory should be";
    return snapdir;
  }
  std::string ReadSnapshot(uint64_t index) {
    std::string data;
    for (uint64_t off = 0;;) {
      auto chunk = gs_->ReadSnapshotChunk(index, off, 1000);
      EXPECT_TRUE(chunk.ok());
      if (!chunk.ok()) return data;
      data += chunk->data;
      off += chunk->data.size();
      if (chunk->done) return data;
    }
  }

  // Partition 5 holds {a, b} (6 holds "other"), applied to index 4 with a clock: its snapshot
  // is built and read into *data; then the store is opened again as a follower's whose
  // partition 5 holds only a "stale" key, to install the snapshot over.
  raft::SnapshotMeta SnapshotOfPartition5ThenAFollower(std::string* data) {
    PutData(5, "a", "1");
    PutData(5, "b", std::string(3000, 'x'));
    PutData(6, "other", "not in the snapshot");
    LogApplied(4, 1, 4, 1700000000555);  // clock as of index 4
    auto meta = BuiltSnapshot();
    EXPECT_TRUE(meta.ok()) << meta.status().ToString();
    if (!meta.ok()) return {};
    *data = ReadSnapshot(4);
    Reopen(5);
    rocksdb::WriteBatch del;
    del.DeleteRange(storage::PartitionPrefix(5), storage::PartitionPrefix(6));
    Write(&del);
    PutData(5, "stale", "must disappear");
    return meta.value();
  }
  // After that snapshot was installed: partition 5 is exactly {a, b}, 6 is untouched.
  void ExpectPartition5FromTheSnapshot() {
    std::string raw;
    EXPECT_TRUE(store_->Get(5, "a", 0, &raw).ok());
    EXPECT_TRUE(store_->Get(5, "b", 0, &raw).ok());
    EXPECT_TRUE(store_->Get(5, "stale", 0, &raw).IsNotFound());
    EXPECT_TRUE(store_->Get(6, "other", 0, &raw).ok());
    EXPECT_EQ(gs_->applied(), 4u);
    // The partition's clock came with the data (it was unknown here until the next entry).
    EXPECT_EQ(gs_->applied_clock(), 1700000000555);
  }

  std::string dir_;
  raft::ConfState voters_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<LogStore> log_;
  std::unique_ptr<GroupStorage> gs_;
};

TEST_P(GroupStorageTest, FreshGroupBootstrapsWithItsVoters) {
  auto init = gs_->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf_state, voters_);
  EXPECT_EQ(gs_->FirstIndex(), 1u);
  EXPECT_EQ(gs_->LastIndex(), 0u);
}

// The log's keys are inserted into the memtable with hints (StoreOptions::insert_hint_prefix);
// RocksDB keeps one hint per prefix for point entries and range deletions alike, so a range
// deletion starting at a hinted key corrupted the skiplist (an assertion in RocksDB, seen as
// cluster nodes aborting once their logs were compacted). Appends, overwrites, compactions
// and snapshot installs interleave here, then every entry must read back.
TEST_P(GroupStorageTest, LogEditsInterleaveWithInsertHints) {
  uint64_t last = 0, term = 1;
  for (int round = 0; round < 200; ++round) {
    rocksdb::WriteBatch wb;
    gs_->Append(Entries(last + 1, last + 20, term));
    Write(&wb);
    last += 20;
    if (round % 7 == 3) {  // a new leader overwrites the last 5
      ++term;
      rocksdb::WriteBatch over;
      gs_->Append(Entries(last - 4, last - 2, term));
      Write(&over);
      last -= 2;
    }
    gs_->set_applied(last - 10, voters_, 0);
    if (round % 5 == 4) {
      rocksdb::WriteBatch c;
      gs_->Compact(last - 30, &c);
      Write(&c);
    }
  }
  std::vector<raft::Entry> got;
  ASSERT_TRUE(gs_->Entries(gs_->FirstIndex(), last + 1, UINT64_MAX, &got).ok());
  ASSERT_EQ(got.size(), last - gs_->FirstIndex() + 1);
  for (const auto& e : got) EXPECT_EQ(e.data, "e" + std::to_string(e.index));
  Reopen();  // and from RocksDB rather than the entry cache
  got.clear();
  ASSERT_TRUE(gs_->Entries(gs_->FirstIndex(), last + 1, UINT64_MAX, &got).ok());
  ASSERT_EQ(got.size(), last - gs_->FirstIndex() + 1);
  for (const auto& e : got) EXPECT_EQ(e.data, "e" + std::to_string(e.index));
  EXPECT_EQ(gs_->LastIndex(), last);
}

// A commit index that alone changed is not written (SetHardState); after a restart the
// commit index is the applied index if that is further.
TEST_P(GroupStorageTest, CommitIndexComesBackAsAtLeastTheAppliedIndex) {
  rocksdb::WriteBatch wb;
  gs_->Append(Entries(1, 10, 2));
  EXPECT_TRUE(gs_->SetHardState(raft::HardState{2, 1, 3}, &wb));   // term and vote: written
  Write(&wb);
  rocksdb::WriteBatch wb2;
  EXPECT_FALSE(gs_->SetHardState(raft::HardState{2, 1, 9}, &wb2));  // commit alone: not
  EXPECT_EQ(wb2.Count(), 0u);
  wb2.Put(GroupMetaKey('a', 5), GroupStorage::AppliedValue(MetaAt(8, 2), 0));   // as the apply batch does
  Write(&wb2);
  Reopen();
  auto init = gs_->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state.term, 2u);
  EXPECT_EQ(init->hard_state.vote, 1u);
  EXPECT_EQ(init->hard_state.commit, 8u);
}

TEST_P(GroupStorageTest, AppendTruncateAndReloadAfterRestart) {
  rocksdb::WriteBatch wb;
  gs_->Append(Entries(1, 10, 1));
  gs_->SetHardState(raft::HardState{2, 1, 7}, &wb);
  Write(&wb);
  rocksdb::WriteBatch wb2;
  gs_->Append(Entries(6, 8, 2));  // a new leader overwrote 6..10 with 6..8
  Write(&wb2);
  EXPECT_EQ(gs_->LastIndex(), 8u);
  EXPECT_EQ(gs_->Term(7).value(), 2u);
  Reopen();
  EXPECT_EQ(gs_->LastIndex(), 8u);
  EXPECT_EQ(gs_->Term(5).value(), 1u);
  EXPECT_EQ(gs_->Term(8).value(), 2u);
  EXPECT_FALSE(gs_->Term(9).ok());
  std::vector<raft::Entry> out;
  ASSERT_TRUE(gs_->Entries(4, 9, UINT64_MAX, &out).ok());
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].data, "e4");
  EXPECT_EQ(out[4].term, 2u);
  EXPECT_EQ(gs_->GetInitialState()->hard_state, (raft::HardState{2, 1, 7}));
  out.clear();
  ASSERT_TRUE(gs_->Entries(1, 9, 1, &out).ok());
  EXPECT_EQ(out.size(), 1u);  // the byte limit still returns one entry
}

// The cache of recent entries holds at most 1 MiB per group (64 of them on a node): large
// values are read back from RocksDB beyond that, whole and in order.
TEST_P(GroupStorageTest, TheEntryCacheIsBoundedInBytes) {
  std::vector<raft::Entry> big;
  for (uint64_t i = 1; i <= 40; ++i) {
    big.push_back(raft::Entry{1, i, raft::EntryType::kNormal, std::string(64 << 10, 'a' + i % 26)});
  }
  rocksdb::WriteBatch wb;
  gs_->Append(big);
  Write(&wb);
  EXPECT_LE(gs_->cached_bytes(), size_t{1} << 20);
  EXPECT_GT(gs_->cached_bytes(), 0u);
  std::vector<raft::Entry> out;
  ASSERT_TRUE(gs_->Entries(1, 41, UINT64_MAX, &out).ok());
  ASSERT_EQ(out.size(), 40u);
  for (uint64_t i = 1; i <= 40; ++i) EXPECT_EQ(out[i - 1].data, big[i - 1].data) << i;
}

TEST_P(GroupStorageTest, CompactionDropsTheHeadAndSurvivesRestart) {
  LogApplied(20, 3, 15);
  rocksdb::WriteBatch wb2;
  gs_->Compact(12, &wb2);
  Write(&wb2);
  EXPECT_EQ(gs_->FirstIndex(), 13u);
  EXPECT_EQ(gs_->Term(12).value(), 3u);
  EXPECT_TRUE(raft::IsCompacted(gs_->Term(11).status()));
  std::vector<raft::Entry> out;
  EXPECT_TRUE(raft::IsCompacted(gs_->Entries(5, 14, UINT64_MAX, &out)));
  Reopen();
  EXPECT_EQ(gs_->FirstIndex(), 13u);
  EXPECT_EQ(gs_->LastIndex(), 20u);
  rocksdb::WriteBatch wb3;
  gs_->Compact(18, &wb3);  // beyond applied: refused
  EXPECT_EQ(wb3.Count(), 0);
}

TEST_P(GroupStorageTest, SnapshotStreamsThePartitionAndInstallsElsewhere) {
  std::string data;
  const raft::SnapshotMeta meta = SnapshotOfPartition5ThenAFollower(&data);
  EXPECT_EQ(meta.index, 4u);
  EXPECT_EQ(meta.term, 1u);
  EXPECT_FALSE(gs_->ReadSnapshotChunk(3, 0, 10).ok());  // not that snapshot
  raft::Snapshot snap{meta, data};
  ASSERT_TRUE(Install(snap).ok());
  ExpectPartition5FromTheSnapshot();
  EXPECT_EQ(gs_->FirstIndex(), 5u);
  Reopen(5);
  EXPECT_EQ(gs_->applied(), 4u);
  EXPECT_EQ(gs_->applied_clock(), 1700000000555);
  EXPECT_EQ(gs_->Term(4).value(), 1u);

  // A record that claims a 5-byte key but carries 2 bytes.
  raft::Snapshot bad{meta, std::string("\x05\x00\x00\x00", 4) + "ab"};
  EXPECT_FALSE(Install(bad).ok());  // truncated: nothing changes
  ExpectPartition5FromTheSnapshot();
  EXPECT_EQ(gs_->FirstIndex(), 5u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/snapshots/install-group-5.sst"));
}

// A follower keeps a snapshot it receives in a file, chunk by chunk, not in memory, and
// installs the partition from that file.
TEST_P(GroupStorageTest, ReceivedSnapshotIsKeptInAFileAndInstalledFromIt) {
  std::string data;
  const raft::SnapshotMeta meta = SnapshotOfPartition5ThenAFollower(&data);
  auto stage = [&](const raft::SnapshotMeta& m, const std::string& bytes) {
    for (uint64_t off = 0; off < bytes.size(); off += 1000) {
      auto kept = gs_->StageSnapshotChunk(m, off, std::string_view(bytes).substr(off, 1000));
      ASSERT_TRUE(kept.ok()) << kept.status().ToString();
      EXPECT_TRUE(kept.value());
    }
  };
  stage(meta, data);
  const std::string file = dir_ + "/snapshots/incoming-group-5.part";
  ASSERT_EQ(std::filesystem::file_size(file), data.size());
  const raft::Snapshot staged{meta, "", true};
  EXPECT_TRUE(gs_->ValidateSnapshot(staged).ok());
  raft::SnapshotMeta other = meta;
  other.index = 9;  // not the snapshot the file holds
  EXPECT_FALSE(gs_->ValidateSnapshot(raft::Snapshot{other, "", true}).ok());
  ASSERT_TRUE(Install(staged).ok());
  EXPECT_FALSE(std::filesystem::exists(file));  // its bytes are in the store now
  ExpectPartition5FromTheSnapshot();

  // A malformed file is refused and changes nothing.
  raft::SnapshotMeta later = meta;
  later.index = 20;
  stage(later, std::string("\x05\x00\x00\x00", 4) + "ab");
  EXPECT_FALSE(gs_->ValidateSnapshot(raft::Snapshot{later, "", true}).ok());
  EXPECT_FALSE(Install(raft::Snapshot{later, "", true}).ok());
  // A chunk out of order is an error, and drops the stream (as the core does).
  EXPECT_FALSE(gs_->StageSnapshotChunk(later, 3, "x").ok());
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_FALSE(gs_->StageSnapshotChunk(later, 6, "x").ok());
}

// A large partition is checked and written into its SST as its chunks arrive (from the
// ingest size on), not in the round its last chunk is in: the chunks that came before the
// threshold are written when it is crossed, later ones as they come, and the install takes
// the file as it is: the staged copy is not read again (here it is damaged after staging, and
// the install is still right).
TEST_P(GroupStorageTest, ALargeSnapshotIsCheckedAndWrittenAsItsChunksArrive) {
  std::string data;
  const raft::SnapshotMeta meta = SnapshotOfPartition5ThenAFollower(&data);
  ASSERT_GT(data.size(), 2500u);
  gs_->set_ingest_bytes(1500);  // crossed by the second chunk of 1000 bytes
  const std::string sst = dir_ + "/snapshots/incoming-group-5.sst";
  for (uint64_t off = 0; off < data.size(); off += 1000) {
    auto kept = gs_->StageSnapshotChunk(meta, off, std::string_view(data).substr(off, 1000));
    ASSERT_TRUE(kept.ok()) << kept.status().ToString();
    EXPECT_EQ(std::filesystem::exists(sst), off >= 1000) << off;
  }
  {
    std::fstream part(dir_ + "/snapshots/incoming-group-5.part",
                      std::ios::in | std::ios::out | std::ios::binary);
    part.seekp(20);
    part.write("\xff\xff\xff\xff", 4);  // would make the data unreadable if read again
  }
  const raft::Snapshot staged{meta, "", true};
  EXPECT_TRUE(gs_->ValidateSnapshot(staged).ok());
  ASSERT_TRUE(Install(staged).ok());
  EXPECT_FALSE(std::filesystem::exists(sst));
  ExpectPartition5FromTheSnapshot();
}

// Bad data found by a chunk: the snapshot is refused at the end (the leader sends it again)
// and nothing is installed from the file written so far.
TEST_P(GroupStorageTest, ALargeSnapshotWithBadDataIsRefused) {
  std::string data;
  const raft::SnapshotMeta meta = SnapshotOfPartition5ThenAFollower(&data);
  gs_->set_ingest_bytes(1500);
  std::string value;
  storage::EncodeValue(storage::ValueType::kString, 0, "v", &value);
  PutU32(&data, 1);
  data += std::string(1, '\0');  // a key before every other: out of order
  PutU32(&data, static_cast<uint32_t>(value.size()));
  data += value;
  ASSERT_FALSE(ParseSnapshotData(data, nullptr).ok());
  const std::string sst = dir_ + "/snapshots/incoming-group-5.sst";
  for (uint64_t off = 0; off < data.size(); off += 700) {
    ASSERT_TRUE(gs_->StageSnapshotChunk(meta, off, std::string_view(data).substr(off, 700)).ok());
    // Written while the data is good; dropped as soon as the chunk with the bad record is in.
    EXPECT_EQ(std::filesystem::exists(sst), off >= 1400 && off + 700 < data.size()) << off;
  }
  const raft::Snapshot staged{meta, "", true};
  EXPECT_FALSE(gs_->ValidateSnapshot(staged).ok());
  EXPECT_FALSE(Install(staged).ok());
}

// A snapshot is written by a thread of its own (a large partition must not stop the raft
// thread); it must still be the partition as of the applied index when it was asked for, not
// as of whenever the builder reads it: the raft thread goes on applying meanwhile.
TEST_P(GroupStorageTest, SnapshotIsThePartitionWhenAskedWhileApplyGoesOn) {
  for (int i = 0; i < 2000; ++i) PutData(5, "k" + std::to_string(i), std::string(100, 'v'));
  LogApplied(4, 1, 4);
  auto first = gs_->SnapshotMetadata();
  ASSERT_EQ(first.status().code(), Status::Code::kBusy) << "built in the background";
  // Applied after the request: none of it may be in the snapshot at index 4.
  for (int i = 0; i < 50; ++i) PutData(5, "late" + std::to_string(i), "x");
  std::string k0;
  storage::EncodeDataKey(5, "k0", &k0);
  rocksdb::WriteBatch del;
  del.Delete(k0);
  Write(&del);

  auto meta = BuiltSnapshot();
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->index, 4u);
  const std::string data = ReadSnapshot(4);

  Reopen(5);  // install it over a fresh copy of the partition
  rocksdb::WriteBatch wipe;
  wipe.DeleteRange(storage::PartitionPrefix(5), storage::PartitionPrefix(6));
  Write(&wipe);
  ASSERT_TRUE(Install(raft::Snapshot{meta.value(), data}).ok());
  std::string raw;
  EXPECT_TRUE(store_->Get(5, "k0", 0, &raw).ok()) << "deleted after the request";
  EXPECT_TRUE(store_->Get(5, "k1999", 0, &raw).ok());
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(store_->Get(5, "late" + std::to_string(i), 0, &raw).IsNotFound()) << i;
  }
}

// The log may not be compacted past a snapshot being built, nor past the one offered while it
// is streamed to a follower (MultiRaftNode::MaybeCompact): the follower goes on from its index.
TEST_P(GroupStorageTest, SnapshotInUseBoundsCompaction) {
  PutData(5, "a", "1");
  LogApplied(20, 1, 10);
  EXPECT_EQ(gs_->SnapshotInUse(true), UINT64_MAX);  // none made yet
  ASSERT_EQ(gs_->SnapshotMetadata().status().code(), Status::Code::kBusy);
  gs_->set_applied(20, voters_, 0);
  EXPECT_EQ(gs_->SnapshotInUse(false), 10u);  // being built at 10
  ASSERT_TRUE(BuiltSnapshot().ok());
  EXPECT_EQ(gs_->SnapshotInUse(false), UINT64_MAX);  // built; nobody is being sent it
  EXPECT_EQ(gs_->SnapshotInUse(true), 10u);
}

// MultiRaftNode bounds the snapshots a node builds and streams at once through the gate: a
// shut gate defers starting one (no build, no file), but never a build already made.
TEST_P(GroupStorageTest, SnapshotGateDefersNewSnapshotsButNotABuiltOne) {
  PutData(5, "a", "1");
  LogApplied(4, 1, 4);
  bool open = false;
  int asked = 0;
  gs_->set_snapshot_gate([&] {
    ++asked;
    return open;
  });
  EXPECT_EQ(gs_->SnapshotMetadata().status().code(), Status::Code::kBusy);
  EXPECT_FALSE(gs_->building_snapshot()) << "nothing is built while the gate is shut";
  EXPECT_EQ(asked, 1);
  open = true;
  EXPECT_EQ(gs_->SnapshotMetadata().status().code(), Status::Code::kBusy);
  EXPECT_TRUE(gs_->building_snapshot());
  open = false;  // shut while it is built: the build still goes out when done
  auto meta = BuiltSnapshot();
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->index, 4u);
  // Offering it again (to another follower, or after a failed stream) is a new stream.
  EXPECT_EQ(gs_->SnapshotMetadata().status().code(), Status::Code::kBusy);
  open = true;
  auto again = gs_->SnapshotMetadata();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->index, 4u);
}

// A failed build (here: the snapshot directory cannot be made, as on a full disk) is reported
// once, and the next one waits: without the wait every probe of the follower started another
// build, each writing until it took the disk's last free bytes (1,110 failures in 20 s on one
// node, each a warning, in a probe of session 24).
TEST_P(GroupStorageTest, AFailedSnapshotBuildIsReportedAndRetriedOnlyAfterAWait) {
  const std::string snapdir = AppliedWithSnapshotDirBlocked();
  std::vector<std::string> failures;
  gs_->set_snapshot_failed([&](const Status& s) { failures.push_back(s.ToString()); });
  gs_->set_snapshot_retry_ms(60000, 60000);
  auto first = BuiltSnapshot();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), Status::Code::kIOError) << first.status().ToString();
  ASSERT_EQ(failures.size(), 1u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(gs_->SnapshotMetadata().status().code(), Status::Code::kBusy);
    EXPECT_FALSE(gs_->building_snapshot()) << "a build started again at once, call " << i;
  }
  EXPECT_EQ(failures.size(), 1u);

  // With the wait over and the directory possible again, the next probe builds it.
  std::filesystem::remove(snapdir);
  Reopen();  // a fresh storage object: the wait lives in memory only
  gs_->set_applied(4, voters_, 0);
  auto built = BuiltSnapshot();
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->index, 4u);
}

// Builds that keep failing keep being retried (after waits of 1 ms, 2 ms, ... up to the
// longest), and one succeeds once the disk allows it.
TEST_P(GroupStorageTest, SnapshotBuildsAreRetriedWhileTheyFail) {
  const std::string snapdir = AppliedWithSnapshotDirBlocked();
  int failures = 0;
  gs_->set_snapshot_failed([&](const Status&) { ++failures; });
  gs_->set_snapshot_retry_ms(1, 8);
  for (int i = 0; i < 6; ++i) ASSERT_FALSE(BuiltSnapshot().ok());
  EXPECT_EQ(failures, 6);
  std::filesystem::remove(snapdir);
  auto built = BuiltSnapshot();  // within the longest wait (8 ms) of the last failure
  ASSERT_TRUE(built.ok()) << built.status().ToString();
}

// Found by snapshot_install_fuzz: a record whose value is not a stored value (encoding.h) was
// installed as it came, leaving data every later read reports as corrupt.
TEST_P(GroupStorageTest, InstallSnapshotRefusesMalformedValues) {
  const raft::SnapshotMeta meta = MetaAt(100, 3);
  const std::string good = StoredString("value");
  // The fuzzer's input: type byte '/' instead of a string's 0.
  for (const std::string& bad : {std::string("/\0v?lue", 7), std::string("\0\7", 2),
                                 std::string("\0\1\0", 3), std::string(1, '\0')}) {
    raft::Snapshot snap{meta, SnapshotRecord("ok", good) + SnapshotRecord("key", bad)};
    EXPECT_FALSE(Install(snap).ok()) << bad.size();
  }
  // Records without the header (as an earlier version sent them) install, with no clock.
  raft::Snapshot snap{meta, SnapshotRecord("ok", good)};
  ASSERT_TRUE(Install(snap).ok());
  std::string raw;
  EXPECT_TRUE(store_->Get(5, "ok", 0, &raw).ok());
  EXPECT_EQ(gs_->applied_clock(), 0);
  // A header cut short is refused.
  raft::Snapshot cut{meta, std::string("\xff\xff\xff\xff\x00\x01", 6)};
  EXPECT_FALSE(Install(cut).ok());
}

// Keys out of order cannot go into the SST file the install builds: refused when the snapshot
// is offered (ValidateSnapshot), before the core adopts it.
TEST_P(GroupStorageTest, SnapshotWithKeysOutOfOrderIsRefused) {
  const raft::SnapshotMeta meta = MetaAt(100, 3);
  const std::string v = StoredString("value");
  for (const std::string& data : {SnapshotRecord("b", v) + SnapshotRecord("a", v),
                                  SnapshotRecord("a", v) + SnapshotRecord("a", v)}) {
    EXPECT_FALSE(gs_->ValidateSnapshot(raft::Snapshot{meta, data}).ok());
    EXPECT_FALSE(Install(raft::Snapshot{meta, data}).ok());
  }
  EXPECT_TRUE(gs_->ValidateSnapshot(raft::Snapshot{meta, SnapshotRecord("a", v) +
                                                              SnapshotRecord("b", v)}).ok());
  EXPECT_EQ(gs_->applied(), 0u);
}

// The install is one SST file ingested into the store: the partition's data and the group's
// applied index, hard state, log and compaction point change together and are durable without
// the round's write (a crash right after it reopens to the snapshot); the records go neither
// into the memtable nor into a WriteBatch; a value the row cache held is not served afterwards.
TEST_P(GroupStorageTest, InstallIsDurableAtOnceAndBypassesTheMemtable) {
  if (!GetParam()) GTEST_SKIP() << "the install by ingestion only";
  rocksdb::WriteBatch wb;
  gs_->Append(Entries(1, 10, 1));
  ASSERT_TRUE(gs_->SetHardState(raft::HardState{1, 2, 3}, &wb));
  Write(&wb);
  PutData(5, "k0", "old");
  PutData(5, "gone", "old");
  std::string raw;
  ASSERT_TRUE(store_->Get(5, "k0", 0, &raw).ok());  // now in the row cache
  ASSERT_TRUE(store_->Get(5, "k0", 0, &raw).ok());
  ASSERT_GT(store_->RowCacheStats().hits, 0u);

  const raft::SnapshotMeta meta = MetaAt(40, 4);
  std::string data("\xff\xff\xff\xff", 4);
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<char>((1700000000777 >> (8 * (7 - i))) & 0xff));
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) keys.push_back("k" + std::to_string(i));
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) data += SnapshotRecord(k, StoredString("new-" + k));
  const uint64_t before = store_->IntProperty("rocksdb.num-entries-active-mem-table");
  const raft::HardState pending{5, 3, 60};  // the Ready's: a new term, with the snapshot
  ASSERT_TRUE(Install(raft::Snapshot{meta, data}, &pending).ok());
  EXPECT_LT(store_->IntProperty("rocksdb.num-entries-active-mem-table"), before + 100)
      << "the records went through the memtable";
  ASSERT_TRUE(store_->Get(5, "k0", 0, &raw).ok());
  EXPECT_EQ(storage::DecodeValue(raw)->payload, "new-k0") << "a stale row-cache value";
  EXPECT_TRUE(store_->Get(5, "gone", 0, &raw).IsNotFound());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/snapshots/install-group-5.sst"));

  Reopen(5);  // as after a crash before the round's write
  EXPECT_EQ(gs_->applied(), 40u);
  EXPECT_EQ(gs_->applied_clock(), 1700000000777);
  EXPECT_EQ(gs_->FirstIndex(), 41u);
  EXPECT_EQ(gs_->LastIndex(), 40u);
  EXPECT_EQ(gs_->Term(40).value(), 4u);
  auto init = gs_->GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state.term, 5u);
  EXPECT_EQ(init->hard_state.vote, 3u);
  EXPECT_EQ(init->hard_state.commit, 40u) << "entries after the snapshot were not written";
  std::vector<raft::Entry> out;
  EXPECT_TRUE(raft::IsCompacted(gs_->Entries(5, 11, UINT64_MAX, &out)));
  ASSERT_TRUE(store_->Get(5, "k2999", 0, &raw).ok());
  EXPECT_EQ(storage::DecodeValue(raw)->payload, "new-k2999");
  EXPECT_TRUE(store_->Get(5, "gone", 0, &raw).IsNotFound());
}

// A crash inside an install (after its marker, or after the data's ingest and before the
// metadata) is finished by the next Open: the partition and the group's metadata are the
// snapshot's, never the snapshot's data under the old log and applied index.
TEST_P(GroupStorageTest, InstallInterruptedByACrashIsFinishedAtOpen) {
  if (!GetParam()) GTEST_SKIP() << "the install by ingestion only";
  for (int step : {1, 2}) {
    SCOPED_TRACE("crash at step " + std::to_string(step));
    gs_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);  // a fresh replica each time
    Reopen(5);
    rocksdb::WriteBatch wb;
    gs_->Append(Entries(1, 10, 1));
    Write(&wb);
    gs_->set_applied(3, voters_, 0);
    PutData(5, "old", "x");
    const raft::SnapshotMeta meta = MetaAt(40 + step, 4);
    const std::string data = SnapshotRecord("a", StoredString("1")) +
                             SnapshotRecord("b", StoredString("2"));
    const raft::HardState pending{6, 2, 99};
    GroupStorage::SetInstallCrashForTesting(step);
    EXPECT_EQ(Install(raft::Snapshot{meta, data}, &pending).code(),
              Status::Code::kAborted);
    GroupStorage::SetInstallCrashForTesting(0);
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/snapshots/install-group-5.keep"));
    Reopen(5);  // as the restarted process: finishes the install
    EXPECT_EQ(gs_->applied(), meta.index);
    EXPECT_EQ(gs_->FirstIndex(), meta.index + 1);
    EXPECT_EQ(gs_->LastIndex(), meta.index);
    EXPECT_EQ(gs_->Term(meta.index).value(), 4u);
    EXPECT_EQ(gs_->GetInitialState()->hard_state.term, 6u);
    std::string raw;
    EXPECT_TRUE(store_->Get(5, "a", 0, &raw).ok());
    EXPECT_TRUE(store_->Get(5, "b", 0, &raw).ok());
    EXPECT_TRUE(store_->Get(5, "old", 0, &raw).IsNotFound());
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/snapshots/install-group-5.keep"));
    Reopen(5);  // and nothing is left to finish
    EXPECT_EQ(gs_->applied(), meta.index);
  }
}

// Below ingest_bytes a snapshot goes into the round's batch (atomic with the rest of the
// Ready); from it on it is ingested and durable before InstallSnapshot returns.
TEST_P(GroupStorageTest, SmallSnapshotsGoThroughTheBatchLargeOnesAreIngested) {
  gs_->set_ingest_bytes(1000);
  std::string small = SnapshotRecord("a", StoredString("1"));
  rocksdb::WriteBatch wb;
  ASSERT_TRUE(gs_->InstallSnapshot(raft::Snapshot{MetaAt(20, 2), small}, nullptr, &wb).ok());
  EXPECT_GT(wb.Count(), 1) << "a small snapshot belongs in the round's write";
  EXPECT_TRUE(store_->Get(5, "a", 0, &small).IsNotFound()) << "not written before the round";
  Write(&wb);
  EXPECT_TRUE(store_->Get(5, "a", 0, &small).ok());
  std::string large;
  for (int i = 0; i < 100; ++i) large += SnapshotRecord("k" + std::to_string(100 + i), StoredString("v"));
  rocksdb::WriteBatch wb2;
  ASSERT_TRUE(gs_->InstallSnapshot(raft::Snapshot{MetaAt(30, 2), large}, nullptr, &wb2).ok());
  EXPECT_EQ(wb2.Count(), 0);
  std::string raw;
  EXPECT_TRUE(store_->Get(5, "k150", 0, &raw).ok());
  EXPECT_TRUE(store_->Get(5, "a", 0, &raw).IsNotFound());
  Reopen(5);
  EXPECT_EQ(gs_->applied(), 30u);
}

TEST_P(GroupStorageTest, AppliedIndexAndEntryClockSurviveARestart) {
  // What apply writes with each batch: the applied index and the newest entry timestamp,
  // so that after a restart the partition's clock does not start from zero.
  rocksdb::WriteBatch wb;
  gs_->Append(Entries(1, 3, 1));
  wb.Put(GroupMetaKey('a', 5), GroupStorage::AppliedValue(MetaAt(3, 1), 1700000000123));
  Write(&wb);
  Reopen();
  EXPECT_EQ(gs_->applied(), 3u);
  EXPECT_EQ(gs_->applied_clock(), 1700000000123);
  // A data dir from before the clock was kept (8 bytes): the index, and no clock.
  rocksdb::WriteBatch old;
  old.Put(GroupMetaKey('a', 5), GroupStorage::AppliedValue(MetaAt(3, 1), 0).substr(0, 8));
  Write(&old);
  Reopen();
  EXPECT_EQ(gs_->applied(), 3u);
  EXPECT_EQ(gs_->applied_clock(), 0);
}

// A data directory written before the log store kept its log in RocksDB under 'l' keys: Open
// moves the live ones into the log store (the compacted ones just go), and they read back
// after later restarts as any other entries.
TEST_P(GroupStorageTest, ALogKeptInRocksDBMovesToTheLogStore) {
  rocksdb::WriteBatch old;
  std::string buf;
  for (uint64_t i = 3; i <= 12; ++i) {  // 3..5 compacted (deleted in the same batch as 's')
    buf.clear();
    raft::EncodeEntry(raft::Entry{2, i, raft::EntryType::kNormal, "e" + std::to_string(i)}, &buf);
    old.Put(LogKey(5, i), buf);
  }
  raft::SnapshotMeta meta = MetaAt(5, 2);
  buf.clear();
  raft::EncodeSnapshotMeta(meta, &buf);
  old.Put(GroupMetaKey('s', 5), buf);
  old.Put(GroupMetaKey('a', 5), GroupStorage::AppliedValue(MetaAt(8, 2), 0).substr(0, 16));
  Write(&old);
  Reopen();
  EXPECT_EQ(gs_->FirstIndex(), 6u);
  EXPECT_EQ(gs_->LastIndex(), 12u);
  {
    std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator();
    it->Seek(LogKey(5, 0));
    EXPECT_FALSE(it->Valid() && it->key().starts_with(LogKey(5, 0).substr(0, 3)));  // gone
  }
  for (int restart = 0; restart < 2; ++restart) {
    std::vector<raft::Entry> got;
    ASSERT_TRUE(gs_->Entries(6, 13, UINT64_MAX, &got).ok());
    ASSERT_EQ(got.size(), 7u);
    for (const auto& e : got) EXPECT_EQ(e.data, "e" + std::to_string(e.index));
    EXPECT_EQ(gs_->applied(), 8u);
    Reopen();
  }
}

// A log that ends below the persisted applied index (a backup copies RocksDB only; with
// --fsync everysec a power cut can keep RocksDB's unsynced applies and lose the log's) is
// compacted up to it, with the term and membership the applied value carries.
TEST_P(GroupStorageTest, ALogEndingBelowTheAppliedIndexIsCompactedUpToIt) {
  gs_->Append(Entries(1, 10, 3));
  rocksdb::WriteBatch wb;
  wb.Put(GroupMetaKey('a', 5), GroupStorage::AppliedValue(MetaAt(10, 3), 1700000000000));
  Write(&wb);
  gs_.reset();
  log_.reset();
  std::filesystem::remove_all(dir_ + "/raft-log");  // as a restored backup has it
  Reopen();
  EXPECT_EQ(gs_->FirstIndex(), 11u);
  EXPECT_EQ(gs_->LastIndex(), 10u);
  EXPECT_EQ(gs_->Term(10).value(), 3u);
  EXPECT_EQ(gs_->applied(), 10u);
  EXPECT_EQ(gs_->GetInitialState()->conf_state, voters_);
  gs_->Append(Entries(11, 12, 4));  // and the log goes on from there
  rocksdb::WriteBatch none;
  Write(&none);
  Reopen();
  EXPECT_EQ(gs_->LastIndex(), 12u);
  EXPECT_EQ(gs_->Term(12).value(), 4u);
  // An applied value of the format before (no term): the gap cannot be covered.
  rocksdb::WriteBatch old;
  old.Put(GroupMetaKey('a', 5), GroupStorage::AppliedValue(MetaAt(20, 4), 0).substr(0, 16));
  Write(&old);
  gs_.reset();
  log_.reset();
  std::filesystem::remove_all(dir_ + "/raft-log");
  store_.reset();
  storage::StoreOptions o;
  o.dir = dir_;
  o.insert_hint_prefix = GroupKeyInsertHint();
  store_ = storage::Store::Open(o).value();
  LogStoreOptions lo;
  lo.dir = dir_ + "/raft-log";
  log_ = LogStore::Open(lo).value();
  auto g = GroupStorage::Open(store_.get(), log_.get(), 5, voters_, dir_ + "/snapshots");
  EXPECT_EQ(g.status().code(), Status::Code::kCorruption) << g.status().ToString();
}

// A snapshot installed starts a new generation of the log: entries the log store still holds
// of the old one never come back, even those above the snapshot's index.
TEST_P(GroupStorageTest, AnInstalledSnapshotsLogNeverGetsTheOldEntriesBack) {
  std::string data;
  raft::SnapshotMeta meta = SnapshotOfPartition5ThenAFollower(&data);  // at index 4
  gs_->Append(Entries(1, 9, 1));  // this follower's own log, to be replaced
  rocksdb::WriteBatch none;
  Write(&none);
  ASSERT_TRUE(Install(raft::Snapshot{meta, data}).ok());
  EXPECT_EQ(gs_->LastIndex(), 4u);
  Reopen();
  EXPECT_EQ(gs_->LastIndex(), 4u);
  EXPECT_FALSE(gs_->Term(5).ok());
  gs_->Append(Entries(5, 6, 7));
  Write(&none);
  Reopen();
  EXPECT_EQ(gs_->LastIndex(), 6u);
  EXPECT_EQ(gs_->Term(5).value(), 7u);
}

INSTANTIATE_TEST_SUITE_P(Install, GroupStorageTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Ingest" : "Batch"; });

}  // namespace
}  // namespace flin::cluster
