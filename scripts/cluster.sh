#!/usr/bin/env bash
# One command to a working single-machine cluster (like `k3s server`):
# installs what it needs, builds the release binary, puts a busybox image
# where the agent imports images at start, and runs `bosun server --agent`
# (control plane on the embedded store + this machine as a Node running
# real containers through its own containerd).
#   scripts/cluster.sh [--data-dir DIR] [--no-agent] [other `bosun server` flags]
# Then: export KUBECONFIG=<data-dir>/admin.kubeconfig; kubectl get nodes
# BOSUN_BIN=path skips installing and building (the e2e tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BOSUN_BIN:-}" ]; then
  scripts/deps.sh
  cargo build --release -p bosun
  BOSUN_BIN=./target/release/bosun
fi
data_dir=./data
agent=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data_dir="$2"; shift 2 ;;
    --no-agent) agent=0; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ $agent -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "cluster.sh: not root, so no node agent (containers need root); control plane only" >&2
  agent=0
fi
if [ $agent -eq 1 ]; then
  mkdir -p "$data_dir/agent/images"
  # Nothing is pulled from the internet: a small image to start with.
  [ -f "$data_dir/agent/images/busybox.tar" ] ||
    "$BOSUN_BIN" images build-busybox --out "$data_dir/agent/images/busybox.tar" >&2
  args+=(--agent)
fi
echo "starting bosun; then: export KUBECONFIG=$(realpath -m "$data_dir")/admin.kubeconfig" >&2
exec "$BOSUN_BIN" server --data-dir "$data_dir" ${args[@]+"${args[@]}"}
