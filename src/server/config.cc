#include "server/config.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "common/strings.h"
#include "server/keyspace_events.h"

namespace flin::server {
namespace {

struct FlagDoc {
  const char* name;
  const char* def;
  const char* help;
  bool mutable_at_runtime;
};

constexpr FlagDoc kFlags[] = {
    {"bind", "127.0.0.1", "address to listen on", false},
    {"port", "6380", "client port (Redis protocol)", false},
    {"dir", "./flin-data", "data directory (created if missing)", false},
    {"threads", "0", "I/O threads; 0 = one per core but one (at least one)", false},
    {"partitions", "64", "partitions of the keyspace (fixed when the data dir is created)", false},
    {"block-cache", "256mb", "RocksDB block cache size", false},
    {"row-cache", "auto",
     "cache of recently read values in front of RocksDB; auto = 1/8 of the memory the process "
     "may use (the machine's, or its cgroup limit), at least 64mb; 0 = none",
     false},
    {"node-id", "1", "this node's id in --initial-cluster", false},
    {"initial-cluster", "", "id@host:port,... of every node; empty = a single node", false},
    {"replicas", "3", "replicas of each partition (at most the number of nodes)", false},
    {"cluster-port", "0", "cluster bus port; 0 = client port + 10000", false},
    {"announce", "",
     "host:port[:bus-port] where this node is now, if not at its address in --initial-cluster "
     "(a node moved to another machine; the list stays the one the cluster was created with)",
     false},
    {"raft-tick-ms", "50", "Raft tick; elections time out after 10-20 ticks", false},
    {"snapshot-entries", "10000", "compact a partition's Raft log beyond this many entries",
     false},
    {"raft-entry-max-bytes", "8mb",
     "largest write a cluster replicates (the command's bytes; larger ones are refused)", false},
    {"raft-log-segment", "64mb",
     "size of the Raft log's segment files; one is deleted once no partition needs its entries",
     false},
    {"snapshot-ingest-bytes", "64mb",
     "a received partition snapshot this large is installed as an ingested SST file; smaller "
     "ones through the Raft log's write",
     false},
    {"backup-dir", "",
     "where SAVE and BGSAVE put this node's backups (each a data directory of its own); "
     "empty = <dir>-backups",
     false},
    {"backup-keep", "3", "how many backups SAVE and BGSAVE keep (older ones are deleted)", false},
    {"accept-data-loss", "no",
     "yes: a partition whose every replica came back on a backup (or lost its data) elects, "
     "with every replica's vote, the one that knew the most of its committed log; writes no "
     "replica knew were committed are lost. For starting a cluster restored after a disaster",
     false},
    {"fsync", "always", "always | everysec | no: when an acknowledged write is fsynced", true},
    {"requirepass", "", "password clients must AUTH with; empty = none", true},
    {"maxclients", "10000", "maximum simultaneous client connections", true},
    {"max-value-bytes", "64mb", "largest key or value (and bulk argument) accepted", true},
    {"timeout", "0", "close connections idle this many seconds; 0 = never", true},
    {"log-level", "notice", "debug | notice | warning", true},
    {"client-output-soft-limit", "1mb",
     "stop reading a client's requests while its unsent replies exceed this", true},
    {"client-output-hard-limit", "256mb", "disconnect a client whose unsent replies exceed this",
     true},
    {"client-output-total-limit", "1gb",
     "while all clients' unsent replies exceed this, a client with unsent replies is served no "
     "further request until they are sent",
     true},
    {"pending-write-limit", "1gb",
     "writes (their bytes) the node accepted but has not logged yet; beyond this, writes "
     "answer -TRYAGAIN", true},
    {"client-pending-write-limit", "16mb",
     "stop reading a client's requests while its unanswered writes exceed this", true},
    {"client-output-stall-timeout", "10",
     "disconnect a client over the soft limit that has read nothing for this many seconds", true},
    {"slowlog-log-slower-than", "10000",
     "SLOWLOG keeps commands that took at least this many microseconds; negative = none, "
     "0 = all", true},
    {"slowlog-max-len", "128", "SLOWLOG keeps at most this many commands", true},
    {"notify-keyspace-events", "",
     "keyspace notifications to publish, Redis's classes (K E g $ x n A ...); empty = none",
     true},
    {"tracking-table-max-keys", "1000000",
     "keys CLIENT TRACKING remembers for its clients; beyond, keys are invalidated to make "
     "room; 0 = no bound",
     true},
};

const FlagDoc* FindFlag(const std::string& name) {
  for (const auto& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const char* kLogLevels[] = {"debug", "notice", "warning"};

}  // namespace

size_t AutoRowCacheBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t mem = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page)
                                       : 0;
  // A container's limit (cgroup v2, then v1): "max", or v1's huge "no limit", changes nothing.
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream f(path);
    std::string v;
    int64_t limit = 0;
    if (f >> v && ParseInt64(v, &limit) && limit > 0 &&
        (mem == 0 || static_cast<uint64_t>(limit) < mem)) {
      mem = static_cast<uint64_t>(limit);
    }
  }
  return std::max<size_t>(64u << 20, static_cast<size_t>(mem / 8));
}

