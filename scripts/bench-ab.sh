#!/usr/bin/env bash
# Two Flin configurations (or binaries) beside Redis, one workload at a time: for an A/B of a
# change. Starts flin-server A (FLIN_FLAGS_A, binary FLIN_SERVER_A), flin-server B
# (FLIN_FLAGS_B, FLIN_SERVER_B) and redis-server with the same fsync policy, loads KEYSPACE
# keys into each, then for every mix given runs flin-bench against A, B and Redis in turn,
# ROUNDS times, and prints each one's ops/s and p99 per round and their medians. Steadier than
# bench-vs-redis.sh's table on a noisy machine: the servers are warm and nothing else runs
# between the three cells of a round.
#
# usage: scripts/bench-ab.sh [MIX ...]      (flin-bench mixes; default: get=1 set=1)
# Environment: FLIN_FLAGS_A, FLIN_FLAGS_B (extra flags, default none), FLIN_SERVER_A/B
#   (default BUILD/flin-server), FSYNC (always), ROUNDS (3), DURATION (2 s per cell),
#   PIPELINE (1), CONNECTIONS (50), KEYSPACE (100000), VALUE_SIZE (100).
# example: FLIN_FLAGS_A="--threads 1" FLIN_FLAGS_B="--threads 2" scripts/bench-ab.sh ping=1 get=1
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

[ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && { sed -n '2,15p' "$0"; exit 0; }
FSYNC="${FSYNC:-always}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-2}"
PIPELINE="${PIPELINE:-1}"
CONNECTIONS="${CONNECTIONS:-50}"
KEYSPACE="${KEYSPACE:-100000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
MIXES=("$@")
[ ${#MIXES[@]} -gt 0 ] || MIXES=(get=1 set=1)
require_binary "$FLIN_BENCH" flin-bench

FLIN_SERVER="${FLIN_SERVER_A:-$FLIN_SERVER}" FLIN_FLAGS="${FLIN_FLAGS_A:-}" start_flin "$FSYNC"
PORT_A="$FLIN_PORT"
FLIN_SERVER="${FLIN_SERVER_B:-$FLIN_SERVER}" FLIN_FLAGS="${FLIN_FLAGS_B:-}" start_flin "$FSYNC"
PORT_B="$FLIN_PORT"
start_redis "$FSYNC"
echo "# fsync $FSYNC: A :$PORT_A (${FLIN_FLAGS_A:-defaults}), B :$PORT_B (${FLIN_FLAGS_B:-defaults}), redis :$REDIS_PORT" >&2

for port in "$PORT_A" "$PORT_B" "$REDIS_PORT"; do
  "$FLIN_BENCH" --port "$port" --mix set=1 --key-dist sequential --requests "$KEYSPACE" \
    --keyspace "$KEYSPACE" --value-size "$VALUE_SIZE" --pipeline 16 --connections 8 --quiet \
    >/dev/null
done

RESULTS="$(scratch_dir ab)/results"
for mix in "${MIXES[@]}"; do
  for round in $(seq 1 "$ROUNDS"); do
    for target in A B redis; do
      case "$target" in A) port="$PORT_A" ;; B) port="$PORT_B" ;; *) port="$REDIS_PORT" ;; esac
      "$FLIN_BENCH" --port "$port" --mix "$mix" --duration "$DURATION" --keyspace "$KEYSPACE" \
        --value-size "$VALUE_SIZE" --pipeline "$PIPELINE" --connections "$CONNECTIONS" \
        --quiet --json |
        python3 -c '
import json, sys
d = json.load(sys.stdin)
ops = sum(r["ops_per_sec"] for r in d["results"].values())
p99 = max(r["p99_us"] for r in d["results"].values())
print(sys.argv[1], sys.argv[2], int(ops), p99)' "$mix" "$target" >>"$RESULTS"
    done
  done
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    mix, target, ops, p99 = line.split()
    rows.setdefault((mix, target), []).append((int(ops), float(p99)))
print(f"{'mix':<14} {'server':<6} {'median ops/s':>12} {'median p99 us':>14}  per round (ops/s)")
for (mix, target), v in rows.items():
    ops = [o for o, _ in v]
    print(f"{mix:<14} {target:<6} {int(statistics.median(ops)):>12} "
          f"{statistics.median(p for _, p in v):>14.0f}  {' '.join(map(str, ops))}")
EOF
