#!/usr/bin/env bash
# Installs what the in-person page's browser test (verifier/tests/browser.rs) needs:
#   /usr/bin/chromium                       Debian's `chromium` (apt-get; as root, as in CI)
#   verifier/tests/browser/node_modules/    npm `playwright-core`, from that folder's package-lock.json
#                                           (the driver only: no browser download, it runs Debian's)
# Idempotent: does nothing when both are there at the locked version. Quiet on success (one
# summary line); on failure prints the installer's output and exits non-zero.
# Then: TESSERA_BROWSER=required cargo nextest run -p verifier --test browser
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "scripts/browser.sh: $*" >&2; exit 1; }
# quietly CMD...: run CMD, show its output only if it fails.
quietly() {
  local log
  log="$(mktemp)"
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "failed: $*"
  fi
  rm -f "$log"
}

command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"

# --- Chromium (Debian's package: its own sandbox and codecs, updated with the system)
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    quietly apt-get update -qq
    quietly apt-get install -y -qq chromium
  else
    die "/usr/bin/chromium is missing: run as root, or apt-get install chromium"
  fi
fi
[ -x /usr/bin/chromium ] || die "chromium did not install"

# --- playwright-core, at the version package-lock.json pins
cd verifier/tests/browser
want="$(node -p "require('./package-lock.json').packages['node_modules/playwright-core'].version")"
have() { node -p "require('./node_modules/playwright-core/package.json').version" 2>/dev/null || true; }
if [ "$(have)" != "$want" ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  quietly npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  [ "$(have)" = "$want" ] || die "playwright-core $want did not install"
fi

echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1) (/usr/bin/chromium), playwright-core $(have) (verifier/tests/browser/node_modules)"
