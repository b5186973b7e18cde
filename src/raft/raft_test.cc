// Unit tests of the Raft core's rules: elections, pre-vote, check-quorum, the commit rule
// (Figure 8), log conflicts and restart from storage.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "raft/raft_test_util.h"

namespace flin::raft {
namespace {

using test_util::AppliedConflict;
using test_util::Hold;
using test_util::RestartOn;
using test_util::TestCluster;
using test_util::TickOnly;

TEST(RaftElectionTest, CampaignElectsLeaderWithNoOp) {
  TestCluster c(3);
  c.Elect(1);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), 2u);
  for (NodeId id : {2, 3}) {
    EXPECT_EQ(c.raft(id).role(), Role::kFollower);
    EXPECT_EQ(c.raft(id).leader(), 1u);
    EXPECT_EQ(c.raft(id).term(), 2u);
  }
  // The no-op of term 2 is committed and applied everywhere.
  for (NodeId id : {1, 2, 3}) {
    ASSERT_FALSE(c.node(id).applied.empty());
    EXPECT_EQ(c.node(id).applied.back().index, 2u);
    EXPECT_EQ(c.node(id).applied.back().term, 2u);
    EXPECT_TRUE(c.node(id).applied.back().data.empty());
  }
}

TEST(RaftElectionTest, ElectionTimeoutStartsAnElection) {
  TestCluster c(3);
  c.TickAll(25);  // > 2 * election_tick: someone must have won
  int leaders = 0;
  uint64_t timeouts = 0;
  for (NodeId id : {1, 2, 3}) {
    leaders += c.raft(id).role() == Role::kLeader;
    timeouts += c.raft(id).events().election_timeouts;
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_GE(timeouts, 1u);
}

TEST(RaftElectionTest, SingleNodeElectsItselfAndCommits) {
  TestCluster c(1);
  c.Elect(1);
  ASSERT_EQ(c.raft(1).role(), Role::kLeader);
  auto r = c.raft(1).Propose("x");
  ASSERT_TRUE(r.ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).committed(), r.value().index);
}

TEST(RaftElectionTest, VoteOncePerTerm) {
  TestCluster c(3, [](Config& cfg) { cfg.pre_vote = false; });
  // Node 3 votes for node 1 in term 2, then must refuse node 2 in the same term.
  c.Isolate(2);
  c.raft(1).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(3).vote(), 1u);
  Message m;
  m.type = MessageType::kVote;
  m.from = 2;
  m.to = 3;
  m.term = 2;
  m.index = 10;
  m.log_term = 5;  // a far better log: still refused
  ASSERT_TRUE(c.raft(3).Step(m).ok());
  c.Process();
  bool rejected = false;
  for (auto& q : c.queue()) {
    if (q.type == MessageType::kVoteResp && q.to == 2) rejected = q.reject;
  }
  EXPECT_TRUE(rejected);
}

TEST(RaftElectionTest, PreVoteKeepsPartitionedNodeFromDisrupting) {
  TestCluster c(3);
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  c.Isolate(3);
  for (int i = 0; i < 100; i++) {
    c.Tick(3);
    c.TickAll(0);
    c.Tick(1);
    c.Tick(2);
    c.Stabilize();
  }
  // Node 3 kept pre-voting without ever raising its term.
  EXPECT_EQ(c.raft(3).term(), term);
  c.Heal();
  c.TickAll(5);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), term);
  EXPECT_EQ(c.raft(3).leader(), 1u);
}

TEST(RaftElectionTest, WithoutPreVoteThePartitionedNodeDisrupts) {
  // The contrast to the test above: pre-vote is what keeps the term stable.
  TestCluster c(3, [](Config& cfg) {
    cfg.pre_vote = false;
    cfg.check_quorum = false;
  });
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  c.Isolate(3);
  for (int i = 0; i < 50; i++) c.Tick(3);
  EXPECT_GT(c.raft(3).term(), term);
}

TEST(RaftElectionTest, CheckQuorumLeaderStepsDown) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(1);
  c.Tick(1, 10);
  // The first check sees the contact from before the partition.
  c.Tick(1, 10);
  EXPECT_EQ(c.raft(1).role(), Role::kFollower);
  EXPECT_EQ(c.raft(1).leader(), kNoNode);
  EXPECT_EQ(c.raft(1).events().quorum_losses, 1u);
}

TEST(RaftElectionTest, FollowerInLeaseIgnoresVotes) {
  TestCluster c(3);
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  // Node 3 asks for votes while 2 just heard from the leader: 2 ignores it.
  Message m;
  m.type = MessageType::kVote;
  m.from = 3;
  m.to = 2;
  m.term = term + 1;
  m.index = 100;
  m.log_term = term;
  ASSERT_TRUE(c.raft(2).Step(m).ok());
  EXPECT_EQ(c.raft(2).term(), term);
  EXPECT_EQ(c.raft(2).vote(), 1u);
}

TEST(RaftElectionTest, RestartedNodeRefusesVotesForAnElectionTimeout) {
  TestCluster c(3);
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  c.Crash(2);
  c.Start(2);
  Message m;
  m.type = MessageType::kPreVote;
  m.from = 3;
  m.to = 2;
  m.term = term + 1;
  m.index = 100;
  m.log_term = term;
  ASSERT_TRUE(c.raft(2).Step(m).ok());
  c.Process();
  EXPECT_TRUE(c.queue().empty()) << "a freshly restarted node must not grant (pre)votes";
  c.raft(2).Tick();  // still within the first election timeout
  ASSERT_TRUE(c.raft(2).Step(m).ok());
  c.Process();
  EXPECT_TRUE(c.queue().empty());
}

// Figure 8 of the Raft paper: an entry of an old term replicated on a majority must not be
// committed by counting replicas; it commits only with an entry of the leader's term.
// Returns the new leader's commit index at the moment entry 3 (term 2) sits on a majority
// but the new leader's no-op (index 4) on nobody else.
uint64_t Figure8CommitWhenOldEntryOnMajority(bool broken_rule) {
  TestCluster c(3, [&](Config& cfg) {
    cfg.max_size_per_msg = 1;  // one entry per append
    cfg.check_quorum = false;
    cfg.testing.commit_any_term = broken_rule;
  });
  c.Elect(1);  // term 2, no-op at index 2
  c.Isolate(3);
  c.drop = [](const Message& m) { return m.type == MessageType::kAppend; };
  EXPECT_TRUE(c.raft(1).Propose("a").ok());  // index 3, term 2: only on node 1
  c.Stabilize();
  c.Crash(1);
  c.Start(1);
  c.Heal();
  c.Isolate(2);
  // Node 3 may receive entry 3 but not the no-op of the new term.
  c.drop = [&c](const Message& m) {
    return m.type == MessageType::kAppend && !m.entries.empty() && m.entries[0].index == 4 &&
           c.raft(m.to).last_index() >= 3;
  };
  c.raft(1).Campaign();
  c.Stabilize();
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  EXPECT_EQ(c.raft(1).term(), 3u);
  EXPECT_EQ(c.raft(3).TermAt(3), 2u);  // entry 3 is on nodes 1 and 3: a majority
  const uint64_t commit = c.raft(1).committed();
  // Once the no-op is replicated, both commit.
  c.drop = nullptr;
  c.TickAll(2);
  EXPECT_EQ(c.raft(1).committed(), 4u);
  return commit;
}

TEST(RaftReplicationTest, Figure8OldTermEntryNotCommittedByCounting) {
  EXPECT_EQ(Figure8CommitWhenOldEntryOnMajority(false), 2u);
}

