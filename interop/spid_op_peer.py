#!/usr/bin/env python3
"""Run the OpenID Provider of PyPI `spid-cie-oidc` (1.6.x) on loopback, for our relying party.

    interop/.venv-spid/bin/python interop/spid_op_peer.py --port P --ta TA_URL --data-dir DIR \
        --trust-mark-type TYPE [--profile spid|cie]

It configures Django in memory (SQLite under DIR, the package's accounts/entity/provider apps,
their URLs at the root), migrates, creates the OP's Federation Entity Configuration (RSA
federation and core keys made with the package's own `create_jwk`, `authority_hints` = TA,
`openid_provider` metadata with the core `jwks`), one user `mario` / password `mario-test`
with a SPID attribute set, prints one JSON line `{"ready": true, "entity_id": ..., "jwks": ...}`
and serves with Django's development server until killed.

The OP's endpoints are the package's: `<id>/oidc/op/authorization`, `/token`, `/userinfo`,
`/revocation`, `/introspection`, and `<id>/.well-known/openid-federation`.
"""

import argparse
import json
import logging
import os
import sys
import types
import warnings

warnings.filterwarnings("ignore", message=".*will be removed in the next release")


def configure(args, entity_id):
    from django.conf import settings

    urls = types.ModuleType("spid_op_peer_urls")
    sys.modules["spid_op_peer_urls"] = urls
    settings.configure(
        DEBUG=True,
        SECRET_KEY="interop-only-not-secret",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        TIME_ZONE="UTC",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(args.data_dir, "op.sqlite")}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "spid_cie_oidc.accounts",
            "spid_cie_oidc.entity",
            "spid_cie_oidc.provider",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF="spid_op_peer_urls",
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [os.path.join(args.data_dir, "templates")],
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }],
        STATIC_URL="/static/",
        AUTH_USER_MODEL="spid_cie_oidc_accounts.User",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        OIDCFED_TRUST_ANCHORS=[args.ta],
        OIDCFED_DEFAULT_TRUST_ANCHOR=args.ta,
        OIDCFED_REQUIRED_TRUST_MARKS=[args.trust_mark_type] if args.trust_mark_type else [],
        OIDCFED_DEFAULT_PROVIDER_PROFILE=args.profile,
        HTTPC_PARAMS={"connection": {"ssl": False}, "session": {}},
        HTTP_CLIENT_SYNC=False,
        LOGGING={"version": 1, "handlers": {"e": {"class": "logging.StreamHandler"}},
                 "root": {"handlers": ["e"], "level": "WARNING"}},
    )
    import django
    django.setup()
    from django.urls import include, path
    urls.urlpatterns = [path("", include("spid_cie_oidc.entity.urls")), path("", include("spid_cie_oidc.provider.urls"))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ta", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--trust-mark-type", default="")
    ap.add_argument("--profile", default="spid", choices=["spid", "cie"])
    args = ap.parse_args()
    os.makedirs(os.path.join(args.data_dir, "templates"), exist_ok=True)
    # The package's pages extend the theme of `design-django-theme`, which is not a dependency:
    # a bare base page with the one block they fill is enough to render the forms.
    with open(os.path.join(args.data_dir, "templates", "bootstrap-italia-base.html"), "w") as f:
        f.write("<!doctype html><html><head>{% block extra_head %}{% endblock %}</head>"
                "<body>{% block container %}{% endblock %}</body></html>\n")
    entity_id = f"http://127.0.0.1:{args.port}"
    configure(args, entity_id)

    from django.core.management import call_command
    call_command("migrate", verbosity=0)

    from spid_cie_oidc.entity.jwks import create_jwk, public_jwk_from_private_jwk
    from spid_cie_oidc.entity.models import FederationEntityConfiguration
    from spid_cie_oidc.accounts.models import User

    fed = create_jwk()
    core_sig = create_jwk()
    core_sig["use"] = "sig"
    op = f"{entity_id}/oidc/op"
    metadata = {
        "openid_provider": {
            "issuer": entity_id,
            "authorization_endpoint": f"{op}/authorization",
            "token_endpoint": f"{op}/token",
            "userinfo_endpoint": f"{op}/userinfo",
            "introspection_endpoint": f"{op}/introspection",
            "revocation_endpoint": f"{op}/revocation",
            "revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["form_post", "query"],
            "grant_types_supported": ["refresh_token", "authorization_code"],
            "acr_values_supported": [f"https://www.spid.gov.it/SpidL{n}" for n in (1, 2, 3)],
            "subject_types_supported": ["pairwise"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "RS512", "ES256"],
            "id_token_signing_alg_values_supported": ["RS256", "RS512"],
            "userinfo_signing_alg_values_supported": ["RS256", "RS512"],
            "userinfo_encryption_alg_values_supported": ["RSA-OAEP", "RSA-OAEP-256"],
            "userinfo_encryption_enc_values_supported": ["A128CBC-HS256", "A256CBC-HS512"],
            "request_object_signing_alg_values_supported": ["RS256", "RS512", "ES256"],
            "claims_parameter_supported": True,
            "request_parameter_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "client_registration_types_supported": ["automatic"],
            "request_authentication_methods_supported": {"authorization_endpoint": ["request_object"]},
            "request_authentication_signing_alg_values_supported": ["RS256", "RS512", "ES256"],
            "claims_supported": ["given_name", "family_name", "birthdate", "place_of_birth", "email",
                                 "https://attributes.eid.gov.it/fiscal_number"],
            "jwks": {"keys": [public_jwk_from_private_jwk(core_sig)]},
        },
        "federation_entity": {
            "organization_name": "spid-cie-oidc peer OP",
            "homepage_uri": entity_id,
            "policy_uri": entity_id,
            "logo_uri": f"{entity_id}/logo.svg",
            "contacts": ["ops@example.it"],
            "federation_resolve_endpoint": f"{entity_id}/resolve",
        },
    }
    FederationEntityConfiguration.objects.all().delete()
    FederationEntityConfiguration.objects.create(
        sub=entity_id, default_signature_alg="RS256", authority_hints=[args.ta],
        jwks_fed=[fed], jwks_core=[core_sig], metadata=metadata, entity_type="openid_provider",
        trust_marks=[], is_active=True,
    )
    User.objects.filter(username="mario").delete()
    u = User.objects.create(username="mario", first_name="Mario", last_name="Rossi", email="mario.rossi@example.it",
                            attributes={
                                # Released only under the exact claim name the RP asks for.
                                "https://attributes.eid.gov.it/fiscal_number": "TINIT-RSSMRA80A01H501U",
                                "fiscal_number": "TINIT-RSSMRA80A01H501U", "given_name": "Mario", "family_name": "Rossi",
                                "email": "mario.rossi@example.it", "birthdate": "1980-01-01",
                                "place_of_birth": {"region": "RM", "locality": "H501"},
                            })
    u.set_password("mario-test")
    u.save()
    print(json.dumps({"ready": True, "entity_id": entity_id}), flush=True)
    # The caller reads one line; the server's chatter goes to stderr.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.getLogger("django.server").setLevel(logging.WARNING)
    call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False, use_threading=True, verbosity=0)


if __name__ == "__main__":
    main()
