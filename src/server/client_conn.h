#pragma once
// ClientConn: one client connection, owned by one I/O thread.
//
// Reads requests, parses them (pipelined: everything that arrived is parsed and answered, then
// written with one send), dispatches each to its command handler, and keeps replies in order.
// A write is proposed to the log and answered when it is applied; while writes of this
// connection are in flight, further writes are proposed behind them (the log keeps their
// order), but any other command waits until they are answered, so a connection always sees
// its own writes and replies leave in request order.
//
// Bounds: unsent replies above the soft output limit stop request processing until the client
// reads (backpressure); above the hard limit the client is dropped; while every client's
// unsent replies together exceed the total limit, any unsent reply stops processing (so
// the node holds at most about that total plus one reply per client). At most kMaxPending writes
// in flight per connection, and requests are not read further while the writes in flight
// exceed client-pending-write-limit bytes (until they are answered). Input is bounded by the
// parser's limits.
//
// Threading: everything on the owning I/O thread, except the fields marked "any thread",
// which CLIENT LIST / CLIENT KILL read from other threads.

#include <atomic>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/byte_budget.h"
#include "net/event_loop.h"
#include "protocol/request_parser.h"
#include "server/pubsub.h"

namespace flin::server {

class IoThread;
class Server;
struct CommandSpec;

class ClientConn : public net::EventHandler {
 public:
  static constexpr int kMaxPending = 1024;

  ClientConn(IoThread* io, int fd, uint64_t id, std::string peer, std::string local);
  ~ClientConn() override;

  void OnEvent(uint32_t events) override;
  // A reply to one of this connection's proposals, in proposal order.
  void OnCompletion(uint64_t seq, std::string&& reply);
  // Sends what can be sent; closes the connection if it is done or broken.
  void FlushAndMaybeClose();

  // For command handlers (I/O thread).
  uint64_t id() const { return id_; }
  int proto() const { return proto_.load(std::memory_order_relaxed); }
  void set_proto(int p) { proto_.store(p, std::memory_order_relaxed); }
  bool authenticated() const { return authenticated_; }
  void set_authenticated(bool a) { authenticated_ = a; }
  void CloseAfterReply() { close_after_reply_ = true; }
  // A proposal is being made for this connection: its reply takes the next place in line.
  // `request_bytes` count against client-pending-write-limit until it is answered. Returns
  // the proposal's sequence number, which its completion carries back.
  uint64_t CountProposal(size_t request_bytes = 0) {
    slots_.push_back(Slot{false, ++proposal_seq_, std::string(), request_bytes});
    ++pending_;
    pending_bytes_ += request_bytes;
    return proposal_seq_;
  }
  const std::string& peer() const { return peer_; }
  const std::string& local() const { return local_; }
  IoThread& io() { return *io_; }
  int64_t created_ms() const { return created_ms_; }
  int fd() const { return fd_; }
  bool readonly() const { return readonly_.load(std::memory_order_relaxed); }
  void set_readonly(bool r) { readonly_.store(r, std::memory_order_relaxed); }
  // Forgets per-connection state (RESET).
  void Reset();

