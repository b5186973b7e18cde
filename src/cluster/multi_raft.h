#pragma once
// MultiRaftNode: the write path of a cluster node — one Raft group per partition this node
// hosts, all driven by one raft thread (TiKV-style Multi-Raft).
//
// Each round the raft thread: steps the messages received from peers; proposes what the I/O
// threads queued (to the group of the key's partition, if this node leads it, else answers
// with -MOVED, or NoLeaderError — or holds it while the partition's leadership moves, see
// Submit); ticks every group on the tick clock; then collects the Ready of every group and
//   0. sends a leader's appends, heartbeats, snapshot chunks and TimeoutNow before its own
//      fsync, so the followers' disks work while its own does (never with a term or vote
//      change, never acknowledgements or votes; an ack is handled in a later round, after
//      this write),
//   1. applies the committed entries that were already durable (answering their clients
//      before this round's fsync, not after it),
//   2. writes all their new entries and hard states in ONE RocksDB batch with one fsync
//      (group commit across partitions),
//   3. sends their other messages, batched into one payload per peer (Transport),
//   4. applies the remaining committed entries, then Advances every group.
// Applying goes through the StateMachine into one WriteTxn per step (each group's applied
// index in the same batch as the data it applied) and answers the proposals it completes.
// Log entries carry the proposer's timestamp (never decreasing within a group), which the
// state machine uses as "now", so every replica computes the same state.
//
// Reads do not come here: the I/O threads read the store directly when GroupView says this
// node leads the partition and holds the leader lease (or the connection sent READONLY).
//
// Threading: Propose/ProposeBatch/View/Status from any thread; Start/Stop from the owner.
// Ownership: borrows the Store and StateMachine; owns the groups, their storage, the transport.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cluster/group_storage.h"
#include "cluster/peer_identity.h"
#include "cluster/replicator.h"
#include "cluster/topology.h"
#include "cluster/transport.h"
#include "common/warning_limiter.h"
#include "raft/raw_node.h"
#include "storage/store.h"
#include "storage/write_txn.h"

