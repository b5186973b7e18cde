#!/usr/bin/env bash
# Flin beside Redis, in one run, on this machine. Starts redis-server and flin-server (scratch
# ports and directories, stopped on exit) with matching durability — appendfsync always vs
# --fsync always, then everysec vs everysec — and runs identical workloads against both with
# redis-benchmark and with flin-bench: PING, SET, GET, INCR, MSET of 10 keys and a 90/10
# GET/SET mix (flin-bench only; redis-benchmark has no mixes), over 50 connections without
# pipelining and with pipeline 16, with 100-byte and 4 KiB values. The servers alternate
# within each round (who goes first alternates too), every cell is repeated ROUNDS times and
# the median is reported. Prints one table: ops/s of both, Flin/Redis, and both p99s.
#
# Cells that cannot differ are not repeated: PING and INCR run with the first value size
# only; GET and PING under the first fsync mode only (reads do not fsync).
#
# usage: scripts/bench-vs-redis.sh [--smoke] [--rounds N] [--duration SEC]
# Environment: ROUNDS (3), DURATION (3 s per flin-bench cell; redis-benchmark gets as many
#   requests as flin-bench completed in DURATION on that cell), FSYNC_MODES ("always
#   everysec"), PIPELINES ("1 16"), SIZES ("100 4096"), CONNECTIONS (50), KEYSPACE (100000),
#   RESULTS (raw results file, default a scratch file), BUILD/FLIN_SERVER/FLIN_BENCH.
# --smoke: one round of 0.1 s cells, everysec, 100-byte values, no pipelining (~15 s), for CI.
set -euo pipefail
source "$(dirname "$0")/lib-bench.sh"

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-3}"
FSYNC_MODES="${FSYNC_MODES:-always everysec}"
PIPELINES="${PIPELINES:-1 16}"
SIZES="${SIZES:-100 4096}"
CONNECTIONS="${CONNECTIONS:-50}"
KEYSPACE="${KEYSPACE:-100000}"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) ROUNDS=1; DURATION=0.1; FSYNC_MODES=everysec; SIZES=100; PIPELINES=1
             KEYSPACE=10000; shift ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
require_binary "$FLIN_BENCH" flin-bench
require_binary "$FLIN_SERVER" flin-server
require_binary "$REDIS_SERVER" redis-server
command -v redis-benchmark >/dev/null || die "redis-benchmark not found"
RESULTS="${RESULTS:-$(scratch_dir results)/results.tsv}"
: >"$RESULTS"

# workload -> flin-bench flags / redis-benchmark test ("" = not available)
flin_mix() {
  case "$1" in
    PING) echo "--mix ping" ;; SET) echo "--mix set" ;; GET) echo "--mix get" ;;
    INCR) echo "--mix incr" ;; MSET10) echo "--mix mset --batch 10" ;;
    GET90/SET10) echo "--mix get=90,set=10" ;;
  esac
}
rb_test() {
  case "$1" in
    PING) echo ping_mbulk ;; SET) echo set ;; GET) echo get ;; INCR) echo incr ;;
    MSET10) echo mset ;; *) echo "" ;;
  esac
}

# fill PORT SIZE: every key of the keyspace holds a SIZE-byte value (for GET and the mix).
fill() {
  "$FLIN_BENCH" --port "$1" --mix set --key-dist sequential --requests "$KEYSPACE" \
    --keyspace "$KEYSPACE" --value-size "$2" --pipeline 16 --connections 8 --quiet \
    >/dev/null
}

