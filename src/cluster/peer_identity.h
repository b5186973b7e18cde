#pragma once
// PeerIdentity: which data directory each node of the cluster runs on, so that a node restarted
// on an empty data directory learns that it lost its Raft state and rejoins recovering
// (raft::Config::recovering) instead of voting as if it had never promised anything — which can
// lose acknowledged writes (raft_test's AWipedReplicaThatVotesLosesACommittedEntry).
//
// Every data directory gets a random 64-bit incarnation when it is created. A node's bus
// handshakes carry it, and what the dialer remembers of the receiver's (transport_frame.h). A
// node remembers each peer's incarnation (persisted), and, once it changed, that the current
// one replaced another. A node on a fresh data directory starts UNRESOLVED (persisted until
// resolved; its partitions recovering meanwhile) and learns from its peers' handshakes which
// case it is in:
//   - a REPLACEMENT: a peer remembers another incarnation of it, or this one as a replacement.
//     Its partitions stay recovering, each until it holds a committed entry of its term.
//   - a NEW member: resolved peers that, with itself, make a majority of the nodes never met it
//     (or met this incarnation as an original: it restarted before resolving) — or every other
//     node did, resolved or not. Nothing was lost.
// Unresolved peers' word counts only when every node has spoken: two nodes wiped together
// would otherwise vouch for each other before the survivor's handshake arrived. Nor does the
// word of a peer whose own memory began after a loss (it replaced a lost directory, or was
// started on an older copy; remembered for good): of two nodes wiped together, the one that
// heard from the survivor first is resolved, yet its "never met you" meant nothing, and the
// other took itself for new and voted (session 15, tests/test_cluster.py's two wiped nodes).
// So a cluster's first start resolves once every node is up (then within a round trip). The
// assumption: a node that made promises (votes, acknowledgements) talked to a peer, and at
// least one of the peers that can vouch, heard before a majority remembers it, does — in a
// cluster of 3, either survivor. The price: where every node has lost its state once, a
// fresh node resolves only once every node has spoken.
//
// Threading: OnHandshake and MemoryOf run on the transport thread, the rest anywhere; a mutex
// guards the state. Ownership: borrows the store (which must outlive it).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cluster/transport_frame.h"
#include "common/status.h"
#include "storage/store.h"

namespace flin::cluster {

class PeerIdentity {
 public:
  enum class Verdict { kResolved, kUnresolved, kNew, kReplacement };

  // Loads (or, for a data directory without one, creates) this node's incarnation and what it
  // remembers of its peers. A directory with neither an incarnation nor any Raft hard state is
  // fresh: it starts unresolved (persisted before the incarnation, so a crash in between
  // cannot make it look old). A cluster of one node resolves at once. `nodes`: how many nodes
  // the cluster has, this one included.
  static Result<std::unique_ptr<PeerIdentity>> Open(storage::Store* store, size_t nodes);

  uint64_t incarnation() const { return incarnation_; }
  // Fills the identity fields of the handshake to `peer`: this node's incarnation and whether
  // it is unresolved, the peer's as remembered (0: never met) and whether that one replaced
  // an earlier one.
  void FillHandshake(uint64_t peer, Handshake* h);
  // What `peer` remembers of this node's incarnation, and whether that one replaced another.
  std::pair<uint64_t, bool> MemoryOf(uint64_t peer);
  // A peer's handshake: remembers its incarnation (persisted when new or changed; an error if
  // that write fails — the caller must stop: a forgotten peer could later vouch wrongly) and,
  // while unresolved, weighs what the peer remembers of this node. Returns whether the peer
  // is on a new data directory (it lost its Raft state).
  Result<bool> OnHandshake(uint64_t peer, const Handshake& h);
  // kUnresolved until decided; then kNew or kReplacement until Settle(); then kResolved (also
  // for a data directory that was never fresh).
  Verdict verdict() const;
  // The owner acted on a kNew or kReplacement verdict (its partitions know): resolved for good.
  Status Settle();
  // The data directory is an older copy of itself (a backup the node was started on): takes a
  // new incarnation (persisted), so that peers meet it as a node that lost state and forget
  // what they knew of its logs. The owner marks its partitions recovering.
  Status Reincarnate();
  // A random non-zero id, 63 bits (an incarnation is stored as a signed decimal): new
  // incarnations, and the run id a node's recovering partitions name (raft::Config::run_id).
  static uint64_t RandomId();

  // Where peers were last heard to be, when not where the node list puts them (a peer that
  // moved, topology.h): peer -> "host:port:bus-port", as remembered across restarts, so that a
  // restarted node dials a moved peer there at once rather than waiting for the peer's dial.
  std::map<uint64_t, std::string> Addresses() const { return addresses_; }
  // Remembers (or, for "", forgets) where `peer` is. Not synced, and a failed write is only
  // logged: a lost address costs a wait for the peer's own dial, nothing more.
  void RememberAddress(uint64_t peer, const std::string& address);

 private:
  explicit PeerIdentity(storage::Store* store) : store_(store) {}
  Status Put(const std::string& name, const std::string& value);
  Status Weigh(uint64_t peer, const Handshake& h);  // mu_ held; an error if a write failed
  std::pair<uint64_t, bool> MemoryOfLocked(uint64_t peer) const;  // mu_ held
  Status MarkPartialMemory();  // mu_ held: partial_memory_, persisted (synced)

  storage::Store* store_;
  uint64_t incarnation_ = 0;
  size_t nodes_ = 1;
  std::mutex mu_;
  std::map<uint64_t, std::pair<uint64_t, bool>> known_;  // peer -> (incarnation, replaced)
  // Written under mu_; read without it (the raft thread asks every round).
  std::atomic<Verdict> verdict_{Verdict::kResolved};
  // Peers whose handshake said "never met you" (or "met you as an original"), and whether
  // they were resolved themselves.
  std::map<uint64_t, bool> met_as_new_;
  std::map<uint64_t, std::string> addresses_;  // as loaded by Open()
  // This directory's memory of its peers began after a loss (it replaced a lost one, or is an
  // older copy): its "never met you" proves nothing (Handshake::sender_cannot_vouch).
  bool partial_memory_ = false;  // guarded by mu_
};

}  // namespace flin::cluster
