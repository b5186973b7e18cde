// Server commands: INFO COMMAND CONFIG TIME SHUTDOWN.

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "common/strings.h"
#include "server/client_conn.h"
#include "server/command.h"
#include "server/command_docs.h"
#include "server/io_thread.h"
#include "server/server.h"
#include "storage/encoding.h"

namespace flin::server {
namespace {

constexpr const char* kFlinVersion = "0.1.0";

// ---- INFO ----

int64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * sysconf(_SC_PAGESIZE);
}

std::string Human(int64_t bytes) {
  char buf[32];
  if (bytes < 1024) {
    snprintf(buf, sizeof(buf), "%lldB", static_cast<long long>(bytes));
  } else if (bytes < (1 << 20)) {
    snprintf(buf, sizeof(buf), "%.2fK", bytes / 1024.0);
  } else if (bytes < (1LL << 30)) {
    snprintf(buf, sizeof(buf), "%.2fM", bytes / 1048576.0);
  } else {
    snprintf(buf, sizeof(buf), "%.2fG", bytes / 1073741824.0);
  }
  return buf;
}

struct Totals {
  uint64_t commands = 0, connections = 0, rejected = 0, net_in = 0, net_out = 0, hits = 0,
           misses = 0, errors = 0;
};

Totals SumStats(Server& server) {
  Totals t;
  for (auto& io : server.io_threads()) {
    IoStats& s = io->stats();
    t.commands += s.commands.load(std::memory_order_relaxed);
    t.connections += s.connections.load(std::memory_order_relaxed);
    t.rejected += s.rejected_connections.load(std::memory_order_relaxed);
    t.net_in += s.net_in.load(std::memory_order_relaxed);
    t.net_out += s.net_out.load(std::memory_order_relaxed);
    t.hits += s.keyspace_hits.load(std::memory_order_relaxed);
    t.misses += s.keyspace_misses.load(std::memory_order_relaxed);
    t.errors += s.errors.load(std::memory_order_relaxed);
  }
  return t;
}

void Line(std::string* o, std::string_view k, const std::string& v) {
  o->append(k);
  o->push_back(':');
  o->append(v);
  o->append("\r\n");
}
void Line(std::string* o, std::string_view k, int64_t v) { Line(o, k, std::to_string(v)); }

void InfoServer(CommandContext& ctx, std::string* o) {
  Server& s = ctx.server;
  utsname u{};
  uname(&u);
  const int64_t uptime = (ctx.now_ms - s.start_ms()) / 1000;
  o->append("# Server\r\n");
  Line(o, "redis_version", "7.0.0");
  Line(o, "flin_version", kFlinVersion);
  Line(o, "redis_mode", ctx.server.cluster() != nullptr ? "cluster" : "standalone");
  Line(o, "os", std::string(u.sysname) + " " + u.release + " " + u.machine);
  Line(o, "arch_bits", 64);
  Line(o, "multiplexing_api", "epoll");
  Line(o, "gcc_version", std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
                             std::to_string(__GNUC_PATCHLEVEL__));
  Line(o, "process_id", getpid());
  Line(o, "run_id", s.run_id());
  Line(o, "tcp_port", s.config().port);
  Line(o, "server_time_usec", ctx.now_ms * 1000);
  Line(o, "uptime_in_seconds", uptime);
  Line(o, "uptime_in_days", uptime / 86400);
  Line(o, "hz", 10);
  Line(o, "io_threads_active", static_cast<int64_t>(s.io_threads().size()));
  Line(o, "partitions", s.partitions());
  o->append("\r\n");
}

void InfoClients(CommandContext& ctx, std::string* o) {
  o->append("# Clients\r\n");
  Line(o, "connected_clients", ctx.server.connected_clients.load());
  Line(o, "maxclients", ctx.server.config().maxclients.load());
  Line(o, "blocked_clients", 0);
  Line(o, "tracking_clients", static_cast<int64_t>(ctx.server.tracking().NumClients()));
  o->append("\r\n");
}

void InfoMemory(CommandContext& ctx, std::string* o) {
  storage::Store& st = ctx.server.store();
  const int64_t rss = RssBytes();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const int64_t peak = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  const int64_t memtables = static_cast<int64_t>(st.IntProperty("rocksdb.cur-size-all-mem-tables"));
  const int64_t cache = static_cast<int64_t>(st.BlockCacheUsage());
  o->append("# Memory\r\n");
  // Flin does not count its allocations; used_memory is the resident set.
  Line(o, "used_memory", rss);
  Line(o, "used_memory_human", Human(rss));
  Line(o, "used_memory_rss", rss);
  Line(o, "used_memory_rss_human", Human(rss));
  Line(o, "used_memory_peak", peak);
  Line(o, "used_memory_peak_human", Human(peak));
  Line(o, "total_system_memory", static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE));
  Line(o, "maxmemory", 0);
  Line(o, "maxmemory_policy", "noeviction");
  Line(o, "rocksdb_block_cache_usage", cache);
  Line(o, "rocksdb_block_cache_capacity", static_cast<int64_t>(ctx.server.config().block_cache_bytes));
  Line(o, "rocksdb_memtables", memtables);
  const storage::RowCache::Stats rows = st.RowCacheStats();
  Line(o, "row_cache_capacity", static_cast<int64_t>(st.RowCacheCapacity()));
  Line(o, "row_cache_bytes", static_cast<int64_t>(rows.bytes));
  Line(o, "row_cache_entries", static_cast<int64_t>(rows.entries));
  Line(o, "row_cache_hits", static_cast<int64_t>(rows.hits));
  Line(o, "row_cache_misses", static_cast<int64_t>(rows.misses));
  o->append("\r\n");
}

