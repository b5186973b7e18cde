// Unit tests of snapshots in chunks, leader transfer, ReadIndex, the leader lease, learners
// and membership changes.

#include <gtest/gtest.h>

#include "raft/codec.h"
#include "raft/raft_test_util.h"

namespace flin::raft {
namespace {

using test_util::TestCluster;

void ProposeN(TestCluster& c, NodeId leader, int n) {
  for (int i = 0; i < n; i++) ASSERT_TRUE(c.raft(leader).Propose("v" + std::to_string(i)).ok());
  c.Stabilize();
}

// Node 3 is cut off while leader 1 commits n entries; then 1's application snapshots its state
// (`data`) and drops the log behind it, so 3 can only catch up from the snapshot once healed.
void LeaveNode3BehindASnapshot(TestCluster& c, int n, const std::string& data) {
  c.Isolate(3);
  ProposeN(c, 1, n);
  const uint64_t applied = c.node(1).applied.back().index;
  ASSERT_TRUE(c.node(1).storage->CreateSnapshot(applied, c.raft(1).conf_state(), data).ok());
  ASSERT_TRUE(c.node(1).storage->Compact(applied).ok());
}

TEST(RaftSnapshotTest, LaggingFollowerGetsSnapshotInChunks) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_size = 100; });
  c.Elect(1);
  const std::string data(1050, 's');
  LeaveNode3BehindASnapshot(c, 10, data);
  const uint64_t applied = c.node(1).applied.back().index;  // what the snapshot covers
  c.Heal();
  c.sent().clear();
  c.TickAll(3);
  int chunks = 0;
  for (auto& m : c.sent()) {
    if (m.type == MessageType::kSnapshot && m.to == 3) chunks++;
  }
  EXPECT_GE(chunks, 11);  // 1050 bytes in chunks of 100
  ASSERT_EQ(c.node(3).snapshots.size(), 1u);
  EXPECT_EQ(c.node(3).snapshots[0].data, data);
  EXPECT_EQ(c.node(3).snapshots[0].meta.index, applied);
  // And it replicates normally afterwards.
  ProposeN(c, 1, 2);
  c.TickAll(2);
  EXPECT_EQ(c.raft(3).last_index(), c.raft(1).last_index());
  EXPECT_EQ(c.raft(3).committed(), c.raft(1).committed());
}

TEST(RaftSnapshotTest, LostChunkIsResent) {
  TestCluster c(3, [](Config& cfg) { cfg.snapshot_chunk_size = 10; });
  c.Elect(1);
  LeaveNode3BehindASnapshot(c, 3, "0123456789abcdefghij!");
  c.Heal();
  int dropped = 0;
  c.drop = [&](const Message& m) {
    return m.type == MessageType::kSnapshot && m.offset == 10 && dropped++ < 2;
  };
  c.TickAll(6);
  ASSERT_EQ(c.node(3).snapshots.size(), 1u);
  EXPECT_EQ(c.node(3).snapshots[0].data, "0123456789abcdefghij!");
  EXPECT_EQ(dropped, 3);  // two drops, then the resent chunk got through
}

TEST(RaftSnapshotTest, RefusedSnapshotIsNotAdoptedAndIsSentAgain) {
  // The application refuses snapshots it could not install (a peer's malformed data): the
  // follower must not adopt one (its log would claim state it does not hold); the leader
  // starts the stream over, and once the application accepts, the snapshot is adopted.
  int refusals = 0;
  bool accept = false;
  TestCluster c(3, [&](Config& cfg) {
    cfg.snapshot_chunk_size = 100;
    if (cfg.id == 3) {
      cfg.accept_snapshot = [&](const Snapshot&) { return accept || (++refusals, false); };
    }
  });
  c.Elect(1);
  LeaveNode3BehindASnapshot(c, 5, "data");
  const uint64_t before = c.raft(3).committed();
  c.Heal();
  c.TickAll(3);
  EXPECT_GE(refusals, 2) << "refused, then sent again";
  EXPECT_TRUE(c.node(3).snapshots.empty());
  EXPECT_EQ(c.raft(3).committed(), before);
  accept = true;
  c.TickAll(3);
  ASSERT_EQ(c.node(3).snapshots.size(), 1u);
  EXPECT_EQ(c.raft(3).committed(), c.raft(1).committed());
}

