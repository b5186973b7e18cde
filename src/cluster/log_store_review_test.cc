// Review of LogStore: scenarios that lose the node's ability to start, or leak segments.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "cluster/log_store.h"

namespace flin::cluster {
namespace {

raft::Entry E(uint64_t index, uint64_t term, std::string data = "") {
  raft::Entry e;
  e.index = index;
  e.term = term;
  e.data = data.empty() ? "v" + std::to_string(index) + "/" + std::to_string(term) : data;
  return e;
}

std::vector<raft::Entry> Range(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<raft::Entry> v;
  for (uint64_t i = from; i <= to; ++i) v.push_back(E(i, term));
  return v;
}

class LogStoreReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("flin_logstore_review_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override {
    log_.reset();
    std::filesystem::remove_all(dir_);
  }
  Status Reopen(uint64_t segment_bytes = 64u << 20) {
    log_.reset();
    LogStoreOptions o;
    o.dir = dir_;
    o.segment_bytes = segment_bytes;
    auto r = LogStore::Open(o);
    if (!r.ok()) return r.status();
    log_ = std::move(r).value();
    return Status::Ok();
  }
  uint64_t Attach(int group, uint64_t generation, uint64_t compacted) {
    auto r = log_->Attach(group, generation, compacted);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : 0;
  }
  std::vector<std::string> Segments() const {
    std::vector<std::string> v;
    for (const auto& de : std::filesystem::directory_iterator(dir_)) v.push_back(de.path().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  // What MultiRaftNode::CollectLogGarbage does once a second.
  void CollectLogGarbage(uint64_t max_live_bytes = 8u << 20) {
    auto moved = log_->Relocate(max_live_bytes);
    ASSERT_TRUE(moved.ok()) << moved.status().ToString();
    if (moved.value() == 0 && log_->garbage_segments() == 0) return;
    ASSERT_TRUE(log_->Sync(true).ok());
    ASSERT_TRUE(log_->CollectGarbage().ok());
  }

  std::string dir_;
  std::unique_ptr<LogStore> log_;
};

// GroupStorage::CoverAppliedEntries (and Attach with a compaction point past the log's end,
// which --fsync everysec allows: RocksDB's WAL is synced before the log in
// CollectLogGarbage and SyncLogEverySecond) compacts the log past its last entry. The log
// goes on from there, but the old entries are still in the segments of the same generation:
// the next Open sees entry N+1 after entries ..L < N and refuses to start.
TEST_F(LogStoreReviewTest, ACompactionPastTheEndOfTheLogStillOpensAfterTheNextAppends) {
  ASSERT_TRUE(Reopen().ok());
  Attach(0, 0, 0);
  Attach(1, 0, 0);
  log_->Append(0, Range(1, 5, 1));
  log_->Append(1, Range(1, 3, 1));  // another group keeps the segment (no GC may delete it)
  ASSERT_TRUE(log_->Sync(true).ok());
  // The power cut: entries 6..8 were applied (RocksDB kept them) but the log lost them.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 0), 5u);
  EXPECT_EQ(Attach(1, 0, 0), 3u);
  log_->Compact(0, 8);  // CoverAppliedEntries: compacted up to the applied index
  EXPECT_EQ(log_->LastIndex(0), 8u);
  log_->Append(0, Range(9, 10, 2));
  ASSERT_TRUE(log_->Sync(true).ok());
  // An ordinary restart before the first segment is collected (it goes only once every group
  // compacted past it or was relocated: a group whose log is over 8 MiB is never relocated).
  Status s = Reopen();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Attach(0, 0, 8), 10u);
  EXPECT_EQ(Attach(1, 0, 0), 3u);
  auto e = log_->Read(0, 10);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->term, 2u);
}

// The same with Attach: the compaction point (RocksDB, synced by CollectLogGarbage before the
// log's Sync) is past the last entry the log kept.
TEST_F(LogStoreReviewTest, AnAttachPastTheEndOfTheLogStillOpensAfterTheNextAppends) {
  ASSERT_TRUE(Reopen().ok());
  Attach(0, 0, 0);
  Attach(1, 0, 0);
  log_->Append(0, Range(1, 5, 1));
  log_->Append(1, Range(1, 3, 1));
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 7), 7u);
  Attach(1, 0, 0);
  log_->Append(0, Range(8, 9, 2));
  ASSERT_TRUE(log_->Sync(true).ok());
  Status s = Reopen();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Attach(0, 0, 7), 9u);
}

