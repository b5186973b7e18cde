#pragma once
// The data of a partition snapshot, as GroupStorage builds it and streams it to a follower:
// an optional header (u32 kSnapshotHeader, u64 the partition's clock: the newest entry
// timestamp it covers; data of earlier versions has none), then records (u32 key length, key,
// u32 value length, value; u32 little-endian, u64 big-endian), keys strictly ascending, each
// value one Flin stores (storage/encoding.h).
//
// ParseSnapshotData checks and walks data held whole. SnapshotStream does the same for data
// that arrives in pieces (a follower's chunks, in order, staged in a file), so that a large
// partition is checked and written out as it comes rather than all at once, on the raft
// thread, when its last chunk is in. Both accept exactly the same data. Not thread-safe.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace flin::cluster {

inline void PutU64(std::string* s, uint64_t v) {
  for (int i = 7; i >= 0; --i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline uint64_t GetU64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(s.size()); ++i) {
    v = (v << 8) | static_cast<uint8_t>(s[i]);
  }
  return v;
}
inline void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline bool GetU32(std::string_view s, size_t* pos, uint32_t* v) {
  if (s.size() - *pos < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; ++i) *v |= static_cast<uint32_t>(static_cast<uint8_t>(s[*pos + i])) << (8 * i);
  *pos += 4;
  return true;
}

// Starts snapshot data that carries a header; never a record's key length (keys are far
// shorter than 4 GiB).
constexpr uint32_t kSnapshotHeader = 0xffffffffu;

// A record's key and value each hold at most this many bytes (max-value-bytes is at most
// 1 GiB; a stored value adds a few bytes of encoding). A longer length is refused at once,
// so that a damaged length cannot make a stream wait, buffering, for data that never comes.
constexpr uint32_t kMaxSnapshotField = (1u << 30) + 4096;

// Called with each record's key (without the partition prefix) and value, in order; an error
// stops the walk and is returned.
using SnapshotRecordFn = std::function<Status(std::string_view key, std::string_view value)>;

// The clock in the header (0 without one).
int64_t SnapshotClock(std::string_view data);
// Checks the whole of `data` and hands each record to `each` (may be null).
Status ParseSnapshotData(std::string_view data, const SnapshotRecordFn& each);

class SnapshotStream {
 public:
  // `window` is the data from the first byte not consumed yet (consumed()) to the end of what
  // has arrived so far. The complete records at its start are checked, handed to `each` (may
  // be null) in order, and consumed; an incomplete one is left for the next call, which passes
  // it again with more. Nothing is copied or held here: the caller keeps the bytes (a staged
  // file), so a large record costs no memory while it arrives. An error (malformed data, or
  // one from `each`) is kept: this and every later call return it.
  Status Consume(std::string_view window, const SnapshotRecordFn& each);
  // Ok if data of `total` bytes, of which this stream has consumed what it could, is whole
  // and well formed: what ParseSnapshotData would say of it.
  Status Finish(uint64_t total) const;
  uint64_t consumed() const { return consumed_; }
  int64_t clock() const { return clock_; }
  bool failed() const { return !error_.ok(); }  // an error was met (kept)

 private:
  uint64_t consumed_ = 0;
  bool header_checked_ = false;
  int64_t clock_ = 0;
  std::string prev_key_;
  bool any_ = false;
  Status error_;
};

}  // namespace flin::cluster
