#include "server/background_worker.h"

#include <pthread.h>

namespace flin::server {

BackgroundWorker::BackgroundWorker() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "flin-bg");
    Loop();
  });
}

BackgroundWorker::~BackgroundWorker() { Stop(); }

bool BackgroundWorker::Reserve() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || reserved_ >= kMaxQueued) return false;
  ++reserved_;
  return true;
}

void BackgroundWorker::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void BackgroundWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    tasks_.clear();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void BackgroundWorker::Loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
    std::lock_guard<std::mutex> lock(mu_);
    --reserved_;
  }
}

}  // namespace flin::server
