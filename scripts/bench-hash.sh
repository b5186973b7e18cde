#!/usr/bin/env bash
# Hashes in Flin beside Redis: redis-benchmark's HSET and HGET on one hash of FIELDS fields
# (each request a random field of it: the cost of a command grows with the hash, as Flin
# stores a hash whole; docs/DESIGN.md, "Hashes"), for each size in SIZES, both servers with
# the same fsync policy, ROUNDS rounds alternating, medians. Starts and stops the servers it
# uses (scratch ports and directories).
#
# usage: scripts/bench-hash.sh
# Environment: SIZES ("100 1000 10000"), FSYNC (everysec), ROUNDS (3), REQUESTS (20000 per
#   cell), CONNECTIONS (50), BUILD/FLIN_SERVER (lib-bench.sh).
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

[ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && { sed -n '2,10p' "$0"; exit 0; }
SIZES="${SIZES:-100 1000 10000}"
FSYNC="${FSYNC:-everysec}"
ROUNDS="${ROUNDS:-3}"
REQUESTS="${REQUESTS:-20000}"
CONNECTIONS="${CONNECTIONS:-50}"
command -v redis-benchmark >/dev/null || die "redis-benchmark (redis-tools) is needed"

start_flin "$FSYNC"
start_redis "$FSYNC"
echo "# fsync $FSYNC: flin :$FLIN_PORT, redis :$REDIS_PORT; $CONNECTIONS connections," \
  "$REQUESTS requests per cell, median of $ROUNDS" >&2

# ops/s of one redis-benchmark run of COMMAND... against PORT (fields picked at random below
# SIZE: __rand_int__ with -r).
run() {  # run PORT SIZE COMMAND...
  local port="$1" size="$2"
  shift 2
  redis-benchmark -p "$port" -c "$CONNECTIONS" -n "$REQUESTS" -r "$size" -q "$@" 2>/dev/null |
    tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-7s %-5s %12s %12s %6s\n' fields op flin redis ratio
for size in $SIZES; do
  for port in "$FLIN_PORT" "$REDIS_PORT"; do  # the whole hash, then the runs overwrite it
    redis-cli -p "$port" del h >/dev/null
    # Every field the runs may pick (__rand_int__ is 12 digits, zero-padded), in one HSET.
    awk -v n="$size" 'BEGIN { printf "HSET h"; for (i = 0; i < n; i++) printf " f:%012d v", i; print "" }' |
      redis-cli -p "$port" >/dev/null
  done
  for op in HSET HGET; do
    f=() r=()
    for _ in $(seq 1 "$ROUNDS"); do
      args=("$op" h "f:__rand_int__")
      [ "$op" = HSET ] && args+=(value-of-the-field)
      f+=("$(run "$FLIN_PORT" "$size" "${args[@]}")")
      r+=("$(run "$REDIS_PORT" "$size" "${args[@]}")")
    done
    fm="$(echo "${f[*]}" | median)" rm="$(echo "${r[*]}" | median)"
    printf '%-7s %-5s %12.0f %12.0f %6.2f\n' "$size" "$op" "$fm" "$rm" \
      "$(awk -v a="$fm" -v b="$rm" 'BEGIN {print (b > 0 ? a / b : 0)}')"
  done
done
