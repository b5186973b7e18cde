// GroupStorage's crash safety (session 23's reviews): states a power cut can leave, under
// --fsync everysec (RocksDB's WAL and the log's segment are synced at different moments:
// HandleReady writes RocksDB's part first, SyncLogEverySecond and CollectLogGarbage sync the
// WAL before the log) or between the two fsyncs of one round, and what a restart makes of
// them. "A crash" below: the store and the log store reopened, the log's unsynced buffer lost
// (LogStore's destructor writes nothing), RocksDB's synced writes kept.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "cluster/group_storage.h"
#include "raft/codec.h"
#include "raft/raw_node.h"
#include "storage/encoding.h"

namespace flin::cluster {
namespace {

class GroupStorageCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flin_gs_crash_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
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
  void Reopen() {
    gs_.reset();
    log_.reset();
    store_.reset();
    storage::StoreOptions o;
    o.dir = dir_;
    o.block_cache_bytes = 8 << 20;
    o.insert_hint_prefix = GroupKeyInsertHint();
    auto s = storage::Store::Open(o);
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    LogStoreOptions lo;
    lo.dir = dir_ + "/raft-log";
    auto l = LogStore::Open(lo);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(l).value();
    auto g = GroupStorage::Open(store_.get(), log_.get(), 5, voters_, dir_ + "/snapshots");
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    gs_ = std::move(g).value();
  }
  static std::vector<raft::Entry> Entries(uint64_t from, uint64_t to, uint64_t term) {
    std::vector<raft::Entry> v;
    for (uint64_t i = from; i <= to; ++i) {
      v.push_back(raft::Entry{term, i, raft::EntryType::kNormal, "e" + std::to_string(i) + "/" +
                                                                     std::to_string(term)});
    }
    return v;
  }
  raft::SnapshotMeta MetaAt(uint64_t index, uint64_t term) const {
    raft::SnapshotMeta meta;
    meta.index = index;
    meta.term = term;
    meta.conf_state = voters_;
    return meta;
  }
  // A round's write, both parts synced.
  void Write(rocksdb::WriteBatch* wb) {
    ASSERT_TRUE(store_->Write(wb, true).ok());
    ASSERT_TRUE(log_->Sync(true).ok());
  }
  // RocksDB's part synced, the log's not (lost at the next Reopen).
  void WriteRocksOnly(rocksdb::WriteBatch* wb) { ASSERT_TRUE(store_->Write(wb, true).ok()); }
  // What MultiRaftNode::Start does with the storage: a RawNode over it.
  Result<std::unique_ptr<raft::RawNode>> StartNode() {
    raft::Config rc;
    rc.id = 1;
    rc.election_tick = 10;
    rc.heartbeat_tick = 2;
    rc.applied = gs_->applied();
    return raft::RawNode::Create(rc, gs_.get());
  }

  Status Install(const raft::Snapshot& snap) {
    rocksdb::WriteBatch wb;
    Status s = gs_->InstallSnapshot(snap, nullptr, &wb);
    if (s.ok() && wb.Count() > 0) s = store_->Write(&wb, true);
    if (s.ok()) s = log_->Sync(true);
    return s;
  }
  std::string Get(char kind) {
    std::string v;
    if (!store_->db()->Get(rocksdb::ReadOptions(), GroupMetaKey(kind, 5), &v).ok()) return "";
    return v;
  }
  // A metadata value as a power cut left it in RocksDB.
  void Set(char kind, const std::string& v) {
    rocksdb::WriteBatch wb;
    if (v.empty()) {
      wb.Delete(GroupMetaKey(kind, 5));
    } else {
      wb.Put(GroupMetaKey(kind, 5), v);
    }
    ASSERT_TRUE(store_->Write(&wb, true).ok());
  }

