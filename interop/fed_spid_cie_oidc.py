#!/usr/bin/env python3
"""Resolve an OpenID Federation trust chain with PyPI `spid-cie-oidc` (1.6.x), standalone.

Run with the venv that interop/setup.sh makes:

    interop/.venv-spid/bin/python interop/fed_spid_cie_oidc.py --ta TA_URL --leaf LEAF_URL \
        [--max-path-length N]

It uses the package's own `spid_cie_oidc.entity.trust_chain.TrustChainBuilder` (the one its
OP and RP run through `trust_chain_builder`), with Django configured in memory by
`settings.configure()` and no database (the builder itself never touches the ORM).

On success (exit 0) it prints one JSON document:
    {"peer": "spid-cie-oidc", "version": "...", "valid": true,
     "chain": [{"iss", "sub", "exp"}, ...],   # subject EC, SS..., TA EC (as the builder holds them)
     "exp": <min exp over the path>, "metadata": {<entity type>: {...}}}   # final_metadata
On refusal or error it prints {"peer", "valid": false, "error"} on stdout, the reason on stderr,
and exits 1. Usage errors exit 2.

`--max-path-length N`: the builder reads `constraints.max_path_length` from the trust anchor's
*Entity Configuration* (SPID/CIE docs), defaulting to 0, and never walks more intermediates
than that, while draft 48 puts `constraints` in Subordinate Statements only (§A.1 placement,
§A.3). Against a spec-following anchor the driver sets the builder's `max_path_len` to N after
the builder read the anchor's configuration (never lower than what the anchor says).
"""

import argparse
import importlib.metadata
import json
import logging
import sys
import warnings

# cryptojwt 1.9 names binary curves that cryptography 46 deprecates: noise, not our concern.
warnings.filterwarnings("ignore", message=".*will be removed in the next release")

PEER = "spid-cie-oidc"


def configure_django():
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            # No database: the trust chain builder needs none.
            DATABASES={},
            INSTALLED_APPS=[],
            USE_TZ=True,
            # Plain http on loopback in the tests; the builder's aiohttp client takes these.
            HTTPC_PARAMS={"connection": {"ssl": False}, "session": {}},
            HTTP_CLIENT_SYNC=False,
            LOGGING_CONFIG=None,
        )


def fail(msg, code=1):
    print(f"fed_spid_cie_oidc.py: {msg}", file=sys.stderr)
    print(json.dumps({"peer": PEER, "valid": False, "error": msg}))
    sys.exit(code)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ta", required=True, help="trust anchor entity id")
    ap.add_argument("--leaf", required=True, help="subject entity id")
    ap.add_argument("--max-path-length", type=int, default=None,
                    help="intermediates the builder may walk (it reads this from the TA EC only)")
    args = ap.parse_args()

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="spid-cie-oidc %(levelname)s %(name)s: %(message)s")
    configure_django()
    import aiohttp
    from spid_cie_oidc.entity.trust_chain import TrustChainBuilder

    httpc_params = {"connection": {"ssl": False}, "session": {"timeout": aiohttp.ClientTimeout(total=10)}}
    tc = TrustChainBuilder(args.leaf, trust_anchor=args.ta, httpc_params=httpc_params)
    try:
        # What TrustChainBuilder.start() does, with the max_path_len override in between.
        tc.get_trust_anchor_configuration()
        if args.max_path_length is not None and args.max_path_length > tc.max_path_len:
            tc.max_path_len = args.max_path_length
        tc.get_subject_configuration()
        tc.discovery()
    except Exception as e:  # the builder raises bare Exception, PolicyError, InvalidEntityConfiguration...
        fail(f"chain refused: {type(e).__name__}: {e}")

    path = tc.trust_path
    if not tc.is_valid:
        fail("chain refused: the builder found no valid chain (is_valid false)")
    # The builder can end with is_valid true and no path (e.g. max_path_len too short): the
    # trust path to the anchor is what counts.
    if not path or path[-1].sub != tc.trust_anchor_configuration.sub:
        fail("chain refused: the builder found no trust path to the trust anchor "
             f"(walked {[[e.sub for e in level] for level in tc.tree_of_trust.values()]})")

    chain = [{"iss": path[0].iss, "sub": path[0].sub, "exp": path[0].payload["exp"]}]
    for i in range(1, len(path)):
        ss = path[i].verified_descendant_statements.get(path[i - 1].sub)
        if ss is None:
            fail(f"internal: no statement by {path[i].sub} about {path[i - 1].sub}")
        chain.append({"iss": ss["iss"], "sub": ss["sub"], "exp": ss["exp"]})
    ta = path[-1]
    chain.append({"iss": ta.iss, "sub": ta.sub, "exp": ta.payload["exp"]})

    print(json.dumps({
        "peer": PEER,
        "version": importlib.metadata.version("spid-cie-oidc"),
        "valid": True,
        "chain": chain,
        "exp": tc.exp,
        "metadata": tc.final_metadata,
    }))


if __name__ == "__main__":
    main()
