#include "cluster/log_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>

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

class LogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            ("flin_logstore_" + std::to_string(getpid()) + "_" +
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
  void ExpectEntry(int group, uint64_t index, uint64_t term) {
    auto e = log_->Read(group, index);
    ASSERT_TRUE(e.ok()) << "group " << group << " index " << index << ": " << e.status().ToString();
    EXPECT_EQ(e->index, index);
    EXPECT_EQ(e->term, term);
    EXPECT_EQ(e->data, E(index, term).data);
  }
  std::vector<std::string> Segments() const {
    std::vector<std::string> v;
    for (const auto& de : std::filesystem::directory_iterator(dir_)) v.push_back(de.path().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  // The newest segment holding records of group 1 holds Relocate's copies of its entries.
  // Its records: u32 crc, u32 payload length, u16 group, ... (log_store.h). Cuts it in the
  // middle of the third copy, as a power cut before the copies' fdatasync may leave it, and
  // removes the segments after it (the copies' Sync began the next one; a power cut before
  // that Sync would have left none).
  void CutInTheThirdCopyOfGroup1() {
    std::string path;
    size_t cut = 0;
    const auto segments = Segments();
    for (auto it = segments.rbegin(); it != segments.rend() && cut == 0; ++it) {
      std::string bytes(std::filesystem::file_size(*it), '\0');
      int fd = open(it->c_str(), O_RDONLY);
      ASSERT_EQ(pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
      close(fd);
      auto u32 = [&](size_t at) {  // little-endian (snapshot_data.h's PutU32)
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
    ASSERT_GT(cut, 0u) << "no copies of group 1's entries found in " << segments.size() << " segments";
    ASSERT_NE(path, segments.front()) << "found the originals, not the copies";
    std::filesystem::resize_file(path, cut);  // two copies whole, the third torn
    // The copies' Sync began the next segment (past 200 bytes); a power cut before that Sync
    // would have left none.
    for (const auto& later : segments) {
      if (later > path) std::filesystem::remove(later);
    }
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

TEST_F(LogStoreTest, EntriesOfSeveralGroupsSurviveARestart) {
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 0), 0u);
  EXPECT_EQ(Attach(7, 0, 0), 0u);
  log_->Append(0, Range(1, 5, 1));
  log_->Append(7, Range(1, 3, 2));
  ExpectEntry(0, 4, 1);  // still buffered: read from the buffer
  ASSERT_TRUE(log_->Sync(true).ok());
  log_->Append(0, Range(6, 6, 1));
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 0), 6u);
  EXPECT_EQ(Attach(7, 0, 0), 3u);
  for (uint64_t i = 1; i <= 6; ++i) ExpectEntry(0, i, 1);
  for (uint64_t i = 1; i <= 3; ++i) ExpectEntry(7, i, 2);
  EXPECT_FALSE(log_->Read(0, 7).ok());
  EXPECT_FALSE(log_->Read(3, 1).ok());
}

TEST_F(LogStoreTest, AnOverwriteSupersedesTheTailAcrossARestart) {
  ASSERT_TRUE(Reopen().ok());
  Attach(1, 0, 0);
  log_->Append(1, Range(1, 10, 1));
  ASSERT_TRUE(log_->Sync(true).ok());
  log_->Append(1, Range(6, 7, 2));  // a new leader's entries replace 6.. of term 1
  EXPECT_EQ(log_->LastIndex(1), 7u);
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(1, 0, 0), 7u);
  ExpectEntry(1, 5, 1);
  ExpectEntry(1, 6, 2);
  ExpectEntry(1, 7, 2);
  EXPECT_FALSE(log_->Read(1, 8).ok());
}

TEST_F(LogStoreTest, OnlyTheAttachedGenerationCounts) {
  ASSERT_TRUE(Reopen().ok());
  Attach(2, 1, 0);
  log_->Append(2, Range(1, 5, 1));
  ASSERT_TRUE(log_->Sync(true).ok());
  log_->Reset(2, 2, 10);  // a snapshot at 10 installed: generation 2
  EXPECT_EQ(log_->FirstIndex(2), 11u);
  EXPECT_EQ(log_->LastIndex(2), 10u);
  log_->Append(2, Range(11, 12, 3));
  ASSERT_TRUE(log_->Sync(true).ok());
  // The owner's generation bump did not survive the crash: the old log is the log.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(2, 1, 0), 5u);
  ExpectEntry(2, 5, 1);
  EXPECT_FALSE(log_->Read(2, 11).ok());
  // It did.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(2, 2, 10), 12u);
  EXPECT_EQ(log_->FirstIndex(2), 11u);
  ExpectEntry(2, 11, 3);
  EXPECT_FALSE(log_->Read(2, 5).ok());
}

TEST_F(LogStoreTest, TheCompactionPointDropsTheHeadAndAGapIsCorruption) {
  ASSERT_TRUE(Reopen().ok());
  Attach(0, 0, 0);
  log_->Append(0, Range(1, 10, 1));
  log_->Compact(0, 4);
  EXPECT_EQ(log_->FirstIndex(0), 5u);
  EXPECT_FALSE(log_->Read(0, 4).ok());
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 4), 10u);
  EXPECT_EQ(log_->FirstIndex(0), 5u);
  log_->Compact(0, 10);  // everything compacted: empty from 11 on
  EXPECT_EQ(log_->FirstIndex(0), 11u);
  EXPECT_EQ(log_->LastIndex(0), 10u);
  log_->Append(0, Range(11, 11, 1));
  ASSERT_TRUE(log_->Sync(true).ok());
  // Entries 1..10 are on disk still (no garbage collected), and a compaction point the owner
  // lost in a crash finds them.
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 0), 11u);
  ExpectEntry(0, 1, 1);
  // A log starting above the compaction point + 1 is missing entries.
  ASSERT_TRUE(Reopen().ok());
  Attach(0, 0, 0);
  log_->Reset(0, 1, 20);
  log_->Append(0, Range(21, 22, 2));
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_TRUE(Reopen().ok());
  auto r = log_->Attach(0, 1, 5);
  EXPECT_TRUE(r.status().code() == Status::Code::kCorruption) << r.status().ToString();
}