void InfoPersistence(CommandContext& ctx, std::string* o) {
  storage::Store& st = ctx.server.store();
  o->append("# Persistence\r\n");
  Line(o, "loading", 0);
  Line(o, "aof_enabled", 1);
  Line(o, "fsync", FsyncName(ctx.server.config().fsync.load()));
  if (const auto* rep = ctx.server.single_node()) {
    Line(o, "aof_last_write_status", rep->write_error() ? "err" : "ok");
    Line(o, "log_applied_entries", static_cast<int64_t>(rep->applied()));
    Line(o, "log_write_batches", static_cast<int64_t>(rep->batches()));
    Line(o, "log_fsyncs", static_cast<int64_t>(rep->fsyncs()));
    Line(o, "last_fsync_time_ms", rep->last_sync_unix_ms());
  }
  if (const Backups* b = ctx.server.backups()) {
    Line(o, "rdb_changes_since_last_save", static_cast<int64_t>(b->changes_since_last_save()));
    Line(o, "rdb_bgsave_in_progress", b->in_progress() ? 1 : 0);
    Line(o, "rdb_last_save_time", b->last_save_unix());
    Line(o, "rdb_last_bgsave_status", b->last_ok() ? "ok" : "err");
    Line(o, "rdb_last_bgsave_time_sec", b->last_seconds());
    Line(o, "rdb_current_bgsave_time_sec", b->current_seconds());
    Line(o, "rdb_saves", static_cast<int64_t>(b->saves()));
    Line(o, "backup_dir", b->dir());
    Line(o, "backup_last_path", b->last_path());
    Line(o, "backup_last_error", b->last_error());
  }
  Line(o, "rocksdb_live_data_size", static_cast<int64_t>(st.IntProperty("rocksdb.estimate-live-data-size")));
  Line(o, "rocksdb_sst_files_size", static_cast<int64_t>(st.IntProperty("rocksdb.total-sst-files-size")));
  Line(o, "rocksdb_estimate_num_keys", static_cast<int64_t>(st.IntProperty("rocksdb.estimate-num-keys")));
  o->append("\r\n");
}

