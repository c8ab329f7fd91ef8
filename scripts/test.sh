#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and store-conformance tests
# (MemStore, redb, and a real etcd), then the end-to-end suite driving the
# real kubectl and the official Python client against `bosun server`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
echo "== cargo build (bosun binary for e2e)"
cargo build -p bosun

if [ ! -x .venv/bin/pytest ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q -r tests/requirements.txt
echo "== e2e (kubectl 1.32 + python kubernetes client)"
BOSUN_BIN="$PWD/target/debug/bosun" .venv/bin/pytest tests/e2e -q
