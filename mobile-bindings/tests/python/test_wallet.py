"""The wallet through the Python binding, with a KeyStore implemented here (pure-Python
P-256) and credentials issued by the library's TestIssuer (wallet-core's real issuance).

Run by mobile-bindings/tests/run.sh; TESSERA_PYTHON_BINDINGS names the directory holding
the generated `tessera.py` and the shared library.
"""
import asyncio
import base64
import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.environ.get("TESSERA_PYTHON_BINDINGS", os.path.join(os.path.dirname(__file__), "../../out/test/python")))
sys.path.insert(0, os.path.dirname(__file__))

import p256  # noqa: E402
import tessera  # noqa: E402
from tessera import (  # noqa: E402
    ClaimPath, ClaimValue, KeyStoreError, PathElement, TestIssuer, TransactionKind, Wallet, WalletConfig, WalletError,
)


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def thumbprint(x, y):
    """RFC 7638 thumbprint of a P-256 public JWK (x, y base64url)."""
    return b64e(hashlib.sha256(f'{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}'.encode()).digest())


def jws_parts(jws):
    """(header, claims, signing input, raw signature) of a compact JWS."""
    h, payload, sig = jws.split(".")
    return json.loads(b64d(h)), json.loads(b64d(payload)), f"{h}.{payload}".encode(), b64d(sig)


def compact_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class DevAttestationRoot:
    """wallet-core's development key attestation format
    (wallet_core::attestation::key_attestation::software), produced here in Python: a JWS
    `typ: key-attestation-dev+jwt` signed by the *published* development root, whose P-256
    private scalar is SHA-256 of a fixed seed (insecure by design: a development wallet
    provider accepts it, a production one refuses the format). So this suite's key store
    attests its own Python keys, as a phone's key store would with Android Key Attestation,
    instead of delegating to wallet-core's software store. Same derivation as the Kotlin
    program's DevAttestationRoot; ActivationTest checks it against the software store."""

    SEED = b"tessera development software key attestation root v1"
    TTL = 300  # SOFTWARE_ATTESTATION_TTL
    key = p256.PrivateKey(int.from_bytes(hashlib.sha256(SEED).digest(), "big"))
    public = key.public_point()
    kid = thumbprint(b64e(public[1:33]), b64e(public[33:]))

    @classmethod
    def attest(cls, point, challenge):
        now = int(time.time())
        header = {"alg": "ES256", "typ": "key-attestation-dev+jwt", "kid": cls.kid}
        claims = {"iss": "tessera-software-keystore", "iat": now, "exp": now + cls.TTL, "challenge": b64e(challenge),
                  "attested_key": {"kty": "EC", "crv": "P-256", "x": b64e(point[1:33]), "y": b64e(point[33:])},
                  "security_level": "software"}
        signing_input = b64e(compact_json(header)) + "." + b64e(compact_json(claims))
        return signing_input + "." + b64e(cls.key.sign(signing_input.encode()))


class PyKeyStore(tessera.KeyStore):
    """The app's key store, foreign side: P-256 keys held here by tag, raw r||s signatures made
    here, key attestations in wallet-core's development format made here (DevAttestationRoot)."""

    def __init__(self):
        self.keys = {}
        self.cancel_next_sign = False
        self.signature_mode = "raw"
        self.signed = 0
        self.attested = []  # tags, in order
        self.deleted = []

    def generate_key(self, tag):
        self.keys[tag] = p256.PrivateKey()  # replaces any key under the tag
        return self.keys[tag].public_point()

    def public_key(self, tag):
        if tag not in self.keys:
            raise KeyStoreError.KeyNotFound(tag)
        return self.keys[tag].public_point()

    def sign(self, tag, message):
        if tag not in self.keys:
            raise KeyStoreError.KeyNotFound(tag)
        if self.cancel_next_sign:
            self.cancel_next_sign = False
            raise KeyStoreError.UserCancelled()
        self.signed += 1
        sig = self.keys[tag].sign(message)
        if self.signature_mode == "truncated":
            return sig[:63]
        if self.signature_mode == "other-key":
            return p256.PrivateKey().sign(message)
        return sig

    def key_attestation(self, tag, challenge):
        point = self.public_key(tag)
        self.attested.append(tag)
        return DevAttestationRoot.attest(point, bytes(challenge))

    def delete_key(self, tag):
        self.deleted.append(tag)
        self.keys.pop(tag, None)

    def tag_of(self, x, y):
        """The tag of the key with these JWK coordinates, if it is one of ours."""
        for tag, key in list(self.keys.items()):
            point = key.public_point()
            if (b64e(point[1:33]), b64e(point[33:])) == (x, y):
                return tag
        return None