TEST(RaftReplicationTest, Figure8BrokenCommitRuleIsDetected) {
  // The deliberate bug commits entry 3 early: the test above can fail.
  EXPECT_EQ(Figure8CommitWhenOldEntryOnMajority(true), 3u);
}

TEST(RaftReplicationTest, ConflictingFollowerSuffixIsReplaced) {
  TestCluster c(3, [](Config& cfg) {
    cfg.max_size_per_msg = 64;
    cfg.check_quorum = false;
  });
  c.Elect(1);
  // Node 1 appends entries nobody else gets (term 2), then node 2 leads term 3.
  c.Isolate(1);
  for (int i = 0; i < 5; i++) ASSERT_TRUE(c.raft(1).Propose("stale").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).last_index(), 7u);
  c.Crash(1);
  c.Heal();
  c.Isolate(1);
  c.raft(2).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  for (int i = 0; i < 3; i++) ASSERT_TRUE(c.raft(2).Propose("fresh").ok());
  c.Stabilize();
  c.Start(1);
  c.Heal();
  c.TickAll(3);
  // Node 1's log now equals the leader's: index 3..7 of term 2 were replaced.
  ASSERT_EQ(c.raft(1).last_index(), c.raft(2).last_index());
  for (uint64_t i = 2; i <= c.raft(2).last_index(); i++) {
    EXPECT_EQ(c.raft(1).TermAt(i), c.raft(2).TermAt(i)) << i;
  }
  EXPECT_EQ(c.raft(1).committed(), c.raft(2).committed());
  for (const Entry& e : c.node(1).applied) EXPECT_NE(e.data, "stale");
}

// An append whose entries differ from ones the follower committed (a leader of another
// history: never with correct storage) is neither acknowledged nor applied over them; the
// follower counts it (Events::commit_conflicts). It used to acknowledge, claiming a match.
TEST(RaftReplicationTest, AnAppendConflictingWithCommittedEntriesIsNotAcknowledged) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  c.Tick(1);
  c.Stabilize();
  const uint64_t x = c.raft(2).committed();
  ASSERT_EQ(c.node(2).applied.back().data, "x");
  Message m;
  m.type = MessageType::kAppend;
  m.from = 1;
  m.to = 2;
  m.term = c.raft(1).term() + 1;  // a leader of another history (a later term: see Step)
  m.index = x - 1;
  m.log_term = c.raft(2).TermAt(x - 1);
  m.commit = x;
  m.entries = {Entry{m.term, x, EntryType::kNormal, "other"}};  // another term at x
  c.queue().clear();
  ASSERT_TRUE(c.raft(2).Step(m).ok());
  c.Process();
  for (const Message& r : c.queue()) {
    EXPECT_NE(r.type, MessageType::kAppendResp) << DescribeMessage(r);
  }
  EXPECT_EQ(c.raft(2).events().commit_conflicts, 1u);
  EXPECT_EQ(c.raft(2).TermAt(x), c.raft(1).term());
  EXPECT_EQ(c.node(2).applied.back().data, "x");
}

TEST(RaftReplicationTest, InflightWindowBoundsAppendsToSlowFollower) {
  TestCluster c(3, [](Config& cfg) {
    cfg.max_inflight_msgs = 3;
    cfg.max_size_per_msg = 1;
  });
  c.Elect(1);
  c.drop = [](const Message& m) { return m.type == MessageType::kAppendResp && m.from == 3; };
  for (int i = 0; i < 10; i++) ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.sent().clear();
  c.Stabilize();
  int to3 = 0;
  for (auto& m : c.sent()) to3 += m.type == MessageType::kAppend && m.to == 3;
  EXPECT_EQ(to3, 3) << "replicate state sends at most max_inflight_msgs unacknowledged appends";
  c.drop = nullptr;
  c.TickAll(3);
  EXPECT_EQ(c.raft(3).last_index(), c.raft(1).last_index());
}

// A follower back from an outage answers, at once, every heartbeat queued for it meanwhile.
// Those answers do not show that the leader's probe was lost (they left before it), so they
// must not each resend it: on a cluster node they did, dozens of 1 MB probes per partition in
// one round, and the leaders' raft threads stalled for seconds (tests/ could see the cluster
// stop for ~4 s after a node restarted). A heartbeat sent after the probe still resends it.
TEST(RaftReplicationTest, AnswersToOldHeartbeatsDoNotResendAProbe) {
  TestCluster c(3, [](Config& cfg) { cfg.max_size_per_msg = 1; });
  c.Elect(1);
  for (int i = 0; i < 3; i++) ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  c.drop = [](const Message& m) { return m.to == 3 || m.from == 3; };  // node 3 is away
  auto heartbeat_tick = [&] {  // of the heartbeat to node 3 the leader just queued
    uint64_t t = 0;
    for (auto& m : c.queue()) {
      if (m.type == MessageType::kHeartbeat && m.to == 3) t = m.tick;
    }
    return t;
  };
  c.Tick(1);  // a heartbeat, lost with node 3
  const uint64_t old_tick = heartbeat_tick();
  ASSERT_GT(old_tick, 0u);
  c.Stabilize();
  for (int i = 0; i < 3; i++) ASSERT_TRUE(c.raft(1).Propose("y").ok());
  c.Stabilize();
  // Node 3 rejects an append (its log is behind): the leader probes it from its match.
  PeerStatus p3;
  for (const auto& p : c.raft(1).Peers()) {
    if (p.id == 3) p3 = p;
  }
  auto from_3 = [&](MessageType type) {  // an answer of node 3 to the leader
    Message m;
    m.type = type;
    m.from = 3;
    m.to = 1;
    m.term = c.raft(1).term();
    return m;
  };
  Message reject = from_3(MessageType::kAppendResp);
  reject.reject = true;
  reject.index = p3.next - 1;
  reject.reject_hint = p3.match;
  ASSERT_TRUE(c.raft(1).Step(reject).ok());
  c.Process();
  auto appends_to_3 = [&] {
    int n = 0;
    for (auto& m : c.queue()) n += m.type == MessageType::kAppend && m.to == 3;
    return n;
  };
  ASSERT_EQ(appends_to_3(), 1) << "the probe";
  c.queue().clear();
  auto answer_heartbeat = [&](uint64_t tick) {
    Message hb = from_3(MessageType::kHeartbeatResp);
    hb.tick = tick;
    ASSERT_TRUE(c.raft(1).Step(hb).ok());
  };
  // The backlog: answers to heartbeats older than the probe.
  for (int i = 0; i < 20; i++) answer_heartbeat(old_tick);
  c.Process();
  EXPECT_EQ(appends_to_3(), 0) << "answers to heartbeats sent before the probe resent it";
  // A heartbeat sent after the probe, answered: the probe was lost, send it again.
  c.queue().clear();
  c.Tick(1);
  const uint64_t new_tick = heartbeat_tick();
  ASSERT_GT(new_tick, old_tick);
  c.queue().clear();
  answer_heartbeat(new_tick);
  c.Process();
  EXPECT_EQ(appends_to_3(), 1);
  // And node 3, back for good, catches up.
  c.queue().clear();
  c.drop = nullptr;
  c.TickAll(3);
  EXPECT_EQ(c.raft(3).last_index(), c.raft(1).last_index());
}

