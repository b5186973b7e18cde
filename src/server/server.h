#pragma once
// Server: one flin-server process — its store, write path, I/O threads and command table.
//
// Ownership: owns everything it starts; main() owns the Server and the Config.
// Threading: Start/Wait/Stop on the main thread; the accessors from any thread.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/multi_raft.h"
#include "cluster/replicator.h"
#include "cluster/single_node.h"
#include "net/event_loop.h"
#include "server/active_expiry.h"
#include "server/backups.h"
#include "server/background_worker.h"
#include "server/script_cache.h"
#include "server/slowlog.h"
#include "server/command.h"
#include "server/config.h"
#include "server/io_thread.h"
#include "server/pubsub.h"
#include "server/scan_cursors.h"
#include "server/tracking.h"
#include "storage/store.h"

namespace flin::server {

class StateMachineImpl;

class Server {
 public:
  explicit Server(Config* config);
  ~Server();

  Status Start();
  // Blocks until SIGTERM/SIGINT or SHUTDOWN; then stops everything cleanly. A cluster node
  // first hands the partitions it leads to its peers (MultiRaftNode::HandOffLeadership),
  // serving clients meanwhile, unless SHUTDOWN NOW asked it not to.
  void Run();
  void RequestShutdown(bool hand_off = true) {
    hand_off_at_shutdown_.store(hand_off);
    shutdown_.store(true);
  }

  Config& config() { return *config_; }
  storage::Store& store() { return *store_; }
  cluster::Replicator& replicator() { return *replicator_; }
  BackgroundWorker& background() { return *background_; }
  // Bytes of the writes accepted but not yet logged (each Proposal holds its share until it
  // is destroyed), bounded by config().pending_write_bytes. Any thread.
  ByteBudget& pending_writes() { return pending_writes_; }
  // What MULTI has queued and WATCH holds on every connection until EXEC, against the same
  // pending-write-limit but apart from pending_writes(): an idle transaction cannot stop other
  // clients' writes (transaction_family.cc). Any thread.
  ByteBudget& transaction_bytes() { return transaction_bytes_; }
  // Exactly one of these is set: the single node's write path, or the cluster's.
  cluster::SingleNodeReplicator* single_node() { return single_node_.get(); }
  cluster::MultiRaftNode* cluster() { return multi_raft_.get(); }
  // SAVE / BGSAVE: online backups of the data directory (backups.h). Set by Start().
  Backups* backups() { return backups_.get(); }
  // May this node answer a read of `partition` from its own store right now? A single node
  // always; in a cluster the partition's leader holding its lease, or, for a READONLY
  // connection, any replica that is not recovering (GroupView::recovering). Any thread.
  bool LocalReadable(int partition, bool readonly) const;
  // Does this node lead `partition` (so writes to it are proposed here)? Any thread.
  bool Leads(int partition) const;
  // The lowest partition this node leads (the log of a write that names no key: a script
  // without keys, a transaction of PUBLISHes), or -1 if it leads none. Any thread.
  int LowestLedPartition() const;
  const CommandTable& commands() const { return commands_; }
  std::vector<std::unique_ptr<IoThread>>& io_threads() { return io_threads_; }
  ScanCursors& cursors() { return cursors_; }
  // SLOWLOG (slowlog.h). Any thread.
  SlowLog& slowlog() { return slowlog_; }
  // The node's scripts for EVALSHA (script_cache.h). Any thread.
  ScriptCache& scripts() { return scripts_; }
  // This node's pub/sub subscriptions (pubsub.h). Any thread.
  PubSub& pubsub() { return pubsub_; }
  // This node's CLIENT TRACKING state (tracking.h). Any thread.
  Tracking& tracking() { return tracking_; }
  // The I/O thread holding connection `id`, or null if there is none. Any thread.
  IoThread* FindClient(uint64_t id);
  int partitions() const { return config_->partitions; }

