#!/usr/bin/env bash
# The mobile-bindings foreign test suites: builds the library with the test-only exports,
# generates the bindings (scripts/bindings.sh --test-support), then runs
#   1. the Python suite (python3 -m unittest, standard library only),
#   2. the Kotlin/JVM program (kotlinc from the npm package kotlin-compiler, JNA from Debian),
#   3. a check that the Swift bindings exist (no Swift toolchain here).
# 1 and 2 each activate a wallet against examples/loopback_federation (built here) and take
# credentials from its issuers (pre-authorized offers; the authorization code flow: the PID
# through the test OP's login page, the licence with the PID presented).
# Usage: mobile-bindings/tests/run.sh [--skip-kotlin]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

skip_kotlin=0
for arg in "$@"; do
    case "$arg" in
        --skip-kotlin) skip_kotlin=1 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

out="$root/mobile-bindings/out/test"
echo "== mobile-bindings: build and generate bindings"
./scripts/bindings.sh --test-support

echo "== mobile-bindings: loopback federation for the activation tests"
cargo build -p mobile-bindings --example loopback_federation --locked

# Both suites start it themselves (one federation per suite, on ephemeral loopback ports).
export TESSERA_LOOPBACK_FEDERATION="$root/target/debug/examples/loopback_federation"

echo "== mobile-bindings: Python"
TESSERA_PYTHON_BINDINGS="$out/python" python3 -m unittest discover -s "$here/python" -p 'test_*.py' -v

echo "== mobile-bindings: Swift bindings generated"
for f in tessera.swift tesseraFFI.h tesseraFFI.modulemap; do
    test -s "$out/swift/$f" || { echo "missing $out/swift/$f" >&2; exit 1; }
done
grep -q "func importCredential" "$out/swift/tessera.swift"
grep -q "func startIssuance" "$out/swift/tessera.swift"
grep -q "func startIssuanceFromIssuer" "$out/swift/tessera.swift"
grep -q "protocol BrowserStep" "$out/swift/tessera.swift"

if [ "$skip_kotlin" = 1 ]; then
    echo "== mobile-bindings: Kotlin skipped (--skip-kotlin)"
    exit 0
fi
"$here/kotlin/run.sh" "$out"
