"""OpenID4VP presentations through the Python binding: the verifier is the library's
TestVerifier (wallet-core's verifier side) served here over HTTP on loopback (request_uri by
GET and POST, response_uri decrypting and verifying); the wallet uses the Python KeyStore
(KB-JWT signed here) and the urllib HttpClient of test_wallet.py.

Run by mobile-bindings/tests/run.sh.
"""
import asyncio
import http.server
import tempfile
import threading
import unittest

from test_wallet import PyHttpClient, PyKeyStore, dotted  # noqa: E402  (sys.path set there)

import tessera  # noqa: E402
from tessera import (  # noqa: E402
    ConsentSelection, ConsentWarning, MissingReason, RelyingPartyTrust, TestIssuer, TestVerifier, TransactionKind, Wallet,
    WalletConfig, WalletError,
)

ISSUER_TA = "https://ta.issuers.example"
VERIFIER_TA = "https://ta.verifiers.example"
PID = "https://pid.example.it"


def serve_verifier(issuer):
    """A loopback HTTP server in front of a TestVerifier: (server, verifier, rp base URL)."""
    holder = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, a):
            body = a.body.encode()
            self.send_response(a.status)
            self.send_header("Content-Type", a.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def body(self):
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def do_GET(self):
            if self.path == "/request":
                return self.answer(holder["v"].request_object(b""))
            self.send_error(404)

        def do_POST(self):
            if self.path == "/request":
                return self.answer(holder["v"].request_object(self.body()))
            if self.path == "/response":
                return self.answer(holder["v"].receive_response(self.body()))
            self.send_error(404)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rp = f"http://127.0.0.1:{server.server_address[1]}"
    holder["v"] = TestVerifier(VERIFIER_TA, rp, [issuer.trust_anchor()])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, holder["v"], rp


class PresentationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.issuer = TestIssuer(ISSUER_TA, PID)
        cls.server, cls.verifier, cls.rp = serve_verifier(cls.issuer)

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.keys = PyKeyStore()
        self.http = PyHttpClient()
        self.wallet = self.open([self.issuer.trust_anchor(), self.verifier.trust_anchor()])

    def tearDown(self):
        self.tmp.cleanup()

    def open(self, anchors):
        config = WalletConfig(data_dir=self.tmp.name, trust_anchors=anchors, storage_key=b"\x07" * 32, locale="it",
                              pinned_issuers=[])
        return Wallet.open(config, self.keys, self.http)

    def import_pid(self):
        key = self.wallet.create_credential_key()
        return asyncio.run(self.wallet.import_credential(self.issuer.issue_pid(key.public_key, True), key.tag))

    def start(self, method="post"):
        return asyncio.run(self.wallet.start_presentation(self.verifier.request_url(method)))

    def test_consent_model_shows_who_asks_and_exactly_what_each_credential_would_disclose(self):
        cred = self.import_pid()
        session = self.start("post")
        self.assertIn(f"{self.rp}/request", self.http.urls)  # fetched through the app's client
        consent = session.consent()
        rp = consent.relying_party
        self.assertEqual(rp.client_id, f"openid_federation:{self.rp}")
        self.assertEqual(rp.entity_id, self.rp)
        self.assertEqual(rp.name, "Comune di Roma")
        self.assertEqual(rp.logo_uri, f"{self.rp}/logo.svg")
        self.assertEqual(rp.organization_name, "Comune di Roma")
        self.assertEqual(rp.purpose, "Accesso ai servizi comunali")
        self.assertIsInstance(rp.trust, RelyingPartyTrust.FEDERATION)
        self.assertEqual(rp.trust.trust_anchor, VERIFIER_TA)
        self.assertEqual(rp.warnings, [ConsentWarning.NO_VALID_TRUST_MARK])
        self.assertEqual(rp.erasure_endpoint, f"{self.rp}/erase")
        self.assertTrue(consent.satisfiable)
        [request] = consent.requests
        self.assertEqual((request.query_id, request.required, request.multiple, request.missing), ("pid", True, False, None))
        self.assertEqual(request.types, ["urn:eudi:pid:it:1"])
        [candidate] = request.candidates
        self.assertEqual(candidate.credential_id, cred.id)
        self.assertEqual(candidate.issuer.name, "Istituto Poligrafico e Zecca dello Stato")
        shown = [(dotted(c.path), c.label, c.value.value) for c in candidate.claims]
        self.assertEqual(shown, [("given_name", "Nome", "Mario"), ("family_name", "Cognome", "Rossi"),
                                 ("place_of_birth.locality", "Luogo di nascita › Località", "Roma")])
        self.assertEqual(session.default_choice(), [ConsentSelection(query_id="pid", credential_id=cred.id)])

    def test_present_is_verified_at_the_verifier_for_get_post_and_by_value(self):
        cred = self.import_pid()
        for method in ("get", "post", "value"):
            with self.subTest(method=method):
                signed = self.keys.signed
                session = self.start(method)
                outcome = asyncio.run(session.present([ConsentSelection(query_id="pid", credential_id=cred.id)]))
                self.assertTrue(outcome.redirect_uri.startswith(f"{self.rp}/done?response_code="))
                self.assertEqual(self.keys.signed, signed + 1)  # the KB-JWT, signed by the Python key store
                verdict = self.verifier.verdict()
                self.assertEqual(verdict.outcome, "verified", verdict.detail)
                self.assertEqual(verdict.claims, ["family_name", "given_name", "place_of_birth", "place_of_birth.locality"])
                self.assertEqual(verdict.audience, f"openid_federation:{self.rp}")
                with self.assertRaises(WalletError.PresentationClosed):
                    asyncio.run(session.present(session.default_choice()))
                log = self.wallet.transactions()[-1]
                self.assertEqual((log.seq, log.kind, log.counterparty), (outcome.transaction_seq, TransactionKind.PRESENTATION, self.rp))
                self.assertEqual(log.credential_ids, [cred.id])

    def test_decline_sends_access_denied(self):
        self.import_pid()
        session = self.start("get")
        outcome = asyncio.run(session.decline())
        self.assertIsNone(outcome.redirect_uri)
        verdict = self.verifier.verdict()
        self.assertEqual((verdict.outcome, verdict.detail), ("declined", "access_denied"))
        log = self.wallet.transactions()[-1]
        self.assertEqual((log.kind, log.credential_ids, log.claims), (TransactionKind.DECLINED, [], []))
        with self.assertRaises(WalletError.PresentationClosed):
            asyncio.run(session.decline())

    def test_errors_are_typed(self):
        session = self.start("post")  # no credential yet
        request = session.consent().requests[0]
        self.assertFalse(session.consent().satisfiable)
        self.assertEqual(request.missing, MissingReason.NO_CREDENTIAL_OF_TYPE())
        with self.assertRaises(WalletError.InvalidChoice) as e:
            asyncio.run(session.present([]))
        self.assertEqual(e.exception.code(), "invalid_choice")
        self.assertIsNone(self.verifier.verdict())  # nothing sent
        with self.assertRaises(WalletError.InvalidRequest):
            asyncio.run(self.wallet.start_presentation("https://example.org/?a=b"))
        untrusting = self.open([self.issuer.trust_anchor()])
        with self.assertRaises(WalletError.UntrustedRelyingParty) as e:
            asyncio.run(untrusting.start_presentation(self.verifier.request_url("post")))
        self.assertEqual(e.exception.code(), "untrusted_relying_party")
        self.assertTrue(e.exception.user_message())


if __name__ == "__main__":
    unittest.main()