void InfoStats(CommandContext& ctx, std::string* o) {
  Totals t = SumStats(ctx.server);
  o->append("# Stats\r\n");
  Line(o, "total_connections_received", static_cast<int64_t>(t.connections));
  Line(o, "total_commands_processed", static_cast<int64_t>(t.commands));
  Line(o, "instantaneous_ops_per_sec", ctx.server.InstantaneousOps());
  Line(o, "total_net_input_bytes", static_cast<int64_t>(t.net_in));
  Line(o, "total_net_output_bytes", static_cast<int64_t>(t.net_out));
  Line(o, "rejected_connections", static_cast<int64_t>(t.rejected));
  Line(o, "expired_keys", static_cast<int64_t>(ctx.server.expired_keys()));
  Line(o, "evicted_keys", 0);
  Line(o, "keyspace_hits", static_cast<int64_t>(t.hits));
  Line(o, "keyspace_misses", static_cast<int64_t>(t.misses));
  const PubSub& pubsub = ctx.server.pubsub();
  Line(o, "pubsub_channels", static_cast<int64_t>(pubsub.NumChannels(false)));
  Line(o, "pubsub_patterns", static_cast<int64_t>(pubsub.NumPatterns()));
  Line(o, "pubsubshard_channels", static_cast<int64_t>(pubsub.NumChannels(true)));
  const Tracking& tracking = ctx.server.tracking();
  Line(o, "tracking_total_keys", static_cast<int64_t>(tracking.NumKeys()));
  Line(o, "tracking_total_items", static_cast<int64_t>(tracking.NumItems()));
  Line(o, "tracking_total_prefixes", static_cast<int64_t>(tracking.NumPrefixes()));
  Line(o, "total_error_replies", static_cast<int64_t>(t.errors));
  const ByteBudget& pw = ctx.server.pending_writes();
  Line(o, "pending_write_bytes", static_cast<int64_t>(pw.used()));
  Line(o, "pending_write_bytes_peak", static_cast<int64_t>(pw.peak()));
  Line(o, "pending_write_refusals", static_cast<int64_t>(pw.refusals()));
  Line(o, "client_output_bytes", ctx.server.client_output_bytes());
  Line(o, "client_output_bytes_peak", ctx.server.client_output_bytes_peak());
  o->append("\r\n");
}

// Walks every key of `it` (an iterator over the store): runs on the background worker.
void InfoKeyspace(rocksdb::Iterator* it, int64_t now_ms, std::string* o) {
  int64_t keys = 0, expires = 0;
  long double ttl_sum = 0;
  for (it->Seek(std::string(1, storage::kDataPrefix)); it->Valid(); it->Next()) {
    if (it->key().size() == 0 || it->key()[0] != storage::kDataPrefix) break;
    auto v = storage::DecodeValue(std::string_view(it->value().data(), it->value().size()));
    if (!v || v->Expired(now_ms)) continue;
    ++keys;
    if (v->expire_at_ms != 0) {
      ++expires;
      ttl_sum += v->expire_at_ms - now_ms;
    }
  }
  o->append("# Keyspace\r\n");
  if (keys > 0) {
    o->append("db0:keys=" + std::to_string(keys) + ",expires=" + std::to_string(expires) +
              ",avg_ttl=" + std::to_string(expires ? static_cast<int64_t>(ttl_sum / expires) : 0) +
              "\r\n");
  }
  o->append("\r\n");
}

// Flin offers no Redis replication (SYNC, PSYNC, REPLICAOF): every node is a primary to Redis
// clients, with no Redis replicas, as CLUSTER NODES and ROLE say too. A cluster's replicas
// are Raft's (INFO cluster).
void InfoReplication(CommandContext& ctx, std::string* o) {
  o->append("# Replication\r\n");
  o->append("role:master\r\n");
  Line(o, "connected_slaves", 0);
  o->append("master_failover_state:no-failover\r\n");
  o->append("master_replid:" + ctx.server.run_id() + "\r\n");
  Line(o, "master_repl_offset", 0);
  o->append("\r\n");
}

