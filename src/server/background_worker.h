#pragma once
// BackgroundWorker: one thread that runs commands whose cost grows with the data (DBSIZE,
// KEYS, INFO keyspace: each walks every key), so that they do not hold up the other clients
// of the I/O thread they arrived on. On 10 M keys such a walk takes seconds; on the I/O
// thread it stalled every connection there for as long. The command's reply still takes its
// place in its connection's reply order (CommandContext::Offload).
//
// Bounded: at most kMaxQueued tasks wait; Reserve() refuses beyond (the command then gets an
// error at once). Stop() drops what has not started and joins the thread.
//
// Threading: Reserve/Submit from any thread; Stop from the owner. Ownership: owns its thread
// and the queued tasks.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace flin::server {

class BackgroundWorker {
 public:
  static constexpr size_t kMaxQueued = 256;

  BackgroundWorker();
  ~BackgroundWorker();  // Stop()s
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  // Takes a place in the queue for one Submit(); false if the queue is full or stopped.
  bool Reserve();
  // Runs `task` on the worker thread, in a place taken by Reserve(). After Stop() the task is
  // dropped unrun.
  void Submit(std::function<void()> task);
  // Drops the tasks not yet started, waits for the running one. Idempotent.
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  size_t reserved_ = 0;                      // guarded by mu_: places taken, tasks not yet run
  bool stopping_ = false;                    // guarded by mu_
  std::thread thread_;
};

}  // namespace flin::server
