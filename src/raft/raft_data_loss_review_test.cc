// Counterexamples a review (session 15) found against the first version of
// Config::accept_data_loss. Each failed then; each comment names the rule that fixed it, and
// each fails again with that rule taken out.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "raft/raft_test_util.h"

namespace flin::raft {
namespace {

using test_util::AppliedConflict;
using test_util::RestartOn;
using test_util::TestCluster;

// Replicas in *restored start recovering and accept data loss.
std::function<void(Config&)> RestoredAcceptLoss(const std::set<NodeId>* restored) {
  return [restored](Config& cfg) {
    cfg.recovering = restored->count(cfg.id) > 0;
    cfg.accept_data_loss = restored->count(cfg.id) > 0;
  };
}

// Replicas in `restored` start recovering and accept data loss; one entry per append.
struct Restore {
  std::set<NodeId> restored;
  TestCluster c{3, [this](Config& cfg) {
                  cfg.recovering = restored.count(cfg.id) > 0;
                  cfg.accept_data_loss = restored.count(cfg.id) > 0;
                  cfg.max_size_per_msg = 1;  // one entry per append
                }};
};

// An append that would give node `to` (already holding `index`) an entry past `index`.
bool IsAppendPast(TestCluster& c, const Message& m, NodeId to, uint64_t index) {
  if (m.type != MessageType::kAppend || m.to != to) return false;
  if (c.raft(to).last_index() < index) return false;  // a probe it will refuse
  for (const Entry& e : m.entries) {
    if (e.index > index) return true;
  }
  return false;
}

// Builds, in one correct Raft history:
//  - b1: node 1's copy holding (C, term 2), uncommitted;
//  - b3: node 3's copy ending in (C, term 3): the no-op of its term-3 leadership, never
//        replicated, overwritten later;
//  - node 2 (live): (C, term 2) COMMITTED and applied (leader 1 of term 4 committed C+1 with
//        node 3, and told node 2, which held up to C, commit = C).
// Returns C.
uint64_t Build(Restore& r, MemoryStorage* b1, MemoryStorage* b3) {
  TestCluster& c = r.c;
  c.Elect(1);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), 2u);
  EXPECT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  c.Tick(1);
  c.Stabilize();

  // Term 2: "y" at C on node 1 only.
  c.Isolate(1);
  auto y = c.raft(1).Propose("y");
  EXPECT_TRUE(y.ok());
  const uint64_t C = y.value().index;
  c.Stabilize();
  *b1 = *c.node(1).storage;
  c.Tick(1, 20);  // check-quorum: the isolated leader steps down
  c.queue().clear();
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);

  // Term 3: node 3 leads with node 2's vote; its no-op (C, 3) reaches nobody.
  c.Tick(2, 10);
  c.Tick(3, 10);
  c.queue().clear();
  c.drop = [](const Message& m) {
    return m.from == 3 && m.type == MessageType::kAppend && !m.entries.empty();
  };
  c.Elect(3);
  EXPECT_EQ(c.raft(3).role(), Role::kLeader);
  EXPECT_EQ(c.raft(3).term(), 3u);
  EXPECT_EQ(c.raft(3).TermAt(C), 3u);
  EXPECT_EQ(c.raft(3).last_index(), C);
  *b3 = *c.node(3).storage;

  // Term 4: node 1 leads with node 2's vote; node 2 gets C but never C+1.
  c.Heal();
  c.Isolate(3);
  c.drop = [C, &c](const Message& m) { return IsAppendPast(c, m, 2, C); };
  c.Tick(2, 10);
  c.queue().clear();
  for (int i = 0; i < 3 && c.raft(1).role() != Role::kLeader; i++) c.Elect(1);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), 4u);
  c.Heal();  // node 3 joins term 4 and completes the commit quorum of C+1
  c.drop = [C, &c](const Message& m) { return IsAppendPast(c, m, 2, C); };
  for (int i = 0; i < 3; i++) {
    c.Tick(1);
    c.Stabilize();
  }
  EXPECT_EQ(c.raft(1).committed(), C + 1);
  EXPECT_EQ(c.raft(2).last_index(), C);
  EXPECT_EQ(c.raft(2).TermAt(C), 2u);
  EXPECT_EQ(c.raft(2).committed(), C) << "node 2 must hold (C, 2) committed";
  EXPECT_EQ(c.node(2).applied.back().data, "y");
  c.drop = nullptr;
  return C;
}

