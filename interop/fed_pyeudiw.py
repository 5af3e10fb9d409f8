#!/usr/bin/env python3
"""Build and validate an OpenID Federation trust chain with PyPI `pyeudiw` (2.2.x).

Run with the venv that interop/setup.sh makes:

    interop/.venv-pyeudiw/bin/python interop/fed_pyeudiw.py --ta TA_URL --ta-jwks TA.jwks.json \
        --leaf LEAF_URL [--max-path-length N]

Two steps, both pyeudiw's own code:
1. `pyeudiw.federation.trust_chain_builder.TrustChainBuilder` walks `authority_hints` from the
   leaf to the trust anchor and checks each statement (signature, header, payload schema,
   iat/exp of every statement it verifies through `JWSHelper`).
2. `pyeudiw.federation.trust_chain_validator.StaticTrustChainValidator` re-validates the chain
   the builder found (leaf EC, Subordinate Statements, TA EC) against the trust anchor keys
   pinned with `--ta-jwks` (a JWK Set file), the way pyeudiw's FederationHandler checks a
   `trust_chain` it receives.

On success (exit 0) it prints one JSON document:
    {"peer": "pyeudiw", "version": "...", "valid": true,
     "chain": [{"iss", "sub", "exp"}, ...],   # subject EC, SS..., TA EC
     "exp": <validator's chain exp>, "builder_exp": <builder's exp>,
     "metadata": {...}}                       # the builder's final_metadata
On refusal or error it prints {"peer", "valid": false, "error"} on stdout, the reason on stderr,
and exits 1. Usage errors exit 2.

Known limits of the peer, not worked around here:
- the builder's `final_metadata` is the leaf's own metadata: its policy step looks up
  `metadata_policy` in a dict keyed by subject ids, so it never finds one (no policy applied);
- `--max-path-length N`: like spid-cie-oidc, the builder reads `constraints.max_path_length`
  from the trust anchor's Entity Configuration (default 0: no intermediate), while draft 48
  puts `constraints` in Subordinate Statements only. The driver raises the builder's
  `max_path_len` to N after construction (never lowers it).
"""

import argparse
import importlib.metadata
import json
import logging
import sys
import warnings

# cryptojwt 1.9 names binary curves that cryptography 46 deprecates: noise, not our concern.
warnings.filterwarnings("ignore", message=".*will be removed in the next release")

PEER = "pyeudiw"


def fail(msg, code=1):
    print(f"fed_pyeudiw.py: {msg}", file=sys.stderr)
    print(json.dumps({"peer": PEER, "valid": False, "error": msg}))
    sys.exit(code)


def as_text(jwt):
    return jwt.decode() if isinstance(jwt, bytes) else jwt


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ta", required=True, help="trust anchor entity id")
    ap.add_argument("--ta-jwks", required=True, help="JWK Set file with the trust anchor's pinned keys")
    ap.add_argument("--leaf", required=True, help="subject entity id")
    ap.add_argument("--max-path-length", type=int, default=None,
                    help="intermediates the builder may walk (it reads this from the TA EC only)")
    args = ap.parse_args()

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="pyeudiw %(levelname)s %(name)s: %(message)s")
    try:
        with open(args.ta_jwks) as f:
            ta_jwks = json.load(f)["keys"]
    except Exception as e:
        fail(f"cannot read --ta-jwks: {e}", 2)

    from pyeudiw.federation.statements import EntityStatement, get_entity_configurations
    from pyeudiw.federation.trust_chain_builder import TrustChainBuilder
    from pyeudiw.federation.trust_chain_validator import StaticTrustChainValidator

    httpc_params = {"connection": {"ssl": False}, "session": {"timeout": 10}}
    try:
        ta_jwt = as_text(get_entity_configurations(args.ta, httpc_params, False)[0])
        ta_ec = EntityStatement(ta_jwt, httpc_params=httpc_params)
        ta_ec.validate_by_itself()
        tc = TrustChainBuilder(
            subject=args.leaf,
            trust_anchor=args.ta,
            trust_anchor_configuration=ta_ec,
            httpc_params=httpc_params,
        )
        if args.max_path_length is not None and args.max_path_length > tc.max_path_len:
            tc.max_path_len = args.max_path_length
        tc.start()
    except Exception as e:
        fail(f"chain refused by the builder: {type(e).__name__}: {e}")

    path = tc.trust_path
    if not tc.is_valid:
        fail("chain refused by the builder: no valid chain (is_valid false)")
    # As with spid-cie-oidc, is_valid can be true with no path that reaches the anchor.
    if not path or path[-1].sub != ta_ec.sub:
        fail(f"chain refused by the builder: no trust path to the trust anchor (path {[e.sub for e in path]})")

    jwts = [as_text(path[0].jwt)]
    for i in range(1, len(path)):
        ss = path[i].verified_descendant_statements_as_jwt.get(path[i - 1].sub)
        if ss is None:
            fail(f"internal: no statement by {path[i].sub} about {path[i - 1].sub}")
        jwts.append(as_text(ss))
    jwts.append(as_text(path[-1].jwt))

    try:
        validator = StaticTrustChainValidator(jwts, ta_jwks, httpc_params)
        ok = validator.validate()
    except Exception as e:
        fail(f"chain refused by the validator: {type(e).__name__}: {e}")
    if not ok:
        fail("chain refused by the validator (StaticTrustChainValidator.validate() is false)")

    from pyeudiw.jwt.utils import decode_jwt_payload

    chain = []
    for jwt in jwts:
        p = decode_jwt_payload(jwt)
        chain.append({"iss": p["iss"], "sub": p["sub"], "exp": p["exp"]})
    print(json.dumps({
        "peer": PEER,
        "version": importlib.metadata.version("pyeudiw"),
        "valid": True,
        "chain": chain,
        "exp": validator.exp,
        "builder_exp": tc.exp,
        "metadata": tc.final_metadata,
    }))


if __name__ == "__main__":
    main()
