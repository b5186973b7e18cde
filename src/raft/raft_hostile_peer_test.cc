// Messages no correct peer sends (a bug in another version, corrupted state on its side): the
// replica that gets one must not crash, and must not take it into its log. Found by
// raw_node_fuzz; each test fails on the build before its fix.

#include <gtest/gtest.h>

#include "raft/raft_test_util.h"

namespace flin::raft {
namespace {

using test_util::TestCluster;

// A group whose leader 1 committed "a" on every replica; returns the append 1 would send next
// to follower 2 (after its last entry), without entries.
Message NextAppendTo2(TestCluster& c) {
  c.Elect(1);
  EXPECT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  c.TickAll();
  Message m;
  m.type = MessageType::kAppend;
  m.from = 1;
  m.to = 2;
  m.term = c.raft(1).term();
  m.index = c.raft(2).last_index();
  m.log_term = c.raft(2).TermAt(m.index);
  m.commit = c.raft(1).committed();
  return m;
}

Entry At(uint64_t index, uint64_t term, std::string data = "x") {
  Entry e;
  e.index = index;
  e.term = term;
  e.data = std::move(data);
  return e;
}

// Entries must follow (index, log_term) one by one, in terms that do not decrease and are not
// above the message's: anything else is refused whole, unanswered.
class RaftHostileAppendTest : public ::testing::TestWithParam<int> {};

TEST_P(RaftHostileAppendTest, AnAppendWhoseEntriesAreOutOfPlaceIsRefused) {
  TestCluster c(3);
  Message m = NextAppendTo2(c);
  const uint64_t last = m.index;
  const uint64_t term = m.term;
  switch (GetParam()) {
    case 0: m.entries = {At(last + 2, term)}; break;                          // a gap
    case 1: m.entries = {At(last + 1, term), At(last + 3, term)}; break;      // a gap inside
    case 2: m.entries = {At(last, term)}; break;                              // not after index
    case 3: m.entries = {At(last + 1, term), At(last + 2, term - 1)}; break;  // term goes back
    case 4: m.entries = {At(last + 1, term + 1)}; break;                      // above the sender's
  }
  m.commit = last + 2;
  const uint64_t commit = c.raft(2).committed();
  EXPECT_FALSE(c.raft(2).Step(m).ok());
  c.Stabilize();  // (shape 1 looped here for ever: an index that was not its position)
  EXPECT_EQ(c.raft(2).last_index(), last);
  EXPECT_EQ(c.raft(2).committed(), commit);
  // The leader goes on as before.
  ASSERT_TRUE(c.raft(1).Propose("b").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(2).last_index(), last + 1);
  EXPECT_EQ(c.raft(2).TermAt(last + 1), term);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RaftHostileAppendTest, ::testing::Range(0, 5));

// An append whose previous entry is of a later term than the sender's: no leader has one.
TEST(RaftHostilePeerTest, AnAppendAfterAnEntryOfALaterTermIsRefused) {
  TestCluster c(3);
  Message m = NextAppendTo2(c);
  m.log_term = m.term + 1;
  EXPECT_FALSE(c.raft(2).Step(m).ok());
}

// A snapshot that is not a leader's state: its last entry of a term above the sender's (the
// replica's log would then outrank every correct log in elections), of term 0, or without
// voters. Refused whole, so the replica's log and configuration stay.
class RaftHostileSnapshotTest : public ::testing::TestWithParam<int> {};

TEST_P(RaftHostileSnapshotTest, ASnapshotNoLeaderHasIsRefused) {
  TestCluster c(3);
  Message m = NextAppendTo2(c);
  const uint64_t last = m.index;
  m.type = MessageType::kSnapshot;
  m.snapshot.index = last + 5;
  m.snapshot.term = m.term;
  m.snapshot.conf_state.voters = {1, 2, 3};
  m.chunk = "state";
  m.done = true;
  switch (GetParam()) {
    case 0: m.snapshot.term = m.term + 1; break;
    case 1: m.snapshot.term = 0; break;
    case 2: m.snapshot.conf_state.voters.clear(); break;
  }
  EXPECT_FALSE(c.raft(2).Step(m).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(2).last_index(), last);
  EXPECT_EQ(c.raft(2).conf_state().voters, (std::vector<NodeId>{1, 2, 3}));
}

INSTANTIATE_TEST_SUITE_P(Shapes, RaftHostileSnapshotTest, ::testing::Range(0, 3));

// A message only a leader sends, of a term whose leader this replica knows, from another
// node: a second leader of one term, which no correct peer is (a term reused by replicas that
// lost their state could make one). Refused, so the two histories do not meet in one log;
// the leader the replica knows goes on as before.
class RaftSecondLeaderTest : public ::testing::TestWithParam<int> {};

TEST_P(RaftSecondLeaderTest, ASecondLeaderOfTheTermIsRefused) {
  TestCluster c(3);
  Message m = NextAppendTo2(c);
  const uint64_t last = m.index;
  const uint64_t term = m.term;
  m.from = 3;
  switch (GetParam()) {
    case 0: m.entries = {At(last + 1, term, "forged")}; break;
    case 1:
      m.type = MessageType::kHeartbeat;
      m.commit = last;
      break;
    case 2:
      m.type = MessageType::kSnapshot;
      m.snapshot.index = last + 5;
      m.snapshot.term = term;
      m.snapshot.conf_state.voters = {1, 2, 3};
      m.chunk = "forged";
      m.done = true;
      break;
  }
  ASSERT_EQ(c.raft(2).leader(), 1u);
  EXPECT_FALSE(c.raft(2).Step(m).ok());
  EXPECT_EQ(c.raft(2).leader(), 1u);
  c.Stabilize();
  EXPECT_EQ(c.raft(2).last_index(), last);
  ASSERT_TRUE(c.raft(1).Propose("b").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(2).last_index(), last + 1);
  EXPECT_EQ(c.raft(2).TermAt(last + 1), term);
  EXPECT_EQ(c.raft(2).committed(), last + 1);
}

INSTANTIATE_TEST_SUITE_P(Kinds, RaftSecondLeaderTest, ::testing::Range(0, 3));

// The same to a leader: it stays leader and its log stays its own.
TEST(RaftHostilePeerTest, ALeaderRefusesAnotherLeaderOfItsTerm) {
  TestCluster c(3);
  Message m = NextAppendTo2(c);
  const uint64_t last = c.raft(1).last_index();
  m.from = 3;
  m.to = 1;
  m.index = last;
  m.log_term = c.raft(1).TermAt(last);
  m.entries = {At(last + 1, m.term, "forged")};
  EXPECT_FALSE(c.raft(1).Step(m).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).last_index(), last);
}

}  // namespace
}  // namespace flin::raft