namespace flin::cluster {

struct MultiRaftOptions {
  int tick_ms = 50;                  // one Raft tick
  int election_ticks = 10;           // election timeout 10-20 ticks
  int heartbeat_ticks = 2;
  uint64_t snapshot_entries = 10000; // compact a group's log beyond this many entries
  uint64_t keep_entries = 1000;      // entries kept after compaction, for lagging followers
  int proposal_timeout_ms = 5000;    // unanswered proposals fail (outcome unknown) after this
  size_t max_queued = 1 << 20;       // proposals waiting for the raft thread
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  std::string snapshot_dir;          // where outgoing snapshots are staged
  // The Raft log of every partition (LogStore's segment files); empty: <store dir>/raft-log.
  std::string log_dir;
  uint64_t log_segment_bytes = 64u << 20;
  // A received snapshot this large or larger is installed by ingesting an SST file, not
  // through the round's batch (GroupStorage::InstallSnapshot).
  uint64_t snapshot_ingest_bytes = 64u << 20;
  bool balance_leaders = true;       // move leadership to each partition's preferred node
  // A write is one entry, which every replica's raft thread (shared by all of the node's
  // partitions) encodes, stores and fsyncs in one round: larger ones are refused (16 MiB held
  // a node's raft thread long enough for every partition on it to lose its leader).
  size_t max_entry_bytes = 8u << 20;
  size_t max_held = 1 << 16;         // proposals held while leaderships move (beyond: errors)
  size_t max_held_bytes = 64u << 20; // and their commands' bytes
  // Snapshots this node builds or streams to live followers at once; more wait for a later
  // probe. A node that comes back to a cluster that truncated its logs would otherwise be sent
  // every partition at once (all of the data on its disk and through its raft thread
  // together), and each sender would build them all together.
  size_t max_snapshots_in_flight = 4;
  // The data directory is a backup this node was started on (SAVE/BGSAVE made it): the votes
  // and acknowledgements of its earlier self since the copy are forgotten, so it takes a new
  // incarnation (its peers reset what they knew of its logs) and every partition rejoins
  // recovering (raft::Config::recovering), as after a lost disk but with its data.
  bool restored = false;
  // raft::Config::accept_data_loss for every partition: the operator accepts losing writes
  // that no replica knew were committed (a whole cluster restored from backups).
  bool accept_data_loss = false;
};

// What the I/O threads need to route a request to a partition; written by the raft thread.
struct GroupView {
  std::atomic<uint64_t> leader{0};         // 0: unknown
  std::atomic<uint64_t> term{0};
  std::atomic<int64_t> lease_until_us{0};  // monotonic: this node may serve reads until then
  std::atomic<int64_t> leader_seen_ms{0};  // monotonic: when this node last knew a leader
  // This replica lost its state (an empty data directory, a backup) and has not caught up
  // (raft::Config::recovering), or has not yet applied what it had committed when it did:
  // what it holds may be nothing at all, so it serves no READONLY read, which goes to the
  // leader instead.
  std::atomic<bool> recovering{false};
  // While WAIT has waiters (MultiRaftNode::WatchReplication): the followers' match indexes,
  // as this node's leader knows them in term `progress_term` (0: not leading).
  mutable std::mutex progress_mu;
  uint64_t progress_term = 0;             // guarded by progress_mu
  std::vector<uint64_t> follower_match;   // guarded by progress_mu
};

// The error for a write larger than max_entry_bytes.
std::string EntryTooLargeError(size_t max_entry_bytes);

class MultiRaftNode : public Replicator {
 public:
  MultiRaftNode(storage::Store* store, StateMachine* sm, Topology topology,
                MultiRaftOptions options);
  ~MultiRaftNode() override;

  Status Start() override;
  void Stop() override;
  Status Propose(Proposal&& p) override;
  Status ProposeBatch(std::vector<Proposal>* batch) override;

