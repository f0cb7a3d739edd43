#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests, and the end-to-end suite against real peers.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxeye-target}"

echo "== installing test dependencies"
./scripts/install-test-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
echo "== PromQL conformance (Prometheus's test scripts; regressions fail cargo test above)"
cargo run -q -p oxeye-promql-conformance --bin promql-conformance
echo "== end-to-end tests"
cargo build -p oxeye
export OXEYE_BIN="$CARGO_TARGET_DIR/debug/oxeye"
python3 -m pytest -q tests/e2e