// Nodes 1 and 3 come back on backups and accept the loss; node 2 is a live ordinary replica
// that has committed and applied "y" at C. Every voter is up; the last entries are (C,2),
// (C,2), (C,3): node 3's stale copy is the "most up to date" and wins unanimously, although
// it lacks an entry that a live voter committed. Node 2 must overwrite an applied entry
// (HandleAppend silently refused: it kept "y" and diverged from the group for good). Fixed by
// judging a unanimous candidate by its commit index first (committed prefixes form a chain),
// its last entry only on a tie.
TEST(RaftDataLossReviewTest, UpToDateDoesNotMeanHoldingEveryVotersCommittedEntries) {
  Restore r;
  MemoryStorage b1, b3;
  const uint64_t C = Build(r, &b1, &b3);
  r.restored = {1, 3};
  RestartOn(r.c, 1, b1);
  RestartOn(r.c, 3, b3);
  r.c.TickAll(150);
  NodeId leader = kNoNode;
  for (NodeId id : {1, 2, 3}) {
    if (r.c.raft(id).role() == Role::kLeader) leader = id;
  }
  ASSERT_NE(leader, kNoNode);
  ASSERT_TRUE(r.c.raft(leader).Propose("after").ok());
  r.c.TickAll(20);
  EXPECT_EQ(r.c.raft(leader).TermAt(C), 2u)
      << "leader " << leader << " lacks (C, term 2), which live node 2 committed";
  EXPECT_EQ(AppliedConflict(r.c, 3), "");
}

// The same with every replica restarted on a copy (node 2 on its newest one, holding "y"
// committed): "writes that no copy had committed" are lost by design, but this one was.
// Fixed by the same rule.
TEST(RaftDataLossReviewTest, AllRestoredTheNewestCommittedCopyLosesToAStaleTail) {
  Restore r;
  MemoryStorage b1, b3;
  Build(r, &b1, &b3);
  MemoryStorage b2 = *r.c.node(2).storage;
  r.restored = {1, 2, 3};
  RestartOn(r.c, 1, b1);
  RestartOn(r.c, 2, b2);
  RestartOn(r.c, 3, b3);
  r.c.TickAll(150);
  EXPECT_EQ(AppliedConflict(r.c, 3), "");
  for (NodeId id : {1, 2, 3}) EXPECT_FALSE(r.c.raft(id).recovering()) << "node " << id;
}