  // WATCH, MULTI ... EXEC (transaction_family.cc): the keys watched and what they held, the
  // commands queued since MULTI, and whether one was refused while queueing (EXEC then
  // aborts). Bounded by the family's byte limit.
  struct Transaction {
    bool active = false;  // inside MULTI
    bool dirty = false;
    int slot = -1;  // in a cluster: the slot every key must hash to (-1: none yet)
    struct Watched {
      std::string key;
      bool present;
      std::string payload;
      int64_t expire_at;
      uint8_t type = 0;  // storage::ValueType
    };
    std::vector<Watched> watched;    // what each watched key held at WATCH
    // Each watched key's latest element of `watched` (a key watched twice must hold what both
    // recorded, so the latest is the one a read is checked against).
    absl::flat_hash_map<std::string, size_t> watched_index;
    bool watch_broken = false;       // this connection has read one holding something else
    std::vector<std::string> queued;  // elements of EXEC's entry, one per command
    std::vector<std::string> tracked;  // CLIENT TRACKING: keys the queued reads will read
    size_t bytes = 0;                 // of watched and queued, held in the node's budget:
    std::vector<ByteBudget::Reservation> reserved;  // (pending-write-limit, until EXEC)
  };
  Transaction& transaction() { return transaction_; }
  // Pub/sub (pubsub_family.cc): what this connection is subscribed to; the node's registry
  // (Server::pubsub()) lists the same, under this connection's id and I/O thread.
  struct Subscriptions {
    absl::flat_hash_set<std::string> channels, patterns, shard_channels;
    // What SUBSCRIBE and PSUBSCRIBE answer (channels and patterns); SSUBSCRIBE counts shard
    // channels alone, as Redis 7.
    size_t Count() const { return channels.size() + patterns.size(); }
    size_t Total() const { return Count() + shard_channels.size(); }
  };
  Subscriptions& subscriptions() { return subscriptions_; }
  // Copies the subscriptions' sizes into sub/psub/ssub (CLIENT LIST); after every change.
  void CountSubscriptions() {
    sub.store(subscriptions_.channels.size(), std::memory_order_relaxed);
    psub.store(subscriptions_.patterns.size(), std::memory_order_relaxed);
    ssub.store(subscriptions_.shard_channels.size(), std::memory_order_relaxed);
  }
  // A RESP2 connection with any subscription may only subscribe, unsubscribe, PING, QUIT and
  // RESET (Redis's "subscribed mode"); RESP3 carries messages as push replies beside the rest.
  bool InSubscribedMode() const { return proto() == 2 && subscriptions_.Total() > 0; }
  // Writes one message of `batch` into the output, if the connection is still subscribed to
  // what it was published under (it may have unsubscribed while the batch was on its way) and
  // its unsent output is within the hard limit (beyond it the message is dropped, and
  // FlushAndMaybeClose, which the caller runs next, drops the connection). I/O thread.
  // CLIENT TRACKING's messages (kInvalidate, kRedirBroken) go behind this connection's
  // replies still in flight, and only where Redis sends them (a RESP3 connection; a RESP2 one
  // in subscribed mode that a client redirects to).
  void Push(const PushBatch& batch, const PushBatch::Target& target);
  // Set while the connection is in its I/O thread's list of those to flush after pushes
  // (IoThread::DeliverPushes), so it is listed once however many messages it got. I/O thread.
  bool push_flush_queued = false;
  // Set while a command waits out CLIENT PAUSE (Dispatch); IoThread::ResumePaused clears it
  // and lets the connection try again. I/O thread.
  bool held_for_pause = false;
  // CLIENT REPLY ON | OFF | SKIP (connection_family.cc), for the command running now: the
  // reply of every command while off, and of the one after a SKIP, is dropped (Dispatch).
  enum class ReplyMode { kOn, kOff, kSkip };
  void SetReplyMode(ReplyMode m) {
    reply_off_ = m == ReplyMode::kOff;
    skip_next_ = m == ReplyMode::kSkip;
    reply_this_ = m == ReplyMode::kOn ? 1 : -1;  // ON answers, OFF and SKIP do not
  }
  // Leaves every channel, pattern and shard channel, without telling the client (RESET, close).
  void UnsubscribeAll();

  // CLIENT TRACKING (tracking_family.cc; the node's side is Server::tracking()): this
  // connection's mode, and CLIENT CACHING's answer for the next command.
  struct TrackingMode {
    bool on = false, bcast = false, optin = false, optout = false, noloop = false;
    bool caching = false;  // CLIENT CACHING YES (OPTIN) or NO (OPTOUT) given
    uint64_t redirect = 0;
    std::vector<std::string> prefixes;  // BCAST: all the client named ("": every key)
  };
  TrackingMode& tracking() { return tracking_; }
  // Turns it off here and on the node (OFF, RESET, close).
  void StopTracking();
  // Default mode: remembers the keys of a read about to run or be proposed (before it runs:
  // tracking.h), as OPTIN / OPTOUT and CLIENT CACHING say; nothing for other commands. A read
  // queued in MULTI (`queued`) is remembered when EXEC runs it, as Redis does.
  void TrackRead(const CommandSpec& spec, std::span<const std::string_view> args,
                 bool queued = false);
  // For CLIENT LIST (any thread): tracking on, BCAST.
  std::atomic<bool> tracking_on{false}, tracking_bcast{false};
  std::atomic<uint64_t> tracking_redirect{0};

