#include "server/background_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace flin::server {
namespace {

// A gate a task can wait at until the test opens it (bounded: 10 s).
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return open_; });
  }
  bool WaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

TEST(BackgroundWorkerTest, RunsTasksInOrder) {
  BackgroundWorker worker;
  std::vector<int> order;  // written by the worker only
  Gate done;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(worker.Reserve());
    worker.Submit([&, i] { order.push_back(i); });
  }
  ASSERT_TRUE(worker.Reserve());
  worker.Submit([&] { done.Wait(); });
  ASSERT_TRUE(done.WaitEntered());
  done.Open();
  worker.Stop();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(BackgroundWorkerTest, TheQueueIsBounded) {
  BackgroundWorker worker;
  Gate busy;
  ASSERT_TRUE(worker.Reserve());
  worker.Submit([&] { busy.Wait(); });
  ASSERT_TRUE(busy.WaitEntered());  // running: its place is still taken until it ends
  std::atomic<int> ran{0};
  for (size_t i = 1; i < BackgroundWorker::kMaxQueued; ++i) {
    ASSERT_TRUE(worker.Reserve()) << i;
    worker.Submit([&] { ++ran; });
  }
  EXPECT_FALSE(worker.Reserve());
  busy.Open();
  // Places come back as tasks end.
  bool reserved = false;
  for (int i = 0; i < 10000 && !reserved; ++i) {
    reserved = worker.Reserve();
    if (!reserved) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(reserved);
}

TEST(BackgroundWorkerTest, StopDropsWhatHasNotStartedAndWaitsForTheRest) {
  BackgroundWorker worker;
  Gate busy;
  std::atomic<bool> finished{false}, queued_ran{false};
  ASSERT_TRUE(worker.Reserve());
  worker.Submit([&] {
    busy.Wait();
    finished = true;
  });
  ASSERT_TRUE(busy.WaitEntered());
  ASSERT_TRUE(worker.Reserve());
  worker.Submit([&] { queued_ran = true; });
  std::thread stopper([&] { worker.Stop(); });
  // Stop refuses new places in the same step as it drops the queue: once Reserve fails the
  // queued task is gone, and the running one may end.
  for (int i = 0; i < 10000 && worker.Reserve(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_FALSE(finished);  // Stop is waiting for it
  busy.Open();
  stopper.join();
  EXPECT_TRUE(finished);     // the running task ended before Stop returned
  EXPECT_FALSE(queued_ran);  // the queued one never ran
  worker.Stop();  // idempotent
}

}  // namespace
}  // namespace flin::server