// A term that had a leader is reused. Leader 2 of term 3 (elected by 2 and 1; node 3, live
// and ordinary, never heard of term 3) crashes; nodes 1 and 2 come back on copies from term 2
// and accept the loss. Step 1 learns term 2 (no live replica knows 3), and the unanimous
// election elects a second leader of term 3. An append the first leader of term 3 sent to
// live node 3 (in flight: the sender's process died, the receiver's did not, which
// Config::recovering's assumption allows) then lands in node 3's log as an entry of the
// current term; the new leader's entry at that index has the same term, so it never replaces
// it, and node 3 applies a different entry than the others. Without the flag the two restored
// replicas never vote, and no second leader of term 3 can exist. Fixed by a unanimous
// campaign's leap of RawNode::kLossTermGap terms: the lost era's term 3 is not reused, and the
// held append is refused as stale.
TEST(RaftDataLossReviewTest, ARestoredQuorumReusesTheTermOfADeadLeader) {
  std::set<NodeId> restored;
  TestCluster c(3, RestoredAcceptLoss(&restored));
  c.Elect(1);
  ASSERT_EQ(c.raft(1).term(), 2u);
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  c.Tick(1);
  c.Stabilize();
  MemoryStorage b1 = *c.node(1).storage, b2 = *c.node(2).storage;
  const uint64_t j = c.raft(1).last_index() + 1;  // the next index

  // Term 3: node 1 hands over to node 2; nothing reaches node 3 (held in the network).
  c.Isolate(3);
  ASSERT_TRUE(c.raft(1).TransferLeader(2).ok());
  c.Stabilize();
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  ASSERT_EQ(c.raft(2).term(), 3u);
  ASSERT_TRUE(c.raft(2).Propose("old").ok());
  c.Stabilize();
  ASSERT_EQ(c.raft(2).TermAt(j), 3u);
  ASSERT_EQ(c.raft(2).TermAt(j + 1), 3u);
  // What leader 2 sends node 3 when its no-op and "old" go out in one append (held).
  Message held;
  held.type = MessageType::kAppend;
  held.from = 2;
  held.to = 3;
  held.term = 3;
  held.index = j - 1;
  held.log_term = c.raft(2).TermAt(j - 1);
  held.commit = j - 1;
  for (uint64_t i = j; i <= j + 1; i++) {
    std::vector<Entry> ents;
    ASSERT_TRUE(c.node(2).storage->Entries(i, i + 1, UINT64_MAX, &ents).ok());
    held.entries.push_back(ents[0]);
  }
  ASSERT_EQ(held.entries[1].data, "old");

  restored = {1, 2};
  RestartOn(c, 1, b1);
  RestartOn(c, 2, b2);
  c.Heal();
  // The held append arrives just before the second leader of term 3 first reaches node 3.
  bool delivered = false;
  c.drop = [&](const Message& m) {
    if (!delivered && m.to == 3 && m.type == MessageType::kAppend && m.term > 2) {
      delivered = true;
      EXPECT_EQ(c.raft(3).committed(), j - 1);
      EXPECT_TRUE(c.raft(3).Step(held).ok());
    }
    return false;
  };
  c.TickAll(150);
  c.drop = nullptr;
  ASSERT_TRUE(delivered) << "no leader after the restore";
  NodeId leader = kNoNode;
  for (NodeId id : {1, 2, 3}) {
    if (c.raft(id).role() == Role::kLeader) leader = id;
  }
  ASSERT_NE(leader, kNoNode);
  EXPECT_GT(c.raft(leader).term(), 3u) << "term 3 is elected a second time";
  ASSERT_TRUE(c.raft(leader).Propose("new").ok());
  c.TickAll(10);
  EXPECT_EQ(AppliedConflict(c, 3), "");
}


// Liveness with a mix: 5 voters, node 5 back on an older backup accepting the loss, nodes
// 1..3 ordinary, node 4 goes down after node 5 learned its peers' terms. While 1..3 cannot
// reach each other (but each reaches node 5), node 5's unanimous requests make each of them,
// leaderless with a newer log, set unanimous_next_. Once 1..3 are connected again, all four
// live voters are up and connected, yet every campaign is unanimous and needs node 4: no
// leader for as long as node 4 is down. Without the flag, 1..3 elect a leader by majority
// and node 5 recovers under it. Fixed by an ordinary replica's unanimous campaign being one
// try (RaftDataLossTest.AnOrdinaryReplicasUnanimousCampaignIsOneTry).
TEST(RaftDataLossReviewTest, OneRestoredReplicaAndOneDownVoterStallAFiveVoterGroup) {
  for (bool accept : {false, true}) {
    std::set<NodeId> restored;
    TestCluster c(5, [&](Config& cfg) {
      cfg.recovering = restored.count(cfg.id) > 0;
      cfg.accept_data_loss = accept;
    });
    c.Elect(1);
    ASSERT_TRUE(c.raft(1).Propose("a").ok());
    c.Stabilize();
    MemoryStorage b5 = *c.node(5).storage;
    ASSERT_TRUE(c.raft(1).Propose("b").ok());
    c.Stabilize();
    c.Tick(1);
    c.Stabilize();
    c.Crash(1);  // the leader crashes and comes back (ordinary)
    c.Start(1);
    c.node(1).applied.clear();
    restored = {5};
    RestartOn(c, 5, b5);
    c.Cut(1, 2);
    c.Cut(1, 3);
    c.Cut(2, 3);
    auto tick = [&](int n) {
      for (int i = 0; i < n; i++) {
        for (NodeId id : {1, 2, 3, 4, 5}) {
          if (c.node(id).raft) c.raft(id).Tick();
        }
        c.Stabilize();
      }
    };
    tick(6);      // node 5 learns its peers' terms (node 4 still up)
    c.Crash(4);
    tick(100);    // 1..3 apart, each with node 5
    c.Heal();
    tick(300);
    int leaders = 0;
    for (NodeId id : {1, 2, 3, 5}) leaders += c.raft(id).role() == Role::kLeader;
    EXPECT_EQ(leaders, 1) << "accept_data_loss=" << accept;
  }
}


