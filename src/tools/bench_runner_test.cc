// BenchThread against a real redis-server: every request is counted once, errors are counted
// and never retried, and a dead server ends the run with its in-flight requests lost.

#include "tools/bench_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "client/test_server.h"

namespace flin::bench {
namespace {

struct RunTotals {
  ThreadResult result;
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t recorded = 0;
};

class BenchRunnerTest : public ::testing::Test {
 protected:
  void StartServer(const std::vector<std::string>& extra) {
    std::string why;
    server_ = testing::TestServer::Start(testing::ServerKind::kRedis, extra, &why);
    if (!server_) GTEST_SKIP() << why;
    options_.port = server_->port();
    options_.connections = 4;
    options_.pipeline = 8;
    options_.keyspace = 1000;
  }

  // Connects one thread's clients; kill_first stops the server before the run starts; `stop`
  // is the plan's stop flag (RunPlan::stop).
  RunTotals RunRequests(int64_t requests, bool kill_first = false,
                        const std::atomic<bool>* stop = nullptr) {
    Result<Topology> topology = LoadTopology(options_);
    EXPECT_TRUE(topology.ok()) << topology.status().ToString();
    Progress progress;
    BenchThread thread(options_, *topology, nullptr, 0, 1, options_.connections, &progress);
    Status s = thread.Connect();
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (kill_first) server_->Kill();
    RunPlan plan;
    plan.measure_start = Clock::now();
    plan.end = Clock::time_point::max();
    plan.quota = requests;
    plan.stop = stop;
    thread.Run(plan);
    RunTotals run{thread.result()};
    for (int op = 0; op < kOpCount; ++op) {
      run.ok += run.result.ok[op];
      run.errors += run.result.errors[op];
      run.recorded += run.result.histograms[op].count();
    }
    return run;
  }

  BenchOptions options_;
  std::unique_ptr<testing::TestServer> server_;
};

TEST_F(BenchRunnerTest, EveryRequestIsCountedOnce) {
  StartServer({});
  options_.mix = {{Op::kGet, 1}, {Op::kSet, 1}, {Op::kIncr, 1}, {Op::kMset, 1},
                  {Op::kMget, 1}, {Op::kPing, 1}};
  RunTotals run = RunRequests(3000);
  EXPECT_EQ(run.ok, 3000u);
  EXPECT_EQ(run.errors, 0u) << run.result.first_error;
  EXPECT_EQ(run.recorded, 3000u);
  EXPECT_GT(run.result.ok[static_cast<int>(Op::kMset)], 0u);
}

TEST_F(BenchRunnerTest, ErrorRepliesAreCountedNotRetried) {
  StartServer({"--requirepass", "secret"});  // every command is refused with NOAUTH
  options_.mix = {{Op::kGet, 1}};
  RunTotals run = RunRequests(500);
  EXPECT_EQ(run.ok, 0u);
  EXPECT_EQ(run.errors, 500u);
  EXPECT_EQ(run.recorded, 0u);
  EXPECT_TRUE(run.result.first_error.starts_with("NOAUTH")) << run.result.first_error;
}

TEST_F(BenchRunnerTest, DeadServerEndsTheRunWithRequestsLost) {
  StartServer({});
  options_.mix = {{Op::kSet, 1}};
  RunTotals run = RunRequests(1000000, /*kill_first=*/true);
  EXPECT_EQ(run.ok, 0u);
  // Each client had its pipeline's worth in flight when its connection failed.
  EXPECT_EQ(run.result.lost, static_cast<uint64_t>(options_.connections * options_.pipeline));
  EXPECT_EQ(run.errors, run.result.lost);
  EXPECT_FALSE(run.result.first_error.empty());
}

// flin-bench's SIGINT/SIGTERM: the run stops sending, and what was sent is answered and
// counted once (nothing in flight is lost or counted as an error).
TEST_F(BenchRunnerTest, AStopRequestEndsTheRunAndCountsWhatWasSent) {
  StartServer({});
  options_.mix = {{Op::kSet, 1}};
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.store(true);
  });
  RunTotals run = RunRequests(1'000'000'000, /*kill_first=*/false, &stop);  // ends by the stop
  stopper.join();
  EXPECT_GT(run.ok, 0u);
  EXPECT_LT(run.ok, 1'000'000'000u);
  EXPECT_EQ(run.errors, 0u) << run.result.first_error;
  EXPECT_EQ(run.result.lost, 0u);
  EXPECT_EQ(run.recorded, run.ok);
}

}  // namespace
}  // namespace flin::bench