const char* FsyncName(cluster::FsyncPolicy p) {
  switch (p) {
    case cluster::FsyncPolicy::kAlways: return "always";
    case cluster::FsyncPolicy::kEverySec: return "everysec";
    case cluster::FsyncPolicy::kNo: return "no";
  }
  return "?";
}

std::string Config::requirepass() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requirepass_;
}

void Config::set_requirepass(std::string pw) {
  std::lock_guard<std::mutex> lock(mu_);
  has_password.store(!pw.empty());
  requirepass_ = std::move(pw);
}

std::string Config::Usage() {
  std::ostringstream o;
  o << "Usage: flin-server [--flag value]...\n"
       "Flin: a persistent key-value store speaking the Redis protocol.\n\n";
  for (const auto& f : kFlags) {
    std::string n = std::string("--") + f.name + " VALUE";
    o << "  " << n << std::string(n.size() < 32 ? 32 - n.size() : 1, ' ') << f.help
      << " (default: " << (f.def[0] ? f.def : "\"\"") << ")\n";
  }
  o << "  --config FILE                   read settings from FILE, one \"name value\" per line\n"
       "  --help                          print this help and exit\n";
  return o.str();
}

std::string Config::CanonicalName(std::string_view name) {
  std::string n = ToLower(name);
  return n == "appendfsync" ? std::string("fsync") : n;
}

