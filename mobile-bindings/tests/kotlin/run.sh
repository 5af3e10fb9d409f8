#!/usr/bin/env bash
# Compiles and runs the Kotlin/JVM test program against bindings generated in $1
# (mobile-bindings/out/test). Fetches kotlinc 2.4.20 from npm into mobile-bindings/.kotlin/
# and installs libjna-java and sqlite3 when missing (CI runs as root). The activation checks start
# $TESSERA_LOOPBACK_FEDERATION (default: the debug build of examples/loopback_federation).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(cd "$1" && pwd)"
export TESSERA_LOOPBACK_FEDERATION="${TESSERA_LOOPBACK_FEDERATION:-$(cd "$here/../../.." && pwd)/target/debug/examples/loopback_federation}"
test -x "$TESSERA_LOOPBACK_FEDERATION" || { echo "no loopback federation at $TESSERA_LOOPBACK_FEDERATION (cargo build -p mobile-bindings --example loopback_federation)" >&2; exit 1; }
kdir="$here/../../.kotlin"
mkdir -p "$kdir"
kdir="$(cd "$kdir" && pwd)"

if [ ! -x "$kdir/package/bin/kotlinc" ]; then
    echo "== fetching kotlin-compiler 2.4.20 (npm)"
    (cd "$kdir" && npm pack --silent kotlin-compiler@2.4.20 >/dev/null && tar xzf kotlin-compiler-2.4.20.tgz && rm kotlin-compiler-2.4.20.tgz)
fi
jna=/usr/share/java/jna.jar
if [ ! -f "$jna" ]; then
    echo "== installing libjna-java"
    if [ "$(id -u)" = 0 ]; then apt-get install -y libjna-java >/dev/null; else sudo apt-get install -y libjna-java >/dev/null; fi
fi
if ! command -v sqlite3 >/dev/null; then
    echo "== installing sqlite3 (the issuance check marks a registry record ready)"
    if [ "$(id -u)" = 0 ]; then apt-get install -y sqlite3 >/dev/null; else sudo apt-get install -y sqlite3 >/dev/null; fi
fi
coroutines="$kdir/package/lib/kotlinx-coroutines-core-jvm.jar"
build="$here/../../out/test/kotlin-build"
mkdir -p "$build"

echo "== mobile-bindings: Kotlin (compile)"
rm -f "$build/app.jar"
"$kdir/package/bin/kotlinc" -nowarn -cp "$jna:$coroutines" \
    "$out/kotlin/uniffi/tessera/tessera.kt" "$here/Main.kt" -d "$build/app.jar" 2>&1 | grep -v "^warning:" || true
test -f "$build/app.jar"
echo "== mobile-bindings: Kotlin (run)"
java -Djna.library.path="$out/kotlin" -cp "$build/app.jar:$jna:$coroutines:$kdir/package/lib/kotlin-stdlib.jar" MainKt \
    "$out/kotlin/uniffi/tessera/tessera.kt"
