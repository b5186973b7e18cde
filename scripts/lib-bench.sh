# Shared helpers of the benchmark scripts: locate binaries, start servers on scratch ports
# and directories, stop them (by PID) on exit. Source it; it defines functions only.
#
# Environment: BUILD (build dir, default build), FLIN_SERVER, FLIN_BENCH, REDIS_SERVER
# (binaries; defaults: $BUILD/flin-server, $BUILD/flin-bench, redis-server on PATH).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
FLIN_SERVER="${FLIN_SERVER:-$BUILD/flin-server}"
FLIN_BENCH="${FLIN_BENCH:-$BUILD/flin-bench}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"

_BENCH_PIDS=()
_BENCH_DIRS=()

bench_cleanup() {
  local pid
  for pid in "${_BENCH_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${_BENCH_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  _BENCH_PIDS=()
  local d
  for d in "${_BENCH_DIRS[@]}"; do
    rm -rf "$d"
  done
  _BENCH_DIRS=()
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

require_binary() {  # require_binary PATH WHAT
  [ -x "$1" ] || die "$2 not found at '$1' (build it with 'make', or set the variable)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

scratch_dir() {  # scratch_dir NAME: prints a new directory removed on exit
  local d
  d="$(mktemp -d "/tmp/flin-bench-$1-XXXXXX")"
  _BENCH_DIRS+=("$d")
  echo "$d"
}

# wait_ready PORT PID LOG: until the server answers PING (it has no other readiness signal
# that both servers share), or it exits, or 30 s pass.
wait_ready() {
  local port="$1" pid="$2" log="$3" i
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "--- server log ($log) ---" >&2
      tail -20 "$log" >&2 || true
      die "server on port $port exited during startup"
    fi
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = "PONG" ]; then
      return 0
    fi
    sleep 0.1
  done
  die "server on port $port did not answer PING within 30 s"
}

# start_flin FSYNC -> sets FLIN_PORT, FLIN_PID, FLIN_DIR. Extra flags: FLIN_FLAGS.
start_flin() {
  require_binary "$FLIN_SERVER" flin-server
  FLIN_DIR="$(scratch_dir flin)"
  FLIN_PORT="$(free_port)"
  # shellcheck disable=SC2086
  "$FLIN_SERVER" --bind 127.0.0.1 --port "$FLIN_PORT" --dir "$FLIN_DIR/data" \
    --fsync "$1" ${FLIN_FLAGS:-} >"$FLIN_DIR/server.log" 2>&1 &
  FLIN_PID=$!
  _BENCH_PIDS+=("$FLIN_PID")
  wait_ready "$FLIN_PORT" "$FLIN_PID" "$FLIN_DIR/server.log"
}

# start_redis FSYNC -> sets REDIS_PORT, REDIS_PID, REDIS_DIR. FSYNC: always|everysec|no
# (appendonly yes with that appendfsync), or none (no persistence at all).
start_redis() {
  require_binary "$REDIS_SERVER" redis-server
  REDIS_DIR="$(scratch_dir redis)"
  REDIS_PORT="$(free_port)"
  local persistence=(--appendonly yes --appendfsync "$1")
  [ "$1" = none ] && persistence=(--appendonly no)
  "$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DIR" --save "" \
    --daemonize no --logfile "$REDIS_DIR/server.log" "${persistence[@]}" \
    >/dev/null 2>&1 &
  REDIS_PID=$!
  _BENCH_PIDS+=("$REDIS_PID")
  wait_ready "$REDIS_PORT" "$REDIS_PID" "$REDIS_DIR/server.log"
}

# stop_server PID: stops one server started here and forgets it.
stop_server() {
  local pid="$1" keep=() p
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${_BENCH_PIDS[@]}"; do
    [ "$p" = "$pid" ] || keep+=("$p")
  done
  _BENCH_PIDS=("${keep[@]}")
}
