#include "server/server.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "common/durable_file.h"
#include "common/log.h"
#include "net/socket.h"
#include "server/state_machine.h"
#include "storage/encoding.h"

namespace flin::server {

int64_t NowMs() { return cluster::UnixMs(); }

namespace {

// Facts fixed when the data directory is created (the partition count: keys are stored under
// their partition; the cluster identity: a node never joins another cluster with its data).
Status CheckIdentity(storage::Store* store, const std::string& name, const std::string& want) {
  const std::string key = std::string(1, storage::kMetaPrefix) + name;
  std::string v;
  rocksdb::Status s = store->db()->Get(rocksdb::ReadOptions(), key, &v);
  if (s.ok()) {
    if (v != want) {
      return Status::InvalidArgument("data directory " + store->dir() + " belongs to " + name +
                                     " " + v + ", not " + want);
    }
    return Status::Ok();
  }
  if (!s.IsNotFound()) return Status::IOError(s.ToString());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = store->db()->Put(wo, key, want);
  return s.ok() ? Status::Ok() : Status::IOError(s.ToString());
}

}  // namespace

Server::Server(Config* config) : config_(config) {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 40; ++i) run_id_.push_back(kHex[rng() % 16]);
}

Server::~Server() {
  for (auto& t : io_threads_) t->Stop();
  background_->Stop();
  // Stopping the replicator answers what it still holds through the I/O threads' sinks: they
  // must outlive it (their loops are stopped; the answers are dropped with them).
  if (replicator_) replicator_->Stop();
  io_threads_.clear();
  single_node_.reset();
  multi_raft_.reset();
  expiry_.reset();
  backups_.reset();  // waits for a running backup
  store_.reset();
  if (listen_fd_ >= 0) close(listen_fd_);
}