TEST(RaftReplicationTest, PeersReportHowLongAgoTheyAnsweredAHeartbeat) {
  TestCluster c(3);
  c.Elect(1);
  c.TickAll(3);
  c.Isolate(3);  // as a stopped process with its connections up: nothing comes back
  c.TickAll(8);
  std::map<NodeId, uint64_t> age;
  for (const auto& p : c.raft(1).Peers()) age[p.id] = p.ticks_since_ack;
  EXPECT_LE(age[2], 2u);  // answers every heartbeat (one per tick)
  EXPECT_GE(age[3], 8u);
  c.Heal();
  c.TickAll(2);
  for (const auto& p : c.raft(1).Peers()) EXPECT_LE(p.ticks_since_ack, 2u) << p.id;
}

TEST(RaftReplicationTest, ProposeErrors) {
  TestCluster c(3, [](Config& cfg) { cfg.max_uncommitted_entries = 2; });
  EXPECT_EQ(c.raft(2).Propose("x").status().code(), Status::Code::kNotLeader);
  c.Elect(1);
  c.Isolate(1);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  ASSERT_TRUE(c.raft(1).Propose("y").ok());
  EXPECT_EQ(c.raft(1).Propose("z").status().code(), Status::Code::kBusy);
}

// Node 3 crashes and restarts on `storage` (RestartOn).
void Restart3On(TestCluster& c, const MemoryStorage& storage, bool* recovering = nullptr) {
  RestartOn(c, 3, storage, recovering);
}

// Node 3 loses its storage and restarts on the bootstrap state; *wiped (read by the cluster's
// config tweak) is set before it starts again.
void WipeAndRestart3(TestCluster& c, bool* wiped) {
  ConfState cs;
  cs.voters = {1, 2, 3};
  Restart3On(c, MemoryStorage::WithSnapshot(1, 1, cs), wiped);
}

// Entry "x" is committed by leader 1 with node 3's acknowledgement while node 2 is cut off.
// Then node 3 loses its data and restarts empty (a wiped data directory), and node 1 goes
// down. Returns whether "x" survives: whether nodes 2 and 3 could elect 2 (which lacks it)
// before 1 came back, and every node's applied entries after that.
bool CommittedEntrySurvivesAWipedReplica(bool recovering) {
  bool wiped = false;
  TestCluster c(3, [&](Config& cfg) { cfg.recovering = recovering && wiped && cfg.id == 3; });
  c.Elect(1);
  c.Isolate(2);
  EXPECT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  EXPECT_EQ(c.node(1).applied.back().data, "x");  // committed by {1, 3}
  WipeAndRestart3(c, &wiped);
  c.Crash(1);
  c.Isolate(1);
  c.Heal();
  c.Isolate(1);
  c.TickAll(60);  // 2 campaigns; only 3's vote could make it leader
  const bool two_won = c.raft(2).role() == Role::kLeader;
  EXPECT_EQ(c.raft(3).role(), Role::kFollower);  // a recovering node never campaigns
  c.Start(1);
  c.Heal();
  c.TickAll(60);
  bool survived = !two_won;
  for (NodeId id : {1, 2, 3}) {
    bool has_x = false;
    for (const Entry& e : c.node(id).applied) has_x |= e.data == "x";
    survived = survived && has_x;
  }
  EXPECT_FALSE(c.raft(3).recovering()) << "caught up from a leader: an ordinary replica again";
  return survived;
}

TEST(RaftRestartTest, AWipedReplicaDoesNotVoteUntilItRecovers) {
  EXPECT_TRUE(CommittedEntrySurvivesAWipedReplica(/*recovering=*/true));
}

TEST(RaftRestartTest, AWipedReplicaThatVotesLosesACommittedEntry) {
  // Without the rule the scenario above loses "x": the test above can fail.
  EXPECT_FALSE(CommittedEntrySurvivesAWipedReplica(/*recovering=*/false));
}

// Leader 1 (term t1) is cut off; 2 and 3 elect a leader of a later term; node 3 then loses its
// data and restarts, and only 1 and 3 can talk. 1 still believes it leads. Returns whether 1
// committed a new entry "y" with 3's acknowledgement (its earlier self had moved past t1 and
// would have refused 1), and sets *lost if "y" was then overwritten once everyone healed.
bool StaleLeaderCommitsWithAWipedReplica(bool discover_terms, bool* lost) {
  bool wiped = false;
  TestCluster c(3, [&](Config& cfg) {
    cfg.recovering = wiped && cfg.id == 3;
    cfg.testing.recover_without_terms = !discover_terms;
  });
  c.Elect(1);
  c.Isolate(1);
  for (int i = 0; i < 10; i++) {  // 2 and 3 forget leader 1 (1 is not ticked: it still leads)
    c.raft(2).Tick();
    c.raft(3).Tick();
  }
  c.Process();
  c.Elect(2);
  EXPECT_GT(std::max(c.raft(2).term(), c.raft(3).term()), c.raft(1).term());
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
  WipeAndRestart3(c, &wiped);
  c.raft(1).ResetProgress(3);  // as a node does on meeting a peer's new data directory
  c.Heal();
  c.Isolate(2);
  EXPECT_TRUE(c.raft(1).Propose("y").ok());
  const uint64_t y_index = c.raft(1).last_index();
  for (int i = 0; i < 6; i++) {  // 3 probes for terms, hears only from 1
    c.raft(3).Tick();
    c.Stabilize();
  }
  const bool committed = c.raft(1).committed() >= y_index;
  c.Heal();
  c.TickAll(80);
  bool y_applied = false;
  for (const Entry& e : c.node(2).applied) y_applied |= e.data == "y";
  *lost = committed && !y_applied;
  return committed;
}

TEST(RaftRestartTest, AWipedReplicaAnswersNoLeaderUntilItKnowsItsEarlierTerm) {
  bool lost = false;
  EXPECT_FALSE(StaleLeaderCommitsWithAWipedReplica(/*discover_terms=*/true, &lost));
  EXPECT_FALSE(lost);
}

TEST(RaftRestartTest, AWipedReplicaThatFollowsAStaleLeaderLosesACommittedEntry) {
  // Without learning its earlier term first, the scenario above commits "y" and loses it.
  bool lost = false;
  EXPECT_TRUE(StaleLeaderCommitsWithAWipedReplica(/*discover_terms=*/false, &lost));
  EXPECT_TRUE(lost);
}

