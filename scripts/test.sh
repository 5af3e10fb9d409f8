#!/usr/bin/env bash
# The test command: peers for interop, PostgreSQL, clippy, every test (both crypto backends),
# then the mobile bindings from Python and Kotlin.
set -euo pipefail
cd "$(dirname "$0")/.."

./interop/setup.sh
export TESSERA_INTEROP=required
eval "$(./scripts/postgres.sh)"
export TESSERA_POSTGRES=required

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests (server backend: aws-lc-rs)"
cargo nextest run --workspace --locked --no-fail-fast

echo "== tests (phone backend: pure Rust)"
cargo nextest run -p wallet-core --no-default-features --locked --no-fail-fast

echo "== mobile bindings (Python and Kotlin/JVM against the built library; Swift generated)"
mobile-bindings/tests/run.sh
