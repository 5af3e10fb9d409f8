#!/usr/bin/env bash
# Builds the mobile-bindings library and generates its Kotlin, Swift and Python bindings.
#
#   scripts/bindings.sh                  # debug build  -> mobile-bindings/out/{kotlin,swift,python}
#   scripts/bindings.sh --release        # release build -> same place
#   scripts/bindings.sh --test-support   # with the test-only exports (TestIssuer) -> mobile-bindings/out/test/
#
# The Python directory gets the shared library beside the module, ready to import.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
cargo_flags=()
out=mobile-bindings/out
for arg in "$@"; do
    case "$arg" in
        --release) profile=release; cargo_flags+=(--release) ;;
        --test-support) cargo_flags+=(--features test-support); out=mobile-bindings/out/test ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

cargo build -p mobile-bindings --locked "${cargo_flags[@]}"

case "$(uname -s)" in
    Darwin) lib="target/$profile/libtessera_mobile.dylib" ;;
    *) lib="target/$profile/libtessera_mobile.so" ;;
esac
bindgen="target/$profile/uniffi-bindgen"

rm -rf "$out/python" "$out/kotlin" "$out/swift"
for lang in python kotlin swift; do
    # --no-format: no ktlint / swift-format on this machine.
    "$bindgen" generate --library "$lib" --language "$lang" --out-dir "$out/$lang" --no-format >/dev/null
done
cp "$lib" "$out/python/"
cp "$lib" "$out/kotlin/"

test -f "$out/python/tessera.py"
test -f "$out/kotlin/uniffi/tessera/tessera.kt"
test -f "$out/swift/tessera.swift" && test -f "$out/swift/tesseraFFI.h" && test -f "$out/swift/tesseraFFI.modulemap"
echo "bindings in $out: $(cd "$out" && find . -type f \( -name '*.py' -o -name '*.kt' -o -name '*.swift' -o -name '*.h' -o -name '*.modulemap' \) | sort | tr '\n' ' ')"
