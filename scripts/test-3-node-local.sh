#!/usr/bin/env bash
# The published cluster experiment: a 3-node Flin cluster on loopback (64 partitions, 3
# replicas each, started here on scratch ports and directories, stopped by PID on exit), driven
# by flin-bench --cluster with 256 connections: SET for DURATION seconds, then GET over the
# keys written. The same flin-bench run against a single node follows, and a table compares
# them: throughput (ops/s), cluster/single ratio, p50/p99 latency.
#
# usage: scripts/test-3-node-local.sh [--duration SEC] [--fsync always|everysec|no]
# Environment: DURATION (10), CONNECTIONS (256, in total), VALUE_SIZE (100), KEYSPACE (100000),
#              BENCH_THREADS (flin-bench client threads, both runs; default: the cores),
#              FSYNC (always), BUILD/FLIN_SERVER/FLIN_BENCH (see lib-bench.sh), FLIN_FLAGS (extra
#              flags of every server), CLUSTER_FLAGS (of the cluster nodes only; default
#              --threads max(1, cores / 3): the three nodes share this machine's cores, which
#              the single node has to itself).
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-256}"
VALUE_SIZE="${VALUE_SIZE:-100}"
KEYSPACE="${KEYSPACE:-100000}"
FSYNC="${FSYNC:-always}"
# The published experiment's 256 workers were goroutines, spread over every core; one client
# thread saturates first against the cluster (3 connections per client, routing): GET 54-56 K
# with one thread, 69-71 K with two, while the single node's GET is the same with either.
BENCH_THREADS="${BENCH_THREADS:-$(nproc)}"
CLUSTER_FLAGS="${CLUSTER_FLAGS:---threads $(( $(nproc) / 3 > 0 ? $(nproc) / 3 : 1 ))}"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --fsync) FSYNC="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
require_binary "$FLIN_SERVER" flin-server
require_binary "$FLIN_BENCH" flin-bench
command -v redis-cli >/dev/null || die "redis-cli is needed to wait for the servers"

# A client port whose bus port (client port + 10000) is free as well, below the ephemeral range.
cluster_port() {
  python3 - "$@" <<'EOF'
import random, socket, sys
taken = {int(a) for a in sys.argv[1:]}
def free(p):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
    return True
while True:
    p = random.randrange(20000, 22700)
    if p not in taken and free(p) and free(p + 10000):
        print(p)
        break
EOF
}

# start_cluster: 3 nodes -> CLUSTER_PORTS (array), CLUSTER_SEEDS (host:port,...).
start_cluster() {
  local dir ports=() i initial
  dir="$(scratch_dir cluster)"
  for i in 1 2 3; do ports+=("$(cluster_port "${ports[@]}")"); done
  initial="1@127.0.0.1:${ports[0]},2@127.0.0.1:${ports[1]},3@127.0.0.1:${ports[2]}"
  local pids=()
  for i in 1 2 3; do
    # shellcheck disable=SC2086
    "$FLIN_SERVER" --bind 127.0.0.1 --port "${ports[$((i - 1))]}" --dir "$dir/data$i" \
      --node-id "$i" --initial-cluster "$initial" --fsync "$FSYNC" ${FLIN_FLAGS:-} ${CLUSTER_FLAGS:-} \
      >"$dir/node$i.log" 2>&1 &
    pids+=($!)
    _BENCH_PIDS+=($!)
  done
  for i in 1 2 3; do
    wait_ready "${ports[$((i - 1))]}" "${pids[$((i - 1))]}" "$dir/node$i.log"
  done
  # Until every slot has a leader (CLUSTER INFO ok, no CLUSTERDOWN), then leaders settle.
  for _ in $(seq 1 300); do
    if [ "$(redis-cli -p "${ports[0]}" cluster info 2>/dev/null | tr -d '\r' |
            grep -c '^cluster_state:ok')" = 1 ] &&
       ! redis-cli -p "${ports[0]}" cluster slots 2>/dev/null | grep -q 'CLUSTERDOWN'; then
      break
    fi
    sleep 0.1
  done
  wait_leaders_settled "${ports[0]}"
  CLUSTER_PORTS=("${ports[@]}")
  CLUSTER_SEEDS="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
  CLUSTER_DIR="$dir"
}

