#!/usr/bin/env bash
# Installs the independent SD-JWT implementations used by the interop tests, inside this
# folder only:
#   .venv/         PyPI `sd-jwt` 0.10.x (the IETF reference implementation; brings jwcrypto)
#   node_modules/  npm `@sd-jwt/sd-jwt-vc` + `@sd-jwt/crypto-nodejs` 0.19.0, from package-lock.json
# Idempotent: does nothing when the right versions are already there, reinstalls when they
# are not. Quiet on success (one summary line); on failure prints the installer's output and
# exits non-zero.
set -euo pipefail
cd "$(dirname "$0")"

SD_JWT_PY='0.10.'     # PyPI sd-jwt version prefix
SD_JWT_NPM='0.19.0'   # @sd-jwt/* exact version (0.20 needs a package this registry lacks)

die() { echo "interop/setup.sh: $*" >&2; exit 1; }
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

command -v python3 >/dev/null || die "python3 not found"
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"

# --- Python peer
py_version() { .venv/bin/python -c 'import importlib.metadata as m, sd_jwt; print(m.version("sd-jwt"))' 2>/dev/null || true; }
if [[ "$(py_version)" != "$SD_JWT_PY"* ]]; then
  rm -rf .venv
  if ! python3 -m venv .venv >/dev/null 2>&1; then
    # Debian's python3 keeps venv/ensurepip in a separate package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      quietly apt-get update -qq
      quietly apt-get install -y -qq python3-venv
      rm -rf .venv
      quietly python3 -m venv .venv
    else
      die "python3 -m venv failed (install python3-venv)"
    fi
  fi
  quietly .venv/bin/pip install --disable-pip-version-check --no-input "sd-jwt==${SD_JWT_PY}*"
  [[ "$(py_version)" == "$SD_JWT_PY"* ]] || die "sd-jwt ${SD_JWT_PY}x did not install"
fi

# --- Node peer
npm_version() { node -p "require('./node_modules/@sd-jwt/$1/package.json').version" 2>/dev/null || true; }
if [ "$(npm_version sd-jwt-vc)" != "$SD_JWT_NPM" ] || [ "$(npm_version crypto-nodejs)" != "$SD_JWT_NPM" ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ]; then
  quietly npm ci --no-audit --no-fund --loglevel=error
  [ "$(npm_version sd-jwt-vc)" = "$SD_JWT_NPM" ] && [ "$(npm_version crypto-nodejs)" = "$SD_JWT_NPM" ] ||
    die "@sd-jwt/* $SD_JWT_NPM did not install"
fi

echo "interop peers: sd-jwt $(py_version) (.venv), @sd-jwt/sd-jwt-vc $(npm_version sd-jwt-vc) + @sd-jwt/crypto-nodejs $(npm_version crypto-nodejs) (node_modules)"
