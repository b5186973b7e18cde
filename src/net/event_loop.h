#pragma once
// EventLoop: one epoll loop on one thread — the unit of Flin's I/O threading.
//
// Each I/O thread runs one loop that owns its connections; nothing else touches them. Other
// threads talk to a loop only through Post(), which queues a task and wakes the loop through
// an eventfd. Timers are coarse (the epoll_wait timeout), which suffices for idle timeouts and
// periodic housekeeping.
//
// Each round: wait, run the tasks posted so far, dispatch the events, run the tasks posted
// meanwhile, the timers that are due, and the BeforeWait hook. Once an fd is Remove()d its
// handler gets no further event, not even one the current wait already returned (a task or
// an earlier handler of the round may close it), so a handler may be deleted as soon as it has
// Remove()d its fd and returned. (A handler watches one fd.)
//
// Threading: Post(), Stop() and InLoopThread() from any thread; everything else only on the
// loop's thread (or before Run()). Ownership: the loop borrows its handlers; a handler must
// Remove() its fd before it dies.

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace flin::net {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  // `events` is the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, ...).
  virtual void OnEvent(uint32_t events) = 0;
};

class EventLoop {
 public:
  using Task = std::function<void()>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until Stop(); returns after running the tasks posted before Stop().
  void Run();
  void Stop();
  // Queues `task` to run on the loop's thread. Never blocks for long: the queue is a vector
  // swapped out by the loop. Callers bound what they post (see the users' contracts).
  void Post(Task task);
  bool InLoopThread() const { return std::this_thread::get_id() == thread_id_; }

  bool Add(int fd, uint32_t events, EventHandler* handler);
  bool Modify(int fd, uint32_t events, EventHandler* handler);
  void Remove(int fd);

  // Calls `fn` about every `period_ms` on the loop's thread.
  void RunEvery(int period_ms, std::function<void()> fn);
  // Calls `fn` on the loop's thread after each round of events, tasks and timers, before it
  // waits again (to hand on, at once, what the round produced). Set before Run().
  void BeforeWait(std::function<void()> fn) { before_wait_ = std::move(fn); }

 private:
  void RunTasks();
  void RunTimers();

  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread::id thread_id_;
  std::mutex mu_;
  std::vector<Task> tasks_;  // guarded by mu_
  std::vector<Task> running_;
  struct Timer {
    int period_ms;
    int64_t next_ms;
    std::function<void()> fn;
  };
  std::vector<Timer> timers_;
  std::function<void()> before_wait_;
  std::unordered_map<int, EventHandler*> handlers_;  // by fd, for Remove
  epoll_event* batch_ = nullptr;  // the current wait's events, while they are dispatched
  int batch_size_ = 0;
};

int64_t MonotonicMs();
int64_t MonotonicUs();

}  // namespace flin::net