void InfoCluster(CommandContext& ctx, std::string* o) {
  o->append("# Cluster\r\n");
  cluster::MultiRaftNode* mr = ctx.server.cluster();
  Line(o, "cluster_enabled", mr ? 1 : 0);
  if (mr) {
    Line(o, "node_id", static_cast<int64_t>(mr->topology().self_id()));
    // Leadership lost or not moved as planned, over all partitions since start (a planned
    // move that completes within an election timeout counts nothing).
    const auto events = mr->Events();
    Line(o, "raft_election_timeouts", static_cast<int64_t>(events.election_timeouts));
    Line(o, "raft_quorum_losses", static_cast<int64_t>(events.quorum_losses));
    Line(o, "raft_transfers_aborted", static_cast<int64_t>(events.transfers_aborted));
    // Snapshots built or streamed at once: the most since start (the current number is in
    // raft_snapshots_in_flight below), and those that waited for their turn.
    Line(o, "raft_snapshots_in_flight_peak", static_cast<int64_t>(mr->snapshots_in_flight_peak()));
    Line(o, "raft_snapshots_deferred", static_cast<int64_t>(mr->snapshots_deferred()));
    // Snapshots this node failed to build, and received chunks it failed to keep (a full or
    // failing disk; warned of once a minute).
    Line(o, "raft_snapshot_build_failures", static_cast<int64_t>(mr->snapshot_build_failures()));
    Line(o, "raft_snapshot_chunks_not_kept", static_cast<int64_t>(mr->snapshot_chunks_not_kept()));
    // The Raft log's fsyncs: the longest, and how many took over a quarter of the election
    // timeout (a disk that slow can cost partitions their leaders).
    Line(o, "raft_log_sync_max_ms", mr->log_sync_max_ms());
    Line(o, "raft_slow_log_syncs", static_cast<int64_t>(mr->slow_log_syncs()));
    Line(o, "raft_log_segments", static_cast<int64_t>(mr->log_segments()));
    Line(o, "raft_log_segments_deleted", static_cast<int64_t>(mr->log_segments_deleted()));
    // Peer messages dropped because no correct peer sends them (warned of once a minute).
    Line(o, "raft_peer_messages_refused", static_cast<int64_t>(mr->peer_messages_refused()));
    for (const auto& peer : mr->Peers()) {
      // Where this node sends its clients and dials it: moved nodes show their new address.
      const auto at = mr->topology().Find(peer.id);
      o->append("peer_" + std::to_string(peer.id) + ":connected=" + (peer.connected ? "1" : "0") +
                ",sent_frames=" + std::to_string(peer.sent_frames) +
                ",received_frames=" + std::to_string(peer.received_frames) +
                ",dropped=" + std::to_string(peer.dropped) +
                (at ? ",address=" + at->ClientAddress() + "@" + std::to_string(at->bus_port) : "") +
                "\r\n");
    }
    o->append(mr->StatusReport());
  }
  o->append("\r\n");
}

void InfoCommandStats(CommandContext& ctx, std::string* o) {
  o->append("# Commandstats\r\n");
  const auto& table = ctx.server.commands();
  for (const CommandSpec* spec : table.All()) {
    uint64_t calls = 0, usec = 0, failed = 0, rejected = 0;
    for (auto& io : ctx.server.io_threads()) {
      auto& pc = io->stats().per_command[table.IndexOf(spec)];
      calls += pc.calls.load(std::memory_order_relaxed);
      usec += pc.usec.load(std::memory_order_relaxed);
      failed += pc.failed.load(std::memory_order_relaxed);
      rejected += pc.rejected.load(std::memory_order_relaxed);
    }
    if (calls + rejected == 0) continue;
    char per_call[32];
    snprintf(per_call, sizeof(per_call), "%.2f", calls ? static_cast<double>(usec) / calls : 0.0);
    o->append("cmdstat_" + spec->name + ":calls=" + std::to_string(calls) +
              ",usec=" + std::to_string(usec) + ",usec_per_call=" + per_call +
              ",rejected_calls=" + std::to_string(rejected) +
              ",failed_calls=" + std::to_string(failed) + "\r\n");
  }
  o->append("\r\n");
}