  // WAIT (replication_family.cc): the latest write of this connection answered in each
  // partition of a cluster, by its place in the log. At most one per partition.
  struct WritePos {
    uint64_t term = 0, index = 0;
  };
  const absl::flat_hash_map<int, WritePos>& last_writes() const { return last_writes_; }
  void NoteWrite(int partition, uint64_t term, uint64_t index) {
    WritePos& w = last_writes_[partition];
    if (index > w.index) w = WritePos{term, index};
  }

  // Drops the connection now, unsent replies and all.
  void Abort() { Close(); }
  // True if replies above the soft limit have waited with no byte taken since `since_ms`.
  bool StalledSince(int64_t since_ms) const;

  // Any thread (the owning thread writes; CLIENT LIST reads).
  std::atomic<int64_t> last_interaction_ms{0};
  std::atomic<size_t> in_bytes{0}, out_bytes{0};
  std::atomic<const CommandSpec*> last_command{nullptr};
  std::atomic<int64_t> multi_queued{-1};  // commands queued inside MULTI; -1 outside MULTI
  std::atomic<size_t> multi_bytes{0};     // their bytes and the watched values'
  std::atomic<bool> kill_requested{false};
  std::atomic<size_t> sub{0}, psub{0}, ssub{0};  // channels, patterns, shard channels
  // Guarded by the owning IoThread's registry mutex.
  std::string name;

 private:
  void ReadInput();
  void ProcessInput();
  // false: stop processing (waiting on a proposal, or closing).
  bool Dispatch(const std::vector<std::string_view>& args);
  void PushTracking(const PushBatch& batch, const PushBatch::Target& target);
  void EndTracking();  // the connection is going: Tracking::Closed
  void UpdateInterest();
  void Close();
  // How many unsent reply bytes still let this connection's requests be processed: the soft
  // limit, or 0 while all clients' unsent replies exceed client-output-total-limit.
  size_t OutputAllowance() const;
  // Brings this connection's share of Server::client_output_bytes() (and out_bytes) up to
  // date; UncountOutput takes it out, when the connection closes.
  void CountOutput();
  void UncountOutput();

  IoThread* io_;
  Server* server_;
  int fd_;
  uint64_t id_;
  std::string peer_, local_;
  int64_t created_ms_;

  std::string in_;
  size_t in_start_ = 0;
  std::string out_;
  size_t out_sent_ = 0;
  size_t out_counted_ = 0;  // this connection's share of Server::client_output_bytes()
  protocol::RequestParser parser_;

  std::atomic<int> proto_{2};  // written by the owner, read by CLIENT LIST too
  bool authenticated_ = false;
  std::atomic<bool> readonly_{false};  // owning thread writes; CLIENT LIST reads
  Transaction transaction_;
  Subscriptions subscriptions_;
  TrackingMode tracking_;
  // Invalidations this connection's own command caused (keys evicted to make room for its
  // reads), sent after its reply, whatever becomes of the reply (CLIENT REPLY OFF).
  bool own_pushes_wanted_ = false;
  std::string own_pushes_;
  absl::flat_hash_map<int, WritePos> last_writes_;
  int pending_ = 0;  // slots not yet filled
  size_t pending_bytes_ = 0;  // their request_bytes
  // Replies in request order, waiting for the earliest proposal's reply. Completions of
  // different partitions may arrive out of order; each fills the slot of its sequence number.
  struct Slot {
    bool filled;
    uint64_t seq;  // 0 for a direct reply
    std::string bytes;
    size_t request_bytes = 0;  // of a proposal, until answered
    bool discard = false;      // CLIENT REPLY OFF or SKIP: filled, but never sent
  };
  std::deque<Slot> slots_;
  uint64_t proposal_seq_ = 0;
  bool close_after_reply_ = false;
  bool reply_off_ = false, skip_next_ = false;  // CLIENT REPLY
  int reply_this_ = 0;  // set by CLIENT REPLY for itself: 1 answer, -1 not, 0 as the mode says
  bool closed_ = false;
  bool want_write_ = false;
  int64_t last_progress_ms_ = 0;  // when the client last took bytes (or had nothing pending)
  bool reading_ = true;
  bool in_process_ = false;
};

}  // namespace flin::server
