#!/usr/bin/env bash
# The controller benchmarks (issue: controllers are never the bottleneck),
# on this machine only: a fresh `bosun server` (embedded durable store,
# scheduler and controllers built in) plus `bosun sim --nodes NODES`.
#   1. scale-up: a Deployment scaled 0 -> REPLICAS; pods/s from the scale
#      to all replicas available, and the CPU seconds of the controllers'
#      thread, the scheduler's thread and the whole server;
#   2. rolling update: a Deployment of ROLLING replicas gets a new image;
#      duration from `kubectl set image` to the rollout complete.
#
#   scripts/bench-controllers.sh                 # 5,000 nodes, 100,000 replicas, 10,000 rolling
#   QUICK=1 scripts/bench-controllers.sh         # 500 nodes, 5,000 replicas, 1,000 rolling
#
# Knobs: NODES, REPLICAS, ROLLING, SKIP_BUILD=1 with BOSUN_BIN and BENCH_BIN, OUT;
# PERF=1 records a CPU profile of the server during the scale-up
# ($OUT/perf.data; `perf report -i $OUT/perf.data --no-children`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ "${QUICK:-0}" = 1 ]; then : "${NODES:=500}" "${REPLICAS:=5000}" "${ROLLING:=1000}"; fi
NODES=${NODES:-5000}
REPLICAS=${REPLICAS:-100000}
ROLLING=${ROLLING:-10000}
target_dir=${CARGO_TARGET_DIR:-$root/target}
BOSUN_BIN=${BOSUN_BIN:-$target_dir/release/bosun}
BENCH_BIN=${BENCH_BIN:-$target_dir/release/bosun-bench}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p bosun -p bosun-bench
fi

work=$(mktemp -d /var/tmp/bosun-ctrl-bench.XXXXXX)
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
ticks=$(getconf CLK_TCK)
# CPU seconds of the server's thread named $1, or of the whole process
# when $1 is "all".
cpu_of() {
  local pid=$1 name=$2
  if [ "$name" = all ]; then
    awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "/proc/$pid/stat"
    return
  fi
  for task in /proc/"$pid"/task/*; do
    if [ "$(cat "$task/comm")" = "$name" ]; then
      awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "$task/stat"
      return
    fi
  done
  echo 0
}
rss_mib() { awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
now() { date +%s.%N; }
k() { kubectl --kubeconfig "$work/data/admin.kubeconfig" "$@"; }
field() { # deployment, jsonpath
  k get deploy "$1" -o "jsonpath=$2" 2>/dev/null || true
}

port=$(free_port)
"$BOSUN_BIN" server --data-dir "$work/data" --bind "127.0.0.1:$port" >"$OUT/server.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 1 300); do
  [ -f "$work/data/admin.kubeconfig" ] && k get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.2
done
"$BOSUN_BIN" sim --kubeconfig "$work/data/admin.kubeconfig" --nodes "$NODES" >"$OUT/sim.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 600); do
  n=$(k get nodes --no-headers 2>/dev/null | wc -l)
  [ "$n" -ge "$NODES" ] && break
  sleep 0.5
done
say "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%d GiB", $2/1048576}' /proc/meminfo); $(date -u +%Y-%m-%d)"
say "nodes registered: $NODES"

manifest() { # name replicas image
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers: [{name: app, image: "$3"}]
EOF
}

# Waits for the Deployment to have $2 updated, available replicas at its
# current generation. One `kubectl rollout status` watches for it (polling
# with a kubectl per half second would take CPU from the cluster under
# test); the final state is then checked once.
wait_available() { # name replicas timeout-seconds
  k rollout status "deploy/$1" --timeout="$3s" >/dev/null 2>&1 || true
  local got
  got=$(field "$1" '{.status.updatedReplicas}/{.status.availableReplicas}/{.status.replicas}/{.metadata.generation}/{.status.observedGeneration}')
  local gen=${got#*/*/*/}
  [ "${got%/*/*}" = "$2/$2/$2" ] && [ "${gen%/*}" = "${gen#*/}" ] && return 0
  say "!! $1 did not reach $2 available replicas (last: $(field "$1" '{.status}'))"
  return 1
}