void InfoCmd(CommandContext& ctx) {
  using Section = void (*)(CommandContext&, std::string*);
  static const std::pair<const char*, Section> kSections[] = {
      {"server", InfoServer},          {"clients", InfoClients}, {"memory", InfoMemory},
      {"persistence", InfoPersistence}, {"stats", InfoStats},
      {"replication", InfoReplication}, {"keyspace", nullptr},
      {"cluster", InfoCluster},        {"commandstats", InfoCommandStats}};
  std::vector<std::string> wanted;
  for (size_t i = 1; i < ctx.args.size(); ++i) wanted.push_back(ToLower(ctx.args[i]));
  if (wanted.empty()) wanted.push_back("default");
  auto want = [&](std::string_view name) {
    for (const auto& w : wanted) {
      if (w == name || w == "all" || w == "everything") return true;
      if (w == "default" && name != "commandstats") return true;
    }
    return false;
  };
  // Every section but keyspace is written now; keyspace (null above) walks every key, so it
  // is written on the background worker, between the sections before and after it.
  std::string before, after;
  bool keyspace = false;
  for (const auto& [name, fn] : kSections) {
    if (!want(name)) continue;
    if (fn == nullptr) {
      keyspace = true;
    } else {
      fn(ctx, keyspace ? &after : &before);
    }
  }
  const auto finish = [](std::string& o, protocol::ReplyWriter& out) {
    if (o.size() >= 2) o.resize(o.size() - 2);  // no blank line after the last section
    out.Verbatim(o);
  };
  if (!keyspace) return finish(before, ctx.out);
  // The iterator is taken now: the walk sees the store as of this command.
  std::shared_ptr<rocksdb::Iterator> it = ctx.server.store().NewIterator();
  ctx.Offload([it, now = ctx.now_ms, before = std::move(before), after = std::move(after),
               finish](protocol::ReplyWriter& out) {
    std::string o = before;
    InfoKeyspace(it.get(), now, &o);
    o += after;
    finish(o, out);
  });
}

// ---- COMMAND ----

void WriteFlags(protocol::ReplyWriter& w, const CommandSpec& s) {
  std::vector<const char*> flags;
  if (s.Has(kCmdWrite)) flags.push_back("write");
  if (s.Has(kCmdReadOnly)) flags.push_back("readonly");
  // Redis 7.0 flags "denyoom" the writes that may grow memory: not those that only remove,
  // rename or change expiry (nor scripts, which Flin logs as writes).
  static const std::set<std::string, std::less<>> kCannotGrow = {
      "del",    "unlink",  "expire",   "pexpire",  "expireat", "pexpireat", "persist",
      "rename", "renamenx", "getdel",  "getex",    "flushall", "flushdb",   "hdel",
      "srem",   "spop",    "smove",    "lpop",     "rpop",     "lrem",      "ltrim",
      "lmpop",  "pfcount", "eval",     "evalsha",  "eval_ro",  "evalsha_ro"};
  if (s.Has(kCmdWrite) && !kCannotGrow.contains(s.name)) flags.push_back("denyoom");
  if (s.Has(kCmdAdmin)) flags.push_back("admin");
  if (s.Has(kCmdPubSub)) flags.push_back("pubsub");
  if (s.Has(kCmdNoAuth)) flags.push_back("no_auth");
  if (s.Has(kCmdFast)) flags.push_back("fast");
  if (s.Has(kCmdLoading)) flags.push_back("loading");
  if (s.Has(kCmdStale)) flags.push_back("stale");
  if (s.key_positions != nullptr) flags.push_back("movablekeys");
  w.SetHeader(flags.size());
  for (const char* f : flags) w.Simple(f);
}

void WriteInfo(protocol::ReplyWriter& w, const CommandSpec& s) {
  w.ArrayHeader(10);
  w.Bulk(s.name);
  w.Integer(s.arity);
  WriteFlags(w, s);
  w.Integer(s.first_key);
  w.Integer(s.last_key);
  w.Integer(s.step);
  w.SetHeader(1);
  w.Simple("@" + (s.group == "generic" ? std::string("keyspace") : s.group));
  w.ArrayHeader(0);  // tips
  w.ArrayHeader(0);  // key specs
  w.ArrayHeader(s.subcommands.size());
  for (const auto& sub : s.subcommands) {
    w.ArrayHeader(10);
    w.Bulk(sub);
    w.Integer(-2);
    w.SetHeader(0);
    w.Integer(0);
    w.Integer(0);
    w.Integer(0);
    w.SetHeader(0);
    w.ArrayHeader(0);
    w.ArrayHeader(0);
    w.ArrayHeader(0);
  }
}

