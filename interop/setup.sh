#!/usr/bin/env bash
# Installs the independent SD-JWT implementations used by the interop tests, inside this
# folder: PyPI `sd-jwt` 0.10.x in .venv, npm `@sd-jwt/sd-jwt-vc` + `@sd-jwt/crypto-nodejs`
# 0.19.0 in node_modules. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sd_jwt' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q 'sd-jwt==0.10.*'
fi
if [ ! -d node_modules/@sd-jwt/sd-jwt-vc ]; then
  npm ci --silent --no-audit --no-fund 2>/dev/null || npm install --silent --no-audit --no-fund
fi
echo "interop peers: $(.venv/bin/python -c 'import importlib.metadata as m; print("sd-jwt", m.version("sd-jwt"))'), @sd-jwt/sd-jwt-vc $(node -p 'require("./node_modules/@sd-jwt/sd-jwt-vc/package.json").version')"
