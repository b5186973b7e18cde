// SingleNodeReplicator: group commit through the WAL, entry timestamps that never go back.

#include "cluster/single_node.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "protocol/reply_writer.h"
#include "storage/temp_store.h"

namespace flin::cluster {
namespace {

// Records the timestamp every command was applied at, and answers +OK.
class ClockRecorder : public StateMachine {
 public:
  void Apply(storage::WriteTxn&, int, int64_t now_ms, std::string_view,
             protocol::ReplyWriter* reply) override {
    stamps.push_back(now_ms);
    if (reply) reply->Ok();
  }
  std::vector<int64_t> stamps;  // apply thread; read after Stop()
};

class Waiter : public CompletionSink {
 public:
  void Complete(std::vector<Completion>&& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ += batch.size();
    cv_.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t done_ = 0;
};

class SingleNodeTest : public storage::TempStoreTest {
 protected:
  // Runs n proposals through a fresh replicator; returns the timestamps they were applied at.
  std::vector<int64_t> Run(int n) {
    ClockRecorder sm;
    Waiter waiter;
    SingleNodeReplicator rep(store_.get(), &sm, SingleNodeOptions{});
    EXPECT_TRUE(rep.Start().ok());
    for (int i = 0; i < n; ++i) {
      Proposal p;
      p.partition = 0;
      p.command = "x";
      p.sink = &waiter;
      p.seq = static_cast<uint64_t>(i);
      EXPECT_TRUE(rep.Propose(std::move(p)).ok());
    }
    EXPECT_TRUE(waiter.WaitFor(n));
    rep.Stop();
    return sm.stamps;
  }
};

TEST_F(SingleNodeTest, TimestampsNeverGoBackAcrossARestart) {
  // The last run applied entries an hour ahead of this machine's clock (its clock was then
  // set back, or it ran ahead): after a restart, entries must not be stamped earlier.
  std::vector<int64_t> first = Run(3);
  ASSERT_EQ(first.size(), 3u);
  const int64_t ahead = UnixMs() + 3600 * 1000;
  rocksdb::WriteOptions wo;
  ASSERT_TRUE(store_->db()->Put(wo, SingleNodeReplicator::ClockKey(), std::to_string(ahead)).ok());
  Reopen();
  std::vector<int64_t> second = Run(2);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_GE(second.front(), ahead);
  // And reads judge expiry by that clock too.
  EXPECT_GE(store_->ApplyClock(0), ahead);
}

TEST_F(SingleNodeTest, EachBatchRemembersItsClock) {
  std::vector<int64_t> stamps = Run(5);
  ASSERT_EQ(stamps.size(), 5u);
  Reopen();
  EXPECT_GE(SingleNodeReplicator::PersistedClock(store_.get()), stamps.back());
}

}  // namespace
}  // namespace flin::cluster