  // The memory holding unsent replies on every client connection, in bytes (each ClientConn
  // keeps its share current: CountOutput), and the most it has been. While they exceed
  // config().output_total_bytes, a connection with unsent replies is served no further
  // request until they are sent, so clients that stop reading cannot pile up replies in
  // memory beyond that and one reply each. Any thread.
  void AddClientOutput(int64_t delta);
  int64_t client_output_bytes() const {
    return client_output_bytes_.load(std::memory_order_relaxed);
  }
  int64_t client_output_bytes_peak() const {
    return client_output_bytes_peak_.load(std::memory_order_relaxed);
  }

  // CLIENT PAUSE: every client command is held until `until_ms` (monotonic), or with
  // `writes_only` only those that may write (the log's, and PUBLISH). A second pause keeps the
  // later end and the stricter kind, as Redis; Unpause ends it. Active expiry waits too, so
  // the data stays still. Any thread.
  void Pause(int64_t until_ms, bool writes_only);
  void Unpause() { pause_until_ms_.store(0); }
  // Whether a command that `may_write` is held now.
  bool Paused(bool may_write) const {
    const int64_t until = pause_until_ms_.load(std::memory_order_relaxed);
    if (until == 0 || net::MonotonicMs() >= until) return false;
    return may_write || !pause_writes_only_.load(std::memory_order_relaxed);
  }

  uint64_t NextClientId() { return next_client_id_.fetch_add(1) + 1; }
  std::atomic<int64_t> connected_clients{0};
  uint64_t expired_keys() const;           // deleted by active expiry
  int64_t InstantaneousOps() const { return instantaneous_ops_.load(); }
  const std::string& run_id() const { return run_id_; }
  int64_t start_ms() const { return start_ms_; }

 private:
  void SampleOps();

  Config* config_;
  SlowLog slowlog_;  // before the state machine, which records into it
  ScriptCache scripts_;
  PubSub pubsub_;  // before the I/O threads: their connections unsubscribe as they close
  Tracking tracking_;  // likewise: their connections stop tracking as they close
  // Before everything that holds proposals (the replicators, the I/O threads' outboxes):
  // destroyed after them.
  ByteBudget pending_writes_;
  ByteBudget transaction_bytes_;
  // Before the I/O threads too: a connection takes its share out when destroyed.
  std::atomic<int64_t> client_output_bytes_{0}, client_output_bytes_peak_{0};
  CommandTable commands_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<StateMachineImpl> state_machine_;
  std::unique_ptr<cluster::SingleNodeReplicator> single_node_;
  std::unique_ptr<cluster::MultiRaftNode> multi_raft_;
  cluster::Replicator* replicator_ = nullptr;
  std::unique_ptr<Backups> backups_;  // destroyed before the store
  std::vector<std::unique_ptr<IoThread>> io_threads_;
  // Slow reads (CommandContext::Offload). Stopped after the I/O threads stop and before they
  // are destroyed: its tasks complete into them.
  std::unique_ptr<BackgroundWorker> background_ = std::make_unique<BackgroundWorker>();
  int listen_fd_ = -1;  // shared by the I/O threads
  ScanCursors cursors_;
  std::atomic<bool> shutdown_{false};
  std::atomic<bool> hand_off_at_shutdown_{true};
  std::atomic<uint64_t> next_client_id_{0};
  std::mutex pause_mu_;  // orders Pause's read-modify-write of the two below
  std::atomic<int64_t> pause_until_ms_{0};  // 0: not paused
  std::atomic<bool> pause_writes_only_{false};
  std::string run_id_;
  int64_t start_ms_ = 0;
  std::unique_ptr<ActiveExpiry> expiry_;  // main thread (Run), created by Start
  // main thread: commands processed at the last samples (every 100 ms), for ops/sec
  std::vector<std::pair<int64_t, uint64_t>> ops_samples_;
  std::atomic<int64_t> instantaneous_ops_{0};
};

int64_t NowMs();  // wall clock, Unix milliseconds

}  // namespace flin::server