// A relocation cut short by a crash (log_store_test's ARelocationCutShortLosesNothing): the
// group's first entries are the copies in a new segment, the rest still in the oldest one.
// Relocate only looks for groups whose *first* entry is in the oldest segment, so it never
// moves that group again, and the oldest segment (and every later one) is kept forever.
TEST_F(LogStoreReviewTest, ARelocationCutShortDoesNotPinTheOldestSegmentForever) {
  ASSERT_TRUE(Reopen(/*segment_bytes=*/200).ok());
  Attach(0, 0, 0);
  Attach(1, 0, 0);
  log_->Append(1, Range(1, 6, 1));  // the idle group's entries, in the first segment
  for (uint64_t i = 1; i <= 40; ++i) {
    log_->Append(0, Range(i, i, 1));
    ASSERT_TRUE(log_->Sync(true).ok());
  }
  log_->Compact(0, 40);
  auto moved = log_->Relocate(1 << 20);
  ASSERT_TRUE(moved.ok());
  ASSERT_EQ(moved.value(), 6u);
  ASSERT_TRUE(log_->Sync(true).ok());
  log_.reset();
  // Cut the segment holding the copies in the middle of the third copy (as the existing test).
  std::string path;
  size_t cut = 0;
  const auto segments = Segments();
  for (auto it = segments.rbegin(); it != segments.rend() && cut == 0; ++it) {
    std::string bytes(std::filesystem::file_size(*it), '\0');
    int fd = open(it->c_str(), O_RDONLY);
    ASSERT_EQ(pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    close(fd);
    auto u32 = [&](size_t at) {
      return (uint32_t{static_cast<uint8_t>(bytes[at + 3])} << 24) |
             (uint32_t{static_cast<uint8_t>(bytes[at + 2])} << 16) |
             (uint32_t{static_cast<uint8_t>(bytes[at + 1])} << 8) |
             static_cast<uint8_t>(bytes[at]);
    };
    int copies = 0;
    for (size_t pos = 0; pos + 26 <= bytes.size() && u32(pos) != 0;) {
      const size_t len = 26 + u32(pos + 4);
      const int group = static_cast<uint8_t>(bytes[pos + 9]) |
                        ((static_cast<uint8_t>(bytes[pos + 8]) & 0x7f) << 8);
      if (group == 1 && ++copies == 3) {
        cut = pos + len / 2;
        path = *it;
        break;
      }
      pos += len;
    }
  }
  ASSERT_GT(cut, 0u);
  ASSERT_NE(path, segments.front());
  std::filesystem::resize_file(path, cut);
  for (const auto& later : segments) {
    if (later > path) std::filesystem::remove(later);
  }
  ASSERT_TRUE(Reopen(200).ok());
  EXPECT_EQ(Attach(0, 0, 40), 40u);
  EXPECT_EQ(Attach(1, 0, 0), 6u);
  log_->ForgetUnattached();
  // Group 0 goes on writing (and compacting); group 1 stays idle. The raft thread collects
  // garbage as MultiRaftNode does: the segments must not pile up.
  for (uint64_t i = 41; i <= 400; ++i) {
    log_->Append(0, Range(i, i, 1));
    ASSERT_TRUE(log_->Sync(true).ok());
    log_->Compact(0, i);
    CollectLogGarbage();
  }
  EXPECT_LE(log_->segments(), 4u) << "the oldest segment is pinned by group 1's entries 3..6";
  for (uint64_t i = 1; i <= 6; ++i) EXPECT_TRUE(log_->Read(1, i).ok()) << i;
}

// An idle group whose live log is larger than CollectLogGarbage's relocation bound (8 MiB)
// pins the oldest segment, and so every later one: with --raft-entry-max-bytes 8mb (the
// default) a single maximal write is enough, and the group compacts only after
// --snapshot-entries (10000) more writes. Meanwhile the busy groups' segments are never
// deleted: disk use grows without bound.
TEST_F(LogStoreReviewTest, AnIdleGroupWithALargeLogDoesNotPinSegmentsForever) {
  ASSERT_TRUE(Reopen(/*segment_bytes=*/1 << 20).ok());
  Attach(0, 0, 0);
  Attach(1, 0, 0);
  // One write of 8 MiB (the default --raft-entry-max-bytes) to partition 1, which then idles.
  log_->Append(1, {E(1, 1, std::string(8u << 20, 'x'))});
  ASSERT_TRUE(log_->Sync(true).ok());
  // 96 MiB of 4 KiB writes to partition 0, which keeps its last 100 entries (400 KiB).
  const std::string big(4096, 'y');
  auto disk = [&] {
    uint64_t n = 0;
    for (const auto& path : Segments()) n += std::filesystem::file_size(path);
    return n;
  };
  uint64_t most = 0;
  for (uint64_t i = 1; i <= 24000; ++i) {
    log_->Append(0, {E(i, 1, big)});
    ASSERT_TRUE(log_->Sync(false).ok());
    log_->Compact(0, i > 100 ? i - 100 : 0);
    if (i % 20 == 0) {
      CollectLogGarbage();
      most = std::max(most, disk());
    }
  }
  // Live: 8 MiB + 400 KiB. Without bound the segments hold everything written (104 MiB).
  EXPECT_LE(most, 48u << 20) << "segments kept: " << log_->segments();
  EXPECT_TRUE(log_->Read(1, 1).ok());
}

}  // namespace
}  // namespace flin::cluster
