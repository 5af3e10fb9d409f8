#!/usr/bin/env bash
# The test command: peers for interop, a headless browser, PostgreSQL, clippy, every test
# (both crypto backends), the short benchmark runs, a fuzz smoke run, then the mobile bindings
# from Python and Kotlin.
set -euo pipefail
cd "$(dirname "$0")/.."
# What the build holds on disk after each big step (CI's disk is finite: see Cargo.toml's profiles).
disk() { echo "== [${SECONDS}s] disk: target $(du -sh target 2>/dev/null | cut -f1), $(df -h . | awk 'NR==2{print $4}') free"; }

./interop/setup.sh
export TESSERA_INTEROP=required
./scripts/browser.sh
export TESSERA_BROWSER=required
eval "$(./scripts/postgres.sh)"
export TESSERA_POSTGRES=required

echo "== [${SECONDS}s] clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== [${SECONDS}s] tests (server backend: aws-lc-rs)"
cargo nextest run --workspace --locked --no-fail-fast

disk
echo "== [${SECONDS}s] benchmark smoke run (dev profile, 2 s per level: any error fails; figures: README, Benchmarks)"
cargo bench -p verifier --bench presentations --locked --profile dev -- --quick
cargo bench -p issuer --bench issuance --locked --profile dev -- --quick

echo "== [${SECONDS}s] fuzz smoke (every target builds, runs its seeds + 2 s, no crash; the campaign: README, Fuzzing)"
./scripts/fuzz.sh --smoke 2

disk
echo "== [${SECONDS}s] tests (phone backend: pure Rust)"
cargo nextest run -p wallet-core --no-default-features --locked --no-fail-fast

echo "== [${SECONDS}s] mobile bindings (Python and Kotlin/JVM against the built library; Swift generated)"
mobile-bindings/tests/run.sh
echo "== [${SECONDS}s] done"