  std::string dir_;
  raft::ConfState voters_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<LogStore> log_;
  std::unique_ptr<GroupStorage> gs_;
};

// A round whose Ready changes the term (or vote) writes the hard state — with the commit index
// the core has then — into RocksDB with an fsync, and only after it the log. Under --fsync
// everysec the entries the commit covers may have been written in earlier rounds without a
// sync (and a round that appends nothing does not sync the log at all); under any policy a
// power cut can fall between the two fsyncs. The node then comes back with a hard state whose
// commit index is past the end of its log, and RawNode::Init refuses it ("commit beyond last
// index"): the node never starts again, though nothing it acknowledged is missing from
// RocksDB and the entries are re-learned from the leader.
TEST_F(GroupStorageCrashTest, AHardStateCommitPastTheDurableLogDoesNotStopTheStart) {
  rocksdb::WriteBatch none;
  gs_->Append(Entries(1, 3, 1));
  Write(&none);
  gs_->Append(Entries(4, 10, 1));  // written without a sync (everysec): lost below
  gs_->set_applied(3, voters_, 0);
  rocksdb::WriteBatch wb;
  ASSERT_TRUE(gs_->SetHardState(raft::HardState{2, 0, 10}, &wb));  // a new term, commit 10
  WriteRocksOnly(&wb);
  Reopen();  // the power cut: the log ends at 3
  ASSERT_EQ(gs_->LastIndex(), 3u);
  auto node = StartNode();
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ((*node)->term(), 2u);  // the term is kept
  EXPECT_LE((*node)->committed(), 3u);
}

// Under everysec a follower applies entries before they are synced (HandleReady's early
// apply, and the rest unsynced too), and RocksDB's WAL — the applied value, the data — can be
// synced while the log is not (SyncLogEverySecond: WAL, then log; every round that changes a
// term or vote). If the entries applied were a new leader's overwrite of the tail, the log a
// power cut leaves still holds the old, superseded entries at those indexes, while the
// applied value (and the data) say the new ones were applied. Open compares indexes only:
// the replica restarts with entry 8 of term 2 in its log, committed (the commit is at least
// the applied index), where the cluster committed entry 8 of term 3. The leader's appends
// then conflict with what it committed, and it stops following for good
// (RawNode::HandleAppend: commit_conflicts, "it no longer follows").
TEST_F(GroupStorageCrashTest, AnAppliedIndexWhoseTermTheLogDoesNotHoldIsNotCommittedStale) {
  rocksdb::WriteBatch none;
  gs_->Append(Entries(1, 10, 2));
  Write(&none);  // the old leader's entries, synced
  gs_->Append(Entries(8, 9, 3));  // the new leader overwrites 8.. (not synced yet)
  gs_->set_applied(8, voters_, 0);
  rocksdb::WriteBatch apply;  // ApplyEntries: entry 8 of term 3 applied; the WAL synced
  apply.Put(GroupMetaKey('a', 5), GroupStorage::AppliedValue(MetaAt(8, 3), 1700000000000));
  WriteRocksOnly(&apply);
  Reopen();  // the power cut
  EXPECT_EQ(gs_->applied(), 8u);
  auto term = gs_->Term(8);
  ASSERT_TRUE(term.ok()) << term.status().ToString();
  EXPECT_EQ(term.value(), 3u) << "the log says the applied entry 8 is of term 2";
  // Nothing of the superseded history above it either: a log's terms never go down.
  for (uint64_t i = 9; i <= gs_->LastIndex(); ++i) {
    EXPECT_GE(gs_->Term(i).value(), 3u) << "entry " << i;
  }
  auto node = StartNode();
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  // And what the restart leaves holds at the next restart too.
  gs_->Append(Entries(gs_->LastIndex() + 1, gs_->LastIndex() + 2, 3));
  Write(&none);
  const uint64_t last = gs_->LastIndex();
  Reopen();
  EXPECT_EQ(gs_->LastIndex(), last);
  EXPECT_EQ(gs_->Term(8).value(), 3u);
  EXPECT_EQ(gs_->Term(last).value(), 3u);
}

// --fsync everysec: RocksDB's WAL (the applies) is synced before the log (SyncLogEverySecond,
// CollectLogGarbage), so a power cut can keep applies of entries the log lost. Open covers
// that (CoverAppliedEntries: compacted up to the applied index) and the log goes on. At the
// next ordinary restart, the log store finds the old entries 1..5 and then 9: "does not follow
// its log", and the node refuses to start.
TEST_F(GroupStorageCrashTest, ALogCoveredUpToTheAppliedIndexStartsAgainAfterMoreAppends) {
  gs_->Append(Entries(1, 5, 3));
  rocksdb::WriteBatch none;
  Write(&none);
  // Entries 6..8 applied; RocksDB kept that, the log did not.
  Set('a', GroupStorage::AppliedValue(MetaAt(8, 3), 1700000000000));
  Reopen();
  ASSERT_EQ(gs_->LastIndex(), 8u);
  gs_->Append(Entries(9, 10, 4));
  Write(&none);
  Reopen();  // fails: Corruption ... group 5 entry 9 does not follow its log
  ASSERT_TRUE(gs_ != nullptr);
  EXPECT_EQ(gs_->LastIndex(), 10u);
  EXPECT_EQ(gs_->Term(10).value(), 4u);
}

// An install's batch (generation 1) lost in a power cut while the log kept that generation's
// entries; the next install bumps to generation 1 again, and the entries of the first
// install above the new snapshot's index come back after its restart.
TEST_F(GroupStorageCrashTest, AnInstallAfterALostInstallDoesNotGetItsEntriesBack) {
  gs_->Append(Entries(1, 4, 1));
  rocksdb::WriteBatch none;
  Write(&none);
  const std::string g0 = Get('g'), s0 = Get('s'), a0 = Get('a');
  // Empty snapshot data (a header-less empty partition installs as nothing).
  ASSERT_TRUE(Install(raft::Snapshot{MetaAt(10, 2), std::string()}).ok());
  gs_->Append(Entries(11, 15, 2));
  Write(&none);
  // The power cut: RocksDB lost the install's batch; the segment kept generation 1's records.
  Set('g', g0);
  Set('s', s0);
  Set('a', a0);
  Reopen();
  ASSERT_EQ(gs_->LastIndex(), 4u);
  // A later install at 12 (term 3): generation 1 again. A crash before any entry follows it.
  ASSERT_TRUE(Install(raft::Snapshot{MetaAt(12, 3), std::string()}).ok());
  EXPECT_EQ(gs_->LastIndex(), 12u);
  Reopen();
  EXPECT_EQ(gs_->LastIndex(), 12u) << "entries 13..15 of term 2 (below the snapshot's term 3) are back";
  EXPECT_FALSE(gs_->Term(13).ok());
}

// A damaged install marker (its length field near 2^32) is refused as corruption at start;
// the length check overflowed in 32 bits, and the parse threw out of the process.
TEST_F(GroupStorageCrashTest, ADamagedInstallMarkerIsCorruptionNotACrash) {
  std::string marker;
  for (uint32_t n : {0xfffffff8u, 0xffffffffu}) {
    marker.assign(4, '\0');
    for (int b = 0; b < 4; ++b) marker[b] = static_cast<char>((n >> (8 * b)) & 0xff);
    marker += std::string(16, 'x');
    Set('i', marker);
    gs_.reset();
    auto g = GroupStorage::Open(store_.get(), log_.get(), 5, voters_, dir_ + "/snapshots");
    EXPECT_FALSE(g.ok());
  }
}

}  // namespace
}  // namespace flin::cluster
