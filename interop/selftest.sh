#!/usr/bin/env bash
# Proves the two peer wrappers work, against themselves and against each other, without
# Tessera: every issuer x holder x verifier combination of {py, ts} (8 rounds; 27 with
# TESSERA=/path/to/tessera, which adds our CLI as a third party), each with the
# disclosed/undisclosed claims checked, then the refusals every verifier must make (wrong
# nonce, wrong aud, wrong issuer key, a disclosure dropped after the KB-JWT was made, no
# KB-JWT at all). Keys come from `py_sdjwt.py keygen` (and `ts_sdjwt.mjs keygen` for a second
# holder, so that each side uses keys the other made). Prints "N passed, M failed".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -x "$here/.venv/bin/python" ] && [ -d "$here/node_modules/@sd-jwt/sd-jwt-vc" ] || "$here/setup.sh"

PY=("$here/.venv/bin/python" "$here/py_sdjwt.py")
TS=(node "$here/ts_sdjwt.mjs")
peer() {
  local p=$1; shift
  case $p in py) "${PY[@]}" "$@" ;; ts) "${TS[@]}" "$@" ;; te) "$TESSERA" sd-jwt "$@" ;; esac
}
# Optionally a third party: TESSERA=/path/to/tessera ./selftest.sh
PARTIES=(py ts)
if [ -n "${TESSERA:-}" ]; then TESSERA="$(realpath "$TESSERA")"; PARTIES+=(te); fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

"${PY[@]}" keygen --out issuer
"${PY[@]}" keygen --out holder
"${TS[@]}" keygen --out holder2
"${PY[@]}" keygen --out other
cat > claims.json <<'EOF'
{"given_name":"Mario","family_name":"Rossi","birthdate":"1980-01-10","tax_id_code":"TINIT-RSSMRA80A10H501A","place_of_birth":{"locality":"Forlì"},"nationalities":["IT"]}
EOF

AUD=https://rp.example.it
VCT=urn:eudi:pid:it:1
ISS=https://pid.example.it
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_refusal NAME VERIFIER INPUT ARGS...: the verifier must exit 1 with a reason on stderr.
expect_refusal() {
  local name=$1 v=$2 input=$3; shift 3
  local rc=0
  peer "$v" verify "$@" < "$input" > out.json 2> err.txt || rc=$?
  if [ "$rc" -eq 1 ] && [ -s err.txt ]; then ok; else bad "$name: $v verify exit $rc, expected 1 with a reason ($(head -c 200 err.txt))"; fi
}

for holderkey in holder holder2; do
  for i in "${PARTIES[@]}"; do
    peer "$i" issue --issuer-key issuer.jwk --holder-key "$holderkey.pub.jwk" --claims claims.json --vct "$VCT" --iss "$ISS" > "issued.$i"
    # Issued form: <JWT>~<disc>~...~<disc>~, typ dc+sd-jwt, alg ES256.
    python3 - "issued.$i" "$holderkey.pub.jwk" <<'EOF' && ok || bad "issued by $i has the wrong form"
import base64, json, sys
tok = open(sys.argv[1]).read().strip()
pub = json.load(open(sys.argv[2]))
b64 = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
parts = tok.split("~")
assert tok.endswith("~") and len(parts) == 8, parts
h, p = (b64(x) for x in parts[0].split(".")[:2])
assert h["typ"] == "dc+sd-jwt" and h["alg"] == "ES256", h
assert p["_sd_alg"] == "sha-256" and len(p["_sd"]) == 6, p
assert {p["cnf"]["jwk"][k] for k in ("kty", "crv", "x", "y")} == {pub[k] for k in ("kty", "crv", "x", "y")} and "d" not in p["cnf"]["jwk"]
assert {"iss", "iat", "exp", "vct"} <= p.keys() and not {"given_name", "family_name"} & p.keys()
EOF
    for h in "${PARTIES[@]}"; do
      nonce="n-$i-$h-$RANDOM"
      peer "$h" present --holder-key "$holderkey.jwk" --aud "$AUD" --nonce "$nonce" --disclose given_name,birthdate,place_of_birth < "issued.$i" > pres
      for v in "${PARTIES[@]}"; do
        round="$i issues, $h presents, $v verifies ($holderkey)"
        if peer "$v" verify --issuer-jwk issuer.pub.jwk --aud "$AUD" --nonce "$nonce" < pres > out.json 2> err.txt &&
           python3 - out.json <<'EOF'; then ok; else bad "$round: $(cat err.txt) $(cat out.json)"; fi
import json, sys
c = json.load(open(sys.argv[1]))
assert c["given_name"] == "Mario" and c["birthdate"] == "1980-01-10" and c["place_of_birth"] == {"locality": "Forlì"}, c
assert not {"family_name", "tax_id_code", "nationalities", "_sd", "_sd_alg"} & c.keys(), c
assert c["vct"] == "urn:eudi:pid:it:1" and c["iss"] == "https://pid.example.it", c
EOF
        expect_refusal "$round, wrong nonce" "$v" pres --issuer-jwk issuer.pub.jwk --aud "$AUD" --nonce other-nonce
        expect_refusal "$round, wrong aud" "$v" pres --issuer-jwk issuer.pub.jwk --aud https://evil.example --nonce "$nonce"
        expect_refusal "$round, wrong issuer key" "$v" pres --issuer-jwk other.pub.jwk --aud "$AUD" --nonce "$nonce"
        # Drop the first disclosure: the KB-JWT's sd_hash no longer matches.
        python3 -c 'import sys; p = open("pres").read().strip().split("~"); del p[1]; print("~".join(p))' > dropped
        expect_refusal "$round, disclosure dropped" "$v" dropped --issuer-jwk issuer.pub.jwk --aud "$AUD" --nonce "$nonce"
      done
      # Without --disclose everything is disclosed.
      peer "$h" present --holder-key "$holderkey.jwk" --aud "$AUD" --nonce all < "issued.$i" > pres_all
      [ "$(awk -F'~' '{print NF}' pres_all)" -eq 8 ] && ok || bad "$h present without --disclose: $(cat pres_all)"
    done
    # The issued form (no KB-JWT) is refused when a nonce is asked for.
    for v in "${PARTIES[@]}"; do
      expect_refusal "issued by $i without KB-JWT" "$v" "issued.$i" --issuer-jwk issuer.pub.jwk --aud "$AUD" --nonce x
    done
  done
done

echo "selftest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
