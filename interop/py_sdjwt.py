#!/usr/bin/env python3
"""The IETF reference implementation (PyPI `sd-jwt` 0.10.x) behind a uniform command line,
so that Tessera's interop tests can drive it as a subprocess.

  py_sdjwt.py issue   --issuer-key K.jwk --holder-key H.pub.jwk --claims C.json --vct VCT --iss ISS
  py_sdjwt.py present --holder-key H.jwk --aud AUD --nonce N [--disclose a,b]   < issued
  py_sdjwt.py verify  --issuer-jwk K.pub.jwk --aud AUD --nonce N                < presentation

Exit 0 on success, 1 with the reason on stderr otherwise. This peer's verifier does not check
`typ`, `exp` or the KB-JWT `iat` (see README.md).
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


def issue(a):
    with open(a.claims) as f:
        claims = json.load(f)
    now = int(time.time())
    user_claims = {"iss": a.iss, "iat": now, "exp": now + 86400, "vct": a.vct}
    for k, v in claims.items():
        user_claims[SDObj(k)] = v
    issuer = SDJWTIssuer(
        user_claims,
        load_key(a.issuer_key),
        holder_key=load_key(a.holder_key),
        sign_alg="ES256",
        extra_header_parameters={"typ": "dc+sd-jwt"},
    )
    print(issuer.sd_jwt_issuance)


def present(a):
    holder = SDJWTHolder(sys.stdin.read().strip())
    if a.disclose:
        wanted = {k: True for k in a.disclose.split(",") if k}
    else:
        wanted = {k: True for k in holder._hash_to_decoded_disclosure and
                  {d[1] for d in holder._hash_to_decoded_disclosure.values() if len(d) == 3}}
    holder.create_presentation(wanted, nonce=a.nonce, aud=a.aud, holder_key=load_key(a.holder_key), sign_alg="ES256")
    print(holder.sd_jwt_presentation)


def verify(a):
    key = load_key(a.issuer_jwk)
    v = SDJWTVerifier(sys.stdin.read().strip(), lambda iss, header: key, expected_aud=a.aud, expected_nonce=a.nonce)
    print(json.dumps(v.get_verified_payload()))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
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
    a = p.parse_args()
    try:
        {"issue": issue, "present": present, "verify": verify}[a.cmd](a)
    except Exception as e:  # report any failure as a refusal, with its reason
        print(f"py_sdjwt {a.cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