TEST(RaftRestartTest, AReplicaOnAnOlderCopyCommitsNoStaleEntryFromAHeartbeat) {
  // Node 3 restarted on an older copy of its state (a backup): its log ends with entries 4
  // and 5 of term 2, which the cluster has since overwritten with term-3 entries; its commit
  // index is 3. Leader 1 of term 3 still believes node 3 matches it up to 5 (the earlier self
  // acknowledged the term-3 entries), so its heartbeat carries commit 5. Committing 4 and 5
  // here would apply entries that were never committed (the simulation's seed 2185).
  ConfState cs;
  cs.voters = {1, 2, 3};
  MemoryStorage st = MemoryStorage::WithSnapshot(1, 1, cs);
  ASSERT_TRUE(st.Append({Entry{1, 2, EntryType::kNormal, "a"}, Entry{1, 3, EntryType::kNormal, "b"},
                         Entry{2, 4, EntryType::kNormal, "stale"},
                         Entry{2, 5, EntryType::kNormal, "stale"}})
                  .ok());
  st.SetHardState(HardState{2, kNoNode, 3});
  Config c;
  c.id = 3;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.applied = 1;
  c.recovering = true;
  c.run_id = 7;
  auto created = RawNode::Create(c, &st);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  RawNode& r = *created.value();
  EXPECT_EQ(r.committed(), 3u);
  for (NodeId from : {1, 2}) {  // the others answer the term probe: step 1 then completes
    Message answer;
    answer.type = MessageType::kPreVoteResp;
    answer.from = from;
    answer.to = 3;
    answer.term = 3;
    answer.reject = true;
    answer.run_id = 7;
    ASSERT_TRUE(r.Step(answer).ok());
  }
  Message hb;
  hb.type = MessageType::kHeartbeat;
  hb.from = 1;
  hb.to = 3;
  hb.term = 3;
  hb.commit = 5;
  ASSERT_TRUE(r.Step(hb).ok());
  EXPECT_EQ(r.leader(), 1u);
  EXPECT_EQ(r.committed(), 3u) << "a heartbeat committed entries this run never matched";
  // An append shows what matches: entry 4 is replaced by the leader's, and commits.
  Message app;
  app.type = MessageType::kAppend;
  app.from = 1;
  app.to = 3;
  app.term = 3;
  app.index = 3;
  app.log_term = 1;
  app.commit = 5;
  app.entries = {Entry{3, 4, EntryType::kNormal, "new"}};
  ASSERT_TRUE(r.Step(app).ok());
  EXPECT_EQ(r.committed(), 4u);
  ASSERT_TRUE(r.Step(hb).ok());
  EXPECT_EQ(r.committed(), 4u);  // 5 is still the stale one here
}

// The open case of docs/RELIABILITY.md ("Open"): entry "x" is committed by leader 1 with node
// 3's acknowledgement while node 2 hears nothing from 1. Node 3 loses its data and rejoins
// recovering in the same term; leader 1 sends it the log one entry per message, and the first
// committed entry of the term it receives (the term's no-op) ends its recovery, before "x"
// reaches it. Leader 1 fails; 2 (which lacks "x") asks for votes, and 3, an ordinary replica
// now with a shorter log than 2's, grants it. Returns whether "x" survived.
bool CommittedEntrySurvivesARecoveryThatEndsEarly(bool expect_early_end) {
  bool wiped = false;
  TestCluster c(3, [&](Config& cfg) {
    cfg.recovering = wiped && cfg.id == 3;
    cfg.max_size_per_msg = 1;  // one entry per append
  });
  c.Elect(1);
  for (int i = 0; i < 3; i++) EXPECT_TRUE(c.raft(1).Propose("a" + std::to_string(i)).ok());
  c.Stabilize();
  c.Cut(1, 2);
  EXPECT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  EXPECT_EQ(c.node(1).applied.back().data, "x");  // committed by {1, 3}
  WipeAndRestart3(c, &wiped);
  c.raft(1).ResetProgress(3);
  const uint64_t noop = 2;  // leader 1's entry at the start of its term
  // Node 1 may send node 3 nothing past its term's no-op: the rest of the log stays in flight.
  c.drop = [&](const Message& m) {
    return m.from == 1 && m.to == 3 && m.type == MessageType::kAppend && !m.entries.empty() &&
           m.index + m.entries.size() > noop;
  };
  for (int i = 0; i < 30 && c.raft(3).recovering(); i++) c.TickAll(1);
  const bool ended_early = !c.raft(3).recovering();
  c.Crash(1);
  c.Isolate(1);
  c.drop = nullptr;
  c.TickAll(80);  // 2 campaigns; 3's vote decides
  bool survived = c.raft(2).role() != Role::kLeader;
  for (const Entry& e : c.node(2).applied) survived = survived || e.data == "x";
  EXPECT_EQ(ended_early, expect_early_end);
  return survived;
}

TEST(RaftRestartTest, ARecoveryThatEndsBeforeTheEarlierSelfsEntriesLosesOne) {
  // Recovery ends only once the leader's log as far as its first append of this run reached is
  // committed here (Config::recovering): "x" among it. Ending on the first committed entry of
  // the term lost "x" (found by analysis in session 12; this test reproduced it).
  EXPECT_TRUE(CommittedEntrySurvivesARecoveryThatEndsEarly(/*expect_early_end=*/false));
}

TEST(RaftRestartTest, EndRecoveryMakesAnOrdinaryReplicaAtOnce) {
  // The app learned nothing was lost (a new member at a cluster's first start): the replica
  // follows leaders at once, without learning its peers' terms first.
  TestCluster c(3, [](Config& cfg) { cfg.recovering = cfg.id == 3; });
  EXPECT_TRUE(c.raft(3).recovering());
  c.raft(3).EndRecovery();
  c.Elect(1);
  EXPECT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  ASSERT_FALSE(c.node(3).applied.empty());
  EXPECT_EQ(c.node(3).applied.back().data, "x");
  EXPECT_FALSE(c.raft(3).recovering());
}

TEST(RaftRestartTest, TermVoteLogAndCommitSurviveRestart) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 5; i++) ASSERT_TRUE(c.raft(1).Propose("v" + std::to_string(i)).ok());
  c.Stabilize();
  c.TickAll(2);
  const HardState hs = c.raft(2).hard_state();
  const uint64_t last = c.raft(2).last_index();
  c.Crash(2);
  c.Start(2);
  EXPECT_EQ(c.raft(2).hard_state(), hs);
  EXPECT_EQ(c.raft(2).last_index(), last);
  EXPECT_EQ(c.raft(2).conf_state().voters, (std::vector<NodeId>{1, 2, 3}));
  // Committed entries are handed out again to rebuild the state machine.
  c.node(2).applied.clear();
  c.Process();
  ASSERT_EQ(c.node(2).applied.size(), hs.commit - 1);
  EXPECT_EQ(c.node(2).applied.back().data, "v4");
  // And it rejoins as a follower.
  c.TickAll(3);
  EXPECT_EQ(c.raft(2).leader(), 1u);
}

TEST(RaftRestartTest, UnpersistedEntriesAreLostButNotAcknowledged) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(1);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  // The Ready holding the entry is never processed: a crash before fsync.
  c.Crash(1);
  c.Start(1);
  EXPECT_EQ(c.raft(1).last_index(), 2u);
  c.queue().clear();
}

