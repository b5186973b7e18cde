#pragma once
// WarningLimiter: lets a recurring warning into the log at most once per interval, and counts
// the occurrences held back meanwhile, so that a condition that lasts (a full disk, a peer
// sending what it should not) is reported, with how often it happened, without flooding the
// log (which could fill a disk of its own).
//
//   static WarningLimiter limiter;  // one per kind of warning
//   uint64_t held;
//   if (limiter.Allow(net::MonotonicMs(), &held)) LOG_WARNING("... (%llu more since)", held);
//
// Threading: safe from any thread (one mutex). The clock is the caller's (monotonic ms).

#include <cstdint>
#include <mutex>

namespace flin {

class WarningLimiter {
 public:
  explicit WarningLimiter(int64_t interval_ms = 60000) : interval_ms_(interval_ms) {}

  // Records an occurrence at now_ms. True if this one is to be logged (the first ever, or the
  // first an interval after the last logged one); *held_back then gets the number of
  // occurrences not logged since that last one.
  bool Allow(int64_t now_ms, uint64_t* held_back) {
    std::lock_guard<std::mutex> lock(mu_);
    if (logged_ && now_ms - last_ms_ < interval_ms_) {
      ++held_;
      return false;
    }
    logged_ = true;
    last_ms_ = now_ms;
    *held_back = held_;
    held_ = 0;
    return true;
  }

 private:
  const int64_t interval_ms_;
  std::mutex mu_;
  bool logged_ = false;
  int64_t last_ms_ = 0;
  uint64_t held_ = 0;
};

}  // namespace flin