TEST(RaftSnapshotTest, ChunksTheAppKeepsAreNotHeldByTheCore) {
  // The app keeps the chunks as they arrive (GroupStorage writes them to a file): the core
  // hands over a staged snapshot without data. A chunk the app could not keep goes
  // unanswered and the stream starts over.
  std::string kept;
  int failures = 0, offered_at_300 = 0;
  TestCluster c(3, [&](Config& cfg) {
    cfg.snapshot_chunk_size = 100;
    if (cfg.id != 3) return;
    cfg.stage_snapshot_chunk = [&](const SnapshotMeta&, uint64_t offset,
                                   std::string_view data) -> Result<bool> {
      if (offset == 300 && offered_at_300++ == 0) return (++failures, Status::IOError("full"));
      if (offset == 0) kept.clear();
      EXPECT_EQ(offset, kept.size());
      kept.append(data);
      return true;
    };
  });
  c.Elect(1);
  std::string data;
  for (int i = 0; i < 1050; ++i) data.push_back(static_cast<char>('a' + i % 26));
  LeaveNode3BehindASnapshot(c, 10, data);
  const uint64_t applied = c.node(1).applied.back().index;
  c.Heal();
  c.TickAll(6);
  ASSERT_EQ(c.node(3).snapshots.size(), 1u);
  EXPECT_TRUE(c.node(3).snapshots[0].staged);
  EXPECT_TRUE(c.node(3).snapshots[0].data.empty());
  EXPECT_EQ(c.node(3).snapshots[0].meta.index, applied);
  EXPECT_EQ(kept, data);
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(offered_at_300, 2);  // the stream started over after it went unanswered
  ProposeN(c, 1, 2);
  c.TickAll(2);
  EXPECT_EQ(c.raft(3).committed(), c.raft(1).committed());
}

TEST(RaftTransferTest, TransferLeadership) {
  TestCluster c(3);
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  ASSERT_TRUE(c.raft(1).TransferLeader(2).ok());
  EXPECT_EQ(c.raft(1).Propose("x").status().code(), Status::Code::kBusy);
  EXPECT_FALSE(c.raft(1).LeaseValid()) << "no lease reads once a transfer started";
  c.Stabilize();
  EXPECT_EQ(c.raft(2).role(), Role::kLeader);
  EXPECT_EQ(c.raft(2).term(), term + 1);
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_EQ(c.raft(1).leader(), 2u);
  for (NodeId id : {1, 2, 3}) {  // a planned move: no timer fired, nothing given up
    EXPECT_EQ(c.raft(id).events().election_timeouts, 0u) << id;
    EXPECT_EQ(c.raft(id).events().transfers_aborted, 0u) << id;
  }
}

TEST(RaftTransferTest, TransferToLaggingFollowerCatchesItUpFirst) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  ProposeN(c, 1, 5);
  c.Heal();
  ASSERT_TRUE(c.raft(1).TransferLeader(3).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(3).role(), Role::kLeader);
  EXPECT_EQ(c.raft(3).committed(), c.raft(3).last_index());
}

TEST(RaftTransferTest, TransferTimesOut) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(2);
  ASSERT_TRUE(c.raft(1).TransferLeader(2).ok());
  c.TickAll(10);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).transferee(), kNoNode);
  EXPECT_EQ(c.raft(1).events().transfers_aborted, 1u);
  EXPECT_TRUE(c.raft(1).Propose("x").ok());
}

TEST(RaftReadTest, ReadIndexNeedsQuorumConfirmation) {
  TestCluster c(3);
  c.Elect(1);
  ProposeN(c, 1, 2);
  EXPECT_EQ(c.raft(2).ReadIndex("f", ReadMode::kSafe).code(), Status::Code::kNotLeader);
  c.Isolate(1);
  ASSERT_TRUE(c.raft(1).ReadIndex("r1", ReadMode::kSafe).ok());
  c.Stabilize();
  EXPECT_TRUE(c.node(1).reads.empty()) << "an isolated leader cannot confirm a read";
  c.Heal();
  ASSERT_TRUE(c.raft(1).ReadIndex("r2", ReadMode::kSafe).ok());
  c.Stabilize();
  ASSERT_EQ(c.node(1).reads.size(), 2u);  // r1 is confirmed by the same round
  EXPECT_EQ(c.node(1).reads[1].context, "r2");
  EXPECT_EQ(c.node(1).reads[1].index, c.raft(1).committed());
}

TEST(RaftReadTest, LeaseReadIsImmediateAndExpires) {
  TestCluster c(3);  // election_tick 10: lease of 8 ticks
  c.Elect(1);
  c.TickAll(1);  // a heartbeat round acknowledged by both followers
  ASSERT_TRUE(c.raft(1).LeaseValid());
  ASSERT_TRUE(c.raft(1).ReadIndex("l1", ReadMode::kLease).ok());
  c.Process();
  ASSERT_EQ(c.node(1).reads.size(), 1u) << "a lease read needs no round trip";
  c.Isolate(1);
  c.Tick(1, 7);
  EXPECT_TRUE(c.raft(1).LeaseValid());
  c.Tick(1, 1);
  EXPECT_FALSE(c.raft(1).LeaseValid()) << "8 ticks after the last acknowledged heartbeat";
  ASSERT_TRUE(c.raft(1).ReadIndex("l2", ReadMode::kLease).ok());
  c.Stabilize();
  EXPECT_EQ(c.node(1).reads.size(), 1u) << "falls back to ReadIndex, which cannot confirm";
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
}