void WriteDocs(protocol::ReplyWriter& w, const CommandSpec& s) {
  std::string_view syntax = CommandSyntax(s.name);
  w.Bulk(s.name);
  w.MapHeader(syntax.empty() ? 4 : 5);
  w.Bulk("summary");
  w.Bulk(s.summary);
  w.Bulk("since");
  w.Bulk(s.since);
  w.Bulk("group");
  w.Bulk(s.group);
  w.Bulk("complexity");
  w.Bulk(s.complexity);
  if (!syntax.empty()) {
    w.Bulk("arguments");
    WriteArgumentDocs(w, syntax);
  }
}

std::vector<const CommandSpec*> Visible(const CommandTable& t) {
  std::vector<const CommandSpec*> v;
  for (const CommandSpec* s : t.All()) {
    if (!s->Has(kCmdInternal)) v.push_back(s);
  }
  return v;
}

void CommandCmd(CommandContext& ctx) {
  const CommandTable& table = ctx.server.commands();
  const auto all = Visible(table);
  auto find = [&](std::string_view name) {
    const CommandSpec* s = table.Find(name);
    return s && !s->Has(kCmdInternal) ? s : nullptr;
  };
  if (ctx.args.size() == 1) {
    ctx.out.ArrayHeader(all.size());
    for (const CommandSpec* s : all) WriteInfo(ctx.out, *s);
    return;
  }
  const std::string sub = ToLower(ctx.args[1]);
  if (sub == "count" && ctx.args.size() == 2) {
    ctx.out.Integer(static_cast<int64_t>(all.size()));
  } else if (sub == "info") {
    if (ctx.args.size() == 2) {
      ctx.out.ArrayHeader(all.size());
      for (const CommandSpec* s : all) WriteInfo(ctx.out, *s);
      return;
    }
    ctx.out.ArrayHeader(ctx.args.size() - 2);
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      const CommandSpec* s = find(ctx.args[i]);
      s ? WriteInfo(ctx.out, *s) : ctx.out.Null();  // as Redis: a null, not a null array
    }
  } else if (sub == "docs") {
    std::vector<const CommandSpec*> docs;
    if (ctx.args.size() == 2) {
      docs = all;
    } else {
      for (size_t i = 2; i < ctx.args.size(); ++i) {
        if (const CommandSpec* s = find(ctx.args[i])) docs.push_back(s);
      }
    }
    ctx.out.MapHeader(docs.size());
    for (const CommandSpec* s : docs) WriteDocs(ctx.out, *s);
  } else if (sub == "list") {
    std::string pattern;
    if (ctx.args.size() == 5 && ToLower(ctx.args[2]) == "filterby") {
      std::string by = ToLower(ctx.args[3]);
      if (by == "pattern") {
        pattern = ctx.args[4];
      } else if (by == "module" || by == "aclcat") {
        std::vector<const CommandSpec*> hits;
        for (const CommandSpec* s : all) {
          if (by == "aclcat" && EqualsIgnoreCase(s->group == "generic" ? "keyspace" : s->group, ctx.args[4])) {
            hits.push_back(s);
          }
        }
        ctx.out.ArrayHeader(hits.size());
        for (const CommandSpec* s : hits) ctx.out.Bulk(s->name);
        return;
      } else {
        return ctx.out.Error(kErrSyntax);
      }
    } else if (ctx.args.size() != 2) {
      return ctx.out.Error(kErrSyntax);
    }
    std::vector<const CommandSpec*> hits;
    for (const CommandSpec* s : all) {
      if (pattern.empty() || GlobMatch(pattern, s->name, true)) hits.push_back(s);
    }
    ctx.out.ArrayHeader(hits.size());
    for (const CommandSpec* s : hits) ctx.out.Bulk(s->name);
  } else if (sub == "getkeys" && ctx.args.size() >= 3) {
    const CommandSpec* s = find(ctx.args[2]);
    if (s == nullptr) return ctx.out.Error("ERR Invalid command specified");
    const size_t argc = ctx.args.size() - 2;
    if (!s->ArityOk(argc)) return ctx.out.Error("ERR Invalid number of arguments specified for command");
    // As Redis 7.0: a command without keys says so; one whose keys this call does not name
    // validly is invalid, except a script's, whose keys are optional (an empty answer).
    if (s->first_key == 0 && s->key_positions == nullptr) {
      return ctx.out.Error("ERR The command has no key arguments");
    }
    auto pos = s->KeyPositions(ctx.args.subspan(2));
    if (pos.empty() && s->group != "scripting") {
      return ctx.out.Error("ERR Invalid arguments specified for command");
    }
    ctx.out.ArrayHeader(pos.size());
    for (size_t p : pos) ctx.out.Bulk(ctx.args[2 + p]);
  } else if (sub == "help" && ctx.args.size() == 2) {
    static const char* kHelp[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all commands.",
        "COUNT", "    Return the total number of commands in this server.",
        "LIST [FILTERBY (MODULE <name>|ACLCAT <cat>|PATTERN <pattern>)]",
        "    Return a list of all commands in this server.",
        "INFO [<command-name> ...]", "    Return details about the given commands.",
        "DOCS [<command-name> ...]", "    Return documentation details about the given commands.",
        "GETKEYS <full-command>", "    Return the keys from a full command.",
        "HELP", "    Print this help."};
    ctx.out.ArrayHeader(std::size(kHelp));
    for (const char* line : kHelp) ctx.out.Simple(line);
  } else if (sub == "count" || sub == "getkeys" || sub == "help") {
    ctx.out.Error(ErrWrongArity("command|" + sub));
  } else {
    ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1]) + "'. Try COMMAND HELP.");
  }
}

