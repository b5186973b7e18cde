#!/usr/bin/env bash
# Hashes, sets and lists in Flin beside Redis: for each type in TYPES and each size in SIZES,
# redis-benchmark's write and read of one collection of that many elements, both servers
# with the same fsync policy, ROUNDS rounds alternating, medians. Flin stores a collection
# whole, so a command costs time in its size (docs/DESIGN.md, "Hashes", "Sets", "Lists"):
#   hash  HSET h f:<random> v (a field already there) and HGET h f:<random>
#   set   SADD s m:<random> (a member already there: still a write through the log) and
#         SISMEMBER s m:<random>
#   list  RPOPLPUSH l l (a rotation: the length stays) and LRANGE l 0 9
# Starts and stops the servers it uses (scratch ports and directories).
#
# usage: scripts/bench-collections.sh
# Environment: TYPES ("hash set list"), SIZES ("100 1000 10000"), FSYNC (everysec),
#   ROUNDS (3), REQUESTS (20000 per cell), CONNECTIONS (50), BUILD/FLIN_SERVER (lib-bench.sh).
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

[ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && { sed -n '2,14p' "$0"; exit 0; }
TYPES="${TYPES:-hash set list}"
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

# ops/s of one redis-benchmark run of COMMAND... against PORT (elements picked at random
# below SIZE: __rand_int__ with -r).
run() {  # run PORT SIZE COMMAND...
  local port="$1" size="$2"
  shift 2
  redis-benchmark -p "$port" -c "$CONNECTIONS" -n "$REQUESTS" -r "$size" -q "$@" </dev/null 2>/dev/null |
    tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The one command that fills a collection of SIZE elements, each one the runs may pick
# (__rand_int__ is 12 digits, zero-padded).
fill() {  # fill TYPE SIZE
  case "$1" in
    hash) awk -v n="$2" 'BEGIN { printf "HSET c"; for (i = 0; i < n; i++) printf " f:%012d v", i; print "" }' ;;
    set) awk -v n="$2" 'BEGIN { printf "SADD c"; for (i = 0; i < n; i++) printf " m:%012d", i; print "" }' ;;
    list) awk -v n="$2" 'BEGIN { printf "RPUSH c"; for (i = 0; i < n; i++) printf " e:%012d", i; print "" }' ;;
  esac
}

# The benchmarked commands of a type: its write, then its read.
ops() {  # ops TYPE -> lines of arguments
  case "$1" in
    hash) printf '%s\n' "HSET c f:__rand_int__ value-of-the-field" "HGET c f:__rand_int__" ;;
    set) printf '%s\n' "SADD c m:__rand_int__" "SISMEMBER c m:__rand_int__" ;;
    list) printf '%s\n' "RPOPLPUSH c c" "LRANGE c 0 9" ;;
  esac
}

printf '%-5s %-7s %-10s %12s %12s %6s\n' type size op flin redis ratio
for type in $TYPES; do
  for size in $SIZES; do
    for port in "$FLIN_PORT" "$REDIS_PORT"; do
      redis-cli -p "$port" del c >/dev/null
      fill "$type" "$size" | redis-cli -p "$port" >/dev/null
    done
    while read -r -a args; do
      f=() r=()
      for _ in $(seq 1 "$ROUNDS"); do
        f+=("$(run "$FLIN_PORT" "$size" "${args[@]}")")
        r+=("$(run "$REDIS_PORT" "$size" "${args[@]}")")
      done
      fm="$(echo "${f[*]}" | median)" rm="$(echo "${r[*]}" | median)"
      printf '%-5s %-7s %-10s %12.0f %12.0f %6.2f\n' "$type" "$size" "${args[0]}" "$fm" "$rm" \
        "$(awk -v a="$fm" -v b="$rm" 'BEGIN {print (b > 0 ? a / b : 0)}')"
    done < <(ops "$type")
  done
done
