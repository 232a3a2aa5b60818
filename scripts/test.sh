#!/usr/bin/env bash
# Runs every test suite, then gates a whole default run against the shipped store with
# nothing unblessed, and ends with one summary line over all of it (also when something failed).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
cargo test --release --all-features --tests --no-fail-fast "$@" 2>&1 | tee target/test-output.log
tests=$?
# The default `jitterbug run` (every profile × preset × clip), gated with --strict: a scenario
# missing from golden/baselines/sim.json fails as surely as a regression.
rm -rf target/default-run
if cargo run --release -q -p jitterbug -- run --out target/default-run > target/default-run.log 2>&1 &&
  cargo run --release -q -p jitterbug -- gate --strict --results target/default-run/results.json \
    --junit target/default-run/gate.xml > target/default-run/gate.txt; then
  echo "test result: ok. 1 passed; 0 failed; default run gated --strict: $(grep '^\[sim\]' target/default-run/gate.txt)" | tee -a target/test-output.log
else
  cat target/default-run.log target/default-run/gate.txt 2>/dev/null
  echo "test result: FAILED. 0 passed; 1 failed; default run gated --strict (see above)" | tee -a target/test-output.log
fi
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "total: %d passed, %d failed\n", passed, failed; exit failed > 0 }' target/test-output.log
failed=$?
exit $(( tests != 0 || failed != 0 ))