// ---- CONFIG ----

void ConfigCmd(CommandContext& ctx) {
  const std::string sub = ToLower(ctx.args[1]);
  Config& cfg = ctx.server.config();
  if (sub == "get" && ctx.args.size() >= 3) {
    // A name without glob characters is answered as it was asked ("TIMEOUT"), a pattern's
    // matches by their own names, as Redis; each setting once.
    struct Found {
      std::string name, shown, value;
    };
    std::vector<Found> out;
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      const std::string pattern(ctx.args[i]);
      const bool exact = pattern.find_first_of("*?[") == std::string::npos;
      for (auto& [name, value] : cfg.Get(pattern)) {
        bool dup = false;
        for (const auto& o : out) dup = dup || o.name == name;
        if (!dup) out.push_back(Found{name, exact ? pattern : name, std::move(value)});
      }
    }
    ctx.out.MapHeader(out.size());
    for (const auto& f : out) {
      ctx.out.Bulk(f.shown);
      ctx.out.Bulk(f.value);
    }
  } else if (sub == "set" && ctx.args.size() >= 4 && ctx.args.size() % 2 == 0) {
    // All or nothing, as Redis: no setting may come twice (under either of its names), and
    // if one value is refused those set before it get their old values back.
    auto failed = [&](std::string_view name, std::string_view why) {
      ctx.out.Error("ERR CONFIG SET failed (possibly related to argument '" + std::string(name) +
                    "') - " + std::string(why));
    };
    std::vector<std::string> names;
    for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
      std::string name = Config::CanonicalName(ctx.args[i]);
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        return failed(ctx.args[i], "duplicate parameter");
      }
      names.push_back(std::move(name));
    }
    std::vector<std::pair<std::string, std::string>> undo;  // (name, old value), in order
    for (size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
      const std::string& name = names[(i - 2) / 2];
      const auto old = cfg.Get(name);
      Status s = cfg.Set(name, std::string(ctx.args[i + 1]), false);
      if (!s.ok()) {
        for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
          cfg.Set(it->first, it->second, false).ok();  // values it took before
        }
        if (s.IsNotFound()) {
          return ctx.out.Error("ERR Unknown option or number of arguments for CONFIG SET - '" +
                               std::string(ctx.args[i]) + "'");
        }
        return failed(ctx.args[i], s.message());
      }
      if (!old.empty()) undo.push_back(old.front());
    }
    // The write path takes a new fsync policy before the OK (not at the main loop's next
    // tick): a write answered after "CONFIG SET appendfsync always" must be fsynced.
    if (std::find(names.begin(), names.end(), "fsync") != names.end()) {
      if (auto* sn = ctx.server.single_node()) sn->set_fsync(cfg.fsync.load());
      if (auto* mr = ctx.server.cluster()) mr->set_fsync(cfg.fsync.load());
    }
    ctx.out.Ok();
  } else if (sub == "help" && ctx.args.size() == 2) {
    static const char* kHelp[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
        "HELP", "    Print this help."};
    ctx.out.ArrayHeader(std::size(kHelp));
    for (const char* line : kHelp) ctx.out.Simple(line);
  } else if (sub == "get" || sub == "set" || sub == "help") {
    ctx.out.Error(ErrWrongArity("config|" + sub));
  } else {
    ctx.out.Error("ERR unknown subcommand '" + std::string(ctx.args[1]) + "'. Try CONFIG HELP.");
  }
}

