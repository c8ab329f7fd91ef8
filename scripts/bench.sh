#!/usr/bin/env bash
# Runs every bosun-bench benchmark against the embedded store and etcd, on
# this machine only (127.0.0.1, free ports, temporary data directories on
# disk), then tears everything down. Prints the machine, then one table per
# benchmark; the log and JSON results stay in $OUT.
#
#   scripts/bench.sh                 # full run (~15 min on 2 cores)
#   QUICK=1 scripts/bench.sh         # seconds-long smoke run
#
# Knobs (environment): BACKENDS ("embedded etcd"), CLIENTS (100),
# DURATION (20s per api phase), PODS (150000), WATCHERS (1000),
# WATCH_WRITES (100), STORE_OPS (20000), OUT (results directory),
# SKIP_BUILD=1 with BOSUN_BIN / BENCH_BIN to use prebuilt binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ "${QUICK:-0}" = 1 ]; then
  : "${DURATION:=2s}" "${PODS:=3000}" "${WATCHERS:=200}" "${WATCH_WRITES:=20}" "${STORE_OPS:=2000}"
fi
BACKENDS=${BACKENDS:-embedded etcd}
CLIENTS=${CLIENTS:-100}
DURATION=${DURATION:-20s}
PODS=${PODS:-150000}
WATCHERS=${WATCHERS:-1000}
WATCH_WRITES=${WATCH_WRITES:-100}
STORE_OPS=${STORE_OPS:-20000}
target_dir=${CARGO_TARGET_DIR:-$root/target}
BOSUN_BIN=${BOSUN_BIN:-$target_dir/release/bosun}
BENCH_BIN=${BENCH_BIN:-$target_dir/release/bosun-bench}

work=$(mktemp -d /var/tmp/bosun-bench.XXXXXX)
OUT=${OUT:-$work/results}
mkdir -p "$OUT"
log="$OUT/bench.log"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  # Keep the results; drop the stores.
  find "$work" -mindepth 1 -maxdepth 1 ! -path "$OUT" -exec rm -rf {} + 2>/dev/null || true
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$log"; }

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    local port
    while :; do
      port=$((20000 + RANDOM % 40000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
  fi
}

# wait_for CMD... : retries for 60 s.
wait_for() {
  for _ in $(seq 1 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for: $*" >&2
  return 1
}

etcd_pid=""
etcd_url=""
start_etcd() {
  local dir="$work/etcd-$1" client peer
  client=$(free_port)
  peer=$(free_port)
  etcd_url="http://127.0.0.1:$client"
  etcd --name bench --data-dir "$dir" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "bench=http://127.0.0.1:$peer" \
    --quota-backend-bytes 8589934592 --log-level warn >"$work/etcd-$1.log" 2>&1 &
  etcd_pid=$!
  pids+=("$etcd_pid")
  wait_for curl -sf "$etcd_url/health"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

server_pid=""
kubeconfig=""
start_server() { # backend name [extra server flags…]
  local dir="$work/server-$2" port
  port=$(free_port)
  local args=(server --data-dir "$dir" --bind "127.0.0.1:$port" "${@:3}")
  if [ "$1" = etcd ]; then args+=(--store etcd --etcd-endpoints "$etcd_url"); fi
  RUST_LOG=warn "$BOSUN_BIN" "${args[@]}" >"$work/server-$2.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  kubeconfig="$dir/admin.kubeconfig"
  wait_for curl -sfk "https://127.0.0.1:$port/readyz"
}

bench() { # name, then bosun-bench arguments
  local name=$1
  shift
  say ""
  say "\$ bosun-bench $*"
  local start=$SECONDS
  if ! "$BENCH_BIN" --json-out "$OUT/$name.json" "$@" 2> >(tee -a "$log" >&2) | tee -a "$log"; then
    say "!! $name failed"
  fi
  say "($name took $((SECONDS - start)) s)"
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p bosun -p bosun-bench
fi

say "== bosun benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC') =="
say "host: $(uname -srm); cpus (nproc): $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/\s\+/ /g')"
say "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); disk for stores: $(df -h --output=source,fstype "$work" | tail -1 | tr -s ' ')"
say "etcd: $(etcd --version | head -1); $(rustc --version 2>/dev/null || true)"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
say "bosun binary: $BOSUN_BIN ($(date -u -r "$BOSUN_BIN" '+built %Y-%m-%d %H:%M UTC'))"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
say "parameters: clients=$CLIENTS duration=$DURATION pods=$PODS watchers=$WATCHERS watch_writes=$WATCH_WRITES store_ops=$STORE_OPS"
total_start=$SECONDS

for backend in $BACKENDS; do
  say ""
  say "######## backend: $backend ########"
  store_backend=redb
  if [ "$backend" = etcd ]; then
    store_backend=etcd
    start_etcd store
  fi
  bench "store-$backend" store --backend "$store_backend" --clients "$CLIENTS" --ops "$STORE_OPS" \
    --dir "$work" --etcd-endpoints "${etcd_url:-http://127.0.0.1:2379}" --label "$backend"
  [ -n "$etcd_pid" ] && stop_pid "$etcd_pid" && etcd_pid=""

  # api and watch on one fresh server …
  [ "$backend" = etcd ] && start_etcd api
  start_server "$backend" "$backend-api"
  pid_args=(--server-pid "$server_pid")
  [ -n "$etcd_pid" ] && pid_args+=(--etcd-pid "$etcd_pid")
  bench "api-$backend" api --kubeconfig "$kubeconfig" --clients "$CLIENTS" --duration "$DURATION" \
    "${pid_args[@]}" --label "$backend"
  # Sustained writes at twice the clients, and spread over 4 connections.
  bench "sustained200-$backend" api --kubeconfig "$kubeconfig" --clients $((CLIENTS * 2)) --duration "$DURATION" \
    --phases sustained "${pid_args[@]}" --label "$backend"
  bench "sustained4conn-$backend" api --kubeconfig "$kubeconfig" --clients "$CLIENTS" --connections 4 \
    --duration "$DURATION" --phases sustained "${pid_args[@]}" --label "$backend"
  bench "watch-$backend" watch --kubeconfig "$kubeconfig" --watchers "$WATCHERS" --writes "$WATCH_WRITES" \
    "${pid_args[@]}" --label "$backend"
  stop_pid "$server_pid"
  [ -n "$etcd_pid" ] && stop_pid "$etcd_pid" && etcd_pid=""

  # … and the big LIST and memory on another, so its baseline is clean.
  # That server is the API server alone: the benchmark's pods name nodes
  # that do not exist, so the built-in pod garbage collector would delete
  # them while they are listed, and the scheduler and controllers would
  # keep their own copies (memory per stored pod is the API server's).
  etcd_args=()
  if [ "$backend" = etcd ]; then
    start_etcd list
    etcd_args=(--etcd-pid "$etcd_pid")
  fi
  start_server "$backend" "$backend-list" --disable-controllers --disable-scheduler
  bench "list-$backend" list --kubeconfig "$kubeconfig" --pods "$PODS" --server-pid "$server_pid" \
    "${etcd_args[@]}" --label "$backend"
  stop_pid "$server_pid"
  [ -n "$etcd_pid" ] && stop_pid "$etcd_pid" && etcd_pid=""
  etcd_url=""
done

say ""
say "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
say "all benchmarks took $((SECONDS - total_start)) s; results in $OUT"