// Election Safety, with wipes only (what raft_sim --seed 29 finds with the flag on every
// node). Step 1 steps a recovering replica into the highest term it learned WITH NO VOTE;
// without the flag it never votes before it ends its recovery (then counting as having voted
// for its leader). With the flag it grants a unanimous vote in that very term, in which its
// earlier self voted. Node 3 leads term 3 with node 1's vote; node 2 never heard of term 3.
// Nodes 1 and 3 are wiped one after the other (each learns term 3 from the other) and accept
// the loss. Node 2 refuses their unanimous requests (its log is newer), campaigns unanimously
// for term 3, and both wiped replicas grant it: a second leader of term 3. Fixed by a
// loss-accepting replica granting votes only in terms above the one step 1 learned (and the
// unanimous campaign's leap of terms).
TEST(RaftDataLossReviewTest, AWipedReplicaVotesAgainInTheTermItLearned) {
  std::set<NodeId> restored;
  TestCluster c(3, RestoredAcceptLoss(&restored));
  const MemoryStorage wiped = *c.node(1).storage;  // the bootstrap state
  c.Elect(1);
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  c.Tick(1);
  c.Stabilize();
  // Node 2 hears nothing but recovery probes and their answers from here on.
  c.drop = [](const Message& m) {
    const bool probe = (m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResp) &&
                       m.run_id != 0;
    return (m.from == 2 || m.to == 2) && !probe;
  };
  ASSERT_TRUE(c.raft(1).TransferLeader(3).ok());
  c.Stabilize();
  ASSERT_EQ(c.raft(3).role(), Role::kLeader);
  const uint64_t term = c.raft(3).term();
  ASSERT_EQ(term, 3u);
  ASSERT_EQ(c.raft(2).term(), 2u);

  restored = {1, 3};
  RestartOn(c, 1, wiped);
  // Wiped node 1 only probes (its leader's appends are lost, so it cannot recover).
  c.drop = [](const Message& m) {
    const bool probe = (m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResp) &&
                       m.run_id != 0;
    return (m.from == 2 || m.to == 2 || m.from == 1 || m.to == 1) && !probe;
  };
  for (int i = 0; i < 10; i++) {
    c.Tick(1);
    c.Tick(3);
    c.Stabilize();
  }
  ASSERT_EQ(c.raft(1).term(), term) << "node 1 learned term 3";
  ASSERT_TRUE(c.raft(1).recovering());
  RestartOn(c, 3, wiped);  // the leader of term 3 is wiped too
  // For a while node 2's own messages (its ordinary campaigns) are lost, as in the
  // simulation's seed 29 where it hears a unanimous request before it campaigns: it refuses
  // the wiped replicas' unanimous requests (empty logs) and sets unanimous_next_.
  c.drop = [](const Message& m) {
    const bool probe = (m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResp) &&
                       m.run_id != 0;
    return m.from == 2 && !probe;
  };
  std::map<uint64_t, std::set<NodeId>> leaders{{term, {3}}};
  for (int i = 0; i < 250; i++) {
    if (i == 50) c.drop = nullptr;
    c.TickAll(1);
    for (NodeId id : {1, 2, 3}) {
      if (c.raft(id).role() == Role::kLeader) leaders[c.raft(id).term()].insert(id);
    }
  }
  EXPECT_EQ(leaders[term].size(), 1u) << "two leaders of term " << term;
}

