#!/usr/bin/env bash
# The single-node read/write experiment: 256 connections send SETs for 10 s, then after a
# pause GETs for 10 s over the same keys, against one flin-server (started here on a scratch
# port and directory, stopped on exit). Prints throughput and per-request latency percentiles
# of each phase (flin-bench). With redis-server installed, the same run follows against Redis
# with matching durability.
#
# usage: scripts/test-read-write.sh [--duration SEC] [--pause SEC] [--fsync MODE] [--no-redis]
# Environment: DURATION (10), PAUSE (2), CONNECTIONS (256), VALUE_SIZE (1024),
#              KEYSPACE (100000), FSYNC (always), WITH_REDIS (1), BUILD/FLIN_SERVER/FLIN_BENCH.
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

DURATION="${DURATION:-10}"
PAUSE="${PAUSE:-2}"
CONNECTIONS="${CONNECTIONS:-256}"
VALUE_SIZE="${VALUE_SIZE:-1024}"
KEYSPACE="${KEYSPACE:-100000}"
FSYNC="${FSYNC:-always}"
WITH_REDIS="${WITH_REDIS:-1}"
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --pause) PAUSE="$2"; shift 2 ;;
    --fsync) FSYNC="$2"; shift 2 ;;
    --no-redis) WITH_REDIS=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
require_binary "$FLIN_BENCH" flin-bench

run_phases() {  # run_phases PORT LABEL
  local common=(--port "$1" --connections "$CONNECTIONS" --duration "$DURATION"
                --value-size "$VALUE_SIZE" --keyspace "$KEYSPACE" --quiet)
  echo "== $2: SET phase, $CONNECTIONS connections, ${VALUE_SIZE} B values, ${DURATION} s"
  "$FLIN_BENCH" "${common[@]}" --mix set
  sleep "$PAUSE"
  echo "== $2: GET phase, $CONNECTIONS connections, ${DURATION} s"
  "$FLIN_BENCH" "${common[@]}" --mix get
}

start_flin "$FSYNC"
run_phases "$FLIN_PORT" "flin-server (--fsync $FSYNC)"
stop_server "$FLIN_PID"

if [ "$WITH_REDIS" = 1 ] && [ -n "$REDIS_SERVER" ]; then
  start_redis "$FSYNC"
  run_phases "$REDIS_PORT" "redis-server (appendfsync $FSYNC)"
fi
