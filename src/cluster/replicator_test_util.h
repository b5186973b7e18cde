#pragma once
// For GoogleTest tests that propose through a Replicator: a CompletionSink that counts the
// answers it got, and waits (10 s at most) until there are enough. Test code only.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "cluster/replicator.h"

namespace flin::cluster::testing {

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

}  // namespace flin::cluster::testing
