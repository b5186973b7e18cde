// Runs the deterministic simulation over many seeds, and proves the checkers can fail by
// running it against deliberately broken cores (TestingKnobs).

#include "raft/simulation.h"

#include <gtest/gtest.h>

namespace flin::raft {
namespace {

std::string Report(const SimOptions& o, const SimResult& r) {
  std::string s = "seed " + std::to_string(o.seed) + ": " + r.failure + "\nlast events:\n";
  for (const auto& line : r.trace) s += line + "\n";
  return s;
}

// Runs seeds [first, first+count) and returns the first failing seed, or 0.
uint64_t FirstFailure(SimOptions o, uint64_t first, uint64_t count, std::string* report) {
  for (uint64_t seed = first; seed < first + count; seed++) {
    o.seed = seed;
    SimResult r = RunSimulation(o);
    if (!r.ok) {
      *report = Report(o, r);
      return seed;
    }
  }
  return 0;
}

TEST(SimulationTest, ManySeedsAreSafeAndLinearizable) {
  std::string report;
  EXPECT_EQ(FirstFailure(SimOptions{}, 1, 300, &report), 0u) << report;
}

TEST(SimulationTest, FiveNodesWithoutMembershipChanges) {
  SimOptions o;
  o.nodes = 5;
  o.membership = false;
  std::string report;
  EXPECT_EQ(FirstFailure(o, 1001, 60, &report), 0u) << report;
}

// Liveness (SimOptions::settle_ms): faults stop, every node restarts, and within 3 s of
// virtual time a leader serves and every wiped or restored node has recovered. Without
// membership changes: a copy whose configuration lists voters removed since never recovers
// (docs/RELIABILITY.md, "Open"; the membership profile fails at seed 25 for that reason).
// Returns the first of 200 seeds that fails, or 0.
uint64_t FirstUnsettled(TestingKnobs knobs, std::string* report) {
  SimOptions o;
  o.membership = false;
  o.settle_ms = 3000;
  o.restore_share = 0.3;
  o.knobs = knobs;
  return FirstFailure(o, 1, 200, report);
}

TEST(SimulationTest, EveryRecoveryEndsOnceFaultsStop) {
  std::string report;
  EXPECT_EQ(FirstUnsettled({}, &report), 0u) << report;
}

TEST(SimulationCatchesBugsTest, LeadersThatDoNotEchoARunLeaveItRecovering) {
  // The settle check can fail: leaders that never echo a recovering replica's run never tell
  // it where its recovery ends.
  TestingKnobs knobs;
  knobs.no_run_echo = true;
  std::string report;
  EXPECT_NE(FirstUnsettled(knobs, &report), 0u);
  EXPECT_NE(report.find("LIVENESS"), std::string::npos) << report;
}

// Partitions whose cut links hold messages until they heal (SimOptions::hold_share, as Flin's
// transport does) and voters that crash right after voting, restarting on an older copy or
// empty (crash_after_vote): the faults behind the two step-1 cases session 14 found by
// analysis (raft_test's RaftRecoveryTest.AVoteTheEarlierSelfGaveIsLearnedFromItsCandidate
// and ...ADuplicateFromBeforeTheRestartIsNotAnAnswer; against the old rule the simulation
// did not find them in 120,000 seeds, so those tests carry them). Safe, every recovery ends.
TEST(SimulationTest, HeldLinksAndVotersLostRightAfterVoting) {
  SimOptions o;
  o.nodes = 5;
  o.membership = false;
  o.hold_share = 0.7;
  o.crash_after_vote = 0.3;
  o.restore_share = 0.5;
  o.settle_ms = 3000;
  std::string report;
  EXPECT_EQ(FirstFailure(o, 2001, 100, &report), 0u) << report;
}

// Every node accepts data loss (Config::accept_data_loss) while half the restarts come back
// on older copies: each new leader's log holds every node's committed prefix (each unanimous
// win starts a new era for the other checks: what came before may be lost, by design), and
// once faults stop every group elects and every replica recovers. Without membership
// changes: a learner's committed entries are not counted (docs/DESIGN.md). With the rules
// that a loss-accepting vote goes above the term step 1 learned and that a unanimous
// campaign leaps the lost era's terms taken out, `raft_sim --seeds 3000 --accept-data-loss
// --no-membership` fails at seed 1977 (Election Safety), and with --restore-share 0.5 at
// seed 240 (Log Matching).
TEST(SimulationTest, AcceptingDataLossKeepsEveryCopysCommittedEntries) {
  for (int nodes : {3, 5}) {
    SimOptions o;
    o.nodes = nodes;
    o.membership = false;
    o.accept_data_loss = true;
    o.restore_share = 0.5;
    o.settle_ms = 3000;
    std::string report;
    EXPECT_EQ(FirstFailure(o, 1, 100, &report), 0u) << report;
  }
}

TEST(SimulationTest, NoFaultsMakesProgress) {
  SimOptions o;
  o.faults = false;
  o.membership = false;
  o.seed = 7;
  SimResult r = RunSimulation(o);
  ASSERT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.stats.writes_acked, 100u);
  EXPECT_GT(r.stats.reads_done, 100u);
  EXPECT_GT(r.stats.lease_reads_done, 20u);
}

TEST(SimulationTest, SameSeedSameRun) {
  SimOptions o;
  o.seed = 42;
  o.full_trace = true;
  SimResult a = RunSimulation(o), b = RunSimulation(o);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.stats.messages, b.stats.messages);
}