// A stale (delayed or duplicated) append from the current leader, sent before the leader met
// this run, reaches a replica restored from an older copy before any later append does. Its
// prevIndex is below what the earlier self acknowledged; when the recovery's target was the
// highest prevIndex seen, the copy's committed entries of the same term ended the recovery at
// once and "x" was lost (found by review in session 12). The target now comes only from
// messages echoing the run's id (Config::recovering).
TEST(RaftRecoveryTest, AStaleAppendCannotEndARestoredReplicasRecovery) {
  bool restored = false;
  TestCluster c(3, [&](Config& cfg) { cfg.recovering = restored && cfg.id == 3; });
  c.Elect(1);  // term 2, no-op at 2
  ASSERT_TRUE(c.raft(1).Propose("a").ok());  // 3
  c.Stabilize();
  MemoryStorage backup = *c.node(3).storage;  // node 3's older copy: log to 3, commit 3
  ASSERT_EQ(backup.LastIndex(), 3u);
  ASSERT_EQ(backup.hard_state().commit, 3u);
  c.sent().clear();
  ASSERT_TRUE(c.raft(1).Propose("b").ok());  // 4
  c.Stabilize();
  Message stale;
  bool found = false;
  for (const Message& m : c.sent()) {
    if (m.from == 1 && m.to == 3 && m.type == MessageType::kAppend && !m.entries.empty() &&
        m.entries[0].index == 4) {
      stale = m;
      found = true;
    }
  }
  ASSERT_TRUE(found);
  c.Cut(1, 2);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());  // 5
  c.Stabilize();
  ASSERT_EQ(c.node(1).applied.back().data, "x");  // committed by {1, 3}
  // Node 3 restarts on its older copy, recovering; leader 1 meets the new incarnation.
  Restart3On(c, backup, &restored);
  ASSERT_TRUE(c.raft(3).recovering());
  c.raft(1).ResetProgress(3);
  // Leader 1's new appends to 3 are slow; step 1 completes meanwhile.
  c.drop = [&](const Message& m) {
    return m.from == 1 && m.to == 3 && m.type == MessageType::kAppend && !(m == stale);
  };
  c.TickAll(4);
  ASSERT_TRUE(c.raft(3).recovering());
  // The old duplicate of the append carrying "b" (prevIndex 3) arrives now.
  c.queue().push_back(stale);
  c.Stabilize();
  const bool ended = !c.raft(3).recovering();
  EXPECT_FALSE(ended) << "recovery ended on a stale append, log ends at "
                      << c.raft(3).last_index();
  c.Crash(1);
  c.Isolate(1);
  c.drop = nullptr;
  c.TickAll(80);
  bool survived = c.raft(2).role() != Role::kLeader;
  for (const Entry& e : c.node(2).applied) survived = survived || e.data == "x";
  EXPECT_TRUE(survived) << "2 was elected with 3's vote and lacks committed x";
}

// An acknowledgement of the earlier self that reaches the leader after ResetProgress moved its
// match past the new run's log, and the leader ignored the run's rejections below it for good
// (found by review in session 12). The run's first response now resets the progress again.
TEST(RaftRecoveryTest, AStaleAckAfterTheResetDoesNotStallTheRecovery) {
  bool wiped = false;
  TestCluster c(3, [&](Config& cfg) { cfg.recovering = wiped && cfg.id == 3; });
  c.Elect(1);
  c.sent().clear();
  for (int i = 0; i < 3; i++) ASSERT_TRUE(c.raft(1).Propose("a" + std::to_string(i)).ok());
  c.Stabilize();
  Message ack;
  for (const Message& m : c.sent())
    if (m.from == 3 && m.to == 1 && m.type == MessageType::kAppendResp && !m.reject) ack = m;
  ASSERT_GT(ack.index, 2u);
  WipeAndRestart3(c, &wiped);
  c.raft(1).ResetProgress(3);
  c.queue().push_back(ack);  // delayed; the simulation delivers it to the leader now
  c.TickAll(100);
  EXPECT_FALSE(c.raft(3).recovering()) << "commit " << c.raft(3).committed() << " of "
                                       << c.raft(1).committed();
}

// Node 3 restarts on a raw copy of its older storage, NOT told it is recovering (the copy
// carries no marker), while leader 1 still leads the term in which 3 acknowledged "x". Leader
// 1's heartbeat names a commit index past the end of 3's log: 3 learns it lost acknowledged
// state and recovers (RawNode::BeginRecovery). Without that, 3 took the heartbeat's commit as
// far as its log went, and once 1 failed it voted 2, which lacks "x", into office.
TEST(RaftRecoveryTest, AReplicaWhoseStorageWentBackInTimeRecoversWhenItsLeaderSaysSo) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  MemoryStorage copy = *c.node(3).storage;  // a raw copy: no marker, nothing says it is old
  c.Cut(1, 2);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  ASSERT_EQ(c.node(1).applied.back().data, "x");  // committed by {1, 3}
  Restart3On(c, copy);
  ASSERT_FALSE(c.raft(3).recovering());
  c.TickAll(1);  // leader 1's heartbeat: commit past 3's log
  EXPECT_EQ(c.raft(3).events().lost_state, 1u);
  EXPECT_TRUE(c.raft(3).recovering());
  c.Crash(1);
  c.Heal();
  c.Isolate(1);
  c.TickAll(80);
  bool survived = c.raft(2).role() != Role::kLeader;
  for (const Entry& e : c.node(2).applied) survived = survived || e.data == "x";
  EXPECT_TRUE(survived) << "2 was elected with 3's vote and lacks committed x";
  // Node 1 back: 3 recovers from it and is an ordinary replica again.
  c.Heal();
  c.Start(1);
  c.TickAll(80);
  EXPECT_FALSE(c.raft(3).recovering());
  bool has_x = false;
  for (const Entry& e : c.node(3).applied) has_x = has_x || e.data == "x";
  EXPECT_TRUE(has_x);
}

// A vote node 3 granted from its stale state earlier in the same batch of messages as the
// heartbeat that shows the loss is not sent (review of session 13): it goes with the state.
TEST(RaftRecoveryTest, AVoteGrantedInTheBatchThatShowsTheLossIsNotSent) {
  TestCluster c(3);
  c.Elect(1);  // term 2
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  MemoryStorage copy = *c.node(3).storage;  // term 2, voted for 1
  ASSERT_TRUE(c.raft(1).TransferLeader(2).ok());
  c.Stabilize();
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);  // term 3
  ASSERT_TRUE(c.raft(2).Propose("x").ok());
  c.Stabilize();  // node 3 acknowledged "x" to leader 2
  Restart3On(c, copy);
  c.Process();
  c.queue().clear();
  // A delayed vote request from 1 for term 3 (the copy never voted in it), then leader 2's
  // heartbeat: both stepped before node 3's next Ready.
  Message vote;
  vote.type = MessageType::kVote;
  vote.from = 1;
  vote.to = 3;
  vote.term = c.raft(2).term();
  vote.index = copy.LastIndex();
  vote.log_term = copy.Term(copy.LastIndex()).value();
  vote.force = true;  // past node 3's restart lease, as a transfer's request is
  ASSERT_TRUE(c.raft(3).Step(vote).ok());
  ASSERT_EQ(c.raft(3).hard_state().vote, 1u);  // granted from the stale state
  Message hb;
  hb.type = MessageType::kHeartbeat;
  hb.from = 2;
  hb.to = 3;
  hb.term = c.raft(2).term();
  hb.commit = c.raft(2).committed();
  hb.log_term = c.raft(2).TermAt(hb.commit);
  ASSERT_GT(hb.commit, copy.LastIndex());
  ASSERT_TRUE(c.raft(3).Step(hb).ok());
  EXPECT_EQ(c.raft(3).events().lost_state, 1u);
  Ready rd = c.raft(3).GetReady();
  for (const Message& m : rd.messages) {
    EXPECT_FALSE(m.type == MessageType::kVoteResp && !m.reject) << DescribeMessage(m);
  }
}

