#!/usr/bin/env bash
# Runs every test suite and ends with one summary line over all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
cargo test --release --all-features --tests --no-fail-fast "$@" 2>&1 | tee target/test-output.log
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "total: %d passed, %d failed\n", passed, failed }' target/test-output.log
