#!/usr/bin/env bash
# The node agent benchmark (issue 5), on this machine only, as root with
# containerd installed (scripts/deps.sh): pod startup latency for PODS pods
# (default 100) on one agent node, image present, and the agent's and its
# containerd's CPU and RSS idle and with the pods running.
#
#   scripts/bench-agent.sh              # release build, 100 pods
#   INTERVAL=0.1 scripts/bench-agent.sh # one pod every 100 ms
#   RUNTIME_BINARY=/usr/bin/crun scripts/bench-agent.sh  # crun instead of runc
#   PODS=30 WINDOW=10 SKIP_BUILD=1 BOSUN_BIN=target/release/bosun scripts/bench-agent.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -p bosun
fi
export BOSUN_BIN=${BOSUN_BIN:-$PWD/target/release/bosun}
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/requirements.txt; }
exec .venv/bin/python scripts/bench_agent.py