TEST_F(LogStoreTest, ATornTailIsCutAndAppendsGoOn) {
  ASSERT_TRUE(Reopen().ok());
  Attach(0, 0, 0);
  log_->Append(0, Range(1, 3, 1));
  ASSERT_TRUE(log_->Sync(true).ok());
  log_.reset();
  const std::string last = Segments().back();
  const auto whole = std::filesystem::file_size(last);
  // Half of a fourth record, as a crash in the middle of its write leaves it.
  {
    ASSERT_TRUE(Reopen().ok());
    Attach(0, 0, 0);
    log_->Append(0, Range(4, 4, 1));
    ASSERT_TRUE(log_->Sync(true).ok());
    log_.reset();
  }
  const std::string fourth = Segments().back();
  // Its record ends where the zeros written ahead begin (the record's CRC is not zero).
  std::string bytes(std::filesystem::file_size(fourth), '\0');
  {
    int fd = open(fourth.c_str(), O_RDONLY);
    ASSERT_EQ(pread(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    close(fd);
  }
  const size_t used = bytes.find_last_not_of('\0') + 1;
  ASSERT_GT(used, 26u);
  std::filesystem::resize_file(fourth, used - 3);
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 0), 3u);
  EXPECT_LT(std::filesystem::file_size(last), whole);  // its zeros cut; its records read below
  EXPECT_EQ(std::filesystem::file_size(fourth), 0u);  // cut back to its last whole record
  log_->Append(0, Range(4, 5, 2));
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(Attach(0, 0, 0), 5u);
  ExpectEntry(0, 3, 1);
  ExpectEntry(0, 5, 2);
}

