#!/usr/bin/env bash
# Memory and scale: load more data than Flin's block cache holds and compare with Redis.
# Loads KEYS keys of VALUE bytes (sequential keys, pipelined SETs, --fsync everysec vs
# appendfsync everysec) into flin-server with a BLOCK_CACHE block cache and a ROW_CACHE row
# cache (pinned, so that the run means the same on machines of any memory), then into
# redis-server; reports each server's RSS after the load, and Flin's GET throughput and
# latency over all keys (uniform: mostly cold, from disk/page cache) and over a zipf-skewed
# hot set, beside Redis's for the same reads.
#
# usage: scripts/bench-memory.sh      Environment: KEYS (10000000), VALUE (100),
#   BLOCK_CACHE (256mb), ROW_CACHE (64mb), DURATION (10 s per read run), CONNECTIONS (50),
#   PIPELINE (32 for the load), BUILD/FLIN_SERVER/FLIN_BENCH/REDIS_SERVER. CI runs it with
#   KEYS=20000 DURATION=1.
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

KEYS="${KEYS:-10000000}"
VALUE="${VALUE:-100}"
BLOCK_CACHE="${BLOCK_CACHE:-256mb}"
ROW_CACHE="${ROW_CACHE:-64mb}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-50}"
PIPELINE="${PIPELINE:-32}"
require_binary "$FLIN_SERVER" flin-server
require_binary "$FLIN_BENCH" flin-bench
[ -n "$REDIS_SERVER" ] || die "redis-server not found"

rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# bench PORT ARGS... -> prints "ops/s p50 p99 errors" of one flin-bench run (JSON parsed here).
bench() {
  local port="$1"
  shift
  "$FLIN_BENCH" --port "$port" --quiet --json "$@" | python3 -c '
import json, sys
r = json.load(sys.stdin)
op = next(iter(r["results"].values()))
print(int(op["ops_per_sec"]), int(op["p50_us"]), int(op["p99_us"]), op["errors"] + r["lost"])'
}

now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "print(f'{$2 - $1:.1f}')"; }

load() {  # load PORT
  "$FLIN_BENCH" --port "$1" --quiet --mix set=100 --key-dist sequential --keyspace "$KEYS" \
    --requests "$KEYS" --value-size "$VALUE" --connections "$CONNECTIONS" --pipeline "$PIPELINE" \
    > /dev/null
}

echo "== loading $KEYS keys x $VALUE B into flin-server (block cache $BLOCK_CACHE, row cache" \
     "$ROW_CACHE) and redis-server"
FLIN_FLAGS="--block-cache $BLOCK_CACHE --row-cache $ROW_CACHE" start_flin everysec
t0=$(now)
load "$FLIN_PORT"
t1=$(now)
flin_rss=$(rss_mib "$FLIN_PID")
flin_disk=$(du -sm "$FLIN_DIR" | cut -f1)
flin_cold=$(bench "$FLIN_PORT" --mix get=100 --key-dist uniform --keyspace "$KEYS" --duration "$DURATION" --connections "$CONNECTIONS")
flin_hot=$(bench "$FLIN_PORT" --mix get=100 --key-dist zipf --keyspace "$KEYS" --duration "$DURATION" --connections "$CONNECTIONS")
flin_rss_after=$(rss_mib "$FLIN_PID")
stop_server "$FLIN_PID"

start_redis everysec
t2=$(now)
load "$REDIS_PORT"
t3=$(now)
redis_rss=$(rss_mib "$REDIS_PID")
redis_cold=$(bench "$REDIS_PORT" --mix get=100 --key-dist uniform --keyspace "$KEYS" --duration "$DURATION" --connections "$CONNECTIONS")
redis_hot=$(bench "$REDIS_PORT" --mix get=100 --key-dist zipf --keyspace "$KEYS" --duration "$DURATION" --connections "$CONNECTIONS")
stop_server "$REDIS_PID"

printf '\n%-26s %14s %14s\n' "" "flin" "redis"
printf '%-26s %14s %14s\n' "load time (s)" "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")"
printf '%-26s %14s %14s\n' "RSS after load (MiB)" "$flin_rss" "$redis_rss"
printf '%-26s %14s %14s\n' "RSS after reads (MiB)" "$flin_rss_after" "-"
printf '%-26s %14s %14s\n' "data on disk (MiB)" "$flin_disk" "-"
read -r fo fp50 fp99 fe <<< "$flin_cold"
read -r ro rp50 rp99 re <<< "$redis_cold"
printf '%-26s %14s %14s\n' "GET uniform ops/s" "$fo" "$ro"
printf '%-26s %14s %14s\n' "GET uniform p50/p99 (us)" "$fp50/$fp99" "$rp50/$rp99"
read -r fo fp50 fp99 fe2 <<< "$flin_hot"
read -r ro rp50 rp99 re2 <<< "$redis_hot"
printf '%-26s %14s %14s\n' "GET zipf ops/s" "$fo" "$ro"
printf '%-26s %14s %14s\n' "GET zipf p50/p99 (us)" "$fp50/$fp99" "$rp50/$rp99"
printf '%-26s %14s %14s\n' "errors" "$((fe + fe2))" "$((re + re2))"