class PyHttpClient(tessera.HttpClient):
    """The app's HTTP client, foreign side, on urllib; like the app's, it does not follow
    redirects (the wallet reads them: the issuer's /authorize answers with one)."""

    def __init__(self):
        self.urls = []
        self.opener = urllib.request.build_opener(_NoRedirect())

    @staticmethod
    def headers(h):
        return [tessera.HttpHeader(name=k, value=v) for k, v in h.items()] if h else []

    def send(self, request):
        self.urls.append(request.url)
        req = urllib.request.Request(request.url, method=request.method,
                                     headers={h.name: h.value for h in request.headers},
                                     data=bytes(request.body) if request.body else None)
        try:
            with self.opener.open(req, timeout=10) as resp:
                return tessera.HttpResponse(status=resp.status, headers=self.headers(resp.headers), body=resp.read())
        except urllib.error.HTTPError as e:
            return tessera.HttpResponse(status=e.code, headers=self.headers(e.headers), body=e.read())
        except OSError as e:
            raise tessera.HttpError.Failed(str(e))


def path(*els):
    return ClaimPath(elements=[PathElement.INDEX(index=e) if isinstance(e, int) else PathElement.KEY(name=e) for e in els])


def dotted(p):
    return ".".join(str(e.index) if e.is_INDEX() else e.name for e in p.elements)


def text_claims(claims):
    return {dotted(c.path): c.value.value for c in claims if c.value.is_TEXT()}


TA = "https://ta.example.it"
PID = "https://pid.example.it"
AUD = "https://rp.example.it"


class WalletTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.issuer = TestIssuer(TA, PID)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.keys = PyKeyStore()
        self.storage_key = os.urandom(32)
        self.wallet = self.open()

    def tearDown(self):
        self.tmp.cleanup()

    def open(self, **kw):
        config = WalletConfig(data_dir=self.tmp.name, trust_anchors=kw.pop("anchors", [self.issuer.trust_anchor()]),
                              storage_key=kw.pop("storage_key", self.storage_key), locale=kw.pop("locale", "it"),
                              pinned_issuers=kw.pop("pinned", []))
        return Wallet.open(config, kw.pop("keys", self.keys), kw.pop("http", None))

    def import_pid(self, wallet=None, issuer=None, with_trust_chain=True):
        wallet = wallet or self.wallet
        key = wallet.create_credential_key()
        sd_jwt = (issuer or self.issuer).issue_pid(key.public_key, with_trust_chain)
        return asyncio.run(wallet.import_credential(sd_jwt, key.tag)), key

    # -- the credential store

    def test_import_lists_the_credential_with_labels_and_the_issuer_from_its_federation_metadata(self):
        cred, key = self.import_pid()
        self.assertEqual(cred.vct, "urn:eudi:pid:it:1")
        self.assertEqual(cred.format, "dc+sd-jwt")
        self.assertEqual(cred.key_tag, key.tag)
        self.assertEqual(cred.issuer.entity_id, PID)
        self.assertEqual(cred.issuer.name, "Istituto Poligrafico e Zecca dello Stato")
        self.assertEqual(cred.issuer.logo_uri, "https://pid.example.it/logo.svg")
        self.assertEqual(cred.issuer.trust_anchor, TA)
        self.assertGreater(cred.expires_at, cred.issued_at)
        values = text_claims(cred.claims)
        self.assertEqual(values["given_name"], "Mario")
        self.assertEqual(values["place_of_birth.locality"], "Roma")
        self.assertEqual(values["nationalities.0"], "IT")
        labels = {dotted(c.path): c.label for c in cred.claims}
        self.assertEqual(labels["given_name"], "Nome")  # the issuer's label, Italian
        self.assertEqual(labels["nationalities.0"], "Nazionalità")  # label path with null
        self.assertEqual(labels["birthdate"], "Data di nascita")  # built-in
        self.assertNotIn("iss", values)
        self.assertNotIn("cnf.jwk.x", values)
        self.assertTrue(all(c.selectively_disclosable for c in cred.claims))
        listed = self.wallet.credentials()
        self.assertEqual([c.id for c in listed], [cred.id])
        self.assertEqual(self.wallet.credential(cred.id), cred)

    def test_labels_follow_the_locale(self):
        cred, _ = self.import_pid()
        en = self.open(locale="en").credential(cred.id)
        labels = {dotted(c.path): c.label for c in en.claims}
        self.assertEqual(labels["given_name"], "First name")
        self.assertEqual(labels["birthdate"], "Date of birth")
        self.assertEqual(en.issuer.name, "Italian State Mint and Polygraphic Institute")

    def test_store_persists_and_refuses_another_storage_key(self):
        cred, _ = self.import_pid()
        self.assertEqual([c.id for c in self.open().credentials()], [cred.id])
        with self.assertRaises(WalletError.StorageLocked) as e:
            self.open(storage_key=os.urandom(32))
        self.assertEqual(e.exception.code(), "storage_locked")
        with self.assertRaises(WalletError.InvalidArgument):
            self.open(storage_key=b"short")

    def test_delete_removes_the_credential_and_its_key(self):
        cred, key = self.import_pid()
        self.wallet.delete_credential(cred.id)
        self.assertEqual(self.wallet.credentials(), [])
        self.assertNotIn(key.tag, self.keys.keys)
        with self.assertRaises(WalletError.CredentialNotFound) as e:
            self.wallet.credential(cred.id)
        self.assertEqual(e.exception.code(), "credential_not_found")
        self.assertEqual(e.exception.id, cred.id)
        with self.assertRaises(WalletError.CredentialNotFound):
            self.wallet.delete_credential("not-an-id")

    # -- presentation

    def test_presentation_discloses_only_the_chosen_claims_and_verifies(self):
        cred, key = self.import_pid()
        nonce = "n-" + os.urandom(8).hex()
        chosen = [path("given_name"), path("place_of_birth", "locality")]
        # place_of_birth is one disclosure with only its locality disclosable inside: its
        # country comes along, and the preview says so before anything is signed.
        revealed = {"given_name": "Mario", "place_of_birth.locality": "Roma", "place_of_birth.country": "IT"}
        signed_before = self.keys.signed
        self.assertEqual(text_claims(self.wallet.preview_presentation(cred.id, chosen)), revealed)
        self.assertEqual(self.keys.signed, signed_before)
        p = self.wallet.present(cred.id, chosen, AUD, nonce)
        self.assertEqual(text_claims(p.disclosed), revealed)
        # The relying party's check (wallet-core's verifier) sees exactly that.
        self.assertEqual(text_claims(self.issuer.verify_presentation(p.sd_jwt, AUD, nonce)), revealed)
        with self.assertRaises(WalletError.InvalidCredential) as e:
            self.issuer.verify_presentation(p.sd_jwt, AUD, "another nonce")
        self.assertIn("nonce", e.exception.rule)
        # An independent check of the KB-JWT here: signed by our key, over the right sd_hash.
        prefix, kb = p.sd_jwt.rsplit("~", 1)
        h, payload, sig = kb.split(".")
        self.assertEqual(json.loads(b64d(h)), {"alg": "ES256", "typ": "kb+jwt"})
        claims = json.loads(b64d(payload))
        self.assertEqual((claims["aud"], claims["nonce"]), (AUD, nonce))
        expected = base64.urlsafe_b64encode(hashlib.sha256((prefix + "~").encode()).digest()).rstrip(b"=").decode()
        self.assertEqual(claims["sd_hash"], expected)
        self.assertTrue(p256.verify(self.keys.public_key(key.tag), f"{h}.{payload}".encode(), b64d(sig)))

    def test_presenting_a_claim_the_credential_lacks_is_no_such_claim(self):
        cred, _ = self.import_pid()
        with self.assertRaises(WalletError.NoSuchClaim) as e:
            self.wallet.present(cred.id, [path("blood_type")], AUD, "n")
        self.assertEqual(e.exception.path, "blood_type")

    def test_key_store_failures_arrive_typed(self):
        cred, _ = self.import_pid()
        self.keys.cancel_next_sign = True
        with self.assertRaises(WalletError.UserCancelled) as e:
            self.wallet.present(cred.id, [path("given_name")], AUD, "n")
        self.assertEqual(e.exception.code(), "user_cancelled")
        self.keys.signature_mode = "truncated"
        with self.assertRaises(WalletError.KeyStoreFailed) as e:
            self.wallet.present(cred.id, [path("given_name")], AUD, "n")
        self.assertIn("64 bytes", e.exception.reason)
        self.keys.signature_mode = "other-key"
        with self.assertRaises(WalletError.KeyStoreFailed):
            self.wallet.present(cred.id, [path("given_name")], AUD, "n")
        self.keys.keys.clear()
        with self.assertRaises(WalletError.KeyNotFound):
            self.wallet.present(cred.id, [path("given_name")], AUD, "n")

    # -- the transaction log

    def test_transaction_log_records_issuance_presentation_deletion(self):
        cred, _ = self.import_pid()
        self.wallet.present(cred.id, [path("family_name"), path("nationalities", 0)], AUD, "n")
        self.wallet.delete_credential(cred.id)
        log = self.wallet.transactions()
        self.assertEqual([t.kind for t in log], [TransactionKind.ISSUANCE, TransactionKind.PRESENTATION, TransactionKind.DELETION])
        self.assertEqual([t.counterparty for t in log], [PID, AUD, PID])
        self.assertEqual(log[1].claims, ["family_name", "nationalities.0"])
        self.assertTrue(all(t.credential_ids == [cred.id] for t in log))
        self.assertEqual(sorted(t.seq for t in log), [t.seq for t in log])

    # -- what import refuses

    def test_an_issuer_under_another_trust_anchor_is_untrusted(self):
        stranger = TestIssuer(TA, "https://elsewhere.example.it")  # same anchor id, other keys
        with self.assertRaises(WalletError.UntrustedIssuer) as e:
            self.import_pid(issuer=stranger)
        self.assertEqual(e.exception.issuer, "https://elsewhere.example.it")
        self.assertEqual(e.exception.code(), "untrusted_issuer")
        self.assertEqual(self.wallet.credentials(), [])

    def test_a_credential_bound_to_another_key_is_refused(self):
        key = self.wallet.create_credential_key()
        other = self.wallet.create_credential_key()
        sd_jwt = self.issuer.issue_pid(other.public_key, True)
        with self.assertRaises(WalletError.KeyMismatch) as e:
            asyncio.run(self.wallet.import_credential(sd_jwt, key.tag))
        self.assertEqual(e.exception.tag, key.tag)

    def test_a_tampered_credential_is_invalid(self):
        key = self.wallet.create_credential_key()
        jwt, rest = self.issuer.issue_pid(key.public_key, True).split("~", 1)
        h, payload, sig = jwt.split(".")
        forged = json.loads(b64d(payload))
        forged["vct"] = "urn:eudi:mDL:it:1"
        payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        with self.assertRaises(WalletError.InvalidCredential) as e:
            asyncio.run(self.wallet.import_credential(f"{h}.{payload}.{sig}~{rest}", key.tag))
        self.assertIn("signature", e.exception.rule)
        with self.assertRaises(WalletError.InvalidCredential):
            asyncio.run(self.wallet.import_credential("not an sd-jwt", key.tag))

    def test_a_presentation_is_not_importable(self):
        cred, key = self.import_pid()
        p = self.wallet.present(cred.id, [path("given_name")], AUD, "n")
        with self.assertRaises(WalletError.InvalidCredential) as e:
            asyncio.run(self.wallet.import_credential(p.sd_jwt, key.tag))
        self.assertIn("KB-JWT", e.exception.rule)

    # -- issuer keys without a trust_chain header

    def test_a_pinned_issuer_key_is_used_when_the_credential_has_no_trust_chain(self):
        with self.assertRaises(WalletError.UntrustedIssuer):
            self.import_pid(with_trust_chain=False)
        from tessera import PinnedIssuer
        wallet = self.open(pinned=[PinnedIssuer(issuer=PID, key=self.issuer.credential_key())])
        cred, _ = self.import_pid(wallet=wallet, with_trust_chain=False)
        self.assertIsNone(cred.issuer.name)
        self.assertIsNone(cred.issuer.trust_anchor)

    def test_software_key_store_default(self):
        wallet = self.open(keys=tessera.software_key_store())
        cred, _ = self.import_pid(wallet=wallet)
        p = wallet.present(cred.id, [path("birthdate")], AUD, "n")
        self.assertEqual(text_claims(self.issuer.verify_presentation(p.sd_jwt, AUD, "n")), {"birthdate": "1980-01-10"})

    def test_der_signature_conversion(self):
        raw = tessera.der_signature_to_raw(bytes([0x30, 6, 2, 1, 5, 2, 1, 7]))
        self.assertEqual(raw, bytes(31) + b"\x05" + bytes(31) + b"\x07")
        with self.assertRaises(KeyStoreError.Unavailable):
            tessera.der_signature_to_raw(b"\x30\x01")