namespace {

// Redis settings whose one value here is what Flin does. Scripts and tools written for Redis
// set them; that value is accepted and changes nothing, any other is refused with the reason.
struct FixedSetting {
  const char* name;
  const char* value;
  const char* why;
};
constexpr FixedSetting kFixedSettings[] = {
    {"appendonly", "yes", "Flin always logs a write before applying it (see fsync)"},
    {"save", "", "Flin takes no RDB snapshots (SAVE and BGSAVE make backups)"},
    {"maxmemory", "0", "Flin keeps its data on disk and evicts nothing"},
    {"maxmemory-policy", "noeviction", "Flin keeps its data on disk and evicts nothing"},
};

const FixedSetting* FindFixed(const std::string& name) {
  for (const auto& f : kFixedSettings) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

bool IsFixedValue(const FixedSetting& f, const std::string& value) {
  if (std::string_view(f.name) == "maxmemory") {
    int64_t n;
    return ParseMemory(value, &n) && n == 0;
  }
  return ToLower(value) == f.value;
}

}  // namespace

Status Config::Set(const std::string& raw_name, const std::string& value, bool at_startup) {
  const std::string name = CanonicalName(raw_name);
  if (const FixedSetting* fixed = FindFixed(name)) {
    if (IsFixedValue(*fixed, value)) return Status::Ok();
    return Status::InvalidArgument(std::string("only '") + fixed->value + "' is supported: " +
                                   fixed->why);
  }
  const FlagDoc* f = FindFlag(name);
  if (f == nullptr) return Status::NotFound(name);
  if (!at_startup && !f->mutable_at_runtime) {
    return Status::InvalidArgument("can't set immutable config");
  }
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("argument must be " + why);
  };
  int64_t n = 0;
  if (name == "bind") {
    if (value.empty()) return bad("an address");
    bind = value;
  } else if (name == "port") {
    if (!ParseInt64(value, &n) || n < 0 || n > 65535) return bad("a port between 0 and 65535");
    port = static_cast<int>(n);
  } else if (name == "dir") {
    if (value.empty()) return bad("a directory");
    dir = value;
  } else if (name == "threads") {
    if (!ParseInt64(value, &n) || n < 0 || n > 256) return bad("between 0 and 256");
    threads = static_cast<int>(n);
  } else if (name == "partitions") {
    if (!ParseInt64(value, &n) || n < 1 || n > 16384) return bad("between 1 and 16384");
    partitions = static_cast<int>(n);
  } else if (name == "block-cache") {
    if (!ParseMemory(value, &n) || n < (1 << 20)) return bad("a size of at least 1mb");
    block_cache_bytes = static_cast<size_t>(n);
  } else if (name == "row-cache") {
    if (ToLower(value) == "auto") {
      row_cache_bytes = kAutoRowCache;
      return Status::Ok();
    }
    if (!ParseMemory(value, &n) || n < 0) return bad("a size, auto or 0 (none)");
    row_cache_bytes = static_cast<size_t>(n);
  } else if (name == "node-id") {
    if (!ParseInt64(value, &n) || n < 1) return bad("a positive integer");
    node_id = static_cast<uint64_t>(n);
  } else if (name == "initial-cluster") {
    initial_cluster = value;
  } else if (name == "announce") {
    announce = value;
  } else if (name == "backup-dir") {
    backup_dir = value;
  } else if (name == "backup-keep") {
    if (!ParseInt64(value, &n) || n < 1 || n > 1000) return bad("between 1 and 1000");
    backup_keep = static_cast<int>(n);
  } else if (name == "accept-data-loss") {
    const std::string v = ToLower(value);
    if (v != "yes" && v != "no") return bad("yes or no");
    accept_data_loss = v == "yes";
  } else if (name == "replicas") {
    if (!ParseInt64(value, &n) || n < 1 || n > 7) return bad("between 1 and 7");
    replicas = static_cast<int>(n);
  } else if (name == "cluster-port") {
    if (!ParseInt64(value, &n) || n < 0 || n > 65535) return bad("a port between 0 and 65535");
    cluster_port = static_cast<int>(n);
  } else if (name == "raft-tick-ms") {
    if (!ParseInt64(value, &n) || n < 1 || n > 10000) return bad("between 1 and 10000");
    raft_tick_ms = static_cast<int>(n);
  } else if (name == "snapshot-entries") {
    if (!ParseInt64(value, &n) || n < 10) return bad("at least 10");
    snapshot_entries = n;
  } else if (name == "raft-log-segment") {
    if (!ParseMemory(value, &n) || n < (64 << 10) || n > (1ll << 30)) {
      return bad("a size between 64kb and 1gb");
    }
    raft_log_segment_bytes = n;
  } else if (name == "snapshot-ingest-bytes") {
    if (!ParseMemory(value, &n) || n < 0) return bad("a size (0: every snapshot)");
    snapshot_ingest_bytes = n;
  } else if (name == "raft-entry-max-bytes") {
    // At most half the cluster bus's frame limit (64 MiB), so one entry always fits a frame.
    if (!ParseMemory(value, &n) || n < 1024 || n > (32LL << 20)) return bad("a size from 1kb to 32mb");
    raft_entry_max_bytes = n;
  } else if (name == "fsync") {
    std::string v = ToLower(value);
    if (v == "always") {
      fsync = cluster::FsyncPolicy::kAlways;
    } else if (v == "everysec") {
      fsync = cluster::FsyncPolicy::kEverySec;
    } else if (v == "no") {
      fsync = cluster::FsyncPolicy::kNo;
    } else {
      return bad("one of always, everysec, no");
    }
  } else if (name == "requirepass") {
    set_requirepass(value);
  } else if (name == "maxclients") {
    if (!ParseInt64(value, &n) || n < 1 || n > 1000000) return bad("between 1 and 1000000");
    maxclients = n;
  } else if (name == "max-value-bytes") {
    if (!ParseMemory(value, &n) || n < 1 || n > (1LL << 30)) return bad("a size from 1 to 1gb");
    max_value_bytes = n;
  } else if (name == "timeout") {
    if (!ParseInt64(value, &n) || n < 0) return bad("a non-negative number of seconds");
    timeout_s = n;
  } else if (name == "log-level") {
    std::string v = ToLower(value);
    int level = -1;
    for (int i = 0; i < 3; ++i) {
      if (v == kLogLevels[i]) level = i;
    }
    if (level < 0) return bad("one of debug, notice, warning");
    log_level = level;
    SetLogLevel(static_cast<LogLevel>(level));
  } else if (std::atomic<int64_t>* limit = BufferLimit(name)) {
    if (!ParseMemory(value, &n) || n < 1024) return bad("a size of at least 1kb");
    *limit = n;
  } else if (name == "client-output-stall-timeout") {
    if (!ParseInt64(value, &n) || n < 1) return bad("a positive number of seconds");
    output_stall_s = n;
  } else if (name == "slowlog-log-slower-than") {
    if (!ParseInt64(value, &n) || n < -1) return bad("-1 (none), 0 (all) or more microseconds");
    slowlog_slower_than_us = n;
  } else if (name == "notify-keyspace-events") {
    int flags = 0;
    if (!ParseKeyspaceEvents(value, &flags)) {
      return Status::InvalidArgument("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    }
    notify_keyspace_events = flags;
  } else if (name == "slowlog-max-len") {
    if (!ParseInt64(value, &n) || n < 0) return bad("a non-negative integer");
    slowlog_max_len = n;
  } else if (name == "tracking-table-max-keys") {
    if (!ParseInt64(value, &n) || n < 0) return bad("a non-negative integer");
    tracking_table_max_keys = n;
  }
  return Status::Ok();
}

std::atomic<int64_t>* Config::BufferLimit(const std::string& name) {
  if (name == "client-output-soft-limit") return &output_soft_bytes;
  if (name == "client-output-hard-limit") return &output_hard_bytes;
  if (name == "client-output-total-limit") return &output_total_bytes;
  if (name == "pending-write-limit") return &pending_write_bytes;
  if (name == "client-pending-write-limit") return &client_pending_write_bytes;
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> Config::Get(const std::string& pattern) const {
  std::vector<std::pair<std::string, std::string>> all = {
      {"bind", bind},
      {"port", std::to_string(port)},
      {"dir", dir},
      {"threads", std::to_string(threads)},
      {"partitions", std::to_string(partitions)},
      {"block-cache", std::to_string(block_cache_bytes)},
      {"row-cache", std::to_string(row_cache_bytes)},
      {"node-id", std::to_string(node_id)},
      {"initial-cluster", initial_cluster},
      {"replicas", std::to_string(replicas)},
      {"cluster-port", std::to_string(cluster_port)},
      {"announce", announce},
      {"backup-dir", backup_dir},
      {"backup-keep", std::to_string(backup_keep)},
      {"accept-data-loss", accept_data_loss ? "yes" : "no"},
      {"raft-tick-ms", std::to_string(raft_tick_ms)},
      {"snapshot-entries", std::to_string(snapshot_entries)},
      {"raft-entry-max-bytes", std::to_string(raft_entry_max_bytes)},
      {"raft-log-segment", std::to_string(raft_log_segment_bytes)},
      {"snapshot-ingest-bytes", std::to_string(snapshot_ingest_bytes)},
      {"fsync", FsyncName(fsync.load())},
      {"requirepass", requirepass()},
      {"maxclients", std::to_string(maxclients.load())},
      {"max-value-bytes", std::to_string(max_value_bytes.load())},
      {"timeout", std::to_string(timeout_s.load())},
      {"log-level", kLogLevels[log_level.load()]},
      {"client-output-soft-limit", std::to_string(output_soft_bytes.load())},
      {"client-output-hard-limit", std::to_string(output_hard_bytes.load())},
      {"client-output-total-limit", std::to_string(output_total_bytes.load())},
      {"client-output-stall-timeout", std::to_string(output_stall_s.load())},
      {"pending-write-limit", std::to_string(pending_write_bytes.load())},
      {"client-pending-write-limit", std::to_string(client_pending_write_bytes.load())},
      {"slowlog-log-slower-than", std::to_string(slowlog_slower_than_us.load())},
      {"slowlog-max-len", std::to_string(slowlog_max_len.load())},
      {"notify-keyspace-events", FormatKeyspaceEvents(notify_keyspace_events.load())},
      {"tracking-table-max-keys", std::to_string(tracking_table_max_keys.load())},
      // Redis's names for the same things, for tools that ask Redis's questions.
      {"appendfsync", FsyncName(fsync.load())},
      {"cluster-enabled", initial_cluster.empty() ? "no" : "yes"},
      {"databases", "1"},
  };
  for (const auto& f : kFixedSettings) all.emplace_back(f.name, f.value);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& kv : all) {
    if (GlobMatch(pattern, kv.first, true)) out.push_back(std::move(kv));
  }
  return out;
}

Status Config::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read config file " + path);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos || line[start] == '#') continue;
    size_t end = line.find_first_of(" \t", start);
    std::string name = line.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string value;
    if (end != std::string::npos) {
      size_t vs = line.find_first_not_of(" \t", end);
      if (vs != std::string::npos) {
        size_t ve = line.find_last_not_of(" \t\r");
        value = line.substr(vs, ve - vs + 1);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
      }
    }
    Status s = Set(name, value, true);
    if (s.IsNotFound()) {
      return Status::InvalidArgument(path + ":" + std::to_string(lineno) + ": unknown setting '" +
                                     name + "'");
    }
    if (!s.ok()) {
      return Status::InvalidArgument(path + ":" + std::to_string(lineno) + ": bad value for '" +
                                     name + "': " + s.message());
    }
  }
  return Status::Ok();
}

Status Config::ParseArgs(int argc, char** argv, bool* exit_now) {
  *exit_now = false;
  // A config file first, so that flags on the command line override it.
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--config") {
      if (i + 1 >= argc) return Status::InvalidArgument("--config needs a file name");
      Status s = LoadFile(argv[i + 1]);
      if (!s.ok()) return s;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *exit_now = true;
      return Status::Ok();
    }
    if (arg.rfind("--", 0) != 0) return Status::InvalidArgument("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else {
      if (i + 1 >= argc) return Status::InvalidArgument("flag --" + name + " needs a value");
      value = argv[++i];
    }
    if (name == "config") continue;
    Status s = Set(name, value, true);
    if (s.IsNotFound()) return Status::InvalidArgument("unknown flag --" + name);
    if (!s.ok()) return Status::InvalidArgument("bad value '" + value + "' for --" + name + ": " +
                                                s.message());
  }
  return Status::Ok();
}

}  // namespace flin::server
