#!/usr/bin/env bash
# The scheduler benchmarks, on this machine only (127.0.0.1, temporary
# data directories on disk), modelled on upstream scheduler_perf's
# SchedulingBasic:
#   1. the algorithm alone (default profile, in-memory cache);
#   2. end to end: a fresh `bosun server` (embedded durable store, built-in
#      scheduler) plus `bosun sim --nodes NODES`; PODS pods created through
#      the API; pods/s from the first create to the last bind;
#   3. the same with the scheduler as its own process (`bosun scheduler`),
#      to report its memory apart from the API server's.
#
#   scripts/bench-scheduler.sh                      # 5,000 nodes, 10,000 pods
#   NODES=50000 PODS=100000 scripts/bench-scheduler.sh
#   QUICK=1 scripts/bench-scheduler.sh              # 500 nodes, 1,000 pods
#
# Knobs: NODES, PODS, CONCURRENCY (100), MODES ("algorithm inprocess
# standalone"), RUNS (1: end-to-end runs per mode, each on a fresh server;
# with more, the median is reported, as this machine's run-to-run noise
# is about +-8 %), SKIP_BUILD=1 with BOSUN_BIN / BENCH_BIN, OUT; TIMELINE=1
# also prints pods created, bound and Running per second.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ "${QUICK:-0}" = 1 ]; then : "${NODES:=500}" "${PODS:=1000}"; fi
NODES=${NODES:-5000}
RUNS=${RUNS:-1}
PODS=${PODS:-10000}
CONCURRENCY=${CONCURRENCY:-100}
MODES=${MODES:-algorithm inprocess standalone}
target_dir=${CARGO_TARGET_DIR:-$root/target}
BOSUN_BIN=${BOSUN_BIN:-$target_dir/release/bosun}
BENCH_BIN=${BENCH_BIN:-$target_dir/release/bosun-bench}

work=$(mktemp -d /var/tmp/bosun-sched-bench.XXXXXX)
OUT=${OUT:-$work/results}
mkdir -p "$OUT"
log="$OUT/bench.log"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  find "$work" -mindepth 1 -maxdepth 1 ! -path "$OUT" -exec rm -rf {} + 2>/dev/null || true
}
trap cleanup EXIT
say() { echo "$*" | tee -a "$log"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {
  for _ in $(seq 1 600); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for: $*" >&2
  return 1
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
bench() { # name, then bosun-bench arguments
  local name=$1
  shift
  say ""
  say "\$ bosun-bench $*"
  if ! "$BENCH_BIN" --json-out "$OUT/$name.json" "$@" 2> >(tee -a "$log" >&2) | tee -a "$log" "$OUT/$name.txt"; then
    say "!! $name failed"
  fi
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p bosun -p bosun-bench
fi
say "== bosun scheduler benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC') =="
say "host: $(uname -srm); cpus (nproc): $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/\s\+/ /g')"
say "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
say "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
say "parameters: nodes=$NODES pods=$PODS concurrency=$CONCURRENCY"

for mode in $MODES; do
  say ""
  say "######## $mode ########"
  if [ "$mode" = algorithm ]; then
    bench algorithm scheduler-algorithm --nodes "$NODES" --pods "$PODS"
    continue
  fi
  rates=()
  per_pod=()
  for run in $(seq 1 "$RUNS"); do
    dir="$work/server-$mode-$run"
    port=$(free_port)
    args=(server --data-dir "$dir" --bind "127.0.0.1:$port")
    if [ "$mode" = standalone ]; then args+=(--disable-scheduler); fi
    RUST_LOG=warn "$BOSUN_BIN" "${args[@]}" >"$work/server-$mode.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    wait_for curl -sfk "https://127.0.0.1:$port/readyz"
    kubeconfig="$dir/admin.kubeconfig"
    memory=()
    if [ "$mode" = standalone ]; then
      RUST_LOG=warn "$BOSUN_BIN" scheduler --kubeconfig "$kubeconfig" >"$work/scheduler.log" 2>&1 &
      pids+=("$!")
      memory+=(--memory-of "scheduler=$!")
    fi
    start=$SECONDS
    RUST_LOG=warn "$BOSUN_BIN" sim --kubeconfig "$kubeconfig" --nodes "$NODES" >"$work/sim-$mode.log" 2>&1 &
    sim_pid=$!
    pids+=("$sim_pid")
    memory+=(--memory-of "simulator=$sim_pid")
    wait_for grep -q "registered" "$work/sim-$mode.log"
    say "sim: $(grep -m1 registered "$work/sim-$mode.log") (script saw it after $((SECONDS - start)) s)"
    bench "$mode-$run" scheduler --kubeconfig "$kubeconfig" --server-pid "$server_pid" \
      --nodes "$NODES" --pods "$PODS" --concurrency "$CONCURRENCY" "${memory[@]}" ${TIMELINE:+--timeline}
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pids=()
    rm -rf "$dir"
    rates+=("$(awk '/scheduling throughput \(end to end\)/ {print $(NF-1)}' "$OUT/$mode-$run.txt")")
    per_pod+=("$(awk '/server CPU per pod/ {print $(NF-1)}' "$OUT/$mode-$run.txt")")
  done
  if [ "$RUNS" -gt 1 ]; then
    say ""
    say "$mode: $RUNS runs: ${rates[*]} pods/s; median $(median "${rates[@]}") pods/s"
    say "$mode: server CPU per pod: ${per_pod[*]} ms; median $(median "${per_pod[@]}") ms"
  fi
done
say ""
say "results: $OUT"
