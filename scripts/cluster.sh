#!/usr/bin/env bash
# One command to a working cluster: installs build prerequisites, builds the
# release binary and runs `bosun server` with the embedded store.
#   scripts/cluster.sh [--data-dir DIR] [other `bosun server` flags]
# Then: export KUBECONFIG=<data-dir>/admin.kubeconfig; kubectl get ns
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release -p bosun
data_dir=./data
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--data-dir" ]; then data_dir="${args[$((i + 1))]}"; fi
done
has_dir=0
for a in "$@"; do [ "$a" = "--data-dir" ] && has_dir=1; done
if [ $has_dir -eq 0 ]; then set -- --data-dir "$data_dir" "$@"; fi
echo "starting bosun; then: export KUBECONFIG=$(realpath -m "$data_dir")/admin.kubeconfig" >&2
exec ./target/release/bosun server "$@"
