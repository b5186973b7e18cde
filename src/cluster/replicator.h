#pragma once
// The write path's one interface: log, then apply (DESIGN.md, "the path of a request").
//
// A write command is not executed where it arrives. Its handler checks the syntax, encodes
// the command and Propose()s it; the replicator orders it in a log, makes it durable (per the
// fsync policy; in a cluster, on a majority), then applies it through the StateMachine, on one
// thread, in log order, and sends the reply it produced back to the connection's I/O thread.
// Because every write — INCR, APPEND, SET NX, expiry deletions — runs in log order on the
// apply thread, read-modify-write commands need no locks, and replicas applying the same log
// compute the same state.
//
// Implementations: SingleNodeReplicator (a cluster of one; group commit) and, in a cluster,
// the Multi-Raft node.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/byte_budget.h"
#include "common/status.h"
#include "protocol/reply_writer.h"
#include "storage/write_txn.h"

namespace flin::cluster {

// A reply produced by the apply path for one proposal.
struct Completion {
  uint64_t conn_id = 0;
  uint64_t seq = 0;   // the proposal's sequence number on its connection
  std::string reply;  // RESP bytes, in the protocol the proposal asked for
  // Where a cluster put the write in its log (partition, the entry's term and index), for
  // WAIT; partition -1 otherwise (the single node, errors, reads).
  int partition = -1;
  uint64_t term = 0, index = 0;
};

// Receives completions; implemented by each I/O thread. Called with all of one batch's
// completions for that sink, so the sink is woken once per batch: from the apply (or raft)
// thread, or from the proposing thread itself when it applied the batch inline.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void Complete(std::vector<Completion>&& batch) = 0;
};

// Executes committed commands, one batch at a time, in log order: from the apply (or raft)
// thread, or from an I/O thread applying its own batch inline (SingleNodeReplicator).
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies one command at entry time `now_ms` (the proposer's clock, never decreasing along
  // the log), writing its reply to `reply` if not null. Must be deterministic: the same
  // command on the same state at the same time gives the same writes.
  // `partition` is the Raft group the entry came from (-1: the single node's whole store).
  virtual void Apply(storage::WriteTxn& txn, int partition, int64_t now_ms,
                     std::string_view command, protocol::ReplyWriter* reply) = 0;
  // After the WriteTxn the applies since the last call went into: `committed` true once it is
  // written (readable), false if it was dropped to be applied again later. Called on the
  // applying thread.
  virtual void AfterCommit(bool committed) { (void)committed; }
  // Before each Apply: the connection (Proposal::conn_id) whose proposal it answers, 0 if no
  // one on this node waits for it (a follower, a replay). Called on the applying thread.
  virtual void SetWriter(uint64_t conn_id) { (void)conn_id; }
  // A partition's data was replaced other than by applies (a snapshot installed), and is
  // readable now. Called on the applying thread.
  virtual void DataReplaced() {}
};

struct Proposal {
  int partition = 0;         // the key's partition; -1 for commands over all data (FLUSHALL)
  int slot = -1;             // the key's hash slot, which a -MOVED names (-1: the partition's first)
  std::string command;       // encoded by the server (see server/command.h)
  int proto = 2;             // RESP version of the reply
  CompletionSink* sink = nullptr;  // where the reply goes; nullptr: no reply wanted
  uint64_t conn_id = 0;
  uint64_t seq = 0;          // per connection; the reply fills the slot with this number
  // The command's bytes in the node's budget of writes not yet logged (server: pending-write-
  // limit), released when this proposal is destroyed; empty for internal proposals.
  ByteBudget::Reservation reserved;
};

enum class FsyncPolicy { kAlways, kEverySec, kNo };

class Replicator {
 public:
  virtual ~Replicator() = default;
  virtual Status Start() = 0;
  // Applies what was already proposed, makes it durable, and stops. Idempotent.
  virtual void Stop() = 0;
  // Any thread. Busy if the queue is full (the caller replies with an error); callers also
  // bound their own in-flight proposals per connection.
  virtual Status Propose(Proposal&& p) = 0;
  // The same for several proposals at once (one lock, one wake-up); on an error none was
  // taken and *batch is left as it was.
  virtual Status ProposeBatch(std::vector<Proposal>* batch) = 0;
  // Any thread: whether a proposal made now would be refused up front (a failed disk), so
  // that a caller that batches its proposals can still answer the refusal in place.
  virtual Status Admit() const { return Status::Ok(); }
};

}  // namespace flin::cluster