  const Topology& topology() const { return topology_; }
  const GroupView& View(int partition) const { return views_[partition]; }
  // The error for a request to a partition whose leader this node does not know: -TRYAGAIN
  // while an election is likely under way (a leader was known within two election timeouts:
  // a leadership transfer, a leader that just failed), -CLUSTERDOWN after that. Redis Cluster
  // clients treat CLUSTERDOWN as an outage (redis-benchmark sleeps a second on each one), and
  // leaders move on purpose (balancing) every few seconds after start-up.
  std::string NoLeaderError(int partition) const;
  // True while NoLeaderError would answer -TRYAGAIN: this node hosts the partition and knew
  // its leader within two election timeouts. A request routed here with no leader known may
  // then be proposed anyway (Propose): the raft thread holds it until the partition has a
  // leader again, and proposes it here or answers -MOVED, or gives NoLeaderError once the
  // window closes. Whether a leader is known is the caller's to decide, from the one read of
  // the view it routes by: a second read could see a leader elected in between, and a request
  // neither proposed nor redirected would get -TRYAGAIN in the middle of a planned move.
  // Any thread.
  bool ElectionWindowOpen(int partition) const;
  // The largest write this node proposes (MultiRaftOptions::max_entry_bytes). Any thread.
  size_t max_entry_bytes() const { return options_.max_entry_bytes; }
  // Per-partition role, term, commit and applied index and follower lag, for INFO.
  std::string StatusReport() const;
  // The hosted groups' raft::RawNode::Events summed: leadership this node lost or failed to
  // move without a plan (election timers that fired, check-quorum step-downs, transfers given
  // up), as of the raft thread's latest round. Any thread.
  raft::RawNode::Events Events() const;
  // Snapshots deferred because max_snapshots_in_flight were under way, and the most that were
  // ever under way at once (each since start). Any thread.
  uint64_t snapshots_deferred() const { return snapshots_deferred_.load(std::memory_order_relaxed); }
  // Snapshot builds that failed (this node a leader), and received snapshot chunks it could
  // not keep (a follower), since start: a full or failing disk under the snapshot directory.
  // Any thread.
  uint64_t snapshot_build_failures() const {
    return snapshot_build_failures_.load(std::memory_order_relaxed);
  }
  uint64_t snapshot_chunks_not_kept() const {
    return snapshot_chunks_not_kept_.load(std::memory_order_relaxed);
  }
  uint64_t snapshots_in_flight_peak() const {
    return snapshots_in_flight_peak_.load(std::memory_order_relaxed);
  }
  // Raft log writes with fsync that took over a quarter of the election timeout, and the
  // longest one, in ms (since start). Any thread.
  uint64_t slow_log_syncs() const { return slow_log_syncs_.load(std::memory_order_relaxed); }
  int64_t log_sync_max_ms() const { return log_sync_max_ms_.load(std::memory_order_relaxed); }
  // The Raft log's segment files now, and segments deleted so far (INFO). Any thread.
  uint64_t log_segments() const { return log_segments_.load(std::memory_order_relaxed); }
  uint64_t log_segments_deleted() const {
    return log_segments_deleted_.load(std::memory_order_relaxed);
  }
  // Messages from peers dropped unanswered because no correct peer sends them: undecodable,
  // misrouted, or refused by the partition's Raft core (raft::RawNode::Step), since start.
  // Any thread.
  uint64_t peer_messages_refused() const {
    return peer_messages_refused_.load(std::memory_order_relaxed);
  }
  std::vector<Transport::PeerState> Peers() const { return transport_->Peers(); }
  // For a clean shutdown: hands the leadership of every partition this node leads to a
  // caught-up peer (a planned move: clients' writes are held for milliseconds and then
  // answered -MOVED, where a node that just went away costs each of its partitions an election
  // timeout of -TRYAGAIN), and from now on refuses leadership offered to it. The peers do not
  // hand those partitions back while this process stays (BalanceLeaders). Waits until this
  // node leads nothing, no partition it leads has a live peer left to try, or ten election
  // timeouts passed; returns how many partitions it still leads, -1 if the raft thread did
  // not report in that time. Meanwhile its followers do
  // not campaign. Any thread but the raft thread; once called the node stays draining until
  // it stops.
  int HandOffLeadership();
  void set_fsync(FsyncPolicy p) { fsync_.store(p, std::memory_order_relaxed); }

  // WAIT: how many of the partition's followers hold its entry (term, index) durably (their
  // match index reached it, under this node's leadership in that term or a later one, which
  // has the entry if it was committed: Leader Completeness); -1 if this node cannot tell (it
  // does not lead the partition, or not since that term, or no waiter asked for progress in
  // time). The views carry the followers' progress only while `WatchReplication` has waiters
  // (+1 when a WAIT starts waiting, -1 when it ends): building it costs the raft thread.
  // Any thread.
  int FollowersHolding(int partition, uint64_t term, uint64_t index) const;
  void WatchReplication(int delta) { replication_watchers_.fetch_add(delta); }

  // Node messages: payloads between nodes that belong to no partition and no log (pub/sub's
  // PUBLISH reaching the other nodes' subscribers). Best effort, as Redis Cluster's bus: each
  // arrives at most once, in the order sent to that peer, and any may be lost (the peer down
  // or its connection broken, or its queue holding kNodeMessageQueueBytes: they never take
  // more of a peer's queue than that, so Raft's traffic is never crowded out). On the wire a
  // node message is one payload item of group kNodeMessageGroup, which a node that does not
  // know it counts as refused and drops.
  static constexpr int kNodeMessageGroup = 0xFFFF;
  static constexpr size_t kNodeMessageQueueBytes = 16u << 20;
  // Called on the transport's thread for each node message received, with its sender; it must
  // return quickly (hand long work to another thread). Set before Start().
  using NodeMessageHandler = std::function<void(uint64_t from, std::string_view body)>;
  void SetNodeMessageHandler(NodeMessageHandler h) { node_message_handler_ = std::move(h); }
  // Queues `body` for peer `to`; false if it was dropped at once (unknown peer, queue bound,
  // over the frame bound, stopped). Any thread.
  bool SendNodeMessage(uint64_t to, std::string_view body);