# 1. Scale-up 0 -> REPLICAS.
manifest scale 0 registry.local/app:1 | k apply -f - >/dev/null
sleep 1
# One watch notes when the last pod was created, bound and Running, from
# the first pod seen: the scheduler benchmark's milestones, like for like.
# It is up before the clocks start.
"$BENCH_BIN" pod-progress --kubeconfig "$work/data/admin.kubeconfig" --server-pid "$server" \
  --selector app=scale --pods "$REPLICAS" --timeout 60m --timeline >"$OUT/progress.txt" 2>&1 &
progress=$!
pids+=("$progress")
for _ in $(seq 1 100); do grep -q watching "$OUT/progress.txt" && break; sleep 0.1; done
if ! grep -q watching "$OUT/progress.txt"; then
  say "!! pod-progress did not start: $(cat "$OUT/progress.txt")"
  exit 1
fi
c0=$(cpu_of "$server" controllers)
s0=$(cpu_of "$server" scheduler)
a0=$(cpu_of "$server" all)
t0=$(now)
if [ "${PERF:-0}" = 1 ]; then
  perf record -F 199 --call-graph dwarf,16384 -p "$server" -o "$OUT/perf.data" >/dev/null 2>&1 &
  perf_pid=$!
fi
k scale deploy/scale --replicas="$REPLICAS" >/dev/null
wait_available scale "$REPLICAS" 3600
t1=$(now)
if [ -n "${perf_pid:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
c1=$(cpu_of "$server" controllers)
s1=$(cpu_of "$server" scheduler)
a1=$(cpu_of "$server" all)
say ""
say "scale-up 0 -> $REPLICAS replicas on $NODES nodes"
awk -v t0="$t0" -v t1="$t1" -v n="$REPLICAS" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v a0="$a0" -v a1="$a1" \
  'BEGIN { d = t1 - t0; c = c1 - c0; s = s1 - s0; a = a1 - a0; printf "  %.1f s, %.0f pods/s to all available\n  CPU seconds: controllers %.1f (%.0f%% of one core), scheduler %.1f, whole server %.1f\n", d, n / d, c, 100 * c / d, s, a }' | tee -a "$log"
say "  server RSS $(rss_mib "$server") MiB"
wait "$progress" || say "!! pod-progress failed"
# The per-second table (created, bound, Running) stays in progress.txt.
grep -Ev '^watching|^second|^ *[0-9]+ ' "$OUT/progress.txt" | tee -a "$log"
say "  pods per second created, bound and Running: $OUT/progress.txt"

# Free the nodes for the rolling update.
k delete deploy/scale --wait=false >/dev/null
# One pod at most per check: listing 100,000 every second would slow the
# deletion it waits for.
for _ in $(seq 1 3600); do
  k get --raw '/api/v1/namespaces/default/pods?limit=1' 2>/dev/null | grep -q '"items":\[\]' && break
  sleep 1
done

# 2. Rolling update of ROLLING replicas (default 25% surge/unavailable).
manifest roll "$ROLLING" registry.local/app:1 | k apply -f - >/dev/null
wait_available roll "$ROLLING" 1800
c0=$(cpu_of "$server" controllers)
t0=$(now)
k set image deploy/roll app=registry.local/app:2 >/dev/null
wait_available roll "$ROLLING" 1800
t1=$(now)
c1=$(cpu_of "$server" controllers)
say ""
say "rolling update of $ROLLING replicas (maxSurge 25%, maxUnavailable 25%)"
awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
  'BEGIN { c = c1 - c0; printf "  %.1f s from set image to complete; controllers %.1f CPU s\n", t1 - t0, c }' | tee -a "$log"
say ""
say "results in $OUT"