# wait_leaders_settled PORT: the servers move leaders to their preferred nodes (leader
# balancing, every 2 s) after start-up. flin-bench follows the MOVED this causes, but each
# transfer briefly answers TRYAGAIN/CLUSTERDOWN, which it counts as errors, and the experiment
# measures a steady cluster: wait until CLUSTER SLOTS has named the same leaders for 5 s (at
# most 60 s). Once settled they stay, so one wait after start-up serves every workload.
wait_leaders_settled() {
  local last="" now same_since i
  same_since=$(date +%s)
  for i in $(seq 1 120); do
    now="$(redis-cli -p "$1" cluster slots 2>/dev/null | md5sum)"
    if [ "$now" != "$last" ]; then
      last="$now"
      same_since=$(date +%s)
    elif [ $(( $(date +%s) - same_since )) -ge 5 ]; then
      return 0
    fi
    sleep 0.5
  done
  echo "warning: leaders still moving after 60 s" >&2
}

# bench OUT_JSON MIX TARGET_ARGS...: one flin-bench run; its JSON result goes to OUT_JSON.
bench() {
  local out="$1" mix="$2"
  shift 2
  "$FLIN_BENCH" "$@" --duration "$DURATION" --mix "$mix" --value-size "$VALUE_SIZE" \
    --keyspace "$KEYSPACE" --threads "$BENCH_THREADS" --json --quiet >"$out"
}

RESULTS="$(scratch_dir results)"

# The same concurrency as the single node: CONNECTIONS clients, each with pipeline 1 (the
# published experiment's 256 workers). In cluster mode each flin-bench client holds one
# connection per node and sends each request to its key's leader, so every node sees
# CONNECTIONS connections of which about a third are busy at a time.
echo "== 3-node cluster on loopback, fsync $FSYNC: $CONNECTIONS clients (one connection" \
     "to each node per client, $BENCH_THREADS client threads), ${VALUE_SIZE} B values, ${DURATION} s per workload," \
     "node flags: $CLUSTER_FLAGS"
start_cluster
for op in set get; do
  bench "$RESULTS/cluster-$op.json" "$op=100" --cluster "$CLUSTER_SEEDS" --connections "$CONNECTIONS"
done
for pid in "${_BENCH_PIDS[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 20 "$CLUSTER_DIR"/node*.log >&2
    die "a cluster node (pid $pid) died during the run"
  fi
done
crash_lines="$(grep -hE 'AddressSanitizer|runtime error|terminate called|Assertion .* failed' \
               "$CLUSTER_DIR"/node*.log || true)"
for pid in "${_BENCH_PIDS[@]}"; do stop_server "$pid"; done

echo "== single node, fsync $FSYNC: $CONNECTIONS connections, same workloads"
start_flin "$FSYNC"
for op in set get; do
  bench "$RESULTS/single-$op.json" "$op=100" --port "$FLIN_PORT" --connections "$CONNECTIONS"
done
stop_server "$FLIN_PID"

python3 - "$RESULTS" <<'EOF'
import json, os, sys
res = sys.argv[1]

def load(name):
    with open(os.path.join(res, name + ".json")) as f:
        return json.loads(f.read().strip().splitlines()[-1])

def row(r, op):
    return r["results"][op]

def errors(r):
    return sum(int(v.get("errors", 0)) for v in r["results"].values()) + int(r.get("lost", 0))

rows = []
print()
print(f"{'workload':<8} {'single ops/s':>13} {'cluster ops/s':>14} {'ratio':>6} "
      f"{'single p50/p99 ms':>18} {'cluster p50/p99 ms':>19} {'errors s/c':>11}")
bad = 0
for op in ("set", "get"):
    S, C = load("single-" + op), load("cluster-" + op)
    s, c = row(S, op), row(C, op)
    ratio = c["ops_per_sec"] / s["ops_per_sec"] if s["ops_per_sec"] else float("nan")
    bad += errors(S) + errors(C)
    print(f"{op.upper():<8} {s['ops_per_sec']:>13,.0f} {c['ops_per_sec']:>14,.0f} {ratio:>6.2f} "
          f"{s['p50_us'] / 1000:>8.2f}/{s['p99_us'] / 1000:<9.2f} "
          f"{c['p50_us'] / 1000:>9.2f}/{c['p99_us'] / 1000:<9.2f} "
          f"{errors(S):>5}/{errors(C):<5}")
print()
for name in ("cluster-set", "cluster-get", "single-set", "single-get"):
    r = load(name)
    if errors(r) or r.get("first_error"):
        print(f"{name}: {errors(r)} failed, {r.get('lost', 0)} lost with a connection, "
              f"{r.get('redirects', 0)} redirections; first error: {r.get('first_error')}")
print("goals (docs/BENCHMARKS.md): cluster SET >= 0.5x single, GET >= 0.8x single")
if bad:
    print(f"WARNING: {bad} requests failed (error replies or lost connections)")
    sys.exit(1)
EOF
if [ -n "$crash_lines" ]; then
  echo "$crash_lines" >&2
  die "a cluster node logged a crash (above)"
fi