Status Server::Start() {
  start_ms_ = NowMs();
  // The directory's own name must survive a power cut, or a first start's writes go with it.
  Status made = MakeDirsDurably(config_->dir);
  if (!made.ok()) return made;

  storage::StoreOptions so;
  so.dir = config_->dir;
  so.block_cache_bytes = config_->block_cache_bytes;
  if (config_->row_cache_bytes == Config::kAutoRowCache) {
    config_->row_cache_bytes = AutoRowCacheBytes();  // CONFIG GET shows what was chosen
  }
  so.row_cache_bytes = config_->row_cache_bytes;
  so.insert_hint_prefix = config_->initial_cluster.empty() ? storage::DataKeyInsertHint()
                                                           : cluster::GroupKeyInsertHint();
  auto store = storage::Store::Open(so);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  // A backup made by SAVE/BGSAVE holds a marker (backups.h): this server was started on one.
  const bool restored = Backups::IsBackup(config_->dir);
  Status s = CheckIdentity(store_.get(), "partitions", std::to_string(config_->partitions));
  if (!s.ok()) return s;
  // A single node stamps entries with max(now, previous), so nothing it applies from here on
  // is older than now. (Not so in a cluster: a replica catching up applies old entries, so
  // each partition's clock starts at, and only follows, its log.)
  if (config_->initial_cluster.empty()) store_->AdvanceApplyClock(-1, NowMs());

  state_machine_ = std::make_unique<StateMachineImpl>(&commands_, config_->partitions);
  state_machine_->set_notifications(&config_->notify_keyspace_events, &pubsub_, &tracking_);
  tracking_.set_max_keys(&config_->tracking_table_max_keys);
  state_machine_->set_slowlog(&slowlog_, &config_->slowlog_slower_than_us,
                              &config_->slowlog_max_len);
  if (config_->initial_cluster.empty()) {
    if (!config_->announce.empty()) {
      return Status::InvalidArgument("--announce is for a cluster node (--initial-cluster)");
    }
    // A single node's data has no Raft logs: it cannot be reopened as a cluster member.
    s = CheckIdentity(store_.get(), "cluster_id", "single-node");
    if (!s.ok()) return s;
    cluster::SingleNodeOptions rep;
    rep.fsync = config_->fsync.load();
    single_node_ = std::make_unique<cluster::SingleNodeReplicator>(store_.get(),
                                                                   state_machine_.get(), rep);
    replicator_ = single_node_.get();
  } else {
    // An announced address without a bus port takes --cluster-port's, if given.
    std::string announce = config_->announce;
    if (!announce.empty() && config_->cluster_port != 0 &&
        std::count(announce.begin(), announce.end(), ':') == 1) {
      announce += ":" + std::to_string(config_->cluster_port);
    }
    auto topo = cluster::Topology::Parse(config_->initial_cluster, config_->node_id,
                                         config_->partitions, config_->replicas, announce);
    if (!topo.ok()) return topo.status();
    cluster::Topology t = std::move(topo).value();
    if (config_->cluster_port != 0) {
      // --cluster-port overrides this node's bus port (peers must list it as host:port:bus).
      for (const auto& n : t.nodes()) {
        if (n.id == t.self_id() && n.bus_port != config_->cluster_port) {
          return Status::InvalidArgument("--cluster-port " + std::to_string(config_->cluster_port) +
                                         " differs from this node's bus port in --initial-cluster"
                                         " or --announce (" +
                                         std::to_string(n.bus_port) + ")");
        }
      }
    }
    if (t.announced() && t.self().client_port != config_->port) {
      // Clients are sent to the announced port: it must be the one this node listens on.
      return Status::InvalidArgument("--announce names client port " +
                                     std::to_string(t.self().client_port) +
                                     ", but this node listens on --port " +
                                     std::to_string(config_->port));
    }
    s = CheckIdentity(store_.get(), "cluster_id", t.cluster_id());
    if (!s.ok()) return s;
    cluster::MultiRaftOptions mo;
    mo.tick_ms = config_->raft_tick_ms;
    mo.snapshot_entries = static_cast<uint64_t>(config_->snapshot_entries);
    mo.max_entry_bytes = static_cast<size_t>(config_->raft_entry_max_bytes);
    mo.snapshot_ingest_bytes = static_cast<uint64_t>(config_->snapshot_ingest_bytes);
    mo.log_segment_bytes = static_cast<uint64_t>(config_->raft_log_segment_bytes);
    mo.keep_entries = std::max<uint64_t>(1, mo.snapshot_entries / 10);
    mo.fsync = config_->fsync.load();
    mo.snapshot_dir = config_->dir + "/snapshots";
    mo.restored = restored;
    mo.accept_data_loss = config_->accept_data_loss;
    multi_raft_ = std::make_unique<cluster::MultiRaftNode>(store_.get(), state_machine_.get(),
                                                           std::move(t), mo);
    replicator_ = multi_raft_.get();
    // Another node's PUBLISH (pubsub_family.cc), for this node's subscribers.
    multi_raft_->SetNodeMessageHandler([this](uint64_t, std::string_view body) {
      bool shard = false;
      std::string_view channel, message;
      if (DecodePublishMessage(body, &shard, &channel, &message)) {
        pubsub_.Publish(shard, channel, message);
      }
    });
  }
  s = replicator_->Start();
  if (!s.ok()) return s;
  // Started on a backup (a copy, or in place): it is live data now, which no retention of the
  // server it was copied from may delete. A cluster node has taken a new incarnation and
  // marked its partitions recovering by now (MultiRaftOptions::restored); until then the
  // marker stays, so a crash before makes the next start do it again.
  if (restored && Backups::ForgetMarker(config_->dir)) {
    // The removal itself must survive a power cut: a marker that came back would make the
    // directory a backup again, one the retention of the server it came from may delete.
    Status synced = SyncDir(config_->dir);
    if (!synced.ok()) LOG_WARNING("%s", synced.ToString().c_str());
    LOG_NOTICE("%s was a backup; it is this server's data directory now", config_->dir.c_str());
  }
  if (config_->backup_dir.empty()) config_->backup_dir = Backups::DefaultDir(config_->dir);
  Backups::Options bo;
  bo.dir = config_->backup_dir;  // CONFIG GET shows the one chosen
  bo.keep = config_->backup_keep;
  if (single_node_) bo.changes = [rep = single_node_.get()] { return rep->applied(); };
  backups_ = std::make_unique<Backups>(store_.get(), bo, start_ms_ / 1000);

  ActiveExpiry::Hooks hooks;
  hooks.leader_term = [this](int partition) -> uint64_t {
    if (!Leads(partition)) return 0;
    if (!multi_raft_) return 1;  // a single node leads every partition, in one term
    return std::max<uint64_t>(1, multi_raft_->View(partition).term.load(std::memory_order_relaxed));
  };
  hooks.propose = [this](int partition, std::string command) {
    cluster::Proposal p;
    p.partition = partition;
    p.command = std::move(command);
    replicator_->Propose(std::move(p)).ok();  // if refused, a later pass finds them again
  };
  expiry_ = std::make_unique<ActiveExpiry>(store_.get(), config_->partitions, std::move(hooks));

  // By default one core is left to the apply (or Raft) thread, which every write goes
  // through, and to RocksDB's flushes: on the 2-core development machine two I/O threads ran
  // PING at 72 K/s and one at 100 K/s, its p99 a third (docs/BENCHMARKS.md).
  int threads = config_->threads > 0 ? config_->threads
                                     : static_cast<int>(std::thread::hardware_concurrency()) - 1;
  if (threads <= 0) threads = 1;
  config_->threads = threads;
  // One listening socket, watched by every I/O thread with EPOLLEXCLUSIVE (the kernel wakes
  // one of them per connection). Not SO_REUSEPORT: that would let a second server on the same
  // port silently take half the connections.
  auto fd = net::Listen(config_->bind, config_->port, /*reuse_port=*/false);
  if (!fd.ok()) return fd.status();
  listen_fd_ = fd.value();
  for (int i = 0; i < threads; ++i) {
    auto t = std::make_unique<IoThread>(this, i);
    s = t->Start(listen_fd_);
    if (!s.ok()) return s;
    io_threads_.push_back(std::move(t));
  }
  return Status::Ok();
}