TEST(RaftReadTest, NoLeaseWithoutCheckQuorum) {
  TestCluster c(3, [](Config& cfg) { cfg.check_quorum = false; });
  c.Elect(1);
  c.TickAll(1);
  EXPECT_FALSE(c.raft(1).LeaseValid());
}

TEST(RaftMembershipTest, LearnerReplicatesButNeverVotesOrCounts) {
  TestCluster c(3);
  c.Elect(1);
  c.TickAll(1);
  ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kAddLearner, 4}).ok());
  c.node(4);  // an empty node
  c.Start(4);
  c.Stabilize();
  c.TickAll(3);
  EXPECT_TRUE(c.raft(1).conf_state().IsLearner(4));
  EXPECT_EQ(c.raft(4).last_index(), c.raft(1).last_index());
  EXPECT_TRUE(c.raft(4).conf_state().IsLearner(4));
  // A learner does not campaign.
  c.raft(4).Campaign();
  c.Tick(4, 50);
  EXPECT_EQ(c.raft(4).role(), Role::kFollower);
  // With two voters unreachable, the learner's copy does not commit anything.
  c.Isolate(2);
  c.Isolate(3);
  const uint64_t commit = c.raft(1).committed();
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(4).last_index(), c.raft(1).last_index());
  EXPECT_EQ(c.raft(1).committed(), commit);
}

TEST(RaftMembershipTest, AddPromoteAndRemove) {
  TestCluster c(3);
  c.Elect(1);
  c.TickAll(1);
  ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kAddLearner, 4}).ok());
  // One change at a time.
  EXPECT_EQ(c.raft(1).ProposeConfChange({ConfChangeType::kAddLearner, 5}).status().code(),
            Status::Code::kBusy);
  c.Start(4);
  c.Stabilize();
  c.TickAll(2);
  ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kPromoteLearner, 4}).ok());
  c.Stabilize();
  c.TickAll(2);
  EXPECT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  EXPECT_EQ(c.raft(4).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  // Invalid changes are refused up front.
  EXPECT_EQ(c.raft(1).ProposeConfChange({ConfChangeType::kAddVoter, 2}).status().code(),
            Status::Code::kInvalidArgument);
  // The leader removes itself: it leads until the change commits, then steps down.
  ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kRemoveNode, 1}).ok());
  c.Stabilize();
  c.TickAll(1);
  EXPECT_NE(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(2).conf_state().voters, (std::vector<NodeId>{2, 3, 4}));
  c.TickAll(40);
  int leaders = 0;
  for (NodeId id : {2, 3, 4}) leaders += c.raft(id).role() == Role::kLeader;
  EXPECT_EQ(leaders, 1);
  EXPECT_NE(c.raft(1).role(), Role::kLeader);
}

TEST(RaftMembershipTest, UncommittedChangeIsRevertedWithItsEntry) {
  TestCluster c(3, [](Config& cfg) { cfg.check_quorum = false; });
  c.Elect(1);
  c.TickAll(1);
  c.Isolate(1);
  ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kAddVoter, 4}).ok());
  c.Stabilize();
  EXPECT_TRUE(c.raft(1).conf_state().IsVoter(4)) << "effective when appended";
  c.Heal();
  c.Isolate(1);
  c.raft(2).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  c.Heal();
  c.TickAll(3);
  EXPECT_FALSE(c.raft(1).conf_state().IsVoter(4)) << "the entry was truncated, and the change";
}

TEST(RaftMembershipTest, RestartReplaysConfChangesFromTheLog) {
  TestCluster c(3);
  c.Elect(1);
  c.TickAll(1);
  ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kAddLearner, 4}).ok());
  c.Stabilize();
  c.Crash(2);
  c.Start(2);
  EXPECT_TRUE(c.raft(2).conf_state().IsLearner(4));
}

TEST(MemoryStorageTest, AppendTruncatesAndCompacts) {
  MemoryStorage s;
  auto e = [](uint64_t term, uint64_t index) { return Entry{term, index, EntryType::kNormal, ""}; };
  ASSERT_TRUE(s.Append({e(1, 1), e(1, 2), e(1, 3)}).ok());
  ASSERT_TRUE(s.Append({e(2, 2)}).ok());
  EXPECT_EQ(s.LastIndex(), 2u);
  EXPECT_EQ(s.Term(2).value(), 2u);
  ASSERT_TRUE(s.CreateSnapshot(2, ConfState{{1}, {}}, "d").ok());
  ASSERT_TRUE(s.Compact(2).ok());
  EXPECT_EQ(s.FirstIndex(), 3u);
  EXPECT_TRUE(IsCompacted(s.Term(1).status()));
  EXPECT_EQ(s.Term(2).value(), 2u);
  auto chunk = s.ReadSnapshotChunk(2, 0, 10);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk.value().data, "d");
  EXPECT_TRUE(chunk.value().done);
  EXPECT_TRUE(s.ReadSnapshotChunk(1, 0, 10).status().IsNotFound());
}

}  // namespace
}  // namespace flin::raft