# run_cell MODE WORKLOAD PIPELINE SIZE SERVER PORT: one flin-bench and one redis-benchmark run.
run_cell() {
  local mode="$1" wl="$2" pipe="$3" size="$4" server="$5" port="$6" json ops p99 errors
  # shellcheck disable=SC2046
  json="$("$FLIN_BENCH" --port "$port" --connections "$CONNECTIONS" --pipeline "$pipe" \
    --duration "$DURATION" --keyspace "$KEYSPACE" --value-size "$size" \
    $(flin_mix "$wl") --json)"
  read -r ops p99 errors < <(python3 -c '
import json, sys
r = json.loads(sys.argv[1])["results"]
t = r.get("total") or next(iter(r.values()))
print("%.0f %.1f %d" % (t["ops_per_sec"], t["p99_us"], t["errors"]))' "$json")
  printf '%s\t%s\t%s\t%s\tflin-bench\t%s\t%s\t%s\t%s\n' "$mode" "$wl" "$pipe" "$size" \
    "$server" "$ops" "$p99" "$errors" >>"$RESULTS"
  local test
  test="$(rb_test "$wl")"
  [ -n "$test" ] || return 0
  # As many requests as flin-bench managed in DURATION: both tools run about as long.
  local n=$(( ops * ${DURATION%.*} ))
  [ "${DURATION%.*}" -ge 1 ] 2>/dev/null || n=$(python3 -c "print(int($ops * $DURATION))")
  [ "$n" -ge 1000 ] || n=1000
  local csv
  csv="$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$CONNECTIONS" -P "$pipe" -n "$n" \
    -r "$KEYSPACE" -d "$size" -t "$test" --csv 2>/dev/null | tail -1)"
  read -r ops p99 < <(python3 -c '
import csv, sys
row = next(csv.reader([sys.argv[1]]))
print("%.0f %.1f" % (float(row[1]), float(row[6]) * 1000))' "$csv")
  printf '%s\t%s\t%s\t%s\tredis-benchmark\t%s\t%s\t%s\t0\n' "$mode" "$wl" "$pipe" "$size" \
    "$server" "$ops" "$p99" >>"$RESULTS"
}

first_mode="${FSYNC_MODES%% *}"
first_size="${SIZES%% *}"
for mode in $FSYNC_MODES; do
  start_flin "$mode"
  start_redis "$mode"
  echo "# fsync $mode: flin-server :$FLIN_PORT, redis-server :$REDIS_PORT" >&2
  for round in $(seq 1 "$ROUNDS"); do
    for size in $SIZES; do
      fill "$FLIN_PORT" "$size"
      fill "$REDIS_PORT" "$size"
      for pipe in $PIPELINES; do
        for wl in PING SET GET INCR MSET10 GET90/SET10; do
          case "$wl" in
            PING) [ "$mode" = "$first_mode" ] && [ "$size" = "$first_size" ] || continue ;;
            GET) [ "$mode" = "$first_mode" ] || continue ;;
            INCR) [ "$size" = "$first_size" ] || continue ;;
          esac
          echo "# round $round: $wl pipeline $pipe value $size" >&2
          if [ $((round % 2)) = 1 ]; then
            run_cell "$mode" "$wl" "$pipe" "$size" flin "$FLIN_PORT"
            run_cell "$mode" "$wl" "$pipe" "$size" redis "$REDIS_PORT"
          else
            run_cell "$mode" "$wl" "$pipe" "$size" redis "$REDIS_PORT"
            run_cell "$mode" "$wl" "$pipe" "$size" flin "$FLIN_PORT"
          fi
        done
      done
    done
  done
  stop_server "$FLIN_PID"
  stop_server "$REDIS_PID"
done

python3 - "$RESULTS" "$ROUNDS" "$DURATION" "$CONNECTIONS" <<'PY'
import collections, statistics, sys
path, rounds, duration, conns = sys.argv[1:5]
cells = collections.OrderedDict()
for line in open(path):
    mode, wl, pipe, size, tool, server, ops, p99, errors = line.rstrip("\n").split("\t")
    c = cells.setdefault((mode, wl, pipe, size, tool), {"flin": [], "redis": []})
    c[server].append((float(ops), float(p99), int(errors)))
print(f"{conns} connections, {rounds} round(s) x {duration} s per cell, medians; "
      "p99 in microseconds; ratio = Flin/Redis ops/s")
hdr = ("fsync", "workload", "pipe", "value", "tool", "Flin ops/s", "Redis ops/s", "ratio",
       "Flin p99", "Redis p99", "Flin errors")
fmt = "%-8s %-12s %4s %6s %-15s %11s %11s %6s %9s %9s %7s"
print(fmt % hdr)
for (mode, wl, pipe, size, tool), c in cells.items():
    def med(server, i):
        xs = [r[i] for r in c[server]]
        return statistics.median(xs) if xs else float("nan")
    f_ops, r_ops = med("flin", 0), med("redis", 0)
    ratio = f_ops / r_ops if r_ops else float("nan")
    errs = sum(r[2] for r in c["flin"])
    print(fmt % (mode, wl, pipe, size, tool, "%.0f" % f_ops, "%.0f" % r_ops, "%.2f" % ratio,
                 "%.0f" % med("flin", 1), "%.0f" % med("redis", 1), errs))
PY