int Server::LowestLedPartition() const {
  for (int p = 0; p < partitions(); ++p) {
    if (Leads(p)) return p;
  }
  return -1;
}

bool Server::Leads(int partition) const {
  if (!multi_raft_) return true;
  return multi_raft_->View(partition).leader.load(std::memory_order_relaxed) ==
         multi_raft_->topology().self_id();
}

bool Server::LocalReadable(int partition, bool readonly) const {
  if (!multi_raft_) return true;
  const cluster::GroupView& v = multi_raft_->View(partition);
  if (readonly && multi_raft_->topology().Hosts(partition) &&
      !v.recovering.load(std::memory_order_relaxed)) {
    return true;
  }
  return v.leader.load(std::memory_order_relaxed) == multi_raft_->topology().self_id() &&
         net::MonotonicUs() < v.lease_until_us.load(std::memory_order_acquire);
}

void Server::AddClientOutput(int64_t delta) {
  const int64_t now = client_output_bytes_.fetch_add(delta, std::memory_order_relaxed) + delta;
  int64_t peak = client_output_bytes_peak_.load(std::memory_order_relaxed);
  while (now > peak &&
         !client_output_bytes_peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

IoThread* Server::FindClient(uint64_t id) {
  for (auto& t : io_threads_) {
    if (t->HasClient(id)) return t.get();
  }
  return nullptr;
}

uint64_t Server::expired_keys() const {
  return state_machine_ ? state_machine_->expired_keys() : 0;
}

void Server::Run() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  timespec tick{0, 100 * 1000 * 1000};
  while (!shutdown_.load()) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) break;
    // CONFIG SET fsync takes effect here.
    if (single_node_) single_node_->set_fsync(config_->fsync.load());
    if (multi_raft_) multi_raft_->set_fsync(config_->fsync.load());
    if (!Paused(true)) expiry_->Cycle(NowMs());  // CLIENT PAUSE: the data stays still
    store_->TidyDeletedRanges(net::MonotonicUs() / 1000);
    SampleOps();
  }
  if (multi_raft_ && hand_off_at_shutdown_.load()) {
    // While the I/O threads still serve: a write to a partition being handed over is held
    // and then answered -MOVED, which clients follow, instead of the -TRYAGAIN of the
    // elections this node's departure would otherwise cost its partitions.
    LOG_NOTICE("shutting down: handing this node's partitions to its peers");
    const int left = multi_raft_->HandOffLeadership();
    if (left > 0) {
      LOG_WARNING("still leading %d partitions (no live peer took them in time)", left);
    } else if (left < 0) {
      LOG_WARNING("the raft thread did not answer the hand-over in time");
    } else {
      LOG_NOTICE("leads no partition now");
    }
  }
  LOG_NOTICE("shutting down: stopping clients, draining the log");
  // Stop taking requests, then let the log drain so every acknowledged write is applied.
  for (auto& t : io_threads_) t->Stop();
  for (auto& t : io_threads_) t->Join();
  background_->Stop();
  replicator_->Stop();
  io_threads_.clear();
  replicator_ = nullptr;
  single_node_.reset();
  multi_raft_.reset();
  expiry_.reset();
  backups_.reset();  // waits for a running backup
  store_.reset();
  LOG_NOTICE("shut down cleanly, every acknowledged write is on disk");
}

void Server::Pause(int64_t until_ms, bool writes_only) {
  std::lock_guard<std::mutex> lock(pause_mu_);
  const int64_t now = net::MonotonicMs();
  const int64_t cur = pause_until_ms_.load();
  const bool active = cur != 0 && now < cur;
  // The stricter kind of an active pause stays; the later end.
  pause_writes_only_.store(writes_only && (!active || pause_writes_only_.load()));
  pause_until_ms_.store(active ? std::max(cur, until_ms) : until_ms);
}

void Server::SampleOps() {
  uint64_t total = 0;
  for (auto& t : io_threads_) total += t->stats().commands.load(std::memory_order_relaxed);
  const int64_t now = NowMs();
  ops_samples_.emplace_back(now, total);
  if (ops_samples_.size() > 16) ops_samples_.erase(ops_samples_.begin());
  const auto& [t0, c0] = ops_samples_.front();
  if (now > t0) instantaneous_ops_.store(static_cast<int64_t>((total - c0) * 1000 / (now - t0)));
}

}  // namespace flin::server
