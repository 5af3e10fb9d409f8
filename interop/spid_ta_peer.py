#!/usr/bin/env python3
"""Run the trust anchor of PyPI `spid-cie-oidc` (1.6.x) on loopback, with one subordinate.

    interop/.venv-spid/bin/python interop/spid_ta_peer.py --port P --data-dir DIR [--key-type ec|rsa]

It configures Django in memory (SQLite under DIR; the package's `entity` and `authority` apps,
their URLs at the root), migrates and sets up a federation the package's way:

* the trust anchor: a `FederationEntityConfiguration` at `http://127.0.0.1:P` whose
  `federation_entity` metadata publishes the package's fetch, list, resolve, trust mark status
  and historical keys endpoints, `trust_mark_issuers` naming itself for its one trust mark
  type, two federation keys made with the package's `create_jwk`, the older one then retired
  through a `FederationHistoricalKey` (reason `superseded`), as an operator rotating keys does;
* a leaf relying party, a second `FederationEntityConfiguration` served by the same process on
  a second port (`authority_hints` = the anchor), registered as a `FederationDescendant` after
  the package's own validator (`validate_entity_configuration`) fetched and checked its
  configuration over HTTP, given a `FederationEntityProfile` (the trust mark type) through a
  `FederationEntityAssignedProfile`: the trust mark the anchor issues is published in the
  leaf's configuration;
* the leaf's trust chain built by the package (`get_or_create_trust_chain`), so that its
  `/resolve` (which serves cached chains only) answers for the leaf.

`--key-type ec` (default) sets the package's `PRIVATE_KEY_TYPE = "EC"` (P-256 keys, ES256),
what an IT-Wallet deployment needs; `rsa` keeps the package's default (RSA, RS256, SPID/CIE).

Prints one JSON line `{"ready": true, "entity_id", "subordinate", "trust_mark_type",
"version"}` once both ports serve and the chain is cached, then serves until killed (the
server's chatter goes to stderr).
"""

import argparse
import importlib.metadata
import json
import logging
import os
import sys
import threading
import types
import warnings
from datetime import timedelta

warnings.filterwarnings("ignore", message=".*will be removed in the next release")


def configure(args):
    from django.conf import settings

    urls = types.ModuleType("spid_ta_peer_urls")
    sys.modules["spid_ta_peer_urls"] = urls
    extra = {"PRIVATE_KEY_TYPE": "EC", "DEFAULT_JWS_ALG": "ES256"} if args.key_type == "ec" else {}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="interop-only-not-secret",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(args.data_dir, "ta.sqlite")}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "spid_cie_oidc.accounts",
            "spid_cie_oidc.entity",
            "spid_cie_oidc.authority",
        ],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        ROOT_URLCONF="spid_ta_peer_urls",
        AUTH_USER_MODEL="spid_cie_oidc_accounts.User",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        # Plain http on loopback; the package's aiohttp client takes these.
        HTTPC_PARAMS={"connection": {"ssl": False}, "session": {}},
        HTTP_CLIENT_SYNC=False,
        LOGGING={"version": 1, "handlers": {"e": {"class": "logging.StreamHandler"}},
                 "root": {"handlers": ["e"], "level": "WARNING"}},
        **extra,
    )
    import django
    django.setup()
    from django.urls import include, path
    urls.urlpatterns = [path("", include("spid_cie_oidc.entity.urls")), path("", include("spid_cie_oidc.authority.urls"))]