class ActivationTest(unittest.TestCase):
    """Activation entry points without a wallet provider, and the key attestation format
    (the end-to-end activation is ActivationEndToEndTest)."""

    PROVIDER = "http://127.0.0.1:9/wp"

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.issuer = TestIssuer(TA, PID)

    def tearDown(self):
        self.tmp.cleanup()

    def wallet(self, provider=PROVIDER, http=True):
        config = WalletConfig(data_dir=self.tmp.name, trust_anchors=[self.issuer.trust_anchor()], wallet_provider=provider)
        return Wallet.open(config, PyKeyStore(), PyHttpClient() if http else None)

    def test_activation_needs_a_provider_and_an_http_client(self):
        for w in (self.wallet(provider=None), self.wallet(http=False)):
            with self.assertRaises(WalletError.NotConfigured) as e:
                w.start_activation("it.tessera.app://activated")
            self.assertEqual(e.exception.code(), "not_configured")

    def test_start_gives_the_login_url_and_finish_checks_the_redirect(self):
        w = self.wallet()
        self.assertIsNone(w.activation())
        with self.assertRaises(WalletError.LoginFailed):
            asyncio.run(w.finish_activation("it.tessera.app://activated?code=x"))
        url = w.start_activation("it.tessera.app://activated")
        self.assertTrue(url.startswith(self.PROVIDER + "/citizen/login?redirect_uri=it.tessera.app"), url)
        self.assertIn("state=", url)
        with self.assertRaises(WalletError.LoginFailed) as e:
            asyncio.run(w.finish_activation("https://evil.example/cb?code=x"))
        self.assertEqual(e.exception.code(), "login_failed")

    def test_a_network_failure_during_login_is_a_network_error(self):
        w = self.wallet()
        w.start_activation("it.tessera.app://activated")
        with self.assertRaises(WalletError.Network):
            asyncio.run(w.finish_activation("it.tessera.app://activated?code=abc"))

    def test_instance_management_needs_a_session_and_an_instance(self):
        w = self.wallet()
        with self.assertRaises(WalletError.SessionExpired):
            asyncio.run(w.list_instances())
        with self.assertRaises(WalletError.NotActivated):
            asyncio.run(w.renew_attestations())
        with self.assertRaises(WalletError.NotActivated):
            asyncio.run(w.client_attestation("https://pid.example.it", None))

    def test_software_key_store_attests_its_keys(self):
        ks = tessera.software_key_store()
        point = ks.generate_key("tag-1")
        att = ks.key_attestation("tag-1", b"client-data-hash")
        self.assertEqual(len(att.split(".")), 3)  # wallet-core's development format, a JWS
        with self.assertRaises(KeyStoreError.KeyNotFound):
            ks.sign("nope", b"m")
        # The development root derived here is wallet-core's: it verifies the software store's attestation.
        header, claims, signing_input, sig = jws_parts(att)
        self.assertTrue(p256.verify(DevAttestationRoot.public, signing_input, sig))
        self.assertFalse(p256.verify(p256.PrivateKey().public_point(), signing_input, sig))
        self.assertEqual(header, {"alg": "ES256", "typ": "key-attestation-dev+jwt", "kid": DevAttestationRoot.kid})
        self.assertEqual(claims["attested_key"], {"kty": "EC", "crv": "P-256", "x": b64e(point[1:33]), "y": b64e(point[33:])})
        self.assertEqual(claims["challenge"], b64e(b"client-data-hash"))

    def test_the_python_key_store_attests_its_keys_in_the_same_format(self):
        keys = PyKeyStore()
        point = keys.generate_key("tag-1")
        att = keys.key_attestation("tag-1", b"client-data-hash")
        soft = tessera.software_key_store()
        soft.generate_key("tag-1")
        soft_header, soft_claims, _, _ = jws_parts(soft.key_attestation("tag-1", b"client-data-hash"))
        header, claims, signing_input, sig = jws_parts(att)
        self.assertTrue(p256.verify(DevAttestationRoot.public, signing_input, sig))
        self.assertEqual(header, soft_header)
        self.assertEqual(list(claims), list(soft_claims))
        self.assertEqual(claims["exp"] - claims["iat"], soft_claims["exp"] - soft_claims["iat"])
        self.assertEqual({k: claims[k] for k in ("iss", "challenge", "security_level")},
                         {k: soft_claims[k] for k in ("iss", "challenge", "security_level")})
        self.assertEqual((claims["attested_key"]["x"], claims["attested_key"]["y"]), (b64e(point[1:33]), b64e(point[33:])))
        self.assertEqual(keys.attested, ["tag-1"])
        with self.assertRaises(KeyStoreError.KeyNotFound):
            keys.key_attestation("nope", b"c")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _browser_get(opener, url, data=None):
    """(status, Location, body) without following redirects."""
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=10) as r:
            return r.status, r.headers.get("Location"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location"), e.read().decode()


@unittest.skipUnless(os.environ.get("TESSERA_LOOPBACK_FEDERATION"), "TESSERA_LOOPBACK_FEDERATION not set (run tests/run.sh)")
class ActivationEndToEndTest(unittest.TestCase):
    """Activation against the wallet provider and the spid-cie-oidc test OpenID Provider,
    started on loopback by examples/loopback_federation.rs; the test plays the browser. Every
    key (hardware key, WAA and WUA keys) is a PyKeyStore key, attested by PyKeyStore."""

    FISCAL_NUMBER = "TINIT-RSSMRA80A01H501U"

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([os.environ["TESSERA_LOOPBACK_FEDERATION"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        cls.fed = json.loads(cls.proc.stdout.readline())
        ta = cls.fed["trust_anchor"]
        keys = [tessera.JwkRecord(kty=k["kty"], crv=k.get("crv"), x=k.get("x"), y=k.get("y"), n=k.get("n"), e=k.get("e"), kid=k.get("kid"))
                for k in ta["jwks"]["keys"]]
        cls.anchor = tessera.TrustAnchor(entity_id=ta["entity_id"], keys=keys)

    @classmethod
    def tearDownClass(cls):
        cls.proc.stdin.close()
        cls.proc.wait(timeout=10)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.keys = PyKeyStore()
        self.http = PyHttpClient()
        config = WalletConfig(data_dir=self.tmp.name, trust_anchors=[self.anchor], wallet_provider=self.fed["wallet_provider"])
        self.wallet = Wallet.open(config, self.keys, self.http)

    def tearDown(self):
        self.tmp.cleanup()

    def browse(self, login_url):
        """The browser: provider login → OP login page → identity chosen → back to the app."""
        opener = urllib.request.build_opener(_NoRedirect())
        status, to_op, body = _browser_get(opener, login_url)
        self.assertEqual(status, 302, body)
        self.assertTrue(to_op.startswith(self.fed["op"]), to_op)
        status, _, page = _browser_get(opener, to_op)
        self.assertEqual(status, 200, page)
        session = page.split('name="session" value="', 1)[1].split('"', 1)[0]
        form = urllib.parse.urlencode({"session": session, "fiscal_number": self.FISCAL_NUMBER,
                                       "acr": "https://www.spid.gov.it/SpidL2"}).encode()
        status, callback, body = _browser_get(opener, self.fed["op"] + "/login", form)
        self.assertEqual(status, 302, body)
        status, back, body = _browser_get(opener, callback)
        self.assertEqual(status, 302, body)
        self.assertTrue(back.startswith(self.fed["redirect_uri"]), back)
        return back

    def test_activate_list_renew_and_revoke(self):
        back = self.browse(self.wallet.start_activation(self.fed["redirect_uri"]))
        info = asyncio.run(self.wallet.finish_activation(back))
        self.assertEqual(info.provider, self.fed["wallet_provider"])
        # The hardware key is a Python key, attested here (development format, DevAttestationRoot).
        self.assertIn(info.instance_id, self.keys.keys)
        self.assertIn(info.instance_id, self.keys.attested)
        self.assertTrue(any(u.startswith(self.fed["wallet_provider"]) for u in self.http.urls))
        now = int(time.time())
        self.assertGreater(info.waa_expires_at, now)
        self.assertGreater(info.wua_expires_at, now)
        waa_header, waa_claims, _, _ = jws_parts(info.wallet_app_attestation)
        wua_header, wua_claims, _, _ = jws_parts(info.wallet_unit_attestation)
        self.assertEqual(waa_header["typ"], "oauth-client-attestation+jwt")
        self.assertEqual(wua_header["typ"], "key-attestation+jwt")
        attested_keys = wua_claims["attested_keys"]
        self.assertTrue(attested_keys)
        self.assertTrue(all(self.keys.tag_of(k["x"], k["y"]) for k in attested_keys), attested_keys)  # the WUA attests our keys
        self.assertEqual(self.wallet.activation(), info)

        issuer = "https://pid.example.it"
        headers = asyncio.run(self.wallet.client_attestation(issuer, "issuer-challenge"))
        self.assertEqual(headers.attestation, info.wallet_app_attestation)
        pop_header, pop_claims, pop_input, pop_sig = jws_parts(headers.pop)
        self.assertEqual(pop_header["typ"], "oauth-client-attestation-pop+jwt")
        self.assertIn(issuer, pop_claims["aud"] if isinstance(pop_claims["aud"], list) else [pop_claims["aud"]])
        self.assertEqual(pop_claims["challenge"], "issuer-challenge")
        cnf = waa_claims["cnf"]["jwk"]
        waa_key_tag = self.keys.tag_of(cnf["x"], cnf["y"])
        self.assertIsNotNone(waa_key_tag, "the WAA is bound to a PyKeyStore key")
        self.assertEqual(pop_claims["iss"], thumbprint(cnf["x"], cnf["y"]))
        self.assertTrue(p256.verify(self.keys.public_key(waa_key_tag), pop_input, pop_sig))  # signed here, in Python

        instances = asyncio.run(self.wallet.list_instances())
        ours = [i for i in instances if i.this_device]
        self.assertEqual([(i.id, i.status) for i in ours], [(info.instance_id, tessera.InstanceStatus.ACTIVE)])

        renewed = asyncio.run(self.wallet.renew_attestations())
        self.assertEqual(renewed.instance_id, info.instance_id)
        self.assertNotEqual(renewed.wallet_app_attestation, info.wallet_app_attestation)
        self.assertIn(waa_key_tag, self.keys.deleted)  # renewal deletes the previous WAA key

        asyncio.run(self.wallet.revoke_instance(info.instance_id))
        self.assertIsNone(self.wallet.activation())
        self.assertIn(info.instance_id, self.keys.deleted)  # the hardware key is gone from the Python store
        self.assertNotIn(info.instance_id, self.keys.keys)
        statuses = {i.id: i.status for i in asyncio.run(self.wallet.list_instances())}
        self.assertEqual(statuses[info.instance_id], tessera.InstanceStatus.REVOKED)
        with self.assertRaises(WalletError.NotActivated):
            asyncio.run(self.wallet.client_attestation("https://pid.example.it", None))

    def test_a_provider_not_under_our_trust_anchor_is_refused(self):
        other = TestIssuer("https://other-ta.example.it", "https://x.example.it").trust_anchor()
        config = WalletConfig(data_dir=self.tmp.name + "/other", trust_anchors=[other], wallet_provider=self.fed["wallet_provider"])
        wallet = Wallet.open(config, PyKeyStore(), PyHttpClient())
        back = self.browse(wallet.start_activation(self.fed["redirect_uri"]))
        with self.assertRaises(WalletError.ProviderProtocol) as e:
            asyncio.run(wallet.finish_activation(back))
        self.assertIn("attestation", e.exception.reason)
        # Registered, but no attestation was accepted: nothing to present to issuers.
        self.assertIsNone(wallet.activation().wallet_app_attestation)
        with self.assertRaises(WalletError.ProviderProtocol):
            asyncio.run(wallet.client_attestation("https://pid.example.it", None))


class FederationOverHttpTest(unittest.TestCase):
    """The network step: the issuer's trust chain resolved over the app's HTTP client from a
    federation served on loopback (statements signed by wallet-core)."""

    def setUp(self):
        issuer_box = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = issuer_box["issuer"].federation_response(base + self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/entity-statement+jwt")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = TestIssuer(base + "/ta", base + "/pid")
        issuer_box["issuer"] = self.issuer
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.tmp = tempfile.TemporaryDirectory()
        self.keys = PyKeyStore()
        self.http = PyHttpClient()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        self.tmp.cleanup()

    def wallet(self, http, anchor=None):
        config = WalletConfig(data_dir=self.tmp.name, trust_anchors=[anchor or self.issuer.trust_anchor()], locale="en")
        return Wallet.open(config, self.keys, http)

    def test_issuer_resolved_over_http(self):
        wallet = self.wallet(self.http)
        key = wallet.create_credential_key()
        cred = asyncio.run(wallet.import_credential(self.issuer.issue_pid(key.public_key, False), key.tag))
        self.assertEqual(cred.issuer.name, "Italian State Mint and Polygraphic Institute")
        self.assertEqual(cred.issuer.trust_anchor, self.issuer.trust_anchor().entity_id)
        self.assertIn(self.issuer.trust_anchor().entity_id + "/fetch?sub=", " ".join(self.http.urls))

    def test_without_http_client_the_issuer_is_untrusted(self):
        wallet = self.wallet(None)
        key = wallet.create_credential_key()
        with self.assertRaises(WalletError.UntrustedIssuer):
            asyncio.run(wallet.import_credential(self.issuer.issue_pid(key.public_key, False), key.tag))

    def test_unreachable_federation_is_a_network_error(self):
        wallet = self.wallet(self.http)
        key = wallet.create_credential_key()
        nowhere = TestIssuer("http://127.0.0.1:9/ta", "http://127.0.0.1:9/pid")
        with self.assertRaises(WalletError.Network) as e:
            asyncio.run(wallet.import_credential(nowhere.issue_pid(key.public_key, False), key.tag))
        self.assertEqual(e.exception.code(), "network")


if __name__ == "__main__":
    unittest.main()