void TimeCmd(CommandContext& ctx) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ctx.out.ArrayHeader(2);
  ctx.out.BulkInteger(ts.tv_sec);
  ctx.out.BulkInteger(ts.tv_nsec / 1000);
}

// ROLE: a primary with no Redis replicas (see InfoReplication).
void RoleCmd(CommandContext& ctx) {
  ctx.out.ArrayHeader(3);
  ctx.out.Bulk("master");
  ctx.out.Integer(0);
  ctx.out.ArrayHeader(0);
}

void ShutdownCmd(CommandContext& ctx) {
  bool now = false, save = false, nosave = false, force = false, abort = false;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    std::string opt = ToLower(ctx.args[i]);
    // Every acknowledged write is already durable: SAVE, NOSAVE and FORCE change nothing. NOW
    // skips what would wait for peers (Redis: for lagging replicas): a cluster node's hand-over
    // of the partitions it leads.
    if (opt != "save" && opt != "nosave" && opt != "now" && opt != "force" && opt != "abort") {
      return ctx.out.Error(kErrSyntax);
    }
    now |= opt == "now";
    save |= opt == "save";
    nosave |= opt == "nosave";
    force |= opt == "force";
    abort |= opt == "abort";
  }
  // Redis's illegal combinations: ABORT with anything, SAVE with NOSAVE.
  if ((abort && (now || save || nosave || force)) || (save && nosave)) {
    return ctx.out.Error(kErrSyntax);
  }
  if (abort) return ctx.out.Error("ERR No shutdown in progress.");
  ctx.server.RequestShutdown(/*hand_off=*/!now);
  ctx.conn.CloseAfterReply();  // as Redis: the connection closes without a reply
}

CommandSpec Spec(std::string name, int arity, uint32_t flags, Handler h, std::string summary) {
  return MakeCommand(std::move(name), arity, flags, h, nullptr, "server", std::move(summary));
}

}  // namespace

void RegisterServerFamily(CommandTable* t) {
  t->Add(Spec("info", -1, kCmdLoading | kCmdStale, InfoCmd,
              "Returns information and statistics about the server."));
  CommandSpec command = Spec("command", -1, kCmdLoading | kCmdStale, CommandCmd,
                             "Returns detailed information about all commands.");
  command.subcommands = {"command|count", "command|info", "command|docs", "command|list",
                         "command|getkeys", "command|help"};
  t->Add(std::move(command));
  CommandSpec config = Spec("config", -2, kCmdAdmin, ConfigCmd,
                            "A container for server configuration commands.");
  config.subcommands = {"config|get", "config|set", "config|help"};
  t->Add(std::move(config));
  t->Add(Spec("time", 1, kCmdFast | kCmdLoading | kCmdStale, TimeCmd, "Returns the server time."));
  CommandSpec role = Spec("role", 1, kCmdFast | kCmdLoading | kCmdStale, RoleCmd,
                          "Returns the replication role.");
  role.since = "2.8.12";
  t->Add(std::move(role));
  t->Add(Spec("shutdown", -1, kCmdAdmin, ShutdownCmd,
              "Synchronously saves the database(s) to disk and shuts down the Redis server."));
}

}  // namespace flin::server
