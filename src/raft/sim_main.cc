// raft_sim: runs the deterministic Raft simulation (simulation.h) over many seeds.
//   raft_sim --seeds N         seeds 1..N (stops at the first failure)
//   raft_sim --seed S          one seed, printing its full event trace
//   options: --first F (with --seeds: seeds F..F+N-1), --duration MS, --nodes 3|5,
//            --crash-rate P, --partition-rate P (per virtual ms), --max-msg-bytes B,
//            --crash-after-commit P, --crash-after-election P, --crash-after-vote P (per event),
//            --wipe-share P, --restore-share P (of the random crashes: SimOptions),
//            --hold-share P (of the links a partition cuts: SimOptions),
//            --accept-data-loss (every node: SimOptions),
//            --settle MS (then a liveness check: SimOptions::settle_ms),
//            --no-faults, --no-membership, --bug commit_any_term|vote_twice|
//            wipe_without_recovering|restore_without_recovering|recover_without_terms|
//            no_run_echo (with --settle)|
//            lease_without_check_quorum|
//            no_restart_lease|long_lease (deliberately broken core)
// Exit status 0 if every seed passed, 1 on a failure (the seed and how to reproduce it are
// printed), 2 on bad arguments.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "raft/simulation.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: raft_sim (--seeds N [--first F] | --seed S) [--duration MS] [--nodes 3|5]\n"
               "                [--no-faults] [--no-membership] [--bug NAME]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using flin::raft::SimOptions;
  SimOptions base;
  uint64_t first = 1, count = 0;
  bool single = false;
  std::string args;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--seeds" && (v = next())) {
      count = std::strtoull(v, nullptr, 10);
    } else if (a == "--first" && (v = next())) {
      first = std::strtoull(v, nullptr, 10);
    } else if (a == "--seed" && (v = next())) {
      first = std::strtoull(v, nullptr, 10);
      count = 1;
      single = true;
    } else if (a == "--duration" && (v = next())) {
      base.duration_ms = std::atoi(v);
      args += " --duration " + std::string(v);
    } else if (a == "--nodes" && (v = next())) {
      base.nodes = std::atoi(v);
      args += " --nodes " + std::string(v);
    } else if (a == "--crash-rate" && (v = next())) {
      base.crash_rate = std::atof(v);
      args += " --crash-rate " + std::string(v);
    } else if (a == "--partition-rate" && (v = next())) {
      base.partition_rate = std::atof(v);
      args += " --partition-rate " + std::string(v);
    } else if (a == "--max-msg-bytes" && (v = next())) {
      base.max_msg_bytes = std::atoi(v);
      args += " --max-msg-bytes " + std::string(v);
    } else if (a == "--crash-after-commit" && (v = next())) {
      base.crash_after_commit = std::atof(v);
      args += " --crash-after-commit " + std::string(v);
    } else if (a == "--crash-after-vote" && (v = next())) {
      base.crash_after_vote = std::atof(v);
      args += " --crash-after-vote " + std::string(v);
    } else if (a == "--crash-after-election" && (v = next())) {
      base.crash_after_election = std::atof(v);
      args += " --crash-after-election " + std::string(v);
    } else if (a == "--settle" && (v = next())) {
      base.settle_ms = std::atoi(v);
      args += " --settle " + std::string(v);
    } else if (a == "--restore-share" && (v = next())) {
      base.restore_share = std::atof(v);
      args += " --restore-share " + std::string(v);
    } else if (a == "--accept-data-loss") {
      base.accept_data_loss = true;
      args += " --accept-data-loss";
    } else if (a == "--hold-share" && (v = next())) {
      base.hold_share = std::atof(v);
      args += " --hold-share " + std::string(v);
    } else if (a == "--wipe-share" && (v = next())) {
      base.wipe_share = std::atof(v);
      args += " --wipe-share " + std::string(v);
    } else if (a == "--no-faults") {
      base.faults = false;
      args += " " + a;
    } else if (a == "--no-membership") {
      base.membership = false;
      args += " " + a;
    } else if (a == "--bug" && (v = next())) {
      std::string b = v;
      if (b == "commit_any_term") {
        base.knobs.commit_any_term = true;
      } else if (b == "vote_twice") {
        base.knobs.vote_twice = true;
      } else if (b == "lease_without_check_quorum") {
        base.knobs.lease_without_check_quorum = true;
      } else if (b == "long_lease") {
        base.knobs.lease_ticks_override = 19;
      } else if (b == "no_restart_lease") {
        base.knobs.no_restart_lease = true;
      } else if (b == "wipe_without_recovering") {
        base.wipe_without_recovering = true;
      } else if (b == "restore_without_recovering") {
        base.restore_without_recovering = true;
      } else if (b == "recover_without_terms") {
        base.knobs.recover_without_terms = true;
      } else if (b == "no_run_echo") {
        base.knobs.no_run_echo = true;
      } else {
        return Usage();
      }
      args += " --bug " + b;
    } else {
      return Usage();
    }
  }
  if (count == 0) return Usage();
  flin::raft::SimStats total;
  for (uint64_t seed = first; seed < first + count; seed++) {
    SimOptions o = base;
    o.seed = seed;
    o.full_trace = single;
    auto r = flin::raft::RunSimulation(o);
    total.writes_acked += r.stats.writes_acked;
    total.reads_done += r.stats.reads_done;
    total.lease_reads_done += r.stats.lease_reads_done;
    total.elections += r.stats.elections;
    total.crashes += r.stats.crashes;
    total.wipes += r.stats.wipes;
    total.restores += r.stats.restores;
    total.snapshots_sent += r.stats.snapshots_sent;
    total.conf_changes += r.stats.conf_changes;
    total.unanimous_elections += r.stats.unanimous_elections;
    total.messages += r.stats.messages;
    if (single || !r.ok) {
      for (const auto& line : r.trace) std::printf("%s\n", line.c_str());
    }
    if (!r.ok) {
      std::printf("\nFAILED seed %llu: %s\nreproduce: raft_sim --seed %llu%s\n",
                  (unsigned long long)seed, r.failure.c_str(), (unsigned long long)seed,
                  args.c_str());
      return 1;
    }
  }
  std::printf(
      "OK: %llu seeds (%llu..%llu)%s: %llu writes acked, %llu reads (%llu lease), %llu "
      "leaders, %llu crashes (%llu wiped, %llu restored), %llu snapshots installed, %llu conf changes applied, %llu "
      "messages\n",
      (unsigned long long)count, (unsigned long long)first,
      (unsigned long long)(first + count - 1), args.c_str(),
      (unsigned long long)total.writes_acked, (unsigned long long)total.reads_done,
      (unsigned long long)total.lease_reads_done, (unsigned long long)total.elections,
      (unsigned long long)total.crashes, (unsigned long long)total.wipes,
      (unsigned long long)total.restores,
      (unsigned long long)total.snapshots_sent,
      (unsigned long long)total.conf_changes, (unsigned long long)total.messages);
  if (base.accept_data_loss) {
    std::printf("   %llu unanimous elections (each a new era for the checks)\n",
                (unsigned long long)total.unanimous_elections);
  }
  return 0;
}
