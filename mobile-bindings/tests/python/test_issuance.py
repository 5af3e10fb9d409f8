"""OpenID4VCI issuance through the Python binding, against the issuer service (the `issuer`
crate, driving-licence preset over its sample registry) that examples/loopback_federation
starts in its federation beside the wallet provider. The wallet is activated first (the test
plays the browser, as in test_wallet.ActivationEndToEndTest): the credential is bound to the
PyKeyStore key the WUA attests, and every signature (DPoP aside: an ephemeral key inside the
library) is made here in Python.

Run by mobile-bindings/tests/run.sh.
"""
import asyncio
import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request

from test_wallet import PyHttpClient, PyKeyStore, _browser_get, _NoRedirect, b64d, jws_parts, path, text_claims  # noqa: E402

import p256  # noqa: E402
import tessera  # noqa: E402
from tessera import IssuanceStage, IssuerTrust, TransactionKind, TxCodeInputMode, Wallet, WalletConfig, WalletError  # noqa: E402

MARIO = "RSSMRA80A10H501Z"
LUIGIA = "VRDLGU85M41F205X"  # her licence is not ready: deferred
MDL = "dc_sd_jwt_mDL"
AUD = "https://rp.example.it"


def run(coro):
    return asyncio.run(coro)


@unittest.skipUnless(os.environ.get("TESSERA_LOOPBACK_FEDERATION"), "TESSERA_LOOPBACK_FEDERATION not set (run tests/run.sh)")
class IssuanceTest(unittest.TestCase):
    FISCAL_NUMBER = "TINIT-RSSMRA80A01H501U"

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([os.environ["TESSERA_LOOPBACK_FEDERATION"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        cls.fed = json.loads(cls.proc.stdout.readline())
        ta = cls.fed["trust_anchor"]
        keys = [tessera.JwkRecord(kty=k["kty"], crv=k.get("crv"), x=k.get("x"), y=k.get("y"), n=k.get("n"), e=k.get("e"), kid=k.get("kid"))
                for k in ta["jwks"]["keys"]]
        cls.anchor = tessera.TrustAnchor(entity_id=ta["entity_id"], keys=keys)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.keys = PyKeyStore()
        cls.http = PyHttpClient()
        config = WalletConfig(data_dir=cls.tmp.name, trust_anchors=[cls.anchor], locale="it", wallet_provider=cls.fed["wallet_provider"])
        cls.wallet = Wallet.open(config, cls.keys, cls.http)
        cls.info = run(cls.wallet.finish_activation(cls.browse(cls.wallet.start_activation(cls.fed["redirect_uri"]))))

    @classmethod
    def tearDownClass(cls):
        cls.proc.stdin.close()
        cls.proc.wait(timeout=10)
        cls.tmp.cleanup()

    @classmethod
    def browse(cls, login_url):
        """The browser: provider login → OP login page → identity chosen → back to the app."""
        opener = urllib.request.build_opener(_NoRedirect())
        _, to_op, _ = _browser_get(opener, login_url)
        _, _, page = _browser_get(opener, to_op)
        session = page.split('name="session" value="', 1)[1].split('"', 1)[0]
        form = urllib.parse.urlencode({"session": session, "fiscal_number": cls.FISCAL_NUMBER,
                                       "acr": "https://www.spid.gov.it/SpidL2"}).encode()
        _, callback, _ = _browser_get(opener, cls.fed["op"] + "/login", form)
        _, back, _ = _browser_get(opener, callback)
        return back

    def offer(self, citizen, issuer=None):
        """An offer from the issuer's admin API: (offer URL, tx_code)."""
        req = urllib.request.Request((issuer or self.fed["issuer"]) + "/admin/offers", method="POST",
                                     data=json.dumps({"citizen": citizen}).encode(),
                                     headers={"Authorization": "Bearer " + self.fed["issuer_admin_token"], "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 201)
            body = json.loads(r.read())
        return body["offer_url"], body["tx_code"]

    def issuer_keys(self):
        with urllib.request.urlopen(self.fed["issuer"] + "/.well-known/openid-credential-issuer", timeout=10) as r:
            return {k["kid"]: k for k in json.loads(r.read())["jwks"]["keys"]}

    def wrong(self, code):
        return "".join(str((int(c) + 1) % 10) for c in code)

    def test_offer_consent_accept_list_and_present(self):
        url, code = self.offer(MARIO)
        session = run(self.wallet.start_issuance(url))
        c = session.consent()
        self.assertEqual(c.issuer_id, self.fed["issuer"])
        self.assertEqual(c.issuer_name, "Motorizzazione Civile (loopback)")
        self.assertTrue(c.trust.is_TRUSTED(), c.trust)
        self.assertEqual(c.trust.trust_anchor, self.fed["trust_anchor"]["entity_id"])
        self.assertEqual([(o.configuration_id, o.vct, o.name) for o in c.credentials], [(MDL, "urn:eudi:mDL:it:1", "Patente di guida")])
        self.assertEqual((c.tx_code.input_mode, c.tx_code.length), (TxCodeInputMode.NUMERIC, 6))
        self.assertTrue(c.tx_code.description)
        step = session.next_step()
        self.assertTrue(step.is_ACCEPT(), step)
        self.assertEqual(step.tx_code, c.tx_code)

        signed_before = self.keys.signed
        out = run(session.accept(code))
        self.assertTrue(out.is_ISSUED(), out)
        self.assertGreater(self.keys.signed, signed_before)  # the key proof, signed here
        [cred] = out.credentials
        self.assertEqual((cred.vct, cred.format), ("urn:eudi:mDL:it:1", "dc+sd-jwt"))
        self.assertEqual(cred.issuer.entity_id, self.fed["issuer"])
        self.assertEqual(cred.issuer.name, "Motorizzazione Civile (loopback)")
        self.assertEqual(cred.issuer.trust_anchor, self.fed["trust_anchor"]["entity_id"])
        values = text_claims(cred.claims)
        self.assertEqual((values["given_name"], values["family_name"], values["document_number"]), ("Mario", "Rossi", "RM5012345A"))
        # Bound to the PyKeyStore key the WUA attests.
        _, wua, _, _ = jws_parts(self.info.wallet_unit_attestation)
        attested = {self.keys.tag_of(k["x"], k["y"]) for k in wua["attested_keys"]}
        self.assertIn(cred.key_tag, attested)
        self.assertIn(cred.id, [x.id for x in self.wallet.credentials()])
        self.assertEqual(self.wallet.credential(cred.id), cred)
        log = self.wallet.transactions()
        self.assertTrue(any(t.kind == TransactionKind.ISSUANCE and t.counterparty == self.fed["issuer"] and t.credential_ids == [cred.id] for t in log))

        # Accepted: the session is over.
        self.assertTrue(session.next_step().is_DONE())
        with self.assertRaises(WalletError.IssuanceClosed) as e:
            run(session.accept(code))
        self.assertEqual(e.exception.code(), "issuance_closed")

        # Presented as an imported credential is: the chosen claims, a KB-JWT signed here.
        nonce = "n-" + os.urandom(8).hex()
        chosen = [path("given_name"), path("document_number")]
        p = self.wallet.present(cred.id, chosen, AUD, nonce)
        self.assertEqual(text_claims(p.disclosed), {"given_name": "Mario", "document_number": "RM5012345A"})
        parts = p.sd_jwt.split("~")
        issuer_jwt, disclosures, kb = parts[0], parts[1:-1], parts[-1]
        disclosed = {json.loads(b64d(d))[1] for d in disclosures}
        self.assertEqual(disclosed, {"given_name", "document_number"})
        header, claims, signing_input, sig = jws_parts(issuer_jwt)
        key = self.issuer_keys()[header["kid"]]
        point = b"\x04" + b64d(key["x"]) + b64d(key["y"])
        self.assertTrue(p256.verify(point, signing_input, sig))  # the issuer's signature, checked here
        _, kb_claims, kb_input, kb_sig = jws_parts(kb)
        self.assertEqual((kb_claims["aud"], kb_claims["nonce"]), (AUD, nonce))
        prefix = p.sd_jwt[: -len(kb)]
        self.assertEqual(kb_claims["sd_hash"], base64.urlsafe_b64encode(hashlib.sha256(prefix.encode()).digest()).rstrip(b"=").decode())
        cnf = claims["cnf"]["jwk"]
        self.assertEqual(self.keys.tag_of(cnf["x"], cnf["y"]), cred.key_tag)
        self.assertTrue(p256.verify(self.keys.public_key(cred.key_tag), kb_input, kb_sig))

        # The status refresh: its entry in the issuer's list, kept.
        [line] = [r for r in run(self.wallet.refresh_statuses()) if r.credential_id == cred.id]
        self.assertTrue(line.status.is_LISTED(), line.status)
        self.assertEqual(line.status.value, "VALID")
        self.assertIsNone(line.reissued)

        # Deleting it keeps the key the WUA attests (later issuances use it).
        self.wallet.delete_credential(cred.id)
        self.assertIn(cred.key_tag, self.keys.keys)
        self.assertNotIn(cred.id, [x.id for x in self.wallet.credentials()])

    def test_a_wrong_tx_code_is_the_issuers_invalid_grant_and_the_session_stays_open(self):
        url, code = self.offer(MARIO)
        session = run(self.wallet.start_issuance(url))
        with self.assertRaises(WalletError.IssuerRefused) as e:
            run(session.accept(self.wrong(code)))
        self.assertEqual((e.exception.stage, e.exception.status, e.exception.error), (IssuanceStage.TOKEN, 400, "invalid_grant"))
        self.assertEqual(e.exception.code(), "issuer_refused")
        # Checked before anything is sent: missing, too short, not numeric.
        for bad in (None, code[:3], "12345a"):
            with self.assertRaises(WalletError.InvalidTxCode) as e:
                run(session.accept(bad))
            self.assertEqual(e.exception.code(), "invalid_tx_code")
        self.assertTrue(session.next_step().is_ACCEPT())
        out = run(session.accept(code))
        self.assertTrue(out.is_ISSUED())
        self.wallet.delete_credential(out.credentials[0].id)

    def test_an_issuer_outside_the_federation_is_shown_untrusted_and_refused(self):
        url, code = self.offer(MARIO, issuer=self.fed["untrusted_issuer"])
        session = run(self.wallet.start_issuance(url))
        c = session.consent()
        self.assertEqual(c.issuer_id, self.fed["untrusted_issuer"])
        self.assertTrue(c.trust.is_UNTRUSTED(), c.trust)
        self.assertTrue(c.trust.reason)
        step = session.next_step()
        self.assertTrue(step.is_REFUSED())
        self.assertEqual(step.reason, c.trust.reason)
        with self.assertRaises(WalletError.UntrustedIssuer) as e:
            run(session.accept(code))
        self.assertEqual(e.exception.issuer, self.fed["untrusted_issuer"])
        self.assertFalse(any(u.startswith(self.fed["untrusted_issuer"] + "/token") for u in self.http.urls))

    def test_a_deferred_issuance_is_polled_until_issued(self):
        url, code = self.offer(LUIGIA)
        out = run(run_accept(self.wallet, url, code))
        self.assertTrue(out.is_DEFERRED(), out)
        deferred = out.deferred
        self.assertEqual(deferred.configuration_id(), MDL)
        self.assertGreaterEqual(deferred.interval_secs(), 1)
        self.assertTrue(deferred.is_pending())
        again = run(deferred.poll())
        self.assertTrue(again.is_DEFERRED())
        with sqlite3.connect(self.fed["issuer_registry"]) as db:
            db.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?", (LUIGIA,))
        done = run(deferred.poll())
        self.assertTrue(done.is_ISSUED(), done)
        [cred] = done.credentials
        self.assertEqual(text_claims(cred.claims)["given_name"], "Luigia")
        self.assertFalse(deferred.is_pending())
        with self.assertRaises(WalletError.IssuanceClosed):
            run(deferred.poll())
        self.wallet.delete_credential(cred.id)

    def test_a_malformed_offer_and_a_wallet_without_provider(self):
        with self.assertRaises(WalletError.InvalidOffer) as e:
            run(self.wallet.start_issuance("openid-credential-offer://?nothing=here"))
        self.assertEqual(e.exception.code(), "invalid_offer")
        url, code = self.offer(MARIO)
        with tempfile.TemporaryDirectory() as d:
            bare = Wallet.open(WalletConfig(data_dir=d, trust_anchors=[self.anchor]), PyKeyStore(), PyHttpClient())
            with self.assertRaises(WalletError.NotConfigured):
                run(bare.start_issuance(url))
            # Configured but not activated: the consent is shown, accept refuses before /token.
            http = PyHttpClient()
            config = WalletConfig(data_dir=d + "/inactive", trust_anchors=[self.anchor], wallet_provider=self.fed["wallet_provider"])
            inactive = Wallet.open(config, PyKeyStore(), http)
            session = run(inactive.start_issuance(url))
            self.assertTrue(session.consent().trust.is_TRUSTED())
            with self.assertRaises(WalletError.NotActivated):
                run(session.accept(code))
            self.assertFalse(any(u.endswith("/token") for u in http.urls), http.urls)
        # The code was not spent: this wallet can still use it.
        out = run(run_accept(self.wallet, url, code))
        self.assertTrue(out.is_ISSUED())
        self.wallet.delete_credential(out.credentials[0].id)


async def run_accept(wallet, url, code):
    session = await wallet.start_issuance(url)
    return await session.accept(code)


if __name__ == "__main__":
    unittest.main()