 private:
  struct Group {
    int id = 0;
    std::unique_ptr<GroupStorage> storage;
    std::unique_ptr<raft::RawNode> node;
    int64_t last_ts = 0;  // newest entry timestamp seen (proposals use max(now, last_ts))
    struct Pending {
      uint64_t term;
      int proto;
      CompletionSink* sink;
      uint64_t conn_id;
      uint64_t seq;
      int64_t deadline_ms;  // monotonic
    };
    std::map<uint64_t, Pending> pending;  // by log index
    struct Held {
      Proposal p;
      int64_t since_ms;  // monotonic: when it was first held (a hold lasts MaxHoldMs at most)
    };
    std::deque<Held> held;  // not proposed yet: waiting for a leader (Submit), oldest first
    // The partition's preferred node handed its leadership away (HandOffLeadership: it is
    // shutting down), so it is not balanced back to that node while our connection to it is
    // the one it was then (Transport::PeerState::connects) and for at most a minute.
    int64_t declined_until_ms = 0;  // 0: not declined
    uint64_t declined_connects = 0;
    int handoff_attempts = 0;  // HandOff: transfers started, and to whom the last one went
    uint64_t handoff_to = 0;
    bool handoff_paused = false;  // HandOff: a round passed since the last attempt gave up
    // GroupView::recovering stays set after the core's recovery ends until what it had
    // committed then is applied (applying catches up a few MB per round). kStillRecovering
    // while the core recovers; 0 once readable.
    static constexpr uint64_t kStillRecovering = ~0ULL;
    uint64_t readonly_from = 0;
  };

  void Loop();
  NodeMessageHandler node_message_handler_;  // set before Start; called on the transport thread
  // A payload from a peer, or (peer_replaced) the news that the peer is back on a new data
  // directory, in the order the transport saw them.
  struct Inbound {
    uint64_t from = 0;
    std::string payload;
    bool peer_replaced = false;
  };
  void HandleMessages(std::vector<Inbound>& inbox);
  void HandleProposals(std::vector<Proposal>& proposals);
  void Submit(Proposal& p, int64_t now_ms, int64_t held_since);
  bool Hold(Group& g, Proposal& p, int64_t held_since, int64_t now_ms);
  std::vector<uint64_t> ConnectedPeers() const;  // ids of peers whose connection is up
  size_t SnapshotsInFlight() const;
  void NoteLogSync(int64_t ms);
  // Whether this round's log write is fsynced (FsyncPolicy): always, what it must; everysec,
  // a term, vote or recovering mark at once and entries within a second; no, nothing.
  // `safety`: the write changes a term, vote or recovering mark. Raft thread.
  bool ShouldSyncLog(bool must_sync, bool safety, int64_t now_ms) const;
  // --fsync everysec: syncs what was written unsynced once a second has passed since the last
  // sync, whether or not anything is written meanwhile. Raft thread, every round.
  void SyncLogEverySecond(int64_t now_ms);
  // About once a second: deletes the log's segments no partition needs (their compaction
  // points made durable first), rewriting at the end the few entries that pin the oldest.
  void CollectLogGarbage(int64_t now_ms);
  void NoteRefused(uint64_t from, const std::string& what);
  bool MayStartSnapshot();
  int64_t MaxHoldMs() const;
  void ReleaseHeld(int64_t now_ms);
  void HandleReady();
  void ApplyEntries(const std::vector<std::pair<Group*, std::span<const raft::Entry>>>& batch);
  void ExpireProposals(int64_t now_ms);
  void PublishViews();
  void SettleIdentity();
  // A leader's heartbeat showed partition `g` lost entries this node had acknowledged
  // (raft::RawNode::BeginRecovery): the data directory went back in time. Every partition
  // recovers; the round persists their marks. Raft thread.
  void NoteStateWentBack(const Group& g, uint64_t leader);
  bool state_went_back_ = false;  // raft thread
  void BalanceLeaders();
  void HandOff();
  void StartTransfer(Group& g, uint64_t to);
  void NoteDeclined(Group& g, uint64_t preferred);
  void MaybeCompact(Group& g);
  void Fail(Proposal& p, const std::string& error);
  std::string Redirect(int partition, uint64_t leader, int slot) const;
  int64_t ElectionWindowEnd(int partition) const;
  void Deliver(CompletionSink* sink, uint64_t conn_id, uint64_t seq, std::string reply);
  void FlushDeliveries();