// Found by a second review (raft_sim --seed 910 --settle 3000 --accept-data-loss
// --no-membership --hold-share 0.7 --crash-after-vote 0.3): a voter that granted a unanimous
// vote, then restarted on a copy with a higher commit index before the winner heard from it,
// was never judged by that copy. The winner lacked the copy's committed entry, and the voter
// refused every append for good. Fixed: a unanimous winner commits nothing until every voter
// acknowledged from the run it voted from, and steps down on hearing another run.
TEST(RaftDataLossReviewTest, AGrantFromAnIncarnationReplacedByABackupDoesNotCount) {
  std::set<NodeId> restored;
  TestCluster c(3, RestoredAcceptLoss(&restored));
  const MemoryStorage wiped = *c.node(1).storage;
  c.Elect(1);
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  c.Tick(1);
  c.Stabilize();
  ASSERT_EQ(c.raft(3).committed(), 3u);
  const MemoryStorage b3 = *c.node(3).storage;
  restored = {1, 2, 3};
  for (NodeId id : {1, 2, 3}) RestartOn(c, id, wiped);
  bool swapped = false;
  c.drop = [&](const Message& m) {
    if (!swapped && m.type == MessageType::kVoteResp && m.from == 3 && !m.reject) {
      swapped = true;
      RestartOn(c, 3, b3);  // the grant is on its way; node 3 now runs on its backup
    }
    return false;
  };
  c.TickAll(300);
  c.drop = nullptr;
  ASSERT_TRUE(swapped);
  NodeId leader = kNoNode;
  for (NodeId id : {1, 2, 3}) {
    if (c.raft(id).role() == Role::kLeader) leader = id;
  }
  ASSERT_NE(leader, kNoNode);
  ASSERT_TRUE(c.raft(leader).Propose("after").ok());
  c.TickAll(100);
  EXPECT_EQ(c.raft(leader).TermAt(3), 2u) << "the leader lacks node 3's committed entry 3";
  EXPECT_EQ(AppliedConflict(c, 3), "");
  EXPECT_EQ(c.raft(3).events().commit_conflicts, 0u);
  EXPECT_FALSE(c.raft(3).recovering());
}

// The limit of judging by commit index (second review): an entry committed by its leader but
// known committed by no voter's copy can be lost. Leader 1 commits "X" at 5 with node 2,
// which holds it but knows commit 3; node 3 knows commit 4 and lacks X; node 1 comes back on
// an older copy. Node 3's commit index is the highest, so only it can win, and X is gone
// (the last-entry rule would have kept it here, and lost committed entries elsewhere:
// UpToDateDoesNotMeanHoldingEveryVotersCommittedEntries). What must hold: the replicas agree.
TEST(RaftDataLossReviewTest, AnEntryNoVoterKnewCommittedMayBeLostButReplicasAgree) {
  std::set<NodeId> restored;
  TestCluster c(3, [&restored](Config& cfg) {
    RestoredAcceptLoss(&restored)(cfg);
    cfg.max_size_per_msg = 1;
  });
  c.Elect(1);
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  c.Tick(1);
  c.Stabilize();
  const MemoryStorage b1 = *c.node(1).storage;
  c.drop = [](const Message& m) {
    if (m.to == 2 && m.commit >= 4 &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
      return true;
    }
    if (m.to == 3 && m.type == MessageType::kAppend) {
      for (const Entry& e : m.entries) {
        if (e.index >= 5) return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(c.raft(1).Propose("b").ok());
  ASSERT_TRUE(c.raft(1).Propose("X").ok());
  c.Stabilize();
  for (int i = 0; i < 3; i++) {
    c.Tick(1);
    c.Stabilize();
  }
  ASSERT_EQ(c.raft(1).committed(), 5u);
  ASSERT_EQ(c.raft(2).committed(), 3u);
  ASSERT_EQ(c.raft(3).committed(), 4u);
  const MemoryStorage b2 = *c.node(2).storage, b3 = *c.node(3).storage;
  c.drop = nullptr;
  restored = {1, 2, 3};
  RestartOn(c, 1, b1);
  RestartOn(c, 2, b2);
  RestartOn(c, 3, b3);
  c.TickAll(200);
  NodeId leader = kNoNode;
  for (NodeId id : {1, 2, 3}) {
    if (c.raft(id).role() == Role::kLeader) leader = id;
  }
  ASSERT_EQ(leader, 3u);
  ASSERT_TRUE(c.raft(leader).Propose("after").ok());
  c.TickAll(50);
  EXPECT_EQ(AppliedConflict(c, 3), "");
  for (NodeId id : {1, 2, 3}) {
    EXPECT_FALSE(c.raft(id).recovering()) << "node " << id;
    EXPECT_EQ(c.raft(id).events().commit_conflicts, 0u) << "node " << id;
  }
}

}  // namespace
}  // namespace flin::raft
