// flin-bench: a closed-loop load generator for Redis-protocol servers, built on libflin.
// Run `flin-bench --help` for the flags.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <thread>

#include "tools/bench_runner.h"

namespace flin::bench {
namespace {

std::atomic<bool> g_stop{false};  // set by SIGINT/SIGTERM: end the run early

struct Summary {
  const char* name;
  uint64_t ok = 0;
  uint64_t errors = 0;
  LatencyHistogram hist;
};

double Us(uint64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string Target(const BenchOptions& o, const Topology& t) {
  if (o.cluster.empty()) return o.host + ":" + std::to_string(o.port);
  return std::string(t.cluster ? "cluster of " : "non-cluster seed, nodes ") +
         std::to_string(t.nodes.size()) + (t.cluster ? " masters" : "");
}

void PrintText(const BenchOptions& o, const Topology& t, double seconds, bool interrupted,
               const std::vector<Summary>& rows, const ThreadResult& all) {
  const char* dist[] = {"uniform", "zipf", "sequential"};
  std::printf("flin-bench: %s, %d clients%s, pipeline %d, %d thread(s), mix %s, "
              "keyspace %" PRId64 " %s, value %d B, measured %.2f s%s\n",
              Target(o, t).c_str(), o.connections, o.cluster.empty() ? "" : " (one connection per node each)",
              o.pipeline, o.threads, o.MixString().c_str(), o.keyspace,
              dist[static_cast<int>(o.key_dist)], o.value_size, seconds,
              interrupted ? " (interrupted)" : "");
  std::printf("%-6s %12s %12s %9s %9s %9s %9s %10s %9s\n", "op", "requests", "ops/s",
              "p50(us)", "p90(us)", "p99(us)", "p99.9(us)", "max(us)", "errors");
  for (const Summary& r : rows) {
    std::printf("%-6s %12" PRIu64 " %12.0f %9.1f %9.1f %9.1f %9.1f %10.1f %9" PRIu64 "\n",
                r.name, r.ok, static_cast<double>(r.ok) / seconds, Us(r.hist.Percentile(50)),
                Us(r.hist.Percentile(90)), Us(r.hist.Percentile(99)),
                Us(r.hist.Percentile(99.9)), Us(r.hist.max()), r.errors);
  }
  if (t.cluster) {
    std::printf("cluster: %" PRIu64 " redirections followed (MOVED/ASK), %" PRIu64
                " reconnects, %" PRIu64 " slot map reloads, %" PRIu64
                " waits for an unreachable node\n",
                all.redirects, all.reconnects, all.refreshes, all.parked);
  }
  if (!all.first_error.empty()) {
    std::string kinds;
    for (const auto& [kind, n] : all.error_kinds) {
      kinds += " " + kind + "=" + std::to_string(n);
    }
    std::printf("errors: %" PRIu64 " lost with a connection or for want of a node, replies:%s; "
                "first: %s\n", all.lost, kinds.empty() ? " none" : kinds.c_str(),
                all.first_error.c_str());
    if (all.first_error_of_kind.size() > 1) {
      for (const auto& [kind, first] : all.first_error_of_kind) {
        std::printf("  first %s: %s\n", kind.c_str(), first.c_str());
      }
    }
  }
}

void PrintJson(const BenchOptions& o, const Topology& t, double seconds, bool interrupted,
               const std::vector<Summary>& rows, const ThreadResult& all,
               const std::vector<uint64_t>& ok_per_second) {
  std::printf("{\"target\":\"%s\",\"connections\":%d,\"pipeline\":%d,\"threads\":%d,"
              "\"mix\":\"%s\",\"keyspace\":%" PRId64 ",\"value_size\":%d,\"seconds\":%.3f,"
              "\"interrupted\":%s,\"results\":{",
              JsonEscape(Target(o, t)).c_str(), o.connections, o.pipeline, o.threads,
              o.MixString().c_str(), o.keyspace, o.value_size, seconds,
              interrupted ? "true" : "false");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Summary& r = rows[i];
    std::printf("%s\"%s\":{\"requests\":%" PRIu64 ",\"ops_per_sec\":%.1f,\"p50_us\":%.1f,"
                "\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
                "\"mean_us\":%.1f,\"errors\":%" PRIu64 "}",
                i ? "," : "", r.name, r.ok, static_cast<double>(r.ok) / seconds,
                Us(r.hist.Percentile(50)), Us(r.hist.Percentile(90)),
                Us(r.hist.Percentile(99)), Us(r.hist.Percentile(99.9)), Us(r.hist.max()),
                r.hist.mean() / 1000.0, r.errors);
  }
  std::printf("},\"lost\":%" PRIu64 ",\"redirects\":%" PRIu64 ",\"reconnects\":%" PRIu64
              ",\"refreshes\":%" PRIu64 ",\"parked\":%" PRIu64 ",\"error_kinds\":{",
              all.lost, all.redirects, all.reconnects, all.refreshes, all.parked);
  const char* sep = "";
  for (const auto& [kind, n] : all.error_kinds) {
    std::printf("%s\"%s\":%" PRIu64, sep, JsonEscape(kind).c_str(), n);
    sep = ",";
  }
  std::printf("},\"ok_per_second\":[");
  for (size_t i = 0; i < ok_per_second.size(); ++i) {
    std::printf("%s%" PRIu64, i ? "," : "", ok_per_second[i]);
  }
  std::printf("],\"first_error\":\"%s\",\"first_error_of_kind\":{",
              JsonEscape(all.first_error).c_str());
  sep = "";
  for (const auto& [kind, first] : all.first_error_of_kind) {
    std::printf("%s\"%s\":\"%s\"", sep, JsonEscape(kind).c_str(), JsonEscape(first).c_str());
    sep = ",";
  }
  std::printf("}}\n");
}

int Main(int argc, char** argv) {
  bool help = false;
  Result<BenchOptions> parsed = ParseOptions(argc, argv, &help);
  if (help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "flin-bench: %s (see --help)\n", parsed.status().message().c_str());
    return 2;
  }
  const BenchOptions& o = *parsed;
  bool needs_keys = false;
  for (const auto& [op, w] : o.mix) needs_keys |= op == Op::kMset || op == Op::kMget;
  if (!o.cluster.empty() && needs_keys) {
    std::fprintf(stderr, "flin-bench: mset/mget are not supported with --cluster (their keys "
                         "would span slots)\n");
    return 2;
  }
  Result<Topology> topology = LoadTopology(o);
  if (!topology.ok()) {
    std::fprintf(stderr, "flin-bench: %s\n", topology.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<ZipfParams> zipf;
  if (o.key_dist == KeyDist::kZipf) {
    zipf = std::make_unique<ZipfParams>(static_cast<uint64_t>(o.keyspace), o.zipf_theta);
  }
  Progress progress;
  std::vector<std::unique_ptr<BenchThread>> threads;
  for (int i = 0; i < o.threads; ++i) {
    const int clients = o.connections / o.threads + (i < o.connections % o.threads ? 1 : 0);
    threads.push_back(std::make_unique<BenchThread>(o, *topology, zipf.get(), i, o.threads,
                                                    clients, &progress));
    if (Status s = threads.back()->Connect(); !s.ok()) {
      std::fprintf(stderr, "flin-bench: connect: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  // SIGINT (Ctrl-C) or SIGTERM: stop sending, wait for the replies in flight, and report the
  // window measured so far (marked "interrupted").
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop.store(true, std::memory_order_relaxed); };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const auto start = Clock::now();
  RunPlan plan;
  plan.stop = &g_stop;
  plan.measure_start = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(o.warmup_s));
  plan.end = plan.measure_start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(o.duration_s));
  std::atomic<int> running{o.threads};
  std::vector<std::thread> workers;
  for (int i = 0; i < o.threads; ++i) {
    RunPlan p = plan;
    if (o.requests > 0) {
      p.quota = o.requests / o.threads + (i < o.requests % o.threads ? 1 : 0);
      if (p.quota == 0) p.quota = -1;  // nothing to send; any non-zero marks requests mode
    }
    workers.emplace_back([&, i, p] {
      threads[i]->Run(p);
      running.fetch_sub(1);
    });
  }
  const bool live = !o.quiet && !o.json && ::isatty(STDERR_FILENO);
  auto next_print = start + std::chrono::milliseconds(500);
  // Successful replies in each whole second of the measured window: a failover shows here.
  std::vector<uint64_t> ok_per_second;
  auto next_second = plan.measure_start + std::chrono::seconds(1);
  uint64_t ok_before = 0;
  Clock::time_point stopped_at = Clock::time_point::max();
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (g_stop.load(std::memory_order_relaxed) && stopped_at == Clock::time_point::max()) {
      stopped_at = Clock::now();
    }
    if (Clock::now() >= next_second && (o.requests > 0 || next_second <= plan.end)) {
      next_second += std::chrono::seconds(1);
      const uint64_t ok = progress.ok.load(std::memory_order_relaxed);
      ok_per_second.push_back(ok - ok_before);
      ok_before = ok;
    }
    if (live && Clock::now() >= next_print) {
      next_print += std::chrono::seconds(1);
      const double el = std::chrono::duration<double>(Clock::now() - plan.measure_start).count();
      const uint64_t done = progress.completed.load(std::memory_order_relaxed);
      std::fprintf(stderr, "\r%s %6.1fs  %12" PRIu64 " replies  %10.0f ops/s  %" PRIu64
                   " errors   ", el < 0 ? "warmup" : "run   ", el < 0 ? -el : el, done,
                   el >= 0.5 ? static_cast<double>(done) / el : 0.0,
                   progress.errors.load(std::memory_order_relaxed));
    }
  }
  for (auto& w : workers) w.join();
  if (live) std::fprintf(stderr, "\r%90s\r", "");

  ThreadResult all;
  for (auto& t : threads) {
    const ThreadResult& r = t->result();
    for (int op = 0; op < kOpCount; ++op) {
      all.histograms[op].Merge(r.histograms[op]);
      all.ok[op] += r.ok[op];
      all.errors[op] += r.errors[op];
    }
    all.redirects += r.redirects;
    all.lost += r.lost;
    all.reconnects += r.reconnects;
    all.refreshes += r.refreshes;
    all.parked += r.parked;
    for (const auto& [kind, n] : r.error_kinds) all.error_kinds[kind] += n;
    for (const auto& [kind, first] : r.first_error_of_kind) {
      all.first_error_of_kind.emplace(kind, first);  // keeps the first thread's
    }
    all.last_reply = std::max(all.last_reply, r.last_reply);
    if (all.first_error.empty()) all.first_error = r.first_error;
  }
  double seconds = o.duration_s;
  if (o.requests > 0) {
    seconds = std::chrono::duration<double>(all.last_reply - plan.measure_start).count();
  } else if (stopped_at < plan.end) {
    seconds = std::chrono::duration<double>(stopped_at - plan.measure_start).count();
  }
  if (seconds <= 0) seconds = 1e-9;
  const bool interrupted = stopped_at != Clock::time_point::max();
  std::vector<Summary> rows;
  Summary total{"total", 0, 0, {}};
  for (const auto& [op, w] : o.mix) {
    const int i = static_cast<int>(op);
    Summary s{OpName(op), all.ok[i], all.errors[i], all.histograms[i]};
    total.ok += s.ok;
    total.errors += s.errors;
    total.hist.Merge(s.hist);
    rows.push_back(std::move(s));
  }
  if (rows.size() > 1) rows.push_back(std::move(total));
  if (o.json) {
    PrintJson(o, *topology, seconds, interrupted, rows, all, ok_per_second);
  } else {
    PrintText(o, *topology, seconds, interrupted, rows, all);
  }
  return 0;
}

}  // namespace
}  // namespace flin::bench

int main(int argc, char** argv) { return flin::bench::Main(argc, argv); }
