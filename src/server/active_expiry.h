#pragma once
// ActiveExpiry: finds keys whose expiry has passed and has them deleted through the log
// (Redis's active expiry; reads already treat such keys as absent, and compaction drops them
// once the apply clock passes their expiry, so this only reclaims space sooner).
//
// Each Cycle() examines the next slice of the keyspace, resuming where the last one stopped,
// and proposes, per partition, one internal `flin.expired key at ...` command naming the keys
// it found expired (the command deletes a key only if it still has that expiry, so deletions
// happen in log order like any write and alike on every replica). Only partitions this node
// leads are examined: a follower deletes when it applies its leader's command; the keys of
// other partitions are skipped with one seek.
//
// It sleeps while there is nothing to find. A pass is a walk from the first data key to the
// last; once a whole pass saw no key with an expiry, no write stored one since the pass began
// (Store::volatile_writes, counted after the value is readable) and leadership did not change
// meanwhile, no key with an expiry exists in the partitions this node leads. Cycles then
// return at once until a write stores an expiry or leadership changes. Without this the
// cycle read 20 K keys/s of a store holding none to expire: 6% of a cluster node's CPU.
//
// Ownership: borrows the Store. Threading: one thread (the server's main loop).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/store.h"

namespace flin::server {

class ActiveExpiry {
 public:
  struct Hooks {
    // The term in which this node leads `partition`, 0 if it does not lead it (a single node
    // leads every partition in a term that never changes).
    std::function<uint64_t(int partition)> leader_term;
    // Submits an encoded command to `partition`'s log; a refusal is fine (a later pass finds
    // the keys again).
    std::function<void(int partition, std::string command)> propose;
  };
  static constexpr int kScanPerCycle = 2000;  // keys examined per cycle at most

  ActiveExpiry(storage::Store* store, int partitions, Hooks hooks);

  void Cycle(int64_t now_ms);

  // For tests and INFO: keys examined so far; whether cycles are sleeping.
  uint64_t scanned() const { return scanned_; }
  bool sleeping() const { return sleeping_; }

 private:
  void ReadTerms(std::vector<uint64_t>* out) const;
  // The first partition >= from that this node leads (in terms_), or partitions_ if none.
  int NextLed(int from) const;
  void StartPass();
  void EndPass();
  // No write stored an expiry and leadership (terms_, read this cycle) did not move since
  // the current pass (or the pass before the sleep) began.
  bool UnchangedSincePassBegan() const;

  storage::Store* store_;
  int partitions_;
  Hooks hooks_;
  std::vector<uint64_t> terms_;  // leader_term of every partition, read this cycle

  bool sleeping_ = false;
  bool in_pass_ = false;
  std::string cursor_;              // where the pass resumes (a data key)
  uint64_t pass_writes_ = 0;        // Store::volatile_writes() when the pass (or sleep) began
  std::vector<uint64_t> pass_terms_;  // leadership when the pass (or sleep) began
  bool pass_conclusive_ = true;     // the pass saw no key with an expiry (nor a read error)
  uint64_t scanned_ = 0;
};

}  // namespace flin::server
