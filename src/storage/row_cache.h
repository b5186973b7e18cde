#pragma once
// RowCache: RocksDB's latest answer for recently read data keys — the raw value, or "absent" —
// kept in memory in front of the store, so a hot GET is a hash lookup instead of a memtable
// skiplist search (~3 µs at 100 K keys: the largest user-space cost of a GET under perf).
//
// Contract: a lookup returns what RocksDB itself would have returned at some instant during
// the call, so reads through the cache stay linearizable (once any reader has seen a write, no
// reader that starts later sees what it replaced). Every write of data keys must be bracketed
// by BeginWrite / EndWrite around the RocksDB write (Store::Write does this):
//   - BeginWrite hides the keys' entries and marks their stripes "write in flight"; a hidden
//     entry answers as a miss and nothing is added to a marked stripe, so during the write
//     those keys are read from RocksDB, whose reads are atomic. The old value can thus not be
//     seen once the new one could be.
//   - EndWrite gives a hidden entry the value just written (RocksDB's answer from now on), or
//     drops it if the write failed, and lifts the mark. A reader that missed earlier and then
//     read RocksDB may hold the old value; Fill adds it only if the stripe's version — bumped
//     by every Begin and End — is the one its miss saw.
// Writes must not overlap (one BeginWrite..EndWrite at a time; Store::Write serializes them):
// EndWrite leaves the values in the order of its set, which must be the order RocksDB applied.
// Readers create entries after a miss (Fill), evicting if need be. A write updates the entries
// that exist and adds its keys only while their stripe has room to spare (a bulk load is then
// cached), so a write-only workload does not churn the cache, while read-modify-write (INCR)
// and read-after-write keep hitting; a put marked not to admit adds nothing.
// Bounded: at most `capacity_bytes` in total (key + value + a fixed per-entry overhead); within
// each stripe eviction is CLOCK (oldest first, but an entry read since the hand last passed it
// gets a second chance). Capacity 0 disables the cache.
// Threading: every method from any thread; each stripe's mutex guards its entries, and no
// method holds two stripes' mutexes at once.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace flin::storage {

class RowCache {
 public:
  static constexpr int kStripes = 256;
  // Charged per entry on top of its key and value: the entry, its map node and list links.
  static constexpr size_t kEntryOverhead = 160;

  explicit RowCache(size_t capacity_bytes);
  ~RowCache();
  RowCache(const RowCache&) = delete;
  RowCache& operator=(const RowCache&) = delete;

  bool enabled() const { return capacity_ > 0; }
  struct Entry;  // opaque

  // What a miss saw; Fill needs it.
  struct Ticket {
    int stripe = 0;
    uint64_t version = 0;
    bool may_fill = false;
  };
  enum class Hit { kValue, kAbsent, kMiss };
  // kValue: *raw holds the cached value. kAbsent: RocksDB had no such key. kMiss: read RocksDB
  // and hand its answer to Fill with *ticket.
  Hit Lookup(std::string_view key, std::string* raw, Ticket* ticket);
  // RocksDB's answer after a miss: the value, or nullptr if it had none. Dropped if a write of
  // the stripe began or ended since the miss.
  void Fill(std::string_view key, const std::string* raw, const Ticket& ticket);

  // What a write does to data keys, in order: puts (with the raw value) and deletions, or
  // "everything" (a range deletion). Borrows the keys and values: valid until EndWrite.
  // admit=false: the put updates the key's entry if there is one but adds none.
  class WriteSet {
   public:
    void Put(std::string_view key, std::string_view raw, bool admit = true) {
      ops_.push_back({key, raw, true, admit});
    }
    void Delete(std::string_view key) { ops_.push_back({key, {}, false, false}); }
    void AddAll() { all_ = true; }
    bool empty() const { return ops_.empty() && !all_; }

   private:
    friend class RowCache;
    struct Op {
      std::string_view key, raw;
      bool present;
      bool admit;  // may add an entry
    };
    std::vector<Op> ops_;
    bool all_ = false;
    // Filled by BeginWrite for EndWrite: each op's stripe and the entry it hid (if any).
    struct Pin {
      int stripe;
      Entry* entry;
    };
    mutable std::vector<Pin> pins_;
  };
  void BeginWrite(const WriteSet& w);
  // written: the write reached RocksDB, which now holds the set's values. Otherwise the entries
  // of its keys are dropped.
  void EndWrite(const WriteSet& w, bool written);

  struct Stats {
    uint64_t hits = 0, misses = 0, entries = 0, bytes = 0;
  };
  Stats GetStats() const;
  size_t capacity() const { return capacity_; }

 private:
  struct Stripe;
  static int StripeOf(size_t hash);  // of HashOf(key)
  void MarkAll(int delta);

  const size_t capacity_;
  std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace flin::storage
