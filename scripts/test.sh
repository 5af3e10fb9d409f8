#!/usr/bin/env bash
# The test command: peers for interop, a headless browser, PostgreSQL, clippy, every test
# (both crypto backends), the short benchmark runs, a fuzz smoke run, then the mobile bindings
# from Python and Kotlin.
set -euo pipefail
cd "$(dirname "$0")/.."
# What the build holds on disk after each big step (CI's disk is finite: see Cargo.toml's profiles).
disk() { echo "== [${SECONDS}s] disk: target $(du -sh target 2>/dev/null | cut -f1), fuzz/target $(du -sh fuzz/target 2>/dev/null | cut -f1), $(df -h . | awk 'NR==2{print $4}') free"; }
# Once a step has run, its test and bench executables (each links the whole stack: ~50 MB, about
# a hundred of them) and the fuzz build are of no use to the later steps, which build with other
# features or profiles: the disk is shared, so they go. TESSERA_KEEP_BUILD=1 keeps them (a local
# re-run then only re-runs; without it, it re-links).
reclaim() {
  [ "${TESSERA_KEEP_BUILD:-0}" = 1 ] && return 0
  find target/debug/deps -maxdepth 1 -type f -perm -u+x ! -name '*.*' -delete 2>/dev/null || true
  rm -rf fuzz/target
  disk
}

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
reclaim

echo "== [${SECONDS}s] fuzz smoke (every target builds, runs its seeds + 2 s, no crash; the campaign: README, Fuzzing)"
./scripts/fuzz.sh --smoke 2
reclaim
echo "== [${SECONDS}s] tests (phone backend: pure Rust)"
cargo nextest run -p wallet-core --no-default-features --locked --no-fail-fast
reclaim

echo "== [${SECONDS}s] mobile bindings (Python and Kotlin/JVM against the built library; Swift generated)"
mobile-bindings/tests/run.sh
echo "== [${SECONDS}s] done"