// As above, but the copy's log reaches as far as the heartbeat's commit and holds an entry
// of an older term there: node 3 led term 2 and wrote "s" to its own log only (cut off), a
// raw copy of its storage was taken, {1, 2} elected a leader whose no-op took index 3, and
// node 3, back on its real storage, acknowledged it. Restarted on the copy, node 3 committed
// and applied "s" (never committed: its client got an error), then never caught up (the
// leader ignored its rejections at or below the match). The heartbeat now names its commit
// entry's term (found by review in session 13).
TEST(RaftRecoveryTest, ARawCopyHoldingAnOverwrittenEntryLearnsItFromTheHeartbeatsTerm) {
  TestCluster c(3);
  c.Elect(3);  // term 2, no-op at 2
  c.Isolate(3);
  ASSERT_TRUE(c.raft(3).Propose("s").ok());  // 3, term 2, on node 3 only
  c.Stabilize();
  ASSERT_EQ(c.node(3).storage->LastIndex(), 3u);
  MemoryStorage copy = *c.node(3).storage;  // a raw copy of node 3's storage
  c.Crash(3);
  NodeId lead = 0;
  for (int i = 0; i < 100 && lead == 0; i++) {
    c.TickAll(1);
    for (NodeId id : {1, 2}) {
      if (c.raft(id).role() == Role::kLeader) lead = id;
    }
  }
  ASSERT_NE(lead, 0u);
  c.Heal();
  c.Start(3);  // on its real storage
  c.TickAll(5);
  ASSERT_EQ(c.raft(3).TermAt(3), c.raft(lead).term());  // "s" overwritten, acknowledged
  ASSERT_EQ(c.raft(lead).committed(), 3u);
  Restart3On(c, copy);
  c.TickAll(2);
  EXPECT_EQ(c.raft(3).events().lost_state, 1u);
  bool applied_s = false;
  for (const Entry& e : c.node(3).applied) applied_s = applied_s || e.data == "s";
  EXPECT_FALSE(applied_s) << "node 3 applied \"s\", never committed";
  ASSERT_TRUE(c.raft(lead).Propose("x").ok());
  c.TickAll(100);
  bool has_x = false;
  for (const Entry& e : c.node(3).applied) has_x = has_x || e.data == "x";
  EXPECT_TRUE(has_x) << "node 3 stuck: last " << c.raft(3).last_index() << " commit "
                     << c.raft(3).committed() << ", leader commit "
                     << c.raft(lead).committed();
  EXPECT_FALSE(c.raft(3).recovering());
}

// A follower whose committed entries are not in the leader's log (replicas that diverged,
// e.g. after an operator forced copies of different ages on; found by review in session 13)
// answers an append below its commit with "I hold up to my commit", past the leader's last
// index. Counted, it let the leader commit entries that follower never had.
TEST(RaftRecoveryTest, AnAcknowledgementPastTheLeadersLogIsNotCounted) {
  TestCluster c(3);
  c.Elect(1);
  c.Cut(1, 2);
  c.Cut(1, 3);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  const uint64_t commit = c.raft(1).committed();
  Message ack;
  ack.type = MessageType::kAppendResp;
  ack.from = 3;
  ack.to = 1;
  ack.term = c.raft(1).term();
  ack.index = c.raft(1).last_index() + 5;
  ASSERT_TRUE(c.raft(1).Step(ack).ok());
  EXPECT_EQ(c.raft(1).committed(), commit) << "x committed on a phantom acknowledgement";
}

// A group whose only voter lost its state (a --replicas 1 cluster node started on a backup or
// an empty directory) has nobody to learn from: it recovers at once, and leads, instead of
// waiting forever for a leader that can only be itself.
TEST(RaftRecoveryTest, AnOnlyVoterHasNothingToRecoverFrom) {
  bool restored = false;
  TestCluster c(1, [&](Config& cfg) { cfg.recovering = restored; });
  c.Elect(1);
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  c.Stabilize();
  c.Crash(1);
  restored = true;
  c.Start(1);
  EXPECT_FALSE(c.raft(1).recovering());
  c.TickAll(50);
  EXPECT_EQ(c.raft(1).role(), Role::kLeader);
}

// The open cases a review of the session-12 recovery changes found (docs/RELIABILITY.md,
// "Open"). Each fails today; they are disabled so that the suite stays green, and are the
// reproducers for whoever fixes them (`raft_test --gtest_also_run_disabled_tests`).

// The restarted node 3 probes its peers (step 1 of its recovery); then leader 1 of term 2
// proposes "x" and replicates it to whomever it reaches.
void ProbeThenLeader1ProposesX(TestCluster& c) {
  for (int i = 0; i < 4; i++) {
    c.raft(3).Tick();
    c.Stabilize();
  }
  ASSERT_TRUE(c.raft(1).Propose("x").ok());
  for (int i = 0; i < 4; i++) {
    c.raft(1).Tick();
    c.raft(3).Tick();
    c.Stabilize();
  }
}

// Every link back and everyone settled, nodes 1..n applied the same entry at each index.
void ExpectNoConflictOnceHealed(TestCluster& c, int n) {
  c.drop = nullptr;
  c.Heal();
  c.TickAll(60);
  const std::string conflict = AppliedConflict(c, n);
  EXPECT_TRUE(conflict.empty()) << conflict;
}

// Node `id` campaigns, is elected in term 3 and commits `data`.
void LeadsTerm3AndCommits(TestCluster& c, NodeId id, const std::string& data) {
  c.raft(id).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(id).role(), Role::kLeader);
  ASSERT_EQ(c.raft(id).term(), 3u);
  ASSERT_TRUE(c.raft(id).Propose(data).ok());
  c.Stabilize();
  ASSERT_EQ(c.node(id).applied.back().data, data);
}

// Leader 1 of term 3 committed "x"; the earlier run's vote `held` now reaches `candidate`, a
// candidate of term 3 again after its recovery. It must not become a second leader of term 3,
// and (if it did) what it commits must not conflict with what 1 committed.
void ExpectTheHeldVoteElectsNoSecondLeader(TestCluster& c, const Message& held,
                                           NodeId candidate, int n) {
  c.queue().push_back(held);
  c.Stabilize();
  EXPECT_FALSE(c.raft(candidate).role() == Role::kLeader && c.raft(candidate).term() == 3u)
      << "two leaders of term 3: 1 and " << candidate;
  if (c.raft(candidate).role() == Role::kLeader) {
    ASSERT_TRUE(c.raft(candidate).Propose("y").ok());
    c.Stabilize();
    for (int i = 0; i < 3; i++) {
      c.raft(candidate).Tick();
      c.Stabilize();
    }
  }
  const std::string conflict = AppliedConflict(c, n);
  EXPECT_TRUE(conflict.empty()) << conflict;
}

// Five voters. Candidate 2 holds node 3's vote for term 3, and its vote request to 4 is slow
// (a link down: the transport keeps it until the link is back). Node 3 restarts on an older
// copy, recovering; 1, 4 and 5 (n - q + 1 of them, but not 2) answer its probe, all still in
// term 2, so it took term 2 and acknowledged "x" for leader 1 of term 2, which committed it
// with {1, 5, 3}. Then 4 gets the request and votes: 2 leads term 3 with {2, 3's earlier
// self, 4} and lacks "x". The members of a quorum the earlier self joined need not have
// reached its term when they answer: only the candidate had. So step 1 hears from every
// other voter (Config::recovering).
TEST(RaftRecoveryTest, AVoteTheEarlierSelfGaveIsLearnedFromItsCandidate) {
  bool restored = false;
  TestCluster c(5, [&](Config& cfg) { cfg.recovering = restored && cfg.id == 3; });
  c.Elect(1);  // term 2
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  MemoryStorage backup = *c.node(3).storage;
  // 2, 3 and 4 stop hearing from 1; their leases run out (1 is not ticked: it still leads).
  for (NodeId a : {2, 3, 4}) c.Cut(1, a);
  c.Cut(2, 5);
  TickOnly(c, {2, 3, 4});
  for (NodeId id : {2, 3, 4}) ASSERT_EQ(c.raft(id).role(), Role::kFollower) << id;
  std::vector<Message> held;
  c.drop = Hold(2, 4, MessageType::kVote, &held);
  c.raft(2).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(2).role(), Role::kCandidate);
  ASSERT_EQ(c.raft(2).term(), 3u);
  ASSERT_EQ(held.size(), 1u);
  ASSERT_EQ(c.node(3).storage->hard_state().vote, 2u);  // 3's earlier self voted for 2
  // 3 restarts on its older copy and cannot reach 2; 1 reaches it and 5 again, not 4.
  Restart3On(c, backup, &restored);
  c.drop = nullptr;
  c.Heal();
  c.Cut(2, 3);
  c.Cut(2, 5);
  c.Cut(2, 1);
  c.Cut(1, 4);
  ProbeThenLeader1ProposesX(c);
  // The slow request arrives; 4 votes.
  c.queue().push_back(held[0]);
  c.Stabilize();
  ExpectNoConflictOnceHealed(c, 5);
}

