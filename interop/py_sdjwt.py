#!/usr/bin/env python3
"""The IETF reference implementation (PyPI `sd-jwt` 0.10.x, module `sd_jwt`, on `jwcrypto`)
behind a uniform command line, so that Tessera's interop tests can drive it as a subprocess.
Run it with interop/.venv/bin/python (installed by interop/setup.sh).

  py_sdjwt.py keygen  --out K                         writes K.jwk (private) and K.pub.jwk (P-256)
  py_sdjwt.py issue   --issuer-key K.jwk --holder-key H.pub.jwk --claims C.json --vct VCT [--iss ISS]
                                                      prints the issued SD-JWT VC (ends with `~`)
  py_sdjwt.py present --holder-key H.jwk --aud AUD --nonce N [--disclose a,b]   < issued
                                                      prints the presentation with its KB-JWT
  py_sdjwt.py verify  --issuer-jwk K.pub.jwk [--aud AUD --nonce N]            < presentation
                                                      prints the processed claims as one JSON object

`issue` makes every top-level claim of C.json selectively disclosable; iss, iat, exp (+1 day),
vct and cnf.jwk stay in the clear. `present` without --disclose discloses everything.
`verify` without --aud/--nonce does not look at the KB-JWT at all (the library's behaviour);
with them, a KB-JWT is required. Exit 0 on success, 1 with the reason on stderr otherwise.

What the library does NOT check (this wrapper adds nothing, so that it stays a faithful peer):
the SD-JWT `typ`, `exp`/`nbf`/`iat`, the KB-JWT `iat`, unreferenced disclosures. See README.md.
"""
import argparse
import json
import sys
import time

from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier


def load_key(path):
    with open(path) as f:
        return JWK.from_json(f.read())


def read_stdin():
    token = sys.stdin.read().strip()
    if not token:
        raise ValueError("empty input on stdin")
    return token


def keygen(a):
    key = JWK.generate(kty="EC", crv="P-256")
    with open(a.out + ".jwk", "w") as f:
        json.dump(key.export_private(as_dict=True), f)
    with open(a.out + ".pub.jwk", "w") as f:
        json.dump(key.export_public(as_dict=True), f)


def issue(a):
    with open(a.claims) as f:
        claims = json.load(f)
    if not isinstance(claims, dict):
        raise ValueError("claims file must hold a JSON object")
    now = int(time.time())
    user_claims = {"iss": a.iss, "iat": now, "exp": now + 86400, "vct": a.vct}
    for k, v in claims.items():
        user_claims[SDObj(k)] = v
    issuer = SDJWTIssuer(
        user_claims,
        load_key(a.issuer_key),
        holder_key=load_key(a.holder_key),  # becomes cnf.jwk (public part only)
        sign_alg="ES256",
        # The library's default typ is "example+sd-jwt" (or $SD_JWT_HEADER): set it.
        extra_header_parameters={"typ": "dc+sd-jwt"},
    )
    print(issuer.sd_jwt_issuance)


def present(a):
    holder = SDJWTHolder(read_stdin())
    # The holder selects disclosures with a dict {claim name: True}; top-level claims only.
    names = (
        [k for k in a.disclose.split(",") if k]
        if a.disclose
        else [d[1] for d in holder._hash_to_decoded_disclosure.values() if len(d) == 3]
    )
    holder.create_presentation(
        {k: True for k in names}, nonce=a.nonce, aud=a.aud, holder_key=load_key(a.holder_key), sign_alg="ES256"
    )
    print(holder.sd_jwt_presentation)


def verify(a):
    if bool(a.aud) != bool(a.nonce):
        raise ValueError("give both --aud and --nonce, or neither")
    key = load_key(a.issuer_jwk)
    v = SDJWTVerifier(read_stdin(), lambda iss, header: key, expected_aud=a.aud, expected_nonce=a.nonce)
    print(json.dumps(v.get_verified_payload()))


def main():
    p = argparse.ArgumentParser(prog="py_sdjwt.py", description="PyPI sd-jwt 0.10.x as an interop peer")
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("--out", required=True)
    i = sub.add_parser("issue")
    i.add_argument("--issuer-key", required=True)
    i.add_argument("--holder-key", required=True)
    i.add_argument("--claims", required=True)
    i.add_argument("--vct", required=True)
    i.add_argument("--iss", default="https://issuer.peer.localhost")
    pr = sub.add_parser("present")
    pr.add_argument("--holder-key", required=True)
    pr.add_argument("--aud", required=True)
    pr.add_argument("--nonce", required=True)
    pr.add_argument("--disclose")
    v = sub.add_parser("verify")
    v.add_argument("--issuer-jwk", required=True)
    v.add_argument("--aud")
    v.add_argument("--nonce")
    a = p.parse_args()  # usage errors exit 2
    try:
        {"keygen": keygen, "issue": issue, "present": present, "verify": verify}[a.cmd](a)
    except Exception as e:  # any failure is a refusal, with its reason
        print(f"py_sdjwt {a.cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
