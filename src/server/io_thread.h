#pragma once
// IoThread: one event loop, its listener and the connections it accepted.
//
// The I/O threads share one listening socket, each watching it with EPOLLEXCLUSIVE, so the
// kernel wakes one of them per new connection; no thread hands a connection or a request to
// another. The apply (or raft) thread sends replies back through Complete(), which posts them
// to the loop; called on the loop thread itself (the single node applied the round's writes
// inline, under --fsync everysec), it delivers them at once.
//
// Threading: the loop thread owns the connections. The registry (conns_) is changed only by
// the loop thread and only under mu_; other threads (CLIENT LIST, INFO) read it under mu_.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/replicator.h"
#include "net/event_loop.h"
#include "server/client_conn.h"
#include "server/pubsub.h"

namespace flin::server {

class Server;

// Counters of one I/O thread; written by it alone, read by INFO from any thread.
struct IoStats {
  static constexpr size_t kMaxCommands = 256;
  struct PerCommand {
    std::atomic<uint64_t> calls{0}, usec{0}, failed{0}, rejected{0};
  };
  std::atomic<uint64_t> commands{0}, connections{0}, rejected_connections{0};
  std::atomic<uint64_t> net_in{0}, net_out{0}, keyspace_hits{0}, keyspace_misses{0};
  std::atomic<uint64_t> errors{0};
  PerCommand per_command[kMaxCommands];
  // Single writer: a relaxed load and store, no locked instruction.
  static void Add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

class IoThread : public net::EventHandler, public cluster::CompletionSink, public PushSink {
 public:
  IoThread(Server* server, int index);
  ~IoThread() override;

  Status Start(int listen_fd);
  void Stop();   // any thread
  void Join();

  void OnEvent(uint32_t events) override;                      // the listener
  void Complete(std::vector<cluster::Completion>&& batch) override;  // any thread
  // Pub/sub messages for this thread's subscribers (PushSink). On the loop thread they are
  // written at once and sent before the loop waits again; from another thread the batch is
  // posted, at most kMaxQueuedPushBytes of batches at a time: beyond that this loop is too
  // far behind, and the subscribers the batch was for are dropped (as Redis drops one over
  // its output limit) rather than left unaware that they missed a message. Any thread.
  void Push(PushBatch&& batch) override;
  static constexpr size_t kMaxQueuedPushBytes = 64u << 20;

  // Loop thread: queues a connection's proposal. Everything queued in one round of the loop
  // goes to the replicator together, before the loop waits again: one lock and one wake-up
  // of the apply (or Raft) thread per round instead of one per write, and bigger batches.
  void QueueProposal(cluster::Proposal&& p) { outbox_.push_back(std::move(p)); }
  // Loop thread: a reply that waits on a condition (WAIT). `poll` is called about every
  // kWaiterPollMs, on this thread, until it returns true with the reply; once `deadline_ms`
  // (monotonic; 0: none) has passed it is called with `expired` set and must answer. The reply
  // fills the connection's slot `seq` (from ClientConn::CountProposal). A waiter whose
  // connection closed is dropped (with `poll`, and whatever it holds). At most one per
  // connection: the slot holds the connection's later commands.
  using WaitPoll = std::function<bool(ClientConn& conn, bool expired, std::string* reply)>;
  void AddWaiter(uint64_t conn_id, uint64_t seq, int64_t deadline_ms, WaitPoll poll);
  static constexpr int kWaiterPollMs = 10;
  // Loop thread: the connection's next command waits out CLIENT PAUSE; it is tried again
  // every kWaiterPollMs (ResumePaused).
  void HoldForPause(uint64_t conn_id) { paused_.push_back(conn_id); }
  // Loop thread: forgets a closed connection (deletes it after the current event).
  void Forget(uint64_t id);
  // Loop thread: calls the connection's FlushAndMaybeClose() again after pending events.
  void ResumeLater(uint64_t id);
  Server& server() { return *server_; }
  net::EventLoop& loop() { return loop_; }
  IoStats& stats() { return stats_; }
  int index() const { return index_; }

  // Any thread.
  struct ClientInfo {
    uint64_t id;
    std::string addr, laddr, name, cmd;
    int fd;
    int64_t age_s, idle_s;
    size_t qbuf, obuf;
    int proto;
    int64_t multi;       // commands queued in MULTI, -1 outside it
    size_t multi_bytes;  // their bytes and the watched values'
    bool readonly;
    size_t sub, psub, ssub;  // channels, patterns, shard channels subscribed to
    bool tracking, tracking_bcast, tracking_broken;
    int64_t redir;  // CLIENT TRACKING's redirection: -1 off, 0 none
  };
  std::vector<ClientInfo> ListClients();
  bool HasClient(uint64_t id);
  void SetName(ClientConn* conn, std::string name);
  std::string GetName(ClientConn* conn);
  // Marks matching clients for closing (posted to the loop); returns how many matched.
  // `subscribed`: -1 any client, 0 those with no subscription (TYPE normal), 1 those with one
  // (TYPE pubsub).
  int Kill(uint64_t id, const std::string& addr, const std::string& laddr, uint64_t skip_id,
           int subscribed = -1);

 private:
  void Cron();
  void FlushProposals();
  void RefuseOrHandOn();  // one ProposeBatch of the outbox; answers it with errors if refused
  void Deliver(std::vector<cluster::Completion>& batch);
  void DeliverPushes(const PushBatch& batch);
  void PollWaiters();
  void ResumePaused();
  void FlushPushed();          // sends what DeliverPushes wrote (loop thread, before waiting)
  // Takes `*ids` and, for each connection still open, clears its `listed` flag (which kept it
  // in the list once) and runs FlushAndMaybeClose: sends, and processes input held back.
  void FlushListed(std::vector<uint64_t>* ids, bool ClientConn::*listed);
  void DropOverflowVictims();  // closes the subscribers of batches refused by Push

  Server* server_;
  int index_;
  net::EventLoop loop_;
  std::thread thread_;
  int listen_fd_ = -1;  // borrowed from the Server
  IoStats stats_;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::unique_ptr<ClientConn>> conns_;
  std::vector<std::unique_ptr<ClientConn>> graveyard_;  // deleted after the current event
  std::vector<cluster::Proposal> outbox_;  // this round's proposals (loop thread)
  std::vector<uint64_t> pushed_;           // connections DeliverPushes wrote to (loop thread)
  struct Waiter {
    uint64_t conn_id, seq;
    int64_t deadline_ms;
    WaitPoll poll;
  };
  std::vector<Waiter> waiters_;  // loop thread; at most one per connection
  std::vector<uint64_t> paused_;  // loop thread: connections held by CLIENT PAUSE, once each
  std::atomic<size_t> queued_push_bytes_{0};  // posted batches not yet delivered
  std::mutex overflow_mu_;
  absl::flat_hash_set<uint64_t> overflow_victims_;  // guarded by overflow_mu_; <= connections
  bool overflow_posted_ = false;            // guarded by overflow_mu_
};

}  // namespace flin::server
