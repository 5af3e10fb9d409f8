#!/usr/bin/env bash
# Installs the independent implementations used by the interop tests, inside this folder only:
#   .venv/         PyPI `sd-jwt` 0.10.x (the IETF reference implementation; brings jwcrypto)
#   node_modules/  npm `@sd-jwt/sd-jwt-vc` + `@sd-jwt/crypto-nodejs` 0.19.0, from package-lock.json
#   .venv-spid/    PyPI `spid-cie-oidc` 1.6.x (SPID/CIE OIDC federation entity, OP and RP; brings
#                  Django 4.2, pydantic 1, cryptojwt)
#   .venv-pyeudiw/ PyPI `pyeudiw` 2.2.x (IT-Wallet relying party toolkit; brings pydantic 2)
#   node_modules/  npm `@openid-federation/core` 0.2.1 (OpenID Federation trust chain resolution,
#                  openid-federation-ts), from the same package-lock.json
#   node_modules/  npm `@openid4vc/openid4vp` 0.4.6 (OpenID4VP verifier and wallet, oid4vc-ts; brings
#                  zod 4) + `jose` 6.2.19 (its JOSE callbacks), from the same package-lock.json
#   node_modules/  npm `@openid4vc/openid4vci` 0.4.6 (OpenID4VCI wallet, oid4vc-ts; same
#                  `@openid4vc/oauth2` and `@openid4vc/utils`), from the same package-lock.json
# The two federation peers need separate venvs: spid-cie-oidc pins pydantic<2, pyeudiw
# pydantic>=2.10.
# Idempotent: does nothing when the right versions are already there, reinstalls when they
# are not. Quiet on success (one summary line); on failure prints the installer's output and
# exits non-zero.
set -euo pipefail
cd "$(dirname "$0")"

SD_JWT_PY='0.10.'     # PyPI sd-jwt version prefix
SD_JWT_NPM='0.19.0'   # @sd-jwt/* exact version (0.20 needs a package this registry lacks)
SPID_PY='1.6.'        # PyPI spid-cie-oidc version prefix
PYEUDIW_PY='2.2.'     # PyPI pyeudiw version prefix
OIDFED_NPM='0.2.1'    # @openid-federation/core exact version
OID4VP_NPM='0.4.6'    # @openid4vc/openid4vp exact version
OID4VCI_NPM='0.4.6'   # @openid4vc/openid4vci exact version
JOSE_NPM='6.2.19'     # jose exact version (openid4vp_common.mjs callbacks)

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

# make_venv DIR: a fresh venv in DIR.
make_venv() {
  rm -rf "$1"
  if ! python3 -m venv "$1" >/dev/null 2>&1; then
    # Debian's python3 keeps venv/ensurepip in a separate package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      quietly apt-get update -qq
      quietly apt-get install -y -qq python3-venv
      rm -rf "$1"
      quietly python3 -m venv "$1"
    else
      die "python3 -m venv failed (install python3-venv)"
    fi
  fi
}
# venv_version DIR DIST MODULE: the installed version of DIST if MODULE imports, else nothing.
venv_version() {
  "$1/bin/python" -c "import importlib.metadata as m, $3; print(m.version('$2'))" 2>/dev/null || true
}
# ensure_venv DIR DIST MODULE PREFIX: (re)installs DIST==PREFIX* into DIR unless it is there.
ensure_venv() {
  if [[ "$(venv_version "$1" "$2" "$3")" != "$4"* ]]; then
    make_venv "$1"
    quietly "$1/bin/pip" install --disable-pip-version-check --no-input "$2==$4*"
    [[ "$(venv_version "$1" "$2" "$3")" == "$4"* ]] || die "$2 $4x did not install in $1"
  fi
}

# --- Python SD-JWT peer
ensure_venv .venv sd-jwt sd_jwt "$SD_JWT_PY"
py_version() { venv_version .venv sd-jwt sd_jwt; }

# --- Python federation peers (fed_spid_cie_oidc.py, fed_pyeudiw.py)
ensure_venv .venv-spid spid-cie-oidc "spid_cie_oidc, django, cryptojwt, aiohttp" "$SPID_PY"
ensure_venv .venv-pyeudiw pyeudiw pyeudiw.federation.trust_chain_builder "$PYEUDIW_PY"

# --- Node peers (ts_sdjwt.mjs; fed_openid_federation.mjs; openid4vp_*.mjs; openid4vci_wallet.mjs)
npm_version() { node -p "require('./node_modules/$1/package.json').version" 2>/dev/null || true; }
npm_ok() {
  [ "$(npm_version @sd-jwt/sd-jwt-vc)" = "$SD_JWT_NPM" ] && [ "$(npm_version @sd-jwt/crypto-nodejs)" = "$SD_JWT_NPM" ] &&
    [ "$(npm_version @openid-federation/core)" = "$OIDFED_NPM" ] &&
    [ "$(npm_version @openid4vc/openid4vp)" = "$OID4VP_NPM" ] && [ "$(npm_version @openid4vc/openid4vci)" = "$OID4VCI_NPM" ] &&
    [ "$(npm_version jose)" = "$JOSE_NPM" ]
}
if ! npm_ok || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  quietly npm ci --no-audit --no-fund --loglevel=error
  npm_ok || die "@sd-jwt/* $SD_JWT_NPM, @openid-federation/core $OIDFED_NPM, @openid4vc/openid4vp $OID4VP_NPM, @openid4vc/openid4vci $OID4VCI_NPM or jose $JOSE_NPM did not install"
fi

echo "interop peers: sd-jwt $(py_version) (.venv), @sd-jwt/sd-jwt-vc $(npm_version @sd-jwt/sd-jwt-vc) + @sd-jwt/crypto-nodejs $(npm_version @sd-jwt/crypto-nodejs) + @openid-federation/core $(npm_version @openid-federation/core) + @openid4vc/openid4vp $(npm_version @openid4vc/openid4vp) + @openid4vc/openid4vci $(npm_version @openid4vc/openid4vci) + jose $(npm_version jose) (node_modules), spid-cie-oidc $(venv_version .venv-spid spid-cie-oidc spid_cie_oidc) (.venv-spid), pyeudiw $(venv_version .venv-pyeudiw pyeudiw pyeudiw) (.venv-pyeudiw)"
