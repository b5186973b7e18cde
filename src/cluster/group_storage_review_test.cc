// Review of GroupStorage over LogStore: restarts after a power cut under --fsync everysec.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "cluster/group_storage.h"
#include "raft/codec.h"
#include "storage/encoding.h"
#include "storage/write_txn.h"

namespace flin::cluster {
namespace {

class GroupStorageReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("flin_gs_review_" + std::to_string(getpid()) + "_" +
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
      v.push_back(raft::Entry{term, i, raft::EntryType::kNormal, "e" + std::to_string(i)});
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
  void Write(rocksdb::WriteBatch* wb) {
    ASSERT_TRUE(store_->Write(wb, true).ok());
    ASSERT_TRUE(log_->Sync(true).ok());
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

// --fsync everysec: RocksDB's WAL (the applies) is synced before the log (SyncLogEverySecond,
// CollectLogGarbage), so a power cut can keep applies of entries the log lost. Open covers
// that (CoverAppliedEntries: compacted up to the applied index) and the log goes on. At the
// next ordinary restart, the log store finds the old entries 1..5 and then 9: "does not follow
// its log", and the node refuses to start.
TEST_F(GroupStorageReviewTest, ALogCoveredUpToTheAppliedIndexStartsAgainAfterMoreAppends) {
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
TEST_F(GroupStorageReviewTest, AnInstallAfterALostInstallDoesNotGetItsEntriesBack) {
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

}  // namespace
}  // namespace flin::cluster