// A duplicate of candidate 2's pre-vote for term 3, from before node 3's earlier self voted
// 2 into term 3 and acknowledged its first entry, reaches node 3 restarted on an older copy.
// When any message counted as its sender's answer, it stood for 2's term (2) and step 1
// ended with term 2; 3 then acknowledged "x" for leader 1 of term 2, which committed it over
// 2's entry of term 3. Only answers to this run's own probes count now (Config::recovering).
TEST(RaftRecoveryTest, ADuplicateFromBeforeTheRestartIsNotAnAnswer) {
  bool restored = false;
  TestCluster c(3, [&](Config& cfg) { cfg.recovering = restored && cfg.id == 3; });
  c.Elect(1);  // term 2
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  MemoryStorage backup = *c.node(3).storage;
  c.Cut(1, 2);
  c.Cut(1, 3);
  TickOnly(c, {2, 3});
  c.sent().clear();
  c.raft(2).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(2).role(), Role::kLeader);
  ASSERT_EQ(c.raft(2).term(), 3u);
  ASSERT_EQ(c.node(2).applied.back().term, 3u);  // its first entry, committed by {2, 3}
  Message duplicate;
  for (const Message& m : c.sent())
    if (m.from == 2 && m.to == 3 && m.type == MessageType::kPreVote) duplicate = m;
  ASSERT_EQ(duplicate.term, 3u);
  // 3 restarts on its older copy; it hears 1 (still leading term 2) but not 2, except for the
  // duplicate.
  Restart3On(c, backup, &restored);
  c.Heal();
  c.Cut(1, 2);
  c.drop = [&](const Message& m) {
    return ((m.from == 2 && m.to == 3) || (m.from == 3 && m.to == 2)) && !(m == duplicate);
  };
  c.queue().push_back(duplicate);
  ProbeThenLeader1ProposesX(c);
  ExpectNoConflictOnceHealed(c, 3);
}

// Found by review (session 14): without check-quorum and pre-vote, a replica restored on a
// copy whose term is above the current leader's keeps that term (step 1 takes the highest)
// and ignored the leader's appends without an answer (Step's m.term < term_ branch); as it
// never campaigns, the leader never learned the higher term and the replica never recovered.
// A recovering replica now answers, and the stale leader steps down.
TEST(RaftRecoveryTest, ACopysHigherTermDeposesAStaleLeaderWithoutCheckQuorumOrPreVote) {
  bool restored = false;
  TestCluster c(3, [&](Config& cfg) {
    cfg.check_quorum = false;
    cfg.pre_vote = false;
    cfg.recovering = restored && cfg.id == 3;
  });
  c.Elect(1);  // term 2
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  c.Isolate(3);
  c.raft(3).Campaign();  // term 3, its requests lost
  c.Stabilize();
  ASSERT_EQ(c.raft(3).term(), 3u);
  MemoryStorage backup = *c.node(3).storage;
  Restart3On(c, backup, &restored);
  c.Heal();
  for (int i = 0; i < 200; i++) c.TickAll();
  EXPECT_FALSE(c.raft(3).recovering()) << "3 at term " << c.raft(3).term() << ", leader 1 at term "
                                       << c.raft(1).term() << " role " << int(c.raft(1).role());
}

// Open (session 12 review): step 1 judges "n - q + 1 voters" by the copy's (older) membership.
TEST(RaftRecoveryOpenTest, DISABLED_AnOlderCopysMembershipLetsStepOneLearnAStaleTerm) {
  bool restored = false;
  TestCluster c(3, [&](Config& cfg) { cfg.recovering = restored && cfg.id == 3; });
  c.Elect(1);  // term 2
  c.TickAll(1);
  MemoryStorage backup = *c.node(3).storage;  // config {1,2,3}
  for (NodeId id : {4, 5}) {
    ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kAddVoter, id}).ok());
    c.Start(id);
    c.Stabilize();
    c.TickAll(2);
  }
  ASSERT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4, 5}));
  ASSERT_EQ(c.raft(3).conf_state().voters, (std::vector<NodeId>{1, 2, 3, 4, 5}));
  const uint64_t base = c.raft(1).last_index();
  // Partition {1,2} | {3,4,5}; 4 is elected in term 3 and commits y with 3's acknowledgement.
  for (NodeId a : {1, 2})
    for (NodeId b : {3, 4, 5}) c.Cut(a, b);
  for (int i = 0; i < 10; i++) {
    c.raft(3).Tick();
    c.raft(5).Tick();
  }
  c.Stabilize();
  ASSERT_NO_FATAL_FAILURE(LeadsTerm3AndCommits(c, 4, "y"));
  ASSERT_EQ(c.raft(1).role(), Role::kLeader);  // still leading term 2 (not ticked)
  // 3 restarts on its older copy; the partition is now {1,2,3} | {4,5}.
  Restart3On(c, backup, &restored);
  c.raft(1).ResetProgress(3);
  c.Heal();
  for (NodeId a : {1, 2, 3})
    for (NodeId b : {4, 5}) c.Cut(a, b);
  ASSERT_TRUE(c.raft(1).Propose("z").ok());
  for (int i = 0; i < 6; i++) {
    c.raft(2).Tick();
    c.raft(3).Tick();
    c.Stabilize();
    c.raft(1).Tick();
    c.Stabilize();
  }
  std::string at1, at4;
  for (const Entry& e : c.node(1).applied) if (e.index == base + 1) at1 = e.data + "/" + std::to_string(e.term);
  for (const Entry& e : c.node(4).applied) if (e.index == base + 1) at4 = e.data + "/" + std::to_string(e.term);
  EXPECT_TRUE(at1.empty() || at1 == at4) << "index " << base + 1 << ": node 1 applied " << at1
                                         << ", node 4 applied " << at4;
}

// Open (session 12 review): a copy whose membership still lists voters removed (and shut down) since.
TEST(RaftRecoveryOpenTest, DISABLED_AnOlderCopyListingRemovedVotersNeverRecovers) {
  bool restored = false;
  TestCluster c(5, [&](Config& cfg) { cfg.recovering = restored && cfg.id == 3; });
  c.Elect(1);
  c.TickAll(1);
  MemoryStorage backup = *c.node(3).storage;  // config {1,2,3,4,5}
  for (NodeId id : {4, 5}) {
    ASSERT_TRUE(c.raft(1).ProposeConfChange({ConfChangeType::kRemoveNode, id}).ok());
    c.Stabilize();
    c.TickAll(2);
    c.Crash(id);  // removed and shut down
  }
  ASSERT_EQ(c.raft(1).conf_state().voters, (std::vector<NodeId>{1, 2, 3}));
  Restart3On(c, backup, &restored);
  c.raft(1).ResetProgress(3);
  for (int i = 0; i < 20; i++) {
    ASSERT_TRUE(c.raft(1).Propose("p" + std::to_string(i)).ok());
    c.TickAll(10);
  }
  EXPECT_FALSE(c.raft(3).recovering()) << "3 still recovering after 200 ticks; commit "
                                       << c.raft(3).committed() << " of "
                                       << c.raft(1).committed();
}

