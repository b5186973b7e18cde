#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace flin::server {

// SCAN cursors: Redis clients treat a cursor as an opaque number, but our keys are ordered
// byte strings, so a cursor names an entry here holding the key to resume from. A cursor is
// (partition of that key + 1) << 38 | the low 38 bits of the entry's id (ids count up from 1,
// and only the latest id with given low bits can still be held): below 2^52 with 16384
// partitions, exact even for clients that read numbers as doubles. Bounded
// in entries (kMax) and in the bytes of the keys held (kMaxBytes, besides the newest entry):
// past either, the oldest entries go. A cursor whose entry is gone (pushed out by other
// scans, or given before a restart) resumes at the start of its partition: keys of that
// partition may come twice, none is missed (SCAN's promise), and no client gets an error for
// a cursor it was given. Any thread.
class ScanCursors {
 public:
  static constexpr size_t kMax = 1 << 16;
  static constexpr size_t kMaxBytes = 64u << 20;
  static constexpr int kSeqBits = 38;  // of the entry's id in the cursor
  static constexpr uint64_t kSeqMask = (uint64_t{1} << kSeqBits) - 1;
  // resume_key: a storage key (storage/encoding.h) of the given partition.
  uint64_t Save(int partition, std::string resume_key);
  // The storage key to resume cursor (not 0) from: the saved key, or the start of the
  // cursor's partition, or "" (the beginning) for a number this server never gave out.
  std::string Load(uint64_t cursor, int partitions);

 private:
  struct Entry {
    uint64_t cursor;
    std::string key;
  };
  std::mutex mu_;
  uint64_t next_ = 1;
  std::map<uint64_t, Entry> cursors_;  // by id (next_ when saved): oldest first
  size_t bytes_ = 0;
};

}  // namespace flin::server
