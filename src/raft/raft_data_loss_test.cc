// Unit tests of Config::accept_data_loss: a group whose every replica came back on a backup
// (or whose ordinary replicas cannot lead the restored ones) elects, unanimously, the replica
// holding the newest state, and nothing any replica had committed is lost.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "raft/raft_test_util.h"

namespace flin::raft {
namespace {

using test_util::AppliedConflict;
using test_util::RestartOn;
using test_util::TestCluster;

// Replicas in `restored` start recovering; all accept data loss if *accept.
struct Restore {
  std::set<NodeId> restored;
  bool accept = false;
  TestCluster c{3, [this](Config& cfg) {
                  cfg.recovering = restored.count(cfg.id) > 0;
                  cfg.accept_data_loss = accept;
                }};
};

// Leader 1 commits "a" everywhere, then "x" with node 3 alone while node 2 is cut off, and
// node 3 learns that "x" is committed. Copies are taken of nodes 1 and 2 before "x" and of
// node 3 after it; returns x's index.
uint64_t CommitXOnlyOnOneAndThree(TestCluster& c, MemoryStorage* before1, MemoryStorage* before2,
                                  MemoryStorage* after3) {
  c.Elect(1);
  EXPECT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  *before1 = *c.node(1).storage;
  *before2 = *c.node(2).storage;
  c.Isolate(2);
  EXPECT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  c.Tick(1);  // a heartbeat carries the commit index to node 3
  c.Stabilize();
  const uint64_t x = c.node(1).applied.back().index;
  EXPECT_EQ(c.node(1).applied.back().data, "x");
  EXPECT_GE(c.node(3).storage->hard_state().commit, x) << "node 3's copy must hold x committed";
  *after3 = *c.node(3).storage;
  c.Heal();
  return x;
}

// Node `id` crashes and restarts on its own storage, an ordinary replica.
void RestartAsItWas(TestCluster& c, NodeId id) { RestartOn(c, id, *c.node(id).storage); }

bool Applied(TestCluster& c, NodeId id, const std::string& data) {
  for (const Entry& e : c.node(id).applied) {
    if (e.data == data) return true;
  }
  return false;
}

int Leaders(TestCluster& c) {
  int n = 0;
  for (NodeId id : {1, 2, 3}) {
    if (c.node(id).raft && c.raft(id).role() == Role::kLeader) n++;
  }
  return n;
}

// Every node applied `x` (at its index: AppliedConflict), the group takes a new write on all
// three, and nobody is recovering any more.
void ExpectConvergedHolding(TestCluster& c, const std::string& x) {
  ASSERT_EQ(Leaders(c), 1);
  NodeId leader = kNoNode;
  for (NodeId id : {1, 2, 3}) {
    if (c.raft(id).role() == Role::kLeader) leader = id;
  }
  ASSERT_TRUE(c.raft(leader).Propose("after").ok());
  c.TickAll(5);
  for (NodeId id : {1, 2, 3}) {
    EXPECT_TRUE(Applied(c, id, x)) << "node " << id << " lost committed " << x;
    EXPECT_TRUE(Applied(c, id, "after")) << "node " << id;
    EXPECT_FALSE(c.raft(id).recovering()) << "node " << id;
  }
  EXPECT_EQ(AppliedConflict(c, 3), "");
}

// Every replica comes back on its own backup: none can vouch for the others, so without the
// operator's word nobody is elected (the cluster answers errors rather than serve a past that
// may have lost acknowledged writes).
TEST(RaftDataLossTest, ReplicasAllOnBackupsElectNobodyUnlessTheLossIsAccepted) {
  Restore r;
  MemoryStorage b1, b2, b3;
  CommitXOnlyOnOneAndThree(r.c, &b1, &b2, &b3);
  r.restored = {1, 2, 3};
  RestartOn(r.c, 1, b1);
  RestartOn(r.c, 2, b2);
  RestartOn(r.c, 3, b3);
  r.c.TickAll(100);
  EXPECT_EQ(Leaders(r.c), 0);
  for (NodeId id : {1, 2, 3}) EXPECT_TRUE(r.c.raft(id).recovering());
}

// Accepting the loss, the newest copy (node 3's, the only one holding committed "x") must win:
// a majority election could pick node 1 or 2 with each other's votes, and node 3, which had
// applied "x", would then conflict with their leader for good. So nobody is elected while
// node 3 is down, and once it is up, it is.
TEST(RaftDataLossTest, AcceptingTheLossElectsTheNewestCopyOnlyWithEveryVoter) {
  Restore r;
  MemoryStorage b1, b2, b3;
  const uint64_t x = CommitXOnlyOnOneAndThree(r.c, &b1, &b2, &b3);
  r.restored = {1, 2, 3};
  r.accept = true;
  RestartOn(r.c, 1, b1);
  RestartOn(r.c, 2, b2);
  r.c.Crash(3);
  r.c.Isolate(3);
  r.c.TickAll(100);
  EXPECT_EQ(Leaders(r.c), 0) << "elected without every voter";
  RestartOn(r.c, 3, b3);
  r.c.Heal();
  r.c.TickAll(100);
  ASSERT_EQ(r.c.raft(3).role(), Role::kLeader);
  ASSERT_EQ(r.c.raft(3).last_index() >= x, true);
  ExpectConvergedHolding(r.c, "x");
}

// Node 1 never lost anything and holds the newest log; nodes 2 and 3 came back on older
// copies and accept the loss. Their unanimous campaigns cannot win (node 1 refuses their older
// logs) and node 1's ordinary campaign cannot have their votes, so node 1, having refused a
// unanimous candidate, campaigns unanimously itself and leads them.
TEST(RaftDataLossTest, AnOrdinaryReplicaWithTheNewestLogLeadsTheRestoredOnes) {
  Restore r;
  r.c.Elect(1);
  ASSERT_TRUE(r.c.raft(1).Propose("a").ok());
  r.c.Stabilize();
  MemoryStorage b2 = *r.c.node(2).storage, b3 = *r.c.node(3).storage;
  ASSERT_TRUE(r.c.raft(1).Propose("x").ok());
  r.c.Stabilize();
  ASSERT_EQ(r.c.node(1).applied.back().data, "x");
  r.restored = {2, 3};
  r.accept = true;
  RestartOn(r.c, 2, b2);
  RestartOn(r.c, 3, b3);
  RestartAsItWas(r.c, 1);  // restarted as an ordinary replica: it knows no leader
  r.c.TickAll(150);
  ASSERT_EQ(r.c.raft(1).role(), Role::kLeader);
  ExpectConvergedHolding(r.c, "x");
}

// Node 2 never lost anything but missed "x"; node 3 came back on a copy holding "x" committed,
// node 1 on one from before it. If node 1 granted node 2's ordinary campaign, node 2 would
// lead without "x" and node 3, which had applied it, would conflict with it for good. Only a
// unanimous election may have the vote of a replica accepting the loss, so node 3 is elected.
TEST(RaftDataLossTest, AReplicaAcceptingTheLossGrantsNoOrdinaryCampaign) {
  Restore r;
  MemoryStorage b1, b2, b3;
  CommitXOnlyOnOneAndThree(r.c, &b1, &b2, &b3);
  r.restored = {1, 3};
  r.accept = true;
  RestartOn(r.c, 1, b1);
  RestartOn(r.c, 3, b3);
  RestartAsItWas(r.c, 2);  // ordinary, as it was, without x
  r.c.TickAll(150);
  ASSERT_EQ(r.c.raft(3).role(), Role::kLeader);
  ExpectConvergedHolding(r.c, "x");
}

// A flag left on must not cost a majority its elections. Five voters; leader 1 is gone and
// node 2 cut off. Nodes 3, 4 and 5 each refused a unanimous candidate with an older log (a
// replica accepting loss), so each campaigns unanimously next, which cannot win without 1
// and 2. One try each: then they campaign by majority again and elect one of themselves.
TEST(RaftDataLossTest, AnOrdinaryReplicasUnanimousCampaignIsOneTry) {
  TestCluster c(5);
  c.Elect(1);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  c.Crash(1);
  c.Isolate(1);
  c.Isolate(2);
  // Their election timers fire and their campaigns go nowhere: none knows a leader now.
  c.drop = [](const Message& m) { return m.from >= 3; };
  c.TickAll(40);
  c.drop = nullptr;
  for (NodeId id : {3, 4, 5}) {
    ASSERT_EQ(c.raft(id).leader(), kNoNode);
    Message m;
    m.type = MessageType::kPreVote;
    m.from = 2;
    m.to = id;
    m.term = c.raft(id).term() + 1;
    m.unanimous = true;  // index 0: a log older than theirs
    ASSERT_TRUE(c.raft(id).Step(m).ok());
  }
  c.queue().clear();
  c.TickAll(100);
  int leaders = 0;
  for (NodeId id : {3, 4, 5}) leaders += c.raft(id).role() == Role::kLeader;
  EXPECT_EQ(leaders, 1) << "a majority of ordinary replicas elected nobody";
}

}  // namespace
}  // namespace flin::raft