// Open (session 14 review): two voters of a 3-voter group lose their state, and every holder
// of term 3 was one of them, so both learn term 2 in step 1 and recover under leader 1 of term
// 2. The earlier 2's vote for the earlier 3 in term 3 is still in flight; the new 3 campaigns
// into term 3 again, counts it, and leads term 3 beside 1, which the new 2 voted into term 3.
// It needs a message to outlive both its sender's and its receiver's processes, which Flin's
// transport never delivers (one connection per pair of processes); a fix would have every
// response echo a nonce of its request's run (docs/RELIABILITY.md, "Open").
TEST(RaftRecoveryOpenTest, DISABLED_TwoWipedHoldersOfATermLetItsOldVoteElectASecondLeader) {
  std::set<NodeId> wiped;
  TestCluster c(3, [&](Config& cfg) { cfg.recovering = wiped.count(cfg.id) > 0; });
  c.Elect(1);  // term 2
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  // 1 pauses (not ticked); 2 and 3 stop hearing from it.
  c.Cut(1, 2);
  c.Cut(1, 3);
  TickOnly(c, {2, 3});
  for (NodeId id : {2, 3}) ASSERT_EQ(c.raft(id).role(), Role::kFollower) << id;
  std::vector<Message> held;
  c.drop = Hold(2, 3, MessageType::kVoteResp, &held);
  c.raft(3).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(3).role(), Role::kCandidate);
  ASSERT_EQ(c.raft(3).term(), 3u);
  ASSERT_EQ(held.size(), 1u);
  ASSERT_FALSE(held[0].reject);
  // 2 and 3 both lose their data and restart empty, recovering.
  ConfState cs;
  cs.voters = {1, 2, 3};
  for (NodeId id : {2, 3}) {
    wiped.insert(id);
    RestartOn(c, id, MemoryStorage::WithSnapshot(1, 1, cs));
  }
  c.drop = nullptr;
  c.Heal();
  for (int i = 0; i < 20; i++) c.TickAll();
  ASSERT_EQ(c.raft(1).role(), Role::kLeader);
  ASSERT_EQ(c.raft(1).term(), 2u);
  for (NodeId id : {2, 3}) {
    ASSERT_FALSE(c.raft(id).recovering()) << id;
    ASSERT_EQ(c.raft(id).term(), 2u) << id;
  }
  // 1 pauses again; 3 campaigns (2 grants the pre-vote; 3's vote request to 2 is slow).
  c.Cut(1, 2);
  c.Cut(1, 3);
  TickOnly(c, {2, 3});
  for (NodeId id : {2, 3}) ASSERT_EQ(c.raft(id).role(), Role::kFollower) << id;
  c.drop = [&](const Message& m) {
    return m.from == 3 && m.to == 2 && m.type == MessageType::kVote;
  };
  c.raft(3).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(3).role(), Role::kCandidate);
  ASSERT_EQ(c.raft(3).term(), 3u);
  c.drop = nullptr;
  // 1 steps down (check-quorum) and is elected for term 3 by 2; it commits "x".
  c.Cut(2, 3);
  for (int i = 0; i < 20; i++) c.raft(1).Tick();
  c.Stabilize();
  ASSERT_EQ(c.raft(1).role(), Role::kFollower);
  c.Heal();
  c.Cut(1, 3);
  c.Cut(2, 3);
  ASSERT_NO_FATAL_FAILURE(LeadsTerm3AndCommits(c, 1, "x"));
  // The earlier 2's vote reaches the new 3, still a candidate of term 3.
  c.Heal();
  c.Cut(1, 3);
  ExpectTheHeldVoteElectsNoSecondLeader(c, held[0], 3, 3);
}

// Open (session 14 review): the same with five voters and two wiped (within what five replicas
// should survive): 5's earlier self campaigned into term 3 and only 4's earlier self voted for
// it (that answer still in flight); both lose their data, learn term 2 and recover. 1 is then
// elected for term 3 by {1, 2, 4}, and the new 5 by {5, 3} plus the earlier 4's answer.
TEST(RaftRecoveryOpenTest, DISABLED_FiveVotersTwoWipedHoldersOfATermElectTwoLeaders) {
  std::set<NodeId> wiped;
  TestCluster c(5, [&](Config& cfg) { cfg.recovering = wiped.count(cfg.id) > 0; });
  c.Elect(1);  // term 2
  ASSERT_TRUE(c.raft(1).Propose("a").ok());
  c.Stabilize();
  auto pause1 = [&] {
    for (NodeId id : {2, 3, 4, 5}) c.Cut(1, id);
    TickOnly(c, {2, 3, 4, 5});
    for (NodeId id : {2, 3, 4, 5}) ASSERT_EQ(c.raft(id).role(), Role::kFollower) << id;
  };
  pause1();
  std::vector<Message> held;
  c.drop = [&, hold = Hold(4, 5, MessageType::kVoteResp, &held)](
               const Message& m) {
    if (hold(m)) return true;
    return m.from == 5 && (m.to == 2 || m.to == 3) && m.type == MessageType::kVote;
  };
  c.raft(5).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(5).role(), Role::kCandidate);
  ASSERT_EQ(c.raft(5).term(), 3u);
  ASSERT_EQ(held.size(), 1u);
  ASSERT_FALSE(held[0].reject);
  for (NodeId id : {1, 2, 3}) ASSERT_EQ(c.raft(id).term(), 2u) << id;
  ConfState cs;
  cs.voters = {1, 2, 3, 4, 5};
  for (NodeId id : {4, 5}) {  // both lose their data
    wiped.insert(id);
    RestartOn(c, id, MemoryStorage::WithSnapshot(1, 1, cs));
  }
  c.drop = nullptr;
  c.Heal();
  for (int i = 0; i < 20; i++) c.TickAll();
  ASSERT_EQ(c.raft(1).role(), Role::kLeader);
  ASSERT_EQ(c.raft(1).term(), 2u);
  for (NodeId id : {4, 5}) ASSERT_FALSE(c.raft(id).recovering()) << id;
  pause1();
  // 5 campaigns; only 3 gets its vote request.
  c.drop = [&](const Message& m) {
    return m.from == 5 && (m.to == 2 || m.to == 4) && m.type == MessageType::kVote;
  };
  c.raft(5).Campaign();
  c.Stabilize();
  ASSERT_EQ(c.raft(5).role(), Role::kCandidate);
  ASSERT_EQ(c.raft(5).term(), 3u);
  c.drop = nullptr;
  // 1 steps down, and {1, 2, 4} elect it for term 3; it commits "x".
  for (int i = 0; i < 20; i++) c.raft(1).Tick();
  c.Stabilize();
  ASSERT_EQ(c.raft(1).role(), Role::kFollower);
  c.Heal();
  for (NodeId a : {1, 2, 4})
    for (NodeId b : {3, 5}) c.Cut(a, b);
  ASSERT_NO_FATAL_FAILURE(LeadsTerm3AndCommits(c, 1, "x"));
  // The earlier 4's vote reaches the new 5.
  c.Heal();
  c.Cut(1, 5);
  ExpectTheHeldVoteElectsNoSecondLeader(c, held[0], 5, 5);
}

}  // namespace
}  // namespace flin::raft

