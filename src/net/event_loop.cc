#include "net/event_loop.h"

#include <algorithm>

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace flin::net {

int64_t MonotonicUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
int64_t MonotonicMs() { return MonotonicUs() / 1000; }


EventLoop::EventLoop() : thread_id_(std::this_thread::get_id()) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epfd_ < 0 || wakefd_ < 0) {
    perror("flin: epoll/eventfd");
    abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake fd
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
}

EventLoop::~EventLoop() {
  close(wakefd_);
  close(epfd_);
}

void EventLoop::Run() {
  thread_id_ = std::this_thread::get_id();
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (!stop_.load(std::memory_order_acquire)) {
    int timeout = -1;
    if (!timers_.empty()) {
      int64_t now = MonotonicMs();
      int64_t next = timers_[0].next_ms;
      for (const auto& t : timers_) next = std::min(next, t.next_ms);
      timeout = static_cast<int>(std::max<int64_t>(0, next - now));
    }
    int n = epoll_wait(epfd_, events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      perror("flin: epoll_wait");
      abort();
    }
    // Tasks posted before these events came go first: a reply or message another thread
    // handed this loop (a completion, an invalidation) was due before any request that
    // arrived meanwhile is answered (tracking.h counts on it). They may close handlers whose
    // events are in this batch: Remove() takes those out (batch_).
    batch_ = events;
    batch_size_ = std::max(n, 0);
    RunTasks();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == this) continue;  // Remove()d during this round
      if (events[i].data.ptr == nullptr) {
        uint64_t v;  // one read takes the whole count
        ssize_t r = read(wakefd_, &v, sizeof(v));
        (void)r;
        continue;
      }
      static_cast<EventHandler*>(events[i].data.ptr)->OnEvent(events[i].events);
    }
    batch_size_ = 0;
    RunTasks();
    if (!timers_.empty()) RunTimers();
    if (before_wait_) before_wait_();
  }
  RunTasks();
  if (before_wait_) before_wait_();
}

void EventLoop::Stop() {
  stop_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t r = write(wakefd_, &one, sizeof(one));
  (void)r;
}

void EventLoop::Post(Task task) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  if (was_empty) {
    uint64_t one = 1;
    ssize_t r = write(wakefd_, &one, sizeof(one));
    (void)r;
  }
}

void EventLoop::RunTasks() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (tasks_.empty()) return;
    running_.swap(tasks_);
  }
  for (auto& t : running_) t();
  running_.clear();
}

void EventLoop::RunTimers() {
  int64_t now = MonotonicMs();
  for (size_t i = 0; i < timers_.size(); ++i) {
    if (timers_[i].next_ms <= now) {
      timers_[i].next_ms = now + timers_[i].period_ms;
      timers_[i].fn();  // may not add timers
    }
  }
}

bool EventLoop::Add(int fd, uint32_t events, EventHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  handlers_[fd] = handler;
  return true;
}

bool EventLoop::Modify(int fd, uint32_t events, EventHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) return false;
  handlers_[fd] = handler;
  return true;
}

void EventLoop::Remove(int fd) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  auto it = handlers_.find(fd);
  if (it == handlers_.end()) return;
  // Events of this round not dispatched yet go nowhere (marked with the loop itself).
  for (int i = 0; i < batch_size_; ++i) {
    if (batch_[i].data.ptr == it->second) batch_[i].data.ptr = this;
  }
  handlers_.erase(it);
}

void EventLoop::RunEvery(int period_ms, std::function<void()> fn) {
  timers_.push_back(Timer{period_ms, MonotonicMs() + period_ms, std::move(fn)});
}

}  // namespace flin::net