def serve(port):
    """Django's threaded WSGI server on 127.0.0.1:port, in a daemon thread."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    httpd = ThreadedWSGIServer(("127.0.0.1", port), WSGIRequestHandler)
    httpd.set_app(get_wsgi_application())
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="the trust anchor's port")
    ap.add_argument("--leaf-port", type=int, default=0, help="the leaf's port (default: any free one)")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--key-type", default="ec", choices=["ec", "rsa"])
    args = ap.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    configure(args)
    logging.getLogger("django.server").setLevel(logging.ERROR)

    from django.core.management import call_command
    from django.utils import timezone
    call_command("migrate", verbosity=0)

    from spid_cie_oidc.authority.models import (
        FederationDescendant, FederationEntityAssignedProfile, FederationEntityProfile)
    from spid_cie_oidc.authority.validators import validate_entity_configuration
    from spid_cie_oidc.entity.jwks import create_jwk, public_jwk_from_private_jwk
    from spid_cie_oidc.entity.models import FederationEntityConfiguration, FederationHistoricalKey, TrustChain
    from spid_cie_oidc.entity.trust_chain_operations import get_or_create_trust_chain

    alg = "ES256" if args.key_type == "ec" else "RS256"
    ta_httpd = serve(args.port)
    leaf_httpd = serve(args.leaf_port)
    ta = f"http://127.0.0.1:{ta_httpd.server_address[1]}"
    leaf = f"http://127.0.0.1:{leaf_httpd.server_address[1]}"
    mark_type = f"{ta}/openid_relying_party/public"

    # The trust anchor (created first: the package's views take the first active
    # configuration with `federation_entity` metadata as "self").
    retired, current = create_jwk(), create_jwk()
    ta_conf = FederationEntityConfiguration.objects.create(
        sub=ta, default_signature_alg=alg, authority_hints=[],
        jwks_fed=[current, retired], jwks_core=[create_jwk()], entity_type="federation_entity",
        trust_mark_issuers={mark_type: [ta]}, trust_marks=[], is_active=True,
        metadata={"federation_entity": {
            "organization_name": "spid-cie-oidc peer trust anchor",
            "homepage_uri": ta, "policy_uri": f"{ta}/policy", "logo_uri": f"{ta}/logo.svg",
            "contacts": ["ops@ta.example.it"],
            "federation_fetch_endpoint": f"{ta}/fetch",
            "federation_list_endpoint": f"{ta}/list",
            "federation_resolve_endpoint": f"{ta}/resolve",
            "federation_trust_mark_status_endpoint": f"{ta}/trust_mark_status",
            "federation_historical_keys_endpoint": f"{ta}/.well-known/openid-federation-historical-jwks",
        }},
    )
    # Key rotation the package's way: the historical key's save() moves it out of jwks_fed.
    FederationHistoricalKey.objects.create(
        entity=ta_conf, kid=retired["kid"], inactive_from=timezone.now() - timedelta(days=1),
        revocation_motivation="4")  # superseded

    # The leaf relying party, served by this process on its own port.
    leaf_fed, leaf_core_sig, leaf_core_enc = create_jwk(), create_jwk(), create_jwk()
    leaf_core_sig["use"] = "sig"
    leaf_core_enc["use"] = "enc"
    rp = {
        "client_id": leaf,
        "client_registration_types": ["automatic"],
        "client_name": "spid-cie-oidc peer leaf RP",
        "contacts": ["ops@rp.example.it"],
        "redirect_uris": [f"{leaf}/callback"],
        "response_types": ["code"],
        "grant_types": ["authorization_code", "refresh_token"],
        "id_token_signed_response_alg": alg,
        "userinfo_signed_response_alg": alg,
        "userinfo_encrypted_response_alg": "RSA-OAEP" if args.key_type == "rsa" else "ECDH-ES",
        "userinfo_encrypted_response_enc": "A128CBC-HS256",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [public_jwk_from_private_jwk(leaf_core_sig), public_jwk_from_private_jwk(leaf_core_enc)]},
    }
    leaf_conf = FederationEntityConfiguration.objects.create(
        sub=leaf, default_signature_alg=alg, authority_hints=[ta],
        jwks_fed=[leaf_fed], jwks_core=[leaf_core_sig, leaf_core_enc], entity_type="openid_relying_party",
        trust_marks=[], is_active=True,
        metadata={"openid_relying_party": rp, "federation_entity": {
            "organization_name": "spid-cie-oidc peer leaf", "homepage_uri": leaf,
            "policy_uri": f"{leaf}/policy", "logo_uri": f"{leaf}/logo.svg", "contacts": ["ops@rp.example.it"],
        }},
    )

    # Onboarding: the package's validator fetches the leaf's configuration over HTTP and
    # checks that it names this anchor in authority_hints.
    validate_entity_configuration(leaf)
    descendant = FederationDescendant.objects.create(
        sub=leaf, name="peer leaf RP", type="openid_relying_party",
        jwks=[public_jwk_from_private_jwk(leaf_fed)], is_active=True)
    profile = FederationEntityProfile.objects.create(
        name="public RP", profile_category="openid_relying_party", profile_id=mark_type,
        trust_mark_template={"organization_type": "public", "id_code": {"ipa_code": "peer"},
                             "email": "ops@rp.example.it", "organization_name": "peer leaf RP"})
    assigned = FederationEntityAssignedProfile.objects.create(descendant=descendant, profile=profile, issuer=ta_conf)
    leaf_conf.trust_marks = [assigned.trust_mark]
    leaf_conf.save()

    chain = get_or_create_trust_chain(subject=leaf, trust_anchor=ta, required_trust_marks=[])
    if not chain or not TrustChain.objects.filter(sub=leaf, trust_anchor__sub=ta).exists():
        print(json.dumps({"ready": False, "error": "the package built no trust chain for the leaf"}), flush=True)
        sys.exit(1)

    print(json.dumps({"ready": True, "entity_id": ta, "subordinate": leaf, "trust_mark_type": mark_type,
                      "version": importlib.metadata.version("spid-cie-oidc")}), flush=True)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    threading.Event().wait()


if __name__ == "__main__":
    main()
