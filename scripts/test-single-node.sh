#!/usr/bin/env bash
# The single-node write experiment: 128 connections send SETs of 1 KiB values for 10 s to one
# flin-server (started here on a scratch port and directory, stopped on exit). Prints
# throughput and per-request latency percentiles (flin-bench). With redis-server installed,
# the same run follows against Redis with matching durability, for comparison.
#
# usage: scripts/test-single-node.sh [--duration SEC] [--fsync always|everysec|no] [--no-redis]
# Environment: DURATION, CONNECTIONS (128), VALUE_SIZE (1024), KEYSPACE (1000000),
#              FSYNC (always), WITH_REDIS (1), BUILD/FLIN_SERVER/FLIN_BENCH (see lib-bench.sh).
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-128}"
VALUE_SIZE="${VALUE_SIZE:-1024}"
KEYSPACE="${KEYSPACE:-1000000}"
FSYNC="${FSYNC:-always}"
WITH_REDIS="${WITH_REDIS:-1}"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --fsync) FSYNC="$2"; shift 2 ;;
    --no-redis) WITH_REDIS=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
require_binary "$FLIN_BENCH" flin-bench

run_sets() {  # run_sets PORT LABEL
  echo "== $2: SET, $CONNECTIONS connections, ${VALUE_SIZE} B values, ${DURATION} s"
  "$FLIN_BENCH" --port "$1" --connections "$CONNECTIONS" --duration "$DURATION" \
    --mix set --value-size "$VALUE_SIZE" --keyspace "$KEYSPACE" --quiet
}

start_flin "$FSYNC"
run_sets "$FLIN_PORT" "flin-server (--fsync $FSYNC)"
stop_server "$FLIN_PID"

if [ "$WITH_REDIS" = 1 ] && [ -n "$REDIS_SERVER" ]; then
  start_redis "$FSYNC"
  run_sets "$REDIS_PORT" "redis-server (appendfsync $FSYNC)"
fi