// The profile under which the Figure 8 scenario of the Raft paper shows up quickly: one
// entry per message and leaders crashing right after an election or a commit.
SimOptions Figure8Profile() {
  SimOptions o;
  o.nodes = 3;
  o.membership = false;
  o.max_msg_bytes = 1;
  o.crash_after_commit = 0.5;
  o.crash_after_election = 0.5;
  return o;
}

TEST(SimulationTest, Figure8ProfileIsSafeWithTheCommitRule) {
  std::string report;
  EXPECT_EQ(FirstFailure(Figure8Profile(), 1, 300, &report), 0u) << report;
}

TEST(SimulationCatchesBugsTest, CommittingOldTermEntriesByCounting) {
  SimOptions o = Figure8Profile();
  o.knobs.commit_any_term = true;
  std::string report;
  uint64_t seed = FirstFailure(o, 1, 1000, &report);
  EXPECT_NE(seed, 0u) << "the simulation missed a broken commit rule";
  EXPECT_NE(report.find("Leader Completeness"), std::string::npos) << report;
}

TEST(SimulationCatchesBugsTest, VotingTwiceInATerm) {
  SimOptions o;
  o.knobs.vote_twice = true;
  std::string report;
  EXPECT_NE(FirstFailure(o, 1, 300, &report), 0u) << "the simulation missed double votes";
  EXPECT_NE(report.find("Election Safety"), std::string::npos) << report;
}

TEST(SimulationCatchesBugsTest, AWipedNodeThatVotesAtOnce) {
  // A node restarted on empty storage that is not told it lost its state votes as if it had
  // never promised anything: committed entries are lost (Config::recovering).
  SimOptions o;
  o.wipe_without_recovering = true;
  std::string report;
  EXPECT_NE(FirstFailure(o, 1, 300, &report), 0u) << "the simulation missed a wiped voter";
}

TEST(SimulationCatchesBugsTest, ANodeRestoredFromAnOlderCopyThatVotesAtOnce) {
  // A node started on a backup of its storage that does not recover first votes as if it had
  // not promised what it promised since the copy: committed entries are lost.
  SimOptions o;
  o.restore_share = 0.5;
  o.restore_without_recovering = true;
  std::string report;
  EXPECT_NE(FirstFailure(o, 1, 300, &report), 0u) << "the simulation missed a restored voter";
}

TEST(SimulationCatchesBugsTest, LeaseReadsWithoutCheckQuorum) {
  SimOptions o;
  o.knobs.lease_without_check_quorum = true;
  std::string report;
  EXPECT_NE(FirstFailure(o, 1, 1000, &report), 0u) << "the simulation missed stale lease reads";
  EXPECT_NE(report.find("Linearizability"), std::string::npos) << report;
}

}  // namespace
}  // namespace flin::raft
