#pragma once
// Config: every setting of flin-server, from flags (--name value), a --config file holding the
// same names ("name value" per line, '#' comments) and, for the mutable ones, CONFIG SET.
//
// Threading: parsed once on the main thread. The settings CONFIG SET may change at run time
// are atomics (or guarded by mu_), so I/O threads read them without a lock.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/replicator.h"
#include "common/status.h"

namespace flin::server {

struct Config {
  // Fixed at start.
  std::string bind = "127.0.0.1";
  int port = 6380;
  std::string dir = "./flin-data";
  int threads = 0;                          // 0: one per core but one, at least one
  int partitions = 64;
  size_t block_cache_bytes = 256u << 20;
  size_t row_cache_bytes = kAutoRowCache;   // storage::RowCache; 0: none
  static constexpr size_t kAutoRowCache = SIZE_MAX;  // "auto": AutoRowCacheBytes() at start
  // Cluster (all fixed at start). Without initial_cluster the node is a cluster of one.
  uint64_t node_id = 1;
  std::string initial_cluster;              // "1@host:port,2@host:port,..."
  int replicas = 3;
  int cluster_port = 0;                     // 0: client port + 10000
  std::string announce;                     // "host:port[:bus]"; empty: the list's address
  std::string backup_dir;                   // SAVE/BGSAVE; empty: <dir>-backups
  int backup_keep = 3;
  int raft_tick_ms = 50;
  int64_t snapshot_entries = 10000;         // compact a partition's Raft log beyond this
  int64_t raft_entry_max_bytes = 8 << 20;   // a cluster refuses writes larger than this
  int64_t snapshot_ingest_bytes = 64 << 20; // snapshots from this size on are ingested
  int64_t raft_log_segment_bytes = 64 << 20; // the Raft log's segment files (LogStore)
  bool accept_data_loss = false;            // raft::Config::accept_data_loss, every partition
  // Changeable with CONFIG SET.
  std::atomic<cluster::FsyncPolicy> fsync{cluster::FsyncPolicy::kAlways};
  std::atomic<int64_t> maxclients{10000};
  std::atomic<int64_t> max_value_bytes{64 << 20};
  std::atomic<int64_t> timeout_s{0};        // idle client timeout, 0 = never
  std::atomic<int> log_level{1};            // 0 debug, 1 notice, 2 warning
  std::atomic<int64_t> output_soft_bytes{1 << 20};   // stop reading requests above this
  std::atomic<int64_t> output_hard_bytes{256 << 20}; // disconnect above this
  std::atomic<int64_t> output_total_bytes{1ll << 30}; // all clients' unsent replies: above
                                                      // this, a client with unsent replies
                                                      // is served no further request
  std::atomic<int64_t> pending_write_bytes{1ll << 30};      // the node's writes not yet
                                                           // logged; beyond: -TRYAGAIN
  std::atomic<int64_t> client_pending_write_bytes{16 << 20};  // stop reading a client's
                                                           // requests while its writes in
                                                           // flight exceed this
  std::atomic<int64_t> output_stall_s{10};  // disconnect a client above the soft limit that
                                            // has taken no bytes for this long
  std::atomic<int64_t> slowlog_slower_than_us{10000};  // SLOWLOG's threshold; < 0: off
  std::atomic<int64_t> slowlog_max_len{128};
  std::atomic<int> notify_keyspace_events{0};  // KeyspaceEventFlags (keyspace_events.h)
  std::atomic<int64_t> tracking_table_max_keys{1000000};  // CLIENT TRACKING's keys; 0: no bound

  mutable std::mutex mu_;
  std::string requirepass_;                 // guarded by mu_; empty: no password
  std::atomic<bool> has_password{false};

  std::string requirepass() const;
  void set_requirepass(std::string pw);

  // Parses argv. On --help, prints usage and sets *exit_now. Errors name the bad flag.
  Status ParseArgs(int argc, char** argv, bool* exit_now);
  Status LoadFile(const std::string& path);
  // A setting's own name for `name` as a client may spell it: lower case, and Redis's
  // "appendfsync" for "fsync".
  static std::string CanonicalName(std::string_view name);
  // One setting by name, as CONFIG SET sees it ("fsync", "maxclients", ...).
  Status Set(const std::string& name, const std::string& value, bool at_startup);
  // (name, value) pairs whose names match `pattern` (glob), for CONFIG GET.
  std::vector<std::pair<std::string, std::string>> Get(const std::string& pattern) const;
  static std::string Usage();

 private:
  // The byte limits of client buffers and pending writes (sizes of at least 1kb) by name.
  std::atomic<int64_t>* BufferLimit(const std::string& name);
};

const char* FsyncName(cluster::FsyncPolicy p);
// The row cache for --row-cache auto: 1/8 of the memory this process may use (the machine's,
// or its cgroup's limit if lower), at least 64 MiB. A server owns its machine's memory as
// databases do (TiKV's block cache takes 45% by default); the cache fills only with values
// read, and a miss costs a RocksDB read: with 64 MiB, GET of 100 K 4 KiB values ran at 0.2x
// Redis (pipeline 16), at 512 MiB at 0.96x.
size_t AutoRowCacheBytes();

}  // namespace flin::server
