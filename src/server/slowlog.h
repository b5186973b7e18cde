#pragma once
// SlowLog: the commands that took at least slowlog-log-slower-than microseconds, newest first,
// at most slowlog-max-len of them (SLOWLOG GET / LEN / RESET, as Redis's).
//
// What "took" means in Flin, where a command may run in three places (a transaction's log
// entry shows as flin.exec, active expiry's as flin.expired, without their arguments):
//   - answered on its I/O thread (reads, errors, connection commands): the time it ran there,
//     as INFO commandstats counts it;
//   - handed to the background worker (DBSIZE, KEYS, large LCS): the time the work ran there;
//   - applied from the log (writes, and reads that go through it): the time its apply took,
//     on the thread that applies (the raft thread of a cluster node, on every replica). The
//     client is not known there: its address and name are empty. The wait for the log's
//     write and fsync is not counted, as Redis does not count its own I/O.
// Arguments are kept as Redis keeps them: at most 32 (the last one then says how many more
// there were), each cut at 128 bytes (saying how many more bytes it had); AUTH's and HELLO's
// passwords and CONFIG SET requirepass's value are kept as "(redacted)".
//
// Threading: Record, Get, Len and Reset from any thread (one mutex, taken only for a command
// at or above the threshold, and by SLOWLOG itself).

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "server/command.h"

namespace flin::server {

class SlowLog {
 public:
  struct Entry {
    uint64_t id = 0;
    int64_t unix_s = 0;
    int64_t usec = 0;
    std::vector<std::string> args;
    std::string addr, name;
  };

  // Whether a command of `usec` is to be recorded under threshold `slower_than` (negative: no
  // command is; 0: every one).
  static bool Slow(int64_t usec, int64_t slower_than) {
    return slower_than >= 0 && usec >= slower_than;
  }
  // Adds an entry (args as the client sent them; args[0] the command's name), dropping the
  // oldest beyond max_len.
  void Record(int64_t usec, Args args, std::string_view addr, std::string_view name,
              int64_t max_len);
  // The newest `count` entries (all of them for a negative count), newest first.
  std::vector<Entry> Get(int64_t count) const;
  size_t Len() const;
  void Reset();

 private:
  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // newest first
  uint64_t next_id_ = 0;
};

}  // namespace flin::server
