# The two commands of the README's quick start. Both install what they need first.
.PHONY: run test deps

deps:
	bash scripts/deps.sh

# Main job: run the matrix on the built-in defaults; writes reports/<run-id>/ and reports/latest.
run: deps
	cargo run --release -p jitterbug -- run

# Every test suite (plain `cargo test` runs the ones that need no browser and no root). Release
# mode: the benches are built with the same artifacts, and the golden baselines were blessed so.
test: deps
	cargo bench -p jitterbug-core -p jitterbug --no-run
	bash scripts/test.sh