  storage::Store* store_;
  StateMachine* sm_;
  Topology topology_;
  MultiRaftOptions options_;
  std::atomic<FsyncPolicy> fsync_;
  bool log_unsynced_ = false;     // raft thread: a log write under everysec/no not synced yet
  int64_t last_log_sync_ms_ = 0;  // raft thread: monotonic
  int64_t last_log_gc_ms_ = 0;    // raft thread: monotonic
  // Every group's log; before groups_, whose storage borrows it. Raft thread after Start.
  std::unique_ptr<LogStore> log_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<PeerIdentity> identity_;
  std::unique_ptr<GroupView[]> views_;
  std::atomic<int> replication_watchers_{0};
  std::vector<std::unique_ptr<Group>> groups_;  // indexed by partition; null if not hosted

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Proposal> proposals_;                          // guarded by mu_
  std::vector<Inbound> messages_;                            // guarded by mu_
  size_t queued_message_bytes_ = 0;                          // guarded by mu_
  bool stopping_ = false;                                    // guarded by mu_
  std::atomic<bool> draining_{false};                        // HandOffLeadership was called
  std::condition_variable handoff_cv_;                       // HandOff reported (mu_)
  bool handoff_reported_ = false;                            // guarded by mu_
  int handoff_leading_ = 0, handoff_movable_ = 0;            // guarded by mu_
  std::thread thread_;

  std::unordered_map<CompletionSink*, std::vector<Completion>> deliveries_;  // raft thread
  storage::WriteTxn apply_txn_;  // raft thread: every ApplyEntries, reused
  mutable std::mutex status_mu_;
  std::string status_;  // guarded by status_mu_, refreshed by the raft thread
  size_t held_count_ = 0;     // raft thread: proposals in the groups' held queues
  size_t held_bytes_ = 0;     // raft thread: their commands' sizes
  int64_t last_balance_ms_ = 0;
  int64_t tick_time_ms_ = 0;  // raft thread: the monotonic time the latest Tick() stands for
  std::atomic<uint64_t> election_timeouts_{0}, quorum_losses_{0}, transfers_aborted_{0};
  std::atomic<uint64_t> snapshots_deferred_{0}, snapshots_in_flight_peak_{0};
  std::atomic<uint64_t> slow_log_syncs_{0};
  std::atomic<int64_t> log_sync_max_ms_{0};
  std::atomic<uint64_t> log_segments_{0}, log_segments_deleted_{0};
  std::atomic<uint64_t> peer_messages_refused_{0};
  std::atomic<uint64_t> snapshot_build_failures_{0}, snapshot_chunks_not_kept_{0};
  // Warnings of lasting conditions, each at most once a minute.
  WarningLimiter slow_sync_warnings_, refused_warnings_, build_failure_warnings_,
      chunk_failure_warnings_;
};

}  // namespace flin::cluster