TEST_F(LogStoreTest, ABadRecordInAClosedSegmentFailsOpen) {
  ASSERT_TRUE(Reopen(/*segment_bytes=*/100).ok());
  Attach(0, 0, 0);
  for (uint64_t i = 1; i <= 20; ++i) {
    log_->Append(0, Range(i, i, 1));
    ASSERT_TRUE(log_->Sync(true).ok());
  }
  log_.reset();
  const auto segments = Segments();
  ASSERT_GE(segments.size(), 3u);
  int fd = open(segments.front().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c = 'X';
  ASSERT_EQ(pwrite(fd, &c, 1, 30), 1);
  close(fd);
  Status s = Reopen(100);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST_F(LogStoreTest, SegmentsGoOldestFirstOnceNothingLiveIsInThem) {
  ASSERT_TRUE(Reopen(/*segment_bytes=*/200).ok());
  Attach(0, 0, 0);
  Attach(1, 0, 0);
  log_->Append(1, Range(1, 1, 1));  // an idle group's one entry, in the first segment
  for (uint64_t i = 1; i <= 40; ++i) {
    log_->Append(0, Range(i, i, 1));
    ASSERT_TRUE(log_->Sync(true).ok());
  }
  const size_t before = log_->segments();
  ASSERT_GE(before, 5u);
  log_->Compact(0, 40);
  EXPECT_EQ(log_->garbage_segments(), 0u);  // group 1 pins the oldest, and so every later one
  auto moved = log_->Relocate(1 << 20);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved.value(), 1u);
  ASSERT_TRUE(log_->Sync(true).ok());
  EXPECT_EQ(log_->garbage_segments(), before - 1);
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_LE(log_->segments(), 2u);
  EXPECT_EQ(Segments().size(), log_->segments());
  ExpectEntry(1, 1, 1);
  ASSERT_TRUE(Reopen(200).ok());
  EXPECT_EQ(Attach(1, 0, 0), 1u);
  ExpectEntry(1, 1, 1);
  EXPECT_EQ(Attach(0, 0, 40), 40u);
  // A group the owner no longer has (never attached) keeps no segment.
  log_->Append(1, Range(2, 2, 1));
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_TRUE(Reopen(200).ok());
  Attach(0, 0, 40);
  EXPECT_EQ(log_->garbage_segments(), 0u);
  log_->ForgetUnattached();
  EXPECT_EQ(log_->garbage_segments(), log_->segments() - 1);
}

// A relocation cut short (a power cut in the middle of its records, before their fdatasync):
// the copies that made it must not truncate the group's log, whose other entries are still
// in the old segments (found by a re-read: relocated records were written as appends, and the
// first one superseded everything after it).
TEST_F(LogStoreTest, ARelocationCutShortLosesNothing) {
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
  ASSERT_TRUE(log_->Sync(true).ok());  // (the cut below takes back what this made durable)
  log_.reset();
  CutInTheThirdCopyOfGroup1();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(Reopen(200).ok());
  EXPECT_EQ(Attach(1, 0, 0), 6u);
  for (uint64_t i = 1; i <= 6; ++i) ExpectEntry(1, i, 1);
}

TEST_F(LogStoreTest, AnOverwriteKeepsTheSegmentsItSupersededFromComingBack) {
  // Group 0's 1..10 in the first segment, its overwrite of 6.. in a later one, then all of it
  // compacted: the later segment is garbage, but while group 1 pins the first one, deleting
  // the later one would let 6..10 of term 1 come back at the next start.
  ASSERT_TRUE(Reopen(/*segment_bytes=*/300).ok());
  for (int g = 0; g < 3; ++g) Attach(g, 0, 0);
  log_->Append(1, Range(1, 1, 1));
  log_->Append(0, Range(1, 10, 1));
  ASSERT_TRUE(log_->Sync(true).ok());  // past 300 bytes: the next segment begins
  log_->Append(0, Range(6, 6, 2));
  log_->Append(2, Range(1, 10, 1));    // fills the second segment too
  ASSERT_TRUE(log_->Sync(true).ok());
  ASSERT_EQ(log_->segments(), 3u);
  log_->Compact(0, 6);
  log_->Compact(2, 10);
  EXPECT_EQ(log_->garbage_segments(), 0u);
  ASSERT_TRUE(log_->CollectGarbage().ok());
  EXPECT_EQ(log_->segments(), 3u);
  ASSERT_TRUE(Reopen(300).ok());
  EXPECT_EQ(Attach(0, 0, 6), 6u);  // 7..10 of term 1 stay superseded
  EXPECT_FALSE(log_->Read(0, 7).ok());
}

// Random operations against a model, with restarts: what the store answers after each
// restart is what the model says was synced (durably) before it.
TEST_F(LogStoreTest, MatchesAModelThroughRandomOperationsAndRestarts) {
  for (int seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::filesystem::remove_all(dir_);
    std::mt19937_64 rng(seed);
    ASSERT_TRUE(Reopen(/*segment_bytes=*/512).ok());
    constexpr int kGroups = 3;
    struct Model {
      uint64_t generation = 0, compacted = 0;
      std::map<uint64_t, uint64_t> terms;  // index → term, compacted+1 .. last
    };
    Model live[kGroups], durable[kGroups];
    for (int g = 0; g < kGroups; ++g) Attach(g, 0, 0);
    uint64_t term = 1;
    for (int step = 0; step < 400; ++step) {
      const int g = static_cast<int>(rng() % kGroups);
      Model& m = live[g];
      const uint64_t last = m.terms.empty() ? m.compacted : m.terms.rbegin()->first;
      switch (rng() % 10) {
        case 0: case 1: case 2: case 3: {  // append, sometimes overwriting a tail
          uint64_t from = last + 1;
          if (rng() % 4 == 0 && last > m.compacted) from = m.compacted + 1 + rng() % (last - m.compacted);
          if (from <= last) ++term;
          const uint64_t n = 1 + rng() % 4;
          log_->Append(g, Range(from, from + n - 1, term));
          m.terms.erase(m.terms.lower_bound(from), m.terms.end());
          for (uint64_t i = from; i < from + n; ++i) m.terms[i] = term;
          break;
        }
        case 4:  // compact (the compaction point is written by the owner, durable at the sync)
          if (last > m.compacted) {
            const uint64_t to = m.compacted + 1 + rng() % (last - m.compacted);
            log_->Compact(g, to);
            m.compacted = to;
            m.terms.erase(m.terms.begin(), m.terms.upper_bound(to));
          }
          break;
        case 5:  // a snapshot installed
          if (rng() % 3 == 0) {
            const uint64_t at = last + rng() % 5;
            ++m.generation;
            log_->Reset(g, m.generation, at);
            m.compacted = at;
            m.terms.clear();
          }
          break;
        case 6: case 7:  // a durable sync: everything so far is what a restart finds
          ASSERT_TRUE(log_->Sync(true).ok());
          for (int i = 0; i < kGroups; ++i) durable[i] = live[i];
          break;
        case 8:  // garbage: relocate, sync, collect
          ASSERT_TRUE(log_->Relocate(4096).ok());
          ASSERT_TRUE(log_->Sync(true).ok());
          for (int i = 0; i < kGroups; ++i) durable[i] = live[i];
          ASSERT_TRUE(log_->CollectGarbage().ok());
          break;
        case 9:  // a crash: what was not synced is gone (buffered records never reached the file)
          ASSERT_TRUE(Reopen(512).ok());
          for (int i = 0; i < kGroups; ++i) {
            live[i] = durable[i];
            const uint64_t want_last = live[i].terms.empty() ? live[i].compacted
                                                             : live[i].terms.rbegin()->first;
            EXPECT_EQ(Attach(i, live[i].generation, live[i].compacted), want_last) << "group " << i;
          }
          break;
      }
      // Every live entry reads back.
      for (int i = 0; i < kGroups; ++i) {
        EXPECT_EQ(log_->FirstIndex(i), live[i].compacted + 1);
        for (const auto& [index, t] : live[i].terms) ExpectEntry(i, index, t);
      }
      if (HasFailure()) return;
    }
  }
}

// Found by session 23's review of the log store.

// GroupStorage::CoverAppliedEntries (and Attach with a compaction point past the log's end,
// which --fsync everysec allows: RocksDB's WAL is synced before the log in
// CollectLogGarbage and SyncLogEverySecond) compacts the log past its last entry. The log
// goes on from there, but the old entries are still in the segments of the same generation:
// the next Open sees entry N+1 after entries ..L < N and refuses to start.
TEST_F(LogStoreTest, ACompactionPastTheEndOfTheLogStillOpensAfterTheNextAppends) {
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
TEST_F(LogStoreTest, AnAttachPastTheEndOfTheLogStillOpensAfterTheNextAppends) {
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
TEST_F(LogStoreTest, ARelocationCutShortDoesNotPinTheOldestSegmentForever) {
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
  CutInTheThirdCopyOfGroup1();
  if (HasFatalFailure()) return;
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
TEST_F(LogStoreTest, AnIdleGroupWithALargeLogDoesNotPinSegmentsForever) {
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
